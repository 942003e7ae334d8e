/*
 * iam.c: `dwf iam FILE.dwf`, the execution role's policy as the deploy files grant it: the
 * durable plumbing (checkpoints, state, logs, chained invokes) and what the workflow's own calls
 * need (aws calls, secret(), parameter(), `permissions` declarations), derived by the compiler
 * (grammar/iam.c) and rendered by codegen; --explain says, for each statement of the workflow's
 * own, which .dwf lines need it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "codegen.h"
#include "front.h"

const char *const usage_iam =
    "usage: dwf iam FILE.dwf [--explain] [--region R] [--account A]\n"
    "\n"
    "Print the IAM policy of the workflow's execution role: what the durable execution itself\n"
    "needs, then one statement per action the workflow's own calls need (aws calls, secret(),\n"
    "parameter(), permissions { allow ... }), each on the narrowest resource the .dwf's literal\n"
    "parameters determine. The deploy files grant the same (iam/durable-policy.json and\n"
    "iam/workflow-policy.json). Without --region/--account the ARNs hold ${REGION} and\n"
    "${ACCOUNT}, as the policy files do.\n"
    "\n"
    "options:\n"
    "  --explain     after the policy, each statement of the workflow's own with the .dwf lines\n"
    "                that need it\n"
    "  --region R, --account A   write them into the ARNs\n"
    "\n"
    "exit status: 0 printed, 1 errors in the workflow, 2 usage errors\n";

enum { OPT_EXPLAIN = 1, OPT_REGION, OPT_ACCOUNT };
static const CliOption options[] = {
    {"explain", 0, CLI_FLAG, OPT_EXPLAIN},
    {"region", 0, CLI_VALUE, OPT_REGION},
    {"account", 0, CLI_VALUE, OPT_ACCOUNT},
    {0},
};

/* Line n of the source text (1-based), without its newline, into out. */
static void source_line(const Program *p, int n, char *out, size_t len)
{
    const char *s = p->text;
    for (int i = 1; s && i < n; i++) {
        s = strchr(s, '\n');
        if (s) s++;
    }
    size_t k = s ? strcspn(s, "\n") : 0;
    while (s && k > 0 && (*s == ' ' || *s == '\t')) s++, k--;
    snprintf(out, len, "%.*s", (int)(k > 200 ? 200 : k), s ? s : "");
}

static void explain(const Program *p, const CgOptions *o)
{
    printf("\n");
    if (p->niam == 0) {
        printf("The workflow's own calls need no permission beyond the durable execution's.\n");
        return;
    }
    for (int i = 0; i < p->niam; i++) {
        const IamStmt *s = &p->iam[i];
        char *sid = cg_iam_sid(p, i);
        printf("%s%s:", sid ? sid : "?", s->declared ? " (declared)" : "");
        free(sid);
        for (int k = 0; k < s->nactions; k++) printf(" %s", s->actions[k]);
        printf("\n");
        for (int k = 0; k < s->nres; k++) {
            char *r = cg_iam_resource(p, s->resources[k], o);
            printf("  on %s\n", r ? r : s->resources[k]);
            free(r);
        }
        for (int k = 0; k < s->ncond; k++) { /* kms:Decrypt: only through SSM, for these parameters */
            char *r = cg_iam_resource(p, s->cond[k], o);
            printf("  only through SSM, for %s\n", r ? r : s->cond[k]);
            free(r);
        }
        for (int k = 0; k < s->nlines; k++) {
            char text[256];
            source_line(p, s->lines[k], text, sizeof text);
            printf("  %s:%d: %s\n", p->path, s->lines[k], text);
        }
    }
}

int cmd_iam(int argc, char **argv)
{
    const char *file = NULL;
    int want_explain = 0, opt;
    CgOptions o = {0};
    CliArgs a;
    cli_args_init(&a, "iam", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_EXPLAIN: want_explain = 1; break;
        case OPT_REGION: o.region = a.value; break;
        case OPT_ACCOUNT: o.account = a.value; break;
        case CLI_ARGUMENT:
            if (file) return cli_usage_error("iam", "one workflow at a time ('%s' and '%s')", file, a.value);
            file = a.value;
            break;
        default: return EXIT_USAGE;
        }
    }
    if (!file) return cli_usage_error("iam", "no .dwf file given");
    int rc = EXIT_INPUT;
    Arena *arena = arena_new();
    Diag *diag = diag_new(stderr, isatty(STDERR_FILENO));
    char *policy = NULL;
    if (!arena || !diag) {
        fprintf(stderr, "dwf iam: out of memory\n");
        goto done;
    }
    Program *p = front_compile_file(arena, diag, file);
    if (!p || !p->workflow || diag_errors(diag) > 0) goto done;
    if (!(policy = cg_iam_policy(p, &o))) {
        fprintf(stderr, "dwf iam: out of memory\n");
        goto done;
    }
    fputs(policy, stdout);
    if (want_explain) explain(p, &o);
    rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_INPUT;
done:
    free(policy);
    if (diag) diag_free(diag);
    if (arena) arena_free(arena);
    return rc;
}
