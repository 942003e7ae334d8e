/*
 * lambda_internal.h: the insides of the Lambda transport (lambda/lambda.c), exposed for
 * tests/unit/test_rt_lambda.c and nothing else in libdwf. dwf_lambda_main() in dwf.h is the
 * only public entry point.
 *
 * Two HTTP clients:
 *   - the durable API client (dwf__lambda_api, lambda.c): CheckpointDurableExecution and
 *     GetDurableExecutionState over HTTPS with libcurl (over plain http with runtime_http.c's
 *     client), SigV4-signed (sigv4.c), with retries;
 *   - the Runtime API loop (dwf__lambda_loop, lambda.c): plain HTTP to $AWS_LAMBDA_RUNTIME_API
 *     through runtime_http.c's client (dwf__rt_request).
 */
#ifndef DWF_LAMBDA_INTERNAL_H
#define DWF_LAMBDA_INTERNAL_H

#include <pthread.h>

#include "dwf_host.h"

/* A kept connection of runtime_http.c's client (the Runtime API's, and the durable API's on a
 * plain-http endpoint). hostport is what the Host header says. */
typedef struct dwf__rt_conn {
    char host[256], port[16], hostport[300];
    int fd; /* the kept connection, -1 when none */
    long rcvtimeo_ms; /* the SO_RCVTIMEO set on fd (0: none yet): runtime_http.c, fill */
} dwf__rt_conn;

/* A buffer kept between requests for their answers' bodies (lambda.c, resp_lend says why). */
typedef struct dwf__kept_buf {
    char *p;
    size_t cap;
} dwf__kept_buf;

typedef struct dwf__lambda_api {
    char *endpoint;       /* scheme://authority[/base], no trailing slash */
    char *host;           /* the Host header (and signed host): authority minus a default port */
    char *region;
    char *access_key, *secret_key, *session_token; /* session_token may be NULL */
    char *cainfo;         /* CA bundle for HTTPS, NULL = libcurl's built-in default */
    int max_attempts;     /* tries per call including the first (DWF_LAMBDA_MAX_ATTEMPTS, 5) */
    double backoff_ms;    /* first retry delay before jitter (DWF_LAMBDA_BACKOFF_MS, 200) */
    double backoff_max_ms; /* delay cap (5000) */
    long timeout_ms;      /* one HTTP attempt (30000) */
    double deadline_ms;   /* epoch ms of the invocation deadline; 0 = none. No retry sleeps
                             past it: the invocation fails in time and Lambda retries it. */
    int calls;            /* HTTP attempts made so far (tests read it) */
    void *curl;           /* https: one CURL easy handle, reused so the TLS connection stays open */
    int plain;            /* http and no proxy in the environment (dwf serve, a local emulator):
                             runtime_http.c's client on `conn`, no libcurl (lambda.c says why) */
    dwf__rt_conn conn;    /* plain: the kept connection; its Host is `host` */
    const char *base_path; /* plain: the endpoint's path (into `endpoint`), "" for none */
    int lock_ok;          /* `lock` was made */
    pthread_mutex_t lock; /* one call at a time: the handle and the connection are not shared */
    dwf__kept_buf resp_buf; /* the answers' bodies, under `lock` */
    dwf__kept_buf body_buf; /* the checkpoint requests' printed bodies, under `lock` */
    /* random bytes for ClientTokens, drawn from RAND_bytes a batch at a time (make_uuid);
     * under `lock`; wiped when the api is freed */
    unsigned char rnd[512];
    size_t rnd_left;
} dwf__lambda_api;

/* Fill *api from the environment: AWS_REGION (or AWS_DEFAULT_REGION), AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, the endpoint (AWS_ENDPOINT_URL_LAMBDA, then
 * AWS_ENDPOINT_URL, else https://lambda.<region>.amazonaws.com) and the CA bundle
 * (SSL_CERT_FILE, else the Amazon Linux or the Debian bundle if present). Returns 0, or -1 with
 * err filled (nothing to free then). */
