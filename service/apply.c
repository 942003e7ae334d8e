/*
 * apply.c: what one checkpoint update does to its operation, one function per operation type.
 *
 * checkpoint.c has checked the update's shape and the batch rules; here the operation's
 * current status decides whether the action is allowed, and the action writes the new status,
 * the type's details, any timer or callback row, and the history event. The rules, as
 * docs/protocol.md states them ("new" = no operation with this Id yet):
 *
 *   type            START                   SUCCEED / FAIL             RETRY            CANCEL
 *   STEP            new or READY: STARTED   new, STARTED or READY      same: PENDING    -
 *   CONTEXT         new: STARTED            new or STARTED             -                -
 *   WAIT            new: STARTED + timer    -                          -                STARTED
 *   CALLBACK        new: STARTED + id       -                          -                STARTED
 *   CHAINED_INVOKE  new: STARTED + target   -                          -                STARTED
 *   EXECUTION       -                       ends the execution         -                -
 *
 * SUCCEED / FAIL / RETRY of an unknown STEP, and SUCCEED / FAIL of an unknown CONTEXT, are
 * legal: the SDK does not wait for the START of an at-least-once step or of a child context,
 * so the START may share the request with the closing update, or never be sent at all.
 *
 * Each type's function switches over every action (no default), so a new action in
 * dwf_protocol.h makes the compiler point at every type that must decide about it; a new
 * operation type does the same in apply_by_type.
 */
#include "service_impl.h"

#include <stdlib.h>
#include <string.h>

/* One update being applied. The type's function fills op (a START creates it), event and details. */
typedef struct apply {
    dwf_service *s;
    dwf__exec *e;
    const dwf__update *up;
    double now;
    cJSON *op;                /* the operation: as stored, NULL if new */
    long long seq;            /* its start sequence (-1: not stored yet) */
    enum dwf_opstatus cur;    /* its status before this update (NONE: new) */
    enum dwf_eventtype event; /* the history event this update appends (NONE: none) */
    cJSON *details;           /* that event's details, owned until appended */
} apply;

static const char *status_name(enum dwf_opstatus st) { return dwf_opstatus_name(st); }

/* A new Operation from the update: Id, ParentId, Name, Type, SubType, Status, StartTimestamp. */
static int op_create(apply *a, dwf_error *err)
{
    const cJSON *u = a->up->u;
    cJSON *op = cJSON_CreateObject();
    int bad = !op || jset_str(op, "Id", a->up->id) || jset_str(op, "ParentId", jstr(u, "ParentId")) ||
              jset_str(op, "Name", jstr(u, "Name")) || jset_str(op, "Type", dwf_optype_name(a->up->type)) ||
              jset_str(op, "SubType", jstr(u, "SubType")) || jset_str(op, "Status", status_name(DWF_OPSTATUS_STARTED)) ||
              jset_ts(op, "StartTimestamp", a->now);
    if (bad) {
        cJSON_Delete(op);
        return oom(err);
    }
    a->op = op;
    return 0;
}

/* The operation's new terminal status, stamped now. */
static int op_end(apply *a, enum dwf_opstatus st)
{
    return jset_str(a->op, "Status", status_name(st)) | jset_ts(a->op, "EndTimestamp", a->now);
}

/* The event this update appends, with empty details to fill in (0, or 1 on OOM). */
static int event_set(apply *a, enum dwf_eventtype ev)
{
    a->event = ev;
    a->details = cJSON_CreateObject();
    return !a->details;
}

static int bad_action(const apply *a, dwf_error *err)
{
    return fail(err, IPVE, "Invalid action %s for a %s operation.", dwf_action_name(a->up->action),
                dwf_optype_name(a->up->type));
}

static int number_in(const cJSON *v, double lo, double hi)
{
    return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi;
}

/* ---- STEP ---------------------------------------------------------------------------------- */
static int step_start(apply *a, dwf_error *err)
{
    if (a->op && a->cur != DWF_OPSTATUS_READY) return fail(err, IPVE, "Invalid current STEP state to start.");
    if (!a->op && op_create(a, err) != 0) return -1;
    int bad = jset_str(a->op, "Status", status_name(DWF_OPSTATUS_STARTED));
    bad |= event_set(a, DWF_EVENTTYPE_STEP_STARTED);
    return bad ? oom(err) : 0;
}

