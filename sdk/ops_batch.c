/*
 * ops_batch.c: parallel and map, the SDK's ConcurrencyController in C with real threads.
 *
 * A batch at step id S is a CONTEXT S (SubType Parallel or Map); item i is a child CONTEXT
 * S-(i+1) (ParallelBranch or MapIteration) whose operations are S-(i+1)-k. Items start in index
 * order while fewer than max_concurrency are active and the completion rules say go on; they
 * run on OS threads (the calling thread is one of the workers), so CPU-bound branches overlap.
 * An item that suspends keeps its slot for this invocation, as an item awaiting a timer does in
 * the SDK; when nothing can progress any more the batch suspends.
 *
 * When the completion rules are met, items still in flight are reported STARTED and their
 * subtree is cancelled: their later checkpoints are dropped and their next durable operation
 * unwinds. The batch waits for those threads to come back (they share the invocation's pool)
 * but nothing they do changes the result. Item failures never fail the batch: the CONTEXT
 * SUCCEEDs with the SDK's BatchResult payload {"all":[..],"completionReason":..}.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core.h"

#define MAX_WORKERS 32

enum { IT_NONE = 0, IT_STARTED, IT_SUCCEEDED, IT_FAILED };

typedef struct batch {
    dwf_ctx *c;   /* the caller's context */
    dwf_ctx bctx; /* the batch's own context (prefix S); each worker runs items on a copy */
    const char *sid;
    enum dwf_subtype item_subtype;
    int n;
    char **names;
    const dwf_branch *branches; /* parallel */
    cJSON **items;              /* map: the items, borrowed from the array value */
    dwf_item_fn ibody;
    void *frame;
    int maxc;
    dwf_batch_opts o;
    int replay_only; /* re-drive terminal items of a summarised batch (ReplayChildren) */
    const char *marks; /* the summary's itemStatuses ("SF-"), when replay_only */

    pthread_mutex_t mu;
    pthread_cond_t cv;
    int next;     /* items [0, next) are started (claimed) */
    int run_next; /* items [0, run_next) have been taken by a worker */
    int active, running, succ, fail, completed, fatal_rc;
    int *status;
    unsigned char *start_sent; /* START queued up front, in index order, as the SDK does */
    int *cancel;
    dwf_val **results;
    cJSON **errors; /* owned */
    const char *reason;
} batch;

typedef struct item_arg {
    batch *b;
    int i;
} item_arg;

static int oom(dwf_ctx *c) { return dwf__fatal(c, "OutOfMemory", "out of memory"); }

static int run_item(dwf_ctx *child, void *arg, dwf_val **out)
{
    item_arg *a = arg;
    batch *b = a->b;
    void *frame = dwf__frame_copy(child, b->frame);
    if (b->frame && !frame) return oom(child);
    child->frame = frame;
    if (b->branches) return b->branches[a->i].body ? b->branches[a->i].body(child, frame, out) : DWF_OK;
    dwf_val *idx = dwf__adopt(child, cJSON_CreateNumber(a->i));
    if (!idx) return oom(child);
    return b->ibody ? b->ibody(child, frame, b->items[a->i], idx, out) : DWF_OK;
}

static int no_criteria(const batch *b)
{
    return b->o.min_successful < 0 && b->o.tolerated_failures < 0 && b->o.tolerated_percent < 0;
}

static int should_continue(const batch *b)
{
    if (no_criteria(b)) return b->fail == 0;
    if (b->o.tolerated_failures >= 0 && b->fail > b->o.tolerated_failures) return 0;
    if (b->o.tolerated_percent >= 0 && b->n > 0 && 100.0 * b->fail / b->n > b->o.tolerated_percent)
        return 0;
    return 1;
}

static int is_complete(const batch *b)
{
    if (b->succ + b->fail == b->n) return 1;
    if (b->o.min_successful >= 0 && b->succ >= b->o.min_successful) return 1;
    return !should_continue(b);
}

