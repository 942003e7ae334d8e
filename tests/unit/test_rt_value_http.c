/*
 * test_rt_value_http.c: the step-body services: dwf_http against a tiny HTTP server this test
 * runs on 127.0.0.1 in a thread, dwf_log (captured from stderr), dwf_call and dwf_attempt.
 *
 * The server answers one request per connection (Connection: close), by path:
 *   /json        200 application/json {"ok":true,"n":4980}, X-Multi sent twice
 *   /text        200 text/plain "hello\0world" (a NUL byte in the body)
 *   /echo        200 application/json: the request's method, body, Content-Type and X-Test
 *                (and whether it asked "Expect: 100-continue", kept in srv_expect)
 *   /status/NNN  status NNN, body "nope NNN"
 *   /badjson     200 application/json with a body that is not JSON
 *   /slow        answers nothing until the client gives up and closes the connection (for
 *                timeouts: however slow the machine, the answer cannot beat the client's
 *                timeout; bounded by 60 s, which only a hung test reaches)
 *   /redirect    302 to /json
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <strings.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "value_harness.h"

#define EQ_JSON(want, v)                                                                      \
    do {                                                                                      \
        char *t_ = dwf__to_json(v);                                                           \
        tt_checks++;                                                                          \
        if (!t_ || strcmp((want), t_) != 0)                                                   \
            TT_FAIL_("%s: expected %s, got %s", #v, (want), t_ ? t_ : "(null)");              \
        free(t_);                                                                             \
    } while (0)

/* The pending error must be of `type` and its message must contain `part`. */
#define ERR(type, part)                                                                       \
    do {                                                                                      \
        dwf_val *e_ = dwf_error_take(C);                                                      \
        const cJSON *ty_ = cJSON_GetObjectItemCaseSensitive(e_, "ErrorType");                 \
        const cJSON *m_ = cJSON_GetObjectItemCaseSensitive(e_, "ErrorMessage");               \
        tt_checks++;                                                                          \
        if (!cJSON_IsString(ty_) || strcmp(ty_->valuestring, (type)) != 0)                    \
            TT_FAIL_("expected error %s, got %s", (type),                                     \
                     cJSON_IsString(ty_) ? ty_->valuestring : "no error");                    \
        else if (!cJSON_IsString(m_) || !strstr(m_->valuestring, (part)))                     \
            TT_FAIL_("error message \"%s\" lacks \"%s\"",                                     \
                     cJSON_IsString(m_) ? m_->valuestring : "", (part));                      \
    } while (0)

#define NO_ERR()                                                                              \
    do {                                                                                      \
        dwf_val *e_ = dwf_error_take(C);                                                      \
        tt_checks++;                                                                          \
        if (e_) {                                                                             \
            char *t_ = dwf__to_json(e_);                                                      \
            TT_FAIL_("unexpected error %s", t_ ? t_ : "?");                                   \
            free(t_);                                                                         \
        }                                                                                     \
    } while (0)

static dwf_val *J(const char *text) { return dwf__own(C, dwf__parse_json(text, strlen(text), NULL)); }
static dwf_val *S(const char *s) { return dwf_str(C, s); }

/* ---- the test server -------------------------------------------------------------------- */
static int srv_fd = -1, srv_port;
static int srv_stop; /* read by the server thread: atomic loads and stores */
static pthread_t srv_thread;
/* The Expect header of the last POST /echo ("" if none), under srv_mu: the server thread writes
 * it, the test reads it after the answer. */
static char srv_expect[64];
static pthread_mutex_t srv_mu = PTHREAD_MUTEX_INITIALIZER;
static void expect_set(const char *v)
{
    pthread_mutex_lock(&srv_mu);
    snprintf(srv_expect, sizeof srv_expect, "%s", v);
    pthread_mutex_unlock(&srv_mu);
}
static int expect_is(const char *v)
{
    pthread_mutex_lock(&srv_mu);
    int same = strcmp(srv_expect, v) == 0;
    pthread_mutex_unlock(&srv_mu);
    return same;
}

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return; /* the client gave up (timeout test): fine */
        p += k;
        n -= (size_t)k;
    }
}