/* SUCCEED, FAIL and RETRY end an attempt: only of a new, STARTED or READY step. */
static int step_may_end(const apply *a, dwf_error *err)
{
    if (!a->op || a->cur == DWF_OPSTATUS_STARTED || a->cur == DWF_OPSTATUS_READY) return 0;
    return fail(err, IPVE, "Invalid current STEP state to %s.",
                a->up->action == DWF_ACTION_RETRY ? "re-attempt" : "close");
}

/* The attempt ends: Attempt counts it, its Payload / Error replace the last attempt's, and a
 * RETRY (delay given) makes the step PENDING until its retry timer, the others end it. */
static int step_end_attempt(apply *a, const cJSON *delay, dwf_error *err)
{
    const char *payload = a->up->payload;
    const cJSON *error = a->up->error;
    if (!a->op && op_create(a, err) != 0) return -1;
    cJSON *sd = jobj(a->op, "StepDetails");
    if (!sd) return oom(err);
    const cJSON *at = cJSON_GetObjectItemCaseSensitive(sd, "Attempt");
    int attempt = (cJSON_IsNumber(at) ? (int)at->valuedouble : 0) + 1;
    int bad = jset_num(sd, "Attempt", attempt);
    /* NextAttemptTimestamp stays until a new RETRY sets it (the SDK's testing service does the same). */
    cJSON_DeleteItemFromObjectCaseSensitive(sd, "Result");
    cJSON_DeleteItemFromObjectCaseSensitive(sd, "Error");
    if (payload) bad |= jset_str(sd, "Result", payload);
    if (error) bad |= jset(sd, "Error", jdup(error));
    if (delay) {
        double due = a->now + delay->valuedouble * 1000.0;
        bad |= jset_ts(sd, "NextAttemptTimestamp", due);
        bad |= jset_str(a->op, "Status", status_name(DWF_OPSTATUS_PENDING));
        if (dwf__svc_timer_set(a->s, a->e, a->up->id, DWF__TIMER_STEP_RETRY, due, err) != 0) return -1;
        /* A RETRY with a Payload and no Error is a waitForCondition poll, not a failure. */
        bad |= event_set(a, error ? DWF_EVENTTYPE_STEP_FAILED : DWF_EVENTTYPE_STEP_SUCCEEDED);
    } else {
        int ok = a->up->action == DWF_ACTION_SUCCEED;
        bad |= op_end(a, ok ? DWF_OPSTATUS_SUCCEEDED : DWF_OPSTATUS_FAILED);
        bad |= event_set(a, ok ? DWF_EVENTTYPE_STEP_SUCCEEDED : DWF_EVENTTYPE_STEP_FAILED);
    }
    if (bad) return oom(err);
    if (error) bad |= jset(a->details, "Error", dwf__svc_wrap_error(error));
    else bad |= jset(a->details, "Result", dwf__svc_wrap_payload(payload));
    cJSON *rd = jobj(a->details, "RetryDetails");
    bad |= !rd || jset_num(rd, "CurrentAttempt", attempt);
    if (delay) bad |= jset_num(rd, "NextAttemptDelaySeconds", delay->valuedouble);
    return bad ? oom(err) : 0;
}

static int step_retry(apply *a, dwf_error *err)
{
    if (step_may_end(a, err) != 0) return -1;
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(a->up->u, "StepOptions");
    const cJSON *delay = cJSON_GetObjectItemCaseSensitive(so, "NextAttemptDelaySeconds");
    if (!so || !delay) return fail(err, IPVE, "StepOptions.NextAttemptDelaySeconds is required to re-attempt a STEP.");
    if (!number_in(delay, 1, DWF_LIMIT_DELAY_S))
        return fail(err, IPVE, "NextAttemptDelaySeconds must be between 1 and %.0f.", DWF_LIMIT_DELAY_S);
    if (a->up->payload && a->up->error)
        return fail(err, IPVE, "Cannot provide both a Payload and an Error to re-attempt a STEP.");
    return step_end_attempt(a, delay, err);
}