static const char *completion_reason(const batch *b)
{
    if (no_criteria(b)) {
        if (b->fail > 0) return "FAILURE_TOLERANCE_EXCEEDED";
    } else {
        if (b->o.tolerated_failures >= 0 && b->fail > b->o.tolerated_failures)
            return "FAILURE_TOLERANCE_EXCEEDED";
        if (b->o.tolerated_percent >= 0 && b->n > 0 && 100.0 * b->fail / b->n > b->o.tolerated_percent)
            return "FAILURE_TOLERANCE_EXCEEDED";
    }
    if (b->succ + b->fail == b->n) return "ALL_COMPLETED";
    if (b->o.min_successful >= 0 && b->succ >= b->o.min_successful) return "MIN_SUCCESSFUL_REACHED";
    return "ALL_COMPLETED";
}

/* The batch is decided: freeze the result and cancel whatever is still in flight. mu held. */
static void complete(batch *b)
{
    b->completed = 1;
    if (!b->reason) b->reason = completion_reason(b);
    for (int i = 0; i < b->n; i++)
        if (b->status[i] == IT_STARTED) __atomic_store_n(&b->cancel[i], 1, __ATOMIC_RELEASE);
    pthread_cond_broadcast(&b->cv);
}

static void *worker(void *arg)
{
    batch *b = arg;
    dwf_ctx local = b->bctx; /* per-thread: run_child writes its caller's replay flag */
    dwf__ctx_new_owner(&local); /* its loops collect only what this thread made */
    pthread_mutex_lock(&b->mu);
    for (;;) {
        int i;
        if (b->completed) break; /* started items nobody took stay STARTED */
        if (b->run_next < b->next) {
            i = b->run_next++;
        } else if (b->next < b->n && b->active < b->maxc && (b->replay_only || should_continue(b))) {
            i = b->next++;
            b->run_next++;
            b->active++;
            b->status[i] = IT_STARTED;
        } else if (b->next < b->n && b->active >= b->maxc && b->running > 0) {
            pthread_cond_wait(&b->cv, &b->mu); /* a running item may free a slot */
            continue;
        } else {
            break;
        }
        b->running++;
        pthread_mutex_unlock(&b->mu);

        dwf__opref r;
        dwf_val *v = NULL;
        cJSON *err = NULL;
        int skipped = 0;
        /* Found without the replay check, which only an item that runs gets. */
        int rc = dwf__op_find(&local, dwf__child_step_id(b->sid, i + 1), DWF_OPTYPE_NONE, NULL,
                              DWF_SUBTYPE_NONE, &r);
        if (rc == DWF_OK && b->replay_only) {
            if (b->marks) /* the recorded markers decide (the SDK's rule) */
                skipped = (size_t)i >= strlen(b->marks) || b->marks[i] == '-';
            else
                skipped = !dwf_opstatus_terminal(dwf__op_status(r.op));
        }
        item_arg ia = {b, i};
        if (rc == DWF_OK && !skipped)
            rc = dwf__check_replay(&local, r.sid, r.op, DWF_OPTYPE_CONTEXT, b->names[i],
                                   b->item_subtype);
        if (rc == DWF_OK && !skipped)
            rc = dwf__run_child(&local, &r, b->names[i], b->item_subtype, run_item, &ia,
                                &b->cancel[i], b->start_sent[i], &v, &err);
        free(r.sid);

        pthread_mutex_lock(&b->mu);
        b->running--;
        if (skipped) { /* a summarised batch's non-terminal item: not rebuilt (the SDK's rule) */
            b->status[i] = IT_NONE;
            b->active--;
        } else if (b->completed) {
            cJSON_Delete(err); /* finished after the batch was decided: stays STARTED */
        } else if (rc == DWF_OK) {
            b->status[i] = IT_SUCCEEDED;
            b->results[i] = v;
            b->succ++;
            b->active--;
        } else if (rc == DWF_ERROR) {
            /* runInChildContext always throws ChildContextError around the rebuilt error */
            const cJSON *m = cJSON_GetObjectItemCaseSensitive(err, "ErrorMessage");
            b->errors[i] = dwf__error_new("ChildContextError", cJSON_IsString(m) ? m->valuestring : "", err);
            cJSON_Delete(err);
            if (!b->errors[i]) {
                b->fatal_rc = oom(b->c);
                complete(b);
            }
            b->status[i] = IT_FAILED;
            b->fail++;
            b->active--;
        } else if (rc == DWF_SUSPEND) {
            /* keeps its slot: the SDK counts an item waiting on a timer as active */
        } else {
            b->fatal_rc = rc == DWF_RETURN ? DWF_FATAL : rc;
            complete(b);
        }
        if (!b->completed && !b->replay_only && is_complete(b)) complete(b);
        pthread_cond_broadcast(&b->cv);
    }
    pthread_cond_broadcast(&b->cv);
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

/* A failed item's error in `all` as the workflow sees it: the recorded payload keeps the SDK's
 * one-level rebuild (ChildContextError -> StepError -> StepError), the value gets the chain the
 * item's records hold (ChildContextError -> StepError -> CardDeclined), live and on replay. */
static void rechain_item(dwf_ctx *c, const char *sid, cJSON *it)
{
    const cJSON *idx = cJSON_GetObjectItemCaseSensitive(it, "index");
    cJSON *e = cJSON_GetObjectItemCaseSensitive(it, "error");
    const cJSON *inner = e ? cJSON_GetObjectItemCaseSensitive(e, "Cause") : NULL;
    if (!sid || !cJSON_IsNumber(idx) || !cJSON_IsObject(inner)) return;
    char *isid = dwf__child_step_id(sid, idx->valueint + 1);
    cJSON *chain = isid ? dwf__chain_error(c, isid, inner) : NULL;
    free(isid);
    if (!chain) return;
    cJSON_ReplaceItemInObjectCaseSensitive(e, "Cause", chain);
}

/* The batch value from the payload's "all" array (takes `all`): what generated code sees. */
static dwf_val *batch_value(dwf_ctx *c, const char *sid, cJSON *all, const char *reason)
{
    cJSON *v = cJSON_CreateObject();
    cJSON *results = cJSON_CreateArray(), *errors = cJSON_CreateArray();
    if (!v || !results || !errors || !all) {
        cJSON_Delete(v);
        cJSON_Delete(results);
        cJSON_Delete(errors);
        cJSON_Delete(all);
        return NULL;
    }
    int succ = 0, fail = 0, started = 0, total = 0, ok = 1;
    for (cJSON *it = all->child; it; it = it->next) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(it, "status");
        const char *s = cJSON_IsString(st) ? st->valuestring : "";
        total++;
        if (!strcmp(s, "SUCCEEDED")) {
            succ++;
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(it, "result");
            cJSON *d = r ? cJSON_Duplicate(r, 1) : cJSON_CreateNull();
            ok = ok && d && cJSON_AddItemToArray(results, d);
        } else if (!strcmp(s, "FAILED")) {
            fail++;
            rechain_item(c, sid, it);
            const cJSON *e = cJSON_GetObjectItemCaseSensitive(it, "error");
            cJSON *d = e ? cJSON_Duplicate(e, 1) : cJSON_CreateNull();
            ok = ok && d && cJSON_AddItemToArray(errors, d);
        } else {
            started++;
        }
    }
    cJSON_AddItemToObjectCS(v, "all", all); /* literal key: no allocation, cannot fail */
    cJSON_AddItemToObjectCS(v, "results", results); /* literal key: no allocation, cannot fail */
    cJSON_AddItemToObjectCS(v, "errors", errors); /* literal key: no allocation, cannot fail */
    int custom_failed = !strcmp(reason, "CUSTOM_COMPLETION_FAILED");
    ok = ok && cJSON_AddStringToObject(v, "completionReason", reason) &&
         cJSON_AddStringToObject(v, "status", fail > 0 || custom_failed ? "FAILED" : "SUCCEEDED") &&
         cJSON_AddNumberToObject(v, "successCount", succ) &&
         cJSON_AddNumberToObject(v, "failureCount", fail) &&
         cJSON_AddNumberToObject(v, "startedCount", started) &&
         cJSON_AddNumberToObject(v, "totalCount", total);
    if (!ok) {
        cJSON_Delete(v);
        return NULL;
    }
    return dwf__adopt(c, v);
}

