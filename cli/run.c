/*
 * run.c: `dwf run`, a workflow on the embedded engine from start to end, as a user runs it.
 *
 * The phases are kept apart so bad input never changes the store: the options and the input
 * JSON are checked, the workflow (and every --function) compiled and loaded, and only then is
 * the store opened, the functions recorded in it and the execution started. The engine then
 * drives the execution in this process; while it waits on a callback, run prints the callback's
 * id and the command that completes it and polls the store (or returns, with --detach).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "dwf_protocol.h"
#include "engine_common.h"
#include "handler.h"

const char *const usage_run =
    "usage: dwf run FILE.dwf [--input JSON|@file] [--name NAME] [--skip-time] [--detach]\n"
    "               [--json] [--quiet] [--function OTHER.dwf]... [--store PATH] [--force]\n"
    "               [--env NAME=VALUE]... [--env-file FILE]...\n"
    "\n"
    "Compile the workflow (cached by content under .dwf/cache/), start an execution on the\n"
    "embedded engine and drive it until it ends or waits for a callback. Timers wait in real\n"
    "time; --skip-time moves this execution's own virtual clock straight to the next wait or retry.\n"
    "While a callback is pending, run prints its id and the command that completes it, and\n"
    "keeps waiting (polling the store) unless --detach. Each invocation lasts at most the\n"
    "workflow's lambda { timeout }, as on Lambda. Ctrl-C stops at the next checkpoint (or\n"
    "abandons a step still running a second later); 'dwf resume' continues the execution.\n"
    "\n"
    "options:\n"
    "  --input JSON|@file  the execution input (default {}); @- reads stdin. JSON of at\n"
    "                      most 6 MB (DWF_LIMIT_SYNC_PAYLOAD), valid UTF-8, finite numbers\n"
    "  --name NAME         execution name (idempotency: the same name and input return the\n"
    "                      existing execution; another input is an error)\n"
    "  --skip-time         virtual clock: waits and retry delays take no real time\n"
    "  --detach            return as soon as the execution waits on a callback\n"
    "  --json              print only {\"ExecutionArn\",\"Status\",\"Result\",\"Error\"}\n"
    "  --quiet             no step log lines\n"
    "  --function OTHER.dwf  also compile OTHER.dwf and register its function, so the\n"
    "                      workflow can `invoke` it (a function run before is known already)\n"
    "  --store PATH        the store (default $DWF_STORE or .dwf/dwf.db)\n"
    "  --force             drive an execution (--name) that started on another version of the\n"
    "                      workflow even when its history does not replay on this one\n"
    "  --env NAME=VALUE    set an environment variable of the workflow's function over its\n"
    "                      lambda { environment } (repeatable; the later setting wins)\n"
    "  --env-file FILE     the same from a file: NAME=VALUE lines, '#' comments, blank lines,\n"
    "                      an optional 'export ', the value optionally in matching quotes\n"
    "\n"
    "env() reads the function's environment only (never dwf's own): the store records it with\n"
    "the function, so 'dwf resume' reads what the first run read.\n"
    "\n"
    "exit status: 0 SUCCEEDED (or detached while waiting), 1 FAILED, TIMED_OUT, STOPPED or\n"
    "an error, 2 usage error\n";


enum {
    OPT_INPUT = 1, OPT_NAME, OPT_STORE, OPT_FUNCTION, OPT_SKIP_TIME, OPT_DETACH, OPT_JSON, OPT_QUIET, OPT_ENV,
    OPT_ENV_FILE, OPT_FORCE
};
static const CliOption options[] = {
    {"input", 0, CLI_VALUE, OPT_INPUT},
    {"name", 0, CLI_VALUE, OPT_NAME},
    {"store", 0, CLI_VALUE, OPT_STORE},
    {"function", 0, CLI_VALUE, OPT_FUNCTION},
    {"skip-time", 0, CLI_FLAG, OPT_SKIP_TIME},
    {"detach", 0, CLI_FLAG, OPT_DETACH},
    {"json", 0, CLI_FLAG, OPT_JSON},
    {"quiet", 'q', CLI_FLAG, OPT_QUIET},
    {"force", 0, CLI_FLAG, OPT_FORCE},
    {"env", 0, CLI_VALUE, OPT_ENV},
    {"env-file", 0, CLI_VALUE, OPT_ENV_FILE},
    {0},
};

enum { MAX_FUNCTIONS = 16 };

/* One `dwf run`: what the user asked for, then what it has opened (freed by run_free). */
typedef struct Run {
    const char *file, *input_arg, *name, *store;
    const char *functions[MAX_FUNCTIONS];
    int nfunctions, skip, detach, json, quiet, force;
    char **env;         /* --env and --env-file settings in command-line order ("NAME=VALUE", owned) */
    int nenv;
    char *input;        /* the --input text, checked to be JSON */
    HandlerSet set;     /* the workflow first, then every function the engine resolved */
    HandlerSet others;  /* the --function handlers, until they are recorded */
    dwf_service *s;
    cJSON *shown;       /* callback ids already printed */
    Progress prog;
    char store_abs[4096];
    char arn[1024];
} Run;

