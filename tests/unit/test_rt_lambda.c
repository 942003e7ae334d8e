/*
 * test_rt_lambda.c: the Lambda transport (lambda/lambda.c) against a fake AWS.
 *
 * One libmicrohttpd server on 127.0.0.1 plays both the Lambda Runtime API and the durable
 * execution API. Each test queues scripted answers (status, headers, body, matched by a piece
 * of the path); the server records every request it gets, with its raw path and query (a no-op
 * unescape callback keeps them as sent) and checks its SigV4 signature by signing the request
 * again from what arrived, the way the service would. The tests then look at what was sent.
 * The invocation runner is a stand-in (the replay core is tested on its own), so this covers
 * exactly the loop and the transport. libmicrohttpd is reached through util/dlib.h as in
 * the emulator (libdwf no longer links it), so this program needs no -lmicrohttpd either.
 */
#include "dlib.h" /* the fake server's libmicrohttpd, dlopen'd as the emulator does */
#include "lambda_internal.h"
#include "memcache.h"
#include "sigv4.h"
#include "tinytest.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define KEY_ID "AKIDTESTLAMBDA"
#define SECRET "test/secret+key=="
#define TOKEN "IQoJ+session/token=="

/* ---- the fake server ---------------------------------------------------------------------- */
typedef struct reqrec {
    char method[8];
    char path[2048];
    char query[2048];
    char host[256];
    char auth[512];
    char token[256];
    char amz_date[32];
    char sha[80];
    char ctype[128];
    char fn_error_type[128];
    char *body;
    int sig_ok;
    int client_port; /* the connection's source port: which requests shared a connection */
} reqrec;

typedef struct script {
    const char *match; /* substring of the path */
    int status;
    const char *h1, *v1, *h2, *v2, *h3, *v3; /* optional headers */
    const char *body;
    int hold; /* answer only once the test calls release_held() (the client has given up) */
    int used;
} script;

#define MAX_REQS 64
#define MAX_SCRIPT 32
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static reqrec reqs[MAX_REQS];
static int nreqs;
static script scripts[MAX_SCRIPT];
static int nscripts;
static int port;
static char addr[64], endpoint[96];
/* Held answers wait for this (under mu), set by release_held() and cleared when a held script
 * is added; 60 s at most, which only a hung test reaches. */
static int held_released;
static pthread_cond_t held_cv = PTHREAD_COND_INITIALIZER;

static void release_held(void) {
    pthread_mutex_lock(&mu);
    held_released = 1;
    pthread_cond_broadcast(&held_cv);
    pthread_mutex_unlock(&mu);
}

static void reset(void) {
    pthread_mutex_lock(&mu);
    for (int i = 0; i < nreqs; i++) free(reqs[i].body);
    memset(reqs, 0, sizeof reqs);
    nreqs = 0;
    memset(scripts, 0, sizeof scripts);
    nscripts = 0;
    pthread_mutex_unlock(&mu);
}

static void add_script(script s) {
    pthread_mutex_lock(&mu);
    if (nscripts < MAX_SCRIPT) scripts[nscripts++] = s;
    if (s.hold) held_released = 0;
    pthread_mutex_unlock(&mu);
}

static int count_reqs(const char *path_piece) {
    int n = 0;
    pthread_mutex_lock(&mu);
    for (int i = 0; i < nreqs; i++)
        if (strstr(reqs[i].path, path_piece)) n++;
    pthread_mutex_unlock(&mu);
    return n;
}

/* The i-th recorded request whose path holds path_piece (NULL if none). */
static reqrec *find_req(const char *path_piece, int i) {
    for (int k = 0; k < nreqs; k++)
        if (strstr(reqs[k].path, path_piece) && i-- == 0) return &reqs[k];
    return NULL;
}

static size_t no_unescape(void *cls, struct MHD_Connection *c, char *uri) {
    (void)cls;
    (void)c;
    return strlen(uri);
}

typedef struct upload {
    char *data;
    size_t len;
} upload;

static enum MHD_Result collect_query(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value) {
    (void)kind;
    reqrec *r = cls;
    size_t n = strlen(r->query);
    snprintf(r->query + n, sizeof r->query - n, "%s%s=%s", n ? "&" : "", key, value ? value : "");
    return MHD_YES;
}

static void hdr(struct MHD_Connection *c, const char *name, char *dst, size_t n) {
    const char *v = dwf__mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    snprintf(dst, n, "%s", v ? v : "");
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
}

static void pct_decode(const char *s, size_t n, char *out) {
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n + 1 && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
            out[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
}

/* Sign the request again from what arrived and compare with its Authorization header. */
static int verify_signature(reqrec *r) {
    if (!r->auth[0] || !r->amz_date[0]) return 0;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!strptime(r->amz_date, "%Y%m%dT%H%M%SZ", &tm)) return 0;
    char names[8][256], values[8][512];
    dwf__sigv4_param q[8];
    int nq = 0;
    const char *p = r->query;
    while (*p && nq < 8) {
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        size_t kl = eq ? (size_t)(eq - p) : len;
        pct_decode(p, kl, names[nq]);
        if (eq) pct_decode(eq + 1, len - kl - 1, values[nq]);
        else values[nq][0] = '\0';
        q[nq].name = names[nq];
        q[nq].value = values[nq];
        nq++;
        p += len;
        if (*p == '&') p++;
    }
    char region[64] = "";
    const char *cred = strstr(r->auth, "Credential=");
    if (cred) sscanf(cred, "Credential=%*[^/]/%*[^/]/%63[^/]", region);
    dwf__sigv4_creds creds = {KEY_ID, SECRET, r->token[0] ? r->token : NULL, region, "lambda"};
    dwf__sigv4_request req = {r->method, r->host, r->path, q, nq, r->ctype[0] ? r->ctype : NULL,
                              r->body, r->body ? strlen(r->body) : 0, timegm(&tm), NULL, 0, 0};
    dwf__sigv4_result res;
    if (dwf__sigv4_sign(&creds, &req, &res) < 0) return 0;
    int ok = strcmp(res.authorization, r->auth) == 0 && strcmp(res.payload_hash, r->sha) == 0 &&
             strcmp(res.query, r->query) == 0;
    dwf__sigv4_result_free(&res);
    return ok;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)cls;
    (void)version;
    upload *u = *con_cls;
    if (!u) {
        u = calloc(1, sizeof *u);
        if (!u) return MHD_NO;
        *con_cls = u;
        return MHD_YES;
    }
    if (*upload_data_size) {
        char *d = realloc(u->data, u->len + *upload_data_size + 1);
        if (!d) return MHD_NO;
        memcpy(d + u->len, upload_data, *upload_data_size);
        u->data = d;
        u->len += *upload_data_size;
        u->data[u->len] = '\0';
        *upload_data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&mu);
    reqrec *r = nreqs < MAX_REQS ? &reqs[nreqs++] : NULL;
    /* The answer is a copy of its script, taken under the lock: an answer delayed past its test
     * (test_attempt_cut_at_deadline's client gives up after 1.4 s; the answer then leaves)
     * used to read scripts[] again after its sleep, by then a later test's, whose header values
     * pointed into that test's stack frame: valgrind reported them uninitialised (1 run in 10
     * of the valgrind unit suite on a loaded machine). A delayed script's strings must outlive
     * its test (literals). */
    script sc, *s = NULL;
    if (r) {
        snprintf(r->method, sizeof r->method, "%s", method);
        snprintf(r->path, sizeof r->path, "%s", url);
        dwf__mhd.MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_query, r);
        hdr(c, "Host", r->host, sizeof r->host);
        hdr(c, "Authorization", r->auth, sizeof r->auth);
        hdr(c, "X-Amz-Security-Token", r->token, sizeof r->token);
        hdr(c, "X-Amz-Date", r->amz_date, sizeof r->amz_date);
        hdr(c, "X-Amz-Content-Sha256", r->sha, sizeof r->sha);
        hdr(c, "Content-Type", r->ctype, sizeof r->ctype);
        hdr(c, "Lambda-Runtime-Function-Error-Type", r->fn_error_type, sizeof r->fn_error_type);
        const union MHD_ConnectionInfo *ci =
            dwf__mhd.MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
            r->client_port = ntohs(((const struct sockaddr_in *)ci->client_addr)->sin_port);
        r->body = u->data ? u->data : strdup("");
        u->data = NULL;
        r->sig_ok = strstr(url, "/2025-12-01/") ? verify_signature(r) : 0;
        for (int i = 0; i < nscripts; i++) {
            if (!scripts[i].used && strstr(url, scripts[i].match)) {
                scripts[i].used = 1;
                sc = scripts[i];
                s = &sc;
                break;
            }
        }
    }
    int status = 404;
    const char *body = "{\"message\":\"no scripted answer\"}";
    if (s) {
        status = s->status;
        body = s->body ? s->body : "";
    } else if (strcmp(method, "POST") == 0 && strstr(url, "/2018-06-01/runtime/")) {
        status = 202;
        body = "{\"status\":\"OK\"}";
    }
    if (s && s->hold) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until); /* the clock a default condition variable waits on */
        until.tv_sec += 60;
        while (!held_released && pthread_cond_timedwait(&held_cv, &mu, &until) != ETIMEDOUT) {}
    }
    struct MHD_Response *resp =
        dwf__mhd.MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (s && s->h1) dwf__mhd.MHD_add_response_header(resp, s->h1, s->v1);
    if (s && s->h2) dwf__mhd.MHD_add_response_header(resp, s->h2, s->v2);
    if (s && s->h3) dwf__mhd.MHD_add_response_header(resp, s->h3, s->v3);
    pthread_mutex_unlock(&mu);
    enum MHD_Result ret = dwf__mhd.MHD_queue_response(c, (unsigned)status, resp);
    dwf__mhd.MHD_destroy_response(resp);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)c;
    (void)toe;
    upload *u = *con_cls;
    if (u) {
        free(u->data);
        free(u);
    }
    *con_cls = NULL;
}

