/*
 * control_api.c: Lambda's control plane on the emulator's port, the part of it the generated
 * deploy.sh (and any aws CLI or SDK deployment) uses: CreateFunction (the zip uploaded in the
 * request), GetFunction, GetFunctionConfiguration, UpdateFunctionCode,
 * UpdateFunctionConfiguration, PublishVersion, ListVersionsByFunction, ListFunctions and
 * DeleteFunction.
 *
 * A function created here is served exactly like one given on the command line: each version
 * ($LATEST and every published one) is a sandbox of its own (sandbox.c: its zip unpacked by
 * unzip.c into a fresh task root, its own process and Runtime API), so an execution started on
 * version 1 keeps running version 1's code after $LATEST changes, as on Lambda. New code or a
 * new configuration for $LATEST makes a new sandbox; the old one takes no new work and is torn
 * down once idle (dwf__emu_control_reap). Every version's configuration and zip are kept in the
 * store (service/registry.c), and dwf__emu_control_restore sets them up again when serve
 * starts, so the functions survive a restart.
 *
 * The sandbox is ready when CreateFunction answers; the answer still says State Pending (and
 * UpdateFunctionCode's LastUpdateStatus InProgress), as Lambda's does, and every read after it
 * says Active / Successful, so `aws lambda wait function-active-v2` and `function-updated-v2`
 * behave as against Lambda. The configuration is the FunctionConfiguration JSON Lambda answers;
 * keys starting with "_dwf" are the emulator's own bookkeeping and never answered.
 *
 * The checks are Lambda's, with its messages: names, roles (which must exist in the emulator's
 * IAM and trust lambda.amazonaws.com, iam_api.c), runtimes (only the custom runtimes: the zip's
 * bootstrap is what runs), ranges, reserved environment variables, the code's 50 MB zipped limit
 * (httpd.c bounds the request). A function given on the command line can be read here but not
 * changed: its code is the zip given to serve.
 */
#include "emu.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dwf_protocol.h"

#define IPVE "InvalidParameterValueException"
#define RNFE "ResourceNotFoundException"
#define CONFLICT "ResourceConflictException"
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"

/* ---- small helpers ---------------------------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Lambda's LastModified: 2026-01-02T03:04:05.678+0000. */
static void last_modified(char out[64])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, 64, "%04d-%02d-%02dT%02d:%02d:%02d.%03d+0000", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000) % 1000);
}

/* Base64 (the request's ZipFile) into a new buffer, with OpenSSL's decoder; -1 if it is not base64. */
static int base64_decode(const char *in, unsigned char **out, size_t *len)
{
    size_t n = strlen(in);
    *out = NULL;
    if (n % 4 != 0 || n / 4 * 3 > (size_t)DWF_LIMIT_CODE_REQUEST) return -1;
    unsigned char *b = malloc(n / 4 * 3 + 1);
    if (!b) return -1;
    int got = n ? EVP_DecodeBlock(b, (const unsigned char *)in, (int)n) : 0;
    if (got < 0) {
        free(b);
        return -1;
    }
    size_t pad = n >= 2 ? (in[n - 1] == '=') + (in[n - 2] == '=') : 0;
    *out = b;
    *len = (size_t)got - pad;
    return 0;
}

/* The code's SHA-256: hex (the store's key) and base64 (Lambda's CodeSha256). */
static void code_hashes(const unsigned char *zip, size_t len, char hex[65], char b64[48])
{
    unsigned char h[32];
    SHA256(zip, len, h);
    dwf__emu_hex(h, 32, hex);
    EVP_EncodeBlock((unsigned char *)b64, h, 32);
}

/* ---- the configuration ------------------------------------------------------------------------ */

static int fail_range(dwf_error *err, const char *what, double v, int lo, int hi)
{
    return dwf__emu_fail(err, "ValidationException",
                         "1 validation error detected: Value '%.0f' at '%s' failed to satisfy constraint: Member must "
                         "have value %s to %d", v, what, v < lo ? "greater than or equal" : "less than or equal",
                         v < lo ? lo : hi);
}

/* An integer member in [lo, hi] if present. 0, or -1 with err. */
static int take_int(const cJSON *body, const char *key, const char *what, int lo, int hi, cJSON *cfg, dwf_error *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
    if (!v) return 0;
    if (!cJSON_IsNumber(v) || v->valuedouble != (double)(long long)v->valuedouble)
        return dwf__emu_fail(err, "SerializationException", "%s must be an integer", key);
    if (v->valuedouble < lo || v->valuedouble > hi) return fail_range(err, what, v->valuedouble, lo, hi);
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, key);
    if (cJSON_AddNumberToObject(cfg, key, v->valuedouble)) return 0;
    return dwf__emu_fail(err, "ServiceException", "out of memory");
}

/* What Lambda sets itself and refuses in Environment.Variables. */
#define RESERVED_ROW_(name) name,
static const char *const reserved_env[] = {DWF_LAMBDA_RESERVED_ENV(RESERVED_ROW_)};
#undef RESERVED_ROW_

static int check_environment(const cJSON *env, dwf_error *err)
{
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(env, "Variables");
    if (env && !cJSON_IsObject(env))
        return dwf__emu_fail(err, "SerializationException", "Environment must be an object");
    if (vars && !cJSON_IsObject(vars))
        return dwf__emu_fail(err, "SerializationException", "Environment.Variables must be an object");
    size_t total = 0;
    for (const cJSON *v = vars ? vars->child : NULL; v; v = v->next) {
        const char *k = v->string;
        if (!cJSON_IsString(v))
            return dwf__emu_fail(err, "SerializationException", "Environment.Variables.%.64s must be a string", k);
        if (!((k[0] >= 'a' && k[0] <= 'z') || (k[0] >= 'A' && k[0] <= 'Z')) || strlen(k) < 2 ||
            strspn(k, NAME_CHARS) != strlen(k) || strchr(k, '-'))
            return dwf__emu_fail(err, "ValidationException",
                                 "1 validation error detected: Value at 'environment.variables' failed to satisfy "
                                 "constraint: Map keys must satisfy constraint: [Member must satisfy regular "
                                 "expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]");
        for (size_t i = 0; i < sizeof reserved_env / sizeof *reserved_env; i++)
            if (strcmp(k, reserved_env[i]) == 0)
                return dwf__emu_fail(err, IPVE,
                                     "Lambda was unable to configure your environment variables because the "
                                     "environment variables you have provided contains reserved keys that are "
                                     "currently not supported for modification. Reserved keys used in this request: %s",
                                     k);
        total += strlen(k) + strlen(v->valuestring);
    }
    if (total > DWF_LIMIT_ENV_BYTES)
        return dwf__emu_fail(err, IPVE,
                             "Lambda was unable to configure your environment variables because the environment "
                             "variables you have provided exceeded the 4KB limit. String measured: %zu", total);
    return 0;
}

