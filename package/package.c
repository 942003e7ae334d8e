/*
 * package.c: turns a linked Lambda program into a self-contained, reproducible deployment zip.
 *
 * A static program (what `dwf build` links) is the zip's `bootstrap` itself: Lambda's
 * provided.al2023 execs /var/task/bootstrap, the kernel maps it and jumps in, and nothing of
 * the host's userland is used (no loader, no library; the CA roots are the host's, else the
 * copy under etc/). A dynamically linked program (a sanitizer build's: the sanitizer runtimes
 * cannot be linked statically) is packaged the way aws-lambda-cpp's packager does it: the
 * program with every shared library it needs and the dynamic loader, and a `bootstrap` that
 * execs the bundled loader with --library-path. Lambda's provided.al2023 has glibc 2.34 and
 * its LD_LIBRARY_PATH puts /lib64 before /var/task/lib; running our own loader sidesteps both.
 * That bootstrap is a prebuilt static program (lambda/bootstrap.c, copied byte for byte: a
 * shell would cost ~2 ms of every cold start); without one it is the packager's POSIX sh
 * script (pkg_bootstrap_text).
 *
 * Libraries are resolved by the program's own loader (`ld.so --list`), not by re-implementing
 * its search rules: RPATH, ld.so.cache and multiarch directories come out exactly as they
 * would at run time. The loader runs in an empty environment so a developer's LD_LIBRARY_PATH
 * or LD_PRELOAD cannot leak into the zip.
 *
 * Reproducibility: entries are sorted by name, every entry carries the same timestamp, files
 * are deflated at a fixed level and the Unix modes are written explicitly, so the same inputs
 * give a byte-identical zip. The zip's comment names the function ("dwf build: function
 * NAME"), which `dwf serve ZIP` takes as the function's name. The zip is written beside the
 * target and renamed over it, so a
 * failed build never leaves a half-written zip behind.
 *
 * libzip is not linked: it is dlopen'd through util/dlib.h the first time a zip is written
 * (pkg_load_zip), so the other dwf commands never map it and the libraries it pulls in.
 */
#include "package.h"

#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "errbuf.h"
#include "dlib.h" /* libzip, loaded on first use: only `dwf build` writes zips */
#include "dwf.h"  /* DWF_VERSION, for the bootstrap's header */
#include "proc.h" /* the loader's --list, run as a child */

/* Where Debian / Ubuntu, Amazon Linux / Fedora, Alpine and openSUSE keep their CA roots. */
static const char *const system_ca_files[] = {
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
    "/etc/ssl/ca-bundle.pem",
    NULL,
};

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* ---- ELF: the program interpreter ------------------------------------------------------- */

int pkg_elf_interp(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) return dwf__errf(err, errlen, "%s: %s", path, strerror(errno));
    Elf64_Ehdr eh;
    int rc = -1;
    if (fread(&eh, sizeof eh, 1, f) != 1 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) {
        dwf__errf(err, errlen, "%s: not an ELF file", path);
        goto out;
    }
    /* Lambda runs x86_64 and arm64 only, both 64-bit little-endian: nothing else to support. */
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
        eh.e_phentsize != sizeof(Elf64_Phdr)) {
        dwf__errf(err, errlen, "%s: not a 64-bit little-endian ELF program", path);
        goto out;
    }
    for (int i = 0; i < eh.e_phnum; i++) {
        Elf64_Phdr ph;
        if (fseek(f, (long)(eh.e_phoff + (Elf64_Off)i * sizeof ph), SEEK_SET) != 0 ||
            fread(&ph, sizeof ph, 1, f) != 1) {
            dwf__errf(err, errlen, "%s: truncated program header", path);
            goto out;
        }
        if (ph.p_type != PT_INTERP) continue;
        if (ph.p_filesz < 2 || ph.p_filesz > outlen) {
            dwf__errf(err, errlen, "%s: implausible PT_INTERP size %llu", path,
                 (unsigned long long)ph.p_filesz);
            goto out;
        }
        if (fseek(f, (long)ph.p_offset, SEEK_SET) != 0 || fread(out, ph.p_filesz, 1, f) != 1) {
            dwf__errf(err, errlen, "%s: truncated PT_INTERP", path);
            goto out;
        }
        out[ph.p_filesz - 1] = '\0';
        if (out[0] != '/') {
            dwf__errf(err, errlen, "%s: program interpreter '%s' is not an absolute path", path, out);
            goto out;
        }
        rc = 0;
        goto out;
    }
    out[0] = '\0';
    rc = 1; /* no PT_INTERP: a static program */
