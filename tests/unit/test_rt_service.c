/*
 * test_rt_service.c: the service core driven with checkpoint JSON directly, on a virtual
 * clock: validation errors with their exact names and messages, transitions, timers, history
 * events, paging, callbacks, idempotent start, chained invoke, stop, timeouts, retention and
 * the store's named errors. Each test uses a fresh store in a temporary directory.
 */
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include <sys/wait.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "service.h"
#include "service_impl.h" /* dwf__svc_json_print, compared with cJSON's printer */
#include "store_vfs.h"    /* the log's counters, and a failing write */
#include "tinytest.h"

static double vclock = 1.7e12;
static double clock_fn(void *arg)
{
    (void)arg;
    return vclock;
}

static char dir[256];
static char path[300];
static int sql_int(sqlite3 *db, const char *sql); /* the first column of the first row, or -1 */

static dwf_service *open_store(int busy_ms)
{
    snprintf(dir, sizeof dir, "/tmp/dwf_test_svc_XXXXXX");
    if (!mkdtemp(dir)) return NULL;
    snprintf(path, sizeof path, "%s/dwf.db", dir);
    dwf_service_opts o = {.path = path, .clock = clock_fn, .busy_timeout_ms = busy_ms};
    dwf_service *s = NULL;
    dwf_error err;
    if (dwf_service_open(&o, &s, &err) != 0) {
        printf("open failed: %s %s\n", err.type, err.message);
        return NULL;
    }
    return s;
}

/* Remove the store's directory: a passing test leaves nothing in /tmp. */
static void remove_store_dir(void)
{
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("cleanup of %s failed\n", dir);
}

static void close_store(dwf_service *s)
{
    dwf_service_close(s);
    remove_store_dir();
}

static cJSON *J(const char *fmt, ...)
{
    char buf[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cJSON *j = cJSON_Parse(buf);
    if (!j) printf("bad test JSON: %s\n", buf);
    return j;
}

static const char *S(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void register_fn(dwf_service *s, const char *name, int timeout, int retention)
{
    cJSON *f = J("{\"FunctionName\":\"%s\",\"Handler\":\"/x/handler.so\",\"Source\":\"x.dwf\","
                 "\"DurableConfig\":{\"RetentionPeriodInDays\":%d,\"ExecutionTimeout\":%d}}",
                 name, retention, timeout);
    dwf_error err;
    if (dwf_service_put_function(s, f, &err) != 0) printf("put_function: %s\n", err.message);
    cJSON_Delete(f);
}

/* Start an execution and begin its first invocation: arn and token out. */
typedef struct run {
    char arn[512];
    char token[128];
    char req[40];
    char exec_id[64];
} run;

static int start(dwf_service *s, const char *fn, const char *input, run *r)
{
    cJSON *req = J("{\"FunctionName\":\"%s\",\"Input\":%s}", fn, input), *out = NULL;
    dwf_error err;
    int rc = dwf_service_start(s, req, &out, &err);
    cJSON_Delete(req);
    if (rc != 0) {
        printf("start: %s %s\n", err.type, err.message);
        return -1;
    }
    snprintf(r->arn, sizeof r->arn, "%s", S(out, "DurableExecutionArn"));
    cJSON_Delete(out);
    cJSON *ev = NULL;
    if (dwf_service_begin_invocation(s, r->arn, &ev, r->req, &err) != 0) {
        printf("begin: %s %s\n", err.type, err.message);
        return -1;
    }
    snprintf(r->token, sizeof r->token, "%s", S(ev, "CheckpointToken"));
    cJSON *ops = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev, "InitialExecutionState"), "Operations");
    snprintf(r->exec_id, sizeof r->exec_id, "%s", S(cJSON_GetArrayItem(ops, 0), "Id"));
    cJSON_Delete(ev);
    return 0;
}

/* Checkpoint `updates` (a JSON array text) with the run's token; on success the token
 * rotates and *out gets the response (caller frees; may pass NULL). */
static int ckpt(dwf_service *s, run *r, const char *updates, cJSON **out, dwf_error *err)
{
    cJSON *req = J("{\"CheckpointToken\":\"%s\",\"Updates\":%s}", r->token, updates), *resp = NULL;
    int rc = dwf_service_checkpoint(s, r->arn, req, &resp, err);
    cJSON_Delete(req);
    if (rc == 0) snprintf(r->token, sizeof r->token, "%s", S(resp, "CheckpointToken"));
    if (out) *out = resp;
    else cJSON_Delete(resp);
    return rc;
}

static cJSON *new_ops(cJSON *resp)
{
    return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(resp, "NewExecutionState"), "Operations");
}

static cJSON *find_op(cJSON *ops, const char *id)
{
    for (cJSON *o = ops ? ops->child : NULL; o; o = o->next)
        if (S(o, "Id") && strcmp(S(o, "Id"), id) == 0) return o;
    return NULL;
}

static cJSON *op_of(dwf_service *s, const char *arn, const char *id)
{
    cJSON *ops = NULL;
    dwf_error err;
    if (dwf_service_operations(s, arn, &ops, &err) != 0) return NULL;
    cJSON *o = find_op(ops, id);
    cJSON *copy = o ? cJSON_Duplicate(o, 1) : NULL;
    cJSON_Delete(ops);
    return copy;
}

static cJSON *events(dwf_service *s, const char *arn)
{
    cJSON *h = NULL;
    dwf_error err;
    if (dwf_service_get_history(s, arn, 1, 1000, NULL, 0, &h, &err) != 0) return NULL;
    cJSON *ev = cJSON_DetachItemFromObjectCaseSensitive(h, "Events");
    cJSON_Delete(h);
    return ev;
}

/* The EventType of every event joined with ','. */
static void event_types(dwf_service *s, const char *arn, char *buf, size_t n)
{
    buf[0] = '\0';
    cJSON *ev = events(s, arn);
    int i = 1;
    for (cJSON *e = ev ? ev->child : NULL; e; e = e->next, i++) {
        if (cJSON_GetObjectItemCaseSensitive(e, "EventId")->valuedouble != i) strncat(buf, "BADID,", n - strlen(buf) - 1);
        strncat(buf, S(e, "EventType"), n - strlen(buf) - 1);
        if (e->next) strncat(buf, ",", n - strlen(buf) - 1);
    }
    cJSON_Delete(ev);
}

static const char *status_of(dwf_service *s, const char *arn, char buf[32])
{
    cJSON *x = NULL;
    dwf_error err;
    buf[0] = '\0';
    if (dwf_service_get_execution(s, arn, 1, &x, &err) == 0) snprintf(buf, 32, "%s", S(x, "Status"));
    cJSON_Delete(x);
    return buf;
}

/* ------------------------------------------------------------------------------------------ */
static void test_start_and_event(void)
{
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    if (!s) return;
    register_fn(s, "order", 120, 1);
    cJSON *req = J("{\"FunctionName\":\"order\",\"Input\":\"{\\\"orderId\\\":\\\"A\\\"}\"}"), *out = NULL;
    dwf_error err;
    TT_EQ_INT(0, dwf_service_start(s, req, &out, &err));
    const char *arn = S(out, "DurableExecutionArn");
    TT_ASSERT(arn && strncmp(arn, "arn:aws:lambda:us-east-1:000000000000:function:order:$LATEST/durable-execution/", 79) == 0);
    TT_EQ_STR("RUNNING", S(out, "Status"));
    cJSON *ev = NULL;
    char rid[40];
    TT_EQ_INT(0, dwf_service_begin_invocation(s, arn, &ev, rid, &err));
    TT_EQ_STR(arn, S(ev, "DurableExecutionArn"));
    TT_ASSERT(S(ev, "CheckpointToken") != NULL);
    cJSON *st = cJSON_GetObjectItemCaseSensitive(ev, "InitialExecutionState");
    cJSON *op = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(st, "Operations"), 0);
    TT_EQ_STR("EXECUTION", S(op, "Type"));
    TT_EQ_STR("STARTED", S(op, "Status"));
    TT_EQ_STR("{\"orderId\":\"A\"}", S(cJSON_GetObjectItemCaseSensitive(op, "ExecutionDetails"), "InputPayload"));
    /* Event timestamps are ISO-8601 with milliseconds. */
    TT_ASSERT(S(op, "StartTimestamp") && strlen(S(op, "StartTimestamp")) == 24 && S(op, "StartTimestamp")[23] == 'Z');
    TT_EQ_STR("", S(st, "NextMarker"));
    char types[512];
    event_types(s, arn, types, sizeof types);
    TT_EQ_STR("ExecutionStarted", types);
    cJSON *evs = events(s, arn);
    cJSON *d = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(evs, 0), "ExecutionStartedDetails");
    TT_EQ_INT(120, cJSON_GetObjectItemCaseSensitive(d, "ExecutionTimeout")->valuedouble);
    TT_EQ_STR("{\"orderId\":\"A\"}", S(cJSON_GetObjectItemCaseSensitive(d, "Input"), "Payload"));
    cJSON_Delete(evs);
    cJSON_Delete(ev);
    cJSON_Delete(out);
    cJSON_Delete(req);
    close_store(s);
}

/* The DurableConfig numbers of an execution started now (GetDurableExecution's DurableConfig):
 * ExecutionTimeout * 1000 + RetentionPeriodInDays, or -1 when the start fails. */
static int started_config(dwf_service *s, const char *fn)
{
    cJSON *req = J("{\"FunctionName\":\"%s\",\"Input\":\"{}\"}", fn), *out = NULL, *ex = NULL;
    dwf_error err;
    int v = -1;
    if (dwf_service_start(s, req, &out, &err) == 0 &&
        dwf_service_get_execution(s, S(out, "DurableExecutionArn"), 0, &ex, &err) == 0) {
        const cJSON *dc = cJSON_GetObjectItemCaseSensitive(ex, "DurableConfig");
        v = (int)cJSON_GetObjectItemCaseSensitive(dc, "ExecutionTimeout")->valuedouble * 1000 +
            (int)cJSON_GetObjectItemCaseSensitive(dc, "RetentionPeriodInDays")->valuedouble;
    } else {
        printf("  start of %s: %s %s\n", fn, err.type, err.message);
    }
    cJSON_Delete(ex);
    cJSON_Delete(out);
    cJSON_Delete(req);
    return v;
}

/* A start reads its function's config every time (service.c keeps only the last text parsed,
 * keyed by the text): a new config, another function's, one written by another connection and
 * one that is not JSON each give their own numbers at the next start. */
static void test_start_reads_the_config_each_time(void)
{
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    register_fn(s, "cfg", 120, 1);
    register_fn(s, "other", 50, 3);
    TT_EQ_INT(120001, started_config(s, "cfg"));
    TT_EQ_INT(120001, started_config(s, "cfg"));
    register_fn(s, "cfg", 300, 7);
    TT_EQ_INT(300007, started_config(s, "cfg"));
    TT_EQ_INT(50003, started_config(s, "other"));
    TT_EQ_INT(300007, started_config(s, "cfg"));
    /* Written by another connection: this handle's next start reads it. */
    sqlite3 *db = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, "UPDATE functions SET config='{\"ExecutionTimeout\":60,"
                                          "\"RetentionPeriodInDays\":2}' WHERE name='cfg'", NULL, NULL, NULL));
    TT_EQ_INT(60002, started_config(s, "cfg"));
    /* Not JSON, not an object, numbers below 1 or not numbers: the defaults, as before. */
    const char *bad[] = {"not json", "[1,2]", "{\"ExecutionTimeout\":0,\"RetentionPeriodInDays\":true}",
                         "{\"ExecutionTimeout\":\"60\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char sql[200];
        snprintf(sql, sizeof sql, "UPDATE functions SET config='%s' WHERE name='cfg'", bad[i]);
        TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, sql, NULL, NULL, NULL));
        TT_EQ_INT(DWF_DEFAULT_EXECUTION_TIMEOUT_S * 1000 + DWF_DEFAULT_RETENTION_DAYS, started_config(s, "cfg"));
    }
    /* No config at all: a plain function, which runs no durable execution. */
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, "UPDATE functions SET config=NULL WHERE name='cfg'", NULL, NULL, NULL));
    TT_EQ_INT(-1, started_config(s, "cfg"));
    sqlite3_close(db);
    close_store(s);
}

static void test_idempotent_start(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "order", 120, 1);
    dwf_error err;
    cJSON *a = J("{\"FunctionName\":\"order:$LATEST\",\"Input\":\"{}\",\"DurableExecutionName\":\"run-1\"}");
    cJSON *b = J("{\"FunctionName\":\"arn:aws:lambda:us-east-1:1:function:order:1\",\"Input\":\"{}\",\"DurableExecutionName\":\"run-1\"}");
    cJSON *c = J("{\"FunctionName\":\"order\",\"Input\":\"{\\\"x\\\":1}\",\"DurableExecutionName\":\"run-1\"}");
    cJSON *o1 = NULL, *o2 = NULL, *o3 = NULL;
    TT_EQ_INT(0, dwf_service_start(s, a, &o1, &err));
    TT_EQ_INT(0, dwf_service_start(s, b, &o2, &err));
    TT_EQ_STR(S(o1, "DurableExecutionArn"), S(o2, "DurableExecutionArn"));
    TT_ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o1, "AlreadyStarted")));
    TT_ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o2, "AlreadyStarted")));
    TT_ASSERT(strstr(S(o1, "DurableExecutionArn"), "/durable-execution/run-1/") != NULL);
    TT_EQ_INT(-1, dwf_service_start(s, c, &o3, &err));
    TT_EQ_STR("DurableExecutionAlreadyStartedException", err.type);
    TT_EQ_INT(409, dwf_service_http_status(err.type));
    cJSON *unknown = J("{\"FunctionName\":\"nope\"}");
    TT_EQ_INT(-1, dwf_service_start(s, unknown, &o3, &err));
    TT_EQ_STR("ResourceNotFoundException", err.type);
    cJSON *badname = J("{\"FunctionName\":\"order\",\"DurableExecutionName\":\"a b\"}");
    TT_EQ_INT(-1, dwf_service_start(s, badname, &o3, &err));
    TT_EQ_STR("InvalidParameterValueException", err.type);
    cJSON *list = NULL;
    TT_EQ_INT(0, dwf_service_list_executions(s, NULL, &list, &err));
    TT_EQ_INT(1, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(list, "DurableExecutions")));
    cJSON_Delete(list);
    cJSON_Delete(unknown);
    cJSON_Delete(badname);
    cJSON_Delete(a);
    cJSON_Delete(b);
    cJSON_Delete(c);
    cJSON_Delete(o1);
    cJSON_Delete(o2);
    close_store(s);
}

/* Each rejected batch: the exact error, and the store unchanged (the same token still works). */
static void expect_reject(dwf_service *s, run *r, const char *updates, const char *type, const char *msg)
{
    dwf_error err = {{0}, {0}};
    char before[128];
    snprintf(before, sizeof before, "%s", r->token);
    TT_EQ_INT(-1, ckpt(s, r, updates, NULL, &err));
    TT_EQ_STR(type, err.type);
    TT_EQ_STR(msg, err.message);
    TT_EQ_STR(before, r->token);
}

/* A checkpoint request's history events are held and written at its end, up to 8 to an INSERT
 * (opcache.c): ten steps' START and SUCCEED in one request are 20 events in 3 statements, in
 * the order the updates made them, numbered on; a request refused at its third update writes
 * none of the events its first two made, and the next request numbers on from the last kept. */
static void test_checkpoint_events_held(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    run r;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    char ups[4096] = "[", want[2048] = "ExecutionStarted";
    for (int i = 0; i < 10; i++) {
        size_t n = strlen(ups);
        snprintf(ups + n, sizeof ups - n,
                 "%s{\"Id\":\"s%d\",\"Type\":\"STEP\",\"Action\":\"START\",\"Name\":\"n%d\"},"
                 "{\"Id\":\"s%d\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"%d\"}",
                 i ? "," : "", i, i, i, i);
        strncat(want, ",StepStarted,StepSucceeded", sizeof want - strlen(want) - 1);
    }
    strncat(ups, "]", sizeof ups - strlen(ups) - 1);
    dwf_error err;
    TT_EQ_INT(0, ckpt(s, &r, ups, NULL, &err));
    char got[2048];
    event_types(s, r.arn, got, sizeof got);
    TT_EQ_STR(want, got);
    cJSON *ev = events(s, r.arn);
    int i = 0, names_ok = 1;
    for (cJSON *e = ev ? ev->child : NULL; e; e = e->next, i++) {
        if (i == 0) continue;
        char name[16];
        snprintf(name, sizeof name, "n%d", (i - 1) / 2);
        const char *n = S(e, "Name");
        if (!n || strcmp(n, name) != 0) names_ok = 0;
    }
    cJSON_Delete(ev);
    TT_EQ_INT(21, i);
    TT_ASSERT(names_ok);
    expect_reject(s, &r,
                  "[{\"Id\":\"x\",\"Type\":\"STEP\",\"Action\":\"START\"},"
                  "{\"Id\":\"y\",\"Type\":\"STEP\",\"Action\":\"START\"},"
                  "{\"Id\":\"s0\",\"Type\":\"STEP\",\"Action\":\"START\"}]",
                  "InvalidParameterValueException", "Invalid current STEP state to start.");
    event_types(s, r.arn, got, sizeof got);
    TT_EQ_STR(want, got);
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"z\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    strncat(want, ",StepStarted", sizeof want - strlen(want) - 1);
    event_types(s, r.arn, got, sizeof got);
    TT_EQ_STR(want, got);
    close_store(s);
}

static void test_checkpoint_validation(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    run r;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    const char *IPVE = "InvalidParameterValueException";
    /* Token checks. */
    dwf_error err;
    cJSON *req = J("{\"Updates\":[]}"), *out = NULL;
    TT_EQ_INT(-1, dwf_service_checkpoint(s, r.arn, req, &out, &err));
    TT_EQ_STR(IPVE, err.type);
    TT_EQ_STR("Checkpoint token is required", err.message);
    cJSON_Delete(req);
    req = J("{\"CheckpointToken\":\"stale\",\"Updates\":[]}");
    TT_EQ_INT(-1, dwf_service_checkpoint(s, r.arn, req, &out, &err));
    TT_EQ_STR(IPVE, err.type);
    TT_ASSERT(strncmp(err.message, "Invalid Checkpoint Token", 24) == 0);
    cJSON_Delete(req);
    req = J("{\"CheckpointToken\":\"x\"}");
    TT_EQ_INT(-1, dwf_service_checkpoint(s, "arn:nope", req, &out, &err));
    TT_EQ_STR("ResourceNotFoundException", err.type);
    cJSON_Delete(req);

    expect_reject(s, &r, "[{\"Id\":\"c4ca4238a0b92382\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Error\":{\"ErrorMessage\":\"x\"}}]",
                  IPVE, "Cannot provide an Error for a SUCCEED action.");
    expect_reject(s, &r, "[{\"Id\":\"c4ca4238a0b92382\",\"Type\":\"STEP\",\"Action\":\"FAIL\",\"Payload\":\"1\"}]", IPVE,
                  "Cannot provide a Payload for a FAIL action.");
    expect_reject(s, &r,
                  "[{\"Id\":\"a\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":5}},"
                  "{\"Id\":\"a\",\"Type\":\"WAIT\",\"Action\":\"CANCEL\"}]",
                  IPVE, "Cannot update the same operation twice in a single request.");
    expect_reject(s, &r,
                  "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"START\"},{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"RETRY\","
                  "\"StepOptions\":{\"NextAttemptDelaySeconds\":1}},{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\"}]",
                  IPVE, "Cannot update the same operation twice in a single request.");
    expect_reject(s, &r, "[{\"Id\":\"b\",\"ParentId\":\"zz\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\"}]", IPVE,
                  "Invalid parent operation id.");
    expect_reject(s, &r,
                  "[{\"Id\":\"x\",\"Type\":\"EXECUTION\",\"Action\":\"SUCCEED\"},{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\"}]",
                  IPVE, "An EXECUTION update must be the last update of a request.");
    expect_reject(s, &r, "[{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"RETRY\"}]", IPVE,
                  "StepOptions.NextAttemptDelaySeconds is required to re-attempt a STEP.");
    expect_reject(s, &r, "[{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"RETRY\",\"Payload\":\"1\",\"Error\":{},"
                         "\"StepOptions\":{\"NextAttemptDelaySeconds\":1}}]",
                  IPVE, "Cannot provide both a Payload and an Error to re-attempt a STEP.");
    expect_reject(s, &r, "[{\"Id\":\"b c\",\"Type\":\"STEP\",\"Action\":\"START\"}]", IPVE,
                  "Invalid operation id: must be 1-64 characters [a-zA-Z0-9-_].");
    expect_reject(s, &r, "[{\"Id\":\"b\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":0}}]", IPVE,
                  "WaitOptions.WaitSeconds must be between 1 and 31622400.");
    expect_reject(s, &r, "[{\"Id\":\"b\",\"Type\":\"WAIT\",\"Action\":\"SUCCEED\"}]", IPVE,
                  "Invalid action SUCCEED for a WAIT operation.");
    /* A bad update after good ones rolls the good ones back too. */
    expect_reject(s, &r,
                  "[{\"Id\":\"good\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"1\"},"
                  "{\"Id\":\"bad\",\"Type\":\"STEP\",\"Action\":\"FAIL\",\"Payload\":\"1\"}]",
                  IPVE, "Cannot provide a Payload for a FAIL action.");
    cJSON *g = op_of(s, r.arn, "good");
    TT_ASSERT(g == NULL);
    cJSON_Delete(g);

    /* Legal: SUCCEED on an unknown STEP, START+SUCCEED of one Id, CONTEXT parent in the batch. */
    TT_EQ_INT(0, ckpt(s, &r,
                      "[{\"Id\":\"c4ca4238a0b92382\",\"Type\":\"STEP\",\"SubType\":\"Step\",\"Name\":\"one\",\"Action\":\"SUCCEED\",\"Payload\":\"1\"},"
                      "{\"Id\":\"s2\",\"Type\":\"STEP\",\"Action\":\"START\"},{\"Id\":\"s2\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"2\"},"
                      "{\"Id\":\"ctx\",\"Type\":\"CONTEXT\",\"SubType\":\"RunInChildContext\",\"Action\":\"START\"},"
                      "{\"Id\":\"kid\",\"ParentId\":\"ctx\",\"Type\":\"STEP\",\"Action\":\"START\"}]",
                      &out, &err));
    cJSON *ops = new_ops(out);
    TT_EQ_INT(4, cJSON_GetArraySize(ops));
    cJSON *one = find_op(ops, "c4ca4238a0b92382");
    TT_EQ_STR("SUCCEEDED", S(one, "Status"));
    TT_EQ_STR("one", S(one, "Name"));
    TT_EQ_STR("1", S(cJSON_GetObjectItemCaseSensitive(one, "StepDetails"), "Result"));
    TT_EQ_INT(1, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(one, "StepDetails"), "Attempt")->valuedouble);
    TT_ASSERT(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(one, "StartTimestamp")));
    TT_EQ_STR("ctx", S(find_op(ops, "kid"), "ParentId"));
    cJSON_Delete(out);
    /* The old token is consumed. */
    char old[128];
    snprintf(old, sizeof old, "%s", r.token);
    TT_EQ_INT(0, ckpt(s, &r, "[]", &out, &err));
    TT_EQ_INT(0, cJSON_GetArraySize(new_ops(out)));
    cJSON_Delete(out);
    snprintf(r.token, sizeof r.token, "%s", old);
    TT_EQ_INT(-1, ckpt(s, &r, "[]", NULL, &err));
    TT_ASSERT(strncmp(err.message, "Invalid Checkpoint Token", 24) == 0);
    close_store(s);
}

/* Each operation type decides its own actions (apply.c): what it refuses, and the actions
 * the other tests do not reach: CONTEXT closes, CALLBACK CANCEL, EXECUTION FAIL. */
static void test_rules_per_type(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    run r;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    const char *IPVE = "InvalidParameterValueException";
    expect_reject(s, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"CANCEL\"}]", IPVE,
                  "Invalid action CANCEL for a STEP operation.");
    expect_reject(s, &r, "[{\"Id\":\"a\",\"Type\":\"CONTEXT\",\"Action\":\"RETRY\",\"StepOptions\":{\"NextAttemptDelaySeconds\":1}}]",
                  IPVE, "Invalid action RETRY for a CONTEXT operation.");
    expect_reject(s, &r, "[{\"Id\":\"a\",\"Type\":\"CALLBACK\",\"Action\":\"SUCCEED\"}]", IPVE,
                  "Invalid action SUCCEED for a CALLBACK operation.");
    expect_reject(s, &r, "[{\"Id\":\"a\",\"Type\":\"CHAINED_INVOKE\",\"Action\":\"FAIL\"}]", IPVE,
                  "Invalid action FAIL for a CHAINED_INVOKE operation.");
    expect_reject(s, &r, "[{\"Id\":\"a\",\"Type\":\"EXECUTION\",\"Action\":\"START\"}]", IPVE,
                  "Invalid action START for an EXECUTION operation.");
    expect_reject(s, &r, "[{\"Id\":\"a\",\"Type\":\"TASK\",\"Action\":\"START\"}]", IPVE,
                  "Invalid operation type for operation a.");
    expect_reject(s, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"PAUSE\"}]", IPVE,
                  "Invalid operation action for operation a.");
    expect_reject(s, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Name\":\"tab\\there\",\"Action\":\"START\"}]", IPVE,
                  "Invalid operation name: must be 1-256 printable ASCII characters.");
    expect_reject(s, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"RETRY\",\"StepOptions\":{\"NextAttemptDelaySeconds\":0}}]",
                  IPVE, "NextAttemptDelaySeconds must be between 1 and 31622400.");
    expect_reject(s, &r, "[{\"Id\":\"a\",\"Type\":\"CALLBACK\",\"Action\":\"START\",\"CallbackOptions\":{\"TimeoutSeconds\":-1}}]",
                  IPVE, "CallbackOptions timeouts must be between 0 and 99999999 seconds.");
    /* Sizes: a STEP payload and an error object over their limits. */
    size_t big = 262145 + 40000;
    char *u = malloc(big + 200);
    if (!u) return;
    int n = snprintf(u, 200, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"");
    memset(u + n, 'x', 262145);
    snprintf(u + n + 262145, 200, "\"}]");
    cJSON *req = J("{\"CheckpointToken\":\"%s\"}", r.token), *out = NULL;
    cJSON *ups = cJSON_Parse(u);
    cJSON_AddItemToObject(req, "Updates", ups);
    dwf_error err;
    TT_EQ_INT(-1, dwf_service_checkpoint(s, r.arn, req, &out, &err));
    TT_EQ_STR("STEP payload size must be less than or equal to 262144 bytes.", err.message);
    cJSON_Delete(req);
    n = snprintf(u, 200, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"FAIL\",\"Error\":{\"ErrorMessage\":\"");
    memset(u + n, 'x', 32768);
    snprintf(u + n + 32768, 200, "\"}}]");
    req = J("{\"CheckpointToken\":\"%s\"}", r.token);
    cJSON_AddItemToObject(req, "Updates", cJSON_Parse(u));
    TT_EQ_INT(-1, dwf_service_checkpoint(s, r.arn, req, &out, &err));
    TT_EQ_STR("Error object size must be less than or equal to 32768 bytes.", err.message);
    cJSON_Delete(req);
    free(u);

    /* An Id keeps its type. */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"m\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    expect_reject(s, &r, "[{\"Id\":\"m\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":5}}]", IPVE,
                  "Operation m is a STEP, not a WAIT.");
    /* CONTEXT: started once, closed once; FAIL keeps the error. */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"c\",\"Type\":\"CONTEXT\",\"Action\":\"START\",\"ContextOptions\":{\"ReplayChildren\":true}}]",
                      NULL, &err));
    expect_reject(s, &r, "[{\"Id\":\"c\",\"Type\":\"CONTEXT\",\"Action\":\"START\"}]", IPVE,
                  "Cannot start a CONTEXT that already exists.");
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"c\",\"Type\":\"CONTEXT\",\"Action\":\"FAIL\",\"Error\":{\"ErrorType\":\"StepError\"}}]",
                      NULL, &err));
    expect_reject(s, &r, "[{\"Id\":\"c\",\"Type\":\"CONTEXT\",\"Action\":\"SUCCEED\"}]", IPVE,
                  "Invalid current CONTEXT state to close.");
    cJSON *op = op_of(s, r.arn, "c");
    TT_EQ_STR("FAILED", S(op, "Status"));
    cJSON *cd = cJSON_GetObjectItemCaseSensitive(op, "ContextDetails");
    TT_ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cd, "ReplayChildren")));
    TT_EQ_STR("StepError", S(cJSON_GetObjectItemCaseSensitive(cd, "Error"), "ErrorType"));
    TT_ASSERT(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(op, "EndTimestamp")));
    cJSON_Delete(op);
    /* CALLBACK CANCEL: CANCELLED, no event, and the id can no longer be answered. */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"cb\",\"Type\":\"CALLBACK\",\"Action\":\"START\",\"CallbackOptions\":{\"TimeoutSeconds\":60}}]",
                      &out, &err));
    char id[1100];
    snprintf(id, sizeof id, "%s", S(cJSON_GetObjectItemCaseSensitive(find_op(new_ops(out), "cb"), "CallbackDetails"), "CallbackId"));
    cJSON_Delete(out);
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"cb\",\"Type\":\"CALLBACK\",\"Action\":\"CANCEL\"}]", NULL, &err));
    op = op_of(s, r.arn, "cb");
    TT_EQ_STR("CANCELLED", S(op, "Status"));
    cJSON_Delete(op);
    expect_reject(s, &r, "[{\"Id\":\"cb\",\"Type\":\"CALLBACK\",\"Action\":\"CANCEL\"}]", IPVE,
                  "Invalid current CALLBACK state to cancel.");
    TT_EQ_INT(-1, dwf_service_callback_succeed(s, id, "1", 1, &err));
    TT_EQ_STR("CallbackTimeoutException", err.type);
    TT_EQ_STR("The callback has already completed, timed out or its execution has closed (CLOSED).", err.message);
    double due = 0;
    TT_EQ_INT(0, dwf_service_next_due(s, r.arn, 1, &due, &err));
    TT_ASSERT(due == vclock + 600000.0); /* the execution timeout: the callback's went with it */
    /* EXECUTION FAIL without an Error fails the execution with an empty one. */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"x\",\"Type\":\"EXECUTION\",\"Action\":\"FAIL\"}]", NULL, &err));
    char st[32];
    TT_EQ_STR("FAILED", status_of(s, r.arn, st));
    char types[1024];
    event_types(s, r.arn, types, sizeof types);
    TT_EQ_STR("ExecutionStarted,StepStarted,ContextStarted,ContextFailed,CallbackStarted,ExecutionFailed", types);
    close_store(s);
}

