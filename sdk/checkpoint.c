/*
 * checkpoint.c: the checkpoint manager, the SDK's CheckpointManager in C.
 *
 * Updates go into one FIFO queue per invocation. At most one CheckpointDurableExecution call
 * is in flight; a batch takes queued updates in order up to DWF_LIMIT_BATCH_UPDATES (250) of
 * them or about DWF_LIMIT_BATCH_BYTES (750 KB).
 * Fire-and-forget updates (at-least-once step START, CONTEXT START/SUCCEED/FAIL,
 * waitForCondition START) only queue; an awaited update returns once the service has
 * acknowledged it. So a step's START and SUCCEED leave in one call, which matters because the
 * embedded engine fsyncs once per call.
 *
 * A caller that must wait either becomes the leader (takes a batch, makes the call with the
 * lock released, merges the response) or sleeps on the condition variable until a leader
 * acknowledged its update. Every response's operations are merged into the operation table by
 * Id and its token replaces ours. A failed call drops the queue and ends the invocation (the
 * SDK's rule): the caller sees DWF_FATAL with inv->fault set.
 *
 * Pipelined updates (an at-least-once step's SUCCEED): the step returns at once and the body
 * runs on; once the next fire-and-forget update shows that more durable code runs (a step
 * starting), a sender thread makes the calls while any is unacknowledged, each taking
 * everything queued meanwhile, once the queue's head has waited DWF__PIPE_GRACE_MS (1 ms) for
 * what the body queues next. When what follows must be awaited anyway (the end, a
 * suspension, an awaited START), the calling thread sends it itself: handing a call to the
 * sender only to wait for it cost wake-ups and context switches and gained nothing. So a run of quick steps costs a few
 * calls (and the embedded engine a few fsyncs) instead of one each. This is safe because calls
 * go out in queue order and the service applies them in order: a crash loses at most a suffix
 * of the queue, and at-least-once steps whose SUCCEED was lost run again on replay, which is
 * what at-least-once allows. Everything an observer can see waits for all that is queued before
 * it: awaited updates (an at-most-once step's START, a wait's, a callback's whose id is handed
 * out, an invoke's) flush the queue in order, and the invocation flushes everything before it
 * answers (an execution's end or a suspension). docs/engine.md ("Pipelined commit").
 *
 * Deferred updates (an at-most-once step's SUCCEED, a timed step's): the step returns at once,
 * the update waits in the queue, and the next step body of any kind (dwf__checkpoint_barrier in
 * ops.c), awaited update or the invocation's end sends it and waits for it. So what runs before
 * it is durable is only durable code, which nothing outside the process can observe, and a
 * crash in that window leaves the step STARTED without a result, as a crash just before an
 * awaited SUCCEED would. A sequence of at-most-once steps costs one call per step: START i+1
 * is awaited anyway and carries SUCCEED i. The barrier is per invocation (a branch's deferred
 * update holds back the next body of every branch): conservative, and cheap.
 *
 * Backpressure: a body quicker than the service would otherwise queue without end (10,000
 * quick steps held every START in memory at once). After queueing a fire-and-forget or
 * pipelined update, while more than DWF__QUEUE_BOUND (two batches) are queued or
 * unacknowledged, the caller waits for the call in flight or leads one itself.
 *
 * Lingering: a fire-and-forget update does not wait for the next call longer than
 * DWF__LINGER_MS. The service stamps an operation's StartTimestamp when it receives the START,
 * so a 5-minute step whose START waited for its SUCCEED would show as taking no time (in `dwf
 * history --format timeline`, the console, AWS's own views); the official SDKs send a START at
 * once. A step quicker than that still sends START and SUCCEED in one call.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core.h"

/* How long a fire-and-forget update may wait in the queue for a call to leave with. */
#define DWF__LINGER_MS 20.0

/* How long the head of the queue waits, once pipelined updates have been handed to the sender,
 * for what the body will queue next: a quick workflow's end (or awaited update) then carries it
 * all in one call from the calling thread. Sent at once, the three quick steps of
 * bench/throughput.sh's Event row cost 1.09-1.19 checkpoint calls per execution instead of 1:
 * the sender woke while the body ran and sent a step's START and SUCCEED alone. A body longer
 * than this still overlaps the call, which leaves this much later. */
#define DWF__PIPE_GRACE_MS 1.0

