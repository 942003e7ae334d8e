/*
 * context.c: durable contexts, the invocation's value pool, pending errors, and the accessors
 * the value layer uses (internal.h).
 *
 * A context is a small struct: the invocation it belongs to, its step-id prefix and counter,
 * and a pending error. The root context lives on run_invocation's stack, child contexts are
 * made by the operation that runs them and freed when it returns, and a step body runs on a
 * step context that refuses durable operations. Every value handed to generated code goes to
 * one pool per invocation (a mutex-guarded array of pointers), so branches on other threads can
 * allocate freely. Values live until the invocation ends, except that a `for` loop hands back
 * what an iteration made and no variable reaches any more (dwf_pool_collect below), so a loop of
 * 10,000 steps does not keep 10,000 iterations' temporaries.
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
        c->owner = parent->owner;
        c->replaying = parent->replaying;
        c->line = parent->line;
        c->col = parent->col;
    }
}

void dwf__step_ctx_init(dwf_ctx *sc, dwf_ctx *c, int attempt, const char *op_id,
                        const char *op_name, const char *callback_id, void *frame)
{
    dwf__ctx_init(sc, c->inv, c);
    sc->replaying = 0; /* a body runs only live: its log lines are written */
    sc->in_step = 1;
    sc->attempt = attempt;
    sc->op_id = op_id;
    sc->op_name = op_name;
    sc->callback_id = callback_id;
    sc->frame = frame;
}

void dwf__ctx_new_owner(dwf_ctx *c)
{
    pthread_mutex_lock(&c->inv->pool_mu);
    c->owner = ++c->inv->pool_owners;
    pthread_mutex_unlock(&c->inv->pool_mu);
}

static int pool_push(dwf__inv *inv, void *p, int is_json, unsigned owner)
{
    int rc = 0;
    pthread_mutex_lock(&inv->pool_mu);
    if (inv->npool == inv->cappool) {
        /* 32 entries to start (a 3-step workflow makes 12): 256 (6 KiB) was a large-bin
         * request in every invocation, for which glibc first consolidates every small freed
         * chunk */
        size_t cap = inv->cappool ? inv->cappool * 2 : 32;
        dwf__pool_item *n = realloc(inv->pool, cap * sizeof *n);
        if (!n) rc = -1;
        else {
            inv->pool = n;
            inv->cappool = cap;
        }
    }
    if (rc == 0) {
        inv->pool[inv->npool].p = p;
        inv->pool[inv->npool].seq = inv->pool_seq++;
        inv->pool[inv->npool].owner = owner;
        inv->pool[inv->npool].is_json = is_json;
        inv->npool++;
    }
    pthread_mutex_unlock(&inv->pool_mu);
    return rc;
}

dwf_val *dwf__adopt(dwf_ctx *c, cJSON *v)
{
    if (!v) return NULL;
    if (pool_push(c->inv, v, 1, c->owner) != 0) {
        /* Out of memory for the pool itself: free now and say so rather than leak. */
        cJSON_Delete(v);
        dwf__set_error(c, "OutOfMemory", "out of memory");
        return NULL;
    }
    return v;
}

static void *take_frame(dwf__inv *inv, void *p, unsigned owner)
{
    if (!p) return NULL;
    if (pool_push(inv, p, 0, owner) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

void *dwf__pool_take(dwf__inv *inv, void *p) { return take_frame(inv, p, 0); }

void *dwf__frame_copy(dwf_ctx *c, const void *frame)
{
    size_t n = c->inv->wf ? c->inv->wf->frame_size : 0;
    if (!frame || n == 0) return (void *)frame;
    void *p = malloc(n);
    if (!p) return NULL;
    memcpy(p, frame, n);
    /* Owned by the context that spawned c: a loop there must see the pointers a child's frame
     * (a saga's compensation may run it later) holds to the loop's values. */
    return take_frame(c->inv, p, c->parent ? c->parent->owner : c->owner);
}

/* ---- handing back what a loop iteration made ------------------------------------------- */

dwf_loop_mark dwf_pool_mark(dwf_ctx *c)
{
    pthread_mutex_lock(&c->inv->pool_mu);
    dwf_loop_mark m = {c->inv->pool_seq, c->inv->pool_seq};
    pthread_mutex_unlock(&c->inv->pool_mu);
    return m;
}

/* A node of a candidate value and the candidate (index into the pool) whose tree holds it. */
typedef struct node_ref {
    const cJSON *node;
    size_t entry;
} node_ref;

typedef struct node_tab {
    node_ref *v;
    size_t n, cap;
} node_tab;

static int tab_add(node_tab *t, const cJSON *j, size_t entry)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        node_ref *nv = realloc(t->v, cap * sizeof *nv);
        if (!nv) return -1;
        t->v = nv;
        t->cap = cap;
    }
    t->v[t->n++] = (node_ref){j, entry};
    /* Recursive over depth only: values are no deeper than the JSON parser allows. */
    for (const cJSON *k = j->child; k; k = k->next)
        if (tab_add(t, k, entry) != 0) return -1;
    return 0;
}