static int check_durable_config(const cJSON *dc, dwf_error *err)
{
    if (!dc) return 0;
    if (!cJSON_IsObject(dc)) return dwf__emu_fail(err, "SerializationException", "DurableConfig must be an object");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(dc, "RetentionPeriodInDays");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(dc, "ExecutionTimeout");
    if (r && (!cJSON_IsNumber(r) || r->valuedouble < 1 || r->valuedouble > 90))
        return fail_range(err, "durableConfig.retentionPeriodInDays", cJSON_IsNumber(r) ? r->valuedouble : 0, 1, 90);
    if (t && (!cJSON_IsNumber(t) || t->valuedouble < 1 || t->valuedouble > 31622400))
        return fail_range(err, "durableConfig.executionTimeout", cJSON_IsNumber(t) ? t->valuedouble : 0, 1, 31622400);
    return 0;
}

/* Only the custom runtimes: what runs is the zip's bootstrap. */
static int check_runtime(const char *rt, dwf_error *err)
{
    if (strcmp(rt, "provided.al2023") == 0 || strcmp(rt, "provided.al2") == 0 || strcmp(rt, "provided") == 0) return 0;
    return dwf__emu_fail(err, IPVE,
                         "The runtime parameter of %.64s is not supported by dwf serve: it runs the OS-only runtimes "
                         "(provided.al2023, provided.al2, provided), which start the zip's bootstrap", rt);
}

static int check_role(dwf_emulator *e, const char *role, dwf_error *err)
{
    static const char pre[] = "arn:aws:iam::";
    if (strncmp(role, pre, sizeof pre - 1) != 0 || !strstr(role, ":role/"))
        return dwf__emu_fail(err, "ValidationException",
                             "1 validation error detected: Value '%.200s' at 'role' failed to satisfy constraint: "
                             "Member must satisfy regular expression pattern: "
                             "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+", role);
    if (!dwf__emu_role_trusts_lambda(e, role))
        return dwf__emu_fail(err, IPVE, "The role defined for the function cannot be assumed by Lambda.");
    return 0;
}

/* The members of Create/UpdateFunctionConfiguration that a configuration holds, checked, into
 * cfg (replacing what it had). 0, or -1 with err. */
static int take_settings(dwf_emulator *e, const cJSON *body, cJSON *cfg, dwf_error *err)
{
    static const char *const strs[] = {"Role", "Handler", "Description", "Runtime"};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, strs[i]);
        if (!v) continue;
        if (!cJSON_IsString(v)) return dwf__emu_fail(err, "SerializationException", "%s must be a string", strs[i]);
        if (strcmp(strs[i], "Role") == 0 && check_role(e, v->valuestring, err) != 0) return -1;
        if (strcmp(strs[i], "Runtime") == 0 && check_runtime(v->valuestring, err) != 0) return -1;
        if (strcmp(strs[i], "Handler") == 0 && (strlen(v->valuestring) > 128 || strchr(v->valuestring, ' ')))
            return dwf__emu_fail(err, "ValidationException",
                                 "1 validation error detected: Value '%.128s' at 'handler' failed to satisfy "
                                 "constraint: Member must satisfy regular expression pattern: [^\\s]+",
                                 v->valuestring);
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, strs[i]);
        cJSON_AddStringToObject(cfg, strs[i], v->valuestring);
    }
    if (take_int(body, "Timeout", "timeout", 1, 900, cfg, err) != 0 ||
        take_int(body, "MemorySize", "memorySize", 128, 10240, cfg, err) != 0)
        return -1;
    static const char *const objs[] = {"Environment", "DurableConfig"};
    for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, objs[i]);
        if (!v) continue;
        if ((i == 0 ? check_environment(v, err) : check_durable_config(v, err)) != 0) return -1;
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, objs[i]);
        cJSON_AddItemToObject(cfg, objs[i], cJSON_Duplicate(v, 1));
    }
    return 0;
}

/* The configuration as answered: without the emulator's keys, with the state. */
static cJSON *config_answer(const cJSON *cfg, const char *state, const char *update)
{
    cJSON *o = cJSON_Duplicate(cfg, 1);
    if (!o) return NULL;
    for (cJSON *c = o->child, *next; c; c = next) {
        next = c->next;
        if (strncmp(c->string, "_dwf", 4) == 0) cJSON_Delete(cJSON_DetachItemViaPointer(o, c));
    }
    cJSON_AddStringToObject(o, "State", state);
    if (strcmp(state, "Pending") == 0) {
        cJSON_AddStringToObject(o, "StateReason", "The function is being created.");
        cJSON_AddStringToObject(o, "StateReasonCode", "Creating");
    }
    cJSON_AddStringToObject(o, "LastUpdateStatus", update);
    if (strcmp(update, "InProgress") == 0) {
        cJSON_AddStringToObject(o, "LastUpdateStatusReason", "The function is being created.");
        cJSON_AddStringToObject(o, "LastUpdateStatusReasonCode", "Creating");
    }
    return o;
}

