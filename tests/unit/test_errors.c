/*
 * test_errors.c: the compiler, the runtime and the docs agree on the error types dwf raises.
 *
 * include/dwf_errors.def is the one list. For every row this test checks:
 *   - the runtime (sdk/context.c) gives it the row's class and retry default, and a user's
 *     own type is retried by default;
 *   - the compiler accepts the exact name in a typed catch and in retry { on } without a
 *     warning (a fatal fault gets its warning), and a misspelling of it one letter off gets the
 *     did-you-mean warning naming the row;
 *   - docs/errors.md names it (`Name`), and says whether a step retries it.
 * What matching and retrying do at run time is tested in test_rt_value.c (t_error_chain) and
 * tests/e2e/language.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"
#include "internal.h"
#include "tinytest.h"

typedef struct Row {
    const char *name;
    int cls, retried;
    const char *summary;
} Row;

static const Row rows[] = {
#define DWF_ERROR_TYPE(name, cls, retried, summary) {#name, cls, retried, summary},
#include "dwf_errors.def"
#undef DWF_ERROR_TYPE
};
#define NROWS ((int)(sizeof rows / sizeof rows[0]))

/* Compile src; the whole diagnostic output into out. Returns the number of errors. */
static int check_source(const char *src, char *out, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    Diag *d = diag_new(f, 0);
    Arena *a = arena_new();
    front_compile(a, d, "t.dwf", src, strlen(src));
    int errors = diag_errors(d);
    diag_free(d);
    arena_free(a);
    fclose(f);
    snprintf(out, n, "%s", text ? text : "");
    free(text);
    return errors;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

static void t_table_is_well_formed(void)
{
    for (int i = 0; i < NROWS; i++) {
        for (int j = 0; j < i; j++)
            if (strcmp(rows[i].name, rows[j].name) == 0) TT_FAIL_("%s is listed twice", rows[i].name);
        /* deterministic errors are exactly the ones that must be opted in */
        if (rows[i].cls == DWF_ERRC_VALUE && rows[i].retried) TT_FAIL_("%s: a value error retried", rows[i].name);
        if (rows[i].cls != DWF_ERRC_ATTEMPT && rows[i].cls != DWF_ERRC_VALUE && rows[i].retried)
            TT_FAIL_("%s: only an attempt's error can be retried", rows[i].name);
        TT_ASSERT(rows[i].summary[0] != '\0');
    }
}

static void t_runtime_follows_the_table(void)
{
    for (int i = 0; i < NROWS; i++) {
        TT_EQ_INT(rows[i].cls, dwf__error_class(rows[i].name));
        TT_EQ_INT(rows[i].retried, dwf__error_retried_by_default(rows[i].name));
    }
    TT_EQ_INT(-1, dwf__error_class("CardDeclined"));
    TT_EQ_INT(1, dwf__error_retried_by_default("CardDeclined"));
}

static void t_compiler_follows_the_table(void)
{
    char src[800], out[4000];
    for (int i = 0; i < NROWS; i++) {
        const char *n = rows[i].name;
        snprintf(src, sizeof src,
                 "workflow t {\n  try {\n    step s retry { on \"%s\" } { return 1 }\n    return s\n"
                 "  } catch \"%s\" err {\n    return err\n  }\n}\n", n, n);
        TT_EQ_INT(0, check_source(src, out, sizeof out));
        if (rows[i].cls == DWF_ERRC_FATAL) {
            if (!strstr(out, "is a fatal fault")) TT_FAIL_("%s: no fatal-fault warning: %s", n, out);
        } else if (out[0]) {
            TT_FAIL_("%s: %s", n, out);
        }
        /* one letter dropped from the middle: the did-you-mean names the row (or another row
         * as close, which is as good a hint) */
        char wrong[80];
        size_t k = strlen(n) / 2;
        snprintf(wrong, sizeof wrong, "%.*s%s", (int)k, n, n + k + 1);
        snprintf(src, sizeof src,
                 "workflow t {\n  try {\n    step s { return 1 }\n    return s\n"
                 "  } catch \"%s\" err {\n    return err\n  }\n}\n", wrong);
        TT_EQ_INT(0, check_source(src, out, sizeof out));
        if (!strstr(out, "is not an error type dwf raises") || !strstr(out, "did you mean '"))
            TT_FAIL_("%s misspelt as %s: %s", n, wrong, out);
    }
}

static void t_errors_md_documents_the_table(void)
{
    char *doc = slurp("docs/errors.md");
    TT_ASSERT(doc != NULL);
    if (!doc) return;
    for (int i = 0; i < NROWS; i++) {
        char tick[80];
        snprintf(tick, sizeof tick, "`%s`", rows[i].name);
        const char *at = strstr(doc, tick);
        if (!at) {
            TT_FAIL_("docs/errors.md does not name %s", rows[i].name);
            continue;
        }
        /* in the retry table (rows start with "| `Name`"), the row ends with its answer */
        if (rows[i].cls == DWF_ERRC_VALUE || rows[i].cls == DWF_ERRC_ATTEMPT) {
            const char *row = NULL;
            for (const char *l = doc; l && !row; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
                const char *eol = strchr(l, '\n');
                size_t len = eol ? (size_t)(eol - l) : strlen(l);
                if (len > 2 && l[0] == '|' && memmem(l, len, tick, strlen(tick)) && memmem(l, len, "| yes |", 7))
                    row = l;
                else if (len > 2 && l[0] == '|' && memmem(l, len, tick, strlen(tick)) && memmem(l, len, "| no |", 6))
                    row = l;
            }
            const char *eol = row ? strchr(row, '\n') : NULL;
            const char *want = rows[i].retried ? "| yes |" : "| no |";
            if (!eol || eol - row < 8 || strncmp(eol - strlen(want), want, strlen(want)) != 0)
                TT_FAIL_("docs/errors.md: %s has no retry-table row ending with %s", rows[i].name, want);
        }
    }
    free(doc);
}

int main(void)
{
    TT_RUN(t_table_is_well_formed);
    TT_RUN(t_runtime_follows_the_table);
    TT_RUN(t_compiler_follows_the_table);
    TT_RUN(t_errors_md_documents_the_table);
    return TT_EXIT();
}
