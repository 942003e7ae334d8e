/*
 * toolchain.c: the one place the CLI finds the runtime's files, resolves `use` paths, writes
 * handler.c and runs the C compiler (see toolchain.h). `dwf run`, `dwf build` and
 * `dwf compile` each used to carry their own copy, and the copies had drifted apart.
 *
 * Two compiler command lines, built from one list of common flags:
 *   - a shared object for the engine (`dwf run`): -fPIC -shared, no libdwf; the dwf binary is
 *     linked -rdynamic, so the handler's dwf_* references resolve to it when it is loaded;
 *   - the Lambda program (`dwf build`): the Lambda main object and libdwf.a, with libcurl (the
 *     minimal build beside libdwf.a), OpenSSL, zlib, cJSON and glibc itself, all linked
 *     statically: a static executable, which the zip ships as its `bootstrap`. No loader, no
 *     shared library: one exec and no relocation at each cold start, where the loader and its
 *     libraries cost ~40% of it (bench/RESULTS.md). `dwf build` runs it inside a private work
 *     directory on
 *     relative names and -ffile-prefix-map maps that directory away besides, and the program
 *     is stripped, so rebuilding the same workflow gives a byte-identical zip.
 */
#include "toolchain.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codegen.h"
#include "fs.h"
#include "proc.h"

/* Libraries libdwf.a needs. The Lambda program links libcurl-dwf.a and libcjson-dwf.a (found
 * beside libdwf.a) and these archives statically: Debian's libcurl.so.4 would bring ~30
 * libraries into the zip, and loading them was three quarters of the program's start-up.
 * libdwf.a holds only what a zip runs (sdk/, aws/, lambda/): the store, the emulator and the
 * packager are in libdwf-host.a, which the Lambda program never links. */
static const char *const static_libs[] = {"-lexpat", "-lssl", "-lcrypto", "-lz", NULL};
/* glibc: static in the Lambda program; shared (with --as-needed) in a sanitizer build's, as
 * the sanitizer runtimes cannot be linked into a static executable. */
static const char *const libc_libs[] = {"-lpthread", "-lm", NULL};

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The directory of the running dwf binary ("" at the root); -1 ("") when /proc/self/exe
 * cannot be read. */
static int exe_dir(char *out, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", out, n - 1);
    out[len > 0 ? len : 0] = '\0';
    char *slash = strrchr(out, '/');
    if (slash) *slash = '\0';
    return len > 0 ? 0 : -1;
}

const char *tc_home(void)
{
    static char home[PATH_MAX];
    if (home[0]) return home;
    char exe[PATH_MAX];
    if (exe_dir(exe, sizeof exe) != 0) return ".";
    /* build/dwf, build/san/dwf or PREFIX/bin/dwf: walk up until a dir holds the header. */
    for (char *slash = exe + strlen(exe); slash; slash = strrchr(exe, '/')) {
        *slash = '\0';
        char probe[PATH_MAX + 32];
        snprintf(probe, sizeof probe, "%s/include/dwf.h", exe);
        if (is_file(probe)) break;
        snprintf(probe, sizeof probe, "%s/include/dwf/dwf.h", exe);
        if (is_file(probe)) break;
    }
    snprintf(home, sizeof home, "%s", exe[0] ? exe : "/");
    return home;
}

int tc_find_include(TcRuntime *rt, const char *cmd)
{
    const char *home = tc_home();
    char probe[PATH_MAX + 16];
    snprintf(rt->include, sizeof rt->include, "%s/include", home);
    snprintf(probe, sizeof probe, "%s/dwf.h", rt->include);
    if (is_file(probe)) return 0;
    snprintf(rt->include, sizeof rt->include, "%s/include/dwf", home);
    snprintf(probe, sizeof probe, "%s/dwf.h", rt->include);
    if (is_file(probe)) return 0;
    fprintf(stderr, "dwf %s: cannot find dwf.h under %s/include or %s/include/dwf\n", cmd, home,
            home);
    return -1;
}

/* The linked files in one candidate directory: 1 all there, 0 no libdwf.a (try the next),
 * -1 libdwf.a without the rest (said: this build is incomplete). */