static int apply_step(apply *a, dwf_error *err)
{
    switch (a->up->action) {
    case DWF_ACTION_START: return step_start(a, err);
    case DWF_ACTION_SUCCEED:
    case DWF_ACTION_FAIL: return step_may_end(a, err) != 0 ? -1 : step_end_attempt(a, NULL, err);
    case DWF_ACTION_RETRY: return step_retry(a, err);
    case DWF_ACTION_CANCEL:
    case DWF_ACTION_NONE:
    case DWF_ACTION_UNKNOWN: break;
    }
    return bad_action(a, err);
}

/* ---- CONTEXT ------------------------------------------------------------------------------- */
/* ContextOptions.ReplayChildren, when given, is kept in ContextDetails (0, or 1 on OOM). */
static int context_replay_children(apply *a)
{
    const cJSON *co = cJSON_GetObjectItemCaseSensitive(a->up->u, "ContextOptions");
    const cJSON *rc = cJSON_GetObjectItemCaseSensitive(co, "ReplayChildren");
    return cJSON_IsBool(rc) ? jset(jobj(a->op, "ContextDetails"), "ReplayChildren", jdup(rc)) != 0 : 0;
}

static int context_start(apply *a, dwf_error *err)
{
    if (a->op) return fail(err, IPVE, "Cannot start a CONTEXT that already exists.");
    if (op_create(a, err) != 0) return -1;
    int bad = context_replay_children(a);
    bad |= event_set(a, DWF_EVENTTYPE_CONTEXT_STARTED);
    return bad ? oom(err) : 0;
}

static int context_end(apply *a, dwf_error *err)
{
    int ok = a->up->action == DWF_ACTION_SUCCEED;
    if (a->op && a->cur != DWF_OPSTATUS_STARTED) return fail(err, IPVE, "Invalid current CONTEXT state to close.");
    if (!a->op && op_create(a, err) != 0) return -1;
    cJSON *cd = jobj(a->op, "ContextDetails");
    if (!cd) return oom(err);
    int bad = context_replay_children(a);
    bad |= event_set(a, ok ? DWF_EVENTTYPE_CONTEXT_SUCCEEDED : DWF_EVENTTYPE_CONTEXT_FAILED);
    if (bad) return oom(err);
    if (ok) {
        if (a->up->payload) bad |= jset_str(cd, "Result", a->up->payload);
        bad |= jset(a->details, "Result", dwf__svc_wrap_payload(a->up->payload));
    } else {
        if (a->up->error) bad |= jset(cd, "Error", jdup(a->up->error));
        bad |= jset(a->details, "Error", dwf__svc_wrap_error(a->up->error));
    }
    bad |= op_end(a, ok ? DWF_OPSTATUS_SUCCEEDED : DWF_OPSTATUS_FAILED);
    return bad ? oom(err) : 0;
}

static int apply_context(apply *a, dwf_error *err)
{
    switch (a->up->action) {
    case DWF_ACTION_START: return context_start(a, err);
    case DWF_ACTION_SUCCEED:
    case DWF_ACTION_FAIL: return context_end(a, err);
    case DWF_ACTION_RETRY:
    case DWF_ACTION_CANCEL:
    case DWF_ACTION_NONE:
    case DWF_ACTION_UNKNOWN: break;
    }
    return bad_action(a, err);
}

/* ---- WAIT ---------------------------------------------------------------------------------- */
static int wait_start(apply *a, dwf_error *err)
{
    if (a->op) return fail(err, IPVE, "Cannot start a WAIT that already exists.");
    const cJSON *wo = cJSON_GetObjectItemCaseSensitive(a->up->u, "WaitOptions");
    const cJSON *ws = cJSON_GetObjectItemCaseSensitive(wo, "WaitSeconds");
    if (!number_in(ws, 1, DWF_LIMIT_DELAY_S))
        return fail(err, IPVE, "WaitOptions.WaitSeconds must be between 1 and %.0f.", DWF_LIMIT_DELAY_S);
    double due = a->now + ws->valuedouble * 1000.0;
    if (op_create(a, err) != 0) return -1;
    int bad = jset_ts(jobj(a->op, "WaitDetails"), "ScheduledEndTimestamp", due);
    if (dwf__svc_timer_set(a->s, a->e, a->up->id, DWF__TIMER_WAIT, due, err) != 0) return -1;
    bad |= event_set(a, DWF_EVENTTYPE_WAIT_STARTED) || jset_num(a->details, "Duration", ws->valuedouble) ||
           jset_ts(a->details, "ScheduledEndTimestamp", due);
    return bad ? oom(err) : 0;
}

