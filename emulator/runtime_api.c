/*
 * runtime_api.c: the Lambda Runtime API (2018-06-01) each function's process talks to, on a
 * server of its own (so a request's server says which function it comes from).
 *
 * A function's environments (processes) all talk to its one Runtime API; the server tells them
 * apart by the process at the other end of the connection (httpd.c sets r->env, and refuses a
 * process the emulator did not start). /next blocks until the function's queue has a job (the
 * environment holds no invocation then: one at a time), then has the service build the
 * invocation event (a fresh checkpoint token) and answers it with Lambda's headers. /response
 * and /error hand the answer to what the job was for (scheduler.c); a durable handler's response
 * that is not a JSON object is a fault, as Lambda's durable runtime treats it. /init/error is
 * kept for the report of the process's death (process.c).
 *
 * A process that asks for /next again without answering the one it holds has dropped it
 * (Runtime.NoResponse). A /next belongs to one process: the generation counter changes when
 * the process ends, and a /next of a process that is gone is answered 500 instead of an event.
 */
#include "emu.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Take the next queued job and build its event. 1 with *event, 0 when the process is gone or
 * the emulator stops, -1 when the job turned out not to be runnable (try the next). mu held;
 * released around the service calls. */
static int take_invocation(emu_env *v, unsigned gen, char **event)
{
    emu_fn *f = v->fn;
    dwf_emulator *e = f->emu;
    while (!e->stopping && v->gen == gen && (f->nq == 0 || v->busy)) dwf__emu_next_wait(v, 1000);
    if (e->stopping || v->gen != gen) return 0;
    emu_job *j = dwf__emu_queue_pop(f);
    dwf__emu_wake_next(f); /* more queued: another idle environment takes the next */
    v->busy = 1;
    v->cur = j;
    v->cur_rid[0] = '\0';
    pthread_mutex_unlock(&e->mu);
    char rid[40];
    double start;
    dwf_error err;
    int r = dwf__emu_job_begin(f, j, event, rid, &start, &err);
    pthread_mutex_lock(&e->mu);
    if (r != 0) {
        /* Closed or stopped meanwhile: nothing to run. */
        if (!e->o.quiet) dwf__emu_log(e, "%s: not invoking %s: %s: %s", f->name, j->key ? j->key : "", err.type,
                                      err.message);
        v->cur = NULL;
        v->busy = 0;
        v->idle_since = dwf__emu_mono_ms();
        dwf__emu_job_free(j);
        dwf__emu_kick(e);
        dwf__emu_wake_next(f);
        return -1;
    }
    memcpy(v->cur_rid, rid, sizeof rid);
    v->cur_start_ms = start;
    v->cur_deadline = dwf__emu_real_ms() + f->timeout_s * 1000.0;
    if (e->stopping || v->gen != gen) {
        /* The process died while the event was being built: nobody will answer it. */
        free(*event);
        *event = NULL;
        dwf__emu_fault_current(v, "Runtime.ExitError", "the runtime exited before it received the invocation");
        return 0;
    }
    return 1;
}

/* The first /next of a process ends its cold start, at the request's arrival: the emulator's own
 * peer lookup (httpd.c admit, 0.4-0.6 ms of /proc reads for a new connection) is not the
 * runtime's start-up. mu held. */
static void first_next(emu_env *v, double arrived_ms)
{
    dwf_emulator *e = v->fn->emu;
    v->reached_next = 1;
    if (!e->o.quiet)
        dwf__emu_log(e, "%s: cold start %.3f ms (process start to first /next), CPU %.1f ms", v->fn->name,
                     arrived_ms - v->spawn_mono, v->pid > 0 ? dwf__emu_cpu_ms(v->pid) : -1.0);
    free(v->init_error);
    v->init_error = NULL;
}

