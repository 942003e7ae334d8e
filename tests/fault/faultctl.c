/*
 * faultctl.c: the fault-injection suite's helper (tests/fault/run.sh builds it with cc).
 *
 * The suite's script decides what to run and when to kill; this program does the parts that
 * need precision or a real JSON/SQL reader, so the script needs neither jq nor sqlite3:
 *
 *   faultctl run MS [--after-lines N LOG] CMD...
 *                                 run CMD; SIGKILL it MS milliseconds after it started (or,
 *                                 with --after-lines, after LOG gained N effect lines) if it
 *                                 is still running (MS < 0: never). Exit status: CMD's, or 137
 *                                 when this program killed it. Polls every millisecond, so
 *                                 the kill instant is what was drawn, not what a shell sleep
 *                                 gives.
 *   faultctl state STORE          "STATUS INV_OPEN ARN CALLBACK OWNER SUCCEEDED" of the
 *                                 execution (CALLBACK: an OPEN callback id or "-"; OWNER: the
 *                                 open invocation's "host:pid" or "-"; SUCCEEDED as below),
 *                                 or "NONE - - - - -"
 *   faultctl waitlines LOG N MS   wait until LOG holds N effect lines (at most MS ms)
 *   faultctl bump STORE MS        let MS pass for the open invocations (they began MS earlier):
 *                                 it stands for the 30 s after which the engine re-runs an
 *                                 open invocation whose owner it cannot see
 *   faultctl owner STORE OWNER    set the open invocation's owner ("host:pid")
 *   faultctl succeeded STORE      "name:attempt,..." of the SUCCEEDED steps ("-" if none)
 *   faultctl result STORE         "STATUS RESULT" with the result's "timestamp" and
 *                                 "notifiedAt" members removed (an uninterrupted run and an
 *                                 interrupted one differ only there)
 *   faultctl checklog LOG STORE AMO  check the effect log against the store (see checklog())
 *
 * It reads the store's tables directly (docs/engine.md, "The store"); only state-reading
 * queries, except `bump` and `owner`, which the script runs only while no dwf process uses
 * the store.
 */
#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

static int die(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "faultctl: ");
    fprintf(stderr, fmt, a, b);
    fputc('\n', stderr);
    return 2;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- run ---------------------------------------------------------------------------------- */
/* Effect lines (not "#seg" markers) in `path`; re-counted only when the file grew. */
static long effect_lines(const char *path, long *size, long *count)
{
    struct stat sb;
    if (stat(path, &sb) != 0 || sb.st_size == *size) return *count;
    FILE *f = fopen(path, "r");
    if (!f) return *count;
    char line[2048];
    long n = 0;
    int bol = 1;
    while (fgets(line, sizeof line, f)) {
        if (bol && line[0] != '#' && line[0] != '\n') n++;
        bol = strchr(line, '\n') != NULL;
    }
    fclose(f);
    *size = (long)sb.st_size;
    *count = n;
    return n;
}

