/*
 * cmd_serve.c: `dwf serve`, the local Lambda emulator's command line (emulator/emulator.c does
 * the work).
 *
 * Its one job besides parsing is to find each function's configuration where `dwf build` puts
 * it: the zip holds only the program (bootstrap, bin/<name>, lib/, etc/), and the deploy files
 * the compiler writes beside the zip say how the function is configured on Lambda:
 * durable-config.json (the DurableConfig of create-function) and template.yaml (FunctionName,
 * MemorySize, Timeout). Reading them, rather than asking the user to repeat them in flags,
 * means the emulator runs the function exactly as deploy.sh would create it; flags given after
 * a function override what the files say. A zip with no files beside it (not built by dwf)
 * gets Lambda's defaults and its name from bin/<name>, or from --name.
 *
 * The process runs until SIGINT or SIGTERM: the signals are blocked before any thread starts
 * and taken with sigwait, so no handler runs inside libmicrohttpd or SQLite.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "emulator.h"

const char *const usage_serve =
    "usage: dwf serve [options] FUNCTION...\n"
    "\n"
    "Run the local Lambda emulator on 127.0.0.1: the Invoke API and the durable execution API\n"
    "on one port (point AWS_ENDPOINT_URL_LAMBDA or an SDK's endpoint at it), and for each\n"
    "function a process started as Lambda starts a runtime, with its own Runtime API.\n"
    "\n"
    "A FUNCTION is a Lambda zip (`dwf build` output), or --function [NAME=]PATH with PATH a zip\n"
    "or a directory used as the task root as it is. The configuration comes from the deploy\n"
    "files beside a zip (durable-config.json, template.yaml), else Lambda's defaults.\n"
    "\n"
    "options:\n"
    "  --port N               listen on port N (default 9001; 0 = any free port, printed)\n"
    "  --host ADDR            IPv4 address to listen on (default 127.0.0.1)\n"
    "  --store PATH           the SQLite store (default $DWF_STORE or ./.dwf/dwf.db)\n"
    "  --region R, --account A   for ARNs (default us-east-1, 000000000000)\n"
    "  --access-key K --secret-key S   check every request's SigV4 signature against this key\n"
    "                         (default $DWF_SERVE_ACCESS_KEY / $DWF_SERVE_SECRET_KEY; none = accept any)\n"
    "  --skip-time            when idle, jump the store's clock to the next wait end or retry\n"
    "  --cold                 stop a function's process after each invocation (every start is cold)\n"
    "  --quiet                no per-invocation log lines\n"
    "\n"
    "options for the function given just before them:\n"
    "  --name NAME            function name (default: template.yaml's, else the zip's bin/<name>)\n"
    "  --command CMD          start command, split on blanks (default: <task root>/bootstrap)\n"
    "  --handler H            _HANDLER (default bootstrap)\n"
    "  --runtime ENV          AWS_EXECUTION_ENV (default AWS_Lambda_provided.al2023)\n"
    "  --env NAME=VALUE       one more environment variable for the process (repeatable)\n"
    "  --memory MB            AWS_LAMBDA_FUNCTION_MEMORY_SIZE (default 128)\n"
    "  --timeout S            invocation timeout in seconds (default 3)\n"
    "  --retention DAYS       DurableConfig.RetentionPeriodInDays (default 14)\n"
    "  --execution-timeout S  DurableConfig.ExecutionTimeout (default 86400)\n"
    "\n"
    "example:\n"
    "  dwf build examples/order.dwf -o out/order/function.zip\n"
    "  dwf serve --port 9001 out/order/function.zip\n"
    "  aws lambda invoke --endpoint-url http://127.0.0.1:9001 --function-name 'durable-basic-test:$LATEST' \\\n"
    "      --cli-binary-format raw-in-base64-out --payload '{\"orderId\":\"ORD-9\"}' out.json\n";

typedef struct fn_spec {
    dwf_emulator_function f;
    const char **env;
    int nenv;
    char *name_buf, *zip_buf, *dir_buf;
} fn_spec;

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = (cap + 4096) * 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t k = fread(buf + len, 1, 4096, f);
        len += k;
        if (k < 4096) break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

/* The deploy files `dwf build` writes beside the zip. Missing files are fine; a broken one is not. */
static int read_beside(fn_spec *s, const char *zip)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", zip);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0';
    else snprintf(dir, sizeof dir, ".");
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/durable-config.json", dir);
    char *text = slurp(path);
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
    text = slurp(path);
    if (text) {
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
            while (*line == ' ') line++;
            if (strncmp(line, "MemorySize:", 11) == 0) s->f.memory_mb = atoi(line + 11);
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
    return 0;
}

