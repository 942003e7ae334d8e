/*
 * verify.c: `dwf verify`, will a changed workflow still resume the executions that started on
 * the old one?
 *
 * Each recorded history (every open execution of the workflow's function in the store, or the
 * files given with --history) is replayed against the new code by the runtime's verify mode
 * (dwf_verify_replay, sdk/verify.c): the same replay check a real resume makes, with no step
 * body run and nothing written, stopping where the history ends. The report names, for each
 * history, whether it would resume cleanly or the first operation where it diverges, with the
 * .dwf line of the new code there and, when the store still has the old version's handler (it
 * records where each version's handler was), the line of the old code: the old handler replays
 * the same history, which tells which of its lines made each recorded operation.
 *
 * Histories come in the shapes users have: {"Operations":[...]} (GetDurableExecutionState,
 * `dwf history --json`), {"Events":[...]} (GetDurableExecutionHistory, `dwf history --events
 * --json`), made back into operations here, or a bare array of operations.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine_common.h"
#include "handler.h"

const char *const usage_verify =
    "usage: dwf verify FILE.dwf [--store PATH] [--history H.json]...\n"
    "\n"
    "Replay recorded histories against the (changed) workflow without running any step body,\n"
    "and say for each whether it would resume cleanly or where it diverges, with the .dwf line\n"
    "of the old and the new code. Without --history: every open execution of the workflow's\n"
    "function in the store. A history file holds {\"Operations\":[...]} (GetDurableExecutionState,\n"
    "dwf history --json) or {\"Events\":[...]} (GetDurableExecutionHistory).\n"
    "\n"
    "options:\n"
    "  --history FILE  a recorded history to check (repeatable); the store is not opened\n"
    "  --store PATH    the store (default $DWF_STORE or .dwf/dwf.db)\n"
    "\n"
    "exit status: 0 every history would resume, 1 one would break (or an error), 2 usage error\n";

enum { OPT_STORE = 1, OPT_HISTORY };
static const CliOption options[] = {
    {"store", 0, CLI_VALUE, OPT_STORE},
    {"history", 0, CLI_VALUE, OPT_HISTORY},
    {0},
};

enum { MAX_HISTORIES = 64 };

typedef struct Verify {
    const char *file, *store;
    const char *histories[MAX_HISTORIES];
    int nhistories;
    Handler h;
    int ok, broken;
} Verify;

/* ---- events back into operations ----------------------------------------------------------- */
static const struct {
    const char *prefix, *type, *details;
} event_kinds[] = {
    {"ChainedInvoke", "CHAINED_INVOKE", "ChainedInvokeDetails"},
    {"Execution", "EXECUTION", "ExecutionDetails"},
    {"Context", "CONTEXT", "ContextDetails"},
    {"Callback", "CALLBACK", "CallbackDetails"},
    {"Wait", "WAIT", NULL},
    {"Step", "STEP", "StepDetails"},
};

static const struct {
    const char *suffix, *status;
} event_states[] = {
    {"Started", "STARTED"}, {"Succeeded", "SUCCEEDED"}, {"Failed", "FAILED"},
    {"TimedOut", "TIMED_OUT"}, {"Stopped", "STOPPED"}, {"Cancelled", "CANCELLED"},
};

static cJSON *ensure_obj(cJSON *o, const char *k)
{
    cJSON *d = cJSON_GetObjectItemCaseSensitive(o, k);
    return d ? d : cJSON_AddObjectToObject(o, k);
}

static void set_str(cJSON *o, const char *k, const char *v)
{
    if (!o || !v) return;
    cJSON_DeleteItemFromObjectCaseSensitive(o, k);
    cJSON_AddStringToObject(o, k, v);
}

