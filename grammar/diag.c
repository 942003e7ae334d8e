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
 *
 * With diag_keep() on, each diagnostic printed is also kept as a DiagRecord (front.h) for
 * `dwf check --format json|sarif`; `out` may then be NULL to print nothing. A fix-it
 * (diag_fixit) is printed as clang does, the replacement text under the caret.
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
    const char *rule;
    int excerpt_line;  /* the line the last excerpt quoted (0: none), for a fix-it under it */
    size_t excerpt_from; /* where that excerpt's window starts in the line (0: the whole line) */
    int keep;
    DiagRecord *recs;
    size_t nrecs, caprecs;
    /* Where each line of `text` starts, found once (on the first look-up) so that N
     * diagnostics cost O(N + file), not O(N * file): 80,000 warnings on a 80,000-line file. */
    size_t *line_start;
    size_t nlines;
    int lines_failed; /* out of memory building it: fall back to scanning */
};

enum Severity { SEV_ERROR = DIAG_ERROR, SEV_WARNING = DIAG_WARNING, SEV_NOTE = DIAG_NOTE };

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
    if (!d) return;
    for (size_t i = 0; i < d->nrecs; i++) {
        free((char *)d->recs[i].message);
        for (size_t j = 0; j < d->recs[i].nfixits; j++) free((char *)d->recs[i].fixits[j].text);
        free(d->recs[i].fixits);
    }
    free(d->line_start);
    free(d->recs);
    free(d);
}

void diag_keep(Diag *d, int on)
{
    d->keep = on;
}

size_t diag_count(const Diag *d)
{
    return d->nrecs;
}

const DiagRecord *diag_record(const Diag *d, size_t i)
{
    return i < d->nrecs ? &d->recs[i] : NULL;
}

void diag_set_rule(Diag *d, const char *rule)
{
    d->rule = rule;
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
    d->rule = "syntax";
    d->excerpt_line = 0;
    free(d->line_start);
    d->line_start = NULL;
    d->nlines = 0;
    d->lines_failed = 0;
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

/* The index of line starts: built on first use, one pass over the text. */
static int index_lines(Diag *d)
{
    if (d->line_start) return 1;
    if (d->lines_failed) return 0;
    size_t n = 1;
    for (const char *p = d->text, *end = d->text + d->len; (p = memchr(p, '\n', (size_t)(end - p)));
         p++)
        n++;
    d->line_start = malloc(n * sizeof *d->line_start);
    if (!d->line_start) {
        d->lines_failed = 1;
        return 0;
    }
    d->line_start[0] = 0;
    size_t k = 1;
    for (size_t i = 0; i < d->len; i++)
        if (d->text[i] == '\n') d->line_start[k++] = i + 1;
    d->nlines = n;
    return 1;
}

/* The source line `line` (1-based): start pointer and length, or NULL if out of range. */
static const char *find_line(Diag *d, int line, size_t *len)
{
    if (!d->text || line < 1) return NULL;
    const char *p = d->text, *end = d->text + d->len;
    if (index_lines(d)) {
        if ((size_t)line > d->nlines) return NULL;
        p += d->line_start[line - 1];
    } else {
        for (int l = 1; l < line; l++) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl) return NULL;
            p = nl + 1;
        }
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    *len = (size_t)((nl ? nl : end) - p);
    if (*len && p[*len - 1] == '\r') (*len)--;
    return p;
}

/* A long line (minified JSON, a generated file) is shown as a window around the caret, with
 * "..." where it was cut, so one diagnostic never prints megabytes. */
#define EXCERPT_WIDTH 320  /* lines up to this many bytes are shown whole */
#define EXCERPT_BEFORE 100 /* bytes kept before the caret in a cut line */

static int utf8_continuation(unsigned char ch) { return (ch & 0xC0) == 0x80; }

