/*
 * core.h: what the files of the replay core (context.c, ids.c, hashmap.c, replay.c,
 * checkpoint.c, ops.c, ops_batch.c, invocation.c) share among themselves. Nothing outside the
 * replay core includes it: the value layer reaches the context only through internal.h.
 *
 * Locking: one mutex per invocation (inv->mu) guards the op table, the checkpoint queue and the
 * compensation list; the value pool has its own (it is hit far more often). Operation records
 * in the table are never modified or freed while the invocation runs (a newer record for the
 * same Id replaces the pointer and the old one is parked until the end), so a pointer returned
 * by dwf__op_get() stays readable without the lock.
 */
#ifndef DWF_CORE_H
#define DWF_CORE_H

#include <pthread.h>
#include <stdint.h>
#include "dwf_protocol.h"
#include "internal.h"

/* ---- hashmap.c: string -> pointer, open addressing ------------------------------------- */
typedef struct dwf__slot {
    char *key; /* owned copy; NULL = empty (no deletion, so no tombstones) */
    void *val;
} dwf__slot;
typedef struct dwf__map {
    dwf__slot *slots;
    size_t cap; /* power of two */
    size_t len;
} dwf__map;
int dwf__map_init(dwf__map *m, size_t hint);                         /* 0 or -1 (no memory) */
void *dwf__map_get(const dwf__map *m, const char *key);
/* Insert or replace. *old (if given) receives the replaced value or NULL. 0 or -1. */
int dwf__map_put(dwf__map *m, const char *key, void *val, void **old);
void dwf__map_free(dwf__map *m); /* frees keys, not values */

/* ---- operation records ------------------------------------------------------------------ */
/* What replay needs of an Operation record, and nothing else: the table holds one per
 * operation, so a 10,000-step execution keeps 10,000 of these in memory. The wire record
 * (timestamps, ParentId, key strings) is dropped once merged; on_operation sees it whole. */
typedef struct dwf__op {
    unsigned char type;   /* enum dwf_optype (dwf_protocol.h) */
    unsigned char status; /* enum dwf_opstatus */
    unsigned char replay_children;
    unsigned char subtype_owned;
    int attempt;          /* StepDetails.Attempt (completed attempts) */
    const char *subtype;  /* the wire name of the SDK's subtypes (dwf_subtype_name), else owned */
    char *name;           /* NULL = unnamed */
    char *result;         /* Step/Context/Callback/ChainedInvoke Details.Result */
    char *callback_id;
    cJSON *error;         /* Details.Error */
} dwf__op;
/* The record's status, DWF_OPSTATUS_NONE when there is no record. */
int dwf__op_status(const dwf__op *op);

/* ---- the invocation --------------------------------------------------------------------- */
typedef struct dwf__update {
    struct dwf__update *next;
    cJSON *json;
    size_t est;   /* estimated serialised size, for DWF_LIMIT_BATCH_BYTES */
    uint64_t seq; /* position in the FIFO; acknowledged when acked_seq >= seq */
    double queued_ms; /* CLOCK_REALTIME when queued: the sender sends one left waiting too long */
} dwf__update;

typedef struct dwf__comp {
    char *step_id; /* unhashed step id of the step that registered it: orders compensations */
    char *name;    /* step name or NULL */
    dwf_fn fn;
    void *frame; /* the registering context's frame (copied when the compensation runs) */
} dwf__comp;

typedef struct dwf__pool_item {
    void *p;
    uint64_t seq;   /* pool order: what dwf_pool_mark() returns compares with this */
    unsigned owner; /* dwf_ctx.owner of the context that made it (frames: of the spawner) */
    int is_json;    /* cJSON_Delete vs free (a frame) */
} dwf__pool_item;

