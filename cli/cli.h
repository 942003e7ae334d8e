/*
 * cli.h: the dwf command line. main.c parses the command name and hands the remaining
 * arguments to one cmd_* function; each lives in the file that owns that part of the product:
 *   cmd_compile.c  check, compile          (front end + code generation)
 *   cmd_engine.c   run, executions, history, callback, stop, resume, worker (embedded engine)
 *   cmd_deploy.c   build                   (the Lambda zip)
 *   cmd_serve.c    serve                   (the local Lambda emulator)
 * Exit codes: 0 success, 1 errors in the input or a failed execution, 2 usage errors.
 */
#ifndef DWF_CLI_H
#define DWF_CLI_H

enum { EXIT_OK = 0, EXIT_INPUT = 1, EXIT_USAGE = 2 };

typedef struct CliCommand {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name */
    const char *summary;               /* one line for `dwf --help` */
    const char *usage;                 /* full text for `dwf help NAME` */
} CliCommand;

int cmd_check(int argc, char **argv);
int cmd_compile(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_executions(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_callback(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_worker(int argc, char **argv);
int cmd_build(int argc, char **argv);
int cmd_serve(int argc, char **argv);

extern const char *const usage_check, *const usage_compile, *const usage_run,
    *const usage_executions, *const usage_history, *const usage_callback, *const usage_stop,
    *const usage_resume, *const usage_worker, *const usage_build, *const usage_serve;

/* Print "dwf: <message>" to stderr and `dwf help <cmd>` hint; returns EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The directory dwf was installed or built in (the one holding include/dwf.h, or
 * include/dwf/dwf.h when installed), found from /proc/self/exe. Returns a static string. */
const char *cli_home(void);

#endif
