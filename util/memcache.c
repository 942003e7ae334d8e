/*
 * memcache.c: a per-thread cache of freed malloc blocks, by size class (memcache.h).
 *
 * Why hand-written, in front of glibc's own per-thread cache: glibc's malloc and free cost
 * ~150-185 instructions a pair on dwf's paths (free ~86 even into glibc's tcache, which keeps 7
 * blocks a size, then the fastbins and their consolidation), and the two libraries that
 * allocate most there let dwf choose their allocator: SQLite, built by Debian without its
 * lookaside pool (every cursor and value buffer of a statement a malloc, and a free at the
 * reset: ~59 pairs per at-most-once step), and cJSON (the event, every checkpoint request and
 * answer: most of a Lambda execution's ~370 allocations). Popping a kept block of the class is
 * a few dozen instructions a pair. A general allocator (jemalloc, mimalloc) would replace
 * malloc for the whole process and ship in every Lambda zip; this keeps glibc's blocks.
 *
 * Classes by usable size: 24, 40, ..., 248 (glibc's own steps, 16 bytes), then 376, 504, 760,
 * 1016, 1528, 2040 (chunks of 384 to 2,048 bytes, half a power of two apart). A request takes
 * the smallest class that holds it; a block given back joins the largest class it holds
 * (malloc_usable_size), so a block malloc'd elsewhere, or grown by realloc, is right in any
 * class it lands in. A kept block holds its list's link and its usable size in its first 16
 * bytes. Only the owning thread touches its lists: no lock, no atomic on the fast paths.
 *
 * A thread's cache is made at its first free of a block of a class and given back to free()
 * when the thread ends (a thread-specific key's destructor); a block freed after that on the
 * same thread (a later destructor) goes straight to free().
 *
 * The three largest classes (1016, 1528, 2040: the "big" ones) are not kept by the threads but on
 * one list per class that the whole process shares, under a mutex of its own: a big block freed on
 * any thread waits there (SHARED_MAX blocks a class at most: ~290 KiB for the three, ~420 KiB if
 * every block were as large as its class holds; past them, free()) for the next allocation of its
 * class on any thread. Why: SQLite keeps a savepoint's sub-journal in memory (temp_store=MEMORY)
 * in chunks of 1,032 bytes (class 1528), ~44 of them for a call that joins dwf serve's open batch,
 * all allocated while the call writes and all freed at its RELEASE. Kept by the thread, they
 * passed its 64 KiB and went to glibc (1,536-byte chunks: past glibc's own per-thread cache, ~600
 * instructions a pair), or filled the 64 KiB so that the small blocks the thread freed next went
 * to glibc instead. The mutex costs a few dozen instructions a block and is rarely contended (the
 * store's lock serializes SQLite's work); keeping a few big blocks per thread as well measured no
 * better (callgrind of serve: 4 a thread 1,395k-1,406k instructions per execution, none
 * 1,375k-1,402k). The lists link their blocks by the addresses malloc gave, so a leak check sees
 * them reachable.
 */
#include "memcache.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* valgrind's client-request header (a header of macros, no library) says whether the process runs
 * under valgrind; without it, valgrind is not detected. -DDWF_MEMCACHE_UNDER_VALGRIND keeps the
 * cache on under valgrind, for counting instructions with callgrind (which does not check
 * memory). */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#if !defined(RUNNING_ON_VALGRIND) || defined(DWF_MEMCACHE_UNDER_VALGRIND)
#undef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MC_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MC_ASAN 1
#endif
#endif
#ifndef MC_ASAN
#define MC_ASAN 0
#endif

#define NCLASS 21
#define NONE 255
static const size_t class_size[NCLASS] = {24,  40,  56,  72,  88,  104, 120,  136,  152,  168, 184,
                                          200, 216, 232, 248, 376, 504, 760, 1016, 1528, 2040};
_Static_assert(DWF_MEMCACHE_LARGEST == 2040, "the largest class");

/* Every class's usable size is 16m + 8, so both lookups are a table indexed by m:
 * - a request of n bytes (n <= 2040) takes the smallest class of size >= n, whose m is at
 *   least (n + 7) / 16: alloc_class[(n + 7) >> 4];
 * - a block of u usable bytes (24 <= u < 3064) holds every class of size <= u, whose m is at
 *   most (u - 8) / 16: hold_class[(u - 8) >> 4], the largest of them (NONE: kept in the largest
 *   class, a block of 3,064 bytes or more would hold memory the class never uses).
 * (Tables rather than arithmetic: this is on every SQLite and cJSON allocation.) */