static int node_cmp(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const node_ref *)a)->node, y = (uintptr_t)((const node_ref *)b)->node;
    return x < y ? -1 : x > y;
}

/* The candidate whose tree holds the node `p` points at, or (size_t)-1. */
static size_t holder(const node_tab *t, const void *p)
{
    size_t lo = 0, hi = t->n;
    while (p && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uintptr_t m = (uintptr_t)t->v[mid].node;
        if (m == (uintptr_t)p) return t->v[mid].entry;
        if (m < (uintptr_t)p) lo = mid + 1;
        else hi = mid;
    }
    return (size_t)-1;
}

static void reach(const node_tab *t, unsigned char *live, const void *p)
{
    size_t e = holder(t, p);
    if (e != (size_t)-1) live[e] = 1;
}

/* Every pointer-sized word of a frame (all its fields are dwf_val pointers). */
static void reach_frame(const node_tab *t, unsigned char *live, const void *frame, size_t size)
{
    const unsigned char *b = frame;
    for (size_t off = 0; off + sizeof(void *) <= size; off += sizeof(void *)) {
        const void *p;
        memcpy(&p, b + off, sizeof p);
        reach(t, live, p);
    }
}

/*
 * Free the values this context's owner made since mark->since (the start of the previous
 * iteration) that neither the frame nor a pending error reaches; then move the mark on, so a
 * value that survives two collects is kept for good and never walked again. Called by generated code at the end of each `for` iteration, where the only
 * references to values are the frame's variables (expression temporaries are dead at the end
 * of a statement, the loop's array was made before the mark), the frames of children spawned
 * in the iteration (a compensation may run them later), and pending errors. A variable may point
 * inside a value (v.key), so a candidate is live when any node of its tree is reached.
 * Everything runs under the pool mutex; other owners' entries are skipped, never touched.
 * On out-of-memory nothing is freed: collecting is an optimisation, keeping is always safe.
 */
void dwf_pool_collect(dwf_ctx *c, dwf_loop_mark *mark, const void *frame)
{
    dwf__inv *inv = c->inv;
    size_t fsize = inv->wf ? inv->wf->frame_size : 0;
    pthread_mutex_lock(&inv->pool_mu);
    /* entries are in seq order: find the first one made after the mark */
    size_t lo = 0, hi = inv->npool;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (inv->pool[mid].seq < mark->since) lo = mid + 1;
        else hi = mid;
    }
    size_t first = lo, span = inv->npool - first;
    node_tab t = {0};
    unsigned char *live = NULL;
    int ncand = 0;
    for (size_t i = first; i < inv->npool; i++) {
        const dwf__pool_item *e = &inv->pool[i];
        if (!e->is_json || e->owner != c->owner) continue;
        ncand++;
        if (tab_add(&t, e->p, i - first) != 0) goto out;
    }
    if (ncand == 0) goto out;
    live = calloc(span, 1);
    if (!live) goto out;
    qsort(t.v, t.n, sizeof *t.v, node_cmp);
    if (frame) reach_frame(&t, live, frame, fsize);
    for (size_t i = first; i < inv->npool; i++) {
        const dwf__pool_item *e = &inv->pool[i];
        if (!e->is_json && e->owner == c->owner) reach_frame(&t, live, e->p, fsize);
    }
    for (const dwf_ctx *x = c; x; x = x->parent) reach(&t, live, x->error);
    /* dwf_item's cursor remembers a node: forget it if that node goes (an array made at the
     * same address later must not resume from a freed node). */
    size_t ce = holder(&t, c->item_cursor.array);
    if (ce != (size_t)-1 && !live[ce]) memset(&c->item_cursor, 0, sizeof c->item_cursor);
    size_t w = first;
    for (size_t i = first; i < inv->npool; i++) {
        dwf__pool_item e = inv->pool[i];
        if (e.is_json && e.owner == c->owner && !live[i - first]) {
            cJSON_Delete(e.p);
            continue;
        }
        inv->pool[w++] = e;
    }
    inv->npool = w;
