/*
 * rows.c: the rows every part of the service writes: operations, history events, timers,
 * callback states (checkpoint tokens: tokens.c).
 *
 * Deltas: every write of an operation row bumps the execution's change counter (seq) and stamps
 * the row with it; the execution remembers the counter the handler has seen (seen_seq). A
 * checkpoint answers every row stamped after seen_seq, which includes what timers and
 * callbacks changed in between, and an invocation that returns PENDING while such unseen
 * changes exist is invoked again at once (invocations.c). So op_save is the only way an
 * operation is written: nothing can change without the handler hearing of it.
 * A checkpoint answers what it wrote itself from its cache (opcache.c) and then sets seen_seq to
 * the counter, so the store is only asked for the rows stamped after seen_seq by someone else:
 * a row is flagged `outside` unless its execution's own checkpoint wrote it, and only flagged
 * rows are in the index by change stamp (schema 13, store.c), which a checkpoint then leaves
 * alone.
 *
 * Operations are kept as the Operation JSON of the API (timestamps in epoch seconds), events
 * as the Event JSON of GetDurableExecutionHistory, numbered 1, 2, ... per execution.
 */
#include "service_impl.h"

#include <stdlib.h>
#include <string.h>

/* ---- operations ------------------------------------------------------------------------------ */
/* The Operation JSON in column 0 of an operations row (columns 0 json, 1 start_seq), checked to
 * be what the service wrote: an object with a string Id, a known Type and Status. */
static cJSON *op_from_row(dwf_service *s, const dwf__exec *e, sqlite3_stmt *q, dwf_error *err)
{
    char what[320];
    snprintf(what, sizeof what, "operation %lld (its start sequence) of execution %s", (long long)sqlite3_column_int64(q, 1),
             e->id);
    cJSON *op = dwf__col_json(s->st, q, 0, what, err);
    if (!op) return NULL;
    enum dwf_optype t = op_type(op);
    enum dwf_opstatus st = op_status(op);
    if (!cJSON_IsObject(op) || !jstr(op, "Id") || t == DWF_OPTYPE_NONE || t == DWF_OPTYPE_UNKNOWN ||
        st == DWF_OPSTATUS_NONE || st == DWF_OPSTATUS_UNKNOWN) {
        cJSON_Delete(op);
        fail(err, DWF_ERRORTYPE_STORE_CORRUPT,
             "the store %s is corrupt: %s is not an Operation (an Id, a known Type and Status); nothing was changed",
             dwf__store_path(s->st), what);
        return NULL;
    }
    return op;
}

static int op_load(dwf_service *s, const dwf__exec *e, const char *id, int take, cJSON **op, long long *start_seq,
                   dwf_error *err)
{
    *op = NULL;
    if (s->opc) {
        int c = dwf__svc_opcache_get(s, e, id, take, op, start_seq, err);
        if (c <= 0) return c;
    }
    /* The row the last call wrote (a step's START, which its SUCCEED closes): kept by the store
     * as the text it wrote, which was an Operation (op_from_row's checks hold). */
    long long kept_seq;
    cJSON *parsed;
    const char *kept = dwf__store_op_cached(s->st, e->no, id, &kept_seq, &parsed);
    if (kept && ((*op = parsed) || (*op = cJSON_Parse(kept)))) {
        if (start_seq) *start_seq = kept_seq;
        return 0;
    }
    /* (the Ids the store keeps: a new operation's lookup, before its START, answered) */
    if (dwf__store_op_id_known(s->st, e->no, e->op_count, id) == 0) return 1;
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, "SELECT json, start_seq FROM operations WHERE exec_no=?1 AND op_id=?2",
                                       "is", e->no, id);
    if (!q) return -1;
    int r = dwf__sql_step(s->st, q, err);
    if (r == 1) {
        *op = op_from_row(s, e, q, err);
        if (start_seq) *start_seq = sqlite3_column_int64(q, 1);
        r = *op ? 0 : -1;
    } else if (r == 0) {
        r = 1;
    }
    dwf__sql_done(s->st, q);
    return r;
}