/* "all" in the SDK's serialised key order: result|error, index, status. */
static cJSON *all_array(const batch *b)
{
    cJSON *all = cJSON_CreateArray();
    if (!all) return NULL;
    for (int i = 0; i < b->n; i++) {
        if (b->status[i] == IT_NONE) continue;
        cJSON *it = cJSON_CreateObject();
        if (!it || !cJSON_AddItemToArray(all, it)) {
            cJSON_Delete(it);
            cJSON_Delete(all);
            return NULL;
        }
        int ok = 1;
        if (b->status[i] == IT_SUCCEEDED && b->results[i]) { /* undefined: no "result" key */
            cJSON *r = cJSON_Duplicate(b->results[i], 1);
            ok = r && cJSON_AddItemToObject(it, "result", r);
        } else if (b->status[i] == IT_FAILED) {
            cJSON *e = cJSON_Duplicate(b->errors[i], 1);
            ok = e && cJSON_AddItemToObject(it, "error", e);
        }
        const char *s = b->status[i] == IT_SUCCEEDED ? "SUCCEEDED"
                        : b->status[i] == IT_FAILED  ? "FAILED"
                                                     : "STARTED";
        ok = ok && cJSON_AddNumberToObject(it, "index", i) && cJSON_AddStringToObject(it, "status", s);
        if (!ok) {
            cJSON_Delete(all);
            return NULL;
        }
    }
    return all;
}