out:
    mark->since = mark->next;
    mark->next = inv->pool_seq;
    pthread_mutex_unlock(&inv->pool_mu);
    free(live);
    free(t.v);
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

/* ---- error types (include/dwf_errors.def) -------------------------------------------------- */

static const struct { const char *name; int cls, retried; } error_types[] = {
#define DWF_ERROR_TYPE(name, cls, retried, summary) {#name, cls, retried},
#include "dwf_errors.def"
#undef DWF_ERROR_TYPE
};

int dwf__error_class(const char *type)
{
    for (size_t i = 0; type && i < sizeof error_types / sizeof *error_types; i++)
        if (strcmp(error_types[i].name, type) == 0) return error_types[i].cls;
    return -1;
}

int dwf__error_retried_by_default(const char *type)
{
    for (size_t i = 0; type && i < sizeof error_types / sizeof *error_types; i++)
        if (strcmp(error_types[i].name, type) == 0) return error_types[i].retried;
    return 1; /* users' own types */
}

/* The cause an error wraps: `cause` in what a workflow holds, `Cause` inside the runtime and in
 * the SDK's payloads. */
static const cJSON *cause_of(const cJSON *e)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(e, "cause");
    return cJSON_IsObject(k) ? k : cJSON_IsObject(k = cJSON_GetObjectItemCaseSensitive(e, "Cause")) ? k : NULL;
}

int dwf_error_is(const dwf_val *err, const char *const *types)
{
    int depth = 0;
    for (const cJSON *e = err; e && depth < 64; e = cause_of(e), depth++) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(e, "ErrorType");
        if (!cJSON_IsString(t)) continue;
        for (const char *const *p = types; p && *p; p++)
            if (strcmp(*p, t->valuestring) == 0) return 1;
    }
    return 0;
}

/* Rename the cause key along the chain (the workflow sees `cause`, the runtime keeps `Cause`). */
static void rename_causes(cJSON *e, const char *from, const char *to)
{
    for (int depth = 0; e && depth < 64; depth++) {
        cJSON *k = cJSON_DetachItemFromObjectCaseSensitive(e, from);
        if (!k) k = cJSON_DetachItemFromObjectCaseSensitive(e, to);
        if (!k) return;
        cJSON_AddItemToObjectCS(e, to, k); /* literal key: no allocation, cannot fail */
        e = k;
    }
}

/* A value-layer error names the .dwf line it comes from, in its message and in ErrorData
 * (JSON text, as the wire keeps ErrorData a string): deterministic errors are fixed in the
 * source, so the source line is what the reader needs. */
static cJSON *located_error(dwf_ctx *c, const char *type, const char *message)
{
    const char *src = dwf__source(c);
    const char *base = src && strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
    if (!base || c->line <= 0) return dwf__error_new(type, message, NULL);
    char *msg = NULL, *data = NULL;
    if (asprintf(&msg, "%s (%s:%d)", message ? message : "", base, c->line) < 0) msg = NULL;
    cJSON *d = cJSON_CreateObject();
    if (d && cJSON_AddStringToObject(d, "file", base) && cJSON_AddNumberToObject(d, "line", c->line) &&
        cJSON_AddNumberToObject(d, "column", c->col))
        data = cJSON_PrintUnformatted(d);
    cJSON_Delete(d);
    cJSON *e = msg && data ? dwf__error_new(type, msg, NULL) : NULL;
    if (e && !cJSON_AddStringToObject(e, "ErrorData", data)) {
        cJSON_Delete(e);
        e = NULL;
    }
    free(msg);
    free(data);
    return e ? e : dwf__error_new(type, message, NULL);
}

void dwf__set_error(dwf_ctx *c, const char *type, const char *message)
{
    if (!c || c->error) return;
    if (dwf__error_class(type) == DWF_ERRC_VALUE) dwf__set_error_obj(c, located_error(c, type, message));
    else dwf__set_error_obj(c, dwf__error_new(type, message, NULL));
}

