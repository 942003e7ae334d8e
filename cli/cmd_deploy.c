/*
 * cmd_deploy.c: `dwf build`, a .dwf workflow to a deployable AWS Lambda zip.
 *
 * The build is the compiler's output run through the system C compiler and the packager:
 *   1. front end + cg_emit_c: the handler C, in a private work directory;
 *   2. cc: handler.c + the workflow's `use`d C files + the Lambda main object + libdwf.a, with
 *      libcurl (the minimal build beside libdwf.a), OpenSSL and zlib linked statically, so the
 *      zip carries only glibc, the loader and cJSON: every bundled library is one more the
 *      loader maps and relocates at each cold start;
 *   3. package/package.c: the program, its shared libraries and the loader in a reproducible zip;
 *   4. cg_emit_artifacts: the deploy files (durable-config, IAM, deploy.sh, SAM, Terraform)
 *      beside the zip, naming it.
 * Runtime pieces are taken from the build that this very dwf binary belongs to (the directory
 * it runs from), so `build/san/dwf build` links the sanitizer build's libdwf.a and parallel
 * builds in different BUILD directories never mix objects. An installed dwf finds them under
 * its prefix (include/dwf/dwf.h, lib/dwf/).
 * The compiler runs inside the random work directory on relative names (and -ffile-prefix-map
 * maps it away besides) and the program is stripped, so rebuilding the same workflow gives a
 * byte-identical zip, sanitizer builds included.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "codegen.h"
#include "front.h"
#include "package.h"

extern char **environ;

const char *const usage_build =
    "usage: dwf build FILE.dwf [-o ZIP] [--region R] [--account A] [--keep] [-v]\n"
    "\n"
    "Compile a workflow and package it as a self-contained AWS Lambda zip for the\n"
    "provided.al2023 runtime: `bootstrap` at the root, the program under bin/, every shared\n"
    "library it needs and the dynamic loader under lib/. The deploy files (durable-config.json,\n"
    "iam/, deploy.sh, template.yaml, main.tf) are written beside the zip and reference it.\n"
    "The same input gives a byte-identical zip.\n"
    "\n"
    "options:\n"
    "  -o ZIP         the zip to write (default: function.zip); its directory is created\n"
    "  --region R     fill the region into ARNs of the deploy files\n"
    "  --account A    fill the account id into ARNs of the deploy files\n"
    "  --keep         keep the work directory (handler.c, the linked program) and print it\n"
    "  -v             print the compiler command\n"
    "\n"
    "environment: CC (default cc) is the C compiler used to link the program.\n";

/* Libraries libdwf.a needs. The Lambda program links libcurl-dwf.a (found beside libdwf.a)
 * and these archives statically: Debian's libcurl.so.4 would bring ~30 libraries into the zip,
 * and loading them was three quarters of the program's start-up. libdwf.a holds only what a
 * zip runs (sdk/, aws/, lambda/): the store, the emulator and the packager are in
 * libdwf-host.a, which the Lambda program never links. */
static const char *const static_libs[] = {"-lssl", "-lcrypto", "-lz", NULL};
/* Shared, with --as-needed: only those the program really calls are recorded. */
static const char *const shared_libs[] = {"-lcjson", "-lpthread", "-ldl", "-lm", NULL};

typedef struct Paths {
    char include[PATH_MAX]; /* directory holding dwf.h */
    char libdwf[PATH_MAX];  /* libdwf.a */
    char main_obj[PATH_MAX]; /* lambda_main.o */
    char libcurl[PATH_MAX];  /* libcurl-dwf.a: the minimal static libcurl (make deps) */
    char bootstrap[PATH_MAX]; /* lambda_bootstrap: the zip's static bootstrap */
} Paths;

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Find dwf.h, libdwf.a, libcurl-dwf.a, lambda_main.o and lambda_bootstrap. The runtime
 * objects must come from one build: the directory this dwf runs from when it holds them
 * (build/, build/san/, ...), else <home>/build, else an installed <home>/lib/dwf. */
