/*
 * opcache.c: the operations a checkpoint request writes, held in memory until the request's
 * updates are all applied, then written once each.
 *
 * A batch of quick steps carries each step's START and its SUCCEED: written through, every
 * step's row was inserted, read back and parsed for the SUCCEED, then replaced (the old row and
 * its three index entries deleted, the new ones inserted). While a request applies its updates
 * (dwf_service_checkpoint, the handle locked, one transaction), dwf__svc_op_save keeps the
 * operation here instead and dwf__svc_op_load looks here first, so each operation the request
 * touches costs one INSERT OR REPLACE at the end (dwf__svc_opcache_flush), with the change stamp
 * and start sequence of its last save: the rows are exactly those the written-through saves
 * left. Nothing reads the operations table with SQL while a request applies its updates (the
 * answer's delta is read after the flush); a failed request rolls back and drops the cache.
 * Keyed by (execution id, operation id): an update may write another execution's operation
 * (a chained invoke's child, a parent completed by its child's end). Such a row is written
 * `outside` (schema 13, rows.c): that execution's handler has not seen it, where the request's
 * own execution gets its rows in this answer.
 *
 * The history events the request adds are held too (their keys, EventIds and texts, in order) and
 * written at the same flush by one INSERT per EV_ROWS of them instead of one each: a quick
 * step's START and SUCCEED add two, a batch of three steps six. An INSERT of one event cost
 * ~10,000 instructions, of which the statement's own work (cursor, seek from the root, halt,
 * reset, the cache's bookkeeping) is shared by the rows of one statement: ~7,300 a row in one of
 * six (callgrind of dwf serve). INSERT OR FAIL, because a statement of several rows that may
 * abort halfway makes SQLite keep a statement journal (a copy of each page it writes) to undo
 * its first rows; one that fails keeps them, and the request's savepoint, or the rollback of a
 * transaction holding only this request, undoes them with the rest of the request.
 */
#include "service_impl.h"

#include <stdlib.h>
#include <string.h>

typedef struct opc_entry {
    unsigned long long hash; /* 0: empty slot */
    char *exec_id, *op_id;
    long long exec_no; /* the key its row is written under (schema 10) */
    long long start_seq, change_seq;
    cJSON *op;
} opc_entry;

typedef struct opc_event {
    long long k;  /* its row key: the execution's number times 2^32 plus its row count (rows.c) */
    long long id; /* its EventId */
    char *json;
} opc_event;

struct dwf__opcache {
    opc_entry *slots;
    size_t cap, n;
    opc_event *ev; /* the events, in the order they were added (in key order from the flush on) */
    size_t nev, capev;
};

/* Rows per INSERT of held events (the statement texts below: one per count). */
#define EV_ROWS 8
#define EV_ROW "(?,?,0,?)"
static const char *const ev_insert[EV_ROWS + 1] = {
    NULL,
    "INSERT OR FAIL INTO operations(k, json, outside, event_id) VALUES" EV_ROW,
    "INSERT OR FAIL INTO operations(k, json, outside, event_id) VALUES" EV_ROW "," EV_ROW,
    "INSERT OR FAIL INTO operations(k, json, outside, event_id) VALUES" EV_ROW "," EV_ROW "," EV_ROW,
    "INSERT OR FAIL INTO operations(k, json, outside, event_id) VALUES" EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW,
    "INSERT OR FAIL INTO operations(k, json, outside, event_id) VALUES" EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW,
    "INSERT OR FAIL INTO operations(k, json, outside, event_id) VALUES" EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW,
    "INSERT OR FAIL INTO operations(k, json, outside, event_id) VALUES" EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW
    "," EV_ROW,
    "INSERT OR FAIL INTO operations(k, json, outside, event_id) VALUES" EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW "," EV_ROW
    "," EV_ROW "," EV_ROW,
};

