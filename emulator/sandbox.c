/*
 * sandbox.c: setting a served function up as Lambda sets up a sandbox: its task root (a zip
 * unpacked by unzip.c into a fresh directory of the emulator's working directory, workdir.c,
 * or a directory used as it is), its
 * start command, its registration with the service, its Runtime API server, and the
 * environment its process gets. process.c starts and stops the process itself.
 *
 * The environment is built from scratch, as Lambda's is, so a function cannot come to depend
 * on something of the developer's shell; only AWS_ENDPOINT_URL_LAMBDA is ours, pointing the
 * SDKs' and the bootstrap's durable API calls at the emulator.
 */
#include "emu.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

static void free_strv(char **v)
{
    for (char **p = v; p && *p; p++) free(*p);
    free(v);
}

/* ---- the task root, the name, the command ------------------------------------------------------ */

/* The task root: a fresh directory the zip is unpacked into, or the directory given. zname
 * receives the zip's bin/<name>, else the name its comment gives (`dwf build` zips). 0, or -1
 * with err. */
static int task_root(emu_fn *f, const dwf_emulator_function *d, char zname[256], dwf_error *err)
{
    if (d->zip) {
        if (dwf__emu_workdir(f->emu, err) != 0) return -1;
        if (!(f->task_root = xasprintf("%s/task%d", f->emu->workdir, f->index)))
            return dwf__emu_fail(err, "ServiceException", "out of memory");
        if (mkdir(f->task_root, 0755) != 0)
            return dwf__emu_fail(err, "ServiceException", "cannot create %s: %s", f->task_root, strerror(errno));
        f->own_root = 1;
        return dwf__emu_unzip(d->zip, f->task_root, zname, err);
    }
    if (!d->dir) return dwf__emu_fail(err, "InvalidParameterValueException", "a function needs a zip or a directory");
    char rp[PATH_MAX];
    if (!realpath(d->dir, rp)) return dwf__emu_fail(err, "InvalidParameterValueException", "%s: %s", d->dir, strerror(errno));
    if (!(f->task_root = strdup(rp))) return dwf__emu_fail(err, "ServiceException", "out of memory");
    return 0;
}

static int take_name(dwf_emulator *e, emu_fn *f, const dwf_emulator_function *d, const char *zname, dwf_error *err)
{
    const char *name = d->name ? d->name : zname;
    if (!*name)
        return dwf__emu_fail(err, "InvalidParameterValueException",
                             "%s: no function name given, and the zip names none (no bin/<name>, no dwf build comment)", d->zip ? d->zip : d->dir);
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return dwf__emu_fail(err, "InvalidParameterValueException", "function name '%s': only letters, digits, - and _",
                                 name);
    /* The control plane runs several versions of one name, and checks its names itself. */
    if (!d->qualifier && dwf__emu_fn_by_name(e, name))
        return dwf__emu_fail(err, "InvalidParameterValueException", "function '%s' is served twice", name);
    f->managed = d->qualifier != NULL;
    f->plain = d->plain;
    f->qualifier = strdup(d->qualifier ? d->qualifier : "$LATEST");
    f->name = strdup(name);
    f->handler = strdup(d->handler ? d->handler : "bootstrap");
    f->runtime = strdup(d->runtime ? d->runtime : "AWS_Lambda_provided.al2023");
    f->memory_mb = d->memory_mb > 0 ? d->memory_mb : 128;
    f->timeout_s = d->timeout_s > 0 ? d->timeout_s : 3;
    f->reserved = d->has_reserved && d->reserved >= 0 ? d->reserved : -1;
    if (!f->name || !f->handler || !f->runtime || !f->qualifier) return dwf__emu_fail(err, "ServiceException", "out of memory");
    return 0;
}

/* Split a command line on blanks ("quotes" and 'quotes' group words). NULL-terminated; NULL on OOM. */
static char **split_words(const char *s)
{
    size_t cap = strlen(s) + 1;
    char **v = calloc(cap / 2 + 2, sizeof *v); /* at most one word per two characters, plus NULL */
    int n = 0;
    while (v && *s) {
        while (*s == ' ' || *s == '\t') s++;
        if (!*s) break;
        char *w = malloc(cap), *o = w;
        if (!w) {
            free_strv(v);
            return NULL;
        }
        while (*s && *s != ' ' && *s != '\t') {
            if (*s == '"' || *s == '\'') {
                char q = *s++;
                while (*s && *s != q) *o++ = *s++;
                if (*s) s++;
            } else {
                *o++ = *s++;
            }
        }
        *o = '\0';
        v[n++] = w;
    }
    return v;
}

