/*
 * emu.h: what the emulator's files share (internal to emulator/; the CLI sees only emulator.h).
 *
 * The state is one struct dwf_emulator holding one emu_fn per served function, guarded by one
 * mutex (see emulator.c); what waits sleeps on a condition variable of its own. Each file below offers the others the
 * functions listed under its name:
 *
 *   emulator.c     start and stop; logging, clocks, waking the waiters
 *   httpd.c        the HTTP plumbing: reading a request, the route tables, the answers
 *   auth.c         SigV4 checking of the API server's requests
 *   sandbox.c      a function's task root (zip or directory), command, environment, registration
 *   unzip.c        unpacking a zip so that nothing in it reaches outside the task root
 *   workdir.c      the directory the zips are unpacked in; those of a killed emulator removed
 *   peer.c         which process is at the other end of a Runtime API connection; descendants
 *   process.c      starting, killing and reaping a function's execution environments (processes)
 *   scheduler.c    the scheduler thread, the per-function queue, concurrency limits, faults
 *   runtime_api.c  the Runtime API routes (/next, /response, /error, /init/error)
 *   invoke_api.c   the Invoke API route
 *   durable_api.c  the durable execution REST API routes
 *   control_api.c  Lambda's control plane: creating, updating, publishing, deleting functions
 *   iam_api.c      IAM roles and STS GetCallerIdentity over the query protocol (XML answers)
 *
 * A new route is a row in httpd.c's table and a handler in the file of its API.
 */
#ifndef DWF_EMU_H
#define DWF_EMU_H

#include <netinet/in.h>
#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#include "dlib.h" /* libmicrohttpd and libzip, loaded on first use (dwf_emulator_start) */
#include "emulator.h"
#include "service.h"

/* ---- requests and routes (httpd.c) -------------------------------------------------------- */

typedef struct emu_qparam {
    char *name, *value; /* decoded */
} emu_qparam;

#define EMU_LABELS 2

typedef struct emu_request {
    struct MHD_Connection *conn;
    const char *method;
    struct dwf_emulator *emu;
    struct emu_fn *fn;     /* the function whose Runtime API server took it; NULL on the API server */
    struct emu_env *env;   /* on a Runtime API: the environment whose process sent it */
    char *uri;             /* raw, as on the wire (path + query) */
    char *body;            /* NUL-terminated; len bytes */
    size_t len, cap;
    int started, too_big;
    size_t limit;          /* the largest body taken: the Invoke limit, or the code upload limit */
    int upload_slot;       /* holds one of the emulator's code-upload places (httpd.c) */
    char **seg;            /* decoded path labels, one block with their texts (httpd.c) */
    int nseg;
    emu_qparam *q;
    int nq;
    char *label[EMU_LABELS]; /* the route's captures, in order ("{}" one label, "{+}" several joined by '/') */
    cJSON *json;           /* the body, decoded as the route asks (NULL for a raw or absent body) */
    int refused;           /* answered once the body is in: 403 (not the function's process) or 429 */
    unsigned refused_status;
    double arrived_ms;     /* CLOCK_MONOTONIC when its headers were in, before admit's peer lookup */
} emu_request;

typedef enum emu_body {
    EMU_BODY_RAW,             /* handed over as it came */
    EMU_BODY_OBJECT,          /* must be a JSON object (else 400 SerializationException) */
    EMU_BODY_OPTIONAL_OBJECT, /* empty, or a JSON object */
} emu_body;

typedef struct emu_route {
    const char *method;
    const char *path; /* "/2025-12-01/durable-executions/{+}/state": "{}" one label, "{+}" one or more */
    emu_body body;
    enum MHD_Result (*handle)(emu_request *r);
} emu_route;

typedef struct emu_server_kind emu_server_kind; /* httpd.c: a route table and its answers */

