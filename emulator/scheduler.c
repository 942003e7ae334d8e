/*
 * scheduler.c: the scheduler thread and the per-function invocation queue.
 *
 * Every 100 ms, or soon after it is woken (an Invoke, a checkpoint, a callback answer, a stop,
 * a response) when the service says something became runnable, the scheduler moves the clock
 * of each idle execution tree to its next wait end or retry under --skip-time, fires the timers
 * that are due and queues each execution the service reports runnable on its function; at
 * every wake-up it reaps processes that ended and kills an invocation past its deadline. The
 * service decides what is runnable and when a retry is due.
 *
 * Each function scales out as Lambda scales it: a job is taken by a warm environment (a process
 * of the function waiting in /next), and while more jobs are queued than there are free
 * environments the scheduler starts another, as long as the function stays under its limit
 * (its reserved concurrency, else the account's concurrency less every reservation) and the
 * emulator under the account's concurrency. At the account's limit an idle environment of
 * another function is stopped to make room; an environment idle for idle_retire_s is stopped.
 * Each environment holds one invocation at a time, and a job (an execution, a call) is held by
 * one environment at a time. A RequestResponse Invoke that finds its function (or the account)
 * at the limit is refused with 429 TooManyRequestsException before anything starts
 * (dwf__emu_sync_admit); an Event Invoke waits in the queue, as in Lambda's event queue.
 *
 * A queue entry is a job (emu.h): a durable execution, a plain function's call by a
 * CHAINED_INVOKE, or a plain function invoked through the Invoke API. Beginning a job (the
 * event) and answering it (the response, an error, or a fault) live here, one place for each
 * kind: the Runtime API, the process code and the deadline check all end invocations, and for
 * a durable execution the service's retry and backoff then apply.
 */
#include "emu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define IDLE_SLICE_MS 100.0
/* Runnable executions read per pass, at most (the next pass reads on from there). */
#define SCAN_PAGE 256

/* ---- jobs and the queue (mu held) ------------------------------------------------------------- */
/* The queue is a ring (push and pop in constant time) and the keyed jobs a function holds,
 * queued or running, are a hash set: with thousands of Event invokes queued, asking whether an
 * execution is queued already walked the whole queue once per runnable execution at every
 * scheduler pass (quadratic in the queue's length). */

/* FNV-1a over the key's last KEY_TAIL bytes: an execution ARN's tail is its name and id, what
 * tells it from the others (its first hundred bytes, the function's ARN, are every one's), and
 * the scheduler's pass hashes every runnable ARN it reads (a byte loop over the whole ARN was
 * 3% of serve's instructions). A call id is shorter than the tail. */
#define KEY_TAIL 48