/* argv[0] with no '/' is looked up in our PATH (the child's PATH is Lambda's, not ours). */
static char *resolve_exe(const char *cmd)
{
    if (strchr(cmd, '/')) return strdup(cmd);
    const char *path = getenv("PATH");
    if (!path) path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin";
    while (*path) {
        size_t n = strcspn(path, ":");
        char *cand = xasprintf("%.*s/%s", (int)n, path, cmd);
        if (cand && access(cand, X_OK) == 0) return cand;
        free(cand);
        path += n;
        if (*path == ':') path++;
    }
    return strdup(cmd);
}

static int take_command(emu_fn *f, const dwf_emulator_function *d, dwf_error *err)
{
    if (d->command) {
        if (!(f->argv = split_words(d->command))) return dwf__emu_fail(err, "ServiceException", "out of memory");
        if (!f->argv[0]) return dwf__emu_fail(err, "InvalidParameterValueException", "function '%s': empty --command", f->name);
    } else {
        f->argv = calloc(2, sizeof *f->argv);
        if (!f->argv || !(f->argv[0] = xasprintf("%s/bootstrap", f->task_root)))
            return dwf__emu_fail(err, "ServiceException", "out of memory");
        if (access(f->argv[0], X_OK) != 0)
            return dwf__emu_fail(err, "InvalidParameterValueException", "%s: no executable bootstrap at the task root (%s)",
                                 d->zip ? d->zip : d->dir, strerror(errno));
    }
    char *exe = resolve_exe(f->argv[0]);
    if (!exe) return dwf__emu_fail(err, "ServiceException", "out of memory");
    free(f->argv[0]);
    f->argv[0] = exe;
    return 0;
}

/* Register with the service: the store's functions table names what serves the function. */
static int register_function(dwf_emulator *e, emu_fn *f, const dwf_emulator_function *d, dwf_error *err)
{
    /* One row per name: a published version runs with the configuration $LATEST registered. */
    if (strcmp(f->qualifier, "$LATEST") != 0) return 0;
    cJSON *reg = cJSON_CreateObject(), *dc = NULL;
    int bad = !reg || !cJSON_AddStringToObject(reg, "FunctionName", f->name) ||
              !cJSON_AddStringToObject(reg, "Handler", f->argv[0]) ||
              !cJSON_AddStringToObject(reg, "Source", d->zip ? d->zip : f->task_root);
    /* A plain function is registered without a DurableConfig, as create-function makes one. */
    if (!bad && !d->plain)
        bad = !(dc = cJSON_AddObjectToObject(reg, "DurableConfig")) ||
              !cJSON_AddNumberToObject(dc, "RetentionPeriodInDays", d->retention_days > 0 ? d->retention_days : 14) ||
              !cJSON_AddNumberToObject(dc, "ExecutionTimeout", d->execution_timeout_s > 0 ? d->execution_timeout_s : 86400);
    int rc = bad ? dwf__emu_fail(err, "ServiceException", "out of memory") : dwf_service_put_function(e->svc, reg, err);
    cJSON_Delete(reg);
    return rc;
}

/* ---- the environment ------------------------------------------------------------------------------ */

static int env_set(char ***envp, int *n, const char *kv)
{
    size_t k = strcspn(kv, "=");
    for (int i = 0; i < *n; i++)
        if (strncmp((*envp)[i], kv, k) == 0 && (*envp)[i][k] == '=') {
            char *d = strdup(kv);
            if (!d) return -1;
            free((*envp)[i]);
            (*envp)[i] = d;
            return 0;
        }
    char **nv = realloc(*envp, (size_t)(*n + 2) * sizeof **envp);
    if (!nv) return -1;
    *envp = nv;
    if (!((*envp)[*n] = strdup(kv))) return -1;
    (*n)++;
    (*envp)[*n] = NULL;
    return 0;
}