/* A port nothing listens on: bind one, note it, close it. */
static int dead_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int p = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        p = ntohs(sa.sin_port);
    if (fd >= 0) close(fd);
    return p;
}

/* ---- environment and helpers -------------------------------------------------------------- */
static void env_default(void) {
    setenv("AWS_REGION", "eu-central-1", 1);
    unsetenv("AWS_DEFAULT_REGION");
    setenv("AWS_ACCESS_KEY_ID", KEY_ID, 1);
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    setenv("AWS_SESSION_TOKEN", TOKEN, 1);
    setenv("AWS_ENDPOINT_URL_LAMBDA", endpoint, 1);
    unsetenv("AWS_ENDPOINT_URL");
    setenv("DWF_LAMBDA_MAX_ATTEMPTS", "4", 1);
    setenv("DWF_LAMBDA_BACKOFF_MS", "5", 1);
    /* a proxy for http would send the transport through libcurl (test_plain_endpoint) */
    unsetenv("http_proxy");
    unsetenv("all_proxy");
    unsetenv("ALL_PROXY");
}

static const char *ARN =
    "arn:aws:lambda:eu-central-1:123456789012:function:orders:$LATEST/durable-execution/run+1=/ab/cd";
static const char *ARN_PATH =
    "/2025-12-01/durable-executions/"
    "arn%3Aaws%3Alambda%3Aeu-central-1%3A123456789012%3Afunction%3Aorders%3A%24LATEST"
    "%2Fdurable-execution%2Frun%2B1%3D%2Fab%2Fcd";

static cJSON *checkpoint_request(void) {
    return cJSON_Parse("{\"CheckpointToken\":\"tok+1/=\",\"Updates\":[{\"Id\":\"c4ca4238a0b92382\","
                       "\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"1\"}]}");
}

static const char *json_str(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* ---- configuration ------------------------------------------------------------------------- */
static void test_endpoint_from_env(void) {
    dwf__lambda_api api;
    dwf_error err;
    env_default();
    unsetenv("AWS_ENDPOINT_URL_LAMBDA");
    TT_EQ_INT(0, dwf__lambda_api_init(&api, &err));
    TT_EQ_STR("https://lambda.eu-central-1.amazonaws.com", api.endpoint);
    TT_EQ_STR("lambda.eu-central-1.amazonaws.com", api.host);
    TT_EQ_STR(TOKEN, api.session_token);
    dwf__lambda_api_free(&api);

    setenv("AWS_ENDPOINT_URL", "https://generic.example:443/base/", 1);
    TT_EQ_INT(0, dwf__lambda_api_init(&api, &err));
    TT_EQ_STR("https://generic.example:443/base", api.endpoint);
    TT_EQ_STR("generic.example", api.host);
    dwf__lambda_api_free(&api);

    setenv("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9999", 1);
    TT_EQ_INT(0, dwf__lambda_api_init(&api, &err));
    TT_EQ_STR("http://127.0.0.1:9999", api.endpoint);
    TT_EQ_STR("127.0.0.1:9999", api.host);
    dwf__lambda_api_free(&api);

    unsetenv("AWS_REGION");
    setenv("AWS_DEFAULT_REGION", "ap-south-1", 1);
    unsetenv("AWS_ENDPOINT_URL_LAMBDA");
    unsetenv("AWS_ENDPOINT_URL");
    setenv("SSL_CERT_FILE", "/nonexistent/ca.pem", 1);
    TT_EQ_INT(0, dwf__lambda_api_init(&api, &err));
    TT_EQ_STR("https://lambda.ap-south-1.amazonaws.com", api.endpoint);
    TT_EQ_STR("/nonexistent/ca.pem", api.cainfo);
    dwf__lambda_api_free(&api);
    unsetenv("SSL_CERT_FILE");

    unsetenv("AWS_DEFAULT_REGION");
    TT_EQ_INT(-1, dwf__lambda_api_init(&api, &err));
    TT_EQ_STR("Runtime.ConfigInvalid", err.type);
    env_default();
    unsetenv("AWS_SECRET_ACCESS_KEY");
    TT_EQ_INT(-1, dwf__lambda_api_init(&api, &err));
    TT_EQ_STR("Runtime.ConfigInvalid", err.type);
    env_default();
    setenv("AWS_ENDPOINT_URL_LAMBDA", "lambda.example.com", 1);
    TT_EQ_INT(-1, dwf__lambda_api_init(&api, &err));
    env_default();
}

static void test_classify(void) {
    dwf_error e;
    TT_EQ_INT(DWF__LAMBDA_RETRY, dwf__lambda_classify(429, "TooManyRequestsException", NULL, &e));
    TT_EQ_STR("TooManyRequestsException", e.type);
    TT_EQ_INT(DWF__LAMBDA_RETRY, dwf__lambda_classify(500, NULL, "oops", &e));
    TT_EQ_STR("ServiceException", e.type);
    TT_EQ_STR("oops", e.message);
    TT_EQ_INT(DWF__LAMBDA_RETRY, dwf__lambda_classify(503, NULL, NULL, &e));
    TT_EQ_INT(DWF__LAMBDA_FAULT,
              dwf__lambda_classify(400, "InvalidParameterValueException:http://internal/x",
                                   "{\"Type\":\"User\",\"message\":\"Invalid Checkpoint Token: "
                                   "token has been used\"}",
                                   &e));
    TT_EQ_STR("InvalidParameterValueException", e.type);
    TT_EQ_STR("Invalid Checkpoint Token: token has been used", e.message);
    TT_EQ_INT(DWF__LAMBDA_FAULT,
              dwf__lambda_classify(400, NULL,
                                   "{\"__type\":\"com.amazonaws.lambda#InvalidParameterValueException\","
                                   "\"message\":\"Invalid checkpoint token\"}",
                                   &e));
    TT_EQ_INT(DWF__LAMBDA_FAIL,
              dwf__lambda_classify(400, "InvalidParameterValueException",
                                   "{\"message\":\"Invalid parent operation id.\"}", &e));
    TT_EQ_INT(DWF__LAMBDA_FAIL, dwf__lambda_classify(404, "ResourceNotFoundException",
                                                     "{\"Message\":\"gone\"}", &e));
    TT_EQ_STR("gone", e.message);
    TT_EQ_INT(DWF__LAMBDA_FAIL, dwf__lambda_classify(502, "KMSAccessDeniedException", NULL, &e));
    TT_EQ_INT(DWF__LAMBDA_FAIL, dwf__lambda_classify(403, NULL, NULL, &e));
    TT_EQ_STR("HttpError403", e.type);
}

/* ---- the durable API transport ------------------------------------------------------------- */
static int setup_transport(dwf__lambda_api *api, dwf_transport *t) {
    reset();
    env_default();
    dwf_error err;
    if (dwf__lambda_api_init(api, &err) < 0) {
        printf("# api init: %s %s\n", err.type, err.message);
        return -1;
    }
    dwf__lambda_transport(api, t);
    return 0;
}

static void test_checkpoint_ok(void) {
    dwf__lambda_api api;
    dwf_transport t;
    if (setup_transport(&api, &t) < 0) {
        TT_ASSERT(0);
        return;
    }
    add_script((script){.match = "/checkpoint", .status = 200,
                        .body = "{\"CheckpointToken\":\"tok2\",\"NewExecutionState\":{\"Operations\":"
                                "[{\"Id\":\"c4ca4238a0b92382\",\"Status\":\"SUCCEEDED\"}]}}"});
    cJSON *req = checkpoint_request(), *resp = NULL;
    dwf_error err;
    int retryable = -1;
    TT_EQ_INT(0, t.checkpoint(&t, ARN, req, &resp, &err, &retryable));
    TT_EQ_STR("tok2", json_str(resp, "CheckpointToken"));
    TT_EQ_INT(1, count_reqs("/checkpoint"));
    reqrec *r = find_req("/checkpoint", 0);
    if (r) {
        char want[1024];
        snprintf(want, sizeof want, "%s/checkpoint", ARN_PATH);
        TT_EQ_STR(want, r->path);
        TT_EQ_STR("POST", r->method);
        TT_EQ_INT(1, r->sig_ok);
        TT_EQ_STR(TOKEN, r->token);
        TT_EQ_STR("application/json", r->ctype);
        TT_ASSERT(strstr(r->auth, "SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date;"
                                  "x-amz-security-token") != NULL);
        TT_ASSERT(strstr(r->auth, "/eu-central-1/lambda/aws4_request") != NULL);
        cJSON *sent = cJSON_Parse(r->body);
        TT_EQ_STR("tok+1/=", json_str(sent, "CheckpointToken"));
        TT_ASSERT(json_str(sent, "ClientToken") && strlen(json_str(sent, "ClientToken")) == 36);
        TT_EQ_INT(1, cJSON_GetArraySize(cJSON_GetObjectItem(sent, "Updates")));
        cJSON_Delete(sent);
    }
    /* The caller's request is borrowed: the ClientToken went into the sent text only. */
    TT_ASSERT(!cJSON_HasObjectItem(req, "ClientToken"));
    cJSON_Delete(req);
    cJSON_Delete(resp);
    dwf__lambda_api_free(&api);
}

/* A plain-http endpoint (dwf serve's) is spoken by runtime_http.c's client: every call of the
 * process on one kept connection, signed as through libcurl; https, an IPv6 literal, or a proxy
 * libcurl would use keep libcurl. */
static void test_plain_endpoint(void) {
    dwf__lambda_api api;
    dwf_transport t;
    if (setup_transport(&api, &t) < 0) {
        TT_ASSERT(0);
        return;
    }
    TT_EQ_INT(1, api.plain);
    TT_ASSERT(api.curl == NULL);
    const char *tok[2] = {"{\"CheckpointToken\":\"t1\"}", "{\"CheckpointToken\":\"t2\"}"};
    for (int i = 0; i < 2; i++) add_script((script){.match = "/checkpoint", .status = 200, .body = tok[i]});
    add_script((script){.match = "/state", .status = 200, .body = "{\"Operations\":[{\"Id\":\"p\"}]}"});
    dwf_error err;
    int retryable = -1;
    for (int i = 0; i < 2; i++) {
        cJSON *req = checkpoint_request(), *resp = NULL;
        TT_EQ_INT(0, t.checkpoint(&t, ARN, req, &resp, &err, &retryable));
        TT_EQ_STR(i ? "t2" : "t1", json_str(resp, "CheckpointToken"));
        cJSON_Delete(req);
        cJSON_Delete(resp);
    }
    cJSON *resp = NULL;
    TT_EQ_INT(0, t.get_state(&t, ARN, "tok", "m/1", &resp, &err));
    TT_EQ_STR("p", json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(resp, "Operations"), 0), "Id"));
    cJSON_Delete(resp);
    reqrec *a = find_req("/checkpoint", 0), *b = find_req("/checkpoint", 1), *g = find_req("/state", 0);
    TT_ASSERT(a && b && g);
    if (a && b && g) {
        TT_EQ_INT(1, a->sig_ok && b->sig_ok && g->sig_ok);
        TT_EQ_STR(TOKEN, a->token);
        TT_EQ_STR("application/json", a->ctype);
        TT_EQ_STR("CheckpointToken=tok&Marker=m%2F1&MaxItems=1000", g->query);
        TT_ASSERT(a->client_port != 0);
        TT_EQ_INT(a->client_port, b->client_port);
        TT_EQ_INT(a->client_port, g->client_port);
    }
    TT_EQ_INT(3, api.calls);
    dwf__lambda_api_free(&api);

    static const char *const curl_urls[] = {"https://127.0.0.1:9", "http://[::1]:9"};
    for (int i = 0; i < 2; i++) {
        setenv("AWS_ENDPOINT_URL_LAMBDA", curl_urls[i], 1);
        TT_EQ_INT(0, dwf__lambda_api_init(&api, &err));
        TT_EQ_INT(0, api.plain);
        TT_ASSERT(api.curl != NULL);
        dwf__lambda_api_free(&api);
    }
    env_default();
    setenv("http_proxy", "http://127.0.0.1:9", 1);
    TT_EQ_INT(0, dwf__lambda_api_init(&api, &err));
    TT_EQ_INT(0, api.plain);
    dwf__lambda_api_free(&api);
    unsetenv("http_proxy");
    setenv("AWS_ENDPOINT_URL_LAMBDA", "http://localhost/base/", 1);
    TT_EQ_INT(0, dwf__lambda_api_init(&api, &err));
    TT_EQ_INT(1, api.plain);
    TT_EQ_STR("localhost", api.conn.host);
    TT_EQ_STR("80", api.conn.port);
    TT_EQ_STR("localhost", api.conn.hostport); /* the Host header: as signed, no default port */
    TT_EQ_STR("/base", api.base_path);
    dwf__lambda_api_free(&api);
    env_default();
}

