/*
 * test_rt_store_vfs.c: the store's VFS (service/store_vfs.c) on plain SQLite databases: the log it
 * leaves is SQLite's byte for byte (commits small and large, a transaction whose frames spill
 * and are rewritten, log restarts), a commit of several frames is one write, another connection
 * sees each commit as soon as it returns and a copy of the files (what a SIGKILL leaves) recovers
 * it, and a failed write fails the commit with nothing of it visible or recovered.
 * (test_rt_service.c has the store's own: its named error for a failed write.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>

#include "store_vfs.h"
#include "tinytest.h"

static char dir[256];

static void mkdir_tmp(void)
{
    snprintf(dir, sizeof dir, "/tmp/dwf_test_vfs_XXXXXX");
    if (!mkdtemp(dir)) dir[0] = '\0';
}

static void rm_tmp(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (dir[0] && system(cmd) != 0) printf("cleanup of %s failed\n", dir);
}

static sqlite3 *open_db(const char *name, const char *vfs)
{
    char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs) != SQLITE_OK) {
        printf("open %s: %s\n", p, db ? sqlite3_errmsg(db) : "?");
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static int run(sqlite3 *db, const char *sql)
{
    char *e = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &e);
    if (rc != SQLITE_OK && e) printf("sql (%s): %s\n", sql, e);
    sqlite3_free(e);
    return rc;
}

static long long q_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    long long v = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK && sqlite3_step(q) == SQLITE_ROW)
        v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

/* The whole file `name` in dir; NULL when there is none. */
static unsigned char *slurp(const char *name, long *len)
{
    char p[300];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    *len = 0;
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(n > 0 ? (size_t)n : 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) n = -1;
    fclose(f);
    *len = n;
    return b;
}

/* The files `a` and `b` in dir hold the same bytes (both missing counts as the same). */
static int same_file(const char *a, const char *b)
{
    long na, nb;
    unsigned char *x = slurp(a, &na), *y = slurp(b, &nb);
    int same = (!x && !y) || (x && y && na == nb && na >= 0 && memcmp(x, y, (size_t)na) == 0);
    if (!same) printf("%s (%ld bytes) and %s (%ld bytes) differ\n", a, na, b, nb);
    free(x);
    free(y);
    return same;
}

/* cp dir/from* dir/to* for the database and its log, as a SIGKILL now would leave them. */
static int copy_db(const char *from, const char *to)
{
    char cmd[2400];
    snprintf(cmd, sizeof cmd, "cp '%s/%s' '%s/%s' && cp '%s/%s-wal' '%s/%s-wal'", dir, from, dir, to, dir, from, dir, to);
    return system(cmd);
}

/* The rows of t and the sum of their lengths, through db (one number). */
static long long t_digest(sqlite3 *db) { return q_int(db, "SELECT count(*) * 1000000000 + total(length(v)) FROM t"); }

/* What each step of the byte-for-byte test runs, on both databases. The values are made from
 * the statement's own numbers (no randomblob), and SQLite's PRNG (the log's salts) is put back
 * before the plain database runs the same step. */
static const char *const steps[] = {
    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=60;"
    "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t(v); CREATE TABLE u(k INTEGER PRIMARY KEY, n);",
    /* small commits: a row, its index entry and a counter, 3 pages each */
    "INSERT INTO t(v) VALUES(printf('%.*c', 200, 'a')); INSERT INTO u(n) VALUES(1);",
    "BEGIN; INSERT INTO t(v) VALUES(printf('%.*c', 900, 'b')); UPDATE u SET n=n+1; COMMIT;",
    /* a large commit: ~100 pages, more than one write's worth (31 frames) */
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<120)"
    "  INSERT INTO t(v) SELECT printf('%d-%.*c', i, 1500 + i, 'c') FROM c;",
    /* a transaction larger than the page cache: frames spill before the commit, the second
     * update rewrites them in place, and the commit rewrites their checksums */
    "PRAGMA cache_size=8; BEGIN; UPDATE t SET v=v||'x'; UPDATE t SET v=v||'y'; UPDATE u SET n=n+1; COMMIT;"
    "PRAGMA cache_size=-2000;",
    "INSERT INTO t(v) VALUES('after the spill');",
    /* enough commits to cross wal_autocheckpoint: the log restarts (its header at 0, synced) */
    "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i<40)"
    "  INSERT INTO t(v) SELECT printf('%d-%.*c', i, 3000, 'd') FROM c;",
    "INSERT INTO t(v) VALUES('restarted'); UPDATE u SET n=n+1;",
    "DELETE FROM t WHERE k % 3 = 0;",
    "INSERT INTO t(v) VALUES('last');",
};

