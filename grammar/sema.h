/*
 * sema.h: the semantic pass over a parsed Program (sema.c). It resolves every name to a Symbol,
 * rejects what would break replay (non-deterministic work outside a step body, durable
 * operations inside one, assignments lost on replay), checks durations and limits against what
 * Lambda accepts, and fills Program.cfg and the "sema:" fields of ast.h that codegen reads.
 */
#ifndef DWF_SEMA_H
#define DWF_SEMA_H

#include "ast.h"
#include "front.h"

/* Lambda durable limits the checks use (documented in docs/language.md). */
#define SEMA_MAX_WAIT_S 31622400.0        /* WaitSeconds / NextAttemptDelaySeconds upper bound */
#define SEMA_MAX_EXEC_TIMEOUT_S 31622400LL /* DurableConfig.ExecutionTimeout */
#define SEMA_MAX_CALLBACK_S 99999999.0    /* CallbackOptions.TimeoutSeconds */
#define SEMA_MAX_OPS 3000                 /* operations per execution */
#define SEMA_MAX_STRING (256 * 1024)      /* payload limit: no literal may exceed it */
#define SEMA_MAX_NAME 256                 /* operation Name length */

/* The candidate `wrong` was most likely meant to be (a small edit distance away), or NULL. */
const char *sema_suggest(const char *wrong, const char *const *cands, size_t n);

/* Check `p` (the tree is annotated in place). Returns the number of errors found. */
int sema_check(Program *p, Diag *d, Arena *a);

#endif
