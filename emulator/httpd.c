/*
 * httpd.c: the HTTP plumbing of the emulator's two kinds of server, the API server on the
 * emulator's port and one Runtime API server per function, over libmicrohttpd.
 *
 * Every request goes through one preamble, written once here (on_request): decide from its
 * headers whether it is admitted at all (admit: a Runtime API answers only the function's own
 * processes, peer.c; the API server answers 429 past its connection limits), collect the body
 * (up to the protocol's request limit; a refused request's body is read and dropped, so the
 * refusal is an answer, never a reset), split the raw URI into decoded path labels and query
 * parameters, check the SigV4 signature (API server, when keys are given), find the route in
 * the server's table, decode the body as the route asks, and only then call the route's
 * handler, which gets a request ready to use. Whatever the preamble refuses gets the server's
 * restJson1 error. The two route tables below are every route the emulator answers; a new route
 * is one row there and one handler in the file of its API. One hook besides: a path under the
 * mount prefix (emulator.h; the web console at /console) goes to the mounted handler before
 * the SigV4 check, once the connection is admitted and the body is in.
 *
 * libmicrohttpd runs one thread per connection because a RequestResponse Invoke and a Runtime
 * API /next block for as long as an execution or the next event takes. So connections are
 * what a hostile or heavy client exhausts: each is counted per client address (the socket
 * context of libmicrohttpd's connection notifications), a silent one (a request half sent, an
 * idle keep-alive) is closed after the connection timeout (a request being answered is not
 * silent), and the limits of emu.h apply. The raw URI comes from the URI log callback: MHD's
 * url argument is already decoded, and an ARN's %2F and the SigV4 canonical path both need the
 * bytes as sent.
 */
#include "emu.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "dwf_protocol.h"

/* A route's path split into its segments ("{}" and "{+}" labels among them). Each table's
 * paths are split once, before its first server listens (routes_split): splitting every path
 * tried at every request was ~80 strcspn per execution of bench/throughput.sh's Event row, the
 * checkpoint's route being the 13th of its table. */
typedef struct pattern {
    const char *seg[8];
    size_t len[8];
    int n, plus; /* plus: index of the "{+}" segment, -1 if none */
} pattern;

struct emu_server_kind {
    const emu_route *routes;
    size_t nroutes;
    pattern *patterns; /* routes[i]'s path split, filled by routes_split */
    int runtime;                                /* a function's Runtime API: only its processes (peer.c);
                                                 * else the API server: SigV4 when the emulator has keys */
    const char *too_big_type, *too_big_message; /* a body over DWF_LIMIT_SYNC_PAYLOAD */
    const char *unknown_type, *unknown_message; /* no route */
};

/* The API server. Order matters where paths overlap: "{+}" takes any number of labels, so
 * the execution's sub-resources come before the execution itself. */
static const emu_route api_routes[] = {
    {"POST", "/2015-03-31/functions/{}/invocations", EMU_BODY_RAW, dwf__emu_invoke},
    {"POST", "/2015-03-31/functions", EMU_BODY_OBJECT, dwf__emu_create_function},
    {"GET", "/2015-03-31/functions", EMU_BODY_RAW, dwf__emu_list_functions},
    {"GET", "/2015-03-31/functions/{}", EMU_BODY_RAW, dwf__emu_get_function},
    {"DELETE", "/2015-03-31/functions/{}", EMU_BODY_RAW, dwf__emu_delete_function},
    {"GET", "/2015-03-31/functions/{}/configuration", EMU_BODY_RAW, dwf__emu_get_function_configuration},
    {"PUT", "/2015-03-31/functions/{}/configuration", EMU_BODY_OBJECT, dwf__emu_update_function_configuration},
    {"PUT", "/2015-03-31/functions/{}/code", EMU_BODY_OBJECT, dwf__emu_update_function_code},
    {"POST", "/2015-03-31/functions/{}/versions", EMU_BODY_OPTIONAL_OBJECT, dwf__emu_publish_version},
    {"GET", "/2015-03-31/functions/{}/versions", EMU_BODY_RAW, dwf__emu_list_versions},
    /* IAM and STS (the query protocol): the operation is the body's Action. */
    {"POST", "/", EMU_BODY_RAW, dwf__emu_query_api},
    {"POST", "/2025-12-01/durable-executions/{+}/checkpoint", EMU_BODY_OBJECT, dwf__emu_checkpoint},
    {"GET", "/2025-12-01/durable-executions/{+}/state", EMU_BODY_RAW, dwf__emu_get_state},
    {"GET", "/2025-12-01/durable-executions/{+}/history", EMU_BODY_RAW, dwf__emu_get_history},
    {"POST", "/2025-12-01/durable-executions/{+}/stop", EMU_BODY_OPTIONAL_OBJECT, dwf__emu_stop},
    {"GET", "/2025-12-01/durable-executions/{+}", EMU_BODY_RAW, dwf__emu_get_execution},
    {"GET", "/2025-12-01/functions/{}/durable-executions", EMU_BODY_RAW, dwf__emu_list_executions},
    {"POST", "/2025-12-01/durable-execution-callbacks/{}/succeed", EMU_BODY_RAW, dwf__emu_callback_succeed},
    {"POST", "/2025-12-01/durable-execution-callbacks/{}/fail", EMU_BODY_OPTIONAL_OBJECT, dwf__emu_callback_fail},
    {"POST", "/2025-12-01/durable-execution-callbacks/{}/heartbeat", EMU_BODY_RAW, dwf__emu_callback_heartbeat},
};

