/*
 * calls.c: plain (non-durable) functions called by a durable execution's CHAINED_INVOKE.
 *
 * A function registered without a DurableConfig is plain, as on Lambda: it has no durable
 * execution, its event is the payload and its answer is whatever its handler returns. A
 * CHAINED_INVOKE of one cannot start an execution, so the service records a call instead (a row
 * of `calls`: the caller's execution and operation, the function, the payload) and the caller's
 * operation stays STARTED. The host that serves the function (the emulator) takes the call
 * (dwf_service_call_begin: PENDING -> RUNNING, with its owner), invokes the handler with the
 * payload, and hands back the handler's value or error (dwf_service_call_end), which completes
 * the caller's operation as a durable target's end does: SUCCEEDED with ChainedInvokeSucceeded,
 * or FAILED with the error (errorType / errorMessage) and ChainedInvokeFailed, and wakes it.
 *
 * A call whose runner died (a process of this machine that no longer exists) or that has run
 * longer than the host's stale limit is due again: Lambda retries a lost asynchronous call too.
 * A caller that closes or cancels the operation drops its calls; a late answer then changes
 * nothing.
 */
#include "service_impl.h"

#include <stdlib.h>
#include <string.h>

#define CALL_PENDING "PENDING"
#define CALL_RUNNING "RUNNING"

int dwf__svc_function_durable(const cJSON *fn)
{
    return cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(fn, "DurableConfig"));
}

int dwf__svc_call_create(dwf_service *s, const dwf__exec *e, const char *op_id, const char *fn,
                         const char *payload, dwf_error *err)
{
    char id[40];
    dwf__svc_uuid(id);
    dwf__svc_runnable_mark(); /* a host finds it in dwf_service_calls_due */
    return dwf__sql_exec(s->st, err,
                         "INSERT INTO calls(id, exec_id, op_id, function_name, payload, state)"
                         " VALUES(?1,?2,?3,?4,?5,?6)",
                         "ssssss", id, e->id, op_id, fn, payload ? payload : "{}", CALL_PENDING);
}

int dwf__svc_call_drop(dwf_service *s, const dwf__exec *e, const char *op_id, dwf_error *err)
{
    return dwf__sql_exec(s->st, err, "DELETE FROM calls WHERE exec_id=?1 AND (?2 IS NULL OR op_id=?2)", "ss", e->id,
                         op_id);
}

/* Append {"CallId","FunctionName"} for each row of q (id, function_name, state, owner, started_ms)
 * that is waiting, or running for a runner that died or went stale. */
static int collect_due(dwf_service *s, sqlite3_stmt *q, double stale_ms, cJSON *arr, dwf_error *err)
{
    double now = dwf_service_now(s);
    int r;
    while ((r = dwf__sql_step(s->st, q, err)) == 1) {
        const char *state = (const char *)sqlite3_column_text(q, 2);
        int running = state && strcmp(state, CALL_RUNNING) == 0;
        if (running && !dwf__svc_owner_dead((const char *)sqlite3_column_text(q, 3)) &&
            !(stale_ms >= 0 && sqlite3_column_double(q, 4) <= now - stale_ms))
            continue;
        cJSON *c = cJSON_CreateObject();
        if (!c || jset_str(c, "CallId", (const char *)sqlite3_column_text(q, 0)) ||
            jset_str(c, "FunctionName", (const char *)sqlite3_column_text(q, 1)) || !cJSON_AddItemToArray(arr, c)) {
            cJSON_Delete(c);
            r = oom(err);
            break;
        }
    }
    dwf__sql_done(s->st, q);
    return r < 0 ? -1 : 0;
}

int dwf_service_calls_due(dwf_service *s, const char *root_arn, double stale_ms, cJSON **out, dwf_error *err)
{
    *out = NULL;
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return oom(err);
    dwf__svc_lock(s);
    /* From the calls (the open ones only: a call's row goes when it ends) to their executions:
     * joined the other way, SQLite walked every RUNNING execution at each of dwf serve's passes,
     * and sorted, to find none. CROSS JOIN keeps calls the outer loop. */
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT c.id, c.function_name, c.state, c.owner, c.started_ms FROM calls c"
                                       " CROSS JOIN executions x ON x.id=c.exec_id WHERE x.status=" DWF__SQL_RUNNING
                                       " AND (?1 IS NULL OR x.root_arn=?1) ORDER BY c.rowid",
                                       "s", root_arn);
    int r = q ? collect_due(s, q, stale_ms, arr, err) : -1;
    dwf__svc_unlock(s);
    if (r != 0) {
        cJSON_Delete(arr);
        return -1;
    }
    *out = arr;
    return 0;
}

/* The call's row: 0 found (*exec_id, *op_id, *fn, *payload, *state new strings), 1 absent, -1 error. */
typedef struct call_row {
    char *exec_id, *op_id, *fn, *payload, *state;
} call_row;

static void call_row_free(call_row *c)
{
    free(c->exec_id);
    free(c->op_id);
    free(c->fn);
    free(c->payload);
    free(c->state);
}

static int call_load(dwf_service *s, const char *id, call_row *c, dwf_error *err)
{
    memset(c, 0, sizeof *c);
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT exec_id, op_id, function_name, payload, state FROM calls WHERE id=?1",
                                       "s", id);
    if (!q) return -1;
    int r = dwf__sql_step(s->st, q, err), bad = 0;
    if (r == 1) {
        c->exec_id = dwf__col_strdup(q, 0, &bad);
        c->op_id = dwf__col_strdup(q, 1, &bad);
        c->fn = dwf__col_strdup(q, 2, &bad);
        c->payload = dwf__col_strdup(q, 3, &bad);
        c->state = dwf__col_strdup(q, 4, &bad);
        r = bad ? oom(err) : 0;
    } else if (r == 0) {
        r = 1;
    }
    dwf__sql_done(s->st, q);
    if (r != 0) call_row_free(c);
    return r;
}

