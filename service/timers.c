/*
 * timers.c: what happens when time passes. A timer row says which operation of which execution
 * changes at which instant (service_impl.h lists the kinds):
 *
 *   WAIT                the WAIT ends: SUCCEEDED, WaitSucceeded {Duration}
 *   STEP_RETRY          the STEP may be attempted again: PENDING -> READY (no event)
 *   CALLBACK_TIMEOUT    nobody answered: TIMED_OUT "Callback timed out", CallbackTimedOut
 *   CALLBACK_HEARTBEAT  no heartbeat in time: TIMED_OUT "Callback timed out on heartbeat"
 *   EXECUTION_TIMEOUT   the execution TIMED_OUT (ExecutionTimedOut)
 *
 * Nothing fires on its own: hosts call dwf_service_fire_timers (the engine each round, the
 * emulator's scheduler), and calls whose answer depends on what is due fire first (a
 * checkpoint, so its delta carries the change; a callback completion, so a late answer loses
 * to its deadline). Each timer fires in its own transaction; a fired timer wakes the execution.
 *
 * Time is per execution tree (an execution and the executions it chained-invoked): a timer's
 * instant is on its execution's clock, the service's clock plus the tree's virtual offset.
 * Only dwf_service_skip_time moves an offset, one idle tree at a time, so a jump for one
 * execution's long wait moves no other execution's waits, retries, callback deadlines or
 * retention, and never a clock whose invocation is running.
 */
#include "service_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A WAIT reached its ScheduledEndTimestamp. */
static int wait_ends(dwf_service *s, const dwf__exec *e, cJSON *op, cJSON **evd, enum dwf_eventtype *event)
{
    int bad = jset_str(op, "Status", dwf_opstatus_name(DWF_OPSTATUS_SUCCEEDED)) |
              jset_ts(op, "EndTimestamp", dwf__svc_now(s, e));
    const cJSON *start = cJSON_GetObjectItemCaseSensitive(op, "StartTimestamp");
    const cJSON *end = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op, "WaitDetails"),
                                                        "ScheduledEndTimestamp");
    double dur = cJSON_IsNumber(start) && cJSON_IsNumber(end) ? end->valuedouble - start->valuedouble : 0;
    *evd = cJSON_CreateObject();
    *event = DWF_EVENTTYPE_WAIT_SUCCEEDED;
    return bad | !*evd || jset_num(*evd, "Duration", round(dur * 1000.0) / 1000.0);
}

/* A callback's timeout or heartbeat timeout passed: it can no longer be answered. */
static int callback_times_out(dwf_service *s, dwf__exec *e, cJSON *op, enum dwf__timer kind, cJSON **evd,
                              enum dwf_eventtype *event, dwf_error *err)
{
    const char *msg = kind == DWF__TIMER_CALLBACK_TIMEOUT ? "Callback timed out" : "Callback timed out on heartbeat";
    const char *op_id = jstr(op, "Id");
    cJSON *eo = dwf__svc_error_object(NULL, msg);
    cJSON *cd = cJSON_CreateObject();
    int bad = !eo || !cd ||
              jset_str(cd, "CallbackId", jstr(cJSON_GetObjectItemCaseSensitive(op, "CallbackDetails"), "CallbackId"));
    bad |= jset(cd, "Error", jdup(eo));
    bad |= jset(op, "CallbackDetails", cd) | jset_str(op, "Status", dwf_opstatus_name(DWF_OPSTATUS_TIMED_OUT)) |
           jset_ts(op, "EndTimestamp", dwf__svc_now(s, e));
    *evd = cJSON_CreateObject();
    bad |= !*evd || jset(*evd, "Error", dwf__svc_wrap_error(eo));
    cJSON_Delete(eo);
    *event = DWF_EVENTTYPE_CALLBACK_TIMED_OUT;
    if (bad) return oom(err);
    /* Its other deadline goes with it. */
    if (dwf__svc_timer_del(s, e, op_id, DWF__TIMER_UNKNOWN, err) != 0 ||
        dwf__svc_callback_state(s, e, op_id, DWF__CB_TIMED_OUT, err) != 0)
        return -1;
    return 0;
}

