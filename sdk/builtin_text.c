/*
 * builtin_text.c: the builtins over text: padding, POSIX regular expressions, number
 * formatting, base64, SHA-256, and times written as text (parse_time, format_time).
 *
 * Everything here must give the same answer on every host a workflow may replay on, so nothing
 * reads the locale or the time zone: regular expressions run in the C locale (bytes), numbers
 * are formatted with "," and ".", and times are UTC with English names written out here.
 * Strings reach these functions in the value layer's encoding (value.c: a NUL byte is stored
 * as C0 80); the byte-oriented ones (base64, sha256) first restore the real bytes.
 */
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "internal.h"

/* ---- padding ------------------------------------------------------------------------------ */
#define PAD_MAX 1000000 /* code points: a bigger pad is a mistake, not a value to build */

/* pad_start / pad_end: s padded to n code points with fill (default " ") repeated and cut,
 * as JavaScript's padStart/padEnd (which count UTF-16 units; we count code points, as len). */
static dwf_val *pad(dwf_ctx *c, const char *fn, int argc, dwf_val *const *argv, int at_start)
{
    if (!dwf__is_str(argv[0])) return dwf__builtin_arg_error(c, fn, 0, "a string", argv[0]);
    if (!dwf__is_num(argv[1])) return dwf__builtin_arg_error(c, fn, 1, "a number", argv[1]);
    const char *fill = " ";
    if (argc > 2) {
        if (!dwf__is_str(argv[2])) return dwf__builtin_arg_error(c, fn, 2, "a string", argv[2]);
        fill = argv[2]->valuestring;
    }
    double want = trunc(argv[1]->valuedouble);
    if (want > PAD_MAX) {
        char msg[96];
        snprintf(msg, sizeof msg, "%s(): the length must be at most %d", fn, PAD_MAX);
        dwf__set_error(c, "RangeError", msg);
        return dwf_null(c);
    }
    const char *s = argv[0]->valuestring;
    long have = dwf__count_cps(s);
    if (want <= (double)have || !*fill) return argv[0];
    dwf__buf b = {0};
    if (!at_start) dwf__buf_str(&b, s);
    const char *f = fill;
    for (long k = have; k < (long)want; k++) {
        if (!*f) f = fill;
        size_t n = dwf__cp_bytes(f);
        dwf__buf_add(&b, f, n);
        f += n;
    }
    if (at_start) dwf__buf_str(&b, s);
    if (b.oom) return dwf__own(c, NULL);
    return dwf__own_text(c, b.p);
}

dwf_val *dwf__b_pad_start(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    return pad(c, "pad_start", argc, argv, 1);
}

dwf_val *dwf__b_pad_end(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    return pad(c, "pad_end", argc, argv, 0);
}

/* ---- regular expressions (POSIX ERE, libc's regcomp) --------------------------------------- */
/* Compile `re` (argument 2 of fn); 0 with a TypeError recorded when it is not a valid ERE. */
static int compile_re(dwf_ctx *c, const char *fn, const char *re, regex_t *r, int flags)
{
    int rc = regcomp(r, re, REG_EXTENDED | flags);
    if (rc == 0) return 1;
    char why[128], msg[256];
    regerror(rc, r, why, sizeof why);
    snprintf(msg, sizeof msg, "%s(): argument 2 is not a valid regular expression (POSIX ERE): %s", fn, why);
    dwf__set_error(c, "TypeError", msg);
    return 0;
}

dwf_val *dwf__b_matches(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!dwf__is_str(argv[0])) return dwf__builtin_arg_error(c, "matches", 0, "a string", argv[0]);
    if (!dwf__is_str(argv[1])) return dwf__builtin_arg_error(c, "matches", 1, "a string", argv[1]);
    regex_t r;
    if (!compile_re(c, "matches", argv[1]->valuestring, &r, REG_NOSUB)) return dwf_null(c);
    int hit = regexec(&r, argv[0]->valuestring, 0, NULL, 0) == 0;
    regfree(&r);
    return dwf_bool(c, hit);
}

/* capture: the first match as [whole, group 1, ...] (a group that took no part is null), or
 * null when nothing matches, as JavaScript's s.match(re) without the g flag. */