/* How many updates may be queued or unacknowledged before a fire-and-forget or pipelined
 * update waits: about two batches, so a body quicker than the service holds a bounded queue
 * (10,000 quick steps once held all their STARTs in memory at once: bench/rss.sh). */
#define DWF__QUEUE_BOUND (2 * DWF_LIMIT_BATCH_UPDATES)

static double realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* the clock pthread_cond_timedwait waits on */
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

cJSON *dwf__update_new(dwf_ctx *c, const char *id, enum dwf_optype type, enum dwf_subtype subtype,
                       enum dwf_action action, const char *name)
{
    /* Every update of the invocation starts here, two per step: literal keys and the
     * protocol's names referenced, not copied, spare 8 of its 12 allocations (and their frees
     * after the call). It prints the same. */
    cJSON *u = cJSON_CreateObject();
    if (!u) return NULL;
    int ok = dwf__add_str(u, "Id", id, 0) == 0;
    if (ok && c && c->parent_hash[0]) ok = dwf__add_str(u, "ParentId", c->parent_hash, 0) == 0;
    if (ok) ok = dwf__add_str(u, "Type", dwf_optype_name(type), 1) == 0;
    if (ok && subtype != DWF_SUBTYPE_NONE) ok = dwf__add_str(u, "SubType", dwf_subtype_name(subtype), 1) == 0;
    if (ok) ok = dwf__add_str(u, "Action", dwf_action_name(action), 1) == 0;
    if (ok && name) ok = dwf__add_str(u, "Name", name, 0) == 0;
    if (!ok) {
        cJSON_Delete(u);
        return NULL;
    }
    return u;
}

/* A cheap upper-bound-ish estimate of the JSON size: strings dominate every update. */
static size_t estimate(const cJSON *j)
{
    size_t n = 8;
    for (; j; j = j->next) {
        n += j->string ? strlen(j->string) + 4 : 0;
        if (cJSON_IsString(j) && j->valuestring) n += strlen(j->valuestring) * 11 / 10 + 2;
        else if (j->child) n += estimate(j->child);
        else n += 24;
    }
    return n;
}

/* What a fault says when even its copy could not be made. */
static const dwf_error fault_oom = {"OutOfMemory", "out of memory recording a checkpoint failure"};

const dwf_error *dwf__fault_error(const dwf__inv *inv) { return inv->fault_err ? inv->fault_err : &fault_oom; }

/* The first fault is the invocation's: its error and retryability are written before the flag
 * that publishes them, because the invoking thread reads the flag unlocked (dwf__durable_guard)
 * and then the error (fatal_response) while the sender may still be here. Set the other way
 * round, a reader between the two saw the flag with no error yet and answered fault_oom's
 * OutOfMemory for a ServiceException. A later fault changes nothing a reader may be reading. */
static void fail_all(dwf__inv *inv, const dwf_error *err, int retryable)
{
    if (!inv->fault) {
        if (!inv->fault_err) inv->fault_err = malloc(sizeof *inv->fault_err);
        if (inv->fault_err) *inv->fault_err = *err;
        inv->fault_retryable = retryable;
        __atomic_store_n(&inv->fault, 1, __ATOMIC_RELEASE); /* read unlocked by dwf__durable_guard */
    }
    dwf__update *u = inv->q_head;
    while (u) {
        dwf__update *n = u->next;
        cJSON_Delete(u->json);
        free(u);
        u = n;
    }
    inv->q_head = inv->q_tail = NULL;
    inv->acked_seq = inv->next_seq;
}

void dwf__fault(dwf__inv *inv, const dwf_error *err, int retryable)
{
    pthread_mutex_lock(&inv->mu);
    fail_all(inv, err, retryable);
    pthread_cond_broadcast(&inv->cv);
    pthread_mutex_unlock(&inv->mu);
}

static void kick_sender(dwf__inv *inv);

/* Make one checkpoint call with the head of the queue. Called with inv->mu held; returns with
 * it held. */
