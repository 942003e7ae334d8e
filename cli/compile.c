/*
 * compile.c: `dwf compile`, a .dwf workflow to readable C and its deploy files.
 *
 * The output directory is meant to be self-contained, so that it can be checked in, read,
 * built by hand or handed to CI: handler.c (cg_emit_c), the deploy files (cg_render_artifacts)
 * and a copy of every C file the workflow `use`s, at the same relative path it was written
 * with (resolved against the .dwf's directory by toolchain.c, as for `dwf build` and the
 * engine; an absolute or `..` path is copied under its base name). Headers those C files
 * include are not copied. Everything is rendered in memory first and handed to output.c,
 * which writes nothing unless every target may be written (no file dwf did not make is
 * replaced); nothing is written either unless the front end reported no error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "codegen.h"
#include "front.h"
#include "output.h"
#include "toolchain.h"

const char *const usage_compile =
    "usage: dwf compile FILE.dwf -o DIR [--region R] [--account A]\n"
    "\n"
    "Check a workflow and write, in DIR:\n"
    "  handler.c                       the generated C (calls include/dwf.h only), with #line\n"
    "                                  directives pointing back at the .dwf\n"
    "  durable-config.json             RetentionPeriodInDays and ExecutionTimeout\n"
    "  iam/trust-policy.json           lets Lambda assume the function's role\n"
    "  iam/durable-policy.json         least privilege for the function: checkpoint and state\n"
    "                                  on its own ARN, its log group, the functions it invokes\n"
    "  iam/callback-sender-policy.json for whoever completes callbacks (only if it has any)\n"
    "  deploy.sh, template.yaml, main.tf   AWS CLI, SAM and Terraform deploys\n"
    "  the C files named by `use`, so DIR is self-contained\n"
    "The same input gives byte-identical files.\n"
    "\n"
    "options:\n"
    "  -o DIR         output directory (created if missing)\n"
    "  --region R     fill the region into ARNs (default: deploy.sh asks the AWS CLI, SAM and\n"
    "                 Terraform use the deploying account's region)\n"
    "  --account A    fill the 12-digit account id into ARNs (same default)\n"
    "  --time         print the CPU time of each phase (front end, C, deploy files) to stderr\n"
    "  --force        replace regular files in DIR that dwf did not write (or that were\n"
    "                 changed since); without it they are left alone and nothing is written\n"
    "\n"
    "dwf writes only regular files, and replaces a file only when it wrote it and it is\n"
    "unchanged: DIR/.dwf-generated lists what it wrote, with SHA-256 hashes (sha256sum -c).\n"
    "A symlink, FIFO, device or directory in the way is refused, even with --force.\n"
    "\n"
    "exit status: 0 written, 1 errors in the workflow or writing, 2 usage errors\n";

static int valid_region(const char *s)
{
    if (!*s || strlen(s) > 32) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-')) return 0;
    return 1;
}

static int valid_account(const char *s)
{
    if (strlen(s) != 12) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

/* Each `use`d C file, to be copied into the output. */
static int add_uses(const Program *p, OutSet *out)
{
    for (const AstNode *u = p->uses; u; u = u->next) {
        const char *up = u->u.use.path;
        if (!up || !*up) continue;
        char from[4096];
        if (tc_use_path(p->path, up, 0, from, sizeof from, "compile") != 0) return -1;
        const char *rel = up;
        if (up[0] == '/' || strstr(up, "..")) rel = strrchr(up, '/') ? strrchr(up, '/') + 1 : up;
        while (rel[0] == '.' && rel[1] == '/') rel += 2;
        if (out_add_copy(out, rel, from, 0644) != 0) return -1;
    }
    return 0;
}