dwf_val *dwf__b_capture(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!dwf__is_str(argv[0])) return dwf__builtin_arg_error(c, "capture", 0, "a string", argv[0]);
    if (!dwf__is_str(argv[1])) return dwf__builtin_arg_error(c, "capture", 1, "a string", argv[1]);
    regex_t r;
    if (!compile_re(c, "capture", argv[1]->valuestring, &r, 0)) return dwf_null(c);
    size_t n = r.re_nsub + 1;
    regmatch_t *m = calloc(n, sizeof *m);
    if (!m) {
        regfree(&r);
        return dwf__own(c, NULL);
    }
    const char *s = argv[0]->valuestring;
    cJSON *out = NULL;
    if (regexec(&r, s, n, m, 0) == 0) {
        out = cJSON_CreateArray();
        for (size_t i = 0; out && i < n; i++) {
            cJSON *g;
            if (m[i].rm_so < 0) {
                g = cJSON_CreateNull();
            } else {
                char *t = strndup(s + m[i].rm_so, (size_t)(m[i].rm_eo - m[i].rm_so));
                g = t ? cJSON_CreateString(t) : NULL;
                free(t);
            }
            out = dwf__push(out, g);
        }
        if (!out) {
            free(m);
            regfree(&r);
            return dwf__own(c, NULL);
        }
    }
    free(m);
    regfree(&r);
    return out ? dwf__own(c, out) : dwf_null(c);
}

/* ---- numbers as text ---------------------------------------------------------------------- */
/* format_number(x, d?): x rounded to d decimals (default 0) as round(x, d) rounds, the whole
 * part in groups of three separated by ",", "." before the decimals ("1,234,567.89"), as
 * JavaScript's toLocaleString("en-US") with d fraction digits. A value that rounds to zero has
 * no sign. */
dwf_val *dwf__b_format_number(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    if (!dwf__is_num(argv[0]))
        return dwf__builtin_arg_error(c, "format_number", 0, "a number", argv[0]);
    int d = 0;
    if (argc > 1) {
        if (!dwf__is_num(argv[1]))
            return dwf__builtin_arg_error(c, "format_number", 1, "a number", argv[1]);
        double dd = argv[1]->valuedouble;
        if (dd != floor(dd) || dd < 0 || dd > 15) {
            dwf__set_error(c, "RangeError", "format_number(): decimals must be an integer from 0 to 15");
            return dwf_null(c);
        }
        d = (int)dd;
    }
    double r = dwf__round_decimals(argv[0]->valuedouble, d);
    char *digits = NULL;
    if (asprintf(&digits, "%.*f", d, fabs(r)) < 0) return dwf__own(c, NULL);
    int zero = strspn(digits, "0.") == strlen(digits);
    const char *point = strchr(digits, '.');
    size_t whole = point ? (size_t)(point - digits) : strlen(digits);
    dwf__buf b = {0};
    if (r < 0 && !zero) dwf__buf_str(&b, "-");
    for (size_t i = 0; i < whole; i++) {
        if (i > 0 && (whole - i) % 3 == 0) dwf__buf_str(&b, ",");
        dwf__buf_add(&b, digits + i, 1);
    }
    if (point) dwf__buf_str(&b, point);
    free(digits);
    if (b.oom) return dwf__own(c, NULL);
    return dwf__own_text(c, b.p);
}

/* ---- bytes: base64, sha256 ---------------------------------------------------------------- */
dwf_val *dwf__b_base64_encode(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!dwf__is_str(argv[0]))
        return dwf__builtin_arg_error(c, "base64_encode", 0, "a string", argv[0]);
    size_t n;
    char *bytes = dwf__string_bytes(argv[0]->valuestring, &n);
    char *out = bytes && n < ((size_t)1 << 30) ? malloc(4 * ((n + 2) / 3) + 1) : NULL;
    if (out) EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)bytes, (int)n);
    free(bytes);
    if (!out) return dwf__own(c, NULL);
    return dwf__own_text(c, out);
}

/* The value of a base64 digit (standard or URL-safe alphabet), or -1. */
static int b64_digit(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z') return ch - 'A';
    if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9') return ch - '0' + 52;
    if (ch == '+' || ch == '-') return 62;
    if (ch == '/' || ch == '_') return 63;
    return -1;
}