static int parse_int(const char *cmd, const char *opt, const char *v, int min, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < min || x > INT_MAX) {
        cli_usage_error(cmd, "%s takes a whole number >= %d, not '%s'", opt, min, v);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static void specs_free(fn_spec *s, int n)
{
    for (int i = 0; i < n; i++) {
        free(s[i].env);
        free(s[i].name_buf);
        free(s[i].zip_buf);
        free(s[i].dir_buf);
    }
    free(s);
}

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && strcmp(s + a - b, suf) == 0;
}

int cmd_serve(int argc, char **argv)
{
    dwf_emulator_opts o = {0};
    o.port = 9001;
    o.store = getenv("DWF_STORE");
    o.access_key = getenv("DWF_SERVE_ACCESS_KEY");
    o.secret_key = getenv("DWF_SERVE_SECRET_KEY");
    fn_spec *specs = NULL;
    int nspecs = 0, rc = EXIT_USAGE;
    const char *cmd = "serve";

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        fn_spec *last = nspecs ? &specs[nspecs - 1] : NULL;
#define NEEDV()                                                                                  \
    do {                                                                                         \
        if (!v) {                                                                                \
            cli_usage_error(cmd, "%s needs a value", a);                                         \
            goto out;                                                                            \
        }                                                                                        \
        i++;                                                                                     \
    } while (0)
#define NEEDFN()                                                                                 \
    do {                                                                                         \
        if (!last) {                                                                             \
            cli_usage_error(cmd, "%s applies to the function given before it; give a function first", a); \
            goto out;                                                                            \
        }                                                                                        \
    } while (0)
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            fputs(usage_serve, stdout);
            rc = EXIT_OK;
            goto out;
        } else if (strcmp(a, "--port") == 0) {
            NEEDV();
            if (parse_int(cmd, a, v, 0, &o.port) != 0) goto out;
            if (o.port > 65535) {
                cli_usage_error(cmd, "--port %d is not a port", o.port);
                goto out;
            }
        } else if (strcmp(a, "--host") == 0) {
            NEEDV();
            o.host = v;
        } else if (strcmp(a, "--store") == 0) {
            NEEDV();
            o.store = v;
        } else if (strcmp(a, "--region") == 0) {
            NEEDV();
            o.region = v;
        } else if (strcmp(a, "--account") == 0) {
            NEEDV();
            o.account = v;
        } else if (strcmp(a, "--access-key") == 0) {
            NEEDV();
            o.access_key = v;
        } else if (strcmp(a, "--secret-key") == 0) {
            NEEDV();
            o.secret_key = v;
        } else if (strcmp(a, "--session-token") == 0) {
            NEEDV();
            o.session_token = v;
        } else if (strcmp(a, "--skip-time") == 0) {
            o.skip_time = 1;
        } else if (strcmp(a, "--cold") == 0) {
            o.cold = 1;
        } else if (strcmp(a, "--quiet") == 0) {
            o.quiet = 1;
        } else if (strcmp(a, "--name") == 0) {
            NEEDV();
            NEEDFN();
            free(last->name_buf);
            if (!(last->name_buf = strdup(v))) goto oom;
        } else if (strcmp(a, "--command") == 0) {
            NEEDV();
            NEEDFN();
            last->f.command = v;
        } else if (strcmp(a, "--handler") == 0) {
            NEEDV();
            NEEDFN();
            last->f.handler = v;
        } else if (strcmp(a, "--runtime") == 0) {
            NEEDV();
            NEEDFN();
            last->f.runtime = v;
        } else if (strcmp(a, "--env") == 0) {
            NEEDV();
            NEEDFN();
            if (!strchr(v, '=') || v[0] == '=') {
                cli_usage_error(cmd, "--env takes NAME=VALUE, not '%s'", v);
                goto out;
            }
            const char **ne = realloc(last->env, (size_t)(last->nenv + 2) * sizeof *ne);
            if (!ne) goto oom;
            last->env = ne;
            last->env[last->nenv++] = v;
            last->env[last->nenv] = NULL;
        } else if (strcmp(a, "--memory") == 0) {
            NEEDV();
            NEEDFN();
            if (parse_int(cmd, a, v, 128, &last->f.memory_mb) != 0) goto out;
        } else if (strcmp(a, "--timeout") == 0) {
            NEEDV();
            NEEDFN();
            if (parse_int(cmd, a, v, 1, &last->f.timeout_s) != 0) goto out;
        } else if (strcmp(a, "--retention") == 0) {
            NEEDV();
            NEEDFN();
            if (parse_int(cmd, a, v, 1, &last->f.retention_days) != 0) goto out;
        } else if (strcmp(a, "--execution-timeout") == 0) {
            NEEDV();
            NEEDFN();
            if (parse_int(cmd, a, v, 1, &last->f.execution_timeout_s) != 0) goto out;
        } else if (strcmp(a, "--function") == 0 || (a[0] != '-')) {
            const char *spec = a;
            if (a[0] == '-') {
                NEEDV();
                spec = v;
            }
            fn_spec *ns = realloc(specs, (size_t)(nspecs + 1) * sizeof *ns);
            if (!ns) goto oom;
            specs = ns;
            fn_spec *s = &specs[nspecs++];
            memset(s, 0, sizeof *s);
            const char *eq = strchr(spec, '=');
            const char *path = spec;
            if (eq && a[0] == '-') {
                if (!(s->name_buf = strndup(spec, (size_t)(eq - spec)))) goto oom;
                path = eq + 1;
            }
            if (ends_with(path, ".zip")) {
                if (!(s->zip_buf = strdup(path))) goto oom;
                char *keep = s->name_buf;
                s->name_buf = NULL;
                if (read_beside(s, path) != 0) {
                    free(keep);
                    rc = EXIT_INPUT;
                    goto out;
                }
                if (keep) {
                    free(s->name_buf);
                    s->name_buf = keep;
                }
            } else if (a[0] == '-') {
                if (!(s->dir_buf = strdup(path))) goto oom;
            } else {
                cli_usage_error(cmd, "'%s' is not a .zip (use --function NAME=DIR for a function directory)", path);
                goto out;
            }
        } else {
            cli_usage_error(cmd, "unknown option '%s'", a);
            goto out;
        }
