/*
 * store.h: the SQLite store under the service (store.c). Internal to the service:
 * only the files of service/ include it. The store owns the connection, the schema, transactions
 * and the mapping of SQLite failures to named errors; the service core owns what the rows mean.
 *
 * Schema (one row per thing, JSON where the API already has a shape):
 *   meta(key, value)                   (free for settings; before schema 8 the store-wide clock offset)
 *   functions(name, handler, source, config)      config = DurableConfig JSON; NULL = a plain
 *                                      (non-durable) function
 *   executions(id, arn, name, function_name, status, ...)   one row per durable execution
 *                                      (schema 2 added inv_owner, 3 inv_request,
 *                                      7 workflow_hash, 8 clock_offset_ms: each execution's virtual clock,
 *                                      10 live_token: the checkpoint token now current, and
 *                                      no: its number, the key of the three tables below)
 *   operations(exec_no, op_id, start_seq, change_seq, type, status, json)  Operation JSON, keyed
 *                                      by (exec_no, start_seq) (WITHOUT ROWID since schema 10;
 *                                      before it exec_id, the execution's id; 13 added outside:
 *                                      not written by its execution's own checkpoint, the rows
 *                                      of the index by change stamp)
 *   events(exec_no, event_id, json)    history events, EventId 1, 2, ... (WITHOUT ROWID, 10)
 *   timers(exec_id, op_id, kind, due_ms)   keyed by (exec_id, op_id, kind) (WITHOUT ROWID, 14)
 *   callbacks(callback_id, exec_id, op_id, state, timeout_s, heartbeat_s)
 *   tokens(token, exec_no, issued_ms)  every token issued before schema 12, keyed by (exec_no,
 *                                      token) (WITHOUT ROWID, 10; before it a live flag here);
 *                                      read only since 12, when tokens carry their own proof
 *                                      (rows.c) and executions.token_count counts them
 *   lambda_functions(name, version, config, code_sha256)   dwf serve's control plane (schema 5):
 *   lambda_code(sha256, zip)           a function version's configuration JSON and its zip
 *   iam_roles(name, role, policies)    Role JSON and {PolicyName: document}
 *   calls(id, exec_id, op_id, function_name, payload, state, owner, started_ms)
 *                                      a plain function a CHAINED_INVOKE calls (schema 8)
 */
#ifndef DWF_SERVICE_STORE_H
#define DWF_SERVICE_STORE_H

#include <sqlite3.h>
#include <sys/types.h>

/* RUNNING (dwf_execstatus_name) as an SQL literal: the partial indexes of running executions
 * (schema 15) say WHERE status='RUNNING', and a query uses one only if it names that literal,
 * not a bound parameter. */
#define DWF__SQL_RUNNING "'RUNNING'"
#include "dwf_host.h"
#include "dwf_protocol.h"

typedef struct dwf__store dwf__store;

/* SQLite's allocator: the per-thread cache of freed blocks (util/memcache.h) in front of malloc
 * (store_mem.c). Called once, before SQLite is first used (dwf__store_open's first call). */
void dwf__store_mem_setup(void);
/* Whether SQLite took it (not under AddressSanitizer or valgrind, nor after SQLite's start). */
int dwf__store_mem_installed(void);
/* Its methods, for the unit tests. */
const sqlite3_mem_methods *dwf__store_mem_methods(void);

/* Open (creating the file, its directory and the schema if needed). WAL, synchronous=NORMAL
 * (commits are flushed by the group commit, store_sync.c),
 * busy_timeout = busy_ms. Returns 0, or -1 with err filled (StoreCorruptException,
 * StoreLockedException, ServiceException). */
int dwf__store_open(const char *path, int busy_ms, dwf__store **out, dwf_error *err);
void dwf__store_close(dwf__store *st);
sqlite3 *dwf__store_db(dwf__store *st);
/* The MAC key of this store's checkpoint tokens (schema 12: meta's token_key), read at open. */
#define DWF__TOKEN_KEY_LEN 32
const unsigned char *dwf__store_token_key(const dwf__store *st);
const char *dwf__store_path(dwf__store *st);

