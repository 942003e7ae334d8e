/*
 * store.c: the SQLite store under the durable execution service (see store.h for
 * the schema).
 *
 * Durability comes from SQLite and one flush: WAL mode, synchronous=NORMAL with the log flushed
 * by the group commit before a call answers (store_sync.c), and one transaction per batch of
 * service calls, each call under its own savepoint in it (BEGIN IMMEDIATE, so a writer takes the
 * lock up front and a writer in another process waits busy_timeout instead of failing halfway). Failures that a user can cause from outside
 * (a file that is not a database, a store another process holds locked) become named errors
 * with the path in the message, so the CLI and the HTTP server can report them plainly; the
 * store is left as it was because nothing is written before the first successful statement.
 */
#include "fs.h"
#include "store.h"
#include "store_vfs.h"

#include <errno.h>
#include <pthread.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sys/random.h>

/* Prepared statements are kept for reuse: compiling the same SQL on every call was 43% of a
 * checkpoint's CPU (bench/RESULTS.md). Entries are keyed by the SQL text; one in use by a
 * caller is `busy` and a second concurrent user of the same text gets a private statement. */
#define STMT_CACHE 96
/* "The store is as it was when I looked" (store_mark, below "the store unchanged since"): what
 * the caches between calls rest on. */
typedef struct {
    int valid;
    sqlite3_int64 changes;   /* sqlite3_total_changes64 at the mark, moved past the writes carried */
    sqlite3_int64 version;   /* PRAGMA data_version at the mark */
    unsigned long long undos; /* st->undos at the mark */
} store_mark;

struct dwf__store {
    sqlite3 *db;
    char path[PATH_MAX];
    dwf__storefile file; /* the file SQLite has open: the path must still name it */
    int in_memory;       /* ":memory:" (dwf test): no file, so none of the file's checks */
    pthread_mutex_t mu;
    int ncache;
    struct {
        char *sql;
        const char *text; /* the caller's pointer it was last found by: compared first */
        sqlite3_stmt *q;
        int busy;
    } cache[STMT_CACHE];
    long long vm_steps, fullscan_steps; /* work done by finished statements (dwf__store_work) */
    dwf__sync *sync;                    /* group commit: the flush after COMMIT (store_sync.c) */
    int in_call;                        /* a call's savepoint is open (batches: store_sync.c) */
    unsigned char token_key[DWF__TOKEN_KEY_LEN]; /* meta's token_key: the MAC key of checkpoint tokens */
    off_t log_bytes; /* the log's working size (log_open), 0: not kept */
    int log_state;   /* LOG_* */
    /* The rows a call wrote last, kept for the next call (row_keep): the execution row last
     * saved or inserted, and the operation row last written (its JSON text), valid while their
     * mark (rk) holds. */
    dwf__exec *rk_exec;
    char *rk_op_id, *rk_op_json;
    cJSON *rk_op; /* the same operation parsed, when its writer handed it over (dwf__store_op_parsed) */
    long long rk_op_no, rk_op_seq;
    /* The Ids of every operation row of execution rk_ids.no (when `on`), kept under the same
     * mark (dwf__store_op_id_known). */
    struct {
        int on;
        long long no;
        char **slot; /* open addressing, cap a power of two, at most half full */
        size_t cap, n;
    } rk_ids;
    store_mark rk;
    unsigned long long undos;  /* transactions rolled back and calls' savepoints undone */
    unsigned long long calls;  /* bumped as each call begins and ends (dv_call: one data_version a call) */
    unsigned long long dv_call;
    sqlite3_int64 dv;
    /* The timer note (timer_note): no timer of the store can be due before tn_next while its
     * mark (tn) holds. */
    double tn_next;
    store_mark tn;
};
/* The log's working size (log_open): not known or not kept (0), shorter, sized once by a commit
 * of this process (or found too short then), kept. */
enum { LOG_NONE, LOG_SHORT, LOG_TRIED, LOG_KEPT };

static int commit_open_batch(void *arg);
static void rolled_back(void *arg);
static void rk_drop(dwf__store *st);

/* The log's working size in frames: SQLite's automatic checkpoint runs at this many (configure,
 * log_keep). SQLite's own default; log_keep says why not more. */
#define LOG_FRAMES 1000

#define SCHEMA_VERSION 16

/* Version 4 (dropped with the tokens table it indexed in 10). */
#define TOKENS_LIVE "CREATE INDEX IF NOT EXISTS tokens_live ON tokens(exec_id) WHERE live=1;"
/* The control plane of `dwf serve` (5): functions created through Lambda's API, one row per
 * version ($LATEST included) whose code is a zip kept once by its SHA-256, and IAM roles. */
#define CONTROL_PLANE \
    "CREATE TABLE IF NOT EXISTS lambda_functions(name TEXT NOT NULL, version TEXT NOT NULL," \
    "  config TEXT NOT NULL, code_sha256 TEXT NOT NULL, created_ms REAL, PRIMARY KEY(name, version));" \
    "CREATE TABLE IF NOT EXISTS lambda_code(sha256 TEXT PRIMARY KEY, zip BLOB NOT NULL);" \
    "CREATE TABLE IF NOT EXISTS iam_roles(name TEXT PRIMARY KEY, role TEXT NOT NULL, policies TEXT NOT NULL);"
/* What the scheduler and the service look up among executions, so that their cost follows the
 * executions concerned and not every execution the store keeps (finished ones included):
 * the runnable and due ones (status first: only RUNNING rows are visited, in start order), and
 * the children of a chained invoke, and a function's executions in start order (listing pages). */
#define EXEC_INDEXES                                                                               \
    "CREATE INDEX IF NOT EXISTS executions_status ON executions(status, start_ms);"                \
    "CREATE INDEX IF NOT EXISTS executions_parent ON executions(parent_arn, parent_op);"           \
    "CREATE INDEX IF NOT EXISTS executions_function ON executions(function_name, start_ms);"
/* Version 7: the hash of the workflow (the .dwf text) each execution started on, the current
 * one of each function, and where each version's handler and source were, so `dwf verify`
 * can replay a history on the code that made it (for the old code's lines). */
#define WORKFLOW_VERSIONS "CREATE TABLE IF NOT EXISTS workflows(hash TEXT PRIMARY KEY, function_name TEXT," \
                          "  handler TEXT, source TEXT, updated_ms REAL);"
#define WORKFLOW_HASHES "ALTER TABLE executions ADD COLUMN workflow_hash TEXT;"                    \
                        "ALTER TABLE functions ADD COLUMN workflow_hash TEXT;" WORKFLOW_VERSIONS
/* Version 8: the calls of plain (non-durable) functions a CHAINED_INVOKE made (calls.c). */
#define CALLS                                                                                      \
    "CREATE TABLE IF NOT EXISTS calls(id TEXT PRIMARY KEY, exec_id TEXT NOT NULL, op_id TEXT NOT NULL," \
    "  function_name TEXT NOT NULL, payload TEXT, state TEXT NOT NULL, owner TEXT, started_ms REAL);"   \
    "CREATE INDEX IF NOT EXISTS calls_exec ON calls(exec_id);"
/* Version 8 also gave each execution its own virtual clock (clock_offset_ms). A store of an
 * older dwf kept one offset for the whole store in meta: every execution takes it over, so
 * its timers and timestamps stay where they were. */
#define CALLS_AND_CLOCKS                                                                           \
    CALLS                                                                                          \
    "ALTER TABLE executions ADD COLUMN clock_offset_ms REAL NOT NULL DEFAULT 0;"                   \
    "UPDATE executions SET clock_offset_ms=COALESCE((SELECT CAST(value AS REAL) FROM meta"         \
    "  WHERE key='clock_offset_ms'), 0);"

/* Version 9: the running executions by their virtual clock, so that the timer scans take the
 * largest offset at once and read only the timers due by then (timers_due), instead of joining
 * every timer (each running execution has its timeout's) to its execution at every pass. */
#define EXEC_OFFSET "CREATE INDEX IF NOT EXISTS executions_offset ON executions(status, clock_offset_ms);"

/* Version 10: fewer b-trees written per checkpoint (each is at least one page of the log at
 * every commit, bench/RESULTS.md). Operations, events and tokens are WITHOUT ROWID tables kept
 * in the order of their primary key, which is what they are looked up by, instead of a rowid
 * table plus an index of that key. The key starts with the execution's number (executions.no,
 * 1, 2, ... in the order they started), not its id, a random UUID: a new execution's rows go at
 * the end of each table, where the page cache already holds the last pages, instead of at a
 * random place among every execution the store keeps (and the integer is shorter).
 * - an execution's operations by start sequence (the state's pages read them in that order; a
 *   new one goes at the end), with an index by Id and one by change stamp (deltas);
 * - its events by EventId;
 * - its tokens, only to tell a token it was issued (GetDurableExecutionState): the current one
 *   is the execution's live_token column, in the row every call rewrites anyway, where version
 *   9 flagged it in the tokens row (live) and retired it there, through two more indexes. */
#define EXECUTIONS_NO "CREATE UNIQUE INDEX IF NOT EXISTS executions_no ON executions(no);"
#define OPERATIONS_TABLE_V10(name)                                                                 \
    "CREATE TABLE IF NOT EXISTS " name "(exec_no INTEGER NOT NULL, op_id TEXT NOT NULL,"            \
    "  start_seq INTEGER NOT NULL, change_seq INTEGER NOT NULL, type TEXT, status TEXT,"           \
    "  json TEXT NOT NULL, PRIMARY KEY(exec_no, start_seq)) WITHOUT ROWID;"
#define OPERATIONS_INDEXES                                                                         \
    "CREATE UNIQUE INDEX IF NOT EXISTS operations_id ON operations(exec_no, op_id);"              \
    "CREATE INDEX IF NOT EXISTS operations_change ON operations(exec_no, change_seq);"
#define EVENTS_TABLE_V10(name)                                                                     \
    "CREATE TABLE IF NOT EXISTS " name "(exec_no INTEGER NOT NULL, event_id INTEGER NOT NULL,"      \
    "  json TEXT NOT NULL, PRIMARY KEY(exec_no, event_id)) WITHOUT ROWID;"
#define TOKENS_TABLE(name)                                                                         \
    "CREATE TABLE IF NOT EXISTS " name "(token TEXT NOT NULL, exec_no INTEGER NOT NULL, issued_ms REAL," \
    "  PRIMARY KEY(exec_no, token)) WITHOUT ROWID;"
/* The rebuild from version 9, in the upgrade's transaction: each execution numbered in the order
 * of its rowid (the order rows were inserted) and its live token moved to its row, then each
 * table copied in key order into its new form (the old one's indexes go with it; a row of no
 * execution, which nothing could read, is left behind). */
#define WITHOUT_ROWIDS                                                                             \
    "ALTER TABLE executions ADD COLUMN live_token TEXT;"                                           \
    "ALTER TABLE executions ADD COLUMN no INTEGER;"                                                \
    "UPDATE executions SET no=rowid, live_token=(SELECT token FROM tokens t"                       \
    "  WHERE t.exec_id=executions.id AND t.live=1);"                                               \
    EXECUTIONS_NO                                                                                  \
    OPERATIONS_TABLE_V10("operations_v10")                                                         \
    "INSERT INTO operations_v10(exec_no, op_id, start_seq, change_seq, type, status, json)"        \
    "  SELECT x.no, o.op_id, o.start_seq, o.change_seq, o.type, o.status, o.json FROM operations o" \
    "  JOIN executions x ON x.id=o.exec_id ORDER BY x.no, o.start_seq;"                            \
    "DROP TABLE operations; ALTER TABLE operations_v10 RENAME TO operations;"                      \
    OPERATIONS_INDEXES                                                                             \
    EVENTS_TABLE_V10("events_v10")                                                                 \
    "INSERT INTO events_v10(exec_no, event_id, json) SELECT x.no, v.event_id, v.json FROM events v" \
    "  JOIN executions x ON x.id=v.exec_id ORDER BY x.no, v.event_id;"                             \
    "DROP TABLE events; ALTER TABLE events_v10 RENAME TO events;"                                  \
    TOKENS_TABLE("tokens_v10")                                                                     \
    "INSERT INTO tokens_v10(token, exec_no, issued_ms) SELECT t.token, x.no, t.issued_ms FROM tokens t" \
    "  JOIN executions x ON x.id=t.exec_id ORDER BY x.no, t.token;"                                \
    "DROP TABLE tokens; ALTER TABLE tokens_v10 RENAME TO tokens;"

