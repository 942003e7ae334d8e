/*
 * serve.c: `dwf serve`, the local Lambda emulator's command line (emulator/ does the work).
 *
 * Its one job besides parsing is to find each function's configuration where `dwf build` puts
 * it: the zip holds only the program (bootstrap, etc/), and the deploy files
 * the compiler writes beside the zip say how the function is configured on Lambda:
 * durable-config.json (the DurableConfig of create-function), environment.json (its
 * Environment: the workflow's lambda { environment }) and template.yaml (FunctionName,
 * MemorySize, Timeout, ReservedConcurrentExecutions). Reading them, rather than asking the
 * user to repeat them in flags, means the emulator runs the function exactly as deploy.sh would
 * create it; flags given after a function override what the files say. A zip with no files beside it (not built by dwf)
 * gets Lambda's defaults and its name from the zip (its comment, or a bin/<name> program), or
 * from --name.
 *
 * The web console (console/) is mounted at /console on the API port. Its graph of a function's
 * workflow is workflow-graph.json, which `dwf build` writes beside the zip with the deploy files
 * (the same DOT `dwf graph` draws, and which operations each node stands for); read once at
 * start, like the other deploy files, so it describes the code that runs. Without it the
 * console shows everything but the graph.
 *
 * The process runs until SIGINT or SIGTERM: the signals are blocked before any thread starts
 * and taken with sigwait, so no handler runs inside libmicrohttpd or SQLite.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "console.h"
#include "emulator.h"
#include "fs.h"
#include "history_views.h"
#include "input.h"

const char *const usage_serve =
    "usage: dwf serve [options] [FUNCTION...]\n"
    "\n"
    "Run the local Lambda emulator on 127.0.0.1: the Invoke API, the durable execution API and\n"
    "the control plane deploy.sh uses (Lambda's CreateFunction, UpdateFunctionCode, PublishVersion,\n"
    "...; IAM roles; STS GetCallerIdentity) on one port (point AWS_ENDPOINT_URL or an SDK's\n"
    "endpoint at it), and for each function a process started as Lambda starts a runtime, with\n"
    "its own Runtime API. Functions created through the API are kept in the store and served\n"
    "again at the next start.\n"
    "\n"
    "A FUNCTION is a Lambda zip (`dwf build` output), or --function [NAME=]PATH with PATH a zip\n"
    "or a directory used as the task root as it is. The configuration comes from the deploy\n"
    "files beside a zip (durable-config.json, environment.json, template.yaml), else Lambda's\n"
    "defaults.\n"
    "\n"
    "options:\n"
    "  --port N               listen on port N (default 9001; 0 = any free port, printed)\n"
    "  --host ADDR            IPv4 address to listen on (default 127.0.0.1); an address that is not\n"
    "                         loopback needs --access-key/--secret-key, or --insecure-public\n"
    "  --insecure-public      accept unsigned requests on a non-loopback --host (anyone who can reach\n"
    "                         it can then invoke the functions)\n"
    "  --store PATH           the SQLite store (default $DWF_STORE or ./.dwf/dwf.db)\n"
    "  --region R, --account A   for ARNs (default us-east-1, 000000000000)\n"
    "  --access-key K --secret-key S   check every request's SigV4 signature against this key\n"
    "                         (default $DWF_SERVE_ACCESS_KEY / $DWF_SERVE_SECRET_KEY; none = accept any)\n"
    "  --skip-time            jump each idle execution's own clock to its next wait end or retry\n"
    "  --cold                 stop a function's process after each invocation (every start is cold)\n"
    "  --concurrency N        the account's concurrency: invocations in flight at once, all functions\n"
    "                         together (default 1000, Lambda's default quota); a synchronous Invoke\n"
    "                         over it is answered 429 TooManyRequestsException, an asynchronous one\n"
    "                         waits in the queue\n"
    "  --environments N       execution environments (processes) at once, all functions together\n"
    "                         (default 4 per core, at most --concurrency); invocations beyond wait\n"
    "                         for a free one\n"
    "  --idle-timeout S       stop an environment idle for S seconds (default 300)\n"
    "  --quiet                no per-invocation log lines\n"
    "  --connection-timeout S close a connection silent for S seconds (default 30)\n"
    "\n"
    "options for the function given just before them:\n"
    "  --name NAME            function name (default: template.yaml's, else the zip's own)\n"
    "  --command CMD          start command, split on blanks (default: <task root>/bootstrap)\n"
    "  --handler H            _HANDLER (default bootstrap)\n"
    "  --runtime ENV          AWS_EXECUTION_ENV (default AWS_Lambda_provided.al2023)\n"
    "  --env NAME=VALUE       one more environment variable for the process (repeatable; over\n"
    "                         environment.json's)\n"
    "  --memory MB            AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default 128)\n"
    "  --timeout S            invocation timeout in seconds (default 3)\n"
    "  --retention DAYS       DurableConfig.RetentionPeriodInDays (default 14)\n"
    "  --execution-timeout S  DurableConfig.ExecutionTimeout (default 86400)\n"
    "  --no-durable           a plain Lambda function (no DurableConfig): the payload is the event, the\n"
    "                         handler's value the answer, no durable execution (also: deploy files\n"
    "                         beside a zip that carry no DurableConfig)\n"
    "  --reserved N           reserved concurrency: at most N environments of this function, 0 throttles\n"
    "                         every invocation (default template.yaml's ReservedConcurrentExecutions,\n"
    "                         else none: a share of --concurrency)\n"
    "\n"
    "A deployment rehearsal: start serve with no function, then run the generated deploy.sh\n"
    "against it:\n"
    "  dwf serve --port 9001 &\n"
    "  AWS_ENDPOINT_URL=http://127.0.0.1:9001 out/order/deploy.sh '{\"orderId\":\"X\"}'\n"
    "\n"
    "example:\n"
    "  dwf build examples/order.dwf -o out/order/function.zip\n"
    "  dwf serve --port 9001 out/order/function.zip\n"
    "  aws lambda invoke --endpoint-url http://127.0.0.1:9001 --function-name 'durable-basic-test:$LATEST' \\\n"
    "      --cli-binary-format raw-in-base64-out --payload '{\"orderId\":\"ORD-9\"}' out.json\n";

typedef struct fn_spec {
    dwf_emulator_function f;
    const char **env;   /* NAME=VALUE: environment.json's, then --env's (the later wins) */
    int nenv;
    char **env_owned;   /* the strings of environment.json's entries */
    int nowned;
    char *name_buf, *zip_buf, *dir_buf;
    char *graph; /* workflow-graph.json beside the zip, or NULL */
} fn_spec;

