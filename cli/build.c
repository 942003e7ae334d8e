/*
 * build.c: `dwf build`, a .dwf workflow to a deployable AWS Lambda zip.
 *
 * The build is the compiler's output run through the system C compiler and the packager:
 *   1. front end, then handler.c (toolchain.c) in a private work directory;
 *   2. the C compiler (toolchain.c): handler.c + the workflow's `use`d C files + the Lambda
 *      main object + libdwf.a and the static libraries, run inside the work directory;
 *   3. package/package.c: the program (the zip's bootstrap) and the CA roots in a
 *      reproducible zip, also in the work directory;
 *   4. cg_render_artifacts: the deploy files (durable-config, IAM, deploy.sh, SAM, Terraform)
 *      naming the zip;
 *   5. output.c: the zip and the deploy files into the zip's directory, only if none of them
 *      would replace a file dwf did not make (so `-o /dev/full` or a user's own main.tf beside
 *      the default function.zip stops the build with nothing written).
 * Runtime pieces are taken from the build that this very dwf binary belongs to (see
 * tc_find_runtime), and found before anything is compiled, as is libzip (loaded on first
 * use), so a missing piece fails fast and writes nothing. The work directory is removed
 * unless --keep.
 */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "codegen.h"
#include "front.h"
#include "fs.h"
#include "output.h"
#include "package.h"
#include "toolchain.h"

const char *const usage_build =
    "usage: dwf build FILE.dwf [-o ZIP] [--region R] [--account A] [--keep] [-v]\n"
    "\n"
    "Compile a workflow and package it as a self-contained AWS Lambda zip for the\n"
    "provided.al2023 runtime: `bootstrap` at the root is the program itself, statically linked\n"
    "(no shared library, no loader), with the CA roots under etc/ for a host that has none.\n"
    "The deploy files (durable-config.json, iam/, deploy.sh, template.yaml, main.tf) are\n"
    "written beside the zip and reference it, with workflow-graph.json, the workflow's graph\n"
    "`dwf serve`'s web console draws.\n"
    "The same input gives a byte-identical zip.\n"
    "\n"
    "options:\n"
    "  -o ZIP         the zip to write (default: function.zip); its directory is created\n"
    "  --region R     fill the region into ARNs of the deploy files\n"
    "  --account A    fill the account id into ARNs of the deploy files\n"
    "  --keep         keep the work directory (handler.c, the linked program) and print it\n"
    "  -v             print the compiler command\n"
    "  --force        replace regular files dwf did not write (or that were changed since)\n"
    "\n"
    "dwf writes only regular files, and replaces a file only when it wrote it and it is\n"
    "unchanged: .dwf-generated beside the zip lists what it wrote, with SHA-256 hashes\n"
    "(sha256sum -c). Anything else in the way (your own main.tf, a symlink, a FIFO, a device)\n"
    "stops the build with nothing written; --force replaces regular files only.\n"
    "\n"
    "environment: CC (default cc) is the C compiler used to link the program.\n";

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    if (remove(path) != 0) fprintf(stderr, "dwf build: removing %s: %s\n", path, strerror(errno));
    return 0;
}

enum { OPT_OUT = 1, OPT_REGION, OPT_ACCOUNT, OPT_KEEP, OPT_VERBOSE, OPT_FORCE };
static const CliOption options[] = {
    {NULL, 'o', CLI_VALUE, OPT_OUT},
    {"region", 0, CLI_VALUE, OPT_REGION},
    {"account", 0, CLI_VALUE, OPT_ACCOUNT},
    {"keep", 0, CLI_FLAG, OPT_KEEP},
    {"verbose", 'v', CLI_FLAG, OPT_VERBOSE},
    {"force", 0, CLI_FLAG, OPT_FORCE},
    {0},
};

typedef struct BuildArgs {
    const char *file, *zip, *region, *account;
    int keep, verbose, force;
} BuildArgs;

static int parse(int argc, char **argv, BuildArgs *b)
{
    CliArgs a;
    int opt;
    cli_args_init(&a, "build", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        if ((opt == OPT_OUT || opt == OPT_REGION || opt == OPT_ACCOUNT) && !*a.value)
            return cli_usage_error("build", "%s needs a non-empty value", a.spelled);
        switch (opt) {
        case OPT_OUT: b->zip = a.value; break;
        case OPT_REGION: b->region = a.value; break;
        case OPT_ACCOUNT: b->account = a.value; break;
        case OPT_KEEP: b->keep = 1; break;
        case OPT_VERBOSE: b->verbose = 1; break;
        case OPT_FORCE: b->force = 1; break;
        case CLI_ARGUMENT:
            if (b->file)
                return cli_usage_error("build", "one workflow at a time ('%s' and '%s')", b->file,
                                       a.value);
            b->file = a.value;
            break;
        default: return EXIT_USAGE;
        }
    }
    if (!b->file) return cli_usage_error("build", "no .dwf file given");
    const char *base = strrchr(b->zip, '/') ? strrchr(b->zip, '/') + 1 : b->zip;
    if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
        return cli_usage_error("build", "-o names the zip file, not a directory");
    return EXIT_OK;
}