/* waitlines FILE N MS: wait until FILE holds N effect lines, at most MS milliseconds. */
static int cmd_waitlines(const char *file, const char *n_text, const char *ms_text)
{
    long n = strtol(n_text, NULL, 10), size = -1, count = 0;
    double ms = strtod(ms_text, NULL), start = mono_ms();
    while (effect_lines(file, &size, &count) < n && mono_ms() - start < ms) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* run MS [--after-lines N FILE] CMD... */
static int cmd_run(int argc, char **argv)
{
    if (argc < 2) return die("run MS [--after-lines N FILE] CMD...%s%s", "", "");
    char *end;
    double ms = strtod(argv[0], &end);
    if (*end) return die("run: '%s' is not milliseconds%s", argv[0], "");
    argc--, argv++;
    long after = 0, size = -1, count = 0, base = 0;
    const char *file = NULL;
    if (argc >= 3 && strcmp(argv[0], "--after-lines") == 0) {
        after = strtol(argv[1], &end, 10);
        if (*end || after < 0) return die("run: '%s' is not a line count%s", argv[1], "");
        file = argv[2];
        argc -= 3, argv += 3;
        base = effect_lines(file, &size, &count);
    }
    if (argc < 1) return die("run: no command%s%s", "", "");
    double start = mono_ms();
    pid_t pid = fork();
    if (pid < 0) return die("fork: %s%s", strerror(errno), "");
    if (pid == 0) {
        execvp(argv[0], argv);
        fprintf(stderr, "faultctl: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st, killed = 0;
    double armed = file ? -1 : start; /* when the MS clock started */
    for (;;) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) break;
        if (w < 0 && errno != EINTR) return die("waitpid: %s%s", strerror(errno), "");
        if (armed < 0 && effect_lines(file, &size, &count) - base >= after) armed = mono_ms();
        if (!killed && ms >= 0 && armed >= 0 && mono_ms() - armed >= ms) {
            /* The child is not reaped yet, so this pid is still ours. */
            if (kill(pid, SIGKILL) == 0) killed = 1;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    if (WIFSIGNALED(st)) return killed && WTERMSIG(st) == SIGKILL ? 137 : 128 + WTERMSIG(st);
    return WEXITSTATUS(st);
}

/* ---- store access ------------------------------------------------------------------------------ */
static sqlite3 *open_store(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return NULL; /* no store yet: nothing was started */
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        fprintf(stderr, "faultctl: cannot open %s: %s\n", path, db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        exit(2);
    }
    sqlite3_busy_timeout(db, 10000);
    /* A process killed while it created the store leaves a file without tables: nothing was
     * started in it either. */
    sqlite3_stmt *q = NULL;
    int has = sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'operations'", -1, &q,
                                 NULL) == SQLITE_OK &&
              sqlite3_step(q) == SQLITE_ROW;
    sqlite3_finalize(q);
    if (!has) {
        sqlite3_close(db);
        return NULL;
    }
    return db;
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *q = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &q, NULL) != SQLITE_OK) {
        fprintf(stderr, "faultctl: %s: %s\n", sql, sqlite3_errmsg(db));
        sqlite3_close(db);
        exit(2);
    }
    return q;
}

static const char *col(sqlite3_stmt *q, int i)
{
    const unsigned char *t = sqlite3_column_text(q, i);
    return t ? (const char *)t : "";
}

/* The root execution of the store (each trial has its own store with one execution). */
static sqlite3_stmt *root_exec(sqlite3 *db)
{
    return prep(db, "SELECT id, arn, status, inv_open, result, error, inv_owner FROM executions"
                    " WHERE parent_arn IS NULL ORDER BY start_ms LIMIT 1");
}

static void print_succeeded(void *arg, const char *name, int attempt);
static int each_succeeded(sqlite3 *db, void (*fn)(void *, const char *, int), void *arg);

