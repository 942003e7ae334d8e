/*
 * taint.c: where secret values may go (docs/language.md, "Secrets").
 *
 * `secret("id")`, `secret("id").key`, `parameter("/path")` and the responses of a direct
 * `aws secretsmanager.GetSecretValue` / `aws ssm.GetParameter` give values that must never be
 * written anywhere a person or a log can read them: a checkpoint (a step's return value, a poll's
 * state, a submitter's output, the workflow's result, an invoke payload), a log line, an error
 * (`fail`) or an http URL (URLs appear in error messages). This pass runs after sema has resolved
 * every name, and proves for each of those sinks that no value derived from a secret reaches it;
 * passing a secret to http headers or body, to an `aws` call or to a C function is fine.
 *
 * The analysis is flow-insensitive and conservative, as taint checkers in compilers are: a
 * variable is tainted when any assignment to it may carry a secret (computed to a fixpoint, so
 * loops and later assignments count), and an expression is tainted when any operand is, except
 * results that do not hold their operands' text: comparisons and `!` (a boolean), and the
 * responses of http, aws, await, invoke and wait for callback. The error names the sink and the
 * note the secret() call it comes from, both as file:line:col.
 */
#include <string.h>

#include "diag.h"
#include "sema.h"

typedef struct Taint {
    Diag *d;
    int changed;
    int reported; /* at most one error per sink */
} Taint;

int taint_is_source(const AstNode *e)
{
    if (e && e->kind == AST_AWS)
        return (strcmp(e->u.aws.service, "secretsmanager") == 0 && strcmp(e->u.aws.action, "GetSecretValue") == 0) ||
               (strcmp(e->u.aws.service, "ssm") == 0 && strcmp(e->u.aws.action, "GetParameter") == 0);
    return e && e->kind == AST_CALL &&
           (strcmp(e->u.call.fn, "secret") == 0 || strcmp(e->u.call.fn, "parameter") == 0);
}

static const AstNode *taint_of(Taint *t, const AstNode *e);

static const AstNode *first_of_list(Taint *t, const AstNode *list)
{
    const AstNode *hit = NULL;
    for (const AstNode *n = list; n; n = n->next) {
        const AstNode *x = taint_of(t, n);
        if (x && !hit) hit = x;
    }
    return hit;
}

/* A symbol now known to hold a secret (from `src`). */
static void mark(Taint *t, Symbol *sym, const AstNode *src)
{
    if (sym && src && !sym->secret) {
        sym->secret = src;
        t->changed = 1;
    }
}

/* A builtin call: tainted when an argument is; a lambda's parameters hold the items of the
 * array it is given, so they are tainted when that array is. */
static const AstNode *call_taint(Taint *t, const AstNode *e)
{
    if (taint_is_source(e)) return e;
    const AstNode *array = NULL, *hit = NULL;
    for (const AstNode *a = e->u.call.args; a; a = a->next) {
        const AstNode *x = NULL;
        if (a->kind == AST_LAMBDA) {
            mark(t, a->u.lambda.param_sym, array);
            x = taint_of(t, a->u.lambda.body);
        } else {
            x = taint_of(t, a);
            if (a == e->u.call.args) array = x;
        }
        if (x && !hit) hit = x;
    }
    return hit;
}

static int is_comparison(AstOp op)
{
    return op == OP_EQ || op == OP_NE || op == OP_LT || op == OP_LE || op == OP_GT || op == OP_GE;
}

/* The secret() call whose value `e` may hold part of, or NULL. */
static const AstNode *taint_of(Taint *t, const AstNode *e)
{
    if (!e) return NULL;
    switch (e->kind) {
    case AST_NAME: return e->u.name.sym ? e->u.name.sym->secret : NULL;
    case AST_CALL: return call_taint(t, e);
    case AST_CCALL: return first_of_list(t, e->u.call.args);
    case AST_TEMPLATE: return first_of_list(t, e->u.tmpl.parts);
    case AST_ARRAY: case AST_OBJECT: return first_of_list(t, e->u.list.items);
    case AST_PROP: return taint_of(t, e->u.prop.value);
    case AST_MEMBER: return taint_of(t, e->u.member.obj);
    case AST_INDEX: {
        const AstNode *a = taint_of(t, e->u.member.obj), *b = taint_of(t, e->u.member.index);
        return a ? a : b;
    }
    case AST_UNARY: return e->u.op.op == OP_NOT ? NULL : taint_of(t, e->u.op.a);
    case AST_BINARY: {
        const AstNode *a = taint_of(t, e->u.op.a), *b = taint_of(t, e->u.op.b);
        return is_comparison(e->u.op.op) ? NULL : a ? a : b;
    }
    case AST_COND: {
        taint_of(t, e->u.cond.cond);
        const AstNode *a = taint_of(t, e->u.cond.a), *b = taint_of(t, e->u.cond.b);
        return a ? a : b;
    }
    case AST_LAMBDA: return taint_of(t, e->u.lambda.body);
    /* a direct GetSecretValue / GetParameter: its whole response, as secret() / parameter()
     * would give it; any other call's response is what came back, not what was sent (its
     * parameters are still walked, for the lambdas among them) */
    case AST_AWS:
        taint_of(t, e->u.aws.params);
        return taint_is_source(e) ? e : NULL;
    /* responses: what came back, not what was sent */
    case AST_HTTP: case AST_AWAIT: case AST_INVOKE: case AST_WAIT_CALLBACK: return NULL;
    default: return NULL;
    }
}

