/*
 * callback.c: `dwf callback succeed|fail|heartbeat`, what a callback's external party does
 * (SendDurableExecutionCallbackSuccess / Failure / Heartbeat), against the local store. The
 * result of succeed may also be given as the third argument; it is passed on as raw text, as
 * the API does, while fail's error must be an ErrorObject and is checked before the store is
 * opened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dwf_protocol.h"
#include "engine_common.h"

const char *const usage_callback =
    "usage: dwf callback succeed CALLBACK_ID [--result JSON|@file] [--store PATH]\n"
    "       dwf callback fail CALLBACK_ID [--error JSON|@file] [--store PATH]\n"
    "       dwf callback heartbeat CALLBACK_ID [--store PATH]\n"
    "\n"
    "Complete a callback (SendDurableExecutionCallbackSuccess / Failure / Heartbeat). The\n"
    "result is passed as raw text, as the API does, up to 256 KB (DWF_LIMIT_OPERATION_PAYLOAD);\n"
    "the error is an ErrorObject {\"ErrorType\",\"ErrorMessage\",\"ErrorData\"} (strings, up to\n"
    "32 KB). A `dwf run` waiting on the callback, or the next `dwf resume` / `dwf worker`,\n"
    "continues the execution. `dwf callbacks` lists the pending ones.\n";

enum { OPT_STORE = 1, OPT_RESULT, OPT_ERROR };
static const CliOption options[] = {
    {"store", 0, CLI_VALUE, OPT_STORE},
    {"result", 0, CLI_VALUE, OPT_RESULT},
    {"error", 0, CLI_VALUE, OPT_ERROR},
    {0},
};

typedef struct CallbackArgs {
    const char *store, *action, *id, *result, *error;
} CallbackArgs;

static int parse(int argc, char **argv, CallbackArgs *c)
{
    *c = (CallbackArgs){.store = ec_default_store()};
    CliArgs a;
    int opt;
    cli_args_init(&a, "callback", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_STORE: c->store = a.value; break;
        case OPT_RESULT: c->result = a.value; break;
        case OPT_ERROR: c->error = a.value; break;
        case CLI_ARGUMENT:
            if (!c->action) c->action = a.value;
            else if (!c->id) c->id = a.value;
            else if (!c->result && !c->error && strcmp(c->action, "succeed") == 0) c->result = a.value;
            else if (!c->result && !c->error && strcmp(c->action, "fail") == 0) c->error = a.value;
            else return cli_usage_error("callback", "unexpected argument '%s'", a.value);
            break;
        default: return EXIT_USAGE;
        }
    }
    const char *act = c->action;
    if (!act || (strcmp(act, "succeed") != 0 && strcmp(act, "fail") != 0 && strcmp(act, "heartbeat") != 0))
        return cli_usage_error("callback", "say succeed, fail or heartbeat");
    if (!c->id) return cli_usage_error("callback", "no callback id given");
    if ((c->result && strcmp(act, "succeed") != 0) || (c->error && strcmp(act, "fail") != 0))
        return cli_usage_error("callback", "--result goes with succeed, --error with fail");
    return EXIT_OK;
}

int cmd_callback(int argc, char **argv)
{
    CallbackArgs c;
    int rc = parse(argc, argv, &c);
    if (rc != EXIT_OK) return rc;
    char *text = NULL;
    size_t len = 0;
    cJSON *eo = NULL;
    const char *v = c.result ? c.result : c.error;
    /* A result is an operation payload; an error object has a limit of its own. */
    if (c.result && ec_read_arg("callback", "--result", v, DWF_LIMIT_OPERATION_PAYLOAD,
                                "DWF_LIMIT_OPERATION_PAYLOAD", "a callback result", &text, &len) != 0)
        return EXIT_INPUT;
    if (c.error && ec_read_arg("callback", "--error", v, DWF_LIMIT_ERROR_JSON, "DWF_LIMIT_ERROR_JSON",
                               "an error object", &text, &len) != 0)
        return EXIT_INPUT;
    if (c.error) {
        eo = ec_parse_json_arg("callback", "--error", text, len);
        if (!eo || ec_check_error_object("callback", "--error", eo) != 0) {
            cJSON_Delete(eo);
            free(text);
            return EXIT_INPUT;
        }
    }
    dwf_service *s = NULL;
    dwf_error err;
    rc = EXIT_INPUT;
    if (ec_open_service("callback", c.store, &s) != 0) goto out;
    int r = strcmp(c.action, "succeed") == 0 ? dwf_service_callback_succeed(s, c.id, text, len, &err)
            : strcmp(c.action, "fail") == 0  ? dwf_service_callback_fail(s, c.id, eo, &err)
                                             : dwf_service_callback_heartbeat(s, c.id, &err);
    if (r != 0) {
        ec_service_error("callback", &err);
        goto out;
    }
    printf("callback %s: ok\n", c.action);
    rc = EXIT_OK;
out:
    cJSON_Delete(eo);
    free(text);
    dwf_service_close(s);
    return rc;
}
