/*
 * emulator.h: the local Lambda emulator behind `dwf serve` (emulator/; emu.h says which file does what).
 *
 * One HTTP server (on 127.0.0.1 unless told otherwise) speaks the two APIs a durable function's callers use, the
 * Invoke API (POST /2015-03-31/functions/{name}/invocations) and the durable REST API
 * (/2025-12-01/...), mapped one to one onto the service core (service.h) over the same
 * SQLite store the embedded engine uses. Each served function gets its own Lambda Runtime API
 * (2018-06-01) on a port of its own, the way each Lambda sandbox has its own, and one process
 * started from its task root as Lambda starts a bootstrap: the emulator hands that process the
 * invocation events the service core builds and applies what it answers. A scheduler thread
 * fires timers and re-invokes executions when a wait ends, a callback is answered or a faulted
 * invocation's retry is due.
 */
#ifndef DWF_EMULATOR_H
#define DWF_EMULATOR_H

#include <stddef.h>
#include <stdio.h>
#include "dwf_host.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dwf_emulator dwf_emulator;
struct MHD_Connection;

/* One function to serve. Strings are copied by dwf_emulator_start. */
typedef struct dwf_emulator_function {
    const char *name;        /* NULL = from the zip (its comment, or its bin/<name> program) */
    const char *zip;         /* a `dwf build` zip (or any Lambda zip), unpacked into a fresh task root */
    const char *dir;         /* or a function directory used as the task root as it is */
    const char *command;     /* start command, split on blanks; NULL = <task root>/bootstrap */
    const char *handler;     /* _HANDLER; NULL = "bootstrap" */
    const char *runtime;     /* AWS_EXECUTION_ENV; NULL = "AWS_Lambda_provided.al2023" */
    const char *const *env;  /* extra NAME=VALUE entries (override the defaults), NULL-terminated; may be NULL */
    int memory_mb;           /* 0 = 128 */
    int timeout_s;           /* per-invocation timeout; 0 = 3 (Lambda's default) */
    int retention_days;      /* DurableConfig.RetentionPeriodInDays; 0 = 14 */
    int execution_timeout_s; /* DurableConfig.ExecutionTimeout; 0 = 86400 */
    int reserved;            /* reserved concurrency (ReservedConcurrentExecutions): at most this many
                              * execution environments at once; 0 throttles every invocation */
    int has_reserved;        /* reserved is set; else none (a share of the account's concurrency) */
    /* Set by the control plane only (emulator/control_api.c): the version this sandbox runs
     * ("$LATEST" or a number). NULL = a function given on the command line, which runs every
     * qualifier. */
    const char *qualifier;
    int plain;               /* no DurableConfig: a plain Lambda function (the payload is the event,
                              * the handler's value the answer, no durable execution) */
} dwf_emulator_function;

/* Defaults: the account's concurrency (Lambda's default quota, so a local load test is throttled
 * where Lambda would throttle it), execution environments per core (a function's process mostly
 * waits on the emulator and the store, so a few per core keep the cores busy without starting
 * more processes than the machine holds), and how long an idle environment is kept warm. */
#define DWF_EMULATOR_CONCURRENCY 1000
#define DWF_EMULATOR_ENVIRONMENTS_PER_CORE 4
#define DWF_EMULATOR_IDLE_RETIRE_S 300

typedef struct dwf_emulator_opts {
    /* NULL = "127.0.0.1". An address that is not loopback (127.0.0.0/8) needs the keys below,
     * or insecure_public: unsigned requests from the network would run the functions. */
    const char *host;
    int insecure_public;        /* accept a non-loopback host without keys */
    int port;                   /* 0 = any free port (dwf_emulator_port tells which) */
    const char *store;          /* NULL = the service's default (./.dwf/dwf.db) */
    const char *region;         /* NULL = "us-east-1" */
    const char *account;        /* NULL = "000000000000" */
    /* With both set, every Invoke / durable API request must carry a valid SigV4 signature by
     * this key pair; without, any request is accepted. The functions always get them (or dummy
     * keys) as AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. */
    const char *access_key, *secret_key;
    const char *session_token;  /* handed to the functions as AWS_SESSION_TOKEN; NULL = a dummy */
    int skip_time;              /* jump an idle execution tree's own clock to its next WAIT end / retry */
    int cold;                   /* stop a function's process after each invocation: every one is a cold start */
    int concurrency;            /* the account's concurrency: invocations in flight at once, every function
                                 * together (a RequestResponse Invoke over it is refused 429); 0 =
                                 * DWF_EMULATOR_CONCURRENCY */
    int environments;           /* execution environments (processes) at once, every function together
                                 * (at most the concurrency; invocations beyond wait for one); 0 =
                                 * DWF_EMULATOR_ENVIRONMENTS_PER_CORE x the cores */
    int idle_retire_s;          /* an environment idle this long is stopped; 0 = DWF_EMULATOR_IDLE_RETIRE_S */
    int quiet;                  /* no per-invocation log lines */
    int connection_timeout_s;   /* close a connection silent this long (a half-sent request); 0 = 30 */
    FILE *log;                  /* NULL = stderr */
    /* Requests to the API port whose path is mount_prefix or below it ("/console/...") go to
     * mount_handle instead of the API's routes, after the connection limits and the body, before
     * the SigV4 check: what is mounted there (the web console) checks its own credentials. It
     * answers on conn and returns libmicrohttpd's MHD_YES / MHD_NO. */
    const char *mount_prefix;
    int (*mount_handle)(void *arg, struct MHD_Connection *conn, const char *method, const char *raw_uri,
                        const char *body, size_t len);
    void *mount_arg;
} dwf_emulator_opts;

/* Unpack / check the functions, open the store, start the servers and the scheduler. The
 * calling process becomes the child subreaper of what the functions start, and its soft
 * RLIMIT_NOFILE is raised as far as the connection limits need.
 * Returns 0 and *out, or -1 with err filled (nothing left running). libmicrohttpd, and libzip
 * when a function is a zip, are loaded first (dlopen, util/dlib.h): when one cannot be, err
 * names it and its Debian package and nothing has been created. */
int dwf_emulator_start(const dwf_emulator_opts *o, const dwf_emulator_function *fns, int nfns, dwf_emulator **out,
                       dwf_error *err);
/* The port the Invoke / durable API listens on. */
int dwf_emulator_port(const dwf_emulator *e);
/* The task root and Runtime API port of function i (in the order given). */
const char *dwf_emulator_task_root(const dwf_emulator *e, int i);
int dwf_emulator_runtime_port(const dwf_emulator *e, int i);
/* The served name of function i (the zip's name when none was given). */
const char *dwf_emulator_function_name(const dwf_emulator *e, int i);
/* How many functions it serves at start: those given, then those the store kept from the
 * control plane (functions created through Lambda's API by an earlier run). */
int dwf_emulator_function_count(const dwf_emulator *e);
/* The service the emulator runs on (thread-safe; closed by dwf_emulator_stop). */
struct dwf_service *dwf_emulator_service(dwf_emulator *e);
/* Tell the emulator that something outside its API changed execution arn (a callback answered
 * or a stop made through the service directly): its scheduler looks again, and a RequestResponse
 * Invoke waiting for that execution checks whether it ended. */
void dwf_emulator_execution_changed(dwf_emulator *e, const char *arn);
/* Stop everything: the function processes and every process they started (killed: every child
 * process of the calling process, which start made their child subreaper), the servers, the
 * scheduler; close the store and delete the unpacked task roots. */
void dwf_emulator_stop(dwf_emulator *e);

#ifdef __cplusplus
}
#endif
#endif
