/*
 * codegen.h: what the back end makes of a checked Program.
 *   cg_emit_c          the handler C (calls include/dwf.h), with #line back to the .dwf
 *   cg_emit_artifacts  durable-config.json, the iam/ policies, deploy.sh, template.yaml, main.tf
 * Both write only what they are asked to and report I/O failures with errno text.
 */
#ifndef DWF_CODEGEN_H
#define DWF_CODEGEN_H

#include <stdio.h>
#include "ast.h"

typedef struct CgOptions {
    const char *region;   /* --region, or NULL: files use parameters/variables */
    const char *account;  /* --account, or NULL */
    const char *zip_name; /* the zip the deploy files reference; default "function.zip" */
} CgOptions;

/* Write the handler C for `p` to `out`. Returns 0, or -1 on a write error. */
int cg_emit_c(const Program *p, FILE *out);

/* Write the deploy artifacts into `dir` (created if missing, with dir/iam/). Returns 0, or -1
 * with a message in errbuf. */
int cg_emit_artifacts(const Program *p, const char *dir, const CgOptions *o, char *errbuf,
                      size_t errlen);

/* How many `invoke`s name their target with an expression rather than a literal (the IAM
 * policy cannot grant those: the CLI warns); *first_line gets the first one's line. */
int cg_dynamic_invokes(const Program *p, int *first_line);

#endif
