/*
 * codegen.h: what the back end makes of a checked Program.
 *   cg_emit_c          the handler C (calls include/dwf.h), with #line to the .dwf for what comes
 *                      from it and back to the C file for the glue around it
 *   cg_emit_artifacts  durable-config.json, the iam/ policies, deploy.sh, template.yaml, main.tf
 *   cg_emit_graph      the workflow as a graph, in Graphviz DOT or Mermaid text (emit_graph.c)
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

/* Write the handler C for `p` to `out`. `c_name` is the name the C compiler will know the
 * file by (NULL = "handler.c"): the `#line` directives after generated glue name it, so an
 * error there points into the C file, not at a .dwf line. Returns 0, or -1 on a write error. */
int cg_emit_c(const Program *p, const char *c_name, FILE *out);

/* Write the deploy artifacts into `dir` (created if missing, with dir/iam/). Returns 0, or -1
 * with a message in errbuf. */
int cg_emit_artifacts(const Program *p, const char *dir, const CgOptions *o, char *errbuf,
                      size_t errlen);

/* How many `invoke`s name their target with an expression rather than a literal (the IAM
 * policy cannot grant those: the CLI warns); *first_line gets the first one's line. */
int cg_dynamic_invokes(const Program *p, int *first_line);

/* The formats of cg_emit_graph (SVG is DOT laid out by Graphviz: the CLI runs `dot`). */
typedef enum { CG_GRAPH_DOT, CG_GRAPH_MERMAID } CgGraphFormat;

/* Write the graph of `p` (steps, waits, callbacks, polls, invokes as nodes; branches, map
 * bodies, groups, loops, try/catch and compensations as clusters; every node's .dwf line in
 * its label and id) to `out`. Byte-identical for the same Program. Returns 0, or -1 on a
 * write or allocation failure. */
int cg_emit_graph(const Program *p, CgGraphFormat format, FILE *out);

#endif
