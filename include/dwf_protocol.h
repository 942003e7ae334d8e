/*
 * dwf_protocol.h: the names and limits of the Lambda durable execution protocol, written once.
 *
 * The handler SDK (sdk/), the service (service/), the emulator (emulator/), the Lambda
 * transport (lambda/) and the compiler (grammar/, codegen/) all speak this protocol; each used
 * to spell its names and limits itself, and they drifted. Everything here is an X-macro list
 * (an enum and its wire names from one list, as libuv does for its errors) or a plain limit.
 * docs/protocol.md explains what each name and limit means and where it comes from.
 *
 * Add a name to a list here, never a string literal elsewhere: a new operation type, status,
 * action or subtype is one row, and every switch over the enum then warns where it is missing.
 */
#ifndef DWF_PROTOCOL_H
#define DWF_PROTOCOL_H

#include <string.h>

/* ---- operation types (Operation.Type, OperationUpdate.Type) -------------------------------- */
#define DWF_OPTYPES(X) X(EXECUTION) X(CONTEXT) X(STEP) X(WAIT) X(CALLBACK) X(CHAINED_INVOKE)

/* ---- operation statuses (Operation.Status) --------------------------------------------------- */
#define DWF_OPSTATUSES(X)                                                                      \
    X(STARTED) X(PENDING) X(READY) X(SUCCEEDED) X(FAILED) X(CANCELLED) X(TIMED_OUT) X(STOPPED)

/* ---- checkpoint actions (OperationUpdate.Action) --------------------------------------------- */
#define DWF_ACTIONS(X) X(START) X(SUCCEED) X(FAIL) X(RETRY) X(CANCEL)

/* ---- execution statuses (GetDurableExecution .Status) ---------------------------------------- */
#define DWF_EXECSTATUSES(X) X(RUNNING) X(SUCCEEDED) X(FAILED) X(TIMED_OUT) X(STOPPED)

/* ---- invocation statuses (the handler response's Status) ------------------------------------ */
#define DWF_INVSTATUSES(X) X(SUCCEEDED) X(FAILED) X(PENDING)

/* ---- operation subtypes the official SDK writes (Operation.SubType); X(enum name, wire) ------ */
#define DWF_SUBTYPES(X)                                                                        \
    X(STEP, "Step")                                                                            \
    X(WAIT, "Wait")                                                                            \
    X(CALLBACK, "Callback")                                                                    \
    X(RUN_IN_CHILD_CONTEXT, "RunInChildContext")                                               \
    X(MAP, "Map")                                                                              \
    X(MAP_ITERATION, "MapIteration")                                                           \
    X(PARALLEL, "Parallel")                                                                    \
    X(PARALLEL_BRANCH, "ParallelBranch")                                                       \
    X(WAIT_FOR_CALLBACK, "WaitForCallback")                                                    \
    X(WAIT_FOR_CONDITION, "WaitForCondition")                                                  \
    X(CHAINED_INVOKE, "ChainedInvoke")

