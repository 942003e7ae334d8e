/*
 * reads.c: the calls that only read: GetDurableExecutionState, GetDurableExecution,
 * GetDurableExecutionHistory, ListDurableExecutionsByFunction, and every operation of an
 * execution for the CLI.
 *
 * Paged calls take MaxItems (0 = DWF_LIMIT_PAGE_DEFAULT, at most DWF_LIMIT_PAGE_MAX) and an
 * opaque Marker; here a marker is a number: the start sequence of the last operation returned,
 * the EventId of the last event, or the count of executions already listed. They read without
 * a write transaction, under the handle's lock.
 */
#include "service_impl.h"

#include <stdlib.h>
#include <string.h>

static int parse_marker(const char *m, long long *v)
{
    if (!m || !*m) return 0;
    char *end;
    long long x = strtoll(m, &end, 10);
    if (*end || x < 0) return -1;
    *v = x;
    return 0;
}

static int page_size(int max_items, int *n, dwf_error *err)
{
    if (max_items < 0 || max_items > DWF_LIMIT_PAGE_MAX)
        return fail(err, IPVE, "MaxItems must be between 1 and %d.", DWF_LIMIT_PAGE_MAX);
    *n = max_items ? max_items : DWF_LIMIT_PAGE_DEFAULT;
    return 0;
}

static int set_marker(cJSON *o, long long v, dwf_error *err)
{
    char m[32];
    snprintf(m, sizeof m, "%lld", v);
    return jset_str(o, "NextMarker", m) ? oom(err) : 0;
}

/* ---- operations ------------------------------------------------------------------------------- */
int dwf_service_get_state(dwf_service *s, const char *arn, const char *token, const char *marker, int max_items,
                          cJSON **out, dwf_error *err)
{
    *out = NULL;
    int limit = DWF_LIMIT_PAGE_DEFAULT;
    long long after = -1;
    if (page_size(max_items, &limit, err) != 0) return -1;
    if (!token || !*token) return fail(err, IPVE, "Checkpoint token is required");
    if (parse_marker(marker, &after) != 0) return fail(err, IPVE, "Invalid marker.");
    dwf__svc_lock(s);
    dwf__exec *e = NULL;
    int r = dwf__svc_exec_get(s, arn, &e, err);
    cJSON *o = NULL, *ops = NULL;
    if (r != 0) goto done;
    if ((r = dwf__svc_token_ok(s, e, token, 0, err)) <= 0) {
        if (r == 0) fail(err, IPVE, "Invalid Checkpoint Token: the token was not issued for this execution.");
        r = -1;
        goto done;
    }
    long long last = after;
    int more = 0;
    o = cJSON_CreateObject();
    r = !o || jset(o, "Operations", ops = cJSON_CreateArray())
            ? oom(err)
            : dwf__svc_ops_page(s, e, after, limit, ops, &last, &more, err);
    if (r == 0) dwf__svc_ops_for_handler(ops, e);
    if (r == 0 && more) r = set_marker(o, last, err);
done:
    dwf__exec_free(e);
    dwf__svc_unlock_read(s);
    if (r != 0) {
        cJSON_Delete(o);
        return -1;
    }
    *out = o;
    return 0;
}

int dwf_service_operations(dwf_service *s, const char *arn, cJSON **out, dwf_error *err)
{
    *out = NULL;
    dwf__svc_lock(s);
    dwf__exec *e = NULL;
    cJSON *ops = NULL;
    long long last;
    int more, r = dwf__svc_exec_get(s, arn, &e, err);
    if (r == 0) r = (ops = cJSON_CreateArray()) ? dwf__svc_ops_page(s, e, -1, 0, ops, &last, &more, err) : oom(err);
    dwf__exec_free(e);
    dwf__svc_unlock_read(s);
    if (r != 0) {
        cJSON_Delete(ops);
        return -1;
    }
    *out = ops;
    return 0;
}