static void lead_one_call(dwf__inv *inv)
{
    cJSON *req = cJSON_CreateObject();
    cJSON *arr = req ? cJSON_AddArrayToObject(req, "Updates") : NULL;
    char *token = inv->token ? strdup(inv->token) : NULL;
    if (!req || !arr || !token || !cJSON_AddStringToObject(req, "CheckpointToken", token)) {
        dwf_error e = {"OutOfMemory", "out of memory building a checkpoint request"};
        cJSON_Delete(req);
        free(token);
        fail_all(inv, &e, 1);
        return;
    }
    free(token);
    size_t bytes = strlen(inv->token) + 100, items = 0;
    uint64_t last = inv->acked_seq;
    while (inv->q_head && items < DWF_LIMIT_BATCH_UPDATES &&
           (items == 0 || bytes + inv->q_head->est <= DWF_LIMIT_BATCH_BYTES)) {
        dwf__update *u = inv->q_head;
        inv->q_head = u->next;
        if (!inv->q_head) inv->q_tail = NULL;
        cJSON_AddItemToArray(arr, u->json);
        bytes += u->est;
        items++;
        last = u->seq;
        free(u);
    }
    inv->in_flight = 1;
    inv->calls++;
    pthread_mutex_unlock(&inv->mu);

    cJSON *resp = NULL;
    dwf_error err;
    memset(&err, 0, sizeof err);
    int retryable = 1;
    int rc = inv->t->checkpoint(inv->t, inv->arn, req, &resp, &err, &retryable);
    cJSON_Delete(req);

    pthread_mutex_lock(&inv->mu);
    inv->in_flight = 0;
    if (rc != 0) {
        if (!err.type[0]) strcpy(err.type, "CheckpointFailed");
        cJSON_Delete(resp);
        fail_all(inv, &err, retryable);
    } else {
        const cJSON *tok = cJSON_GetObjectItemCaseSensitive(resp, "CheckpointToken");
        if (cJSON_IsString(tok)) {
            char *t = strdup(tok->valuestring);
            if (t) {
                free(inv->token);
                inv->token = t;
            }
        }
        cJSON *st = cJSON_GetObjectItemCaseSensitive(resp, "NewExecutionState");
        cJSON *ops = st ? cJSON_GetObjectItemCaseSensitive(st, "Operations") : NULL;
        int merge_failed = 0;
        while (cJSON_IsArray(ops) && ops->child) {
            cJSON *op = cJSON_DetachItemViaPointer(ops, ops->child);
            if (dwf__merge_op(inv, op, 1) != 0) merge_failed = 1;
        }
        cJSON_Delete(resp);
        if (merge_failed) {
            dwf_error e = {"OutOfMemory", "out of memory merging a checkpoint response"};
            fail_all(inv, &e, 1);
        } else if (last > inv->acked_seq) {
            inv->acked_seq = last;
        }
    }
    pthread_cond_broadcast(&inv->cv); /* callers waiting for this call */
    /* what was queued meanwhile: the sender sends it or times its lingering (it may have found
     * this call in flight and gone to sleep without a deadline) */
    if (inv->q_head && !inv->fault) kick_sender(inv);
}

/* Wait until update `seq` is acknowledged, leading calls when nobody else is. mu held. */
static int flush_upto(dwf__inv *inv, uint64_t seq)
{
    while (inv->acked_seq < seq && !inv->fault) {
        if (inv->in_flight) pthread_cond_wait(&inv->cv, &inv->mu);
        else if (inv->q_head) lead_one_call(inv);
        else break; /* nothing left to send: everything up to seq went out */
    }
    return inv->fault ? -1 : 0;
}

/* Backpressure after queueing a fire-and-forget or pipelined update: while more than
 * DWF__QUEUE_BOUND updates are queued or unacknowledged, wait for the call in flight or lead
 * one (for queued-only updates, which no sender may be about to send). Calls still go out one
 * at a time in queue order, so the history is the same. mu held. 0, or -1 on a fault. */
static int bound_queue(dwf__inv *inv)
{
    while (inv->next_seq - inv->acked_seq > DWF__QUEUE_BOUND && !inv->fault) {
        if (inv->in_flight) pthread_cond_wait(&inv->cv, &inv->mu);
        else if (inv->q_head) lead_one_call(inv);
        else break;
    }
    return inv->fault ? -1 : 0;
}

/* The sender's work for one invocation, with inv->mu taken: while pipelined updates handed to
 * it are unacknowledged, or the oldest queued update has waited DWF__LINGER_MS, and no call is
 * in flight, lead one. Returns when there is nothing to do now: the time the queue's head will
 * have lingered (realtime ms), or 0 when only a kick can give it work (an empty queue, a call in
 * flight: its leader kicks it if it leaves work behind). */
