/*
 * service.c: the durable execution service's state machine (durable-protocol.md sections 3,
 * 6 and 7), written once for every local host.
 *
 * The state lives in the store (store.c), never in memory: each public call locks the handle,
 * opens one SQLite transaction, loads the rows it needs, applies the protocol's rules and
 * commits, or rolls everything back on the first error so a rejected request leaves no trace.
 * That makes the core callable from the engine, from the CLI of another process and from an
 * HTTP server alike, and it makes a crash at any instant lose nothing that was acknowledged.
 *
 * Deltas: every write of an operation row bumps the execution's change counter (seq) and
 * stamps the row with it; the execution remembers the counter the handler has seen
 * (seen_seq). A checkpoint answers every row stamped after seen_seq, which includes what
 * timers and callbacks changed in between, and an invocation that returns PENDING while such
 * unseen changes exist is re-invoked at once (the emulator's "dirty" rule).
 *
 * Time comes from a clock function so tests and --skip-time use a virtual clock. Operation
 * timestamps are stored as epoch seconds (the REST form); invocation events convert them to
 * ISO-8601 strings (the Lambda event form).
 */
#include "service.h"
#include "store.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define MAX_STEP_PAYLOAD 262144
#define MAX_INVOKE_PAYLOAD 1048576
#define MAX_EXEC_PAYLOAD 6291456
#define MAX_ERROR_JSON 32768
#define MAX_DELAY_S 31622400.0
#define MAX_CALLBACK_TIMEOUT 99999999.0

struct dwf_service {
    dwf__store *st;
    dwf_clock_fn clock;
    void *clock_arg;
    double offset_ms; /* the store clock's virtual offset (meta clock_offset_ms) */
    char region[32], account[32];
    int max_inv, event_page;
    pthread_mutex_t mu;
};

static const char *const IPVE = "InvalidParameterValueException";
static const char *const RNFE = "ResourceNotFoundException";

/* ---- small helpers ------------------------------------------------------------------------ */
static int fail(dwf_error *err, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(dwf_error *err, const char *type, const char *fmt, ...)
{
    if (err) {
        snprintf(err->type, sizeof err->type, "%s", type);
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int oom(dwf_error *err) { return fail(err, "ServiceException", "out of memory"); }

static double real_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000);
}

double dwf_service_now(dwf_service *s)
{
    if (s->clock) return s->clock(s->clock_arg);
    return floor(real_now_ms() + s->offset_ms);
}

static void new_uuid(char out[40])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) {
        /* RAND_bytes only fails without an entropy source; fall back to time and address. */
        unsigned long long t = (unsigned long long)real_now_ms() ^ (unsigned long long)(uintptr_t)out;
        for (int i = 0; i < 16; i++) b[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)rand();
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, 40, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void iso_time(double ms, char out[64])
{
    time_t sec = (time_t)floor(ms / 1000.0);
    int milli = (int)(ms - (double)sec * 1000.0);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli < 0 ? 0 : milli > 999 ? 999 : milli);
}

static const char *jstr(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* obj[key] = item, replacing; takes item. Returns 0, or -1 (item freed) on failure. */
static int jset(cJSON *obj, const char *key, cJSON *item)
{
    if (!obj || !item) {
        cJSON_Delete(item);
        return -1;
    }
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item) ? 0 : (cJSON_Delete(item), -1);
    return cJSON_AddItemToObject(obj, key, item) ? 0 : (cJSON_Delete(item), -1);
}

static int jset_str(cJSON *obj, const char *key, const char *v)
{
    return v ? jset(obj, key, cJSON_CreateString(v)) : 0;
}

static int jset_num(cJSON *obj, const char *key, double v) { return jset(obj, key, cJSON_CreateNumber(v)); }

static int jset_ts(cJSON *obj, const char *key, double ms) { return jset_num(obj, key, ms / 1000.0); }

/* obj[key] as an object, created if missing (NULL on failure). */
static cJSON *jobj(cJSON *obj, const char *key)
{
    cJSON *o = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (cJSON_IsObject(o)) return o;
    o = cJSON_CreateObject();
    return jset(obj, key, o) == 0 ? o : NULL;
}

static cJSON *jdup(const cJSON *v) { return v ? cJSON_Duplicate(v, 1) : NULL; }

/* {Payload, Truncated} as history events carry payloads. */
static cJSON *wrap_payload(const char *payload)
{
    cJSON *w = cJSON_CreateObject();
    int bad = !w;
    if (payload) bad |= jset_str(w, "Payload", payload);
    bad |= jset(w, "Truncated", cJSON_CreateFalse());
    if (bad) {
        cJSON_Delete(w);
        return NULL;
    }
    return w;
}

static cJSON *wrap_error(const cJSON *errobj)
{
    cJSON *w = cJSON_CreateObject();
    int bad = !w;
    bad |= jset(w, "Payload", errobj ? cJSON_Duplicate(errobj, 1) : cJSON_CreateObject());
    bad |= jset(w, "Truncated", cJSON_CreateFalse());
    if (bad) {
        cJSON_Delete(w);
        return NULL;
    }
    return w;
}

static cJSON *error_object(const char *type, const char *message)
{
    cJSON *e = cJSON_CreateObject();
    int bad = !e;
    if (type) bad |= jset_str(e, "ErrorType", type);
    if (message) bad |= jset_str(e, "ErrorMessage", message);
    if (bad) {
        cJSON_Delete(e);
        return NULL;
    }
    return e;
}

static int valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 64) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 256) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return 0;
    return 1;
}

/* "arn:aws:lambda:r:a:function:NAME:QUAL", "NAME:QUAL" or "NAME" -> NAME. */
static void function_base(const char *fn, char out[256])
{
    const char *p = fn;
    if (strncmp(fn, "arn:", 4) == 0) {
        const char *f = strstr(fn, ":function:");
        p = f ? f + 10 : fn;
    }
    size_t n = strcspn(p, ":");
    if (n > 255) n = 255;
    memcpy(out, p, n);
    out[n] = '\0';
}

int dwf_service_function_of(const char *arn, char out[256])
{
    const char *f = strstr(arn, ":function:");
    if (!f) return -1;
    f += 10;
    size_t n = strcspn(f, ":/");
    if (n == 0 || n > 255) return -1;
    memcpy(out, f, n);
    out[n] = '\0';
    return 0;
}

/* ---- lock + clock ---------------------------------------------------------------------------- */
static void lock(dwf_service *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->clock) return;
    /* Another process may have moved the store clock (--skip-time): read the offset. */
    dwf_error ignored;
    sqlite3_stmt *q = dwf__sql_prepare(s->st, &ignored, "SELECT value FROM meta WHERE key='clock_offset_ms'", "");
    if (q && dwf__sql_step(s->st, q, &ignored) == 1) s->offset_ms = sqlite3_column_double(q, 0);
    dwf__sql_done(s->st, q);
}

static void unlock(dwf_service *s) { pthread_mutex_unlock(&s->mu); }

/* Roll back (if a transaction is open), unlock, return -1. */
static int abort_tx(dwf_service *s)
{
    dwf__store_rollback(s->st);
    unlock(s);
    return -1;
}

static int commit_tx(dwf_service *s, dwf_error *err)
{
    int r = dwf__store_commit(s->st, err);
    unlock(s);
    return r;
}

int dwf_service_advance_clock(dwf_service *s, double to_ms, dwf_error *err)
{
    if (s->clock) return 0;
    lock(s);
    double now = dwf_service_now(s);
    if (to_ms <= now) {
        unlock(s);
        return 0;
    }
    double off = s->offset_ms + (to_ms - now);
    if (dwf__store_begin(s->st, err) != 0) return abort_tx(s);
    char v[64];
    snprintf(v, sizeof v, "%.0f", off);
    if (dwf__sql_exec(s->st, err, "INSERT OR REPLACE INTO meta(key, value) VALUES('clock_offset_ms', ?1)", "s", v) != 0)
        return abort_tx(s);
    if (commit_tx(s, err) != 0) return -1;
    s->offset_ms = off;
    return 0;
}

