/*
 * emulator.c: `dwf serve`, a local AWS Lambda for durable functions: starting and stopping it,
 * and the few helpers every other file of emulator/ uses (emu.h lists who does what).
 *
 * The emulator owns no durable state and implements no durable semantics: every question about
 * an execution goes to the service core (service/) and its SQLite store, the same code the
 * embedded engine runs on, so `dwf serve`, `dwf run`, `dwf history` and `dwf callback` agree
 * about what an execution is. What the emulator adds is what Lambda adds around the service:
 *
 *   - HTTP (httpd.c, auth.c): the Invoke API (invoke_api.c) and the durable REST API
 *     (durable_api.c) on one port, with restJson1 errors, connection limits and, when given
 *     keys, SigV4 verification of every request (a non-loopback address needs keys, or an
 *     explicit insecure_public);
 *   - sandboxes (sandbox.c, unzip.c, workdir.c, process.c): per function a task root (a zip
 *     unpacked so that nothing in it reaches outside, in a working directory a later start
 *     removes if this emulator is killed, or a directory), one process started with the
 *     environment Lambda gives a runtime, and a Runtime API server of its own on another
 *     loopback port (runtime_api.c; one sandbox = one Runtime API, as on Lambda; it tells the
 *     emulator which function a /next comes from, and peer.c that it comes from that
 *     function's process and no other);
 *   - a scheduler thread (scheduler.c): fire the timers that are due, queue every execution
 *     the service says is runnable on its function, start processes, reap dead ones, kill
 *     invocations past their timeout, and with --skip-time jump each idle execution's own clock.
 *
 * An invocation's life: the scheduler queues the execution's ARN on its function; the
 * process's /next takes it, dwf_service_begin_invocation builds the event (fresh checkpoint
 * token), the process checkpoints through the durable API and posts /response or /error, and
 * dwf_service_end_invocation applies that (a fault is retried with the service's backoff). A
 * process that dies or times out mid-invocation is a fault too, so retries need no code here.
 *
 * Locking: one mutex guards the functions' queues and processes. Whatever waits sleeps on a
 * condition variable of its own and is woken only when it may act: the scheduler on a kick (a
 * change), an environment's /next when a job is queued that it can take (one environment per
 * job) or when its process ends, a RequestResponse Invoke when its own execution may have ended
 * (below). Service calls are made without the mutex held: the service serialises itself.
 *
 * The emulator makes its process the child subreaper of what it starts (PR_SET_CHILD_SUBREAPER),
 * so processes a function abandons stay below it and stop ends them all: stop kills and reaps
 * every child process of the calling process.
 *
 * libmicrohttpd and libzip are not linked into dwf: dwf_emulator_start dlopens them (dlib.h)
 * before it touches anything, so the other commands never map them and a machine without them
 * gets a message naming the missing package, with no store or task root created.
 */
#include "emu.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- helpers the other files share ----------------------------------------------------------- */

int dwf__emu_fail(dwf_error *err, const char *type, const char *fmt, ...)
{
    va_list ap;
    snprintf(err->type, sizeof err->type, "%s", type);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* A line is formatted first and written whole: the log is stderr, unbuffered, where the prefix,
 * the text and the newline written apart were three write(2) calls, and a busy serve logs two
 * lines per execution. A line longer than the buffer (a long error message) is formatted again
 * into memory of its size. */
#define LOG_PREFIX "dwf serve: "

void dwf__emu_log(dwf_emulator *e, const char *fmt, ...)
{
    enum { P = sizeof LOG_PREFIX - 1 };
    char buf[1024], *line = buf;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + P, sizeof buf - P - 1, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof buf - P - 1) {
        char *big = malloc(P + (size_t)n + 2);
        if (big) {
            va_start(ap, fmt);
            vsnprintf(big + P, (size_t)n + 1, fmt, ap);
            va_end(ap);
            line = big;
        } else {
            n = (int)(sizeof buf - P - 2); /* no memory: the line cut, not lost */
        }
    }
    memcpy(line, LOG_PREFIX, P);
    line[P + n] = '\n';
    flockfile(e->log);
    fwrite(line, 1, P + (size_t)n + 1, e->log);
    fflush(e->log);
    funlockfile(e->log);
    if (line != buf) free(line);
}

