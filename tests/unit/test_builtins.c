/*
 * test_builtins.c: the compiler, the runtime and the language reference agree on the builtins.
 *
 * include/dwf_builtins.def is the one list of builtins. This test walks it and, for every row,
 * checks each party that reads it:
 *   - the compiler (grammar/sema.c) accepts a call with the fewest arguments the row allows,
 *     rejects one fewer and one more with its exact diagnostic, and rejects a STEP_ONLY
 *     builtin outside a step body;
 *   - the runtime function dwf_builtin_<name> exists (this file would not link otherwise) and
 *     answers a call with the fewest arguments with a value, never a crash, recording at most a
 *     named error; it refuses one fewer and one more, and a STEP_ONLY call outside a step;
 *   - docs/language.md's builtins table has exactly one row per builtin and no other, with the
 *     signature of the row's summary, the argument counts that signature implies, and where
 *     it may be called.
 * Builtin semantics are tested in test_rt_value.c; this file is about agreement.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "front.h"
#include "value_harness.h"

typedef struct Row {
    const char *name;
    int min, max; /* max -1: any number */
    int step_only;
    const char *params;
    const char *summary;
    dwf_val *(*fn)(dwf_ctx *c, int argc, dwf_val *const *argv);
} Row;

static const Row rows[] = {
#define DWF_BUILTIN(name, min_args, max_args, where, params, summary)                          \
    {#name, min_args, max_args, DWF_BUILTIN_##where == DWF_BUILTIN_STEP_ONLY, params, summary,  \
     dwf_builtin_##name},
#include "dwf_builtins.def"
};
#define NROWS ((int)(sizeof rows / sizeof rows[0]))

/* The error the row's argument counts give for a call with argc arguments, as `fmt` words it
 * ("'%s' takes" for the compiler, "%s() takes" for the runtime). */
static void arity_message(const Row *r, const char *fmt, int argc, char *out, size_t n)
{
    char who[64];
    snprintf(who, sizeof who, fmt, r->name);
    const char *plural = r->min == 1 ? "" : "s";
    if (r->min == r->max)
        snprintf(out, n, "%s %d argument%s, not %d", who, r->min, plural, argc);
    else if (r->max < 0)
        snprintf(out, n, "%s at least %d argument%s, not %d", who, r->min, plural, argc);
    else
        snprintf(out, n, "%s %d to %d arguments, not %d", who, r->min, r->max, argc);
}

/* A literal argument i of r may be, from the first letter of its params word: "1", "[]",
 * "x => x", ... (any one the row accepts compiles). */
static const char *sample_arg(const Row *r, int i)
{
    const char *w = r->params;
    for (int j = 0; j < i && strchr(w, ' '); j++) w = strchr(w, ' ') + 1;
    switch (*w) {
    case 'n': return "1";
    case 's': return "\"a\"";
    case 'b': return "true";
    case 'a': return "[]";
    case 'o': return "{}";
    case 'f': return "x => x";
    default: return "null";
    }
}

/* The arguments of a call of r with n of them: "1, \"a\"". */
static void sample_args(const Row *r, int n, char *out, size_t cap)
{
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t k = strlen(out);
        snprintf(out + k, cap - k, "%s%s", i ? ", " : "", sample_arg(r, i));
    }
}

/* ---- the compiler --------------------------------------------------------------------------- */
/* Check `src` (as t.dwf): the number of errors, and the first diagnostic line in `first`. */
static int check_source(const char *src, char *first, size_t n)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    Diag *d = diag_new(out, 0);
    Arena *a = arena_new();
    front_compile(a, d, "t.dwf", src, strlen(src));
    int errors = diag_errors(d);
    diag_free(d);
    arena_free(a);
    fclose(out);
    size_t k = text ? strcspn(text, "\n") : 0;
    snprintf(first, n, "%.*s", (int)k, text ? text : "");
    free(text);
    return errors;
}

/* A call of r with argc arguments of kinds it accepts, inside a step body (in_step) or in the
 * workflow body. The call is on line 3 (in a step) or 2; *col receives its column. */
static void call_source(const Row *r, int argc, int in_step, char *src, size_t n, int *col)
{
    char args[400];
    sample_args(r, argc, args, sizeof args);
    if (in_step) {
        /* a secret's value may not be returned (grammar/taint.c): a comparison may */
        int secret = strcmp(r->name, "secret") == 0 || strcmp(r->name, "parameter") == 0;
        snprintf(src, n, "workflow t {\n  step s {\n    return %s(%s)%s\n  }\n  return s\n}\n",
                 r->name, args, secret ? " == null" : "");
        *col = 12;
    } else {
        snprintf(src, n, "workflow t {\n  let x = %s(%s)\n  return x\n}\n", r->name, args);
        *col = 11;
    }
}

static void expect_arity_error(const Row *r, int argc)
{
    char src[600], first[400], msg[200], want[300];
    int col;
    call_source(r, argc, 1, src, sizeof src, &col);
    arity_message(r, "'%s' takes", argc, msg, sizeof msg);
    snprintf(want, sizeof want, "t.dwf:3:%d: error: %s", col, msg);
    int errors = check_source(src, first, sizeof first);
    if (errors != 1) TT_FAIL_("%s with %d arguments: %d errors, the first %s", r->name, argc, errors, first);
    TT_EQ_STR(want, first);
}