#define STR_(x) #x
#define STR(x) STR_(x)
static pattern api_patterns[sizeof api_routes / sizeof *api_routes];
static const emu_server_kind api_kind = {
    api_routes, sizeof api_routes / sizeof *api_routes, api_patterns, 0,
    "RequestEntityTooLargeException",
    "Request must be smaller than " STR(DWF_LIMIT_SYNC_PAYLOAD) " bytes for the InvokeFunction operation",
    "UnknownOperationException", "Unknown operation",
};

/* One function's Runtime API (2018-06-01). */
static const emu_route runtime_routes[] = {
    {"GET", "/2018-06-01/runtime/invocation/next", EMU_BODY_RAW, dwf__emu_rt_next},
    {"POST", "/2018-06-01/runtime/invocation/{}/response", EMU_BODY_RAW, dwf__emu_rt_response},
    {"POST", "/2018-06-01/runtime/invocation/{}/error", EMU_BODY_RAW, dwf__emu_rt_error},
    {"POST", "/2018-06-01/runtime/init/error", EMU_BODY_RAW, dwf__emu_rt_init_error},
};

static pattern runtime_patterns[sizeof runtime_routes / sizeof *runtime_routes];
static const emu_server_kind runtime_kind = {
    runtime_routes, sizeof runtime_routes / sizeof *runtime_routes, runtime_patterns, 1,
    "RequestEntityTooLarge", "payload too large",
    "NotFound", "no such Runtime API route",
};

/* ---- connections ------------------------------------------------------------------------------ */

/* Open connections of one client address (a server's counts, guarded by its mu). */
struct emu_client {
    in_addr_t addr;
    int conns;
    emu_client *next;
};

/* What the emulator keeps per connection (libmicrohttpd's socket context). */
typedef struct emu_conn {
    struct sockaddr_in peer;
    int counted;        /* in the server's counts */
    struct emu_env *owner; /* Runtime API: the environment whose process the peer was found in */
    unsigned owner_gen;    /* and that process's generation */
    int logged;         /* a refusal of this connection was logged */
} emu_conn;

static emu_client **client_slot(emu_server *s, in_addr_t a)
{
    emu_client **p = &s->clients[(ntohl(a) * 2654435761u >> 24) % EMU_CLIENT_BUCKETS];
    while (*p && (*p)->addr != a) p = &(*p)->next;
    return p;
}

