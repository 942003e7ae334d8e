/*
 * dwf_host.h: the contract between libdwf's replay core and the hosts that run a compiled
 * workflow: the embedded engine (`dwf run`, service/engine.c) and the Lambda program
 * (lambda/). A host turns whatever delivered the invocation (the Runtime API, the local
 * service) into an invocation event, hands it to dwf_run_invocation() with a transport that
 * reaches the durable execution service, and delivers the handler response it returns.
 *
 * Generated code never includes this header: it sees only dwf.h.
 */
#ifndef DWF_HOST_H
#define DWF_HOST_H

#include "dwf.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- hosts: running one invocation --------------------------------------------------------- */
typedef struct dwf_error {
    char type[64];      /* a named error type, e.g. "InvalidParameterValueException" */
    char message[512];
} dwf_error;

/* How the runtime reaches the durable execution service. The Lambda transport speaks HTTPS +
 * SigV4; the embedded engine calls its service core in-process. */
typedef struct dwf_transport {
    /* CheckpointDurableExecution: `request` is {"CheckpointToken","Updates":[...]} (borrowed).
     * On success set *response to {"CheckpointToken","NewExecutionState":{"Operations":[..]}}
     * (caller frees) and return 0. On failure fill err and return -1; `retryable` tells
     * whether the invocation may be retried (5xx, 429, network, invalid token). */
    int (*checkpoint)(struct dwf_transport *t, const char *arn, const cJSON *request,
                      cJSON **response, dwf_error *err, int *retryable);
    /* GetDurableExecutionState page: response {"Operations":[..],"NextMarker"?} (caller frees). */
    int (*get_state)(struct dwf_transport *t, const char *arn, const char *token, const char *marker,
                     cJSON **response, dwf_error *err);
    /* Milliseconds since the epoch: real time, or the engine's virtual clock (--skip-time). */
    double (*now_ms)(struct dwf_transport *t);
    void *impl;
} dwf_transport;

typedef struct dwf_invoke_opts {
    int quiet;            /* suppress step log lines */
    const char *request_id;
    /* Called when an operation changes state, for progress display (may be NULL). The op is
     * borrowed, in the Operation shape. Called from any thread, serialised by the runtime. */
    void (*on_operation)(void *arg, const cJSON *op);
    void *on_operation_arg;
    /* 1: every at-least-once step waits for its SUCCEED to be acknowledged, one checkpoint
     * call per step as the SDK makes them (tests that count calls). 0 (default): pipelined. */
    int no_pipelining;
    /* The function's environment as "NAME=VALUE" entries, NULL-terminated: what env() reads.
     * NULL = the process environment (Lambda, where the function's configuration is the
     * process's environment). */
    const char *const *environment;
} dwf_invoke_opts;

/* Run one invocation of `wf` for the invocation `event` ({"DurableExecutionArn",
 * "CheckpointToken","InitialExecutionState":{"Operations","NextMarker"}}, borrowed).
 * Returns the handler response (caller frees): {"Status":"SUCCEEDED","Result":".."} |
 * {"Status":"FAILED","Error":{..}} | {"Status":"PENDING"}. Returns NULL for an
 * invocation-scoped fault (the invocation should be retried) and fills err. */
cJSON *dwf_run_invocation(const dwf_workflow *wf, const cJSON *event, dwf_transport *t,
                          const dwf_invoke_opts *opts, dwf_error *err);

/* JSON text of a value exactly as JavaScript's JSON.stringify(v, null, indent) writes it
 * (indent 0 = compact). Returns malloc'd text; caller frees. NULL when out of memory. */
char *dwf_json_text(const cJSON *v, int indent);

/* Operation Ids: the first 16 hex chars of MD5(step_id) into out[17]. */
void dwf_hash_id(const char *step_id, char out[17]);

/* The Lambda custom-runtime loop (Runtime API + HTTPS transport); never returns on success. */
int dwf_lambda_main(const dwf_workflow *wf);

#ifdef __cplusplus
}
#endif
#endif /* DWF_HOST_H */
