/*
 * diag.h: the front end's one way to report a problem in a .dwf file (diag.c writes them all).
 * Messages follow gcc/clang: "file:line:col: error: text", the source line, a caret under the
 * range; lowercase, no final period, names in '...'. A note attaches to the diagnostic before it
 * and is dropped with it once the error limit is reached.
 */
#ifndef DWF_DIAG_H
#define DWF_DIAG_H

#include "front.h"

#define DIAG_MAX_ERRORS 20

/* The file the next diagnostics are about. `text` must outlive those calls. */
void diag_set_source(Diag *d, const char *path, const char *text, size_t len);

void diag_error(Diag *d, SrcLoc loc, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void diag_warning(Diag *d, SrcLoc loc, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void diag_note(Diag *d, SrcLoc loc, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* An error about the whole file (no line): "file: error: text". */
void diag_file_error(Diag *d, const char *path, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* A fix-it for the error or warning just reported: replace `loc` by `text` (an insertion when
 * `loc` is empty). Printed under the caret line as clang does ("      |   10s") and kept in the
 * record for editors (`dwf check --format json`). */
void diag_fixit(Diag *d, SrcLoc loc, const char *text);

/* Which check the next diagnostics come from ("syntax", "semantics"): the rule id of
 * `--format sarif`. A string literal. */
void diag_set_rule(Diag *d, const char *rule);

/* Once a file is done: if the error limit stopped the checks, say so (once). */
void diag_finish(Diag *d);

/* Nonzero once DIAG_MAX_ERRORS errors were reported: callers stop checking. */
int diag_full(const Diag *d);

#endif