/* ---- history event types (Event.EventType; the details member is "<EventType>Details") ------- */
#define DWF_EVENTTYPES(X)                                                                      \
    X(EXECUTION_STARTED, "ExecutionStarted")                                                   \
    X(EXECUTION_SUCCEEDED, "ExecutionSucceeded")                                               \
    X(EXECUTION_FAILED, "ExecutionFailed")                                                     \
    X(EXECUTION_TIMED_OUT, "ExecutionTimedOut")                                                \
    X(EXECUTION_STOPPED, "ExecutionStopped")                                                   \
    X(CONTEXT_STARTED, "ContextStarted")                                                       \
    X(CONTEXT_SUCCEEDED, "ContextSucceeded")                                                   \
    X(CONTEXT_FAILED, "ContextFailed")                                                         \
    X(WAIT_STARTED, "WaitStarted")                                                             \
    X(WAIT_SUCCEEDED, "WaitSucceeded")                                                         \
    X(WAIT_CANCELLED, "WaitCancelled")                                                         \
    X(STEP_STARTED, "StepStarted")                                                             \
    X(STEP_SUCCEEDED, "StepSucceeded")                                                         \
    X(STEP_FAILED, "StepFailed")                                                               \
    X(CHAINED_INVOKE_STARTED, "ChainedInvokeStarted")                                          \
    X(CHAINED_INVOKE_SUCCEEDED, "ChainedInvokeSucceeded")                                      \
    X(CHAINED_INVOKE_FAILED, "ChainedInvokeFailed")                                            \
    X(CHAINED_INVOKE_TIMED_OUT, "ChainedInvokeTimedOut")                                       \
    X(CHAINED_INVOKE_STOPPED, "ChainedInvokeStopped")                                          \
    X(CALLBACK_STARTED, "CallbackStarted")                                                     \
    X(CALLBACK_SUCCEEDED, "CallbackSucceeded")                                                 \
    X(CALLBACK_FAILED, "CallbackFailed")                                                       \
    X(CALLBACK_TIMED_OUT, "CallbackTimedOut")                                                  \
    X(INVOCATION_COMPLETED, "InvocationCompleted")

/* ---- error types of the API (a failed call's error name) and their HTTP status ------------ */
/* The Store* ones are dwf's own, about its local store: held by another process, not a store
 * (or damaged), deleted or replaced while open, not writable, out of space. */
#define DWF_ERRORTYPES(X)                                                                      \
    X(INVALID_PARAMETER_VALUE, "InvalidParameterValueException", 400)                          \
    X(CALLBACK_TIMEOUT, "CallbackTimeoutException", 400)                                       \
    X(RESOURCE_NOT_FOUND, "ResourceNotFoundException", 404)                                    \
    X(DURABLE_EXECUTION_ALREADY_STARTED, "DurableExecutionAlreadyStartedException", 409)       \
    X(RESOURCE_CONFLICT, "ResourceConflictException", 409)                                     \
    X(TOO_MANY_REQUESTS, "TooManyRequestsException", 429)                                      \
    X(SERVICE, "ServiceException", 500)                                                        \
    X(STORE_LOCKED, "StoreLockedException", 503)                                               \
    X(STORE_CORRUPT, "StoreCorruptException", 500)                                             \
    X(STORE_REPLACED, "StoreReplacedException", 500)                                           \
    X(STORE_READ_ONLY, "StoreReadOnlyException", 500)                                          \
    X(STORE_FULL, "StoreFullException", 507)

/* The enums. 0 is "none / not on the wire"; the last member is "unknown name". */
enum dwf_optype {
    DWF_OPTYPE_NONE = 0,
#define DWF__X(s) DWF_OPTYPE_##s,
    DWF_OPTYPES(DWF__X)
#undef DWF__X
    DWF_OPTYPE_UNKNOWN
};
enum dwf_opstatus {
    DWF_OPSTATUS_NONE = 0,
#define DWF__X(s) DWF_OPSTATUS_##s,
    DWF_OPSTATUSES(DWF__X)
#undef DWF__X
    DWF_OPSTATUS_UNKNOWN
};
enum dwf_action {
    DWF_ACTION_NONE = 0,
#define DWF__X(s) DWF_ACTION_##s,
    DWF_ACTIONS(DWF__X)
#undef DWF__X
    DWF_ACTION_UNKNOWN
};
enum dwf_execstatus {
    DWF_EXECSTATUS_NONE = 0,
#define DWF__X(s) DWF_EXECSTATUS_##s,
    DWF_EXECSTATUSES(DWF__X)
#undef DWF__X
    DWF_EXECSTATUS_UNKNOWN
};
enum dwf_invstatus {
    DWF_INVSTATUS_NONE = 0,
#define DWF__X(s) DWF_INVSTATUS_##s,
    DWF_INVSTATUSES(DWF__X)
#undef DWF__X
    DWF_INVSTATUS_UNKNOWN
};
enum dwf_subtype {
    DWF_SUBTYPE_NONE = 0,
#define DWF__X(e, s) DWF_SUBTYPE_##e,
    DWF_SUBTYPES(DWF__X)
#undef DWF__X
    DWF_SUBTYPE_UNKNOWN
};
enum dwf_eventtype {
    DWF_EVENTTYPE_NONE = 0,
#define DWF__X(e, s) DWF_EVENTTYPE_##e,
    DWF_EVENTTYPES(DWF__X)
#undef DWF__X
    DWF_EVENTTYPE_UNKNOWN
};
enum dwf_errortype {
    DWF_ERRORTYPE_NONE = 0,
#define DWF__X(e, s, status) DWF_ERRORTYPE_##e,
    DWF_ERRORTYPES(DWF__X)
#undef DWF__X
    DWF_ERRORTYPE_UNKNOWN
};