static unsigned long long key_hash(const char *exec_id, const char *op_id)
{
    unsigned long long h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = exec_id; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL; /* separator: no byte of an id */
    for (const char *p = op_id; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h ? h : 1;
}

/* The slot of (exec_id, op_id): its entry, or the empty slot where it would go. */
static opc_entry *slot_of(dwf__opcache *c, unsigned long long h, const char *exec_id, const char *op_id)
{
    size_t i = (size_t)h & (c->cap - 1);
    for (;; i = (i + 1) & (c->cap - 1)) {
        opc_entry *s = &c->slots[i];
        if (!s->hash || (s->hash == h && strcmp(s->op_id, op_id) == 0 && strcmp(s->exec_id, exec_id) == 0)) return s;
    }
}

/* A request holds few operations (a step's START and the previous step's SUCCEED: 2), so the
 * table starts at 8 slots: it was 64 (4 KiB, zeroed, and walked three times by the flush, the
 * answer and the drop), about 8,000 instructions of each at-most-once step (callgrind). */
#define OPC_FIRST_CAP 8

static int grow(dwf__opcache *c)
{
    size_t cap = c->cap ? c->cap * 2 : OPC_FIRST_CAP;
    opc_entry *n = calloc(cap, sizeof *n);
    if (!n) return -1;
    opc_entry *old = c->slots;
    size_t oldcap = c->cap;
    c->slots = n;
    c->cap = cap;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].hash) *slot_of(c, old[i].hash, old[i].exec_id, old[i].op_id) = old[i];
    free(old);
    return 0;
}

static void entries_free(dwf__opcache *c)
{
    for (size_t i = 0; i < c->cap; i++)
        if (c->slots[i].hash) {
            free(c->slots[i].exec_id);
            free(c->slots[i].op_id);
            cJSON_Delete(c->slots[i].op);
        }
    free(c->slots);
    c->slots = NULL;
    c->cap = c->n = 0;
    for (size_t i = 0; i < c->nev; i++) free(c->ev[i].json);
    free(c->ev);
    c->ev = NULL;
    c->nev = c->capev = 0;
}

int dwf__svc_opcache_begin(dwf_service *s, dwf_error *err)
{
    dwf__svc_opcache_drop(s);
    s->opc = calloc(1, sizeof *s->opc);
    return s->opc ? 0 : oom(err);
}

void dwf__svc_opcache_drop(dwf_service *s)
{
    dwf__opcache *c[2] = {s->opc, s->opc_done};
    for (int i = 0; i < 2; i++)
        if (c[i]) {
            entries_free(c[i]);
            free(c[i]);
        }
    s->opc = s->opc_done = NULL;
}

int dwf__svc_opcache_get(dwf_service *s, const dwf__exec *e, const char *id, int take, cJSON **op,
                         long long *start_seq, dwf_error *err)
{
    dwf__opcache *c = s->opc;
    if (!c->n) return 1;
    opc_entry *x = slot_of(c, key_hash(e->id, id), e->id, id);
    if (!x->hash || !x->op) return 1;
    if (take) {
        /* handed over: saved back (dwf__svc_op_save_take) unless the request fails */
        *op = x->op;
        x->op = NULL;
    } else if (!(*op = cJSON_Duplicate(x->op, 1))) {
        return oom(err);
    }
    if (start_seq) *start_seq = x->start_seq;
    return 0;
}

int dwf__svc_opcache_put(dwf_service *s, const dwf__exec *e, cJSON *op, long long start_seq, long long change_seq,
                         dwf_error *err)
{
    dwf__opcache *c = s->opc;
    const char *id = jstr(op, "Id");
    if (!id) {
        cJSON_Delete(op);
        return fail(err, DWF_ERRORTYPE_SERVICE, "an operation without an Id cannot be saved");
    }
    if ((c->n + 1) * 4 > c->cap * 3 && grow(c) != 0) {
        cJSON_Delete(op);
        return oom(err);
    }
    unsigned long long h = key_hash(e->id, id);
    opc_entry *x = slot_of(c, h, e->id, id);
    if (!x->hash) {
        char *xid = strdup(e->id), *oid = strdup(id);
        if (!xid || !oid) {
            free(xid);
            free(oid);
            cJSON_Delete(op);
            return oom(err);
        }
        *x = (opc_entry){.hash = h, .exec_id = xid, .op_id = oid, .exec_no = e->no};
        c->n++;
    }
    cJSON_Delete(x->op);
    x->op = op;
    x->start_seq = start_seq;
    x->change_seq = change_seq;
    return 0;
}

