/*
 * lambda.c: libdwf on AWS Lambda: the custom-runtime loop and the HTTPS durable transport.
 *
 * A compiled workflow deployed as a provided.al2023 function is a `bootstrap` whose main is
 * dwf_lambda_main(). It speaks two HTTP APIs:
 *   - the Lambda Runtime API (plain HTTP to $AWS_LAMBDA_RUNTIME_API): GET the next event,
 *     POST the handler response, or POST an error when the invocation must be retried;
 *   - the durable execution API (HTTPS to lambda.<region>.amazonaws.com, SigV4): the replay
 *     core calls CheckpointDurableExecution and GetDurableExecutionState through the
 *     dwf_transport built here.
 * The replay core (dwf_run_invocation) is someone else's: this file only feeds it events and
 * carries its calls. It is shaped by how the official durable SDKs treat failures
 * (docs/protocol.md, "Checkpoints"): 429, 5xx and network errors are retried here with
 * jittered exponential backoff and, if they persist, end the invocation as a fault (Lambda
 * retries it); a stale checkpoint token ends the invocation at once (retrying the same token
 * cannot help); any other 4xx and KMS errors are final and the execution fails. Retries of
 * one call reuse its ClientToken so the service can deduplicate a checkpoint that did land.
 *
 * libcurl is used only as the durable API's HTTPS client (the Runtime API has a small one of its
 * own, runtime_http.c: see there why; a plain-http durable endpoint, dwf serve's, uses it too:
 * plain_endpoint says why). Requests are signed by sigv4.c (why not by
 * libcurl: see there), so this file sets Host, X-Amz-Date, X-Amz-Content-Sha256,
 * X-Amz-Security-Token and Authorization itself, and sends the exact query it signed.
 */
#include "lambda_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <nss.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "memcache.h"
#include "sigv4.h"

#define API_VERSION_PATH "/2025-12-01"
#define RUNTIME_API_VERSION "/2018-06-01"
#define STATE_PAGE_SIZE "1000"

static void set_err(dwf_error *err, const char *type, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void set_err(dwf_error *err, const char *type, const char *fmt, ...) {
    if (!err) return;
    snprintf(err->type, sizeof err->type, "%s", type);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
}

static double wall_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms) {
    if (ms <= 0) return;
    struct timespec ts = {(time_t)(ms / 1000.0), (long)((ms - (double)(time_t)(ms / 1000.0) * 1000.0) * 1e6)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
    }
}