/* base64_decode: hand-written rather than EVP_DecodeBlock, which counts padding as decoded
 * bytes, knows only the standard alphabet and wants the padding. Here: either alphabet, padding
 * optional, line breaks and spaces skipped (MIME wraps lines), anything else an error naming its
 * offset. The bytes become a string as the value layer stores any bytes (invalid UTF-8 as U+FFFD,
 * as Node's Buffer#toString does). */
dwf_val *dwf__b_base64_decode(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!dwf__is_str(argv[0]))
        return dwf__builtin_arg_error(c, "base64_decode", 0, "a string", argv[0]);
    const unsigned char *s = (const unsigned char *)argv[0]->valuestring;
    size_t len = strlen((const char *)s);
    unsigned char *out = malloc(len / 4 * 3 + 3);
    if (!out) return dwf__own(c, NULL);
    size_t n = 0, digits = 0, pads = 0;
    unsigned acc = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = s[i];
        if (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t') continue;
        int v = ch == '=' ? -2 : b64_digit(ch);
        if (v == -2 && digits % 4 >= 2 && pads < 2) {
            pads++;
            continue;
        }
        if (v < 0 || pads) {
            free(out);
            char msg[160];
            snprintf(msg, sizeof msg, "base64_decode(): argument 1 is not base64: byte %zu ('%c')", i,
                     ch >= 0x20 && ch < 0x7f ? ch : '?');
            dwf__set_error(c, "TypeError", msg);
            return dwf_null(c);
        }
        acc = acc << 6 | (unsigned)v;
        if (++digits % 4 == 0) {
            out[n++] = (unsigned char)(acc >> 16);
            out[n++] = (unsigned char)(acc >> 8);
            out[n++] = (unsigned char)acc;
            acc = 0;
        }
    }
    size_t rest = digits % 4;
    if (rest == 1) {
        free(out);
        dwf__set_error(c, "TypeError", "base64_decode(): argument 1 is not base64: its length is wrong");
        return dwf_null(c);
    }
    if (rest == 2) out[n++] = (unsigned char)(acc >> 4);
    if (rest == 3) {
        out[n++] = (unsigned char)(acc >> 10);
        out[n++] = (unsigned char)(acc >> 2);
    }
    dwf_val *v = dwf__own(c, dwf__new_string((const char *)out, n));
    free(out);
    return v;
}

dwf_val *dwf__b_sha256(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!dwf__is_str(argv[0])) return dwf__builtin_arg_error(c, "sha256", 0, "a string", argv[0]);
    size_t n;
    char *bytes = dwf__string_bytes(argv[0]->valuestring, &n);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int ok = bytes && EVP_Digest(bytes, n, md, &mdlen, EVP_sha256(), NULL) == 1;
    free(bytes);
    if (!ok) {
        dwf__set_error(c, "OutOfMemory", "sha256(): the digest failed");
        return dwf_null(c);
    }
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned i = 0; i < mdlen; i++) snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return dwf_str(c, hex);
}