/* What the batch's record decides: a full recorded result (*out set: no item runs again), a
 * summary (b->replay_only: the items re-run against their own records; *summary holds it),
 * a failure, or nothing yet (START it). */
static int batch_recorded(batch *b, const dwf__opref *r, const char *name, enum dwf_subtype subtype,
                          dwf_val **out, cJSON **summary, const char **summary_reason)
{
    dwf_ctx *c = b->c;
    const dwf__op *op = r->op;
    int st = dwf__op_status(op);
    if (st == DWF_OPSTATUS_SUCCEEDED) {
        cJSON *p = op->result ? dwf__parse_json(op->result, strlen(op->result), NULL) : NULL;
        if (!p) return dwf__fatal(c, "SerdesError", "batch \"%s\" has an unreadable result", b->sid);
        cJSON *all = cJSON_DetachItemFromObjectCaseSensitive(p, "all");
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(p, "completionReason");
        if (cJSON_IsArray(all)) { /* the full result was recorded: no item runs again */
            *out = batch_value(c, b->sid, all, cJSON_IsString(why) ? why->valuestring : "ALL_COMPLETED");
            cJSON_Delete(p);
            return *out ? DWF_OK : oom(c);
        }
        cJSON_Delete(all);
        *summary = p; /* a summary (over the payload limit): rebuild from the items' records */
        *summary_reason = cJSON_IsString(why) ? why->valuestring : NULL;
        const cJSON *marks = cJSON_GetObjectItemCaseSensitive(p, "itemStatuses");
        b->marks = cJSON_IsString(marks) ? marks->valuestring : NULL;
        b->replay_only = 1;
    } else if (st == DWF_OPSTATUS_FAILED) {
        const cJSON *e = op->error;
        const cJSON *m = e ? cJSON_GetObjectItemCaseSensitive(e, "ErrorMessage") : NULL;
        dwf__set_error_obj(c, dwf__error_new("ChildContextError",
                                             cJSON_IsString(m) ? m->valuestring : "batch failed", e));
        return DWF_ERROR;
    } else if (!op) {
        c->replaying = 0;
        return dwf__checkpoint(c, dwf__update_new(c, r->id, DWF_OPTYPE_CONTEXT, subtype,
                                                  DWF_ACTION_START, name), 0);
    }
    return DWF_OK;
}

/* The batch's context and bookkeeping, and the SDK's first wave: every item up to
 * max_concurrency is STARTED, its CONTEXT START queued in index order, before any body runs. */