/* ---- a response buffer and the headers we care about ------------------------------------- */
typedef struct http_resp {
    long status;
    char *body;
    size_t len, cap;
    int oom;
    char error_type[128];   /* X-Amzn-ErrorType */
    char retry_after[32];   /* Retry-After */
    char request_id[256];   /* Lambda-Runtime-Aws-Request-Id */
    char deadline[32];      /* Lambda-Runtime-Deadline-Ms */
    char trace_id[512];     /* Lambda-Runtime-Trace-Id */
} http_resp;

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg) {
    http_resp *r = arg;
    size_t n = size * nmemb;
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        while (cap < r->len + n + 1) cap *= 2;
        char *p = realloc(r->body, cap);
        if (!p) {
            r->oom = 1;
            return 0; /* makes curl fail with CURLE_WRITE_ERROR */
        }
        r->body = p;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

/* Copy a header's value if `line`, whose name is `nl` bytes long, is that header
 * (case-insensitive name). 1 if it was. */
#define GRAB(line, n, nl, name, dst) grab_header(line, n, nl, name, sizeof name - 1, dst, sizeof dst)
static int grab_header(const char *line, size_t n, size_t nl, const char *name, size_t namel, char *dst,
                       size_t dstsz) {
    if (nl != namel || strncasecmp(line, name, nl) != 0) return 0;
    const char *v = line + nl + 1;
    size_t vl = n - nl - 1;
    while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
    if (vl >= dstsz) vl = dstsz - 1;
    memcpy(dst, v, vl);
    dst[vl] = '\0';
    return 1;
}

/* The name's length is found once per line, so a line that is none of these (most of an
 * answer's) costs no string comparison: five strlen + strncasecmp per line were ~8,000
 * instructions an execution in bench/throughput.sh's Event row. */
static size_t on_header(char *data, size_t size, size_t nmemb, void *arg) {
    http_resp *r = arg;
    size_t n = size * nmemb;
    const char *colon = memchr(data, ':', n);
    if (!colon) return n;
    size_t nl = (size_t)(colon - data);
    (void)(GRAB(data, n, nl, "X-Amzn-ErrorType", r->error_type) ||
           GRAB(data, n, nl, "Retry-After", r->retry_after) ||
           GRAB(data, n, nl, "Lambda-Runtime-Aws-Request-Id", r->request_id) ||
           GRAB(data, n, nl, "Lambda-Runtime-Deadline-Ms", r->deadline) ||
           GRAB(data, n, nl, "Lambda-Runtime-Trace-Id", r->trace_id));
    return n;
}

/* The same, as runtime_http.c's client hands them over (lines without CR LF). */
static void rt_on_header(void *arg, const char *line, size_t n) { (void)on_header((char *)line, 1, n, arg); }

static int rt_on_body(void *arg, const char *data, size_t n) {
    return on_body((char *)data, 1, n, arg) == n ? 0 : -1;
}

static void resp_reset(http_resp *r) {
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Response bodies grow into a buffer their owner keeps between requests (the Runtime API's
 * /next, the durable API's calls), not one malloc'd per request: each was a 4 KiB malloc, which
 * glibc serves by first consolidating its fast bins (malloc_consolidate), and a free; ~3.5 of
 * them per execution in bench/throughput.sh's Event row. A buffer that grew past KEEP_MAX for a
 * large answer (a state page) is freed rather than kept. */
#define KEEP_MAX (256 * 1024)

/* Start `r` on the kept buffer (taken out of `k` meanwhile). */
static void resp_lend(http_resp *r, dwf__kept_buf *k) {
    memset(r, 0, sizeof *r);
    r->body = k->p;
    r->cap = k->cap;
    if (r->body) r->body[0] = '\0';
    k->p = NULL;
    k->cap = 0;
}

/* Forget the answer but keep its buffer, for the next attempt. */
static void resp_clear(http_resp *r) {
    char *b = r->body;
    size_t cap = r->cap;
    memset(r, 0, sizeof *r);
    r->body = b;
    r->cap = cap;
    if (b) b[0] = '\0';
}

/* Done with `r`: its buffer goes back to `k` (or is freed if too large). */
static void resp_return(http_resp *r, dwf__kept_buf *k) {
    if (r->cap <= KEEP_MAX && !k->p) {
        k->p = r->body;
        k->cap = r->cap;
        r->body = NULL;
    }
    resp_reset(r);
}

/* ---- configuration ------------------------------------------------------------------------ */
static char *dup_env(const char *name) {
    const char *v = getenv(name);
    return v && v[0] ? strdup(v) : NULL;
}

static int env_int(const char *name, int dflt, int lo, int hi) {
    const char *v = getenv(name);
    if (!v || !v[0]) return dflt;
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < lo || n > hi) return dflt;
    return (int)n;
}

/* The directory of the running program into dir ("" when unknown): /proc/self/exe, else
 * argv[0] when it has a '/' (a bare root may have no /proc), else $LAMBDA_TASK_ROOT. */
static void program_dir(char *dir, size_t n) {
    ssize_t l = readlink("/proc/self/exe", dir, n - 1);
    if (l > 0) {
        dir[l] = '\0';
    } else if (strchr(program_invocation_name, '/')) {
        snprintf(dir, n, "%s", program_invocation_name);
    } else {
        const char *root = getenv("LAMBDA_TASK_ROOT");
        snprintf(dir, n, "%s/", root && root[0] ? root : "");
    }
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else dir[0] = '\0';
}

/* The CA roots file for HTTPS into *out (malloc'd; NULL: none found, curl's default): the
 * first of $SSL_CERT_FILE (an empty one counts as unset), the host's bundle (provided.al2023
 * keeps it where RHEL does; a program built on Debian would look in Debian's place, so name
 * the file ourselves), and the copy `dwf build` ships beside the program, etc/ca-bundle.crt
 * (a host without roots). 0, or -1 out of memory. */
static int find_cainfo(char **out) {
    *out = NULL;
    const char *ca = getenv("SSL_CERT_FILE");
    if (ca && ca[0]) return (*out = strdup(ca)) ? 0 : -1;
    static const char *const bundles[] = {"/etc/pki/tls/certs/ca-bundle.crt",
                                          "/etc/ssl/certs/ca-certificates.crt"};
    for (size_t i = 0; i < sizeof bundles / sizeof *bundles; i++)
        if (access(bundles[i], R_OK) == 0) return (*out = strdup(bundles[i])) ? 0 : -1;
    char dir[4096], path[4096 + 32];
    program_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/etc/ca-bundle.crt", dir);
    if (dir[0] && access(path, R_OK) == 0) return (*out = strdup(path)) ? 0 : -1;
    return 0;
}

/* Split an endpoint URL into the base to prefix paths with and the Host header to sign. */
static int parse_endpoint(const char *url, char **endpoint, char **host, dwf_error *err) {
    const char *sep = strstr(url, "://");
    if (!sep || sep == url) {
        set_err(err, "Runtime.ConfigInvalid", "endpoint URL '%s' has no scheme", url);
        return -1;
    }
    int https = (size_t)(sep - url) == 5 && strncasecmp(url, "https", 5) == 0;
    int http = (size_t)(sep - url) == 4 && strncasecmp(url, "http", 4) == 0;
    if (!https && !http) {
        set_err(err, "Runtime.ConfigInvalid", "endpoint URL '%s' is not http or https", url);
        return -1;
    }
    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    if (alen == 0) {
        set_err(err, "Runtime.ConfigInvalid", "endpoint URL '%s' has no host", url);
        return -1;
    }
    /* The AWS SDKs leave a default port out of the Host header they sign; so do we. */
    size_t hlen = alen;
    const char *dflt = https ? ":443" : ":80";
    size_t dl = strlen(dflt);
    if (hlen > dl && strncmp(auth + hlen - dl, dflt, dl) == 0) hlen -= dl;
    /* Keep a base path (rare, but the SDKs allow it) without its trailing slashes. */
    size_t plen = strcspn(auth + alen, "?#");
    while (plen && auth[alen + plen - 1] == '/') plen--;
    *host = strndup(auth, hlen);
    *endpoint = strndup(url, (size_t)(auth - url) + alen + plen);
    if (!*host || !*endpoint) {
        free(*host);
        free(*endpoint);
        *host = *endpoint = NULL;
        set_err(err, "Runtime.OutOfMemory", "out of memory");
        return -1;
    }
    return 0;
}

/* Whether the durable API can be spoken by runtime_http.c's client, and if so set it up:
 * an http:// endpoint (dwf serve, a local emulator; AWS's own is https, which stays with
 * libcurl) whose authority is host[:port] (no IPv6 literal), with no proxy in the environment
 * that libcurl would have used for it (http_proxy, all_proxy, ALL_PROXY). Why: through libcurl
 * a checkpoint call cost ~200,000 instructions (the URL parsed and printed again, every
 * header formatted byte by byte into its buffers, five polls around the request); here it is
 * one sendmsg and a recv or two, as for the Runtime API. */
static int plain_endpoint(dwf__lambda_api *api) {
    static const char *const proxies[] = {"http_proxy", "all_proxy", "ALL_PROXY"};
    if (strncasecmp(api->endpoint, "http://", 7) != 0) return 0;
    for (size_t i = 0; i < sizeof proxies / sizeof *proxies; i++) {
        const char *p = getenv(proxies[i]);
        if (p && p[0]) return 0;
    }
    const char *auth = api->endpoint + 7;
    size_t alen = strcspn(auth, "/");
    char hostport[300];
    if (auth[0] == '[' || alen == 0 || alen + sizeof ":80" > sizeof hostport) return 0;
    /* the connection needs a port; the Host header is the signed one (no default port) */
    snprintf(hostport, sizeof hostport, "%.*s%s", (int)alen, auth, memchr(auth, ':', alen) ? "" : ":80");
    if (dwf__rt_conn_init(&api->conn, hostport) != 0 || strlen(api->host) >= sizeof api->conn.hostport)
        return 0;
    strcpy(api->conn.hostport, api->host);
    api->base_path = auth + alen;
    api->plain = 1;
    return 1;
}

void dwf__lambda_api_free(dwf__lambda_api *api) {
    if (!api) return;
    if (api->curl) curl_easy_cleanup(api->curl);
    if (api->plain) dwf__rt_conn_close(&api->conn);
    if (api->lock_ok) pthread_mutex_destroy(&api->lock);
    free(api->resp_buf.p);
    free(api->body_buf.p);
    OPENSSL_cleanse(api->rnd, sizeof api->rnd);
    free(api->endpoint);
    free(api->host);
    free(api->region);
    free(api->access_key);
    if (api->secret_key) memset(api->secret_key, 0, strlen(api->secret_key));
    free(api->secret_key);
    free(api->session_token);
    free(api->cainfo);
    memset(api, 0, sizeof *api);
}

int dwf__lambda_api_init(dwf__lambda_api *api, dwf_error *err) {
    memset(api, 0, sizeof *api);
    api->max_attempts = env_int("DWF_LAMBDA_MAX_ATTEMPTS", 5, 1, 100);
    api->backoff_ms = env_int("DWF_LAMBDA_BACKOFF_MS", 200, 0, 60000);
    api->backoff_max_ms = api->backoff_ms > 5000 ? api->backoff_ms : 5000;
    api->timeout_ms = 30000;

    api->region = dup_env("AWS_REGION");
    if (!api->region) api->region = dup_env("AWS_DEFAULT_REGION");
    api->access_key = dup_env("AWS_ACCESS_KEY_ID");
    api->secret_key = dup_env("AWS_SECRET_ACCESS_KEY");
    api->session_token = dup_env("AWS_SESSION_TOKEN");
    if (!api->region) {
        set_err(err, "Runtime.ConfigInvalid", "AWS_REGION is not set");
        goto fail;
    }
    if (!api->access_key || !api->secret_key) {
        set_err(err, "Runtime.ConfigInvalid",
                "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set");
        goto fail;
    }

    const char *url = getenv("AWS_ENDPOINT_URL_LAMBDA");
    if (!url || !url[0]) url = getenv("AWS_ENDPOINT_URL");
    char dflt[256];
    if (!url || !url[0]) {
        snprintf(dflt, sizeof dflt, "https://lambda.%s.amazonaws.com", api->region);
        url = dflt;
    }
    if (parse_endpoint(url, &api->endpoint, &api->host, err) < 0) goto fail;

    if (pthread_mutex_init(&api->lock, NULL) != 0) {
        set_err(err, "Runtime.InitError", "pthread_mutex_init failed");
        goto fail;
    }
    api->lock_ok = 1;
    if (plain_endpoint(api)) return 0;

    if (find_cainfo(&api->cainfo) != 0) goto oom;
    api->curl = curl_easy_init();
    if (!api->curl) {
        set_err(err, "Runtime.InitError", "curl_easy_init failed");
        goto fail;
    }
    return 0;
oom:
    set_err(err, "Runtime.OutOfMemory", "out of memory");
fail:
    dwf__lambda_api_free(api);
    return -1;
}

/* ---- error classification ----------------------------------------------------------------- */
int dwf__lambda_classify(long status, const char *error_type_header, const char *body,
                         dwf_error *err) {
    char type[128] = "";
    char message[512] = "";
    cJSON *json = body && body[0] ? cJSON_Parse(body) : NULL;
    if (error_type_header && error_type_header[0]) {
        /* "Name:http://internal.amazon.com/coral/..." carries extra text after a colon. */
        snprintf(type, sizeof type, "%.*s", (int)strcspn(error_type_header, ":"), error_type_header);
    } else if (json) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(json, "__type");
        if (cJSON_IsString(t)) {
            const char *h = strrchr(t->valuestring, '#'); /* "aws.lambda#Name" */
            const char *name = h ? h + 1 : t->valuestring;
            snprintf(type, sizeof type, "%.*s", (int)strcspn(name, ":"), name);
        }
    }
    if (!type[0]) {
        if (status == 429) snprintf(type, sizeof type, "TooManyRequestsException");
        else if (status >= 500) snprintf(type, sizeof type, "ServiceException");
        else snprintf(type, sizeof type, "HttpError%ld", status);
    }
    if (json) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(json, "message");
        if (!cJSON_IsString(m)) m = cJSON_GetObjectItemCaseSensitive(json, "Message");
        if (cJSON_IsString(m)) snprintf(message, sizeof message, "%s", m->valuestring);
    } else if (body && body[0]) {
        snprintf(message, sizeof message, "%.200s", body);
    }
    cJSON_Delete(json);
    if (!message[0]) snprintf(message, sizeof message, "HTTP %ld", status);
    set_err(err, type, "%s", message);

    if (strncmp(type, "KMS", 3) == 0) return DWF__LAMBDA_FAIL;
    if (status == 429 || status >= 500) return DWF__LAMBDA_RETRY;
    /* The JS SDK matches this prefix exactly; later SDK fixes (js#917, java#705, rust#66) match
     * it without regard to case, as we do. */
    if (status == 400 && strcmp(type, "InvalidParameterValueException") == 0 &&
        strncasecmp(message, "Invalid Checkpoint Token", 24) == 0)
        return DWF__LAMBDA_FAULT;
    return DWF__LAMBDA_FAIL;
}

