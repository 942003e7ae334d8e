/*
 * pages.c: the console's pages and the actions of its forms.
 *
 *   GET  /console/                 the executions: newest first, filters by status and function, pages of 25
 *   GET  /console/execution?arn=   one execution: summary, stop button, the callbacks that wait (forms),
 *                                  the workflow graph (graph.c), the timeline, every operation
 *   POST /console/callback         succeed / fail / heartbeat a callback (the service calls of `dwf callback`)
 *   POST /console/stop             stop an execution (the service call of `dwf stop`)
 *
 * Every value from the store goes through cs_text or cs_url (html.h); the only markup is the
 * console's own. The live part of an execution's page (cs_execution_live) is what its event
 * stream makes the script fetch again; without the script, reloading the page shows the same.
 */
#include "cs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dwf_protocol.h"

#define PAGE_SIZE 25
#define PAYLOAD_SHOWN (64 * 1024) /* a payload longer than this is cut, with its length said */
#define HISTORY_PAGES 20          /* events read for one page: at most 20 x 1000 */

/* ---- small pieces ------------------------------------------------------------------------------ */

static const char *str_of(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static double num_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

/* Epoch seconds as "2026-12-05 05:22:32Z", or "-". */
static void put_time(cs_buf *b, double s)
{
    if (isnan(s)) {
        cs_puts(b, "-");
        return;
    }
    time_t t = (time_t)s;
    struct tm tm;
    char out[40];
    gmtime_r(&t, &tm);
    strftime(out, sizeof out, "%Y-%m-%d %H:%M:%SZ", &tm);
    cs_puts(b, out);
}

static void put_duration(cs_buf *b, double ms)
{
    if (isnan(ms) || ms < 0) cs_puts(b, "-");
    else if (ms < 1000) cs_printf(b, "%.0f ms", ms);
    else if (ms < 60000) cs_printf(b, "%.2f s", ms / 1000);
    else if (ms < 3600000) cs_printf(b, "%d min %d s", (int)(ms / 60000), (int)fmod(ms / 1000, 60));
    else if (ms < 86400000) cs_printf(b, "%d h %d min", (int)(ms / 3600000), (int)fmod(ms / 60000, 60));
    else cs_printf(b, "%d d %d h", (int)(ms / 86400000), (int)fmod(ms / 3600000, 24));
}

const char *cs_status_class(const char *status)
{
    if (!status) return "idle";
    if (strcmp(status, "SUCCEEDED") == 0) return "ok";
    if (strcmp(status, "RUNNING") == 0 || strcmp(status, "STARTED") == 0 || strcmp(status, "PENDING") == 0 ||
        strcmp(status, "READY") == 0)
        return "run";
    if (strcmp(status, "FAILED") == 0 || strcmp(status, "TIMED_OUT") == 0 || strcmp(status, "STOPPED") == 0)
        return "bad";
    return "idle"; /* CANCELLED */
}

static void put_status(cs_buf *b, const char *status)
{
    cs_printf(b, "<span class=\"status s-%s\">", cs_status_class(status));
    cs_text(b, status ? status : "-");
    cs_puts(b, "</span>");
}

static void put_exec_href(cs_buf *b, const char *arn)
{
    cs_puts(b, DWF_CONSOLE_PREFIX "/execution?arn=");
    cs_url(b, arn);
}

/* A payload as the API holds it (text): pretty-printed when it is JSON, cut past PAYLOAD_SHOWN. */
static void put_payload(cs_buf *b, const char *title, const char *text)
{
    if (!text) return;
    cs_puts(b, "<div class=\"payload\"><h4>");
    cs_text(b, title);
    cs_puts(b, "</h4><pre>");
    cJSON *j = cJSON_Parse(text);
    char *pretty = j ? cJSON_Print(j) : NULL;
    const char *shown = pretty ? pretty : text;
    size_t len = strlen(shown);
    cs_textn(b, shown, len > PAYLOAD_SHOWN ? PAYLOAD_SHOWN : len);
    if (len > PAYLOAD_SHOWN) cs_printf(b, "\n... (%zu bytes in all)", len);
    cs_puts(b, "</pre></div>");
    free(pretty);
    cJSON_Delete(j);
}

/* An ErrorObject: type, message, data, stack trace; a `cause` / `Cause` inside its data
 * (the SDK's nested errors) is drawn below it, as the next link of the chain. */
static void put_error_object(cs_buf *b, const cJSON *e, int depth)
{
    if (!cJSON_IsObject(e) || depth > 16) return;
    cs_puts(b, "<div class=\"error\"><span class=\"etype\">");
    cs_text(b, str_of(e, "ErrorType") ? str_of(e, "ErrorType") : "(no type)");
    cs_puts(b, "</span> <span class=\"emsg\">");
    cs_text(b, str_of(e, "ErrorMessage"));
    cs_puts(b, "</span>");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(e, "ErrorData");
    cJSON *parsed = cJSON_IsString(data) ? cJSON_Parse(data->valuestring) : NULL;
    if (cJSON_IsString(data)) put_payload(b, "ErrorData", data->valuestring);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(e, "StackTrace");
    if (cJSON_IsArray(st) && cJSON_GetArraySize(st) > 0) {
        cs_puts(b, "<details><summary>stack trace</summary><pre>");
        for (const cJSON *l = st->child; l; l = l->next) {
            cs_text(b, cJSON_GetStringValue(l));
            cs_puts(b, "\n");
        }
        cs_puts(b, "</pre></details>");
    }
    const cJSON *cause = cJSON_GetObjectItemCaseSensitive(parsed, "cause");
    if (!cause) cause = cJSON_GetObjectItemCaseSensitive(parsed, "Cause");
    if (cJSON_IsObject(cause)) {
        cs_puts(b, "<div class=\"cause\">caused by ");
        put_error_object(b, cause, depth + 1);
        cs_puts(b, "</div>");
    }
    cJSON_Delete(parsed);
    cs_puts(b, "</div>");
}

/* The Details member of an operation ("StepDetails", ...), whichever it has. */
static const cJSON *details_of(const cJSON *op)
{
    static const char *const names[] = {"StepDetails", "CallbackDetails", "ContextDetails", "ChainedInvokeDetails",
                                        "WaitDetails", "ExecutionDetails"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(op, names[i]);
        if (d) return d;
    }
    return NULL;
}

static const cJSON *find_op(const cJSON *ops, const char *id)
{
    for (const cJSON *o = ops ? ops->child : NULL; o; o = o->next)
        if (id && str_of(o, "Id") && strcmp(str_of(o, "Id"), id) == 0) return o;
    return NULL;
}

static int failed(const char *status)
{
    return status && (strcmp(status, "FAILED") == 0 || strcmp(status, "TIMED_OUT") == 0 ||
                      strcmp(status, "STOPPED") == 0);
}

/* The error chain below a failed operation: its own error, then the first failed child's, down
 * to the operation that started it (a map's ChildContextError -> StepError -> CardDeclined). */
static void put_error_chain(cs_buf *b, const cJSON *ops, const cJSON *op, int depth)
{
    const cJSON *d = details_of(op);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(d, "Error");
    if (e) put_error_object(b, e, 0);
    if (depth > 32) return;
    const char *id = str_of(op, "Id");
    for (const cJSON *c = ops ? ops->child : NULL; c; c = c->next) {
        const char *pid = str_of(c, "ParentId");
        if (!pid || !id || strcmp(pid, id) != 0 || !failed(str_of(c, "Status"))) continue;
        cs_puts(b, "<div class=\"cause\">caused by <a href=\"#op-");
        cs_text(b, str_of(c, "Id"));
        cs_puts(b, "\">");
        cs_text(b, str_of(c, "Name") ? str_of(c, "Name") : str_of(c, "SubType"));
        cs_puts(b, "</a>: ");
        put_error_chain(b, ops, c, depth + 1);
        cs_puts(b, "</div>");
        break;
    }
}

/* ---- the executions ------------------------------------------------------------------------------ */

static const char *const STATUSES[] = {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"};

static int known_status(const char *s)
{
    for (size_t i = 0; i < sizeof STATUSES / sizeof *STATUSES; i++)
        if (s && strcmp(s, STATUSES[i]) == 0) return 1;
    return 0;
}

static void put_filters(cs_buf *b, const char *status, const char *function)
{
    cs_puts(b, "<form class=\"filters\" method=\"get\" action=\"" DWF_CONSOLE_PREFIX "/\">"
               "<label>Status <select name=\"status\"><option value=\"\">any</option>");
    for (size_t i = 0; i < sizeof STATUSES / sizeof *STATUSES; i++)
        cs_printf(b, "<option%s>%s</option>", status && strcmp(status, STATUSES[i]) == 0 ? " selected" : "",
                  STATUSES[i]);
    cs_puts(b, "</select></label> <label>Function <input name=\"function\" value=\"");
    cs_text(b, function);
    cs_puts(b, "\" placeholder=\"any\"></label> <button>Filter</button></form>");
}

/* A link to this list with the same filters and another page. */
static void put_list_href(cs_buf *b, const char *status, const char *function, const char *marker)
{
    cs_puts(b, DWF_CONSOLE_PREFIX "/?status=");
    cs_url(b, status ? status : "");
    cs_puts(b, "&amp;function=");
    cs_url(b, function ? function : "");
    if (marker) {
        cs_puts(b, "&amp;marker=");
        cs_url(b, marker);
    }
}

static void put_execution_row(cs_buf *b, const cJSON *x)
{
    const char *arn = str_of(x, "DurableExecutionArn");
    char fn[256] = "";
    if (!arn) return;
    dwf_service_function_of(arn, fn);
    double start = num_of(x, "StartTimestamp"), end = num_of(x, "EndTimestamp");
    cs_puts(b, "<tr><td>");
    put_status(b, str_of(x, "Status"));
    cs_puts(b, "</td><td><a class=\"exec\" href=\"");
    put_exec_href(b, arn);
    cs_puts(b, "\">");
    cs_text(b, str_of(x, "DurableExecutionName") ? str_of(x, "DurableExecutionName") : arn);
    cs_puts(b, "</a></td><td>");
    cs_text(b, fn);
    cs_puts(b, "</td><td>");
    put_time(b, start);
    cs_puts(b, "</td><td>");
    if (!isnan(end)) put_duration(b, (end - start) * 1000);
    else cs_puts(b, "running");
    cs_puts(b, "</td></tr>\n");
}

int cs_page_list(cs_req *r)
{
    const char *status = cs_query(r, "status"), *function = cs_query(r, "function"), *marker = cs_query(r, "marker");
    if (status && !*status) status = NULL;
    if (function && !*function) function = NULL;
    if (marker && !*marker) marker = NULL;
    if (status && !known_status(status))
        return cs_reply_problem(r, 400, "Unknown status",
                                "status is one of RUNNING, SUCCEEDED, FAILED, TIMED_OUT, STOPPED");
    cJSON *q = cJSON_CreateObject(), *out = NULL;
    dwf_error err = {{0}, {0}};
    int bad = !q || !cJSON_AddNumberToObject(q, "MaxItems", PAGE_SIZE) || !cJSON_AddBoolToObject(q, "ReverseOrder", 1);
    if (!bad && status) {
        cJSON *st = cJSON_AddArrayToObject(q, "Statuses");
        bad = !st || !cJSON_AddItemToArray(st, cJSON_CreateString(status));
    }
    if (!bad && function) bad = !cJSON_AddStringToObject(q, "FunctionName", function);
    if (!bad && marker) bad = !cJSON_AddStringToObject(q, "Marker", marker);
    int rc = bad ? -1 : dwf_service_list_executions(r->c->o.svc, q, &out, &err);
    cJSON_Delete(q);
    if (rc != 0) {
        cJSON_Delete(out);
        if (bad) return cs_reply_problem(r, 500, "Out of memory", "");
        return cs_reply_problem(r, (unsigned)dwf_service_http_status(err.type), err.type, err.message);
    }
    cs_buf b = {0};
    cs_page_begin(&b, "Executions");
    cs_puts(&b, "<h1>Executions</h1>");
    put_filters(&b, status, function);
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(out, "DurableExecutions");
    if (cJSON_GetArraySize(list) == 0) {
        cs_puts(&b, "<p class=\"empty\">No executions");
        cs_puts(&b, status || function ? " match these filters" : " in this store yet");
        cs_puts(&b, ".</p>");
    } else {
        cs_puts(&b, "<table class=\"executions\"><thead><tr><th>Status</th><th>Name</th><th>Function</th>"
                    "<th>Started</th><th>Duration</th></tr></thead><tbody>\n");
        for (const cJSON *x = list->child; x; x = x->next) put_execution_row(&b, x);
        cs_puts(&b, "</tbody></table>");
    }
    const char *next = str_of(out, "NextMarker");
    cs_puts(&b, "<nav class=\"pager\">");
    if (marker) {
        cs_puts(&b, "<a href=\"");
        put_list_href(&b, status, function, NULL);
        cs_puts(&b, "\">First page</a> ");
    }
    if (next) {
        cs_puts(&b, "<a rel=\"next\" href=\"");
        put_list_href(&b, status, function, next);
        cs_puts(&b, "\">Next page</a>");
    }
    cs_puts(&b, "</nav>");
    cs_page_end(&b);
    cJSON_Delete(out);
    return cs_reply_html(r, 200, &b);
}

/* ---- an execution -------------------------------------------------------------------------------- */

/* Every history event of arn (up to HISTORY_PAGES pages), as one array; NULL when unreadable. */
static cJSON *all_events(dwf_console *c, const char *arn)
{
    cJSON *all = cJSON_CreateArray();
    char *marker = NULL;
    for (int page = 0; all && page < HISTORY_PAGES; page++) {
        cJSON *out = NULL;
        dwf_error err;
        if (dwf_service_get_history(c->o.svc, arn, 1, 1000, marker, 0, &out, &err) != 0) {
            cJSON_Delete(out);
            break;
        }
        cJSON *ev = cJSON_DetachItemFromObjectCaseSensitive(out, "Events");
        while (ev && ev->child) cJSON_AddItemToArray(all, cJSON_DetachItemViaPointer(ev, ev->child));
        cJSON_Delete(ev);
        free(marker);
        marker = str_of(out, "NextMarker") ? strdup(str_of(out, "NextMarker")) : NULL;
        cJSON_Delete(out);
        if (!marker) break;
    }
    free(marker);
    return all;
}

/* The attempts of a step, from its events: each start, and how it ended (error, next delay). */
static void put_attempts(cs_buf *b, const cJSON *events, const char *id)
{
    int any = 0;
    for (const cJSON *e = events ? events->child : NULL; e; e = e->next) {
        const char *eid = str_of(e, "Id"), *type = str_of(e, "EventType");
        if (!eid || !type || strcmp(eid, id) != 0) continue;
        if (strcmp(type, "StepSucceeded") != 0 && strcmp(type, "StepFailed") != 0) continue;
        char key[80];
        snprintf(key, sizeof key, "%sDetails", type);
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, key);
        const cJSON *retry = cJSON_GetObjectItemCaseSensitive(d, "RetryDetails");
        if (!any) cs_puts(b, "<h4>Attempts</h4><ol class=\"attempts\">");
        any = 1;
        cs_puts(b, "<li>");
        double n = num_of(retry, "CurrentAttempt");
        if (!isnan(n)) cs_printf(b, "attempt %.0f ", n);
        put_status(b, strcmp(type, "StepSucceeded") == 0 ? "SUCCEEDED" : "FAILED");
        cs_puts(b, " at ");
        put_time(b, num_of(e, "EventTimestamp"));
        double delay = num_of(retry, "NextAttemptDelaySeconds");
        if (!isnan(delay)) cs_printf(b, ", next attempt in %.0f s", delay);
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(d, "Error");
        const cJSON *payload = cJSON_GetObjectItemCaseSensitive(err, "Payload");
        if (payload) put_error_object(b, payload, 0);
        cs_puts(b, "</li>");
    }
    if (any) cs_puts(b, "</ol>");
}

/* The input an operation was given, from its start event (a chained invoke's payload, the
 * execution's input); NULL when it had none. */
static const char *input_of(const cJSON *events, const cJSON *op)
{
    const char *id = str_of(op, "Id");
    const cJSON *ed = cJSON_GetObjectItemCaseSensitive(op, "ExecutionDetails");
    if (str_of(ed, "InputPayload")) return str_of(ed, "InputPayload");
    for (const cJSON *e = events ? events->child : NULL; e; e = e->next) {
        const char *type = str_of(e, "EventType");
        if (!id || !str_of(e, "Id") || strcmp(str_of(e, "Id"), id) != 0 || !type) continue;
        if (strcmp(type, "ChainedInvokeStarted") != 0) continue;
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "ChainedInvokeStartedDetails");
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(d, "Input");
        return str_of(in, "Payload");
    }
    return NULL;
}

