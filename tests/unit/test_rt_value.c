/*
 * test_rt_value.c: the value layer's expression semantics: constructors, access, operators,
 * JSON text and parsing, builtins. Expected texts for numbers and strings were computed with
 * node (`node -e 'console.log(JSON.stringify(x))'`, Node 20) and pasted in: the point is that
 * our JSON is byte-identical to what the official SDK would record.
 */
#include <math.h>
#include <time.h>

#define VALUE_CHECK_ROUNDTRIP 1
#include "value_harness.h"

/* ---- helpers ---------------------------------------------------------------------------- */
#define EQ_JSON(want, v)                                                                      \
    do {                                                                                      \
        char *t_ = dwf__to_json(v);                                                           \
        tt_checks++;                                                                          \
        if (!t_ || strcmp((want), t_) != 0)                                                   \
            TT_FAIL_("%s: expected %s, got %s", #v, (want), t_ ? t_ : "(null)");              \
        free(t_);                                                                             \
    } while (0)

/* The pending error must be of `type` (taken, so the next check starts clean). */
#define ERR(type)                                                                             \
    do {                                                                                      \
        dwf_val *e_ = dwf_error_take(C);                                                      \
        const cJSON *ty_ = cJSON_GetObjectItemCaseSensitive(e_, "ErrorType");                 \
        tt_checks++;                                                                          \
        if (!cJSON_IsString(ty_) || strcmp(ty_->valuestring, (type)) != 0)                    \
            TT_FAIL_("expected error %s, got %s", (type),                                     \
                     cJSON_IsString(ty_) ? ty_->valuestring : "no error");                    \
    } while (0)

#define NO_ERR()                                                                              \
    do {                                                                                      \
        dwf_val *e_ = dwf_error_take(C);                                                      \
        tt_checks++;                                                                          \
        if (e_) {                                                                             \
            char *t_ = dwf__to_json(e_);                                                      \
            TT_FAIL_("unexpected error %s", t_ ? t_ : "?");                                   \
            free(t_);                                                                         \
        }                                                                                     \
    } while (0)

static dwf_val *J(const char *text) { return dwf__own(C, dwf__parse_json(text, strlen(text), NULL)); }
static dwf_val *S(const char *s) { return dwf_str(C, s); }
static dwf_val *N(double d) { return dwf_num(C, d); }

#define ARGS(...) (dwf_val *[]){__VA_ARGS__}
#define NARGS(...) ((int)(sizeof(ARGS(__VA_ARGS__)) / sizeof(dwf_val *)))
#define B(name, ...) dwf_builtin_##name(C, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__))
#define B0(name) dwf_builtin_##name(C, 0, NULL)

/* ---- numbers ---------------------------------------------------------------------------- */
static void t_numbers_print_like_javascript(void)
{
    static const struct { double d; const char *js; } cases[] = {
        {0.1, "0.1"},
        {1774019546545.0, "1774019546545"},
        {1e20, "100000000000000000000"},
        {1e21, "1e+21"},
        {1e-7, "1e-7"},
        {0.000001, "0.000001"},
        {0.7999999999999999, "0.7999999999999999"},
        {4980, "4980"},
        {-0.0, "0"},
        {123456789012345680000.0, "123456789012345680000"},
        {5e-324, "5e-324"},
        {0.30000000000000004, "0.30000000000000004"},
        {1.7976931348623157e308, "1.7976931348623157e+308"},
        {-1.5e-10, "-1.5e-10"},
        {123.456, "123.456"},
        {9007199254740992.0, "9007199254740992"},
        {9007199254740994.0, "9007199254740994"},
        {1.0 / 3, "0.3333333333333333"},
        {-4980.5, "-4980.5"},
        {100, "100"},
        {1e100, "1e+100"},
        {0.000123, "0.000123"},
        /* just above a power of two: the correctly rounded 16 digits do not read back, the
         * neighbour does (a formatter trying only printf's digits prints 17 here) */
        {7.120236347223045e-307, "7.120236347223045e-307"},
        {5.858190679279809e-244, "5.858190679279809e-244"},
        {8.209073602596753e-289, "8.209073602596753e-289"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {8.98846567431158e+307, "8.98846567431158e+307"},
        {1.5e-323, "1.5e-323"},
        {1e23, "1e+23"},
        {9.5367431640625e-7, "9.5367431640625e-7"},
        /* integers below 2^53 are printed digit by digit (value.c): signs, digit-count edges */
        {1, "1"},
        {-1, "-1"},
        {9, "9"},
        {10, "10"},
        {-10, "-10"},
        {999999999999999.0, "999999999999999"},
        {9007199254740991.0, "9007199254740991"},
        {-9007199254740991.0, "-9007199254740991"},
        {-9007199254740992.0, "-9007199254740992"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char buf[32];
        dwf__num_text(cases[i].d, buf);
        TT_EQ_STR(cases[i].js, buf);
        EQ_JSON(cases[i].js, dwf_num(C, cases[i].d));
    }
    /* Integers below 2^53 as "%.0f" prints them, over every digit count and both signs. */
    for (double d = 1; d < 9007199254740992.0; d = d * 3 + 1)
        for (int sign = -1; sign <= 1; sign += 2) {
            char want[40], got[32];
            snprintf(want, sizeof want, "%.0f", sign * d);
            dwf__num_text(sign * d, got);
            TT_EQ_STR(want, got);
        }
    /* cJSON would print 0.1 + 0.7 as 0.8: ours must not lose it. */
    EQ_JSON("0.7999999999999999", dwf_binop(C, DWF_OP_ADD, N(0.1), N(0.7)));
    /* Non-finite numbers are null, as JSON.stringify records them. */
    EQ_JSON("null", dwf_num(C, INFINITY));
    EQ_JSON("null", dwf_num(C, NAN));
    NO_ERR();
}

/* ---- differential checks against node (skipped where node is not installed) -------------- */
static int have_node(void) { return system("node --version >/dev/null 2>&1") == 0; }

static int unhex(const char *h, char *out, size_t cap, size_t *n)
{
    size_t k = 0;
    for (; h[0] && h[1] && h[0] != ' ' && h[0] != '\n'; h += 2) {
        unsigned v;
        if (k + 1 >= cap || sscanf(h, "%2x", &v) != 1) return 0;
        out[k++] = (char)v;
    }
    out[k] = '\0';
    *n = k;
    return 1;
}

/* node prints "<hex of the double's bits> <JSON.stringify of it>" for random bit patterns,
 * powers of two (where the shortest digits are hardest) and typical money/ratio values. */
static const char NODE_NUMBERS[] =
    "const b=Buffer.alloc(8),o=[];"
    "function e(x){if(!isFinite(x))return;b.writeDoubleLE(x);o.push(b.readBigUInt64LE().toString(16)+' '+JSON.stringify(x))}"
    "for(let p=-1074;p<=1023;p+=3){e(2**p);e(-(2**p)*1.5)}"
    "const r=require('crypto');for(let i=0;i<20000;i++)e(r.randomBytes(8).readDoubleLE(0));"
    "for(let i=0;i<5000;i++){e(Math.round(Math.random()*1e6)/100);e(Math.random()*1e22)}"
    "console.log(o.join('\\n'))";

static void t_numbers_match_node(void)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "node -e \"%s\"", NODE_NUMBERS);
    FILE *f = popen(cmd, "r");
    TT_ASSERT(f != NULL);
    if (!f) return;
    char line[256];
    long n = 0, bad = 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long long bits;
        char want[64], got[32];
        if (sscanf(line, "%llx %63s", &bits, want) != 2) continue;
        double d;
        memcpy(&d, &bits, sizeof d);
        dwf__num_text(d, got);
        n++;
        if (strcmp(got, want) != 0 && bad++ < 5) TT_FAIL_("%llx: node %s, dwf %s", bits, want, got);
    }
    TT_EQ_INT(0, pclose(f));
    TT_ASSERT(n > 20000);
    TT_EQ_INT(0, bad);
}

