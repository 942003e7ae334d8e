/*
 * service.c: the service handle: opening the store, the lock and each call's savepoint in the open batch,
 * the clock, identifiers, error statuses, and the registry of functions.
 *
 * The service's state lives in the store (store.c), never in memory: each public call locks the
 * handle, opens a savepoint in the open batch (one SQLite transaction shared by the calls that
 * arrive while a flush runs, store_sync.c), loads the rows it needs, applies the protocol's
 * rules and releases it, or rolls its own changes back on the first error so a rejected request
 * leaves no trace. That makes the service callable from the engine, from the CLI of another process and
 * from an HTTP server alike, and it makes a crash at any instant lose nothing that was
 * acknowledged. The calls themselves live in one file per concern (service/README.md).
 *
 * Time comes from a clock function (real time, or the tests' own). Each execution tree (an
 * execution and those it chained-invoked) adds its own virtual offset to it, which only
 * --skip-time moves (timers.c), so a jump for one execution moves no other's clock.
 */
#include "service_impl.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/random.h>

/* ---- clock and identifiers ------------------------------------------------------------------ */
static double real_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)(ts.tv_nsec / 1000000);
}

double dwf_service_now(dwf_service *s)
{
    if (s->clock) return s->clock(s->clock_arg);
    return floor(real_now_ms());
}

double dwf__svc_now(dwf_service *s, const dwf__exec *e) { return dwf_service_now(s) + (e ? e->clock_offset_ms : 0); }

double dwf_service_now_of(dwf_service *s, const char *arn)
{
    double off = 0;
    dwf_error ignored;
    dwf__svc_lock(s);
    sqlite3_stmt *q = dwf__sql_prepare(s->st, &ignored, "SELECT clock_offset_ms FROM executions WHERE arn=?1 OR id=?1",
                                       "s", arn);
    if (q && dwf__sql_step(s->st, q, &ignored) == 1) off = sqlite3_column_double(q, 0);
    dwf__sql_done(s->st, q);
    dwf__svc_unlock(s);
    return dwf_service_now(s) + off;
}

/* The kernel's random bytes, taken 4 KiB at a time: ids and tokens are made four times per
 * execution in dwf serve, and a getrandom(2) each was 4 of serve's ~190 system calls per
 * execution (bench/throughput.sh's Event row). A forked child starts with an empty buffer, so it
 * never hands out the ids its parent will. 0, or -1 if the kernel gave none. */
static pthread_mutex_t random_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char random_buf[4096];
static size_t random_left;
static pthread_once_t random_once = PTHREAD_ONCE_INIT;

static void random_forked(void)
{
    pthread_mutex_init(&random_mu, NULL);
    random_left = 0;
}

static void random_init(void) { pthread_atfork(NULL, NULL, random_forked); }

static int random_bytes(unsigned char *out, size_t n)
{
    pthread_once(&random_once, random_init);
    pthread_mutex_lock(&random_mu);
    if (random_left < n && getrandom(random_buf, sizeof random_buf, 0) == (ssize_t)sizeof random_buf)
        random_left = sizeof random_buf;
    int ok = random_left >= n;
    if (ok) {
        /* taken from the end, and wiped: no byte is handed out twice */
        random_left -= n;
        memcpy(out, random_buf + random_left, n);
        memset(random_buf + random_left, 0, n);
    }
    pthread_mutex_unlock(&random_mu);
    return ok ? 0 : -1;
}

void dwf__svc_uuid(char out[40])
{
    unsigned char b[16];
    if (random_bytes(b, sizeof b) != 0) {
        /* getrandom(2) rather than OpenSSL's RAND_bytes, whose first call loads OpenSSL's
         * configuration, providers and generators (~9M instructions in every `dwf run`). It
         * only fails without an entropy source; fall back to time and address. */
        unsigned long long t = (unsigned long long)real_now_ms() ^ (unsigned long long)(uintptr_t)out;
        for (int i = 0; i < 16; i++) b[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)rand();
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    /* 8-4-4-4-12 lowercase hex digits, written directly: snprintf with sixteen %02x was 6,000
     * instructions, and every checkpoint issues a token (callgrind). */
    static const char hex[] = "0123456789abcdef";
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
}

void dwf_service_uuid(char out[40]) { dwf__svc_uuid(out); }

void dwf__svc_iso_time(double ms, char out[64])
{
    time_t sec = (time_t)floor(ms / 1000.0);
    int milli = (int)(ms - (double)sec * 1000.0);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli < 0 ? 0 : milli > 999 ? 999 : milli);
}

