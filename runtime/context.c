/*
 * context.c: durable contexts, the invocation's value pool, pending errors, and the accessors
 * the value layer uses (internal.h).
 *
 * A context is a small struct: the invocation it belongs to, its step-id prefix and counter,
 * and a pending error. The root context lives on run_invocation's stack, child contexts are
 * made by the operation that runs them and freed when it returns, and a step body runs on a
 * step context that refuses durable operations. Every value handed to generated code goes to
 * one pool per invocation (a mutex-guarded array of pointers), so branches on other threads can
 * allocate freely and nothing is freed before the invocation ends.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core.h"

void dwf__ctx_init(dwf_ctx *c, dwf__inv *inv, dwf_ctx *parent)
{
    memset(c, 0, sizeof *c);
    c->inv = inv;
    c->parent = parent;
    if (parent) {
        c->replaying = parent->replaying;
        c->line = parent->line;
        c->col = parent->col;
    }
}

static int pool_push(dwf__inv *inv, void *p, int is_json)
{
    int rc = 0;
    pthread_mutex_lock(&inv->pool_mu);
    if (inv->npool == inv->cappool) {
        size_t cap = inv->cappool ? inv->cappool * 2 : 256;
        dwf__pool_item *n = realloc(inv->pool, cap * sizeof *n);
        if (!n) rc = -1;
        else {
            inv->pool = n;
            inv->cappool = cap;
        }
    }
    if (rc == 0) {
        inv->pool[inv->npool].p = p;
        inv->pool[inv->npool].is_json = is_json;
        inv->npool++;
    }
    pthread_mutex_unlock(&inv->pool_mu);
    return rc;
}

dwf_val *dwf__adopt(dwf_ctx *c, cJSON *v)
{
    if (!v) return NULL;
    if (pool_push(c->inv, v, 1) != 0) {
        /* Out of memory for the pool itself: free now and say so rather than leak. */
        cJSON_Delete(v);
        dwf__set_error(c, "OutOfMemory", "out of memory");
        return NULL;
    }
    return v;
}