#undef NEEDV
#undef NEEDFN
    }
    if (nspecs == 0) {
        cli_usage_error(cmd, "give at least one function (a zip, or --function NAME=DIR)");
        goto out;
    }
    for (int i = 0; i < nspecs; i++) {
        fn_spec *s = &specs[i];
        s->f.name = s->name_buf;
        s->f.zip = s->zip_buf;
        s->f.dir = s->dir_buf;
        s->f.env = s->env;
        if (s->dir_buf && !s->name_buf) {
            cli_usage_error(cmd, "--function %s: a directory needs a name (--function NAME=DIR)", s->dir_buf);
            goto out;
        }
    }

    /* Block the stop signals before any thread exists, so every thread inherits the mask. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);

    dwf_emulator_function *fns = calloc((unsigned)nspecs, sizeof *fns);
    if (!fns) goto oom;
    for (int i = 0; i < nspecs; i++) fns[i] = specs[i].f;
    dwf_emulator *emu = NULL;
    dwf_error err;
    int r = dwf_emulator_start(&o, fns, nspecs, &emu, &err);
    free(fns);
    if (r != 0) {
        fprintf(stderr, "dwf serve: %s: %s\n", err.type, err.message);
        rc = EXIT_INPUT;
        goto out;
    }
    printf("dwf serve: listening on http://%s:%d (Invoke and durable execution API)%s\n",
           o.host ? o.host : "127.0.0.1", dwf_emulator_port(emu),
           o.access_key && *o.access_key ? ", SigV4 checked" : "");
    for (int i = 0; i < nspecs; i++)
        printf("dwf serve: function %s: task root %s, Runtime API 127.0.0.1:%d\n", dwf_emulator_function_name(emu, i),
               dwf_emulator_task_root(emu, i), dwf_emulator_runtime_port(emu, i));
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    fprintf(stderr, "dwf serve: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    dwf_emulator_stop(emu);
    rc = EXIT_OK;
    goto out;
oom:
    fprintf(stderr, "dwf serve: out of memory\n");
    rc = EXIT_INPUT;
out:
    specs_free(specs, nspecs);
    return rc;
}