static unsigned key_hash(enum emu_job_kind kind, const char *key)
{
    size_t n = strlen(key);
    unsigned h = 2166136261u ^ (unsigned)kind;
    for (const unsigned char *p = (const unsigned char *)key + (n > KEY_TAIL ? n - KEY_TAIL : 0); *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static int job_is(const emu_job *j, enum emu_job_kind kind, const char *key)
{
    return j && j->kind == kind && j->key && strcmp(j->key, key) == 0;
}

static emu_job **held_bucket(const emu_fn *f, enum emu_job_kind kind, const char *key)
{
    return &f->held[key_hash(kind, key) & (unsigned)(f->nheld_buckets - 1)];
}

static void held_unlink(emu_job *j)
{
    emu_fn *f = j->held_by;
    if (j->scanned) f->scanned--;
    j->scanned = 0;
    for (emu_job **p = held_bucket(f, j->kind, j->key); *p; p = &(*p)->held_next)
        if (*p == j) {
            *p = j->held_next;
            f->nheld--;
            break;
        }
    j->held_by = NULL;
    j->held_next = NULL;
}

/* Twice the buckets once there are more jobs than buckets. -1 out of memory (the set stays). */
static int held_grow(emu_fn *f)
{
    int nb = f->nheld_buckets ? f->nheld_buckets * 2 : 64;
    emu_job **nv = calloc((size_t)nb, sizeof *nv);
    if (!nv) return -1;
    for (int i = 0; i < f->nheld_buckets; i++)
        for (emu_job *j = f->held[i], *next; j; j = next) {
            next = j->held_next;
            emu_job **b = &nv[key_hash(j->kind, j->key) & (unsigned)(nb - 1)];
            j->held_next = *b;
            *b = j;
        }
    free(f->held);
    f->held = nv;
    f->nheld_buckets = nb;
    return 0;
}

static int held_add(emu_fn *f, emu_job *j)
{
    if (f->nheld >= f->nheld_buckets && held_grow(f) != 0 && f->nheld_buckets == 0) return -1;
    emu_job **b = held_bucket(f, j->kind, j->key);
    j->held_next = *b;
    j->held_by = f;
    *b = j;
    f->nheld++;
    return 0;
}

void dwf__emu_job_free(emu_job *j)
{
    if (!j) return;
    if (j->held_by) held_unlink(j);
    if (j->direct && j->direct->abandoned) {
        pthread_cond_destroy(&j->direct->cv);
        free(j->direct->body);
        free(j->direct);
    }
    free(j->key);
    free(j->payload);
    free(j);
}

/* That job if it is queued on f or held by one of f's environments, else NULL. */
static emu_job *held_find(const emu_fn *f, enum emu_job_kind kind, const char *key)
{
    if (f->nheld_buckets == 0) return NULL;
    for (emu_job *j = *held_bucket(f, kind, key); j; j = j->held_next)
        if (job_is(j, kind, key)) return j;
    return NULL;
}

static int queue_has(const emu_fn *f, enum emu_job_kind kind, const char *key) { return held_find(f, kind, key) != NULL; }

int dwf__emu_queue_push(emu_fn *f, emu_job *j)
{
    if (f->nq == f->capq) {
        int nc = f->capq ? f->capq * 2 : 8;
        emu_job **nqv = malloc((size_t)nc * sizeof *nqv);
        if (!nqv) {
            dwf__emu_job_free(j);
            return -1;
        }
        for (int i = 0; i < f->nq; i++) nqv[i] = f->queue[(f->qhead + i) % f->capq];
        free(f->queue);
        f->queue = nqv;
        f->qhead = 0;
        f->capq = nc;
    }
    if (j->key && held_add(f, j) != 0) {
        dwf__emu_job_free(j);
        return -1;
    }
    f->queue[(f->qhead + f->nq) % f->capq] = j;
    f->nq++;
    dwf__emu_wake_next(f);
    return 0;
}

emu_job *dwf__emu_job_new(enum emu_job_kind kind, const char *key)
{
    emu_job *j = calloc(1, sizeof *j);
    if (!j || (key && !(j->key = strdup(key)))) {
        free(j);
        return NULL;
    }
    j->kind = kind;
    return j;
}

/* A keyed job (an execution or a call) on f, unless it is queued or running already. 1 queued.
 * scan: queued by the scheduler's pass (marked `scanned` while an Invoke of f is starting). */
static int queue_key(emu_fn *f, enum emu_job_kind kind, const char *key, int scan)
{
    if (queue_has(f, kind, key)) return 0;
    emu_job *j = dwf__emu_job_new(kind, key);
    if (!j || dwf__emu_queue_push(f, j) != 0) return 0;
    if (scan && f->sync_starting > 0) {
        j->scanned = 1;
        f->scanned++;
    }
    return 1;
}

int dwf__emu_queue_execution(emu_fn *f, const char *arn)
{
    int r = queue_key(f, EMU_JOB_EXECUTION, arn, 0);
    if (r) dwf__emu_kick(f->emu);
    return r;
}

emu_job *dwf__emu_queue_pop(emu_fn *f)
{
    if (f->nq == 0) return NULL;
    emu_job *j = f->queue[f->qhead];
    f->qhead = (f->qhead + 1) % f->capq;
    f->nq--;
    return j;
}

void dwf__emu_queue_free(emu_fn *f)
{
    while (f->nq > 0) dwf__emu_job_free(dwf__emu_queue_pop(f));
    free(f->queue);
    f->queue = NULL;
    f->capq = f->qhead = 0;
    free(f->held);
    f->held = NULL;
    f->nheld = f->nheld_buckets = 0;
}

/* ---- answers (mu held on entry and exit; released around the service calls) -------------------- */

/* An error document posted to /error ({"errorType","errorMessage","stackTrace"?}) as an
 * ErrorObject; a missing type takes the runtime's header or Runtime.UnknownReason. */
static cJSON *error_object_of(const char *body, size_t len, const dwf_error *fault)
{
    cJSON *eo = cJSON_CreateObject();
    if (!eo) return NULL;
    if (fault) {
        cJSON_AddStringToObject(eo, "ErrorType", fault->type);
        cJSON_AddStringToObject(eo, "ErrorMessage", fault->message);
        return eo;
    }
    cJSON *b = body ? dwf__emu_parse_json(body, len) : NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "errorType");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(b, "errorMessage");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(b, "stackTrace");
    cJSON_AddStringToObject(eo, "ErrorType", cJSON_IsString(t) ? t->valuestring : "Runtime.UnknownReason");
    cJSON_AddStringToObject(eo, "ErrorMessage", cJSON_IsString(m) ? m->valuestring : "(no message)");
    if (cJSON_IsArray(st)) cJSON_AddItemToObject(eo, "StackTrace", cJSON_Duplicate(st, 1));
    cJSON_Delete(b);
    return eo;
}

/* A durable execution's invocation: its response (a JSON object with Status), or a fault. */
static void answer_execution(emu_fn *f, const emu_job *j, const char *rid, double start, const char *body, size_t len,
                             int is_error, const dwf_error *fault_in, char what[64])
{
    dwf_emulator *e = f->emu;
    dwf_error fault = {{0}, {0}}, err;
    cJSON *resp = NULL;
    if (fault_in) {
        fault = *fault_in;
    } else if (is_error) {
        cJSON *eo = error_object_of(body, len, NULL);
        snprintf(fault.type, sizeof fault.type, "%s", eo ? cJSON_GetObjectItem(eo, "ErrorType")->valuestring : "?");
        snprintf(fault.message, sizeof fault.message, "%s",
                 eo ? cJSON_GetObjectItem(eo, "ErrorMessage")->valuestring : "?");
        cJSON_Delete(eo);
    } else if (!cJSON_IsObject(resp = dwf__emu_parse_json(body ? body : "", body ? len : 0))) {
        /* Lambda's durable runtime takes only an object ({"Status",...}) from a durable handler. */
        cJSON_Delete(resp);
        resp = NULL;
        snprintf(fault.type, sizeof fault.type, "Runtime.InvalidResponse");
        snprintf(fault.message, sizeof fault.message, "the handler response is not a JSON object: %.200s",
                 body ? body : "");
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(resp, "Status");
    snprintf(what, 64, "%s", resp ? (cJSON_IsString(st) ? st->valuestring : "?") : fault.type);
    /* Unflushed: the runtime is answered "OK" whatever the end did, and whoever reads the
     * outcome (a RequestResponse Invoke, the console, the next invocation's event) waits for
     * the flush that makes it durable: the next call's, or the scheduler's (flush_ends). */
    if (dwf_service_end_invocation_unflushed(e->svc, j->key, rid, start, resp, resp ? NULL : &fault, &err) != 0)
        dwf__emu_log(e, "%s: ending invocation %s: %s: %s", f->name, rid, err.type, err.message);
    cJSON_Delete(resp);
}

/* A plain function's call by a CHAINED_INVOKE: its value, or its error, completes the caller. */
static void answer_call(emu_fn *f, const emu_job *j, const char *body, size_t len, int is_error,
                        const dwf_error *fault, char what[64])
{
    dwf_emulator *e = f->emu;
    cJSON *eo = is_error || fault ? error_object_of(body, len, fault) : NULL;
    snprintf(what, 64, "%s", eo ? cJSON_GetObjectItem(eo, "ErrorType")->valuestring : "VALUE");
    char *result = NULL;
    if (!eo) result = body && len ? strndup(body, len) : strdup("null");
    dwf_error err;
    if ((!eo && !result) || dwf_service_call_end(e->svc, j->key, result, eo, &err) != 0)
        dwf__emu_log(e, "%s: ending call %s: %s", f->name, j->key, !eo && !result ? "out of memory" : err.message);
    free(result);
    cJSON_Delete(eo);
}

/* A plain function invoked through the Invoke API: the waiting caller gets the answer as is
 * (an error as {"errorType","errorMessage",...}); an Event invocation's answer is only logged. */
static void answer_direct(emu_fn *f, emu_job *j, const char *body, size_t len, int is_error,
                          const dwf_error *fault, char what[64])
{
    dwf_emulator *e = f->emu;
    char *doc = NULL;
    size_t n = 0;
    if (fault) {
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "errorType", fault->type);
        cJSON_AddStringToObject(b, "errorMessage", fault->message);
        doc = cJSON_PrintUnformatted(b);
        cJSON_Delete(b);
        n = doc ? strlen(doc) : 0;
    } else if (body) {
        doc = malloc(len + 1);
        if (doc) {
            memcpy(doc, body, len);
            doc[len] = '\0';
            n = len;
        }
    }
    snprintf(what, 64, "%s", fault ? fault->type : is_error ? "ERROR" : "VALUE");
    pthread_mutex_lock(&e->mu);
    emu_direct *d = j->direct;
    if (d && !d->abandoned) {
        d->body = doc;
        d->len = n;
        d->is_error = is_error || fault;
        d->done = 1;
        pthread_cond_signal(&d->cv);
        j->direct = NULL; /* the caller frees it */
        doc = NULL;
    }
    pthread_mutex_unlock(&e->mu);
    free(doc);
}

void dwf__emu_job_answer(emu_env *v, const char *body, size_t len, int is_error, const dwf_error *fault)
{
    emu_fn *f = v->fn;
    dwf_emulator *e = f->emu;
    if (!v->busy || !v->cur || !v->cur_rid[0]) return;
    emu_job *j = v->cur;
    char rid[40], what[64] = "?";
    memcpy(rid, v->cur_rid, sizeof rid);
    double start = v->cur_start_ms;
    pid_t pid = v->pid;
    int status_fd = v->status_fd; /* v is busy until relocked below: its slot is not restarted meanwhile */
    /* Answered once: the request id goes (a second answer or fault finds none), but the job stays
     * v's until the service has ended it, so no other environment takes it up meanwhile. */
    v->cur_rid[0] = '\0';
    pthread_mutex_unlock(&e->mu);
    /* Read for the log line only, and outside the emulator's lock: a regeneration of /proc's
     * status file that every other request would otherwise wait behind. */
    long hwm = !e->o.quiet && pid > 0 ? dwf__emu_vm_hwm_kb(status_fd) : -1;
    if (fault && !e->o.quiet)
        dwf__emu_log(e, "%s: invocation %s failed: %s: %s", f->name, rid, fault->type, fault->message);
    switch (j->kind) {
    case EMU_JOB_EXECUTION: answer_execution(f, j, rid, start, body, len, is_error, fault, what); break;
    case EMU_JOB_CALL: answer_call(f, j, body, len, is_error, fault, what); break;
    case EMU_JOB_DIRECT: answer_direct(f, j, body, len, is_error, fault, what); break;
    }
    /* One line per answer (bench/coldstart.sh reads it): a durable handler's Status, a plain
     * handler's VALUE or ERROR (its errorType for a call), or the fault. */
    if (!e->o.quiet)
        dwf__emu_log(e, "%s: invocation %s answered %s in %.0f ms, process VmHWM %ld kB", f->name, rid, what,
                     dwf_service_now(e->svc) - start, hwm);
    pthread_mutex_lock(&e->mu);
    v->cur = NULL;
    v->busy = 0;
    v->idle_since = dwf__emu_mono_ms();
    dwf__emu_kick(e);
    dwf__emu_wake_next(f); /* v is free: its own /next (a runtime that asked before answering) */
    if (j->kind == EMU_JOB_EXECUTION) dwf__emu_execution_changed(e, j->key);
    dwf__emu_job_free(j);
}

void dwf__emu_fault_current(emu_env *v, const char *type, const char *msg)
{
    if (!v->busy || !v->cur_rid[0]) return;
    dwf_error fault;
    snprintf(fault.type, sizeof fault.type, "%s", type);
    snprintf(fault.message, sizeof fault.message, "%s", msg);
    dwf__emu_job_answer(v, NULL, 0, 0, &fault);
}

int dwf__emu_job_begin(emu_fn *f, emu_job *j, char **event, char rid[40], double *start, dwf_error *err)
{
    dwf_emulator *e = f->emu;
    *event = NULL;
    *start = dwf_service_now(e->svc);
    if (j->kind == EMU_JOB_EXECUTION) {
        cJSON *ev = NULL;
        if (dwf_service_begin_invocation(e->svc, j->key, &ev, rid, err) != 0) return -1;
        *event = dwf_service_json_print(ev); /* cJSON's text, its timestamps printed quicker */
        cJSON_Delete(ev);
    } else if (j->kind == EMU_JOB_CALL) {
        cJSON *c = NULL;
        if (dwf_service_call_begin(e->svc, j->key, &c, err) != 0) return -1;
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "Payload");
        *event = strdup(cJSON_IsString(p) ? p->valuestring : "{}");
        cJSON_Delete(c);
        dwf_service_uuid(rid); /* the service's random buffer: no /dev/urandom opened per call */
    } else {
        *event = strdup(j->payload && *j->payload ? j->payload : "{}");
        dwf_service_uuid(rid);
    }
    if (!*event) return dwf__emu_fail(err, "ServiceException", "out of memory");
    return 0;
}

