/*
 * html.h: the console's text buffer and the escapes every page goes through (console/).
 *
 * Nothing reaches a page unescaped unless it is the console's own markup: every value that
 * comes from the store (names, payloads, errors, ARNs, ids) is written with cs_text (HTML text
 * and attribute values) or cs_url (a URL component inside an attribute). cs_sse frames an
 * event for a text/event-stream. Kept apart from the pages so the unit tests can check the
 * escapes and the framing alone (tests/unit/test_console.c).
 */
#ifndef DWF_CONSOLE_HTML_H
#define DWF_CONSOLE_HTML_H

#include <stddef.h>

typedef struct cs_buf {
    char *s;      /* NUL-terminated when not NULL */
    size_t len, cap;
    int oom;      /* an allocation failed: the buffer stopped growing */
} cs_buf;

void cs_free(cs_buf *b);
/* Append raw bytes: only the console's own markup. */
void cs_putn(cs_buf *b, const char *s, size_t n);
void cs_puts(cs_buf *b, const char *s);
void cs_printf(cs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append text escaped for HTML text and for a quoted attribute value: & < > " ' as entities,
 * NUL and other control bytes but tab and newline as U+FFFD (a browser would drop or mangle
 * them), so a step named <script> stays the characters "<script>". NULL writes nothing. */
void cs_text(cs_buf *b, const char *s);
void cs_textn(cs_buf *b, const char *s, size_t n);
/* Append s percent-encoded for a URL query value (everything but A-Z a-z 0-9 - . _ ~). */
void cs_url(cs_buf *b, const char *s);
/* One server-sent event: "event: NAME\n", one "data: " line per line of data (a CR, LF or
 * CRLF in data starts a new line, as the EventSource parser would split it), then a blank
 * line. NAME must be a plain word (the console's own); NULL data sends one empty data line. */
void cs_sse(cs_buf *b, const char *event, const char *data);

#endif