static int cmd_state(const char *path)
{
    sqlite3 *db = open_store(path);
    if (!db) return puts("NONE - - - - -") < 0;
    sqlite3_stmt *q = root_exec(db);
    if (sqlite3_step(q) != SQLITE_ROW) {
        puts("NONE - - - - -");
    } else {
        sqlite3_stmt *c = prep(db, "SELECT callback_id FROM callbacks WHERE exec_id = ?1 AND state = 'OPEN' LIMIT 1");
        sqlite3_bind_text(c, 1, col(q, 0), -1, SQLITE_TRANSIENT);
        int has = sqlite3_step(c) == SQLITE_ROW;
        const char *owner = col(q, 6);
        printf("%s %d %s %s %s ", col(q, 2), sqlite3_column_int(q, 3), col(q, 1), has ? col(c, 0) : "-",
               *owner && !strchr(owner, ' ') ? owner : "-");
        sqlite3_finalize(c);
        int first = 1;
        each_succeeded(db, print_succeeded, &first);
        puts(first ? "-" : "");
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return 0;
}

/* Make the open invocation look owned by `owner` (e.g. a runner on another host). */
static int cmd_owner(const char *path, const char *owner)
{
    sqlite3 *db = open_store(path);
    if (!db) return die("owner: no store %s%s", path, "");
    sqlite3_stmt *q = prep(db, "UPDATE executions SET inv_owner = ?1 WHERE inv_open = 1");
    sqlite3_bind_text(q, 1, owner, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : die("owner: %s%s", sqlite3_errmsg(db), "");
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc;
}

static int cmd_bump(const char *path, const char *ms_text)
{
    char *end;
    double ms = strtod(ms_text, &end);
    if (*end || ms <= 0) return die("bump: '%s' is not milliseconds%s", ms_text, "");
    sqlite3 *db = open_store(path);
    if (!db) return die("bump: no store %s%s", path, "");
    /* The stale rule counts real time since the invocation began (inv_started_ms, on the
     * service's clock; no execution's virtual offset moves it): MS passing is the same as the
     * open invocation having begun MS earlier. */
    sqlite3_stmt *q = prep(db, "UPDATE executions SET inv_started_ms = inv_started_ms - ?1 WHERE inv_open = 1");
    sqlite3_bind_double(q, 1, ms);
    int rc = sqlite3_step(q) == SQLITE_DONE ? 0 : die("bump: %s%s", sqlite3_errmsg(db), "");
    sqlite3_finalize(q);
    sqlite3_close(db);
    return rc;
}

/* Calls fn(name, attempt) for each SUCCEEDED STEP of the root execution (root_exec()'s). */
static int each_succeeded(sqlite3 *db, void (*fn)(void *, const char *, int), void *arg)
{
    sqlite3_stmt *q = prep(db, "SELECT json FROM operations WHERE type = 'STEP' AND status = 'SUCCEEDED' AND exec_no ="
                               " (SELECT no FROM executions WHERE parent_arn IS NULL ORDER BY start_ms LIMIT 1)"
                               " ORDER BY start_seq");
    int n = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        cJSON *op = cJSON_Parse(col(q, 0));
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(op, "Name");
        const cJSON *att = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(op, "StepDetails"), "Attempt");
        if (cJSON_IsString(name)) {
            fn(arg, name->valuestring, cJSON_IsNumber(att) ? att->valueint : 0);
            n++;
        }
        cJSON_Delete(op);
    }
    sqlite3_finalize(q);
    return n;
}

static void print_succeeded(void *arg, const char *name, int attempt)
{
    int *first = arg;
    printf("%s%s:%d", *first ? "" : ",", name, attempt);
    *first = 0;
}

static int cmd_succeeded(const char *path)
{
    sqlite3 *db = open_store(path);
    int first = 1;
    if (db) each_succeeded(db, print_succeeded, &first);
    puts(first ? "-" : "");
    sqlite3_close(db);
    return 0;
}

/* Drop the members that differ between any two runs: when a step ran, not what it returned. */
static void strip_times(cJSON *v)
{
    for (cJSON *c = v ? v->child : NULL, *next; c; c = next) {
        next = c->next;
        if (cJSON_IsObject(v) && c->string &&
            (strcmp(c->string, "timestamp") == 0 || strcmp(c->string, "notifiedAt") == 0))
            cJSON_Delete(cJSON_DetachItemViaPointer(v, c));
        else
            strip_times(c);
    }
}

static int cmd_result(const char *path)
{
    sqlite3 *db = open_store(path);
    if (!db) return puts("NONE -") < 0;
    sqlite3_stmt *q = root_exec(db);
    if (sqlite3_step(q) != SQLITE_ROW) {
        puts("NONE -");
    } else {
        const char *text = sqlite3_column_type(q, 4) != SQLITE_NULL ? col(q, 4) : col(q, 5);
        cJSON *r = cJSON_Parse(text);
        strip_times(r);
        char *out = r ? cJSON_PrintUnformatted(r) : NULL;
        printf("%s %s\n", col(q, 2), out ? out : *text ? text : "-");
        free(out);
        cJSON_Delete(r);
    }
    sqlite3_finalize(q);
    sqlite3_close(db);
    return 0;
}

