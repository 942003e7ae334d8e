/*
 * scheduler.c: the scheduler thread and the per-function invocation queue.
 *
 * Every 100 ms, or at once when woken (an Invoke, a checkpoint, a callback answer, a stop, a
 * response), the scheduler fires the timers that are due, queues each execution the service
 * reports runnable on its function, starts the process of a function with work and none, reaps
 * processes that ended and kills an invocation past its deadline. The service decides what is
 * runnable and when a retry is due; the queue only keeps one function to one invocation at a
 * time, as a function with reserved concurrency 1.
 *
 * Ending an invocation with a fault lives here too: the process code, the Runtime API and the
 * deadline check all do it, and the service's retry and backoff then apply.
 */
#include "emu.h"

#include <stdlib.h>
#include <string.h>

#define IDLE_SLICE_MS 100.0

/* ---- the queue (mu held) ---------------------------------------------------------------------- */

static int queue_has(const emu_fn *f, const char *arn)
{
    if (f->busy && f->cur_arn && strcmp(f->cur_arn, arn) == 0) return 1;
    for (int i = 0; i < f->nq; i++)
        if (strcmp(f->queue[i], arn) == 0) return 1;
    return 0;
}

static int queue_push(emu_fn *f, const char *arn)
{
    if (f->nq == f->capq) {
        int nc = f->capq ? f->capq * 2 : 8;
        char **nqv = realloc(f->queue, (size_t)nc * sizeof *nqv);
        if (!nqv) return -1;
        f->queue = nqv;
        f->capq = nc;
    }
    if (!(f->queue[f->nq] = strdup(arn))) return -1;
    f->nq++;
    return 0;
}

char *dwf__emu_queue_pop(emu_fn *f)
{
    if (f->nq == 0) return NULL;
    char *a = f->queue[0];
    memmove(f->queue, f->queue + 1, (size_t)(f->nq - 1) * sizeof *f->queue);
    f->nq--;
    return a;
}

/* ---- faults (mu held on entry and exit; released around the service calls) -------------------- */

void dwf__emu_fault_current(emu_fn *f, const char *type, const char *msg)
{
    dwf_emulator *e = f->emu;
    if (!f->busy || !f->cur_rid[0]) return;
    char *arn = f->cur_arn;
    char rid[40];
    memcpy(rid, f->cur_rid, sizeof rid);
    double start = f->cur_start_ms;
    f->cur_arn = NULL;
    f->cur_rid[0] = '\0';
    pthread_mutex_unlock(&e->mu);
    dwf_error fault, err;
    snprintf(fault.type, sizeof fault.type, "%s", type);
    snprintf(fault.message, sizeof fault.message, "%s", msg);
    if (!e->o.quiet) dwf__emu_log(e, "%s: invocation %s failed: %s: %s", f->name, rid, type, msg);
    if (dwf_service_end_invocation(e->svc, arn, rid, start, NULL, &fault, &err) != 0)
        dwf__emu_log(e, "%s: ending invocation %s: %s: %s", f->name, rid, err.type, err.message);
    pthread_mutex_lock(&e->mu);
    f->busy = 0;
    dwf__emu_kick(e);
    dwf__emu_execution_changed(e, arn);
    free(arn);
}

/* A process that died before it took its first invocation (an init failure) fails the
 * invocation it was started for, so the service's retry and backoff apply to it as on
 * Lambda, instead of the emulator restarting it forever. */
void dwf__emu_fault_queued_head(emu_fn *f, const char *type, const char *msg)
{
    dwf_emulator *e = f->emu;
    char *arn = dwf__emu_queue_pop(f);
    if (!arn) return;
    f->busy = 1;
    f->cur_arn = arn;
    pthread_mutex_unlock(&e->mu);
    cJSON *event = NULL;
    char rid[40];
    dwf_error err;
    int r = dwf_service_begin_invocation(e->svc, arn, &event, rid, &err);
    cJSON_Delete(event);
    double start = dwf_service_now(e->svc);
    pthread_mutex_lock(&e->mu);
    if (r != 0) {
        free(f->cur_arn);
        f->cur_arn = NULL;
        f->busy = 0;
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
    cJSON *run = NULL;
    pthread_mutex_unlock(&e->mu);
    int rc = dwf_service_fire_timers(e->svc, NULL, NULL, &err);
    if (rc == 0) rc = dwf_service_runnable(e->svc, NULL, 60000.0, &run, &err);
    if (rc != 0 && dwf__emu_mono_ms() - *last_err_log > 5000) {
        dwf__emu_log(e, "scheduler: %s: %s", err.type, err.message);
        *last_err_log = dwf__emu_mono_ms();
    }
    pthread_mutex_lock(&e->mu);
    int queued = 0;
    for (const cJSON *a = run ? run->child : NULL; a; a = a->next) {
        emu_fn *f = cJSON_IsString(a) ? dwf__emu_fn_of_execution(e, a->valuestring) : NULL;
        if (!f || queue_has(f, a->valuestring)) continue;
        if (queue_push(f, a->valuestring) == 0) queued++;
    }
    cJSON_Delete(run);
    return queued;
}

/* How long to sleep when nothing runs: until the next timer, or not at all after --skip-time
 * moved the clock to it. Called and returns with mu held; releases it for the service. */
static double idle_wait(dwf_emulator *e)
{
    double wait = IDLE_SLICE_MS, due = -1;
    dwf_error err;
    pthread_mutex_unlock(&e->mu);
    if (dwf_service_next_due(e->svc, NULL, 0, &due, &err) == 0 && due >= 0) {
        double now = dwf_service_now(e->svc);
        if (due > now && e->o.skip_time) {
            if (dwf_service_advance_clock(e->svc, due, &err) == 0) wait = 0;
        } else if (due > now && due - now < wait) {
            wait = due - now;
        }
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
