/*
 * invocations.c: the service's side of invoking a handler: the event it is invoked with, what
 * its response does to the execution, and which executions need an invocation now.
 *
 * One invocation per execution at a time. An open invocation records its owner ("host:pid")
 * and request id. A host asks for runnable executions; an open invocation whose owner is a
 * process on this machine that no longer exists is runnable at once (a `kill -9` of a runner),
 * any other one only when it is older than the host's stale limit. Beginning an invocation
 * issues a fresh checkpoint token, so the lost runner's late checkpoints fail and its late
 * answer (another request id) is recorded but decides nothing.
 *
 * A PENDING response while operations changed that the handler has not seen (a timer fired, a
 * callback was answered after its last checkpoint) is invoked again at once; only without such
 * changes is "nothing pending" its error. A response-less invocation (a fault) is retried with
 * backoff, a bounded number of times, as Lambda retries a failing function.
 */
#include "service_impl.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- who runs an invocation ---------------------------------------------------------------- */
/* "<host>:<pid>": who runs an open invocation, so a dead runner on this machine is noticed. */
static char owner_host[256];
static size_t owner_host_len;
static pthread_once_t owner_host_once = PTHREAD_ONCE_INIT;
/* This process's id, 0 until asked: getpid(2) is a system call at every call (glibc caches it
 * no longer), and dwf serve's scheduler asked twice for every open invocation of each pass's
 * page of runnable executions (1.7 getpid per execution). A forked child is another runner: the
 * fork handler forgets the parent's id, so the child reads its own. */
static pid_t self_pid;

static void self_pid_forget(void) { __atomic_store_n(&self_pid, 0, __ATOMIC_RELAXED); }

static void owner_host_init(void)
{
    if (gethostname(owner_host, sizeof owner_host) != 0) snprintf(owner_host, sizeof owner_host, "localhost");
    owner_host[sizeof owner_host - 1] = '\0';
    owner_host_len = strlen(owner_host);
    pthread_atfork(NULL, NULL, self_pid_forget);
}

static long self(void)
{
    pthread_once(&owner_host_once, owner_host_init);
    pid_t p = __atomic_load_n(&self_pid, __ATOMIC_RELAXED);
    if (p == 0) {
        p = getpid();
        __atomic_store_n(&self_pid, p, __ATOMIC_RELAXED);
    }
    return (long)p;
}

/* The host name is read once per process (a uname(2) per call was two system calls per
 * execution in dwf serve), and the pid once per process too (above). */