/* Wire name of an enum value (NULL for NONE / UNKNOWN), and back (UNKNOWN for a name not in the
 * list, NONE for NULL). Static inline: a table each, in every unit that uses them. */
#define DWF__NAMES(prefix, list)                                                               \
    static inline const char *dwf_##prefix##_name(int v)                                      \
    {                                                                                          \
        static const char *const names[] = {NULL list(DWF__NAME_OF)};                         \
        return v > 0 && v < (int)(sizeof names / sizeof names[0]) ? names[v] : NULL;           \
    }                                                                                          \
    static inline int dwf_##prefix##_parse(const char *s)                                     \
    {                                                                                          \
        static const char *const names[] = {NULL list(DWF__NAME_OF)};                         \
        int n = (int)(sizeof names / sizeof names[0]);                                         \
        if (!s) return 0;                                                                      \
        for (int i = 1; i < n; i++)                                                            \
            if (strcmp(names[i], s) == 0) return i;                                            \
        return n;                                                                              \
    }
#define DWF__NAME_OF(s) , #s
DWF__NAMES(optype, DWF_OPTYPES)
DWF__NAMES(opstatus, DWF_OPSTATUSES)
DWF__NAMES(action, DWF_ACTIONS)
DWF__NAMES(execstatus, DWF_EXECSTATUSES)
DWF__NAMES(invstatus, DWF_INVSTATUSES)
#undef DWF__NAME_OF
#define DWF__NAME_OF(e, s) , s
DWF__NAMES(subtype, DWF_SUBTYPES)
DWF__NAMES(eventtype, DWF_EVENTTYPES)
#undef DWF__NAME_OF
#define DWF__NAME_OF(e, s, status) , s
DWF__NAMES(errortype, DWF_ERRORTYPES)
#undef DWF__NAME_OF
#undef DWF__NAMES

/* The HTTP status an API error answers with (500 for NONE / UNKNOWN). */
static inline int dwf_errortype_http_status(int v)
{
#define DWF__STATUS_OF(e, s, status) , status
    static const int statuses[] = {500 DWF_ERRORTYPES(DWF__STATUS_OF)};
#undef DWF__STATUS_OF
    return v > 0 && v < (int)(sizeof statuses / sizeof statuses[0]) ? statuses[v] : 500;
}

/* Terminal operation statuses: nothing changes an operation after one of these. */
static inline int dwf_opstatus_terminal(int st)
{
    return st == DWF_OPSTATUS_SUCCEEDED || st == DWF_OPSTATUS_FAILED ||
           st == DWF_OPSTATUS_CANCELLED || st == DWF_OPSTATUS_TIMED_OUT ||
           st == DWF_OPSTATUS_STOPPED;
}

/* ---- limits (bytes unless said otherwise; docs/protocol.md says where each comes from) ------- */
/* A checkpointed operation payload (a step's or child context's result, a callback result,
 * an error's JSON): the service refuses more; the SDK fails the step with PayloadTooLarge. */
