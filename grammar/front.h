/*
 * front.h: the entry points of the front end, used by cli/ and the tests.
 * The front end reads a .dwf file, scans and parses it (lexer.l, parser.y), runs the semantic
 * checks (sema.c) and reports every problem through one diagnostics module (diag.c).
 */
#ifndef DWF_FRONT_H
#define DWF_FRONT_H

#include <stdio.h>
#include "ast.h"

typedef struct Diag Diag;

/* A diagnostics sink: writes gcc-shaped messages to `out` (color when `color`). At most 20
 * errors are printed; later ones are counted. */
Diag *diag_new(FILE *out, int color);
void diag_free(Diag *d);
int diag_errors(const Diag *d); /* errors reported so far */

/* Diagnostics as data, for `dwf check --format json|sarif`: with diag_keep() on, every
 * diagnostic that is printed (or would be, with `out` NULL) is also kept as a DiagRecord.
 * A note belongs to the error or warning kept before it. */
typedef enum DiagSeverity { DIAG_ERROR, DIAG_WARNING, DIAG_NOTE } DiagSeverity;

/* A suggested edit: replace the range `loc` (empty when first == last: an insertion) by `text`. */
typedef struct DiagFixit {
    SrcLoc loc;
    int first_char, last_char; /* loc's columns counted in code points */
    const char *text;
} DiagFixit;

typedef struct DiagRecord {
    DiagSeverity severity;
    const char *path;
    int has_loc;          /* 0: about the whole file (no line) */
    SrcLoc loc;           /* columns in bytes from 1 */
    int first_char, last_char; /* the same columns counted in Unicode code points */
    const char *rule;     /* which check: "syntax", "semantics" or "input" */
    const char *message;
    DiagFixit *fixits;
    size_t nfixits;
} DiagRecord;

void diag_keep(Diag *d, int on);
size_t diag_count(const Diag *d);
const DiagRecord *diag_record(const Diag *d, size_t i);

/* Parse and check `text` (the contents of `path`). Returns the Program (arena-owned) even when
 * there were errors (NULL only if nothing could be parsed); the caller looks at diag_errors(). */
Program *front_compile(Arena *a, Diag *d, const char *path, const char *text, size_t len);

/* `dwf fmt`: `text` in the canonical layout (format.c), malloc'd, its length in *out_len.
 * NULL when the file has errors (reported through `d`, as front_compile does). */
char *front_format(Arena *a, Diag *d, const char *path, const char *text, size_t len, size_t *out_len);

/* Read `path` and front_compile() it. Reports an unreadable file as an error. */
Program *front_compile_file(Arena *a, Diag *d, const char *path);

#endif