/* Fill err with a named error (type, printf message); always returns -1. */
int dwf__store_err(dwf_error *err, enum dwf_errortype type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- the files under the store (store_file.c) ---------------------------------------------- */
/* The file SQLite has open, as it was when opened. */
typedef struct dwf__storefile {
    dev_t dev;
    ino_t ino;
    int has_wal; /* the -wal's identity is known (once SQLite has it open) */
    dev_t wal_dev;
    ino_t wal_ino;
} dwf__storefile;
/* Before SQLite opens `path`: a regular file (or none yet), writable with its directory
 * (StoreReadOnlyException), and any PATH-wal SQLite would replay is of this SQLite's format and
 * of this store (StoreCorruptException). *exists says whether the file was there. */
int dwf__storefile_precheck(const char *path, int *exists, dwf_error *err);
/* Right after opening: record the file's device and inode (StoreReplacedException if the path
 * no longer names the file SQLite opened). */
int dwf__storefile_identify(sqlite3 *db, const char *path, dwf__storefile *id, dwf_error *err);
/* Once the store is set up (SQLite then has PATH-wal open for as long as the connection
 * lives): record the -wal's device and inode (StoreReplacedException if PATH-wal is gone). */
int dwf__storefile_identify_wal(sqlite3 *db, const char *path, dwf__storefile *id, dwf_error *err);
/* Do the path and PATH-wal still name those files? 0, or -1 with StoreReplacedException. */
int dwf__storefile_same(const char *path, const dwf__storefile *id, dwf_error *err);
/* The device and inode of `path` (of `fd` when path is NULL), and its size when `size` is not
 * NULL, without reading its times (see store_file.c: reading them makes each commit's
 * fdatasync write the log's inode too). 0, or -1 with errno. */
int dwf__storefile_id(int fd, const char *path, dev_t *dev, ino_t *ino, off_t *size);
/* Does PATH-wal hold a log SQLite would replay (a header whose checksum holds)? 0 when there is
 * none or only an emptied one (the header zeroed by a clean close, dwf__storefile_keep_log), else
 * 1 (also when it cannot be read). */
int dwf__storefile_log_live(const char *path);
/* The log's blocks are kept: SQLite's truncation of the log SQLite has open to nothing (at the
 * clean close of a persisted log, journal_size_limit >= 0, and in a TRUNCATE checkpoint) writes
 * zeros over its 32-byte header instead, which is an empty log to SQLite's recovery. 1 when
 * that is set for the connection's log. */
int dwf__storefile_keep_log(sqlite3 *db);
/* Extend the log SQLite has open (id) with zeros up to `bytes`, when it is shorter and its disk
 * has `spare` bytes free. The caller holds the store's write lock (nobody else appends to the
 * log meanwhile) and flushes the log after. 1 when the log now has that size, else 0. */
int dwf__storefile_size_log(const char *path, const dwf__storefile *id, off_t bytes, off_t spare);
/* Remove a store a failed open created (and its -wal, -shm), and the directories it made
 * (made_dir: the outermost one, NULL if none) while they are empty. */
void dwf__storefile_discard(const char *path, const char *made_dir);

/* The work SQLite has done for this store's statements since it was opened (counted as each
 * statement is done with): virtual-machine steps, and the steps of those that walked a whole
 * table. What a service call costs in these does not depend on the machine's load, so tests can
 * show that it does not grow with the number of executions kept (dwf_service_work). */
void dwf__store_work(dwf__store *st, long long *vm_steps, long long *fullscan_steps);
/* Set the page cache to kib KiB (PRAGMA cache_size); 0 or -1. */
int dwf__store_cache_kib(dwf__store *st, int kib);
/* Page cache misses since the open (SQLITE_DBSTATUS_CACHE_MISS). */
long long dwf__store_cache_misses(dwf__store *st);

/* ---- group commit (store_sync.c) -------------------------------------------------------------- */
/* A batch: one open write transaction holding the calls that arrive while the previous flush
 * runs, each under its own savepoint; its COMMIT and one fdatasync make all of them durable.
 * Tickets are batch numbers. */
typedef struct dwf__sync dwf__sync;
typedef struct dwf__sync_stats {
    unsigned long long commits;         /* calls committed: each call's work joined a batch */
    unsigned long long transactions;    /* SQLite transactions committed (COMMITs of batches) */
    unsigned long long flushes;         /* fdatasyncs that made batches durable */
    unsigned long long flushed_commits; /* calls those flushes covered */
    unsigned long long largest_group;   /* the most calls one flush covered */
    unsigned long long failed_calls;    /* calls of batches whose COMMIT failed */
    unsigned long long wakeups;         /* waiters woken: once when decided, or to lead the next flush */
} dwf__sync_stats;
dwf__sync *dwf__sync_new(const char *db_path);
void dwf__sync_free(dwf__sync *s);
/* The store's COMMIT of the open batch (store.c; 0 or -1, the outcome recorded through
 * dwf__sync_batch_committed / _failed), and the service's lock it runs under (service.c). */
void dwf__sync_set_committer(dwf__sync *s, int (*commit)(void *), void *arg);
/* The identity of the log SQLite writes (store_file.c: it keeps that file while the connection
 * is open): flushes then go to that file, opened once, with no check of the path each time. */
void dwf__sync_set_log(dwf__sync *s, dev_t dev, ino_t ino);
void dwf__sync_set_lock(dwf__sync *s, void (*lock)(void *), void (*unlock)(void *), void *arg);
/* A transaction committed on its own (the open's schema): its ticket. */
unsigned long long dwf__sync_committed(dwf__sync *s);
/* Under the service's lock, once a call's savepoint is released: the call joins the open batch;
 * its ticket. *seen (NULL: not wanted): the newest batch the call may have read (the open one
 * when other calls are in it, else the last committed). waits: the call will dwf__sync_wait on
 * its ticket (a call whose *seen is its ticket must too); negative: it waits for nothing, not
 * even the batch it saw (its caller's answer tells nothing of what it read). *act: what the caller does next, still
 * under the lock: nothing (a flush runs; its batch is committed later), COMMIT the batch
 * (dwf__store_commit_batch), or COMMIT it and then lead its flush (dwf__sync_lead instead of
 * dwf__sync_wait). */
enum { DWF__SYNC_JOINED, DWF__SYNC_COMMIT, DWF__SYNC_COMMIT_LEAD };
unsigned long long dwf__sync_join(dwf__sync *s, int waits, unsigned long long *seen, int *act);
/* Calls in the open batch (0: no batch open). */
unsigned dwf__sync_open_calls(dwf__sync *s);
/* The open batch was committed; or is lost (COMMIT failed, or SQLite rolled the transaction
 * back): each of its waiting calls gets err. */
void dwf__sync_batch_committed(dwf__sync *s);
void dwf__sync_batch_failed(dwf__sync *s, const dwf_error *err);
/* The newest ticket (what a reader may have seen: the open batch when it holds calls). */
unsigned long long dwf__sync_newest(dwf__sync *s);
/* Return once every batch up to `ticket` is committed and on disk, leading the flush (COMMIT,
 * fdatasync) if none is running: 0, or -1 with err (StoreFullException, ServiceException, or the
 * error its batch's COMMIT failed with). Called without the service's lock. _seen: a reader's
 * wait (a batch it read, not one it belongs to). */
int dwf__sync_wait(dwf__sync *s, unsigned long long ticket, dwf_error *err);
int dwf__sync_wait_seen(dwf__sync *s, unsigned long long ticket, dwf_error *err);
/* dwf__sync_wait for the call that committed its batch with DWF__SYNC_COMMIT_LEAD: it flushes. */
int dwf__sync_lead(dwf__sync *s, unsigned long long ticket, dwf_error *err);
void dwf__sync_get_stats(dwf__sync *s, dwf__sync_stats *out);
/* A function called as each flush starts, after its batch's COMMIT, before the fdatasync, without
 * locks (tests). */
void dwf__sync_set_hook(dwf__sync *s, void (*fn)(void *), void *arg);
/* The store's group commit (NULL-safe readers of the above for the service). */
dwf__sync *dwf__store_sync(dwf__store *st);

/* Map an SQLite result code to a named error in err; always returns -1. */
int dwf__store_fail(dwf__store *st, int rc, dwf_error *err);

/* A service call's transaction, under the service's lock. dwf__store_begin opens the batch if
 * none is open (BEGIN IMMEDIATE), else a savepoint for the call; dwf__store_release releases it:
 * the call joins the batch (dwf__sync_join: waits, *ticket, *seen, *act; the in-memory store of
 * dwf test has no batches: it COMMITs, ticket 0, *act DWF__SYNC_JOINED); dwf__store_rollback undoes the call's own changes
 * only (ROLLBACK TO), or the whole transaction when no other call is in it, and fails the batch
 * if SQLite rolled it back. dwf__store_commit_batch COMMITs the open batch (nothing open: 0);
 * on failure the batch's calls fail with err. */
int dwf__store_begin(dwf__store *st, dwf_error *err);
int dwf__store_release(dwf__store *st, int waits, unsigned long long *ticket, unsigned long long *seen, int *act,
                       dwf_error *err);
void dwf__store_rollback(dwf__store *st);
int dwf__store_commit_batch(dwf__store *st, dwf_error *err);
/* After a call that ran statements inside an open batch without a savepoint of its own (a read):
 * if SQLite rolled the transaction back under it, fail the batch. */
void dwf__store_check_batch(dwf__store *st);

/* Prepare `sql` and bind its parameters ?1, ?2, ... from varargs described by `types`:
 * 's' const char * (NULL binds NULL), 'i' long long, 'd' double. Returns the statement
 * (caller finalizes) or NULL with err filled. */
sqlite3_stmt *dwf__sql_prepare(dwf__store *st, dwf_error *err, const char *sql, const char *types, ...);
/* Give back a statement from dwf__sql_prepare (reset for reuse, or finalized). */
void dwf__sql_done(dwf__store *st, sqlite3_stmt *q);
/* Step: 1 = a row, 0 = done, -1 = error (err filled). */
int dwf__sql_step(dwf__store *st, sqlite3_stmt *q, dwf_error *err);
/* Prepare, bind, run to completion, finalize. Returns 0 or -1. */
int dwf__sql_exec(dwf__store *st, dwf_error *err, const char *sql, const char *types, ...);
/* Column text parsed as JSON; NULL with StoreCorruptException naming `what` (e.g. "operation X
 * of execution Y") when it is missing or not JSON. */
cJSON *dwf__col_json(dwf__store *st, sqlite3_stmt *q, int col, const char *what, dwf_error *err);
/* Column text as a new malloc'd string (NULL for SQL NULL); sets *oom on allocation failure. */
char *dwf__col_strdup(sqlite3_stmt *q, int col, int *oom);

/* ---- the execution row ------------------------------------------------------------------ */
typedef struct dwf__exec {
    char *id, *arn, *name, *function_name;
    enum dwf_execstatus status; /* stored as its name */
    char *input;   /* InputPayload text */
    char *result;  /* Result payload text, or NULL */
    char *error;   /* ErrorObject JSON text, or NULL */
    char *parent_arn, *parent_op, *root_arn; /* chained invoke: the caller's execution + op */
    double start_ms, end_ms;                 /* end_ms 0 while running */
    double next_invoke_ms;                   /* invocation retry backoff: not before this */
    double inv_started_ms;
    long long seq;        /* change counter: bumped by every operation write */
    long long seen_seq;   /* seq the handler has seen (event or last checkpoint response) */
    long long op_count;   /* start sequence of the next new operation */
    long long event_count;
    int retention_days, timeout_s;
    int wake;        /* an invocation is due (external change, retry) */
    int inv_open;    /* an invocation is running */
    int inv_attempts; /* consecutive faulted invocations */
    char *inv_owner;  /* "<host>:<pid>" of the process running the open invocation */
    char *inv_request; /* its request id: a superseded invocation's late answer is ignored */
    double clock_offset_ms; /* its virtual clock: real time plus this (--skip-time moves it) */
    char *live_token;       /* the checkpoint token now current, or NULL (none: ended, or before
                             * its first invocation) */
    long long token_count;  /* checkpoint tokens issued to it so far (schema 12): the newest is
                             * number token_count, and a token naming a larger one is forged */
    long long no;           /* its number (1, 2, ... in start order): the key of its operations,
                             * events and tokens (schema 10); never changes */
    struct dwf__exec *loaded; /* the row as last read or saved: dwf__exec_save writes only the
                               * columns that differ from it; NULL (a new row) writes them all */
} dwf__exec;

/* An operation's or event's key, the rowid of its table (schema 11, store.c): its execution's
 * number times 2^32 plus its start sequence or EventId, both SQL expressions. */
#define DWF__ROW_KEY(no, seq) "(" no ") * 4294967296 + (" seq ")"
/* The same key computed in C, for a row bound as a value (opcache.c's held events). */
static inline long long dwf__row_key(long long no, long long seq) { return no * 4294967296LL + seq; }
#define DWF__ROW_SEQ_MAX 4294967295LL /* the most operations, and events, an execution keeps */
#define DWF__EXEC_NO_MAX 2147483647LL  /* the most executions a store numbers */

/* Load by ARN or by id. 0 found, 1 not found, -1 error. */
int dwf__exec_load(dwf__store *st, const char *arn_or_id, dwf__exec **out, dwf_error *err);
/* Load by (function, name). 0 found, 1 not found, -1 error. */
int dwf__exec_load_by_name(dwf__store *st, const char *function_name, const char *name,
                           dwf__exec **out, dwf_error *err);
/* e->no: the next execution's number (one past the largest), before its rows are written. */
int dwf__exec_number(dwf__store *st, dwf__exec *e, dwf_error *err);
/* Insert e's row under e->no (dwf__exec_number), as e holds it now. */
int dwf__exec_insert(dwf__store *st, dwf__exec *e, dwf_error *err);
/* Write e's row: only the columns that differ from e->loaded (all of them without it). */
int dwf__exec_save(dwf__store *st, dwf__exec *e, dwf_error *err);
/* The same, as e's last save: the row kept for the next load (row_keep) is e->loaded itself,
 * which e no longer holds (a save after it writes every column). */
int dwf__exec_save_last(dwf__store *st, dwf__exec *e, dwf_error *err);
/* The store unchanged since (store.c, store_mark): the caches the store keeps between calls
 * rest on marks that every write on the connection breaks, unless it reports what it touched
 * once it succeeded, with dwf__store_write_begin taken before it. A write that reports nothing
 * breaks them all. */
typedef struct {
    sqlite3_int64 before; /* sqlite3_total_changes64 before the write */
} dwf__store_write;
enum {
    DWF__WROTE_EVENTS = 1,      /* history events' rows */
    DWF__WROTE_OPERATION = 2,   /* an operation's row (dwf__store_op_kept) */
    DWF__WROTE_EXEC = 4,        /* an execution's row (the store's own saves) */
    DWF__WROTE_EXEC_STATUS = 8, /* ... with its status or clock offset */
};
dwf__store_write dwf__store_write_begin(dwf__store *st);
/* After a write that changed only rows of the kinds `touched` names, none a kept row. */
void dwf__store_wrote(dwf__store *st, const dwf__store_write *w, unsigned touched);
/* The rows a call wrote, kept for the next call's loads while nothing else can have changed them
 * (store.c, row_keep): dwf__exec_load answers the execution row last saved or inserted from
 * memory, and dwf__store_op_cached the operation row last written. After the write of an
 * operation's row succeeded, dwf__store_op_kept reports it (DWF__WROTE_OPERATION) and keeps it
 * (it takes json, the row's text, in every case). */
void dwf__store_op_kept(dwf__store *st, const dwf__store_write *w, long long exec_no, const char *op_id,
                        long long start_seq, char *json);
/* The timer note (store.c, timer_note): after a check found no timer due, `next` is the earliest
 * instant (the service's clock) one can be; dwf__store_timer_quiet says whether the check can be
 * skipped at `now`: 1 (the note holds and now is before it), 0 (it holds: check, no new note
 * needed), -1 (no note: check and note). Writes reported as touching neither the timers nor a
 * running execution's status or clock offset leave the note; any other write drops it. */
void dwf__store_timer_note(dwf__store *st, double next);
int dwf__store_timer_quiet(dwf__store *st, double now);
/* The JSON text of operation op_id of execution exec_no as the store holds it, and its start
 * sequence, when it is the row kept; else NULL (read it from the store). */
const char *dwf__store_op_cached(dwf__store *st, long long exec_no, const char *op_id, long long *start_seq,
                                 cJSON **parsed);
/* After the writes of a request: the operation row kept now, parsed (a copy of what was written,
 * taken; freed unless it is the kept row's). dwf__store_op_cached hands it over once as *parsed
 * (the caller's, NULL when none) beside the text. */
void dwf__store_op_parsed(dwf__store *st, long long exec_no, const char *op_id, long long start_seq, cJSON *op);
/* Whether execution exec_no (op_count operations, its exec row's count) has an operation op_id,
 * from the Ids kept with the kept rows (store.c, rk_ids): 1 it may (read the row), 0 it has
 * none, -1 not known (read the store). */
int dwf__store_op_id_known(dwf__store *st, long long exec_no, long long op_count, const char *op_id);
/* Delete an execution and every row that belongs to it. */
int dwf__exec_delete(dwf__store *st, const char *id, dwf_error *err);
void dwf__exec_free(dwf__exec *e);
/* Replace *slot with a copy of v (NULL allowed). Returns 0 or -1 on allocation failure. */
int dwf__set_str(char **slot, const char *v);

#endif
