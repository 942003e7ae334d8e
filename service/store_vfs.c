/*
 * store_vfs.c: the store's VFS, "dwf-store": SQLite's default VFS (unix) with one change, the
 * frames a commit appends to the write-ahead log reach the file in one write instead of two
 * each.
 *
 * SQLite writes a log frame as two writes, its 24-byte header then its page (wal.c,
 * walWriteOneFrame), so an at-most-once step's commit of ~4.6 frames was ~9.4 pwrite64 calls,
 * and about half of dwf serve's system calls. Here the frames a transaction appends are copied
 * (SQLite reuses its buffers once xWrite returns: the header is on its stack) into a buffer of
 * the log's own (per open file, no globals) and written with one write of the default VFS when
 * the commit frame is complete. The bytes, their offsets and their order in the file are
 * SQLite's; only the number of system calls changes, and every byte is in the file (the page
 * cache, as SQLite's own writes) before the commit frame's xWrite returns: SQLite makes a commit
 * visible to readers (the wal-index header) only after that, and the group commit's fdatasync
 * (store_sync.c) after COMMIT returns. Durability is unchanged.
 *
 * What SQLite 3.40 does with the log (wal.c, walFrames, walWriteToLog, walRewriteChecksums),
 * and what is gathered:
 *   - a new or restarted log's 32-byte header at offset 0, then an xSync when synchronous is
 *     not OFF: written through (only frame-sized pieces are gathered), after which the next
 *     frame starts a new buffer;
 *   - each frame: its header (24 bytes; bytes 4..7, the database size after the commit, non-zero
 *     for the commit frame), then its page right after it: gathered while contiguous; the write
 *     completing the commit frame writes the buffer;
 *   - padding frames (synchronous=FULL on a device without powersafe overwrite) repeat the
 *     commit frame, each one a commit frame again (and walWriteToLog may split one around an
 *     xSync): each is written when complete, the split pieces through;
 *   - a page written again in the same transaction (walFrames' iFirst: the cache spilled frames
 *     before the commit) is rewritten in place, after which walRewriteChecksums reads each frame
 *     from there on back and writes its header again: a write anywhere but at the buffer's end
 *     writes the buffer first and goes through; a commit frame's header where this log has
 *     already appended (a rewrite, whose page does not follow it) goes through at once;
 *   - anything else that looks at the file (xRead, xFileSize, xTruncate, xSync, xFileControl,
 *     xClose) writes the buffer first, so it sees what SQLite wrote. Frames gathered without a
 *     commit (the cache spilling in a large transaction) wait for the next of those or for the
 *     commit; readers never use them before a commit.
 * The buffer holds at most 128 KiB - 1 bytes, the most the default VFS writes at once (31
 * frames of 4 KiB pages): a larger transaction is written in pieces of that size. A failed write (an error, or a short write
 * the default VFS could not complete: it loops over short writes and EINTR, and reports
 * SQLITE_FULL for a full disk, SQLITE_IOERR_WRITE otherwise) fails the xWrite, xSync, ... that
 * made it with that code, so the transaction fails as it would have on SQLite's own write: the
 * wal-index never names the frames, and recovery ignores them.
 * Every file other than the log (the store, the wal-index, temporary files) is opened by the
 * default VFS directly in the file object SQLite handed over, with the default methods: nothing
 * of this file runs for them.
 * The wal-index (-shm) is the store file's (xShm* are called on the database file), so the
 * buffer cannot be written from there: hence the commit frame.
 */
#include "store_vfs.h"

#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#define FRAME_HEADER 24              /* a log frame's header (SQLite's WAL format) */
/* The most the default VFS writes at once (unix's seekAndWriteFd masks a write's size with
 * 0x1ffff: SQLite itself never writes more than a page), so frames are gathered up to that. */
#define GATHER_LIMIT 0x1ffff
/* The private file controls of a log (asked through SQLITE_FCNTL_JOURNAL_POINTER's file). */
#define FCNTL_STATS 0x64776601
#define FCNTL_FAIL_NEXT 0x64776602

