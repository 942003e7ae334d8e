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
 * real time, or move the store's virtual clock straight to it under --skip-time. Deadlines
 * (callback, heartbeat and execution timeouts) are never jumped to: they only fire as time
 * really passes, since jumping to them would turn "wait for a human" into "time out at once".
 */
#include "engine.h"
#include "dwf_protocol.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

typedef struct transport_impl {
    dwf_service *s;
    const dwf_engine_opts *o;
    const char *arn;
} transport_impl;

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
    transport_impl *ti = t->impl;
    int r = dwf_service_checkpoint(ti->s, arn, request, response, err);
    if (retryable) *retryable = r != 0 && retryable_error(err);
    return r;
}

static int tr_get_state(dwf_transport *t, const char *arn, const char *token, const char *marker, cJSON **response,
                        dwf_error *err)
{
    transport_impl *ti = t->impl;
    return dwf_service_get_state(ti->s, arn, token, marker, 1000, response, err);
}

static double tr_now(dwf_transport *t)
{
    transport_impl *ti = t->impl;
    return dwf_service_now(ti->s);
}

static void on_op(void *arg, const cJSON *op)
{
    transport_impl *ti = arg;
    if (ti->o->on_operation) ti->o->on_operation(ti->o->progress_arg, ti->arn, op);
}

int dwf_engine_invoke(dwf_service *s, const char *arn, const dwf_engine_opts *o, dwf_error *err)
{
    cJSON *event = NULL;
    char request_id[40];
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
    if (wf) {
        transport_impl ti = {s, o, arn};
        dwf_transport t = {tr_checkpoint, tr_get_state, tr_now, &ti};
        dwf_invoke_opts io = {o->quiet, request_id, on_op, &ti};
        response = dwf_run_invocation(wf, event, &t, &io, &fault);
    }
    cJSON_Delete(event);
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

int dwf_engine_drive(dwf_service *s, const char *root, const dwf_engine_opts *o, dwf_error *err)
{
    double slice = o->slice_ms > 0 ? o->slice_ms : 200;
    for (;;) {
        if (o->stop && *o->stop) return DWF_ENGINE_WAITING;
        if (dwf_service_fire_timers(s, root, NULL, err) != 0) return -1;
        cJSON *run = NULL;
        if (dwf_service_runnable(s, root, o->stale_ms, &run, err) != 0) return -1;
        int n = cJSON_GetArraySize(run);
        for (cJSON *a = run->child; a; a = a->next) {
            if (o->stop && *o->stop) break;
            if (dwf_engine_invoke(s, a->valuestring, o, err) != 0) {
                /* Another process may have finished, stopped or taken it meanwhile: not our error. */
                int t = dwf_errortype_parse(err->type);
                if (t != DWF_ERRORTYPE_INVALID_PARAMETER_VALUE && t != DWF_ERRORTYPE_RESOURCE_CONFLICT) {
                    cJSON_Delete(run);
                    return -1;
                }
            }
        }
        cJSON_Delete(run);
        if (n > 0) continue;
        if (root) {
            int done = 0;
            if (root_done(s, root, &done, err) != 0) return -1;
            if (done) return DWF_ENGINE_DONE;
        }
        double due;
        if (dwf_service_next_due(s, root, 0, &due, err) != 0) return -1;
        if (due < 0) return root ? DWF_ENGINE_WAITING : DWF_ENGINE_DONE;
        double now = dwf_service_now(s);
        if (due <= now) continue;
        if (o->skip_time) {
            if (dwf_service_advance_clock(s, due, err) != 0) return -1;
            if (dwf_service_now(s) >= due) continue; /* an injected clock does not jump */
        }
        if (o->no_wait) return DWF_ENGINE_WAITING;
        sleep_ms(due - now < slice ? due - now : slice);
    }
}
