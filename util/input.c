/*
 * input.c: reading outside text with a bound, and the checks JSON text must pass before it is
 * trusted (see input.h).
 *
 * Why these exist: a payload option such as `--input @/dev/zero` used to be read with a
 * doubling buffer until memory ran out, and cJSON, which checks the CLI's JSON arguments,
 * stops at a NUL byte (silently dropping what follows), keeps bytes that are not UTF-8 (the
 * runtime later turns them into U+FFFD) and reads 1e999999 as infinity (written back as
 * null). Each of those would change the value a user gave without a word, so they are errors
 * with the byte offset instead. The UTF-8 check is written here because none of the libraries
 * dwf links offers one (mbrtowc depends on the process locale); it follows the table of
 * well-formed byte sequences in the Unicode standard (section 3.9, table 3-7).
 */
#include "input.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int dwf__read_bounded(FILE *f, size_t limit, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    size_t cap = limit < 65536 ? limit + 1 : 65536, n = 0;
    char *b = malloc(cap + 1);
    if (!b) return -1;
    for (;;) {
        if (n == cap) {
            if (cap > limit) break; /* limit + 1 bytes read: more than allowed */
            size_t ncap = cap * 2 > limit ? limit + 1 : cap * 2;
            char *nb = realloc(b, ncap + 1);
            if (!nb) {
                free(b);
                return -1;
            }
            b = nb;
            cap = ncap;
        }
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                int e = errno;
                free(b);
                errno = e ? e : EIO;
                return -1;
            }
            break;
        }
    }
    if (n > limit) {
        free(b);
        return 1;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

int dwf__read_file_bounded(const char *path, size_t limit, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    int r = dwf__read_bounded(f, limit, buf, len);
    int e = errno;
    fclose(f);
    errno = e;
    return r;
}

/* Length of the well-formed UTF-8 sequence at s[0..n), or 0 if there is none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) need = 3;
    else if (c >= 0xF0 && c <= 0xF4) need = 4;
    else return 0; /* a continuation byte, an overlong lead (C0, C1) or above U+10FFFF */
    if (c == 0xE0) lo = 0xA0;      /* overlong */
    else if (c == 0xED) hi = 0x9F; /* UTF-16 surrogates */
    else if (c == 0xF0) lo = 0x90; /* overlong */
    else if (c == 0xF4) hi = 0x8F; /* above U+10FFFF */
    if (n < need || s[1] < lo || s[1] > hi) return 0;
    for (size_t k = 2; k < need; k++)
        if (s[k] < 0x80 || s[k] > 0xBF) return 0;
    return need;
}

size_t dwf__utf8_char(const char *s, size_t n)
{
    return n ? utf8_len((const unsigned char *)s, n) : 0;
}

size_t dwf__text_bad_byte(const char *text, size_t len, const char **what)
{
    const unsigned char *u = (const unsigned char *)text;
    for (size_t i = 0; i < len;) {
        if (u[i] == 0) {
            if (what) *what = "a NUL byte";
            return i;
        }
        size_t k = utf8_len(u + i, len - i);
        if (k == 0) {
            if (what) *what = "invalid UTF-8";
            return i;
        }
        i += k;
    }
    if (what) *what = NULL;
    return len;
}

size_t dwf__json_bad_number(const char *text, size_t len, size_t *n_len)
{
    *n_len = 0;
    for (size_t i = 0; i < len;) {
        char c = text[i];
        if (c == '"') { /* skip the string, escapes included */
            for (i++; i < len && text[i] != '"'; i++)
                if (text[i] == '\\') i++;
            i++;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            i++;
            continue;
        }
        size_t j = i + 1;
        while (j < len && strchr("0123456789.eE+-", text[j]) && text[j]) j++;
        char small[64], *num = j - i < sizeof small ? small : malloc(j - i + 1);
        if (!num) { /* cannot look: call it out of range rather than let it through */
            *n_len = j - i;
            return i;
        }
        memcpy(num, text + i, j - i);
        num[j - i] = '\0';
        int finite = isfinite(strtod(num, NULL));
        if (num != small) free(num);
        if (!finite) {
            *n_len = j - i;
            return i;
        }
        i = j;
    }
    return len;
}
