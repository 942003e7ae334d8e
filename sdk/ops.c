/*
 * ops.c: the durable operations (step, wait, callback, waitForCallback, waitForCondition,
 * invoke, child contexts, saga compensations), each following the official SDK's handler.
 *
 * Every operation has the same shape: dwf__op_begin (replay.c) takes the next step id of the
 * context, looks its hashed Id up and checks the record matches; then the operation either
 * returns what the record says (SUCCEEDED result, FAILED error, "still waiting" =
 * DWF_SUSPEND) or does the work and checkpoints it; dwf__op_end closes it. Waiting never
 * blocks: a timer, a retry delay or a callback unwinds with DWF_SUSPEND and the service
 * invokes again when the record changes. After an awaited START the merged record is read
 * again, because a service (the embedded engine with a virtual clock) may already have
 * finished the wait in its response.
 */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core.h"

static const dwf_retry default_retry = DWF_RETRY_DEFAULT;

static int oom(dwf_ctx *c) { return dwf__fatal(c, "OutOfMemory", "out of memory"); }

/* The language's truthiness (dwf_truthy's rule), kept here so the core needs no value layer. */
static int truthy(const cJSON *v)
{
    if (!v || cJSON_IsNull(v) || cJSON_IsFalse(v)) return 0;
    if (cJSON_IsNumber(v)) return v->valuedouble != 0;
    if (cJSON_IsString(v)) return v->valuestring && v->valuestring[0];
    return 1;
}

/* A durable error wrapping `cause` as the SDK's DurableOperationError does: the cause's
 * message, ErrorData taken from the cause, the cause itself kept under "Cause". */
static cJSON *wrap_error(const char *type, const cJSON *cause, const char *fallback)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cause, "ErrorMessage");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(cause, "ErrorData");
    cJSON *e = dwf__error_new(type, cJSON_IsString(m) ? m->valuestring : fallback, cause);
    if (e && cJSON_IsString(d) && !cJSON_AddStringToObject(e, "ErrorData", d->valuestring)) {
        cJSON_Delete(e);
        return NULL;
    }
    return e;
}

/* The SDK's DurableOperationError.fromErrorObject: a durable error rebuilt from a wire error
 * object (known durable types keep their type, others become StepError; the cause keeps only
 * the recorded type and message). New object, caller frees; NULL = no memory. */
static cJSON *from_error_object(const cJSON *wire)
{
    static const char *const known[] = {"StepError", "CallbackError", "CallbackExternalError",
                                        "CallbackTimeoutError", "CallbackSubmitterError",
                                        "InvokeError", "ChildContextError", "WaitForConditionError",
                                        "PromiseCombinatorError"};
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(wire, "ErrorType");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(wire, "ErrorMessage");
    const char *type = cJSON_IsString(t) ? t->valuestring : NULL;
    const char *cls = "StepError";
    for (size_t i = 0; type && i < sizeof known / sizeof *known; i++)
        if (strcmp(type, known[i]) == 0) cls = known[i];
    /* the synthesized cause: only the recorded type and message survive */
    cJSON *cause = dwf__error_new(type ? type : "Error", cJSON_IsString(m) ? m->valuestring : "", NULL);
    if (!cause) return NULL;
    cJSON *e = wrap_error(cls, cause, "");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(wire, "ErrorData");
    if (e && cJSON_IsString(d) && !cJSON_GetObjectItemCaseSensitive(e, "ErrorData") &&
        !cJSON_AddStringToObject(e, "ErrorData", d->valuestring)) {
        cJSON_Delete(e);
        e = NULL;
    }
    cJSON_Delete(cause);
    return e;
}

/* ---- the cause chain of a child context's error, rebuilt from the records ----------------
 * The wire keeps one level of an error ({ErrorType, ErrorMessage}), so a child context that
 * failed because a step inside it gave up records {StepError, "card declined"}, and the SDK's
 * rebuild (fromErrorObject) loses the step's own type. The step's own FAIL record still holds
 * it ({CardDeclined, "card declined"}): when a context's recorded type is one of the wrappers,
 * the operation inside it that raised that error is found among its children (the last one
 * that failed with the same type and message as rebuilt) and its rebuilt error, with its own
 * chain, takes the place of the one-level one. Live and replayed runs both rebuild from the
 * records, so a workflow sees the same chain either way (docs/errors.md). */
static cJSON *context_error(dwf_ctx *c, const char *sid, const cJSON *wire, int depth);

static int same_str(const cJSON *a, const cJSON *b, const char *k)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(a, k), *y = cJSON_GetObjectItemCaseSensitive(b, k);
    return cJSON_IsString(x) && cJSON_IsString(y) && strcmp(x->valuestring, y->valuestring) == 0;
}

/* The error a recorded failed operation raised in its context, chain included; NULL if it is
 * not one whose chain can be rebuilt here. New object, caller frees. */
static cJSON *thrown_by(dwf_ctx *c, const char *sid, const dwf__op *op, int depth)
{
    if (!op || !op->error || dwf__op_status(op) != DWF_OPSTATUS_FAILED) return NULL;
    if (op->type == DWF_OPTYPE_STEP) return from_error_object(op->error);
    if (op->type != DWF_OPTYPE_CONTEXT || !op->subtype) return NULL;
    if (strcmp(op->subtype, "RunInChildContext") && strcmp(op->subtype, "ParallelBranch") &&
        strcmp(op->subtype, "MapIteration"))
        return NULL;
    cJSON *inner = context_error(c, sid, op->error, depth + 1);
    cJSON *e = inner ? wrap_error("ChildContextError", inner, "") : NULL;
    cJSON_Delete(inner);
    return e;
}

/* The error the operation inside context `sid` raised when the context failed with `wire`
 * (a wrapper type), chain included; NULL when not found. */
static cJSON *raised_inside(dwf_ctx *c, const char *sid, const cJSON *wire, int depth)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(wire, "ErrorType");
    if (depth > 32 || !cJSON_IsString(t) || dwf__error_class(t->valuestring) != DWF_ERRC_WRAP) return NULL;
    cJSON *plain = from_error_object(wire);
    if (!plain) return NULL;
    cJSON *found = NULL;
    for (int n = 1;; n++) {
        char *ksid = dwf__child_step_id(sid, n);
        if (!ksid) break;
        char kid[17];
        dwf_hash_id(ksid, kid);
        const dwf__op *k = dwf__op_get(c->inv, kid);
        cJSON *e = k ? thrown_by(c, ksid, k, depth) : NULL;
        free(ksid);
        if (!k) break;
        if (e && same_str(e, plain, "ErrorType") && same_str(e, plain, "ErrorMessage")) {
            cJSON_Delete(found);
            found = e;
        } else {
            cJSON_Delete(e);
        }
    }
    cJSON_Delete(plain);
    return found;
}

static cJSON *context_error(dwf_ctx *c, const char *sid, const cJSON *wire, int depth)
{
    cJSON *found = raised_inside(c, sid, wire, depth);
    return found ? found : from_error_object(wire);
}

cJSON *dwf__chain_error(dwf_ctx *c, const char *sid, const cJSON *plain)
{
    char id[17];
    dwf_hash_id(sid, id);
    const dwf__op *op = dwf__op_get(c->inv, id);
    /* live, the context's own FAIL may still be on its way to the service: its wire form is
     * the type and message of the error it threw (the one `plain` was rebuilt from) */
    const cJSON *wire = op && op->error && dwf__op_status(op) == DWF_OPSTATUS_FAILED ? op->error : NULL;
    cJSON *tmp = wire || !plain ? NULL : dwf__wire_error(plain);
    cJSON *e = raised_inside(c, sid, wire ? wire : tmp, 0);
    cJSON_Delete(tmp);
    return e ? e : plain ? cJSON_Duplicate(plain, 1) : NULL;
}

