/*
 * handler.c: turn a .dwf file into a loaded workflow for the embedded engine.
 *
 * The compiled handler is a shared object built once per content and cached: the key is the
 * SHA-256 of everything that decides what the object contains (the .dwf text, each `use`d C
 * file, the runtime header and the dwf binary itself, so a rebuilt compiler never reuses a
 * stale object; the binary by its GNU build-id, which the linker derives from its contents).
 * A cache entry is written to a temporary name and renamed into place, so a crash or a
 * concurrent `dwf run` never sees half a file. The compiler's command line, handler.c and the
 * `use` paths are toolchain.c's; the object does not link libdwf: the dwf binary is linked
 * -rdynamic and the handler's dwf_* references resolve to it.
 *
 * The hash is OpenSSL's low-level SHA-256 (declared under OPENSSL_API_COMPAT 1.1.1), not EVP:
 * EVP's first use loads OpenSSL's configuration and providers, ~3 ms of every `dwf run` that
 * otherwise never needs them (bench/RESULTS.md "Sequential steps").
 *
 * The store records each function's handler path, so later processes (`dwf resume`, a
 * chained invoke of another function) can load it again without the .dwf.
 */
#define OPENSSL_API_COMPAT 0x10100000L
#include "handler.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "engine.h"
#include "front.h"
#include "fs.h"
#include "toolchain.h"

static int hash_file(SHA256_CTX *md, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    char buf[65536];
    size_t n;
    int r = 0;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        if (SHA256_Update(md, buf, n) != 1) r = -1;
    if (ferror(f)) r = -1;
    fclose(f);
    return r;
}

/* The running dwf's GNU build-id note (NT_GNU_BUILD_ID), found in its own program headers. */
typedef struct build_id {
    const unsigned char *bytes;
    size_t len;
} build_id;

static int find_build_id(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    build_id *id = arg;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const unsigned char *name = p + sizeof *nh;
            const unsigned char *desc = name + ((nh->n_namesz + 3) & ~3u);
            if (desc + nh->n_descsz > end) break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                id->bytes = desc;
                id->len = nh->n_descsz;
                return 1;
            }
            p = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
    return 1; /* the first object listed is the program itself: look no further */
}

/* Hash what identifies this dwf binary. Its build-id (a hash of the linked contents, which
 * Debian's linker adds by default) costs nothing; hashing the whole file cost ~25 ms per
 * `dwf run` once libcurl and OpenSSL were linked in statically (an 8.7 MB binary), which the
 * step benchmark counted. Without a build-id, the file is hashed as before. */
static int hash_self(SHA256_CTX *md)
{
    build_id id = {0};
    dl_iterate_phdr(find_build_id, &id);
    if (id.bytes && id.len > 0)
        return SHA256_Update(md, "build-id", 9) == 1 && SHA256_Update(md, id.bytes, id.len) == 1 ? 0 : -1;
    return hash_file(md, "/proc/self/exe");
}

/* The cache key of `p` as 64 hex digits: this dwf's version and binary, the .dwf text, each
 * `use`d file (its path and contents) and dwf.h. */
static int cache_key(const Program *p, const TcRuntime *rt, char hex[2 * SHA256_DIGEST_LENGTH + 1])
{
    SHA256_CTX ctx, *md = &ctx;
    char hdr[PATH_MAX + 16], path[PATH_MAX];
    int rc = -1;
    snprintf(hdr, sizeof hdr, "%s/dwf.h", rt->include);
    int bad = SHA256_Init(md) != 1 || SHA256_Update(md, DWF_VERSION, strlen(DWF_VERSION) + 1) != 1 ||
              SHA256_Update(md, p->text, p->text_len) != 1;
    for (const AstNode *u = p->uses; !bad && u; u = u->next) {
        if (!u->u.use.path || !*u->u.use.path) continue;
        if (tc_use_path(p->path, u->u.use.path, 0, path, sizeof path, "run") != 0) goto out;
        if (SHA256_Update(md, path, strlen(path) + 1) != 1 || hash_file(md, path) != 0) {
            fprintf(stderr, "%s: error: cannot read the used file '%s': %s\n", p->path, path,
                    strerror(errno));
            goto out;
        }
    }
    unsigned char dig[SHA256_DIGEST_LENGTH];
    unsigned int dlen = SHA256_DIGEST_LENGTH;
    if (bad || hash_file(md, hdr) != 0 || hash_self(md) != 0 || SHA256_Final(dig, md) != 1) {
        fprintf(stderr, "dwf run: cannot hash the handler's inputs (%s)\n", hdr);
        goto out;
    }
    for (unsigned i = 0; i < dlen; i++) snprintf(hex + 2 * i, 3, "%02x", dig[i]);
    rc = 0;
out:
    return rc;
}