/* Count a connection in when it opens and out when it closes. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    emu_server *s = cls;
    emu_conn *cc = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = dwf__mhd.MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (!(cc = *socket_context = calloc(1, sizeof *cc)) || !ci || !ci->client_addr ||
            ci->client_addr->sa_family != AF_INET)
            return;
        memcpy(&cc->peer, ci->client_addr, sizeof cc->peer);
        pthread_mutex_lock(&s->mu);
        emu_client **slot = client_slot(s, cc->peer.sin_addr.s_addr);
        if (!*slot && (*slot = calloc(1, sizeof **slot))) (*slot)->addr = cc->peer.sin_addr.s_addr;
        if (*slot) {
            (*slot)->conns++;
            s->conns++;
            cc->counted = 1;
        }
        pthread_mutex_unlock(&s->mu);
        return;
    }
    if (cc && cc->counted) {
        pthread_mutex_lock(&s->mu);
        emu_client **slot = client_slot(s, cc->peer.sin_addr.s_addr), *gone = *slot;
        s->conns--;
        if (gone && --gone->conns == 0) {
            *slot = gone->next;
            free(gone);
        }
        pthread_mutex_unlock(&s->mu);
    }
    free(cc);
    *socket_context = NULL;
}

static emu_conn *conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = dwf__mhd.MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* API server: is this connection's client, or the server, past its soft limit? */
static int over_capacity(emu_server *s, const emu_conn *cc, int *total, int *mine)
{
    pthread_mutex_lock(&s->mu);
    emu_client *cl = cc && cc->counted ? *client_slot(s, cc->peer.sin_addr.s_addr) : NULL;
    *total = s->conns;
    *mine = cl ? cl->conns : 0;
    pthread_mutex_unlock(&s->mu);
    return *total > s->soft_total || *mine > s->soft_client;
}

/* Runtime API: the environment whose process (or one it started) is the peer (peer.c), or
 * NULL. The answer holds for as long as the same process runs (its generation), so a
 * keep-alive connection is looked up once. */
static emu_env *peer_env(emu_server *s, const struct sockaddr_in *peer, emu_conn *cc)
{
    emu_fn *f = s->fn;
    pthread_mutex_lock(&s->emu->mu);
    if (cc && cc->owner && cc->owner->pid > 0 && cc->owner->gen == cc->owner_gen) {
        emu_env *v = cc->owner;
        pthread_mutex_unlock(&s->emu->mu);
        return v;
    }
    /* The processes to look for, taken under the lock; looked up without it (/proc reads). */
    int n = f->nenvs;
    pid_t *pids = n ? calloc((size_t)n, sizeof *pids) : NULL;
    unsigned *gens = n ? calloc((size_t)n, sizeof *gens) : NULL;
    emu_env **envs = n ? calloc((size_t)n, sizeof *envs) : NULL;
    for (int i = 0; pids && gens && envs && i < n; i++) {
        envs[i] = f->envs[i];
        pids[i] = f->envs[i]->pid;
        gens[i] = f->envs[i]->gen;
    }
    pthread_mutex_unlock(&s->emu->mu);
    emu_env *found = NULL;
    int i = pids && gens && envs ? dwf__emu_peer_owner(pids, n, peer, &s->addr) : -1;
    if (i >= 0) {
        found = envs[i];
        if (cc) {
            cc->owner = envs[i];
            cc->owner_gen = gens[i];
        }
    }
    free(pids);
    free(gens);
    free(envs);
    return found;
}

/* Runtime API, once it is crowded: a connection from a process that is not the function's is
 * closed as it is accepted, so a flood of them cannot take the place of the function's own. */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t len)
{
    emu_server *s = cls;
    if (!s->fn || addr->sa_family != AF_INET || len < sizeof(struct sockaddr_in)) return MHD_YES;
    pthread_mutex_lock(&s->mu);
    int crowded = s->conns >= EMU_RUNTIME_CONNECTIONS;
    pthread_mutex_unlock(&s->mu);
    return !crowded || peer_env(s, (const struct sockaddr_in *)addr, NULL) ? MHD_YES : MHD_NO;
}

/* Decide, once the headers are in, whether this request is refused (answered when its body
 * has arrived, and never buffered): on a Runtime API, a peer that is not the function's
 * process (403); on the API server, a client or a server past its soft limit (429). */
static void admit(const emu_server *cs, emu_request *r)
{
    emu_server *s = (emu_server *)cs;
    emu_conn *cc = conn_of(r->conn);
    int total, mine;
    if (s->kind->runtime) {
        if (cc && (r->env = peer_env(s, &cc->peer, cc))) return;
        r->refused_status = 403;
        if (cc && !cc->logged++)
            dwf__emu_log(s->emu, "%s: refused Runtime API requests from %s:%d, a process that is not the function's",
                         s->fn->name, inet_ntoa(cc->peer.sin_addr), ntohs(cc->peer.sin_port));
    } else if (over_capacity(s, cc, &total, &mine)) {
        r->refused_status = 429;
        if (cc && !cc->logged++)
            dwf__emu_log(s->emu, "over capacity: %d connections in all, %d from %s; answering 429", total, mine,
                         inet_ntoa(cc->peer.sin_addr));
    } else {
        return;
    }
    r->refused = 1;
}