/* A deploy file beside the zip, or NULL when there is none. dwf writes them in a few KB, so
 * anything past DEPLOY_FILE_LIMIT is not one of them (and /dev/zero must not fill memory). */
enum { DEPLOY_FILE_LIMIT = 1 << 20 };

static char *slurp(const char *path, int *too_big)
{
    char *buf = NULL;
    size_t len = 0;
    int r = dwf__read_file_bounded(path, DEPLOY_FILE_LIMIT, &buf, &len);
    if (r == 1) {
        fprintf(stderr, "dwf serve: %s is larger than %d bytes: not a deploy file dwf wrote\n", path,
                DEPLOY_FILE_LIMIT);
        *too_big = 1;
    }
    return r == 0 ? buf : NULL;
}

/* workflow-graph.json beside the zip, for the web console; larger than GRAPH_FILE_LIMIT or not
 * JSON, it is left out with a warning (the function is served all the same). */
enum { GRAPH_FILE_LIMIT = 8 << 20 };
static void read_graph(fn_spec *s, const char *dir)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/workflow-graph.json", dir);
    char *text = NULL;
    size_t len = 0;
    int r = dwf__read_file_bounded(path, GRAPH_FILE_LIMIT, &text, &len);
    cJSON *j = r == 0 ? cJSON_Parse(text) : NULL;
    if (r == 0 && !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "dot"))) {
        fprintf(stderr, "dwf serve: warning: %s is not a workflow graph dwf wrote: the console shows no graph\n",
                path);
        free(text);
        text = NULL;
    } else if (r == 1) {
        fprintf(stderr, "dwf serve: warning: %s is larger than %d bytes: the console shows no graph\n", path,
                GRAPH_FILE_LIMIT);
    }
    cJSON_Delete(j);
    free(s->graph);
    s->graph = text;
}

