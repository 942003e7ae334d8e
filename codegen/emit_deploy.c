/*
 * emit_deploy.c: what a deploy needs beside the code (cg_emit_artifacts): durable-config.json,
 * the IAM policies derived from what the workflow does, deploy.sh (AWS CLI v1 or v2), template.yaml
 * (SAM) and main.tf (Terraform).
 *
 * deploy.sh runs unchanged against AWS or against `dwf serve` (AWS_ENDPOINT_URL, which the CLI
 * honours itself, points every call at it: a rehearsal of the deployment). It tells the CLI's
 * major version from `aws --version`: v2 needs --cli-binary-format raw-in-base64-out for a JSON
 * payload, v1 has no such option and sends the payload raw.
 *
 * Least privilege is the point of deriving policies from the program: the function's role gets
 * the two durable actions (singular names: CheckpointDurableExecution, GetDurableExecutionState)
 * on its own qualified ARN `function:NAME:*` (an unqualified ARN never matches an execution ARN,
 * and "*" is never written), logs on its own log group, and lambda:InvokeFunction only on the
 * literal targets it invokes. An invoke whose target is computed at run time gets no grant:
 * IAM JSON has no comments, so deploy.sh, template.yaml and main.tf say so in a comment and
 * cg_dynamic_invokes() lets the CLI warn, unless `permissions { allow "lambda:InvokeFunction"
 * on .. }` declares what it may invoke. What the workflow's own calls need (aws calls,
 * secret(), parameter(), declarations: Program.iam, grammar/iam.c) is iam/workflow-policy.json. Callback senders get their own policy file, written
 * only when the workflow has callbacks.
 *
 * Without --region/--account the JSON policies hold ${REGION} and ${ACCOUNT} placeholders:
 * deploy.sh substitutes them (from `aws configure get region` and `aws sts
 * get-caller-identity`), Terraform reads the same files with templatefile() and data sources,
 * and SAM writes !Sub with ${AWS::Region}/${AWS::AccountId}. With them, every ARN is literal.
 * Every file is built in memory and written once; output depends only on the Program and the
 * options.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "cg_util.h"
#include "codegen.h"
#include "fs.h"

typedef struct Deploy {
    const Program *p;
    const char *fname;  /* Lambda function name */
    const char *region; /* literal, or NULL */
    const char *account;
    const char *zip;
    int dyn_invokes;    /* invokes whose target is not a literal */
    int dyn_line;       /* the first of them */
} Deploy;

/* ---- non-literal invoke targets ------------------------------------------------------------ */

static void count_dynamic(const AstNode *n, int *count, int *line);

static void count_list(const AstNode *n, int *count, int *line)
{
    for (; n; n = n->next) count_dynamic(n, count, line);
}

/* Only statements and the expressions that can hold an invoke need walking: invoke is a
 * durable expression, so it appears as a statement's value, never inside a step body. */
static void count_dynamic(const AstNode *n, int *count, int *line)
{
    if (!n) return;
    switch (n->kind) {
    case AST_INVOKE:
        if (!n->u.invoke.function || n->u.invoke.function->kind != AST_STR) {
            if (*count == 0) *line = n->loc.first_line;
            (*count)++;
        }
        count_dynamic(n->u.invoke.payload, count, line);
        break;
    case AST_LET: case AST_ASSIGN: count_dynamic(n->u.let.value, count, line); break;
    case AST_EXPR_STMT: count_dynamic(n->u.expr.e, count, line); break;
    case AST_RETURN: count_dynamic(n->u.ret.value, count, line); break;
    case AST_COND:
        count_dynamic(n->u.cond.a, count, line);
        count_dynamic(n->u.cond.b, count, line);
        break;
    case AST_BINARY:
        count_dynamic(n->u.op.a, count, line);
        count_dynamic(n->u.op.b, count, line);
        break;
    case AST_STEP: count_list(n->u.step.compensate, count, line); break;
    case AST_PARALLEL: case AST_MAP:
        count_list(n->u.batch.branches, count, line);
        count_list(n->u.batch.body, count, line);
        break;
    case AST_BRANCH: case AST_GROUP: count_list(n->u.group.body, count, line); break;
    case AST_IF:
        count_list(n->u.if_.then, count, line);
        count_list(n->u.if_.else_, count, line);
        break;
    case AST_FOR: count_list(n->u.for_.body, count, line); break;
    case AST_WHILE:
        count_dynamic(n->u.while_.cond, count, line);
        count_list(n->u.while_.body, count, line);
        break;
    case AST_TRY:
        count_list(n->u.try_.body, count, line);
        for (const AstNode *k = n->u.try_.catches; k; k = k->next)
            count_list(k->u.catch_.handler, count, line);
        break;
    default: break;
    }
}

int cg_dynamic_invokes(const Program *p, int *first_line)
{
    int count = 0, line = 0;
    /* a permissions { allow "lambda:InvokeFunction" on ... } grants them: the user named them */
    if (p && p->workflow && !p->cfg.invoke_declared) count_list(p->workflow->u.wf.body, &count, &line);
    if (first_line) *first_line = line;
    return count;
}

/* ---- ARNs ---------------------------------------------------------------------------------- */

/* Region and account as they appear in a JSON policy: literal or a placeholder. */
static const char *json_region(const Deploy *d) { return d->region ? d->region : "${REGION}"; }
static const char *json_account(const Deploy *d) { return d->account ? d->account : "${ACCOUNT}"; }

/* The ARN of an invoke target: a full ARN as written, else NAME[:QUALIFIER] in this account. */
static void target_arn(const Deploy *d, const char *t, const char *region, const char *account,
                       CgBuf *b)
{
    if (strncmp(t, "arn:", 4) == 0) cg_buf_puts(b, t);
    else cg_buf_printf(b, "arn:aws:lambda:%s:%s:function:%s", region, account, t);
    (void)d;
}

