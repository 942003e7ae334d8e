/*
 * executions.c: an execution's life outside its invocations: start (Invoke, and the target of a
 * chained invoke), the end (by the handler, a timeout, a stop), the caller of a chained invoke
 * learning that end, StopDurableExecution, and retention.
 *
 * Every end goes through dwf__svc_exec_close, whoever decides it (the handler's response, an
 * EXECUTION checkpoint, the execution timeout, a stop, a cancelled caller): one place writes the
 * status, the EXECUTION operation, the closing event, retires tokens, timers and callbacks, and
 * completes the caller's CHAINED_INVOKE operation.
 */
#include "service_impl.h"

#include <stdlib.h>
#include <string.h>

/* The rows of a new execution: itself, its EXECUTION operation (STARTED, the input), the
 * ExecutionStarted event, the execution-timeout timer. */
/* The row goes in last, as its operation, event and timer left it: inserted first, it was
 * written again at once (op_count, seq, event_count) by an UPDATE, after a SELECT of the number
 * the INSERT had given it (~25,000 instructions of every start). Nothing below reads the row. */
static int exec_create(dwf_service *s, dwf__exec *e, dwf_error *err)
{
    if (dwf__exec_number(s->st, e, err) != 0) return -1;
    cJSON *op = cJSON_CreateObject(), *d;
    int bad = !op || jset_str(op, "Id", e->id) || jset_str(op, "Type", dwf_optype_name(DWF_OPTYPE_EXECUTION)) ||
              jset_str(op, "Status", dwf_opstatus_name(DWF_OPSTATUS_STARTED)) || jset_ts(op, "StartTimestamp", e->start_ms) ||
              !(d = jobj(op, "ExecutionDetails")) || jset_str(d, "InputPayload", e->input);
    long long seq0 = -1;
    int r = bad ? oom(err) : dwf__svc_op_save(s, e, op, &seq0, err);
    cJSON_Delete(op);
    if (r != 0) return -1;
    d = cJSON_CreateObject();
    if (!d || jset(d, "Input", dwf__svc_wrap_payload(e->input)) || jset_num(d, "ExecutionTimeout", e->timeout_s)) {
        cJSON_Delete(d);
        return oom(err);
    }
    if (dwf__svc_exec_event(s, e, DWF_EVENTTYPE_EXECUTION_STARTED, d, err) != 0 ||
        dwf__svc_timer_set(s, e, e->id, DWF__TIMER_EXECUTION_TIMEOUT, e->start_ms + e->timeout_s * 1000.0, err) != 0)
        return -1;
    return dwf__exec_insert(s->st, e, err);
}

/* A chained-invoke target runs on its caller's clock: the tree shares one virtual time. */
static int parent_clock(dwf_service *s, const char *parent_arn, double *offset, dwf_error *err)
{
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, "SELECT clock_offset_ms FROM executions WHERE arn=?1", "s",
                                       parent_arn);
    if (!q) return -1;
    int r = dwf__sql_step(s->st, q, err);
    if (r == 1) *offset = sqlite3_column_double(q, 0);
    dwf__sql_done(s->st, q);
    return r < 0 ? -1 : 0;
}

/* An execution started earlier under this name: the same one if the input is the same. */
static int start_again(const dwf__exec *old, const char *name, const char *input, dwf_error *err)
{
    if (strcmp(old->input ? old->input : "{}", input) == 0) return 0;
    return fail(err, DWF_ERRORTYPE_DURABLE_EXECUTION_ALREADY_STARTED,
                "Durable execution with name %s already exists with a different input.", name);
}

static int record_workflow(dwf_service *s, const dwf__exec *e, dwf_error *err);