/* The part [*from, *to) of a line of `len` bytes to show for a caret at `col`, `width` wide. */
static void excerpt_window(const char *line, size_t len, size_t col, size_t width, size_t *from,
                           size_t *to)
{
    *from = 0;
    *to = len;
    if (len <= EXCERPT_WIDTH) return;
    size_t f = col > EXCERPT_BEFORE ? col - EXCERPT_BEFORE : 0;
    while (f > 0 && utf8_continuation((unsigned char)line[f])) f--; /* not inside a character */
    size_t shown = width < EXCERPT_WIDTH - EXCERPT_BEFORE ? width : EXCERPT_WIDTH - EXCERPT_BEFORE;
    size_t t = col + shown + 20;
    if (t < f + EXCERPT_WIDTH) t = f + EXCERPT_WIDTH;
    if (t > len) t = len;
    while (t < len && utf8_continuation((unsigned char)line[t])) t++;
    *from = f;
    *to = t;
}

static void print_excerpt(Diag *d, SrcLoc loc)
{
    size_t len;
    const char *line = find_line(d, loc.first_line, &len);
    d->excerpt_line = 0;
    d->excerpt_from = 0;
    if (!line) return;
    d->excerpt_line = loc.first_line;
    size_t col = loc.first_column > 0 ? (size_t)loc.first_column - 1 : 0;
    if (col > len) col = len;
    size_t width = 1;
    if (loc.last_line == loc.first_line && loc.last_column > loc.first_column)
        width = (size_t)(loc.last_column - loc.first_column);
    else if (loc.last_line > loc.first_line && len > col)
        width = len - col;
    if (col + width > len && len > col) width = len - col;
    if (width == 0) width = 1;
    size_t from, to;
    excerpt_window(line, len, col, width, &from, &to);
    if (col + width > to && to > col) width = to - col;
    d->excerpt_from = from;
    fprintf(d->out, "%5d | %s", loc.first_line, from > 0 ? "..." : "");
    for (size_t i = from; i < to; i++) {
        unsigned char ch = (unsigned char)line[i];
        fputc(ch == '\t' || ch >= 0x20 ? ch : ' ', d->out);
    }
    fprintf(d->out, "%s\n", to < len ? "..." : "");
    fprintf(d->out, "      | %s", from > 0 ? "   " : "");
    for (size_t i = from; i < col; i++) fputc(line[i] == '\t' ? '\t' : ' ', d->out);
    fprintf(d->out, "%s^", d->color ? "\033[1;32m" : "");
    for (size_t i = 1; i < width; i++) fputc('~', d->out);
    fprintf(d->out, "%s\n", C_RESET(d));
}

/* A byte column of `line` counted in code points instead (UTF-8 continuation bytes skipped). */
static int char_column(Diag *d, int line, int col)
{
    size_t len;
    const char *p = find_line(d, line, &len);
    if (!p || col < 1) return col;
    int chars = 1;
    for (int i = 0; i < col - 1; i++)
        if ((size_t)i >= len || ((unsigned char)p[i] & 0xC0) != 0x80) chars++;
    return chars;
}

static char *vformat(const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    char *s = malloc(n > 0 ? (size_t)n + 1 : 1);
    if (!s) return NULL;
    vsnprintf(s, n > 0 ? (size_t)n + 1 : 1, fmt, ap);
    return s;
}

static void keep_record(Diag *d, enum Severity sev, const SrcLoc *loc, const char *path,
                        const char *fmt, va_list ap)
{
    if (d->nrecs == d->caprecs) {
        size_t cap = d->caprecs ? d->caprecs * 2 : 16;
        DiagRecord *r = realloc(d->recs, cap * sizeof *r);
        if (!r) return;
        d->recs = r;
        d->caprecs = cap;
    }
    DiagRecord *r = &d->recs[d->nrecs];
    memset(r, 0, sizeof *r);
    r->message = vformat(fmt, ap);
    if (!r->message) return;
    r->severity = (DiagSeverity)sev;
    r->path = path ? path : "?";
    r->rule = loc ? (d->rule ? d->rule : "syntax") : "input";
    if (loc) {
        r->has_loc = 1;
        r->loc = *loc;
        r->first_char = char_column(d, loc->first_line, loc->first_column);
        r->last_char = char_column(d, loc->last_line, loc->last_column);
    }
    d->nrecs++;
}

