/*
 * test_rt_core.c: the replay core (dwf_run_invocation and the durable operations) against an
 * in-memory fake of the durable execution service.
 *
 * Workflows are written by hand exactly as generated code would be (a frame struct, static
 * body functions, DWF_TRY). The fake service is a small state machine: it applies START /
 * SUCCEED / FAIL / RETRY updates as the durable service does (docs/protocol.md), rotates the token,
 * assigns CallbackIds, and between invocations lets time pass (waits finish, retried steps
 * turn READY, chained invokes finish, callbacks complete as the test scripts). Each test then
 * looks at the operation history, the checkpoint calls and the side-effect counters.
 */
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#include "core.h" /* dwf__map, the core's own hash table, indexes the fake's records */
#include "tinytest.h"

/* ---- the fake service ----------------------------------------------------------------- */
typedef struct fake {
    cJSON *ops;   /* array of Operation records, in START order */
    dwf__map index; /* Id -> record in ops */
    int record_calls_off; /* the 10,000-step test keeps only a count */
    int pipelined;        /* run with pipelining (the default outside these tests) */
    int hold_call;        /* hold the Nth call (1-based) until `hold_until` step bodies ran */
    int hold_until;
    int hold_max_ms;      /* ...or at most this long (0: 20 s) */
    int step_succeeds;    /* STEP SUCCEED updates received */
    int peak_lag;         /* most step bodies run whose SUCCEED had not arrived, seen at a call */
    int ncalls_total;
    cJSON *calls; /* array of the Updates arrays of every checkpoint call */
    int tokens;
    char token[32];
    int fail_call;      /* make the Nth checkpoint call (1-based) fail; 0 = never */
    int fail_retryable;
    int page_size;      /* 0 = everything in the event */
    int get_state_calls;
    char exec_result[64]; /* set by an EXECUTION SUCCEED */
    size_t exec_result_len;
    int invocations;
    pthread_mutex_t mu;
} fake;

static void fake_init(fake *f)
{
    memset(f, 0, sizeof *f);
    f->ops = cJSON_CreateArray();
    dwf__map_init(&f->index, 64);
    f->calls = cJSON_CreateArray();
    f->fail_retryable = 1;
    snprintf(f->token, sizeof f->token, "tok-0");
    pthread_mutex_init(&f->mu, NULL);
}

static void fake_free(fake *f)
{
    cJSON_Delete(f->ops);
    dwf__map_free(&f->index);
    cJSON_Delete(f->calls);
    pthread_mutex_destroy(&f->mu);
}

static cJSON *fake_op(fake *f, const char *id) { return dwf__map_get(&f->index, id); }

static const char *sget(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void set_str(cJSON *o, const char *k, const char *v)
{
    cJSON_DeleteItemFromObjectCaseSensitive(o, k);
    if (v) cJSON_AddStringToObject(o, k, v);
}

static cJSON *details(cJSON *op, const char *k)
{
    cJSON *d = cJSON_GetObjectItemCaseSensitive(op, k);
    return d ? d : cJSON_AddObjectToObject(op, k);
}

static void bump_attempt(cJSON *sd)
{
    cJSON *a = cJSON_GetObjectItemCaseSensitive(sd, "Attempt");
    int n = a ? a->valueint + 1 : 1;
    cJSON_DeleteItemFromObjectCaseSensitive(sd, "Attempt");
    cJSON_AddNumberToObject(sd, "Attempt", n);
}

static void apply(fake *f, const cJSON *u, cJSON *changed)
{
    const char *id = sget(u, "Id"), *type = sget(u, "Type"), *action = sget(u, "Action");
    if (!strcmp(type, "EXECUTION")) {
        const char *p = sget(u, "Payload");
        snprintf(f->exec_result, sizeof f->exec_result, "%.60s", p ? p : "");
        f->exec_result_len = p ? strlen(p) : 0;
        return;
    }
    cJSON *op = fake_op(f, id);
    if (!op) {
        op = cJSON_CreateObject();
        cJSON_AddStringToObject(op, "Id", id);
        cJSON_AddStringToObject(op, "Type", type);
        if (sget(u, "ParentId")) cJSON_AddStringToObject(op, "ParentId", sget(u, "ParentId"));
        if (sget(u, "Name")) cJSON_AddStringToObject(op, "Name", sget(u, "Name"));
        if (sget(u, "SubType")) cJSON_AddStringToObject(op, "SubType", sget(u, "SubType"));
        cJSON_AddStringToObject(op, "Status", "STARTED");
        cJSON_AddItemToArray(f->ops, op);
        dwf__map_put(&f->index, id, op, NULL);
    }
    const char *payload = sget(u, "Payload");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(u, "Error");
    if (!strcmp(type, "STEP")) {
        cJSON *sd = details(op, "StepDetails");
        if (!strcmp(action, "START")) set_str(op, "Status", "STARTED");
        else if (!strcmp(action, "SUCCEED") || !strcmp(action, "FAIL") || !strcmp(action, "RETRY")) {
            set_str(op, "Status", !strcmp(action, "SUCCEED") ? "SUCCEEDED"
                                  : !strcmp(action, "FAIL")  ? "FAILED"
                                                             : "PENDING");
            bump_attempt(sd);
            set_str(sd, "Result", payload);
            cJSON_DeleteItemFromObjectCaseSensitive(sd, "Error");
            if (err) cJSON_AddItemToObject(sd, "Error", cJSON_Duplicate(err, 1));
        }
    } else if (!strcmp(type, "CONTEXT")) {
        cJSON *cd = details(op, "ContextDetails");
        if (!strcmp(action, "SUCCEED")) {
            set_str(op, "Status", "SUCCEEDED");
            set_str(cd, "Result", payload);
            const cJSON *co = cJSON_GetObjectItemCaseSensitive(u, "ContextOptions");
            if (co && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(co, "ReplayChildren")))
                cJSON_AddTrueToObject(cd, "ReplayChildren");
        } else if (!strcmp(action, "FAIL")) {
            set_str(op, "Status", "FAILED");
            if (err) cJSON_AddItemToObject(cd, "Error", cJSON_Duplicate(err, 1));
        }
    } else if (!strcmp(type, "CALLBACK")) {
        char cb[64];
        snprintf(cb, sizeof cb, "cb-%s", id);
        set_str(details(op, "CallbackDetails"), "CallbackId", cb);
    } else if (!strcmp(type, "WAIT")) {
        details(op, "WaitDetails");
    } else if (!strcmp(type, "CHAINED_INVOKE")) {
        details(op, "ChainedInvokeDetails");
    }
    /* the response lists each changed op once */
    cJSON *c;
    cJSON_ArrayForEach(c, changed) if (!strcmp(c->valuestring, id)) return;
    cJSON_AddItemToArray(changed, cJSON_CreateString(id));
}

/* The pipelined tests' step bodies count their runs here (by step index). A body run and a call
 * entering the fake signal pipe_cv, so a test waits for what it needs, not for time to pass. */
#define PIPE_STEPS 1000
static int pipe_runs[PIPE_STEPS];
static int pipe_runs_total;
static int pipe_calls_entered;
static int pipe_first_waits; /* step 0's body waits until the first call has entered the fake */
static pthread_mutex_t pipe_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pipe_cv = PTHREAD_COND_INITIALIZER;

static void pipe_reset(int first_waits)
{
    memset(pipe_runs, 0, sizeof pipe_runs);
    pipe_runs_total = 0;
    pipe_calls_entered = 0;
    pipe_first_waits = first_waits;
}

/* Wait until *counter >= target (signalled on pipe_cv), or max_ms: a bound for a core that
 * never gets there, which the test's checks then catch. */
static void pipe_wait(const int *counter, int target, int max_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += max_ms / 1000;
    until.tv_nsec += (long)(max_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&pipe_mu);
    while (__atomic_load_n(counter, __ATOMIC_ACQUIRE) < target &&
           pthread_cond_timedwait(&pipe_cv, &pipe_mu, &until) == 0) {
    }
    pthread_mutex_unlock(&pipe_mu);
}

static void pipe_bump(int *counter)
{
    pthread_mutex_lock(&pipe_mu);
    __atomic_add_fetch(counter, 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&pipe_cv);
    pthread_mutex_unlock(&pipe_mu);
}

/* Hold the call f->hold_call until f->hold_until step bodies have run: only a body that goes on
 * while a call is in flight gets there (bounded at 20 s: a core that waits fails the checks). */
static void hold_if_asked(fake *f)
{
    pipe_bump(&pipe_calls_entered);
    pthread_mutex_lock(&f->mu);
    int hold = f->hold_call && f->ncalls_total + 1 == f->hold_call;
    pthread_mutex_unlock(&f->mu);
    if (hold) pipe_wait(&pipe_runs_total, f->hold_until, f->hold_max_ms ? f->hold_max_ms : 20000);
}

static int fake_checkpoint(dwf_transport *t, const char *arn, const cJSON *req, cJSON **resp,
                           dwf_error *err, int *retryable)
{
    fake *f = t->impl;
    (void)arn;
    hold_if_asked(f);
    pthread_mutex_lock(&f->mu);
    const cJSON *ups = cJSON_GetObjectItemCaseSensitive(req, "Updates");
    if (!f->record_calls_off) cJSON_AddItemToArray(f->calls, cJSON_Duplicate(ups, 1));
    int n = ++f->ncalls_total;
    int lag = __atomic_load_n(&pipe_runs_total, __ATOMIC_ACQUIRE) - f->step_succeeds;
    if (lag > f->peak_lag) f->peak_lag = lag;
    const cJSON *su;
    cJSON_ArrayForEach(su, ups) f->step_succeeds += !strcmp(sget(su, "Type"), "STEP") && !strcmp(sget(su, "Action"), "SUCCEED");
    const char *tok = sget(req, "CheckpointToken");
    if ((f->fail_call && n == f->fail_call) || !tok || strcmp(tok, f->token) != 0) {
        snprintf(err->type, sizeof err->type, "%s",
                 f->fail_call == n ? "ServiceException" : "InvalidParameterValueException");
        snprintf(err->message, sizeof err->message, "%s",
                 f->fail_call == n ? "injected failure" : "Invalid Checkpoint Token");
        *retryable = f->fail_call == n ? f->fail_retryable : 1;
        pthread_mutex_unlock(&f->mu);
        return -1;
    }
    cJSON *changed = cJSON_CreateArray();
    const cJSON *u;
    cJSON_ArrayForEach(u, ups) apply(f, u, changed);
    snprintf(f->token, sizeof f->token, "tok-%d", ++f->tokens);
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "CheckpointToken", f->token);
    cJSON *ops = cJSON_AddArrayToObject(cJSON_AddObjectToObject(r, "NewExecutionState"), "Operations");
    cJSON *c;
    cJSON_ArrayForEach(c, changed) cJSON_AddItemToArray(ops, cJSON_Duplicate(fake_op(f, c->valuestring), 1));
    cJSON_Delete(changed);
    *resp = r;
    pthread_mutex_unlock(&f->mu);
    return 0;
}

static cJSON *exec_op(const char *input)
{
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "Id", "0f9b7c56-exec");
    cJSON_AddStringToObject(e, "Type", "EXECUTION");
    cJSON_AddStringToObject(e, "Status", "STARTED");
    if (input) cJSON_AddStringToObject(cJSON_AddObjectToObject(e, "ExecutionDetails"), "InputPayload", input);
    return e;
}

static const char *fake_input;

static int fake_get_state(dwf_transport *t, const char *arn, const char *token, const char *marker,
                          cJSON **response, dwf_error *err)
{
    fake *f = t->impl;
    (void)arn;
    (void)token;
    (void)err;
    f->get_state_calls++;
    int from = atoi(marker); /* index into [EXECUTION, ops...] */
    int total = cJSON_GetArraySize(f->ops) + 1;
    cJSON *r = cJSON_CreateObject();
    cJSON *ops = cJSON_AddArrayToObject(r, "Operations");
    int i;
    for (i = from; i < total && i < from + f->page_size; i++)
        cJSON_AddItemToArray(ops, i == 0 ? exec_op(fake_input) : cJSON_Duplicate(cJSON_GetArrayItem(f->ops, i - 1), 1));
    if (i < total) {
        char m[16];
        snprintf(m, sizeof m, "%d", i);
        cJSON_AddStringToObject(r, "NextMarker", m);
    }
    *response = r;
    return 0;
}

static double fake_now(dwf_transport *t)
{
    (void)t;
    return 1774019546545.0;
}

static cJSON *fake_event(fake *f, const char *input)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddStringToObject(ev, "DurableExecutionArn", "arn:aws:lambda:us-east-1:1:function:t:$LATEST/durable-execution/x/1");
    cJSON_AddStringToObject(ev, "CheckpointToken", f->token);
    cJSON *st = cJSON_AddObjectToObject(ev, "InitialExecutionState");
    cJSON *ops = cJSON_AddArrayToObject(st, "Operations");
    int total = cJSON_GetArraySize(f->ops) + 1, n = f->page_size ? f->page_size : total;
    cJSON_AddItemToArray(ops, exec_op(input));
    cJSON *it = f->ops->child;
    for (int i = 1; i < total && i < n; i++, it = it->next) cJSON_AddItemToArray(ops, cJSON_Duplicate(it, 1));
    char m[16] = "";
    if (n < total) snprintf(m, sizeof m, "%d", n);
    cJSON_AddStringToObject(st, "NextMarker", m);
    return ev;
}

/* Let time pass: waits finish, retries turn READY, invokes finish with `invoke_result`. */
static void fake_advance(fake *f, const char *invoke_result)
{
    cJSON *op;
    cJSON_ArrayForEach(op, f->ops)
    {
        const char *type = sget(op, "Type"), *st = sget(op, "Status");
        if (!strcmp(type, "WAIT") && !strcmp(st, "STARTED")) set_str(op, "Status", "SUCCEEDED");
        if (!strcmp(type, "STEP") && !strcmp(st, "PENDING")) set_str(op, "Status", "READY");
        if (!strcmp(type, "CHAINED_INVOKE") && !strcmp(st, "STARTED") && invoke_result) {
            set_str(op, "Status", "SUCCEEDED");
            set_str(details(op, "ChainedInvokeDetails"), "Result", invoke_result);
        }
    }
}

/* Complete the callback whose op has this Name (or Id). status SUCCEEDED/FAILED/TIMED_OUT. */
static void fake_callback(fake *f, const char *name_or_id, const char *status, const char *result)
{
    cJSON *op;
    cJSON_ArrayForEach(op, f->ops)
    {
        if (strcmp(sget(op, "Type"), "CALLBACK") != 0) continue;
        const char *nm = sget(op, "Name");
        if ((nm && !strcmp(nm, name_or_id)) || !strcmp(sget(op, "Id"), name_or_id)) {
            set_str(op, "Status", status);
            cJSON *cd = details(op, "CallbackDetails");
            if (!strcmp(status, "SUCCEEDED")) set_str(cd, "Result", result);
            else {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "ErrorType", "Rejected");
                cJSON_AddStringToObject(e, "ErrorMessage", result ? result : "Callback timed out");
                cJSON_AddItemToObject(cd, "Error", e);
            }
        }
    }
}

typedef struct run_result {
    cJSON *resp; /* last handler response (caller frees via run_free) */
    int invocations;
    dwf_error err;
} run_result;

static dwf_transport fake_transport(fake *f)
{
    dwf_transport t = {fake_checkpoint, fake_get_state, fake_now, f};
    return t;
}

