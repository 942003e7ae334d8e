/*
 * value_harness.h: how the value layer's unit tests get a context.
 *
 * The value layer reaches its context only through internal.h, and only the replay core makes
 * one: so the checks run inside a real workflow, run by dwf_run_invocation on a transport that
 * accepts every checkpoint. root_tests() runs on the workflow's own context, step_tests()
 * inside its first step (named STEP_NAME, attempt 1), with known facts around them (ARN,
 * request id, clock, input, .dwf path) that the checks compare against.
 *
 * With VALUE_CHECK_ROUNDTRIP defined, the harness also checks that the step's result is
 * checkpointed as JSON.stringify would write it and replays to the same value.
 *
 * A test program defines root_tests() and step_tests() and calls value_harness() from main.
 */
#ifndef VALUE_HARNESS_H
#define VALUE_HARNESS_H

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

static dwf_ctx *C; /* the context checks run on */
static void root_tests(void);
static void step_tests(void);

/* ---- a transport that accepts everything --------------------------------------------------- */
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

static void run_on_core(void)
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
}

/* Run root_tests() and step_tests() in a workflow on the replay core. */
static int value_harness(void)
{
    run_on_core();
    return TT_EXIT();
}

#endif
