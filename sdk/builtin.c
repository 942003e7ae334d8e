/*
 * builtin.c: the functions a .dwf expression can call by name (`len(x)`, `now()`, ...).
 *
 * include/dwf_builtins.def lists them (name, argument counts, where they may run); this file
 * defines dwf__b_<name> for the rows about values, numbers and times (builtin_list.c has the
 * arrays, objects and lambdas, builtin_text.c the text), and from the same rows the public
 * dwf_builtin_<name> of dwf.h,
 * which checks the row's rules before calling it. The compiler checks those rules too
 * (grammar/sema.c reads the same rows); the runtime checks them again because C code a
 * workflow `use`s may call a builtin directly. What each builtin gives is in docs/language.md
 * (section 5); comments here say why an implementation is shaped as it is.
 *
 * Builtins follow the value layer's rule: a bad argument records an error (TypeError unless
 * said otherwise) and yields null; they never abort the expression. What every builtin file
 * shares (the argument error, the string / number checks, taking a text into the pool, code
 * points) is defined once, below, and declared in internal.h.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "internal.h"

/* ---- what every builtin shares (declared in internal.h) ------------------------------- */
dwf_val *dwf__builtin_arg_error(dwf_ctx *c, const char *fn, int i, const char *want,
                                const cJSON *got)
{
    char msg[200];
    snprintf(msg, sizeof msg, "%s(): argument %d must be %s, not %s", fn, i + 1, want,
             dwf__type_name(got));
    dwf__set_error(c, "TypeError", msg);
    return dwf_null(c);
}

dwf_val *dwf__own_text(dwf_ctx *c, char *t)
{
    dwf_val *v = dwf__own(c, t ? cJSON_CreateString(t) : NULL);
    free(t);
    return v;
}

dwf_val *dwf__own_text_n(dwf_ctx *c, const char *s, size_t n)
{
    return dwf__own_text(c, strndup(s, n));
}

size_t dwf__cp_bytes(const char *s)
{
    unsigned char u = (unsigned char)s[0];
    size_t k = u < 0x80 ? 1 : u < 0xE0 ? 2 : u < 0xF0 ? 3 : 4;
    for (size_t i = 1; i < k; i++)
        if (!s[i]) return i;
    return k;
}

long dwf__count_cps(const char *s)
{
    long n = 0;
    for (; *s; s += dwf__cp_bytes(s)) n++;
    return n;
}

/* ---- shape and conversion ---------------------------------------------------------------- */
dwf_val *dwf__b_len(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    dwf_val *x = argv[0];
    if (dwf__is_str(x)) return dwf_num(c, (double)dwf__count_cps(x->valuestring));
    if (x && (cJSON_IsArray(x) || cJSON_IsObject(x))) return dwf_num(c, cJSON_GetArraySize(x));
    return dwf__builtin_arg_error(c, "len", 0, "a string, array or object", x);
}

static dwf_val *keys_or_values(dwf_ctx *c, dwf_val *o, int keys)
{
    if (!o || !cJSON_IsObject(o))
        return dwf__builtin_arg_error(c, keys ? "keys" : "values", 0, "an object", o);
    cJSON *a = cJSON_CreateArray();
    for (const cJSON *it = o->child; a && it; it = it->next) {
        cJSON *item = keys ? cJSON_CreateString(it->string ? it->string : "")
                           : cJSON_Duplicate(it, 1);
        a = dwf__push(a, item);
    }
    return dwf__own(c, a);
}

dwf_val *dwf__b_keys(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    return keys_or_values(c, argv[0], 1);
}

dwf_val *dwf__b_values(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    return keys_or_values(c, argv[0], 0);
}

dwf_val *dwf__b_type(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    return dwf_str(c, dwf__type_name(argv[0]));
}

dwf_val *dwf__b_str(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (dwf__is_str(argv[0])) return argv[0];
    return dwf__own_text(c, dwf__to_text(argv[0]));
}

