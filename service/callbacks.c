/*
 * callbacks.c: callback ids and the calls of the outside world that answer them
 * (SendDurableExecutionCallbackSuccess / Failure / Heartbeat), and the list of open callbacks
 * a host shows its user.
 *
 * A CallbackId is base64 of {"executionId","operationId","token"} (the form the SDK's testing
 * service uses); the callbacks table maps it to its operation and says whether it is still
 * OPEN. A malformed id is InvalidParameterValueException, one this store never issued
 * ResourceNotFoundException, and any call on a completed, timed-out or closed callback
 * CallbackTimeoutException. Deadlines that have passed are applied before an answer is looked
 * at, so a late answer loses even if no host fired the timer yet.
 */
#include "service_impl.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

char *dwf__svc_callback_id_new(const dwf__exec *e, const char *op_id)
{
    char tok[40], json[256];
    dwf__svc_uuid(tok);
    int n = snprintf(json, sizeof json, "{\"executionId\":\"%s\",\"operationId\":\"%s\",\"token\":\"%s\"}", e->id,
                     op_id, tok);
    if (n < 0 || n >= (int)sizeof json) return NULL;
    char *out = malloc(4 * ((size_t)n + 2) / 3 + 4);
    if (!out) return NULL;
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)json, n);
    return out;
}

/* 1 if cbid is base64 of a JSON object naming an execution and an operation. */
static int callback_id_wellformed(const char *cbid)
{
    size_t n = cbid ? strlen(cbid) : 0;
    int ok = n >= 4 && n <= DWF_LIMIT_CALLBACK_ID_LEN && n % 4 == 0;
    for (size_t i = 0; ok && i < n; i++) {
        char c = cbid[i];
        int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
        if (!alpha && !(c == '=' && i >= n - 2)) ok = 0;
        if (c == '=' && i == n - 2 && cbid[n - 1] != '=') ok = 0;
    }
    if (!ok) return 0;
    unsigned char *buf = malloc(n);
    if (!buf) return -1;
    cJSON *dec = NULL;
    int m = EVP_DecodeBlock(buf, (const unsigned char *)cbid, (int)n);
    if (m > 0) {
        while (m > 0 && buf[m - 1] == '\0') m--;
        dec = cJSON_ParseWithLength((const char *)buf, (size_t)m);
    }
    free(buf);
    ok = jstr(dec, "executionId") && jstr(dec, "operationId");
    cJSON_Delete(dec);
    return ok;
}

/* Find an open callback: loads its execution and operation. Inside a transaction. */
static int callback_find(dwf_service *s, const char *cbid, dwf__exec **e, cJSON **op, long long *seq, double *hb,
                         dwf_error *err)
{
    *e = NULL;
    *op = NULL;
    int ok = callback_id_wellformed(cbid);
    if (ok < 0) return oom(err);
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
    if (dwf__svc_cbstate_parse(state) != DWF__CB_OPEN)
        return fail(err, DWF_ERRORTYPE_CALLBACK_TIMEOUT,
                    "The callback has already completed, timed out or its execution has closed (%s).", state);
    if ((r = dwf__exec_load(s->st, exec_id, e, err)) != 0)
        return r < 0 ? -1 : fail(err, RNFE, "Callback not found: its execution no longer exists.");
    if ((*e)->status != DWF_EXECSTATUS_RUNNING || (r = dwf__svc_op_load(s, *e, op_id, op, seq, err)) != 0 ||
        op_status(*op) != DWF_OPSTATUS_STARTED) {
        dwf__exec_free(*e);
        cJSON_Delete(*op);
        *e = NULL;
        *op = NULL;
        return r < 0 ? -1
                     : fail(err, DWF_ERRORTYPE_CALLBACK_TIMEOUT, "The callback has already completed or timed out.");
    }
    return 0;
}

