/*
 * value.c: the values that .dwf expressions compute, and their JSON text.
 *
 * Values are cJSON trees owned by the invocation's pool (dwf__adopt). Everything here is shaped
 * by two rules: a value handed out is never mutated again (so constructors copy their arguments
 * and getters may return borrowed sub-nodes, which live as long as their root), and expression
 * helpers never fail mid-expression (a type error is recorded with dwf__set_error and the
 * helper yields null; generated code checks dwf_failed() once per statement).
 *
 * Semantics (the language reference, docs/language.md, describes them for users):
 *
 *  Types        null, boolean, number (a double), string, array, object: JSON's.
 *  Numbers      Always finite. dwf_num() of NaN/Infinity gives null (JSON.stringify's answer);
 *               arithmetic whose result would not be finite is an error RangeError. Numbers
 *               print as JavaScript's String(n) / JSON.stringify: 4980, 0.1, 1774019546545,
 *               100000000000000000000, 1e+21, 1e-7, 0.7999999999999999, -0 as 0 (shortest
 *               text that reads back to the same double).
 *  Strings      UTF-8. A NUL byte (dwf_strn, "\u0000" in JSON, an HTTP body) is kept as the
 *               two bytes C0 80 ("modified UTF-8") so a cJSON string stays a C string; every
 *               printer turns it back into \u0000 (JSON) or a NUL byte (HTTP bodies). Bytes that
 *               are not valid UTF-8 become U+FFFD, as JavaScript's TextDecoder does, so every
 *               string prints as valid JSON. len() counts code points (JavaScript counts UTF-16
 *               units: differs only for characters outside the BMP, such as emoji). < and >
 *               on strings compare code points (byte order of UTF-8). A lone UTF-16
 *               surrogate from JSON ("\ud800") is kept, as JSON.parse keeps it (is_surrogate).
 *  Objects      Keys are unique and kept in JavaScript's order: "array index" keys ("0",
 *               "17") first in ascending order, then the others in insertion order (so
 *               {b: 1, "2": 0} writes as {"2":0,"b":1}, as JSON.stringify does); a repeated
 *               key replaces the value in place (like an object literal and JSON.parse).
 *  Truthiness   false, null, 0, "" and a missing value are false; everything else, including
 *               [] and {}, is true (JavaScript's rule).
 *  a + b        number + number adds; string + string concatenates; string + anything else
 *               (either side) concatenates the other's text (template rules below, so
 *               "n=" + {a:1} is n={"a":1}, not JavaScript's [object Object]); object + object
 *               is a shallow merge, right side wins (`item + { processed: true }`); array +
 *               array concatenates. Any other mix is a TypeError.
 *  - * / %      numbers only, else TypeError. / and % by zero are an error DivisionByZero
 *               (JavaScript's Infinity/NaN would only turn into null when recorded). % is
 *               JavaScript's (fmod: the sign follows the dividend).
 *  == !=        deep equality: same type and same value; arrays element by element, objects
 *               key by key regardless of order; 1 == 1.0; no coercion ("1" != 1).
 *  < <= > >=    two numbers or two strings, else TypeError.
 *  -a           numbers only. !a is the negated truthiness.
 *  a ?? b       b when a is null or missing, else a.
 *  a.key        null when a is not an object or lacks key: like optional chaining `a?.key`,
 *               never an error, so `input.orderId ?? "ORD-001"` works on any input.
 *  a[i]         arrays by integer index or its canonical text ("2", as JavaScript allows;
 *               out of range, negative or fractional: null); strings by integer index give
 *               one character; objects by string key (a number key is used as its text: o[1]
 *               is o["1"]); anything else null.
 *  "${x}"       interpolation: strings raw, numbers as above, everything else as JSON.
 *  for x in v   arrays give their items, objects their keys (as strings); anything else is
 *               zero iterations.
 *  Builtins     listed with their semantics at the top of builtin.c.
 *  JSON text    dwf__to_json is JSON.stringify byte for byte (checked against node on 606k
 *               random and edge-case doubles and 200k fuzzed JSON texts); dwf__parse_json is JSON.parse (strict RFC 8259,
 *               nesting up to 1000, a repeated key keeps its first position and its last
 *               value, 1e999 reads as null since JSON.stringify would write Infinity so). The
 *               replay core records payloads with these, not cJSON's printer, so a replayed
 *               value is the value the step returned.
 *  Costs        v[i] and the i-th item of a for loop walk the array from its start (cJSON
 *               lists), so a loop over n items costs O(n^2) pointer steps: fine for
 *               thousands of items, not for millions.
 */
#include <math.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Handed out when allocating a value failed: the error is pending, and the expression can go
 * on until the statement ends without dereferencing NULL. Never adopted, never linked. */
static cJSON oom_null = {.type = cJSON_NULL};

dwf_val *dwf__own(dwf_ctx *c, cJSON *v)
{
    if (!v) {
        dwf__set_error(c, "OutOfMemory", "out of memory building a value");
        return &oom_null;
    }
    dwf_val *r = dwf__adopt(c, v); /* NULL: the pool could not grow; it freed v and said so */
    return r ? r : &oom_null;
}

cJSON *dwf__push(cJSON *a, cJSON *item)
{
    if (!a || !item || !cJSON_AddItemToArray(a, item)) {
        cJSON_Delete(item);
        cJSON_Delete(a);
        return NULL;
    }
    return a;
}

int dwf__add_str(cJSON *obj, const char *key, const char *value, int ref)
{
    if (!value) return -1; /* as cJSON_AddStringToObject refuses one */
    cJSON *v = ref ? cJSON_CreateStringReference(value) : cJSON_CreateString(value);
    if (!v) return -1;
    cJSON_AddItemToObjectCS(obj, key, v); /* literal key: no allocation, cannot fail */
    return 0;
}

/* A missing value (NULL pointer) reads as null everywhere. */
static int is_null(const cJSON *v) { return !v || cJSON_IsNull(v) || cJSON_IsInvalid(v); }

const char *dwf__type_name(const cJSON *v)
{
    if (is_null(v)) return "null";
    if (cJSON_IsBool(v)) return "boolean";
    if (cJSON_IsNumber(v)) return "number";
    if (cJSON_IsString(v)) return "string";
    if (cJSON_IsArray(v)) return "array";
    if (cJSON_IsObject(v)) return "object";
    if (dwf__is_lambda(v)) return "lambda";
    return "null";
}