typedef struct logfile {
    sqlite3_file base;      /* pMethods: log_methods */
    sqlite3_file *real;     /* the default VFS's file, after this structure */
    unsigned char *buf;     /* gathered bytes, for [at, at + len) of the file */
    size_t len, cap;
    sqlite3_int64 at;
    sqlite3_int64 appended; /* the end of what this handle wrote since the log's header */
    int page_expected;      /* buf ends with a frame's header: its page comes next */
    int page;               /* the size of the last page gathered (4096 before the first) */
    int commit;             /* ... and it is the commit frame's */
    int fail_rc;            /* tests: dwf__store_vfs_fail_next */
    dwf__store_vfs_stats stats;
} logfile;

/* Where the default VFS's file starts in ours (aligned for any type). */
#define REAL_OFFSET ((sizeof(logfile) + _Alignof(max_align_t) - 1) / _Alignof(max_align_t) * _Alignof(max_align_t))

static sqlite3_vfs *base_vfs;
static sqlite3_vfs store_vfs;
static pthread_once_t vfs_once = PTHREAD_ONCE_INIT;

static sqlite3_file *real_of(sqlite3_file *f) { return ((logfile *)f)->real; }

static int real_write(logfile *l, const void *p, int n, sqlite3_int64 o)
{
    l->stats.writes++;
    int rc = l->real->pMethods->xWrite(l->real, p, n, o);
    if (rc == SQLITE_OK) l->appended = o == 0 ? o + n : (o + n > l->appended ? o + n : l->appended);
    return rc;
}

/* Write what is gathered; SQLITE_OK, or the default VFS's error for it (the bytes are dropped
 * either way: SQLite fails the transaction that wrote them). */
static int flush(logfile *l)
{
    if (l->len == 0) return SQLITE_OK;
    size_t n = l->len;
    l->len = 0;
    l->page_expected = 0;
    l->stats.gathered++;
    if (l->fail_rc) {
        int rc = l->fail_rc;
        l->fail_rc = 0;
        if (n / 2) (void)real_write(l, l->buf, (int)(n / 2), l->at);
        return rc;
    }
    return real_write(l, l->buf, (int)n, l->at);
}

/* Append to the buffer (starting it at o when empty); 0, or -1 when it has no room (then the
 * caller writes the buffer and this write through). */
static int gather(logfile *l, const void *p, int n, sqlite3_int64 o)
{
    size_t need = l->len + (size_t)n;
    if (need > l->cap) {
        size_t cap = l->cap ? l->cap : 32 * 1024;
        while (cap < need) cap *= 2;
        if (cap > GATHER_LIMIT) cap = GATHER_LIMIT;
        if (cap < need) return -1;
        unsigned char *b = realloc(l->buf, cap);
        if (!b) return -1;
        l->buf = b;
        l->cap = cap;
    }
    if (l->len == 0) l->at = o;
    memcpy(l->buf + l->len, p, (size_t)n);
    l->len = need;
    if (o + n > l->appended) l->appended = o + n;
    return 0;
}

static int log_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 o)
{
    logfile *l = (logfile *)f;
    const unsigned char *b = p;
    int contiguous = l->len > 0 && o == l->at + (sqlite3_int64)l->len;
    if (n == FRAME_HEADER && !l->page_expected) {
        int commit = (b[4] | b[5] | b[6] | b[7]) != 0;
        /* A commit frame's header where this log already wrote is walRewriteChecksums': no
         * page follows it, and readers may use it as soon as this returns. */
        int rewrite = commit && l->len == 0 && o < l->appended;
        if (contiguous || (l->len == 0 && !rewrite)) {
            /* no room for this frame: the frames before it go first */
            if (l->len + FRAME_HEADER + (size_t)(l->page ? l->page : 4096) > GATHER_LIMIT) {
                int rc = flush(l);
                if (rc != SQLITE_OK) return rc;
            }
            if (gather(l, p, n, o) == 0) {
                l->page_expected = 1;
                l->commit = commit;
                return SQLITE_OK;
            }
        }
    } else if (l->page_expected && contiguous && gather(l, p, n, o) == 0) {
        l->page_expected = 0;
        l->page = n;
        l->stats.frames++;
        return l->commit ? flush(l) : SQLITE_OK;
    }
    int rc = flush(l);
    return rc != SQLITE_OK ? rc : real_write(l, p, n, o);
}

