/*
 * internal.h: what the files of libdwf share that is not public API (dwf__ prefix, libuv's habit).
 *
 * The replay core (context.c and friends) owns struct dwf_ctx and the invocation; the value
 * layer (value.c, builtin.c, http.c, log.c) only reaches the context through these functions,
 * so either side can change its insides freely.
 */
#ifndef DWF_INTERNAL_H
#define DWF_INTERNAL_H

#include "dwf_host.h"
#include "dwf_errors.def" /* enum dwf_errclass */

/* ---- provided by the replay core ---------------------------------------------------------- */
/* Hand a cJSON the caller allocated to the invocation's value pool (thread-safe). Returns v. */
dwf_val *dwf__adopt(dwf_ctx *c, cJSON *v);
/* Record a pending error on the context (first one wins until taken). `type` is a named error
 * type, e.g. "TypeError", "HttpError"; message is copied. */
void dwf__set_error(dwf_ctx *c, const char *type, const char *message);
/* The class (DWF_ERRC_*) of one of dwf's own error types (include/dwf_errors.def), -1 for a
 * user's type; whether a step retries it without `retry { on }` (users' types: 1). */
int dwf__error_class(const char *type);
int dwf__error_retried_by_default(const char *type);
/* Milliseconds left before the running attempt's timeout (0 when it has passed), or -1 when
 * the attempt has none (http and sleep_ms shorten their waits to it). */
long dwf__remaining_ms(dwf_ctx *c);
/* CLOCK_MONOTONIC in milliseconds. */
double dwf__mono_ms(void);
/* The same with a whole error object {"ErrorType","ErrorMessage","ErrorData"?,"Cause"?} (takes
 * ownership; first one wins). throw_if_error re-raises a batch item's error with it. */
void dwf__set_error_obj(dwf_ctx *c, cJSON *err);
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
/* aws.c's idempotency tokens: the next ordinal among this step attempt's token calls (1, 2, ..;
 * a retry or replay of the step counts from 1 again), and *round the poll check's number (0 in
 * a step). */
int dwf__next_token(dwf_ctx *c, int *round);
const char *dwf__operation_name(dwf_ctx *c);
const char *dwf__request_id(dwf_ctx *c);
int dwf__line(dwf_ctx *c);
const char *dwf__source(dwf_ctx *c);
/* The execution input (parsed InputPayload of the EXECUTION op; {} when absent). */
dwf_val *dwf__input(dwf_ctx *c);
/* Where dwf_item last was in an array, so a `for` over n items walks the cJSON list once
 * (O(n)) instead of from its head for every item (O(n^2)). Per context, so per thread; a loop's
 * array outlives the loop, and dwf_pool_collect forgets the cursor when it frees its array. */
typedef struct dwf__cursor {
    const cJSON *array;
    int index;
    cJSON *node;
} dwf__cursor;
dwf__cursor *dwf__item_cursor(dwf_ctx *c);

/* The invocation's environment variable `name`, or NULL: from the environment the host gave
 * (dwf_invoke_opts.environment: the engine's record of the function), else, when it gave none
 * (Lambda), from the process environment. */
const char *dwf__getenv(dwf_ctx *c, const char *name);

/* secrets.c: `line` (malloc'd) with every secret()/parameter() value read so far replaced by
 * "***"; returns the line to use (maybe another allocation; the old one is freed). */
char *dwf__redact(char *line);
/* secrets.c: the answer of an aws call; a GetSecretValue's SecretString or a GetParameter's
 * Parameter.Value (and each string member of it when it is a JSON object) joins the values
 * log lines are redacted against, whether secret() / parameter() or a direct call read it. */
void dwf__secret_answer(const char *service, const char *action, const cJSON *response);

/* Nonzero if the host asked for no step log lines (dwf_invoke_opts.quiet: `dwf run --quiet`). */
int dwf__quiet(dwf_ctx *c);
/* Ask the host's mock hook (dwf_invoke_opts.mock, dwf test) about a call: DWF_MOCK_PASS when
 * there is none or it does not answer, else RETURN / FAIL with *ans filled. */
int dwf__mock(dwf_ctx *c, const dwf_mock_call *call, dwf_mock_answer *ans);

/* ---- provided by the value layer ---------------------------------------------------------- */
/* Render a value as a string the way template interpolation does (strings raw, others JSON).
 * Returns malloc'd text; caller frees. */
char *dwf__to_text(const cJSON *v);
/* JSON.stringify's text of a value: numbers as JavaScript prints them (4980, 0.1, 1e+21,
 * 0.7999999999999999), strings escaped as JavaScript does, NUL bytes as \u0000. Use it for
 * every payload and result: cJSON_PrintUnformatted is lossy (it prints 0.7999999999999999 as
 * 0.8) and prints 1e20 and 1e-7 unlike JavaScript. Returns malloc'd text (caller frees) or
 * NULL when out of memory; a NULL value prints as null. */
char *dwf__to_json(const cJSON *v);
/* JSON.stringify(v, null, indent) (indent 0..10 spaces; 0 = dwf__to_json): for showing a value
 * to a person without cJSON_Print's rounding. malloc'd; caller frees. */
