/*
 * front.c: the front end's entry points (front.h). It owns the order of the phases for one
 * file: copy the text into the arena (diagnostics quote it, codegen hashes it), scan and parse
 * it with a fresh reentrant scanner, and run the semantic checks only on a tree that parsed
 * cleanly, since checking a tree repaired by error recovery mostly produces noise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "parse_state.h"
#include "parser.h"
#include "lexer.h"
#include "sema.h"

#define FRONT_MAX_FILE (64u * 1024 * 1024)

Program *front_compile(Arena *a, Diag *d, const char *path, const char *text, size_t len)
{
    Program *p = arena_alloc(a, sizeof *p);
    p->path = arena_strdup(a, path ? path : "<input>");
    p->text = arena_strndup(a, text ? text : "", text ? len : 0);
    p->text_len = text ? len : 0;
    diag_set_source(d, p->path, p->text, p->text_len);
    if (p->text_len > FRONT_MAX_FILE) {
        diag_file_error(d, p->path, "file is larger than 64 MB");
        return NULL;
    }

    ParseState ps;
    memset(&ps, 0, sizeof ps);
    ps.arena = a;
    ps.diag = d;
    ps.path = p->path;
    ps.text = p->text;
    ps.len = p->text_len;
    ps.prog = p;

    yyscan_t scanner;
    if (yylex_init(&scanner) != 0) {
        diag_file_error(d, p->path, "cannot start the scanner: %s", strerror(errno));
        return NULL;
    }
    YY_BUFFER_STATE buf = yy_scan_bytes(p->text, (int)p->text_len, scanner);
    int errors_before = diag_errors(d);
    int rc = yyparse(scanner, &ps);
    yy_delete_buffer(buf, scanner);
    yylex_destroy(scanner);
    free(ps.buf);

    if (rc != 0 || !p->workflow) {
        if (diag_errors(d) == errors_before) diag_file_error(d, p->path, "no workflow found");
        diag_finish(d);
        return p->workflow ? p : NULL;
    }
    diag_set_rule(d, "semantics");
    if (diag_errors(d) == errors_before) sema_check(p, d, a);
    diag_finish(d);
    return p;
}

Program *front_compile_file(Arena *a, Diag *d, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_file_error(d, path, "cannot open file: %s", strerror(errno));
        return NULL;
    }
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 65536 > cap) {
            cap = cap ? cap * 2 : 65536;
            if (cap > FRONT_MAX_FILE + 65536) {
                fclose(f);
                free(text);
                diag_file_error(d, path, "file is larger than 64 MB");
                return NULL;
            }
            char *t = realloc(text, cap);
            if (!t) {
                fclose(f);
                free(text);
                diag_file_error(d, path, "out of memory reading the file");
                return NULL;
            }
            text = t;
        }
        size_t n = fread(text + len, 1, cap - len, f);
        len += n;
        if (n == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(text);
        diag_file_error(d, path, "cannot read file");
        return NULL;
    }
    Program *p = front_compile(a, d, path, text ? text : "", len);
    free(text);
    return p;
}
