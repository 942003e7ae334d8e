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
 * Wake-ups: each blocked caller sleeps, in a list of the callers waiting, on the futex word of
 * its batch (one of SYNC_WORDS, by ticket). When a flush ends (or a batch fails) the thread that
 * changed the state settles every waiter it decided, still under the lock: the outcome
 * (acknowledged, its batch's error, the flush's errno) is written into the waiter, which is
 * marked posted once the lock is released and returns without taking it again. The sleepers of
 * one batch are then woken by one futex wake of its word, where a semaphore per waiter took a
 * sem_post system call for each (2.9 futex calls per execution in bench/throughput.sh's Event
 * row, about 4.4 per flush), and the first woken, often run on the waker's core at once,
 * delayed the posts of the others.
 * The waiters not decided (those of batches after the flush) stay asleep, except one (the
 * lowest ticket), woken to commit and lead the next flush when none runs: a broadcast to all of
 * them made each wake, queue for the lock and sleep again (in dwf serve, 44% of its context
 * switches). At most one such candidate is awake at a time; it gives the role back when it
 * sleeps on a flush, starts one, or returns (then the next is woken if the others still need a
 * leader), so blocked waiters never lack a leader while no flush runs.
 *
 * The counters: calls committed (tickets: commits), transactions (COMMITs), flushes, the calls
 * flushes covered, the largest group and the waiters woken: tests assert on them, serve reports
 * them (dwf_service_sync_stats).
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A batch whose COMMIT failed, kept until each of its waiting calls has read its error. */
typedef struct failed_batch {
    unsigned long long no;
    unsigned waiters;
    dwf_error err;
    struct failed_batch *next;
} failed_batch;

/* A caller asleep until its ticket is decided (or it is woken to lead): on its own stack, in
 * s->waiters while it sleeps. The waker fills the outcome under s->mu and moves it to s->woken;
 * `posted` is set once s->mu is released, as the last touch of the waiter (the caller may
 * return at once); the wake-up itself is on the batch's word in s, never in the waiter. */
typedef struct sync_waiter {
    unsigned long long ticket;
    int counted; /* a waiter of its batch (counted in its failure record), not a reader */
    int outcome; /* W_LEAD: woken to commit or flush; W_DONE, W_BATCH_FAILED (err), W_FLUSH_FAILED (errno) */
    int flush_errno;
    dwf_error err;
    uint32_t bits;      /* its futex bitset: W_ALL and a bit of its own (a wake-up to lead is its alone) */
    atomic_int posted;  /* the outcome is written: return (or lead) */
    struct sync_waiter *next;
} sync_waiter;
enum { W_LEAD, W_DONE, W_BATCH_FAILED, W_FLUSH_FAILED };

/* The waiters of batch t sleep on word t % SYNC_WORDS; the batches waited for at once (from the
 * oldest not durable to the open one) are a few, so two share a word almost never (and then a
 * sleeper woken for the other batch finds itself not posted and sleeps again). */
#define SYNC_WORDS 64
#define W_ALL (1u << 31)

typedef struct sync_word {
    atomic_uint seq;      /* changed before every wake-up of the word */
    atomic_int sleepers;  /* callers between deciding to sleep on it and waking */
} sync_word;
_Static_assert(sizeof(atomic_uint) == sizeof(uint32_t), "a futex word is 32 bits");
struct dwf__sync {
    char wal[PATH_MAX + 8]; /* PATH-wal */
    char db[PATH_MAX];
    int fd;                 /* the log (or the database when there is no log), -1 until needed */
    pthread_mutex_t mu;
    sync_waiter *waiters; /* asleep, undecided */
    sync_waiter *woken;   /* decided (or to lead), to be posted once s->mu is released */
    int candidate;        /* a waiter woken to lead has not slept, flushed or returned yet */
    unsigned long long committed; /* the newest batch committed (or failed) */
    unsigned long long durable;   /* every batch up to this one is on disk */
    unsigned long long committed_calls, durable_calls; /* calls in those */
    unsigned open_calls, open_waiters; /* the open batch (number committed + 1): its calls, and
                                        * those of them that wait for its flush */
    failed_batch *failures;
    sync_word words[SYNC_WORDS];
    unsigned next_bit; /* the own bit of the next waiter (0..30) */
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
    int log_known;         /* the identity of the log SQLite writes (dwf__sync_set_log) */
    int log_fd;            /* that file, opened (and checked to be it) at the first flush; -1 */
    dev_t log_dev;
    ino_t log_ino;
};

