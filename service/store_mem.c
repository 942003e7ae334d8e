/*
 * store_mem.c: SQLite's memory allocator in dwf, a per-thread cache of small blocks in front of
 * malloc.
 *
 * Why hand-written: Debian's SQLite (which dwf links statically) is built with
 * SQLITE_OMIT_LOOKASIDE, so SQLite has no per-connection pool of small blocks: every cursor a
 * statement opens and every value buffer it grows is a malloc and, at the statement's reset, a
 * free. That was about 59 malloc/free pairs per at-most-once step, ~185 instructions a pair in
 * glibc's allocator on the invocation's thread. A freed block of one of a few sizes is kept on
 * the freeing thread's list and handed out again by the next allocation of that size on that
 * thread, a few dozen instructions a pair: 216.0k -> 210.1k instructions per step of a 1,000-step
 * at-most-once `dwf run`, 4.50M -> 4.40M for a run of no step (callgrind).
 *
 * Each block has a 16-byte header (its usable size and its class; keeps malloc's 16-byte
 * alignment). Blocks over the largest class go to malloc and free directly. A thread keeps at
 * most CACHE_MAX blocks per class (33 KiB at most; dwf serve runs a thread per connection) and
 * gives them back to free when it ends (a thread-specific key's destructor); a block freed on a
 * thread that has no cache (it never allocated through SQLite, or its cache was given back)
 * goes straight to free.
 *
 * Not installed under AddressSanitizer or valgrind: their checks of SQLite's memory (and of
 * dwf's use of the pointers SQLite returns, e.g. a column's text after a reset) need every
 * block to be malloc's own. The unit test calls the methods themselves, sanitizers or not.
 */
#include "store.h"

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#if !defined(RUNNING_ON_VALGRIND) || defined(DWF_STORE_MEM_UNDER_VALGRIND)
#undef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0 /* (-DDWF_STORE_MEM_UNDER_VALGRIND: counted with callgrind) */
#endif
#if defined(__SANITIZE_ADDRESS__)
#define DWF_MEM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DWF_MEM_ASAN 1
#endif
#endif
#ifndef DWF_MEM_ASAN
#define DWF_MEM_ASAN 0
#endif

#define NCLASS 7      /* usable sizes 32, 64, ..., 2048 bytes */
#define CLASS_MIN 32 /* = 2^5 (class_of) */
#define CACHE_MAX 8   /* blocks kept per class and thread */

typedef struct hdr {
    size_t size; /* usable bytes after the header */
    size_t cls;  /* its class, NCLASS for a block of malloc's own size */
} hdr;
_Static_assert(sizeof(hdr) == 16, "the header keeps malloc's 16-byte alignment");

typedef struct free_block {
    struct free_block *next;
} free_block;

typedef struct thread_cache {
    free_block *head[NCLASS];
    int count[NCLASS];
} thread_cache;

static __thread thread_cache *tcache;
static pthread_key_t tcache_key;

static size_t class_size(int c) { return (size_t)CLASS_MIN << c; }

/* The class of a request of n bytes (n > 0), NCLASS when it is larger than every class. */
static int class_of(size_t n)
{
    if (n <= CLASS_MIN) return 0;
    int c = (64 - __builtin_clzll((unsigned long long)n - 1)) - 5; /* 2^(c+5) >= n > 2^(c+4) */
    return c < NCLASS ? c : NCLASS;
}

/* A thread's cache given back when it ends. */
static void tcache_drain(void *arg)
{
    thread_cache *tc = arg;
    if (tcache == tc) tcache = NULL;
    for (int c = 0; c < NCLASS; c++)
        for (free_block *b = tc->head[c], *next; b; b = next) {
            next = b->next;
            free((hdr *)b - 1);
        }
    free(tc);
}

static void *mem_malloc(int n)
{
    if (n <= 0) return NULL;
    int c = class_of((size_t)n);
    if (c < NCLASS) {
        thread_cache *tc = tcache;
        if (tc && tc->head[c]) {
            free_block *b = tc->head[c];
            tc->head[c] = b->next;
            tc->count[c]--;
            return b;
        }
        if (!tc && (tc = calloc(1, sizeof *tc)) != NULL) {
            if (pthread_setspecific(tcache_key, tc) == 0) tcache = tc;
            else free(tc);
        }
    }
    size_t size = c < NCLASS ? class_size(c) : ((size_t)n + 15) & ~(size_t)15;
    hdr *h = malloc(sizeof *h + size);
    if (!h) return NULL;
    h->size = size;
    h->cls = (size_t)c;
    return h + 1;
}

static void mem_free(void *p)
{
    if (!p) return;
    hdr *h = (hdr *)p - 1;
    thread_cache *tc = tcache;
    int c = (int)h->cls;
    if (c < NCLASS && tc && tc->count[c] < CACHE_MAX) {
        free_block *b = p;
        b->next = tc->head[c];
        tc->head[c] = b;
        tc->count[c]++;
        return;
    }
    free(h);
}

static int mem_size(void *p) { return p ? (int)((hdr *)p - 1)->size : 0; }

static void *mem_realloc(void *p, int n)
{
    if (!p) return mem_malloc(n);
    if (n <= 0) return NULL; /* (SQLite never asks: sqlite3Realloc frees for 0) */
    hdr *h = (hdr *)p - 1;
    if ((size_t)n <= h->size) return p;
    if (h->cls == NCLASS && class_of((size_t)n) == NCLASS) {
        size_t size = ((size_t)n + 15) & ~(size_t)15;
        hdr *g = realloc(h, sizeof *g + size);
        if (!g) return NULL;
        g->size = size;
        return g + 1;
    }
    void *q = mem_malloc(n);
    if (!q) return NULL;
    memcpy(q, p, h->size);
    mem_free(p);
    return q;
}

static int mem_roundup(int n)
{
    int c = n > 0 ? class_of((size_t)n) : 0;
    if (c < NCLASS) return (int)class_size(c);
    return n > INT32_MAX - 15 ? n : (n + 15) & ~15;
}

static int mem_init(void *arg)
{
    (void)arg;
    return SQLITE_OK;
}

static void mem_shutdown(void *arg) { (void)arg; }

static const sqlite3_mem_methods methods = {mem_malloc, mem_free,    mem_realloc,  mem_size,
                                            mem_roundup, mem_init, mem_shutdown, NULL};
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int key_ok, installed;

static void key_setup(void) { key_ok = pthread_key_create(&tcache_key, tcache_drain) == 0; }

void dwf__store_mem_setup(void)
{
    if (DWF_MEM_ASAN || RUNNING_ON_VALGRIND) return;
    pthread_once(&key_once, key_setup);
    /* Refused (SQLITE_MISUSE) once SQLite is initialized: then it keeps malloc, only slower. */
    if (key_ok) installed = sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) == SQLITE_OK;
}

int dwf__store_mem_installed(void) { return installed; }

const sqlite3_mem_methods *dwf__store_mem_methods(void)
{
    pthread_once(&key_once, key_setup);
    return key_ok ? &methods : NULL;
}
