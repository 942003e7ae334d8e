/*
 * invoke_api.c: the Invoke API (POST /2015-03-31/functions/{FunctionName}/invocations), which
 * starts a durable execution, as `aws lambda invoke` and the SDKs' InvokeCommand call it, or
 * runs a plain (non-durable) function's handler once with the payload as its event.
 *
 * The request is checked the way Lambda checks it, before anything starts: the function name
 * (a name, name:qualifier, or a full or partial ARN), that the function exists, that the name is
 * qualified (durable functions cannot be invoked unqualified), the invocation type, an Event
 * payload's 256 KB limit, and that the payload is JSON. Then the service starts the execution
 * (X-Amz-Durable-Execution-Name is its idempotency key) and the scheduler runs it. Event
 * answers 202 at once; RequestResponse waits for the execution's end (at most 15 minutes) and
 * answers its result, or a failed execution as Lambda answers a function error.
 *
 * Concurrency (scheduler.c): a RequestResponse invocation needs an execution environment now, so
 * one that finds its function or the account at its limit is answered 429
 * TooManyRequestsException before anything starts, as Lambda throttles it; an Event invocation
 * waits in the function's queue, as Lambda's event queue holds it.
 */
#include "emu.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dwf_protocol.h"

#define SYNC_INVOKE_MAX_MS (15 * 60 * 1000.0)
/* How often a waiting RequestResponse call re-reads its execution unprompted (see invoke_wait). */
#define WAIT_RECHECK_MS 5000.0

/* Split a FunctionName (name, name:qual, arn:aws:lambda:r:a:function:name[:qual],
 * a:function:name[:qual]). 0, or -1 when it is none of these. */
int dwf__emu_split_function_name(const char *in, char name[256], char qual[160])
{
    const char *p = in;
    const char *f = strstr(in, "function:");
    if (f && (f == in || f[-1] == ':')) p = f + 9;
    else if (strchr(in, ':') && strncmp(in, "arn:", 4) == 0) return -1;
    size_t n = strcspn(p, ":");
    if (n == 0 || n > 255) return -1;
    memcpy(name, p, n);
    name[n] = '\0';
    qual[0] = '\0';
    if (p[n] == ':') {
        if (strlen(p + n + 1) >= 160 || !p[n + 1] || strchr(p + n + 1, ':')) return -1;
        snprintf(qual, 160, "%s", p + n + 1);
    }
    return 0;
}

/* The served function a FunctionName names. NULL with err (400 or 404, Lambda's messages). */
emu_fn *dwf__emu_function_of(emu_request *r, const char *label, char name[256], char qual[160], dwf_error *err)
{
    dwf_emulator *e = r->emu;
    if (dwf__emu_split_function_name(label, name, qual) != 0) {
        dwf__emu_fail(err, "ValidationException",
                      "1 validation error detected: Value at 'functionName' failed to satisfy constraint");
        return NULL;
    }
    const char *qq = dwf__emu_query(r, "Qualifier");
    if (qq && *qq) {
        if (qual[0] && strcmp(qual, qq) != 0) {
            dwf__emu_fail(err, "InvalidParameterValueException",
                          "The derived qualifier from the function name does not match the specified qualifier.");
            return NULL;
        }
        snprintf(qual, 160, "%s", qq);
    }
    /* A qualifier ends up in the execution's ARN: only what a version or alias name may hold. */
    if (qual[0] && strspn(qual, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789$_-") != strlen(qual)) {
        dwf__emu_fail(err, "ValidationException",
                      "1 validation error detected: Value '%s' at 'qualifier' failed to satisfy constraint: Member "
                      "must satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)", qual);
        return NULL;
    }
    pthread_mutex_lock(&e->mu);
    emu_fn *f = dwf__emu_fn_find(e, name, qual);
    pthread_mutex_unlock(&e->mu);
    if (!f)
        dwf__emu_fail(err, "ResourceNotFoundException", "Function not found: arn:aws:lambda:%s:%s:function:%s%s%s",
                      e->region, e->account, name, qual[0] ? ":" : "", qual);
    return f;
}

/* Everything Lambda checks before it starts anything. 0 with *type and *fn, or -1 with err. */
static int invoke_check(emu_request *r, char name[256], char qual[160], const char **type, emu_fn **fn,
                        dwf_error *err)
{
    emu_fn *f = *fn = dwf__emu_function_of(r, r->label[0], name, qual, err);
    if (!f) return -1;
    if (!qual[0] && !f->plain)
        return dwf__emu_fail(err, "InvalidParameterValueException",
                             "You cannot invoke a durable function using an unqualified ARN.");
    if (f->plain && dwf__emu_header(r, "X-Amz-Durable-Execution-Name"))
        return dwf__emu_fail(err, "InvalidParameterValueException",
                             "DurableExecutionName is only supported for durable functions: %s has no DurableConfig.",
                             name);
    const char *t = dwf__emu_header(r, "X-Amz-Invocation-Type");
    *type = t && *t ? t : "RequestResponse";
    if (strcmp(*type, "RequestResponse") != 0 && strcmp(*type, "Event") != 0 && strcmp(*type, "DryRun") != 0)
        return dwf__emu_fail(err, "InvalidParameterValueException", "Unsupported invocation type.");
    if (strcmp(*type, "Event") == 0 && r->len > DWF_LIMIT_ASYNC_PAYLOAD)
        return dwf__emu_fail(err, "RequestEntityTooLargeException",
                             "%zu byte payload is too large for the Event invocation type (limit %d bytes)", r->len,
                             DWF_LIMIT_ASYNC_PAYLOAD);
    /* An empty payload is allowed (the execution's input is then "{}"); anything else must be JSON. */
    cJSON *payload = r->len ? dwf__emu_parse_json(r->body, r->len) : NULL;
    int bad = r->len && !payload;
    cJSON_Delete(payload);
    if (bad)
        return dwf__emu_fail(err, "InvalidRequestContentException",
                             "Could not parse request body into json: Could not parse payload into json: the payload is "
                             "not one JSON value");
    return 0;
}

/* Over the concurrency limit: 429 as Lambda answers a throttled synchronous invocation (the SDKs
 * retry it as a throttling error). */
static enum MHD_Result invoke_throttled(emu_request *r, const char *name, const char *reason)
{
    dwf_emulator *e = r->emu;
    if (!e->o.quiet) dwf__emu_log(e, "%s: Invoke (RequestResponse) throttled: %s", name, reason);
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "Reason", reason);
    cJSON_AddStringToObject(b, "Type", "User");
    cJSON_AddStringToObject(b, "message", "Rate Exceeded.");
    const char *h[] = {"X-Amzn-ErrorType", "TooManyRequestsException", "Retry-After", "1", NULL};
    enum MHD_Result res = dwf__emu_reply_json(r, 429, b, h);
    cJSON_Delete(b);
    return res;
}

