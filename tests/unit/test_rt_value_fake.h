/*
 * test_rt_value_fake.h: how the value layer's unit tests get a context.
 *
 * The value layer reaches its context only through internal.h. The tests run their checks on
 * the real replay core when it is linked (inside a workflow body run by dwf_run_invocation, on
 * a transport that accepts every checkpoint), and otherwise on a small fake context defined
 * here. The fakes have weak linkage: test_rt_*.c programs link all of libdwf.a, so once the
 * core is in the archive its definitions win and value_harness() switches to the real thing.
 * Both paths give the checks the same facts (ARN, request id, clock, input, .dwf position), so
 * every assertion holds on either.
 *
 * With VALUE_CHECK_ROUNDTRIP defined, the run on the core also checks that the step's result
 * is checkpointed as JSON.stringify would write it and replays to the same value.
 *
 * A test program defines root_tests() (run on the workflow's context) and step_tests() (run
 * inside a step body named STEP_NAME, attempt 1) and calls value_harness() from main.
 */
#ifndef TEST_RT_VALUE_FAKE_H
#define TEST_RT_VALUE_FAKE_H

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "tinytest.h"

#define TEST_ARN "arn:aws:lambda:us-east-1:123456789012:function:value-test:$LATEST/durable-execution/run-1/0f1e2d3c"
#define TEST_REQUEST_ID "req-value-test-1"
#define TEST_NOW_MS 1774019546545.0
#define TEST_SOURCE "tests/value.dwf"
#define TEST_INPUT "{\"orderId\":\"ORD-7\",\"items\":[{\"id\":\"A\",\"price\":1000}]}"
#define STEP_NAME "value-step"
#define STEP_OP_ID "c4ca4238a0b92382" /* first 16 hex of MD5("1"): the first root operation */

/* What the test step returns, and (node: JSON.stringify of it) the Payload the SDK would
 * checkpoint: the core must record it exactly, or a replay sees another value than the first
 * run did (cJSON_PrintUnformatted would write 0.8 and a raw C0 80 for the NUL). */
#define STEP_RESULT "{\"n\":0.7999999999999999,\"big\":1e21,\"s\":\"a\\u0000b\",\"t\":1774019546545}"
#define STEP_PAYLOAD_JS "{\"n\":0.7999999999999999,\"big\":1e+21,\"s\":\"a\\u0000b\",\"t\":1774019546545}"

static dwf_ctx *C;      /* the context checks run on */
static int real_core;   /* running on the real replay core? */
static void root_tests(void);
static void step_tests(void);

/* ---- the fake context --------------------------------------------------------------------- */
struct dwf_ctx {
    pthread_mutex_t mu;
    cJSON **pool;
    size_t npool, cap;
    cJSON *error;
    int in_step, attempt, replaying, line;
    const char *op_id, *op_name;
    cJSON *input;
};

#define WEAK __attribute__((weak))

static dwf_val *fake_adopt(dwf_ctx *c, cJSON *v)
{
    if (!v) return NULL;
    pthread_mutex_lock(&c->mu);
    if (c->npool == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        cJSON **p = realloc(c->pool, cap * sizeof *p);
        if (!p) {
            pthread_mutex_unlock(&c->mu);
            cJSON_Delete(v);
            return NULL;
        }
        c->pool = p;
        c->cap = cap;
    }
    c->pool[c->npool++] = v;
    pthread_mutex_unlock(&c->mu);
    return v;
}

/* An alias, so value_harness() can tell whether the core replaced it. */
dwf_val *dwf__adopt(dwf_ctx *c, cJSON *v) __attribute__((weak, alias("fake_adopt")));

WEAK void dwf__set_error(dwf_ctx *c, const char *type, const char *message)
{
    if (c->error) return;
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "ErrorType", type);
    cJSON_AddStringToObject(e, "ErrorMessage", message);
    c->error = dwf__adopt(c, e);
}

