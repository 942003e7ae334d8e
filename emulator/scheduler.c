/*
 * scheduler.c: the scheduler thread and the per-function invocation queue.
 *
 * Every 100 ms, or at once when woken (an Invoke, a checkpoint, a callback answer, a stop, a
 * response), the scheduler moves the clock of each idle execution tree to its next wait end
 * or retry under --skip-time, fires the timers that are due, queues each execution the service
 * reports runnable on its function, starts the process of a function with work and none, reaps
 * processes that ended and kills an invocation past its deadline. The service decides what is
 * runnable and when a retry is due; the queue only keeps one function to one invocation at a
 * time, as a function with reserved concurrency 1.
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

#define IDLE_SLICE_MS 100.0

/* ---- jobs and the queue (mu held) ------------------------------------------------------------- */

void dwf__emu_job_free(emu_job *j)
{
    if (!j) return;
    if (j->direct && j->direct->abandoned) {
        pthread_cond_destroy(&j->direct->cv);
        free(j->direct->body);
        free(j->direct);
    }
    free(j->key);
    free(j->payload);
    free(j);
}

static int job_is(const emu_job *j, enum emu_job_kind kind, const char *key)
{
    return j && j->kind == kind && j->key && strcmp(j->key, key) == 0;
}

static int queue_has(const emu_fn *f, enum emu_job_kind kind, const char *key)
{
    if (f->busy && job_is(f->cur, kind, key)) return 1;
    for (int i = 0; i < f->nq; i++)
        if (job_is(f->queue[i], kind, key)) return 1;
    return 0;
}

int dwf__emu_queue_push(emu_fn *f, emu_job *j)
{
    if (f->nq == f->capq) {
        int nc = f->capq ? f->capq * 2 : 8;
        emu_job **nqv = realloc(f->queue, (size_t)nc * sizeof *nqv);
        if (!nqv) {
            dwf__emu_job_free(j);
            return -1;
        }
        f->queue = nqv;
        f->capq = nc;
    }
    f->queue[f->nq++] = j;
    return 0;
}

/* A keyed job (an execution or a call) on f, unless it is queued or running already. 1 queued. */
static int queue_key(emu_fn *f, enum emu_job_kind kind, const char *key)
{
    if (queue_has(f, kind, key)) return 0;
    emu_job *j = calloc(1, sizeof *j);
    if (!j || !(j->key = strdup(key))) {
        free(j);
        return 0;
    }
    j->kind = kind;
    return dwf__emu_queue_push(f, j) == 0;
}