/* Answers' bodies grow into one buffer the client keeps between calls (a shorter answer after a
 * longer one reads as itself); one that grew past 256 KiB for a large answer is not kept. */
static void test_answer_buffer_kept(void) {
    dwf__lambda_api api;
    dwf_transport t;
    if (setup_transport(&api, &t) < 0) {
        TT_ASSERT(0);
        return;
    }
    size_t big_n = 300 * 1024;
    char *big = malloc(big_n + 64);
    TT_ASSERT(big != NULL);
    if (!big) return;
    int n = snprintf(big, big_n + 64, "{\"Operations\":[{\"Id\":\"big\"}],\"Pad\":\"");
    memset(big + n, 'x', big_n - (size_t)n);
    strcpy(big + big_n, "\"}");
    add_script((script){.match = "/state", .status = 200,
                        .body = "{\"Operations\":[{\"Id\":\"first-and-longer\"}],\"NextMarker\":\"\"}"});
    add_script((script){.match = "/state", .status = 200, .body = "{\"Operations\":[{\"Id\":\"b\"}]}"});
    add_script((script){.match = "/state", .status = 200, .body = big});
    add_script((script){.match = "/state", .status = 200, .body = "{\"Operations\":[{\"Id\":\"d\"}]}"});
    static const char *const want[] = {"first-and-longer", "b", "big", "d"};
    dwf_error err;
    char *kept = NULL;
    for (int i = 0; i < 4; i++) {
        cJSON *resp = NULL;
        TT_EQ_INT(0, t.get_state(&t, ARN, "tok", NULL, &resp, &err));
        TT_EQ_STR(want[i], json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(resp, "Operations"), 0), "Id"));
        cJSON_Delete(resp);
        if (i == 0) kept = api.resp_buf.p;
        if (i == 1) TT_ASSERT(kept != NULL && api.resp_buf.p == kept); /* the same buffer again */
        if (i == 2) TT_ASSERT(api.resp_buf.p == NULL); /* 300 KiB: freed, not kept */
        if (i == 3) TT_ASSERT(api.resp_buf.p != NULL);
    }
    dwf__lambda_api_free(&api);
    free(big);
}

/* The ClientToken is spliced into the printed request: a request that has one keeps it (and
 * gets no second), and an empty object still goes out as valid JSON holding one. */
static void test_checkpoint_client_token_text(void) {
    dwf__lambda_api api;
    dwf_transport t;
    if (setup_transport(&api, &t) < 0) {
        TT_ASSERT(0);
        return;
    }
    add_script((script){.match = "/checkpoint", .status = 200, .body = "{\"CheckpointToken\":\"a\"}"});
    add_script((script){.match = "/checkpoint", .status = 200, .body = "{\"CheckpointToken\":\"b\"}"});
    cJSON *own = checkpoint_request(), *empty = cJSON_CreateObject(), *resp = NULL;
    cJSON_AddStringToObject(own, "ClientToken", "mine-1");
    dwf_error err;
    int retryable = -1;
    TT_EQ_INT(0, t.checkpoint(&t, ARN, own, &resp, &err, &retryable));
    cJSON_Delete(resp);
    resp = NULL;
    TT_EQ_INT(0, t.checkpoint(&t, ARN, empty, &resp, &err, &retryable));
    cJSON_Delete(resp);
    TT_EQ_INT(2, count_reqs("/checkpoint"));
    reqrec *r = find_req("/checkpoint", 0);
    const char *first = r ? strstr(r->body, "\"ClientToken\"") : NULL;
    TT_ASSERT(first && !strstr(first + 1, "\"ClientToken\""));
    cJSON *sent = r ? cJSON_Parse(r->body) : NULL;
    TT_EQ_STR("mine-1", json_str(sent, "ClientToken"));
    TT_EQ_INT(1, cJSON_GetArraySize(cJSON_GetObjectItem(sent, "Updates")));
    cJSON_Delete(sent);
    r = find_req("/checkpoint", 1);
    sent = r ? cJSON_Parse(r->body) : NULL;
    TT_ASSERT(cJSON_IsObject(sent) && cJSON_GetArraySize(sent) == 1);
    TT_ASSERT(json_str(sent, "ClientToken") && strlen(json_str(sent, "ClientToken")) == 36);
    cJSON_Delete(sent);
    cJSON_Delete(own);
    cJSON_Delete(empty);
    dwf__lambda_api_free(&api);
}