/* node mutates JSON texts at random and prints "<hex text> <hex of JSON.stringify(JSON.parse
 * (text))>" or "<hex text> -" when JSON.parse rejects it: our parser must accept and reject the
 * same texts and print the same bytes (key order, escapes, numbers, lone surrogates). */
static const char NODE_JSON[] =
    "const S=['{\\\"a\\\":1,\\\"b\\\":[true,false,null],\\\"2\\\":\\\"x\\\\\\u00e9\\\\\\n\\\"}',"
    "'[1.5e3,-0,0.1,{\\\"\\\":\\\"\\\"}]','\\\"\\\\\\ud83d\\\\\\ude00 \\\\\\u0000\\\"',"
    "'{\\\"k\\\":\\\"v\\\",\\\"k\\\":\\\"w\\\",\\\"10\\\":1,\\\"9\\\":2}','[1e-7,1E+2,-12.50,123456789012345678901]'];"
    "const A='{}[]\\\",:0123456789.eE+-tfnrulasxd\\\\ ',o=[];const R=n=>Math.floor(Math.random()*n);"
    "for(let i=0;i<20000;i++){let s=S[R(S.length)];for(let m=R(4);m>0;m--){const p=R(s.length+1),c=A[R(A.length)];"
    "s=[s.slice(0,p)+c+s.slice(p),s.slice(0,p)+s.slice(p+1),s.slice(0,p)+c+s.slice(p+1)][R(3)]}"
    "let r;try{r=Buffer.from(JSON.stringify(JSON.parse(s))).toString('hex')}catch(e){r='-'}"
    "o.push(Buffer.from(s).toString('hex')+' '+r)}console.log(o.join('\\n'))";

static void t_json_matches_node(void)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "node -e \"%s\"", NODE_JSON);
    FILE *f = popen(cmd, "r");
    TT_ASSERT(f != NULL);
    if (!f) return;
    static char line[8192], in[2048], want[2048];
    long n = 0, bad = 0, accepted = 0;
    while (fgets(line, sizeof line, f)) {
        char *sp = strchr(line, ' ');
        size_t ilen, wlen;
        if (!sp || !unhex(line, in, sizeof in, &ilen)) continue;
        int rejected = sp[1] == '-';
        if (!rejected && !unhex(sp + 1, want, sizeof want, &wlen)) continue;
        cJSON *v = dwf__parse_json(in, ilen, NULL);
        char *got = v ? dwf__to_json(v) : NULL;
        n++;
        accepted += !rejected;
        int ok = rejected ? got == NULL : got && strcmp(got, want) == 0;
        if (!ok && bad++ < 5)
            TT_FAIL_("%s: node %s, dwf %s", in, rejected ? "rejects" : want, got ? got : "rejects");
        free(got);
        cJSON_Delete(v);
    }
    TT_EQ_INT(0, pclose(f));
    TT_ASSERT(n > 19000 && accepted > 1000);
    TT_EQ_INT(0, bad);
}

/* ---- constructors ----------------------------------------------------------------------- */
static void t_constructors_copy(void)
{
    EQ_JSON("null", dwf_null(C));
    EQ_JSON("true", dwf_bool(C, 7));
    EQ_JSON("false", dwf_bool(C, 0));
    EQ_JSON("\"\"", dwf_str(C, NULL));
    dwf_val *inner = J("{\"x\":[1,2]}");
    dwf_val *o = dwf_obj(C, 3, "a", inner, "b", NULL, "a", N(2));
    /* a repeated key replaces in place, like an object literal */
    EQ_JSON("{\"a\":2,\"b\":null}", o);
    dwf_val *o2 = dwf_obj(C, 2, "inner", inner, "n", N(1));
    EQ_JSON("{\"inner\":{\"x\":[1,2]},\"n\":1}", o2);
    TT_ASSERT(dwf_get(C, o2, "inner") != inner); /* a copy, not the argument */
    EQ_JSON("{\"x\":[1,2]}", inner);              /* the argument is untouched */
    EQ_JSON("{}", dwf_obj(C, 0));
    dwf_val *a = dwf_arr(C, 3, N(1), NULL, inner);
    EQ_JSON("[1,null,{\"x\":[1,2]}]", a);
    TT_ASSERT(dwf_index(C, a, N(2)) != inner);
    EQ_JSON("[]", dwf_arr(C, 0));
    /* the same value may be used twice */
    EQ_JSON("[{\"x\":[1,2]},{\"x\":[1,2]}]", dwf_arr(C, 2, inner, inner));
    NO_ERR();
}

