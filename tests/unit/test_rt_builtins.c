/*
 * test_rt_builtins.c: the builtins over arrays, objects and text (sdk/builtin_list.c,
 * sdk/builtin_text.c) and the lambdas some of them take, called as generated code calls them:
 * dwf_builtin_<name>(c, argc, argv), a lambda made with dwf_lambda() from a C function shaped as
 * codegen/emit_c.c writes them. Expected values follow JavaScript where the docs say so
 * (Object.groupBy, padStart, s.match, Date.parse of ISO text, Buffer base64), checked by hand
 * with node and Python's hashlib/base64/datetime.
 */
#include "value_harness.h"

#define EQ_JSON(want, v)                                                                      \
    do {                                                                                      \
        char *t_ = dwf__to_json(v);                                                           \
        tt_checks++;                                                                          \
        if (!t_ || strcmp((want), t_) != 0)                                                   \
            TT_FAIL_("%s: expected %s, got %s", #v, (want), t_ ? t_ : "(null)");              \
        free(t_);                                                                             \
    } while (0)

/* The pending error must be of `type` and its message hold `part` (taken). */
#define ERR(type, part)                                                                       \
    do {                                                                                      \
        dwf_val *e_ = dwf_error_take(C);                                                      \
        const cJSON *ty_ = cJSON_GetObjectItemCaseSensitive(e_, "ErrorType");                 \
        const cJSON *m_ = cJSON_GetObjectItemCaseSensitive(e_, "ErrorMessage");               \
        tt_checks++;                                                                          \
        if (!cJSON_IsString(ty_) || strcmp(ty_->valuestring, (type)) != 0 ||                  \
            !cJSON_IsString(m_) || !strstr(m_->valuestring, (part)))                          \
            TT_FAIL_("expected %s with '%s', got %s: %s", (type), (part),                     \
                     cJSON_IsString(ty_) ? ty_->valuestring : "no error",                     \
                     cJSON_IsString(m_) ? m_->valuestring : "");                              \
    } while (0)

#define NO_ERR() TT_ASSERT(dwf_error_take(C) == NULL)

static dwf_val *J(const char *text) { return dwf__own(C, dwf__parse_json(text, strlen(text), NULL)); }
static dwf_val *S(const char *s) { return dwf_str(C, s); }
static dwf_val *N(double d) { return dwf_num(C, d); }

#define ARGS(...) (dwf_val *[]){__VA_ARGS__}
#define NARGS(...) ((int)(sizeof(ARGS(__VA_ARGS__)) / sizeof(dwf_val *)))
#define B(name, ...) dwf_builtin_##name(C, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__))

/* ---- lambdas as the compiler writes them -------------------------------------------------- */
static int calls; /* how many times the lambdas ran: find/any/all stop early */

/* x => x > cap[0] */
static dwf_val *gt_cap(dwf_ctx *c, const void *frame, dwf_val *const *cap, dwf_val *x, dwf_val *i)
{
    (void)frame, (void)i;
    calls++;
    return dwf_binop(c, DWF_OP_GT, x, cap[0]);
}

/* (x, i) => [i, x] */
static dwf_val *pair(dwf_ctx *c, const void *frame, dwf_val *const *cap, dwf_val *x, dwf_val *i)
{
    (void)frame, (void)cap;
    return dwf_arr(c, 2, i, x);
}

/* x => x.k */
static dwf_val *key_k(dwf_ctx *c, const void *frame, dwf_val *const *cap, dwf_val *x, dwf_val *i)
{
    (void)frame, (void)cap, (void)i;
    return dwf_get(c, x, "k");
}

/* x => x * "a": a TypeError every time */
static dwf_val *bad(dwf_ctx *c, const void *frame, dwf_val *const *cap, dwf_val *x, dwf_val *i)
{
    (void)frame, (void)cap, (void)i;
    return dwf_binop(c, DWF_OP_MUL, x, dwf_str(c, "a"));
}

/* x => frame's number (the frame a lambda reads is the one given to dwf_lambda) */
static dwf_val *from_frame(dwf_ctx *c, const void *frame, dwf_val *const *cap, dwf_val *x, dwf_val *i)
{
    (void)cap, (void)x, (void)i;
    return dwf_num(c, *(const double *)frame);
}

static dwf_val *L(dwf_lambda_fn fn, dwf_val *const *cap) { return dwf_lambda(C, fn, NULL, cap); }

static void t_filter_transform_find(void)
{
    dwf_val *one[] = {N(1)};
    EQ_JSON("[2,3]", B(filter, J("[0,2,1,3]"), L(gt_cap, one)));
    EQ_JSON("[[0,\"a\"],[1,\"b\"]]", B(transform, J("[\"a\",\"b\"]"), L(pair, NULL)));
    EQ_JSON("[]", B(transform, J("[]"), L(pair, NULL)));
    calls = 0;
    EQ_JSON("2", B(find, J("[0,2,5]"), L(gt_cap, one)));
    TT_EQ_INT(2, calls); /* stops at the first */
    EQ_JSON("null", B(find, J("[0,1]"), L(gt_cap, one)));
    double seven = 7;
    EQ_JSON("[7,7]", B(transform, J("[1,2]"), dwf_lambda(C, from_frame, &seven, NULL)));
    NO_ERR();
}

static void t_any_all(void)
{
    dwf_val *one[] = {N(1)};
    calls = 0;
    EQ_JSON("true", B(any, J("[5,0,0]"), L(gt_cap, one)));
    TT_EQ_INT(1, calls);
    EQ_JSON("false", B(any, J("[]"), L(gt_cap, one)));
    EQ_JSON("true", B(all, J("[]"), L(gt_cap, one)));
    calls = 0;
    EQ_JSON("false", B(all, J("[0,5,5]"), L(gt_cap, one)));
    TT_EQ_INT(1, calls);
    EQ_JSON("true", B(all, J("[2,5]"), L(gt_cap, one)));
    NO_ERR();
}

static void t_lambda_errors(void)
{
    EQ_JSON("null", B(filter, J("[1,2]"), L(bad, NULL)));
    ERR("TypeError", "operator '*' cannot be applied to number and string");
    EQ_JSON("null", B(filter, J("[1]"), S("x => x")));
    ERR("TypeError", "filter(): argument 2 must be a lambda such as x => x.ok, not string");
    EQ_JSON("null", B(sort_by, J("{}"), L(key_k, NULL)));
    ERR("TypeError", "sort_by(): argument 1 must be an array, not object");
    EQ_JSON("\"lambda\"", B(type, L(key_k, NULL)));
}

static void t_sort_by_group_by(void)
{
    /* stable: equal keys keep their order */
    EQ_JSON("[{\"k\":1,\"n\":\"b\"},{\"k\":1,\"n\":\"d\"},{\"k\":2,\"n\":\"a\"},{\"k\":3,\"n\":\"c\"}]",
            B(sort_by, J("[{\"k\":2,\"n\":\"a\"},{\"k\":1,\"n\":\"b\"},{\"k\":3,\"n\":\"c\"},{\"k\":1,\"n\":\"d\"}]"),
              L(key_k, NULL)));
    EQ_JSON("[{\"k\":\"B\"},{\"k\":\"a\"},{\"k\":\"\xC3\xA9\"}]",
            B(sort_by, J("[{\"k\":\"\xC3\xA9\"},{\"k\":\"a\"},{\"k\":\"B\"}]"), L(key_k, NULL)));
    EQ_JSON("null", B(sort_by, J("[{\"k\":1},{\"k\":\"a\"}]"), L(key_k, NULL)));
    ERR("TypeError", "the keys must be all numbers or all strings; item 1's key is of type string");
    EQ_JSON("null", B(sort_by, J("[{\"k\":1},{}]"), L(key_k, NULL)));
    ERR("TypeError", "item 1's key is of type null");
    /* printed as JSON.stringify orders them: integer keys first */
    EQ_JSON("{\"1\":[{\"k\":1}],\"b\":[{\"k\":\"b\"},{\"k\":\"b\",\"x\":1}],\"a\":[{\"k\":\"a\"}],\"null\":[{}]}",
            B(group_by, J("[{\"k\":\"b\"},{\"k\":\"a\"},{\"k\":\"b\",\"x\":1},{\"k\":1},{}]"), L(key_k, NULL)));
    EQ_JSON("null", B(group_by, J("[{\"k\":[1]}]"), L(key_k, NULL)));
    ERR("TypeError", "group_by(): a key must be a string, number, boolean or null");
}

static void t_arrays(void)
{
    EQ_JSON("[1,\"1\",{\"a\":1,\"b\":2},null,[1]]",
            B(unique, J("[1,\"1\",1,{\"a\":1,\"b\":2},{\"b\":2,\"a\":1},null,null,[1],[1]]")));
    EQ_JSON("[0]", B(unique, J("[0,-0]")));
    EQ_JSON("[1,2,[3],4]", B(flatten, J("[1,[2,[3]],[],4]")));
    EQ_JSON("[[1,2],[3,4],[5]]", B(chunk, J("[1,2,3,4,5]"), N(2)));
    EQ_JSON("[]", B(chunk, J("[]"), N(3)));
    EQ_JSON("null", B(chunk, J("[1]"), N(0)));
    ERR("RangeError", "chunk(): the size must be a whole number from 1");
    EQ_JSON("null", B(chunk, J("[1]"), N(1.5)));
    ERR("RangeError", "whole number");
    EQ_JSON("2", B(index_of, S("h\xC3\xA9llo"), S("l")));
    EQ_JSON("-1", B(index_of, S("abc"), S("d")));
    EQ_JSON("1", B(index_of, J("[1,{\"a\":[2]}]"), J("{\"a\":[2]}")));
    EQ_JSON("-1", B(index_of, J("[1]"), S("1")));
    NO_ERR();
}

static void t_objects(void)
{
    EQ_JSON("[[\"a\",1],[\"b\",[2]]]", B(entries, J("{\"a\":1,\"b\":[2]}")));
    EQ_JSON("{\"2\":true,\"a\":3}", B(from_entries, J("[[\"a\",1],[2,true],[\"a\",3]]")));
    EQ_JSON("{}", B(from_entries, J("[]")));
    EQ_JSON("null", B(from_entries, J("[[\"a\"]]")));
    ERR("TypeError", "from_entries(): item 0 must be a [key, value] pair");
}

static void t_padding_and_regex(void)
{
    EQ_JSON("\"007\"", B(pad_start, S("7"), N(3), S("0")));
    EQ_JSON("\"abcab7\"", B(pad_start, S("7"), N(6), S("abc")));
    EQ_JSON("\"7  \"", B(pad_end, S("7"), N(3)));
    EQ_JSON("\"\xC3\xA9\xC3\xA9x\"", B(pad_start, S("x"), N(3), S("\xC3\xA9")));
    EQ_JSON("\"long\"", B(pad_end, S("long"), N(2)));
    EQ_JSON("null", B(pad_end, S("a"), N(2e6)));
    ERR("RangeError", "at most 1000000");
    EQ_JSON("true", B(matches, S("ORD-42"), S("^ORD-[0-9]+$")));
    EQ_JSON("false", B(matches, S("ord-42"), S("^ORD-[0-9]+$")));
    EQ_JSON("[\"2026-11\",\"2026\",\"11\"]", B(capture, S("due 2026-11-30"), S("([0-9]{4})-([0-9]{2})")));
    EQ_JSON("[\"b\",null,\"b\"]", B(capture, S("b"), S("(a)?(b)")));
    EQ_JSON("null", B(capture, S("xyz"), S("[0-9]")));
    EQ_JSON("null", B(matches, S("x"), S("a(")));
    ERR("TypeError", "matches(): argument 2 is not a valid regular expression (POSIX ERE)");
}

static void t_format_number(void)
{
    EQ_JSON("\"1,234,567.89\"", B(format_number, N(1234567.891), N(2)));
    EQ_JSON("\"1.01\"", B(format_number, N(1.005), N(2)));
    EQ_JSON("\"1,000\"", B(format_number, N(999.5)));
    EQ_JSON("\"0.00\"", B(format_number, N(-0.001), N(2)));
    EQ_JSON("\"-12,345.7\"", B(format_number, N(-12345.67), N(1)));
    EQ_JSON("\"123\"", B(format_number, N(123)));
    EQ_JSON("null", B(format_number, N(1), N(16)));
    ERR("RangeError", "decimals must be an integer from 0 to 15");
}

static void t_bytes(void)
{
    EQ_JSON("\"aGVsbG8=\"", B(base64_encode, S("hello")));
    EQ_JSON("\"YQBi\"", B(base64_encode, dwf_strn(C, "a\0b", 3)));
    EQ_JSON("\"\"", B(base64_encode, S("")));
    EQ_JSON("\"hello\"", B(base64_decode, S("aGVsbG8=")));
    EQ_JSON("\"hi\"", B(base64_decode, S("aGk")));          /* padding optional */
    EQ_JSON("\"\xEF\xBF\xBF\"", B(base64_decode, S("77-_"))); /* URL-safe alphabet */
    EQ_JSON("\"hello\"", B(base64_decode, S("aGVs\r\nbG8=")));
    EQ_JSON("\"a\\u0000b\"", B(base64_decode, S("YQBi")));
    EQ_JSON("null", B(base64_decode, S("aG$k")));
    ERR("TypeError", "base64_decode(): argument 1 is not base64: byte 2 ('$')");
    EQ_JSON("null", B(base64_decode, S("a")));
    ERR("TypeError", "its length is wrong");
    EQ_JSON("\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"", B(sha256, S("")));
    EQ_JSON("\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\"", B(sha256, S("abc")));
}

static void t_times(void)
{
    EQ_JSON("1774019546545", B(parse_time, S("2026-03-20T15:12:26.545Z")));
    EQ_JSON("1774019546545", B(parse_time, S("2026-03-20T20:42:26.545+05:30")));
    EQ_JSON("1774019546545", B(parse_time, S("2026-03-20T15:12:26.5459Z"))); /* ms: cut, as V8 */
    EQ_JSON("1773964800000", B(parse_time, S("2026-03-20")));
    EQ_JSON("1774019520000", B(parse_time, S("2026-03-20T15:12"))); /* no offset: UTC */
    EQ_JSON("1772323200000", B(parse_time, S("2026-03")));
    EQ_JSON("-62135596800000", B(parse_time, S("0001-01-01T00:00:00Z")));
    EQ_JSON("253402300800000", B(parse_time, S("+010000-01-01T00:00:00Z")));
    EQ_JSON("null", B(parse_time, S("2026-02-29")));
    EQ_JSON("1709164800000", B(parse_time, S("2024-02-29")));
    EQ_JSON("null", B(parse_time, S("20 March 2026")));
    EQ_JSON("null", B(parse_time, S("2026-03-20T25:00Z")));
    EQ_JSON("\"2026-03-20 15:12:26.545 Fri Friday Mar March 079 PM 03 5 5 UTC +0000\"",
            B(format_time, N(1774019546545.0), S("%F %T.%L %a %A %b %B %j %p %I %u %w %Z %z")));
    EQ_JSON("\"1969-12-31T23:59:59.999 Wed 3 690%\"", B(format_time, N(-1), S("%Y-%m-%dT%H:%M:%S.%L %a %u %y0%%")));
    EQ_JSON("\"1774019546 26\"", B(format_time, N(1774019546545.0), S("%s %y")));
    EQ_JSON("\"+010000\"", B(format_time, N(253402300800000.0), S("%Y")));
    EQ_JSON("null", B(format_time, N(0), S("%Q")));
    ERR("TypeError", "format_time(): unknown directive '%Q'");
    EQ_JSON("null", B(format_time, N(9e15), S("%F")));
    ERR("RangeError", "time value out of range");
}

static void root_tests(void)
{
    TT_RUN(t_filter_transform_find);
    TT_RUN(t_any_all);
    TT_RUN(t_lambda_errors);
    TT_RUN(t_sort_by_group_by);
    TT_RUN(t_arrays);
    TT_RUN(t_objects);
    TT_RUN(t_padding_and_regex);
    TT_RUN(t_format_number);
    TT_RUN(t_bytes);
    TT_RUN(t_times);
}

static void step_tests(void) {}

int main(void) { return value_harness(); }