/* Compile `p` into dir/handler.so (and keep its C as dir/handler.c). Both are written under
 * names of this process and renamed into place: two `dwf run`s of one new workflow may meet
 * here, and neither may see the other's half-written file. */
static int build_into(const Program *p, const TcRuntime *rt, const char *dir, const char *so)
{
    char failed[PATH_MAX], csrc[PATH_MAX + 48], tmp[PATH_MAX + 48], final_c[PATH_MAX + 16];
    if (dwf__mkdir_p(dir, 0755, failed, sizeof failed) != 0) {
        fprintf(stderr, "dwf run: cannot create the cache directory %s: %s\n", failed,
                strerror(errno));
        return -1;
    }
    snprintf(csrc, sizeof csrc, "%s/handler.%ld.c", dir, (long)getpid());
    snprintf(tmp, sizeof tmp, "%s/handler.so.tmp.%ld", dir, (long)getpid());
    snprintf(final_c, sizeof final_c, "%s/handler.c", dir);
    if (tc_write_handler(p, csrc, csrc, "run") != 0) return -1; /* cc reads csrc, by that name */
    TcCompile cc = {.cmd = "run", .p = p, .rt = rt, .source = csrc, .output = tmp};
    int st = tc_compile(&cc);
    if (st != 0) {
        if (st > 0)
            fprintf(stderr, "dwf run: %s failed (exit %d) compiling the handler %s\n", tc_cc(),
                    st, csrc);
        unlink(tmp);
        return -1;
    }
    if (rename(csrc, final_c) != 0 || rename(tmp, so) != 0) {
        fprintf(stderr, "dwf run: cannot move %s into place: %s\n", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int handler_build(const char *dwf_path, const char *cache_dir, char *so_out, size_t n)
{
    int rc = -1;
    Arena *arena = arena_new();
    Diag *diag = diag_new(stderr, isatty(STDERR_FILENO));
    if (!arena || !diag) {
        fprintf(stderr, "dwf run: out of memory\n");
        goto out;
    }
    Program *p = front_compile_file(arena, diag, dwf_path);
    if (!p || !p->workflow || diag_errors(diag) > 0) goto out;
    TcRuntime rt;
    char hex[2 * SHA256_DIGEST_LENGTH + 1], dir[PATH_MAX], so[PATH_MAX + 16];
    if (tc_find_include(&rt, "run") != 0 || cache_key(p, &rt, hex) != 0) goto out;
    snprintf(dir, sizeof dir, "%.*s/%s", PATH_MAX - 2 * SHA256_DIGEST_LENGTH - 2, cache_dir, hex);
    snprintf(so, sizeof so, "%s/handler.so", dir);
    struct stat st;
    if (stat(so, &st) != 0 && build_into(p, &rt, dir, so) != 0) goto out;
    snprintf(so_out, n, "%s", so);
    rc = 0;
out:
    if (diag) diag_free(diag);
    if (arena) arena_free(arena);
    return rc;
}

int handler_load(const char *so_path, const char *source, Handler *h, char *err, size_t n)
{
    memset(h, 0, sizeof *h);
    h->dl = dlopen(so_path, RTLD_NOW | RTLD_LOCAL);
    if (!h->dl) {
        snprintf(err, n, "cannot load the handler %s: %s", so_path, dlerror());
        return -1;
    }
    h->wf = dlsym(h->dl, DWF_WORKFLOW_SYMBOL);
    if (!h->wf) {
        snprintf(err, n, "%s has no %s", so_path, DWF_WORKFLOW_SYMBOL);
        dlclose(h->dl);
        h->dl = NULL;
        return -1;
    }
    snprintf(h->so, sizeof h->so, "%s", so_path);
    snprintf(h->source, sizeof h->source, "%s", source ? source : (h->wf->source ? h->wf->source : ""));
    return 0;
}

int handler_open(const char *cmd, const char *file, const char *store, Handler *h)
{
    char cache[PATH_MAX], so[PATH_MAX], src[PATH_MAX], msg[600];
    const char *slash = strrchr(store, '/');
    if (slash) snprintf(cache, sizeof cache, "%.*s/cache", (int)(slash - store), store);
    else snprintf(cache, sizeof cache, "cache");
    if (access(file, R_OK) != 0) {
        fprintf(stderr, "dwf %s: cannot read %s: %s\n", cmd, file, strerror(errno));
        return -1;
    }
    if (handler_build(file, cache, so, sizeof so) != 0) return -1;
    if (!realpath(file, src)) snprintf(src, sizeof src, "%s", file);
    if (handler_load(so, src, h, msg, sizeof msg) != 0) {
        fprintf(stderr, "dwf %s: %s\n", cmd, msg);
        return -1;
    }
    return 0;
}

static void env_free(char **env)
{
    for (char **e = env; e && *e; e++) free(*e);
    free(env);
}

/* Set NAME=VALUE in a malloc'd NULL-terminated list, replacing an entry of the same name. */
static int env_put(char ***env, size_t *n, const char *kv)
{
    size_t klen = strcspn(kv, "=");
    char *copy = strdup(kv);
    if (!copy) return -1;
    for (size_t i = 0; i < *n; i++)
        if (strncmp((*env)[i], kv, klen + 1) == 0) {
            free((*env)[i]);
            (*env)[i] = copy;
            return 0;
        }
    char **grown = realloc(*env, (*n + 2) * sizeof *grown);
    if (!grown) {
        free(copy);
        return -1;
    }
    *env = grown;
    grown[(*n)++] = copy;
    grown[*n] = NULL;
    return 0;
}

int handler_set_env(Handler *h, const char *const *overrides, int n)
{
    char **env = calloc(1, sizeof *env);
    size_t len = 0;
    int bad = !env;
    for (const char *const *e = h->wf->environment; !bad && e && *e; e++) bad = env_put(&env, &len, *e) != 0;
    for (int i = 0; !bad && i < n; i++) bad = env_put(&env, &len, overrides[i]) != 0;
    if (bad) {
        env_free(env);
        return -1;
    }
    env_free(h->env);
    h->env = env;
    return 0;
}

/* The environment the function runs with: its own record, else the workflow's. */
static const char *const *handler_env(const Handler *h)
{
    return h->env ? (const char *const *)h->env : h->wf->environment;
}

/* Environment.Variables of a store record into h->env (a record without one: the workflow's). */
static int env_from_record(Handler *h, const cJSON *f)
{
    const cJSON *vars = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(f, "Environment"),
                                                         "Variables");
    if (!cJSON_IsObject(vars)) return 0;
    char **env = calloc(1, sizeof *env);
    size_t len = 0;
    int bad = !env;
    for (const cJSON *v = vars->child; !bad && v; v = v->next) {
        if (!cJSON_IsString(v)) continue;
        size_t need = strlen(v->string) + strlen(v->valuestring) + 2;
        char *kv = malloc(need);
        bad = !kv;
        if (kv) snprintf(kv, need, "%s=%s", v->string, v->valuestring);
        bad = bad || env_put(&env, &len, kv) != 0;
        free(kv);
    }
    if (bad) {
        env_free(env);
        return -1;
    }
    h->env = env;
    return 0;
}

static int add_environment(cJSON *f, const Handler *h)
{
    cJSON *vars = cJSON_AddObjectToObject(cJSON_AddObjectToObject(f, "Environment"), "Variables");
    if (!vars) return -1;
    for (const char *const *e = handler_env(h); e && *e; e++) {
        size_t klen = strcspn(*e, "=");
        char name[256];
        if (klen >= sizeof name || !(*e)[klen]) continue;
        memcpy(name, *e, klen);
        name[klen] = '\0';
        if (!cJSON_AddStringToObject(vars, name, *e + klen + 1)) return -1;
    }
    return 0;
}

int handler_register(dwf_service *s, const Handler *h, dwf_error *err)
{
    cJSON *f = cJSON_CreateObject(), *dc = NULL;
    int bad = !f || !cJSON_AddStringToObject(f, "FunctionName", h->wf->function_name) ||
              !cJSON_AddStringToObject(f, "Handler", h->so) || !cJSON_AddStringToObject(f, "Source", h->source) ||
              (h->wf->source_hash && !cJSON_AddStringToObject(f, "WorkflowHash", h->wf->source_hash)) ||
              !(dc = cJSON_AddObjectToObject(f, "DurableConfig")) ||
              !cJSON_AddNumberToObject(dc, "RetentionPeriodInDays", h->wf->retention_days) ||
              !cJSON_AddNumberToObject(dc, "ExecutionTimeout", (double)h->wf->execution_timeout) ||
              add_environment(f, h) != 0;
    if (bad) {
        cJSON_Delete(f);
        snprintf(err->type, sizeof err->type, "ServiceException");
        snprintf(err->message, sizeof err->message, "out of memory");
        return -1;
    }
    int r = dwf_service_put_function(s, f, err);
    cJSON_Delete(f);
    return r;
}

int handler_set_add(HandlerSet *set, const Handler *h)
{
    if (set->n == set->cap) {
        int cap = set->cap ? set->cap * 2 : 4;
        Handler *it = realloc(set->items, (size_t)cap * sizeof *it);
        if (!it) return -1;
        set->items = it;
        set->cap = cap;
    }
    set->items[set->n++] = *h;
    return 0;
}

const dwf_workflow *handler_resolve(void *arg, const char *function_name, dwf_error *err)
{
    HandlerSet *set = arg;
    for (int i = 0; i < set->n; i++)
        if (strcmp(set->items[i].wf->function_name, function_name) == 0) return set->items[i].wf;
    cJSON *f = NULL;
    if (!set->svc || dwf_service_get_function(set->svc, function_name, &f, err) != 0) {
        if (!set->svc) {
            snprintf(err->type, sizeof err->type, "ResourceNotFoundException");
            snprintf(err->message, sizeof err->message, "Function not found: %s", function_name);
        }
        return NULL;
    }
    const cJSON *so = cJSON_GetObjectItemCaseSensitive(f, "Handler");
    const cJSON *src = cJSON_GetObjectItemCaseSensitive(f, "Source");
    Handler h;
    char msg[300];
    int loaded = cJSON_IsString(so) &&
                 handler_load(so->valuestring, cJSON_IsString(src) ? src->valuestring : NULL, &h, msg, sizeof msg) == 0;
    if (!loaded && cJSON_IsString(so) && cJSON_IsString(src) && access(src->valuestring, R_OK) == 0) {
        /* The cached object is gone (a cleaned cache): build it again from the recorded .dwf,
         * into the same cache, and record the new path. */
        char cache[PATH_MAX], rebuilt[PATH_MAX];
        snprintf(cache, sizeof cache, "%s", so->valuestring);
        for (int up = 0; up < 2; up++) {
            char *slash = strrchr(cache, '/');
            if (slash) *slash = '\0';
        }
        if (handler_build(src->valuestring, cache, rebuilt, sizeof rebuilt) == 0 &&
            handler_load(rebuilt, src->valuestring, &h, msg, sizeof msg) == 0) {
            loaded = 1;
            dwf_error ignored;
            /* The record's environment first: recording the handler again must keep it. */
            if (env_from_record(&h, f) == 0 && handler_register(set->svc, &h, &ignored) != 0)
                fprintf(stderr, "dwf: could not record the rebuilt handler of %s: %s\n", function_name, ignored.message);
        }
    }
    if (loaded && !h.env && env_from_record(&h, f) != 0) {
        dlclose(h.dl);
        loaded = 0;
        snprintf(msg, sizeof msg, "out of memory");
    }
    if (!loaded) {
        snprintf(err->type, sizeof err->type, "ResourceNotFoundException");
        snprintf(err->message, sizeof err->message, "the handler of %.64s cannot be loaded: %.300s (run its .dwf again)",
                 function_name, cJSON_IsString(so) ? msg : "no handler recorded");
        cJSON_Delete(f);
        return NULL;
    }
    cJSON_Delete(f);
    if (handler_set_add(set, &h) != 0) {
        dlclose(h.dl);
        snprintf(err->type, sizeof err->type, "ServiceException");
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    return h.wf;
}

const char *const *handler_environment(void *arg, const char *function_name)
{
    HandlerSet *set = arg;
    for (int i = 0; i < set->n; i++)
        if (strcmp(set->items[i].wf->function_name, function_name) == 0) return handler_env(&set->items[i]);
    return NULL;
}

void handler_set_free(HandlerSet *set)
{
    /* A handler whose invocation thread the engine abandoned may still be running its code. */
    int keep = dwf_engine_abandoned() > 0;
    for (int i = 0; i < set->n; i++) {
        env_free(set->items[i].env);
        if (set->items[i].dl && !keep) dlclose(set->items[i].dl);
    }
    free(set->items);
    set->items = NULL;
    set->n = set->cap = 0;
}
