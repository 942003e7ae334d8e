/*
 * store_file.c: what the store checks about its files, so that no failure outside SQLite's
 * view loses an execution silently or hides behind "unable to open database file".
 *
 * Before SQLite opens the store (dwf__storefile_precheck):
 *   - the path names a regular file (or nothing yet) and the process may write it and its
 *     directory, where SQLite keeps PATH-wal and PATH-shm: else StoreReadOnlyException, before
 *     anything is created;
 *   - a PATH-wal left beside it (after a crash, or copied there) is one this SQLite can read and
 *     belongs to this store. SQLite refuses a write-ahead log of another format version with
 *     "unable to open database file", and it replays any other database's log over this one
 *     without a word (the store then silently becomes the other one). So the log's header is
 *     read here: its format version, its page size against the store's, and, in the newest
 *     committed image of page 1 it holds, the store's id (the header's application_id, a random
 *     number dwf gives every store) against the one in the store file.
 * While the store is open (dwf__storefile_same, at each transaction's COMMIT, before SQLite
 * writes it: store.c): the path still names the very file SQLite has open (device and inode),
 * and so does PATH-wal. SQLite itself
 * keeps writing to a deleted or replaced file and reports success, so a run whose store was
 * removed would end SUCCEEDED in a file nobody can read again; and a run whose -wal was removed
 * would commit every checkpoint into a log no other process sees (a `dwf resume` after a crash
 * would find none of them). SQLite keeps the -wal it opened until the connection closes (it
 * removes PATH-wal only then, and only as the store's last connection), so while this process
 * has the store open, PATH-wal naming another file (or none) is never SQLite's doing.
 * If an open that created the store fails (a full disk), dwf__storefile_discard removes what it
 * created, so nothing is left behind.
 * The log is kept at its working size (store.c, log_keep): dwf__storefile_size_log writes it
 * there with zeros once, and dwf__storefile_keep_log makes SQLite's truncation of it to nothing
 * (its clean close of a persisted log) zero its header instead, so the blocks stay and the next
 * open finds an empty log (dwf__storefile_log_live: nothing to replay nor flush).
 *
 * The write-ahead log format is SQLite's documented file format (https://sqlite.org/fileformat2.html,
 * "WAL file format"); SQLite has no API to look at a log before opening it, hence these reads.
 */
#include "fs.h"
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define WAL_MAGIC 0x377f0682u      /* | 1: checksums in big-endian words */
#define WAL_VERSION 3007000u
#define WAL_HEADER 32
#define WAL_FRAME_HEADER 24
#define DB_HEADER 100

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | (uint32_t)p[0];
}

/* SQLite's WAL checksum over the header's first 24 bytes: only a header whose checksum holds is
 * one SQLite uses (it ignores, and later overwrites, any other). */
static int wal_header_valid(const unsigned char h[WAL_HEADER])
{
    int big = (be32(h) & 1) != 0;
    uint32_t s1 = 0, s2 = 0;
    for (int i = 0; i < 24; i += 8) {
        uint32_t x0 = big ? be32(h + i) : le32(h + i), x1 = big ? be32(h + i + 4) : le32(h + i + 4);
        s1 += x0 + s2;
        s2 += x1 + s1;
    }
    return s1 == be32(h + 24) && s2 == be32(h + 28);
}

static int read_at(int fd, void *buf, size_t n, off_t at)
{
    ssize_t r = pread(fd, buf, n, at);
    return r == (ssize_t)n ? 0 : -1;
}

/* The store file's header: its page size and id (0 when the file is not an SQLite database
 * yet, or too short: SQLite then decides). */
static void db_header(const char *path, uint32_t *page_size, uint32_t *id)
{
    *page_size = 0;
    *id = 0;
    unsigned char h[DB_HEADER];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    if (read_at(fd, h, sizeof h, 0) == 0 && memcmp(h, "SQLite format 3", 16) == 0) {
        uint32_t ps = (uint32_t)h[16] << 8 | h[17];
        *page_size = ps == 1 ? 65536 : ps;
        *id = be32(h + 68);
    }
    close(fd);
}

/* The store id in the newest committed image of page 1 the log holds; 0 when it holds none.
 * Frames count while they carry the header's salts (older ones are left-overs of a previous
 * round of the log), and an image counts once a commit frame follows it. */
