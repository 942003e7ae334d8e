/*
 * replay.c: the operation table and what replay checks against it.
 *
 * The table maps a hashed operation Id to its latest record (initial state, pages of
 * GetDurableExecutionState, then the deltas each checkpoint response carries). An operation
 * first looks its Id up; a record means "this already happened", and its Type, Name and
 * SubType must match what the code asks for now, or the execution fails with the SDK's
 * NonDeterministicExecutionError (same message, unhashed step id). Every durable operation
 * starts with that (dwf__op_begin) and ends with dwf__op_end, which also leaves replay mode once
 * the next operation has no record. Replaced records are parked rather than freed, so another
 * thread still reading an older record stays safe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

int dwf__op_status(const dwf__op *op) { return op ? op->status : DWF_OPSTATUS_NONE; }

int dwf__durable_guard(dwf_ctx *c, const char *what)
{
    if (__atomic_load_n(&c->inv->fatal, __ATOMIC_ACQUIRE) || __atomic_load_n(&c->inv->fault, __ATOMIC_ACQUIRE))
        return DWF_FATAL;
    if (c->in_step)
        return dwf__fatal(c, "ContextValidationError",
                          "durable operation '%s' used inside a step body", what);
    for (dwf_ctx *p = c; p; p = p->parent)
        if (p->cancel && __atomic_load_n(p->cancel, __ATOMIC_ACQUIRE)) return DWF_SUSPEND;
    return DWF_OK;
}

/* After an operation of c finished (rc DWF_OK or DWF_ERROR): leave replay mode when the next
 * operation has no record. */
static void replay_advance(dwf_ctx *c, int rc)
{
    if (!c->replaying || (rc != DWF_OK && rc != DWF_ERROR)) return;
    /* The SDK's checkAndUpdateReplayMode: replay ends as soon as the next operation of this
     * context has no record (nor a first child, for contexts that are not checkpointed). */
    char *next = dwf__child_step_id(c->step_id, c->counter + 1);
    char *child = next ? dwf__child_step_id(next, 1) : NULL;
    if (next && child) {
        char a[17], b[17];
        dwf_hash_id(next, a);
        dwf_hash_id(child, b);
        if (!dwf__op_get(c->inv, a) && !dwf__op_get(c->inv, b)) c->replaying = 0;
    }
    free(next);
    free(child);
}

/* Verify mode: remember the .dwf line of the code that reached a recorded operation. */
static void verify_reached(dwf_ctx *c, const char *id)
{
    dwf_verify_report *v = c->inv->opts ? c->inv->opts->verify : NULL;
    if (!v) return;
    pthread_mutex_lock(&c->inv->mu);
    if (!v->lines) v->lines = cJSON_CreateObject();
    if (v->lines && !cJSON_GetObjectItemCaseSensitive(v->lines, id))
        cJSON_AddNumberToObject(v->lines, id, c->line);
    pthread_mutex_unlock(&c->inv->mu);
}

/* Verify mode: the first divergence, with the line of the code that asked. */
static void verify_diverged(dwf_ctx *c, const char *sid, const dwf__op *op)
{
    dwf_verify_report *v = c->inv->opts ? c->inv->opts->verify : NULL;
    if (!v) return;
    char id[17];
    dwf_hash_id(sid, id);
    (void)op;
    pthread_mutex_lock(&c->inv->mu);
    if (!v->diverged) {
        v->diverged = 1;
        snprintf(v->op_id, sizeof v->op_id, "%s", id);
        snprintf(v->step_id, sizeof v->step_id, "%s", sid);
        v->line = c->line;
    }
    pthread_mutex_unlock(&c->inv->mu);
}

int dwf__op_find(dwf_ctx *c, char *sid, enum dwf_optype type, const char *name,
                 enum dwf_subtype subtype, dwf__opref *r)
{
    memset(r, 0, sizeof *r);
    r->sid = sid;
    if (!sid) return dwf__fatal(c, "OutOfMemory", "out of memory");
    dwf_hash_id(sid, r->id);
    r->op = dwf__op_get(c->inv, r->id);
    if (r->op) verify_reached(c, r->id);
    if (type == DWF_OPTYPE_NONE) return DWF_OK;
    return dwf__check_replay(c, sid, r->op, type, name, subtype);
}

