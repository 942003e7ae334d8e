/*
 * parse_state.h: what the scanner (lexer.l) and the parser (parser.y) share for one file. It is
 * front.c's business alone: nothing outside grammar/ sees it.
 *
 * The scanner keeps two stacks here. `open` holds the unclosed brackets so a syntax error can
 * name the opener ("expected '}' (to close '{' at line 3)"); `tpl` holds, for every template
 * string we are inside of, the brace depth at which its current ${ started, so the '}' that
 * ends an interpolation is told apart from a '}' closing an object literal inside it.
 */
#ifndef DWF_PARSE_STATE_H
#define DWF_PARSE_STATE_H

#include <stddef.h>

#include "ast.h"
#include "diag.h"
#include "parser.h"

#define PARSE_MAX_NESTING 200

typedef struct ParseState {
    Arena *arena;
    Diag *diag;
    const char *path;
    const char *text;
    size_t len;
    Program *prog;     /* filled by the start rule */
    int abort;         /* stop: too deep, or too many errors; no more messages */
    int keep_comments; /* the formatter's scan (format.c): comments are COMMENT tokens */

    /* scanner: the string literal being read (bytes, may hold NUL) */
    char *buf;
    size_t buf_len, buf_cap;
    int str_piece;     /* 0: first piece of a string, 1: after a ${..} */

    int brace_depth;                   /* '{' minus '}' outside strings */
    int tpl[PARSE_MAX_NESTING];        /* brace depth at each open ${ */
    int ntpl;

    struct { char ch; SrcLoc loc; } open[PARSE_MAX_NESTING];
    int nopen;

    /* the last three tokens, newest (the lookahead) first: a syntax error's hints look at
     * what came before it ("stpe x {", "return }", "catch err: T") */
    struct { int kind; SrcLoc loc; const char *ident; } tok[3];

    /* every open '{' with the indentation of its line, and the first later line indented
     * no deeper (where the block's indentation ends); the first '}' indented less than its
     * '{' line is remembered, so an unclosed '{' at the end of the file is blamed on the
     * block whose indentation shows it should have closed, not on the outermost one */
    struct { SrcLoc loc; int indent; SrcLoc dedent; } brace[PARSE_MAX_NESTING];
    int nbrace;
    int line_indent;                   /* of the line being scanned */
    int suspect;                       /* 1: suspect_* below are set */
    SrcLoc suspect_open, suspect_dedent, suspect_close;
    int suspect_indent;

    /* the scanner's cache for line_offset() (lexer.l) */
    int off_line;
    size_t off_at;
} ParseState;

/* The scanner as flex generates it; the parser's yylex (parser.y) wraps it to remember the
 * previous token. Defined here so lexer.c and the generated lexer.h agree on it. */
#define YY_DECL int dwf_scan(YYSTYPE *yylval_param, YYLTYPE *yylloc_param, yyscan_t yyscanner, ParseState *ps)
YY_DECL;

/* The i-th keyword of the scanner's table (NULL past the end): the words a misspelt keyword
 * is compared with. */
const char *dwf_keyword_name(size_t i);

/* The lexer's string buffer (malloc'd: freed by front.c after the parse). */
void parse_buf_add(ParseState *ps, const char *s, size_t n);

#endif