#define DWF_LIMIT_OPERATION_PAYLOAD 262144
/* A synchronous (RequestResponse) invocation's request and response, and an execution's
 * input and result. A handler result longer than this minus DWF_LIMIT_RESULT_SLACK is
 * checkpointed as an EXECUTION SUCCEED and answered with an empty Result, as the SDK does. */
#define DWF_LIMIT_SYNC_PAYLOAD 6291456
#define DWF_LIMIT_RESULT_SLACK 50
/* An asynchronous (Event) invocation's payload. */
#define DWF_LIMIT_ASYNC_PAYLOAD 262144
/* A chained invoke's payload (CHAINED_INVOKE START). */
#define DWF_LIMIT_INVOKE_PAYLOAD 1048576
/* An error object's JSON in a checkpoint update. */
#define DWF_LIMIT_ERROR_JSON 32768
/* One CheckpointDurableExecution call as the SDK batches it: at most this many updates and
 * about this many bytes. */
#define DWF_LIMIT_BATCH_UPDATES 250
#define DWF_LIMIT_BATCH_BYTES (750 * 1024)
/* A wait or retry delay, in seconds (one year); a callback timeout or heartbeat, in seconds. */
#define DWF_LIMIT_DELAY_S 31622400.0
#define DWF_LIMIT_CALLBACK_TIMEOUT_S 99999999.0
/* An operation Id and a DurableExecutionName: 1 to this many of [A-Za-z0-9_-]. An operation
 * Name: 1 to DWF_LIMIT_NAME_LEN printable ASCII characters. A CallbackId: at most this long. */
#define DWF_LIMIT_ID_LEN 64
#define DWF_LIMIT_NAME_LEN 256
#define DWF_LIMIT_CALLBACK_ID_LEN 1024
/* DurableConfig when a function gives none: RetentionPeriodInDays, ExecutionTimeout (s). */
#define DWF_DEFAULT_RETENTION_DAYS 14
#define DWF_DEFAULT_EXECUTION_TIMEOUT_S 86400
/* Paging: GetDurableExecutionState / History / ListDurableExecutions MaxItems. */
#define DWF_LIMIT_PAGE_DEFAULT 100
#define DWF_LIMIT_PAGE_MAX 1000
/* A Lambda deployment package, unzipped. */
#define DWF_LIMIT_UNZIPPED_CODE 262144000
/* A deployment package uploaded directly (CreateFunction / UpdateFunctionCode ZipFile), zipped,
 * and the request that carries it (base64 in JSON, with room for the rest of the request),
 * Lambda's limit for those two operations. */
#define DWF_LIMIT_ZIPPED_CODE 52428800
#define DWF_LIMIT_CODE_REQUEST 70167211

/* A function's Environment.Variables: names match [a-zA-Z][a-zA-Z0-9_]+, names and values
 * together at most this many bytes. */
#define DWF_LIMIT_ENV_BYTES 4096
/* The environment variables Lambda sets itself and refuses in Environment.Variables. */
#define DWF_LAMBDA_RESERVED_ENV(X)                                                             \
    X("_HANDLER") X("_X_AMZN_TRACE_ID") X("AWS_REGION") X("AWS_EXECUTION_ENV")                 \
    X("AWS_LAMBDA_FUNCTION_NAME") X("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")                         \
    X("AWS_LAMBDA_FUNCTION_VERSION") X("AWS_LAMBDA_INITIALIZATION_TYPE")                       \
    X("AWS_LAMBDA_LOG_GROUP_NAME") X("AWS_LAMBDA_LOG_STREAM_NAME") X("AWS_ACCESS_KEY")         \
    X("AWS_ACCESS_KEY_ID") X("AWS_SECRET_ACCESS_KEY") X("AWS_SESSION_TOKEN")                   \
    X("AWS_LAMBDA_RUNTIME_API") X("LAMBDA_TASK_ROOT") X("LAMBDA_RUNTIME_DIR")

#endif /* DWF_PROTOCOL_H */