static void t_compiler_follows_the_table(void)
{
    for (int i = 0; i < NROWS; i++) {
        const Row *r = &rows[i];
        char src[600], first[400];
        int col;
        call_source(r, r->min, 1, src, sizeof src, &col);
        if (check_source(src, first, sizeof first) != 0)
            TT_FAIL_("%s with %d arguments in a step: %s", r->name, r->min, first);
        if (r->min > 0) expect_arity_error(r, r->min - 1);
        if (r->max >= 0) {
            expect_arity_error(r, r->max + 1);
        } else { /* any number: twenty are fine */
            call_source(r, 20, 1, src, sizeof src, &col);
            if (check_source(src, first, sizeof first) != 0)
                TT_FAIL_("%s with 20 arguments: %s", r->name, first);
        }
        /* Outside a step body: only the deterministic ones. */
        call_source(r, r->min, 0, src, sizeof src, &col);
        int errors = check_source(src, first, sizeof first);
        if (r->step_only) {
            char want[300];
            snprintf(want, sizeof want,
                     "t.dwf:2:%d: error: '%s()' is not deterministic and cannot be used outside "
                     "a step body", col, r->name);
            TT_EQ_INT(1, errors);
            TT_EQ_STR(want, first);
        } else if (errors != 0) {
            TT_FAIL_("%s outside a step body: %s", r->name, first);
        }
    }
}

/* ---- the runtime ---------------------------------------------------------------------------- */
/* Call r's function with argc arguments (JSON nulls, or NULL pointers, which C code may pass
 * for null); it must give a value. Returns the error it recorded (taken), or NULL. */
static dwf_val *call_runtime(const Row *r, int argc, int null_pointers)
{
    dwf_val *argv[24] = {0};
    for (int i = 0; i < argc && !null_pointers; i++) argv[i] = dwf_null(C);
    dwf_val *v = r->fn(C, argc, argc ? argv : NULL);
    if (!v) TT_FAIL_("%s() with %d arguments gave no value", r->name, argc);
    return dwf_error_take(C);
}

static const char *error_field(const dwf_val *e, const char *k)
{
    const cJSON *f = cJSON_GetObjectItemCaseSensitive(e, k);
    return cJSON_IsString(f) ? f->valuestring : "";
}

static void expect_runtime_arity_error(const Row *r, int argc)
{
    char want[200];
    arity_message(r, "%s() takes", argc, want, sizeof want);
    dwf_val *e = call_runtime(r, argc, 0);
    TT_EQ_STR("TypeError", error_field(e, "ErrorType"));
    TT_EQ_STR(want, error_field(e, "ErrorMessage"));
}

/* In a step body: every builtin answers, and counts outside the row are refused. */
static void t_runtime_follows_the_table(void)
{
    for (int i = 0; i < NROWS; i++) {
        const Row *r = &rows[i];
        for (int np = 0; np < 2; np++) {
            dwf_val *e = call_runtime(r, r->min, np);
            if (e && !error_field(e, "ErrorType")[0])
                TT_FAIL_("%s() recorded an error without a type", r->name);
            if (e && !strcmp(error_field(e, "ErrorType"), "NonDeterministicCall"))
                TT_FAIL_("%s() refused to run inside a step body", r->name);
        }
        if (r->min > 0) expect_runtime_arity_error(r, r->min - 1);
        if (r->max >= 0) expect_runtime_arity_error(r, r->max + 1);
        if (r->max < 0) { /* any number: twenty are not refused for their count */
            dwf_val *e = call_runtime(r, 20, 0);
            if (strstr(error_field(e, "ErrorMessage"), " takes "))
                TT_FAIL_("%s", error_field(e, "ErrorMessage"));
        }
    }
}

/* In the workflow body: the STEP_ONLY ones refuse to run, the others run. */
static void t_runtime_step_only_outside_a_step(void)
{
    for (int i = 0; i < NROWS; i++) {
        const Row *r = &rows[i];
        dwf_val *e = call_runtime(r, r->min, 0);
        const char *type = error_field(e, "ErrorType");
        if (r->step_only) {
            char want[200];
            snprintf(want, sizeof want,
                     "%s() outside a step body would give a different value on replay", r->name);
            TT_EQ_STR("NonDeterministicCall", type);
            TT_EQ_STR(want, error_field(e, "ErrorMessage"));
        } else if (!strcmp(type, "NonDeterministicCall")) {
            TT_FAIL_("%s() refused to run outside a step body", r->name);
        }
    }
}

static void root_tests(void) { TT_RUN(t_runtime_step_only_outside_a_step); }
static void step_tests(void) { TT_RUN(t_runtime_follows_the_table); }

