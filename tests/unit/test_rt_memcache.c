/*
 * test_rt_memcache.c: the per-thread cache of freed blocks (util/memcache.c) that SQLite's and
 * cJSON's allocations go through, and the shared lists of its three largest classes.
 *
 * Each test runs on a thread of its own, so that it starts with an empty cache and the blocks it
 * keeps are given back when it ends (valgrind's leak check and AddressSanitizer's see them
 * freed). The shared lists outlive the threads: a test counts what is on them before it starts
 * (their blocks stay reachable from the lists, which leak checks accept). The functions are called directly, so they are checked under the sanitizers too,
 * where the programs themselves leave them off (dwf__memcache_wanted).
 */
#include "memcache.h"
#include "tinytest.h"

#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif

/* The classes' usable sizes (memcache.c); from 1016 on, the classes of the shared lists. */
static const size_t classes[] = {24,  40,  56,  72,  88,  104, 120,  136,  152,  168, 184,
                                 200, 216, 232, 248, 376, 504, 760, 1016, 1528, 2040};
#define NCLASSES (sizeof classes / sizeof classes[0])
#define BIG 1016 /* the smallest class of a shared list */
#define SHARED_MAX 64

/* The shared lists emptied (their blocks taken and given to free()), so that a test's frees find
 * room on them and its allocations the blocks it freed. */
static void shared_empty(void)
{
    static const size_t big[] = {1016, 1528, 2040};
    for (int i = 0; i < 3; i++)
        while (dwf__memcache_shared(big[i]) > 0) free(dwf__memcache_alloc(big[i]));
}

static void on_thread(void *(*fn)(void *))
{
    pthread_t t;
    TT_ASSERT(pthread_create(&t, NULL, fn, NULL) == 0);
    TT_ASSERT(pthread_join(t, NULL) == 0);
}

/* Every request size up to past the largest class: a block that holds it (every usable byte
 * written: AddressSanitizer checks the bounds), 16-byte aligned, of at least the class's size for
 * the classes' requests, and the block just freed comes back to the next request of its class. */
static void *sizes_body(void *arg)
{
    (void)arg;
    shared_empty();
    for (size_t n = 0; n <= 3200; n++) {
        unsigned char *p = dwf__memcache_alloc(n);
        TT_ASSERT(p != NULL);
        if (!p) return NULL;
        size_t u = malloc_usable_size(p);
        if (u < n || (uintptr_t)p % 16 != 0) TT_FAIL_("alloc(%zu): %zu usable bytes at %p", n, u, (void *)p);
        TT_ASSERT(dwf__memcache_roundup(n) >= n);
        /* at least the class's size: glibc may hand out a whole free chunk a little larger than
         * asked, when the rest would be too small to split off (classes_body sets such aside) */
        if (n <= DWF_MEMCACHE_LARGEST && u < dwf__memcache_roundup(n))
            TT_FAIL_("alloc(%zu): %zu usable bytes, roundup says %zu", n, u, dwf__memcache_roundup(n));
        memset(p, 0xab, u);
        size_t before = dwf__memcache_kept(NULL), shared = dwf__memcache_shared(2040);
        dwf__memcache_free(p);
        if (n <= DWF_MEMCACHE_LARGEST) {
            void *q = dwf__memcache_alloc(n);
            if (q != p) TT_FAIL_("alloc(%zu) after a free: not the block freed", n);
            dwf__memcache_free(q);
            continue;
        }
        /* past the classes, malloc's blocks: one under 3,064 usable bytes is kept in the largest
         * class (it holds 2,040; on its shared list), a larger one would waste what the class
         * never uses */
        if (dwf__memcache_kept(NULL) != before || dwf__memcache_shared(2040) != shared + (u < 3064))
            TT_FAIL_("a block of %zu bytes (%zu usable): %zu bytes kept (%zu before), %zu shared (%zu before)",
                     n, u, dwf__memcache_kept(NULL), before, dwf__memcache_shared(2040), shared);
        if (u < 3064) {
            void *q = dwf__memcache_alloc(DWF_MEMCACHE_LARGEST);
            if (q != p) TT_FAIL_("alloc(2040) after a free of %zu bytes: not the block freed", u);
            free(q);
        }
    }
    /* a class is the smallest that holds the request: 1..24 -> 24, 25 -> 40, 249 -> 376 */
    TT_EQ_INT(24, dwf__memcache_roundup(0));
    TT_EQ_INT(24, dwf__memcache_roundup(24));
    TT_EQ_INT(40, dwf__memcache_roundup(25));
    TT_EQ_INT(248, dwf__memcache_roundup(248));
    TT_EQ_INT(376, dwf__memcache_roundup(249));
    TT_EQ_INT(2040, dwf__memcache_roundup(2040));
    TT_EQ_INT(2056, dwf__memcache_roundup(2041)); /* glibc's own size past the classes */
    dwf__memcache_free(NULL);
    return NULL;
}