static int depth_of(const cJSON *ops, const cJSON *op)
{
    int d = 0;
    for (const char *pid = str_of(op, "ParentId"); pid && d < 64; d++) {
        const cJSON *p = find_op(ops, pid);
        pid = p ? str_of(p, "ParentId") : NULL;
    }
    return d;
}

static void put_operation(cs_buf *b, const cJSON *ops, const cJSON *events, const cJSON *op)
{
    const char *id = str_of(op, "Id"), *status = str_of(op, "Status"), *type = str_of(op, "Type");
    if (!id || (type && strcmp(type, "EXECUTION") == 0)) return;
    const cJSON *d = details_of(op);
    double start = num_of(op, "StartTimestamp"), end = num_of(op, "EndTimestamp");
    cs_puts(b, "<details class=\"op\" id=\"op-");
    cs_text(b, id);
    cs_printf(b, "\" data-depth=\"%d\"><summary>", depth_of(ops, op));
    put_status(b, status);
    cs_puts(b, " <span class=\"opname\">");
    if (str_of(op, "Name")) cs_text(b, str_of(op, "Name"));
    else cs_puts(b, "<i>unnamed</i>");
    cs_puts(b, "</span> <span class=\"optype\">");
    cs_text(b, str_of(op, "SubType") ? str_of(op, "SubType") : type);
    cs_puts(b, "</span>");
    double attempt = num_of(d, "Attempt");
    if (!isnan(attempt) && attempt > 1) cs_printf(b, " <span class=\"attempts-n\">%.0f attempts</span>", attempt);
    cs_puts(b, " <span class=\"when\">");
    put_time(b, start);
    if (!isnan(end)) {
        cs_puts(b, ", ");
        put_duration(b, (end - start) * 1000);
    }
    cs_puts(b, "</span></summary><div class=\"opbody\"><dl><dt>Id</dt><dd><code>");
    cs_text(b, id);
    cs_puts(b, "</code></dd>");
    if (str_of(op, "ParentId")) {
        cs_puts(b, "<dt>Parent</dt><dd><a href=\"#op-");
        cs_text(b, str_of(op, "ParentId"));
        cs_puts(b, "\"><code>");
        cs_text(b, str_of(op, "ParentId"));
        cs_puts(b, "</code></a></dd>");
    }
    const char *cbid = str_of(cJSON_GetObjectItemCaseSensitive(op, "CallbackDetails"), "CallbackId");
    if (cbid) {
        cs_puts(b, "<dt>Callback id</dt><dd><code class=\"cbid\">");
        cs_text(b, cbid);
        cs_puts(b, "</code></dd>");
    }
    double sched = num_of(cJSON_GetObjectItemCaseSensitive(op, "WaitDetails"), "ScheduledEndTimestamp");
    if (!isnan(sched)) {
        cs_puts(b, "<dt>Wait ends</dt><dd>");
        put_time(b, sched);
        cs_puts(b, "</dd>");
    }
    double next = num_of(d, "NextAttemptTimestamp");
    if (!isnan(next)) {
        cs_puts(b, "<dt>Next attempt</dt><dd>");
        put_time(b, next);
        cs_puts(b, "</dd>");
    }
    cs_puts(b, "</dl>");
    put_payload(b, "Input", input_of(events, op));
    put_payload(b, "Result", str_of(d, "Result"));
    if (cJSON_GetObjectItemCaseSensitive(d, "Error") || failed(status)) {
        cs_puts(b, "<h4>Error</h4>");
        put_error_chain(b, ops, op, 0);
    }
    put_attempts(b, events, id);
    cs_puts(b, "</div></details>\n");
}

