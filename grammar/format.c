/*
 * format.c: `dwf fmt`, the canonical layout of a .dwf file (front_format in front.h).
 *
 * The formatter works on tokens, not on the tree, so it keeps what the tree has no room for:
 * comments, blank lines between paragraphs, and the author's line breaks (like gofmt, it never
 * joins or splits lines). The scanner (lexer.l, with keep_comments) gives every token with its
 * range; a string with ${...} is copied as one piece, byte for byte. What is canonical:
 *
 *   - indentation: two spaces per open bracket; brackets opened on one line add one level
 *     together (`f({` then `})`); a line that continues a statement (the previous one ends
 *     with an operator, or this one starts with an operator or an option word such as
 *     `retry`, `headers`, `with`) hangs two levels deeper, clear of the body that follows;
 *   - spaces inside a line: none inside ( ) and [ ], before , . : or after a unary - and !;
 *     one around binary operators, = => and a ternary's ? and :, inside { } written on one
 *     line, and between words; a gap of two or more spaces between two items (the way the
 *     examples separate options: `retry { attempts 5  delay 1s }`) stays two;
 *   - blank lines: at most one in a row, none at the start or end of the file, none just
 *     inside a block; no trailing spaces; tabs become spaces; one newline at the end.
 *
 * Only whitespace changes, and this is checked: the result is compiled again and its tree
 * (without source positions) must be the original's, else nothing is returned.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "parse_state.h"
#include "parser.h"
#include "lexer.h"

typedef struct Piece {
    int kind;            /* token kind; a whole template string is TOK_STRING */
    size_t a, b;         /* byte range in the text */
    int line, last_line; /* lines it starts and ends on */
} Piece;

typedef struct Pieces {
    Piece *v;
    size_t n, cap;
} Pieces;

typedef struct Out {
    char *s;
    size_t n, cap;
    int oom;
} Out;

static void out_add(Out *o, const char *s, size_t n)
{
    if (o->oom) return;
    if (o->n + n + 1 > o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 4096;
        while (cap < o->n + n + 1) cap *= 2;
        char *t = realloc(o->s, cap);
        if (!t) {
            o->oom = 1;
            return;
        }
        o->s = t;
        o->cap = cap;
    }
    memcpy(o->s + o->n, s, n);
    o->n += n;
    o->s[o->n] = '\0';
}

static void out_spaces(Out *o, int n)
{
    for (int i = 0; i < n; i++) out_add(o, " ", 1);
}

/* ---- the tokens ------------------------------------------------------------------------- */

/* Byte offsets of the start of each line (1-based: starts[line - 1]). */
static size_t *line_starts(const char *text, size_t len, size_t *nlines)
{
    size_t n = 1;
    for (size_t i = 0; i < len; i++) n += text[i] == '\n';
    size_t *s = malloc(n * sizeof *s);
    if (!s) return NULL;
    size_t k = 0;
    s[k++] = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n') s[k++] = i + 1;
    *nlines = n;
    return s;
}

static size_t offset_of(const size_t *starts, size_t nlines, size_t len, int line, int col)
{
    if (line < 1) return 0;
    if ((size_t)line > nlines) return len;
    size_t off = starts[line - 1] + (size_t)(col > 0 ? col - 1 : 0);
    return off > len ? len : off;
}

static int add_piece(Pieces *ps, Piece p)
{
    if (ps->n == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 256;
        Piece *v = realloc(ps->v, cap * sizeof *v);
        if (!v) return -1;
        ps->v = v;
        ps->cap = cap;
    }
    ps->v[ps->n++] = p;
    return 0;
}

/* Scan `text` with comments kept; a template string (TPL_HEAD ... TPL_TAIL, nested ones
 * included) becomes one piece. */