/* ---- one signed durable API call, with retries --------------------------------------------- */
typedef struct api_call {
    const char *method;
    const char *path;                /* wire path (labels encoded) under the endpoint */
    const dwf__sigv4_param *query;
    int nquery;
    const char *content_type;        /* NULL = none */
    const char *body;                /* NULL = empty */
} api_call;

/* An attempt may not outlive the invocation: past the deadline Lambda kills the process in
 * the middle of the call, while an attempt cut short still leaves time to post the error. */
static long attempt_timeout_ms(const dwf__lambda_api *api) {
    long t = api->timeout_ms;
    if (api->deadline_ms > 0) {
        double left = api->deadline_ms - wall_ms() - 500.0;
        if (left < 1000.0) left = 1000.0;
        if (left < (double)t) t = (long)left;
    }
    return t;
}

/* Append one header line to `hb` (NUL-terminated, kept in the buffer) and list it in `lines`.
 * 0, or -1 when the buffer is full. */
typedef struct head_lines {
    char buf[8192];
    size_t used;
    const char *lines[12];
    int n;
} head_lines;

static int add_line(head_lines *h, const char *name, const char *value) {
    /* copied, not snprintf'd: ~1,000 instructions a line less */
    size_t left = sizeof h->buf - h->used, nl = strlen(name), vl = strlen(value);
    if (nl + 2 + vl >= left || h->n >= (int)(sizeof h->lines / sizeof *h->lines) - 1) return -1;
    char *p = h->buf + h->used;
    memcpy(p, name, nl);
    memcpy(p + nl, ": ", 2);
    memcpy(p + nl + 2, value, vl + 1);
    h->lines[h->n++] = p;
    h->lines[h->n] = NULL;
    h->used += nl + 2 + vl + 1;
    return 0;
}

