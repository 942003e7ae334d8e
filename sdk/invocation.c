/*
 * invocation.c: one invocation of a durable handler, from event to handler response.
 *
 * Reads the event (ARN, token, initial state, further pages through the transport), builds the
 * operation table, runs the workflow body on the root context and turns its status into the
 * handler response: SUCCEEDED with the JSON text of the value, FAILED with an ErrorObject, or
 * PENDING. A workflow error that escapes the body first runs the saga compensations. A failed
 * checkpoint call is an invocation-scoped fault: NULL and err, so the host retries the
 * invocation (the SDK throws); a non-retryable one fails the execution as the SDK does.
 *
 * PENDING is only answered when the table shows something pending (a STEP waiting for its
 * retry, a WAIT, CALLBACK or CHAINED_INVOKE in STARTED). If the body suspended but the service
 * already moved everything on (a step READY, a timer that fired), the body is replayed in this
 * same invocation instead.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "core.h"

#define MAX_RERUNS 100

static void set_err(dwf_error *err, const char *type, const char *msg)
{
    if (!err) return;
    snprintf(err->type, sizeof err->type, "%s", type);
    snprintf(err->message, sizeof err->message, "%s", msg);
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(f) ? f->valuestring : NULL;
}

/* Put a page of operations into the table. -1 when out of memory. */
static int load_ops(dwf__inv *inv, const cJSON *ops, const char **input_payload, int *seen_first)
{
    const cJSON *op;
    cJSON_ArrayForEach(op, ops)
    {
        const char *type = str_of(op, "Type");
        if (!*seen_first || (dwf_optype_parse(type) == DWF_OPTYPE_EXECUTION && !*input_payload)) {
            /* the user input is the first (EXECUTION) operation's InputPayload */
            const cJSON *ed = cJSON_GetObjectItemCaseSensitive(op, "ExecutionDetails");
            const char *p = str_of(ed, "InputPayload");
            if (p || !*seen_first) *input_payload = p;
            *seen_first = 1;
        }
        /* read in place (merging takes what it keeps): a copy of every record was a
         * cJSON_Duplicate and its cJSON_Delete per operation of the history */
        if (dwf__merge_record(inv, op) != 0) return -1;
    }
    return 0;
}

static int something_pending(dwf__inv *inv)
{
    int pending = 0;
    pthread_mutex_lock(&inv->mu);
    for (size_t i = 0; i < inv->ops.cap && !pending; i++) {
        const dwf__op *op = inv->ops.slots[i].key ? inv->ops.slots[i].val : NULL;
        if (!op) continue;
        if (op->type == DWF_OPTYPE_STEP) pending = op->status == DWF_OPSTATUS_PENDING;
        else if (op->type == DWF_OPTYPE_WAIT || op->type == DWF_OPTYPE_CALLBACK ||
                 op->type == DWF_OPTYPE_CHAINED_INVOKE)
            pending = op->status == DWF_OPSTATUS_STARTED;
    }
    pthread_mutex_unlock(&inv->mu);
    return pending;
}

static cJSON *response_failed(const char *type, const char *message, const char *data)
{
    cJSON *r = cJSON_CreateObject();
    cJSON *e = r ? cJSON_CreateObject() : NULL;
    if (!e || !cJSON_AddStringToObject(r, "Status", "FAILED") ||
        !cJSON_AddStringToObject(e, "ErrorType", type) ||
        !cJSON_AddStringToObject(e, "ErrorMessage", message ? message : "") ||
        (data && !cJSON_AddStringToObject(e, "ErrorData", data))) {
        cJSON_Delete(e);
        cJSON_Delete(r);
        return NULL;
    }
    cJSON_AddItemToObjectCS(r, "Error", e); /* literal key: no allocation, cannot fail */
    return r;
}