static int scan_pieces(Arena *a, const char *text, size_t len, Pieces *out)
{
    size_t nlines;
    size_t *starts = line_starts(text, len, &nlines);
    if (!starts) return -1;
    Diag *quiet = diag_new(NULL, 0);
    ParseState ps;
    memset(&ps, 0, sizeof ps);
    ps.arena = a;
    ps.diag = quiet;
    ps.text = text;
    ps.len = len;
    ps.keep_comments = 1;
    yyscan_t scanner;
    if (!quiet || yylex_init(&scanner) != 0) {
        diag_free(quiet);
        free(starts);
        return -1;
    }
    YY_BUFFER_STATE buf = yy_scan_bytes(text, (int)len, scanner);
    int rc = 0, depth = 0;
    Piece tpl = {0};
    YYLTYPE loc = {1, 1, 1, 1}; /* the scanner moves it on from token to token */
    for (;;) {
        YYSTYPE v;
        int tok = dwf_scan(&v, &loc, scanner, &ps);
        if (tok == TOK_YYEOF || tok == TOK_YYerror || tok == TOK_YYUNDEF) {
            if (tok != TOK_YYEOF || depth) rc = -1;
            break;
        }
        Piece p = {tok, offset_of(starts, nlines, len, loc.first_line, loc.first_column),
                   offset_of(starts, nlines, len, loc.last_line, loc.last_column), loc.first_line, loc.last_line};
        if (tok == TOK_TPL_HEAD) {
            if (depth++ == 0) tpl = p;
            continue;
        }
        if (tok == TOK_TPL_TAIL) {
            if (--depth > 0) continue;
            tpl.kind = TOK_STRING;
            tpl.b = p.b;
            tpl.last_line = p.last_line;
            p = tpl;
        } else if (depth > 0) {
            continue;
        }
        if (add_piece(out, p) != 0) {
            rc = -1;
            break;
        }
    }
    yy_delete_buffer(buf, scanner);
    yylex_destroy(scanner);
    free(ps.buf);
    if (diag_errors(quiet)) rc = -1;
    diag_free(quiet);
    free(starts);
    return rc;
}

/* ---- the layout ------------------------------------------------------------------------- */

typedef struct Layout {
    const char *text;
    const Pieces *p;
    /* open brackets: the char, whether it added an indent level, the line it was opened on,
     * and the ternaries (?) waiting for their ':' inside it */
    struct { char ch; int carry; int line; int pending_q; } open[PARSE_MAX_NESTING + 2];
    int nopen;
    int top_q; /* ternaries waiting at the top level */
} Layout;

static int is_text(const Layout *l, const Piece *p, const char *s)
{
    size_t n = strlen(s);
    return p->b - p->a == n && memcmp(l->text + p->a, s, n) == 0;
}

static char first_char(const Layout *l, const Piece *p)
{
    return l->text[p->a];
}

static int is_word(const Layout *l, const Piece *p)
{
    char c = first_char(l, p);
    return p->kind != TOK_COMMENT && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_');
}

/* A keyword that may also be a name (parser.y's `soft`): it reads like an operand. */
static int is_soft(const Piece *p)
{
    switch (p->kind) {
    case TOK_ATTEMPTS: case TOK_BACKOFF: case TOK_DELAY: case TOK_EVERY: case TOK_JITTER: case TOK_MAX:
    case TOK_MIN_SUCCESSFUL: case TOK_NAME: case TOK_ON: case TOK_STATE: case TOK_SUBMITTER: case TOK_TOLERATE:
    case TOK_TRUE: case TOK_FALSE: case TOK_NULL:
        return 1;
    default:
        return 0;
    }
}

static int is_binary_op(const Layout *l, const Piece *p)
{
    static const char *const ops[] = {"+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=",
                                      "&&", "||", "??", "?", "=", "=>"};
    if (p->kind == TOK_COMMENT || p->kind == TOK_STRING || p->kind == TOK_PERCENT) return 0;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (is_text(l, p, ops[i])) return 1;
    return 0;
}

