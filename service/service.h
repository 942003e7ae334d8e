/*
 * service.h: the durable execution service core, written once and used by every local host:
 * the embedded engine (`dwf run`, service/engine.c) calls it in-process, and the local Lambda
 * emulator (`dwf serve`) maps its REST routes onto it one to one.
 *
 * Every call takes and returns cJSON in the shapes of the AWS API (docs/protocol.md):
 * request bodies are borrowed, *out is a new cJSON the caller frees.
 * Every call returns 0, or -1 with a named error in err (err->type is the API's error name:
 * InvalidParameterValueException, ResourceNotFoundException, CallbackTimeoutException,
 * DurableExecutionAlreadyStartedException, ServiceException, plus StoreLockedException and
 * StoreCorruptException for a store another process holds or a file that is not a store).
 * An HTTP server maps err->type to a status with dwf_service_http_status().
 *
 * Each call is one SQLite transaction: it either applies entirely or changes nothing.
 * Timestamps in the JSON are epoch seconds (numbers), as in the REST API; the invocation event
 * built by dwf_service_begin_invocation() uses ISO-8601 strings, as Lambda sends it.
 * A service handle is thread-safe (calls are serialised).
 */
#ifndef DWF_SERVICE_H
#define DWF_SERVICE_H

#include <cjson/cJSON.h>
#include "dwf_host.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dwf_service dwf_service;

/* A clock: milliseconds since the epoch. */
typedef double (*dwf_clock_fn)(void *arg);

typedef struct dwf_service_opts {
    const char *path;       /* the store; NULL = ./.dwf/dwf.db */
    /* NULL = real time. Tests inject their own. Each execution tree adds its own virtual
     * offset to it (dwf_service_skip_time). */
    dwf_clock_fn clock;
    void *clock_arg;
    int busy_timeout_ms;    /* 0 = $DWF_BUSY_TIMEOUT_MS or 5000 */
    const char *region;     /* for ARNs; NULL = "us-east-1" */
    const char *account;    /* NULL = "000000000000" */
    int max_invocation_attempts; /* a faulting invocation is retried; 0 = 3 attempts in all */
    int event_page;         /* operations in an invocation event before NextMarker; 0 = 1000 */
    int no_purge;           /* do not delete expired executions on open */
    /* Called by the group commit's flusher as a flush starts, after its batch's COMMIT and before
     * the fdatasync, without any lock held (NULL: none). Tests use it to hold a flush while other
     * calls arrive, which shows they share the next transaction and flush whatever the
     * machine's speed. */
    void (*before_flush)(void *arg);
    void *before_flush_arg;
    /* SQLite's page cache in KiB; 0 = 512 (the embedded engine's RSS budget). dwf serve gives
     * DWF_SERVE_CACHE_KIB: its store's working set (every index a new execution touches) is
     * larger, and a cache that cannot hold it re-reads pages at every call, more as the store
     * grows (test_serve_cache_holds_working_set). */
    int cache_kib;
} dwf_service_opts;

#define DWF_SERVE_CACHE_KIB 32768

int dwf_service_open(const dwf_service_opts *o, dwf_service **out, dwf_error *err);
void dwf_service_close(dwf_service *s);
/* The service's clock (ms since the epoch): real time, or the injected clock. */
double dwf_service_now(dwf_service *s);
/* A version-4 UUID (lowercase 8-4-4-4-12) from the service's buffer of the kernel's random bytes:
 * ids and request ids without a system call each. */
void dwf_service_uuid(char out[40]);
/* An execution's clock: the service's plus its tree's virtual offset (the service's clock
 * when the execution is unknown). Timestamps of an execution are on this clock. */
double dwf_service_now_of(dwf_service *s, const char *arn);
/* SQLite's work for this service so far (dwf__store_work): VM steps, and steps of full-table
 * scans. For tests and benchmarks that show a call's cost does not grow with the store. */
void dwf_service_work(dwf_service *s, long long *vm_steps, long long *fullscan_steps);
/* Pages SQLite had to read because its page cache did not hold them, since the open. */
long long dwf_service_cache_misses(dwf_service *s);
/* Group commit (service/store_sync.c): commits = the calls whose work was committed (each in
 * its own savepoint of a batch), transactions = the SQLite transactions (COMMITs) that held them
 * (commits / transactions: calls per transaction), flushes = the fdatasyncs that made them
 * durable, flushed_commits = the calls those covered (flushed_commits / flushes: calls per
 * fsync, above 1 when concurrent calls share), largest_group = the most calls one flush covered,
 * failed_calls = calls of batches whose COMMIT failed (each got the error). */