/* Version 11: operations and events in rowid tables whose rowid is the key, the execution's
 * number times 2^32 plus the start sequence or the EventId (DWF__ROW_KEY; exec_no and start_seq
 * or event_id stay readable as virtual columns, and the operations' two indexes are built on
 * them as before). A new operation or event goes at the end of its table, and SQLite appends to
 * a rowid table's last leaf by starting a new page when it is full (balance_quick), where a
 * WITHOUT ROWID table, a b-tree of keys, redistributed its last three leaves each time the last
 * one filled: every two or three commits of an at-most-once step for its two events, which were
 * 2.18 pages of the log per commit (now 1.15), and the operations 1.69. The store keeps at most
 * 2^32 - 1 operations and events per execution (rows.c) and numbers 2^31 - 1 executions. */
#define OPERATIONS_TABLE(name)                                                                     \
    "CREATE TABLE IF NOT EXISTS " name "(k INTEGER PRIMARY KEY, op_id TEXT NOT NULL,"               \
    "  change_seq INTEGER NOT NULL, type TEXT, status TEXT, json TEXT NOT NULL,"                   \
    "  exec_no INTEGER AS (k >> 32), start_seq INTEGER AS (k & 4294967295));"
#define EVENTS_TABLE(name)                                                                         \
    "CREATE TABLE IF NOT EXISTS " name "(k INTEGER PRIMARY KEY, json TEXT NOT NULL,"                \
    "  exec_no INTEGER AS (k >> 32), event_id INTEGER AS (k & 4294967295));"
#define KEYS_AS_ROWIDS                                                                             \
    OPERATIONS_TABLE("operations_v11")                                                             \
    "INSERT INTO operations_v11(k, op_id, change_seq, type, status, json)"                         \
    "  SELECT exec_no * 4294967296 + start_seq, op_id, change_seq, type, status, json"            \
    "  FROM operations WHERE exec_no BETWEEN 0 AND 2147483647 AND start_seq BETWEEN 0 AND 4294967295" \
    "  ORDER BY exec_no, start_seq;"                                                               \
    "DROP TABLE operations; ALTER TABLE operations_v11 RENAME TO operations;"                      \
    OPERATIONS_INDEXES                                                                             \
    EVENTS_TABLE("events_v11")                                                                     \
    "INSERT INTO events_v11(k, json) SELECT exec_no * 4294967296 + event_id, json FROM events"     \
    "  WHERE exec_no BETWEEN 0 AND 2147483647 AND event_id BETWEEN 0 AND 4294967295"               \
    "  ORDER BY exec_no, event_id;"                                                                \
    "DROP TABLE events; ALTER TABLE events_v11 RENAME TO events;"

/* Version 12: checkpoint tokens are verified without a row (rows.c): a token names its
 * execution's number and its place in the count of tokens issued to it (token_count, in the
 * row every call saves anyway), under an HMAC-SHA256 with this store's own key, made once from
 * SQLite's randomblob (ChaCha20 seeded from /dev/urandom by the unix VFS) and kept in meta.
 * Issuing a token wrote a row of `tokens` in every call, at a random place among its
 * execution's (the key was a UUID): a page of the log per commit and a split every few. The
 * table stays for the tokens issued before: it is no longer written (a new store has it
 * empty), and a token of that form is looked up there, so an older token still reads the state
 * and a running execution's live one still checkpoints (it is the execution's live_token). */
#define TOKEN_KEY "INSERT OR IGNORE INTO meta(key, value) VALUES('token_key', lower(hex(randomblob(32))));"
#define TOKEN_COUNT "ALTER TABLE executions ADD COLUMN token_count INTEGER NOT NULL DEFAULT 0;" TOKEN_KEY

/* Version 13: the index by change stamp holds only the operations whose last write the handler
 * of their execution did not get in its own checkpoint's answer (outside=1): what a timer, a
 * callback, a chained invoke's end, a stop or the start wrote, and what one execution's
 * checkpoint wrote into another's. These are the only rows a delta reads from the store: a
 * checkpoint answers its own writes from the request's cache (opcache.c) and then counts them
 * seen (seen_seq), so a row it wrote (outside=0) is never stamped after its execution's
 * seen_seq (rows.c). Every checkpoint rewrote that index (the stamp of each operation it
 * wrote: one more page of the log per commit, 1.07 of an at-most-once step's 5.67); now one
 * only writes it when something outside the handler changed an operation. Rows written
 * before stay in it (the column's default is 1), as the whole index held them. A new store
 * takes the same step after the tables of version 12. */
#define CHANGES_OUTSIDE                                                                            \
    "ALTER TABLE operations ADD COLUMN outside INTEGER NOT NULL DEFAULT 1;"                        \
    "DROP INDEX operations_change;"                                                                \
    "CREATE INDEX operations_change ON operations(exec_no, change_seq) WHERE outside=1;"

/* Version 14: timers WITHOUT ROWID, the table the b-tree of its key (execution id, operation
 * id, kind), which is how it is written and deleted, where a rowid table kept that key in a
 * second b-tree (its UNIQUE index) beside the rows: every execution's start and end (its
 * timeout's timer), a wait's start and end, each wrote three b-trees of timers and now two
 * (with timers_due). The same columns and rows. */
#define TIMERS_TABLE(name)                                                                         \
    "CREATE TABLE IF NOT EXISTS " name "(exec_id TEXT NOT NULL, op_id TEXT NOT NULL,"              \
    "  kind TEXT NOT NULL, due_ms REAL NOT NULL, PRIMARY KEY(exec_id, op_id, kind)) WITHOUT ROWID;"
#define TIMERS_DUE "CREATE INDEX IF NOT EXISTS timers_due ON timers(due_ms);"
#define TIMERS_WITHOUT_ROWID                                                                       \
    TIMERS_TABLE("timers_v14")                                                                     \
    "INSERT INTO timers_v14(exec_id, op_id, kind, due_ms) SELECT exec_id, op_id, kind, due_ms"     \
    "  FROM timers ORDER BY exec_id, op_id, kind;"                                                 \
    "DROP TABLE timers; ALTER TABLE timers_v14 RENAME TO timers;" TIMERS_DUE

/* Version 15: the indexes the scheduler and the timers read only for running executions hold
 * only those (partial, WHERE status='RUNNING', the literal DWF__SQL_RUNNING their queries
 * name: SQLite uses a partial index only for a query whose WHERE says the same), and the index
 * of chained-invoke children only the executions that have a parent. A full index wrote a page
 * at each execution's start and two at its end (the entry leaving RUNNING for its final status)
 * in each of executions_status, executions_offset and executions_root, the last keyed by the
 * ARN, so at a random place among every execution the store keeps; a partial one holds the few
 * running executions in a page or two that every call of a batch shares, and the end only
 * deletes. executions_parent wrote an entry (NULL, NULL) for every top-level execution.
 * A listing filtered by status without a function name now reads the rows in start order
 * (the function index serves one with a name). */
#define RUNNING_INDEXES                                                                            \
    "DROP INDEX IF EXISTS executions_status;"                                                      \
    "CREATE INDEX executions_status ON executions(start_ms) WHERE status=" DWF__SQL_RUNNING ";"    \
    "DROP INDEX IF EXISTS executions_offset;"                                                      \
    "CREATE INDEX executions_offset ON executions(clock_offset_ms) WHERE status=" DWF__SQL_RUNNING ";" \
    "DROP INDEX IF EXISTS executions_root;"                                                        \
    "CREATE INDEX executions_root ON executions(root_arn) WHERE status=" DWF__SQL_RUNNING ";"      \
    "DROP INDEX IF EXISTS executions_parent;"                                                      \
    "CREATE INDEX executions_parent ON executions(parent_arn, parent_op) WHERE parent_arn IS NOT NULL;"

/* Version 16: history events are rows of the operations table, in one b-tree with the
 * operations, where each had its own: a commit appends a step's events and its operation, and
 * rewrites the operation it closes, in the last leaf of one table instead of the last leaf of
 * each (`dwf run`, an at-most-once step: 4.57 pages of the log per commit, the events 1.16 and
 * the operations 1.12 of them); in `dwf serve` an execution's operations and events share its
 * leaves, where the two tables' leaves of every execution a batch touched were written apart.
 * The low 32 bits of a row's key are no longer an operation's start sequence or an EventId but
 * the execution's count of rows (op_count + event_count) when the row was added: operations and
 * events together in the order they were added, so each kind still in its own order (start
 * order, EventId order). An event row has no op_id (the partial index by Id leaves it out),
 * outside=0 (nor the index by change stamp) and its EventId in event_id; its text is json as
 * before. An event's key lies between its EventId - 1 and op_count + EventId - 1 past the
 * execution's first key (rows before it: EventId - 1 events and at most op_count operations),
 * the range a history page reads from (reads.c).
 * The rebuild keeps every operation's key (its start sequence, below op_count), and gives each
 * event the key op_count + EventId - 1: after the operations, in EventId order, below the
 * op_count + event_count the next row takes. An event of no execution is left behind (nothing
 * could read it), as in version 10. A new store takes the same step after version 15's. */
