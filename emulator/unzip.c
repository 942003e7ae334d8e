/*
 * unzip.c: unpacking a function's zip into its task root, as a user's zip may be hostile.
 *
 * A zip is a list of names and bytes someone else wrote, and `dwf serve` often runs as root,
 * so nothing in it may reach outside the task root or leave something the zip's author chose
 * in place of what the user has:
 *
 *   - No write ever follows a symlink. Every entry is created by walking its path one
 *     component at a time from a descriptor of the task root (openat with O_NOFOLLOW for the
 *     directories, O_CREAT | O_EXCL | O_NOFOLLOW for the file), so an entry named through a
 *     symlink an earlier entry made ("link -> /etc", then "link/passwd") is refused rather than
 *     followed, whatever the strings look like. A name that repeats an earlier one is refused
 *     too (O_EXCL), so an entry cannot replace a symlink's target either.
 *   - Symlink entries are kept (Lambda keeps them: lib/libfoo.so -> libfoo.so.1), but only
 *     with a relative target that stays inside the task root when resolved from the link's own
 *     directory; since nothing is written through them, they only ever point at the zip's files.
 *   - Modes lose setuid, setgid, sticky and world-write: a root `dwf serve` must not leave a
 *     setuid program of a stranger's choosing on disk.
 *   - The unpacked size is counted as the bytes come out of the decompressor, not taken from
 *     the headers (a zip bomb can claim any size there), and unpacking stops at Lambda's limit
 *     (DWF_LIMIT_UNZIPPED_CODE), so the disk used is bounded whatever the zip says; the entry
 *     count is bounded too. Lambda's own message is used for the size.
 *
 * The task root is a fresh directory only this process writes to (sandbox.c), so nothing
 * changes under the walk between two system calls.
 */
#include "emu.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dwf_protocol.h"

#define ZIP_ERROR "InvalidParameterValueException"

typedef struct unzip {
    zip_t *za;
    const char *zip_path;
    int root;              /* the task root, O_DIRECTORY */
    unsigned long long total;
    char *buf;
    size_t cap;
    dwf_error *err;
} unzip;

/* Entry i's mode from its Unix attributes (0644 without), its file type apart. */
static mode_t entry_mode(zip_t *za, zip_int64_t i, mode_t *type)
{
    zip_uint8_t os;
    zip_uint32_t attr;
    *type = S_IFREG;
    if (dwf__zip.zip_file_get_external_attributes(za, (zip_uint64_t)i, 0, &os, &attr) != 0 || os != ZIP_OPSYS_UNIX ||
        !(attr >> 16))
        return 0644;
    mode_t m = (mode_t)(attr >> 16);
    if (S_ISLNK(m)) *type = S_IFLNK;
    else if (S_ISDIR(m)) *type = S_IFDIR;
    return m & 0775; /* no setuid, setgid, sticky or world-write */
}

/* Does a symlink at depth `depth` (directories below the task root) with target `t` stay
 * inside the task root? Resolved lexically: every component of it is created by this file, and
 * none of them is a symlink a walk could follow out (see the top of the file). */
static int link_inside(const char *t, int depth)
{
    if (!*t || t[0] == '/') return 0;
    while (*t) {
        size_t n = strcspn(t, "/");
        if (n == 2 && t[0] == '.' && t[1] == '.') {
            if (--depth < 0) return 0;
        } else if (n && !(n == 1 && t[0] == '.')) {
            depth++;
        }
        t += n;
        if (*t == '/') t++;
    }
    return 1;
}

/* Open the directory holding entry `nm` (creating the missing ones), never through a symlink.
 * Returns its descriptor and sets *leaf to the last component and *depth to the number of
 * directories walked, or -1 with u->err. */
static int walk_parent(unzip *u, const char *nm, const char **leaf, int *depth)
{
    int dir = dup(u->root);
    if (dir < 0) return dwf__emu_fail(u->err, "ServiceException", "dup: %s", strerror(errno));
    char comp[NAME_MAX + 1];
    const char *p = nm;
    *depth = 0;
    for (;;) {
        size_t n = strcspn(p, "/");
        if (!p[n]) break; /* the last component: the entry itself */
        if (n == 0 || (n == 1 && p[0] == '.')) {
            p += n + 1;
            continue;
        }
        if (n > NAME_MAX) {
            close(dir);
            return dwf__emu_fail(u->err, ZIP_ERROR, "%s: entry name '%.200s' has a component longer than %d bytes",
                                 u->zip_path, nm, NAME_MAX);
        }
        memcpy(comp, p, n);
        comp[n] = '\0';
        if (mkdirat(dir, comp, 0755) != 0 && errno != EEXIST) {
            int e = errno;
            close(dir);
            return dwf__emu_fail(u->err, "ServiceException", "cannot create %.200s in the task root: %s", nm,
                                 strerror(e));
        }
        int next = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        int e = errno;
        close(dir);
        if (next < 0)
            return dwf__emu_fail(u->err, ZIP_ERROR, "%s: entry '%.200s' goes through '%s', which %s", u->zip_path, nm,
                                 comp, e == ELOOP || e == ENOTDIR ? "is a symlink or a file of the zip, not a directory"
                                                                  : strerror(e));
        dir = next;
        (*depth)++;
        p += n + 1;
    }
    *leaf = p;
    return dir;
}

