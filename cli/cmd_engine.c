/*
 * cmd_engine.c: the embedded engine's commands: run, executions, history, callback, stop,
 * resume, worker. Each is a thin layer over the service core (service/service.h) and the
 * engine (service/engine.h): parse and check the arguments completely before the store is
 * opened, so bad input never changes the store, then make one or a few service calls and
 * print what they return. Errors name the service's error type (ResourceNotFoundException,
 * CallbackTimeoutException, StoreLockedException, ...) so scripts can match them.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "engine.h"
#include "handler.h"
#include "service.h"

const char *const usage_run =
    "usage: dwf run FILE.dwf [--input JSON|@file] [--name NAME] [--skip-time] [--detach]\n"
    "               [--json] [--quiet] [--function OTHER.dwf]... [--store PATH]\n"
    "\n"
    "Compile the workflow (cached by content under .dwf/cache/), start an execution on the\n"
    "embedded engine and drive it until it ends or waits for a callback. Timers wait in real\n"
    "time; --skip-time moves the store's virtual clock straight to the next wait or retry.\n"
    "While a callback is pending, run prints its id and the command that completes it, and\n"
    "keeps waiting (polling the store) unless --detach.\n"
    "\n"
    "options:\n"
    "  --input JSON|@file  the execution input (default {}); must be valid JSON\n"
    "  --name NAME         execution name (idempotency: the same name and input return the\n"
    "                      existing execution; another input is an error)\n"
    "  --skip-time         virtual clock: waits and retry delays take no real time\n"
    "  --detach            return as soon as the execution waits on a callback\n"
    "  --json              print only {\"ExecutionArn\",\"Status\",\"Result\",\"Error\"}\n"
    "  --quiet             no step log lines\n"
    "  --function OTHER.dwf  also compile OTHER.dwf and register its function, so the\n"
    "                      workflow can `invoke` it (a function run before is known already)\n"
    "  --store PATH        the store (default $DWF_STORE or .dwf/dwf.db)\n"
    "\n"
    "exit status: 0 SUCCEEDED (or detached while waiting), 1 FAILED, TIMED_OUT, STOPPED or\n"
    "an error, 2 usage error\n";

const char *const usage_executions =
    "usage: dwf executions [--status STATUS] [--json] [--store PATH]\n"
    "\n"
    "List the executions in the store, oldest first. --status keeps one status (RUNNING,\n"
    "SUCCEEDED, FAILED, TIMED_OUT, STOPPED); --json prints the ListDurableExecutionsByFunction\n"
    "shape {\"DurableExecutions\":[...]}.\n";

const char *const usage_history =
    "usage: dwf history ARN [--events] [--json] [--store PATH]\n"
    "\n"
    "Show the operations of an execution (the Operation shape of GetDurableExecutionState),\n"
    "or with --events its history events (the shape of GetDurableExecutionHistory). ARN may\n"
    "also be the execution id.\n";

const char *const usage_callback =
    "usage: dwf callback succeed CALLBACK_ID [--result JSON|@file] [--store PATH]\n"
    "       dwf callback fail CALLBACK_ID [--error JSON|@file] [--store PATH]\n"
    "       dwf callback heartbeat CALLBACK_ID [--store PATH]\n"
    "\n"
    "Complete a callback (SendDurableExecutionCallbackSuccess / Failure / Heartbeat). The\n"
    "result is passed as raw text, as the API does; the error is an ErrorObject\n"
    "{\"ErrorType\",\"ErrorMessage\",\"ErrorData\"}. A `dwf run` waiting on the callback, or the\n"
    "next `dwf resume` / `dwf worker`, continues the execution.\n";

const char *const usage_stop =
    "usage: dwf stop ARN [--error JSON] [--store PATH]\n"
    "\n"
    "Stop a running execution (StopDurableExecution): it ends STOPPED.\n";

const char *const usage_resume =
    "usage: dwf resume [ARN] [--skip-time] [--quiet] [--store PATH]\n"
    "\n"
    "Drive every execution (or the one given) that has a due timer, a completed callback or an\n"
    "invocation to retry, then return. With --skip-time, also move the virtual clock to the\n"
    "next waits and retries until only callbacks remain. Closed executions past their\n"
    "retention period are deleted.\n";

const char *const usage_worker =
    "usage: dwf worker [--skip-time] [--interval MS] [--quiet] [--store PATH]\n"
    "\n"
    "Keep doing what `dwf resume` does, every MS milliseconds (default 500), until\n"
    "interrupted (SIGINT / SIGTERM).\n";

static volatile int stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

static const char *default_store(void)
{
    const char *e = getenv("DWF_STORE");
    return e && *e ? e : ".dwf/dwf.db";
}

static int service_error(const char *cmd, const dwf_error *err)
{
    fprintf(stderr, "dwf %s: %s: %s\n", cmd, err->type, err->message);
    return EXIT_INPUT;
}

static int open_service(const char *cmd, const char *store, dwf_service **s)
{
    dwf_error err;
    dwf_service_opts o = {.path = store};
    if (dwf_service_open(&o, s, &err) != 0) return service_error(cmd, &err);
    return 0;
}

/* Read "@file" or return the text itself; *buf receives a malloc'd copy. */
static int read_arg(const char *cmd, const char *v, char **buf, size_t *len)
{
    if (v[0] != '@') {
        *len = strlen(v);
        *buf = strdup(v);
        if (!*buf) fprintf(stderr, "dwf %s: out of memory\n", cmd);
        return *buf ? 0 : -1;
    }
    FILE *f = fopen(v + 1, "rb");
    if (!f) {
        fprintf(stderr, "dwf %s: cannot read %s: %s\n", cmd, v + 1, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    size_t got;
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(b, cap * 2 + 1);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!b) {
        fprintf(stderr, "dwf %s: out of memory\n", cmd);
        return -1;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

/* Parse JSON text, reporting where it breaks. */
static cJSON *parse_json_arg(const char *cmd, const char *what, const char *text)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(text, &end, 1);
    if (!j) {
        size_t off = end ? (size_t)(end - text) : 0;
        fprintf(stderr, "dwf %s: %s is not valid JSON (at offset %zu: '%.20s')\n", cmd, what, off, end ? end : "");
    }
    return j;
}

/* "2026-11-29T18:55:04.102Z" or epoch seconds -> ms; -1 if neither. */
static double ts_ms(const cJSON *v)
{
    if (cJSON_IsNumber(v)) return v->valuedouble * 1000.0;
    if (!cJSON_IsString(v)) return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(v->valuestring, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest) return -1;
    double ms = (double)timegm(&tm) * 1000.0;
    if (*rest == '.') ms += atof(rest) * 1000.0;
    return ms;
}

static void iso(double ms, char out[40])
{
    time_t sec = (time_t)(ms / 1000.0);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void print_json(const cJSON *j)
{
    char *t = dwf_json_text(j, 2); /* as JSON.stringify(v, null, 2): exact numbers */
    if (t) puts(t);
    else fprintf(stderr, "dwf: out of memory\n");
    free(t);
}

/* ---- progress ---------------------------------------------------------------------------------- */
typedef struct Progress {
    int tty, enabled;
    cJSON *seen; /* "<arn>|<Id>" -> last status shown */
    FILE *out;
} Progress;

static void progress_op(void *arg, const char *arn, const cJSON *op)
{
    Progress *p = arg;
    if (!p->enabled) return;
    const char *type = jstr(op, "Type"), *status = jstr(op, "Status"), *id = jstr(op, "Id");
    if (!type || !status || !id || strcmp(type, "EXECUTION") == 0) return;
    char key[700];
    snprintf(key, sizeof key, "%s|%s", arn, id);
    const char *last = jstr(p->seen, key);
    if (last && strcmp(last, status) == 0) return;
    cJSON *v = cJSON_CreateString(status);
    if (!v) return;
    if (last) cJSON_ReplaceItemInObjectCaseSensitive(p->seen, key, v);
    else cJSON_AddItemToObject(p->seen, key, v);
    const char *name = jstr(op, "Name");
    const char *sub = jstr(op, "SubType");
    double st = ts_ms(cJSON_GetObjectItemCaseSensitive(op, "StartTimestamp"));
    double en = ts_ms(cJSON_GetObjectItemCaseSensitive(op, "EndTimestamp"));
    char dur[32] = "";
    if (st >= 0 && en >= st) snprintf(dur, sizeof dur, "%.0f ms", en - st);
    if (strcmp(type, "WAIT") == 0 && strcmp(status, "STARTED") == 0) {
        const cJSON *wd = cJSON_GetObjectItemCaseSensitive(op, "WaitDetails");
        double end = ts_ms(cJSON_GetObjectItemCaseSensitive(wd, "ScheduledEndTimestamp"));
        if (end >= 0 && st >= 0) snprintf(dur, sizeof dur, "until +%.0f s", (end - st) / 1000.0);
    }
    const char *color = "";
    const char *reset = p->tty ? "\033[0m" : "";
    if (p->tty) {
        if (strcmp(status, "SUCCEEDED") == 0) color = "\033[32m";
        else if (strcmp(status, "FAILED") == 0 || strcmp(status, "TIMED_OUT") == 0) color = "\033[31m";
        else color = "\033[33m";
    }
    fprintf(p->out, "  %-14s %-28s %s%-9s%s %s\n", type, name ? name : sub ? sub : id, color, status, reset, dur);
    fflush(p->out);
}

static void progress_invocation(void *arg, const char *arn, const cJSON *resp, const dwf_error *fault)
{
    Progress *p = arg;
    (void)arn;
    if (!p->enabled || resp) return;
    fprintf(p->out, "  invocation failed: %s: %s (retried)\n", fault ? fault->type : "?", fault ? fault->message : "");
}

/* ---- run --------------------------------------------------------------------------------------- */
static void cache_dir_of(const char *store, char *out, size_t n)
{
    const char *slash = strrchr(store, '/');
    if (slash) snprintf(out, n, "%.*s/cache", (int)(slash - store), store);
    else snprintf(out, n, "cache");
}

/* Print the callbacks the execution now waits on, once each. */
static int show_callbacks(dwf_service *s, const char *arn, const char *store, cJSON *shown, FILE *out)
{
    cJSON *cbs = NULL;
    dwf_error err;
    if (dwf_service_open_callbacks(s, arn, &cbs, &err) != 0) return service_error("run", &err);
    for (cJSON *c = cbs->child; c; c = c->next) {
        const char *id = jstr(c, "CallbackId");
        if (!id || cJSON_GetObjectItemCaseSensitive(shown, id)) continue;
        cJSON_AddItemToObject(shown, id, cJSON_CreateTrue());
        const char *name = jstr(c, "Name");
        fprintf(out, "waiting for callback%s%s%s: %s\n", name ? " '" : "", name ? name : "", name ? "'" : "", id);
        fprintf(out, "  complete it with: dwf callback succeed %s --result '{...}' --store %s\n", id, store);
    }
    fflush(out);
    cJSON_Delete(cbs);
    return 0;
}

int cmd_run(int argc, char **argv)
{
    const char *file = NULL, *input_arg = NULL, *name = NULL, *store = default_store();
    const char *functions[16];
    int nfunctions = 0;
    int skip = 0, detach = 0, json = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--input") == 0 || strcmp(a, "--name") == 0 || strcmp(a, "--store") == 0 ||
            strcmp(a, "--function") == 0) {
            if (i + 1 >= argc) return cli_usage_error("run", "%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 'i') input_arg = v;
            else if (a[2] == 'n') name = v;
            else if (a[2] == 'f') {
                if (nfunctions == (int)(sizeof functions / sizeof functions[0]))
                    return cli_usage_error("run", "at most %d --function files", nfunctions);
                functions[nfunctions++] = v;
            } else store = v;
        } else if (strcmp(a, "--skip-time") == 0) skip = 1;
        else if (strcmp(a, "--detach") == 0) detach = 1;
        else if (strcmp(a, "--json") == 0) json = 1;
        else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) quiet = 1;
        else if (a[0] == '-' && a[1]) return cli_usage_error("run", "unknown option '%s'", a);
        else if (file) return cli_usage_error("run", "one workflow at a time ('%s' and '%s')", file, a);
        else file = a;
    }
    if (!file) return cli_usage_error("run", "no .dwf file given");
    /* Everything the user typed is checked before the store is touched. */
    char *input = NULL;
    size_t input_len = 0;
    if (input_arg) {
        if (read_arg("run", input_arg, &input, &input_len) != 0) return EXIT_INPUT;
        cJSON *j = parse_json_arg("run", "--input", input);
        if (!j) {
            free(input);
            return EXIT_INPUT;
        }
        cJSON_Delete(j);
    }
    if (access(file, R_OK) != 0) {
        fprintf(stderr, "dwf run: cannot read %s: %s\n", file, strerror(errno));
        free(input);
        return EXIT_INPUT;
    }
    char cache[4096], so[4096];
    cache_dir_of(store, cache, sizeof cache);
    if (handler_build(file, cache, so, sizeof so) != 0) {
        free(input);
        return EXIT_INPUT;
    }
    Handler h;
    char msg[600];
    char src[4096];
    if (!realpath(file, src)) snprintf(src, sizeof src, "%s", file);
    if (handler_load(so, src, &h, msg, sizeof msg) != 0) {
        fprintf(stderr, "dwf run: %s\n", msg);
        free(input);
        return EXIT_INPUT;
    }
    dwf_service *s = NULL;
    HandlerSet set = {0};
    /* The other functions are compiled and loaded before the store is opened too. */
    HandlerSet others = {0};
    for (int i = 0; i < nfunctions; i++) {
        Handler oh;
        char osrc[4096];
        if (access(functions[i], R_OK) != 0) {
            fprintf(stderr, "dwf run: cannot read %s: %s\n", functions[i], strerror(errno));
        } else if (handler_build(functions[i], cache, so, sizeof so) == 0) {
            if (!realpath(functions[i], osrc)) snprintf(osrc, sizeof osrc, "%s", functions[i]);
            if (handler_load(so, osrc, &oh, msg, sizeof msg) != 0) fprintf(stderr, "dwf run: %s\n", msg);
            else if (handler_set_add(&others, &oh) != 0) dlclose(oh.dl);
            else continue;
        }
        handler_set_free(&others);
        dlclose(h.dl);
        free(input);
        return EXIT_INPUT;
    }
    cJSON *req = NULL, *started = NULL, *shown = cJSON_CreateObject(), *x = NULL;
    Progress prog = {isatty(STDOUT_FILENO), !json, cJSON_CreateObject(), stdout};
    int rc = EXIT_INPUT;
    dwf_error err;
    if (handler_set_add(&set, &h) != 0) {
        dlclose(h.dl);
        goto out;
    }
    if (!shown || !prog.seen || open_service("run", store, &s) != 0) goto out;
    /* The printed commands name the store absolutely: they are run from other directories. */
    char store_abs[4096];
    if (realpath(store, store_abs)) store = store_abs;
    set.svc = s;
    if (handler_register(s, &h, &err) != 0) {
        service_error("run", &err);
        goto out;
    }
    while (others.n > 0) {
        Handler oh = others.items[--others.n];
        if (handler_set_add(&set, &oh) != 0) {
            dlclose(oh.dl);
            goto out;
        }
        if (handler_register(s, &oh, &err) != 0) {
            service_error("run", &err);
            goto out;
        }
    }
    req = cJSON_CreateObject();
    if (!req || !cJSON_AddStringToObject(req, "FunctionName", h.wf->function_name) ||
        (input && !cJSON_AddStringToObject(req, "Input", input)) ||
        (name && !cJSON_AddStringToObject(req, "DurableExecutionName", name)))
        goto out;
    if (dwf_service_start(s, req, &started, &err) != 0) {
        service_error("run", &err);
        goto out;
    }
    char arn[1024];
    snprintf(arn, sizeof arn, "%s", jstr(started, "DurableExecutionArn"));
    if (!json) {
        printf("%s %s\n", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(started, "AlreadyStarted")) ? "attached to" : "started",
               arn);
        fflush(stdout);
    }
    catch_signals();
    dwf_engine_opts eo = {.resolve = handler_resolve, .resolve_arg = &set, .skip_time = skip, .quiet = quiet || json,
                          .stale_ms = 30000, .on_operation = progress_op, .on_invocation = progress_invocation,
                          .progress_arg = &prog, .stop = &stop_flag};
    for (;;) {
        int r = dwf_engine_drive(s, arn, &eo, &err);
        if (r < 0) {
            service_error("run", &err);
            goto out;
        }
        if (stop_flag) {
            fprintf(stderr, "dwf run: interrupted; the execution continues with 'dwf resume %s --store %s'\n", arn, store);
            goto out;
        }
        if (r == DWF_ENGINE_DONE) break;
        if (show_callbacks(s, arn, store, shown, json ? stderr : stdout) != 0) goto out;
        if (detach) {
            if (json) {
                cJSON *o = cJSON_CreateObject();
                if (o && cJSON_AddStringToObject(o, "ExecutionArn", arn) && cJSON_AddStringToObject(o, "Status", "RUNNING") &&
                    cJSON_AddNullToObject(o, "Result") && cJSON_AddNullToObject(o, "Error"))
                    print_json(o);
                cJSON_Delete(o);
            } else {
                printf("detached; the execution waits. Continue it with 'dwf resume %s --store %s'\n", arn, store);
            }
            rc = EXIT_OK;
            goto out;
        }
        struct timespec ts = {0, 250 * 1000000L};
        nanosleep(&ts, NULL);
    }
    if (dwf_service_get_execution(s, arn, 1, &x, &err) != 0) {
        service_error("run", &err);
        goto out;
    }
    const char *status = jstr(x, "Status");
    const char *result = jstr(x, "Result");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(x, "Error");
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON *res = result ? cJSON_Parse(result) : NULL;
        if (result && !res) res = cJSON_CreateString(result);
        if (o && cJSON_AddStringToObject(o, "ExecutionArn", arn) && cJSON_AddStringToObject(o, "Status", status)) {
            cJSON_AddItemToObject(o, "Result", res ? res : cJSON_CreateNull());
            cJSON_AddItemToObject(o, "Error", error ? cJSON_Duplicate(error, 1) : cJSON_CreateNull());
            print_json(o);
        } else {
            cJSON_Delete(res);
        }
        cJSON_Delete(o);
    } else {
        double st = ts_ms(cJSON_GetObjectItemCaseSensitive(x, "StartTimestamp"));
        double en = ts_ms(cJSON_GetObjectItemCaseSensitive(x, "EndTimestamp"));
        printf("%s in %.1f s\n", status, (en - st) / 1000.0);
        if (result) {
            cJSON *res = cJSON_Parse(result);
            if (res) print_json(res);
            else puts(result);
            cJSON_Delete(res);
        }
        if (error) {
            char *t = cJSON_PrintUnformatted(error);
            printf("error: %s\n", t ? t : "?");
            free(t);
        }
    }
    rc = status && strcmp(status, "SUCCEEDED") == 0 ? EXIT_OK : EXIT_INPUT;