static int has_targets(const Program *p)
{
    return p->cfg.invoke_targets && p->cfg.invoke_targets[0];
}

/* ---- the JSON policies ----------------------------------------------------------------------- */

static void json_str(CgBuf *b, const char *s) { cg_json_string(b, s, strlen(s)); }

static void json_durable_policy(const Deploy *d, CgBuf *b)
{
    const char *r = json_region(d), *a = json_account(d);
    CgBuf fn = {0}, lg = {0};
    cg_buf_printf(&fn, "arn:aws:lambda:%s:%s:function:%s:*", r, a, d->fname);
    cg_buf_printf(&lg, "arn:aws:logs:%s:%s:log-group:/aws/lambda/%s", r, a, d->fname);
    cg_buf_puts(b, "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n"
                   "    {\n      \"Sid\": \"DurableExecution\",\n      \"Effect\": \"Allow\",\n"
                   "      \"Action\": [\n        \"lambda:CheckpointDurableExecution\",\n"
                   "        \"lambda:GetDurableExecutionState\"\n      ],\n      \"Resource\": ");
    json_str(b, fn.s);
    cg_buf_puts(b, "\n    },\n    {\n      \"Sid\": \"Logs\",\n      \"Effect\": \"Allow\",\n"
                   "      \"Action\": [\n        \"logs:CreateLogGroup\",\n"
                   "        \"logs:CreateLogStream\",\n        \"logs:PutLogEvents\"\n      ],\n"
                   "      \"Resource\": [\n        ");
    json_str(b, lg.s);
    cg_buf_puts(b, ",\n        ");
    cg_buf_puts(&lg, ":*");
    json_str(b, lg.s);
    cg_buf_puts(b, "\n      ]\n    }");
    if (has_targets(d->p)) {
        cg_buf_puts(b, ",\n    {\n      \"Sid\": \"ChainedInvoke\",\n      \"Effect\": \"Allow\",\n"
                       "      \"Action\": \"lambda:InvokeFunction\",\n      \"Resource\": [\n");
        for (const char **t = d->p->cfg.invoke_targets; *t; t++) {
            CgBuf arn = {0};
            target_arn(d, *t, r, a, &arn);
            cg_buf_puts(b, "        ");
            json_str(b, arn.s ? arn.s : "");
            cg_buf_puts(b, t[1] ? ",\n" : "\n");
            cg_buf_free(&arn);
        }
        cg_buf_puts(b, "      ]\n    }");
    }
    cg_buf_puts(b, "\n  ]\n}\n");
    cg_buf_free(&fn);
    cg_buf_free(&lg);
}

static void json_callback_policy(const Deploy *d, CgBuf *b)
{
    CgBuf fn = {0};
    cg_buf_printf(&fn, "arn:aws:lambda:%s:%s:function:%s:*", json_region(d), json_account(d),
                  d->fname);
    cg_buf_puts(b, "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n"
                   "    {\n      \"Sid\": \"CompleteCallbacks\",\n      \"Effect\": \"Allow\",\n"
                   "      \"Action\": [\n"
                   "        \"lambda:SendDurableExecutionCallbackSuccess\",\n"
                   "        \"lambda:SendDurableExecutionCallbackFailure\",\n"
                   "        \"lambda:SendDurableExecutionCallbackHeartbeat\"\n      ],\n"
                   "      \"Resource\": ");
    json_str(b, fn.s);
    cg_buf_puts(b, "\n    }\n  ]\n}\n");
    cg_buf_free(&fn);
}

static const char trust_policy[] =
    "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\n"
    "      \"Effect\": \"Allow\",\n      \"Principal\": {\n"
    "        \"Service\": \"lambda.amazonaws.com\"\n      },\n"
    "      \"Action\": \"sts:AssumeRole\"\n    }\n  ]\n}\n";

static void json_durable_config(const Deploy *d, CgBuf *b)
{
    cg_buf_printf(b, "{\n  \"RetentionPeriodInDays\": %d,\n  \"ExecutionTimeout\": %lld\n}\n",
                  d->p->cfg.retention_days, d->p->cfg.execution_timeout);
}

/* environment.json: the Environment of create-function / update-function-configuration. */
static void json_environment(const Deploy *d, CgBuf *b)
{
    const Program *p = d->p;
    cg_buf_puts(b, "{\n  \"Variables\": {\n");
    for (int i = 0; i < p->cfg.nenv; i++) {
        cg_buf_puts(b, "    ");
        json_str(b, p->cfg.env_names[i]);
        cg_buf_puts(b, ": ");
        json_str(b, p->cfg.env_values[i]);
        cg_buf_puts(b, i + 1 < p->cfg.nenv ? ",\n" : "\n");
    }
    cg_buf_puts(b, "  }\n}\n");
}

/* ---- the workflow's own statements (Program.iam, grammar/iam.c) ---------------------------------- */

/* A statement's Sid: its first action without the ':', the service capitalised ("DynamodbPutItem"),
 * numbered when two statements would share one. */
static void iam_sid(const Program *p, int i, CgBuf *b)
{
    const char *a = p->iam[i].actions[0];
    CgBuf s = {0};
    for (const char *c = a; *c; c++) {
        if (*c == ':' || *c == '-' || *c == '*') continue;
        cg_buf_putc(&s, c == a && *c >= 'a' && *c <= 'z' ? (char)(*c - 'a' + 'A') : *c);
    }
    if (p->iam[i].declared) cg_buf_puts(&s, "Declared");
    int same = 0;
    for (int k = 0; k < i; k++) same += strcmp(p->iam[k].actions[0], a) == 0 && p->iam[k].declared == p->iam[i].declared;
    if (same) cg_buf_printf(&s, "%d", same + 1);
    cg_buf_append(b, &s);
    cg_buf_free(&s);
}

