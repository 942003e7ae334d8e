/*
 * engine.h: the embedded engine. It drives durable executions in-process on the service core
 * (service.h): build the invocation event, run the workflow with dwf_run_invocation() over a
 * transport whose checkpoint calls the service directly, apply the handler response, then
 * sleep until the next timer (or jump the execution tree's own clock under --skip-time) and invoke
 * again, until the execution ends or only waits for something outside (a callback).
 */
#ifndef DWF_ENGINE_H
#define DWF_ENGINE_H

#include "dwf_host.h"
#include "service.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Find the compiled workflow of a function (by base name). NULL with err filled if none. */
typedef const dwf_workflow *(*dwf_engine_resolve_fn)(void *arg, const char *function_name, dwf_error *err);

typedef struct dwf_engine_opts {
    dwf_engine_resolve_fn resolve; /* required */
    void *resolve_arg;
    /* The function's environment ("NAME=VALUE", NULL-terminated, borrowed for the call) that
     * env() reads, called with resolve_arg; NULL (or returning NULL) = the workflow's own
     * lambda { environment }. The process's environment never reaches a workflow here. */
    const char *const *(*environment)(void *resolve_arg, const char *function_name);
    int skip_time;      /* jump an idle execution tree's own clock to its next WAIT end / retry */
    int no_wait;        /* return instead of sleeping when nothing is due now (dwf resume) */
    int quiet;          /* suppress step log lines */
    double stale_ms;    /* an invocation open this long (another process died) is re-run;
                         * < 0 = never */
    double slice_ms;    /* longest single sleep, so outside changes are noticed; 0 = 200 */
    /* Progress: an operation changed state (borrowed, Operation shape), from the runtime's
     * on_operation hook; and an invocation ended (response NULL after a fault). */
    void (*on_operation)(void *arg, const char *arn, const cJSON *op);
    void (*on_invocation)(void *arg, const char *arn, const cJSON *response, const dwf_error *fault);
    void *progress_arg;
    volatile int *stop; /* nonzero: return at the next chance (a signal handler sets it) */
    int concurrency;    /* executions driven at once by dwf_engine_drive (threads); <= 1: one
                         * after another. resolve, environment and the progress hooks (and
                         * on_adopted) are then called from several threads, one call at a
                         * time (the engine serializes them); mock is called as it is. */
    /* An execution that started on another version of its workflow (another hash of the .dwf)
     * is driven only when its history replays cleanly on this code (dwf_verify_replay), or
     * with force; otherwise dwf_engine_invoke fails with WorkflowChangedError. on_adopted
     * (may be NULL) hears that an execution now runs on this version, and why. */
    int force;
    void (*on_adopted)(void *arg, const char *arn, const char *why);
    /* refused (may be NULL: a refusal is then an error of the drive): a caller-owned cJSON
     * object. With it, an execution refused with WorkflowChangedError is left as it is, added
     * (ARN -> true) and told to on_refused (may be NULL), and the drive goes on with the
     * others; an ARN already in it is not tried again (dwf worker keeps it across drives). */
    cJSON *refused;
    void (*on_refused)(void *arg, const char *arn, const dwf_error *err);
    /* Test doubles (dwf test): the runtime's mock hook for steps, http and aws (dwf_host.h). */
    dwf_mock_fn mock;
    void *mock_arg;
} dwf_engine_opts;

enum {
    DWF_ENGINE_DONE = 0,    /* the root execution has ended (or, without a root, nothing is left) */
    DWF_ENGINE_WAITING = 1  /* it waits for something outside: a callback, or (no_wait) a later timer */
};

/* Drive the execution root_arn and the executions it started (chained invokes); root_arn NULL
 * drives every execution in the store. Returns DWF_ENGINE_DONE / DWF_ENGINE_WAITING, or -1
 * with err filled (a store error; workflow failures are execution outcomes, not errors). */
int dwf_engine_drive(dwf_service *s, const char *root_arn, const dwf_engine_opts *o, dwf_error *err);

/* Run one invocation of an execution now, on a thread of its own, for at most the workflow's
 * invocation timeout (lambda { timeout }): past it the invocation is ended as Lambda ends it
 * (a Sandbox.Timedout fault, retried by the service) and its thread abandoned. A stop ends it
 * at its next checkpoint, or abandons it after a second, leaving the invocation open for
 * `dwf resume`. 0, or -1 with err filled. */
int dwf_engine_invoke(dwf_service *s, const char *arn, const dwf_engine_opts *o, dwf_error *err);

/* How many invocation threads this process has abandoned (timed out or stopped), still
 * possibly running user code: while there are any, the handlers must stay loaded and the
 * process should end with _exit rather than run its exit handlers under them. */
int dwf_engine_abandoned(void);

#ifdef __cplusplus
}
#endif
#endif