/* Keep one NAME=VALUE setting (copied). NAME as Lambda accepts it: [a-zA-Z][a-zA-Z0-9_]+. */
static int add_env(Run *r, const char *kv, const char *where)
{
    size_t k = strcspn(kv, "=");
    int ok = kv[k] == '=' && k >= 2 && ((kv[0] >= 'a' && kv[0] <= 'z') || (kv[0] >= 'A' && kv[0] <= 'Z'));
    for (size_t i = 1; ok && i < k; i++)
        ok = (kv[i] >= 'a' && kv[i] <= 'z') || (kv[i] >= 'A' && kv[i] <= 'Z') || (kv[i] >= '0' && kv[i] <= '9') ||
             kv[i] == '_';
    if (!ok) {
        fprintf(stderr, "dwf run: %s: '%.80s' is not NAME=VALUE with NAME a letter, then letters, digits or '_'\n",
                where, kv);
        return -1;
    }
    char **grown = realloc(r->env, (size_t)(r->nenv + 2) * sizeof *grown);
    char *copy = strdup(kv);
    if (!grown || !copy) {
        free(copy);
        if (grown) r->env = grown;
        fprintf(stderr, "dwf run: out of memory\n");
        return -1;
    }
    r->env = grown;
    r->env[r->nenv++] = copy;
    r->env[r->nenv] = NULL;
    return 0;
}

/* One line of an env file into NAME=VALUE: "export " dropped, matching quotes around the value
 * taken off (no escapes: the value is the bytes between them). */
static int env_file_line(Run *r, char *line, const char *where)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
        line[--n] = '\0';
    while (*line == ' ' || *line == '\t') line++;
    if (!*line || *line == '#') return 0;
    if (strncmp(line, "export ", 7) == 0) line += 7;
    char *eq = strchr(line, '=');
    if (eq) {
        char *v = eq + 1;
        size_t vl = strlen(v);
        if (vl >= 2 && (v[0] == '"' || v[0] == '\'') && v[vl - 1] == v[0]) {
            memmove(v, v + 1, vl - 2);
            v[vl - 2] = '\0';
        }
    }
    return add_env(r, line, where);
}

static int read_env_file(Run *r, const char *path)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "dwf run: --env-file %s: %s\n", path, strerror(errno));
        return -1;
    }
    char *line = NULL, where[4200];
    size_t cap = 0;
    int rc = 0;
    for (int ln = 1; rc == 0 && getline(&line, &cap, f) >= 0; ln++) {
        snprintf(where, sizeof where, "%s:%d", path, ln);
        rc = env_file_line(r, line, where);
    }
    free(line);
    if (f != stdin) fclose(f);
    return rc;
}

