/*
 * http.c: the `http METHOD url headers {..} body <e> timeout <d>` expression of step bodies.
 *
 * One libcurl easy handle per request, cleaned up before returning: requests come from step
 * bodies on any thread (parallel branches, map items), and a fresh handle keeps threads from
 * sharing state and leaves nothing behind when a thread ends; a step body is not hot enough
 * for connection reuse to matter. curl_global_init runs once, under pthread_once.
 *
 * Request: the method a token (GET, POST, PUT, PATCH, DELETE, HEAD, ...); the url a string,
 * http:// or https:// only (redirects too: libcurl would read file:// as well); header values
 * are sent as their template text (no line breaks: they would smuggle in headers); a string
 * body is sent as its bytes, null sends no body, any other value is sent as JSON with
 * Content-Type application/json (unless the headers name a Content-Type). Redirects are
 * followed (at most 5), compressed responses are decoded. timeout_s <= 0 means the default of
 * 60 s for the whole request; connecting alone may take at most 10 s (or the timeout if
 * shorter). TLS verifies servers against the CA bundle named by SSL_CERT_FILE or
 * CURL_CA_BUNDLE (the conventions of OpenSSL and of curl's tool: a private CA, a proxy), else
 * the system's; on Amazon Linux (no /etc/ssl/certs/ca-certificates.crt, but
 * /etc/pki/tls/certs/ca-bundle.crt) that bundle.
 *
 * Result: {"status": n, "headers": {lowercase name: value, repeated headers joined with ", "
 * as fetch does}, "body": parsed JSON when the Content-Type says JSON and the text parses, else
 * the text}. Failures (each an error with the method, url and status in its message, and the
 * expression yields null): 5xx -> Http5xx, 429 -> Http429, any other status outside 2xx ->
 * HttpError, a timeout -> Timeout, no connection / DNS / TLS / broken transfer ->
 * HttpNetworkError, a request curl cannot even make (bad url, unsupported scheme) -> HttpError.
 * Responses over 64 MiB are refused (HttpError): a step result that large could not be
 * checkpointed anyway.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>

#include "internal.h"

#define HTTP_DEFAULT_TIMEOUT_MS 60000L
#define HTTP_CONNECT_TIMEOUT_MS 10000L
#define HTTP_MAX_BODY (64u << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

typedef struct response {
    dwf__buf body;
    cJSON *headers; /* lowercase name -> value */
    int too_big;
    int oom;
} response;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    response *r = arg;
    size_t len = size * n;
    if (r->body.len + len > HTTP_MAX_BODY) {
        r->too_big = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    dwf__buf_add(&r->body, p, len);
    if (r->body.oom) {
        r->oom = 1;
        return 0;
    }
    return len;
}

/* One header line. A status line starts a new header block (after a redirect or a 100
 * Continue, only the final response's headers are kept). */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    response *r = arg;
    size_t len = size * n;
    if (r->oom) return 0;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        cJSON_Delete(r->headers);
        r->headers = cJSON_CreateObject();
        if (!r->headers) r->oom = 1;
        return r->oom ? 0 : len;
    }
    const char *colon = memchr(p, ':', len);
    if (!colon || !r->headers) return len; /* the blank line ending the block, or junk */
    size_t klen = (size_t)(colon - p);
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    char *key = strndup(p, klen);
    cJSON *val = dwf__new_string(v, (size_t)(end - v));
    if (!key || !val) {
        free(key);
        cJSON_Delete(val);
        r->oom = 1;
        return 0;
    }
    for (char *k = key; *k; k++) *k = (char)tolower((unsigned char)*k);
    cJSON *old = cJSON_GetObjectItemCaseSensitive(r->headers, key);
    int ok;
    if (old && cJSON_IsString(old)) {
        dwf__buf joined = {0};
        dwf__buf_str(&joined, old->valuestring);
        dwf__buf_str(&joined, ", ");
        dwf__buf_str(&joined, val->valuestring);
        cJSON_Delete(val);
        val = joined.oom ? NULL : cJSON_CreateString(joined.p);
        free(joined.p);
        ok = val && cJSON_ReplaceItemInObjectCaseSensitive(r->headers, key, val);
    } else {
        ok = cJSON_AddItemToObject(r->headers, key, val);
    }
    free(key);
    if (!ok) {
        cJSON_Delete(val);
        r->oom = 1;
        return 0;
    }
    return len;
}

