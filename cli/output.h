/*
 * output.h: writing what `dwf compile` and `dwf build` generate into a directory the user
 * names, without ever destroying a file dwf did not make.
 *
 * The command collects every file first (out_add, out_add_copy, out_add_stale), out_check then
 * looks at every target and refuses, with one message per file, anything that is not a
 * regular file (a symlink, FIFO, device, directory or socket: never, even with --force) or a
 * regular file dwf did not write or that changed since (unless --force). Only when every target
 * is acceptable does out_commit write them, each through a temporary file in its own directory
 * renamed over the target, and record them in the directory's manifest, `.dwf-generated`:
 * one `SHA256  NAME` line per file dwf wrote there (`sha256sum -c .dwf-generated` reads it).
 *
 * A regular file may be replaced when the manifest records it with its current hash, when it
 * already holds exactly the new content, or, in a directory without a manifest written by a
 * dwf from before manifests (its deploy.sh carries dwf's header), when it is one of the files
 * dwf writes there. Everything else is the user's.
 */
#ifndef DWF_CLI_OUTPUT_H
#define DWF_CLI_OUTPUT_H

#include <stddef.h>

typedef struct OutFile {
    char *name;           /* relative to the directory: "main.tf", "iam/trust-policy.json" */
    char *data;           /* the content (owned), or NULL when copied from `from` */
    size_t len;
    char *from;           /* a file to copy (the zip from the work directory, a `use`d C file) */
    int mode;             /* 0644 or 0755, before the umask */
    int stale;            /* a file this output does not have: removed if dwf made it */
    /* out_check's findings */
    unsigned char sha[32];
    int write;            /* 1: write it; 0: nothing to do (already so, or not ours to remove) */
    int remove;           /* stale and dwf's: remove it */
} OutFile;

typedef struct OutSet {
    const char *cmd;      /* "compile", "build": for messages */
    const char *dir;      /* the directory (created if missing) */
    int force;            /* replace regular files dwf did not write */
    OutFile *files;
    int n, cap;
    char **old_names;     /* the manifest found in dir */
    unsigned char (*old_sha)[32];
    int old_n, has_manifest;
    int dir_reported;     /* "DIR is not a directory" was said once */
} OutSet;

void out_init(OutSet *o, const char *cmd, const char *dir, int force);
/* Add a file with this content (copied), a copy of the regular file `from`, or a stale name.
 * Return 0, or -1 when memory ran out (printed). */
int out_add(OutSet *o, const char *name, const char *data, size_t len, int mode);
int out_add_copy(OutSet *o, const char *name, const char *from, int mode);
int out_add_stale(OutSet *o, const char *name);
/* Look at every target; returns 0 when all may be written, else -1 after printing each
 * refusal and how to proceed. Writes nothing. */
int out_check(OutSet *o);
/* Write what out_check accepted and update the manifest. Returns 0, or -1 after printing why
 * (the manifest then still records what was written). */
int out_commit(OutSet *o);
void out_free(OutSet *o);

#define OUT_MANIFEST ".dwf-generated"

#endif
