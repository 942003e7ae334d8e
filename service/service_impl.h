/*
 * service_impl.h: what the files of the service share; nothing outside service/ includes it.
 *
 * The service is one state machine split by concern (service/README.md has the map): the
 * handle, its lock and transactions (service.c), the rows every concern writes (rows.c),
 * executions (executions.c), invocations (invocations.c), checkpoints (checkpoint.c) and what
 * each operation type does with them (apply.c), timers (timers.c), callbacks (callbacks.c) and
 * the read calls (reads.c). They meet here: the handle, a few inline JSON helpers, and the
 * dwf__svc_ functions one concern offers the others.
 *
 * The functions that read or write rows (all but the lock, transaction, id and name helpers)
 * run inside the caller's transaction with the handle locked, and return 0 or -1 with err
 * filled (loaders: 0 found, 1 absent, -1 error), like the API.
 */
#ifndef DWF_SERVICE_IMPL_H
#define DWF_SERVICE_IMPL_H

#include "dwf_protocol.h"
#include "service.h"
#include "store.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

struct dwf_service {
    dwf__store *st;
    dwf_clock_fn clock;
    void *clock_arg;
    char region[32], account[32];
    int max_inv, event_page;
    pthread_mutex_t mu;
    dwf_mock_fn invoke_mock; /* dwf test: answers chained invokes instead of their targets */
    void *invoke_mock_arg;
    struct dwf__opcache *opc;      /* while a checkpoint request applies its updates (opcache.c), else NULL */
    struct dwf__opcache *opc_done; /* after they are written, until the request answers */
    struct dwf__token_mac *token_mac; /* tokens.c: the MAC key's pads, hashed at open */
    /* service.c, dwf__svc_function_start: the last DurableConfig text a start parsed and what it
     * gave (keyed by the text itself, so nothing can make it stale). */
    char *start_cfg;
    int start_retention, start_timeout;
};
typedef struct dwf__opcache dwf__opcache;

/* The two errors nearly every check returns. */
#define IPVE DWF_ERRORTYPE_INVALID_PARAMETER_VALUE
#define RNFE DWF_ERRORTYPE_RESOURCE_NOT_FOUND

/* What a timer does when it is due (timers.kind in the store). */
#define DWF__TIMERS(X) X(WAIT) X(STEP_RETRY) X(CALLBACK_TIMEOUT) X(CALLBACK_HEARTBEAT) X(EXECUTION_TIMEOUT)
enum dwf__timer {
#define DWF__X(k) DWF__TIMER_##k,
    DWF__TIMERS(DWF__X)
#undef DWF__X
    DWF__TIMER_UNKNOWN
};
/* Where a callback id stands (callbacks.state): only an OPEN one may be completed. */
#define DWF__CALLBACK_STATES(X) X(OPEN) X(SUCCEEDED) X(FAILED) X(TIMED_OUT) X(CLOSED)
enum dwf__cbstate {
#define DWF__X(k) DWF__CB_##k,
    DWF__CALLBACK_STATES(DWF__X)
#undef DWF__X
    DWF__CB_UNKNOWN
};
const char *dwf__svc_timer_name(enum dwf__timer k);
/* timers.c: whether a timer of the tree the execution `arn` (an ARN or id) belongs to is due
 * (the caller holds the lock, in a transaction; an unknown execution has none): 1 and that
 * tree's root (*root, malloc'd), 0 none, -1 error. */
int dwf__svc_timer_due_of(dwf_service *s, const char *arn, char **root, dwf_error *err);
/* Fire the due timers of the tree `root`, each in its own transaction (takes the lock). 0 or -1. */
int dwf__svc_fire_timers_root(dwf_service *s, const char *root, dwf_error *err);
enum dwf__timer dwf__svc_timer_parse(const char *name);
const char *dwf__svc_cbstate_name(enum dwf__cbstate st);
enum dwf__cbstate dwf__svc_cbstate_parse(const char *name);

