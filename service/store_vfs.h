/*
 * store_vfs.h: the store's VFS (store_vfs.c): SQLite's default one with the write-ahead log's
 * frames of a commit gathered into one write. Internal to service/.
 */
#ifndef DWF_STORE_VFS_H
#define DWF_STORE_VFS_H

#include <sqlite3.h>

/* The name to open the store with (sqlite3_open_v2's zVfs), the VFS registered on the first
 * call; NULL (SQLite's default VFS) when there is no default VFS to put it over. */
const char *dwf__store_vfs(void);

/* What the log of one connection went through (tests and benches). */
typedef struct dwf__store_vfs_stats {
    long long writes;   /* writes handed to the default VFS (each one pwrite) */
    long long frames;   /* frames gathered (header and page) */
    long long gathered; /* writes that carried gathered frames */
} dwf__store_vfs_stats;

/* The counters of db's log: 0, or -1 when db has no log open through this VFS. */
int dwf__store_vfs_stats_of(sqlite3 *db, dwf__store_vfs_stats *out);

/* Tests: the next write of gathered frames on db's log writes half of them and fails with the
 * SQLite result code rc (SQLITE_FULL, SQLITE_IOERR_WRITE), as a short write then a full disk
 * or an I/O error would. 0, or -1 when db has no log open through this VFS. */
int dwf__store_vfs_fail_next(sqlite3 *db, int rc);

#endif