out:
    cJSON_Delete(x);
    cJSON_Delete(req);
    cJSON_Delete(started);
    cJSON_Delete(shown);
    cJSON_Delete(prog.seen);
    handler_set_free(&set);
    handler_set_free(&others);
    dwf_service_close(s);
    free(input);
    return rc;
}

/* ---- executions, history ------------------------------------------------------------------------------ */
static int is_status(const char *s)
{
    static const char *const st[] = {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
        if (strcmp(s, st[i]) == 0) return 1;
    return 0;
}

int cmd_executions(int argc, char **argv)
{
    const char *store = default_store(), *status = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--status") == 0 || strcmp(a, "--store") == 0) {
            if (i + 1 >= argc) return cli_usage_error("executions", "%s needs a value", a);
            if (a[4] == 'a') status = argv[++i];
            else store = argv[++i];
        } else if (strcmp(a, "--json") == 0) json = 1;
        else return cli_usage_error("executions", "unknown argument '%s'", a);
    }
    if (status && !is_status(status))
        return cli_usage_error("executions", "'%s' is not a status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, STOPPED)", status);
    dwf_service *s = NULL;
    if (open_service("executions", store, &s) != 0) return EXIT_INPUT;
    cJSON *all = cJSON_CreateArray(), *q = cJSON_CreateObject();
    int rc = EXIT_INPUT;
    dwf_error err;
    if (!all || !q || !cJSON_AddNumberToObject(q, "MaxItems", 1000)) goto out;
    if (status) {
        cJSON *sts = cJSON_AddArrayToObject(q, "Statuses");
        if (!sts || !cJSON_AddItemToArray(sts, cJSON_CreateString(status))) goto out;
    }
    for (;;) {
        cJSON *page = NULL;
        if (dwf_service_list_executions(s, q, &page, &err) != 0) {
            service_error("executions", &err);
            goto out;
        }
        cJSON *list = cJSON_GetObjectItemCaseSensitive(page, "DurableExecutions");
        cJSON *e;
        while ((e = cJSON_DetachItemFromArray(list, 0)) != NULL) cJSON_AddItemToArray(all, e);
        const char *m = jstr(page, "NextMarker");
        if (m) {
            cJSON_DeleteItemFromObjectCaseSensitive(q, "Marker");
            cJSON_AddStringToObject(q, "Marker", m);
        }
        cJSON_Delete(page);
        if (!m) break;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        if (o && cJSON_AddItemToObject(o, "DurableExecutions", all)) {
            all = NULL;
            print_json(o);
        }
        cJSON_Delete(o);
    } else {
        if (!all->child) printf("no executions in %s\n", store);
        for (cJSON *e = all->child; e; e = e->next) {
            char t[40];
            iso(ts_ms(cJSON_GetObjectItemCaseSensitive(e, "StartTimestamp")), t);
            printf("%-10s %s  %s\n", jstr(e, "Status"), t, jstr(e, "DurableExecutionArn"));
        }
    }
    rc = EXIT_OK;