/* ---- open / close ----------------------------------------------------------------------------- */
int dwf_service_open(const dwf_service_opts *o, dwf_service **out, dwf_error *err)
{
    *out = NULL;
    dwf_service_opts def = {0};
    if (!o) o = &def;
    dwf_service *s = calloc(1, sizeof *s);
    if (!s) return oom(err);
    s->clock = o->clock;
    s->clock_arg = o->clock_arg;
    snprintf(s->region, sizeof s->region, "%s", o->region ? o->region : "us-east-1");
    snprintf(s->account, sizeof s->account, "%s", o->account ? o->account : "000000000000");
    s->max_inv = o->max_invocation_attempts > 0 ? o->max_invocation_attempts : 3;
    s->event_page = o->event_page > 0 ? o->event_page : 1000;
    int busy = o->busy_timeout_ms;
    const char *env = getenv("DWF_BUSY_TIMEOUT_MS");
    if (busy <= 0 && env && atoi(env) > 0) busy = atoi(env);
    if (dwf__store_open(o->path ? o->path : ".dwf/dwf.db", busy, &s->st, err) != 0) {
        free(s);
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    if (!o->no_purge && dwf_service_purge_expired(s, NULL, err) != 0) {
        dwf_service_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void dwf_service_close(dwf_service *s)
{
    if (!s) return;
    dwf__store_close(s->st);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

const char *dwf_service_store_path(dwf_service *s) { return dwf__store_path(s->st); }

int dwf_service_http_status(const char *t)
{
    if (!t) return 500;
    if (strcmp(t, IPVE) == 0 || strcmp(t, "CallbackTimeoutException") == 0) return 400;
    if (strcmp(t, RNFE) == 0) return 404;
    if (strcmp(t, "DurableExecutionAlreadyStartedException") == 0 || strcmp(t, "ResourceConflictException") == 0)
        return 409;
    if (strcmp(t, "TooManyRequestsException") == 0) return 429;
    if (strncmp(t, "KMS", 3) == 0) return 502;
    if (strcmp(t, "StoreLockedException") == 0) return 503;
    return 500;
}

/* ---- operations, events, timers ------------------------------------------------------------- */
/* Load an operation: 0 found (*op new, caller frees), 1 absent, -1 error. */
static int op_load(dwf_service *s, const dwf__exec *e, const char *id, cJSON **op, long long *start_seq,
                   dwf_error *err)
{
    *op = NULL;
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, "SELECT json, start_seq FROM operations WHERE exec_id=?1 AND op_id=?2",
                                       "ss", e->id, id);
    if (!q) return -1;
    int r = dwf__sql_step(s->st, q, err);
    if (r == 1) {
        *op = cJSON_Parse((const char *)sqlite3_column_text(q, 0));
        if (start_seq) *start_seq = sqlite3_column_int64(q, 1);
        r = *op ? 0 : fail(err, "StoreCorruptException", "operation %s of %s is not valid JSON", id, e->arn);
    } else if (r == 0) {
        r = 1;
    }
    dwf__sql_done(s->st, q);
    return r;
}

/* Write an operation (*seqp < 0: a new one, next in start order, *seqp set); bumps the change counter. */
static int op_save(dwf_service *s, dwf__exec *e, const cJSON *op, long long *seqp, dwf_error *err)
{
    if (*seqp < 0) *seqp = e->op_count++;
    long long start_seq = *seqp;
    char *json = cJSON_PrintUnformatted(op);
    if (!json) return oom(err);
    int r = dwf__sql_exec(s->st, err,
                          "INSERT OR REPLACE INTO operations(exec_id, op_id, start_seq, change_seq, type, status, json)"
                          " VALUES(?1,?2,?3,?4,?5,?6,?7)",
                          "ssiisss", e->id, jstr(op, "Id"), start_seq, ++e->seq, jstr(op, "Type"),
                          jstr(op, "Status"), json);
    free(json);
    return r;
}

/* Append a history event; takes `details` (may be NULL = {}). `op` gives Id/Name/ParentId/SubType. */
static int event_add(dwf_service *s, dwf__exec *e, const char *type, const cJSON *op, cJSON *details,
                     dwf_error *err)
{
    cJSON *ev = cJSON_CreateObject();
    int bad = !ev;
    bad |= jset_str(ev, "EventType", type);
    bad |= jset_num(ev, "EventId", (double)(e->event_count + 1));
    bad |= jset_ts(ev, "EventTimestamp", dwf_service_now(s));
    if (op) {
        bad |= jset_str(ev, "Id", jstr(op, "Id"));
        bad |= jset_str(ev, "Name", jstr(op, "Name"));
        bad |= jset_str(ev, "ParentId", jstr(op, "ParentId"));
        bad |= jset_str(ev, "SubType", jstr(op, "SubType"));
    }
    char key[64];
    snprintf(key, sizeof key, "%sDetails", type);
    bad |= jset(ev, key, details ? details : cJSON_CreateObject());
    char *json = bad ? NULL : cJSON_PrintUnformatted(ev);
    cJSON_Delete(ev);
    if (!json) return oom(err);
    e->event_count++;
    int r = dwf__sql_exec(s->st, err, "INSERT INTO events(exec_id, event_id, json) VALUES(?1,?2,?3)", "sis", e->id,
                          e->event_count, json);
    free(json);
    return r;
}

/* The EXECUTION operation's identity for execution-level events: its Id, no Name (as the
 * SDK's testing service lists them). */
static cJSON *exec_event_op(const dwf__exec *e)
{
    cJSON *o = cJSON_CreateObject();
    if (o && jset_str(o, "Id", e->id)) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int exec_event(dwf_service *s, dwf__exec *e, const char *type, cJSON *details, dwf_error *err)
{
    cJSON *o = exec_event_op(e);
    if (!o) {
        cJSON_Delete(details);
        return oom(err);
    }
    int r = event_add(s, e, type, o, details, err);
    cJSON_Delete(o);
    return r;
}

static int timer_set(dwf_service *s, const dwf__exec *e, const char *op_id, const char *kind, double due,
                     dwf_error *err)
{
    return dwf__sql_exec(s->st, err, "INSERT OR REPLACE INTO timers(exec_id, op_id, kind, due_ms) VALUES(?1,?2,?3,?4)",
                         "sssd", e->id, op_id, kind, due);
}

static int timer_del(dwf_service *s, const dwf__exec *e, const char *op_id, const char *kind, dwf_error *err)
{
    return dwf__sql_exec(s->st, err, "DELETE FROM timers WHERE exec_id=?1 AND op_id=?2 AND (?3 IS NULL OR kind=?3)",
                         "sss", e->id, op_id, kind);
}

/* An external change (timer, callback, chained result): the handler must see it. While an
 * invocation runs, the delta of its next checkpoint carries it instead (see end_invocation). */
static void wake(dwf__exec *e)
{
    if (!e->inv_open) e->wake = 1;
}

static int issue_token(dwf_service *s, const dwf__exec *e, char out[40], dwf_error *err)
{
    new_uuid(out);
    if (dwf__sql_exec(s->st, err, "UPDATE tokens SET live=0 WHERE exec_id=?1 AND live=1", "s", e->id) != 0) return -1;
    return dwf__sql_exec(s->st, err, "INSERT INTO tokens(token, exec_id, issued_ms, live) VALUES(?1,?2,?3,1)", "ssd",
                         out, e->id, dwf_service_now(s));
}

/* 1 if the token was issued for this execution (live_only: and not consumed yet). */
static int token_ok(dwf_service *s, const dwf__exec *e, const char *token, int live_only, dwf_error *err)
{
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, "SELECT live FROM tokens WHERE token=?1 AND exec_id=?2", "ss",
                                       token, e->id);
    if (!q) return -1;
    int r = dwf__sql_step(s->st, q, err);
    if (r == 1) r = live_only ? sqlite3_column_int(q, 0) == 1 : 1;
    dwf__sql_done(s->st, q);
    return r;
}

/* ---- closing an execution --------------------------------------------------------------------- */
static int notify_parent(dwf_service *s, const dwf__exec *child, dwf_error *err);

static int is_terminal(const char *status) { return strcmp(status, "RUNNING") != 0; }

/* Finish an execution: status, result/error, EXECUTION op, the closing event, no more tokens,
 * timers or callbacks, and the caller of a chained invoke learns the outcome. */
static int exec_close(dwf_service *s, dwf__exec *e, const char *status, const char *result, const cJSON *errobj,
                      dwf_error *err)
{
    double now = dwf_service_now(s);
    char *errjson = errobj ? cJSON_PrintUnformatted(errobj) : NULL;
    if (errobj && !errjson) return oom(err);
    int bad = dwf__set_str(&e->status, status) | dwf__set_str(&e->result, result) | dwf__set_str(&e->error, errjson);
    free(errjson);
    if (bad) return oom(err);
    e->end_ms = now;
    e->wake = 0;
    cJSON *op = NULL;
    long long seq = -1;
    int r = op_load(s, e, e->id, &op, &seq, err);
    if (r < 0) return -1;
    if (r == 0) {
        bad = jset_str(op, "Status", status) | jset_ts(op, "EndTimestamp", now);
        r = bad ? oom(err) : op_save(s, e, op, &seq, err);
        cJSON_Delete(op);
        if (r != 0) return -1;
    }
    const char *ev = strcmp(status, "SUCCEEDED") == 0   ? "ExecutionSucceeded"
                     : strcmp(status, "FAILED") == 0    ? "ExecutionFailed"
                     : strcmp(status, "TIMED_OUT") == 0 ? "ExecutionTimedOut"
                                                        : "ExecutionStopped";
    cJSON *d = cJSON_CreateObject();
    bad = !d;
    if (strcmp(status, "SUCCEEDED") == 0) bad |= jset(d, "Result", wrap_payload(result));
    else bad |= jset(d, "Error", wrap_error(errobj));
    if (bad) {
        cJSON_Delete(d);
        return oom(err);
    }
    if (exec_event(s, e, ev, d, err) != 0) return -1;
    if (dwf__sql_exec(s->st, err, "UPDATE tokens SET live=0 WHERE exec_id=?1", "s", e->id) != 0 ||
        dwf__sql_exec(s->st, err, "DELETE FROM timers WHERE exec_id=?1", "s", e->id) != 0 ||
        dwf__sql_exec(s->st, err, "UPDATE callbacks SET state='CLOSED' WHERE exec_id=?1 AND state='OPEN'", "s", e->id) != 0)
        return -1;
    return notify_parent(s, e, err);
}

/* A chained-invoke target finished: complete the caller's CHAINED_INVOKE operation. */
static int notify_parent(dwf_service *s, const dwf__exec *child, dwf_error *err)
{
    if (!child->parent_arn || !child->parent_op) return 0;
    dwf__exec *p = NULL;
    int r = dwf__exec_load(s->st, child->parent_arn, &p, err);
    if (r != 0) return r < 0 ? -1 : 0;
    cJSON *op = NULL;
    long long seq = -1;
    if (is_terminal(p->status) || (r = op_load(s, p, child->parent_op, &op, &seq, err)) != 0 ||
        strcmp(jstr(op, "Status") ? jstr(op, "Status") : "", "STARTED") != 0) {
        cJSON_Delete(op);
        dwf__exec_free(p);
        return r < 0 ? -1 : 0;
    }
    const char *st = child->status, *ev;
    cJSON *det = cJSON_CreateObject(), *evd = cJSON_CreateObject();
    int bad = !det || !evd;
    if (strcmp(st, "SUCCEEDED") == 0) {
        ev = "ChainedInvokeSucceeded";
        bad |= jset_str(det, "Result", child->result);
        bad |= jset(evd, "Result", wrap_payload(child->result));
    } else {
        ev = strcmp(st, "FAILED") == 0 ? "ChainedInvokeFailed"
             : strcmp(st, "TIMED_OUT") == 0 ? "ChainedInvokeTimedOut" : "ChainedInvokeStopped";
        cJSON *eo = child->error ? cJSON_Parse(child->error) : NULL;
        if (!cJSON_IsObject(eo)) {
            cJSON_Delete(eo);
            eo = error_object(st, "The invoked durable execution did not succeed.");
        }
        bad |= !eo;
        bad |= jset(evd, "Error", wrap_error(eo));
        bad |= jset(det, "Error", eo);
    }
    bad |= jset(op, "ChainedInvokeDetails", det);
    bad |= jset_str(op, "Status", st);
    bad |= jset_ts(op, "EndTimestamp", dwf_service_now(s));
    if (bad) {
        cJSON_Delete(evd);
        r = oom(err);
    } else if ((r = op_save(s, p, op, &seq, err)) != 0) {
        cJSON_Delete(evd);
    } else if ((r = event_add(s, p, ev, op, evd, err)) == 0) { /* event_add takes evd */
        wake(p);
        r = dwf__exec_save(s->st, p, err);
    }
    cJSON_Delete(op);
    dwf__exec_free(p);
    return r;
}

/* ---- functions ------------------------------------------------------------------------------------ */
int dwf_service_put_function(dwf_service *s, const cJSON *fn, dwf_error *err)
{
    const char *name = jstr(fn, "FunctionName");
    if (!name || !*name) return fail(err, IPVE, "FunctionName is required.");
    char base[256];
    function_base(name, base);
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(fn, "DurableConfig");
    char *cj = cfg ? cJSON_PrintUnformatted(cfg) : NULL;
    if (cfg && !cj) return oom(err);
    lock(s);
    if (dwf__store_begin(s->st, err) != 0) {
        free(cj);
        return abort_tx(s);
    }
    int r = dwf__sql_exec(s->st, err,
                          "INSERT OR REPLACE INTO functions(name, handler, source, config, updated_ms) VALUES(?1,?2,?3,?4,?5)",
                          "ssssd", base, jstr(fn, "Handler"), jstr(fn, "Source"), cj, dwf_service_now(s));
    free(cj);
    if (r != 0) return abort_tx(s);
    return commit_tx(s, err);
}

/* 0 found (*out {FunctionName,Handler,Source,DurableConfig}), 1 absent, -1 error. No lock. */
static int function_load(dwf_service *s, const char *name, cJSON **out, dwf_error *err)
{
    char base[256];
    function_base(name, base);
    *out = NULL;
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, "SELECT handler, source, config FROM functions WHERE name=?1", "s", base);
    if (!q) return -1;
    int r = dwf__sql_step(s->st, q, err);
    if (r == 1) {
        cJSON *f = cJSON_CreateObject();
        int bad = !f || jset_str(f, "FunctionName", base);
        bad |= jset_str(f, "Handler", (const char *)sqlite3_column_text(q, 0));
        bad |= jset_str(f, "Source", (const char *)sqlite3_column_text(q, 1));
        const char *cj = (const char *)sqlite3_column_text(q, 2);
        cJSON *cfg = cj ? cJSON_Parse(cj) : NULL;
        bad |= jset(f, "DurableConfig", cfg ? cfg : cJSON_CreateObject());
        if (bad) {
            cJSON_Delete(f);
            r = oom(err);
        } else {
            *out = f;
            r = 0;
        }
    } else if (r == 0) {
        r = 1;
    }
    dwf__sql_done(s->st, q);
    return r;
}

int dwf_service_get_function(dwf_service *s, const char *name, cJSON **out, dwf_error *err)
{
    lock(s);
    int r = function_load(s, name, out, err);
    unlock(s);
    if (r == 1) return fail(err, RNFE, "Function not found: %s", name);
    return r;
}

/* ---- start ------------------------------------------------------------------------------------------ */
/* Inside a transaction. *out_e receives the (new or existing) execution; *already is set when
 * the name matched an execution with the same input. */
static int start_locked(dwf_service *s, const char *function_name, const char *name, const char *input,
                        const char *parent_arn, const char *parent_op, const char *root_arn, dwf__exec **out_e,
                        int *already, dwf_error *err)
{
    *out_e = NULL;
    *already = 0;
    if (!input) input = "{}";
    if (strlen(input) > MAX_EXEC_PAYLOAD)
        return fail(err, IPVE, "Request payload size must be less than or equal to %d bytes.", MAX_EXEC_PAYLOAD);
    if (name && !valid_id(name))
        return fail(err, IPVE, "Invalid DurableExecutionName: must be 1-64 characters [a-zA-Z0-9-_].");
    cJSON *fn = NULL;
    int r = function_load(s, function_name, &fn, err);
    if (r < 0) return -1;
    if (r == 1)
        return fail(err, RNFE, "Function not found: arn:aws:lambda:%s:%s:function:%s", s->region, s->account,
                    function_name);
    char base[256];
    snprintf(base, sizeof base, "%s", jstr(fn, "FunctionName"));
    const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(fn, "DurableConfig");
    const cJSON *ret = cJSON_GetObjectItemCaseSensitive(cfg, "RetentionPeriodInDays");
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(cfg, "ExecutionTimeout");
    int retention = cJSON_IsNumber(ret) && ret->valuedouble >= 1 ? (int)ret->valuedouble : 14;
    int timeout = cJSON_IsNumber(to) && to->valuedouble >= 1 ? (int)to->valuedouble : 86400;
    cJSON_Delete(fn);

    if (name) {
        dwf__exec *old = NULL;
        r = dwf__exec_load_by_name(s->st, base, name, &old, err);
        if (r < 0) return -1;
        if (r == 0) {
            if (strcmp(old->input ? old->input : "{}", input) != 0) {
                dwf__exec_free(old);
                return fail(err, "DurableExecutionAlreadyStartedException",
                            "Durable execution with name %s already exists with a different input.", name);
            }
            *out_e = old;
            *already = 1;
            return 0;
        }
    }
    char id[40];
    new_uuid(id);
    dwf__exec *e = calloc(1, sizeof *e);
    if (!e) return oom(err);
    char arn[512];
    snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:function:%s:$LATEST/durable-execution/%s/%s", s->region,
             s->account, base, name ? name : id, id);
    double now = dwf_service_now(s);
    int bad = dwf__set_str(&e->id, id) | dwf__set_str(&e->arn, arn) | dwf__set_str(&e->name, name ? name : id) |
              dwf__set_str(&e->function_name, base) | dwf__set_str(&e->status, "RUNNING") |
              dwf__set_str(&e->input, input) | dwf__set_str(&e->parent_arn, parent_arn) |
              dwf__set_str(&e->parent_op, parent_op) | dwf__set_str(&e->root_arn, root_arn ? root_arn : arn);
    if (bad) {
        dwf__exec_free(e);
        return oom(err);
    }
    e->start_ms = now;
    e->retention_days = retention;
    e->timeout_s = timeout;
    e->wake = 1;
    if (dwf__exec_insert(s->st, e, err) != 0) goto fail;
    cJSON *op = cJSON_CreateObject(), *d;
    bad = !op || jset_str(op, "Id", id) || jset_str(op, "Type", "EXECUTION") || jset_str(op, "Status", "STARTED") ||
          jset_ts(op, "StartTimestamp", now) || !(d = jobj(op, "ExecutionDetails")) || jset_str(d, "InputPayload", input);
    long long seq0 = -1;
    r = bad ? oom(err) : op_save(s, e, op, &seq0, err);
    cJSON_Delete(op);
    if (r != 0) goto fail;
    d = cJSON_CreateObject();
    bad = !d || jset(d, "Input", wrap_payload(input)) || jset_num(d, "ExecutionTimeout", timeout);
    if (bad) {
        cJSON_Delete(d);
        oom(err);
        goto fail;
    }
    if (exec_event(s, e, "ExecutionStarted", d, err) != 0) goto fail;
    if (timer_set(s, e, id, "EXECUTION_TIMEOUT", now + timeout * 1000.0, err) != 0) goto fail;
    if (dwf__exec_save(s->st, e, err) != 0) goto fail;
    *out_e = e;
    return 0;
fail:
    dwf__exec_free(e);
    return -1;
}

int dwf_service_start(dwf_service *s, const cJSON *req, cJSON **out, dwf_error *err)
{
    *out = NULL;
    const char *fn = jstr(req, "FunctionName");
    if (!fn || !*fn) return fail(err, IPVE, "FunctionName is required.");
    const cJSON *in = cJSON_GetObjectItemCaseSensitive(req, "Input");
    if (in && !cJSON_IsString(in)) return fail(err, IPVE, "Input must be a string payload.");
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(req, "DurableExecutionName");
    if (nm && !cJSON_IsString(nm)) return fail(err, IPVE, "DurableExecutionName must be a string.");
    lock(s);
    if (dwf__store_begin(s->st, err) != 0) return abort_tx(s);
    dwf__exec *e = NULL;
    int already = 0;
    if (start_locked(s, fn, nm ? nm->valuestring : NULL, in ? in->valuestring : NULL, NULL, NULL, NULL, &e,
                     &already, err) != 0)
        return abort_tx(s);
    cJSON *o = cJSON_CreateObject();
    int bad = !o || jset_str(o, "DurableExecutionArn", e->arn) || jset_str(o, "DurableExecutionName", e->name) ||
              jset_str(o, "Status", e->status) || jset(o, "AlreadyStarted", cJSON_CreateBool(already));
    dwf__exec_free(e);
    if (bad) {
        cJSON_Delete(o);
        oom(err);
        return abort_tx(s);
    }
    if (commit_tx(s, err) != 0) {
        cJSON_Delete(o);
        return -1;
    }
    *out = o;
    return 0;
}

/* ---- reading operations ------------------------------------------------------------------------ */
/* Operations after start sequence `after`, at most `limit` (<= 0: all), appended to arr.
 * *last receives the start sequence of the last one, *more whether others follow. */
static int ops_page(dwf_service *s, const dwf__exec *e, long long after, int limit, cJSON *arr, long long *last,
                    int *more, dwf_error *err)
{
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT json, start_seq FROM operations WHERE exec_id=?1 AND start_seq>?2"
                                       " ORDER BY start_seq LIMIT ?3",
                                       "sii", e->id, after, (long long)(limit > 0 ? limit + 1 : -1));
    if (!q) return -1;
    int r, n = 0;
    *more = 0;
    while ((r = dwf__sql_step(s->st, q, err)) == 1) {
        if (limit > 0 && n == limit) {
            *more = 1;
            break;
        }
        cJSON *op = cJSON_Parse((const char *)sqlite3_column_text(q, 0));
        if (!op || !cJSON_AddItemToArray(arr, op)) {
            cJSON_Delete(op);
            r = oom(err);
            break;
        }
        *last = sqlite3_column_int64(q, 1);
        n++;
    }
    dwf__sql_done(s->st, q);
    return r < 0 ? -1 : 0;
}