WEAK void dwf__set_error_obj(dwf_ctx *c, cJSON *err)
{
    if (c->error) cJSON_Delete(err);
    else c->error = dwf__adopt(c, err);
}
WEAK double dwf__now_ms(dwf_ctx *c) { (void)c; return TEST_NOW_MS; }
WEAK int dwf__in_step(dwf_ctx *c) { return c->in_step; }
WEAK int dwf__attempt(dwf_ctx *c) { return c->in_step ? c->attempt : 0; }
WEAK int dwf__replaying(dwf_ctx *c) { return c->replaying; }
WEAK const char *dwf__execution_arn(dwf_ctx *c) { (void)c; return TEST_ARN; }
WEAK const char *dwf__operation_id(dwf_ctx *c) { return c->in_step ? c->op_id : NULL; }
WEAK const char *dwf__operation_name(dwf_ctx *c) { return c->in_step ? c->op_name : NULL; }
WEAK const char *dwf__request_id(dwf_ctx *c) { (void)c; return TEST_REQUEST_ID; }
WEAK int dwf__line(dwf_ctx *c) { return c->line; }
WEAK const char *dwf__source(dwf_ctx *c) { (void)c; return TEST_SOURCE; }
WEAK dwf_val *dwf__input(dwf_ctx *c) { return c->input; }
WEAK const char *dwf__callback_id(dwf_ctx *c) { (void)c; return NULL; }
WEAK void dwf_at(dwf_ctx *c, int line, int col) { (void)col; c->line = line; }
WEAK int dwf_failed(dwf_ctx *c) { return c->error != NULL; }
WEAK dwf_val *dwf_error_get(dwf_ctx *c) { return c->error; }
WEAK dwf_val *dwf_error_take(dwf_ctx *c)
{
    dwf_val *e = c->error;
    c->error = NULL;
    return e;
}
WEAK int dwf_fail(dwf_ctx *c, const char *type, const char *message)
{
    dwf__set_error(c, type, message);
    return DWF_ERROR;
}
WEAK int dwf_failf(dwf_ctx *c, const char *type, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    dwf__set_error(c, type, msg);
    return DWF_ERROR;
}
/* Only the real core has these; NULL when it is absent. */
#pragma weak dwf_run_invocation
#pragma weak dwf_step

/* ---- the real core: a transport that accepts everything ------------------------------------ */
static char *step_payload; /* Payload of the test step's SUCCEED update */
static int step_ran;
#ifdef VALUE_CHECK_ROUNDTRIP
static int replay_equal;
#endif
#ifdef VALUE_CHECK_ROUNDTRIP
static int replay_body(dwf_ctx *c, void *frame, dwf_val **out);
#endif

static int tp_checkpoint(dwf_transport *t, const char *arn, const cJSON *request, cJSON **response,
                         dwf_error *err, int *retryable)
{
    (void)t, (void)arn, (void)err, (void)retryable;
    const cJSON *ups = cJSON_GetObjectItemCaseSensitive(request, "Updates");
    for (const cJSON *u = ups ? ups->child : NULL; u; u = u->next) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(u, "Action");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(u, "Id");
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(u, "Payload");
        if (cJSON_IsString(a) && strcmp(a->valuestring, "SUCCEED") == 0 && cJSON_IsString(id) &&
            strcmp(id->valuestring, STEP_OP_ID) == 0 && cJSON_IsString(p)) {
            free(step_payload);
            step_payload = strdup(p->valuestring);
        }
    }
    *response = cJSON_Parse("{\"CheckpointToken\":\"tok-next\",\"NewExecutionState\":{\"Operations\":[]}}");
    return *response ? 0 : -1;
}

static int tp_get_state(dwf_transport *t, const char *arn, const char *token, const char *marker,
                        cJSON **response, dwf_error *err)
{
    (void)t, (void)arn, (void)token, (void)marker, (void)err;
    *response = cJSON_Parse("{\"Operations\":[]}");
    return *response ? 0 : -1;
}

static double tp_now(dwf_transport *t)
{
    (void)t;
    return TEST_NOW_MS;
}

static int step_body(dwf_ctx *c, void *frame, dwf_val **out)
{
    (void)frame;
    dwf_ctx *saved = C;
    C = c;
    step_tests();
    C = saved;
    step_ran = 1;
    *out = dwf__own(c, dwf__parse_json(STEP_RESULT, strlen(STEP_RESULT), NULL));
    return DWF_OK;
}

#ifdef VALUE_CHECK_ROUNDTRIP
/* The second invocation: the step is recorded, so it must not run and must give back exactly
 * the value it returned the first time. */
static int replay_body(dwf_ctx *c, void *frame, dwf_val **out)
{
    dwf_val *r = NULL;
    int rc = dwf_step(c, STEP_NAME, step_body, frame, NULL, &r);
    cJSON *want = dwf__parse_json(STEP_RESULT, strlen(STEP_RESULT), NULL);
    replay_equal = rc == DWF_OK && dwf__equal(want, r);
    cJSON_Delete(want);
    *out = NULL;
    return rc;
}
#endif

static int wf_body(dwf_ctx *c, void *frame, dwf_val **out)
{
    C = c;
    root_tests();
    C = NULL;
    /* The first durable operation of the workflow: its id is STEP_OP_ID. */
    dwf_val *r = NULL;
    int rc = dwf_step(c, STEP_NAME, step_body, frame, NULL, &r);
    *out = NULL;
    return rc;
}