out:
    cJSON_Delete(all);
    cJSON_Delete(q);
    dwf_service_close(s);
    return rc;
}

int cmd_history(int argc, char **argv)
{
    const char *store = default_store(), *arn = NULL;
    int json = 0, events = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--store") == 0) {
            if (i + 1 >= argc) return cli_usage_error("history", "--store needs a value");
            store = argv[++i];
        } else if (strcmp(a, "--json") == 0) json = 1;
        else if (strcmp(a, "--events") == 0) events = 1;
        else if (a[0] == '-' && a[1]) return cli_usage_error("history", "unknown option '%s'", a);
        else if (arn) return cli_usage_error("history", "one execution at a time");
        else arn = a;
    }
    if (!arn) return cli_usage_error("history", "no execution ARN given");
    dwf_service *s = NULL;
    if (open_service("history", store, &s) != 0) return EXIT_INPUT;
    dwf_error err;
    cJSON *list = NULL;
    int rc = EXIT_INPUT;
    if (events) {
        list = cJSON_CreateArray();
        char marker[32] = "";
        for (;;) {
            cJSON *page = NULL;
            if (dwf_service_get_history(s, arn, 1, 1000, marker[0] ? marker : NULL, 0, &page, &err) != 0) {
                service_error("history", &err);
                cJSON_Delete(list);
                list = NULL;
                goto out;
            }
            cJSON *evs = cJSON_GetObjectItemCaseSensitive(page, "Events"), *e;
            while ((e = cJSON_DetachItemFromArray(evs, 0)) != NULL) cJSON_AddItemToArray(list, e);
            const char *m = jstr(page, "NextMarker");
            snprintf(marker, sizeof marker, "%s", m ? m : "");
            cJSON_Delete(page);
            if (!marker[0]) break;
        }
    } else if (dwf_service_operations(s, arn, &list, &err) != 0) {
        service_error("history", &err);
        goto out;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        if (o && cJSON_AddItemToObject(o, events ? "Events" : "Operations", list)) {
            list = NULL;
            print_json(o);
        }
        cJSON_Delete(o);
    } else if (events) {
        for (cJSON *e = list->child; e; e = e->next) {
            char t[40];
            iso(ts_ms(cJSON_GetObjectItemCaseSensitive(e, "EventTimestamp")), t);
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "EventId");
            printf("%4d  %s  %-24s %s\n", cJSON_IsNumber(id) ? (int)id->valuedouble : 0, t, jstr(e, "EventType"),
                   jstr(e, "Name") ? jstr(e, "Name") : "");
        }
    } else {
        for (cJSON *op = list->child; op; op = op->next) {
            double st = ts_ms(cJSON_GetObjectItemCaseSensitive(op, "StartTimestamp"));
            double en = ts_ms(cJSON_GetObjectItemCaseSensitive(op, "EndTimestamp"));
            char dur[32] = "";
            if (st >= 0 && en >= st) snprintf(dur, sizeof dur, "%.0f ms", en - st);
            const char *nm = jstr(op, "Name");
            printf("%-16s %-14s %-18s %-28s %-9s %s\n", jstr(op, "Id"), jstr(op, "Type"),
                   jstr(op, "SubType") ? jstr(op, "SubType") : "", nm ? nm : "", jstr(op, "Status"), dur);
        }
    }
    rc = EXIT_OK;