/* Raise on c what the SDK throws after checkpointing `err`: fromErrorObject of its wire form. */
static int raise_recorded(dwf_ctx *c, const cJSON *err)
{
    cJSON *w = dwf__wire_error(err);
    cJSON *e = w ? from_error_object(w) : NULL;
    cJSON_Delete(w);
    if (!e) return oom(c);
    dwf__set_error_obj(c, e);
    return DWF_ERROR;
}

/* Raise the error a FAILED record holds (fromErrorObject), or `fallback` when it holds none. */
static int raise_record(dwf_ctx *c, const dwf__op *op, const char *fallback_type,
                        const char *fallback_msg)
{
    cJSON *err = op && op->error ? from_error_object(op->error)
                                 : dwf__error_new(fallback_type, fallback_msg, NULL);
    if (!err) return oom(c);
    dwf__set_error_obj(c, err);
    return DWF_ERROR;
}

/* An update of `r`'s operation carrying `err` as its Error (wire form). NULL = no memory. */
static cJSON *update_with_error(dwf_ctx *c, const char *id, enum dwf_optype type,
                                enum dwf_subtype subtype, enum dwf_action action,
                                const char *name, const cJSON *err)
{
    cJSON *u = dwf__update_new(c, id, type, subtype, action, name);
    cJSON *we = u ? dwf__wire_error(err) : NULL;
    if (!we) {
        cJSON_Delete(u);
        return NULL;
    }
    cJSON_AddItemToObjectCS(u, "Error", we); /* literal key: no allocation, cannot fail */
    return u;
}

static void set_wrapped_error(dwf_ctx *c, const char *type, const cJSON *cause)
{
    cJSON *e = wrap_error(type, cause, "");
    if (!e) dwf__fatal(c, "OutOfMemory", "out of memory");
    dwf__set_error_obj(c, e);
}

/* ---- retry math: the SDK's retry strategy (docs/protocol.md) ------------------------------ */
static double jittered(dwf__inv *inv, double d, int jitter)
{
    if (jitter == DWF_JITTER_FULL) d = dwf__random(inv) * d;
    else if (jitter == DWF_JITTER_HALF) d = d / 2 + dwf__random(inv) * d / 2;
    d = round(d);
    return d < 1 ? 1 : d;
}

/* Should attempt n (1-based, just finished) be retried for this error type? Returns the delay
 * in seconds, or 0 for "give up". */
/* The delay before attempt n+1 of a step whose attempt n failed with err, or 0 = give up.
 * `retry { on }` matches along err's cause chain (docs/errors.md); without it every error is
 * retried except dwf's deterministic ones (include/dwf_errors.def: retried 0). */
static int retry_delay(dwf__inv *inv, const dwf_retry *r, int n, const cJSON *err)
{
    if (!r || r->attempts == 0) r = &default_retry;
    if (n >= r->attempts) return 0;
    if (r->on && !dwf_error_is(err, r->on)) return 0;
    if (!r->on) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(err, "ErrorType");
        if (cJSON_IsString(t) && !dwf__error_retried_by_default(t->valuestring)) return 0;
        if (dwf__aws_not_retryable(err)) return 0;
    }
    double d = r->delay_s * pow(r->backoff > 0 ? r->backoff : 1, n - 1);
    if (r->max_s > 0 && d > r->max_s) d = r->max_s;
    return (int)jittered(inv, d, r->jitter);
}

/* ---- saga registration ---------------------------------------------------------------- */
static void register_compensation(dwf_ctx *c, const char *sid, const char *name, dwf_fn fn,
                                  void *frame)
{
    dwf__inv *inv = c->inv;
    char *s = strdup(sid), *n = name ? strdup(name) : NULL;
    pthread_mutex_lock(&inv->mu);
    if (s && (!name || n) && inv->ncomps == inv->capcomps) {
        size_t cap = inv->capcomps ? inv->capcomps * 2 : 8;
        dwf__comp *p = realloc(inv->comps, cap * sizeof *p);
        if (p) {
            inv->comps = p;
            inv->capcomps = cap;
        }
    }
    if (s && (!name || n) && inv->ncomps < inv->capcomps) {
        inv->comps[inv->ncomps++] = (dwf__comp){s, n, fn, frame};
        s = n = NULL;
    }
    pthread_mutex_unlock(&inv->mu);
    if (s || n) {
        free(s);
        free(n);
        dwf__fatal(c, "OutOfMemory", "out of memory registering a compensation");
    }
}

/* ---- step ------------------------------------------------------------------------------ */
typedef struct step_args {
    const char *sid, *id, *name;
    enum dwf_subtype subtype;
    dwf_fn body;
    void *frame;
    const dwf_step_opts *opts;
    const char *callback_id; /* waitForCallback submitter */
} step_args;

/* A failed attempt: RETRY (and suspend) or FAIL (and raise StepError). Takes `err`. */
static int step_attempt_failed(dwf_ctx *c, const step_args *a, int attempt, cJSON *err)
{
    const dwf_retry *r = a->opts && a->opts->retry ? a->opts->retry : &default_retry;
    int delay = retry_delay(c->inv, r, attempt, err);
    cJSON *u = update_with_error(c, a->id, DWF_OPTYPE_STEP, a->subtype,
                                 delay ? DWF_ACTION_RETRY : DWF_ACTION_FAIL, a->name, err);
    if (u && delay) {
        cJSON *so = cJSON_AddObjectToObject(u, "StepOptions");
        if (!so || !cJSON_AddNumberToObject(so, "NextAttemptDelaySeconds", delay)) {
            cJSON_Delete(u);
            u = NULL;
        }
    }
    int rc = u ? dwf__checkpoint(c, u, 1) : oom(c);
    if (rc == DWF_OK && delay)
        rc = DWF_SUSPEND; /* the service marks the step READY after the delay and re-invokes */
    else if (rc == DWF_OK) /* the SDK throws fromErrorObject(createErrorObjectFromError(error)) */
        rc = raise_recorded(c, err);
    cJSON_Delete(err);
    return rc;
}

/* What the step's record decides before its body runs: *run set means "run the body now";
 * otherwise the returned status is the step's outcome (recorded result, error, suspension). */