/* AWS_LAMBDA_LOG_STREAM_NAME: "YYYY/MM/DD/[$LATEST]" and 32 random hex digits, as Lambda names it. */
static void log_stream(const char *qual, char out[128])
{
    char hexid[33];
    unsigned char rnd[16];
    FILE *ur = fopen("/dev/urandom", "rb");
    if (!ur || fread(rnd, 1, sizeof rnd, ur) != sizeof rnd) memset(rnd, 7, sizeof rnd);
    if (ur) fclose(ur);
    dwf__emu_hex(rnd, 16, hexid);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(out, 128, "%04d/%02d/%02d/[%.40s]%s", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, qual, hexid);
}

/* Lambda's environment for a runtime, nothing of ours but the endpoint; then d->env. */
static int take_environment(dwf_emulator *e, emu_fn *f, const dwf_emulator_function *d, dwf_error *err)
{
    char stream[128];
    log_stream(f->qualifier, stream);
    int n = 0, bad = !(f->envp = calloc(1, sizeof *f->envp));
    char *kv[] = {
        xasprintf("AWS_LAMBDA_RUNTIME_API=127.0.0.1:%d", f->rt.port),
        xasprintf("_HANDLER=%s", f->handler),
        xasprintf("LAMBDA_TASK_ROOT=%s", f->task_root),
        xasprintf("LAMBDA_RUNTIME_DIR=/var/runtime"),
        xasprintf("AWS_REGION=%s", e->region),
        xasprintf("AWS_DEFAULT_REGION=%s", e->region),
        xasprintf("AWS_ACCESS_KEY_ID=%s", e->access_key ? e->access_key : "AKIDDWFSERVELOCAL"),
        xasprintf("AWS_SECRET_ACCESS_KEY=%s", e->secret_key ? e->secret_key : "dwf-serve-local-secret"),
        xasprintf("AWS_SESSION_TOKEN=%s", e->session_token ? e->session_token : "dwf-serve-local-session"),
        xasprintf("AWS_LAMBDA_FUNCTION_NAME=%s", f->name),
        xasprintf("AWS_LAMBDA_FUNCTION_VERSION=%s", f->qualifier),
        xasprintf("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=%d", f->memory_mb),
        xasprintf("AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/%s", f->name),
        xasprintf("AWS_LAMBDA_LOG_STREAM_NAME=%s", stream),
        xasprintf("AWS_LAMBDA_LOG_FORMAT=Text"),
        xasprintf("AWS_LAMBDA_INITIALIZATION_TYPE=on-demand"),
        xasprintf("AWS_EXECUTION_ENV=%s", f->runtime),
        xasprintf("AWS_ENDPOINT_URL_LAMBDA=http://%s:%d", e->endpoint_host, e->api.port),
        xasprintf("LANG=en_US.UTF-8"),
        xasprintf("TZ=:UTC"),
        xasprintf("PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"),
        xasprintf("LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:%s:%s/lib:/opt/lib",
                  f->task_root, f->task_root),
    };
    size_t nkv = sizeof kv / sizeof *kv;
    for (size_t i = 0; i < nkv; i++)
        if (!bad && (!kv[i] || env_set(&f->envp, &n, kv[i]) != 0)) bad = 1;
    for (size_t i = 0; i < nkv; i++) free(kv[i]);
    for (const char *const *x = d->env; !bad && x && *x; x++)
        if (!strchr(*x, '=') || env_set(&f->envp, &n, *x) != 0) bad = 1;
    if (bad)
        return dwf__emu_fail(err, "InvalidParameterValueException", "function '%s': bad environment entry or out of memory",
                             f->name);
    return 0;
}

/* ---- setting up and tearing down ----------------------------------------------------------------- */

int dwf__emu_sandbox_setup(dwf_emulator *e, emu_fn *f, const dwf_emulator_function *d, dwf_error *err)
{
    char zname[256] = "";
    if (task_root(f, d, zname, err) != 0 || take_name(e, f, d, zname, err) != 0 || take_command(f, d, err) != 0 ||
        register_function(e, f, d, err) != 0)
        return -1;
    /* Its Runtime API first: the environment names its port. */
    if (dwf__emu_listen_runtime(f, &f->rt, err) != 0) return -1;
    return take_environment(e, f, d, err);
}

void dwf__emu_sandbox_free(emu_fn *f)
{
    if (f->own_root) dwf__emu_remove_tree(f->task_root);
    free(f->name);
    free(f->task_root);
    free(f->handler);
    free(f->runtime);
    free(f->qualifier);
    cJSON_Delete(f->config);
    free_strv(f->argv);
    free_strv(f->envp);
    dwf__emu_envs_free(f);
    dwf__emu_queue_free(f);
}