/* The region and account placeholders of a resource replaced by the literal ones when known. */
static void json_resource(const Deploy *d, CgBuf *b, const char *r)
{
    CgBuf s = {0};
    while (*r) {
        if (strncmp(r, "${REGION}", 9) == 0 && d->region) {
            cg_buf_puts(&s, d->region);
            r += 9;
        } else if (strncmp(r, "${ACCOUNT}", 10) == 0 && d->account) {
            cg_buf_puts(&s, d->account);
            r += 10;
        } else {
            cg_buf_putc(&s, *r++);
        }
    }
    cg_json_string(b, s.s ? s.s : "", s.len);
    cg_buf_free(&s);
}

static void json_list(const Deploy *d, CgBuf *b, const char *const *v, int n, const char *indent, int resources)
{
    if (n == 1) {
        if (resources) json_resource(d, b, v[0]);
        else json_str(b, v[0]);
        return;
    }
    cg_buf_puts(b, "[\n");
    for (int i = 0; i < n; i++) {
        cg_buf_printf(b, "%s  ", indent);
        if (resources) json_resource(d, b, v[i]);
        else json_str(b, v[i]);
        cg_buf_puts(b, i + 1 < n ? ",\n" : "\n");
    }
    cg_buf_printf(b, "%s]", indent);
}

/* One statement of the workflow policy, at the indentation of the Statement array's items. */
static void json_iam_statement(const Deploy *d, CgBuf *b, int i)
{
    const IamStmt *s = &d->p->iam[i];
    cg_buf_puts(b, "    {\n      \"Sid\": \"");
    iam_sid(d->p, i, b);
    cg_buf_puts(b, "\",\n      \"Effect\": \"Allow\",\n      \"Action\": ");
    json_list(d, b, s->actions, s->nactions, "      ", 0);
    cg_buf_puts(b, ",\n      \"Resource\": ");
    json_list(d, b, s->resources, s->nres, "      ", 1);
    if (s->ncond) {
        /* kms:Decrypt of SecureString parameters: only through SSM, only for these parameters */
        cg_buf_puts(b, ",\n      \"Condition\": {\n        \"StringEquals\": {\n"
                       "          \"kms:ViaService\": ");
        json_resource(d, b, "ssm.${REGION}.amazonaws.com");
        cg_buf_puts(b, "\n        },\n        \"StringLike\": {\n"
                       "          \"kms:EncryptionContext:PARAMETER_ARN\": ");
        json_list(d, b, s->cond, s->ncond, "          ", 1);
        cg_buf_puts(b, "\n        }\n      }");
    }
    cg_buf_puts(b, "\n    }");
}

/* iam/workflow-policy.json: what the workflow's own calls need (no file when it needs nothing). */
static void json_workflow_policy(const Deploy *d, CgBuf *b)
{
    cg_buf_puts(b, "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n");
    for (int i = 0; i < d->p->niam; i++) {
        json_iam_statement(d, b, i);
        cg_buf_puts(b, i + 1 < d->p->niam ? ",\n" : "\n");
    }
    cg_buf_puts(b, "  ]\n}\n");
}

/* A resource in template.yaml: literal, or !Sub with the pseudo parameters. */
static void yaml_resource(const Deploy *d, CgBuf *b, const char *r)
{
    CgBuf s = {0};
    int sub = 0;
    while (*r) {
        if (strncmp(r, "${REGION}", 9) == 0) {
            if (d->region) cg_buf_puts(&s, d->region);
            else cg_buf_puts(&s, "${AWS::Region}"), sub = 1;
            r += 9;
        } else if (strncmp(r, "${ACCOUNT}", 10) == 0) {
            if (d->account) cg_buf_puts(&s, d->account);
            else cg_buf_puts(&s, "${AWS::AccountId}"), sub = 1;
            r += 10;
        } else {
            cg_buf_putc(&s, *r++);
        }
    }
    if (sub) cg_buf_puts(b, "!Sub ");
    cg_json_string(b, s.s ? s.s : "", s.len);
    cg_buf_free(&s);
}

static void yaml_list(const Deploy *d, CgBuf *b, const char *const *v, int n, const char *indent, int resources)
{
    for (int i = 0; i < n; i++) {
        cg_buf_printf(b, "\n%s- ", indent);
        if (resources) yaml_resource(d, b, v[i]);
        else cg_buf_puts(b, v[i]);
    }
}

/* The workflow's statements in SAM's inline policy (items of its Statement list). */
static void yaml_workflow_statements(const Deploy *d, CgBuf *b)
{
    for (int i = 0; i < d->p->niam; i++) {
        const IamStmt *s = &d->p->iam[i];
        cg_buf_puts(b, "            - Sid: ");
        iam_sid(d->p, i, b);
        cg_buf_puts(b, "\n              Effect: Allow\n              Action:");
        yaml_list(d, b, s->actions, s->nactions, "                ", 0);
        cg_buf_puts(b, "\n              Resource:");
        yaml_list(d, b, s->resources, s->nres, "                ", 1);
        if (s->ncond) {
            cg_buf_puts(b, "\n              Condition:\n                StringEquals:\n"
                           "                  \"kms:ViaService\": ");
            yaml_resource(d, b, "ssm.${REGION}.amazonaws.com");
            cg_buf_puts(b, "\n                StringLike:\n"
                           "                  \"kms:EncryptionContext:PARAMETER_ARN\":");
            yaml_list(d, b, s->cond, s->ncond, "                    ", 1);
        }
        cg_buf_putc(b, '\n');
    }
}