static void t_strings_nul_and_utf8(void)
{
    dwf_val *s = dwf_strn(C, "a\0b", 3);
    EQ_JSON("\"a\\u0000b\"", s);
    size_t n = 0;
    char *bytes = dwf__string_bytes(s->valuestring, &n);
    TT_EQ_INT(3, n);
    TT_ASSERT(bytes && memcmp(bytes, "a\0b", 3) == 0);
    free(bytes);
    EQ_JSON("3", B(len, s));
    TT_ASSERT(dwf_truthy(dwf_strn(C, "\0", 1))); /* "\0" is not the empty string */
    /* node: JSON.stringify({a:"x\u0000y\n\t\"\\\u001f\u007f é 😀"}) */
    dwf_val *v = dwf_obj(C, 1, "a", dwf_strn(C, "x\0y\n\t\"\\\x1f\x7f \xC3\xA9 \xF0\x9F\x98\x80", 17));
    EQ_JSON("{\"a\":\"x\\u0000y\\n\\t\\\"\\\\\\u001f\x7f \xC3\xA9 \xF0\x9F\x98\x80\"}", v);
    /* invalid UTF-8 becomes U+FFFD (TextDecoder), so the JSON stays valid */
    /* node: new TextDecoder().decode(Buffer.from([0x61,0xff,0x62,0xc3])) is "a\ufffdb\ufffd";
     * Buffer.from([0xc0,0x80]) gives two U+FFFD, [0xed,0xa0,0x80] three, [0xe2,0x82] one */
    EQ_JSON("\"a\xEF\xBF\xBD" "b\xEF\xBF\xBD\"", dwf_strn(C, "a\xFF" "b\xC3", 4));
    EQ_JSON("\"\xEF\xBF\xBD\xEF\xBF\xBD\"", dwf_str(C, "\xC0\x80")); /* overlong NUL: invalid */
    EQ_JSON("\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"", dwf_str(C, "\xED\xA0\x80")); /* surrogate */
    EQ_JSON("\"\xEF\xBF\xBDx\"", dwf_str(C, "\xE2\x82x")); /* truncated sequence: one */
    /* the text of a NUL-holding string keeps it through concat and JSON parse */
    dwf_val *cat = dwf_concat(C, 2, s, S("!"));
    EQ_JSON("\"a\\u0000b!\"", cat);
    EQ_JSON("\"a\\u0000b!\"", B(json, B(to_json, cat)));
    NO_ERR();
}

/* ---- JSON.parse ------------------------------------------------------------------------- */
static void t_parse_json(void)
{
    EQ_JSON("{\"a\":3,\"b\":2}", J("{\"a\":1,\"b\":2,\"a\":3}")); /* node: {"a":3,"b":2} */
    EQ_JSON("\"a\\u0000b\"", J("\"a\\u0000b\""));
    EQ_JSON("\"\xF0\x9F\x98\x80\"", J("\"\\ud83d\\ude00\""));
    /* lone surrogates are kept, as JSON.parse keeps them; node: JSON.stringify(JSON.parse(..)) */
    EQ_JSON("\"\\ud800x\"", J("\"\\ud800x\""));
    dwf_val *ls = J("\"\\ude00\\ud83d\"");
    EQ_JSON("\"\\ude00\\ud83d\"", ls);
    EQ_JSON("2", B(len, ls));
    EQ_JSON("\"\\ud83d\"", dwf_index(C, ls, N(1)));
    size_t bn = 0;
    char *bytes = dwf__string_bytes(J("\"a\\ud800\"")->valuestring, &bn);
    TT_ASSERT(bytes && bn == 4 && memcmp(bytes, "a\xEF\xBF\xBD", 4) == 0); /* Buffer.from: 61efbfbd */
    free(bytes);
    EQ_JSON("[1,-0.5,1e+21,0,null]", J(" [ 1 , -5e-1, 1E21, -0, 1e999 ] "));
    EQ_JSON("\"/\\b\\f\\n\\r\\t\\\"\\\\\"", J("\"\\/\\b\\f\\n\\r\\t\\\"\\\\\""));
    EQ_JSON("{\"\":{}}", J("{\"\":{}}"));
    EQ_JSON("1774019546545", J("1774019546545"));
    static const char *const bad[] = {"",      "{",       "[1,]",   "01",    "1.",   "tru",
                                      "\"\x01\"", "{} x",  "{\"a\" 1}", "[1 2]", "'a'",  "\"\\x\"",
                                      "-",     "NaN",     "{a:1}",  "\"abc", "1e",   "[\"\\u12\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char err[128] = "";
        cJSON *v = dwf__parse_json(bad[i], strlen(bad[i]), err);
        tt_checks++;
        if (v || !err[0]) TT_FAIL_("parse of '%s' should fail with a reason", bad[i]);
        cJSON_Delete(v);
    }
    /* a repeated key in a large object (the parser's hashed path): in place, last wins */
    char big[1024], want[1024];
    size_t o = 0, w = 0;
    o += (size_t)snprintf(big + o, sizeof big - o, "{");
    w += (size_t)snprintf(want + w, sizeof want - w, "{");
    for (int i = 0; i < 40; i++) {
        o += (size_t)snprintf(big + o, sizeof big - o, "\"k%d\":%d,", i, i);
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        w += (size_t)snprintf(want + w, sizeof want - w, "%s\"k%d\":%s", i ? "," : "", i,
                              i == 3 ? "\"dup\"" : i == 39 ? "[]" : i == 20 ? "null" : num);
    }
    snprintf(big + o, sizeof big - o, "\"k3\":\"dup\",\"k20\":1,\"k39\":[],\"k20\":null}");
    snprintf(want + w, sizeof want - w, "}");
    TT_ASSERT(strstr(want, ",\"k3\":\"dup\",\"k4\":4,") && strstr(want, ",\"k39\":[]}"));
    EQ_JSON(want, J(big));
    /* not NUL-terminated: only len bytes count */
    cJSON *v = dwf__parse_json("[1]xyz", 3, NULL);
    TT_ASSERT(v && cJSON_GetArraySize(v) == 1);
    cJSON_Delete(v);
    /* nesting limit */
    char deep[2100];
    memset(deep, '[', 1001);
    memset(deep + 1001, ']', 1001);
    deep[2002] = '\0';
    v = dwf__parse_json(deep, 2002, NULL);
    TT_ASSERT(v == NULL);
    v = dwf__parse_json(deep + 1, 2000, NULL); /* exactly 1000 deep is fine */
    TT_ASSERT(v != NULL);
    cJSON_Delete(v);
}

/* JavaScript puts "array index" keys first, ascending; the wire payloads must match. */
static void t_object_key_order_like_javascript(void)
{
    /* node: JSON.stringify(JSON.parse(<the same text>)) */
    EQ_JSON("{\"1\":2,\"2\":0,\"10\":1,\"4294967294\":6,\"b\":1,\"01\":3,\"-1\":4,\"4294967295\":5}",
            J("{\"b\":1,\"2\":0,\"10\":1,\"1\":2,\"01\":3,\"-1\":4,\"4294967295\":5,\"4294967294\":6}"));
    /* node: Object.keys({b:1,"2":0,a:3}) is ["2","b","a"] */
    dwf_val *o = dwf_obj(C, 3, "b", N(1), "2", N(0), "a", N(3));
    EQ_JSON("[\"2\",\"b\",\"a\"]", B(keys, o));
    EQ_JSON("\"2\"", dwf_item(C, o, 0));
    /* node: Object.assign({b:1},{"0":2}) */
    EQ_JSON("{\"0\":2,\"b\":1}", dwf_binop(C, DWF_OP_ADD, J("{\"b\":1}"), J("{\"0\":2}")));
    /* a repeated index key keeps its place */
    EQ_JSON("{\"1\":\"x\",\"3\":3}", dwf_obj(C, 3, "3", N(3), "1", N(1), "1", S("x")));
    /* a tree built by someone else in another order is still written in JavaScript's */
    cJSON *raw = cJSON_CreateObject();
    cJSON_AddNumberToObject(raw, "z", 1);
    cJSON_AddNumberToObject(raw, "7", 2);
    cJSON_AddNumberToObject(raw, "3", 3);
    char *t = dwf__to_json(raw);
    TT_EQ_STR("{\"3\":3,\"7\":2,\"z\":1}", t);
    free(t);
    cJSON_Delete(raw);
    NO_ERR();
}

/* JSON.stringify(v, null, n), for showing values to people. */
static void t_json_indent(void)
{
    /* node: JSON.stringify({a:[1,{b:[],c:{}}],"2":"x",e:[[]],s:"q"}, null, 2) */
    char *t = dwf__to_json_indent(J("{\"a\":[1,{\"b\":[],\"c\":{}}],\"2\":\"x\",\"e\":[[]],\"s\":\"q\"}"), 2);
    TT_EQ_STR("{\n  \"2\": \"x\",\n  \"a\": [\n    1,\n    {\n      \"b\": [],\n      \"c\": {}\n"
              "    }\n  ],\n  \"e\": [\n    []\n  ],\n  \"s\": \"q\"\n}", t);
    free(t);
    t = dwf__to_json_indent(J("{\"a\":0.7999999999999999}"), 4);
    TT_EQ_STR("{\n    \"a\": 0.7999999999999999\n}", t);
    free(t);
    t = dwf__to_json_indent(J("[]"), 2);
    TT_EQ_STR("[]", t);
    free(t);
    t = dwf__to_json_indent(N(5), 2);
    TT_EQ_STR("5", t);
    free(t);
    t = dwf__to_json_indent(J("[1,{\"a\":2}]"), 0); /* 0: compact */
    TT_EQ_STR("[1,{\"a\":2}]", t);
    free(t);
}

/* ---- access ----------------------------------------------------------------------------- */
static void t_get_and_index(void)
{
    dwf_val *o = J("{\"a\":{\"b\":[10,20,{\"c\":\"x\"}]},\"1\":\"one\",\"A\":5}");
    dwf_val *a = dwf_get(C, o, "a");
    TT_ASSERT(a == cJSON_GetObjectItemCaseSensitive(o, "a")); /* borrowed, not copied */
    EQ_JSON("[10,20,{\"c\":\"x\"}]", dwf_get(C, a, "b"));
    EQ_JSON("5", dwf_get(C, o, "A"));   /* keys are case-sensitive ... */
    EQ_JSON("null", dwf_get(C, a, "B")); /* ... unlike cJSON_GetObjectItem */
    EQ_JSON("null", dwf_get(C, o, "missing"));
    EQ_JSON("null", dwf_get(C, N(3), "a")); /* like a?.key: no error */
    EQ_JSON("null", dwf_get(C, NULL, "a"));
    EQ_JSON("null", dwf_get(C, dwf_get(C, o, "no"), "deeper"));
    dwf_val *arr = dwf_get(C, a, "b");
    EQ_JSON("10", dwf_index(C, arr, N(0)));
    EQ_JSON("{\"c\":\"x\"}", dwf_index(C, arr, N(2)));
    EQ_JSON("null", dwf_index(C, arr, N(3)));
    EQ_JSON("null", dwf_index(C, arr, N(-1)));
    EQ_JSON("null", dwf_index(C, arr, N(1.5)));
    EQ_JSON("10", dwf_index(C, arr, S("0")));  /* JavaScript: arr["0"] is arr[0] */
    EQ_JSON("null", dwf_index(C, arr, S("01"))); /* not an index: a property nobody has */
    EQ_JSON("null", dwf_index(C, arr, S("x")));
    EQ_JSON("null", dwf_index(C, arr, N(1e300)));
    EQ_JSON("{\"b\":[10,20,{\"c\":\"x\"}]}", dwf_index(C, o, S("a")));
    EQ_JSON("\"one\"", dwf_index(C, o, N(1))); /* o[1] is o["1"] */
    EQ_JSON("null", dwf_index(C, o, J("true")));
    EQ_JSON("\"\xC3\xA9\"", dwf_index(C, S("h\xC3\xA9llo"), N(1)));
    EQ_JSON("\"o\"", dwf_index(C, S("h\xC3\xA9llo"), N(4)));
    EQ_JSON("null", dwf_index(C, S("abc"), N(3)));
    EQ_JSON("\"\\u0000\"", dwf_index(C, dwf_strn(C, "a\0b", 3), N(1)));
    EQ_JSON("null", dwf_index(C, dwf_null(C), N(0)));
    NO_ERR();
}

static void t_input(void)
{
    EQ_JSON("{\"orderId\":\"ORD-7\",\"items\":[{\"id\":\"A\",\"price\":1000}]}", dwf_input(C));
    EQ_JSON("\"ORD-7\"", dwf_coalesce(C, dwf_get(C, dwf_input(C), "orderId"), S("ORD-001")));
    EQ_JSON("\"ORD-001\"", dwf_coalesce(C, dwf_get(C, dwf_input(C), "nope"), S("ORD-001")));
    NO_ERR();
}

/* ---- operators -------------------------------------------------------------------------- */
static void t_add(void)
{
    EQ_JSON("3", dwf_binop(C, DWF_OP_ADD, N(1), N(2)));
    EQ_JSON("0.30000000000000004", dwf_binop(C, DWF_OP_ADD, N(0.1), N(0.2)));
    EQ_JSON("\"ab\"", dwf_binop(C, DWF_OP_ADD, S("a"), S("b")));
    EQ_JSON("\"n=1\"", dwf_binop(C, DWF_OP_ADD, S("n="), N(1)));
    EQ_JSON("\"1x\"", dwf_binop(C, DWF_OP_ADD, N(1), S("x")));
    EQ_JSON("\"anull\"", dwf_binop(C, DWF_OP_ADD, S("a"), dwf_null(C)));
    EQ_JSON("\"atrue\"", dwf_binop(C, DWF_OP_ADD, S("a"), J("true")));
    EQ_JSON("\"a{\\\"k\\\":[1]}\"", dwf_binop(C, DWF_OP_ADD, S("a"), J("{\"k\":[1]}")));
    dwf_val *item = J("{\"id\":\"A\",\"price\":1000}");
    dwf_val *m = dwf_binop(C, DWF_OP_ADD, item, J("{\"processed\":true,\"price\":5}"));
    EQ_JSON("{\"id\":\"A\",\"price\":5,\"processed\":true}", m); /* right wins, order kept */
    EQ_JSON("{\"id\":\"A\",\"price\":1000}", item);               /* left untouched */
    EQ_JSON("[1,2,3,[4]]", dwf_binop(C, DWF_OP_ADD, J("[1,2]"), J("[3,[4]]")));
    NO_ERR();
    EQ_JSON("null", dwf_binop(C, DWF_OP_ADD, N(1), J("true")));
    ERR("TypeError");
    dwf_binop(C, DWF_OP_ADD, dwf_null(C), N(1));
    ERR("TypeError");
    dwf_binop(C, DWF_OP_ADD, J("[1]"), J("{\"a\":1}"));
    ERR("TypeError");
    dwf_binop(C, DWF_OP_ADD, NULL, NULL);
    ERR("TypeError");
    dwf_binop(C, DWF_OP_ADD, N(1e308), N(1e308));
    ERR("RangeError");
}

static void t_arithmetic(void)
{
    EQ_JSON("6", dwf_binop(C, DWF_OP_SUB, N(10), N(4)));
    EQ_JSON("42", dwf_binop(C, DWF_OP_MUL, N(6), N(7)));
    EQ_JSON("3.5", dwf_binop(C, DWF_OP_DIV, N(7), N(2)));
    EQ_JSON("-1", dwf_binop(C, DWF_OP_MOD, N(-7), N(3))); /* node: -7 % 3 === -1 */
    EQ_JSON("1", dwf_binop(C, DWF_OP_MOD, N(7), N(-3)));
    EQ_JSON("1.5", dwf_binop(C, DWF_OP_MOD, N(5.5), N(2)));
    EQ_JSON("4980", dwf_binop(C, DWF_OP_MUL, N(49.8), N(100)));
    NO_ERR();
    EQ_JSON("null", dwf_binop(C, DWF_OP_DIV, N(1), N(0)));
    ERR("DivisionByZero");
    dwf_binop(C, DWF_OP_MOD, N(1), N(-0.0));
    ERR("DivisionByZero");
    dwf_binop(C, DWF_OP_MUL, N(1e308), N(10));
    ERR("RangeError");
    dwf_binop(C, DWF_OP_SUB, S("a"), N(1));
    ERR("TypeError");
    dwf_binop(C, DWF_OP_MUL, N(2), S("3"));
    ERR("TypeError");
    dwf_binop(C, 99, N(1), N(2));
    ERR("TypeError");
}

static void t_equality_is_deep(void)
{
    TT_ASSERT(cJSON_IsTrue(dwf_binop(C, DWF_OP_EQ, J("{\"a\":[1,{\"b\":2}],\"c\":null}"),
                                     J("{\"c\":null,\"a\":[1,{\"b\":2}]}"))));
    TT_ASSERT(cJSON_IsFalse(dwf_binop(C, DWF_OP_EQ, J("{\"a\":1}"), J("{\"a\":1,\"b\":2}"))));
    TT_ASSERT(cJSON_IsFalse(dwf_binop(C, DWF_OP_EQ, J("{\"a\":1,\"b\":2}"), J("{\"a\":1}"))));
    TT_ASSERT(cJSON_IsFalse(dwf_binop(C, DWF_OP_EQ, J("{\"a\":null}"), J("{\"b\":null}"))));
    TT_ASSERT(cJSON_IsTrue(dwf_binop(C, DWF_OP_NE, J("[1,2]"), J("[2,1]"))));
    TT_ASSERT(cJSON_IsFalse(dwf_binop(C, DWF_OP_EQ, J("[1,2]"), J("[1,2,3]"))));
    TT_ASSERT(cJSON_IsTrue(dwf_binop(C, DWF_OP_EQ, N(1), J("1.0"))));
    TT_ASSERT(cJSON_IsFalse(dwf_binop(C, DWF_OP_EQ, S("1"), N(1))));
    TT_ASSERT(cJSON_IsFalse(dwf_binop(C, DWF_OP_EQ, J("true"), N(1))));
    TT_ASSERT(cJSON_IsTrue(dwf_binop(C, DWF_OP_EQ, dwf_null(C), NULL)));
    TT_ASSERT(cJSON_IsFalse(dwf_binop(C, DWF_OP_EQ, dwf_null(C), J("false"))));
    TT_ASSERT(cJSON_IsFalse(dwf_binop(C, DWF_OP_EQ, J("false"), J("true"))));
    TT_ASSERT(cJSON_IsFalse(dwf_binop(C, DWF_OP_EQ, dwf_strn(C, "a\0b", 3), S("a"))));
    /* exact, unlike cJSON_Compare's epsilon: 0.1 + 0.2 != 0.3 */
    TT_ASSERT(cJSON_IsFalse(
        dwf_binop(C, DWF_OP_EQ, dwf_binop(C, DWF_OP_ADD, N(0.1), N(0.2)), N(0.3))));
    TT_ASSERT(cJSON_IsTrue(dwf_binop(C, DWF_OP_NE, N(1e15), N(1e15 + 1))));
    NO_ERR();
}

static void t_ordering(void)
{
    TT_ASSERT(cJSON_IsTrue(dwf_binop(C, DWF_OP_LT, N(1), N(2))));
    TT_ASSERT(cJSON_IsFalse(dwf_binop(C, DWF_OP_LT, N(2), N(2))));
    TT_ASSERT(cJSON_IsTrue(dwf_binop(C, DWF_OP_LE, N(2), N(2))));
    TT_ASSERT(cJSON_IsTrue(dwf_binop(C, DWF_OP_GT, N(-1), N(-2))));
    TT_ASSERT(cJSON_IsTrue(dwf_binop(C, DWF_OP_GE, N(3), N(2.5))));
    TT_ASSERT(cJSON_IsTrue(dwf_binop(C, DWF_OP_LT, S("apple"), S("banana"))));
    TT_ASSERT(cJSON_IsTrue(dwf_binop(C, DWF_OP_LT, S("Z"), S("a"))));
    TT_ASSERT(cJSON_IsTrue(dwf_binop(C, DWF_OP_LT, S("ab"), S("abc"))));
    TT_ASSERT(cJSON_IsTrue(dwf_binop(C, DWF_OP_GE, S("b"), S("b"))));
    NO_ERR();
    EQ_JSON("null", dwf_binop(C, DWF_OP_LT, N(1), S("2")));
    ERR("TypeError");
    dwf_binop(C, DWF_OP_GT, dwf_null(C), N(0));
    ERR("TypeError");
}

static void t_unary_truthy_coalesce(void)
{
    EQ_JSON("-5", dwf_unop(C, DWF_OP_NEG, N(5)));
    EQ_JSON("0", dwf_unop(C, DWF_OP_NEG, N(0)));
    EQ_JSON("true", dwf_unop(C, DWF_OP_NOT, N(0)));
    EQ_JSON("false", dwf_unop(C, DWF_OP_NOT, J("[]")));
    EQ_JSON("true", dwf_unop(C, DWF_OP_NOT, NULL));
    NO_ERR();
    dwf_unop(C, DWF_OP_NEG, S("x"));
    ERR("TypeError");
    dwf_unop(C, 77, N(1));
    ERR("TypeError");

    TT_ASSERT(!dwf_truthy(NULL));
    TT_ASSERT(!dwf_truthy(dwf_null(C)));
    TT_ASSERT(!dwf_truthy(J("false")));
    TT_ASSERT(!dwf_truthy(N(0)));
    TT_ASSERT(!dwf_truthy(N(-0.0)));
    TT_ASSERT(!dwf_truthy(S("")));
    TT_ASSERT(dwf_truthy(J("[]")));
    TT_ASSERT(dwf_truthy(J("{}")));
    TT_ASSERT(dwf_truthy(S("0")));
    TT_ASSERT(dwf_truthy(S(" ")));
    TT_ASSERT(dwf_truthy(N(-1)));
    TT_ASSERT(dwf_truthy(N(5e-324)));
    TT_ASSERT(dwf_truthy(J("true")));

    dwf_val *five = N(5), *zero = N(0), *f = J("false");
    TT_ASSERT(dwf_coalesce(C, dwf_null(C), five) == five);
    TT_ASSERT(dwf_coalesce(C, NULL, five) == five);
    TT_ASSERT(dwf_coalesce(C, zero, five) == zero);
    TT_ASSERT(dwf_coalesce(C, f, five) == f);
    EQ_JSON("null", dwf_coalesce(C, NULL, NULL));
    NO_ERR();
}

static void t_iteration(void)
{
    dwf_val *a = J("[\"x\",{\"y\":1},null]");
    TT_EQ_INT(3, dwf_len(a));
    EQ_JSON("\"x\"", dwf_item(C, a, 0));
    EQ_JSON("{\"y\":1}", dwf_item(C, a, 1));
    EQ_JSON("null", dwf_item(C, a, 2));
    EQ_JSON("null", dwf_item(C, a, 3));
    EQ_JSON("null", dwf_item(C, a, -1));
    dwf_val *o = J("{\"b\":1,\"a\":2}");
    TT_EQ_INT(2, dwf_len(o));
    EQ_JSON("\"b\"", dwf_item(C, o, 0)); /* objects give their keys, in order */
    EQ_JSON("\"a\"", dwf_item(C, o, 1));
    TT_EQ_INT(0, dwf_len(S("abc")));
    TT_EQ_INT(0, dwf_len(NULL));
    TT_EQ_INT(0, dwf_len(dwf_null(C)));
    TT_EQ_INT(0, dwf_len(J("[]")));
    NO_ERR();
}

static void t_concat_and_text(void)
{
    EQ_JSON("\"Order ORD-7 costs 4980 {\\\"a\\\":[1,null]} true null 0.1\"",
            dwf_concat(C, 10, S("Order "), S("ORD-7"), S(" costs "), N(4980), S(" "),
                       J("{\"a\":[1,null]}"), S(" "), J("true"), S(" "), dwf_concat(C, 2, dwf_null(C), S(" 0.1"))));
    EQ_JSON("\"\"", dwf_concat(C, 0));
    char *t = dwf__to_text(S("raw \"text\""));
    TT_EQ_STR("raw \"text\"", t);
    free(t);
    t = dwf__to_text(N(1e21));
    TT_EQ_STR("1e+21", t);
    free(t);
    t = dwf__to_text(NULL);
    TT_EQ_STR("null", t);
    free(t);
    t = dwf__to_text(J("[\"a\",1.5]"));
    TT_EQ_STR("[\"a\",1.5]", t);
    free(t);
    NO_ERR();
}

/* ---- builtins ---------------------------------------------------------------------------- */
static void t_builtins_shape(void)
{
    EQ_JSON("6", B(len, S("h\xC3\xA9llo\xF0\x9F\x98\x80"))); /* code points */
    EQ_JSON("2", B(len, J("[1,[2,3]]")));
    EQ_JSON("0", B(len, J("{}")));
    EQ_JSON("[\"b\",\"a\"]", B(keys, J("{\"b\":1,\"a\":{\"c\":2}}")));
    EQ_JSON("[1,{\"c\":2}]", B(values, J("{\"b\":1,\"a\":{\"c\":2}}")));
    EQ_JSON("[\"null\",\"boolean\",\"number\",\"string\",\"array\",\"object\"]",
            dwf_arr(C, 6, B(type, dwf_null(C)), B(type, J("true")), B(type, N(1)),
                    B(type, S("")), B(type, J("[]")), B(type, J("{}"))));
    NO_ERR();
    B(len, N(5));
    ERR("TypeError");
    B(len, dwf_null(C));
    ERR("TypeError");
    B(keys, J("[1]"));
    ERR("TypeError");
    B(len, N(1), N(2));
    ERR("TypeError");
    B0(len);
    ERR("TypeError");
}

static void t_builtins_convert(void)
{
    EQ_JSON("\"1.5\"", B(str, N(1.5)));
    EQ_JSON("\"x\"", B(str, S("x")));
    EQ_JSON("\"{\\\"a\\\":1}\"", B(str, J("{\"a\":1}")));
    EQ_JSON("42", B(num, S("42")));
    EQ_JSON("1000", B(num, S(" 1e3 ")));
    EQ_JSON("5", B(num, S("+5")));
    EQ_JSON("-0.5", B(num, S("-0.5")));
    /* node: Number(".5"), Number("5."), Number("007"), Number("-1.5E3") */
    EQ_JSON("0.5", B(num, S(".5")));
    EQ_JSON("5", B(num, S("5.")));
    EQ_JSON("7", B(num, S("007")));
    EQ_JSON("-1500", B(num, S("-1.5E3")));
    EQ_JSON("null", B(num, S(".")));
    EQ_JSON("null", B(num, S("1e")));
    EQ_JSON("null", B(num, S("1e999")));
    EQ_JSON("null", B(num, S("1 2")));
    EQ_JSON("null", B(num, S("0x1A")));
    EQ_JSON("null", B(num, S("abc")));
    EQ_JSON("null", B(num, S("")));
    EQ_JSON("null", B(num, S("12abc")));
    EQ_JSON("null", B(num, S("+-1")));
    EQ_JSON("null", B(num, S("inf")));
    EQ_JSON("1", B(num, J("true")));
    EQ_JSON("0", B(num, J("false")));
    EQ_JSON("null", B(num, dwf_null(C)));
    EQ_JSON("7", B(num, N(7)));
    NO_ERR();
    B(num, J("[]"));
    ERR("TypeError");

    EQ_JSON("{\"a\":[1,\"x\"]}", B(json, S("{\"a\": [1, \"x\"]}")));
    EQ_JSON("\"{\\\"a\\\":[1,\\\"x\\\"],\\\"n\\\":0.1}\"", B(to_json, J("{\"a\":[1,\"x\"],\"n\":0.1}")));
    EQ_JSON("\"null\"", B(to_json, NULL));
    NO_ERR();
    EQ_JSON("null", B(json, S("{bad")));
    ERR("JsonParseError");
    B(json, N(5));
    ERR("TypeError");
}

static void t_builtins_strings(void)
{
    EQ_JSON("\"H\xC3\xA9LLO 1\"", B(upper, S("H\xC3\xA9llo 1")));
    EQ_JSON("\"h\xC3\xA9llo\"", B(lower, S("H\xC3\xA9LLO")));
    EQ_JSON("\"a b\"", B(trim, S(" \t\na b\r\n ")));
    EQ_JSON("true", B(contains, S("hello"), S("ell")));
    EQ_JSON("false", B(contains, S("hello"), S("xyz")));
    EQ_JSON("true", B(contains, J("[1,{\"a\":[2]}]"), J("{\"a\":[2]}")));
    EQ_JSON("false", B(contains, J("[1,2]"), S("1")));
    EQ_JSON("true", B(contains, J("{\"k\":null}"), S("k")));
    EQ_JSON("false", B(contains, J("{\"k\":null}"), S("K")));
    EQ_JSON("true", B(starts_with, S("ORD-7"), S("ORD-")));
    EQ_JSON("false", B(starts_with, S("OR"), S("ORD-")));
    EQ_JSON("true", B(ends_with, S("file.json"), S(".json")));
    EQ_JSON("true", B(ends_with, S("x"), S("")));
    EQ_JSON("[\"a\",\"b\",\"\",\"c\"]", B(split, S("a,b,,c"), S(",")));
    EQ_JSON("[\"h\",\"\xC3\xA9\",\"y\"]", B(split, S("h\xC3\xA9y"), S("")));
    EQ_JSON("[\"\"]", B(split, S(""), S(","))); /* node: "".split(",") is [""] */
    EQ_JSON("[\"a\",\"c\"]", B(split, S("a::c"), S("::")));
    EQ_JSON("\"1--x-{\\\"a\\\":1}-true\"", B(join, J("[1,null,\"x\",{\"a\":1},true]"), S("-")));
    EQ_JSON("\"a,b\"", B(join, J("[\"a\",\"b\"]")));
    EQ_JSON("\"\"", B(join, J("[]"), S(",")));
    EQ_JSON("\"a+b+c\"", B(replace, S("a-b-c"), S("-"), S("+")));
    EQ_JSON("\"xx\"", B(replace, S("aaaa"), S("aa"), S("x")));
    EQ_JSON("\"\xC3\xA9l\"", B(slice, S("h\xC3\xA9llo"), N(1), N(3)));
    EQ_JSON("\"lo\"", B(slice, S("hello"), N(-2)));
    EQ_JSON("\"\"", B(slice, S("abc"), N(5)));
    EQ_JSON("\"\"", B(slice, S("abc"), N(2), N(1)));
    EQ_JSON("[3,4]", B(slice, J("[1,2,3,4]"), N(-2)));
    EQ_JSON("[2]", B(slice, J("[1,2,3,4]"), N(1), N(2)));
    NO_ERR();
    B(contains, N(1), N(1));
    ERR("TypeError");
    B(upper, N(1));
    ERR("TypeError");
    B(split, S("a"), N(1));
    ERR("TypeError");
    B(replace, S("a"), S(""), S("b"));
    ERR("TypeError");
    B(join, S("a"));
    ERR("TypeError");
}

static void t_builtins_numbers(void)
{
    EQ_JSON("[0,1,2]", B(range, N(3)));
    EQ_JSON("[1,2,3]", B(range, N(1), N(4)));
    EQ_JSON("[0,0.25,0.5,0.75]", B(range, N(0), N(1), N(0.25)));
    EQ_JSON("[5,3,1]", B(range, N(5), N(0), N(-2)));
    EQ_JSON("[]", B(range, N(0)));
    EQ_JSON("[]", B(range, N(3), N(1)));
    EQ_JSON("1", B(min, N(3), N(1), N(2)));
    EQ_JSON("9", B(max, J("[4,9,2]")));
    EQ_JSON("null", B(min, J("[]")));
    EQ_JSON("null", B(max, J("[]")));
    EQ_JSON("6.5", B(sum, J("[1,2,3.5]")));
    EQ_JSON("0", B(sum, J("[]")));
    EQ_JSON("3", B(abs, N(-3)));
    EQ_JSON("-2", B(floor, N(-1.5)));
    EQ_JSON("2", B(ceil, N(1.2)));
    /* node: Math.round(2.5), Math.round(-2.5), Math.round(-0.5), Math.round(0.49999999999999994) */
    EQ_JSON("3", B(round, N(2.5)));
    EQ_JSON("-2", B(round, N(-2.5)));
    EQ_JSON("0", B(round, N(-0.5)));
    EQ_JSON("0", B(round, N(0.49999999999999994)));
    EQ_JSON("1.01", B(round, N(1.005), N(2)));
    EQ_JSON("1234.57", B(round, N(1234.5678), N(2)));
    EQ_JSON("1235", B(round, N(1234.5678), N(0)));
    NO_ERR();
    B(range, N(0), N(1), N(0));
    ERR("RangeError");
    B(range, N(1e7));
    ERR("RangeError");
    B(range, S("3"));
    ERR("TypeError");
    B(min, N(1), S("a"));
    ERR("TypeError");
    EQ_JSON("null", B0(min)); /* the smallest of nothing: an error, as the compiler says */
    ERR("TypeError");
    B(sum, J("[1e308,1e308]"));
    ERR("RangeError");
    B(abs, S("1"));
    ERR("TypeError");
    B(round, N(1.5), N(1.5));
    ERR("RangeError");
}

static void t_builtins_time(void)
{
    /* node: new Date(1774019546545).toISOString() */
    EQ_JSON("\"2026-03-20T15:12:26.545Z\"", B(iso, N(1774019546545.0)));
    EQ_JSON("\"1970-01-01T00:00:00.000Z\"", B(iso, N(0)));
    EQ_JSON("\"1969-12-31T23:59:59.999Z\"", B(iso, N(-1)));
    NO_ERR();
    B(iso, N(9e15));
    ERR("RangeError");
    /* only inside a step body: replay would see another value */
    EQ_JSON("null", B0(now));
    ERR("NonDeterministicCall");
    B0(uuid);
    ERR("NonDeterministicCall");
    B0(random);
    ERR("NonDeterministicCall");
    B(sleep_ms, N(1));
    ERR("NonDeterministicCall");
    EQ_JSON("0", dwf_attempt(C)); /* not in a step */
}

/* Typed catch and retry { on } match along the cause chain (either spelling of the key); a
 * re-raised error is the same error again; value-layer errors name the .dwf line. */
static void t_error_chain(void)
{
    dwf_val *e = J("{\"ErrorType\":\"ChildContextError\",\"ErrorMessage\":\"m\",\"cause\":"
                   "{\"ErrorType\":\"StepError\",\"ErrorMessage\":\"m\",\"Cause\":"
                   "{\"ErrorType\":\"CorruptDocument\",\"ErrorMessage\":\"m\"}}}");
    TT_EQ_INT(1, dwf_error_is(e, (const char *const[]){"CorruptDocument", NULL}));
    TT_EQ_INT(1, dwf_error_is(e, (const char *const[]){"Nope", "StepError", NULL}));
    TT_EQ_INT(1, dwf_error_is(e, (const char *const[]){"ChildContextError", NULL}));
    TT_EQ_INT(0, dwf_error_is(e, (const char *const[]){"Corrupt", "corruptdocument", NULL}));
    TT_EQ_INT(0, dwf_error_is(e, (const char *const[]){NULL}));
    TT_EQ_INT(0, dwf_error_is(NULL, (const char *const[]){"StepError", NULL}));
    TT_EQ_INT(DWF_ERROR, dwf_error_raise(C, e));
    dwf_val *again = dwf_error_take(C);
    TT_ASSERT(again != e);
    EQ_JSON("\"CorruptDocument\"", dwf_get(C, dwf_get(C, dwf_get(C, again, "cause"), "cause"), "ErrorType"));
    NO_ERR();

    dwf_at(C, 7, 3);
    (void)dwf_binop(C, DWF_OP_MUL, dwf_str(C, "3"), dwf_num(C, 2));
    dwf_val *te = dwf_error_take(C);
    EQ_JSON("\"TypeError\"", dwf_get(C, te, "ErrorType"));
    TT_ASSERT(strstr(cJSON_GetStringValue(dwf_get(C, te, "ErrorMessage")), "(value.dwf:7)") != NULL);
    EQ_JSON("\"{\\\"file\\\":\\\"value.dwf\\\",\\\"line\\\":7,\\\"column\\\":3}\"", dwf_get(C, te, "ErrorData"));
    TT_EQ_INT(DWF_ERROR, dwf_fail(C, "TypeError", "mine")); /* a user's own: no location */
    te = dwf_error_take(C);
    EQ_JSON("\"mine\"", dwf_get(C, te, "ErrorMessage"));
    EQ_JSON("null", dwf_get(C, te, "ErrorData"));
    dwf_at(C, 0, 0);
}

static void t_throw_if_error(void)
{
    dwf_val *ok = J("{\"all\":[{\"index\":0,\"status\":\"SUCCEEDED\",\"result\":1}],"
                    "\"completionReason\":\"ALL_COMPLETED\",\"status\":\"SUCCEEDED\"}");
    TT_ASSERT(B(throw_if_error, ok) == ok);
    NO_ERR();
    dwf_val *bad = J("{\"all\":[{\"index\":0,\"status\":\"SUCCEEDED\",\"result\":1},"
                     "{\"index\":1,\"status\":\"FAILED\",\"error\":{\"ErrorType\":\"StepError\","
                     "\"ErrorMessage\":\"card declined\",\"ErrorData\":\"d1\",\"Cause\":"
                     "{\"ErrorType\":\"CardError\",\"ErrorMessage\":\"card declined\"}}},"
                     "{\"index\":2,\"status\":\"FAILED\","
                     "\"error\":{\"ErrorType\":\"Other\",\"ErrorMessage\":\"second\"}}],"
                     "\"status\":\"FAILED\",\"completionReason\":\"ALL_COMPLETED\"}");
    EQ_JSON("null", B(throw_if_error, bad));
    dwf_val *e = dwf_error_take(C);
    EQ_JSON("\"StepError\"", dwf_get(C, e, "ErrorType")); /* the first failed item's error */
    EQ_JSON("\"card declined\"", dwf_get(C, e, "ErrorMessage"));
    EQ_JSON("\"d1\"", dwf_get(C, e, "ErrorData")); /* the whole error, as the SDK rethrows it */
    /* a caught error holds what it wraps under `cause` (docs/errors.md) */
    EQ_JSON("\"CardError\"", dwf_get(C, dwf_get(C, e, "cause"), "ErrorType"));
    EQ_JSON("null", dwf_get(C, e, "Cause"));
    B(throw_if_error, J("{\"all\":[],\"status\":\"FAILED\",\"completionReason\":\"CUSTOM_COMPLETION_FAILED\"}"));
    e = dwf_error_take(C);
    EQ_JSON("\"BatchCompletionError\"", dwf_get(C, e, "ErrorType"));
    EQ_JSON("\"Batch completed as failed by shouldComplete (CUSTOM_COMPLETION_FAILED)\"",
            dwf_get(C, e, "ErrorMessage"));
    B(throw_if_error, J("[1]"));
    ERR("TypeError");
}

/* First error wins until taken: a later helper error does not replace it. */
static void t_first_error_wins(void)
{
    dwf_binop(C, DWF_OP_DIV, N(1), N(0));
    dwf_binop(C, DWF_OP_ADD, N(1), J("true"));
    TT_ASSERT(dwf_failed(C));
    ERR("DivisionByZero");
    TT_ASSERT(!dwf_failed(C));
}

/* ---- step-body builtins ------------------------------------------------------------------ */
static int is_uuid_v4(const char *s)
{
    if (strlen(s) != 36) return 0;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-') return 0;
        } else if (!strchr("0123456789abcdef", s[i])) {
            return 0;
        }
    }
    return s[14] == '4' && strchr("89ab", s[19]) != NULL;
}