int dwf__svc_owner_self(char *out, size_t n)
{
    long pid = self();
    int w = snprintf(out, n, "%s:%ld", owner_host, pid);
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* The pid an owner names if it is another process on this machine, else 0. */
static long owner_local_pid(const char *owner)
{
    const char *colon = owner ? strrchr(owner, ':') : NULL;
    if (!colon) return 0;
    long me = self();
    if ((size_t)(colon - owner) != owner_host_len || strncmp(owner, owner_host, owner_host_len) != 0) return 0;
    long pid = strtol(colon + 1, NULL, 10);
    return pid > 0 && pid != me ? pid : 0;
}

/* 1 if owner names another process on this machine that still runs. */
static int owner_is_other_live_local(const char *owner)
{
    long pid = owner_local_pid(owner);
    return pid && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* 1 if owner names a process on this machine that no longer exists. */
int dwf__svc_owner_dead(const char *owner)
{
    long pid = owner_local_pid(owner);
    return pid && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* ---- the invocation event --------------------------------------------------------------------- */
/* Epoch-second timestamps of an Operation -> ISO-8601 strings (the invocation event form). */
static int op_to_event_form(cJSON *op)
{
    static const char *const paths[][2] = {{NULL, "StartTimestamp"},
                                           {NULL, "EndTimestamp"},
                                           {"StepDetails", "NextAttemptTimestamp"},
                                           {"WaitDetails", "ScheduledEndTimestamp"}};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        cJSON *o = paths[i][0] ? cJSON_GetObjectItemCaseSensitive(op, paths[i][0]) : op;
        cJSON *v = cJSON_GetObjectItemCaseSensitive(o, paths[i][1]);
        if (!cJSON_IsNumber(v)) continue;
        char iso[64];
        dwf__svc_iso_time(v->valuedouble * 1000.0, iso);
        if (jset_str(o, paths[i][1], iso) != 0) return -1;
    }
    return 0;
}

/* InitialExecutionState: the first page of operations (the rest by GetDurableExecutionState
 * from NextMarker, "" when there is no more). */
static int event_state(dwf_service *s, const dwf__exec *e, cJSON *ev, dwf_error *err)
{
    cJSON *state = jobj(ev, "InitialExecutionState"), *ops = cJSON_CreateArray();
    if (!state || jset(state, "Operations", ops)) return oom(err);
    long long last = -1;
    int more = 0;
    if (dwf__svc_ops_page(s, e, -1, s->event_page, ops, &last, &more, err) != 0) return -1;
    dwf__svc_ops_for_handler(ops, e);
    for (cJSON *op = ops->child; op; op = op->next)
        if (op_to_event_form(op) != 0) return oom(err);
    char marker[32] = "";
    if (more) snprintf(marker, sizeof marker, "%lld", last);
    return jset_str(state, "NextMarker", marker) ? oom(err) : 0;
}

/* UpdatedOperationIds: the operations changed since the handler last saw the state. */
static int event_updated_ids(dwf_service *s, const dwf__exec *e, cJSON *ev, dwf_error *err)
{
    cJSON *changed = cJSON_CreateArray();
    if (!changed) return oom(err);
    if (dwf__svc_ops_changed(s, e, e->seen_seq, changed, err) != 0) {
        cJSON_Delete(changed);
        return -1;
    }
    int bad = 0;
    if (cJSON_GetArraySize(changed) > 0) {
        cJSON *upd = cJSON_CreateArray();
        for (cJSON *op = changed->child; upd && op; op = op->next)
            if (!cJSON_AddItemToArray(upd, cJSON_CreateString(jstr(op, "Id")))) bad = 1;
        bad |= jset(ev, "UpdatedOperationIds", upd);
    }
    cJSON_Delete(changed);
    return bad ? oom(err) : 0;
}

/* May an invocation of e begin? Not of a closed execution, nor beside a live local runner's. */
static int invocation_allowed(const dwf__exec *e, dwf_error *err)
{
    if (e->status != DWF_EXECSTATUS_RUNNING)
        return fail(err, IPVE, "Durable execution %s is not running (status %s).", e->arn,
                    dwf_execstatus_name(e->status));
    if (e->inv_open && owner_is_other_live_local(e->inv_owner))
        return fail(err, DWF_ERRORTYPE_RESOURCE_CONFLICT, "Durable execution %s has an invocation in progress (%s).",
                    e->arn, e->inv_owner);
    return 0;
}

/* Record the open invocation: the handler has now seen everything, this process runs it. */
static int invocation_open(dwf_service *s, dwf__exec *e, char request_id[40], dwf_error *err)
{
    e->seen_seq = e->seq;
    e->wake = 0;
    e->inv_open = 1;
    e->inv_started_ms = dwf_service_now(s);
    char owner[300];
    if (dwf__svc_owner_self(owner, sizeof owner) != 0 || dwf__set_str(&e->inv_owner, owner) != 0) return oom(err);
    dwf__svc_uuid(request_id);
    if (dwf__set_str(&e->inv_request, request_id) != 0) return oom(err);
    return dwf__exec_save(s->st, e, err);
}

int dwf_service_begin_invocation(dwf_service *s, const char *arn, cJSON **event, char request_id[40],
                                 dwf_error *err)
{
    *event = NULL;
    dwf__svc_lock(s);
    if (dwf__store_begin(s->st, err) != 0) return dwf__svc_abort(s);
    dwf__exec *e = NULL;
    if (dwf__svc_exec_get(s, arn, &e, err) != 0) return dwf__svc_abort(s);
    char token[DWF__TOKEN_LEN];
    cJSON *ev = NULL;
    int r = invocation_allowed(e, err);
    if (r == 0) r = !(ev = cJSON_CreateObject()) || jset_str(ev, "DurableExecutionArn", e->arn) ? oom(err) : 0;
    if (r == 0) r = dwf__svc_token_issue(s, e, token, err);
    if (r == 0) r = jset_str(ev, "CheckpointToken", token) ? oom(err) : 0;
    if (r == 0) r = event_state(s, e, ev, err);
    if (r == 0 && e->seen_seq > 0) r = event_updated_ids(s, e, ev, err);
    if (r == 0) r = invocation_open(s, e, request_id, err);
    dwf__exec_free(e);
    if (r != 0) {
        cJSON_Delete(ev);
        return dwf__svc_abort(s);
    }
    /* The token and the invocation's row need no flush of their own: the handler's first
     * checkpoint, or the response, is flushed and covers them; a crash before that loses an
     * invocation nobody could observe, and the execution is invoked again. What the event
     * carries was read from commits that must be durable before the handler acts on them. */
    if (dwf__svc_commit_unflushed(s, err) != 0) {
        cJSON_Delete(ev);
        return -1;
    }
    *event = ev;
    return 0;
}

/* ---- the response ------------------------------------------------------------------------------- */
/* Operations that make a PENDING response legal: a STEP waiting for its retry, or a WAIT,
 * CALLBACK or CHAINED_INVOKE still STARTED. (op_id IS NOT NULL: through the index by Id, which
 * holds the execution's operations and not its events, schema 16.) */
static int pending_count(dwf_service *s, const dwf__exec *e, int *n, dwf_error *err)
{
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT COUNT(*) FROM operations WHERE exec_no=?1 AND op_id IS NOT NULL AND ("
                                       "(type=?2 AND status IN (?3,?4)) OR (type IN (?5,?6,?7) AND status=?8))",
                                       "isssssss", e->no, dwf_optype_name(DWF_OPTYPE_STEP),
                                       dwf_opstatus_name(DWF_OPSTATUS_PENDING), dwf_opstatus_name(DWF_OPSTATUS_READY),
                                       dwf_optype_name(DWF_OPTYPE_WAIT), dwf_optype_name(DWF_OPTYPE_CALLBACK),
                                       dwf_optype_name(DWF_OPTYPE_CHAINED_INVOKE),
                                       dwf_opstatus_name(DWF_OPSTATUS_STARTED));
    if (!q) return -1;
    int r = dwf__sql_step(s->st, q, err);
    if (r == 1) *n = sqlite3_column_int(q, 0);
    dwf__sql_done(s->st, q);
    return r < 0 ? -1 : 0;
}

/* A PENDING response: invoke again at once if the handler has not seen every change, else it
 * must be waiting for something. */
static int response_pending(dwf_service *s, dwf__exec *e, dwf_error *err)
{
    int n = 0;
    if (e->seq > e->seen_seq) {
        e->wake = 1;
        dwf__svc_runnable_mark();
        return 0;
    }
    if (pending_count(s, e, &n, err) != 0) return -1;
    if (n > 0) return 0;
    cJSON *eo = dwf__svc_error_object(NULL, "Cannot return PENDING status with no pending operations.");
    int r = eo ? dwf__svc_exec_close(s, e, DWF_EXECSTATUS_FAILED, NULL, eo, err) : oom(err);
    cJSON_Delete(eo);
    return r;
}

/* What the current invocation's response (status, or a fault: faultobj) does to a running execution. */
static int apply_response(dwf_service *s, dwf__exec *e, enum dwf_invstatus status, const cJSON *response,
                          const cJSON *faultobj, double now, dwf_error *err)
{
    if (faultobj) {
        /* An invocation-scoped fault: retry with backoff (1 s, 2 s, 4 s, ...), bounded. */
        e->inv_attempts++;
        if (e->inv_attempts >= s->max_inv) return dwf__svc_exec_close(s, e, DWF_EXECSTATUS_FAILED, NULL, faultobj, err);
        e->wake = 1;
        dwf__svc_runnable_mark();
        e->next_invoke_ms = now + 1000.0 * (double)(1LL << (e->inv_attempts < 21 ? e->inv_attempts - 1 : 20));
        return 0;
    }
    e->inv_attempts = 0;
    switch (status) {
    case DWF_INVSTATUS_SUCCEEDED:
        return dwf__svc_exec_close(s, e, DWF_EXECSTATUS_SUCCEEDED, jstr(response, "Result"), NULL, err);
    case DWF_INVSTATUS_FAILED: {
        const cJSON *eo = cJSON_GetObjectItemCaseSensitive(response, "Error");
        cJSON *empty = cJSON_IsObject(eo) ? NULL : cJSON_CreateObject();
        int r = dwf__svc_exec_close(s, e, DWF_EXECSTATUS_FAILED, NULL, empty ? empty : eo, err);
        cJSON_Delete(empty);
        return r;
    }
    case DWF_INVSTATUS_PENDING: return response_pending(s, e, err);
    case DWF_INVSTATUS_NONE:
    case DWF_INVSTATUS_UNKNOWN: break;
    }
    return 0;
}

static int end_invocation(dwf_service *s, const char *arn, const char *request_id, double start_ms,
                          const cJSON *response, const dwf_error *fault, int flushed, dwf_error *err)
{
    dwf__svc_lock(s);
    if (dwf__store_begin(s->st, err) != 0) return dwf__svc_abort(s);
    dwf__exec *e = NULL;
    if (dwf__svc_exec_get(s, arn, &e, err) != 0) return dwf__svc_abort(s);
    /* On the execution's clock (its offset does not move while an invocation is open):
     * start_ms is the service's clock, as the host read it. */
    double now = dwf__svc_now(s, e);
    start_ms += e->clock_offset_ms;
    enum dwf_invstatus status = response ? dwf_invstatus_parse(jstr(response, "Status")) : DWF_INVSTATUS_NONE;
    int valid = status != DWF_INVSTATUS_NONE && status != DWF_INVSTATUS_UNKNOWN;
    cJSON *faultobj = NULL;
    if (!valid)
        faultobj = response ? dwf__svc_error_object("InvalidHandlerResponse", "The handler response has no valid Status.")
                            : dwf__svc_error_object(fault ? fault->type : "InvocationError",
                                                    fault ? fault->message : "The invocation failed.");
    cJSON *d = cJSON_CreateObject();
    int bad = !d || (!valid && !faultobj) || jset_ts(d, "StartTimestamp", start_ms) || jset_ts(d, "EndTimestamp", now) ||
              jset_str(d, "RequestId", request_id ? request_id : "");
    if (!valid) bad |= jset(d, "Error", dwf__svc_wrap_error(faultobj));
    int r = bad ? (cJSON_Delete(d), oom(err)) : dwf__svc_exec_event(s, e, DWF_EVENTTYPE_INVOCATION_COMPLETED, d, err);
    /* The answer of an invocation another one has replaced (its runner was thought lost)
     * is history, not state: the current invocation decides. */
    int superseded = request_id && e->inv_request && strcmp(request_id, e->inv_request) != 0;
    if (r == 0 && !superseded) {
        e->inv_open = 0;
        dwf__set_str(&e->inv_owner, NULL);
        dwf__set_str(&e->inv_request, NULL);
        if (e->status == DWF_EXECSTATUS_RUNNING) r = apply_response(s, e, status, response, faultobj, now, err);
    }
    if (r == 0) r = dwf__exec_save(s->st, e, err);
    cJSON_Delete(faultobj);
    dwf__exec_free(e);
    if (r != 0) return dwf__svc_abort(s);
    return flushed ? dwf__svc_commit(s, err) : dwf__svc_commit_nowait(s, err);
}

int dwf_service_end_invocation(dwf_service *s, const char *arn, const char *request_id, double start_ms,
                               const cJSON *response, const dwf_error *fault, dwf_error *err)
{
    return end_invocation(s, arn, request_id, start_ms, response, fault, 1, err);
}

/* dwf serve's /response and /error: the runtime's answer is "OK" whatever the end did, so its
 * thread need not sleep until the flush (one of the three waits for the disk per execution of
 * a plain workflow, with the Invoke's and the checkpoint's, each a context switch or two). */
int dwf_service_end_invocation_unflushed(dwf_service *s, const char *arn, const char *request_id, double start_ms,
                                         const cJSON *response, const dwf_error *fault, dwf_error *err)
{
    return end_invocation(s, arn, request_id, start_ms, response, fault, 0, err);
}

/* ---- who needs an invocation ------------------------------------------------------------------ */
/* Process-wide, not per handle: a host with two handles on stores rescans a little more often,
 * never less. Atomic: marked under one handle's lock, read by a host's scheduler without it. */
static unsigned long runnable_marks;

void dwf__svc_runnable_mark(void) { __atomic_add_fetch(&runnable_marks, 1, __ATOMIC_RELEASE); }

unsigned long dwf_service_runnable_marks(void) { return __atomic_load_n(&runnable_marks, __ATOMIC_ACQUIRE); }

/* Append column 0 of every row q yields, as strings; with `dead_owner`, only rows whose column
 * 1 names a dead local process. */
static int collect_arns(dwf_service *s, sqlite3_stmt *q, int dead_owner, cJSON *arr, dwf_error *err)
{
    int r;
    while ((r = dwf__sql_step(s->st, q, err)) == 1) {
        if (dead_owner && !dwf__svc_owner_dead((const char *)sqlite3_column_text(q, 1))) continue;
        if (!cJSON_AddItemToArray(arr, cJSON_CreateString((const char *)sqlite3_column_text(q, 0)))) {
            r = oom(err);
            break;
        }
    }
    dwf__sql_done(s->st, q);
    return r < 0 ? -1 : 0;
}

int dwf_service_runnable(dwf_service *s, const char *root_arn, double stale_ms, cJSON **out, dwf_error *err)
{
    *out = NULL;
    dwf__svc_lock(s);
    double now = dwf_service_now(s);
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT arn FROM executions WHERE status=" DWF__SQL_RUNNING
                                       " AND (?1 IS NULL OR root_arn=?1)"
                                       " AND ((wake=1 AND inv_open=0 AND next_invoke_ms<=?2+clock_offset_ms)"
                                       " OR (inv_open=1 AND ?3>=0 AND inv_started_ms<=?2-?3)) ORDER BY start_ms",
                                       "sdd", root_arn, now, stale_ms);
    cJSON *arr = cJSON_CreateArray();
    int r = !q ? -1 : !arr ? (dwf__sql_done(s->st, q), oom(err)) : collect_arns(s, q, 0, arr, err);
    /* Open invocations not stale yet, but whose process on this machine has died (kill -9 of
     * an engine): lost now, not in stale_ms. */
    if (r == 0) {
        q = dwf__sql_prepare(s->st, err,
                             "SELECT arn, inv_owner FROM executions WHERE status=" DWF__SQL_RUNNING
                             " AND inv_open=1 AND (?1 IS NULL OR root_arn=?1) AND NOT (?3>=0 AND inv_started_ms<=?2-?3)"
                             " ORDER BY start_ms",
                             "sdd", root_arn, now, stale_ms);
        r = q ? collect_arns(s, q, 1, arr, err) : -1;
    }
    dwf__svc_unlock(s);
    if (r != 0) {
        cJSON_Delete(arr);
        return -1;
    }
    *out = arr;
    return 0;
}

/* The executions runnable (as dwf_service_runnable says) from after the cursor, in start order,
 * at most `limit` rows visited. One walk of the status index in (start_ms, rowid) order, the
 * index's own order: ordering by (start_ms, arn) made SQLite sort each start_ms group in a temp
 * b-tree it cleared at every row (about 10,000 instructions a row; dwf serve re-reads its whole
 * queued backlog at every pass). The same walk finds the open invocations whose local process
 * died (a second query over every RUNNING row cost as much again at every pass): an open
 * invocation is a row of the page too, runnable when stale or when its owner is dead. */
static int runnable_page(dwf_service *s, double stale_ms, int limit, dwf_service_cursor *cur, cJSON *arr, int *n,
                         dwf_error *err)
{
    double now = dwf_service_now(s);
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT arn, start_ms, rowid, inv_open,"
                                       " inv_open=1 AND ?2>=0 AND inv_started_ms<=?1-?2, inv_owner"
                                       " FROM executions WHERE status=" DWF__SQL_RUNNING
                                       " AND start_ms>=?3 AND (start_ms>?3 OR rowid>?4)"
                                       " AND ((wake=1 AND inv_open=0 AND next_invoke_ms<=?1+clock_offset_ms)"
                                       " OR inv_open=1)"
                                       " ORDER BY start_ms, rowid LIMIT ?5",
                                       "dddii", now, stale_ms, cur->start_ms, cur->rowid, (long long)limit);
    if (!q) return -1;
    int r;
    *n = 0;
    while ((r = dwf__sql_step(s->st, q, err)) == 1) {
        cur->start_ms = sqlite3_column_double(q, 1);
        cur->rowid = sqlite3_column_int64(q, 2);
        (*n)++;
        int open = sqlite3_column_int(q, 3) == 1, stale = sqlite3_column_int(q, 4) == 1;
        if (open && !stale && !dwf__svc_owner_dead((const char *)sqlite3_column_text(q, 5))) continue;
        if (!cJSON_AddItemToArray(arr, cJSON_CreateString((const char *)sqlite3_column_text(q, 0)))) {
            r = oom(err);
            break;
        }
    }
    dwf__sql_done(s->st, q);
    return r < 0 ? -1 : 0;
}

int dwf_service_runnable_page(dwf_service *s, double stale_ms, int limit, dwf_service_cursor *cur, cJSON **out,
                              dwf_error *err)
{
    *out = NULL;
    cJSON *arr = cJSON_CreateArray();
    if (!arr) return oom(err);
    dwf__svc_lock(s);
    int n = 0, r = runnable_page(s, stale_ms, limit, cur, arr, &n, err);
    if (r == 0 && n < limit) *cur = (dwf_service_cursor)DWF_SERVICE_CURSOR_START; /* the end: start over */
    dwf__svc_unlock(s);
    if (r != 0) {
        cJSON_Delete(arr);
        return -1;
    }
    *out = arr;
    return 0;
}
