/*
 * store_mem.c: SQLite's memory allocator in dwf, the per-thread cache of freed blocks
 * (util/memcache.c) in front of malloc.
 *
 * Debian's SQLite (which dwf links statically) is built with SQLITE_OMIT_LOOKASIDE, so SQLite
 * has no per-connection pool of small blocks: every cursor a statement opens and every value
 * buffer it grows is a malloc and, at the statement's reset, a free (about 59 pairs per
 * at-most-once step, ~185 instructions a pair in glibc's allocator on the invocation's thread).
 * A freed block waits on the freeing thread's lists for that thread's next allocation of its
 * size class. Its blocks are glibc's own, so SQLite's xSize is malloc_usable_size (no header).
 *
 * Not installed under AddressSanitizer or valgrind (dwf__memcache_wanted): their checks of
 * SQLite's memory (and of dwf's use of the pointers SQLite returns, e.g. a column's text after a
 * reset) need every freed block given back at once. The unit test calls the methods
 * themselves, sanitizers or not.
 */
#include "store.h"

#include "memcache.h"

#include <limits.h>
#include <malloc.h>
#include <stddef.h>

static void *mem_malloc(int n) { return n > 0 ? dwf__memcache_alloc((size_t)n) : NULL; }

static void mem_free(void *p) { dwf__memcache_free(p); }

/* (SQLite never asks for 0 bytes here: sqlite3Realloc frees instead) */
static void *mem_realloc(void *p, int n) { return n > 0 ? dwf__memcache_realloc(p, (size_t)n) : NULL; }

static int mem_size(void *p)
{
    size_t u = p ? malloc_usable_size(p) : 0;
    return u > INT_MAX ? INT_MAX : (int)u;
}

static int mem_roundup(int n)
{
    size_t r = dwf__memcache_roundup(n > 0 ? (size_t)n : 1);
    return r > INT_MAX ? n : (int)r;
}

static int mem_init(void *arg)
{
    (void)arg;
    return SQLITE_OK;
}

static void mem_shutdown(void *arg) { (void)arg; }

static const sqlite3_mem_methods methods = {mem_malloc, mem_free,    mem_realloc,  mem_size,
                                            mem_roundup, mem_init, mem_shutdown, NULL};
static int installed;

void dwf__store_mem_setup(void)
{
    if (!dwf__memcache_wanted()) return;
    /* Refused (SQLITE_MISUSE) once SQLite is initialized: then it keeps malloc, only slower. */
    installed = sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) == SQLITE_OK;
}

int dwf__store_mem_installed(void) { return installed; }

const sqlite3_mem_methods *dwf__store_mem_methods(void) { return &methods; }