/* What one event says about its operation: type, status, result, error, callback id, input. */
static void apply_event(cJSON *op, const cJSON *ev, int kind, const char *status)
{
    char key[96];
    snprintf(key, sizeof key, "%s", ec_str(ev, "EventType"));
    strncat(key, "Details", sizeof key - strlen(key) - 1);
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(ev, key);
    set_str(op, "Status", status);
    const char *details = event_kinds[kind].details;
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(d, "Result");
    const cJSON *err = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "Error"), "Payload");
    const cJSON *retry = cJSON_GetObjectItemCaseSensitive(d, "RetryDetails");
    if (retry && strcmp(status, "FAILED") == 0) set_str(op, "Status", "PENDING"); /* a retry, not the end */
    if (details && strcmp(details, "ExecutionDetails") == 0) {
        const cJSON *in = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(d, "Input"), "Payload");
        if (cJSON_IsString(in)) set_str(ensure_obj(op, details), "InputPayload", in->valuestring);
        return;
    }
    if (!details) return;
    cJSON *od = ensure_obj(op, details);
    const cJSON *payload = cJSON_GetObjectItemCaseSensitive(res, "Payload");
    if (cJSON_IsString(payload)) set_str(od, "Result", payload->valuestring);
    if (cJSON_IsObject(err)) {
        cJSON_DeleteItemFromObjectCaseSensitive(od, "Error");
        cJSON_AddItemToObject(od, "Error", cJSON_Duplicate(err, 1));
    }
    set_str(od, "CallbackId", ec_str(d, "CallbackId"));
    const cJSON *attempt = cJSON_GetObjectItemCaseSensitive(retry, "CurrentAttempt");
    if (cJSON_IsNumber(attempt)) {
        cJSON_DeleteItemFromObjectCaseSensitive(od, "Attempt");
        cJSON_AddNumberToObject(od, "Attempt", attempt->valuedouble);
    }
}

/* GetDurableExecutionHistory's events as operations in start order (the last event of each
 * operation decides its status). InvocationCompleted and events without an Id are skipped. */
static cJSON *operations_of_events(const cJSON *events)
{
    cJSON *ops = cJSON_CreateArray();
    for (const cJSON *ev = events->child; ops && ev; ev = ev->next) {
        const char *et = ec_str(ev, "EventType"), *id = ec_str(ev, "Id");
        if (!et || !id) continue;
        int kind = -1, state = -1;
        for (size_t k = 0; kind < 0 && k < sizeof event_kinds / sizeof *event_kinds; k++)
            if (strncmp(et, event_kinds[k].prefix, strlen(event_kinds[k].prefix)) == 0) kind = (int)k;
        if (kind < 0) continue;
        const char *rest = et + strlen(event_kinds[kind].prefix);
        for (size_t k = 0; k < sizeof event_states / sizeof *event_states; k++)
            if (strcmp(rest, event_states[k].suffix) == 0) state = (int)k;
        if (state < 0) continue;
        cJSON *op = NULL;
        for (cJSON *o = ops->child; o && !op; o = o->next)
            if (strcmp(ec_str(o, "Id"), id) == 0) op = o;
        if (!op) {
            op = cJSON_CreateObject();
            cJSON_AddItemToArray(ops, op);
            set_str(op, "Id", id);
            set_str(op, "Type", event_kinds[kind].type);
            set_str(op, "Name", ec_str(ev, "Name"));
            set_str(op, "SubType", ec_str(ev, "SubType"));
            set_str(op, "ParentId", ec_str(ev, "ParentId"));
        }
        apply_event(op, ev, kind, event_states[state].status);
    }
    return ops;
}