/* JavaScript's StrDecimalLiteral: [+-] (D+ [. D*] | . D+) [(e|E) [+-] D+], all of [s, e). */
static int decimal_literal(const char *s, const char *e)
{
    const char *p = s;
    int digits = 0, exp_digits = 0;
    if (p < e && (*p == '+' || *p == '-')) p++;
    for (; p < e && *p >= '0' && *p <= '9'; p++) digits++;
    if (p < e && *p == '.')
        for (p++; p < e && *p >= '0' && *p <= '9'; p++) digits++;
    if (!digits) return 0;
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-')) p++;
        for (; p < e && *p >= '0' && *p <= '9'; p++) exp_digits++;
        if (!exp_digits) return 0;
    }
    return p == e;
}

dwf_val *dwf__b_num(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    dwf_val *x = argv[0];
    if (dwf__is_num(x)) return x;
    if (x && cJSON_IsBool(x)) return dwf_num(c, cJSON_IsTrue(x) ? 1 : 0);
    if (!x || cJSON_IsNull(x)) return dwf_null(c);
    if (!dwf__is_str(x))
        return dwf__builtin_arg_error(c, "num", 0, "a number, string or boolean", x);
    /* Decimal literals only, checked before strtod, which alone would also take "0x1A",
     * "inf", "nan" and a number followed by junk. */
    const char *s = x->valuestring;
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
    const char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) e--;
    if (!decimal_literal(s, e)) return dwf_null(c);
    char *t = strndup(s, (size_t)(e - s));
    if (!t) return dwf__own(c, NULL);
    double d = strtod(t, NULL);
    free(t);
    return dwf_num(c, d); /* "1e999" overflows: dwf_num makes that null */
}

dwf_val *dwf__b_json(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!dwf__is_str(argv[0])) return dwf__builtin_arg_error(c, "json", 0, "a string", argv[0]);
    size_t n;
    char *bytes = dwf__string_bytes(argv[0]->valuestring, &n);
    if (!bytes) return dwf__own(c, NULL);
    char err[128];
    cJSON *v = dwf__parse_json(bytes, n, err);
    free(bytes);
    if (!v) {
        char msg[200];
        snprintf(msg, sizeof msg, "json(): invalid JSON: %s", err);
        dwf__set_error(c, "JsonParseError", msg);
        return dwf_null(c);
    }
    return dwf__own(c, v);
}

dwf_val *dwf__b_to_json(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    return dwf__own_text(c, dwf__to_json(argv[0]));
}

/* ---- strings ----------------------------------------------------------------------------- */
/* ASCII letters only: the case tables of other scripts depend on the host's locale data, and a
 * workflow replayed on another host must compute the same values. */
static dwf_val *change_case(dwf_ctx *c, dwf_val *s, int up)
{
    if (!dwf__is_str(s)) return dwf__builtin_arg_error(c, up ? "upper" : "lower", 0, "a string", s);
    char *t = strdup(s->valuestring);
    if (t)
        for (char *p = t; *p; p++) {
            if (up && *p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
            if (!up && *p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
        }
    return dwf__own_text(c, t);
}

dwf_val *dwf__b_upper(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    return change_case(c, argv[0], 1);
}

dwf_val *dwf__b_lower(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    return change_case(c, argv[0], 0);
}

dwf_val *dwf__b_trim(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!dwf__is_str(argv[0])) return dwf__builtin_arg_error(c, "trim", 0, "a string", argv[0]);
    const char *s = argv[0]->valuestring, *e = s + strlen(s);
    while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == '\f' || *s == '\v') s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r' ||
                     e[-1] == '\f' || e[-1] == '\v'))
        e--;
    return dwf__own_text_n(c, s, (size_t)(e - s));
}

