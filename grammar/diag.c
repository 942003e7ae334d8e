/*
 * diag.c: every diagnostic the front end prints goes through here, so they all share one shape
 * (gcc/clang's):
 *
 *     examples/order.dwf:12:9: error: unknown name 'paymnt'
 *        12 |   return { payment: paymnt }
 *           |                     ^~~~~~
 *     examples/order.dwf:7:8: note: did you mean 'payment'?
 *
 * Columns count bytes from 1, and the caret line copies the source line's tabs so the caret
 * sits under the right character in any terminal. After DIAG_MAX_ERRORS errors we print one
 * "too many errors" line and drop everything after it (notes included), so a badly broken file
 * gives a screenful, not a flood; the counts still go up so the exit status stays right.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

struct Diag {
    FILE *out;
    int color;
    int errors;
    int dropping;    /* the last error/warning was dropped: drop its notes too */
    int said_full;   /* "too many errors" printed */
    const char *path;
    const char *text;
    size_t len;
};

enum Severity { SEV_ERROR, SEV_WARNING, SEV_NOTE };

Diag *diag_new(FILE *out, int color)
{
    Diag *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->out = out;
    d->color = color;
    return d;
}

void diag_free(Diag *d)
{
    free(d);
}

int diag_errors(const Diag *d)
{
    return d->errors;
}

int diag_full(const Diag *d)
{
    return d->errors >= DIAG_MAX_ERRORS;
}

void diag_set_source(Diag *d, const char *path, const char *text, size_t len)
{
    d->said_full = 0;
    d->dropping = 0;
    d->path = path;
    d->text = text;
    d->len = len;
}

#define C_BOLD(d) ((d)->color ? "\033[1m" : "")
#define C_RESET(d) ((d)->color ? "\033[0m" : "")

static const char *sev_color(const Diag *d, enum Severity s)
{
    if (!d->color) return "";
    return s == SEV_ERROR ? "\033[1;31m" : s == SEV_WARNING ? "\033[1;35m" : "\033[1;36m";
}

static const char *sev_name(enum Severity s)
{
    return s == SEV_ERROR ? "error" : s == SEV_WARNING ? "warning" : "note";
}

/* The source line `line` (1-based): start pointer and length, or NULL if out of range. */
static const char *find_line(const Diag *d, int line, size_t *len)
{
    if (!d->text || line < 1) return NULL;
    const char *p = d->text, *end = d->text + d->len;
    for (int l = 1; l < line; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) return NULL;
        p = nl + 1;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    *len = (size_t)((nl ? nl : end) - p);
    if (*len && p[*len - 1] == '\r') (*len)--;
    return p;
}

static void print_excerpt(Diag *d, SrcLoc loc)
{
    size_t len;
    const char *line = find_line(d, loc.first_line, &len);
    if (!line) return;
    fprintf(d->out, "%5d | ", loc.first_line);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)line[i];
        fputc(ch == '\t' || ch >= 0x20 ? ch : ' ', d->out);
    }
    fputc('\n', d->out);
    size_t col = loc.first_column > 0 ? (size_t)loc.first_column - 1 : 0;
    if (col > len) col = len;
    size_t width = 1;
    if (loc.last_line == loc.first_line && loc.last_column > loc.first_column)
        width = (size_t)(loc.last_column - loc.first_column);
    else if (loc.last_line > loc.first_line && len > col)
        width = len - col;
    if (col + width > len && len > col) width = len - col;
    if (width == 0) width = 1;
    fprintf(d->out, "      | ");
    for (size_t i = 0; i < col; i++) fputc(line[i] == '\t' ? '\t' : ' ', d->out);
    fprintf(d->out, "%s^", d->color ? "\033[1;32m" : "");
    for (size_t i = 1; i < width; i++) fputc('~', d->out);
    fprintf(d->out, "%s\n", C_RESET(d));
}

static void say_full(Diag *d, const char *path)
{
    if (d->said_full) return;
    d->said_full = 1;
    fprintf(d->out, "%s%s: %sfatal error:%s%s too many errors, stopping now%s\n", C_BOLD(d),
            path ? path : "dwf", sev_color(d, SEV_ERROR), C_RESET(d), C_BOLD(d), C_RESET(d));
}

void diag_finish(Diag *d)
{
    if (d->errors >= DIAG_MAX_ERRORS) say_full(d, d->path);
}

static void report(Diag *d, enum Severity sev, const SrcLoc *loc, const char *path,
                   const char *fmt, va_list ap)
{
    if (sev == SEV_NOTE) {
        if (d->dropping) return;
    } else {
        if (sev == SEV_ERROR) d->errors++;
        if (d->errors > DIAG_MAX_ERRORS || (sev == SEV_WARNING && d->errors >= DIAG_MAX_ERRORS)) {
            d->dropping = 1;
            say_full(d, path);
            return;
        }
        d->dropping = 0;
    }
    fputs(C_BOLD(d), d->out);
    if (loc)
        fprintf(d->out, "%s:%d:%d: ", path ? path : "?", loc->first_line, loc->first_column);
    else
        fprintf(d->out, "%s: ", path ? path : "?");
    fprintf(d->out, "%s%s:%s%s ", sev_color(d, sev), sev_name(sev), C_RESET(d), C_BOLD(d));
    vfprintf(d->out, fmt, ap);
    fprintf(d->out, "%s\n", C_RESET(d));
    /* Notes stay one line (they point at a declaration or explain a rule). */
    if (loc && sev != SEV_NOTE) print_excerpt(d, *loc);
}

void diag_error(Diag *d, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(d, SEV_ERROR, &loc, d->path, fmt, ap);
    va_end(ap);
}

void diag_warning(Diag *d, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(d, SEV_WARNING, &loc, d->path, fmt, ap);
    va_end(ap);
}

void diag_note(Diag *d, SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(d, SEV_NOTE, &loc, d->path, fmt, ap);
    va_end(ap);
}

void diag_file_error(Diag *d, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(d, SEV_ERROR, NULL, path, fmt, ap);
    va_end(ap);
}
