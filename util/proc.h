/*
 * proc.h: running another program and waiting for it (the C compiler for `dwf run` and
 * `dwf build`, the program's own loader for the packager's library list). One way to do it,
 * posix_spawn, for the reason emulator/ gives: glibc's posix_spawn is a vfork, so a large dwf
 * process does not copy its page tables only to throw them away at exec.
 */
#ifndef DWF_UTIL_PROC_H
#define DWF_UTIL_PROC_H

#include <stddef.h>

typedef struct dwf__proc_opts {
    const char *dir;   /* the child's working directory; NULL: ours */
    char *const *envp; /* the child's environment; NULL: ours */
    char **output;     /* non-NULL: the child's stdout and stderr, collected into a malloc'd
                        * NUL-terminated string stored here; NULL: they are ours */
} dwf__proc_opts;

/* Run argv[0] (looked up in PATH when it has no '/') with argv, and wait for it to end.
 * Returns 0 with *status the wait status (WIFEXITED, WEXITSTATUS, ...), or -1 with err set to
 * "<argv[0]>: <why>" when it could not be started or waited for (nothing is left running, and
 * *o->output is not set). */
int dwf__proc_run(char *const argv[], const dwf__proc_opts *o, int *status, char *err,
                  size_t errlen);

/* For a process that also reaps children it did not start through dwf__proc_run (dwf serve
 * reaps with waitpid(-1) what its functions' processes leave behind): such a sweep may take a
 * child dwf__proc_run is about to wait for, which then fails with ECHILD (the console's `dot`
 * did, and its graph was not drawn). Begin returns 1 when no dwf__proc_run is between its spawn
 * and its wait, and holds them off until the end; 0 when one is (sweep later, reap only pids of
 * your own meanwhile). */
int dwf__proc_sweep_begin(void);
void dwf__proc_sweep_end(void);

#endif
