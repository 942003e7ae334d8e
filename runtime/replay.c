/*
 * replay.c: the operation table and what replay checks against it.
 *
 * The table maps a hashed operation Id to its latest record (initial state, pages of
 * GetDurableExecutionState, then the deltas each checkpoint response carries). An operation
 * first looks its Id up; a record means "this already happened", and its Type, Name and
 * SubType must match what the code asks for now, or the execution fails with the SDK's
 * NonDeterministicExecutionError (same message, unhashed step id). Replaced records are
 * parked rather than freed, so another thread still reading an older record stays safe.
 */
#include <stdlib.h>
#include <string.h>
#include "core.h"

static const char *const status_names[] = {
    "",
#define X(s) #s,
    DWF__STATUS_LIST(X)
#undef X
};

int dwf__op_status(const cJSON *op)
{
    if (!op) return DWF__ST_NONE;
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(op, "Status");
    if (!cJSON_IsString(s)) return DWF__ST_UNKNOWN;
    for (int i = 1; i < DWF__ST_UNKNOWN; i++)
        if (strcmp(s->valuestring, status_names[i]) == 0) return i;
    return DWF__ST_UNKNOWN;
}

int dwf__status_terminal(int st)
{
    return st == DWF__ST_SUCCEEDED || st == DWF__ST_FAILED || st == DWF__ST_CANCELLED ||
           st == DWF__ST_TIMED_OUT || st == DWF__ST_STOPPED;
}

int dwf__durable_guard(dwf_ctx *c, const char *what)
{
    if (c->inv->fatal || c->inv->fault) return DWF_FATAL;
    if (c->in_step)
        return dwf__fatal(c, "ContextValidationError",
                          "durable operation '%s' used inside a step body", what);
    for (dwf_ctx *p = c; p; p = p->parent)
        if (p->cancel && __atomic_load_n(p->cancel, __ATOMIC_ACQUIRE)) return DWF_SUSPEND;
    return DWF_OK;
}

const cJSON *dwf__op_get(dwf__inv *inv, const char *id)
{
    pthread_mutex_lock(&inv->mu);
    const cJSON *op = dwf__map_get(&inv->ops, id);
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

int dwf__check_replay(dwf_ctx *c, const char *sid, const cJSON *op, const char *type,
                      const char *name, const char *subtype)
{
    if (!op) return DWF_OK;
    const char *rt = str_field(op, "Type");
    if (!rt) return DWF_OK; /* the SDK skips records without a Type */
    static const char tail[] = "This indicates non-deterministic control flow in your workflow code.";
    static const char head[] = "[Unrecoverable Execution] Non-deterministic execution detected: ";
    if (strcmp(rt, type) != 0)
        return dwf__fatal(c, "NonDeterministicExecutionError",
                          "%sOperation type mismatch for step \"%s\". Expected type \"%s\", but "
                          "got \"%s\". %s",
                          head, sid, rt, type, tail);
    const char *rn = str_field(op, "Name");
    if (!same(rn, name))
        return dwf__fatal(c, "NonDeterministicExecutionError",
                          "%sOperation name mismatch for step \"%s\". Expected name \"%s\", but "
                          "got \"%s\". %s",
                          head, sid, rn ? rn : "undefined", name ? name : "undefined", tail);
    const char *rs = str_field(op, "SubType");
    if (!same(rs, subtype))
        return dwf__fatal(c, "NonDeterministicExecutionError",
                          "%sOperation subtype mismatch for step \"%s\". Expected subtype \"%s\", "
                          "but got \"%s\". %s",
                          head, sid, rs ? rs : "undefined", subtype ? subtype : "undefined", tail);
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

char *dwf__serialize(const cJSON *v) { return dwf__to_json(v); }

const cJSON *dwf__detail(const cJSON *op, const char *details, const char *field)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(op, details);
    return d ? cJSON_GetObjectItemCaseSensitive(d, field) : NULL;
}

const char *dwf__detail_str(const cJSON *op, const char *details, const char *field)
{
    const cJSON *f = dwf__detail(op, details, field);
    return cJSON_IsString(f) ? f->valuestring : NULL;
}

int dwf__merge_op(dwf__inv *inv, cJSON *op, int notify)
{
    const char *id = str_field(op, "Id");
    if (!id) {
        cJSON_Delete(op);
        return 0;
    }
    if (inv->nparked == inv->capparked) {
        size_t cap = inv->capparked ? inv->capparked * 2 : 64;
        cJSON **n = realloc(inv->parked, cap * sizeof *n);
        if (!n) {
            cJSON_Delete(op);
            return -1;
        }
        inv->parked = n;
        inv->capparked = cap;
    }
    void *old = NULL;
    if (dwf__map_put(&inv->ops, id, op, &old) != 0) {
        cJSON_Delete(op);
        return -1;
    }
    if (old) inv->parked[inv->nparked++] = old;
    const char *cb = dwf__detail_str(op, "CallbackDetails", "CallbackId");
    if (cb && dwf__map_put(&inv->callbacks, cb, op, NULL) != 0) return -1;
    if (notify && inv->opts && inv->opts->on_operation) inv->opts->on_operation(inv->opts->on_operation_arg, op);
    return 0;
}
