/*
 * emulator.c: `dwf serve`, a local AWS Lambda for durable functions.
 *
 * The emulator owns no durable state and implements no durable semantics: every question about
 * an execution goes to the service core (service.c) and its SQLite store, the same code the
 * embedded engine runs on, so `dwf serve`, `dwf run`, `dwf history` and `dwf callback` agree
 * about what an execution is. What the emulator adds is what Lambda adds around the service:
 *
 *   - HTTP: the Invoke API and the durable REST API on one port (libmicrohttpd, one thread per
 *     connection, because a RequestResponse Invoke and a Runtime API /next both block), with
 *     restJson1 errors and, when given keys, SigV4 verification of every request;
 *   - sandboxes: per function a task root (a zip unpacked with libzip, or a directory), one
 *     process started with the environment Lambda gives a runtime, and a Runtime API server of
 *     its own on another port (one sandbox = one Runtime API, as on Lambda; it also tells the
 *     emulator which function a /next comes from);
 *   - a scheduler thread: fire the timers that are due, queue every execution the service
 *     says is runnable on its function, start processes, reap dead ones, kill invocations
 *     past their timeout, and with --skip-time jump the store's clock when everything is idle.
 *
 * An invocation's life: the scheduler queues the execution's ARN on its function; the
 * process's /next takes it, dwf_service_begin_invocation builds the event (fresh checkpoint
 * token), the process checkpoints through the durable API and posts /response or /error, and
 * dwf_service_end_invocation applies that (a fault is retried with the service's backoff). A
 * process that dies or times out mid-invocation is a fault too, so retries need no code here.
 *
 * Locking: one mutex guards the functions' queues and processes; one condition variable is
 * broadcast on every change (new work, an answer, a process gone, stop) and everything that
 * waits (the scheduler, /next, a RequestResponse Invoke) re-checks what it waits for. Service
 * calls are made without the mutex held: the service serialises itself.
 *
 * libmicrohttpd and libzip are not linked into dwf: dwf_emulator_start dlopens them (dlib.h)
 * before it touches anything, so the other commands never map them and a machine without them
 * gets a message naming the missing package, with no store or task root created.
 */
#include "emulator.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "dlib.h" /* libmicrohttpd and libzip, loaded on first use (dwf_emulator_start) */
#include "service.h"
#include "sigv4.h"

#define MAX_BODY (7u * 1024 * 1024) /* Invoke takes 6 MB; a little slack for the envelope */
#define SYNC_INVOKE_MAX_MS (15 * 60 * 1000.0)
#define IDLE_SLICE_MS 100.0

typedef struct emu_fn {
    struct dwf_emulator *emu;
    int index;
    char *name, *task_root, *handler, *runtime;
    int own_root; /* task_root is ours to delete */
    int memory_mb, timeout_s;
    char **argv;  /* start command; argv[0] resolved to a path */
    char **envp;  /* the process environment */
    struct MHD_Daemon *rt;
    int rt_port;
    /* the process */
    pid_t pid;
    unsigned gen;          /* bumped at every start and stop: a /next belongs to one process */
    double spawn_mono;     /* when it was started (monotonic ms) */
    int reached_next;      /* it asked for an invocation at least once */
    int kill_reason;       /* 1 timeout, 2 cold mode / stop */
    double respawn_after;  /* monotonic ms: no restart before (a crashing init) */
    char *init_error;      /* the last /init/error body */
    /* the queue and the invocation in flight */
    char **queue;
    int nq, capq;
    int busy;              /* an event was handed out (or is being built) and is not answered */
    char *cur_arn;
    char cur_rid[40];
    double cur_start_ms;   /* service clock */
    double cur_deadline;   /* epoch ms (real time) */
} emu_fn;

struct dwf_emulator {
    dwf_emulator_opts o;
    char *host, *region, *account, *access_key, *secret_key, *session_token;
    FILE *log;
    dwf_service *svc;
    struct MHD_Daemon *api;
    int port;
    emu_fn *fns;
    int nfns;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned long kicks;
    int stopping;
    pthread_t sched;
    int sched_started;
};

/* ---- small helpers ------------------------------------------------------------------------- */

