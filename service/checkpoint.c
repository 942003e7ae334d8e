/*
 * checkpoint.c: CheckpointDurableExecution, the call through which a handler records what it
 * did: the token, the shape of each update, the rules of a batch, and the answer (a new token
 * and every operation the handler has not seen yet).
 *
 * A request applies completely or not at all: the updates are checked and applied in order in
 * one transaction, and the first violation rolls the whole batch back, so the token stays
 * current and the SDK may send the batch again. Due timers fire first, in their own
 * transaction, so the answer carries what they changed. What each update does to its
 * operation is apply.c's business; docs/protocol.md lists every rule and message.
 */
#include "service_impl.h"

#include <stdlib.h>
#include <string.h>

/* The updates of one Id so far in this request. */
typedef struct seen_id {
    const char *id;
    int n;
    int started; /* the first one was a STEP or CONTEXT START */
} seen_id;

/* The largest Payload an update of this type may carry. */
static size_t payload_limit(enum dwf_optype type)
{
    switch (type) {
    case DWF_OPTYPE_EXECUTION: return DWF_LIMIT_SYNC_PAYLOAD;
    case DWF_OPTYPE_CHAINED_INVOKE: return DWF_LIMIT_INVOKE_PAYLOAD;
    case DWF_OPTYPE_CONTEXT:
    case DWF_OPTYPE_STEP:
    case DWF_OPTYPE_WAIT:
    case DWF_OPTYPE_CALLBACK:
    case DWF_OPTYPE_NONE:
    case DWF_OPTYPE_UNKNOWN: break;
    }
    return DWF_LIMIT_OPERATION_PAYLOAD;
}

static int valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > DWF_LIMIT_NAME_LEN) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e) return 0;
    return 1;
}

/* The fields of one OperationUpdate, each checked on its own; fills up. */
static int update_fields(const cJSON *u, dwf__update *up, dwf_error *err)
{
    if (!cJSON_IsObject(u)) return fail(err, IPVE, "Each update must be an OperationUpdate object.");
    up->u = u;
    up->id = jstr(u, "Id");
    up->type = dwf_optype_parse(jstr(u, "Type"));
    up->action = dwf_action_parse(jstr(u, "Action"));
    if (!dwf__svc_valid_id(up->id)) return fail(err, IPVE, "Invalid operation id: must be 1-64 characters [a-zA-Z0-9-_].");
    if (up->type == DWF_OPTYPE_NONE || up->type == DWF_OPTYPE_UNKNOWN)
        return fail(err, IPVE, "Invalid operation type for operation %s.", up->id);
    if (up->action == DWF_ACTION_NONE || up->action == DWF_ACTION_UNKNOWN)
        return fail(err, IPVE, "Invalid operation action for operation %s.", up->id);
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(u, "Name");
    if (name && (!cJSON_IsString(name) || !valid_name(name->valuestring)))
        return fail(err, IPVE, "Invalid operation name: must be 1-256 printable ASCII characters.");
    const cJSON *sub = cJSON_GetObjectItemCaseSensitive(u, "SubType");
    if (sub && !cJSON_IsString(sub)) return fail(err, IPVE, "SubType must be a string.");
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(u, "Payload");
    if (pl && !cJSON_IsString(pl)) return fail(err, IPVE, "Payload must be a string.");
    up->payload = pl ? pl->valuestring : NULL;
    up->error = cJSON_GetObjectItemCaseSensitive(u, "Error");
    if (up->error && !cJSON_IsObject(up->error)) return fail(err, IPVE, "Error must be an ErrorObject.");
    if (up->error) {
        char *ej = cJSON_PrintUnformatted(up->error);
        if (!ej) return oom(err);
        size_t n = strlen(ej);
        free(ej);
        if (n > DWF_LIMIT_ERROR_JSON)
            return fail(err, IPVE, "Error object size must be less than or equal to %d bytes.", DWF_LIMIT_ERROR_JSON);
    }
    return 0;
}