static void test_every_size(void) { on_thread(sizes_body); }

/* One block of every class freed: all kept (their usable bytes and count by the thread, the
 * largest three on their shared lists), and each handed out again to a request of its class, on
 * the same thread; then the cache is empty. */
static void *classes_body(void *arg)
{
    (void)arg;
    shared_empty();
    void *p[NCLASSES], *aside[8 * NCLASSES];
    size_t sum = 0, small = 0, shared[NCLASSES], naside = 0;
    for (size_t c = 0; c < NCLASSES; c++) {
        /* glibc may hand out a chunk a little larger than asked (when the rest of the chunk it
         * takes would be too small to split off), which belongs to a larger class: such blocks
         * are set aside until one of the class's own size comes */
        p[c] = dwf__memcache_alloc(classes[c]);
        while (classes[c] < BIG && p[c] && malloc_usable_size(p[c]) != classes[c] && naside < 8 * NCLASSES) {
            aside[naside++] = p[c];
            p[c] = dwf__memcache_alloc(classes[c]);
        }
        TT_ASSERT(p[c] != NULL);
        if (classes[c] < BIG) sum += classes[c], small++;
        shared[c] = dwf__memcache_shared(classes[c]);
        if (classes[c] < BIG) TT_EQ_INT(0, shared[c]); /* (no list) */
    }
    size_t blocks = 99;
    TT_EQ_INT(0, dwf__memcache_kept(&blocks));
    TT_EQ_INT(0, blocks);
    for (size_t c = 0; c < NCLASSES; c++) dwf__memcache_free(p[c]);
    TT_EQ_INT(sum, dwf__memcache_kept(&blocks));
    TT_EQ_INT(small, blocks);
    for (size_t c = 0; c < NCLASSES; c++)
        if (classes[c] >= BIG) TT_EQ_INT(shared[c] + 1, dwf__memcache_shared(classes[c]));
    /* the smallest request of each class finds its block */
    for (size_t c = 0; c < NCLASSES; c++) {
        size_t n = c ? classes[c - 1] + 1 : 1;
        void *q = dwf__memcache_alloc(n);
        if (q != p[c]) TT_FAIL_("alloc(%zu) did not get the kept block of class %zu", n, classes[c]);
    }
    TT_EQ_INT(0, dwf__memcache_kept(&blocks));
    TT_EQ_INT(0, blocks);
    for (size_t c = 0; c < NCLASSES; c++) free(p[c]); /* plain free() of the cache's blocks */
    for (size_t i = 0; i < naside; i++) free(aside[i]);
    return NULL;
}

static void test_every_class_reused(void) { on_thread(classes_body); }

/* Blocks malloc'd elsewhere join the largest class they hold (here 248 for a 300-byte block,
 * 2040 for a 2,500-byte one, on its shared list; none for a 4,000-byte one), and realloc keeps
 * the contents: in place while the block holds the size, else moved into a block of the new
 * class (small) or by glibc's realloc (large). */