static int run_on_core(void)
{
    static const dwf_workflow wf = {
        .name = "value_test", .source = TEST_SOURCE, .function_name = "value-test",
        .source_hash = "0", .frame_size = 0, .body = wf_body, .retention_days = 1,
        .execution_timeout = 60, .memory_mb = 128, .timeout_s = 30};
    cJSON *input = cJSON_CreateString(TEST_INPUT);
    char *input_json = cJSON_PrintUnformatted(input);
    char event[1024];
    snprintf(event, sizeof event,
             "{\"DurableExecutionArn\":\"%s\",\"CheckpointToken\":\"tok-0\","
             "\"InitialExecutionState\":{\"Operations\":[{\"Id\":\"exec-1\",\"Type\":\"EXECUTION\","
             "\"Status\":\"STARTED\",\"StartTimestamp\":\"2026-03-20T15:12:26.545Z\","
             "\"ExecutionDetails\":{\"InputPayload\":%s}}],\"NextMarker\":\"\"}}",
             TEST_ARN, input_json);
    cJSON_free(input_json);
    cJSON_Delete(input);
    cJSON *ev = cJSON_Parse(event);
    dwf_transport t = {tp_checkpoint, tp_get_state, tp_now, NULL};
    dwf_invoke_opts opts = {.quiet = 0, .request_id = TEST_REQUEST_ID};
    dwf_error err = {"", ""};
    cJSON *resp = dwf_run_invocation(&wf, ev, &t, &opts, &err);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(resp, "Status");
    int before = tt_failures;
    tt_current = "value_tests_on_replay_core";
    TT_ASSERT(resp != NULL);
    TT_EQ_STR("SUCCEEDED", cJSON_IsString(st) ? st->valuestring : err.message);
    if (tt_failures == before) printf("PASS %s\n", tt_current);
    cJSON_Delete(resp);
    cJSON_Delete(ev);

#ifdef VALUE_CHECK_ROUNDTRIP /* once per test run is enough */
    before = tt_failures;
    tt_current = "step_result_checkpointed_as_javascript_would";
    TT_EQ_STR(STEP_PAYLOAD_JS, step_payload);
    if (tt_failures == before) printf("PASS %s\n", tt_current);

    /* Replay: the recorded op carries the payload the core checkpointed (or the SDK's). */
    before = tt_failures;
    tt_current = "step_result_replays_exactly";
    cJSON *payload = cJSON_CreateString(STEP_PAYLOAD_JS);
    char *payload_json = cJSON_PrintUnformatted(payload);
    char ev2[2048];
    snprintf(ev2, sizeof ev2,
             "{\"DurableExecutionArn\":\"%s\",\"CheckpointToken\":\"tok-1\","
             "\"InitialExecutionState\":{\"Operations\":[{\"Id\":\"exec-1\",\"Type\":\"EXECUTION\","
             "\"Status\":\"STARTED\",\"StartTimestamp\":\"2026-03-20T15:12:26.545Z\","
             "\"ExecutionDetails\":{\"InputPayload\":\"{}\"}},{\"Id\":\"" STEP_OP_ID "\","
             "\"Type\":\"STEP\",\"SubType\":\"Step\",\"Name\":\"" STEP_NAME "\","
             "\"Status\":\"SUCCEEDED\",\"StartTimestamp\":\"2026-03-20T15:12:26.545Z\","
             "\"StepDetails\":{\"Attempt\":1,\"Result\":%s}}],\"NextMarker\":\"\"}}",
             TEST_ARN, payload_json);
    cJSON_free(payload_json);
    cJSON_Delete(payload);
    ev = cJSON_Parse(ev2);
    dwf_workflow wf2 = wf;
    wf2.body = replay_body;
    step_ran = 0;
    resp = dwf_run_invocation(&wf2, ev, &t, &opts, &err);
    st = cJSON_GetObjectItemCaseSensitive(resp, "Status");
    TT_EQ_STR("SUCCEEDED", cJSON_IsString(st) ? st->valuestring : err.message);
    TT_ASSERT(!step_ran);
    TT_ASSERT(replay_equal);
    if (tt_failures == before) printf("PASS %s\n", tt_current);
    cJSON_Delete(resp);
    cJSON_Delete(ev);
#endif
    free(step_payload);
    step_payload = NULL;
    return 0;
}

static void run_on_fake(void)
{
    struct dwf_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    pthread_mutex_init(&ctx.mu, NULL);
    ctx.input = dwf__adopt(&ctx, cJSON_Parse(TEST_INPUT));
    C = &ctx;
    root_tests();
    ctx.in_step = 1;
    ctx.attempt = 1;
    ctx.op_id = STEP_OP_ID;
    ctx.op_name = STEP_NAME;
    ctx.line = 0;
    step_tests();
    for (size_t i = 0; i < ctx.npool; i++) cJSON_Delete(ctx.pool[i]);
    free(ctx.pool);
    pthread_mutex_destroy(&ctx.mu);
    C = NULL;
}

/* Run root_tests() and step_tests() on the real core if it is linked, else on the fake. */
static int value_harness(void)
{
    if ((void *)dwf__adopt == (void *)fake_adopt) {
        run_on_fake();
    } else if (dwf_run_invocation && dwf_step) {
        real_core = 1;
        run_on_core();
    } else {
        tt_current = "value_harness";
        TT_FAIL_("%s", "the replay core's dwf__adopt is linked but dwf_run_invocation is not: "
                       "cannot make a context");
    }
    return TT_EXIT();
}

#endif
