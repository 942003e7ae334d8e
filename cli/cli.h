/*
 * cli.h: the dwf command line. main.c finds the command and hands the remaining arguments to
 * its cmd_* function, which lives in the file named after it:
 *   check.c       check                        (the front end alone)
 *   fmt.c         fmt                          (the canonical layout of .dwf files)
 *   compile.c     compile                      (handler.c and the deploy files)
 *   build.c       build                        (the Lambda zip)
 *   run.c         run                          (a workflow on the embedded engine)
 *   executions.c  executions
 *   history.c     history                      (history_views.c, history_svg.c: tree, timeline, svg)
 *   callback.c    callback
 *   callbacks.c   callbacks                    (the callbacks waiting for an answer)
 *   stop.c        stop
 *   resume.c      resume, worker               (drive due executions, once or for ever)
 *   serve.c       serve                        (the local Lambda emulator)
 *   graph.c       graph                        (the workflow as DOT, Mermaid or SVG)
 *   console.c     console                      (the web console over the store; console/)
 * and the pieces they share:
 *   options.c     every command's option parsing (cli_args_next, below)
 *   toolchain.c   the runtime's files, the C compiler, handler.c, `use` paths (toolchain.h)
 *   handler.c     a .dwf as a cached shared object the engine loads (handler.h)
 *   engine_common.c  the engine commands' store option, errors, JSON arguments, progress
 *   output.c      writing generated files without replacing what dwf did not make (output.h)
 * Exit codes: 0 success, 1 errors in the input or a failed execution, 2 usage errors.
 */
#ifndef DWF_CLI_H
#define DWF_CLI_H

#include <getopt.h>
#include <signal.h>
#include <stddef.h>

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_USAGE = 2 };

int cmd_check(int argc, char **argv);
int cmd_fmt(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_test(int argc, char **argv);
int cmd_executions(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_callback(int argc, char **argv);
int cmd_callbacks(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_graph(int argc, char **argv);
int cmd_console(int argc, char **argv);
int cmd_iam(int argc, char **argv);

extern const char *const usage_verify, *const usage_test;
extern const char *const usage_check, *const usage_compile, *const usage_run,
    *const usage_executions, *const usage_history, *const usage_callback, *const usage_callbacks,
    *const usage_stop, *const usage_resume, *const usage_worker, *const usage_build, *const usage_serve,
    *const usage_graph, *const usage_fmt, *const usage_console, *const usage_iam;

/* Print "dwf: <message>" to stderr and `dwf help <cmd>` hint; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- options ----------------------------------------------------------------------------
 * Each command describes its options in one table and reads them with cli_args_next, which
 * is getopt_long underneath: long options may be abbreviated while unambiguous and take their
 * value as `--name VALUE` or `--name=VALUE`, short ones as `-o VALUE` or `-oVALUE`; options and
 * arguments mix in any order and are returned in the order given (`dwf serve` applies
 * per-function options to the function before them); `--` ends the options. */
enum { CLI_FLAG = no_argument, CLI_VALUE = required_argument, CLI_OPTIONAL = optional_argument };

typedef struct CliOption {
    const char *name; /* long name without "--", or NULL */
    char short_name;  /* 'o' for -o, or 0 */
    int arg;          /* CLI_FLAG, CLI_VALUE, or CLI_OPTIONAL (a value only as --name=VALUE) */
    int id;           /* what cli_args_next returns for it: a positive number */
} CliOption;

/* What cli_args_next returns besides an option's id. */
enum { CLI_END = 0, CLI_ARGUMENT = -1, CLI_BAD = -2 };

#define CLI_MAX_OPTIONS 32

typedef struct CliArgs {
    const char *value;  /* the option's value (NULL for a flag) or the argument */
    char spelled[48];   /* the option as the user means it: "--input", "-o" */
    /* private to options.c */
    const char *cmd;
    const CliOption *options;
    int argc, rest, done; /* rest: the next argument after the options ended */
    char **argv;
    struct option longs[CLI_MAX_OPTIONS + 1];
    char shorts[2 * CLI_MAX_OPTIONS + 4];
} CliArgs;

/* Start reading argv[1..argc-1] (argv[0] is the command name) against `options`, a table of
 * at most CLI_MAX_OPTIONS entries ending with an entry whose id is 0. */
void cli_args_init(CliArgs *a, const char *cmd, const CliOption *options, int argc, char **argv);

/* The next option's id, CLI_ARGUMENT for an argument (in a->value), CLI_END after the last,
 * or CLI_BAD after printing the usage error (an unknown option, with the nearest known one as
 * "did you mean"; a missing value; a value given to a flag): the command then returns
 * EXIT_USAGE. */
int cli_args_next(CliArgs *a);

/* The one of known[0..nknown) nearest to name[0..n) by edit distance (an adjacent
 * transposition is one edit), if near enough to be a typo: one edit for names of up to four
 * letters, two for longer ones; else NULL. For "did you mean" (options, commands). */
const char *cli_nearest(const char *name, size_t n, const char *const *known, size_t nknown);


/* Block SIGINT and SIGTERM in the calling thread (before any other thread exists, so every
 * thread inherits the mask) and fill *stop with them, for the sigwait of a server command
 * (serve, console). main() ignores SIGPIPE for every command. */
void cli_block_stop_signals(sigset_t *stop);

/* --color's value (check, fmt): NULL or "always" 1, "never" 0, "auto" -1 into *color, EXIT_OK;
 * anything else is a usage error of `cmd` (EXIT_USAGE, said on stderr). */
int cli_color_value(const char *cmd, const char *value, int *color);

#endif
