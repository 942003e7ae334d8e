/*
 * runner.c: one test on the embedded engine (runner.h).
 *
 * The store is SQLite's in-memory database (nothing synced, nothing left behind), and the
 * service's clock is the test's own virtual clock, which only this loop moves. The loop: the
 * engine drives the execution (dwf_engine_drive with no_wait, so it returns as soon as nothing
 * is due now); the callbacks that opened meanwhile get what the test says (succeeds / fails
 * after a delay, heartbeats, times out); then the clock jumps to the next thing due: a
 * scheduled callback answer or any timer the service holds, deadlines included (waits, retry
 * delays, poll intervals, callback timeouts and heartbeat timeouts, the execution timeout), so
 * a 2-day approval timeout fires at once. It ends when the execution ends, or when nothing
 * is due any more (a callback nobody answers and that has no deadline).
 *
 * Mocks act inside the runtime: step attempts, http requests and aws calls through the
 * runtime's mock hook (dwf_invoke_opts.mock, via dwf_engine_opts), chained invokes through the service's
 * (dwf_service_set_invoke_mock). A mock answers the calls whose name (or url, with the method)
 * matches its pattern (fnmatch: "charge-*"), in the order the mocks are written, each at most
 * `times` times; a call no mock answers runs for real.
 */
#include "runner.h"

#include <fnmatch.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dwf_protocol.h"

enum { MAX_LOOPS = 100000 };
#define MAX_VIRTUAL_MS (400.0 * 86400e3) /* a test that needs more than 400 days is stuck */

/* A callback answer due at a virtual instant. */
typedef struct Pending {
    char *callback_id;
    const TCallback *what;
    double due;
    int left; /* heartbeats still to send */
} Pending;

typedef struct Run {
    TCase *c;
    double now, start;
    pthread_mutex_t mu; /* mocks are asked from the runtime's threads */
    dwf_service *s;
    char arn[1024];
    cJSON *seen; /* callback ids already given what the test says */
    Pending *pending;
    int npending;
    char stuck[600]; /* why the loop stopped before the execution ended */
} Run;

/* A growable report. */
typedef struct Text {
    char *p;
    size_t len, cap;
} Text;

static void add(Text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(Text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = (t->len + (size_t)n + 1) * 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            free(s);
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, (size_t)n + 1);
    t->len += (size_t)n;
    free(s);
}

static double vclock(void *arg) { return ((Run *)arg)->now; }

static double real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- mocks ------------------------------------------------------------------------------ */
static int mock_matches(const TMock *m, const dwf_mock_call *call)
{
    if (m->kind != (int)call->kind || (m->times && m->used >= m->times)) return 0;
    if (call->kind == DWF_MOCK_HTTP) {
        if (strcmp(m->method, "*") != 0 && strcasecmp(m->method, call->method ? call->method : "") != 0) return 0;
        return fnmatch(m->pattern, call->url ? call->url : "", 0) == 0;
    }
    return fnmatch(m->pattern, call->name ? call->name : "", 0) == 0;
}

static int mock_hook(void *arg, const dwf_mock_call *call, dwf_mock_answer *ans)
{
    Run *r = arg;
    int answer = DWF_MOCK_PASS;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->c->nmocks; i++) {
        TMock *m = &r->c->mocks[i];
        if (!mock_matches(m, call)) continue;
        m->used++;
        if (m->fails) {
            snprintf(ans->error_type, sizeof ans->error_type, "%s", m->error_type);
            snprintf(ans->error_message, sizeof ans->error_message, "%s", m->error_message ? m->error_message : "");
            answer = DWF_MOCK_FAIL;
        } else {
            ans->value = m->value ? cJSON_Duplicate(m->value, 1) : NULL;
            answer = DWF_MOCK_RETURN;
        }
        break;
    }
    pthread_mutex_unlock(&r->mu);
    return answer;
}

