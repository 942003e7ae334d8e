/*
 * proc_time.c: run one command and write its wall time and CPU, as /usr/bin/time does, but with
 * the wall clock in microseconds and taken here, around fork and wait4, so a figure holds only
 * the timed process (its exec and exit included) and not the shell's own forks: on this VM a
 * `date` run after the process, to read the clock, cost 5-12 ms of every figure.
 *
 *   proc_time -o FILE COMMAND [ARG...]
 *
 * FILE gets one line "WALL_MS USER_S SYS_S MAXRSS_KIB" (the child's CPU and peak RSS from
 * wait4's rusage). The command's stdin, stdout and stderr are this program's. Exit status: the
 * command's (128 + the signal if a signal ended it), 127 if it could not be run, 2 on bad usage.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "-o") != 0) {
        fprintf(stderr, "usage: proc_time -o FILE COMMAND [ARG...]\n");
        return 2;
    }
    FILE *out = fopen(argv[2], "w");
    if (!out) {
        fprintf(stderr, "proc_time: %s: %s\n", argv[2], strerror(errno));
        return 2;
    }
    fflush(NULL);
    double t0 = mono_ms();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "proc_time: fork: %s\n", strerror(errno));
        return 127;
    }
    if (pid == 0) {
        execvp(argv[3], argv + 3);
        fprintf(stderr, "proc_time: %s: %s\n", argv[3], strerror(errno));
        _exit(127);
    }
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (wait4(pid, &status, 0, &ru) < 0)
        if (errno != EINTR) {
            fprintf(stderr, "proc_time: wait4: %s\n", strerror(errno));
            return 127;
        }
    double wall = mono_ms() - t0;
    fprintf(out, "%.3f %.3f %.3f %ld\n", wall, (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
            (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, ru.ru_maxrss);
    if (fclose(out) != 0) return 2;
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}
