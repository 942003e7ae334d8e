/*
 * workdir.c: the directory a running `dwf serve` unpacks its zips into, and the cleaning up of
 * those a killed one left behind.
 *
 * A stopped emulator removes its task roots itself; one killed with SIGKILL (or by a crash, or
 * a reboot of a machine whose /tmp persists) cannot, and each unpacked zip can be 250 MB. So
 * every emulator works in a directory of its own, <base>/<id>, next to a lock file
 * <base>/<id>.lock it holds with flock() for as long as it runs; the kernel drops the lock when
 * the process dies, however it dies. At start, an emulator removes every <id> whose lock it
 * can take: their owner is gone, and nothing else is ever removed. The lock file is created
 * under a temporary name, locked, and only then renamed into place, so no other emulator can
 * see it unlocked.
 *
 * <base> is $TMPDIR/dwf-serve-<uid> (/tmp without TMPDIR), private to the user: it must be a
 * directory the user owns that nobody else can enter, since /tmp is shared and another user
 * could otherwise prepare it.
 */
#include "emu.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

void dwf__emu_remove_tree(const char *path)
{
    if (path) nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* <base>, made if missing (when `make`), and checked to be the user's alone. 0, or -1 with err. */
static int private_base(char base[PATH_MAX], int make, dwf_error *err)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || tmp[0] != '/') tmp = "/tmp";
    if (snprintf(base, PATH_MAX, "%s/dwf-serve-%u", tmp, (unsigned)geteuid()) >= PATH_MAX)
        return dwf__emu_fail(err, "ServiceException", "TMPDIR is too long");
    if (make && mkdir(base, 0700) != 0 && errno != EEXIST)
        return dwf__emu_fail(err, "ServiceException", "cannot create %s: %s", base, strerror(errno));
    struct stat st;
    if (lstat(base, &st) != 0) return dwf__emu_fail(err, "ServiceException", "%s: %s", base, strerror(errno));
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))
        return dwf__emu_fail(err, "ServiceException",
                             "%s is not a directory of yours that only you can use (another user may have made it): "
                             "remove it, or set TMPDIR elsewhere",
                             base);
    return 0;
}

/* Remove the directories of emulators that are no longer running. */
static void clean_stale(const char *base)
{
    DIR *d = opendir(base);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n <= 5 || strcmp(de->d_name + n - 5, ".lock") != 0) continue;
        char lock[PATH_MAX], dir[PATH_MAX];
        if (snprintf(lock, sizeof lock, "%s/%s", base, de->d_name) >= (int)sizeof lock) continue;
        snprintf(dir, sizeof dir, "%s/%.*s", base, (int)(n - 5), de->d_name);
        int fd = open(lock, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) continue;
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) { /* its emulator is gone */
            dwf__emu_remove_tree(dir);
            unlink(lock);
        }
        close(fd);
    }
    closedir(d);
}

int dwf__emu_workdir(dwf_emulator *e, dwf_error *err)
{
    if (e->workdir) return 0;
    char base[PATH_MAX], tmp[PATH_MAX + 16], path[PATH_MAX + 16];
    if (private_base(base, 1, err) != 0) return -1;
    clean_stale(base);
    snprintf(tmp, sizeof tmp, "%s/.new-XXXXXX", base);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) return dwf__emu_fail(err, "ServiceException", "cannot create a file in %s: %s", base, strerror(errno));
    /* The id: this process and the temporary name's random part. */
    snprintf(path, sizeof path, "%s/%d-%s.lock", base, (int)getpid(), tmp + strlen(tmp) - 6);
    if (flock(fd, LOCK_EX) != 0 || rename(tmp, path) != 0) {
        int er = errno;
        unlink(tmp);
        close(fd);
        return dwf__emu_fail(err, "ServiceException", "cannot lock %s: %s", path, strerror(er));
    }
    e->workdir_lock = fd;
    path[strlen(path) - 5] = '\0';
    if (!(e->workdir = strdup(path))) return dwf__emu_fail(err, "ServiceException", "out of memory");
    if (mkdir(e->workdir, 0700) != 0)
        return dwf__emu_fail(err, "ServiceException", "cannot create %s: %s", e->workdir, strerror(errno));
    return 0;
}

void dwf__emu_workdir_remove(dwf_emulator *e)
{
    if (!e->workdir) return;
    dwf__emu_remove_tree(e->workdir);
    char lock[PATH_MAX + 8];
    snprintf(lock, sizeof lock, "%s.lock", e->workdir);
    unlink(lock);
    close(e->workdir_lock);
    free(e->workdir);
    e->workdir = NULL;
}

/* At start, with no zip to unpack, only the cleaning up. */
void dwf__emu_workdir_clean(void)
{
    char base[PATH_MAX];
    dwf_error err;
    if (private_base(base, 0, &err) == 0) clean_stale(base);
}