int dwf__svc_opcache_event(dwf_service *s, long long k, long long id, char *json, dwf_error *err)
{
    dwf__opcache *c = s->opc;
    if (c->nev == c->capev) {
        size_t cap = c->capev ? c->capev * 2 : EV_ROWS;
        opc_event *n = realloc(c->ev, cap * sizeof *n);
        if (!n) {
            free(json);
            return oom(err);
        }
        c->ev = n;
        c->capev = cap;
    }
    c->ev[c->nev++] = (opc_event){.k = k, .id = id, .json = json};
    return 0;
}

/* Held events, EV_ROWS to a statement. Events' rows are none of the rows the store keeps between
 * calls nor anything its timer note reads (store.c): they say so (DWF__WROTE_EVENTS). */
static int events_write(dwf_service *s, const opc_event *ev, size_t nev, dwf_error *err)
{
    dwf__store_write w = dwf__store_write_begin(s->st);
    for (size_t i = 0; i < nev;) {
        size_t n = nev - i < EV_ROWS ? nev - i : EV_ROWS;
        sqlite3_stmt *q = dwf__sql_prepare(s->st, err, ev_insert[n], "");
        if (!q) return -1;
        int rc = SQLITE_OK;
        for (size_t j = 0; rc == SQLITE_OK && j < n; j++) {
            rc = sqlite3_bind_int64(q, (int)(3 * j + 1), ev[i + j].k);
            if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, (int)(3 * j + 2), ev[i + j].json, -1, SQLITE_STATIC);
            if (rc == SQLITE_OK) rc = sqlite3_bind_int64(q, (int)(3 * j + 3), ev[i + j].id);
        }
        int r = rc != SQLITE_OK ? dwf__store_fail(s->st, rc, err) : 0;
        if (r == 0)
            while ((r = dwf__sql_step(s->st, q, err)) == 1) {}
        dwf__sql_done(s->st, q);
        if (r < 0) return -1;
        i += n;
    }
    dwf__store_wrote(s->st, &w, DWF__WROTE_EVENTS);
    return 0;
}

static long long entry_key(const opc_entry *x) { return dwf__row_key(x->exec_no, x->start_seq); }

static int cmp_key(const void *a, const void *b)
{
    long long x = entry_key(*(const opc_entry *const *)a), y = entry_key(*(const opc_entry *const *)b);
    return x < y ? -1 : x > y;
}

static int cmp_event(const void *a, const void *b)
{
    long long x = ((const opc_event *)a)->k, y = ((const opc_event *)b)->k;
    return x < y ? -1 : x > y;
}