static int find_runtime(Paths *p)
{
    const char *home = cli_home();
    snprintf(p->include, sizeof p->include, "%s/include", home);
    char probe[PATH_MAX + 16];
    snprintf(probe, sizeof probe, "%s/dwf.h", p->include);
    if (!is_file(probe)) {
        snprintf(p->include, sizeof p->include, "%s/include/dwf", home);
        snprintf(probe, sizeof probe, "%s/dwf.h", p->include);
        if (!is_file(probe)) {
            fprintf(stderr, "dwf build: cannot find dwf.h under %s/include or %s/include/dwf\n",
                    home, home);
            return -1;
        }
    }
    char exe_dir[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 1);
    exe_dir[n > 0 ? n : 0] = '\0';
    char *slash = strrchr(exe_dir, '/');
    if (slash) *slash = '\0';
    char cand[3][PATH_MAX];
    snprintf(cand[0], sizeof cand[0], "%s", exe_dir);
    snprintf(cand[1], sizeof cand[1], "%.*s/build", PATH_MAX - 16, home);
    snprintf(cand[2], sizeof cand[2], "%.*s/lib/dwf", PATH_MAX - 16, home);
    for (int i = 0; i < 3; i++) {
        if (!cand[i][0]) continue;
        snprintf(p->libdwf, sizeof p->libdwf, "%.*s/libdwf.a", PATH_MAX - 12, cand[i]);
        snprintf(p->main_obj, sizeof p->main_obj, "%.*s/lambda_main.o", PATH_MAX - 16, cand[i]);
        snprintf(p->libcurl, sizeof p->libcurl, "%.*s/libcurl-dwf.a", PATH_MAX - 16, cand[i]);
        if (!is_file(p->libdwf)) continue;
        if (!is_file(p->main_obj)) {
            fprintf(stderr, "dwf build: %s has no lambda_main.o (build it with `make`)\n", cand[i]);
            return -1;
        }
        snprintf(p->bootstrap, sizeof p->bootstrap, "%.*s/lambda_bootstrap", PATH_MAX - 20,
                 cand[i]);
        if (!is_file(p->bootstrap)) {
            fprintf(stderr, "dwf build: %s has no lambda_bootstrap (build it with `make`)\n",
                    cand[i]);
            return -1;
        }
        if (!is_file(p->libcurl)) {
            fprintf(stderr,
                    "dwf build: %s has no libcurl-dwf.a, the minimal static libcurl (run "
                    "`make deps`, then `make`)\n",
                    cand[i]);
            return -1;
        }
        return 0;
    }
    fprintf(stderr, "dwf build: cannot find libdwf.a in %s, %s or %s\n", cand[0], cand[1],
            cand[2]);
    return -1;
}

static int mkdir_p(const char *dir)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
        *s = '/';
    }
    if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0) fprintf(stderr, "dwf build: removing %s: %s\n", path, strerror(errno));
    return 0;
}

/* Run a command in directory `dir`, inheriting stdio; returns its exit status, or -1 if it
 * could not start. */
static int run_cmd(char *const argv[], const char *dir, int verbose)
{
    if (verbose) {
        fprintf(stderr, "(cd %s &&", dir);
        for (int i = 0; argv[i]; i++) fprintf(stderr, " %s", argv[i]);
        fputs(")\n", stderr);
    }
    posix_spawn_file_actions_t fa;
    int e = posix_spawn_file_actions_init(&fa);
    if (e != 0) {
        fprintf(stderr, "dwf build: posix_spawn_file_actions_init: %s\n", strerror(e));
        return -1;
    }
    e = posix_spawn_file_actions_addchdir_np(&fa, dir);
    pid_t pid;
    if (e == 0) e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (e != 0) {
        fprintf(stderr, "dwf build: cannot run %s: %s\n", argv[0], strerror(e));
        return -1;
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) {
            fprintf(stderr, "dwf build: waitpid: %s\n", strerror(errno));
            return -1;
        }
    if (WIFEXITED(st)) return WEXITSTATUS(st);
    fprintf(stderr, "dwf build: %s killed by signal %d\n", argv[0], WTERMSIG(st));
    return -1;
}

/* dirname() without touching its argument: "." for a bare file name. */
static void dir_of(const char *path, char *out, size_t outlen)
{
    const char *s = strrchr(path, '/');
    if (!s)
        snprintf(out, outlen, ".");
    else if (s == path)
        snprintf(out, outlen, "/");
    else
        snprintf(out, outlen, "%.*s", (int)(s - path), path);
}

/* Compile and link the Lambda program work/bootstrap.bin from work/handler.c and the
 * workflow's `use`d C files (resolved against the .dwf's directory, as the engine does).
 * cc runs inside the work directory on relative names: the random directory name then reaches
 * nothing the compiler records (a sanitizer's module names included), so builds repeat. */