/* The CA bundle to verify servers with, or NULL for libcurl's built-in default. */
static const char *ca_bundle(void)
{
    const char *e = getenv("SSL_CERT_FILE");
    if (e && *e) return e;
    e = getenv("CURL_CA_BUNDLE");
    if (e && *e) return e;
    if (access("/etc/ssl/certs/ca-certificates.crt", F_OK) != 0 &&
        access("/etc/pki/tls/certs/ca-bundle.crt", R_OK) == 0)
        return "/etc/pki/tls/certs/ca-bundle.crt"; /* Amazon Linux, Lambda's provided.al2023 */
    return NULL;
}

static dwf_val *http_fail(dwf_ctx *c, const char *type, const char *fmt, const char *method,
                          const char *url, const char *detail)
{
    char msg[700];
    snprintf(msg, sizeof msg, fmt, method, url, detail);
    dwf__set_error(c, type, msg);
    return dwf_null(c);
}

/* Does the Content-Type name JSON (application/json, application/problem+json, ...)? */
static int is_json_type(const cJSON *headers)
{
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(headers, "content-type");
    if (!ct || !cJSON_IsString(ct)) return 0;
    const char *s = ct->valuestring;
    size_t n = strcspn(s, ";");
    while (n > 0 && s[n - 1] == ' ') n--;
    return (n >= 16 && strncasecmp(s, "application/json", 16) == 0 && n == 16) ||
           (n >= 5 && strncasecmp(s + n - 5, "+json", 5) == 0);
}

/* One request being made: what the phases below share. */
typedef struct request {
    const char *m, *u;          /* method, url */
    struct curl_slist *headers; /* "Name: value" lines */
    char *payload;              /* the body's bytes, or NULL for none */
    size_t payload_len;
    long timeout_ms;
    char errbuf[CURL_ERROR_SIZE];
} request;