/* The forms of one waiting callback: succeed with a result, fail with an error, heartbeat. */
static void put_callback_forms(dwf_console *c, cs_buf *b, const char *arn, const cJSON *cb)
{
    const char *id = str_of(cb, "CallbackId"), *name = str_of(cb, "Name");
    if (!id) return;
    cs_puts(b, "<div class=\"callback\"><h3>");
    cs_text(b, name ? name : "(unnamed callback)");
    cs_puts(b, "</h3><p class=\"meta\">waiting since ");
    put_time(b, num_of(cb, "StartTimestamp"));
    if (!isnan(num_of(cb, "TimeoutTimestamp"))) {
        cs_puts(b, "; times out at ");
        put_time(b, num_of(cb, "TimeoutTimestamp"));
    }
    if (!isnan(num_of(cb, "HeartbeatTimestamp"))) {
        cs_puts(b, "; heartbeat due by ");
        put_time(b, num_of(cb, "HeartbeatTimestamp"));
    }
    cs_puts(b, "<br>id <code class=\"cbid\">");
    cs_text(b, id);
    cs_puts(b, "</code></p>");
    cs_buf hidden = {0};
    cs_printf(&hidden, "<input type=\"hidden\" name=\"csrf\" value=\"%s\"><input type=\"hidden\" name=\"id\" value=\"",
              c->csrf);
    cs_text(&hidden, id);
    cs_puts(&hidden, "\"><input type=\"hidden\" name=\"arn\" value=\"");
    cs_text(&hidden, arn);
    cs_puts(&hidden, "\">");
    const char *h = hidden.s ? hidden.s : "";
    cs_puts(b, "<form class=\"cb-succeed\" method=\"post\" action=\"" DWF_CONSOLE_PREFIX "/callback\">");
    cs_puts(b, h);
    cs_puts(b, "<label>Result (sent as written)<textarea name=\"result\" rows=\"3\" cols=\"60\">"
               "{\"approved\": true}</textarea></label>"
               "<button name=\"action\" value=\"succeed\" class=\"ok\">Succeed</button></form>");
    cs_puts(b, "<form class=\"cb-fail\" method=\"post\" action=\"" DWF_CONSOLE_PREFIX "/callback\">");
    cs_puts(b, h);
    cs_puts(b, "<label>Error type <input name=\"error_type\" value=\"Rejected\"></label> "
               "<label>Message <input name=\"error_message\" size=\"40\"></label> "
               "<button name=\"action\" value=\"fail\" class=\"bad\">Fail</button></form>");
    cs_puts(b, "<form class=\"cb-heartbeat\" method=\"post\" action=\"" DWF_CONSOLE_PREFIX "/callback\">");
    cs_puts(b, h);
    cs_puts(b, "<button name=\"action\" value=\"heartbeat\">Heartbeat</button></form></div>");
    cs_free(&hidden);
}