typedef struct dwf__inv {
    const dwf_workflow *wf;
    dwf_transport *t;
    const dwf_invoke_opts *opts;
    char *arn;
    char *token;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    dwf__map ops;       /* hashed Id -> dwf__op (owned) */
    dwf__map callbacks; /* CallbackId -> dwf__op (borrowed from ops) */
    dwf__op **parked;   /* replaced operation records, freed at the end */
    size_t nparked, capparked;

    /* checkpoint queue */
    dwf__update *q_head, *q_tail;
    uint64_t next_seq, acked_seq;
    int in_flight;
    int calls; /* checkpoint calls made (tests, benchmarks) */
    /* pipelined commit: the sender thread (started by the first pipelined or fire-and-forget
     * update) sends while acked_seq < pipe_seq, so the body runs on while a call is in flight,
     * and sends fire-and-forget updates that waited DWF__LINGER_MS (checkpoint.c); pipe_last is
     * the newest pipelined update, handed to the sender (pipe_seq) by the next fire-and-forget
     * one */
    uint64_t pipe_seq, pipe_last;
    /* the newest DWF__DEFERRED update: a step body does not run before it is acknowledged */
    uint64_t defer_seq;
    /* when the sender will look at the queue again at the latest (realtime ms; 0 = only when
     * kicked), as its last pass left it */
    double sender_due;
    int sender_started, sender_stop;
    struct dwf__sender *sender; /* the pooled thread serving this invocation (checkpoint.c) */

    /* faults: a checkpoint failure ends the invocation; `fatal` ends the execution */
    int fault;           /* checkpoint call failed */
    int fault_retryable; /* ...and the invocation may be retried */
    /* what the failed call said (malloc'd by the fault: kept out of the struct, ~600 bytes,
     * which made every invocation's calloc a large-bin request; fault_oom when that failed) */
    dwf_error *fault_err;
    int fatal;           /* published last, with a release store, by dwf__fatal: read with acquire */
    char fatal_type[64];
    char *fatal_msg;

    pthread_mutex_t pool_mu;
    dwf__pool_item *pool;
    size_t npool, cappool;
    uint64_t pool_seq;   /* sequence number of the next pool entry */
    unsigned pool_owners; /* owners handed out (dwf__ctx_new_owner) */

    cJSON *input; /* owned */
    /* Set when a step body outlived its timeout and was left running on its thread: the
     * invocation ends (retryable fault) and this struct, its pool and frames stay allocated
     * for that thread; nothing is freed (ops.c, timed_run). */
    int abandoned;
    dwf__comp *comps;
    size_t ncomps, capcomps;
    uint64_t rng;
    /* secret() / parameter() values read in this invocation, "s:<id>" / "p:<path>" -> text
     * (secrets.c; under mu, never across the read itself) */
    cJSON *secret_cache;
} dwf__inv;

struct dwf_ctx {
    dwf__inv *inv;
    struct dwf_ctx *parent;
    char *step_id;        /* this child context's own step id (owned); NULL at root */
    char parent_hash[17]; /* hashed Id of this context: ParentId of its operations ("" at root) */
    int counter;          /* per-context operation counter */
    int replaying;
    const int *cancel; /* set by a completed batch: this subtree's checkpoints are dropped */
    void *frame;       /* this context's frame (saga: what compensations copy) */
    cJSON *error;      /* pending error, pool-owned */
    int line, col;
    dwf__cursor item_cursor; /* dwf_item's place in the array a `for` walks */
    /* Who owns the values this context makes, for dwf_pool_collect: contexts that run on the
     * caller's thread (steps, groups, child contexts) share their parent's owner; each thread of
     * a parallel/map gets its own, so a loop never looks at values a sibling thread is using. */
    unsigned owner;
    /* step-body contexts only */
    int in_step;
    int attempt;
    const char *op_id, *op_name, *callback_id;
    /* aws.c: idempotency tokens filled so far in this attempt (their ordinals), and the poll
     * check's number (0 in a step: a step's retries send the same tokens, a poll's checks not) */
    int aws_tokens, token_round;
    double deadline_ms; /* CLOCK_MONOTONIC ms when this attempt's timeout passes; 0 = none */
};

/* context.c */
void dwf__ctx_init(dwf_ctx *c, dwf__inv *inv, dwf_ctx *parent);
/* The context a step body, a waitForCallback submitter or a poll check runs on, as attempt
 * `attempt` of operation op_id (hashed Id; op_name, callback_id NULL when none): a child of c
 * (same owner, .dwf position), never replaying, inside a step. Every attempt starts here, timed
 * or not; a timed one then cuts the parent link and sets its deadline (ops.c, timed_new). */