static double clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

double dwf__emu_mono_ms(void) { return clock_ms(CLOCK_MONOTONIC); }
double dwf__emu_real_ms(void) { return clock_ms(CLOCK_REALTIME); }

void dwf__emu_hex(const unsigned char *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void dwf__emu_kick(dwf_emulator *e)
{
    e->kicks++;
    /* A scheduler already due to scan after an earlier change sees this one at that scan: a
     * busy serve kicks at every Invoke, checkpoint and answer, and waking it for each only
     * made it sleep again (two context switches per execution). */
    if (!e->sched_scan_due || e->stopping) pthread_cond_signal(&e->sched_cv);
}

void dwf__emu_kick_unlocked(dwf_emulator *e)
{
    pthread_mutex_lock(&e->mu);
    dwf__emu_kick(e);
    pthread_mutex_unlock(&e->mu);
}

static void wait_on(dwf_emulator *e, pthread_cond_t *cv, double ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long ns = (long long)ts.tv_nsec + (long long)(ms * 1e6);
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_cond_timedwait(cv, &e->mu, &ts);
}

/* One condition variable per environment, signalled for one job: every idle /next woke at every
 * change (an Invoke, each checkpoint, each answer) only to sleep again, up to eight threads
 * per change on a busy serve with eight environments. */
void dwf__emu_wake_next(emu_fn *f)
{
    if (f->nq == 0) return;
    for (int k = 0; k < f->nenvs; k++) {
        emu_env *v = f->envs[k];
        if (v->next_waiting > 0 && !v->busy && !v->next_woken) {
            v->next_woken = 1;
            pthread_cond_signal(&v->next_cv);
            return;
        }
    }
}

void dwf__emu_wake_env(emu_env *v)
{
    if (v->next_waiting > 0) pthread_cond_broadcast(&v->next_cv);
}

void dwf__emu_next_wait(emu_env *v, double ms)
{
    v->next_waiting++;
    wait_on(v->fn->emu, &v->next_cv, ms);
    v->next_waiting--;
    v->next_woken = 0;
}

void dwf__emu_sched_wait(dwf_emulator *e, double ms, int scan_due)
{
    e->sched_scan_due = scan_due;
    wait_on(e, &e->sched_cv, ms);
    e->sched_scan_due = 0;
}

/* ---- RequestResponse waiters ------------------------------------------------------------------
 * Each waiting Invoke has a condition variable of its own, in a table by execution ARN, and is
 * woken only when something may have ended its own execution; it then reads that execution
 * once. Waking every waiter on every change (and each re-reading the store) made N concurrent
 * calls cost N^2 reads. */

static emu_waiter **waiter_bucket(dwf_emulator *e, const char *arn)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)arn; *p; p++) h = (h ^ *p) * 16777619u;
    return &e->waiters[h % EMU_WAITER_BUCKETS];
}

void dwf__emu_waiter_add(dwf_emulator *e, emu_waiter *w)
{
    emu_waiter **b = waiter_bucket(e, w->arn);
    w->next = *b;
    *b = w;
}

void dwf__emu_waiter_remove(dwf_emulator *e, emu_waiter *w)
{
    for (emu_waiter **p = waiter_bucket(e, w->arn); *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            return;
        }
}

void dwf__emu_execution_changed(dwf_emulator *e, const char *arn)
{
    for (emu_waiter *w = *waiter_bucket(e, arn); w; w = w->next)
        if (strcmp(w->arn, arn) == 0) {
            w->woken = 1;
            pthread_cond_signal(&w->cv);
        }
}

void dwf__emu_execution_changed_unlocked(dwf_emulator *e, const char *arn)
{
    pthread_mutex_lock(&e->mu);
    dwf__emu_execution_changed(e, arn);
    pthread_mutex_unlock(&e->mu);
}

/* At stop, what group commit did (service/store_sync.c): the calls whose work was committed,
 * the transactions (batches) that held them, the fsyncs that made them durable, how many calls
 * each fsync covered on average, and the most one covered. */