static int find_linked(TcRuntime *rt, const char *dir, const char *cmd)
{
    snprintf(rt->libdwf, sizeof rt->libdwf, "%.*s/libdwf.a", PATH_MAX - 12, dir);
    snprintf(rt->main_obj, sizeof rt->main_obj, "%.*s/lambda_main.o", PATH_MAX - 16, dir);
    snprintf(rt->libcurl, sizeof rt->libcurl, "%.*s/libcurl-dwf.a", PATH_MAX - 16, dir);
    snprintf(rt->libcjson, sizeof rt->libcjson, "%.*s/libcjson-dwf.a", PATH_MAX - 16, dir);
    snprintf(rt->bootstrap, sizeof rt->bootstrap, "%.*s/lambda_bootstrap", PATH_MAX - 20, dir);
    if (!is_file(rt->libdwf)) return 0;
    const char *missing = !is_file(rt->main_obj)    ? "lambda_main.o"
                          : !is_file(rt->bootstrap) ? "lambda_bootstrap"
                          : !is_file(rt->libcurl)   ? "libcurl-dwf.a"
                          : !is_file(rt->libcjson)  ? "libcjson-dwf.a"
                                                    : NULL;
    if (!missing) return 1;
    int curl = strcmp(missing, "libcurl-dwf.a") == 0, cjson = strcmp(missing, "libcjson-dwf.a") == 0;
    if (curl || cjson)
        fprintf(stderr, "dwf %s: %s has no %s, the static %s (run `make deps`, then `make`)\n",
                cmd, dir, missing, curl ? "minimal libcurl" : "cJSON");
    else
        fprintf(stderr, "dwf %s: %s has no %s (build it with `make`)\n", cmd, dir, missing);
    return -1;
}

int tc_find_runtime(TcRuntime *rt, const char *cmd)
{
    if (tc_find_include(rt, cmd) != 0) return -1;
    const char *home = tc_home();
    char cand[3][PATH_MAX];
    exe_dir(cand[0], sizeof cand[0]);
    snprintf(cand[1], sizeof cand[1], "%.*s/build", PATH_MAX - 16, home);
    snprintf(cand[2], sizeof cand[2], "%.*s/lib/dwf", PATH_MAX - 16, home);
    for (int i = 0; i < 3; i++) {
        if (!cand[i][0]) continue;
        int r = find_linked(rt, cand[i], cmd);
        if (r != 0) return r > 0 ? 0 : -1;
    }
    fprintf(stderr, "dwf %s: cannot find libdwf.a in %s, %s or %s\n", cmd, cand[0], cand[1],
            cand[2]);
    return -1;
}

int tc_source_dir(const char *dwf_path, int absolute, char *out, size_t n, const char *cmd)
{
    char dir[PATH_MAX];
    dwf__dirname(dwf_path, dir, sizeof dir);
    if (!absolute) {
        snprintf(out, n, "%s", dir);
        return 0;
    }
    char abs[PATH_MAX];
    if (!realpath(dir, abs)) {
        fprintf(stderr, "dwf %s: %s: %s\n", cmd, dir, strerror(errno));
        return -1;
    }
    snprintf(out, n, "%s", abs);
    return 0;
}

int tc_use_path(const char *dwf_path, const char *use, int absolute, char *out, size_t n,
                const char *cmd)
{
    char dir[PATH_MAX];
    int len;
    if (use[0] == '/') len = snprintf(out, n, "%s", use);
    else if (tc_source_dir(dwf_path, absolute, dir, sizeof dir, cmd) != 0) return -1;
    else if (strcmp(dir, ".") == 0) len = snprintf(out, n, "%s", use);
    else len = snprintf(out, n, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", use);
    if (len < 0 || (size_t)len >= n) {
        fprintf(stderr, "dwf %s: path too long: %s\n", cmd, use);
        return -1;
    }
    return 0;
}

int tc_write_handler(const Program *p, const char *path, const char *c_name, const char *cmd)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "dwf %s: cannot write %s: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    int wr = cg_emit_c(p, c_name, f);
    if (fclose(f) != 0 || wr != 0) {
        fprintf(stderr, "dwf %s: writing %s failed\n", cmd, path);
        return -1;
    }
    return 0;
}

int tc_render_handler(const Program *p, const char *c_name, char **text, size_t *len,
                      const char *cmd)
{
    *text = NULL;
    *len = 0;
    FILE *f = open_memstream(text, len);
    int wr = f ? cg_emit_c(p, c_name, f) : -1;
    if (!f || fclose(f) != 0 || wr != 0) {
        fprintf(stderr, "dwf %s: out of memory generating handler.c\n", cmd);
        free(*text);
        *text = NULL;
        return -1;
    }
    return 0;
}