static void test_step_states(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    run r;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    dwf_error err;
    cJSON *out = NULL;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"s\",\"Type\":\"STEP\",\"Action\":\"START\",\"Name\":\"flaky\"}]", NULL, &err));
    expect_reject(s, &r, "[{\"Id\":\"s\",\"Type\":\"STEP\",\"Action\":\"START\"}]", "InvalidParameterValueException",
                  "Invalid current STEP state to start.");
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"s\",\"Type\":\"STEP\",\"Action\":\"RETRY\",\"Error\":{\"ErrorType\":\"Error\",\"ErrorMessage\":\"boom\"},"
                             "\"StepOptions\":{\"NextAttemptDelaySeconds\":3}}]", &out, &err));
    cJSON *op = find_op(new_ops(out), "s");
    TT_EQ_STR("PENDING", S(op, "Status"));
    cJSON *sd = cJSON_GetObjectItemCaseSensitive(op, "StepDetails");
    TT_EQ_INT(1, cJSON_GetObjectItemCaseSensitive(sd, "Attempt")->valuedouble);
    TT_ASSERT(cJSON_GetObjectItemCaseSensitive(sd, "NextAttemptTimestamp")->valuedouble * 1000.0 == vclock + 3000);
    cJSON_Delete(out);
    expect_reject(s, &r, "[{\"Id\":\"s\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\"}]", "InvalidParameterValueException",
                  "Invalid current STEP state to close.");
    /* PENDING with a pending retry: fine, no re-invoke until the timer. */
    cJSON *pending = J("{\"Status\":\"PENDING\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, pending, NULL, &err));
    cJSON *rn = NULL;
    TT_EQ_INT(0, dwf_service_runnable(s, NULL, -1, &rn, &err));
    TT_EQ_INT(0, cJSON_GetArraySize(rn));
    cJSON_Delete(rn);
    double due = 0;
    TT_EQ_INT(0, dwf_service_next_due(s, r.arn, 0, &due, &err));
    TT_ASSERT(due == vclock + 3000);
    TT_EQ_INT(0, dwf_service_next_due(s, r.arn, 1, &due, &err));
    TT_ASSERT(due == vclock + 3000);
    vclock += 3000;
    int fired = 0;
    TT_EQ_INT(0, dwf_service_fire_timers(s, NULL, &fired, &err));
    TT_EQ_INT(1, fired);
    op = op_of(s, r.arn, "s");
    TT_EQ_STR("READY", S(op, "Status"));
    cJSON_Delete(op);
    TT_EQ_INT(0, dwf_service_runnable(s, NULL, -1, &rn, &err));
    TT_EQ_INT(1, cJSON_GetArraySize(rn));
    cJSON_Delete(rn);
    cJSON *ev = NULL;
    TT_EQ_INT(0, dwf_service_begin_invocation(s, r.arn, &ev, r.req, &err));
    snprintf(r.token, sizeof r.token, "%s", S(ev, "CheckpointToken"));
    cJSON *upd = cJSON_GetObjectItemCaseSensitive(ev, "UpdatedOperationIds");
    TT_EQ_INT(1, cJSON_GetArraySize(upd));
    TT_EQ_STR("s", cJSON_GetArrayItem(upd, 0)->valuestring);
    cJSON_Delete(ev);
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"s\",\"Type\":\"STEP\",\"Action\":\"START\"},{\"Id\":\"s\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"\\\"ok\\\"\"}]", &out, &err));
    op = find_op(new_ops(out), "s");
    TT_EQ_STR("SUCCEEDED", S(op, "Status"));
    TT_EQ_INT(2, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op, "StepDetails"), "Attempt")->valuedouble);
    TT_ASSERT(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op, "StepDetails"), "Error") == NULL);
    cJSON_Delete(out);
    cJSON *done = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"{\\\"a\\\":1}\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, done, NULL, &err));
    char types[1024], st[32];
    event_types(s, r.arn, types, sizeof types);
    TT_EQ_STR("ExecutionStarted,StepStarted,StepFailed,InvocationCompleted,StepStarted,StepSucceeded,InvocationCompleted,ExecutionSucceeded", types);
    TT_EQ_STR("SUCCEEDED", status_of(s, r.arn, st));
    cJSON *evs = events(s, r.arn);
    cJSON *sf = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(evs, 2), "StepFailedDetails");
    cJSON *rd = cJSON_GetObjectItemCaseSensitive(sf, "RetryDetails");
    TT_EQ_INT(1, cJSON_GetObjectItemCaseSensitive(rd, "CurrentAttempt")->valuedouble);
    TT_EQ_INT(3, cJSON_GetObjectItemCaseSensitive(rd, "NextAttemptDelaySeconds")->valuedouble);
    TT_EQ_STR("boom", S(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(sf, "Error"), "Payload"), "ErrorMessage"));
    TT_EQ_STR("flaky", S(cJSON_GetArrayItem(evs, 2), "Name"));
    cJSON *es = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(evs, 7), "ExecutionSucceededDetails");
    TT_EQ_STR("{\"a\":1}", S(cJSON_GetObjectItemCaseSensitive(es, "Result"), "Payload"));
    TT_ASSERT(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(es, "Result"), "Truncated")));
    cJSON_Delete(evs);
    cJSON *x = NULL;
    TT_EQ_INT(0, dwf_service_get_execution(s, r.arn, 1, &x, &err));
    TT_EQ_STR("{\"a\":1}", S(x, "Result"));
    TT_ASSERT(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(x, "EndTimestamp")));
    cJSON_Delete(x);
    /* Checkpoints after the end are rejected. */
    TT_EQ_INT(-1, ckpt(s, &r, "[]", NULL, &err));
    TT_EQ_STR("InvalidParameterValueException", err.type);
    cJSON_Delete(pending);
    cJSON_Delete(done);
    close_store(s);
}

static void test_wait_timer_and_delta(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    run r;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    dwf_error err;
    cJSON *out = NULL;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"w\",\"Type\":\"WAIT\",\"SubType\":\"Wait\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":10}}]", &out, &err));
    cJSON *w = find_op(new_ops(out), "w");
    TT_EQ_STR("STARTED", S(w, "Status"));
    TT_ASSERT(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(w, "WaitDetails"), "ScheduledEndTimestamp")->valuedouble ==
              (vclock + 10000) / 1000.0);
    cJSON_Delete(out);
    expect_reject(s, &r, "[{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":10}}]",
                  "InvalidParameterValueException", "Cannot start a WAIT that already exists.");
    /* Still inside the invocation: an empty poll before the end sees nothing new ... */
    vclock += 5000;
    TT_EQ_INT(0, ckpt(s, &r, "[]", &out, &err));
    TT_EQ_INT(0, cJSON_GetArraySize(new_ops(out)));
    cJSON_Delete(out);
    /* ... and after it the timer's change arrives in the delta (the checkpoint fires it, then
     * applies its own updates in a transaction begun again). */
    vclock += 5000;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"x\",\"Type\":\"STEP\",\"Action\":\"START\",\"Name\":\"x\"}]", &out, &err));
    TT_EQ_STR("SUCCEEDED", S(find_op(new_ops(out), "w"), "Status"));
    cJSON_Delete(out);
    cJSON *x0 = op_of(s, r.arn, "x");
    TT_EQ_STR("STARTED", S(x0, "Status"));
    cJSON_Delete(x0);
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"x\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"1\"}]", NULL, &err));
    /* A second wait fires while the handler is between checkpoints: PENDING re-invokes at once. */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"w2\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":1}}]", NULL, &err));
    vclock += 1000;
    TT_EQ_INT(0, dwf_service_fire_timers(s, r.arn, NULL, &err));
    cJSON *pending = J("{\"Status\":\"PENDING\"}");
    cJSON *ex = op_of(s, r.arn, "w2");
    TT_EQ_STR("SUCCEEDED", S(ex, "Status"));
    cJSON_Delete(ex);
    /* The handler suspended on w2 STARTED, as it last saw it: not an error, and since w2's end
     * is news to it, it is invoked again at once (the callback case is the same). */
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, pending, NULL, &err));
    char st[32], types[1024];
    TT_EQ_STR("RUNNING", status_of(s, r.arn, st));
    cJSON *rn = NULL;
    TT_EQ_INT(0, dwf_service_runnable(s, r.arn, -1, &rn, &err));
    TT_EQ_INT(1, cJSON_GetArraySize(rn));
    cJSON_Delete(rn);
    /* Having seen everything, PENDING with nothing pending is the handler's error. */
    cJSON *ev = NULL;
    TT_EQ_INT(0, dwf_service_begin_invocation(s, r.arn, &ev, r.req, &err));
    cJSON_Delete(ev);
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, pending, NULL, &err));
    TT_EQ_STR("FAILED", status_of(s, r.arn, st));
    cJSON *x = NULL;
    TT_EQ_INT(0, dwf_service_get_execution(s, r.arn, 1, &x, &err));
    TT_EQ_STR("Cannot return PENDING status with no pending operations.",
              S(cJSON_GetObjectItemCaseSensitive(x, "Error"), "ErrorMessage"));
    cJSON_Delete(x);
    event_types(s, r.arn, types, sizeof types);
    TT_EQ_STR("ExecutionStarted,WaitStarted,WaitSucceeded,StepStarted,StepSucceeded,WaitStarted,WaitSucceeded,InvocationCompleted,InvocationCompleted,ExecutionFailed", types);
    cJSON *evs = events(s, r.arn);
    TT_EQ_INT(10, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(evs, 2), "WaitSucceededDetails"), "Duration")->valuedouble);
    TT_EQ_INT(10, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(evs, 1), "WaitStartedDetails"), "Duration")->valuedouble);
    cJSON_Delete(evs);
    cJSON_Delete(pending);
    close_store(s);
}

/* A request's operations are held while its updates apply and written once each at its end
 * (service/opcache.c): what a user sees must be what writing each update through gave. */
static char *op_text(const cJSON *op)
{
    return op ? cJSON_PrintUnformatted(op) : NULL;
}

static void test_request_holds_its_operations(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    run r;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    dwf_error err;
    cJSON *out = NULL;
    /* w changes between requests (its timer fires): the answer takes it from the store. */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":1}}]",
                      NULL, &err));
    vclock += 1000;
    /* One request: a context and a child step started and ended in it (the child's ParentId
     * names the context this same request started), a step only started. */
    TT_EQ_INT(0, ckpt(s, &r,
                      "[{\"Id\":\"ctx\",\"Type\":\"CONTEXT\",\"SubType\":\"RunInChildContext\",\"Action\":\"START\"},"
                      "{\"Id\":\"a\",\"ParentId\":\"ctx\",\"Name\":\"one\",\"Type\":\"STEP\",\"SubType\":\"Step\",\"Action\":\"START\"},"
                      "{\"Id\":\"a\",\"ParentId\":\"ctx\",\"Name\":\"one\",\"Type\":\"STEP\",\"SubType\":\"Step\",\"Action\":\"SUCCEED\",\"Payload\":\"1\"},"
                      "{\"Id\":\"ctx\",\"Type\":\"CONTEXT\",\"SubType\":\"RunInChildContext\",\"Action\":\"SUCCEED\",\"Payload\":\"2\"},"
                      "{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"START\"}]",
                      &out, &err));
    /* The delta: every operation changed since the last answer, once each, in start order. */
    cJSON *ops = new_ops(out);
    const char *want[][2] = {{"w", "SUCCEEDED"}, {"ctx", "SUCCEEDED"}, {"a", "SUCCEEDED"}, {"b", "STARTED"}};
    TT_EQ_INT(4, cJSON_GetArraySize(ops));
    for (int i = 0; i < 4; i++) {
        cJSON *o = cJSON_GetArrayItem(ops, i);
        TT_EQ_STR(want[i][0], S(o, "Id"));
        TT_EQ_STR(want[i][1], S(o, "Status"));
        /* ... each as the store has it, field for field. */
        cJSON *stored = op_of(s, r.arn, want[i][0]);
        char *x = op_text(o), *y = op_text(stored);
        TT_EQ_STR(y, x);
        free(x);
        free(y);
        cJSON_Delete(stored);
    }
    cJSON *a = find_op(ops, "a");
    TT_EQ_STR("1", S(cJSON_GetObjectItemCaseSensitive(a, "StepDetails"), "Result"));
    TT_EQ_STR("ctx", S(a, "ParentId"));
    TT_EQ_INT(1, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(a, "StepDetails"), "Attempt")->valuedouble);
    cJSON_Delete(out);
    char types[1024];
    event_types(s, r.arn, types, sizeof types);
    TT_EQ_STR("ExecutionStarted,WaitStarted,WaitSucceeded,ContextStarted,StepStarted,StepSucceeded,ContextSucceeded,StepStarted",
              types);
    /* Nothing is news afterwards: each row carries the change stamp of its last update. */
    TT_EQ_INT(0, ckpt(s, &r, "[]", &out, &err));
    TT_EQ_INT(0, cJSON_GetArraySize(new_ops(out)));
    cJSON_Delete(out);
    /* A rejected request leaves nothing of what it held: c is not in the store, and the next
     * request sees only its own. */
    expect_reject(s, &r,
                  "[{\"Id\":\"c\",\"Type\":\"STEP\",\"Action\":\"START\"},{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\"}]",
                  "InvalidParameterValueException", "Invalid current STEP state to close.");
    cJSON *c = op_of(s, r.arn, "c");
    TT_ASSERT(c == NULL);
    cJSON_Delete(c);
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"3\"}]", &out, &err));
    TT_EQ_INT(1, cJSON_GetArraySize(new_ops(out)));
    TT_EQ_STR("SUCCEEDED", S(find_op(new_ops(out), "b"), "Status"));
    cJSON_Delete(out);
    close_store(s);
}

/* dwf__svc_json_print must give cJSON_PrintUnformatted's text byte for byte (the store holds
 * it; the golden and conformance suites compare what is read back). */
static int same_as_cjson(const cJSON *v)
{
    char *a = cJSON_PrintUnformatted(v), *b = dwf__svc_json_print(v);
    int same = a && b && strcmp(a, b) == 0;
    if (!same) printf("  cJSON %s\n  ours  %s\n", a ? a : "(null)", b ? b : "(null)");
    free(a);
    free(b);
    return same;
}

static unsigned long long xorshift(unsigned long long *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

static void test_json_print_as_cjson(void)
{
    unsigned long long x = 88172645463325252ULL; /* xorshift: the same values every run */
#define NEXT() xorshift(&x)
    int bad = 0, n = 0;
    /* Timestamps as the service makes them (ms / 1000, ms with a fraction or not), and around them. */
    for (int i = 0; i < 20000; i++, n++) {
        double whole = (double)(NEXT() % 100000000000ULL), frac = i % 3 ? (double)(NEXT() % 1000000) / 1e6 : 0;
        double ms = 1.7e12 + whole + frac;
        cJSON *v = cJSON_CreateNumber(i % 2 ? ms / 1000.0 : -ms / 1000.0);
        bad += !same_as_cjson(v);
        cJSON_Delete(v);
    }
    /* Whole milliseconds of every size (json_out.c prints n / 1000 digit by digit), and their
     * neighbours one ulp away. */
    for (int i = 0; i < 30000; i++, n++) {
        unsigned long long p10 = 10;
        for (int k = (int)(NEXT() % 16); k > 0; k--) p10 *= 10;
        double d = (double)(long long)(NEXT() % p10) / 1000.0;
        if (i % 2) d = -d;
        if (i % 5 == 4) d = nextafter(d, i % 10 == 4 ? INFINITY : -INFINITY);
        cJSON *v = cJSON_CreateNumber(d);
        bad += !same_as_cjson(v);
        cJSON_Delete(v);
    }
    /* Any double: random bits (finite), and every power of ten's neighbourhood. */
    for (int i = 0; i < 20000; i++, n++) {
        unsigned long long bits = NEXT();
        double d;
        memcpy(&d, &bits, sizeof d);
        if (isnan(d) || isinf(d)) d = 1.5;
        int e2 = (int)(NEXT() % 120) - 40;
        cJSON *v = cJSON_CreateNumber(i % 4 ? ldexp(d == 0 ? 1 : frexp(d, &(int){0}), e2) : d);
        bad += !same_as_cjson(v);
        cJSON_Delete(v);
    }
    static const double fixed[] = {0, -0.0, 1, -1, 0.5, 0.1, 1.5, 2.5, 0.125, 1e15, 1e15 - 0.5, 999999999999999.9,
                                   99999999999999.99, 9.9999999999999999, 123456789012345.6, 2147483647.0,
                                   2147483648.0, -2147483649.0, 4294967296.5, 1e300, 1e-300, 5e-324, 1765000000.5,
                                   1765000000.25, 1765000000.123, 1765000000.1234567, 1765000000.00001,
                                   1765000000.000015, 3.0000000000000004, 10.000000000000002, 1e21, 1e22, 1e23,
                                   123456789012344.5, 123456789012345.5, 12345678901234.25, 999999999999999.5,
                                   0.001, -0.001, 0.01, 0.1, 0.011, 0.101, 1.001, 1.01, 1.1, 1.11, 0.999,
                                   999999999999.999, -999999999999.999, 999999999999.99, 1e12 + 0.5,
                                   1765000000.001, 1765000000.01, 1765000000.1, 1765000000.999, 0.0005,
                                   0.0001, 1e-4, 9.999e-5};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++, n++) {
        cJSON *v = cJSON_CreateNumber(fixed[i]);
        bad += !same_as_cjson(v);
        cJSON_Delete(v);
    }
    /* Strings with every byte, keys too, nested in objects and arrays with the other types. */
    char all[256];
    for (int i = 1; i < 256; i++) all[i - 1] = (char)i;
    all[255] = '\0';
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, all, all);
    cJSON_AddStringToObject(o, "", "");
    cJSON *arr = cJSON_AddArrayToObject(o, "a");
    cJSON_AddItemToArray(arr, cJSON_CreateTrue());
    cJSON_AddItemToArray(arr, cJSON_CreateFalse());
    cJSON_AddItemToArray(arr, cJSON_CreateNull());
    cJSON_AddItemToArray(arr, cJSON_CreateObject());
    cJSON_AddItemToArray(arr, cJSON_CreateArray());
    cJSON_AddItemToArray(arr, cJSON_CreateNumber(1765000000.1234567));
    cJSON_AddItemToObject(cJSON_AddObjectToObject(o, "deep"), "x", cJSON_CreateString("\"quoted\"\\\n"));
    cJSON_AddItemToObject(o, "raw", cJSON_CreateRaw("{\"r\":1}"));
    /* Strings with no byte to escape (json_out.c's one-copy case): every such byte, one longer
     * than the first buffer, and an escape only at the end or only at the start. */
    char plain[256], lng[1001];
    int np = 0;
    for (int i = 32; i < 256; i++)
        if (i != '"' && i != '\\') plain[np++] = (char)i;
    plain[np] = '\0';
    memset(lng, 'x', 1000);
    lng[1000] = '\0';
    cJSON_AddStringToObject(o, plain, plain);
    cJSON_AddStringToObject(o, "long", lng);
    cJSON_AddStringToObject(o, "end", "abc\"");
    cJSON_AddStringToObject(o, "start", "\tabc");
    bad += !same_as_cjson(o);
    n++;
    cJSON_Delete(o);
    /* Strings of 0 to 40 bytes with an escape (or none) anywhere: json_out.c scans 8 bytes at a
     * time and then byte by byte, so each byte to escape is tried at every place in a word and
     * in the tail, alone, after another, and beside bytes of 0x7f and above. */
    static const char pick[] = "\"\\\b\f\n\r\t\x01\x1f !~\x7f\x80\xc3\xa9\xff aZ09";
    for (int i = 0; i < 4000; i++, n++) {
        char str[41];
        int len = (int)(NEXT() % 41), esc = (int)(NEXT() % 3);
        for (int k = 0; k < len; k++) str[k] = (char)('a' + (int)(NEXT() % 26));
        for (int e = 0; e < esc && len > 0; e++) str[NEXT() % (unsigned)len] = pick[NEXT() % (sizeof pick - 1)];
        str[len] = '\0';
        cJSON *v = cJSON_CreateString(str);
        bad += !same_as_cjson(v);
        cJSON_Delete(v);
    }
    /* History events written without building them: the object the service used to print. */
    const char *opjs[] = {NULL, "{\"Id\":\"a\"}", "{\"Id\":\"b\",\"Name\":\"n \\\"q\\\" \\u0001\",\"Type\":\"STEP\"}",
                          "{\"Id\":\"c\",\"ParentId\":\"p\",\"SubType\":\"Step\",\"Name\":\"x\",\"Status\":\"STARTED\"}",
                          "{\"Name\":\"no id\",\"SubType\":7}"};
    const char *detjs[] = {NULL, "{}", "{\"Result\":{\"Payload\":\"1\",\"Truncated\":false},\"RetryDetails\":{\"CurrentAttempt\":1}}",
                           "{\"Error\":{\"Payload\":{\"ErrorType\":\"E\",\"ErrorMessage\":\"m\\n\"}},\"Duration\":10.5}"};
    for (size_t i = 0; i < sizeof opjs / sizeof opjs[0]; i++)
        for (size_t k = 0; k < sizeof detjs / sizeof detjs[0]; k++, n++) {
            cJSON *op = opjs[i] ? cJSON_Parse(opjs[i]) : NULL, *det = detjs[k] ? cJSON_Parse(detjs[k]) : NULL;
            double secs = (1.7e12 + (double)(NEXT() % 1000000000ULL) + (double)(NEXT() % 1000) / 1e3) / 1000.0;
            long long id = (long long)(i * 10 + k + 1);
            cJSON *ev = cJSON_CreateObject();
            cJSON_AddStringToObject(ev, "EventType", "StepSucceeded");
            cJSON_AddNumberToObject(ev, "EventId", (double)id);
            cJSON_AddNumberToObject(ev, "EventTimestamp", secs);
            const char *keys[] = {"Id", "Name", "ParentId", "SubType"};
            for (size_t j = 0; op && j < 4; j++) {
                const cJSON *v = cJSON_GetObjectItemCaseSensitive(op, keys[j]);
                if (cJSON_IsString(v)) cJSON_AddStringToObject(ev, keys[j], v->valuestring);
            }
            cJSON_AddItemToObject(ev, "StepSucceededDetails", det ? cJSON_Duplicate(det, 1) : cJSON_CreateObject());
            char *a = cJSON_PrintUnformatted(ev), *b = dwf__svc_event_json("StepSucceeded", id, secs, op, det);
            if (!a || !b || strcmp(a, b) != 0) {
                printf("  event cJSON %s\n  event ours  %s\n", a ? a : "(null)", b ? b : "(null)");
                bad++;
            }
            free(a);
            free(b);
            cJSON_Delete(ev);
            cJSON_Delete(op);
            cJSON_Delete(det);
        }
#undef NEXT
    printf("  %d values, %d printed differently\n", n, bad);
    TT_EQ_INT(0, bad);
}

static void test_dirty_reinvoke(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    run r;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    dwf_error err;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":2}},"
                             "{\"Id\":\"w2\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":100}}]",
                      NULL, &err));
    vclock += 2000;
    TT_EQ_INT(0, dwf_service_fire_timers(s, NULL, NULL, &err));
    cJSON *pending = J("{\"Status\":\"PENDING\"}"), *rn = NULL;
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, pending, NULL, &err));
    TT_EQ_INT(0, dwf_service_runnable(s, r.arn, -1, &rn, &err));
    TT_EQ_INT(1, cJSON_GetArraySize(rn));
    cJSON_Delete(rn);
    cJSON_Delete(pending);
    close_store(s);
}

static void test_callbacks(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 6000, 1);
    run r;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    dwf_error err;
    cJSON *out = NULL;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"cb\",\"Type\":\"CALLBACK\",\"Name\":\"approval\",\"Action\":\"START\",\"CallbackOptions\":{\"TimeoutSeconds\":60}},"
                             "{\"Id\":\"hb\",\"Type\":\"CALLBACK\",\"Action\":\"START\",\"CallbackOptions\":{\"HeartbeatTimeoutSeconds\":10}},"
                             "{\"Id\":\"no\",\"Type\":\"CALLBACK\",\"Action\":\"START\"}]", &out, &err));
    char id[1100], hb[1100], no[1100];
    snprintf(id, sizeof id, "%s", S(cJSON_GetObjectItemCaseSensitive(find_op(new_ops(out), "cb"), "CallbackDetails"), "CallbackId"));
    snprintf(hb, sizeof hb, "%s", S(cJSON_GetObjectItemCaseSensitive(find_op(new_ops(out), "hb"), "CallbackDetails"), "CallbackId"));
    snprintf(no, sizeof no, "%s", S(cJSON_GetObjectItemCaseSensitive(find_op(new_ops(out), "no"), "CallbackDetails"), "CallbackId"));
    cJSON_Delete(out);
    TT_ASSERT(strlen(id) > 20 && strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") == strlen(id));
    cJSON *open = NULL;
    TT_EQ_INT(0, dwf_service_open_callbacks(s, r.arn, &open, &err));
    TT_EQ_INT(3, cJSON_GetArraySize(open));
    TT_EQ_STR("approval", S(cJSON_GetArrayItem(open, 0), "Name"));
    cJSON_Delete(open);
    cJSON *pending = J("{\"Status\":\"PENDING\"}"), *rn = NULL;
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, pending, NULL, &err));

    /* Malformed and unknown ids. */
    TT_EQ_INT(-1, dwf_service_callback_succeed(s, "not base64!", "x", 1, &err));
    TT_EQ_STR("InvalidParameterValueException", err.type);
    TT_EQ_INT(-1, dwf_service_callback_succeed(s, "eyJleGVjdXRpb25JZCI6ImEiLCJvcGVyYXRpb25JZCI6ImIifQ==", "x", 1, &err));
    TT_EQ_STR("ResourceNotFoundException", err.type);
    /* Heartbeat without a heartbeat timeout is an error; with one it resets the timer. */
    TT_EQ_INT(-1, dwf_service_callback_heartbeat(s, id, &err));
    TT_EQ_STR("The callback has no heartbeat timeout.", err.message);
    /* Only deadlines are scheduled: nothing for a virtual clock to jump to. */
    double due = 0;
    TT_EQ_INT(0, dwf_service_next_due(s, r.arn, 0, &due, &err));
    TT_ASSERT(due == -1);
    TT_EQ_INT(0, dwf_service_next_due(s, r.arn, 1, &due, &err));
    TT_ASSERT(due == vclock + 10000);
    vclock += 8000;
    TT_EQ_INT(0, dwf_service_callback_heartbeat(s, hb, &err));
    vclock += 8000;
    TT_EQ_INT(0, dwf_service_fire_timers(s, NULL, NULL, &err));
    cJSON *op = op_of(s, r.arn, "hb");
    TT_EQ_STR("STARTED", S(op, "Status"));
    cJSON_Delete(op);
    vclock += 2000;
    TT_EQ_INT(0, dwf_service_fire_timers(s, NULL, NULL, &err));
    op = op_of(s, r.arn, "hb");
    TT_EQ_STR("TIMED_OUT", S(op, "Status"));
    TT_EQ_STR("Callback timed out on heartbeat", S(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op, "CallbackDetails"), "Error"), "ErrorMessage"));
    cJSON_Delete(op);
    TT_EQ_INT(-1, dwf_service_callback_heartbeat(s, hb, &err));
    TT_EQ_STR("CallbackTimeoutException", err.type);
    TT_EQ_INT(0, dwf_service_runnable(s, r.arn, -1, &rn, &err));
    TT_EQ_INT(1, cJSON_GetArraySize(rn));
    cJSON_Delete(rn);

    /* Success with raw bytes; a second completion is a CallbackTimeoutException. */
    TT_EQ_INT(0, dwf_service_callback_succeed(s, id, "{\"approved\":true}", 17, &err));
    op = op_of(s, r.arn, "cb");
    TT_EQ_STR("SUCCEEDED", S(op, "Status"));
    TT_EQ_STR("{\"approved\":true}", S(cJSON_GetObjectItemCaseSensitive(op, "CallbackDetails"), "Result"));
    TT_EQ_STR(id, S(cJSON_GetObjectItemCaseSensitive(op, "CallbackDetails"), "CallbackId"));
    cJSON_Delete(op);
    TT_EQ_INT(-1, dwf_service_callback_succeed(s, id, "1", 1, &err));
    TT_EQ_STR("CallbackTimeoutException", err.type);
    TT_EQ_INT(400, dwf_service_http_status(err.type));
    /* Failure with an ErrorObject. */
    cJSON *eo = J("{\"ErrorType\":\"Rejected\",\"ErrorMessage\":\"no\"}");
    TT_EQ_INT(0, dwf_service_callback_fail(s, no, eo, &err));
    op = op_of(s, r.arn, "no");
    TT_EQ_STR("FAILED", S(op, "Status"));
    TT_EQ_STR("Rejected", S(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op, "CallbackDetails"), "Error"), "ErrorType"));
    cJSON_Delete(op);
    char types[1024];
    event_types(s, r.arn, types, sizeof types);
    TT_EQ_STR("ExecutionStarted,CallbackStarted,CallbackStarted,CallbackStarted,InvocationCompleted,CallbackTimedOut,CallbackSucceeded,CallbackFailed", types);
    cJSON_Delete(eo);
    cJSON_Delete(pending);
    close_store(s);
}