/* The message, cut at DIAG_MAX_MESSAGE bytes (on a character boundary, with "..."): a message
 * quotes names and text from the file, which may be megabytes long. */
#define DIAG_MAX_MESSAGE 480
static void print_message(Diag *d, const char *fmt, va_list ap)
{
    char msg[DIAG_MAX_MESSAGE + 1];
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    if (n < 0) return;
    if ((size_t)n < sizeof msg) {
        fwrite(msg, 1, (size_t)n, d->out);
        return;
    }
    size_t k = DIAG_MAX_MESSAGE;
    while (k > 0 && utf8_continuation((unsigned char)msg[k])) k--;
    fprintf(d->out, "%.*s...", (int)k, msg);
}

static void say_full(Diag *d, const char *path)
{
    if (d->said_full) return;
    d->said_full = 1;
    if (!d->out) return;
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
    if (d->keep) {
        va_list ap2;
        va_copy(ap2, ap);
        keep_record(d, sev, loc, path, fmt, ap2);
        va_end(ap2);
    }
    d->excerpt_line = 0;
    if (!d->out) return;
    /* Composed in memory and written at once: stderr is unbuffered, and a character at a time
     * made 80,000 warnings cost ten million write(2) calls. */
    char *text = NULL;
    size_t len = 0;
    FILE *real = d->out, *mem = open_memstream(&text, &len);
    if (mem) d->out = mem;
    fputs(C_BOLD(d), d->out);
    if (loc)
        fprintf(d->out, "%s:%d:%d: ", path ? path : "?", loc->first_line, loc->first_column);
    else
        fprintf(d->out, "%s: ", path ? path : "?");
    fprintf(d->out, "%s%s:%s%s ", sev_color(d, sev), sev_name(sev), C_RESET(d), C_BOLD(d));
    print_message(d, fmt, ap);
    fprintf(d->out, "%s\n", C_RESET(d));
    /* Notes stay one line (they point at a declaration or explain a rule). */
    if (loc && sev != SEV_NOTE) print_excerpt(d, *loc);
    if (mem) {
        d->out = real;
        if (fclose(mem) == 0) fwrite(text, 1, len, real);
        free(text);
    }
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

/* Printed as clang does: the replacement under the caret line, at the column it goes. */
static void print_fixit(Diag *d, SrcLoc loc, const char *text)
{
    size_t len;
    const char *line = find_line(d, loc.first_line, &len);
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == ' ') n--; /* "with ": no trailing blanks on the terminal */
    if (!line || loc.first_line != d->excerpt_line || n == 0 || memchr(text, '\n', n)) return;
    size_t col = loc.first_column > 0 ? (size_t)loc.first_column - 1 : 0;
    if (col > len) col = len;
    size_t from = d->excerpt_from; /* the excerpt showed the line from here, after "..." */
    if (col < from) return;
    fprintf(d->out, "      | %s", from > 0 ? "   " : "");
    for (size_t i = from; i < col; i++) fputc(line[i] == '\t' ? '\t' : ' ', d->out);
    fprintf(d->out, "%s%.*s%s\n", d->color ? "\033[1;32m" : "", (int)n, text, C_RESET(d));
}

void diag_fixit(Diag *d, SrcLoc loc, const char *text)
{
    if (d->dropping) return;
    if (d->out) print_fixit(d, loc, text);
    size_t i = d->nrecs;
    while (i > 0 && d->recs[i - 1].severity == DIAG_NOTE) i--;
    if (!d->keep || i == 0) return;
    DiagRecord *r = &d->recs[i - 1];
    DiagFixit *f = realloc(r->fixits, (r->nfixits + 1) * sizeof *f);
    if (!f) return;
    r->fixits = f;
    f[r->nfixits].loc = loc;
    f[r->nfixits].first_char = char_column(d, loc.first_line, loc.first_column);
    f[r->nfixits].last_char = char_column(d, loc.last_line, loc.last_column);
    f[r->nfixits].text = strdup(text);
    if (f[r->nfixits].text) r->nfixits++;
}