int dwf__svc_opcache_flush(dwf_service *s, long long own, dwf_error *err)
{
    dwf__opcache *c = s->opc;
    if (!c) return 0;
    s->opc = NULL; /* from here on, saves go to the store */
    s->opc_done = c; /* what the answer takes its operations from (dwf__svc_opcache_answer) */
    /* Operations and events share one table (schema 16, store.c), and every row written in key
     * order: the new ones (a step's events, its START) have the largest keys of their execution,
     * so each is appended at the end of its leaf, which SQLite does by starting a new page when
     * the leaf is full (balance_quick); a row inserted before the last one written would
     * redistribute the leaf with its neighbours instead (more pages of the log, half-empty
     * ones: 2.29 pages of the table per at-most-once step's commit written events first, 1.35 in
     * key order). The operation written last is the one the store keeps for the next call; an
     * event written after it keeps it too (events_write). */
    int r = 0;
    opc_entry **v = c->n ? malloc(c->n * sizeof *v) : NULL;
    if (c->n && !v) r = oom(err);
    size_t k = 0;
    for (size_t i = 0; r == 0 && i < c->cap; i++)
        if (c->slots[i].hash && c->slots[i].op) v[k++] = &c->slots[i];
    if (r == 0 && k) qsort(v, k, sizeof *v, cmp_key);
    if (r == 0 && c->nev) qsort(c->ev, c->nev, sizeof *c->ev, cmp_event);
    size_t i = 0, j = 0;
    const opc_entry *last = NULL; /* the operation written last */
    while (r == 0 && (i < k || j < c->nev)) {
        size_t n = 0;
        while (j + n < c->nev && (i == k || c->ev[j + n].k < entry_key(v[i]))) n++;
        if (n) {
            r = events_write(s, c->ev + j, n, err);
            j += n;
        } else {
            const opc_entry *x = last = v[i++];
            r = dwf__svc_op_write(s, x->exec_no, x->op, x->start_seq, x->change_seq, x->exec_no != own, err);
        }
    }
    /* The operation written last is the row the store keeps for the next call (a step's START,
     * which its SUCCEED loads): a copy of it spares that load parsing its text (store.c). */
    if (r == 0 && last) dwf__store_op_parsed(s->st, last->exec_no, last->op_id, last->start_seq, cJSON_Duplicate(last->op, 1));
    free(v);
    return r;
}

static int cmp_start(const void *a, const void *b)
{
    const opc_entry *x = *(const opc_entry *const *)a, *y = *(const opc_entry *const *)b;
    return x->start_seq < y->start_seq ? -1 : x->start_seq > y->start_seq;
}

/* Append to arr, in start order, the operations of e whose change stamp is after `since`: those
 * the request wrote (taken from the cache, as written: the store's JSON of an operation parses
 * back to the same values) and those changed before it (stamps after `since` up to `before`,
 * e's counter when the request began: timers that fired, callbacks completed), read from the
 * store. The same set and order as dwf__svc_ops_changed after the flush, without reading back
 * and parsing what the request itself wrote. */
int dwf__svc_opcache_answer(dwf_service *s, const dwf__exec *e, long long since, long long before, cJSON *arr,
                            dwf_error *err)
{
    dwf__opcache *c = s->opc_done;
    if (!c) return dwf__svc_ops_changed(s, e, since, arr, err);
    opc_entry **v = c->n ? malloc(c->n * sizeof *v) : NULL;
    if (c->n && !v) return oom(err);
    size_t k = 0, i = 0;
    for (size_t j = 0; j < c->cap; j++)
        if (c->slots[j].hash && c->slots[j].change_seq > since && c->slots[j].op &&
            strcmp(c->slots[j].exec_id, e->id) == 0)
            v[k++] = &c->slots[j];
    if (k) qsort(v, k, sizeof *v, cmp_start);
    cJSON *older = cJSON_CreateArray();
    long long *older_seq = NULL;
    size_t nolder = 0;
    int r = !older ? oom(err) : dwf__svc_ops_changed_between(s, e, since, before, older, &older_seq, &nolder, err);
    cJSON *o = older ? older->child : NULL;
    size_t m = 0; /* older ones taken */
    while (r == 0 && (i < k || o)) {
        cJSON *next;
        if (o && (i == k || older_seq[m] < v[i]->start_seq)) {
            next = cJSON_DetachItemViaPointer(older, o);
            o = older->child;
            m++;
            const char *id = jstr(next, "Id");
            if (id && c->n && slot_of(c, key_hash(e->id, id), e->id, id)->hash) {
                cJSON_Delete(next); /* written again by this request: its newer version is in v */
                continue;
            }
        } else {
            next = v[i]->op;
            v[i++]->op = NULL;
        }
        if (!cJSON_AddItemToArray(arr, next)) {
            cJSON_Delete(next);
            r = oom(err);
        }
    }
    cJSON_Delete(older);
    free(older_seq);
    free(v);
    return r;
}