out:
    cJSON_Delete(list);
    dwf_service_close(s);
    return rc;
}

/* ---- callback, stop ---------------------------------------------------------------------------------- */
int cmd_callback(int argc, char **argv)
{
    const char *store = default_store(), *action = NULL, *id = NULL, *result = NULL, *error = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--store") == 0 || strcmp(a, "--result") == 0 || strcmp(a, "--error") == 0) {
            if (i + 1 >= argc) return cli_usage_error("callback", "%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 's') store = v;
            else if (a[2] == 'r') result = v;
            else error = v;
        } else if (a[0] == '-' && a[1]) return cli_usage_error("callback", "unknown option '%s'", a);
        else if (!action) action = a;
        else if (!id) id = a;
        else if (!result && !error && action && strcmp(action, "succeed") == 0) result = a;
        else if (!result && !error && action && strcmp(action, "fail") == 0) error = a;
        else return cli_usage_error("callback", "unexpected argument '%s'", a);
    }
    if (!action || (strcmp(action, "succeed") != 0 && strcmp(action, "fail") != 0 && strcmp(action, "heartbeat") != 0))
        return cli_usage_error("callback", "say succeed, fail or heartbeat");
    if (!id) return cli_usage_error("callback", "no callback id given");
    if ((result && strcmp(action, "succeed") != 0) || (error && strcmp(action, "fail") != 0))
        return cli_usage_error("callback", "--result goes with succeed, --error with fail");
    char *text = NULL;
    size_t len = 0;
    cJSON *eo = NULL;
    const char *v = result ? result : error;
    if (v && read_arg("callback", v, &text, &len) != 0) return EXIT_INPUT;
    if (error) {
        eo = parse_json_arg("callback", "--error", text);
        if (!eo || !cJSON_IsObject(eo)) {
            if (eo) fprintf(stderr, "dwf callback: --error must be an ErrorObject {\"ErrorType\",\"ErrorMessage\",...}\n");
            cJSON_Delete(eo);
            free(text);
            return EXIT_INPUT;
        }
    }
    dwf_service *s = NULL;
    int rc = EXIT_INPUT;
    dwf_error err;
    if (open_service("callback", store, &s) != 0) goto out;
    int r = strcmp(action, "succeed") == 0 ? dwf_service_callback_succeed(s, id, text, len, &err)
            : strcmp(action, "fail") == 0  ? dwf_service_callback_fail(s, id, eo, &err)
                                           : dwf_service_callback_heartbeat(s, id, &err);
    if (r != 0) {
        service_error("callback", &err);
        goto out;
    }
    printf("callback %s: ok\n", action);
    rc = EXIT_OK;