static int step_recorded(dwf_ctx *c, const step_args *a, const dwf__op *op, dwf_val **out,
                         int *run)
{
    int at_most_once = a->opts && a->opts->semantics == DWF_AT_MOST_ONCE;
    *run = 0;
    switch (dwf__op_status(op)) {
    case DWF_OPSTATUS_SUCCEEDED: {
        int rc = dwf__parse_payload(c, op->result, out);
        if (rc == DWF_OK && a->opts && a->opts->compensate)
            register_compensation(c, a->sid, a->name, a->opts->compensate, a->frame);
        return rc;
    }
    case DWF_OPSTATUS_FAILED:
        return raise_record(c, op, "StepError", "Step failed");
    case DWF_OPSTATUS_PENDING:
        c->replaying = 0;
        return DWF_SUSPEND; /* retry timer still running */
    case DWF_OPSTATUS_STARTED:
        c->replaying = 0;
        if (!at_most_once && a->opts && a->opts->timeout_s > 0) {
            /* an attempt of a step with a timeout whose invocation ended before it did (its
             * body was abandoned, or the invocation timed out or crashed): it counts, so a step
             * that always outlives its invocation stops after its attempts */
            char msg[300];
            snprintf(msg, sizeof msg, "step \"%s\" attempt %d did not finish: its invocation ended "
                     "first (timeout %gs)", a->name ? a->name : a->sid, op->attempt + 1, a->opts->timeout_s);
            cJSON *err = dwf__error_new("StepTimeoutError", msg, NULL);
            if (!err) return oom(c);
            return step_attempt_failed(c, a, op->attempt + 1, err);
        }
        if (at_most_once) {
            cJSON *err = dwf__error_new("StepInterruptedError",
                                        "The step execution process was initiated but failed to "
                                        "reach completion due to an interruption.",
                                        NULL);
            if (!err) return oom(c);
            return step_attempt_failed(c, a, op->attempt + 1, err);
        }
        *run = 1; /* at-least-once: run again without a new START */
        return DWF_OK;
    case DWF_OPSTATUS_NONE:
    case DWF_OPSTATUS_READY: {
        c->replaying = 0;
        cJSON *u = dwf__update_new(c, a->id, DWF_OPTYPE_STEP, a->subtype, DWF_ACTION_START, a->name);
        /* a step with a timeout records its START before the body runs, like at-most-once: an
         * attempt its invocation did not outlive must be seen on replay */
        int rc = dwf__checkpoint(c, u, at_most_once || (a->opts && a->opts->timeout_s > 0));
        *run = rc == DWF_OK;
        return rc;
    }
    default:
        return dwf__fatal(c, "InvalidState", "step \"%s\" has an unexpected status", a->sid);
    }
}

/* Ask the host's mock hook (dwf test) about this attempt. DWF_MOCK_PASS runs the body;
 * RETURN puts the mocked value in *v; FAIL puts the error in *err (caller frees). */
static int step_mocked(dwf_ctx *c, const step_args *a, int attempt, dwf_val **v, cJSON **err)
{
    const dwf_invoke_opts *o = c->inv->opts;
    if (!o || !o->mock) return DWF_MOCK_PASS;
    dwf_mock_call call = {.kind = DWF_MOCK_STEP, .name = a->name, .attempt = attempt};
    dwf_mock_answer ans = {0};
    int m = o->mock(o->mock_arg, &call, &ans);
    if (m == DWF_MOCK_RETURN) *v = ans.value ? dwf__adopt(c, ans.value) : NULL;
    else if (m == DWF_MOCK_FAIL) *err = dwf__error_new(ans.error_type, ans.error_message, NULL);
    else cJSON_Delete(ans.value);
    return m;
}

/* ---- per-attempt timeouts -------------------------------------------------------------------
 * A step with `timeout` (and a waitForCallback submitter with `submitter timeout`, a poll with
 * `timeout` for its checks) runs each attempt's body on a thread of its own, with the deadline
 * on its context: http and sleep_ms inside it wait at most until then, and a used C function
 * reads what is left with dwf_deadline_ms(). The caller waits for the body until the deadline
 * and a grace period (for a body that noticed the deadline and is returning). A body that
 * returns after the deadline has timed out: the attempt fails with StepTimeoutError (its own
 * error, if any, as cause) and the retry policy decides (a poll fails, as on any failed check).
 * A body still running after the grace period cannot be stopped (C has no safe way to kill a
 * thread): it is left running, the invocation ends with a retryable fault and keeps its memory
 * for that thread (inv->abandoned), and the service runs the workflow again; there the START
 * record, sent before the body ran, shows the attempt was interrupted, and it counts against
 * the retry budget (step_recorded, poll_core). */
#define DWF_TIMEOUT_GRACE_MS 2000.0

/* What an attempt with a timeout runs: a step body (or submitter), or a poll check. */
typedef struct timed_call {
    const char *what;         /* "step", "poll check": how messages name it */
    const char *id, *label;   /* operation id; name or, unnamed, step id for messages */
    const char *name;         /* the operation's name (NULL = none) */
    const char *callback_id;  /* a waitForCallback submitter's */
    void *frame;
    dwf_fn body;              /* a step body or submitter, or */
    dwf_item_fn check;        /* a poll check, given the state as item and the attempt as index */
    dwf_val *item, *index;
} timed_call;

typedef struct timed_body {
    dwf_ctx sc;      /* the attempt's context: no parent, ids copied, so it outlives the caller */
    timed_call call; /* strings pointing into the copies below */
    dwf_val *v;
    int rc, done;
    char op_id[17];
    char *op_name, *callback_id;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} timed_body;

static void *timed_main(void *arg)
{
    timed_body *t = arg;
    const timed_call *k = &t->call;
    dwf_val *v = NULL;
    int rc = k->check ? k->check(&t->sc, k->frame, k->item, k->index, &v)
             : k->body ? k->body(&t->sc, k->frame, &v) : DWF_OK;
    if (rc == DWF_RETURN) rc = DWF_OK; /* a poll check's `return` */
    pthread_mutex_lock(&t->mu);
    t->v = v;
    t->rc = rc;
    t->done = 1;
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* Run `t` until it returns or the deadline and grace pass: 1 if it returned, 0 if not. */
static int timed_wait(timed_body *t)
{
    double until = t->sc.deadline_ms + DWF_TIMEOUT_GRACE_MS;
    pthread_mutex_lock(&t->mu);
    while (!t->done) {
        struct timespec ts;
        ts.tv_sec = (time_t)(until / 1000);
        ts.tv_nsec = (long)((until - (double)ts.tv_sec * 1000) * 1e6);
        if (ts.tv_nsec >= 1000000000L) ts.tv_nsec = 999999999L;
        if (pthread_cond_timedwait(&t->cv, &t->mu, &ts) == ETIMEDOUT && !t->done) break;
    }
    int done = t->done;
    pthread_mutex_unlock(&t->mu);
    return done;
}

/* The code an abandoned body runs lives in the handler (a shared object under the embedded
 * engine): one more reference to it keeps a host's dlclose from unmapping it under the thread.
 * A handler linked into the program itself has nothing to pin (dladdr names the program; in
 * the static Lambda program it finds nothing, so dlopen is never called there). */
static void pin_code(uintptr_t code)
{
    Dl_info info;
    if (code && dladdr((const void *)code, &info) && info.dli_fname)
        (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
}

static void timed_free(timed_body *t)
{
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t->op_name);
    free(t->callback_id);
    free(t);
}

/* A timed_body for `k`, its strings copied (an abandoned body outlives the caller's). */
static timed_body *timed_new(dwf_ctx *c, const timed_call *k, int attempt, double timeout_s)
{
    timed_body *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->call = *k;
    snprintf(t->op_id, sizeof t->op_id, "%s", k->id);
    t->op_name = k->name ? strdup(k->name) : NULL;
    t->callback_id = k->callback_id ? strdup(k->callback_id) : NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, &ca);
    pthread_condattr_destroy(&ca);
    if ((k->name && !t->op_name) || (k->callback_id && !t->callback_id)) {
        timed_free(t);
        return NULL;
    }
    dwf__step_ctx_init(&t->sc, c, attempt, t->op_id, t->op_name, t->callback_id, k->frame);
    t->sc.parent = NULL; /* the caller's context may be gone if this body is abandoned */
    if (k->check) t->sc.token_round = attempt; /* a poll check: each one's aws tokens differ */
    t->sc.deadline_ms = dwf__mono_ms() + timeout_s * 1000;
    return t;
}