static void test_callback_timeout(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 6000, 1);
    run r;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    dwf_error err;
    cJSON *out = NULL;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"cb\",\"Type\":\"CALLBACK\",\"Action\":\"START\",\"CallbackOptions\":{\"TimeoutSeconds\":60}}]", &out, &err));
    char id[1100];
    snprintf(id, sizeof id, "%s", S(cJSON_GetObjectItemCaseSensitive(find_op(new_ops(out), "cb"), "CallbackDetails"), "CallbackId"));
    cJSON_Delete(out);
    vclock += 60000;
    /* No engine fired the deadline yet: a late answer still finds the callback timed out. */
    TT_EQ_INT(-1, dwf_service_callback_succeed(s, id, "1", 1, &err));
    TT_EQ_STR("CallbackTimeoutException", err.type);
    cJSON *op = op_of(s, r.arn, "cb");
    TT_EQ_STR("TIMED_OUT", S(op, "Status"));
    TT_EQ_STR("Callback timed out", S(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op, "CallbackDetails"), "Error"), "ErrorMessage"));
    cJSON_Delete(op);
    TT_EQ_INT(-1, dwf_service_callback_succeed(s, id, "1", 1, &err));
    TT_EQ_STR("CallbackTimeoutException", err.type);
    close_store(s);
}

static void test_faults_stop_timeout(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 30, 1);
    run r, r2, r3;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    dwf_error err, fault = {"Timeout", "handler crashed"};
    /* Faults retry with backoff 1 s, 2 s, then the execution fails (3 attempts). */
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, NULL, &fault, &err));
    cJSON *rn = NULL;
    TT_EQ_INT(0, dwf_service_runnable(s, r.arn, -1, &rn, &err));
    TT_EQ_INT(0, cJSON_GetArraySize(rn));
    cJSON_Delete(rn);
    vclock += 1000;
    TT_EQ_INT(0, dwf_service_runnable(s, r.arn, -1, &rn, &err));
    TT_EQ_INT(1, cJSON_GetArraySize(rn));
    cJSON_Delete(rn);
    cJSON *ev = NULL;
    for (int i = 0; i < 2; i++) {
        TT_EQ_INT(0, dwf_service_begin_invocation(s, r.arn, &ev, r.req, &err));
        cJSON_Delete(ev);
        TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, NULL, &fault, &err));
        vclock += 4000;
    }
    char st[32], types[1024];
    TT_EQ_STR("FAILED", status_of(s, r.arn, st));
    event_types(s, r.arn, types, sizeof types);
    TT_EQ_STR("ExecutionStarted,InvocationCompleted,InvocationCompleted,InvocationCompleted,ExecutionFailed", types);

    /* Stop. */
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r2));
    cJSON *out = NULL;
    TT_EQ_INT(0, dwf_service_stop(s, r2.arn, NULL, &out, &err));
    TT_ASSERT(cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(out, "StopTimestamp")));
    cJSON_Delete(out);
    TT_EQ_STR("STOPPED", status_of(s, r2.arn, st));
    TT_EQ_INT(-1, dwf_service_stop(s, r2.arn, NULL, &out, &err));
    TT_EQ_STR("InvalidParameterValueException", err.type);
    TT_EQ_INT(-1, ckpt(s, &r2, "[]", NULL, &err));
    TT_ASSERT(strncmp(err.message, "Invalid Checkpoint Token", 24) == 0);
    event_types(s, r2.arn, types, sizeof types);
    TT_EQ_STR("ExecutionStarted,ExecutionStopped", types);

    /* Execution timeout (30 s). */
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r3));
    vclock += 30000;
    TT_EQ_INT(0, dwf_service_fire_timers(s, NULL, NULL, &err));
    TT_EQ_STR("TIMED_OUT", status_of(s, r3.arn, st));
    event_types(s, r3.arn, types, sizeof types);
    TT_EQ_STR("ExecutionStarted,ExecutionTimedOut", types);

    /* List by status. */
    cJSON *q = J("{\"FunctionName\":\"fn\",\"Statuses\":[\"STOPPED\",\"TIMED_OUT\"]}");
    TT_EQ_INT(0, dwf_service_list_executions(s, q, &out, &err));
    TT_EQ_INT(2, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out, "DurableExecutions")));
    cJSON_Delete(out);
    cJSON_Delete(q);
    q = J("{\"MaxItems\":2}");
    TT_EQ_INT(0, dwf_service_list_executions(s, q, &out, &err));
    TT_EQ_INT(2, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(out, "DurableExecutions")));
    TT_EQ_STR("2", S(out, "NextMarker"));
    cJSON_Delete(out);
    cJSON_Delete(q);
    close_store(s);
}

/* Two handles opening one store that does not exist yet, at once (two `dwf run`s on one new
 * --store): both open it. SQLite answers the loser's switch to WAL mode with SQLITE_BUSY without
 * waiting (no busy handler there), which failed one open in about 20 with StoreLockedException. */
typedef struct race_open {
    const char *path;
    pthread_barrier_t *go;
    int rc;
    dwf_error err;
} race_open;

static void *race_open_thread(void *arg)
{
    race_open *r = arg;
    dwf_service_opts o = {.path = r->path, .clock = clock_fn};
    dwf_service *s = NULL;
    pthread_barrier_wait(r->go);
    r->rc = dwf_service_open(&o, &s, &r->err);
    if (s) dwf_service_close(s);
    return NULL;
}

static void test_new_store_opened_twice_at_once(void)
{
    char d[64], p[128];
    snprintf(d, sizeof d, "/tmp/dwf_test_race_XXXXXX");
    TT_ASSERT(mkdtemp(d) != NULL);
    int failed = 0;
    for (int round = 0; round < 100; round++) {
        snprintf(p, sizeof p, "%s/s%d.db", d, round);
        pthread_barrier_t go;
        pthread_barrier_init(&go, NULL, 2);
        race_open r[2] = {{p, &go, 0, {{0}, {0}}}, {p, &go, 0, {{0}, {0}}}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, race_open_thread, &r[i]);
        for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
        pthread_barrier_destroy(&go);
        for (int i = 0; i < 2; i++)
            if (r[i].rc != 0 && failed++ == 0) printf("round %d: %s: %s\n", round, r[i].err.type, r[i].err.message);
    }
    TT_EQ_INT(0, failed);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    if (system(cmd) != 0) printf("cleanup of %s failed\n", d);
}

static void test_paging(void)
{
    snprintf(dir, sizeof dir, "/tmp/dwf_test_svc_XXXXXX");
    if (!mkdtemp(dir)) return;
    snprintf(path, sizeof path, "%s/dwf.db", dir);
    dwf_service_opts o = {.path = path, .clock = clock_fn, .event_page = 3};
    dwf_service *s = NULL;
    dwf_error err;
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    run r;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    char updates[4096] = "[";
    for (int i = 0; i < 6; i++)
        snprintf(updates + strlen(updates), sizeof updates - strlen(updates), "%s{\"Id\":\"s%d\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"%d\"}",
                 i ? "," : "", i, i);
    strcat(updates, "]");
    TT_EQ_INT(0, ckpt(s, &r, updates, NULL, &err));
    cJSON *page = NULL;
    TT_EQ_INT(0, dwf_service_get_state(s, r.arn, r.token, NULL, 4, &page, &err));
    cJSON *ops = cJSON_GetObjectItemCaseSensitive(page, "Operations");
    TT_EQ_INT(4, cJSON_GetArraySize(ops));
    TT_EQ_STR("EXECUTION", S(cJSON_GetArrayItem(ops, 0), "Type"));
    TT_EQ_STR("s2", S(cJSON_GetArrayItem(ops, 3), "Id"));
    char marker[32];
    snprintf(marker, sizeof marker, "%s", S(page, "NextMarker"));
    cJSON_Delete(page);
    TT_EQ_INT(0, dwf_service_get_state(s, r.arn, r.token, marker, 4, &page, &err));
    ops = cJSON_GetObjectItemCaseSensitive(page, "Operations");
    TT_EQ_INT(3, cJSON_GetArraySize(ops));
    TT_EQ_STR("s3", S(cJSON_GetArrayItem(ops, 0), "Id"));
    TT_ASSERT(S(page, "NextMarker") == NULL);
    cJSON_Delete(page);
    TT_EQ_INT(-1, dwf_service_get_state(s, r.arn, "nope", NULL, 4, &page, &err));
    TT_ASSERT(strncmp(err.message, "Invalid Checkpoint Token", 24) == 0);
    TT_EQ_INT(-1, dwf_service_get_state(s, r.arn, r.token, NULL, 1001, &page, &err));
    TT_EQ_STR("InvalidParameterValueException", err.type);
    /* The next invocation event holds event_page operations and a marker. */
    cJSON *pending = J("{\"Status\":\"PENDING\"}"), *ev = NULL;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":1}}]", NULL, &err));
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, pending, NULL, &err));
    TT_EQ_INT(0, dwf_service_begin_invocation(s, r.arn, &ev, r.req, &err));
    cJSON *ies = cJSON_GetObjectItemCaseSensitive(ev, "InitialExecutionState");
    TT_EQ_INT(3, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ies, "Operations")));
    TT_ASSERT(S(ies, "NextMarker") != NULL); /* (the last one's start sequence: schema 16 counts events in it) */
    TT_EQ_INT(0, dwf_service_get_state(s, r.arn, S(ev, "CheckpointToken"), S(ies, "NextMarker"), 1000, &page, &err));
    TT_EQ_INT(5, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(page, "Operations")));
    cJSON_Delete(page);
    cJSON_Delete(ev);
    /* History pages. */
    cJSON *h = NULL;
    TT_EQ_INT(0, dwf_service_get_history(s, r.arn, 1, 3, NULL, 0, &h, &err));
    TT_EQ_INT(3, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(h, "Events")));
    TT_EQ_STR("3", S(h, "NextMarker"));
    cJSON_Delete(h);
    TT_EQ_INT(0, dwf_service_get_history(s, r.arn, 0, 2, "3", 0, &h, &err));
    cJSON *e4 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(h, "Events"), 0);
    TT_EQ_INT(4, cJSON_GetObjectItemCaseSensitive(e4, "EventId")->valuedouble);
    /* Without execution data the Result object goes, and the rest of the details stay. */
    TT_ASSERT(cJSON_GetObjectItemCaseSensitive(e4, "StepSucceededDetails") != NULL);
    TT_ASSERT(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(e4, "StepSucceededDetails"), "Result") == NULL);
    cJSON_Delete(h);
    TT_EQ_INT(0, dwf_service_get_history(s, r.arn, 1, 1, NULL, 1, &h, &err));
    TT_EQ_STR("InvocationCompleted", S(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(h, "Events"), 0), "EventType"));
    cJSON_Delete(h);
    cJSON_Delete(pending);
    close_store(s);
}

static void child_of(dwf_service *s, const char *arn, const char *op_id, char out[512]);

/* dwf_service_runnable_marks moves when an execution becomes runnable, or a call due, without
 * its host having started it (dwf serve re-reads the runnable page after a change only then),
 * and stays still for what a host does itself: starting an execution, its steps, its end. */
static void test_runnable_marks(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    register_fn(s, "target", 600, 1);
    dwf_error err;
    unsigned long m0 = dwf_service_runnable_marks();
    run a;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &a));
    TT_EQ_INT(0, ckpt(s, &a, "[{\"Id\":\"s\",\"Type\":\"STEP\",\"Action\":\"START\"},"
                             "{\"Id\":\"s\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"1\"}]", NULL, &err));
    cJSON *done = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"1\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, a.arn, a.req, vclock, done, NULL, &err));
    TT_ASSERT(dwf_service_runnable_marks() == m0);

    /* A callback answered while no invocation runs: runnable, and marked. */
    run b;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &b));
    cJSON *out = NULL;
    TT_EQ_INT(0, ckpt(s, &b, "[{\"Id\":\"cb\",\"Type\":\"CALLBACK\",\"Action\":\"START\"}]", &out, &err));
    char id[1100];
    snprintf(id, sizeof id, "%s", S(cJSON_GetObjectItemCaseSensitive(find_op(new_ops(out), "cb"), "CallbackDetails"), "CallbackId"));
    cJSON_Delete(out);
    cJSON *pending = J("{\"Status\":\"PENDING\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, b.arn, b.req, vclock, pending, NULL, &err));
    TT_ASSERT(dwf_service_runnable_marks() == m0);
    TT_EQ_INT(0, dwf_service_callback_succeed(s, id, "\"yes\"", 5, &err));
    unsigned long m1 = dwf_service_runnable_marks();
    TT_ASSERT(m1 > m0);
    cJSON *rn = NULL;
    TT_EQ_INT(0, dwf_service_runnable(s, b.arn, -1, &rn, &err));
    TT_EQ_INT(1, cJSON_GetArraySize(rn));
    cJSON_Delete(rn);

    /* A CHAINED_INVOKE's target, started by a checkpoint: nobody queued it. */
    cJSON *ev = NULL;
    TT_EQ_INT(0, dwf_service_begin_invocation(s, b.arn, &ev, b.req, &err));
    snprintf(b.token, sizeof b.token, "%s", S(ev, "CheckpointToken"));
    cJSON_Delete(ev);
    TT_ASSERT(dwf_service_runnable_marks() == m1);
    TT_EQ_INT(0, ckpt(s, &b, "[{\"Id\":\"inv\",\"Type\":\"CHAINED_INVOKE\",\"Action\":\"START\",\"Payload\":\"{}\","
                             "\"ChainedInvokeOptions\":{\"FunctionName\":\"target\"}}]", NULL, &err));
    TT_ASSERT(dwf_service_runnable_marks() > m1);
    cJSON_Delete(done);
    cJSON_Delete(pending);
    close_store(s);
}

static void test_chained_invoke(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "caller", 600, 1);
    register_fn(s, "target", 600, 1);
    run r;
    TT_EQ_INT(0, start(s, "caller", "\"{}\"", &r));
    dwf_error err;
    cJSON *out = NULL;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"inv\",\"Type\":\"CHAINED_INVOKE\",\"SubType\":\"ChainedInvoke\",\"Action\":\"START\",\"Payload\":\"{\\\"n\\\":2}\","
                             "\"ChainedInvokeOptions\":{\"FunctionName\":\"arn:aws:lambda:us-east-1:1:function:target:live\"}},"
                             "{\"Id\":\"bad\",\"Type\":\"CHAINED_INVOKE\",\"Action\":\"START\",\"ChainedInvokeOptions\":{\"FunctionName\":\"missing\"}}]",
                      &out, &err));
    TT_EQ_STR("STARTED", S(find_op(new_ops(out), "inv"), "Status"));
    TT_EQ_STR("FAILED", S(find_op(new_ops(out), "bad"), "Status"));
    TT_EQ_STR("ResourceNotFoundException",
              S(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(find_op(new_ops(out), "bad"), "ChainedInvokeDetails"), "Error"), "ErrorType"));
    cJSON_Delete(out);
    cJSON *pending = J("{\"Status\":\"PENDING\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, pending, NULL, &err));
    /* The target is a new execution under the caller's root, ready to run. */
    cJSON *rn = NULL;
    TT_EQ_INT(0, dwf_service_runnable(s, r.arn, -1, &rn, &err));
    TT_EQ_INT(1, cJSON_GetArraySize(rn));
    char child[512];
    snprintf(child, sizeof child, "%s", cJSON_GetArrayItem(rn, 0)->valuestring);
    cJSON_Delete(rn);
    TT_ASSERT(strstr(child, ":function:target:") != NULL);
    cJSON *ev = NULL;
    char rid[40];
    TT_EQ_INT(0, dwf_service_begin_invocation(s, child, &ev, rid, &err));
    cJSON *op0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev, "InitialExecutionState"), "Operations"), 0);
    TT_EQ_STR("{\"n\":2}", S(cJSON_GetObjectItemCaseSensitive(op0, "ExecutionDetails"), "InputPayload"));
    cJSON_Delete(ev);
    cJSON *done = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"4\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, child, rid, vclock, done, NULL, &err));
    cJSON *op = op_of(s, r.arn, "inv");
    TT_EQ_STR("SUCCEEDED", S(op, "Status"));
    TT_EQ_STR("4", S(cJSON_GetObjectItemCaseSensitive(op, "ChainedInvokeDetails"), "Result"));
    cJSON_Delete(op);
    TT_EQ_INT(0, dwf_service_runnable(s, r.arn, -1, &rn, &err));
    TT_EQ_INT(1, cJSON_GetArraySize(rn));
    TT_EQ_STR(r.arn, cJSON_GetArrayItem(rn, 0)->valuestring);
    cJSON_Delete(rn);
    char types[1024];
    event_types(s, r.arn, types, sizeof types);
    TT_EQ_STR("ExecutionStarted,ChainedInvokeStarted,ChainedInvokeStarted,ChainedInvokeFailed,InvocationCompleted,ChainedInvokeSucceeded", types);
    cJSON *evs = events(s, r.arn);
    TT_EQ_STR(child, S(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(evs, 1), "ChainedInvokeStartedDetails"), "DurableExecutionArn"));
    cJSON_Delete(evs);
    /* CANCEL of a running chained invoke stops the target; the caller's op is CANCELLED. */
    TT_EQ_INT(0, dwf_service_begin_invocation(s, r.arn, &ev, r.req, &err));
    snprintf(r.token, sizeof r.token, "%s", S(ev, "CheckpointToken"));
    cJSON_Delete(ev);
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"inv2\",\"Type\":\"CHAINED_INVOKE\",\"Action\":\"START\",\"ChainedInvokeOptions\":{\"FunctionName\":\"target\"}}]", NULL, &err));
    char child2[512];
    child_of(s, r.arn, "inv2", child2);
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"inv2\",\"Type\":\"CHAINED_INVOKE\",\"Action\":\"CANCEL\"}]", &out, &err));
    TT_EQ_STR("CANCELLED", S(find_op(new_ops(out), "inv2"), "Status"));
    cJSON_Delete(out);
    char st[32];
    TT_EQ_STR("STOPPED", status_of(s, child2, st));
    TT_EQ_STR("RUNNING", status_of(s, r.arn, st));
    /* The caller's history goes on, numbered without gaps or clashes. */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"after\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\"}]", NULL, &err));
    event_types(s, r.arn, types, sizeof types);
    TT_ASSERT(strstr(types, "BADID") == NULL);
    TT_ASSERT(strstr(types, "ChainedInvokeStopped") == NULL);
    cJSON_Delete(done);
    cJSON_Delete(pending);
    close_store(s);
}

static void test_execution_checkpoint(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    run r;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    dwf_error err;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"s\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\"},{\"Id\":\"zz\",\"Type\":\"EXECUTION\",\"Action\":\"SUCCEED\",\"Payload\":\"\\\"big\\\"\"}]", NULL, &err));
    char st[32];
    TT_EQ_STR("SUCCEEDED", status_of(s, r.arn, st));
    /* The response that follows is ignored; later checkpoints are rejected. */
    cJSON *resp = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"\"}"), *x = NULL;
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, resp, NULL, &err));
    TT_EQ_INT(0, dwf_service_get_execution(s, r.arn, 1, &x, &err));
    TT_EQ_STR("\"big\"", S(x, "Result"));
    cJSON_Delete(x);
    TT_EQ_INT(-1, ckpt(s, &r, "[]", NULL, &err));
    TT_EQ_STR("InvalidParameterValueException", err.type);
    cJSON_Delete(resp);
    close_store(s);
}

static void test_retention(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    run r, keep;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &keep));
    dwf_error err;
    cJSON *done = J("{\"Status\":\"SUCCEEDED\"}"), *x = NULL;
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, done, NULL, &err));
    int n = -1;
    vclock += 86400000.0 - 1000;
    TT_EQ_INT(0, dwf_service_purge_expired(s, &n, &err));
    TT_EQ_INT(0, n);
    vclock += 2000;
    /* Reopening the store purges. */
    dwf_service_close(s);
    dwf_service_opts o = {.path = path, .clock = clock_fn};
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    TT_EQ_INT(-1, dwf_service_get_execution(s, r.arn, 0, &x, &err));
    TT_EQ_STR("ResourceNotFoundException", err.type);
    TT_EQ_INT(0, dwf_service_get_execution(s, keep.arn, 0, &x, &err));
    /* Its events went with it (schema 11: the range of keys of its number), the other's stayed. */
    sqlite3 *db = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(0, sql_int(db, "SELECT COUNT(*) FROM operations WHERE op_id IS NULL AND exec_no NOT IN (SELECT no FROM executions)"));
    TT_ASSERT(sql_int(db, "SELECT COUNT(*) FROM operations WHERE op_id IS NULL AND exec_no IN (SELECT no FROM executions)") > 0);
    sqlite3_close(db);
    cJSON_Delete(x);
    cJSON_Delete(done);
    close_store(s);
}

static void test_store_errors(void)
{
    dwf_service *s = open_store(150);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    /* Another connection holds the write lock: a named error, nothing changed. */
    sqlite3 *other = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &other));
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(other, "BEGIN EXCLUSIVE", NULL, NULL, NULL));
    cJSON *req = J("{\"FunctionName\":\"fn\"}"), *out = NULL;
    dwf_error err;
    TT_EQ_INT(-1, dwf_service_start(s, req, &out, &err));
    TT_EQ_STR("StoreLockedException", err.type);
    TT_ASSERT(strstr(err.message, "database is locked") != NULL);
    sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(other);
    cJSON *list = NULL;
    TT_EQ_INT(0, dwf_service_list_executions(s, NULL, &list, &err));
    TT_EQ_INT(0, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(list, "DurableExecutions")));
    cJSON_Delete(list);
    cJSON_Delete(req);
    close_store(s);

    /* A file that is not a database: a named error, the file left as it was. */
    snprintf(dir, sizeof dir, "/tmp/dwf_test_svc_XXXXXX");
    if (!mkdtemp(dir)) return;
    snprintf(path, sizeof path, "%s/dwf.db", dir);
    FILE *f = fopen(path, "w");
    const char junk[] = "this is not a database, just some text that is long enough to fill a header ......";
    fwrite(junk, 1, sizeof junk, f);
    fclose(f);
    dwf_service_opts o = {.path = path, .clock = clock_fn};
    s = NULL;
    TT_EQ_INT(-1, dwf_service_open(&o, &s, &err));
    TT_EQ_STR("StoreCorruptException", err.type);
    char back[200] = "";
    f = fopen(path, "r");
    size_t n = fread(back, 1, sizeof back, f);
    fclose(f);
    TT_EQ_INT(sizeof junk, n);
    TT_ASSERT(memcmp(back, junk, sizeof junk) == 0);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("cleanup failed\n");
}

/* The child execution a CHAINED_INVOKE operation started (from its ChainedInvokeStarted event). */
static void child_of(dwf_service *s, const char *arn, const char *op_id, char out[512])
{
    out[0] = '\0';
    cJSON *ev = events(s, arn);
    for (cJSON *e = ev ? ev->child : NULL; e; e = e->next)
        if (strcmp(S(e, "EventType"), "ChainedInvokeStarted") == 0 && strcmp(S(e, "Id"), op_id) == 0)
            snprintf(out, 512, "%s", S(cJSON_GetObjectItemCaseSensitive(e, "ChainedInvokeStartedDetails"), "DurableExecutionArn"));
    cJSON_Delete(ev);
}

static void test_all_event_types(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    register_fn(s, "target", 600, 1);
    register_fn(s, "slow", 5, 1);
    run r;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    dwf_error err;
    cJSON *out = NULL;
    TT_EQ_INT(0, ckpt(s, &r,
                      "[{\"Id\":\"c1\",\"Type\":\"CONTEXT\",\"SubType\":\"RunInChildContext\",\"Action\":\"START\"},"
                      "{\"Id\":\"c1\",\"Type\":\"CONTEXT\",\"Action\":\"SUCCEED\",\"Payload\":\"1\",\"ContextOptions\":{\"ReplayChildren\":true}},"
                      "{\"Id\":\"c2\",\"Type\":\"CONTEXT\",\"Action\":\"START\"},"
                      "{\"Id\":\"c2\",\"Type\":\"CONTEXT\",\"Action\":\"FAIL\",\"Error\":{\"ErrorType\":\"StepError\"}},"
                      "{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":100}},"
                      "{\"Id\":\"s1\",\"Type\":\"STEP\",\"Action\":\"START\"},{\"Id\":\"s1\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"1\"},"
                      "{\"Id\":\"s2\",\"Type\":\"STEP\",\"Action\":\"FAIL\",\"Error\":{\"ErrorMessage\":\"x\"}},"
                      "{\"Id\":\"k1\",\"Type\":\"CALLBACK\",\"Action\":\"START\"},"
                      "{\"Id\":\"k2\",\"Type\":\"CALLBACK\",\"Action\":\"START\"},"
                      "{\"Id\":\"k3\",\"Type\":\"CALLBACK\",\"Action\":\"START\",\"CallbackOptions\":{\"TimeoutSeconds\":1}},"
                      "{\"Id\":\"i1\",\"Type\":\"CHAINED_INVOKE\",\"Action\":\"START\",\"ChainedInvokeOptions\":{\"FunctionName\":\"target\"}},"
                      "{\"Id\":\"i2\",\"Type\":\"CHAINED_INVOKE\",\"Action\":\"START\",\"ChainedInvokeOptions\":{\"FunctionName\":\"target\"}},"
                      "{\"Id\":\"i3\",\"Type\":\"CHAINED_INVOKE\",\"Action\":\"START\",\"ChainedInvokeOptions\":{\"FunctionName\":\"slow\"}},"
                      "{\"Id\":\"i4\",\"Type\":\"CHAINED_INVOKE\",\"Action\":\"START\",\"ChainedInvokeOptions\":{\"FunctionName\":\"target\"}}]",
                      &out, &err));
    cJSON *c1 = find_op(new_ops(out), "c1");
    TT_EQ_STR("SUCCEEDED", S(c1, "Status"));
    TT_ASSERT(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c1, "ContextDetails"), "ReplayChildren")));
    TT_EQ_STR("FAILED", S(find_op(new_ops(out), "c2"), "Status"));
    char k1[1100], k2[1100];
    snprintf(k1, sizeof k1, "%s", S(cJSON_GetObjectItemCaseSensitive(find_op(new_ops(out), "k1"), "CallbackDetails"), "CallbackId"));
    snprintf(k2, sizeof k2, "%s", S(cJSON_GetObjectItemCaseSensitive(find_op(new_ops(out), "k2"), "CallbackDetails"), "CallbackId"));
    cJSON_Delete(out);
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"CANCEL\"}]", &out, &err));
    TT_EQ_STR("CANCELLED", S(find_op(new_ops(out), "w"), "Status"));
    cJSON_Delete(out);
    expect_reject(s, &r, "[{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"CANCEL\"}]", "InvalidParameterValueException",
                  "Invalid current WAIT state to cancel.");
    cJSON *pending = J("{\"Status\":\"PENDING\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, pending, NULL, &err));
    TT_EQ_INT(0, dwf_service_callback_succeed(s, k1, "", 0, &err));
    cJSON *op = op_of(s, r.arn, "k1");
    TT_ASSERT(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op, "CallbackDetails"), "Result") == NULL);
    cJSON_Delete(op);
    TT_EQ_INT(0, dwf_service_callback_fail(s, k2, NULL, &err));
    char a1[512], a2[512], a3[512], a4[512];
    child_of(s, r.arn, "i1", a1);
    child_of(s, r.arn, "i2", a2);
    child_of(s, r.arn, "i3", a3);
    child_of(s, r.arn, "i4", a4);
    TT_ASSERT(a1[0] && a2[0] && a3[0] && a4[0]);
    cJSON *ok = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"7\"}"), *bad = J("{\"Status\":\"FAILED\",\"Error\":{\"ErrorType\":\"Boom\",\"ErrorMessage\":\"no\"}}");
    cJSON *so = NULL;
    TT_EQ_INT(0, dwf_service_end_invocation(s, a1, "r1", vclock, ok, NULL, &err));
    TT_EQ_INT(0, dwf_service_end_invocation(s, a2, "r2", vclock, bad, NULL, &err));
    TT_EQ_INT(0, dwf_service_stop(s, a4, NULL, &so, &err));
    cJSON_Delete(so);
    vclock += 5000; /* k3's 1 s deadline and slow's 5 s execution timeout */
    TT_EQ_INT(0, dwf_service_fire_timers(s, NULL, NULL, &err));
    op = op_of(s, r.arn, "i2");
    TT_EQ_STR("FAILED", S(op, "Status"));
    TT_EQ_STR("Boom", S(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op, "ChainedInvokeDetails"), "Error"), "ErrorType"));
    cJSON_Delete(op);
    const char *want[][2] = {{"i1", "SUCCEEDED"}, {"i3", "TIMED_OUT"}, {"i4", "STOPPED"}, {"k3", "TIMED_OUT"}};
    for (int i = 0; i < 4; i++) {
        op = op_of(s, r.arn, want[i][0]);
        TT_EQ_STR(want[i][1], S(op, "Status"));
        cJSON_Delete(op);
    }
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, NULL, &(dwf_error){"X", "y"}, &err));
    cJSON *ev = NULL;
    TT_EQ_INT(0, dwf_service_begin_invocation(s, r.arn, &ev, r.req, &err));
    cJSON_Delete(ev);
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, ok, NULL, &err));

    /* Every one of the 24 event types, across the store. */
    static const char *const all[] = {
        "ExecutionStarted", "ExecutionSucceeded", "ExecutionFailed", "ExecutionStopped", "ExecutionTimedOut",
        "ContextStarted", "ContextSucceeded", "ContextFailed", "WaitStarted", "WaitSucceeded", "WaitCancelled",
        "StepStarted", "StepSucceeded", "StepFailed", "ChainedInvokeStarted", "ChainedInvokeSucceeded",
        "ChainedInvokeFailed", "ChainedInvokeTimedOut", "ChainedInvokeStopped", "CallbackStarted",
        "CallbackSucceeded", "CallbackFailed", "CallbackTimedOut", "InvocationCompleted"};
    /* WaitSucceeded comes from a wait that ends: one more execution. */
    run w;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &w));
    TT_EQ_INT(0, ckpt(s, &w, "[{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":1}}]", NULL, &err));
    vclock += 1000;
    TT_EQ_INT(0, dwf_service_fire_timers(s, NULL, NULL, &err));
    char seen[4096] = ",";
    cJSON *list = NULL;
    TT_EQ_INT(0, dwf_service_list_executions(s, NULL, &list, &err));
    TT_EQ_INT(6, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(list, "DurableExecutions")));
    for (cJSON *x = cJSON_GetObjectItemCaseSensitive(list, "DurableExecutions")->child; x; x = x->next) {
        cJSON *evs = events(s, S(x, "DurableExecutionArn"));
        for (cJSON *e = evs ? evs->child : NULL; e; e = e->next) {
            char key[64];
            snprintf(key, sizeof key, ",%s,", S(e, "EventType"));
            if (!strstr(seen, key)) strncat(seen, key + 1, sizeof seen - strlen(seen) - 1);
            char details[96];
            snprintf(details, sizeof details, "%sDetails", S(e, "EventType"));
            TT_ASSERT(cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(e, details)));
        }
        cJSON_Delete(evs);
    }
    cJSON_Delete(list);
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        char key[64];
        snprintf(key, sizeof key, ",%s,", all[i]);
        if (!strstr(seen, key)) printf("missing event type %s\n", all[i]);
        TT_ASSERT(strstr(seen, key) != NULL);
    }
    cJSON_Delete(ok);
    cJSON_Delete(bad);
    cJSON_Delete(pending);
    close_store(s);
}