/* Request bodies are printed into a buffer the transport keeps between calls, the ClientToken
 * written in front: a small body, one past what is kept (256 KiB: printed into a buffer of its
 * own), then one that makes the kept buffer grow, then a small one again. Each goes out whole,
 * valid JSON with one 36-character ClientToken, its payload intact and its signature good. */
static void test_checkpoint_bodies_of_every_size(void) {
    dwf__lambda_api api;
    dwf_transport t;
    if (setup_transport(&api, &t) < 0) {
        TT_ASSERT(0);
        return;
    }
    size_t sizes[] = {10, 400 * 1024, 20 * 1024, 30};
    int n = (int)(sizeof sizes / sizeof *sizes);
    for (int i = 0; i < n; i++)
        add_script((script){.match = "/checkpoint", .status = 200, .body = "{\"CheckpointToken\":\"x\"}"});
    for (int i = 0; i < n; i++) {
        char *payload = malloc(sizes[i] + 1);
        memset(payload, 'a' + i, sizes[i]);
        payload[sizes[i]] = '\0';
        cJSON *req = cJSON_CreateObject(), *u = cJSON_CreateObject(), *resp = NULL;
        cJSON_AddStringToObject(req, "CheckpointToken", "tok");
        cJSON_AddStringToObject(u, "Id", "c4ca4238a0b92382");
        cJSON_AddStringToObject(u, "Payload", payload);
        cJSON_AddItemToArray(cJSON_AddArrayToObject(req, "Updates"), u);
        dwf_error err;
        int retryable = -1;
        TT_EQ_INT(0, t.checkpoint(&t, ARN, req, &resp, &err, &retryable));
        cJSON_Delete(resp);
        reqrec *r = find_req("/checkpoint", i);
        cJSON *sent = r ? cJSON_Parse(r->body) : NULL;
        TT_ASSERT(r && r->sig_ok == 1);
        TT_ASSERT(json_str(sent, "ClientToken") && strlen(json_str(sent, "ClientToken")) == 36);
        TT_EQ_STR("tok", json_str(sent, "CheckpointToken"));
        cJSON *su = cJSON_GetArrayItem(cJSON_GetObjectItem(sent, "Updates"), 0);
        TT_ASSERT(json_str(su, "Payload") && strcmp(json_str(su, "Payload"), payload) == 0);
        cJSON_Delete(sent);
        cJSON_Delete(req);
        free(payload);
    }
    TT_EQ_INT(n, count_reqs("/checkpoint"));
    dwf__lambda_api_free(&api);
}

static void test_checkpoint_retries_then_succeeds(void) {
    dwf__lambda_api api;
    dwf_transport t;
    if (setup_transport(&api, &t) < 0) {
        TT_ASSERT(0);
        return;
    }
    add_script((script){.match = "/checkpoint", .status = 429, .h1 = "X-Amzn-ErrorType",
                        .v1 = "TooManyRequestsException", .h2 = "Retry-After", .v2 = "0",
                        .body = "{\"Type\":\"User\",\"message\":\"Rate exceeded\"}"});
    add_script((script){.match = "/checkpoint", .status = 500, .h1 = "X-Amzn-ErrorType",
                        .v1 = "ServiceException", .body = "{\"message\":\"boom\"}"});
    add_script((script){.match = "/checkpoint", .status = 503, .body = "Service Unavailable"});
    add_script((script){.match = "/checkpoint", .status = 200,
                        .body = "{\"CheckpointToken\":\"tok3\",\"NewExecutionState\":{\"Operations\":[]}}"});
    cJSON *req = checkpoint_request(), *resp = NULL;
    dwf_error err;
    int retryable = -1;
    TT_EQ_INT(0, t.checkpoint(&t, ARN, req, &resp, &err, &retryable));
    TT_EQ_STR("tok3", json_str(resp, "CheckpointToken"));
    TT_EQ_INT(4, count_reqs("/checkpoint"));
    /* Every retry carries the same ClientToken and a valid (fresh) signature. */
    char first[64] = "";
    for (int i = 0; i < 4; i++) {
        reqrec *r = find_req("/checkpoint", i);
        if (!r) break;
        TT_EQ_INT(1, r->sig_ok);
        cJSON *sent = cJSON_Parse(r->body);
        const char *ct = json_str(sent, "ClientToken");
        if (i == 0 && ct) snprintf(first, sizeof first, "%s", ct);
        TT_EQ_STR(first, ct);
        cJSON_Delete(sent);
    }
    cJSON_Delete(req);
    cJSON_Delete(resp);
    dwf__lambda_api_free(&api);
}

static void test_checkpoint_gives_up(void) {
    dwf__lambda_api api;
    dwf_transport t;
    if (setup_transport(&api, &t) < 0) {
        TT_ASSERT(0);
        return;
    }
    for (int i = 0; i < 6; i++)
        add_script((script){.match = "/checkpoint", .status = 502, .h1 = "X-Amzn-ErrorType",
                            .v1 = "ServiceException", .body = "{\"message\":\"down\"}"});
    cJSON *req = checkpoint_request(), *resp = NULL;
    dwf_error err;
    int retryable = -1;
    TT_EQ_INT(-1, t.checkpoint(&t, ARN, req, &resp, &err, &retryable));
    TT_EQ_INT(1, retryable);
    TT_ASSERT(resp == NULL);
    TT_EQ_INT(4, count_reqs("/checkpoint")); /* DWF_LAMBDA_MAX_ATTEMPTS */
    TT_EQ_STR("ServiceException", err.type);
    TT_EQ_STR("down", err.message);
    cJSON_Delete(req);
    dwf__lambda_api_free(&api);
}

static void test_checkpoint_invalid_token_is_a_fault(void) {
    dwf__lambda_api api;
    dwf_transport t;
    if (setup_transport(&api, &t) < 0) {
        TT_ASSERT(0);
        return;
    }
    add_script((script){.match = "/checkpoint", .status = 400, .h1 = "X-Amzn-ErrorType",
                        .v1 = "InvalidParameterValueException",
                        .body = "{\"Type\":\"User\",\"message\":\"Invalid Checkpoint Token: stale\"}"});
    cJSON *req = checkpoint_request(), *resp = NULL;
    dwf_error err;
    int retryable = -1;
    TT_EQ_INT(-1, t.checkpoint(&t, ARN, req, &resp, &err, &retryable));
    TT_EQ_INT(1, retryable);
    TT_EQ_INT(1, count_reqs("/checkpoint")); /* a stale token is not retried in place */
    TT_EQ_STR("InvalidParameterValueException", err.type);
    cJSON_Delete(req);
    dwf__lambda_api_free(&api);
}

static void test_checkpoint_other_4xx_fails_execution(void) {
    dwf__lambda_api api;
    dwf_transport t;
    if (setup_transport(&api, &t) < 0) {
        TT_ASSERT(0);
        return;
    }
    add_script((script){.match = "/checkpoint", .status = 400, .h1 = "X-Amzn-ErrorType",
                        .v1 = "InvalidParameterValueException",
                        .body = "{\"Type\":\"User\",\"message\":\"Invalid parent operation id.\"}"});
    add_script((script){.match = "/checkpoint", .status = 502, .h1 = "X-Amzn-ErrorType",
                        .v1 = "KMSAccessDeniedException", .body = "{\"Message\":\"no key\"}"});
    cJSON *req = checkpoint_request(), *resp = NULL;
    dwf_error err;
    int retryable = -1;
    TT_EQ_INT(-1, t.checkpoint(&t, ARN, req, &resp, &err, &retryable));
    TT_EQ_INT(0, retryable);
    TT_EQ_STR("Invalid parent operation id.", err.message);
    retryable = -1;
    TT_EQ_INT(-1, t.checkpoint(&t, ARN, req, &resp, &err, &retryable));
    TT_EQ_INT(0, retryable);
    TT_EQ_STR("KMSAccessDeniedException", err.type);
    TT_EQ_INT(2, count_reqs("/checkpoint"));
    cJSON_Delete(req);
    dwf__lambda_api_free(&api);
}

