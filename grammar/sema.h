/*
 * sema.h: the semantic pass over a parsed Program (sema.c). It resolves every name to a Symbol,
 * rejects what would break replay (non-deterministic work outside a step body, durable
 * operations inside one, assignments lost on replay), checks durations and limits against what
 * Lambda accepts, and fills Program.cfg and the "sema:" fields of ast.h that codegen reads.
 */
#ifndef DWF_SEMA_H
#define DWF_SEMA_H

#include "ast.h"
#include "dwf_protocol.h"
#include "front.h"

/* Limits the checks use beyond the protocol's (dwf_protocol.h: DWF_LIMIT_DELAY_S for waits and
 * retry delays, DWF_LIMIT_CALLBACK_TIMEOUT_S, DWF_LIMIT_OPERATION_PAYLOAD for a string
 * literal); all are documented in docs/language.md, section 7. */
#define SEMA_MAX_EXEC_TIMEOUT_S 31622400LL /* DurableConfig.ExecutionTimeout */
#define SEMA_MAX_OPS 3000                 /* operations per execution */
#define SEMA_MAX_NAME 256                 /* operation Name length */

/* The candidate `wrong` was most likely meant to be (a small edit distance away), or NULL. */
const char *sema_suggest(const char *wrong, const char *const *cands, size_t n);

/* Check `p` (the tree is annotated in place). Returns the number of errors found. */
int sema_check(Program *p, Diag *d, Arena *a);

/* taint.c: reject every flow of a secret()/parameter() value into a checkpoint, a log line, an
 * error or an http URL (sema_check runs it once the names are resolved). Returns the number of
 * errors reported. */
int taint_check(Program *p, Diag *d);
/* Whether `e` is a secret()/parameter() call: a source of secret values. */
int taint_is_source(const AstNode *e);

/* iam.c: Program.iam, the IAM statements the workflow's own calls need (include/dwf_aws.def's
 * actions on the resources their literal parameters determine, and permissions { allow }), or
 * errors asking for a declaration where no literal determines one. Returns the errors reported. */
int iam_derive(Program *p, Diag *d, Arena *a);

#endif