static void *foreign_body(void *arg)
{
    (void)arg;
    shared_empty();
    void *a = malloc(300), *b = malloc(2500), *d = malloc(4000);
    TT_ASSERT(a && b && d);
    size_t shared = dwf__memcache_shared(2040);
    dwf__memcache_free(a);
    dwf__memcache_free(b);
    dwf__memcache_free(d);
    size_t blocks = 0;
    TT_EQ_INT(malloc_usable_size(a), dwf__memcache_kept(&blocks));
    TT_EQ_INT(1, blocks);
    TT_EQ_INT(shared + 1, dwf__memcache_shared(2040));
    TT_ASSERT(dwf__memcache_alloc(2040) == b);
    void *big = dwf__memcache_alloc(2041); /* (past the classes: malloc's) */
    TT_ASSERT(big != b);
    free(big);
    TT_ASSERT(dwf__memcache_alloc(233) == a);  /* 233..248: the class of 248 */
    TT_EQ_INT(0, dwf__memcache_kept(&blocks));
    TT_EQ_INT(0, blocks);
    free(a);
    free(b);

    unsigned char *p = dwf__memcache_alloc(50);
    TT_ASSERT(p != NULL);
    if (!p) return NULL;
    for (int i = 0; i < 50; i++) p[i] = (unsigned char)i;
    TT_ASSERT(dwf__memcache_realloc(p, 56) == p); /* 56: its class */
    unsigned char *q = dwf__memcache_realloc(p, 1000);
    TT_ASSERT(q != NULL && q != p);
    int same = q != NULL;
    for (int i = 0; same && i < 50; i++) same = q[i] == (unsigned char)i;
    TT_ASSERT(same);
    TT_EQ_INT(56, dwf__memcache_kept(NULL)); /* p kept */
    if (!q) return NULL;
    memset(q + 50, 0xcd, 1016 - 50);
    unsigned char *r = dwf__memcache_realloc(q, 100000);
    TT_ASSERT(r != NULL);
    same = r != NULL;
    for (int i = 0; same && i < 50; i++) same = r[i] == (unsigned char)i;
    for (int i = 50; same && i < 1016; i++) same = r[i] == 0xcd;
    TT_ASSERT(same);
    TT_ASSERT(malloc_usable_size(r) >= 100000);
    unsigned char *s = dwf__memcache_realloc(NULL, 30); /* realloc(NULL, n) allocates */
    TT_ASSERT(s != NULL);
    dwf__memcache_free(s);
    dwf__memcache_free(r ? r : q);
    return NULL;
}

static void test_foreign_blocks_and_realloc(void) { on_thread(foreign_body); }

/* What a thread keeps is bounded in bytes: 300 blocks of 248 bytes freed, the first that fit
 * under DWF_MEMCACHE_BYTES kept, the others given to free(); one more of another class does not
 * pass the bound either. */
static void *bound_body(void *arg)
{
    (void)arg;
    enum { N = 300 };
    void *p[N];
    for (int i = 0; i < N; i++) p[i] = dwf__memcache_alloc(240);
    for (int i = 0; i < N; i++) dwf__memcache_free(p[i]);
    size_t blocks = 0, kept = dwf__memcache_kept(&blocks);
    TT_EQ_INT(DWF_MEMCACHE_BYTES / 248 * 248, kept);
    TT_EQ_INT(DWF_MEMCACHE_BYTES / 248, blocks);
    dwf__memcache_free(dwf__memcache_alloc(700)); /* over the bound: freed */
    TT_EQ_INT(kept, dwf__memcache_kept(NULL));
    void *small = dwf__memcache_alloc(24);
    dwf__memcache_free(small); /* 24 more still fit */
    TT_EQ_INT(kept + 24, dwf__memcache_kept(NULL));
    return NULL;
}

static void test_bound_in_bytes(void) { on_thread(bound_body); }

/* Blocks allocated on one thread and freed on another are kept by the freeing thread and handed
 * to its next requests; a thread's kept blocks are given back to free() when it ends (the
 * count of bytes given back grows by exactly what it kept). */
static void *make_blocks(void *arg)
{
    void **out = arg;
    for (int i = 0; i < 50; i++) out[i] = dwf__memcache_alloc(100);
    dwf__memcache_free(dwf__memcache_alloc(700)); /* this thread keeps 760 bytes */
    TT_EQ_INT(760, dwf__memcache_kept(NULL));
    return NULL;
}

static void *cross_body(void *arg)
{
    (void)arg;
    void *from[50];
    size_t given = dwf__memcache_given_back();
    pthread_t t;
    TT_ASSERT(pthread_create(&t, NULL, make_blocks, from) == 0);
    TT_ASSERT(pthread_join(t, NULL) == 0);
    TT_EQ_INT(given + 760, dwf__memcache_given_back()); /* the other thread's, at its end */
    TT_EQ_INT(0, dwf__memcache_kept(NULL));
    for (int i = 0; i < 50; i++) dwf__memcache_free(from[i]);
    size_t blocks = 0;
    TT_EQ_INT(50 * 104, dwf__memcache_kept(&blocks));
    TT_EQ_INT(50, blocks);
    int found = 0;
    void *p = dwf__memcache_alloc(97);
    for (int i = 0; i < 50; i++) found |= p == from[i];
    TT_ASSERT(found);
    dwf__memcache_free(p);
    return NULL;
}

static void test_blocks_freed_on_another_thread(void) { on_thread(cross_body); }

/* A block freed while the thread ends, in a destructor that runs after the cache's was given
 * back (keys' destructors run in the order of the keys), goes to free(): no leak under
 * valgrind or AddressSanitizer, and nothing kept again. */