const char *tc_cc(void)
{
    const char *cc = getenv("CC");
    return cc && *cc ? cc : "cc";
}

/* A command line under construction; the strings it made itself are freed with it. */
typedef struct Cmdline {
    char **argv, **owned;
    int n, nowned, cap;
} Cmdline;

static void push(Cmdline *c, const char *arg) { c->argv[c->n++] = (char *)arg; }

/* Push the concatenation a b c, kept until cmdline_free. */
static int pushf(Cmdline *cl, const char *a, const char *b, const char *c)
{
    size_t len = strlen(a) + strlen(b) + strlen(c) + 1;
    char *s = malloc(len);
    if (!s) return -1;
    snprintf(s, len, "%s%s%s", a, b, c);
    cl->owned[cl->nowned++] = s;
    push(cl, s);
    return 0;
}

static void cmdline_free(Cmdline *c)
{
    for (int i = 0; i < c->nowned; i++) free(c->owned[i]);
    free(c->owned);
    free(c->argv);
}

/* The flags in front of the sources: language, include paths, and what the kind needs. */
static int push_flags(Cmdline *cl, const TcCompile *c, const char *src_dir)
{
    push(cl, tc_cc());
    push(cl, "-std=c11");
    push(cl, "-D_GNU_SOURCE");
    push(cl, "-O2");
    if (!c->lambda) {
        push(cl, "-fPIC");
        push(cl, "-shared");
    } else {
        push(cl, "-Wall");
        if (c->dir && pushf(cl, "-ffile-prefix-map=", c->dir, "=.") != 0) return -1;
    }
    if (pushf(cl, "-I", c->rt->include, "") != 0 || pushf(cl, "-I", src_dir, "") != 0) return -1;
    if (c->lambda) {
#if defined(__SANITIZE_ADDRESS__)
        /* This dwf is a sanitizer build (make SANITIZE=address,undefined), so is the libdwf.a
         * beside it: its objects only link with the sanitizer runtimes. */
        push(cl, "-fsanitize=address,undefined");
#endif
        /* Position-dependent: a PIE carries ~19,000 relative relocations here (static
         * OpenSSL's method tables), and applying them dirties ~90 pages at every start:
         * 238 -> 144 page faults and ~1.4 ms of a ~7 ms cold start (bench/RESULTS.md). */
        push(cl, "-no-pie");
#if !defined(__SANITIZE_ADDRESS__)
        /* A static executable: the kernel maps it and jumps in; no loader to exec, no library
         * to map or relocate (bench/RESULTS.md, "Lambda cold start"). */
        push(cl, "-static");
#endif
    }
    return 0;
}

/* What follows the sources of the Lambda program: the runtime and its libraries. */
static void push_lambda_libs(Cmdline *cl, const TcRuntime *rt)
{
    push(cl, rt->main_obj);
    push(cl, rt->libdwf);
    push(cl, rt->libcurl);
    push(cl, rt->libcjson);
    push(cl, "-Wl,-Bstatic");
    for (int i = 0; static_libs[i]; i++) push(cl, static_libs[i]);
#if defined(__SANITIZE_ADDRESS__)
    push(cl, "-Wl,-Bdynamic");
    push(cl, "-Wl,--as-needed");
#endif
    for (int i = 0; libc_libs[i]; i++) push(cl, libc_libs[i]);
    push(cl, "-s"); /* no symbols: smaller zip, and no paths of this machine in the program */
}

/* The linker's warnings about glibc functions in a static executable, which `dwf build` does
 * not pass on (with the "in function" line before each). "Using 'getaddrinfo' (gethostbyname,
 * dlopen) in statically linked applications requires at runtime the shared libraries from the
 * glibc version used for linking": the functions reach for shared objects only through NSS
 * modules and dlopen, and the program does neither. lambda/lambda.c fixes the one NSS database
 * it uses, hosts, to "files dns", both built into glibc 2.34 and later (libc.a included), so a
 * host's nsswitch.conf naming other modules cannot make it load the host's libraries;
 * gethostbyname (OpenSSL's BIO_gethostbyname) is never called; dlopen is referenced by
 * OpenSSL's module loader (no config file is read and no engine loaded, .ci/deps.sh) and by
 * sdk/ops.c's pin_code, whose dladdr finds nothing to pin in a static program.
 * tests/deploy/build_zip.sh runs each zip's program under strace: it opens no shared object. */