/* A process that died before it took its first invocation (an init failure) fails the
 * invocation it was started for, so the service's retry and backoff apply to it as on
 * Lambda, instead of the emulator restarting it forever. */
void dwf__emu_fault_queued_head(emu_env *v, const char *type, const char *msg)
{
    emu_fn *f = v->fn;
    dwf_emulator *e = f->emu;
    emu_job *j = dwf__emu_queue_pop(f);
    if (!j) return;
    v->busy = 1;
    v->cur = j;
    pthread_mutex_unlock(&e->mu);
    char *event = NULL, rid[40];
    double start;
    dwf_error err;
    int r = dwf__emu_job_begin(f, j, &event, rid, &start, &err);
    free(event);
    pthread_mutex_lock(&e->mu);
    if (r != 0) {
        v->cur = NULL;
        v->busy = 0;
        dwf__emu_job_free(j);
        dwf__emu_wake_next(f);
        return;
    }
    memcpy(v->cur_rid, rid, sizeof rid);
    v->cur_start_ms = start;
    dwf__emu_fault_current(v, type, msg);
}

/* ---- limits (mu held) ------------------------------------------------------------------------- */

/* The account's concurrency: invocations in flight at once, every function together. */
static int account_concurrency(const dwf_emulator *e)
{
    return e->o.concurrency > 0 ? e->o.concurrency : DWF_EMULATOR_CONCURRENCY;
}