static pthread_key_t late_key;
static size_t late_kept = 99;

static void late_free(void *p)
{
    dwf__memcache_free(p);
    dwf__memcache_free(dwf__memcache_alloc(40));
    late_kept = dwf__memcache_kept(NULL);
}

static void *late_body(void *arg)
{
    (void)arg;
    void *x = dwf__memcache_alloc(100), *y = dwf__memcache_alloc(100);
    dwf__memcache_free(x); /* this thread's cache made: 104 bytes kept */
    pthread_setspecific(late_key, y);
    return NULL;
}

static void test_free_after_the_thread_gave_back(void)
{
    on_thread(sizes_body); /* the cache's key exists before late_key: its destructor runs first */
    TT_ASSERT(pthread_key_create(&late_key, late_free) == 0);
    size_t given = dwf__memcache_given_back();
    on_thread(late_body);
    TT_EQ_INT(0, late_kept);
    TT_EQ_INT(given + 104, dwf__memcache_given_back());
}

/* The shared lists. SQLite's in-memory sub-journal chunks (1,032 bytes: the class of 1528) are
 * allocated and freed ~44 at a time; they and every block of the three largest classes wait on
 * their class's list, which any thread takes from, up to SHARED_MAX blocks. */
#define CHUNK 1032
typedef struct take_job {
    int n, free_them, bad;
    void **out;
    size_t kept_after; /* the thread's own kept bytes at its end */
} take_job;

static void *take_blocks(void *arg)
{
    take_job *j = arg;
    for (int i = 0; i < j->n; i++) {
        void *p = dwf__memcache_alloc(CHUNK);
        j->out[i] = p;
        if (!p) j->bad++;
        else memset(p, 0x5a, malloc_usable_size(p));
    }
    if (j->free_them)
        for (int i = 0; i < j->n; i++) dwf__memcache_free(j->out[i]);
    j->kept_after = dwf__memcache_kept(NULL);
    return NULL;
}

static void run_job(take_job *j)
{
    pthread_t t;
    TT_ASSERT(pthread_create(&t, NULL, take_blocks, j) == 0);
    TT_ASSERT(pthread_join(t, NULL) == 0);
}

/* Four threads allocating and freeing blocks of several classes, small and big, at once: no block
 * is handed to two of them at once (each writes its mark over a whole block and finds it intact
 * before freeing it). */
typedef struct churn_job {
    unsigned seed;
    int bad;
} churn_job;

static void *churn(void *arg)
{
    churn_job *j = arg;
    unsigned char *held[16] = {0};
    size_t size[16] = {0};
    unsigned char mark = (unsigned char)(j->seed >> 24 | 1);
    for (int it = 0; it < 20000; it++) {
        j->seed = j->seed * 1103515245u + 12345u;
        int k = (int)((j->seed >> 16) % 16);
        if (held[k]) {
            for (size_t b = 0; b < size[k]; b++)
                if (held[k][b] != mark) {
                    j->bad++;
                    break;
                }
            dwf__memcache_free(held[k]);
            held[k] = NULL;
        } else {
            static const size_t sizes[] = {40, 200, 1000, CHUNK, 2000, 2040};
            held[k] = dwf__memcache_alloc(size[k] = sizes[(j->seed >> 8) % 6]);
            if (!held[k]) j->bad++;
            else memset(held[k], mark, size[k]);
        }
    }
    for (int k = 0; k < 16; k++) dwf__memcache_free(held[k]);
    return NULL;
}