int dwf__svc_valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > DWF_LIMIT_ID_LEN) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return 0;
    }
    return 1;
}

void dwf__svc_function_base(const char *fn, char out[256])
{
    const char *p = fn;
    if (strncmp(fn, "arn:", 4) == 0) {
        const char *f = strstr(fn, ":function:");
        p = f ? f + 10 : fn;
    }
    size_t n = strcspn(p, ":");
    if (n > 255) n = 255;
    memcpy(out, p, n);
    out[n] = '\0';
}

void dwf__svc_function_qualifier(const char *fn, char out[160])
{
    const char *p = fn;
    if (strncmp(fn, "arn:", 4) == 0) {
        const char *f = strstr(fn, ":function:");
        p = f ? f + 10 : fn;
    }
    p += strcspn(p, ":/");
    size_t n = *p == ':' ? strcspn(p + 1, ":/") : 0;
    if (n == 0 || n > 128) {
        snprintf(out, 160, "$LATEST");
        return;
    }
    memcpy(out, p + 1, n);
    out[n] = '\0';
}

int dwf_service_function_of(const char *arn, char out[256])
{
    const char *f = strstr(arn, ":function:");
    if (!f) return -1;
    f += 10;
    size_t n = strcspn(f, ":/");
    if (n == 0 || n > 255) return -1;
    memcpy(out, f, n);
    out[n] = '\0';
    return 0;
}

/* The store's names of timer kinds and callback states. */
static const char *const timer_names[] = {
#define DWF__X(k) #k,
    DWF__TIMERS(DWF__X)
#undef DWF__X
};
static const char *const cbstate_names[] = {
#define DWF__X(k) #k,
    DWF__CALLBACK_STATES(DWF__X)
#undef DWF__X
};

const char *dwf__svc_timer_name(enum dwf__timer k) { return k < DWF__TIMER_UNKNOWN ? timer_names[k] : NULL; }

enum dwf__timer dwf__svc_timer_parse(const char *name)
{
    for (int k = 0; name && k < DWF__TIMER_UNKNOWN; k++)
        if (strcmp(timer_names[k], name) == 0) return (enum dwf__timer)k;
    return DWF__TIMER_UNKNOWN;
}

const char *dwf__svc_cbstate_name(enum dwf__cbstate st) { return st < DWF__CB_UNKNOWN ? cbstate_names[st] : NULL; }

enum dwf__cbstate dwf__svc_cbstate_parse(const char *name)
{
    for (int k = 0; name && k < DWF__CB_UNKNOWN; k++)
        if (strcmp(cbstate_names[k], name) == 0) return (enum dwf__cbstate)k;
    return DWF__CB_UNKNOWN;
}

/* ---- lock, transactions ------------------------------------------------------------------------ */
void dwf__svc_lock(dwf_service *s) { pthread_mutex_lock(&s->mu); }

void dwf__svc_unlock(dwf_service *s) { pthread_mutex_unlock(&s->mu); }

/* A call answers only with what is on disk (group commit, store_sync.c). A writer's work joins
 * the open batch (one transaction, its own savepoint) and the call waits for the flush that holds
 * the batch (dwf__svc_commit), after the lock is released so that the calls arriving meanwhile
 * join the next batch and share its transaction and flush. A read call runs inside the open batch
 * when there is one, so it may see work not yet committed: answering the caller, it waits for
 * every batch it may have seen (the open one included), so nobody observes what a crash could
 * undo. (Reads inside a call that then writes do not wait: its own batch comes later and covers
 * them.) */
void dwf__svc_unlock_read(dwf_service *s)
{
    dwf__store_check_batch(s->st);
    unsigned long long seen = dwf__sync_newest(dwf__store_sync(s->st));
    pthread_mutex_unlock(&s->mu);
    dwf_error ignored;
    dwf__sync_wait_seen(dwf__store_sync(s->st), seen, &ignored);
}

int dwf__svc_abort(dwf_service *s)
{
    dwf__store_rollback(s->st);
    dwf__svc_unlock(s);
    return -1;
}