static int is_opener(const Layout *l, const Piece *p)
{
    return p->kind != TOK_STRING && p->kind != TOK_COMMENT && p->b - p->a == 1 && strchr("([{", first_char(l, p));
}

static int is_closer(const Layout *l, const Piece *p)
{
    return p->kind != TOK_STRING && p->kind != TOK_COMMENT && p->b - p->a == 1 && strchr(")]}", first_char(l, p));
}

/* Ends an operand: after it, '-' is binary and '[' indexes. */
static int ends_operand(const Layout *l, const Piece *p)
{
    if (p->kind == TOK_IDENT || p->kind == TOK_NUMBER || p->kind == TOK_DURATION || p->kind == TOK_PERCENT ||
        p->kind == TOK_STRING || is_soft(p))
        return 1;
    return is_closer(l, p);
}

/* Is the '-' or '!' at index i unary? */
static int is_unary(const Layout *l, size_t i, int line_start)
{
    const Piece *p = &l->p->v[i];
    if (is_text(l, p, "!")) return 1;
    if (!is_text(l, p, "-")) return 0;
    if (line_start) {
        /* a line starting with '-' continues an expression (no statement starts with '-')
         * unless the previous line left an operand open */
        if (i == 0) return 1;
        const Piece *prev = &l->p->v[i - 1];
        return !ends_operand(l, prev);
    }
    return !ends_operand(l, &l->p->v[i - 1]);
}

static int *q_slot(Layout *l)
{
    return l->nopen ? &l->open[l->nopen - 1].pending_q : &l->top_q;
}

/* The spaces between pieces i-1 and i on one line. */
static int spacing(Layout *l, size_t i, int prev_unary)
{
    const Piece *prev = &l->p->v[i - 1], *next = &l->p->v[i];
    size_t gap = next->a - prev->b;
    /* two spaces are kept only where one item ends and the next begins with a word
     * (`attempts 5  delay 1s`, `retention = 1d  timeout = 1h`), never inside one item */
    int wide = gap >= 2 && ends_operand(l, prev) && is_word(l, next) && next->kind != TOK_ELSE &&
                       next->kind != TOK_CATCH && next->kind != TOK_COMPENSATE
                   ? 2 : 1;
    if (next->kind == TOK_COMMENT) return gap >= 2 ? 2 : 1;
    if (prev->kind == TOK_COMMENT) return 1; /* cannot happen: a comment ends its line */
    if (is_text(l, prev, "(") || is_text(l, prev, "[")) return 0;
    if (is_text(l, prev, "{")) return is_text(l, next, "}") ? 0 : 1;
    if (is_text(l, next, ")") || is_text(l, next, "]")) return 0;
    if (is_text(l, next, "}")) return 1;
    if (is_text(l, next, ",")) return 0;
    if (is_text(l, prev, ",")) return 1;
    if (is_text(l, next, ".") || is_text(l, prev, ".")) return 0;
    if (is_text(l, next, ":")) return *q_slot(l) > 0 ? 1 : 0;
    if (is_text(l, prev, ":")) return wide;
    if (prev_unary) return 0;
    if (is_text(l, next, "(")) {
        if (prev->kind == TOK_IDENT) return 0;
        if (is_word(l, prev)) return gap > 0 ? 1 : 0;
        return is_binary_op(l, prev) ? 1 : 0;
    }
    if (is_text(l, next, "[")) {
        if (prev->kind == TOK_IDENT || is_closer(l, prev)) return 0;
        if (is_soft(prev)) return gap > 0 ? 1 : 0;
        return 1;
    }
    if (is_binary_op(l, next) || is_binary_op(l, prev)) return 1;
    return wide;
}

static void push_open(Layout *l, char ch, int line)
{
    if (l->nopen >= PARSE_MAX_NESTING + 2) return;
    l->open[l->nopen].ch = ch;
    l->open[l->nopen].carry = 0;
    l->open[l->nopen].line = line;
    l->open[l->nopen].pending_q = 0;
    l->nopen++;
}