static int fail(dwf_error *err, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(dwf_error *err, const char *type, const char *fmt, ...)
{
    va_list ap;
    snprintf(err->type, sizeof err->type, "%s", type);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static double real_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void elog(dwf_emulator *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void elog(dwf_emulator *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    flockfile(e->log);
    fputs("dwf serve: ", e->log);
    vfprintf(e->log, fmt, ap);
    fputc('\n', e->log);
    fflush(e->log);
    funlockfile(e->log);
    va_end(ap);
}

static char *xstrdup(const char *s) { return s ? strdup(s) : NULL; }

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

static void free_strv(char **v)
{
    for (char **p = v; p && *p; p++) free(*p);
    free(v);
}

/* Wake everything that waits (call with e->mu held). */
static void kick(dwf_emulator *e)
{
    e->kicks++;
    pthread_cond_broadcast(&e->cv);
}

static void kick_unlocked(dwf_emulator *e)
{
    pthread_mutex_lock(&e->mu);
    kick(e);
    pthread_mutex_unlock(&e->mu);
}

static void timed_wait(dwf_emulator *e, double ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(ms * 1e6);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_cond_timedwait(&e->cv, &e->mu, &ts);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode n bytes of s into a new string. */
static char *pct_decode(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    if (!o) return NULL;
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

/* ---- requests -------------------------------------------------------------------------------- */

typedef struct qparam {
    char *name, *value; /* decoded */
    char *raw_name, *raw_value;
} qparam;

typedef struct request {
    char *uri;        /* raw, as on the wire (path + query) */
    char *body;
    size_t len, cap;
    int started, too_big;
    char **seg;       /* decoded path labels */
    int nseg;
    qparam *q;
    int nq;
} request;

static void request_free(request *r)
{
    if (!r) return;
    free(r->uri);
    free(r->body);
    for (int i = 0; i < r->nseg; i++) free(r->seg[i]);
    free(r->seg);
    for (int i = 0; i < r->nq; i++) {
        free(r->q[i].name);
        free(r->q[i].value);
        free(r->q[i].raw_name);
        free(r->q[i].raw_value);
    }
    free(r->q);
    free(r);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    request *r = calloc(1, sizeof *r);
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
    request_free(*con_cls);
    *con_cls = NULL;
}

/* Split the raw URI into decoded path labels and query parameters. 0 or -1 (out of memory). */
static int request_parse(request *r)
{
    const char *u = r->uri;
    size_t plen = strcspn(u, "?");
    const char *p = u;
    while (p < u + plen) {
        if (*p == '/') {
            p++;
            continue;
        }
        size_t n = strcspn(p, "/?");
        if (p + n > u + plen) n = (size_t)(u + plen - p);
        char **ns = realloc(r->seg, (size_t)(r->nseg + 1) * sizeof *ns);
        if (!ns) return -1;
        r->seg = ns;
        if (!(r->seg[r->nseg] = pct_decode(p, n))) return -1;
        r->nseg++;
        p += n;
    }
    if (u[plen] != '?') return 0;
    const char *q = u + plen + 1;
    while (*q) {
        size_t n = strcspn(q, "&");
        if (n > 0) {
            size_t k = strcspn(q, "=");
            if (k > n) k = n;
            qparam *nq = realloc(r->q, (size_t)(r->nq + 1) * sizeof *nq);
            if (!nq) return -1;
            r->q = nq;
            qparam *x = &r->q[r->nq];
            memset(x, 0, sizeof *x);
            r->nq++;
            x->name = pct_decode(q, k);
            x->raw_name = strndup(q, k);
            x->value = k < n ? pct_decode(q + k + 1, n - k - 1) : strdup("");
            x->raw_value = k < n ? strndup(q + k + 1, n - k - 1) : strdup("");
            if (!x->name || !x->value || !x->raw_name || !x->raw_value) return -1;
        }
        q += n;
        if (*q == '&') q++;
    }
    return 0;
}

static const char *qget(const request *r, const char *name)
{
    for (int i = 0; i < r->nq; i++)
        if (strcmp(r->q[i].name, name) == 0) return r->q[i].value;
    return NULL;
}

static int qbool(const request *r, const char *name, int dflt)
{
    const char *v = qget(r, name);
    if (!v) return dflt;
    return strcmp(v, "true") == 0 || strcmp(v, "1") == 0;
}

/* ---- responses ------------------------------------------------------------------------------- */

static enum MHD_Result send_raw(struct MHD_Connection *c, unsigned status, const char *ctype, const void *body,
                                size_t len, const char *const *headers)
{
    struct MHD_Response *resp = dwf__mhd.MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    if (ctype) dwf__mhd.MHD_add_response_header(resp, "Content-Type", ctype);
    dwf__mhd.MHD_add_response_header(resp, "x-amzn-RequestId", "00000000-0000-0000-0000-000000000000");
    for (const char *const *h = headers; h && h[0]; h += 2) dwf__mhd.MHD_add_response_header(resp, h[0], h[1]);
    enum MHD_Result r = dwf__mhd.MHD_queue_response(c, status, resp);
    dwf__mhd.MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, const cJSON *j, const char *const *headers)
{
    char *s = j ? cJSON_PrintUnformatted(j) : strdup("{}");
    if (!s) return MHD_NO;
    enum MHD_Result r = send_raw(c, status, "application/json", s, strlen(s), headers);
    free(s);
    return r;
}

/* A restJson1 error: the status, X-Amzn-ErrorType and {"Type","message"} (ResourceNotFound
 * says "Message", as the service does). */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *type, const char *msg)
{
    cJSON *b = cJSON_CreateObject();
    if (!b) return MHD_NO;
    int server = status >= 500;
    cJSON_AddStringToObject(b, "Type", server ? "Service" : "User");
    cJSON_AddStringToObject(b, strcmp(type, "ResourceNotFoundException") == 0 ? "Message" : "message", msg);
    const char *h[] = {"X-Amzn-ErrorType", type, NULL};
    enum MHD_Result r = send_json(c, status, b, h);
    cJSON_Delete(b);
    return r;
}

static enum MHD_Result send_service_error(struct MHD_Connection *c, const dwf_error *err)
{
    return send_error(c, (unsigned)dwf_service_http_status(err->type), err->type, err->message);
}

/* ---- SigV4 verification ---------------------------------------------------------------------- */

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

typedef struct strbuf {
    char *s;
    size_t len, cap;
    int oom;
} strbuf;

static void sb_add(strbuf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t nc = (b->cap ? b->cap * 2 : 256) + n;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}
static void sb_str(strbuf *b, const char *s) { sb_add(b, s, strlen(s)); }

/* 0 = the request is signed by the configured key; else -1 with (status, type, message). */
static int verify_sigv4(dwf_emulator *e, struct MHD_Connection *c, const char *method, request *r, unsigned *status,
                        dwf_error *err)
{
    *status = 403;
    const char *auth = dwf__mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!auth) return fail(err, "MissingAuthenticationTokenException", "Missing Authentication Token");
    const char *cred = strstr(auth, "Credential="), *sh = strstr(auth, "SignedHeaders="), *sig = strstr(auth, "Signature=");
    if (strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0 || !cred || !sh || !sig)
        return fail(err, "IncompleteSignatureException", "Authorization header is not a SigV4 signature: %.80s", auth);
    cred += 11;
    sh += 14;
    sig += 10;
    char akid[128] = "", date[16] = "", region[64] = "", service[64] = "";
    if (sscanf(cred, "%127[^/]/%15[^/]/%63[^/]/%63[^/]/aws4_request", akid, date, region, service) != 4)
        return fail(err, "IncompleteSignatureException", "malformed Credential in the Authorization header");
    if (strcmp(akid, e->access_key) != 0)
        return fail(err, "UnrecognizedClientException", "The security token included in the request is invalid.");
    const char *amz_date = dwf__mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Date");
    if (!amz_date || strlen(amz_date) != 16 || strncmp(amz_date, date, 8) != 0)
        return fail(err, "IncompleteSignatureException", "X-Amz-Date is missing or does not match the credential scope");
    struct tm tm = {0};
    if (!strptime(amz_date, "%Y%m%dT%H%M%SZ", &tm))
        return fail(err, "IncompleteSignatureException", "X-Amz-Date is not YYYYMMDDTHHMMSSZ");
    double skew = difftime(timegm(&tm), time(NULL));
    if (skew > 900 || skew < -900)
        return fail(err, "InvalidSignatureException", "Signature expired: %s is more than 15 minutes from now.", amz_date);

    /* The canonical request by the signer's own rules (sigv4.c): the path as sent, the query
     * pairs as decoded, the signed headers' values as received. */
    unsigned char h32[32];
    char body_hash[65];
    SHA256((const unsigned char *)(r->body ? r->body : ""), r->len, h32);
    hex(h32, 32, body_hash);
    const char *claimed = dwf__mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Content-Sha256");
    if (claimed && strcmp(claimed, "UNSIGNED-PAYLOAD") != 0 && strcmp(claimed, body_hash) != 0)
        return fail(err, "InvalidSignatureException", "X-Amz-Content-Sha256 does not match the body");
    char *path = strndup(r->uri, strcspn(r->uri, "?"));
    char *signed_headers = strndup(sh, strcspn(sh, ", ")), *names = signed_headers ? strdup(signed_headers) : NULL;
    int nh = 1;
    for (const char *h = signed_headers; h && *h; h++) nh += *h == ';';
    dwf__sigv4_param *qp = calloc((size_t)r->nq + 1, sizeof *qp);
    dwf__sigv4_header *hs = calloc((size_t)nh, sizeof *hs);
    char *query = NULL, *cr = NULL, want[65];
    int bad = !path || !names || !qp || !hs;
    for (int i = 0; !bad && i < r->nq; i++) qp[i] = (dwf__sigv4_param){r->q[i].name, r->q[i].value};
    nh = 0;
    for (char *h = bad ? NULL : names, *next; h && *h; h = next) { /* names: cut at each ';' */
        next = strchr(h, ';');
        if (next) *next++ = '\0';
        else next = h + strlen(h);
        hs[nh++] = (dwf__sigv4_header){h, dwf__mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND, h)};
    }
    bad = bad || !(query = dwf__sigv4_canonical_query(qp, r->nq)) ||
          !(cr = dwf__sigv4_canonical_request(method, path, query, hs, nh, signed_headers, claimed ? claimed : body_hash)) ||
          dwf__sigv4_signature(e->secret_key, amz_date, region, service, cr, want) != 0;
    free(path);
    free(signed_headers);
    free(names);
    free(qp);
    free(hs);
    free(query);
    free(cr);
    if (bad) {
        *status = 500;
        return fail(err, "ServiceException", "out of memory computing the request signature");
    }
    if (strlen(sig) < 64 || CRYPTO_memcmp(want, sig, 64) != 0 || (sig[64] && sig[64] != ',' && sig[64] != ' '))
        return fail(err, "InvalidSignatureException",
                    "The request signature we calculated does not match the signature you provided. Check your AWS "
                    "Secret Access Key and signing method. Consult the service documentation for details.");
    return 0;
}

/* ---- functions and processes ----------------------------------------------------------------- */

static emu_fn *fn_by_name(dwf_emulator *e, const char *name)
{
    for (int i = 0; i < e->nfns; i++)
        if (e->fns[i].name && strcmp(e->fns[i].name, name) == 0) return &e->fns[i];
    return NULL;
}

/* Peak resident set of a process (kB), -1 if unknown. */
static long vm_hwm_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

/* CPU time (ms) a process has used so far, every thread of it (/proc/PID/task/TID/schedstat,
 * nanoseconds, so a start-up of a few milliseconds is measurable on a loaded machine where wall
 * time is mostly waiting for a core). -1 if unknown. */
static double process_cpu_ms(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    double ns = 0;
    int any = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char p2[128];
        snprintf(p2, sizeof p2, "/proc/%d/task/%.20s/schedstat", (int)pid, de->d_name);
        FILE *f = fopen(p2, "r");
        if (!f) continue;
        unsigned long long run = 0;
        if (fscanf(f, "%llu", &run) == 1) {
            ns += (double)run;
            any = 1;
        }
        fclose(f);
    }
    closedir(d);
    return any ? ns / 1e6 : -1;
}

/* Start the function's process (mu held). Everything the child needs is built before fork:
 * between fork and exec only async-signal-safe calls. */
static void fault_queued_head(emu_fn *f, const char *type, const char *msg);

/* Start the function's bootstrap. posix_spawn, not fork(): glibc's posix_spawn is a
 * clone(CLONE_VM|CLONE_VFORK), so the child never copies this multi-threaded emulator's page
 * tables only to throw them away at exec. With fork() that copy and its copy-on-write faults
 * were counted in every cold start (of dwf's bootstrap and of Node alike), ~4 ms of CPU and
 * ~6 ms of wall here, more than dwf's own start-up (bench/RESULTS.md "Lambda cold start").
 * The child gets what the fork() child set up by hand: its own process group (fn_kill kills the
 * group), stdin from /dev/null, no descriptor of ours above 2 (listening sockets, the store,
 * MHD's pipes), the task root as working directory, no blocked signals, SIGPIPE default. */
static void fn_spawn(emu_fn *f)
{
    dwf_emulator *e = f->emu;
    double t0 = mono_ms();
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0 && (rc = posix_spawnattr_init(&at)) != 0) posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        elog(e, "%s: cannot start %s: %s", f->name, f->argv[0], strerror(rc));
        f->respawn_after = mono_ms() + 1000;
        return;
    }
    sigset_t none, pipe_default;
    sigemptyset(&none);
    sigemptyset(&pipe_default);
    sigaddset(&pipe_default, SIGPIPE);
    if (!rc) rc = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!rc) rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (!rc) rc = posix_spawn_file_actions_addchdir_np(&fa, f->task_root);
    if (!rc) rc = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                    POSIX_SPAWN_SETSIGDEF);
    if (!rc) rc = posix_spawnattr_setpgroup(&at, 0);
    if (!rc) rc = posix_spawnattr_setsigmask(&at, &none);
    if (!rc) rc = posix_spawnattr_setsigdefault(&at, &pipe_default);
    pid_t pid = 0;
    int spawn_rc = rc ? rc : posix_spawn(&pid, f->argv[0], &fa, &at, f->argv, f->envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (spawn_rc != 0) {
        /* glibc reports a failed chdir or exec here (the fork() version saw exit 126/127):
         * the queued invocation fails as one whose runtime exited before its first /next. */
        char msg[PATH_MAX + 128];
        snprintf(msg, sizeof msg, "Runtime exited before its first invocation (cannot start %s: %s)",
                 f->argv[0], strerror(spawn_rc));
        elog(e, "%s: %s", f->name, msg);
        if (f->nq > 0) fault_queued_head(f, "Runtime.InitError", msg);
        f->respawn_after = mono_ms() + 1000;
        return;
    }
    f->pid = pid;
    f->gen++;
    f->spawn_mono = t0;
    f->reached_next = 0;
    f->kill_reason = 0;
    if (!e->o.quiet) elog(e, "%s: started %s (pid %d)", f->name, f->argv[0], (int)pid);
}