int dwf__svc_op_write(dwf_service *s, long long exec_no, const cJSON *op, long long start_seq, long long change_seq,
                      int outside, dwf_error *err)
{
    char *json = dwf__svc_json_print(op);
    if (!json) return oom(err);
    dwf__store_write w = dwf__store_write_begin(s->st);
    /* An operation written again keeps its key (a start sequence names one Id for good): the
     * UPDATE names no column of the index by Id and so leaves it alone, where INSERT OR REPLACE
     * deleted and re-inserted its entry (one more page of the log). The second clause keeps
     * REPLACE's meaning for an Id saved under a new start sequence. */
    int r = dwf__sql_exec(s->st, err,
                          "INSERT INTO operations(k, op_id, change_seq, type, status, json, outside)"
                          " VALUES(" DWF__ROW_KEY("?1", "?3") ",?2,?4,?5,?6,?7,?8)"
                          " ON CONFLICT(k) DO UPDATE SET change_seq=excluded.change_seq,"
                          " type=excluded.type, status=excluded.status,"
                          " json=excluded.json, outside=excluded.outside"
                          " ON CONFLICT(exec_no, op_id) WHERE op_id IS NOT NULL DO UPDATE SET k=excluded.k,"
                          " change_seq=excluded.change_seq, type=excluded.type, status=excluded.status,"
                          " json=excluded.json, outside=excluded.outside",
                          "isiisssi", exec_no, jstr(op, "Id"), start_seq, change_seq, jstr(op, "Type"),
                          jstr(op, "Status"), json, (long long)(outside != 0));
    if (r == 0) {
        dwf__store_op_kept(s->st, &w, exec_no, jstr(op, "Id"), start_seq, json); /* (takes json) */
    } else {
        free(json);
    }
    return r;
}

/* The low half of the key of e's next row, operation or event (schema 16, store.c): the count of
 * rows it has, so the two kinds are in one order, the order they were added; 0, or -1 past the
 * most the store keeps. */
static int next_row(const dwf__exec *e, long long *row, dwf_error *err)
{
    if (e->op_count < 0 || e->event_count < 0 || e->op_count + e->event_count >= DWF__ROW_SEQ_MAX)
        return fail(err, DWF_ERRORTYPE_SERVICE, "execution %s has %lld operations and events, the most the store keeps",
                    e->id, DWF__ROW_SEQ_MAX);
    *row = e->op_count + e->event_count;
    return 0;
}

/* The next start sequence of e into *seqp, if it has none yet: 0, or -1 past the most. */
static int next_start_seq(dwf__exec *e, long long *seqp, dwf_error *err)
{
    if (*seqp >= 0) return 0;
    if (next_row(e, seqp, err) != 0) return -1;
    e->op_count++;
    return 0;
}

int dwf__svc_op_save(dwf_service *s, dwf__exec *e, const cJSON *op, long long *seqp, dwf_error *err)
{
    if (!s->opc) {
        if (next_start_seq(e, seqp, err) != 0) return -1;
        return dwf__svc_op_write(s, e->no, op, *seqp, ++e->seq, 1, err);
    }
    cJSON *dup = cJSON_Duplicate(op, 1);
    return dup ? dwf__svc_op_save_take(s, e, dup, seqp, err) : oom(err);
}

int dwf__svc_op_load(dwf_service *s, const dwf__exec *e, const char *id, cJSON **op, long long *start_seq,
                     dwf_error *err)
{
    return op_load(s, e, id, 0, op, start_seq, err);
}

int dwf__svc_op_load_take(dwf_service *s, const dwf__exec *e, const char *id, cJSON **op, long long *start_seq,
                          dwf_error *err)
{
    return op_load(s, e, id, 1, op, start_seq, err);
}

int dwf__svc_op_save_take(dwf_service *s, dwf__exec *e, cJSON *op, long long *seqp, dwf_error *err)
{
    if (next_start_seq(e, seqp, err) != 0) {
        cJSON_Delete(op);
        return -1;
    }
    long long start_seq = *seqp, change_seq = ++e->seq;
    /* Inside a checkpoint request: written once, when its updates are all applied (opcache.c). */
    if (s->opc) return dwf__svc_opcache_put(s, e, op, start_seq, change_seq, err);
    int r = dwf__svc_op_write(s, e->no, op, start_seq, change_seq, 1, err);
    cJSON_Delete(op);
    return r;
}

/* The operations a statement selects (json, start_seq), appended to arr: at most `limit` (0: all;
 * *more says whether one more was there), *last the last one's start_seq, and when seqs is given
 * every start_seq in a growing array (*seqs, *nseqs). 0 or -1. */
static int ops_collect(dwf_service *s, const dwf__exec *e, sqlite3_stmt *q, int limit, cJSON *arr,
                       long long *last, int *more, long long **seqs, size_t *nseqs, dwf_error *err)
{
    int r, n = 0;
    size_t cap = 0;
    while ((r = dwf__sql_step(s->st, q, err)) == 1) {
        if (limit > 0 && n == limit) {
            if (more) *more = 1;
            break;
        }
        if (seqs && *nseqs == cap) {
            cap = cap ? cap * 2 : 16;
            long long *g = realloc(*seqs, cap * sizeof *g);
            if (!g) {
                r = oom(err);
                break;
            }
            *seqs = g;
        }
        cJSON *op = op_from_row(s, e, q, err);
        if (!op) {
            r = -1;
            break;
        }
        if (!cJSON_AddItemToArray(arr, op)) {
            cJSON_Delete(op);
            r = oom(err);
            break;
        }
        if (last) *last = sqlite3_column_int64(q, 1);
        if (seqs) (*seqs)[(*nseqs)++] = sqlite3_column_int64(q, 1);
        n++;
    }
    dwf__sql_done(s->st, q);
    return r < 0 ? -1 : 0;
}

