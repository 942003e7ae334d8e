/*
 * resume.c: `dwf resume` and `dwf worker`, the two ways to drive executions that are due (a
 * timer ended, a callback was completed, an invocation is to be retried): once and return, or
 * every few hundred milliseconds until interrupted. Both load the handlers the store recorded
 * (`dwf run` recorded them), so neither needs the .dwf files.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "engine_common.h"
#include "handler.h"

const char *const usage_resume =
    "usage: dwf resume [ARN] [--skip-time] [--concurrency N] [--quiet] [--store PATH] [--force]\n"
    "\n"
    "Drive every execution (or the one given) that has a due timer, a completed callback or an\n"
    "invocation to retry, then return. With --skip-time, also move the virtual clock to the\n"
    "next waits and retries until only callbacks remain. Closed executions past their\n"
    "retention period are deleted. An execution that started on another version of its\n"
    "workflow is driven only when its history replays cleanly on the current one (see\n"
    "`dwf verify`), or with --force. --concurrency N drives up to N executions at once\n"
    "(threads; default 1: one after another).\n";

const char *const usage_worker =
    "usage: dwf worker [--skip-time] [--interval MS] [--concurrency N] [--quiet] [--store PATH] [--force]\n"
    "\n"
    "Keep doing what `dwf resume` does, every MS milliseconds (default 500), until\n"
    "interrupted (SIGINT / SIGTERM). --concurrency N drives up to N due executions at once, each\n"
    "on its own thread and each execution by one thread at a time (default 1: one after another;\n"
    "at most 256). --force as for `dwf resume`.\n";

enum { OPT_STORE = 1, OPT_SKIP_TIME, OPT_QUIET, OPT_INTERVAL, OPT_CONCURRENCY, OPT_FORCE };
/* Threads of `--concurrency`: each invocation also runs on a thread of its own, and all share
 * one store handle, so more than this only queues on the store. */
#define MAX_CONCURRENCY 256
static const CliOption resume_options[] = {
    {"store", 0, CLI_VALUE, OPT_STORE},
    {"concurrency", 0, CLI_VALUE, OPT_CONCURRENCY},
    {"skip-time", 0, CLI_FLAG, OPT_SKIP_TIME},
    {"quiet", 'q', CLI_FLAG, OPT_QUIET},
    {"force", 0, CLI_FLAG, OPT_FORCE},
    {0},
};
static const CliOption worker_options[] = {
    {"store", 0, CLI_VALUE, OPT_STORE},
    {"skip-time", 0, CLI_FLAG, OPT_SKIP_TIME},
    {"quiet", 'q', CLI_FLAG, OPT_QUIET},
    {"interval", 0, CLI_VALUE, OPT_INTERVAL},
    {"concurrency", 0, CLI_VALUE, OPT_CONCURRENCY},
    {"force", 0, CLI_FLAG, OPT_FORCE},
    {0},
};

/* --concurrency N: 1..MAX_CONCURRENCY, or -1 after a usage error was printed. */
static int parse_concurrency(const char *cmd, const char *value)
{
    char *end;
    long n = strtol(value, &end, 10);
    if (*end || end == value || n < 1 || n > MAX_CONCURRENCY) {
        cli_usage_error(cmd, "--concurrency takes a number of executions from 1 to %d", MAX_CONCURRENCY);
        return -1;
    }
    return (int)n;
}

static const char *refusing_cmd = "resume"; /* the command print_refused speaks for */

/* An execution the engine would not drive on its changed workflow: said once, on stderr. */
static void print_refused(void *arg, const char *arn, const dwf_error *err)
{
    (void)arg;
    (void)arn;
    fprintf(stderr, "dwf %s: %s: %s\n", refusing_cmd, err->type, err->message);
}

/* Drive every due execution (or only `arn` and what it started) once, up to `conc` at a time.
 * An execution refused on its changed workflow is said and left, the others are driven; it
 * goes into `refused` (ARN -> true), and is not tried again while it is there. */
static int drive_all(dwf_service *s, const char *arn, int skip, int quiet, int conc, int force,
                     cJSON *refused, const char *cmd)
{
    HandlerSet set = {.svc = s};
    Progress prog = {isatty(STDOUT_FILENO), !quiet, cJSON_CreateObject(), stdout};
    dwf_engine_opts eo = {.resolve = handler_resolve, .resolve_arg = &set, .environment = handler_environment,
                          .skip_time = skip, .no_wait = 1, .quiet = quiet, .stale_ms = 30000,
                          .on_operation = ec_progress_op,
                          .on_invocation = ec_progress_invocation, .progress_arg = &prog, .stop = &ec_stop_flag,
                          .concurrency = conc, .force = force, .on_adopted = ec_progress_adopted,
                          .refused = refused, .on_refused = print_refused};
    refusing_cmd = cmd;
    dwf_error err = {"ServiceException", "out of memory"};
    int r = prog.seen ? dwf_engine_drive(s, arn, &eo, &err) : -1;
    handler_set_free(&set);
    cJSON_Delete(prog.seen);
    return r < 0 ? ec_service_error(cmd, &err) : EXIT_OK;
}