static int log_close(sqlite3_file *f)
{
    logfile *l = (logfile *)f;
    int rc = flush(l);
    int rc2 = l->real->pMethods->xClose(l->real);
    free(l->buf);
    l->buf = NULL;
    l->len = l->cap = 0;
    return rc != SQLITE_OK ? rc : rc2;
}

static int log_read(sqlite3_file *f, void *p, int n, sqlite3_int64 o)
{
    int rc = flush((logfile *)f);
    return rc != SQLITE_OK ? rc : real_of(f)->pMethods->xRead(real_of(f), p, n, o);
}

static int log_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    logfile *l = (logfile *)f;
    int rc = flush(l);
    if (rc != SQLITE_OK) return rc;
    if (l->appended > size) l->appended = size;
    return l->real->pMethods->xTruncate(l->real, size);
}

static int log_sync(sqlite3_file *f, int flags)
{
    int rc = flush((logfile *)f);
    return rc != SQLITE_OK ? rc : real_of(f)->pMethods->xSync(real_of(f), flags);
}

static int log_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    int rc = flush((logfile *)f);
    return rc != SQLITE_OK ? rc : real_of(f)->pMethods->xFileSize(real_of(f), size);
}

static int log_lock(sqlite3_file *f, int lock) { return real_of(f)->pMethods->xLock(real_of(f), lock); }
static int log_unlock(sqlite3_file *f, int lock) { return real_of(f)->pMethods->xUnlock(real_of(f), lock); }
static int log_check_reserved(sqlite3_file *f, int *out)
{
    return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}

static int log_file_control(sqlite3_file *f, int op, void *arg)
{
    logfile *l = (logfile *)f;
    if (op == FCNTL_STATS) {
        *(dwf__store_vfs_stats *)arg = l->stats;
        return SQLITE_OK;
    }
    if (op == FCNTL_FAIL_NEXT) {
        l->fail_rc = *(int *)arg;
        return SQLITE_OK;
    }
    int rc = flush(l);
    return rc != SQLITE_OK ? rc : l->real->pMethods->xFileControl(l->real, op, arg);
}