dwf_val *dwf__b_contains(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    dwf_val *a = argv[0], *x = argv[1];
    if (dwf__is_str(a)) {
        if (!dwf__is_str(x)) return dwf__builtin_arg_error(c, "contains", 1, "a string", x);
        return dwf_bool(c, strstr(a->valuestring, x->valuestring) != NULL);
    }
    if (a && cJSON_IsArray(a)) {
        for (const cJSON *it = a->child; it; it = it->next)
            if (dwf__equal(it, x)) return dwf_bool(c, 1);
        return dwf_bool(c, 0);
    }
    if (a && cJSON_IsObject(a)) {
        if (!dwf__is_str(x)) return dwf__builtin_arg_error(c, "contains", 1, "a string key", x);
        return dwf_bool(c, cJSON_GetObjectItemCaseSensitive(a, x->valuestring) != NULL);
    }
    return dwf__builtin_arg_error(c, "contains", 0, "a string, array or object", a);
}

static dwf_val *affix(dwf_ctx *c, const char *fn, dwf_val *const *argv, int at_end)
{
    if (!dwf__is_str(argv[0])) return dwf__builtin_arg_error(c, fn, 0, "a string", argv[0]);
    if (!dwf__is_str(argv[1])) return dwf__builtin_arg_error(c, fn, 1, "a string", argv[1]);
    const char *s = argv[0]->valuestring, *p = argv[1]->valuestring;
    size_t n = strlen(s), k = strlen(p);
    if (k > n) return dwf_bool(c, 0);
    return dwf_bool(c, memcmp(at_end ? s + n - k : s, p, k) == 0);
}

dwf_val *dwf__b_starts_with(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    return affix(c, "starts_with", argv, 0);
}

dwf_val *dwf__b_ends_with(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    return affix(c, "ends_with", argv, 1);
}

/* Append a new string item of n bytes of s to array a; on failure delete a and return NULL. */
static cJSON *push_text(cJSON *a, const char *s, size_t n)
{
    if (!a) return NULL;
    char *t = strndup(s, n);
    cJSON *item = t ? cJSON_CreateString(t) : NULL;
    free(t);
    return dwf__push(a, item);
}

dwf_val *dwf__b_split(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!dwf__is_str(argv[0])) return dwf__builtin_arg_error(c, "split", 0, "a string", argv[0]);
    if (!dwf__is_str(argv[1])) return dwf__builtin_arg_error(c, "split", 1, "a string", argv[1]);
    const char *s = argv[0]->valuestring, *sep = argv[1]->valuestring;
    size_t k = strlen(sep);
    cJSON *a = cJSON_CreateArray();
    if (k == 0) {
        for (; a && *s; s += dwf__cp_bytes(s)) a = push_text(a, s, dwf__cp_bytes(s));
        return dwf__own(c, a);
    }
    for (;;) {
        const char *hit = strstr(s, sep);
        if (!hit) {
            a = push_text(a, s, strlen(s));
            break;
        }
        a = push_text(a, s, (size_t)(hit - s));
        s = hit + k;
    }
    return dwf__own(c, a);
}

dwf_val *dwf__b_join(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    dwf_val *a = argv[0];
    if (!a || !cJSON_IsArray(a)) return dwf__builtin_arg_error(c, "join", 0, "an array", a);
    const char *sep = ",";
    if (argc > 1) {
        if (!dwf__is_str(argv[1])) return dwf__builtin_arg_error(c, "join", 1, "a string", argv[1]);
        sep = argv[1]->valuestring;
    }
    dwf__buf b = {0};
    for (const cJSON *it = a->child; it; it = it->next) {
        if (it != a->child) dwf__buf_str(&b, sep);
        if (cJSON_IsNull(it)) continue;
        char *t = dwf__to_text(it);
        if (!t) b.oom = 1;
        else dwf__buf_str(&b, t);
        free(t);
    }
    if (b.oom) {
        free(b.p);
        return dwf__own(c, NULL);
    }
    return dwf__own_text(c, b.p ? b.p : strdup(""));
}