static void log_sync_stats(dwf_emulator *e)
{
    dwf_service_sync_stats_t st;
    dwf_service_sync_stats(e->svc, &st);
    dwf__emu_log(e, "store: %llu calls committed in %llu transactions, %llu fsyncs, %.1f calls per fsync (largest group %llu)",
                 st.commits, st.transactions, st.flushes,
                 st.flushes ? (double)st.flushed_commits / (double)st.flushes : 0.0, st.largest_group);
}

static void wake_all_waiters(dwf_emulator *e)
{
    for (int i = 0; i < EMU_WAITER_BUCKETS; i++)
        for (emu_waiter *w = e->waiters[i]; w; w = w->next) {
            w->woken = 1;
            pthread_cond_signal(&w->cv);
        }
}

emu_fn *dwf__emu_fn_by_name(dwf_emulator *e, const char *name)
{
    for (int i = 0; i < e->nfns; i++)
        if (!e->fns[i]->retired && e->fns[i]->name && strcmp(e->fns[i]->name, name) == 0) return e->fns[i];
    return NULL;
}

/* A function given on the command line has one sandbox, which runs every qualifier (as before
 * the control plane: it has no versions to tell apart); a function created through the control
 * plane runs each published version in a sandbox of its own. */
emu_fn *dwf__emu_fn_find(dwf_emulator *e, const char *name, const char *qual)
{
    if (!qual || !*qual) qual = "$LATEST";
    for (int i = 0; i < e->nfns; i++) {
        emu_fn *f = e->fns[i];
        if (f->retired || !f->name || strcmp(f->name, name) != 0) continue;
        if (!f->managed || strcmp(f->qualifier, qual) == 0) return f;
    }
    return NULL;
}

emu_fn *dwf__emu_fn_of_execution(dwf_emulator *e, const char *arn)
{
    char name[256], qual[160] = "";
    if (dwf_service_function_of(arn, name) != 0) return NULL;
    const char *p = strstr(arn, ":function:") + 10 + strlen(name);
    if (*p == ':') {
        size_t n = strcspn(p + 1, ":/");
        if (n < sizeof qual) {
            memcpy(qual, p + 1, n);
            qual[n] = '\0';
        }
    }
    return dwf__emu_fn_find(e, name, qual);
}

int dwf__emu_fn_add(dwf_emulator *e, emu_fn *f)
{
    if (e->nfns == e->capfns) {
        int nc = e->capfns ? e->capfns * 2 : 8;
        emu_fn **nf = realloc(e->fns, (size_t)nc * sizeof *nf);
        if (!nf) return -1;
        e->fns = nf;
        e->capfns = nc;
    }
    e->fns[e->nfns++] = f;
    return 0;
}

/* ---- start / stop ---------------------------------------------------------------------------- */

int dwf_emulator_port(const dwf_emulator *e) { return e->api.port; }
const char *dwf_emulator_task_root(const dwf_emulator *e, int i)
{
    return i >= 0 && i < e->nfns ? e->fns[i]->task_root : NULL;
}
int dwf_emulator_runtime_port(const dwf_emulator *e, int i) { return i >= 0 && i < e->nfns ? e->fns[i]->rt.port : 0; }
const char *dwf_emulator_function_name(const dwf_emulator *e, int i)
{
    return i >= 0 && i < e->nfns ? e->fns[i]->name : NULL;
}
int dwf_emulator_function_count(const dwf_emulator *e) { return e->nfns; }

dwf_service *dwf_emulator_service(dwf_emulator *e) { return e->svc; }

/* As the durable API's own callback and stop routes do after their service call. */
void dwf_emulator_execution_changed(dwf_emulator *e, const char *arn)
{
    dwf__emu_kick_unlocked(e);
    dwf__emu_execution_changed_unlocked(e, arn);
}