static cJSON *response_status(const char *status, const char *result)
{
    cJSON *r = cJSON_CreateObject();
    if (!r || !cJSON_AddStringToObject(r, "Status", status) ||
        (result && !cJSON_AddStringToObject(r, "Result", result))) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

/* The answer for a fatal stop: the fault of a checkpoint call, or the execution's error. */
static cJSON *fatal_response(dwf__inv *inv, dwf_error *err)
{
    /* The execution ends FAILED: what is queued (deferred and pipelined step results) becomes
     * durable first, as before any end, so the history holds every step that finished. */
    int fatal = __atomic_load_n(&inv->fatal, __ATOMIC_ACQUIRE); /* dwf__fatal publishes it last */
    if (fatal && !__atomic_load_n(&inv->fault, __ATOMIC_ACQUIRE)) (void)dwf__checkpoint_flush(inv);
    if (__atomic_load_n(&inv->fault, __ATOMIC_ACQUIRE)) { /* the sender may have set it */
        const dwf_error *fe = dwf__fault_error(inv);
        if (inv->fault_retryable) {
            if (err) *err = *fe;
            return NULL;
        }
        return response_failed(fe->type, fe->message, NULL);
    }
    if (fatal) return response_failed(inv->fatal_type, inv->fatal_msg, NULL);
    set_err(err, "InternalError", "workflow stopped without a recorded reason");
    return NULL;
}

static cJSON *succeed(dwf__inv *inv, dwf_ctx *root, dwf_val *value, dwf_error *err)
{
    if (!value) { /* the handler returned undefined: the SDK omits Result */
        cJSON *r = response_status("SUCCEEDED", NULL);
        if (!r) set_err(err, "OutOfMemory", "out of memory");
        return r;
    }
    char *text = dwf__to_json(value);
    if (!text) {
        set_err(err, "OutOfMemory", "out of memory serialising the result");
        return NULL;
    }
    cJSON *resp = NULL;
    if (strlen(text) > DWF_LIMIT_SYNC_PAYLOAD - DWF_LIMIT_RESULT_SLACK) {
        /* Too big for the handler response: checkpoint it on the EXECUTION and answer "". */
        char *sid = NULL, id[17];
        cJSON *u = NULL;
        if (asprintf(&sid, "execution-result-%.0f", dwf__now_ms(root)) >= 0) {
            dwf_hash_id(sid, id);
            free(sid);
            u = dwf__update_new(root, id, DWF_OPTYPE_EXECUTION, DWF_SUBTYPE_NONE, DWF_ACTION_SUCCEED, NULL);
        }
        int ok = u && cJSON_AddStringToObject(u, "Payload", text);
        if (!ok) {
            cJSON_Delete(u);
            free(text);
            set_err(err, "OutOfMemory", "out of memory");
            return NULL;
        }
        if (dwf__checkpoint(root, u, 1) != DWF_OK) {
            free(text);
            return fatal_response(inv, err);
        }
        resp = response_status("SUCCEEDED", "");
    } else {
        resp = response_status("SUCCEEDED", text);
    }
    free(text);
    if (!resp) set_err(err, "OutOfMemory", "out of memory");
    return resp;
}

static void inv_free(dwf__inv *inv)
{
    dwf__checkpoint_stop_sender(inv);
    dwf__checkpoint_drop(inv);
    for (size_t i = 0; i < inv->ops.cap; i++)
        if (inv->ops.slots[i].key) dwf__op_free(inv->ops.slots[i].val);
    dwf__map_free(&inv->ops);
    dwf__map_free(&inv->callbacks);
    for (size_t i = 0; i < inv->nparked; i++) dwf__op_free(inv->parked[i]);
    free(inv->parked);
    for (size_t i = 0; i < inv->npool; i++) {
        if (inv->pool[i].is_json) cJSON_Delete(inv->pool[i].p);
        else free(inv->pool[i].p);
    }
    free(inv->pool);
    for (size_t i = 0; i < inv->ncomps; i++) {
        free(inv->comps[i].step_id);
        free(inv->comps[i].name);
    }
    free(inv->comps);
    cJSON_Delete(inv->input);
    cJSON_Delete(inv->secret_cache);
    free(inv->fatal_msg);
    free(inv->fault_err);
    free(inv->arn);
    free(inv->token);
    pthread_mutex_destroy(&inv->mu);
    pthread_mutex_destroy(&inv->pool_mu);
    pthread_cond_destroy(&inv->cv);
}

static void clear_compensations(dwf__inv *inv)
{
    pthread_mutex_lock(&inv->mu);
    for (size_t i = 0; i < inv->ncomps; i++) {
        free(inv->comps[i].step_id);
        free(inv->comps[i].name);
    }
    inv->ncomps = 0;
    pthread_mutex_unlock(&inv->mu);
}

/* The execution state the event carries and, while NextMarker says there is more, the pages
 * GetDurableExecutionState gives (asked for with the event's token); then the input, the
 * EXECUTION operation's InputPayload ({} when absent). *nops counts the operations. */
static int load_state(dwf__inv *inv, const cJSON *event, dwf_error *err, size_t *nops)
{
    dwf_transport *t = inv->t;
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(event, "InitialExecutionState");
    const cJSON *ops = cJSON_GetObjectItemCaseSensitive(state, "Operations");
    const char *input_payload = NULL, *token = str_of(event, "CheckpointToken");
    int seen_first = 0;
    *nops = (size_t)cJSON_GetArraySize(ops);
    if (dwf__map_init(&inv->ops, *nops) != 0 || dwf__map_init(&inv->callbacks, 16) != 0 ||
        load_ops(inv, ops, &input_payload, &seen_first) != 0) {
        set_err(err, "OutOfMemory", "out of memory loading the execution state");
        return -1;
    }
    char *input = input_payload ? strdup(input_payload) : NULL;
    const char *marker = str_of(state, "NextMarker");
    char *mk = marker && *marker ? strdup(marker) : NULL;
    int rc = 0;
    while (mk && rc == 0) {
        cJSON *page = NULL;
        const char *ip = NULL;
        if (!t->get_state || t->get_state(t, inv->arn, token, mk, &page, err) != 0) {
            if (err && !err->type[0]) set_err(err, "ServiceException", "GetDurableExecutionState failed");
            rc = -1;
        } else if (load_ops(inv, cJSON_GetObjectItemCaseSensitive(page, "Operations"), &ip,
                            &seen_first) != 0) {
            set_err(err, "OutOfMemory", "out of memory loading the execution state");
            rc = -1;
        }
        free(mk);
        mk = NULL;
        if (rc == 0) {
            if (!input && ip) input = strdup(ip);
            const char *next = str_of(page, "NextMarker");
            if (next && *next) mk = strdup(next);
            *nops += (size_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(page, "Operations"));
        }
        cJSON_Delete(page);
    }
    if (rc == 0) {
        inv->input = input ? dwf__parse_json(input, strlen(input), NULL) : cJSON_CreateObject();
        if (!inv->input) set_err(err, "SerdesFailed", "the execution input is not valid JSON");
        rc = inv->input ? 0 : -1;
    }
    free(input);
    return rc;
}

/* The body ended with an uncaught error: run the compensations, then answer FAILED with it.
 * *suspended when a compensation must wait (the invocation answers as a suspension does). */
static cJSON *body_failed(dwf__inv *inv, dwf_ctx *root, dwf_error *err, int *suspended)
{
    cJSON *e = dwf__take_error_copy(root);
    int crc = e ? dwf__run_compensations(root) : DWF_FATAL;
    cJSON *resp = NULL;
    *suspended = crc == DWF_SUSPEND;
    if (*suspended) {
        /* nothing to answer yet */
    } else if (!e) {
        set_err(err, "OutOfMemory", "out of memory");
    } else if (crc != DWF_OK || dwf__checkpoint_flush(inv) != 0) {
        resp = fatal_response(inv, err);
    } else {
        const char *type = str_of(e, "ErrorType"), *msg = str_of(e, "ErrorMessage");
        resp = response_failed(type ? type : "Error", msg, str_of(e, "ErrorData"));
        if (!resp) set_err(err, "OutOfMemory", "out of memory");
    }
    cJSON_Delete(e);
    return resp;
}

/* The body suspended: PENDING when the table shows something pending; *again when the service
 * has moved everything on meanwhile, so the body should be replayed in this invocation. */
static cJSON *body_suspended(dwf__inv *inv, int run, dwf_error *err, int *again)
{
    *again = 0;
    if (dwf__checkpoint_flush(inv) != 0) return fatal_response(inv, err);
    if (something_pending(inv)) {
        cJSON *resp = response_status("PENDING", NULL);
        if (!resp) set_err(err, "OutOfMemory", "out of memory");
        return resp;
    }
    if (run + 1 >= MAX_RERUNS)
        return response_failed("InternalError", "the workflow suspended with nothing pending", NULL);
    clear_compensations(inv); /* replay again: the state moved on meanwhile */
    *again = 1;
    return NULL;
}

/* Verify mode: how the replay ended, without compensations or a second run (nothing is ever
 * written, so nothing can have moved on): SUCCEEDED when the code ran to its end, FAILED with
 * the fault when it could not replay, PENDING when it stopped at the end of the history. */
static cJSON *verify_response(dwf__inv *inv, int rc, dwf_error *err)
{
    cJSON *resp = NULL;
    if (__atomic_load_n(&inv->fatal, __ATOMIC_ACQUIRE)) resp = response_failed(inv->fatal_type, inv->fatal_msg, NULL);
    else if (rc == DWF_OK || rc == DWF_RETURN || rc == DWF_ERROR)
        resp = response_status("SUCCEEDED", NULL);
    else resp = response_status("PENDING", NULL);
    if (!resp) set_err(err, "OutOfMemory", "out of memory");
    return resp;
}

/* Run the workflow body on the root context (again, while it suspends with nothing pending)
 * and turn how it ended into the handler response. */
static cJSON *run_body(dwf__inv *inv, size_t nops, dwf_error *err)
{
    const dwf_workflow *wf = inv->wf;
    for (int run = 0;; run++) {
        dwf_ctx root;
        dwf__ctx_init(&root, inv, NULL);
        /* Replaying while records exist beyond the EXECUTION one; a re-run in this invocation
         * replays what the run before it recorded too (so its logs are not written twice). */
        root.replaying = (run == 0 ? nops : inv->ops.len) > 1;
        void *frame = NULL;
        if (wf->frame_size) {
            frame = dwf__pool_take(inv, calloc(1, wf->frame_size));
            if (!frame) {
                set_err(err, "OutOfMemory", "out of memory for the workflow frame");
                return NULL;
            }
        }
        root.frame = frame;
        dwf_val *value = NULL;
        int rc = wf->body(&root, frame, &value);
        if (rc == DWF_OK && root.error) rc = DWF_ERROR; /* an unchecked value-helper error */
        if (inv->opts && inv->opts->verify) return verify_response(inv, rc, err);
        /* A fault recorded where no status could carry it (a batch item that hit one after
         * its batch was decided, an allocation failure in a value helper) still ends it. */
        if (__atomic_load_n(&inv->fatal, __ATOMIC_ACQUIRE) || __atomic_load_n(&inv->fault, __ATOMIC_ACQUIRE))
            rc = DWF_FATAL;
        if (rc == DWF_OK || rc == DWF_RETURN) {
            if (dwf__checkpoint_flush(inv) != 0) return fatal_response(inv, err);
            return succeed(inv, &root, value, err);
        }
        int again = 0;
        if (rc == DWF_ERROR) {
            cJSON *resp = body_failed(inv, &root, err, &again);
            if (!again) return resp;
            rc = DWF_SUSPEND;
        }
        if (rc == DWF_SUSPEND) {
            cJSON *resp = body_suspended(inv, run, err, &again);
            if (again) continue;
            return resp;
        }
        /* DWF_FATAL, or a status the body should never return */
        if (rc != DWF_FATAL && !__atomic_load_n(&inv->fatal, __ATOMIC_ACQUIRE) &&
            !__atomic_load_n(&inv->fault, __ATOMIC_ACQUIRE))
            dwf__fatal(&root, "InternalError", "workflow body returned status %d", rc);
        return fatal_response(inv, err);
    }
}

/* The process id the jitter's seed mixes in, asked once per process (and again in a forked
 * child): getpid() is a system call every time since glibc 2.25, one per invocation. */
static pid_t rng_pid;
static pthread_once_t rng_pid_once = PTHREAD_ONCE_INIT;
static void rng_pid_forked(void) { rng_pid = getpid(); }
static void rng_pid_init(void)
{
    rng_pid = getpid();
    pthread_atfork(NULL, NULL, rng_pid_forked);
}
static pid_t process_id(void)
{
    pthread_once(&rng_pid_once, rng_pid_init);
    return rng_pid;
}

cJSON *dwf_run_invocation(const dwf_workflow *wf, const cJSON *event, dwf_transport *t,
                          const dwf_invoke_opts *opts, dwf_error *err)
{
    if (err) memset(err, 0, sizeof *err);
    const char *arn = str_of(event, "DurableExecutionArn");
    const char *token = str_of(event, "CheckpointToken");
    if (!wf || !wf->body || !t || !t->checkpoint) {
        set_err(err, "InvalidParameterValueException", "no workflow or transport");
        return NULL;
    }
    if (!arn || !token) {
        set_err(err, "InvalidParameterValueException",
                "invocation event lacks DurableExecutionArn or CheckpointToken");
        return NULL;
    }
    /* On the heap: a step thread abandoned past its timeout may still reach it after we return,
     * so then it is left allocated (see abandoned in core.h). */
    dwf__inv *inv = calloc(1, sizeof *inv);
    if (!inv) {
        set_err(err, "OutOfMemory", "out of memory");
        return NULL;
    }
    inv->wf = wf;
    inv->t = t;
    inv->opts = opts;
    pthread_mutex_init(&inv->mu, NULL);
    pthread_mutex_init(&inv->pool_mu, NULL);
    pthread_cond_init(&inv->cv, NULL);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    inv->rng = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)process_id() << 40) ^
              0x9E3779B97F4A7C15ULL;
    /* dwf test (a mock hook): the same test draws the same retry jitter every run, so whether
     * six jittered retries fit in a 120 s execution timeout is not a coin toss. */
    if (opts && opts->mock) inv->rng = 0x9E3779B97F4A7C15ULL;
    inv->arn = strdup(arn);
    inv->token = strdup(token);
    size_t nops = 0;
    cJSON *resp = NULL;
    if (!inv->arn || !inv->token) set_err(err, "OutOfMemory", "out of memory loading the execution state");
    else if (load_state(inv, event, err, &nops) == 0) resp = run_body(inv, nops, err);
    dwf__checkpoint_stop_sender(inv); /* run_body flushed what the answer depends on */
    if (__atomic_load_n(&inv->abandoned, __ATOMIC_ACQUIRE)) return resp; /* leaked on purpose */
    inv_free(inv);
    free(inv);
    return resp;
}