typedef struct dwf_service_sync_stats_t {
    unsigned long long commits, flushes, flushed_commits, largest_group, transactions, failed_calls;
} dwf_service_sync_stats_t;
void dwf_service_sync_stats(dwf_service *s, dwf_service_sync_stats_t *out);
/* The store file's path. */
const char *dwf_service_store_path(dwf_service *s);

/* HTTP status for a named error (400, 404, 409, 429, 500, ...). */
int dwf_service_http_status(const char *error_type);
/* The function an execution belongs to: "arn:aws:lambda:r:a:function:NAME:QUAL/durable-execution/..."
 * -> NAME in out; -1 when the ARN names no function. */
int dwf_service_function_of(const char *arn, char out[256]);

/* ---- functions -------------------------------------------------------------------------- */
/* Register or update a function: {"FunctionName", "Handler" (path of the loaded handler),
 * "Source", "DurableConfig"?:{"RetentionPeriodInDays","ExecutionTimeout"}}. As on Lambda, a
 * function with a DurableConfig is durable (an Invoke starts a durable execution); one without
 * is plain: it runs no durable execution, and a CHAINED_INVOKE of it is a call (see below). */
int dwf_service_put_function(dwf_service *s, const cJSON *fn, dwf_error *err);
/* The same shape back (DurableConfig only for a durable function). ResourceNotFoundException if unknown. */
int dwf_service_get_function(dwf_service *s, const char *name, cJSON **out, dwf_error *err);

/* ---- Invoke (start) ------------------------------------------------------------------------ */
/* req: {"FunctionName" (name, qualified name or ARN), "Input" (payload text; absent = "{}"),
 * "DurableExecutionName"? (X-Amz-Durable-Execution-Name)}.
 * out: {"DurableExecutionArn","DurableExecutionName","Status","AlreadyStarted":bool}.
 * Same name + same input returns the existing execution; another input gives
 * DurableExecutionAlreadyStartedException. */
int dwf_service_start(dwf_service *s, const cJSON *req, cJSON **out, dwf_error *err);

/* ---- invocations (hosts) --------------------------------------------------------------------- */
/* Build the next invocation event ({"DurableExecutionArn","CheckpointToken",
 * "InitialExecutionState":{"Operations","NextMarker"},"UpdatedOperationIds"?}) with a fresh
 * token; request_id receives a new request id. */
int dwf_service_begin_invocation(dwf_service *s, const char *arn, cJSON **event, char request_id[40],
                                 dwf_error *err);
/* Apply the handler response (borrowed) of the invocation begun at start_ms (dwf_service_now
 * when it began), or, when
 * response is NULL, an invocation fault described by `fault` (retried with backoff, bounded). */
int dwf_service_end_invocation(dwf_service *s, const char *arn, const char *request_id, double start_ms,
                               const cJSON *response, const dwf_error *fault, dwf_error *err);
/* The same for a host that answers nobody with the outcome (dwf serve's Runtime API answers a
 * /response "OK"): it returns without waiting for the store's flush; its changes become durable
 * with the next one, and whoever reads them first waits for that flush. */
int dwf_service_end_invocation_unflushed(dwf_service *s, const char *arn, const char *request_id, double start_ms,
                                         const cJSON *response, const dwf_error *fault, dwf_error *err);
/* Make durable whatever is committed (or open) and not on disk yet: what the calls that wait for
 * no flush left, such as dwf_service_end_invocation_unflushed; nothing when there is none. A
 * host that ends invocations unflushed calls it now and then, so that such an end reaches the
 * disk soon even when no other call comes. 0, or -1 with err (the flush failed). */
int dwf_service_flush(dwf_service *s, dwf_error *err);

/* ---- the durable REST API -------------------------------------------------------------------- */
/* CheckpointDurableExecution: req {"CheckpointToken","Updates":[...]} ->
 * {"CheckpointToken","NewExecutionState":{"Operations":[changed since the last call]}}. */
int dwf_service_checkpoint(dwf_service *s, const char *arn, const cJSON *req, cJSON **out, dwf_error *err);
/* GetDurableExecutionState: {"Operations","NextMarker"?}; max_items 0 = 100 (max 1000). */
int dwf_service_get_state(dwf_service *s, const char *arn, const char *token, const char *marker,
                          int max_items, cJSON **out, dwf_error *err);
/* GetDurableExecution. */
int dwf_service_get_execution(dwf_service *s, const char *arn, int include_data, cJSON **out,
                              dwf_error *err);
/* GetDurableExecutionHistory: {"Events","NextMarker"?}; max_items 0 = 100 (max 1000). */
int dwf_service_get_history(dwf_service *s, const char *arn, int include_data, int max_items,
                            const char *marker, int reverse, cJSON **out, dwf_error *err);