static void respond(int fd, int status, const char *extra_headers, const char *ctype,
                    const char *body, size_t n)
{
    char head[512];
    int k = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
                     status, ctype, n, extra_headers ? extra_headers : "");
    send_all(fd, head, (size_t)k);
    send_all(fd, body, n);
}

/* Value of header `name` (case-insensitive) in the request head, copied to out. */
static void header_of(const char *head, const char *name, char *out, size_t cap)
{
    out[0] = '\0';
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ') v++;
            size_t len = strcspn(v, "\r");
            if (len >= cap) len = cap - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return;
        }
    }
}

static void serve_one(int fd)
{
    char req[65536];
    size_t len = 0;
    char *end = NULL;
    while (!end && len < sizeof req - 1) {
        ssize_t k = recv(fd, req + len, sizeof req - 1 - len, 0);
        if (k <= 0) return;
        len += (size_t)k;
        req[len] = '\0';
        end = strstr(req, "\r\n\r\n");
    }
    if (!end) return;
    *end = '\0';
    char clen[32], ctype[128], xtest[128], method[16] = "", path[256] = "";
    header_of(req, "Content-Length", clen, sizeof clen);
    header_of(req, "Content-Type", ctype, sizeof ctype);
    header_of(req, "X-Test", xtest, sizeof xtest);
    if (strncmp(req, "POST /echo", 10) == 0) {
        char expect[64];
        header_of(req, "Expect", expect, sizeof expect);
        expect_set(expect);
    }
    sscanf(req, "%15s %255s", method, path);
    /* The whole body is read (have); what fits in req is kept (kept) and echoed. */
    size_t want = (size_t)atol(clen), have = len - (size_t)(end + 4 - req), kept = have;
    char *body = end + 4, scratch[16384];
    while (have < want) {
        size_t room = sizeof req - 1 - (size_t)(body - req) - kept;
        ssize_t k = room > 0 ? recv(fd, body + kept, room, 0) : recv(fd, scratch, sizeof scratch, 0);
        if (k <= 0) break;
        have += (size_t)k;
        if (room > 0) kept += (size_t)k;
    }

    if (strcmp(path, "/json") == 0) {
        const char *b = "{\"ok\":true,\"n\":4980}";
        respond(fd, 200, "X-Multi: a\r\nX-Multi: b\r\n", "application/json; charset=utf-8", b, strlen(b));
    } else if (strcmp(path, "/text") == 0) {
        respond(fd, 200, NULL, "text/plain", "hello\0world", 11);
    } else if (strcmp(path, "/echo") == 0) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "method", method);
        char *bt = strndup(body, kept);
        cJSON_AddStringToObject(o, "body", bt ? bt : "");
        free(bt);
        cJSON_AddNumberToObject(o, "bodyLength", (double)have);
        cJSON_AddStringToObject(o, "ctype", ctype);
        cJSON_AddStringToObject(o, "xtest", xtest);
        char *t = cJSON_PrintUnformatted(o);
        respond(fd, 200, NULL, "application/json", t, strlen(t));
        cJSON_free(t);
        cJSON_Delete(o);
    } else if (strncmp(path, "/status/", 8) == 0) {
        char b[32];
        int n = snprintf(b, sizeof b, "nope %d", atoi(path + 8));
        respond(fd, atoi(path + 8), NULL, "text/plain", b, (size_t)n);
    } else if (strcmp(path, "/badjson") == 0) {
        respond(fd, 200, NULL, "application/json", "{oops", 5);
    } else if (strcmp(path, "/slow") == 0) {
        struct timeval tv = {60, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        char sink[256];
        while (recv(fd, sink, sizeof sink, 0) > 0) {}
        respond(fd, 200, NULL, "text/plain", "late", 4); /* to a closed peer: fails, unread */
    } else if (strcmp(path, "/redirect") == 0) {
        respond(fd, 302, "Location: /json\r\n", "text/plain", "", 0);
    } else {
        respond(fd, 404, NULL, "text/plain", "no such path", 12);
    }
}

