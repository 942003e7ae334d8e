/*
 * builtin_list.c: the builtins over arrays and objects, and the lambdas some of them take
 * (`filter(xs, x => x.ok)`, `sort_by(xs, x => x.price)`, ...).
 *
 * A lambda is compiled to a static C function of the handler (codegen/emit_c.c); the call site
 * wraps it with dwf_lambda() into a value the builtin receives as an argument, so every builtin
 * keeps the one signature of include/dwf.h. The value is a cJSON_Raw node whose text is
 * "<lambda>" and whose bytes after that text hold the function, the frame it reads and the
 * values it captured from the code around it (the parameters of enclosing lambdas, a map item
 * namer's item). No JSON value is ever Raw (the parser, the value helpers and the store never
 * make one), so a lambda cannot be mistaken for data, and the compiler lets lambdas appear only
 * as arguments of the builtins whose row says they take one.
 *
 * Lambdas are pure: the compiler refuses durable operations, http, call and the STEP_ONLY
 * builtins inside them. So a builtin that calls one computes the same value from the same
 * arguments on every replay, in durable code as well as in a step body. An error inside a lambda
 * (a TypeError of the value layer, say) stops the builtin, which yields null with that error
 * pending, as every value helper does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ---- lambdas ------------------------------------------------------------------------------ */
#define LAMBDA_TAG "<lambda>"
#define LAMBDA_TAG_SIZE 16 /* the tag and its NUL padding: the fields after it stay aligned */

typedef struct lambda_blob {
    char tag[LAMBDA_TAG_SIZE];
    dwf_lambda_fn fn;
    const void *frame;
    dwf_val *const *captures;
} lambda_blob;

dwf_val *dwf_lambda(dwf_ctx *c, dwf_lambda_fn fn, const void *frame, dwf_val *const *captures)
{
    /* cJSON_Delete frees valuestring with the allocator that made it: malloc, as here. */
    lambda_blob *b = calloc(1, sizeof *b);
    cJSON *v = b ? cJSON_CreateRaw("") : NULL;
    if (!v) {
        free(b);
        return dwf__own(c, NULL);
    }
    memcpy(b->tag, LAMBDA_TAG, sizeof LAMBDA_TAG);
    b->fn = fn;
    b->frame = frame;
    b->captures = captures;
    free(v->valuestring);
    v->valuestring = (char *)b;
    return dwf__own(c, v);
}

static const lambda_blob *lambda_of(const cJSON *v)
{
    if (!v || !cJSON_IsRaw(v) || !v->valuestring) return NULL;
    if (memcmp(v->valuestring, LAMBDA_TAG, sizeof LAMBDA_TAG) != 0) return NULL;
    return (const lambda_blob *)(const void *)v->valuestring;
}

int dwf__is_lambda(const cJSON *v)
{
    return lambda_of(v) != NULL;
}

/* The arguments of a builtin over an array and a lambda: 1 when both are right. */
static int array_and_lambda(dwf_ctx *c, const char *fn, dwf_val *const *argv, const lambda_blob **l)
{
    if (!argv[0] || !cJSON_IsArray(argv[0])) {
        dwf__builtin_arg_error(c, fn, 0, "an array", argv[0]);
        return 0;
    }
    *l = lambda_of(argv[1]);
    if (!*l) {
        dwf__builtin_arg_error(c, fn, 1, "a lambda such as x => x.ok", argv[1]);
        return 0;
    }
    return 1;
}

/* f(item, index); NULL when it recorded an error (the builtin stops there). */
static dwf_val *apply(dwf_ctx *c, const lambda_blob *l, dwf_val *item, long index)
{
    dwf_val *r = l->fn(c, l->frame, l->captures, item, dwf_num(c, (double)index));
    return dwf_failed(c) ? NULL : r;
}

/* Append a copy of v to array a (which stays the caller's either way): 1, or 0 when out of
 * memory. */
static int add_copy(cJSON *a, const cJSON *v)
{
    cJSON *item = v && !cJSON_IsInvalid(v) ? cJSON_Duplicate(v, 1) : cJSON_CreateNull();
    if (!item || !cJSON_AddItemToArray(a, item)) {
        cJSON_Delete(item);
        return 0;
    }
    return 1;
}

/* Append a copy of v to array a; on failure delete a and return NULL. */
static cJSON *push_copy(cJSON *a, const cJSON *v)
{
    if (!a) return NULL;
    return dwf__push(a, v && !cJSON_IsInvalid(v) ? cJSON_Duplicate(v, 1) : cJSON_CreateNull());
}

