/*
 * iam.c: the IAM statements a workflow's own calls need (docs/iam.md), derived from what it
 * does, at least privilege: each `aws` call, secret(), parameter() and invoke contributes the
 * IAM action(s) of its row of include/dwf_aws.def on the narrowest resource its literal
 * parameters determine, and `permissions { allow ... on ... }` adds what cannot be derived.
 *
 * A parameter is literal when it is a string literal or env("NAME") of the workflow's own
 * lambda { environment } (a deployed version's environment is fixed); a template string gives
 * its literal beginning followed by '*' ("receipts/${id}.json" gives "receipts/" and a star). A resource that
 * no literal determines is a compile error asking for a declaration, unless a `permissions`
 * statement grants that action: a bare "*" is never derived. The statements (Program.iam) name
 * the .dwf lines that need them, for `dwf iam --explain`; codegen writes them into the
 * execution role (iam/workflow-policy.json, template.yaml, main.tf, deploy.sh).
 *
 * Region and account are the placeholders ${REGION} and ${ACCOUNT} of the JSON policies
 * (codegen fills them in or leaves them to deploy.sh, SAM and Terraform).
 */
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>

#include "diag.h"
#include "sema.h"

/* ---- one action's ARN templates, from include/dwf_aws.def -------------------------------------- */

typedef struct AwsRow {
    const char *service, *action, *iam, *arn;
} AwsRow;