/* ListDurableExecutionsByFunction. query (may be NULL): {"FunctionName"? (absent = every
 * function), "DurableExecutionName"?, "Statuses"?:[..], "StartedAfter"?, "StartedBefore"?
 * (epoch seconds), "ReverseOrder"?, "Marker"?, "MaxItems"?} -> {"DurableExecutions","NextMarker"?}. */
int dwf_service_list_executions(dwf_service *s, const cJSON *query, cJSON **out, dwf_error *err);
/* StopDurableExecution: error_object (may be NULL) -> {"StopTimestamp"}. */
int dwf_service_stop(dwf_service *s, const char *arn, const cJSON *error_object, cJSON **out, dwf_error *err);
/* SendDurableExecutionCallbackSuccess / Failure / Heartbeat. */
int dwf_service_callback_succeed(dwf_service *s, const char *callback_id, const char *result, size_t len,
                                 dwf_error *err);
int dwf_service_callback_fail(dwf_service *s, const char *callback_id, const cJSON *error_object,
                              dwf_error *err);
int dwf_service_callback_heartbeat(dwf_service *s, const char *callback_id, dwf_error *err);

/* ---- scheduling (hosts) ---------------------------------------------------------------------- */
/* Apply every timer due now (WAIT end, STEP retry, callback and heartbeat timeouts, execution
 * timeout) of the execution tree rooted at root_arn, or of every execution (NULL).
 * *fired (may be NULL) receives how many fired. */
int dwf_service_fire_timers(dwf_service *s, const char *root_arn, int *fired, dwf_error *err);
/* ARNs (array of strings) of the executions that need an invocation now, under root_arn
 * (NULL = every execution). An invocation left open longer than stale_ms counts as lost. */
int dwf_service_runnable(dwf_service *s, const char *root_arn, double stale_ms, cJSON **out, dwf_error *err);
/* Where a host's walk over the runnable executions is (start time, then the row's number: the
 * order of the store's status index); start it with DWF_SERVICE_CURSOR_START. */
typedef struct dwf_service_cursor {
    double start_ms;
    long long rowid;
} dwf_service_cursor;
#define DWF_SERVICE_CURSOR_START {-1e300, 0}
/* The same as dwf_service_runnable (every execution), a page at a time: the runnable ones among
 * at most `limit` RUNNING executions that are runnable or hold an open invocation, in start
 * order after *cursor, which moves past the last one visited, or back to the start when fewer
 * than `limit` were (an open invocation is runnable when stale or its local process died). A host
 * that keeps thousands of executions queued reads a bounded page per pass, not all of them. */
int dwf_service_runnable_page(dwf_service *s, double stale_ms, int limit, dwf_service_cursor *cursor, cJSON **out,
                              dwf_error *err);
/* How many times, in this process, an execution was made runnable, or a call due, by anything
 * but a host starting it: an operation changing while no invocation runs (a callback answered,
 * a timer fired, a child or a call ending), a PENDING answer with changes the handler has not
 * seen, a fault's retry, a CHAINED_INVOKE starting its target or making a call. Never
 * decreases. A host that queues what it starts itself (dwf serve's Invoke) reads the runnable
 * page again after a change only when this moved; anything it misses (another process writing
 * the store, a timer coming due, a lost runner) its periodic pass finds. */
unsigned long dwf_service_runnable_marks(void);
/* cJSON_PrintUnformatted(item)'s text, byte for byte, quicker on numbers with a fraction (the
 * timestamps of every operation and event a host answers with; json_out.c). Caller frees;
 * NULL when out of memory. */
char *dwf_service_json_print(const cJSON *item);
/* The earliest instant something is due under root_arn: a WAIT end, a STEP retry or an
 * invocation retry, and with include_deadlines also callback, heartbeat and execution
 * timeouts (deadlines a virtual clock must not jump to: they mean "nobody answered").
 * On the service's clock (dwf_service_now), whatever each execution's virtual offset.
 * *due_ms = -1 when nothing is scheduled. */
int dwf_service_next_due(dwf_service *s, const char *root_arn, int include_deadlines, double *due_ms,
                         dwf_error *err);
/* --skip-time: each execution tree under root_arn (NULL = every one) that is idle (no
 * invocation open or due, no plain call waiting or running) and waits for a WAIT end, a STEP
 * retry or an invocation retry moves its own virtual clock forward to the earliest of them;
 * no other tree's clock moves. Deadlines (callback, heartbeat, execution timeouts) are never
 * jumped to. *moved (may be NULL) receives how many trees jumped. A no-op with an injected
 * clock (the test moves its clock itself). */
