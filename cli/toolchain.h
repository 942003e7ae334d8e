/*
 * toolchain.h: what turns a checked Program into a program the machine runs, shared by
 * `dwf run` (a shared object the engine loads), `dwf build` (the Lambda program) and
 * `dwf compile` (handler.c and the `use`d files for the reader): where the runtime's files
 * are, the path of a `use`d file, writing handler.c, and the C compiler's command line.
 * Every function reports its own failure on stderr as "dwf CMD: ...".
 */
#ifndef DWF_CLI_TOOLCHAIN_H
#define DWF_CLI_TOOLCHAIN_H

#include <limits.h>
#include <stddef.h>

#include "front.h"

/* The directory dwf was installed or built in (the one holding include/dwf.h, or
 * include/dwf/dwf.h when installed), found from /proc/self/exe. Returns a static string. */
const char *tc_home(void);

/* The runtime's files. The linked ones come from one build: the directory this dwf runs from
 * when it holds them (build/, build/san/, ...), else <home>/build, else an installed
 * <home>/lib/dwf; so `build/san/dwf build` links the sanitizer build's libdwf.a. */
typedef struct TcRuntime {
    char include[PATH_MAX];   /* directory holding dwf.h */
    char libdwf[PATH_MAX];    /* libdwf.a: sdk/, aws/, lambda/ */
    char main_obj[PATH_MAX];  /* lambda_main.o: the Lambda program's main */
    char libcurl[PATH_MAX];   /* libcurl-dwf.a: the minimal static libcurl (make deps) */
    char libcjson[PATH_MAX];  /* libcjson-dwf.a: Debian's cJSON as a static archive (make deps) */
    char bootstrap[PATH_MAX]; /* lambda_bootstrap: the zip's bootstrap for a dynamically linked
                               * program (sanitizer builds only, see toolchain.c) */
} TcRuntime;

/* Find dwf.h only (what a shared object for the engine needs), or everything a Lambda
 * program links. Returns 0, or -1 after saying what is missing and how to make it. */
int tc_find_include(TcRuntime *rt, const char *cmd);
int tc_find_runtime(TcRuntime *rt, const char *cmd);

/* The directory holding the .dwf file ("." for a bare name), made absolute with realpath()
 * when `absolute`. Returns 0, or -1 after printing why. */
int tc_source_dir(const char *dwf_path, int absolute, char *out, size_t n, const char *cmd);

/* Where a `use`d C file is: as written when absolute, else relative to the .dwf's directory
 * (the one tc_source_dir gives, so `absolute` as there). Returns 0, or -1 after printing why. */
int tc_use_path(const char *dwf_path, const char *use, int absolute, char *out, size_t n,
                const char *cmd);

/* Write the generated C of `p` to `path`. `c_name` is the name the C compiler will be given
 * for it: the #line directives after generated glue use it (codegen.h, cg_emit_c). Returns 0,
 * or -1 after printing why. */
int tc_write_handler(const Program *p, const char *path, const char *c_name, const char *cmd);
/* The same C in memory: a malloc'd *text of *len bytes. Returns 0, or -1 after printing why. */
int tc_render_handler(const Program *p, const char *c_name, char **text, size_t *len,
                      const char *cmd);

/* One run of the C compiler ($CC, default cc) over the handler C and the workflow's `use`d
 * files: a shared object for the engine, or the Lambda program linked with libdwf.a and the
 * static libraries. */
typedef struct TcCompile {
    const char *cmd;      /* for messages: "run", "build" */
    const Program *p;     /* for its `use`d files and their directory */
    const TcRuntime *rt;  /* include (both) and the linked files (lambda) */
    int lambda;           /* 1: the Lambda program; 0: a shared object */
    const char *dir;      /* run the compiler in this directory; NULL: the current one */
    const char *source;   /* the handler C and ... */
    const char *output;   /* ... what to write, both as seen from dir */
    int verbose;          /* print the command first */
} TcCompile;

/* Returns the compiler's exit status (0: done), or -1 when it could not run or was killed
 * (said on stderr). The compiler's own diagnostics go to stderr as they come. */
int tc_compile(const TcCompile *c);

/* The compiler tc_compile runs: $CC, else cc. */
const char *tc_cc(void);

#endif