/* What a function given on the command line looks like to GetFunction. */
static cJSON *config_of_given(dwf_emulator *e, const emu_fn *f)
{
    cJSON *o = cJSON_CreateObject(), *svc = NULL;
    char arn[512];
    dwf_error err;
    snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:function:%s", e->region, e->account, f->name);
    cJSON_AddStringToObject(o, "FunctionName", f->name);
    cJSON_AddStringToObject(o, "FunctionArn", arn);
    cJSON_AddStringToObject(o, "Runtime",
                            strncmp(f->runtime, "AWS_Lambda_", 11) == 0 ? f->runtime + 11 : f->runtime);
    cJSON_AddStringToObject(o, "Handler", f->handler);
    cJSON_AddNumberToObject(o, "Timeout", f->timeout_s);
    cJSON_AddNumberToObject(o, "MemorySize", f->memory_mb);
    cJSON_AddStringToObject(o, "Version", "$LATEST");
    cJSON_AddStringToObject(o, "PackageType", "Zip");
    cJSON_AddStringToObject(o, "Description", "given on the dwf serve command line");
    if (dwf_service_get_function(e->svc, f->name, &svc, &err) == 0) {
        cJSON *dc = cJSON_DetachItemFromObjectCaseSensitive(svc, "DurableConfig");
        if (dc) cJSON_AddItemToObject(o, "DurableConfig", dc);
    }
    cJSON_Delete(svc);
    return o;
}

/* ---- sandboxes -------------------------------------------------------------------------------- */

/* A new sandbox running version qual of the configuration cfg with this zip. NULL with err. */
static emu_fn *sandbox_new(dwf_emulator *e, const cJSON *cfg, const char *qual, const void *zip, size_t len,
                           const char *sha_hex, dwf_error *err)
{
    char why[512];
    if (dwf__zip_load(why, sizeof why) != 0) {
        dwf__emu_fail(err, "ServiceException", "%s", why);
        return NULL;
    }
    if (dwf__emu_workdir(e, err) != 0) return NULL;
    emu_fn *f = calloc(1, sizeof *f);
    if (!f) {
        dwf__emu_fail(err, "ServiceException", "out of memory");
        return NULL;
    }
    pthread_mutex_lock(&e->mu);
    f->emu = e;
    f->index = e->next_index++;
    pthread_mutex_unlock(&e->mu);
    char path[4200], rt[80], **env = NULL;
    snprintf(path, sizeof path, "%s/upload%d.zip", e->workdir, f->index);
    snprintf(rt, sizeof rt, "AWS_Lambda_%.60s", jstr(cfg, "Runtime") ? jstr(cfg, "Runtime") : "provided.al2023");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600), rc = fd < 0 ? -1 : 0;
    for (size_t off = 0; rc == 0 && off < len;) {
        ssize_t w = write(fd, (const char *)zip + off, len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) rc = -1;
        else off += (size_t)w;
    }
    if (fd >= 0 && close(fd) != 0) rc = -1;
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(cfg, "Environment"),
                                                         "Variables");
    int nv = cJSON_GetArraySize(vars), k = 0;
    if (rc == 0 && !(env = calloc((size_t)nv + 1, sizeof *env))) rc = -1;
    for (const cJSON *v = vars ? vars->child : NULL; rc == 0 && v; v = v->next)
        if (cJSON_IsString(v) && asprintf(&env[k++], "%s=%s", v->string, v->valuestring) < 0) {
            env[--k] = NULL;
            rc = -1;
        }
    if (rc != 0) dwf__emu_fail(err, "ServiceException", "cannot write %s: %s", path, strerror(errno));
    const cJSON *dc = cJSON_GetObjectItemCaseSensitive(cfg, "DurableConfig");
    const cJSON *ret = cJSON_GetObjectItemCaseSensitive(dc, "RetentionPeriodInDays");
    const cJSON *xt = cJSON_GetObjectItemCaseSensitive(dc, "ExecutionTimeout");
    const cJSON *mem = cJSON_GetObjectItemCaseSensitive(cfg, "MemorySize");
    const cJSON *to = cJSON_GetObjectItemCaseSensitive(cfg, "Timeout");
    dwf_emulator_function d = {
        .name = jstr(cfg, "FunctionName"),
        .zip = path,
        .handler = jstr(cfg, "Handler"),
        .runtime = rt,
        .env = (const char *const *)env,
        .memory_mb = cJSON_IsNumber(mem) ? mem->valueint : 128,
        .timeout_s = cJSON_IsNumber(to) ? to->valueint : 3,
        .retention_days = cJSON_IsNumber(ret) ? ret->valueint : 0,
        .execution_timeout_s = cJSON_IsNumber(xt) ? xt->valueint : 0,
        .qualifier = qual,
        /* created without a DurableConfig: a plain function, as Lambda makes one */
        .plain = !cJSON_IsObject(dc),
    };
    if (rc == 0) rc = dwf__emu_sandbox_setup(e, f, &d, err);
    unlink(path);
    for (int i = 0; env && env[i]; i++) free(env[i]);
    free(env);
    if (rc == 0 && !(f->config = cJSON_Duplicate(cfg, 1))) rc = dwf__emu_fail(err, "ServiceException", "out of memory");
    if (rc != 0) {
        dwf__emu_unlisten(&f->rt);
        dwf__emu_sandbox_free(f);
        free(f);
        return NULL;
    }
    snprintf(f->code_sha, sizeof f->code_sha, "%s", sha_hex);
    f->created_mono = dwf__emu_mono_ms();
    return f;
}

/* Serve f, in place of old (retired: it takes no new work and is torn down once idle). */
static int sandbox_install(dwf_emulator *e, emu_fn *f, emu_fn *old, dwf_error *err)
{
    pthread_mutex_lock(&e->mu);
    int rc = dwf__emu_fn_add(e, f);
    if (rc == 0 && old) old->retired = 1;
    dwf__emu_kick(e);
    pthread_mutex_unlock(&e->mu);
    if (rc == 0) return 0;
    dwf__emu_unlisten(&f->rt);
    dwf__emu_sandbox_free(f);
    free(f);
    return dwf__emu_fail(err, "ServiceException", "out of memory");
}