/* The body did not return: leave it running and end the invocation (retryable). */
static int timed_abandon(dwf_ctx *c, timed_body *t, pthread_t th, int attempt, double timeout_s)
{
    const timed_call *k = &t->call; /* t is never freed now: the thread keeps it */
    pthread_detach(th);
    pin_code(k->check ? (uintptr_t)k->check : (uintptr_t)k->body);
    __atomic_store_n(&c->inv->abandoned, 1, __ATOMIC_RELEASE);
    dwf_error e = {"StepTimeoutError", ""};
    snprintf(e.message, sizeof e.message,
             "%s \"%s\" attempt %d did not return within its timeout of %gs; its thread was "
             "abandoned and the invocation ends, to be retried", k->what, k->label, attempt, timeout_s);
    dwf__fault(c->inv, &e, 1);
    return DWF_FATAL;
}

/* One attempt with a timeout: *v and *err as the body left them (err: a copy, caller frees);
 * DWF_ERROR when *err is set. DWF_FATAL when the body had to be abandoned. */
static int timed_run(dwf_ctx *c, const timed_call *k, int attempt, double timeout_s, dwf_val **v,
                     cJSON **err)
{
    timed_body *t = timed_new(c, k, attempt, timeout_s);
    if (!t) return oom(c);
    pthread_t th;
    if (pthread_create(&th, NULL, timed_main, t) != 0) {
        timed_free(t);
        return oom(c);
    }
    if (!timed_wait(t)) return timed_abandon(c, t, th, attempt, timeout_s);
    pthread_join(th, NULL);
    int rc = t->rc;
    *v = t->v;
    *err = rc == DWF_ERROR || t->sc.error ? dwf__take_error_copy(&t->sc) : NULL;
    int late = dwf__mono_ms() > t->sc.deadline_ms;
    timed_free(t);
    if (rc == DWF_FATAL || rc == DWF_SUSPEND) {
        cJSON_Delete(*err);
        *err = NULL;
        return rc;
    }
    if (late) { /* the deadline passed: the attempt timed out, whatever the body made */
        char msg[400];
        snprintf(msg, sizeof msg, "%s \"%s\" attempt %d timed out after %gs", k->what, k->label, attempt,
                 timeout_s);
        cJSON *te = dwf__error_new("StepTimeoutError", msg, *err);
        cJSON_Delete(*err);
        *err = te;
        if (!te) return oom(c);
    }
    return *err ? DWF_ERROR : DWF_OK;
}

/* Run the body as attempt `attempt` on a step context and checkpoint how it went. */
static int step_run(dwf_ctx *c, const step_args *a, int attempt, dwf_val **out)
{
    if (c->inv->opts && c->inv->opts->verify) return DWF_SUSPEND; /* verify never runs a body */
    DWF_TRY(dwf__checkpoint_barrier(c->inv)); /* an earlier deferred SUCCEED is durable first */
    dwf_val *mv = NULL;
    cJSON *merr = NULL;
    int mocked = step_mocked(c, a, attempt, &mv, &merr);
    if (mocked == DWF_MOCK_FAIL) return merr ? step_attempt_failed(c, a, attempt, merr) : oom(c);
    double timeout_s = a->opts ? a->opts->timeout_s : 0;
    dwf_val *v = NULL;
    int rc;
    if (mocked == DWF_MOCK_RETURN) {
        v = mv; /* a mocked attempt runs no body, so no timeout applies to it */
    } else if (timeout_s > 0) {
        cJSON *err = NULL;
        timed_call k = {"step", a->id, a->name ? a->name : a->sid, a->name, a->callback_id, a->frame,
                        a->body, NULL, NULL, NULL};
        rc = timed_run(c, &k, attempt, timeout_s, &v, &err);
        if (rc == DWF_ERROR) return step_attempt_failed(c, a, attempt, err);
        if (rc != DWF_OK) return rc;
    } else {
        dwf_ctx sc;
        dwf__step_ctx_init(&sc, c, attempt, a->id, a->name, a->callback_id, a->frame);
        rc = a->body ? a->body(&sc, a->frame, &v) : DWF_OK;
        if (rc == DWF_FATAL || rc == DWF_SUSPEND) return rc;
        if (rc == DWF_ERROR || sc.error) /* sc.error: a value helper failed, the body did not check */
            return step_attempt_failed(c, a, attempt, dwf__take_error_copy(&sc));
    }

    /* A body that returned nothing is JavaScript's undefined: the SDK sends no Payload. */
    char *text = v ? dwf__to_json(v) : NULL;
    if (v && !text) return oom(c);
    size_t len = text ? strlen(text) : 0;
    if (len > DWF_LIMIT_OPERATION_PAYLOAD) {
        free(text);
        char msg[200];
        snprintf(msg, sizeof msg,
                 "step result is %zu bytes serialised; the payload limit is %d bytes", len,
                 DWF_LIMIT_OPERATION_PAYLOAD);
        cJSON *err = dwf__error_new("PayloadTooLarge", msg, NULL);
        if (!err) return oom(c);
        return step_attempt_failed(c, a, attempt, err);
    }
    cJSON *u = dwf__update_new(c, a->id, DWF_OPTYPE_STEP, a->subtype, DWF_ACTION_SUCCEED, a->name);
    if (!u || (text && dwf__add_str(u, "Payload", text, 0) != 0)) {
        cJSON_Delete(u);
        free(text);
        return oom(c);
    }
    /* An at-least-once step's SUCCEED is pipelined (checkpoint.c): the body goes on while it is
     * sent, and a crash before it is durable runs the step again on replay, as at-least-once
     * allows. An at-most-once step's and a timed step's is deferred: the workflow goes on, but
     * no step body runs (nor anything observable happens) before it is durable, so a crash in
     * between leaves the step STARTED without a result, as a crash before an awaited SUCCEED
     * would; the next step's awaited START carries it (docs/language.md, "When a result is
     * durable"). */
    int at_most_once = a->opts && a->opts->semantics == DWF_AT_MOST_ONCE;
    int how = a->subtype != DWF_SUBTYPE_STEP        ? DWF__AWAITED
              : at_most_once || timeout_s > 0 ? DWF__DEFERRED
                                              : DWF__PIPELINED;
    rc = dwf__checkpoint(c, u, how);
    if (rc == DWF_OK) rc = dwf__parse_payload(c, text, out); /* the round-tripped value, as the SDK */
    free(text);
    if (rc == DWF_OK && a->opts && a->opts->compensate)
        register_compensation(c, a->sid, a->name, a->opts->compensate, a->frame);
    return rc;
}

static int step_core(dwf_ctx *c, const step_args *a, const dwf__op *op, dwf_val **out)
{
    int run = 0;
    int rc = step_recorded(c, a, op, out, &run);
    return rc == DWF_OK && run ? step_run(c, a, (op ? op->attempt : 0) + 1, out) : rc;
}

int dwf_step(dwf_ctx *c, const char *name, dwf_fn body, void *frame, const dwf_step_opts *opts,
             dwf_val **out)
{
    dwf_val *dummy = NULL;
    if (!out) out = &dummy;
    *out = NULL;
    dwf__opref r;
    int rc = dwf__op_begin(c, "step", DWF_OPTYPE_STEP, name, DWF_SUBTYPE_STEP, &r);
    if (rc == DWF_OK) {
        step_args a = {r.sid, r.id, name, DWF_SUBTYPE_STEP, body, frame, opts, NULL};
        rc = step_core(c, &a, r.op, out);
    }
    return dwf__op_end(c, &r, rc);
}

