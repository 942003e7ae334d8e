/*
 * durable_api.c: the durable execution REST API (/2025-12-01/...), each route one service-core
 * call. What is left here is what the wire adds: the query parameters AWS validates before the
 * operation runs (MaxItems, timestamps), the ErrorObject bodies, ListDurableExecutionsByFunction
 * answering 404 for a function the emulator does not serve (as Lambda for one that does not
 * exist), and waking the scheduler after a call that can make an execution runnable.
 *
 * The routes and their body kinds are in httpd.c's table; a handler gets its path labels in
 * r->label[] (the execution ARN, joined back if it arrived with raw slashes, or the callback
 * id or function name) and a body already checked to be what the route takes.
 */
#include "emu.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ISO-8601 or epoch seconds -> epoch seconds; -1 if neither. */
static double parse_time(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (*s && !*end) return v;
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest) return -1;
    double frac = 0;
    if (*rest == '.') frac = strtod(rest, (char **)&rest);
    double t = (double)timegm(&tm) + frac;
    if (*rest == '+' || *rest == '-') {
        int hh = 0, mm = 0;
        if (sscanf(rest + 1, "%d:%d", &hh, &mm) >= 1) t += (*rest == '+' ? -1 : 1) * (hh * 3600.0 + mm * 60.0);
    }
    return t;
}

/* The ErrorObject of a Stop / callback failure body: the body itself, or its "Error" member;
 * NULL for no body or an empty object. Takes r->json. */
static cJSON *error_object(emu_request *r)
{
    cJSON *b = r->json;
    r->json = NULL;
    cJSON *inner = cJSON_DetachItemFromObjectCaseSensitive(b, "Error");
    if (cJSON_IsObject(inner)) {
        cJSON_Delete(b);
        return inner;
    }
    cJSON_Delete(inner);
    if (b && !b->child) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

/* ---- executions ------------------------------------------------------------------------------ */

enum MHD_Result dwf__emu_get_execution(emu_request *r)
{
    cJSON *out = NULL;
    dwf_error err;
    int rc = dwf_service_get_execution(r->emu->svc, r->label[0], dwf__emu_query_bool(r, "IncludeExecutionData", 1),
                                       &out, &err);
    return dwf__emu_reply_result(r, rc, out, &err);
}

enum MHD_Result dwf__emu_get_state(emu_request *r)
{
    cJSON *out = NULL;
    dwf_error err;
    int max;
    if (dwf__emu_max_items(r, 0, &max, &err) != 0) return dwf__emu_reply_err(r, &err);
    int rc = dwf_service_get_state(r->emu->svc, r->label[0], dwf__emu_query(r, "CheckpointToken"),
                                   dwf__emu_query(r, "Marker"), max, &out, &err);
    return dwf__emu_reply_result(r, rc, out, &err);
}

/* Without IncludeExecutionData=true, the events carry no Input, Result or Error (the service
 * leaves them out). */
enum MHD_Result dwf__emu_get_history(emu_request *r)
{
    cJSON *out = NULL;
    dwf_error err;
    int max;
    if (dwf__emu_max_items(r, 0, &max, &err) != 0) return dwf__emu_reply_err(r, &err);
    int rc = dwf_service_get_history(r->emu->svc, r->label[0], dwf__emu_query_bool(r, "IncludeExecutionData", 0), max,
                                     dwf__emu_query(r, "Marker"), dwf__emu_query_bool(r, "ReverseOrder", 0), &out, &err);
    return dwf__emu_reply_result(r, rc, out, &err);
}

/* Does the checkpoint close the execution itself (an EXECUTION update, the last one)? */
static int closes_execution(const cJSON *req)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(req, "Updates");
    const cJSON *last = cJSON_IsArray(u) && u->child ? u->child->prev : NULL; /* cJSON: child->prev is the tail */
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(last, "Type");
    return cJSON_IsString(t) && strcmp(t->valuestring, "EXECUTION") == 0;
}

enum MHD_Result dwf__emu_checkpoint(emu_request *r)
{
    cJSON *out = NULL;
    dwf_error err;
    int rc = dwf_service_checkpoint(r->emu->svc, r->label[0], r->json, &out, &err);
    dwf__emu_kick_unlocked(r->emu);
    if (rc == 0 && closes_execution(r->json)) dwf__emu_execution_changed_unlocked(r->emu, r->label[0]);
    return dwf__emu_reply_result(r, rc, out, &err);
}