/* ---- text buffers ------------------------------------------------------------------------ */
void dwf__buf_add(dwf__buf *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        /* 256 to start: from 64, a step result's or a checkpoint payload's text grew by two
         * or three reallocs, ~18 per execution of bench/throughput.sh's 3-step workflow */
        size_t cap = b->cap ? b->cap : 256;
        if (n > ((size_t)-1 >> 2) - b->len) { /* would overflow the doubling below */
            free(b->p);
            *b = (dwf__buf){.oom = 1};
            return;
        }
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            free(b->p);
            b->p = NULL;
            b->len = b->cap = 0;
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void dwf__buf_str(dwf__buf *b, const char *s) { dwf__buf_add(b, s, strlen(s)); }

/* The text of a finished buffer: malloc'd, "" for an empty one, NULL after an allocation
 * failure. */
static char *buf_take(dwf__buf *b)
{
    if (b->oom) return NULL;
    if (!b->p) return strdup("");
    return b->p;
}

/* ---- strings: UTF-8 with NUL as C0 80 ---------------------------------------------------- */
/* Length of the valid UTF-8 sequence at s (n bytes available), or 0 if it is not one.
 * Rejects overlong forms, surrogates and code points above U+10FFFF, as TextDecoder does. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && s[1] < 0xA0) return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0) return 0; /* UTF-16 surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90) return 0;  /* overlong */
        if (c == 0xF4 && s[1] >= 0x90) return 0; /* above U+10FFFF */
        return 4;
    }
    return 0;
}

/* Length of the "maximal subpart" at an invalid sequence: the bytes that start a valid
 * sequence but do not finish one. The WHATWG decoder (TextDecoder, Buffer.toString) replaces
 * each such subpart, or else one byte, by one U+FFFD; doing the same keeps our strings equal to
 * what JavaScript would make of the same bytes. */
static size_t utf8_bad(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t need;
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) need = 3;
    else if (c >= 0xF0 && c <= 0xF4) need = 4;
    else return 1;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
    size_t k = 1;
    for (; k < need && k < n; k++) {
        if (s[k] < lo || s[k] > hi) break;
        lo = 0x80;
        hi = 0xBF;
    }
    return k;
}

/* Append bytes in the string encoding: NUL -> C0 80, invalid UTF-8 -> U+FFFD. */
static void buf_add_bytes(dwf__buf *b, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0; /* run: start of the current stretch copied as is */
    while (i < n) {
        if (u[i] >= 0x01 && u[i] < 0x80) {
            i++;
            continue;
        }
        size_t k = u[i] ? utf8_seq(u + i, n - i) : 0;
        if (k) {
            i += k;
            continue;
        }
        dwf__buf_add(b, s + run, i - run);
        dwf__buf_add(b, u[i] ? "\xEF\xBF\xBD" : "\xC0\x80", u[i] ? 3 : 2);
        i += u[i] ? utf8_bad(u + i, n - i) : 1;
        run = i;
    }
    dwf__buf_add(b, s + run, n - run);
}

cJSON *dwf__new_string(const char *s, size_t n)
{
    dwf__buf b = {0};
    buf_add_bytes(&b, s ? s : "", s ? n : 0);
    char *t = buf_take(&b);
    if (!t) return NULL;
    cJSON *v = cJSON_CreateString(t);
    free(t);
    return v;
}

/* A lone UTF-16 surrogate (JSON "\ud800" without its pair): JSON.parse keeps it in the
 * string and JSON.stringify writes it back as "\ud800", so we keep it too, as the 3 bytes
 * UTF-8 would use for it were it a character (ED A0..BF 80..BF, "WTF-8"). Only the JSON
 * parser makes these; bytes from outside with that shape are invalid UTF-8 and become U+FFFD
 * like any other. */
static int is_surrogate(const unsigned char *s)
{
    return s[0] == 0xED && s[1] >= 0xA0 && s[1] <= 0xBF && s[2] >= 0x80 && s[2] <= 0xBF;
}