/* ---- wait ------------------------------------------------------------------------------ */
static int wait_seconds(dwf_ctx *c, const dwf__opref *r, const char *name, double seconds)
{
    int st = dwf__op_status(r->op);
    if (dwf_opstatus_terminal(st)) return DWF_OK;
    c->replaying = 0;
    if (st == DWF_OPSTATUS_NONE) {
        double s = ceil(seconds);
        if (!(s >= 1)) s = 1;
        cJSON *u = dwf__update_new(c, r->id, DWF_OPTYPE_WAIT, DWF_SUBTYPE_WAIT, DWF_ACTION_START, name);
        cJSON *wo = u ? cJSON_AddObjectToObject(u, "WaitOptions") : NULL;
        if (!wo || !cJSON_AddNumberToObject(wo, "WaitSeconds", s)) {
            cJSON_Delete(u);
            return oom(c);
        }
        DWF_TRY(dwf__checkpoint(c, u, 1));
        if (dwf_opstatus_terminal(dwf__op_status(dwf__op_get(c->inv, r->id)))) return DWF_OK;
    }
    return DWF_SUSPEND;
}

int dwf_wait(dwf_ctx *c, const char *name, double seconds)
{
    dwf__opref r;
    int rc = dwf__op_begin(c, "wait", DWF_OPTYPE_WAIT, name, DWF_SUBTYPE_WAIT, &r);
    if (rc == DWF_OK) rc = wait_seconds(c, &r, name, seconds);
    return dwf__op_end(c, &r, rc);
}

