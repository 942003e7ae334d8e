/*
 * effects.c: the side effect the fault-injection suite counts (tests/fault/run.sh).
 *
 * Every step of the fault variants (tests/fault/<workflow>.dwf) starts with
 *     call effect(trial, "<step name>", attempt, HOLD_MS)
 * which appends the line "<execution>/<step>/<attempt>" to the file named by $DWF_FAULT_LOG,
 * fsyncs it, then holds HOLD_MS milliseconds before the body goes on to return. The log is the
 * outside world's record of every time a step body really ran; the hold widens the window
 * between "the effect happened" and "its SUCCEED checkpoint is committed", so random SIGKILLs
 * often land in it (the window where at-least-once legitimately runs a body twice).
 *
 * Before it writes, it also asks the store ($DWF_FAULT_STORE, opened as a second SQLite
 * connection: WAL readers never wait for the engine's writer) whether a SUCCEEDED record of
 * this very step is already committed. If so the body is running after its success was
 * durable, which must never happen; it then writes an extra line "VIOLATION <line>" that the
 * checker turns into a failure. This compares the commit order with the effect order at the
 * instant of the run, inside a process as well as across processes. It reads the store's
 * tables directly (docs/engine.md "The store"), which is fine for a test helper and nowhere
 * else. The sqlite3_* symbols resolve to the libsqlite3 the `dwf` binary itself loads.
 */
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dwf.h"

/* 1 if the store holds SUCCEEDED for STEP `step` of execution `exec`, 0 if not, -1 on error. */
static int already_succeeded(const char *store, const char *exec, const char *step, char *why, size_t n)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *q = NULL;
    int r = -1;
    if (sqlite3_open_v2(store, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf(why, n, "cannot open %s: %s", store, db ? sqlite3_errmsg(db) : "out of memory");
        goto out;
    }
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db,
                           "SELECT count(*) FROM operations o JOIN executions e ON e.no = o.exec_no"
                           " WHERE e.name = ?1 AND o.type = 'STEP' AND o.status = 'SUCCEEDED'"
                           " AND json_extract(o.json, '$.Name') = ?2",
                           -1, &q, NULL) != SQLITE_OK ||
        sqlite3_bind_text(q, 1, exec, -1, SQLITE_STATIC) != SQLITE_OK ||
        sqlite3_bind_text(q, 2, step, -1, SQLITE_STATIC) != SQLITE_OK) {
        snprintf(why, n, "query on %s: %s", store, sqlite3_errmsg(db));
        goto out;
    }
    if (sqlite3_step(q) != SQLITE_ROW) {
        snprintf(why, n, "query on %s: %s", store, sqlite3_errmsg(db));
        goto out;
    }
    r = sqlite3_column_int(q, 0) > 0;
out:
    sqlite3_finalize(q);
    sqlite3_close(db);
    return r;
}

/* Append `line` and make it durable before going on: the effect must survive the SIGKILL that
 * may follow at once. O_APPEND keeps lines of concurrent branches whole. */
static int append_line(const char *path, const char *line, char *why, size_t n)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(why, n, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = strlen(line), off = 0;
    while (off < len) {
        ssize_t w = write(fd, line + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            snprintf(why, n, "cannot write %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        snprintf(why, n, "cannot fsync %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    if (close(fd) != 0) {
        snprintf(why, n, "cannot close %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* effect(execution, step, attempt, hold_ms) -> true */
cJSON *effect(dwf_ctx *c, int argc, cJSON *const *argv)
{
    if (argc != 4 || !cJSON_IsString(argv[0]) || !cJSON_IsString(argv[1]) || !cJSON_IsNumber(argv[2]) ||
        !cJSON_IsNumber(argv[3]) || argv[3]->valuedouble < 0) {
        dwf_fail(c, "TypeError", "effect(execution, step, attempt, hold_ms) takes two strings and two numbers");
        return NULL;
    }
    const char *log = getenv("DWF_FAULT_LOG"), *store = getenv("DWF_FAULT_STORE");
    if (!log || !*log) {
        dwf_fail(c, "EffectLogUnset", "DWF_FAULT_LOG names no file");
        return NULL;
    }
    char line[1024], why[600];
    int n = snprintf(line, sizeof line, "%s/%s/%d\n", argv[0]->valuestring, argv[1]->valuestring,
                     (int)argv[2]->valuedouble);
    if (n < 0 || (size_t)n >= sizeof line) {
        dwf_fail(c, "EffectLogError", "execution or step name too long");
        return NULL;
    }
    if (store && *store) {
        int done = already_succeeded(store, argv[0]->valuestring, argv[1]->valuestring, why, sizeof why);
        char vline[1100];
        if (done < 0) snprintf(vline, sizeof vline, "ERROR store check: %s\n", why);
        else snprintf(vline, sizeof vline, "VIOLATION %s", line);
        if (done != 0 && append_line(log, vline, why, sizeof why) != 0) {
            dwf_failf(c, "EffectLogError", "%s", why);
            return NULL;
        }
    }
    if (append_line(log, line, why, sizeof why) != 0) {
        dwf_failf(c, "EffectLogError", "%s", why);
        return NULL;
    }
    long ms = (long)argv[3]->valuedouble;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
    return cJSON_CreateTrue();
}