/* One attempt on the plain-http connection (api->plain): the headers libcurl would send (User-
 * Agent and Content-Length come from runtime_http.c), on the kept connection. Returns as
 * api_attempt does. */
static int plain_attempt(dwf__lambda_api *api, const api_call *c, const dwf__sigv4_result *sig,
                         http_resp *r, dwf_error *err) {
    head_lines h;
    h.used = 0;
    h.n = 0;
    h.lines[0] = NULL;
    int ok = add_line(&h, "X-Amz-Date", sig->amz_date) == 0 &&
             add_line(&h, "X-Amz-Content-Sha256", sig->payload_hash) == 0 &&
             (!api->session_token || add_line(&h, "X-Amz-Security-Token", api->session_token) == 0) &&
             add_line(&h, "Authorization", sig->authorization) == 0 &&
             (!c->content_type || add_line(&h, "Content-Type", c->content_type) == 0) &&
             add_line(&h, "Accept", "application/json") == 0;
    size_t tl = strlen(api->base_path) + strlen(c->path) + strlen(sig->query) + 2;
    char *target = ok ? malloc(tl) : NULL;
    if (!target) {
        set_err(err, "Runtime.OutOfMemory", "%s", ok ? "out of memory building a request"
                                                      : "the request's headers are too long");
        r->oom = 1; /* not worth retrying */
        return -1;
    }
    snprintf(target, tl, "%s%s%s%s", api->base_path, c->path, sig->query[0] ? "?" : "", sig->query);
    dwf__rt_sink sink = {rt_on_header, rt_on_body, r};
    int post = strcmp(c->method, "POST") == 0;
    char why[256];
    api->calls++;
    int rc = dwf__rt_request(&api->conn, c->method, target, h.lines, post ? (c->body ? c->body : "") : NULL,
                             attempt_timeout_ms(api), &r->status, &sink, why, sizeof why);
    free(target);
    if (rc != 0) {
        set_err(err, r->oom ? "Runtime.OutOfMemory" : "NetworkError", "%s %s: %s", c->method, c->path, why);
        return -1;
    }
    return 0;
}

/* One attempt. Returns 0 when an HTTP answer arrived (any status), -1 on a network error. */
static int api_attempt(dwf__lambda_api *api, const api_call *c, http_resp *r, dwf_error *err) {
    CURL *h = api->curl;
    dwf__sigv4_creds creds = {api->access_key, api->secret_key, api->session_token, api->region,
                              "lambda"};
    size_t blen = c->body ? strlen(c->body) : 0;
    dwf__sigv4_request req = {c->method, api->host, c->path, c->query, c->nquery,
                              c->content_type, c->body, blen, time(NULL), NULL, 0, 0};
    dwf__sigv4_result sig;
    if (dwf__sigv4_sign(&creds, &req, &sig) < 0) {
        set_err(err, "Runtime.SigningError", "could not sign the request (out of memory?)");
        return -1;
    }
    if (api->plain) {
        int rc = plain_attempt(api, c, &sig, r, err);
        dwf__sigv4_result_free(&sig);
        return rc;
    }
    size_t base = strlen(api->endpoint);
    char *url = malloc(base + strlen(c->path) + strlen(sig.query) + 2);
    struct curl_slist *hdrs = NULL, *tmp;
    char line[4096];
    int ok = url != NULL;
    if (ok) sprintf(url, "%s%s%s%s", api->endpoint, c->path, sig.query[0] ? "?" : "", sig.query);
#define ADD_HEADER(...)                                                                        \
    do {                                                                                       \
        snprintf(line, sizeof line, __VA_ARGS__);                                              \
        if (ok && (tmp = curl_slist_append(hdrs, line)) != NULL) hdrs = tmp;                   \
        else ok = 0;                                                                           \
    } while (0)
    ADD_HEADER("Host: %s", api->host);
    ADD_HEADER("X-Amz-Date: %s", sig.amz_date);
    ADD_HEADER("X-Amz-Content-Sha256: %s", sig.payload_hash);
    if (api->session_token) ADD_HEADER("X-Amz-Security-Token: %s", api->session_token);
    ADD_HEADER("Authorization: %s", sig.authorization);
    if (c->content_type) ADD_HEADER("Content-Type: %s", c->content_type);
    ADD_HEADER("Accept: application/json");
    ADD_HEADER("Expect:"); /* no 100-continue round trip on large checkpoints */
#undef ADD_HEADER
    if (!ok) {
        free(url);
        curl_slist_free_all(hdrs);
        dwf__sigv4_result_free(&sig);
        set_err(err, "Runtime.OutOfMemory", "out of memory building a request");
        return -1;
    }

    curl_easy_reset(h);
    CURLcode cc = CURLE_OK;
#define SETOPT(o, v)                                                                           \
    do {                                                                                       \
        if (cc == CURLE_OK) cc = curl_easy_setopt(h, o, v);                                    \
    } while (0)
    SETOPT(CURLOPT_URL, url);
    SETOPT(CURLOPT_HTTPHEADER, hdrs);
    SETOPT(CURLOPT_USERAGENT, "dwf/" DWF_VERSION);
    /* HTTP/1.1 as the AWS SDKs speak it: the signed Host header goes out exactly as signed
     * (libcurl would otherwise negotiate HTTP/2 and rewrite it as :authority). */
    SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_TIMEOUT_MS, attempt_timeout_ms(api));
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, r);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, r);
    if (api->cainfo) SETOPT(CURLOPT_CAINFO, api->cainfo);
    if (strcmp(c->method, "POST") == 0) {
        SETOPT(CURLOPT_POST, 1L);
        SETOPT(CURLOPT_POSTFIELDSIZE, (long)blen);
        SETOPT(CURLOPT_POSTFIELDS, c->body ? c->body : "");
    } else {
        SETOPT(CURLOPT_HTTPGET, 1L);
    }