/* Operations whose change stamp is after `since`, in start order. */
static int ops_changed(dwf_service *s, const dwf__exec *e, long long since, cJSON *arr, dwf_error *err)
{
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT json FROM operations WHERE exec_id=?1 AND change_seq>?2 ORDER BY start_seq",
                                       "si", e->id, since);
    if (!q) return -1;
    int r;
    while ((r = dwf__sql_step(s->st, q, err)) == 1) {
        cJSON *op = cJSON_Parse((const char *)sqlite3_column_text(q, 0));
        if (!op || !cJSON_AddItemToArray(arr, op)) {
            cJSON_Delete(op);
            r = oom(err);
            break;
        }
    }
    dwf__sql_done(s->st, q);
    return r < 0 ? -1 : 0;
}

/* Epoch-second timestamps of an Operation -> ISO-8601 strings (the invocation event form). */
static int op_to_event_form(cJSON *op)
{
    static const char *const paths[][2] = {{NULL, "StartTimestamp"},
                                           {NULL, "EndTimestamp"},
                                           {"StepDetails", "NextAttemptTimestamp"},
                                           {"WaitDetails", "ScheduledEndTimestamp"}};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        cJSON *o = paths[i][0] ? cJSON_GetObjectItemCaseSensitive(op, paths[i][0]) : op;
        cJSON *v = cJSON_GetObjectItemCaseSensitive(o, paths[i][1]);
        if (!cJSON_IsNumber(v)) continue;
        char iso[64];
        iso_time(v->valuedouble * 1000.0, iso);
        if (jset_str(o, paths[i][1], iso) != 0) return -1;
    }
    return 0;
}

/* Load a running-or-not execution inside a transaction; ResourceNotFoundException if absent. */
static int exec_get(dwf_service *s, const char *arn, dwf__exec **e, dwf_error *err)
{
    if (!arn || !*arn) return fail(err, IPVE, "DurableExecutionArn is required.");
    int r = dwf__exec_load(s->st, arn, e, err);
    if (r == 1) return fail(err, RNFE, "Durable execution not found: %s", arn);
    return r;
}

/* ---- invocations ------------------------------------------------------------------------------------ */
/* "<host>:<pid>": who runs an open invocation, so a dead runner on this machine is noticed. */
static int owner_of_this_process(char *out, size_t n)
{
    char host[256];
    if (gethostname(host, sizeof host) != 0) snprintf(host, sizeof host, "localhost");
    host[sizeof host - 1] = '\0';
    int w = snprintf(out, n, "%s:%ld", host, (long)getpid());
    return w < 0 || (size_t)w >= n ? -1 : 0;
}

/* The pid an owner names if it is another process on this machine, else 0. */
static long owner_local_pid(const char *owner)
{
    char me[300];
    const char *colon = owner ? strrchr(owner, ':') : NULL;
    if (!colon || owner_of_this_process(me, sizeof me) != 0) return 0;
    const char *mine = strrchr(me, ':');
    if ((size_t)(colon - owner) != (size_t)(mine - me) || strncmp(owner, me, (size_t)(colon - owner)) != 0) return 0;
    long pid = strtol(colon + 1, NULL, 10);
    return pid > 0 && pid != (long)getpid() ? pid : 0;
}