static void fn_kill(emu_fn *f, int reason)
{
    if (f->pid > 0) {
        if (!f->kill_reason) f->kill_reason = reason;
        kill(-f->pid, SIGKILL);
        kill(f->pid, SIGKILL);
    }
}

static int queue_has(const emu_fn *f, const char *arn)
{
    if (f->busy && f->cur_arn && strcmp(f->cur_arn, arn) == 0) return 1;
    for (int i = 0; i < f->nq; i++)
        if (strcmp(f->queue[i], arn) == 0) return 1;
    return 0;
}

static int queue_push(emu_fn *f, const char *arn)
{
    if (f->nq == f->capq) {
        int nc = f->capq ? f->capq * 2 : 8;
        char **nqv = realloc(f->queue, (size_t)nc * sizeof *nqv);
        if (!nqv) return -1;
        f->queue = nqv;
        f->capq = nc;
    }
    if (!(f->queue[f->nq] = strdup(arn))) return -1;
    f->nq++;
    return 0;
}

static char *queue_pop(emu_fn *f)
{
    if (f->nq == 0) return NULL;
    char *a = f->queue[0];
    memmove(f->queue, f->queue + 1, (size_t)(f->nq - 1) * sizeof *f->queue);
    f->nq--;
    return a;
}

/* End the invocation in flight with a fault (mu held on entry and exit; released around the
 * service call). */
static void fault_current(emu_fn *f, const char *type, const char *msg)
{
    dwf_emulator *e = f->emu;
    if (!f->busy || !f->cur_rid[0]) return;
    char *arn = f->cur_arn;
    char rid[40];
    memcpy(rid, f->cur_rid, sizeof rid);
    double start = f->cur_start_ms;
    f->cur_arn = NULL;
    f->cur_rid[0] = '\0';
    pthread_mutex_unlock(&e->mu);
    dwf_error fault, err;
    snprintf(fault.type, sizeof fault.type, "%s", type);
    snprintf(fault.message, sizeof fault.message, "%s", msg);
    if (!e->o.quiet) elog(e, "%s: invocation %s failed: %s: %s", f->name, rid, type, msg);
    if (dwf_service_end_invocation(e->svc, arn, rid, start, NULL, &fault, &err) != 0)
        elog(e, "%s: ending invocation %s: %s: %s", f->name, rid, err.type, err.message);
    free(arn);
    pthread_mutex_lock(&e->mu);
    f->busy = 0;
    kick(e);
}

/* A process that died before it took its first invocation (an init failure) fails the
 * invocation it was started for, so the service's retry and backoff apply to it as on
 * Lambda, instead of the emulator restarting it forever. mu held. */
static void fault_queued_head(emu_fn *f, const char *type, const char *msg)
{
    dwf_emulator *e = f->emu;
    char *arn = queue_pop(f);
    if (!arn) return;
    f->busy = 1;
    f->cur_arn = arn;
    pthread_mutex_unlock(&e->mu);
    cJSON *event = NULL;
    char rid[40];
    dwf_error err;
    int r = dwf_service_begin_invocation(e->svc, arn, &event, rid, &err);
    cJSON_Delete(event);
    double start = dwf_service_now(e->svc);
    pthread_mutex_lock(&e->mu);
    if (r != 0) {
        free(f->cur_arn);
        f->cur_arn = NULL;
        f->busy = 0;
        return;
    }
    memcpy(f->cur_rid, rid, sizeof rid);
    f->cur_start_ms = start;
    fault_current(f, type, msg);
}

/* Reap processes that ended (mu held). */
static void reap(dwf_emulator *e)
{
    for (int i = 0; i < e->nfns; i++) {
        emu_fn *f = &e->fns[i];
        if (f->pid <= 0) continue;
        int st = 0;
        pid_t r = waitpid(f->pid, &st, WNOHANG);
        if (r == 0) continue;
        pid_t pid = f->pid;
        f->pid = 0;
        f->gen++;
        int reason = f->kill_reason;
        f->kill_reason = 0;
        char how[96];
        if (r < 0) snprintf(how, sizeof how, "lost (%s)", strerror(errno));
        else if (WIFEXITED(st)) snprintf(how, sizeof how, "exit status %d", WEXITSTATUS(st));
        else if (WIFSIGNALED(st)) snprintf(how, sizeof how, "signal %d", WTERMSIG(st));
        else snprintf(how, sizeof how, "status %d", st);
        if (!e->o.quiet || reason != 2) elog(e, "%s: process %d ended (%s)", f->name, (int)pid, how);
        if (f->busy) {
            char msg[256];
            if (reason == 1) {
                snprintf(msg, sizeof msg, "Task timed out after %d.00 seconds", f->timeout_s);
                fault_current(f, "Sandbox.Timedout", msg);
            } else {
                snprintf(msg, sizeof msg, "Runtime exited with error: %s", how);
                fault_current(f, "Runtime.ExitError", msg);
            }
        } else if (!f->reached_next && reason == 0 && f->nq > 0) {
            char msg[600];
            snprintf(msg, sizeof msg, "Runtime exited before its first invocation (%s)%s%.400s", how,
                     f->init_error ? ": " : "", f->init_error ? f->init_error : "");
            fault_queued_head(f, "Runtime.InitError", msg);
            f->respawn_after = mono_ms() + 500;
        }
        kick(e);
    }
}

/* ---- the Runtime API (one server per function) ----------------------------------------------- */

static enum MHD_Result rt_next(emu_fn *f, struct MHD_Connection *c)
{
    dwf_emulator *e = f->emu;
    pthread_mutex_lock(&e->mu);
    unsigned gen = f->gen;
    if (!f->reached_next) {
        f->reached_next = 1;
        if (!e->o.quiet)
            elog(e, "%s: cold start %.3f ms (process start to first /next), CPU %.1f ms", f->name,
                 mono_ms() - f->spawn_mono, f->pid > 0 ? process_cpu_ms(f->pid) : -1.0);
        free(f->init_error);
        f->init_error = NULL;
    }
    if (f->busy && f->cur_rid[0]) fault_current(f, "Runtime.NoResponse", "the runtime asked for the next invocation without answering this one");
    for (;;) {
        while (!e->stopping && f->gen == gen && (f->nq == 0 || f->busy)) timed_wait(e, 1000);
        if (e->stopping || f->gen != gen) {
            pthread_mutex_unlock(&e->mu);
            return send_error(c, 500, "ServiceException", "the sandbox is shutting down");
        }
        char *arn = queue_pop(f);
        f->busy = 1;
        f->cur_arn = arn;
        f->cur_rid[0] = '\0';
        pthread_mutex_unlock(&e->mu);
        cJSON *event = NULL;
        char rid[40];
        dwf_error err;
        int r = dwf_service_begin_invocation(e->svc, arn, &event, rid, &err);
        double start = dwf_service_now(e->svc);
        pthread_mutex_lock(&e->mu);
        if (r != 0) {
            /* Closed or stopped meanwhile: nothing to run. */
            if (!e->o.quiet) elog(e, "%s: not invoking %s: %s: %s", f->name, arn, err.type, err.message);
            free(f->cur_arn);
            f->cur_arn = NULL;
            f->busy = 0;
            kick(e);
            continue;
        }
        memcpy(f->cur_rid, rid, sizeof rid);
        f->cur_start_ms = start;
        f->cur_deadline = real_ms() + f->timeout_s * 1000.0;
        if (e->stopping || f->gen != gen) {
            /* The process died while the event was being built: nobody will answer it. */
            cJSON_Delete(event);
            fault_current(f, "Runtime.ExitError", "the runtime exited before it received the invocation");
            pthread_mutex_unlock(&e->mu);
            return send_error(c, 500, "ServiceException", "the sandbox is gone");
        }
        char deadline[32], fn_arn[512], trace[96];
        snprintf(deadline, sizeof deadline, "%.0f", f->cur_deadline);
        snprintf(fn_arn, sizeof fn_arn, "arn:aws:lambda:%s:%s:function:%s:$LATEST", e->region, e->account, f->name);
        snprintf(trace, sizeof trace, "Root=1-%08lx-%.24s;Sampled=0", (unsigned long)time(NULL), rid);
        for (char *t = trace; *t; t++)
            if (*t == '-' && t > trace + 16) *t = '0';
        pthread_mutex_unlock(&e->mu);
        const char *h[] = {"Lambda-Runtime-Aws-Request-Id", rid, "Lambda-Runtime-Deadline-Ms", deadline,
                           "Lambda-Runtime-Invoked-Function-Arn", fn_arn, "Lambda-Runtime-Trace-Id", trace, NULL};
        enum MHD_Result res = send_json(c, 200, event, h);
        cJSON_Delete(event);
        return res;
    }
}