static int indent_now(const Layout *l)
{
    int n = 0;
    for (int i = 0; i < l->nopen; i++) n += l->open[i].carry;
    return n;
}

/* An option word that never starts a statement (`retry`, `headers`, `with`), or a soft one
 * (`name`, `state`, `max`) not followed by what makes it a name (`name = 1`, `max(a, b)`). */
static int starts_option(Layout *l, size_t i)
{
    const Piece *p = &l->p->v[i];
    switch (p->kind) {
    case TOK_TIMEOUT: /* a setting on its own line (`timeout = 30s` in lambda {}) is no option */
        return !(i + 1 < l->p->n && l->p->v[i + 1].line == p->last_line && is_text(l, &l->p->v[i + 1], "="));
    case TOK_RETRY: case TOK_SEMANTICS: case TOK_HEADERS: case TOK_BODY: case TOK_HEARTBEAT:
    case TOK_UNTIL: case TOK_WITH: case TOK_OVER: case TOK_AS:
        return 1;
    case TOK_ATTEMPTS: case TOK_BACKOFF: case TOK_DELAY: case TOK_EVERY: case TOK_JITTER: case TOK_MAX:
    case TOK_MIN_SUCCESSFUL: case TOK_NAME: case TOK_ON: case TOK_STATE: case TOK_SUBMITTER:
    case TOK_TOLERATE: {
        if (i + 1 >= l->p->n) return 0;
        const Piece *n = &l->p->v[i + 1];
        return n->line == p->last_line && !is_text(l, n, "=") && !is_text(l, n, "(") && !is_text(l, n, ".") &&
               !is_text(l, n, "[");
    }
    default:
        return 0;
    }
}

/* Does the line starting at piece `from` continue the statement of the line before it: its
 * expression (the previous line ends with an operator, or this one starts with one) or its
 * options (`step s "s"` then `    retry { ... }`)? */
static int continues(Layout *l, size_t from)
{
    if (from == 0) return 0;
    const Piece *first = &l->p->v[from];
    if (starts_option(l, from)) return 1;
    if (is_binary_op(l, first) && !is_text(l, first, "!") && !is_text(l, first, "=")) return 1;
    if (is_text(l, first, ".") || is_text(l, first, ":")) return 1;
    /* the previous line's last piece that is not a comment */
    size_t k = from;
    while (k > 0 && l->p->v[k - 1].kind == TOK_COMMENT) k--;
    if (k == 0) return 0;
    const Piece *last = &l->p->v[k - 1];
    return is_binary_op(l, last) && !is_unary(l, k - 1, 0);
}

static void lay_out_line(Layout *l, Out *o, size_t from, size_t to)
{
    const Pieces *p = l->p;
    /* closers at the start of the line close before it is indented */
    size_t i = from;
    while (i < to && is_closer(l, &p->v[i])) {
        if (l->nopen > 0) l->nopen--;
        i++;
    }
    /* a continuation line hangs two levels deep, clear of the block's body below it */
    int indent = indent_now(l) + 2 * (i == from && continues(l, from));
    out_spaces(o, 2 * indent);
    int prev_unary = 0;
    for (size_t k = from; k < to; k++) {
        const Piece *t = &p->v[k];
        if (k > from) out_spaces(o, spacing(l, k, prev_unary));
        out_add(o, l->text + t->a, t->b - t->a);
        if (t->kind == TOK_COMMENT) {
            while (o->n > 0 && (o->s[o->n - 1] == ' ' || o->s[o->n - 1] == '\t' || o->s[o->n - 1] == '\r')) o->n--;
        }
        prev_unary = (is_text(l, t, "-") || is_text(l, t, "!")) && is_unary(l, k, k == from);
        if (k >= i) {
            if (is_opener(l, t)) push_open(l, first_char(l, t), t->line);
            else if (is_closer(l, t) && l->nopen > 0) l->nopen--;
            else if (is_text(l, t, "?")) (*q_slot(l))++;
            else if (is_text(l, t, ":") && *q_slot(l) > 0) (*q_slot(l))--;
        }
    }
    /* of the brackets this line left open, the first carries one indent level */
    int line = p->v[from].line;
    for (int b = 0; b < l->nopen; b++)
        if (l->open[b].line == line || l->open[b].line == p->v[to - 1].last_line) {
            l->open[b].carry = 1;
            break;
        }
    out_add(o, "\n", 1);
}