/* Connections (item by item in docs/emulator.md, "Limits"). Past the soft limits a request is
 * answered 429 TooManyRequestsException; past the hard ones libmicrohttpd closes the connection
 * as it accepts it. The soft limit per client address leaves room for the others; the hard
 * limits are what the file descriptors and threads allow. The Runtime API of a function has one
 * client, its process: past EMU_RUNTIME_CONNECTIONS a connection from any other process is
 * closed as it is accepted, so a flood cannot keep the function's own process out. */
#define EMU_CLIENT_CONNECTIONS 512
#define EMU_CONNECTIONS 2048
#define EMU_CLIENT_CONNECTIONS_HARD (2 * EMU_CLIENT_CONNECTIONS)
#define EMU_CONNECTIONS_HARD (EMU_CONNECTIONS + EMU_CLIENT_CONNECTIONS)
#define EMU_RUNTIME_CONNECTIONS 64
#define EMU_RUNTIME_CONNECTIONS_HARD 256
/* Seconds a connection may stay silent (a request half sent, an idle keep-alive) before it
 * is closed; a request being answered is not silent (emulator.h: connection_timeout_s). */
#define EMU_CONNECTION_TIMEOUT_S 30
/* Bytes of libmicrohttpd's per-connection memory pool (a request's line and headers, its read
 * buffer, the answer's headers). libmicrohttpd zeroes the whole pool after every request of a
 * keep-alive connection, and the part it shrinks the read buffer by: with its default of 32 KiB
 * those memsets were ~50k instructions a request as callgrind counts them (a rep stosb counted
 * by the byte), 15% of serve's per execution of bench/throughput.sh's Event row, though only
 * ~1% of serve's CPU samples (perf). 16 KiB still holds a request's headers up to ~14 KB (the
 * AWS SDK sends ~1.5 KB; browsers and common servers stop at 8 KB); a body larger than the read
 * buffer is read in more rounds, not refused. */
#define EMU_CONNECTION_MEMORY (16 * 1024)

typedef struct emu_client emu_client; /* httpd.c: connections per client address */
#define EMU_CLIENT_BUCKETS 256

/* What a libmicrohttpd daemon serves: the emulator's API, or one function's Runtime API. */
typedef struct emu_server {
    const emu_server_kind *kind;
    struct dwf_emulator *emu;
    struct emu_fn *fn;
    struct MHD_Daemon *daemon;
    int port;
    struct sockaddr_in addr;   /* where it listens */
    pthread_mutex_t mu;        /* guards the counts below */
    int conns;                 /* open connections */
    emu_client *clients[EMU_CLIENT_BUCKETS];
    int soft_total, soft_client; /* the 429 limits, scaled to the descriptors there are */
} emu_server;

/* Listen on host:port (0 = any free port; s->port receives the bound one) with the API's
 * routes (fn NULL) or fn's Runtime API routes. 0, or -1 with err. */
int dwf__emu_listen_api(struct dwf_emulator *e, emu_server *s, int port, dwf_error *err);
int dwf__emu_listen_runtime(struct emu_fn *f, emu_server *s, dwf_error *err);
void dwf__emu_unlisten(emu_server *s);

const char *dwf__emu_header(const emu_request *r, const char *name);
const char *dwf__emu_query(const emu_request *r, const char *name);
int dwf__emu_query_bool(const emu_request *r, const char *name, int dflt);
/* MaxItems: absent = 0 (the service's default page); else an integer in [min, DWF_LIMIT_PAGE_MAX],
 * or -1 with err (400 ValidationException / SerializationException), as AWS checks it. */
int dwf__emu_max_items(const emu_request *r, int min, int *out, dwf_error *err);
/* Parse a whole body as one JSON value (whitespace around it allowed). NULL if it is not. */
cJSON *dwf__emu_parse_json(const char *s, size_t len);

/* Answers. headers: NULL-terminated name, value pairs (may be NULL). */
enum MHD_Result dwf__emu_reply(emu_request *r, unsigned status, const char *ctype, const void *body, size_t len,
                               const char *const *headers);