/* ---- executions ------------------------------------------------------------------------------- */
/* The DurableExecutions item of ListDurableExecutionsByFunction (and GetDurableExecution's core). */
static cJSON *exec_summary(dwf_service *s, const dwf__exec *e)
{
    char fa[700], qual[160];
    dwf__svc_function_qualifier(e->arn, qual);
    snprintf(fa, sizeof fa, "arn:aws:lambda:%s:%s:function:%s:%s", s->region, s->account, e->function_name, qual);
    cJSON *o = cJSON_CreateObject();
    int bad = !o || jset_str(o, "DurableExecutionArn", e->arn) || jset_str(o, "DurableExecutionName", e->name) ||
              jset_str(o, "FunctionArn", fa) || jset_str(o, "Status", dwf_execstatus_name(e->status)) ||
              jset_ts(o, "StartTimestamp", e->start_ms);
    if (e->status != DWF_EXECSTATUS_RUNNING) bad |= jset_ts(o, "EndTimestamp", e->end_ms);
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int dwf_service_get_execution(dwf_service *s, const char *arn, int include_data, cJSON **out, dwf_error *err)
{
    *out = NULL;
    dwf__svc_lock(s);
    dwf__exec *e = NULL;
    int r = dwf__svc_exec_get(s, arn, &e, err);
    dwf__svc_unlock_read(s);
    if (r != 0) return -1;
    cJSON *o = exec_summary(s, e), *dc = NULL;
    int bad = !o;
    if (!bad && include_data) {
        bad |= jset_str(o, "InputPayload", e->input) | jset_str(o, "Result", e->result);
        if (e->error) {
            cJSON *eo = cJSON_Parse(e->error);
            bad |= jset(o, "Error", eo ? eo : cJSON_CreateObject());
        }
    }
    char qual[160];
    dwf__svc_function_qualifier(e->arn, qual);
    bad |= jset_str(o, "Version", qual) | jset(o, "ExecutionDataIncluded", cJSON_CreateBool(include_data));
    bad |= !(dc = jobj(o, "DurableConfig")) || jset_num(dc, "RetentionPeriodInDays", e->retention_days) ||
           jset_num(dc, "ExecutionTimeout", e->timeout_s);
    dwf__exec_free(e);
    if (bad) {
        cJSON_Delete(o);
        return oom(err);
    }
    *out = o;
    return 0;
}

/* ---- history ----------------------------------------------------------------------------------- */
/* Without execution data, history events lose their Input, Result and Error objects (the
 * {Payload, Truncated} wrappers), as GetDurableExecution loses InputPayload, Result and Error. */
static void strip_payloads(cJSON *v)
{
    for (cJSON *c = v ? v->child : NULL, *next; c; c = next) {
        next = c->next;
        if (cJSON_IsObject(c) && cJSON_GetObjectItemCaseSensitive(c, "Truncated"))
            cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
        else if (cJSON_IsObject(c)) strip_payloads(c);
    }
}

/* One page of events after (or, reversed, before) EventId `from` into o.Events. */
static int history_page(dwf_service *s, const dwf__exec *e, long long from, int limit, int reverse, int include_data,
                        cJSON *o, dwf_error *err)
{
    cJSON *evs = cJSON_CreateArray();
    if (jset(o, "Events", evs)) return oom(err);
    /* The execution's events are rows of the operations table (schema 16, store.c), among its
     * keys from its number times 2^32 on, in EventId order: the one of EventId E is at least
     * E - 1 and at most op_count + E - 1 past the first key, so a page after `from` starts
     * reading at from, one before it at op_count + from - 1, and reads at most the execution's
     * operations besides its events. `from` is brought within its EventIds first, so the range
     * stays within the execution's keys. */
    if (from < 0) from = 0;
    if (from > DWF__ROW_SEQ_MAX + 1) from = DWF__ROW_SEQ_MAX + 1;
    long long bound = reverse ? (e->op_count > 0 ? e->op_count : 0) + from - 1 : from;
    if (bound > DWF__ROW_SEQ_MAX) bound = DWF__ROW_SEQ_MAX;
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       reverse ? "SELECT json, event_id FROM operations WHERE k<=" DWF__ROW_KEY("?1", "?4")
                                                 " AND k>=" DWF__ROW_KEY("?1", "0")
                                                 " AND op_id IS NULL AND event_id<?2 ORDER BY k DESC LIMIT ?3"
                                               : "SELECT json, event_id FROM operations WHERE k>=" DWF__ROW_KEY("?1", "?4")
                                                 " AND k<=" DWF__ROW_KEY("?1", "4294967295")
                                                 " AND op_id IS NULL AND event_id>?2 ORDER BY k LIMIT ?3",
                                       "iiii", e->no, from, (long long)limit + 1, bound);
    if (!q) return -1;
    int r, n = 0;
    long long last = 0;
    while ((r = dwf__sql_step(s->st, q, err)) == 1) {
        if (n == limit) {
            r = set_marker(o, last, err);
            break;
        }
        char what[200];
        snprintf(what, sizeof what, "event %lld of execution %s", (long long)sqlite3_column_int64(q, 1), e->id);
        cJSON *ev = dwf__col_json(s->st, q, 0, what, err);
        if (!ev) {
            r = -1;
            break;
        }
        if (!include_data) strip_payloads(ev);
        if (!cJSON_AddItemToArray(evs, ev)) {
            cJSON_Delete(ev);
            r = oom(err);
            break;
        }
        last = sqlite3_column_int64(q, 1);
        n++;
    }
    dwf__sql_done(s->st, q);
    return r < 0 ? -1 : 0;
}

