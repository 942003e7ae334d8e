/*
 * console.c: `dwf console`, the web console (console/) over the embedded engine's store: the
 * same pages dwf serve mounts at /console, on a server of their own.
 *
 * The console reads and answers; it does not run workflow code. After a callback is answered
 * or an execution stopped from a page, the `dwf run` waiting on it, or a `dwf worker` (or the
 * next `dwf resume`), carries the execution on, exactly as after `dwf callback` / `dwf stop`;
 * the page follows it as it moves.
 *
 * The graph of an execution's workflow comes from the .dwf the engine recorded for its
 * function (the function's Source, written by `dwf run`), checked and drawn as `dwf graph`
 * draws it, at the time the page is asked for: an edited file shows the edited workflow.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "codegen.h"
#include "console.h"
#include "engine_common.h"
#include "front.h"
#include "history_views.h"

const char *const usage_console =
    "usage: dwf console [--store PATH] [--port N] [--host ADDR]\n"
    "\n"
    "Serve the web console over the embedded engine's store: the executions (filters by status\n"
    "and function), and each execution's workflow graph coloured by its operations' statuses,\n"
    "its timeline, its operations (input, result, error chain, attempts), the callbacks that\n"
    "wait (forms to succeed, fail or heartbeat them) and a stop button; a running execution's\n"
    "page follows it live. `dwf serve` serves the same console at /console on its own port.\n"
    "\n"
    "options:\n"
    "  --store PATH   the SQLite store (default $DWF_STORE or ./.dwf/dwf.db)\n"
    "  --port N       listen on port N (default 9002; 0 = any free port, printed)\n"
    "  --host ADDR    IPv4 address to listen on (default 127.0.0.1); any other address makes\n"
    "                 the console ask for the token it prints at start\n"
    "\n"
    "The console answers callbacks and stops executions; a `dwf run` waiting on the execution,\n"
    "or `dwf worker`, carries it on.\n";

enum { OPT_STORE = 1, OPT_PORT, OPT_HOST };
static const CliOption options[] = {
    {"store", 0, CLI_VALUE, OPT_STORE},
    {"port", 0, CLI_VALUE, OPT_PORT},
    {"host", 0, CLI_VALUE, OPT_HOST},
    {0},
};

typedef struct ConsoleArgs {
    const char *store, *host;
    int port;
    dwf_service *svc;
} ConsoleArgs;

static int parse(int argc, char **argv, ConsoleArgs *c)
{
    CliArgs a;
    int opt;
    cli_args_init(&a, "console", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_STORE: c->store = a.value; break;
        case OPT_HOST: c->host = a.value; break;
        case OPT_PORT: {
            char *end;
            errno = 0;
            long p = strtol(a.value, &end, 10);
            if (errno || *end || end == a.value || p < 0 || p > 65535)
                return cli_usage_error("console", "--port takes a port number (0 to 65535), not '%s'", a.value);
            c->port = (int)p;
            break;
        }
        case CLI_ARGUMENT: return cli_usage_error("console", "unexpected argument '%s'", a.value);
        default: return EXIT_USAGE;
        }
    }
    return EXIT_OK;
}

/* The front end is run from the console's connection threads one at a time. */
static pthread_mutex_t front_mu = PTHREAD_MUTEX_INITIALIZER;

/* The workflow document of the .dwf a function was run from, or NULL. */
static char *graph_of_source(const char *path)
{
    FILE *quiet = fopen("/dev/null", "w");
    Arena *arena = arena_new();
    Diag *diag = quiet ? diag_new(quiet, 0) : NULL;
    char *text = NULL;
    size_t len = 0;
    if (arena && diag) {
        Program *p = front_compile_file(arena, diag, path);
        if (p && p->workflow && diag_errors(diag) == 0) {
            FILE *mem = open_memstream(&text, &len);
            int rc = mem ? cg_emit_graph(p, CG_GRAPH_CONSOLE, mem) : -1;
            if (mem && fclose(mem) != 0) rc = -1;
            if (rc != 0) {
                free(text);
                text = NULL;
            }
        }
    }
    if (diag) diag_free(diag);
    if (arena) arena_free(arena);
    if (quiet) fclose(quiet);
    return text;
}

static char *console_graph(void *arg, const char *function)
{
    ConsoleArgs *c = arg;
    cJSON *fn = NULL;
    dwf_error err;
    if (dwf_service_get_function(c->svc, function, &fn, &err) != 0) return NULL;
    const char *src = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fn, "Source"));
    char *doc = NULL;
    if (src) {
        pthread_mutex_lock(&front_mu);
        doc = graph_of_source(src);
        pthread_mutex_unlock(&front_mu);
    }
    cJSON_Delete(fn);
    return doc;
}

int cmd_console(int argc, char **argv)
{
    ConsoleArgs c = {.store = ec_default_store(), .port = 9002};
    int rc = parse(argc, argv, &c);
    if (rc != EXIT_OK) return rc;
    const char *host = c.host ? c.host : "127.0.0.1";
    /* Block the stop signals before any thread exists (as dwf serve does). */
    sigset_t stop;
    cli_block_stop_signals(&stop);
    if (ec_open_service("console", c.store, &c.svc) != 0) return EXIT_INPUT;
    int token = strncmp(host, "127.", 4) != 0;
    dwf_console_opts co = {.svc = c.svc, .require_token = token, .host = host, .workflow_graph = console_graph,
                           .timeline_svg = hv_console_timeline, .arg = &c};
    dwf_console *con = NULL;
    dwf_error err;
    if (dwf_console_new(&co, &con, &err) != 0 || dwf_console_listen(con, host, c.port, &err) != 0) {
        fprintf(stderr, "dwf console: %s: %s\n", err.type, err.message);
        dwf_console_free(con);
        dwf_service_close(c.svc);
        return EXIT_INPUT;
    }
    printf("dwf console: http://%s:%d" DWF_CONSOLE_PREFIX "/%s%s (store %s)\n",
           strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host, dwf_console_port(con), token ? "?token=" : "",
           token ? dwf_console_token(con) : "", dwf_service_store_path(c.svc));
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "dwf console: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    dwf_console_free(con);
    dwf_service_close(c.svc);
    return EXIT_OK;
}
