/*
 * history.c: `dwf history`, one execution's operations (the Operation shape of
 * GetDurableExecutionState) or, with --events, its history events (the shape of
 * GetDurableExecutionHistory), as a table or as JSON; or, with --format tree|timeline|svg,
 * pictures of it (history_views.h): the operations nested under their parents, and a Gantt
 * chart of where the time went. Events come in pages of at most 1000; the command follows
 * NextMarker to the end. --file draws an execution exported as JSON instead (`dwf history
 * --json` merged with `--events --json`, or the same shapes from AWS), so executions that ran
 * elsewhere can be looked at the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "engine_common.h"
#include "history_views.h"
#include "input.h"

const char *const usage_history =
    "usage: dwf history ARN [--format table|tree|timeline|svg] [--events] [--json]\n"
    "                   [--width N] [--store PATH]\n"
    "       dwf history --file EXPORT.json [--format ...]\n"
    "\n"
    "Show the operations of an execution (the Operation shape of GetDurableExecutionState),\n"
    "or with --events its history events (the shape of GetDurableExecutionHistory). ARN may\n"
    "also be the execution id.\n"
    "\n"
    "formats:\n"
    "  table      one line per operation, in start order (the default)\n"
    "  tree       operations nested under their parents (ParentId): a map's items under the\n"
    "             map, a branch's steps under the branch; status, attempts, duration, error\n"
    "  timeline   a Gantt chart in text: one row per operation, nested; step attempts and\n"
    "             invocations as bars, retry delays, waits and callbacks as the gaps they are,\n"
    "             parallel branches side by side in time; then where the time went\n"
    "  svg        the same chart as a self-contained SVG document (dwf history ARN --format\n"
    "             svg > run.svg)\n"
    "\n"
    "options:\n"
    "  --json       table: the API shapes ({\"Operations\"} or {\"Events\"}); tree and timeline:\n"
    "               the computed rows {\"Start\",\"End\",\"Rows\":[{\"Id\",\"Depth\",\"Start\",\"End\",\n"
    "               \"Segments\":[{\"Kind\",\"Start\",\"End\"}],...}]} (epoch seconds)\n"
    "  --width N    the timeline's width in columns (default: the terminal's, else 120)\n"
    "  --file F     read {\"Operations\":[...],\"Events\":[...]} from F (\"Events\" optional;\n"
    "               - is stdin) instead of the store\n"
    "  --store PATH the store (default $DWF_STORE or .dwf/dwf.db)\n";

enum { OPT_STORE = 1, OPT_JSON, OPT_EVENTS, OPT_FORMAT, OPT_WIDTH, OPT_FILE };
static const CliOption options[] = {
    {"store", 0, CLI_VALUE, OPT_STORE},
    {"json", 0, CLI_FLAG, OPT_JSON},
    {"events", 0, CLI_FLAG, OPT_EVENTS},
    {"format", 0, CLI_VALUE, OPT_FORMAT},
    {"width", 0, CLI_VALUE, OPT_WIDTH},
    {"file", 0, CLI_VALUE, OPT_FILE},
    {0},
};

enum { FMT_TABLE, FMT_TREE, FMT_TIMELINE, FMT_SVG };

typedef struct HistoryArgs {
    const char *store, *arn, *file;
    int json, events, format, width;
} HistoryArgs;

/* An exported execution for --file: a few MB for thousands of operations; far more is not one. */
enum { EXPORT_LIMIT = 256 << 20 };

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

/* Names, types and statuses are data: printed with control characters replaced. */
static const char *safe(const char *s, char *buf, size_t n)
{
    size_t k = 0;
    for (; s && *s && k + 1 < n; s++) buf[k++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
    buf[k] = '\0';
    return buf;
}

static void print_events(const cJSON *list)
{
    char nm[256];
    for (const cJSON *e = list->child; e; e = e->next) {
        char t[40];
        ec_iso(ec_ts_ms(cJSON_GetObjectItemCaseSensitive(e, "EventTimestamp")), t);
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "EventId");
        printf("%4d  %s  %-24s %s\n", cJSON_IsNumber(id) ? (int)id->valuedouble : 0, t, ec_str(e, "EventType"),
               safe(ec_str(e, "Name"), nm, sizeof nm));
    }
}

