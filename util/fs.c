/*
 * fs.c: mkdir -p, and dirname() that leaves its argument alone. The C library has no mkdir -p
 * and its dirname() may write into the path it is given; the CLI, the store, the emulator and
 * the deploy-file writer all need these, so they are written once here (see fs.h).
 */
#include "fs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int make_one(const char *dir, mode_t mode)
{
    if (mkdir(dir, mode) == 0) return 0;
    if (errno != EEXIST) return -1;
    struct stat st;
    if (stat(dir, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int dwf__mkdir_p(const char *dir, mode_t mode, char *failed, size_t failed_len)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp) {
        if (failed && failed_len) snprintf(failed, failed_len, "%.*s...", 64, dir);
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *s = tmp + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (make_one(tmp, mode) != 0) goto fail;
        *s = '/';
    }
    if (make_one(tmp, mode) == 0) return 0;
fail:
    if (failed && failed_len) snprintf(failed, failed_len, "%s", tmp);
    return -1;
}

int dwf__mkdir_parent(const char *path, mode_t mode, char *failed, size_t failed_len)
{
    char dir[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s", path) >= (int)sizeof dir) {
        if (failed && failed_len) snprintf(failed, failed_len, "%.*s...", 64, path);
        errno = ENAMETOOLONG;
        return -1;
    }
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) return 0;
    *slash = '\0';
    return dwf__mkdir_p(dir, mode, failed, failed_len);
}

void dwf__dirname(const char *path, char *out, size_t n)
{
    const char *s = strrchr(path, '/');
    if (!s) snprintf(out, n, ".");
    else if (s == path) snprintf(out, n, "/");
    else snprintf(out, n, "%.*s", (int)(s - path), path);
}