/* The arguments' types: the url a string, the method a token, the headers an object. */
static int check_args(dwf_ctx *c, const char *m, const dwf_val *url, const dwf_val *headers)
{
    char msg[160];
    if (!url || !cJSON_IsString(url) || !url->valuestring)
        snprintf(msg, sizeof msg, "http %s: the url must be a string, not %s", m,
                 dwf__type_name(url));
    else if (strspn(m, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") != strlen(m) ||
             strlen(m) > 16)
        snprintf(msg, sizeof msg, "http: '%.20s' is not an HTTP method", m);
    else if (headers && !cJSON_IsObject(headers) && !cJSON_IsNull(headers))
        snprintf(msg, sizeof msg, "http %s: headers must be an object, not %s", m,
                 dwf__type_name(headers));
    else
        return 0;
    dwf__set_error(c, "TypeError", msg);
    return -1;
}

/* Append a header line; 0, or -1 when out of memory. */
static int add_header(request *q, const char *line)
{
    struct curl_slist *n = curl_slist_append(q->headers, line);
    if (!n) return -1;
    q->headers = n;
    return 0;
}

/* The header lines and the body. -1 with the error recorded (a bad header, no memory). */
static int build_request(dwf_ctx *c, request *q, const dwf_val *headers, const dwf_val *body)
{
    int has_ct = 0, oom = 0;
    for (const cJSON *it = headers ? headers->child : NULL; it && !oom; it = it->next) {
        if (!it->string) continue;
        if (strcasecmp(it->string, "content-type") == 0) has_ct = 1;
        char *v = cJSON_IsNull(it) ? strdup("") : dwf__to_text(it);
        if (v && (strpbrk(it->string, "\r\n:") || strpbrk(v, "\r\n") || !it->string[0])) {
            /* A line break would let a value smuggle in headers of its own. */
            char msg[300];
            snprintf(msg, sizeof msg, "http %s %s: header '%.60s' has an invalid name or a line break in its value",
                     q->m, q->u, it->string);
            free(v);
            dwf__set_error(c, "TypeError", msg);
            return -1;
        }
        dwf__buf line = {0};
        dwf__buf_str(&line, it->string);
        /* "Name;" is curl's way to send a header with an empty value. */
        dwf__buf_str(&line, v && *v ? ": " : ";");
        if (v) dwf__buf_str(&line, v);
        oom = !v || line.oom || add_header(q, line.p) != 0;
        free(v);
        free(line.p);
    }
    if (!oom && body && !cJSON_IsNull(body)) {
        if (cJSON_IsString(body)) {
            q->payload = dwf__string_bytes(body->valuestring ? body->valuestring : "", &q->payload_len);
        } else {
            q->payload = dwf__to_json(body);
            q->payload_len = q->payload ? strlen(q->payload) : 0;
            if (q->payload && !has_ct) oom = add_header(q, "Content-Type: application/json") != 0;
        }
        oom = oom || !q->payload;
    }
    /* No "Expect: 100-continue" (libcurl adds it to large bodies): most servers never answer
     * it and the request would wait a second for nothing. */
    if (!oom && q->payload && !cJSON_GetObjectItemCaseSensitive(headers, "Expect"))
        oom = add_header(q, "Expect:") != 0;
    if (oom) dwf__set_error(c, "OutOfMemory", "http: out of memory building the request");
    return oom ? -1 : 0;
}

/* Every option of the easy handle for request q, reading into r. */
static CURLcode setup_handle(CURL *h, request *q, response *r)
{
    long connect_ms = q->timeout_ms < HTTP_CONNECT_TIMEOUT_MS ? q->timeout_ms : HTTP_CONNECT_TIMEOUT_MS;
    CURLcode rc = CURLE_OK;
#define SETOPT(opt, val)                                                                      \
    do {                                                                                      \
        if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val);                               \
    } while (0)
    SETOPT(CURLOPT_URL, q->u);
    /* http(s) only, redirects included: libcurl would also read file:// and speak a dozen
     * other protocols, none of which a workflow's `http` means. */
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SETOPT(CURLOPT_ERRORBUFFER, q->errbuf);
    SETOPT(CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
    SETOPT(CURLOPT_TIMEOUT_MS, q->timeout_ms);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    SETOPT(CURLOPT_FOLLOWLOCATION, 1L);
    SETOPT(CURLOPT_MAXREDIRS, 5L);
    SETOPT(CURLOPT_ACCEPT_ENCODING, "");
    SETOPT(CURLOPT_USERAGENT, "dwf/" DWF_VERSION);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, r);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, r);
    if (q->headers) SETOPT(CURLOPT_HTTPHEADER, q->headers);
    const char *ca = ca_bundle();
    if (ca) SETOPT(CURLOPT_CAINFO, ca);
    if (strcmp(q->m, "GET") == 0) SETOPT(CURLOPT_HTTPGET, 1L);
    else if (strcmp(q->m, "HEAD") == 0) SETOPT(CURLOPT_NOBODY, 1L);
    else SETOPT(CURLOPT_CUSTOMREQUEST, q->m);
    if (q->payload) {
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->payload_len);
        SETOPT(CURLOPT_POSTFIELDS, q->payload);
        /* POSTFIELDS turns a GET into a POST; keep the method the workflow asked for. */
        if (strcmp(q->m, "POST") != 0) SETOPT(CURLOPT_CUSTOMREQUEST, q->m);
    }
#undef SETOPT
    return rc;
}

/* A transfer curl could not finish, as the error the workflow sees. */
static dwf_val *transfer_failed(dwf_ctx *c, const request *q, const response *r, CURLcode rc)
{
    const char *why = q->errbuf[0] ? q->errbuf : curl_easy_strerror(rc);
    if (r->oom) {
        dwf__set_error(c, "OutOfMemory", "http: out of memory reading the response");
        return dwf_null(c);
    }
    if (r->too_big)
        return http_fail(c, "HttpError", "%s %s: %s", q->m, q->u, "response larger than 64 MiB");
    if (rc == CURLE_OPERATION_TIMEDOUT) {
        char detail[300];
        snprintf(detail, sizeof detail, "timed out after %g s (%s)", (double)q->timeout_ms / 1000, why);
        return http_fail(c, "Timeout", "%s %s: %s", q->m, q->u, detail);
    }
    if (rc == CURLE_UNSUPPORTED_PROTOCOL || rc == CURLE_URL_MALFORMAT ||
        rc == CURLE_TOO_MANY_REDIRECTS || rc == CURLE_BAD_FUNCTION_ARGUMENT)
        return http_fail(c, "HttpError", "%s %s: %s", q->m, q->u, why);
    return http_fail(c, "HttpNetworkError", "%s %s: %s", q->m, q->u, why);
}