static void test_log_bytes_are_sqlites(void)
{
    mkdir_tmp();
    const char *vfs = dwf__store_vfs();
    TT_ASSERT(vfs != NULL);
    sqlite3 *a = open_db("a.db", vfs), *b = open_db("b.db", NULL);
    TT_ASSERT(a && b);
    if (!a || !b) goto out;
    dwf__store_vfs_stats st;
    int mismatched = 0;
    char seed[8];
    sqlite3_randomness(sizeof seed, seed); /* seeded before its state is saved */
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        dwf__store_vfs_stats before = {0}, after = {0};
        dwf__store_vfs_stats_of(a, &before);
        sqlite3_test_control(SQLITE_TESTCTRL_PRNG_SAVE);
        TT_EQ_INT(SQLITE_OK, run(a, steps[i]));
        dwf__store_vfs_stats_of(a, &after);
        if (i == 3) {
            /* the large commit: 31 frames of 4 KiB pages per write (128 KiB - 1 at most) */
            long long frames = after.frames - before.frames;
            TT_ASSERT(frames > 62);
            TT_EQ_INT((frames + 30) / 31, after.writes - before.writes);
        }
        sqlite3_test_control(SQLITE_TESTCTRL_PRNG_RESTORE);
        TT_EQ_INT(SQLITE_OK, run(b, steps[i]));
        /* as each commit returns: the log and the database, byte for byte */
        if (!same_file("a.db-wal", "b.db-wal") || !same_file("a.db", "b.db")) {
            printf("after step %zu\n", i);
            mismatched++;
        }
    }
    TT_EQ_INT(0, mismatched);
    TT_EQ_INT(t_digest(b), t_digest(a));
    TT_EQ_INT(0, dwf__store_vfs_stats_of(a, &st));
    TT_ASSERT(st.frames > 300); /* the steps went through the gathering path */
    TT_EQ_INT(-1, dwf__store_vfs_stats_of(b, &st)); /* SQLite's own log: not ours */
out:
    sqlite3_close(a);
    sqlite3_close(b);
    rm_tmp();
}

/* A commit of several frames is one write; a reader on its own connection sees each commit as
 * its COMMIT returns; a copy of the files recovers every commit (checksums rewritten after a
 * spill included). */
