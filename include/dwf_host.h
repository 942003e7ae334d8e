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

/* ---- test doubles: what a test host puts in place of the outside world (dwf test) ------- */
/* Every call a workflow makes to the world outside its own code asks the mock hook first (when
 * the host gave one): a step attempt (by step name), an `http` request, and an
 * `aws <service>.<Action>` call (kind DWF_MOCK_AWS, name "service.Action", request the checked
 * parameters; RETURN: the action's output, FAIL: the error code and message the service gave).
 * Chained invokes run in the service, not in the runtime: the service's own hook mocks them
 * (dwf_service_set_invoke_mock), with the same dwf_mock_call and dwf_mock_answer. */
enum dwf_mock_kind { DWF_MOCK_STEP = 1, DWF_MOCK_HTTP, DWF_MOCK_INVOKE, DWF_MOCK_AWS };
typedef struct dwf_mock_call {
    enum dwf_mock_kind kind;
    const char *name;      /* STEP: the step name (NULL = unnamed); INVOKE: the function; AWS: "s.Action" */
    const char *method;    /* HTTP: GET, POST, ... */
    const char *url;       /* HTTP */
    const cJSON *request;  /* HTTP: the body; INVOKE: the payload; AWS: the parameters (may be NULL) */
    int attempt;           /* STEP: the attempt about to run, from 1 */
} dwf_mock_call;
enum { DWF_MOCK_PASS = 0, /* not mocked: the real thing runs */
       DWF_MOCK_RETURN,   /* ans->value is the result (STEP: the body's value; HTTP: {status,headers,body}) */
       DWF_MOCK_FAIL };   /* ans->error_type / error_message: the call fails with that error */
typedef struct dwf_mock_answer {
    cJSON *value;          /* RETURN: the result (the caller takes it) */
    char error_type[64];
    char error_message[512];
} dwf_mock_answer;
/* Called from any thread of the invocation; must be thread-safe. Returns DWF_MOCK_*. */
typedef int (*dwf_mock_fn)(void *arg, const dwf_mock_call *call, dwf_mock_answer *ans);

/* ---- verification: replaying a recorded history against (changed) code ------------------ */
/* Filled by an invocation run with dwf_invoke_opts.verify (dwf_verify_replay): step bodies
 * never run and nothing is checkpointed; the run stops where the recorded history ends. */
typedef struct dwf_verify_report {
    cJSON *lines;          /* {"<op id>": .dwf line} of every recorded operation the code reached */
    int diverged;          /* a recorded operation differs from what the code asks for there */
    char op_id[17];        /* the first such operation (hashed Id) */
    char step_id[128];     /* ... and its step id ("2-1") */
    int line;              /* the .dwf line of the code that asked for it */
    char message[1024];    /* NonDeterministicExecutionError's message, or why the code ends early */
    int outcome;           /* DWF_VERIFY_* */
} dwf_verify_report;
enum { DWF_VERIFY_RESUMES = 0, /* the code reached the end of the history: it would go on from there */
       DWF_VERIFY_ENDS,        /* the code runs to its end on recorded results alone */
       DWF_VERIFY_DIVERGES };  /* it would fail with NonDeterministicExecutionError (or ends early) */

typedef struct dwf_invoke_opts {
    int quiet;            /* suppress step log lines */
    const char *request_id;
    /* Called when an operation changes state, for progress display (may be NULL). The op is
     * borrowed, in the Operation shape. Called from any thread, serialised by the runtime. */
    void (*on_operation)(void *arg, const cJSON *op);
    void *on_operation_arg;
    dwf_mock_fn mock;     /* NULL = nothing mocked */
    void *mock_arg;
    dwf_verify_report *verify; /* non-NULL: verify mode (see above); the runtime fills it */
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

/* Replay `operations` (a recorded history in the Operation shape, EXECUTION operation first
 * or absent) against `wf` without running any step body or writing anything, and say whether
 * it would resume cleanly (DWF_VERIFY_RESUMES / _ENDS) or where it diverges (_DIVERGES).
 * `environment` is what env() reads, as dwf_invoke_opts.environment ("NAME=VALUE", NULL-terminated;
 * NULL: the workflow's own lambda { environment }, never the process's: the replay must read what
 * the execution read). rep->lines is set (caller frees). Returns the outcome, or -1 with err
 * filled (no memory). */
int dwf_verify_replay(const dwf_workflow *wf, const cJSON *operations, const char *const *environment,
                      dwf_verify_report *rep, dwf_error *err);

/* JSON text of a value exactly as JavaScript's JSON.stringify(v, null, indent) writes it
 * (indent 0 = compact). Returns malloc'd text; caller frees. NULL when out of memory. */
char *dwf_json_text(const cJSON *v, int indent);

/* Operation Ids: the first 16 hex chars of MD5(step_id) into out[17]. */
void dwf_hash_id(const char *step_id, char out[17]);

/* The Lambda custom-runtime loop (Runtime API + HTTPS transport); never returns on success. */
int dwf_lambda_main(const dwf_workflow *wf);

/* Make cJSON allocate through the per-thread cache of the blocks it freed (lambda/lambda.c says
 * why), unless AddressSanitizer or valgrind runs the process. What a host process calls at its
 * start, before any other thread (cJSON's hooks are one global); later calls do nothing.
 * dwf_lambda_main calls it, and so does the dwf program (cli/main.c). */
void dwf_use_json_cache(void);

#ifdef __cplusplus
}
#endif
#endif /* DWF_HOST_H */