/* Start the execution. Its ARN (a new string), or NULL with err. */
static char *invoke_start(emu_request *r, const char *name, dwf_error *err)
{
    const char *xname = dwf__emu_header(r, "X-Amz-Durable-Execution-Name");
    cJSON *req = cJSON_CreateObject(), *out = NULL;
    if (!req || !cJSON_AddStringToObject(req, "FunctionName", name) ||
        (r->len && !cJSON_AddStringToObject(req, "Input", r->body)) ||
        (xname && !cJSON_AddStringToObject(req, "DurableExecutionName", xname))) {
        cJSON_Delete(req);
        dwf__emu_fail(err, "ServiceException", "out of memory");
        return NULL;
    }
    int rc = dwf_service_start(r->emu->svc, req, &out, err);
    cJSON_Delete(req);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(out, "DurableExecutionArn");
    char *arn = rc == 0 && cJSON_IsString(a) ? strdup(a->valuestring) : NULL;
    cJSON_Delete(out);
    if (rc == 0 && !arn) dwf__emu_fail(err, "ServiceException", "the service returned no execution ARN");
    return arn;
}

/* Wait for the execution to end. 0 with *x (GetDurableExecution's answer), 1 when the wait is
 * over (15 minutes, or the emulator stops), -1 with err. The waiter is woken when the
 * emulator applies something that may end this execution (emulator.c); what it cannot see
 * (an execution timeout fired among other timers, `dwf stop` from another process on the
 * store) is caught by a slow re-read. Each read is of this execution only. */