static int batch_start(batch *b, const dwf__opref *r)
{
    dwf_ctx *c = b->c;
    dwf__ctx_init(&b->bctx, c->inv, c);
    b->bctx.step_id = r->sid;
    memcpy(b->bctx.parent_hash, r->id, sizeof r->id);
    b->bctx.replaying = r->op != NULL;
    b->maxc = b->o.max_concurrency > 0 ? b->o.max_concurrency : (b->n > 0 ? b->n : 1);
    b->status = calloc(b->n + 1, sizeof *b->status);
    b->cancel = calloc(b->n + 1, sizeof *b->cancel);
    b->results = calloc(b->n + 1, sizeof *b->results);
    b->errors = calloc(b->n + 1, sizeof *b->errors);
    b->start_sent = calloc(b->n + 1, 1);
    if (!b->status || !b->cancel || !b->results || !b->errors || !b->start_sent) return oom(c);
    int rc = DWF_OK;
    for (int i = 0; rc == DWF_OK && !b->replay_only && i < b->n && i < b->maxc; i++) {
        char *isid = dwf__child_step_id(b->sid, i + 1);
        if (!isid) return oom(c);
        char iid[17];
        dwf_hash_id(isid, iid);
        free(isid);
        if (!dwf__op_get(c->inv, iid)) {
            cJSON *u = dwf__update_new(&b->bctx, iid, DWF_OPTYPE_CONTEXT, b->item_subtype,
                                       DWF_ACTION_START, b->names[i]);
            rc = dwf__checkpoint(&b->bctx, u, 0);
            b->start_sent[i] = 1;
        }
        b->status[i] = IT_STARTED;
        b->next++;
        b->active++;
    }
    return rc;
}

/* Run the items on up to MAX_WORKERS threads (this one included) until the batch is decided
 * or nothing can progress in this invocation (DWF_SUSPEND). */
static int batch_run(batch *b, const char *summary_reason)
{
    dwf_ctx *c = b->c;
    int rc = DWF_OK;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->cv, NULL);
    if (b->n == 0 && !b->replay_only) complete(b);
    int nw = b->maxc < b->n ? b->maxc : b->n;
    if (nw > MAX_WORKERS) nw = MAX_WORKERS;
    pthread_t th[MAX_WORKERS];
    int started = 0;
    for (int k = 1; k < nw; k++) /* the calling thread is worker 0 */
        if (pthread_create(&th[started], NULL, worker, b) == 0) started++;
    worker(b);
    for (int k = 0; k < started; k++) pthread_join(th[k], NULL);
    pthread_mutex_destroy(&b->mu);
    pthread_cond_destroy(&b->cv);
    if (b->fatal_rc) {
        rc = b->fatal_rc;
    } else if (__atomic_load_n(&c->inv->fatal, __ATOMIC_ACQUIRE) ||
               __atomic_load_n(&c->inv->fault, __ATOMIC_ACQUIRE)) {
        rc = DWF_FATAL; /* an item hit one after the batch was decided */
    } else if (b->replay_only) {
        b->reason = summary_reason ? summary_reason : completion_reason(b);
        b->completed = 1;
    } else if (!b->completed) {
        c->replaying = 0;
        rc = DWF_SUSPEND; /* nothing can progress in this invocation */
    }
    return rc;
}

/* The SDK's summary of a result over the payload limit, with the children kept for replay:
 * counts, reason, status and itemStatuses (S / F / - per index up to the last started item).
 * Its JSON text (malloc'd), or NULL when out of memory. */
static char *batch_summary(const batch *b, const dwf_val *v)
{
    cJSON *s = cJSON_CreateObject();
    int ok = s && cJSON_AddStringToObject(s, "type", b->branches ? "ParallelResult" : "MapResult");
    /* map summaries carry no startedCount (the SDK's createMapSummaryGenerator) */
    static const char *const k[] = {"totalCount", "successCount", "failureCount", "startedCount"};
    for (int j = 0; ok && j < (b->branches ? 4 : 3); j++)
        ok = cJSON_AddNumberToObject(s, k[j], cJSON_GetObjectItemCaseSensitive(v, k[j])->valuedouble) != NULL;
    ok = ok && cJSON_AddStringToObject(s, "completionReason", b->reason) &&
         cJSON_AddStringToObject(s, "status", cJSON_GetObjectItemCaseSensitive(v, "status")->valuestring);
    int last = -1;
    for (int i = 0; i < b->n; i++)
        if (b->status[i] != IT_NONE) last = i;
    char *marks = malloc((size_t)last + 2);
    if (marks) {
        for (int i = 0; i <= last; i++)
            marks[i] = b->status[i] == IT_SUCCEEDED ? 'S' : b->status[i] == IT_FAILED ? 'F' : '-';
        marks[last + 1] = '\0';
    }
    ok = ok && marks && cJSON_AddStringToObject(s, "itemStatuses", marks);
    free(marks);
    char *text = ok ? dwf__to_json(s) : NULL;
    cJSON_Delete(s);
    return text;
}

