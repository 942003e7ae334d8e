/*
 * codegen.h: what the back end makes of a checked Program.
 *   cg_emit_c          the handler C (calls include/dwf.h), with #line to the .dwf for what comes
 *                      from it and back to the C file for the glue around it
 *   cg_render_artifacts  durable-config.json, the iam/ policies, deploy.sh, template.yaml,
 *                      main.tf, in memory (cg_emit_artifacts writes them into a directory)
 *   cg_emit_graph      the workflow as a graph, in Graphviz DOT or Mermaid text (emit_graph.c)
 * They write only what they are asked to and report I/O failures with errno text.
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

/* The deploy artifacts rendered in memory, nothing written: `dwf compile` and `dwf build` hand
 * them to the CLI's writer (cli/output.c), which refuses to replace a file dwf did not make. */
typedef struct CgFile {
    const char *name; /* relative to the output directory: "main.tf", "iam/trust-policy.json" */
    char *text;       /* malloc'd, len bytes (and a NUL) */
    size_t len;
    int mode;         /* 0644, or 0755 for deploy.sh (before the umask) */
} CgFile;

#define CG_MAX_FILES 12
typedef struct CgFiles {
    CgFile file[CG_MAX_FILES];
    int n;
    /* files this workflow does not have (the callback-sender policy without callbacks): what
     * an earlier compile of another workflow left there would lie */
    const char *absent[CG_MAX_FILES];
    int nabsent;
} CgFiles;

/* Render the artifacts of `p` into *out. Returns 0 (free with cg_files_free), or -1 with a
 * message in errbuf and nothing to free. */
int cg_render_artifacts(const Program *p, const CgOptions *o, CgFiles *out, char *errbuf,
                        size_t errlen);
void cg_files_free(CgFiles *f);

/* `dwf iam`: the execution role's policy, the durable statements and the workflow's own
 * (Program.iam) in one JSON document; the Sid of statement i of Program.iam; a resource with
 * the region and account filled in when known. malloc'd (caller frees), NULL when out of memory. */
char *cg_iam_policy(const Program *p, const CgOptions *o);
char *cg_iam_sid(const Program *p, int i);
char *cg_iam_resource(const Program *p, const char *resource, const CgOptions *o);

/* Render and write them into `dir` (created if missing, with dir/iam/), replacing what is
 * there and removing the absent ones: for a directory the caller owns (tests). Returns 0, or
 * -1 with a message in errbuf. */
int cg_emit_artifacts(const Program *p, const char *dir, const CgOptions *o, char *errbuf,
                      size_t errlen);

/* How many `invoke`s name their target with an expression rather than a literal (the IAM
 * policy cannot grant those: the CLI warns); *first_line gets the first one's line. */
int cg_dynamic_invokes(const Program *p, int *first_line);

/* The formats of cg_emit_graph (SVG is DOT laid out by Graphviz: the CLI runs `dot`).
 * CG_GRAPH_CONSOLE is the web console's document (workflow-graph.json beside a `dwf build`
 * zip): the DOT and, per node, the operations it stands for (SubType and name), as JSON. */
typedef enum { CG_GRAPH_DOT, CG_GRAPH_MERMAID, CG_GRAPH_CONSOLE } CgGraphFormat;

/* Write the graph of `p` (steps, waits, callbacks, polls, invokes as nodes; branches, map
 * bodies, groups, loops, try/catch and compensations as clusters; every node's .dwf line in
 * its label and id) to `out`. Byte-identical for the same Program. Returns 0, or -1 on a
 * write or allocation failure. */
int cg_emit_graph(const Program *p, CgGraphFormat format, FILE *out);

#endif