static int invoke_wait(dwf_emulator *e, const char *arn, cJSON **x, dwf_error *err)
{
    double until = dwf__emu_mono_ms() + SYNC_INVOKE_MAX_MS;
    emu_waiter w = {.arn = arn};
    pthread_cond_init(&w.cv, NULL);
    pthread_mutex_lock(&e->mu);
    dwf__emu_waiter_add(e, &w);
    pthread_mutex_unlock(&e->mu);
    int rc;
    for (;;) {
        if (dwf_service_get_execution(e->svc, arn, 0, x, err) != 0) {
            rc = -1;
            break;
        }
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(*x, "Status");
        int running = cJSON_IsString(st) && strcmp(st->valuestring, "RUNNING") == 0;
        cJSON_Delete(*x);
        *x = NULL;
        if (!running) {
            rc = dwf_service_get_execution(e->svc, arn, 1, x, err) == 0 ? 0 : -1;
            break;
        }
        double left = until - dwf__emu_mono_ms();
        pthread_mutex_lock(&e->mu);
        if (!w.woken && !e->stopping && left > 0) {
            struct timespec ts;
            double ms = left < WAIT_RECHECK_MS ? left : WAIT_RECHECK_MS;
            clock_gettime(CLOCK_REALTIME, &ts);
            long long ns = (long long)ts.tv_nsec + (long long)(ms * 1e6);
            ts.tv_sec += (time_t)(ns / 1000000000LL);
            ts.tv_nsec = (long)(ns % 1000000000LL);
            pthread_cond_timedwait(&w.cv, &e->mu, &ts);
        }
        w.woken = 0;
        int stop = e->stopping;
        pthread_mutex_unlock(&e->mu);
        if (stop || dwf__emu_mono_ms() > until) {
            rc = 1;
            break;
        }
    }
    pthread_mutex_lock(&e->mu);
    dwf__emu_waiter_remove(e, &w);
    pthread_mutex_unlock(&e->mu);
    pthread_cond_destroy(&w.cv);
    return rc;
}

/* The answer to a RequestResponse Invoke whose execution ended: the result, or a failed
 * execution as a function error (200 with X-Amz-Function-Error), as Lambda answers. */
static enum MHD_Result invoke_answer(emu_request *r, const char *arn, const char *qual, const cJSON *x)
{
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(x, "Status");
    if (strcmp(st->valuestring, "SUCCEEDED") == 0) {
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(x, "Result");
        const char *body = cJSON_IsString(rs) ? rs->valuestring : "null";
        const char *h[] = {"X-Amz-Durable-Execution-Arn", arn, "X-Amz-Executed-Version", qual, NULL};
        return dwf__emu_reply(r, 200, "application/json", body, strlen(body), h);
    }
    const cJSON *eo = cJSON_GetObjectItemCaseSensitive(x, "Error");
    const cJSON *et = cJSON_GetObjectItemCaseSensitive(eo, "ErrorType");
    const cJSON *em = cJSON_GetObjectItemCaseSensitive(eo, "ErrorMessage");
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "errorType", cJSON_IsString(et) ? et->valuestring : st->valuestring);
    cJSON_AddStringToObject(b, "errorMessage", cJSON_IsString(em) ? em->valuestring : st->valuestring);
    const char *h[] = {"X-Amz-Durable-Execution-Arn", arn, "X-Amz-Executed-Version", qual,
                       "X-Amz-Function-Error", "Unhandled", NULL};
    enum MHD_Result res = dwf__emu_reply_json(r, 200, b, h);
    cJSON_Delete(b);
    return res;
}

/* Still running after the wait: 408, and the execution goes on. */
static enum MHD_Result invoke_timed_out(emu_request *r, const char *name, const char *arn)
{
    char msg[700];
    snprintf(msg, sizeof msg, "The synchronous invocation of %s did not finish in time; it goes on (%s).", name, arn);
    const char *h[] = {"X-Amz-Durable-Execution-Arn", arn, NULL};
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "Type", "User");
    cJSON_AddStringToObject(b, "message", msg);
    enum MHD_Result res = dwf__emu_reply_json(r, 408, b, h);
    cJSON_Delete(b);
    return res;
}

/* ---- plain functions --------------------------------------------------------------------------- */

/* Queue a direct invocation of plain function f with the request's payload; d (may be NULL:
 * Event) is where the caller waits, and a waiting caller must be admitted under the concurrency
 * limits first. 0, 1 throttled (*reason says why), or -1 when out of memory. */
static int plain_queue(emu_request *r, emu_fn *f, emu_direct *d, const char **reason)
{
    dwf_emulator *e = r->emu;
    emu_job *j = dwf__emu_job_new(EMU_JOB_DIRECT, NULL);
    if (!j || !(j->payload = r->len ? strndup(r->body, r->len) : strdup("{}"))) {
        dwf__emu_job_free(j);
        return -1;
    }
    j->direct = d;
    pthread_mutex_lock(&e->mu);
    int rc;
    if (!d) rc = dwf__emu_queue_push(f, j);
    else if (dwf__emu_sync_admit(f, reason)) rc = dwf__emu_sync_queued(f, j);
    else {
        j->direct = NULL; /* the caller's, not the job's */
        dwf__emu_job_free(j);
        rc = 1;
    }
    if (rc == 0) dwf__emu_kick(e);
    pthread_mutex_unlock(&e->mu);
    return rc;
}

/* Wait for d's answer: 0 answered, 1 the emulator stops (d is then abandoned to the job). The
 * invocation's own timeout bounds the wait: the scheduler kills a process past its deadline,
 * and that fault answers d. */