/* 1 if owner names another process on this machine that still runs. */
static int owner_is_other_live_local(const char *owner)
{
    long pid = owner_local_pid(owner);
    return pid && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* 1 if owner names a process on this machine that no longer exists. */
static int owner_is_dead(const char *owner)
{
    long pid = owner_local_pid(owner);
    return pid && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

int dwf_service_begin_invocation(dwf_service *s, const char *arn, cJSON **event, char request_id[40],
                                 dwf_error *err)
{
    *event = NULL;
    lock(s);
    if (dwf__store_begin(s->st, err) != 0) return abort_tx(s);
    dwf__exec *e = NULL;
    if (exec_get(s, arn, &e, err) != 0) return abort_tx(s);
    if (is_terminal(e->status)) {
        fail(err, IPVE, "Durable execution %s is not running (status %s).", e->arn, e->status);
        dwf__exec_free(e);
        return abort_tx(s);
    }
    if (e->inv_open && owner_is_other_live_local(e->inv_owner)) {
        /* Another process on this machine is running it right now: one invocation at a time. */
        fail(err, "ResourceConflictException", "Durable execution %s has an invocation in progress (%s).", e->arn,
             e->inv_owner);
        dwf__exec_free(e);
        return abort_tx(s);
    }
    char token[40];
    cJSON *ev = cJSON_CreateObject(), *state = NULL, *ops = NULL, *upd = NULL;
    long long last = -1;
    int more = 0;
    int bad = !ev || jset_str(ev, "DurableExecutionArn", e->arn);
    if (bad || issue_token(s, e, token, err) != 0) goto fail;
    bad = jset_str(ev, "CheckpointToken", token) || !(state = jobj(ev, "InitialExecutionState")) ||
          jset(state, "Operations", ops = cJSON_CreateArray());
    if (bad) goto oom;
    if (ops_page(s, e, -1, s->event_page, ops, &last, &more, err) != 0) goto fail;
    for (cJSON *op = ops->child; op; op = op->next)
        if (op_to_event_form(op) != 0) goto oom;
    char marker[32] = "";
    if (more) snprintf(marker, sizeof marker, "%lld", last);
    if (jset_str(state, "NextMarker", marker) != 0) goto oom;
    if (e->seen_seq > 0) {
        cJSON *changed = cJSON_CreateArray();
        if (!changed || ops_changed(s, e, e->seen_seq, changed, err) != 0) {
            cJSON_Delete(changed);
            if (!changed) goto oom;
            goto fail;
        }
        if (cJSON_GetArraySize(changed) > 0) {
            upd = cJSON_CreateArray();
            for (cJSON *op = changed->child; upd && op; op = op->next)
                if (!cJSON_AddItemToArray(upd, cJSON_CreateString(jstr(op, "Id")))) bad = 1;
            bad |= jset(ev, "UpdatedOperationIds", upd);
        }
        cJSON_Delete(changed);
        if (bad) goto oom;
    }
    e->seen_seq = e->seq;
    e->wake = 0;
    e->inv_open = 1;
    e->inv_started_ms = dwf_service_now(s);
    char owner[300];
    if (owner_of_this_process(owner, sizeof owner) != 0 || dwf__set_str(&e->inv_owner, owner) != 0) goto oom;
    new_uuid(request_id);
    if (dwf__set_str(&e->inv_request, request_id) != 0) goto oom;
    if (dwf__exec_save(s->st, e, err) != 0) goto fail;
    dwf__exec_free(e);
    if (commit_tx(s, err) != 0) {
        cJSON_Delete(ev);
        return -1;
    }
    *event = ev;
    return 0;
oom:
    oom(err);
fail:
    cJSON_Delete(ev);
    dwf__exec_free(e);
    return abort_tx(s);
}

static int pending_count(dwf_service *s, const dwf__exec *e, int *n, dwf_error *err)
{
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT COUNT(*) FROM operations WHERE exec_id=?1 AND ("
                                       "(type='STEP' AND status IN ('PENDING','READY')) OR"
                                       " (type IN ('WAIT','CALLBACK','CHAINED_INVOKE') AND status='STARTED'))",
                                       "s", e->id);
    if (!q) return -1;
    int r = dwf__sql_step(s->st, q, err);
    if (r == 1) *n = sqlite3_column_int(q, 0);
    dwf__sql_done(s->st, q);
    return r < 0 ? -1 : 0;
}

int dwf_service_end_invocation(dwf_service *s, const char *arn, const char *request_id, double start_ms,
                               const cJSON *response, const dwf_error *fault, dwf_error *err)
{
    lock(s);
    if (dwf__store_begin(s->st, err) != 0) return abort_tx(s);
    dwf__exec *e = NULL;
    if (exec_get(s, arn, &e, err) != 0) return abort_tx(s);
    double now = dwf_service_now(s);
    const char *status = response ? jstr(response, "Status") : NULL;
    int valid = status && (strcmp(status, "SUCCEEDED") == 0 || strcmp(status, "FAILED") == 0 ||
                           strcmp(status, "PENDING") == 0);
    cJSON *faultobj = NULL;
    if (!valid)
        faultobj = response ? error_object("InvalidHandlerResponse", "The handler response has no valid Status.")
                            : error_object(fault ? fault->type : "InvocationError",
                                           fault ? fault->message : "The invocation failed.");
    cJSON *d = cJSON_CreateObject();
    int bad = !d || jset_ts(d, "StartTimestamp", start_ms) || jset_ts(d, "EndTimestamp", now) ||
              jset_str(d, "RequestId", request_id ? request_id : "");
    if (!valid) bad |= jset(d, "Error", wrap_error(faultobj));
    if (bad) {
        cJSON_Delete(d);
        goto oom;
    }
    if (exec_event(s, e, "InvocationCompleted", d, err) != 0) goto fail;
    /* The answer of an invocation another one has replaced (its runner was thought lost)
     * is history, not state: the current invocation decides. */
    int superseded = request_id && e->inv_request && strcmp(request_id, e->inv_request) != 0;
    if (!superseded) {
        e->inv_open = 0;
        dwf__set_str(&e->inv_owner, NULL);
        dwf__set_str(&e->inv_request, NULL);
    }
    if (!superseded && !is_terminal(e->status)) {
        if (!valid) {
            /* An invocation-scoped fault: retry with backoff (1 s, 2 s, 4 s, ...), bounded. */
            e->inv_attempts++;
            if (e->inv_attempts >= s->max_inv) {
                if (exec_close(s, e, "FAILED", NULL, faultobj, err) != 0) goto fail;
            } else {
                e->wake = 1;
                e->next_invoke_ms = now + 1000.0 * (double)(1 << (e->inv_attempts - 1));
            }
        } else if (strcmp(status, "SUCCEEDED") == 0) {
            e->inv_attempts = 0;
            if (exec_close(s, e, "SUCCEEDED", jstr(response, "Result"), NULL, err) != 0) goto fail;
        } else if (strcmp(status, "FAILED") == 0) {
            e->inv_attempts = 0;
            const cJSON *eo = cJSON_GetObjectItemCaseSensitive(response, "Error");
            cJSON *empty = cJSON_IsObject(eo) ? NULL : cJSON_CreateObject();
            int r = exec_close(s, e, "FAILED", NULL, empty ? empty : eo, err);
            cJSON_Delete(empty);
            if (r != 0) goto fail;
        } else {
            e->inv_attempts = 0;
            int n = 0;
            if (e->seq > e->seen_seq) {
                /* Changes the handler has not seen (a timer fired, a callback was answered
                 * after its last checkpoint): it was right to suspend on what it saw; invoke
                 * again at once so it sees them. Only then is "nothing pending" its error. */
                e->wake = 1;
            } else if (pending_count(s, e, &n, err) != 0) {
                goto fail;
            } else if (n == 0) {
                cJSON *eo = error_object(NULL, "Cannot return PENDING status with no pending operations.");
                int r = eo ? exec_close(s, e, "FAILED", NULL, eo, err) : oom(err);
                cJSON_Delete(eo);
                if (r != 0) goto fail;
            }
        }
    }
    if (dwf__exec_save(s->st, e, err) != 0) goto fail;
    cJSON_Delete(faultobj);
    dwf__exec_free(e);
    return commit_tx(s, err);
oom:
    oom(err);
fail:
    cJSON_Delete(faultobj);
    dwf__exec_free(e);
    return abort_tx(s);
}

/* ---- checkpoint --------------------------------------------------------------------------------- */
typedef struct seen_id {
    const char *id;
    int n;
    int started; /* the first update of this Id in the batch was a STEP/CONTEXT START */
} seen_id;

static const char *const op_types[] = {"EXECUTION", "CONTEXT", "STEP", "WAIT", "CALLBACK", "CHAINED_INVOKE", NULL};
static const char *const op_actions[] = {"START", "SUCCEED", "FAIL", "RETRY", "CANCEL", NULL};

static int in_list(const char *s, const char *const *list)
{
    for (int i = 0; s && list[i]; i++)
        if (strcmp(s, list[i]) == 0) return 1;
    return 0;
}

/* A new Operation from an update: Id, ParentId, Name, Type, SubType, Status, StartTimestamp. */
static cJSON *new_op(const cJSON *u, const char *status, double now)
{
    cJSON *op = cJSON_CreateObject();
    int bad = !op || jset_str(op, "Id", jstr(u, "Id")) || jset_str(op, "ParentId", jstr(u, "ParentId")) ||
              jset_str(op, "Name", jstr(u, "Name")) || jset_str(op, "Type", jstr(u, "Type")) ||
              jset_str(op, "SubType", jstr(u, "SubType")) || jset_str(op, "Status", status) ||
              jset_ts(op, "StartTimestamp", now);
    if (bad) {
        cJSON_Delete(op);
        return NULL;
    }
    return op;
}

static int number_in(const cJSON *v, double lo, double hi) { return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi; }

static int retry_details(cJSON *d, int attempt, const cJSON *delay)
{
    cJSON *rd = jobj(d, "RetryDetails");
    if (!rd || jset_num(rd, "CurrentAttempt", attempt)) return -1;
    return delay ? jset_num(rd, "NextAttemptDelaySeconds", delay->valuedouble) : 0;
}

/* 64-bit base64 encoding of a callback id. */
static char *make_callback_id(const dwf__exec *e, const char *op_id)
{
    char tok[40], json[256];
    new_uuid(tok);
    int n = snprintf(json, sizeof json, "{\"executionId\":\"%s\",\"operationId\":\"%s\",\"token\":\"%s\"}", e->id,
                     op_id, tok);
    if (n < 0 || n >= (int)sizeof json) return NULL;
    char *out = malloc(4 * ((size_t)n + 2) / 3 + 4);
    if (!out) return NULL;
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)json, n);
    return out;
}