static enum MHD_Result reply_refused(emu_request *r, const emu_server *s)
{
    if (r->refused_status == 429 && dwf__emu_is_query_request(r))
        return dwf__emu_reply_query_error(r, 429, "Throttling", "Rate exceeded");
    if (r->refused_status == 403) {
        char msg[400];
        snprintf(msg, sizeof msg, "this Runtime API answers only the process dwf serve started for function '%s'",
                 s->fn->name);
        return dwf__emu_reply_error(r, 403, "AccessDeniedException", msg);
    }
    cJSON *b = cJSON_CreateObject();
    if (!b) return MHD_NO;
    cJSON_AddStringToObject(b, "Type", "User");
    cJSON_AddStringToObject(b, "message", "Rate Exceeded.");
    const char *h[] = {"X-Amzn-ErrorType", "TooManyRequestsException", "Retry-After", "1",
                       "Connection", "close", NULL};
    enum MHD_Result res = dwf__emu_reply_json(r, 429, b, h);
    cJSON_Delete(b);
    return res;
}

/* A request that uploads a function's code (CreateFunction, UpdateFunctionCode) may be as
 * large as Lambda takes, DWF_LIMIT_CODE_REQUEST, where every other stops at the Invoke limit.
 * Each is held in memory until it is unpacked, so at most EMU_UPLOADS are read at once: past
 * that a client gets 429 and retries (the aws CLI does), and the memory a client can pin
 * stays bounded. */
#define EMU_UPLOADS 2

static void admit_upload(emu_server *s, emu_request *r)
{
    size_t plen = strcspn(r->uri, "?");
    while (plen > 1 && r->uri[plen - 1] == '/') plen--;
    static const char fns[] = "/2015-03-31/functions", code_suffix[] = "/code";
    size_t nf = sizeof fns - 1, nc = sizeof code_suffix - 1;
    int create = strcmp(r->method, "POST") == 0 && plen == nf && strncmp(r->uri, fns, nf) == 0;
    int code = strcmp(r->method, "PUT") == 0 && plen > nf + 1 + nc && strncmp(r->uri, fns, nf) == 0 &&
               strncmp(r->uri + plen - nc, code_suffix, nc) == 0;
    if (!create && !code) return;
    pthread_mutex_lock(&s->emu->mu);
    if (s->emu->uploads < EMU_UPLOADS) {
        s->emu->uploads++;
        r->upload_slot = 1;
        r->limit = DWF_LIMIT_CODE_REQUEST;
    } else {
        r->refused = 1;
        r->refused_status = 429;
    }
    pthread_mutex_unlock(&s->emu->mu);
}

/* ---- reading a request ----------------------------------------------------------------------- */

static void request_free(emu_request *r)
{
    if (!r) return;
    free(r->uri);
    free(r->body);
    free(r->seg); /* one block with the labels' texts (request_parse) */
    for (int i = 0; i < r->nq; i++) {
        free(r->q[i].name);
        free(r->q[i].value);
    }
    free(r->q);
    for (int i = 0; i < EMU_LABELS; i++) free(r->label[i]);
    cJSON_Delete(r->json);
    free(r);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    emu_request *r = calloc(1, sizeof *r);
    if (r && !(r->uri = strdup(uri))) {
        free(r);
        r = NULL;
    }
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls;
    (void)c;
    (void)t;
    emu_request *r = *con_cls;
    if (r && r->upload_slot) {
        pthread_mutex_lock(&r->emu->mu);
        r->emu->uploads--;
        pthread_mutex_unlock(&r->emu->mu);
    }
    request_free(*con_cls);
    *con_cls = NULL;
}

/* Append a piece of the body MHD hands over (kept NUL-terminated). Past the limit the body is
 * only marked too big, and answered once it has all arrived. -1 when out of memory. */
static int body_append(emu_request *r, const char *upload, size_t *upload_size)
{
    if (r->len + *upload_size > r->limit) r->too_big = 1;
    else {
        if (r->len + *upload_size + 1 > r->cap) {
            size_t nc = (r->len + *upload_size + 1) * 2;
            char *nb = realloc(r->body, nc);
            if (!nb) return -1;
            r->body = nb;
            r->cap = nc;
        }
        memcpy(r->body + r->len, upload, *upload_size);
        r->len += *upload_size;
        r->body[r->len] = '\0';
    }
    *upload_size = 0;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode n bytes of s into o, which has room for n + 1 bytes; returns o. */
static char *pct_decode_to(char *o, const char *s, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 && hexval((unsigned char)s[i + 2]) >= 0) {
            o[j++] = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else {
            o[j++] = s[i];
        }
    }
    o[j] = '\0';
    return o;
}

