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

/* The text of option `opt`'s value `v`, which may be "@file" (any file: a FIFO, a device) or "@-" (stdin):
 * the file's contents, else the text itself, as a malloc'd copy in *buf (its length in *len).
 * Never more than `limit` bytes (`limit_name`, e.g. "DWF_LIMIT_SYNC_PAYLOAD", and `what`, e.g.
 * "an execution input", say which limit): reading stops there, so memory stays bounded.
 * Returns 0, or -1 after printing why (a value over the limit is InvalidParameterValueException,
 * the service's error for the same thing). */
int ec_read_arg(const char *cmd, const char *opt, const char *v, size_t limit, const char *limit_name,
                const char *what, char **buf, size_t *len);

/* Parse JSON text[0..len) given as option `what`, saying where it breaks when it does. Stricter
 * than cJSON alone: a NUL byte, invalid UTF-8 and a number beyond a double's range (1e999999)
 * are errors naming their byte offset, not a silently shortened, replaced or null value. */
cJSON *ec_parse_json_arg(const char *cmd, const char *what, const char *text, size_t len);

/* Check an ErrorObject given as option `what` (callback fail --error, stop --error): an object
 * whose ErrorType, ErrorMessage and ErrorData are strings and StackTrace a list of strings,
 * when present (the API's types). Returns 0, or -1 after printing what is wrong. */
int ec_check_error_object(const char *cmd, const char *what, const cJSON *eo);

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
/* dwf_engine_opts.on_adopted: an execution now runs on another version of its workflow (stderr). */
void ec_progress_adopted(void *arg, const char *arn, const char *why);

#endif