static uint32_t wal_page1_id(int fd, const unsigned char h[WAL_HEADER], uint32_t page_size, off_t size)
{
    off_t frame = (off_t)WAL_FRAME_HEADER + page_size, at = WAL_HEADER, last_p1 = -1, committed_p1 = -1;
    unsigned char fh[WAL_FRAME_HEADER];
    for (; at + frame <= size; at += frame) {
        if (read_at(fd, fh, sizeof fh, at) != 0 || memcmp(fh + 8, h + 16, 8) != 0) break;
        if (be32(fh) == 1) last_p1 = at;
        if (be32(fh + 4) != 0) committed_p1 = last_p1;
    }
    unsigned char id[4];
    if (committed_p1 < 0 || read_at(fd, id, sizeof id, committed_p1 + WAL_FRAME_HEADER + 68) != 0) return 0;
    return be32(id);
}

/* PATH-wal, if there is one SQLite would use: the format version, the page size and the id;
 * without the store file (`exists` 0), any such log is left from a deleted store. */
static int wal_check(const char *path, int exists, dwf_error *err)
{
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof wal, "%s-wal", path);
    int fd = open(wal, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return 0; /* none (or not a file: SQLite says so) */
    struct stat sb;
    unsigned char h[WAL_HEADER];
    int rc = 0;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < WAL_HEADER || read_at(fd, h, sizeof h, 0) != 0 ||
        (be32(h) & ~1u) != WAL_MAGIC || !wal_header_valid(h)) {
        close(fd);
        return 0; /* empty, or nothing SQLite would replay */
    }
    uint32_t db_ps = 0, db_id = 0, wal_ps = be32(h + 8);
    if (exists) db_header(path, &db_ps, &db_id);
    if (!exists) {
        /* SQLite would make a new, empty store and replay the old one's log over it. */
        dwf__store_err(err, DWF_ERRORTYPE_STORE_CORRUPT,
                       "the write-ahead log %s is there without its store %s: it is what is left of a deleted "
                       "store, and SQLite would replay it over a new one. Nothing was changed; remove it (and "
                       "%s-shm) to start a new store there",
                       wal, path, path);
        rc = -1;
    } else if (be32(h + 4) != WAL_VERSION) {
        dwf__store_err(err, DWF_ERRORTYPE_STORE_CORRUPT,
                       "the store's write-ahead log %s has format version %u, which this dwf's SQLite %s does not "
                       "read (it writes %u): a newer SQLite wrote it, or it is not this store's; nothing was changed",
                       wal, be32(h + 4), sqlite3_libversion(), WAL_VERSION);
        rc = -1;
    } else if (db_ps && wal_ps != db_ps) {
        dwf__store_err(err, DWF_ERRORTYPE_STORE_CORRUPT,
                       "the write-ahead log %s belongs to another database (its pages are %u bytes, the store's %u): "
                       "SQLite would replay it over the store. Nothing was changed; if %s was replaced on purpose, "
                       "remove the log",
                       wal, wal_ps, db_ps, path);
        rc = -1;
    } else if (db_id && wal_ps >= 512 && wal_ps <= 65536) {
        uint32_t wal_id = wal_page1_id(fd, h, wal_ps, sb.st_size);
        if (wal_id && wal_id != db_id) {
            dwf__store_err(err, DWF_ERRORTYPE_STORE_CORRUPT,
                           "the write-ahead log %s belongs to another store (store id %08x, this store's %08x): "
                           "SQLite would replay it over the store. Nothing was changed; if %s was replaced on "
                           "purpose, remove the log",
                           wal, wal_id, db_id, path);
            rc = -1;
        }
    }
    close(fd);
    return rc;
}

/* EACCES, EROFS, EPERM: the process may not write there. */
static int denied(int e) { return e == EACCES || e == EROFS || e == EPERM; }

int dwf__storefile_precheck(const char *path, int *exists, dwf_error *err)
{
    struct stat sb;
    *exists = 0;
    if (!path || !*path)
        return dwf__store_err(err, DWF_ERRORTYPE_INVALID_PARAMETER_VALUE,
                              "the store path is empty (SQLite would make a temporary store that nothing outlives)");
    if (stat(path, &sb) == 0) {
        *exists = 1;
        if (!S_ISREG(sb.st_mode))
            return dwf__store_err(err, DWF_ERRORTYPE_INVALID_PARAMETER_VALUE, "the store %s is not a regular file",
                                  path);
        if (faccessat(AT_FDCWD, path, R_OK | W_OK, AT_EACCESS) != 0 && denied(errno))
            return dwf__store_err(err, DWF_ERRORTYPE_STORE_READ_ONLY,
                                  "the store %s cannot be written (%s); nothing was changed", path, strerror(errno));
    } else if (errno != ENOENT) {
        return dwf__store_err(err, DWF_ERRORTYPE_SERVICE, "cannot look at the store %s: %s", path, strerror(errno));
    }
    char dir[PATH_MAX];
    dwf__dirname(path, dir, sizeof dir);
    /* A missing directory is created by the caller (and failing that, named then). */
    if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) != 0 && denied(errno))
        return dwf__store_err(err, DWF_ERRORTYPE_STORE_READ_ONLY,
                              "the directory %s of the store %s cannot be written (%s): SQLite keeps the store's "
                              "-wal and -shm files beside it; nothing was changed",
                              dir, path, strerror(errno));
    return wal_check(path, *exists, err);
}