static void t_step_builtins(void)
{
    EQ_JSON("1774019546545", B0(now));
    dwf_val *u1 = B0(uuid), *u2 = B0(uuid);
    TT_ASSERT(cJSON_IsString(u1) && is_uuid_v4(u1->valuestring));
    TT_ASSERT(cJSON_IsString(u2) && is_uuid_v4(u2->valuestring));
    TT_ASSERT(cJSON_IsString(u1) && cJSON_IsString(u2) && strcmp(u1->valuestring, u2->valuestring) != 0);
    double lo = 1, hi = 0;
    for (int i = 0; i < 200; i++) {
        dwf_val *r = B0(random);
        if (!cJSON_IsNumber(r)) {
            TT_ASSERT(cJSON_IsNumber(r));
            break;
        }
        if (r->valuedouble < lo) lo = r->valuedouble;
        if (r->valuedouble > hi) hi = r->valuedouble;
    }
    TT_ASSERT(lo >= 0 && hi < 1 && hi - lo > 0.5); /* spread out over [0, 1) */
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    EQ_JSON("null", B(sleep_ms, N(30)));
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1000 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    TT_ASSERT(ms >= 29);
    EQ_JSON("1", dwf_attempt(C));
    NO_ERR();
    B(sleep_ms, N(-1));
    ERR("RangeError");
    B0(now);
    NO_ERR();
}

