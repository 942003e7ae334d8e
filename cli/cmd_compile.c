/*
 * cmd_compile.c: `dwf check`, the front end on its own: parse and check .dwf files and report
 * every problem in gcc's shape, without generating anything. (`dwf compile` lives beside the
 * code generator, in cmd_codegen.c.) Each file gets its own arena, so checking many files costs
 * the memory of the largest, and one diagnostics sink, so the error limit and the counts are
 * per file.
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

int cmd_check(int argc, char **argv)
{
    int dump = 0, verbose = 0, color = -1, nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--dump") == 0) dump = 1;
        else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) verbose = 1;
        else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) verbose = 0;
        else if (strcmp(a, "--color") == 0 || strcmp(a, "--color=always") == 0) color = 1;
        else if (strcmp(a, "--color=never") == 0) color = 0;
        else if (strcmp(a, "--color=auto") == 0) color = -1;
        else if (strcmp(a, "--") == 0) {
            nfiles += argc - i - 1;
            break;
        } else if (a[0] == '-' && a[1] != '\0')
            return cli_usage_error("check", "unknown option '%s'", a);
        else nfiles++;
    }
    if (nfiles == 0) return cli_usage_error("check", "no input files");
    if (color < 0) color = isatty(fileno(stderr)) && !getenv("NO_COLOR");

    int failed = 0, after_dashdash = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!after_dashdash) {
            if (strcmp(a, "--") == 0) {
                after_dashdash = 1;
                continue;
            }
            if (a[0] == '-' && a[1] != '\0') continue;
        }
        Arena *arena = arena_new();
        Diag *d = diag_new(stderr, color);
        if (!d) {
            arena_free(arena);
            fprintf(stderr, "dwf: out of memory\n");
            return EXIT_INPUT;
        }
        Program *p = front_compile_file(arena, d, a);
        if (diag_errors(d) > 0 || !p) {
            failed = 1;
        } else {
            if (dump) ast_dump(p->workflow, 0, stdout);
            if (verbose) printf("%s: ok\n", a);
        }
        diag_free(d);
        arena_free(arena);
    }
    return failed ? EXIT_INPUT : EXIT_OK;
}
