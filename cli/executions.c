/*
 * executions.c: `dwf executions`, the executions in the local store, oldest first, as a table
 * (status, start, duration, function, error type, ARN) or in the ListDurableExecutionsByFunction
 * shape. The service pages its answers (at most 1000 a page); the command follows NextMarker
 * so the user sees them all. The list holds no errors (neither does AWS's), so the error type
 * of each execution that ended badly is read with GetDurableExecution. The ARN is the last
 * column, whole, so scripts can take it with awk '{print $NF}'.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "engine_common.h"
#include "history_views.h"

const char *const usage_executions =
    "usage: dwf executions [--status STATUS[,STATUS...]]... [--function NAME] [--json]\n"
    "                      [--store PATH]\n"
    "\n"
    "List the executions in the store, oldest first: status, start, duration (so far, while\n"
    "RUNNING), function, error type (of those that ended badly) and ARN.\n"
    "\n"
    "options:\n"
    "  --status S   keep these statuses (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, STOPPED);\n"
    "               repeat it or separate them with commas\n"
    "  --function F keep the executions of one function (its name, as `dwf run` printed it)\n"
    "  --json       the ListDurableExecutionsByFunction shape {\"DurableExecutions\":[...]}\n"
    "  --store PATH the store (default $DWF_STORE or .dwf/dwf.db)\n";

enum { OPT_STATUS = 1, OPT_JSON, OPT_STORE, OPT_FUNCTION };
static const CliOption options[] = {
    {"status", 0, CLI_VALUE, OPT_STATUS},
    {"json", 0, CLI_FLAG, OPT_JSON},
    {"store", 0, CLI_VALUE, OPT_STORE},
    {"function", 0, CLI_VALUE, OPT_FUNCTION},
    {0},
};

static int is_status(const char *s, size_t n)
{
    static const char *const st[] = {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
        if (strlen(st[i]) == n && strncmp(s, st[i], n) == 0) return 1;
    return 0;
}

/* --status A,B: each status into the query's Statuses. */
static int add_statuses(cJSON *statuses, const char *v)
{
    for (const char *p = v;; p += strcspn(p, ",") + 1) {
        size_t n = strcspn(p, ",");
        char one[16];
        if (!is_status(p, n))
            return cli_usage_error("executions", "'%.*s' is not a status (RUNNING, SUCCEEDED, FAILED, "
                                                 "TIMED_OUT, STOPPED)", (int)n, p);
        snprintf(one, sizeof one, "%.*s", (int)n, p);
        if (!cJSON_AddItemToArray(statuses, cJSON_CreateString(one)))
            return cli_usage_error("executions", "out of memory");
        if (!p[n]) return EXIT_OK;
    }
}

/* Every execution matching q, all pages, into the array `all`. */
static int list_all(dwf_service *s, cJSON *q, cJSON *all)
{
    dwf_error err;
    for (;;) {
        cJSON *page = NULL;
        if (dwf_service_list_executions(s, q, &page, &err) != 0)
            return ec_service_error("executions", &err);
        cJSON *list = cJSON_GetObjectItemCaseSensitive(page, "DurableExecutions");
        cJSON *e;
        while ((e = cJSON_DetachItemFromArray(list, 0)) != NULL) cJSON_AddItemToArray(all, e);
        const char *m = ec_str(page, "NextMarker");
        if (m) {
            cJSON_DeleteItemFromObjectCaseSensitive(q, "Marker");
            cJSON_AddStringToObject(q, "Marker", m);
        }
        cJSON_Delete(page);
        if (!m) return 0;
    }
}

/* The ErrorType of an execution that ended badly, else "-". */
static void error_type(dwf_service *s, const cJSON *e, char *out, size_t n)
{
    const char *st = ec_str(e, "Status"), *arn = ec_str(e, "DurableExecutionArn");
    snprintf(out, n, "-");
    if (!st || !arn || strcmp(st, "SUCCEEDED") == 0 || strcmp(st, "RUNNING") == 0) return;
    cJSON *x = NULL;
    dwf_error err;
    if (dwf_service_get_execution(s, arn, 1, &x, &err) != 0) return;
    const char *t = ec_str(cJSON_GetObjectItemCaseSensitive(x, "Error"), "ErrorType");
    if (t && *t) snprintf(out, n, "%s", t);
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == ' ') *p = '?'; /* one word, no escapes */
    cJSON_Delete(x);
}

static void print_table(dwf_service *s, const cJSON *all, const char *store, int filtered)
{
    if (!all->child) {
        printf("no executions%s in %s\n", filtered ? " match" : "", store);
        return;
    }
    if (isatty(STDOUT_FILENO))
        printf("%-10s %-20s %10s  %-24s %-24s %s\n", "STATUS", "STARTED", "DURATION", "FUNCTION", "ERROR",
               "EXECUTION");
    for (const cJSON *e = all->child; e; e = e->next) {
        char t[40], dur[40], fn[256] = "?", et[128];
        const char *arn = ec_str(e, "DurableExecutionArn");
        double st = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(e, "StartTimestamp"));
        double en = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(e, "EndTimestamp"));
        ec_iso(st, t);
        /* so far: on the execution's own clock, the one its timestamps are on (--skip-time moves it) */
        double now = en >= 0 || !arn ? en : dwf_service_now_of(s, arn);
        hv_duration((en >= 0 ? en : now) - st, dur, sizeof dur);
        if (arn && dwf_service_function_of(arn, fn) != 0) snprintf(fn, sizeof fn, "?");
        error_type(s, e, et, sizeof et);
        printf("%-10s %-20s %10s  %-24s %-24s %s\n", ec_str(e, "Status"), t, dur, fn, et, arn ? arn : "?");
    }
}

int cmd_executions(int argc, char **argv)
{
    const char *store = ec_default_store(), *function = NULL;
    int json = 0, opt;
    cJSON *all = cJSON_CreateArray(), *q = cJSON_CreateObject();
    cJSON *sts = q ? cJSON_AddArrayToObject(q, "Statuses") : NULL;
    dwf_service *s = NULL;
    int rc = EXIT_INPUT;
    if (!all || !q || !sts || !cJSON_AddNumberToObject(q, "MaxItems", 1000)) {
        fprintf(stderr, "dwf executions: out of memory\n");
        goto out;
    }
    CliArgs a;
    cli_args_init(&a, "executions", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_STATUS: rc = add_statuses(sts, a.value); break;
        case OPT_JSON: json = 1; break;
        case OPT_STORE: store = a.value; break;
        case OPT_FUNCTION: function = a.value; break;
        case CLI_ARGUMENT: rc = cli_usage_error("executions", "unexpected argument '%s'", a.value); break;
        default: rc = EXIT_USAGE; break;
        }
        if (rc == EXIT_USAGE) goto out;
    }
    rc = EXIT_INPUT;
    if (!sts->child) cJSON_DeleteItemFromObjectCaseSensitive(q, "Statuses");
    if (function && !cJSON_AddStringToObject(q, "FunctionName", function)) goto out;
    if (ec_open_service("executions", store, &s) != 0 || list_all(s, q, all) != 0) goto out;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        if (o && cJSON_AddItemToObject(o, "DurableExecutions", all)) {
            all = NULL;
            ec_print_json(o);
        }
        cJSON_Delete(o);
    } else {
        print_table(s, all, store, function || cJSON_GetObjectItemCaseSensitive(q, "Statuses"));
    }
    rc = EXIT_OK;
out:
    cJSON_Delete(all);
    cJSON_Delete(q);
    dwf_service_close(s);
    return rc;
}