/* The decided batch: its value for the caller and, unless only replayed, its CONTEXT SUCCEED
 * with the BatchResult payload {"all":[..],"completionReason":..} (or the summary). */
static int batch_finish(batch *b, const dwf__opref *r, const char *name, enum dwf_subtype subtype,
                        dwf_val **out)
{
    dwf_ctx *c = b->c;
    cJSON *all = all_array(b);
    cJSON *payload = all ? cJSON_CreateObject() : NULL;
    char *text = NULL;
    if (payload) {
        cJSON_AddItemToObjectCS(payload, "all", all); /* literal key: no allocation, cannot fail */
        all = NULL;
        if (cJSON_AddStringToObject(payload, "completionReason", b->reason)) text = dwf__to_json(payload);
    }
    cJSON_Delete(all);
    int rc = DWF_OK;
    if (!text) rc = oom(c);
    else if (!(*out = batch_value(c, b->sid, cJSON_DetachItemFromObjectCaseSensitive(payload, "all"), b->reason)))
        rc = oom(c);
    cJSON_Delete(payload);
    if (rc != DWF_OK || b->replay_only) {
        free(text);
        return rc;
    }
    int big = strlen(text) > DWF_LIMIT_OPERATION_PAYLOAD;
    if (big) {
        free(text);
        text = batch_summary(b, *out);
    }
    cJSON *u = text ? dwf__update_new(c, r->id, DWF_OPTYPE_CONTEXT, subtype, DWF_ACTION_SUCCEED,
                                      name)
                    : NULL;
    int ok = u && cJSON_AddStringToObject(u, "Payload", text);
    if (ok && big) {
        cJSON *co = cJSON_AddObjectToObject(u, "ContextOptions");
        ok = co && cJSON_AddTrueToObject(co, "ReplayChildren");
    }
    free(text);
    if (!ok) {
        cJSON_Delete(u);
        return oom(c);
    }
    return dwf__checkpoint(c, u, 0);
}

static void batch_free(batch *b)
{
    if (b->errors)
        for (int i = 0; i < b->n; i++) cJSON_Delete(b->errors[i]);
    free(b->status);
    free(b->cancel);
    free(b->results);
    free(b->errors);
    free(b->start_sent);
    for (int i = 0; b->names && i < b->n; i++) free(b->names[i]);
    free(b->names);
    free(b->items);
}

static int run_batch(batch *b, const dwf__opref *r, const char *name, enum dwf_subtype subtype,
                     dwf_val **out)
{
    cJSON *summary = NULL;
    const char *summary_reason = NULL;
    int rc = batch_recorded(b, r, name, subtype, out, &summary, &summary_reason);
    if (rc == DWF_OK && !*out) rc = batch_start(b, r);
    if (rc == DWF_OK && !*out) rc = batch_run(b, summary_reason);
    if (rc == DWF_OK && !*out) rc = batch_finish(b, r, name, subtype, out);
    cJSON_Delete(summary);
    return rc;
}

static int batch_opts_ok(dwf_ctx *c, const dwf_batch_opts *o)
{
    if (o && o->max_concurrency < 0)
        return dwf__fatal(c, "ConfigValidationError", "maxConcurrency must be a positive number");
    return DWF_OK;
}

