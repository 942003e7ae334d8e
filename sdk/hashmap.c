/*
 * hashmap.c: a string -> pointer hash table with open addressing and linear probing.
 *
 * Replay looks every durable operation up by its hashed Id in the operation table, and merges
 * each checkpoint response into it. Neither cJSON nor any of our other dependencies (SQLite,
 * libcurl, OpenSSL, libzip, libmicrohttpd) offers a general in-memory hash table, and a cJSON
 * object lookup is a linear walk of its children, which would make the replay of N operations
 * O(N^2). So this small table is hand-written. Keys are only ever inserted or replaced during
 * one invocation, never deleted, so there are no tombstones; the table doubles at 1/2 load.
 * Keys are the 16-hex operation Ids (or opaque CallbackIds), hashed with FNV-1a.
 */
#include <stdlib.h>
#include <string.h>
#include "core.h"

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

int dwf__map_init(dwf__map *m, size_t hint)
{
    size_t cap = 16;
    while (cap < hint * 2) cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    if (!m->slots) return -1;
    m->cap = cap;
    m->len = 0;
    return 0;
}

static dwf__slot *find_slot(dwf__slot *slots, size_t cap, const char *key)
{
    size_t i = (size_t)hash_str(key) & (cap - 1);
    while (slots[i].key && strcmp(slots[i].key, key) != 0) i = (i + 1) & (cap - 1);
    return &slots[i];
}

void *dwf__map_get(const dwf__map *m, const char *key)
{
    if (!m->slots || !key) return NULL;
    dwf__slot *s = find_slot(m->slots, m->cap, key);
    return s->key ? s->val : NULL;
}

static int grow(dwf__map *m)
{
    size_t cap = m->cap * 2;
    dwf__slot *slots = calloc(cap, sizeof *slots);
    if (!slots) return -1;
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->slots[i].key) continue;
        *find_slot(slots, cap, m->slots[i].key) = m->slots[i];
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    return 0;
}

int dwf__map_put(dwf__map *m, const char *key, void *val, void **old)
{
    if (old) *old = NULL;
    if (!m->slots && dwf__map_init(m, 16) != 0) return -1;
    dwf__slot *s = find_slot(m->slots, m->cap, key);
    if (s->key) {
        if (old) *old = s->val;
        s->val = val;
        return 0;
    }
    if ((m->len + 1) * 2 > m->cap) {
        if (grow(m) != 0) return -1;
        s = find_slot(m->slots, m->cap, key);
    }
    s->key = strdup(key);
    if (!s->key) return -1;
    s->val = val;
    m->len++;
    return 0;
}

void dwf__map_free(dwf__map *m)
{
    if (m->slots)
        for (size_t i = 0; i < m->cap; i++) free(m->slots[i].key);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->len = 0;
}