/* ---- lambdas over arrays ------------------------------------------------------------------ */
/* filter (keep the items f holds for) and transform (f of every item). */
static dwf_val *filter_or_transform(dwf_ctx *c, const char *fn, dwf_val *const *argv, int keep)
{
    const lambda_blob *l;
    if (!array_and_lambda(c, fn, argv, &l)) return dwf_null(c);
    cJSON *out = cJSON_CreateArray();
    long i = 0;
    for (cJSON *it = argv[0]->child; out && it; it = it->next, i++) {
        dwf_val *r = apply(c, l, it, i);
        if (!r) {
            cJSON_Delete(out);
            return dwf_null(c);
        }
        if (!keep) out = push_copy(out, r);
        else if (dwf_truthy(r)) out = push_copy(out, it);
    }
    return dwf__own(c, out);
}

dwf_val *dwf__b_filter(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    return filter_or_transform(c, "filter", argv, 1);
}

dwf_val *dwf__b_transform(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    return filter_or_transform(c, "transform", argv, 0);
}

/* The first item f holds for: its position, or -1 (-2 after an error). */
static long first_match(dwf_ctx *c, const char *fn, dwf_val *const *argv, cJSON **hit, int want)
{
    const lambda_blob *l;
    if (!array_and_lambda(c, fn, argv, &l)) return -2;
    long i = 0;
    for (cJSON *it = argv[0]->child; it; it = it->next, i++) {
        dwf_val *r = apply(c, l, it, i);
        if (!r) return -2;
        if (dwf_truthy(r) == want) {
            *hit = it;
            return i;
        }
    }
    return -1;
}

dwf_val *dwf__b_find(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    cJSON *hit = NULL;
    if (first_match(c, "find", argv, &hit, 1) < 0) return dwf_null(c);
    return hit;
}

dwf_val *dwf__b_any(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    cJSON *hit = NULL;
    long at = first_match(c, "any", argv, &hit, 1);
    return at == -2 ? dwf_null(c) : dwf_bool(c, at >= 0);
}

dwf_val *dwf__b_all(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    cJSON *hit = NULL;
    long at = first_match(c, "all", argv, &hit, 0); /* the first item it does not hold for */
    return at == -2 ? dwf_null(c) : dwf_bool(c, at == -1);
}

/* sort_by: a stable merge sort on keys that are all numbers or all strings (JavaScript's sort
 * with a comparator is stable too; qsort is not). Strings compare by code point. */
typedef struct keyed {
    cJSON *item;
    dwf_val *key;
} keyed;

static int key_less(const keyed *a, const keyed *b)
{
    if (cJSON_IsNumber(a->key)) return a->key->valuedouble < b->key->valuedouble;
    return strcmp(a->key->valuestring, b->key->valuestring) < 0;
}

static void merge_sort(keyed *v, keyed *tmp, size_t n)
{
    if (n < 2) return;
    size_t h = n / 2;
    merge_sort(v, tmp, h);
    merge_sort(v + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) tmp[k++] = key_less(&v[j], &v[i]) ? v[j++] : v[i++];
    while (i < h) tmp[k++] = v[i++];
    while (j < n) tmp[k++] = v[j++];
    memcpy(v, tmp, n * sizeof *v);
}

dwf_val *dwf__b_sort_by(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    const lambda_blob *l;
    if (!array_and_lambda(c, "sort_by", argv, &l)) return dwf_null(c);
    size_t n = (size_t)cJSON_GetArraySize(argv[0]);
    keyed *v = calloc(n ? n : 1, sizeof *v), *tmp = calloc(n ? n : 1, sizeof *tmp);
    if (!v || !tmp) {
        free(v);
        free(tmp);
        return dwf__own(c, NULL);
    }
    size_t i = 0;
    int kind = 0; /* 1 numbers, 2 strings */
    for (cJSON *it = argv[0]->child; it; it = it->next, i++) {
        dwf_val *k = apply(c, l, it, (long)i);
        int this_kind = dwf__is_num(k) ? 1 : dwf__is_str(k) ? 2 : 0;
        if (k && (!this_kind || (kind && this_kind != kind))) {
            char msg[200];
            snprintf(msg, sizeof msg, "sort_by(): the keys must be all numbers or all strings; item %zu's "
                     "key is of type %s", i, dwf__type_name(k));
            dwf__set_error(c, "TypeError", msg);
            k = NULL;
        }
        if (!k) {
            free(v);
            free(tmp);
            return dwf_null(c);
        }
        kind = this_kind;
        v[i].item = it;
        v[i].key = k;
    }
    merge_sort(v, tmp, n);
    cJSON *out = cJSON_CreateArray();
    for (i = 0; out && i < n; i++) out = push_copy(out, v[i].item);
    free(v);
    free(tmp);
    return dwf__own(c, out);
}

/* group_by: {key: [items]}, keys in the order they first appear. A key is the text of a
 * string, number, boolean or null (as an object key would be in JavaScript). */