/* ---- the language reference ----------------------------------------------------------------- */
/* Arity a signature such as "join(a, sep?)" or "max(x, ...)" promises. */
static void signature_arity(const char *sig, int *min, int *max)
{
    int required = 0, optional = 0, any = 0;
    const char *p = strchr(sig, '(');
    const char *end = p ? strchr(p, ')') : NULL;
    for (const char *a = p ? p + 1 : NULL; a && a < end;) {
        const char *comma = memchr(a, ',', (size_t)(end - a));
        const char *e = comma ? comma : end;
        while (*a == ' ') a++;
        if (e - a == 3 && !strncmp(a, "...", 3)) any = 1;
        else if (e > a && e[-1] == '?') optional++;
        else if (e > a) required++;
        a = comma ? comma + 1 : end;
    }
    *min = required;
    *max = any ? -1 : required + optional;
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

/* Look the table row of `name` up, or -1. */
static int row_of(const char *name, size_t n)
{
    for (int i = 0; i < NROWS; i++)
        if (strlen(rows[i].name) == n && !strncmp(rows[i].name, name, n)) return i;
    return -1;
}

/* One documented row "| `sig` | where | what |": check it against the table. */
static void check_doc_row(const char *line, int *seen)
{
    const char *sig = strchr(line, '`'), *sig_end = sig ? strchr(sig + 1, '`') : NULL;
    const char *paren = sig ? strchr(sig, '(') : NULL;
    if (!sig_end || !paren || paren > sig_end) {
        TT_FAIL_("docs/language.md: a builtins row without a `name(...)` signature: %.60s", line);
        return;
    }
    sig++;
    int i = row_of(sig, (size_t)(paren - sig));
    if (i < 0) {
        TT_FAIL_("docs/language.md documents '%.*s', which is not in include/dwf_builtins.def",
                 (int)(paren - sig), sig);
        return;
    }
    const Row *r = &rows[i];
    if (seen[i]++) TT_FAIL_("docs/language.md documents '%s' twice", r->name);
    char doc_sig[128], def_sig[128];
    snprintf(doc_sig, sizeof doc_sig, "%.*s", (int)(sig_end - sig), sig);
    snprintf(def_sig, sizeof def_sig, "%.*s", (int)strcspn(r->summary, ":"), r->summary);
    TT_EQ_STR(def_sig, doc_sig);
    int min, max;
    signature_arity(doc_sig, &min, &max);
    if (min != r->min || max != r->max)
        TT_FAIL_("docs/language.md: %s takes %d..%d arguments, the table says %d..%d", doc_sig, min,
                 max, r->min, r->max);
    const char *cell = strchr(sig_end, '|');
    char where[32] = "";
    if (cell) sscanf(cell + 1, " %31[a-z]", where);
    TT_EQ_STR(r->step_only ? "step" : "anywhere", where);
}

static void t_language_reference_documents_the_table(void)
{
    char *doc = slurp("docs/language.md");
    TT_ASSERT(doc != NULL);
    if (!doc) return;
    const char *sec = strstr(doc, "\n### Builtins\n");
    TT_ASSERT(sec != NULL);
    int seen[NROWS] = {0}, rows_read = 0;
    for (const char *l = sec ? sec + 1 : NULL; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (l != sec + 1 && l[0] == '#') break; /* the next heading ends the section */
        if (strncmp(l, "| `", 3) != 0) continue;
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)strcspn(l, "\n"), l);
        check_doc_row(line, seen);
        rows_read++;
    }
    for (int i = 0; i < NROWS; i++)
        if (!seen[i]) TT_FAIL_("docs/language.md does not document '%s'", rows[i].name);
    TT_EQ_INT(NROWS, rows_read);
    free(doc);
}

/* The table itself: names sorted and unique, counts sane, a summary "signature: what". */
static void t_table_is_well_formed(void)
{
    for (int i = 0; i < NROWS; i++) {
        const Row *r = &rows[i];
        if (i && strcmp(rows[i - 1].name, r->name) >= 0)
            TT_FAIL_("'%s' comes after '%s': keep the rows sorted", r->name, rows[i - 1].name);
        if (r->min < 0 || (r->max >= 0 && r->max < r->min) || r->max > 20)
            TT_FAIL_("%s: bad argument counts %d..%d", r->name, r->min, r->max);
        int words = r->params[0] ? 1 : 0;
        for (const char *p = r->params; *p; p++) {
            if (*p == ' ') words++;
            else if (!strchr("nsbaozxf", *p)) TT_FAIL_("%s: '%c' is not a kind in params", r->name, *p);
        }
        if (words != (r->max < 0 ? r->min + 1 : r->max) && !(r->max < 0 && words == r->min))
            TT_FAIL_("%s: %d params words for %d..%d arguments", r->name, words, r->min, r->max);
        if (strncmp(r->summary, r->name, strlen(r->name)) != 0 || r->summary[strlen(r->name)] != '(' ||
            !strstr(r->summary, "): "))
            TT_FAIL_("%s: the summary must read \"%s(...): what it gives\"", r->name, r->name);
    }
}

int main(void)
{
    TT_RUN(t_table_is_well_formed);
    TT_RUN(t_compiler_follows_the_table);
    TT_RUN(t_language_reference_documents_the_table);
    return value_harness(); /* root_tests and step_tests: the runtime */
}