int dwf__emu_account_environments(const dwf_emulator *e)
{
    int n = e->o.environments;
    int c = account_concurrency(e);
    return n < c ? n : c;
}

/* Functions that take no new work (replaced or deleted versions) hold no reservation. */
static int takes_work(const emu_fn *f) { return !f->retired && !f->torn_down; }

/* Sandboxes of one function (its versions, a replaced $LATEST): a reservation covers them all. */
static int same_function(const emu_fn *a, const emu_fn *b) { return a == b || strcmp(a->name, b->name) == 0; }

/* What the functions without a reservation share: the account's concurrency less every
 * function's reservation (each function counted once), at least 1. */
static int unreserved_pool(const dwf_emulator *e)
{
    int left = account_concurrency(e);
    for (int i = 0; i < e->nfns; i++) {
        const emu_fn *g = e->fns[i];
        int first = 1;
        for (int k = 0; k < i && first; k++) first = !(takes_work(e->fns[k]) && same_function(e->fns[k], g));
        if (takes_work(g) && g->reserved > 0 && first) left -= g->reserved;
    }
    return left > 0 ? left : 1;
}

int dwf__emu_fn_limit(const dwf_emulator *e, const emu_fn *f)
{
    return f->reserved >= 0 ? f->reserved : unreserved_pool(e);
}

