/*
 * process.c: a function's process, started the way Lambda starts a runtime, killed at its
 * deadline or after a --cold invocation, and reaped when it ends. A process that ends while
 * it holds an invocation faults that invocation (Runtime.ExitError, Sandbox.Timedout), and one
 * that ends before its first /next fails the invocation it was started for
 * (Runtime.InitError), so the service's retry and backoff apply as on Lambda.
 *
 * The emulator is the child subreaper of everything it starts (emulator.c), so what a function's
 * process starts and abandons, even in a session of its own, stays below the emulator: it is
 * killed with the process (dwf__emu_kill) and at stop (dwf__emu_end_all), and reaped here.
 *
 * Everything here runs with the emulator's mutex held (the scheduler and the stop path).
 */
#include "emu.h"
#include "proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Peak resident set of a process (kB) from its /proc/PID/status kept open (emu_env.status_fd),
 * -1 if unknown. One pread from the start regenerates the file: opening it at every answer was
 * four system calls (openat, fstat, read, close) and a walk of /proc's path. */
long dwf__emu_vm_hwm_kb(int status_fd)
{
    char buf[4096];
    if (status_fd < 0) return -1;
    ssize_t n = pread(status_fd, buf, sizeof buf - 1, 0);
    if (n <= 0) return -1;
    buf[n] = '\0';
    const char *at = strstr(buf, "\nVmHWM:");
    return at ? strtol(at + 7, NULL, 10) : -1;
}

/* CPU time (ms) a process has used so far, every thread of it (/proc/PID/task/TID/schedstat,
 * nanoseconds, so a start-up of a few milliseconds is measurable on a loaded machine where wall
 * time is mostly waiting for a core). -1 if unknown. */
double dwf__emu_cpu_ms(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    double ns = 0;
    int any = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p2[128];
        snprintf(p2, sizeof p2, "/proc/%d/task/%.20s/schedstat", (int)pid, de->d_name);
        FILE *f = fopen(p2, "r");
        if (!f) continue;
        unsigned long long run = 0;
        if (fscanf(f, "%llu", &run) == 1) {
            ns += (double)run;
            any = 1;
        }
        fclose(f);
    }
    closedir(d);
    return any ? ns / 1e6 : -1;
}

/* posix_spawn, not fork(): glibc's posix_spawn is a clone(CLONE_VM|CLONE_VFORK), so the child
 * never copies this multi-threaded emulator's page tables only to throw them away at exec.
 * With fork() that copy and its copy-on-write faults were counted in every cold start (of dwf's
 * bootstrap and of Node alike), ~4 ms of CPU and ~6 ms of wall here, more than dwf's own
 * start-up (bench/RESULTS.md "Lambda cold start"). The child gets what the fork() child set up
 * by hand: its own process group (dwf__emu_kill kills the group), stdin from /dev/null, no
 * descriptor of ours above 2 (listening sockets, the store, MHD's pipes), the task root as
 * working directory, no blocked signals, SIGPIPE default. Returns posix_spawn's error number. */
static int spawn(const emu_fn *f, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) return rc;
    if ((rc = posix_spawnattr_init(&at)) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return rc;
    }
    sigset_t none, pipe_default;
    sigemptyset(&none);
    sigemptyset(&pipe_default);
    sigaddset(&pipe_default, SIGPIPE);
    if (!rc) rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!rc) rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (!rc) rc = posix_spawn_file_actions_addchdir_np(&fa, f->task_root);
    if (!rc) rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    if (!rc) rc = posix_spawnattr_setpgroup(&at, 0);
    if (!rc) rc = posix_spawnattr_setsigmask(&at, &none);
    if (!rc) rc = posix_spawnattr_setsigdefault(&at, &pipe_default);
    if (!rc) rc = posix_spawn(pid, f->argv[0], &fa, &at, f->argv, f->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    return rc;
}

/* A slot for one more environment of f: one without a process, or a new one. NULL when out of
 * memory. */