static double sender_work(dwf__inv *inv)
{
    double due = 0;
    pthread_mutex_lock(&inv->mu);
    while (!inv->sender_stop && !inv->fault && !inv->in_flight && inv->q_head) {
        double age = realtime_ms() - inv->q_head->queued_ms;
        if (age >= (inv->acked_seq < inv->pipe_seq ? DWF__PIPE_GRACE_MS : DWF__LINGER_MS)) {
            lead_one_call(inv);
            continue;
        }
        /* A young head is looked at again when its grace ends, so that a hand-over meanwhile
         * needs no kick (dwf__checkpoint): one wake-up less per quick execution. */
        due = inv->q_head->queued_ms + (age < DWF__PIPE_GRACE_MS ? DWF__PIPE_GRACE_MS : DWF__LINGER_MS);
        break;
    }
    inv->sender_due = due;
    pthread_mutex_unlock(&inv->mu);
    return due;
}

/* ---- the sender threads, kept between invocations -----------------------------------------
 * A Lambda environment runs one invocation after another in one process, and most start a
 * sender: a thread made and joined per invocation was a clone, its stack's mmap and guard
 * mprotect, set_robust_list, rseq, a madvise and an exit each time (about 7 of the bootstrap's
 * ~38 system calls per execution in bench/throughput.sh's Event row). So a sender that has
 * finished with its invocation parks and the next invocation's sender_ensure takes it; at most
 * SENDERS_PARKED wait parked (the embedded engine runs many invocations at once: past that,
 * one is joined as before).
 *
 * The thread sleeps on its own condition variable, never on the invocation's: it is "busy"
 * only while it works on the invocation (sender_work), and is kicked (sender_kick) when there
 * is work for it. So an invocation that ends while its sender sleeps (the common case: the
 * calling thread sent the last call itself) detaches it without waking it or waiting for it;
 * it used to be woken, re-take the invocation's lock, and be waited for (about 7 of the
 * bootstrap's ~11 futex calls per execution). Lock order: an invocation's mu, then the pool's
 * lock or a sender's mu, never both of these at once, never the other way round. */
#define SENDERS_PARKED 8

struct dwf__sender {
    pthread_t thread;
    pthread_mutex_t mu;       /* guards the fields below */
    pthread_cond_t cv;        /* kicks, a new invocation, the owner waiting for busy = 0, quit */
    dwf__inv *inv;            /* the invocation to serve, NULL while parked or detached */
    int busy;                 /* in sender_work: inv is in use by the thread */
    int quit;
    unsigned kicks;           /* counts kicks, so none is lost while the thread is busy */
    struct dwf__sender *next; /* in the parked list (the pool's lock) */
};

static pthread_mutex_t senders_mu = PTHREAD_MUTEX_INITIALIZER;
static struct dwf__sender *senders_parked;
static int senders_nparked;
static pthread_once_t senders_once = PTHREAD_ONCE_INIT;

/* A forked child has none of the parent's threads: it starts with an empty pool (the parked
 * records are left allocated, as the parent's memory is). */
static void senders_forked(void)
{
    pthread_mutex_init(&senders_mu, NULL);
    senders_parked = NULL;
    senders_nparked = 0;
}