/* Copy the opened entry into fd, counting every byte against Lambda's unzipped limit. */
static int copy_out(unzip *u, zip_file_t *zf, int fd, const char *nm)
{
    zip_int64_t k;
    while ((k = dwf__zip.zip_fread(zf, u->buf, u->cap)) > 0) {
        u->total += (unsigned long long)k;
        if (u->total > DWF_LIMIT_UNZIPPED_CODE)
            return dwf__emu_fail(u->err, ZIP_ERROR, "%s: Unzipped size must be smaller than %d bytes", u->zip_path,
                                 DWF_LIMIT_UNZIPPED_CODE);
        for (zip_int64_t off = 0; off < k;) {
            ssize_t w = write(fd, u->buf + off, (size_t)(k - off));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return dwf__emu_fail(u->err, "ServiceException", "writing %.200s: %s", nm, strerror(errno));
            off += w;
        }
    }
    if (k < 0)
        return dwf__emu_fail(u->err, ZIP_ERROR, "%s: reading %.200s: %s", u->zip_path, nm,
                             dwf__zip.zip_file_strerror(zf));
    return 0;
}

/* A symlink entry: its target is its content (bounded by PATH_MAX). */
static int make_link(unzip *u, zip_file_t *zf, int dir, const char *leaf, int depth, const char *nm)
{
    char target[PATH_MAX];
    size_t len = 0;
    zip_int64_t k;
    while (len < sizeof target && (k = dwf__zip.zip_fread(zf, target + len, sizeof target - len)) > 0)
        len += (size_t)k;
    if (len >= sizeof target || memchr(target, '\0', len))
        return dwf__emu_fail(u->err, ZIP_ERROR, "%s: symlink entry '%.200s' has no usable target", u->zip_path, nm);
    target[len] = '\0';
    if (!link_inside(target, depth))
        return dwf__emu_fail(u->err, ZIP_ERROR,
                             "%s: symlink entry '%.200s' points outside the function's directory ('%.200s')",
                             u->zip_path, nm, target);
    if (symlinkat(target, dir, leaf) != 0)
        return dwf__emu_fail(u->err, ZIP_ERROR, "%s: entry '%.200s': %s", u->zip_path, nm,
                             errno == EEXIST ? "the zip has it twice" : strerror(errno));
    return 0;
}

/* Unpack entry i. name_out receives NAME when the entry is bin/NAME. 0, or -1 with u->err. */
static int unzip_entry(unzip *u, zip_int64_t i, char name_out[256])
{
    const char *nm = dwf__zip.zip_get_name(u->za, (zip_uint64_t)i, 0);
    if (!nm || !*nm || nm[0] == '/')
        return dwf__emu_fail(u->err, ZIP_ERROR, "%s: unsafe entry name '%.200s'", u->zip_path, nm ? nm : "");
    for (const char *p = nm; *p;) { /* no ".." component anywhere */
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return dwf__emu_fail(u->err, ZIP_ERROR, "%s: unsafe entry name '%.200s'", u->zip_path, nm);
        p += n;
        if (*p) p++;
    }
    mode_t type, mode = entry_mode(u->za, i, &type);
    if (strncmp(nm, "bin/", 4) == 0 && nm[4] && !strchr(nm + 4, '/') && strlen(nm + 4) < 256)
        snprintf(name_out, 256, "%s", nm + 4);
    const char *leaf = "";
    int depth = 0, dir = walk_parent(u, nm, &leaf, &depth), rc = 0;
    if (dir < 0) return -1;
    if (!*leaf || strcmp(leaf, ".") == 0 || type == S_IFDIR) { /* a directory entry */
        if (*leaf && strcmp(leaf, ".") != 0 && mkdirat(dir, leaf, 0755) != 0 && errno != EEXIST)
            rc = dwf__emu_fail(u->err, "ServiceException", "cannot create %.200s: %s", nm, strerror(errno));
        close(dir);
        return rc;
    }
    if (strlen(leaf) > NAME_MAX) {
        close(dir);
        return dwf__emu_fail(u->err, ZIP_ERROR, "%s: entry name '%.200s' is too long", u->zip_path, nm);
    }
    zip_file_t *zf = dwf__zip.zip_fopen_index(u->za, (zip_uint64_t)i, 0);
    if (!zf) {
        close(dir);
        return dwf__emu_fail(u->err, ZIP_ERROR, "%s: %.200s: %s", u->zip_path, nm, dwf__zip.zip_strerror(u->za));
    }
    if (type == S_IFLNK) {
        rc = make_link(u, zf, dir, leaf, depth, nm);
    } else {
        int fd = openat(dir, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            rc = dwf__emu_fail(u->err, ZIP_ERROR, "%s: entry '%.200s': %s", u->zip_path, nm,
                               errno == EEXIST ? "the zip has it twice, or it names a symlink of the zip"
                                               : strerror(errno));
        } else {
            rc = copy_out(u, zf, fd, nm);
            if (rc == 0 && fchmod(fd, mode) != 0)
                rc = dwf__emu_fail(u->err, "ServiceException", "chmod %.200s: %s", nm, strerror(errno));
            if (close(fd) != 0 && rc == 0)
                rc = dwf__emu_fail(u->err, "ServiceException", "closing %.200s: %s", nm, strerror(errno));
        }
    }
    dwf__zip.zip_fclose(zf);
    close(dir);
    return rc;
}