char *dwf__string_bytes(const char *s, size_t *n)
{
    size_t len = strlen(s), o = 0;
    char *out = malloc(len + 1);
    if (!out) return NULL;
    for (size_t i = 0; i < len; i++) {
        const unsigned char *u = (const unsigned char *)s + i;
        if (u[0] == 0xC0 && u[1] == 0x80) {
            out[o++] = '\0';
            i++;
        } else if (is_surrogate(u)) { /* TextEncoder writes a lone surrogate as U+FFFD */
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    *n = o;
    return out;
}

/* ---- numbers as JavaScript prints them -------------------------------------------------- */
/* Does the decimal digits[0..k) x 10^(e-k+1) (sign neg) read back as d? Writes the text. */
static int digits_roundtrip(double d, int neg, const char *dig, int k, int e, char *text, size_t cap)
{
    snprintf(text, cap, "%s%c%s%.*se%d", neg ? "-" : "", dig[0], k > 1 ? "." : "", k - 1, dig + 1, e);
    return strtod(text, NULL) == d;
}

/* The shortest digits (and decimal exponent) that read back as d: ECMAScript's Number::toString
 * choice. For each length k from 1 to 17, printf gives the correctly rounded k digits; if they
 * do not read back, the neighbour one unit away on the other side still may (just above a power
 * of two the doubles are twice as far apart below as above, so the interval that reads back is
 * lopsided), and it is then the closest k-digit decimal that does. */
static int shortest_digits(double d, char dig[24], int *exp10)
{
    char tmp[48], text[48];
    int neg = d < 0;
    /* For a normal double, if 15 digits read back then they are the shortest digits padded
     * with zeros (a double is within 1.2e-16 relative of any decimal that reads back as it,
     * well inside half a unit of the 15th digit): try 15 first and skip lengths 1..14. */
    int first = fabs(d) >= 2.2250738585072014e-308 ? 15 : 1;
    if (first == 15) {
        snprintf(tmp, sizeof tmp, "%.14e", fabs(d));
        if (strtod(tmp, NULL) != fabs(d)) first = 16;
    }
    for (int k = first; k <= 17; k++) {
        snprintf(tmp, sizeof tmp, "%.*e", k - 1, fabs(d));
        int n = 0;
        const char *p = tmp;
        for (; *p && *p != 'e'; p++)
            if (*p >= '0' && *p <= '9') dig[n++] = *p;
        dig[n] = '\0';
        int e = atoi(p + 1);
        if (digits_roundtrip(d, neg, dig, k, e, text, sizeof text)) {
            *exp10 = e;
            return k;
        }
        for (int dir = -1; dir <= 1; dir += 2) {
            char alt[24];
            int ae = e;
            memcpy(alt, dig, (size_t)k + 1);
            int i = k - 1;
            if (dir > 0) { /* +1 in the last place, carrying */
                while (i >= 0 && alt[i] == '9') alt[i--] = '0';
                if (i < 0) {
                    alt[0] = '1'; /* 99..9 + 1 = 100..0: one more decimal place */
                    ae++;
                } else {
                    alt[i]++;
                }
            } else { /* -1 in the last place, borrowing */
                while (i >= 0 && alt[i] == '0') alt[i--] = '9';
                if (i < 0) continue; /* cannot happen: the first digit is not 0 */
                alt[i]--;
                if (alt[0] == '0') { /* 10..0 - 1 = 099..9: drop the leading 0 */
                    memmove(alt, alt + 1, (size_t)k);
                    alt[k - 1] = '9';
                    ae--;
                }
            }
            if (digits_roundtrip(d, neg, alt, k, ae, text, sizeof text)) {
                memcpy(dig, alt, (size_t)k + 1);
                *exp10 = ae;
                return k;
            }
        }
    }
    /* 17 digits always read back; not reached */
    snprintf(tmp, sizeof tmp, "%.16e", fabs(d));
    int n = 0;
    const char *p = tmp;
    for (; *p && *p != 'e'; p++)
        if (*p >= '0' && *p <= '9') dig[n++] = *p;
    dig[n] = '\0';
    *exp10 = atoi(p + 1);
    return n;
}

/* ECMAScript Number::toString layout: plain digits for decimal exponents -7 < e < 21, else
 * e-notation (1e+21, 1.5e-7). */
void dwf__num_text(double d, char out[32])
{
    if (!isfinite(d)) {
        strcpy(out, "null");
        return;
    }
    if (d == 0) { /* also -0, which JavaScript prints as 0 */
        strcpy(out, "0");
        return;
    }
    if (fabs(d) < 9007199254740992.0 && d == floor(d)) { /* exact integers: the common case */
        /* digit by digit: what "%.0f" prints for them, without snprintf's ~1,400 instructions
         * (two per at-most-once step: its result and the running sum, callgrind) */
        unsigned long long v = (unsigned long long)fabs(d);
        char tmp[20];
        int n = 0;
        do {
            tmp[n++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        char *o = out;
        if (d < 0) *o++ = '-';
        while (n) *o++ = tmp[--n];
        *o = '\0';
        return;
    }
    char dig[24];
    int e;
    int k = shortest_digits(d, dig, &e);
    while (k > 1 && dig[k - 1] == '0') k--;
    dig[k] = '\0';
    int n = e + 1; /* position of the decimal point relative to the digits */
    char *o = out;
    if (d < 0) *o++ = '-';
    if (k <= n && n <= 21) {
        memcpy(o, dig, (size_t)k);
        o += k;
        for (int i = 0; i < n - k; i++) *o++ = '0';
    } else if (0 < n && n <= 21) {
        memcpy(o, dig, (size_t)n);
        o += n;
        *o++ = '.';
        memcpy(o, dig + n, (size_t)(k - n));
        o += k - n;
    } else if (-6 < n && n <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -n; i++) *o++ = '0';
        memcpy(o, dig, (size_t)k);
        o += k;
    } else {
        *o++ = dig[0];
        if (k > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)(k - 1));
            o += k - 1;
        }
        o += sprintf(o, "e%c%d", n - 1 < 0 ? '-' : '+', abs(n - 1));
    }
    *o = '\0';
}

/* ---- JSON text (JSON.stringify) ---------------------------------------------------------- */
/* JavaScript objects list "array index" keys (canonical integers 0 .. 2^32-2: "0", "17", not
 * "01" or "-1") before all other keys, in ascending order; other keys keep insertion order.
 * JSON.stringify and Object.keys follow that order, so {"b":1,"2":0} is written {"2":0,"b":1}.
 * Objects we build are kept in that order (obj_add); the printer reorders any that are not. */
static int index_key(const char *k, unsigned long *out)
{
    if (!k || !*k || (k[0] == '0' && k[1])) return 0;
    unsigned long v = 0;
    for (; *k; k++) {
        if (*k < '0' || *k > '9') return 0;
        v = v * 10 + (unsigned long)(*k - '0');
        if (v > 4294967294UL) return 0;
    }
    *out = v;
    return 1;
}

typedef struct keyed {
    unsigned long n;
    const cJSON *item;
} keyed;

static int keyed_cmp(const void *a, const void *b)
{
    unsigned long x = ((const keyed *)a)->n, y = ((const keyed *)b)->n;
    return x < y ? -1 : x > y;
}

static void buf_json_string(dwf__buf *b, const char *s);

/* JSON.stringify(v, null, indent): indent 0 is the compact form. */
static void buf_json_at(dwf__buf *b, const cJSON *v, int indent, int depth);

/* Before an item of a container: the separator and, when indenting, a new line. */
static void buf_item_start(dwf__buf *b, int *first, int indent, int depth)
{
    if (!*first) dwf__buf_add(b, ",", 1);
    *first = 0;
    if (indent > 0) {
        dwf__buf_add(b, "\n", 1);
        for (int i = 0; i < indent * (depth + 1); i++) dwf__buf_add(b, " ", 1);
    }
}

/* After the last item: the closer on its own line when indenting (not for [] and {}). */
static void buf_close(dwf__buf *b, const char *closer, int first, int indent, int depth)
{
    if (indent > 0 && !first) {
        dwf__buf_add(b, "\n", 1);
        for (int i = 0; i < indent * depth; i++) dwf__buf_add(b, " ", 1);
    }
    dwf__buf_add(b, closer, 1);
}

static void buf_member(dwf__buf *b, const cJSON *it, int *first, int indent, int depth)
{
    buf_item_start(b, first, indent, depth);
    buf_json_string(b, it->string ? it->string : "");
    dwf__buf_add(b, indent > 0 ? ": " : ":", indent > 0 ? 2 : 1);
    buf_json_at(b, it, indent, depth + 1);
}

static void buf_json_object(dwf__buf *b, const cJSON *v, int indent, int depth)
{
    /* Already in JavaScript's order (the usual case)? */
    int ordered = 1, plain_seen = 0, nidx = 0;
    unsigned long last = 0, m;
    for (const cJSON *it = v->child; it; it = it->next) {
        if (!index_key(it->string, &m)) {
            plain_seen = 1;
            continue;
        }
        if (plain_seen || (nidx && m <= last)) ordered = 0;
        last = m;
        nidx++;
    }
    int first = 1;
    dwf__buf_add(b, "{", 1);
    if (ordered) {
        for (const cJSON *it = v->child; it; it = it->next) buf_member(b, it, &first, indent, depth);
    } else {
        keyed *ks = malloc((size_t)nidx * sizeof *ks);
        if (!ks) {
            free(b->p);
            *b = (dwf__buf){.oom = 1};
            return;
        }
        int k = 0;
        for (const cJSON *it = v->child; it; it = it->next)
            if (index_key(it->string, &m)) ks[k++] = (keyed){m, it};
        qsort(ks, (size_t)nidx, sizeof *ks, keyed_cmp);
        for (int i = 0; i < nidx; i++) buf_member(b, ks[i].item, &first, indent, depth);
        for (const cJSON *it = v->child; it; it = it->next)
            if (!index_key(it->string, &m)) buf_member(b, it, &first, indent, depth);
        free(ks);
    }
    buf_close(b, "}", first, indent, depth);
}

static void buf_json_string(dwf__buf *b, const char *s)
{
    dwf__buf_add(b, "\"", 1);
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        const char *esc = NULL;
        char u[8];
        if (ch == '"') esc = "\\\"";
        else if (ch == '\\') esc = "\\\\";
        else if (ch == '\b') esc = "\\b";
        else if (ch == '\f') esc = "\\f";
        else if (ch == '\n') esc = "\\n";
        else if (ch == '\r') esc = "\\r";
        else if (ch == '\t') esc = "\\t";
        else if (ch < 0x20) {
            snprintf(u, sizeof u, "\\u%04x", ch);
            esc = u;
        } else if (ch == 0xC0 && (unsigned char)p[1] == 0x80) {
            dwf__buf_add(b, run, (size_t)(p - run));
            dwf__buf_add(b, "\\u0000", 6);
            p++;
            run = p + 1;
            continue;
        } else if (ch == 0xED && is_surrogate((const unsigned char *)p)) {
            unsigned cp = 0xD000u | (((unsigned char)p[1] & 0x3Fu) << 6) | ((unsigned char)p[2] & 0x3Fu);
            snprintf(u, sizeof u, "\\u%04x", cp);
            dwf__buf_add(b, run, (size_t)(p - run));
            dwf__buf_add(b, u, 6);
            p += 2;
            run = p + 1;
            continue;
        }
        if (esc) {
            dwf__buf_add(b, run, (size_t)(p - run));
            dwf__buf_str(b, esc);
            run = p + 1;
        }
    }
    dwf__buf_str(b, run);
    dwf__buf_add(b, "\"", 1);
}