out:
    fclose(f);
    return rc;
}

/* ---- shared libraries, as the loader resolves them --------------------------------------- */

void pkg_libs_free(PkgLib *libs, int n)
{
    for (int i = 0; i < n; i++) {
        free(libs[i].soname);
        free(libs[i].path);
    }
    free(libs);
}

static int add_lib(PkgLib **libs, int *n, int *cap, const char *soname, size_t solen,
                   const char *path, size_t pathlen, int is_loader)
{
    for (int i = 0; i < *n; i++)
        if (strlen((*libs)[i].soname) == solen && memcmp((*libs)[i].soname, soname, solen) == 0)
            return 0; /* listed twice (a loader line and a "=>" line): keep the first */
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 32;
        PkgLib *nl = realloc(*libs, (size_t)nc * sizeof *nl);
        if (!nl) return -1;
        *libs = nl;
        *cap = nc;
    }
    PkgLib *l = &(*libs)[*n];
    l->soname = strndup(soname, solen);
    l->path = strndup(path, pathlen);
    l->is_loader = is_loader;
    if (!l->soname || !l->path) {
        free(l->soname);
        free(l->path);
        return -1;
    }
    (*n)++;
    return 0;
}

static int lib_cmp(const void *a, const void *b)
{
    return strcmp(((const PkgLib *)a)->soname, ((const PkgLib *)b)->soname);
}

/* One line of `ld.so --list`:
 *     linux-vdso.so.1 (0x...)                              kernel-provided, nothing to ship
 *     libcurl.so.4 => /lib/x86_64-linux-gnu/libcurl.so.4 (0x...)
 *     libfoo.so.1 => not found
 *     /lib64/ld-linux-x86-64.so.2 (0x...)                  the loader itself */
static int parse_list_line(const char *line, size_t len, PkgLib **libs, int *n, int *cap,
                           char *err, size_t errlen)
{
    while (len && (*line == ' ' || *line == '\t')) line++, len--;
    while (len && (line[len - 1] == ' ' || line[len - 1] == '\r')) len--;
    if (len == 0) return 0;
    const char *arrow = NULL;
    for (size_t i = 0; i + 4 <= len; i++)
        if (memcmp(line + i, " => ", 4) == 0) {
            arrow = line + i;
            break;
        }
    /* Drop the " (0x...)" load address. */
    const char *addr = NULL;
    for (size_t i = len; i-- > 0;)
        if (line[i] == '(') {
            addr = line + i;
            break;
        }
    if (arrow) {
        const char *path = arrow + 4;
        const char *end = addr && addr > path ? addr : line + len;
        while (end > path && end[-1] == ' ') end--;
        if ((size_t)(end - path) >= 9 && memcmp(path, "not found", 9) == 0)
            return dwf__errf(err, errlen, "shared library %.*s not found", (int)(arrow - line), line);
        if (end == path || *path != '/') return 0; /* "=> (0x...)": nothing on disk */
        if (add_lib(libs, n, cap, line, (size_t)(arrow - line), path, (size_t)(end - path), 0))
            return dwf__errf(err, errlen, "out of memory");
        return 0;
    }
    if (*line != '/') return 0; /* linux-vdso.so.1 and other kernel objects */
    const char *end = addr ? addr : line + len;
    while (end > line && end[-1] == ' ') end--;
    size_t plen = (size_t)(end - line);
    char *path = strndup(line, plen);
    if (!path) return dwf__errf(err, errlen, "out of memory");
    const char *b = base_name(path);
    int rc = add_lib(libs, n, cap, b, strlen(b), path, plen, 1);
    free(path);
    return rc ? dwf__errf(err, errlen, "out of memory") : 0;
}