static int plain_wait(dwf_emulator *e, emu_direct *d)
{
    pthread_mutex_lock(&e->mu);
    while (!d->done && !e->stopping) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&d->cv, &e->mu, &ts);
    }
    int done = d->done;
    if (!done) d->abandoned = 1;
    pthread_mutex_unlock(&e->mu);
    return done ? 0 : 1;
}

/* A plain function: the payload is the event and the handler's answer comes back as it is, an
 * error as Lambda reports a function error (200, X-Amz-Function-Error: Unhandled, the runtime's
 * {"errorType","errorMessage",...}). No durable execution is created. */
static enum MHD_Result invoke_plain(emu_request *r, emu_fn *f, const char *type)
{
    dwf_emulator *e = r->emu;
    const char *h_ok[] = {"X-Amz-Executed-Version", f->qualifier, NULL};
    const char *reason = NULL;
    if (strcmp(type, "Event") == 0) {
        if (plain_queue(r, f, NULL, &reason) != 0)
            return dwf__emu_reply_error(r, 500, "ServiceException", "out of memory");
        if (!e->o.quiet) dwf__emu_log(e, "%s: Invoke (Event) queued", f->name);
        return dwf__emu_reply(r, 202, NULL, "", 0, h_ok);
    }
    emu_direct *d = calloc(1, sizeof *d);
    if (!d) return dwf__emu_reply_error(r, 500, "ServiceException", "out of memory");
    pthread_cond_init(&d->cv, NULL);
    int q = plain_queue(r, f, d, &reason);
    if (q != 0) {
        pthread_cond_destroy(&d->cv);
        free(d);
        return q > 0 ? invoke_throttled(r, f->name, reason)
                     : dwf__emu_reply_error(r, 500, "ServiceException", "out of memory");
    }
    if (plain_wait(e, d) != 0) return dwf__emu_reply_error(r, 503, "ServiceException", "the emulator is stopping");
    const char *h_err[] = {"X-Amz-Executed-Version", f->qualifier, "X-Amz-Function-Error", "Unhandled", NULL};
    enum MHD_Result res = dwf__emu_reply(r, 200, "application/json", d->body ? d->body : "", d->body ? d->len : 0,
                                         d->is_error ? h_err : h_ok);
    pthread_cond_destroy(&d->cv);
    free(d->body);
    free(d);
    return res;
}

enum MHD_Result dwf__emu_invoke(emu_request *r)
{
    dwf_emulator *e = r->emu;
    char name[256], qual[160], qualified[420];
    const char *type = NULL;
    emu_fn *fn = NULL;
    dwf_error err;
    if (invoke_check(r, name, qual, &type, &fn, &err) != 0) return dwf__emu_reply_err(r, &err);
    if (strcmp(type, "DryRun") == 0) return dwf__emu_reply(r, 204, NULL, "", 0, NULL);
    if (fn->plain) return invoke_plain(r, fn, type);
    /* A synchronous invocation takes its place under the limits before the execution starts; an
     * asynchronous one waits in the queue, as in Lambda's event queue. */
    int sync = strcmp(type, "RequestResponse") == 0;
    const char *reason = NULL;
    if (sync) {
        pthread_mutex_lock(&e->mu);
        int admitted = dwf__emu_sync_admit(fn, &reason);
        pthread_mutex_unlock(&e->mu);
        if (!admitted) return invoke_throttled(r, name, reason);
    }
    snprintf(qualified, sizeof qualified, "%s:%s", name, qual);
    char *arn = invoke_start(r, qualified, &err);
    /* Its execution goes to the queue at once, not at the scheduler's next pass. */
    pthread_mutex_lock(&e->mu);
    if (sync) dwf__emu_sync_queued(fn, arn ? dwf__emu_job_new(EMU_JOB_EXECUTION, arn) : NULL);
    else if (arn) dwf__emu_queue_execution(fn, arn);
    dwf__emu_kick(e);
    pthread_mutex_unlock(&e->mu);
    if (!arn) return dwf__emu_reply_err(r, &err);
    if (!e->o.quiet) dwf__emu_log(e, "%s: Invoke (%s) started %s", name, type, arn);
    enum MHD_Result res;
    cJSON *x = NULL;
    if (strcmp(type, "Event") == 0) {
        const char *h[] = {"X-Amz-Durable-Execution-Arn", arn, "X-Amz-Executed-Version", qual, NULL};
        res = dwf__emu_reply(r, 202, NULL, "", 0, h);
    } else {
        int w = invoke_wait(e, arn, &x, &err);
        res = w < 0   ? dwf__emu_reply_err(r, &err)
              : w > 0 ? invoke_timed_out(r, name, arn)
                      : invoke_answer(r, arn, qual, x);
    }
    cJSON_Delete(x);
    free(arn);
    return res;
}