/* Apply one update (already checked for shape) to the execution. */
static int apply_update(dwf_service *s, dwf__exec *e, const cJSON *u, const char *type, const char *action,
                        dwf_error *err)
{
    const char *id = jstr(u, "Id");
    const char *payload = jstr(u, "Payload");
    const cJSON *eobj = cJSON_GetObjectItemCaseSensitive(u, "Error");
    double now = dwf_service_now(s);
    cJSON *op = NULL, *evd = NULL;
    long long seq = -1;
    int r = op_load(s, e, id, &op, &seq, err);
    if (r < 0) return -1;
    const char *cur = op ? jstr(op, "Status") : NULL;
    if (op && strcmp(jstr(op, "Type") ? jstr(op, "Type") : "", type) != 0) {
        fail(err, IPVE, "Operation %s is a %s, not a %s.", id, jstr(op, "Type"), type);
        goto fail;
    }
    const char *event = NULL;
    int bad = 0;
#define IS(a) (strcmp(action, a) == 0)
#define CUR(st) (cur && strcmp(cur, st) == 0)
    if (strcmp(type, "STEP") == 0) {
        if (IS("START")) {
            if (op && !CUR("READY")) {
                fail(err, IPVE, "Invalid current STEP state to start.");
                goto fail;
            }
            if (!op && !(op = new_op(u, "STARTED", now))) goto oom;
            bad |= jset_str(op, "Status", "STARTED");
            event = "StepStarted";
            evd = cJSON_CreateObject();
        } else if (IS("SUCCEED") || IS("FAIL") || IS("RETRY")) {
            int retry = IS("RETRY");
            if (op && !CUR("STARTED") && !CUR("READY")) {
                fail(err, IPVE, "Invalid current STEP state to %s.", retry ? "re-attempt" : "close");
                goto fail;
            }
            const cJSON *delay = NULL;
            if (retry) {
                const cJSON *so = cJSON_GetObjectItemCaseSensitive(u, "StepOptions");
                delay = cJSON_GetObjectItemCaseSensitive(so, "NextAttemptDelaySeconds");
                if (!so || !delay) {
                    fail(err, IPVE, "StepOptions.NextAttemptDelaySeconds is required to re-attempt a STEP.");
                    goto fail;
                }
                if (!number_in(delay, 1, MAX_DELAY_S)) {
                    fail(err, IPVE, "NextAttemptDelaySeconds must be between 1 and %.0f.", MAX_DELAY_S);
                    goto fail;
                }
                if (payload && eobj) {
                    fail(err, IPVE, "Cannot provide both a Payload and an Error to re-attempt a STEP.");
                    goto fail;
                }
            }
            if (!op && !(op = new_op(u, "STARTED", now))) goto oom;
            cJSON *sd = jobj(op, "StepDetails");
            if (!sd) goto oom;
            const cJSON *at = cJSON_GetObjectItemCaseSensitive(sd, "Attempt");
            int attempt = (cJSON_IsNumber(at) ? (int)at->valuedouble : 0) + 1;
            bad |= jset_num(sd, "Attempt", attempt);
            /* The new attempt's outcome replaces the last one's; NextAttemptTimestamp stays
             * until a new RETRY sets it (the SDK's testing service does the same). */
            cJSON_DeleteItemFromObjectCaseSensitive(sd, "Result");
            cJSON_DeleteItemFromObjectCaseSensitive(sd, "Error");
            if (payload) bad |= jset_str(sd, "Result", payload);
            if (eobj) bad |= jset(sd, "Error", jdup(eobj));
            evd = cJSON_CreateObject();
            if (retry) {
                double due = now + delay->valuedouble * 1000.0;
                bad |= jset_ts(sd, "NextAttemptTimestamp", due);
                bad |= jset_str(op, "Status", "PENDING");
                if (timer_set(s, e, id, "STEP_RETRY", due, err) != 0) goto fail;
                event = eobj ? "StepFailed" : "StepSucceeded";
            } else {
                bad |= jset_str(op, "Status", IS("SUCCEED") ? "SUCCEEDED" : "FAILED");
                bad |= jset_ts(op, "EndTimestamp", now);
                event = IS("SUCCEED") ? "StepSucceeded" : "StepFailed";
            }
            if (evd && eobj) bad |= jset(evd, "Error", wrap_error(eobj));
            else if (evd) bad |= jset(evd, "Result", wrap_payload(payload));
            bad |= !evd || retry_details(evd, attempt, delay);
        } else {
            fail(err, IPVE, "Invalid action %s for a STEP operation.", action);
            goto fail;
        }
    } else if (strcmp(type, "CONTEXT") == 0) {
        const cJSON *co = cJSON_GetObjectItemCaseSensitive(u, "ContextOptions");
        const cJSON *rc = cJSON_GetObjectItemCaseSensitive(co, "ReplayChildren");
        if (IS("START")) {
            if (op) {
                fail(err, IPVE, "Cannot start a CONTEXT that already exists.");
                goto fail;
            }
            if (!(op = new_op(u, "STARTED", now))) goto oom;
            if (cJSON_IsBool(rc)) bad |= jset(jobj(op, "ContextDetails"), "ReplayChildren", jdup(rc));
            event = "ContextStarted";
            evd = cJSON_CreateObject();
        } else if (IS("SUCCEED") || IS("FAIL")) {
            if (op && !CUR("STARTED")) {
                fail(err, IPVE, "Invalid current CONTEXT state to close.");
                goto fail;
            }
            if (!op && !(op = new_op(u, "STARTED", now))) goto oom;
            cJSON *cd = jobj(op, "ContextDetails");
            if (!cd) goto oom;
            if (cJSON_IsBool(rc)) bad |= jset(cd, "ReplayChildren", jdup(rc));
            evd = cJSON_CreateObject();
            if (IS("SUCCEED")) {
                if (payload) bad |= jset_str(cd, "Result", payload);
                bad |= jset(evd, "Result", wrap_payload(payload));
                event = "ContextSucceeded";
            } else {
                if (eobj) bad |= jset(cd, "Error", jdup(eobj));
                bad |= jset(evd, "Error", wrap_error(eobj));
                event = "ContextFailed";
            }
            bad |= jset_str(op, "Status", IS("SUCCEED") ? "SUCCEEDED" : "FAILED");
            bad |= jset_ts(op, "EndTimestamp", now);
        } else {
            fail(err, IPVE, "Invalid action %s for a CONTEXT operation.", action);
            goto fail;
        }
    } else if (strcmp(type, "WAIT") == 0) {
        if (IS("START")) {
            if (op) {
                fail(err, IPVE, "Cannot start a WAIT that already exists.");
                goto fail;
            }
            const cJSON *ws = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(u, "WaitOptions"), "WaitSeconds");
            if (!number_in(ws, 1, MAX_DELAY_S)) {
                fail(err, IPVE, "WaitOptions.WaitSeconds must be between 1 and %.0f.", MAX_DELAY_S);
                goto fail;
            }
            double due = now + ws->valuedouble * 1000.0;
            if (!(op = new_op(u, "STARTED", now))) goto oom;
            bad |= jset_ts(jobj(op, "WaitDetails"), "ScheduledEndTimestamp", due);
            if (timer_set(s, e, id, "WAIT", due, err) != 0) goto fail;
            event = "WaitStarted";
            evd = cJSON_CreateObject();
            bad |= !evd || jset_num(evd, "Duration", ws->valuedouble) || jset_ts(evd, "ScheduledEndTimestamp", due);
        } else if (IS("CANCEL")) {
            if (!CUR("STARTED")) {
                fail(err, IPVE, "Invalid current WAIT state to cancel.");
                goto fail;
            }
            bad |= jset_str(op, "Status", "CANCELLED") | jset_ts(op, "EndTimestamp", now);
            if (timer_del(s, e, id, NULL, err) != 0) goto fail;
            event = "WaitCancelled";
            evd = cJSON_CreateObject();
            bad |= !evd || jset(evd, "Error", wrap_error(eobj));
        } else {
            fail(err, IPVE, "Invalid action %s for a WAIT operation.", action);
            goto fail;
        }
    } else if (strcmp(type, "CALLBACK") == 0) {
        if (IS("START")) {
            if (op) {
                fail(err, IPVE, "Cannot start a CALLBACK that already exists.");
                goto fail;
            }
            const cJSON *co = cJSON_GetObjectItemCaseSensitive(u, "CallbackOptions");
            const cJSON *to = cJSON_GetObjectItemCaseSensitive(co, "TimeoutSeconds");
            const cJSON *hb = cJSON_GetObjectItemCaseSensitive(co, "HeartbeatTimeoutSeconds");
            if ((to && !number_in(to, 0, MAX_CALLBACK_TIMEOUT)) || (hb && !number_in(hb, 0, MAX_CALLBACK_TIMEOUT))) {
                fail(err, IPVE, "CallbackOptions timeouts must be between 0 and %.0f seconds.", MAX_CALLBACK_TIMEOUT);
                goto fail;
            }
            double tos = to ? to->valuedouble : 0, hbs = hb ? hb->valuedouble : 0;
            char *cbid = make_callback_id(e, id);
            if (!cbid) goto oom;
            if (!(op = new_op(u, "STARTED", now)) || jset_str(jobj(op, "CallbackDetails"), "CallbackId", cbid)) {
                free(cbid);
                goto oom;
            }
            r = dwf__sql_exec(s->st, err,
                              "INSERT INTO callbacks(callback_id, exec_id, op_id, state, timeout_s, heartbeat_s)"
                              " VALUES(?1,?2,?3,'OPEN',?4,?5)",
                              "sssdd", cbid, e->id, id, tos, hbs);
            if (r == 0 && tos > 0) r = timer_set(s, e, id, "CALLBACK_TIMEOUT", now + tos * 1000.0, err);
            if (r == 0 && hbs > 0) r = timer_set(s, e, id, "CALLBACK_HEARTBEAT", now + hbs * 1000.0, err);
            event = "CallbackStarted";
            evd = cJSON_CreateObject();
            bad |= !evd || jset_str(evd, "CallbackId", cbid) || jset_num(evd, "Timeout", tos) ||
                   jset_num(evd, "HeartbeatTimeout", hbs);
            free(cbid);
            if (r != 0) goto fail;
        } else if (IS("CANCEL")) {
            if (!CUR("STARTED")) {
                fail(err, IPVE, "Invalid current CALLBACK state to cancel.");
                goto fail;
            }
            bad |= jset_str(op, "Status", "CANCELLED") | jset_ts(op, "EndTimestamp", now);
            if (timer_del(s, e, id, NULL, err) != 0 ||
                dwf__sql_exec(s->st, err, "UPDATE callbacks SET state='CLOSED' WHERE exec_id=?1 AND op_id=?2", "ss",
                              e->id, id) != 0)
                goto fail;
        } else {
            fail(err, IPVE, "Invalid action %s for a CALLBACK operation.", action);
            goto fail;
        }
    } else if (strcmp(type, "CHAINED_INVOKE") == 0) {
        if (IS("START")) {
            if (op) {
                fail(err, IPVE, "Cannot start a CHAINED_INVOKE that already exists.");
                goto fail;
            }
            const cJSON *cio = cJSON_GetObjectItemCaseSensitive(u, "ChainedInvokeOptions");
            const char *fn = jstr(cio, "FunctionName");
            if (!fn || !*fn) {
                fail(err, IPVE, "ChainedInvokeOptions.FunctionName is required.");
                goto fail;
            }
            if (!(op = new_op(u, "STARTED", now))) goto oom;
            /* The target runs as a new execution in the same store; its end completes this op. */
            dwf__exec *child = NULL;
            int already = 0;
            dwf_error cerr = {{0}, {0}};
            int cr = start_locked(s, fn, NULL, payload, e->arn, id, e->root_arn, &child, &already, &cerr);
            if (cr != 0 && strcmp(cerr.type, RNFE) != 0 && strcmp(cerr.type, IPVE) != 0) {
                *err = cerr;
                goto fail;
            }
            evd = cJSON_CreateObject();
            bad |= !evd || jset_str(evd, "FunctionName", fn) || jset_str(evd, "TenantId", jstr(cio, "TenantId")) ||
                   jset(evd, "Input", wrap_payload(payload)) || jset_str(evd, "ExecutedVersion", "$LATEST") ||
                   (child && jset_str(evd, "DurableExecutionArn", child->arn));
            dwf__exec_free(child);
            if (bad) goto oom;
            if (op_save(s, e, op, &seq, err) != 0) goto fail;
            r = event_add(s, e, "ChainedInvokeStarted", op, evd, err);
            evd = NULL;
            if (r != 0) goto fail;
            if (cr != 0) {
                cJSON *eo = error_object(cerr.type, cerr.message);
                cJSON *wd = cJSON_CreateObject();
                bad |= !eo || !wd || jset(wd, "Error", wrap_error(eo));
                bad |= jset_str(op, "Status", "FAILED") | jset_ts(op, "EndTimestamp", now);
                bad |= jset(jobj(op, "ChainedInvokeDetails"), "Error", eo);
                if (bad) {
                    cJSON_Delete(wd);
                    goto oom;
                }
                event = "ChainedInvokeFailed";
                evd = wd;
            }
        } else if (IS("CANCEL")) {
            if (!CUR("STARTED")) {
                fail(err, IPVE, "Invalid current CHAINED_INVOKE state to cancel.");
                goto fail;
            }
            bad |= jset_str(op, "Status", "CANCELLED") | jset_ts(op, "EndTimestamp", now);
            /* Stop the target execution if it still runs. */
            sqlite3_stmt *q = dwf__sql_prepare(s->st, err, "SELECT arn FROM executions WHERE parent_arn=?1 AND parent_op=?2"
                                                          " AND status='RUNNING'", "ss", e->arn, id);
            if (!q) goto fail;
            char child_arn[512] = "";
            if (dwf__sql_step(s->st, q, err) == 1)
                snprintf(child_arn, sizeof child_arn, "%s", (const char *)sqlite3_column_text(q, 0));
            dwf__sql_done(s->st, q);
            if (child_arn[0]) {
                dwf__exec *c = NULL;
                cJSON *eo = error_object("ChainedInvokeCancelled", "The calling operation was cancelled.");
                /* The caller cancels, so the child's end must not complete the caller's op
                 * again (it is being written here): drop the link first. */
                if (!eo || dwf__exec_load(s->st, child_arn, &c, err) != 0 || dwf__set_str(&c->parent_op, NULL) != 0 ||
                    (r = exec_close(s, c, "STOPPED", NULL, eo, err)) != 0 || dwf__exec_save(s->st, c, err) != 0) {
                    cJSON_Delete(eo);
                    dwf__exec_free(c);
                    goto fail;
                }
                cJSON_Delete(eo);
                dwf__exec_free(c);
            }
        } else {
            fail(err, IPVE, "Invalid action %s for a CHAINED_INVOKE operation.", action);
            goto fail;
        }
    }
#undef IS
#undef CUR
    if (bad) goto oom;
    if (op_save(s, e, op, &seq, err) != 0) goto fail;
    if (event) {
        r = event_add(s, e, event, op, evd, err);
        evd = NULL;
        if (r != 0) goto fail;
    }
    cJSON_Delete(evd);
    cJSON_Delete(op);
    return 0;
oom:
    oom(err);
fail:
    cJSON_Delete(evd);
    cJSON_Delete(op);
    return -1;
}

/* Check the shape of one update and the batch rules; then apply it. */
static int checkpoint_update(dwf_service *s, dwf__exec *e, const cJSON *u, int index, int count, seen_id *seen,
                             int *nseen, dwf_error *err)
{
    if (!cJSON_IsObject(u)) return fail(err, IPVE, "Each update must be an OperationUpdate object.");
    const char *id = jstr(u, "Id"), *type = jstr(u, "Type"), *action = jstr(u, "Action");
    if (!valid_id(id)) return fail(err, IPVE, "Invalid operation id: must be 1-64 characters [a-zA-Z0-9-_].");
    if (!in_list(type, op_types)) return fail(err, IPVE, "Invalid operation type for operation %s.", id);
    if (!in_list(action, op_actions)) return fail(err, IPVE, "Invalid operation action for operation %s.", id);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(u, "Name");
    if (name && (!cJSON_IsString(name) || !valid_name(name->valuestring)))
        return fail(err, IPVE, "Invalid operation name: must be 1-256 printable ASCII characters.");
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(u, "SubType");
    if (sub && !cJSON_IsString(sub)) return fail(err, IPVE, "SubType must be a string.");
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(u, "Payload");
    if (pl && !cJSON_IsString(pl)) return fail(err, IPVE, "Payload must be a string.");
    const cJSON *eo = cJSON_GetObjectItemCaseSensitive(u, "Error");
    if (eo && !cJSON_IsObject(eo)) return fail(err, IPVE, "Error must be an ErrorObject.");
    if (eo) {
        char *ej = cJSON_PrintUnformatted(eo);
        if (!ej) return oom(err);
        size_t n = strlen(ej);
        free(ej);
        if (n > MAX_ERROR_JSON) return fail(err, IPVE, "Error object size must be less than or equal to %d bytes.", MAX_ERROR_JSON);
    }
    if (strcmp(action, "SUCCEED") == 0 && eo) return fail(err, IPVE, "Cannot provide an Error for a SUCCEED action.");
    if (strcmp(action, "FAIL") == 0 && pl) return fail(err, IPVE, "Cannot provide a Payload for a FAIL action.");
    size_t lim = strcmp(type, "EXECUTION") == 0 ? MAX_EXEC_PAYLOAD : strcmp(type, "CHAINED_INVOKE") == 0 ? MAX_INVOKE_PAYLOAD : MAX_STEP_PAYLOAD;
    if (pl && strlen(pl->valuestring) > lim)
        return fail(err, IPVE, "%s payload size must be less than or equal to %zu bytes.", type, lim);

    if (strcmp(type, "EXECUTION") == 0) {
        if (index != count - 1) return fail(err, IPVE, "An EXECUTION update must be the last update of a request.");
        if (strcmp(action, "SUCCEED") != 0 && strcmp(action, "FAIL") != 0)
            return fail(err, IPVE, "Invalid action %s for an EXECUTION operation.", action);
        cJSON *empty = NULL;
        if (strcmp(action, "FAIL") == 0 && !eo && !(empty = cJSON_CreateObject())) return oom(err);
        int r = strcmp(action, "SUCCEED") == 0 ? exec_close(s, e, "SUCCEEDED", pl ? pl->valuestring : NULL, NULL, err)
                                               : exec_close(s, e, "FAILED", NULL, eo ? eo : empty, err);
        cJSON_Delete(empty);
        return r;
    }
    /* One update per Id, except a STEP/CONTEXT START followed by one closing update. */
    int k;
    for (k = 0; k < *nseen; k++)
        if (strcmp(seen[k].id, id) == 0) break;
    if (k < *nseen) {
        if (!(seen[k].n == 1 && seen[k].started && strcmp(action, "START") != 0))
            return fail(err, IPVE, "Cannot update the same operation twice in a single request.");
        seen[k].n++;
    } else {
        seen[k].id = id;
        seen[k].n = 1;
        seen[k].started = strcmp(action, "START") == 0 && (strcmp(type, "STEP") == 0 || strcmp(type, "CONTEXT") == 0);
        (*nseen)++;
    }
    const cJSON *parent = cJSON_GetObjectItemCaseSensitive(u, "ParentId");
    if (parent) {
        cJSON *pop = NULL;
        int r = cJSON_IsString(parent) && valid_id(parent->valuestring) ? op_load(s, e, parent->valuestring, &pop, NULL, err) : 1;
        if (r < 0) return -1;
        int ok = r == 0 && strcmp(jstr(pop, "Type") ? jstr(pop, "Type") : "", "CONTEXT") == 0;
        cJSON_Delete(pop);
        if (!ok) return fail(err, IPVE, "Invalid parent operation id.");
    }
    return apply_update(s, e, u, type, action, err);
}