/* The operation after the answer: CallbackDetails replaced by {CallbackId, Result | Error},
 * SUCCEEDED or FAILED; evd receives the event's details. */
static int callback_answer(dwf_service *s, const dwf__exec *e, cJSON *op, const char *cbid, const char *res,
                           const cJSON *eo,
                           cJSON *evd)
{
    cJSON *cd = cJSON_CreateObject();
    int bad = !cd || !evd || jset_str(cd, "CallbackId", cbid);
    if (!eo) bad |= jset_str(cd, "Result", res) | jset(evd, "Result", dwf__svc_wrap_payload(res));
    else bad |= jset(cd, "Error", jdup(eo)) | jset(evd, "Error", dwf__svc_wrap_error(eo));
    bad |= jset(op, "CallbackDetails", cd);
    bad |= jset_str(op, "Status", dwf_opstatus_name(eo ? DWF_OPSTATUS_FAILED : DWF_OPSTATUS_SUCCEEDED)) |
           jset_ts(op, "EndTimestamp", dwf__svc_now(s, e));
    return bad;
}

/* Complete a callback: result (SUCCEEDED; len bytes, none = no Result) or error object (FAILED). */
static int callback_complete(dwf_service *s, const char *cbid, const char *result, size_t len, const cJSON *eo,
                             dwf_error *err)
{
    /* A deadline that has passed wins over a late answer, even if no engine fired it yet. */
    if (dwf_service_fire_timers(s, NULL, NULL, err) != 0) return -1;
    dwf__svc_lock(s);
    if (dwf__store_begin(s->st, err) != 0) return dwf__svc_abort(s);
    dwf__exec *e = NULL;
    cJSON *op = NULL, *evd = NULL;
    char *res = NULL;
    long long seq = -1;
    double hb = 0;
    if (callback_find(s, cbid, &e, &op, &seq, &hb, err) != 0) return dwf__svc_abort(s);
    int r = 0;
    if (!eo && len > 0) {
        if ((res = malloc(len + 1))) {
            memcpy(res, result, len);
            res[len] = '\0';
        } else {
            r = oom(err);
        }
    }
    evd = cJSON_CreateObject();
    if (r == 0) r = callback_answer(s, e, op, cbid, res, eo, evd) ? oom(err) : 0;
    if (r == 0) r = dwf__svc_op_save(s, e, op, &seq, err);
    if (r == 0) {
        r = dwf__svc_event_add(s, e, eo ? DWF_EVENTTYPE_CALLBACK_FAILED : DWF_EVENTTYPE_CALLBACK_SUCCEEDED, op, evd,
                               err);
        evd = NULL; /* event_add took it */
    }
    if (r == 0) r = dwf__svc_timer_del(s, e, jstr(op, "Id"), DWF__TIMER_UNKNOWN, err);
    if (r == 0) r = dwf__svc_callback_state(s, e, jstr(op, "Id"), eo ? DWF__CB_FAILED : DWF__CB_SUCCEEDED, err);
    if (r == 0) {
        dwf__svc_wake(e);
        r = dwf__exec_save(s->st, e, err);
    }
    free(res);
    cJSON_Delete(evd);
    cJSON_Delete(op);
    dwf__exec_free(e);
    if (r != 0) return dwf__svc_abort(s);
    return dwf__svc_commit(s, err);
}

int dwf_service_callback_succeed(dwf_service *s, const char *cbid, const char *result, size_t len, dwf_error *err)
{
    if (len > DWF_LIMIT_OPERATION_PAYLOAD)
        return fail(err, IPVE, "Callback result size must be less than or equal to %d bytes.",
                    DWF_LIMIT_OPERATION_PAYLOAD);
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
    dwf__svc_lock(s);
    if (dwf__store_begin(s->st, err) != 0) return dwf__svc_abort(s);
    dwf__exec *e = NULL;
    cJSON *op = NULL;
    long long seq;
    double hb = 0;
    if (callback_find(s, cbid, &e, &op, &seq, &hb, err) != 0) return dwf__svc_abort(s);
    int r = hb > 0 ? dwf__svc_timer_set(s, e, jstr(op, "Id"), DWF__TIMER_CALLBACK_HEARTBEAT,
                                        dwf__svc_now(s, e) + hb * 1000.0, err)
                   : fail(err, IPVE, "The callback has no heartbeat timeout.");
    cJSON_Delete(op);
    dwf__exec_free(e);
    if (r != 0) return dwf__svc_abort(s);
    return dwf__svc_commit(s, err);
}