#undef SETOPT
    if (cc == CURLE_OK) {
        api->calls++;
        cc = curl_easy_perform(h);
    }
    if (cc == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
    free(url);
    curl_slist_free_all(hdrs);
    dwf__sigv4_result_free(&sig);
    if (cc != CURLE_OK) {
        set_err(err, r->oom ? "Runtime.OutOfMemory" : "NetworkError", "%s %s: %s", c->method,
                c->path, curl_easy_strerror(cc));
        return -1;
    }
    return 0;
}

/* Full-jitter exponential backoff for retry number n (1-based), at least Retry-After. */
static double backoff_delay(const dwf__lambda_api *api, int n, const char *retry_after) {
    double cap = api->backoff_ms;
    for (int i = 1; i < n && cap < api->backoff_max_ms; i++) cap *= 2;
    if (cap > api->backoff_max_ms) cap = api->backoff_max_ms;
    unsigned int rnd = 0;
    if (RAND_bytes((unsigned char *)&rnd, sizeof rnd) != 1) rnd = (unsigned int)rand();
    double d = cap * ((double)rnd / 4294967296.0);
    if (retry_after && retry_after[0]) {
        double ra = strtod(retry_after, NULL) * 1000.0;
        if (ra > d) d = ra < api->backoff_max_ms ? ra : api->backoff_max_ms;
    }
    return d;
}

/* Make the call until it answers 2xx or the error is final. Returns 0 with *out = the parsed
 * JSON body (caller frees), or -1 with err filled and *kind = DWF__LAMBDA_*. */
static int api_call_locked(dwf__lambda_api *api, const api_call *c, cJSON **out, dwf_error *err,
                           int *kind) {
    *out = NULL;
    http_resp r;
    int rc = -1;
    dwf__kept_buf *kept = &api->resp_buf;
    resp_lend(&r, kept);
    for (int attempt = 1;; attempt++) {
        resp_clear(&r);
        *kind = DWF__LAMBDA_RETRY;
        if (api_attempt(api, c, &r, err) == 0) {
            if (r.status >= 200 && r.status < 300) {
                *out = cJSON_Parse(r.body && r.len ? r.body : "{}");
                if (*out) {
                    rc = 0;
                    break;
                }
                /* A garbled 2xx is a transient service fault as far as we can tell. */
                set_err(err, "ServiceException", "%s %s: answer is not JSON", c->method, c->path);
            } else {
                *kind = dwf__lambda_classify(r.status, r.error_type, r.len ? r.body : NULL, err);
                if (*kind != DWF__LAMBDA_RETRY) break;
            }
        } else if (r.oom) {
            break;
        }
        if (attempt >= api->max_attempts) break;
        double delay = backoff_delay(api, attempt, r.retry_after);
        /* Keep a second for posting the error: a late answer is worse than a retried one. */
        if (api->deadline_ms > 0 && wall_ms() + delay > api->deadline_ms - 1000.0) break;
        sleep_ms(delay);
    }
    resp_return(&r, kept);
    return rc;
}

/* The same, taking the lock for the call. */
static int api_call_retrying(dwf__lambda_api *api, const api_call *c, cJSON **out,
                             dwf_error *err, int *kind) {
    pthread_mutex_lock(&api->lock);
    int rc = api_call_locked(api, c, out, err, kind);
    pthread_mutex_unlock(&api->lock);
    return rc;
}

static char *execution_path(const char *arn, const char *what) {
    char *enc = dwf__uri_encode(arn);
    if (!enc) return NULL;
    size_t n = strlen(API_VERSION_PATH "/durable-executions/") + strlen(enc) + strlen(what) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/durable-executions/%s/%s", API_VERSION_PATH, enc, what);
    free(enc);
    return p;
}

/* A random (version 4) UUID for ClientToken. Its 16 bytes come from api->rnd, refilled by one
 * RAND_bytes call per 32 tokens: RAND_bytes costs ~6,500 instructions a call whatever the size
 * (the DRBG's locking and parameters), a tenth of a checkpoint call's own work on serve's
 * endpoint. */
static int make_uuid(dwf__lambda_api *api, char out[37]) { /* api->lock held */
    unsigned char b[16];
    int ok = api->rnd_left >= sizeof b || RAND_bytes(api->rnd, sizeof api->rnd) == 1;
    if (ok) {
        if (api->rnd_left < sizeof b) api->rnd_left = sizeof api->rnd;
        api->rnd_left -= sizeof b;
        memcpy(b, api->rnd + api->rnd_left, sizeof b);
        OPENSSL_cleanse(api->rnd + api->rnd_left, sizeof b); /* each byte handed out once */
    }
    if (!ok) return -1;
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    /* By hand: snprintf's sixteen %02x cost ~5,800 instructions, a checkpoint call's UUID. */
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
    return 0;
}

/* What goes before a printed request whose '{' it replaces: {"ClientToken":"<36>" */
#define TOKEN_PREFIX (sizeof "{\"ClientToken\":\"\"" - 1 + 36)

/* The request's JSON text with "ClientToken" (a fresh UUID) as its first member unless it has
 * one: spliced into the printed text rather than added to a copy of the request, which cost a
 * cJSON_Duplicate and its cJSON_Delete (~27,000 instructions a call) for one member. Printed
 * into api->body_buf, kept between calls, TOKEN_PREFIX bytes in, the prefix written in front:
 * cJSON_PrintUnformatted's buffer grew by reallocs to a large-bin size (glibc consolidates its
 * small freed chunks first) and the spliced copy was one more malloc and an sprintf of the
 * whole body, every call. Returns the body (in the kept buffer, or malloc'd into *owned when
 * too large to keep), or NULL with err filled. api->lock held. */