/* Percent-decode n bytes of s into a new string. */
static char *pct_decode(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    return o ? pct_decode_to(o, s, n) : NULL;
}

static int add_query(emu_request *r, const char *q, size_t n)
{
    size_t k = strcspn(q, "=");
    if (k > n) k = n;
    emu_qparam *nq = realloc(r->q, (size_t)(r->nq + 1) * sizeof *nq);
    if (!nq) return -1;
    r->q = nq;
    emu_qparam *x = &r->q[r->nq++];
    x->name = pct_decode(q, k);
    x->value = k < n ? pct_decode(q + k + 1, n - k - 1) : strdup("");
    return x->name && x->value ? 0 : -1;
}

/* Split the raw URI into decoded path labels (empty ones skipped) and query parameters.
 * 0 or -1 (out of memory). */
static int request_parse(emu_request *r)
{
    const char *u = r->uri;
    size_t plen = strcspn(u, "?");
    /* The labels in one block, their pointers first, then their decoded texts (each no longer
     * than as sent, plus its NUL): a realloc and a malloc per label were ~35 allocator calls per
     * execution of bench/throughput.sh's Event row. */
    size_t nseg = 0;
    for (size_t i = 0; i < plen; i++) nseg += u[i] != '/' && (i == 0 || u[i - 1] == '/');
    if (nseg > 0) {
        if (nseg > (size_t)INT_MAX || !(r->seg = malloc(nseg * sizeof *r->seg + plen + nseg))) return -1;
        char *text = (char *)(r->seg + nseg);
        for (const char *p = u; p < u + plen;) {
            if (*p == '/') {
                p++;
                continue;
            }
            size_t n = strcspn(p, "/?");
            if (p + n > u + plen) n = (size_t)(u + plen - p);
            r->seg[r->nseg++] = pct_decode_to(text, p, n);
            text += strlen(text) + 1;
            p += n;
        }
    }
    if (u[plen] != '?') return 0;
    for (const char *q = u + plen + 1; *q;) {
        size_t n = strcspn(q, "&");
        if (n > 0 && add_query(r, q, n) != 0) return -1;
        q += n;
        if (*q == '&') q++;
    }
    return 0;
}

/* ---- routes ----------------------------------------------------------------------------------- */

static void pattern_split(const char *path, pattern *p)
{
    p->n = 0;
    p->plus = -1;
    for (const char *s = path; *s && p->n < 8;) {
        if (*s == '/') {
            s++;
            continue;
        }
        size_t n = strcspn(s, "/");
        if (n == 3 && memcmp(s, "{+}", 3) == 0) p->plus = p->n;
        p->seg[p->n] = s;
        p->len[p->n++] = n;
        s += n;
    }
}

/* The request label matching pattern segment i (with "{+}" spanning `span` labels). */
static int label_at(const pattern *p, int i, int span) { return p->plus >= 0 && i > p->plus ? i + span - 1 : i; }

/* A label joined from labels [from, from + n) with '/' (an ARN sent with raw slashes). */
static char *join_labels(const emu_request *r, int from, int n)
{
    size_t len = 0;
    for (int i = from; i < from + n; i++) len += strlen(r->seg[i]) + 1;
    char *s = malloc(len ? len : 1), *o = s;
    if (!s) return NULL;
    for (int i = from; i < from + n; i++) o += sprintf(o, i > from ? "/%s" : "%s", r->seg[i]);
    *o = '\0';
    return s;
}

/* Does the request's path match route path `path`? 1 yes (the captures are in r->label[]),
 * 0 no, -1 out of memory. */
static int route_match(const pattern *p, emu_request *r)
{
    int span = p->plus >= 0 ? r->nseg - p->n + 1 : 1;
    if (p->plus >= 0 ? span < 1 : r->nseg != p->n) return 0;
    for (int i = 0; i < p->n; i++) {
        const char *s = r->seg[label_at(p, i, span)];
        if (p->seg[i][0] != '{' && (strlen(s) != p->len[i] || memcmp(s, p->seg[i], p->len[i]) != 0)) return 0;
    }
    for (int i = 0, k = 0; i < p->n && k < EMU_LABELS; i++) {
        if (p->seg[i][0] != '{') continue;
        int at = label_at(p, i, span);
        if (!(r->label[k++] = i == p->plus ? join_labels(r, at, span) : strdup(r->seg[at]))) return -1;
    }
    return 1;
}