/* An invocation whose process died (kill -9 of an engine) is runnable again at once. */
static void test_dead_invocation_owner(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    cJSON *req = J("{\"FunctionName\":\"fn\"}"), *out = NULL, *rn = NULL;
    dwf_error err;
    TT_EQ_INT(0, dwf_service_start(s, req, &out, &err));
    char arn[512];
    snprintf(arn, sizeof arn, "%s", S(out, "DurableExecutionArn"));
    cJSON_Delete(out);
    cJSON_Delete(req);
    req = NULL;
    /* A pid that names no process (as after kill -9): the highest free one below pid_max. */
    long pid = 0;
    FILE *pm = fopen("/proc/sys/kernel/pid_max", "r");
    if (!pm || fscanf(pm, "%ld", &pid) != 1) pid = 32768;
    if (pm) fclose(pm);
    while (--pid > 1 && !(kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {}
    TT_ASSERT(pid > 1);
    /* An invocation begun by that process (as if it had been killed mid-invocation). */
    cJSON *ev0 = NULL;
    char rid0[40];
    TT_EQ_INT(0, dwf_service_begin_invocation(s, arn, &ev0, rid0, &err));
    cJSON_Delete(ev0);
    TT_EQ_INT(0, dwf_service_runnable(s, NULL, -1, &rn, &err));
    TT_EQ_INT(0, cJSON_GetArraySize(rn));
    cJSON_Delete(rn);
    char host[256] = "localhost", sql[600];
    gethostname(host, sizeof host - 1);
    snprintf(sql, sizeof sql, "UPDATE executions SET inv_owner='%s:%ld'", host, pid);
    sqlite3 *db = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, sql, NULL, NULL, NULL));
    sqlite3_close(db);
    TT_EQ_INT(0, dwf_service_runnable(s, NULL, -1, &rn, &err));
    TT_EQ_INT(1, cJSON_GetArraySize(rn));
    cJSON_Delete(rn);
    /* An invocation this process runs is never "lost". */
    cJSON *ev = NULL;
    char rid[40];
    TT_EQ_INT(0, dwf_service_begin_invocation(s, arn, &ev, rid, &err));
    cJSON_Delete(ev);
    TT_EQ_INT(0, dwf_service_runnable(s, NULL, -1, &rn, &err));
    TT_EQ_INT(0, cJSON_GetArraySize(rn));
    cJSON_Delete(rn);
    /* The superseded invocation's late answer is recorded but changes nothing. */
    dwf_error fault = {"Timeout", "late"};
    TT_EQ_INT(0, dwf_service_end_invocation(s, arn, rid0, vclock, NULL, &fault, &err));
    cJSON *x = NULL;
    TT_EQ_INT(0, dwf_service_runnable(s, NULL, 0, &rn, &err)); /* stale_ms 0: any open one is lost */
    TT_EQ_INT(1, cJSON_GetArraySize(rn));
    cJSON_Delete(rn);
    cJSON *done = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"1\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, arn, rid, vclock, done, NULL, &err));
    TT_EQ_INT(0, dwf_service_get_execution(s, arn, 1, &x, &err));
    TT_EQ_STR("SUCCEEDED", S(x, "Status"));
    cJSON_Delete(x);
    cJSON_Delete(done);
    char types[512];
    event_types(s, arn, types, sizeof types);
    TT_EQ_STR("ExecutionStarted,InvocationCompleted,InvocationCompleted,ExecutionSucceeded", types);

    /* A live process elsewhere on this machine runs it: a second runner is refused. */
    req = J("{\"FunctionName\":\"fn\"}");
    TT_EQ_INT(0, dwf_service_start(s, req, &out, &err));
    snprintf(arn, sizeof arn, "%s", S(out, "DurableExecutionArn"));
    cJSON_Delete(out);
    cJSON_Delete(req);
    TT_EQ_INT(0, dwf_service_begin_invocation(s, arn, &ev, rid, &err));
    cJSON_Delete(ev);
    snprintf(sql, sizeof sql, "UPDATE executions SET inv_owner='%s:%ld' WHERE arn='%s'", host, (long)getppid(), arn);
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, sql, NULL, NULL, NULL));
    sqlite3_close(db);
    TT_EQ_INT(-1, dwf_service_begin_invocation(s, arn, &ev, rid, &err));
    TT_EQ_STR("ResourceConflictException", err.type);
    TT_EQ_INT(409, dwf_service_http_status(err.type));
    close_store(s);
}

/* The execution names (the ARN's part after "durable-execution/") of one page of
 * dwf_service_runnable_page, comma-joined into out. The page's size, or -1. */
static int page_names(dwf_service *s, double stale_ms, int limit, dwf_service_cursor *cur, char *out, size_t n)
{
    cJSON *pg = NULL;
    dwf_error err;
    out[0] = '\0';
    if (dwf_service_runnable_page(s, stale_ms, limit, cur, &pg, &err) != 0) return -1;
    int k = 0;
    for (const cJSON *a = pg->child; a; a = a->next, k++) {
        const char *nm = strstr(a->valuestring, "durable-execution/");
        nm = nm ? nm + strlen("durable-execution/") : a->valuestring;
        size_t used = strlen(out);
        snprintf(out + used, n - used, "%s%.*s", used ? "," : "", (int)strcspn(nm, "/"), nm);
    }
    cJSON_Delete(pg);
    return k;
}

/* dwf serve's pass reads the runnable executions a page at a time: executions started in the same
 * millisecond (one start_ms) are split across pages without one being skipped or read twice in a
 * cycle; the cursor goes back to the start after a short page; an open invocation is read only
 * when it is stale or its process on this machine died, and counts as a visited row. */
static void test_runnable_pages(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    dwf_error err;
    char arn[7][512];
    for (int i = 0; i < 7; i++) { /* vclock stands still: one start_ms for all seven */
        cJSON *req = J("{\"FunctionName\":\"fn\",\"DurableExecutionName\":\"x%d\"}", i), *out = NULL;
        TT_EQ_INT(0, dwf_service_start(s, req, &out, &err));
        snprintf(arn[i], sizeof arn[i], "%s", S(out, "DurableExecutionArn"));
        cJSON_Delete(out);
        cJSON_Delete(req);
    }
    dwf_service_cursor cur = DWF_SERVICE_CURSOR_START;
    char names[1024];
    TT_EQ_INT(3, page_names(s, -1, 3, &cur, names, sizeof names));
    TT_EQ_STR("x0,x1,x2", names);
    TT_EQ_INT(3, page_names(s, -1, 3, &cur, names, sizeof names));
    TT_EQ_STR("x3,x4,x5", names);
    TT_EQ_INT(1, page_names(s, -1, 3, &cur, names, sizeof names));
    TT_EQ_STR("x6", names);
    TT_EQ_INT(3, page_names(s, -1, 3, &cur, names, sizeof names)); /* a short page: from the start again */
    TT_EQ_STR("x0,x1,x2", names);
    /* x1's invocation is open in this process: visited, not runnable, so the page holds 2. */
    cJSON *ev = NULL;
    char rid[40];
    TT_EQ_INT(0, dwf_service_begin_invocation(s, arn[1], &ev, rid, &err));
    cJSON_Delete(ev);
    cur = (dwf_service_cursor)DWF_SERVICE_CURSOR_START;
    TT_EQ_INT(2, page_names(s, -1, 3, &cur, names, sizeof names));
    TT_EQ_STR("x0,x2", names);
    TT_EQ_INT(3, page_names(s, -1, 3, &cur, names, sizeof names));
    TT_EQ_STR("x3,x4,x5", names);
    /* Stale (stale_ms 0: every open invocation is lost): x1 again. */
    cur = (dwf_service_cursor)DWF_SERVICE_CURSOR_START;
    TT_EQ_INT(3, page_names(s, 0, 3, &cur, names, sizeof names));
    TT_EQ_STR("x0,x1,x2", names);
    /* Owned by a process of this machine that no longer exists (kill -9): runnable at once. */
    long pid = 0;
    FILE *pm = fopen("/proc/sys/kernel/pid_max", "r");
    if (!pm || fscanf(pm, "%ld", &pid) != 1) pid = 32768;
    if (pm) fclose(pm);
    while (--pid > 1 && !(kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {}
    char host[256] = "localhost", sql[1000];
    gethostname(host, sizeof host - 1);
    snprintf(sql, sizeof sql, "UPDATE executions SET inv_owner='%s:%ld' WHERE arn='%s'", host, pid, arn[1]);
    sqlite3 *db = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, sql, NULL, NULL, NULL));
    sqlite3_close(db);
    cur = (dwf_service_cursor)DWF_SERVICE_CURSOR_START;
    TT_EQ_INT(3, page_names(s, -1, 3, &cur, names, sizeof names));
    TT_EQ_STR("x0,x1,x2", names);
    /* One that ended is no longer visited. */
    cJSON *done = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"1\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, arn[1], rid, vclock, done, NULL, &err));
    cJSON_Delete(done);
    cur = (dwf_service_cursor)DWF_SERVICE_CURSOR_START;
    TT_EQ_INT(3, page_names(s, -1, 3, &cur, names, sizeof names));
    TT_EQ_STR("x0,x2,x3", names);
    close_store(s);
}

/* A callback answered while the invocation runs, after its last checkpoint: the handler's
 * PENDING is right for what it saw; it is invoked again and sees the answer. */
static void test_callback_during_invocation(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    run r;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    dwf_error err;
    cJSON *out = NULL;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"cb\",\"Type\":\"CALLBACK\",\"Action\":\"START\"}]", &out, &err));
    char id[1100];
    snprintf(id, sizeof id, "%s", S(cJSON_GetObjectItemCaseSensitive(find_op(new_ops(out), "cb"), "CallbackDetails"), "CallbackId"));
    cJSON_Delete(out);
    TT_EQ_INT(0, dwf_service_callback_succeed(s, id, "fast", 4, &err));
    cJSON *pending = J("{\"Status\":\"PENDING\"}"), *rn = NULL, *ev = NULL;
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, pending, NULL, &err));
    char st[32];
    TT_EQ_STR("RUNNING", status_of(s, r.arn, st));
    TT_EQ_INT(0, dwf_service_runnable(s, r.arn, -1, &rn, &err));
    TT_EQ_INT(1, cJSON_GetArraySize(rn));
    cJSON_Delete(rn);
    TT_EQ_INT(0, dwf_service_begin_invocation(s, r.arn, &ev, r.req, &err));
    cJSON *upd = cJSON_GetObjectItemCaseSensitive(ev, "UpdatedOperationIds");
    TT_EQ_INT(1, cJSON_GetArraySize(upd));
    TT_EQ_STR("cb", cJSON_GetArrayItem(upd, 0) ? cJSON_GetArrayItem(upd, 0)->valuestring : NULL);
    cJSON_Delete(ev);
    cJSON_Delete(pending);
    close_store(s);
}

/* ---- cost does not grow with the store ------------------------------------------------------- */
/* One execution's whole life as serve drives it: start, the invocation, three steps (START and
 * SUCCEED each), the end; and the scheduler's two questions (what is runnable, what is due
 * next) before and after. Returns SQLite's work for it (dwf_service_work deltas). */
static int one_life(dwf_service *s, int i, long long *vm, long long *scan)
{
    long long vm0, scan0, vm1, scan1;
    dwf_service_work(s, &vm0, &scan0);
    char input[64];
    snprintf(input, sizeof input, "\"{\\\"i\\\":%d}\"", i);
    run r;
    dwf_error err;
    cJSON *rn = NULL;
    double due;
    if (dwf_service_runnable(s, NULL, -1, &rn, &err) != 0 || dwf_service_next_due(s, NULL, 1, &due, &err) != 0) return -1;
    cJSON_Delete(rn);
    if (start(s, "tp", input, &r) != 0) return -1;
    for (int k = 0; k < 3; k++) {
        char u[256];
        snprintf(u, sizeof u, "[{\"Id\":\"s%d\",\"Type\":\"STEP\",\"Action\":\"START\"}]", k);
        if (ckpt(s, &r, u, NULL, &err) != 0) return -1;
        snprintf(u, sizeof u, "[{\"Id\":\"s%d\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"%d\"}]", k, k);
        if (ckpt(s, &r, u, NULL, &err) != 0) return -1;
    }
    cJSON *done = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"{\\\"a\\\":1}\"}");
    int rc = dwf_service_end_invocation(s, r.arn, r.req, vclock, done, NULL, &err);
    cJSON_Delete(done);
    if (rc != 0 || dwf_service_runnable(s, NULL, -1, &rn, &err) != 0 || dwf_service_next_due(s, NULL, 1, &due, &err) != 0)
        return -1;
    cJSON_Delete(rn);
    char st[32];
    if (strcmp(status_of(s, r.arn, st), "SUCCEEDED") != 0) return -1;
    dwf_service_work(s, &vm1, &scan1);
    *vm = vm1 - vm0;
    *scan = scan1 - scan0;
    return 0;
}

/* n finished executions (with their operations, events and retired tokens), written straight into
 * the store file by a second connection, as a store that has served for a while holds them. */
static int fill_finished(const char *db_path, int n)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(db_path, &db) != SQLITE_OK) return -1;
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (int i = 0; rc == SQLITE_OK && i < n; i++) {
        char sql[2048];
        snprintf(sql, sizeof sql,
                 "INSERT INTO executions(id, arn, name, function_name, status, input, result, root_arn, start_ms,"
                 " end_ms, seq, seen_seq, op_count, event_count, retention_days, timeout_s, wake, inv_open,"
                 " inv_attempts, no) VALUES('old%d', 'arn:old:%d', 'old-%d', 'tp', 'SUCCEEDED', '{}', '{}',"
                 " 'arn:old:%d', %f, %f, 7, 7, 4, 8, 1, 120, 0, 0, 0, (SELECT IFNULL(MAX(no), 0) + 1 FROM executions));"
                 "INSERT INTO operations(k, op_id, change_seq, type, status, json)"
                 " SELECT no * 4294967296 + 2 * k + 1, 's' || k, 2 * k + 2, 'STEP', 'SUCCEEDED', '{}'"
                 " FROM executions, (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2) WHERE id='old%d';"
                 "INSERT INTO operations(k, json, outside, event_id) SELECT no * 4294967296 + 2 * k - 2, '{}', 0, k"
                 " FROM executions,"
                 " (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3) WHERE id='old%d';"
                 "INSERT INTO tokens SELECT 'tok-old%d', no, %f FROM executions WHERE id='old%d';",
                 i, i, i, i, vclock - 1000, vclock - 500, i, i, i, vclock - 900, i);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* The scheduler's passes, a start and a checkpoint cost the same SQLite work whether the store
 * keeps ten finished executions or five thousand: nothing walks every execution (a pass that did
 * made serve slower with every execution that finished, quadratic over a load test). */
static void test_cost_independent_of_store_size(void)
{
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    if (!s) return;
    register_fn(s, "tp", 120, 1);
    long long vm_small = 0, scan_small = 0, vm_big = 0, scan_big = 0, vm, scan;
    for (int i = 0; i < 10; i++) TT_EQ_INT(0, one_life(s, i, &vm, &scan));
    TT_EQ_INT(0, one_life(s, 10, &vm_small, &scan_small));
    TT_EQ_INT(0, fill_finished(path, 5000));
    TT_EQ_INT(0, one_life(s, 11, &vm, &scan)); /* statement caches settle */
    TT_EQ_INT(0, one_life(s, 12, &vm_big, &scan_big));
    if (vm_big > vm_small * 12 / 10 || scan_big > scan_small)
        printf("work of one execution: %lld VM steps (%lld in full scans) with 11 kept, %lld (%lld) with 5011\n",
               vm_small, scan_small, vm_big, scan_big);
    TT_ASSERT(vm_big <= vm_small * 12 / 10);
    TT_ASSERT(scan_big <= scan_small);
    close_store(s);
}

/* 10,000 finished executions do not slow the next 1,000: the SQLite work of 1,000 whole lives
 * (start, invocation, 3 steps, end, the scheduler's passes) on a fresh store, and of the next
 * 1,000 once 10,000 finished ones are kept, within 20%, and no more full-scan steps. Counted in
 * VM steps, not time, so a loaded machine cannot change the verdict. The store is on /dev/shm
 * when there is one: the flushes cost nothing there and are not what is measured. */
static void test_thousand_after_ten_thousand(void)
{
    const char *shm = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/dwf_test_svc_XXXXXX", shm);
    TT_ASSERT(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/dwf.db", dir);
    dwf_service_opts o = {.path = path, .clock = clock_fn};
    dwf_service *s = NULL;
    dwf_error err;
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) return;
    register_fn(s, "tp", 120, 1);
    long long vm, scan, vm_a = 0, scan_a = 0, vm_b = 0, scan_b = 0;
    int bad = 0;
    for (int i = 0; i < 20; i++) bad |= one_life(s, 100000 + i, &vm, &scan); /* statement caches settle */
    for (int i = 0; i < 1000; i++) {
        bad |= one_life(s, i, &vm, &scan);
        vm_a += vm;
        scan_a += scan;
    }
    TT_EQ_INT(0, fill_finished(path, 10000));
    for (int i = 0; i < 1000; i++) {
        bad |= one_life(s, 1000 + i, &vm, &scan);
        vm_b += vm;
        scan_b += scan;
    }
    TT_EQ_INT(0, bad);
    printf("work of 1,000 executions: %lld VM steps (%lld in full scans) on a fresh store, %lld (%lld) with 11,020"
           " kept\n", vm_a, scan_a, vm_b, scan_b);
    TT_ASSERT(vm_b <= vm_a * 12 / 10);
    TT_ASSERT(scan_b <= scan_a);
    close_store(s);
}

/* dwf serve's page cache holds its working set, and 10,000 finished executions do not make the
 * next 1,000 re-read pages: SQLite's page-cache misses over 1,000 whole lives on a fresh store and
 * over 1,000 once 10,000 finished ones are kept (after 200 lives that reload what the second
 * connection's writes invalidated), with serve's DWF_SERVE_CACHE_KIB, differ by at most 0.1 page
 * per execution. Counted, not timed. With the embedded engine's 512 KiB cache they were 12,699
 * and 23,549 (12.7 and 23.5 page reads per execution: bench/throughput.sh's 10,000 row spent an
 * eighth of serve's CPU in pread). The store is on /dev/shm when there is one, as above. */
static long long lives_misses(dwf_service *s, int from, int n, int *bad)
{
    long long m0 = dwf_service_cache_misses(s), vm, scan;
    for (int i = 0; i < n; i++) *bad |= one_life(s, from + i, &vm, &scan);
    return dwf_service_cache_misses(s) - m0;
}

static void test_serve_cache_holds_working_set(void)
{
    const char *shm = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(dir, sizeof dir, "%s/dwf_test_svc_XXXXXX", shm);
    TT_ASSERT(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/dwf.db", dir);
    dwf_service_opts o = {.path = path, .clock = clock_fn, .cache_kib = DWF_SERVE_CACHE_KIB};
    dwf_service *s = NULL;
    dwf_error err;
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) return;
    register_fn(s, "tp", 120, 1);
    int bad = 0;
    lives_misses(s, 100000, 20, &bad);
    long long fresh = lives_misses(s, 0, 1000, &bad);
    TT_EQ_INT(0, fill_finished(path, 10000));
    lives_misses(s, 200000, 200, &bad); /* the other connection's writes emptied the cache */
    long long kept = lives_misses(s, 1000, 1000, &bad);
    TT_EQ_INT(0, bad);
    printf("page cache misses over 1,000 executions: %lld on a fresh store, %lld with 11,220 kept\n", fresh, kept);
    TT_ASSERT(kept <= fresh + 100);
    close_store(s);
}

/* Saving an execution writes only the columns that changed: an execution's whole life (start,
 * invocation, three steps, end) writes its status once (RUNNING -> SUCCEEDED) and never its
 * identity (arn, name, function, root, start), so their indexes are not rewritten at every
 * checkpoint; the row ends as it should and the file stays consistent. Triggers on the columns
 * count the UPDATEs that name them. */
static void test_save_writes_changed_columns(void)
{
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    if (!s) return;
    register_fn(s, "tp", 120, 1);
    sqlite3 *db = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, "CREATE TABLE col_writes(col TEXT);"
                                          "CREATE TRIGGER w_status AFTER UPDATE OF status ON executions"
                                          " BEGIN INSERT INTO col_writes VALUES('status'); END;"
                                          "CREATE TRIGGER w_ident AFTER UPDATE OF arn, name, function_name, root_arn,"
                                          " start_ms, input ON executions BEGIN INSERT INTO col_writes VALUES('ident'); END;"
                                          "CREATE TRIGGER w_seq AFTER UPDATE OF seq ON executions"
                                          " BEGIN INSERT INTO col_writes VALUES('seq'); END;",
                                      NULL, NULL, NULL));
    long long vm, scan;
    TT_EQ_INT(0, one_life(s, 1, &vm, &scan));
    sqlite3_stmt *q = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_prepare_v2(db, "SELECT (SELECT COUNT(*) FROM col_writes WHERE col='status'),"
                                                " (SELECT COUNT(*) FROM col_writes WHERE col='ident'),"
                                                " (SELECT COUNT(*) FROM col_writes WHERE col='seq'),"
                                                " (SELECT status || ' ' || result FROM executions),"
                                                " (SELECT integrity_check FROM pragma_integrity_check)",
                                            -1, &q, NULL));
    TT_EQ_INT(SQLITE_ROW, sqlite3_step(q));
    TT_EQ_INT(1, sqlite3_column_int(q, 0));
    TT_EQ_INT(0, sqlite3_column_int(q, 1));
    TT_ASSERT(sqlite3_column_int(q, 2) >= 6); /* the change counter moves with every step's START and SUCCEED */
    TT_EQ_STR("SUCCEEDED {\"a\":1}", (const char *)sqlite3_column_text(q, 3));
    TT_EQ_STR("ok", (const char *)sqlite3_column_text(q, 4));
    sqlite3_finalize(q);
    sqlite3_close(db);
    close_store(s);
}

/* A second handle on the store open_store made (another process's connection), or NULL. */
static dwf_service *open_second(void)
{
    dwf_service_opts o = {.path = path, .clock = clock_fn};
    dwf_service *s2 = NULL;
    dwf_error err;
    TT_EQ_INT(0, dwf_service_open(&o, &s2, &err));
    return s2;
}

/* A new store with function fn (a 120 s timeout) and one execution of it started. */
static dwf_service *open_started(const char *fn, run *r)
{
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    if (!s) return NULL;
    register_fn(s, fn, 120, 1);
    TT_EQ_INT(0, start(s, fn, "\"{}\"", r));
    return s;
}

/* The store keeps the execution row and the operation a checkpoint wrote for the next one
 * (store.c, row_keep), and must read them again once anything else wrote them: another
 * connection (another process: dwf serve, dwf stop, another dwf run) or SQL of its own. */
static void test_kept_rows_follow_other_writers(void)
{
    run r;
    dwf_service *s = open_started("tp", &r);
    if (!s) return;
    dwf_error err;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    /* A second handle on the same store (another process's connection) closes the step. */
    dwf_service *s2 = open_second();
    if (!s2) {
        close_store(s);
        return;
    }
    TT_EQ_INT(0, ckpt(s2, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"1\"}]", NULL, &err));
    /* The first handle sees its token (the execution row) and the step's state (the operation):
     * kept copies would take the token for a stale one and let the step close twice. */
    expect_reject(s, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"2\"}]",
                  "InvalidParameterValueException", "Invalid current STEP state to close.");
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    /* the other way round: the second handle sees the first one's START of b */
    TT_EQ_INT(0, ckpt(s2, &r, "[{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"3\"}]", NULL, &err));
    cJSON *op = op_of(s, r.arn, "b");
    TT_EQ_STR("SUCCEEDED", op ? S(op, "Status") : NULL);
    cJSON_Delete(op);
    dwf_service_close(s2);
    /* SQL of the first handle's own connection (no service call) is seen too. */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"c\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(dwf__store_db(s->st),
                                      "UPDATE operations SET json=replace(json, '\"STARTED\"', '\"SUCCEEDED\"')"
                                      " WHERE op_id='c'", NULL, NULL, NULL));
    expect_reject(s, &r, "[{\"Id\":\"c\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\"}]",
                  "InvalidParameterValueException", "Invalid current STEP state to close.");
    /* The same, with a write reported harmless after the SQL (events): it moves the mark past
     * itself only, not past the SQL before it. */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"c2\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(dwf__store_db(s->st),
                                      "UPDATE operations SET json=replace(json, '\"STARTED\"', '\"SUCCEEDED\"')"
                                      " WHERE op_id='c2'", NULL, NULL, NULL));
    dwf__store_write w = dwf__store_write_begin(s->st);
    dwf__store_wrote(s->st, &w, DWF__WROTE_EVENTS);
    expect_reject(s, &r, "[{\"Id\":\"c2\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\"}]",
                  "InvalidParameterValueException", "Invalid current STEP state to close.");
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(dwf__store_db(s->st), "UPDATE executions SET status='STOPPED'", NULL, NULL, NULL));
    expect_reject(s, &r, "[{\"Id\":\"d\",\"Type\":\"STEP\",\"Action\":\"START\"}]",
                  "InvalidParameterValueException", "Invalid Checkpoint Token: the execution has completed.");
    char ev[512];
    event_types(s, r.arn, ev, sizeof ev);
    printf("kept rows: %s\n", ev);
    TT_ASSERT(strstr(ev, "StepSucceeded,StepStarted,StepSucceeded") != NULL);
    close_store(s);
}

/* The timer note (store.c): a checkpoint skips the check for due timers while what the last
 * check read is unchanged and its instant has not come. A timer written since, by another
 * connection or by SQL on the handle's own, must still fire at the next checkpoint. */
static void test_timer_note_follows_writers(void)
{
    run r;
    dwf_service *s = open_started("tn", &r);
    if (!s) return;
    dwf_error err;
    /* two checkpoints: the first one's check notes the execution timeout's instant */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"1\"}]", NULL, &err));
    /* Another connection starts a 1 s WAIT; 2 s later the first handle's checkpoint fires it. */
    dwf_service *s2 = open_second();
    if (!s2) {
        close_store(s);
        return;
    }
    TT_EQ_INT(0, ckpt(s2, &r, "[{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":1}}]", NULL, &err));
    dwf_service_close(s2);
    vclock += 2000;
    cJSON *out = NULL;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"START\"}]", &out, &err));
    TT_EQ_STR("SUCCEEDED", S(find_op(new_ops(out), "w"), "Status"));
    cJSON_Delete(out);
    /* The handle's own WAIT of 60 s, noted by the checkpoint after it; SQL on the handle's own
     * connection makes it due now, and the next checkpoint fires it. */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"2\"},"
                             "{\"Id\":\"w2\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":60}}]",
                      NULL, &err));
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"c\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"c\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"3\"}]", NULL, &err));
    cJSON *w2 = op_of(s, r.arn, "w2");
    TT_EQ_STR("STARTED", w2 ? S(w2, "Status") : NULL);
    cJSON_Delete(w2);
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(dwf__store_db(s->st), "UPDATE timers SET due_ms=due_ms-60000 WHERE op_id='w2'",
                                      NULL, NULL, NULL));
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"d\",\"Type\":\"STEP\",\"Action\":\"START\"}]", &out, &err));
    TT_EQ_STR("SUCCEEDED", S(find_op(new_ops(out), "w2"), "Status"));
    cJSON_Delete(out);
    /* And time: a 5 s WAIT, noted, fires once 5 s have passed (not before). */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"d\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"4\"},"
                             "{\"Id\":\"w3\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":5}}]",
                      NULL, &err));
    TT_EQ_INT(0, ckpt(s, &r, "[]", NULL, &err));
    vclock += 4999;
    TT_EQ_INT(0, ckpt(s, &r, "[]", &out, &err));
    TT_EQ_INT(0, cJSON_GetArraySize(new_ops(out)));
    cJSON_Delete(out);
    vclock += 1;
    TT_EQ_INT(0, ckpt(s, &r, "[]", &out, &err));
    TT_EQ_STR("SUCCEEDED", S(find_op(new_ops(out), "w3"), "Status"));
    cJSON_Delete(out);
    char ev[512];
    event_types(s, r.arn, ev, sizeof ev);
    printf("timer note: %s\n", ev);
    TT_ASSERT(strstr(ev, "StepSucceeded,WaitStarted,WaitSucceeded,StepStarted") != NULL);
    close_store(s);
}

/* A checkpoint whose COMMIT fails leaves the store as it was, so the kept rows it wrote go too:
 * the same checkpoint sent again (same token) is applied, once. */
static int refuse_commit(void *arg)
{
    (void)arg;
    return 1;
}