/* ---- callbacks -------------------------------------------------------------------------- */
/* The name a test uses for a callback: its own, or its waitForCallback context's. */
static char *callback_name(Run *r, const cJSON *cb)
{
    const char *name = str_of(cb, "Name");
    if (name) return strdup(name);
    cJSON *ops = NULL;
    dwf_error err;
    const char *exec = str_of(cb, "DurableExecutionArn"), *id = str_of(cb, "Id");
    if (!exec || !id || dwf_service_operations(r->s, exec, &ops, &err) != 0) return NULL;
    const char *parent = NULL;
    for (const cJSON *o = ops->child; o && !parent; o = o->next)
        if (str_of(o, "Id") && strcmp(str_of(o, "Id"), id) == 0) parent = str_of(o, "ParentId");
    char *out = NULL;
    for (const cJSON *o = ops->child; parent && o && !out; o = o->next)
        if (str_of(o, "Id") && strcmp(str_of(o, "Id"), parent) == 0 && str_of(o, "Name"))
            out = strdup(str_of(o, "Name"));
    cJSON_Delete(ops);
    return out;
}

static int schedule(Run *r, const char *id, const TCallback *what, double due, int left)
{
    Pending *p = realloc(r->pending, (size_t)(r->npending + 1) * sizeof *p);
    if (!p) return -1;
    r->pending = p;
    p[r->npending++] = (Pending){strdup(id), what, due, left};
    return 0;
}

/* Give each newly opened callback what the test says about it. */
static int callbacks_opened(Run *r, dwf_error *err)
{
    cJSON *cbs = NULL;
    if (dwf_service_open_callbacks(r->s, r->arn, &cbs, err) != 0) return -1;
    for (const cJSON *cb = cbs->child; cb; cb = cb->next) {
        const char *id = str_of(cb, "CallbackId");
        if (!id || cJSON_GetObjectItemCaseSensitive(r->seen, id)) continue;
        cJSON_AddItemToObject(r->seen, id, cJSON_CreateTrue());
        char *name = callback_name(r, cb);
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(cb, "StartTimestamp");
        double started = cJSON_IsNumber(st) ? st->valuedouble * 1000.0 : r->now;
        for (int i = 0; name && i < r->c->ncallbacks; i++) {
            const TCallback *t = &r->c->callbacks[i];
            if (fnmatch(t->name, name, 0) != 0) continue;
            if (t->action == TCB_SUCCEEDS || t->action == TCB_FAILS) schedule(r, id, t, started + t->after_ms, 0);
            else if (t->action == TCB_HEARTBEATS && t->times != 1)
                schedule(r, id, t, started + t->after_ms, t->times ? t->times - 1 : -1);
            else if (t->action == TCB_HEARTBEATS) schedule(r, id, t, started + t->after_ms, 0);
            break; /* TCB_TIMES_OUT: nothing to send; its deadline fires in virtual time */
        }
        free(name);
    }
    cJSON_Delete(cbs);
    return 0;
}

/* Send what is due now. A callback that already timed out (its deadline came first) or whose
 * execution ended refuses the answer: that is the test's outcome, not an error. */
static void answer_due(Run *r)
{
    for (int i = 0; i < r->npending; i++) {
        Pending *p = &r->pending[i];
        if (p->due > r->now) continue;
        dwf_error err;
        const TCallback *t = p->what;
        if (t->action == TCB_SUCCEEDS) {
            char *text = t->value ? cJSON_PrintUnformatted(t->value) : NULL;
            dwf_service_callback_succeed(r->s, p->callback_id, text ? text : "", text ? strlen(text) : 0, &err);
            free(text);
        } else if (t->action == TCB_FAILS) {
            cJSON *eo = cJSON_CreateObject();
            cJSON_AddStringToObject(eo, "ErrorType", t->error_type);
            if (t->error_message) cJSON_AddStringToObject(eo, "ErrorMessage", t->error_message);
            dwf_service_callback_fail(r->s, p->callback_id, eo, &err);
            cJSON_Delete(eo);
        } else if (dwf_service_callback_heartbeat(r->s, p->callback_id, &err) == 0 && p->left != 0) {
            p->due += t->after_ms;
            if (p->left > 0) p->left--;
            continue;
        }
        free(p->callback_id);
        r->pending[i--] = r->pending[--r->npending];
    }
}