static void buf_json_at(dwf__buf *b, const cJSON *v, int indent, int depth)
{
    char num[32];
    if (is_null(v)) {
        dwf__buf_add(b, "null", 4);
    } else if (cJSON_IsTrue(v)) {
        dwf__buf_add(b, "true", 4);
    } else if (cJSON_IsFalse(v)) {
        dwf__buf_add(b, "false", 5);
    } else if (cJSON_IsNumber(v)) {
        dwf__num_text(v->valuedouble, num);
        dwf__buf_str(b, num);
    } else if (cJSON_IsString(v)) {
        buf_json_string(b, v->valuestring ? v->valuestring : "");
    } else if (cJSON_IsArray(v)) {
        int first = 1;
        dwf__buf_add(b, "[", 1);
        for (const cJSON *it = v->child; it; it = it->next) {
            buf_item_start(b, &first, indent, depth);
            buf_json_at(b, it, indent, depth + 1);
        }
        buf_close(b, "]", first, indent, depth);
    } else if (cJSON_IsObject(v)) {
        buf_json_object(b, v, indent, depth);
    } else if (cJSON_IsRaw(v) && v->valuestring) {
        dwf__buf_str(b, v->valuestring);
    } else {
        dwf__buf_add(b, "null", 4);
    }
}

char *dwf__to_json(const cJSON *v)
{
    dwf__buf b = {0};
    buf_json_at(&b, v, 0, 0);
    return buf_take(&b);
}

char *dwf__to_json_indent(const cJSON *v, int indent)
{
    dwf__buf b = {0};
    buf_json_at(&b, v, indent < 0 ? 0 : indent > 10 ? 10 : indent, 0);
    return buf_take(&b);
}

/* Template text: strings raw, numbers as JavaScript prints them, the rest as JSON. */
static void buf_text(dwf__buf *b, const cJSON *v)
{
    if (v && cJSON_IsString(v)) dwf__buf_str(b, v->valuestring ? v->valuestring : "");
    else buf_json_at(b, v, 0, 0);
}

char *dwf__to_text(const cJSON *v)
{
    dwf__buf b = {0};
    buf_text(&b, v);
    return buf_take(&b);
}

/* ---- JSON.parse --------------------------------------------------------------------------
 * Our own small parser rather than cJSON_Parse: cJSON cuts a string at "\u0000", accepts
 * some text JSON.parse rejects, and keeps both copies of a repeated key, where JSON.parse
 * keeps the last. */
typedef struct jparse {
    const char *start, *p, *end;
    char *err;
    int depth;
} jparse;

#define JSON_MAX_DEPTH 1000

static cJSON *jp_fail(jparse *j, const char *what)
{
    if (j->err && !j->err[0]) snprintf(j->err, 128, "%s at offset %ld", what, (long)(j->p - j->start));
    return NULL;
}

static void jp_ws(jparse *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
        j->p++;
}

static int jp_hex4(jparse *j, unsigned *out)
{
    if (j->end - j->p < 4) return 0;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = j->p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9') v |= (unsigned)(ch - '0');
        else if (ch >= 'a' && ch <= 'f') v |= (unsigned)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F') v |= (unsigned)(ch - 'A' + 10);
        else return 0;
    }
    j->p += 4;
    *out = v;
    return 1;
}

static void buf_utf8(dwf__buf *b, unsigned cp)
{
    char u[4];
    if (cp == 0) {
        dwf__buf_add(b, "\xC0\x80", 2);
    } else if (cp < 0x80) {
        u[0] = (char)cp;
        dwf__buf_add(b, u, 1);
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | (cp >> 6));
        u[1] = (char)(0x80 | (cp & 0x3F));
        dwf__buf_add(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | (cp >> 12));
        u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        dwf__buf_add(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | (cp >> 18));
        u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        dwf__buf_add(b, u, 4);
    }
}