static int link_program(const Program *p, const Paths *rt, const char *work, int verbose)
{
    int nuse = 0;
    for (const AstNode *u = p->uses; u; u = u->next) nuse++;
    const char *cc = getenv("CC");
    if (!cc || !*cc) cc = "cc";
    char rel_dir[PATH_MAX], src_dir[PATH_MAX], inc_src[PATH_MAX + 2], inc_rt[PATH_MAX + 2],
        prefix_map[2 * PATH_MAX];
    dir_of(p->path, rel_dir, sizeof rel_dir);
    if (!realpath(rel_dir, src_dir)) {
        fprintf(stderr, "dwf build: %s: %s\n", rel_dir, strerror(errno));
        return -1;
    }
    snprintf(inc_src, sizeof inc_src, "-I%s", src_dir);
    snprintf(inc_rt, sizeof inc_rt, "-I%s", rt->include);
    snprintf(prefix_map, sizeof prefix_map, "-ffile-prefix-map=%s=.", work);

    size_t max = 40 + (size_t)nuse + sizeof static_libs / sizeof static_libs[0] +
                 sizeof shared_libs / sizeof shared_libs[0];
    char **argv = calloc(max, sizeof *argv);
    char **owned = calloc((size_t)nuse + 1, sizeof *owned);
    if (!argv || !owned) {
        free(argv);
        free(owned);
        fprintf(stderr, "dwf build: out of memory\n");
        return -1;
    }
    int a = 0, o = 0, rc = -1;
    argv[a++] = (char *)cc;
    argv[a++] = "-std=c11";
    argv[a++] = "-D_GNU_SOURCE";
    argv[a++] = "-O2";
    argv[a++] = "-Wall";
    argv[a++] = prefix_map;
    argv[a++] = inc_rt;
    argv[a++] = inc_src;
#if defined(__SANITIZE_ADDRESS__)
    /* This dwf is a sanitizer build (make SANITIZE=address,undefined), so is the libdwf.a
     * beside it: its objects only link with the sanitizer runtimes. */
    argv[a++] = "-fsanitize=address,undefined";
#endif
    /* Position-dependent: a PIE carries ~19,000 relative relocations here (static OpenSSL's
     * method tables), and applying them dirties ~90 pages at every start: 238 -> 144 page
     * faults and ~1.4 ms of a ~7 ms cold start (bench/RESULTS.md). The loader, glibc and the
     * stack are still placed at random. */
    argv[a++] = "-no-pie";
    argv[a++] = "-o";
    argv[a++] = "bootstrap.bin";
    argv[a++] = "handler.c";
    for (const AstNode *u = p->uses; u; u = u->next) {
        const char *up = u->u.use.path;
        if (up[0] == '/') {
            argv[a++] = (char *)up;
            continue;
        }
        size_t len = strlen(src_dir) + strlen(up) + 2;
        char *full = malloc(len);
        if (!full) {
            fprintf(stderr, "dwf build: out of memory\n");
            goto out;
        }
        snprintf(full, len, "%s/%s", src_dir, up);
        owned[o++] = full;
        argv[a++] = full;
    }
    argv[a++] = (char *)rt->main_obj;
    argv[a++] = (char *)rt->libdwf;
    argv[a++] = (char *)rt->libcurl;
    argv[a++] = "-Wl,-Bstatic";
    for (int i = 0; static_libs[i]; i++) argv[a++] = (char *)static_libs[i];
    argv[a++] = "-Wl,-Bdynamic";
    argv[a++] = "-Wl,--as-needed";
    for (int i = 0; shared_libs[i]; i++) argv[a++] = (char *)shared_libs[i];
    argv[a++] = "-s"; /* no symbols: smaller zip, and no paths of this machine in the program */
    argv[a] = NULL;
    int st = run_cmd(argv, work, verbose);
    if (st == 0)
        rc = 0;
    else if (st > 0)
        fprintf(stderr, "dwf build: %s failed (exit %d) building the Lambda program%s\n", cc, st,
                verbose ? "" : " (-v shows the command, --keep keeps its files)");
out:
    for (int i = 0; i < o; i++) free(owned[i]);
    free(owned);
    free(argv);
    return rc;
}