dwf_val *dwf__b_replace(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    for (int i = 0; i < 3; i++)
        if (!dwf__is_str(argv[i]))
            return dwf__builtin_arg_error(c, "replace", i, "a string", argv[i]);
    const char *s = argv[0]->valuestring, *from = argv[1]->valuestring, *to = argv[2]->valuestring;
    size_t k = strlen(from);
    if (k == 0) {
        dwf__set_error(c, "TypeError", "replace(): the text to replace must not be empty");
        return dwf_null(c);
    }
    dwf__buf b = {0};
    for (const char *hit; (hit = strstr(s, from)); s = hit + k) {
        dwf__buf_add(&b, s, (size_t)(hit - s));
        dwf__buf_str(&b, to);
    }
    dwf__buf_str(&b, s);
    if (b.oom) return dwf__own(c, NULL);
    return dwf__own_text(c, b.p);
}

/* JavaScript's slice bounds: negative counts from the end, clamped to [0, n]. */
static long slice_bound(double d, long n)
{
    if (d < 0) d += (double)n;
    if (d < 0) d = 0;
    if (d > (double)n) d = (double)n;
    return (long)d;
}

dwf_val *dwf__b_slice(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    dwf_val *x = argv[0];
    if (!dwf__is_num(argv[1])) return dwf__builtin_arg_error(c, "slice", 1, "a number", argv[1]);
    if (argc > 2 && !dwf__is_num(argv[2]) && !cJSON_IsNull(argv[2]))
        return dwf__builtin_arg_error(c, "slice", 2, "a number", argv[2]);
    int has_end = argc > 2 && dwf__is_num(argv[2]);
    if (dwf__is_str(x)) {
        long n = dwf__count_cps(x->valuestring);
        long i = slice_bound(trunc(argv[1]->valuedouble), n);
        long j = has_end ? slice_bound(trunc(argv[2]->valuedouble), n) : n;
        const char *s = x->valuestring;
        for (long k = 0; k < i; k++) s += dwf__cp_bytes(s);
        const char *e = s;
        for (long k = i; k < j; k++) e += dwf__cp_bytes(e);
        return dwf__own_text_n(c, s, e > s ? (size_t)(e - s) : 0);
    }
    if (x && cJSON_IsArray(x)) {
        long n = cJSON_GetArraySize(x);
        long i = slice_bound(trunc(argv[1]->valuedouble), n);
        long j = has_end ? slice_bound(trunc(argv[2]->valuedouble), n) : n;
        cJSON *a = cJSON_CreateArray();
        long k = 0;
        for (const cJSON *it = x->child; a && it && k < j; it = it->next, k++) {
            if (k < i) continue;
            cJSON *item = cJSON_Duplicate(it, 1);
            a = dwf__push(a, item);
        }
        return dwf__own(c, a);
    }
    return dwf__builtin_arg_error(c, "slice", 0, "a string or array", x);
}

/* ---- numbers ----------------------------------------------------------------------------- */
#define RANGE_MAX 1000000

dwf_val *dwf__b_range(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    for (int i = 0; i < argc; i++)
        if (!dwf__is_num(argv[i]))
            return dwf__builtin_arg_error(c, "range", i, "a number", argv[i]);
    double from = argc > 1 ? argv[0]->valuedouble : 0;
    double to = argc > 1 ? argv[1]->valuedouble : argv[0]->valuedouble;
    double step = argc > 2 ? argv[2]->valuedouble : 1;
    if (step == 0) {
        dwf__set_error(c, "RangeError", "range(): step must not be 0");
        return dwf_null(c);
    }
    double count = ceil((to - from) / step);
    if (count < 0) count = 0;
    if (count > RANGE_MAX) {
        dwf__set_error(c, "RangeError", "range(): more than 1000000 items");
        return dwf_null(c);
    }
    cJSON *a = cJSON_CreateArray();
    for (long i = 0; a && i < (long)count; i++) {
        cJSON *item = cJSON_CreateNumber(from + (double)i * step);
        a = dwf__push(a, item);
    }
    return dwf__own(c, a);
}