static void put_summary(dwf_console *c, cs_buf *b, const cJSON *x, const char *arn)
{
    char fn[256] = "";
    dwf_service_function_of(arn, fn);
    const char *status = str_of(x, "Status");
    double start = num_of(x, "StartTimestamp"), end = num_of(x, "EndTimestamp");
    cs_puts(b, "<section id=\"summary\" data-live><h1>");
    cs_text(b, str_of(x, "DurableExecutionName"));
    cs_puts(b, " ");
    put_status(b, status);
    cs_puts(b, "</h1><dl class=\"facts\"><dt>Function</dt><dd>");
    cs_text(b, fn);
    cs_puts(b, "</dd><dt>Started</dt><dd>");
    put_time(b, start);
    cs_puts(b, "</dd><dt>Ended</dt><dd>");
    put_time(b, end);
    cs_puts(b, "</dd><dt>Duration</dt><dd>");
    /* so far: on the execution's own clock, the one its timestamps are on (--skip-time moves it) */
    put_duration(b, ((isnan(end) ? dwf_service_now_of(c->o.svc, arn) / 1000 : end) - start) * 1000);
    cs_puts(b, isnan(end) ? " so far" : "");
    cs_puts(b, "</dd><dt>ARN</dt><dd><code>");
    cs_text(b, arn);
    cs_puts(b, "</code></dd></dl>");
    if (status && strcmp(status, "RUNNING") == 0)
        cs_printf(b, "<form class=\"stop\" method=\"post\" action=\"" DWF_CONSOLE_PREFIX "/stop\">"
                     "<input type=\"hidden\" name=\"csrf\" value=\"%s\"><input type=\"hidden\" name=\"arn\" value=\"",
                  c->csrf);
    if (status && strcmp(status, "RUNNING") == 0) {
        cs_text(b, arn);
        cs_puts(b, "\"><button class=\"bad\">Stop execution</button></form>");
    }
    put_payload(b, "Input", str_of(x, "InputPayload"));
    put_payload(b, "Result", str_of(x, "Result"));
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(x, "Error");
    if (e) {
        cs_puts(b, "<h4>Error</h4>");
        put_error_object(b, e, 0);
    }
    cs_puts(b, "</section>");
}