static char *lay_out(const char *text, const Pieces *p, size_t *out_len)
{
    Layout l;
    memset(&l, 0, sizeof l);
    l.text = text;
    l.p = p;
    Out o = {0};
    size_t from = 0;
    while (from < p->n) {
        size_t to = from + 1;
        while (to < p->n && p->v[to].line == p->v[to - 1].last_line) to++;
        if (from > 0) {
            const Piece *prev = &p->v[from - 1], *first = &p->v[from];
            int blank = first->line - prev->last_line >= 2;
            if (blank && !is_opener(&l, prev) && !is_closer(&l, first)) out_add(&o, "\n", 1);
        }
        /* a multi-line piece (a string continued with '\') keeps its own line breaks: the
         * line's pieces are one run */
        lay_out_line(&l, &o, from, to);
        from = to;
    }
    if (o.oom) {
        free(o.s);
        return NULL;
    }
    if (!o.s) {
        o.s = strdup("");
        if (!o.s) return NULL;
    }
    *out_len = o.n;
    return o.s;
}

/* ---- checking that only whitespace changed ----------------------------------------------- */

/* The tree's dump without the " @line:col" positions. */
static char *tree_text(const Program *p)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    if (!f) return NULL;
    for (const AstNode *u = p->uses; u; u = u->next) fprintf(f, "use %s\n", u->u.use.path);
    ast_dump(p->workflow, 0, f);
    fclose(f);
    if (!buf) return NULL;
    char *w = buf;
    for (char *r = buf; *r;) {
        if (r[0] == ' ' && r[1] == '@') {
            char *q = r + 2;
            while ((*q >= '0' && *q <= '9') || *q == ':') q++;
            if (q > r + 2 && (*q == '\n' || *q == ' ')) {
                r = q;
                continue;
            }
        }
        *w++ = *r++;
    }
    *w = '\0';
    return buf;
}

static int same_program(const char *path, const Program *orig, const char *text, size_t len)
{
    Arena *a = arena_new();
    Diag *d = diag_new(NULL, 0);
    int same = 0;
    if (a && d) {
        Program *p = front_compile(a, d, path, text, len);
        if (p && diag_errors(d) == 0) {
            char *t1 = tree_text(orig), *t2 = tree_text(p);
            same = t1 && t2 && strcmp(t1, t2) == 0;
            free(t1);
            free(t2);
        }
    }
    if (d) diag_free(d);
    if (a) arena_free(a);
    return same;
}

char *front_format(Arena *a, Diag *d, const char *path, const char *text, size_t len, size_t *out_len)
{
    Program *p = front_compile(a, d, path, text, len);
    if (!p || diag_errors(d) > 0) return NULL;
    Pieces pieces = {0};
    if (scan_pieces(a, p->text, p->text_len, &pieces) != 0) {
        free(pieces.v);
        diag_file_error(d, p->path, "cannot format: the file does not scan again");
        return NULL;
    }
    char *out = lay_out(p->text, &pieces, out_len);
    free(pieces.v);
    if (!out) {
        diag_file_error(d, p->path, "out of memory formatting the file");
        return NULL;
    }
    if (!same_program(p->path, p, out, *out_len)) {
        diag_file_error(d, p->path, "internal error: the formatted file would not mean the same; left as is");
        free(out);
        return NULL;
    }
    return out;
}