void dwf__emu_control_reap(dwf_emulator *e)
{
    for (int i = 0; i < e->nfns; i++) {
        emu_fn *f = e->fns[i];
        int busy = 0;
        dwf__emu_envs_live(f, &busy);
        if (!f->retired || f->torn_down || busy || f->nq > 0) continue;
        if (dwf__emu_kill_all(f, EMU_KILL_QUIET)) continue;
        f->torn_down = 1;
        pthread_mutex_unlock(&e->mu);
        dwf__emu_unlisten(&f->rt);
        if (f->own_root) dwf__emu_remove_tree(f->task_root);
        f->own_root = 0;
        pthread_mutex_lock(&e->mu);
    }
}

/* ---- finding a function ----------------------------------------------------------------------- */

/* The FunctionName label and ?Qualifier: name and qual ("" when none). 0, or -1 with err. */
static int target_of(emu_request *r, char name[256], char qual[160], dwf_error *err)
{
    if (dwf__emu_split_function_name(r->label[0], name, qual) != 0 || strspn(name, NAME_CHARS) != strlen(name) ||
        strlen(name) > 64)
        return dwf__emu_fail(err, "ValidationException",
                             "1 validation error detected: Value '%.200s' at 'functionName' failed to satisfy "
                             "constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:"
                             "lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)"
                             "(:(\\$LATEST|[a-zA-Z0-9-_]+))?", r->label[0]);
    const char *qq = dwf__emu_query(r, "Qualifier");
    if (qq && *qq) {
        if (qual[0] && strcmp(qual, qq) != 0)
            return dwf__emu_fail(err, IPVE,
                                 "The derived qualifier from the function name does not match the specified "
                                 "qualifier.");
        snprintf(qual, 160, "%s", qq);
    }
    return 0;
}

static int not_found(dwf_emulator *e, const char *name, const char *qual, dwf_error *err)
{
    return dwf__emu_fail(err, RNFE, "Function not found: arn:aws:lambda:%s:%s:function:%s%s%s", e->region, e->account,
                         name, qual[0] ? ":" : "", qual);
}

/* The sandbox serving name:qual (mu held). For a function given on the command line, its one
 * sandbox whatever the qualifier; NULL when there is none. */
static emu_fn *sandbox_of(dwf_emulator *e, const char *name, const char *qual)
{
    return dwf__emu_fn_find(e, name, qual);
}

/* $LATEST of a function created here, for a change (control_mu held). NULL with err: not
 * found, or given on the command line (which cannot be changed through the API). */
static emu_fn *latest_for_change(emu_request *r, char name[256], dwf_error *err)
{
    dwf_emulator *e = r->emu;
    char qual[160];
    if (target_of(r, name, qual, err) != 0) return NULL;
    pthread_mutex_lock(&e->mu);
    emu_fn *f = sandbox_of(e, name, "$LATEST");
    pthread_mutex_unlock(&e->mu);
    if (!f) {
        not_found(e, name, "", err);
        return NULL;
    }
    if (!f->managed) {
        dwf__emu_fail(err, CONFLICT,
                      "Function %s was given on the dwf serve command line: its code and configuration are the "
                      "ones given there and cannot be changed through the API", name);
        return NULL;
    }
    return f;
}

/* ---- saving ----------------------------------------------------------------------------------- */

static int save_version(dwf_emulator *e, const emu_fn *f, const void *zip, size_t len, dwf_error *err)
{
    return dwf_service_put_function_version(e->svc, f->name, f->qualifier, f->config, f->code_sha, zip, len, err);
}

/* A configuration for $LATEST from the request and the code, ready to save. */
static cJSON *config_new(dwf_emulator *e, const char *name, const cJSON *body, size_t code_len, const char *b64,
                         dwf_error *err)
{
    char arn[512], lm[64], rev[40], lg[300];
    snprintf(arn, sizeof arn, "arn:aws:lambda:%s:%s:function:%s", e->region, e->account, name);
    snprintf(lg, sizeof lg, "/aws/lambda/%s", name);
    last_modified(lm);
    dwf_service_uuid(rev);
    cJSON *cfg = cJSON_CreateObject(), *arch = NULL, *eph = NULL, *logc = NULL;
    int bad = !cfg || !cJSON_AddStringToObject(cfg, "FunctionName", name) ||
              !cJSON_AddStringToObject(cfg, "FunctionArn", arn) || !cJSON_AddStringToObject(cfg, "Runtime", "") ||
              !cJSON_AddStringToObject(cfg, "Handler", "bootstrap") || !cJSON_AddNumberToObject(cfg, "Timeout", 3) ||
              !cJSON_AddNumberToObject(cfg, "MemorySize", 128) || !cJSON_AddStringToObject(cfg, "Description", "") ||
              !cJSON_AddNumberToObject(cfg, "CodeSize", (double)code_len) ||
              !cJSON_AddStringToObject(cfg, "CodeSha256", b64) || !cJSON_AddStringToObject(cfg, "LastModified", lm) ||
              !cJSON_AddStringToObject(cfg, "Version", "$LATEST") ||
              !cJSON_AddStringToObject(cfg, "RevisionId", rev) || !cJSON_AddStringToObject(cfg, "PackageType", "Zip") ||
              !(arch = cJSON_AddArrayToObject(cfg, "Architectures")) ||
              !cJSON_AddItemToArray(arch, cJSON_CreateString("x86_64")) ||
              !(eph = cJSON_AddObjectToObject(cfg, "EphemeralStorage")) || !cJSON_AddNumberToObject(eph, "Size", 512) ||
              !(logc = cJSON_AddObjectToObject(cfg, "LoggingConfig")) ||
              !cJSON_AddStringToObject(logc, "LogFormat", "Text") || !cJSON_AddStringToObject(logc, "LogGroup", lg);
    if (bad) {
        cJSON_Delete(cfg);
        dwf__emu_fail(err, "ServiceException", "out of memory");
        return NULL;
    }
    if (take_settings(e, body, cfg, err) != 0) {
        cJSON_Delete(cfg);
        return NULL;
    }
    return cfg;
}