int cs_execution_live(dwf_console *c, const char *arn, cs_buf *b, dwf_error *err)
{
    dwf_service *s = c->o.svc;
    cJSON *x = NULL, *ops = NULL, *cbs = NULL, *events = NULL;
    if (dwf_service_get_execution(s, arn, 1, &x, err) != 0 || dwf_service_operations(s, arn, &ops, err) != 0 ||
        dwf_service_open_callbacks(s, arn, &cbs, err) != 0) {
        cJSON_Delete(x);
        cJSON_Delete(ops);
        cJSON_Delete(cbs);
        return -1;
    }
    events = all_events(c, arn);
    put_summary(c, b, x, arn);
    /* the callbacks of this execution itself (not those of executions it invoked) */
    cs_puts(b, "<section id=\"callbacks\" data-live data-keep-focus><h2>Waiting callbacks</h2>");
    int n = 0;
    for (const cJSON *cb = cbs ? cbs->child : NULL; cb; cb = cb->next) {
        const char *carn = str_of(cb, "DurableExecutionArn");
        if (!carn || strcmp(carn, arn) != 0) continue;
        put_callback_forms(c, b, arn, cb);
        n++;
    }
    if (!n) cs_puts(b, "<p class=\"empty\">No callback is waiting.</p>");
    cs_puts(b, "</section>");
    cs_graph_section(c, b, arn, ops, str_of(x, "Status"));
    cs_puts(b, "<section id=\"timeline\" data-live><h2>Timeline</h2>");
    char *svg = c->o.timeline_svg ? c->o.timeline_svg(c->o.arg, ops, events, dwf_service_now_of(s, arn)) : NULL;
    const char *at = svg ? strstr(svg, "<svg") : NULL;
    if (at) cs_printf(b, "<div class=\"picture\">%s</div>", at);
    else cs_puts(b, "<p class=\"empty\">No timeline.</p>");
    free(svg);
    cs_puts(b, "</section><section id=\"operations\" data-live><h2>Operations</h2>");
    int nops = 0;
    for (const cJSON *op = ops ? ops->child : NULL; op; op = op->next, nops++) put_operation(b, ops, events, op);
    if (nops <= 1) cs_puts(b, "<p class=\"empty\">No operation yet.</p>");
    cs_puts(b, "</section>");
    cJSON_Delete(x);
    cJSON_Delete(ops);
    cJSON_Delete(cbs);
    cJSON_Delete(events);
    return 0;
}