int pkg_resolve_libs(const char *binary, PkgLib **out, int *nout, char *err, size_t errlen)
{
    *out = NULL;
    *nout = 0;
    char interp[4096];
    int st = pkg_elf_interp(binary, interp, sizeof interp, err, errlen);
    if (st != 0) return st < 0 ? -1 : dwf__errf(err, errlen, "%s is statically linked", binary);
    char *argv[] = {interp, (char *)"--list", (char *)binary, NULL};
    /* An empty environment: a developer's LD_LIBRARY_PATH or LD_PRELOAD must not reach it. */
    char *empty_env[] = {NULL};
    char *text = NULL;
    int status = 0;
    dwf__proc_opts po = {.envp = empty_env, .output = &text};
    if (dwf__proc_run(argv, &po, &status, err, errlen) != 0) return -1;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        size_t l = strcspn(text, "\n");
        dwf__errf(err, errlen, "%s --list %s failed: %.*s", interp, binary, (int)l,
             l ? text : "(no output)");
        free(text);
        return -1;
    }
    PkgLib *libs = NULL;
    int n = 0, cap = 0, rc = 0;
    for (const char *p = text; *p && rc == 0;) {
        size_t l = strcspn(p, "\n");
        rc = parse_list_line(p, l, &libs, &n, &cap, err, errlen);
        p += l + (p[l] == '\n');
    }
    free(text);
    int loaders = 0;
    for (int i = 0; i < n; i++) loaders += libs[i].is_loader;
    if (rc == 0 && loaders != 1)
        rc = dwf__errf(err, errlen, "could not identify the loader among %s's dependencies", binary);
    if (rc != 0) {
        pkg_libs_free(libs, n);
        return -1;
    }
    qsort(libs, (size_t)n, sizeof *libs, lib_cmp);
    *out = libs;
    *nout = n;
    return 0;
}

/* ---- the bootstrap ----------------------------------------------------------------------- */

char *pkg_bootstrap_text(const char *name, const char *loader_name, const char *comment)
{
    /* POSIX sh, not bash: it must run under busybox in a bare root as well as on AL2023.
     * The script's own directory, not $LAMBDA_TASK_ROOT, locates the bundle, so it also works
     * unpacked anywhere else. libdwf's HTTPS transport takes its CA file from SSL_CERT_FILE
     * first: point it at the host's roots when there are some, else at the shipped copy. */
    static const char fmt[] =
        "#!/bin/sh\n"
        "# Lambda bootstrap written by dwf build (dwf %s)%s%s.\n"
        "# Runs bin/%s on the loader and libraries bundled in lib/, so the program gets the\n"
        "# glibc it was linked against whatever the host ships, and no host library shadows a\n"
        "# bundled one (provided.al2023 puts /lib64 first in LD_LIBRARY_PATH).\n"
        "set -eu\n"
        "here=${0%%/*}\n"
        "[ \"$here\" != \"$0\" ] || here=.\n"
        "# TLS roots: the host's own bundle when it has one, else the copy shipped in etc/.\n"
        "if [ -z \"${SSL_CERT_FILE:-}\" ]; then\n"
        "  for f in /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/certs/ca-certificates.crt "
        "\"$here/etc/ca-bundle.crt\"; do\n"
        "    if [ -r \"$f\" ]; then export SSL_CERT_FILE=\"$f\"; break; fi\n"
        "  done\n"
        "fi\n"
        "exec \"$here/lib/%s\" --library-path \"$here/lib\" \"$here/bin/%s\" \"$@\"\n";
    const char *sep = comment && *comment ? " for " : "";
    const char *c = comment && *comment ? comment : "";
    int len = snprintf(NULL, 0, fmt, DWF_VERSION, sep, c, name, loader_name, name);
    if (len < 0) return NULL;
    char *s = malloc((size_t)len + 1);
    if (!s) return NULL;
    snprintf(s, (size_t)len + 1, fmt, DWF_VERSION, sep, c, name, loader_name, name);
    return s;
}