static void test_one_write_per_commit_and_readers_see_it(void)
{
    mkdir_tmp();
    sqlite3 *w = open_db("w.db", dwf__store_vfs()), *r = NULL;
    TT_ASSERT(w != NULL);
    if (!w) goto out;
    TT_EQ_INT(SQLITE_OK, run(w, steps[0]));
    TT_EQ_INT(SQLITE_OK, run(w, "PRAGMA wal_autocheckpoint=1000")); /* no restart meanwhile */
    r = open_db("w.db", NULL);
    TT_ASSERT(r != NULL);
    if (!r) goto out;
    long long rows = 0;
    for (int i = 0; i < 20; i++) {
        dwf__store_vfs_stats before, after;
        TT_EQ_INT(0, dwf__store_vfs_stats_of(w, &before));
        char sql[200];
        snprintf(sql, sizeof sql, "BEGIN; INSERT INTO t(v) VALUES(printf('%d-%%.*c', 700, 'e')); UPDATE u SET n=%d; COMMIT;",
                 i, i);
        if (i == 0) snprintf(sql, sizeof sql, "INSERT INTO u(n) VALUES(0); INSERT INTO t(v) VALUES('0');");
        TT_EQ_INT(SQLITE_OK, run(w, sql));
        rows++;
        TT_EQ_INT(0, dwf__store_vfs_stats_of(w, &after));
        if (i > 0) {
            TT_EQ_INT(1, after.writes - before.writes); /* one write ... */
            TT_ASSERT(after.frames - before.frames >= 3); /* ... of at least three frames */
        }
        TT_EQ_INT(rows, q_int(r, "SELECT count(*) FROM t"));
        TT_EQ_INT(i, q_int(r, "SELECT n FROM u"));
    }
    /* frames spilled and rewritten in place, then their checksums rewritten by the commit */
    TT_EQ_INT(SQLITE_OK, run(w, steps[4]));
    TT_EQ_INT(0, copy_db("w.db", "copy.db")); /* before anything else touches w's log */
    long long digest = t_digest(w), n = q_int(w, "SELECT n FROM u");
    TT_EQ_INT(20, n);
    TT_EQ_INT(digest, t_digest(r));
    sqlite3 *c = open_db("copy.db", NULL);
    TT_EQ_INT(digest, c ? t_digest(c) : -1);
    TT_EQ_INT(n, c ? q_int(c, "SELECT n FROM u") : -1);
    sqlite3_close(c);
out:
    sqlite3_close(r);
    sqlite3_close(w);
    rm_tmp();
}

/* A failed write of gathered frames (half of them written, then a full disk or an I/O error)
 * fails that COMMIT with SQLite's code; a reader never sees it, nor does recovery from the
 * files as they are then; the next commit goes on. */
static void failed_write(int code)
{
    mkdir_tmp();
    sqlite3 *w = open_db("w.db", dwf__store_vfs()), *r = NULL;
    TT_ASSERT(w != NULL);
    if (!w) goto out;
    TT_EQ_INT(SQLITE_OK, run(w, steps[0]));
    TT_EQ_INT(SQLITE_OK, run(w, steps[3])); /* 120 rows */
    r = open_db("w.db", NULL);
    long long digest = t_digest(w);
    TT_EQ_INT(0, dwf__store_vfs_fail_next(w, code));
    int rc = run(w, "BEGIN; INSERT INTO t(v) VALUES(printf('%.*c', 5000, 'f')); INSERT INTO u(n) VALUES(7); COMMIT;");
    TT_EQ_INT(code, sqlite3_extended_errcode(w));
    TT_EQ_INT(code & 0xff, rc);
    if (!sqlite3_get_autocommit(w)) run(w, "ROLLBACK");
    TT_EQ_INT(digest, t_digest(w));
    TT_EQ_INT(digest, r ? t_digest(r) : -1);
    TT_EQ_INT(0, copy_db("w.db", "copy.db"));
    sqlite3 *c = open_db("copy.db", NULL);
    TT_EQ_INT(digest, c ? t_digest(c) : -1);
    TT_EQ_INT(0, c ? q_int(c, "SELECT count(*) FROM u") : -1);
    sqlite3_close(c);
    /* the next commit is whole, where the failed one's half lies */
    TT_EQ_INT(SQLITE_OK, run(w, "INSERT INTO u(n) VALUES(8);"));
    TT_EQ_INT(8, r ? q_int(r, "SELECT total(n) FROM u") : -1);
    TT_EQ_INT(0, copy_db("w.db", "copy2.db"));
    c = open_db("copy2.db", NULL);
    TT_EQ_INT(8, c ? q_int(c, "SELECT total(n) FROM u") : -1);
    TT_EQ_INT(digest, c ? t_digest(c) : -1);
    sqlite3_close(c);
out:
    sqlite3_close(r);
    sqlite3_close(w);
    rm_tmp();
}
static void test_failed_write_full(void) { failed_write(SQLITE_FULL); }
static void test_failed_write_ioerr(void) { failed_write(SQLITE_IOERR_WRITE); }

int main(void)
{
    TT_RUN(test_log_bytes_are_sqlites);
    TT_RUN(test_one_write_per_commit_and_readers_see_it);
    TT_RUN(test_failed_write_full);
    TT_RUN(test_failed_write_ioerr);
    return TT_EXIT();
}
