/*
 * main.c: the dwf command-line entry point. It only dispatches: every command lives in the
 * file that owns its part of the product (see cli.h), so this table is the whole map of the CLI.
 */
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "dwf.h"

static const CliCommand commands[] = {
    {"check", cmd_check, "check .dwf files and report problems", NULL},
    {"compile", cmd_compile, "compile a .dwf file to C and its deploy files", NULL},
    {"run", cmd_run, "run a workflow on the embedded engine", NULL},
    {"executions", cmd_executions, "list executions in the local store", NULL},
    {"history", cmd_history, "show the operations or events of an execution", NULL},
    {"callback", cmd_callback, "complete or heartbeat a callback", NULL},
    {"stop", cmd_stop, "stop a running execution", NULL},
    {"resume", cmd_resume, "drive executions whose timers are due", NULL},
    {"worker", cmd_worker, "keep driving due executions", NULL},
    {"build", cmd_build, "build a deployable AWS Lambda zip", NULL},
    {"serve", cmd_serve, "run the local Lambda emulator", NULL},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char *const *usages[NCOMMANDS] = {
    &usage_check, &usage_compile, &usage_run,    &usage_executions, &usage_history, &usage_callback,
    &usage_stop,  &usage_resume,  &usage_worker, &usage_build,      &usage_serve,
};

static void print_help(FILE *out)
{
    fprintf(out, "dwf %s: durable workflows compiled to C\n\n"
                 "usage: dwf <command> [options]\n\ncommands:\n", DWF_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'dwf help <command>' describes one command.\n");
}

static const CliCommand *find(const char *name, size_t *index)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) {
            if (index) *index = i;
            return &commands[i];
        }
    return NULL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fputs("dwf: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (cmd) fprintf(stderr, "see 'dwf help %s'\n", cmd);
    return EXIT_USAGE;
}

const char *cli_home(void)
{
    static char home[PATH_MAX];
    if (home[0]) return home;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return ".";
    exe[n] = '\0';
    /* build/dwf, build/san/dwf or PREFIX/bin/dwf: walk up until a dir holds the header. */
    char *slash;
    while ((slash = strrchr(exe, '/')) != NULL) {
        *slash = '\0';
        char probe[PATH_MAX + 32];
        struct stat st;
        snprintf(probe, sizeof probe, "%s/include/dwf.h", exe);
        if (stat(probe, &st) == 0) break;
        snprintf(probe, sizeof probe, "%s/include/dwf/dwf.h", exe);
        if (stat(probe, &st) == 0) break;
    }
    snprintf(home, sizeof home, "%s", exe[0] ? exe : "/");
    return home;
}

int main(int argc, char **argv)
{
    /* http steps and the emulator use libcurl/sockets from threads: a closed peer is an error
     * to report, never a reason to die (libcurl's advice with CURLOPT_NOSIGNAL). */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        print_help(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        print_help(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("dwf %s\n", DWF_VERSION);
        return EXIT_OK;
    }
    if (strcmp(cmd, "help") == 0) {
        if (argc < 3) {
            print_help(stdout);
            return EXIT_OK;
        }
        size_t i;
        if (!find(argv[2], &i)) return cli_usage_error(NULL, "unknown command '%s'", argv[2]);
        fputs(*usages[i], stdout);
        return EXIT_OK;
    }
    size_t i;
    const CliCommand *c = find(cmd, &i);
    if (!c) {
        cli_usage_error(NULL, "unknown command '%s'", cmd);
        print_help(stderr);
        return EXIT_USAGE;
    }
    for (int a = 2; a < argc; a++)
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            fputs(*usages[i], stdout);
            return EXIT_OK;
        }
    return c->run(argc - 1, argv + 1);
}
