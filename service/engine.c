/*
 * engine.c: the embedded engine, the loop the AWS service runs for a durable function, done
 * in-process on one machine.
 *
 * It owns no state: everything it knows it asks the service core, which keeps it in the
 * store. That is what lets `dwf run` be killed at any instant and `dwf resume` (another
 * process, later) carry on, and what lets `dwf callback succeed` in another terminal wake a
 * `dwf run` that is polling. The loop is: fire the timers that are due, invoke every
 * execution that needs it, and when nothing is runnable either stop (the execution ended, or
 * it only waits for the outside world) or wait for the next timer: sleep in short slices in
 * real time, or move this execution tree's own virtual clock straight to it under --skip-time. Deadlines
 * (callback, heartbeat and execution timeouts) are never jumped to: they only fire as time
 * really passes, since jumping to them would turn "wait for a human" into "time out at once".
 *
 * Each invocation runs on a thread of its own for at most the workflow's lambda { timeout },
 * as Lambda runs it: past that it is ended with Lambda's Sandbox.Timedout fault, which the
 * service retries like any fault. A stop (Ctrl-C, SIGTERM) ends it at its next checkpoint. A
 * step body that keeps running is abandoned, never waited for (docs/engine.md).
 */
#include "engine.h"
#include "dwf_protocol.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One invocation running on a thread of its own, shared by that thread and the engine until
 * both have let go (refs). The engine waits for its answer, for the workflow's invocation
 * timeout (lambda { timeout }, as Lambda ends an invocation), or for a stop (Ctrl-C,
 * SIGTERM). When it stops waiting before the answer, it abandons the thread: the thread may
 * still be inside a step body (user code, which cannot be cancelled), but from then on every
 * call it makes to the service is refused before reaching it, so it can change nothing; its
 * memory is its own and is freed when it ends, if ever before the process does. */
typedef struct inv_run {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int done;       /* the thread has finished: response, or fault */
    int abandoned;  /* the engine gave up on it */
    int in_call;    /* service calls and progress callbacks in progress */
    dwf_service *s;
    const dwf_workflow *wf;
    cJSON *event;
    char request_id[40];
    volatile int *stop;
    int quiet;
    void (*on_operation)(void *arg, const char *arn, const cJSON *op);
    void *progress_arg;
    dwf_mock_fn mock; /* dwf test's mock hook (dwf_engine_opts.mock) */
    void *mock_arg;
    char *arn;
    char **env;     /* the function's environment, owned: the thread may outlive the engine's caller */
    cJSON *response;
    dwf_error fault;
} inv_run;

static atomic_int abandoned_threads;

int dwf_engine_abandoned(void) { return atomic_load(&abandoned_threads); }

static void inv_run_release(inv_run *r)
{
    pthread_mutex_lock(&r->mu);
    int last = --r->refs == 0;
    pthread_mutex_unlock(&r->mu);
    if (!last) return;
    cJSON_Delete(r->event);
    cJSON_Delete(r->response);
    free(r->arn);
    for (char **e = r->env; e && *e; e++) free(*e);
    free(r->env);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Enter a call on behalf of the invocation's thread: refused once the engine abandoned it (or,
 * with `stopping`, once a stop was asked for: the invocation ends at its next checkpoint). */
static int call_enter(inv_run *r, int stopping, dwf_error *err)
{
    pthread_mutex_lock(&r->mu);
    int refused = r->abandoned || (stopping && r->stop && *r->stop);
    if (!refused) r->in_call++;
    pthread_mutex_unlock(&r->mu);
    if (refused && err) {
        snprintf(err->type, sizeof err->type, "Interrupted");
        snprintf(err->message, sizeof err->message, "the engine stopped this invocation (%s)",
                 r->abandoned ? "abandoned" : "interrupted");
    }
    return refused ? -1 : 0;
}

