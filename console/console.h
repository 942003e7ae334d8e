/*
 * console.h: the web console (console/), served by `dwf serve` under /console on its own port
 * and by `dwf console` over the embedded engine's store.
 *
 * Server-rendered HTML pages over the service core (service.h): the executions (filters by
 * status and function, paging), and an execution: its workflow graph coloured by each
 * operation's status, its timeline, every operation with its input, result, error chain and
 * attempts, the callbacks that wait (forms to succeed, fail or heartbeat them) and a stop
 * button, making the same service calls as `dwf callback` and `dwf stop`. While an execution
 * runs, its page follows it over server-sent events. Assets (one stylesheet, one script) are
 * compiled into the binary; pages read fine without the script.
 *
 * What the console cannot know by itself comes from its host through the options: the
 * picture of a function's workflow (the CLI has the compiler) and an execution's timeline (the
 * CLI draws it for `dwf history --format svg`), and whom to tell that an execution changed
 * (the emulator's scheduler). docs/console.md describes it; docs/security.md its security.
 */
#ifndef DWF_CONSOLE_H
#define DWF_CONSOLE_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "dwf_host.h"
#include "service.h"

#ifdef __cplusplus
extern "C" {
#endif

struct MHD_Connection;
typedef struct dwf_console dwf_console;

#define DWF_CONSOLE_PREFIX "/console"

typedef struct dwf_console_opts {
    dwf_service *svc;      /* borrowed; thread-safe; NULL until dwf_console_attach */
    /* Ask every browser for the console's token (printed by the host at start) before anything
     * else: dwf serve when it checks SigV4 keys, or listens beyond loopback. */
    int require_token;
    /* The Host header a page may be asked under besides loopback names (the --host given), so
     * a page of another site cannot reach the console by DNS rebinding. NULL = loopback only. */
    const char *host;
    /* The workflow of `function` as the JSON document `dwf graph --format json` writes
     * ({"dot","nodes",...}), malloc'd; NULL when the host has none (the page then has no graph). */
    char *(*workflow_graph)(void *arg, const char *function);
    /* An execution's timeline as a self-contained SVG document, malloc'd (or NULL): ops is its
     * Operations, events its history events, now_ms where open operations end. */
    char *(*timeline_svg)(void *arg, const cJSON *ops, const cJSON *events, double now_ms);
    /* Told after the console answered a callback or stopped an execution (may be NULL). */
    void (*changed)(void *arg, const char *arn);
    void *arg;
    const char *dot_program; /* Graphviz's dot; NULL = "dot" on PATH */
    FILE *log;               /* NULL = stderr */
} dwf_console_opts;

/* A console over o->svc, with a fresh random token and CSRF token. 0, or -1 with err. */
int dwf_console_new(const dwf_console_opts *o, dwf_console **out, dwf_error *err);
/* Give the console its service once the host has it (dwf serve: after the emulator started,
 * while its port may already be answering: until then the console answers 503). */
void dwf_console_attach(dwf_console *c, dwf_service *svc);
/* End the event streams (they return within a fraction of a second), before the server
 * that carries them is stopped. */
void dwf_console_shutdown(dwf_console *c);
/* Shut down (if not yet), stop its own server (dwf_console_listen) and free it. */
void dwf_console_free(dwf_console *c);

/* The token a browser needs when require_token is set (64 hex digits). */
const char *dwf_console_token(const dwf_console *c);

/* Is raw_uri ("/console/...?...") a console path? */
int dwf_console_owns(const char *raw_uri);
/* Answer one request on a libmicrohttpd connection (the host read the whole body; raw_uri is
 * the path and query as sent). Returns libmicrohttpd's MHD_YES / MHD_NO. */
int dwf_console_handle(dwf_console *c, struct MHD_Connection *conn, const char *method, const char *raw_uri,
                       const char *body, size_t len);

/* `dwf console`: listen on host:port (host NULL = 127.0.0.1; port 0 = any free one) with a
 * server of its own. 0, or -1 with err. */
int dwf_console_listen(dwf_console *c, const char *host, int port, dwf_error *err);
int dwf_console_port(const dwf_console *c);

#ifdef __cplusplus
}
#endif
#endif