/* A JSON string at j->p (just past the opening quote) into malloc'd text, or NULL. */
static char *jp_string(jparse *j)
{
    dwf__buf b = {0};
    const char *run = j->p;
    for (;;) {
        if (j->p >= j->end) {
            free(b.p);
            jp_fail(j, "unterminated string");
            return NULL;
        }
        unsigned char ch = (unsigned char)*j->p;
        if (ch == '"') {
            buf_add_bytes(&b, run, (size_t)(j->p - run));
            j->p++;
            break;
        }
        if (ch < 0x20) {
            free(b.p);
            jp_fail(j, "control character in string");
            return NULL;
        }
        if (ch != '\\') {
            j->p++;
            continue;
        }
        buf_add_bytes(&b, run, (size_t)(j->p - run));
        j->p++;
        if (j->p >= j->end) continue; /* reported as unterminated above */
        char e = *j->p++;
        switch (e) {
        case '"': dwf__buf_add(&b, "\"", 1); break;
        case '\\': dwf__buf_add(&b, "\\", 1); break;
        case '/': dwf__buf_add(&b, "/", 1); break;
        case 'b': dwf__buf_add(&b, "\b", 1); break;
        case 'f': dwf__buf_add(&b, "\f", 1); break;
        case 'n': dwf__buf_add(&b, "\n", 1); break;
        case 'r': dwf__buf_add(&b, "\r", 1); break;
        case 't': dwf__buf_add(&b, "\t", 1); break;
        case 'u': {
            unsigned cp, lo;
            if (!jp_hex4(j, &cp)) {
                free(b.p);
                jp_fail(j, "bad \\u escape");
                return NULL;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF && j->end - j->p >= 6 && j->p[0] == '\\' &&
                j->p[1] == 'u') {
                const char *save = j->p;
                j->p += 2;
                if (jp_hex4(j, &lo) && lo >= 0xDC00 && lo <= 0xDFFF)
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                else
                    j->p = save;
            }
            /* A lone surrogate is kept as its 3-byte form (see is_surrogate). */
            buf_utf8(&b, cp);
            break;
        }
        default:
            free(b.p);
            j->p--;
            jp_fail(j, "bad escape in string");
            return NULL;
        }
        run = j->p;
    }
    char *t = buf_take(&b);
    if (!t) jp_fail(j, "out of memory");
    return t;
}

static cJSON *jp_number(jparse *j)
{
    const char *s = j->p;
    if (j->p < j->end && *j->p == '-') j->p++;
    if (j->p < j->end && *j->p == '0') {
        j->p++;
    } else if (j->p < j->end && *j->p >= '1' && *j->p <= '9') {
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    } else {
        return jp_fail(j, "unexpected character");
    }
    if (j->p < j->end && *j->p == '.') {
        j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jp_fail(j, "bad number");
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    }
    if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
        j->p++;
        if (j->p < j->end && (*j->p == '+' || *j->p == '-')) j->p++;
        if (j->p >= j->end || *j->p < '0' || *j->p > '9') return jp_fail(j, "bad number");
        while (j->p < j->end && *j->p >= '0' && *j->p <= '9') j->p++;
    }
    size_t n = (size_t)(j->p - s);
    char small[64], *text = n < sizeof small ? small : malloc(n + 1);
    if (!text) return jp_fail(j, "out of memory");
    memcpy(text, s, n);
    text[n] = '\0';
    double d = strtod(text, NULL);
    if (text != small) free(text);
    /* 1e999 is Infinity to JSON.parse, which JSON.stringify would record as null. */
    cJSON *v = isfinite(d) ? cJSON_CreateNumber(d) : cJSON_CreateNull();
    if (!v) return jp_fail(j, "out of memory");
    return v;
}

static cJSON *jp_value(jparse *j);

/* Add a member whose key is not in obj yet, where JavaScript would put it (see index_key):
 * ordinary keys at the end, index keys after the index keys smaller than them. Searching
 * from the end makes the usual cases (no index keys, or index keys in ascending order) O(1). */
static int obj_add(cJSON *obj, const char *key, cJSON *val)
{
    unsigned long n, m;
    if (!index_key(key, &n)) return cJSON_AddItemToObject(obj, key, val) ? 1 : 0;
    char *k = strdup(key);
    if (!k) return 0;
    if (!(val->type & cJSON_StringIsConst)) free(val->string);
    val->string = k;
    val->type &= ~cJSON_StringIsConst;
    cJSON *p = obj->child ? obj->child->prev : NULL; /* cJSON keeps the tail in child->prev */
    while (p && !(index_key(p->string, &m) && m < n)) p = p == obj->child ? NULL : p->prev;
    if (!p) { /* new first member */
        val->next = obj->child;
        val->prev = obj->child ? obj->child->prev : val;
        if (obj->child) obj->child->prev = val;
        obj->child = val;
    } else {
        val->prev = p;
        val->next = p->next;
        if (p->next) p->next->prev = val;
        else obj->child->prev = val; /* p was the tail */
        p->next = val;
    }
    return 1;
}

/* Object member: replace in place if the key is already there (JSON.parse keeps the last
 * value at the first position). */
static int obj_put(cJSON *obj, const char *key, cJSON *val)
{
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(obj, key, val) ? 1 : 0;
    return obj_add(obj, key, val);
}

/* Keys of an object being parsed, for finding a repeated key without walking the list: JSON
 * from outside may have tens of thousands of keys. Open addressing over the member nodes; only
 * built once an object passes KEYSET_FROM members (small objects just walk their list). */
#define KEYSET_FROM 16
typedef struct keyset {
    cJSON **slot;
    size_t cap, n;
} keyset;

static size_t key_hash(const char *s)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The slot holding key, or the empty slot where it would go. */
static cJSON **keyset_slot(keyset *ks, const char *key)
{
    size_t i = key_hash(key) & (ks->cap - 1);
    while (ks->slot[i] && strcmp(ks->slot[i]->string, key) != 0) i = (i + 1) & (ks->cap - 1);
    return &ks->slot[i];
}

/* Make room for one more key (and index the object's members when first called). */
static int keyset_reserve(keyset *ks, const cJSON *obj)
{
    if (ks->cap && (ks->n + 1) * 2 <= ks->cap) return 1;
    size_t cap = ks->cap ? ks->cap * 2 : 64;
    cJSON **slot = calloc(cap, sizeof *slot);
    if (!slot) return 0;
    free(ks->slot);
    ks->slot = slot;
    ks->cap = cap;
    ks->n = 0;
    for (cJSON *it = obj->child; it; it = it->next) {
        *keyset_slot(ks, it->string) = it;
        ks->n++;
    }
    return 1;
}