static void test_kept_rows_dropped_by_rollback(void)
{
    run r;
    dwf_service *s = open_started("tp", &r);
    if (!s) return;
    dwf_error err;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    const char *next = "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"1\"},"
                       "{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"START\"}]";
    sqlite3_commit_hook(dwf__store_db(s->st), refuse_commit, NULL);
    TT_EQ_INT(-1, ckpt(s, &r, next, NULL, &err));
    sqlite3_commit_hook(dwf__store_db(s->st), NULL, NULL);
    TT_EQ_STR("ServiceException", err.type);
    cJSON *op = op_of(s, r.arn, "a");
    TT_EQ_STR("STARTED", op ? S(op, "Status") : NULL);
    cJSON_Delete(op);
    TT_EQ_INT(0, ckpt(s, &r, next, NULL, &err));
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"2\"}]", NULL, &err));
    char ev[512];
    event_types(s, r.arn, ev, sizeof ev);
    printf("after a failed commit: %s\n", ev);
    TT_ASSERT(strstr(ev, "StepStarted,StepSucceeded,StepStarted,StepSucceeded") != NULL);
    close_store(s);
}

/* The operation row kept for the next call is kept parsed too (a copy of what its checkpoint
 * wrote, store.c): it must be the row's text parsed, and handed over once. */
static void test_kept_operation_parsed(void)
{
    run r;
    dwf_service *s = open_started("tp", &r);
    if (!s) return;
    dwf_error err;
    vclock += 0.125; /* (a timestamp with a fraction) */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"START\",\"Name\":\"n\"},"
                             "{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"START\",\"Name\":\"m\"}]", NULL, &err));
    long long seq = 0;
    cJSON *parsed = NULL;
    const char *text = dwf__store_op_cached(s->st, 1, "b", &seq, &parsed);
    TT_ASSERT(text != NULL && parsed != NULL);
    cJSON *back = text ? cJSON_Parse(text) : NULL;
    TT_ASSERT(back != NULL && cJSON_Compare(parsed, back, 1));
    TT_EQ_STR("m", S(parsed, "Name"));
    cJSON_Delete(back);
    cJSON_Delete(parsed);
    parsed = NULL;
    TT_ASSERT(dwf__store_op_cached(s->st, 1, "b", &seq, &parsed) == text && parsed == NULL); /* once */
    TT_ASSERT(dwf__store_op_cached(s->st, 1, "a", &seq, &parsed) == NULL && parsed == NULL); /* not the kept row */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"2\"}]", NULL, &err));
    cJSON *op = op_of(s, r.arn, "b");
    TT_EQ_STR("SUCCEEDED", op ? S(op, "Status") : NULL);
    cJSON_Delete(op);
    close_store(s);
}

/* The store keeps the Ids of the execution's operations with the kept rows (store.c, rk_ids) and
 * answers a new operation's lookup from them: an operation written since by another connection
 * or by SQL on the handle's own must still be found. */
static void test_kept_ids_follow_other_writers(void)
{
    run r;
    dwf_service *s = open_started("ti", &r);
    if (!s) return;
    dwf_error err;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"1\"},"
                             "{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    /* known, not the kept row: found */
    expect_reject(s, &r, "[{\"Id\":\"a\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":1}}]",
                  "InvalidParameterValueException", "Operation a is a STEP, not a WAIT.");
    dwf_service *s2 = open_second();
    if (!s2) {
        close_store(s);
        return;
    }
    TT_EQ_INT(0, ckpt(s2, &r, "[{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":60}}]",
                      NULL, &err));
    expect_reject(s, &r, "[{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":60}}]",
                  "InvalidParameterValueException", "Cannot start a WAIT that already exists.");
    /* the same after a checkpoint of the first handle's own in between (its writes keep rows
     * again, under a new mark: the Ids dropped with the old one stay dropped) */
    TT_EQ_INT(0, ckpt(s2, &r, "[{\"Id\":\"w4\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":60}}]",
                      NULL, &err));
    dwf_service_close(s2);
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"x\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    expect_reject(s, &r, "[{\"Id\":\"w4\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":60}}]",
                  "InvalidParameterValueException", "Cannot start a WAIT that already exists.");
    /* SQL of the handle's own connection: operation c becomes w2 */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"c\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":60}}]",
                      NULL, &err));
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"d\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(dwf__store_db(s->st),
                                      "UPDATE operations SET op_id='w2', json=replace(json, '\"Id\":\"c\"', '\"Id\":\"w2\"')"
                                      " WHERE op_id='c'", NULL, NULL, NULL));
    expect_reject(s, &r, "[{\"Id\":\"w2\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":60}}]",
                  "InvalidParameterValueException", "Cannot start a WAIT that already exists.");
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(dwf__store_db(s->st),
                                      "UPDATE operations SET op_id='w3', json=replace(json, '\"Id\":\"d\"', '\"Id\":\"w3\"')"
                                      " WHERE op_id='d'", NULL, NULL, NULL));
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"y\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    expect_reject(s, &r, "[{\"Id\":\"w3\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":60}}]",
                  "InvalidParameterValueException", "Operation w3 is a STEP, not a WAIT.");
    /* and a new Id is still new */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"e\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    close_store(s);
}

/* Beginning an invocation commits its token and invocation row without a flush of its own (one
 * fdatasync less in every invocation's path, serve's latency): the flush of the handler's first
 * checkpoint covers it. What the event carries was durable before it was handed out. */
static void test_begin_invocation_unflushed(void)
{
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    if (!s) return;
    register_fn(s, "tp", 120, 1);
    cJSON *req = J("{\"FunctionName\":\"tp\",\"Input\":\"{}\"}"), *out = NULL;
    dwf_error err;
    TT_EQ_INT(0, dwf_service_start(s, req, &out, &err));
    cJSON_Delete(req);
    run r;
    snprintf(r.arn, sizeof r.arn, "%s", S(out, "DurableExecutionArn"));
    cJSON_Delete(out);
    dwf_service_sync_stats_t a, b, c;
    dwf_service_sync_stats(s, &a);
    TT_EQ_INT(a.commits, a.flushed_commits); /* the start was flushed before it answered */
    cJSON *ev = NULL;
    TT_EQ_INT(0, dwf_service_begin_invocation(s, r.arn, &ev, r.req, &err));
    snprintf(r.token, sizeof r.token, "%s", S(ev, "CheckpointToken") ? S(ev, "CheckpointToken") : "");
    cJSON_Delete(ev);
    dwf_service_sync_stats(s, &b);
    TT_EQ_INT(a.commits + 1, b.commits);
    TT_EQ_INT(a.flushes, b.flushes); /* no flush for the invocation's own commit */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"s1\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    dwf_service_sync_stats(s, &c);
    TT_EQ_INT(b.flushes + 1, c.flushes); /* the checkpoint's flush ... */
    TT_EQ_INT(c.commits, c.flushed_commits); /* ... covers the invocation's commit too */
    close_store(s);
}

/* dwf serve's end of an invocation (dwf_service_end_invocation_unflushed) returns without a
 * flush: its commit is left for the next one, and a read of the outcome waits for that flush
 * before it answers (nobody sees the end before it is on disk). */
static void test_end_invocation_unflushed(void)
{
    run r;
    dwf_service *s = open_started("tp", &r);
    if (!s) return;
    dwf_error err;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"s1\",\"Type\":\"STEP\",\"Action\":\"START\"}]", NULL, &err));
    dwf_service_sync_stats_t a, b, c;
    dwf_service_sync_stats(s, &a);
    TT_EQ_INT(a.commits, a.flushed_commits);
    cJSON *done = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"7\"}");
    TT_EQ_INT(0, dwf_service_end_invocation_unflushed(s, r.arn, r.req, vclock, done, NULL, &err));
    cJSON_Delete(done);
    dwf_service_sync_stats(s, &b);
    TT_EQ_INT(a.commits + 1, b.commits);
    TT_EQ_INT(a.flushes, b.flushes); /* it did not wait for a flush ... */
    TT_EQ_INT(a.flushed_commits, b.flushed_commits);
    cJSON *x = NULL;
    TT_EQ_INT(0, dwf_service_get_execution(s, r.arn, 1, &x, &err));
    TT_EQ_STR("SUCCEEDED", S(x, "Status"));
    cJSON_Delete(x);
    dwf_service_sync_stats(s, &c);
    TT_EQ_INT(b.flushes + 1, c.flushes); /* ... and the read of its outcome flushed it first */
    TT_EQ_INT(c.commits, c.flushed_commits);
    /* With no reader, dwf_service_flush makes such an end durable, once. */
    run r2;
    TT_EQ_INT(0, start(s, "tp", "\"{}\"", &r2));
    done = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"8\"}");
    TT_EQ_INT(0, dwf_service_end_invocation_unflushed(s, r2.arn, r2.req, vclock, done, NULL, &err));
    cJSON_Delete(done);
    dwf_service_sync_stats(s, &a);
    TT_ASSERT(a.flushed_commits < a.commits);
    TT_EQ_INT(0, dwf_service_flush(s, &err));
    dwf_service_sync_stats(s, &b);
    TT_EQ_INT(a.flushes + 1, b.flushes);
    TT_EQ_INT(b.commits, b.flushed_commits);
    TT_EQ_INT(0, dwf_service_flush(s, &err));
    dwf_service_sync_stats(s, &c);
    TT_EQ_INT(b.flushes, c.flushes); /* nothing left to flush */
    close_store(s);
}

/* Opening a store flushes only when there is something to make durable: what the open wrote (a
 * new store) or a log left beside it (another process's commits, maybe not flushed yet). A
 * store closed cleanly (its log checkpointed and removed) opens without an fdatasync. */
static void test_open_flushes_only_what_needs_it(void)
{
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    if (!s) return;
    dwf_service_sync_stats_t st;
    dwf_service_sync_stats(s, &st);
    TT_EQ_INT(1, st.commits); /* a new store: its schema and id, flushed before the open returns */
    TT_EQ_INT(1, st.flushes);
    register_fn(s, "tp", 120, 1);
    run r;
    TT_EQ_INT(0, start(s, "tp", "\"{}\"", &r));
    dwf_service_close(s);
    dwf_service_opts o = {.path = path, .clock = clock_fn};
    dwf_error err;
    s = NULL;
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) return;
    dwf_service_sync_stats(s, &st);
    TT_EQ_INT(0, st.commits); /* closed cleanly: nothing to flush */
    TT_EQ_INT(0, st.flushes);
    char buf[32];
    TT_EQ_STR("RUNNING", status_of(s, r.arn, buf)); /* what the first open wrote is there */
    /* While this one is open and has committed, its log holds commits: a second open flushes it.
     * (Before its first commit the log kept from the clean close is empty: nothing to flush.) */
    dwf_service *s2 = NULL;
    TT_EQ_INT(0, dwf_service_open(&o, &s2, &err));
    if (s2) {
        dwf_service_sync_stats(s2, &st);
        TT_EQ_INT(0, st.flushes);
        dwf_service_close(s2);
    }
    run r2;
    TT_EQ_INT(0, start(s, "tp", "\"{}\"", &r2));
    s2 = NULL;
    TT_EQ_INT(0, dwf_service_open(&o, &s2, &err));
    if (s2) {
        dwf_service_sync_stats(s2, &st);
        TT_EQ_INT(1, st.flushes);
        dwf_service_close(s2);
    }
    close_store(s);
}

/* The size of `p`, -1 when there is none. */
static long long file_size(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0 ? (long long)sb.st_size : -1;
}

/* The first 32 bytes of `p` (the log's header) are all zeros. */
static int header_zeroed(const char *p)
{
    unsigned char h[32];
    FILE *f = fopen(p, "rb");
    size_t n = f ? fread(h, 1, sizeof h, f) : 0;
    if (f) fclose(f);
    int zero = n == sizeof h;
    for (size_t i = 0; zero && i < sizeof h; i++) zero = h[i] == 0;
    return zero;
}

/* cp FROM TO, byte for byte (what a SIGKILL leaves is the files as the kernel holds them). */
static int copy_file(const char *from, const char *to)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, to);
    return system(cmd);
}

/* The log is kept at its working size for the store's life (store.c, log_open): the first commit
 * of a process writes it to 1,000 frames (LOG_FRAMES, where the automatic checkpoint runs) and
 * 32 more at once, commits rewrite it
 * without making it longer, and a clean close leaves it there with its header zeroed (an empty
 * log: the next open neither replays nor flushes it). A log with commits in it (a process
 * killed with the store open: its files copied as they are) is still replayed, and flushed. */
static void test_log_kept_at_working_size(void)
{
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    if (!s) return;
    char wal[400], copy[400], copy_wal[420];
    snprintf(wal, sizeof wal, "%s-wal", path);
    TT_ASSERT(file_size(wal) < 32 + 1000LL * (24 + 4096)); /* the open's own commit: not sized yet */
    register_fn(s, "kl", 120, 1); /* the first commit of the process sizes it */
    long long size = file_size(wal);
    TT_EQ_INT(32 + 1032LL * (24 + 4096), size);
    run r[20];
    for (int i = 0; i < 20; i++) TT_EQ_INT(0, start(s, "kl", "\"{}\"", &r[i]));
    TT_EQ_INT(size, file_size(wal)); /* rewritten, not longer */
    TT_ASSERT(!header_zeroed(wal));
    /* The files as a SIGKILL now would leave them. */
    snprintf(copy, sizeof copy, "%s/killed.db", dir);
    snprintf(copy_wal, sizeof copy_wal, "%s-wal", copy);
    TT_EQ_INT(0, copy_file(path, copy));
    TT_EQ_INT(0, copy_file(wal, copy_wal));
    dwf_service_close(s);
    TT_EQ_INT(size, file_size(wal)); /* kept by the clean close ... */
    TT_ASSERT(header_zeroed(wal));  /* ... emptied */
    dwf_service_opts o = {.path = path, .clock = clock_fn};
    dwf_error err;
    dwf_service_sync_stats_t st;
    s = NULL;
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) return;
    dwf_service_sync_stats(s, &st);
    TT_EQ_INT(0, st.flushes); /* an empty log: nothing to flush */
    char buf[32];
    TT_EQ_STR("RUNNING", status_of(s, r[19].arn, buf));
    dwf_service_close(s);
    /* The killed process's files: its log is replayed (the executions are there) and flushed. */
    dwf_service_opts ok = {.path = copy, .clock = clock_fn};
    dwf_service *k = NULL;
    TT_EQ_INT(0, dwf_service_open(&ok, &k, &err));
    if (k) {
        dwf_service_sync_stats(k, &st);
        TT_EQ_INT(1, st.flushes);
        for (int i = 0; i < 20; i++) TT_EQ_STR("RUNNING", status_of(k, r[i].arn, buf));
        dwf_service_close(k);
    }
    TT_ASSERT(header_zeroed(copy_wal)); /* and emptied in its turn by its clean close */
    s = NULL;
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (s) close_store(s);
}

/* The frames in the log (mxFrame of the wal-index header in PATH-shm, SQLite's documented
 * format: a native-order u32 at offset 16), or -1. */
static long long log_frames(const char *db)
{
    char shm[400];
    snprintf(shm, sizeof shm, "%s-shm", db);
    FILE *f = fopen(shm, "rb");
    unsigned int mx = 0;
    int ok = f && fseek(f, 16, SEEK_SET) == 0 && fread(&mx, sizeof mx, 1, f) == 1;
    if (f) fclose(f);
    return ok ? (long long)mx : -1;
}

/* The log is checkpointed into the store when it reaches 1,000 frames (store.c, LOG_FRAMES):
 * past 500 frames the store file is as it was (nothing copied into it yet), and once the log
 * has started again from its beginning the store file has the pages. */
/* SQLite's allocator (service/store_mem.c over util/memcache.c): every size gets a block of at
 * least that size whose every usable byte may be written (AddressSanitizer checks the bounds:
 * the blocks are malloc's), xSize is malloc_usable_size and xRoundup the size a request gets, a
 * freed block of a class comes back to the next request of that class on the same thread,
 * realloc keeps the contents, and a thread's kept blocks are given back when it ends (valgrind's
 * leak check). Once a store is open, SQLite allocates through it unless a sanitizer or valgrind
 * runs the process. */
static void *mem_thread(void *arg)
{
    const sqlite3_mem_methods *m = arg;
    void *kept[40];
    for (int i = 0; i < 40; i++) kept[i] = m->xMalloc(200);
    for (int i = 0; i < 40; i++) m->xFree(kept[i]); /* a few kept by this thread, the rest freed */
    return m->xMalloc(700);                          /* freed by the main thread */
}

static void *mem_cache_checks(void *arg);

/* (on a thread of its own, so that the blocks this thread keeps are given back when it ends) */
static void test_sqlite_mem_cache(void)
{
    pthread_t t;
    TT_ASSERT(pthread_create(&t, NULL, mem_cache_checks, NULL) == 0);
    TT_ASSERT(pthread_join(t, NULL) == 0);
}

static void *mem_cache_checks(void *arg)
{
    (void)arg;
    const sqlite3_mem_methods *m = dwf__store_mem_methods();
    TT_ASSERT(m != NULL);
    if (!m) return NULL;
    static const int sizes[] = {1, 31, 32, 33, 64, 65, 100, 700, 1024, 2047, 2048, 2049, 5000, 100000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int n = sizes[i];
        unsigned char *p = m->xMalloc(n);
        TT_ASSERT(p != NULL);
        if (!p) continue;
        TT_ASSERT(m->xSize(p) >= n);
        TT_EQ_INT(malloc_usable_size(p), m->xSize(p));
        /* a fresh block is glibc's: at least the class's size, more when glibc hands out a whole
         * free chunk whose remainder would be too small to split off (a 104-byte request can get
         * 120 usable bytes), so only a lower bound holds */
        if (n <= 2040) TT_ASSERT(m->xSize(p) >= m->xRoundup(n));
        TT_ASSERT(m->xRoundup(n) >= n);
        TT_ASSERT((uintptr_t)p % 16 == 0);
        memset(p, 0xab, (size_t)m->xSize(p));
        m->xFree(p);
    }
    TT_EQ_INT(104, m->xRoundup(100));
    TT_EQ_INT(2040, m->xRoundup(2040));
    TT_EQ_INT(2056, m->xRoundup(2041));
    /* the same class on the same thread: the block just freed */
    void *a = m->xMalloc(100);
    m->xFree(a);
    void *b = m->xMalloc(89); /* 89..104: the class of 104 */
    TT_ASSERT(a == b);
    void *c = m->xMalloc(104); /* none kept now: another block */
    TT_ASSERT(c != b);
    m->xFree(b);
    m->xFree(c);
    /* realloc: in place while it fits, else moved with its contents (small, small to big, big) */
    unsigned char *p = m->xMalloc(50);
    TT_ASSERT(p != NULL);
    if (p) {
        for (int i = 0; i < 50; i++) p[i] = (unsigned char)i;
        unsigned char *q = m->xRealloc(p, 56); /* 50 got a block of 56 */
        TT_ASSERT(q == p);
        q = m->xRealloc(q, 3000);
        TT_ASSERT(q != NULL);
        int same = q != NULL;
        for (int i = 0; same && i < 50; i++) same = q[i] == (unsigned char)i;
        TT_ASSERT(same);
        if (q) {
            memset(q + 50, 0xcd, (size_t)m->xSize(q) - 50);
            unsigned char *r = m->xRealloc(q, 100000);
            TT_ASSERT(r != NULL);
            same = r != NULL;
            for (int i = 0; same && i < 50; i++) same = r[i] == (unsigned char)i;
            for (int i = 50; same && i < 3000; i++) same = r[i] == 0xcd;
            TT_ASSERT(same);
            TT_ASSERT(m->xSize(r) >= 100000);
            m->xFree(r ? r : q);
        }
    }
    m->xFree(NULL);
    /* another thread's blocks: kept while it runs, given back when it ends; one it allocated is
     * freed here */
    pthread_t t;
    void *from = NULL;
    TT_ASSERT(pthread_create(&t, NULL, mem_thread, (void *)m) == 0);
    TT_ASSERT(pthread_join(t, &from) == 0);
    TT_ASSERT(from != NULL);
    m->xFree(from);
    /* SQLite's own blocks, once a store is open */
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    if (s) {
        void *v = sqlite3_malloc(100);
        TT_ASSERT(v != NULL);
        if (dwf__store_mem_installed()) TT_EQ_INT(104, (long long)sqlite3_msize(v));
        sqlite3_free(v);
        close_store(s);
    }
    return NULL;
}

static void test_log_checkpoints_at_working_size(void)
{
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    if (!s) return;
    register_fn(s, "cp", 120, 1);
    long long db_size = file_size(path), frames = log_frames(path), most = frames;
    TT_ASSERT(frames > 0 && frames < 100);
    run r;
    int n = 0;
    for (; n < 1000 && frames <= 500; n++) {
        TT_EQ_INT(0, start(s, "cp", "\"{}\"", &r));
        frames = log_frames(path);
    }
    TT_ASSERT(frames > 500 && frames < 1000);
    TT_EQ_INT(db_size, file_size(path));
    for (; n < 2000 && frames >= most; n++) {
        most = frames;
        TT_EQ_INT(0, start(s, "cp", "\"{}\"", &r));
        frames = log_frames(path);
    }
    /* The most it held: at most one start() short of 1,000 (the commit that crossed it
     * checkpointed, the next one started the log again), or just past it (that commit was the
     * last of its start()). */
    if (!(most > 950 && most < 1050)) printf("log frames before it started again: %lld, after: %lld\n", most, frames);
    TT_ASSERT(most > 950 && most < 1050);
    TT_ASSERT(file_size(path) > db_size);
    close_store(s);
}

/* The store's log goes through its own VFS (service/store_vfs.c): each transaction the group
 * commit makes is one write of its frames, and a failed write of them fails the calls of that
 * batch with the named error (StoreFullException for a full disk, else ServiceException saying
 * nothing of the call was made); the files as they are then (a SIGKILL) recover the earlier
 * commits without the failed one, later calls go on, and the store reopens with all of them. */
static void log_write_fails(int code, const char *type)
{
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    if (!s) return;
    sqlite3 *db = dwf__store_db(s->st);
    register_fn(s, "lw", 120, 1);
    run r[4];
    for (int i = 0; i < 3; i++) TT_EQ_INT(0, start(s, "lw", "\"{}\"", &r[i]));
    dwf__store_vfs_stats a, b;
    dwf_service_sync_stats_t sa, sb;
    TT_EQ_INT(0, dwf__store_vfs_stats_of(db, &a));
    dwf_service_sync_stats(s, &sa);
    TT_EQ_INT(0, start(s, "lw", "\"{}\"", &r[3]));
    TT_EQ_INT(0, dwf__store_vfs_stats_of(db, &b));
    dwf_service_sync_stats(s, &sb);
    TT_ASSERT(sb.transactions > sa.transactions);
    TT_EQ_INT(sb.transactions - sa.transactions, b.writes - a.writes); /* one write per transaction */
    TT_ASSERT(b.frames - a.frames > 2 * (b.writes - a.writes));       /* of several frames each */
    TT_EQ_INT(0, dwf__store_vfs_fail_next(db, code));
    cJSON *req = J("{\"FunctionName\":\"lw\",\"DurableExecutionName\":\"failed\",\"Input\":\"{}\"}"), *out = NULL;
    dwf_error err = {0};
    TT_EQ_INT(-1, dwf_service_start(s, req, &out, &err));
    cJSON_Delete(out);
    cJSON_Delete(req);
    TT_EQ_STR(type, err.type);
    TT_ASSERT(strstr(err.message, "was not committed") || strstr(err.message, "nothing before it is lost"));
    char copy[400], copy_wal[420], wal[420];
    snprintf(copy, sizeof copy, "%s/killed.db", dir);
    snprintf(copy_wal, sizeof copy_wal, "%s-wal", copy);
    snprintf(wal, sizeof wal, "%s-wal", path);
    TT_EQ_INT(0, copy_file(path, copy));
    TT_EQ_INT(0, copy_file(wal, copy_wal));
    run later;
    TT_EQ_INT(0, start(s, "lw", "\"{}\"", &later)); /* the next batch goes on */
    req = J("{\"FunctionName\":\"lw\",\"DurableExecutionName\":\"failed\",\"Input\":\"{}\"}");
    TT_EQ_INT(0, dwf_service_start(s, req, &out, &err)); /* the name was never taken */
    cJSON_Delete(out);
    cJSON_Delete(req);
    char buf[32];
    TT_EQ_STR("RUNNING", status_of(s, later.arn, buf));
    dwf_service_close(s);
    sqlite3 *k = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(copy, &k));
    TT_EQ_INT(4, sql_int(k, "SELECT COUNT(*) FROM executions"));
    TT_EQ_INT(0, sql_int(k, "SELECT COUNT(*) FROM executions WHERE name='failed'"));
    sqlite3_close(k);
    dwf_service_opts o = {.path = path, .clock = clock_fn};
    s = NULL;
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) return;
    for (int i = 0; i < 4; i++) TT_EQ_STR("RUNNING", status_of(s, r[i].arn, buf));
    TT_EQ_STR("RUNNING", status_of(s, later.arn, buf));
    TT_EQ_INT(1, sql_int(dwf__store_db(s->st), "SELECT COUNT(*) FROM executions WHERE name='failed'"));
    TT_EQ_INT(6, sql_int(dwf__store_db(s->st), "SELECT COUNT(*) FROM executions"));
    close_store(s);
}
static void test_log_write_fails_full(void) { log_write_fails(SQLITE_FULL, "StoreFullException"); }
static void test_log_write_fails_ioerr(void) { log_write_fails(SQLITE_IOERR_WRITE, "ServiceException"); }

/* Registering a function exactly as it is recorded writes nothing (no commit, no flush: every
 * `dwf run` registers its workflow first); a change of handler, source, config or workflow hash
 * is written and flushed, and reads back. */
static void test_put_function_unchanged_writes_nothing(void)
{
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    if (!s) return;
    dwf_service_sync_stats_t a, b, c;
    dwf_error err;
    const char *fmt = "{\"FunctionName\":\"tp\",\"Handler\":\"/x/%s.so\",\"Source\":\"x.dwf\","
                      "\"WorkflowHash\":\"%s\",\"DurableConfig\":{\"RetentionPeriodInDays\":1}}";
    cJSON *f1 = J(fmt, "h1", "aa"), *f2 = J(fmt, "h2", "aa"), *f3 = J(fmt, "h2", "bb");
    TT_EQ_INT(0, dwf_service_put_function(s, f1, &err));
    dwf_service_sync_stats(s, &a);
    TT_EQ_INT(0, dwf_service_put_function(s, f1, &err));
    dwf_service_sync_stats(s, &b);
    TT_EQ_INT(a.commits, b.commits);
    TT_EQ_INT(a.flushes, b.flushes);
    TT_EQ_INT(0, dwf_service_put_function(s, f2, &err)); /* another handler */
    TT_EQ_INT(0, dwf_service_put_function(s, f3, &err)); /* another workflow version */
    dwf_service_sync_stats(s, &c);
    TT_EQ_INT(b.commits + 2, c.commits);
    TT_EQ_INT(c.commits, c.flushed_commits);
    cJSON *got = NULL;
    TT_EQ_INT(0, dwf_service_get_function(s, "tp", &got, &err));
    TT_EQ_STR("/x/h2.so", got ? S(got, "Handler") : "");
    cJSON_Delete(got);
    TT_EQ_INT(0, dwf_service_put_function(s, f3, &err));
    dwf_service_sync_stats(s, &b);
    TT_EQ_INT(c.commits, b.commits);
    cJSON_Delete(f1);
    cJSON_Delete(f2);
    cJSON_Delete(f3);
    close_store(s);
}

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); }

/* The ids the service hands out (execution ids, tokens, request and callback ids) are random
 * version-4 UUIDs: 8-4-4-4-12 lowercase hex digits, version 4, variant 10xx, never repeated. */
static void test_uuid_v4(void)
{
    enum { N = 2000 };
    static char ids[N][40];
    int bad = 0, dup = 0;
    for (int i = 0; i < N; i++) {
        /* the service's own ids and the public form the emulator's request ids use, alternately */
        if (i & 1) dwf_service_uuid(ids[i]);
        else dwf__svc_uuid(ids[i]);
        const char *u = ids[i];
        for (int k = 0; k < 36; k++) {
            int dash = k == 8 || k == 13 || k == 18 || k == 23;
            if (dash ? u[k] != '-' : !((u[k] >= '0' && u[k] <= '9') || (u[k] >= 'a' && u[k] <= 'f'))) bad++;
        }
        if (u[36] != '\0' || u[14] != '4' || !strchr("89ab", u[19])) bad++;
    }
    qsort(ids, N, sizeof ids[0], cmp_id);
    for (int i = 1; i < N; i++) dup += strcmp(ids[i - 1], ids[i]) == 0;
    TT_EQ_INT(0, bad);
    TT_EQ_INT(0, dup);
}

/* Who runs an invocation, "host:pid": the pid is read once per process (invocations.c), and a
 * forked child, another runner, names itself, not its parent; the parent still counts as alive
 * for the child, and the child's id names another process for the parent until it is reaped. */
static void test_owner_self_after_fork(void)
{
    char me[300], want[32];
    TT_EQ_INT(0, dwf__svc_owner_self(me, sizeof me));
    snprintf(want, sizeof want, ":%ld", (long)getpid());
    TT_ASSERT(strlen(me) > strlen(want) && strcmp(me + strlen(me) - strlen(want), want) == 0);
    TT_EQ_INT(0, dwf__svc_owner_dead(me)); /* itself: not another process */
    int fd[2];
    TT_ASSERT(pipe(fd) == 0);
    /* (the child's _exit does not flush stdio, but under valgrind the libc clean-up it runs at
     * exit does: an unflushed PASS line would be printed, and counted, twice) */
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        char c[300];
        int ok = dwf__svc_owner_self(c, sizeof c) == 0;
        char line[700];
        int n = snprintf(line, sizeof line, "%ld %s %d", (long)getpid(), ok ? c : "?", dwf__svc_owner_dead(me));
        _exit(write(fd[1], line, (size_t)n) == n ? 0 : 1);
    }
    close(fd[1]);
    char got[700] = "";
    ssize_t n = read(fd[0], got, sizeof got - 1);
    if (n > 0) got[n] = '\0';
    close(fd[0]);
    char host_part[300];
    snprintf(host_part, sizeof host_part, "%.*s", (int)(strrchr(me, ':') - me), me);
    char theirs[340];
    snprintf(theirs, sizeof theirs, "%s:%ld", host_part, (long)child);
    TT_EQ_INT(0, dwf__svc_owner_dead(theirs)); /* running or not yet reaped: it still exists */
    int st = 0;
    waitpid(child, &st, 0);
    char expect[700];
    snprintf(expect, sizeof expect, "%ld %s:%ld 0", (long)child, host_part, (long)child);
    TT_EQ_STR(expect, got); /* the child's own pid, and its parent alive */
    TT_EQ_INT(1, dwf__svc_owner_dead(theirs)); /* reaped: gone */
}