/* ---- deploy.sh ------------------------------------------------------------------------------ */

static void header_comment(const Deploy *d, CgBuf *b, const char *what)
{
    const char *path = d->p->path ? d->p->path : "workflow.dwf";
    cg_buf_puts(b, "# ");
    cg_buf_puts(b, what);
    cg_buf_puts(b, "\n# Generated by `dwf compile` from ");
    cg_c_comment(b, path, strlen(path));
    cg_buf_puts(b, "; do not edit, compile again.\n");
}

static void dyn_comment(const Deploy *d, CgBuf *b)
{
    if (!d->dyn_invokes) return;
    cg_buf_printf(b, "# NOTE: this workflow invokes %d function(s) whose name is computed at run "
                     "time\n# (first at line %d). No lambda:InvokeFunction is granted for them: "
                     "add it for\n# the functions you expect.\n",
                  d->dyn_invokes, d->dyn_line);
}

static void emit_deploy_sh(const Deploy *d, CgBuf *b)
{
    const Program *p = d->p;
    cg_buf_puts(b, "#!/usr/bin/env bash\n");
    header_comment(d, b, "deploy.sh: create the role, its policies and the durable function, "
                         "publish a version, start one execution.");
    cg_buf_puts(b, "# Needs the AWS CLI (v1 or v2) and the function zip (`dwf build` makes it).\n"
                   "#   ./deploy.sh ['{\"input\":\"json\"}']\n"
                   "# Rehearse it on dwf serve (same commands, local endpoint):\n"
                   "#   AWS_ENDPOINT_URL=http://127.0.0.1:9001 ./deploy.sh ['{\"input\":\"json\"}']\n");
    if (p->cfg.uses_callbacks)
        cg_buf_puts(b, "# iam/callback-sender-policy.json is for whoever completes this "
                       "workflow's callbacks:\n# attach it to their user or role.\n");
    dyn_comment(d, b);
    cg_buf_puts(b, "set -euo pipefail\ncd \"$(dirname \"$0\")\"\n\nFUNCTION=");
    cg_sh_quote(b, d->fname);
    cg_buf_puts(b, "\nROLE=");
    CgBuf role = {0};
    cg_buf_printf(&role, "%s-role", d->fname);
    cg_sh_quote(b, role.s);
    cg_buf_free(&role);
    cg_buf_puts(b, "\nZIP=${ZIP:-");
    cg_sh_quote(b, d->zip);
    cg_buf_puts(b, "}\n");
    if (d->region) {
        cg_buf_puts(b, "REGION=");
        cg_sh_quote(b, d->region);
        cg_buf_putc(b, '\n');
    } else {
        /* `aws configure get` reads the config file only; the CLI itself takes the environment first. */
        cg_buf_puts(b, "REGION=${REGION:-${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region)}}}\n");
    }
    if (d->account) {
        cg_buf_puts(b, "ACCOUNT=");
        cg_sh_quote(b, d->account);
        cg_buf_putc(b, '\n');
    } else {
        cg_buf_puts(b, "ACCOUNT=${ACCOUNT:-$(aws sts get-caller-identity --query Account "
                       "--output text)}\n");
    }
    cg_buf_puts(b, "PAYLOAD=${1:-}\n[ -n \"$PAYLOAD\" ] || PAYLOAD='{}'\n"
                   "# The CLI v2 takes a JSON payload raw only when told; v1 has no such option.\n"
                   "case \"$(aws --version 2>&1)\" in\n"
                   "  aws-cli/1.*) RAW_PAYLOAD=() ;;\n"
                   "  *) RAW_PAYLOAD=(--cli-binary-format raw-in-base64-out) ;;\n"
                   "esac\n\n");
    cg_buf_puts(b, "# The policies hold ${REGION} and ${ACCOUNT} when compiled without "
                   "--region/--account.\npolicy() { sed -e \"s/\\${REGION}/$REGION/g\" -e "
                   "\"s/\\${ACCOUNT}/$ACCOUNT/g\" \"$1\"; }\n\n");
    cg_buf_puts(b, "if ! aws iam get-role --role-name \"$ROLE\" >/dev/null 2>&1; then\n"
                   "  aws iam create-role --role-name \"$ROLE\" \\\n"
                   "    --assume-role-policy-document file://iam/trust-policy.json >/dev/null\n"
                   "  aws iam wait role-exists --role-name \"$ROLE\"\n"
                   "  # A new role takes a few seconds before Lambda can assume it (not on a local endpoint).\n"
                   "  [ -n \"${AWS_ENDPOINT_URL:-}\" ] || sleep 10\n"
                   "fi\n"
                   "aws iam put-role-policy --role-name \"$ROLE\" --policy-name dwf-durable \\\n"
                   "  --policy-document \"$(policy iam/durable-policy.json)\"\n");
    if (p->niam > 0)
        cg_buf_puts(b, "# What the workflow's own calls need (aws, secret(), parameter(): `dwf iam --explain`).\n"
                       "aws iam put-role-policy --role-name \"$ROLE\" --policy-name dwf-workflow \\\n"
                       "  --policy-document \"$(policy iam/workflow-policy.json)\"\n");
    cg_buf_putc(b, '\n');
    cg_buf_puts(b, "if aws lambda get-function --region \"$REGION\" --function-name \"$FUNCTION\" "
                   ">/dev/null 2>&1; then\n"
                   "  aws lambda update-function-code --region \"$REGION\" --function-name "
                   "\"$FUNCTION\" \\\n    --zip-file \"fileb://$ZIP\" >/dev/null\n"
                   "  aws lambda wait function-updated-v2 --region \"$REGION\" --function-name "
                   "\"$FUNCTION\"\n");
    if (p->cfg.nenv > 0)
        cg_buf_puts(b, "  # The environment is configuration: set it again with the code.\n"
                       "  aws lambda update-function-configuration --region \"$REGION\" --function-name "
                       "\"$FUNCTION\" \\\n    --environment file://environment.json >/dev/null\n"
                       "  aws lambda wait function-updated-v2 --region \"$REGION\" --function-name "
                       "\"$FUNCTION\"\n");
    cg_buf_puts(b, "else\n"
                   "  aws lambda create-function --region \"$REGION\" --function-name \"$FUNCTION\" "
                   "\\\n    --runtime provided.al2023 --handler bootstrap \\\n"
                   "    --role \"arn:aws:iam::$ACCOUNT:role/$ROLE\" \\\n"
                   "    --zip-file \"fileb://$ZIP\" \\\n");
    if (p->cfg.nenv > 0) cg_buf_puts(b, "    --environment file://environment.json \\\n");
    cg_buf_printf(b, "    --timeout %d --memory-size %d \\\n", p->cfg.timeout_s, p->cfg.memory_mb);
    cg_buf_printf(b, "    --durable-config '{\"RetentionPeriodInDays\":%d,\"ExecutionTimeout\":%lld}' "
                     ">/dev/null\n",
                  p->cfg.retention_days, p->cfg.execution_timeout);
    cg_buf_puts(b, "  aws lambda wait function-active-v2 --region \"$REGION\" --function-name "
                   "\"$FUNCTION\"\nfi\n\n");
    cg_buf_puts(b, "# Durable executions need a qualified ARN: publish a version and invoke it.\n"
                   "VERSION=$(aws lambda publish-version --region \"$REGION\" --function-name "
                   "\"$FUNCTION\" \\\n  --query Version --output text)\n"
                   "ARN=\"arn:aws:lambda:$REGION:$ACCOUNT:function:$FUNCTION:$VERSION\"\n"
                   "echo \"published $ARN\"\n");
    if (p->cfg.uses_callbacks)
        cg_buf_puts(b, "# The workflow waits on callbacks: a synchronous invoke would time out, "
                       "so start it\n# asynchronously and follow it with get-durable-execution.\n");
    cg_buf_puts(b, "aws lambda invoke --region \"$REGION\" --function-name \"$ARN\" \\\n");
    if (p->cfg.uses_callbacks) cg_buf_puts(b, "  --invocation-type Event \\\n");
    cg_buf_puts(b, "  ${RAW_PAYLOAD[@]+\"${RAW_PAYLOAD[@]}\"} --payload \"$PAYLOAD\" response.json\n"
                   "cat response.json\necho\n");
}