/* Is g in f's pool: the sandboxes that share f's limit (those of f's function when it has a
 * reservation, else every function without one)? */
static int in_pool(const emu_fn *f, const emu_fn *g)
{
    return f->reserved >= 0 ? same_function(g, f) : g->reserved < 0;
}

/* Invocations of one sandbox in flight: held by an environment, queued, or admitted. A
 * RequestResponse Invoke's execution is visible to the scheduler's pass once its start is in
 * the store's open batch, before the Invoke queues it (service/store_sync.c), so the pass may
 * queue it first: such a job (`scanned`) and the admitted Invoke are one invocation, counted
 * once until the Invoke claims it (dwf__emu_sync_queued) or it ends. */
static int in_flight(const emu_fn *f)
{
    int busy = 0;
    dwf__emu_envs_live(f, &busy);
    int twice = f->scanned < f->sync_starting ? f->scanned : f->sync_starting;
    return busy + f->nq + f->sync_starting - twice;
}

/* What f's limit counts, over its pool: environments with a process and invocations in flight. */
static void pool_counts(const dwf_emulator *e, const emu_fn *f, int *live, int *flight)
{
    *live = *flight = 0;
    for (int i = 0; i < e->nfns; i++) {
        const emu_fn *g = e->fns[i];
        if (!in_pool(f, g)) continue;
        *live += dwf__emu_envs_live(g, NULL);
        *flight += in_flight(g);
    }
}