static void test_checkpoint_network_error(void) {
    dwf__lambda_api api;
    dwf_transport t;
    reset();
    env_default();
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", dead_port());
    setenv("AWS_ENDPOINT_URL_LAMBDA", url, 1);
    dwf_error err;
    TT_EQ_INT(0, dwf__lambda_api_init(&api, &err));
    dwf__lambda_transport(&api, &t);
    cJSON *req = checkpoint_request(), *resp = NULL;
    int retryable = -1;
    TT_EQ_INT(-1, t.checkpoint(&t, ARN, req, &resp, &err, &retryable));
    TT_EQ_INT(1, retryable);
    TT_EQ_STR("NetworkError", err.type);
    TT_EQ_INT(4, api.calls);
    cJSON_Delete(req);
    dwf__lambda_api_free(&api);
    env_default();
}

/* Retries stop before the invocation deadline: better a retried invocation than a timeout. */
static void test_retries_respect_deadline(void) {
    dwf__lambda_api api;
    dwf_transport t;
    if (setup_transport(&api, &t) < 0) {
        TT_ASSERT(0);
        return;
    }
    for (int i = 0; i < 4; i++)
        add_script((script){.match = "/checkpoint", .status = 500, .body = "{}"});
    api.deadline_ms = dwf__lambda_now_ms(&t) + 500; /* less than the 1 s kept for answering */
    cJSON *req = checkpoint_request(), *resp = NULL;
    dwf_error err;
    int retryable = -1;
    TT_EQ_INT(-1, t.checkpoint(&t, ARN, req, &resp, &err, &retryable));
    TT_EQ_INT(1, retryable);
    TT_EQ_INT(1, count_reqs("/checkpoint"));
    cJSON_Delete(req);
    dwf__lambda_api_free(&api);
}

/* One attempt is cut off before the deadline instead of outliving the invocation. */
static void test_attempt_cut_at_deadline(void) {
    dwf__lambda_api api;
    dwf_transport t;
    if (setup_transport(&api, &t) < 0) {
        TT_ASSERT(0);
        return;
    }
    add_script((script){.match = "/state", .status = 200, .body = "{\"Operations\":[]}",
                        .hold = 1});
    double start = dwf__lambda_now_ms(&t);
    api.deadline_ms = start + 1900; /* attempt timeout = 1900 - 500 = 1400 ms */
    cJSON *resp = NULL;
    dwf_error err;
    int rc = t.get_state(&t, ARN, "tok", NULL, &resp, &err);
    double took = dwf__lambda_now_ms(&t) - start;
    release_held(); /* the answer leaves now, to a client that has given up */
    /* The server answers only after the client gave up: a NetworkError says the attempt was
     * cut; it was not given up before its timeout (a slow machine can only make `took`
     * longer). */
    TT_EQ_INT(-1, rc);
    TT_EQ_STR("NetworkError", err.type);
    TT_ASSERT(took >= 1300);
    TT_EQ_INT(1, api.calls);
    dwf__lambda_api_free(&api);
}

static void test_state_paging(void) {
    dwf__lambda_api api;
    dwf_transport t;
    if (setup_transport(&api, &t) < 0) {
        TT_ASSERT(0);
        return;
    }
    add_script((script){.match = "/state", .status = 200,
                        .body = "{\"Operations\":[{\"Id\":\"op2\"},{\"Id\":\"op3\"}],"
                                "\"NextMarker\":\"m 2+/=\"}"});
    add_script((script){.match = "/state", .status = 500, .body = "{\"message\":\"blip\"}"});
    add_script((script){.match = "/state", .status = 200,
                        .body = "{\"Operations\":[{\"Id\":\"op4\"}],\"NextMarker\":\"\"}"});
    char text[1024];
    snprintf(text, sizeof text,
             "{\"DurableExecutionArn\":\"%s\",\"CheckpointToken\":\"ct+/=\",\"InitialExecutionState\":"
             "{\"Operations\":[{\"Id\":\"op1\"}],\"NextMarker\":\"m1:x\"}}",
             ARN);
    cJSON *event = cJSON_Parse(text);
    dwf_error err;
    TT_EQ_INT(0, dwf__lambda_fetch_all_state(&t, event, &err));
    cJSON *st = cJSON_GetObjectItem(event, "InitialExecutionState");
    cJSON *ops = cJSON_GetObjectItem(st, "Operations");
    TT_EQ_INT(4, cJSON_GetArraySize(ops));
    TT_EQ_STR("op1", json_str(cJSON_GetArrayItem(ops, 0), "Id"));
    TT_EQ_STR("op2", json_str(cJSON_GetArrayItem(ops, 1), "Id"));
    TT_EQ_STR("op4", json_str(cJSON_GetArrayItem(ops, 3), "Id"));
    TT_EQ_STR("", json_str(st, "NextMarker"));
    TT_EQ_INT(3, count_reqs("/state"));
    reqrec *r0 = find_req("/state", 0), *r2 = find_req("/state", 2);
    if (r0 && r2) {
        char want[1024];
        snprintf(want, sizeof want, "%s/state", ARN_PATH);
        TT_EQ_STR(want, r0->path);
        TT_EQ_STR("GET", r0->method);
        TT_EQ_STR("CheckpointToken=ct%2B%2F%3D&Marker=m1%3Ax&MaxItems=1000", r0->query);
        TT_EQ_STR("CheckpointToken=ct%2B%2F%3D&Marker=m%202%2B%2F%3D&MaxItems=1000", r2->query);
        TT_EQ_INT(1, r0->sig_ok);
        TT_EQ_INT(1, r2->sig_ok);
        TT_EQ_STR("", r0->ctype);
    }
    cJSON_Delete(event);

    /* A service that repeats its marker is an error, not an endless loop. */
    add_script((script){.match = "/state", .status = 200,
                        .body = "{\"Operations\":[],\"NextMarker\":\"again\"}"});
    add_script((script){.match = "/state", .status = 200,
                        .body = "{\"Operations\":[],\"NextMarker\":\"again\"}"});
    snprintf(text, sizeof text,
             "{\"DurableExecutionArn\":\"%s\",\"CheckpointToken\":\"ct\",\"InitialExecutionState\":"
             "{\"Operations\":[],\"NextMarker\":\"again\"}}",
             ARN);
    event = cJSON_Parse(text);
    TT_EQ_INT(-1, dwf__lambda_fetch_all_state(&t, event, &err));
    cJSON_Delete(event);
    /* No state to page, and a non-durable event. */
    event = cJSON_Parse("{\"DurableExecutionArn\":\"a\",\"CheckpointToken\":\"b\","
                        "\"InitialExecutionState\":{\"Operations\":[]}}");
    TT_EQ_INT(0, dwf__lambda_fetch_all_state(&t, event, &err));
    cJSON_Delete(event);
    event = cJSON_Parse("{\"orderId\":\"x\"}");
    TT_EQ_INT(-1, dwf__lambda_fetch_all_state(&t, event, &err));
    TT_EQ_STR("Runtime.InvalidEvent", err.type);
    cJSON_Delete(event);
    dwf__lambda_api_free(&api);
}

static void test_no_session_token(void) {
    dwf__lambda_api api;
    dwf_transport t;
    reset();
    env_default();
    unsetenv("AWS_SESSION_TOKEN");
    dwf_error err;
    TT_EQ_INT(0, dwf__lambda_api_init(&api, &err));
    dwf__lambda_transport(&api, &t);
    add_script((script){.match = "/state", .status = 200, .body = "{\"Operations\":[]}"});
    cJSON *resp = NULL;
    TT_EQ_INT(0, t.get_state(&t, ARN, "tok", NULL, &resp, &err));
    reqrec *r = find_req("/state", 0);
    if (r) {
        TT_EQ_STR("", r->token);
        TT_EQ_INT(1, r->sig_ok);
        TT_EQ_STR("CheckpointToken=tok&MaxItems=1000", r->query);
        TT_ASSERT(strstr(r->auth, "SignedHeaders=host;x-amz-content-sha256;x-amz-date,") != NULL);
    }
    cJSON_Delete(resp);
    dwf__lambda_api_free(&api);
    env_default();
}

/* ---- the Runtime API loop ------------------------------------------------------------------ */
static int runner_calls;
static double runner_deadline;

