/*
 * internal.h: what the files of libdwf share that is not public API (dwf__ prefix, libuv's habit).
 *
 * The replay core (context.c and friends) owns struct dwf_ctx and the invocation; the value
 * layer (value.c, builtin.c, http.c, log.c) only reaches the context through these functions,
 * so either side can change its insides freely.
 */
#ifndef DWF_INTERNAL_H
#define DWF_INTERNAL_H

#include "dwf.h"

/* ---- provided by the replay core ---------------------------------------------------------- */
/* Hand a cJSON the caller allocated to the invocation's value pool (thread-safe). Returns v. */
dwf_val *dwf__adopt(dwf_ctx *c, cJSON *v);
/* Record a pending error on the context (first one wins until taken). `type` is a named error
 * type, e.g. "TypeError", "HttpError"; message is copied. */
void dwf__set_error(dwf_ctx *c, const char *type, const char *message);
/* The clock of this invocation (the transport's; virtual under --skip-time). */
double dwf__now_ms(dwf_ctx *c);
/* Nonzero while the context is inside a step body (or poll check / submitter). */
int dwf__in_step(dwf_ctx *c);
/* The current attempt (1-based) inside a step body, else 0. */
int dwf__attempt(dwf_ctx *c);
/* Nonzero while replaying (logs are suppressed then). */
int dwf__replaying(dwf_ctx *c);
/* For log lines: execution ARN, hashed operation id and name of the running step (or NULL),
 * the request id, and the .dwf position set by dwf_at(). */
const char *dwf__execution_arn(dwf_ctx *c);
const char *dwf__operation_id(dwf_ctx *c);
const char *dwf__operation_name(dwf_ctx *c);
const char *dwf__request_id(dwf_ctx *c);
int dwf__line(dwf_ctx *c);
const char *dwf__source(dwf_ctx *c);
/* The execution input (parsed InputPayload of the EXECUTION op; {} when absent). */
dwf_val *dwf__input(dwf_ctx *c);
/* Inside a waitForCallback submitter: the callback id, else NULL. */
const char *dwf__callback_id(dwf_ctx *c);

/* ---- provided by the value layer ---------------------------------------------------------- */
/* Render a value as a string the way template interpolation does (strings raw, others JSON).
 * Returns malloc'd text; caller frees. */
char *dwf__to_text(const cJSON *v);

#endif