static pthread_once_t routes_once = PTHREAD_ONCE_INIT;

static void routes_split(void)
{
    const emu_server_kind *kinds[] = {&api_kind, &runtime_kind};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++)
        for (size_t i = 0; i < kinds[k]->nroutes; i++) pattern_split(kinds[k]->routes[i].path, &kinds[k]->patterns[i]);
}

/* The first route whose path matches decides, with its method or another row of the same
 * path (a path and a method name one operation: GET and DELETE of a function); a method no row
 * of that path has is an unknown route. NULL with *oom set when out of memory. */
static const emu_route *route_find(const emu_server_kind *k, emu_request *r, int *oom)
{
    *oom = 0;
    for (size_t i = 0; i < k->nroutes; i++) {
        int m = route_match(&k->patterns[i], r);
        if (m < 0) *oom = 1;
        if (m <= 0) continue;
        for (size_t j = i; j < k->nroutes; j++)
            if (strcmp(k->routes[j].path, k->routes[i].path) == 0 && strcmp(k->routes[j].method, r->method) == 0)
                return &k->routes[j];
        return NULL;
    }
    return NULL;
}

cJSON *dwf__emu_parse_json(const char *s, size_t len)
{
    const char *end = NULL;
    cJSON *j = s && len ? cJSON_ParseWithLengthOpts(s, len, &end, 0) : NULL;
    while (j && end < s + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')) end++;
    if (j && end != s + len) {
        cJSON_Delete(j);
        j = NULL;
    }
    return j;
}

/* Decode the body as the route asks. 0, or -1 when it is not what the route takes. */
static int body_decode(const emu_route *rt, emu_request *r)
{
    if (rt->body == EMU_BODY_RAW || (rt->body == EMU_BODY_OPTIONAL_OBJECT && r->len == 0)) return 0;
    r->json = dwf__emu_parse_json(r->body, r->len);
    return cJSON_IsObject(r->json) ? 0 : -1;
}

/* Is the raw URI's path the mount's prefix or below it (emulator.h: the web console)? */
static int mounted(const dwf_emulator *e, const char *uri)
{
    const char *pre = e->o.mount_prefix;
    size_t n = pre ? strlen(pre) : 0;
    return n && e->o.mount_handle && strncmp(uri, pre, n) == 0 && (uri[n] == '\0' || uri[n] == '/' || uri[n] == '?');
}

/* The preamble every request of every server goes through (see the top of the file). */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)url;
    (void)version;
    const emu_server *s = cls;
    const emu_server_kind *k = s->kind;
    emu_request *r = *con_cls;
    if (!r) return MHD_NO;
    if (!r->started) {
        r->started = 1;
        r->conn = c;
        r->method = method;
        r->emu = s->emu;
        r->fn = s->fn;
        r->limit = DWF_LIMIT_SYNC_PAYLOAD;
        r->arrived_ms = dwf__emu_mono_ms();
        admit(s, r);
        if (!k->runtime && !r->refused) admit_upload((emu_server *)s, r);
        return MHD_YES;
    }
    if (*upload_size && r->refused) {
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) return body_append(r, upload, upload_size) == 0 ? MHD_YES : MHD_NO;
    if (r->refused) return reply_refused(r, s);
    if (r->too_big && r->limit == DWF_LIMIT_CODE_REQUEST)
        return dwf__emu_reply_error(r, 413, "RequestEntityTooLargeException",
                                    "Request must be smaller than " STR(DWF_LIMIT_CODE_REQUEST) " bytes for the "
                                    "CreateFunction and UpdateFunctionCode operations");
    if (r->too_big) return dwf__emu_reply_error(r, 413, k->too_big_type, k->too_big_message);
    dwf_emulator *e = s->emu;
    if (!k->runtime && mounted(e, r->uri))
        return (enum MHD_Result)e->o.mount_handle(e->o.mount_arg, c, method, r->uri, r->body, r->len);
    if (request_parse(r) != 0) return dwf__emu_reply_error(r, 500, "ServiceException", "out of memory");
    if (!k->runtime && e->access_key && e->secret_key) {
        unsigned status;
        dwf_error err;
        if (dwf__emu_check_sigv4(e, r, &status, &err) != 0) {
            if (!e->o.quiet) dwf__emu_log(e, "rejected %s %s: %s: %s", method, r->uri, err.type, err.message);
            return dwf__emu_reply_error(r, status, err.type, err.message);
        }
    }
    int oom;
    const emu_route *rt = route_find(k, r, &oom);
    if (oom) return dwf__emu_reply_error(r, 500, "ServiceException", "out of memory");
    if (!rt) return dwf__emu_reply_error(r, 404, k->unknown_type, k->unknown_message);
    if (body_decode(rt, r) != 0)
        return dwf__emu_reply_error(r, 400, "SerializationException", "the request body is not a JSON object");
    return rt->handle(r);
}