/* ---- template.yaml (SAM) ---------------------------------------------------------------------- */

/* A YAML value naming an ARN: literal, or !Sub with the pseudo parameters. */
static void yaml_arn(const Deploy *d, CgBuf *b, const char *fmt_tail, const char *service,
                     const char *what)
{
    CgBuf s = {0};
    cg_buf_printf(&s, "arn:aws:%s:%s:%s:%s%s", service, d->region ? d->region : "${AWS::Region}",
                  d->account ? d->account : "${AWS::AccountId}", what, fmt_tail);
    if (!d->region || !d->account) cg_buf_puts(b, "!Sub ");
    cg_json_string(b, s.s, s.len);
    cg_buf_free(&s);
}

static void emit_sam(const Deploy *d, CgBuf *b)
{
    const Program *p = d->p;
    const char *wfname = p->workflow->u.wf.name ? p->workflow->u.wf.name : "workflow";
    header_comment(d, b, "template.yaml: AWS SAM template for the durable function.");
    cg_buf_puts(b, "# Deploy with `sam deploy --guided` next to the function zip (`dwf build`).\n");
    dyn_comment(d, b);
    CgBuf fn = {0};
    cg_buf_printf(&fn, "function:%s", d->fname);
    cg_buf_puts(b, "AWSTemplateFormatVersion: \"2010-09-09\"\n"
                   "Transform: AWS::Serverless-2016-10-31\nDescription: ");
    CgBuf desc = {0};
    cg_buf_printf(&desc, "dwf workflow %s", wfname);
    cg_json_string(b, desc.s, desc.len);
    cg_buf_free(&desc);
    cg_buf_puts(b, "\n\nResources:\n  WorkflowFunction:\n    Type: AWS::Serverless::Function\n"
                   "    Properties:\n      FunctionName: ");
    json_str(b, d->fname);
    cg_buf_puts(b, "\n      Runtime: provided.al2023\n      Handler: bootstrap\n      CodeUri: ");
    json_str(b, d->zip);
    cg_buf_printf(b, "\n      MemorySize: %d\n      Timeout: %d\n", p->cfg.memory_mb,
                  p->cfg.timeout_s);
    if (p->cfg.nenv > 0) {
        cg_buf_puts(b, "      Environment:\n        Variables:\n");
        for (int i = 0; i < p->cfg.nenv; i++) {
            cg_buf_puts(b, "          ");
            json_str(b, p->cfg.env_names[i]); /* quoted: YAML 1.1 reads a bare ON or NO as a boolean */
            cg_buf_puts(b, ": ");
            json_str(b, p->cfg.env_values[i]);
            cg_buf_putc(b, '\n');
        }
    }
    cg_buf_puts(b, "      # Durable executions need a qualified ARN: publish an alias.\n"
                   "      AutoPublishAlias: live\n");
    cg_buf_printf(b, "      DurableConfig:\n        ExecutionTimeout: %lld\n"
                     "        RetentionPeriodInDays: %d\n",
                  p->cfg.execution_timeout, p->cfg.retention_days);
    cg_buf_puts(b, "      Policies:\n        - Version: \"2012-10-17\"\n          Statement:\n"
                   "            - Effect: Allow\n              Action:\n"
                   "                - lambda:CheckpointDurableExecution\n"
                   "                - lambda:GetDurableExecutionState\n"
                   "              Resource: ");
    yaml_arn(d, b, ":*", "lambda", fn.s);
    cg_buf_puts(b, "\n            - Effect: Allow\n              Action:\n"
                   "                - logs:CreateLogGroup\n                - logs:CreateLogStream\n"
                   "                - logs:PutLogEvents\n              Resource:\n"
                   "                - ");
    CgBuf lg = {0};
    cg_buf_printf(&lg, "log-group:/aws/lambda/%s", d->fname);
    yaml_arn(d, b, "", "logs", lg.s);
    cg_buf_puts(b, "\n                - ");
    yaml_arn(d, b, ":*", "logs", lg.s);
    cg_buf_putc(b, '\n');
    cg_buf_free(&lg);
    if (has_targets(p)) {
        cg_buf_puts(b, "            - Effect: Allow\n              Action: lambda:InvokeFunction\n"
                       "              Resource:\n");
        for (const char **t = p->cfg.invoke_targets; *t; t++) {
            cg_buf_puts(b, "                - ");
            if (strncmp(*t, "arn:", 4) == 0) {
                json_str(b, *t);
            } else {
                CgBuf w = {0};
                cg_buf_printf(&w, "function:%s", *t);
                yaml_arn(d, b, "", "lambda", w.s);
                cg_buf_free(&w);
            }
            cg_buf_putc(b, '\n');
        }
    }
    yaml_workflow_statements(d, b);
    if (p->cfg.uses_callbacks) {
        cg_buf_puts(b, "\n  # For whoever completes this workflow's callbacks: attach it to "
                       "their user or role.\n  CallbackSenderPolicy:\n"
                       "    Type: AWS::IAM::ManagedPolicy\n    Properties:\n"
                       "      PolicyDocument:\n        Version: \"2012-10-17\"\n"
                       "        Statement:\n          - Effect: Allow\n            Action:\n"
                       "              - lambda:SendDurableExecutionCallbackSuccess\n"
                       "              - lambda:SendDurableExecutionCallbackFailure\n"
                       "              - lambda:SendDurableExecutionCallbackHeartbeat\n"
                       "            Resource: ");
        yaml_arn(d, b, ":*", "lambda", fn.s);
        cg_buf_putc(b, '\n');
    }
    cg_buf_puts(b, "\nOutputs:\n  QualifiedArn:\n    Description: invoke this (the published "
                   "alias)\n    Value: !Ref WorkflowFunction.Alias\n");
    cg_buf_free(&fn);
}