int dwf__op_begin(dwf_ctx *c, const char *what, enum dwf_optype type, const char *name,
                  enum dwf_subtype subtype, dwf__opref *r)
{
    memset(r, 0, sizeof *r);
    int rc = dwf__durable_guard(c, what);
    if (rc != DWF_OK) return rc;
    return dwf__op_find(c, dwf__next_step_id(c), type, name, subtype, r);
}

int dwf__op_end(dwf_ctx *c, dwf__opref *r, int rc)
{
    free(r->sid);
    r->sid = NULL;
    replay_advance(c, rc);
    return rc;
}

const dwf__op *dwf__op_get(dwf__inv *inv, const char *id)
{
    pthread_mutex_lock(&inv->mu);
    const dwf__op *op = dwf__map_get(&inv->ops, id);
    pthread_mutex_unlock(&inv->mu);
    return op;
}

static const char *str_field(const cJSON *o, const char *k)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(f) ? f->valuestring : NULL;
}

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int dwf__check_replay(dwf_ctx *c, const char *sid, const dwf__op *op, enum dwf_optype type,
                      const char *name, enum dwf_subtype subtype)
{
    if (!op || op->type == DWF_OPTYPE_NONE) return DWF_OK; /* the SDK skips records without a Type */
    static const char tail[] = "This indicates non-deterministic control flow in your workflow code.";
    static const char head[] = "[Unrecoverable Execution] Non-deterministic execution detected: ";
    if (op->type != type) {
        verify_diverged(c, sid, op);
        const char *rt = dwf_optype_name(op->type);
        return dwf__fatal(c, "NonDeterministicExecutionError",
                          "%sOperation type mismatch for step \"%s\". Expected type \"%s\", but "
                          "got \"%s\". %s",
                          head, sid, rt ? rt : "UNKNOWN", dwf_optype_name(type), tail);
    }
    const char *rn = op->name;
    if (!same(rn, name)) {
        verify_diverged(c, sid, op);
        return dwf__fatal(c, "NonDeterministicExecutionError",
                          "%sOperation name mismatch for step \"%s\". Expected name \"%s\", but "
                          "got \"%s\". %s",
                          head, sid, rn ? rn : "undefined", name ? name : "undefined", tail);
    }
    const char *rs = op->subtype;
    const char *want = dwf_subtype_name(subtype);
    if (!same(rs, want)) {
        verify_diverged(c, sid, op);
        return dwf__fatal(c, "NonDeterministicExecutionError",
                          "%sOperation subtype mismatch for step \"%s\". Expected subtype \"%s\", "
                          "but got \"%s\". %s",
                          head, sid, rs ? rs : "undefined", want ? want : "undefined", tail);
    }
    return DWF_OK;
}

int dwf__parse_payload(dwf_ctx *c, const char *text, dwf_val **out)
{
    /* The value layer's JSON.parse and JSON.stringify (internal.h), not cJSON's: payloads
     * must read and print numbers and strings exactly as the JavaScript SDK does. */
    char why[128] = "";
    cJSON *v = text && *text ? dwf__parse_json(text, strlen(text), why) : cJSON_CreateNull();
    if (!v) {
        if (text && *text)
            return dwf__fatal(c, "SerdesError", "recorded payload is not valid JSON (%s): %.80s", why, text);
        return dwf__fatal(c, "OutOfMemory", "out of memory");
    }
    v = dwf__adopt(c, v);
    if (!v) return dwf__fatal(c, "OutOfMemory", "out of memory");
    if (out) *out = v;
    return DWF_OK;
}

void dwf__op_free(dwf__op *op)
{
    if (!op) return;
    if (op->subtype_owned) free((char *)op->subtype);
    free(op->name);
    free(op->result);
    free(op->callback_id);
    cJSON_Delete(op->error);
    free(op);
}

static int dup_str(char **dst, const char *s)
{
    *dst = NULL;
    if (!s) return 0;
    *dst = strdup(s);
    return *dst ? 0 : -1;
}

/* The members of a wire Operation the slim record reads, found in one walk of its members:
 * looked up one by one they were 9 walks (each details object's lookup mostly missing), and
 * 4 more in each details object present, about 3,000 instructions per record (callgrind). */
enum { M_TYPE, M_STATUS, M_SUBTYPE, M_NAME, M_STEP, M_CONTEXT, M_CALLBACK, M_INVOKE, M_COUNT };
static const char *const OP_MEMBERS[M_COUNT] = {"Type",        "Status",         "SubType",         "Name",
                                                "StepDetails", "ContextDetails", "CallbackDetails", "ChainedInvokeDetails"};
