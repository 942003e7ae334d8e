/*
 * store_sync.c: group commit, the one disk flush that makes the store's commits durable.
 *
 * SQLite commits a transaction by appending its pages to the write-ahead log; with
 * synchronous=FULL it then fsyncs the log inside COMMIT, under the connection's lock, so every
 * service call paid a flush of its own and concurrent calls (dwf serve's invocations, the
 * threads of a parallel or map, several executions in one process) queued behind each other's
 * flushes. The store runs with synchronous=NORMAL instead (COMMIT appends to the log without
 * waiting for the disk; a WAL checkpoint still syncs the log before it copies pages and the
 * database after) and the flush is done here, after COMMIT and outside the service's lock:
 *
 *   - each COMMIT takes a ticket (1, 2, ...) while its pages are already in the log;
 *   - a caller must not answer before a flush that started after its COMMIT has ended
 *     (dwf__sync_wait). If no flush is running, it runs one itself: it notes the newest ticket,
 *     fdatasyncs the log and marks every ticket up to the noted one durable. If one is running,
 *     it waits for it and, if its ticket came too late for it, the next one;
 *   - so every commit that arrives while a flush runs shares the next flush: one fdatasync for
 *     all of them, and each caller is acknowledged only after the flush that holds its update.
 *
 * The log is append-only with checksummed frames, and recovery keeps the longest valid prefix,
 * so flushing the file once covers every commit written before the flush began. A failed flush
 * fails every caller waiting on it and every later one (their updates may not be on disk).
 *
 * The counters (commits, flushes, the largest group) show how much batching happened: tests
 * assert on them, serve reports them (dwf_service_sync_stats).
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

struct dwf__sync {
    char wal[PATH_MAX + 8]; /* PATH-wal */
    char db[PATH_MAX];
    int fd;                 /* the log (or the database when there is no log), -1 until needed */
    pthread_mutex_t mu;
    pthread_cond_t done;
    unsigned long long committed; /* the newest ticket */
    unsigned long long durable;   /* every ticket up to this one is on disk */
    unsigned long long failed_from; /* 0, or the first ticket of the flush that failed */
    int failed_errno;
    int flushing;
    dwf__sync_stats stats;
    void (*hook)(void *); /* before each fdatasync (tests) */
    void *hook_arg;
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
    pthread_cond_destroy(&s->done);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

unsigned long long dwf__sync_committed(dwf__sync *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned long long t = ++s->committed;
    s->stats.commits++;
    pthread_mutex_unlock(&s->mu);
    return t;
}

unsigned long long dwf__sync_newest(dwf__sync *s)
{
    pthread_mutex_lock(&s->mu);
    unsigned long long t = s->committed;
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

int dwf__sync_wait(dwf__sync *s, unsigned long long ticket, dwf_error *err)
{
    pthread_mutex_lock(&s->mu);
    while (s->durable < ticket) {
        if (s->failed_from) break;
        if (s->flushing) {
            pthread_cond_wait(&s->done, &s->mu);
            continue;
        }
        /* Lead a flush: it covers every ticket committed when it starts, ours among them. */
        s->flushing = 1;
        if (s->hook) {
            pthread_mutex_unlock(&s->mu);
            s->hook(s->hook_arg);
            pthread_mutex_lock(&s->mu);
        }
        unsigned long long upto = s->committed, from = s->durable + 1;
        pthread_mutex_unlock(&s->mu);
        int rc = flush_once(s);
        pthread_mutex_lock(&s->mu);
        s->flushing = 0;
        if (rc == 0) {
            s->stats.flushes++;
            s->stats.flushed_commits += upto - (from - 1);
            if (upto - (from - 1) > s->stats.largest_group) s->stats.largest_group = upto - (from - 1);
            s->durable = upto;
        } else {
            /* These commits may not be on disk, and after a failed fdatasync the kernel may have
             * dropped the pages it could not write, so a later flush proves nothing about them:
             * from here on no commit of this handle is acknowledged (the callers get the error;
             * the engine stops, and the next process recovers from what the disk holds). */
            s->failed_from = from;
            s->failed_errno = rc;
        }
        pthread_cond_broadcast(&s->done);
    }
    int failed = s->failed_from && ticket >= s->failed_from;
    int e = s->failed_errno;
    pthread_mutex_unlock(&s->mu);
    if (!failed) return 0;
    return dwf__store_err(err, e == ENOSPC || e == EDQUOT ? DWF_ERRORTYPE_STORE_FULL : DWF_ERRORTYPE_SERVICE,
                          "the store %s could not be flushed to disk (%s); the last changes may be lost", s->db,
                          strerror(e));
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