/* ---- main.tf (Terraform) -------------------------------------------------------------------- */

/* A Terraform string: JSON's escapes, and "${" / "%{" (template sequences in HCL) doubled. */
static void tf_str(CgBuf *b, const char *s)
{
    CgBuf j = {0};
    json_str(&j, s);
    for (size_t i = 0; i < j.len; i++) {
        if ((j.s[i] == '$' || j.s[i] == '%') && i + 1 < j.len && j.s[i + 1] == '{') cg_buf_putc(b, j.s[i]);
        cg_buf_putc(b, j.s[i]);
    }
    if (j.oom) b->oom = 1;
    cg_buf_free(&j);
}

static void emit_tf(const Deploy *d, CgBuf *b)
{
    const Program *p = d->p;
    header_comment(d, b, "main.tf: Terraform for the durable function (hashicorp/aws >= 6.25, "
                         "which has durable_config).");
    cg_buf_puts(b, "# `terraform init && terraform apply` next to the function zip (`dwf build`).\n");
    dyn_comment(d, b);
    cg_buf_puts(b, "terraform {\n  required_providers {\n    aws = {\n"
                   "      source  = \"hashicorp/aws\"\n      version = \">= 6.25.0\"\n    }\n"
                   "  }\n}\n\n");
    if (d->region) {
        cg_buf_puts(b, "provider \"aws\" {\n  region = ");
        json_str(b, d->region);
        cg_buf_puts(b, "\n}\n\n");
    }
    if (!d->region) cg_buf_puts(b, "data \"aws_region\" \"current\" {}\n");
    if (!d->account) cg_buf_puts(b, "data \"aws_caller_identity\" \"current\" {}\n");
    if (!d->region || !d->account) cg_buf_putc(b, '\n');
    cg_buf_puts(b, "locals {\n  function_name = ");
    json_str(b, d->fname);
    cg_buf_puts(b, "\n  region        = ");
    if (d->region) json_str(b, d->region);
    else cg_buf_puts(b, "data.aws_region.current.region");
    cg_buf_puts(b, "\n  account       = ");
    if (d->account) json_str(b, d->account);
    else cg_buf_puts(b, "data.aws_caller_identity.current.account_id");
    cg_buf_puts(b, "\n  # The same policy files deploy.sh uses; ${REGION}/${ACCOUNT} filled in here.\n"
                   "  vars = { REGION = local.region, ACCOUNT = local.account }\n}\n\n");
    cg_buf_puts(b, "resource \"aws_iam_role\" \"workflow\" {\n"
                   "  name               = \"${local.function_name}-role\"\n"
                   "  assume_role_policy = file(\"${path.module}/iam/trust-policy.json\")\n}\n\n"
                   "resource \"aws_iam_role_policy\" \"durable\" {\n"
                   "  name   = \"dwf-durable\"\n  role   = aws_iam_role.workflow.id\n"
                   "  policy = templatefile(\"${path.module}/iam/durable-policy.json\", "
                   "local.vars)\n}\n\n");
    if (p->niam > 0)
        cg_buf_puts(b, "# What the workflow's own calls need (aws, secret(), parameter(): `dwf iam --explain`).\n"
                       "resource \"aws_iam_role_policy\" \"workflow\" {\n"
                       "  name   = \"dwf-workflow\"\n  role   = aws_iam_role.workflow.id\n"
                       "  policy = templatefile(\"${path.module}/iam/workflow-policy.json\", "
                       "local.vars)\n}\n\n");
    if (p->cfg.uses_callbacks)
        cg_buf_puts(b, "# For whoever completes this workflow's callbacks: attach it to their "
                       "user or role.\nresource \"aws_iam_policy\" \"callback_sender\" {\n"
                       "  name   = \"${local.function_name}-callback-sender\"\n"
                       "  policy = templatefile(\"${path.module}/iam/callback-sender-policy.json\", "
                       "local.vars)\n}\n\n");
    cg_buf_puts(b, "resource \"aws_lambda_function\" \"workflow\" {\n"
                   "  function_name    = local.function_name\n"
                   "  role             = aws_iam_role.workflow.arn\n"
                   "  runtime          = \"provided.al2023\"\n"
                   "  handler          = \"bootstrap\"\n  filename         = ");
    CgBuf z = {0};
    cg_buf_printf(&z, "${path.module}/%s", d->zip);
    json_str(b, z.s);
    cg_buf_puts(b, "\n  source_code_hash = filebase64sha256(");
    json_str(b, z.s);
    cg_buf_free(&z);
    cg_buf_printf(b, ")\n  memory_size      = %d\n  timeout          = %d\n\n", p->cfg.memory_mb,
                  p->cfg.timeout_s);
    if (p->cfg.nenv > 0) {
        size_t width = 0; /* `terraform fmt` aligns the '=' of consecutive lines */
        for (int i = 0; i < p->cfg.nenv; i++)
            if (strlen(p->cfg.env_names[i]) > width) width = strlen(p->cfg.env_names[i]);
        cg_buf_puts(b, "  environment {\n    variables = {\n");
        for (int i = 0; i < p->cfg.nenv; i++) {
            cg_buf_puts(b, "      ");
            json_str(b, p->cfg.env_names[i]);
            cg_buf_printf(b, "%*s = ", (int)(width - strlen(p->cfg.env_names[i])), "");
            tf_str(b, p->cfg.env_values[i]);
            cg_buf_putc(b, '\n');
        }
        cg_buf_puts(b, "    }\n  }\n\n");
    }
    cg_buf_puts(b, "  # Durable executions need a qualified ARN: publish a version.\n"
                   "  publish = true\n\n");
    cg_buf_printf(b, "  durable_config {\n    execution_timeout = %lld\n"
                     "    retention_period  = %d\n  }\n\n",
                  p->cfg.execution_timeout, p->cfg.retention_days);
    cg_buf_puts(b, "  # Deleting stops in-flight executions first, which can take a while.\n"
                   "  timeouts {\n    delete = \"60m\"\n  }\n\n");
    cg_buf_printf(b, "  depends_on = [aws_iam_role_policy.durable%s]\n}\n\n",
                  p->niam > 0 ? ", aws_iam_role_policy.workflow" : "");
    cg_buf_puts(b, "output \"qualified_arn\" {\n"
                   "  description = \"invoke this (the published version)\"\n"
                   "  value       = aws_lambda_function.workflow.qualified_arn\n}\n");
}