int dwf_service_checkpoint(dwf_service *s, const char *arn, const cJSON *req, cJSON **out, dwf_error *err)
{
    *out = NULL;
    const char *token = jstr(req, "CheckpointToken");
    if (!token || !*token) return fail(err, IPVE, "Checkpoint token is required");
    const cJSON *updates = cJSON_GetObjectItemCaseSensitive(req, "Updates");
    if (updates && !cJSON_IsArray(updates)) return fail(err, IPVE, "Updates must be a list of OperationUpdate.");
    /* Service-driven changes first (their own transaction), so the delta carries them. */
    lock(s);
    dwf__exec *e = NULL;
    int r = dwf__exec_load(s->st, arn ? arn : "", &e, err);
    unlock(s);
    if (r < 0) return -1;
    if (r == 1) return fail(err, RNFE, "Durable execution not found: %s", arn ? arn : "");
    r = dwf_service_fire_timers(s, e->root_arn, NULL, err);
    dwf__exec_free(e);
    e = NULL;
    if (r != 0) return -1;

    lock(s);
    if (dwf__store_begin(s->st, err) != 0) return abort_tx(s);
    if (exec_get(s, arn, &e, err) != 0) return abort_tx(s);
    int n = cJSON_GetArraySize(updates);
    seen_id *seen = NULL;
    cJSON *o = NULL, *ns = NULL, *ops = NULL;
    if ((r = token_ok(s, e, token, 1, err)) <= 0) {
        if (r == 0) fail(err, IPVE, "Invalid Checkpoint Token: the token is not current for this execution.");
        goto fail;
    }
    if (is_terminal(e->status)) {
        fail(err, IPVE, "Invalid Checkpoint Token: the execution has completed.");
        goto fail;
    }
    if (n > 0 && !(seen = calloc((size_t)n, sizeof *seen))) goto oom;
    int nseen = 0, i = 0;
    for (const cJSON *u = updates ? updates->child : NULL; u; u = u->next, i++) {
        if (is_terminal(e->status)) {
            fail(err, IPVE, "An EXECUTION update must be the last update of a request.");
            goto fail;
        }
        if (checkpoint_update(s, e, u, i, n, seen, &nseen, err) != 0) goto fail;
    }
    char next[40];
    if (issue_token(s, e, next, err) != 0) goto fail;
    if (is_terminal(e->status) &&
        dwf__sql_exec(s->st, err, "UPDATE tokens SET live=0 WHERE exec_id=?1", "s", e->id) != 0)
        goto fail;
    o = cJSON_CreateObject();
    if (!o || jset_str(o, "CheckpointToken", next) || !(ns = jobj(o, "NewExecutionState")) ||
        jset(ns, "Operations", ops = cJSON_CreateArray()))
        goto oom;
    if (ops_changed(s, e, e->seen_seq, ops, err) != 0) goto fail;
    e->seen_seq = e->seq;
    if (dwf__exec_save(s->st, e, err) != 0) goto fail;
    free(seen);
    dwf__exec_free(e);
    if (commit_tx(s, err) != 0) {
        cJSON_Delete(o);
        return -1;
    }
    *out = o;
    return 0;
oom:
    oom(err);
fail:
    free(seen);
    cJSON_Delete(o);
    dwf__exec_free(e);
    return abort_tx(s);
}

/* ---- timers --------------------------------------------------------------------------------------- */
/* Fire one timer inside a transaction. */
static int fire_one(dwf_service *s, dwf__exec *e, const char *op_id, const char *kind, dwf_error *err)
{
    if (timer_del(s, e, op_id, kind, err) != 0) return -1;
    if (is_terminal(e->status)) return 0;
    if (strcmp(kind, "EXECUTION_TIMEOUT") == 0) {
        cJSON *eo = error_object("ExecutionTimedOut", "The durable execution timed out.");
        int r = eo ? exec_close(s, e, "TIMED_OUT", NULL, eo, err) : oom(err);
        cJSON_Delete(eo);
        return r;
    }
    cJSON *op = NULL, *evd = NULL;
    long long seq = -1;
    int r = op_load(s, e, op_id, &op, &seq, err);
    if (r != 0) return r < 0 ? -1 : 0;
    const char *cur = jstr(op, "Status");
    double now = dwf_service_now(s);
    const char *event = NULL;
    int bad = 0, changed = 0;
    if (strcmp(kind, "WAIT") == 0 && cur && strcmp(cur, "STARTED") == 0) {
        bad |= jset_str(op, "Status", "SUCCEEDED") | jset_ts(op, "EndTimestamp", now);
        const cJSON *start = cJSON_GetObjectItemCaseSensitive(op, "StartTimestamp");
        const cJSON *end = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op, "WaitDetails"),
                                                            "ScheduledEndTimestamp");
        evd = cJSON_CreateObject();
        double dur = cJSON_IsNumber(start) && cJSON_IsNumber(end) ? end->valuedouble - start->valuedouble : 0;
        bad |= !evd || jset_num(evd, "Duration", round(dur * 1000.0) / 1000.0);
        event = "WaitSucceeded";
        changed = 1;
    } else if (strcmp(kind, "STEP_RETRY") == 0 && cur && strcmp(cur, "PENDING") == 0) {
        bad |= jset_str(op, "Status", "READY");
        changed = 1;
    } else if ((strcmp(kind, "CALLBACK_TIMEOUT") == 0 || strcmp(kind, "CALLBACK_HEARTBEAT") == 0) && cur &&
               strcmp(cur, "STARTED") == 0) {
        const char *msg = strcmp(kind, "CALLBACK_TIMEOUT") == 0 ? "Callback timed out" : "Callback timed out on heartbeat";
        cJSON *eo = error_object(NULL, msg);
        cJSON *cd = cJSON_CreateObject();
        bad |= !eo || !cd || jset_str(cd, "CallbackId", jstr(cJSON_GetObjectItemCaseSensitive(op, "CallbackDetails"), "CallbackId"));
        bad |= jset(cd, "Error", jdup(eo));
        bad |= jset(op, "CallbackDetails", cd) | jset_str(op, "Status", "TIMED_OUT") | jset_ts(op, "EndTimestamp", now);
        evd = cJSON_CreateObject();
        bad |= !evd || jset(evd, "Error", wrap_error(eo));
        cJSON_Delete(eo);
        event = "CallbackTimedOut";
        changed = 1;
        if (!bad && (timer_del(s, e, op_id, NULL, err) != 0 ||
                     dwf__sql_exec(s->st, err, "UPDATE callbacks SET state='TIMED_OUT' WHERE exec_id=?1 AND op_id=?2",
                                   "ss", e->id, op_id) != 0)) {
            cJSON_Delete(evd);
            cJSON_Delete(op);
            return -1;
        }
    }
    if (bad) {
        cJSON_Delete(evd);
        cJSON_Delete(op);
        return oom(err);
    }
    r = 0;
    if (changed) {
        r = op_save(s, e, op, &seq, err);
        if (r == 0 && event) {
            r = event_add(s, e, event, op, evd, err);
            evd = NULL;
        }
        wake(e);
    }
    cJSON_Delete(evd);
    cJSON_Delete(op);
    return r;
}

int dwf_service_fire_timers(dwf_service *s, const char *root_arn, int *fired, dwf_error *err)
{
    if (fired) *fired = 0;
    /* Most calls find nothing due: look without taking the write lock first. */
    lock(s);
    sqlite3_stmt *peek = dwf__sql_prepare(s->st, err,
                                          "SELECT 1 FROM timers t JOIN executions x ON x.id=t.exec_id"
                                          " WHERE t.due_ms<=?1 AND (?2 IS NULL OR x.root_arn=?2) LIMIT 1",
                                          "ds", dwf_service_now(s), root_arn);
    int any = peek ? dwf__sql_step(s->st, peek, err) : -1;
    dwf__sql_done(s->st, peek);
    unlock(s);
    if (any <= 0) return any;
    for (;;) {
        lock(s);
        if (dwf__store_begin(s->st, err) != 0) return abort_tx(s);
        sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                           "SELECT t.exec_id, t.op_id, t.kind FROM timers t JOIN executions x ON x.id=t.exec_id"
                                           " WHERE t.due_ms<=?1 AND (?2 IS NULL OR x.root_arn=?2) ORDER BY t.due_ms LIMIT 1",
                                           "ds", dwf_service_now(s), root_arn);
        if (!q) return abort_tx(s);
        int r = dwf__sql_step(s->st, q, err);
        if (r <= 0) {
            dwf__sql_done(s->st, q);
            if (r < 0) return abort_tx(s);
            return commit_tx(s, err);
        }
        char exec_id[64], op_id[80], kind[32];
        snprintf(exec_id, sizeof exec_id, "%s", (const char *)sqlite3_column_text(q, 0));
        snprintf(op_id, sizeof op_id, "%s", (const char *)sqlite3_column_text(q, 1));
        snprintf(kind, sizeof kind, "%s", (const char *)sqlite3_column_text(q, 2));
        dwf__sql_done(s->st, q);
        dwf__exec *e = NULL;
        if (dwf__exec_load(s->st, exec_id, &e, err) != 0) {
            /* An orphan timer: drop it. */
            if (dwf__sql_exec(s->st, err, "DELETE FROM timers WHERE exec_id=?1", "s", exec_id) != 0) return abort_tx(s);
        } else if (fire_one(s, e, op_id, kind, err) != 0 || dwf__exec_save(s->st, e, err) != 0) {
            dwf__exec_free(e);
            return abort_tx(s);
        }
        dwf__exec_free(e);
        if (commit_tx(s, err) != 0) return -1;
        if (fired) (*fired)++;
    }
}

/* ---- callbacks ------------------------------------------------------------------------------------ */
/* Find an open callback. Malformed ids: InvalidParameterValueException; unknown:
 * ResourceNotFoundException; closed or timed out: CallbackTimeoutException. Loads the
 * execution and operation. Inside a transaction. */