void dwf__step_ctx_init(dwf_ctx *sc, dwf_ctx *c, int attempt, const char *op_id,
                        const char *op_name, const char *callback_id, void *frame);
/* Give c an owner of its own (a parallel/map thread's context). */
void dwf__ctx_new_owner(dwf_ctx *c);
/* Hand a malloc'd block to the pool (freed when the invocation ends). Returns p. */
void *dwf__pool_take(dwf__inv *inv, void *p);
/* A pool-owned copy of `frame` (wf->frame_size bytes); `frame` itself when size is 0. */
void *dwf__frame_copy(dwf_ctx *c, const void *frame);
/* New error object {"ErrorType","ErrorMessage"[,"Cause"]}; caller frees. */
cJSON *dwf__error_new(const char *type, const char *message, const cJSON *cause);
/* Set the context's pending error from an object (takes ownership; first one wins). */
void dwf__set_error_obj(dwf_ctx *c, cJSON *err);
/* Take the context's pending error (a new copy the caller frees), or a generic one. */
cJSON *dwf__take_error_copy(dwf_ctx *c);
/* The error as sent on the wire: ErrorType, ErrorMessage, ErrorData only. Caller frees. */
cJSON *dwf__wire_error(const cJSON *err);
/* The error the child context `sid` failed with, its cause chain rebuilt from the records of
 * the operations inside it (ops.c), or a copy of `plain` when its record does not hold one.
 * New object, caller frees; NULL = no memory. */