void dwf_emulator_stop(dwf_emulator *e)
{
    if (!e) return;
    pthread_mutex_lock(&e->mu);
    e->stopping = 1;
    for (int i = 0; i < e->nfns; i++) {
        dwf__emu_kill_all(e->fns[i], EMU_KILL_QUIET);
        for (int k = 0; k < e->fns[i]->nenvs; k++) dwf__emu_wake_env(e->fns[i]->envs[k]);
    }
    dwf__emu_kick(e);
    wake_all_waiters(e);
    pthread_mutex_unlock(&e->mu);
    if (e->sched_started) pthread_join(e->sched, NULL);
    dwf__emu_end_all();
    prctl(PR_SET_CHILD_SUBREAPER, e->was_subreaper);
    dwf__emu_unlisten(&e->api);
    for (int i = 0; i < e->nfns; i++) dwf__emu_unlisten(&e->fns[i]->rt);
    for (int i = 0; i < e->nfns; i++) {
        dwf__emu_sandbox_free(e->fns[i]);
        free(e->fns[i]);
    }
    dwf__emu_workdir_remove(e);
    free(e->fns);
    pthread_mutex_destroy(&e->control_mu);
    if (e->svc) log_sync_stats(e);
    if (e->svc) dwf_service_close(e->svc);
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->sched_cv);
    free(e->host);
    free(e->endpoint_host);
    free(e->region);
    free(e->account);
    free(e->access_key);
    free(e->secret_key);
    free(e->session_token);
    free(e);
}

static char *dup_opt(const char *s) { return s && *s ? strdup(s) : NULL; }

/* Is host an IPv4 loopback address (127.0.0.0/8)? -1 when it is no IPv4 address at all. */
static int loopback(const char *host)
{
    struct in_addr a;
    if (inet_pton(AF_INET, host, &a) != 1) return -1;
    return (ntohl(a.s_addr) >> 24) == 127;
}

/* The API server's hard connection limit: emu.h's, or what the descriptors allow. The soft
 * descriptor limit is raised as far as that needs (a shell's 1024 would otherwise cap a few
 * hundred waiting Invoke calls), no further: the function processes inherit it. Each
 * function's Runtime API and the store keep some, and each environment its process's
 * /proc status file (emu_env.status_fd). */
static int connection_budget(int nfns, int environments)
{
    long long keep = 64 + (long long)nfns * (EMU_RUNTIME_CONNECTIONS_HARD + 8) + environments,
              want = EMU_CONNECTIONS_HARD + keep;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 64;
    if (rl.rlim_cur != RLIM_INFINITY && (long long)rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || (long long)rl.rlim_max > want ? (rlim_t)want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        getrlimit(RLIMIT_NOFILE, &rl);
    }
    long long avail = rl.rlim_cur == RLIM_INFINITY ? EMU_CONNECTIONS_HARD : (long long)rl.rlim_cur - keep;
    return avail >= EMU_CONNECTIONS_HARD ? EMU_CONNECTIONS_HARD : avail < 64 ? 64 : (int)avail;
}

