/*
 * test.c: `dwf test [FILE|DIR...] [--junit FILE]`, the tests of `*.test.dwf` files.
 *
 * For each test file: parse it (testing/testfile.h), compile and load every other .dwf file
 * beside it (cached by content, as `dwf run` does), then run each test on the embedded engine
 * (testing/runner.h: an in-memory store, virtual time, mocks in the runtime). `run NAME` finds
 * the workflow by its `workflow NAME`; every workflow beside the test is registered so chained
 * invokes reach their targets. Prints PASS / FAIL per test (a failure with each expectation's
 * line, expected and actual, and the operation history), then "N passed, N failed"; --junit
 * writes the same as JUnit XML for CI.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "input.h"
#include "engine_common.h"
#include "handler.h"
#include "runner.h"

const char *const usage_test =
    "usage: dwf test [FILE.test.dwf|DIR]... [--junit FILE] [--store PATH]\n"
    "\n"
    "Run the tests of *.test.dwf files (docs/testing.md): each test runs a workflow found among\n"
    "the .dwf files beside it, on an in-memory store in virtual time (every wait, retry delay,\n"
    "poll interval, callback and heartbeat timeout and execution timeout fires at once), with\n"
    "mocked steps, http requests and invokes, and checks what it expects. A DIR (default: the\n"
    "current directory) means every *.test.dwf file in it.\n"
    "\n"
    "options:\n"
    "  --junit FILE   also write the results as JUnit XML\n"
    "  --store PATH   where the compiled workflows are cached (beside it: .dwf/cache); the\n"
    "                 store itself is not used\n"
    "\n"
    "exit status: 0 every test passed, 1 a test failed (or an error), 2 usage error\n";

enum { OPT_JUNIT = 1, OPT_STORE };
static const CliOption options[] = {
    {"junit", 0, CLI_VALUE, OPT_JUNIT},
    {"store", 0, CLI_VALUE, OPT_STORE},
    {0},
};

enum { MAX_ARGS = 256 };

/* The workflows beside one test file, loaded. */
typedef struct Beside {
    HandlerSet set;
    char failed[1024]; /* .dwf files that did not compile */
} Beside;

static const dwf_workflow *by_name(void *arg, const char *name, char *why, size_t n)
{
    Beside *b = arg;
    for (int i = 0; i < b->set.n; i++)
        if (strcmp(b->set.items[i].wf->name, name) == 0) return b->set.items[i].wf;
    snprintf(why, n, "no workflow named %s among the .dwf files beside the test%s%s", name,
             b->failed[0] ? "; these did not compile: " : "", b->failed);
    return NULL;
}

static int register_all(void *arg, dwf_service *s, dwf_error *err)
{
    Beside *b = arg;
    for (int i = 0; i < b->set.n; i++)
        if (handler_register(s, &b->set.items[i], err) != 0) return -1;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static int by_path(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The names in dir ending in suffix (but not in `except`), sorted; caller frees. */
static char **list_dir(const char *dir, const char *suffix, const char *except, int *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **out = NULL;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, suffix) || (except && ends_with(e->d_name, except)))
            continue;
        char **o = realloc(out, (size_t)(*n + 1) * sizeof *o);
        if (!o) break;
        out = o;
        if (asprintf(&out[*n], "%s/%s", dir, e->d_name) < 0) break;
        (*n)++;
    }
    closedir(d);
    if (out) qsort(out, (size_t)*n, sizeof *out, by_path);
    return out;
}

static void free_list(char **l, int n)
{
    for (int i = 0; i < n; i++) free(l[i]);
    free(l);
}

/* Compile and load every .dwf beside the test file. */
static void load_beside(const char *test_path, const char *store, Beside *b)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", test_path);
    int n = 0;
    char **files = list_dir(dirname(tmp), ".dwf", ".test.dwf", &n);
    for (int i = 0; i < n; i++) {
        Handler h;
        if (handler_open("test", files[i], store, &h) != 0) {
            size_t used = strlen(b->failed);
            snprintf(b->failed + used, sizeof b->failed - used, "%s%s", used ? ", " : "", files[i]);
            continue;
        }
        if (handler_set_add(&b->set, &h) != 0) dlclose(h.dl);
    }
    free_list(files, n);
}

/* ---- JUnit XML -------------------------------------------------------------------------------- */
/* Hand-written: a few elements, and the one thing that matters is escaping, done here. XML 1.0
 * holds neither control characters nor bytes that are not UTF-8 (a test name or a value may have
 * them): each becomes '?', so the file always parses. */
static void xml_text(FILE *f, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    for (size_t i = 0; i < n;) {
        unsigned char ch = (unsigned char)s[i];
        size_t len = dwf__utf8_char(s + i, n - i);
        if (ch == '<') fputs("&lt;", f);
        else if (ch == '>') fputs("&gt;", f);
        else if (ch == '&') fputs("&amp;", f);
        else if (ch == '"') fputs("&quot;", f);
        else if ((ch < 0x20 && ch != '\n' && ch != '\t') || len == 0) fputc('?', f);
        else fwrite(s + i, 1, len, f);
        i += len ? len : 1;
    }
}

typedef struct Totals {
    int passed, failed;
    FILE *junit;
} Totals;