/* ---- times as text ------------------------------------------------------------------------ */
/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil):
 * written out because timegm is not standard C and reads a time_t, and ISO dates reach years
 * beyond 9999 and before 1 (JavaScript's Date covers +-275,760 years). */
static double days_from_civil(long y, int m, int d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (double)era * 146097 + (double)doe - 719468;
}

static void civil_from_days(double days, long *y, int *m, int *d)
{
    long z = (long)days + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int leap(long y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int month_days(long y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

/* Exactly `n` digits at *p into *out. */
static int digits(const char **p, int n, long *out)
{
    long v = 0;
    for (int i = 0; i < n; i++, (*p)++) {
        if (**p < '0' || **p > '9') return 0;
        v = v * 10 + (**p - '0');
    }
    *out = v;
    return 1;
}

/* The ISO-8601 forms JavaScript's Date.parse reads: YYYY, YYYY-MM, YYYY-MM-DD (or +YYYYYY /
 * -YYYYYY), then optionally T (or a space) HH:MM[:SS[.fff...]] and Z or +HH:MM / +HHMM. Times
 * without an offset are UTC (JavaScript would read them as local time: a replayed workflow must
 * not depend on the host's zone). 0: not one of those forms, or not a real date. */
static int parse_iso(const char *s, double *ms)
{
    long y, mo = 1, d = 1, h = 0, mi = 0, sec = 0, frac = 0;
    int sign = 1;
    if (*s == '+' || *s == '-') {
        sign = *s == '-' ? -1 : 1;
        s++;
        if (!digits(&s, 6, &y) || (sign < 0 && y == 0)) return 0;
    } else if (!digits(&s, 4, &y)) {
        return 0;
    }
    y *= sign;
    if (*s == '-') {
        s++;
        if (!digits(&s, 2, &mo)) return 0;
        if (*s == '-') {
            s++;
            if (!digits(&s, 2, &d)) return 0;
        }
    }
    double offset_min = 0;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi)) return 0;
        if (*s == ':') {
            s++;
            if (!digits(&s, 2, &sec)) return 0;
            if (*s == '.' || *s == ',') {
                s++;
                int n = 0;
                for (; *s >= '0' && *s <= '9'; s++, n++)
                    if (n < 3) frac = frac * 10 + (*s - '0');
                if (n == 0) return 0;
                for (; n < 3; n++) frac *= 10;
            }
        }
        if (*s == 'Z' || *s == 'z') {
            s++;
        } else if (*s == '+' || *s == '-') {
            int osign = *s++ == '-' ? -1 : 1;
            long oh, om;
            if (!digits(&s, 2, &oh)) return 0;
            if (*s == ':') s++;
            if (!digits(&s, 2, &om) || oh > 23 || om > 59) return 0;
            offset_min = osign * (double)(oh * 60 + om);
        }
    }
    if (*s) return 0;
    if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, (int)mo)) return 0;
    if (h > 24 || mi > 59 || sec > 59 || (h == 24 && (mi || sec || frac))) return 0;
    double t = days_from_civil(y, (int)mo, (int)d) * 86400000.0 + (double)h * 3600000.0 +
               (double)mi * 60000.0 + (double)sec * 1000.0 + (double)frac - offset_min * 60000.0;
    if (fabs(t) > 8.64e15) return 0; /* beyond Date's range */
    *ms = t;
    return 1;
}

/* parse_time(iso): epoch milliseconds, or null when the text is not an ISO-8601 time
 * (Date.parse gives NaN there), so `parse_time(s) ?? 0` gives a default. */
dwf_val *dwf__b_parse_time(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!dwf__is_str(argv[0]))
        return dwf__builtin_arg_error(c, "parse_time", 0, "a string", argv[0]);
    double ms;
    if (!parse_iso(argv[0]->valuestring, &ms)) return dwf_null(c);
    return dwf_num(c, ms);
}

static const char *const day_names[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday",
                                        "Friday", "Saturday"};
static const char *const month_names[] = {"January", "February", "March", "April", "May", "June",
                                          "July", "August", "September", "October", "November",
                                          "December"};

/* A broken-down UTC time. */
typedef struct utc {
    long year;
    int month, day, hour, min, sec, ms, wday, yday;
    double epoch_s;
} utc;

static void utc_of(double ms, utc *t)
{
    double days = floor(ms / 86400000.0);
    double in_day = ms - days * 86400000.0;
    civil_from_days(days, &t->year, &t->month, &t->day);
    t->hour = (int)(in_day / 3600000.0);
    t->min = (int)(fmod(in_day, 3600000.0) / 60000.0);
    t->sec = (int)(fmod(in_day, 60000.0) / 1000.0);
    t->ms = (int)fmod(in_day, 1000.0);
    long w = ((long)fmod(days, 7) + 4) % 7; /* 1970-01-01 was a Thursday */
    t->wday = (int)(w < 0 ? w + 7 : w);
    t->yday = (int)(days - days_from_civil(t->year, 1, 1));
    t->epoch_s = floor(ms / 1000.0);
}