static emu_env *free_slot(emu_fn *f)
{
    for (int i = 0; i < f->nenvs; i++)
        if (f->envs[i]->pid == 0 && !f->envs[i]->busy) return f->envs[i];
    emu_env **nv = realloc(f->envs, (size_t)(f->nenvs + 1) * sizeof *nv);
    if (!nv) return NULL;
    f->envs = nv;
    emu_env *v = calloc(1, sizeof *v);
    if (!v) return NULL;
    pthread_cond_init(&v->next_cv, NULL);
    v->fn = f;
    v->status_fd = -1;
    v->slot = f->nenvs;
    f->envs[f->nenvs++] = v;
    return v;
}

emu_env *dwf__emu_spawn(emu_fn *f)
{
    dwf_emulator *e = f->emu;
    emu_env *v = free_slot(f);
    if (!v) return NULL;
    double t0 = dwf__emu_mono_ms();
    pid_t pid = 0;
    int rc = spawn(f, &pid);
    if (rc != 0) {
        /* glibc reports a failed chdir or exec here (the fork() version saw exit 126/127):
         * the queued invocation fails as one whose runtime exited before its first /next. */
        char msg[PATH_MAX + 128];
        snprintf(msg, sizeof msg, "Runtime exited before its first invocation (cannot start %s: %s)", f->argv[0],
                 strerror(rc));
        dwf__emu_log(e, "%s: %s", f->name, msg);
        if (f->nq > 0) dwf__emu_fault_queued_head(v, "Runtime.InitError", msg);
        f->respawn_after = dwf__emu_mono_ms() + 1000;
        return NULL;
    }
    v->pid = pid;
    v->gen++;
    /* The slot is free (no invocation held), so no answer is reading its earlier process's. */
    if (v->status_fd >= 0) close(v->status_fd);
    v->status_fd = -1;
    if (!e->o.quiet) {
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
        v->status_fd = open(path, O_RDONLY | O_CLOEXEC);
    }
    dwf__emu_wake_env(v); /* a /next of the slot's earlier process is answered 500 */
    v->spawn_mono = t0;
    v->idle_since = t0;
    v->reached_next = 0;
    v->kill_reason = EMU_KILL_NONE;
    free(v->init_error); /* a slot's earlier process's */
    v->init_error = NULL;
    if (!e->o.quiet)
        dwf__emu_log(e, "%s: started %s (pid %d, environment %d)", f->name, f->argv[0], (int)pid, v->slot);
    return v;
}

int dwf__emu_envs_live(const emu_fn *f, int *busy)
{
    int live = 0, b = 0;
    for (int i = 0; i < f->nenvs; i++) {
        live += f->envs[i]->pid > 0;
        b += f->envs[i]->busy;
    }
    if (busy) *busy = b;
    return live;
}

int dwf__emu_kill_all(emu_fn *f, enum emu_kill_reason reason)
{
    int any = 0;
    for (int i = 0; i < f->nenvs; i++)
        if (f->envs[i]->pid > 0) {
            dwf__emu_kill(f->envs[i], reason);
            any = 1;
        }
    return any;
}

void dwf__emu_envs_free(emu_fn *f)
{
    for (int i = 0; i < f->nenvs; i++) {
        free(f->envs[i]->init_error);
        if (f->envs[i]->status_fd >= 0) close(f->envs[i]->status_fd);
        dwf__emu_job_free(f->envs[i]->cur);
        pthread_cond_destroy(&f->envs[i]->next_cv);
        free(f->envs[i]);
    }
    free(f->envs);
    f->envs = NULL;
    f->nenvs = 0;
}

/* The process, its group, and every process below it, including those that left the group
 * with setsid(): taken from /proc before any is killed, since a killed parent's children move
 * to the emulator (PR_SET_CHILD_SUBREAPER) and would no longer be found below it. */
void dwf__emu_kill(emu_env *v, enum emu_kill_reason reason)
{
    if (v->pid <= 0) return;
    if (!v->kill_reason) v->kill_reason = reason;
    pid_t *tree;
    int n = dwf__emu_descendants(v->pid, &tree);
    kill(-v->pid, SIGKILL);
    kill(v->pid, SIGKILL);
    for (int i = 1; i < n; i++) kill(tree[i], SIGKILL);
    free(tree);
}