/* ---- `dwf iam` ----------------------------------------------------------------------------------- */

static void deploy_init(Deploy *d, const Program *p, const CgOptions *o)
{
    memset(d, 0, sizeof *d);
    d->p = p;
    d->fname = p->cfg.function_name ? p->cfg.function_name
                                    : (p->workflow->u.wf.name ? p->workflow->u.wf.name : "workflow");
    d->region = o && o->region ? o->region : p->cfg.region;
    d->account = o && o->account ? o->account : p->cfg.account;
    d->zip = o && o->zip_name ? o->zip_name : "function.zip";
    d->dyn_invokes = cg_dynamic_invokes(p, &d->dyn_line);
}

static char *take(CgBuf *b)
{
    if (b->oom) {
        cg_buf_free(b);
        return NULL;
    }
    return b->s ? b->s : calloc(1, 1);
}

char *cg_iam_policy(const Program *p, const CgOptions *o)
{
    if (!p || !p->workflow) return NULL;
    Deploy d;
    deploy_init(&d, p, o);
    CgBuf b = {0};
    json_durable_policy(&d, &b);
    /* the workflow's statements join the durable ones in one document */
    static const char tail[] = "\n  ]\n}\n";
    if (p->niam > 0 && b.len > sizeof tail - 1 && strcmp(b.s + b.len - (sizeof tail - 1), tail) == 0) {
        b.len -= sizeof tail - 1;
        b.s[b.len] = '\0';
        for (int i = 0; i < p->niam; i++) {
            cg_buf_puts(&b, ",\n");
            json_iam_statement(&d, &b, i);
        }
        cg_buf_puts(&b, tail);
    }
    return take(&b);
}

char *cg_iam_sid(const Program *p, int i)
{
    CgBuf b = {0};
    iam_sid(p, i, &b);
    return take(&b);
}