dwf__sync *dwf__sync_new(const char *db_path)
{
    dwf__sync *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    snprintf(s->db, sizeof s->db, "%s", db_path);
    snprintf(s->wal, sizeof s->wal, "%s-wal", db_path);
    s->fd = -1;
    s->log_fd = -1;
    pthread_mutex_init(&s->mu, NULL);
    return s;
}

void dwf__sync_free(dwf__sync *s)
{
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    if (s->log_fd >= 0) close(s->log_fd);
    while (s->failures) {
        failed_batch *f = s->failures;
        s->failures = f->next;
        free(f);
    }
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
    /* A call that saw the batch's earlier calls waits for the batch's flush, unless it asked
     * to wait for nothing at all. */
    int waiter = waits > 0 || (waits == 0 && saw == t);
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

/* Is the waiter's ticket decided (its batch durable, its COMMIT failed, or a flush failed from
 * before it)? Then its outcome, written into it. Under s->mu. */
static int settle(dwf__sync *s, sync_waiter *w)
{
    if (w->ticket <= s->committed && s->failures && batch_failure(s, w->ticket, w->counted, &w->err)) {
        w->outcome = W_BATCH_FAILED;
        return 1;
    }
    if (s->durable >= w->ticket) {
        w->outcome = W_DONE;
        return 1;
    }
    if (s->failed_from && w->ticket >= s->failed_from) {
        w->outcome = W_FLUSH_FAILED;
        w->flush_errno = s->failed_errno;
        return 1;
    }
    return 0;
}

/* The state changed (a flush ended, a batch failed, a caller left): wake each sleeping waiter
 * whose ticket is now decided, and, when no flush runs and no candidate is awake, the undecided
 * one with the lowest ticket, to commit and flush what the others wait for. The rest sleep on.
 * Under s->mu. */
static void wake_decided(dwf__sync *s)
{
    sync_waiter **lead = NULL;
    for (sync_waiter **p = &s->waiters; *p;) {
        sync_waiter *w = *p;
        if (!settle(s, w)) {
            if (!lead || w->ticket < (*lead)->ticket) lead = p;
            p = &w->next;
            continue;
        }
        *p = w->next;
        s->stats.wakeups++;
        w->next = s->woken;
        s->woken = w;
    }
    if (!lead || s->flushing || s->candidate) return;
    sync_waiter *w = *lead;
    *lead = w->next;
    w->outcome = W_LEAD;
    s->candidate = 1;
    s->stats.wakeups++;
    w->next = s->woken;
    s->woken = w;
}

/* glibc has no futex wrapper (its semaphores and condition variables are one waiter's or one
 * queue's); these are the two calls the waiters below need, a sleep and a wake-up of the
 * sleepers whose bitset meets `bits`. The word is private to the process. */
static void futex_sleep(atomic_uint *word, unsigned seen, uint32_t bits)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET_PRIVATE, seen, NULL, NULL, bits);
}

static void futex_wake(atomic_uint *word, uint32_t bits)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, bits);
}

/* Change a word and wake its sleepers of `bits`, if any is between deciding to sleep and waking
 * (a sleeper counts itself before reading the word, so either this sees it or it sees the
 * word changed and the waiter posted). */
static void word_wake(sync_word *wd, uint32_t bits)
{
    atomic_fetch_add(&wd->seq, 1);
    if (atomic_load(&wd->sleepers) > 0) futex_wake(&wd->seq, bits);
}