/* min, max and sum take numbers as arguments or one array of numbers. */
static dwf_val *fold(dwf_ctx *c, const char *fn, int argc, dwf_val *const *argv, int kind)
{
    const cJSON *first = NULL;
    int n = argc;
    if (argc == 1 && argv[0] && cJSON_IsArray(argv[0])) {
        first = argv[0]->child;
        n = -1;
    }
    double acc = 0;
    int seen = 0;
    for (int i = 0;; i++) {
        const cJSON *x;
        if (n < 0) {
            if (!first) break;
            x = first;
            first = first->next;
        } else {
            if (i >= n) break;
            x = argv[i];
        }
        if (!dwf__is_num(x))
            return dwf__builtin_arg_error(c, fn, n < 0 ? 0 : i,
                                          n < 0 ? "an array of numbers" : "a number", x);
        double d = x->valuedouble;
        if (!seen) acc = kind == 2 ? 0 : d;
        if (kind == 0 && d < acc) acc = d;
        if (kind == 1 && d > acc) acc = d;
        if (kind == 2) acc += d;
        seen = 1;
    }
    if (!seen) return kind == 2 ? dwf_num(c, 0) : dwf_null(c);
    if (!isfinite(acc)) {
        dwf__set_error(c, "RangeError", "sum(): the result is not a finite number");
        return dwf_null(c);
    }
    return dwf_num(c, acc);
}

dwf_val *dwf__b_min(dwf_ctx *c, int argc, dwf_val *const *argv) { return fold(c, "min", argc, argv, 0); }
dwf_val *dwf__b_max(dwf_ctx *c, int argc, dwf_val *const *argv) { return fold(c, "max", argc, argv, 1); }
dwf_val *dwf__b_sum(dwf_ctx *c, int argc, dwf_val *const *argv) { return fold(c, "sum", argc, argv, 2); }

/* Math.round: halves go toward +infinity (-2.5 -> -2), unlike C's round(). */
static double js_round(double x)
{
    double r = floor(x);
    if (x - r >= 0.5) r += 1;
    return r;
}

static dwf_val *math1(dwf_ctx *c, const char *fn, dwf_val *x, double (*f)(double))
{
    if (!dwf__is_num(x)) return dwf__builtin_arg_error(c, fn, 0, "a number", x);
    return dwf_num(c, f(x->valuedouble));
}

dwf_val *dwf__b_abs(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    return math1(c, "abs", argv[0], fabs);
}

dwf_val *dwf__b_floor(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    return math1(c, "floor", argv[0], floor);
}

dwf_val *dwf__b_ceil(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    return math1(c, "ceil", argv[0], ceil);
}

dwf_val *dwf__b_round(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    if (argc < 2) return math1(c, "round", argv[0], js_round);
    if (!dwf__is_num(argv[0])) return dwf__builtin_arg_error(c, "round", 0, "a number", argv[0]);
    if (!dwf__is_num(argv[1])) return dwf__builtin_arg_error(c, "round", 1, "a number", argv[1]);
    double d = argv[1]->valuedouble;
    if (d != floor(d) || d < 0 || d > 15) {
        dwf__set_error(c, "RangeError", "round(): decimals must be an integer from 0 to 15");
        return dwf_null(c);
    }
    return dwf_num(c, dwf__round_decimals(argv[0]->valuedouble, (int)d));
}

/* Shift the decimal point in x's shortest text, so 1.005 rounds as written (to 1.01), not as
 * its binary value 1.00499999999999989... times 100 would (JavaScript's Math.round(x * 100) /
 * 100 gives 1 there). */