static void call_leave(inv_run *r)
{
    pthread_mutex_lock(&r->mu);
    /* Only an abandoning engine waits for the last call to leave (inv_wait): waking the
     * engine's thread on every call cost a context switch per checkpoint, operation and now(). */
    if (--r->in_call == 0 && r->abandoned) pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

/* A store that can no longer be trusted or written (deleted, replaced, read-only, full,
 * damaged): nothing this process does can be recorded, so it stops, and leaves the execution as
 * the store last had it (its invocation open, re-run once this process is gone). Reporting
 * the invocation as failed would be one more write that either fails too or, worse, counts a
 * full disk against the workflow. */
static int store_unusable(const dwf_error *e)
{
    switch ((enum dwf_errortype)dwf_errortype_parse(e->type)) {
    case DWF_ERRORTYPE_STORE_CORRUPT:
    case DWF_ERRORTYPE_STORE_REPLACED:
    case DWF_ERRORTYPE_STORE_READ_ONLY:
    case DWF_ERRORTYPE_STORE_FULL: return 1;
    default: return 0;
    }
}

/* Checkpoint errors that end the invocation (NULL from the runtime) rather than fail the
 * execution: the service's own trouble, not the workflow's. */
static int retryable_error(const dwf_error *e)
{
    switch ((enum dwf_errortype)dwf_errortype_parse(e->type)) {
    case DWF_ERRORTYPE_INVALID_PARAMETER_VALUE: return strncmp(e->message, "Invalid Checkpoint Token", 24) == 0;
    case DWF_ERRORTYPE_SERVICE:
    case DWF_ERRORTYPE_STORE_LOCKED:
    case DWF_ERRORTYPE_TOO_MANY_REQUESTS: return 1;
    default: return store_unusable(e);
    }
}

static int tr_checkpoint(dwf_transport *t, const char *arn, const cJSON *request, cJSON **response, dwf_error *err,
                         int *retryable)
{
    inv_run *r = t->impl;
    if (call_enter(r, 1, err) != 0) {
        if (retryable) *retryable = 1;
        return -1;
    }
    int rc = dwf_service_checkpoint(r->s, arn, request, response, err);
    call_leave(r);
    if (retryable) *retryable = rc != 0 && retryable_error(err);
    return rc;
}

static int tr_get_state(dwf_transport *t, const char *arn, const char *token, const char *marker, cJSON **response,
                        dwf_error *err)
{
    inv_run *r = t->impl;
    if (call_enter(r, 1, err) != 0) return -1;
    int rc = dwf_service_get_state(r->s, arn, token, marker, 1000, response, err);
    call_leave(r);
    return rc;
}

/* now() in the workflow: the execution's own clock, so under --skip-time it shows the time
 * the workflow lived through, and `wait until` measures from it. (A handler's timestamps are
 * on real time, service/rows.c; the .dwf runtime never compares them with now().) */
static double tr_now(dwf_transport *t)
{
    inv_run *r = t->impl;
    if (call_enter(r, 0, NULL) != 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000);
    }
    double now = dwf_service_now_of(r->s, r->arn);
    call_leave(r);
    return now;
}

static void on_op(void *arg, const cJSON *op)
{
    inv_run *r = arg;
    if (!r->on_operation || call_enter(r, 0, NULL) != 0) return;
    r->on_operation(r->progress_arg, r->arn, op);
    call_leave(r);
}