/* ---- the loop ------------------------------------------------------------------------------ */
static int start(Run *r, const dwf_workflow *wf, dwf_error *err)
{
    cJSON *req = cJSON_CreateObject(), *out = NULL;
    char *input = r->c->input ? cJSON_PrintUnformatted(r->c->input) : NULL;
    int rc = -1;
    if (req && cJSON_AddStringToObject(req, "FunctionName", wf->function_name) &&
        (!input || cJSON_AddStringToObject(req, "Input", input)) && dwf_service_start(r->s, req, &out, err) == 0) {
        snprintf(r->arn, sizeof r->arn, "%s", str_of(out, "DurableExecutionArn"));
        rc = 0;
    }
    free(input);
    cJSON_Delete(req);
    cJSON_Delete(out);
    return rc;
}

static int drive(Run *r, const TrEnv *env, dwf_error *err)
{
    dwf_engine_opts eo = {.resolve = env->resolve, .resolve_arg = env->arg, .no_wait = 1, .quiet = 1,
                          .stale_ms = -1, .mock = mock_hook, .mock_arg = r};
    for (int loops = 0; loops < MAX_LOOPS; loops++) {
        int d = dwf_engine_drive(r->s, r->arn, &eo, err);
        if (d < 0) return -1;
        if (d == DWF_ENGINE_DONE) return 0;
        if (callbacks_opened(r, err) != 0) return -1;
        double due = -1;
        if (dwf_service_next_due(r->s, r->arn, 1, &due, err) != 0) return -1;
        for (int i = 0; i < r->npending; i++)
            if (due < 0 || r->pending[i].due < due) due = r->pending[i].due;
        if (due < 0) {
            snprintf(r->stuck, sizeof r->stuck,
                     "the execution waits for something the test does not give (a callback with no answer "
                     "and no deadline?)");
            return 0;
        }
        if (due - r->start > MAX_VIRTUAL_MS) {
            snprintf(r->stuck, sizeof r->stuck, "the execution still runs after 400 days of virtual time");
            return 0;
        }
        if (due > r->now) r->now = due;
        answer_due(r);
    }
    snprintf(r->stuck, sizeof r->stuck, "the execution still runs after %d rounds", MAX_LOOPS);
    return 0;
}

/* ---- expectations ------------------------------------------------------------------------- */
static const char *const op_types[][2] = {
    {"step", "STEP"}, {"wait", "WAIT"}, {"callback", "CALLBACK"}, {"invoke", "CHAINED_INVOKE"}, {"context", "CONTEXT"},
};

static const char *wire_type(const char *t)
{
    for (size_t i = 0; i < sizeof op_types / sizeof *op_types; i++)
        if (strcmp(op_types[i][0], t) == 0) return op_types[i][1];
    return "";
}

typedef struct Outcome {
    cJSON *exec;   /* GetDurableExecution */
    cJSON *ops;    /* every operation of the root execution */
    cJSON *events; /* its history events */
} Outcome;

/* The operations of type `type` whose name (or, for callbacks, whose parent's name) is `name`. */
static int op_matches(const cJSON *ops, const cJSON *op, const char *type, const char *name)
{
    if (!str_of(op, "Type") || strcmp(str_of(op, "Type"), wire_type(type)) != 0) return 0;
    const char *n = str_of(op, "Name");
    if (n) return strcmp(n, name) == 0;
    const char *parent = str_of(op, "ParentId");
    for (const cJSON *p = ops->child; parent && p; p = p->next)
        if (str_of(p, "Id") && strcmp(str_of(p, "Id"), parent) == 0)
            return str_of(p, "Name") && strcmp(str_of(p, "Name"), name) == 0;
    return 0;
}

/* How many times an operation's body ran: its Step events that start an attempt. */
static int attempts_of(const Outcome *o, const char *id)
{
    int n = 0;
    for (const cJSON *e = o->events ? o->events->child : NULL; e; e = e->next)
        if (str_of(e, "Id") && strcmp(str_of(e, "Id"), id) == 0 && str_of(e, "EventType") &&
            (strcmp(str_of(e, "EventType"), "StepSucceeded") == 0 || strcmp(str_of(e, "EventType"), "StepFailed") == 0))
            n++;
    return n;
}