/* ---- sinks ---------------------------------------------------------------------------------- */

typedef enum { IN_DURABLE, IN_STEP, IN_POLL, IN_SUBMITTER } Where;

static void sink(Taint *t, const AstNode *value, const char *what)
{
    const AstNode *src = taint_of(t, value);
    if (!src) return;
    t->reported++;
    diag_error(t->d, value->loc, "a secret reaches %s", what);
    if (src->kind == AST_AWS)
        diag_note(t->d, src->loc, "the secret comes from this aws %s.%s call", src->u.aws.service,
                  src->u.aws.action);
    else
        diag_note(t->d, src->loc, "the secret comes from this %s() call", src->u.call.fn);
}

static const char *return_sink(Where w)
{
    switch (w) {
    case IN_STEP: return "a step's return value, which is checkpointed";
    case IN_POLL: return "a poll's state, which is checkpointed";
    case IN_SUBMITTER: return "a callback submitter's output, which is checkpointed";
    default: return "the workflow's result";
    }
}

static void sinks_in_stmts(Taint *t, const AstNode *list, Where w);

/* Expressions hold statements only in their durable forms and their nested bodies. */
static void sinks_in_expr(Taint *t, const AstNode *e, Where w)
{
    if (!e) return;
    switch (e->kind) {
    case AST_HTTP:
        sink(t, e->u.http.url, "an http URL, which error messages show");
        sinks_in_expr(t, e->u.http.headers, w);
        sinks_in_expr(t, e->u.http.body, w);
        break;
    case AST_INVOKE: sink(t, e->u.invoke.payload, "an invoke payload, which is checkpointed"); break;
    case AST_AWS: sinks_in_expr(t, e->u.aws.params, w); break;
    case AST_WAIT_CALLBACK: sinks_in_stmts(t, e->u.wfc.body, IN_SUBMITTER); break;
    case AST_TEMPLATE:
        for (const AstNode *p = e->u.tmpl.parts; p; p = p->next) sinks_in_expr(t, p, w);
        break;
    case AST_ARRAY: case AST_OBJECT:
        for (const AstNode *p = e->u.list.items; p; p = p->next) sinks_in_expr(t, p, w);
        break;
    case AST_PROP: sinks_in_expr(t, e->u.prop.value, w); break;
    case AST_MEMBER: case AST_INDEX:
        sinks_in_expr(t, e->u.member.obj, w);
        sinks_in_expr(t, e->u.member.index, w);
        break;
    case AST_CALL: case AST_CCALL:
        for (const AstNode *a = e->u.call.args; a; a = a->next) sinks_in_expr(t, a, w);
        break;
    case AST_UNARY: case AST_BINARY:
        sinks_in_expr(t, e->u.op.a, w);
        sinks_in_expr(t, e->u.op.b, w);
        break;
    case AST_COND:
        sinks_in_expr(t, e->u.cond.cond, w);
        sinks_in_expr(t, e->u.cond.a, w);
        sinks_in_expr(t, e->u.cond.b, w);
        break;
    default: break;
    }
}