/* ISO-8601 ("2026-11-29T18:55:04.102Z", "...+02:00") to epoch ms; NAN when unreadable. */
static double parse_iso_ms(const char *s)
{
    int y, mo, d, h = 0, mi = 0, n = 0;
    double sec = 0;
    if (sscanf(s, "%d-%d-%d%n", &y, &mo, &d, &n) != 3) return NAN;
    const char *p = s + n;
    if (*p == 'T' || *p == ' ') {
        int m = 0;
        if (sscanf(p + 1, "%d:%d:%lf%n", &h, &mi, &sec, &m) != 3) return NAN;
        p += 1 + m;
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    double ms = (double)timegm(&tm) * 1000.0 + sec * 1000.0;
    if (*p == '+' || *p == '-') {
        int oh = 0, om = 0;
        if (sscanf(p + 1, "%d:%d", &oh, &om) < 1) return NAN;
        double off = (oh * 60.0 + om) * 60000.0;
        ms += *p == '+' ? -off : off;
    }
    return ms;
}

int dwf_wait_until(dwf_ctx *c, const char *name, dwf_val *when)
{
    double at = NAN;
    if (cJSON_IsNumber(when)) at = when->valuedouble;
    else if (cJSON_IsString(when)) at = parse_iso_ms(when->valuestring);
    if (isnan(at)) {
        return dwf_fail(c, "TypeError",
                        "wait until expects epoch milliseconds or an ISO-8601 timestamp");
    }
    double secs = (at - dwf__now_ms(c)) / 1000.0;
    return dwf_wait(c, name, secs < 1 ? 1 : secs);
}

/* ---- callbacks ------------------------------------------------------------------------- */
/* The CALLBACK operation: START it the first time; *cbid gets the id the service gave it. */
static int callback_op(dwf_ctx *c, const char *name, const dwf_callback_opts *opts,
                       const char **cbid)
{
    dwf__opref r;
    int rc = dwf__op_begin(c, "callback", DWF_OPTYPE_CALLBACK, name, DWF_SUBTYPE_CALLBACK, &r);
    if (rc == DWF_OK && !r.op) {
        c->replaying = 0;
        cJSON *u = dwf__update_new(c, r.id, DWF_OPTYPE_CALLBACK, DWF_SUBTYPE_CALLBACK,
                                   DWF_ACTION_START, name);
        cJSON *co = u ? cJSON_AddObjectToObject(u, "CallbackOptions") : NULL;
        int ok = co != NULL;
        if (ok && opts && opts->timeout_s > 0)
            ok = cJSON_AddNumberToObject(co, "TimeoutSeconds", ceil(opts->timeout_s)) != NULL;
        if (ok && opts && opts->heartbeat_s > 0)
            ok = cJSON_AddNumberToObject(co, "HeartbeatTimeoutSeconds", ceil(opts->heartbeat_s)) != NULL;
        if (!ok) cJSON_Delete(u);
        rc = ok ? dwf__checkpoint(c, u, 1) : oom(c);
        r.op = dwf__op_get(c->inv, r.id);
    }
    if (rc == DWF_OK) {
        *cbid = r.op ? r.op->callback_id : NULL;
        if (!*cbid)
            rc = dwf__fatal(c, "CallbackError", "the service gave callback \"%s\" no CallbackId",
                            r.sid);
    }
    return dwf__op_end(c, &r, rc);
}

int dwf_callback(dwf_ctx *c, const char *name, const dwf_callback_opts *opts, dwf_val **out)
{
    if (out) *out = NULL;
    const char *cbid = NULL;
    DWF_TRY(callback_op(c, name, opts, &cbid));
    cJSON *v = cJSON_CreateObject();
    if (!v || dwf__add_str(v, "id", cbid, 0) != 0) {
        cJSON_Delete(v);
        return oom(c);
    }
    v = dwf__adopt(c, v);
    if (!v) return oom(c);
    if (out) *out = v;
    return DWF_OK;
}

/* The outcome of a callback by id: its raw result string, its error, or "still waiting". */
static int await_id(dwf_ctx *c, const char *cbid, dwf_val **out)
{
    pthread_mutex_lock(&c->inv->mu);
    const dwf__op *op = dwf__map_get(&c->inv->callbacks, cbid);
    pthread_mutex_unlock(&c->inv->mu);
    if (!op) return dwf_fail(c, "CallbackError", "unknown callback id");
    int st = dwf__op_status(op);
    if (st == DWF_OPSTATUS_SUCCEEDED) {
        const char *r = op->result;
        /* the raw text the sender sent, in the value layer's string encoding */
        dwf_val *v = dwf__adopt(c, r ? dwf__new_string(r, strlen(r)) : cJSON_CreateNull());
        if (!v) return oom(c);
        if (out) *out = v;
        return DWF_OK;
    }
    if (st == DWF_OPSTATUS_STARTED || st == DWF_OPSTATUS_NONE) {
        c->replaying = 0;
        return DWF_SUSPEND;
    }
    const cJSON *e = op->error;
    const cJSON *m = e ? cJSON_GetObjectItemCaseSensitive(e, "ErrorMessage") : NULL;
    const char *type = st == DWF_OPSTATUS_TIMED_OUT ? "CallbackTimeoutError" : "CallbackExternalError";
    const char *msg = cJSON_IsString(m) ? m->valuestring
                      : st == DWF_OPSTATUS_TIMED_OUT ? "Callback timed out" : "Callback failed";
    cJSON *cause = e ? cJSON_Duplicate(e, 1) : NULL;
    cJSON *err = dwf__error_new(type, msg, cause);
    cJSON_Delete(cause);
    if (!err) return oom(c);
    const cJSON *data = e ? cJSON_GetObjectItemCaseSensitive(e, "ErrorData") : NULL;
    if (cJSON_IsString(data)) cJSON_AddStringToObject(err, "ErrorData", data->valuestring);
    dwf__set_error_obj(c, err);
    return DWF_ERROR;
}

int dwf_await(dwf_ctx *c, dwf_val *callback, dwf_val **out)
{
    if (out) *out = NULL;
    DWF_TRY(dwf__durable_guard(c, "await"));
    const cJSON *id = cJSON_IsObject(callback) ? cJSON_GetObjectItemCaseSensitive(callback, "id")
                                               : callback;
    if (!cJSON_IsString(id)) return dwf_fail(c, "TypeError", "await expects a callback");
    return await_id(c, id->valuestring, out);
}

/* ---- child contexts -------------------------------------------------------------------- */
/* A child that returned: SUCCEED with its value (none for undefined; over the payload limit,
 * an empty Payload and ReplayChildren). Nothing is checkpointed for a `recorded` context. */
static int child_succeeded(dwf_ctx *c, dwf_ctx *child, const dwf__opref *r, const char *name,
                           enum dwf_subtype subtype, int recorded, dwf_val *v, dwf_val **out)
{
    /* undefined (nothing returned): no Payload, and *out stays NULL for the caller */
    char *text = v ? dwf__to_json(v) : strdup("");
    if (!text) return oom(c);
    int big = strlen(text) > DWF_LIMIT_OPERATION_PAYLOAD;
    /* Built on the parent (its ParentId) but queued through the child, so a batch that
     * completed meanwhile drops it. */
    cJSON *u = dwf__update_new(c, r->id, DWF_OPTYPE_CONTEXT, subtype, DWF_ACTION_SUCCEED, name);
    int ok = u && (!v || dwf__add_str(u, "Payload", big ? "" : text, 0) == 0);
    if (ok && big) {
        cJSON *co = cJSON_AddObjectToObject(u, "ContextOptions");
        ok = co && cJSON_AddTrueToObject(co, "ReplayChildren");
    }
    int rc;
    if (!ok) {
        cJSON_Delete(u);
        rc = oom(c);
    } else {
        if (recorded) cJSON_Delete(u);
        rc = recorded ? DWF_OK : dwf__checkpoint(child, u, 0);
        if (rc == DWF_OK && v) rc = dwf__parse_payload(c, text, out);
    }
    free(text);
    return rc;
}

/* A child whose body failed: FAIL with its error; *err gets what the SDK throws, rebuilt from
 * the error it checkpointed (NULL unless DWF_ERROR is returned). */
static int child_failed_checkpoint(dwf_ctx *c, dwf_ctx *child, const dwf__opref *r,
                                   const char *name, enum dwf_subtype subtype, cJSON **err)
{
    cJSON *thrown = dwf__take_error_copy(child);
    cJSON *u = thrown ? update_with_error(c, r->id, DWF_OPTYPE_CONTEXT, subtype, DWF_ACTION_FAIL,
                                          name, thrown)
                      : NULL;
    int rc = u ? dwf__checkpoint(child, u, 0) : oom(c);
    if (rc == DWF_OK) {
        cJSON *w = dwf__wire_error(thrown);
        *err = w ? from_error_object(w) : NULL;
        cJSON_Delete(w);
        rc = *err ? DWF_ERROR : oom(c);
    }
    cJSON_Delete(thrown);
    return rc;
}

int dwf__run_child(dwf_ctx *c, const dwf__opref *r, const char *name, enum dwf_subtype subtype,
                   dwf__child_fn fn, void *arg, const int *cancel, int start_sent,
                   dwf_val **out, cJSON **err)
{
    *err = NULL;
    const dwf__op *op = r->op;
    int st = dwf__op_status(op);
    if (st == DWF_OPSTATUS_SUCCEEDED && !op->replay_children) {
        if (!op->result) return DWF_OK; /* undefined: *out stays NULL */
        return dwf__parse_payload(c, op->result, out);
    }
    if (st == DWF_OPSTATUS_FAILED) {
        *err = op->error ? from_error_object(op->error)
                         : dwf__error_new("StepError", "Child context failed", NULL);
        return *err ? DWF_ERROR : oom(c);
    }
    dwf_ctx *child = malloc(sizeof *child);
    if (!child) return oom(c);
    dwf__ctx_init(child, c->inv, c);
    child->step_id = strdup(r->sid);
    child->cancel = cancel;
    memcpy(child->parent_hash, r->id, sizeof r->id);
    child->replaying = op != NULL;
    if (!child->step_id) {
        free(child);
        return oom(c);
    }
    /* SUCCEEDED with ReplayChildren: the body runs again to rebuild its value from its
     * children's records, and nothing is checkpointed for the context itself. */
    int recorded = dwf_opstatus_terminal(st);
    int rc = DWF_OK;
    if (!op) c->replaying = 0;
    if (!op && !start_sent)
        rc = dwf__checkpoint(c, dwf__update_new(c, r->id, DWF_OPTYPE_CONTEXT, subtype,
                                                DWF_ACTION_START, name), 0);
    dwf_val *v = NULL;
    if (rc == DWF_OK) rc = fn(child, arg, &v);
    if (rc == DWF_RETURN) rc = DWF_OK;
    if (rc == DWF_OK && child->error) rc = DWF_ERROR; /* unchecked value-helper error */
    if (rc == DWF_OK) rc = child_succeeded(c, child, r, name, subtype, recorded, v, out);
    else if (rc == DWF_ERROR) rc = child_failed_checkpoint(c, child, r, name, subtype, err);
    free(child->step_id);
    free(child);
    return rc;
}

/* ---- group ----------------------------------------------------------------------------- */
typedef struct block_arg {
    dwf_fn body;
    void *frame;
} block_arg;

static int run_block(dwf_ctx *child, void *arg, dwf_val **out)
{
    block_arg *b = arg;
    void *frame = dwf__frame_copy(child, b->frame);
    if (b->frame && !frame) return oom(child);
    child->frame = frame;
    return b->body ? b->body(child, frame, out) : DWF_OK;
}

/* Give a failed child context's error (*err, the SDK's one-level rebuild) its full cause chain
 * from the records (dwf__chain_error). */
static void rechain(dwf_ctx *c, const char *sid, cJSON **err)
{
    cJSON *e = *err && sid ? dwf__chain_error(c, sid, *err) : NULL;
    if (!e) return;
    cJSON_Delete(*err);
    *err = e;
}

/* A child context's error as the caller sees it: always ChildContextError with the
 * (rebuilt) error nested, as runInChildContext throws it. Takes err. */
static int child_failed(dwf_ctx *c, cJSON *err)
{
    set_wrapped_error(c, "ChildContextError", err);
    cJSON_Delete(err);
    return DWF_ERROR;
}

int dwf_group(dwf_ctx *c, const char *name, dwf_fn body, void *frame, dwf_val **out)
{
    dwf_val *dummy = NULL;
    if (!out) out = &dummy;
    *out = NULL;
    block_arg b = {body, frame};
    cJSON *err = NULL;
    dwf__opref r;
    int rc = dwf__op_begin(c, "group", DWF_OPTYPE_CONTEXT, name, DWF_SUBTYPE_RUN_IN_CHILD_CONTEXT, &r);
    if (rc == DWF_OK)
        rc = dwf__run_child(c, &r, name, DWF_SUBTYPE_RUN_IN_CHILD_CONTEXT, run_block, &b, NULL, 0,
                            out, &err);
    if (rc == DWF_OK && !*out) rc = dwf__parse_payload(c, NULL, out); /* undefined -> null */
    if (rc == DWF_ERROR) rechain(c, r.sid, &err);
    rc = dwf__op_end(c, &r, rc);
    return rc == DWF_ERROR ? child_failed(c, err) : rc;
}

/* ---- waitForCallback ------------------------------------------------------------------- */
typedef struct wfc_arg {
    dwf_fn submitter;
    void *frame;
    const dwf_callback_opts *opts;
    dwf_step_opts sopts;
} wfc_arg;

static int run_wfc(dwf_ctx *child, void *arg, dwf_val **out)
{
    wfc_arg *w = arg;
    const char *cbid = NULL;
    DWF_TRY(callback_op(child, NULL, w->opts, &cbid)); /* CALLBACK S-1, no Name */
    dwf__opref r;                                     /* submitter STEP S-2, no Name */
    int rc = dwf__op_begin(child, "waitForCallback", DWF_OPTYPE_STEP, NULL, DWF_SUBTYPE_STEP, &r);
    if (rc == DWF_OK) {
        step_args a = {r.sid, r.id, NULL, DWF_SUBTYPE_STEP, w->submitter, w->frame, &w->sopts, cbid};
        dwf_val *ignored = NULL;
        rc = step_core(child, &a, r.op, &ignored);
    }
    rc = dwf__op_end(child, &r, rc);
    if (rc != DWF_OK) return rc;
    return await_id(child, cbid, out);
}

int dwf_wait_for_callback(dwf_ctx *c, const char *name, dwf_fn submitter, void *frame,
                          const dwf_callback_opts *opts, const dwf_retry *submit_retry,
                          dwf_val **out)
{
    dwf_val *dummy = NULL;
    if (!out) out = &dummy;
    *out = NULL;
    wfc_arg w = {submitter, frame, opts,
                 {submit_retry, DWF_AT_LEAST_ONCE, NULL, opts ? opts->submitter_timeout_s : 0}};
    cJSON *err = NULL;
    dwf__opref r;
    int rc = dwf__op_begin(c, "waitForCallback", DWF_OPTYPE_CONTEXT, name,
                           DWF_SUBTYPE_WAIT_FOR_CALLBACK, &r);
    if (rc == DWF_OK)
        rc = dwf__run_child(c, &r, name, DWF_SUBTYPE_WAIT_FOR_CALLBACK, run_wfc, &w, NULL, 0, out, &err);
    if (rc == DWF_OK && !*out) rc = dwf__parse_payload(c, NULL, out);
    if (rc == DWF_ERROR) rechain(c, r.sid, &err);
    rc = dwf__op_end(c, &r, rc);
    if (rc != DWF_ERROR) return rc;
    /* The SDK's errorMapper: callback errors pass through, a submitter StepError becomes
     * CallbackSubmitterError, anything else ChildContextError. */
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(err, "ErrorType");
    const char *type = cJSON_IsString(t) ? t->valuestring : "";
    if (!strcmp(type, "CallbackTimeoutError") || !strcmp(type, "CallbackExternalError") ||
        !strcmp(type, "CallbackError") || !strcmp(type, "CallbackSubmitterError")) {
        dwf__set_error_obj(c, err);
        return DWF_ERROR;
    }
    if (!strcmp(type, "StepError")) {
        set_wrapped_error(c, "CallbackSubmitterError", err);
        cJSON_Delete(err);
        return DWF_ERROR;
    }
    return child_failed(c, err);
}

/* ---- waitForCondition ------------------------------------------------------------------ */
typedef struct poll_args {
    const char *id, *name;
    dwf_item_fn check, until;
    void *frame;
    const dwf_poll_opts *opts;
} poll_args;

/* One check: `check` makes the new state from `state` (round-tripped through JSON, as the
 * SDK's serdes does), `until` says whether it is done. Runs on a step context. */
static int poll_check(dwf_ctx *c, const poll_args *p, int attempt, dwf_val *state,
                      dwf_val **next, dwf_val **done, cJSON **err)
{
    if (c->inv->opts && c->inv->opts->verify) return DWF_SUSPEND; /* verify never runs a check */
    DWF_TRY(dwf__checkpoint_barrier(c->inv)); /* an earlier deferred SUCCEED is durable first */
    dwf_ctx sc;
    dwf__step_ctx_init(&sc, c, attempt, p->id, p->name, NULL, p->frame);
    sc.token_round = attempt; /* each check is a new call: its aws idempotency tokens differ */
    dwf_val *idx = dwf__adopt(c, cJSON_CreateNumber(attempt));
    double timeout_s = p->opts ? p->opts->timeout_s : 0;
    int rc;
    if (timeout_s > 0) {
        timed_call k = {"poll check", p->id, p->name ? p->name : p->id, p->name, NULL, p->frame,
                        NULL, p->check, state, idx};
        rc = timed_run(c, &k, attempt, timeout_s, next, err);
        if (rc == DWF_ERROR) return DWF_OK; /* *err: the check failed */
    } else {
        rc = p->check ? p->check(&sc, p->frame, state, idx, next) : DWF_OK;
        if (rc == DWF_RETURN) rc = DWF_OK;
    }
    if (rc == DWF_OK && !sc.error) {
        char *text = dwf__to_json(*next);
        if (!text) return oom(c);
        rc = dwf__parse_payload(c, text, next);
        free(text);
        if (rc != DWF_OK) return rc;
        rc = p->until ? p->until(&sc, p->frame, *next, idx, done) : DWF_OK;
        if (rc == DWF_RETURN) rc = DWF_OK;
    }
    if (rc == DWF_FATAL || rc == DWF_SUSPEND) return rc;
    if (rc == DWF_ERROR || sc.error) *err = dwf__take_error_copy(&sc);
    return DWF_OK;
}

/* A check that failed (or ran out of attempts): FAIL without retries, and raise what the SDK
 * throws, fromErrorObject of the error it checkpointed. Takes err. */
static int poll_failed(dwf_ctx *c, const poll_args *p, cJSON *err)
{
    cJSON *u = update_with_error(c, p->id, DWF_OPTYPE_STEP, DWF_SUBTYPE_WAIT_FOR_CONDITION,
                                 DWF_ACTION_FAIL, p->name, err);
    int rc = u ? dwf__checkpoint(c, u, 1) : oom(c);
    if (rc == DWF_OK) rc = raise_recorded(c, err);
    cJSON_Delete(err);
    return rc;
}

/* A check that succeeded: SUCCEED with the state when done, else RETRY it after the next
 * delay of the wait strategy and suspend. */
static int poll_checked(dwf_ctx *c, const poll_args *p, int attempt, dwf_val *next, int finished,
                        dwf_val **out)
{
    const dwf_poll_opts *o = p->opts;
    double every = o && o->every_s > 0 ? o->every_s : 5;
    double backoff = o && o->backoff > 0 ? o->backoff : 1.5;
    double maxs = o && o->max_s > 0 ? o->max_s : 300;
    char *text = dwf__to_json(next);
    if (!text) return oom(c);
    cJSON *u = dwf__update_new(c, p->id, DWF_OPTYPE_STEP, DWF_SUBTYPE_WAIT_FOR_CONDITION,
                               finished ? DWF_ACTION_SUCCEED : DWF_ACTION_RETRY, p->name);
    int ok = u && dwf__add_str(u, "Payload", text, 0) == 0;
    if (ok && !finished) {
        double d = every * pow(backoff, attempt - 1);
        if (d > maxs) d = maxs;
        cJSON *so = cJSON_AddObjectToObject(u, "StepOptions");
        ok = so && cJSON_AddNumberToObject(so, "NextAttemptDelaySeconds",
                                           jittered(c->inv, d, o ? o->jitter : DWF_JITTER_FULL));
    }
    if (!ok) {
        cJSON_Delete(u);
        free(text);
        return oom(c);
    }
    int rc = dwf__checkpoint(c, u, 1);
    if (rc == DWF_OK) rc = finished ? dwf__parse_payload(c, text, out) : DWF_SUSPEND;
    free(text);
    return rc;
}

static int poll_core(dwf_ctx *c, const dwf__opref *r, const poll_args *p, dwf_val *initial_state,
                     dwf_val **out)
{
    const dwf__op *op = r->op;
    int st = dwf__op_status(op);
    if (st == DWF_OPSTATUS_SUCCEEDED) return dwf__parse_payload(c, op->result, out);
    if (st == DWF_OPSTATUS_FAILED)
        return raise_record(c, op, "WaitForConditionError", "waitForCondition failed");
    c->replaying = 0;
    if (st == DWF_OPSTATUS_PENDING) return DWF_SUSPEND;
    int attempt = (op ? op->attempt : 0) + 1;
    double timeout_s = p->opts ? p->opts->timeout_s : 0;
    if (st == DWF_OPSTATUS_STARTED && timeout_s > 0) {
        /* a check with a timeout whose invocation ended before it did counts as timed out, as
         * a step's attempt does (step_recorded) */
        char msg[300];
        snprintf(msg, sizeof msg, "poll check \"%s\" attempt %d did not finish: its invocation ended "
                 "first (timeout %gs)", p->name ? p->name : p->id, attempt, timeout_s);
        cJSON *err = dwf__error_new("StepTimeoutError", msg, NULL);
        return err ? poll_failed(c, p, err) : oom(c);
    }
    dwf_val *state = initial_state;
    if (op && op->result) DWF_TRY(dwf__parse_payload(c, op->result, &state));
    /* with a timeout the START is recorded before the check runs, so that a check its
     * invocation did not outlive is seen on replay */
    if (st != DWF_OPSTATUS_STARTED)
        DWF_TRY(dwf__checkpoint(c, dwf__update_new(c, p->id, DWF_OPTYPE_STEP,
                                                   DWF_SUBTYPE_WAIT_FOR_CONDITION,
                                                   DWF_ACTION_START, p->name), timeout_s > 0));
    dwf_val *next = NULL, *done = NULL;
    cJSON *err = NULL;
    DWF_TRY(poll_check(c, p, attempt, state, &next, &done, &err));
    int max_attempts = p->opts && p->opts->attempts > 0 ? p->opts->attempts : 60;
    if (!err && !truthy(done) && attempt >= max_attempts) {
        char msg[96];
        snprintf(msg, sizeof msg, "waitForCondition exceeded maximum attempts (%d)", max_attempts);
        err = dwf__error_new("Error", msg, NULL);
        if (!err) return oom(c);
    }
    if (err) return poll_failed(c, p, err);
    return poll_checked(c, p, attempt, next, truthy(done), out);
}

int dwf_poll(dwf_ctx *c, const char *name, dwf_item_fn check, dwf_item_fn until, void *frame,
             dwf_val *initial_state, const dwf_poll_opts *opts, dwf_val **out)
{
    dwf_val *dummy = NULL;
    if (!out) out = &dummy;
    *out = NULL;
    dwf__opref r;
    /* DWF_OPTYPE_NONE: waitForCondition skips the replay consistency check, as the SDK does. */
    int rc = dwf__op_begin(c, "poll", DWF_OPTYPE_NONE, name, DWF_SUBTYPE_WAIT_FOR_CONDITION, &r);
    if (rc == DWF_OK) {
        poll_args p = {r.id, name, check, until, frame, opts};
        rc = poll_core(c, &r, &p, initial_state, out);
    }
    return dwf__op_end(c, &r, rc);
}

/* ---- invoke ---------------------------------------------------------------------------- */
static int invoke_core(dwf_ctx *c, dwf__opref *r, const char *name, const char *function_name,
                       dwf_val *payload, dwf_val **out)
{
    if (!r->op) {
        c->replaying = 0;
        char *text = dwf__to_json(payload);
        cJSON *u = dwf__update_new(c, r->id, DWF_OPTYPE_CHAINED_INVOKE, DWF_SUBTYPE_CHAINED_INVOKE,
                                   DWF_ACTION_START, name);
        cJSON *io = NULL;
        int ok = text && u && dwf__add_str(u, "Payload", text, 0) == 0 &&
                 (io = cJSON_AddObjectToObject(u, "ChainedInvokeOptions")) &&
                 dwf__add_str(io, "FunctionName", function_name ? function_name : "", 0) == 0;
        free(text);
        if (!ok) {
            cJSON_Delete(u);
            return oom(c);
        }
        DWF_TRY(dwf__checkpoint(c, u, 1));
        r->op = dwf__op_get(c->inv, r->id);
    }
    const dwf__op *op = r->op;
    int st = dwf__op_status(op);
    if (st == DWF_OPSTATUS_SUCCEEDED) return dwf__parse_payload(c, op->result, out);
    if (!dwf_opstatus_terminal(st)) {
        c->replaying = 0;
        return DWF_SUSPEND;
    }
    cJSON *err = wrap_error("InvokeError", op->error, "Invoke failed");
    if (!err) return oom(c);
    dwf__set_error_obj(c, err);
    return DWF_ERROR;
}

int dwf_invoke(dwf_ctx *c, const char *name, const char *function_name, dwf_val *payload,
               double timeout_s, dwf_val **out)
{
    (void)timeout_s; /* the protocol has no per-invoke timeout: the target's own applies */
    dwf_val *dummy = NULL;
    if (!out) out = &dummy;
    *out = NULL;
    dwf__opref r;
    int rc = dwf__op_begin(c, "invoke", DWF_OPTYPE_CHAINED_INVOKE, name, DWF_SUBTYPE_CHAINED_INVOKE, &r);
    if (rc == DWF_OK) rc = invoke_core(c, &r, name, function_name, payload, out);
    return dwf__op_end(c, &r, rc);
}

/* ---- saga ------------------------------------------------------------------------------ */
static int comp_cmp(const void *a, const void *b)
{
    return dwf__step_id_cmp(((const dwf__comp *)a)->step_id, ((const dwf__comp *)b)->step_id);
}

/* One compensation, as a child context named compensate-<step name> on its frame's copy. */
static int run_compensation(dwf_ctx *root, const dwf__comp *cp)
{
    char *name = NULL;
    if (asprintf(&name, "compensate-%s", cp->name ? cp->name : cp->step_id) < 0) return oom(root);
    dwf__opref r;
    int rc = dwf__op_find(root, dwf__next_step_id(root), DWF_OPTYPE_CONTEXT, name,
                          DWF_SUBTYPE_RUN_IN_CHILD_CONTEXT, &r);
    block_arg b = {cp->fn, cp->frame};
    cJSON *err = NULL;
    dwf_val *ignored = NULL;
    if (rc == DWF_OK)
        rc = dwf__run_child(root, &r, name, DWF_SUBTYPE_RUN_IN_CHILD_CONTEXT, run_block, &b, NULL,
                            0, &ignored, &err);
    free(r.sid);
    free(name);
    cJSON_Delete(err); /* a failed compensation is recorded (CONTEXT FAILED); the rest still run */
    return rc == DWF_ERROR ? DWF_OK : rc;
}

int dwf__run_compensations(dwf_ctx *root)
{
    dwf__inv *inv = root->inv;
    /* Branches register from several threads, so registration order can differ between
     * invocations; ordering by step id keeps the compensations' own Ids deterministic. */
    pthread_mutex_lock(&inv->mu);
    if (inv->ncomps > 1) qsort(inv->comps, inv->ncomps, sizeof *inv->comps, comp_cmp);
    size_t n = inv->ncomps;
    dwf__comp *list = n ? malloc(n * sizeof *list) : NULL;
    if (list) memcpy(list, inv->comps, n * sizeof *list);
    pthread_mutex_unlock(&inv->mu);
    if (n && !list) return oom(root);
    int rc = DWF_OK;
    for (size_t k = n; k-- > 0 && rc == DWF_OK;) rc = run_compensation(root, &list[k]);
    free(list);
    return rc;
}