static int callback_find(dwf_service *s, const char *cbid, dwf__exec **e, cJSON **op, long long *seq, double *hb,
                         dwf_error *err)
{
    *e = NULL;
    *op = NULL;
    size_t n = cbid ? strlen(cbid) : 0;
    int ok = n >= 4 && n <= 1024 && n % 4 == 0;
    for (size_t i = 0; ok && i < n; i++) {
        char c = cbid[i];
        int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!alpha && !(c == '=' && i >= n - 2)) ok = 0;
        if (c == '=' && i == n - 2 && cbid[n - 1] != '=') ok = 0;
    }
    cJSON *dec = NULL;
    if (ok) {
        unsigned char *buf = malloc(n);
        if (!buf) return oom(err);
        int m = EVP_DecodeBlock(buf, (const unsigned char *)cbid, (int)n);
        if (m > 0) {
            while (m > 0 && buf[m - 1] == '\0') m--;
            dec = cJSON_ParseWithLength((const char *)buf, (size_t)m);
        }
        free(buf);
        ok = jstr(dec, "executionId") && jstr(dec, "operationId");
    }
    cJSON_Delete(dec);
    if (!ok) return fail(err, IPVE, "Invalid callback id: not a callback id issued by this service.");
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, "SELECT exec_id, op_id, state, heartbeat_s FROM callbacks WHERE callback_id=?1",
                                       "s", cbid);
    if (!q) return -1;
    int r = dwf__sql_step(s->st, q, err);
    if (r <= 0) {
        dwf__sql_done(s->st, q);
        return r < 0 ? -1 : fail(err, RNFE, "Callback not found: no execution in this store created it.");
    }
    char exec_id[64], op_id[80], state[16];
    snprintf(exec_id, sizeof exec_id, "%s", (const char *)sqlite3_column_text(q, 0));
    snprintf(op_id, sizeof op_id, "%s", (const char *)sqlite3_column_text(q, 1));
    snprintf(state, sizeof state, "%s", (const char *)sqlite3_column_text(q, 2));
    *hb = sqlite3_column_double(q, 3);
    dwf__sql_done(s->st, q);
    if (strcmp(state, "OPEN") != 0)
        return fail(err, "CallbackTimeoutException",
                    "The callback has already completed, timed out or its execution has closed (%s).", state);
    if ((r = dwf__exec_load(s->st, exec_id, e, err)) != 0)
        return r < 0 ? -1 : fail(err, RNFE, "Callback not found: its execution no longer exists.");
    if (is_terminal((*e)->status) || (r = op_load(s, *e, op_id, op, seq, err)) != 0 ||
        strcmp(jstr(*op, "Status") ? jstr(*op, "Status") : "", "STARTED") != 0) {
        dwf__exec_free(*e);
        cJSON_Delete(*op);
        *e = NULL;
        *op = NULL;
        return r < 0 ? -1 : fail(err, "CallbackTimeoutException", "The callback has already completed or timed out.");
    }
    return 0;
}

/* Complete a callback: result (SUCCEEDED) or error object (FAILED). */
static int callback_complete(dwf_service *s, const char *cbid, const char *result, size_t len, const cJSON *eo,
                             dwf_error *err)
{
    /* A deadline that has passed wins over a late answer, even if no engine fired it yet. */
    if (dwf_service_fire_timers(s, NULL, NULL, err) != 0) return -1;
    lock(s);
    if (dwf__store_begin(s->st, err) != 0) return abort_tx(s);
    dwf__exec *e = NULL;
    cJSON *op = NULL, *evd = NULL, *cd = NULL;
    char *res = NULL;
    long long seq = -1;
    double hb = 0;
    if (callback_find(s, cbid, &e, &op, &seq, &hb, err) != 0) return abort_tx(s);
    int ok = !eo;
    if (ok && len > 0) {
        if (!(res = malloc(len + 1))) goto oom;
        memcpy(res, result, len);
        res[len] = '\0';
    }
    cd = cJSON_CreateObject();
    evd = cJSON_CreateObject();
    int bad = !cd || !evd || jset_str(cd, "CallbackId", cbid);
    if (ok) {
        bad |= jset_str(cd, "Result", res) | jset(evd, "Result", wrap_payload(res));
    } else {
        bad |= jset(cd, "Error", jdup(eo)) | jset(evd, "Error", wrap_error(eo));
    }
    bad |= jset(op, "CallbackDetails", cd);
    cd = NULL;
    bad |= jset_str(op, "Status", ok ? "SUCCEEDED" : "FAILED") | jset_ts(op, "EndTimestamp", dwf_service_now(s));
    if (bad) goto oom;
    if (op_save(s, e, op, &seq, err) != 0) goto fail;
    int r = event_add(s, e, ok ? "CallbackSucceeded" : "CallbackFailed", op, evd, err);
    evd = NULL;
    if (r != 0 || timer_del(s, e, jstr(op, "Id"), NULL, err) != 0 ||
        dwf__sql_exec(s->st, err, "UPDATE callbacks SET state=?2 WHERE callback_id=?1", "ss", cbid,
                      ok ? "SUCCEEDED" : "FAILED") != 0)
        goto fail;
    wake(e);
    if (dwf__exec_save(s->st, e, err) != 0) goto fail;
    free(res);
    cJSON_Delete(op);
    dwf__exec_free(e);
    return commit_tx(s, err);
oom:
    oom(err);
fail:
    free(res);
    cJSON_Delete(cd);
    cJSON_Delete(evd);
    cJSON_Delete(op);
    dwf__exec_free(e);
    return abort_tx(s);
}

int dwf_service_callback_succeed(dwf_service *s, const char *cbid, const char *result, size_t len, dwf_error *err)
{
    if (len > MAX_STEP_PAYLOAD)
        return fail(err, IPVE, "Callback result size must be less than or equal to %d bytes.", MAX_STEP_PAYLOAD);
    return callback_complete(s, cbid, result ? result : "", result ? len : 0, NULL, err);
}

int dwf_service_callback_fail(dwf_service *s, const char *cbid, const cJSON *eo, dwf_error *err)
{
    cJSON *empty = NULL;
    if (eo && !cJSON_IsObject(eo)) return fail(err, IPVE, "The callback error must be an ErrorObject.");
    if (!eo && !(eo = empty = cJSON_CreateObject())) return oom(err);
    int r = callback_complete(s, cbid, NULL, 0, eo, err);
    cJSON_Delete(empty);
    return r;
}

int dwf_service_callback_heartbeat(dwf_service *s, const char *cbid, dwf_error *err)
{
    if (dwf_service_fire_timers(s, NULL, NULL, err) != 0) return -1;
    lock(s);
    if (dwf__store_begin(s->st, err) != 0) return abort_tx(s);
    dwf__exec *e = NULL;
    cJSON *op = NULL;
    long long seq;
    double hb = 0;
    if (callback_find(s, cbid, &e, &op, &seq, &hb, err) != 0) return abort_tx(s);
    int r = hb > 0 ? timer_set(s, e, jstr(op, "Id"), "CALLBACK_HEARTBEAT", dwf_service_now(s) + hb * 1000.0, err)
                   : fail(err, IPVE, "The callback has no heartbeat timeout.");
    cJSON_Delete(op);
    dwf__exec_free(e);
    if (r != 0) return abort_tx(s);
    return commit_tx(s, err);
}

/* ---- reads: state, execution, history, list ------------------------------------------------------- */
static int parse_marker(const char *m, long long *v)
{
    if (!m || !*m) return 0;
    char *end;
    long long x = strtoll(m, &end, 10);
    if (*end || x < 0) return -1;
    *v = x;
    return 0;
}

static int page_size(int max_items, int *n, dwf_error *err)
{
    if (max_items < 0 || max_items > 1000) return fail(err, IPVE, "MaxItems must be between 1 and 1000.");
    *n = max_items ? max_items : 100;
    return 0;
}

int dwf_service_get_state(dwf_service *s, const char *arn, const char *token, const char *marker, int max_items,
                          cJSON **out, dwf_error *err)
{
    *out = NULL;
    int limit = 100;
    long long after = -1;
    if (page_size(max_items, &limit, err) != 0) return -1;
    if (!token || !*token) return fail(err, IPVE, "Checkpoint token is required");
    if (parse_marker(marker, &after) != 0) return fail(err, IPVE, "Invalid marker.");
    lock(s);
    dwf__exec *e = NULL;
    int r = exec_get(s, arn, &e, err);
    cJSON *o = NULL, *ops = NULL;
    if (r != 0) goto done;
    if ((r = token_ok(s, e, token, 0, err)) <= 0) {
        if (r == 0) fail(err, IPVE, "Invalid Checkpoint Token: the token was not issued for this execution.");
        r = -1;
        goto done;
    }
    long long last = after;
    int more = 0;
    o = cJSON_CreateObject();
    r = !o || jset(o, "Operations", ops = cJSON_CreateArray()) ? oom(err) : ops_page(s, e, after, limit, ops, &last, &more, err);
    if (r == 0 && more) {
        char m[32];
        snprintf(m, sizeof m, "%lld", last);
        if (jset_str(o, "NextMarker", m)) r = oom(err);
    }
done:
    dwf__exec_free(e);
    unlock(s);
    if (r != 0) {
        cJSON_Delete(o);
        return -1;
    }
    *out = o;
    return 0;
}

int dwf_service_operations(dwf_service *s, const char *arn, cJSON **out, dwf_error *err)
{
    *out = NULL;
    lock(s);
    dwf__exec *e = NULL;
    cJSON *ops = NULL;
    long long last;
    int more, r = exec_get(s, arn, &e, err);
    if (r == 0) r = (ops = cJSON_CreateArray()) ? ops_page(s, e, -1, 0, ops, &last, &more, err) : oom(err);
    dwf__exec_free(e);
    unlock(s);
    if (r != 0) {
        cJSON_Delete(ops);
        return -1;
    }
    *out = ops;
    return 0;
}

static cJSON *exec_summary(dwf_service *s, const dwf__exec *e)
{
    char fa[512];
    snprintf(fa, sizeof fa, "arn:aws:lambda:%s:%s:function:%s:$LATEST", s->region, s->account, e->function_name);
    cJSON *o = cJSON_CreateObject();
    int bad = !o || jset_str(o, "DurableExecutionArn", e->arn) || jset_str(o, "DurableExecutionName", e->name) ||
              jset_str(o, "FunctionArn", fa) || jset_str(o, "Status", e->status) ||
              jset_ts(o, "StartTimestamp", e->start_ms);
    if (is_terminal(e->status)) bad |= jset_ts(o, "EndTimestamp", e->end_ms);
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int dwf_service_get_execution(dwf_service *s, const char *arn, int include_data, cJSON **out, dwf_error *err)
{
    *out = NULL;
    lock(s);
    dwf__exec *e = NULL;
    int r = exec_get(s, arn, &e, err);
    unlock(s);
    if (r != 0) return -1;
    cJSON *o = exec_summary(s, e), *dc = NULL;
    int bad = !o;
    if (!bad && include_data) {
        bad |= jset_str(o, "InputPayload", e->input) | jset_str(o, "Result", e->result);
        if (e->error) {
            cJSON *eo = cJSON_Parse(e->error);
            bad |= jset(o, "Error", eo ? eo : cJSON_CreateObject());
        }
    }
    bad |= jset_str(o, "Version", "$LATEST") | jset(o, "ExecutionDataIncluded", cJSON_CreateBool(include_data));
    bad |= !(dc = jobj(o, "DurableConfig")) || jset_num(dc, "RetentionPeriodInDays", e->retention_days) ||
           jset_num(dc, "ExecutionTimeout", e->timeout_s);
    dwf__exec_free(e);
    if (bad) {
        cJSON_Delete(o);
        return oom(err);
    }
    *out = o;
    return 0;
}

/* Without execution data, history events lose their Input, Result and Error objects (the
 * {Payload, Truncated} wrappers), as GetDurableExecution loses InputPayload, Result and Error. */
static void strip_payloads(cJSON *v)
{
    for (cJSON *c = v ? v->child : NULL, *next; c; c = next) {
        next = c->next;
        if (cJSON_IsObject(c) && cJSON_GetObjectItemCaseSensitive(c, "Truncated")) cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
        else if (cJSON_IsObject(c)) strip_payloads(c);
    }
}

int dwf_service_get_history(dwf_service *s, const char *arn, int include_data, int max_items, const char *marker,
                            int reverse, cJSON **out, dwf_error *err)
{
    *out = NULL;
    int limit = 100;
    long long from = -1;
    if (page_size(max_items, &limit, err) != 0) return -1;
    if (parse_marker(marker, &from) != 0) return fail(err, IPVE, "Invalid marker.");
    lock(s);
    dwf__exec *e = NULL;
    cJSON *o = NULL, *evs = NULL;
    int r = exec_get(s, arn, &e, err);
    if (r != 0) goto done;
    if (from < 0) from = reverse ? e->event_count + 1 : 0;
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       reverse ? "SELECT json, event_id FROM events WHERE exec_id=?1 AND event_id<?2"
                                                 " ORDER BY event_id DESC LIMIT ?3"
                                               : "SELECT json, event_id FROM events WHERE exec_id=?1 AND event_id>?2"
                                                 " ORDER BY event_id LIMIT ?3",
                                       "sii", e->id, from, (long long)limit + 1);
    if (!q) {
        r = -1;
        goto done;
    }
    o = cJSON_CreateObject();
    if (!o || jset(o, "Events", evs = cJSON_CreateArray())) r = oom(err);
    int n = 0;
    long long last = 0;
    while (r == 0 && (r = dwf__sql_step(s->st, q, err)) == 1) {
        r = 0;
        if (n == limit) {
            char m[32];
            snprintf(m, sizeof m, "%lld", last);
            if (jset_str(o, "NextMarker", m)) r = oom(err);
            break;
        }
        cJSON *ev = cJSON_Parse((const char *)sqlite3_column_text(q, 0));
        if (ev && !include_data) strip_payloads(ev);
        if (!ev || !cJSON_AddItemToArray(evs, ev)) {
            cJSON_Delete(ev);
            r = oom(err);
        }
        last = sqlite3_column_int64(q, 1);
        n++;
    }
    dwf__sql_done(s->st, q);
    if (r > 0) r = 0;
done:
    dwf__exec_free(e);
    unlock(s);
    if (r != 0) {
        cJSON_Delete(o);
        return -1;
    }
    *out = o;
    return 0;
}