static cJSON *fake_runner(const dwf_workflow *wf, const cJSON *event, dwf_transport *t,
                          const dwf_invoke_opts *opts, dwf_error *err) {
    (void)wf;
    runner_calls++;
    runner_deadline = ((dwf__lambda_api *)t->impl)->deadline_ms;
    const char *token = json_str(event, "CheckpointToken");
    if (token && strcmp(token, "fail") == 0) {
        snprintf(err->type, sizeof err->type, "CheckpointFailed");
        snprintf(err->message, sizeof err->message, "checkpoint answered 503 for %s",
                 opts->request_id);
        return NULL;
    }
    if (token && strcmp(token, "paged") == 0) {
        /* The loop completed the paged state before running the invocation. */
        const cJSON *st = cJSON_GetObjectItem(event, "InitialExecutionState");
        int n = cJSON_GetArraySize(cJSON_GetObjectItem(st, "Operations"));
        char text[128];
        snprintf(text, sizeof text, "{\"Status\":\"PENDING\",\"ops\":%d}", n);
        return cJSON_Parse(text);
    }
    return cJSON_Parse("{\"Status\":\"SUCCEEDED\",\"Result\":\"1\"}");
}

static void next_event(const char *request_id, const char *deadline, const char *body) {
    add_script((script){.match = "/runtime/invocation/next", .status = 200,
                        .h1 = "Lambda-Runtime-Aws-Request-Id", .v1 = request_id,
                        .h2 = "Lambda-Runtime-Deadline-Ms", .v2 = deadline,
                        .h3 = "Lambda-Runtime-Trace-Id", .v3 = "Root=1-abc;Sampled=1", .body = body});
}

static const dwf_workflow test_wf = {.name = "t"};

static void test_loop(void) {
    reset();
    env_default();
    char deadline[32];
    snprintf(deadline, sizeof deadline, "%.0f", (double)time(NULL) * 1000.0 + 60000.0);
    static char ev1[512], ev3[512];
    snprintf(ev1, sizeof ev1,
             "{\"DurableExecutionArn\":\"%s\",\"CheckpointToken\":\"ok\",\"InitialExecutionState\":"
             "{\"Operations\":[{\"Id\":\"e\"}],\"NextMarker\":\"\"}}",
             ARN);
    snprintf(ev3, sizeof ev3,
             "{\"DurableExecutionArn\":\"%s\",\"CheckpointToken\":\"paged\",\"InitialExecutionState\":"
             "{\"Operations\":[{\"Id\":\"e\"}],\"NextMarker\":\"p2\"}}",
             ARN);
    next_event("req-1", deadline, ev1);
    next_event("req-2", deadline, "{\"DurableExecutionArn\":\"x\",\"CheckpointToken\":\"fail\"}");
    next_event("req-3", deadline, ev3);
    next_event("req-4", deadline, "not json");
    add_script((script){.match = "/state", .status = 200,
                        .body = "{\"Operations\":[{\"Id\":\"s1\"},{\"Id\":\"s2\"}]}"});
    runner_calls = 0;
    int rc = dwf__lambda_loop(&test_wf, addr, fake_runner, 4);
    TT_EQ_INT(0, rc);
    TT_EQ_INT(3, runner_calls);
    TT_ASSERT(runner_deadline > (double)time(NULL) * 1000.0);
    TT_EQ_STR("Root=1-abc;Sampled=1", getenv("_X_AMZN_TRACE_ID"));
    TT_EQ_INT(4, count_reqs("/runtime/invocation/next"));

    reqrec *r = find_req("/runtime/invocation/req-1/response", 0);
    TT_ASSERT(r != NULL);
    if (r) TT_EQ_STR("{\"Status\":\"SUCCEEDED\",\"Result\":\"1\"}", r->body);

    r = find_req("/runtime/invocation/req-2/error", 0);
    TT_ASSERT(r != NULL);
    TT_EQ_INT(0, count_reqs("/runtime/invocation/req-2/response"));
    if (r) {
        TT_EQ_STR("CheckpointFailed", r->fn_error_type);
        TT_EQ_STR("application/json", r->ctype);
        cJSON *b = cJSON_Parse(r->body);
        TT_EQ_STR("CheckpointFailed", json_str(b, "errorType"));
        TT_EQ_STR("checkpoint answered 503 for req-2", json_str(b, "errorMessage"));
        TT_ASSERT(cJSON_IsArray(cJSON_GetObjectItem(b, "stackTrace")));
        cJSON_Delete(b);
    }

    r = find_req("/runtime/invocation/req-3/response", 0);
    TT_ASSERT(r != NULL);
    if (r) TT_EQ_STR("{\"Status\":\"PENDING\",\"ops\":3}", r->body);
    reqrec *s = find_req("/state", 0);
    TT_ASSERT(s != NULL);
    if (s) TT_EQ_STR("CheckpointToken=paged&Marker=p2&MaxItems=1000", s->query);

    r = find_req("/runtime/invocation/req-4/error", 0);
    TT_ASSERT(r != NULL);
    if (r) TT_EQ_STR("Runtime.InvalidEvent", r->fn_error_type);
}

/* _X_AMZN_TRACE_ID per invocation: the value read back each time, unset by an empty one, set
 * again after user code set it itself, and no heap kept per value (glibc's setenv kept every
 * value: 112 bytes each, 2.2 MB over these 20,000). */
static void test_trace_id_env_in_place(void) {
    char id[600];
    TT_EQ_INT(0, dwf__lambda_set_trace_id("Root=1-first;Sampled=0"));
    TT_EQ_STR("Root=1-first;Sampled=0", getenv("_X_AMZN_TRACE_ID"));
    struct mallinfo2 before = mallinfo2();
    int wrong = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "Root=1-6b16f038-%024d;Sampled=%d", i, i & 1);
        if (dwf__lambda_set_trace_id(id) != 0) wrong++;
        const char *v = getenv("_X_AMZN_TRACE_ID");
        if (!v || strcmp(v, id) != 0) wrong++;
    }
    struct mallinfo2 after = mallinfo2();
    TT_EQ_INT(0, wrong);
    TT_ASSERT(after.uordblks < before.uordblks + 20000 * 16);
    TT_EQ_INT(0, dwf__lambda_set_trace_id(""));
    TT_ASSERT(getenv("_X_AMZN_TRACE_ID") == NULL);
    TT_EQ_INT(0, dwf__lambda_set_trace_id("Root=1-back"));
    TT_EQ_STR("Root=1-back", getenv("_X_AMZN_TRACE_ID"));
    setenv("_X_AMZN_TRACE_ID", "set-by-user-code", 1);
    TT_EQ_INT(0, dwf__lambda_set_trace_id("Root=1-after-user"));
    TT_EQ_STR("Root=1-after-user", getenv("_X_AMZN_TRACE_ID"));
    TT_EQ_INT(0, dwf__lambda_set_trace_id("Root=1-short"));
    TT_EQ_STR("Root=1-short", getenv("_X_AMZN_TRACE_ID"));
    memset(id, 'x', sizeof id - 1); /* longer than the Runtime API's header is ever kept */
    id[sizeof id - 1] = '\0';
    TT_EQ_INT(0, dwf__lambda_set_trace_id(id));
    TT_EQ_STR(id, getenv("_X_AMZN_TRACE_ID"));
    TT_EQ_INT(0, dwf__lambda_set_trace_id(NULL));
    TT_ASSERT(getenv("_X_AMZN_TRACE_ID") == NULL);
}

/* cJSON through the bootstrap's per-thread block cache (dwf_use_json_cache, util/memcache.c):
 * texts of every string size parse and print back the same, on several threads at once (each
 * thread's cache freed when it ends: ASan and valgrind see no leak), a printed text freed with
 * plain free() and a node holding a string malloc'd outside cJSON deleted by cJSON are both
 * right. dwf_use_json_cache leaves cJSON on malloc under AddressSanitizer and valgrind; the
 * test installs the same hooks itself there, so that their checks see cJSON's use of the cache.
 * Installed for the rest of this process: the last test of the file. */
static char *json_text(int round) {
    size_t cap = 200000, len = 0;
    char *t = malloc(cap);
    len += (size_t)snprintf(t + len, cap - len, "{\"round\":%d,\"items\":[", round);
    for (int i = 0; i < 300; i++) {
        len += (size_t)snprintf(t + len, cap - len, "%s{\"k%d\":\"", i ? "," : "", i);
        for (int c = 0; c < (i * 7 + round) % 300; c++) t[len++] = (char)('a' + c % 26);
        len += (size_t)snprintf(t + len, cap - len, "\",\"n\":%d,\"b\":true,\"z\":null}", i);
    }
    snprintf(t + len, cap - len, "]}");
    return t;
}