/* Environments with a process, every function together. */
static int account_live(const dwf_emulator *e)
{
    int live = 0;
    for (int i = 0; i < e->nfns; i++) live += dwf__emu_envs_live(e->fns[i], NULL);
    return live;
}

int dwf__emu_sync_admit(emu_fn *f, const char **reason)
{
    dwf_emulator *e = f->emu;
    int live, flight;
    pool_counts(e, f, &live, &flight);
    if (flight >= dwf__emu_fn_limit(e, f)) {
        *reason = f->reserved >= 0 ? "ReservedFunctionConcurrentInvocationLimitExceeded"
                                   : "ConcurrentInvocationLimitExceeded";
        return 0;
    }
    f->sync_starting++;
    return 1;
}

int dwf__emu_sync_queued(emu_fn *f, emu_job *j)
{
    f->sync_starting--;
    dwf__emu_kick(f->emu);
    if (!j) return 0;
    emu_job *held = j->key ? held_find(f, j->kind, j->key) : NULL;
    if (held) {
        if (held->scanned) { /* the pass queued this Invoke's execution: it is claimed */
            held->scanned = 0;
            f->scanned--;
        }
        dwf__emu_job_free(j);
        return 0;
    }
    return dwf__emu_queue_push(f, j);
}

/* Make room for f: stop the environment idle longest of another sandbox (of f's pool only, when
 * pool_only). 1 if one was stopped (its place frees once it is reaped). */
static int evict_idle(dwf_emulator *e, const emu_fn *f, int pool_only)
{
    emu_env *oldest = NULL;
    for (int i = 0; i < e->nfns; i++) {
        const emu_fn *g = e->fns[i];
        if (g == f || (pool_only && !in_pool(f, g))) continue;
        for (int k = 0; k < g->nenvs; k++) {
            emu_env *v = g->envs[k];
            if (v->pid > 0 && !v->busy && v->reached_next && !v->kill_reason &&
                (!oldest || v->idle_since < oldest->idle_since))
                oldest = v;
        }
    }
    if (!oldest) return 0;
    dwf__emu_kill(oldest, EMU_KILL_QUIET);
    return 1;
}

/* An environment that can take a job now or once it reaches /next: a process, not stopping,
 * holding no invocation. */
static int env_free(const emu_env *v) { return v->pid > 0 && !v->busy && !v->kill_reason; }

/* Start environments of f while more jobs are queued than it has free environments (warm, or
 * still starting), within its limit and the account's. */
static void scale_out(dwf_emulator *e, emu_fn *f)
{
    if (!takes_work(f) || dwf__emu_mono_ms() < f->respawn_after) return;
    for (;;) {
        int free_envs = 0, live, flight;
        for (int k = 0; k < f->nenvs; k++) free_envs += env_free(f->envs[k]);
        pool_counts(e, f, &live, &flight);
        if (f->nq <= free_envs) return;
        if (live >= dwf__emu_fn_limit(e, f)) {
            evict_idle(e, f, 1);
            return;
        }
        if (account_live(e) >= dwf__emu_account_environments(e)) {
            evict_idle(e, f, 0);
            return;
        }
        if (!dwf__emu_spawn(f)) return;
    }
}

/* Stop the environments idle past idle_retire_s (the next invocation starts a new one). */
static void retire_idle(dwf_emulator *e, emu_fn *f)
{
    double idle_ms = 1000.0 * (e->o.idle_retire_s > 0 ? e->o.idle_retire_s : DWF_EMULATOR_IDLE_RETIRE_S);
    double now = dwf__emu_mono_ms();
    for (int k = 0; k < f->nenvs; k++) {
        emu_env *v = f->envs[k];
        if (v->pid <= 0 || v->busy || !v->reached_next || v->kill_reason || now - v->idle_since < idle_ms) continue;
        if (!e->o.quiet)
            dwf__emu_log(e, "%s: environment %d (pid %d) idle for %.0f s: stopped", f->name, v->slot, (int)v->pid,
                         (now - v->idle_since) / 1000.0);
        dwf__emu_kill(v, EMU_KILL_QUIET);
    }
}

/* ---- the thread ---------------------------------------------------------------------------------- */