/* The fields together: what an action may carry, and how much. */
static int update_shape(const dwf__update *up, dwf_error *err)
{
    if (up->action == DWF_ACTION_SUCCEED && up->error)
        return fail(err, IPVE, "Cannot provide an Error for a SUCCEED action.");
    if (up->action == DWF_ACTION_FAIL && up->payload) return fail(err, IPVE, "Cannot provide a Payload for a FAIL action.");
    size_t lim = payload_limit(up->type);
    if (up->payload && strlen(up->payload) > lim)
        return fail(err, IPVE, "%s payload size must be less than or equal to %zu bytes.", dwf_optype_name(up->type), lim);
    return 0;
}

/* The rules across a request: one update per Id, except a STEP or CONTEXT START followed by
 * one closing update; a ParentId names a CONTEXT in the state or started earlier in it. */
static int batch_rules(dwf_service *s, dwf__exec *e, const dwf__update *up, seen_id *seen, int *nseen,
                       dwf_error *err)
{
    int k;
    for (k = 0; k < *nseen; k++) /* (ids are mostly hashes: the first byte tells most apart) */
        if (seen[k].id[0] == up->id[0] && strcmp(seen[k].id, up->id) == 0) break;
    if (k < *nseen) {
        if (!(seen[k].n == 1 && seen[k].started && up->action != DWF_ACTION_START))
            return fail(err, IPVE, "Cannot update the same operation twice in a single request.");
        seen[k].n++;
    } else {
        seen[k].id = up->id;
        seen[k].n = 1;
        seen[k].started = up->action == DWF_ACTION_START &&
                          (up->type == DWF_OPTYPE_STEP || up->type == DWF_OPTYPE_CONTEXT);
        (*nseen)++;
    }
    const cJSON *parent = cJSON_GetObjectItemCaseSensitive(up->u, "ParentId");
    if (!parent) return 0;
    cJSON *pop = NULL;
    int r = cJSON_IsString(parent) && dwf__svc_valid_id(parent->valuestring)
                ? dwf__svc_op_load(s, e, parent->valuestring, &pop, NULL, err)
                : 1;
    if (r < 0) return -1;
    int ok = r == 0 && op_type(pop) == DWF_OPTYPE_CONTEXT;
    cJSON_Delete(pop);
    return ok ? 0 : fail(err, IPVE, "Invalid parent operation id.");
}

/* Check one update (the index-th of count) and apply it. */
static int checkpoint_update(dwf_service *s, dwf__exec *e, const cJSON *u, int index, int count, seen_id *seen,
                             int *nseen, dwf_error *err)
{
    dwf__update up = {0};
    if (update_fields(u, &up, err) != 0 || update_shape(&up, err) != 0) return -1;
    if (up.type == DWF_OPTYPE_EXECUTION) {
        if (index != count - 1) return fail(err, IPVE, "An EXECUTION update must be the last update of a request.");
        return dwf__svc_apply_execution(s, e, &up, err);
    }
    if (batch_rules(s, e, &up, seen, nseen, err) != 0) return -1;
    return dwf__svc_apply(s, e, &up, err);
}

/* The token must be the execution's current one, of a running execution. */
static int token_current(dwf_service *s, dwf__exec *e, const char *token, dwf_error *err)
{
    int r = dwf__svc_token_ok(s, e, token, 1, err);
    if (r < 0) return -1;
    if (r == 0) return fail(err, IPVE, "Invalid Checkpoint Token: the token is not current for this execution.");
    if (e->status != DWF_EXECSTATUS_RUNNING)
        return fail(err, IPVE, "Invalid Checkpoint Token: the execution has completed.");
    return 0;
}

/* Every update in order; the first violation stops (the caller rolls back). */
static int checkpoint_updates(dwf_service *s, dwf__exec *e, const cJSON *updates, dwf_error *err)
{
    int n = cJSON_GetArraySize(updates), nseen = 0, i = 0, r = 0;
    seen_id *seen = NULL;
    if (n > 0 && !(seen = calloc((size_t)n, sizeof *seen))) return oom(err);
    for (const cJSON *u = updates ? updates->child : NULL; r == 0 && u; u = u->next, i++) {
        if (e->status != DWF_EXECSTATUS_RUNNING)
            r = fail(err, IPVE, "An EXECUTION update must be the last update of a request.");
        else
            r = checkpoint_update(s, e, u, i, n, seen, &nseen, err);
    }
    free(seen);
    return r;
}