static void root_tests(void)
{
    TT_RUN(t_numbers_print_like_javascript);
    /* Not under valgrind (tests/run.sh sets DWF_VALGRIND): 45k cases there take half a
     * minute and check nothing about memory that the cases above do not. */
    if (have_node() && !getenv("DWF_VALGRIND")) {
        TT_RUN(t_numbers_match_node);
        TT_RUN(t_json_matches_node);
    }
    TT_RUN(t_constructors_copy);
    TT_RUN(t_strings_nul_and_utf8);
    TT_RUN(t_parse_json);
    TT_RUN(t_object_key_order_like_javascript);
    TT_RUN(t_json_indent);
    TT_RUN(t_get_and_index);
    TT_RUN(t_input);
    TT_RUN(t_add);
    TT_RUN(t_arithmetic);
    TT_RUN(t_equality_is_deep);
    TT_RUN(t_ordering);
    TT_RUN(t_unary_truthy_coalesce);
    TT_RUN(t_iteration);
    TT_RUN(t_concat_and_text);
    TT_RUN(t_builtins_shape);
    TT_RUN(t_builtins_convert);
    TT_RUN(t_builtins_strings);
    TT_RUN(t_builtins_numbers);
    TT_RUN(t_builtins_time);
    TT_RUN(t_throw_if_error);
    TT_RUN(t_error_chain);
    TT_RUN(t_first_error_wins);
}

static void step_tests(void) { TT_RUN(t_step_builtins); }

int main(void) { return value_harness(); }