#define EVENTS_WITH_OPERATIONS                                                                     \
    "CREATE TABLE operations_v16(k INTEGER PRIMARY KEY, op_id TEXT, change_seq INTEGER,"           \
    "  type TEXT, status TEXT, json TEXT NOT NULL, outside INTEGER NOT NULL DEFAULT 1,"            \
    "  event_id INTEGER, exec_no INTEGER AS (k >> 32), start_seq INTEGER AS (k & 4294967295));"  \
    "INSERT INTO operations_v16(k, op_id, change_seq, type, status, json, outside, event_id)"      \
    "  SELECT k, op_id, change_seq, type, status, json, outside, NULL FROM operations"             \
    "  UNION ALL SELECT x.no * 4294967296 + IFNULL(x.op_count, 0) + v.event_id - 1, NULL, NULL,"    \
    "  NULL, NULL, v.json, 0, v.event_id FROM events v JOIN executions x ON x.no=v.exec_no"        \
    "  WHERE IFNULL(x.op_count, 0) + v.event_id - 1 BETWEEN 0 AND 4294967295 ORDER BY 1;"                                                                                \
    "DROP TABLE operations; DROP TABLE events; ALTER TABLE operations_v16 RENAME TO operations;"  \
    "CREATE UNIQUE INDEX operations_id ON operations(exec_no, op_id) WHERE op_id IS NOT NULL;"    \
    "CREATE INDEX operations_change ON operations(exec_no, change_seq) WHERE outside=1;"

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE IF NOT EXISTS functions(name TEXT PRIMARY KEY, handler TEXT, source TEXT,"
    "  config TEXT, updated_ms REAL, workflow_hash TEXT);"
    "CREATE TABLE IF NOT EXISTS executions(id TEXT PRIMARY KEY, arn TEXT UNIQUE NOT NULL,"
    "  name TEXT NOT NULL, function_name TEXT NOT NULL, status TEXT NOT NULL, input TEXT,"
    "  result TEXT, error TEXT, parent_arn TEXT, parent_op TEXT, root_arn TEXT,"
    "  start_ms REAL, end_ms REAL, next_invoke_ms REAL, inv_started_ms REAL,"
    "  seq INTEGER, seen_seq INTEGER, op_count INTEGER, event_count INTEGER,"
    "  retention_days INTEGER, timeout_s INTEGER, wake INTEGER, inv_open INTEGER,"
    "  inv_attempts INTEGER, inv_owner TEXT, inv_request TEXT, workflow_hash TEXT,"
    "  clock_offset_ms REAL NOT NULL DEFAULT 0, live_token TEXT, no INTEGER,"
    "  token_count INTEGER NOT NULL DEFAULT 0, UNIQUE(function_name, name));"
    EXECUTIONS_NO
    "CREATE INDEX IF NOT EXISTS executions_root ON executions(root_arn, status);"
    EXEC_INDEXES
    OPERATIONS_TABLE("operations")
    OPERATIONS_INDEXES
    EVENTS_TABLE("events")
    TIMERS_TABLE("timers")
    TIMERS_DUE
    "CREATE TABLE IF NOT EXISTS callbacks(callback_id TEXT PRIMARY KEY, exec_id TEXT NOT NULL,"
    "  op_id TEXT NOT NULL, state TEXT NOT NULL, timeout_s INTEGER, heartbeat_s INTEGER);"
    "CREATE INDEX IF NOT EXISTS callbacks_exec ON callbacks(exec_id);"
    TOKENS_TABLE("tokens")
    CONTROL_PLANE
    WORKFLOW_VERSIONS
    CALLS
    EXEC_OFFSET
    TOKEN_KEY
    CHANGES_OUTSIDE
    RUNNING_INDEXES
    EVENTS_WITH_OPERATIONS;

/* An older store is brought up to date one version at a time: upgrades[v] takes version v to
 * v + 1 (version 0 is a new file: the whole schema at once), then user_version is set. What
 * each version added: (2) the owner and (3) the request id of the open invocation, (4) an index
 * of live tokens, without which retiring the live token scanned every token the execution ever
 * had (a run was quadratic in its steps), (5) the control plane's tables, (6) the execution
 * indexes above, without which each scheduler pass scanned every execution ever kept (serve
 * slowed down as executions finished), (7) the workflow hashes (dwf verify), (8) the calls of
 * plain functions and each execution's own virtual clock, (9) the index of running executions by
 * their clock offset (EXEC_OFFSET), (10) operations, events and tokens rebuilt WITHOUT ROWID and
 * the live token in the execution's row (WITHOUT_ROWIDS), (11) operations and events keyed by
 * their rowids (KEYS_AS_ROWIDS), (12) tokens verified by their MAC, no longer a row each
 * (TOKEN_COUNT), (13) the index by change stamp only of the operations changed outside their
 * handler's checkpoints (CHANGES_OUTSIDE), (14) timers WITHOUT ROWID (TIMERS_WITHOUT_ROWID), (15) the
 * indexes of running executions partial (RUNNING_INDEXES), (16) history events in the operations
 * table (EVENTS_WITH_OPERATIONS). */
static const char *const upgrades[SCHEMA_VERSION] = {
    [0] = NULL, /* a new store: schema_sql */
    [1] = "ALTER TABLE executions ADD COLUMN inv_owner TEXT;",
    [2] = "ALTER TABLE executions ADD COLUMN inv_request TEXT;",
    [3] = TOKENS_LIVE,
    [4] = CONTROL_PLANE,
    [5] = EXEC_INDEXES,
    [6] = WORKFLOW_HASHES,
    [7] = CALLS_AND_CLOCKS,
    [8] = EXEC_OFFSET,
    [9] = WITHOUT_ROWIDS,
    [10] = KEYS_AS_ROWIDS,
    [11] = TOKEN_COUNT,
    [12] = CHANGES_OUTSIDE,
    [13] = TIMERS_WITHOUT_ROWID,
    [14] = RUNNING_INDEXES,
    [15] = EVENTS_WITH_OPERATIONS,
};

/* Create or upgrade, inside the caller's transaction. */
static int schema_upgrade(sqlite3 *db, int version)
{
    int rc = sqlite3_exec(db, version == 0 ? schema_sql : "", NULL, NULL, NULL);
    for (int v = version == 0 ? SCHEMA_VERSION : version; rc == SQLITE_OK && v < SCHEMA_VERSION; v++)
        rc = sqlite3_exec(db, upgrades[v], NULL, NULL, NULL);
    char set[64];
    snprintf(set, sizeof set, "PRAGMA user_version=%d;", SCHEMA_VERSION);
    return rc == SQLITE_OK ? sqlite3_exec(db, set, NULL, NULL, NULL) : rc;
}

int dwf__store_err(dwf_error *err, enum dwf_errortype type, const char *fmt, ...)
{
    if (!err) return -1;
    snprintf(err->type, sizeof err->type, "%s", dwf_errortype_name(type));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}
/* The errno behind an SQLite I/O failure, as text ("" when SQLite recorded none). */
static const char *system_error(const dwf__store *st, char *buf, size_t n)
{
    int e = st && st->db ? sqlite3_system_errno(st->db) : 0;
    if (e) snprintf(buf, n, " (%s)", strerror(e));
    else buf[0] = '\0';
    return buf;
}

int dwf__store_fail(dwf__store *st, int rc, dwf_error *err)
{
    const char *msg = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
    const char *path = st ? st->path : "?";
    int sys = st && st->db ? sqlite3_system_errno(st->db) : 0;
    char why[160];
    system_error(st, why, sizeof why);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        dwf__store_err(err, DWF_ERRORTYPE_STORE_LOCKED,
                "the store %s is locked by another process (%s); nothing was changed", path, msg);
        break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        dwf__store_err(err, DWF_ERRORTYPE_STORE_CORRUPT,
                "the store %s is corrupt or not a dwf store (%s); nothing was changed", path, msg);
        break;
    case SQLITE_NOMEM:
        dwf__store_err(err, DWF_ERRORTYPE_SERVICE, "out of memory in the store %s", path);
        break;
    case SQLITE_READONLY:
        dwf__store_err(err, DWF_ERRORTYPE_STORE_READ_ONLY, "the store %s cannot be written (%s)%s; nothing was changed",
                path, msg, why);
        break;
    case SQLITE_FULL:
        dwf__store_err(err, DWF_ERRORTYPE_STORE_FULL,
                "the disk holding the store %s is full%s; this change was not made, nothing before it is lost",
                path, why);
        break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
        /* A write past a file size limit (EFBIG) or a quota (EDQUOT) is a full disk too. */
        if (sys == ENOSPC || sys == EFBIG || sys == EDQUOT)
            dwf__store_err(err, DWF_ERRORTYPE_STORE_FULL,
                    "the disk holding the store %s is full%s; this change was not made, nothing before it is lost",
                    path, why);
        else if (sys == EROFS || sys == EACCES || sys == EPERM)
            dwf__store_err(err, DWF_ERRORTYPE_STORE_READ_ONLY, "the store %s cannot be written%s; nothing was changed", path,
                    why);
        else
            dwf__store_err(err, DWF_ERRORTYPE_SERVICE, "store %s: %s%s", path, msg, why);
        break;
    default:
        dwf__store_err(err, DWF_ERRORTYPE_SERVICE, "store %s: %s%s", path, msg, why);
    }
    return -1;
}

/* mkdir -p of the directory that will hold the store file. */
static int make_parent_dirs(const char *path, dwf_error *err)
{
    char dir[PATH_MAX];
    if (dwf__mkdir_parent(path, 0755, dir, sizeof dir) == 0) return 0;
    int e = errno;
    dwf__store_err(err, e == EACCES || e == EROFS || e == EPERM ? DWF_ERRORTYPE_STORE_READ_ONLY : DWF_ERRORTYPE_SERVICE,
                   "cannot create the store directory %s: %s", dir, strerror(e));
    return -1;
}

/* The outermost directory on the way to path that does not exist yet ("" when its directory
 * exists), so a failed first open can remove what it made. */
static void first_missing_dir(const char *path, char *out, size_t n)
{
    char dir[PATH_MAX], up[PATH_MAX];
    struct stat sb;
    out[0] = '\0';
    dwf__dirname(path, dir, sizeof dir);
    while (stat(dir, &sb) != 0 && errno == ENOENT && strcmp(dir, ".") != 0 && strcmp(dir, "/") != 0) {
        snprintf(out, n, "%s", dir);
        dwf__dirname(dir, up, sizeof up);
        snprintf(dir, sizeof dir, "%s", up);
    }
}

static int pragma_int(sqlite3 *db, const char *sql, int *out)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) *out = sqlite3_column_int(q, 0);
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* WAL mode (persistent in the file: only switched when it is not WAL yet, so opening an
 * existing store takes no write lock), synchronous=NORMAL, a small page cache. NORMAL, not FULL:
 * a COMMIT appends to the log without waiting for the disk, and the commit is made durable by
 * the group commit's flush before the service answers (store_sync.c), one flush for every
 * commit that arrived meanwhile instead of one each. */
static int journal_is_wal(sqlite3 *db, int *is_wal)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(q);
    const char *m = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
    *is_wal = m && strcmp(m, "wal") == 0;
    sqlite3_finalize(q);
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* The switch to WAL mode of a new store. SQLite answers SQLITE_BUSY at once, without calling
 * the busy handler, when PRAGMA journal_mode=WAL finds another connection's lock on the file:
 * two processes opening a store that does not exist yet (two `dwf run`s on one new --store),
 * where the one that lost failed with StoreLockedException about 1 time in 20. So the switch is
 * tried again, as the busy timeout would have, reading the mode each time first (the other
 * process has usually made it WAL meanwhile, and then there is nothing to switch). */
static int switch_to_wal(sqlite3 *db, int busy_ms, int *wrote)
{
    long waited_us = 0, step_us = 500;
    for (;;) {
        int is_wal = 0;
        int rc = journal_is_wal(db, &is_wal);
        if (rc == SQLITE_OK && is_wal) return SQLITE_OK;
        if (rc == SQLITE_OK) rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
        if (rc == SQLITE_OK) {
            *wrote = 1;
            return SQLITE_OK;
        }
        if ((rc & 0xff) != SQLITE_BUSY || waited_us >= (long)busy_ms * 1000) return rc;
        struct timespec ts = {0, step_us * 1000};
        nanosleep(&ts, NULL);
        waited_us += step_us;
        if (step_us < 16000) step_us *= 2;
    }
}

static int configure(sqlite3 *db, int busy_ms, int *wrote)
{
    int rc = switch_to_wal(db, busy_ms, wrote);
    if (rc != SQLITE_OK) return rc;
    if ((rc = sqlite3_exec(db, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL)) != SQLITE_OK) return rc;
    /* Each call of a batch runs under a savepoint (store_sync.c), whose sub-journal keeps the
     * pages it changes for a ROLLBACK TO; beyond 64 KiB SQLite spills it to a temporary file,
     * which cost serve about 100 writes per execution (bench/RESULTS.md, "Throughput"). In
     * memory it is emptied at every RELEASE, so it stays a few of one call's pages. */
    if ((rc = sqlite3_exec(db, "PRAGMA temp_store=MEMORY", NULL, NULL, NULL)) != SQLITE_OK) return rc;
    /* The log checkpointed into the store every LOG_FRAMES frames (log_keep). */
    if ((rc = sqlite3_wal_autocheckpoint(db, LOG_FRAMES)) != SQLITE_OK) return rc;
    /* A 512 KiB page cache instead of SQLite's 2 MiB: a checkpoint touches a few dozen pages,
     * the OS caches the file anyway, and the embedded engine's peak RSS has a 16 MiB budget. */
    return sqlite3_exec(db, "PRAGMA cache_size=-512", NULL, NULL, NULL);
}

/* A failed statement of a transaction the open runs itself: the error told from SQLite's message
 * for it, read before the ROLLBACK (which succeeds, and leaves "not an error" as the message). */
static int open_step_failed(dwf__store *st, int rc, dwf_error *err)
{
    dwf__store_fail(st, rc, err);
    if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* The log is kept, at its working size, for the store's life: written once with zeros to the
 * size it reaches before SQLite's automatic checkpoint (wal_autocheckpoint pages, plus room for
 * the commit that crosses it) and never truncated nor removed. A commit then rewrites blocks the
 * file already has, and its fdatasync writes those pages alone; a commit that makes the file
 * longer also writes the file's new size and blocks: an fdatasync of 0.31-0.39 ms instead of
 * 0.26-0.28 ms (median, strace -T, loaded machine) for each of the first ~215 at-most-once steps
 * of a fresh log, which SQLite removed at every clean close, so every `dwf run` grew it again.
 *   - the zeros are written by the first commit of a process that writes (dwf__store_commit_batch:
 *     it holds the write lock, so no other process appends to the log meanwhile, and its flush
 *     makes them durable with its own pages), not by the open: a command that only reads leaves
 *     the store's files as they were (SQLite removes the log it made, as before). Not when the
 *     disk has less than 16 times the size free (a nearly full disk keeps that room for commits);
 *   - once the log has that size (then, or found so at open: log_keep), SQLITE_FCNTL_PERSIST_WAL:
 *     the last connection's close checkpoints it and keeps it; journal_size_limit at the working
 *     size: SQLite truncates the log to it after a restart when it grew longer (a reader kept a
 *     checkpoint from finishing), and to nothing at that close, which dwf__storefile_keep_log
 *     turns into zeros over the header: an empty log to SQLite's recovery, so the next open
 *     neither replays nor flushes it (dwf__storefile_log_live).
 * Any of it failing leaves the log as SQLite keeps it by default.
 * The working size is LOG_FRAMES (1,000) frames, about 4 MiB. The log starts again from its
 * beginning only after a checkpoint inside the commit that crosses it, which the committing call
 * waits for (the log synced, the pages copied into the store, the store synced, then a new log
 * header synced by the next commit: 3-8 ms on a loaded machine), so fewer, larger checkpoints
 * were tried: at 4,000 frames, 1,000 at-most-once steps cross once instead of 4 times (strace:
 * 1,013 -> 1,004 fdatasyncs, 206 -> 172 pages copied), about 1-2% of the run by strace -T,
 * which no wall-clock comparison could show, for 16 MiB of log per store instead of 4 and 12 MB
 * more zeros written by a new store's first run (~20 ms). Not kept. A background PASSIVE
 * checkpoint on its own connection did not help either: it cannot finish between two commits
 * one step apart (it syncs twice), so the log only starts again after a checkpoint by the
 * committing call anyway, and that one's syncs, not its copies, are what it costs.
 * docs/engine.md, "When the log is checkpointed". */