/* ---- servers ------------------------------------------------------------------------------------ */

/* 0, -1 with err (a bad address) or -2 (libmicrohttpd could not listen; it logged why).
 * One thread per connection (see the top of the file), polled with poll() rather than select()
 * so descriptors past FD_SETSIZE work; the limits and the silence timeout are emu.h's. */
static int listen_on(emu_server *s, const char *host, int port, dwf_error *err)
{
    struct sockaddr_in *sa = &s->addr;
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
        return dwf__emu_fail(err, "InvalidParameterValueException", "host %s is not an IPv4 address", host);
    pthread_once(&routes_once, routes_split);
    pthread_mutex_init(&s->mu, NULL);
    dwf_emulator *e = s->emu;
    int hard_total = s->fn ? EMU_RUNTIME_CONNECTIONS_HARD : e->conn_limit;
    s->soft_total = hard_total * EMU_CONNECTIONS / EMU_CONNECTIONS_HARD;
    s->soft_client = hard_total * EMU_CLIENT_CONNECTIONS / EMU_CONNECTIONS_HARD;
    unsigned per_ip = s->fn ? 0 : (unsigned)(hard_total * EMU_CLIENT_CONNECTIONS_HARD / EMU_CONNECTIONS_HARD);
    s->daemon = dwf__mhd.MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG, 0,
        on_accept, s, on_request, s,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)sa,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)EMU_CONNECTION_MEMORY,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)e->connection_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)hard_total,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
        MHD_OPTION_END);
    if (!s->daemon) return -2;
    const union MHD_DaemonInfo *di = dwf__mhd.MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : port;
    sa->sin_port = htons((uint16_t)s->port);
    return 0;
}

int dwf__emu_listen_api(dwf_emulator *e, emu_server *s, int port, dwf_error *err)
{
    *s = (emu_server){.kind = &api_kind, .emu = e};
    int rc = listen_on(s, e->host, port, err);
    if (rc != -2) return rc;
    return dwf__emu_fail(err, "ServiceException", "cannot listen on %s:%d (in use?)", e->host, port);
}

/* On loopback whatever --host says: only the function's processes, on this machine, talk to it. */
int dwf__emu_listen_runtime(emu_fn *f, emu_server *s, dwf_error *err)
{
    *s = (emu_server){.kind = &runtime_kind, .emu = f->emu, .fn = f};
    int rc = listen_on(s, "127.0.0.1", 0, err);
    if (rc != -2) return rc;
    return dwf__emu_fail(err, "ServiceException", "cannot start the Runtime API server of %s", f->name);
}

void dwf__emu_unlisten(emu_server *s)
{
    if (s->daemon) {
        dwf__mhd.MHD_stop_daemon(s->daemon);
        s->daemon = NULL;
        pthread_mutex_destroy(&s->mu);
    }
}

/* ---- what handlers read ----------------------------------------------------------------------- */