/* One invocation. */
static cJSON *invoke_once(fake *f, const dwf_workflow *wf, const char *input, dwf_error *err)
{
    dwf_transport t = fake_transport(f);
    cJSON *ev = fake_event(f, input);
    fake_input = input;
    /* One call per awaited step, as the SDK makes them: the tests count calls (pipelining has
     * its own tests, which run with the default). */
    dwf_invoke_opts o = {.quiet = 1, .request_id = "req-1", .no_pipelining = f->pipelined ? 0 : 1};
    cJSON *r = dwf_run_invocation(wf, ev, &t, &o, err);
    cJSON_Delete(ev);
    f->invocations++;
    return r;
}

/* Invoke until the response is not PENDING (at most `max` invocations), advancing time. */
static cJSON *run_all(fake *f, const dwf_workflow *wf, const char *input, int max)
{
    cJSON *r = NULL;
    for (int i = 0; i < max; i++) {
        dwf_error err;
        cJSON_Delete(r);
        r = invoke_once(f, wf, input, &err);
        if (!r || strcmp(sget(r, "Status"), "PENDING") != 0) break;
        fake_advance(f, NULL);
    }
    return r;
}

static const char *status_of(const cJSON *r) { return r ? sget(r, "Status") : "(null)"; }

static cJSON *op_by_sid(fake *f, const char *sid)
{
    char id[17];
    dwf_hash_id(sid, id);
    return fake_op(f, id);
}

static const char *op_field(fake *f, const char *sid, const char *k)
{
    cJSON *op = op_by_sid(f, sid);
    return op ? sget(op, k) : NULL;
}

static int op_attempt(fake *f, const char *sid)
{
    cJSON *op = op_by_sid(f, sid);
    cJSON *sd = op ? cJSON_GetObjectItemCaseSensitive(op, "StepDetails") : NULL;
    cJSON *a = sd ? cJSON_GetObjectItemCaseSensitive(sd, "Attempt") : NULL;
    return a ? a->valueint : -1;
}

static const char *op_detail(fake *f, const char *sid, const char *d, const char *k)
{
    cJSON *op = op_by_sid(f, sid);
    cJSON *dd = op ? cJSON_GetObjectItemCaseSensitive(op, d) : NULL;
    return dd ? sget(dd, k) : NULL;
}

static int ncalls(fake *f) { return f->ncalls_total; }
static int call_size(fake *f, int i) { return cJSON_GetArraySize(cJSON_GetArrayItem(f->calls, i)); }
static const char *call_action(fake *f, int i, int j)
{
    return sget(cJSON_GetArrayItem(cJSON_GetArrayItem(f->calls, i), j), "Action");
}

/* Find the result's field value as JSON text (caller frees). */
static char *result_field(const cJSON *r, const char *key)
{
    const char *txt = sget(r, "Result");
    cJSON *v = txt ? cJSON_Parse(txt) : NULL;
    cJSON *f = v && key ? cJSON_GetObjectItemCaseSensitive(v, key) : v;
    char *s = f ? cJSON_PrintUnformatted(f) : strdup("(none)");
    cJSON_Delete(v);
    return s;
}

#define WF(fn, fs) {"t", "t.dwf", "t-fn", "0", fs, fn, 1, 60, 128, 30, NULL}

/* ---- common workflow bits ------------------------------------------------------------- */
static int side_effects[16];
static pthread_mutex_t se_mu = PTHREAD_MUTEX_INITIALIZER;
static void bump(int k)
{
    pthread_mutex_lock(&se_mu);
    side_effects[k]++;
    pthread_mutex_unlock(&se_mu);
}

typedef struct frame1 {
    dwf_val *a, *b, *c, *d;
} frame1;

static int body_num1(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    bump(1);
    *out = dwf_num(c, 1);
    return DWF_OK;
}
static int body_num2(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    bump(2);
    *out = dwf_obj(c, 1, "n", dwf_num(c, 2));
    return DWF_OK;
}

/* ---- ids --------------------------------------------------------------------------------- */
static void test_ids(void)
{
    char id[17];
    dwf_hash_id("1", id);
    TT_EQ_STR("c4ca4238a0b92382", id);
    dwf_hash_id("4-1", id);
    TT_EQ_STR("74bdefab9757a081", id);
    dwf_hash_id("6-1-1", id);
    TT_EQ_STR("73826548541e7798", id);
    dwf_hash_id("2", id);
    TT_EQ_STR("c81e728d9d4c2f63", id);
}

/* ---- the order workflow: step, step, wait, step --------------------------------------- */
static const char *order_wait_name = NULL;
static int wf_order(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    DWF_TRY(dwf_step(c, "validate-order", body_num1, f, NULL, &f->a));
    DWF_TRY(dwf_step(c, "process-payment", body_num2, f, NULL, &f->b));
    DWF_TRY(dwf_wait(c, order_wait_name, 10));
    DWF_TRY(dwf_step(c, "confirm-order", body_num1, f, NULL, &f->c));
    *out = dwf_obj(c, 3, "orderId", dwf_get(c, dwf_input(c), "orderId"), "payment", f->b, "v", f->a);
    return DWF_OK;
}

static void test_order_history(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    dwf_workflow wf = WF(wf_order, sizeof(frame1));
    dwf_error err;
    cJSON *r = invoke_once(&f, &wf, "{\"orderId\":\"ORD-7\"}", &err);
    TT_EQ_STR("PENDING", status_of(r));
    TT_EQ_INT(3, ncalls(&f)); /* START+SUCCEED, START+SUCCEED, WAIT START */
    TT_EQ_INT(2, call_size(&f, 0));
    TT_EQ_STR("START", call_action(&f, 0, 0));
    TT_EQ_STR("SUCCEED", call_action(&f, 0, 1));
    TT_EQ_INT(1, call_size(&f, 2));
    const cJSON *wo = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetArrayItem(f.calls, 2), 0), "WaitOptions");
    TT_EQ_INT(10, cJSON_GetObjectItemCaseSensitive(wo, "WaitSeconds")->valueint);
    cJSON_Delete(r);
    r = invoke_once(&f, &wf, "{\"orderId\":\"ORD-7\"}", &err);
    TT_EQ_STR("PENDING", status_of(r)); /* the wait is still STARTED: no call made */
    TT_EQ_INT(3, ncalls(&f));
    cJSON_Delete(r);
    fake_advance(&f, NULL);
    r = invoke_once(&f, &wf, "{\"orderId\":\"ORD-7\"}", &err);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("{\"orderId\":\"ORD-7\",\"payment\":{\"n\":2},\"v\":1}", sget(r, "Result"));
    TT_EQ_INT(4, ncalls(&f));
    TT_EQ_INT(2, side_effects[1]); /* validate once + confirm once: replay never re-runs */
    TT_EQ_INT(1, side_effects[2]);
    TT_EQ_STR("STEP", op_field(&f, "1", "Type"));
    TT_EQ_STR("Step", op_field(&f, "1", "SubType"));
    TT_EQ_STR("validate-order", op_field(&f, "1", "Name"));
    TT_EQ_STR("WAIT", op_field(&f, "3", "Type"));
    TT_EQ_STR("Wait", op_field(&f, "3", "SubType"));
    TT_ASSERT(op_field(&f, "3", "Name") == NULL);
    TT_ASSERT(op_field(&f, "1", "ParentId") == NULL);
    TT_EQ_INT(1, op_attempt(&f, "1"));
    TT_EQ_STR("1", op_detail(&f, "1", "StepDetails", "Result"));
    TT_EQ_STR("c4ca4238a0b92382", sget(cJSON_GetArrayItem(f.ops, 0), "Id"));
    cJSON_Delete(r);
    fake_free(&f);
}

static void test_nondeterminism(void)
{
    fake f;
    fake_init(&f);
    dwf_workflow wf = WF(wf_order, sizeof(frame1));
    dwf_error err;
    order_wait_name = NULL;
    cJSON *r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("PENDING", status_of(r));
    cJSON_Delete(r);
    fake_advance(&f, NULL);
    order_wait_name = "renamed"; /* the code changed under a live execution */
    r = invoke_once(&f, &wf, "{}", &err);
    order_wait_name = NULL;
    TT_EQ_STR("FAILED", status_of(r));
    cJSON *e = r ? cJSON_GetObjectItemCaseSensitive(r, "Error") : NULL;
    TT_EQ_STR("NonDeterministicExecutionError", sget(e, "ErrorType"));
    TT_EQ_STR("[Unrecoverable Execution] Non-deterministic execution detected: Operation name mismatch "
              "for step \"3\". Expected name \"undefined\", but got \"renamed\". This indicates "
              "non-deterministic control flow in your workflow code.",
              sget(e, "ErrorMessage"));
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- verify mode (dwf verify) and the mock hook (dwf test) -------------------------------- */
static int wf_order_swapped(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    DWF_AT(c, 7, 3);
    DWF_TRY(dwf_step(c, "process-payment", body_num2, f, NULL, &f->b));
    DWF_TRY(dwf_step(c, "validate-order", body_num1, f, NULL, &f->a));
    *out = f->a;
    return DWF_OK;
}

static int wf_order_short(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    DWF_TRY(dwf_step(c, "validate-order", body_num1, f, NULL, &f->a));
    *out = f->a;
    return DWF_OK;
}

static int wf_order_longer(dwf_ctx *c, void *fr, dwf_val **out)
{
    DWF_TRY(wf_order(c, fr, out));
    frame1 *f = fr;
    return dwf_step(c, "added-at-the-end", body_num1, f, NULL, &f->c);
}

static void test_verify_replay(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    order_wait_name = NULL;
    dwf_workflow wf = WF(wf_order, sizeof(frame1));
    dwf_error err;
    cJSON *r = invoke_once(&f, &wf, "{}", &err); /* two steps done, the wait STARTED */
    TT_EQ_STR("PENDING", status_of(r));
    cJSON_Delete(r);
    int calls = ncalls(&f), ran = side_effects[1] + side_effects[2];
    dwf_verify_report rep;

    TT_EQ_INT(DWF_VERIFY_RESUMES, dwf_verify_replay(&wf, f.ops, NULL, &rep, &err));
    TT_EQ_INT(0, rep.diverged);
    TT_EQ_INT(3, cJSON_GetArraySize(rep.lines)); /* both steps and the wait reached */
    cJSON_Delete(rep.lines);

    dwf_workflow longer = WF(wf_order_longer, sizeof(frame1));
    TT_EQ_INT(DWF_VERIFY_RESUMES, dwf_verify_replay(&longer, f.ops, NULL, &rep, &err)); /* a trailing step */
    cJSON_Delete(rep.lines);

    dwf_workflow swapped = WF(wf_order_swapped, sizeof(frame1));
    TT_EQ_INT(DWF_VERIFY_DIVERGES, dwf_verify_replay(&swapped, f.ops, NULL, &rep, &err));
    TT_EQ_STR("1", rep.step_id);
    TT_EQ_STR("c4ca4238a0b92382", rep.op_id);
    TT_EQ_INT(7, rep.line);
    TT_ASSERT(strstr(rep.message, "Expected name \"validate-order\", but got \"process-payment\"") != NULL);
    cJSON_Delete(rep.lines);

    dwf_workflow shorter = WF(wf_order_short, sizeof(frame1));
    TT_EQ_INT(DWF_VERIFY_DIVERGES, dwf_verify_replay(&shorter, f.ops, NULL, &rep, &err));
    TT_ASSERT(strstr(rep.message, "the code ends before the recorded STEP \"process-payment\"") != NULL);
    cJSON_Delete(rep.lines);

    TT_EQ_INT(calls, ncalls(&f)); /* verify wrote nothing ... */
    TT_EQ_INT(ran, side_effects[1] + side_effects[2]); /* ... and ran no step body */
    fake_free(&f);
}

static int mock_calls;
static int mock_order(void *arg, const dwf_mock_call *call, dwf_mock_answer *ans)
{
    (void)arg;
    __atomic_add_fetch(&mock_calls, 1, __ATOMIC_SEQ_CST);
    if (call->kind != DWF_MOCK_STEP || !call->name) return DWF_MOCK_PASS;
    if (!strcmp(call->name, "validate-order")) {
        ans->value = cJSON_Parse("{\"mocked\":true}");
        return DWF_MOCK_RETURN;
    }
    if (!strcmp(call->name, "process-payment") && call->attempt == 1) {
        snprintf(ans->error_type, sizeof ans->error_type, "CardDeclined");
        snprintf(ans->error_message, sizeof ans->error_message, "insufficient funds");
        return DWF_MOCK_FAIL;
    }
    return DWF_MOCK_PASS;
}

static void test_step_mock(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    mock_calls = 0;
    order_wait_name = NULL;
    dwf_workflow wf = WF(wf_order, sizeof(frame1));
    dwf_error err;
    dwf_transport t = fake_transport(&f);
    cJSON *ev = fake_event(&f, "{}");
    fake_input = "{}";
    dwf_invoke_opts o = {.quiet = 1, .request_id = "req-m", .mock = mock_order};
    cJSON *r = dwf_run_invocation(&wf, ev, &t, &o, &err);
    cJSON_Delete(ev);
    TT_EQ_STR("PENDING", status_of(r)); /* process-payment's first attempt failed: a retry */
    TT_EQ_INT(2, mock_calls);
    TT_EQ_INT(0, side_effects[1] + side_effects[2]); /* neither body ran */
    TT_EQ_STR("{\"mocked\":true}", op_detail(&f, "1", "StepDetails", "Result"));
    TT_EQ_STR("PENDING", op_field(&f, "2", "Status"));
    cJSON *e2 = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op_by_sid(&f, "2"), "StepDetails"),
                                                  "Error");
    TT_EQ_STR("CardDeclined", sget(e2, "ErrorType"));
    TT_EQ_STR("insufficient funds", sget(e2, "ErrorMessage"));
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- retries ------------------------------------------------------------------------------ */
static int flaky_failures; /* fail this many attempts, then succeed */
static const char *flaky_type = "Error";
static int body_flaky(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    bump(3);
    int attempt = (int)dwf_attempt(c)->valuedouble;
    if (attempt <= flaky_failures) return dwf_failf(c, flaky_type, "unavailable (attempt %d)", attempt);
    *out = dwf_obj(c, 1, "attempt", dwf_num(c, attempt));
    return DWF_OK;
}

static const dwf_retry *retry_policy;
static int retry_semantics;
static int wf_retry(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    dwf_step_opts o = {retry_policy, retry_semantics, NULL, 0};
    DWF_TRY(dwf_step(c, "flaky", body_flaky, f, &o, &f->a));
    *out = f->a;
    return DWF_OK;
}

/* The same, catching the error so the test can look at it. */
static int wf_retry_catch(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    dwf_step_opts o = {retry_policy, retry_semantics, NULL, 0};
    int rc = dwf_step(c, "flaky", body_flaky, f, &o, &f->a);
    if (rc == DWF_ERROR) {
        *out = dwf_error_take(c);
        return DWF_OK;
    }
    DWF_TRY(rc);
    *out = f->a;
    return DWF_OK;
}