static int parse_options(Run *r, int argc, char **argv)
{
    CliArgs a;
    int opt;
    cli_args_init(&a, "run", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_INPUT: r->input_arg = a.value; break;
        case OPT_NAME: r->name = a.value; break;
        case OPT_STORE: r->store = a.value; break;
        case OPT_FUNCTION:
            if (r->nfunctions == MAX_FUNCTIONS)
                return cli_usage_error("run", "at most %d --function files", MAX_FUNCTIONS);
            r->functions[r->nfunctions++] = a.value;
            break;
        case OPT_SKIP_TIME: r->skip = 1; break;
        case OPT_DETACH: r->detach = 1; break;
        case OPT_JSON: r->json = 1; break;
        case OPT_QUIET: r->quiet = 1; break;
        case OPT_FORCE: r->force = 1; break;
        case OPT_ENV:
            if (add_env(r, a.value, "--env") != 0) return EXIT_USAGE;
            break;
        case OPT_ENV_FILE:
            if (read_env_file(r, a.value) != 0) return EXIT_INPUT;
            break;
        case CLI_ARGUMENT:
            if (r->file) return cli_usage_error("run", "one workflow at a time ('%s' and '%s')", r->file, a.value);
            r->file = a.value;
            break;
        default: return EXIT_USAGE;
        }
    }
    if (!r->file) return cli_usage_error("run", "no .dwf file given");
    return EXIT_OK;
}

/* Read --input (text or @file) and check that it is JSON. */
static int read_input(Run *r)
{
    size_t len = 0;
    if (!r->input_arg) return 0;
    if (ec_read_arg("run", "--input", r->input_arg, DWF_LIMIT_SYNC_PAYLOAD, "DWF_LIMIT_SYNC_PAYLOAD",
                    "an execution input", &r->input, &len) != 0)
        return -1;
    cJSON *j = ec_parse_json_arg("run", "--input", r->input, len);
    cJSON_Delete(j);
    return j ? 0 : -1;
}

/* Compile `file` (cached under cache) and load it into `set`. */
static int load(const char *file, const char *cache, HandlerSet *set)
{
    char so[4096], src[4096], msg[600];
    Handler h;
    if (access(file, R_OK) != 0) {
        fprintf(stderr, "dwf run: cannot read %s: %s\n", file, strerror(errno));
        return -1;
    }
    if (handler_build(file, cache, so, sizeof so) != 0) return -1;
    if (!realpath(file, src)) snprintf(src, sizeof src, "%s", file);
    if (handler_load(so, src, &h, msg, sizeof msg) != 0) {
        fprintf(stderr, "dwf run: %s\n", msg);
        return -1;
    }
    if (handler_set_add(set, &h) != 0) {
        fprintf(stderr, "dwf run: out of memory\n");
        dlclose(h.dl);
        return -1;
    }
    return 0;
}

/* --function takes a .dwf: the engine runs handlers compiled in-process, always durable. A
 * plain Lambda function (a zip, a directory of another runtime) needs a runtime process, which
 * `dwf serve` gives it; say so rather than fail to compile it. */
static int function_file_ok(const char *file)
{
    size_t n = strlen(file);
    if (n > 4 && strcmp(file + n - 4, ".dwf") == 0) return 1;
    fprintf(stderr,
            "dwf run: --function %s: dwf run takes .dwf workflows only (it runs durable functions compiled "
            "in-process). A plain Lambda function (a zip or a directory) needs a runtime process: serve it with "
            "`dwf serve --function NAME=PATH --no-durable` beside the caller's zip.\n",
            file);
    return 0;
}

/* The workflow and the other functions, compiled and loaded before the store is opened:
 * the cache lives beside the store (.dwf/cache for .dwf/dwf.db). */
static int load_all(Run *r)
{
    char cache[4096];
    const char *slash = strrchr(r->store, '/');
    if (slash) snprintf(cache, sizeof cache, "%.*s/cache", (int)(slash - r->store), r->store);
    else snprintf(cache, sizeof cache, "cache");
    if (load(r->file, cache, &r->set) != 0) return -1;
    if (handler_set_env(&r->set.items[0], (const char *const *)r->env, r->nenv) != 0) {
        fprintf(stderr, "dwf run: out of memory\n");
        return -1;
    }
    for (int i = 0; i < r->nfunctions; i++)
        if (!function_file_ok(r->functions[i]) || load(r->functions[i], cache, &r->others) != 0) return -1;
    return 0;
}

