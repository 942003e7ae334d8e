/*
 * stop.c: `dwf stop`, StopDurableExecution against the local store: the execution ends
 * STOPPED, with the optional ErrorObject checked before the store is opened.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "dwf_protocol.h"
#include "engine_common.h"

const char *const usage_stop =
    "usage: dwf stop ARN [--error JSON|@file] [--store PATH]\n"
    "\n"
    "Stop a running execution (StopDurableExecution): it ends STOPPED, with the ErrorObject\n"
    "{\"ErrorType\",\"ErrorMessage\",\"ErrorData\"} (strings, up to 32 KB) when given.\n";

enum { OPT_STORE = 1, OPT_ERROR };
static const CliOption options[] = {
    {"store", 0, CLI_VALUE, OPT_STORE},
    {"error", 0, CLI_VALUE, OPT_ERROR},
    {0},
};

int cmd_stop(int argc, char **argv)
{
    const char *store = ec_default_store(), *arn = NULL, *error = NULL;
    int opt;
    CliArgs a;
    cli_args_init(&a, "stop", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_STORE: store = a.value; break;
        case OPT_ERROR: error = a.value; break;
        case CLI_ARGUMENT:
            if (arn) return cli_usage_error("stop", "one execution at a time");
            arn = a.value;
            break;
        default: return EXIT_USAGE;
        }
    }
    if (!arn) return cli_usage_error("stop", "no execution ARN given");
    cJSON *eo = NULL;
    if (error) {
        char *text = NULL;
        size_t len = 0;
        if (ec_read_arg("stop", "--error", error, DWF_LIMIT_ERROR_JSON, "DWF_LIMIT_ERROR_JSON",
                        "an error object", &text, &len) != 0)
            return EXIT_INPUT;
        eo = ec_parse_json_arg("stop", "--error", text, len);
        free(text);
        if (!eo || ec_check_error_object("stop", "--error", eo) != 0) {
            cJSON_Delete(eo);
            return EXIT_INPUT;
        }
    }
    dwf_service *s = NULL;
    cJSON *out = NULL;
    dwf_error err;
    int rc = EXIT_INPUT;
    if (ec_open_service("stop", store, &s) != 0) goto done;
    if (dwf_service_stop(s, arn, eo, &out, &err) != 0) {
        ec_service_error("stop", &err);
        goto done;
    }
    char t[40];
    ec_iso(ec_ts_ms(cJSON_GetObjectItemCaseSensitive(out, "StopTimestamp")), t);
    printf("stopped at %s\n", t);
    rc = EXIT_OK;
done:
    cJSON_Delete(out);
    cJSON_Delete(eo);
    dwf_service_close(s);
    return rc;
}