/* Fire one timer inside a transaction. A timer whose operation has moved on does nothing. */
static int fire_one(dwf_service *s, dwf__exec *e, const char *op_id, enum dwf__timer kind, dwf_error *err)
{
    if (dwf__svc_timer_del(s, e, op_id, kind, err) != 0) return -1;
    if (e->status != DWF_EXECSTATUS_RUNNING) return 0;
    if (kind == DWF__TIMER_EXECUTION_TIMEOUT) {
        cJSON *eo = dwf__svc_error_object("ExecutionTimedOut", "The durable execution timed out.");
        int r = eo ? dwf__svc_exec_close(s, e, DWF_EXECSTATUS_TIMED_OUT, NULL, eo, err) : oom(err);
        cJSON_Delete(eo);
        return r;
    }
    cJSON *op = NULL, *evd = NULL;
    long long seq = -1;
    int r = dwf__svc_op_load(s, e, op_id, &op, &seq, err);
    if (r != 0) return r < 0 ? -1 : 0;
    enum dwf_opstatus cur = op_status(op);
    enum dwf_eventtype event = DWF_EVENTTYPE_NONE;
    int changed = 1;
    if (kind == DWF__TIMER_WAIT && cur == DWF_OPSTATUS_STARTED)
        r = wait_ends(s, e, op, &evd, &event) ? oom(err) : 0;
    else if (kind == DWF__TIMER_STEP_RETRY && cur == DWF_OPSTATUS_PENDING)
        r = jset_str(op, "Status", dwf_opstatus_name(DWF_OPSTATUS_READY)) ? oom(err) : 0;
    else if ((kind == DWF__TIMER_CALLBACK_TIMEOUT || kind == DWF__TIMER_CALLBACK_HEARTBEAT) &&
             cur == DWF_OPSTATUS_STARTED)
        r = callback_times_out(s, e, op, kind, &evd, &event, err);
    else
        changed = 0;
    if (r == 0 && changed) {
        r = dwf__svc_op_save(s, e, op, &seq, err);
        if (r == 0 && event != DWF_EVENTTYPE_NONE) {
            r = dwf__svc_event_add(s, e, event, op, evd, err);
            evd = NULL;
        }
        dwf__svc_wake(e);
    }
    cJSON_Delete(evd);
    cJSON_Delete(op);
    return r;
}

/* The largest virtual-clock offset of a running execution (0 without --skip-time): no timer
 * due later than now plus it can be due on its own execution's clock, so a timer scan reads
 * timers_due up to there, not every timer. Service lock held. */
static int max_offset(dwf_service *s, double *off, dwf_error *err)
{
    *off = 0;
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, "SELECT MAX(clock_offset_ms) FROM executions WHERE status=" DWF__SQL_RUNNING, "");
    int r = q ? dwf__sql_step(s->st, q, err) : -1;
    if (r == 1 && sqlite3_column_type(q, 0) != SQLITE_NULL) *off = sqlite3_column_double(q, 0);
    dwf__sql_done(s->st, q);
    if (*off < 0) *off = 0;
    return r < 0 ? -1 : 0;
}

