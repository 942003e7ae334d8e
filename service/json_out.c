/*
 * json_out.c: cJSON_PrintUnformatted's text, byte for byte, without its cost on timestamps.
 *
 * Every checkpoint writes each operation's JSON and each history event's; their timestamps
 * are epoch seconds with a fraction (1765000000.1234567), and cJSON prints such a number with
 * sprintf("%1.15g"), reads it back with sscanf to see whether 15 digits recover it, and if not
 * (the usual case) prints it again with "%1.17g": that was a sixth of all the instructions of
 * a run of quick steps. Here the same two candidates are computed exactly with integer
 * arithmetic (the double's mantissa times a power of ten, divided by its power of two,
 * rounded half to even, which is what glibc's printf does), the same test decides between
 * them (strtod, as sscanf's %lg, and cJSON's compare_double), and anything outside the fast
 * case (|d| < 1, at least 1e15, a carry into one more digit) goes through sprintf exactly as
 * cJSON 1.7.15 does (which prints every number so, integers and -0 included). Strings are escaped as cJSON escapes them. tests/unit/test_rt_service.c
 * (test_json_print_as_cjson) compares the two on many values.
 */
#include "service_impl.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct out {
    char *p;
    size_t n, cap;
    int oom;
} out;

/* The buffer's growth, out of line: room()'s check is inlined at every put, and the first
 * buffer (1 KiB) holds a whole operation, event or checkpoint answer of a plain step, where one
 * of 256 bytes was reallocated once or twice per print (~7,000 reallocs for 300 executions of
 * bench/throughput.sh's workflow, ~340 instructions each). */
static char *grow(out *o, size_t k)
{
    if (o->oom) return NULL;
    size_t cap = o->cap ? o->cap : 1024;
    while (cap < o->n + k + 1) cap *= 2;
    char *p = realloc(o->p, cap);
    if (!p) {
        o->oom = 1;
        return NULL;
    }
    o->p = p;
    o->cap = cap;
    return o->p + o->n;
}

/* Room for k more bytes and the final '\0' (after an out of memory, what is written into
 * the room left is thrown away with the rest). */
static inline char *room(out *o, size_t k)
{
    return o->n + k + 1 <= o->cap ? o->p + o->n : grow(o, k);
}

static inline void put(out *o, const char *s, size_t k)
{
    char *d = room(o, k);
    if (!d) return;
    memcpy(d, s, k);
    o->n += k;
}

/* Whether one of the 8 bytes of w is below 32, '"' or '\\' (cJSON escapes those): the word
 * tricks of "Bit Twiddling Hacks" (hasless, haszero), exact as a yes or no. A byte loop was
 * half of the printer's instructions (every id, name, type and payload goes through it). */
static inline int escapes8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((w - ones * 32) & ~w) | ((q - ones) & ~q) | ((b - ones) & ~b)) & highs ? 1 : 0;
}

/* What escaping a byte adds to the text: 1 for \" \\ \b \f \n \r \t, 5 for the other bytes
 * below 32 (\u00XX), 0 for the rest (cJSON writes them as they are, 0x7f and above too). */
static const unsigned char esc_extra[256] = {
    5, 5, 5, 5, 5, 5, 5, 5, 1, 1, 1, 5, 1, 1, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    ['"'] = 1, ['\\'] = 1};

static inline int escaped(unsigned char c) { return esc_extra[c] != 0; }

static void put_string(out *o, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    if (!s) s = "";
    size_t len = strlen(s), i = 0;
    /* Nearly every string (ids, names, types, payloads of numbers) needs no escape: the quotes
     * and its bytes go in with one room(). The scan reads only the string's own bytes. */
    for (uint64_t w; i + 8 <= len; i += 8) {
        memcpy(&w, s + i, 8);
        if (escapes8(w)) break;
    }
    while (i < len && !escaped((unsigned char)s[i])) i++;
    if (i == len) {
        char *d = room(o, len + 2);
        if (!d) return;
        d[0] = '"';
        memcpy(d + 1, s, len);
        d[len + 1] = '"';
        o->n += len + 2;
        return;
    }
    /* An escape at i: the text's exact length first, then one room() and the bytes written in. */
    size_t extra = 0;
    for (size_t j = i; j < len; j++) extra += esc_extra[(unsigned char)s[j]];
    char *d = room(o, len + extra + 2);
    if (!d) return;
    char *w = d;
    *w++ = '"';
    memcpy(w, s, i);
    w += i;
    for (size_t j = i; j < len; j++) {
        unsigned char c = (unsigned char)s[j];
        if (!escaped(c)) {
            *w++ = (char)c;
            continue;
        }
        *w++ = '\\';
        switch (c) {
        case '"': *w++ = '"'; break;
        case '\\': *w++ = '\\'; break;
        case '\b': *w++ = 'b'; break;
        case '\f': *w++ = 'f'; break;
        case '\n': *w++ = 'n'; break;
        case '\r': *w++ = 'r'; break;
        case '\t': *w++ = 't'; break;
        default:
            *w++ = 'u';
            *w++ = '0';
            *w++ = '0';
            *w++ = hex[c >> 4];
            *w++ = hex[c & 15];
        }
    }
    *w++ = '"';
    o->n += (size_t)(w - d);
}