/* A history file: {"Operations"}, {"Events"} or an array of operations. NULL after printing why. */
static cJSON *read_history(const char *path)
{
    char *text = NULL;
    size_t len = 0;
    char arg[4200];
    snprintf(arg, sizeof arg, "@%s", path);
    if (ec_read_arg("verify", "--history", arg, 64u << 20, "64 MB", "a history", &text, &len) != 0) return NULL;
    cJSON *j = ec_parse_json_arg("verify", path, text, len);
    free(text);
    if (!j) return NULL;
    cJSON *ops = NULL;
    const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "Operations");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(j, "Events");
    if (cJSON_IsArray(j)) ops = cJSON_Duplicate(j, 1);
    else if (cJSON_IsArray(o)) ops = cJSON_Duplicate(o, 1);
    else if (cJSON_IsArray(e)) ops = operations_of_events(e);
    else fprintf(stderr, "dwf verify: %s holds neither \"Operations\" nor \"Events\"\n", path);
    cJSON_Delete(j);
    return ops;
}

/* ---- one history ------------------------------------------------------------------------------ */
static const cJSON *op_by_id(const cJSON *ops, const char *id)
{
    for (const cJSON *o = ops ? ops->child : NULL; o; o = o->next)
        if (ec_str(o, "Id") && strcmp(ec_str(o, "Id"), id) == 0) return o;
    return NULL;
}

/* The old code's line of a recorded operation: the old handler replays the same history. */
static int old_line(const dwf_workflow *old, const cJSON *ops, const char *id)
{
    dwf_verify_report rep;
    dwf_error err;
    if (!old || dwf_verify_replay(old, ops, NULL, &rep, &err) < 0) return 0;
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(rep.lines, id);
    int line = cJSON_IsNumber(l) ? l->valueint : 0;
    cJSON_Delete(rep.lines);
    return line;
}

static int count_ops(const cJSON *ops)
{
    int n = 0;
    for (const cJSON *o = ops ? ops->child : NULL; o; o = o->next)
        if (!ec_str(o, "Type") || strcmp(ec_str(o, "Type"), "EXECUTION") != 0) n++;
    return n;
}

/* Replay one history and print what it would do. 0 resumes, 1 breaks, -1 error. */
static int verify_one(Verify *v, const char *label, const cJSON *ops, const dwf_workflow *old)
{
    dwf_verify_report rep;
    dwf_error err;
    int outcome = dwf_verify_replay(v->h.wf, ops, NULL, &rep, &err);
    if (outcome < 0) {
        cJSON_Delete(rep.lines);
        return ec_service_error("verify", &err), -1;
    }
    const char *file = v->file;
    if (outcome != DWF_VERIFY_DIVERGES) {
        printf("ok       %s: %s (%d recorded operations replayed)\n", label,
               outcome == DWF_VERIFY_ENDS ? "runs to its end on the recorded results" : "resumes cleanly",
               count_ops(ops));
        v->ok++;
        cJSON_Delete(rep.lines);
        return 0;
    }
    const cJSON *op = op_by_id(ops, rep.op_id);
    const char *type = ec_str(op, "Type"), *name = ec_str(op, "Name");
    int ol = old_line(old, ops, rep.op_id);
    printf("DIVERGES %s\n  at operation %s%s%s%s: recorded %s%s%s%s", label, rep.op_id, rep.step_id[0] ? " (step " : "",
           rep.step_id, rep.step_id[0] ? ")" : "", type ? type : "?", name ? " \"" : "", name ? name : "",
           name ? "\"" : "");
    if (ol > 0) printf(" (old code: line %d)", ol);
    else printf(" (old code's line unknown: its handler is not in the store)");
    if (rep.line > 0) printf(", new code: %s:%d\n", file, rep.line);
    else printf("\n");
    printf("  %s\n", rep.message);
    v->broken++;
    cJSON_Delete(rep.lines);
    return 1;
}

/* ---- the store's open executions ---------------------------------------------------------------- */
/* The old version's handler, when the execution started on another one the store knows. */
static void *load_old(const cJSON *w, const Verify *v, const dwf_workflow **old)
{
    *old = NULL;
    const char *hash = ec_str(w, "WorkflowHash"), *so = ec_str(w, "Handler");
    if (!hash || !so) return NULL;
    if (v->h.wf->source_hash && strcmp(hash, v->h.wf->source_hash) == 0) {
        *old = v->h.wf;
        return NULL;
    }
    Handler oh;
    char msg[600];
    if (handler_load(so, ec_str(w, "Source"), &oh, msg, sizeof msg) != 0) return NULL;
    *old = oh.wf;
    return oh.dl;
}