static const cJSON *walk(const cJSON *v, const cJSON *path)
{
    for (const cJSON *p = path ? path->child : NULL; v && p; p = p->next) {
        if (cJSON_IsString(p)) v = cJSON_IsObject(v) ? cJSON_GetObjectItemCaseSensitive(v, p->valuestring) : NULL;
        else v = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, (int)p->valuedouble) : NULL;
    }
    return v;
}

static int compare(int cmp, const cJSON *actual, const cJSON *want)
{
    if (cmp == TCMP_EQ) return actual && cJSON_Compare(actual, want, 1);
    if (cmp == TCMP_NE) return !actual || !cJSON_Compare(actual, want, 1);
    if (!cJSON_IsNumber(actual) || !cJSON_IsNumber(want)) return 0;
    double a = actual->valuedouble, b = want->valuedouble;
    return cmp == TCMP_LE ? a <= b : cmp == TCMP_LT ? a < b : cmp == TCMP_GE ? a >= b : a > b;
}

static char *json_text(const cJSON *v)
{
    return v ? cJSON_PrintUnformatted(v) : strdup("(absent)");
}

/* The expectation's own line of the test file, for the report. */
static char *source_line(const char *path, int line)
{
    FILE *f = fopen(path, "r");
    char buf[1024];
    char *out = NULL;
    for (int n = 1; f && fgets(buf, sizeof buf, f); n++)
        if (n == line) {
            char *s = buf;
            while (*s == ' ' || *s == '\t') s++;
            s[strcspn(s, "\r\n")] = '\0';
            out = strdup(s);
            break;
        }
    if (f) fclose(f);
    return out ? out : strdup("");
}

/* Check one expectation. 1 holds; 0 fails, with expected / actual written to want / got. */
static int check(const Outcome *o, const Run *r, const TExpect *e, char **want, char **got)
{
    const char *status = str_of(o->exec, "Status");
    if (e->what == TEX_STATUS) {
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(o->exec, "Error");
        *want = strdup(e->status);
        if (asprintf(got, "%s%s%s%s%s%s", status ? status : "?", err ? " (" : "", err ? str_of(err, "ErrorType") : "",
                     err ? ": " : "", err && str_of(err, "ErrorMessage") ? str_of(err, "ErrorMessage") : "",
                     err ? ")" : "") < 0)
            *got = NULL;
        return status && strcmp(status, e->status) == 0;
    }
    if (e->what == TEX_RESULT) {
        const char *res = str_of(o->exec, "Result");
        cJSON *v = res ? cJSON_Parse(res) : NULL;
        const cJSON *a = walk(v, e->path);
        *want = json_text(e->value);
        *got = json_text(a);
        int ok = compare(e->cmp, a, e->value);
        cJSON_Delete(v);
        return ok;
    }
    if (e->what == TEX_ERROR) {
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(o->exec, "Error");
        const char *t = str_of(err, "ErrorType"), *m = str_of(err, "ErrorMessage");
        const char *em = e->error_message;
        if (asprintf(want, "%s%s%s", e->error_type, em ? " " : "", em ? em : "") < 0)
            *want = NULL;
        if (asprintf(got, "%s%s%s", t ? t : "no error", m ? " " : "", m ? m : "") < 0) *got = NULL;
        return t && strcmp(t, e->error_type) == 0 && (!e->error_message || (m && strcmp(m, e->error_message) == 0));
    }
    if (e->what == TEX_ELAPSED) {
        cJSON *a = cJSON_CreateNumber(r->now - r->start), *b = cJSON_CreateNumber(e->number);
        if (asprintf(want, "%g s", e->number / 1000.0) < 0) *want = NULL;
        if (asprintf(got, "%g s", (r->now - r->start) / 1000.0) < 0) *got = NULL;
        int ok = compare(e->cmp, a, b);
        cJSON_Delete(a);
        cJSON_Delete(b);
        return ok;
    }
    /* an operation by type and name */
    int n = 0, attempts = 0, all_status = 1;
    const cJSON *first = NULL;
    char statuses[256] = "";
    for (const cJSON *op = o->ops ? o->ops->child : NULL; op; op = op->next) {
        if (!op_matches(o->ops, op, e->op_type, e->op_name)) continue;
        if (!first) first = op;
        n++;
        attempts += attempts_of(o, str_of(op, "Id"));
        const char *st = str_of(op, "Status");
        if (!st || !e->status || strcmp(st, e->status) != 0) all_status = 0;
        if (strlen(statuses) < 200) {
            if (*statuses) strcat(statuses, ", ");
            strncat(statuses, st ? st : "?", 40);
        }
    }
    if (e->what == TEX_OP_ATTEMPTS) {
        if (asprintf(want, "%g attempt%s", e->number, e->number == 1 ? "" : "s") < 0) *want = NULL;
        if (asprintf(got, "%d attempt%s%s", attempts, attempts == 1 ? "" : "s",
                     n ? "" : " (no such operation ran)") < 0)
            *got = NULL;
        return attempts == (int)e->number;
    }
    if (e->what == TEX_OP_STATUS) {
        *want = strdup(e->status);
        *got = strdup(n ? statuses : "(no such operation ran)");
        return n > 0 && all_status;
    }
    /* TEX_OP_RESULT: the first such operation's result */
    const char *res = NULL;
    static const char *const details[] = {"StepDetails", "CallbackDetails", "ChainedInvokeDetails", "ContextDetails"};
    for (size_t i = 0; first && !res && i < sizeof details / sizeof *details; i++)
        res = str_of(cJSON_GetObjectItemCaseSensitive(first, details[i]), "Result");
    cJSON *v = res ? cJSON_Parse(res) : NULL;
    if (res && !v) v = cJSON_CreateString(res); /* a callback's raw text */
    const cJSON *a = walk(v, e->path);
    *want = json_text(e->value);
    *got = first ? json_text(a) : strdup("(no such operation ran)");
    int ok = compare(e->cmp, a, e->value);
    cJSON_Delete(v);
    return ok;
}