dwf_val *dwf__b_group_by(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    const lambda_blob *l;
    if (!array_and_lambda(c, "group_by", argv, &l)) return dwf_null(c);
    cJSON *out = cJSON_CreateObject();
    long i = 0;
    for (cJSON *it = argv[0]->child; out && it; it = it->next, i++) {
        dwf_val *k = apply(c, l, it, i);
        if (k && (cJSON_IsArray(k) || cJSON_IsObject(k) || dwf__is_lambda(k))) {
            char msg[160];
            snprintf(msg, sizeof msg, "group_by(): a key must be a string, number, boolean or null; "
                     "item %ld's key is of type %s", i, dwf__type_name(k));
            dwf__set_error(c, "TypeError", msg);
            k = NULL;
        }
        char *text = k ? dwf__to_text(k) : NULL;
        if (!text) {
            if (k) dwf__set_error(c, "OutOfMemory", "out of memory building a value");
            cJSON_Delete(out);
            return dwf_null(c);
        }
        cJSON *group = cJSON_GetObjectItemCaseSensitive(out, text);
        if (!group) {
            group = cJSON_CreateArray();
            if (!group || !cJSON_AddItemToObject(out, text, group)) {
                cJSON_Delete(group);
                cJSON_Delete(out);
                out = NULL;
            }
        }
        free(text);
        if (out && !add_copy(group, it)) {
            cJSON_Delete(out);
            out = NULL;
        }
    }
    return dwf__own(c, out);
}

/* ---- arrays ------------------------------------------------------------------------------- */
/* unique: the first of every set of deep-equal items. Scalars are found again through a hash
 * of their type and text, so a long list of ids stays linear; arrays and objects are compared
 * with the earlier arrays and objects one by one. */
typedef struct seen_set {
    char **keys;
    size_t cap, n;
} seen_set;

static size_t text_hash(const char *s)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* Add `key` (taken); 1 if it was new, 0 if seen, -1 out of memory. */
static int seen_add(seen_set *s, char *key)
{
    if ((s->n + 1) * 2 > s->cap) {
        seen_set t = {calloc(s->cap ? s->cap * 2 : 64, sizeof *t.keys), s->cap ? s->cap * 2 : 64, 0};
        if (!t.keys) {
            free(key);
            return -1;
        }
        for (size_t i = 0; i < s->cap; i++)
            if (s->keys[i]) {
                size_t j = text_hash(s->keys[i]) & (t.cap - 1);
                while (t.keys[j]) j = (j + 1) & (t.cap - 1);
                t.keys[j] = s->keys[i];
                t.n++;
            }
        free(s->keys);
        *s = t;
    }
    size_t j = text_hash(key) & (s->cap - 1);
    for (; s->keys[j]; j = (j + 1) & (s->cap - 1))
        if (strcmp(s->keys[j], key) == 0) {
            free(key);
            return 0;
        }
    s->keys[j] = key;
    s->n++;
    return 1;
}

static void seen_free(seen_set *s)
{
    for (size_t i = 0; i < s->cap; i++) free(s->keys[i]);
    free(s->keys);
}

/* Is the scalar `it` new? (type letter + its text: 1 and "1" differ, -0 and 0 do not). */
static int scalar_new(seen_set *s, const cJSON *it)
{
    char *text = dwf__to_json(it);
    if (!text) return -1;
    size_t n = strlen(text);
    char *key = malloc(n + 2);
    if (!key) {
        free(text);
        return -1;
    }
    key[0] = dwf__type_name(it)[0];
    memcpy(key + 1, text, n + 1);
    free(text);
    return seen_add(s, key);
}

dwf_val *dwf__b_unique(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!argv[0] || !cJSON_IsArray(argv[0]))
        return dwf__builtin_arg_error(c, "unique", 0, "an array", argv[0]);
    cJSON *out = cJSON_CreateArray();
    seen_set seen = {0};
    for (cJSON *it = argv[0]->child; out && it; it = it->next) {
        int fresh;
        if (cJSON_IsArray(it) || cJSON_IsObject(it)) {
            fresh = 1;
            for (cJSON *o = out->child; o && fresh; o = o->next)
                if ((cJSON_IsArray(o) || cJSON_IsObject(o)) && dwf__equal(o, it)) fresh = 0;
        } else {
            fresh = scalar_new(&seen, it);
        }
        if (fresh < 0) {
            cJSON_Delete(out);
            out = NULL;
        } else if (fresh) {
            out = push_copy(out, it);
        }
    }
    seen_free(&seen);
    return dwf__own(c, out);
}

/* flatten: one level, as JavaScript's flat(): items that are arrays give their items. */
dwf_val *dwf__b_flatten(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!argv[0] || !cJSON_IsArray(argv[0]))
        return dwf__builtin_arg_error(c, "flatten", 0, "an array", argv[0]);
    cJSON *out = cJSON_CreateArray();
    for (cJSON *it = argv[0]->child; out && it; it = it->next) {
        if (!cJSON_IsArray(it)) {
            out = push_copy(out, it);
            continue;
        }
        for (cJSON *in = it->child; out && in; in = in->next) out = push_copy(out, in);
    }
    return dwf__own(c, out);
}