char *dwf__to_json_indent(const cJSON *v, int indent);
/* JSON.parse: strict JSON text of `len` bytes (need not be NUL-terminated); duplicate keys:
 * the last wins; "\u0000" survives (see value.c on strings). Returns a new cJSON (caller frees)
 * or NULL with a reason in err (if err is not NULL). */
cJSON *dwf__parse_json(const char *text, size_t len, char err[128]);

/* ---- value layer helpers shared by value.c, builtin.c, http.c, log.c ---------------------- */
/* Number as JavaScript's String(n) writes it; non-finite as "null". */
void dwf__num_text(double d, char buf[32]);
/* Adopt v into the pool; NULL (allocation failed) records OutOfMemory and yields a null. */
dwf_val *dwf__own(dwf_ctx *c, cJSON *v);
/* Append item to array a, both taken: a, or NULL (both deleted) when a is NULL or out of
 * memory, so a loop building an array goes on with `a && ...` and ends in dwf__own(c, a). */
cJSON *dwf__push(cJSON *a, cJSON *item);
/* obj[key] = a string member, key a literal (not copied); value copied, or referenced when
 * `ref` (a string that outlives obj: the protocol's static names, dwf_protocol.h). 0, or -1
 * when value is NULL or out of memory. The SDK's updates are built with it (two per step). */
int dwf__add_str(cJSON *obj, const char *key, const char *value, int ref);
/* A new cJSON string from raw bytes (NULs and invalid UTF-8 allowed), in the value layer's
 * string encoding (value.c). Not for a value's valuestring, which is encoded already. */
cJSON *dwf__new_string(const char *s, size_t n);
/* The bytes a string value stands for (NUL bytes restored); malloc'd, *n = length. */
char *dwf__string_bytes(const char *s, size_t *n);
/* The implementation of each row of dwf_builtins.def (sdk/builtin.c, builtin_list.c,
 * builtin_text.c), called by dwf_builtin_<name> once the row's argument count and place hold. */
#define DWF_BUILTIN(name, min_args, max_args, where, params, summary)                          \
    dwf_val *dwf__b_##name(dwf_ctx *c, int argc, dwf_val *const *argv);
#include "dwf_builtins.def"
/* ---- what every builtin shares (builtin.c) ----------------------------------------------- */
/* A bad argument: records TypeError "fn(): argument i+1 must be <want>, not <type of got>" and
 * yields null, as every builtin does on a bad argument. */
dwf_val *dwf__builtin_arg_error(dwf_ctx *c, const char *fn, int i, const char *want,
                                const cJSON *got);
/* Is v a string (with its text) / a number? NULL (a C caller's) is neither. */
static inline int dwf__is_str(const cJSON *v) { return v && cJSON_IsString(v) && v->valuestring; }
static inline int dwf__is_num(const cJSON *v) { return v && cJSON_IsNumber(v); }
/* A pool-owned string from malloc'd text already in the string encoding (t is taken; NULL, an
 * allocation that failed, records OutOfMemory). _n: from n bytes of s (copied). */
dwf_val *dwf__own_text(dwf_ctx *c, char *t);
dwf_val *dwf__own_text_n(dwf_ctx *c, const char *s, size_t n);
/* Bytes of the code point at s (C0 80, the encoding's NUL, is one), and code points in s. */
size_t dwf__cp_bytes(const char *s);
long dwf__count_cps(const char *s);
/* Whether v is a lambda made by dwf_lambda (builtin_list.c). */
int dwf__is_lambda(const cJSON *v);
/* x rounded to d (0..15) decimals as written (round(x, d), builtin.c). */
double dwf__round_decimals(double x, int d);
/* "null", "boolean", "number", "string", "array", "object" (or "lambda"). */
const char *dwf__type_name(const cJSON *v);
/* Deep equality of two JSON values (numbers by ==, objects ignore key order). */
int dwf__equal(const cJSON *a, const cJSON *b);
/* Growable text buffer; oom is set (and the text dropped) if an allocation fails. */
typedef struct dwf__buf {
    char *p;
    size_t len, cap;
    int oom;
} dwf__buf;
void dwf__buf_add(dwf__buf *b, const char *s, size_t n);
void dwf__buf_str(dwf__buf *b, const char *s);

/* ---- http.c's transport, for aws.c ------------------------------------------------------ */
typedef struct dwf__http_reply {
    long status;
    cJSON *headers; /* lowercase name -> value (repeats joined with ", ") */
    char *body;     /* the bytes (NUL-terminated), NULL when empty */
    size_t body_len;
} dwf__http_reply;
/* One request with the given header lines ("Name: value") and body (NULL = none), any status
 * accepted. 0 with *out filled (free with dwf__http_reply_free), or -1 with the error recorded
 * as `http` records it (Timeout, HttpNetworkError, HttpError, OutOfMemory). */
int dwf__http_send(dwf_ctx *c, const char *method, const char *url, const char *const *lines,
                   int nlines, const char *body, size_t body_len, double timeout_s,
                   dwf__http_reply *out);
void dwf__http_reply_free(dwf__http_reply *r);
/* Is err an AWS error the SDKs would not retry (aws.c: its ErrorData says so)? A step without
 * `retry { on }` gives up on it at once. */
int dwf__aws_not_retryable(const cJSON *err);

#endif