int dwf__svc_commit(dwf_service *s, dwf_error *err)
{
    unsigned long long ticket = 0;
    int act = DWF__SYNC_JOINED;
    int r = dwf__store_release(s->st, 1, &ticket, NULL, &act, err);
    dwf_error ignored; /* a failed COMMIT reaches every call of the batch through the wait */
    if (r == 0 && act != DWF__SYNC_JOINED) dwf__store_commit_batch(s->st, &ignored);
    pthread_mutex_unlock(&s->mu);
    if (r != 0 || ticket == 0) return r;
    if (act == DWF__SYNC_COMMIT_LEAD) return dwf__sync_lead(dwf__store_sync(s->st), ticket, err);
    return dwf__sync_wait(dwf__store_sync(s->st), ticket, err);
}

/* The call's work joins the batch, which is committed now if no flush is running (else by the
 * next call to finish, or the flush's leader when no call of the batch waits); the call waits
 * only for what it read: the batches before, or its own when other calls' work was in it. */
int dwf__svc_commit_unflushed(dwf_service *s, dwf_error *err)
{
    dwf__sync *sync = dwf__store_sync(s->st);
    unsigned long long seen = 0, ticket = 0;
    int act = DWF__SYNC_JOINED, own = 0;
    int r = dwf__store_release(s->st, 0, &ticket, &seen, &act, err);
    if (r == 0 && act != DWF__SYNC_JOINED) own = dwf__store_commit_batch(s->st, err);
    pthread_mutex_unlock(&s->mu);
    if (r != 0) return r;
    if (act == DWF__SYNC_COMMIT_LEAD) return dwf__sync_lead(sync, ticket, err);
    if (ticket && seen == ticket) return dwf__sync_wait(sync, ticket, err); /* a waiter of its batch */
    if (own != 0) return -1;
    return dwf__sync_wait_seen(sync, seen, err);
}

/* The call's work joins the batch and the call returns at once, waiting for no flush, not
 * even of the batches it read: for a call whose caller's answer tells nothing of the store
 * (dwf serve's answer to a runtime's /response is "OK" whatever happened). The batch is
 * committed now if no flush runs, else with the next flush's batch; any later flush (another
 * call's, a reader's, the close) makes it durable. Whoever reads what it wrote waits for that
 * flush (dwf__svc_unlock_read, dwf__svc_commit_unflushed), so nobody sees it before it is on
 * disk; a SIGKILL loses nothing committed (the log's pages are the kernel's), and a machine's
 * crash before the flush loses the call as if it had not come. */
int dwf__svc_commit_nowait(dwf_service *s, dwf_error *err)
{
    unsigned long long ticket = 0;
    int act = DWF__SYNC_JOINED;
    int r = dwf__store_release(s->st, -1, &ticket, NULL, &act, err);
    if (r == 0 && act != DWF__SYNC_JOINED) r = dwf__store_commit_batch(s->st, err);
    pthread_mutex_unlock(&s->mu);
    /* (a call that waits for nothing is never made a flush's leader: dwf__sync_join) */
    if (r == 0 && act == DWF__SYNC_COMMIT_LEAD) return dwf__sync_lead(dwf__store_sync(s->st), ticket, err);
    return r;
}

int dwf_service_flush(dwf_service *s, dwf_error *err)
{
    dwf__sync *sync = dwf__store_sync(s->st);
    return dwf__sync_wait_seen(sync, dwf__sync_newest(sync), err);
}

static void svc_lock_cb(void *s) { pthread_mutex_lock(&((dwf_service *)s)->mu); }

static void svc_unlock_cb(void *s) { pthread_mutex_unlock(&((dwf_service *)s)->mu); }

/* Under the service's lock: the connection has no mutex of its own (store.c, open_db). */
long long dwf_service_cache_misses(dwf_service *s)
{
    dwf__svc_lock(s);
    long long n = dwf__store_cache_misses(s->st);
    dwf__svc_unlock(s);
    return n;
}

void dwf_service_sync_stats(dwf_service *s, dwf_service_sync_stats_t *out)
{
    dwf__sync_stats st;
    dwf__sync_get_stats(dwf__store_sync(s->st), &st);
    out->commits = st.commits;
    out->flushes = st.flushes;
    out->flushed_commits = st.flushed_commits;
    out->largest_group = st.largest_group;
    out->transactions = st.transactions;
    out->failed_calls = st.failed_calls;
}

