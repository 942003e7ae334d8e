/*
 * verify.c: dwf_verify_replay, a recorded history replayed against a workflow's code to see
 * whether an execution that started on other code would resume cleanly on this one.
 *
 * It is an ordinary invocation (dwf_run_invocation) in verify mode: the history is the
 * invocation's initial state, the replay check of every operation (Type, Name, SubType against
 * the record, dwf__check_replay) is the one a real resume makes, step bodies and poll checks
 * never run (step_run, poll_check) and the first operation the history has no record of stops
 * that path as a suspension would (dwf__checkpoint writes nothing). So no side effect can
 * happen and the run ends where the recorded history ends. On top of what a resume would see,
 * it reports recorded top-level operations the new code never reaches when it runs to its end
 * (a removed trailing step): the SDK would not notice, but the history would no longer mean
 * what the code says.
 */
#include <stdio.h>
#include <string.h>
#include "core.h"

static int tr_checkpoint(dwf_transport *t, const char *arn, const cJSON *request, cJSON **response,
                         dwf_error *err, int *retryable)
{
    (void)t, (void)arn, (void)request, (void)response;
    /* Never reached: verify mode stops before queueing anything. */
    snprintf(err->type, sizeof err->type, "InternalError");
    snprintf(err->message, sizeof err->message, "verify mode never checkpoints");
    if (retryable) *retryable = 0;
    return -1;
}

static int tr_get_state(dwf_transport *t, const char *arn, const char *token, const char *marker,
                        cJSON **response, dwf_error *err)
{
    (void)t, (void)arn, (void)token, (void)marker;
    *response = cJSON_CreateObject(); /* the whole history is in the event: no more pages */
    if (*response) return 0;
    snprintf(err->type, sizeof err->type, "OutOfMemory");
    snprintf(err->message, sizeof err->message, "out of memory");
    return -1;
}

static double tr_now(dwf_transport *t)
{
    (void)t;
    return 0;
}

static const char *str_of(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The invocation event: the history as InitialExecutionState, with an EXECUTION operation
 * first (the runtime reads the input from it; a history without one replays on input {}). */
static cJSON *verify_event(const cJSON *operations)
{
    cJSON *ev = cJSON_CreateObject();
    cJSON *st = ev ? cJSON_AddObjectToObject(ev, "InitialExecutionState") : NULL;
    cJSON *ops = cJSON_Duplicate(operations, 1);
    if (!st || !ops || !cJSON_AddStringToObject(ev, "DurableExecutionArn", "arn:dwf:verify") ||
        !cJSON_AddStringToObject(ev, "CheckpointToken", "verify")) {
        cJSON_Delete(ops);
        cJSON_Delete(ev);
        return NULL;
    }
    cJSON_AddItemToObject(st, "Operations", ops);
    return ev;
}

/* The code ran to its end: a recorded top-level operation it never reached is a divergence. */
static void check_unreached(const cJSON *operations, dwf_verify_report *rep)
{
    for (const cJSON *op = operations ? operations->child : NULL; op; op = op->next) {
        const char *id = str_of(op, "Id"), *type = str_of(op, "Type");
        if (!id || !type || strcmp(type, "EXECUTION") == 0 || str_of(op, "ParentId")) continue;
        if (rep->lines && cJSON_GetObjectItemCaseSensitive(rep->lines, id)) continue;
        const char *name = str_of(op, "Name");
        rep->diverged = 1;
        rep->outcome = DWF_VERIFY_DIVERGES;
        snprintf(rep->op_id, sizeof rep->op_id, "%s", id);
        rep->step_id[0] = '\0';
        rep->line = 0;
        snprintf(rep->message, sizeof rep->message,
                 "the code ends before the recorded %s%s%s%s: it is no longer in the workflow", type,
                 name ? " \"" : "", name ? name : "", name ? "\"" : "");
        return;
    }
}

int dwf_verify_replay(const dwf_workflow *wf, const cJSON *operations, const char *const *environment,
                      dwf_verify_report *rep, dwf_error *err)
{
    static const char *const no_environment[] = {NULL};
    memset(rep, 0, sizeof *rep);
    cJSON *ev = verify_event(operations);
    if (!ev) {
        snprintf(err->type, sizeof err->type, "OutOfMemory");
        snprintf(err->message, sizeof err->message, "out of memory");
        return -1;
    }
    dwf_transport t = {tr_checkpoint, tr_get_state, tr_now, NULL};
    if (!environment) environment = wf->environment ? wf->environment : no_environment;
    dwf_invoke_opts io = {.quiet = 1, .request_id = "verify", .verify = rep, .environment = environment};
    cJSON *resp = dwf_run_invocation(wf, ev, &t, &io, err);
    cJSON_Delete(ev);
    if (!resp) return -1;
    const char *status = str_of(resp, "Status");
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(resp, "Error");
    if (status && strcmp(status, "FAILED") == 0) {
        rep->diverged = 1;
        rep->outcome = DWF_VERIFY_DIVERGES;
        const char *type = str_of(e, "ErrorType"), *msg = str_of(e, "ErrorMessage");
        snprintf(rep->message, sizeof rep->message, "%s: %s", type ? type : "Error", msg ? msg : "");
    } else if (status && strcmp(status, "SUCCEEDED") == 0) {
        rep->outcome = DWF_VERIFY_ENDS;
        check_unreached(operations, rep);
    } else {
        rep->outcome = DWF_VERIFY_RESUMES;
    }
    cJSON_Delete(resp);
    return rep->outcome;
}