static int wait_cancel(apply *a, dwf_error *err)
{
    if (a->cur != DWF_OPSTATUS_STARTED) return fail(err, IPVE, "Invalid current WAIT state to cancel.");
    int bad = op_end(a, DWF_OPSTATUS_CANCELLED);
    if (dwf__svc_timer_del(a->s, a->e, a->up->id, DWF__TIMER_UNKNOWN, err) != 0) return -1;
    bad |= event_set(a, DWF_EVENTTYPE_WAIT_CANCELLED) ||
           jset(a->details, "Error", dwf__svc_wrap_error(a->up->error));
    return bad ? oom(err) : 0;
}

static int apply_wait(apply *a, dwf_error *err)
{
    switch (a->up->action) {
    case DWF_ACTION_START: return wait_start(a, err);
    case DWF_ACTION_CANCEL: return wait_cancel(a, err);
    case DWF_ACTION_SUCCEED:
    case DWF_ACTION_FAIL:
    case DWF_ACTION_RETRY:
    case DWF_ACTION_NONE:
    case DWF_ACTION_UNKNOWN: break;
    }
    return bad_action(a, err);
}

/* ---- CALLBACK ------------------------------------------------------------------------------- */
/* START: the service issues the CallbackId; its timeout and heartbeat timeout (0 = none) are timers. */
static int callback_start(apply *a, dwf_error *err)
{
    if (a->op) return fail(err, IPVE, "Cannot start a CALLBACK that already exists.");
    const cJSON *co = cJSON_GetObjectItemCaseSensitive(a->up->u, "CallbackOptions");
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(co, "TimeoutSeconds");
    const cJSON *hb = cJSON_GetObjectItemCaseSensitive(co, "HeartbeatTimeoutSeconds");
    if ((to && !number_in(to, 0, DWF_LIMIT_CALLBACK_TIMEOUT_S)) || (hb && !number_in(hb, 0, DWF_LIMIT_CALLBACK_TIMEOUT_S)))
        return fail(err, IPVE, "CallbackOptions timeouts must be between 0 and %.0f seconds.",
                    DWF_LIMIT_CALLBACK_TIMEOUT_S);
    double tos = to ? to->valuedouble : 0, hbs = hb ? hb->valuedouble : 0;
    char *cbid = dwf__svc_callback_id_new(a->e, a->up->id);
    int r = !cbid || op_create(a, err) != 0 || jset_str(jobj(a->op, "CallbackDetails"), "CallbackId", cbid) ? oom(err) : 0;
    if (r == 0)
        r = dwf__sql_exec(a->s->st, err,
                          "INSERT INTO callbacks(callback_id, exec_id, op_id, state, timeout_s, heartbeat_s)"
                          " VALUES(?1,?2,?3,?4,?5,?6)",
                          "ssssdd", cbid, a->e->id, a->up->id, dwf__svc_cbstate_name(DWF__CB_OPEN), tos, hbs);
    if (r == 0 && tos > 0)
        r = dwf__svc_timer_set(a->s, a->e, a->up->id, DWF__TIMER_CALLBACK_TIMEOUT, a->now + tos * 1000.0, err);
    if (r == 0 && hbs > 0)
        r = dwf__svc_timer_set(a->s, a->e, a->up->id, DWF__TIMER_CALLBACK_HEARTBEAT, a->now + hbs * 1000.0, err);
    if (r == 0 && (event_set(a, DWF_EVENTTYPE_CALLBACK_STARTED) || jset_str(a->details, "CallbackId", cbid) ||
                   jset_num(a->details, "Timeout", tos) || jset_num(a->details, "HeartbeatTimeout", hbs)))
        r = oom(err);
    free(cbid);
    return r;
}

/* CANCEL: no event; the callback id can no longer be answered. */
static int callback_cancel(apply *a, dwf_error *err)
{
    if (a->cur != DWF_OPSTATUS_STARTED) return fail(err, IPVE, "Invalid current CALLBACK state to cancel.");
    if (op_end(a, DWF_OPSTATUS_CANCELLED)) return oom(err);
    if (dwf__svc_call_drop(a->s, a->e, a->up->id, err) != 0) return -1;
    if (dwf__svc_timer_del(a->s, a->e, a->up->id, DWF__TIMER_UNKNOWN, err) != 0) return -1;
    return dwf__svc_callback_state(a->s, a->e, a->up->id, DWF__CB_CLOSED, err);
}