static void sinks_in_stmt(Taint *t, const AstNode *n, Where w)
{
    switch (n->kind) {
    case AST_LET: case AST_ASSIGN: sinks_in_expr(t, n->u.let.value, w); break;
    case AST_EXPR_STMT: sinks_in_expr(t, n->u.expr.e, w); break;
    case AST_RETURN:
        sinks_in_expr(t, n->u.ret.value, w);
        sink(t, n->u.ret.value, return_sink(w));
        break;
    case AST_LOG:
        sinks_in_expr(t, n->u.log.message, w);
        sink(t, n->u.log.message, "a log line");
        break;
    case AST_FAIL:
        sink(t, n->u.fail.type, "a fail's error type, which is checkpointed and shown");
        sink(t, n->u.fail.message, "a fail's error message, which is checkpointed and shown");
        break;
    case AST_STEP:
        sinks_in_stmts(t, n->u.step.body, IN_STEP);
        sinks_in_stmts(t, n->u.step.compensate, IN_DURABLE);
        break;
    case AST_POLL:
        sinks_in_expr(t, n->u.poll.state, w);
        sinks_in_expr(t, n->u.poll.until, w);
        sinks_in_stmts(t, n->u.poll.body, IN_POLL);
        break;
    case AST_PARALLEL: case AST_MAP:
        sinks_in_expr(t, n->u.batch.over, w);
        sinks_in_expr(t, n->u.batch.item_name, w);
        sinks_in_stmts(t, n->u.batch.branches, w);
        sinks_in_stmts(t, n->u.batch.body, w);
        break;
    case AST_BRANCH: case AST_GROUP: sinks_in_stmts(t, n->u.group.body, w); break;
    case AST_IF:
        sinks_in_expr(t, n->u.if_.cond, w);
        sinks_in_stmts(t, n->u.if_.then, w);
        sinks_in_stmts(t, n->u.if_.else_, w);
        break;
    case AST_FOR:
        sinks_in_expr(t, n->u.for_.iter, w);
        sinks_in_stmts(t, n->u.for_.body, w);
        break;
    case AST_WHILE:
        sinks_in_expr(t, n->u.while_.cond, w);
        sinks_in_stmts(t, n->u.while_.body, w);
        break;
    case AST_TRY:
        sinks_in_stmts(t, n->u.try_.body, w);
        for (const AstNode *k = n->u.try_.catches; k; k = k->next) sinks_in_stmts(t, k->u.catch_.handler, w);
        break;
    case AST_WAIT: sinks_in_expr(t, n->u.wait.until, w); break;
    default: break;
    }
}

static void sinks_in_stmts(Taint *t, const AstNode *list, Where w)
{
    for (const AstNode *n = list; n; n = n->next) sinks_in_stmt(t, n, w);
}

/* ---- the fixpoint over assignments ------------------------------------------------------------ */

static void flows_in_stmts(Taint *t, const AstNode *list);

static void flows_in_expr(Taint *t, const AstNode *e)
{
    if (!e) return;
    taint_of(t, e); /* marks lambda parameters */
    if (e->kind == AST_WAIT_CALLBACK) flows_in_stmts(t, e->u.wfc.body);
}

static void flows_in_stmt(Taint *t, const AstNode *n)
{
    switch (n->kind) {
    case AST_LET: case AST_ASSIGN:
        mark(t, n->u.let.sym, taint_of(t, n->u.let.value));
        flows_in_expr(t, n->u.let.value);
        break;
    case AST_EXPR_STMT: flows_in_expr(t, n->u.expr.e); break;
    case AST_RETURN: flows_in_expr(t, n->u.ret.value); break;
    case AST_STEP:
        flows_in_stmts(t, n->u.step.body);
        flows_in_stmts(t, n->u.step.compensate);
        break;
    case AST_POLL: flows_in_stmts(t, n->u.poll.body); break;
    case AST_PARALLEL: case AST_MAP:
        flows_in_stmts(t, n->u.batch.branches);
        flows_in_stmts(t, n->u.batch.body);
        break;
    case AST_BRANCH: case AST_GROUP: flows_in_stmts(t, n->u.group.body); break;
    case AST_IF:
        flows_in_stmts(t, n->u.if_.then);
        flows_in_stmts(t, n->u.if_.else_);
        break;
    case AST_FOR:
        mark(t, n->u.for_.var_sym, taint_of(t, n->u.for_.iter));
        flows_in_stmts(t, n->u.for_.body);
        break;
    case AST_WHILE: flows_in_stmts(t, n->u.while_.body); break;
    case AST_TRY:
        flows_in_stmts(t, n->u.try_.body);
        for (const AstNode *k = n->u.try_.catches; k; k = k->next) flows_in_stmts(t, k->u.catch_.handler);
        break;
    default: break;
    }
}

static void flows_in_stmts(Taint *t, const AstNode *list)
{
    for (const AstNode *n = list; n; n = n->next) flows_in_stmt(t, n);
}

int taint_check(Program *p, Diag *d)
{
    if (!p || !p->workflow) return 0;
    Taint t = {d, 0, 0};
    /* Each round marks at least one more symbol or ends; a program has finitely many. */
    do {
        t.changed = 0;
        flows_in_stmts(&t, p->workflow->u.wf.body);
    } while (t.changed);
    sinks_in_stmts(&t, p->workflow->u.wf.body, IN_DURABLE);
    return t.reported;
}