/* The operation history, one line per operation, nested by ParentId. */
static void history(Text *t, const Outcome *o, const char *parent, int depth)
{
    for (const cJSON *op = o->ops ? o->ops->child : NULL; op; op = op->next) {
        const char *p = str_of(op, "ParentId"), *type = str_of(op, "Type");
        if (!type || strcmp(type, "EXECUTION") == 0) continue;
        if ((parent == NULL) != (p == NULL) || (parent && strcmp(parent, p) != 0)) continue;
        const char *name = str_of(op, "Name"), *st = str_of(op, "Status");
        int att = attempts_of(o, str_of(op, "Id"));
        const cJSON *err = NULL;
        static const char *const details[] = {"StepDetails", "CallbackDetails", "ChainedInvokeDetails",
                                              "ContextDetails"};
        for (size_t i = 0; !err && i < sizeof details / sizeof *details; i++)
            err = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op, details[i]), "Error");
        add(t, "      %*s%-14s %-28s %-10s", depth * 2, "", type, name ? name : "-", st ? st : "?");
        if (strcmp(type, "STEP") == 0) add(t, " %d attempt%s", att, att == 1 ? "" : "s");
        const char *et = str_of(err, "ErrorType"), *msg = str_of(err, "ErrorMessage");
        if (err) add(t, " %s%s%s", et ? et : "", et ? ": " : "", msg ? msg : "");
        add(t, "\n");
        history(t, o, str_of(op, "Id"), depth + 1);
    }
}

static int collect(Run *r, Outcome *o, dwf_error *err)
{
    if (dwf_service_get_execution(r->s, r->arn, 1, &o->exec, err) != 0) return -1;
    if (dwf_service_operations(r->s, r->arn, &o->ops, err) != 0) return -1;
    o->events = cJSON_CreateArray();
    char marker[256] = "";
    for (;;) {
        cJSON *page = NULL;
        if (dwf_service_get_history(r->s, r->arn, 1, 1000, marker[0] ? marker : NULL, 0, &page, err) != 0) return -1;
        cJSON *evs = cJSON_GetObjectItemCaseSensitive(page, "Events");
        while (evs && evs->child) cJSON_AddItemToArray(o->events, cJSON_DetachItemViaPointer(evs, evs->child));
        const char *next = str_of(page, "NextMarker");
        snprintf(marker, sizeof marker, "%s", next ? next : "");
        cJSON_Delete(page);
        if (!marker[0]) return 0;
    }
}