/* The sizes the central directory claims, added up: a zip that admits to more than Lambda
 * takes is refused before anything is written (one that lies is stopped by copy_out). */
static int check_declared(unzip *u, zip_int64_t n)
{
    if (n > EMU_ZIP_MAX_ENTRIES)
        return dwf__emu_fail(u->err, ZIP_ERROR, "%s: the zip has %lld entries; dwf serve unpacks at most %d",
                             u->zip_path, (long long)n, EMU_ZIP_MAX_ENTRIES);
    unsigned long long sum = 0;
    for (zip_int64_t i = 0; i < n; i++) {
        zip_stat_t st;
        if (dwf__zip.zip_stat_index(u->za, (zip_uint64_t)i, 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE)) sum += st.size;
        if (sum > DWF_LIMIT_UNZIPPED_CODE)
            return dwf__emu_fail(u->err, ZIP_ERROR, "%s: Unzipped size must be smaller than %d bytes", u->zip_path,
                                 DWF_LIMIT_UNZIPPED_CODE);
    }
    return 0;
}

/* The function name a `dwf build` zip's comment gives ("dwf build: function NAME"): a zip
 * whose bootstrap is the program itself has no bin/NAME to take it from. Checked later like
 * any name (sandbox.c take_name). */
static void comment_name(zip_t *za, char name_out[256])
{
    static const char prefix[] = "dwf build: function ";
    int len = 0;
    const char *c = dwf__zip.zip_get_archive_comment(za, &len, ZIP_FL_ENC_RAW);
    size_t pl = sizeof prefix - 1;
    if (c && len > (int)pl && (size_t)len - pl < 256 && memcmp(c, prefix, pl) == 0)
        snprintf(name_out, 256, "%.*s", len - (int)pl, c + pl);
}

int dwf__emu_unzip(const char *zip_path, const char *dir, char name_out[256], dwf_error *err)
{
    int zerr = 0;
    zip_t *za = dwf__zip.zip_open(zip_path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!za) {
        zip_error_t ze;
        dwf__zip.zip_error_init_with_code(&ze, zerr);
        dwf__emu_fail(err, ZIP_ERROR, "%s: %s", zip_path, dwf__zip.zip_error_strerror(&ze));
        dwf__zip.zip_error_fini(&ze);
        return -1;
    }
    unzip u = {za, zip_path, -1, 0, NULL, 1 << 16, err};
    int rc = 0;
    if ((u.root = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
        rc = dwf__emu_fail(err, "ServiceException", "%s: %s", dir, strerror(errno));
    else if (!(u.buf = malloc(u.cap)))
        rc = dwf__emu_fail(err, "ServiceException", "out of memory");
    zip_int64_t n = dwf__zip.zip_get_num_entries(za, 0);
    if (rc == 0) rc = check_declared(&u, n);
    for (zip_int64_t i = 0; rc == 0 && i < n; i++) rc = unzip_entry(&u, i, name_out);
    if (rc == 0 && !name_out[0]) comment_name(za, name_out);
    free(u.buf);
    if (u.root >= 0) close(u.root);
    dwf__zip.zip_discard(za);
    return rc;
}