#define LOG_SPARE_FRAMES 32
#define WAL_FRAME_HEADER 24
static void log_keep(dwf__store *st)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA journal_size_limit=%lld", (long long)st->log_bytes);
    int persist = 1;
    if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) == SQLITE_OK &&
        sqlite3_file_control(st->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist) == SQLITE_OK)
        st->log_state = LOG_KEPT;
}

/* At open: the working size, and whether the log has it already. */
static int log_open(dwf__store *st, dwf_error *err)
{
    int page = 0, frames = 0;
    int rc = pragma_int(st->db, "PRAGMA page_size", &page);
    if (rc == SQLITE_OK) rc = pragma_int(st->db, "PRAGMA wal_autocheckpoint", &frames);
    if (rc != SQLITE_OK) return dwf__store_fail(st, rc, err);
    if (page <= 0 || frames <= 0 || !dwf__storefile_keep_log(st->db)) return 0;
    st->log_bytes = 32 + (off_t)(frames + LOG_SPARE_FRAMES) * (WAL_FRAME_HEADER + page);
    char wal[PATH_MAX + 8];
    dev_t dev;
    ino_t ino;
    off_t size = 0;
    snprintf(wal, sizeof wal, "%s-wal", st->path);
    st->log_state = LOG_SHORT;
    if (dwf__storefile_id(-1, wal, &dev, &ino, &size) == 0 && size >= st->log_bytes) log_keep(st);
    return 0;
}

/* At a commit, in its transaction (the write lock held): a short log is written to its size
 * once (one try per open). */
static void log_size(dwf__store *st)
{
    if (st->log_state != LOG_SHORT) return;
    st->log_state = LOG_TRIED;
    if (dwf__storefile_size_log(st->path, &st->file, st->log_bytes, 16 * st->log_bytes)) log_keep(st);
}

/* Create the schema, or bring an older one up to date, in one transaction. */
static int upgrade(dwf__store *st, int version, dwf_error *err)
{
    sqlite3 *db = st->db;
    int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return dwf__store_fail(st, rc, err);
    /* Another process may have created or upgraded it while we waited for the lock. */
    rc = pragma_int(db, "PRAGMA user_version", &version);
    if (rc == SQLITE_OK && version < SCHEMA_VERSION) rc = schema_upgrade(db, version);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : open_step_failed(st, rc, err);
}

/* Every store carries a random id in its header (application_id), so a write-ahead log of
 * another store is recognised before SQLite replays it (store_file.c). Older stores get one
 * the first time they are opened. */
static int give_store_id(dwf__store *st, int *wrote, dwf_error *err)
{
    sqlite3 *db = st->db;
    int id = 0;
    int rc = pragma_int(db, "PRAGMA application_id", &id);
    if (rc != SQLITE_OK) return dwf__store_fail(st, rc, err);
    if (id != 0) return 0;
    if ((rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK) return dwf__store_fail(st, rc, err);
    rc = pragma_int(db, "PRAGMA application_id", &id);
    unsigned char b[4] = {0};
    if (rc == SQLITE_OK && id == 0) {
        if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) { /* not RAND_bytes: see dwf__svc_uuid */
            unsigned long long t = (unsigned long long)time(NULL) ^ (unsigned long long)getpid() << 16;
            memcpy(b, &t, sizeof b);
        }
        uint32_t v = ((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]) & 0x7fffffffu;
        char sql[64];
        snprintf(sql, sizeof sql, "PRAGMA application_id=%u", v ? v : 1u);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        *wrote = 1;
    }
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : open_step_failed(st, rc, err);
}

/* The store's token key (meta's token_key, 64 hex digits: TOKEN_KEY), read once per open. A
 * store without one, or with a malformed one, was damaged by hand: its tokens could not be
 * verified, so it is refused rather than given a new key (every token would change meaning). */
static int read_token_key(dwf__store *st, dwf_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, "SELECT value FROM meta WHERE key='token_key'", -1, &q, NULL);
    if (rc != SQLITE_OK) return dwf__store_fail(st, rc, err);
    rc = sqlite3_step(q);
    const char *hex = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(q, 0) : NULL;
    int ok = hex && strlen(hex) == 2 * DWF__TOKEN_KEY_LEN;
    for (int i = 0; ok && i < DWF__TOKEN_KEY_LEN; i++) {
        unsigned int b = 0;
        ok = sscanf(hex + 2 * i, "%2x", &b) == 1;
        st->token_key[i] = (unsigned char)b;
    }
    sqlite3_finalize(q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return dwf__store_fail(st, rc, err);
    return ok ? 0 : dwf__store_err(err, DWF_ERRORTYPE_STORE_CORRUPT,
                                   "the store %s is corrupt: its token key (meta's token_key) is %s; nothing was changed",
                                   st->path, rc == SQLITE_ROW ? "malformed" : "missing");
}

/* Open the database, read its header (a file that is not a database fails here, before any
 * write), refuse a newer schema, configure, create or upgrade, give it an id. `*flush`: 1 when
 * the store must be flushed before it is used: the open wrote something (a new store, WAL mode,
 * an upgrade, the id), or a log was there before it (commits of a process that ended before
 * its flush: made durable before anything here reads or builds on them). An existing store
 * closed cleanly (no log with commits beside it: the close leaves the log emptied, log_keep)
 * opens without an fdatasync. */
static int open_db(dwf__store *st, int busy_ms, int *flush, dwf_error *err)
{
    *flush = st->in_memory ? 0 : dwf__storefile_log_live(st->path);
    /* NOMUTEX: SQLite does not lock the connection on each of its calls (every bind, step,
     * column and reset took and released its mutex: 10% of the instructions of a 200-step
     * at-most-once `dwf run`, callgrind), because every use of it is serialized by the service's
     * lock already. The audit, for whoever adds a path to this connection:
     *  - the connection is used only through this file, store_file.c and registry.c (grep
     *    dwf__store_db / sqlite3_ outside them: none in service/, emulator/, console/, cli/,
     *    testing/), always with a dwf__store the service handle owns;
     *  - every exported dwf_service_* call that reads or writes rows takes the service's lock
     *    (dwf__svc_lock, or registry.c's TX_BEGIN) before its first statement and holds it to
     *    the end of its transaction; the dwf__svc_* helpers run inside such a call
     *    (service_impl.h); dwf_service_cache_misses takes it too; dwf_service_work reads only
     *    counters under st->mu;
     *  - the embedded engine, its invocation threads, the SDK's sender thread, dwf serve's HTTP
     *    threads and scheduler, the console's pages and timers all reach the store through
     *    those calls only;
     *  - the group-commit flusher (store_sync.c) commits the open batch through
     *    commit_open_batch with the service's lock taken (dwf__sync_set_lock, set by
     *    dwf_service_open before any call), and its fdatasync is on its own descriptor;
     *  - this open, the schema upgrade and the store id run before the handle is returned,
     *    and dwf__store_close after every call has returned (dwf_service_close).
     * A workflow's own SQLite connections (a `use`d C file) are not this one and keep
     * SQLite's default locking. */
    /* dwf__store_vfs: SQLite's default VFS writing each commit's log frames in one write. */
    int rc = sqlite3_open_v2(st->path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             dwf__store_vfs());
    if (rc != SQLITE_OK) return dwf__store_fail(st, rc, err);
    /* Every transaction SQLite rolls back, explicitly or under a failing statement, undoes what
     * the kept rows may hold (row_keep). */
    sqlite3_rollback_hook(st->db, rolled_back, st);
    sqlite3_busy_timeout(st->db, busy_ms > 0 ? busy_ms : 5000);
    if (!st->in_memory && dwf__storefile_identify(st->db, st->path, &st->file, err) != 0) return -1;
    int version = 0;
    if ((rc = pragma_int(st->db, "PRAGMA user_version", &version)) != SQLITE_OK) return dwf__store_fail(st, rc, err);
    if (version > SCHEMA_VERSION)
        return dwf__store_err(err, DWF_ERRORTYPE_STORE_CORRUPT, "the store %s has schema version %d; this dwf knows %d",
                              st->path, version, SCHEMA_VERSION);
    if ((rc = configure(st->db, busy_ms > 0 ? busy_ms : 5000, flush)) != SQLITE_OK) return dwf__store_fail(st, rc, err);
    if (version < SCHEMA_VERSION && upgrade(st, version, err) != 0) return -1;
    if (version < SCHEMA_VERSION) *flush = 1;
    if (give_store_id(st, flush, err) != 0) return -1;
    if (read_token_key(st, err) != 0) return -1;
    if (st->in_memory || dwf__storefile_identify_wal(st->db, st->path, &st->file, err) != 0) return st->in_memory ? 0 : -1;
    if (!st->file.has_wal) return 0;
    dwf__sync_set_log(st->sync, st->file.wal_dev, st->file.wal_ino);
    return log_open(st, err);
}

/* SQLite's allocator keeps process-wide memory statistics behind a global mutex taken by every
 * allocation and free (about 100 allocations per checkpoint call): 5% of the instructions
 * of an at-most-once step (callgrind). dwf reads none of them (no sqlite3_memory_used, no soft
 * heap limit). SQLite takes this setting only before it is first initialized, which in a dwf
 * process is the first store's open (nothing uses SQLite before it); later it refuses it
 * (SQLITE_MISUSE) and keeps its statistics, which is only slower. */
static pthread_once_t sqlite_once = PTHREAD_ONCE_INIT;
static void sqlite_setup(void)
{
    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    dwf__store_mem_setup();
}

int dwf__store_open(const char *path, int busy_ms, dwf__store **out, dwf_error *err)
{
    *out = NULL;
    pthread_once(&sqlite_once, sqlite_setup);
    int exists = 0;
    /* SQLite's in-memory database: a store that lives as long as this handle (dwf test). */
    int in_memory = path && strcmp(path, ":memory:") == 0;
    if (!in_memory && dwf__storefile_precheck(path, &exists, err) != 0) return -1;
    dwf__store *st = calloc(1, sizeof *st);
    if (!st) return dwf__store_err(err, DWF_ERRORTYPE_SERVICE, "out of memory");
    pthread_mutex_init(&st->mu, NULL);
    st->calls = 1; /* (dv_call 0: no data_version read yet) */
    snprintf(st->path, sizeof st->path, "%s", path);
    st->in_memory = in_memory;
    char made[PATH_MAX] = "";
    if (!exists && !in_memory) first_missing_dir(path, made, sizeof made);
    st->sync = dwf__sync_new(path);
    if (!st->sync) dwf__store_err(err, DWF_ERRORTYPE_SERVICE, "out of memory");
    else dwf__sync_set_committer(st->sync, commit_open_batch, st);
    /* What the open wrote (a new schema, an upgrade, the store id) is flushed like a commit, and
     * so is a log another process left (open_db says which; not for the in-memory store of dwf
     * test: it has no file to flush). */
    int flush = 1;
    if (st->sync && (in_memory || make_parent_dirs(path, err) == 0) && open_db(st, busy_ms, &flush, err) == 0 &&
        (in_memory || !flush || dwf__sync_wait(st->sync, dwf__sync_committed(st->sync), err) == 0)) {
        *out = st;
        return 0;
    }
    sqlite3_close(st->db);
    dwf__sync_free(st->sync);
    /* A store this open created on a full disk is of no use: leave nothing behind. (Not after
     * other failures: another process may be creating the same store meanwhile.) */
    if (!exists && !in_memory && err && dwf_errortype_parse(err->type) == DWF_ERRORTYPE_STORE_FULL)
        dwf__storefile_discard(path, made);
    pthread_mutex_destroy(&st->mu);
    free(st);
    return -1;
}