/* The device and inode (and size) of `path`, or of `fd` when path is NULL: statx asking for
 * those alone. A stat that returns the file's times marks its ctime as read, and Linux (6.13 on,
 * multigrain timestamps) then gives the next write a fine-grained time: the log's modification
 * time changed at every commit, which dirtied its inode, and each fdatasync wrote the inode too
 * (a second synchronous write: 0.14-0.19 ms instead of 0.10-0.12 ms for a 5-page overwrite and
 * its fdatasync, bench probe beside the store). Without the times the inode's timestamps move
 * at most once per clock tick, as when nobody looks. */
int dwf__storefile_id(int fd, const char *path, dev_t *dev, ino_t *ino, off_t *size)
{
    struct statx x;
    unsigned mask = STATX_INO | (size ? STATX_SIZE : 0);
    if (statx(path ? AT_FDCWD : fd, path ? path : "", path ? 0 : AT_EMPTY_PATH, mask, &x) != 0) return -1;
    *dev = makedev(x.stx_dev_major, x.stx_dev_minor);
    *ino = x.stx_ino;
    if (size) *size = (off_t)x.stx_size;
    return 0;
}

int dwf__storefile_identify(sqlite3 *db, const char *path, dwf__storefile *id, dwf_error *err)
{
    int moved = 0;
    if (dwf__storefile_id(-1, path, &id->dev, &id->ino, NULL) != 0 || sqlite3_file_control(db, "main", SQLITE_FCNTL_HAS_MOVED, &moved) != SQLITE_OK ||
        moved)
        return dwf__store_err(err, DWF_ERRORTYPE_STORE_REPLACED,
                              "the store %s was deleted or replaced while it was being opened; nothing was changed",
                              path);
    return 0;
}

int dwf__storefile_identify_wal(sqlite3 *db, const char *path, dwf__storefile *id, dwf_error *err)
{
    /* The log SQLite has open: JOURNAL_POINTER gives the pager's WAL file in WAL mode; a file
     * without methods is not open (then there is nothing to watch). */
    sqlite3_file *log = NULL;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &log) != SQLITE_OK || !log || !log->pMethods)
        return 0;
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof wal, "%s-wal", path);
    if (dwf__storefile_id(-1, wal, &id->wal_dev, &id->wal_ino, NULL) != 0)
        return dwf__store_err(err, DWF_ERRORTYPE_STORE_REPLACED,
                              "the store's write-ahead log %s was deleted while the store was being opened (%s); "
                              "nothing was changed",
                              wal, strerror(errno));
    id->has_wal = 1;
    return 0;
}

/* PATH-wal still names the log SQLite writes (see the header comment). */
static int wal_same(const char *path, const dwf__storefile *id, dwf_error *err)
{
    if (!id->has_wal) return 0;
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof wal, "%s-wal", path);
    dev_t dev;
    ino_t ino;
    if (dwf__storefile_id(-1, wal, &dev, &ino, NULL) != 0)
        return dwf__store_err(err, DWF_ERRORTYPE_STORE_REPLACED,
                              "the store's write-ahead log %s was deleted while this process had the store open (%s): "
                              "what it would commit now would be lost with the old log, so it stops here",
                              wal, strerror(errno));
    if (dev != id->wal_dev || ino != id->wal_ino)
        return dwf__store_err(err, DWF_ERRORTYPE_STORE_REPLACED,
                              "the store's write-ahead log %s was replaced by another file while this process had the "
                              "store open (inode %llu, now %llu): what it would commit now would be lost with the old "
                              "log, so it stops here",
                              wal, (unsigned long long)id->wal_ino, (unsigned long long)ino);
    return 0;
}