/* obj_put for the parser: a repeated key replaces the earlier value in place. */
static int parse_put(cJSON *obj, keyset *ks, int count, const char *key, cJSON *val)
{
    if (count < KEYSET_FROM) return obj_put(obj, key, val);
    if (!keyset_reserve(ks, obj)) return 0;
    cJSON **slot = keyset_slot(ks, key);
    if (*slot) {
        char *k = strdup(key);
        if (!k) return 0;
        val->string = k;
        if (!cJSON_ReplaceItemViaPointer(obj, *slot, val)) { /* frees the old member */
            val->string = NULL;
            free(k);
            return 0;
        }
        *slot = val;
        return 1;
    }
    if (!obj_add(obj, key, val)) return 0;
    *slot = val;
    ks->n++;
    return 1;
}

static cJSON *jp_container(jparse *j, int is_obj)
{
    keyset ks = {0};
    int count = 0;
    if (++j->depth > JSON_MAX_DEPTH) return jp_fail(j, "nesting too deep");
    cJSON *v = is_obj ? cJSON_CreateObject() : cJSON_CreateArray();
    if (!v) return jp_fail(j, "out of memory");
    char close = is_obj ? '}' : ']';
    j->p++;
    jp_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        j->depth--;
        return v;
    }
    for (;;) {
        char *key = NULL;
        jp_ws(j);
        if (is_obj) {
            if (j->p >= j->end || *j->p != '"') goto bad_key;
            j->p++;
            if (!(key = jp_string(j))) goto fail;
            jp_ws(j);
            if (j->p >= j->end || *j->p != ':') {
                free(key);
                jp_fail(j, "expected ':'");
                goto fail;
            }
            j->p++;
        }
        cJSON *item = jp_value(j);
        if (!item) {
            free(key);
            goto fail;
        }
        int ok = is_obj ? parse_put(v, &ks, count++, key, item) : cJSON_AddItemToArray(v, item) ? 1 : 0;
        free(key);
        if (!ok) {
            cJSON_Delete(item);
            jp_fail(j, "out of memory");
            goto fail;
        }
        jp_ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            j->depth--;
            free(ks.slot);
            return v;
        }
        jp_fail(j, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
        goto fail;
    }
bad_key:
    jp_fail(j, "expected a string key");
fail:
    free(ks.slot);
    cJSON_Delete(v);
    return NULL;
}

static int jp_word(jparse *j, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0) return 0;
    j->p += n;
    return 1;
}

static cJSON *jp_value(jparse *j)
{
    jp_ws(j);
    if (j->p >= j->end) return jp_fail(j, "unexpected end of JSON");
    cJSON *v = NULL;
    switch (*j->p) {
    case '{': return jp_container(j, 1);
    case '[': return jp_container(j, 0);
    case '"': {
        j->p++;
        char *s = jp_string(j);
        if (!s) return NULL;
        v = cJSON_CreateString(s);
        free(s);
        break;
    }
    case 't':
        if (!jp_word(j, "true")) return jp_fail(j, "unexpected character");
        v = cJSON_CreateTrue();
        break;
    case 'f':
        if (!jp_word(j, "false")) return jp_fail(j, "unexpected character");
        v = cJSON_CreateFalse();
        break;
    case 'n':
        if (!jp_word(j, "null")) return jp_fail(j, "unexpected character");
        v = cJSON_CreateNull();
        break;
    default: return jp_number(j);
    }
    if (!v) return jp_fail(j, "out of memory");
    return v;
}

cJSON *dwf__parse_json(const char *text, size_t len, char err[128])
{
    if (err) err[0] = '\0';
    jparse j = {text, text, text + len, err, 0};
    cJSON *v = jp_value(&j);
    if (v) {
        jp_ws(&j);
        if (j.p != j.end) {
            cJSON_Delete(v);
            v = jp_fail(&j, "unexpected text after JSON");
        }
    }
    return v;
}

/* ---- deep equality ---------------------------------------------------------------------- */
int dwf__equal(const cJSON *a, const cJSON *b)
{
    if (is_null(a) || is_null(b)) return is_null(a) && is_null(b);
    if (cJSON_IsBool(a) || cJSON_IsBool(b))
        return cJSON_IsBool(a) && cJSON_IsBool(b) && cJSON_IsTrue(a) == cJSON_IsTrue(b);
    if ((a->type & 0xFF) != (b->type & 0xFF)) return 0;
    if (cJSON_IsNumber(a)) return a->valuedouble == b->valuedouble;
    if (cJSON_IsString(a))
        return strcmp(a->valuestring ? a->valuestring : "", b->valuestring ? b->valuestring : "") == 0;
    if (cJSON_IsArray(a)) {
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next)
            if (!dwf__equal(x, y)) return 0;
        return !x && !y;
    }
    if (cJSON_IsObject(a)) {
        if (cJSON_GetArraySize(a) != cJSON_GetArraySize(b)) return 0;
        for (const cJSON *x = a->child; x; x = x->next) {
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
            if (!y || !dwf__equal(x, y)) return 0;
        }
        return 1;
    }
    return 0;
}

/* ---- constructors ------------------------------------------------------------------------ */
dwf_val *dwf_null(dwf_ctx *c) { return dwf__own(c, cJSON_CreateNull()); }
dwf_val *dwf_bool(dwf_ctx *c, int b) { return dwf__own(c, cJSON_CreateBool(b ? 1 : 0)); }

dwf_val *dwf_num(dwf_ctx *c, double n)
{
    return dwf__own(c, isfinite(n) ? cJSON_CreateNumber(n) : cJSON_CreateNull());
}

/* dwf_str and dwf_strn take raw bytes (a C literal, text from outside) and encode them; a
 * value's own valuestring is already encoded, so copy it with cJSON_CreateString instead, or
 * its NULs (C0 80) would be read as invalid bytes. */
dwf_val *dwf_str(dwf_ctx *c, const char *s) { return dwf__own(c, dwf__new_string(s, s ? strlen(s) : 0)); }
dwf_val *dwf_strn(dwf_ctx *c, const char *s, size_t n) { return dwf__own(c, dwf__new_string(s, n)); }