/* One directive of format_time into b; 0 if `ch` is not one. */
static int directive(dwf__buf *b, char ch, const utc *t)
{
    char x[48];
    int h12 = t->hour % 12 ? t->hour % 12 : 12;
    switch (ch) {
    case 'Y': snprintf(x, sizeof x, t->year >= 0 && t->year <= 9999 ? "%04ld" : "%+07ld", t->year); break;
    case 'y': snprintf(x, sizeof x, "%02ld", ((t->year % 100) + 100) % 100); break;
    case 'm': snprintf(x, sizeof x, "%02d", t->month); break;
    case 'd': snprintf(x, sizeof x, "%02d", t->day); break;
    case 'e': snprintf(x, sizeof x, "%2d", t->day); break;
    case 'H': snprintf(x, sizeof x, "%02d", t->hour); break;
    case 'I': snprintf(x, sizeof x, "%02d", h12); break;
    case 'M': snprintf(x, sizeof x, "%02d", t->min); break;
    case 'S': snprintf(x, sizeof x, "%02d", t->sec); break;
    case 'L': snprintf(x, sizeof x, "%03d", t->ms); break;
    case 'j': snprintf(x, sizeof x, "%03d", t->yday + 1); break;
    case 'p': snprintf(x, sizeof x, "%s", t->hour < 12 ? "AM" : "PM"); break;
    case 'a': snprintf(x, sizeof x, "%.3s", day_names[t->wday]); break;
    case 'A': snprintf(x, sizeof x, "%s", day_names[t->wday]); break;
    case 'b': snprintf(x, sizeof x, "%.3s", month_names[t->month - 1]); break;
    case 'B': snprintf(x, sizeof x, "%s", month_names[t->month - 1]); break;
    case 'u': snprintf(x, sizeof x, "%d", t->wday ? t->wday : 7); break;
    case 'w': snprintf(x, sizeof x, "%d", t->wday); break;
    case 's': snprintf(x, sizeof x, "%.0f", t->epoch_s); break;
    case 'z': snprintf(x, sizeof x, "+0000"); break;
    case 'Z': snprintf(x, sizeof x, "UTC"); break;
    case 'F': return directive(b, 'Y', t) && (dwf__buf_str(b, "-"), directive(b, 'm', t)) &&
                     (dwf__buf_str(b, "-"), directive(b, 'd', t));
    case 'T': return directive(b, 'H', t) && (dwf__buf_str(b, ":"), directive(b, 'M', t)) &&
                     (dwf__buf_str(b, ":"), directive(b, 'S', t));
    case '%': snprintf(x, sizeof x, "%%"); break;
    default: return 0;
    }
    dwf__buf_str(b, x);
    return 1;
}

/* format_time(ms, fmt): strftime's directives, in UTC, written here rather than by strftime
 * because strftime's names follow the host's locale and it has no milliseconds: %Y %y %m %d %e
 * %H %I %M %S %L (milliseconds) %j %p %a %A %b %B %u %w %s %z (+0000) %Z (UTC) %F %T %%. */
dwf_val *dwf__b_format_time(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!dwf__is_num(argv[0]))
        return dwf__builtin_arg_error(c, "format_time", 0, "a number (epoch milliseconds)",
                                      argv[0]);
    if (!dwf__is_str(argv[1]))
        return dwf__builtin_arg_error(c, "format_time", 1, "a string", argv[1]);
    double ms = floor(argv[0]->valuedouble);
    if (fabs(ms) > 8.64e15) {
        dwf__set_error(c, "RangeError", "format_time(): time value out of range");
        return dwf_null(c);
    }
    utc t;
    utc_of(ms, &t);
    dwf__buf b = {0};
    for (const char *f = argv[1]->valuestring; *f; f++) {
        if (*f != '%') {
            dwf__buf_add(&b, f, 1);
            continue;
        }
        if (!directive(&b, f[1], &t)) {
            free(b.p);
            char msg[128];
            snprintf(msg, sizeof msg, "format_time(): unknown directive '%%%c' in the format",
                     f[1] >= 0x20 && f[1] < 0x7f ? f[1] : '?');
            dwf__set_error(c, "TypeError", msg);
            return dwf_null(c);
        }
        f++;
    }
    if (b.oom) return dwf__own(c, NULL);
    return dwf__own_text(c, b.p ? b.p : strdup(""));
}