int dwf_service_open_callbacks(dwf_service *s, const char *root_arn, cJSON **out, dwf_error *err)
{
    *out = NULL;
    dwf__svc_lock(s);
    /* The deadlines are the callback's timers: the heartbeat one moves with each heartbeat.
     * The running executions first (CROSS JOIN keeps that order), then each one's operations
     * through the index by Id, which holds only operations (op_id IS NOT NULL: the events are
     * rows of the same table, schema 16); left to itself SQLite would walk every operation of
     * the store. */
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT x.arn, o.json,"
                                       " (SELECT due_ms FROM timers t WHERE t.exec_id=x.id AND t.op_id=o.op_id"
                                       "  AND t.kind=?4),"
                                       " (SELECT due_ms FROM timers t WHERE t.exec_id=x.id AND t.op_id=o.op_id"
                                       "  AND t.kind=?5)"
                                       " FROM executions x CROSS JOIN operations o ON x.no=o.exec_no"
                                       " WHERE x.status=" DWF__SQL_RUNNING " AND (?1 IS NULL OR x.root_arn=?1)"
                                       " AND o.op_id IS NOT NULL AND o.type=?2 AND o.status=?3 ORDER BY x.start_ms, o.start_seq",
                                       "sssss", root_arn, dwf_optype_name(DWF_OPTYPE_CALLBACK), dwf_opstatus_name(DWF_OPSTATUS_STARTED),
                                       dwf__svc_timer_name(DWF__TIMER_CALLBACK_TIMEOUT),
                                       dwf__svc_timer_name(DWF__TIMER_CALLBACK_HEARTBEAT));
    cJSON *arr = cJSON_CreateArray();
    int r = !q ? -1 : !arr ? oom(err) : 0;
    while (r == 0 && (r = dwf__sql_step(s->st, q, err)) == 1) {
        char what[320];
        snprintf(what, sizeof what, "a callback operation of execution %.200s", (const char *)sqlite3_column_text(q, 0));
        cJSON *op = dwf__col_json(s->st, q, 1, what, err);
        if (!op) {
            r = -1;
            break;
        }
        cJSON *c = cJSON_CreateObject();
        const cJSON *started = cJSON_GetObjectItemCaseSensitive(op, "StartTimestamp");
        int bad = !op || !c || jset_str(c, "DurableExecutionArn", (const char *)sqlite3_column_text(q, 0)) ||
                  jset_str(c, "Id", jstr(op, "Id")) || jset_str(c, "Name", jstr(op, "Name")) ||
                  jset_str(c, "CallbackId", jstr(cJSON_GetObjectItemCaseSensitive(op, "CallbackDetails"), "CallbackId")) ||
                  (cJSON_IsNumber(started) && jset_num(c, "StartTimestamp", started->valuedouble)) ||
                  (sqlite3_column_type(q, 2) != SQLITE_NULL &&
                   jset_ts(c, "TimeoutTimestamp", sqlite3_column_double(q, 2))) ||
                  (sqlite3_column_type(q, 3) != SQLITE_NULL &&
                   jset_ts(c, "HeartbeatTimestamp", sqlite3_column_double(q, 3))) ||
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
    dwf__svc_unlock(s);
    if (r != 0) {
        cJSON_Delete(arr);
        return -1;
    }
    *out = arr;
    return 0;
}