void dwf__store_close(dwf__store *st)
{
    if (!st) return;
    rk_drop(st);
    for (int i = 0; i < st->ncache; i++) {
        sqlite3_finalize(st->cache[i].q);
        free(st->cache[i].sql);
    }
    sqlite3_close(st->db);
    dwf__sync_free(st->sync);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

dwf__sync *dwf__store_sync(dwf__store *st) { return st->sync; }

void dwf__store_work(dwf__store *st, long long *vm_steps, long long *fullscan_steps)
{
    pthread_mutex_lock(&st->mu);
    *vm_steps = st->vm_steps;
    *fullscan_steps = st->fullscan_steps;
    pthread_mutex_unlock(&st->mu);
}

int dwf__store_cache_kib(dwf__store *st, int kib)
{
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA cache_size=-%d", kib);
    pthread_mutex_lock(&st->mu);
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    pthread_mutex_unlock(&st->mu);
    return rc == SQLITE_OK ? 0 : -1;
}

long long dwf__store_cache_misses(dwf__store *st)
{
    int cur = 0, hi = 0;
    pthread_mutex_lock(&st->mu);
    sqlite3_db_status(st->db, SQLITE_DBSTATUS_CACHE_MISS, &cur, &hi, 0);
    pthread_mutex_unlock(&st->mu);
    return cur;
}

void dwf__sql_done(dwf__store *st, sqlite3_stmt *q)
{
    if (!q) return;
    pthread_mutex_lock(&st->mu);
    st->vm_steps += sqlite3_stmt_status(q, SQLITE_STMTSTATUS_VM_STEP, 1);
    st->fullscan_steps += sqlite3_stmt_status(q, SQLITE_STMTSTATUS_FULLSCAN_STEP, 1);
    for (int i = 0; i < st->ncache; i++)
        if (st->cache[i].q == q) {
            sqlite3_reset(q);
            sqlite3_clear_bindings(q);
            st->cache[i].busy = 0;
            pthread_mutex_unlock(&st->mu);
            return;
        }
    pthread_mutex_unlock(&st->mu);
    sqlite3_finalize(q);
}

/* A statement for `sql`: a free cached one, else a new one (cached while there is room). */
static int stmt_get(dwf__store *st, const char *sql, sqlite3_stmt **out)
{
    pthread_mutex_lock(&st->mu);
    /* Nearly every call passes a string literal: the same pointer as last time. The text is
     * still compared (a caller's buffer may hold other SQL at the same address). */
    for (int i = 0; i < st->ncache; i++)
        if (st->cache[i].text == sql && !st->cache[i].busy && strcmp(st->cache[i].sql, sql) == 0) {
            st->cache[i].busy = 1;
            *out = st->cache[i].q;
            pthread_mutex_unlock(&st->mu);
            return SQLITE_OK;
        }
    for (int i = 0; i < st->ncache; i++)
        if (!st->cache[i].busy && strcmp(st->cache[i].sql, sql) == 0) {
            st->cache[i].busy = 1;
            st->cache[i].text = sql;
            *out = st->cache[i].q;
            pthread_mutex_unlock(&st->mu);
            return SQLITE_OK;
        }
    pthread_mutex_unlock(&st->mu);
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &q, NULL);
    if (rc != SQLITE_OK) return rc;
    char *copy = strdup(sql);
    pthread_mutex_lock(&st->mu);
    if (copy && st->ncache < STMT_CACHE) {
        st->cache[st->ncache].sql = copy;
        st->cache[st->ncache].text = sql;
        st->cache[st->ncache].q = q;
        st->cache[st->ncache].busy = 1;
        st->ncache++;
        copy = NULL;
    }
    pthread_mutex_unlock(&st->mu);
    free(copy);
    *out = q;
    return SQLITE_OK;
}

sqlite3 *dwf__store_db(dwf__store *st) { return st->db; }
const unsigned char *dwf__store_token_key(const dwf__store *st) { return st->token_key; }
const char *dwf__store_path(dwf__store *st) { return st->path; }

/* BEGIN and COMMIT run once per checkpoint: through the statement cache, not sqlite3_exec,
 * which compiles its SQL text every time. */
static int exec_cached(dwf__store *st, const char *sql)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_get(st, sql, &q);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(q);
    dwf__sql_done(st, q);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* The store's files are still the ones SQLite has open (store_file.c; an in-memory store has
 * none). When not, SQLite is told to keep the log at PATH-wal as it is when it closes: it would
 * otherwise remove that path after checkpointing its own (open) log, or empty the log it keeps
 * (log_keep: journal_size_limit), and the file there now is not one dwf made (or is a log whose
 * store was replaced, which the next open must refuse). */
static int files_same(dwf__store *st, dwf_error *err)
{
    if (st->in_memory || dwf__storefile_same(st->path, &st->file, err) == 0) return 0;
    int keep = 1;
    sqlite3_file_control(st->db, "main", SQLITE_FCNTL_PERSIST_WAL, &keep);
    sqlite3_exec(st->db, "PRAGMA journal_size_limit=-1", NULL, NULL, NULL);
    return -1;
}

/* The files are checked at the batch's COMMIT (dwf__store_commit_batch), not when it opens nor
 * for each call joining it: a file replaced or deleted before that COMMIT is found there, which
 * fails every call of the batch and rolls it back, so no call's writes land in a replaced file
 * and none is acknowledged; checking at BEGIN too found nothing more (a transaction's reads of
 * the old file only end in its failed COMMIT). Two stats per call were 13 of serve's ~190
 * system calls per execution (bench/throughput.sh's Event row), and at BEGIN two of an
 * at-most-once step's six file checks (strace). */
int dwf__store_begin(dwf__store *st, dwf_error *err)
{
    st->calls++;
    int opened = sqlite3_get_autocommit(st->db);
    int rc = opened ? exec_cached(st, "BEGIN IMMEDIATE") : SQLITE_OK;
    if (rc != SQLITE_OK) return dwf__store_fail(st, rc, err);
    if (st->in_memory) return 0; /* dwf test: a transaction per call, nothing to share a flush */
    /* The call that opens the batch needs no savepoint: it holds the service's lock until it has
     * joined, so a failure of it rolls back a transaction holding only its own work
     * (dwf__store_rollback). A savepoint copies every page the call changes to the sub-journal
     * first, and a lone call (dwf run, a quiet serve) is always the opener. */
    if (opened) return 0;
    if ((rc = exec_cached(st, "SAVEPOINT call")) == SQLITE_OK) {
        st->in_call = 1;
        return 0;
    }
    dwf__store_fail(st, rc, err);
    if (opened && !sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

/* SQLite rolled the open batch back under a failing statement (a full disk, an I/O error):
 * the calls already in it are lost, so they fail with what the statement failed with. */
static void batch_lost(dwf__store *st, int rc)
{
    st->undos++;
    if (!sqlite3_get_autocommit(st->db) || dwf__sync_open_calls(st->sync) == 0) return;
    dwf_error e;
    dwf__store_fail(st, rc != SQLITE_OK ? rc : SQLITE_ABORT, &e);
    dwf__sync_batch_failed(st->sync, &e);
}

void dwf__store_check_batch(dwf__store *st)
{
    if (!st->in_memory) batch_lost(st, sqlite3_errcode(st->db));
}

int dwf__store_release(dwf__store *st, int waits, unsigned long long *ticket, unsigned long long *seen, int *act,
                       dwf_error *err)
{
    *ticket = 0;
    *act = DWF__SYNC_JOINED;
    if (seen) *seen = 0;
    st->calls++;
    if (st->in_memory) {
        int rc = exec_cached(st, "COMMIT");
        if (rc == SQLITE_OK) return 0;
        dwf__store_fail(st, rc, err);
        dwf__store_rollback(st);
        return -1;
    }
    int rc = sqlite3_get_autocommit(st->db) ? SQLITE_ABORT : st->in_call ? exec_cached(st, "RELEASE call") : SQLITE_OK;
    if (rc != SQLITE_OK) {
        dwf__store_fail(st, rc, err);
        dwf__store_rollback(st);
        return -1;
    }
    st->in_call = 0;
    *ticket = dwf__sync_join(st->sync, waits, seen, act);
    return 0;
}

void dwf__store_rollback(dwf__store *st)
{
    st->calls++;
    st->undos++; /* (a savepoint undone: no rollback hook) */
    if (st->in_memory) {
        if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return;
    }
    int rc = SQLITE_OK, code = sqlite3_errcode(st->db);
    if (st->in_call && !sqlite3_get_autocommit(st->db)) {
        rc = exec_cached(st, "ROLLBACK TO call");
        if (rc == SQLITE_OK) rc = exec_cached(st, "RELEASE call");
    }
    st->in_call = 0;
    if (sqlite3_get_autocommit(st->db)) {
        batch_lost(st, code);
        return;
    }
    /* Nobody else's work in it (or the savepoint could not be undone: the whole batch goes,
     * failing its calls): end the transaction, which frees the write lock for other processes. */
    if (rc != SQLITE_OK || dwf__sync_open_calls(st->sync) == 0) {
        if (rc != SQLITE_OK && dwf__sync_open_calls(st->sync)) {
            dwf_error e;
            dwf__store_fail(st, rc, &e);
            dwf__sync_batch_failed(st->sync, &e);
        }
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    }
}

int dwf__store_commit_batch(dwf__store *st, dwf_error *err)
{
    st->calls++;
    if (st->in_memory || sqlite3_get_autocommit(st->db)) return 0;
    /* SQLite would commit into a deleted or replaced file and report success. */
    int r = files_same(st, err);
    if (r == 0) log_size(st);
    int rc = r == 0 ? exec_cached(st, "COMMIT") : SQLITE_OK;
    if (r == 0 && rc == SQLITE_OK) {
        dwf__sync_batch_committed(st->sync);
        return 0;
    }
    if (r == 0) {
        dwf__store_fail(st, rc, err);
        size_t n = strlen(err->message);
        snprintf(err->message + n, sizeof err->message - n,
                 " (the transaction holding this call was not committed: none of its changes were made)");
    }
    if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    st->undos++;
    dwf__sync_batch_failed(st->sync, err);
    return -1;
}

/* The flusher's COMMIT of the open batch (store_sync.c), under the service's lock. */
static int commit_open_batch(void *arg)
{
    dwf_error e;
    return dwf__store_commit_batch(arg, &e);
}

/* `copy`: SQLite copies the text arguments (the statement is stepped after the caller's
 * strings may be gone); 0: they outlive every step (dwf__sql_exec steps it to the end first). */
static sqlite3_stmt *prepare_v(dwf__store *st, dwf_error *err, const char *sql, int copy, const char *types,
                               va_list ap)
{
    sqlite3_stmt *q = NULL;
    int rc = stmt_get(st, sql, &q);
    if (rc != SQLITE_OK) {
        dwf__store_fail(st, rc, err);
        return NULL;
    }
    for (int i = 0; types && types[i]; i++) {
        switch (types[i]) {
        case 's': {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(q, i + 1, s, -1, copy ? SQLITE_TRANSIENT : SQLITE_STATIC)
                   : sqlite3_bind_null(q, i + 1);
            break;
        }
        case 'i': rc = sqlite3_bind_int64(q, i + 1, va_arg(ap, long long)); break;
        case 'd': rc = sqlite3_bind_double(q, i + 1, va_arg(ap, double)); break;
        default: rc = SQLITE_MISUSE;
        }
        if (rc != SQLITE_OK) {
            dwf__store_fail(st, rc, err);
            dwf__sql_done(st, q);
            return NULL;
        }
    }
    return q;
}

sqlite3_stmt *dwf__sql_prepare(dwf__store *st, dwf_error *err, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    sqlite3_stmt *q = prepare_v(st, err, sql, 1, types, ap);
    va_end(ap);
    return q;
}

int dwf__sql_step(dwf__store *st, sqlite3_stmt *q, dwf_error *err)
{
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) return 1;
    if (rc == SQLITE_DONE) return 0;
    return dwf__store_fail(st, rc, err);
}

int dwf__sql_exec(dwf__store *st, dwf_error *err, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    sqlite3_stmt *q = prepare_v(st, err, sql, 0, types, ap);
    va_end(ap);
    if (!q) return -1;
    int r;
    while ((r = dwf__sql_step(st, q, err)) == 1) {}
    dwf__sql_done(st, q);
    return r < 0 ? -1 : 0;
}

char *dwf__col_strdup(sqlite3_stmt *q, int col, int *oom)
{
    if (sqlite3_column_type(q, col) == SQLITE_NULL) return NULL;
    const unsigned char *t = sqlite3_column_text(q, col);
    char *s = t ? strdup((const char *)t) : NULL;
    if (!s) *oom = 1;
    return s;
}

cJSON *dwf__col_json(dwf__store *st, sqlite3_stmt *q, int col, const char *what, dwf_error *err)
{
    const char *t = sqlite3_column_type(q, col) == SQLITE_NULL ? NULL : (const char *)sqlite3_column_text(q, col);
    cJSON *j = t ? cJSON_Parse(t) : NULL;
    if (j) return j;
    /* (cJSON does not tell a parse error from an allocation failure; with JSON dwf itself
     * wrote, the first is a damaged store and the second all but impossible.) */
    dwf__store_err(err, DWF_ERRORTYPE_STORE_CORRUPT, "the store %s is corrupt: %s is %s; nothing was changed",
                   st->path, what, t ? "not valid JSON" : "missing");
    return NULL;
}

int dwf__set_str(char **slot, const char *v)
{
    char *n = NULL;
    if (v && !(n = strdup(v))) return -1;
    free(*slot);
    *slot = n;
    return 0;
}

/* ---- the store unchanged since (store_mark) ---------------------------------------------- */
/* The caches kept between calls (the kept rows, the timer note) each rest on a mark: the store
 * is as it was when the mark was taken, but for the writes the cache was told of and carried its
 * mark past. One mechanism for both, so that neither can go stale on its own. A mark holds while
 *   - no row was written on this connection since (sqlite3_total_changes: every INSERT, UPDATE
 *     and DELETE of any statement, by the service, dwf serve's registry or a test's own SQL),
 *     except by writes reported after them (dwf__store_wrote, dwf__store_op_kept, the execution
 *     row's save) as harmless to that cache, which carry its mark on when it held just before;
 *   - nothing was undone: no transaction rolled back (the rollback hook: ROLLBACK, a failed
 *     COMMIT, SQLite's own rollback under a failing statement) and no call's savepoint (undos);
 *   - no other connection committed, in this process or another (`dwf serve`, `dwf history`,
 *     the console, another `dwf run`): SQLite's PRAGMA data_version, which changes when and only
 *     when another connection commits, read once per call (no other connection can commit while
 *     a call holds the write lock; dv_call).
 * A mark is taken only inside a transaction, where data_version names the state it is in. */
static void rolled_back(void *arg) { ((dwf__store *)arg)->undos++; }

/* PRAGMA data_version: once per call inside its transaction. 0 or -1. */
static int data_version(dwf__store *st, sqlite3_int64 *v)
{
    int in_tx = !sqlite3_get_autocommit(st->db);
    if (in_tx && st->dv_call == st->calls) {
        *v = st->dv;
        return 0;
    }
    sqlite3_stmt *q = NULL;
    if (stmt_get(st, "PRAGMA data_version", &q) != SQLITE_OK) return -1;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) *v = sqlite3_column_int64(q, 0);
    dwf__sql_done(st, q);
    if (rc != SQLITE_ROW) return -1;
    if (in_tx) {
        st->dv = *v;
        st->dv_call = st->calls;
    }
    return 0;
}