int dwf_service_get_history(dwf_service *s, const char *arn, int include_data, int max_items, const char *marker,
                            int reverse, cJSON **out, dwf_error *err)
{
    *out = NULL;
    int limit = DWF_LIMIT_PAGE_DEFAULT;
    long long from = -1;
    if (page_size(max_items, &limit, err) != 0) return -1;
    if (parse_marker(marker, &from) != 0) return fail(err, IPVE, "Invalid marker.");
    dwf__svc_lock(s);
    dwf__exec *e = NULL;
    cJSON *o = NULL;
    int r = dwf__svc_exec_get(s, arn, &e, err);
    if (r == 0) {
        if (from < 0) from = reverse ? e->event_count + 1 : 0;
        r = (o = cJSON_CreateObject()) ? history_page(s, e, from, limit, reverse, include_data, o, err) : oom(err);
    }
    dwf__exec_free(e);
    dwf__svc_unlock_read(s);
    if (r != 0) {
        cJSON_Delete(o);
        return -1;
    }
    *out = o;
    return 0;
}

/* ---- ListDurableExecutionsByFunction ------------------------------------------------------------- */
/* The requested Statuses as a JSON array of canonical names for the query's IN (json_each) list,
 * or NULL for "any status" (absent or empty). A name that is no status matches nothing. */
static char *status_list(const cJSON *statuses)
{
    if (!cJSON_IsArray(statuses) || cJSON_GetArraySize(statuses) == 0) return NULL;
    cJSON *names = cJSON_CreateArray();
    for (const cJSON *v = statuses->child; names && v; v = v->next) {
        int st = cJSON_IsString(v) ? dwf_execstatus_parse(v->valuestring) : -1;
        const char *name = st >= 0 ? dwf_execstatus_name(st) : NULL;
        if (name && *name) cJSON_AddItemToArray(names, cJSON_CreateString(name));
    }
    char *text = names ? cJSON_PrintUnformatted(names) : NULL;
    cJSON_Delete(names);
    return text ? text : strdup("[]");
}

/* The ids of the executions matching the query's function, name, statuses and start range, in
 * order, from the offset-th match: at most limit + 1 of them (one more says there is a next
 * page). The filters and the paging are SQL's, over the function index, or the index of running
 * executions (executions_status, partial: named by its literal) when only RUNNING is asked for,
 * so such a page costs what it returns, not every execution the store keeps; other statuses
 * without a function read every row. */