/* The emulator's own copy of the options. 0, or -1 with err. */
static int take_options(dwf_emulator *e, const dwf_emulator_opts *o, int nfns, dwf_error *err)
{
    e->o = *o;
    e->log = o->log ? o->log : stderr;
    e->host = strdup(o->host ? o->host : "127.0.0.1");
    e->region = strdup(o->region ? o->region : "us-east-1");
    e->account = strdup(o->account ? o->account : "000000000000");
    e->access_key = dup_opt(o->access_key);
    e->secret_key = dup_opt(o->secret_key);
    e->session_token = o->session_token ? strdup(o->session_token) : NULL;
    if (!e->host || !e->region || !e->account || (o->access_key && *o->access_key && !e->access_key) ||
        (o->secret_key && *o->secret_key && !e->secret_key) || (o->session_token && !e->session_token))
        return dwf__emu_fail(err, "ServiceException", "out of memory");
    if (!e->access_key != !e->secret_key)
        return dwf__emu_fail(err, "InvalidParameterValueException", "give both an access key and a secret key, or neither");
    int lb = loopback(e->host);
    if (lb < 0) return dwf__emu_fail(err, "InvalidParameterValueException", "host %s is not an IPv4 address", e->host);
    if (!lb && !e->access_key && !o->insecure_public)
        return dwf__emu_fail(err, "InvalidParameterValueException",
                             "%s is not a loopback address: anyone who can reach it could invoke the functions, read "
                             "their executions and answer their callbacks, unsigned. Give an access key and a secret "
                             "key (every request must then be SigV4-signed with them), or allow unsigned requests "
                             "from the network explicitly (dwf serve --insecure-public)",
                             e->host);
    /* The functions reach the API server on loopback when it listens on every address. */
    if (!(e->endpoint_host = strdup(strcmp(e->host, "0.0.0.0") == 0 ? "127.0.0.1" : e->host)))
        return dwf__emu_fail(err, "ServiceException", "out of memory");
    /* The default environments (4 per core) fixed here, once: the scheduler asks at every pass
     * that may scale out, and sysconf reads /sys/devices/system/cpu/online each time (three
     * system calls). */
    if (e->o.environments <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        e->o.environments = (int)(cores > 0 ? cores : 1) * DWF_EMULATOR_ENVIRONMENTS_PER_CORE;
    }
    e->conn_limit = connection_budget(nfns, dwf__emu_account_environments(e));
    e->connection_timeout_s = o->connection_timeout_s > 0 ? o->connection_timeout_s : EMU_CONNECTION_TIMEOUT_S;
    return 0;
}

int dwf_emulator_start(const dwf_emulator_opts *o, const dwf_emulator_function *fns, int nfns, dwf_emulator **out,
                       dwf_error *err)
{
    *out = NULL;
    /* The libraries first: a machine without them must fail before the store is opened. */
    char why[512];
    if (dwf__mhd_load(why, sizeof why) != 0) return dwf__emu_fail(err, "ServiceException", "%s", why);
    for (int i = 0; i < nfns; i++)
        if (fns[i].zip && dwf__zip_load(why, sizeof why) != 0) return dwf__emu_fail(err, "ServiceException", "%s", why);
    dwf_emulator *e = calloc(1, sizeof *e);
    if (!e) return dwf__emu_fail(err, "ServiceException", "out of memory");
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->sched_cv, NULL);
    pthread_mutex_init(&e->control_mu, NULL);
    /* What a function's process starts and abandons (a daemon, a child in a session of its
     * own) is re-parented to the emulator rather than to init, so stop can end it. */
    prctl(PR_GET_CHILD_SUBREAPER, &e->was_subreaper);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    int rc = take_options(e, o, nfns, err);
    dwf_service_opts so = {0};
    so.path = o->store;
    so.region = e->region;
    so.account = e->account;
    so.cache_kib = DWF_SERVE_CACHE_KIB; /* thousands of executions' index pages, not re-read at every call */
    if (rc == 0) rc = dwf_service_open(&so, &e->svc, err);
    int zips = 0;
    for (int i = 0; i < nfns; i++) zips += fns[i].zip != NULL;
    if (rc == 0 && !zips) dwf__emu_workdir_clean(); /* else the first unzip does it */
    /* The API server before the functions: their environment names its port. */
    if (rc == 0) rc = dwf__emu_listen_api(e, &e->api, o->port, err);
    for (int i = 0; rc == 0 && i < nfns; i++) {
        emu_fn *f = calloc(1, sizeof *f);
        if (!f || dwf__emu_fn_add(e, f) != 0) {
            free(f);
            rc = dwf__emu_fail(err, "ServiceException", "out of memory");
            break;
        }
        f->emu = e;
        f->index = e->next_index++;
        rc = dwf__emu_sandbox_setup(e, f, &fns[i], err);
    }
    /* The functions created through the control plane before a restart (control_api.c). */
    if (rc == 0) rc = dwf__emu_control_restore(e, err);
    if (rc == 0 && pthread_create(&e->sched, NULL, dwf__emu_scheduler, e) != 0)
        rc = dwf__emu_fail(err, "ServiceException", "cannot start the scheduler thread");
    if (rc != 0) {
        dwf_emulator_stop(e);
        return -1;
    }
    e->sched_started = 1;
    *out = e;
    return 0;
}