static void *inv_thread(void *arg)
{
    inv_run *r = arg;
    dwf_transport t = {tr_checkpoint, tr_get_state, tr_now, r};
    dwf_invoke_opts io = {.quiet = r->quiet, .request_id = r->request_id, .on_operation = on_op, .on_operation_arg = r,
                          .mock = r->mock, .mock_arg = r->mock_arg, .environment = (const char *const *)r->env};
    dwf_error fault = {{0}, {0}};
    cJSON *response = dwf_run_invocation(r->wf, r->event, &t, &io, &fault);
    /* This thread is detached, so the process may exit while it is still ending: OpenSSL would
     * free its per-thread state (the random generators RAND_bytes made for it) only in the
     * thread's exit handlers, racing the exit's own cleanup, and leak it. Freed here, before the
     * answer is given; the thread makes no OpenSSL call after this. */
    OPENSSL_thread_stop();
    pthread_mutex_lock(&r->mu);
    r->response = response;
    r->fault = fault;
    r->done = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    inv_run_release(r);
    return NULL;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

enum { INV_DONE, INV_TIMED_OUT, INV_STOPPED };

/* A stop is honoured at the invocation's next checkpoint; a step body that does not reach one
 * within this grace is abandoned. */
#define STOP_GRACE_MS 1000.0

/* Wait for the thread's answer, the invocation's deadline (deadline_ms on the monotonic clock,
 * 0 = none) or a stop. The stop flag is set by a signal handler, which cannot signal a
 * condition variable: the wait wakes every 50 ms to look at it. */
static int inv_wait(inv_run *r, double deadline_ms)
{
    double stop_by = 0;
    int outcome = INV_DONE;
    pthread_mutex_lock(&r->mu);
    while (!r->done) {
        double now = mono_ms();
        if (r->stop && *r->stop && stop_by == 0) stop_by = now + STOP_GRACE_MS;
        if (stop_by > 0 && now >= stop_by) {
            outcome = INV_STOPPED;
            break;
        }
        if (deadline_ms > 0 && now >= deadline_ms) {
            outcome = INV_TIMED_OUT;
            break;
        }
        double until = now + 50;
        if (deadline_ms > 0 && deadline_ms < until) until = deadline_ms;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double wait = until - now;
        ts.tv_sec += (time_t)(wait / 1000.0);
        ts.tv_nsec += (long)((wait - (double)(long)(wait / 1000.0) * 1000.0) * 1e6);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    if (outcome != INV_DONE) {
        /* Abandon it; a call already inside the service finishes first (a few milliseconds),
         * so the caller may close the service and unload the handler afterwards. */
        r->abandoned = 1;
        while (r->in_call > 0) pthread_cond_wait(&r->cv, &r->mu);
        atomic_fetch_add(&abandoned_threads, 1);
    }
    pthread_mutex_unlock(&r->mu);
    return outcome;
}

/* Run the invocation on its own thread; *response / *fault as dwf_run_invocation gives them,
 * or the fault of a timeout. Returns INV_DONE, INV_TIMED_OUT or INV_STOPPED. */
/* A copy of the function's environment ("NAME=VALUE", NULL-terminated): the host's record of it
 * (o->environment), else the workflow's own lambda { environment }, else none. Never the
 * engine's process environment: env() must read the same under `dwf run` and `dwf resume`. */
static char **environment_of(const dwf_workflow *wf, const char *fn, const dwf_engine_opts *o)
{
    const char *const *src = o->environment ? o->environment(o->resolve_arg, fn) : NULL;
    if (!src) src = wf->environment;
    size_t n = 0;
    while (src && src[n]) n++;
    char **env = calloc(n + 1, sizeof *env);
    for (size_t i = 0; env && i < n; i++)
        if (!(env[i] = strdup(src[i]))) {
            while (i > 0) free(env[--i]);
            free(env);
            return NULL;
        }
    return env;
}

static int run_on_thread(dwf_service *s, const char *arn, const dwf_workflow *wf, const char *fn, cJSON *event,
                         const char *request_id, const dwf_engine_opts *o, cJSON **response, dwf_error *fault)
{
    inv_run *r = calloc(1, sizeof *r);
    char *arn_copy = strdup(arn);
    char **env = environment_of(wf, fn, o);
    if (!r || !arn_copy || !env) {
        free(r);
        free(arn_copy);
        for (char **e = env; e && *e; e++) free(*e);
        free(env);
        cJSON_Delete(event);
        snprintf(fault->type, sizeof fault->type, "OutOfMemory");
        snprintf(fault->message, sizeof fault->message, "out of memory starting the invocation");
        return INV_DONE;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    r->refs = 2; /* the engine's and the thread's */
    r->s = s;
    r->wf = wf;
    r->event = event;
    r->stop = o->stop;
    r->quiet = o->quiet;
    r->on_operation = o->on_operation;
    r->progress_arg = o->progress_arg;
    r->mock = o->mock;
    r->mock_arg = o->mock_arg;
    r->arn = arn_copy;
    r->env = env;
    snprintf(r->request_id, sizeof r->request_id, "%s", request_id);
    double deadline = wf->timeout_s > 0 ? mono_ms() + wf->timeout_s * 1000.0 : 0;
    pthread_t th;
    if (pthread_create(&th, NULL, inv_thread, r) != 0) {
        r->refs = 1;
        inv_run_release(r);
        snprintf(fault->type, sizeof fault->type, "Runtime.Unavailable");
        snprintf(fault->message, sizeof fault->message, "cannot start a thread for the invocation");
        return INV_DONE;
    }
    pthread_detach(th);
    int outcome = inv_wait(r, deadline);
    if (outcome == INV_DONE) {
        *response = r->response;
        r->response = NULL;
        *fault = r->fault;
    } else if (outcome == INV_TIMED_OUT) {
        /* What Lambda (and dwf serve) record for an invocation past its timeout. */
        snprintf(fault->type, sizeof fault->type, "Sandbox.Timedout");
        snprintf(fault->message, sizeof fault->message, "Task timed out after %d.00 seconds", wf->timeout_s);
    }
    inv_run_release(r);
    return outcome;
}

static const char *json_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void environment_free(char **env)
{
    for (char **e = env; e && *e; e++) free(*e);
    free(env);
}

/* Would the execution's history replay cleanly on wf? 1 yes, 0 no (err says where), -1 error.
 * env() reads the function's environment there, as the invocation would. */
static int replays_on(dwf_service *s, const char *arn, const dwf_workflow *wf, const char *fn,
                      const dwf_engine_opts *o, const char *was, dwf_error *err)
{
    cJSON *ops = NULL;
    char **env = environment_of(wf, fn, o);
    if (!env) {
        snprintf(err->type, sizeof err->type, "OutOfMemory");
        snprintf(err->message, sizeof err->message, "out of memory reading the function's environment");
        return -1;
    }
    if (dwf_service_operations(s, arn, &ops, err) != 0) {
        environment_free(env);
        return -1;
    }
    dwf_verify_report rep;
    int outcome = dwf_verify_replay(wf, ops, (const char *const *)env, &rep, err);
    environment_free(env);
    cJSON_Delete(ops);
    cJSON_Delete(rep.lines);
    if (outcome < 0) return -1;
    if (outcome != DWF_VERIFY_DIVERGES) return 1;
    snprintf(err->type, sizeof err->type, "WorkflowChangedError");
    /* The SDK's sentence around the fact is long and says nothing here: keep the fact. */
    const char *fact = strstr(rep.message, "detected: ");
    fact = fact ? fact + 10 : rep.message;
    const char *tail = strstr(fact, " This indicates");
    int factlen = tail ? (int)(tail - fact) : (int)strlen(fact);
    const char *src = wf->source ? wf->source : wf->name;
    const char *id = strrchr(arn, '/');
    char msg[2048];
    snprintf(msg, sizeof msg,
             "execution %.64s started on another version of %.200s (workflow %.12s, now %.12s) and would "
             "diverge at line %d: %.*s `dwf verify %.200s` shows where; --force drives it anyway",
             id ? id + 1 : arn, src, was, wf->source_hash, rep.line, factlen > 400 ? 400 : factlen, fact, src);
    size_t n = strlen(msg) < sizeof err->message ? strlen(msg) : sizeof err->message - 1;
    memcpy(err->message, msg, n); /* the whole sentence when it fits, its start otherwise */
    err->message[n] = '\0';
    return 0;
}

/* An execution runs on the workflow version it started on. On another one (the .dwf changed
 * since), it is driven only when its history replays cleanly on this code, or with --force;
 * then the execution is recorded as running on this version. 0 go on, -1 refused or error. */
static int check_workflow(dwf_service *s, const char *arn, const dwf_workflow *wf, const char *fn,
                          const dwf_engine_opts *o, dwf_error *err)
{
    cJSON *w = NULL;
    if (!wf->source_hash || !*wf->source_hash) return 0;
    if (dwf_service_execution_workflow(s, arn, &w, err) != 0) return -1;
    const char *was = json_str(w, "WorkflowHash");
    int r = 0;
    if (was && strcmp(was, wf->source_hash) != 0) {
        char why[200];
        snprintf(why, sizeof why, "started on workflow %.12s; %s on %.12s", was,
                 o->force ? "--force: driven" : "its history replays cleanly", wf->source_hash);
        r = o->force ? 1 : replays_on(s, arn, wf, fn, o, was, err);
        if (r == 1) r = dwf_service_set_execution_workflow(s, arn, wf->source_hash, err);
        else r = -1;
        if (r == 0 && o->on_adopted) o->on_adopted(o->progress_arg, arn, why);
    }
    cJSON_Delete(w);
    return r;
}

int dwf_engine_invoke(dwf_service *s, const char *arn, const dwf_engine_opts *o, dwf_error *err)
{
    cJSON *event = NULL;
    char request_id[40];
    char fn0[256];
    dwf_error ignored;
    const dwf_workflow *wf0 = dwf_service_function_of(arn, fn0) == 0 ? o->resolve(o->resolve_arg, fn0, &ignored) : NULL;
    if (wf0 && check_workflow(s, arn, wf0, fn0, o, err) != 0) return -1;
    if (dwf_service_begin_invocation(s, arn, &event, request_id, err) != 0) return -1;
    double start = dwf_service_now(s);
    /* What changed outside the handler (a wait ended, a callback answered) is progress too. */
    const cJSON *upd = cJSON_GetObjectItemCaseSensitive(event, "UpdatedOperationIds");
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(event, "InitialExecutionState"),
                                                       "Operations");
    for (const cJSON *u = cJSON_IsArray(upd) && o->on_operation ? upd->child : NULL; u; u = u->next)
        for (const cJSON *op = cJSON_IsArray(ops) ? ops->child : NULL; op; op = op->next) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(op, "Id");
            if (cJSON_IsString(id) && cJSON_IsString(u) && strcmp(id->valuestring, u->valuestring) == 0)
                o->on_operation(o->progress_arg, arn, op);
        }
    dwf_error fault = {{0}, {0}};
    cJSON *response = NULL;
    char fn[256];
    const dwf_workflow *wf = NULL;
    if (dwf_service_function_of(arn, fn) != 0) {
        snprintf(fault.type, sizeof fault.type, "%s", dwf_errortype_name(DWF_ERRORTYPE_RESOURCE_NOT_FOUND));
        snprintf(fault.message, sizeof fault.message, "no function in the execution ARN %s", arn);
    } else {
        wf = o->resolve(o->resolve_arg, fn, &fault);
    }
    int outcome = INV_DONE;
    if (wf) outcome = run_on_thread(s, arn, wf, fn, event, request_id, o, &response, &fault);
    else cJSON_Delete(event);
    /* Stopped (Ctrl-C, SIGTERM) before it answered: the invocation stays open, as a killed
     * process leaves it, and is re-run by the next `dwf resume` once this process is gone. */
    if (!response && (outcome == INV_STOPPED || (o->stop && *o->stop))) return 0;
    if (!response && store_unusable(&fault)) {
        *err = fault;
        return -1;
    }
    if (o->on_invocation) o->on_invocation(o->progress_arg, arn, response, response ? NULL : &fault);
    int r = dwf_service_end_invocation(s, arn, request_id, start, response, response ? NULL : &fault, err);
    cJSON_Delete(response);
    return r;
}

static void sleep_ms(double ms)
{
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000.0), (long)((ms - (double)(time_t)(ms / 1000.0) * 1000.0) * 1e6)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int root_done(dwf_service *s, const char *root, int *done, dwf_error *err)
{
    cJSON *x = NULL;
    if (dwf_service_get_execution(s, root, 0, &x, err) != 0) return -1;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(x, "Status");
    *done = cJSON_IsString(st) && dwf_execstatus_parse(st->valuestring) != DWF_EXECSTATUS_RUNNING;
    cJSON_Delete(x);
    return 0;
}

/* Calls of plain functions under root: the engine runs only durable workflows compiled in, so
 * each fails at once with the reason, and its caller's CHAINED_INVOKE fails with it. */
static int fail_plain_calls(dwf_service *s, const char *root, dwf_error *err)
{
    cJSON *calls = NULL;
    if (dwf_service_calls_due(s, root, -1, &calls, err) != 0) return -1;
    int r = 0;
    for (const cJSON *c = calls->child; r == 0 && c; c = c->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "CallId");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "FunctionName");
        char msg[600];
        snprintf(msg, sizeof msg,
                 "Function %s is a plain (non-durable) Lambda function: the embedded engine runs only durable "
                 ".dwf workflows. Serve it with `dwf serve --function %s=DIR --no-durable` beside this workflow's zip.",
                 cJSON_IsString(fn) ? fn->valuestring : "?", cJSON_IsString(fn) ? fn->valuestring : "NAME");
        cJSON *eo = cJSON_CreateObject(), *taken = NULL;
        if (!eo || !cJSON_AddStringToObject(eo, "ErrorType", "ResourceNotFoundException") ||
            !cJSON_AddStringToObject(eo, "ErrorMessage", msg)) {
            cJSON_Delete(eo);
            snprintf(err->type, sizeof err->type, "ServiceException");
            snprintf(err->message, sizeof err->message, "out of memory");
            r = -1;
            break;
        }
        /* Taken first, so a call another process answered meanwhile is left alone. */
        if (dwf_service_call_begin(s, id->valuestring, &taken, err) == 0)
            r = dwf_service_call_end(s, id->valuestring, NULL, eo, err);
        cJSON_Delete(taken);
        cJSON_Delete(eo);
    }
    cJSON_Delete(calls);
    return r;
}