/* Kill (or, with no process to kill, fault) every invocation past its deadline. mu held. */
static void enforce_deadlines(dwf_emulator *e)
{
    double now_real = dwf__emu_real_ms();
    for (int i = 0; i < e->nfns; i++)
        for (int k = 0; k < e->fns[i]->nenvs; k++) {
            emu_env *v = e->fns[i]->envs[k];
            if (!v->busy || !v->cur_rid[0] || now_real <= v->cur_deadline) continue;
            if (v->pid > 0) dwf__emu_kill(v, EMU_KILL_TIMEOUT);
            else dwf__emu_fault_current(v, "Sandbox.Timedout",
                                        "the invocation outlived its timeout with no process to answer it");
        }
}

/* Fire the due timers and queue what the service says is runnable. Returns how many
 * executions were queued. Called and returns with mu held; releases it for the service. */
static int queue_runnable(dwf_emulator *e, dwf_service_cursor *cursor, double *last_err_log)
{
    dwf_error err;
    cJSON *run = NULL, *calls = NULL;
    pthread_mutex_unlock(&e->mu);
    int rc = dwf_service_fire_timers(e->svc, NULL, NULL, &err);
    /* A page of the runnable executions per pass: with thousands queued already, reading them
     * all at every pass made each execution cost more the more were waiting. */
    if (rc == 0) rc = dwf_service_runnable_page(e->svc, 60000.0, SCAN_PAGE, cursor, &run, &err);
    /* A call running longer than the longest invocation (15 minutes) has lost its runner. */
    if (rc == 0) rc = dwf_service_calls_due(e->svc, NULL, 16 * 60000.0, &calls, &err);
    if (rc != 0 && dwf__emu_mono_ms() - *last_err_log > 5000) {
        dwf__emu_log(e, "scheduler: %s: %s", err.type, err.message);
        *last_err_log = dwf__emu_mono_ms();
    }
    pthread_mutex_lock(&e->mu);
    int queued = 0;
    for (const cJSON *a = run ? run->child : NULL; a; a = a->next) {
        emu_fn *f = cJSON_IsString(a) ? dwf__emu_fn_of_execution(e, a->valuestring) : NULL;
        if (f) queued += queue_key(f, EMU_JOB_EXECUTION, a->valuestring, 1);
    }
    cJSON_Delete(run);
    /* Calls of the plain functions served here (a call to a function served elsewhere waits for
     * that host). */
    for (const cJSON *c = calls ? calls->child : NULL; c; c = c->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "CallId");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "FunctionName");
        emu_fn *f = cJSON_IsString(fn) ? dwf__emu_fn_find(e, fn->valuestring, "") : NULL;
        if (f && f->plain && cJSON_IsString(id)) queued += queue_key(f, EMU_JOB_CALL, id->valuestring, 0);
    }
    cJSON_Delete(calls);
    return queued;
}

/* The ends of invocations wait for no flush (answer_execution): the next call's flush covers
 * them, and this one, at every read of the store (100 ms at most), when no call came. Called
 * and returns with mu held; releases it. */
static void flush_ends(dwf_emulator *e, double *last_err_log)
{
    dwf_error err;
    pthread_mutex_unlock(&e->mu);
    if (dwf_service_flush(e->svc, &err) != 0 && dwf__emu_mono_ms() - *last_err_log > 5000) {
        dwf__emu_log(e, "scheduler: %s: %s", err.type, err.message);
        *last_err_log = dwf__emu_mono_ms();
    }
    pthread_mutex_lock(&e->mu);
}

/* --skip-time: every idle execution tree jumps its own clock to its next WAIT end or retry
 * (service/timers.c); trees with an invocation or a call in flight keep real time, whatever
 * the others do. 1 if a clock moved. Called and returns with mu held; releases it. */
static int skip_time(dwf_emulator *e)
{
    int moved = 0;
    dwf_error err;
    pthread_mutex_unlock(&e->mu);
    if (dwf_service_skip_time(e->svc, NULL, &moved, &err) != 0) moved = 0;
    pthread_mutex_lock(&e->mu);
    return moved;
}

/* How long to sleep when nothing runs: until the next timer (on the service's clock, whatever
 * each execution's offset), at most a slice. Called and returns with mu held; releases it. */
static double idle_wait(dwf_emulator *e)
{
    double wait = IDLE_SLICE_MS, due = -1;
    dwf_error err;
    pthread_mutex_unlock(&e->mu);
    if (dwf_service_next_due(e->svc, NULL, 1, &due, &err) == 0 && due >= 0) {
        double now = dwf_service_now(e->svc);
        if (due <= now) wait = 0;
        else if (due - now < wait) wait = due - now;
    }
    pthread_mutex_lock(&e->mu);
    return wait;
}