int dwf__svc_ops_page(dwf_service *s, const dwf__exec *e, long long after, int limit, cJSON *arr, long long *last,
                      int *more, dwf_error *err)
{
    *more = 0;
    /* The execution's operations are the keys from its number times 2^32 on (schema 11). */
    if (after < -1) after = -1;
    if (after > DWF__ROW_SEQ_MAX) after = DWF__ROW_SEQ_MAX;
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT json, start_seq FROM operations WHERE k>" DWF__ROW_KEY("?1", "?2")
                                       " AND k<=" DWF__ROW_KEY("?1", "4294967295") " AND op_id IS NOT NULL"
                                       " ORDER BY k LIMIT ?3",
                                       "iii", e->no, after, (long long)(limit > 0 ? limit + 1 : -1));
    return q ? ops_collect(s, e, q, limit, arr, last, more, NULL, NULL, err) : -1;
}

/* The two queries of changed operations name their index: without statistics SQLite would rather
 * walk every operation of the execution in key order (start order, as asked) than read the few
 * changed ones by their change stamp and sort them, and a delta would cost the whole execution.
 * They read the rows written outside the handler's checkpoints (outside=1, the index's rows):
 * the only ones stamped after its execution's seen_seq that a request has not in its cache
 * (above). */
int dwf__svc_ops_changed(dwf_service *s, const dwf__exec *e, long long since, cJSON *arr, dwf_error *err)
{
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT json, start_seq FROM operations INDEXED BY operations_change"
                                       " WHERE exec_no=?1 AND change_seq>?2 AND outside=1"
                                       " ORDER BY start_seq",
                                       "ii", e->no, since);
    return q ? ops_collect(s, e, q, 0, arr, NULL, NULL, NULL, NULL, err) : -1;
}

int dwf__svc_ops_changed_between(dwf_service *s, const dwf__exec *e, long long since, long long upto, cJSON *arr,
                                 long long **seqs, size_t *n, dwf_error *err)
{
    *seqs = NULL;
    *n = 0;
    /* Nothing can be stamped in an empty range: a checkpoint asks for the changes made since
     * the handler's last answer and before this request, and there are none unless a timer or
     * a callback wrote meanwhile (one statement of each at-most-once step's call saved). */
    if (since >= upto) return 0;
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT json, start_seq FROM operations INDEXED BY operations_change"
                                       " WHERE exec_no=?1 AND change_seq>?2"
                                       " AND change_seq<=?3 AND outside=1 ORDER BY start_seq",
                                       "iii", e->no, since, upto);
    return q ? ops_collect(s, e, q, 0, arr, NULL, NULL, seqs, n, err) : -1;
}

/* ---- history events -------------------------------------------------------------------------- */
int dwf__svc_event_add(dwf_service *s, dwf__exec *e, enum dwf_eventtype type, const cJSON *op, cJSON *details,
                       dwf_error *err)
{
    const char *name = dwf_eventtype_name(type);
    long long row = 0;
    if (next_row(e, &row, err) != 0) {
        cJSON_Delete(details);
        return -1;
    }
    char *json = name ? dwf__svc_event_json(name, e->event_count + 1, dwf__svc_now(s, e) / 1000.0, op, details) : NULL;
    cJSON_Delete(details);
    if (!json) return oom(err);
    e->event_count++;
    /* A row of the operations table (schema 16): no op_id, outside=0, so in neither index.
     * While a checkpoint request applies its updates, held and written with the others at its
     * end (opcache.c), under the key DWF__ROW_KEY gives in SQL. */
    if (s->opc) return dwf__svc_opcache_event(s, dwf__row_key(e->no, row), e->event_count, json, err);
    int r = dwf__sql_exec(s->st, err,
                          "INSERT INTO operations(k, json, outside, event_id) VALUES(" DWF__ROW_KEY("?1", "?2") ",?3,0,?4)",
                          "iisi", e->no, row, json, e->event_count);
    free(json);
    return r;
}

int dwf__svc_exec_event(dwf_service *s, dwf__exec *e, enum dwf_eventtype type, cJSON *details, dwf_error *err)
{
    /* The EXECUTION operation's identity: its Id, no Name (as the SDK's testing service lists them). */
    cJSON *o = cJSON_CreateObject();
    if (!o || jset_str(o, "Id", e->id)) {
        cJSON_Delete(o);
        cJSON_Delete(details);
        return oom(err);
    }
    int r = dwf__svc_event_add(s, e, type, o, details, err);
    cJSON_Delete(o);
    return r;
}