/* The uploaded zip of a request (Code.ZipFile or ZipFile). 0 with *zip, -1 with err. */
static int zip_of(const cJSON *holder, unsigned char **zip, size_t *len, dwf_error *err)
{
    const cJSON *z = cJSON_GetObjectItemCaseSensitive(holder, "ZipFile");
    if (!z) {
        if (cJSON_GetObjectItemCaseSensitive(holder, "S3Bucket") ||
            cJSON_GetObjectItemCaseSensitive(holder, "ImageUri"))
            return dwf__emu_fail(err, IPVE,
                                 "dwf serve takes a function's code as a .zip uploaded with the request (ZipFile, "
                                 "--zip-file fileb://function.zip); it has no S3 or container images");
        return dwf__emu_fail(err, IPVE, "Please provide a source for function code.");
    }
    if (!cJSON_IsString(z) || base64_decode(z->valuestring, zip, len) != 0)
        return dwf__emu_fail(err, "SerializationException", "ZipFile must be base64-encoded bytes");
    if (*len > DWF_LIMIT_ZIPPED_CODE) {
        free(*zip);
        *zip = NULL;
        return dwf__emu_fail(err, "RequestEntityTooLargeException",
                             "Unzipped size must be smaller than %d bytes: the zipped code is %zu bytes, over Lambda's "
                             "limit of %d bytes for a direct upload", DWF_LIMIT_UNZIPPED_CODE, *len,
                             DWF_LIMIT_ZIPPED_CODE);
    }
    return 0;
}

/* ---- publishing ------------------------------------------------------------------------------- */

/* Does version v hold what $LATEST holds now (the same code and settings)? */
static int same_as_latest(const cJSON *latest, const cJSON *v)
{
    static const char *const keys[] = {"CodeSha256", "Runtime", "Role", "Handler", "Timeout", "MemorySize",
                                       "Environment", "DurableConfig", "Description"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(latest, keys[i]);
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(v, keys[i]);
        if (!a != !b || (a && !cJSON_Compare(a, b, 1))) return 0;
    }
    return 1;
}

/* Publish $LATEST as a new version, or answer the newest version when it holds the same (as
 * Lambda does). control_mu held. *out: the version's sandbox. 0, or -1 with err. */