/* /runtime/invocation/{id}/response or /error. */
static enum MHD_Result rt_answer(emu_fn *f, struct MHD_Connection *c, request *r, const char *rid, int is_error)
{
    dwf_emulator *e = f->emu;
    pthread_mutex_lock(&e->mu);
    if (!f->busy || strcmp(f->cur_rid, rid) != 0) {
        pthread_mutex_unlock(&e->mu);
        return send_error(c, 400, "InvalidRequestID", "unknown or already answered request id");
    }
    char *arn = f->cur_arn;
    double start = f->cur_start_ms;
    f->cur_arn = NULL;
    f->cur_rid[0] = '\0';
    long hwm = f->pid > 0 ? vm_hwm_kb(f->pid) : -1;
    pthread_mutex_unlock(&e->mu);

    cJSON *resp = NULL;
    dwf_error fault = {{0}, {0}}, err;
    if (is_error) {
        cJSON *b = r->body ? cJSON_ParseWithLength(r->body, r->len) : NULL;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "errorType");
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(b, "errorMessage");
        const char *ht = dwf__mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Lambda-Runtime-Function-Error-Type");
        snprintf(fault.type, sizeof fault.type, "%s",
                 cJSON_IsString(t) ? t->valuestring : ht ? ht : "Runtime.UnknownReason");
        snprintf(fault.message, sizeof fault.message, "%s", cJSON_IsString(m) ? m->valuestring : "(no message)");
        cJSON_Delete(b);
    } else {
        resp = r->body ? cJSON_ParseWithLength(r->body, r->len) : NULL;
        if (!cJSON_IsObject(resp)) {
            cJSON_Delete(resp);
            resp = NULL;
            snprintf(fault.type, sizeof fault.type, "Runtime.InvalidResponse");
            snprintf(fault.message, sizeof fault.message, "the handler response is not a JSON object: %.200s",
                     r->body ? r->body : "");
        }
    }
    if (!e->o.quiet) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(resp, "Status");
        elog(e, "%s: invocation %s answered %s in %.0f ms, process VmHWM %ld kB", f->name, rid,
             resp ? (cJSON_IsString(st) ? st->valuestring : "?") : fault.type, dwf_service_now(e->svc) - start, hwm);
    }
    int rc = dwf_service_end_invocation(e->svc, arn, rid, start, resp, resp ? NULL : &fault, &err);
    if (rc != 0) elog(e, "%s: ending invocation %s: %s: %s", f->name, rid, err.type, err.message);
    cJSON_Delete(resp);
    free(arn);
    pthread_mutex_lock(&e->mu);
    f->busy = 0;
    if (e->o.cold) fn_kill(f, 2);
    kick(e);
    pthread_mutex_unlock(&e->mu);
    const char *ok = "{\"status\":\"OK\"}";
    return send_raw(c, 202, "application/json", ok, strlen(ok), NULL);
}

/* Append a piece of the request body MHD hands over (NUL-terminated; past MAX_BODY only
 * marked too big, answered once the body has arrived). -1 when out of memory. */
static int request_append(request *r, const char *upload, size_t *upload_size)
{
    if (r->len + *upload_size > MAX_BODY) r->too_big = 1;
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

static enum MHD_Result rt_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)url;
    (void)version;
    emu_fn *f = cls;
    request *r = *con_cls;
    if (!r) return MHD_NO;
    if (!r->started) {
        r->started = 1;
        return MHD_YES;
    }
    if (*upload_size) return request_append(r, upload, upload_size) == 0 ? MHD_YES : MHD_NO;
    if (r->too_big) return send_error(c, 413, "RequestEntityTooLarge", "payload too large");
    if (request_parse(r) != 0) return MHD_NO;
    int n = r->nseg;
    char **s = r->seg;
    if (n >= 3 && strcmp(s[0], "2018-06-01") == 0 && strcmp(s[1], "runtime") == 0) {
        if (n == 4 && strcmp(s[2], "invocation") == 0 && strcmp(s[3], "next") == 0 && strcmp(method, "GET") == 0)
            return rt_next(f, c);
        if (n == 5 && strcmp(s[2], "invocation") == 0 && strcmp(method, "POST") == 0 &&
            (strcmp(s[4], "response") == 0 || strcmp(s[4], "error") == 0))
            return rt_answer(f, c, r, s[3], strcmp(s[4], "error") == 0);
        if (n == 4 && strcmp(s[2], "init") == 0 && strcmp(s[3], "error") == 0 && strcmp(method, "POST") == 0) {
            dwf_emulator *e = f->emu;
            elog(e, "%s: init error: %.500s", f->name, r->body ? r->body : "");
            pthread_mutex_lock(&e->mu);
            free(f->init_error);
            f->init_error = r->body ? strdup(r->body) : NULL;
            pthread_mutex_unlock(&e->mu);
            const char *ok = "{\"status\":\"OK\"}";
            return send_raw(c, 202, "application/json", ok, strlen(ok), NULL);
        }
    }
    return send_error(c, 404, "NotFound", "no such Runtime API route");
}

/* ---- the Invoke API ---------------------------------------------------------------------------- */

/* Split a FunctionName (name, name:qual, arn:aws:lambda:r:a:function:name[:qual], a:function:name[:qual]). */
static int split_function_name(const char *in, char name[256], char qual[160])
{
    const char *p = in;
    const char *f = strstr(in, "function:");
    if (f && (f == in || f[-1] == ':')) p = f + 9;
    else if (strchr(in, ':') && strncmp(in, "arn:", 4) == 0) return -1;
    size_t n = strcspn(p, ":");
    if (n == 0 || n > 255) return -1;
    memcpy(name, p, n);
    name[n] = '\0';
    qual[0] = '\0';
    if (p[n] == ':') {
        if (strlen(p + n + 1) >= 160 || !p[n + 1] || strchr(p + n + 1, ':')) return -1;
        snprintf(qual, 160, "%s", p + n + 1);
    }
    return 0;
}

static int exec_status(dwf_emulator *e, const char *arn, cJSON **out, dwf_error *err)
{
    return dwf_service_get_execution(e->svc, arn, 1, out, err);
}

static enum MHD_Result api_invoke(dwf_emulator *e, struct MHD_Connection *c, request *r, const char *label)
{
    char name[256], qual[160];
    if (split_function_name(label, name, qual) != 0)
        return send_error(c, 400, "ValidationException", "1 validation error detected: Value at 'functionName' failed to satisfy constraint");
    const char *qq = qget(r, "Qualifier");
    if (qq && *qq) {
        if (qual[0] && strcmp(qual, qq) != 0)
            return send_error(c, 400, "InvalidParameterValueException",
                              "The derived qualifier from the function name does not match the specified qualifier.");
        snprintf(qual, sizeof qual, "%s", qq);
    }
    emu_fn *f = fn_by_name(e, name);
    if (!f) {
        char msg[600];
        snprintf(msg, sizeof msg, "Function not found: arn:aws:lambda:%s:%s:function:%s%s%s", e->region, e->account,
                 name, qual[0] ? ":" : "", qual);
        return send_error(c, 404, "ResourceNotFoundException", msg);
    }
    if (!qual[0])
        return send_error(c, 400, "InvalidParameterValueException",
                          "You cannot invoke a durable function using an unqualified ARN.");
    const char *type = dwf__mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Invocation-Type");
    if (!type || !*type) type = "RequestResponse";
    if (strcmp(type, "RequestResponse") != 0 && strcmp(type, "Event") != 0 && strcmp(type, "DryRun") != 0)
        return send_error(c, 400, "InvalidParameterValueException", "Unsupported invocation type.");
    if (strcmp(type, "DryRun") == 0) return send_raw(c, 204, NULL, "", 0, NULL);
    const char *xname = dwf__mhd.MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Durable-Execution-Name");