/* A copy of v for linking into a new tree (NULL reads as null). */
static cJSON *copy(const cJSON *v) { return is_null(v) ? cJSON_CreateNull() : cJSON_Duplicate(v, 1); }

dwf_val *dwf_obj(dwf_ctx *c, int n, ...)
{
    va_list ap;
    cJSON *o = cJSON_CreateObject();
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        const char *k = va_arg(ap, const char *);
        dwf_val *v = va_arg(ap, dwf_val *);
        if (!o) continue; /* drain the arguments anyway */
        cJSON *item = copy(v);
        if (!item || !obj_put(o, k ? k : "", item)) {
            cJSON_Delete(item);
            cJSON_Delete(o);
            o = NULL;
        }
    }
    va_end(ap);
    return dwf__own(c, o);
}

dwf_val *dwf_arr(dwf_ctx *c, int n, ...)
{
    va_list ap;
    cJSON *a = cJSON_CreateArray();
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        dwf_val *v = va_arg(ap, dwf_val *);
        if (!a) continue;
        cJSON *item = copy(v);
        a = dwf__push(a, item);
    }
    va_end(ap);
    return dwf__own(c, a);
}

dwf_val *dwf_concat(dwf_ctx *c, int n, ...)
{
    va_list ap;
    dwf__buf b = {0};
    va_start(ap, n);
    for (int i = 0; i < n; i++) buf_text(&b, va_arg(ap, dwf_val *));
    va_end(ap);
    char *t = buf_take(&b);
    if (!t) return dwf__own(c, NULL);
    /* The parts are already in the string encoding: no re-validation needed. */
    dwf_val *v = dwf__own(c, cJSON_CreateString(t));
    free(t);
    return v;
}

dwf_val *dwf_input(dwf_ctx *c)
{
    dwf_val *v = dwf__input(c);
    return v ? v : dwf__own(c, cJSON_CreateObject());
}

/* ---- access ------------------------------------------------------------------------------ */
dwf_val *dwf_get(dwf_ctx *c, dwf_val *v, const char *key)
{
    if (v && cJSON_IsObject(v) && key) {
        cJSON *item = cJSON_GetObjectItemCaseSensitive(v, key);
        if (item) return item;
    }
    return dwf_null(c);
}

/* The integer an index value holds, or -1 if it is not a non-negative integer. */
static long long as_index(const cJSON *i)
{
    if (!i || !cJSON_IsNumber(i)) return -1;
    double d = i->valuedouble;
    if (d < 0 || d != floor(d) || d > 9007199254740991.0) return -1;
    return (long long)d;
}

/* The code point at byte s: its byte length (1 for a stray byte, never 0 before the end). */
static size_t cp_len(const char *s)
{
    size_t n = strnlen(s, 4);
    size_t k = utf8_seq((const unsigned char *)s, n);
    if (!k && (unsigned char)s[0] == 0xC0 && (unsigned char)s[1] == 0x80) k = 2;
    if (!k && n >= 3 && is_surrogate((const unsigned char *)s)) k = 3;
    return k ? k : 1;
}

dwf_val *dwf_index(dwf_ctx *c, dwf_val *v, dwf_val *index)
{
    if (v && cJSON_IsArray(v)) {
        long long i = as_index(index);
        unsigned long k;
        if (index && cJSON_IsString(index) && index_key(index->valuestring, &k)) i = (long long)k;
        if (i >= 0 && i <= 0x7fffffff) {
            cJSON *item = cJSON_GetArrayItem(v, (int)i);
            if (item) return item;
        }
    } else if (v && cJSON_IsObject(v) && index) {
        char num[32];
        const char *key = NULL;
        if (cJSON_IsString(index)) {
            key = index->valuestring;
        } else if (cJSON_IsNumber(index)) {
            dwf__num_text(index->valuedouble, num);
            key = num;
        }
        cJSON *item = key ? cJSON_GetObjectItemCaseSensitive(v, key) : NULL;
        if (item) return item;
    } else if (v && cJSON_IsString(v) && v->valuestring) {
        long long i = as_index(index);
        const char *s = v->valuestring;
        for (; i > 0 && *s; i--) s += cp_len(s);
        if (i == 0 && *s) { /* already in the string encoding: copy the bytes as they are */
            char *t = strndup(s, cp_len(s));
            dwf_val *r = dwf__own(c, t ? cJSON_CreateString(t) : NULL);
            free(t);
            return r;
        }
    }
    return dwf_null(c);
}

/* ---- operators --------------------------------------------------------------------------- */
static const char *op_name(int op)
{
    static const char *const names[] = {"+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=",
                                        "-", "!"};
    return op >= 0 && op < (int)(sizeof names / sizeof names[0]) ? names[op] : "?";
}

static dwf_val *type_error(dwf_ctx *c, int op, const cJSON *a, const cJSON *b)
{
    char msg[160];
    if (b)
        snprintf(msg, sizeof msg, "operator '%s' cannot be applied to %s and %s", op_name(op),
                 dwf__type_name(a), dwf__type_name(b));
    else
        snprintf(msg, sizeof msg, "operator '%s' cannot be applied to %s", op_name(op),
                 dwf__type_name(a));
    dwf__set_error(c, "TypeError", msg);
    return dwf_null(c);
}

static dwf_val *number_result(dwf_ctx *c, int op, double a, double b, double r)
{
    if (isfinite(r)) return dwf__own(c, cJSON_CreateNumber(r));
    char msg[160], x[32], y[32];
    dwf__num_text(a, x);
    dwf__num_text(b, y);
    snprintf(msg, sizeof msg, "%s %s %s is not a finite number", x, op_name(op), y);
    dwf__set_error(c, "RangeError", msg);
    return dwf_null(c);
}

static dwf_val *add(dwf_ctx *c, dwf_val *a, dwf_val *b)
{
    if (a && b && cJSON_IsNumber(a) && cJSON_IsNumber(b))
        return number_result(c, DWF_OP_ADD, a->valuedouble, b->valuedouble,
                             a->valuedouble + b->valuedouble);
    if ((a && cJSON_IsString(a)) || (b && cJSON_IsString(b))) {
        dwf__buf t = {0};
        buf_text(&t, a);
        buf_text(&t, b);
        char *s = buf_take(&t);
        dwf_val *v = dwf__own(c, s ? cJSON_CreateString(s) : NULL);
        free(s);
        return v;
    }
    if (a && b && cJSON_IsObject(a) && cJSON_IsObject(b)) {
        cJSON *o = cJSON_Duplicate(a, 1);
        for (const cJSON *it = b->child; o && it; it = it->next) {
            cJSON *item = cJSON_Duplicate(it, 1);
            if (!item || !obj_put(o, it->string, item)) {
                cJSON_Delete(item);
                cJSON_Delete(o);
                o = NULL;
            }
        }
        return dwf__own(c, o);
    }
    if (a && b && cJSON_IsArray(a) && cJSON_IsArray(b)) {
        cJSON *o = cJSON_Duplicate(a, 1);
        for (const cJSON *it = b->child; o && it; it = it->next) {
            cJSON *item = cJSON_Duplicate(it, 1);
            o = dwf__push(o, item);
        }
        return dwf__own(c, o);
    }
    return type_error(c, DWF_OP_ADD, a, b);
}

