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
enum dwf_subtype {
    DWF_SUBTYPE_NONE = 0,
#define DWF__X(e, s) DWF_SUBTYPE_##e,
    DWF_SUBTYPES(DWF__X)
#undef DWF__X
    DWF_SUBTYPE_UNKNOWN
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
#undef DWF__NAME_OF
#define DWF__NAME_OF(e, s) , s
DWF__NAMES(subtype, DWF_SUBTYPES)
#undef DWF__NAME_OF
#undef DWF__NAMES

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
/* Paging: GetDurableExecutionState / History / ListDurableExecutions MaxItems. */
#define DWF_LIMIT_PAGE_DEFAULT 100
#define DWF_LIMIT_PAGE_MAX 1000
/* A Lambda deployment package, unzipped. */
#define DWF_LIMIT_UNZIPPED_CODE 262144000

#endif /* DWF_PROTOCOL_H */