/* ---- errors and JSON (inline: every file uses them) ------------------------------------------ */
static inline int fail(dwf_error *err, enum dwf_errortype type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int fail(dwf_error *err, enum dwf_errortype type, const char *fmt, ...)
{
    if (err) {
        snprintf(err->type, sizeof err->type, "%s", dwf_errortype_name(type));
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static inline int oom(dwf_error *err) { return fail(err, DWF_ERRORTYPE_SERVICE, "out of memory"); }

static inline const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* obj[key] = item, replacing; takes item. Returns 0, or -1 (item freed) on failure. key is a
 * literal (or in a static table) at every call: a new member keeps it without a copy (an
 * operation's ~10 members, each key strdup'd and freed again, were ~20 allocations of each
 * at-most-once step). cJSON_Delete leaves such keys alone (cJSON_StringIsConst). */
static inline int jset(cJSON *obj, const char *key, cJSON *item)
{
    if (!obj || !item) {
        cJSON_Delete(item);
        return -1;
    }
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item) ? 0 : (cJSON_Delete(item), -1);
    return cJSON_AddItemToObjectCS(obj, key, item) ? 0 : (cJSON_Delete(item), -1);
}

static inline int jset_str(cJSON *obj, const char *key, const char *v)
{
    return v ? jset(obj, key, cJSON_CreateString(v)) : 0;
}

static inline int jset_num(cJSON *obj, const char *key, double v) { return jset(obj, key, cJSON_CreateNumber(v)); }

/* A timestamp in the REST form: epoch seconds. */
static inline int jset_ts(cJSON *obj, const char *key, double ms) { return jset_num(obj, key, ms / 1000.0); }

/* obj[key] as an object, created if missing (NULL on failure). */
static inline cJSON *jobj(cJSON *obj, const char *key)
{
    cJSON *o = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsObject(o)) return o;
    o = cJSON_CreateObject();
    return jset(obj, key, o) == 0 ? o : NULL;
}

static inline cJSON *jdup(const cJSON *v) { return v ? cJSON_Duplicate(v, 1) : NULL; }

/* An Operation's Status and Type as enums (NONE when absent). */
static inline enum dwf_opstatus op_status(const cJSON *op) { return dwf_opstatus_parse(jstr(op, "Status")); }
static inline enum dwf_optype op_type(const cJSON *op) { return dwf_optype_parse(jstr(op, "Type")); }

/* ---- service.c: lock, transactions, identifiers, functions ---------------------------------- */
/* The execution's clock: the service's plus its virtual offset (--skip-time). */
double dwf__svc_now(dwf_service *s, const dwf__exec *e);
/* Operations as a handler sees them: their timestamps moved back by the execution's virtual
 * offset, into the clock the handler runs on (see rows.c). */
void dwf__svc_ops_for_handler(cJSON *ops, const dwf__exec *e);
/* Lock the handle. */
void dwf__svc_lock(dwf_service *s);
void dwf__svc_unlock(dwf_service *s);
/* Unlock at the end of a read call: returns once what it read is on disk (group commit). */
void dwf__svc_unlock_read(dwf_service *s);
/* Roll back (if a transaction is open), unlock, return -1. */
int dwf__svc_abort(dwf_service *s);
/* Commit and unlock: 0 or -1. */
int dwf__svc_commit(dwf_service *s, dwf_error *err);
/* Commit and unlock, then wait only for the commits made before this one (what the call read):
 * its own commit becomes durable with the next flush, which any later call that must be durable
 * leads or joins (the log is flushed in order). For a call whose own writes nobody outside can
 * observe before a later durable one: beginning an invocation. 0 or -1. */
int dwf__svc_commit_unflushed(dwf_service *s, dwf_error *err);
/* Commit and unlock, waiting for no flush at all (service.c says when that is right). 0 or -1. */
int dwf__svc_commit_nowait(dwf_service *s, dwf_error *err);
void dwf__svc_uuid(char out[40]);
/* An ISO-8601 UTC timestamp with milliseconds (the invocation event's form). */
void dwf__svc_iso_time(double ms, char out[64]);
/* 1 if s is 1..DWF_LIMIT_ID_LEN of [A-Za-z0-9_-] (operation ids, execution names). */
int dwf__svc_valid_id(const char *s);
/* "arn:aws:lambda:r:a:function:NAME:QUAL", "NAME:QUAL" or "NAME" -> NAME. */
void dwf__svc_function_base(const char *fn, char out[256]);
/* The qualifier of a function name or ARN (name:QUAL, ...:function:name:QUAL[/...]); "$LATEST" without one. */
void dwf__svc_function_qualifier(const char *fn, char out[160]);
/* 0 found (*out {FunctionName,Handler,Source,DurableConfig}), 1 absent, -1 error. */
int dwf__svc_function_load(dwf_service *s, const char *name, cJSON **out, dwf_error *err);
/* What starting an execution of function `name` needs of it (lock held): its base name (256
 * bytes), whether it is durable (has a DurableConfig), the config's RetentionPeriodInDays and
 * ExecutionTimeout (or the defaults) and whether it has a workflow hash. 0, 1 not found, -1. */
int dwf__svc_function_start(dwf_service *s, const char *name, char *base, int *durable, int *retention_days,
                            int *timeout_s, int *has_hash, dwf_error *err);
/* Load an execution by ARN or id; ResourceNotFoundException if absent. */
int dwf__svc_exec_get(dwf_service *s, const char *arn, dwf__exec **e, dwf_error *err);

/* ---- rows.c: operations, history events, timers, tokens ------------------------------------- */
/* Load an operation: 0 found (*op new, caller frees), 1 absent, -1 error. */
int dwf__svc_op_load(dwf_service *s, const dwf__exec *e, const char *id, cJSON **op, long long *start_seq,
                     dwf_error *err);
/* The same, for an update that saves it back with op_save_take: a request's held operation is
 * handed over rather than copied (until saved back, the request holds none: a failed update
 * fails the request, which rolls back). */
int dwf__svc_op_load_take(dwf_service *s, const dwf__exec *e, const char *id, cJSON **op, long long *start_seq,
                          dwf_error *err);
/* Write an operation (*seqp < 0: a new one, next in start order, *seqp set); bumps the change counter. */
int dwf__svc_op_save(dwf_service *s, dwf__exec *e, const cJSON *op, long long *seqp, dwf_error *err);
/* The same, taking `op` (freed on failure too): held as it is, without a copy (opcache.c). */
int dwf__svc_op_save_take(dwf_service *s, dwf__exec *e, cJSON *op, long long *seqp, dwf_error *err);
/* The store write behind op_save: the row of `op` (its Id) with these stamps; `outside` unless
 * its execution's own checkpoint writes it (the index by change stamp holds only those: rows.c). */
int dwf__svc_op_write(dwf_service *s, long long exec_no, const cJSON *op, long long start_seq, long long change_seq,
                      int outside, dwf_error *err);

/* ---- json_out.c ----------------------------------------------------------------------------- */
/* cJSON_PrintUnformatted(item), the same text, quicker on numbers with a fraction (timestamps).
 * Caller frees; NULL on OOM. */
char *dwf__svc_json_print(const cJSON *item);
/* The text of the history event {EventType, EventId, EventTimestamp (seconds), Id, Name, ParentId,
 * SubType (op's, those it has), <type>Details (details, NULL = {})}: what printing that object
 * gives, without building it. Caller frees; NULL on OOM. */
char *dwf__svc_event_json(const char *type, long long id, double seconds, const cJSON *op, const cJSON *details);

/* ---- opcache.c: the operations a checkpoint request writes, written once at its end ---------- */
/* Start holding saves (s->opc); drop what a previous request left. 0 or -1. */
int dwf__svc_opcache_begin(dwf_service *s, dwf_error *err);
/* Write every held operation (its last save) and every held event, and stop holding (kept for
 * the answer): 0 or -1. `own` is the number of the execution whose checkpoint this is: its
 * operations are answered now, another's are written `outside` (rows.c). */
int dwf__svc_opcache_flush(dwf_service *s, long long own, dwf_error *err);
/* Hold a history event's row (key, EventId, text; takes `json`, freed on failure too) until the flush. */
int dwf__svc_opcache_event(dwf_service *s, long long k, long long id, char *json, dwf_error *err);
/* The answer's delta after the flush: what dwf__svc_ops_changed(since) gives, taking the
 * operations the request wrote from the cache (moved out of it); `before` is e's change counter
 * when the request began. Without a flushed cache, dwf__svc_ops_changed itself. 0 or -1. */
int dwf__svc_opcache_answer(dwf_service *s, const dwf__exec *e, long long since, long long before, cJSON *arr,
                            dwf_error *err);
/* Forget the cache (the request answered, or failed and rolls back). */
void dwf__svc_opcache_drop(dwf_service *s);
/* op_load and op_save while holding: as they are (get: 0 found, 1 not held, -1 error). */
int dwf__svc_opcache_get(dwf_service *s, const dwf__exec *e, const char *id, int take, cJSON **op,
                         long long *start_seq, dwf_error *err);
int dwf__svc_opcache_put(dwf_service *s, const dwf__exec *e, cJSON *op, long long start_seq, long long change_seq,
                         dwf_error *err); /* takes op */

/* Operations after start sequence `after`, at most `limit` (<= 0: all), appended to arr.
 * *last receives the start sequence of the last one, *more whether others follow. */
int dwf__svc_ops_page(dwf_service *s, const dwf__exec *e, long long after, int limit, cJSON *arr, long long *last,
                      int *more, dwf_error *err);
/* Operations whose change stamp is after `since`, in start order. */
int dwf__svc_ops_changed(dwf_service *s, const dwf__exec *e, long long since, cJSON *arr, dwf_error *err);
/* The same with a stamp up to `upto` too; *seqs (caller frees) their *n start sequences. */
int dwf__svc_ops_changed_between(dwf_service *s, const dwf__exec *e, long long since, long long upto, cJSON *arr,
                                 long long **seqs, size_t *n, dwf_error *err);
/* Append a history event; takes `details` (NULL = {}). `op` gives Id/Name/ParentId/SubType. */
int dwf__svc_event_add(dwf_service *s, dwf__exec *e, enum dwf_eventtype type, const cJSON *op, cJSON *details,
                       dwf_error *err);
/* An execution-level event: the EXECUTION operation's Id, no Name. Takes `details`. */
int dwf__svc_exec_event(dwf_service *s, dwf__exec *e, enum dwf_eventtype type, cJSON *details, dwf_error *err);
/* {Payload, Truncated} and {Payload: ErrorObject, Truncated}, as events carry them; NULL on OOM. */
cJSON *dwf__svc_wrap_payload(const char *payload);
cJSON *dwf__svc_wrap_error(const cJSON *errobj);
/* {ErrorType?, ErrorMessage?}; NULL on OOM. */
cJSON *dwf__svc_error_object(const char *type, const char *message);
int dwf__svc_timer_set(dwf_service *s, const dwf__exec *e, const char *op_id, enum dwf__timer kind, double due,
                       dwf_error *err);
/* Delete the operation's timer of `kind`, or all its timers (DWF__TIMER_UNKNOWN). */
int dwf__svc_timer_del(dwf_service *s, const dwf__exec *e, const char *op_id, enum dwf__timer kind, dwf_error *err);
/* Set an open callback's state (by execution and operation). */
int dwf__svc_callback_state(dwf_service *s, const dwf__exec *e, const char *op_id, enum dwf__cbstate st,
                            dwf_error *err);
/* An external change (timer, callback, chained result): the handler must see it. */
void dwf__svc_wake(dwf__exec *e);
/* An execution was made runnable (or a call due) by something its host did not start itself:
 * moves dwf_service_runnable_marks (invocations.c). */
void dwf__svc_runnable_mark(void);
/* ---- tokens.c: checkpoint tokens ------------------------------------------------------------- */
/* The longest token and its NUL: "<n>.<c>.<mac>", 8 + 1 + 14 + 1 + 32 characters at most. */
#define DWF__TOKEN_LEN 64
/* The token MAC's key state, from the store's key: at open (0, or -1 out of memory) and close. */
int dwf__svc_token_init(dwf_service *s);
void dwf__svc_token_free(dwf_service *s);
/* A fresh checkpoint token, now e's current one (e->live_token and e->token_count: the caller
 * saves e). */
int dwf__svc_token_issue(dwf_service *s, dwf__exec *e, char out[DWF__TOKEN_LEN], dwf_error *err);
/* No token of e is current any more (it ended; the caller saves e). */
void dwf__svc_token_retire(dwf__exec *e);
/* 1 if the token was issued for this execution (live_only: and is the current one), 0 if not. */
int dwf__svc_token_ok(dwf_service *s, const dwf__exec *e, const char *token, int live_only, dwf_error *err);

/* ---- executions.c ---------------------------------------------------------------------------- */
/* Start (or, by name with the same input, find) an execution; *already set when found.
 * parent_arn/parent_op/root_arn: the caller of a chained invoke (NULL for Invoke). */
int dwf__svc_start(dwf_service *s, const char *function_name, const char *name, const char *input,
                   const char *parent_arn, const char *parent_op, const char *root_arn, dwf__exec **out_e,
                   int *already, dwf_error *err);
/* Finish an execution with a terminal status, its result or error. The caller saves e. */
int dwf__svc_exec_close(dwf_service *s, dwf__exec *e, enum dwf_execstatus status, const char *result,
                        const cJSON *errobj, dwf_error *err);

/* ---- invocations.c: who runs an invocation (or a plain call) ----------------------------------- */
/* "<host>:<pid>" of this process; 0, or -1 when it does not fit. */
int dwf__svc_owner_self(char *out, size_t n);
/* 1 if owner names a process on this machine that no longer exists. */
int dwf__svc_owner_dead(const char *owner);

/* ---- calls.c: plain (non-durable) functions called by a CHAINED_INVOKE -------------------------- */
/* 1 if the function (as dwf__svc_function_load gives it) is durable: it has a DurableConfig. */
int dwf__svc_function_durable(const cJSON *fn);
/* Record a call of the plain function fn with payload for the CHAINED_INVOKE op_id of e. */
int dwf__svc_call_create(dwf_service *s, const dwf__exec *e, const char *op_id, const char *fn,
                         const char *payload, dwf_error *err);
/* Forget e's calls (all of them when op_id is NULL): the caller closed or cancelled. */
int dwf__svc_call_drop(dwf_service *s, const dwf__exec *e, const char *op_id, dwf_error *err);

/* ---- apply.c: one checkpoint update, by operation type ---------------------------------------- */
/* An update whose shape and batch rules checkpoint.c has checked. */
typedef struct dwf__update {
    const cJSON *u;          /* the OperationUpdate */
    enum dwf_optype type;
    enum dwf_action action;
    const char *id;
    const char *payload;     /* Payload, or NULL */
    const cJSON *error;      /* Error (an ErrorObject), or NULL */
} dwf__update;
/* Apply it to an operation of the execution (every type but EXECUTION). */
int dwf__svc_apply(dwf_service *s, dwf__exec *e, const dwf__update *up, dwf_error *err);
/* Apply an EXECUTION update: it finishes the execution itself. */
int dwf__svc_apply_execution(dwf_service *s, dwf__exec *e, const dwf__update *up, dwf_error *err);

/* ---- callbacks.c ------------------------------------------------------------------------------ */
/* A new callback id for an operation: base64 of {"executionId","operationId","token"}. */
char *dwf__svc_callback_id_new(const dwf__exec *e, const char *op_id);

#endif