/* Release s->mu, then wake the waiters decided under it. Waking after the unlock keeps a woken
 * thread that preempts the waker (it often runs on the waker's core at once) from finding the
 * lock still held. A waiter returns only once posted, so it is still there until then: what
 * the wake-up needs of it (its batch's word, its bit) is read first, and `posted` is the last
 * touch. Then one wake-up per word for the decided ones, and the one woken to lead its own. */
static void unlock_and_wake(dwf__sync *s)
{
    sync_waiter *w = s->woken;
    s->woken = NULL;
    pthread_mutex_unlock(&s->mu);
    uint64_t decided = 0;
    int lead_word = -1;
    uint32_t lead_bit = 0;
    while (w) {
        sync_waiter *next = w->next;
        int k = (int)(w->ticket % SYNC_WORDS);
        if (w->outcome == W_LEAD) {
            lead_word = k;
            lead_bit = w->bits & ~W_ALL;
        } else {
            decided |= 1ull << k;
        }
        atomic_store_explicit(&w->posted, 1, memory_order_release);
        w = next;
    }
    for (int k = 0; decided; k++, decided >>= 1)
        if (decided & 1) word_wake(&s->words[k], W_ALL);
    if (lead_word >= 0) word_wake(&s->words[lead_word], lead_bit);
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
        wake_decided(s);
    }
    unlock_and_wake(s);
    free(f);
}

unsigned long long dwf__sync_newest(dwf__sync *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned long long t = s->open_calls ? s->committed + 1 : s->committed;
    unlock_and_wake(s);
    return t;
}

void dwf__sync_set_log(dwf__sync *s, dev_t dev, ino_t ino)
{
    pthread_mutex_lock(&s->mu);
    s->log_known = 1;
    s->log_dev = dev;
    s->log_ino = ino;
    pthread_mutex_unlock(&s->mu);
}

/* The log SQLite writes, when the store told its identity: opened once, and kept while this
 * process has the store open, since SQLite keeps that very file until its connection closes
 * (store_file.c). So a flush costs no stat of the path and no fstat of the descriptor (two of
 * the six file checks per at-most-once step, strace): what a commit appended is in that file
 * whatever PATH-wal names now, and a commit made while PATH-wal named another file failed its
 * check (dwf__store_commit_batch) and has nothing to flush. -1 when PATH-wal is not that file
 * when first opened here (the caller then falls back on the path). */
static int flush_log(dwf__sync *s)
{
    if (s->log_fd >= 0) return s->log_fd;
    int fd = open(s->wal, O_RDWR | O_CLOEXEC);
    dev_t dev;
    ino_t ino;
    if (fd >= 0 && dwf__storefile_id(fd, NULL, &dev, &ino, NULL) == 0 && dev == s->log_dev && ino == s->log_ino)
        return s->log_fd = fd;
    if (fd >= 0) close(fd);
    return -1;
}

/* The file to flush: the log SQLite writes, opened once and reopened if the path names another
 * file now (the log of a store is removed when its last connection closes, and a new one made
 * by the next). Without a log (not created yet, or removed) the database file itself: what was
 * committed is then there. Returns the descriptor or -1 (errno set). Only the flusher calls it. */
static int flush_target(dwf__sync *s)
{
    if (s->log_known) {
        int fd = flush_log(s);
        if (fd >= 0) return fd;
    }
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
    if (fd != s->fd && fd != s->log_fd) close(fd);
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
    unlock_and_wake(s);
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
    wake_decided(s);
    if (!orphan || !s->commit) return;
    unlock_and_wake(s);
    if (s->lock) s->lock(s->lock_arg);
    s->commit(s->commit_arg); /* nothing open any more (another call committed it): nothing done */
    if (s->unlock) s->unlock(s->lock_arg);
    pthread_mutex_lock(&s->mu);
}

/* No flush is running and the batch `ticket` is still open: take the service's lock and, if
 * that is still so, commit it and lead its flush. Called with s->mu held; returns with it. */