cJSON *dwf__chain_error(dwf_ctx *c, const char *sid, const cJSON *plain);
/* Record an execution-ending fault (non-determinism, invalid use) and return DWF_FATAL. */
int dwf__fatal(dwf_ctx *c, const char *type, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* A uniform random number in [0,1) for jitter (thread-safe). */
double dwf__random(dwf__inv *inv);

/* ids.c */
/* The next step id of context c ("3", "2-1-4"): malloc'd, caller frees; NULL = no memory. */
char *dwf__next_step_id(dwf_ctx *c);
/* A child step id of a given id: "<sid>-<n>". malloc'd. */
char *dwf__child_step_id(const char *sid, int n);
/* Compare two step ids as paths of integers (for ordering compensations). */
int dwf__step_id_cmp(const char *a, const char *b);

/* replay.c */
/* Guard every durable operation: refuses step bodies, stops cancelled subtrees (SUSPEND),
 * and stops as soon as the execution has a fatal fault. */
int dwf__durable_guard(dwf_ctx *c, const char *what);

/* How every durable operation starts, written once: dwf__op_begin guards (dwf__durable_guard),
 * takes the context's next step id, hashes it, looks the record up and checks that it matches
 * what the code asks for now (dwf__check_replay; DWF_OPTYPE_NONE skips the check, as the SDK
 * does for waitForCondition). dwf__op_find does the same for a step id the caller made (a
 * batch item's "S-(i+1)"); it takes the id, NULL meaning out of memory. Whatever they return,
 * the operation ends with dwf__op_end, which frees the id and leaves replay mode when the next
 * operation has no record (so log lines after the last replayed operation are written), and
 * returns rc. */
typedef struct dwf__opref {
    char *sid;         /* the step id, "3" or "2-1-4" (owned) */
    char id[17];       /* its hashed Id */
    const dwf__op *op; /* the record; NULL the first time the operation runs */
} dwf__opref;
int dwf__op_begin(dwf_ctx *c, const char *what, enum dwf_optype type, const char *name,
                  enum dwf_subtype subtype, dwf__opref *r);
int dwf__op_find(dwf_ctx *c, char *sid, enum dwf_optype type, const char *name,
                 enum dwf_subtype subtype, dwf__opref *r);
int dwf__op_end(dwf_ctx *c, dwf__opref *r, int rc);
/* Look an operation up by hashed Id (NULL if absent). The pointer stays valid. */
const dwf__op *dwf__op_get(dwf__inv *inv, const char *id);
/* Compare a recorded op with what the code does now; DWF_FATAL on a mismatch. */
int dwf__check_replay(dwf_ctx *c, const char *sid, const dwf__op *op, enum dwf_optype type,
                      const char *name, enum dwf_subtype subtype);
/* Parse a recorded payload string into a pool-owned value (NULL/absent -> null). */
int dwf__parse_payload(dwf_ctx *c, const char *text, dwf_val **out);
/* Merge one wire Operation record into the table (takes ownership of the cJSON; notify =
 * call the on_operation hook with it first). Called with inv->mu held. 0 or -1 (no memory). */
int dwf__merge_op(dwf__inv *inv, cJSON *op, int notify);
/* The same for a record the caller keeps (the event's): no hook, nothing taken. */
int dwf__merge_record(dwf__inv *inv, const cJSON *op);
void dwf__op_free(dwf__op *op);

/* checkpoint.c */
/* A new update for the operation `id` of context c: {Id, ParentId?, Type, SubType?, Action,
 * Name?} (no SubType for DWF_SUBTYPE_NONE). NULL = no memory. */
cJSON *dwf__update_new(dwf_ctx *c, const char *id, enum dwf_optype type, enum dwf_subtype subtype,
                       enum dwf_action action, const char *name);
/* How an update is sent (checkpoint.c's header says why each exists). */
enum dwf__send {
    DWF__QUEUED = 0,    /* fire-and-forget: leaves with the next call */
    DWF__AWAITED = 1,   /* return only once the service acknowledged it */
    DWF__PIPELINED = 2, /* return at once; the sender thread sends it with the next call */
    DWF__DEFERRED = 3,  /* return at once; leaves with the next call, and the next step body
                         * waits for it (dwf__checkpoint_barrier): an at-most-once step's or a
                         * timed step's SUCCEED */
};
/* Queue an update (takes ownership), sent as `how` says.
 * DWF_OK; DWF_SUSPEND when the context's batch has completed (update dropped); DWF_FATAL when
 * a checkpoint call failed (inv->fault) or memory ran out. */
int dwf__checkpoint(dwf_ctx *c, cJSON *update, int how);
/* End the invocation with `err` (what a failed checkpoint call does): queued updates are
 * dropped, every waiter wakes, operations answer DWF_FATAL; `retryable` makes the host retry. */
void dwf__fault(dwf__inv *inv, const dwf_error *err, int retryable);
/* The error of the invocation's checkpoint fault (inv->fault set). */
const dwf_error *dwf__fault_error(const dwf__inv *inv);
/* Send everything queued and wait for it. 0 or -1 (inv->fault set). */
int dwf__checkpoint_flush(dwf__inv *inv);
/* Before a step body (or poll check, submitter) runs: wait until every DWF__DEFERRED update
 * queued so far is acknowledged, sending it (with what is queued before and after it) if need
 * be. DWF_OK, or DWF_FATAL (inv->fault set). */
int dwf__checkpoint_barrier(dwf__inv *inv);
/* Stop the sender thread (if started): after what it is sending, it sends nothing more. */
void dwf__checkpoint_stop_sender(dwf__inv *inv);
void dwf__checkpoint_drop(dwf__inv *inv);

/* ops.c */
/* A child context operation (CONTEXT) whose record `r` was found (dwf__op_begin/op_find):
 * group, compensation, batch item, waitForCallback. `fn` runs on the child context with `arg`.
 * On DWF_ERROR, *err receives the error thrown inside (caller frees) and nothing is set on c.
 * `cancel` (may be NULL) is the flag a batch raises to drop this child's later checkpoints;
 * start_sent: the caller already queued START. */
typedef int (*dwf__child_fn)(dwf_ctx *child, void *arg, dwf_val **out);
int dwf__run_child(dwf_ctx *c, const dwf__opref *r, const char *name, enum dwf_subtype subtype,
                   dwf__child_fn fn, void *arg, const int *cancel, int start_sent,
                   dwf_val **out, cJSON **err);
/* Run the registered compensations (saga) after the workflow body failed. */
int dwf__run_compensations(dwf_ctx *root);

#endif