/* ---- checklog ------------------------------------------------------------------------------------ */
/*
 * The effect log holds, in the order things happened:
 *   "#seg <what> <name:attempt,...|->"  written by run.sh before it starts each dwf process:
 *                                       the steps whose SUCCEEDED was committed at that
 *                                       moment, read from the store just before
 *   "<execution>/<step>/<attempt>"      written by effect() each time a step body really ran
 *   "VIOLATION <execution>/<step>/<attempt>"  effect() found the step's SUCCEEDED already
 *                                       committed when the body started
 *   "ERROR ..."                         effect() could not read the store
 *
 * Why this is a sound test of "a step whose success was committed never runs again", while
 * at-least-once may legitimately run a body twice (a kill after the body's effect but before
 * its SUCCEED commit):
 *  1. VIOLATION lines compare commit order and run order at the instant of each run, inside a
 *     process as well: the body started after its SUCCEEDED was durable. No legitimate re-run
 *     can produce one, since a re-run needs the SUCCEED to be missing from the store.
 *  2. Independently of effect()'s own query: a run logged after a "#seg" marker whose list
 *     holds that step started after that step's success was committed (the list is read from
 *     the store before the marker is written). This holds whoever ran it, so also when the
 *     script starts `dwf resume`s beside a running `dwf run` (cc trials); otherwise it reaps
 *     each process before the next starts, and the rule says "no later process re-ran it".
 *  3. For each step, attempt numbers in the log never go down: a run of attempt n after a run
 *     of attempt n+1 means a committed RETRY was forgotten (a re-run after a kill repeats the
 *     same attempt, never an older one).
 *  4. At the end, each SUCCEEDED step with Attempt a in the store has at least one logged run
 *     of attempt a (its recorded result came from a body that really ran) and no run of a
 *     later attempt (that could only start after the success).
 *  5. An at_most_once step (the AMO list) never has two runs of one attempt: its START is
 *     committed before the body runs, so after a kill the attempt counts as interrupted and
 *     the next run is a new attempt.
 * A logged step that never SUCCEEDED in a SUCCEEDED execution is a problem too.
 */
typedef struct Run {
    char step[256];
    int attempt, count;
} Run;

typedef struct Log {
    Run runs[256]; /* per (step, attempt) */
    int nruns;
    char succ[4096]; /* the current marker's list, ",a:1,b:2," */
    int problems, lines, reruns, amo_runs, amo_retries;
} Log;

static void problem(Log *L, const char *what, const char *line)
{
    printf("problem: %s: %s\n", what, line);
    L->problems++;
}

static Run *run_of(Log *L, const char *step, int attempt)
{
    for (int i = 0; i < L->nruns; i++)
        if (L->runs[i].attempt == attempt && strcmp(L->runs[i].step, step) == 0) return &L->runs[i];
    if (L->nruns == (int)(sizeof L->runs / sizeof L->runs[0])) return NULL;
    Run *r = &L->runs[L->nruns++];
    snprintf(r->step, sizeof r->step, "%s", step);
    r->attempt = attempt;
    r->count = 0;
    return r;
}

static int in_list(const char *list, const char *step)
{
    char pat[300];
    snprintf(pat, sizeof pat, ",%s:", step);
    return strstr(list, pat) != NULL;
}

typedef struct Final {
    Log *L;
    char names[4096]; /* ",a:1,b:2," of the final store */
    size_t len;
    int nsucc;
} Final;

static void check_final(void *arg, const char *name, int attempt)
{
    Final *f = arg;
    Log *L = f->L;
    char what[400];
    f->nsucc++;
    if (f->len == 1) f->names[0] = ',';
    int w = snprintf(f->names + f->len, sizeof f->names - f->len, "%s:%d,", name, attempt);
    if (w > 0 && (size_t)w < sizeof f->names - f->len) f->len += (size_t)w;
    int ran = 0;
    for (int i = 0; i < L->nruns; i++) {
        Run *r = &L->runs[i];
        if (strcmp(r->step, name) != 0) continue;
        if (r->attempt == attempt) ran = 1;
        if (r->attempt > attempt) {
            snprintf(what, sizeof what, "%s succeeded on attempt %d but attempt %d ran", name, attempt, r->attempt);
            problem(L, what, "final store");
        }
    }
    if (!ran) {
        snprintf(what, sizeof what, "%s succeeded on attempt %d but no run of that attempt is logged", name, attempt);
        problem(L, what, "final store");
    }
}