static const char *body_with_token(dwf__lambda_api *api, const cJSON *request, char **owned,
                                   dwf_error *err) {
    *owned = NULL;
    dwf__kept_buf *k = &api->body_buf;
    char *text = NULL;
    if (k->p && k->cap > TOKEN_PREFIX + 8 &&
        cJSON_PrintPreallocated((cJSON *)request, k->p + TOKEN_PREFIX, (int)(k->cap - TOKEN_PREFIX), 0)) {
        text = k->p + TOKEN_PREFIX;
    } else {
        /* printed the usual way, then kept (grown) for the next call if not too large */
        char *t = cJSON_PrintUnformatted(request);
        if (!t) {
            set_err(err, "Runtime.OutOfMemory", "out of memory");
            return NULL;
        }
        size_t need = TOKEN_PREFIX + strlen(t) + 64;
        if (need <= KEEP_MAX && need > k->cap) {
            char *p = realloc(k->p, need * 2 > KEEP_MAX ? KEEP_MAX : need * 2);
            if (p) {
                k->cap = need * 2 > KEEP_MAX ? KEEP_MAX : need * 2;
                k->p = p;
            }
        }
        if (k->p && need <= k->cap) {
            text = k->p + TOKEN_PREFIX;
            memcpy(text, t, strlen(t) + 1);
            free(t);
        } else {
            /* too large to keep: the prefix needs room in front of it */
            char *p = malloc(need);
            if (!p) {
                free(t);
                set_err(err, "Runtime.OutOfMemory", "out of memory");
                return NULL;
            }
            text = p + TOKEN_PREFIX;
            memcpy(text, t, strlen(t) + 1);
            free(t);
            *owned = p;
        }
    }
    char *base = text - TOKEN_PREFIX;
    if (text[0] != '{' || cJSON_HasObjectItem(request, "ClientToken")) return text;
    char uuid[37];
    if (make_uuid(api, uuid) < 0) {
        free(*owned);
        *owned = NULL;
        set_err(err, "Runtime.OutOfMemory", "could not make a ClientToken");
        return NULL;
    }
    memcpy(base, "{\"ClientToken\":\"", 16);
    memcpy(base + 16, uuid, 36);
    base[52] = '"';
    /* the request's '{' becomes the ',' after the token, or its "{}" the token's '}' */
    if (text[1] == '}') {
        text[0] = '}';
        text[1] = '\0';
    } else {
        text[0] = ',';
    }
    return base;
}

int dwf__lambda_checkpoint(dwf_transport *t, const char *arn, const cJSON *request,
                           cJSON **response, dwf_error *err, int *retryable) {
    dwf__lambda_api *api = t->impl;
    *response = NULL;
    *retryable = 1;
    char *path = execution_path(arn, "checkpoint");
    int rc = -1;
    if (!path && err) set_err(err, "Runtime.OutOfMemory", "out of memory");
    pthread_mutex_lock(&api->lock);
    /* One ClientToken per logical call: every retry below sends the same body. */
    char *owned = NULL;
    const char *body = path ? body_with_token(api, request, &owned, err) : NULL;
    if (body) {
        api_call c = {"POST", path, NULL, 0, "application/json", body};
        int kind;
        if (api_call_locked(api, &c, response, err, &kind) == 0) rc = 0;
        else *retryable = kind != DWF__LAMBDA_FAIL;
    }
    pthread_mutex_unlock(&api->lock);
    free(owned);
    free(path);
    return rc;
}

int dwf__lambda_get_state(dwf_transport *t, const char *arn, const char *token, const char *marker,
                          cJSON **response, dwf_error *err) {
    dwf__lambda_api *api = t->impl;
    *response = NULL;
    char *path = execution_path(arn, "state");
    if (!path) {
        set_err(err, "Runtime.OutOfMemory", "out of memory");
        return -1;
    }
    dwf__sigv4_param q[3] = {{"CheckpointToken", token ? token : ""},
                             {"MaxItems", STATE_PAGE_SIZE},
                             {"Marker", marker}};
    int nq = marker && marker[0] ? 3 : 2;
    api_call c = {"GET", path, q, nq, NULL, NULL};
    int kind;
    int rc = api_call_retrying(api, &c, response, err, &kind);
    free(path);
    return rc;
}

double dwf__lambda_now_ms(dwf_transport *t) {
    (void)t;
    return wall_ms();
}

void dwf__lambda_transport(dwf__lambda_api *api, dwf_transport *t) {
    memset(t, 0, sizeof *t);
    t->checkpoint = dwf__lambda_checkpoint;
    t->get_state = dwf__lambda_get_state;
    t->now_ms = dwf__lambda_now_ms;
    t->impl = api;
}

int dwf__lambda_fetch_all_state(dwf_transport *t, cJSON *event, dwf_error *err) {
    const cJSON *arn = cJSON_GetObjectItemCaseSensitive(event, "DurableExecutionArn");
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(event, "CheckpointToken");
    cJSON *state = cJSON_GetObjectItemCaseSensitive(event, "InitialExecutionState");
    if (!cJSON_IsString(arn) || !cJSON_IsString(token)) {
        set_err(err, "Runtime.InvalidEvent",
                "the event has no DurableExecutionArn or CheckpointToken: is the function durable?");
        return -1;
    }
    if (!cJSON_IsObject(state)) return 0;
    cJSON *ops = cJSON_GetObjectItemCaseSensitive(state, "Operations");
    if (!ops) {
        ops = cJSON_AddArrayToObject(state, "Operations");
        if (!ops) goto oom;
    }
    if (!cJSON_IsArray(ops)) {
        set_err(err, "Runtime.InvalidEvent", "InitialExecutionState.Operations is not an array");
        return -1;
    }
    cJSON *next = cJSON_GetObjectItemCaseSensitive(state, "NextMarker");
    char *marker = cJSON_IsString(next) && next->valuestring[0] ? strdup(next->valuestring) : NULL;
    if (cJSON_IsString(next) && next->valuestring[0] && !marker) goto oom;
    /* A service that hands back the same marker would loop forever; 100000 pages of 1000
     * operations is far past the 3000-operation quota anyway. */
    for (int page = 0; marker && page < 100000; page++) {
        cJSON *resp = NULL;
        if (t->get_state(t, arn->valuestring, token->valuestring, marker, &resp, err) < 0) {
            free(marker);
            return -1;
        }
        cJSON *pops = cJSON_GetObjectItemCaseSensitive(resp, "Operations");
        cJSON *op;
        while (cJSON_IsArray(pops) && (op = pops->child) != NULL) {
            cJSON_DetachItemViaPointer(pops, op);
            cJSON_AddItemToArray(ops, op);
        }
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(resp, "NextMarker");
        char *nmark = cJSON_IsString(nm) && nm->valuestring[0] ? strdup(nm->valuestring) : NULL;
        int oom = cJSON_IsString(nm) && nm->valuestring[0] && !nmark;
        int same = nmark && strcmp(nmark, marker) == 0;
        cJSON_Delete(resp);
        free(marker);
        marker = nmark;
        if (oom) goto oom;
        if (same) {
            free(marker);
            set_err(err, "ServiceException", "GetDurableExecutionState returned the same marker");
            return -1;
        }
    }
    if (marker) {
        free(marker);
        set_err(err, "ServiceException", "GetDurableExecutionState never ended its pages");
        return -1;
    }
    cJSON *empty = cJSON_CreateString("");
    if (!empty) goto oom;
    /* (ReplaceItemViaPointer would drop the key: the object form names the new item.) */
    if (next) cJSON_ReplaceItemInObjectCaseSensitive(state, "NextMarker", empty);
    else cJSON_AddItemToObject(state, "NextMarker", empty);
    return 0;
oom:
    set_err(err, "Runtime.OutOfMemory", "out of memory reading the execution state");
    return -1;
}

