/*
 * main.c: the dwf command-line entry point. It only dispatches: every command lives in the
 * file named after it (see cli.h), so this table is the whole map of the CLI.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "dwf.h"
#include "dwf_host.h"
#include "engine.h"

typedef struct CliCommand {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    const char *const *usage;          /* full text for `dwf help NAME` (defined beside run) */
    const char *summary;               /* one line for `dwf --help` */
} CliCommand;

static const CliCommand commands[] = {
    {"check", cmd_check, &usage_check, "check .dwf files and report problems"},
    {"fmt", cmd_fmt, &usage_fmt, "lay out .dwf files the canonical way"},
    {"compile", cmd_compile, &usage_compile, "compile a .dwf file to C and its deploy files"},
    {"graph", cmd_graph, &usage_graph, "draw a workflow as SVG, Graphviz DOT or Mermaid"},
    {"iam", cmd_iam, &usage_iam, "print the IAM policy derived from a workflow"},
    {"run", cmd_run, &usage_run, "run a workflow on the embedded engine"},
    {"executions", cmd_executions, &usage_executions, "list executions in the local store"},
    {"history", cmd_history, &usage_history, "show the operations or events of an execution"},
    {"callback", cmd_callback, &usage_callback, "complete or heartbeat a callback"},
    {"callbacks", cmd_callbacks, &usage_callbacks, "list the callbacks waiting for an answer"},
    {"stop", cmd_stop, &usage_stop, "stop a running execution"},
    {"test", cmd_test, &usage_test, "run the tests of *.test.dwf files (mocks, virtual time)"},
    {"verify", cmd_verify, &usage_verify, "check that changed code still resumes recorded executions"},
    {"resume", cmd_resume, &usage_resume, "drive executions whose timers are due"},
    {"worker", cmd_worker, &usage_worker, "keep driving due executions"},
    {"build", cmd_build, &usage_build, "build a deployable AWS Lambda zip"},
    {"serve", cmd_serve, &usage_serve, "run the local Lambda emulator"},
    {"console", cmd_console, &usage_console, "serve the web console over the local store"},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void print_help(FILE *out)
{
    fprintf(out, "dwf %s: durable workflows compiled to C\n\n"
                 "usage: dwf <command> [options]\n\ncommands:\n", DWF_VERSION);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'dwf help <command>' describes one command.\n");
}

static const CliCommand *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].name, name) == 0) return &commands[i];
    return NULL;
}

/* "unknown command 'rn'", with the nearest command as "did you mean" when there is one. */
static int unknown_command(const char *name)
{
    const char *names[NCOMMANDS + 1];
    for (size_t i = 0; i < NCOMMANDS; i++) names[i] = commands[i].name;
    names[NCOMMANDS] = "help";
    const char *near = cli_nearest(name, strlen(name), names, NCOMMANDS + 1);
    if (near) return cli_usage_error(NULL, "unknown command '%s'\ndid you mean '%s'?", name, near);
    return cli_usage_error(NULL, "unknown command '%s'", name);
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

void cli_block_stop_signals(sigset_t *stop)
{
    sigemptyset(stop);
    sigaddset(stop, SIGINT);
    sigaddset(stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, stop, NULL);
}

int main(int argc, char **argv)
{
    /* cJSON (the runtime's checkpoints and values, the service's and serve's JSON, the
     * handlers `dwf run` loads, which share this process's cJSON) allocates through the
     * per-thread cache of the blocks it freed, as a Lambda program does (dwf_host.h): glibc
     * blocks all the same. Before any thread starts; not under AddressSanitizer or valgrind. */
    dwf_use_json_cache();
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
        const CliCommand *c = find(argv[2]);
        if (!c) return unknown_command(argv[2]);
        fputs(*c->usage, stdout);
        return EXIT_OK;
    }
    const CliCommand *c = find(cmd);
    if (!c) {
        unknown_command(cmd);
        fprintf(stderr, "'dwf --help' lists the commands\n");
        return EXIT_USAGE;
    }
    for (int a = 2; a < argc; a++)
        if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) {
            fputs(*c->usage, stdout);
            return EXIT_OK;
        }
    int rc = c->run(argc - 1, argv + 1);
    /* An invocation thread the engine abandoned (a step past its invocation timeout, or still
     * running at Ctrl-C) may be inside user code: end without the exit handlers (libcurl's,
     * OpenSSL's) that would tear down what it uses. */
    if (dwf_engine_abandoned() > 0) {
        fflush(stdout);
        fflush(stderr);
        _exit(rc);
    }
    return rc;
}
