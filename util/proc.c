/*
 * proc.c: start a program with posix_spawnp, optionally in another directory, with another
 * environment or with its output collected, and wait for it (see proc.h for the contract).
 *
 * The pipe is made close-on-exec: the child's ends are the dup2 copies on 1 and 2, so the
 * reader sees end-of-file exactly when the child (and nothing else a concurrent spawn started)
 * has exited. On a read error the pipe is closed before waiting, so a child still writing
 * gets EPIPE instead of blocking forever on a full pipe.
 */
#include "proc.h"

#include "errbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Held shared by every dwf__proc_run from before its spawn until its wait is done, and taken
 * exclusively (never waiting) by a sweep of waitpid(-1): see proc.h. */
static pthread_rwlock_t children = PTHREAD_RWLOCK_INITIALIZER;

int dwf__proc_sweep_begin(void) { return pthread_rwlock_trywrlock(&children) == 0; }
void dwf__proc_sweep_end(void) { pthread_rwlock_unlock(&children); }

/* Everything fd gives until end-of-file, as a NUL-terminated string in *text. */
static int read_all(int fd, char **text, const char *who, char *err, size_t errlen)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf) return dwf__errf(err, errlen, "%s: out of memory", who);
    for (;;) {
        if (len + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                return dwf__errf(err, errlen, "%s: out of memory", who);
            }
            buf = nb;
            cap *= 2;
        }
        ssize_t got = read(fd, buf + len, cap - len - 1);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            int e = errno;
            free(buf);
            return dwf__errf(err, errlen, "reading from %s: %s", who, strerror(e));
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    buf[len] = '\0';
    *text = buf;
    return 0;
}

static int run_child(char *const argv[], const dwf__proc_opts *o, int *status, char *err,
                     size_t errlen)
{
    static const dwf__proc_opts none = {0};
    if (!o) o = &none;
    int fds[2] = {-1, -1};
    if (o->output && pipe2(fds, O_CLOEXEC) != 0)
        return dwf__errf(err, errlen, "%s: pipe: %s", argv[0], strerror(errno));
    posix_spawn_file_actions_t fa;
    int e = posix_spawn_file_actions_init(&fa);
    if (e != 0) {
        if (o->output) close(fds[0]), close(fds[1]);
        return dwf__errf(err, errlen, "%s: %s", argv[0], strerror(e));
    }
    if (o->output) {
        e = posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
        if (e == 0) e = posix_spawn_file_actions_adddup2(&fa, fds[1], STDERR_FILENO);
    }
    if (e == 0 && o->dir) e = posix_spawn_file_actions_addchdir_np(&fa, o->dir);
    pid_t pid = -1;
    if (e == 0) e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, o->envp ? o->envp : environ);
    posix_spawn_file_actions_destroy(&fa);
    if (o->output) close(fds[1]);
    if (e != 0) {
        if (o->output) close(fds[0]);
        return dwf__errf(err, errlen, "%s: %s", argv[0], strerror(e));
    }
    char *text = NULL;
    int rc = 0;
    if (o->output) {
        rc = read_all(fds[0], &text, argv[0], err, errlen);
        close(fds[0]);
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            if (rc == 0) rc = dwf__errf(err, errlen, "%s: waitpid: %s", argv[0], strerror(errno));
            break;
        }
    if (rc != 0) {
        free(text);
        return -1;
    }
    if (o->output) *o->output = text;
    *status = st;
    return 0;
}

int dwf__proc_run(char *const argv[], const dwf__proc_opts *o, int *status, char *err,
                  size_t errlen)
{
    pthread_rwlock_rdlock(&children);
    int rc = run_child(argv, o, status, err, errlen);
    pthread_rwlock_unlock(&children);
    return rc;
}