enum MHD_Result dwf__emu_reply_json(emu_request *r, unsigned status, const cJSON *j, const char *const *headers);
/* A restJson1 error: the status, X-Amzn-ErrorType and {"Type","message"}. */
enum MHD_Result dwf__emu_reply_error(emu_request *r, unsigned status, const char *type, const char *msg);
/* The same for a named error, its status found from its type (the service's and the emulator's). */
enum MHD_Result dwf__emu_reply_err(emu_request *r, const dwf_error *err);
/* A service call's outcome: 200 and out (freed), or the error. */
enum MHD_Result dwf__emu_reply_result(emu_request *r, int rc, cJSON *out, const dwf_error *err);

/* The served function a FunctionName label names (a name, name:qualifier, or a full or partial
 * ARN; ?Qualifier= too): name and qual receive its parts. NULL with err (400 ValidationException
 * or InvalidParameterValueException, 404 ResourceNotFoundException "Function not found: ARN"). */
struct emu_fn *dwf__emu_function_of(emu_request *r, const char *label, char name[256], char qual[160], dwf_error *err);

/* The route handlers (invoke_api.c, durable_api.c, runtime_api.c). */
enum MHD_Result dwf__emu_invoke(emu_request *r);
enum MHD_Result dwf__emu_get_execution(emu_request *r);
enum MHD_Result dwf__emu_get_state(emu_request *r);
enum MHD_Result dwf__emu_get_history(emu_request *r);
enum MHD_Result dwf__emu_checkpoint(emu_request *r);
enum MHD_Result dwf__emu_stop(emu_request *r);
enum MHD_Result dwf__emu_list_executions(emu_request *r);
enum MHD_Result dwf__emu_callback_succeed(emu_request *r);
enum MHD_Result dwf__emu_callback_fail(emu_request *r);
enum MHD_Result dwf__emu_callback_heartbeat(emu_request *r);
enum MHD_Result dwf__emu_rt_next(emu_request *r);
enum MHD_Result dwf__emu_rt_response(emu_request *r);
enum MHD_Result dwf__emu_rt_error(emu_request *r);
enum MHD_Result dwf__emu_rt_init_error(emu_request *r);

/* The control plane (control_api.c, iam_api.c). */
enum MHD_Result dwf__emu_create_function(emu_request *r);
enum MHD_Result dwf__emu_list_functions(emu_request *r);
enum MHD_Result dwf__emu_get_function(emu_request *r);
enum MHD_Result dwf__emu_delete_function(emu_request *r);
enum MHD_Result dwf__emu_get_function_configuration(emu_request *r);
enum MHD_Result dwf__emu_update_function_configuration(emu_request *r);
enum MHD_Result dwf__emu_update_function_code(emu_request *r);
enum MHD_Result dwf__emu_publish_version(emu_request *r);
enum MHD_Result dwf__emu_list_versions(emu_request *r);
enum MHD_Result dwf__emu_query_api(emu_request *r);
/* Split a FunctionName (name, name:qual, a full or partial ARN): 0, or -1 when it is none. */
int dwf__emu_split_function_name(const char *in, char name[256], char qual[160]);
/* Does the role (an ARN) exist in the emulator's IAM and trust lambda.amazonaws.com? */
int dwf__emu_role_trusts_lambda(struct dwf_emulator *e, const char *role_arn);
/* At start: set up the functions the store keeps from an earlier run. 0, or -1 with err. */
int dwf__emu_control_restore(struct dwf_emulator *e, dwf_error *err);
/* The scheduler, mu held: tear down the retired sandboxes that are idle (mu released around it). */
void dwf__emu_control_reap(struct dwf_emulator *e);
/* Is this request one of the query protocol's (IAM, STS: POST / with a form body)? */
int dwf__emu_is_query_request(const emu_request *r);
/* A query-protocol error: the XML ErrorResponse of IAM and STS. */
enum MHD_Result dwf__emu_reply_query_error(emu_request *r, unsigned status, const char *code, const char *msg);

/* ---- auth.c ------------------------------------------------------------------------------- */
/* 0 = the request is signed by the emulator's key pair; else -1 with the answer's status and err. */
int dwf__emu_check_sigv4(struct dwf_emulator *e, emu_request *r, unsigned *status, dwf_error *err);