enum MHD_Result dwf__emu_rt_next(emu_request *r)
{
    emu_env *v = r->env;
    emu_fn *f = r->fn;
    dwf_emulator *e = f->emu;
    pthread_mutex_lock(&e->mu);
    unsigned gen = v->gen;
    if (!v->reached_next) first_next(v, r->arrived_ms);
    if (v->busy && v->cur_rid[0])
        dwf__emu_fault_current(v, "Runtime.NoResponse",
                               "the runtime asked for the next invocation without answering this one");
    char *event = NULL;
    int got;
    while ((got = take_invocation(v, gen, &event)) < 0) {}
    if (!got) {
        pthread_mutex_unlock(&e->mu);
        return dwf__emu_reply_error(r, 500, "ServiceException", "the sandbox is shutting down");
    }
    char deadline[32], fn_arn[512], trace[96], rid[40];
    memcpy(rid, v->cur_rid, sizeof rid);
    snprintf(deadline, sizeof deadline, "%.0f", v->cur_deadline);
    snprintf(fn_arn, sizeof fn_arn, "arn:aws:lambda:%s:%s:function:%s:$LATEST", e->region, e->account, f->name);
    snprintf(trace, sizeof trace, "Root=1-%08lx-%.24s;Sampled=0", (unsigned long)time(NULL), rid);
    for (char *t = trace; *t; t++)
        if (*t == '-' && t > trace + 16) *t = '0';
    pthread_mutex_unlock(&e->mu);
    const char *h[] = {"Lambda-Runtime-Aws-Request-Id", rid, "Lambda-Runtime-Deadline-Ms", deadline,
                       "Lambda-Runtime-Invoked-Function-Arn", fn_arn, "Lambda-Runtime-Trace-Id", trace, NULL};
    enum MHD_Result res = dwf__emu_reply(r, 200, "application/json", event, strlen(event), h);
    free(event);
    return res;
}

/* /runtime/invocation/{id}/response or /error: the answer goes to what the invocation was for
 * (scheduler.c: a durable execution's response, a call's value, a waiting Invoke). */
static enum MHD_Result rt_answer(emu_request *r, int is_error)
{
    emu_env *v = r->env;
    dwf_emulator *e = r->fn->emu;
    const char *rid = r->label[0];
    pthread_mutex_lock(&e->mu);
    if (!v->busy || !v->cur || strcmp(v->cur_rid, rid) != 0) {
        pthread_mutex_unlock(&e->mu);
        return dwf__emu_reply_error(r, 400, "InvalidRequestID", "unknown or already answered request id");
    }
    /* /error without a JSON body: the type Lambda's runtime clients send as a header. */
    const char *ht = dwf__emu_header(r, "Lambda-Runtime-Function-Error-Type");
    cJSON *b = is_error ? dwf__emu_parse_json(r->body ? r->body : "", r->len) : NULL;
    char *doc = NULL;
    if (is_error && !cJSON_IsObject(b)) {
        cJSON *d = cJSON_CreateObject();
        cJSON_AddStringToObject(d, "errorType", ht ? ht : "Runtime.UnknownReason");
        cJSON_AddStringToObject(d, "errorMessage", r->body && r->len ? r->body : "(no message)");
        doc = cJSON_PrintUnformatted(d);
        cJSON_Delete(d);
    } else if (is_error && !cJSON_GetObjectItemCaseSensitive(b, "errorType") && ht) {
        cJSON_AddStringToObject(b, "errorType", ht);
        doc = cJSON_PrintUnformatted(b);
    }
    cJSON_Delete(b);
    dwf__emu_job_answer(v, doc ? doc : r->body, doc ? strlen(doc) : r->len, is_error, NULL);
    free(doc);
    if (e->o.cold) dwf__emu_kill(v, EMU_KILL_QUIET);
    pthread_mutex_unlock(&e->mu);
    const char *ok = "{\"status\":\"OK\"}";
    return dwf__emu_reply(r, 202, "application/json", ok, strlen(ok), NULL);
}

enum MHD_Result dwf__emu_rt_response(emu_request *r) { return rt_answer(r, 0); }
enum MHD_Result dwf__emu_rt_error(emu_request *r) { return rt_answer(r, 1); }

enum MHD_Result dwf__emu_rt_init_error(emu_request *r)
{
    emu_env *v = r->env;
    emu_fn *f = r->fn;
    dwf_emulator *e = f->emu;
    dwf__emu_log(e, "%s: init error: %.500s", f->name, r->body ? r->body : "");
    pthread_mutex_lock(&e->mu);
    free(v->init_error);
    v->init_error = r->body ? strdup(r->body) : NULL;
    pthread_mutex_unlock(&e->mu);
    const char *ok = "{\"status\":\"OK\"}";
    return dwf__emu_reply(r, 202, "application/json", ok, strlen(ok), NULL);
}