/* Fire the earliest due timer under root_arn in its own transaction: 1 fired, 0 none due, -1 error. */
static int fire_next(dwf_service *s, const char *root_arn, dwf_error *err)
{
    dwf__svc_lock(s);
    if (dwf__store_begin(s->st, err) != 0) return dwf__svc_abort(s);
    double off;
    if (max_offset(s, &off, err) != 0) return dwf__svc_abort(s);
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT t.exec_id, t.op_id, t.kind FROM timers t JOIN executions x ON x.id=t.exec_id"
                                       " WHERE t.due_ms<=?1+?3 AND t.due_ms<=?1+x.clock_offset_ms"
                                       " AND (?2 IS NULL OR x.root_arn=?2)"
                                       " ORDER BY t.due_ms-x.clock_offset_ms LIMIT 1",
                                       "dsd", dwf_service_now(s), root_arn, off);
    if (!q) return dwf__svc_abort(s);
    int r = dwf__sql_step(s->st, q, err);
    if (r <= 0) {
        dwf__sql_done(s->st, q);
        if (r < 0) return dwf__svc_abort(s);
        return dwf__svc_commit(s, err);
    }
    char exec_id[64], op_id[80], kind[32];
    snprintf(exec_id, sizeof exec_id, "%s", (const char *)sqlite3_column_text(q, 0));
    snprintf(op_id, sizeof op_id, "%s", (const char *)sqlite3_column_text(q, 1));
    snprintf(kind, sizeof kind, "%s", (const char *)sqlite3_column_text(q, 2));
    dwf__sql_done(s->st, q);
    dwf__exec *e = NULL;
    enum dwf__timer k = dwf__svc_timer_parse(kind);
    if (k == DWF__TIMER_UNKNOWN) {
        /* A kind this dwf does not know: drop it, change nothing. */
        if (dwf__sql_exec(s->st, err, "DELETE FROM timers WHERE exec_id=?1 AND op_id=?2 AND kind=?3", "sss", exec_id,
                          op_id, kind) != 0)
            return dwf__svc_abort(s);
    } else if (dwf__exec_load(s->st, exec_id, &e, err) != 0) {
        /* An orphan timer: drop it. */
        if (dwf__sql_exec(s->st, err, "DELETE FROM timers WHERE exec_id=?1", "s", exec_id) != 0)
            return dwf__svc_abort(s);
    } else if (fire_one(s, e, op_id, k, err) != 0 || dwf__exec_save(s->st, e, err) != 0) {
        dwf__exec_free(e);
        return dwf__svc_abort(s);
    }
    dwf__exec_free(e);
    return dwf__svc_commit(s, err) != 0 ? -1 : 1;
}

int dwf_service_fire_timers(dwf_service *s, const char *root_arn, int *fired, dwf_error *err)
{
    if (fired) *fired = 0;
    /* Most calls find nothing due: look without taking the write lock first. */
    dwf__svc_lock(s);
    double off;
    sqlite3_stmt *peek = max_offset(s, &off, err) != 0
                             ? NULL
                             : dwf__sql_prepare(s->st, err,
                                                "SELECT 1 FROM timers t JOIN executions x ON x.id=t.exec_id"
                                                " WHERE t.due_ms<=?1+?3 AND t.due_ms<=?1+x.clock_offset_ms"
                                                " AND (?2 IS NULL OR x.root_arn=?2) LIMIT 1",
                                                "dsd", dwf_service_now(s), root_arn, off);
    int any = peek ? dwf__sql_step(s->st, peek, err) : -1;
    dwf__sql_done(s->st, peek);
    dwf__svc_unlock(s);
    if (any <= 0) return any;
    int r;
    while ((r = fire_next(s, root_arn, err)) == 1)
        if (fired) (*fired)++;
    return r;
}

/* Whether a timer of the execution tree `arn` (an ARN or id) belongs to is due, and that tree's
 * root: a checkpoint asks inside its own transaction, with the service's lock held (and fires
 * them with dwf__svc_fire_timers_root), without reading the execution first: loading the whole
 * execution row only to learn its root was one statement and about 38,000 instructions of each
 * at-most-once step's checkpoint (callgrind, 200 steps). The peek reads timers_due (INDEXED BY:
 * without it the planner walks every execution of the tree first), so the root is looked up
 * only when a timer is due, and the largest clock offset comes in the same statement. An unknown
 * `arn` has no timers: its checkpoint fails on the load that follows. 1 and *root (malloc'd),
 * 0 none due, -1 error. */