static int apply_callback(apply *a, dwf_error *err)
{
    switch (a->up->action) {
    case DWF_ACTION_START: return callback_start(a, err);
    case DWF_ACTION_CANCEL: return callback_cancel(a, err);
    case DWF_ACTION_SUCCEED:
    case DWF_ACTION_FAIL:
    case DWF_ACTION_RETRY:
    case DWF_ACTION_NONE:
    case DWF_ACTION_UNKNOWN: break;
    }
    return bad_action(a, err);
}

/* ---- CHAINED_INVOKE ---------------------------------------------------------------------------- */
/* The target could not be started (unknown function, bad input): the operation FAILS at once
 * with that error, after its ChainedInvokeStarted. */
static int invoke_failed_at_once(apply *a, const dwf_error *why, dwf_error *err)
{
    cJSON *eo = dwf__svc_error_object(why->type, why->message);
    int bad = !eo || event_set(a, DWF_EVENTTYPE_CHAINED_INVOKE_FAILED) ||
              jset(a->details, "Error", dwf__svc_wrap_error(eo));
    bad |= op_end(a, DWF_OPSTATUS_FAILED);
    bad |= jset(jobj(a->op, "ChainedInvokeDetails"), "Error", eo);
    return bad ? oom(err) : 0;
}

/* A mocked chained invoke (dwf test): the mock's value completes the operation at once. */
static int invoke_succeeded_at_once(apply *a, cJSON *value, dwf_error *err)
{
    char *text = value ? cJSON_PrintUnformatted(value) : NULL;
    int bad = (value && !text) || event_set(a, DWF_EVENTTYPE_CHAINED_INVOKE_SUCCEEDED) ||
              jset(a->details, "Result", dwf__svc_wrap_payload(text));
    bad |= op_end(a, DWF_OPSTATUS_SUCCEEDED);
    if (text) bad |= jset_str(jobj(a->op, "ChainedInvokeDetails"), "Result", text);
    free(text);
    return bad ? oom(err) : 0;
}

/* Ask the test's invoke mock (dwf_service_set_invoke_mock): DWF_MOCK_* with *ans filled. */
static int invoke_mocked(apply *a, const char *fn, dwf_mock_answer *ans)
{
    if (!a->s->invoke_mock) return DWF_MOCK_PASS;
    cJSON *payload = a->up->payload ? cJSON_Parse(a->up->payload) : NULL;
    dwf_mock_call call = {.kind = DWF_MOCK_INVOKE, .name = fn, .request = payload};
    int m = a->s->invoke_mock(a->s->invoke_mock_arg, &call, ans);
    cJSON_Delete(payload);
    return m;
}

/* *plain = 1 when fn names a registered plain (non-durable) function. 0, or -1 with err. */
static int target_is_plain(apply *a, const char *fn, int *plain, dwf_error *err)
{
    cJSON *f = NULL;
    int r = dwf__svc_function_load(a->s, fn, &f, err);
    *plain = r == 0 && !dwf__svc_function_durable(f);
    cJSON_Delete(f);
    return r < 0 ? -1 : 0;
}

/* START: a durable target runs as a new execution in the same store, under the caller's root;
 * its end completes this operation (executions.c). A plain target is a call the host serving
 * it answers (calls.c). */