/* An invocation that could not begin because another process finished, stopped or took its
 * execution meanwhile: not the engine's error. */
static int lost_race(const dwf_error *err)
{
    int t = dwf_errortype_parse(err->type);
    return t == DWF_ERRORTYPE_INVALID_PARAMETER_VALUE || t == DWF_ERRORTYPE_RESOURCE_CONFLICT;
}

/* A refusal to drive an execution on a changed workflow that the caller collects (o->refused)
 * rather than ending the drive: recorded, told, and 1; else 0. */
static int note_refused(const dwf_engine_opts *o, const char *arn, const dwf_error *err)
{
    if (!o->refused || strcmp(err->type, "WorkflowChangedError") != 0) return 0;
    if (!cJSON_GetObjectItemCaseSensitive(o->refused, arn)) cJSON_AddTrueToObject(o->refused, arn);
    if (o->on_refused) o->on_refused(o->progress_arg, arn, err);
    return 1;
}

static int was_refused(const dwf_engine_opts *o, const char *arn)
{
    return o->refused && cJSON_GetObjectItemCaseSensitive(o->refused, arn) != NULL;
}

/* ---- several executions at once (dwf worker --concurrency N) ------------------------------ */
/* N threads take ARNs from a queue and run dwf_engine_invoke on each. The drive loop hands an
 * ARN over only when a thread is free, and an ARN stays in `busy` until its invocation has
 * ended, so one execution is driven by one thread at a time, even when the store lists it as
 * runnable again (an invocation running past stale_ms). The service handle serializes the
 * store calls (its mutex); the caller's hooks, written for one thread, are serialized here. */