void *dwf__pool_take(dwf__inv *inv, void *p)
{
    if (!p) return NULL;
    if (pool_push(inv, p, 0) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

void *dwf__frame_copy(dwf_ctx *c, const void *frame)
{
    size_t n = c->inv->wf ? c->inv->wf->frame_size : 0;
    if (!frame || n == 0) return (void *)frame;
    void *p = malloc(n);
    if (!p) return NULL;
    memcpy(p, frame, n);
    return dwf__pool_take(c->inv, p);
}

cJSON *dwf__error_new(const char *type, const char *message, const cJSON *cause)
{
    cJSON *e = cJSON_CreateObject();
    if (!e) return NULL;
    if (!cJSON_AddStringToObject(e, "ErrorType", type ? type : "Error") ||
        !cJSON_AddStringToObject(e, "ErrorMessage", message ? message : "")) {
        cJSON_Delete(e);
        return NULL;
    }
    if (cause) {
        cJSON *cc = cJSON_Duplicate(cause, 1);
        if (!cc) {
            cJSON_Delete(e);
            return NULL;
        }
        cJSON_AddItemToObjectCS(e, "Cause", cc); /* literal key: no allocation, cannot fail */
    }
    return e;
}

void dwf__set_error_obj(dwf_ctx *c, cJSON *err)
{
    if (!err) return;
    if (c->error) { /* first one wins until taken */
        cJSON_Delete(err);
        return;
    }
    c->error = dwf__adopt(c, err);
}

void dwf__set_error(dwf_ctx *c, const char *type, const char *message)
{
    if (!c || c->error) return;
    dwf__set_error_obj(c, dwf__error_new(type, message, NULL));
}

cJSON *dwf__take_error_copy(dwf_ctx *c)
{
    cJSON *e = c->error ? cJSON_Duplicate(c->error, 1) : dwf__error_new("Error", "Unknown error", NULL);
    c->error = NULL;
    return e;
}

cJSON *dwf__wire_error(const cJSON *err)
{
    cJSON *w = cJSON_CreateObject();
    if (!w) return NULL;
    static const char *const keys[] = {"ErrorType", "ErrorMessage", "ErrorData"};
    for (int i = 0; i < 3; i++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(err, keys[i]);
        if (cJSON_IsString(f) && !cJSON_AddStringToObject(w, keys[i], f->valuestring)) {
            cJSON_Delete(w);
            return NULL;
        }
    }
    return w;
}

int dwf__fatal(dwf_ctx *c, const char *type, const char *fmt, ...)
{
    dwf__inv *inv = c->inv;
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    va_end(ap);
    pthread_mutex_lock(&inv->mu);
    if (!inv->fatal) {
        __atomic_store_n(&inv->fatal, 1, __ATOMIC_RELEASE); /* read unlocked by dwf__durable_guard */
        snprintf(inv->fatal_type, sizeof inv->fatal_type, "%s", type);
        inv->fatal_msg = msg;
        msg = NULL;
    }
    pthread_mutex_unlock(&inv->mu);
    free(msg);
    return DWF_FATAL;
}

double dwf__random(dwf__inv *inv)
{
    /* xorshift64*: jitter only needs to be spread out, not secret or reproducible. */
    pthread_mutex_lock(&inv->mu);
    uint64_t x = inv->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    inv->rng = x;
    pthread_mutex_unlock(&inv->mu);
    return (double)((x * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* ---- public error API ----------------------------------------------------------------- */
int dwf_fail(dwf_ctx *c, const char *type, const char *message)
{
    dwf__set_error(c, type ? type : "Error", message ? message : "");
    return DWF_ERROR;
}

int dwf_failf(dwf_ctx *c, const char *type, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    va_end(ap);
    dwf__set_error(c, type ? type : "Error", msg ? msg : "out of memory");
    free(msg);
    return DWF_ERROR;
}

dwf_val *dwf_error_get(dwf_ctx *c) { return c ? c->error : NULL; }

dwf_val *dwf_error_take(dwf_ctx *c)
{
    if (!c) return NULL;
    dwf_val *e = c->error;
    c->error = NULL;
    return e;
}

int dwf_failed(dwf_ctx *c) { return c && c->error != NULL; }

void dwf_at(dwf_ctx *c, int line, int col)
{
    if (!c) return;
    c->line = line;
    c->col = col;
}

dwf_val *dwf_callback_id(dwf_ctx *c)
{
    const char *id = dwf__callback_id(c);
    return id ? dwf__adopt(c, cJSON_CreateString(id)) : dwf__adopt(c, cJSON_CreateNull());
}

/* ---- accessors for the value layer ---------------------------------------------------- */
double dwf__now_ms(dwf_ctx *c)
{
    if (c && c->inv->t && c->inv->t->now_ms) return c->inv->t->now_ms(c->inv->t);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000);
}
int dwf__in_step(dwf_ctx *c) { return c && c->in_step; }
int dwf__attempt(dwf_ctx *c) { return c && c->in_step ? c->attempt : 0; }
int dwf__replaying(dwf_ctx *c) { return c && c->replaying; }
const char *dwf__execution_arn(dwf_ctx *c) { return c ? c->inv->arn : NULL; }
const char *dwf__operation_id(dwf_ctx *c) { return c && c->in_step ? c->op_id : NULL; }
const char *dwf__operation_name(dwf_ctx *c) { return c && c->in_step ? c->op_name : NULL; }
const char *dwf__request_id(dwf_ctx *c)
{
    return c && c->inv->opts ? c->inv->opts->request_id : NULL;
}
int dwf__line(dwf_ctx *c) { return c ? c->line : 0; }
dwf__cursor *dwf__item_cursor(dwf_ctx *c) { return c ? &c->item_cursor : NULL; }
const char *dwf__source(dwf_ctx *c) { return c && c->inv->wf ? c->inv->wf->source : NULL; }
dwf_val *dwf__input(dwf_ctx *c) { return c ? c->inv->input : NULL; }
const char *dwf__callback_id(dwf_ctx *c)
{
    for (; c; c = c->parent)
        if (c->in_step) return c->callback_id;
    return NULL;
}
int dwf__quiet(dwf_ctx *c) { return c && c->inv->opts && c->inv->opts->quiet; }