int dwf__svc_start(dwf_service *s, const char *function_name, const char *name, const char *input,
                   const char *parent_arn, const char *parent_op, const char *root_arn, dwf__exec **out_e,
                   int *already, dwf_error *err)
{
    *out_e = NULL;
    *already = 0;
    if (!input) input = "{}";
    if (strlen(input) > DWF_LIMIT_SYNC_PAYLOAD)
        return fail(err, IPVE, "Request payload size must be less than or equal to %d bytes.", DWF_LIMIT_SYNC_PAYLOAD);
    if (name && !dwf__svc_valid_id(name))
        return fail(err, IPVE, "Invalid DurableExecutionName: must be 1-64 characters [a-zA-Z0-9-_].");
    char base[256];
    int has_hash = 0, durable = 0, retention, timeout;
    int r = dwf__svc_function_start(s, function_name, base, &durable, &retention, &timeout, &has_hash, err);
    if (r < 0) return -1;
    if (r == 1)
        return fail(err, RNFE, "Function not found: arn:aws:lambda:%s:%s:function:%s", s->region, s->account,
                    function_name);
    if (!durable)
        return fail(err, IPVE, "Function %s is not a durable function (it has no DurableConfig): it runs no durable "
                    "execution.", base);
    double offset = 0;
    if (parent_arn && parent_clock(s, parent_arn, &offset, err) != 0) return -1;

    if (name) {
        dwf__exec *old = NULL;
        r = dwf__exec_load_by_name(s->st, base, name, &old, err);
        if (r < 0) return -1;
        if (r == 0) {
            if (start_again(old, name, input, err) != 0) {
                dwf__exec_free(old);
                return -1;
            }
            *out_e = old;
            *already = 1;
            return 0;
        }
    }
    char id[40], arn[700], qual[160];
    dwf__svc_uuid(id);
    /* The version invoked is part of the ARN: it says which code runs the execution. */
    dwf__svc_function_qualifier(function_name, qual);
    if (strspn(qual, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789$_-") != strlen(qual))
        return fail(err, IPVE, "Invalid qualifier '%s' in %s.", qual, function_name);
    snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:function:%s:%s/durable-execution/%s/%s", s->region,
             s->account, base, qual, name ? name : id, id);
    dwf__exec *e = calloc(1, sizeof *e);
    if (!e) return oom(err);
    int bad = dwf__set_str(&e->id, id) | dwf__set_str(&e->arn, arn) | dwf__set_str(&e->name, name ? name : id) |
              dwf__set_str(&e->function_name, base) | dwf__set_str(&e->input, input) |
              dwf__set_str(&e->parent_arn, parent_arn) | dwf__set_str(&e->parent_op, parent_op) |
              dwf__set_str(&e->root_arn, root_arn ? root_arn : arn);
    e->status = DWF_EXECSTATUS_RUNNING;
    e->clock_offset_ms = offset;
    e->start_ms = dwf__svc_now(s, e);
    e->retention_days = retention;
    e->timeout_s = timeout;
    e->wake = 1;
    /* A CHAINED_INVOKE's target: nobody queued it (a host queues the executions it starts). */
    if (parent_arn) dwf__svc_runnable_mark();
    /* A new row's workflow_hash is NULL: copied only when the function has one (the emulator's
     * functions have none), which spares every Invoke on dwf serve an UPDATE of the row it just
     * inserted (~17,000 instructions per execution of bench/throughput.sh's Event row). The
     * function's row read above is the one the UPDATE would read: same call, same transaction. */
    if (bad ? oom(err) : exec_create(s, e, err) != 0 || (has_hash && record_workflow(s, e, err) != 0)) {
        dwf__exec_free(e);
        return -1;
    }
    *out_e = e;
    return 0;
}

/* The execution runs on the function's current workflow: record its hash (NULL when the
 * function was registered without one, as the emulator's are). */
static int record_workflow(dwf_service *s, const dwf__exec *e, dwf_error *err)
{
    return dwf__sql_exec(s->st, err,
                         "UPDATE executions SET workflow_hash=(SELECT workflow_hash FROM functions WHERE name=?1)"
                         " WHERE id=?2",
                         "ss", e->function_name, e->id);
}

int dwf_service_execution_workflow(dwf_service *s, const char *arn, cJSON **out, dwf_error *err)
{
    *out = NULL;
    dwf__svc_lock(s);
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT e.workflow_hash, w.handler, w.source FROM executions e"
                                       " LEFT JOIN workflows w ON w.hash=e.workflow_hash WHERE e.arn=?1 OR e.id=?1",
                                       "s", arn);
    int r = q ? dwf__sql_step(s->st, q, err) : -1;
    if (r == 1) {
        cJSON *o = cJSON_CreateObject();
        const char *keys[] = {"WorkflowHash", "Handler", "Source"};
        int bad = !o;
        for (int i = 0; i < 3 && !bad; i++)
            if (sqlite3_column_type(q, i) == SQLITE_TEXT)
                bad = jset_str(o, keys[i], (const char *)sqlite3_column_text(q, i));
        if (bad) {
            cJSON_Delete(o);
            r = oom(err);
        } else {
            *out = o;
            r = 0;
        }
    } else if (r == 0) {
        r = fail(err, RNFE, "Execution not found: %s", arn);
    }
    if (q) dwf__sql_done(s->st, q);
    dwf__svc_unlock(s);
    return r;
}