/* Open the store and record every loaded function in it, so later processes find them. */
static int open_and_register(Run *r)
{
    dwf_error err;
    r->shown = cJSON_CreateObject();
    r->prog = (Progress){isatty(STDOUT_FILENO), !r->json, cJSON_CreateObject(), stdout};
    if (!r->shown || !r->prog.seen || ec_open_service("run", r->store, &r->s) != 0) return -1;
    /* The printed commands name the store absolutely: they are run from other directories. */
    if (realpath(r->store, r->store_abs)) r->store = r->store_abs;
    r->set.svc = r->s;
    if (handler_register(r->s, &r->set.items[0], &err) != 0) return ec_service_error("run", &err);
    while (r->others.n > 0) {
        Handler oh = r->others.items[--r->others.n];
        if (handler_set_add(&r->set, &oh) != 0) {
            dlclose(oh.dl);
            return -1;
        }
        if (handler_register(r->s, &oh, &err) != 0) return ec_service_error("run", &err);
    }
    return 0;
}

/* Start the execution (or attach to the one of the same --name and input). */
static int start(Run *r)
{
    dwf_error err;
    cJSON *started = NULL, *req = cJSON_CreateObject();
    int rc = -1;
    if (!req || !cJSON_AddStringToObject(req, "FunctionName", r->set.items[0].wf->function_name) ||
        (r->input && !cJSON_AddStringToObject(req, "Input", r->input)) ||
        (r->name && !cJSON_AddStringToObject(req, "DurableExecutionName", r->name)))
        goto out;
    if (dwf_service_start(r->s, req, &started, &err) != 0) {
        ec_service_error("run", &err);
        goto out;
    }
    snprintf(r->arn, sizeof r->arn, "%s", ec_str(started, "DurableExecutionArn"));
    if (!r->json) {
        int attached = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(started, "AlreadyStarted"));
        printf("%s %s\n", attached ? "attached to" : "started", r->arn);
        fflush(stdout);
    }
    rc = 0;
out:
    cJSON_Delete(req);
    cJSON_Delete(started);
    return rc;
}

/* Print the callbacks the execution now waits on, once each. */
static int show_callbacks(Run *r, FILE *out)
{
    cJSON *cbs = NULL;
    dwf_error err;
    if (dwf_service_open_callbacks(r->s, r->arn, &cbs, &err) != 0) return ec_service_error("run", &err);
    for (cJSON *c = cbs->child; c; c = c->next) {
        const char *id = ec_str(c, "CallbackId");
        if (!id || cJSON_GetObjectItemCaseSensitive(r->shown, id)) continue;
        cJSON_AddItemToObject(r->shown, id, cJSON_CreateTrue());
        const char *name = ec_str(c, "Name");
        fprintf(out, "waiting for callback%s%s%s: %s\n", name ? " '" : "", name ? name : "", name ? "'" : "", id);
        fprintf(out, "  complete it with: dwf callback succeed %s --result '{...}' --store %s\n", id, r->store);
    }
    fflush(out);
    cJSON_Delete(cbs);
    return 0;
}

enum { DRIVE_DONE, DRIVE_DETACHED, DRIVE_FAILED };

/* Ctrl-C or SIGTERM stopped the engine: say what is true of the execution now. It may have
 * ended meanwhile (the signal came after its last checkpoint): then its outcome is reported.
 * Otherwise it continues, from its last checkpoint, with `dwf resume`. */
static int interrupted(Run *r)
{
    dwf_error err;
    cJSON *x = NULL;
    if (dwf_service_get_execution(r->s, r->arn, 0, &x, &err) != 0) {
        fprintf(stderr, "dwf run: interrupted; the execution's state cannot be read (%s: %s)\n", err.type,
                err.message);
        return DRIVE_FAILED;
    }
    const char *status = ec_str(x, "Status");
    int ended = status && strcmp(status, "RUNNING") != 0;
    if (ended)
        fprintf(stderr, "dwf run: interrupted after the execution ended (%s)\n", status);
    else
        fprintf(stderr,
                "dwf run: interrupted; the execution is still RUNNING and continues from its last checkpoint "
                "with 'dwf resume %s --store %s'%s\n",
                r->arn, r->store,
                dwf_engine_abandoned() > 0 ? " (the step that was running was abandoned and runs again there)" : "");
    cJSON_Delete(x);
    return ended ? DRIVE_DONE : DRIVE_FAILED;
}