typedef struct engine_pool {
    pthread_mutex_t mu;
    pthread_cond_t work;  /* an ARN was queued, or the pool is shutting down */
    pthread_cond_t ended; /* an invocation ended */
    pthread_mutex_t hook_mu;
    dwf_service *s;
    const dwf_engine_opts *user;
    dwf_engine_opts opts; /* the caller's, with resolve and the hooks serialized */
    cJSON *queue;         /* ARNs handed over, not yet taken by a thread */
    cJSON *busy;          /* ARN -> true while queued or running (at most nthreads) */
    int running;          /* entries in busy */
    int shutdown;
    int failed;
    dwf_error err;        /* the first error a thread met (failed) */
    int nthreads;
    pthread_t *threads;
} engine_pool;

static const dwf_workflow *pool_resolve(void *arg, const char *fn, dwf_error *err)
{
    engine_pool *p = arg;
    pthread_mutex_lock(&p->hook_mu);
    const dwf_workflow *wf = p->user->resolve(p->user->resolve_arg, fn, err);
    pthread_mutex_unlock(&p->hook_mu);
    return wf;
}

static void pool_on_operation(void *arg, const char *arn, const cJSON *op)
{
    engine_pool *p = arg;
    pthread_mutex_lock(&p->hook_mu);
    p->user->on_operation(p->user->progress_arg, arn, op);
    pthread_mutex_unlock(&p->hook_mu);
}