int cmd_resume(int argc, char **argv)
{
    const char *store = ec_default_store(), *arn = NULL;
    int skip = 0, quiet = 0, conc = 1, force = 0, opt;
    CliArgs a;
    cli_args_init(&a, "resume", resume_options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_STORE: store = a.value; break;
        case OPT_SKIP_TIME: skip = 1; break;
        case OPT_QUIET: quiet = 1; break;
        case OPT_FORCE: force = 1; break;
        case OPT_CONCURRENCY:
            if ((conc = parse_concurrency("resume", a.value)) < 0) return EXIT_USAGE;
            break;
        case CLI_ARGUMENT:
            if (arn) return cli_usage_error("resume", "one execution at a time");
            arn = a.value;
            break;
        default: return EXIT_USAGE;
        }
    }
    dwf_service *s = NULL;
    if (ec_open_service("resume", store, &s) != 0) return EXIT_INPUT;
    dwf_error err;
    cJSON *x = NULL;
    char root[1024] = "";
    int rc = EXIT_INPUT;
    if (arn) {
        if (dwf_service_get_execution(s, arn, 0, &x, &err) != 0) {
            ec_service_error("resume", &err);
            goto out;
        }
        snprintf(root, sizeof root, "%s", ec_str(x, "DurableExecutionArn"));
        cJSON_Delete(x);
        x = NULL;
    }
    ec_catch_signals();
    cJSON *refused = cJSON_CreateObject();
    rc = refused ? drive_all(s, arn ? root : NULL, skip, quiet, conc, force, refused, "resume") : EXIT_INPUT;
    int nrefused = refused ? cJSON_GetArraySize(refused) : 0;
    cJSON_Delete(refused);
    if (rc == EXIT_OK && nrefused) { /* said on stderr; the others were driven */
        rc = EXIT_INPUT;
        goto out;
    }
    if (rc == EXIT_OK && ec_stop_flag) {
        fprintf(stderr, "dwf resume: interrupted; what was running continues from its last checkpoint with "
                        "'dwf resume%s%s --store %s'\n", arn ? " " : "", arn ? root : "", store);
        rc = EXIT_INPUT;
        goto out;
    }
    if (rc == EXIT_OK && arn) {
        if (dwf_service_get_execution(s, root, 1, &x, &err) != 0) {
            rc = ec_service_error("resume", &err);
            goto out;
        }
        printf("%s %s\n", ec_str(x, "Status"), root);
        const char *res = ec_str(x, "Result");
        if (res) puts(res);
    }
out:
    cJSON_Delete(x);
    dwf_service_close(s);
    return rc;
}

int cmd_worker(int argc, char **argv)
{
    const char *store = ec_default_store();
    int skip = 0, quiet = 0, conc = 1, force = 0, opt;
    long interval = 500;
    char *end;
    CliArgs a;
    cli_args_init(&a, "worker", worker_options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_STORE: store = a.value; break;
        case OPT_SKIP_TIME: skip = 1; break;
        case OPT_QUIET: quiet = 1; break;
        case OPT_FORCE: force = 1; break;
        case OPT_INTERVAL:
            interval = strtol(a.value, &end, 10);
            if (*end || end == a.value || interval < 10)
                return cli_usage_error("worker", "--interval takes milliseconds >= 10");
            break;
        case OPT_CONCURRENCY:
            if ((conc = parse_concurrency("worker", a.value)) < 0) return EXIT_USAGE;
            break;
        case CLI_ARGUMENT: return cli_usage_error("worker", "unexpected argument '%s'", a.value);
        default: return EXIT_USAGE;
        }
    }
    dwf_service *s = NULL;
    if (ec_open_service("worker", store, &s) != 0) return EXIT_INPUT;
    ec_catch_signals();
    int rc = EXIT_OK;
    /* Executions refused on a changed workflow: said once, then left to `dwf resume [--force]`
     * while the worker goes on with every other one. */
    cJSON *refused = cJSON_CreateObject();
    while (!ec_stop_flag && refused) {
        if ((rc = drive_all(s, NULL, skip, quiet, conc, force, refused, "worker")) != EXIT_OK) break;
        struct timespec ts = {interval / 1000, (interval % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (!refused) rc = EXIT_INPUT;
    cJSON_Delete(refused);
    dwf_service_close(s);
    return rc;
}