/* The due-execution scan (timers, runnable executions, calls; --skip-time's clocks) runs every
 * SCAN_SLICE_MS, or SCAN_AFTER_CHANGE_MS after a change (a kick) at the soonest: a kick comes with
 * every Invoke, checkpoint and answer, and scanning at each made a busy serve spend its time
 * re-reading what it already had queued. What needs no scan (an Invoke's execution, a
 * RequestResponse's, an answered job's environment) is queued or freed at once. */
#define SCAN_AFTER_CHANGE_MS 20.0

/* Whether a pass reads the store (timers, the runnable page, calls): every IDLE_SLICE_MS, and
 * after a change only when something may have become runnable that nobody queued: what an
 * Invoke starts is queued at once, and an answer or a checkpoint of a plain three-step
 * execution makes nothing runnable, yet each kicked a pass that re-read up to SCAN_PAGE queued
 * executions (about 4,000 instructions a row). The service counts what becomes runnable
 * otherwise (dwf_service_runnable_marks); --skip-time moves clocks at every pass, as before.
 * A walk not finished (a backlog longer than SCAN_PAGE) goes on at the next periodic read, not
 * at the next change's pass: going on at once re-read a page of queued executions every 20 ms
 * while a backlog drained (the throughput bench's Event row at 10,000: 7.3 rows read per
 * execution, ~4,400 instructions each). Nothing waits longer for it than it would in the queue:
 * a backlog of B executions takes B / 256 reads, 0.4 ms per queued execution, to walk, and
 * its function's environments take longer (about 1 ms each here, at 1,000 executions/s) to
 * run the B ahead of what the walk finds; a mark still brings a read at the next pass. mu held. */
typedef struct scan_state {
    unsigned long marks; /* dwf_service_runnable_marks at the last read */
    double read_ms;      /* when the store was last read */
    dwf_service_cursor cursor;
} scan_state;

static int scan_needed(const dwf_emulator *e, const scan_state *sc, unsigned long marks, double now)
{
    return e->o.skip_time || marks != sc->marks || now - sc->read_ms >= IDLE_SLICE_MS;
}

/* The cheap part of a pass, at every wake-up: reap, deadlines, scale out, retire. 1 if idle
 * (nothing queued or running anywhere). mu held. */
static int tend_functions(dwf_emulator *e)
{
    int idle = 1;
    dwf__emu_reap(e);
    enforce_deadlines(e);
    for (int i = 0; i < e->nfns; i++) {
        emu_fn *f = e->fns[i];
        int busy = 0;
        dwf__emu_envs_live(f, &busy);
        if (f->nq > 0 || busy) idle = 0;
        scale_out(e, f);
        retire_idle(e, f);
    }
    dwf__emu_control_reap(e);
    return idle;
}

void *dwf__emu_scheduler(void *arg)
{
    dwf_emulator *e = arg;
    double last_err_log = 0, last_scan = -1e18;
    scan_state sc = {.marks = 0, .read_ms = -1e18, .cursor = DWF_SERVICE_CURSOR_START};
    unsigned long scanned_kicks = e->kicks - 1; /* a scan first */
    pthread_mutex_lock(&e->mu);
    while (!e->stopping) {
        unsigned long seen = e->kicks;
        double since = dwf__emu_mono_ms() - last_scan;
        int changed = seen != scanned_kicks, queued = 0;
        if (since >= IDLE_SLICE_MS || (changed && since >= SCAN_AFTER_CHANGE_MS)) {
            scanned_kicks = seen;
            last_scan = dwf__emu_mono_ms();
            if (e->o.skip_time) skip_time(e);
            /* read before the store is: a mark made meanwhile brings the next change's pass */
            unsigned long marks = dwf_service_runnable_marks();
            if (scan_needed(e, &sc, marks, last_scan)) {
                sc.marks = marks;
                sc.read_ms = last_scan;
                queued = queue_runnable(e, &sc.cursor, &last_err_log);
                flush_ends(e, &last_err_log);
            }
            changed = 0;
        }
        int idle = tend_functions(e);
        if (queued) dwf__emu_kick(e);
        since = dwf__emu_mono_ms() - last_scan;
        double wait = changed ? SCAN_AFTER_CHANGE_MS - since : IDLE_SLICE_MS - since;
        if (!changed && idle && !queued) {
            double due = idle_wait(e);
            if (due < wait) wait = due;
        }
        if (wait > 0 && e->kicks == seen && !e->stopping) dwf__emu_sched_wait(e, wait, changed);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}