/* CPU seconds of this process (for --time: the machine may be shared, wall time lies). */
static double cpu_now(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum { OPT_OUT = 1, OPT_REGION, OPT_ACCOUNT, OPT_TIME, OPT_FORCE };
static const CliOption options[] = {
    {NULL, 'o', CLI_VALUE, OPT_OUT},
    {"region", 0, CLI_VALUE, OPT_REGION},
    {"account", 0, CLI_VALUE, OPT_ACCOUNT},
    {"time", 0, CLI_FLAG, OPT_TIME},
    {"force", 0, CLI_FLAG, OPT_FORCE},
    {0},
};

typedef struct CompileArgs {
    const char *file, *dir, *region, *account;
    int timing, force;
} CompileArgs;

static int parse(int argc, char **argv, CompileArgs *c)
{
    CliArgs a;
    int opt;
    cli_args_init(&a, "compile", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_OUT: c->dir = a.value; break;
        case OPT_REGION: c->region = a.value; break;
        case OPT_ACCOUNT: c->account = a.value; break;
        case OPT_TIME: c->timing = 1; break;
        case OPT_FORCE: c->force = 1; break;
        case CLI_ARGUMENT:
            if (c->file)
                return cli_usage_error("compile", "one workflow at a time ('%s' and '%s')", c->file,
                                       a.value);
            c->file = a.value;
            break;
        default: return EXIT_USAGE;
        }
    }
    if (!c->file) return cli_usage_error("compile", "no .dwf file given");
    if (!c->dir || !*c->dir) return cli_usage_error("compile", "no output directory given (-o DIR)");
    if (c->region && !valid_region(c->region))
        return cli_usage_error("compile", "'%s' is not a region name (like eu-west-1)", c->region);
    if (c->account && !valid_account(c->account))
        return cli_usage_error("compile", "'%s' is not a 12-digit account id", c->account);
    return EXIT_OK;
}

int cmd_compile(int argc, char **argv)
{
    CompileArgs c = {0};
    double t0 = cpu_now(), t_front = 0, t_c = 0, t_deploy = 0;
    int rc = parse(argc, argv, &c);
    if (rc != EXIT_OK) return rc;

    rc = EXIT_INPUT;
    Arena *arena = arena_new();
    Diag *diag = diag_new(stderr, isatty(STDERR_FILENO));
    CgFiles files = {0};
    OutSet outset;
    char *handler = NULL;
    size_t handler_len = 0;
    out_init(&outset, "compile", c.dir, c.force);
    if (!arena || !diag) {
        fprintf(stderr, "dwf compile: out of memory\n");
        goto out;
    }
    Program *p = front_compile_file(arena, diag, c.file);
    t_front = cpu_now();
    if (!p || !p->workflow || diag_errors(diag) > 0) goto out;

    char err[1024];
    CgOptions co = {c.region, c.account, NULL};
    if (cg_render_artifacts(p, &co, &files, err, sizeof err) != 0) {
        fprintf(stderr, "dwf compile: %s\n", err);
        goto out;
    }
    t_deploy = cpu_now();
    if (tc_render_handler(p, "handler.c", &handler, &handler_len, "compile") != 0) goto out;
    t_c = cpu_now();
    if (out_add(&outset, "handler.c", handler, handler_len, 0644) != 0 || add_uses(p, &outset) != 0)
        goto out;
    for (int i = 0; i < files.n; i++)
        if (out_add(&outset, files.file[i].name, files.file[i].text, files.file[i].len,
                    files.file[i].mode) != 0)
            goto out;
    for (int i = 0; i < files.nabsent; i++)
        if (out_add_stale(&outset, files.absent[i]) != 0) goto out;
    if (out_check(&outset) != 0 || out_commit(&outset) != 0) goto out;

    int line = 0, dyn = cg_dynamic_invokes(p, &line);
    if (dyn)
        fprintf(stderr, "%s:%d: warning: the invoke target is computed at run time, so "
                        "iam/durable-policy.json grants no lambda:InvokeFunction for it%s\n",
                p->path, line, dyn > 1 ? " (nor for the others like it)" : "");
    rc = EXIT_OK;
    if (c.timing)
        fprintf(stderr, "dwf compile: cpu front-end %.3f s, deploy-files %.3f s, handler.c %.3f s\n",
                t_front - t0, t_deploy - t_front, t_c - t_deploy);
out:
    out_free(&outset);
    cg_files_free(&files);
    free(handler);
    if (diag) diag_free(diag);
    if (arena) arena_free(arena);
    return rc;
}