static int invoke_start(apply *a, dwf_error *err)
{
    if (a->op) return fail(err, IPVE, "Cannot start a CHAINED_INVOKE that already exists.");
    const cJSON *cio = cJSON_GetObjectItemCaseSensitive(a->up->u, "ChainedInvokeOptions");
    const char *fn = jstr(cio, "FunctionName");
    if (!fn || !*fn) return fail(err, IPVE, "ChainedInvokeOptions.FunctionName is required.");
    if (op_create(a, err) != 0) return -1;
    dwf_mock_answer ans = {0};
    int mocked = invoke_mocked(a, fn, &ans);
    if (mocked != DWF_MOCK_PASS) {
        cJSON *evd = cJSON_CreateObject();
        int bad = !evd || jset_str(evd, "FunctionName", fn) ||
                  jset(evd, "Input", dwf__svc_wrap_payload(a->up->payload));
        int r = bad ? oom(err) : dwf__svc_op_save(a->s, a->e, a->op, &a->seq, err);
        if (r == 0) r = dwf__svc_event_add(a->s, a->e, DWF_EVENTTYPE_CHAINED_INVOKE_STARTED, a->op, evd, err);
        else cJSON_Delete(evd);
        dwf_error why = {{0}, {0}};
        snprintf(why.type, sizeof why.type, "%s", ans.error_type);
        snprintf(why.message, sizeof why.message, "%s", ans.error_message);
        if (r == 0) r = mocked == DWF_MOCK_RETURN ? invoke_succeeded_at_once(a, ans.value, err)
                                                  : invoke_failed_at_once(a, &why, err);
        cJSON_Delete(ans.value);
        return r;
    }
    dwf__exec *child = NULL;
    int already = 0, plain = 0;
    dwf_error cerr = {{0}, {0}};
    int cr = target_is_plain(a, fn, &plain, err);
    if (cr < 0) return -1;
    if (plain) {
        char base[256];
        dwf__svc_function_base(fn, base);
        if (dwf__svc_call_create(a->s, a->e, a->up->id, base, a->up->payload, err) != 0) return -1;
    } else {
        cr = dwf__svc_start(a->s, fn, NULL, a->up->payload, a->e->arn, a->up->id, a->e->root_arn, &child, &already,
                            &cerr);
    }
    enum dwf_errortype ct = dwf_errortype_parse(cerr.type);
    if (cr != 0 && ct != RNFE && ct != IPVE) {
        *err = cerr;
        return -1;
    }
    cJSON *evd = cJSON_CreateObject();
    int bad = !evd || jset_str(evd, "FunctionName", fn) || jset_str(evd, "TenantId", jstr(cio, "TenantId")) ||
              jset(evd, "Input", dwf__svc_wrap_payload(a->up->payload)) || jset_str(evd, "ExecutedVersion", "$LATEST") ||
              (child && jset_str(evd, "DurableExecutionArn", child->arn));
    dwf__exec_free(child);
    if (bad) {
        cJSON_Delete(evd);
        return oom(err);
    }
    if (dwf__svc_op_save(a->s, a->e, a->op, &a->seq, err) != 0) {
        cJSON_Delete(evd);
        return -1;
    }
    if (dwf__svc_event_add(a->s, a->e, DWF_EVENTTYPE_CHAINED_INVOKE_STARTED, a->op, evd, err) != 0) return -1;
    return cr != 0 ? invoke_failed_at_once(a, &cerr, err) : 0;
}

/* CANCEL: the target, if it still runs, is STOPPED; no event on the caller's side. */
static int invoke_cancel(apply *a, dwf_error *err)
{
    if (a->cur != DWF_OPSTATUS_STARTED) return fail(err, IPVE, "Invalid current CHAINED_INVOKE state to cancel.");
    if (op_end(a, DWF_OPSTATUS_CANCELLED)) return oom(err);
    if (dwf__svc_call_drop(a->s, a->e, a->up->id, err) != 0) return -1;
    sqlite3_stmt *q = dwf__sql_prepare(a->s->st, err,
                                       "SELECT arn FROM executions WHERE parent_arn=?1 AND parent_op=?2"
                                       " AND status=" DWF__SQL_RUNNING,
                                       "ss", a->e->arn, a->up->id);
    if (!q) return -1;
    char child_arn[512] = "";
    if (dwf__sql_step(a->s->st, q, err) == 1)
        snprintf(child_arn, sizeof child_arn, "%s", (const char *)sqlite3_column_text(q, 0));
    dwf__sql_done(a->s->st, q);
    if (!child_arn[0]) return 0;
    dwf__exec *c = NULL;
    cJSON *eo = dwf__svc_error_object("ChainedInvokeCancelled", "The calling operation was cancelled.");
    /* The caller cancels, so the child's end must not complete the caller's operation again
     * (it is being written here): drop the link first. */
    int r = !eo ? oom(err) : dwf__exec_load(a->s->st, child_arn, &c, err) != 0 ? -1 : 0;
    if (r == 0 && dwf__set_str(&c->parent_op, NULL) != 0) r = oom(err);
    if (r == 0) r = dwf__svc_exec_close(a->s, c, DWF_EXECSTATUS_STOPPED, NULL, eo, err);
    if (r == 0) r = dwf__exec_save(a->s->st, c, err);
    cJSON_Delete(eo);
    dwf__exec_free(c);
    return r;
}