int dwf_service_set_execution_workflow(dwf_service *s, const char *arn, const char *hash, dwf_error *err)
{
    dwf__svc_lock(s);
    if (dwf__store_begin(s->st, err) != 0) return dwf__svc_abort(s);
    if (dwf__sql_exec(s->st, err, "UPDATE executions SET workflow_hash=?2 WHERE arn=?1 OR id=?1", "ss", arn, hash) != 0)
        return dwf__svc_abort(s);
    return dwf__svc_commit(s, err);
}

int dwf_service_start(dwf_service *s, const cJSON *req, cJSON **out, dwf_error *err)
{
    *out = NULL;
    const char *fn = jstr(req, "FunctionName");
    if (!fn || !*fn) return fail(err, IPVE, "FunctionName is required.");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(req, "Input");
    if (in && !cJSON_IsString(in)) return fail(err, IPVE, "Input must be a string payload.");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(req, "DurableExecutionName");
    if (nm && !cJSON_IsString(nm)) return fail(err, IPVE, "DurableExecutionName must be a string.");
    dwf__svc_lock(s);
    if (dwf__store_begin(s->st, err) != 0) return dwf__svc_abort(s);
    dwf__exec *e = NULL;
    int already = 0;
    if (dwf__svc_start(s, fn, nm ? nm->valuestring : NULL, in ? in->valuestring : NULL, NULL, NULL, NULL, &e,
                       &already, err) != 0)
        return dwf__svc_abort(s);
    cJSON *o = cJSON_CreateObject();
    int bad = !o || jset_str(o, "DurableExecutionArn", e->arn) || jset_str(o, "DurableExecutionName", e->name) ||
              jset_str(o, "Status", dwf_execstatus_name(e->status)) ||
              jset(o, "AlreadyStarted", cJSON_CreateBool(already));
    dwf__exec_free(e);
    if (bad) {
        cJSON_Delete(o);
        oom(err);
        return dwf__svc_abort(s);
    }
    if (dwf__svc_commit(s, err) != 0) {
        cJSON_Delete(o);
        return -1;
    }
    *out = o;
    return 0;
}

/* ---- the end of an execution ------------------------------------------------------------------- */
static int notify_parent(dwf_service *s, const dwf__exec *child, dwf_error *err);

/* The closing event of each terminal execution status. */
static enum dwf_eventtype close_event(enum dwf_execstatus st)
{
    switch (st) {
    case DWF_EXECSTATUS_SUCCEEDED: return DWF_EVENTTYPE_EXECUTION_SUCCEEDED;
    case DWF_EXECSTATUS_FAILED: return DWF_EVENTTYPE_EXECUTION_FAILED;
    case DWF_EXECSTATUS_TIMED_OUT: return DWF_EVENTTYPE_EXECUTION_TIMED_OUT;
    case DWF_EXECSTATUS_STOPPED: return DWF_EVENTTYPE_EXECUTION_STOPPED;
    case DWF_EXECSTATUS_NONE:
    case DWF_EXECSTATUS_RUNNING:
    case DWF_EXECSTATUS_UNKNOWN: break;
    }
    return DWF_EVENTTYPE_NONE;
}

/* The EXECUTION operation takes the execution's terminal status (the names are the same). */
static int exec_op_close(dwf_service *s, dwf__exec *e, dwf_error *err)
{
    cJSON *op = NULL;
    long long seq = -1;
    int r = dwf__svc_op_load(s, e, e->id, &op, &seq, err);
    if (r != 0) return r < 0 ? -1 : 0;
    int bad = jset_str(op, "Status", dwf_execstatus_name(e->status)) | jset_ts(op, "EndTimestamp", e->end_ms);
    r = bad ? oom(err) : dwf__svc_op_save(s, e, op, &seq, err);
    cJSON_Delete(op);
    return r;
}