double dwf__round_decimals(double x, int d)
{
    double scale = pow(10, d);
    char buf[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, x);
        if (strtod(buf, NULL) == x) break;
    }
    char *e = strchr(buf, 'e');
    if (e) snprintf(e, sizeof buf - (size_t)(e - buf), "e%d", atoi(e + 1) + d);
    double r = js_round(strtod(buf, NULL)) / scale;
    if (!isfinite(r)) r = x;
    return r;
}

/* ---- time, randomness ------------------------------------------------------------------- */
dwf_val *dwf__b_iso(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!dwf__is_num(argv[0]))
        return dwf__builtin_arg_error(c, "iso", 0, "a number (epoch milliseconds)", argv[0]);
    double ms = floor(argv[0]->valuedouble);
    /* Date's range: +-8.64e15 ms. */
    if (fabs(ms) > 8.64e15) {
        dwf__set_error(c, "RangeError", "iso(): time value out of range");
        return dwf_null(c);
    }
    time_t secs = (time_t)floor(ms / 1000);
    int milli = (int)(ms - (double)secs * 1000);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        dwf__set_error(c, "RangeError", "iso(): time value out of range");
        return dwf_null(c);
    }
    char buf[64];
    long year = (long)tm.tm_year + 1900;
    if (year >= 0 && year <= 9999)
        snprintf(buf, sizeof buf, "%04ld", year);
    else
        snprintf(buf, sizeof buf, "%c%06ld", year < 0 ? '-' : '+', labs(year));
    size_t n = strlen(buf);
    snprintf(buf + n, sizeof buf - n, "-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
    return dwf_str(c, buf);
}

/* env(name): usable in durable code as well as in steps although it reads outside state, because
 * a deployed version's environment is fixed (Lambda: per published version; the engine: recorded
 * with the function), so a replay reads what the first run read. */
dwf_val *dwf__b_env(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    const char *v = cJSON_IsString(argv[0]) ? dwf__getenv(c, argv[0]->valuestring) : NULL;
    return v ? dwf_str(c, v) : dwf_null(c);
}

dwf_val *dwf__b_now(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    (void)argv;
    return dwf_num(c, floor(dwf__now_ms(c)));
}

static int random_bytes(dwf_ctx *c, const char *fn, unsigned char *b, int n)
{
    if (RAND_bytes(b, n) == 1) return 1;
    char msg[96];
    snprintf(msg, sizeof msg, "%s(): the random generator failed", fn);
    dwf__set_error(c, "RandomError", msg);
    return 0;
}

dwf_val *dwf__b_uuid(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    (void)argv;
    unsigned char b[16];
    if (!random_bytes(c, "uuid", b, sizeof b)) return dwf_null(c);
    b[6] = (unsigned char)((b[6] & 0x0F) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3F) | 0x80); /* RFC 4122 variant */
    char s[37];
    snprintf(s, sizeof s,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    return dwf_str(c, s);
}

dwf_val *dwf__b_random(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    (void)argv;
    unsigned char b[8];
    if (!random_bytes(c, "random", b, sizeof b)) return dwf_null(c);
    uint64_t r = 0;
    for (int i = 0; i < 8; i++) r = r << 8 | b[i];
    return dwf_num(c, (double)(r >> 11) / 9007199254740992.0); /* 53 bits / 2^53 */
}

/* At most 15 minutes, the longest a Lambda invocation runs. */
dwf_val *dwf__b_sleep_ms(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!dwf__is_num(argv[0])) return dwf__builtin_arg_error(c, "sleep_ms", 0, "a number", argv[0]);
    double ms = argv[0]->valuedouble;
    if (ms < 0 || ms > 900000) {
        dwf__set_error(c, "RangeError", "sleep_ms(): milliseconds must be from 0 to 900000");
        return dwf_null(c);
    }
    /* inside a step with a timeout, sleep at most what is left of the attempt, then fail it */
    long left = dwf__remaining_ms(c);
    int cut = left >= 0 && ms > (double)left;
    if (cut) ms = (double)left;
    struct timespec ts = {(time_t)(ms / 1000), (long)(fmod(ms, 1000) * 1e6)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        /* interrupted by a signal: sleep the remainder */
    }
    if (cut) dwf__set_error(c, "StepTimeoutError", "sleep_ms(): the step's timeout passed while sleeping");
    return dwf_null(c);
}

