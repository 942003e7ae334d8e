/*
 * history.c: `dwf history`, one execution's operations (the Operation shape of
 * GetDurableExecutionState) or, with --events, its history events (the shape of
 * GetDurableExecutionHistory), as a table or as JSON. Events come in pages of at most 1000;
 * the command follows NextMarker to the end.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "engine_common.h"

const char *const usage_history =
    "usage: dwf history ARN [--events] [--json] [--store PATH]\n"
    "\n"
    "Show the operations of an execution (the Operation shape of GetDurableExecutionState),\n"
    "or with --events its history events (the shape of GetDurableExecutionHistory). ARN may\n"
    "also be the execution id.\n";

enum { OPT_STORE = 1, OPT_JSON, OPT_EVENTS };
static const CliOption options[] = {
    {"store", 0, CLI_VALUE, OPT_STORE},
    {"json", 0, CLI_FLAG, OPT_JSON},
    {"events", 0, CLI_FLAG, OPT_EVENTS},
    {0},
};

/* Every history event of the execution, all pages, as a new array in *list. */
static int all_events(dwf_service *s, const char *arn, cJSON **list)
{
    dwf_error err;
    char marker[32] = "";
    *list = cJSON_CreateArray();
    while (*list) {
        cJSON *page = NULL;
        if (dwf_service_get_history(s, arn, 1, 1000, marker[0] ? marker : NULL, 0, &page, &err) != 0) {
            cJSON_Delete(*list);
            *list = NULL;
            return ec_service_error("history", &err);
        }
        cJSON *evs = cJSON_GetObjectItemCaseSensitive(page, "Events"), *e;
        while ((e = cJSON_DetachItemFromArray(evs, 0)) != NULL) cJSON_AddItemToArray(*list, e);
        const char *m = ec_str(page, "NextMarker");
        snprintf(marker, sizeof marker, "%s", m ? m : "");
        cJSON_Delete(page);
        if (!marker[0]) return 0;
    }
    return EXIT_INPUT;
}

static void print_events(const cJSON *list)
{
    for (const cJSON *e = list->child; e; e = e->next) {
        char t[40];
        ec_iso(ec_ts_ms(cJSON_GetObjectItemCaseSensitive(e, "EventTimestamp")), t);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "EventId");
        printf("%4d  %s  %-24s %s\n", cJSON_IsNumber(id) ? (int)id->valuedouble : 0, t, ec_str(e, "EventType"),
               ec_str(e, "Name") ? ec_str(e, "Name") : "");
    }
}

static void print_operations(const cJSON *list)
{
    for (const cJSON *op = list->child; op; op = op->next) {
        double st = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(op, "StartTimestamp"));
        double en = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(op, "EndTimestamp"));
        char dur[32] = "";
        if (st >= 0 && en >= st) snprintf(dur, sizeof dur, "%.0f ms", en - st);
        const char *nm = ec_str(op, "Name");
        printf("%-16s %-14s %-18s %-28s %-9s %s\n", ec_str(op, "Id"), ec_str(op, "Type"),
               ec_str(op, "SubType") ? ec_str(op, "SubType") : "", nm ? nm : "", ec_str(op, "Status"), dur);
    }
}

int cmd_history(int argc, char **argv)
{
    const char *store = ec_default_store(), *arn = NULL;
    int json = 0, events = 0, opt;
    CliArgs a;
    cli_args_init(&a, "history", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_STORE: store = a.value; break;
        case OPT_JSON: json = 1; break;
        case OPT_EVENTS: events = 1; break;
        case CLI_ARGUMENT:
            if (arn) return cli_usage_error("history", "one execution at a time");
            arn = a.value;
            break;
        default: return EXIT_USAGE;
        }
    }
    if (!arn) return cli_usage_error("history", "no execution ARN given");
    dwf_service *s = NULL;
    if (ec_open_service("history", store, &s) != 0) return EXIT_INPUT;
    dwf_error err;
    cJSON *list = NULL;
    int rc = EXIT_INPUT;
    if (events) {
        if (all_events(s, arn, &list) != 0) goto out;
    } else if (dwf_service_operations(s, arn, &list, &err) != 0) {
        ec_service_error("history", &err);
        goto out;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        if (o && cJSON_AddItemToObject(o, events ? "Events" : "Operations", list)) {
            list = NULL;
            ec_print_json(o);
        }
        cJSON_Delete(o);
    } else if (events) {
        print_events(list);
    } else {
        print_operations(list);
    }
    rc = EXIT_OK;
out:
    cJSON_Delete(list);
    dwf_service_close(s);
    return rc;
}