static int apply_chained_invoke(apply *a, dwf_error *err)
{
    switch (a->up->action) {
    case DWF_ACTION_START: return invoke_start(a, err);
    case DWF_ACTION_CANCEL: return invoke_cancel(a, err);
    case DWF_ACTION_SUCCEED:
    case DWF_ACTION_FAIL:
    case DWF_ACTION_RETRY:
    case DWF_ACTION_NONE:
    case DWF_ACTION_UNKNOWN: break;
    }
    return bad_action(a, err);
}

/* ---- dispatch ------------------------------------------------------------------------------- */
static int apply_by_type(apply *a, dwf_error *err)
{
    switch (a->up->type) {
    case DWF_OPTYPE_CONTEXT: return apply_context(a, err);
    case DWF_OPTYPE_STEP: return apply_step(a, err);
    case DWF_OPTYPE_WAIT: return apply_wait(a, err);
    case DWF_OPTYPE_CALLBACK: return apply_callback(a, err);
    case DWF_OPTYPE_CHAINED_INVOKE: return apply_chained_invoke(a, err);
    case DWF_OPTYPE_EXECUTION: /* applies to the execution: dwf__svc_apply_execution */
    case DWF_OPTYPE_NONE:
    case DWF_OPTYPE_UNKNOWN: break;
    }
    return fail(err, IPVE, "Invalid operation type for operation %s.", a->up->id);
}

int dwf__svc_apply(dwf_service *s, dwf__exec *e, const dwf__update *up, dwf_error *err)
{
    apply a = {.s = s, .e = e, .up = up, .now = dwf__svc_now(s, e), .seq = -1};
    int r = dwf__svc_op_load_take(s, e, up->id, &a.op, &a.seq, err);
    if (r < 0) return -1;
    a.cur = op_status(a.op);
    if (a.op && op_type(a.op) != up->type) {
        const char *t = jstr(a.op, "Type");
        r = fail(err, IPVE, "Operation %s is a %s, not a %s.", up->id, t ? t : "", dwf_optype_name(up->type));
    } else {
        r = apply_by_type(&a, err);
    }
    if (r == 0 && a.event != DWF_EVENTTYPE_NONE) {
        r = dwf__svc_event_add(s, e, a.event, a.op, a.details, err);
        a.details = NULL; /* event_add took it */
    }
    if (r == 0) {
        r = dwf__svc_op_save_take(s, e, a.op, &a.seq, err);
        a.op = NULL; /* op_save_take took it */
    }
    cJSON_Delete(a.details);
    cJSON_Delete(a.op);
    return r;
}

/* ---- EXECUTION ------------------------------------------------------------------------------- */
/* SUCCEED (a result too large for the handler's response) or FAIL ends the execution; the
 * update's Id is ignored. */
int dwf__svc_apply_execution(dwf_service *s, dwf__exec *e, const dwf__update *up, dwf_error *err)
{
    switch (up->action) {
    case DWF_ACTION_SUCCEED: return dwf__svc_exec_close(s, e, DWF_EXECSTATUS_SUCCEEDED, up->payload, NULL, err);
    case DWF_ACTION_FAIL: {
        cJSON *empty = up->error ? NULL : cJSON_CreateObject();
        if (!up->error && !empty) return oom(err);
        int r = dwf__svc_exec_close(s, e, DWF_EXECSTATUS_FAILED, NULL, up->error ? up->error : empty, err);
        cJSON_Delete(empty);
        return r;
    }
    case DWF_ACTION_START:
    case DWF_ACTION_RETRY:
    case DWF_ACTION_CANCEL:
    case DWF_ACTION_NONE:
    case DWF_ACTION_UNKNOWN: break;
    }
    return fail(err, IPVE, "Invalid action %s for an EXECUTION operation.", dwf_action_name(up->action));
}