/* At stop: every process below the emulator, the functions' and whatever they left behind
 * (re-parented to the emulator, its child subreaper), killed and reaped until none is left. */
void dwf__emu_end_all(void)
{
    for (;;) {
        pid_t *tree;
        int n = dwf__emu_descendants(getpid(), &tree);
        for (int i = 1; i < n; i++) kill(tree[i], SIGKILL);
        free(tree);
        if (n <= 1 || (waitpid(-1, NULL, 0) < 0 && errno == ECHILD)) break;
    }
}

/* What became of a process that ended: its invocation faults, or, if it never took one, the
 * invocation it was started for. */
static void ended(emu_env *v, enum emu_kill_reason reason, const char *how)
{
    emu_fn *f = v->fn;
    char msg[600];
    if (v->busy && reason == EMU_KILL_TIMEOUT) {
        snprintf(msg, sizeof msg, "Task timed out after %d.00 seconds", f->timeout_s);
        dwf__emu_fault_current(v, "Sandbox.Timedout", msg);
    } else if (v->busy) {
        snprintf(msg, sizeof msg, "Runtime exited with error: %s", how);
        dwf__emu_fault_current(v, "Runtime.ExitError", msg);
    } else if (!v->reached_next && reason == EMU_KILL_NONE && f->nq > 0) {
        snprintf(msg, sizeof msg, "Runtime exited before its first invocation (%s)%s%.400s", how,
                 v->init_error ? ": " : "", v->init_error ? v->init_error : "");
        dwf__emu_fault_queued_head(v, "Runtime.InitError", msg);
        f->respawn_after = dwf__emu_mono_ms() + 500;
    }
}

/* The environment whose process is pid, or NULL (one a function's process left behind). */
static emu_env *env_of_pid(dwf_emulator *e, pid_t pid)
{
    for (int i = 0; i < e->nfns; i++)
        for (int k = 0; k < e->fns[i]->nenvs; k++)
            if (e->fns[i]->envs[k]->pid == pid) return e->fns[i]->envs[k];
    return NULL;
}

/* A function's process that ended (reaped: wait status st). */
static void env_ended(dwf_emulator *e, emu_env *v, pid_t r, int st)
{
    v->pid = 0;
    v->gen++;
    dwf__emu_wake_env(v);
    enum emu_kill_reason reason = v->kill_reason;
    v->kill_reason = EMU_KILL_NONE;
    char how[96];
    if (WIFEXITED(st)) snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(st));
    else if (WIFSIGNALED(st)) snprintf(how, sizeof how, "signal %d", WTERMSIG(st));
    else snprintf(how, sizeof how, "status %d", st);
    if (!e->o.quiet || reason != EMU_KILL_QUIET)
        dwf__emu_log(e, "%s: process %d ended (%s)", v->fn->name, (int)r, how);
    ended(v, reason, how);
    dwf__emu_kick(e);
}

/* Reap every child that ended: a function's process (its invocation faults, see ended()), or
 * one a function's process left behind, which the emulator inherited as child subreaper. One
 * waitpid(-1) sweep, except while a dwf__proc_run of this process (the console's `dot`) waits
 * for its own child, which the sweep would take from it (util/proc.h): then each function's
 * process by its pid, and what was left behind at a later pass. */
void dwf__emu_reap(dwf_emulator *e)
{
    int st = 0;
    pid_t r;
    if (dwf__proc_sweep_begin()) {
        while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
            emu_env *v = env_of_pid(e, r);
            if (v) env_ended(e, v, r, st);
        }
        dwf__proc_sweep_end();
        return;
    }
    for (int i = 0; i < e->nfns; i++)
        for (int k = 0; k < e->fns[i]->nenvs; k++) {
            emu_env *v = e->fns[i]->envs[k];
            if (v->pid > 0 && waitpid(v->pid, &st, WNOHANG) == v->pid) env_ended(e, v, v->pid, st);
        }
}