    cJSON *req = cJSON_CreateObject(), *out = NULL;
    if (!req || !cJSON_AddStringToObject(req, "FunctionName", name) ||
        (r->len && !cJSON_AddStringToObject(req, "Input", r->body)) ||
        (xname && !cJSON_AddStringToObject(req, "DurableExecutionName", xname))) {
        cJSON_Delete(req);
        return send_error(c, 500, "ServiceException", "out of memory");
    }
    dwf_error err;
    int rc = dwf_service_start(e->svc, req, &out, &err);
    cJSON_Delete(req);
    if (rc != 0) return send_service_error(c, &err);
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(out, "DurableExecutionArn");
    char *arn = cJSON_IsString(a) ? strdup(a->valuestring) : NULL;
    cJSON_Delete(out);
    if (!arn) return send_error(c, 500, "ServiceException", "the service returned no execution ARN");
    if (!e->o.quiet) elog(e, "%s: Invoke (%s) started %s", name, type, arn);
    kick_unlocked(e);
    if (strcmp(type, "Event") == 0) {
        const char *h[] = {"X-Amz-Durable-Execution-Arn", arn, "X-Amz-Executed-Version", "$LATEST", NULL};
        enum MHD_Result res = send_raw(c, 202, NULL, "", 0, h);
        free(arn);
        return res;
    }
    /* RequestResponse: wait for the whole execution (at most 15 minutes, as Lambda). */
    double until = mono_ms() + SYNC_INVOKE_MAX_MS;
    cJSON *x = NULL;
    for (;;) {
        if (exec_status(e, arn, &x, &err) != 0) {
            free(arn);
            return send_service_error(c, &err);
        }
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(x, "Status");
        if (!cJSON_IsString(st) || strcmp(st->valuestring, "RUNNING") != 0) break;
        cJSON_Delete(x);
        x = NULL;
        pthread_mutex_lock(&e->mu);
        int stop = e->stopping;
        if (!stop) timed_wait(e, 200);
        pthread_mutex_unlock(&e->mu);
        if (stop || mono_ms() > until) {
            char msg[700];
            snprintf(msg, sizeof msg, "The synchronous invocation of %s did not finish in time; it goes on (%s).", name, arn);
            const char *h[] = {"X-Amz-Durable-Execution-Arn", arn, NULL};
            cJSON *b = cJSON_CreateObject();
            cJSON_AddStringToObject(b, "Type", "User");
            cJSON_AddStringToObject(b, "message", msg);
            enum MHD_Result res = send_json(c, 408, b, h);
            cJSON_Delete(b);
            free(arn);
            return res;
        }
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(x, "Status");
    enum MHD_Result res;
    if (strcmp(st->valuestring, "SUCCEEDED") == 0) {
        const cJSON *rs = cJSON_GetObjectItemCaseSensitive(x, "Result");
        const char *body = cJSON_IsString(rs) ? rs->valuestring : "null";
        const char *h[] = {"X-Amz-Durable-Execution-Arn", arn, "X-Amz-Executed-Version", "$LATEST", NULL};
        res = send_raw(c, 200, "application/json", body, strlen(body), h);
    } else {
        /* A failed execution is a function error: 200 with X-Amz-Function-Error, as Lambda. */
        const cJSON *eo = cJSON_GetObjectItemCaseSensitive(x, "Error");
        const cJSON *et = cJSON_GetObjectItemCaseSensitive(eo, "ErrorType");
        const cJSON *em = cJSON_GetObjectItemCaseSensitive(eo, "ErrorMessage");
        cJSON *b = cJSON_CreateObject();
        cJSON_AddStringToObject(b, "errorType", cJSON_IsString(et) ? et->valuestring : st->valuestring);
        cJSON_AddStringToObject(b, "errorMessage", cJSON_IsString(em) ? em->valuestring : st->valuestring);
        const char *h[] = {"X-Amz-Durable-Execution-Arn", arn, "X-Amz-Executed-Version", "$LATEST",
                           "X-Amz-Function-Error", "Unhandled", NULL};
        res = send_json(c, 200, b, h);
        cJSON_Delete(b);
    }
    cJSON_Delete(x);
    free(arn);
    return res;
}

/* ---- the durable REST API ---------------------------------------------------------------------- */

/* ISO-8601 or epoch seconds -> epoch seconds; -1 if neither. */
static double parse_time(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (*s && !*end) return v;
    struct tm tm = {0};
    const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest) return -1;
    double frac = 0;
    if (*rest == '.') frac = strtod(rest, (char **)&rest);
    double t = (double)timegm(&tm) + frac;
    if (*rest == '+' || *rest == '-') {
        int hh = 0, mm = 0;
        if (sscanf(rest + 1, "%d:%d", &hh, &mm) >= 1) t += (*rest == '+' ? -1 : 1) * (hh * 3600.0 + mm * 60.0);
    }
    return t;
}

static int int_param(const request *r, const char *name, int dflt)
{
    const char *v = qget(r, name);
    return v && *v ? atoi(v) : dflt;
}

/* The ErrorObject of a Stop / callback failure body: the body itself, or its "Error" member. */
static cJSON *error_object(const request *r, int *bad)
{
    *bad = 0;
    if (!r->len) return NULL;
    cJSON *b = cJSON_ParseWithLength(r->body, r->len);
    if (!cJSON_IsObject(b)) {
        cJSON_Delete(b);
        *bad = 1;
        return NULL;
    }
    cJSON *inner = cJSON_DetachItemFromObjectCaseSensitive(b, "Error");
    if (cJSON_IsObject(inner)) {
        cJSON_Delete(b);
        return inner;
    }
    cJSON_Delete(inner);
    if (!b->child) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

static enum MHD_Result reply(struct MHD_Connection *c, int rc, cJSON *out, const dwf_error *err)
{
    enum MHD_Result res = rc == 0 ? send_json(c, 200, out, NULL) : send_service_error(c, err);
    cJSON_Delete(out);
    return res;
}

static enum MHD_Result api_execution(dwf_emulator *e, struct MHD_Connection *c, const char *method, request *r)
{
    /* /2025-12-01/durable-executions/{arn}[/op]; an ARN sent with raw '/' is joined back. */
    int n = r->nseg, last = n;
    const char *op = "";
    const char *ops[] = {"checkpoint", "state", "history", "stop"};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++)
        if (n > 3 && strcmp(r->seg[n - 1], ops[i]) == 0) {
            op = ops[i];
            last = n - 1;
        }
    strbuf arn = {0};
    for (int i = 2; i < last; i++) {
        if (i > 2) sb_add(&arn, "/", 1);
        sb_str(&arn, r->seg[i]);
    }
    if (arn.oom || !arn.s) {
        free(arn.s);
        return send_error(c, 400, "InvalidParameterValueException", "DurableExecutionArn is required.");
    }
    cJSON *out = NULL;
    dwf_error err;
    int rc;
    enum MHD_Result res;
    if (strcmp(op, "") == 0 && strcmp(method, "GET") == 0) {
        rc = dwf_service_get_execution(e->svc, arn.s, qbool(r, "IncludeExecutionData", 1), &out, &err);
        res = reply(c, rc, out, &err);
    } else if (strcmp(op, "state") == 0 && strcmp(method, "GET") == 0) {
        rc = dwf_service_get_state(e->svc, arn.s, qget(r, "CheckpointToken"), qget(r, "Marker"),
                                   int_param(r, "MaxItems", 0), &out, &err);
        res = reply(c, rc, out, &err);
    } else if (strcmp(op, "history") == 0 && strcmp(method, "GET") == 0) {
        rc = dwf_service_get_history(e->svc, arn.s, qbool(r, "IncludeExecutionData", 0), int_param(r, "MaxItems", 0),
                                     qget(r, "Marker"), qbool(r, "ReverseOrder", 0), &out, &err);
        res = reply(c, rc, out, &err);
    } else if (strcmp(op, "checkpoint") == 0 && strcmp(method, "POST") == 0) {
        cJSON *body = cJSON_ParseWithLength(r->body ? r->body : "", r->len);
        if (!cJSON_IsObject(body)) {
            cJSON_Delete(body);
            free(arn.s);
            return send_error(c, 400, "SerializationException", "the request body is not a JSON object");
        }
        rc = dwf_service_checkpoint(e->svc, arn.s, body, &out, &err);
        cJSON_Delete(body);
        res = reply(c, rc, out, &err);
        kick_unlocked(e);
    } else if (strcmp(op, "stop") == 0 && strcmp(method, "POST") == 0) {
        int bad;
        cJSON *eo = error_object(r, &bad);
        if (bad) {
            free(arn.s);
            return send_error(c, 400, "SerializationException", "the request body is not a JSON object");
        }
        rc = dwf_service_stop(e->svc, arn.s, eo, &out, &err);
        cJSON_Delete(eo);
        res = reply(c, rc, out, &err);
        kick_unlocked(e);
    } else {
        res = send_error(c, 404, "UnknownOperationException", "no such durable execution operation");
    }
    free(arn.s);
    return res;
}

