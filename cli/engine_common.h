/*
 * engine_common.h: what the embedded engine's commands (run, executions, history, callback,
 * stop, resume, worker) share. Each is a thin layer over the service core (service/service.h)
 * and the engine (service/engine.h): it parses and checks its arguments completely before the
 * store is opened, so bad input never changes the store, then makes one or a few service
 * calls and prints what they return. Errors name the service's error type
 * (ResourceNotFoundException, CallbackTimeoutException, StoreLockedException, ...) so scripts
 * can match them.
 */
#ifndef DWF_CLI_ENGINE_COMMON_H
#define DWF_CLI_ENGINE_COMMON_H

#include <stddef.h>
#include <stdio.h>

#include "engine.h"
#include "service.h"

/* --store PATH's default: $DWF_STORE, else .dwf/dwf.db. */
const char *ec_default_store(void);

/* Print "dwf CMD: <type>: <message>"; returns EXIT_INPUT. */
int ec_service_error(const char *cmd, const dwf_error *err);

/* Open the store at `store`. Returns 0, or EXIT_INPUT after printing the service's error. */
int ec_open_service(const char *cmd, const char *store, dwf_service **s);

/* The text of an argument that may be "@file": the file's contents, else the text itself, as
 * a malloc'd copy in *buf (its length in *len). Returns 0, or -1 after printing why. */
int ec_read_arg(const char *cmd, const char *v, char **buf, size_t *len);

/* Parse JSON text given as option `what`, saying where it breaks when it does. */
cJSON *ec_parse_json_arg(const char *cmd, const char *what, const char *text);

/* "2026-11-29T18:55:04.102Z" or epoch seconds -> ms since the epoch; -1 if neither. */
double ec_ts_ms(const cJSON *v);
/* ms since the epoch -> "2026-11-29T18:55:04Z". */
void ec_iso(double ms, char out[40]);
/* The string member `k` of `o`, or NULL. */
const char *ec_str(const cJSON *o, const char *k);
/* Print as JSON.stringify(v, null, 2) does (exact numbers). */
void ec_print_json(const cJSON *j);

/* Set by SIGINT / SIGTERM once ec_catch_signals ran; the engine polls it and stops between
 * invocations, so an interrupted command leaves the execution for `dwf resume`. */
extern volatile int ec_stop_flag;
void ec_catch_signals(void);

/* The step-by-step lines `dwf run`, `dwf resume` and `dwf worker` print as operations change
 * (dwf_engine_opts.on_operation / on_invocation, with the Progress as progress_arg). */
typedef struct Progress {
    int tty, enabled;
    cJSON *seen; /* "<arn>|<Id>" -> last status shown */
    FILE *out;
} Progress;

void ec_progress_op(void *arg, const char *arn, const cJSON *op);
void ec_progress_invocation(void *arg, const char *arn, const cJSON *resp, const dwf_error *fault);

#endif