static void print_operations(const cJSON *list)
{
    char nm[256];
    for (const cJSON *op = list->child; op; op = op->next) {
        double st = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(op, "StartTimestamp"));
        double en = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(op, "EndTimestamp"));
        char dur[32] = "";
        if (st >= 0 && en >= st) snprintf(dur, sizeof dur, "%.0f ms", en - st);
        printf("%-16s %-14s %-18s %-28s %-9s %s\n", ec_str(op, "Id"), ec_str(op, "Type"),
               ec_str(op, "SubType") ? ec_str(op, "SubType") : "", safe(ec_str(op, "Name"), nm, sizeof nm),
               ec_str(op, "Status"), dur);
    }
}

static int parse(int argc, char **argv, HistoryArgs *h)
{
    static const char *const formats[] = {"table", "tree", "timeline", "svg"};
    *h = (HistoryArgs){.store = ec_default_store(), .format = FMT_TABLE};
    CliArgs a;
    int opt;
    cli_args_init(&a, "history", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_STORE: h->store = a.value; break;
        case OPT_JSON: h->json = 1; break;
        case OPT_EVENTS: h->events = 1; break;
        case OPT_FILE: h->file = a.value; break;
        case OPT_WIDTH:
            h->width = atoi(a.value);
            if (h->width < 40 || h->width > 1000 || strspn(a.value, "0123456789") != strlen(a.value))
                return cli_usage_error("history", "--width takes columns from 40 to 1000, not '%s'", a.value);
            break;
        case OPT_FORMAT:
            h->format = -1;
            for (int i = 0; i < 4; i++)
                if (strcmp(a.value, formats[i]) == 0) h->format = i;
            if (h->format < 0)
                return cli_usage_error("history", "--format takes table, tree, timeline or svg, not '%s'",
                                       a.value);
            break;
        case CLI_ARGUMENT:
            if (h->arn) return cli_usage_error("history", "one execution at a time");
            h->arn = a.value;
            break;
        default: return EXIT_USAGE;
        }
    }
    if (!h->arn && !h->file) return cli_usage_error("history", "no execution ARN given");
    if (h->arn && h->file) return cli_usage_error("history", "an ARN or --file, not both");
    if (h->format == FMT_SVG && h->json)
        return cli_usage_error("history", "--json does not go with --format svg");
    if (h->format != FMT_TABLE && h->events)
        return cli_usage_error("history", "--events goes with the table format (the pictures read "
                                          "them anyway)");
    if (h->file && h->format == FMT_TABLE)
        return cli_usage_error("history", "--file draws: give --format tree, timeline or svg");
    return EXIT_OK;
}

/* The latest instant an exported execution mentions: where its open operations end. */
static double latest(const cJSON *ops, const cJSON *events)
{
    double t = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, ops)
    {
        double s = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(o, "StartTimestamp"));
        double e = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(o, "EndTimestamp"));
        if (s > t) t = s;
        if (e > t) t = e;
    }
    cJSON_ArrayForEach(o, events)
    {
        double e = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(o, "EventTimestamp"));
        if (e > t) t = e;
    }
    return t;
}