static void *json_rounds(void *arg) {
    long bad = 0;
    for (int r = 0; r < 40; r++) {
        char *want = json_text(r + (int)(long)arg);
        cJSON *j = cJSON_Parse(want);
        char *got = j ? cJSON_PrintUnformatted(j) : NULL;
        if (!got || strcmp(got, want) != 0) bad++;
        free(got); /* plain free() of what cJSON allocated */
        cJSON_Delete(j);
        free(want);
    }
    return (void *)bad;
}

static void test_json_hooks(void) {
    dwf_use_json_cache();
    dwf_use_json_cache(); /* once only */
    void *probe = cJSON_malloc(100);
    size_t kept = dwf__memcache_kept(NULL);
    cJSON_free(probe); /* kept by this thread when the hooks are installed */
    TT_EQ_INT(kept + (dwf__memcache_wanted() ? 104 : 0), dwf__memcache_kept(NULL));
    if (!dwf__memcache_wanted()) {
        cJSON_Hooks h = {dwf__memcache_alloc, dwf__memcache_free};
        cJSON_InitHooks(&h);
    }
    TT_EQ_INT(0, (int)(long)json_rounds(0));
    pthread_t th[4];
    for (long i = 0; i < 4; i++) TT_EQ_INT(0, pthread_create(&th[i], NULL, json_rounds, (void *)(i + 1)));
    for (int i = 0; i < 4; i++) {
        void *bad = NULL;
        pthread_join(th[i], &bad);
        TT_EQ_INT(0, (int)(long)bad);
    }
    cJSON *s = cJSON_CreateString("x");
    TT_ASSERT(s != NULL);
    if (s) {
        free(s->valuestring);
        s->valuestring = malloc(100); /* not cJSON's: cJSON_Delete frees it all the same */
        strcpy(s->valuestring, "made by malloc");
        char *p = cJSON_PrintUnformatted(s);
        TT_EQ_STR("\"made by malloc\"", p);
        cJSON_free(p);
        cJSON_Delete(s);
    }
}

static void test_loop_init_error(void) {
    reset();
    env_default();
    unsetenv("AWS_REGION");
    runner_calls = 0;
    TT_EQ_INT(1, dwf__lambda_loop(&test_wf, addr, fake_runner, 1));
    TT_EQ_INT(0, runner_calls);
    TT_EQ_INT(0, count_reqs("/runtime/invocation/next"));
    reqrec *r = find_req("/runtime/init/error", 0);
    TT_ASSERT(r != NULL);
    if (r) {
        TT_EQ_STR("Runtime.ConfigInvalid", r->fn_error_type);
        cJSON *b = cJSON_Parse(r->body);
        TT_EQ_STR("AWS_REGION is not set", json_str(b, "errorMessage"));
        cJSON_Delete(b);
    }
    /* Without a replay core the bootstrap says so on /runtime/init/error. */
    reset();
    env_default();
    TT_EQ_INT(1, dwf__lambda_loop(&test_wf, addr, NULL, 1));
    r = find_req("/runtime/init/error", 0);
    TT_ASSERT(r != NULL);
    if (r) TT_EQ_STR("Runtime.InitError", r->fn_error_type);
}

static void test_loop_runtime_api_gone(void) {
    reset();
    env_default();
    char dead[64];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", dead_port());
    runner_calls = 0;
    TT_EQ_INT(1, dwf__lambda_loop(&test_wf, dead, fake_runner, 0));
    TT_EQ_INT(0, runner_calls);
}

/* dwf_lambda_main off Lambda, and when its Runtime API goes away: it returns 1. */
static void test_lambda_main_exits(void) {
    reset();
    env_default();
    unsetenv("AWS_LAMBDA_RUNTIME_API");
    TT_EQ_INT(1, dwf_lambda_main(&test_wf));
    char dead[64];
    snprintf(dead, sizeof dead, "127.0.0.1:%d", dead_port());
    setenv("AWS_LAMBDA_RUNTIME_API", dead, 1);
    TT_EQ_INT(1, dwf_lambda_main(&test_wf));
    unsetenv("AWS_LAMBDA_RUNTIME_API");
}

/* ---- HTTPS: the CA bundle is really used ------------------------------------------------------ */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = calloc(1, 65536);
    if (buf) buf[fread(buf, 1, 65535, f)] = '\0';
    fclose(f);
    return buf;
}

/* A TLS twin of the fake server, with a throwaway self-signed certificate for 127.0.0.1 made
 * by the openssl command. SSL_CERT_FILE = that certificate must make calls work; a bundle
 * without it must make them fail: so the transport verifies peers with the bundle it names.
 * The bundle without it is a second throwaway certificate, not the system's: libcurl reads the
 * bundle inside the connect phase, bounded by its 5 s connect timeout, and the system's ~140
 * certificates took longer than that under valgrind on a loaded machine ("Timeout was reached"
 * instead of a certificate error, 2 runs in 12). */
static void test_https_uses_ca_bundle(void) {
    char dir[] = "/tmp/dwf-lambda-tls.XXXXXX";
    if (!mkdtemp(dir)) {
        TT_ASSERT(!"mkdtemp");
        return;
    }
    char cmd[1536], key_path[256], cert_path[256], other_key[256], other_cert[256];
    snprintf(key_path, sizeof key_path, "%s/key.pem", dir);
    snprintf(cert_path, sizeof cert_path, "%s/cert.pem", dir);
    snprintf(other_key, sizeof other_key, "%s/other-key.pem", dir);
    snprintf(other_cert, sizeof other_cert, "%s/other.pem", dir);
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -keyout %s -out %s >/dev/null 2>&1 && "
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=dwf-test-other-ca "
             "-keyout %s -out %s >/dev/null 2>&1",
             key_path, cert_path, other_key, other_cert);
    int made = system(cmd) == 0;
    char *key = made ? slurp(key_path) : NULL, *cert = made ? slurp(cert_path) : NULL;
    TT_ASSERT(key && cert);
    struct MHD_Daemon *d = NULL;
    if (key && cert)
        d = dwf__mhd.MHD_start_daemon(
            MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL, NULL, on_request, NULL,
            MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_MEM_CERT, cert,
            MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_NOTIFY_COMPLETED,
            on_completed, NULL, MHD_OPTION_SOCK_ADDR,
            (struct sockaddr *)&(struct sockaddr_in){.sin_family = AF_INET,
                                                     .sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
            MHD_OPTION_END);
    const union MHD_DaemonInfo *info = d ? dwf__mhd.MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    TT_ASSERT(info && info->port);
    if (info && info->port) {
        reset();
        env_default();
        char url[64], host[64];
        snprintf(url, sizeof url, "https://127.0.0.1:%d", info->port);
        snprintf(host, sizeof host, "127.0.0.1:%d", info->port);
        setenv("AWS_ENDPOINT_URL_LAMBDA", url, 1);
        setenv("SSL_CERT_FILE", cert_path, 1);
        dwf__lambda_api api;
        dwf_transport t;
        dwf_error err;
        TT_EQ_INT(0, dwf__lambda_api_init(&api, &err));
        dwf__lambda_transport(&api, &t);
        add_script((script){.match = "/state", .status = 200,
                            .body = "{\"Operations\":[{\"Id\":\"tls\"}]}"});
        cJSON *resp = NULL;
        TT_EQ_INT(0, t.get_state(&t, ARN, "tok", NULL, &resp, &err));
        TT_EQ_STR("tls", json_str(cJSON_GetArrayItem(cJSON_GetObjectItem(resp, "Operations"), 0), "Id"));
        cJSON_Delete(resp);
        reqrec *r = find_req("/state", 0);
        if (r) {
            TT_EQ_INT(1, r->sig_ok);
            TT_EQ_STR(host, r->host);
        }
        /* a checkpoint (a POST with a body) through libcurl too: the plain-http tests above
         * take runtime_http.c's client, so this is libcurl's request as AWS gets it */
        TT_EQ_INT(0, api.plain);
        add_script((script){.match = "/checkpoint", .status = 200, .body = "{\"CheckpointToken\":\"tls2\"}"});
        cJSON *req = checkpoint_request();
        int retryable = -1;
        TT_EQ_INT(0, t.checkpoint(&t, ARN, req, &resp, &err, &retryable));
        TT_EQ_STR("tls2", json_str(resp, "CheckpointToken"));
        cJSON_Delete(req);
        cJSON_Delete(resp);
        resp = NULL;
        r = find_req("/checkpoint", 0);
        TT_ASSERT(r != NULL);
        if (r) {
            TT_EQ_INT(1, r->sig_ok);
            TT_EQ_STR("application/json", r->ctype);
            cJSON *sent = cJSON_Parse(r->body);
            TT_EQ_STR("tok+1/=", json_str(sent, "CheckpointToken"));
            cJSON_Delete(sent);
        }
        dwf__lambda_api_free(&api);

        /* The same server, but a CA bundle that does not hold its certificate. */
        setenv("SSL_CERT_FILE", other_cert, 1);
        setenv("DWF_LAMBDA_MAX_ATTEMPTS", "1", 1);
        TT_EQ_INT(0, dwf__lambda_api_init(&api, &err));
        dwf__lambda_transport(&api, &t);
        add_script((script){.match = "/state", .status = 200, .body = "{\"Operations\":[]}"});
        TT_EQ_INT(-1, t.get_state(&t, ARN, "tok", NULL, &resp, &err));
        TT_EQ_STR("NetworkError", err.type);
        TT_ASSERT(strstr(err.message, "certificate") != NULL);
        TT_EQ_INT(1, count_reqs("/state")); /* the second call never reached the server */
        dwf__lambda_api_free(&api);
        unsetenv("SSL_CERT_FILE");
        env_default();
    }
    if (d) dwf__mhd.MHD_stop_daemon(d);
    free(key);
    free(cert);
    unlink(key_path);
    unlink(cert_path);
    unlink(other_key);
    unlink(other_cert);
    rmdir(dir);
}

