/*
 * cg_util.c: the text buffer and escapers the emitters share.
 *
 * Every emitted file is built in memory first and written once: the C emitter needs that
 * anyway (a nested construct becomes a function defined before the one that uses it), and it
 * lets the emitters treat an allocation failure as one sticky flag checked at the end rather
 * than a test after every write.
 *
 * The escapers are where "whatever the .dwf's strings contain" is handled: a .dwf string may
 * hold quotes, backslashes, `*` `/`, `??/` (a trigraph under -std=c11), non-ASCII bytes and NUL.
 * In C they become octal escapes; `?` after `?` is written `\?` so no trigraph can form.
 */
#include "cg_util.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

void cg_buf_free(CgBuf *b)
{
    free(b->s);
    b->s = NULL;
    b->len = b->cap = 0;
}

static int buf_reserve(CgBuf *b, size_t extra)
{
    if (b->oom) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1) {
        if (cap > (size_t)-1 / 2) {
            b->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = 1;
        return -1;
    }
    b->s = s;
    b->cap = cap;
    return 0;
}

void cg_buf_putn(CgBuf *b, const char *s, size_t n)
{
    if (buf_reserve(b, n) != 0) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void cg_buf_puts(CgBuf *b, const char *s) { cg_buf_putn(b, s, strlen(s)); }

void cg_buf_putc(CgBuf *b, char c) { cg_buf_putn(b, &c, 1); }

void cg_buf_printf(CgBuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if (buf_reserve(b, (size_t)n) != 0) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void cg_buf_append(CgBuf *b, const CgBuf *b2)
{
    if (b2->oom) b->oom = 1;
    if (b2->len) cg_buf_putn(b, b2->s, b2->len);
}

void cg_c_string(CgBuf *b, const char *s, size_t n)
{
    cg_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '"': cg_buf_puts(b, "\\\""); break;
        case '\\': cg_buf_puts(b, "\\\\"); break;
        case '\n': cg_buf_puts(b, "\\n"); break;
        case '\t': cg_buf_puts(b, "\\t"); break;
        case '?':
            /* `??x` is a trigraph under -std=c11: never let two `?` touch. */
            cg_buf_puts(b, i > 0 && s[i - 1] == '?' ? "\\?" : "?");
            break;
        default:
            if (ch >= 0x20 && ch < 0x7f)
                cg_buf_putc(b, (char)ch);
            else /* three digits, so a following digit cannot extend the escape */
                cg_buf_printf(b, "\\%03o", ch);
        }
    }
    cg_buf_putc(b, '"');
}

void cg_c_comment(CgBuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '/' && i > 0 && s[i - 1] == '*')
            cg_buf_puts(b, " /"); /* no comment terminator */
        else if (ch == '*' && i > 0 && s[i - 1] == '/')
            cg_buf_puts(b, " *"); /* no nested comment opener (-Wcomment) */
        else if (ch == '?' && i > 0 && s[i - 1] == '?')
            cg_buf_puts(b, " ?"); /* no trigraph (`??/` would splice lines) */
        else if (ch == '\\')
            cg_buf_puts(b, "\\\\"); /* never a backslash before a newline */
        else if (ch >= 0x20 && ch < 0x7f)
            cg_buf_putc(b, (char)ch);
        else
            cg_buf_printf(b, "\\%03o", ch);
    }
}

void cg_json_string(CgBuf *b, const char *s, size_t n)
{
    cg_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"') cg_buf_puts(b, "\\\"");
        else if (ch == '\\') cg_buf_puts(b, "\\\\");
        else if (ch == '\n') cg_buf_puts(b, "\\n");
        else if (ch == '\t') cg_buf_puts(b, "\\t");
        else if (ch < 0x20 || ch == 0x7f) cg_buf_printf(b, "\\u%04x", ch);
        else cg_buf_putc(b, (char)ch);
    }
    cg_buf_putc(b, '"');
}

void cg_sh_quote(CgBuf *b, const char *s)
{
    cg_buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'') cg_buf_puts(b, "'\\''");
        else cg_buf_putc(b, *s);
    }
    cg_buf_putc(b, '\'');
}

void cg_double(CgBuf *b, double d)
{
    if (isnan(d)) {
        cg_buf_puts(b, "(0.0 / 0.0)");
        return;
    }
    if (isinf(d)) {
        cg_buf_puts(b, d > 0 ? "(1e308 * 10.0)" : "(-1e308 * 10.0)");
        return;
    }
    char tmp[40];
    /* integers as integers (range first: converting 1e300 to long long is undefined) */
    if (d > -1e15 && d < 1e15 && d == (double)(long long)d) {
        snprintf(tmp, sizeof tmp, "%lld", (long long)d);
        cg_buf_puts(b, tmp);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    cg_buf_puts(b, tmp);
}

int cg_sha256_hex(const void *data, size_t n, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(data, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        out[0] = '\0';
        return -1;
    }
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
    return 0;
}