static void test_retry_then_success(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    flaky_failures = 1;
    retry_policy = NULL;
    retry_semantics = DWF_AT_LEAST_ONCE;
    dwf_workflow wf = WF(wf_retry, sizeof(frame1));
    dwf_error err;
    cJSON *r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("PENDING", status_of(r));
    TT_EQ_INT(1, ncalls(&f));
    TT_EQ_STR("START", call_action(&f, 0, 0));
    TT_EQ_STR("RETRY", call_action(&f, 0, 1));
    cJSON *u = cJSON_GetArrayItem(cJSON_GetArrayItem(f.calls, 0), 1);
    int d = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(u, "StepOptions"), "NextAttemptDelaySeconds")->valueint;
    TT_ASSERT(d >= 1 && d <= 5); /* default policy: 5 s with FULL jitter, at least 1 */
    TT_EQ_STR("Error", sget(cJSON_GetObjectItemCaseSensitive(u, "Error"), "ErrorType"));
    TT_EQ_STR("unavailable (attempt 1)", sget(cJSON_GetObjectItemCaseSensitive(u, "Error"), "ErrorMessage"));
    TT_EQ_STR("PENDING", op_field(&f, "1", "Status"));
    cJSON_Delete(r);
    r = invoke_once(&f, &wf, "{}", &err); /* timer not fired yet */
    TT_EQ_STR("PENDING", status_of(r));
    TT_EQ_INT(1, side_effects[3]);
    cJSON_Delete(r);
    fake_advance(&f, NULL);
    r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("{\"attempt\":2}", sget(r, "Result"));
    TT_EQ_INT(2, op_attempt(&f, "1"));
    TT_EQ_INT(2, side_effects[3]);
    cJSON_Delete(r);
    fake_free(&f);
}

static void test_retry_exhausted(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    static const dwf_retry three = {3, 1, 2, 10, DWF_JITTER_NONE, NULL};
    flaky_failures = 99;
    flaky_type = "PaymentDown";
    retry_policy = &three;
    dwf_workflow wf = WF(wf_retry_catch, sizeof(frame1));
    cJSON *r = run_all(&f, &wf, "{}", 10);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_INT(3, side_effects[3]);
    TT_EQ_INT(3, op_attempt(&f, "1"));
    TT_EQ_STR("FAILED", op_field(&f, "1", "Status"));
    /* delays without jitter: 1 s then 2 s */
    TT_EQ_INT(1, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetArrayItem(f.calls, 0), 1), "StepOptions"), "NextAttemptDelaySeconds")->valueint);
    TT_EQ_INT(2, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetArrayItem(f.calls, 1), 1), "StepOptions"), "NextAttemptDelaySeconds")->valueint);
    char *t = result_field(r, "ErrorType");
    TT_EQ_STR("\"StepError\"", t);
    free(t);
    const char *txt = sget(r, "Result");
    TT_ASSERT(txt && strstr(txt, "\"cause\":{\"ErrorType\":\"PaymentDown\"")); /* the workflow's view */
    cJSON_Delete(r);
    /* replaying the FAILED step gives the same error without running the body */
    r = invoke_once(&f, &wf, "{}", NULL);
    t = result_field(r, "ErrorType");
    TT_EQ_STR("\"StepError\"", t);
    free(t);
    TT_EQ_INT(3, side_effects[3]);
    cJSON_Delete(r);
    fake_free(&f);

    /* uncaught: the execution FAILs with StepError */
    fake_init(&f);
    dwf_workflow wf2 = WF(wf_retry, sizeof(frame1));
    r = run_all(&f, &wf2, "{}", 10);
    TT_EQ_STR("FAILED", status_of(r));
    cJSON *e = r ? cJSON_GetObjectItemCaseSensitive(r, "Error") : NULL;
    TT_EQ_STR("StepError", sget(e, "ErrorType"));
    TT_EQ_STR("unavailable (attempt 3)", sget(e, "ErrorMessage"));
    TT_ASSERT(e && !cJSON_GetObjectItemCaseSensitive(e, "Cause"));
    cJSON_Delete(r);
    fake_free(&f);
    flaky_type = "Error";
    retry_policy = NULL;
}

static void test_retry_filter(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    static const char *const only[] = {"Http5xx", NULL};
    static const dwf_retry pol = {5, 1, 2, 10, DWF_JITTER_NONE, only};
    flaky_failures = 99;
    flaky_type = "HttpError"; /* not retryable under this policy */
    retry_policy = &pol;
    dwf_workflow wf = WF(wf_retry, sizeof(frame1));
    cJSON *r = run_all(&f, &wf, "{}", 10);
    TT_EQ_STR("FAILED", status_of(r));
    TT_EQ_INT(1, side_effects[3]);
    TT_EQ_INT(1, f.invocations);
    cJSON_Delete(r);
    fake_free(&f);
    fake_init(&f);
    flaky_type = "Http5xx";
    flaky_failures = 2;
    r = run_all(&f, &wf, "{}", 10);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_INT(3, op_attempt(&f, "1"));
    cJSON_Delete(r);
    fake_free(&f);
    flaky_type = "Error";
    retry_policy = NULL;
}

static void test_at_most_once(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    flaky_failures = 0;
    retry_semantics = DWF_AT_MOST_ONCE;
    dwf_workflow wf = WF(wf_retry, sizeof(frame1));
    cJSON *r = run_all(&f, &wf, "{}", 5);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_INT(2, ncalls(&f)); /* START awaited on its own, then SUCCEED */
    TT_EQ_INT(1, call_size(&f, 0));
    cJSON_Delete(r);
    fake_free(&f);

    /* a crash after START: replay finds STARTED and never re-runs the body blindly */
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    f.fail_call = 2; /* the SUCCEED is lost */
    dwf_error err;
    r = invoke_once(&f, &wf, "{}", &err);
    TT_ASSERT(r == NULL);
    TT_EQ_STR("ServiceException", err.type);
    TT_EQ_STR("STARTED", op_field(&f, "1", "Status"));
    f.fail_call = 0;
    cJSON_Delete(r);
    r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("PENDING", status_of(r));
    TT_EQ_STR("PENDING", op_field(&f, "1", "Status"));
    cJSON *last = cJSON_GetArrayItem(f.calls, ncalls(&f) - 1);
    TT_EQ_STR("RETRY", sget(cJSON_GetArrayItem(last, 0), "Action"));
    TT_EQ_STR("StepInterruptedError", sget(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(last, 0), "Error"), "ErrorType"));
    TT_EQ_INT(1, side_effects[3]);
    cJSON_Delete(r);
    fake_advance(&f, NULL);
    r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_INT(2, side_effects[3]);
    cJSON_Delete(r);
    fake_free(&f);
    retry_semantics = DWF_AT_LEAST_ONCE;
}

/* ---- checkpoint faults, paging, big payloads ------------------------------------------ */
static void test_checkpoint_fault(void)
{
    fake f;
    fake_init(&f);
    dwf_workflow wf = WF(wf_order, sizeof(frame1));
    f.fail_call = 2;
    dwf_error err;
    cJSON *r = invoke_once(&f, &wf, "{}", &err);
    TT_ASSERT(r == NULL);
    TT_EQ_STR("ServiceException", err.type);
    cJSON_Delete(r);
    /* a non-retryable 4xx fails the execution instead */
    fake_free(&f);
    fake_init(&f);
    f.fail_call = 1;
    f.fail_retryable = 0;
    r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("FAILED", status_of(r));
    TT_EQ_STR("ServiceException", sget(cJSON_GetObjectItemCaseSensitive(r, "Error"), "ErrorType"));
    cJSON_Delete(r);
    fake_free(&f);
}

static void test_paging_and_input(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    dwf_workflow wf = WF(wf_order, sizeof(frame1));
    dwf_error err;
    cJSON *r = invoke_once(&f, &wf, "{\"orderId\":\"P-1\"}", &err);
    cJSON_Delete(r);
    fake_advance(&f, NULL);
    f.page_size = 1; /* only EXECUTION in the event; the three ops come one page at a time */
    r = invoke_once(&f, &wf, "{\"orderId\":\"P-1\"}", &err);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_INT(3, f.get_state_calls);
    TT_EQ_INT(2, side_effects[1]); /* step 1 came from a page and was not re-run */
    char *o = result_field(r, "orderId");
    TT_EQ_STR("\"P-1\"", o);
    free(o);
    cJSON_Delete(r);
    fake_free(&f);
}

static int body_big(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    size_t n = 300 * 1024;
    char *s = malloc(n + 1);
    memset(s, 'x', n);
    s[n] = 0;
    *out = dwf_str(c, s);
    free(s);
    return DWF_OK;
}
static int wf_big_step(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    DWF_TRY(dwf_step(c, "big", body_big, f, NULL, &f->a));
    *out = f->a;
    return DWF_OK;
}
static int wf_huge_result(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    size_t n = 7 * 1024 * 1024;
    char *s = malloc(n + 1);
    memset(s, 'y', n);
    s[n] = 0;
    *out = dwf_str(c, s);
    free(s);
    return DWF_OK;
}

static void test_payload_limits(void)
{
    fake f;
    fake_init(&f);
    dwf_workflow wf = WF(wf_big_step, sizeof(frame1));
    cJSON *r = run_all(&f, &wf, "{}", 3);
    TT_EQ_STR("FAILED", status_of(r));
    TT_EQ_STR("StepError", sget(cJSON_GetObjectItemCaseSensitive(r, "Error"), "ErrorType"));
    TT_ASSERT(strstr(sget(cJSON_GetObjectItemCaseSensitive(r, "Error"), "ErrorMessage"), "payload limit") != NULL);
    TT_EQ_STR("PayloadTooLarge", sget(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op_by_sid(&f, "1"), "StepDetails"), "Error"), "ErrorType"));
    cJSON_Delete(r);
    fake_free(&f);

    fake_init(&f);
    dwf_workflow wf2 = WF(wf_huge_result, 0);
    r = run_all(&f, &wf2, "{}", 3);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("", sget(r, "Result"));
    TT_EQ_INT(7 * 1024 * 1024 + 2, f.exec_result_len);
    TT_EQ_STR("EXECUTION", sget(cJSON_GetArrayItem(cJSON_GetArrayItem(f.calls, 0), 0), "Type"));
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- callbacks ---------------------------------------------------------------------------- */
static int wf_callback(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    dwf_callback_opts o = {.timeout_s = 60};
    DWF_TRY(dwf_callback(c, "approval", &o, &f->a));
    DWF_TRY(dwf_step(c, "notify", body_num1, f, NULL, &f->b));
    int rc = dwf_await(c, f->a, &f->c);
    if (rc == DWF_ERROR) {
        *out = dwf_error_take(c);
        return DWF_OK;
    }
    DWF_TRY(rc);
    *out = dwf_obj(c, 2, "id", dwf_get(c, f->a, "id"), "data", f->c);
    return DWF_OK;
}

static void test_callback(void)
{
    const char *sent = "{\"approved\": true, \"approver\": \"manager@example.com\"}";
    fake f;
    fake_init(&f);
    dwf_workflow wf = WF(wf_callback, sizeof(frame1));
    dwf_error err;
    cJSON *r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("PENDING", status_of(r));
    TT_EQ_STR("CALLBACK", op_field(&f, "1", "Type"));
    TT_EQ_STR("Callback", op_field(&f, "1", "SubType"));
    cJSON *co = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(cJSON_GetArrayItem(f.calls, 0), 0), "CallbackOptions");
    TT_EQ_INT(60, cJSON_GetObjectItemCaseSensitive(co, "TimeoutSeconds")->valueint);
    TT_ASSERT(!cJSON_GetObjectItemCaseSensitive(co, "HeartbeatTimeoutSeconds"));
    cJSON_Delete(r);
    r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("PENDING", status_of(r));
    cJSON_Delete(r);
    fake_callback(&f, "approval", "SUCCEEDED", sent);
    r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    char *d = result_field(r, "data");
    TT_EQ_STR("\"{\\\"approved\\\": true, \\\"approver\\\": \\\"manager@example.com\\\"}\"", d);
    free(d);
    d = result_field(r, "id");
    TT_EQ_STR("\"cb-c4ca4238a0b92382\"", d);
    free(d);
    cJSON_Delete(r);
    fake_free(&f);

    fake_init(&f);
    r = invoke_once(&f, &wf, "{}", &err);
    cJSON_Delete(r);
    fake_callback(&f, "approval", "FAILED", "nope");
    r = invoke_once(&f, &wf, "{}", &err);
    d = result_field(r, "ErrorType");
    TT_EQ_STR("\"CallbackExternalError\"", d);
    free(d);
    d = result_field(r, "ErrorMessage");
    TT_EQ_STR("\"nope\"", d);
    free(d);
    cJSON_Delete(r);
    fake_free(&f);

    fake_init(&f);
    r = invoke_once(&f, &wf, "{}", &err);
    cJSON_Delete(r);
    fake_callback(&f, "approval", "TIMED_OUT", NULL);
    r = invoke_once(&f, &wf, "{}", &err);
    d = result_field(r, "ErrorType");
    TT_EQ_STR("\"CallbackTimeoutError\"", d);
    free(d);
    cJSON_Delete(r);
    fake_free(&f);
}

static char seen_cbid[64];
static int submitter(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    (void)out;
    bump(4);
    dwf_val *id = dwf_callback_id(c);
    snprintf(seen_cbid, sizeof seen_cbid, "%s", cJSON_IsString(id) ? id->valuestring : "?");
    return DWF_OK;
}
static int wf_wfc(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    DWF_TRY(dwf_wait_for_callback(c, "ask", submitter, f, NULL, NULL, &f->a));
    *out = f->a;
    return DWF_OK;
}