static void *serve(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&srv_stop, __ATOMIC_ACQUIRE)) {
        int fd = accept(srv_fd, NULL, NULL);
        if (fd < 0) break; /* shutdown() by server_stop */
        serve_one(fd);
        close(fd);
    }
    return NULL;
}

static int server_start(void)
{
    srv_fd = socket(AF_INET, SOCK_STREAM, 0);
    if (srv_fd < 0) return -1;
    int one = 1;
    setsockopt(srv_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    if (bind(srv_fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(srv_fd, 16) != 0 ||
        getsockname(srv_fd, (struct sockaddr *)&a, &al) != 0) {
        close(srv_fd);
        return -1;
    }
    srv_port = ntohs(a.sin_port);
    if (pthread_create(&srv_thread, NULL, serve, NULL) != 0) {
        close(srv_fd);
        return -1;
    }
    return 0;
}

static void server_stop(void)
{
    __atomic_store_n(&srv_stop, 1, __ATOMIC_RELEASE);
    shutdown(srv_fd, SHUT_RDWR);
    pthread_join(srv_thread, NULL);
    close(srv_fd);
}

/* A port nothing listens on: bind one, then close it. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    int port = 1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &al) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

static dwf_val *url(const char *path)
{
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d%s", srv_port, path);
    return S(u);
}

/* ---- http ---------------------------------------------------------------------------------- */
static void t_http_json(void)
{
    dwf_val *r = dwf_http(C, "GET", url("/json"), NULL, NULL, 5);
    NO_ERR();
    EQ_JSON("200", dwf_get(C, r, "status"));
    EQ_JSON("{\"ok\":true,\"n\":4980}", dwf_get(C, r, "body")); /* parsed, not text */
    dwf_val *h = dwf_get(C, r, "headers");
    EQ_JSON("\"application/json; charset=utf-8\"", dwf_get(C, h, "content-type")); /* lowercase */
    EQ_JSON("\"a, b\"", dwf_get(C, h, "x-multi"));
    EQ_JSON("\"20\"", dwf_get(C, h, "content-length"));
}

static void t_http_text_with_nul(void)
{
    dwf_val *r = dwf_http(C, "GET", url("/text"), J("{}"), dwf_null(C), 5);
    NO_ERR();
    EQ_JSON("\"hello\\u0000world\"", dwf_get(C, r, "body"));
    /* JSON content that does not parse stays text */
    r = dwf_http(C, "GET", url("/badjson"), NULL, NULL, 5);
    NO_ERR();
    EQ_JSON("\"{oops\"", dwf_get(C, r, "body"));
    /* redirects are followed; the final response's headers only */
    r = dwf_http(C, "GET", url("/redirect"), NULL, NULL, 5);
    NO_ERR();
    EQ_JSON("200", dwf_get(C, r, "status"));
    EQ_JSON("null", dwf_get(C, dwf_get(C, r, "headers"), "location"));
}

static void t_http_request_bodies(void)
{
    /* a non-string body goes as JSON, with Content-Type application/json */
    dwf_val *r = dwf_http(C, "POST", url("/echo"), J("{\"X-Test\":\"yes\"}"),
                          J("{\"orderId\":\"ORD-7\",\"amount\":0.1}"), 5);
    NO_ERR();
    EQ_JSON("{\"method\":\"POST\",\"body\":\"{\\\"orderId\\\":\\\"ORD-7\\\",\\\"amount\\\":0.1}\","
            "\"bodyLength\":32,\"ctype\":\"application/json\",\"xtest\":\"yes\"}",
            dwf_get(C, r, "body"));
    /* a string body goes raw (its NUL byte too); the caller's Content-Type is kept */
    r = dwf_http(C, "PUT", url("/echo"), J("{\"Content-Type\":\"text/plain\",\"X-Test\":42}"),
                 dwf_strn(C, "a\0b", 3), 5);
    NO_ERR();
    EQ_JSON("\"PUT\"", dwf_get(C, dwf_get(C, r, "body"), "method"));
    EQ_JSON("3", dwf_get(C, dwf_get(C, r, "body"), "bodyLength"));
    EQ_JSON("\"text/plain\"", dwf_get(C, dwf_get(C, r, "body"), "ctype"));
    EQ_JSON("\"42\"", dwf_get(C, dwf_get(C, r, "body"), "xtest")); /* header values as text */
    /* a large body goes at once: no "Expect: 100-continue" asked, which libcurl adds above
     * 1 MiB (a 1 s pause with a server that does not answer it, as most do not) */
    size_t nbig = 2u << 20;
    char *big = malloc(nbig + 1);
    TT_ASSERT(big != NULL);
    if (!big) return;
    memset(big, 'x', nbig);
    big[nbig] = '\0';
    expect_set("unset");
    r = dwf_http(C, "POST", url("/echo"), NULL, S(big), 5);
    free(big);
    NO_ERR();
    EQ_JSON("2097152", dwf_get(C, dwf_get(C, r, "body"), "bodyLength"));
    TT_ASSERT(expect_is("")); /* the server saw the request, and no Expect in it */
    /* DELETE without a body; a JSON array body with DELETE keeps the method */
    r = dwf_http(C, "DELETE", url("/echo"), NULL, NULL, 5);
    NO_ERR();
    EQ_JSON("{\"method\":\"DELETE\",\"body\":\"\",\"bodyLength\":0,\"ctype\":\"\",\"xtest\":\"\"}",
            dwf_get(C, r, "body"));
    r = dwf_http(C, "PATCH", url("/echo"), NULL, S("p"), 5);
    NO_ERR();
    EQ_JSON("\"PATCH\"", dwf_get(C, dwf_get(C, r, "body"), "method"));
    r = dwf_http(C, "HEAD", url("/json"), NULL, NULL, 5);
    NO_ERR();
    EQ_JSON("200", dwf_get(C, r, "status"));
    EQ_JSON("\"\"", dwf_get(C, r, "body")); /* no body read for HEAD */
    r = dwf_http(C, "DELETE", url("/echo"), NULL, J("[1,2]"), 5);
    NO_ERR();
    EQ_JSON("\"DELETE\"", dwf_get(C, dwf_get(C, r, "body"), "method"));
    EQ_JSON("\"[1,2]\"", dwf_get(C, dwf_get(C, r, "body"), "body"));
}

static void t_http_status_errors(void)
{
    char want[128];
    EQ_JSON("null", dwf_http(C, "GET", url("/status/503"), NULL, NULL, 5));
    snprintf(want, sizeof want, "GET http://127.0.0.1:%d/status/503 returned HTTP 503: nope 503", srv_port);
    ERR("Http5xx", want);
    dwf_http(C, "POST", url("/status/500"), NULL, S("x"), 5);
    ERR("Http5xx", "POST");
    dwf_http(C, "GET", url("/status/429"), NULL, NULL, 5);
    ERR("Http429", "429");
    dwf_http(C, "GET", url("/status/404"), NULL, NULL, 5);
    ERR("HttpError", "404");
    dwf_http(C, "GET", url("/status/400"), NULL, NULL, 5);
    ERR("HttpError", "400");
    dwf_http(C, "GET", url("/status/204"), NULL, NULL, 5);
    NO_ERR();
}

static void t_http_network_errors(void)
{
    char u[64];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/x", closed_port());
    EQ_JSON("null", dwf_http(C, "GET", S(u), NULL, NULL, 5));
    ERR("HttpNetworkError", u);
    /* /slow answers only once the client gave up: a Timeout says dwf gave up at its 0.3 s */
    dwf_http(C, "GET", url("/slow"), NULL, NULL, 0.3);
    ERR("Timeout", "/slow");
    dwf_http(C, "GET", S("foo://nowhere"), NULL, NULL, 5);
    ERR("HttpError", "foo://nowhere");
    dwf_http(C, "GE T", url("/json"), NULL, NULL, 5);
    ERR("TypeError", "method");
    dwf_http(C, "GET", S("file:///etc/hostname"), NULL, NULL, 5); /* http(s) only */
    ERR("HttpError", "file:///etc/hostname");
    dwf_http(C, "GET", dwf_num(C, 1), NULL, NULL, 5);
    ERR("TypeError", "url");
    dwf_http(C, "GET", url("/json"), S("x"), NULL, 5);
    ERR("TypeError", "headers");
    dwf_http(C, "GET", url("/json"), J("{\"X-A\":\"1\\r\\nX-Injected: 2\"}"), NULL, 5);
    ERR("TypeError", "X-A");
    dwf_http(C, "GET", url("/json"), J("{\"X:B\":\"1\"}"), NULL, 5);
    ERR("TypeError", "X:B");
}

/* HTTPS against `openssl s_server -www` with a throw-away self-signed certificate: refused
 * while the certificate is unknown (a network error), accepted once SSL_CERT_FILE names it.
 * Skipped, without a PASS line, where the openssl tool is missing. */
static int have_openssl(void) { return system("openssl version >/dev/null 2>&1") == 0; }

static void t_https_ca_bundle(void)
{
    char dir[] = "/tmp/dwf-tls-XXXXXX";
    TT_ASSERT(mkdtemp(dir) != NULL);
    char cmd[512], cert[64], key[64];
    snprintf(cert, sizeof cert, "%s/cert.pem", dir);
    snprintf(key, sizeof key, "%s/key.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
             "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1", key, cert);
    TT_ASSERT(system(cmd) == 0);
    int port = closed_port();
    pid_t pid = fork();
    if (pid == 0) {
        char p[16];
        snprintf(p, sizeof p, "%d", port);
        int devnull = open("/dev/null", O_RDWR);
        dup2(devnull, 0), dup2(devnull, 1), dup2(devnull, 2);
        execlp("openssl", "openssl", "s_server", "-accept", p, "-cert", cert, "-key", key,
               "-www", "-quiet", (char *)NULL);
        _exit(127);
    }
    TT_ASSERT(pid > 0);
    /* wait until it listens (the bound only ends the wait for a server that never starts) */
    int up = 0;
    for (int i = 0; i < 2400 && !up; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        up = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0) close(fd);
        if (!up) {
            struct timespec ts = {0, 50000000};
            nanosleep(&ts, NULL);
        }
    }
    TT_ASSERT(up);
    char u[64];
    snprintf(u, sizeof u, "https://127.0.0.1:%d/", port);
    unsetenv("SSL_CERT_FILE");
    unsetenv("CURL_CA_BUNDLE");
    EQ_JSON("null", dwf_http(C, "GET", S(u), NULL, NULL, 5));
    ERR("HttpNetworkError", u); /* not signed by a CA we know */
    setenv("SSL_CERT_FILE", cert, 1);
    dwf_val *r = dwf_http(C, "GET", S(u), NULL, NULL, 5);
    NO_ERR();
    EQ_JSON("200", dwf_get(C, r, "status"));
    dwf_val *body = dwf_get(C, r, "body");
    TT_ASSERT(cJSON_IsString(body) && strstr(body->valuestring, "s_server") != NULL);
    unsetenv("SSL_CERT_FILE");
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

/* ---- log ------------------------------------------------------------------------------------ */
/* Run dwf_log with stderr sent to a temporary file; returns what it wrote (caller frees). */
static char *capture_log(int level, dwf_val *msg)
{
    fflush(stderr);
    int saved = dup(2);
    FILE *tmp = tmpfile();
    if (saved < 0 || !tmp) return strdup("(capture failed)");
    dup2(fileno(tmp), 2);
    dwf_log(C, level, msg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    long n = ftell(tmp);
    char *text = calloc(1, n > 0 ? (size_t)n + 1 : 1);
    rewind(tmp);
    if (text && n > 0 && fread(text, 1, (size_t)n, tmp) != (size_t)n) text[0] = '\0';
    fclose(tmp);
    return text;
}

#define LOG_HEAD "{\"requestId\":\"" TEST_REQUEST_ID "\",\"timestamp\":\"2026-03-20T15:12:26.545Z\","

static void t_log_in_step(void)
{
    dwf_at(C, 12, 9);
    char *t = capture_log(DWF_LOG_INFO, S("Validating order ORD-7"));
    TT_EQ_STR(LOG_HEAD "\"level\":\"INFO\",\"executionArn\":\"" TEST_ARN "\","
              "\"operationId\":\"" STEP_OP_ID "\",\"operationName\":\"" STEP_NAME "\","
              "\"attempt\":1,\"location\":\"value.dwf:12\",\"message\":\"Validating order ORD-7\"}\n", t);
    free(t);
    /* a non-string message is logged as the value itself */
    t = capture_log(DWF_LOG_ERROR, J("{\"n\":0.1,\"s\":\"a\\u0000\"}"));
    TT_ASSERT(strstr(t, "\"level\":\"ERROR\"") != NULL);
    TT_ASSERT(strstr(t, "\"message\":{\"n\":0.1,\"s\":\"a\\u0000\"}}\n") != NULL);
    free(t);
    EQ_JSON("1", dwf_attempt(C));
    NO_ERR();
}

static void t_log_levels(void)
{
    setenv("AWS_LAMBDA_LOG_LEVEL", "warn", 1);
    char *t = capture_log(DWF_LOG_INFO, S("hidden"));
    TT_EQ_STR("", t);
    free(t);
    t = capture_log(DWF_LOG_DEBUG, S("hidden"));
    TT_EQ_STR("", t);
    free(t);
    t = capture_log(DWF_LOG_WARN, S("shown"));
    TT_ASSERT(strstr(t, "\"level\":\"WARN\"") && strstr(t, "\"message\":\"shown\""));
    free(t);
    setenv("AWS_LAMBDA_LOG_LEVEL", "ERROR", 1);
    t = capture_log(DWF_LOG_WARN, S("hidden"));
    TT_EQ_STR("", t);
    free(t);
    setenv("AWS_LAMBDA_LOG_LEVEL", "nonsense", 1); /* the SDK falls back to DEBUG */
    t = capture_log(DWF_LOG_DEBUG, S("shown"));
    TT_ASSERT(strstr(t, "\"level\":\"DEBUG\"") != NULL);
    free(t);
    unsetenv("AWS_LAMBDA_LOG_LEVEL");
    t = capture_log(DWF_LOG_DEBUG, S("shown"));
    TT_ASSERT(strstr(t, "\"level\":\"DEBUG\"") != NULL);
    free(t);
}

static void t_log_outside_step(void)
{
    dwf_at(C, 3, 1);
    char *t = capture_log(DWF_LOG_INFO, S("top"));
    /* no operation fields outside a step body, as the SDK's context logger */
    TT_EQ_STR(LOG_HEAD "\"level\":\"INFO\",\"executionArn\":\"" TEST_ARN "\","
              "\"location\":\"value.dwf:3\",\"message\":\"top\"}\n", t);
    free(t);
}

/* ---- call ----------------------------------------------------------------------------------- */
static cJSON *cf_sum(dwf_ctx *c, int argc, cJSON *const *argv)
{
    double s = 0;
    for (int i = 0; i < argc; i++) {
        if (!cJSON_IsNumber(argv[i])) {
            dwf_failf(c, "BadArgument", "sum: argument %d is not a number", i + 1);
            return NULL;
        }
        s += argv[i]->valuedouble;
    }
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "sum", s);
    cJSON_AddNumberToObject(o, "argc", argc);
    return o;
}

static cJSON *cf_nothing(dwf_ctx *c, int argc, cJSON *const *argv)
{
    (void)c, (void)argc, (void)argv;
    return NULL;
}

static void t_call(void)
{
    dwf_val *args[] = {dwf_num(C, 1.5), dwf_num(C, 2)};
    dwf_val *r = dwf_call(C, "sum", cf_sum, 2, args);
    NO_ERR();
    EQ_JSON("{\"sum\":3.5,\"argc\":2}", r);
    EQ_JSON("[1.5,2]", dwf_arr(C, 2, args[0], args[1])); /* arguments untouched */
    dwf_val *bad[] = {S("x")};
    EQ_JSON("null", dwf_call(C, "sum", cf_sum, 1, bad));
    ERR("BadArgument", "argument 1");
    EQ_JSON("null", dwf_call(C, "nothing", cf_nothing, 0, NULL));
    NO_ERR();
    dwf_call(C, "missing", NULL, 0, NULL);
    ERR("CallError", "missing");
}

static void root_tests(void)
{
    TT_RUN(t_log_outside_step);
    TT_RUN(t_log_levels);
    TT_RUN(t_call);
}

static int server_up;

static void step_tests(void)
{
    if (server_up) {
        TT_RUN(t_http_json);
        TT_RUN(t_http_text_with_nul);
        TT_RUN(t_http_request_bodies);
        TT_RUN(t_http_status_errors);
        TT_RUN(t_http_network_errors);
        if (have_openssl()) TT_RUN(t_https_ca_bundle);
    }
    TT_RUN(t_log_in_step);
}

/* ---- requests from several threads at once ---------------------------------------------------- */
/* Four parallel branches, each a step making a request: the branches run on OS threads, each
 * with its own easy handle, so the requests overlap and nothing is shared. */
static int http_branch_step(dwf_ctx *c, void *frame, dwf_val **out)
{
    (void)frame;
    char u[128];
    snprintf(u, sizeof u, "http://127.0.0.1:%d/json", srv_port);
    *out = dwf_get(c, dwf_http(c, "GET", dwf_str(c, u), NULL, NULL, 5), "body");
    return dwf_failed(c) ? DWF_ERROR : DWF_OK;
}

static int http_branch(dwf_ctx *c, void *frame, dwf_val **out)
{
    static const dwf_retry once = {1, 1, 1, 1, DWF_JITTER_NONE, NULL};
    static const dwf_step_opts opts = {.retry = &once};
    return dwf_step(c, "get", http_branch_step, frame, &opts, out);
}

static int http_threads_body(dwf_ctx *c, void *frame, dwf_val **out)
{
    static const dwf_branch branches[4] = {
        {NULL, http_branch}, {NULL, http_branch}, {NULL, http_branch}, {NULL, http_branch}};
    dwf_val *all = NULL;
    DWF_TRY(dwf_parallel(c, "requests", branches, 4, frame, NULL, &all));
    *out = dwf_get(c, all, "results");
    return DWF_OK;
}

static void t_http_from_parallel_branches(void)
{
    static const dwf_workflow wf = {.name = "http_threads", .source = TEST_SOURCE,
                                    .function_name = "value-test", .source_hash = "0",
                                    .body = http_threads_body, .retention_days = 1,
                                    .execution_timeout = 60, .memory_mb = 128, .timeout_s = 30};
    cJSON *ev = cJSON_Parse(
        "{\"DurableExecutionArn\":\"" TEST_ARN "\",\"CheckpointToken\":\"tok-1\","
        "\"InitialExecutionState\":{\"Operations\":[{\"Id\":\"exec-1\",\"Type\":\"EXECUTION\","
        "\"Status\":\"STARTED\",\"StartTimestamp\":\"2026-03-20T15:12:26.545Z\","
        "\"ExecutionDetails\":{\"InputPayload\":\"{}\"}}],\"NextMarker\":\"\"}}");
    dwf_transport t = {tp_checkpoint, tp_get_state, tp_now, NULL};
    dwf_invoke_opts opts = {.request_id = TEST_REQUEST_ID};
    dwf_error err = {"", ""};
    cJSON *resp = dwf_run_invocation(&wf, ev, &t, &opts, &err);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(resp, "Status");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(resp, "Result");
    TT_EQ_STR("SUCCEEDED", cJSON_IsString(st) ? st->valuestring : err.message);
    TT_EQ_STR("[{\"ok\":true,\"n\":4980},{\"ok\":true,\"n\":4980},{\"ok\":true,\"n\":4980},"
              "{\"ok\":true,\"n\":4980}]",
              cJSON_IsString(res) ? res->valuestring : "(no result)");
    cJSON_Delete(resp);
    cJSON_Delete(ev);
}

/* ---- log suppression on a real replay ------------------------------------------------------- */
/* The second invocation of a workflow whose first step is the only recorded operation: a log
 * line before that step was already written by the first invocation, so it must not appear
 * again; once the last recorded operation has replayed, lines are new and appear (the core
 * leaves replay mode as soon as the next operation has no record, checkAndUpdateReplayMode's
 * rule). Note: the JS SDK applies that rule after a replayed wait, invoke or callback but not
 * after a replayed step (its step handler never calls it), so there a line between the last
 * replayed step and the next operation is dropped; dwf writes it rather than lose it. */
static char *log_before, *log_between, *log_after;
static int log_step_ran, new_step_ran;

static int new_step(dwf_ctx *c, void *frame, dwf_val **out)
{
    (void)c, (void)frame;
    new_step_ran = 1;
    *out = NULL;
    return DWF_OK;
}

static int noop_step(dwf_ctx *c, void *frame, dwf_val **out)
{
    (void)c, (void)frame;
    log_step_ran = 1;
    *out = NULL;
    return DWF_OK;
}

static int log_replay_body(dwf_ctx *c, void *frame, dwf_val **out)
{
    C = c;
    log_before = capture_log(DWF_LOG_INFO, S("before the step"));
    dwf_val *r = NULL;
    int rc = dwf_step(c, STEP_NAME, noop_step, frame, NULL, &r);
    log_between = capture_log(DWF_LOG_INFO, S("between the steps"));
    if (rc == DWF_OK) rc = dwf_step(c, "new-step", new_step, frame, NULL, &r);
    log_after = capture_log(DWF_LOG_INFO, S("after the new step"));
    C = NULL;
    *out = NULL;
    return rc;
}

static void t_log_suppressed_while_replaying_on_core(void)
{
    static const dwf_workflow wf = {.name = "log_replay", .source = TEST_SOURCE,
                                    .function_name = "value-test", .source_hash = "0",
                                    .body = log_replay_body, .retention_days = 1,
                                    .execution_timeout = 60, .memory_mb = 128, .timeout_s = 30};
    cJSON *ev = cJSON_Parse(
        "{\"DurableExecutionArn\":\"" TEST_ARN "\",\"CheckpointToken\":\"tok-1\","
        "\"InitialExecutionState\":{\"Operations\":[{\"Id\":\"exec-1\",\"Type\":\"EXECUTION\","
        "\"Status\":\"STARTED\",\"StartTimestamp\":\"2026-03-20T15:12:26.545Z\","
        "\"ExecutionDetails\":{\"InputPayload\":\"{}\"}},{\"Id\":\"" STEP_OP_ID "\","
        "\"Type\":\"STEP\",\"SubType\":\"Step\",\"Name\":\"" STEP_NAME "\","
        "\"Status\":\"SUCCEEDED\",\"StartTimestamp\":\"2026-03-20T15:12:26.545Z\","
        "\"StepDetails\":{\"Attempt\":1,\"Result\":\"null\"}}],\"NextMarker\":\"\"}}");
    dwf_transport t = {tp_checkpoint, tp_get_state, tp_now, NULL};
    dwf_invoke_opts opts = {.request_id = TEST_REQUEST_ID};
    dwf_error err = {"", ""};
    cJSON *resp = dwf_run_invocation(&wf, ev, &t, &opts, &err);
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(resp, "Status");
    TT_EQ_STR("SUCCEEDED", cJSON_IsString(st) ? st->valuestring : err.message);
    TT_ASSERT(!log_step_ran);
    TT_ASSERT(new_step_ran);
    TT_EQ_STR("", log_before);
    TT_ASSERT(log_between && strstr(log_between, "\"message\":\"between the steps\"") != NULL);
    TT_ASSERT(log_after && strstr(log_after, "\"message\":\"after the new step\"") != NULL);
    free(log_before);
    free(log_between);
    free(log_after);
    cJSON_Delete(resp);
    cJSON_Delete(ev);
}

int main(void)
{
    server_up = server_start() == 0;
    if (!server_up) {
        tt_current = "server_start";
        TT_FAIL_("%s", "cannot start the test HTTP server");
    }
    value_harness();
    TT_RUN(t_log_suppressed_while_replaying_on_core);
    if (server_up) {
        TT_RUN(t_http_from_parallel_branches);
        server_stop();
    }
    return TT_EXIT();
}
