/*
 * testfile.c: reading a `*.test.dwf` file into a TFile (the scanner and parser are lexer.l and
 * parser.y) and freeing it. After the parse, each test is checked for what the grammar cannot
 * say: it runs a workflow, and names each callback at most once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testfile.h"
#define YYSTYPE DWTSTYPE
#define YYLTYPE DWTLTYPE
#include "tparser.h"
#include "tlexer.h"

void dwt_error_at(TParse *tp, int line, int col, const char *fmt, ...);

static char *read_all(const char *path, size_t *len, FILE *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(err, "%s: cannot read: ", path);
        perror(NULL);
        return NULL;
    }
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *b = cap > (64u << 20) ? NULL : realloc(buf, cap * 2);
            if (!b) {
                free(buf);
                buf = NULL;
                fprintf(err, "%s: too large for a test file\n", path);
                break;
            }
            buf = b;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[n] = '\0';
    *len = n;
    return buf;
}

/* What the grammar cannot check: every test runs a workflow; a callback is answered once. */
static void check_cases(TParse *tp)
{
    for (int i = 0; i < tp->file->ncases; i++) {
        TCase *c = &tp->file->cases[i];
        if (!c->workflow) dwt_error_at(tp, c->line, 1, "test \"%s\" has no `run WORKFLOW`", c->name);
        for (int a = 0; a < c->ncallbacks; a++)
            for (int b = 0; b < a; b++)
                if (strcmp(c->callbacks[a].name, c->callbacks[b].name) == 0)
                    dwt_error_at(tp, c->callbacks[a].line, 1, "callback \"%s\" is already answered on line %d",
                                 c->callbacks[a].name, c->callbacks[b].line);
    }
}

TFile *testfile_parse(const char *path, FILE *err)
{
    size_t len = 0;
    char *text = read_all(path, &len, err);
    if (!text) return NULL;
    TFile *f = calloc(1, sizeof *f);
    TParse tp = {f, path, err, 0, NULL};
    yyscan_t scanner = NULL;
    if (!f || !(f->path = strdup(path)) || dwtlex_init_extra(&tp, &scanner) != 0) {
        fprintf(err, "%s: out of memory\n", path);
        free(text);
        testfile_free(f);
        return NULL;
    }
    YY_BUFFER_STATE b = dwt_scan_bytes(text, (int)len, scanner);
    /* The scanner's location starts at 1:1 (flex leaves it zeroed). */
    DWTLTYPE *loc = dwtget_lloc(scanner);
    if (loc) *loc = (DWTLTYPE){1, 1, 1, 1};
    int rc = dwtparse(scanner, &tp);
    dwt_delete_buffer(b, scanner);
    dwtlex_destroy(scanner);
    free(text);
    if (rc == 0 && tp.errors == 0) check_cases(&tp);
    if (rc != 0 || tp.errors) {
        testfile_free(f);
        return NULL;
    }
    if (f->ncases == 0) {
        fprintf(err, "%s: no tests in the file (a test is: test \"name\" { run WORKFLOW ... })\n", path);
        testfile_free(f);
        return NULL;
    }
    return f;
}

static void free_case(TCase *c)
{
    free(c->name);
    free(c->workflow);
    cJSON_Delete(c->input);
    for (int i = 0; i < c->nmocks; i++) {
        free(c->mocks[i].method);
        free(c->mocks[i].pattern);
        cJSON_Delete(c->mocks[i].value);
        free(c->mocks[i].error_type);
        free(c->mocks[i].error_message);
    }
    free(c->mocks);
    for (int i = 0; i < c->ncallbacks; i++) {
        free(c->callbacks[i].name);
        cJSON_Delete(c->callbacks[i].value);
        free(c->callbacks[i].error_type);
        free(c->callbacks[i].error_message);
    }
    free(c->callbacks);
    for (int i = 0; i < c->nexpects; i++) {
        TExpect *e = &c->expects[i];
        free(e->op_type);
        free(e->op_name);
        cJSON_Delete(e->path);
        cJSON_Delete(e->value);
        free(e->status);
        free(e->error_type);
        free(e->error_message);
    }
    free(c->expects);
}

void testfile_free(TFile *f)
{
    if (!f) return;
    for (int i = 0; i < f->ncases; i++) free_case(&f->cases[i]);
    free(f->cases);
    free(f->path);
    free(f);
}