static void test_shared_lists(void)
{
    /* what other tests left on the list of the chunks' class, taken out first (freed at the end) */
    size_t left = dwf__memcache_shared(CHUNK);
    TT_ASSERT(left <= SHARED_MAX);
    void *held[SHARED_MAX], *first[48], *second[49], *third[100];
    take_job drain = {.n = (int)left, .out = held};
    run_job(&drain);
    TT_EQ_INT(0, dwf__memcache_shared(CHUNK));
    /* 48 freed by one thread: all on the list, none kept by the thread */
    take_job a = {.n = 48, .free_them = 1, .out = first};
    run_job(&a);
    TT_EQ_INT(48, dwf__memcache_shared(CHUNK));
    TT_EQ_INT(0, a.kept_after);
    /* another thread's first 48 are those blocks; its 49th is malloc's */
    take_job b = {.n = 49, .out = second};
    run_job(&b);
    TT_EQ_INT(0, dwf__memcache_shared(CHUNK));
    int found = 0;
    for (int i = 0; i < 49; i++)
        for (int k = 0; k < 48; k++) found += second[i] == first[k];
    TT_EQ_INT(48, found);
    /* freed on a third thread (this one): all on the list */
    for (int i = 0; i < 49; i++) dwf__memcache_free(second[i]);
    TT_EQ_INT(49, dwf__memcache_shared(CHUNK));
    /* 100 allocated (the 49, then malloc's) and freed at once: the list keeps SHARED_MAX */
    take_job c = {.n = 100, .free_them = 1, .out = third};
    run_job(&c);
    TT_EQ_INT(SHARED_MAX, dwf__memcache_shared(CHUNK));
    TT_EQ_INT(0, drain.bad + a.bad + b.bad + c.bad);
    pthread_t t[4];
    churn_job j[4];
    for (int i = 0; i < 4; i++) {
        j[i] = (churn_job){.seed = 0x9e3779b9u * (unsigned)(i + 1)};
        TT_ASSERT(pthread_create(&t[i], NULL, churn, &j[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        TT_ASSERT(pthread_join(t[i], NULL) == 0);
        TT_EQ_INT(0, j[i].bad);
    }
    TT_ASSERT(dwf__memcache_shared(1016) <= SHARED_MAX);
    TT_ASSERT(dwf__memcache_shared(CHUNK) <= SHARED_MAX);
    TT_ASSERT(dwf__memcache_shared(2040) <= SHARED_MAX);
    TT_EQ_INT(0, dwf__memcache_shared(760)); /* (no list under 1,016 bytes) */
    TT_EQ_INT(0, dwf__memcache_shared(2041));
    for (size_t i = 0; i < left; i++) free(held[i]);
    shared_empty();
}

/* A fork() while another thread uses the shared lists: the child allocates and frees big blocks
 * (it would wait for ever on a mutex the fork copied locked). */
static int fork_stop;
static void *fork_churn(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&fork_stop, __ATOMIC_ACQUIRE)) dwf__memcache_free(dwf__memcache_alloc(CHUNK));
    return NULL;
}

static void test_fork_while_shared(void)
{
#ifdef RUNNING_ON_VALGRIND
    /* valgrind checks each child's leaks at its exit, and the block the churning thread held at
     * the fork (its address in that thread's registers, a thread the child does not have) would
     * count as lost: the test runs natively and under the sanitizers only */
    if (RUNNING_ON_VALGRIND) return;
#endif
    pthread_t t;
    __atomic_store_n(&fork_stop, 0, __ATOMIC_RELEASE);
    TT_ASSERT(pthread_create(&t, NULL, fork_churn, NULL) == 0);
    int bad = 0;
    fflush(stdout);
    fflush(stderr);
    for (int round = 0; round < 50; round++) {
        pid_t pid = fork();
        if (pid == 0) {
            for (int i = 0; i < 100; i++) dwf__memcache_free(dwf__memcache_alloc(i % 2 ? CHUNK : 2000));
            _exit(0);
        }
        if (pid < 0) {
            bad++;
            break;
        }
        /* a child still waiting after 10 s is stuck */
        int status = -1, waited = 0;
        while (waitpid(pid, &status, WNOHANG) == 0 && waited++ < 1000) usleep(10000);
        if (waited > 1000) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            bad++;
            break;
        }
    }
    __atomic_store_n(&fork_stop, 1, __ATOMIC_RELEASE);
    TT_ASSERT(pthread_join(t, NULL) == 0);
    TT_EQ_INT(0, bad);
}

/* On under neither AddressSanitizer nor valgrind. */
static void test_wanted(void)
{
    int off = 0;
#if defined(__SANITIZE_ADDRESS__)
    off = 1;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    off = 1;
#endif
#endif
#ifdef RUNNING_ON_VALGRIND
    if (RUNNING_ON_VALGRIND) off = 1;
#endif
    TT_EQ_INT(!off, dwf__memcache_wanted());
}

int main(void)
{
    TT_RUN(test_every_size);
    TT_RUN(test_every_class_reused);
    TT_RUN(test_foreign_blocks_and_realloc);
    TT_RUN(test_bound_in_bytes);
    TT_RUN(test_blocks_freed_on_another_thread);
    TT_RUN(test_free_after_the_thread_gave_back);
    TT_RUN(test_shared_lists);
    TT_RUN(test_fork_while_shared);
    TT_RUN(test_wanted);
    return TT_EXIT();
}