static int compare_double(double a, double b) /* cJSON's */
{
    double max = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= max * DBL_EPSILON;
}

/* "%1.<prec>g" of d, for 1 <= |d| < 1e15 with a fraction: 0, or -1 when the fast case does
 * not apply (the caller uses sprintf). buf holds at least 32 bytes. */
static int fixed_g(double d, int prec, char *buf)
{
    double a = fabs(d);
    if (!(a >= 1.0 && a < 1e15)) return -1;
    int e2;
    double fr = frexp(a, &e2); /* a = fr * 2^e2, fr in [0.5, 1) */
    uint64_t m = (uint64_t)ldexp(fr, 53);
    int shift = 53 - e2; /* a = m / 2^shift */
    if (shift <= 0 || shift > 100) return -1;
    uint64_t ip = (uint64_t)a;
    int digits = 1;
    for (uint64_t t = ip; t >= 10; t /= 10) digits++;
    int p = prec - digits; /* digits after the point */
    if (p < 0 || p > 17) return -1;
    unsigned __int128 pow10 = 1;
    for (int i = 0; i < p; i++) pow10 *= 10;
    unsigned __int128 num = (unsigned __int128)m * pow10;
    unsigned __int128 q = num >> shift, rem = num - (q << shift), half = (unsigned __int128)1 << (shift - 1);
    if (rem > half || (rem == half && (q & 1))) q++;
    unsigned __int128 limit = pow10;
    for (int i = 0; i < digits; i++) limit *= 10;
    if (q >= limit) return -1; /* rounded up into one more digit: %g's own rules */
    uint64_t q64 = (uint64_t)q; /* < 10^prec <= 10^17 < 2^64 */
    char tmp[48];
    int k = 0;
    for (int i = 0; i < prec; i++) {
        tmp[k++] = (char)('0' + (int)(q64 % 10));
        q64 /= 10;
    }
    /* tmp holds the prec digits in reverse: the first p are the fraction's */
    int first = 0; /* drop the fraction's trailing zeros (%g) */
    while (first < p && tmp[first] == '0') first++;
    char *w = buf;
    if (d < 0) *w++ = '-';
    for (int i = prec - 1; i >= p; i--) *w++ = tmp[i];
    if (first < p) {
        *w++ = '.';
        for (int i = p - 1; i >= first; i--) *w++ = tmp[i];
    }
    *w = '\0';
    return 0;
}