static enum MHD_Result api_list(dwf_emulator *e, struct MHD_Connection *c, request *r, const char *label)
{
    char name[256], qual[160];
    if (split_function_name(label, name, qual) != 0)
        return send_error(c, 400, "ValidationException", "FunctionName is not a function name or ARN");
    cJSON *q = cJSON_CreateObject(), *st = NULL, *out = NULL;
    int bad = !q || !cJSON_AddStringToObject(q, "FunctionName", name);
    for (int i = 0; !bad && i < r->nq; i++) {
        const qparam *p = &r->q[i];
        if (strcmp(p->name, "DurableExecutionName") == 0 || strcmp(p->name, "Marker") == 0) {
            bad = !cJSON_AddStringToObject(q, p->name, p->value);
        } else if (strcmp(p->name, "Statuses") == 0) {
            if (!st) bad = !(st = cJSON_AddArrayToObject(q, "Statuses"));
            if (!bad) bad = !cJSON_AddItemToArray(st, cJSON_CreateString(p->value));
        } else if (strcmp(p->name, "StartedAfter") == 0 || strcmp(p->name, "StartedBefore") == 0) {
            double t = parse_time(p->value);
            if (t < 0) {
                cJSON_Delete(q);
                return send_error(c, 400, "InvalidParameterValueException", "StartedAfter/StartedBefore must be a timestamp.");
            }
            bad = !cJSON_AddNumberToObject(q, p->name, t);
        } else if (strcmp(p->name, "ReverseOrder") == 0) {
            bad = !cJSON_AddBoolToObject(q, p->name, strcmp(p->value, "true") == 0);
        } else if (strcmp(p->name, "MaxItems") == 0) {
            bad = !cJSON_AddNumberToObject(q, p->name, atoi(p->value));
        }
    }
    if (bad) {
        cJSON_Delete(q);
        return send_error(c, 500, "ServiceException", "out of memory");
    }
    dwf_error err;
    int rc = dwf_service_list_executions(e->svc, q, &out, &err);
    cJSON_Delete(q);
    return reply(c, rc, out, &err);
}

static enum MHD_Result api_callback(dwf_emulator *e, struct MHD_Connection *c, const char *method, request *r)
{
    if (r->nseg != 4 || strcmp(method, "POST") != 0)
        return send_error(c, 404, "UnknownOperationException", "no such callback operation");
    const char *id = r->seg[2], *op = r->seg[3];
    dwf_error err;
    int rc;
    if (strcmp(op, "succeed") == 0) {
        rc = dwf_service_callback_succeed(e->svc, id, r->body ? r->body : "", r->len, &err);
    } else if (strcmp(op, "fail") == 0) {
        int bad;
        cJSON *eo = error_object(r, &bad);
        if (bad) return send_error(c, 400, "SerializationException", "the request body is not a JSON object");
        rc = dwf_service_callback_fail(e->svc, id, eo, &err);
        cJSON_Delete(eo);
    } else if (strcmp(op, "heartbeat") == 0) {
        rc = dwf_service_callback_heartbeat(e->svc, id, &err);
    } else {
        return send_error(c, 404, "UnknownOperationException", "no such callback operation");
    }
    if (rc != 0) return send_service_error(c, &err);
    kick_unlocked(e);
    return send_raw(c, 200, "application/json", "{}", 2, NULL);
}

static enum MHD_Result api_handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                   const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)url;
    (void)version;
    dwf_emulator *e = cls;
    request *r = *con_cls;
    if (!r) return MHD_NO;
    if (!r->started) {
        r->started = 1;
        return MHD_YES;
    }
    if (*upload_size) return request_append(r, upload, upload_size) == 0 ? MHD_YES : MHD_NO;
    if (r->too_big) return send_error(c, 413, "RequestTooLargeException", "Request must be smaller than 6291456 bytes for the InvokeFunction operation");
    if (request_parse(r) != 0) return send_error(c, 500, "ServiceException", "out of memory");
    if (e->access_key && e->secret_key) {
        unsigned status;
        dwf_error err;
        if (verify_sigv4(e, c, method, r, &status, &err) != 0) {
            if (!e->o.quiet) elog(e, "rejected %s %s: %s: %s", method, r->uri, err.type, err.message);
            return send_error(c, status, err.type, err.message);
        }
    }
    int n = r->nseg;
    char **s = r->seg;
    if (n == 4 && strcmp(s[0], "2015-03-31") == 0 && strcmp(s[1], "functions") == 0 && strcmp(s[3], "invocations") == 0 &&
        strcmp(method, "POST") == 0)
        return api_invoke(e, c, r, s[2]);
    if (n >= 3 && strcmp(s[0], "2025-12-01") == 0) {
        if (strcmp(s[1], "durable-executions") == 0) return api_execution(e, c, method, r);
        if (strcmp(s[1], "durable-execution-callbacks") == 0) return api_callback(e, c, method, r);
        if (n == 4 && strcmp(s[1], "functions") == 0 && strcmp(s[3], "durable-executions") == 0 &&
            strcmp(method, "GET") == 0)
            return api_list(e, c, r, s[2]);
    }
    return send_error(c, 404, "UnknownOperationException", "Unknown operation");
}

/* ---- the scheduler ------------------------------------------------------------------------------ */

static void *scheduler(void *arg)
{
    dwf_emulator *e = arg;
    dwf_error err;
    double last_err_log = 0;
    pthread_mutex_lock(&e->mu);
    while (!e->stopping) {
        unsigned long seen = e->kicks;
        reap(e);
        double now_real = real_ms();
        for (int i = 0; i < e->nfns; i++) {
            emu_fn *f = &e->fns[i];
            if (f->busy && f->cur_rid[0] && now_real > f->cur_deadline) {
                if (f->pid > 0) fn_kill(f, 1);
                else fault_current(f, "Sandbox.Timedout", "the invocation outlived its timeout with no process to answer it");
            }
        }
        pthread_mutex_unlock(&e->mu);

        cJSON *run = NULL;
        int rc = dwf_service_fire_timers(e->svc, NULL, NULL, &err);
        if (rc == 0) rc = dwf_service_runnable(e->svc, NULL, 60000.0, &run, &err);
        if (rc != 0 && mono_ms() - last_err_log > 5000) {
            elog(e, "scheduler: %s: %s", err.type, err.message);
            last_err_log = mono_ms();
        }
        pthread_mutex_lock(&e->mu);
        int queued = 0;
        for (const cJSON *a = run ? run->child : NULL; a; a = a->next) {
            char fname[256];
            emu_fn *f = cJSON_IsString(a) && dwf_service_function_of(a->valuestring, fname) == 0 ? fn_by_name(e, fname) : NULL;
            if (!f || queue_has(f, a->valuestring)) continue;
            if (queue_push(f, a->valuestring) == 0) queued++;
        }
        cJSON_Delete(run);
        int idle = 1;
        for (int i = 0; i < e->nfns; i++) {
            emu_fn *f = &e->fns[i];
            if (f->nq > 0 || f->busy) idle = 0;
            if (f->nq > 0 && f->pid == 0 && mono_ms() >= f->respawn_after) fn_spawn(f);
        }
        if (queued) kick(e);
        double wait = IDLE_SLICE_MS;
        if (idle && !queued) {
            pthread_mutex_unlock(&e->mu);
            double due = -1;
            if (dwf_service_next_due(e->svc, NULL, 0, &due, &err) == 0 && due >= 0) {
                double now = dwf_service_now(e->svc);
                if (due > now && e->o.skip_time) {
                    if (dwf_service_advance_clock(e->svc, due, &err) == 0) wait = 0;
                } else if (due > now && due - now < wait) {
                    wait = due - now;
                }
            }
            pthread_mutex_lock(&e->mu);
        }
        if (wait > 0 && e->kicks == seen && !e->stopping) timed_wait(e, wait);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

/* ---- setting functions up ------------------------------------------------------------------------ */

/* Unpack a zip into dir: modes from the Unix attributes, symlinks as symlinks, no entry outside
 * dir. 0 or -1 with err. */
static int unzip_to(const char *zip_path, const char *dir, char name_out[256], dwf_error *err)
{
    int zerr = 0;
    zip_t *za = dwf__zip.zip_open(zip_path, ZIP_RDONLY, &zerr);
    if (!za) {
        zip_error_t ze;
        dwf__zip.zip_error_init_with_code(&ze, zerr);
        fail(err, "InvalidParameterValueException", "%s: %s", zip_path, dwf__zip.zip_error_strerror(&ze));
        dwf__zip.zip_error_fini(&ze);
        return -1;
    }
    int rc = 0;
    zip_int64_t n = dwf__zip.zip_get_num_entries(za, 0);
    char *buf = malloc(1 << 16);
    if (!buf) rc = fail(err, "ServiceException", "out of memory");
    for (zip_int64_t i = 0; rc == 0 && i < n; i++) {
        const char *nm = dwf__zip.zip_get_name(za, (zip_uint64_t)i, 0);
        if (!nm || !*nm || nm[0] == '/' || strstr(nm, "../") || strcmp(nm, "..") == 0 ||
            (strlen(nm) >= 3 && strcmp(nm + strlen(nm) - 3, "/..") == 0)) {
            rc = fail(err, "InvalidParameterValueException", "%s: unsafe entry name '%s'", zip_path, nm ? nm : "");
            break;
        }
        zip_uint8_t os;
        zip_uint32_t attr;
        mode_t mode = 0644;
        int is_link = 0;
        if (dwf__zip.zip_file_get_external_attributes(za, (zip_uint64_t)i, 0, &os, &attr) == 0 && os == ZIP_OPSYS_UNIX &&
            (attr >> 16)) {
            mode_t m = (mode_t)(attr >> 16);
            is_link = S_ISLNK(m);
            mode = m & 07777;
        }
        if (name_out && strncmp(nm, "bin/", 4) == 0 && nm[4] && !strchr(nm + 4, '/') && strlen(nm + 4) < 256)
            snprintf(name_out, 256, "%s", nm + 4);
        char *path = xasprintf("%s/%s", dir, nm);
        if (!path) {
            rc = fail(err, "ServiceException", "out of memory");
            break;
        }
        /* parents */
        for (char *s = path + strlen(dir) + 1; *s; s++)
            if (*s == '/') {
                *s = '\0';
                mkdir(path, 0755);
                *s = '/';
            }
        size_t pl = strlen(path);
        if (pl && path[pl - 1] == '/') {
            free(path);
            continue;
        }
        zip_file_t *zf = dwf__zip.zip_fopen_index(za, (zip_uint64_t)i, 0);
        if (!zf) {
            rc = fail(err, "InvalidParameterValueException", "%s: %s: %s", zip_path, nm, dwf__zip.zip_strerror(za));
            free(path);
            break;
        }
        if (is_link) {
            zip_int64_t k = dwf__zip.zip_fread(zf, buf, (1 << 16) - 1);
            if (k < 0) rc = fail(err, "InvalidParameterValueException", "%s: reading %s", zip_path, nm);
            else {
                buf[k] = '\0';
                if (symlink(buf, path) != 0) rc = fail(err, "ServiceException", "symlink %s: %s", path, strerror(errno));
            }
        } else {
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0) rc = fail(err, "ServiceException", "%s: %s", path, strerror(errno));
            zip_int64_t k;
            while (rc == 0 && (k = dwf__zip.zip_fread(zf, buf, 1 << 16)) > 0)
                if (write(fd, buf, (size_t)k) != (ssize_t)k) rc = fail(err, "ServiceException", "writing %s: %s", path, strerror(errno));
            if (rc == 0 && k < 0) rc = fail(err, "InvalidParameterValueException", "%s: reading %s", zip_path, nm);
            if (fd >= 0 && fchmod(fd, mode) != 0 && rc == 0) rc = fail(err, "ServiceException", "chmod %s: %s", path, strerror(errno));
            if (fd >= 0 && close(fd) != 0 && rc == 0) rc = fail(err, "ServiceException", "closing %s: %s", path, strerror(errno));
        }
        dwf__zip.zip_fclose(zf);
        free(path);
    }
    free(buf);
    dwf__zip.zip_discard(za);
    return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* Split a command line on blanks ("quotes" and 'quotes' group words). NULL-terminated; NULL on OOM. */
static char **split_words(const char *s)
{
    char **v = calloc(1, sizeof *v);
    int n = 0;
    while (v && *s) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) break;
        strbuf w = {0};
        sb_add(&w, "", 0);
        while (*s && *s != ' ' && *s != '\t') {
            if (*s == '"' || *s == '\'') {
                char q = *s++;
                while (*s && *s != q) sb_add(&w, s++, 1);
                if (*s) s++;
            } else {
                sb_add(&w, s++, 1);
            }
        }
        char **nv = w.oom ? NULL : realloc(v, (size_t)(n + 2) * sizeof *v);
        if (!nv) {
            free(w.s);
            free_strv(v);
            return NULL;
        }
        v = nv;
        v[n++] = w.s;
        v[n] = NULL;
    }
    return v;
}