int dwf__storefile_same(const char *path, const dwf__storefile *id, dwf_error *err)
{
    dev_t dev;
    ino_t ino;
    if (dwf__storefile_id(-1, path, &dev, &ino, NULL) != 0)
        return dwf__store_err(err, DWF_ERRORTYPE_STORE_REPLACED,
                              "the store %s was deleted or moved while this process had it open (%s): what it "
                              "would write now would be lost with the old file, so it stops here",
                              path, strerror(errno));
    if (dev != id->dev || ino != id->ino)
        return dwf__store_err(err, DWF_ERRORTYPE_STORE_REPLACED,
                              "the store %s was replaced by another file while this process had it open (inode "
                              "%llu, now %llu): what it would write now would be lost with the old file, so it stops "
                              "here",
                              path, (unsigned long long)id->ino, (unsigned long long)ino);
    return wal_same(path, id, err);
}

void dwf__storefile_discard(const char *path, const char *made_dir)
{
    static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
    char p[PATH_MAX + 16];
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, suffixes[i]);
        unlink(p);
    }
    if (!made_dir || !*made_dir) return;
    /* The directories this open made, innermost first, up to the first that existed (rmdir
     * removes only empty ones, so nothing anyone else put there goes). */
    char dir[PATH_MAX];
    dwf__dirname(path, dir, sizeof dir);
    while (strlen(dir) >= strlen(made_dir) && strcmp(dir, ".") != 0 && strcmp(dir, "/") != 0) {
        if (rmdir(dir) != 0) break;
        if (strcmp(dir, made_dir) == 0) break;
        char up[PATH_MAX];
        dwf__dirname(dir, up, sizeof up);
        snprintf(dir, sizeof dir, "%s", up);
    }
}

int dwf__storefile_log_live(const char *path)
{
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof wal, "%s-wal", path);
    int fd = open(wal, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return errno != ENOENT; /* none; anything else is looked at as a live log */
    unsigned char h[WAL_HEADER];
    int live = read_at(fd, h, sizeof h, 0) == 0 && (be32(h) & ~1u) == WAL_MAGIC && wal_header_valid(h);
    close(fd);
    return live;
}

/* The log's file methods with one change: a truncation to nothing writes zeros over the header
 * instead (see dwf__storefile_keep_log). One copy for the process: every log the store's VFS
 * (store_vfs.c) opens has the same methods (`real`); a log with other methods is left alone. */
static pthread_mutex_t kept_mu = PTHREAD_MUTEX_INITIALIZER;
static const sqlite3_io_methods *real_methods;
static sqlite3_io_methods kept_methods;

static int kept_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    static const unsigned char zeros[WAL_HEADER];
    if (size > 0) return real_methods->xTruncate(f, size);
    return real_methods->xWrite(f, zeros, (int)sizeof zeros, 0);
}

int dwf__storefile_keep_log(sqlite3 *db)
{
    sqlite3_file *log = NULL;
    if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &log) != SQLITE_OK || !log || !log->pMethods)
        return 0;
    pthread_mutex_lock(&kept_mu);
    if (!real_methods) {
        real_methods = log->pMethods;
        kept_methods = *log->pMethods;
        kept_methods.xTruncate = kept_truncate;
    }
    int kept = log->pMethods == &kept_methods;
    if (log->pMethods == real_methods) {
        log->pMethods = &kept_methods;
        kept = 1;
    }
    pthread_mutex_unlock(&kept_mu);
    return kept;
}

int dwf__storefile_size_log(const char *path, const dwf__storefile *id, off_t bytes, off_t spare)
{
    char wal[PATH_MAX + 8];
    snprintf(wal, sizeof wal, "%s-wal", path);
    int fd = open(wal, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return 0;
    dev_t dev;
    ino_t ino;
    off_t size = 0;
    struct statvfs vs;
    int wrote = 0;
    /* Only the log SQLite has open, only when it is short, only with room to spare on its disk. */
    if (dwf__storefile_id(fd, NULL, &dev, &ino, &size) != 0 || !id->has_wal || dev != id->wal_dev ||
        ino != id->wal_ino || size >= bytes || fstatvfs(fd, &vs) != 0 ||
        (off_t)vs.f_bavail * (off_t)vs.f_frsize < spare) {
        close(fd);
        return size >= bytes && dev == id->wal_dev && ino == id->wal_ino;
    }
    static const unsigned char zeros[1 << 16];
    off_t at = size;
    while (at < bytes) {
        size_t n = bytes - at < (off_t)sizeof zeros ? (size_t)(bytes - at) : sizeof zeros;
        ssize_t w = pwrite(fd, zeros, n, at);
        if (w <= 0) break;
        at += w;
    }
    if (at >= bytes) {
        wrote = 1;
    } else {
        /* The disk filled meanwhile: back to the log's own size (zeros past its end would be
         * harmless, but they hold space a commit needs). */
        int rc = ftruncate(fd, size);
        (void)rc;
    }
    close(fd);
    return wrote;
}