static void pool_on_invocation(void *arg, const char *arn, const cJSON *response, const dwf_error *fault)
{
    engine_pool *p = arg;
    pthread_mutex_lock(&p->hook_mu);
    p->user->on_invocation(p->user->progress_arg, arn, response, fault);
    pthread_mutex_unlock(&p->hook_mu);
}

static const char *const *pool_environment(void *arg, const char *fn)
{
    engine_pool *p = arg;
    pthread_mutex_lock(&p->hook_mu);
    const char *const *env = p->user->environment(p->user->resolve_arg, fn);
    pthread_mutex_unlock(&p->hook_mu);
    return env;
}

static void pool_on_adopted(void *arg, const char *arn, const char *why)
{
    engine_pool *p = arg;
    pthread_mutex_lock(&p->hook_mu);
    p->user->on_adopted(p->user->progress_arg, arn, why);
    pthread_mutex_unlock(&p->hook_mu);
}

static void *pool_thread(void *arg)
{
    engine_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->queue->child && !p->shutdown) pthread_cond_wait(&p->work, &p->mu);
        if (!p->queue->child) break;
        cJSON *a = cJSON_DetachItemViaPointer(p->queue, p->queue->child);
        pthread_mutex_unlock(&p->mu);
        dwf_error err = {{0}, {0}};
        int r = dwf_engine_invoke(p->s, a->valuestring, &p->opts, &err);
        pthread_mutex_lock(&p->mu);
        if (r != 0 && !lost_race(&err) && !note_refused(p->user, a->valuestring, &err) && !p->failed) {
            p->failed = 1;
            p->err = err;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(p->busy, a->valuestring);
        p->running--;
        pthread_cond_broadcast(&p->ended);
        cJSON_Delete(a);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* Let the threads finish what they run (a stop ends it within STOP_GRACE_MS), join them, free.
 * -1 with err filled if a thread met an error (err may be NULL: nothing to report). */
static int pool_free(engine_pool *p, dwf_error *err)
{
    if (!p) return 0;
    pthread_mutex_lock(&p->mu);
    while (p->queue && p->queue->child) {
        cJSON *a = cJSON_DetachItemViaPointer(p->queue, p->queue->child);
        cJSON_DeleteItemFromObjectCaseSensitive(p->busy, a->valuestring);
        p->running--;
        cJSON_Delete(a);
    }
    p->shutdown = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nthreads; i++) pthread_join(p->threads[i], NULL);
    int failed = p->failed;
    if (failed && err) *err = p->err;
    cJSON_Delete(p->queue);
    cJSON_Delete(p->busy);
    free(p->threads);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->ended);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->hook_mu);
    free(p);
    return failed ? -1 : 0;
}