/* argv[0] with no '/' is looked up in our PATH (the child's PATH is Lambda's, not ours). */
static char *resolve_exe(const char *cmd)
{
    if (strchr(cmd, '/')) return strdup(cmd);
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
    while (*path) {
        size_t n = strcspn(path, ":");
        char *cand = xasprintf("%.*s/%s", (int)n, path, cmd);
        if (cand && access(cand, X_OK) == 0) return cand;
        free(cand);
        path += n;
        if (*path == ':') path++;
    }
    return strdup(cmd);
}

static int env_set(char ***envp, int *n, const char *kv)
{
    size_t k = strcspn(kv, "=");
    for (int i = 0; i < *n; i++)
        if (strncmp((*envp)[i], kv, k) == 0 && (*envp)[i][k] == '=') {
            char *d = strdup(kv);
            if (!d) return -1;
            free((*envp)[i]);
            (*envp)[i] = d;
            return 0;
        }
    char **nv = realloc(*envp, (size_t)(*n + 2) * sizeof **envp);
    if (!nv) return -1;
    *envp = nv;
    if (!((*envp)[*n] = strdup(kv))) return -1;
    (*n)++;
    (*envp)[*n] = NULL;
    return 0;
}

static int fn_setup(dwf_emulator *e, emu_fn *f, const dwf_emulator_function *d, dwf_error *err)
{
    char zname[256] = "";
    if (d->zip) {
        char tmpl[] = "/tmp/dwf-serve-XXXXXX";
        if (!mkdtemp(tmpl)) return fail(err, "ServiceException", "mkdtemp: %s", strerror(errno));
        if (!(f->task_root = strdup(tmpl))) return fail(err, "ServiceException", "out of memory");
        f->own_root = 1;
        if (unzip_to(d->zip, f->task_root, zname, err) != 0) return -1;
    } else if (d->dir) {
        char rp[PATH_MAX];
        if (!realpath(d->dir, rp)) return fail(err, "InvalidParameterValueException", "%s: %s", d->dir, strerror(errno));
        if (!(f->task_root = strdup(rp))) return fail(err, "ServiceException", "out of memory");
    } else {
        return fail(err, "InvalidParameterValueException", "a function needs a zip or a directory");
    }
    const char *name = d->name ? d->name : zname;
    if (!*name)
        return fail(err, "InvalidParameterValueException", "%s: no function name given and no bin/<name> program in the zip",
                    d->zip ? d->zip : d->dir);
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return fail(err, "InvalidParameterValueException", "function name '%s': only letters, digits, - and _", name);
    if (fn_by_name(e, name)) return fail(err, "InvalidParameterValueException", "function '%s' is served twice", name);
    f->name = strdup(name);
    f->handler = strdup(d->handler ? d->handler : "bootstrap");
    f->runtime = strdup(d->runtime ? d->runtime : "AWS_Lambda_provided.al2023");
    f->memory_mb = d->memory_mb > 0 ? d->memory_mb : 128;
    f->timeout_s = d->timeout_s > 0 ? d->timeout_s : 3;
    if (!f->name || !f->handler || !f->runtime) return fail(err, "ServiceException", "out of memory");
    if (d->command) {
        f->argv = split_words(d->command);
        if (!f->argv) return fail(err, "ServiceException", "out of memory");
        if (!f->argv[0]) return fail(err, "InvalidParameterValueException", "function '%s': empty --command", name);
    } else {
        f->argv = calloc(2, sizeof *f->argv);
        if (!f->argv || !(f->argv[0] = xasprintf("%s/bootstrap", f->task_root)))
            return fail(err, "ServiceException", "out of memory");
        if (access(f->argv[0], X_OK) != 0)
            return fail(err, "InvalidParameterValueException", "%s: no executable bootstrap at the task root (%s)",
                        d->zip ? d->zip : d->dir, strerror(errno));
    }
    char *exe = resolve_exe(f->argv[0]);
    if (!exe) return fail(err, "ServiceException", "out of memory");
    free(f->argv[0]);
    f->argv[0] = exe;

    /* Register with the service: the store's functions table names what serves it. */
    cJSON *reg = cJSON_CreateObject(), *dc = NULL;
    int bad = !reg || !cJSON_AddStringToObject(reg, "FunctionName", f->name) ||
              !cJSON_AddStringToObject(reg, "Handler", f->argv[0]) ||
              !cJSON_AddStringToObject(reg, "Source", d->zip ? d->zip : f->task_root) ||
              !(dc = cJSON_AddObjectToObject(reg, "DurableConfig")) ||
              !cJSON_AddNumberToObject(dc, "RetentionPeriodInDays", d->retention_days > 0 ? d->retention_days : 14) ||
              !cJSON_AddNumberToObject(dc, "ExecutionTimeout", d->execution_timeout_s > 0 ? d->execution_timeout_s : 86400);
    if (bad) {
        cJSON_Delete(reg);
        return fail(err, "ServiceException", "out of memory");
    }
    int rc = dwf_service_put_function(e->svc, reg, err);
    cJSON_Delete(reg);
    if (rc != 0) return -1;

    /* The Runtime API of this sandbox. */
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = 0;
    if (inet_pton(AF_INET, e->host, &sa.sin_addr) != 1)
        return fail(err, "InvalidParameterValueException", "host %s is not an IPv4 address", e->host);
    f->rt = dwf__mhd.MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
                             NULL, rt_handler, f, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_SOCK_ADDR,
                             (struct sockaddr *)&sa, MHD_OPTION_END);
    if (!f->rt) return fail(err, "ServiceException", "cannot start the Runtime API server of %s", f->name);
    const union MHD_DaemonInfo *di = dwf__mhd.MHD_get_daemon_info(f->rt, MHD_DAEMON_INFO_BIND_PORT);
    f->rt_port = di ? di->port : 0;

    /* Lambda's environment for a runtime, nothing of ours. */
    char stream[128], hexid[33];
    unsigned char rnd[16];
    FILE *ur = fopen("/dev/urandom", "rb");
    if (!ur || fread(rnd, 1, sizeof rnd, ur) != sizeof rnd) memset(rnd, 7, sizeof rnd);
    if (ur) fclose(ur);
    hex(rnd, 16, hexid);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(stream, sizeof stream, "%04d/%02d/%02d/[$LATEST]%s", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, hexid);
    int n = 0;
    f->envp = calloc(1, sizeof *f->envp);
    if (!f->envp) return fail(err, "ServiceException", "out of memory");
    char *kv[] = {
        xasprintf("AWS_LAMBDA_RUNTIME_API=%s:%d", e->host, f->rt_port),
        xasprintf("_HANDLER=%s", f->handler),
        xasprintf("LAMBDA_TASK_ROOT=%s", f->task_root),
        xasprintf("LAMBDA_RUNTIME_DIR=/var/runtime"),
        xasprintf("AWS_REGION=%s", e->region),
        xasprintf("AWS_DEFAULT_REGION=%s", e->region),
        xasprintf("AWS_ACCESS_KEY_ID=%s", e->access_key ? e->access_key : "AKIDDWFSERVELOCAL"),
        xasprintf("AWS_SECRET_ACCESS_KEY=%s", e->secret_key ? e->secret_key : "dwf-serve-local-secret"),
        xasprintf("AWS_SESSION_TOKEN=%s", e->session_token ? e->session_token : "dwf-serve-local-session"),
        xasprintf("AWS_LAMBDA_FUNCTION_NAME=%s", f->name),
        xasprintf("AWS_LAMBDA_FUNCTION_VERSION=$LATEST"),
        xasprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", f->memory_mb),
        xasprintf("AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/%s", f->name),
        xasprintf("AWS_LAMBDA_LOG_STREAM_NAME=%s", stream),
        xasprintf("AWS_LAMBDA_LOG_FORMAT=Text"),
        xasprintf("AWS_LAMBDA_INITIALIZATION_TYPE=on-demand"),
        xasprintf("AWS_EXECUTION_ENV=%s", f->runtime),
        xasprintf("AWS_ENDPOINT_URL_LAMBDA=http://%s:%d", e->host, e->port),
        xasprintf("LANG=en_US.UTF-8"),
        xasprintf("TZ=:UTC"),
        xasprintf("PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
        xasprintf("LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:%s:%s/lib:/opt/lib",
                  f->task_root, f->task_root),
    };
    size_t nkv = sizeof kv / sizeof *kv;
    for (size_t i = 0; i < nkv; i++)
        if (!bad && (!kv[i] || env_set(&f->envp, &n, kv[i]) != 0)) bad = 1;
    for (size_t i = 0; i < nkv; i++) free(kv[i]);
    for (const char *const *x = d->env; !bad && x && *x; x++)
        if (!strchr(*x, '=') || env_set(&f->envp, &n, *x) != 0) bad = 1;
    if (bad) return fail(err, "InvalidParameterValueException", "function '%s': bad environment entry or out of memory", f->name);
    return 0;
}