/* chunk: the items in arrays of n (the last one shorter), to batch a map's input. */
dwf_val *dwf__b_chunk(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!argv[0] || !cJSON_IsArray(argv[0]))
        return dwf__builtin_arg_error(c, "chunk", 0, "an array", argv[0]);
    if (!dwf__is_num(argv[1])) return dwf__builtin_arg_error(c, "chunk", 1, "a number", argv[1]);
    double n = argv[1]->valuedouble;
    if (n < 1 || n != (double)(long)n || n > 1e9) {
        dwf__set_error(c, "RangeError", "chunk(): the size must be a whole number from 1");
        return dwf_null(c);
    }
    cJSON *out = cJSON_CreateArray(), *cur = NULL;
    long k = 0;
    for (cJSON *it = argv[0]->child; out && it; it = it->next, k++) {
        if (k % (long)n == 0) {
            cur = cJSON_CreateArray();
            if (!(out = dwf__push(out, cur))) break;
        }
        if (!add_copy(cur, it)) {
            cJSON_Delete(out);
            out = NULL;
        }
    }
    return dwf__own(c, out);
}

/* index_of: the position (in code points) of a substring, or of the first deep-equal item of
 * an array; -1 when absent (JavaScript's indexOf). */
dwf_val *dwf__b_index_of(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    dwf_val *a = argv[0], *x = argv[1];
    if (dwf__is_str(a)) {
        if (!dwf__is_str(x)) return dwf__builtin_arg_error(c, "index_of", 1, "a string", x);
        const char *hit = strstr(a->valuestring, x->valuestring);
        if (!hit) return dwf_num(c, -1);
        long cps = 0;
        for (const char *p = a->valuestring; p < hit; p++)
            if (((unsigned char)*p & 0xC0) != 0x80) cps++;
        return dwf_num(c, (double)cps);
    }
    if (a && cJSON_IsArray(a)) {
        long i = 0;
        for (const cJSON *it = a->child; it; it = it->next, i++)
            if (dwf__equal(it, x)) return dwf_num(c, (double)i);
        return dwf_num(c, -1);
    }
    return dwf__builtin_arg_error(c, "index_of", 0, "a string or an array", a);
}

/* ---- objects ------------------------------------------------------------------------------ */
/* entries: [[key, value], ...] in order (Object.entries). */
dwf_val *dwf__b_entries(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!argv[0] || !cJSON_IsObject(argv[0]))
        return dwf__builtin_arg_error(c, "entries", 0, "an object", argv[0]);
    cJSON *out = cJSON_CreateArray();
    for (cJSON *it = argv[0]->child; out && it; it = it->next) {
        cJSON *key = cJSON_CreateString(it->string ? it->string : "");
        cJSON *pair = dwf__push(cJSON_CreateArray(), key);
        out = dwf__push(out, push_copy(pair, it));
    }
    return dwf__own(c, out);
}

/* from_entries: an object from [key, value] pairs (Object.fromEntries); a key is a string or a
 * number (its text); a later pair replaces an earlier one with the same key, in its place. */
dwf_val *dwf__b_from_entries(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    (void)argc;
    if (!argv[0] || !cJSON_IsArray(argv[0]))
        return dwf__builtin_arg_error(c, "from_entries", 0, "an array", argv[0]);
    cJSON *out = cJSON_CreateObject();
    long i = 0;
    for (cJSON *it = argv[0]->child; out && it; it = it->next, i++) {
        cJSON *k = cJSON_IsArray(it) && cJSON_GetArraySize(it) == 2 ? it->child : NULL;
        if (!k || !(cJSON_IsNumber(k) || (cJSON_IsString(k) && k->valuestring))) {
            char msg[160];
            snprintf(msg, sizeof msg, "from_entries(): item %ld must be a [key, value] pair with a string "
                     "or number key", i);
            dwf__set_error(c, "TypeError", msg);
            cJSON_Delete(out);
            return dwf_null(c);
        }
        char *key = dwf__to_text(k);
        cJSON *v = cJSON_Duplicate(k->next, 1);
        int ok = key && v;
        if (ok && cJSON_GetObjectItemCaseSensitive(out, key))
            ok = cJSON_ReplaceItemInObjectCaseSensitive(out, key, v) ? 1 : 0;
        else if (ok)
            ok = cJSON_AddItemToObject(out, key, v) ? 1 : 0;
        if (!ok) {
            cJSON_Delete(v);
            cJSON_Delete(out);
            out = NULL;
        }
        free(key);
    }
    return dwf__own(c, out);
}
