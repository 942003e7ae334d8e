/*
 * test_rt_dlib.c: the lazy loader for libzip and libmicrohttpd (util/dlib.c).
 *
 * The general loader is driven with libraries and symbols that cannot exist, to pin the error a
 * user sees (library, Debian package, dlerror's reason, the missing function) and the
 * all-or-nothing rule (no slot written when a symbol is missing). Then libm stands in for a
 * library that loads, and the real tables are loaded and called once each, so a name in the
 * X-macro lists that the installed library lacks fails here rather than in `dwf serve`.
 */
#include "dlib.h"
#include "tinytest.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Like TT_ASSERT(starts_with(...)), but a failure shows the whole message. */
#define TT_PREFIX(want, got)                                                                   \
    do {                                                                                       \
        tt_checks++;                                                                           \
        if (!starts_with((got), (want)))                                                       \
            TT_FAIL_("expected a message starting \"%s\", got \"%s\"", (want), (got));         \
    } while (0)

static void test_missing_library_named_with_package(void)
{
    __typeof__(cos) *fn = NULL;
    const dwf__dlsym syms[] = {{"cos", &fn}, {NULL, NULL}};
    char err[512] = "";
    void *h = dwf__dlib_open("libdwf-test-absent.so.9", "libdwf-test-absent9", syms, err, sizeof err);
    TT_ASSERT(h == NULL);
    TT_ASSERT(fn == NULL);
    TT_PREFIX("cannot load libdwf-test-absent.so.9 (install the libdwf-test-absent9 package): ",
              err);
    /* dlerror's own words follow, naming the file it could not open. */
    TT_ASSERT(strstr(err, "libdwf-test-absent.so.9: cannot open shared object file") != NULL);
}

static void test_missing_symbol_writes_no_slot(void)
{
    __typeof__(cos) *c = NULL;
    __typeof__(cos) *absent = NULL;
    const dwf__dlsym syms[] = {{"cos", &c}, {"dwf_test_no_such_function", &absent}, {NULL, NULL}};
    char err[512] = "";
    void *h = dwf__dlib_open("libm.so.6", "libc6", syms, err, sizeof err);
    TT_ASSERT(h == NULL);
    TT_ASSERT(c == NULL); /* cos resolved, but the table is all or nothing */
    TT_ASSERT(absent == NULL);
    TT_PREFIX("cannot load libm.so.6 (install the libc6 package): it has no function "
              "dwf_test_no_such_function (",
              err);
}

static void test_loaded_symbols_are_callable(void)
{
    __typeof__(cos) *c = NULL;
    __typeof__(sqrt) *s = NULL;
    const dwf__dlsym syms[] = {{"cos", &c}, {"sqrt", &s}, {NULL, NULL}};
    char err[512] = "";
    void *h = dwf__dlib_open("libm.so.6", "libc6", syms, err, sizeof err);
    TT_ASSERT(h != NULL);
    TT_EQ_STR("", err);
    TT_ASSERT(c && s);
    if (c && s) {
        volatile double zero = 0.0, nine = 9.0; /* volatile: call at run time, not folded */
        TT_ASSERT(c(zero) == 1.0);
        TT_ASSERT(s(nine) == 3.0);
    }
    if (h) dlclose(h);
}

static void test_zip_table(void)
{
    char err[512] = "";
    TT_EQ_INT(0, dwf__zip_load(err, sizeof err));
    TT_EQ_STR("", err);
    TT_EQ_INT(0, dwf__zip_load(err, sizeof err)); /* again: already loaded */
    TT_ASSERT(dwf__zip.zip_open && dwf__zip.zip_strerror && dwf__zip.zip_source_free);
    const char *v = dwf__zip.zip_libzip_version ? dwf__zip.zip_libzip_version() : NULL;
    TT_ASSERT(v && starts_with(v, "1."));
    /* A real call through the table: opening a missing archive read-only fails with ZIP_ER_NOENT. */
    int zerr = 0;
    zip_t *za = dwf__zip.zip_open("/nonexistent/dwf-test.zip", ZIP_RDONLY, &zerr);
    TT_ASSERT(za == NULL);
    TT_EQ_INT(ZIP_ER_NOENT, zerr);
    if (za) dwf__zip.zip_discard(za);
}

static void test_mhd_table(void)
{
    char err[512] = "";
    TT_EQ_INT(0, dwf__mhd_load(err, sizeof err));
    TT_EQ_STR("", err);
    TT_ASSERT(dwf__mhd.MHD_start_daemon && dwf__mhd.MHD_stop_daemon && dwf__mhd.MHD_queue_response);
    const char *v = dwf__mhd.MHD_get_version ? dwf__mhd.MHD_get_version() : NULL;
    TT_ASSERT(v && starts_with(v, "0.9."));
}

int main(void)
{
    TT_RUN(test_missing_library_named_with_package);
    TT_RUN(test_missing_symbol_writes_no_slot);
    TT_RUN(test_loaded_symbols_are_callable);
    TT_RUN(test_zip_table);
    TT_RUN(test_mhd_table);
    return TT_EXIT();
}