int dwf__lambda_api_init(dwf__lambda_api *api, dwf_error *err);
void dwf__lambda_api_free(dwf__lambda_api *api);

/* A dwf_transport whose calls go to `api` (t->impl = api; api must outlive t). */
void dwf__lambda_transport(dwf__lambda_api *api, dwf_transport *t);

/* The transport functions themselves (dwf.h describes the contract). */
int dwf__lambda_checkpoint(dwf_transport *t, const char *arn, const cJSON *request,
                           cJSON **response, dwf_error *err, int *retryable);
int dwf__lambda_get_state(dwf_transport *t, const char *arn, const char *token, const char *marker,
                          cJSON **response, dwf_error *err);
double dwf__lambda_now_ms(dwf_transport *t);

/* Read the rest of the execution state into the invocation event: while
 * InitialExecutionState.NextMarker is non-empty, GetDurableExecutionState pages are appended to
 * InitialExecutionState.Operations; NextMarker ends empty. Returns 0, or -1 with err filled
 * (an invocation fault: the invocation should be retried). */
int dwf__lambda_fetch_all_state(dwf_transport *t, cJSON *event, dwf_error *err);

/* How a durable API error answer is treated. */
enum {
    DWF__LAMBDA_RETRY = 0, /* 429, 5xx: retry this call with backoff */
    DWF__LAMBDA_FAULT = 1, /* invalid checkpoint token: end the invocation, Lambda retries it */
    DWF__LAMBDA_FAIL = 2   /* any other 4xx, KMS*Exception: the execution fails */
};
/* Classify an HTTP error answer (status, the X-Amzn-ErrorType header or NULL, the body or
 * NULL) and fill err with its error type and message. */
int dwf__lambda_classify(long status, const char *error_type_header, const char *body,
                         dwf_error *err);

/* ---- the Runtime API's HTTP client (lambda/runtime_http.c) ---- */

/* Where an answer goes: each header line (no CR LF), then the body in pieces (0, or -1 out of
 * memory). */
typedef struct dwf__rt_sink {
    void (*header)(void *arg, const char *line, size_t n);
    int (*body)(void *arg, const char *data, size_t n);
    void *arg;
} dwf__rt_sink;

/* From "host:port" (no connection yet). 0, or -1 if it is not that. */
int dwf__rt_conn_init(dwf__rt_conn *c, const char *hostport);
void dwf__rt_conn_close(dwf__rt_conn *c);
/* One request on the kept connection (opened when there is none): `headers` NULL-terminated
 * lines without CR LF, `body` sent on anything but GET and HEAD with its Content-Length;
 * timeout_ms 0 waits for the answer for ever. 0 with *status set and the answer handed to the
 * sink, or -1 with err filled (the connection is closed then). */
int dwf__rt_request(dwf__rt_conn *c, const char *method, const char *path, const char *const *headers,
                    const char *body, long timeout_ms, long *status, const dwf__rt_sink *sink,
                    char *err, size_t en);

/* Set _X_AMZN_TRACE_ID to id (unset it when id is NULL or empty) without growing the heap per
 * value as setenv does (lambda.c says why). 0, or -1 as setenv/putenv/unsetenv. */
int dwf__lambda_set_trace_id(const char *id);

/* The function that runs one invocation: dwf_run_invocation, or a test's stand-in. */
typedef cJSON *(*dwf__lambda_runner)(const dwf_workflow *wf, const cJSON *event, dwf_transport *t,
                                     const dwf_invoke_opts *opts, dwf_error *err);

/* The Runtime API loop against `runtime_api` (host:port): fetch an event, complete its state,
 * run it, post the response or the error; `max_invocations` > 0 stops after that many (tests),
 * 0 = forever. Returns 1 when the Runtime API fails or init fails (after /runtime/init/error),
 * 0 after max_invocations. */
int dwf__lambda_loop(const dwf_workflow *wf, const char *runtime_api, dwf__lambda_runner run,
                     int max_invocations);

#endif
