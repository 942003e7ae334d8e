/*
 * executions.c: `dwf executions`, the executions in the local store, oldest first, as a table
 * or in the ListDurableExecutionsByFunction shape. The service pages its answers (at most 1000
 * a page); the command follows NextMarker so the user sees them all.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "engine_common.h"

const char *const usage_executions =
    "usage: dwf executions [--status STATUS] [--json] [--store PATH]\n"
    "\n"
    "List the executions in the store, oldest first. --status keeps one status (RUNNING,\n"
    "SUCCEEDED, FAILED, TIMED_OUT, STOPPED); --json prints the ListDurableExecutionsByFunction\n"
    "shape {\"DurableExecutions\":[...]}.\n";

enum { OPT_STATUS = 1, OPT_JSON, OPT_STORE };
static const CliOption options[] = {
    {"status", 0, CLI_VALUE, OPT_STATUS},
    {"json", 0, CLI_FLAG, OPT_JSON},
    {"store", 0, CLI_VALUE, OPT_STORE},
    {0},
};

static int is_status(const char *s)
{
    static const char *const st[] = {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++)
        if (strcmp(s, st[i]) == 0) return 1;
    return 0;
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

/* As a table, or as JSON (which takes *all over). */
static void print_executions(cJSON **all, int json, const char *store)
{
    if (json) {
        cJSON *o = cJSON_CreateObject();
        if (o && cJSON_AddItemToObject(o, "DurableExecutions", *all)) {
            *all = NULL;
            ec_print_json(o);
        }
        cJSON_Delete(o);
        return;
    }
    if (!(*all)->child) printf("no executions in %s\n", store);
    for (cJSON *e = (*all)->child; e; e = e->next) {
        char t[40];
        ec_iso(ec_ts_ms(cJSON_GetObjectItemCaseSensitive(e, "StartTimestamp")), t);
        printf("%-10s %s  %s\n", ec_str(e, "Status"), t, ec_str(e, "DurableExecutionArn"));
    }
}

int cmd_executions(int argc, char **argv)
{
    const char *store = ec_default_store(), *status = NULL;
    int json = 0, opt;
    CliArgs a;
    cli_args_init(&a, "executions", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_STATUS: status = a.value; break;
        case OPT_JSON: json = 1; break;
        case OPT_STORE: store = a.value; break;
        case CLI_ARGUMENT: return cli_usage_error("executions", "unexpected argument '%s'", a.value);
        default: return EXIT_USAGE;
        }
    }
    if (status && !is_status(status))
        return cli_usage_error("executions",
                               "'%s' is not a status (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, STOPPED)", status);
    dwf_service *s = NULL;
    if (ec_open_service("executions", store, &s) != 0) return EXIT_INPUT;
    cJSON *all = cJSON_CreateArray(), *q = cJSON_CreateObject(), *sts = NULL;
    int rc = EXIT_INPUT;
    if (!all || !q || !cJSON_AddNumberToObject(q, "MaxItems", 1000)) goto out;
    if (status && (!(sts = cJSON_AddArrayToObject(q, "Statuses")) ||
                   !cJSON_AddItemToArray(sts, cJSON_CreateString(status))))
        goto out;
    if (list_all(s, q, all) != 0) goto out;
    print_executions(&all, json, store);
    rc = EXIT_OK;
out:
    cJSON_Delete(all);
    cJSON_Delete(q);
    dwf_service_close(s);
    return rc;
}