int dwf__svc_exec_close(dwf_service *s, dwf__exec *e, enum dwf_execstatus status, const char *result,
                        const cJSON *errobj, dwf_error *err)
{
    char *errjson = errobj ? cJSON_PrintUnformatted(errobj) : NULL;
    if (errobj && !errjson) return oom(err);
    int bad = dwf__set_str(&e->result, result) | dwf__set_str(&e->error, errjson);
    free(errjson);
    if (bad) return oom(err);
    e->status = status;
    e->end_ms = dwf__svc_now(s, e);
    e->wake = 0;
    if (exec_op_close(s, e, err) != 0) return -1;
    cJSON *d = cJSON_CreateObject();
    bad = !d;
    if (status == DWF_EXECSTATUS_SUCCEEDED) bad |= jset(d, "Result", dwf__svc_wrap_payload(result));
    else bad |= jset(d, "Error", dwf__svc_wrap_error(errobj));
    if (bad) {
        cJSON_Delete(d);
        return oom(err);
    }
    if (dwf__svc_exec_event(s, e, close_event(status), d, err) != 0) return -1;
    dwf__svc_token_retire(e);
    if (dwf__sql_exec(s->st, err, "DELETE FROM timers WHERE exec_id=?1", "s", e->id) != 0 ||
        dwf__sql_exec(s->st, err, "UPDATE callbacks SET state=?2 WHERE exec_id=?1 AND state=?3", "sss", e->id,
                      dwf__svc_cbstate_name(DWF__CB_CLOSED), dwf__svc_cbstate_name(DWF__CB_OPEN)) != 0 ||
        dwf__svc_call_drop(s, e, NULL, err) != 0)
        return -1;
    return notify_parent(s, e, err);
}

/* What the caller's CHAINED_INVOKE operation becomes when its target ends: the same status,
 * the target's result or error, and the matching event (det and evd are filled). */
static enum dwf_eventtype chained_outcome(const dwf__exec *child, cJSON *det, cJSON *evd, int *bad)
{
    if (child->status == DWF_EXECSTATUS_SUCCEEDED) {
        *bad |= jset_str(det, "Result", child->result);
        *bad |= jset(evd, "Result", dwf__svc_wrap_payload(child->result));
        return DWF_EVENTTYPE_CHAINED_INVOKE_SUCCEEDED;
    }
    cJSON *eo = child->error ? cJSON_Parse(child->error) : NULL;
    if (!cJSON_IsObject(eo)) {
        cJSON_Delete(eo);
        eo = dwf__svc_error_object(dwf_execstatus_name(child->status), "The invoked durable execution did not succeed.");
    }
    *bad |= !eo;
    *bad |= jset(evd, "Error", dwf__svc_wrap_error(eo));
    *bad |= jset(det, "Error", eo);
    return child->status == DWF_EXECSTATUS_FAILED      ? DWF_EVENTTYPE_CHAINED_INVOKE_FAILED
           : child->status == DWF_EXECSTATUS_TIMED_OUT ? DWF_EVENTTYPE_CHAINED_INVOKE_TIMED_OUT
                                                       : DWF_EVENTTYPE_CHAINED_INVOKE_STOPPED;
}

/* A chained-invoke target finished: complete the caller's CHAINED_INVOKE operation. */
static int notify_parent(dwf_service *s, const dwf__exec *child, dwf_error *err)
{
    if (!child->parent_arn || !child->parent_op) return 0;
    dwf__exec *p = NULL;
    int r = dwf__exec_load(s->st, child->parent_arn, &p, err);
    if (r != 0) return r < 0 ? -1 : 0;
    cJSON *op = NULL;
    long long seq = -1;
    if (p->status != DWF_EXECSTATUS_RUNNING || (r = dwf__svc_op_load(s, p, child->parent_op, &op, &seq, err)) != 0 ||
        op_status(op) != DWF_OPSTATUS_STARTED) {
        cJSON_Delete(op);
        dwf__exec_free(p);
        return r < 0 ? -1 : 0;
    }
    cJSON *det = cJSON_CreateObject(), *evd = cJSON_CreateObject();
    int bad = !det || !evd;
    enum dwf_eventtype ev = chained_outcome(child, det, evd, &bad);
    bad |= jset(op, "ChainedInvokeDetails", det);
    bad |= jset_str(op, "Status", dwf_execstatus_name(child->status));
    bad |= jset_ts(op, "EndTimestamp", dwf__svc_now(s, p));
    if (bad) {
        cJSON_Delete(evd);
        r = oom(err);
    } else if ((r = dwf__svc_op_save(s, p, op, &seq, err)) != 0) {
        cJSON_Delete(evd);
    } else if ((r = dwf__svc_event_add(s, p, ev, op, evd, err)) == 0) { /* event_add takes evd */
        dwf__svc_wake(p);
        r = dwf__exec_save(s->st, p, err);
    }
    cJSON_Delete(op);
    dwf__exec_free(p);
    return r;
}