/* ---- with the real replay core -------------------------------------------------------------- */
/* A one-step workflow written the way generated code is: step "greet" returns {hello: input.name}
 * and the workflow returns the step's value. */
typedef struct greet_frame {
    dwf_val *greeting;
} greet_frame;

static int greet_step(dwf_ctx *c, void *frame, dwf_val **out) {
    (void)frame;
    *out = dwf_obj(c, 1, "hello", dwf_get(c, dwf_input(c), "name"));
    DWF_CHECK(c);
    return DWF_OK;
}

static int greet_body(dwf_ctx *c, void *frame, dwf_val **out) {
    greet_frame *f = frame;
    DWF_TRY(dwf_step(c, "greet", greet_step, frame, NULL, &f->greeting));
    *out = f->greeting;
    return DWF_OK;
}

static const dwf_workflow greet_wf = {.name = "greet", .frame_size = sizeof(greet_frame),
                                      .body = greet_body, .retention_days = 1,
                                      .execution_timeout = 60, .timeout_s = 10};

static void greet_event(const char *request_id, const char *token) {
    static char ev[4][1024];
    static int k;
    char *e = ev[k++ % 4];
    snprintf(e, sizeof ev[0],
             "{\"DurableExecutionArn\":\"%s\",\"CheckpointToken\":\"%s\",\"InitialExecutionState\":"
             "{\"Operations\":[{\"Id\":\"exec-1\",\"Type\":\"EXECUTION\",\"Status\":\"STARTED\","
             "\"StartTimestamp\":\"2026-11-29T18:55:04.102Z\",\"ExecutionDetails\":{\"InputPayload\":"
             "\"{\\\"name\\\":\\\"lambda\\\"}\"}}],\"NextMarker\":\"\"}}",
             ARN, token);
    /* Scripts keep pointers: the deadline text must outlive this call. */
    static char deadline[4][32];
    char *d = deadline[(k - 1) % 4];
    snprintf(d, sizeof deadline[0], "%.0f", (double)time(NULL) * 1000.0 + 60000.0);
    next_event(request_id, d, e);
}

static void test_loop_with_replay_core(void) {
    reset();
    env_default();
    /* 1: the checkpoint lands; the invocation succeeds with the step's value. */
    greet_event("core-1", "t0");
    add_script((script){.match = "/checkpoint", .status = 200,
                        .body = "{\"CheckpointToken\":\"t1\",\"NewExecutionState\":{\"Operations\":[]}}"});
    /* 2: a stale token: the invocation is a fault, posted on /error for Lambda to retry. */
    greet_event("core-2", "stale");
    add_script((script){.match = "/checkpoint", .status = 400, .h1 = "X-Amzn-ErrorType",
                        .v1 = "InvalidParameterValueException",
                        .body = "{\"Type\":\"User\",\"message\":\"Invalid Checkpoint Token\"}"});
    /* 3: another 400: the execution fails (a FAILED response, not a retry). */
    greet_event("core-3", "t5");
    add_script((script){.match = "/checkpoint", .status = 400, .h1 = "X-Amzn-ErrorType",
                        .v1 = "InvalidParameterValueException",
                        .body = "{\"Type\":\"User\",\"message\":\"Invalid parent operation id.\"}"});
    TT_EQ_INT(0, dwf__lambda_loop(&greet_wf, addr, dwf_run_invocation, 3));

    reqrec *cp = find_req("/checkpoint", 0);
    TT_ASSERT(cp != NULL);
    if (cp) {
        TT_EQ_INT(1, cp->sig_ok);
        cJSON *b = cJSON_Parse(cp->body);
        TT_EQ_STR("t0", json_str(b, "CheckpointToken"));
        const cJSON *u, *done = NULL;
        cJSON_ArrayForEach(u, cJSON_GetObjectItem(b, "Updates")) {
            const char *a = json_str(u, "Action");
            if (a && strcmp(a, "SUCCEED") == 0) done = u;
        }
        TT_ASSERT(done != NULL);
        if (done) {
            TT_EQ_STR("c4ca4238a0b92382", json_str(done, "Id"));
            TT_EQ_STR("STEP", json_str(done, "Type"));
            TT_EQ_STR("greet", json_str(done, "Name"));
            TT_EQ_STR("{\"hello\":\"lambda\"}", json_str(done, "Payload"));
        }
        cJSON_Delete(b);
    }
    reqrec *r = find_req("/runtime/invocation/core-1/response", 0);
    TT_ASSERT(r != NULL);
    if (r) TT_EQ_STR("{\"Status\":\"SUCCEEDED\",\"Result\":\"{\\\"hello\\\":\\\"lambda\\\"}\"}", r->body);

    r = find_req("/runtime/invocation/core-2/error", 0);
    TT_ASSERT(r != NULL);
    TT_EQ_INT(0, count_reqs("/runtime/invocation/core-2/response"));
    if (r) TT_EQ_STR("InvalidParameterValueException", r->fn_error_type);

    r = find_req("/runtime/invocation/core-3/response", 0);
    TT_ASSERT(r != NULL);
    TT_EQ_INT(0, count_reqs("/runtime/invocation/core-3/error"));
    if (r) {
        cJSON *b = cJSON_Parse(r->body);
        TT_EQ_STR("FAILED", json_str(b, "Status"));
        TT_EQ_STR("Invalid parent operation id.",
                  json_str(cJSON_GetObjectItem(b, "Error"), "ErrorMessage"));
        cJSON_Delete(b);
    }
}

int main(void) {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        printf("FAIL lambda_setup: curl_global_init\n");
        return 1;
    }
    char why[512];
    if (dwf__mhd_load(why, sizeof why) != 0) {
        printf("FAIL lambda_setup: %s\n", why);
        return 1;
    }
    struct MHD_Daemon *d = dwf__mhd.MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL, NULL,
        on_request, NULL,
        MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, NULL, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&(struct sockaddr_in){.sin_family = AF_INET,
                                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
        MHD_OPTION_END);
    const union MHD_DaemonInfo *info = d ? dwf__mhd.MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT) : NULL;
    if (!info || !info->port) {
        printf("FAIL lambda_setup: cannot start the fake server\n");
        if (d) dwf__mhd.MHD_stop_daemon(d);
        return 1;
    }
    port = info->port;
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", port);

    TT_RUN(test_endpoint_from_env);
    TT_RUN(test_classify);
    TT_RUN(test_checkpoint_ok);
    TT_RUN(test_checkpoint_client_token_text);
    TT_RUN(test_checkpoint_bodies_of_every_size);
    TT_RUN(test_plain_endpoint);
    TT_RUN(test_answer_buffer_kept);
    TT_RUN(test_checkpoint_retries_then_succeeds);
    TT_RUN(test_checkpoint_gives_up);
    TT_RUN(test_checkpoint_invalid_token_is_a_fault);
    TT_RUN(test_checkpoint_other_4xx_fails_execution);
    TT_RUN(test_checkpoint_network_error);
    TT_RUN(test_retries_respect_deadline);
    TT_RUN(test_attempt_cut_at_deadline);
    TT_RUN(test_state_paging);
    TT_RUN(test_no_session_token);
    TT_RUN(test_loop);
    TT_RUN(test_trace_id_env_in_place);
    TT_RUN(test_loop_init_error);
    TT_RUN(test_loop_runtime_api_gone);
    TT_RUN(test_lambda_main_exits);
    TT_RUN(test_https_uses_ca_bundle);
    TT_RUN(test_loop_with_replay_core);
    TT_RUN(test_json_hooks); /* last: the hooks stay installed */

    dwf__mhd.MHD_stop_daemon(d);
    reset();
    curl_global_cleanup();
    return TT_EXIT();
}