static void evaluate(Run *r, const TFile *f, const Outcome *o, TrResult *out)
{
    Text t = {0};
    int failed = 0;
    for (int i = 0; i < r->c->nexpects; i++) {
        const TExpect *e = &r->c->expects[i];
        char *want = NULL, *got = NULL;
        if (!check(o, r, e, &want, &got)) {
            char *src = source_line(f->path, e->line);
            add(&t, "    %s:%d: %s\n      expected: %s\n      actual:   %s\n", f->path, e->line, src,
                want ? want : "?", got ? got : "?");
            free(src);
            failed++;
        }
        free(want);
        free(got);
    }
    if (r->stuck[0] && failed) add(&t, "    note: %s\n", r->stuck);
    if (failed) {
        add(&t, "    history (%.1f s of virtual time):\n", (r->now - r->start) / 1000.0);
        history(&t, o, NULL, 0);
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(o->exec, "Error");
        add(&t, "      => %s", str_of(o->exec, "Status") ? str_of(o->exec, "Status") : "?");
        if (err) add(&t, " %s: %s", str_of(err, "ErrorType") ? str_of(err, "ErrorType") : "?",
                     str_of(err, "ErrorMessage") ? str_of(err, "ErrorMessage") : "");
        else if (str_of(o->exec, "Result")) add(&t, " %.300s", str_of(o->exec, "Result"));
        add(&t, "\n");
    }
    out->passed = !failed;
    out->report = t.p;
}

int tr_run(const TFile *f, TCase *c, const TrEnv *env, TrResult *out)
{
    memset(out, 0, sizeof *out);
    double t0 = real_ms();
    Run r = {.c = c};
    for (int i = 0; i < c->nmocks; i++) c->mocks[i].used = 0;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r.now = r.start = floor((double)ts.tv_sec * 1e3); /* virtual time starts at the real now */
    pthread_mutex_init(&r.mu, NULL);
    r.seen = cJSON_CreateObject();
    char why[600] = "";
    Text t = {0};
    const dwf_workflow *wf = env->by_name(env->arg, c->workflow, why, sizeof why);
    dwf_service_opts so = {.path = ":memory:", .clock = vclock, .clock_arg = &r, .no_purge = 1};
    dwf_error err = {{0}, {0}};
    Outcome o = {0};
    int rc = 0;
    if (!wf) {
        add(&t, "    %s:%d: run %s\n      %s\n", f->path, c->run_line, c->workflow, why);
    } else if (dwf_service_open(&so, &r.s, &err) != 0 || env->register_all(env->arg, r.s, &err) != 0) {
        rc = -1;
    } else {
        dwf_service_set_invoke_mock(r.s, mock_hook, &r);
        if (start(&r, wf, &err) != 0 || drive(&r, env, &err) != 0 || collect(&r, &o, &err) != 0)
            add(&t, "    %s:%d: run %s\n      %s: %s\n", f->path, c->run_line, c->workflow, err.type, err.message);
        else
            evaluate(&r, f, &o, out);
    }
    if (rc != 0) add(&t, "    %s: %s\n", err.type, err.message);
    if (t.p) { /* could not run: a failure of the test, with the reason */
        out->passed = 0;
        free(out->report);
        out->report = t.p;
    }
    out->virtual_ms = r.now - r.start;
    cJSON_Delete(o.exec);
    cJSON_Delete(o.ops);
    cJSON_Delete(o.events);
    for (int i = 0; i < r.npending; i++) free(r.pending[i].callback_id);
    free(r.pending);
    cJSON_Delete(r.seen);
    if (r.s) dwf_service_close(r.s);
    pthread_mutex_destroy(&r.mu);
    out->real_ms = real_ms() - t0;
    return 0;
}