/* ---- group commit ------------------------------------------------------------------------------ */
/* Eight executions checkpoint at once on one service, as serve's invocations and a map's threads
 * do. The first flush is held (before_flush) until all eight have committed: one fdatasync must
 * then cover the eight commits, and every call returns only once a flush covered its commit. */
#define GC_THREADS 8
#define GC_STEPS 25
typedef struct gc_arg {
    dwf_service *s;
    run r;
    int rc;
} gc_arg;
static dwf_service *gc_service;
static unsigned long long gc_base; /* commits before the threads start */
static int gc_held = 1; /* 0: the next flush is held (armed once the threads are ready) */

static void gc_hold_first_flush(void *arg)
{
    (void)arg;
    if (__atomic_exchange_n(&gc_held, 1, __ATOMIC_SEQ_CST)) return;
    /* Wait until the others have committed their first checkpoint (bounded: a broken group
     * commit fails the assertions below instead of hanging the suite). */
    for (int i = 0; i < 60000; i++) {
        dwf_service_sync_stats_t st;
        dwf_service_sync_stats(gc_service, &st);
        if (st.commits >= gc_base + GC_THREADS) return;
        usleep(1000);
    }
}

static void *gc_worker(void *p)
{
    gc_arg *a = p;
    dwf_error err;
    for (int k = 0; k < GC_STEPS && a->rc == 0; k++) {
        char u[256];
        snprintf(u, sizeof u,
                 "[{\"Id\":\"s%d\",\"Type\":\"STEP\",\"Action\":\"START\"},"
                 "{\"Id\":\"s%d\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"%d\"}]",
                 k, k, k);
        a->rc = ckpt(a->s, &a->r, u, NULL, &err);
        if (a->rc != 0) printf("checkpoint: %s %s\n", err.type, err.message);
        /* Acknowledged means flushed: no commit of this call is still waiting for the disk. */
        dwf_service_sync_stats_t st;
        dwf_service_sync_stats(a->s, &st);
        if (st.flushed_commits < (unsigned long long)(k + 1)) a->rc = -2;
    }
    return NULL;
}

static void test_group_commit(void)
{
    snprintf(dir, sizeof dir, "/tmp/dwf_test_svc_XXXXXX");
    TT_ASSERT(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/dwf.db", dir);
    dwf_service_opts o = {.path = path, .clock = clock_fn, .before_flush = gc_hold_first_flush};
    dwf_service *s = NULL;
    dwf_error err;
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) return;
    register_fn(s, "tp", 120, 1);
    gc_arg a[GC_THREADS];
    for (int i = 0; i < GC_THREADS; i++) {
        a[i] = (gc_arg){.s = s};
        char input[64];
        snprintf(input, sizeof input, "\"{\\\"t\\\":%d}\"", i);
        TT_EQ_INT(0, start(s, "tp", input, &a[i].r));
    }
    dwf_service_sync_stats_t before, after;
    dwf_service_sync_stats(s, &before);
    gc_service = s;
    gc_base = before.commits;
    gc_held = 0;
    pthread_t th[GC_THREADS];
    for (int i = 0; i < GC_THREADS; i++) pthread_create(&th[i], NULL, gc_worker, &a[i]);
    for (int i = 0; i < GC_THREADS; i++) pthread_join(th[i], NULL);
    dwf_service_sync_stats(s, &after);
    for (int i = 0; i < GC_THREADS; i++) TT_EQ_INT(0, a[i].rc);
    unsigned long long commits = after.commits - before.commits, flushes = after.flushes - before.flushes;
    printf("group commit: %llu commits, %llu flushes, at most %llu commits in one\n", commits, flushes,
           after.largest_group);
    TT_ASSERT(commits == GC_THREADS * GC_STEPS);
    TT_ASSERT(after.flushed_commits == after.commits); /* nothing left unflushed */
    /* The first call's batch was committed as its flush began; the seven that arrived while that
     * flush was held share the next transaction and flush. */
    TT_ASSERT(after.largest_group >= GC_THREADS - 1);
    TT_ASSERT(flushes < commits);
    /* Every checkpoint is there, in order, for every execution. */
    for (int i = 0; i < GC_THREADS; i++) {
        char id[8];
        snprintf(id, sizeof id, "s%d", GC_STEPS - 1);
        cJSON *op = op_of(s, a[i].r.arn, id);
        TT_EQ_STR("SUCCEEDED", S(op, "Status"));
        cJSON_Delete(op);
    }
    close_store(s);
}

/* ---- batches: one transaction for the calls that arrive while a flush runs -------------------- */
/* A first checkpoint (the primer) commits its batch and its flush is held (before_flush) until
 * eight executions' checkpoints have joined the next batch: their work must land in one
 * transaction and one flush, no call may answer before that flush, and every checkpoint is in
 * the store afterwards. `bad` (an index, or -1): that thread sends a valid START then an invalid
 * update, so its call fails after writing: its savepoint is rolled back, the other seven stay
 * applied and are acknowledged. `commit_fails`: the batch's COMMIT fails (a commit hook refuses
 * it): every call of the batch fails with the named error and the store holds none of their
 * work. */
#define BT_THREADS 8
typedef struct bt_arg {
    dwf_service *s;
    run r;
    int i, bad, rc, early; /* early: answered before its batch's flush */
    dwf_error err;
} bt_arg;
static dwf_service *bt_service;
static unsigned long long bt_base, bt_flushes; /* calls committed, flushes before the primer */
static int bt_armed, bt_in_hook, bt_answered, bt_answered_in_hook = -1, bt_refuse, bt_refuse_next;
static int bt_joining, bt_failing; /* calls that will join the batch; that fail at once */

static void bt_hold_first_flush(void *arg)
{
    (void)arg;
    if (!__atomic_exchange_n(&bt_armed, 0, __ATOMIC_SEQ_CST)) return;
    __atomic_store_n(&bt_in_hook, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 60000; i++) { /* bounded: a broken batch fails the assertions, never hangs */
        dwf_service_sync_stats_t st;
        dwf_service_sync_stats(bt_service, &st);
        if (st.commits >= bt_base + 1 + (unsigned)bt_joining &&
            __atomic_load_n(&bt_answered, __ATOMIC_SEQ_CST) >= bt_failing)
            break;
        usleep(1000);
    }
    bt_answered_in_hook = __atomic_load_n(&bt_answered, __ATOMIC_SEQ_CST);
    __atomic_store_n(&bt_refuse, bt_refuse_next, __ATOMIC_SEQ_CST); /* the primer's COMMIT is done */
}

static int bt_refuse_commit(void *arg)
{
    (void)arg;
    return __atomic_exchange_n(&bt_refuse, 0, __ATOMIC_SEQ_CST); /* nonzero: the COMMIT fails */
}

static void *bt_worker(void *p)
{
    bt_arg *a = p;
    const char *u = a->i == a->bad
                        ? "[{\"Id\":\"s0\",\"Type\":\"STEP\",\"Action\":\"START\"},"
                          "{\"Id\":\"s1\",\"Type\":\"NOT_A_TYPE\",\"Action\":\"START\"}]"
                        : "[{\"Id\":\"s0\",\"Type\":\"STEP\",\"Action\":\"START\"},"
                          "{\"Id\":\"s0\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"1\"}]";
    char token[128];
    snprintf(token, sizeof token, "%s", a->r.token);
    a->rc = ckpt(a->s, &a->r, u, NULL, &a->err);
    __atomic_add_fetch(&bt_answered, 1, __ATOMIC_SEQ_CST);
    dwf_service_sync_stats_t st;
    dwf_service_sync_stats(a->s, &st);
    a->early = a->rc == 0 && a->i < BT_THREADS && st.flushes < bt_flushes + 2; /* the primer's, then its own */
    if (a->rc != 0) snprintf(a->r.token, sizeof a->r.token, "%s", token);
    return NULL;
}

static void batch_run(int bad, int commit_fails)
{
    snprintf(dir, sizeof dir, "/tmp/dwf_test_svc_XXXXXX");
    TT_ASSERT(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/dwf.db", dir);
    dwf_service_opts o = {.path = path, .clock = clock_fn, .before_flush = bt_hold_first_flush};
    dwf_service *s = NULL;
    dwf_error err;
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) return;
    register_fn(s, "tp", 120, 1);
    bt_arg a[BT_THREADS + 1]; /* the last: the primer */
    for (int i = 0; i <= BT_THREADS; i++) {
        a[i] = (bt_arg){.s = s, .i = i, .bad = bad};
        TT_EQ_INT(0, start(s, "tp", "\"{}\"", &a[i].r));
    }
    char before_events[BT_THREADS][512];
    for (int i = 0; i < BT_THREADS; i++) event_types(s, a[i].r.arn, before_events[i], sizeof before_events[i]);
    dwf_service_sync_stats_t before, after;
    dwf_service_sync_stats(s, &before);
    bt_service = s;
    bt_base = before.commits;
    bt_flushes = before.flushes;
    bt_failing = bad >= 0;
    bt_joining = BT_THREADS - bt_failing;
    bt_answered = 0;
    bt_answered_in_hook = -1;
    bt_in_hook = 0;
    if (commit_fails) sqlite3_commit_hook(dwf__store_db(s->st), bt_refuse_commit, NULL);
    bt_refuse = 0;
    bt_refuse_next = commit_fails;
    bt_armed = 1;
    pthread_t primer, th[BT_THREADS];
    pthread_create(&primer, NULL, bt_worker, &a[BT_THREADS]);
    for (int i = 0; i < 60000 && !__atomic_load_n(&bt_in_hook, __ATOMIC_SEQ_CST); i++) usleep(1000);
    TT_EQ_INT(1, bt_in_hook); /* the primer's flush is held */
    for (int i = 0; i < BT_THREADS; i++) pthread_create(&th[i], NULL, bt_worker, &a[i]);
    for (int i = 0; i < BT_THREADS; i++) pthread_join(th[i], NULL);
    pthread_join(primer, NULL);
    dwf_service_sync_stats(s, &after);
    sqlite3_commit_hook(dwf__store_db(s->st), NULL, NULL);
    printf("batch (bad %d, commit fails %d): %llu calls, %llu transactions, %llu flushes, %llu failed, largest %llu\n",
           bad, commit_fails, after.commits - before.commits, after.transactions - before.transactions,
           after.flushes - before.flushes, after.failed_calls - before.failed_calls, after.largest_group);
    TT_EQ_INT(0, a[BT_THREADS].rc);
    /* While the primer's flush was held every call joined and none answered (only the failed
     * call, which joined nothing, had). */
    TT_EQ_INT(bt_failing, bt_answered_in_hook);
    for (int i = 0; i < BT_THREADS; i++) {
        int fails = commit_fails || i == bad;
        TT_EQ_INT(fails ? -1 : 0, a[i].rc);
        TT_EQ_INT(0, a[i].early);
        cJSON *op = op_of(s, a[i].r.arn, "s0");
        char ev[512];
        event_types(s, a[i].r.arn, ev, sizeof ev);
        if (fails) {
            TT_ASSERT(op == NULL); /* nothing of the failed call in the store: no operation, no event */
            TT_EQ_STR(before_events[i], ev);
        } else {
            TT_EQ_STR("SUCCEEDED", op ? S(op, "Status") : NULL);
        }
        cJSON_Delete(op);
    }
    if (bad >= 0) TT_EQ_STR("InvalidParameterValueException", a[bad].err.type);
    if (commit_fails) {
        TT_EQ_INT(1, after.transactions - before.transactions); /* the primer's */
        TT_EQ_INT(BT_THREADS, after.failed_calls - before.failed_calls);
        TT_EQ_STR("ServiceException", a[1].err.type);
        TT_ASSERT(strstr(a[1].err.message, "the transaction holding this call was not committed") != NULL);
        /* The service goes on: the same checkpoints, sent again, are applied. */
        for (int i = 0; i < BT_THREADS; i++) {
            bt_worker(&a[i]);
            TT_EQ_INT(0, a[i].rc);
            cJSON *op = op_of(s, a[i].r.arn, "s0");
            TT_EQ_STR("SUCCEEDED", op ? S(op, "Status") : NULL);
            cJSON_Delete(op);
        }
    } else {
        /* The primer's transaction and flush, then one of each for the eight (seven) calls. */
        TT_EQ_INT(1 + BT_THREADS - (bad >= 0), after.commits - before.commits);
        TT_EQ_INT(2, after.transactions - before.transactions);
        TT_EQ_INT(2, after.flushes - before.flushes);
        TT_EQ_INT(BT_THREADS - (bad >= 0), after.largest_group);
        TT_EQ_INT(after.commits, after.flushed_commits);
    }
    close_store(s);
}

static void test_batch_one_transaction(void) { batch_run(-1, 0); }
static void test_batch_call_fails_alone(void) { batch_run(3, 0); }
static void test_batch_commit_fails(void) { batch_run(-1, 1); }

/* ---- group commit's wake-ups: store_sync.c driven directly ----------------------------------- */
/* A primer's call commits batch 1 and its flush is held (the hook) until SW_WAITERS calls have
 * joined batch 2 and wait. Batch 2's waiters must answer only after a flush of their own batch
 * (never on the primer's), and each must be woken once: the end of the primer's flush wakes one
 * of them to commit and lead batch 2's flush, whose end wakes the others with their outcome (no
 * broadcast that wakes all of them to find they have to sleep again). Modes: the flushes work;
 * every flush fails (the store's file is not there: each caller of the failed flush and of the
 * batch after it gets the error, and so does any later call); batch 2's COMMIT fails (its
 * waiters get that batch's error, a later batch goes on). */
#define SW_WAITERS 6
enum { SW_OK, SW_FLUSH_FAILS, SW_COMMIT_FAILS };
typedef struct sw_call_arg {
    unsigned long long ticket;
    int rc;
    dwf_error err;
    dwf__sync_stats at_return;
} sw_call_arg;
static dwf__sync *sw_sync;
static pthread_mutex_t sw_svc = PTHREAD_MUTEX_INITIALIZER; /* the service's lock */
static int sw_hold, sw_in_hook;                            /* hold the next flush; a flush is held */
static unsigned sw_joining = SW_WAITERS;                   /* calls the held flush waits to see join */
static int sw_reading;                                     /* readers the held flush waits for */
static unsigned long long sw_fail_batch;                   /* the batch whose COMMIT fails (0: none) */

static int sw_commit(void *arg)
{
    (void)arg;
    if (sw_fail_batch && dwf__sync_newest(sw_sync) == sw_fail_batch) {
        dwf_error e = {.type = "ServiceException", .message = "refused by the test"};
        dwf__sync_batch_failed(sw_sync, &e);
        return -1;
    }
    dwf__sync_batch_committed(sw_sync);
    return 0;
}
static void sw_lock(void *arg) { pthread_mutex_lock(arg); }
static void sw_unlock(void *arg) { pthread_mutex_unlock(arg); }

static void sw_hold_flush(void *arg)
{
    (void)arg;
    if (!__atomic_exchange_n(&sw_hold, 0, __ATOMIC_SEQ_CST)) return;
    __atomic_store_n(&sw_in_hook, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 60000 && (dwf__sync_open_calls(sw_sync) < sw_joining || __atomic_load_n(&sw_reading, __ATOMIC_SEQ_CST) > 0); i++)
        usleep(1000); /* bounded: a broken group commit fails the assertions, never hangs */
    usleep(20000); /* the joined calls go to sleep meanwhile (if one is late, it wakes less: still passes) */
}

/* A service call as service.c makes it: join under the lock, commit if told, then wait or lead. */
static void *sw_call(void *p)
{
    sw_call_arg *a = p;
    int act;
    pthread_mutex_lock(&sw_svc);
    a->ticket = dwf__sync_join(sw_sync, 1, NULL, &act);
    if (act != DWF__SYNC_JOINED) sw_commit(NULL);
    pthread_mutex_unlock(&sw_svc);
    a->rc = act == DWF__SYNC_COMMIT_LEAD ? dwf__sync_lead(sw_sync, a->ticket, &a->err)
                                         : dwf__sync_wait(sw_sync, a->ticket, &a->err);
    dwf__sync_get_stats(sw_sync, &a->at_return);
    return NULL;
}

static char sw_dir[64];

/* A group commit over a file in a fresh directory (or over a missing one: every flush fails),
 * with the primer's call running and its flush held. 0, or -1 (nothing to free). */
static int sw_open(int mode, pthread_t *primer_thread, sw_call_arg *primer)
{
    char db[128];
    snprintf(sw_dir, sizeof sw_dir, "/tmp/dwf_test_sync_XXXXXX");
    TT_ASSERT(mkdtemp(sw_dir) != NULL);
    snprintf(db, sizeof db, mode == SW_FLUSH_FAILS ? "%s/missing/dwf.db" : "%s/dwf.db", sw_dir);
    if (mode != SW_FLUSH_FAILS) {
        FILE *f = fopen(db, "w");
        TT_ASSERT(f != NULL);
        if (f) fclose(f);
    }
    sw_sync = dwf__sync_new(db);
    TT_ASSERT(sw_sync != NULL);
    if (!sw_sync) return -1;
    dwf__sync_set_committer(sw_sync, sw_commit, NULL);
    dwf__sync_set_lock(sw_sync, sw_lock, sw_unlock, &sw_svc);
    dwf__sync_set_hook(sw_sync, sw_hold_flush, NULL);
    sw_fail_batch = mode == SW_COMMIT_FAILS ? 2 : 0;
    sw_in_hook = 0;
    sw_hold = 1;
    pthread_create(primer_thread, NULL, sw_call, primer);
    for (int i = 0; i < 60000 && !__atomic_load_n(&sw_in_hook, __ATOMIC_SEQ_CST); i++) usleep(1000);
    TT_EQ_INT(1, sw_in_hook);
    return 0;
}

static void sw_close(void)
{
    dwf__sync_free(sw_sync);
    sw_sync = NULL;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", sw_dir);
    if (system(cmd) != 0) printf("cleanup of %s failed\n", sw_dir);
}

static void sync_wakeups_run(int mode)
{
    sw_call_arg primer = {0}, w[SW_WAITERS] = {0};
    pthread_t pt, th[SW_WAITERS];
    sw_joining = SW_WAITERS;
    sw_reading = 0;
    if (sw_open(mode, &pt, &primer) != 0) return;
    for (int i = 0; i < SW_WAITERS; i++) pthread_create(&th[i], NULL, sw_call, &w[i]);
    for (int i = 0; i < SW_WAITERS; i++) pthread_join(th[i], NULL);
    pthread_join(pt, NULL);
    dwf__sync_stats st;
    dwf__sync_get_stats(sw_sync, &st);
    printf("sync wake-ups (mode %d): %llu waiters woken, %llu flushes, %llu transactions, %llu failed calls\n", mode,
           st.wakeups, st.flushes, st.transactions, st.failed_calls);
    TT_EQ_INT(1, primer.ticket);
    TT_EQ_INT(mode == SW_FLUSH_FAILS ? -1 : 0, primer.rc);
    /* Each waiter woken at most once: the candidate to lead batch 2, then the others when decided. */
    TT_ASSERT(st.wakeups <= SW_WAITERS);
    for (int i = 0; i < SW_WAITERS; i++) {
        TT_EQ_INT(2, w[i].ticket);
        if (mode == SW_OK) {
            TT_EQ_INT(0, w[i].rc);
            TT_EQ_INT(2, w[i].at_return.flushes); /* acknowledged by its own batch's flush */
        } else {
            TT_EQ_INT(-1, w[i].rc);
            TT_EQ_STR("ServiceException", w[i].err.type);
            const char *why = mode == SW_FLUSH_FAILS ? "could not be flushed" : "refused by the test";
            TT_ASSERT(strstr(w[i].err.message, why) != NULL);
        }
    }
    if (mode == SW_OK) {
        TT_EQ_INT(2, st.flushes);
        TT_EQ_INT(2, st.transactions);
        TT_EQ_INT(SW_WAITERS, st.largest_group);
    }
    if (mode == SW_COMMIT_FAILS) TT_EQ_INT(SW_WAITERS, st.failed_calls);
    /* A later call: after a failed flush it fails too (its work may sit behind what the disk
     * dropped); after a failed COMMIT the next batch is committed and flushed. */
    sw_call_arg later = {0};
    sw_call(&later);
    TT_EQ_INT(mode == SW_FLUSH_FAILS ? 2 : 3, later.ticket); /* batch 2 was never committed */
    TT_EQ_INT(mode == SW_FLUSH_FAILS ? -1 : 0, later.rc);
    sw_close();
}

/* A call that does not wait for its own batch (dwf__svc_commit_unflushed: it waits only for
 * what it read, batch 1) joins batch 2 while batch 1's flush is held, and a reader then waits
 * for batch 2 (what it may have seen). No waiter of batch 2 commits it: when batch 1's flush
 * ends, its leader commits that orphan batch, the unflushed call is woken with batch 1 durable,
 * and the reader, woken as the one to lead, flushes batch 2 (or leads its COMMIT, whichever of
 * the two takes the service's lock first) and answers only after that flush. */
typedef struct sw_reader_arg {
    unsigned long long seen;
    int rc;
    dwf_error err;
    dwf__sync_stats at_return;
} sw_reader_arg;

static void *sw_unflushed_call(void *p)
{
    sw_call_arg *a = p;
    unsigned long long seen;
    int act;
    pthread_mutex_lock(&sw_svc);
    a->ticket = dwf__sync_join(sw_sync, 0, &seen, &act);
    if (act != DWF__SYNC_JOINED) sw_commit(NULL);
    pthread_mutex_unlock(&sw_svc);
    if (act == DWF__SYNC_COMMIT_LEAD) a->rc = dwf__sync_lead(sw_sync, a->ticket, &a->err);
    else if (seen == a->ticket) a->rc = dwf__sync_wait(sw_sync, a->ticket, &a->err);
    else a->rc = dwf__sync_wait_seen(sw_sync, seen, &a->err);
    dwf__sync_get_stats(sw_sync, &a->at_return);
    return NULL;
}

static void *sw_reader(void *p)
{
    sw_reader_arg *a = p;
    pthread_mutex_lock(&sw_svc);
    a->seen = dwf__sync_newest(sw_sync);
    pthread_mutex_unlock(&sw_svc);
    __atomic_sub_fetch(&sw_reading, 1, __ATOMIC_SEQ_CST);
    a->rc = dwf__sync_wait_seen(sw_sync, a->seen, &a->err);
    dwf__sync_get_stats(sw_sync, &a->at_return);
    return NULL;
}

static void test_sync_orphan_batch_reader(void)
{
    sw_call_arg primer = {0}, unflushed = {0};
    sw_reader_arg reader = {0};
    pthread_t pt, ut, rt;
    sw_joining = 1;
    sw_reading = 1;
    if (sw_open(SW_OK, &pt, &primer) != 0) return;
    pthread_create(&ut, NULL, sw_unflushed_call, &unflushed);
    for (int i = 0; i < 60000 && dwf__sync_open_calls(sw_sync) < 1; i++) usleep(1000);
    pthread_create(&rt, NULL, sw_reader, &reader);
    pthread_join(ut, NULL);
    pthread_join(rt, NULL);
    pthread_join(pt, NULL);
    dwf__sync_stats st;
    dwf__sync_get_stats(sw_sync, &st);
    printf("sync orphan batch: %llu waiters woken, %llu flushes, %llu transactions\n", st.wakeups, st.flushes,
           st.transactions);
    TT_EQ_INT(0, primer.rc);
    TT_EQ_INT(2, unflushed.ticket);
    TT_EQ_INT(0, unflushed.rc);
    TT_ASSERT(unflushed.at_return.flushes >= 1); /* batch 1, what it read, was durable */
    TT_EQ_INT(2, reader.seen);
    TT_EQ_INT(0, reader.rc);
    TT_EQ_INT(2, reader.at_return.flushes); /* the orphan batch it read was flushed before it answered */
    TT_EQ_INT(2, st.transactions);
    TT_ASSERT(st.wakeups <= 2); /* the unflushed call, the reader to lead: once each */
    sw_close();
}

/* A call that waits for nothing (dwf__svc_commit_nowait, waits < 0) joins batch 2 while batch
 * 1's flush is held and returns at once: a flush runs, so it leaves its batch uncommitted, and
 * it is no waiter of it (not even of what it saw). With no waiter in batch 2, the leader of
 * batch 1's flush commits that orphan batch when its flush ends, without a flush of its own:
 * the next one (a later call's, a reader's, the close) makes it durable. */
static void test_sync_nowait_call(void)
{
    sw_call_arg primer = {0};
    pthread_t pt;
    sw_joining = 1;
    sw_reading = 0;
    if (sw_open(SW_OK, &pt, &primer) != 0) return;
    unsigned long long seen = 0;
    int act = -1;
    pthread_mutex_lock(&sw_svc);
    unsigned long long t = dwf__sync_join(sw_sync, -1, &seen, &act);
    pthread_mutex_unlock(&sw_svc);
    dwf__sync_stats mid;
    dwf__sync_get_stats(sw_sync, &mid);
    TT_EQ_INT(2, t);
    TT_EQ_INT(1, seen);
    TT_EQ_INT(DWF__SYNC_JOINED, act);
    TT_EQ_INT(0, mid.flushes); /* returned with batch 1's flush still held */
    pthread_join(pt, NULL);
    dwf__sync_stats st;
    dwf__sync_get_stats(sw_sync, &st);
    TT_EQ_INT(0, primer.rc);
    TT_EQ_INT(2, st.transactions);                /* the orphan batch was committed ... */
    TT_EQ_INT(0, dwf__sync_open_calls(sw_sync)); /* ... nothing left open ... */
    TT_EQ_INT(1, st.flushes);                     /* ... and not flushed for it */
    TT_EQ_INT(1, st.flushed_commits);
    sw_close();
}

static void test_sync_wakes_own_batch_only(void) { sync_wakeups_run(SW_OK); }
static void test_sync_failed_flush_wakes_all(void) { sync_wakeups_run(SW_FLUSH_FAILS); }
static void test_sync_failed_commit_wakes_its_waiters(void) { sync_wakeups_run(SW_COMMIT_FAILS); }

/* A version-16 store made back into version 15: its operations (renumbered 0, 1, ... in start
 * order, as version 15 numbered them) and its events (keyed by EventId) in a table each. */
#define TO_VERSION_15_SQL                                                                          \
    "CREATE TABLE ops15(k INTEGER PRIMARY KEY, op_id TEXT NOT NULL, change_seq INTEGER NOT NULL,"  \
    "  type TEXT, status TEXT, json TEXT NOT NULL, outside INTEGER NOT NULL DEFAULT 1,"            \
    "  exec_no INTEGER AS (k >> 32), start_seq INTEGER AS (k & 4294967295));"                     \
    "INSERT INTO ops15(k, op_id, change_seq, type, status, json, outside)"                         \
    "  SELECT (k >> 32) * 4294967296 + ROW_NUMBER() OVER (PARTITION BY k >> 32 ORDER BY k) - 1,"   \
    "  op_id, change_seq, type, status, json, outside FROM operations WHERE op_id IS NOT NULL;"    \
    "CREATE TABLE ev15(k INTEGER PRIMARY KEY, json TEXT NOT NULL,"                                 \
    "  exec_no INTEGER AS (k >> 32), event_id INTEGER AS (k & 4294967295));"                      \
    "INSERT INTO ev15(k, json) SELECT (k >> 32) * 4294967296 + event_id, json FROM operations"     \
    "  WHERE op_id IS NULL;"                                                                       \
    "DROP TABLE operations; ALTER TABLE ops15 RENAME TO operations; ALTER TABLE ev15 RENAME TO events;" \
    "CREATE UNIQUE INDEX operations_id ON operations(exec_no, op_id);"                            \
    "CREATE INDEX operations_change ON operations(exec_no, change_seq) WHERE outside=1;"
#define TO_VERSION_15 TO_VERSION_15_SQL "PRAGMA user_version=15;"

/* A version-16 store made back into version 14 (through 15): every execution in the indexes by status, clock
 * offset, root and parent. */
#define TO_VERSION_14                                                                              \
    TO_VERSION_15_SQL                                                                              \
    "DROP INDEX executions_status; CREATE INDEX executions_status ON executions(status, start_ms);" \
    "DROP INDEX executions_offset;"                                                                \
    "CREATE INDEX executions_offset ON executions(status, clock_offset_ms);"                       \
    "DROP INDEX executions_root; CREATE INDEX executions_root ON executions(root_arn, status);"    \
    "DROP INDEX executions_parent;"                                                                \
    "CREATE INDEX executions_parent ON executions(parent_arn, parent_op);"                         \
    "PRAGMA user_version=14;"

/* A version-15 store made back into version 13 (through 14): timers a rowid table with a UNIQUE
 * index of its key. */
#define TO_VERSION_13                                                                              \
    TO_VERSION_14                                                                                  \
    "CREATE TABLE tim13(exec_id TEXT NOT NULL, op_id TEXT NOT NULL, kind TEXT NOT NULL,"           \
    "  due_ms REAL NOT NULL, PRIMARY KEY(exec_id, op_id, kind));"                                  \
    "INSERT INTO tim13 SELECT exec_id, op_id, kind, due_ms FROM timers;"                           \
    "DROP TABLE timers; ALTER TABLE tim13 RENAME TO timers;"                                       \
    "CREATE INDEX timers_due ON timers(due_ms);"                                                   \
    "PRAGMA user_version=13;"