static int pool_new(dwf_service *s, const dwf_engine_opts *o, engine_pool **out, dwf_error *err)
{
    engine_pool *p = calloc(1, sizeof *p);
    if (p) {
        pthread_mutex_init(&p->mu, NULL);
        pthread_mutex_init(&p->hook_mu, NULL);
        pthread_cond_init(&p->work, NULL);
        pthread_cond_init(&p->ended, NULL);
        p->s = s;
        p->user = o;
        p->opts = *o;
        p->opts.resolve = pool_resolve;
        p->opts.resolve_arg = p;
        /* Every hook called with resolve_arg or progress_arg must be wrapped: both are the pool. */
        p->opts.environment = o->environment ? pool_environment : NULL;
        p->opts.on_adopted = o->on_adopted ? pool_on_adopted : NULL;
        p->opts.on_operation = o->on_operation ? pool_on_operation : NULL;
        p->opts.on_invocation = o->on_invocation ? pool_on_invocation : NULL;
        p->opts.progress_arg = p;
        p->queue = cJSON_CreateArray();
        p->busy = cJSON_CreateObject();
        p->threads = calloc((size_t)o->concurrency, sizeof *p->threads);
    }
    if (!p || !p->queue || !p->busy || !p->threads) {
        pool_free(p, NULL);
        snprintf(err->type, sizeof err->type, "ServiceException");
        snprintf(err->message, sizeof err->message, "out of memory starting %d engine threads", o->concurrency);
        return -1;
    }
    for (; p->nthreads < o->concurrency; p->nthreads++)
        if (pthread_create(&p->threads[p->nthreads], NULL, pool_thread, p) != 0) break;
    if (p->nthreads == 0) {
        pool_free(p, NULL);
        snprintf(err->type, sizeof err->type, "ServiceException");
        snprintf(err->message, sizeof err->message, "cannot start engine threads");
        return -1;
    }
    *out = p;
    return 0;
}

/* Wait (with p->mu held) until an invocation ends, at most ms milliseconds. The stop flag is
 * set by a signal handler, which cannot signal a condition variable: callers wait in short
 * slices and look at it between them. */
static void pool_wait_ended(engine_pool *p, double ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(ms * 1e6);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_cond_timedwait(&p->ended, &p->mu, &ts);
}

/* Hand arn to a free thread, waiting for one; 1 if handed over, 0 if it is being driven already
 * (or a stop came first), -1 if a thread failed. */