static void commit_and_lead(dwf__sync *s, unsigned long long ticket)
{
    unlock_and_wake(s);
    if (s->lock) s->lock(s->lock_arg);
    pthread_mutex_lock(&s->mu);
    int lead = !s->flushing && s->committed < ticket;
    if (lead) s->flushing = 1;
    unlock_and_wake(s);
    if (lead && s->commit) s->commit(s->commit_arg);
    if (s->unlock) s->unlock(s->lock_arg);
    pthread_mutex_lock(&s->mu);
    if (lead) flush_as_leader(s);
}

/* The caller's answer once its ticket is decided. */
static int outcome(const dwf__sync *s, const sync_waiter *w, dwf_error *err)
{
    if (w->outcome == W_DONE) return 0;
    if (w->outcome == W_BATCH_FAILED) {
        if (err) *err = w->err;
        return -1;
    }
    int e = w->flush_errno;
    return dwf__store_err(err, e == ENOSPC || e == EDQUOT ? DWF_ERRORTYPE_STORE_FULL : DWF_ERRORTYPE_SERVICE,
                          "the store %s could not be flushed to disk (%s); the last changes may be lost", s->db,
                          strerror(e));
}

/* Sleep in the waiters' list until woken: 1 when the ticket is decided (returns without s->mu),
 * 0 when woken to lead (returns with s->mu held). Called with s->mu held, a flush running.
 * Counted among the word's sleepers before reading it: a waker that changes the word after
 * that read sees the count and wakes it, or the futex finds the word changed (a wake-up of
 * another batch on the same word, EINTR: the loop looks again). */
static int sleep_until_woken(dwf__sync *s, sync_waiter *w)
{
    sync_word *wd = &s->words[w->ticket % SYNC_WORDS];
    atomic_store_explicit(&w->posted, 0, memory_order_relaxed);
    w->bits = W_ALL | (1u << s->next_bit);
    s->next_bit = (s->next_bit + 1) % 31;
    w->next = s->waiters;
    s->waiters = w;
    unlock_and_wake(s);
    atomic_fetch_add(&wd->sleepers, 1);
    for (;;) {
        unsigned seen = atomic_load(&wd->seq);
        if (atomic_load_explicit(&w->posted, memory_order_acquire)) break;
        futex_sleep(&wd->seq, seen, w->bits);
    }
    atomic_fetch_sub(&wd->sleepers, 1);
    if (w->outcome != W_LEAD) return 1;
    pthread_mutex_lock(&s->mu);
    return 0;
}

static int wait_for(dwf__sync *s, unsigned long long ticket, int waiter, int leading, dwf_error *err)
{
    sync_waiter w = {.ticket = ticket, .counted = waiter};
    int candidate = 0; /* woken to lead, role not given back yet */
    pthread_mutex_lock(&s->mu);
    if (leading) flush_as_leader(s);
    for (;;) {
        if (settle(s, &w)) break;
        /* Sleeping on a flush, or acting now: either way the candidate's role is done (the
         * flush's end wakes the next one). */
        if (candidate) s->candidate = candidate = 0;
        if (s->flushing) {
            if (!sleep_until_woken(s, &w)) {
                candidate = 1;
                continue;
            }
            return outcome(s, &w, err);
        } else if (s->committed >= ticket) {
            s->flushing = 1; /* committed, not flushed: flush it (no lock needed) */
            flush_as_leader(s);
        } else {
            commit_and_lead(s, ticket);
        }
    }
    if (candidate) s->candidate = 0;
    /* Sleepers left with no flush running and nobody awake to lead: hand the role on. */
    if (s->waiters && !s->flushing && !s->candidate) wake_decided(s);
    unlock_and_wake(s);
    return outcome(s, &w, err);
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
    unlock_and_wake(s);
}

void dwf__sync_get_stats(dwf__sync *s, dwf__sync_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->stats;
    unlock_and_wake(s);
}