emu_job *dwf__emu_queue_pop(emu_fn *f)
{
    if (f->nq == 0) return NULL;
    emu_job *j = f->queue[0];
    memmove(f->queue, f->queue + 1, (size_t)(f->nq - 1) * sizeof *f->queue);
    f->nq--;
    return j;
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
    if (dwf_service_end_invocation(e->svc, j->key, rid, start, resp, resp ? NULL : &fault, &err) != 0)
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

void dwf__emu_job_answer(emu_fn *f, const char *body, size_t len, int is_error, const dwf_error *fault)
{
    dwf_emulator *e = f->emu;
    if (!f->busy || !f->cur) return;
    emu_job *j = f->cur;
    char rid[40], what[64] = "?";
    memcpy(rid, f->cur_rid, sizeof rid);
    double start = f->cur_start_ms;
    long hwm = f->pid > 0 ? dwf__emu_vm_hwm_kb(f->pid) : -1;
    f->cur = NULL;
    f->cur_rid[0] = '\0';
    pthread_mutex_unlock(&e->mu);
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
    f->busy = 0;
    dwf__emu_kick(e);
    if (j->kind == EMU_JOB_EXECUTION) dwf__emu_execution_changed(e, j->key);
    dwf__emu_job_free(j);
}

void dwf__emu_fault_current(emu_fn *f, const char *type, const char *msg)
{
    if (!f->busy || !f->cur_rid[0]) return;
    dwf_error fault;
    snprintf(fault.type, sizeof fault.type, "%s", type);
    snprintf(fault.message, sizeof fault.message, "%s", msg);
    dwf__emu_job_answer(f, NULL, 0, 0, &fault);
}

/* A request id: a version-4 UUID from the kernel's random bytes. */
static void request_id(char out[40])
{
    unsigned char b[16];
    FILE *ur = fopen("/dev/urandom", "rb");
    if (!ur || fread(b, 1, sizeof b, ur) != sizeof b)
        for (int i = 0; i < 16; i++) b[i] = (unsigned char)(rand() & 0xff);
    if (ur) fclose(ur);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char h[33];
    dwf__emu_hex(b, 16, h);
    snprintf(out, 40, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
}

int dwf__emu_job_begin(emu_fn *f, emu_job *j, char **event, char rid[40], double *start, dwf_error *err)
{
    dwf_emulator *e = f->emu;
    *event = NULL;
    *start = dwf_service_now(e->svc);
    if (j->kind == EMU_JOB_EXECUTION) {
        cJSON *ev = NULL;
        if (dwf_service_begin_invocation(e->svc, j->key, &ev, rid, err) != 0) return -1;
        *event = cJSON_PrintUnformatted(ev);
        cJSON_Delete(ev);
    } else if (j->kind == EMU_JOB_CALL) {
        cJSON *c = NULL;
        if (dwf_service_call_begin(e->svc, j->key, &c, err) != 0) return -1;
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(c, "Payload");
        *event = strdup(cJSON_IsString(p) ? p->valuestring : "{}");
        cJSON_Delete(c);
        request_id(rid);
    } else {
        *event = strdup(j->payload && *j->payload ? j->payload : "{}");
        request_id(rid);
    }
    if (!*event) return dwf__emu_fail(err, "ServiceException", "out of memory");
    return 0;
}

/* A process that died before it took its first invocation (an init failure) fails the
 * invocation it was started for, so the service's retry and backoff apply to it as on
 * Lambda, instead of the emulator restarting it forever. */
void dwf__emu_fault_queued_head(emu_fn *f, const char *type, const char *msg)
{
    dwf_emulator *e = f->emu;
    emu_job *j = dwf__emu_queue_pop(f);
    if (!j) return;
    f->busy = 1;
    f->cur = j;
    pthread_mutex_unlock(&e->mu);
    char *event = NULL, rid[40];
    double start;
    dwf_error err;
    int r = dwf__emu_job_begin(f, j, &event, rid, &start, &err);
    free(event);
    pthread_mutex_lock(&e->mu);
    if (r != 0) {
        f->cur = NULL;
        f->busy = 0;
        dwf__emu_job_free(j);
        return;
    }
    memcpy(f->cur_rid, rid, sizeof rid);
    f->cur_start_ms = start;
    dwf__emu_fault_current(f, type, msg);
}

/* ---- the thread ---------------------------------------------------------------------------------- */

/* Kill (or, with no process to kill, fault) every invocation past its deadline. mu held. */
static void enforce_deadlines(dwf_emulator *e)
{
    double now_real = dwf__emu_real_ms();
    for (int i = 0; i < e->nfns; i++) {
        emu_fn *f = e->fns[i];
        if (!f->busy || !f->cur_rid[0] || now_real <= f->cur_deadline) continue;
        if (f->pid > 0) dwf__emu_kill(f, EMU_KILL_TIMEOUT);
        else dwf__emu_fault_current(f, "Sandbox.Timedout", "the invocation outlived its timeout with no process to answer it");
    }
}

/* Fire the due timers and queue what the service says is runnable. Returns how many
 * executions were queued. Called and returns with mu held; releases it for the service. */
static int queue_runnable(dwf_emulator *e, double *last_err_log)
{
    dwf_error err;
    cJSON *run = NULL, *calls = NULL;
    pthread_mutex_unlock(&e->mu);
    int rc = dwf_service_fire_timers(e->svc, NULL, NULL, &err);
    if (rc == 0) rc = dwf_service_runnable(e->svc, NULL, 60000.0, &run, &err);
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
        if (f) queued += queue_key(f, EMU_JOB_EXECUTION, a->valuestring);
    }
    cJSON_Delete(run);
    /* Calls of the plain functions served here (a call to a function served elsewhere waits for
     * that host). */
    for (const cJSON *c = calls ? calls->child : NULL; c; c = c->next) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "CallId");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(c, "FunctionName");
        emu_fn *f = cJSON_IsString(fn) ? dwf__emu_fn_find(e, fn->valuestring, "") : NULL;
        if (f && f->plain && cJSON_IsString(id)) queued += queue_key(f, EMU_JOB_CALL, id->valuestring);
    }
    cJSON_Delete(calls);
    return queued;
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

void *dwf__emu_scheduler(void *arg)
{
    dwf_emulator *e = arg;
    double last_err_log = 0;
    pthread_mutex_lock(&e->mu);
    while (!e->stopping) {
        unsigned long seen = e->kicks;
        dwf__emu_reap(e);
        enforce_deadlines(e);
        if (e->o.skip_time) skip_time(e);
        int queued = queue_runnable(e, &last_err_log), idle = 1;
        for (int i = 0; i < e->nfns; i++) {
            emu_fn *f = e->fns[i];
            if (f->nq > 0 || f->busy) idle = 0;
            if (f->nq > 0 && f->pid == 0 && dwf__emu_mono_ms() >= f->respawn_after) dwf__emu_spawn(f);
        }
        if (queued) dwf__emu_kick(e);
        dwf__emu_control_reap(e);
        double wait = idle && !queued ? idle_wait(e) : IDLE_SLICE_MS;
        if (wait > 0 && e->kicks == seen && !e->stopping) dwf__emu_wait(e, wait);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}