int cmd_build(int argc, char **argv)
{
    const char *file = NULL, *zip = "function.zip", *region = NULL, *account = NULL;
    int keep = 0, verbose = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-o") == 0 || strcmp(a, "--region") == 0 || strcmp(a, "--account") == 0) {
            if (i + 1 >= argc) return cli_usage_error("build", "%s needs a value", a);
            const char *v = argv[++i];
            if (!*v) return cli_usage_error("build", "%s needs a non-empty value", a);
            if (a[1] == 'o')
                zip = v;
            else if (a[2] == 'r')
                region = v;
            else
                account = v;
        } else if (strcmp(a, "--keep") == 0) {
            keep = 1;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            verbose = 1;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("build", "unknown option '%s'", a);
        } else if (file) {
            return cli_usage_error("build", "one workflow at a time ('%s' and '%s')", file, a);
        } else {
            file = a;
        }
    }
    if (!file) return cli_usage_error("build", "no .dwf file given");
    size_t zlen = strlen(zip);
    if (zip[zlen - 1] == '/') return cli_usage_error("build", "-o names the zip file, not a directory");

    Paths rt;
    if (find_runtime(&rt) != 0) return EXIT_INPUT;
    /* libzip is dlopen'd, not linked: check it before compiling or writing anything. */
    char lerr[1024];
    if (pkg_load_zip(lerr, sizeof lerr) != 0) {
        fprintf(stderr, "dwf build: %s\n", lerr);
        return EXIT_INPUT;
    }

    int rc = EXIT_INPUT;
    Arena *arena = arena_new();
    Diag *diag = diag_new(stderr, isatty(STDERR_FILENO));
    char work[PATH_MAX] = "";
    if (!arena || !diag) {
        fprintf(stderr, "dwf build: out of memory\n");
        goto out;
    }
    Program *p = front_compile_file(arena, diag, file);
    if (!p || diag_errors(diag) > 0) goto out;

    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/dwf-build-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work)) {
        fprintf(stderr, "dwf build: cannot create a work directory in %s: %s\n",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        work[0] = '\0';
        goto out;
    }
    char handler[PATH_MAX + 16], program[PATH_MAX + 16];
    snprintf(handler, sizeof handler, "%s/handler.c", work);
    snprintf(program, sizeof program, "%s/bootstrap.bin", work);
    FILE *hf = fopen(handler, "w");
    if (!hf) {
        fprintf(stderr, "dwf build: %s: %s\n", handler, strerror(errno));
        goto out;
    }
    int wr = cg_emit_c(p, hf);
    if (fclose(hf) != 0 || wr != 0) {
        fprintf(stderr, "dwf build: writing %s failed\n", handler);
        goto out;
    }
    if (link_program(p, &rt, work, verbose) != 0) goto out;

    char zip_dir[PATH_MAX];
    dir_of(zip, zip_dir, sizeof zip_dir);
    if (mkdir_p(zip_dir) != 0) {
        fprintf(stderr, "dwf build: cannot create %s: %s\n", zip_dir, strerror(errno));
        goto out;
    }
    PkgOptions po = {program, p->cfg.function_name, NULL, p->workflow->u.wf.name, rt.bootstrap};
    PkgReport rep;
    char err[1024];
    if (pkg_build_zip(zip, &po, &rep, err, sizeof err) != 0) {
        fprintf(stderr, "dwf build: %s\n", err);
        goto out;
    }
    const char *zip_base = strrchr(zip, '/') ? strrchr(zip, '/') + 1 : zip;
    CgOptions co = {region, account, zip_base};
    if (cg_emit_artifacts(p, zip_dir, &co, err, sizeof err) != 0) {
        fprintf(stderr, "dwf build: %s\n", err);
        goto out;
    }
    printf("%s: %lld bytes (%lld unpacked), %d libraries, function %s\n", zip, rep.zip_bytes,
           rep.unpacked, rep.libraries, p->cfg.function_name);
    printf("deploy files in %s: durable-config.json iam/ deploy.sh template.yaml main.tf\n",
           zip_dir);
    rc = EXIT_OK;
out:
    if (work[0]) {
        if (keep)
            fprintf(stderr, "dwf build: work directory kept: %s\n", work);
        else
            nftw(work, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    }
    if (diag) diag_free(diag);
    if (arena) arena_free(arena);
    return rc;
}
