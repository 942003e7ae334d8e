/*
 * package.h: the Lambda zip packager behind `dwf build`.
 *
 * Given a linked Lambda program, pkg_build_zip() writes a self-contained deployment zip. A
 * static program (what `dwf build` links) is the zip's bootstrap itself:
 *   bootstrap            mode 0755, the program
 *   etc/ca-bundle.crt    the build host's CA roots, used only when the host has none
 * A dynamically linked one (a sanitizer build's) gets aws-lambda-cpp's layout:
 *   bootstrap            mode 0755, execs the bundled loader on the program: the prebuilt
 *                        static program PkgOptions.bootstrap, else a POSIX sh script
 *   bin/<name>           the program
 *   lib/<soname>         every shared library the program needs, libc included
 *   lib/ld-*.so.*        the dynamic loader named by the program's PT_INTERP
 *   etc/ca-bundle.crt    as above
 * The bundled loader runs the program with --library-path lib, so it gets the glibc it was
 * linked against whatever the Lambda host has, and no system library shadows a bundled one.
 * The zip's comment is "dwf build: function <name>" (dwf serve names the function after it).
 * The zip is reproducible: sorted entries, fixed timestamps, fixed compression.
 */
#ifndef DWF_PACKAGE_H
#define DWF_PACKAGE_H

#include <stddef.h>

typedef struct PkgOptions {
    const char *binary;    /* the linked program (an ELF executable, static or dynamic) */
    const char *name;      /* the function's name (the zip's comment, and the program's file
                            * name under bin/ when dynamic); sanitised to [A-Za-z0-9._-] */
    const char *ca_bundle; /* CA file shipped as etc/ca-bundle.crt; NULL = the first of the
                            * usual system locations that exists; "" = ship none */
    const char *comment;   /* one line for the bootstrap script's header comment, or NULL */
    const char *bootstrap; /* for a dynamic program: a prebuilt bootstrap (lambda/bootstrap.c)
                            * shipped byte for byte, or NULL for pkg_bootstrap_text()'s script */
} PkgOptions;

/* One shared object a program needs, as its loader resolves it. */
typedef struct PkgLib {
    char *soname; /* the DT_NEEDED name (the loader: the basename of its path) */
    char *path;   /* the file it resolves to on this machine */
    int is_loader;
} PkgLib;

typedef struct PkgReport {
    int entries;         /* files and directories in the zip */
    int libraries;       /* shared objects bundled under lib/, the loader included (0: static) */
    long long unpacked;  /* bytes of the files, uncompressed */
    long long zip_bytes; /* size of the written zip */
} PkgReport;

/* The program interpreter (PT_INTERP) of an ELF file into out. Returns 0; 1 with out "" when it
 * has none (a static program); or -1 with a message in err (not an ELF file, unreadable). */
int pkg_elf_interp(const char *path, char *out, size_t outlen, char *err, size_t errlen);

/* Every shared object `binary` needs, resolved by running its own loader with --list (the
 * loader's search rules, RPATH and ld.so.cache included) in an empty environment. On success
 * *libs holds *n entries sorted by soname, the loader among them; free with pkg_libs_free().
 * A library the loader cannot find is an error naming it. */
int pkg_resolve_libs(const char *binary, PkgLib **libs, int *n, char *err, size_t errlen);
void pkg_libs_free(PkgLib *libs, int n);

/* The bootstrap script for a program named `name` run by the loader `loader_name` (both file
 * names inside the zip). Returns malloc'd text; caller frees. NULL on allocation failure. */
char *pkg_bootstrap_text(const char *name, const char *loader_name, const char *comment);

/* Load libzip (dlopen'd on first use, see util/dlib.h). pkg_build_zip() does it itself;
 * `dwf build` calls this first so that a missing library fails before anything is compiled or
 * written. Returns 0, or -1 with err naming the library and its Debian package. */
int pkg_load_zip(char *err, size_t errlen);

/* Write the zip at zip_path (replaced atomically, and only when it is a regular file or
 * absent). Returns 0 (r filled when non-NULL), or -1
 * with a message in err. */
int pkg_build_zip(const char *zip_path, const PkgOptions *o, PkgReport *r, char *err,
                  size_t errlen);

#endif