/* What the page says after one of its forms did its work (a fixed table: nothing reflected). */
static const char *done_message(const char *done)
{
    static const char *const msgs[][2] = {
        {"succeed", "Callback completed: the execution continues with its result."},
        {"fail", "Callback failed: the execution continues with its error."},
        {"heartbeat", "Heartbeat sent."},
        {"stop", "Execution stopped."},
    };
    for (size_t i = 0; done && i < sizeof msgs / sizeof *msgs; i++)
        if (strcmp(done, msgs[i][0]) == 0) return msgs[i][1];
    return NULL;
}

int cs_page_execution(cs_req *r)
{
    const char *arn = cs_query(r, "arn");
    if (!arn || !*arn) return cs_reply_problem(r, 400, "No execution", "give the execution's ARN as ?arn=");
    cs_buf b = {0}, live = {0};
    dwf_error err = {{0}, {0}};
    /* before the page is drawn: a change in between makes the stream's first event differ */
    char status[32];
    unsigned long long fp = cs_fingerprint(r->c, arn, status);
    if (cs_execution_live(r->c, arn, &live, &err) != 0) {
        cs_free(&live);
        return cs_reply_problem(r, (unsigned)dwf_service_http_status(err.type), err.type, err.message);
    }
    cs_page_begin(&b, "Execution");
    const char *msg = done_message(cs_query(r, "done"));
    if (msg) cs_printf(&b, "<p class=\"notice\" role=\"status\">%s</p>", msg);
    cs_printf(&b, "<div id=\"live\" data-fp=\"%016llx\" data-events=\"" DWF_CONSOLE_PREFIX "/events?arn=", fp);
    cs_url(&b, arn);
    cs_puts(&b, "\">");
    cs_putn(&b, live.s ? live.s : "", live.len);
    if (live.oom) b.oom = 1;
    cs_puts(&b, "</div>");
    cs_page_end(&b);
    cs_free(&live);
    return cs_reply_html(r, 200, &b);
}