out:
    cJSON_Delete(eo);
    free(text);
    dwf_service_close(s);
    return rc;
}

int cmd_stop(int argc, char **argv)
{
    const char *store = default_store(), *arn = NULL, *error = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--store") == 0 || strcmp(a, "--error") == 0) {
            if (i + 1 >= argc) return cli_usage_error("stop", "%s needs a value", a);
            if (a[2] == 's') store = argv[++i];
            else error = argv[++i];
        } else if (a[0] == '-' && a[1]) return cli_usage_error("stop", "unknown option '%s'", a);
        else if (arn) return cli_usage_error("stop", "one execution at a time");
        else arn = a;
    }
    if (!arn) return cli_usage_error("stop", "no execution ARN given");
    cJSON *eo = NULL;
    if (error && (!(eo = parse_json_arg("stop", "--error", error)) || !cJSON_IsObject(eo))) {
        if (eo) fprintf(stderr, "dwf stop: --error must be an ErrorObject\n");
        cJSON_Delete(eo);
        return EXIT_INPUT;
    }
    dwf_service *s = NULL;
    cJSON *out = NULL;
    dwf_error err;
    int rc = EXIT_INPUT;
    if (open_service("stop", store, &s) != 0) goto done;
    if (dwf_service_stop(s, arn, eo, &out, &err) != 0) {
        service_error("stop", &err);
        goto done;
    }
    char t[40];
    iso(ts_ms(cJSON_GetObjectItemCaseSensitive(out, "StopTimestamp")), t);
    printf("stopped at %s\n", t);
    rc = EXIT_OK;