/* ---- functions and the emulator --------------------------------------------------------------- */

enum emu_kill_reason {
    EMU_KILL_NONE = 0,
    EMU_KILL_TIMEOUT,  /* past the invocation's deadline: a Sandbox.Timedout fault */
    EMU_KILL_QUIET,    /* --cold or stop: not a fault, not logged */
};

/* What a function's process is invoked for (a queue entry, and the invocation in flight). */
enum emu_job_kind {
    EMU_JOB_EXECUTION, /* a durable execution (key: its ARN): the service builds the event */
    EMU_JOB_CALL,      /* a plain function called by a CHAINED_INVOKE (key: the service's call id) */
    EMU_JOB_DIRECT,    /* a plain function invoked through the Invoke API (payload: the event) */
};

/* Where a RequestResponse Invoke of a plain function waits for its answer (mu). */
typedef struct emu_direct {
    pthread_cond_t cv;
    int done, is_error;
    char *body;            /* the handler's response, or its error document */
    size_t len;
    int abandoned;         /* the caller left (stop): whoever ends the job frees this */
} emu_direct;

typedef struct emu_job {
    enum emu_job_kind kind;
    char *key;             /* EXECUTION: ARN; CALL: call id; DIRECT: NULL */
    char *payload;         /* DIRECT: the event as sent; CALL: filled when taken */
    emu_direct *direct;    /* DIRECT with RequestResponse: the waiting caller; NULL for Event */
    struct emu_fn *held_by; /* keyed and queued: in this function's set of held jobs until freed */
    struct emu_job *held_next; /* next in its bucket of that set */
    int scanned;           /* queued by the scheduler's pass while a RequestResponse Invoke of its
                            * function was starting: perhaps that Invoke's own execution */
} emu_job;

typedef struct emu_fn {
    struct dwf_emulator *emu;
    int index;             /* unique for the emulator's life: names the task root */
    char *name, *task_root, *handler, *runtime;
    char *qualifier;       /* "$LATEST", or the number of a published version */
    int managed;           /* created through the control plane: each version has its own sandbox */
    int retired;           /* replaced (new code or configuration) or deleted: takes no new work */
    int torn_down;         /* retired, its process gone, its Runtime API and task root removed */
    cJSON *config;         /* managed: the FunctionConfiguration the control plane answers */
    char code_sha[65];     /* managed: the hex SHA-256 of its zip (the store's key for it) */
    double created_mono;   /* managed: when it was created or last updated (State, LastUpdateStatus) */
    int own_root; /* task_root is ours to delete */
    int plain;    /* no DurableConfig: invoked as a plain Lambda function (no durable execution) */
    int memory_mb, timeout_s;
    char **argv;  /* start command; argv[0] resolved to a path */
    char **envp;  /* the process environment */
    emu_server rt; /* its Runtime API (every environment's process talks to it) */
    int reserved;          /* reserved concurrency: at most this many environments (0: every
                            * invocation throttled); -1 = none (a share of the account's) */
    double respawn_after;  /* monotonic ms: no new environment before (a crashing init) */
    /* Its execution environments: a process each, one invocation at a time (scheduler.c starts
     * one when every warm one is busy and stops those idle too long). Never freed before the
     * function: a request may hold one while the emulator's mutex is released; a slot whose
     * process ended is reused. */
    struct emu_env **envs;
    int nenvs;
    int sync_starting;     /* RequestResponse Invokes admitted whose job is not queued yet */
    int scanned;           /* held jobs marked `scanned` (see dwf__emu_sync_admit) */
    /* the queue: a ring of capq slots, nq jobs from qhead on */
    emu_job **queue;
    int qhead, nq, capq;
    /* The keyed jobs (executions, calls) queued or held by an environment, by key: a job is
     * queued once (scheduler.c), found without walking the queue. Buckets: a power of two. */
    emu_job **held;
    int nheld, nheld_buckets;
} emu_fn;