static int log_sector_size(sqlite3_file *f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
static int log_device_characteristics(sqlite3_file *f)
{
    return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

/* Version 1: SQLite maps nothing of the log and keeps the wal-index on the database file. */
static const sqlite3_io_methods log_methods = {
    1,
    log_close,
    log_read,
    log_write,
    log_truncate,
    log_sync,
    log_file_size,
    log_lock,
    log_unlock,
    log_check_reserved,
    log_file_control,
    log_sector_size,
    log_device_characteristics,
    NULL, NULL, NULL, NULL, NULL, NULL,
};

static int vfs_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
    (void)vfs;
    /* Not the log: the default VFS's file itself, in the room SQLite allocated for ours. */
    if (!(flags & SQLITE_OPEN_WAL)) return base_vfs->xOpen(base_vfs, name, f, flags, out_flags);
    logfile *l = (logfile *)f;
    memset(l, 0, sizeof *l);
    l->real = (sqlite3_file *)((char *)f + REAL_OFFSET);
    int rc = base_vfs->xOpen(base_vfs, name, l->real, flags, out_flags);
    l->base.pMethods = rc == SQLITE_OK ? &log_methods : NULL;
    return rc;
}

static int vfs_delete(sqlite3_vfs *v, const char *name, int sync) { (void)v; return base_vfs->xDelete(base_vfs, name, sync); }
static int vfs_access(sqlite3_vfs *v, const char *name, int flags, int *out)
{
    (void)v;
    return base_vfs->xAccess(base_vfs, name, flags, out);
}
static int vfs_full_pathname(sqlite3_vfs *v, const char *name, int n, char *out)
{
    (void)v;
    return base_vfs->xFullPathname(base_vfs, name, n, out);
}
static void *vfs_dlopen(sqlite3_vfs *v, const char *name) { (void)v; return base_vfs->xDlOpen(base_vfs, name); }
static void vfs_dlerror(sqlite3_vfs *v, int n, char *out) { (void)v; base_vfs->xDlError(base_vfs, n, out); }
static void (*vfs_dlsym(sqlite3_vfs *v, void *h, const char *sym))(void)
{
    (void)v;
    return base_vfs->xDlSym(base_vfs, h, sym);
}
static void vfs_dlclose(sqlite3_vfs *v, void *h) { (void)v; base_vfs->xDlClose(base_vfs, h); }
static int vfs_randomness(sqlite3_vfs *v, int n, char *out) { (void)v; return base_vfs->xRandomness(base_vfs, n, out); }
static int vfs_sleep(sqlite3_vfs *v, int us) { (void)v; return base_vfs->xSleep(base_vfs, us); }
static int vfs_current_time(sqlite3_vfs *v, double *t) { (void)v; return base_vfs->xCurrentTime(base_vfs, t); }
static int vfs_last_error(sqlite3_vfs *v, int n, char *out) { (void)v; return base_vfs->xGetLastError(base_vfs, n, out); }
static int vfs_current_time64(sqlite3_vfs *v, sqlite3_int64 *t)
{
    (void)v;
    return base_vfs->xCurrentTimeInt64(base_vfs, t);
}
static int vfs_set_syscall(sqlite3_vfs *v, const char *name, sqlite3_syscall_ptr p)
{
    (void)v;
    return base_vfs->xSetSystemCall(base_vfs, name, p);
}
static sqlite3_syscall_ptr vfs_get_syscall(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return base_vfs->xGetSystemCall(base_vfs, name);
}
static const char *vfs_next_syscall(sqlite3_vfs *v, const char *name)
{
    (void)v;
    return base_vfs->xNextSystemCall(base_vfs, name);
}

static void vfs_register(void)
{
    sqlite3_vfs *b = sqlite3_vfs_find(NULL);
    /* Every method of a version-3 VFS is forwarded; an older default VFS is not wrapped. */
    if (!b || b->iVersion < 3 || !b->xCurrentTimeInt64 || !b->xSetSystemCall) return;
    base_vfs = b;
    store_vfs = (sqlite3_vfs){
        .iVersion = 3,
        .szOsFile = (int)REAL_OFFSET + b->szOsFile,
        .mxPathname = b->mxPathname,
        .zName = "dwf-store",
        .xOpen = vfs_open,
        .xDelete = vfs_delete,
        .xAccess = vfs_access,
        .xFullPathname = vfs_full_pathname,
        .xDlOpen = vfs_dlopen,
        .xDlError = vfs_dlerror,
        .xDlSym = vfs_dlsym,
        .xDlClose = vfs_dlclose,
        .xRandomness = vfs_randomness,
        .xSleep = vfs_sleep,
        .xCurrentTime = vfs_current_time,
        .xGetLastError = vfs_last_error,
        .xCurrentTimeInt64 = vfs_current_time64,
        .xSetSystemCall = vfs_set_syscall,
        .xGetSystemCall = vfs_get_syscall,
        .xNextSystemCall = vfs_next_syscall,
    };
    if (sqlite3_vfs_register(&store_vfs, 0) != SQLITE_OK) base_vfs = NULL;
}

const char *dwf__store_vfs(void)
{
    pthread_once(&vfs_once, vfs_register);
    return base_vfs ? store_vfs.zName : NULL;
}

/* db's log, when it is one of ours (its file controls answer the private ones). */
static int log_control(sqlite3 *db, int op, void *arg)
{
    sqlite3_file *f = NULL;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) != SQLITE_OK || !f || !f->pMethods ||
        f->pMethods->xFileControl == NULL)
        return -1;
    /* store_file.c's copy of these methods (the kept log) forwards file controls here too. */
    if (f->pMethods != &log_methods && f->pMethods->xFileControl != log_file_control) return -1;
    return log_file_control(f, op, arg) == SQLITE_OK ? 0 : -1;
}

int dwf__store_vfs_stats_of(sqlite3 *db, dwf__store_vfs_stats *out)
{
    memset(out, 0, sizeof *out);
    return log_control(db, FCNTL_STATS, out);
}

int dwf__store_vfs_fail_next(sqlite3 *db, int rc) { return log_control(db, FCNTL_FAIL_NEXT, &rc); }
