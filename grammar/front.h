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

/* Parse and check `text` (the contents of `path`). Returns the Program (arena-owned) even when
 * there were errors (NULL only if nothing could be parsed); the caller looks at diag_errors(). */
Program *front_compile(Arena *a, Diag *d, const char *path, const char *text, size_t len);

/* Read `path` and front_compile() it. Reports an unreadable file as an error. */
Program *front_compile_file(Arena *a, Diag *d, const char *path);

#endif