static int cmd_checklog(const char *logpath, const char *store, const char *amo_list)
{
    FILE *f = fopen(logpath, "r");
    if (!f) return die("cannot read %s: %s", logpath, strerror(errno));
    static Log L; /* 70 KB: keep it off the stack */
    memset(&L, 0, sizeof L);
    char amo[2048];
    snprintf(amo, sizeof amo, ",%s,", amo_list);
    char line[2048];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (strncmp(line, "#seg ", 5) == 0) {
            const char *list = strrchr(line, ' ') + 1;
            snprintf(L.succ, sizeof L.succ, ",%s,", list);
            continue;
        }
        if (strncmp(line, "VIOLATION ", 10) == 0) {
            problem(&L, "a step body ran after its SUCCEEDED was committed", line + 10);
            continue;
        }
        if (strncmp(line, "ERROR ", 6) == 0) {
            problem(&L, "effect() failed", line + 6);
            continue;
        }
        char *s1 = strchr(line, '/'), *s2 = strrchr(line, '/');
        if (!s1 || s1 == s2) {
            problem(&L, "malformed log line", line);
            continue;
        }
        *s2 = '\0';
        const char *step = s1 + 1;
        int attempt = atoi(s2 + 1);
        L.lines++;
        Run *r = run_of(&L, step, attempt);
        if (!r) {
            problem(&L, "too many distinct runs", step);
            continue;
        }
        char what[600];
        if (in_list(L.succ, step)) {
            snprintf(what, sizeof what, "%s attempt %d ran in a process started after its SUCCEEDED was committed", step, attempt);
            problem(&L, what, line);
        }
        for (int i = 0; i < L.nruns; i++)
            if (L.runs[i].attempt > attempt && L.runs[i].count > 0 && strcmp(L.runs[i].step, step) == 0) {
                snprintf(what, sizeof what, "%s attempt %d ran after attempt %d", step, attempt, L.runs[i].attempt);
                problem(&L, what, line);
            }
        r->count++;
        char pat[300];
        snprintf(pat, sizeof pat, ",%s,", step);
        int is_amo = strstr(amo, pat) != NULL;
        if (is_amo) L.amo_runs++;
        if (is_amo && attempt > 1) L.amo_retries++; /* an earlier attempt was interrupted */
        if (r->count > 1) {
            if (is_amo) {
                snprintf(what, sizeof what, "at_most_once step %s ran twice in attempt %d", step, attempt);
                problem(&L, what, line);
            } else {
                L.reruns++;
            }
        }
    }
    fclose(f);
    sqlite3 *db = open_store(store);
    if (!db) return die("no store %s%s", store, "");
    Final fin = {&L, {0}, 1, 0};
    each_succeeded(db, check_final, &fin);
    sqlite3_close(db);
    for (int i = 0; i < L.nruns; i++)
        if (!in_list(fin.names, L.runs[i].step)) problem(&L, "a step ran but never SUCCEEDED", L.runs[i].step);
    printf("runs=%d steps=%d at_least_once_reruns=%d at_most_once_runs=%d at_most_once_retries=%d\n", L.lines, fin.nsucc,
           L.reruns, L.amo_runs, L.amo_retries);
    return L.problems ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "run") == 0) return cmd_run(argc - 2, argv + 2);
    if (argc == 3 && strcmp(argv[1], "state") == 0) return cmd_state(argv[2]);
    if (argc == 5 && strcmp(argv[1], "waitlines") == 0) return cmd_waitlines(argv[2], argv[3], argv[4]);
    if (argc == 4 && strcmp(argv[1], "bump") == 0) return cmd_bump(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "owner") == 0) return cmd_owner(argv[2], argv[3]);
    if (argc == 3 && strcmp(argv[1], "succeeded") == 0) return cmd_succeeded(argv[2]);
    if (argc == 3 && strcmp(argv[1], "result") == 0) return cmd_result(argv[2]);
    if (argc == 5 && strcmp(argv[1], "checklog") == 0) return cmd_checklog(argv[2], argv[3], argv[4]);
    fprintf(stderr, "usage: faultctl run MS [--after-lines N LOG] CMD... | state STORE | bump STORE MS |"
                    " owner STORE OWNER | waitlines LOG N MS | succeeded STORE |"
                    " result STORE | checklog LOG STORE AMO_STEPS\n");
    return 2;
}