/* Drive the execution until it ends, or it waits on a callback and --detach was given. */
static int drive(Run *r)
{
    dwf_error err;
    dwf_engine_opts eo = {.resolve = handler_resolve, .resolve_arg = &r->set, .environment = handler_environment,
                          .skip_time = r->skip,
                          .quiet = r->quiet || r->json, .stale_ms = 30000, .on_operation = ec_progress_op,
                          .on_invocation = ec_progress_invocation, .progress_arg = &r->prog,
                          .stop = &ec_stop_flag, .force = r->force, .on_adopted = ec_progress_adopted};
    ec_catch_signals();
    for (;;) {
        int d = dwf_engine_drive(r->s, r->arn, &eo, &err);
        if (d < 0) {
            ec_service_error("run", &err);
            return DRIVE_FAILED;
        }
        if (ec_stop_flag) return interrupted(r);
        if (d == DWF_ENGINE_DONE) return DRIVE_DONE;
        if (show_callbacks(r, r->json ? stderr : stdout) != 0) return DRIVE_FAILED;
        if (r->detach) return DRIVE_DETACHED;
        struct timespec ts = {0, 250 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* --json's one object: {"ExecutionArn","Status","Result","Error"}. */
static void print_json_outcome(const char *arn, const char *status, const char *result, const cJSON *error)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *res = result ? cJSON_Parse(result) : NULL;
    if (result && !res) res = cJSON_CreateString(result);
    if (o && cJSON_AddStringToObject(o, "ExecutionArn", arn) && cJSON_AddStringToObject(o, "Status", status)) {
        cJSON_AddItemToObject(o, "Result", res ? res : cJSON_CreateNull());
        cJSON_AddItemToObject(o, "Error", error ? cJSON_Duplicate(error, 1) : cJSON_CreateNull());
        ec_print_json(o);
    } else {
        cJSON_Delete(res);
    }
    cJSON_Delete(o);
}

/* How the execution ended; EXIT_OK only for SUCCEEDED. */
static int report(Run *r)
{
    dwf_error err;
    cJSON *x = NULL;
    if (dwf_service_get_execution(r->s, r->arn, 1, &x, &err) != 0) return ec_service_error("run", &err);
    const char *status = ec_str(x, "Status");
    const char *result = ec_str(x, "Result");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(x, "Error");
    if (r->json) {
        print_json_outcome(r->arn, status, result, error);
    } else {
        double st = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(x, "StartTimestamp"));
        double en = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(x, "EndTimestamp"));
        printf("%s in %.1f s\n", status, (en - st) / 1000.0);
        if (result) {
            cJSON *res = cJSON_Parse(result);
            if (res) ec_print_json(res);
            else puts(result);
            cJSON_Delete(res);
        }
        if (error) {
            char *t = cJSON_PrintUnformatted(error);
            printf("error: %s\n", t ? t : "?");
            free(t);
        }
    }
    int rc = status && strcmp(status, "SUCCEEDED") == 0 ? EXIT_OK : EXIT_INPUT;
    cJSON_Delete(x);
    return rc;
}

static void report_detached(const Run *r)
{
    if (r->json)
        print_json_outcome(r->arn, "RUNNING", NULL, NULL);
    else
        printf("detached; the execution waits. Continue it with 'dwf resume %s --store %s'\n", r->arn, r->store);
}

static void run_free(Run *r)
{
    cJSON_Delete(r->shown);
    cJSON_Delete(r->prog.seen);
    handler_set_free(&r->set);
    handler_set_free(&r->others);
    dwf_service_close(r->s);
    free(r->input);
    for (int i = 0; i < r->nenv; i++) free(r->env[i]);
    free(r->env);
}

int cmd_run(int argc, char **argv)
{
    Run r = {.store = ec_default_store()};
    int rc = parse_options(&r, argc, argv);
    if (rc != EXIT_OK) {
        for (int i = 0; i < r.nenv; i++) free(r.env[i]);
        free(r.env);
        return rc;
    }
    rc = EXIT_INPUT;
    /* Everything the user typed is checked, and compiled, before the store is touched. */
    if (read_input(&r) != 0 || load_all(&r) != 0) goto out;
    if (open_and_register(&r) != 0 || start(&r) != 0) goto out;
    switch (drive(&r)) {
    case DRIVE_DONE: rc = report(&r); break;
    case DRIVE_DETACHED:
        report_detached(&r);
        rc = EXIT_OK;
        break;
    default: break;
    }
out:
    run_free(&r);
    return rc;
}