enum MHD_Result dwf__emu_stop(emu_request *r)
{
    cJSON *out = NULL, *eo = error_object(r);
    dwf_error err;
    int rc = dwf_service_stop(r->emu->svc, r->label[0], eo, &out, &err);
    cJSON_Delete(eo);
    dwf__emu_kick_unlocked(r->emu);
    if (rc == 0) dwf__emu_execution_changed_unlocked(r->emu, r->label[0]);
    return dwf__emu_reply_result(r, rc, out, &err);
}

/* ---- listing by function ----------------------------------------------------------------------- */

/* The service's query from the request's: statuses, name, time range, order, paging. 0, or -1
 * with err. */
static int list_query(const emu_request *r, cJSON *q, dwf_error *err)
{
    cJSON *st = NULL;
    int max, bad = 0;
    if (dwf__emu_max_items(r, 1, &max, err) != 0) return -1;
    if (max) bad = !cJSON_AddNumberToObject(q, "MaxItems", max);
    for (int i = 0; !bad && i < r->nq; i++) {
        const emu_qparam *p = &r->q[i];
        if (strcmp(p->name, "DurableExecutionName") == 0 || strcmp(p->name, "Marker") == 0) {
            bad = !cJSON_AddStringToObject(q, p->name, p->value);
        } else if (strcmp(p->name, "Statuses") == 0) {
            if (!st) bad = !(st = cJSON_AddArrayToObject(q, "Statuses"));
            if (!bad) bad = !cJSON_AddItemToArray(st, cJSON_CreateString(p->value));
        } else if (strcmp(p->name, "StartedAfter") == 0 || strcmp(p->name, "StartedBefore") == 0) {
            double t = parse_time(p->value);
            if (t < 0) return dwf__emu_fail(err, "InvalidParameterValueException", "StartedAfter/StartedBefore must be a timestamp.");
            bad = !cJSON_AddNumberToObject(q, p->name, t);
        } else if (strcmp(p->name, "ReverseOrder") == 0) {
            bad = !cJSON_AddBoolToObject(q, p->name, strcmp(p->value, "true") == 0);
        }
    }
    return bad ? dwf__emu_fail(err, "ServiceException", "out of memory") : 0;
}

enum MHD_Result dwf__emu_list_executions(emu_request *r)
{
    char name[256], qual[160];
    dwf_error err;
    if (!dwf__emu_function_of(r, r->label[0], name, qual, &err)) return dwf__emu_reply_err(r, &err);
    cJSON *q = cJSON_CreateObject(), *out = NULL;
    int rc = !q || !cJSON_AddStringToObject(q, "FunctionName", name) ? dwf__emu_fail(&err, "ServiceException", "out of memory")
                                                                     : list_query(r, q, &err);
    if (rc == 0) rc = dwf_service_list_executions(r->emu->svc, q, &out, &err);
    cJSON_Delete(q);
    return dwf__emu_reply_result(r, rc, out, &err);
}

/* ---- callbacks ----------------------------------------------------------------------------------- */

static enum MHD_Result callback_answered(emu_request *r, int rc, const dwf_error *err)
{
    if (rc != 0) return dwf__emu_reply_err(r, err);
    dwf__emu_kick_unlocked(r->emu);
    return dwf__emu_reply(r, 200, "application/json", "{}", 2, NULL);
}

/* The raw body is the result, as the SDKs send it (application/octet-stream). */
enum MHD_Result dwf__emu_callback_succeed(emu_request *r)
{
    dwf_error err;
    int rc = dwf_service_callback_succeed(r->emu->svc, r->label[0], r->body ? r->body : "", r->len, &err);
    return callback_answered(r, rc, &err);
}

enum MHD_Result dwf__emu_callback_fail(emu_request *r)
{
    dwf_error err;
    cJSON *eo = error_object(r);
    int rc = dwf_service_callback_fail(r->emu->svc, r->label[0], eo, &err);
    cJSON_Delete(eo);
    return callback_answered(r, rc, &err);
}

enum MHD_Result dwf__emu_callback_heartbeat(emu_request *r)
{
    dwf_error err;
    int rc = dwf_service_callback_heartbeat(r->emu->svc, r->label[0], &err);
    return callback_answered(r, rc, &err);
}