/* An execution environment: one process of a function, started the way Lambda starts a runtime,
 * invoked once at a time, reused while warm (process.c, runtime_api.c, scheduler.c). */
typedef struct emu_env {
    struct emu_fn *fn;
    int slot;              /* its index in fn->envs (names it in the log) */
    pid_t pid;             /* 0 = no process (stopped, or not started yet) */
    unsigned gen;          /* bumped at every start and stop: a /next belongs to one process */
    double spawn_mono;     /* when it was started (monotonic ms) */
    double idle_since;     /* monotonic ms: its last invocation ended (or it started) */
    int reached_next;      /* it asked for an invocation at least once */
    enum emu_kill_reason kill_reason;
    char *init_error;      /* the last /init/error body */
    int status_fd;         /* its process's /proc/PID/status, open from its start until the slot's next
                            * start (-1: none, or --quiet): the VmHWM of each answer's log line */
    /* the invocation in flight */
    int busy;              /* an event was handed out (or is being built) and is not answered */
    emu_job *cur;          /* that invocation's job */
    char cur_rid[40];
    double cur_start_ms;   /* service clock */
    double cur_deadline;   /* epoch ms (real time) */
    /* Its /next waiting for a job (runtime_api.c): woken alone when a job is queued for it, its
     * process ends or the emulator stops (emulator.c, dwf__emu_wake_next / _wake_env). */
    pthread_cond_t next_cv;
    int next_waiting;      /* /next requests asleep on next_cv (one, but for a runtime that retried) */
    int next_woken;        /* signalled for a job and not yet awake: the next job wakes another */
} emu_env;

/* A RequestResponse Invoke waiting for its execution's end (emulator.c). */
typedef struct emu_waiter {
    const char *arn;
    pthread_cond_t cv;     /* signalled when something may have ended that execution */
    int woken;
    struct emu_waiter *next;
} emu_waiter;
#define EMU_WAITER_BUCKETS 1024

struct dwf_emulator {
    dwf_emulator_opts o;
    char *host, *region, *account, *access_key, *secret_key, *session_token;
    char *endpoint_host;   /* what the functions call the API server at (host, or 127.0.0.1 for 0.0.0.0) */
    int conn_limit;        /* the API server's hard connection limit, fitted to RLIMIT_NOFILE */
    char *workdir;         /* workdir.c: where the zips are unpacked; NULL until one is */
    int workdir_lock;      /* the flock()ed descriptor that says this emulator still runs */
    int connection_timeout_s;
    FILE *log;
    dwf_service *svc;
    emu_server api;
    emu_fn **fns;          /* every sandbox, retired ones included (never freed before stop) */
    int nfns, capfns, next_index;
    pthread_mutex_t control_mu; /* serialises the control plane's changes (control_api.c, iam_api.c) */
    pthread_mutex_t mu;
    unsigned long kicks;
    pthread_cond_t sched_cv; /* the scheduler's sleep (a kick wakes it unless sched_scan_due) */
    int sched_scan_due;    /* the scheduler sleeps until a scan already due after an earlier change */
    int stopping;
    int uploads;           /* code uploads being read (httpd.c, mu) */
    pthread_t sched;
    int sched_started;
    int was_subreaper;     /* PR_GET_CHILD_SUBREAPER before start, restored at stop */
    emu_waiter *waiters[EMU_WAITER_BUCKETS]; /* by ARN (mu) */
};