/* The picture the user asked for, from the operations and events. */
static int draw(const HistoryArgs *h, const cJSON *ops, const cJSON *events, double now, const char *title)
{
    HvExec x;
    char err[128];
    if (hv_build(&x, ops, events, now, err, sizeof err) != 0) {
        fprintf(stderr, "dwf history: %s\n", err);
        return EXIT_INPUT;
    }
    x.title = title;
    x.arn = h->arn;
    if (h->json) {
        cJSON *j = hv_json(&x);
        if (j) ec_print_json(j);
        else fprintf(stderr, "dwf history: out of memory\n");
        cJSON_Delete(j);
    } else if (h->format == FMT_TREE) {
        hv_print_tree(&x, stdout);
    } else if (h->format == FMT_TIMELINE) {
        struct winsize ws;
        int width = h->width ? h->width : 120;
        if (!h->width && isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
            width = ws.ws_col;
        hv_print_timeline(&x, stdout, width);
    } else {
        hv_print_svg(&x, stdout);
    }
    hv_free(&x);
    return EXIT_OK;
}

static int from_file(const HistoryArgs *h)
{
    char *text = NULL;
    size_t len = 0;
    int r = strcmp(h->file, "-") == 0 ? dwf__read_bounded(stdin, EXPORT_LIMIT, &text, &len)
                                      : dwf__read_file_bounded(h->file, EXPORT_LIMIT, &text, &len);
    if (r == 1) {
        fprintf(stderr, "dwf history: %s is larger than %d bytes: not an exported execution\n", h->file,
                EXPORT_LIMIT);
        return EXIT_INPUT;
    }
    if (r != 0) {
        fprintf(stderr, "dwf history: cannot read %s: %s\n", h->file, strerror(errno));
        return EXIT_INPUT;
    }
    cJSON *j = ec_parse_json_arg("history", h->file, text, len);
    free(text);
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(j, "Operations");
    const cJSON *events = cJSON_GetObjectItemCaseSensitive(j, "Events");
    int rc = EXIT_INPUT;
    if (j && !cJSON_IsArray(ops))
        fprintf(stderr, "dwf history: %s has no \"Operations\" list (dwf history ARN --json writes one)\n",
                h->file);
    else if (j)
        rc = draw(h, ops, cJSON_IsArray(events) ? events : NULL, latest(ops, events), h->file);
    cJSON_Delete(j);
    return rc;
}

/* "FUNCTION / NAME" for the pictures' titles. */
static void title_of(dwf_service *s, const char *arn, char *out, size_t n)
{
    cJSON *x = NULL;
    dwf_error err;
    char fn[256] = "", nm[200];
    snprintf(out, n, "%s", arn);
    if (dwf_service_get_execution(s, arn, 0, &x, &err) != 0) return;
    const char *a = ec_str(x, "DurableExecutionArn");
    if (a && dwf_service_function_of(a, fn) == 0)
        snprintf(out, n, "%s / %s", fn, safe(ec_str(x, "DurableExecutionName"), nm, sizeof nm));
    cJSON_Delete(x);
}

int cmd_history(int argc, char **argv)
{
    HistoryArgs h;
    int rc = parse(argc, argv, &h);
    if (rc != EXIT_OK) return rc;
    if (h.file) return from_file(&h);
    dwf_service *s = NULL;
    if (ec_open_service("history", h.store, &s) != 0) return EXIT_INPUT;
    dwf_error err;
    cJSON *list = NULL, *events = NULL;
    rc = EXIT_INPUT;
    if (h.events || h.format != FMT_TABLE) {
        if (all_events(s, h.arn, &events) != 0) goto out;
    }
    if ((!h.events || h.format != FMT_TABLE) && dwf_service_operations(s, h.arn, &list, &err) != 0) {
        ec_service_error("history", &err);
        goto out;
    }
    if (h.format != FMT_TABLE) {
        char title[600];
        title_of(s, h.arn, title, sizeof title);
        rc = draw(&h, list, events, dwf_service_now_of(s, h.arn), title); /* on the execution's clock */
        goto out;
    }
    if (h.events) {
        list = events;
        events = NULL;
    }
    if (h.json) {
        cJSON *o = cJSON_CreateObject();
        if (o && cJSON_AddItemToObject(o, h.events ? "Events" : "Operations", list)) {
            list = NULL;
            ec_print_json(o);
        }
        cJSON_Delete(o);
    } else if (h.events) {
        print_events(list);
    } else {
        print_operations(list);
    }
    rc = EXIT_OK;
out:
    cJSON_Delete(list);
    cJSON_Delete(events);
    dwf_service_close(s);
    return rc;
}