static int static_link_warning(const char *line, size_t len)
{
    static const char *const fns[] = {"getaddrinfo", "gethostbyname", "dlopen", NULL};
    static const char tail[] = "' in statically linked applications requires at runtime the "
                               "shared libraries from the glibc version used for linking";
    const char *w = memmem(line, len, "warning: Using '", 16);
    if (!w) return 0;
    w += 16;
    for (int i = 0; fns[i]; i++) {
        size_t n = strlen(fns[i]);
        if ((size_t)(line + len - w) == n + sizeof tail - 1 && memcmp(w, fns[i], n) == 0 &&
            memcmp(w + n, tail, sizeof tail - 1) == 0)
            return 1;
    }
    return 0;
}

/* The compiler's output, as it would have printed it, less those warnings. */
static void print_filtered(const char *out)
{
    const char *held = NULL; /* an "in function" line, printed unless a dropped warning follows */
    size_t held_len = 0;
    for (const char *p = out; *p;) {
        size_t len = strcspn(p, "\n");
        int nl = p[len] == '\n';
        if (static_link_warning(p, len)) {
            held = NULL;
        } else {
            if (held) fwrite(held, 1, held_len, stderr);
            held = NULL;
            if (memmem(p, len, ": in function `", 15) && len > 2 && p[len - 2] == '\'' && p[len - 1] == ':') {
                held = p;
                held_len = len + (size_t)nl;
            } else {
                fwrite(p, 1, len + (size_t)nl, stderr);
            }
        }
        p += len + (size_t)nl;
    }
    if (held) fwrite(held, 1, held_len, stderr);
}

/* Run the command line, inheriting stdio; its exit status, or -1 (said) if it did not exit. */
static int run(char *const argv[], const TcCompile *c)
{
    if (c->verbose) {
        fprintf(stderr, "(cd %s &&", c->dir ? c->dir : ".");
        for (int i = 0; argv[i]; i++) fprintf(stderr, " %s", argv[i]);
        fputs(")\n", stderr);
    }
    /* The Lambda program's link is static: its output is read, then shown less the linker's
     * warnings about static glibc (static_link_warning). */
    char *out = NULL;
    dwf__proc_opts po = {.dir = c->dir, .output = c->lambda ? &out : NULL};
    int st = 0;
    char err[PATH_MAX + 128];
    if (dwf__proc_run(argv, &po, &st, err, sizeof err) != 0) {
        fprintf(stderr, "dwf %s: cannot run %s\n", c->cmd, err);
        return -1;
    }
    if (out) print_filtered(out);
    free(out);
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    fprintf(stderr, "dwf %s: %s killed by signal %d\n", c->cmd, argv[0], WTERMSIG(st));
    return -1;
}

int tc_compile(const TcCompile *c)
{
    int nuse = 0;
    for (const AstNode *u = c->p->uses; u; u = u->next) nuse++;
    char src_dir[PATH_MAX], path[PATH_MAX];
    /* The Lambda program compiles in a work directory: everything it names is absolute. */
    if (tc_source_dir(c->p->path, c->lambda, src_dir, sizeof src_dir, c->cmd) != 0) return -1;
    int cap = 40 + nuse;
    Cmdline cl = {calloc((size_t)cap + 1, sizeof(char *)), calloc((size_t)cap, sizeof(char *)), 0,
                  0, cap};
    int rc = -1;
    if (!cl.argv || !cl.owned) {
        fprintf(stderr, "dwf %s: out of memory\n", c->cmd);
        goto out;
    }
    if (push_flags(&cl, c, src_dir) != 0) goto oom;
    push(&cl, "-o");
    push(&cl, c->output);
    push(&cl, c->source);
    for (const AstNode *u = c->p->uses; u; u = u->next) {
        if (!u->u.use.path || !*u->u.use.path) continue;
        if (tc_use_path(c->p->path, u->u.use.path, c->lambda, path, sizeof path, c->cmd) != 0)
            goto out;
        if (pushf(&cl, path, "", "") != 0) goto oom;
    }
    if (c->lambda) push_lambda_libs(&cl, c->rt);
    cl.argv[cl.n] = NULL;
    rc = run(cl.argv, c);
    goto out;
oom:
    fprintf(stderr, "dwf %s: out of memory\n", c->cmd);
out:
    cmdline_free(&cl);
    return rc;
}