static int verify_store(Verify *v)
{
    dwf_service *s = NULL;
    dwf_error err;
    if (ec_open_service("verify", v->store, &s) != 0) return -1;
    cJSON *q = cJSON_CreateObject(), *list = NULL, *st;
    int rc = -1;
    if (!q || !cJSON_AddStringToObject(q, "FunctionName", v->h.wf->function_name) ||
        !(st = cJSON_AddArrayToObject(q, "Statuses")) || !cJSON_AddItemToArray(st, cJSON_CreateString("RUNNING")) ||
        !cJSON_AddNumberToObject(q, "MaxItems", 1000))
        goto out;
    if (dwf_service_list_executions(s, q, &list, &err) != 0) {
        ec_service_error("verify", &err);
        goto out;
    }
    rc = 0;
    const cJSON *xs = cJSON_GetObjectItemCaseSensitive(list, "DurableExecutions");
    for (const cJSON *x = xs ? xs->child : NULL; x && rc >= 0; x = x->next) {
        const char *arn = ec_str(x, "DurableExecutionArn");
        if (!arn || strstr(arn, ":function:") == NULL) continue;
        cJSON *ops = NULL, *w = NULL;
        if (dwf_service_operations(s, arn, &ops, &err) != 0 || dwf_service_execution_workflow(s, arn, &w, &err) != 0) {
            cJSON_Delete(ops);
            rc = ec_service_error("verify", &err) ? -1 : -1;
            break;
        }
        const dwf_workflow *old = NULL;
        void *dl = load_old(w, v, &old);
        if (verify_one(v, arn, ops, old) < 0) rc = -1;
        if (dl) dlclose(dl);
        cJSON_Delete(ops);
        cJSON_Delete(w);
    }
    if (rc == 0 && v->ok + v->broken == 0)
        printf("no open executions of %s in %s\n", v->h.wf->function_name, v->store);
out:
    cJSON_Delete(q);
    cJSON_Delete(list);
    dwf_service_close(s);
    return rc;
}

static int parse_options(Verify *v, int argc, char **argv)
{
    CliArgs a;
    int opt;
    cli_args_init(&a, "verify", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_STORE: v->store = a.value; break;
        case OPT_HISTORY:
            if (v->nhistories == MAX_HISTORIES)
                return cli_usage_error("verify", "at most %d --history files", MAX_HISTORIES);
            v->histories[v->nhistories++] = a.value;
            break;
        case CLI_ARGUMENT:
            if (v->file) return cli_usage_error("verify", "one workflow at a time ('%s' and '%s')", v->file, a.value);
            v->file = a.value;
            break;
        default: return EXIT_USAGE;
        }
    }
    if (!v->file) return cli_usage_error("verify", "no .dwf file given");
    return EXIT_OK;
}

int cmd_verify(int argc, char **argv)
{
    Verify v = {.store = ec_default_store()};
    int rc = parse_options(&v, argc, argv);
    if (rc != EXIT_OK) return rc;
    if (handler_open("verify", v.file, v.store, &v.h) != 0) return EXIT_INPUT;
    int bad = 0;
    for (int i = 0; i < v.nhistories && !bad; i++) {
        cJSON *ops = read_history(v.histories[i]);
        if (!ops || verify_one(&v, v.histories[i], ops, NULL) < 0) bad = 1;
        cJSON_Delete(ops);
    }
    if (!bad && v.nhistories == 0 && verify_store(&v) != 0) bad = 1;
    if (!bad && v.ok + v.broken > 0) printf("%d would resume, %d would break\n", v.ok, v.broken);
    dlclose(v.h.dl);
    return bad || v.broken ? EXIT_INPUT : EXIT_OK;
}