int dwf_error_raise(dwf_ctx *c, dwf_val *err)
{
    cJSON *e = err ? cJSON_Duplicate(err, 1) : dwf__error_new("Error", "Unknown error", NULL);
    if (!e) {
        dwf__set_error(c, "OutOfMemory", "out of memory");
        return DWF_ERROR;
    }
    rename_causes(e, "cause", "Cause");
    if (c->error) cJSON_Delete(e); /* an error already pending wins, as in dwf__set_error_obj */
    else c->error = dwf__adopt(c, e);
    return DWF_ERROR;
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
    /* The first fatal stop is the execution's. Its type and message are written before the
     * release store of the flag that publishes them: the flag is read unlocked with acquire
     * (dwf__durable_guard, the batch end, fatal_response), and a reader that sees it then reads
     * the type and message, while a thread that is not joined (a timed step's abandoned body)
     * may still be here. A later stop changes nothing a reader may be reading. */
    pthread_mutex_lock(&inv->mu);
    if (!inv->fatal) {
        snprintf(inv->fatal_type, sizeof inv->fatal_type, "%s", type);
        inv->fatal_msg = msg;
        msg = NULL;
        __atomic_store_n(&inv->fatal, 1, __ATOMIC_RELEASE);
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
    /* what the workflow (or a used C function) raises is its own: no location added */
    if (c && !c->error) dwf__set_error_obj(c, dwf__error_new(type ? type : "Error", message ? message : "", NULL));
    return DWF_ERROR;
}

int dwf_failf(dwf_ctx *c, const char *type, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0) msg = NULL;
    va_end(ap);
    dwf_fail(c, type, msg ? msg : "out of memory");
    free(msg);
    return DWF_ERROR;
}

dwf_val *dwf_error_get(dwf_ctx *c) { return c ? c->error : NULL; }

dwf_val *dwf_error_take(dwf_ctx *c)
{
    if (!c) return NULL;
    dwf_val *e = c->error;
    c->error = NULL;
    rename_causes(e, "Cause", "cause"); /* the workflow's view (docs/errors.md) */
    return e;
}

int dwf_failed(dwf_ctx *c) { return c && c->error != NULL; }

void dwf_at(dwf_ctx *c, int line, int col)
{
    if (!c) return;
    c->line = line;
    c->col = col;
}

/* Inside a waitForCallback submitter (or a step it runs): the callback's id as a value. */
dwf_val *dwf_callback_id(dwf_ctx *c)
{
    const dwf_ctx *p = c;
    while (p && !p->in_step) p = p->parent;
    const char *id = p ? p->callback_id : NULL;
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
int dwf__next_token(dwf_ctx *c, int *round)
{
    *round = c ? c->token_round : 0;
    return c ? ++c->aws_tokens : 0;
}
const char *dwf__operation_name(dwf_ctx *c) { return c && c->in_step ? c->op_name : NULL; }
const char *dwf__request_id(dwf_ctx *c)
{
    return c && c->inv->opts ? c->inv->opts->request_id : NULL;
}
int dwf__line(dwf_ctx *c) { return c ? c->line : 0; }

double dwf__mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000 + (double)ts.tv_nsec / 1e6;
}

long dwf__remaining_ms(dwf_ctx *c)
{
    if (!c || c->deadline_ms <= 0) return -1;
    double left = c->deadline_ms - dwf__mono_ms();
    return left > 0 ? (long)left : 0;
}

long dwf_deadline_ms(dwf_ctx *c) { return dwf__remaining_ms(c); }
dwf__cursor *dwf__item_cursor(dwf_ctx *c) { return c ? &c->item_cursor : NULL; }
const char *dwf__source(dwf_ctx *c) { return c && c->inv->wf ? c->inv->wf->source : NULL; }
dwf_val *dwf__input(dwf_ctx *c) { return c ? c->inv->input : NULL; }
const char *dwf__getenv(dwf_ctx *c, const char *name)
{
    const char *const *env = c && c->inv->opts ? c->inv->opts->environment : NULL;
    if (!env) return getenv(name);
    size_t n = strlen(name);
    for (; *env; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=') return *env + n + 1;
    return NULL;
}

int dwf__quiet(dwf_ctx *c) { return c && c->inv->opts && c->inv->opts->quiet; }

int dwf__mock(dwf_ctx *c, const dwf_mock_call *call, dwf_mock_answer *ans)
{
    const dwf_invoke_opts *o = c ? c->inv->opts : NULL;
    memset(ans, 0, sizeof *ans);
    if (!o || !o->mock) return DWF_MOCK_PASS;
    return o->mock(o->mock_arg, call, ans);
}