int dwf_service_call_begin(dwf_service *s, const char *call_id, cJSON **out, dwf_error *err)
{
    *out = NULL;
    if (!call_id || !*call_id) return fail(err, IPVE, "CallId is required.");
    char owner[300];
    if (dwf__svc_owner_self(owner, sizeof owner) != 0) return oom(err);
    dwf__svc_lock(s);
    if (dwf__store_begin(s->st, err) != 0) return dwf__svc_abort(s);
    call_row c;
    int r = call_load(s, call_id, &c, err);
    if (r == 1) r = fail(err, IPVE, "The call %s is no longer waiting (answered, or its caller moved on).", call_id);
    if (r != 0) return dwf__svc_abort(s);
    dwf__exec *e = NULL;
    r = dwf__exec_load(s->st, c.exec_id, &e, err);
    if (r == 0 && e->status != DWF_EXECSTATUS_RUNNING)
        r = fail(err, IPVE, "The caller of call %s is not running (status %s).", call_id,
                 dwf_execstatus_name(e->status));
    else if (r == 1)
        r = fail(err, IPVE, "The caller of call %s is gone.", call_id);
    if (r == 0)
        r = dwf__sql_exec(s->st, err, "UPDATE calls SET state=?2, owner=?3, started_ms=?4 WHERE id=?1", "sssd", call_id,
                          CALL_RUNNING, owner, dwf_service_now(s));
    cJSON *o = r == 0 ? cJSON_CreateObject() : NULL;
    if (r == 0 && (!o || jset_str(o, "CallId", call_id) || jset_str(o, "FunctionName", c.fn) ||
                   jset_str(o, "Payload", c.payload) || jset_str(o, "CallerArn", e->arn)))
        r = oom(err);
    dwf__exec_free(e);
    call_row_free(&c);
    if (r != 0 || dwf__svc_commit(s, err) != 0) {
        cJSON_Delete(o);
        return r != 0 ? dwf__svc_abort(s) : -1;
    }
    *out = o;
    return 0;
}

/* The caller's CHAINED_INVOKE takes the call's outcome: SUCCEEDED with the result, or FAILED
 * with the error, its event, and the caller is woken. */
static int complete_caller(dwf_service *s, dwf__exec *e, const char *op_id, const char *result, const cJSON *error,
                           dwf_error *err)
{
    cJSON *op = NULL;
    long long seq = -1;
    int r = dwf__svc_op_load(s, e, op_id, &op, &seq, err);
    if (r != 0 || op_status(op) != DWF_OPSTATUS_STARTED) {
        cJSON_Delete(op);
        return r < 0 ? -1 : 0;
    }
    cJSON *det = cJSON_CreateObject(), *evd = cJSON_CreateObject();
    int bad = !det || !evd;
    enum dwf_eventtype ev;
    if (error) {
        bad |= jset(det, "Error", jdup(error)) | jset(evd, "Error", dwf__svc_wrap_error(error));
        ev = DWF_EVENTTYPE_CHAINED_INVOKE_FAILED;
    } else {
        bad |= jset_str(det, "Result", result ? result : "null") |
               jset(evd, "Result", dwf__svc_wrap_payload(result ? result : "null"));
        ev = DWF_EVENTTYPE_CHAINED_INVOKE_SUCCEEDED;
    }
    bad |= jset(op, "ChainedInvokeDetails", det);
    det = NULL;
    bad |= jset_str(op, "Status", dwf_opstatus_name(error ? DWF_OPSTATUS_FAILED : DWF_OPSTATUS_SUCCEEDED));
    bad |= jset_ts(op, "EndTimestamp", dwf__svc_now(s, e));
    if (bad) {
        cJSON_Delete(evd);
        r = oom(err);
    } else if ((r = dwf__svc_op_save(s, e, op, &seq, err)) != 0) {
        cJSON_Delete(evd);
    } else if ((r = dwf__svc_event_add(s, e, ev, op, evd, err)) == 0) { /* event_add takes evd */
        dwf__svc_wake(e);
        r = dwf__exec_save(s->st, e, err);
    }
    cJSON_Delete(op);
    return r;
}

int dwf_service_call_end(dwf_service *s, const char *call_id, const char *result, const cJSON *error,
                         dwf_error *err)
{
    if (!call_id || !*call_id) return fail(err, IPVE, "CallId is required.");
    if (error && !cJSON_IsObject(error)) return fail(err, IPVE, "The call's error must be an ErrorObject.");
    dwf__svc_lock(s);
    if (dwf__store_begin(s->st, err) != 0) return dwf__svc_abort(s);
    call_row c;
    int r = call_load(s, call_id, &c, err);
    if (r == 1) return dwf__svc_commit(s, err); /* its caller moved on: the answer changes nothing */
    if (r != 0) return dwf__svc_abort(s);
    dwf__exec *e = NULL;
    r = dwf__exec_load(s->st, c.exec_id, &e, err);
    if (r == 0 && e->status == DWF_EXECSTATUS_RUNNING) r = complete_caller(s, e, c.op_id, result, error, err);
    if (r >= 0) r = dwf__sql_exec(s->st, err, "DELETE FROM calls WHERE id=?1", "s", call_id);
    dwf__exec_free(e);
    call_row_free(&c);
    if (r != 0) return dwf__svc_abort(s);
    return dwf__svc_commit(s, err);
}