static void junit_case(FILE *f, const char *file, const TCase *c, const TrResult *res)
{
    if (!f) return;
    fputs("    <testcase classname=\"", f);
    xml_text(f, file);
    fputs("\" name=\"", f);
    xml_text(f, c->name);
    fprintf(f, "\" time=\"%.3f\">", res->real_ms / 1000.0);
    if (!res->passed) {
        fputs("\n      <failure message=\"expectation failed\">", f);
        xml_text(f, res->report);
        fputs("</failure>\n    ", f);
    }
    fputs("</testcase>\n", f);
}

/* A test file that does not parse: one failed test case holding its diagnostics. */
static void junit_file_errors(FILE *f, const char *path, const char *diags)
{
    fputs("  <testsuite name=\"", f);
    xml_text(f, path);
    fputs("\" tests=\"1\" failures=\"1\">\n    <testcase classname=\"", f);
    xml_text(f, path);
    fputs("\" name=\"the test file parses\">\n      <failure message=\"the test file has errors\">", f);
    xml_text(f, diags);
    fputs("</failure>\n    </testcase>\n  </testsuite>\n", f);
}

/* Run every test of one file. */
static void run_file(const char *path, const char *store, Totals *tot)
{
    fflush(stdout); /* the file's errors (stderr) come after what was printed before them */
    char *diags = NULL;
    size_t diags_len = 0;
    FILE *d = tot->junit ? open_memstream(&diags, &diags_len) : NULL; /* JUnit shows them too */
    TFile *f = testfile_parse(path, d ? d : stderr);
    if (d) {
        fclose(d);
        fputs(diags ? diags : "", stderr);
    }
    if (!f) {
        printf("FAIL %s: the test file has errors (above)\n", path);
        tot->failed++;
        if (tot->junit) junit_file_errors(tot->junit, path, diags);
    }
    free(diags);
    if (!f) return;
    Beside b = {{0}, ""};
    load_beside(path, store, &b);
    TrEnv env = {by_name, register_all, handler_resolve, &b};
    TrResult *res = calloc((size_t)f->ncases, sizeof *res);
    int failures = 0;
    for (int i = 0; res && i < f->ncases; i++) {
        TCase *c = &f->cases[i];
        tr_run(f, c, &env, &res[i]);
        printf("%s %s:%d \"%s\" (%.0f ms, %.0f s virtual)\n", res[i].passed ? "PASS" : "FAIL", path, c->line, c->name,
               res[i].real_ms, res[i].virtual_ms / 1000.0);
        if (!res[i].passed) {
            fputs(res[i].report ? res[i].report : "", stdout);
            failures++;
        }
        fflush(stdout);
    }
    if (tot->junit && res) {
        double total = 0;
        for (int i = 0; i < f->ncases; i++) total += res[i].real_ms;
        fputs("  <testsuite name=\"", tot->junit);
        xml_text(tot->junit, path);
        fprintf(tot->junit, "\" tests=\"%d\" failures=\"%d\" time=\"%.3f\">\n", f->ncases, failures, total / 1000.0);
        for (int i = 0; i < f->ncases; i++) junit_case(tot->junit, path, &f->cases[i], &res[i]);
        fputs("  </testsuite>\n", tot->junit);
    }
    tot->failed += failures;
    tot->passed += res ? f->ncases - failures : 0;
    for (int i = 0; res && i < f->ncases; i++) free(res[i].report);
    free(res);
    handler_set_free(&b.set);
    testfile_free(f);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int cmd_test(int argc, char **argv)
{
    const char *args[MAX_ARGS], *junit = NULL, *store = ec_default_store();
    int nargs = 0, opt;
    CliArgs a;
    cli_args_init(&a, "test", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_JUNIT: junit = a.value; break;
        case OPT_STORE: store = a.value; break;
        case CLI_ARGUMENT:
            if (nargs == MAX_ARGS) return cli_usage_error("test", "at most %d files", MAX_ARGS);
            args[nargs++] = a.value;
            break;
        default: return EXIT_USAGE;
        }
    }
    if (nargs == 0) args[nargs++] = ".";
    Totals tot = {0, 0, NULL};
    if (junit && !(tot.junit = fopen(junit, "w"))) {
        fprintf(stderr, "dwf test: cannot write %s: ", junit);
        perror(NULL);
        return EXIT_INPUT;
    }
    if (tot.junit) fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n", tot.junit);
    int files = 0;
    for (int i = 0; i < nargs; i++) {
        if (!is_dir(args[i])) {
            run_file(args[i], store, &tot);
            files++;
            continue;
        }
        int n = 0;
        char **list = list_dir(args[i], ".test.dwf", NULL, &n);
        for (int k = 0; k < n; k++) run_file(list[k], store, &tot);
        files += n;
        free_list(list, n);
    }
    if (tot.junit) {
        fputs("</testsuites>\n", tot.junit);
        fclose(tot.junit);
    }
    if (files == 0) {
        fprintf(stderr, "dwf test: no *.test.dwf files found\n");
        return EXIT_INPUT;
    }
    printf("%d passed, %d failed\n", tot.passed, tot.failed);
    return tot.failed ? EXIT_INPUT : EXIT_OK;
}