/* A batch of n items on context c with the caller's options (or the defaults). */
static void batch_init(batch *b, dwf_ctx *c, const dwf__opref *r, enum dwf_subtype item_subtype,
                       int n, void *frame, const dwf_batch_opts *opts)
{
    static const dwf_batch_opts dflt = DWF_BATCH_DEFAULT;
    memset(b, 0, sizeof *b);
    b->c = c;
    b->sid = r->sid;
    b->item_subtype = item_subtype;
    b->n = n < 0 ? 0 : n;
    b->frame = frame;
    b->o = opts ? *opts : dflt;
}

int dwf_parallel(dwf_ctx *c, const char *name, const dwf_branch *branches, int n, void *frame,
                 const dwf_batch_opts *opts, dwf_val **out)
{
    dwf_val *dummy = NULL;
    if (!out) out = &dummy;
    *out = NULL;
    DWF_TRY(dwf__durable_guard(c, "parallel"));
    DWF_TRY(batch_opts_ok(c, opts));
    dwf__opref r;
    int rc = dwf__op_begin(c, "parallel", DWF_OPTYPE_CONTEXT, name, DWF_SUBTYPE_PARALLEL, &r);
    batch b;
    batch_init(&b, c, &r, DWF_SUBTYPE_PARALLEL_BRANCH, n, frame, opts);
    b.branches = branches;
    b.names = rc == DWF_OK ? calloc(b.n + 1, sizeof *b.names) : NULL;
    if (rc == DWF_OK && !b.names) rc = oom(c);
    for (int i = 0; rc == DWF_OK && i < b.n; i++) {
        if (branches[i].name) b.names[i] = strdup(branches[i].name);
        else if (asprintf(&b.names[i], "parallel-branch-%d", i) < 0) b.names[i] = NULL;
        if (!b.names[i]) rc = oom(c);
    }
    if (rc == DWF_OK) rc = run_batch(&b, &r, name, DWF_SUBTYPE_PARALLEL, out);
    batch_free(&b);
    return dwf__op_end(c, &r, rc);
}

/* Each map item's name: the namer's value when it gives a string, else "map-item-<i>". The
 * namer runs here, on the caller's context, before any item starts. */
static int map_names(batch *b, dwf_val *items, dwf_namer_fn item_name)
{
    dwf_ctx *c = b->c;
    b->names = calloc(b->n + 1, sizeof *b->names);
    b->items = calloc(b->n + 1, sizeof *b->items);
    if (!b->names || !b->items) return oom(c);
    int i = 0, rc = DWF_OK;
    for (cJSON *it = items->child; rc == DWF_OK && it; it = it->next, i++) {
        b->items[i] = it;
        dwf_val *nm = NULL;
        if (item_name) {
            nm = item_name(c, b->frame, it, dwf__adopt(c, cJSON_CreateNumber(i)));
            if (dwf_failed(c)) rc = DWF_ERROR;
        }
        if (cJSON_IsString(nm)) b->names[i] = strdup(nm->valuestring);
        else if (asprintf(&b->names[i], "map-item-%d", i) < 0) b->names[i] = NULL;
        if (rc == DWF_OK && !b->names[i]) rc = oom(c);
    }
    return rc;
}

int dwf_map(dwf_ctx *c, const char *name, dwf_val *items, dwf_item_fn body, dwf_namer_fn item_name,
            void *frame, const dwf_batch_opts *opts, dwf_val **out)
{
    dwf_val *dummy = NULL;
    if (!out) out = &dummy;
    *out = NULL;
    DWF_TRY(dwf__durable_guard(c, "map"));
    DWF_TRY(batch_opts_ok(c, opts));
    if (!cJSON_IsArray(items)) return dwf_fail(c, "TypeError", "map expects an array");
    dwf__opref r;
    int rc = dwf__op_begin(c, "map", DWF_OPTYPE_CONTEXT, name, DWF_SUBTYPE_MAP, &r);
    batch b;
    batch_init(&b, c, &r, DWF_SUBTYPE_MAP_ITERATION, cJSON_GetArraySize(items), frame, opts);
    b.ibody = body;
    if (rc == DWF_OK) rc = map_names(&b, items, item_name);
    if (rc == DWF_OK) rc = run_batch(&b, &r, name, DWF_SUBTYPE_MAP, out);
    batch_free(&b);
    return dwf__op_end(c, &r, rc);
}