/* A new mark: 0, or -1 (outside a transaction, or data_version unread: no mark). */
static int mark_take(dwf__store *st, store_mark *m)
{
    m->valid = 0;
    if (sqlite3_get_autocommit(st->db) || data_version(st, &m->version) != 0) return -1;
    m->changes = sqlite3_total_changes64(st->db);
    m->undos = st->undos;
    m->valid = 1;
    return 0;
}

/* Nothing written on this connection since the mark but what was carried, nothing undone. */
static int mark_unwritten(const dwf__store *st, const store_mark *m)
{
    return m->valid && sqlite3_total_changes64(st->db) == m->changes && st->undos == m->undos;
}

/* The mark holds (and no other connection committed since); else it is dropped. */
static int mark_holds(dwf__store *st, store_mark *m)
{
    sqlite3_int64 v;
    if (mark_unwritten(st, m) && data_version(st, &v) == 0 && v == m->version) return 1;
    m->valid = 0;
    return 0;
}

/* After a write (w: taken before it) its caller names harmless to the mark's cache: the mark
 * moves past it when nothing else was written or undone since the mark (it stays behind
 * otherwise, and so no longer holds: a write that keeps its row then takes a new one). 0, or -1
 * when not carried. */
static int mark_carry(dwf__store *st, store_mark *m, const dwf__store_write *w)
{
    if (!m->valid || m->changes != w->before || m->undos != st->undos) return -1;
    m->changes = sqlite3_total_changes64(st->db);
    return 0;
}

dwf__store_write dwf__store_write_begin(dwf__store *st)
{
    return (dwf__store_write){.before = sqlite3_total_changes64(st->db)};
}

/* What each cache is told of a write: the timer note reads the timers and the running
 * executions' status and clock offset, so every write but one of those is harmless to it; the
 * kept rows are an execution's row and an operation's, so only the events' rows are harmless to
 * them (a write of one of those rows keeps it instead: rk_past). */
static void tn_past(dwf__store *st, const dwf__store_write *w, unsigned touched)
{
    if (!(touched & DWF__WROTE_EXEC_STATUS)) mark_carry(st, &st->tn, w);
}

void dwf__store_wrote(dwf__store *st, const dwf__store_write *w, unsigned touched)
{
    tn_past(st, w, touched);
    if (touched == DWF__WROTE_EVENTS) mark_carry(st, &st->rk, w);
}

/* ---- the rows kept between calls (row_keep) ---------------------------------------------- */
/* A checkpoint reads its execution's row and, for a STEP's SUCCEED, the operation it closes,
 * both written by the call before it (its START): about 20,000 and 15,000 of the ~210,000
 * instructions of an at-most-once step (callgrind), SQL and parsing. So the store keeps the
 * execution row it last saved or inserted and the operation row it last wrote (its JSON text),
 * and answers a load of the same row from them while their mark (rk) holds: the writes that
 * keep rows here carry it on (rk_past). Any doubt drops both rows and the next load reads the
 * store, as before. */
/* The Ids of the execution's operations (rk_ids): before each START the service looks its Id up
 * (op_load in rows.c), a SELECT on the index by Id that finds nothing (~5,000 instructions of an
 * at-most-once step, callgrind). The set answers "no such row" from memory. It is one of the
 * kept rows: filled from the store while the execution has few operations (IDS_FILL_MAX: a
 * fill costs a read of each, so executions taking turns on one handle never pay more than a
 * few), each Id written after that added as its row is kept (dwf__store_op_kept), dropped with
 * the kept rows. A hash set of its own (hand-written: neither SQLite nor cJSON has one; the
 * service's opcache keys its held operations the same way). */
#define IDS_FILL_MAX 16
#define IDS_MAX 65536 /* past this many, the set is dropped (the SELECT again, no memory held) */