static const unsigned char alloc_class[128] = {
    [0 ... 1] = 0,    [2] = 1,          [3] = 2,           [4] = 3,           [5] = 4,
    [6] = 5,          [7] = 6,          [8] = 7,           [9] = 8,           [10] = 9,
    [11] = 10,        [12] = 11,        [13] = 12,         [14] = 13,         [15] = 14,
    [16 ... 23] = 15, [24 ... 31] = 16, [32 ... 47] = 17,  [48 ... 63] = 18,  [64 ... 95] = 19,
    [96 ... 127] = 20,
};
#define HOLD_MAX 191 /* (3064 - 8) / 16 */
static const unsigned char hold_class[HOLD_MAX] = {
    [0] = NONE,       [1] = 0,          [2] = 1,           [3] = 2,           [4] = 3,
    [5] = 4,          [6] = 5,          [7] = 6,           [8] = 7,           [9] = 8,
    [10] = 9,         [11] = 10,        [12] = 11,         [13] = 12,         [14] = 13,
    [15 ... 22] = 14, [23 ... 30] = 15, [31 ... 46] = 16,  [47 ... 62] = 17,  [63 ... 94] = 18,
    [95 ... 126] = 19, [127 ... 190] = 20,
};

typedef struct kept_block {
    struct kept_block *next;
    size_t usable;
} kept_block;

/* The big classes, kept on the shared lists: BIG_FIRST (1016) to NCLASS - 1 (2040). */
#define BIG_FIRST 18
#define NBIG (NCLASS - BIG_FIRST)
/* Blocks a shared list keeps at most (past them, free()). */
#define SHARED_MAX 64

typedef struct mc_thread {
    kept_block *head[BIG_FIRST];
    size_t bytes; /* usable bytes kept */
} mc_thread;

/* The shared lists of the big classes. */
static pthread_mutex_t shared_mu = PTHREAD_MUTEX_INITIALIZER;
static kept_block *shared_head[NBIG];
static unsigned shared_count[NBIG];

static __thread mc_thread *mc_tls;
static __thread int mc_ended; /* this thread's cache was given back: the thread is ending */
static pthread_key_t mc_key;
static int mc_key_ok;
static pthread_once_t mc_once = PTHREAD_ONCE_INIT;
static size_t mc_given_back; /* (atomic) */

static void mc_drain(void *arg)
{
    mc_thread *t = arg;
    mc_tls = NULL;
    mc_ended = 1;
    for (int c = 0; c < BIG_FIRST; c++)
        for (kept_block *b = t->head[c], *next; b; b = next) {
            next = b->next;
            free(b);
        }
    __atomic_fetch_add(&mc_given_back, t->bytes, __ATOMIC_RELAXED);
    free(t);
}

static void mc_key_make(void) { mc_key_ok = pthread_key_create(&mc_key, mc_drain) == 0; }

/* The calling thread's cache, made now (NULL once the thread's cache was given back, or when it
 * cannot be made: the blocks then go to free()). */
static mc_thread *mc_make(void)
{
    if (mc_ended) return NULL;
    pthread_once(&mc_once, mc_key_make);
    if (!mc_key_ok) return NULL;
    mc_thread *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    if (pthread_setspecific(mc_key, t) != 0) {
        free(t);
        mc_ended = 1; /* (no destructor would give it back: never again on this thread) */
        return NULL;
    }
    mc_tls = t;
    return t;
}

/* The child of a fork() made while another thread held the shared lists' mutex would never see
 * it unlocked: held across the fork, released on both sides. */
static void shared_prefork(void) { pthread_mutex_lock(&shared_mu); }
static void shared_postfork(void) { pthread_mutex_unlock(&shared_mu); }
static pthread_once_t shared_once = PTHREAD_ONCE_INIT;
static void shared_atfork(void) { pthread_atfork(shared_prefork, shared_postfork, shared_postfork); }

/* A block of big class c from its shared list (NULL when it is empty). */
static kept_block *shared_take(unsigned c)
{
    pthread_once(&shared_once, shared_atfork);
    kept_block *b;
    pthread_mutex_lock(&shared_mu);
    if ((b = shared_head[c - BIG_FIRST]) != NULL) {
        shared_head[c - BIG_FIRST] = b->next;
        shared_count[c - BIG_FIRST]--;
    }
    pthread_mutex_unlock(&shared_mu);
    return b;
}