/* {"CheckpointToken": a new one, "NewExecutionState": {"Operations": what the handler has not seen}}. */
static int checkpoint_answer(dwf_service *s, dwf__exec *e, long long seq_before, cJSON **out, dwf_error *err)
{
    char next[DWF__TOKEN_LEN];
    if (dwf__svc_token_issue(s, e, next, err) != 0) return -1;
    /* An execution the batch ended takes no more checkpoints: the new token is born retired. */
    if (e->status != DWF_EXECSTATUS_RUNNING) dwf__svc_token_retire(e);
    cJSON *o = cJSON_CreateObject(), *ns = NULL, *ops = NULL;
    if (!o || jset_str(o, "CheckpointToken", next) || !(ns = jobj(o, "NewExecutionState")) ||
        jset(ns, "Operations", ops = cJSON_CreateArray())) {
        cJSON_Delete(o);
        return oom(err);
    }
    if (dwf__svc_opcache_answer(s, e, e->seen_seq, seq_before, ops, err) != 0) {
        cJSON_Delete(o);
        return -1;
    }
    dwf__svc_ops_for_handler(ops, e);
    e->seen_seq = e->seq;
    *out = o;
    return 0;
}

int dwf_service_checkpoint(dwf_service *s, const char *arn, const cJSON *req, cJSON **out, dwf_error *err)
{
    *out = NULL;
    const char *token = jstr(req, "CheckpointToken");
    if (!token || !*token) return fail(err, IPVE, "Checkpoint token is required");
    const cJSON *updates = cJSON_GetObjectItemCaseSensitive(req, "Updates");
    if (updates && !cJSON_IsArray(updates)) return fail(err, IPVE, "Updates must be a list of OperationUpdate.");
    if (!arn || !*arn) return fail(err, RNFE, "Durable execution not found: ");

    dwf__exec *e = NULL;
    int r;
    dwf__svc_lock(s);
    if (dwf__store_begin(s->st, err) != 0) return dwf__svc_abort(s);
    /* Service-driven changes first (due timers, each fired in its own transaction), so the delta
     * carries them; an unknown execution has none, and fails on the load below. Whether any is
     * due is read in this call's transaction: a read before it, in a transaction of its own, was
     * four of SQLite's lock calls (fcntl) per at-most-once step (strace), and nearly always
     * finds nothing. When something is due, this transaction, which has written nothing, is
     * given up while they fire, then begun again. */
    char *root = NULL;
    if ((r = dwf__svc_timer_due_of(s, arn, &root, err)) != 0) {
        dwf__svc_abort(s);
        r = r < 0 ? -1 : dwf__svc_fire_timers_root(s, root, err);
        free(root);
        if (r != 0) return -1;
        dwf__svc_lock(s);
        if (dwf__store_begin(s->st, err) != 0) return dwf__svc_abort(s);
    }
    if (dwf__svc_exec_get(s, arn, &e, err) != 0) return dwf__svc_abort(s);
    cJSON *o = NULL;
    r = token_current(s, e, token, err);
    /* The operations the updates write are held and written once each (opcache.c). */
    if (r == 0) r = dwf__svc_opcache_begin(s, err);
    long long seq_before = e->seq;
    if (r == 0) r = checkpoint_updates(s, e, updates, err);
    if (r == 0) r = dwf__svc_opcache_flush(s, e->no, err);
    if (r == 0) r = checkpoint_answer(s, e, seq_before, &o, err);
    if (r == 0) r = dwf__exec_save_last(s->st, e, err); /* (e is freed next) */
    dwf__exec_free(e);
    dwf__svc_opcache_drop(s);
    if (r != 0) {
        cJSON_Delete(o);
        return dwf__svc_abort(s);
    }
    if (dwf__svc_commit(s, err) != 0) {
        cJSON_Delete(o);
        return -1;
    }
    *out = o;
    return 0;
}