static const AwsRow aws_rows[] = {
#define DWF_AWS_ACTION(service, action, method, path, required, optional, output, iam, arn, retry) \
    {#service, #action, iam, arn},
#include "dwf_aws.def"
};
#define N_AWS_ROWS (sizeof aws_rows / sizeof *aws_rows)

static const AwsRow *aws_row(const char *service, const char *action)
{
    for (size_t i = 0; i < N_AWS_ROWS; i++)
        if (strcmp(aws_rows[i].service, service) == 0 && strcmp(aws_rows[i].action, action) == 0)
            return &aws_rows[i];
    return NULL;
}

/* ---- literal values ------------------------------------------------------------------------------ */

/* The literal text of a parameter's value: a string literal, env("NAME") of the workflow's own
 * environment, or a template's literal beginning (*partial set: the rest is only known at run
 * time). NULL when nothing of it is literal. */
static const char *literal_of(const Program *p, const AstNode *v, int *partial)
{
    *partial = 0;
    if (!v) return NULL;
    if (v->kind == AST_STR) return memchr(v->u.str.s, '\0', v->u.str.len) ? NULL : v->u.str.s;
    if (v->kind == AST_CALL && strcmp(v->u.call.fn, "env") == 0 && v->u.call.args &&
        v->u.call.args->kind == AST_STR) {
        for (int i = 0; i < p->cfg.nenv; i++)
            if (strcmp(p->cfg.env_names[i], v->u.call.args->u.str.s) == 0) return p->cfg.env_values[i];
        return NULL;
    }
    if (v->kind == AST_TEMPLATE && v->u.tmpl.parts && v->u.tmpl.parts->kind == AST_STR) {
        *partial = 1;
        return v->u.tmpl.parts->u.str.s;
    }
    if (v->kind == AST_TEMPLATE) {
        *partial = 1;
        return "";
    }
    return NULL;
}

/* ---- expanding an ARN template ------------------------------------------------------------------- */

typedef const AstNode *(*ParamFn)(void *arg, const char *name);

typedef struct Expand {
    const Program *p;
    Arena *a;
    ParamFn param;
    void *arg;
    const char **out; /* the resources */
    int nout, cap;
    const char *nonliteral; /* the first parameter no literal determines */
    const AstNode *nonliteral_at;
} Expand;

static void add_out(Expand *x, const char *r)
{
    for (int i = 0; i < x->nout; i++)
        if (strcmp(x->out[i], r) == 0) return;
    if (x->nout == x->cap) {
        int cap = x->cap ? x->cap * 2 : 4;
        const char **grown = arena_alloc(x->a, (size_t)cap * sizeof *grown);
        if (x->nout) memcpy(grown, x->out, (size_t)x->nout * sizeof *grown);
        x->out = grown;
        x->cap = cap;
    }
    x->out[x->nout++] = r;
}

/* Segment n (1-based) of a URL's path: ("https://h/123/q", 1) -> "123". When the URL is only
 * the literal beginning of a template (*partial), a segment it ends inside stays partial and
 * one past its end is unknown (NULL). */
static const char *url_segment(Arena *a, const char *url, int n, int *partial)
{
    const char *s = strstr(url, "://");
    s = s ? strchr(s + 3, '/') : NULL;
    for (int i = 1; s && i < n; i++) s = strchr(s + 1, '/');
    if (!s || (!s[1] && !*partial)) return NULL;
    size_t len = strcspn(s + 1, "/?#");
    if (*partial && s[1 + len] == '\0') return arena_strndup(a, s + 1, len); /* still partial */
    *partial = 0;
    return len ? arena_strndup(a, s + 1, len) : NULL;
}

/* The value a placeholder's parameter `v` gives under the modifier `mod` ("", "/N", "#/",
 * "?default"): literal text (*partial: only its beginning), or NULL when nothing of it is
 * literal. A value with no literal part stands as '*' once an earlier parameter of the same
 * ARN was literal (bucket "b" and a computed key give "b/" and a star), never as a whole name. */
static const char *placeholder_value(Expand *x, const AstNode *v, const char *mod, int literal_params,
                                     int *partial)
{
    *partial = 0;
    if (!v) return *mod == '?' ? mod + 1 : NULL; /* an optional parameter left out: its default */
    const char *lit = literal_of(x->p, v, partial);
    if (lit && *mod == '/') lit = url_segment(x->a, lit, atoi(mod + 1), partial);
    else if (lit && *mod == '#' && lit[0] == mod[1]) lit++;
    if (lit && (*lit || !*partial)) return lit;
    if (literal_params == 0) return NULL;
    *partial = 1;
    return "";
}

static void expand_from(Expand *x, const char *tpl, const char *acc, int literal_params);

/* One value for the placeholder, then the rest of the template. */
static void continue_with(Expand *x, const char *rest, const char *acc, const char *value, int partial,
                          int literal_params)
{
    if (partial) { /* the rest is known at run time only: '*' covers it */
        add_out(x, arena_printf(x->a, "%s%s*", acc, value));
        return;
    }
    expand_from(x, rest, arena_printf(x->a, "%s%s", acc, value), literal_params + 1);
}

static void nonliteral(Expand *x, const char *name, const AstNode *at)
{
    if (!x->nonliteral) x->nonliteral = name, x->nonliteral_at = at;
}

/* The values of `List[].Member` / `List[].*.Member` (each with its modifier) in an array literal. */
static void expand_list(Expand *x, const char *expr, const char *rest, const char *acc, int literal_params)
{
    const char *br = strstr(expr, "[].");
    char *list = arena_strndup(x->a, expr, (size_t)(br - expr));
    const char *member = br + 3;
    int star = strncmp(member, "*.", 2) == 0;
    if (star) member += 2;
    size_t mlen = strcspn(member, "/?#");
    const char *mod = member + mlen;
    member = arena_strndup(x->a, member, mlen);
    const AstNode *arr = x->param(x->arg, list);
    if (!arr) return;
    if (arr->kind != AST_ARRAY) {
        nonliteral(x, list, arr);
        return;
    }
    for (const AstNode *item = arr->u.list.items; item; item = item->next) {
        const AstNode *obj = item;
        if (star) obj = obj->kind == AST_OBJECT && obj->u.list.items && !obj->u.list.items->next
                            ? obj->u.list.items->u.prop.value : NULL;
        if (!obj || obj->kind != AST_OBJECT) { /* an item computed at run time */
            nonliteral(x, list, item);
            continue;
        }
        const AstNode *v = NULL;
        for (const AstNode *q = obj->u.list.items; q; q = q->next)
            if (q->kind == AST_PROP && q->u.prop.key && strcmp(q->u.prop.key, member) == 0) v = q->u.prop.value;
        int partial;
        const char *lit = placeholder_value(x, v, mod, literal_params, &partial);
        if (!lit) {
            nonliteral(x, arena_printf(x->a, "%s[].%s", list, member), v ? v : item);
            continue;
        }
        continue_with(x, rest, acc, lit, partial, literal_params);
    }
}

static void expand_from(Expand *x, const char *tpl, const char *acc, int literal_params)
{
    const char *open = strstr(tpl, "${");
    if (!open) {
        add_out(x, arena_printf(x->a, "%s%s", acc, tpl));
        return;
    }
    const char *close = strchr(open, '}');
    if (!close) return;
    acc = arena_printf(x->a, "%s%.*s", acc, (int)(open - tpl), tpl);
    char *expr = arena_strndup(x->a, open + 2, (size_t)(close - open - 2));
    const char *rest = close + 1;
    if (strcmp(expr, "region") == 0 || strcmp(expr, "account") == 0) {
        expand_from(x, rest, arena_printf(x->a, "%s${%s}", acc, expr[0] == 'r' ? "REGION" : "ACCOUNT"),
                    literal_params);
        return;
    }
    if (strstr(expr, "[].")) {
        expand_list(x, expr, rest, acc, literal_params);
        return;
    }
    size_t nlen = strcspn(expr, "/?#");
    char *name = arena_strndup(x->a, expr, nlen);
    const char *mod = expr + nlen;
    const AstNode *v = x->param(x->arg, name);
    if (!v && *mod != '?') return; /* an optional parameter the call does not give: no such resource */
    int partial;
    const char *lit = placeholder_value(x, v, mod, literal_params, &partial);
    if (!lit) {
        nonliteral(x, name, v);
        return;
    }
    /* A parameter whose value is itself an ARN is the resource as it is. */
    if (v && !partial && !*mod && strncmp(lit, "arn:", 4) == 0) {
        add_out(x, lit);
        return;
    }
    continue_with(x, rest, acc, lit, partial, literal_params);
}

/* The resources of every ARN template of `arns` (blank-separated). */
static void expand_all(Expand *x, const char *arns)
{
    for (const char *t = arns; *t;) {
        t += strspn(t, " ");
        size_t n = strcspn(t, " ");
        if (!n) break;
        expand_from(x, arena_strndup(x->a, t, n), "", 0);
        t += n;
    }
}

/* ---- grants and statements ------------------------------------------------------------------------ */

typedef struct Grant {
    const char *action, *resource;
    int line;
} Grant;

typedef struct Iam {
    Program *p;
    Diag *d;
    Arena *a;
    Grant *g;
    int ng, capg;
} Iam;

static void grant(Iam *I, const char *action, const char *resource, int line)
{
    if (I->ng == I->capg) {
        int cap = I->capg ? I->capg * 2 : 16;
        Grant *grown = arena_alloc(I->a, (size_t)cap * sizeof *grown);
        if (I->ng) memcpy(grown, I->g, (size_t)I->ng * sizeof *grown);
        I->g = grown;
        I->capg = cap;
    }
    I->g[I->ng++] = (Grant){action, resource, line};
}

/* IAM's matching of an action pattern: case-insensitive, '*' any run of characters, '?' one
 * ("dynamodb:*", "s3:Get*" as IAM reads them). */
static int action_matches(const char *pat, const char *action)
{
    for (; *pat; pat++, action++) {
        if (*pat == '*') {
            for (const char *rest = action;; rest++) {
                if (action_matches(pat + 1, rest)) return 1;
                if (!*rest) return 0;
            }
        }
        if (!*action) return 0;
        if (*pat != '?' && tolower((unsigned char)*pat) != tolower((unsigned char)*action)) return 0;
    }
    return *action == '\0';
}

/* Whether `permissions { allow ... }` grants `action` (so a resource dwf cannot derive is the
 * declaration's business). */
static int declared(const Program *p, const char *action)
{
    for (const AstNode *c = p->workflow->u.wf.configs; c; c = c->next) {
        if (c->u.config.which != CONFIG_PERMISSIONS) continue;
        for (const AstNode *al = c->u.config.props; al; al = al->next)
            for (const AstNode *s = al->kind == AST_ALLOW ? al->u.allow.actions : NULL; s; s = s->next)
                if (s->kind == AST_STR && action_matches(s->u.str.s, action)) return 1;
    }
    return 0;
}

/* The template with every parameter shown as <Param>, for the note that suggests a declaration. */
static const char *suggest_arn(Arena *a, const char *arns)
{
    size_t n = strcspn(arns, " ");
    const char *t = arena_strndup(a, arns, n), *out = "";
    while (*t) {
        const char *open = strstr(t, "${"), *close = open ? strchr(open, '}') : NULL;
        if (!close) return arena_printf(a, "%s%s", out, t);
        /* a list's member stands for it: ${TransactItems[].*.TableName} is <TableName> */
        const char *from = open + 2, *dot = memchr(from, '.', (size_t)(close - from));
        while (dot) {
            from = dot + 1;
            dot = memchr(from, '.', (size_t)(close - from));
        }
        size_t nlen = strcspn(from, "/?#[}");
        char *name = arena_strndup(a, from, nlen);
        int keep = strcmp(name, "region") == 0 || strcmp(name, "account") == 0;
        out = arena_printf(a, "%s%.*s%s%s%s", out, (int)(open - t), t, keep ? "${" : "<", name, keep ? "}" : ">");
        t = close + 1;
    }
    return out;
}

/* The parameters an ARN template list names, for a message: "TopicArn or TargetArn". */
static const char *template_params(Arena *a, const char *arns)
{
    const char *out = "";
    for (const char *t = strstr(arns, "${"); t; t = strstr(t, "${")) {
        size_t n = strcspn(t + 2, "/?#[}.");
        char *name = arena_strndup(a, t + 2, n);
        t += 2 + n;
        if (strcmp(name, "region") == 0 || strcmp(name, "account") == 0) continue;
        out = arena_printf(a, "%s%s%s", out, *out ? " or " : "", name);
    }
    return out;
}

/* A call's actions on the resources of its ARN templates. When no literal determines a
 * resource (or the call names none: an SNS Publish to a phone number), every action must be
 * declared (`permissions { allow }`), else the error asks for the declaration of the first one
 * that is not. */
static void grant_row(Iam *I, const AwsRow *row, ParamFn param, void *arg, const AstNode *call,
                      const char *what)
{
    Expand x = {.p = I->p, .a = I->a, .param = param, .arg = arg};
    expand_all(&x, row->arn);
    int line = call->loc.first_line, underived = x.nonliteral || x.nout == 0;
    char *actions = arena_strdup(I->a, row->iam);
    const char *undeclared = NULL;
    for (char *act = strtok(actions, " "); act; act = strtok(NULL, " ")) {
        if (underived) {
            if (!undeclared && !declared(I->p, act)) undeclared = act;
            continue;
        }
        for (int i = 0; i < x.nout; i++) grant(I, act, x.out[i], line);
    }
    if (!undeclared) return;
    const AstNode *at = x.nonliteral_at ? x.nonliteral_at : call;
    if (x.nonliteral)
        diag_error(I->d, at->loc, "dwf cannot derive the IAM resource of this %s: %s is not a literal", what,
                   x.nonliteral);
    else
        diag_error(I->d, at->loc, "dwf cannot derive the IAM resource of this %s: it gives no %s", what,
                   template_params(I->a, row->arn));
    diag_note(I->d, at->loc, "declare what it may touch: permissions { allow \"%s\" on \"%s\" }", undeclared,
              suggest_arn(I->a, row->arn));
}

/* ---- the sources: aws calls, secret(), parameter() ------------------------------------------------ */

/* kms:Decrypt for the parameters an ssm:GetParameter grant since `before` names: SecureString
 * values are decrypted with a KMS key, only through SSM, only for these parameters (the
 * encryption context SSM gives KMS names the parameter's ARN; build_statements turns these
 * resources into that condition). */
static void decrypt_grants(Iam *I, int before)
{
    int end = I->ng;
    for (int i = before; i < end; i++)
        if (strcmp(I->g[i].action, "ssm:GetParameter") == 0) grant(I, "kms:Decrypt", I->g[i].resource, I->g[i].line);
}

static const AstNode *param_of_call_arg(void *arg, const char *name)
{
    const AstNode *call = arg;
    const char *want = strcmp(call->u.call.fn, "secret") == 0 ? "SecretId" : "Name";
    return strcmp(name, want) == 0 ? call->u.call.args : NULL;
}

static void source_call(Iam *I, const AstNode *e)
{
    int is_secret = strcmp(e->u.call.fn, "secret") == 0;
    const AwsRow *row = is_secret ? aws_row("secretsmanager", "GetSecretValue") : aws_row("ssm", "GetParameter");
    if (!row) return;
    int before = I->ng;
    grant_row(I, row, param_of_call_arg, (void *)e, e, is_secret ? "secret()" : "parameter()");
    if (!is_secret) decrypt_grants(I, before); /* parameter() always decrypts */
}

/* A parameter of an `aws` call: the value of its `Name: value` property, or NULL. */
static const AstNode *param_of_aws(void *arg, const char *name)
{
    const AstNode *call = arg, *hit = NULL;
    const AstNode *params = call->u.aws.params;
    for (const AstNode *q = params && params->kind == AST_OBJECT ? params->u.list.items : NULL; q; q = q->next)
        if (q->kind == AST_PROP && q->u.prop.key && strcmp(q->u.prop.key, name) == 0) hit = q->u.prop.value;
    return hit;
}

/* `aws svc.Action { .. }`: the row's actions on what its literal parameters name. A direct
 * ssm.GetParameter needs kms:Decrypt only when it asks for decryption (WithDecryption not the
 * literal false). Unknown services and actions were reported by sema. */
static void source_aws(Iam *I, const AstNode *e)
{
    const AwsRow *row = aws_row(e->u.aws.service, e->u.aws.action);
    if (!row) return;
    int before = I->ng;
    const char *what = arena_printf(I->a, "aws %s.%s call", e->u.aws.service, e->u.aws.action);
    grant_row(I, row, param_of_aws, (void *)e, e, what);
    const AstNode *dec = param_of_aws((void *)e, "WithDecryption");
    if (strcmp(row->service, "ssm") == 0 && dec && !(dec->kind == AST_BOOL && !dec->u.bval)) decrypt_grants(I, before);
}

static void visit_list(Iam *I, const AstNode *n);

/* Every node that can hold a source, statements and expressions alike. */
static void visit(Iam *I, const AstNode *n)
{
    if (!n) return;
    switch (n->kind) {
    case AST_CALL:
        if (taint_is_source(n)) source_call(I, n);
        visit_list(I, n->u.call.args);
        break;
    case AST_CCALL: visit_list(I, n->u.call.args); break;
    case AST_TEMPLATE: visit_list(I, n->u.tmpl.parts); break;
    case AST_ARRAY: case AST_OBJECT: visit_list(I, n->u.list.items); break;
    case AST_PROP: visit(I, n->u.prop.value); break;
    case AST_MEMBER: case AST_INDEX:
        visit(I, n->u.member.obj);
        visit(I, n->u.member.index);
        break;
    case AST_UNARY: case AST_BINARY:
        visit(I, n->u.op.a);
        visit(I, n->u.op.b);
        break;
    case AST_COND:
        visit(I, n->u.cond.cond);
        visit(I, n->u.cond.a);
        visit(I, n->u.cond.b);
        break;
    case AST_LAMBDA: visit(I, n->u.lambda.body); break;
    case AST_AWS:
        source_aws(I, n);
        visit(I, n->u.aws.params);
        break;
    case AST_HTTP:
        visit(I, n->u.http.url);
        visit(I, n->u.http.headers);
        visit(I, n->u.http.body);
        break;
    case AST_INVOKE: visit(I, n->u.invoke.payload); break;
    case AST_WAIT_CALLBACK: visit_list(I, n->u.wfc.body); break;
    case AST_LET: case AST_ASSIGN: visit(I, n->u.let.value); break;
    case AST_EXPR_STMT: visit(I, n->u.expr.e); break;
    case AST_STEP:
        visit_list(I, n->u.step.body);
        visit_list(I, n->u.step.compensate);
        break;
    case AST_WAIT: visit(I, n->u.wait.until); break;
    case AST_POLL:
        visit(I, n->u.poll.state);
        visit(I, n->u.poll.until);
        visit_list(I, n->u.poll.body);
        break;
    case AST_PARALLEL: case AST_MAP:
        visit(I, n->u.batch.over);
        visit_list(I, n->u.batch.branches);
        visit_list(I, n->u.batch.body);
        break;
    case AST_BRANCH: case AST_GROUP: visit_list(I, n->u.group.body); break;
    case AST_IF:
        visit(I, n->u.if_.cond);
        visit_list(I, n->u.if_.then);
        visit_list(I, n->u.if_.else_);
        break;
    case AST_FOR:
        visit(I, n->u.for_.iter);
        visit_list(I, n->u.for_.body);
        break;
    case AST_WHILE:
        visit(I, n->u.while_.cond);
        visit_list(I, n->u.while_.body);
        break;
    case AST_TRY:
        visit_list(I, n->u.try_.body);
        for (const AstNode *k = n->u.try_.catches; k; k = k->next) visit_list(I, k->u.catch_.handler);
        break;
    case AST_FAIL:
        visit(I, n->u.fail.type);
        visit(I, n->u.fail.message);
        break;
    case AST_RETURN: visit(I, n->u.ret.value); break;
    case AST_LOG: visit(I, n->u.log.message); break;
    default: break;
    }
}

static void visit_list(Iam *I, const AstNode *n)
{
    for (; n; n = n->next) visit(I, n);
}

/* ---- statements ------------------------------------------------------------------------------------ */

static void push_str(Arena *a, const char ***list, int *n, const char *s)
{
    for (int i = 0; i < *n; i++)
        if (strcmp((*list)[i], s) == 0) return;
    const char **grown = arena_alloc(a, (size_t)(*n + 1) * sizeof *grown);
    if (*n) memcpy(grown, *list, (size_t)*n * sizeof *grown);
    grown[(*n)++] = s;
    *list = grown;
}

static void push_line(Arena *a, int **lines, int *n, int line)
{
    for (int i = 0; i < *n; i++)
        if ((*lines)[i] == line) return;
    int *grown = arena_alloc(a, (size_t)(*n + 1) * sizeof *grown);
    int k = 0;
    for (; k < *n && (*lines)[k] < line; k++) grown[k] = (*lines)[k];
    grown[k] = line;
    for (; k < *n; k++) grown[k + 1] = (*lines)[k];
    (*n)++;
    *lines = grown;
}

static IamStmt *new_stmt(Iam *I)
{
    Program *p = I->p;
    IamStmt *grown = arena_alloc(I->a, (size_t)(p->niam + 1) * sizeof *grown);
    if (p->niam) memcpy(grown, p->iam, (size_t)p->niam * sizeof *grown);
    p->iam = grown;
    return &p->iam[p->niam++];
}

static int same_resources(const IamStmt *a, const IamStmt *b)
{
    if (a->nres != b->nres || a->ncond || b->ncond) return 0;
    for (int i = 0; i < a->nres; i++)
        if (strcmp(a->resources[i], b->resources[i]) != 0) return 0;
    return 1;
}

/* One statement per action (its resources and lines in order of appearance), kms:Decrypt's
 * resources turned into the condition that names the parameters; then statements with the same
 * resources merged into one with several actions. */
static void build_statements(Iam *I)
{
    Program *p = I->p;
    for (int i = 0; i < I->ng; i++) {
        IamStmt *s = NULL;
        for (int k = 0; k < p->niam && !s; k++)
            if (strcmp(p->iam[k].actions[0], I->g[i].action) == 0) s = &p->iam[k];
        if (!s) {
            s = new_stmt(I);
            push_str(I->a, &s->actions, &s->nactions, I->g[i].action);
        }
        if (strcmp(I->g[i].action, "kms:Decrypt") == 0) {
            if (!s->nres) push_str(I->a, &s->resources, &s->nres, "arn:aws:kms:${REGION}:${ACCOUNT}:key/*");
            push_str(I->a, &s->cond, &s->ncond, I->g[i].resource);
        } else {
            push_str(I->a, &s->resources, &s->nres, I->g[i].resource);
        }
        push_line(I->a, &s->lines, &s->nlines, I->g[i].line);
    }
    int n = 0;
    for (int i = 0; i < p->niam; i++) {
        IamStmt *into = NULL;
        for (int k = 0; k < n && !into; k++)
            if (same_resources(&p->iam[k], &p->iam[i])) into = &p->iam[k];
        if (!into) {
            p->iam[n++] = p->iam[i];
            continue;
        }
        push_str(I->a, &into->actions, &into->nactions, p->iam[i].actions[0]);
        for (int l = 0; l < p->iam[i].nlines; l++) push_line(I->a, &into->lines, &into->nlines, p->iam[i].lines[l]);
    }
    p->niam = n;
}

/* A declared resource's text: a string, or a template whose only interpolations are ${region}
 * and ${account} (written as the policy files' placeholders). NULL after an error. */
static const char *declared_resource(Iam *I, const AstNode *x)
{
    if (x->kind == AST_STR) return x->u.str.s;
    const char *out = "";
    for (const AstNode *part = x->u.tmpl.parts; part; part = part->next) {
        if (part->kind == AST_STR) {
            out = arena_printf(I->a, "%s%s", out, part->u.str.s);
        } else if (part->kind == AST_NAME && strcmp(part->u.name.id, "region") == 0) {
            out = arena_printf(I->a, "%s${REGION}", out);
        } else if (part->kind == AST_NAME && strcmp(part->u.name.id, "account") == 0) {
            out = arena_printf(I->a, "%s${ACCOUNT}", out);
        } else {
            diag_error(I->d, part->loc, "only ${region} and ${account} may stand in a declared resource");
            return NULL;
        }
    }
    return out;
}

/* `permissions { allow "svc:Action", ... on "arn:...", ... }`: checked, then statements of their own. */
static void declarations(Iam *I)
{
    for (const AstNode *c = I->p->workflow->u.wf.configs; c; c = c->next) {
        if (c->u.config.which != CONFIG_PERMISSIONS) continue;
        for (const AstNode *al = c->u.config.props; al; al = al->next) {
            IamStmt *s = new_stmt(I);
            s->declared = 1;
            push_line(I->a, &s->lines, &s->nlines, al->loc.first_line);
            for (const AstNode *x = al->u.allow.actions; x; x = x->next) {
                const char *v = x->u.str.s, *colon = strchr(v, ':');
                int ok = colon && colon > v && colon[1] && !strchr(colon + 1, ':');
                for (const char *q = v; ok && *q; q++)
                    ok = q == colon || (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                         (*q >= '0' && *q <= '9') || *q == '-' || *q == '*';
                if (!ok) diag_error(I->d, x->loc, "'%s' is not an IAM action such as \"dynamodb:PutItem\"", v);
                push_str(I->a, &s->actions, &s->nactions, v);
            }
            for (const AstNode *x = al->u.allow.resources; x; x = x->next) {
                const char *v = declared_resource(I, x);
                if (!v) continue;
                if (strncmp(v, "arn:", 4) != 0) {
                    diag_error(I->d, x->loc, "a resource is an ARN (\"arn:...\"), not '%s'", v);
                    if (strcmp(v, "*") == 0)
                        diag_note(I->d, x->loc, "dwf never grants every resource: name the ones the workflow "
                                                "touches, with * inside the ARN where needed");
                    continue;
                }
                push_str(I->a, &s->resources, &s->nres, v);
            }
        }
    }
}

int iam_derive(Program *p, Diag *d, Arena *a)
{
    if (!p || !p->workflow) return 0;
    int before = diag_errors(d);
    Iam I = {.p = p, .d = d, .a = a};
    visit_list(&I, p->workflow->u.wf.body);
    build_statements(&I);
    declarations(&I);
    p->cfg.invoke_declared = declared(p, "lambda:InvokeFunction");
    return diag_errors(d) - before;
}