cJSON *dwf__svc_wrap_payload(const char *payload)
{
    cJSON *w = cJSON_CreateObject();
    int bad = !w;
    if (payload) bad |= jset_str(w, "Payload", payload);
    bad |= jset(w, "Truncated", cJSON_CreateFalse());
    if (bad) {
        cJSON_Delete(w);
        return NULL;
    }
    return w;
}

cJSON *dwf__svc_wrap_error(const cJSON *errobj)
{
    cJSON *w = cJSON_CreateObject();
    int bad = !w;
    bad |= jset(w, "Payload", errobj ? cJSON_Duplicate(errobj, 1) : cJSON_CreateObject());
    bad |= jset(w, "Truncated", cJSON_CreateFalse());
    if (bad) {
        cJSON_Delete(w);
        return NULL;
    }
    return w;
}

cJSON *dwf__svc_error_object(const char *type, const char *message)
{
    cJSON *e = cJSON_CreateObject();
    int bad = !e;
    if (type) bad |= jset_str(e, "ErrorType", type);
    if (message) bad |= jset_str(e, "ErrorMessage", message);
    if (bad) {
        cJSON_Delete(e);
        return NULL;
    }
    return e;
}

/* ---- timers, callbacks, wake-ups ----------------------------------------------------------------- */
int dwf__svc_timer_set(dwf_service *s, const dwf__exec *e, const char *op_id, enum dwf__timer kind, double due,
                       dwf_error *err)
{
    return dwf__sql_exec(s->st, err, "INSERT OR REPLACE INTO timers(exec_id, op_id, kind, due_ms) VALUES(?1,?2,?3,?4)",
                         "sssd", e->id, op_id, dwf__svc_timer_name(kind), due);
}

int dwf__svc_timer_del(dwf_service *s, const dwf__exec *e, const char *op_id, enum dwf__timer kind, dwf_error *err)
{
    return dwf__sql_exec(s->st, err, "DELETE FROM timers WHERE exec_id=?1 AND op_id=?2 AND (?3 IS NULL OR kind=?3)",
                         "sss", e->id, op_id, dwf__svc_timer_name(kind));
}

int dwf__svc_callback_state(dwf_service *s, const dwf__exec *e, const char *op_id, enum dwf__cbstate st,
                            dwf_error *err)
{
    return dwf__sql_exec(s->st, err, "UPDATE callbacks SET state=?3 WHERE exec_id=?1 AND op_id=?2", "sss", e->id,
                         op_id, dwf__svc_cbstate_name(st));
}

void dwf__svc_wake(dwf__exec *e)
{
    /* While an invocation runs, the delta of its next checkpoint carries the change instead,
     * and a PENDING answer with unseen changes is invoked again (invocations.c). */
    if (e->inv_open) return;
    e->wake = 1;
    dwf__svc_runnable_mark();
}

/* ---- the handler's view of time ----------------------------------------------------------------- */
/* A handler runs on real time: the SDKs compare a WAIT's ScheduledEndTimestamp or a STEP's
 * NextAttemptTimestamp with their own clock (Date.now()) to decide whether to wait for it within
 * the invocation or to end it. After --skip-time moved an execution's clock, its timestamps are
 * ahead of real time by its offset, and the SDK would see a 1 s retry as days away and end
 * the invocation. So what a handler receives (the invocation event, a checkpoint's delta,
 * GetDurableExecutionState) carries its timestamps less the offset, which cannot change while
 * an invocation is open: inside an invocation, time behaves exactly as without --skip-time.
 * The history and GetDurableExecution show the execution's own (virtual) clock. */
void dwf__svc_ops_for_handler(cJSON *ops, const dwf__exec *e)
{
    static const char *const paths[][2] = {{NULL, "StartTimestamp"},
                                           {NULL, "EndTimestamp"},
                                           {"StepDetails", "NextAttemptTimestamp"},
                                           {"WaitDetails", "ScheduledEndTimestamp"}};
    if (!e || e->clock_offset_ms == 0) return;
    for (cJSON *op = ops ? ops->child : NULL; op; op = op->next)
        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
            cJSON *o = paths[i][0] ? cJSON_GetObjectItemCaseSensitive(op, paths[i][0]) : op;
            cJSON *v = cJSON_GetObjectItemCaseSensitive(o, paths[i][1]);
            if (cJSON_IsNumber(v)) cJSON_SetNumberValue(v, v->valuedouble - e->clock_offset_ms / 1000.0);
        }
}