static int spec_add_env(fn_spec *s, const char *kv)
{
    const char **ne = realloc(s->env, (size_t)(s->nenv + 2) * sizeof *ne);
    if (!ne) return -1;
    s->env = ne;
    s->env[s->nenv++] = kv;
    s->env[s->nenv] = NULL;
    return 0;
}

/* environment.json's Variables as the function's first environment entries. */
static int read_environment(fn_spec *s, const char *dir)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/environment.json", dir);
    int too_big = 0;
    char *text = slurp(path, &too_big);
    if (too_big) return -1;
    if (!text) return 0;
    cJSON *j = cJSON_Parse(text);
    free(text);
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(j, "Variables");
    int bad = !cJSON_IsObject(vars);
    if (bad) fprintf(stderr, "dwf serve: %s is not {\"Variables\": {...}}\n", path);
    for (const cJSON *v = bad ? NULL : vars->child; v && !bad; v = v->next) {
        if (!cJSON_IsString(v)) {
            fprintf(stderr, "dwf serve: %s: the value of %s is not a string\n", path, v->string);
            bad = 1;
            break;
        }
        size_t need = strlen(v->string) + strlen(v->valuestring) + 2;
        char *kv = malloc(need);
        char **grown = kv ? realloc(s->env_owned, (size_t)(s->nowned + 1) * sizeof *grown) : NULL;
        if (!grown) {
            free(kv);
            fprintf(stderr, "dwf serve: out of memory\n");
            bad = 1;
            break;
        }
        s->env_owned = grown;
        snprintf(kv, need, "%s=%s", v->string, v->valuestring);
        s->env_owned[s->nowned++] = kv;
        bad = spec_add_env(s, kv) != 0;
    }
    cJSON_Delete(j);
    return bad ? -1 : 0;
}

/* The deploy files `dwf build` writes beside the zip. Missing files are fine; a broken one is not. */
static int read_beside(fn_spec *s, const char *zip)
{
    char dir[PATH_MAX];
    dwf__dirname(zip, dir, sizeof dir);
    read_graph(s, dir);
    if (read_environment(s, dir) != 0) return -1;
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/durable-config.json", dir);
    int too_big = 0;
    char *text = slurp(path, &too_big);
    if (too_big) return -1;
    int durable_config = text != NULL, deploy_files = text != NULL;
    if (text) {
        cJSON *j = cJSON_Parse(text);
        free(text);
        if (!cJSON_IsObject(j)) {
            cJSON_Delete(j);
            fprintf(stderr, "dwf serve: %s is not a JSON object\n", path);
            return -1;
        }
        const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "RetentionPeriodInDays");
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "ExecutionTimeout");
        if (cJSON_IsNumber(r)) s->f.retention_days = (int)r->valuedouble;
        if (cJSON_IsNumber(t)) s->f.execution_timeout_s = (int)t->valuedouble;
        cJSON_Delete(j);
    }
    snprintf(path, sizeof path, "%s/template.yaml", dir);
    text = slurp(path, &too_big);
    if (too_big) return -1;
    if (text) {
        deploy_files = 1;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
            while (*line == ' ') line++;
            if (strncmp(line, "DurableConfig:", 14) == 0) durable_config = 1;
            else if (strncmp(line, "MemorySize:", 11) == 0) s->f.memory_mb = atoi(line + 11);
            else if (strncmp(line, "ReservedConcurrentExecutions:", 29) == 0) {
                s->f.reserved = atoi(line + 29);
                s->f.has_reserved = 1;
            }
            else if (strncmp(line, "Timeout:", 8) == 0) s->f.timeout_s = atoi(line + 8);
            else if (strncmp(line, "FunctionName:", 13) == 0 && !s->name_buf) {
                char *v = line + 13;
                while (*v == ' ' || *v == '"') v++;
                size_t n = strcspn(v, "\"\r ");
                s->name_buf = strndup(v, n);
            }
        }
        free(text);
    }
    /* Deploy files without a DurableConfig describe a plain function, as create-function makes
     * one without --durable-config. No deploy files at all: a durable function (dwf's zips). */
    s->f.plain = deploy_files && !durable_config;
    return 0;
}