/* Block p (u usable bytes) onto the shared list of big class c: 1, or 0 when the list is full. */
static int shared_put(void *p, size_t u, unsigned c)
{
    pthread_once(&shared_once, shared_atfork);
    kept_block *b = p;
    b->usable = u;
    int kept = 0;
    pthread_mutex_lock(&shared_mu);
    if (shared_count[c - BIG_FIRST] < SHARED_MAX) {
        b->next = shared_head[c - BIG_FIRST];
        shared_head[c - BIG_FIRST] = b;
        shared_count[c - BIG_FIRST]++;
        kept = 1;
    }
    pthread_mutex_unlock(&shared_mu);
    return kept;
}

int dwf__memcache_wanted(void) { return !MC_ASAN && !RUNNING_ON_VALGRIND; }

void *dwf__memcache_alloc(size_t n)
{
    if (n > DWF_MEMCACHE_LARGEST) return malloc(n);
    unsigned c = alloc_class[(n + 7) >> 4];
    mc_thread *t = mc_tls;
    kept_block *b;
    if (c >= BIG_FIRST) {
        if ((b = shared_take(c)) != NULL) return b;
    } else if (t && (b = t->head[c]) != NULL) {
        t->head[c] = b->next;
        t->bytes -= b->usable;
        return b;
    }
    return malloc(class_size[c]);
}

/* dwf__memcache_free's slow way, out of line so that its fast one saves fewer registers: the
 * thread's first block (its cache made now), a big block (the shared list), or free(). */
__attribute__((noinline)) static void free_slow(void *p, size_t u, unsigned c)
{
    mc_thread *t = mc_tls;
    if (c < BIG_FIRST && !t && (t = mc_make()) != NULL) {
        kept_block *b = p;
        b->next = NULL;
        b->usable = u;
        t->head[c] = b;
        t->bytes = u;
        return;
    }
    if (c != NONE && c >= BIG_FIRST && shared_put(p, u, c)) return;
    free(p);
}

void dwf__memcache_free(void *p)
{
    if (!p) return;
    size_t u = malloc_usable_size(p);
    size_t m = (u - 8) >> 4; /* (u < 8: a huge m) */
    unsigned c = m < HOLD_MAX ? hold_class[m] : NONE;
    mc_thread *t = mc_tls;
    if (c < BIG_FIRST && t && t->bytes + u <= DWF_MEMCACHE_BYTES) { /* (NONE > BIG_FIRST) */
        kept_block *b = p;
        b->next = t->head[c];
        b->usable = u;
        t->head[c] = b;
        t->bytes += u;
        return;
    }
    free_slow(p, u, c);
}

void *dwf__memcache_realloc(void *p, size_t n)
{
    if (!p) return dwf__memcache_alloc(n);
    size_t u = malloc_usable_size(p);
    if (u > DWF_MEMCACHE_LARGEST || n > DWF_MEMCACHE_LARGEST) return realloc(p, n);
    if (n <= u) return p;
    void *q = dwf__memcache_alloc(n);
    if (!q) return NULL;
    memcpy(q, p, u);
    dwf__memcache_free(p);
    return q;
}

size_t dwf__memcache_roundup(size_t n)
{
    if (n <= DWF_MEMCACHE_LARGEST) return class_size[alloc_class[(n + 7) >> 4]];
    /* glibc: the chunk holds n and its 8-byte size field, in 16-byte steps */
    return n > SIZE_MAX - 23 ? n : ((n + 8 + 15) & ~(size_t)15) - 8;
}

size_t dwf__memcache_kept(size_t *blocks)
{
    mc_thread *t = mc_tls;
    size_t n = 0;
    for (int c = 0; t && c < BIG_FIRST; c++)
        for (kept_block *b = t->head[c]; b; b = b->next) n++;
    if (blocks) *blocks = n;
    return t ? t->bytes : 0;
}

size_t dwf__memcache_given_back(void) { return __atomic_load_n(&mc_given_back, __ATOMIC_RELAXED); }

size_t dwf__memcache_shared(size_t n)
{
    if (n > DWF_MEMCACHE_LARGEST) return 0;
    unsigned c = alloc_class[(n + 7) >> 4];
    if (c < BIG_FIRST) return 0;
    pthread_mutex_lock(&shared_mu);
    size_t k = shared_count[c - BIG_FIRST];
    pthread_mutex_unlock(&shared_mu);
    return k;
}