/* A status outside 2xx: Http5xx, Http429 or HttpError, with the start of the body. */
static dwf_val *status_failed(dwf_ctx *c, const request *q, const response *r, long status)
{
    char detail[300];
    /* The start of the body usually says why; keep the message short. */
    snprintf(detail, sizeof detail, "%ld%s%.200s", status, r->body.len ? ": " : "",
             r->body.p ? r->body.p : "");
    for (char *p = detail; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    const char *type = status >= 500 ? "Http5xx" : status == 429 ? "Http429" : "HttpError";
    return http_fail(c, type, "%s %s returned HTTP %s", q->m, q->u, detail);
}

/* {status, headers, body}: the body parsed when the Content-Type says JSON and it parses. */
static dwf_val *response_value(dwf_ctx *c, response *r, long status)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *hdrs = r->headers ? r->headers : cJSON_CreateObject();
    r->headers = NULL;
    cJSON *b = NULL;
    if (is_json_type(hdrs) && r->body.len) b = dwf__parse_json(r->body.p, r->body.len, NULL);
    if (!b) b = dwf__new_string(r->body.p ? r->body.p : "", r->body.len);
    int ok = o && hdrs && b && cJSON_AddNumberToObject(o, "status", (double)status);
    if (ok && cJSON_AddItemToObject(o, "headers", hdrs)) hdrs = NULL;
    else ok = 0;
    if (ok && cJSON_AddItemToObject(o, "body", b)) b = NULL;
    else ok = 0;
    cJSON_Delete(hdrs);
    cJSON_Delete(b);
    if (!ok) {
        cJSON_Delete(o);
        o = NULL;
    }
    return dwf__own(c, o);
}

/* Make request q on a fresh easy handle. */
static dwf_val *perform(dwf_ctx *c, request *q)
{
    CURL *h = curl_easy_init();
    if (!h) return http_fail(c, "HttpNetworkError", "%s %s: %s", q->m, q->u, "curl_easy_init failed");
    response r = {0};
    dwf_val *result;
    long status = 0;
    CURLcode rc = setup_handle(h, q, &r);
    if (rc != CURLE_OK)
        result = http_fail(c, "HttpError", "%s %s: cannot set up the request: %s", q->m, q->u,
                           curl_easy_strerror(rc));
    else if ((rc = curl_easy_perform(h)) != CURLE_OK)
        result = transfer_failed(c, q, &r, rc);
    else if ((rc = curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status)) != CURLE_OK)
        result = http_fail(c, "HttpNetworkError", "%s %s: %s", q->m, q->u, curl_easy_strerror(rc));
    else if (status < 200 || status > 299)
        result = status_failed(c, q, &r, status);
    else
        result = response_value(c, &r, status);
    curl_easy_cleanup(h);
    free(r.body.p);
    cJSON_Delete(r.headers);
    return result;
}

/* A mocked response (dwf test): {status (default 200), headers (default {}), body (default
 * null)}, a status outside 2xx failing as a real one does, or the mock's error. NULL when the
 * request is not mocked. */
static dwf_val *mocked(dwf_ctx *c, const char *m, const char *url, dwf_val *body)
{
    dwf_mock_call call = {.kind = DWF_MOCK_HTTP, .method = m, .url = url, .request = body};
    dwf_mock_answer ans;
    int r = dwf__mock(c, &call, &ans);
    if (r == DWF_MOCK_PASS) return NULL;
    if (r == DWF_MOCK_FAIL) {
        cJSON_Delete(ans.value);
        dwf__set_error(c, ans.error_type, ans.error_message);
        return dwf_null(c);
    }
    cJSON *o = cJSON_IsObject(ans.value) ? ans.value : cJSON_CreateObject();
    if (o != ans.value) cJSON_Delete(ans.value);
    if (!o) return dwf_null(c);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "status");
    if (!cJSON_IsNumber(st)) cJSON_AddNumberToObject(o, "status", 200);
    if (!cJSON_GetObjectItemCaseSensitive(o, "headers")) cJSON_AddObjectToObject(o, "headers");
    if (!cJSON_GetObjectItemCaseSensitive(o, "body")) cJSON_AddNullToObject(o, "body");
    long status = (long)cJSON_GetObjectItemCaseSensitive(o, "status")->valuedouble;
    if (status < 200 || status > 299) {
        char *text = dwf__to_text(cJSON_GetObjectItemCaseSensitive(o, "body"));
        response r = {0};
        r.body.p = text;
        r.body.len = text ? strlen(text) : 0;
        request q = {0};
        q.m = m;
        q.u = url;
        cJSON_Delete(o);
        dwf_val *v = status_failed(c, &q, &r, status);
        free(text);
        return v;
    }
    return dwf__own(c, o);
}