const char *dwf__emu_header(const emu_request *r, const char *name)
{
    return dwf__mhd.MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *dwf__emu_query(const emu_request *r, const char *name)
{
    for (int i = 0; i < r->nq; i++)
        if (strcmp(r->q[i].name, name) == 0) return r->q[i].value;
    return NULL;
}

int dwf__emu_query_bool(const emu_request *r, const char *name, int dflt)
{
    const char *v = dwf__emu_query(r, name);
    if (!v) return dflt;
    return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

/* The messages are those of AWS's request validation, which checks a member's range before the
 * operation runs (the error the official SDKs surface as ValidationException). */
int dwf__emu_max_items(const emu_request *r, int min, int *out, dwf_error *err)
{
    *out = 0;
    const char *v = dwf__emu_query(r, "MaxItems");
    if (!v) return 0;
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (!*v || *end || errno == ERANGE || n < INT_MIN || n > INT_MAX)
        return dwf__emu_fail(err, "SerializationException", "MaxItems must be an integer, not '%.40s'", v);
    if (n < min)
        return dwf__emu_fail(err, "ValidationException",
                             "1 validation error detected: Value '%ld' at 'maxItems' failed to satisfy constraint: "
                             "Member must have value greater than or equal to %d", n, min);
    if (n > DWF_LIMIT_PAGE_MAX)
        return dwf__emu_fail(err, "ValidationException",
                             "1 validation error detected: Value '%ld' at 'maxItems' failed to satisfy constraint: "
                             "Member must have value less than or equal to %d", n, DWF_LIMIT_PAGE_MAX);
    *out = (int)n;
    return 0;
}

/* ---- answers ------------------------------------------------------------------------------------ */

enum MHD_Result dwf__emu_reply(emu_request *r, unsigned status, const char *ctype, const void *body, size_t len,
                               const char *const *headers)
{
    struct MHD_Response *resp = dwf__mhd.MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    if (ctype) dwf__mhd.MHD_add_response_header(resp, "Content-Type", ctype);
    dwf__mhd.MHD_add_response_header(resp, "x-amzn-RequestId", "00000000-0000-0000-0000-000000000000");
    for (const char *const *h = headers; h && h[0]; h += 2) dwf__mhd.MHD_add_response_header(resp, h[0], h[1]);
    enum MHD_Result res = dwf__mhd.MHD_queue_response(r->conn, status, resp);
    dwf__mhd.MHD_destroy_response(resp);
    return res;
}

enum MHD_Result dwf__emu_reply_json(emu_request *r, unsigned status, const cJSON *j, const char *const *headers)
{
    /* The service's printer: cJSON's text, without cJSON's sprintf-sscanf-sprintf on each
     * timestamp of the operations a checkpoint or state answer holds. */
    char *s = j ? dwf_service_json_print(j) : strdup("{}");
    if (!s) return MHD_NO;
    enum MHD_Result res = dwf__emu_reply(r, status, "application/json", s, strlen(s), headers);
    free(s);
    return res;
}

/* ResourceNotFound says "Message", as the service does; every other error "message". */
enum MHD_Result dwf__emu_reply_error(emu_request *r, unsigned status, const char *type, const char *msg)
{
    /* IAM and STS clients read errors as XML; the preamble's refusals reach them here too. */
    if (dwf__emu_is_query_request(r)) return dwf__emu_reply_query_error(r, status, type, msg);
    cJSON *b = cJSON_CreateObject();
    if (!b) return MHD_NO;
    cJSON_AddStringToObject(b, "Type", status >= 500 ? "Service" : "User");
    cJSON_AddStringToObject(b, strcmp(type, "ResourceNotFoundException") == 0 ? "Message" : "message", msg);
    const char *h[] = {"X-Amzn-ErrorType", type, NULL};
    enum MHD_Result res = dwf__emu_reply_json(r, status, b, h);
    cJSON_Delete(b);
    return res;
}

/* The status of the errors the emulator names itself; the service knows its own. */
static unsigned status_of(const char *type)
{
    static const struct {
        const char *type;
        unsigned status;
    } own[] = {
        {"ValidationException", 400},           {"SerializationException", 400},
        {"InvalidRequestContentException", 400}, {"RequestEntityTooLargeException", 413},
        {"UnknownOperationException", 404},
    };
    for (size_t i = 0; i < sizeof own / sizeof *own; i++)
        if (strcmp(own[i].type, type) == 0) return own[i].status;
    return (unsigned)dwf_service_http_status(type);
}

enum MHD_Result dwf__emu_reply_err(emu_request *r, const dwf_error *err)
{
    return dwf__emu_reply_error(r, status_of(err->type), err->type, err->message);
}

enum MHD_Result dwf__emu_reply_result(emu_request *r, int rc, cJSON *out, const dwf_error *err)
{
    enum MHD_Result res = rc == 0 ? dwf__emu_reply_json(r, 200, out, NULL) : dwf__emu_reply_err(r, err);
    cJSON_Delete(out);
    return res;
}