static int parse_int(const char *opt, const char *v, int min, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < min || x > INT_MAX)
        return cli_usage_error("serve", "%s takes a whole number >= %d, not '%s'", opt, min, v);
    *out = (int)x;
    return EXIT_OK;
}

static void specs_free(fn_spec *s, int n)
{
    for (int i = 0; i < n; i++) {
        free(s[i].env);
        for (int k = 0; k < s[i].nowned; k++) free(s[i].env_owned[k]);
        free(s[i].env_owned);
        free(s[i].name_buf);
        free(s[i].zip_buf);
        free(s[i].dir_buf);
        free(s[i].graph);
    }
    free(s);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

static int out_of_memory(void)
{
    fprintf(stderr, "dwf serve: out of memory\n");
    return EXIT_INPUT;
}

enum {
    /* the emulator's */
    OPT_PORT = 1, OPT_HOST, OPT_STORE, OPT_REGION, OPT_ACCOUNT, OPT_ACCESS_KEY, OPT_SECRET_KEY,
    OPT_SESSION_TOKEN, OPT_SKIP_TIME, OPT_COLD, OPT_QUIET, OPT_INSECURE_PUBLIC, OPT_CONNECTION_TIMEOUT,
    OPT_CONCURRENCY, OPT_ENVIRONMENTS, OPT_IDLE_TIMEOUT, OPT_FUNCTION,
    /* the function's given before them (OPT_NAME and after) */
    OPT_NAME, OPT_COMMAND, OPT_HANDLER, OPT_RUNTIME, OPT_ENV, OPT_MEMORY, OPT_TIMEOUT,
    OPT_RETENTION, OPT_EXECUTION_TIMEOUT, OPT_NO_DURABLE, OPT_RESERVED
};
static const CliOption options[] = {
    {"port", 0, CLI_VALUE, OPT_PORT},
    {"host", 0, CLI_VALUE, OPT_HOST},
    {"store", 0, CLI_VALUE, OPT_STORE},
    {"region", 0, CLI_VALUE, OPT_REGION},
    {"account", 0, CLI_VALUE, OPT_ACCOUNT},
    {"access-key", 0, CLI_VALUE, OPT_ACCESS_KEY},
    {"secret-key", 0, CLI_VALUE, OPT_SECRET_KEY},
    {"session-token", 0, CLI_VALUE, OPT_SESSION_TOKEN},
    {"skip-time", 0, CLI_FLAG, OPT_SKIP_TIME},
    {"cold", 0, CLI_FLAG, OPT_COLD},
    {"quiet", 0, CLI_FLAG, OPT_QUIET},
    {"insecure-public", 0, CLI_FLAG, OPT_INSECURE_PUBLIC},
    {"connection-timeout", 0, CLI_VALUE, OPT_CONNECTION_TIMEOUT},
    {"concurrency", 0, CLI_VALUE, OPT_CONCURRENCY},
    {"environments", 0, CLI_VALUE, OPT_ENVIRONMENTS},
    {"idle-timeout", 0, CLI_VALUE, OPT_IDLE_TIMEOUT},
    {"reserved", 0, CLI_VALUE, OPT_RESERVED},
    {"function", 0, CLI_VALUE, OPT_FUNCTION},
    {"name", 0, CLI_VALUE, OPT_NAME},
    {"command", 0, CLI_VALUE, OPT_COMMAND},
    {"handler", 0, CLI_VALUE, OPT_HANDLER},
    {"runtime", 0, CLI_VALUE, OPT_RUNTIME},
    {"env", 0, CLI_VALUE, OPT_ENV},
    {"memory", 0, CLI_VALUE, OPT_MEMORY},
    {"timeout", 0, CLI_VALUE, OPT_TIMEOUT},
    {"retention", 0, CLI_VALUE, OPT_RETENTION},
    {"execution-timeout", 0, CLI_VALUE, OPT_EXECUTION_TIMEOUT},
    {"no-durable", 0, CLI_FLAG, OPT_NO_DURABLE},
    {0},
};

typedef struct Serve {
    dwf_emulator_opts o;
    fn_spec *specs;
    int nspecs;
} Serve;

/* An option of the emulator as a whole. */
static int emulator_option(Serve *sv, int opt, const char *v)
{
    dwf_emulator_opts *o = &sv->o;
    switch (opt) {
    case OPT_PORT:
        if (parse_int("--port", v, 0, &o->port) != EXIT_OK) return EXIT_USAGE;
        if (o->port > 65535) return cli_usage_error("serve", "--port %d is not a port", o->port);
        break;
    case OPT_HOST: o->host = v; break;
    case OPT_STORE: o->store = v; break;
    case OPT_REGION: o->region = v; break;
    case OPT_ACCOUNT: o->account = v; break;
    case OPT_ACCESS_KEY: o->access_key = v; break;
    case OPT_SECRET_KEY: o->secret_key = v; break;
    case OPT_SESSION_TOKEN: o->session_token = v; break;
    case OPT_SKIP_TIME: o->skip_time = 1; break;
    case OPT_COLD: o->cold = 1; break;
    case OPT_QUIET: o->quiet = 1; break;
    case OPT_INSECURE_PUBLIC: o->insecure_public = 1; break;
    case OPT_CONNECTION_TIMEOUT: return parse_int("--connection-timeout", v, 1, &o->connection_timeout_s);
    case OPT_CONCURRENCY: return parse_int("--concurrency", v, 1, &o->concurrency);
    case OPT_ENVIRONMENTS: return parse_int("--environments", v, 1, &o->environments);
    case OPT_IDLE_TIMEOUT: return parse_int("--idle-timeout", v, 1, &o->idle_retire_s);
    }
    return EXIT_OK;
}

/* An option of the function given last (`opt` >= OPT_NAME). */
static int function_option(Serve *sv, int opt, const CliArgs *a)
{
    if (sv->nspecs == 0)
        return cli_usage_error("serve", "%s applies to the function given before it; give a function first",
                               a->spelled);
    fn_spec *last = &sv->specs[sv->nspecs - 1];
    const char *v = a->value;
    switch (opt) {
    case OPT_NAME:
        free(last->name_buf);
        if (!(last->name_buf = strdup(v))) return out_of_memory();
        break;
    case OPT_COMMAND: last->f.command = v; break;
    case OPT_HANDLER: last->f.handler = v; break;
    case OPT_RUNTIME: last->f.runtime = v; break;
    case OPT_ENV:
        if (!strchr(v, '=') || v[0] == '=') return cli_usage_error("serve", "--env takes NAME=VALUE, not '%s'", v);
        if (spec_add_env(last, v) != 0) return out_of_memory();
        break;
    case OPT_MEMORY: return parse_int("--memory", v, 128, &last->f.memory_mb);
    case OPT_TIMEOUT: return parse_int("--timeout", v, 1, &last->f.timeout_s);
    case OPT_RETENTION: return parse_int("--retention", v, 1, &last->f.retention_days);
    case OPT_EXECUTION_TIMEOUT: return parse_int("--execution-timeout", v, 1, &last->f.execution_timeout_s);
    case OPT_NO_DURABLE: last->f.plain = 1; break;
    case OPT_RESERVED:
        last->f.has_reserved = 1;
        return parse_int("--reserved", v, 0, &last->f.reserved);
    }
    return EXIT_OK;
}

/* A function: a zip given as an argument, or --function [NAME=]PATH (a zip or a directory). */
static int add_function(Serve *sv, const char *spec, int by_option)
{
    fn_spec *ns = realloc(sv->specs, (size_t)(sv->nspecs + 1) * sizeof *ns);
    if (!ns) return out_of_memory();
    sv->specs = ns;
    fn_spec *s = &sv->specs[sv->nspecs++];
    memset(s, 0, sizeof *s);
    const char *eq = strchr(spec, '=');
    const char *path = spec;
    if (eq && by_option) {
        if (!(s->name_buf = strndup(spec, (size_t)(eq - spec)))) return out_of_memory();
        path = eq + 1;
    }
    if (ends_with(path, ".zip")) {
        if (!(s->zip_buf = strdup(path))) return out_of_memory();
        /* The deploy files beside the zip name the function, unless NAME= did. */
        char *keep = s->name_buf;
        s->name_buf = NULL;
        if (read_beside(s, path) != 0) {
            free(keep);
            return EXIT_INPUT;
        }
        if (keep) {
            free(s->name_buf);
            s->name_buf = keep;
        }
    } else if (by_option) {
        if (!(s->dir_buf = strdup(path))) return out_of_memory();
    } else {
        return cli_usage_error("serve", "'%s' is not a .zip (use --function NAME=DIR for a function directory)", path);
    }
    return EXIT_OK;
}

static int parse(Serve *sv, int argc, char **argv)
{
    CliArgs a;
    int opt, rc = EXIT_OK;
    cli_args_init(&a, "serve", options, argc, argv);
    while (rc == EXIT_OK && (opt = cli_args_next(&a)) != CLI_END) {
        if (opt == CLI_BAD) rc = EXIT_USAGE;
        else if (opt == CLI_ARGUMENT || opt == OPT_FUNCTION) rc = add_function(sv, a.value, opt == OPT_FUNCTION);
        else if (opt >= OPT_NAME) rc = function_option(sv, opt, &a);
        else rc = emulator_option(sv, opt, a.value);
    }
    if (rc != EXIT_OK) return rc;
    for (int i = 0; i < sv->nspecs; i++) {
        fn_spec *s = &sv->specs[i];
        s->f.name = s->name_buf;
        s->f.zip = s->zip_buf;
        s->f.dir = s->dir_buf;
        s->f.env = s->env;
        if (s->dir_buf && !s->name_buf)
            return cli_usage_error("serve", "--function %s: a directory needs a name (--function NAME=DIR)",
                                   s->dir_buf);
    }
    return EXIT_OK;
}

/* Say what is exposed: where the API listens and whether a request must be signed. */
static void print_exposure(const dwf_emulator_opts *o, int port)
{
    const char *host = o->host ? o->host : "127.0.0.1";
    int is_signed = o->access_key && *o->access_key;
    printf("dwf serve: listening on http://%s:%d (Invoke, durable execution and control plane APIs); %s\n", host,
           port,
           is_signed ? "every request must be SigV4-signed with the given access key"
           : strncmp(host, "127.", 4) == 0 ? "unsigned requests accepted, from this machine only"
                                           : "unsigned requests accepted FROM THE NETWORK (--insecure-public)");
    if (!is_signed && strncmp(host, "127.", 4) != 0)
        fprintf(stderr, "dwf serve: warning: anyone who can reach %s:%d can invoke the functions, read their "
                        "executions and answer their callbacks\n", host, port);
}

/* ---- the web console ------------------------------------------------------------------------ */

typedef struct ServeConsole {
    dwf_console *console;
    dwf_emulator *emu; /* set once started (atomic: the console may answer before) */
    const Serve *sv;
} ServeConsole;

static int console_mount(void *arg, struct MHD_Connection *conn, const char *method, const char *uri,
                         const char *body, size_t len)
{
    ServeConsole *sc = arg;
    return dwf_console_handle(sc->console, conn, method, uri, body, len);
}

/* The served function's workflow-graph.json, by its served name. */
static char *console_graph(void *arg, const char *function)
{
    ServeConsole *sc = arg;
    dwf_emulator *emu = __atomic_load_n(&sc->emu, __ATOMIC_ACQUIRE);
    for (int i = 0; emu && i < sc->sv->nspecs; i++)
        if (sc->sv->specs[i].graph && strcmp(dwf_emulator_function_name(emu, i), function) == 0)
            return strdup(sc->sv->specs[i].graph);
    return NULL;
}

static void console_changed(void *arg, const char *arn)
{
    ServeConsole *sc = arg;
    dwf_emulator *emu = __atomic_load_n(&sc->emu, __ATOMIC_ACQUIRE);
    if (emu) dwf_emulator_execution_changed(emu, arn);
}

/* The console, before the emulator starts (it is mounted on its port): it asks for its token
 * when requests must be signed or come from beyond loopback (docs/security.md). */
static int console_new(Serve *sv, ServeConsole *sc)
{
    const char *host = sv->o.host ? sv->o.host : "127.0.0.1";
    dwf_console_opts co = {
        .require_token = (sv->o.access_key && *sv->o.access_key) || strncmp(host, "127.", 4) != 0,
        .host = host,
        .workflow_graph = console_graph,
        .timeline_svg = hv_console_timeline,
        .changed = console_changed,
        .arg = sc,
        .log = sv->o.log,
    };
    dwf_error err;
    sc->sv = sv;
    if (dwf_console_new(&co, &sc->console, &err) != 0) {
        fprintf(stderr, "dwf serve: %s: %s\n", err.type, err.message);
        return -1;
    }
    sv->o.mount_prefix = DWF_CONSOLE_PREFIX;
    sv->o.mount_handle = console_mount;
    sv->o.mount_arg = sc;
    return 0;
}

static void print_console(const Serve *sv, const ServeConsole *sc, int port)
{
    const char *host = sv->o.host ? sv->o.host : "127.0.0.1";
    int token = (sv->o.access_key && *sv->o.access_key) || strncmp(host, "127.", 4) != 0;
    printf("dwf serve: web console at http://%s:%d" DWF_CONSOLE_PREFIX "/%s%s\n",
           strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host, port, token ? "?token=" : "",
           token ? dwf_console_token(sc->console) : "");
}

/* Start the emulator, say where it listens, and wait for SIGINT or SIGTERM. */
static int serve(Serve *sv)
{
    /* Block the stop signals before any thread exists, so every thread inherits the mask. */
    sigset_t stop;
    cli_block_stop_signals(&stop);

    dwf_emulator_function *fns = calloc((unsigned)sv->nspecs, sizeof *fns);
    if (!fns) return out_of_memory();
    for (int i = 0; i < sv->nspecs; i++) fns[i] = sv->specs[i].f;
    dwf_emulator *emu = NULL;
    dwf_error err;
    ServeConsole sc = {0};
    if (console_new(sv, &sc) != 0) {
        free(fns);
        return EXIT_INPUT;
    }
    int r = dwf_emulator_start(&sv->o, fns, sv->nspecs, &emu, &err);
    free(fns);
    if (r != 0) {
        fprintf(stderr, "dwf serve: %s: %s\n", err.type, err.message);
        dwf_console_free(sc.console);
        return EXIT_INPUT;
    }
    __atomic_store_n(&sc.emu, emu, __ATOMIC_RELEASE);
    dwf_console_attach(sc.console, dwf_emulator_service(emu));
    print_exposure(&sv->o, dwf_emulator_port(emu));
    for (int i = 0; i < dwf_emulator_function_count(emu); i++)
        printf("dwf serve: function %s: task root %s, Runtime API 127.0.0.1:%d (its own processes only)\n",
               dwf_emulator_function_name(emu, i), dwf_emulator_task_root(emu, i),
               dwf_emulator_runtime_port(emu, i));
    print_console(sv, &sc, dwf_emulator_port(emu));
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "dwf serve: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    dwf_console_shutdown(sc.console); /* its event streams end before the server stops */
    dwf_emulator_stop(emu);
    dwf_console_free(sc.console);
    return EXIT_OK;
}

int cmd_serve(int argc, char **argv)
{
    Serve sv = {{0}, NULL, 0};
    sv.o.port = 9001;
    sv.o.store = getenv("DWF_STORE");
    sv.o.access_key = getenv("DWF_SERVE_ACCESS_KEY");
    sv.o.secret_key = getenv("DWF_SERVE_SECRET_KEY");
    int rc = parse(&sv, argc, argv);
    if (rc == EXIT_OK) rc = serve(&sv);
    specs_free(sv.specs, sv.nspecs);
    return rc;
}