static int list_ids(dwf_service *s, const cJSON *query, long long offset, int limit, cJSON *ids, dwf_error *err)
{
    const char *fn = jstr(query, "FunctionName"), *name = jstr(query, "DurableExecutionName");
    const cJSON *after = cJSON_GetObjectItemCaseSensitive(query, "StartedAfter");
    const cJSON *before = cJSON_GetObjectItemCaseSensitive(query, "StartedBefore");
    int reverse = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(query, "ReverseOrder"));
    char *statuses = status_list(cJSON_GetObjectItemCaseSensitive(query, "Statuses"));
    char base[256] = "";
    if (fn) dwf__svc_function_base(fn, base);
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT id FROM executions WHERE %s %s AND (?2 IS NULL OR name=?2)"
             " AND start_ms>=?3 AND start_ms<=?4 ORDER BY start_ms %s, rowid %s LIMIT ?6 OFFSET ?7",
             !statuses                                 ? "?5 IS NULL AND"
             : strcmp(statuses, "[\"RUNNING\"]") == 0 ? "status=" DWF__SQL_RUNNING " AND ?5 IS NOT NULL AND"
                                                       : "status IN (SELECT value FROM json_each(?5)) AND",
             fn ? "function_name=?1" : "?1 IS NULL",
             reverse ? "DESC" : "", reverse ? "DESC" : "");
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, sql, "ssddsii", fn ? base : NULL, name,
                                       cJSON_IsNumber(after) ? after->valuedouble * 1000.0 : -1e300,
                                       cJSON_IsNumber(before) ? before->valuedouble * 1000.0 : 1e300, statuses,
                                       (long long)limit + 1, offset);
    free(statuses);
    if (!q) return -1;
    int r;
    while ((r = dwf__sql_step(s->st, q, err)) == 1)
        if (!cJSON_AddItemToArray(ids, cJSON_CreateString((const char *)sqlite3_column_text(q, 0)))) {
            r = oom(err);
            break;
        }
    dwf__sql_done(s->st, q);
    return r < 0 ? -1 : 0;
}

int dwf_service_list_executions(dwf_service *s, const cJSON *query, cJSON **out, dwf_error *err)
{
    *out = NULL;
    const cJSON *mi = cJSON_GetObjectItemCaseSensitive(query, "MaxItems");
    int limit = DWF_LIMIT_PAGE_DEFAULT;
    long long offset = 0;
    if (page_size(cJSON_IsNumber(mi) ? (int)mi->valuedouble : 0, &limit, err) != 0) return -1;
    if (parse_marker(jstr(query, "Marker"), &offset) != 0) return fail(err, IPVE, "Invalid marker.");
    dwf__svc_lock(s);
    cJSON *o = cJSON_CreateObject(), *list = NULL, *ids = cJSON_CreateArray();
    int r = !o || !ids || jset(o, "DurableExecutions", list = cJSON_CreateArray())
                ? oom(err)
                : list_ids(s, query, offset, limit, ids, err);
    int n = 0;
    for (cJSON *id = ids ? ids->child : NULL; r == 0 && id; id = id->next) {
        if (n == limit) {
            r = set_marker(o, offset + n, err);
            break;
        }
        dwf__exec *e = NULL;
        if ((r = dwf__exec_load(s->st, id->valuestring, &e, err)) != 0) {
            r = r < 0 ? -1 : 0;
            continue;
        }
        cJSON *sum = exec_summary(s, e);
        if (!sum || !cJSON_AddItemToArray(list, sum)) {
            cJSON_Delete(sum);
            r = oom(err);
        }
        n++;
        dwf__exec_free(e);
    }
    dwf__svc_unlock_read(s);
    cJSON_Delete(ids);
    if (r != 0) {
        cJSON_Delete(o);
        return -1;
    }
    *out = o;
    return 0;
}