/* Ask a detached sender to end, wait for its thread, free it. */
static void sender_end(struct dwf__sender *s)
{
    pthread_mutex_lock(&s->mu);
    s->quit = 1;
    pthread_mutex_unlock(&s->mu);
    pthread_cond_broadcast(&s->cv);
    pthread_join(s->thread, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* At the process's exit, the parked senders end and are joined: a thread still running when the
 * process ends leaves its stack and thread-local storage behind, which valgrind's memcheck
 * reports as lost on every `dwf run` that pipelined an update. A parked sender is attached to no
 * invocation and sleeps, so ending it is a wake-up and a join. The pool's lock is only tried: an
 * exit while another thread holds it (an invocation parking its sender at that very moment)
 * leaves the pool as it is rather than risk waiting at exit. */
static void senders_exit(void)
{
    if (pthread_mutex_trylock(&senders_mu) != 0) return;
    struct dwf__sender *s = senders_parked;
    senders_parked = NULL;
    senders_nparked = 0;
    pthread_mutex_unlock(&senders_mu);
    while (s) {
        struct dwf__sender *next = s->next;
        sender_end(s);
        s = next;
    }
}

static void senders_init(void)
{
    pthread_atfork(NULL, NULL, senders_forked);
    atexit(senders_exit);
}

/* Tell the sender there may be work. No system call unless it sleeps. */
static void sender_kick(struct dwf__sender *s)
{
    pthread_mutex_lock(&s->mu);
    s->kicks++;
    pthread_mutex_unlock(&s->mu);
    pthread_cond_broadcast(&s->cv);
}

static void sender_wait_until(struct dwf__sender *s, double due)
{
    if (due <= 0) {
        pthread_cond_wait(&s->cv, &s->mu);
        return;
    }
    struct timespec ts = {(time_t)(due / 1000.0), (long)((due - (double)(time_t)(due / 1000.0) * 1000.0) * 1e6)};
    if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

static void *sender_main(void *arg)
{
    struct dwf__sender *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->quit) {
        dwf__inv *inv = s->inv;
        if (!inv) {
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        unsigned kicks = s->kicks;
        s->busy = 1;
        pthread_mutex_unlock(&s->mu);
        double due = sender_work(inv);
        pthread_mutex_lock(&s->mu);
        s->busy = 0;
        if (s->inv != inv) {
            /* detached while busy: its owner waits for busy = 0; from here on inv is not touched */
            pthread_cond_broadcast(&s->cv);
            continue;
        }
        if (s->kicks == kicks) sender_wait_until(s, due);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Start the sender on the first pipelined or fire-and-forget update: a parked thread, else a new
 * one. inv->mu held. 0, or -1 if no thread could be made (the caller then waits for the update
 * instead: slower, as correct). */
static int sender_ensure(dwf__inv *inv)
{
    if (inv->sender_started) return 0;
    pthread_once(&senders_once, senders_init);
    pthread_mutex_lock(&senders_mu);
    struct dwf__sender *s = senders_parked;
    if (s) {
        senders_parked = s->next;
        senders_nparked--;
    }
    pthread_mutex_unlock(&senders_mu);
    if (s) {
        /* not woken here: it sleeps as an attached sender with nothing to do does, and the
         * caller kicks it if the update it queues needs it */
        pthread_mutex_lock(&s->mu);
        s->inv = inv;
        pthread_mutex_unlock(&s->mu);
    } else if ((s = calloc(1, sizeof *s)) != NULL) {
        pthread_mutex_init(&s->mu, NULL);
        pthread_cond_init(&s->cv, NULL);
        s->inv = inv; /* read by the new thread under s->mu */
        if (pthread_create(&s->thread, NULL, sender_main, s) != 0) {
            pthread_cond_destroy(&s->cv);
            pthread_mutex_destroy(&s->mu);
            free(s);
            s = NULL;
        }
    }
    if (!s) return -1;
    s->next = NULL;
    inv->sender = s;
    inv->sender_started = 1;
    return 0;
}

/* Kick this invocation's sender, if it has one. inv->mu held. */
static void kick_sender(dwf__inv *inv)
{
    if (inv->sender_started && inv->sender) sender_kick(inv->sender);
}

void dwf__checkpoint_stop_sender(dwf__inv *inv)
{
    pthread_mutex_lock(&inv->mu);
    struct dwf__sender *s = inv->sender_started ? inv->sender : NULL;
    inv->sender_stop = 1;
    inv->sender_started = 0;
    inv->sender = NULL;
    pthread_mutex_unlock(&inv->mu);
    if (!s) return;
    /* Detach it, and wait only if it is working on inv right now (what pthread_join gave);
     * only this owner parks it, so no other invocation can take it before it has left this one.
     * A sleeping sender is not woken: a kick or its lingering deadline wakes it later to find
     * nothing attached, and it sleeps again. */
    pthread_mutex_lock(&s->mu);
    s->inv = NULL;
    while (s->busy) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
    pthread_mutex_lock(&senders_mu);
    int park = senders_nparked < SENDERS_PARKED;
    if (park) {
        s->next = senders_parked;
        senders_parked = s;
        senders_nparked++;
    }
    pthread_mutex_unlock(&senders_mu);
    if (!park) sender_end(s);
}

int dwf__checkpoint(dwf_ctx *c, cJSON *update, int how)
{
    dwf__inv *inv = c->inv;
    if (!update) return dwf__fatal(c, "OutOfMemory", "out of memory building an update");
    if (inv->opts && inv->opts->verify) {
        /* Verify mode writes nothing: an operation the history has no record of is where the
         * recorded history ends on this path, so the code stops here as a suspension does. */
        cJSON_Delete(update);
        return DWF_SUSPEND;
    }
    for (dwf_ctx *p = c; p; p = p->parent)
        if (p->cancel && __atomic_load_n(p->cancel, __ATOMIC_ACQUIRE)) {
            /* The batch this context belongs to has completed: the SDK drops these. */
            cJSON_Delete(update);
            return DWF_SUSPEND;
        }
    dwf__update *u = malloc(sizeof *u);
    if (!u) {
        cJSON_Delete(update);
        return dwf__fatal(c, "OutOfMemory", "out of memory queueing an update");
    }
    u->next = NULL;
    u->json = update;
    u->est = estimate(update->child) + 2;
    u->queued_ms = realtime_ms();
    pthread_mutex_lock(&inv->mu);
    if (inv->fault) {
        pthread_mutex_unlock(&inv->mu);
        cJSON_Delete(update);
        free(u);
        return DWF_FATAL;
    }
    u->seq = ++inv->next_seq;
    if (inv->q_tail) inv->q_tail->next = u;
    else inv->q_head = u;
    inv->q_tail = u;
    int rc = 0;
    int pipelining = !(inv->opts && inv->opts->no_pipelining) && !inv->sender_stop;
    if (how == DWF__PIPELINED && pipelining && sender_ensure(inv) == 0) {
        /* Not handed to the sender yet: what follows may be the end or an awaited update,
         * which the calling thread sends itself (no hand-over, no wake-ups). The next
         * fire-and-forget update (a step starting: a body that can run while the call is in
         * flight) hands it over; until then the sender only times its lingering (woken for
         * that when the queue was empty, as for a fire-and-forget update). */
        inv->pipe_last = u->seq;
        if (inv->q_head == u && !inv->in_flight) kick_sender(inv);
        rc = bound_queue(inv);
    } else if (how == DWF__DEFERRED && pipelining) {
        /* leaves with the next call: the next step's awaited START, or the one the next step
         * body's barrier makes; the sender is neither started nor woken for it */
        inv->defer_seq = u->seq;
        rc = bound_queue(inv);
    } else if (how == DWF__QUEUED) {
        /* leaves with the next call, or after DWF__LINGER_MS; without a sender, with the next
         * call. The sender is woken to time the lingering (a queue that was empty), or to send
         * the pipelined updates while the body that follows runs. */
        if (pipelining && sender_ensure(inv) == 0) {
            int overlap = inv->pipe_last > inv->acked_seq;
            if (overlap) inv->pipe_seq = u->seq;
            /* A hand-over needs the sender by the head's grace; it will look by sender_due
             * anyway when that is no later (it sleeps until then at most). */
            int looks_in_time = inv->sender_due > 0 && inv->sender_due <= inv->q_head->queued_ms + DWF__PIPE_GRACE_MS;
            if (inv->q_head == u || (overlap && !inv->in_flight && !looks_in_time)) kick_sender(inv);
        }
        rc = bound_queue(inv);
    } else {
        rc = flush_upto(inv, u->seq);
    }
    pthread_mutex_unlock(&inv->mu);
    return rc == 0 ? DWF_OK : DWF_FATAL;
}

int dwf__checkpoint_flush(dwf__inv *inv)
{
    pthread_mutex_lock(&inv->mu);
    int rc = flush_upto(inv, inv->next_seq);
    pthread_mutex_unlock(&inv->mu);
    return rc;
}

int dwf__checkpoint_barrier(dwf__inv *inv)
{
    pthread_mutex_lock(&inv->mu);
    int rc = flush_upto(inv, inv->defer_seq);
    pthread_mutex_unlock(&inv->mu);
    return rc == 0 ? DWF_OK : DWF_FATAL;
}

void dwf__checkpoint_drop(dwf__inv *inv)
{
    pthread_mutex_lock(&inv->mu);
    dwf__update *u = inv->q_head;
    while (u) {
        dwf__update *n = u->next;
        cJSON_Delete(u->json);
        free(u);
        u = n;
    }
    inv->q_head = inv->q_tail = NULL;
    pthread_mutex_unlock(&inv->mu);
}