int dwf__svc_timer_due_of(dwf_service *s, const char *arn, char **root, dwf_error *err)
{
    *root = NULL;
    /* What the last check noted still holds (store.c, the timer note): nothing due before its
     * instant, so nothing now when now is before it. */
    double now = dwf_service_now(s);
    int quiet = dwf__store_timer_quiet(s->st, now);
    if (quiet == 1) return 0;
    sqlite3_stmt *peek = dwf__sql_prepare(
        s->st, err,
        "SELECT x.root_arn FROM timers t INDEXED BY timers_due JOIN executions x ON x.id=t.exec_id"
        " WHERE t.due_ms<=?1+MAX(0, IFNULL((SELECT MAX(clock_offset_ms) FROM executions"
        " WHERE status=" DWF__SQL_RUNNING "), 0))"
        " AND t.due_ms<=?1+x.clock_offset_ms"
        " AND x.root_arn=(SELECT root_arn FROM executions WHERE arn=?2 OR id=?2) LIMIT 1",
        "ds", now, arn);
    int r = peek ? dwf__sql_step(s->st, peek, err) : -1, no_mem = 0;
    if (r == 1) *root = dwf__col_strdup(peek, 0, &no_mem);
    dwf__sql_done(s->st, peek);
    if (r == 1 && !*root) r = no_mem ? oom(err) : 0; /* (root_arn matched a value: never NULL) */
    if (r == 0 && quiet < 0) {
        /* None due: the earliest instant one can be, by the peek's first bound over every timer
         * (timers_due's first entry, executions_offset's last), noted for the calls after this
         * one. Not noted again while the note holds (a timer of another tree may be overdue:
         * the instant is then past, and the peek runs each time, as it did). */
        sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                           "SELECT (SELECT MIN(due_ms) FROM timers) - MAX(0, IFNULL((SELECT"
                                           " MAX(clock_offset_ms) FROM executions WHERE status=" DWF__SQL_RUNNING
                                           "), 0))",
                                           "");
        r = q ? dwf__sql_step(s->st, q, err) : -1;
        if (r == 1)
            dwf__store_timer_note(s->st, sqlite3_column_type(q, 0) == SQLITE_NULL ? INFINITY : sqlite3_column_double(q, 0));
        dwf__sql_done(s->st, q);
        r = r < 0 ? -1 : 0;
    }
    return r;
}

int dwf__svc_fire_timers_root(dwf_service *s, const char *root, dwf_error *err)
{
    int r;
    while ((r = fire_next(s, root, err)) == 1) {}
    return r < 0 ? -1 : 0;
}

/* Due instants on the service's clock: each execution's own (virtual) instant less its offset. */
#define DUE_SQL                                                                                           \
    "SELECT x.root_arn AS root, d.due - x.clock_offset_ms AS real_due FROM (SELECT t.exec_id AS id,"     \
    " t.due_ms AS due FROM timers t WHERE ?2 OR t.kind IN (?3,?4)"                                     \
    " UNION ALL SELECT id, next_invoke_ms FROM executions WHERE status=" DWF__SQL_RUNNING                \
    " AND wake=1 AND inv_open=0) d JOIN executions x ON x.id=d.id WHERE x.status=" DWF__SQL_RUNNING     \
    " AND (?1 IS NULL OR x.root_arn=?1)"

int dwf_service_next_due(dwf_service *s, const char *root_arn, int include_deadlines, double *due_ms,
                         dwf_error *err)
{
    *due_ms = -1;
    dwf__svc_lock(s);
    const char *wait = dwf__svc_timer_name(DWF__TIMER_WAIT), *retry = dwf__svc_timer_name(DWF__TIMER_STEP_RETRY);
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, "SELECT MIN(real_due) FROM (" DUE_SQL ")", "siss", root_arn,
                                       (long long)include_deadlines, wait, retry);
    int r = q ? dwf__sql_step(s->st, q, err) : -1;
    if (r == 1 && sqlite3_column_type(q, 0) != SQLITE_NULL) *due_ms = sqlite3_column_double(q, 0);
    dwf__sql_done(s->st, q);
    dwf__svc_unlock(s);
    return r < 0 ? -1 : 0;
}

