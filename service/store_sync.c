/*
 * store_sync.c: group commit: one transaction and one disk flush for the calls that arrive
 * while the previous flush runs.
 *
 * SQLite commits a transaction by appending its pages to the write-ahead log; with
 * synchronous=FULL it then fsyncs the log inside COMMIT, under the connection's lock, so every
 * service call paid a flush of its own and concurrent calls (dwf serve's invocations, the
 * threads of a parallel or map, several executions in one process) queued behind each other's
 * flushes. The store runs with synchronous=NORMAL instead (COMMIT appends to the log without
 * waiting for the disk; a WAL checkpoint still syncs the log before it copies pages and the
 * database after) and the flush is done here, outside the service's lock. A COMMIT per call
 * would still write every page the call touched (its rows and a page of every index) to the log
 * again for each call, so the calls share the transaction too:
 *
 *   - a batch is one open write transaction (BEGIN IMMEDIATE, by the first call that finds none
 *     open); each later call runs inside it under its own SAVEPOINT (the first needs none: a
 *     failure of it rolls back the transaction, which holds only its work), released when it
 *     succeeds and rolled back to when it fails, so one call's error never undoes another's (store.c);
 *   - a call that succeeded joins the open batch and takes its number as its ticket
 *     (dwf__sync_join). It must not answer before a flush that holds its batch has ended
 *     (dwf__sync_wait). If no flush is running, it leads one: still holding the service's lock
 *     it COMMITs the open batch (one log append for all of its calls: the pages they share are
 *     written once), then, without the lock, fdatasyncs the log and marks every batch up to that
 *     one durable. If a flush is running, the call waits for it; when it ends, the batch that
 *     opened meanwhile is committed by the next call to finish its work (which then leads its
 *     flush) or by one of its waiters, whichever takes the service's lock first: a leader never
 *     queues for the lock behind the calls that keep arriving (which, before, let one batch
 *     grow to hundreds of calls while its leader waited);
 *   - so every call that arrives while a flush runs lands in the next transaction and the next
 *     flush, and each caller is acknowledged only after the flush that holds its work. A batch
 *     stays open at most for one flush plus one call, so another process's writer waits less
 *     than that for the lock (busy_timeout).
 *
 * The log is append-only with checksummed frames, and recovery keeps the longest valid prefix,
 * so flushing the file once covers every commit written before the flush began. A failed
 * COMMIT (or a transaction SQLite rolled back under a failing statement) fails every call of
 * that batch with the named error and the store holds none of them; later batches go on. A
 * failed flush fails every caller waiting on it and every later one (their updates may not be
 * on disk).
 *
 * The counters: calls committed (tickets: commits), transactions (COMMITs), flushes, the calls
 * flushes covered and the largest group: tests assert on them, serve reports them
 * (dwf_service_sync_stats).
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A batch whose COMMIT failed, kept until each of its waiting calls has read its error. */
typedef struct failed_batch {
    unsigned long long no;
    unsigned waiters;
    dwf_error err;
    struct failed_batch *next;
} failed_batch;

struct dwf__sync {
    char wal[PATH_MAX + 8]; /* PATH-wal */
    char db[PATH_MAX];
    int fd;                 /* the log (or the database when there is no log), -1 until needed */
    pthread_mutex_t mu;
    pthread_cond_t done;
    unsigned long long committed; /* the newest batch committed (or failed) */
    unsigned long long durable;   /* every batch up to this one is on disk */
    unsigned long long committed_calls, durable_calls; /* calls in those */
    unsigned open_calls, open_waiters; /* the open batch (number committed + 1): its calls, and
                                        * those of them that wait for its flush */
    failed_batch *failures;
    unsigned long long failed_from; /* 0, or the first batch of the flush that failed */
    int failed_errno;
    int flushing;
    dwf__sync_stats stats;
    void (*hook)(void *); /* before each flush's COMMIT (tests) */
    void *hook_arg;
    int (*commit)(void *);           /* COMMIT the open batch (store.c), under the lock below */
    void *commit_arg;
    void (*lock)(void *), (*unlock)(void *); /* the service's lock: the connection's owner */
    void *lock_arg;
};

dwf__sync *dwf__sync_new(const char *db_path)
{
    dwf__sync *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    snprintf(s->db, sizeof s->db, "%s", db_path);
    snprintf(s->wal, sizeof s->wal, "%s-wal", db_path);
    s->fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->done, NULL);
    return s;
}