static int pool_dispatch(engine_pool *p, const char *arn, const dwf_engine_opts *o)
{
    pthread_mutex_lock(&p->mu);
    int r = 0;
    while (!p->failed && p->running >= p->nthreads && !(o->stop && *o->stop)) pool_wait_ended(p, 50);
    if (p->failed) r = -1;
    else if (o->stop && *o->stop) r = 0;
    else if (!cJSON_GetObjectItemCaseSensitive(p->busy, arn) && !was_refused(o, arn)) {
        cJSON *a = cJSON_CreateString(arn);
        if (a && cJSON_AddTrueToObject(p->busy, arn)) {
            cJSON_AddItemToArray(p->queue, a);
            p->running++;
            pthread_cond_signal(&p->work);
            r = 1;
        } else {
            cJSON_Delete(a);
        }
    }
    pthread_mutex_unlock(&p->mu);
    return r;
}

/* Nothing new to hand over: wait up to ms for a running invocation to end. 1 if some were
 * running (the loop should look again), 0 if none runs, -1 if a thread failed. */
static int pool_wait_any(engine_pool *p, double ms)
{
    pthread_mutex_lock(&p->mu);
    int running = p->running;
    if (running > 0 && !p->failed) pool_wait_ended(p, ms < 50 ? ms : 50);
    int r = p->failed ? -1 : running > 0;
    pthread_mutex_unlock(&p->mu);
    return r;
}

/* Invoke every execution of `run`: here, one after another, or through the pool's threads.
 * How many were invoked or handed over, or -1 with err filled. */
static int invoke_runnable(dwf_service *s, const cJSON *run, const dwf_engine_opts *o, engine_pool *pool,
                           dwf_error *err)
{
    int n = 0;
    for (const cJSON *a = run->child; a; a = a->next) {
        if (o->stop && *o->stop) break;
        if (pool) {
            int r = pool_dispatch(pool, a->valuestring, o);
            if (r < 0) {
                *err = pool->err;
                return -1;
            }
            n += r;
            continue;
        }
        if (was_refused(o, a->valuestring)) continue;
        n++;
        if (dwf_engine_invoke(s, a->valuestring, o, err) != 0 && !lost_race(err) &&
            !note_refused(o, a->valuestring, err))
            return -1;
    }
    return n;
}

static int drive_loop(dwf_service *s, const char *root, const dwf_engine_opts *o, engine_pool *pool, dwf_error *err)
{
    double slice = o->slice_ms > 0 ? o->slice_ms : 200;
    for (;;) {
        if (o->stop && *o->stop) return DWF_ENGINE_WAITING;
        if (dwf_service_fire_timers(s, root, NULL, err) != 0) return -1;
        if (fail_plain_calls(s, root, err) != 0) return -1;
        cJSON *run = NULL;
        if (dwf_service_runnable(s, root, o->stale_ms, &run, err) != 0) return -1;
        int n = invoke_runnable(s, run, o, pool, err);
        cJSON_Delete(run);
        if (n < 0) return -1;
        if (n > 0) continue;
        /* Invocations still running on the pool's threads: their ends are what comes next. */
        int w = pool ? pool_wait_any(pool, slice) : 0;
        if (w < 0) {
            *err = pool->err;
            return -1;
        }
        if (w > 0) continue;
        if (root) {
            int done = 0;
            if (root_done(s, root, &done, err) != 0) return -1;
            if (done) return DWF_ENGINE_DONE;
        }
        double due;
        if (dwf_service_next_due(s, root, 0, &due, err) != 0) return -1;
        if (due < 0) return root ? DWF_ENGINE_WAITING : DWF_ENGINE_DONE;
        double now = dwf_service_now(s);
        /* Due now and nothing was invoked: what is due was refused (no pool thread runs now). */
        if (due <= now && o->refused && o->refused->child) return DWF_ENGINE_WAITING;
        if (due <= now) continue;
        if (o->skip_time) {
            /* This tree's own clock only (an injected clock does not jump). */
            int moved = 0;
            if (dwf_service_skip_time(s, root, &moved, err) != 0) return -1;
            if (moved) continue;
        }
        if (o->no_wait) return DWF_ENGINE_WAITING;
        sleep_ms(due - now < slice ? due - now : slice);
    }
}

int dwf_engine_drive(dwf_service *s, const char *root, const dwf_engine_opts *o, dwf_error *err)
{
    engine_pool *pool = NULL;
    if (o->concurrency > 1 && pool_new(s, o, &pool, err) != 0) return -1;
    int r = drive_loop(s, root, o, pool, err);
    /* An error a thread met while the loop was ending still counts. */
    if (pool_free(pool, r < 0 ? NULL : err) != 0) r = -1;
    return r;
}