static int publish(dwf_emulator *e, emu_fn *latest, const char *description, emu_fn **out, dwf_error *err)
{
    emu_fn *newest = NULL;
    pthread_mutex_lock(&e->mu);
    for (int i = 0; i < e->nfns; i++) {
        emu_fn *f = e->fns[i];
        if (!f->retired && f->managed && strcmp(f->name, latest->name) == 0 && strcmp(f->qualifier, "$LATEST") != 0 &&
            (!newest || atoi(f->qualifier) > atoi(newest->qualifier)))
            newest = f;
    }
    pthread_mutex_unlock(&e->mu);
    if (newest && same_as_latest(latest->config, newest->config) && !description) {
        *out = newest;
        return 0;
    }
    const cJSON *lv = cJSON_GetObjectItemCaseSensitive(latest->config, "_dwfLastVersion");
    int n = (cJSON_IsNumber(lv) ? lv->valueint : 0) + 1;
    char qual[16], arn[600], rev[40];
    snprintf(qual, sizeof qual, "%d", n);
    snprintf(arn, sizeof arn, "%s:%s", jstr(latest->config, "FunctionArn"), qual);
    dwf_service_uuid(rev);
    cJSON *cfg = cJSON_Duplicate(latest->config, 1);
    if (!cfg) return dwf__emu_fail(err, "ServiceException", "out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(cfg, "_dwfLastVersion");
    cJSON_ReplaceItemInObjectCaseSensitive(cfg, "Version", cJSON_CreateString(qual));
    cJSON_ReplaceItemInObjectCaseSensitive(cfg, "FunctionArn", cJSON_CreateString(arn));
    cJSON_ReplaceItemInObjectCaseSensitive(cfg, "RevisionId", cJSON_CreateString(rev));
    if (description) cJSON_ReplaceItemInObjectCaseSensitive(cfg, "Description", cJSON_CreateString(description));
    void *zip = NULL;
    size_t len = 0;
    int rc = dwf_service_function_code(e->svc, latest->code_sha, &zip, &len, err);
    emu_fn *f = rc == 0 ? sandbox_new(e, cfg, qual, zip, len, latest->code_sha, err) : NULL;
    free(zip);
    cJSON_Delete(cfg);
    if (!f) return -1;
    /* The counter first: a number is never given twice, even after its version is deleted. */
    cJSON *lc = cJSON_Duplicate(latest->config, 1);
    cJSON_DeleteItemFromObjectCaseSensitive(lc, "_dwfLastVersion");
    cJSON_AddNumberToObject(lc, "_dwfLastVersion", n);
    rc = dwf_service_put_function_version(e->svc, latest->name, "$LATEST", lc, latest->code_sha, NULL, 0, err);
    if (rc == 0) rc = save_version(e, f, NULL, 0, err);
    if (rc == 0) {
        pthread_mutex_lock(&e->mu);
        cJSON *old = latest->config;
        latest->config = lc;
        lc = NULL;
        pthread_mutex_unlock(&e->mu);
        cJSON_Delete(old);
        rc = sandbox_install(e, f, NULL, err);
    } else {
        dwf__emu_unlisten(&f->rt);
        dwf__emu_sandbox_free(f);
        free(f);
    }
    cJSON_Delete(lc);
    if (rc == 0) *out = f;
    return rc;
}

/* ---- the routes --------------------------------------------------------------------------------- */

static enum MHD_Result reply_config(emu_request *r, unsigned status, const cJSON *cfg, const char *state,
                                    const char *update)
{
    cJSON *o = config_answer(cfg, state, update);
    if (!o) return dwf__emu_reply_error(r, 500, "ServiceException", "out of memory");
    enum MHD_Result res = dwf__emu_reply_json(r, status, o, NULL);
    cJSON_Delete(o);
    return res;
}

/* Create $LATEST (and version 1 with Publish). control_mu held. */
static int create(emu_request *r, emu_fn **out, dwf_error *err)
{
    dwf_emulator *e = r->emu;
    const cJSON *b = r->json;
    const char *name = jstr(b, "FunctionName");
    char fname[256], qual[160];
    if (!name || dwf__emu_split_function_name(name, fname, qual) != 0 || qual[0] ||
        strspn(fname, NAME_CHARS) != strlen(fname) || strlen(fname) > 64)
        return dwf__emu_fail(err, "ValidationException",
                             "1 validation error detected: Value '%.200s' at 'functionName' failed to satisfy "
                             "constraint: Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:"
                             ")?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)",
                             name ? name : "null");
    if (!jstr(b, "Role")) return dwf__emu_fail(err, IPVE, "Role is required.");
    if (!jstr(b, "Runtime"))
        return dwf__emu_fail(err, IPVE,
                             "Runtime and Handler are mandatory parameters for functions created with Zip packages.");
    const cJSON *pt = cJSON_GetObjectItemCaseSensitive(b, "PackageType");
    if (pt && (!cJSON_IsString(pt) || strcmp(pt->valuestring, "Zip") != 0))
        return dwf__emu_fail(err, IPVE, "dwf serve runs .zip packages only (PackageType Zip)");
    pthread_mutex_lock(&e->mu);
    int exists = dwf__emu_fn_by_name(e, fname) != NULL;
    pthread_mutex_unlock(&e->mu);
    if (exists) return dwf__emu_fail(err, CONFLICT, "Function already exist: %s", fname);
    unsigned char *zip = NULL;
    size_t len = 0;
    if (zip_of(cJSON_GetObjectItemCaseSensitive(b, "Code"), &zip, &len, err) != 0) return -1;
    char hex[65], b64[48];
    code_hashes(zip, len, hex, b64);
    cJSON *cfg = config_new(e, fname, b, len, b64, err);
    emu_fn *f = cfg ? sandbox_new(e, cfg, "$LATEST", zip, len, hex, err) : NULL;
    cJSON_Delete(cfg);
    int rc = f ? save_version(e, f, zip, len, err) : -1;
    free(zip);
    if (f && rc != 0) {
        dwf__emu_unlisten(&f->rt);
        dwf__emu_sandbox_free(f);
        free(f);
        return -1;
    }
    if (rc == 0) rc = sandbox_install(e, f, NULL, err);
    if (rc != 0) return -1;
    *out = f;
    const cJSON *pub = cJSON_GetObjectItemCaseSensitive(b, "Publish");
    emu_fn *v = NULL;
    if (cJSON_IsTrue(pub) && publish(e, f, NULL, &v, err) == 0) *out = v;
    if (!e->o.quiet) dwf__emu_log(e, "%s: created (CreateFunction), task root %s", fname, f->task_root);
    return 0;
}

enum MHD_Result dwf__emu_create_function(emu_request *r)
{
    dwf_emulator *e = r->emu;
    dwf_error err;
    emu_fn *f = NULL;
    pthread_mutex_lock(&e->control_mu);
    int rc = create(r, &f, &err);
    cJSON *cfg = rc == 0 ? cJSON_Duplicate(f->config, 1) : NULL;
    pthread_mutex_unlock(&e->control_mu);
    if (rc != 0) return dwf__emu_reply_err(r, &err);
    enum MHD_Result res = reply_config(r, 201, cfg, "Pending", "InProgress");
    cJSON_Delete(cfg);
    return res;
}

/* The configuration of the sandbox name:qual as answered; NULL with err. */
static cJSON *read_config(emu_request *r, dwf_error *err)
{
    dwf_emulator *e = r->emu;
    char name[256], qual[160];
    if (target_of(r, name, qual, err) != 0) return NULL;
    pthread_mutex_lock(&e->mu);
    emu_fn *f = sandbox_of(e, name, qual);
    cJSON *cfg = f && f->managed ? cJSON_Duplicate(f->config, 1) : NULL;
    int given = f && !f->managed;
    pthread_mutex_unlock(&e->mu);
    if (given) cfg = config_of_given(e, f);
    if (!f) not_found(e, name, qual, err);
    else if (!cfg) dwf__emu_fail(err, "ServiceException", "out of memory");
    cJSON *o = cfg ? config_answer(cfg, "Active", "Successful") : NULL;
    cJSON_Delete(cfg);
    return o;
}

enum MHD_Result dwf__emu_get_function_configuration(emu_request *r)
{
    dwf_error err;
    cJSON *o = read_config(r, &err);
    return dwf__emu_reply_result(r, o ? 0 : -1, o, &err);
}

enum MHD_Result dwf__emu_get_function(emu_request *r)
{
    dwf_error err;
    cJSON *c = read_config(r, &err), *o = c ? cJSON_CreateObject() : NULL, *code = NULL;
    if (c && o) {
        cJSON_AddItemToObject(o, "Configuration", c);
        if ((code = cJSON_AddObjectToObject(o, "Code"))) cJSON_AddStringToObject(code, "RepositoryType", "S3");
    } else {
        cJSON_Delete(c);
        if (c) dwf__emu_fail(&err, "ServiceException", "out of memory");
    }
    return dwf__emu_reply_result(r, o ? 0 : -1, o, &err);
}

enum MHD_Result dwf__emu_list_functions(emu_request *r)
{
    dwf_emulator *e = r->emu;
    cJSON *o = cJSON_CreateObject(), *arr = o ? cJSON_AddArrayToObject(o, "Functions") : NULL;
    pthread_mutex_lock(&e->mu);
    for (int i = 0; arr && i < e->nfns; i++) {
        emu_fn *f = e->fns[i];
        if (f->retired || strcmp(f->qualifier, "$LATEST") != 0) continue;
        cJSON *c = f->managed ? config_answer(f->config, "Active", "Successful") : NULL;
        if (c) cJSON_AddItemToArray(arr, c);
    }
    /* The given functions' configuration reads the service: outside mu. */
    int n = e->nfns;
    emu_fn **given = calloc((size_t)n + 1, sizeof *given);
    for (int i = 0, k = 0; given && i < n; i++)
        if (!e->fns[i]->retired && !e->fns[i]->managed) given[k++] = e->fns[i];
    pthread_mutex_unlock(&e->mu);
    for (int i = 0; arr && given && given[i]; i++) {
        cJSON *c = config_of_given(e, given[i]), *a = c ? config_answer(c, "Active", "Successful") : NULL;
        cJSON_Delete(c);
        if (a) cJSON_AddItemToArray(arr, a);
    }
    free(given);
    dwf_error err;
    if (!arr) dwf__emu_fail(&err, "ServiceException", "out of memory");
    return dwf__emu_reply_result(r, arr ? 0 : -1, o, &err);
}

/* UpdateFunctionCode / UpdateFunctionConfiguration: a new $LATEST sandbox in place of the old. */
static int update_latest(emu_request *r, int code, cJSON **answer, dwf_error *err)
{
    dwf_emulator *e = r->emu;
    char name[256];
    emu_fn *old = latest_for_change(r, name, err);
    if (!old) return -1;
    const cJSON *rev = cJSON_GetObjectItemCaseSensitive(r->json, "RevisionId");
    if (cJSON_IsString(rev) && strcmp(rev->valuestring, jstr(old->config, "RevisionId")) != 0)
        return dwf__emu_fail(err, "PreconditionFailedException",
                             "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/"
                             "GetAlias API to retrieve the latest Revision Id");
    cJSON *cfg = cJSON_Duplicate(old->config, 1);
    unsigned char *zip = NULL;
    void *stored = NULL;
    size_t len = 0;
    char hex[65], b64[48], lm[64], rv[40];
    int rc = cfg ? 0 : dwf__emu_fail(err, "ServiceException", "out of memory");
    if (rc == 0 && code) rc = zip_of(r->json, &zip, &len, err);
    if (rc == 0 && code) {
        code_hashes(zip, len, hex, b64);
        cJSON_ReplaceItemInObjectCaseSensitive(cfg, "CodeSha256", cJSON_CreateString(b64));
        cJSON_ReplaceItemInObjectCaseSensitive(cfg, "CodeSize", cJSON_CreateNumber((double)len));
    } else if (rc == 0) {
        snprintf(hex, sizeof hex, "%s", old->code_sha);
        rc = take_settings(e, r->json, cfg, err);
        if (rc == 0) rc = dwf_service_function_code(e->svc, hex, &stored, &len, err);
    }
    if (rc == 0) {
        last_modified(lm);
        dwf_service_uuid(rv);
        cJSON_ReplaceItemInObjectCaseSensitive(cfg, "LastModified", cJSON_CreateString(lm));
        cJSON_ReplaceItemInObjectCaseSensitive(cfg, "RevisionId", cJSON_CreateString(rv));
    }
    int dry = code && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->json, "DryRun"));
    emu_fn *f = rc == 0 && !dry ? sandbox_new(e, cfg, "$LATEST", code ? zip : stored, len, hex, err) : NULL;
    if (rc == 0 && !dry && !f) rc = -1;
    if (f) rc = save_version(e, f, code ? zip : NULL, len, err);
    free(zip);
    free(stored);
    if (f && rc == 0) rc = sandbox_install(e, f, old, err);
    else if (f) {
        dwf__emu_unlisten(&f->rt);
        dwf__emu_sandbox_free(f);
        free(f);
        f = NULL;
    }
    if (rc == 0 && f && !e->o.quiet)
        dwf__emu_log(e, "%s: %s, new task root %s", name, code ? "new code (UpdateFunctionCode)" :
                     "new configuration (UpdateFunctionConfiguration)", f->task_root);
    emu_fn *v = NULL;
    if (rc == 0 && f && code && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(r->json, "Publish")))
        rc = publish(e, f, NULL, &v, err);
    if (rc == 0) *answer = config_answer(v ? v->config : cfg, "Active", "InProgress");
    cJSON_Delete(cfg);
    return rc;
}