dwf_val *dwf_binop(dwf_ctx *c, int op, dwf_val *a, dwf_val *b)
{
    switch (op) {
    case DWF_OP_ADD: return add(c, a, b);
    case DWF_OP_EQ: return dwf_bool(c, dwf__equal(a, b));
    case DWF_OP_NE: return dwf_bool(c, !dwf__equal(a, b));
    case DWF_OP_SUB:
    case DWF_OP_MUL:
    case DWF_OP_DIV:
    case DWF_OP_MOD: {
        if (!a || !b || !cJSON_IsNumber(a) || !cJSON_IsNumber(b)) return type_error(c, op, a, b);
        double x = a->valuedouble, y = b->valuedouble;
        if ((op == DWF_OP_DIV || op == DWF_OP_MOD) && y == 0) {
            char msg[96], xs[32];
            dwf__num_text(x, xs);
            snprintf(msg, sizeof msg, "%s %s 0: division by zero", xs, op_name(op));
            dwf__set_error(c, "DivisionByZero", msg);
            return dwf_null(c);
        }
        double r = op == DWF_OP_SUB ? x - y : op == DWF_OP_MUL ? x * y : op == DWF_OP_DIV ? x / y
                                                                                         : fmod(x, y);
        return number_result(c, op, x, y, r);
    }
    case DWF_OP_LT:
    case DWF_OP_LE:
    case DWF_OP_GT:
    case DWF_OP_GE: {
        int cmp;
        if (a && b && cJSON_IsNumber(a) && cJSON_IsNumber(b))
            cmp = a->valuedouble < b->valuedouble ? -1 : a->valuedouble > b->valuedouble ? 1 : 0;
        else if (a && b && cJSON_IsString(a) && cJSON_IsString(b))
            cmp = strcmp(a->valuestring ? a->valuestring : "", b->valuestring ? b->valuestring : "");
        else
            return type_error(c, op, a, b);
        int r = op == DWF_OP_LT ? cmp < 0 : op == DWF_OP_LE ? cmp <= 0 : op == DWF_OP_GT ? cmp > 0
                                                                                        : cmp >= 0;
        return dwf_bool(c, r);
    }
    default: {
        char msg[64];
        snprintf(msg, sizeof msg, "unknown binary operator %d", op);
        dwf__set_error(c, "TypeError", msg);
        return dwf_null(c);
    }
    }
}

dwf_val *dwf_unop(dwf_ctx *c, int op, dwf_val *a)
{
    if (op == DWF_OP_NOT) return dwf_bool(c, !dwf_truthy(a));
    if (op == DWF_OP_NEG) {
        if (!a || !cJSON_IsNumber(a)) return type_error(c, op, a, NULL);
        return dwf__own(c, cJSON_CreateNumber(-a->valuedouble));
    }
    char msg[64];
    snprintf(msg, sizeof msg, "unknown unary operator %d", op);
    dwf__set_error(c, "TypeError", msg);
    return dwf_null(c);
}

int dwf_truthy(dwf_val *v)
{
    if (is_null(v) || cJSON_IsFalse(v)) return 0;
    if (cJSON_IsNumber(v)) return v->valuedouble != 0;
    if (cJSON_IsString(v)) return v->valuestring && v->valuestring[0];
    return 1;
}

dwf_val *dwf_coalesce(dwf_ctx *c, dwf_val *a, dwf_val *b)
{
    if (!is_null(a)) return a;
    return b ? b : dwf_null(c);
}

/* ---- iteration --------------------------------------------------------------------------- */
int dwf_len(dwf_val *v)
{
    if (v && (cJSON_IsArray(v) || cJSON_IsObject(v))) return cJSON_GetArraySize(v);
    return 0;
}

/* The i-th child of an array or object; a `for` asks for 0, 1, 2, ... so continue from where
 * the previous call stopped instead of walking from the head (cJSON lists are linked). */
static cJSON *nth_child(dwf_ctx *c, dwf_val *v, int i)
{
    dwf__cursor *cur = dwf__item_cursor(c);
    cJSON *item;
    if (cur && cur->array == v && cur->node && i == cur->index + 1) item = cur->node->next;
    else if (cur && cur->array == v && cur->node && i == cur->index) item = cur->node;
    else item = cJSON_GetArrayItem(v, i);
    if (cur) {
        cur->array = item ? v : NULL;
        cur->index = i;
        cur->node = item;
    }
    return item;
}

dwf_val *dwf_item(dwf_ctx *c, dwf_val *v, int i)
{
    cJSON *item = v && i >= 0 && (cJSON_IsArray(v) || cJSON_IsObject(v)) ? nth_child(c, v, i) : NULL;
    if (!item) return dwf_null(c);
    if (cJSON_IsObject(v)) return dwf__own(c, cJSON_CreateString(item->string ? item->string : ""));
    return item;
}

/* ---- step-body services that are plain values -------------------------------------------- */
dwf_val *dwf_attempt(dwf_ctx *c) { return dwf_num(c, dwf__attempt(c)); }

dwf_val *dwf_call(dwf_ctx *c, const char *fname, dwf_cfunc fn, int argc, dwf_val *const *argv)
{
    if (!fn) {
        char msg[160];
        snprintf(msg, sizeof msg, "call %s: no such C function", fname ? fname : "?");
        dwf__set_error(c, "CallError", msg);
        return dwf_null(c);
    }
    cJSON *r = fn(c, argc, (cJSON *const *)argv);
    /* NULL: null, or a failure the function recorded with dwf_fail (left pending). */
    if (!r) return dwf_null(c);
    return dwf__own(c, r);
}

char *dwf_json_text(const cJSON *v, int indent)
{
    return indent > 0 ? dwf__to_json_indent(v, indent) : dwf__to_json(v);
}