char *cg_iam_resource(const Program *p, const char *resource, const CgOptions *o)
{
    Deploy d;
    deploy_init(&d, p, o);
    CgBuf b = {0}, out = {0};
    json_resource(&d, &b, resource);
    /* json_resource wrote a JSON string: the text between its quotes, unescaped (ARNs hold no
     * characters JSON escapes but '"' and '\\', which no ARN has) */
    if (b.len >= 2) cg_buf_putn(&out, b.s + 1, b.len - 2);
    cg_buf_free(&b);
    return take(&out);
}

/* ---- rendering and writing -------------------------------------------------------------------- */

void cg_files_free(CgFiles *f)
{
    for (int i = 0; i < f->n; i++) free(f->file[i].text);
    memset(f, 0, sizeof *f);
}

/* Take b's text as the next file of out (b is left empty). */
static int add_file(CgFiles *out, const char *name, CgBuf *b, int mode, char *errbuf, size_t errlen)
{
    if (b->oom || out->n == CG_MAX_FILES) {
        snprintf(errbuf, errlen, "%s: out of memory", name);
        cg_buf_free(b);
        return -1;
    }
    CgFile *f = &out->file[out->n++];
    f->name = name;
    f->text = b->s ? b->s : calloc(1, 1);
    f->len = b->len;
    f->mode = mode;
    memset(b, 0, sizeof *b);
    if (!f->text) {
        out->n--;
        snprintf(errbuf, errlen, "%s: out of memory", name);
        return -1;
    }
    return 0;
}

int cg_render_artifacts(const Program *p, const CgOptions *o, CgFiles *out, char *errbuf,
                        size_t errlen)
{
    char dummy[8];
    if (!errbuf || errlen == 0) {
        errbuf = dummy;
        errlen = sizeof dummy;
    }
    errbuf[0] = '\0';
    memset(out, 0, sizeof *out);
    if (!p || !p->workflow) {
        snprintf(errbuf, errlen, "nothing to emit");
        return -1;
    }
    Deploy d;
    deploy_init(&d, p, o);

    CgBuf b = {0};
    int rc = 0;
#define RENDER(name, mode, fill)                                                              \
    do {                                                                                      \
        fill;                                                                                 \
        if (rc == 0 && add_file(out, name, &b, mode, errbuf, errlen) != 0) rc = -1;           \
        cg_buf_free(&b);                                                                      \
    } while (0)
    RENDER("durable-config.json", 0644, json_durable_config(&d, &b));
    if (p->cfg.nenv > 0)
        RENDER("environment.json", 0644, json_environment(&d, &b));
    else /* an environment from an earlier compile would configure variables the workflow no longer has */
        out->absent[out->nabsent++] = "environment.json";
    RENDER("iam/trust-policy.json", 0644, cg_buf_puts(&b, trust_policy));
    RENDER("iam/durable-policy.json", 0644, json_durable_policy(&d, &b));
    if (p->niam > 0)
        RENDER("iam/workflow-policy.json", 0644, json_workflow_policy(&d, &b));
    else /* a workflow policy from an earlier compile would grant what this workflow does not need */
        out->absent[out->nabsent++] = "iam/workflow-policy.json";
    if (p->cfg.uses_callbacks)
        RENDER("iam/callback-sender-policy.json", 0644, json_callback_policy(&d, &b));
    else /* a sender policy from an earlier compile of a different workflow would lie */
        out->absent[out->nabsent++] = "iam/callback-sender-policy.json";
    RENDER("deploy.sh", 0755, emit_deploy_sh(&d, &b));
    RENDER("template.yaml", 0644, emit_sam(&d, &b));
    RENDER("main.tf", 0644, emit_tf(&d, &b));
#undef RENDER
    if (rc != 0) cg_files_free(out);
    return rc;
}

static int write_file(const char *dir, const CgFile *f, char *errbuf, size_t errlen)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, f->name);
    FILE *out = fopen(path, "w");
    if (!out) {
        snprintf(errbuf, errlen, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    int ok = f->len == 0 || fwrite(f->text, 1, f->len, out) == f->len;
    int saved = errno;
    if (fclose(out) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    if (!ok) {
        snprintf(errbuf, errlen, "cannot write %s: %s", path, strerror(saved));
        return -1;
    }
    if (f->mode == 0755 && chmod(path, 0755) != 0) {
        snprintf(errbuf, errlen, "cannot chmod %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int cg_emit_artifacts(const Program *p, const char *dir, const CgOptions *o, char *errbuf,
                      size_t errlen)
{
    char dummy[8], iam[4200], failed[4096];
    if (!errbuf || errlen == 0) {
        errbuf = dummy;
        errlen = sizeof dummy;
    }
    CgFiles files;
    if (!dir) {
        snprintf(errbuf, errlen, "nothing to emit");
        return -1;
    }
    if (cg_render_artifacts(p, o, &files, errbuf, errlen) != 0) return -1;
    int rc = 0;
    snprintf(iam, sizeof iam, "%s/iam", dir);
    if (dwf__mkdir_p(iam, 0777, failed, sizeof failed) != 0) {
        snprintf(errbuf, errlen, "cannot create %s: %s", failed, strerror(errno));
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < files.n; i++) rc = write_file(dir, &files.file[i], errbuf, errlen);
    for (int i = 0; rc == 0 && i < files.nabsent; i++) {
        char stale[4300];
        snprintf(stale, sizeof stale, "%s/%s", dir, files.absent[i]);
        if (remove(stale) != 0 && errno != ENOENT) {
            snprintf(errbuf, errlen, "cannot remove %s: %s", stale, strerror(errno));
            rc = -1;
        }
    }
    cg_files_free(&files);
    return rc;
}