static enum MHD_Result update(emu_request *r, int code)
{
    dwf_emulator *e = r->emu;
    dwf_error err;
    cJSON *o = NULL;
    pthread_mutex_lock(&e->control_mu);
    int rc = update_latest(r, code, &o, &err);
    pthread_mutex_unlock(&e->control_mu);
    return dwf__emu_reply_result(r, rc, o, &err);
}

enum MHD_Result dwf__emu_update_function_code(emu_request *r) { return update(r, 1); }
enum MHD_Result dwf__emu_update_function_configuration(emu_request *r) { return update(r, 0); }

enum MHD_Result dwf__emu_publish_version(emu_request *r)
{
    dwf_emulator *e = r->emu;
    dwf_error err;
    char name[256];
    cJSON *o = NULL;
    pthread_mutex_lock(&e->control_mu);
    emu_fn *latest = latest_for_change(r, name, &err), *v = NULL;
    const char *sha = jstr(r->json, "CodeSha256");
    int rc = latest ? 0 : -1;
    if (rc == 0 && sha && strcmp(sha, jstr(latest->config, "CodeSha256")) != 0)
        rc = dwf__emu_fail(&err, IPVE, "CodeSHA256 (%.64s) is different from current CodeSHA256 in $LATEST (%s). "
                           "Please try again", sha, jstr(latest->config, "CodeSha256"));
    if (rc == 0) rc = publish(e, latest, jstr(r->json, "Description"), &v, &err);
    if (rc == 0) o = config_answer(v->config, "Active", "Successful");
    if (rc == 0 && !e->o.quiet) dwf__emu_log(e, "%s: version %s (PublishVersion), task root %s", name, v->qualifier,
                                             v->task_root);
    pthread_mutex_unlock(&e->control_mu);
    if (rc != 0) return dwf__emu_reply_err(r, &err);
    enum MHD_Result res = dwf__emu_reply_json(r, 201, o, NULL);
    cJSON_Delete(o);
    return res;
}

