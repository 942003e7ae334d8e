/*
 * check.c: `dwf check`, the front end on its own: parse and check .dwf files and report
 * every problem in gcc's shape, without generating anything. Each file gets its own arena, so
 * checking many files costs the memory of the largest, and one diagnostics sink, so the error
 * limit and the counts are per file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "front.h"

const char *const usage_check =
    "usage: dwf check [options] FILE.dwf...\n"
    "\n"
    "Parse and check each file: syntax, names, determinism (nothing that differs between\n"
    "replays outside a step body), durations and Lambda limits. Problems are printed to\n"
    "stderr as file:line:col: error|warning|note: message, with the source line.\n"
    "\n"
    "options:\n"
    "  --dump            print the checked syntax tree of each file to stdout\n"
    "  --color=WHEN      color diagnostics: auto (default, when stderr is a terminal),\n"
    "                    always or never\n"
    "  -q, --quiet       print nothing for files without problems (the default)\n"
    "  -v, --verbose     print \"FILE: ok\" for each file without errors\n"
    "\n"
    "exit status: 0 no errors (warnings allowed), 1 errors in some file, 2 usage error\n";

enum { OPT_DUMP = 1, OPT_COLOR, OPT_QUIET, OPT_VERBOSE };
static const CliOption options[] = {
    {"dump", 0, CLI_FLAG, OPT_DUMP},
    {"color", 0, CLI_OPTIONAL, OPT_COLOR},
    {"quiet", 'q', CLI_FLAG, OPT_QUIET},
    {"verbose", 'v', CLI_FLAG, OPT_VERBOSE},
    {0},
};

/* Check one file with its own arena and diagnostics sink. Returns 1 if it has errors. */
static int check_file(const char *path, int color, int dump, int verbose)
{
    Arena *arena = arena_new();
    Diag *d = diag_new(stderr, color);
    if (!arena || !d) {
        if (d) diag_free(d);
        if (arena) arena_free(arena);
        fprintf(stderr, "dwf: out of memory\n");
        return -1;
    }
    Program *p = front_compile_file(arena, d, path);
    int failed = diag_errors(d) > 0 || !p;
    if (!failed) {
        if (dump) ast_dump(p->workflow, 0, stdout);
        if (verbose) printf("%s: ok\n", path);
    }
    diag_free(d);
    arena_free(arena);
    return failed;
}

int cmd_check(int argc, char **argv)
{
    int dump = 0, verbose = 0, color = -1, nfiles = 0, opt;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    if (!files) {
        fprintf(stderr, "dwf: out of memory\n");
        return EXIT_INPUT;
    }
    CliArgs a;
    cli_args_init(&a, "check", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_DUMP: dump = 1; break;
        case OPT_VERBOSE: verbose = 1; break;
        case OPT_QUIET: verbose = 0; break;
        case OPT_COLOR:
            if (!a.value || strcmp(a.value, "always") == 0) color = 1;
            else if (strcmp(a.value, "never") == 0) color = 0;
            else if (strcmp(a.value, "auto") == 0) color = -1;
            else {
                free(files);
                return cli_usage_error("check", "--color takes auto, always or never, not '%s'", a.value);
            }
            break;
        case CLI_ARGUMENT: files[nfiles++] = a.value; break;
        default: free(files); return EXIT_USAGE;
        }
    }
    if (nfiles == 0) {
        free(files);
        return cli_usage_error("check", "no input files");
    }
    if (color < 0) color = isatty(fileno(stderr)) && !getenv("NO_COLOR");
    int failed = 0;
    for (int i = 0; i < nfiles; i++) {
        int r = check_file(files[i], color, dump, verbose);
        if (r < 0) {
            free(files);
            return EXIT_INPUT;
        }
        failed |= r;
    }
    free(files);
    return failed ? EXIT_INPUT : EXIT_OK;
}