/* ---- StopDurableExecution ------------------------------------------------------------------------ */
int dwf_service_stop(dwf_service *s, const char *arn, const cJSON *error_object_in, cJSON **out, dwf_error *err)
{
    *out = NULL;
    if (error_object_in && !cJSON_IsObject(error_object_in))
        return fail(err, IPVE, "The stop error must be an ErrorObject.");
    dwf__svc_lock(s);
    if (dwf__store_begin(s->st, err) != 0) return dwf__svc_abort(s);
    dwf__exec *e = NULL;
    if (dwf__svc_exec_get(s, arn, &e, err) != 0) return dwf__svc_abort(s);
    if (e->status != DWF_EXECSTATUS_RUNNING) {
        fail(err, IPVE, "Durable execution %s is not running (status %s).", e->arn, dwf_execstatus_name(e->status));
        dwf__exec_free(e);
        return dwf__svc_abort(s);
    }
    cJSON *eo = error_object_in ? cJSON_Duplicate(error_object_in, 1)
                                : dwf__svc_error_object("ExecutionStopped", "The durable execution was stopped.");
    double now = dwf__svc_now(s, e);
    int r = eo ? dwf__svc_exec_close(s, e, DWF_EXECSTATUS_STOPPED, NULL, eo, err) : oom(err);
    cJSON_Delete(eo);
    if (r == 0) r = dwf__exec_save(s->st, e, err);
    dwf__exec_free(e);
    if (r != 0) return dwf__svc_abort(s);
    cJSON *o = cJSON_CreateObject();
    if (!o || jset_ts(o, "StopTimestamp", now)) {
        cJSON_Delete(o);
        oom(err);
        return dwf__svc_abort(s);
    }
    if (dwf__svc_commit(s, err) != 0) {
        cJSON_Delete(o);
        return -1;
    }
    *out = o;
    return 0;
}

/* ---- retention ------------------------------------------------------------------------------------ */
int dwf_service_purge_expired(dwf_service *s, int *deleted, dwf_error *err)
{
    if (deleted) *deleted = 0;
    dwf__svc_lock(s);
    double now = dwf_service_now(s);
    const char *running = dwf_execstatus_name(DWF_EXECSTATUS_RUNNING);
    /* end_ms is on the execution's clock: less its virtual offset, it is the real instant it
     * ended, so retention counts real time whatever --skip-time did to any clock. */
    const char *sel = "SELECT id FROM executions WHERE status!=?2"
                      " AND end_ms - clock_offset_ms + retention_days*86400000.0 < ?1";
    /* Look first without a write lock: a store another process is writing can still be read. */
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, sel, "ds", now, running);
    int r = q ? dwf__sql_step(s->st, q, err) : -1;
    dwf__sql_done(s->st, q);
    if (r <= 0) {
        dwf__svc_unlock(s);
        return r;
    }
    if (dwf__store_begin(s->st, err) != 0) return dwf__svc_abort(s);
    cJSON *ids = cJSON_CreateArray();
    q = dwf__sql_prepare(s->st, err, sel, "ds", now, running);
    r = !q ? -1 : !ids ? oom(err) : 0;
    while (r == 0 && (r = dwf__sql_step(s->st, q, err)) == 1)
        r = cJSON_AddItemToArray(ids, cJSON_CreateString((const char *)sqlite3_column_text(q, 0))) ? 0 : oom(err);
    dwf__sql_done(s->st, q);
    for (cJSON *id = ids ? ids->child : NULL; r == 0 && id; id = id->next) {
        r = dwf__exec_delete(s->st, id->valuestring, err);
        if (r == 0 && deleted) (*deleted)++;
    }
    cJSON_Delete(ids);
    if (r != 0) return dwf__svc_abort(s);
    return dwf__svc_commit(s, err);
}
