/*
 * html.c: the console's text buffer, HTML and URL escapes, and server-sent event framing
 * (html.h says what each is for). Hand-written: each is a few lines, and the console must
 * know exactly which bytes pass (a library's "sanitizer" would decide for it).
 */
#include "html.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cs_free(cs_buf *b)
{
    free(b->s);
    *b = (cs_buf){0};
}

static int reserve(cs_buf *b, size_t more)
{
    if (b->oom) return -1;
    if (b->len + more + 1 <= b->cap) return 0;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < b->len + more + 1) nc *= 2;
    char *ns = realloc(b->s, nc);
    if (!ns) {
        b->oom = 1;
        return -1;
    }
    b->s = ns;
    b->cap = nc;
    return 0;
}

void cs_putn(cs_buf *b, const char *s, size_t n)
{
    if (reserve(b, n) != 0) return;
    if (n) memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void cs_puts(cs_buf *b, const char *s)
{
    if (s) cs_putn(b, s, strlen(s));
}

void cs_printf(cs_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n) != 0) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void cs_textn(cs_buf *b, const char *s, size_t n)
{
    if (!s) return;
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *rep = c == '&' ? "&amp;" : c == '<' ? "&lt;" : c == '>' ? "&gt;" : c == '"' ? "&quot;"
                          : c == '\'' ? "&#39;" : (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f ? "\xef\xbf\xbd"
                                                                                                   : NULL;
        if (!rep) continue;
        cs_putn(b, s + from, i - from);
        cs_puts(b, rep);
        from = i + 1;
    }
    cs_putn(b, s + from, n - from);
}

void cs_text(cs_buf *b, const char *s)
{
    if (s) cs_textn(b, s, strlen(s));
}

void cs_url(cs_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            cs_putn(b, (const char *)&c, 1);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            cs_putn(b, e, 3);
        }
    }
}

void cs_sse(cs_buf *b, const char *event, const char *data)
{
    if (event) cs_printf(b, "event: %s\n", event);
    const char *p = data ? data : "";
    for (;;) {
        size_t n = strcspn(p, "\r\n");
        cs_puts(b, "data: ");
        cs_putn(b, p, n);
        cs_puts(b, "\n");
        p += n;
        if (!*p) break;
        p += p[0] == '\r' && p[1] == '\n' ? 2 : 1; /* and the next line, even empty: "a\n" is two lines */
    }
    cs_puts(b, "\n");
}