void dwf__sync_free(dwf__sync *s)
{
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    while (s->failures) {
        failed_batch *f = s->failures;
        s->failures = f->next;
        free(f);
    }
    pthread_cond_destroy(&s->done);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void dwf__sync_set_committer(dwf__sync *s, int (*commit)(void *), void *arg)
{
    pthread_mutex_lock(&s->mu);
    s->commit = commit;
    s->commit_arg = arg;
    pthread_mutex_unlock(&s->mu);
}

void dwf__sync_set_lock(dwf__sync *s, void (*lock)(void *), void (*unlock)(void *), void *arg)
{
    pthread_mutex_lock(&s->mu);
    s->lock = lock;
    s->unlock = unlock;
    s->lock_arg = arg;
    pthread_mutex_unlock(&s->mu);
}

unsigned long long dwf__sync_committed(dwf__sync *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned long long t = ++s->committed;
    s->committed_calls++;
    s->stats.commits++;
    s->stats.transactions++;
    pthread_mutex_unlock(&s->mu);
    return t;
}

unsigned long long dwf__sync_join(dwf__sync *s, int waits, unsigned long long *seen, int *act)
{
    pthread_mutex_lock(&s->mu);
    unsigned long long t = s->committed + 1;
    /* What the call may have read: the open batch's calls before it, or the last commit. */
    unsigned long long saw = s->open_calls ? t : s->committed;
    if (seen) *seen = saw;
    s->open_calls++;
    /* A call that saw the batch's earlier calls waits for the batch's flush, whatever it asked. */
    int waiter = waits || saw == t;
    if (waiter) s->open_waiters++;
    s->stats.commits++;
    /* No flush running: the batch is committed now, by this call (it holds the service's lock),
     * which then leads the flush if it waits. */
    *act = s->flushing ? DWF__SYNC_JOINED : waiter ? DWF__SYNC_COMMIT_LEAD : DWF__SYNC_COMMIT;
    if (*act == DWF__SYNC_COMMIT_LEAD) s->flushing = 1;
    pthread_mutex_unlock(&s->mu);
    return t;
}

unsigned dwf__sync_open_calls(dwf__sync *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned n = s->open_calls;
    pthread_mutex_unlock(&s->mu);
    return n;
}

void dwf__sync_batch_committed(dwf__sync *s)
{
    pthread_mutex_lock(&s->mu);
    if (s->open_calls) {
        s->committed++;
        s->committed_calls += s->open_calls;
        s->stats.transactions++;
        s->open_calls = s->open_waiters = 0;
    }
    pthread_mutex_unlock(&s->mu);
}

void dwf__sync_batch_failed(dwf__sync *s, const dwf_error *err)
{
    failed_batch *f = calloc(1, sizeof *f);
    pthread_mutex_lock(&s->mu);
    if (s->open_calls) {
        s->committed++;
        s->stats.failed_calls += s->open_calls;
        if (s->open_waiters && f) {
            f->no = s->committed;
            f->waiters = s->open_waiters;
            f->err = *err;
            f->next = s->failures;
            s->failures = f;
            f = NULL;
        } else if (s->open_waiters && s->failed_from == 0) {
            /* No memory to say which batch failed: fail everything from here on instead of
             * acknowledging a call whose work is not in the store. */
            s->failed_from = s->committed;
            s->failed_errno = ENOMEM;
        }
        s->open_calls = s->open_waiters = 0;
        pthread_cond_broadcast(&s->done);
    }
    pthread_mutex_unlock(&s->mu);
    free(f);
}

unsigned long long dwf__sync_newest(dwf__sync *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned long long t = s->open_calls ? s->committed + 1 : s->committed;
    pthread_mutex_unlock(&s->mu);
    return t;
}

/* The file to flush: the log SQLite writes, opened once and reopened if the path names another
 * file now (the log of a store is removed when its last connection closes, and a new one made
 * by the next). Without a log (not created yet, or removed) the database file itself: what was
 * committed is then there. Returns the descriptor or -1 (errno set). Only the flusher calls it. */
static int flush_target(dwf__sync *s)
{
    struct stat cur, open_st;
    int have_wal = stat(s->wal, &cur) == 0;
    if (s->fd >= 0 && (fstat(s->fd, &open_st) != 0 || !have_wal || open_st.st_ino != cur.st_ino ||
                       open_st.st_dev != cur.st_dev)) {
        close(s->fd);
        s->fd = -1;
    }
    if (s->fd >= 0) return s->fd;
    if (have_wal && (s->fd = open(s->wal, O_RDWR | O_CLOEXEC)) >= 0) return s->fd;
    /* No log: flush the database (not kept open: the log normally comes back at the next commit). */
    return open(s->db, O_RDWR | O_CLOEXEC);
}

/* One flush of everything committed until now; called by the flusher without s->mu held. */
static int flush_once(dwf__sync *s)
{
    int fd = flush_target(s);
    if (fd < 0) return errno ? errno : EIO;
    int rc = fdatasync(fd) == 0 ? 0 : (errno ? errno : EIO);
    if (fd != s->fd) close(fd);
    return rc;
}

/* The leader's flush of what is committed (its batch was committed by the leader, under the
 * service's lock): fdatasync, mark it durable, end the flush. The batch that opened meanwhile is
 * committed by the next call to finish its work or by one of its waiters, whichever takes the
 * service's lock first (neither waits behind the other); only a batch none of whose calls
 * waits (dwf__svc_commit_unflushed) is committed here. Called with s->mu held and flushing set;
 * returns with s->mu held. */
static void flush_as_leader(dwf__sync *s)
{
    unsigned long long upto = s->committed, upto_calls = s->committed_calls, from = s->durable + 1;
    /* Batches that failed hold nothing to flush: only committed calls need the disk. */
    int need = upto >= from && upto_calls > s->durable_calls;
    void (*hook)(void *) = s->hook;
    void *hook_arg = s->hook_arg;
    pthread_mutex_unlock(&s->mu);
    if (hook && need) hook(hook_arg);
    int rc = need ? flush_once(s) : 0;
    pthread_mutex_lock(&s->mu);
    if (rc == 0 && !need) {
        if (upto > s->durable) s->durable = upto;
    } else if (rc == 0) {
        unsigned long long group = upto_calls - s->durable_calls;
        s->stats.flushes++;
        s->stats.flushed_commits += group;
        if (group > s->stats.largest_group) s->stats.largest_group = group;
        s->durable = upto;
        s->durable_calls = upto_calls;
    } else {
        /* These commits may not be on disk, and after a failed fdatasync the kernel may have
         * dropped the pages it could not write, so a later flush proves nothing about them:
         * from here on no commit of this handle is acknowledged (the callers get the error;
         * the engine stops, and the next process recovers from what the disk holds). */
        s->failed_from = from;
        s->failed_errno = rc;
    }
    s->flushing = 0;
    int orphan = s->open_calls && !s->open_waiters;
    pthread_cond_broadcast(&s->done);
    if (!orphan || !s->commit) return;
    pthread_mutex_unlock(&s->mu);
    if (s->lock) s->lock(s->lock_arg);
    s->commit(s->commit_arg); /* nothing open any more (another call committed it): nothing done */
    if (s->unlock) s->unlock(s->lock_arg);
    pthread_mutex_lock(&s->mu);
}

/* No flush is running and the batch `ticket` is still open: take the service's lock and, if
 * that is still so, commit it and lead its flush. Called with s->mu held; returns with it. */
static void commit_and_lead(dwf__sync *s, unsigned long long ticket)
{
    pthread_mutex_unlock(&s->mu);
    if (s->lock) s->lock(s->lock_arg);
    pthread_mutex_lock(&s->mu);
    int lead = !s->flushing && s->committed < ticket;
    if (lead) s->flushing = 1;
    pthread_mutex_unlock(&s->mu);
    if (lead && s->commit) s->commit(s->commit_arg);
    if (s->unlock) s->unlock(s->lock_arg);
    pthread_mutex_lock(&s->mu);
    if (lead) flush_as_leader(s);
}

/* Did the batch `ticket` fail at its COMMIT? Then its error (once per waiting call). */
static int batch_failure(dwf__sync *s, unsigned long long ticket, int waiter, dwf_error *err)
{
    for (failed_batch **p = &s->failures; *p; p = &(*p)->next) {
        failed_batch *f = *p;
        if (f->no != ticket) continue;
        if (err) *err = f->err;
        if (!waiter) return 1;
        if (--f->waiters == 0) {
            *p = f->next;
            free(f);
        }
        return 1;
    }
    return 0;
}

static int wait_for(dwf__sync *s, unsigned long long ticket, int waiter, int leading, dwf_error *err)
{
    pthread_mutex_lock(&s->mu);
    if (leading) flush_as_leader(s);
    for (;;) {
        if (ticket <= s->committed && s->failures && batch_failure(s, ticket, waiter, err)) {
            pthread_mutex_unlock(&s->mu);
            return -1;
        }
        if (s->durable >= ticket || (s->failed_from && ticket >= s->failed_from)) break;
        if (s->flushing) {
            pthread_cond_wait(&s->done, &s->mu);
        } else if (s->committed >= ticket) {
            s->flushing = 1; /* committed, not flushed: flush it (no lock needed) */
            flush_as_leader(s);
        } else {
            commit_and_lead(s, ticket);
        }
    }
    int failed = s->durable < ticket;
    int e = s->failed_errno;
    pthread_mutex_unlock(&s->mu);
    if (!failed) return 0;
    return dwf__store_err(err, e == ENOSPC || e == EDQUOT ? DWF_ERRORTYPE_STORE_FULL : DWF_ERRORTYPE_SERVICE,
                          "the store %s could not be flushed to disk (%s); the last changes may be lost", s->db,
                          strerror(e));
}

int dwf__sync_wait(dwf__sync *s, unsigned long long ticket, dwf_error *err)
{
    return wait_for(s, ticket, 1, 0, err);
}

int dwf__sync_lead(dwf__sync *s, unsigned long long ticket, dwf_error *err)
{
    return wait_for(s, ticket, 1, 1, err);
}

int dwf__sync_wait_seen(dwf__sync *s, unsigned long long ticket, dwf_error *err)
{
    return wait_for(s, ticket, 0, 0, err);
}

void dwf__sync_set_hook(dwf__sync *s, void (*fn)(void *), void *arg)
{
    pthread_mutex_lock(&s->mu);
    s->hook = fn;
    s->hook_arg = arg;
    pthread_mutex_unlock(&s->mu);
}

void dwf__sync_get_stats(dwf__sync *s, dwf__sync_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    pthread_mutex_unlock(&s->mu);
}