enum { D_RESULT, D_ERROR, D_ATTEMPT, D_REPLAY, D_CALLBACK_ID, D_COUNT };
static const char *const DETAIL_MEMBERS[D_COUNT] = {"Result", "Error", "Attempt", "ReplayChildren", "CallbackId"};

/* m[i]: o's first member named names[i] (what cJSON_GetObjectItemCaseSensitive finds), or NULL. */
static void members(const cJSON *o, const char *const *names, int n, const cJSON **m)
{
    for (int i = 0; i < n; i++) m[i] = NULL;
    for (const cJSON *c = o ? o->child : NULL; c; c = c->next) {
        if (!c->string) continue;
        for (int i = 0; i < n; i++)
            if (!m[i] && c->string[0] == names[i][0] && strcmp(c->string, names[i]) == 0) {
                m[i] = c;
                break;
            }
    }
}

static const char *str_of(const cJSON *f) { return cJSON_IsString(f) ? f->valuestring : NULL; }

/* The slim record of a wire Operation; NULL when out of memory. */
static dwf__op *op_from_json(const cJSON *j)
{
    dwf__op *op = calloc(1, sizeof *op);
    if (!op) return NULL;
    const cJSON *m[M_COUNT];
    members(j, OP_MEMBERS, M_COUNT, m);
    op->type = (unsigned char)dwf_optype_parse(str_of(m[M_TYPE]));
    const char *st = str_of(m[M_STATUS]);
    op->status = (unsigned char)(st ? dwf_opstatus_parse(st) : DWF_OPSTATUS_UNKNOWN);
    const char *sub = str_of(m[M_SUBTYPE]);
    int ok = 1;
    if (sub) {
        /* The SDK's subtypes point at their wire names, so 10,000 records share them. */
        op->subtype = dwf_subtype_name(dwf_subtype_parse(sub));
        if (!op->subtype) {
            op->subtype = strdup(sub);
            op->subtype_owned = 1;
            ok = op->subtype != NULL;
        }
    }
    ok = ok && dup_str(&op->name, str_of(m[M_NAME])) == 0;
    /* the details objects in this order, the first one giving a field keeping it */
    for (int i = M_STEP; ok && i <= M_INVOKE; i++) {
        const cJSON *d = m[i];
        if (!cJSON_IsObject(d)) continue;
        const cJSON *f[D_COUNT];
        members(d, DETAIL_MEMBERS, D_COUNT, f);
        if (!op->result) ok = dup_str(&op->result, str_of(f[D_RESULT])) == 0;
        const cJSON *e = f[D_ERROR];
        if (ok && e && !op->error) ok = (op->error = cJSON_Duplicate(e, 1)) != NULL;
        const cJSON *a = f[D_ATTEMPT];
        if (cJSON_IsNumber(a)) op->attempt = a->valueint;
        if (cJSON_IsTrue(f[D_REPLAY])) op->replay_children = 1;
        if (ok && !op->callback_id) ok = dup_str(&op->callback_id, str_of(f[D_CALLBACK_ID])) == 0;
    }
    if (!ok) {
        dwf__op_free(op);
        return NULL;
    }
    return op;
}

int dwf__merge_record(dwf__inv *inv, const cJSON *json)
{
    const char *id = str_field(json, "Id");
    if (!id) return 0;
    dwf__op *op = op_from_json(json);
    if (!op) return -1;
    if (inv->nparked == inv->capparked) {
        size_t cap = inv->capparked ? inv->capparked * 2 : 64;
        dwf__op **n = realloc(inv->parked, cap * sizeof *n);
        if (!n) {
            dwf__op_free(op);
            return -1;
        }
        inv->parked = n;
        inv->capparked = cap;
    }
    void *old = NULL;
    if (dwf__map_put(&inv->ops, id, op, &old) != 0) {
        dwf__op_free(op);
        return -1;
    }
    /* Another thread may still read the old record: park it until the invocation ends. */
    if (old) inv->parked[inv->nparked++] = old;
    if (op->callback_id && dwf__map_put(&inv->callbacks, op->callback_id, op, NULL) != 0) return -1;
    return 0;
}

int dwf__merge_op(dwf__inv *inv, cJSON *json, int notify)
{
    if (notify && str_field(json, "Id") && inv->opts && inv->opts->on_operation)
        inv->opts->on_operation(inv->opts->on_operation_arg, json);
    int rc = dwf__merge_record(inv, json);
    cJSON_Delete(json);
    return rc;
}
