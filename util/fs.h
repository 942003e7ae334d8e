/*
 * fs.h: file-system helpers the host-side parts share (the CLI, the service's store, the
 * emulator's function directories, the deploy-file writer). Each used to carry its own copy.
 */
#ifndef DWF_UTIL_FS_H
#define DWF_UTIL_FS_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p: create `dir` and every missing parent with `mode` (before the umask). Succeeds
 * when `dir` already is a directory. Returns 0, or -1 with errno set (ENOTDIR when a component
 * exists but is not a directory, ENAMETOOLONG past PATH_MAX); `failed` (may be NULL) then
 * receives the component that could not be made, for the message. */
int dwf__mkdir_p(const char *dir, mode_t mode, char *failed, size_t failed_len);

/* mkdir -p of the directory holding `path` (nothing when `path` has no directory part). */
int dwf__mkdir_parent(const char *path, mode_t mode, char *failed, size_t failed_len);

/* dirname() without touching its argument: "." for a bare file name, "/" for one at the root.
 * Truncated to n - 1 characters. */
void dwf__dirname(const char *path, char *out, size_t n);

#endif