/* A version-15 store made back into version 12 (through 13): no outside column, and every
 * operation in the index by change stamp. */
#define TO_VERSION_12                                                                              \
    TO_VERSION_13                                                                                  \
    "DROP INDEX operations_change; ALTER TABLE operations DROP COLUMN outside;"                    \
    "CREATE INDEX operations_change ON operations(exec_no, change_seq);"                           \
    "PRAGMA user_version=12;"

/* A version-13 store made back into version 11 (through 12): no token_count column and no token
 * key, and every execution's live token a row of `tokens`, where version 11 kept every token it
 * issued. */
#define TO_VERSION_11                                                                              \
    TO_VERSION_12                                                                                  \
    "INSERT OR IGNORE INTO tokens(token, exec_no, issued_ms) SELECT live_token, no, 0 FROM executions" \
    "  WHERE live_token IS NOT NULL;"                                                              \
    "ALTER TABLE executions DROP COLUMN token_count; DELETE FROM meta WHERE key='token_key';"      \
    "PRAGMA user_version=11;"

/* A version-11 store made back into version 9 (after TO_VERSION_11): operations, events and tokens as rowid tables
 * keyed by the execution's id with the indexes of their keys, the live token flagged in its
 * tokens row (what the upgrade to 10 reads), no live_token or no column in executions. */
#define TO_VERSION_9                                                                               \
    "CREATE TABLE ops9(exec_id TEXT NOT NULL, op_id TEXT NOT NULL, start_seq INTEGER NOT NULL,"    \
    "  change_seq INTEGER NOT NULL, type TEXT, status TEXT, json TEXT NOT NULL,"                   \
    "  PRIMARY KEY(exec_id, op_id));"                                                              \
    "INSERT INTO ops9 SELECT x.id, o.op_id, o.start_seq, o.change_seq, o.type, o.status, o.json"   \
    "  FROM operations o JOIN executions x ON x.no=o.exec_no;"                                     \
    "DROP TABLE operations; ALTER TABLE ops9 RENAME TO operations;"                                \
    "CREATE INDEX operations_start ON operations(exec_id, start_seq);"                             \
    "CREATE INDEX operations_change ON operations(exec_id, change_seq);"                           \
    "CREATE TABLE ev9(exec_id TEXT NOT NULL, event_id INTEGER NOT NULL, json TEXT NOT NULL,"       \
    "  PRIMARY KEY(exec_id, event_id));"                                                           \
    "INSERT INTO ev9 SELECT x.id, v.event_id, v.json FROM events v JOIN executions x ON x.no=v.exec_no;" \
    "DROP TABLE events; ALTER TABLE ev9 RENAME TO events;"                                         \
    "CREATE TABLE tok9(token TEXT PRIMARY KEY, exec_id TEXT NOT NULL, issued_ms REAL,"             \
    "  live INTEGER NOT NULL);"                                                                    \
    "INSERT INTO tok9 SELECT t.token, x.id, t.issued_ms, x.live_token IS t.token FROM tokens t"   \
    "  JOIN executions x ON x.no=t.exec_no;"                                                       \
    "DROP TABLE tokens; ALTER TABLE tok9 RENAME TO tokens;"                                        \
    "CREATE INDEX tokens_exec ON tokens(exec_id);"                                                 \
    "CREATE INDEX tokens_live ON tokens(exec_id) WHERE live=1;"                                    \
    "ALTER TABLE executions DROP COLUMN live_token; DROP INDEX executions_no;"                     \
    "ALTER TABLE executions DROP COLUMN no;"                                                       \
    "PRAGMA user_version=9;"

/* A store written by an older dwf is brought up to date when opened: version 1 lacked the
 * invocation's owner and request id, the live-token index, the control plane's tables (5),
 * the execution indexes (6), the workflow hashes (7), the calls and each execution's clock (8). */
static void test_schema_upgrade(void)
{
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    if (!s) return;
    register_fn(s, "tp", 120, 1);
    long long vm, scan;
    TT_EQ_INT(0, one_life(s, 1, &vm, &scan));
    dwf_service_close(s);
    sqlite3 *db = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, TO_VERSION_11 TO_VERSION_9, NULL, NULL, NULL));
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, "DROP INDEX executions_status; DROP INDEX executions_parent; DROP INDEX executions_function; DROP INDEX tokens_live;"
                                          "DROP INDEX executions_offset;"
                                          "ALTER TABLE executions DROP COLUMN inv_owner;"
                                          "ALTER TABLE executions DROP COLUMN inv_request;"
                                          "DROP TABLE lambda_functions; DROP TABLE lambda_code; DROP TABLE iam_roles;"
                                          "ALTER TABLE executions DROP COLUMN workflow_hash;"
                                          "ALTER TABLE functions DROP COLUMN workflow_hash; DROP TABLE workflows;"
                                          "DROP TABLE calls; ALTER TABLE executions DROP COLUMN clock_offset_ms;"
                                          "PRAGMA user_version=1;",
                                      NULL, NULL, NULL));
    sqlite3_close(db);
    dwf_service_opts o = {.path = path, .clock = clock_fn};
    dwf_error err;
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    TT_EQ_INT(0, one_life(s, 2, &vm, &scan));
    dwf_service_close(s);
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    sqlite3_stmt *q = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_prepare_v2(db, "SELECT (SELECT user_version FROM pragma_user_version),"
                                                " (SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND name IN"
                                                " ('executions_status','executions_parent','executions_function','tokens_live','executions_offset')),"
                                                " (SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name IN"
                                                " ('lambda_functions','lambda_code','iam_roles','workflows','calls')),"
                                                " (SELECT COUNT(*) FROM executions WHERE status='SUCCEEDED')",
                                            -1, &q, NULL));
    TT_EQ_INT(SQLITE_ROW, sqlite3_step(q));
    TT_EQ_INT(16, sqlite3_column_int(q, 0));
    TT_EQ_INT(4, sqlite3_column_int(q, 1)); /* tokens_live went with version 9's tokens table */
    TT_EQ_INT(5, sqlite3_column_int(q, 2));
    TT_EQ_INT(2, sqlite3_column_int(q, 3));
    sqlite3_finalize(q);
    sqlite3_close(db);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("cleanup of %s failed\n", dir);
}

/* The rows of a query as text, one line per row, columns joined by '|' (NULL as "~"); malloc'd. */
static char *rows_text(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        printf("rows_text: %s: %s\n", sql, sqlite3_errmsg(db));
        return NULL;
    }
    size_t len = 0, cap = 256;
    char *out = malloc(cap);
    if (out) out[0] = '\0';
    while (out && sqlite3_step(q) == SQLITE_ROW)
        for (int c = 0; out && c < sqlite3_column_count(q); c++) {
            const char *v = sqlite3_column_type(q, c) == SQLITE_NULL ? "~" : (const char *)sqlite3_column_text(q, c);
            size_t n = strlen(v) + 2;
            if (len + n + 1 > cap) {
                char *g = realloc(out, cap = (len + n + 1) * 2);
                if (!g) free(out);
                out = g;
            }
            if (out) len += (size_t)snprintf(out + len, cap - len, "%s%c", v, c + 1 < sqlite3_column_count(q) ? '|' : '\n');
        }
    sqlite3_finalize(q);
    return out;
}

/* What the rebuild of version 10 must keep, each as rows_text of these queries (the live token:
 * version 9 flags it in its tokens row, version 10 keeps it in the execution's). */
#define ROWS_OPS_9 "SELECT exec_id, op_id, start_seq, change_seq, type, status, json FROM operations ORDER BY exec_id, start_seq"
#define ROWS_EVENTS_9 "SELECT exec_id, event_id, json FROM events ORDER BY exec_id, event_id"
#define ROWS_TOKENS_9 "SELECT exec_id, token, issued_ms FROM tokens ORDER BY exec_id, token"
/* An operation's place in its execution's start order, where version 9 to 15 numbered them
 * 0, 1, ... (its start_seq) and version 16 keys it among the execution's events. */
#define ROWS_OPS "SELECT x.id, o.op_id, (SELECT COUNT(*) FROM operations p WHERE p.k>=x.no * 4294967296" \
                 " AND p.k<o.k AND p.op_id IS NOT NULL), o.change_seq, o.type, o.status, o.json FROM operations o" \
                 " JOIN executions x ON x.no=o.exec_no WHERE o.op_id IS NOT NULL ORDER BY x.id, o.start_seq"
#define ROWS_OPS_15 "SELECT x.id, o.op_id, o.start_seq, o.change_seq, o.type, o.status, o.json FROM operations o" \
                    " JOIN executions x ON x.no=o.exec_no ORDER BY x.id, o.start_seq"
#define ROWS_EVENTS_15 "SELECT x.id, v.event_id, v.json FROM events v JOIN executions x ON x.no=v.exec_no" \
                       " ORDER BY x.id, v.event_id"
#define ROWS_EVENTS "SELECT x.id, v.event_id, v.json FROM operations v JOIN executions x ON x.no=v.exec_no" \
                    " WHERE v.op_id IS NULL ORDER BY x.id, v.event_id"
#define ROWS_TOKENS "SELECT x.id, t.token, t.issued_ms FROM tokens t JOIN executions x ON x.no=t.exec_no" \
                    " ORDER BY x.id, t.token"
#define ROWS_EXECS "SELECT id, arn, status, seq, seen_seq, op_count, event_count, inv_open, inv_request FROM executions ORDER BY id"
#define LIVE_10 "SELECT id, live_token FROM executions ORDER BY id"
#define LIVE_9 "SELECT x.id, (SELECT token FROM tokens t WHERE t.exec_id=x.id AND t.live=1) FROM executions x ORDER BY x.id"
enum { R_OPS, R_EVENTS, R_TOKENS, R_EXECS, R_LIVE, R_N };
/* v9: 1 for a store of version 9, 2 for one of versions 10 to 15 (events in their own table),
 * 0 for the current one. */
static void rows_all(sqlite3 *db, int v9, char *out[R_N])
{
    const char *sql[R_N] = {v9 == 1 ? ROWS_OPS_9 : v9 ? ROWS_OPS_15 : ROWS_OPS, v9 == 1 ? ROWS_EVENTS_9 : v9 ? ROWS_EVENTS_15 : ROWS_EVENTS,
                            v9 == 1 ? ROWS_TOKENS_9 : ROWS_TOKENS, ROWS_EXECS, v9 == 1 ? LIVE_9 : LIVE_10};
    for (int i = 0; i < R_N; i++) out[i] = rows_text(db, sql[i]);
}
static void rows_same(char *want[R_N], char *got[R_N])
{
    for (int i = 0; i < R_N; i++) {
        TT_ASSERT(want[i] && got[i]);
        if (want[i] && got[i]) TT_EQ_STR(want[i], got[i]);
        free(got[i]);
    }
}

/* SQLite finds the store consistent (PRAGMA integrity_check answers "ok"). */
static void integrity_ok(sqlite3 *db)
{
    char *ok = rows_text(db, "PRAGMA integrity_check");
    TT_ASSERT(ok && strcmp(ok, "ok\n") == 0);
    free(ok);
}

/* An upgraded store: consistent, and it holds the rows of want (read before the upgrade; freed). */
static void upgraded_same(sqlite3 *db, char *want[R_N])
{
    integrity_ok(db);
    char *got[R_N];
    rows_all(db, 0, got);
    rows_same(want, got);
    for (int i = 0; i < R_N; i++) free(want[i]);
}

static char *history_text(dwf_service *s, const char *arn)
{
    cJSON *h = NULL;
    dwf_error err;
    if (dwf_service_get_history(s, arn, 1, 1000, NULL, 0, &h, &err) != 0) return NULL;
    char *t = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    return t;
}

static int sql_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW) v = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* The store both upgrade tests start from: one execution finished, one in the middle of an
 * invocation (step "a" succeeded, step "b" started), whose first token goes to `first` when
 * asked. The service is left open; NULL (and a failed assertion) if it could not be built. */
static dwf_service *finished_and_running(run *r, char *first, size_t first_len)
{
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    if (!s) return NULL;
    register_fn(s, "tp", 120, 1);
    long long vm, scan;
    dwf_error err;
    TT_EQ_INT(0, one_life(s, 1, &vm, &scan));
    TT_EQ_INT(0, start(s, "tp", "\"{}\"", r));
    if (first) snprintf(first, first_len, "%s", r->token);
    TT_EQ_INT(0, ckpt(s, r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"START\",\"Name\":\"one\"}]", NULL, &err));
    TT_EQ_INT(0, ckpt(s, r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"1\"},"
                            "{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"START\",\"Name\":\"two\"}]", NULL, &err));
    return s;
}

/* The operations and events tables of version 11: rowid tables keyed by their rowid (2 when so). */
#define KEYED_BY_ROWID                                                                             \
    "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name IN ('operations','events')"   \
    " AND sql LIKE '%k INTEGER PRIMARY KEY%' AND sql NOT LIKE '%WITHOUT ROWID%'"

/* A new store is created at version 14 (tokens WITHOUT ROWID, operations and events keyed by
 * their rowids), and so is a store of version 9 when opened (through 10 and 11). A store of
 * version 9 holding a finished execution and one in the middle of an invocation is rebuilt when
 * opened: every row comes out the same, the live token stays the current one (the execution
 * finishes with it) and the stale one stays stale, a token issued before reads the state, and the
 * history reads the same. */
static void test_schema_upgrade_from_9(void)
{
    run r;
    char first[128];
    dwf_service *s = finished_and_running(&r, first, sizeof first);
    if (!s) return;
    dwf_error err;
    char *hist = history_text(s, r.arn);
    TT_ASSERT(hist != NULL);
    dwf_service_close(s);

    sqlite3 *db = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(16, sql_int(db, "PRAGMA user_version"));
    /* as version 11 kept it: the first token a row too */
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, TO_VERSION_11, NULL, NULL, NULL));
    char *ins = sqlite3_mprintf("INSERT INTO tokens SELECT %Q, no, 0 FROM executions WHERE arn=%Q", first, r.arn);
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, ins, NULL, NULL, NULL));
    sqlite3_free(ins);
    TT_EQ_INT(1, sql_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND sql LIKE '%WITHOUT ROWID'"
                             " AND name IN ('operations','events','tokens')"));
    TT_EQ_INT(2, sql_int(db, KEYED_BY_ROWID));
    char *want[R_N], *got[R_N];
    rows_all(db, 2, want);
    TT_ASSERT(strstr(want[R_LIVE], r.token) != NULL);
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, TO_VERSION_9, NULL, NULL, NULL));
    TT_EQ_INT(9, sql_int(db, "PRAGMA user_version"));
    rows_all(db, 1, got);
    rows_same(want, got); /* the version-9 store holds the same */
    sqlite3_close(db);

    dwf_service_opts o = {.path = path, .clock = clock_fn};
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) return;
    char *after = history_text(s, r.arn);
    TT_ASSERT(hist && after && strcmp(hist, after) == 0);
    free(after);
    free(hist);
    cJSON *page = NULL;
    TT_EQ_INT(0, dwf_service_get_state(s, r.arn, first, NULL, 0, &page, &err));
    TT_EQ_INT(3, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(page, "Operations")));
    cJSON_Delete(page);
    dwf_service_close(s);

    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(16, sql_int(db, "PRAGMA user_version"));
    TT_EQ_INT(1, sql_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND sql LIKE '%WITHOUT ROWID'"
                             " AND name IN ('operations','events','tokens')"));
    TT_EQ_INT(1, sql_int(db, KEYED_BY_ROWID)); /* the events in operations (16) */
    TT_EQ_INT(0, sql_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name IN"
                             " ('operations_start','tokens_exec','tokens_live','ops9','ev9','tok9','events',"
                             "  'operations_v10','events_v10','tokens_v10','operations_v11','events_v11','operations_v16')"));
    TT_EQ_INT(2, sql_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND name IN"
                             " ('operations_id','operations_change')"));
    rows_all(db, 0, got);
    rows_same(want, got);
    sqlite3_close(db);
    for (int i = 0; i < R_N; i++) free(want[i]);

    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) return;
    run stale = r;
    snprintf(stale.token, sizeof stale.token, "%s", first);
    TT_EQ_INT(-1, ckpt(s, &stale, "[]", NULL, &err));
    TT_ASSERT(strncmp(err.message, "Invalid Checkpoint Token", 24) == 0);
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"2\"}]", NULL, &err));
    cJSON *done = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"3\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, done, NULL, &err));
    cJSON_Delete(done);
    char st[32];
    TT_EQ_STR("SUCCEEDED", status_of(s, r.arn, st));
    TT_EQ_INT(-1, ckpt(s, &r, "[]", NULL, &err)); /* ended: no token is current */
    TT_ASSERT(strncmp(err.message, "Invalid Checkpoint Token", 24) == 0);
    close_store(s);
}

/* A version-11 store made back into version 10 (after TO_VERSION_11): operations and events WITHOUT ROWID keyed by
 * (exec_no, start_seq) and (exec_no, event_id). */
#define TO_VERSION_10                                                                              \
    "CREATE TABLE ops10(exec_no INTEGER NOT NULL, op_id TEXT NOT NULL, start_seq INTEGER NOT NULL," \
    "  change_seq INTEGER NOT NULL, type TEXT, status TEXT, json TEXT NOT NULL,"                   \
    "  PRIMARY KEY(exec_no, start_seq)) WITHOUT ROWID;"                                            \
    "INSERT INTO ops10 SELECT exec_no, op_id, start_seq, change_seq, type, status, json FROM operations;" \
    "DROP TABLE operations; ALTER TABLE ops10 RENAME TO operations;"                               \
    "CREATE UNIQUE INDEX operations_id ON operations(exec_no, op_id);"                             \
    "CREATE INDEX operations_change ON operations(exec_no, change_seq);"                           \
    "CREATE TABLE ev10(exec_no INTEGER NOT NULL, event_id INTEGER NOT NULL, json TEXT NOT NULL,"    \
    "  PRIMARY KEY(exec_no, event_id)) WITHOUT ROWID;"                                             \
    "INSERT INTO ev10 SELECT exec_no, event_id, json FROM events;"                                 \
    "DROP TABLE events; ALTER TABLE ev10 RENAME TO events;"                                        \
    "PRAGMA user_version=10;"

/* A store of version 10 (operations and events WITHOUT ROWID) holding a finished execution and one in the
 * middle of an invocation is brought to 11 when opened: every row comes out the same, the
 * history reads the same forwards and backwards, and the running execution goes on, its next
 * events numbered after the ones it had (test_retention: an expired execution's events are
 * deleted with it, no other's). */
static void test_schema_upgrade_from_10(void)
{
    run r;
    dwf_service *s = finished_and_running(&r, NULL, 0);
    if (!s) return;
    dwf_error err;
    char *hist = history_text(s, r.arn);
    cJSON *back = NULL;
    TT_EQ_INT(0, dwf_service_get_history(s, r.arn, 1, 2, NULL, 1, &back, &err));
    char *back_text = back ? cJSON_PrintUnformatted(back) : NULL;
    cJSON_Delete(back);
    TT_ASSERT(hist != NULL && back_text != NULL);
    dwf_service_close(s);

    sqlite3 *db = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, TO_VERSION_11, NULL, NULL, NULL));
    char *want[R_N], *got[R_N];
    rows_all(db, 2, want);
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, TO_VERSION_10, NULL, NULL, NULL));
    TT_EQ_INT(10, sql_int(db, "PRAGMA user_version"));
    TT_EQ_INT(0, sql_int(db, KEYED_BY_ROWID));
    rows_all(db, 2, got);
    rows_same(want, got); /* the version-10 store holds the same */
    sqlite3_close(db);

    dwf_service_opts o = {.path = path, .clock = clock_fn};
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) return;
    char *after = history_text(s, r.arn);
    TT_ASSERT(hist && after && strcmp(hist, after) == 0);
    free(after);
    free(hist);
    back = NULL;
    TT_EQ_INT(0, dwf_service_get_history(s, r.arn, 1, 2, NULL, 1, &back, &err));
    after = back ? cJSON_PrintUnformatted(back) : NULL;
    cJSON_Delete(back);
    TT_ASSERT(back_text && after && strcmp(back_text, after) == 0);
    free(after);
    free(back_text);
    dwf_service_close(s);

    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(16, sql_int(db, "PRAGMA user_version"));
    TT_EQ_INT(1, sql_int(db, KEYED_BY_ROWID)); /* the events in operations (16) */
    TT_EQ_INT(0, sql_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('ops10','ev10','operations_v11','events_v11',"
                             " 'events','operations_v16')"));
    TT_EQ_INT(2, sql_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND name IN"
                             " ('operations_id','operations_change')"));
    rows_all(db, 0, got);
    rows_same(want, got);
    sqlite3_close(db);
    for (int i = 0; i < R_N; i++) free(want[i]);

    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) return;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"2\"}]", NULL, &err));
    cJSON *done = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"3\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, done, NULL, &err));
    cJSON_Delete(done);
    cJSON *h = NULL;
    TT_EQ_INT(0, dwf_service_get_history(s, r.arn, 0, 1000, NULL, 0, &h, &err));
    const cJSON *evs = cJSON_GetObjectItemCaseSensitive(h, "Events");
    int n = cJSON_GetArraySize(evs), in_order = n > 0;
    for (int i = 0; i < n; i++)
        in_order &= cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(evs, i), "EventId")->valuedouble == i + 1;
    TT_ASSERT(in_order);
    TT_EQ_STR("ExecutionSucceeded", cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(evs, n - 1), "EventType")->valuestring);
    cJSON_Delete(h);
    close_store(s);
}

/* The state read with `token`: 0, or -1 with the message checked to be the one a token not
 * issued for the execution gets. */
static int state_with(dwf_service *s, const char *arn, const char *token)
{
    cJSON *page = NULL;
    dwf_error err;
    int rc = dwf_service_get_state(s, arn, token, NULL, 0, &page, &err);
    cJSON_Delete(page);
    if (rc != 0) {
        TT_EQ_STR("InvalidParameterValueException", err.type);
        TT_EQ_STR("Invalid Checkpoint Token: the token was not issued for this execution.", err.message);
    }
    return rc;
}

/* Schema 12: a token proves itself (its execution's number and count under the store's MAC
 * key), with no row. Every token issued reads the state, the live one alone checkpoints; a token
 * of another execution, of another store (the same number and count under another key), one
 * with its MAC changed, one naming a count not issued yet, and a spelling of an issued one with
 * a leading zero are refused, with the messages of tokens never issued. */
static void test_tokens_proven(void)
{
    /* another store first, whose first execution has the same number and counts as ours */
    dwf_service *other = open_store(0);
    TT_ASSERT(other != NULL);
    if (!other) return;
    char other_dir[256];
    snprintf(other_dir, sizeof other_dir, "%s", dir);
    register_fn(other, "tp", 120, 1);
    run o;
    TT_EQ_INT(0, start(other, "tp", "\"{}\"", &o));
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    if (!s) {
        close_store(other);
        return;
    }
    register_fn(s, "tp", 120, 1);
    run r, r2;
    dwf_error err;
    TT_EQ_INT(0, start(s, "tp", "\"{}\"", &r));
    char first[128];
    snprintf(first, sizeof first, "%s", r.token);
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"START\",\"Name\":\"one\"}]", NULL, &err));
    TT_EQ_INT(0, start(s, "tp", "\"{}\"", &r2));
    /* the same number (1) and count (1), another key: a different token */
    TT_ASSERT(strncmp(first, "1.1.", 4) == 0 && strncmp(o.token, "1.1.", 4) == 0);
    TT_ASSERT(strcmp(first, o.token) != 0);
    TT_EQ_INT(0, state_with(s, r.arn, r.token));
    TT_EQ_INT(0, state_with(s, r.arn, first)); /* no longer live, still issued */
    TT_EQ_INT(-1, state_with(s, r.arn, o.token));
    TT_EQ_INT(-1, state_with(s, r.arn, r2.token));
    TT_EQ_INT(-1, state_with(s, r2.arn, first));
    char forged[160];
    snprintf(forged, sizeof forged, "%s", first);
    char *last = forged + strlen(forged) - 1;
    *last = *last == '0' ? '1' : '0';
    TT_EQ_INT(-1, state_with(s, r.arn, forged));
    snprintf(forged, sizeof forged, "0%s", first);
    TT_EQ_INT(-1, state_with(s, r.arn, forged));
    /* count 3: not issued yet (the live one is 2), whatever follows */
    snprintf(forged, sizeof forged, "1.3.%s", first + 4);
    TT_EQ_INT(-1, state_with(s, r.arn, forged));
    TT_EQ_INT(-1, state_with(s, r.arn, "1.1."));
    /* only the live token checkpoints */
    run stale = r;
    snprintf(stale.token, sizeof stale.token, "%s", first);
    TT_EQ_INT(-1, ckpt(s, &stale, "[]", NULL, &err));
    TT_EQ_STR("Invalid Checkpoint Token: the token is not current for this execution.", err.message);
    run foreign = r;
    snprintf(foreign.token, sizeof foreign.token, "%s", r2.token);
    TT_EQ_INT(-1, ckpt(s, &foreign, "[]", NULL, &err));
    TT_EQ_STR("Invalid Checkpoint Token: the token is not current for this execution.", err.message);
    TT_EQ_INT(0, ckpt(s, &r, "[]", NULL, &err));
    TT_ASSERT(strncmp(r.token, "1.3.", 4) == 0);
    /* The count and the key live in the store: after a reopen the same tokens hold. */
    dwf_service_close(s);
    dwf_service_opts op = {.path = path, .clock = clock_fn};
    TT_EQ_INT(0, dwf_service_open(&op, &s, &err));
    if (s) {
        TT_EQ_INT(0, state_with(s, r.arn, first));
        TT_EQ_INT(0, state_with(s, r.arn, r.token));
        TT_EQ_INT(0, ckpt(s, &r, "[]", NULL, &err));
        TT_ASSERT(strncmp(r.token, "1.4.", 4) == 0);
        close_store(s);
    }
    dwf_service_close(other);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", other_dir);
    if (system(cmd) != 0) printf("cleanup of %s failed\n", other_dir);
}

/* The token's text, computed here with OpenSSL's own HMAC() from the key in the store's meta:
 * "<n>.<c>." in hex and the first 16 bytes of HMAC-SHA256("dwf-tok1" || n || c, 8 big-endian
 * bytes each), in lowercase hex. The service hashes the key's pads once per open (tokens.c):
 * tokens issued before and after that change, and before and after a reopen, are the same text. */
static void expect_token(sqlite3 *db, long long no, long long c, const char *got)
{
    sqlite3_stmt *q = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='token_key'", -1, &q, NULL));
    TT_EQ_INT(SQLITE_ROW, sqlite3_step(q));
    const char *hex = (const char *)sqlite3_column_text(q, 0);
    unsigned char key[32];
    TT_ASSERT(hex && strlen(hex) == 64);
    for (int i = 0; hex && i < 32; i++) {
        unsigned b = 0;
        TT_EQ_INT(1, sscanf(hex + 2 * i, "%2x", &b));
        key[i] = (unsigned char)b;
    }
    sqlite3_finalize(q);
    unsigned char msg[24] = {'d', 'w', 'f', '-', 't', 'o', 'k', '1'};
    for (int i = 0; i < 8; i++) {
        msg[8 + i] = (unsigned char)((unsigned long long)no >> (56 - 8 * i));
        msg[16 + i] = (unsigned char)((unsigned long long)c >> (56 - 8 * i));
    }
    unsigned char mac[32];
    unsigned int maclen = 0;
    TT_ASSERT(HMAC(EVP_sha256(), key, sizeof key, msg, sizeof msg, mac, &maclen) != NULL);
    TT_EQ_INT(32, (int)maclen);
    char want[128];
    int n = snprintf(want, sizeof want, "%llx.%llx.", (unsigned long long)no, (unsigned long long)c);
    for (int i = 0; i < 16; i++) n += snprintf(want + n, sizeof want - (size_t)n, "%02x", mac[i]);
    TT_EQ_STR(want, got);
}

static void test_token_known_answer(void)
{
    dwf_service *s = open_store(0);
    TT_ASSERT(s != NULL);
    if (!s) return;
    register_fn(s, "tk", 120, 1);
    sqlite3 *db = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    run r;
    dwf_error err;
    TT_EQ_INT(0, start(s, "tk", "\"{}\"", &r));
    expect_token(db, 1, 1, r.token);
    /* counts past 9 and 15: the hex of the count grows a digit */
    for (int c = 2; c <= 17; c++) {
        TT_EQ_INT(0, ckpt(s, &r, "[]", NULL, &err));
        expect_token(db, 1, c, r.token);
    }
    run r2;
    TT_EQ_INT(0, start(s, "tk", "\"{}\"", &r2));
    expect_token(db, 2, 1, r2.token);
    /* reopened: the pads are hashed again from the same key */
    dwf_service_close(s);
    dwf_service_opts op = {.path = path, .clock = clock_fn};
    TT_EQ_INT(0, dwf_service_open(&op, &s, &err));
    if (s) {
        TT_EQ_INT(0, ckpt(s, &r, "[]", NULL, &err));
        expect_token(db, 1, 18, r.token);
    }
    sqlite3_close(db);
    if (s) close_store(s);
}

/* A store of version 11 (every token a row, UUIDs) holding a finished execution and one in the
 * middle of an invocation is brought to 12 when opened: it gets a token key and token_count;
 * the running execution's live token still checkpoints and an earlier one still reads the
 * state (their rows), a UUID never issued does not; the next token is of the new form, and the
 * execution finishes with it. */
