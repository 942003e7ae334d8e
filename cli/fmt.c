/*
 * fmt.c: `dwf fmt`, the canonical layout of .dwf files (the layout itself is grammar/format.c,
 * which only changes whitespace and checks that the result compiles to the same tree).
 * Files are rewritten in place through a temporary file and a rename, so an interrupted run
 * never leaves half a file; `--check` writes nothing and lists the files that would change
 * (exit 1), for CI; `--stdout` (or the file `-`, read from stdin) prints the result instead,
 * for editors that format a buffer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "front.h"

const char *const usage_fmt =
    "usage: dwf fmt [options] FILE.dwf...\n"
    "\n"
    "Lay out each file the canonical way (indentation, spaces, blank lines; comments and line\n"
    "breaks are kept) and rewrite it in place. Only whitespace changes: a file with errors is\n"
    "reported as `dwf check` does and left alone. Formatting twice changes nothing.\n"
    "\n"
    "options:\n"
    "  --check           write nothing; print the files that are not formatted, exit 1 if any\n"
    "  --stdout          print the formatted text to stdout instead of rewriting the file\n"
    "                    (the file '-' is read from stdin and always printed)\n"
    "  --color=WHEN      color diagnostics: auto (default), always or never\n"
    "\n"
    "exit status: 0 done (or, with --check, every file formatted), 1 errors or, with --check,\n"
    "some file would change, 2 usage error\n";

enum { OPT_CHECK = 1, OPT_STDOUT, OPT_COLOR };
static const CliOption options[] = {
    {"check", 0, CLI_FLAG, OPT_CHECK},
    {"stdout", 0, CLI_FLAG, OPT_STDOUT},
    {"color", 0, CLI_OPTIONAL, OPT_COLOR},
    {0},
};

static char *read_all(FILE *f, size_t *len)
{
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 65536 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *t = realloc(buf, cap);
            if (!t) {
                free(buf);
                return NULL;
            }
            buf = t;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/* Write `text` over `path`: a temporary file beside it, the same permissions, a rename. */
static int replace_file(const char *path, const char *text, size_t len)
{
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    size_t n = strlen(path) + 16;
    char *tmp = malloc(n);
    if (!tmp) return -1;
    snprintf(tmp, n, "%s.fmt-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        free(tmp);
        return -1;
    }
    FILE *f = fdopen(fd, "wb");
    int ok = f && fwrite(text, 1, len, f) == len;
    if (f) ok = fclose(f) == 0 && ok;
    else close(fd);
    ok = ok && chmod(tmp, st.st_mode & 07777) == 0 && rename(tmp, path) == 0;
    if (!ok) unlink(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

/* Format one file. Returns 0 done / unchanged, 1 errors (reported), 2 would change (--check). */
static int fmt_file(const char *path, int check, int to_stdout, int color)
{
    int from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: error: cannot open file: %s\n", path, strerror(errno));
        return 1;
    }
    size_t len = 0;
    char *text = read_all(f, &len);
    if (!from_stdin) fclose(f);
    if (!text) {
        fprintf(stderr, "%s: error: cannot read file\n", path);
        return 1;
    }
    Arena *a = arena_new();
    Diag *d = diag_new(stderr, color);
    int rc = 1;
    size_t out_len = 0;
    char *out = a && d ? front_format(a, d, from_stdin ? "<stdin>" : path, text, len, &out_len) : NULL;
    if (out) {
        int changed = out_len != len || memcmp(out, text, len) != 0;
        rc = 0;
        if (check) {
            if (changed) {
                printf("%s\n", path);
                rc = 2;
            }
        } else if (to_stdout || from_stdin) {
            if (fwrite(out, 1, out_len, stdout) != out_len) rc = 1;
        } else if (changed && replace_file(path, out, out_len) != 0) {
            fprintf(stderr, "%s: error: cannot write the formatted file: %s\n", path, strerror(errno));
            rc = 1;
        }
    }
    free(out);
    free(text);
    if (d) diag_free(d);
    if (a) arena_free(a);
    return rc;
}

int cmd_fmt(int argc, char **argv)
{
    int check = 0, to_stdout = 0, color = -1, opt, nfiles = 0;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    if (!files) return EXIT_INPUT;
    CliArgs a;
    cli_args_init(&a, "fmt", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_CHECK: check = 1; break;
        case OPT_STDOUT: to_stdout = 1; break;
        case OPT_COLOR:
            if (cli_color_value("fmt", a.value, &color) != EXIT_OK) {
                free(files);
                return EXIT_USAGE;
            }
            break;
        case CLI_ARGUMENT: files[nfiles++] = a.value; break;
        default: free(files); return EXIT_USAGE;
        }
    }
    if (nfiles == 0) {
        free(files);
        return cli_usage_error("fmt", "no input files");
    }
    if (check && to_stdout) {
        free(files);
        return cli_usage_error("fmt", "--check writes nothing: not with --stdout");
    }
    if (color < 0) color = isatty(fileno(stderr)) && !getenv("NO_COLOR");
    int errors = 0, changed = 0;
    for (int i = 0; i < nfiles; i++) {
        int r = fmt_file(files[i], check, to_stdout, color);
        errors |= r == 1;
        changed |= r == 2;
    }
    free(files);
    return errors || changed ? EXIT_INPUT : EXIT_OK;
}
