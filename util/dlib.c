/*
 * dlib.c: loads libzip and libmicrohttpd with dlopen the first time a code path needs them.
 *
 * Why not link them: they serve `dwf build` and `dwf serve` only, but a linked library (and
 * everything it needs: GnuTLS, p11-kit, nettle, gmp, bz2, ...) is mapped into every process at
 * start, and the embedded engine (`dwf run`) has a peak-RSS budget the mapped pages would
 * mostly eat. This is what the dynamic linker would do for us at start-up, done by hand and
 * late: dlopen by SONAME (the ABI dwf was compiled against, found the way ld.so finds any
 * library), dlsym each function into a table typed with the real prototypes (dlib.h).
 *
 * All-or-nothing: every symbol is resolved before any table slot is written, so a table is
 * either complete or untouched, and a library missing a symbol is closed again. A loaded
 * library stays loaded for the life of the process (callers keep no handle to release and
 * MHD daemons run threads inside it). A failed load is not remembered: the next call tries
 * again and reports the same clear error, which costs nothing on a path that is about to fail.
 */
#include "dlib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

dwf__zip_api dwf__zip;
dwf__mhd_api dwf__mhd;

void *dwf__dlib_open(const char *soname, const char *package, const dwf__dlsym *syms, char *err,
                     size_t errlen)
{
    /* RTLD_NOW: an unresolvable dependency of the library fails here, with dlerror's message,
     * rather than as a crash on first call. RTLD_LOCAL: its symbols stay out of the global
     * namespace the workflow handlers `dwf run` loads resolve against. */
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *why = dlerror();
        if (err && errlen)
            snprintf(err, errlen, "cannot load %s (install the %s package): %s", soname, package,
                     why ? why : "unknown error");
        return NULL;
    }
    size_t n = 0;
    while (syms[n].name) n++;
    for (size_t i = 0; i < n; i++) {
        dlerror();
        if (!dlsym(h, syms[i].name)) {
            const char *why = dlerror();
            if (err && errlen)
                snprintf(err, errlen,
                         "cannot load %s (install the %s package): it has no function %s (%s)",
                         soname, package, syms[i].name, why ? why : "resolves to NULL");
            dlclose(h);
            return NULL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        /* POSIX guarantees a function pointer survives the trip through void *; memcpy keeps
         * the store free of a cast between object and function pointer types. */
        void *p = dlsym(h, syms[i].name);
        memcpy(syms[i].slot, &p, sizeof p);
    }
    return h;
}

/* One mutex for both libraries: loads are rare (once per process) and never nest. */
static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;

#define ZIP_ENTRY(fn) {#fn, &dwf__zip.fn},
#define MHD_ENTRY(fn) {#fn, &dwf__mhd.fn},

static int load_once(void **handle, const char *soname, const char *package,
                     const dwf__dlsym *syms, char *err, size_t errlen)
{
    pthread_mutex_lock(&load_mu);
    if (!*handle) *handle = dwf__dlib_open(soname, package, syms, err, errlen);
    int rc = *handle ? 0 : -1;
    pthread_mutex_unlock(&load_mu);
    return rc;
}

int dwf__zip_load(char *err, size_t errlen)
{
    static void *handle;
    static const dwf__dlsym syms[] = {DWF__ZIP_FUNCS(ZIP_ENTRY){NULL, NULL}};
    return load_once(&handle, DWF__ZIP_SONAME, DWF__ZIP_PACKAGE, syms, err, errlen);
}

int dwf__mhd_load(char *err, size_t errlen)
{
    static void *handle;
    static const dwf__dlsym syms[] = {DWF__MHD_FUNCS(MHD_ENTRY){NULL, NULL}};
    return load_once(&handle, DWF__MHD_SONAME, DWF__MHD_PACKAGE, syms, err, errlen);
}