/* ---- emulator.c ---------------------------------------------------------------------------- */
int dwf__emu_fail(dwf_error *err, const char *type, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void dwf__emu_log(struct dwf_emulator *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double dwf__emu_mono_ms(void);
double dwf__emu_real_ms(void);
void dwf__emu_hex(const unsigned char *in, size_t n, char *out); /* out: 2n + 1 bytes */
/* Tell the scheduler something changed (kick: mu held; kick_unlocked takes it). */
void dwf__emu_kick(struct dwf_emulator *e);
void dwf__emu_kick_unlocked(struct dwf_emulator *e);
/* The /next requests waiting for a job (mu held): wake one idle environment of f that can take
 * the job at the head of f's queue (a job was queued, or an environment became free); wake
 * whatever waits on environment v (its process started or ended, stop). Wait on v's condition
 * variable for at most ms. */
void dwf__emu_wake_next(emu_fn *f);
void dwf__emu_wake_env(emu_env *v);
void dwf__emu_next_wait(emu_env *v, double ms);
/* The scheduler's wait for a kick, at most ms (mu held); scan_due: it wakes after ms for a scan
 * anyway, so kicks meanwhile do not wake it (a stop does). */
void dwf__emu_sched_wait(struct dwf_emulator *e, double ms, int scan_due);
/* The waiters of RequestResponse calls (mu held): add and remove one; wake those of one
 * execution, after a service call that may have ended it (end_invocation, stop, an EXECUTION
 * checkpoint); wake them all (stop). */
void dwf__emu_waiter_add(struct dwf_emulator *e, emu_waiter *w);
void dwf__emu_waiter_remove(struct dwf_emulator *e, emu_waiter *w);
void dwf__emu_execution_changed(struct dwf_emulator *e, const char *arn);
void dwf__emu_execution_changed_unlocked(struct dwf_emulator *e, const char *arn);
/* The functions (mu held, or before the scheduler starts): the first live sandbox of a name;
 * the one that runs qualifier qual ("" = $LATEST); add one (-1 out of memory); the sandbox an
 * execution ARN (function:NAME:QUAL/durable-execution/...) runs on. */
emu_fn *dwf__emu_fn_by_name(struct dwf_emulator *e, const char *name);
emu_fn *dwf__emu_fn_find(struct dwf_emulator *e, const char *name, const char *qual);
int dwf__emu_fn_add(struct dwf_emulator *e, emu_fn *f);
emu_fn *dwf__emu_fn_of_execution(struct dwf_emulator *e, const char *arn);

/* ---- sandbox.c ----------------------------------------------------------------------------- */
/* Set function f up from d: task root, name, command, registration with the service, Runtime
 * API server, environment. 0, or -1 with err (dwf__emu_sandbox_free cleans up either way). */
int dwf__emu_sandbox_setup(struct dwf_emulator *e, emu_fn *f, const dwf_emulator_function *d, dwf_error *err);
void dwf__emu_sandbox_free(emu_fn *f);

/* ---- workdir.c ---------------------------------------------------------------------------- */
/* The emulator's working directory (e->workdir), made on first use, after removing those of
 * emulators that died without cleaning up. 0, or -1 with err. */
int dwf__emu_workdir(struct dwf_emulator *e, dwf_error *err);
/* Remove it (at stop). */
void dwf__emu_workdir_remove(struct dwf_emulator *e);
/* Only the cleaning up of dead emulators' directories (a start with no zip). */
void dwf__emu_workdir_clean(void);
/* rm -r that never follows a symlink. */
void dwf__emu_remove_tree(const char *path);

/* ---- peer.c ------------------------------------------------------------------------------- */
/* Which of roots[0..n), or a process one of them started, holds the client end of the loopback
 * TCP connection from client to server: its index, or -1. */
int dwf__emu_peer_owner(const pid_t *roots, int n, const struct sockaddr_in *client, const struct sockaddr_in *server);
/* root and every process below it (by parent), into a new array; the count, or -1. */
int dwf__emu_descendants(pid_t root, pid_t **out);

/* ---- unzip.c ------------------------------------------------------------------------------- */
/* At most this many entries in a function's zip (a zip of empty files costs inodes, not bytes). */
#define EMU_ZIP_MAX_ENTRIES 100000
/* Unpack zip_path into the directory dir (new and empty). name_out receives NAME when the zip
 * holds bin/NAME or its comment is "dwf build: function NAME" (else it is left as it was). 0,
 * or -1 with err (InvalidParameterValueException for what the zip holds). */
int dwf__emu_unzip(const char *zip_path, const char *dir, char name_out[256], dwf_error *err);

/* ---- process.c (mu held) -------------------------------------------------------------------- */
/* Start one more environment of f (a slot whose process ended, or a new one). NULL if it could
 * not start. */
emu_env *dwf__emu_spawn(emu_fn *f);
void dwf__emu_kill(emu_env *v, enum emu_kill_reason reason);
/* Kill every environment of f; 1 if one still has a process to reap. */
int dwf__emu_kill_all(emu_fn *f, enum emu_kill_reason reason);
/* Environments of f with a process; of those, how many hold an invocation (busy may be NULL). */
int dwf__emu_envs_live(const emu_fn *f, int *busy);
void dwf__emu_envs_free(emu_fn *f);
void dwf__emu_reap(struct dwf_emulator *e);
void dwf__emu_end_all(void); /* kill and reap every descendant of the emulator (stop) */
long dwf__emu_vm_hwm_kb(int status_fd); /* peak RSS from an open /proc/PID/status, -1 if unknown */
double dwf__emu_cpu_ms(pid_t pid);   /* CPU time so far, -1 if unknown */

/* ---- scheduler.c (mu held) ------------------------------------------------------------------ */
void *dwf__emu_scheduler(void *emulator);
/* Environments (processes) at once, every function together: what the machine can run (the
 * default per core is fixed at start, emulator.c), never more than the account's concurrency
 * that could use them. Reads the options only (no lock needed). */
int dwf__emu_account_environments(const dwf_emulator *e);
emu_job *dwf__emu_queue_pop(emu_fn *f);
/* A new job of that kind (key copied; NULL for a direct invocation). NULL when out of memory. */
emu_job *dwf__emu_job_new(enum emu_job_kind kind, const char *key);
/* Queue a job (taken); -1 when out of memory (the job is freed). */
int dwf__emu_queue_push(emu_fn *f, emu_job *j);
/* Queue execution arn on f unless it is queued or running already (an Event Invoke queues its
 * execution at once, ahead of the scheduler's pass); kicks the scheduler. 1 queued, 0 not. */
int dwf__emu_queue_execution(emu_fn *f, const char *arn);
/* Free f's queued jobs, the queue and the set (the function goes; after its environments). */
void dwf__emu_queue_free(emu_fn *f);
void dwf__emu_job_free(emu_job *j);
/* Begin job j (mu not held): the event text (new), a request id, the start (service clock).
 * 0, or -1 with err (an execution or call no longer runnable). */
int dwf__emu_job_begin(emu_fn *f, emu_job *j, char **event, char rid[40], double *start, dwf_error *err);
/* Hand the answer of environment v's invocation in flight (v->cur, v->cur_rid) to what it was
 * for: the service (an execution's response or fault, a call's value or error) or the waiting
 * Invoke. body/len: what the runtime posted (NULL with fault for an invocation fault); is_error:
 * it was posted to /error. mu held on entry and exit; released around the service calls. */
void dwf__emu_job_answer(emu_env *v, const char *body, size_t len, int is_error, const dwf_error *fault);
/* End v's invocation in flight with a fault (mu released around the service call). */
void dwf__emu_fault_current(emu_env *v, const char *type, const char *msg);
/* Fail the first queued invocation of v's function with a fault, as if v had taken it. */
void dwf__emu_fault_queued_head(emu_env *v, const char *type, const char *msg);
/* How many environments f may have at once: its reserved concurrency, else what the account's
 * concurrency leaves after every reservation (at least 1). */
int dwf__emu_fn_limit(const struct dwf_emulator *e, const emu_fn *f);
/* May a RequestResponse invocation of f start now, under both limits? 1, counted in
 * f->sync_starting until dwf__emu_sync_queued; or 0 (429 TooManyRequestsException), with
 * Lambda's Reason for it. */
int dwf__emu_sync_admit(emu_fn *f, const char **reason);
/* The admitted invocation's job goes to f's queue (j NULL: it did not start); the count of
 * admitted invocations drops. A job already queued or running is freed. -1 out of memory. */
int dwf__emu_sync_queued(emu_fn *f, emu_job *j);

#endif