/* The timeout of one request: timeout_s (<= 0: the default), capped by what is left of the
 * running attempt (a request cut short fails with Timeout; the attempt, then late, with
 * StepTimeoutError). */
static long request_timeout_ms(dwf_ctx *c, double timeout_s)
{
    /* At most a day: longer than any Lambda invocation, and the cast below stays in range. */
    if (timeout_s > 86400) timeout_s = 86400;
    long ms = timeout_s > 0 ? (long)(timeout_s * 1000 + 0.5) : HTTP_DEFAULT_TIMEOUT_MS;
    long left = dwf__remaining_ms(c);
    if (left >= 0 && left < ms) ms = left;
    return ms < 1 ? 1 : ms;
}

int dwf__http_send(dwf_ctx *c, const char *method, const char *url, const char *const *lines,
                   int nlines, const char *body, size_t body_len, double timeout_s,
                   dwf__http_reply *out)
{
    memset(out, 0, sizeof *out);
    request q;
    memset(&q, 0, sizeof q);
    q.m = method;
    q.u = url;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK) {
        http_fail(c, "HttpNetworkError", "%s %s: %s", q.m, q.u, curl_easy_strerror(curl_init_rc));
        return -1;
    }
    q.timeout_ms = request_timeout_ms(c, timeout_s);
    int oom = 0;
    for (int i = 0; i < nlines && !oom; i++) oom = add_header(&q, lines[i]) != 0;
    /* No "Expect: 100-continue" (see build_request). */
    if (!oom && body) oom = add_header(&q, "Expect:") != 0;
    /* A body without a Content-Type line would get libcurl's form type: send none instead. */
    int has_ct = 0;
    for (int i = 0; i < nlines; i++) has_ct |= strncasecmp(lines[i], "content-type:", 13) == 0;
    if (!oom && body && !has_ct) oom = add_header(&q, "Content-Type:") != 0;
    q.payload = (char *)body;
    q.payload_len = body_len;
    CURL *h = oom ? NULL : curl_easy_init();
    int rc = -1;
    if (oom) {
        dwf__set_error(c, "OutOfMemory", "http: out of memory building the request");
    } else if (!h) {
        http_fail(c, "HttpNetworkError", "%s %s: %s", q.m, q.u, "curl_easy_init failed");
    } else {
        response r = {0};
        CURLcode cc = setup_handle(h, &q, &r);
        if (cc != CURLE_OK)
            http_fail(c, "HttpError", "%s %s: cannot set up the request: %s", q.m, q.u, curl_easy_strerror(cc));
        else if ((cc = curl_easy_perform(h)) != CURLE_OK)
            transfer_failed(c, &q, &r, cc);
        else if ((cc = curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status)) != CURLE_OK)
            http_fail(c, "HttpNetworkError", "%s %s: %s", q.m, q.u, curl_easy_strerror(cc));
        else {
            out->headers = r.headers ? r.headers : cJSON_CreateObject();
            r.headers = NULL;
            out->body = r.body.p;
            out->body_len = r.body.len;
            r.body.p = NULL;
            rc = out->headers ? 0 : -1;
            if (rc) dwf__set_error(c, "OutOfMemory", "http: out of memory reading the response");
        }
        free(r.body.p);
        cJSON_Delete(r.headers);
        curl_easy_cleanup(h);
    }
    curl_slist_free_all(q.headers);
    return rc;
}

void dwf__http_reply_free(dwf__http_reply *r)
{
    cJSON_Delete(r->headers);
    free(r->body);
    memset(r, 0, sizeof *r);
}

dwf_val *dwf_http(dwf_ctx *c, const char *method, dwf_val *url, dwf_val *headers, dwf_val *body,
                  double timeout_s)
{
    const char *m = method && *method ? method : "GET";
    if (check_args(c, m, url, headers) != 0) return dwf_null(c);
    dwf_val *mv = mocked(c, m, url->valuestring, body);
    if (mv) return mv;
    request q;
    memset(&q, 0, sizeof q);
    q.m = m;
    q.u = url->valuestring;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return http_fail(c, "HttpNetworkError", "%s %s: %s", q.m, q.u, curl_easy_strerror(curl_init_rc));
    q.timeout_ms = request_timeout_ms(c, timeout_s);
    dwf_val *result = build_request(c, &q, headers, body) == 0 ? perform(c, &q) : dwf_null(c);
    curl_slist_free_all(q.headers);
    free(q.payload);
    return result;
}