/* ---- batches ----------------------------------------------------------------------------- */
dwf_val *dwf__b_throw_if_error(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    dwf_val *b = argv[0];
    cJSON *all = b && cJSON_IsObject(b) ? cJSON_GetObjectItemCaseSensitive(b, "all") : NULL;
    if (!all || !cJSON_IsArray(all))
        return dwf__builtin_arg_error(c, "throw_if_error", 0, "a parallel or map result", b);
    for (const cJSON *it = all->child; it; it = it->next) {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(it, "status");
        if (!dwf__is_str(st) || strcmp(st->valuestring, "FAILED") != 0) continue;
        /* The item's error as it is (ErrorData and Cause included), as the SDK rethrows it. */
        const cJSON *err = cJSON_GetObjectItemCaseSensitive(it, "error");
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(err, "ErrorType");
        if (cJSON_IsObject(err) && dwf__is_str(type)) {
            cJSON *copy = cJSON_Duplicate(err, 1);
            if (!copy) return dwf__own(c, NULL);
            dwf__set_error_obj(c, copy);
        } else {
            const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "ErrorMessage");
            dwf__set_error(c, "ChildContextError", dwf__is_str(msg) ? msg->valuestring : "");
        }
        return dwf_null(c);
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(b, "status");
    if (dwf__is_str(st) && strcmp(st->valuestring, "FAILED") == 0) {
        const cJSON *why = cJSON_GetObjectItemCaseSensitive(b, "completionReason");
        char msg[200];
        snprintf(msg, sizeof msg, "Batch completed as failed by shouldComplete (%s)",
                 dwf__is_str(why) ? why->valuestring : "CUSTOM_COMPLETION_FAILED");
        dwf__set_error(c, "BatchCompletionError", msg);
        return dwf_null(c);
    }
    return b;
}

/* ---- the functions of dwf.h, one per row of dwf_builtins.def ---------------------------- */
/* The row's rules, checked before its b_<name> runs: 1 to go on, 0 with the error recorded. */
static int builtin_allowed(dwf_ctx *c, const char *name, int min_args, int max_args, int where,
                           int argc, dwf_val *const *argv)
{
    char msg[200];
    if (argc < min_args || (max_args >= 0 && argc > max_args) || (argc > 0 && !argv)) {
        if (min_args == max_args)
            snprintf(msg, sizeof msg, "%s() takes %d argument%s, not %d", name, min_args,
                     min_args == 1 ? "" : "s", argc);
        else if (max_args < 0)
            snprintf(msg, sizeof msg, "%s() takes at least %d argument%s, not %d", name,
                     min_args, min_args == 1 ? "" : "s", argc);
        else
            snprintf(msg, sizeof msg, "%s() takes %d to %d arguments, not %d", name, min_args,
                     max_args, argc);
        dwf__set_error(c, "TypeError", msg);
        return 0;
    }
    if (where == DWF_BUILTIN_STEP_ONLY && !dwf__in_step(c)) {
        snprintf(msg, sizeof msg,
                 "%s() outside a step body would give a different value on replay", name);
        dwf__set_error(c, "NonDeterministicCall", msg);
        return 0;
    }
    return 1;
}

#define DWF_BUILTIN(name, min_args, max_args, where, params, summary)                          \
    dwf_val *dwf_builtin_##name(dwf_ctx *c, int argc, dwf_val *const *argv)                    \
    {                                                                                          \
        if (!builtin_allowed(c, #name, min_args, max_args, DWF_BUILTIN_##where, argc, argv))   \
            return dwf_null(c);                                                                \
        return dwf__b_##name(c, argc, argv);                                                   \
    }
#include "dwf_builtins.def"
