/*
 * memcache.h: a per-thread cache of freed malloc blocks, by size, in front of glibc's malloc for
 * the two allocators dwf chooses: SQLite's (service/store_mem.c) and cJSON's (dwf_use_json_cache
 * in lambda/lambda.c, which the Lambda program and the dwf program call).
 *
 * Every block it hands out is a plain glibc malloc block at least as large as asked (its usable
 * size, malloc_usable_size, is at least the request), and every block it takes may be any malloc
 * block: code that frees these blocks with free(), or gives the cache blocks malloc'd elsewhere,
 * stays right. A thread keeps at most DWF_MEMCACHE_BYTES and gives them back when it ends; the
 * blocks of the three largest classes (1,016 to 2,040 bytes) wait instead on a list per class that
 * the whole process shares (64 blocks each at most), for any thread.
 */
#ifndef DWF_UTIL_MEMCACHE_H
#define DWF_UTIL_MEMCACHE_H

#include <stddef.h>

/* What a thread keeps at most, in usable bytes of the blocks it holds. */
#define DWF_MEMCACHE_BYTES (64 * 1024)
/* The largest request served from the cache (larger ones are malloc's and free's alone). */
#define DWF_MEMCACHE_LARGEST 2040

/* Whether this process should allocate through the cache: not under AddressSanitizer or
 * valgrind, whose checks (use after free, leaks, reads of freed memory) need every block freed
 * to be given back to their allocator at once. The functions below work either way. */
int dwf__memcache_wanted(void);

/* malloc(n): a kept block of n's size class (the calling thread's, or the shared list's for the
 * three largest classes) when there is one, else a new block of the class's size
 * (dwf__memcache_roundup(n)). n may be 0 (a block of the smallest class). NULL when malloc
 * fails. */
void *dwf__memcache_alloc(size_t n);
/* free(p): kept by the calling thread for its next allocation of p's class while it keeps less
 * than DWF_MEMCACHE_BYTES (a block of the three largest classes: on its class's shared list while
 * that has room), else free(p). p may be NULL or any malloc block, allocated on any thread. */
void dwf__memcache_free(void *p);
/* realloc(p, n) for n > 0: p itself while it holds n bytes (a small block; a larger one is
 * glibc's realloc's), else a block of n's class with p's contents, p freed as above. */
void *dwf__memcache_realloc(void *p, size_t n);
/* The usable size of what dwf__memcache_alloc(n) returns under glibc (what SQLite's xRoundup
 * reports). */
size_t dwf__memcache_roundup(size_t n);

/* For the tests: the usable bytes the calling thread keeps (and their count in *blocks, when
 * given), and the bytes given back to free() by threads that ended since the process started. */
size_t dwf__memcache_kept(size_t *blocks);
size_t dwf__memcache_given_back(void);
/* For the tests: the blocks on the shared list of n's class (0 for a class that has none: those
 * under 1,016 bytes, and n past the largest). */
size_t dwf__memcache_shared(size_t n);

#endif