/* ---- --skip-time: each execution tree's own virtual clock ------------------------------------- */
/* 1 if something in the tree runs in real time now: an open invocation, or a plain function's
 * call (waiting or running). Its clock must not jump under it: a retry or a wait that falls
 * due while its invocation runs is served in that invocation, as without --skip-time. */
static int tree_busy(dwf_service *s, const char *root, dwf_error *err)
{
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT 1 FROM executions x WHERE x.root_arn=?1 AND x.status=" DWF__SQL_RUNNING
                                       " AND (x.inv_open=1 OR EXISTS(SELECT 1 FROM calls c WHERE c.exec_id=x.id))"
                                       " LIMIT 1",
                                       "s", root);
    int r = q ? dwf__sql_step(s->st, q, err) : -1;
    dwf__sql_done(s->st, q);
    return r;
}

/* Move the clock of one tree's running executions forward to its earliest WAIT end, STEP retry
 * or invocation retry, in one transaction, if that is still later than now and the tree is
 * idle: 1 moved, 0 not, -1 error. */
static int tree_jump(dwf_service *s, const char *root, dwf_error *err)
{
    dwf__svc_lock(s);
    if (dwf__store_begin(s->st, err) != 0) return dwf__svc_abort(s);
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, "SELECT MIN(real_due) FROM (" DUE_SQL ")", "siss", root,
                                       (long long)0, dwf__svc_timer_name(DWF__TIMER_WAIT),
                                       dwf__svc_timer_name(DWF__TIMER_STEP_RETRY));
    int r = q ? dwf__sql_step(s->st, q, err) : -1;
    double delta = r == 1 && sqlite3_column_type(q, 0) != SQLITE_NULL ? sqlite3_column_double(q, 0) - dwf_service_now(s)
                                                                      : 0;
    dwf__sql_done(s->st, q);
    if (r >= 0) {
        int busy = delta > 0 ? tree_busy(s, root, err) : 1;
        r = busy < 0 ? -1 : !busy;
    }
    /* Closed executions of the tree keep their offset: their end stays where it was in real
     * time (retention). */
    if (r == 1 && dwf__sql_exec(s->st, err,
                                "UPDATE executions SET clock_offset_ms=clock_offset_ms+?2"
                                " WHERE root_arn=?1 AND status=" DWF__SQL_RUNNING,
                                "sd", root, delta) != 0)
        r = -1;
    if (r < 0) return dwf__svc_abort(s);
    return dwf__svc_commit(s, err) != 0 ? -1 : r;
}

int dwf_service_skip_time(dwf_service *s, const char *root_arn, int *moved, dwf_error *err)
{
    if (moved) *moved = 0;
    if (s->clock) return 0;
    /* The trees with something to jump to later than now; each is then checked and moved in
     * its own transaction. */
    dwf__svc_lock(s);
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT root FROM (" DUE_SQL ") GROUP BY root HAVING MIN(real_due)>?5",
                                       "sissd", root_arn, (long long)0,
                                       dwf__svc_timer_name(DWF__TIMER_WAIT), dwf__svc_timer_name(DWF__TIMER_STEP_RETRY),
                                       dwf_service_now(s));
    cJSON *roots = cJSON_CreateArray();
    int r = !q ? -1 : !roots ? oom(err) : 0;
    while (r == 0 && (r = dwf__sql_step(s->st, q, err)) == 1)
        r = cJSON_AddItemToArray(roots, cJSON_CreateString((const char *)sqlite3_column_text(q, 0))) ? 0 : oom(err);
    dwf__sql_done(s->st, q);
    dwf__svc_unlock(s);
    for (const cJSON *x = roots ? roots->child : NULL; r == 0 && x; x = x->next) {
        int j = tree_jump(s, x->valuestring, err);
        if (j < 0) r = -1;
        else if (j > 0 && moved) (*moved)++;
    }
    cJSON_Delete(roots);
    return r;
}