/* The decimal digits of a whole number, with its sign, into b; the count written (no '\0'). */
static int int_text(long long n, char *b)
{
    unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
    char r[24];
    int k = 0, w = 0;
    do {
        r[k++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (n < 0) b[w++] = '-';
    while (k) b[w++] = r[--k];
    return w;
}

/* d = n / 1000 for a whole n of at most 15 digits (not 0, not whole: put_number's earlier
 * cases): what %1.15g prints for it into b, and 0; else -1. n / 1000 has at most 15
 * significant digits, and d (the double nearest to it: the division rounds correctly) is within
 * half an ulp, about |d| x 1.1e-16, of it, much less than half of %.15g's last place (at least
 * |d| x 5e-16): so %.15g prints n / 1000 exactly, in fixed notation (0.001 <= |d| < 1e12),
 * with its trailing zeros cut, and reading that back gives d, so cJSON keeps it. The strtod of
 * that check was ~1,000 instructions per timestamp, five per at-most-once step (callgrind). */
static int ms_text(double d, char *b)
{
    double m = d * 1000.0;
    if (!(fabs(m) < 1e15)) return -1;
    long long n = llround(m);
    if (n == 0 || (double)n / 1000.0 != d) return -1;
    unsigned frac = (unsigned)(n < 0 ? -(n % 1000) : n % 1000);
    int w = 0;
    if (n < 0 && n > -1000) b[w++] = '-'; /* n / 1000 is 0 then: the sign is n's alone */
    w += int_text(n / 1000, b + w);
    if (frac) {
        b[w++] = '.';
        b[w++] = (char)('0' + frac / 100);
        if (frac % 100) {
            b[w++] = (char)('0' + frac / 10 % 10);
            if (frac % 10) b[w++] = (char)('0' + frac % 10);
        }
    }
    b[w] = '\0';
    return 0;
}

static void put_number(out *o, double d)
{
    char b[64];
    if (isnan(d) || isinf(d)) {
        snprintf(b, sizeof b, "null");
    } else if (d != 0 && fabs(d) < 1e15 && d == (double)(long long)d) {
        /* what %1.15g prints for it: its digits */
        b[int_text((long long)d, b)] = '\0';
    } else if (ms_text(d, b) == 0) {
        /* a whole number of milliseconds, as every timestamp the service makes */
    } else if (fixed_g(d, 15, b) == 0) {
        if (!compare_double(strtod(b, NULL), d) && fixed_g(d, 17, b) != 0) snprintf(b, sizeof b, "%1.17g", d);
    } else {
        double test = 0.0;
        snprintf(b, sizeof b, "%1.15g", d);
        if (sscanf(b, "%lg", &test) != 1 || !compare_double(test, d)) snprintf(b, sizeof b, "%1.17g", d);
    }
    put(o, b, strlen(b));
}

static int put_value(out *o, const cJSON *item);

static int put_children(out *o, const cJSON *item, int object)
{
    put(o, object ? "{" : "[", 1);
    for (const cJSON *c = item->child; c; c = c->next) {
        if (object) {
            put_string(o, c->string);
            put(o, ":", 1);
        }
        if (put_value(o, c) != 0) return -1;
        if (c->next) put(o, ",", 1);
    }
    put(o, object ? "}" : "]", 1);
    return 0;
}

/* -1: something cJSON prints differently or not at all (the caller asks cJSON). */
static int put_value(out *o, const cJSON *item)
{
    switch (item->type & 0xFF) {
    case cJSON_NULL: put(o, "null", 4); return 0;
    case cJSON_False: put(o, "false", 5); return 0;
    case cJSON_True: put(o, "true", 4); return 0;
    case cJSON_Number: put_number(o, item->valuedouble); return 0;
    case cJSON_String:
        if (!item->valuestring) return -1;
        put_string(o, item->valuestring);
        return 0;
    case cJSON_Array: return put_children(o, item, 0);
    case cJSON_Object: return put_children(o, item, 1);
    default: return -1; /* raw, invalid */
    }
}

char *dwf__svc_json_print(const cJSON *item)
{
    if (!item) return NULL;
    out o = {0};
    if (put_value(&o, item) != 0 || o.oom) {
        free(o.p);
        return cJSON_PrintUnformatted(item);
    }
    o.p[o.n] = '\0';
    return o.p;
}

char *dwf_service_json_print(const cJSON *item) { return dwf__svc_json_print(item); }

/* A string member after others: ,"key":"value" (nothing when value is NULL, as jset_str). */
static void put_member_str(out *o, const char *key, const char *value)
{
    if (!value) return;
    put(o, ",", 1);
    put_string(o, key);
    put(o, ":", 1);
    put_string(o, value);
}

char *dwf__svc_event_json(const char *type, long long id, double seconds, const cJSON *op, const cJSON *details)
{
    out o = {0};
    put(&o, "{\"EventType\":", 13);
    put_string(&o, type);
    put(&o, ",\"EventId\":", 11);
    put_number(&o, (double)id);
    put(&o, ",\"EventTimestamp\":", 18);
    put_number(&o, seconds);
    if (op) {
        const char *keys[] = {"Id", "Name", "ParentId", "SubType"};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(op, keys[i]);
            put_member_str(&o, keys[i], cJSON_IsString(v) ? v->valuestring : NULL);
        }
    }
    put(&o, ",\"", 2);
    put(&o, type, strlen(type));
    put(&o, "Details\":", 9);
    if (!details) put(&o, "{}", 2);
    else if (put_value(&o, details) != 0) {
        char *d = cJSON_PrintUnformatted(details);
        if (!d) o.oom = 1;
        else put(&o, d, strlen(d));
        free(d);
    }
    put(&o, "}", 1);
    if (o.oom) {
        free(o.p);
        return NULL;
    }
    o.p[o.n] = '\0';
    return o.p;
}