/* ---- open / close ------------------------------------------------------------------------------ */
int dwf_service_open(const dwf_service_opts *o, dwf_service **out, dwf_error *err)
{
    *out = NULL;
    dwf_service_opts def = {0};
    if (!o) o = &def;
    dwf_service *s = calloc(1, sizeof *s);
    if (!s) return oom(err);
    s->clock = o->clock;
    s->clock_arg = o->clock_arg;
    snprintf(s->region, sizeof s->region, "%s", o->region ? o->region : "us-east-1");
    snprintf(s->account, sizeof s->account, "%s", o->account ? o->account : "000000000000");
    s->max_inv = o->max_invocation_attempts > 0 ? o->max_invocation_attempts : 3;
    s->event_page = o->event_page > 0 ? o->event_page : DWF_LIMIT_PAGE_MAX;
    int busy = o->busy_timeout_ms;
    const char *env = getenv("DWF_BUSY_TIMEOUT_MS");
    if (busy <= 0 && env && atoi(env) > 0) busy = atoi(env);
    if (dwf__store_open(o->path ? o->path : ".dwf/dwf.db", busy, &s->st, err) != 0) {
        free(s);
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    if (dwf__svc_token_init(s) != 0) {
        dwf__store_close(s->st);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return oom(err);
    }
    if (o->cache_kib > 0 && dwf__store_cache_kib(s->st, o->cache_kib) != 0) {
        dwf__svc_token_free(s);
        dwf__store_close(s->st);
        pthread_mutex_destroy(&s->mu);
        free(s);
        return dwf__store_err(err, DWF_ERRORTYPE_SERVICE, "cannot set the store's page cache to %d KiB", o->cache_kib);
    }
    dwf__sync_set_lock(dwf__store_sync(s->st), svc_lock_cb, svc_unlock_cb, s);
    if (o->before_flush) dwf__sync_set_hook(dwf__store_sync(s->st), o->before_flush, o->before_flush_arg);
    if (!o->no_purge && dwf_service_purge_expired(s, NULL, err) != 0) {
        dwf_service_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void dwf_service_close(dwf_service *s)
{
    if (!s) return;
    /* Every call has returned, so no batch is open (a call leaving its batch to the flusher
     * returns after the flush's leader committed it); if one were, commit and flush it. */
    dwf__svc_lock(s);
    int open = dwf__sync_open_calls(dwf__store_sync(s->st)) > 0;
    dwf_error ignored;
    if (open) dwf__store_commit_batch(s->st, &ignored);
    dwf__svc_unlock(s);
    if (open) dwf__sync_wait_seen(dwf__store_sync(s->st), dwf__sync_newest(dwf__store_sync(s->st)), &ignored);
    dwf__svc_opcache_drop(s);
    dwf__svc_token_free(s);
    free(s->start_cfg);
    dwf__store_close(s->st);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void dwf_service_work(dwf_service *s, long long *vm_steps, long long *fullscan_steps)
{
    dwf__store_work(s->st, vm_steps, fullscan_steps);
}

const char *dwf_service_store_path(dwf_service *s) { return dwf__store_path(s->st); }

int dwf_service_http_status(const char *t)
{
    /* The real service's KMS*Exception errors are 502; none is made here, a host may relay one. */
    if (t && strncmp(t, "KMS", 3) == 0) return 502;
    return dwf_errortype_http_status(dwf_errortype_parse(t));
}

int dwf__svc_exec_get(dwf_service *s, const char *arn, dwf__exec **e, dwf_error *err)
{
    if (!arn || !*arn) return fail(err, IPVE, "DurableExecutionArn is required.");
    int r = dwf__exec_load(s->st, arn, e, err);
    if (r == 1) return fail(err, RNFE, "Durable execution not found: %s", arn);
    return r;
}

/* ---- functions ----------------------------------------------------------------------------------- */
/* 1 when the function is recorded exactly so already (handler, source, config, workflow hash,
 * and that workflow version's row), 0 when not, -1 on error. Registering it again then writes
 * nothing: every `dwf run` registers its workflow, and a second run of the same one used to
 * commit and flush an identical row before its execution's start (one fdatasync of each run;
 * updated_ms, never read, keeps the time the row last changed). */
static int function_unchanged(dwf_service *s, const char *base, const cJSON *fn, const char *config, dwf_error *err)
{
    const char *hash = jstr(fn, "WorkflowHash");
    sqlite3_stmt *q = dwf__sql_prepare(
        s->st, err,
        "SELECT 1 FROM functions WHERE name=?1 AND handler IS ?2 AND source IS ?3 AND config IS ?4"
        " AND workflow_hash IS ?5 AND (?5 IS NULL OR EXISTS(SELECT 1 FROM workflows WHERE hash=?5"
        " AND function_name IS ?1 AND handler IS ?2 AND source IS ?3))",
        "sssss", base, jstr(fn, "Handler"), jstr(fn, "Source"), config, hash);
    if (!q) return -1;
    int r = dwf__sql_step(s->st, q, err);
    dwf__sql_done(s->st, q);
    return r;
}

int dwf_service_put_function(dwf_service *s, const cJSON *fn, dwf_error *err)
{
    const char *name = jstr(fn, "FunctionName");
    if (!name || !*name) return fail(err, IPVE, "FunctionName is required.");
    char base[256];
    dwf__svc_function_base(name, base);
    /* The config column holds DurableConfig's members and the function's Environment beside
     * them (a member DurableConfig never has), so a store of any schema version keeps both. A
     * plain function (no DurableConfig) has no config: its Environment is not kept here (the
     * hosts that record one, `dwf run` and `dwf test`, register durable workflows only; dwf
     * serve keeps its functions' configuration in the registry, registry.c). */
    const cJSON *dc = cJSON_GetObjectItemCaseSensitive(fn, "DurableConfig");
    if (dc && !cJSON_IsObject(dc)) return fail(err, IPVE, "DurableConfig must be an object.");
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(fn, "Environment");
    cJSON *cfg = dc ? cJSON_Duplicate(dc, 1) : NULL;
    if (dc && !cfg) return oom(err);
    if (cfg && env && !cJSON_AddItemToObject(cfg, "Environment", cJSON_Duplicate(env, 1))) {
        cJSON_Delete(cfg);
        return oom(err);
    }
    char *cj = cfg ? cJSON_PrintUnformatted(cfg) : NULL;
    cJSON_Delete(cfg);
    if (dc && !cj) return oom(err);
    dwf__svc_lock(s);
    int same = function_unchanged(s, base, fn, cj, err);
    if (same != 0) {
        free(cj);
        if (same < 0) {
            dwf__svc_unlock(s);
            return -1;
        }
        dwf__svc_unlock_read(s); /* what it compared with is on disk before it answers */
        return 0;
    }
    if (dwf__store_begin(s->st, err) != 0) {
        free(cj);
        return dwf__svc_abort(s);
    }
    const char *hash = jstr(fn, "WorkflowHash");
    int r = dwf__sql_exec(s->st, err,
                          "INSERT OR REPLACE INTO functions(name, handler, source, config, updated_ms, workflow_hash)"
                          " VALUES(?1,?2,?3,?4,?5,?6)",
                          "ssssds", base, jstr(fn, "Handler"), jstr(fn, "Source"), cj, dwf_service_now(s), hash);
    free(cj);
    if (r == 0 && hash)
        r = dwf__sql_exec(s->st, err,
                          "INSERT OR REPLACE INTO workflows(hash, function_name, handler, source, updated_ms)"
                          " VALUES(?1,?2,?3,?4,?5)",
                          "ssssd", hash, base, jstr(fn, "Handler"), jstr(fn, "Source"), dwf_service_now(s));
    if (r != 0) return dwf__svc_abort(s);
    return dwf__svc_commit(s, err);
}

int dwf__svc_function_load(dwf_service *s, const char *name, cJSON **out, dwf_error *err)
{
    char base[256];
    dwf__svc_function_base(name, base);
    *out = NULL;
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, "SELECT handler, source, config FROM functions WHERE name=?1", "s",
                                       base);
    if (!q) return -1;
    int r = dwf__sql_step(s->st, q, err);
    if (r == 1) {
        cJSON *f = cJSON_CreateObject();
        int bad = !f || jset_str(f, "FunctionName", base);
        bad |= jset_str(f, "Handler", (const char *)sqlite3_column_text(q, 0));
        bad |= jset_str(f, "Source", (const char *)sqlite3_column_text(q, 1));
        const char *cj = (const char *)sqlite3_column_text(q, 2);
        /* No config: a plain function (registered without a DurableConfig). */
        cJSON *cfg = cj ? cJSON_Parse(cj) : NULL;
        if (cj) {
            if (!cJSON_IsObject(cfg)) {
                cJSON_Delete(cfg);
                cfg = cJSON_CreateObject();
            }
            cJSON *env = cJSON_DetachItemFromObjectCaseSensitive(cfg, "Environment");
            if (env) bad |= jset(f, "Environment", env);
            bad |= jset(f, "DurableConfig", cfg);
        }
        if (bad) {
            cJSON_Delete(f);
            r = oom(err);
        } else {
            *out = f;
            r = 0;
        }
    } else if (r == 0) {
        r = 1;
    }
    dwf__sql_done(s->st, q);
    return r;
}

/* RetentionPeriodInDays and ExecutionTimeout of a DurableConfig, or the defaults. */
static void start_numbers(const cJSON *cfg, int *retention_days, int *timeout_s)
{
    const cJSON *ret = cJSON_GetObjectItemCaseSensitive(cfg, "RetentionPeriodInDays");
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(cfg, "ExecutionTimeout");
    *retention_days = cJSON_IsNumber(ret) && ret->valuedouble >= 1 ? (int)ret->valuedouble : DWF_DEFAULT_RETENTION_DAYS;
    *timeout_s = cJSON_IsNumber(to) && to->valuedouble >= 1 ? (int)to->valuedouble : DWF_DEFAULT_EXECUTION_TIMEOUT_S;
}

/* Every Invoke starts an execution, and loading the function as dwf__svc_function_load gives
 * it (its config text parsed into a tree with its environment, its handler and source copied)
 * was ~11,700 instructions of each (callgrind, bench/throughput.sh's Event row), for two
 * numbers of a text that nearly never changes: the row's config is still read at every start,
 * and parsed only when it is not the text parsed last time. */
int dwf__svc_function_start(dwf_service *s, const char *name, char *base, int *durable, int *retention_days,
                            int *timeout_s, int *has_hash, dwf_error *err)
{
    dwf__svc_function_base(name, base);
    *durable = *has_hash = 0;
    *retention_days = DWF_DEFAULT_RETENTION_DAYS;
    *timeout_s = DWF_DEFAULT_EXECUTION_TIMEOUT_S;
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, "SELECT config, workflow_hash IS NOT NULL FROM functions WHERE name=?1",
                                       "s", base);
    if (!q) return -1;
    int r = dwf__sql_step(s->st, q, err);
    if (r == 1) {
        r = 0;
        *has_hash = sqlite3_column_int(q, 1);
        const char *cj = (const char *)sqlite3_column_text(q, 0);
        /* No config: a plain function (registered without a DurableConfig). */
        *durable = cj != NULL;
        if (cj && s->start_cfg && strcmp(cj, s->start_cfg) == 0) {
            *retention_days = s->start_retention;
            *timeout_s = s->start_timeout;
        } else if (cj) {
            cJSON *cfg = cJSON_Parse(cj); /* not an object (or not JSON): the defaults, as a load gives */
            start_numbers(cJSON_IsObject(cfg) ? cfg : NULL, retention_days, timeout_s);
            cJSON_Delete(cfg);
            free(s->start_cfg);
            s->start_cfg = strdup(cj); /* out of memory: nothing kept, the next start parses */
            s->start_retention = *retention_days;
            s->start_timeout = *timeout_s;
        }
    } else if (r == 0) {
        r = 1;
    }
    dwf__sql_done(s->st, q);
    return r;
}

int dwf_service_get_function(dwf_service *s, const char *name, cJSON **out, dwf_error *err)
{
    dwf__svc_lock(s);
    int r = dwf__svc_function_load(s, name, out, err);
    dwf__svc_unlock(s);
    if (r == 1) return fail(err, RNFE, "Function not found: %s", name);
    return r;
}

void dwf_service_set_invoke_mock(dwf_service *s, dwf_mock_fn fn, void *arg)
{
    s->invoke_mock = fn;
    s->invoke_mock_arg = arg;
}