/* ---- the Runtime API ------------------------------------------------------------------------ */
typedef struct runtime_api {
    dwf__rt_conn conn;      /* runtime_http.c: one kept connection */
    dwf__kept_buf next_buf; /* /next's bodies (an event lives while its answer is posted) */
    dwf__kept_buf post_buf; /* the answers to our posts */
} runtime_api;


/* GET or POST to the Runtime API. `error_type` adds Lambda-Runtime-Function-Error-Type. */
static int rt_request(runtime_api *rt, const char *method, const char *path, const char *body,
                      const char *error_type, long timeout_ms, http_resp *r) {
    char url[1024];
    snprintf(url, sizeof url, RUNTIME_API_VERSION "%s", path);
    const char *hdrs[3] = {NULL, NULL, NULL};
    int nh = 0;
    char line[256];
    if (body) hdrs[nh++] = "Content-Type: application/json";
    if (error_type) {
        /* A header value must stay on one line of printable ASCII. */
        size_t n = (size_t)snprintf(line, sizeof line, "Lambda-Runtime-Function-Error-Type: %s",
                                    error_type);
        for (size_t i = 0; i < n && i < sizeof line - 1; i++)
            if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e) line[i] = '_';
        hdrs[nh++] = line;
    }
    /* /next blocks until an event comes, across freezes of the sandbox: no timeout (0), as
     * aws-lambda-cpp does; the connection itself is local and quick. */
    dwf__rt_sink sink = {rt_on_header, rt_on_body, r};
    char err[256];
    if (dwf__rt_request(&rt->conn, method, url, hdrs, body, timeout_ms, &r->status, &sink, err,
                        sizeof err) != 0) {
        fprintf(stderr, "dwf: runtime API %s %s: %s\n", method, path, err);
        return -1;
    }
    return 0;
}

/* {"errorMessage":..,"errorType":..,"stackTrace":[]}, the shape Lambda shows. */
static char *error_body(const dwf_error *err) {
    cJSON *o = cJSON_CreateObject();
    char *s = NULL;
    if (o && cJSON_AddStringToObject(o, "errorMessage", err->message) &&
        cJSON_AddStringToObject(o, "errorType", err->type) && cJSON_AddArrayToObject(o, "stackTrace"))
        s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return s;
}

static int post_error(runtime_api *rt, const char *path, const dwf_error *err) {
    char *body = error_body(err);
    http_resp r;
    resp_lend(&r, &rt->post_buf);
    fprintf(stderr, "dwf: %s: %s\n", err->type, err->message);
    int rc = rt_request(rt, "POST", path, body ? body : "{}", err->type, 10000L, &r);
    if (rc == 0 && (r.status < 200 || r.status >= 300)) {
        fprintf(stderr, "dwf: runtime API POST %s answered %ld\n", path, r.status);
        rc = -1;
    }
    resp_return(&r, &rt->post_buf);
    free(body);
    return rc;
}

/* Post the handler response. Returns 0, or -1 if the Runtime API is unusable (exit). */
static int post_response(runtime_api *rt, const char *request_id, const char *body) {
    char path[512];
    snprintf(path, sizeof path, "/runtime/invocation/%s/response", request_id);
    http_resp r;
    resp_lend(&r, &rt->post_buf);
    int rc = rt_request(rt, "POST", path, body, NULL, 10000L, &r);
    long status = r.status;
    resp_return(&r, &rt->post_buf);
    if (rc < 0) return -1;
    if (status == 413) {
        /* Over the 6 MB response limit: say so on /error so the invocation is retried visibly
         * rather than lost. (The replay core checkpoints large results itself.) */
        dwf_error e;
        set_err(&e, "Runtime.ResponseTooLarge", "the handler response (%zu bytes) is too large",
                strlen(body));
        snprintf(path, sizeof path, "/runtime/invocation/%s/error", request_id);
        return post_error(rt, path, &e) < 0 ? -1 : 0;
    }
    if (status < 200 || status >= 300) {
        fprintf(stderr, "dwf: runtime API POST %s answered %ld\n", path, status);
        return status >= 500 ? -1 : 0;
    }
    return 0;
}

/* One invocation: complete the state, run it, answer. Returns -1 if the Runtime API failed. */
static int handle_event(runtime_api *rt, const dwf_workflow *wf, dwf__lambda_runner run,
                        dwf_transport *t, const http_resp *next) {
    char path[512];
    dwf_error err;
    memset(&err, 0, sizeof err);
    cJSON *event = cJSON_ParseWithLength(next->body ? next->body : "", next->len);
    cJSON *resp = NULL;
    if (!event) {
        set_err(&err, "Runtime.InvalidEvent", "the invocation event is not JSON");
    } else if (dwf__lambda_fetch_all_state(t, event, &err) == 0) {
        dwf_invoke_opts opts = {0};
        opts.request_id = next->request_id;
        resp = run(wf, event, t, &opts, &err);
        if (!resp && !err.type[0]) set_err(&err, "Runtime.InvocationFault", "the invocation failed");
    }
    cJSON_Delete(event);
    int rc = 0;
    if (resp) {
        char *body = cJSON_PrintUnformatted(resp);
        cJSON_Delete(resp);
        if (body) {
            rc = post_response(rt, next->request_id, body);
            free(body);
            return rc;
        }
        set_err(&err, "Runtime.OutOfMemory", "out of memory printing the response");
    }
    snprintf(path, sizeof path, "/runtime/invocation/%s/error", next->request_id);
    if (post_error(rt, path, &err) < 0) rc = -1;
    return rc;
}