done:
    cJSON_Delete(out);
    cJSON_Delete(eo);
    dwf_service_close(s);
    return rc;
}

/* ---- resume, worker --------------------------------------------------------------------------------- */
static int drive_all(dwf_service *s, const char *arn, int skip, int quiet, const char *cmd)
{
    HandlerSet set = {.svc = s};
    Progress prog = {isatty(STDOUT_FILENO), !quiet, cJSON_CreateObject(), stdout};
    dwf_engine_opts eo = {.resolve = handler_resolve, .resolve_arg = &set, .skip_time = skip, .no_wait = 1,
                          .quiet = quiet, .stale_ms = 30000, .on_operation = progress_op,
                          .on_invocation = progress_invocation, .progress_arg = &prog, .stop = &stop_flag};
    dwf_error err = {"ServiceException", "out of memory"};
    int r = prog.seen ? dwf_engine_drive(s, arn, &eo, &err) : -1;
    handler_set_free(&set);
    cJSON_Delete(prog.seen);
    return r < 0 ? service_error(cmd, &err) : EXIT_OK;
}

int cmd_resume(int argc, char **argv)
{
    const char *store = default_store(), *arn = NULL;
    int skip = 0, quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--store") == 0) {
            if (i + 1 >= argc) return cli_usage_error("resume", "--store needs a value");
            store = argv[++i];
        } else if (strcmp(a, "--skip-time") == 0) skip = 1;
        else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) quiet = 1;
        else if (a[0] == '-' && a[1]) return cli_usage_error("resume", "unknown option '%s'", a);
        else if (arn) return cli_usage_error("resume", "one execution at a time");
        else arn = a;
    }
    dwf_service *s = NULL;
    if (open_service("resume", store, &s) != 0) return EXIT_INPUT;
    dwf_error err;
    cJSON *x = NULL;
    char root[1024] = "";
    int rc = EXIT_INPUT;
    if (arn) {
        if (dwf_service_get_execution(s, arn, 0, &x, &err) != 0) {
            service_error("resume", &err);
            goto out;
        }
        snprintf(root, sizeof root, "%s", jstr(x, "DurableExecutionArn"));
        cJSON_Delete(x);
        x = NULL;
    }
    catch_signals();
    rc = drive_all(s, arn ? root : NULL, skip, quiet, "resume");
    if (rc == EXIT_OK && arn) {
        if (dwf_service_get_execution(s, root, 1, &x, &err) != 0) {
            rc = service_error("resume", &err);
            goto out;
        }
        printf("%s %s\n", jstr(x, "Status"), root);
        const char *res = jstr(x, "Result");
        if (res) puts(res);
    }
out:
    cJSON_Delete(x);
    dwf_service_close(s);
    return rc;
}

int cmd_worker(int argc, char **argv)
{
    const char *store = default_store();
    int skip = 0, quiet = 0;
    long interval = 500;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--store") == 0 || strcmp(a, "--interval") == 0) {
            if (i + 1 >= argc) return cli_usage_error("worker", "%s needs a value", a);
            const char *v = argv[++i];
            if (a[2] == 's') store = v;
            else {
                char *end;
                interval = strtol(v, &end, 10);
                if (*end || interval < 10) return cli_usage_error("worker", "--interval takes milliseconds >= 10");
            }
        } else if (strcmp(a, "--skip-time") == 0) skip = 1;
        else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) quiet = 1;
        else return cli_usage_error("worker", "unknown argument '%s'", a);
    }
    dwf_service *s = NULL;
    if (open_service("worker", store, &s) != 0) return EXIT_INPUT;
    catch_signals();
    int rc = EXIT_OK;
    while (!stop_flag) {
        if ((rc = drive_all(s, NULL, skip, quiet, "worker")) != EXIT_OK) break;
        struct timespec ts = {interval / 1000, (interval % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    dwf_service_close(s);
    return rc;
}