static void test_wait_for_callback(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    dwf_workflow wf = WF(wf_wfc, sizeof(frame1));
    dwf_error err;
    cJSON *r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("PENDING", status_of(r));
    TT_EQ_STR("CONTEXT", op_field(&f, "1", "Type"));
    TT_EQ_STR("WaitForCallback", op_field(&f, "1", "SubType"));
    TT_EQ_STR("ask", op_field(&f, "1", "Name"));
    TT_EQ_STR("CALLBACK", op_field(&f, "1-1", "Type"));
    TT_ASSERT(op_field(&f, "1-1", "Name") == NULL);
    TT_EQ_STR("c4ca4238a0b92382", op_field(&f, "1-1", "ParentId"));
    TT_EQ_STR("STEP", op_field(&f, "1-2", "Type"));
    TT_ASSERT(op_field(&f, "1-2", "Name") == NULL);
    char want[64];
    char id11[17];
    dwf_hash_id("1-1", id11);
    snprintf(want, sizeof want, "cb-%s", id11);
    TT_EQ_STR(want, seen_cbid);
    cJSON_Delete(r);
    fake_callback(&f, id11, "SUCCEEDED", "yes");
    r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("\"yes\"", sget(r, "Result"));
    TT_EQ_STR("\"yes\"", op_detail(&f, "1", "ContextDetails", "Result")); /* double-encoded */
    TT_ASSERT(op_detail(&f, "1-2", "StepDetails", "Result") == NULL); /* undefined: no Payload */
    TT_EQ_INT(1, side_effects[4]);
    cJSON_Delete(r);
    /* replay of the finished CONTEXT runs nothing inside it */
    r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("\"yes\"", sget(r, "Result"));
    TT_EQ_INT(1, side_effects[4]);
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- poll (waitForCondition) ------------------------------------------------------------ */
static int poll_check(dwf_ctx *c, void *fr, dwf_val *state, dwf_val *idx, dwf_val **out)
{
    (void)fr;
    (void)idx;
    bump(5);
    double n = cJSON_IsNumber(dwf_get(c, state, "n")) ? dwf_get(c, state, "n")->valuedouble : 0;
    *out = dwf_obj(c, 1, "n", dwf_num(c, n + 1));
    return DWF_OK;
}
static int poll_until(dwf_ctx *c, void *fr, dwf_val *state, dwf_val *idx, dwf_val **out)
{
    (void)fr;
    (void)idx;
    *out = dwf_bool(c, dwf_get(c, state, "n")->valuedouble >= 3);
    return DWF_OK;
}
static int poll_attempts;
static int wf_poll(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    dwf_poll_opts o = {.every_s = 2, .backoff = 1, .max_s = 10, .attempts = poll_attempts, .jitter = DWF_JITTER_NONE};
    DWF_TRY(dwf_poll(c, "until-ready", poll_check, poll_until, f, dwf_obj(c, 1, "n", dwf_num(c, 0)), &o, &f->a));
    *out = f->a;
    return DWF_OK;
}

static void test_poll(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    poll_attempts = 0;
    dwf_workflow wf = WF(wf_poll, sizeof(frame1));
    cJSON *r = run_all(&f, &wf, "{}", 10);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("{\"n\":3}", sget(r, "Result"));
    TT_EQ_INT(3, f.invocations);
    TT_EQ_INT(3, side_effects[5]);
    TT_EQ_INT(1, cJSON_GetArraySize(f.ops));
    TT_EQ_STR("WaitForCondition", op_field(&f, "1", "SubType"));
    TT_EQ_INT(3, op_attempt(&f, "1"));
    cJSON *u = cJSON_GetArrayItem(cJSON_GetArrayItem(f.calls, 0), 1);
    TT_EQ_STR("RETRY", sget(u, "Action"));
    TT_EQ_STR("{\"n\":1}", sget(u, "Payload"));
    TT_ASSERT(!cJSON_GetObjectItemCaseSensitive(u, "Error"));
    TT_EQ_INT(2, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(u, "StepOptions"), "NextAttemptDelaySeconds")->valueint);
    cJSON_Delete(r);
    fake_free(&f);

    fake_init(&f);
    poll_attempts = 2;
    r = run_all(&f, &wf, "{}", 10);
    TT_EQ_STR("FAILED", status_of(r));
    TT_EQ_STR("waitForCondition exceeded maximum attempts (2)",
              sget(cJSON_GetObjectItemCaseSensitive(r, "Error"), "ErrorMessage"));
    TT_EQ_STR("StepError", sget(cJSON_GetObjectItemCaseSensitive(r, "Error"), "ErrorType"));
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- invoke ------------------------------------------------------------------------------ */
static int wf_invoke(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    int rc = dwf_invoke(c, "charge", "payments-fn", dwf_obj(c, 1, "amount", dwf_num(c, 5)), 0, &f->a);
    if (rc == DWF_ERROR) {
        *out = dwf_error_take(c);
        return DWF_OK;
    }
    DWF_TRY(rc);
    *out = f->a;
    return DWF_OK;
}

static void test_invoke(void)
{
    fake f;
    fake_init(&f);
    dwf_workflow wf = WF(wf_invoke, sizeof(frame1));
    dwf_error err;
    cJSON *r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("PENDING", status_of(r));
    cJSON *u = cJSON_GetArrayItem(cJSON_GetArrayItem(f.calls, 0), 0);
    TT_EQ_STR("CHAINED_INVOKE", sget(u, "Type"));
    TT_EQ_STR("ChainedInvoke", sget(u, "SubType"));
    TT_EQ_STR("{\"amount\":5}", sget(u, "Payload"));
    TT_EQ_STR("payments-fn", sget(cJSON_GetObjectItemCaseSensitive(u, "ChainedInvokeOptions"), "FunctionName"));
    cJSON_Delete(r);
    fake_advance(&f, "{\"ok\":true}");
    r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("{\"ok\":true}", sget(r, "Result"));
    cJSON_Delete(r);
    /* a failed target gives InvokeError */
    set_str(op_by_sid(&f, "1"), "Status", "FAILED");
    r = invoke_once(&f, &wf, "{}", &err);
    char *t = result_field(r, "ErrorType");
    TT_EQ_STR("\"InvokeError\"", t);
    free(t);
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- group ------------------------------------------------------------------------------- */
static int group_body(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    bump(6);
    DWF_TRY(dwf_step(c, "inner", body_num1, f, NULL, &f->a));
    DWF_TRY(dwf_wait(c, NULL, 5));
    f->b = dwf_num(c, 41); /* the child's frame copy: never seen by the parent */
    *out = dwf_obj(c, 1, "inner", f->a);
    return DWF_OK;
}
static int wf_group(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    f->b = dwf_num(c, 1);
    DWF_TRY(dwf_group(c, "g", group_body, f, &f->a));
    *out = dwf_obj(c, 2, "g", f->a, "b", f->b);
    return DWF_OK;
}

static void test_group(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    dwf_workflow wf = WF(wf_group, sizeof(frame1));
    cJSON *r = run_all(&f, &wf, "{}", 5);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("{\"g\":{\"inner\":1},\"b\":1}", sget(r, "Result"));
    TT_EQ_STR("RunInChildContext", op_field(&f, "1", "SubType"));
    TT_EQ_STR("ea66c06c1e1c05fa", sget(op_by_sid(&f, "1-1"), "Id"));
    TT_EQ_STR("c4ca4238a0b92382", op_field(&f, "1-1", "ParentId"));
    TT_EQ_STR("c4ca4238a0b92382", op_field(&f, "1-2", "ParentId"));
    TT_EQ_STR("{\"inner\":1}", op_detail(&f, "1", "ContextDetails", "Result"));
    TT_EQ_INT(2, side_effects[6]); /* ran, suspended in the wait, ran again */
    cJSON_Delete(r);
    r = invoke_once(&f, &wf, "{}", NULL);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_INT(2, side_effects[6]); /* SUCCEEDED context: body not run */
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- parallel and map ------------------------------------------------------------------- */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
/* Each branch body counts itself in, then waits until all three are in (a barrier): only
 * branches that run at the same time can all pass it, however fast or loaded the machine is.
 * The 60 s bound only ends the wait of branches run one after another, which never meet. */
static atomic_int branches_in, branch_runs;
static int branch_met[3];
static void burn_cpu(double seconds, int k)
{
    atomic_fetch_add(&branch_runs, 1);
    atomic_fetch_add(&branches_in, 1);
    for (int i = 0; i < 60000 && atomic_load(&branches_in) < 3; i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    branch_met[k] = atomic_load(&branches_in) >= 3;
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    double start = ts.tv_sec + ts.tv_nsec / 1e9, t;
    volatile double x = 0;
    do {
        for (int i = 0; i < 10000; i++) x += sqrt((double)i);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        t = ts.tv_sec + ts.tv_nsec / 1e9;
    } while (t - start < seconds);
}
static int cpu_500(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    burn_cpu(0.5, 0);
    *out = dwf_obj(c, 1, "available", dwf_bool(c, 1));
    return DWF_OK;
}
static int cpu_300(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    burn_cpu(0.3, 1);
    *out = dwf_obj(c, 1, "passed", dwf_bool(c, 1));
    return DWF_OK;
}
static int cpu_400(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    burn_cpu(0.4, 2);
    *out = dwf_obj(c, 1, "approved", dwf_bool(c, 1));
    return DWF_OK;
}
static int br_inventory(dwf_ctx *c, void *fr, dwf_val **out) { return dwf_step(c, "check-inventory", cpu_500, fr, NULL, out); }
static int br_fraud(dwf_ctx *c, void *fr, dwf_val **out) { return dwf_step(c, "check-fraud", cpu_300, fr, NULL, out); }
static int br_credit(dwf_ctx *c, void *fr, dwf_val **out) { return dwf_step(c, "check-credit", cpu_400, fr, NULL, out); }

static int wf_parallel(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    static const dwf_branch br[] = {{NULL, br_inventory}, {NULL, br_fraud}, {NULL, br_credit}};
    DWF_TRY(dwf_parallel(c, NULL, br, 3, f, NULL, &f->a));
    *out = f->a;
    return DWF_OK;
}

static void test_parallel_threads(void)
{
    fake f;
    fake_init(&f);
    dwf_workflow wf = WF(wf_parallel, sizeof(frame1));
    double t0 = now_s();
    cJSON *r = run_all(&f, &wf, "{}", 3);
    double el = now_s() - t0;
    TT_EQ_STR("SUCCEEDED", status_of(r));
    printf("parallel 500/300/400 ms CPU branches took %.3f s\n", el);
    /* The branches ran on threads at the same time: all three were inside their bodies at once.
     * (Wall time depends on the machine's load; on 2 idle cores it is about 0.7 s.) */
    TT_ASSERT(branch_met[0] && branch_met[1] && branch_met[2]);
    TT_EQ_INT(3, atomic_load(&branch_runs));
    /* START order as the SDK's: the Parallel, then every branch, then the steps inside */
    const char *order[] = {"1", "1-1", "1-2", "1-3"};
    for (int i = 0; i < 4; i++) {
        char id[17];
        dwf_hash_id(order[i], id);
        TT_EQ_STR(id, sget(cJSON_GetArrayItem(f.ops, i), "Id"));
    }
    TT_EQ_STR("Parallel", op_field(&f, "1", "SubType"));
    TT_ASSERT(op_field(&f, "1", "Name") == NULL);
    TT_EQ_STR("parallel-branch-0", op_field(&f, "1-1", "Name"));
    TT_EQ_STR("ParallelBranch", op_field(&f, "1-3", "SubType"));
    TT_EQ_STR("c4ca4238a0b92382", op_field(&f, "1-2", "ParentId"));
    char id12[17];
    dwf_hash_id("1-2", id12);
    TT_EQ_STR(id12, op_field(&f, "1-2-1", "ParentId"));
    TT_EQ_STR("check-fraud", op_field(&f, "1-2-1", "Name"));
    TT_EQ_STR("{\"all\":[{\"result\":{\"available\":true},\"index\":0,\"status\":\"SUCCEEDED\"},"
              "{\"result\":{\"passed\":true},\"index\":1,\"status\":\"SUCCEEDED\"},"
              "{\"result\":{\"approved\":true},\"index\":2,\"status\":\"SUCCEEDED\"}],"
              "\"completionReason\":\"ALL_COMPLETED\"}",
              op_detail(&f, "1", "ContextDetails", "Result"));
    char *res = result_field(r, "results");
    TT_EQ_STR("[{\"available\":true},{\"passed\":true},{\"approved\":true}]", res);
    free(res);
    res = result_field(r, "successCount");
    TT_EQ_STR("3", res);
    free(res);
    cJSON_Delete(r);
    /* replay: the recorded batch comes back whole, nothing runs */
    r = invoke_once(&f, &wf, "{}", NULL);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_INT(3, atomic_load(&branch_runs));
    res = result_field(r, "completionReason");
    TT_EQ_STR("\"ALL_COMPLETED\"", res);
    free(res);
    cJSON_Delete(r);
    fake_free(&f);
}

static int map_fail_on; /* item value that fails */
static int map_item(dwf_ctx *c, void *fr, dwf_val *item, dwf_val *index, dwf_val **out)
{
    (void)fr;
    (void)index;
    bump(7);
    if ((int)item->valuedouble == map_fail_on) return dwf_fail(c, "BadItem", "item failed");
    *out = dwf_num(c, item->valuedouble * 10);
    return DWF_OK;
}
static dwf_batch_opts map_opts;
static int wf_map(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    dwf_val *items = dwf_arr(c, 4, dwf_num(c, 1), dwf_num(c, 2), dwf_num(c, 3), dwf_num(c, 4));
    DWF_TRY(dwf_map(c, "m", items, map_item, NULL, f, &map_opts, &f->a));
    *out = f->a;
    return DWF_OK;
}

static void test_map_rules(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    dwf_batch_opts all_ok = DWF_BATCH_DEFAULT;
    map_opts = all_ok;
    map_fail_on = 0;
    dwf_workflow wf = WF(wf_map, sizeof(frame1));
    cJSON *r = run_all(&f, &wf, "{}", 3);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    char *s = result_field(r, "results");
    TT_EQ_STR("[10,20,30,40]", s);
    free(s);
    TT_EQ_STR("Map", op_field(&f, "1", "SubType"));
    TT_EQ_STR("m", op_field(&f, "1", "Name"));
    TT_EQ_STR("map-item-3", op_field(&f, "1-4", "Name"));
    TT_EQ_STR("MapIteration", op_field(&f, "1-4", "SubType"));
    cJSON_Delete(r);
    fake_free(&f);

    /* fail-fast (no rules), one at a time: item 2 fails, 3 and 4 never start */
    fake_init(&f);
    map_opts.max_concurrency = 1;
    map_fail_on = 2;
    r = run_all(&f, &wf, "{}", 3);
    TT_EQ_STR("SUCCEEDED", status_of(r)); /* item failures never fail the batch */
    s = result_field(r, "completionReason");
    TT_EQ_STR("\"FAILURE_TOLERANCE_EXCEEDED\"", s);
    free(s);
    s = result_field(r, "totalCount");
    TT_EQ_STR("2", s);
    free(s);
    s = result_field(r, "status");
    TT_EQ_STR("\"FAILED\"", s);
    free(s);
    TT_ASSERT(op_by_sid(&f, "1-3") == NULL);
    const char *p = op_detail(&f, "1", "ContextDetails", "Result");
    /* the SDK's chain: ChildContextError around fromErrorObject(the item's error) */
    TT_ASSERT(p && strstr(p, "{\"error\":{\"ErrorType\":\"ChildContextError\",\"ErrorMessage\":\"item failed\","
                             "\"Cause\":{\"ErrorType\":\"StepError\",\"ErrorMessage\":\"item failed\","
                             "\"Cause\":{\"ErrorType\":\"BadItem\""));
    cJSON_Delete(r);
    fake_free(&f);

    /* tolerate one failure: all complete */
    fake_init(&f);
    map_opts.tolerated_failures = 1;
    r = run_all(&f, &wf, "{}", 3);
    s = result_field(r, "completionReason");
    TT_EQ_STR("\"ALL_COMPLETED\"", s);
    free(s);
    s = result_field(r, "failureCount");
    TT_EQ_STR("1", s);
    free(s);
    cJSON_Delete(r);
    fake_free(&f);

    /* minSuccessful 2, sequential: stops after two successes */
    fake_init(&f);
    map_opts = all_ok;
    map_opts.max_concurrency = 1;
    map_opts.min_successful = 2;
    map_fail_on = 0;
    r = run_all(&f, &wf, "{}", 3);
    s = result_field(r, "completionReason");
    TT_EQ_STR("\"MIN_SUCCESSFUL_REACHED\"", s);
    free(s);
    s = result_field(r, "results");
    TT_EQ_STR("[10,20]", s);
    free(s);
    cJSON_Delete(r);
    fake_free(&f);

    /* tolerated percentage 30: a failure is 25% (ok), all complete */
    fake_init(&f);
    map_opts = all_ok;
    map_opts.tolerated_percent = 30;
    map_fail_on = 4;
    r = run_all(&f, &wf, "{}", 3);
    s = result_field(r, "completionReason");
    TT_EQ_STR("\"ALL_COMPLETED\"", s);
    free(s);
    cJSON_Delete(r);
    fake_free(&f);
    map_opts = all_ok;
}

/* A branch that suspends lets the others finish; the batch suspends, then completes. */
static int br_wait(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    bump(8);
    DWF_TRY(dwf_wait(c, "w", 3));
    *out = dwf_str(c, "waited");
    return DWF_OK;
}
static int br_quick(dwf_ctx *c, void *fr, dwf_val **out) { return dwf_step(c, "q", body_num1, fr, NULL, out); }
static int wf_par_suspend(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    static const dwf_branch br[] = {{"slow", br_wait}, {"fast", br_quick}};
    DWF_TRY(dwf_parallel(c, "p", br, 2, f, NULL, &f->a));
    *out = dwf_get(c, f->a, "results");
    return DWF_OK;
}

static void test_parallel_suspend(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    dwf_workflow wf = WF(wf_par_suspend, sizeof(frame1));
    dwf_error err;
    cJSON *r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("PENDING", status_of(r));
    TT_EQ_STR("SUCCEEDED", op_field(&f, "1-2", "Status")); /* the fast branch finished */
    TT_EQ_STR("STARTED", op_field(&f, "1", "Status"));
    cJSON_Delete(r);
    fake_advance(&f, NULL);
    r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("[\"waited\",1]", sget(r, "Result"));
    TT_EQ_INT(1, side_effects[1]); /* fast branch's step not re-run */
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- saga ------------------------------------------------------------------------------- */
static char comp_order[64];
static void comp_log(const char *s)
{
    pthread_mutex_lock(&se_mu);
    strncat(comp_order, s, sizeof comp_order - strlen(comp_order) - 1);
    pthread_mutex_unlock(&se_mu);
}
static int undo_a(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)c;
    (void)fr;
    (void)out;
    comp_log("A");
    return DWF_OK;
}
static int undo_b(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    (void)out;
    comp_log(f->b && cJSON_IsObject(f->b) ? "B" : "b?"); /* sees the frame as it was at failure */
    return dwf_step(c, "refund", body_num1, fr, NULL, NULL);
}
static int body_fail(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    (void)out;
    return dwf_fail(c, "OutOfStock", "no stock");
}
static int wf_saga(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    static const dwf_retry once = {1, 1, 1, 1, DWF_JITTER_NONE, NULL};
    dwf_step_opts oa = {NULL, 0, undo_a, 0}, ob = {NULL, 0, undo_b, 0}, oc = {&once, 0, NULL, 0};
    DWF_TRY(dwf_step(c, "reserve", body_num1, f, &oa, &f->a));
    DWF_TRY(dwf_step(c, "charge", body_num2, f, &ob, &f->b));
    DWF_TRY(dwf_wait(c, NULL, 2));
    DWF_TRY(dwf_step(c, "ship", body_fail, f, &oc, &f->c));
    *out = f->c;
    return DWF_OK;
}

static void test_saga(void)
{
    fake f;
    fake_init(&f);
    comp_order[0] = 0;
    memset(side_effects, 0, sizeof side_effects);
    dwf_workflow wf = WF(wf_saga, sizeof(frame1));
    cJSON *r = run_all(&f, &wf, "{}", 5);
    TT_EQ_STR("FAILED", status_of(r));
    cJSON *e = r ? cJSON_GetObjectItemCaseSensitive(r, "Error") : NULL;
    TT_EQ_STR("StepError", sget(e, "ErrorType"));
    TT_EQ_STR("no stock", sget(e, "ErrorMessage"));
    TT_EQ_STR("BA", comp_order);
    TT_EQ_STR("compensate-charge", op_field(&f, "5", "Name"));
    TT_EQ_STR("RunInChildContext", op_field(&f, "5", "SubType"));
    TT_EQ_STR("compensate-reserve", op_field(&f, "6", "Name"));
    TT_EQ_STR("refund", op_field(&f, "5-1", "Name"));
    TT_EQ_STR("SUCCEEDED", op_field(&f, "6", "Status"));
    TT_EQ_INT(2, side_effects[1]); /* reserve once, refund once: nothing re-run */
    cJSON_Delete(r);
    /* deterministic on replay: same answer, compensations not run again */
    r = invoke_once(&f, &wf, "{}", NULL);
    TT_EQ_STR("FAILED", status_of(r));
    TT_EQ_STR("BA", comp_order);
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- pipelined commit ------------------------------------------------------------------------ */
typedef struct pipe_frame {
    dwf_val *v;
    int i;
} pipe_frame;
static int pipe_body(dwf_ctx *c, void *fr, dwf_val **out)
{
    pipe_frame *p = fr;
    if (p->i == 0 && pipe_first_waits) pipe_wait(&pipe_calls_entered, 1, 20000);
    pipe_runs[p->i]++;
    pipe_bump(&pipe_runs_total);
    *out = dwf_num(c, p->i * 2);
    return DWF_OK;
}
static int wf_pipe(dwf_ctx *c, void *fr, dwf_val **out)
{
    pipe_frame *p = fr;
    for (p->i = 0; p->i < PIPE_STEPS; p->i++) DWF_TRY(dwf_step(c, NULL, pipe_body, p, NULL, &p->v));
    *out = p->v;
    return DWF_OK;
}

/* The steps whose SUCCEED the fake holds: must be 0..n-1, a prefix. Returns n, or -1. */
static int succeeded_prefix(fake *f)
{
    int n = 0;
    for (int i = 0; i < PIPE_STEPS; i++) {
        char sid[16];
        snprintf(sid, sizeof sid, "%d", i + 1);
        const char *st = op_field(f, sid, "Status");
        int ok = st && strcmp(st, "SUCCEEDED") == 0;
        if (ok && n != i) return -1;
        if (ok) n++;
    }
    return n;
}

/* At-least-once steps are pipelined: the body runs on while a checkpoint call is in flight (the
 * first call is held until 200 bodies have run, which a core that waits for each SUCCEED never
 * reaches), later calls carry many steps each, and the history is the one an unpipelined run
 * writes: every step SUCCEEDED once, in order, with its own result, each body run once.
 * The first body waits until the first call has entered the fake (the sender sends step 1's
 * START alone once it has lingered), so that call carries nothing else however the threads are
 * scheduled, and the 200 bodies' updates are all left for the second call (a sender that first
 * ran after 100 quick steps once put them in the first call: the second then had fewer). */
static void test_pipelined_steps(void)
{
    fake f;
    fake_init(&f);
    f.pipelined = 1;
    f.hold_call = 1;
    f.hold_until = 200;
    pipe_reset(1);
    dwf_workflow wf = WF(wf_pipe, sizeof(pipe_frame));
    cJSON *r = run_all(&f, &wf, "{}", 2);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("1998", sget(r, "Result"));
    TT_ASSERT(pipe_runs_total >= 200);
    TT_EQ_INT(PIPE_STEPS, succeeded_prefix(&f));
    int once = 1;
    for (int i = 0; i < PIPE_STEPS; i++) once &= pipe_runs[i] == 1;
    TT_ASSERT(once);
    TT_EQ_STR("400", op_detail(&f, "201", "StepDetails", "Result"));
    TT_EQ_STR("1998", op_detail(&f, "1000", "StepDetails", "Result"));
    printf("1000 pipelined steps: %d checkpoint calls\n", ncalls(&f));
    TT_ASSERT(ncalls(&f) < PIPE_STEPS / 2);
    TT_EQ_INT(1, call_size(&f, 0)); /* step 1's START, alone */
    TT_ASSERT(call_size(&f, 1) >= 200); /* the next call: START+SUCCEED of the steps run meanwhile */
    cJSON_Delete(r);
    fake_free(&f);
}

/* A crash while pipelined updates are in flight (the third call fails, as a killed process's
 * would never arrive): the invocation ends with a retryable fault and what the service holds is
 * a prefix of the steps; the next invocation replays that prefix without running it and runs
 * the rest again (at-least-once), ending with the same result. */
static void test_pipelined_crash_loses_a_suffix(void)
{
    fake f;
    fake_init(&f);
    f.pipelined = 1;
    f.hold_call = 1;
    f.hold_until = 200; /* under the queue's bound (250 steps' updates): the body gets there */
    f.fail_call = 3;
    pipe_reset(1); /* the first call is step 1's START alone, as in test_pipelined_steps */
    dwf_workflow wf = WF(wf_pipe, sizeof(pipe_frame));
    dwf_error err;
    cJSON *r = invoke_once(&f, &wf, "{}", &err);
    TT_ASSERT(r == NULL);
    TT_EQ_STR("ServiceException", err.type);
    int kept = succeeded_prefix(&f);
    printf("pipelined crash: %d of %d step bodies ran, %d steps kept\n", pipe_runs_total, PIPE_STEPS, kept);
    TT_ASSERT(kept >= 1 && kept < PIPE_STEPS);
    int ran_before = pipe_runs_total;
    TT_ASSERT(ran_before > kept); /* some results were lost with the failed call */
    f.fail_call = 0;
    r = run_all(&f, &wf, "{}", 2);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("1998", sget(r, "Result"));
    TT_EQ_INT(PIPE_STEPS, succeeded_prefix(&f));
    int kept_ran_once = 1, all_ran = 1;
    for (int i = 0; i < PIPE_STEPS; i++) {
        if (i < kept) kept_ran_once &= pipe_runs[i] == 1;
        all_ran &= pipe_runs[i] >= 1 && pipe_runs[i] <= 2;
    }
    TT_ASSERT(kept_ran_once); /* a step whose SUCCEED was kept never ran again */
    TT_ASSERT(all_ran);
    cJSON_Delete(r);
    fake_free(&f);
}

/* The sender thread is kept between invocations (a Lambda environment runs one after another in
 * one process; checkpoint.c parks a sender that has finished with its invocation). Each step
 * body here waits until its START has entered the fake, which only the sender can have sent
 * (the START is fire-and-forget and the body has not returned), so every invocation's sender
 * makes a call. Four invocations in a row: one that suspends on a wait, its replay that
 * succeeds, one whose sender's call fails (a retryable fault), and a fresh run after it: each
 * answers as a run with a new thread would, and every call not made by the invoking thread was
 * made by the same kernel thread (a thread made per invocation has a new thread id each time). */
static pid_t sender_tids[64];
static int nsender_tids;
static pid_t invoking_tid;

static int tid_checkpoint(dwf_transport *t, const char *arn, const cJSON *req, cJSON **resp, dwf_error *err,
                          int *retryable)
{
    pid_t me = (pid_t)syscall(SYS_gettid);
    if (me != invoking_tid && nsender_tids < 64) sender_tids[nsender_tids++] = me;
    return fake_checkpoint(t, arn, req, resp, err, retryable);
}

typedef struct kept_frame {
    dwf_val *a, *b;
} kept_frame;
static int kept_body(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    pipe_wait(&pipe_calls_entered, 1, 20000);
    pipe_bump(&pipe_runs_total);
    *out = dwf_num(c, 7);
    return DWF_OK;
}
static int wf_kept(dwf_ctx *c, void *fr, dwf_val **out)
{
    kept_frame *k = fr;
    DWF_TRY(dwf_step(c, NULL, kept_body, k, NULL, &k->a));
    DWF_TRY(dwf_wait(c, NULL, 5));
    DWF_TRY(dwf_step(c, NULL, kept_body, k, NULL, &k->b));
    *out = k->b;
    return DWF_OK;
}

/* One invocation through tid_checkpoint; the sender tids it saw are appended to sender_tids. */
static cJSON *invoke_kept(fake *f, const dwf_workflow *wf, dwf_error *err)
{
    dwf_transport t = {tid_checkpoint, fake_get_state, fake_now, f};
    cJSON *ev = fake_event(f, "{}");
    fake_input = "{}";
    dwf_invoke_opts o = {.quiet = 1, .request_id = "req-1"};
    pipe_reset(0);
    cJSON *r = dwf_run_invocation(wf, ev, &t, &o, err);
    cJSON_Delete(ev);
    return r;
}

static void test_sender_kept_across_invocations(void)
{
    invoking_tid = (pid_t)syscall(SYS_gettid);
    nsender_tids = 0;
    dwf_workflow wf = WF(wf_kept, sizeof(kept_frame));
    fake f;
    fake_init(&f);
    dwf_error err;
    cJSON *r = invoke_kept(&f, &wf, &err); /* step 1, then the wait suspends */
    TT_EQ_STR("PENDING", status_of(r));
    cJSON_Delete(r);
    int first = nsender_tids;
    TT_ASSERT(first >= 1);
    fake_advance(&f, NULL);
    r = invoke_kept(&f, &wf, &err); /* replays step 1 and the wait, runs step 2 */
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("7", sget(r, "Result"));
    TT_EQ_STR("SUCCEEDED", op_field(&f, "3", "Status"));
    cJSON_Delete(r);
    int second = nsender_tids;
    TT_ASSERT(second > first);
    fake_free(&f);

    fake_init(&f);
    f.fail_call = 1; /* step 1's START, sent by the sender, fails */
    r = invoke_kept(&f, &wf, &err);
    TT_ASSERT(r == NULL);
    TT_EQ_STR("ServiceException", err.type);
    TT_ASSERT(nsender_tids > second);
    int third = nsender_tids;
    f.fail_call = 0;
    r = invoke_kept(&f, &wf, &err); /* the retried invocation: nothing was kept, it starts over */
    TT_EQ_STR("PENDING", status_of(r));
    TT_EQ_STR("SUCCEEDED", op_field(&f, "1", "Status"));
    TT_EQ_STR("STARTED", op_field(&f, "2", "Status"));
    cJSON_Delete(r);
    TT_ASSERT(nsender_tids > third);
    fake_free(&f);

    int same = 1;
    for (int i = 1; i < nsender_tids; i++) same &= sender_tids[i] == sender_tids[0];
    printf("sender kept: %d calls by the sender over 4 invocations, %s thread\n", nsender_tids,
           same ? "one" : "more than one");
    TT_ASSERT(same);
}

/* A body quicker than the service does not queue without end: while the first call is held
 * (until every body ran, which only an unbounded queue allows, or 500 ms), the body stops at
 * about two batches of updates (2 x 250: 250 steps' START and SUCCEED) queued or unacknowledged
 * and goes on as calls are acknowledged. The history is the same: every step SUCCEEDED once, in
 * order. Without the bound all 1,000 bodies ran before the first call arrived. */
static void test_pipelined_queue_bounded(void)
{
    fake f;
    fake_init(&f);
    f.pipelined = 1;
    f.hold_call = 1;
    f.hold_until = PIPE_STEPS;
    f.hold_max_ms = 500;
    pipe_reset(0);
    dwf_workflow wf = WF(wf_pipe, sizeof(pipe_frame));
    cJSON *r = run_all(&f, &wf, "{}", 2);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("1998", sget(r, "Result"));
    printf("pipelined queue: at most %d steps run and unacknowledged at a call, %d calls\n", f.peak_lag, ncalls(&f));
    TT_ASSERT(f.peak_lag >= 1);
    TT_ASSERT(f.peak_lag <= DWF_LIMIT_BATCH_UPDATES + 1);
    TT_EQ_INT(PIPE_STEPS, succeeded_prefix(&f));
    int once = 1;
    for (int i = 0; i < PIPE_STEPS; i++) once &= pipe_runs[i] == 1;
    TT_ASSERT(once);
    TT_EQ_STR("1998", op_detail(&f, "1000", "StepDetails", "Result"));
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- at-most-once and timed steps: the SUCCEED is deferred to the next call ----------------- */
#define AMO_STEPS 5
static int amo_runs[AMO_STEPS];
static int amo_unacked; /* bodies that ran before the previous step's SUCCEED reached the service */
static fake *amo_fake;
static int amo_kind; /* 0: all at-most-once; 1: at-most-once and at-least-once in turn; 2: all timed */
typedef struct amo_frame {
    dwf_val *v;
    int i;
    double sum;
} amo_frame;
static int amo_body(dwf_ctx *c, void *fr, dwf_val **out)
{
    amo_frame *p = fr;
    amo_runs[p->i]++;
    if (p->i > 0) {
        char sid[16];
        snprintf(sid, sizeof sid, "%d", p->i); /* the previous step's */
        pthread_mutex_lock(&amo_fake->mu);
        const char *st = op_field(amo_fake, sid, "Status");
        amo_unacked += !st || strcmp(st, "SUCCEEDED") != 0;
        pthread_mutex_unlock(&amo_fake->mu);
    }
    *out = dwf_num(c, p->i + 1);
    return DWF_OK;
}
static int wf_amo(dwf_ctx *c, void *fr, dwf_val **out)
{
    amo_frame *p = fr;
    for (p->i = 0; p->i < AMO_STEPS; p->i++) {
        int amo = amo_kind == 0 || (amo_kind == 1 && p->i % 2 == 0);
        dwf_step_opts o = {NULL, amo ? DWF_AT_MOST_ONCE : DWF_AT_LEAST_ONCE, NULL, amo_kind == 2 ? 30 : 0};
        DWF_TRY(dwf_step(c, NULL, amo_body, p, &o, &p->v));
        p->sum += p->v->valuedouble;
    }
    *out = dwf_num(c, p->sum);
    return DWF_OK;
}

static void amo_reset(fake *f, int kind, int pipelined)
{
    fake_init(f);
    f->pipelined = pipelined;
    amo_fake = f;
    amo_kind = kind;
    amo_unacked = 0;
    memset(amo_runs, 0, sizeof amo_runs);
}

/* Does call i carry exactly these updates (Action of step sid, ...), in this order? */
static int call_is(fake *f, int i, int n, ...)
{
    cJSON *call = cJSON_GetArrayItem(f->calls, i);
    if (cJSON_GetArraySize(call) != n) return 0;
    va_list ap;
    va_start(ap, n);
    int ok = 1;
    for (int j = 0; j < n; j++) {
        const char *action = va_arg(ap, const char *), *sid = va_arg(ap, const char *);
        char id[17];
        dwf_hash_id(sid, id);
        cJSON *u = cJSON_GetArrayItem(call, j);
        ok &= !strcmp(sget(u, "Action"), action) && !strcmp(sget(u, "Id"), id);
    }
    va_end(ap);
    return ok;
}

/* N at-most-once steps in a row (or N steps with a timeout, which record a START too) cost one
 * checkpoint call each, not two: step i's SUCCEED is deferred and leaves with the awaited START
 * of step i+1, the last one with the invocation's end. No body runs before the previous step's
 * SUCCEED is with the service. Without pipelining (the SDK's calls) it is 2N. */
static void amo_calls(int kind)
{
    fake f;
    amo_reset(&f, kind, 1);
    dwf_workflow wf = WF(wf_amo, sizeof(amo_frame));
    cJSON *r = run_all(&f, &wf, "{}", 2);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("15", sget(r, "Result"));
    TT_EQ_INT(AMO_STEPS + 1, ncalls(&f));
    TT_ASSERT(call_is(&f, 0, 1, "START", "1"));
    for (int i = 1; i < AMO_STEPS; i++) {
        char prev[16], next[16];
        snprintf(prev, sizeof prev, "%d", i);
        snprintf(next, sizeof next, "%d", i + 1);
        TT_ASSERT(call_is(&f, i, 2, "SUCCEED", prev, "START", next));
    }
    TT_ASSERT(call_is(&f, AMO_STEPS, 1, "SUCCEED", "5"));
    TT_EQ_INT(0, amo_unacked);
    for (int i = 0; i < AMO_STEPS; i++) TT_EQ_INT(1, amo_runs[i]);
    TT_EQ_STR("5", op_detail(&f, "5", "StepDetails", "Result"));
    cJSON_Delete(r);
    fake_free(&f);

    amo_reset(&f, kind, 0);
    r = run_all(&f, &wf, "{}", 2);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_INT(2 * AMO_STEPS, ncalls(&f));
    TT_EQ_INT(0, amo_unacked);
    cJSON_Delete(r);
    fake_free(&f);
}
static void test_at_most_once_one_call_per_step(void) { amo_calls(0); }
static void test_timed_steps_one_call_per_step(void) { amo_calls(2); }

/* An at-least-once step after an at-most-once one (its START is not awaited) still does not run
 * its body before the earlier SUCCEED is acknowledged; the history is every step SUCCEEDED once. */
static void test_at_most_once_then_at_least_once(void)
{
    fake f;
    amo_reset(&f, 1, 1);
    dwf_workflow wf = WF(wf_amo, sizeof(amo_frame));
    cJSON *r = run_all(&f, &wf, "{}", 2);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("15", sget(r, "Result"));
    TT_EQ_INT(0, amo_unacked);
    for (int i = 0; i < AMO_STEPS; i++) {
        char sid[16];
        snprintf(sid, sizeof sid, "%d", i + 1);
        TT_EQ_INT(1, amo_runs[i]);
        TT_EQ_STR("SUCCEEDED", op_field(&f, sid, "Status"));
    }
    /* the first at-least-once body ran after the call carrying step 1's SUCCEED and its START */
    TT_ASSERT(call_is(&f, 1, 2, "SUCCEED", "1", "START", "2"));
    cJSON_Delete(r);
    fake_free(&f);
}

/* A crash after step 2's body (the call carrying its deferred SUCCEED and step 3's START fails):
 * the service holds step 2 STARTED, so the replay counts the attempt as interrupted
 * (StepInterruptedError, through the retry policy) and the retry runs the body once more; step 3
 * never ran in the failed invocation, and no body ran twice in one attempt. */
static void test_at_most_once_deferred_crash(void)
{
    fake f;
    amo_reset(&f, 0, 1);
    f.fail_call = 3;
    dwf_workflow wf = WF(wf_amo, sizeof(amo_frame));
    dwf_error err;
    cJSON *r = invoke_once(&f, &wf, "{}", &err);
    TT_ASSERT(r == NULL);
    TT_EQ_STR("ServiceException", err.type);
    TT_EQ_STR("SUCCEEDED", op_field(&f, "1", "Status"));
    TT_EQ_STR("STARTED", op_field(&f, "2", "Status"));
    TT_ASSERT(op_by_sid(&f, "3") == NULL);
    TT_EQ_INT(1, amo_runs[0]);
    TT_EQ_INT(1, amo_runs[1]);
    TT_EQ_INT(0, amo_runs[2]);
    f.fail_call = 0;
    r = invoke_once(&f, &wf, "{}", &err);
    TT_EQ_STR("PENDING", status_of(r));
    TT_EQ_STR("PENDING", op_field(&f, "2", "Status"));
    cJSON *last = cJSON_GetArrayItem(f.calls, ncalls(&f) - 1);
    TT_EQ_STR("RETRY", sget(cJSON_GetArrayItem(last, 0), "Action"));
    TT_EQ_STR("StepInterruptedError",
              sget(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(last, 0), "Error"), "ErrorType"));
    TT_EQ_INT(1, amo_runs[1]); /* not run again in the replaying invocation */
    cJSON_Delete(r);
    fake_advance(&f, NULL);
    r = run_all(&f, &wf, "{}", 2);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("15", sget(r, "Result"));
    TT_EQ_INT(2, op_attempt(&f, "2")); /* the interrupted attempt and its retry */
    int runs[AMO_STEPS] = {1, 2, 1, 1, 1};
    for (int i = 0; i < AMO_STEPS; i++) TT_EQ_INT(runs[i], amo_runs[i]);
    TT_EQ_INT(0, amo_unacked);
    cJSON_Delete(r);
    fake_free(&f);
}

/* The execution fails on an internal error right after an at-most-once step: the body returns a
 * status no operation gives (InternalError), or a batch is given an invalid maxConcurrency
 * (ConfigValidationError). The step's deferred SUCCEED reaches the service before the FAILED
 * answer: the history holds the step's result, then the execution's failure. With pipelining
 * the SUCCEED leaves in the flush before the answer (the last call); without, it was awaited. */
static int amo_fatal_kind; /* 0: a bad status; 1: a bad batch option */
static int amo_fatal_item(dwf_ctx *c, void *fr, dwf_val *item, dwf_val *index, dwf_val **out)
{
    (void)fr;
    (void)index;
    *out = dwf_num(c, item->valuedouble);
    return DWF_OK;
}
static int wf_amo_fatal(dwf_ctx *c, void *fr, dwf_val **out)
{
    amo_frame *p = fr;
    dwf_step_opts o = {NULL, DWF_AT_MOST_ONCE, NULL, 0};
    DWF_TRY(dwf_step(c, NULL, amo_body, p, &o, &p->v));
    if (amo_fatal_kind == 0) return 42;
    dwf_batch_opts bo = DWF_BATCH_DEFAULT;
    bo.max_concurrency = -1;
    return dwf_map(c, "m", dwf_arr(c, 1, dwf_num(c, 1)), amo_fatal_item, NULL, p, &bo, out);
}

static void test_at_most_once_flushed_before_internal_error(void)
{
    static const char *const types[] = {"InternalError", "ConfigValidationError"};
    for (int kind = 0; kind < 2; kind++) {
        for (int pipelined = 1; pipelined >= 0; pipelined--) {
            fake f;
            amo_reset(&f, 0, pipelined);
            amo_fatal_kind = kind;
            dwf_workflow wf = WF(wf_amo_fatal, sizeof(amo_frame));
            dwf_error err;
            cJSON *r = invoke_once(&f, &wf, "{}", &err);
            TT_EQ_STR("FAILED", status_of(r));
            TT_EQ_STR(types[kind], r ? sget(cJSON_GetObjectItemCaseSensitive(r, "Error"), "ErrorType") : "");
            TT_EQ_INT(1, amo_runs[0]);
            TT_EQ_STR("SUCCEEDED", op_field(&f, "1", "Status"));
            TT_EQ_STR("1", op_detail(&f, "1", "StepDetails", "Result"));
            /* nothing after the step reached the service: the failure is the answer */
            TT_EQ_INT(1, cJSON_GetArraySize(f.ops));
            int last = ncalls(&f) - 1;
            TT_EQ_INT(2, ncalls(&f)); /* the awaited START, then the SUCCEED */
            TT_ASSERT(call_is(&f, last, 1, "SUCCEED", "1"));
            cJSON_Delete(r);
            fake_free(&f);
        }
    }
}

/* ---- the deferred SUCCEED inside parallel branches and map items --------------------------- */
/* Three branches (or map items) of steps "a" (at-least-once), "b" (at-most-once: its SUCCEED is
 * deferred) and, when they run at once, "c" (at-least-once). A step body never runs before the
 * deferred SUCCEEDs queued ahead of it are with the service, though an at-least-once START is
 * not awaited: "c" sees its own branch's "b" SUCCEEDED; run one at a time (maxConcurrency 1),
 * branch i's "a" sees branch i-1's "b", the deferred SUCCEED of another branch. The history
 * (every operation, its status and result) is the one the SDK's way of calling (every SUCCEED
 * awaited) leaves. */
#define BRD_N 3
typedef struct brd_frame {
    int i;
    dwf_val *a, *b, *c;
} brd_frame;
static brd_frame brd_fr[BRD_N];
static int brd_runs[BRD_N][3];
static int brd_unacked; /* bodies that ran before a SUCCEED they must follow was with the service */
static int brd_serial;  /* maxConcurrency 1, and no step "c" */
static int brd_map;     /* map items instead of parallel branches */
static fake *brd_fake;

static void brd_expect_acked(int branch, const char *step)
{
    char sid[32];
    snprintf(sid, sizeof sid, "1-%d-%s", branch + 1, step);
    pthread_mutex_lock(&brd_fake->mu);
    const char *st = op_field(brd_fake, sid, "Status");
    int acked = st && strcmp(st, "SUCCEEDED") == 0;
    pthread_mutex_unlock(&brd_fake->mu);
    if (!acked) __atomic_add_fetch(&brd_unacked, 1, __ATOMIC_ACQ_REL);
}
static int brd_a(dwf_ctx *c, void *fr, dwf_val **out)
{
    brd_frame *p = fr;
    brd_runs[p->i][0]++;
    if (brd_serial && p->i > 0) brd_expect_acked(p->i - 1, "2");
    *out = dwf_num(c, p->i * 10 + 1);
    return DWF_OK;
}
static int brd_b(dwf_ctx *c, void *fr, dwf_val **out)
{
    brd_frame *p = fr;
    brd_runs[p->i][1]++;
    *out = dwf_num(c, p->i * 10 + 2);
    return DWF_OK;
}
static int brd_c(dwf_ctx *c, void *fr, dwf_val **out)
{
    brd_frame *p = fr;
    brd_runs[p->i][2]++;
    brd_expect_acked(p->i, "2");
    *out = dwf_num(c, p->i * 10 + 3);
    return DWF_OK;
}
static int brd_branch(dwf_ctx *c, int i, dwf_val **out)
{
    brd_frame *p = &brd_fr[i];
    dwf_step_opts alo = {NULL, DWF_AT_LEAST_ONCE, NULL, 0}, amo = {NULL, DWF_AT_MOST_ONCE, NULL, 0};
    DWF_TRY(dwf_step(c, "a", brd_a, p, &alo, &p->a));
    DWF_TRY(dwf_step(c, "b", brd_b, p, &amo, &p->b));
    double sum = p->a->valuedouble + p->b->valuedouble;
    if (!brd_serial) {
        DWF_TRY(dwf_step(c, "c", brd_c, p, &alo, &p->c));
        sum += p->c->valuedouble;
    }
    *out = dwf_num(c, sum);
    return DWF_OK;
}
static int brd_br0(dwf_ctx *c, void *fr, dwf_val **out) { (void)fr; return brd_branch(c, 0, out); }
static int brd_br1(dwf_ctx *c, void *fr, dwf_val **out) { (void)fr; return brd_branch(c, 1, out); }
static int brd_br2(dwf_ctx *c, void *fr, dwf_val **out) { (void)fr; return brd_branch(c, 2, out); }
static int brd_item(dwf_ctx *c, void *fr, dwf_val *item, dwf_val *index, dwf_val **out)
{
    (void)fr;
    (void)item;
    return brd_branch(c, (int)index->valuedouble, out);
}
static int wf_brd(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    dwf_batch_opts o = DWF_BATCH_DEFAULT;
    o.max_concurrency = brd_serial ? 1 : 0;
    if (brd_map) {
        dwf_val *items = dwf_arr(c, BRD_N, dwf_num(c, 0), dwf_num(c, 1), dwf_num(c, 2));
        DWF_TRY(dwf_map(c, "m", items, brd_item, NULL, f, &o, &f->a));
    } else {
        static const dwf_branch br[BRD_N] = {{NULL, brd_br0}, {NULL, brd_br1}, {NULL, brd_br2}};
        DWF_TRY(dwf_parallel(c, "p", br, BRD_N, f, &o, &f->a));
    }
    *out = f->a;
    return DWF_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The history as text: each operation (sorted by Id: branches start in any order) with its
 * type, subtype, name, parent, status and result. */
static char *history_text(fake *f)
{
    int n = cJSON_GetArraySize(f->ops);
    char **rows = calloc((size_t)n, sizeof *rows);
    size_t total = 1;
    for (int i = 0; i < n; i++) {
        cJSON *op = cJSON_GetArrayItem(f->ops, i);
        const char *res = NULL;
        cJSON *sd = cJSON_GetObjectItemCaseSensitive(op, "StepDetails");
        cJSON *cd = cJSON_GetObjectItemCaseSensitive(op, "ContextDetails");
        if (sd) res = sget(sd, "Result");
        if (cd) res = sget(cd, "Result");
        const char *k[] = {sget(op, "Id"), sget(op, "Type"), sget(op, "SubType"), sget(op, "Name"),
                           sget(op, "ParentId"), sget(op, "Status"), res};
        char row[1024];
        int len = 0;
        for (int j = 0; j < 7; j++) len += snprintf(row + len, sizeof row - (size_t)len, "%s|", k[j] ? k[j] : "-");
        rows[i] = strdup(row);
        total += strlen(row) + 1;
    }
    qsort(rows, (size_t)n, sizeof *rows, cmp_str);
    char *text = calloc(1, total);
    for (int i = 0; i < n; i++) {
        strcat(strcat(text, rows[i]), "\n");
        free(rows[i]);
    }
    free(rows);
    return text;
}

static char *brd_run(int pipelined, int *unacked)
{
    fake f;
    fake_init(&f);
    f.pipelined = pipelined;
    brd_fake = &f;
    brd_unacked = 0;
    memset(brd_runs, 0, sizeof brd_runs);
    for (int i = 0; i < BRD_N; i++) brd_fr[i] = (brd_frame){i, NULL, NULL, NULL};
    dwf_workflow wf = WF(wf_brd, sizeof(frame1));
    cJSON *r = run_all(&f, &wf, "{}", 2);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    char *res = result_field(r, "results");
    TT_EQ_STR(brd_serial ? "[3,23,43]" : "[6,36,66]", res);
    free(res);
    int nsteps = brd_serial ? 2 : 3;
    for (int i = 0; i < BRD_N; i++)
        for (int j = 0; j < 3; j++) TT_EQ_INT(j < nsteps ? 1 : 0, brd_runs[i][j]);
    TT_EQ_INT(1 + BRD_N * (1 + nsteps), cJSON_GetArraySize(f.ops));
    *unacked = brd_unacked;
    char *h = history_text(&f);
    cJSON_Delete(r);
    fake_free(&f);
    return h;
}

static void test_at_most_once_in_branches_and_items(void)
{
    for (brd_map = 0; brd_map < 2; brd_map++) {
        for (brd_serial = 1; brd_serial >= 0; brd_serial--) {
            int unacked_sdk = -1, unacked = -1;
            char *sdk = brd_run(0, &unacked_sdk);
            char *piped = brd_run(1, &unacked);
            TT_EQ_INT(0, unacked_sdk);
            TT_EQ_INT(0, unacked);
            TT_EQ_STR(sdk, piped);
            free(sdk);
            free(piped);
        }
    }
}

/* ---- scale: 10,000 steps in one invocation ---------------------------------------------- */
static size_t heap_at_end; /* heap in use when the 10,000th step is done (core + fake) */
static size_t heap_now(void) { return mallinfo2().uordblks; }
static int wf_many(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    for (int i = 0; i < 10000; i++) DWF_TRY(dwf_step(c, NULL, body_num1, f, NULL, &f->a));
    heap_at_end = heap_now();
    *out = f->a;
    return DWF_OK;
}

static long rss_kb(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (fp && fgets(line, sizeof line, fp))
        if (!strncmp(line, "VmRSS:", 6)) kb = atol(line + 6);
    if (fp) fclose(fp);
    return kb;
}

/* Peak RSS since the last reset (VmHWM), in KiB; reset_peak() starts a new window. */
static long peak_kb(void)
{
    FILE *fp = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    while (fp && fgets(line, sizeof line, fp))
        if (!strncmp(line, "VmHWM:", 6)) kb = atol(line + 6);
    if (fp) fclose(fp);
    return kb;
}
static void reset_peak(void)
{
    FILE *fp = fopen("/proc/self/clear_refs", "w");
    if (fp) {
        fputs("5", fp);
        fclose(fp);
    }
}

/* Timing and heap assertions only mean something in a plain build. */
static int instrumented(void)
{
    const char *v[] = {"DWF_VALGRIND", "DWF_SANITIZE", "SANITIZE"};
    for (int i = 0; i < 3; i++)
        if (getenv(v[i]) && *getenv(v[i])) return 1;
    return 0;
}

static void test_many_steps(void)
{
    fake f;
    fake_init(&f);
    f.record_calls_off = 1;
    memset(side_effects, 0, sizeof side_effects);
    dwf_workflow wf = WF(wf_many, sizeof(frame1));
    long base = rss_kb();
    reset_peak();
    size_t heap0 = heap_now();
    double t0 = now_s();
    cJSON *r = run_all(&f, &wf, "{}", 2);
    double t1 = now_s();
    long peak1 = peak_kb();
    /* What the core held at its peak: the heap then, minus what the fake still holds now. */
    size_t core_bytes = heap_at_end - heap_now();
    printf("10000 steps: the core held %.2f MiB at the end of the body (op table included); "
           "the fake holds %.2f MiB\n",
           core_bytes / 1048576.0, (heap_now() - heap0) / 1048576.0);
    if (!instrumented()) TT_ASSERT(core_bytes < 8u * 1024 * 1024); /* 3.75 MiB when written */
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_INT(10000, ncalls(&f)); /* one call per step */
    TT_EQ_INT(10000, side_effects[1]);
    cJSON_Delete(r);
    /* replay of all 10,000 from the event: O(N), nothing re-run */
    long base2 = rss_kb();
    reset_peak();
    double t2 = now_s();
    r = invoke_once(&f, &wf, "{}", NULL);
    double t3 = now_s();
    long peak2 = peak_kb();
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_INT(10000, side_effects[1]);
    printf("10000 steps: first run %.3f s (peak +%ld KiB over %ld), replay %.3f s (peak +%ld KiB "
           "over %ld, event and fake included)\n",
           t1 - t0, peak1 - base, base, t3 - t2, peak2 - base2, base2);
    /* How replay time grows with N (O(N): ~0.3 s here) is bench/replay.sh's to measure, not a test's. */
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- batching limits: 300 fire-and-forget updates split at 250 ------------------------- */
static int noop_item(dwf_ctx *c, void *fr, dwf_val *item, dwf_val *index, dwf_val **out)
{
    (void)c;
    (void)fr;
    (void)item;
    (void)index;
    (void)out;
    return DWF_OK;
}
static int wf_wide_map(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < 300; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(i));
    dwf_batch_opts o = {4, -1, -1, -1};
    DWF_TRY(dwf_map(c, NULL, dwf__adopt(c, a), noop_item, NULL, f, &o, &f->a));
    DWF_TRY(dwf_wait(c, NULL, 1)); /* an awaited update flushes everything queued */
    *out = dwf_get(c, f->a, "successCount");
    return DWF_OK;
}

static void test_batch_limits(void)
{
    fake f;
    fake_init(&f);
    dwf_workflow wf = WF(wf_wide_map, sizeof(frame1));
    cJSON *r = run_all(&f, &wf, "{}", 3);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("300", sget(r, "Result"));
    /* 1 map START + 300 item STARTs + 300 item SUCCEEDs + map SUCCEED + WAIT START = 603 */
    int total = 0, max = 0;
    for (int i = 0; i < ncalls(&f); i++) {
        total += call_size(&f, i);
        if (call_size(&f, i) > max) max = call_size(&f, i);
    }
    TT_EQ_INT(603, total);
    TT_EQ_INT(250, max);
    TT_EQ_INT(3, ncalls(&f)); /* 250 + 250 + 103 in the first invocation */
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- progress hook ---------------------------------------------------------------------- */
static int hook_calls;
static void on_op(void *arg, const cJSON *op)
{
    (void)arg;
    if (op && cJSON_GetObjectItemCaseSensitive(op, "Id")) hook_calls++;
}

static void test_progress_hook(void)
{
    fake f;
    fake_init(&f);
    dwf_workflow wf = WF(wf_order, sizeof(frame1));
    dwf_transport t = fake_transport(&f);
    cJSON *ev = fake_event(&f, "{}");
    dwf_invoke_opts o = {.quiet = 1, .request_id = "req-9", .on_operation = on_op, .no_pipelining = 1};
    dwf_error err;
    hook_calls = 0;
    cJSON *r = dwf_run_invocation(&wf, ev, &t, &o, &err);
    TT_EQ_STR("PENDING", status_of(r));
    TT_EQ_INT(3, hook_calls); /* two steps and the wait changed state */
    cJSON_Delete(r);
    cJSON_Delete(ev);
    /* a missing token is refused */
    ev = cJSON_Parse("{\"DurableExecutionArn\":\"a\"}");
    r = dwf_run_invocation(&wf, ev, &t, &o, &err);
    TT_ASSERT(r == NULL);
    TT_EQ_STR("InvalidParameterValueException", err.type);
    cJSON_Delete(ev);
    fake_free(&f);
}

/* ---- a child result over 256 KiB: ReplayChildren, rebuilt on replay ------------------- */
static int big_group_body(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    bump(9);
    DWF_TRY(dwf_step(c, "part", body_num1, f, NULL, &f->a));
    size_t n = 300 * 1024;
    char *s = malloc(n + 1);
    memset(s, 'z', n);
    s[n] = 0;
    *out = dwf_obj(c, 2, "part", f->a, "blob", dwf_str(c, s));
    free(s);
    return DWF_OK;
}
static int wf_big_group(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    DWF_TRY(dwf_group(c, "big", big_group_body, f, &f->a));
    *out = dwf_get(c, f->a, "part");
    return DWF_OK;
}

static void test_replay_children(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    dwf_workflow wf = WF(wf_big_group, sizeof(frame1));
    cJSON *r = run_all(&f, &wf, "{}", 3);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("1", sget(r, "Result"));
    TT_EQ_STR("", op_detail(&f, "1", "ContextDetails", "Result"));
    cJSON *cd = cJSON_GetObjectItemCaseSensitive(op_by_sid(&f, "1"), "ContextDetails");
    TT_ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cd, "ReplayChildren")));
    cJSON_Delete(r);
    int calls = ncalls(&f);
    r = invoke_once(&f, &wf, "{}", NULL);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("1", sget(r, "Result"));
    TT_EQ_INT(2, side_effects[9]); /* the body ran again to rebuild the value... */
    TT_EQ_INT(1, side_effects[1]); /* ...but its step came from the record */
    TT_EQ_INT(calls, ncalls(&f));  /* and nothing was checkpointed */
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- misuse: a durable operation inside a step body ------------------------------------ */
static int body_bad(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    (void)out;
    return dwf_wait(c, NULL, 1);
}
static int wf_bad(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    DWF_TRY(dwf_step(c, "s", body_bad, f, NULL, &f->a));
    *out = f->a;
    return DWF_OK;
}
static int wf_until(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    /* the fake clock is 2026-03-20T15:12:26.545Z; 90.2 s later rounds up to 91 */
    DWF_TRY(dwf_wait_until(c, "later", dwf_str(c, "2026-03-20T15:13:56.745Z")));
    *out = dwf_str(c, "done");
    return DWF_OK;
}

static void test_misuse_and_wait_until(void)
{
    fake f;
    fake_init(&f);
    dwf_workflow wf = WF(wf_bad, sizeof(frame1));
    cJSON *r = run_all(&f, &wf, "{}", 3);
    TT_EQ_STR("FAILED", status_of(r));
    TT_EQ_STR("ContextValidationError", sget(cJSON_GetObjectItemCaseSensitive(r, "Error"), "ErrorType"));
    cJSON_Delete(r);
    fake_free(&f);

    fake_init(&f);
    dwf_workflow wf2 = WF(wf_until, 0);
    r = run_all(&f, &wf2, "{}", 3);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    cJSON *u = cJSON_GetArrayItem(cJSON_GetArrayItem(f.calls, 0), 0);
    TT_EQ_INT(91, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(u, "WaitOptions"), "WaitSeconds")->valueint);
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- completion while an item is in flight: STARTED, its checkpoints dropped ---------- */
static int slow_step_body(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    bump(10);
    burn_cpu(0.3, 1);
    *out = dwf_num(c, 7);
    return DWF_OK;
}
static int br_fail_now(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    (void)out;
    return dwf_fail(c, "Boom", "failed at once");
}
static int br_slow(dwf_ctx *c, void *fr, dwf_val **out) { return dwf_step(c, "slow", slow_step_body, fr, NULL, out); }
static int wf_failfast(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    static const dwf_branch br[] = {{"quick-fail", br_fail_now}, {"slow", br_slow}};
    DWF_TRY(dwf_parallel(c, NULL, br, 2, f, NULL, &f->a));
    *out = f->a;
    return DWF_OK;
}

static void test_inflight_at_completion(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    dwf_workflow wf = WF(wf_failfast, sizeof(frame1));
    cJSON *r = run_all(&f, &wf, "{}", 3);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    /* The slow branch may or may not have begun its step (a thread cannot be stopped, but
     * one that had not yet taken its item never runs it); either way nothing of it after
     * the batch completed reaches the service. */
    TT_ASSERT(side_effects[10] <= 1);
    TT_ASSERT(!op_field(&f, "1-2-1", "Status") || strcmp(op_field(&f, "1-2-1", "Status"), "STARTED") == 0);
    TT_EQ_STR("STARTED", op_field(&f, "1-2", "Status"));
    TT_EQ_STR("FAILED", op_field(&f, "1-1", "Status"));
    char *s = result_field(r, "startedCount");
    TT_EQ_STR("1", s);
    free(s);
    s = result_field(r, "completionReason");
    TT_EQ_STR("\"FAILURE_TOLERANCE_EXCEEDED\"", s);
    free(s);
    TT_EQ_STR("{\"all\":[{\"error\":{\"ErrorType\":\"ChildContextError\",\"ErrorMessage\":\"failed at once\","
              "\"Cause\":{\"ErrorType\":\"StepError\",\"ErrorMessage\":\"failed at once\","
              "\"Cause\":{\"ErrorType\":\"Boom\",\"ErrorMessage\":\"failed at once\"}}},\"index\":0,\"status\":\"FAILED\"},"
              "{\"index\":1,\"status\":\"STARTED\"}],\"completionReason\":\"FAILURE_TOLERANCE_EXCEEDED\"}",
              op_detail(&f, "1", "ContextDetails", "Result"));
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- the hash table and step-id order -------------------------------------------------- */
static void test_hashmap_and_ids(void)
{
    dwf__map m;
    TT_EQ_INT(0, dwf__map_init(&m, 4));
    static int vals[5000];
    char key[32];
    int bad = 0;
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        if (dwf__map_put(&m, key, &vals[i], NULL) != 0) bad++;
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(key, sizeof key, "k%d", i);
        if (dwf__map_get(&m, key) != &vals[i]) bad++;
    }
    TT_EQ_INT(0, bad);
    void *old = NULL;
    dwf__map_put(&m, "k7", &vals[0], &old);
    TT_ASSERT(old == &vals[7]);
    TT_EQ_INT(5000, m.len);
    TT_ASSERT(dwf__map_get(&m, "nope") == NULL);
    dwf__map_free(&m);
    TT_ASSERT(dwf__step_id_cmp("2", "10") < 0);
    TT_ASSERT(dwf__step_id_cmp("2-1-3", "2-1-10") < 0);
    TT_ASSERT(dwf__step_id_cmp("3", "2-5") > 0);
    TT_ASSERT(dwf__step_id_cmp("2", "2-1") < 0);
    TT_EQ_INT(0, dwf__step_id_cmp("4-1", "4-1"));
}

/* ---- a batch result over 256 KiB: the SDK's summary, rebuilt from the items on replay -- */
static int big_item(dwf_ctx *c, void *fr, dwf_val *item, dwf_val *index, dwf_val **out)
{
    (void)fr;
    (void)index;
    bump(11);
    size_t n = 100 * 1024;
    char *s = malloc(n + 1);
    memset(s, 'a' + (int)item->valuedouble, n);
    s[n] = 0;
    *out = dwf_str(c, s);
    free(s);
    return DWF_OK;
}
static int wf_big_map(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    dwf_val *items = dwf_arr(c, 3, dwf_num(c, 0), dwf_num(c, 1), dwf_num(c, 2));
    DWF_TRY(dwf_map(c, "big", items, big_item, NULL, f, NULL, &f->a));
    dwf_val *res = dwf_get(c, f->a, "results");
    *out = dwf_obj(c, 2, "n", dwf_num(c, dwf_len(res)),
                   "third", dwf_num(c, (unsigned char)cJSON_GetArrayItem(res, 2)->valuestring[0]));
    return DWF_OK;
}

static void test_batch_summary(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    dwf_workflow wf = WF(wf_big_map, sizeof(frame1));
    cJSON *r = run_all(&f, &wf, "{}", 3);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("{\"n\":3,\"third\":99}", sget(r, "Result"));
    TT_EQ_STR("{\"type\":\"MapResult\",\"totalCount\":3,\"successCount\":3,\"failureCount\":0,"
              "\"completionReason\":\"ALL_COMPLETED\",\"status\":\"SUCCEEDED\",\"itemStatuses\":\"SSS\"}",
              op_detail(&f, "1", "ContextDetails", "Result"));
    cJSON_Delete(r);
    r = invoke_once(&f, &wf, "{}", NULL);
    TT_EQ_STR("{\"n\":3,\"third\":99}", sget(r, "Result"));
    TT_EQ_INT(3, side_effects[11]); /* rebuilt from the items' records, no body re-run */
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- waitForCallback errors and a suspended item holding its slot ---------------------- */
static int bad_submitter(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    (void)out;
    return dwf_fail(c, "SendFailed", "could not send");
}
static int wf_wfc_errors(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    static const dwf_retry once = {1, 1, 1, 1, DWF_JITTER_NONE, NULL};
    int rc = dwf_wait_for_callback(c, NULL, bad_submitter, f, NULL, &once, &f->a);
    if (rc == DWF_ERROR) f->a = dwf_error_take(c);
    else DWF_TRY(rc);
    dwf_callback_opts o = {.timeout_s = 5};
    rc = dwf_wait_for_callback(c, NULL, submitter, f, &o, NULL, &f->b);
    if (rc == DWF_ERROR) f->b = dwf_error_take(c);
    else DWF_TRY(rc);
    *out = dwf_obj(c, 2, "first", dwf_get(c, f->a, "ErrorType"), "second", dwf_get(c, f->b, "ErrorType"));
    return DWF_OK;
}

static void test_wait_for_callback_errors(void)
{
    fake f;
    fake_init(&f);
    dwf_workflow wf = WF(wf_wfc_errors, sizeof(frame1));
    cJSON *r = invoke_once(&f, &wf, "{}", NULL);
    TT_EQ_STR("PENDING", status_of(r));
    TT_EQ_STR("FAILED", op_field(&f, "1", "Status"));
    cJSON_Delete(r);
    char id21[17];
    dwf_hash_id("2-1", id21);
    fake_callback(&f, id21, "TIMED_OUT", NULL);
    r = invoke_once(&f, &wf, "{}", NULL);
    TT_EQ_STR("{\"first\":\"CallbackSubmitterError\",\"second\":\"CallbackTimeoutError\"}", sget(r, "Result"));
    cJSON_Delete(r);
    fake_free(&f);
}

static int slot_item(dwf_ctx *c, void *fr, dwf_val *item, dwf_val *index, dwf_val **out)
{
    (void)fr;
    (void)index;
    bump(12);
    if (item->valuedouble == 0) DWF_TRY(dwf_wait(c, NULL, 5));
    *out = item;
    return DWF_OK;
}
static int wf_slots(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    dwf_batch_opts o = {1, -1, -1, -1};
    DWF_TRY(dwf_map(c, NULL, dwf_arr(c, 2, dwf_num(c, 0), dwf_num(c, 1)), slot_item, NULL, f, &o, &f->a));
    *out = dwf_get(c, f->a, "results");
    return DWF_OK;
}

static void test_suspended_item_keeps_slot(void)
{
    fake f;
    fake_init(&f);
    memset(side_effects, 0, sizeof side_effects);
    dwf_workflow wf = WF(wf_slots, sizeof(frame1));
    cJSON *r = invoke_once(&f, &wf, "{}", NULL);
    TT_EQ_STR("PENDING", status_of(r));
    TT_EQ_INT(1, side_effects[12]);
    TT_ASSERT(op_by_sid(&f, "1-2") == NULL); /* max_concurrency 1: item 1 waits for the slot */
    cJSON_Delete(r);
    fake_advance(&f, NULL);
    r = invoke_once(&f, &wf, "{}", NULL);
    TT_EQ_STR("[0,1]", sget(r, "Result"));
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- non-determinism found inside a branch thread fails the execution ----------------- */
static const char *branch_wait_name = "w";
static int br_named_wait(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    DWF_TRY(dwf_wait(c, branch_wait_name, 2));
    *out = dwf_num(c, 2);
    return DWF_OK;
}
static int wf_par_nd(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    static const dwf_branch br[] = {{NULL, br_quick}, {NULL, br_named_wait}};
    DWF_TRY(dwf_parallel(c, NULL, br, 2, f, NULL, &f->a));
    *out = f->a;
    return DWF_OK;
}

static void test_nondeterminism_in_branch(void)
{
    fake f;
    fake_init(&f);
    dwf_workflow wf = WF(wf_par_nd, sizeof(frame1));
    cJSON *r = invoke_once(&f, &wf, "{}", NULL);
    TT_EQ_STR("PENDING", status_of(r));
    cJSON_Delete(r);
    fake_advance(&f, NULL);
    branch_wait_name = "renamed";
    r = invoke_once(&f, &wf, "{}", NULL);
    branch_wait_name = "w";
    TT_EQ_STR("FAILED", status_of(r));
    cJSON *e = r ? cJSON_GetObjectItemCaseSensitive(r, "Error") : NULL;
    TT_EQ_STR("NonDeterministicExecutionError", sget(e, "ErrorType"));
    TT_ASSERT(e && strstr(sget(e, "ErrorMessage"), "for step \"1-2-1\"") != NULL);
    cJSON_Delete(r);
    fake_free(&f);
}

/* ---- accessors the value layer uses ------------------------------------------------------ */
static int seen_quiet = -1, seen_in_step = -1, seen_attempt = -1, seen_line = -1;
static char seen_opid[32], seen_opname[32];
static int acc_body(dwf_ctx *c, void *fr, dwf_val **out)
{
    (void)fr;
    seen_in_step = dwf__in_step(c);
    seen_attempt = dwf__attempt(c);
    seen_line = dwf__line(c);
    snprintf(seen_opid, sizeof seen_opid, "%s", dwf__operation_id(c) ? dwf__operation_id(c) : "");
    snprintf(seen_opname, sizeof seen_opname, "%s", dwf__operation_name(c) ? dwf__operation_name(c) : "");
    *out = dwf_num(c, 1);
    return DWF_OK;
}
static int wf_acc(dwf_ctx *c, void *fr, dwf_val **out)
{
    frame1 *f = fr;
    seen_quiet = dwf__quiet(c);
    DWF_AT(c, 42, 3);
    DWF_TRY(dwf_step(c, "acc", acc_body, f, NULL, &f->a));
    *out = dwf_obj(c, 2, "in", dwf_num(c, dwf__in_step(c)), "input", dwf__input(c));
    return DWF_OK;
}

static void test_accessors(void)
{
    fake f;
    fake_init(&f);
    dwf_workflow wf = WF(wf_acc, sizeof(frame1));
    cJSON *r = run_all(&f, &wf, "{\"k\":1}", 2); /* invoke_once passes quiet = 1 */
    TT_EQ_STR("{\"in\":0,\"input\":{\"k\":1}}", sget(r, "Result"));
    TT_EQ_INT(1, seen_quiet);
    TT_EQ_INT(1, seen_in_step);
    TT_EQ_INT(1, seen_attempt);
    TT_EQ_INT(42, seen_line);
    TT_EQ_STR("c4ca4238a0b92382", seen_opid);
    TT_EQ_STR("acc", seen_opname);
    cJSON_Delete(r);
    fake_free(&f);
}


/* ---- loops hand back what an iteration made (dwf_pool_collect) --------------------------- */
typedef struct loop_frame {
    dwf_val *sum, *item, *r, *keep, *acc, *inner, *j;
} loop_frame;
static size_t loop_max_pool;

static int body_double(dwf_ctx *c, void *fr, dwf_val **out)
{
    loop_frame *f = fr;
    *out = dwf_num(c, f->item->valuedouble * 2);
    return DWF_OK;
}

/* The shape `dwf compile` gives a `for`: mark after the array is made, collect at the end of
 * each iteration. Variables point at step results, at fresh values, inside an object (keep)
 * and at a growing array; an inner loop over a one-item array made anew every iteration makes
 * the next array likely to land where the freed one was (dwf_item's cursor must not resume). */
static int wf_loop(dwf_ctx *c, void *fr, dwf_val **out)
{
    loop_frame *f = fr;
    dwf_val *arr = dwf_builtin_range(c, 1, (dwf_val *const[]){dwf_num(c, 300)});
    f->sum = dwf_num(c, 0);
    f->acc = dwf_arr(c, 0);
    f->inner = dwf_num(c, 0);
    dwf_loop_mark m = dwf_pool_mark(c);
    for (int i = 0, n = dwf_len(arr); i < n; i++) {
        f->item = dwf_item(c, arr, i);
        char name[32];
        snprintf(name, sizeof name, "s-%d", i);
        DWF_TRY(dwf_step(c, name, body_double, f, NULL, &f->r));
        f->sum = dwf_binop(c, DWF_OP_ADD, f->sum, f->r);
        dwf_val *o = dwf_obj(c, 2, "k", dwf_num(c, i), "pad", dwf_str(c, "xxxxxxxxxxxxxxxx"));
        f->keep = dwf_get(c, o, "k"); /* points inside o: o must survive */
        if (i % 10 == 0) f->acc = dwf_binop(c, DWF_OP_ADD, f->acc, dwf_arr(c, 1, f->item));
        dwf_val *one = dwf_arr(c, 1, dwf_num(c, i));
        dwf_loop_mark m2 = dwf_pool_mark(c);
        for (int k = 0, kn = dwf_len(one); k < kn; k++) {
            f->j = dwf_item(c, one, k);
            f->inner = dwf_binop(c, DWF_OP_ADD, f->inner, f->j);
            dwf_pool_collect(c, &m2, f);
        }
        dwf_pool_collect(c, &m, f);
        pthread_mutex_lock(&c->inv->pool_mu);
        if (c->inv->npool > loop_max_pool) loop_max_pool = c->inv->npool;
        pthread_mutex_unlock(&c->inv->pool_mu);
    }
    *out = dwf_obj(c, 4, "sum", f->sum, "keep", f->keep, "acc", dwf_builtin_len(c, 1, (dwf_val *const[]){f->acc}),
                   "inner", f->inner);
    return DWF_OK;
}

static void test_loop_collect(void)
{
    fake f;
    fake_init(&f);
    dwf_workflow wf = WF(wf_loop, sizeof(loop_frame));
    loop_max_pool = 0;
    cJSON *r = run_all(&f, &wf, "{}", 2);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    /* sum of 2i for i < 300, the last i, 30 appended items, sum of i */
    TT_EQ_STR("{\"sum\":89700,\"keep\":299,\"acc\":30,\"inner\":44850}", sget(r, "Result"));
    /* about a dozen values per iteration, 300 iterations: without collecting the pool would
     * hold thousands; with it, the variables and what the loop started with */
    TT_ASSERT(loop_max_pool < 60);
    cJSON_Delete(r);
    /* replay: every step's recorded result comes back and is collected the same way */
    loop_max_pool = 0;
    r = invoke_once(&f, &wf, "{}", NULL);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("{\"sum\":89700,\"keep\":299,\"acc\":30,\"inner\":44850}", sget(r, "Result"));
    TT_ASSERT(loop_max_pool < 60);
    cJSON_Delete(r);
    fake_free(&f);
}

/* Map items run loops on their own threads at the same time: each collects only its own. */
static int loop_item(dwf_ctx *c, void *fr, dwf_val *item, dwf_val *index, dwf_val **out)
{
    (void)index;
    loop_frame *f = fr;
    dwf_val *arr = dwf_builtin_range(c, 1, (dwf_val *const[]){dwf_num(c, 200)});
    f->sum = dwf_num(c, 0);
    dwf_loop_mark m = dwf_pool_mark(c);
    for (int i = 0, n = dwf_len(arr); i < n; i++) {
        f->j = dwf_item(c, arr, i);
        dwf_val *t = dwf_binop(c, DWF_OP_MUL, f->j, item);
        (void)dwf_concat(c, 2, dwf_str(c, "garbage "), t); /* a temporary nobody keeps */
        f->sum = dwf_binop(c, DWF_OP_ADD, f->sum, t);
        dwf_pool_collect(c, &m, f);
    }
    *out = f->sum;
    return DWF_OK;
}
static int wf_loop_map(dwf_ctx *c, void *fr, dwf_val **out)
{
    loop_frame *f = fr;
    f->keep = dwf_str(c, "parent's"); /* made before the items: never theirs to free */
    dwf_val *items = dwf_arr(c, 4, dwf_num(c, 1), dwf_num(c, 2), dwf_num(c, 3), dwf_num(c, 4));
    dwf_batch_opts o = DWF_BATCH_DEFAULT;
    DWF_TRY(dwf_map(c, "m", items, loop_item, NULL, f, &o, &f->acc));
    *out = dwf_obj(c, 2, "r", dwf_get(c, f->acc, "results"), "keep", f->keep);
    return DWF_OK;
}

static void test_loop_collect_map(void)
{
    fake f;
    fake_init(&f);
    dwf_workflow wf = WF(wf_loop_map, sizeof(loop_frame));
    cJSON *r = run_all(&f, &wf, "{}", 3);
    TT_EQ_STR("SUCCEEDED", status_of(r));
    TT_EQ_STR("{\"r\":[19900,39800,59700,79600],\"keep\":\"parent's\"}", sget(r, "Result"));
    cJSON_Delete(r);
    fake_free(&f);
}

int main(void)
{
    TT_RUN(test_ids);
    TT_RUN(test_loop_collect);
    TT_RUN(test_loop_collect_map);
    TT_RUN(test_order_history);
    TT_RUN(test_nondeterminism);
    TT_RUN(test_retry_then_success);
    TT_RUN(test_retry_exhausted);
    TT_RUN(test_retry_filter);
    TT_RUN(test_at_most_once);
    TT_RUN(test_checkpoint_fault);
    TT_RUN(test_paging_and_input);
    TT_RUN(test_payload_limits);
    TT_RUN(test_callback);
    TT_RUN(test_wait_for_callback);
    TT_RUN(test_poll);
    TT_RUN(test_invoke);
    TT_RUN(test_group);
    TT_RUN(test_parallel_threads);
    TT_RUN(test_map_rules);
    TT_RUN(test_parallel_suspend);
    TT_RUN(test_saga);
    TT_RUN(test_many_steps);
    TT_RUN(test_pipelined_steps);
    TT_RUN(test_pipelined_crash_loses_a_suffix);
    TT_RUN(test_pipelined_queue_bounded);
    TT_RUN(test_sender_kept_across_invocations);
    TT_RUN(test_at_most_once_one_call_per_step);
    TT_RUN(test_timed_steps_one_call_per_step);
    TT_RUN(test_at_most_once_then_at_least_once);
    TT_RUN(test_at_most_once_deferred_crash);
    TT_RUN(test_at_most_once_flushed_before_internal_error);
    TT_RUN(test_at_most_once_in_branches_and_items);
    TT_RUN(test_batch_limits);
    TT_RUN(test_progress_hook);
    TT_RUN(test_replay_children);
    TT_RUN(test_misuse_and_wait_until);
    TT_RUN(test_inflight_at_completion);
    TT_RUN(test_hashmap_and_ids);
    TT_RUN(test_batch_summary);
    TT_RUN(test_wait_for_callback_errors);
    TT_RUN(test_suspended_item_keeps_slot);
    TT_RUN(test_nondeterminism_in_branch);
    TT_RUN(test_accessors);
    TT_RUN(test_verify_replay);
    TT_RUN(test_step_mock);
    return TT_EXIT();
}