/* _X_AMZN_TRACE_ID, set for each invocation as Lambda's runtimes do, written in place into one
 * buffer that stays in the environment (putenv), not with setenv: glibc's setenv keeps every
 * value it was ever given (a getenv caller may still hold the old one), so a new trace id per
 * invocation grew the heap by 112 bytes an invocation for the environment's life (~400 MB over
 * the 3.6 million invocations an hour at 1,000/s; 100,000 setenvs: 11.2 MB), and cost ~2,600
 * instructions (tsearch, malloc). Written only between invocations: nothing of the last one
 * runs any more. When user code set the variable itself, the buffer is put back. */
static char trace_env[sizeof "_X_AMZN_TRACE_ID=" + sizeof ((http_resp *)0)->trace_id];

int dwf__lambda_set_trace_id(const char *id) {
    static const char name[] = "_X_AMZN_TRACE_ID";
    size_t nl = sizeof name; /* the name and its '=' */
    if (!id || !id[0]) return unsetenv(name);
    size_t n = strlen(id);
    if (n >= sizeof trace_env - nl) return setenv(name, id, 1); /* longer than any header we keep */
    int in_env = getenv(name) == trace_env + nl;
    memcpy(trace_env, name, nl - 1);
    trace_env[nl - 1] = '=';
    memcpy(trace_env + nl, id, n + 1);
    return in_env ? 0 : putenv(trace_env);
}

int dwf__lambda_loop(const dwf_workflow *wf, const char *runtime_api_addr, dwf__lambda_runner run,
                     int max_invocations) {
    runtime_api rt;
    memset(&rt, 0, sizeof rt);
    if (dwf__rt_conn_init(&rt.conn, runtime_api_addr) != 0) {
        fprintf(stderr, "dwf: AWS_LAMBDA_RUNTIME_API '%s' is not host:port\n", runtime_api_addr);
        return 1;
    }
    dwf__lambda_api api;
    dwf_error err;
    memset(&err, 0, sizeof err);
    int rc = 1;
    if (!run) {
        set_err(&err, "Runtime.InitError", "this bootstrap was linked without the replay core");
        post_error(&rt, "/runtime/init/error", &err);
        goto out_rt;
    }
    if (dwf__lambda_api_init(&api, &err) < 0) {
        post_error(&rt, "/runtime/init/error", &err);
        goto out_rt;
    }
    dwf_transport t;
    dwf__lambda_transport(&api, &t);

    int failures = 0;
    for (int n = 0; max_invocations <= 0 || n < max_invocations;) {
        http_resp next;
        resp_lend(&next, &rt.next_buf);
        if (rt_request(&rt, "GET", "/runtime/invocation/next", NULL, NULL, 0L, &next) < 0 ||
            next.status != 200) {
            if (next.status) fprintf(stderr, "dwf: runtime API /next answered %ld\n", next.status);
            resp_return(&next, &rt.next_buf);
            /* A Runtime API that is gone does not come back: give up after a few tries. */
            if (++failures >= 3) goto out_api;
            sleep_ms(100.0 * failures);
            continue;
        }
        failures = 0;
        n++;
        if (!next.request_id[0]) {
            fprintf(stderr, "dwf: runtime API event without Lambda-Runtime-Aws-Request-Id\n");
            resp_return(&next, &rt.next_buf);
            continue;
        }
        dwf__lambda_set_trace_id(next.trace_id);
        api.deadline_ms = next.deadline[0] ? strtod(next.deadline, NULL) : 0;
        int hr = handle_event(&rt, wf, run, &t, &next);
        resp_return(&next, &rt.next_buf);
        if (hr < 0) goto out_api;
    }
    rc = 0;
out_api:
    dwf__lambda_api_free(&api);
out_rt:
    dwf__rt_conn_close(&rt.conn);
    free(rt.next_buf.p);
    free(rt.post_buf.p);
    return rc;
}

/* ---- cJSON's allocations, kept per thread for reuse ------------------------------------
 * Most of an execution's ~370 allocations are cJSON's: the invocation event, every checkpoint
 * request and answer, the values; glibc's malloc and free took ~150 instructions a pair here,
 * 18% of the function's instructions in bench/throughput.sh's Event row (callgrind).
 * cJSON_InitHooks lets the program choose cJSON's allocator: util/memcache.c keeps the blocks
 * cJSON frees, by size, for its next allocations on the same thread (bounded, given back when
 * the thread ends). Every block is still a glibc malloc block of at least the size asked for,
 * so the code that frees what cJSON made with free() (printed texts, strings taken out of
 * nodes) and the nodes given strings malloc'd elsewhere stay right. Not under AddressSanitizer
 * or valgrind (dwf__memcache_wanted), whose checks need cJSON's freed blocks given back at once. */
void dwf_use_json_cache(void) {
    static int done;
    if (done || !dwf__memcache_wanted()) return;
    done = 1;
    cJSON_Hooks h = {dwf__memcache_alloc, dwf__memcache_free};
    cJSON_InitHooks(&h);
}

int dwf_lambda_main(const dwf_workflow *wf) {
    /* CloudWatch takes stdout line by line; a full buffer would hold log lines back until the
     * sandbox is frozen. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* libcurl runs with CURLOPT_NOSIGNAL (threads), so a peer closing a connection must not
     * kill the process with SIGPIPE: curl reports it as an error instead (libcurl's advice). */
    signal(SIGPIPE, SIG_IGN);
    /* Host names resolve through glibc's built-in "files" and "dns" only, whatever the host's
     * nsswitch.conf lists: the program is static (cli/toolchain.c), and a static glibc would
     * dlopen any other NSS module the host names (systemd, myhostname, resolve, ...), with the
     * host's own libc under it, a different glibc from the one linked in. */
    __nss_configure_lookup("hosts", "files dns");
    const char *addr = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!addr || !addr[0]) {
        fprintf(stderr, "dwf: AWS_LAMBDA_RUNTIME_API is not set: this bootstrap runs on AWS Lambda "
                        "(use `dwf run` or `dwf serve` locally)\n");
        return 1;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "dwf: curl_global_init failed\n");
        return 1;
    }
    /* A strong reference on purpose: it is what pulls the replay core out of libdwf.a into
     * a bootstrap linked without --whole-archive. */
    dwf_use_json_cache();
    int rc = dwf__lambda_loop(wf, addr, dwf_run_invocation, 0);
    curl_global_cleanup();
    return rc;
}