/* ---- the zip ----------------------------------------------------------------------------- */

typedef struct Entry {
    char *name;       /* path inside the zip; directories end in '/' */
    const char *file; /* source file on disk, or NULL */
    const char *data; /* in-memory contents when file is NULL and not a directory */
    size_t len;
    unsigned mode; /* st_mode bits: type and permissions */
} Entry;

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const Entry *)a)->name, ((const Entry *)b)->name);
}

static char *join2(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    if (!s) return NULL;
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

/* File names inside the zip reach the bootstrap script: keep them to a shell-safe alphabet. */
static char *safe_name(const char *name)
{
    char *s = strdup(name && *name ? name : "handler");
    if (!s) return NULL;
    for (char *p = s; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            *p = '_';
    if (s[0] == '.' || s[0] == '-') s[0] = '_';
    return s;
}

/* The zip timestamp of every entry. libzip turns a time_t into DOS fields with localtime(),
 * so build it with mktime() from the fields we want: the result is the same in every zone. */
static time_t fixed_mtime(void)
{
    struct tm tm = {0};
    tm.tm_year = 1980 - 1900;
    tm.tm_mon = 0;
    tm.tm_mday = 1;
    tm.tm_hour = 12; /* midday: far from any DST switch at midnight */
    tm.tm_isdst = -1;
    return mktime(&tm);
}

static int add_entry(zip_t *za, const Entry *e, time_t mtime, char *err, size_t errlen)
{
    zip_int64_t idx;
    if (S_ISDIR(e->mode)) {
        idx = dwf__zip.zip_dir_add(za, e->name, 0);
    } else {
        zip_source_t *src = e->file ? dwf__zip.zip_source_file(za, e->file, 0, -1)
                                    : dwf__zip.zip_source_buffer(za, e->data, e->len, 0);
        if (!src)
            return dwf__errf(err, errlen, "%s: %s", e->file ? e->file : e->name,
                        dwf__zip.zip_strerror(za));
        idx = dwf__zip.zip_file_add(za, e->name, src, 0);
        if (idx < 0) dwf__zip.zip_source_free(src);
    }
    if (idx < 0) return dwf__errf(err, errlen, "adding %s: %s", e->name, dwf__zip.zip_strerror(za));
    zip_uint64_t i = (zip_uint64_t)idx;
    /* zlib's default level: 9 takes 3.5x as long here for a zip 0.5% smaller. */
    if ((!S_ISDIR(e->mode) && dwf__zip.zip_set_file_compression(za, i, ZIP_CM_DEFLATE, 6) != 0) ||
        dwf__zip.zip_file_set_mtime(za, i, mtime, 0) != 0 ||
        dwf__zip.zip_file_set_external_attributes(za, i, 0, ZIP_OPSYS_UNIX,
                                                  (zip_uint32_t)e->mode << 16) != 0)
        return dwf__errf(err, errlen, "setting attributes of %s: %s", e->name,
                    dwf__zip.zip_strerror(za));
    return 0;
}

static const char *pick_ca(const PkgOptions *o)
{
    if (o->ca_bundle) return *o->ca_bundle ? o->ca_bundle : NULL;
    for (int i = 0; system_ca_files[i]; i++)
        if (access(system_ca_files[i], R_OK) == 0) return system_ca_files[i];
    return NULL;
}

int pkg_load_zip(char *err, size_t errlen) { return dwf__zip_load(err, errlen); }

/* The loader lambda/bootstrap.c execs: it is compiled for the same machine as this
 * file (one Makefile builds both), so the same test on the architecture gives its name. */
#if defined(__x86_64__)
#define BOOTSTRAP_LOADER "ld-linux-x86-64.so.2"
#elif defined(__aarch64__)
#define BOOTSTRAP_LOADER "ld-linux-aarch64.so.1"
#else
#define BOOTSTRAP_LOADER ""
#endif

/* Check the program's loader against the prebuilt bootstrap (which execs a fixed loader
 * name), or write the sh bootstrap for it into *boot. */
static int make_bootstrap(const PkgOptions *o, const char *name, const char *loader, char **boot,
                          char *err, size_t errlen)
{
    *boot = NULL;
    if (o->bootstrap) {
        /* The static bootstrap finds the program as the one file in bin/ and execs a fixed
         * loader name: refuse a program whose PT_INTERP names another. */
        if (strcmp(loader, BOOTSTRAP_LOADER) != 0)
            return dwf__errf(err, errlen, "the program's loader is %s, the bootstrap %s runs %s",
                        loader, o->bootstrap,
                        *BOOTSTRAP_LOADER ? BOOTSTRAP_LOADER : "none on this machine");
        return 0;
    }
    *boot = pkg_bootstrap_text(name, loader, o->comment);
    return *boot ? 0 : dwf__errf(err, errlen, "out of memory");
}

/* Append one entry; `name` is malloc'd by the caller (NULL: out of memory). */
static int push_entry(Entry *ents, int *n, char *name, const char *file, const char *data,
                      size_t len, unsigned mode)
{
    if (!name) return -1;
    ents[(*n)++] = (Entry){name, file, data, len, mode};
    return 0;
}

/* The zip's entries, sorted by name: a static program as the bootstrap; else the bootstrap,
 * bin/<name>, lib/<every library>; and the CA roots under etc/ when there are some. ents has
 * room for nlibs + 8. */
static int list_entries(const PkgOptions *o, const char *name, const char *boot, int is_static,
                        const PkgLib *libs, int nlibs, Entry *ents, int *n)
{
    int bad;
    if (is_static)
        bad = push_entry(ents, n, strdup("bootstrap"), o->binary, NULL, 0, S_IFREG | 0755);
    else if (o->bootstrap)
        bad = push_entry(ents, n, strdup("bootstrap"), o->bootstrap, NULL, 0, S_IFREG | 0755);
    else
        bad = push_entry(ents, n, strdup("bootstrap"), NULL, boot, strlen(boot), S_IFREG | 0755);
    if (!is_static)
        bad = bad || push_entry(ents, n, strdup("bin/"), NULL, NULL, 0, S_IFDIR | 0755) ||
              push_entry(ents, n, join2("bin/", name), o->binary, NULL, 0, S_IFREG | 0755) ||
              push_entry(ents, n, strdup("lib/"), NULL, NULL, 0, S_IFDIR | 0755);
    for (int i = 0; !bad && i < nlibs; i++)
        bad = push_entry(ents, n, join2("lib/", libs[i].soname), libs[i].path, NULL, 0,
                  S_IFREG | (libs[i].is_loader ? 0755u : 0644u));
    const char *ca = pick_ca(o);
    if (!bad && ca)
        bad = push_entry(ents, n, strdup("etc/"), NULL, NULL, 0, S_IFDIR | 0755) ||
              push_entry(ents, n, strdup("etc/ca-bundle.crt"), ca, NULL, 0, S_IFREG | 0644);
    if (bad) return -1;
    qsort(ents, (size_t)*n, sizeof *ents, entry_cmp);
    return 0;
}

/* The bytes the entries hold unpacked; every file must be a readable regular file. */
static int unpacked_size(const Entry *ents, int n, long long *total, char *err, size_t errlen)
{
    *total = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (!ents[i].file) {
            *total += (long long)ents[i].len;
            continue;
        }
        errno = 0;
        if (stat(ents[i].file, &st) != 0 || !S_ISREG(st.st_mode))
            return dwf__errf(err, errlen, "%s: %s", ents[i].file,
                        errno ? strerror(errno) : "not a regular file");
        *total += st.st_size;
    }
    return 0;
}

/* Write the entries to <zip_path>.part, then rename it over zip_path: never a half-written
 * zip at zip_path, and no .part left behind on failure. Neither a zip_path that is not a
 * regular file (a symlink, FIFO, device) nor an existing .part is replaced. */
static int write_zip(const char *zip_path, const Entry *ents, int n, const char *comment,
                     char *err, size_t errlen)
{
    char *part = join2(zip_path, ".part");
    if (!part) return dwf__errf(err, errlen, "out of memory");
    int rc = -1, zerr = 0;
    zip_t *za = NULL;
    struct stat st;
    /* rename() would replace whatever is there, and a .part already there may be someone's. */
    if (lstat(zip_path, &st) == 0 && !S_ISREG(st.st_mode)) {
        dwf__errf(err, errlen, "%s is not a regular file; the zip is written only over a regular file",
             zip_path);
        goto out;
    }
    if (lstat(part, &st) == 0) {
        dwf__errf(err, errlen, "%s exists (another build, or one that was interrupted); remove it", part);
        goto out;
    }
    za = dwf__zip.zip_open(part, ZIP_CREATE | ZIP_EXCL, &zerr);
    if (!za) {
        zip_error_t ze;
        dwf__zip.zip_error_init_with_code(&ze, zerr);
        dwf__errf(err, errlen, "%s: %s", part, dwf__zip.zip_error_strerror(&ze));
        dwf__zip.zip_error_fini(&ze);
        goto out;
    }
    time_t mtime = fixed_mtime();
    for (int i = 0; i < n; i++)
        if (add_entry(za, &ents[i], mtime, err, errlen) != 0) goto out;
    if (dwf__zip.zip_set_archive_comment(za, comment, (zip_uint16_t)strlen(comment)) != 0) {
        dwf__errf(err, errlen, "%s: setting the comment: %s", part, dwf__zip.zip_strerror(za));
        goto out;
    }
    if (dwf__zip.zip_close(za) != 0) {
        dwf__errf(err, errlen, "writing %s: %s", part, dwf__zip.zip_strerror(za));
        goto out;
    }
    za = NULL;
    if (rename(part, zip_path) != 0) {
        dwf__errf(err, errlen, "renaming %s to %s: %s", part, zip_path, strerror(errno));
        unlink(part);
        goto out;
    }
    rc = 0;
out:
    if (za) {
        dwf__zip.zip_discard(za);
        unlink(part);
    }
    free(part);
    return rc;
}

int pkg_build_zip(const char *zip_path, const PkgOptions *o, PkgReport *r, char *err,
                  size_t errlen)
{
    PkgLib *libs = NULL;
    int nlibs = 0;
    if (!o || !o->binary) return dwf__errf(err, errlen, "no program to package");
    /* Before anything is written, so a missing libzip leaves no .part behind. */
    if (pkg_load_zip(err, errlen) != 0) return -1;
    char interp[4096];
    int is_static = pkg_elf_interp(o->binary, interp, sizeof interp, err, errlen);
    if (is_static < 0) return -1;
    if (!is_static && pkg_resolve_libs(o->binary, &libs, &nlibs, err, errlen) != 0) return -1;

    int rc = -1, nent = 0;
    char *name = safe_name(o->name), *boot = NULL, *comment = NULL;
    const char *loader = NULL;
    Entry *ents = calloc((size_t)nlibs + 8, sizeof *ents);
    long long unpacked = 0;
    for (int i = 0; i < nlibs; i++)
        if (libs[i].is_loader) loader = libs[i].soname;
    if (!name || !ents || !(comment = join2("dwf build: function ", name))) {
        dwf__errf(err, errlen, "out of memory");
        goto out;
    }
    if (!is_static && make_bootstrap(o, name, loader, &boot, err, errlen) != 0) goto out;
    if (list_entries(o, name, boot, is_static, libs, nlibs, ents, &nent) != 0) {
        dwf__errf(err, errlen, "out of memory");
        goto out;
    }
    if (unpacked_size(ents, nent, &unpacked, err, errlen) != 0 ||
        write_zip(zip_path, ents, nent, comment, err, errlen) != 0)
        goto out;
    if (r) {
        struct stat st;
        r->entries = nent;
        r->libraries = nlibs;
        r->unpacked = unpacked;
        r->zip_bytes = stat(zip_path, &st) == 0 ? (long long)st.st_size : -1;
    }
    rc = 0;
out:
    for (int i = 0; i < nent; i++) free(ents[i].name);
    free(ents);
    free(boot);
    free(comment);
    free(name);
    pkg_libs_free(libs, nlibs);
    return rc;
}