/* The Lambda program work/bootstrap.bin, from work/handler.c and the `use`d files. */
static int link_program(const Program *p, const TcRuntime *rt, const char *work, int verbose)
{
    char handler[PATH_MAX + 16];
    snprintf(handler, sizeof handler, "%s/handler.c", work);
    if (tc_write_handler(p, handler, "handler.c", "build") != 0) return -1;
    /* Relative names inside the work directory: its random name then reaches nothing the
     * compiler records (a sanitizer's module names included), so builds repeat. */
    TcCompile cc = {.cmd = "build", .p = p, .rt = rt, .lambda = 1, .dir = work,
                    .source = "handler.c", .output = "bootstrap.bin", .verbose = verbose};
    int st = tc_compile(&cc);
    if (st > 0)
        fprintf(stderr, "dwf build: %s failed (exit %d) building the Lambda program%s\n", tc_cc(),
                st, verbose ? "" : " (-v shows the command, --keep keeps its files)");
    return st == 0 ? 0 : -1;
}

/* The zip from the linked program (in the work directory), then the zip and the deploy files
 * into the zip's directory, unless something there is not dwf's to replace. */
static int package(const Program *p, const TcRuntime *rt, const BuildArgs *b, const char *work)
{
    char zip_dir[PATH_MAX], program[PATH_MAX + 16], zip[PATH_MAX + 16], err[1024];
    snprintf(program, sizeof program, "%s/bootstrap.bin", work);
    snprintf(zip, sizeof zip, "%s/function.zip", work);
    dwf__dirname(b->zip, zip_dir, sizeof zip_dir);
    PkgOptions po = {program, p->cfg.function_name, NULL, p->workflow->u.wf.name, rt->bootstrap};
    PkgReport rep;
    if (pkg_build_zip(zip, &po, &rep, err, sizeof err) != 0) {
        fprintf(stderr, "dwf build: %s\n", err);
        return -1;
    }
    const char *zip_base = strrchr(b->zip, '/') ? strrchr(b->zip, '/') + 1 : b->zip;
    CgOptions co = {b->region, b->account, zip_base};
    CgFiles files;
    if (cg_render_artifacts(p, &co, &files, err, sizeof err) != 0) {
        fprintf(stderr, "dwf build: %s\n", err);
        return -1;
    }
    /* the web console's picture of the workflow (dwf serve reads it beside the zip) */
    char *graph = NULL;
    size_t glen = 0;
    FILE *mem = open_memstream(&graph, &glen);
    int grc = mem ? cg_emit_graph(p, CG_GRAPH_CONSOLE, mem) : -1;
    if (mem && fclose(mem) != 0) grc = -1;
    OutSet out;
    out_init(&out, "build", zip_dir, b->force);
    int rc = grc == 0 ? out_add_copy(&out, zip_base, zip, 0644) : -1;
    if (grc != 0) fprintf(stderr, "dwf build: out of memory drawing the workflow graph\n");
    if (rc == 0) rc = out_add(&out, "workflow-graph.json", graph, glen, 0644);
    for (int i = 0; rc == 0 && i < files.n; i++)
        rc = out_add(&out, files.file[i].name, files.file[i].text, files.file[i].len, files.file[i].mode);
    for (int i = 0; rc == 0 && i < files.nabsent; i++) rc = out_add_stale(&out, files.absent[i]);
    if (rc == 0) rc = out_check(&out) == 0 && out_commit(&out) == 0 ? 0 : -1;
    out_free(&out);
    free(graph);
    cg_files_free(&files);
    if (rc != 0) return -1;
    if (rep.libraries == 0)
        printf("%s: %lld bytes (%lld unpacked), a static program, function %s\n", b->zip,
               rep.zip_bytes, rep.unpacked, p->cfg.function_name);
    else
        printf("%s: %lld bytes (%lld unpacked), %d libraries, function %s\n", b->zip,
               rep.zip_bytes, rep.unpacked, rep.libraries, p->cfg.function_name);
    printf("deploy files in %s: durable-config.json iam/ deploy.sh template.yaml main.tf workflow-graph.json\n",
           zip_dir);
    return 0;
}

int cmd_build(int argc, char **argv)
{
    BuildArgs b = {.zip = "function.zip"};
    int rc = parse(argc, argv, &b);
    if (rc != EXIT_OK) return rc;
    TcRuntime rt;
    if (tc_find_runtime(&rt, "build") != 0) return EXIT_INPUT;
    /* libzip is dlopen'd, not linked: check it before compiling or writing anything. */
    char lerr[1024];
    if (pkg_load_zip(lerr, sizeof lerr) != 0) {
        fprintf(stderr, "dwf build: %s\n", lerr);
        return EXIT_INPUT;
    }

    rc = EXIT_INPUT;
    Arena *arena = arena_new();
    Diag *diag = diag_new(stderr, isatty(STDERR_FILENO));
    char work[PATH_MAX] = "";
    if (!arena || !diag) {
        fprintf(stderr, "dwf build: out of memory\n");
        goto out;
    }
    Program *p = front_compile_file(arena, diag, b.file);
    if (!p || diag_errors(diag) > 0) goto out;

    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/dwf-build-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work)) {
        fprintf(stderr, "dwf build: cannot create a work directory in %s: %s\n",
                tmp && *tmp ? tmp : "/tmp", strerror(errno));
        work[0] = '\0';
        goto out;
    }
    if (link_program(p, &rt, work, b.verbose) != 0 || package(p, &rt, &b, work) != 0) goto out;
    rc = EXIT_OK;
out:
    if (work[0]) {
        if (b.keep)
            fprintf(stderr, "dwf build: work directory kept: %s\n", work);
        else
            nftw(work, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    }
    if (diag) diag_free(diag);
    if (arena) arena_free(arena);
    return rc;
}