/* ---- the actions ---------------------------------------------------------------------------------- */

/* After an action: back to the execution's page, saying what was done. */
static int back_to(cs_req *r, const char *arn, const char *done)
{
    cs_buf u = {0};
    put_exec_href(&u, arn);
    cs_printf(&u, "&done=%s", done);
    int res = u.oom ? MHD_NO : cs_reply(r, 303, "text/plain; charset=utf-8", "", 0, u.s);
    cs_free(&u);
    return res;
}

static int action_failed(cs_req *r, const dwf_error *err)
{
    return cs_reply_problem(r, (unsigned)dwf_service_http_status(err->type), err->type, err->message);
}

int cs_action_callback(cs_req *r)
{
    dwf_console *c = r->c;
    const char *id = cs_field(r, "id"), *arn = cs_field(r, "arn"), *action = cs_field(r, "action");
    if (!id || !*id || !arn || !action)
        return cs_reply_problem(r, 400, "Incomplete form",
                                "the form needs the callback's id, its execution and an action");
    dwf_error err = {{0}, {0}};
    int rc;
    if (strcmp(action, "succeed") == 0) {
        const char *result = cs_field(r, "result");
        rc = dwf_service_callback_succeed(c->o.svc, id, result ? result : "", result ? strlen(result) : 0, &err);
    } else if (strcmp(action, "fail") == 0) {
        const char *type = cs_field(r, "error_type"), *msg = cs_field(r, "error_message");
        cJSON *eo = cJSON_CreateObject();
        if (!eo || (type && *type && !cJSON_AddStringToObject(eo, "ErrorType", type)) ||
            (msg && *msg && !cJSON_AddStringToObject(eo, "ErrorMessage", msg))) {
            cJSON_Delete(eo);
            return cs_reply_problem(r, 500, "Out of memory", "");
        }
        rc = dwf_service_callback_fail(c->o.svc, id, eo, &err);
        cJSON_Delete(eo);
    } else if (strcmp(action, "heartbeat") == 0) {
        rc = dwf_service_callback_heartbeat(c->o.svc, id, &err);
    } else {
        return cs_reply_problem(r, 400, "Unknown action", "a callback can be succeeded, failed or heartbeated");
    }
    if (rc != 0) return action_failed(r, &err);
    cs_log(c, "callback %s of %s: %s", action, arn, "ok");
    if (c->o.changed) c->o.changed(c->o.arg, arn);
    return back_to(r, arn, action);
}

int cs_action_stop(cs_req *r)
{
    dwf_console *c = r->c;
    const char *arn = cs_field(r, "arn");
    if (!arn || !*arn) return cs_reply_problem(r, 400, "Incomplete form", "the form needs the execution's ARN");
    cJSON *out = NULL;
    dwf_error err = {{0}, {0}};
    int rc = dwf_service_stop(c->o.svc, arn, NULL, &out, &err);
    cJSON_Delete(out);
    if (rc != 0) return action_failed(r, &err);
    cs_log(c, "stopped %s", arn);
    if (c->o.changed) c->o.changed(c->o.arg, arn);
    return back_to(r, arn, "stop");
}