static unsigned long long id_hash(const char *id)
{
    unsigned long long h = 1469598103934665603ULL; /* FNV-1a */
    for (const char *p = id; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static void ids_drop(dwf__store *st)
{
    for (size_t i = 0; i < st->rk_ids.cap; i++) free(st->rk_ids.slot[i]);
    free(st->rk_ids.slot);
    st->rk_ids.slot = NULL;
    st->rk_ids.cap = st->rk_ids.n = 0;
    st->rk_ids.on = 0;
}

/* The slot holding id, or the empty one where it would go. */
static char **ids_slot(char **slot, size_t cap, const char *id)
{
    size_t i = (size_t)id_hash(id) & (cap - 1);
    while (slot[i] && strcmp(slot[i], id) != 0) i = (i + 1) & (cap - 1);
    return &slot[i];
}

static int ids_has(const dwf__store *st, const char *id)
{
    return st->rk_ids.cap && *ids_slot(st->rk_ids.slot, st->rk_ids.cap, id) != NULL;
}

/* Add a copy of id (kept: the copy is the set's). 0, or -1 (out of memory, or past IDS_MAX: the
 * set is dropped). */
static int ids_add(dwf__store *st, const char *id)
{
    if (st->rk_ids.n >= IDS_MAX) {
        ids_drop(st);
        return -1;
    }
    if (2 * (st->rk_ids.n + 1) > st->rk_ids.cap) {
        size_t cap = st->rk_ids.cap ? 2 * st->rk_ids.cap : 64;
        char **slot = calloc(cap, sizeof *slot);
        if (!slot) {
            ids_drop(st);
            return -1;
        }
        for (size_t i = 0; i < st->rk_ids.cap; i++)
            if (st->rk_ids.slot[i]) *ids_slot(slot, cap, st->rk_ids.slot[i]) = st->rk_ids.slot[i];
        free(st->rk_ids.slot);
        st->rk_ids.slot = slot;
        st->rk_ids.cap = cap;
    }
    char **at = ids_slot(st->rk_ids.slot, st->rk_ids.cap, id);
    if (*at) return 0;
    if (!(*at = strdup(id))) {
        ids_drop(st);
        return -1;
    }
    st->rk_ids.n++;
    return 0;
}

static void rk_drop(dwf__store *st)
{
    dwf__exec_free(st->rk_exec);
    free(st->rk_op_id);
    free(st->rk_op_json);
    cJSON_Delete(st->rk_op);
    st->rk_op = NULL;
    ids_drop(st);
    st->rk_exec = NULL;
    st->rk_op_id = st->rk_op_json = NULL;
    st->rk.valid = 0;
}

/* The kept rows are the store's: else they are dropped. */
static int rk_fresh(dwf__store *st)
{
    if (mark_holds(st, &st->rk)) return 1;
    rk_drop(st);
    return 0;
}

/* After a write that keeps its row (w: taken before it): the mark moves past it, or, when it did
 * not hold just before, the rows kept before are dropped and the mark starts here. 0, or -1
 * when the row cannot be kept (outside a transaction). */
static int rk_past(dwf__store *st, const dwf__store_write *w)
{
    if (!sqlite3_get_autocommit(st->db) && mark_carry(st, &st->rk, w) == 0) return 0;
    rk_drop(st);
    return mark_take(st, &st->rk);
}

void dwf__store_op_kept(dwf__store *st, const dwf__store_write *w, long long exec_no, const char *op_id,
                        long long start_seq, char *json)
{
    tn_past(st, w, DWF__WROTE_OPERATION);
    char *id = op_id && rk_past(st, w) == 0 ? strdup(op_id) : NULL;
    if (!id) ids_drop(st);
    else if (st->rk_ids.on && st->rk_ids.no == exec_no) ids_add(st, op_id);
    free(st->rk_op_id);
    free(st->rk_op_json);
    cJSON_Delete(st->rk_op);
    st->rk_op = NULL;
    st->rk_op_id = id;
    st->rk_op_json = id ? json : NULL;
    if (!id) free(json);
    st->rk_op_no = exec_no;
    st->rk_op_seq = start_seq;
}

const char *dwf__store_op_cached(dwf__store *st, long long exec_no, const char *op_id, long long *start_seq,
                                 cJSON **parsed)
{
    *parsed = NULL;
    if (!st->rk_op_json || st->rk_op_no != exec_no || strcmp(st->rk_op_id, op_id) != 0 || !rk_fresh(st)) return NULL;
    *start_seq = st->rk_op_seq;
    *parsed = st->rk_op; /* (handed over: a load after this one parses the text) */
    st->rk_op = NULL;
    return st->rk_op_json;
}

/* Parsing the kept text back was ~7,400 instructions of each at-most-once step (callgrind: its
 * timestamps' strtod, a malloc per item); a copy of the operation its writer still holds is
 * about a third of that. Only for the operation row kept now (the same execution number, Id and
 * start sequence; the rows written after it, if any, were events, which keep it: schema 16),
 * else it is freed. */
void dwf__store_op_parsed(dwf__store *st, long long exec_no, const char *op_id, long long start_seq, cJSON *op)
{
    if (!op) return;
    if (!st->rk_op_json || st->rk_op || st->rk_op_no != exec_no || st->rk_op_seq != start_seq || !op_id ||
        strcmp(st->rk_op_id, op_id) != 0) {
        cJSON_Delete(op);
        return;
    }
    st->rk_op = op;
}

int dwf__store_op_id_known(dwf__store *st, long long exec_no, long long op_count, const char *op_id)
{
    if (st->rk_ids.on && st->rk_ids.no == exec_no) {
        if (rk_fresh(st)) return ids_has(st, op_id);
    } else if (op_count <= IDS_FILL_MAX && !sqlite3_get_autocommit(st->db)) {
        /* Filled under the kept rows' mark: the one that holds now, or a new one (the rows kept
         * under the old one are dropped: they were no longer the store's anyway). */
        if (!rk_fresh(st) && mark_take(st, &st->rk) != 0) return -1;
        ids_drop(st);
        st->rk_ids.no = exec_no;
        st->rk_ids.on = 1;
        sqlite3_stmt *q = NULL;
        if (stmt_get(st, "SELECT op_id FROM operations WHERE exec_no=?1 AND op_id IS NOT NULL", &q) != SQLITE_OK) {
            ids_drop(st);
            return -1;
        }
        int rc = sqlite3_bind_int64(q, 1, exec_no), ok = rc == SQLITE_OK;
        while (ok && (rc = sqlite3_step(q)) == SQLITE_ROW) {
            const char *id = (const char *)sqlite3_column_text(q, 0);
            ok = id && ids_add(st, id) == 0;
        }
        dwf__sql_done(st, q);
        if (!ok || rc != SQLITE_DONE) {
            ids_drop(st);
            return -1;
        }
        return ids_has(st, op_id);
    }
    return -1;
}

static dwf__exec *exec_dup(const dwf__exec *e);

/* After e's row was written as e->loaded holds it (w: taken before the write, touched: what it
 * changed): a copy, or with `take` e->loaded itself (e->loaded is then NULL: the caller saves e
 * no more). */
static void rk_exec_kept(dwf__store *st, const dwf__store_write *w, unsigned touched, dwf__exec *e, int take)
{
    dwf__exec *row = NULL;
    tn_past(st, w, touched);
    if (rk_past(st, w) == 0 && e->loaded) {
        row = take ? e->loaded : exec_dup(e->loaded);
        if (take) e->loaded = NULL;
    }
    dwf__exec_free(st->rk_exec);
    st->rk_exec = row;
}

/* ---- the timer note (timer_note) --------------------------------------------------------- */
/* Every checkpoint first asks whether a timer of its execution tree is due (timers.c): ~8,000
 * instructions of an at-most-once step (callgrind), a statement that nearly always finds none.
 * What the store holds decides the answer for a while: no timer is due before the earliest
 * due_ms of the table less the largest clock offset of a running execution (the check's own
 * bound). So the check notes that instant, and a later call skips it before then while the note's
 * mark (tn) holds: the writes that touch neither timers nor a running execution's clock offset or
 * status (the operations' and history events' rows, an execution row's save that leaves those two
 * columns alone) carry it on. Taken and used only inside a transaction; any doubt drops it and the
 * check reads the store, as before. */
void dwf__store_timer_note(dwf__store *st, double next)
{
    if (mark_take(st, &st->tn) == 0) st->tn_next = next;
}

int dwf__store_timer_quiet(dwf__store *st, double now)
{
    if (!st->tn.valid) return -1;
    if (sqlite3_get_autocommit(st->db) || !mark_holds(st, &st->tn)) {
        st->tn.valid = 0;
        return -1;
    }
    return now < st->tn_next;
}

/* ---- executions ------------------------------------------------------------------------ */
#define EXEC_COLS                                                                              \
    "id, arn, name, function_name, status, input, result, error, parent_arn, parent_op, "     \
    "root_arn, start_ms, end_ms, next_invoke_ms, inv_started_ms, seq, seen_seq, op_count, "   \
    "event_count, retention_days, timeout_s, wake, inv_open, inv_attempts, inv_owner, inv_request, " \
    "clock_offset_ms, live_token, token_count"

void dwf__exec_free(dwf__exec *e)
{
    if (!e) return;
    free(e->id); free(e->arn); free(e->name); free(e->function_name);
    free(e->input); free(e->result); free(e->error);
    free(e->parent_arn); free(e->parent_op); free(e->root_arn); free(e->inv_owner); free(e->inv_request);
    free(e->live_token);
    dwf__exec_free(e->loaded);
    free(e);
}

/* An integer column of an execution row, checked: a value outside [lo, hi] (or not an integer)
 * can only come from a damaged or tampered store, and would overflow the arithmetic done on it
 * (event_count + 1, 1 << inv_attempts). */
typedef struct int_col {
    int col;
    const char *name;
    long long lo, hi;
} int_col;

#define COUNT_MAX 9007199254740991LL /* 2^53 - 1: exact as a double, as EventId is on the wire */
static const int_col exec_ints[] = {
    {15, "seq", 0, COUNT_MAX},         {16, "seen_seq", 0, COUNT_MAX}, {17, "op_count", 0, COUNT_MAX},
    {18, "event_count", 0, COUNT_MAX}, {19, "retention_days", 0, 36500}, {20, "timeout_s", 0, INT_MAX},
    {21, "wake", 0, 1},                {22, "inv_open", 0, 1},            {23, "inv_attempts", 0, 1000},
    {28, "token_count", 0, COUNT_MAX},
};
static const int_col exec_times[] = {{11, "start_ms", 0, 0}, {12, "end_ms", 0, 0}, {13, "next_invoke_ms", 0, 0},
                                     {14, "inv_started_ms", 0, 0}};

static int exec_row_corrupt(sqlite3_stmt *q, const char *path, dwf_error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int exec_row_corrupt(sqlite3_stmt *q, const char *path, dwf_error *err, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *id = (const char *)sqlite3_column_text(q, 0);
    return dwf__store_err(err, DWF_ERRORTYPE_STORE_CORRUPT,
                          "the store %s is corrupt: execution %s has %s; nothing was changed", path,
                          id ? id : "(no id)", what);
}

/* Check what the service computes with: the identity, the status, the counters, the times. */
static int exec_row_check(sqlite3_stmt *q, const char *path, dwf_error *err)
{
    static const char *const names[] = {"id", "arn", "name", "function_name", "status"};
    for (int i = 0; i < 5; i++)
        if (sqlite3_column_type(q, i) != SQLITE_TEXT) return exec_row_corrupt(q, path, err, "no %s", names[i]);
    enum dwf_execstatus status = dwf_execstatus_parse((const char *)sqlite3_column_text(q, 4));
    if (status == DWF_EXECSTATUS_NONE || status == DWF_EXECSTATUS_UNKNOWN)
        return exec_row_corrupt(q, path, err, "the unknown status '%.40s'", (const char *)sqlite3_column_text(q, 4));
    for (size_t i = 0; i < sizeof exec_ints / sizeof exec_ints[0]; i++) {
        const int_col *c = &exec_ints[i];
        long long v = sqlite3_column_int64(q, c->col);
        if (sqlite3_column_type(q, c->col) != SQLITE_INTEGER || v < c->lo || v > c->hi)
            return exec_row_corrupt(q, path, err, "%s = %.40s (an integer in %lld..%lld is expected)", c->name,
                                    sqlite3_column_type(q, c->col) == SQLITE_NULL
                                        ? "NULL"
                                        : (const char *)sqlite3_column_text(q, c->col),
                                    c->lo, c->hi);
    }
    for (size_t i = 0; i < sizeof exec_times / sizeof exec_times[0]; i++) {
        int t = sqlite3_column_type(q, exec_times[i].col);
        double v = sqlite3_column_double(q, exec_times[i].col);
        if (t == SQLITE_NULL) continue; /* 0: never set */
        if ((t != SQLITE_FLOAT && t != SQLITE_INTEGER) || !(v >= -1e15 && v <= 1e15))
            return exec_row_corrupt(q, path, err, "%s = %.40s (milliseconds since 1970 are expected)",
                                    exec_times[i].name, (const char *)sqlite3_column_text(q, exec_times[i].col));
    }
    return 0;
}

/* A checked row's columns into a new execution; NULL when out of memory. */
static dwf__exec *exec_of_row(sqlite3_stmt *q)
{
    dwf__exec *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    int oom = 0;
    char **strs[] = {&e->id, &e->arn, &e->name, &e->function_name, NULL, &e->input,
                     &e->result, &e->error, &e->parent_arn, &e->parent_op, &e->root_arn};
    for (int i = 0; i < 11; i++)
        if (strs[i]) *strs[i] = dwf__col_strdup(q, i, &oom);
    e->status = dwf_execstatus_parse((const char *)sqlite3_column_text(q, 4));
    e->start_ms = sqlite3_column_double(q, 11);
    e->end_ms = sqlite3_column_double(q, 12);
    e->next_invoke_ms = sqlite3_column_double(q, 13);
    e->inv_started_ms = sqlite3_column_double(q, 14);
    e->seq = sqlite3_column_int64(q, 15);
    e->seen_seq = sqlite3_column_int64(q, 16);
    e->op_count = sqlite3_column_int64(q, 17);
    e->event_count = sqlite3_column_int64(q, 18);
    e->retention_days = sqlite3_column_int(q, 19);
    e->timeout_s = sqlite3_column_int(q, 20);
    e->wake = sqlite3_column_int(q, 21);
    e->inv_open = sqlite3_column_int(q, 22);
    e->inv_attempts = sqlite3_column_int(q, 23);
    e->inv_owner = dwf__col_strdup(q, 24, &oom);
    e->inv_request = dwf__col_strdup(q, 25, &oom);
    e->clock_offset_ms = sqlite3_column_double(q, 26);
    e->live_token = dwf__col_strdup(q, 27, &oom);
    e->token_count = sqlite3_column_int64(q, 28);
    e->no = sqlite3_column_int64(q, 29);
    if (oom) {
        dwf__exec_free(e);
        return NULL;
    }
    return e;
}

/* The execution, and a second copy of the row as read (e->loaded) for dwf__exec_save. */
static int exec_from_row(sqlite3_stmt *q, const char *path, dwf__exec **out, dwf_error *err)
{
    if (exec_row_check(q, path, err) != 0) return -1;
    dwf__exec *e = exec_of_row(q);
    if (e && !(e->loaded = exec_dup(e))) {
        dwf__exec_free(e);
        e = NULL;
    }
    if (!e) {
        dwf__store_err(err, DWF_ERRORTYPE_SERVICE, "out of memory");
        return -1;
    }
    *out = e;
    return 0;
}

static int exec_load_q(dwf__store *st, sqlite3_stmt *q, dwf__exec **out, dwf_error *err)
{
    *out = NULL;
    if (!q) return -1;
    int r = dwf__sql_step(st, q, err);
    if (r == 1) r = exec_from_row(q, st->path, out, err);
    else if (r == 0) r = 1;
    dwf__sql_done(st, q);
    return r;
}

/* By ARN or by id, each through its own index: "arn=?1 OR id=?1" made SQLite probe both
 * indexes and merge the rowids, a third of what loading the row cost. An ARN starts with "arn:"
 * and an id (a UUID) does not, so the other column is only tried when the first finds nothing
 * (any string is still looked up as both, as before). */
int dwf__exec_load(dwf__store *st, const char *arn_or_id, dwf__exec **out, dwf_error *err)
{
    static const char *const by[2] = {"SELECT " EXEC_COLS ", no FROM executions WHERE arn=?1",
                                      "SELECT " EXEC_COLS ", no FROM executions WHERE id=?1"};
    int first = strncmp(arn_or_id, "arn:", 4) == 0 ? 0 : 1;
    /* The row kept from its last save (row_keep), looked up as the first query would. */
    dwf__exec *k = st->rk_exec;
    if (k && strcmp(arn_or_id, first ? k->id : k->arn) == 0 && rk_fresh(st) && st->rk_exec) {
        /* The kept row itself becomes the caller's e->loaded (one copy less): its save keeps
         * the row again. A caller that does not save leaves the next load to the store. */
        dwf__exec *e = exec_dup(k);
        if (e) {
            e->loaded = k;
            st->rk_exec = NULL;
            *out = e;
            return 0;
        }
    }
    int r = exec_load_q(st, dwf__sql_prepare(st, err, by[first], "s", arn_or_id), out, err);
    if (r == 1) r = exec_load_q(st, dwf__sql_prepare(st, err, by[!first], "s", arn_or_id), out, err);
    return r;
}

int dwf__exec_load_by_name(dwf__store *st, const char *function_name, const char *name,
                           dwf__exec **out, dwf_error *err)
{
    return exec_load_q(st, dwf__sql_prepare(st, err, "SELECT " EXEC_COLS ", no"
                                            " FROM executions WHERE function_name=?1 AND name=?2",
                                            "ss", function_name, name), out, err);
}

/* Every column of e's row as ?1..?29 in EXEC_COLS order, and its number as ?30 when with_no. */
static int exec_write(dwf__store *st, const dwf__exec *e, dwf_error *err, const char *sql, int with_no)
{
    return dwf__sql_exec(st, err, sql, with_no ? "sssssssssssddddiiiiiiiiissdsii" : "sssssssssssddddiiiiiiiiissdsi",
                         e->id, e->arn, e->name,
                         e->function_name, dwf_execstatus_name(e->status), e->input, e->result, e->error, e->parent_arn,
                         e->parent_op, e->root_arn, e->start_ms, e->end_ms, e->next_invoke_ms,
                         e->inv_started_ms, e->seq, e->seen_seq, e->op_count, e->event_count,
                         (long long)e->retention_days, (long long)e->timeout_s, (long long)e->wake,
                         (long long)e->inv_open, (long long)e->inv_attempts, e->inv_owner, e->inv_request,
                         e->clock_offset_ms, e->live_token, e->token_count, e->no);
}


/* The columns of an execution row after id, in EXEC_COLS order, and where each is in dwf__exec. */
typedef struct exec_col {
    const char *name;
    char kind; /* s string, d double, l long long, i int, S the status */
    size_t off;
} exec_col;
#define EC(n, k) {#n, k, offsetof(dwf__exec, n)}
static const exec_col exec_cols[] = {
    EC(arn, 's'), EC(name, 's'), EC(function_name, 's'), EC(status, 'S'), EC(input, 's'), EC(result, 's'),
    EC(error, 's'), EC(parent_arn, 's'), EC(parent_op, 's'), EC(root_arn, 's'), EC(start_ms, 'd'),
    EC(end_ms, 'd'), EC(next_invoke_ms, 'd'), EC(inv_started_ms, 'd'), EC(seq, 'l'), EC(seen_seq, 'l'),
    EC(op_count, 'l'), EC(event_count, 'l'), EC(retention_days, 'i'), EC(timeout_s, 'i'), EC(wake, 'i'),
    EC(inv_open, 'i'), EC(inv_attempts, 'i'), EC(inv_owner, 's'), EC(inv_request, 's'), EC(clock_offset_ms, 'd'), EC(live_token, 's'),
    EC(token_count, 'l'),
};
#undef EC
#define NEXEC_COLS (sizeof exec_cols / sizeof exec_cols[0])
/* dwf__exec_save numbers its parameters with two digits in a 1 KiB text */
_Static_assert(NEXEC_COLS + 1 < 100 && NEXEC_COLS * 24 + 64 < 1024, "dwf__exec_save's SQL text");

#define FIELD(e, c, type) (*(type *)((char *)(e) + (c)->off))

static int col_differs(const dwf__exec *a, const dwf__exec *b, const exec_col *c)
{
    switch (c->kind) {
    case 's': {
        const char *x = FIELD(a, c, char *), *y = FIELD(b, c, char *);
        return (x == NULL) != (y == NULL) || (x && strcmp(x, y) != 0);
    }
    case 'd': return FIELD(a, c, double) != FIELD(b, c, double);
    case 'l': return FIELD(a, c, long long) != FIELD(b, c, long long);
    case 'S': return FIELD(a, c, enum dwf_execstatus) != FIELD(b, c, enum dwf_execstatus);
    default: return FIELD(a, c, int) != FIELD(b, c, int);
    }
}

static int col_bind(sqlite3_stmt *q, int i, const dwf__exec *e, const exec_col *c)
{
    switch (c->kind) {
    case 's': {
        const char *v = FIELD(e, c, char *);
        return v ? sqlite3_bind_text(q, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(q, i);
    }
    case 'd': return sqlite3_bind_double(q, i, FIELD(e, c, double));
    case 'l': return sqlite3_bind_int64(q, i, FIELD(e, c, long long));
    case 'S': return sqlite3_bind_text(q, i, dwf_execstatus_name(FIELD(e, c, enum dwf_execstatus)), -1, SQLITE_STATIC);
    default: return sqlite3_bind_int64(q, i, FIELD(e, c, int));
    }
}

/* What was written is now what the row holds. 0, or -1 out of memory. */
static int col_copy(dwf__exec *to, const dwf__exec *from, const exec_col *c)
{
    if (c->kind == 's') return dwf__set_str(&FIELD(to, c, char *), FIELD(from, c, char *));
    size_t n = c->kind == 'd' ? sizeof(double) : c->kind == 'l' ? sizeof(long long)
             : c->kind == 'S' ? sizeof(enum dwf_execstatus) : sizeof(int);
    memcpy((char *)to + c->off, (const char *)from + c->off, n);
    return 0;
}

static int exec_save_all(dwf__store *st, const dwf__exec *e, dwf_error *err)
{
    return exec_write(st, e, err, "UPDATE executions SET arn=?2, name=?3, function_name=?4, status=?5,"
                                  " input=?6, result=?7, error=?8, parent_arn=?9, parent_op=?10,"
                                  " root_arn=?11, start_ms=?12, end_ms=?13, next_invoke_ms=?14,"
                                  " inv_started_ms=?15, seq=?16, seen_seq=?17, op_count=?18,"
                                  " event_count=?19, retention_days=?20, timeout_s=?21, wake=?22,"
                                  " inv_open=?23, inv_attempts=?24, inv_owner=?25, inv_request=?26,"
                                  " clock_offset_ms=?27, live_token=?28, token_count=?29 WHERE id=?1", 0);
}

/* Append s to the SQL text being built in sql (which has room for every column's assignment). */
static size_t sql_put(char *sql, size_t len, const char *s)
{
    size_t n = strlen(s);
    memcpy(sql + len, s, n + 1);
    return len + n;
}

/* Only the columns that changed since the row was read: an UPDATE naming a column of an index
 * (status, arn, name, function_name, root_arn, parent_arn, start_ms) rewrites that index's
 * entry even when the value is the same, and most saves change a few counters. The text is put
 * together without snprintf, which was 6,000 of the 25,000 instructions of a checkpoint's save
 * (callgrind). */
static int exec_save(dwf__store *st, dwf__exec *e, int last, dwf_error *err)
{
    if (!e->loaded) return exec_save_all(st, e, err);
    /* each column's name (at most 15 characters, in exec_cols), ", ", "=?" and two digits */
    char sql[1024];
    size_t len = sql_put(sql, 0, "UPDATE executions SET ");
    int n = 0;
    unsigned char changed[NEXEC_COLS];
    for (size_t i = 0; i < NEXEC_COLS; i++) {
        changed[i] = (unsigned char)col_differs(e, e->loaded, &exec_cols[i]);
        if (changed[i]) {
            char arg[8] = {'=', '?', (char)('0' + (n + 2) / 10), (char)('0' + (n + 2) % 10), '\0'};
            if (n + 2 < 10) arg[2] = (char)('0' + n + 2), arg[3] = '\0';
            len = sql_put(sql, len, n ? ", " : "");
            len = sql_put(sql, len, exec_cols[i].name);
            len = sql_put(sql, len, arg);
            n++;
        }
    }
    if (n == 0) return 0;
    sql_put(sql, len, " WHERE id=?1");
    dwf__store_write w = dwf__store_write_begin(st);
    sqlite3_stmt *q = dwf__sql_prepare(st, err, sql, "s", e->id);
    if (!q) return -1;
    int rc = SQLITE_OK, k = 2;
    for (size_t i = 0; rc == SQLITE_OK && i < NEXEC_COLS; i++)
        if (changed[i]) rc = col_bind(q, k++, e, &exec_cols[i]);
    int r = rc != SQLITE_OK ? dwf__store_fail(st, rc, err) : 0;
    if (r == 0)
        while ((r = dwf__sql_step(st, q, err)) == 1) {}
    dwf__sql_done(st, q);
    if (r < 0) return -1;
    /* (the timer note's bound reads a running execution's clock offset and status) */
    unsigned touched = DWF__WROTE_EXEC;
    for (size_t i = 0; i < NEXEC_COLS; i++)
        if (changed[i] && (exec_cols[i].off == offsetof(dwf__exec, status) ||
                           exec_cols[i].off == offsetof(dwf__exec, clock_offset_ms)))
            touched |= DWF__WROTE_EXEC_STATUS;
    for (size_t i = 0; i < NEXEC_COLS; i++)
        if (changed[i] && col_copy(e->loaded, e, &exec_cols[i]) != 0) {
            /* Out of memory: forget what the row held, so the next save writes every column. */
            dwf__exec_free(e->loaded);
            e->loaded = NULL;
            break;
        }
    rk_exec_kept(st, &w, touched, e, last);
    return 0;
}

int dwf__exec_save(dwf__store *st, dwf__exec *e, dwf_error *err) { return exec_save(st, e, 0, err); }

/* The row the store keeps (row_keep) is e->loaded itself, not a copy of it: a checkpoint saves
 * its execution once, at its end, and frees it; the copy was ~2,700 instructions of each
 * at-most-once step (callgrind). */
int dwf__exec_save_last(dwf__store *st, dwf__exec *e, dwf_error *err) { return exec_save(st, e, 1, err); }

/* A copy of e's row (its columns, without e->loaded); NULL when out of memory. Copied from the
 * structure, not read again from the statement's columns: half the cost of a load. */
static dwf__exec *exec_dup(const dwf__exec *e)
{
    dwf__exec *row = calloc(1, sizeof *row);
    int oom = !row || dwf__set_str(&row->id, e->id) != 0;
    for (size_t i = 0; !oom && i < NEXEC_COLS; i++) oom = col_copy(row, e, &exec_cols[i]) != 0;
    if (oom) {
        dwf__exec_free(row);
        return NULL;
    }
    row->no = e->no;
    return row;
}

int dwf__exec_number(dwf__store *st, dwf__exec *e, dwf_error *err)
{
    /* The next number: one past the largest (executions_no gives it at once). */
    sqlite3_stmt *q = dwf__sql_prepare(st, err, "SELECT IFNULL(MAX(no), 0) + 1 FROM executions", "");
    int r = q ? dwf__sql_step(st, q, err) : -1;
    if (r == 1) e->no = sqlite3_column_int64(q, 0);
    dwf__sql_done(st, q);
    if (r != 1) return r == 0 ? dwf__store_err(err, DWF_ERRORTYPE_SERVICE, "no number for execution %s", e->id) : -1;
    /* (its events' keys hold the number in 31 bits: see EVENTS_TABLE) */
    if (e->no < 1 || e->no > DWF__EXEC_NO_MAX)
        return dwf__store_err(err, DWF_ERRORTYPE_SERVICE, "the store %s has numbered %lld executions, the most it can",
                              st->path, DWF__EXEC_NO_MAX);
    return 0;
}

int dwf__exec_insert(dwf__store *st, dwf__exec *e, dwf_error *err)
{
    dwf__store_write w = dwf__store_write_begin(st);
    if (exec_write(st, e, err, "INSERT INTO executions(" EXEC_COLS ", no) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,"
                               "?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25,?26,?27,?28,?29,"
                               "?30)", 1) != 0)
        return -1;
    /* What the row now holds, for the saves that follow (without it they write every column). */
    dwf__exec *row = exec_dup(e);
    dwf__exec_free(e->loaded);
    e->loaded = row;
    rk_exec_kept(st, &w, DWF__WROTE_EXEC | DWF__WROTE_EXEC_STATUS, e, 0); /* (a new row: a status) */
    return 0;
}

int dwf__exec_delete(dwf__store *st, const char *id, dwf_error *err)
{
    /* operations (with the events, schema 16) and tokens are keyed by the execution's number
     * (schema 10; the first by a range of rowids, schema 11) */
    static const char *const tables[] = {"operations", "tokens", "timers", "callbacks", "calls"};
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        char sql[256];
        snprintf(sql, sizeof sql, "DELETE FROM %s WHERE %s", tables[i],
                 i < 1 ? "k BETWEEN " DWF__ROW_KEY("(SELECT no FROM executions WHERE id=?1)", "0") " AND "
                         DWF__ROW_KEY("(SELECT no FROM executions WHERE id=?1)", "4294967295")
                 : i < 2 ? "exec_no=(SELECT no FROM executions WHERE id=?1)" : "exec_id=?1");
        if (dwf__sql_exec(st, err, sql, "s", id) != 0) return -1;
    }
    return dwf__sql_exec(st, err, "DELETE FROM executions WHERE id=?1", "s", id);
}