int dwf_service_list_executions(dwf_service *s, const cJSON *query, cJSON **out, dwf_error *err)
{
    *out = NULL;
    const char *fn = jstr(query, "FunctionName"), *name = jstr(query, "DurableExecutionName");
    const cJSON *statuses = cJSON_GetObjectItemCaseSensitive(query, "Statuses");
    const cJSON *after = cJSON_GetObjectItemCaseSensitive(query, "StartedAfter");
    const cJSON *before = cJSON_GetObjectItemCaseSensitive(query, "StartedBefore");
    int reverse = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(query, "ReverseOrder"));
    const cJSON *mi = cJSON_GetObjectItemCaseSensitive(query, "MaxItems");
    int limit = 100;
    long long offset = 0;
    if (page_size(cJSON_IsNumber(mi) ? (int)mi->valuedouble : 0, &limit, err) != 0) return -1;
    if (parse_marker(jstr(query, "Marker"), &offset) != 0) return fail(err, IPVE, "Invalid marker.");
    char base[256] = "";
    if (fn) function_base(fn, base);
    lock(s);
    sqlite3_stmt *q = dwf__sql_prepare(
        s->st, err,
        reverse ? "SELECT id FROM executions WHERE (?1 IS NULL OR function_name=?1) AND (?2 IS NULL OR name=?2)"
                  " AND start_ms>=?3 AND start_ms<=?4 ORDER BY start_ms DESC, rowid DESC"
                : "SELECT id FROM executions WHERE (?1 IS NULL OR function_name=?1) AND (?2 IS NULL OR name=?2)"
                  " AND start_ms>=?3 AND start_ms<=?4 ORDER BY start_ms, rowid",
        "ssdd", fn ? base : NULL, name, cJSON_IsNumber(after) ? after->valuedouble * 1000.0 : -1e300,
        cJSON_IsNumber(before) ? before->valuedouble * 1000.0 : 1e300);
    cJSON *o = cJSON_CreateObject(), *list = NULL, *ids = cJSON_CreateArray();
    int r = !q ? -1 : (!o || !ids || jset(o, "DurableExecutions", list = cJSON_CreateArray())) ? oom(err) : 0;
    while (r == 0 && (r = dwf__sql_step(s->st, q, err)) == 1) {
        r = cJSON_AddItemToArray(ids, cJSON_CreateString((const char *)sqlite3_column_text(q, 0))) ? 0 : oom(err);
    }
    dwf__sql_done(s->st, q);
    long long idx = 0;
    int n = 0;
    for (cJSON *id = ids ? ids->child : NULL; r == 0 && id; id = id->next) {
        dwf__exec *e = NULL;
        if ((r = dwf__exec_load(s->st, id->valuestring, &e, err)) != 0) {
            r = r < 0 ? -1 : 0;
            continue;
        }
        int match = !cJSON_IsArray(statuses) || cJSON_GetArraySize(statuses) == 0;
        for (cJSON *st = cJSON_IsArray(statuses) ? statuses->child : NULL; st; st = st->next)
            if (cJSON_IsString(st) && strcmp(st->valuestring, e->status) == 0) match = 1;
        if (match && idx++ >= offset) {
            if (n == limit) {
                char m[32];
                snprintf(m, sizeof m, "%lld", offset + n);
                if (jset_str(o, "NextMarker", m)) r = oom(err);
                dwf__exec_free(e);
                break;
            }
            cJSON *sum = exec_summary(s, e);
            if (!sum || !cJSON_AddItemToArray(list, sum)) {
                cJSON_Delete(sum);
                r = oom(err);
            }
            n++;
        }
        dwf__exec_free(e);
    }
    unlock(s);
    cJSON_Delete(ids);
    if (r != 0) {
        cJSON_Delete(o);
        return -1;
    }
    *out = o;
    return 0;
}

int dwf_service_stop(dwf_service *s, const char *arn, const cJSON *error_object_in, cJSON **out, dwf_error *err)
{
    *out = NULL;
    if (error_object_in && !cJSON_IsObject(error_object_in))
        return fail(err, IPVE, "The stop error must be an ErrorObject.");
    lock(s);
    if (dwf__store_begin(s->st, err) != 0) return abort_tx(s);
    dwf__exec *e = NULL;
    if (exec_get(s, arn, &e, err) != 0) return abort_tx(s);
    if (is_terminal(e->status)) {
        fail(err, IPVE, "Durable execution %s is not running (status %s).", e->arn, e->status);
        dwf__exec_free(e);
        return abort_tx(s);
    }
    cJSON *eo = error_object_in ? cJSON_Duplicate(error_object_in, 1)
                                : error_object("ExecutionStopped", "The durable execution was stopped.");
    double now = dwf_service_now(s);
    int r = eo ? exec_close(s, e, "STOPPED", NULL, eo, err) : oom(err);
    cJSON_Delete(eo);
    if (r == 0) r = dwf__exec_save(s->st, e, err);
    dwf__exec_free(e);
    if (r != 0) return abort_tx(s);
    cJSON *o = cJSON_CreateObject();
    if (!o || jset_ts(o, "StopTimestamp", now)) {
        cJSON_Delete(o);
        oom(err);
        return abort_tx(s);
    }
    if (commit_tx(s, err) != 0) {
        cJSON_Delete(o);
        return -1;
    }
    *out = o;
    return 0;
}

/* ---- scheduling ----------------------------------------------------------------------------------- */
int dwf_service_runnable(dwf_service *s, const char *root_arn, double stale_ms, cJSON **out, dwf_error *err)
{
    *out = NULL;
    lock(s);
    double now = dwf_service_now(s);
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT arn FROM executions WHERE status='RUNNING' AND (?1 IS NULL OR root_arn=?1)"
                                       " AND ((wake=1 AND inv_open=0 AND next_invoke_ms<=?2)"
                                       " OR (inv_open=1 AND ?3>=0 AND inv_started_ms<=?2-?3)) ORDER BY start_ms",
                                       "sdd", root_arn, now, stale_ms);
    cJSON *arr = cJSON_CreateArray();
    int r = !q ? -1 : !arr ? oom(err) : 0;
    while (r == 0 && (r = dwf__sql_step(s->st, q, err)) == 1)
        r = cJSON_AddItemToArray(arr, cJSON_CreateString((const char *)sqlite3_column_text(q, 0))) ? 0 : oom(err);
    dwf__sql_done(s->st, q);
    /* Open invocations not stale yet, but whose process on this machine has died (kill -9 of
     * an engine): lost now, not in stale_ms. */
    q = r == 0 ? dwf__sql_prepare(s->st, err,
                                  "SELECT arn, inv_owner FROM executions WHERE status='RUNNING' AND inv_open=1"
                                  " AND (?1 IS NULL OR root_arn=?1) AND NOT (?3>=0 AND inv_started_ms<=?2-?3)"
                                  " ORDER BY start_ms",
                                  "sdd", root_arn, now, stale_ms)
               : NULL;
    if (r == 0 && !q) r = -1;
    while (r == 0 && (r = dwf__sql_step(s->st, q, err)) == 1) {
        r = 0;
        if (owner_is_dead((const char *)sqlite3_column_text(q, 1)) &&
            !cJSON_AddItemToArray(arr, cJSON_CreateString((const char *)sqlite3_column_text(q, 0))))
            r = oom(err);
    }
    dwf__sql_done(s->st, q);
    unlock(s);
    if (r != 0) {
        cJSON_Delete(arr);
        return -1;
    }
    *out = arr;
    return 0;
}

int dwf_service_next_due(dwf_service *s, const char *root_arn, int include_deadlines, double *due_ms,
                         dwf_error *err)
{
    *due_ms = -1;
    lock(s);
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT MIN(d) FROM (SELECT t.due_ms AS d FROM timers t JOIN executions x ON x.id=t.exec_id"
                                       " WHERE x.status='RUNNING' AND (?1 IS NULL OR x.root_arn=?1)"
                                       " AND (?2 OR t.kind IN ('WAIT','STEP_RETRY'))"
                                       " UNION ALL SELECT next_invoke_ms FROM executions WHERE status='RUNNING'"
                                       " AND wake=1 AND inv_open=0 AND (?1 IS NULL OR root_arn=?1))",
                                       "si", root_arn, (long long)include_deadlines);
    int r = q ? dwf__sql_step(s->st, q, err) : -1;
    if (r == 1 && sqlite3_column_type(q, 0) != SQLITE_NULL) *due_ms = sqlite3_column_double(q, 0);
    dwf__sql_done(s->st, q);
    unlock(s);
    return r < 0 ? -1 : 0;
}

int dwf_service_open_callbacks(dwf_service *s, const char *root_arn, cJSON **out, dwf_error *err)
{
    *out = NULL;
    lock(s);
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT x.arn, o.json FROM operations o JOIN executions x ON x.id=o.exec_id"
                                       " WHERE x.status='RUNNING' AND (?1 IS NULL OR x.root_arn=?1) AND o.type='CALLBACK'"
                                       " AND o.status='STARTED' ORDER BY x.start_ms, o.start_seq",
                                       "s", root_arn);
    cJSON *arr = cJSON_CreateArray();
    int r = !q ? -1 : !arr ? oom(err) : 0;
    while (r == 0 && (r = dwf__sql_step(s->st, q, err)) == 1) {
        cJSON *op = cJSON_Parse((const char *)sqlite3_column_text(q, 1));
        cJSON *c = cJSON_CreateObject();
        int bad = !op || !c || jset_str(c, "DurableExecutionArn", (const char *)sqlite3_column_text(q, 0)) ||
                  jset_str(c, "Id", jstr(op, "Id")) || jset_str(c, "Name", jstr(op, "Name")) ||
                  jset_str(c, "CallbackId", jstr(cJSON_GetObjectItemCaseSensitive(op, "CallbackDetails"), "CallbackId")) ||
                  !cJSON_AddItemToArray(arr, c);
        cJSON_Delete(op);
        if (bad) {
            cJSON_Delete(c);
            r = oom(err);
        } else {
            r = 0;
        }
    }
    dwf__sql_done(s->st, q);
    unlock(s);
    if (r != 0) {
        cJSON_Delete(arr);
        return -1;
    }
    *out = arr;
    return 0;
}

int dwf_service_purge_expired(dwf_service *s, int *deleted, dwf_error *err)
{
    if (deleted) *deleted = 0;
    lock(s);
    double now = dwf_service_now(s);
    const char *sel = "SELECT id FROM executions WHERE status!='RUNNING' AND end_ms + retention_days*86400000.0 < ?1";
    /* Look first without a write lock: a store another process is writing can still be read. */
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, sel, "d", now);
    int r = q ? dwf__sql_step(s->st, q, err) : -1;
    dwf__sql_done(s->st, q);
    if (r <= 0) {
        unlock(s);
        return r;
    }
    if (dwf__store_begin(s->st, err) != 0) return abort_tx(s);
    cJSON *ids = cJSON_CreateArray();
    q = dwf__sql_prepare(s->st, err, sel, "d", now);
    r = !q ? -1 : !ids ? oom(err) : 0;
    while (r == 0 && (r = dwf__sql_step(s->st, q, err)) == 1)
        r = cJSON_AddItemToArray(ids, cJSON_CreateString((const char *)sqlite3_column_text(q, 0))) ? 0 : oom(err);
    dwf__sql_done(s->st, q);
    for (cJSON *id = ids ? ids->child : NULL; r == 0 && id; id = id->next) {
        r = dwf__exec_delete(s->st, id->valuestring, err);
        if (r == 0 && deleted) (*deleted)++;
    }
    cJSON_Delete(ids);
    if (r != 0) return abort_tx(s);
    return commit_tx(s, err);
}