int dwf_service_skip_time(dwf_service *s, const char *root_arn, int *moved, dwf_error *err);
/* The open callbacks under root_arn (NULL = every execution): [{"DurableExecutionArn","Id",
 * "Name"?,"CallbackId","StartTimestamp","TimeoutTimestamp"?,"HeartbeatTimestamp"?}], the last
 * two the deadlines of the callback's timeout and heartbeat timeout (epoch seconds). */
int dwf_service_open_callbacks(dwf_service *s, const char *root_arn, cJSON **out, dwf_error *err);
/* Every operation of an execution, in start order, Operation shape (no token needed: CLI). */
int dwf_service_operations(dwf_service *s, const char *arn, cJSON **out, dwf_error *err);
/* The workflow an execution started on: {"WorkflowHash"?, "Handler"?, "Source"?} (the hash of
 * its .dwf text, recorded at start from the function's WorkflowHash; the handler and source of
 * that version when the store knows them). Absent for executions started without a hash. */
int dwf_service_execution_workflow(dwf_service *s, const char *arn, cJSON **out, dwf_error *err);
/* Record that an execution now runs on the workflow `hash` (verified, or forced). */
int dwf_service_set_execution_workflow(dwf_service *s, const char *arn, const char *hash, dwf_error *err);
/* Test doubles (dwf test): a chained invoke's START asks `fn` first (kind DWF_MOCK_INVOKE, name
 * the FunctionName, request the payload); RETURN completes the operation at once with the
 * value, FAIL fails it with the error, PASS starts the target as usual. NULL removes it. */
void dwf_service_set_invoke_mock(dwf_service *s, dwf_mock_fn fn, void *arg);
/* ---- plain functions called by a CHAINED_INVOKE (hosts) --------------------------------------- */
/* The calls waiting for a host, under root_arn (NULL = every execution): [{"CallId","FunctionName"}],
 * oldest first. A call taken by a runner that died, or longer than stale_ms ago (< 0: never),
 * is waiting again. */
int dwf_service_calls_due(dwf_service *s, const char *root_arn, double stale_ms, cJSON **out, dwf_error *err);
/* Take a waiting call: {"CallId","FunctionName","Payload" (the event, JSON text),"CallerArn"}.
 * InvalidParameterValueException when it is no longer waiting (answered, its caller closed). */
int dwf_service_call_begin(dwf_service *s, const char *call_id, cJSON **out, dwf_error *err);
/* The handler's answer: its value (result, JSON text) or, with error (an ErrorObject:
 * ErrorType, ErrorMessage, StackTrace?), its failure. Completes the caller's CHAINED_INVOKE
 * (SUCCEEDED / FAILED and the event) and wakes it. A call whose caller moved on is dropped. */
int dwf_service_call_end(dwf_service *s, const char *call_id, const char *result, const cJSON *error,
                         dwf_error *err);

/* Delete closed executions older than their RetentionPeriodInDays, counted in real time from
 * their end (a virtual clock moved for some execution purges nothing). */
int dwf_service_purge_expired(dwf_service *s, int *deleted, dwf_error *err);

/* ---- dwf serve's control plane (registry.c): kept in the store, meaning owned by the emulator ---- */
/* Save one version of a function ("$LATEST", "1", ...): its FunctionConfiguration JSON and the
 * SHA-256 (hex) of its zip; zip (zip_len bytes) is stored under that hash unless NULL (the
 * code is already there). */
int dwf_service_put_function_version(dwf_service *s, const char *name, const char *version, const cJSON *config,
                                     const char *sha256_hex, const void *zip, size_t zip_len, dwf_error *err);
/* Every saved version: [{"Name","Version","Config","CodeSha256Hex"}], by name, then creation. */
int dwf_service_list_function_versions(dwf_service *s, cJSON **out, dwf_error *err);
/* The zip stored under a SHA-256 (hex), malloc'd. ResourceNotFoundException when there is none. */
int dwf_service_function_code(dwf_service *s, const char *sha256_hex, void **zip, size_t *len, dwf_error *err);
/* Delete one version of a function (version non-NULL) or all of them, and the code no version uses. */
int dwf_service_delete_function_versions(dwf_service *s, const char *name, const char *version, dwf_error *err);
/* IAM roles: the Role JSON and {PolicyName: document JSON text}. get: 0 found, 1 not found, -1 error. */
int dwf_service_put_role(dwf_service *s, const char *name, const cJSON *role, const cJSON *policies, dwf_error *err);
int dwf_service_get_role(dwf_service *s, const char *name, cJSON **role, cJSON **policies, dwf_error *err);
int dwf_service_delete_role(dwf_service *s, const char *name, dwf_error *err);

#ifdef __cplusplus
}
#endif
#endif