/* ---- start / stop --------------------------------------------------------------------------------- */

int dwf_emulator_port(const dwf_emulator *e) { return e->port; }
const char *dwf_emulator_task_root(const dwf_emulator *e, int i) { return i >= 0 && i < e->nfns ? e->fns[i].task_root : NULL; }
int dwf_emulator_runtime_port(const dwf_emulator *e, int i) { return i >= 0 && i < e->nfns ? e->fns[i].rt_port : 0; }
const char *dwf_emulator_function_name(const dwf_emulator *e, int i) { return i >= 0 && i < e->nfns ? e->fns[i].name : NULL; }

void dwf_emulator_stop(dwf_emulator *e)
{
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    for (int i = 0; i < e->nfns; i++) fn_kill(&e->fns[i], 2);
    kick(e);
    pthread_mutex_unlock(&e->mu);
    if (e->sched_started) pthread_join(e->sched, NULL);
    for (int i = 0; i < e->nfns; i++)
        if (e->fns[i].pid > 0) waitpid(e->fns[i].pid, NULL, 0);
    if (e->api) dwf__mhd.MHD_stop_daemon(e->api);
    for (int i = 0; i < e->nfns; i++)
        if (e->fns[i].rt) dwf__mhd.MHD_stop_daemon(e->fns[i].rt);
    for (int i = 0; i < e->nfns; i++) {
        emu_fn *f = &e->fns[i];
        if (f->own_root && f->task_root) rm_tree(f->task_root);
        free(f->name);
        free(f->task_root);
        free(f->handler);
        free(f->runtime);
        free_strv(f->argv);
        free_strv(f->envp);
        free(f->init_error);
        for (int k = 0; k < f->nq; k++) free(f->queue[k]);
        free(f->queue);
        free(f->cur_arn);
    }
    free(e->fns);
    if (e->svc) dwf_service_close(e->svc);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->cv);
    free(e->host);
    free(e->region);
    free(e->account);
    free(e->access_key);
    free(e->secret_key);
    free(e->session_token);
    free(e);
}

int dwf_emulator_start(const dwf_emulator_opts *o, const dwf_emulator_function *fns, int nfns, dwf_emulator **out,
                       dwf_error *err)
{
    *out = NULL;
    /* The libraries first: a machine without them must fail before the store is opened. */
    char why[512];
    if (dwf__mhd_load(why, sizeof why) != 0) return fail(err, "ServiceException", "%s", why);
    for (int i = 0; i < nfns; i++)
        if (fns[i].zip && dwf__zip_load(why, sizeof why) != 0) return fail(err, "ServiceException", "%s", why);
    dwf_emulator *e = calloc(1, sizeof *e);
    if (!e) return fail(err, "ServiceException", "out of memory");
    e->o = *o;
    e->log = o->log ? o->log : stderr;
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->cv, NULL);
    e->host = strdup(o->host ? o->host : "127.0.0.1");
    e->region = strdup(o->region ? o->region : "us-east-1");
    e->account = strdup(o->account ? o->account : "000000000000");
    e->access_key = xstrdup(o->access_key && *o->access_key ? o->access_key : NULL);
    e->secret_key = xstrdup(o->secret_key && *o->secret_key ? o->secret_key : NULL);
    e->session_token = xstrdup(o->session_token);
    e->fns = calloc(nfns > 0 ? (size_t)nfns : 1, sizeof *e->fns);
    if (!e->host || !e->region || !e->account || !e->fns || (o->access_key && *o->access_key && !e->access_key) ||
        (o->secret_key && *o->secret_key && !e->secret_key) || (o->session_token && !e->session_token)) {
        dwf_emulator_stop(e);
        return fail(err, "ServiceException", "out of memory");
    }
    if (!e->access_key != !e->secret_key) {
        dwf_emulator_stop(e);
        return fail(err, "InvalidParameterValueException", "give both an access key and a secret key, or neither");
    }
    dwf_service_opts so = {0};
    so.path = o->store;
    so.region = e->region;
    so.account = e->account;
    if (dwf_service_open(&so, &e->svc, err) != 0) {
        dwf_emulator_stop(e);
        return -1;
    }
    /* The API server first: the functions' environment names its port. */
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)o->port);
    if (inet_pton(AF_INET, e->host, &sa.sin_addr) != 1) {
        dwf_emulator_stop(e);
        return fail(err, "InvalidParameterValueException", "host %s is not an IPv4 address", o->host);
    }
    e->api = dwf__mhd.MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
                              NULL, api_handler, e, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_SOCK_ADDR,
                              (struct sockaddr *)&sa, MHD_OPTION_END);
    if (!e->api) {
        dwf_emulator_stop(e);
        return fail(err, "ServiceException", "cannot listen on %s:%d (in use?)", o->host ? o->host : "127.0.0.1", o->port);
    }
    const union MHD_DaemonInfo *di = dwf__mhd.MHD_get_daemon_info(e->api, MHD_DAEMON_INFO_BIND_PORT);
    e->port = di ? di->port : o->port;
    for (int i = 0; i < nfns; i++) {
        emu_fn *f = &e->fns[i];
        f->emu = e;
        f->index = i;
        e->nfns = i + 1;
        if (fn_setup(e, f, &fns[i], err) != 0) {
            dwf_emulator_stop(e);
            return -1;
        }
    }
    if (pthread_create(&e->sched, NULL, scheduler, e) != 0) {
        dwf_emulator_stop(e);
        return fail(err, "ServiceException", "cannot start the scheduler thread");
    }
    e->sched_started = 1;
    *out = e;
    return 0;
}
