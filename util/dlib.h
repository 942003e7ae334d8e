/*
 * dlib.h: libzip and libmicrohttpd, loaded with dlopen on first use (internal to libdwf and the
 * dwf command; not part of dwf.h).
 *
 * Only `dwf build` (writing the zip) and `dwf serve` (unzipping, the HTTP servers) call these
 * two libraries, yet linking them maps them and the ~12 libraries they pull in (GnuTLS,
 * p11-kit, nettle, gmp, bz2, ...) into every dwf process, `dwf run` included, whose peak RSS
 * has a budget. So nothing links them: each library is a table of function pointers filled by
 * dlsym the first time a code path needs it (the pattern systemd uses for its optional
 * libraries). Every pointer is declared with __typeof__ of the real prototype from <zip.h> /
 * <microhttpd.h>, so each call through the table is type-checked as a direct call would be,
 * and no object in libdwf refers to a zip_* or MHD_* symbol.
 *
 * Use: call dwf__zip_load() / dwf__mhd_load() before the first call; on 0 the table
 * (dwf__zip / dwf__mhd) is filled for the life of the process, on -1 err says which library,
 * which Debian package provides it and what dlerror() reported. Both are thread-safe and cheap
 * after the first success, so a code path may call them every time.
 */
#ifndef DWF_DLIB_H
#define DWF_DLIB_H

#include <stddef.h>

#include <microhttpd.h>
#include <zip.h>

/* The functions dwf calls, one X(name) each; add a name here before calling it. */
#define DWF__ZIP_FUNCS(X)                                                                      \
    X(zip_close)                                                                               \
    X(zip_dir_add)                                                                             \
    X(zip_discard)                                                                             \
    X(zip_error_fini)                                                                          \
    X(zip_error_init_with_code)                                                                \
    X(zip_error_strerror)                                                                      \
    X(zip_fclose)                                                                              \
    X(zip_file_add)                                                                            \
    X(zip_file_get_external_attributes)                                                        \
    X(zip_file_set_external_attributes)                                                        \
    X(zip_file_set_mtime)                                                                      \
    X(zip_fopen_index)                                                                         \
    X(zip_file_strerror)                                                                       \
    X(zip_fread)                                                                               \
    X(zip_get_archive_comment)                                                                 \
    X(zip_get_name)                                                                            \
    X(zip_get_num_entries)                                                                     \
    X(zip_libzip_version)                                                                      \
    X(zip_open)                                                                                \
    X(zip_set_archive_comment)                                                                 \
    X(zip_set_file_compression)                                                                \
    X(zip_source_buffer)                                                                       \
    X(zip_source_file)                                                                         \
    X(zip_source_free)                                                                         \
    X(zip_stat_index)                                                                          \
    X(zip_strerror)

#define DWF__MHD_FUNCS(X)                                                                      \
    X(MHD_add_response_header)                                                                 \
    X(MHD_create_response_from_buffer)                                                         \
    X(MHD_create_response_from_callback)                                                       \
    X(MHD_destroy_response)                                                                    \
    X(MHD_get_connection_info)                                                                 \
    X(MHD_get_connection_values)                                                               \
    X(MHD_get_daemon_info)                                                                     \
    X(MHD_get_version)                                                                         \
    X(MHD_lookup_connection_value)                                                             \
    X(MHD_queue_response)                                                                      \
    X(MHD_start_daemon)                                                                        \
    X(MHD_stop_daemon)

#define DWF__DLIB_FIELD(fn) __typeof__(fn) *fn;
typedef struct dwf__zip_api {
    DWF__ZIP_FUNCS(DWF__DLIB_FIELD)
} dwf__zip_api;
typedef struct dwf__mhd_api {
    DWF__MHD_FUNCS(DWF__DLIB_FIELD)
} dwf__mhd_api;
#undef DWF__DLIB_FIELD

/* Filled by the loaders below; read-only for callers. */
extern dwf__zip_api dwf__zip;
extern dwf__mhd_api dwf__mhd;

/* The SONAMEs dwf was written against and the Debian packages that ship them. */
#define DWF__ZIP_SONAME "libzip.so.4"
#define DWF__ZIP_PACKAGE "libzip4"
#define DWF__MHD_SONAME "libmicrohttpd.so.12"
#define DWF__MHD_PACKAGE "libmicrohttpd12"

/* Load libzip / libmicrohttpd and fill dwf__zip / dwf__mhd. Returns 0, or -1 with err set to
 * "cannot load <soname> (install the <package> package): <why>". */
int dwf__zip_load(char *err, size_t errlen);
int dwf__mhd_load(char *err, size_t errlen);

/* The general loader both use, also the test seam: dlopen soname and dlsym every syms[i].name
 * (the array ends with a NULL name) into the function pointer at syms[i].slot. Returns the
 * handle, or NULL with err set as above (a missing symbol is named; nothing is left loaded and
 * no slot is written). The handle is never closed by dwf: the tables live as long as the
 * process. */
typedef struct dwf__dlsym {
    const char *name;
    void *slot; /* address of a function pointer, e.g. &dwf__zip.zip_open */
} dwf__dlsym;
void *dwf__dlib_open(const char *soname, const char *package, const dwf__dlsym *syms, char *err,
                     size_t errlen);

#endif