static void test_schema_upgrade_from_11(void)
{
    run r;
    dwf_service *s = finished_and_running(&r, NULL, 0);
    if (!s) return;
    dwf_error err;
    dwf_service_close(s);
    static const char live11[] = "11111111-2222-4333-8444-555555555555";
    static const char old11[] = "66666666-7777-4888-9999-aaaaaaaaaaaa";
    sqlite3 *db = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, TO_VERSION_11 "DELETE FROM tokens;", NULL, NULL, NULL));
    char *sql = sqlite3_mprintf("UPDATE executions SET live_token=%Q WHERE arn=%Q;"
                                "INSERT INTO tokens SELECT %Q, no, 0 FROM executions WHERE arn=%Q;"
                                "INSERT INTO tokens SELECT %Q, no, 0 FROM executions WHERE arn=%Q;",
                                live11, r.arn, live11, r.arn, old11, r.arn);
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, sql, NULL, NULL, NULL));
    sqlite3_free(sql);
    TT_EQ_INT(11, sql_int(db, "PRAGMA user_version"));
    sqlite3_close(db);

    dwf_service_opts o = {.path = path, .clock = clock_fn};
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) return;
    TT_EQ_INT(0, state_with(s, r.arn, old11));
    TT_EQ_INT(0, state_with(s, r.arn, live11));
    TT_EQ_INT(-1, state_with(s, r.arn, "99999999-7777-4888-9999-aaaaaaaaaaaa"));
    snprintf(r.token, sizeof r.token, "%s", old11);
    TT_EQ_INT(-1, ckpt(s, &r, "[]", NULL, &err));
    TT_EQ_STR("Invalid Checkpoint Token: the token is not current for this execution.", err.message);
    snprintf(r.token, sizeof r.token, "%s", live11);
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"2\"}]", NULL, &err));
    TT_ASSERT(strchr(r.token, '.') != NULL && strstr(r.token, ".1.") != NULL);
    TT_EQ_INT(0, state_with(s, r.arn, r.token));
    TT_EQ_INT(0, state_with(s, r.arn, old11));
    cJSON *done = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"3\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, done, NULL, &err));
    cJSON_Delete(done);
    char st[32];
    TT_EQ_STR("SUCCEEDED", status_of(s, r.arn, st));
    dwf_service_close(s);
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(16, sql_int(db, "PRAGMA user_version"));
    TT_EQ_INT(64, sql_int(db, "SELECT length(value) FROM meta WHERE key='token_key'"));
    TT_EQ_INT(2, sql_int(db, "SELECT COUNT(*) FROM tokens")); /* nothing written there since */
    sqlite3_close(db);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("cleanup of %s failed\n", dir);
}

/* The `outside` flag of an operation's row (schema 13), read beside the open service; -1: no row. */
static int outside_of(const char *arn, const char *op_id)
{
    sqlite3 *db = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK) return -1;
    char *sql = sqlite3_mprintf("SELECT o.outside FROM operations o JOIN executions x ON x.no=o.exec_no"
                                " WHERE x.arn=%Q AND o.op_id=%Q",
                                arn, op_id);
    int v = sql_int(db, sql);
    sqlite3_free(sql);
    sqlite3_close(db);
    return v;
}

/* Only the operations changed outside their own execution's checkpoints are in the index by
 * change stamp (schema 13), and they are what the handler hears of: the start's EXECUTION
 * operation, a WAIT a timer ended, a chained invoke its child's checkpoint ended (written by
 * another execution's request); a step the handler checkpointed is not (it had it in the
 * answer), and a later poll does not hand it back. */
static void test_changes_outside(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "caller", 600, 1);
    register_fn(s, "target", 600, 1);
    run r;
    TT_EQ_INT(0, start(s, "caller", "\"{}\"", &r));
    dwf_error err;
    cJSON *out = NULL;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"START\"},"
                             "{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":1}}]",
                      NULL, &err));
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"a\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"1\"}]", &out, &err));
    TT_EQ_INT(1, cJSON_GetArraySize(new_ops(out)));
    cJSON_Delete(out);
    TT_EQ_INT(1, outside_of(r.arn, r.exec_id));
    TT_EQ_INT(0, outside_of(r.arn, "a"));
    TT_EQ_INT(0, outside_of(r.arn, "w"));
    TT_EQ_INT(0, ckpt(s, &r, "[]", &out, &err));
    TT_EQ_INT(0, cJSON_GetArraySize(new_ops(out)));
    cJSON_Delete(out);
    vclock += 1000;
    TT_EQ_INT(0, dwf_service_fire_timers(s, r.arn, NULL, &err));
    TT_EQ_INT(1, outside_of(r.arn, "w"));
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"inv\",\"Type\":\"CHAINED_INVOKE\",\"Action\":\"START\","
                             "\"ChainedInvokeOptions\":{\"FunctionName\":\"target\"}}]",
                      &out, &err));
    TT_EQ_INT(2, cJSON_GetArraySize(new_ops(out))); /* the timer's w and its own inv */
    TT_EQ_STR("SUCCEEDED", S(find_op(new_ops(out), "w"), "Status"));
    TT_EQ_STR("STARTED", S(find_op(new_ops(out), "inv"), "Status"));
    cJSON_Delete(out);
    TT_EQ_INT(0, outside_of(r.arn, "inv"));
    cJSON *pending = J("{\"Status\":\"PENDING\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, pending, NULL, &err));
    cJSON_Delete(pending);
    /* the child ends by its own checkpoint, which writes the caller's inv */
    run c;
    child_of(s, r.arn, "inv", c.arn);
    TT_ASSERT(c.arn[0] != '\0');
    cJSON *ev = NULL;
    TT_EQ_INT(0, dwf_service_begin_invocation(s, c.arn, &ev, c.req, &err));
    snprintf(c.token, sizeof c.token, "%s", S(ev, "CheckpointToken"));
    cJSON *ops = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev, "InitialExecutionState"), "Operations");
    snprintf(c.exec_id, sizeof c.exec_id, "%s", S(cJSON_GetArrayItem(ops, 0), "Id"));
    cJSON_Delete(ev);
    TT_EQ_INT(1, outside_of(c.arn, c.exec_id)); /* written by the caller's request */
    char *upd = sqlite3_mprintf("[{\"Id\":\"%s\",\"Type\":\"EXECUTION\",\"Action\":\"SUCCEED\",\"Payload\":\"7\"}]", c.exec_id);
    TT_EQ_INT(0, ckpt(s, &c, upd, NULL, &err));
    sqlite3_free(upd);
    TT_EQ_INT(1, outside_of(r.arn, "inv"));
    TT_EQ_INT(0, outside_of(c.arn, c.exec_id));
    TT_EQ_INT(0, dwf_service_begin_invocation(s, r.arn, &ev, r.req, &err));
    cJSON *ids = cJSON_GetObjectItemCaseSensitive(ev, "UpdatedOperationIds");
    TT_EQ_INT(1, cJSON_GetArraySize(ids));
    TT_EQ_STR("inv", cJSON_GetArrayItem(ids, 0) ? cJSON_GetArrayItem(ids, 0)->valuestring : NULL);
    cJSON_Delete(ev);
    close_store(s);
}

/* A store of version 12 (every operation in the index by change stamp) holding a finished
 * execution and one in the middle of an invocation is brought to 13 (and 14) when opened: every row
 * comes out the same and stays in the index (flagged outside, as the whole index held them),
 * the running execution's next checkpoint hands back none of them, and what it writes itself
 * stays out of the index. */
static void test_schema_upgrade_from_12(void)
{
    run r;
    dwf_service *s = finished_and_running(&r, NULL, 0);
    if (!s) return;
    dwf_error err;
    dwf_service_close(s);
    sqlite3 *db = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    char *want[R_N], *got[R_N];
    rows_all(db, 0, want);
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, TO_VERSION_12, NULL, NULL, NULL));
    TT_EQ_INT(12, sql_int(db, "PRAGMA user_version"));
    int nops = sql_int(db, "SELECT COUNT(*) FROM operations");
    TT_ASSERT(nops >= 5);
    rows_all(db, 2, got);
    rows_same(want, got);
    sqlite3_close(db);

    dwf_service_opts o = {.path = path, .clock = clock_fn};
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) return;
    dwf_service_close(s);
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(16, sql_int(db, "PRAGMA user_version"));
    TT_EQ_INT(nops, sql_int(db, "SELECT COUNT(*) FROM operations WHERE outside=1"));
    TT_EQ_INT(1, sql_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND name='operations_change'"
                             " AND sql LIKE '%WHERE outside=1'"));
    TT_EQ_INT(nops, sql_int(db, "SELECT COUNT(*) FROM operations INDEXED BY operations_change"
                                " WHERE exec_no>0 AND change_seq>=0 AND outside=1"));
    rows_all(db, 0, got);
    rows_same(want, got);
    sqlite3_close(db);
    for (int i = 0; i < R_N; i++) free(want[i]);

    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) return;
    cJSON *out = NULL;
    TT_EQ_INT(0, ckpt(s, &r, "[]", &out, &err));
    TT_EQ_INT(0, cJSON_GetArraySize(new_ops(out)));
    cJSON_Delete(out);
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"2\"}]", &out, &err));
    TT_EQ_INT(1, cJSON_GetArraySize(new_ops(out)));
    TT_EQ_STR("SUCCEEDED", S(find_op(new_ops(out), "b"), "Status"));
    cJSON_Delete(out);
    TT_EQ_INT(0, outside_of(r.arn, "b"));
    TT_EQ_INT(1, outside_of(r.arn, "a"));
    cJSON *done = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"3\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, done, NULL, &err));
    cJSON_Delete(done);
    char st[32];
    TT_EQ_STR("SUCCEEDED", status_of(s, r.arn, st));
    close_store(s);
}

/* A store of version 13 (timers a rowid table beside the index of its key) whose running
 * execution waits (its WAIT's timer and its timeout's) is brought to 14 when opened: timers is
 * the b-tree of its key, WITHOUT ROWID, with the same rows and timers_due; the wait's timer
 * fires on time and the execution finishes, leaving no timer. */
static void test_schema_upgrade_from_13(void)
{
    dwf_service *s = open_store(0);
    if (!s) return;
    register_fn(s, "fn", 600, 1);
    run r;
    TT_EQ_INT(0, start(s, "fn", "\"{}\"", &r));
    dwf_error err;
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":10}}]", NULL, &err));
    cJSON *pending = J("{\"Status\":\"PENDING\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, pending, NULL, &err));
    cJSON_Delete(pending);
    dwf_service_close(s);
#define ROWS_TIMERS "SELECT exec_id, op_id, kind, due_ms FROM timers ORDER BY exec_id, op_id, kind"
#define TIMERS_NO_ROWID "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name='timers' AND sql LIKE '%WITHOUT ROWID'"
    sqlite3 *db = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(1, sql_int(db, TIMERS_NO_ROWID));
    char *want = rows_text(db, ROWS_TIMERS);
    TT_ASSERT(want && strstr(want, "|w|WAIT|") != NULL && strstr(want, "EXECUTION_TIMEOUT") != NULL);
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, TO_VERSION_13, NULL, NULL, NULL));
    TT_EQ_INT(13, sql_int(db, "PRAGMA user_version"));
    TT_EQ_INT(0, sql_int(db, TIMERS_NO_ROWID));
    char *got = rows_text(db, ROWS_TIMERS);
    TT_ASSERT(want && got && strcmp(want, got) == 0);
    free(got);
    sqlite3_close(db);

    dwf_service_opts o = {.path = path, .clock = clock_fn};
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) {
        free(want);
        return;
    }
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(16, sql_int(db, "PRAGMA user_version"));
    TT_EQ_INT(1, sql_int(db, TIMERS_NO_ROWID));
    TT_EQ_INT(0, sql_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('timers_v14','tim13')"));
    TT_EQ_INT(1, sql_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND name='timers_due'"));
    got = rows_text(db, ROWS_TIMERS);
    TT_ASSERT(want && got && strcmp(want, got) == 0);
    free(got);
    free(want);
    sqlite3_close(db);
    int fired = 0;
    vclock += 9000;
    TT_EQ_INT(0, dwf_service_fire_timers(s, NULL, &fired, &err));
    TT_EQ_INT(0, fired);
    vclock += 1000;
    TT_EQ_INT(0, dwf_service_fire_timers(s, NULL, &fired, &err));
    TT_EQ_INT(1, fired);
    cJSON *w = op_of(s, r.arn, "w");
    TT_EQ_STR("SUCCEEDED", S(w, "Status"));
    cJSON_Delete(w);
    cJSON *ev = NULL;
    TT_EQ_INT(0, dwf_service_begin_invocation(s, r.arn, &ev, r.req, &err));
    cJSON_Delete(ev);
    cJSON *done = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"1\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, done, NULL, &err));
    cJSON_Delete(done);
    char st[32];
    TT_EQ_STR("SUCCEEDED", status_of(s, r.arn, st));
    dwf_service_close(s);
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(0, sql_int(db, "SELECT COUNT(*) FROM timers"));
    sqlite3_close(db);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("cleanup of %s failed\n", dir);
}

/* The indexes of version 15 that hold only running executions (or only those with a parent). */
#define PARTIAL_INDEXES                                                                            \
    "SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND ((name IN"                          \
    " ('executions_status','executions_offset','executions_root')"                                 \
    " AND sql LIKE '%WHERE status=''RUNNING''') OR (name='executions_parent'"                      \
    " AND sql LIKE '%WHERE parent_arn IS NOT NULL'))"
/* The running executions as the index of running executions by start has them. */
#define RUNNING_BY_INDEX                                                                           \
    "SELECT COUNT(*) FROM executions INDEXED BY executions_status WHERE status=" DWF__SQL_RUNNING   \
    " AND start_ms>-1e300"

/* A store of version 14 (every execution in the indexes by status, clock offset, root and
 * parent) holding a finished execution and one in the middle of an invocation is brought to 15
 * when opened: those indexes hold only the running execution (the parent index none: neither has
 * a parent), the rows are the same and the store is consistent; the scheduler's query finds the
 * running execution through them, and once it finishes they hold nothing. The literal the
 * queries name is the status's own name. */
static void test_schema_upgrade_from_14(void)
{
    char quoted[32];
    snprintf(quoted, sizeof quoted, "'%s'", dwf_execstatus_name(DWF_EXECSTATUS_RUNNING));
    TT_EQ_STR(DWF__SQL_RUNNING, quoted);
    run r;
    dwf_service *s = finished_and_running(&r, NULL, 0);
    if (!s) return;
    dwf_error err;
    dwf_service_close(s);
    sqlite3 *db = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(4, sql_int(db, PARTIAL_INDEXES));
    char *want[R_N];
    rows_all(db, 0, want);
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, TO_VERSION_14, NULL, NULL, NULL));
    TT_EQ_INT(14, sql_int(db, "PRAGMA user_version"));
    TT_EQ_INT(0, sql_int(db, PARTIAL_INDEXES));
    TT_EQ_INT(2, sql_int(db, "SELECT COUNT(*) FROM executions INDEXED BY executions_status WHERE status>''"));
    sqlite3_close(db);

    dwf_service_opts o = {.path = path, .clock = clock_fn};
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) {
        for (int i = 0; i < R_N; i++) free(want[i]);
        return;
    }
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(16, sql_int(db, "PRAGMA user_version"));
    TT_EQ_INT(4, sql_int(db, PARTIAL_INDEXES));
    TT_EQ_INT(2, sql_int(db, "SELECT COUNT(*) FROM executions"));
    TT_EQ_INT(1, sql_int(db, RUNNING_BY_INDEX));
    TT_EQ_INT(0, sql_int(db, "SELECT COUNT(*) FROM executions INDEXED BY executions_parent WHERE parent_arn>''"));
    upgraded_same(db, want);
    sqlite3_close(db);
    /* the open invocation is stale at once with stale_ms 0: runnable, found through the index */
    cJSON *rn = NULL;
    TT_EQ_INT(0, dwf_service_runnable(s, NULL, 0, &rn, &err));
    TT_EQ_INT(1, cJSON_GetArraySize(rn));
    cJSON *first = cJSON_GetArrayItem(rn, 0);
    TT_EQ_STR(r.arn, cJSON_IsString(first) ? first->valuestring : "");
    cJSON_Delete(rn);
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"2\"}]", NULL, &err));
    cJSON *done = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"3\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, done, NULL, &err));
    cJSON_Delete(done);
    char st[32];
    TT_EQ_STR("SUCCEEDED", status_of(s, r.arn, st));
    dwf_service_close(s);
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(0, sql_int(db, RUNNING_BY_INDEX));
    integrity_ok(db);
    sqlite3_close(db);
    remove_store_dir();
}

/* Every event of arn read `limit` at a time (reversed: from the last), as their EventIds and
 * types ("1 ExecutionStarted,2 StepStarted,..."), or NULL. */
static char *history_paged(dwf_service *s, const char *arn, int limit, int reverse)
{
    size_t cap = 4096, len = 0;
    char *out = malloc(cap), marker[64] = "";
    if (!out) return NULL;
    out[0] = 0;
    for (int pages = 0; pages < 1000; pages++) {
        cJSON *h = NULL;
        dwf_error err;
        if (dwf_service_get_history(s, arn, 1, limit, marker[0] ? marker : NULL, reverse, &h, &err) != 0) break;
        const cJSON *ev;
        cJSON_ArrayForEach(ev, cJSON_GetObjectItemCaseSensitive(h, "Events"))
        {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(ev, "EventId");
            if (len + 128 < cap)
                len += (size_t)snprintf(out + len, cap - len, "%d %s,", cJSON_IsNumber(id) ? id->valueint : -1,
                                        S(ev, "EventType") ? S(ev, "EventType") : "?");
        }
        const char *next = S(h, "NextMarker");
        snprintf(marker, sizeof marker, "%s", next ? next : "");
        cJSON_Delete(h);
        if (!next) return out;
    }
    free(out);
    return NULL;
}

/* A store of version 15 (operations and events in a table each, keyed by start sequence and by
 * EventId) holding a finished execution and one in the middle of an invocation is brought to 16
 * when opened: the events become rows of the operations table after its operations, which keep
 * their keys; the operations and events read the same (rows, the state, the history forwards,
 * backwards and a page at a time), the store is consistent, and the running execution goes on:
 * its next operations and events are added after the ones it had (no key taken twice), its
 * EventIds go on from its count, and its history pages still hold every event once. */
static void test_schema_upgrade_from_15(void)
{
    run r;
    dwf_service *s = finished_and_running(&r, NULL, 0);
    if (!s) return;
    dwf_error err;
    char *hist = history_text(s, r.arn), *fwd = history_paged(s, r.arn, 2, 0), *back = history_paged(s, r.arn, 3, 1);
    TT_ASSERT(hist && fwd && back);
    TT_ASSERT(fwd && strncmp(fwd, "1 ExecutionStarted,", 19) == 0);
    dwf_service_close(s);
    sqlite3 *db = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(16, sql_int(db, "PRAGMA user_version"));
    TT_EQ_INT(0, sql_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name='events'"));
    char *want[R_N], *got[R_N];
    rows_all(db, 0, want);
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, TO_VERSION_15, NULL, NULL, NULL));
    TT_EQ_INT(15, sql_int(db, "PRAGMA user_version"));
    /* as version 15 kept them: operations numbered below op_count, events by EventId */
    TT_EQ_INT(0, sql_int(db, "SELECT COUNT(*) FROM operations o JOIN executions x ON x.no=o.exec_no"
                             " WHERE o.start_seq>=x.op_count"));
    TT_EQ_INT(0, sql_int(db, "SELECT COUNT(*) FROM events v JOIN executions x ON x.no=v.exec_no"
                             " WHERE v.event_id>x.event_count OR v.event_id<1"));
    int nops = sql_int(db, "SELECT COUNT(*) FROM operations"), nev = sql_int(db, "SELECT COUNT(*) FROM events");
    TT_ASSERT(nops >= 5 && nev >= 8);
    rows_all(db, 2, got);
    rows_same(want, got); /* the version-15 store holds the same */
    sqlite3_close(db);

    dwf_service_opts o = {.path = path, .clock = clock_fn};
    TT_EQ_INT(0, dwf_service_open(&o, &s, &err));
    if (!s) {
        for (int i = 0; i < R_N; i++) free(want[i]);
        free(hist), free(fwd), free(back);
        return;
    }
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(16, sql_int(db, "PRAGMA user_version"));
    TT_EQ_INT(0, sql_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('events','operations_v16')"));
    TT_EQ_INT(1, sql_int(db, "SELECT COUNT(*) FROM sqlite_master WHERE type='index' AND name='operations_id'"
                             " AND sql LIKE '%WHERE op_id IS NOT NULL'"));
    TT_EQ_INT(nops, sql_int(db, "SELECT COUNT(*) FROM operations WHERE op_id IS NOT NULL"));
    TT_EQ_INT(nev, sql_int(db, "SELECT COUNT(*) FROM operations WHERE op_id IS NULL"));
    /* each event after its execution's operations, at op_count + EventId - 1, in neither index */
    TT_EQ_INT(nev, sql_int(db, "SELECT COUNT(*) FROM operations v JOIN executions x ON x.no=v.exec_no"
                               " WHERE v.op_id IS NULL AND v.start_seq=x.op_count+v.event_id-1 AND v.outside=0"
                               " AND v.type IS NULL AND v.change_seq IS NULL"));
    TT_EQ_INT(nops, sql_int(db, "SELECT COUNT(*) FROM operations INDEXED BY operations_id WHERE exec_no>0 AND op_id>''"));
    upgraded_same(db, want);
    sqlite3_close(db);

    char *after = history_text(s, r.arn), *fwd2 = history_paged(s, r.arn, 2, 0), *back2 = history_paged(s, r.arn, 3, 1);
    TT_ASSERT(hist && after && strcmp(hist, after) == 0);
    TT_ASSERT(fwd && fwd2 && strcmp(fwd, fwd2) == 0);
    TT_ASSERT(back && back2 && strcmp(back, back2) == 0);
    free(after), free(fwd2), free(back2);
    cJSON *page = NULL;
    TT_EQ_INT(0, dwf_service_get_state(s, r.arn, r.token, NULL, 2, &page, &err));
    TT_EQ_INT(2, cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(page, "Operations")));
    TT_ASSERT(S(page, "NextMarker") != NULL);
    cJSON_Delete(page);

    /* the running execution goes on: new rows after the upgraded ones */
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"b\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"2\"},"
                            "{\"Id\":\"c\",\"Type\":\"STEP\",\"Action\":\"START\",\"Name\":\"three\"}]", NULL, &err));
    TT_EQ_INT(0, ckpt(s, &r, "[{\"Id\":\"c\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"3\"}]", NULL, &err));
    cJSON *done = J("{\"Status\":\"SUCCEEDED\",\"Result\":\"6\"}");
    TT_EQ_INT(0, dwf_service_end_invocation(s, r.arn, r.req, vclock, done, NULL, &err));
    cJSON_Delete(done);
    char st[32];
    TT_EQ_STR("SUCCEEDED", status_of(s, r.arn, st));
    cJSON *ops = NULL;
    TT_EQ_INT(0, dwf_service_operations(s, r.arn, &ops, &err));
    int n = cJSON_GetArraySize(ops);
    TT_ASSERT(n >= 4);
    TT_EQ_STR("a", n >= 4 ? S(cJSON_GetArrayItem(ops, n - 3), "Id") : "");
    TT_EQ_STR("c", n >= 4 ? S(cJSON_GetArrayItem(ops, n - 1), "Id") : "");
    TT_EQ_STR("SUCCEEDED", n >= 4 ? S(cJSON_GetArrayItem(ops, n - 1), "Status") : "");
    cJSON_Delete(ops);
    /* every event once, in EventId order, read whole and a page at a time both ways */
    char *all = history_paged(s, r.arn, 1000, 0), *by2 = history_paged(s, r.arn, 2, 0), *rev = history_paged(s, r.arn, 3, 1);
    TT_ASSERT(all && by2 && rev && strcmp(all, by2) == 0);
    TT_ASSERT(all && fwd && strncmp(all, fwd, strlen(fwd)) == 0); /* the old events first, unchanged */
    TT_ASSERT(all && strstr(all, "StepSucceeded,") != NULL && strstr(all, "ExecutionSucceeded,") != NULL);
    int count = 0, in_order = 1, prev = 0;
    for (const char *p = all; p && *p;) {
        int id = atoi(p);
        in_order &= id == prev + 1;
        prev = id;
        count++;
        p = strchr(p, ',');
        if (p) p++;
    }
    int had = 0;
    for (const char *p = fwd; p && *p; p++) had += *p == ',';
    TT_ASSERT(in_order);
    TT_ASSERT(had >= 4 && count >= had + 4); /* StepSucceeded, StepStarted, StepSucceeded, ExecutionSucceeded */
    /* reversed: the same events, last first */
    int rcount = 0, rprev = count + 1, rorder = 1;
    for (const char *p = rev; p && *p;) {
        int id = atoi(p);
        rorder &= id == rprev - 1;
        rprev = id;
        rcount++;
        p = strchr(p, ',');
        if (p) p++;
    }
    TT_ASSERT(rorder);
    TT_EQ_INT(count, rcount);
    free(all), free(by2), free(rev), free(hist), free(fwd), free(back);
    dwf_service_close(s);
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    char *q = sqlite3_mprintf("SELECT COUNT(*) FROM operations v JOIN executions x ON x.no=v.exec_no"
                              " WHERE v.op_id IS NULL AND x.arn=%Q AND v.event_id<=x.event_count", r.arn);
    TT_EQ_INT(count, sql_int(db, q));
    sqlite3_free(q);
    integrity_ok(db);
    sqlite3_close(db);
    remove_store_dir();
}

/* An upgrade that fails part-way (here: a store claiming schema 11 without its tables) is refused
 * with SQLite's own reason, read before the upgrade's ROLLBACK, and leaves the store as it was. */
static void test_schema_upgrade_fails_named(void)
{
    snprintf(dir, sizeof dir, "/tmp/dwf_test_svc_XXXXXX");
    if (!mkdtemp(dir)) return;
    snprintf(path, sizeof path, "%s/dwf.db", dir);
    sqlite3 *db = NULL;
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(SQLITE_OK, sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA user_version=11;", NULL, NULL, NULL));
    sqlite3_close(db);
    dwf_service_opts o = {.path = path, .clock = clock_fn};
    dwf_service *s = NULL;
    dwf_error err;
    TT_EQ_INT(-1, dwf_service_open(&o, &s, &err));
    TT_ASSERT(s == NULL);
    TT_EQ_STR("ServiceException", err.type);
    TT_ASSERT(strstr(err.message, "no such table") != NULL);
    TT_ASSERT(strstr(err.message, "not an error") == NULL);
    TT_EQ_INT(SQLITE_OK, sqlite3_open(path, &db));
    TT_EQ_INT(11, sql_int(db, "PRAGMA user_version"));
    TT_EQ_INT(0, sql_int(db, "SELECT COUNT(*) FROM sqlite_master"));
    sqlite3_close(db);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) printf("cleanup of %s failed\n", dir);
}

int main(void)
{
    TT_RUN(test_start_and_event);
    TT_RUN(test_start_reads_the_config_each_time);
    TT_RUN(test_schema_upgrade_fails_named);
    TT_RUN(test_tokens_proven);
    TT_RUN(test_token_known_answer);
    TT_RUN(test_schema_upgrade_from_11);
    TT_RUN(test_schema_upgrade_from_12);
    TT_RUN(test_schema_upgrade_from_13);
    TT_RUN(test_schema_upgrade_from_14);
    TT_RUN(test_schema_upgrade_from_15);
    TT_RUN(test_changes_outside);
    TT_RUN(test_idempotent_start);
    TT_RUN(test_checkpoint_validation);
    TT_RUN(test_checkpoint_events_held);
    TT_RUN(test_rules_per_type);
    TT_RUN(test_step_states);
    TT_RUN(test_wait_timer_and_delta);
    TT_RUN(test_dirty_reinvoke);
    TT_RUN(test_request_holds_its_operations);
    TT_RUN(test_json_print_as_cjson);
    TT_RUN(test_callbacks);
    TT_RUN(test_callback_timeout);
    TT_RUN(test_callback_during_invocation);
    TT_RUN(test_faults_stop_timeout);
    TT_RUN(test_paging);
    TT_RUN(test_new_store_opened_twice_at_once);
    TT_RUN(test_chained_invoke);
    TT_RUN(test_runnable_marks);
    TT_RUN(test_execution_checkpoint);
    TT_RUN(test_retention);
    TT_RUN(test_store_errors);
    TT_RUN(test_all_event_types);
    TT_RUN(test_dead_invocation_owner);
    TT_RUN(test_runnable_pages);
    TT_RUN(test_cost_independent_of_store_size);
    TT_RUN(test_thousand_after_ten_thousand);
    TT_RUN(test_serve_cache_holds_working_set);
    TT_RUN(test_save_writes_changed_columns);
    TT_RUN(test_group_commit);
    TT_RUN(test_begin_invocation_unflushed);
    TT_RUN(test_end_invocation_unflushed);
    TT_RUN(test_batch_one_transaction);
    TT_RUN(test_batch_call_fails_alone);
    TT_RUN(test_batch_commit_fails);
    TT_RUN(test_kept_rows_follow_other_writers);
    TT_RUN(test_kept_rows_dropped_by_rollback);
    TT_RUN(test_kept_operation_parsed);
    TT_RUN(test_kept_ids_follow_other_writers);
    TT_RUN(test_timer_note_follows_writers);
    TT_RUN(test_sync_wakes_own_batch_only);
    TT_RUN(test_sync_failed_flush_wakes_all);
    TT_RUN(test_sync_failed_commit_wakes_its_waiters);
    TT_RUN(test_sync_orphan_batch_reader);
    TT_RUN(test_sync_nowait_call);
    TT_RUN(test_open_flushes_only_what_needs_it);
    TT_RUN(test_log_kept_at_working_size);
    TT_RUN(test_log_checkpoints_at_working_size);
    TT_RUN(test_log_write_fails_full);
    TT_RUN(test_log_write_fails_ioerr);
    TT_RUN(test_sqlite_mem_cache);
    TT_RUN(test_put_function_unchanged_writes_nothing);
    TT_RUN(test_uuid_v4);
    TT_RUN(test_owner_self_after_fork);
    TT_RUN(test_schema_upgrade);
    TT_RUN(test_schema_upgrade_from_9);
    TT_RUN(test_schema_upgrade_from_10);
    return TT_EXIT();
}