static int by_version(const void *a, const void *b)
{
    const emu_fn *x = *(emu_fn *const *)a, *y = *(emu_fn *const *)b;
    int lx = strcmp(x->qualifier, "$LATEST") == 0, ly = strcmp(y->qualifier, "$LATEST") == 0;
    if (lx || ly) return ly - lx;
    return atoi(x->qualifier) - atoi(y->qualifier);
}

enum MHD_Result dwf__emu_list_versions(emu_request *r)
{
    dwf_emulator *e = r->emu;
    dwf_error err;
    char name[256], qual[160];
    int max = 0;
    if (target_of(r, name, qual, &err) != 0 || dwf__emu_max_items(r, 1, &max, &err) != 0)
        return dwf__emu_reply_err(r, &err);
    if (max == 0) max = 50;
    const char *marker = dwf__emu_query(r, "Marker");
    int from = marker ? atoi(marker) : 0;
    pthread_mutex_lock(&e->mu);
    emu_fn **vs = calloc((size_t)e->nfns + 1, sizeof *vs);
    int n = 0, given = 0;
    for (int i = 0; vs && i < e->nfns; i++) {
        emu_fn *f = e->fns[i];
        if (f->retired || strcmp(f->name, name) != 0) continue;
        if (!f->managed) given = 1;
        vs[n++] = f;
    }
    cJSON *o = cJSON_CreateObject(), *arr = o ? cJSON_AddArrayToObject(o, "Versions") : NULL;
    if (vs) qsort(vs, (size_t)n, sizeof *vs, by_version);
    for (int i = from; arr && !given && i < n && i < from + max; i++)
        cJSON_AddItemToArray(arr, config_answer(vs[i]->config, "Active", "Successful"));
    pthread_mutex_unlock(&e->mu);
    if (given) {
        cJSON *c = config_of_given(e, vs[0]);
        cJSON_AddItemToArray(arr, config_answer(c, "Active", "Successful"));
        cJSON_Delete(c);
    }
    free(vs);
    if (n == 0) {
        cJSON_Delete(o);
        not_found(e, name, "", &err);
        return dwf__emu_reply_err(r, &err);
    }
    if (!given && from + max < n) {
        char next[16];
        snprintf(next, sizeof next, "%d", from + max);
        cJSON_AddStringToObject(o, "NextMarker", next);
    }
    if (!arr) dwf__emu_fail(&err, "ServiceException", "out of memory");
    return dwf__emu_reply_result(r, arr ? 0 : -1, o, &err);
}

enum MHD_Result dwf__emu_delete_function(emu_request *r)
{
    dwf_emulator *e = r->emu;
    dwf_error err;
    char name[256], qual[160];
    pthread_mutex_lock(&e->control_mu);
    int rc = target_of(r, name, qual, &err);
    if (rc == 0 && !latest_for_change(r, name, &err)) rc = -1;
    if (rc == 0 && strcmp(qual, "$LATEST") == 0)
        rc = dwf__emu_fail(&err, IPVE, "$LATEST version cannot be deleted without deleting the function.");
    if (rc == 0 && qual[0]) {
        pthread_mutex_lock(&e->mu);
        emu_fn *v = sandbox_of(e, name, qual);
        pthread_mutex_unlock(&e->mu);
        if (!v) rc = not_found(e, name, qual, &err);
    }
    if (rc == 0) rc = dwf_service_delete_function_versions(e->svc, name, qual[0] ? qual : NULL, &err);
    if (rc == 0) {
        pthread_mutex_lock(&e->mu);
        for (int i = 0; i < e->nfns; i++) {
            emu_fn *f = e->fns[i];
            if (f->managed && strcmp(f->name, name) == 0 && (!qual[0] || strcmp(f->qualifier, qual) == 0))
                f->retired = 1;
        }
        dwf__emu_kick(e);
        pthread_mutex_unlock(&e->mu);
        if (!e->o.quiet) dwf__emu_log(e, "%s%s%s: deleted (DeleteFunction)", name, qual[0] ? ":" : "", qual);
    }
    pthread_mutex_unlock(&e->control_mu);
    if (rc != 0) return dwf__emu_reply_err(r, &err);
    return dwf__emu_reply(r, 204, NULL, "", 0, NULL);
}

/* ---- restart ------------------------------------------------------------------------------------ */

int dwf__emu_control_restore(dwf_emulator *e, dwf_error *err)
{
    cJSON *rows = NULL;
    if (dwf_service_list_function_versions(e->svc, &rows, err) != 0) return -1;
    int rc = 0;
    for (const cJSON *row = rows->child; rc == 0 && row; row = row->next) {
        const char *name = jstr(row, "Name"), *ver = jstr(row, "Version"), *sha = jstr(row, "CodeSha256Hex");
        const cJSON *cfg = cJSON_GetObjectItemCaseSensitive(row, "Config");
        emu_fn *given = dwf__emu_fn_by_name(e, name);
        if (given && !given->managed) {
            dwf__emu_log(e, "%s:%s, kept in the store from the control plane, is not served: a function of that name "
                            "was given on the command line", name, ver);
            continue;
        }
        void *zip = NULL;
        size_t len = 0;
        rc = dwf_service_function_code(e->svc, sha, &zip, &len, err);
        emu_fn *f = rc == 0 ? sandbox_new(e, cfg, ver, zip, len, sha, err) : NULL;
        free(zip);
        if (rc == 0 && !f) rc = -1;
        if (rc == 0) rc = dwf__emu_fn_add(e, f) == 0 ? 0 : dwf__emu_fail(err, "ServiceException", "out of memory");
        if (rc != 0 && f) {
            dwf__emu_unlisten(&f->rt);
            dwf__emu_sandbox_free(f);
            free(f);
        }
        if (rc != 0) {
            char msg[sizeof err->message];
            memcpy(msg, err->message, sizeof msg);
            snprintf(err->message, sizeof err->message, "%.80s:%.20s from the store: %.380s", name, ver, msg);
        }
    }
    cJSON_Delete(rows);
    return rc;
}
