/*
 * test_front.c: the front end as codegen sees it. Every example must parse and check cleanly,
 * and the fields sema fills (symbols, cnames, cfg, in_step) must hold what codegen expects;
 * plus the arena, the scanner's strings and durations, the dump format, the diagnostics'
 * exact shape and the error limit. Diagnostic texts for each rule live in tests/diag/.
 */
#include <glob.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "front.h"
#include "tinytest.h"

/* Compile `text`; diagnostics go to a memory buffer returned in *diag_text (caller frees). */
static Program *compile(Arena *a, const char *text, size_t len, int *errors, char **diag_text)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&buf, &n);
    Diag *d = diag_new(out, 0);
    Program *p = front_compile(a, d, "t.dwf", text, len);
    *errors = diag_errors(d);
    diag_free(d);
    fclose(out);
    if (diag_text) *diag_text = buf;
    else free(buf);
    return p;
}

static Program *compile_ok(Arena *a, const char *text)
{
    int errors;
    char *msg;
    Program *p = compile(a, text, strlen(text), &errors, &msg);
    if (errors) printf("    unexpected diagnostics:\n%s", msg);
    TT_EQ_INT(0, errors);
    free(msg);
    return p;
}

/* Every AST_NAME must be resolved (attempt excepted); every node inside a step body marked. */
static int walk_errors;
static void walk(const AstNode *n, int in_step);
static void walk_list(const AstNode *n, int in_step)
{
    for (; n; n = n->next) walk(n, in_step);
}
static void walk(const AstNode *n, int in_step)
{
    if (!n) return;
    if (in_step && !n->in_step) walk_errors++;
    switch (n->kind) {
    case AST_NAME:
        if (!n->u.name.sym && strcmp(n->u.name.id, "attempt") != 0) walk_errors++;
        if (n->u.name.sym && (!n->u.name.sym->cname || strncmp(n->u.name.sym->cname, "u_", 2) != 0))
            walk_errors++;
        break;
    case AST_TEMPLATE: walk_list(n->u.tmpl.parts, in_step); break;
    case AST_ARRAY: case AST_OBJECT: walk_list(n->u.list.items, in_step); break;
    case AST_PROP: walk(n->u.prop.value, in_step); break;
    case AST_MEMBER: case AST_INDEX: walk(n->u.member.obj, in_step); walk(n->u.member.index, in_step); break;
    case AST_CALL: case AST_CCALL: walk_list(n->u.call.args, in_step); break;
    case AST_UNARY: case AST_BINARY: walk(n->u.op.a, in_step); walk(n->u.op.b, in_step); break;
    case AST_COND: walk(n->u.cond.cond, in_step); walk(n->u.cond.a, in_step); walk(n->u.cond.b, in_step); break;
    case AST_HTTP: walk(n->u.http.url, in_step); walk(n->u.http.headers, in_step); walk(n->u.http.body, in_step); break;
    case AST_AWAIT: walk(n->u.await.target, in_step); break;
    case AST_INVOKE: walk(n->u.invoke.function, in_step); walk(n->u.invoke.payload, in_step); break;
    case AST_WAIT_CALLBACK:
        if (!n->u.wfc.cb_sym) walk_errors++;
        walk_list(n->u.wfc.body, 1);
        break;
    case AST_LET: case AST_ASSIGN:
        if (!n->u.let.sym) walk_errors++;
        walk(n->u.let.value, in_step);
        break;
    case AST_EXPR_STMT: walk(n->u.expr.e, in_step); break;
    case AST_STEP:
        if (n->u.step.bind && !n->u.step.sym) walk_errors++;
        walk(n->u.step.label, in_step);
        walk_list(n->u.step.body, 1);
        walk_list(n->u.step.compensate, in_step);
        break;
    case AST_WAIT: walk(n->u.wait.until, in_step); break;
    case AST_CALLBACK: if (!n->u.callback.sym) walk_errors++; break;
    case AST_POLL:
        if (!n->u.poll.sym || !n->u.poll.state_sym) walk_errors++;
        walk(n->u.poll.state, in_step);
        walk(n->u.poll.until, 1);
        walk_list(n->u.poll.body, 1);
        break;
    case AST_PARALLEL: walk_list(n->u.batch.branches, in_step); break;
    case AST_MAP:
        if (!n->u.batch.item_sym) walk_errors++;
        if (n->u.batch.index && !n->u.batch.index_sym) walk_errors++;
        walk(n->u.batch.over, in_step);
        walk(n->u.batch.item_name, in_step);
        walk_list(n->u.batch.body, in_step);
        break;
    case AST_BRANCH: case AST_GROUP: walk_list(n->u.group.body, in_step); break;
    case AST_IF: walk(n->u.if_.cond, in_step); walk_list(n->u.if_.then, in_step); walk_list(n->u.if_.else_, in_step); break;
    case AST_FOR:
        if (!n->u.for_.var_sym) walk_errors++;
        walk(n->u.for_.iter, in_step);
        walk_list(n->u.for_.body, in_step);
        break;
    case AST_WHILE: walk(n->u.while_.cond, in_step); walk_list(n->u.while_.body, in_step); break;
    case AST_BREAK: case AST_CONTINUE: if (!n->u.jump.loop) walk_errors++; break;
    case AST_TRY: walk_list(n->u.try_.body, in_step); walk_list(n->u.try_.catches, in_step); break;
    case AST_CATCH:
        if (n->u.catch_.err && !n->u.catch_.err_sym) walk_errors++;
        walk_list(n->u.catch_.handler, in_step);
        break;
    case AST_FAIL: walk(n->u.fail.type, in_step); walk(n->u.fail.message, in_step); break;
    case AST_RETURN: walk(n->u.ret.value, in_step); break;
    case AST_LOG: walk(n->u.log.message, in_step); break;
    default: break;
    }
}

static void every_example_checks_cleanly(void)
{
    glob_t g;
    TT_EQ_INT(0, glob("examples/*.dwf", 0, NULL, &g));
    TT_ASSERT(g.gl_pathc >= 7);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        size_t len = strlen(g.gl_pathv[i]);
        if (len > 9 && strcmp(g.gl_pathv[i] + len - 9, ".test.dwf") == 0) continue; /* dwf test files */
        Arena *a = arena_new();
        Diag *d = diag_new(stdout, 0);
        Program *p = front_compile_file(a, d, g.gl_pathv[i]);
        if (diag_errors(d)) printf("    %s has errors\n", g.gl_pathv[i]);
        TT_EQ_INT(0, diag_errors(d));
        TT_ASSERT(p && p->workflow);
        if (p && p->workflow) {
            walk_errors = 0;
            walk_list(p->workflow->u.wf.body, 0);
            if (walk_errors) printf("    %s: %d unresolved names or unmarked step nodes\n", g.gl_pathv[i], walk_errors);
            TT_EQ_INT(0, walk_errors);
            /* cnames are unique */
            for (Symbol *x = p->workflow->u.wf.syms; x; x = x->next)
                for (Symbol *y = x->next; y; y = y->next) TT_ASSERT(strcmp(x->cname, y->cname) != 0);
        }
        diag_free(d);
        arena_free(a);
    }
    globfree(&g);
}

static void order_config_and_ops(void)
{
    Arena *a = arena_new();
    Diag *d = diag_new(stdout, 0);
    Program *p = front_compile_file(a, d, "examples/order.dwf");
    TT_ASSERT(p != NULL);
    if (p) {
        TT_EQ_STR("order_processing", p->workflow->u.wf.name);
        TT_EQ_INT(1, p->cfg.retention_days);
        TT_EQ_INT(120, p->cfg.execution_timeout);
        TT_EQ_STR("durable-basic-test", p->cfg.function_name);
        TT_EQ_INT(256, p->cfg.memory_mb);
        TT_EQ_INT(30, p->cfg.timeout_s);
        TT_EQ_INT(1, p->cfg.uses_waits);
        TT_EQ_INT(0, p->cfg.uses_callbacks);
        TT_EQ_INT(4, p->cfg.op_estimate); /* 3 steps + 1 wait */
        TT_EQ_STR("u_input", p->workflow->u.wf.input_sym->cname);
        /* the wait is unnamed */
        AstNode *w = NULL;
        for (AstNode *n = p->workflow->u.wf.body; n; n = n->next)
            if (n->kind == AST_WAIT) w = n;
        TT_ASSERT(w && !w->u.wait.label && w->u.wait.duration->kind == AST_DURATION);
        if (w) TT_ASSERT(w->u.wait.duration->u.dur.seconds == 10.0);
    }
    diag_free(d);
    arena_free(a);
}

static void fanout_structure(void)
{
    Arena *a = arena_new();
    Diag *d = diag_new(stdout, 0);
    Program *p = front_compile_file(a, d, "examples/fanout.dwf");
    TT_ASSERT(p != NULL);
    if (p) {
        TT_ASSERT(p->uses && strcmp(p->uses->u.use.path, "fanout_work.c") == 0);
        AstNode *par = p->workflow->u.wf.body, *map = NULL;
        TT_EQ_INT(AST_PARALLEL, par->kind);
        TT_ASSERT(par->u.batch.label == NULL); /* unnamed, as in the JS */
        int nb = 0;
        for (AstNode *b = par->u.batch.branches; b; b = b->next) {
            nb++;
            TT_ASSERT(b->u.group.label == NULL);
            TT_EQ_INT(AST_STEP, b->u.group.body->kind);
        }
        TT_EQ_INT(3, nb);
        for (AstNode *n = par; n; n = n->next)
            if (n->kind == AST_MAP) map = n;
        TT_ASSERT(map && map->u.batch.label == NULL);
        if (map) {
            AstNode *step = map->u.batch.body;
            TT_EQ_INT(AST_TEMPLATE, step->u.step.label->kind);
            AstNode *part = step->u.step.label->u.tmpl.parts;
            TT_EQ_INT(AST_STR, part->kind);
            TT_EQ_STR("process-item-", part->u.str.s);
            TT_EQ_INT(AST_NAME, part->next->kind);
            TT_ASSERT(part->next->u.name.sym == map->u.batch.index_sym);
        }
        /* parallel + 3 branches + 3 steps, map + 3 items + 3 steps */
        TT_EQ_INT(14, p->cfg.op_estimate);
    }
    diag_free(d);
    arena_free(a);
}

static void travel_invoke_and_compensation(void)
{
    Arena *a = arena_new();
    Diag *d = diag_new(stdout, 0);
    Program *p = front_compile_file(a, d, "examples/travel_saga.dwf");
    TT_ASSERT(p != NULL);
    if (p) {
        TT_EQ_INT(1, p->cfg.uses_invoke);
        TT_EQ_INT(1, p->cfg.uses_http);
        TT_ASSERT(p->cfg.invoke_targets && p->cfg.invoke_targets[0] && !p->cfg.invoke_targets[1]);
        if (p->cfg.invoke_targets)
            TT_EQ_STR("arn:aws:lambda:eu-west-1:123456789012:function:payments:live", p->cfg.invoke_targets[0]);
        TT_EQ_STR("eu-west-1", p->cfg.region);
        AstNode *flight = NULL;
        for (AstNode *n = p->workflow->u.wf.body; n; n = n->next)
            if (n->kind == AST_STEP && n->u.step.bind && strcmp(n->u.step.bind, "flight") == 0) flight = n;
        TT_ASSERT(flight && flight->u.step.compensate && flight->u.step.retry);
        if (flight) TT_EQ_INT(3, (int)flight->u.step.retry->u.retry.attempts->u.n.num);
    }
    diag_free(d);
    arena_free(a);
}

static void options_and_estimate(void)
{
    Arena *a = arena_new();
    Program *p = compile_ok(a,
        "workflow w {\n"
        "  step s \"s\" retry { attempts 4 delay 2s backoff 1.5 max 30s jitter half on \"Http5xx\", \"Timeout\" }\n"
        "      semantics at_most_once { return 1 }\n"
        "  map m over range(0, 10) as x, i max 2 tolerate 25% name \"item-${i}\" {\n"
        "    step \"a-${i}\" { return x }\n"
        "  }\n"
        "  if s == 1 { wait 1s wait 2s wait 3s } else { wait 1s }\n"
        "  for k in [1, 2, 3] { step \"k-${k}\" { return k } }\n"
        "  poll p every 5s backoff 2 max 1m attempts 10 jitter none state { n: 0 } until state.n > 3 {\n"
        "    return { n: state.n + 1 }\n"
        "  }\n"
        "  return [m, p]\n"
        "}\n");
    if (p) {
        AstNode *st = p->workflow->u.wf.body;
        AstNode *r = st->u.step.retry;
        TT_ASSERT(r != NULL);
        if (r) {
            TT_EQ_INT(4, (int)r->u.retry.attempts->u.n.num);
            TT_ASSERT(r->u.retry.delay->u.dur.seconds == 2.0);
            TT_ASSERT(r->u.retry.backoff->u.n.num == 1.5);
            TT_ASSERT(r->u.retry.max->u.dur.seconds == 30.0);
            TT_EQ_INT(JITTER_HALF, r->u.retry.jitter);
            TT_EQ_INT(1, r->u.retry.jitter_set);
            TT_EQ_STR("Http5xx", r->u.retry.on->u.str.s);
            TT_EQ_STR("Timeout", r->u.retry.on->next->u.str.s);
        }
        TT_EQ_INT(SEM_AT_MOST_ONCE, st->u.step.semantics);
        AstNode *m = st->next;
        TT_EQ_INT(AST_MAP, m->kind);
        TT_EQ_INT(2, (int)m->u.batch.max_concurrency->u.n.num);
        TT_EQ_INT(1, m->u.batch.tolerate_percent);
        TT_EQ_INT(25, (int)m->u.batch.tolerate->u.n.num);
        TT_EQ_INT(AST_TEMPLATE, m->u.batch.item_name->kind);
        /* the namer's `i` is the map's index symbol */
        TT_ASSERT(m->u.batch.item_name->u.tmpl.parts->next->u.name.sym == m->u.batch.index_sym);
        AstNode *poll = m->next->next->next;
        TT_EQ_INT(AST_POLL, poll->kind);
        TT_EQ_INT(JITTER_NONE, poll->u.poll.jitter);
        TT_ASSERT(poll->u.poll.until->in_step);
        TT_ASSERT(poll->u.poll.until->u.op.a->u.member.obj->u.name.sym == poll->u.poll.state_sym);
        /* 1 step + (1 map + 10 items + 10 steps) + max(3, 1) waits + 3 steps + 1 poll */
        TT_EQ_INT(29, p->cfg.op_estimate);
    }
    arena_free(a);
}

static void defaults_and_attempt(void)
{
    Arena *a = arena_new();
    Program *p = compile_ok(a,
        "workflow my_flow {\n"
        "  step s { return attempt }\n"
        "  return s\n"
        "}\n");
    if (p) {
        TT_EQ_STR("my-flow", p->cfg.function_name);
        TT_EQ_INT(14, p->cfg.retention_days);
        TT_EQ_INT(86400, p->cfg.execution_timeout);
        TT_EQ_INT(128, p->cfg.memory_mb);
        TT_EQ_INT(30, p->cfg.timeout_s);
        AstNode *s = p->workflow->u.wf.body;
        TT_ASSERT(s->u.step.label == NULL); /* wire name = bind name */
        TT_EQ_STR("s", s->u.step.bind);
        AstNode *ret = s->u.step.body;
        TT_EQ_INT(AST_NAME, ret->u.ret.value->kind);
        TT_ASSERT(ret->u.ret.value->u.name.sym == NULL);
        TT_ASSERT(ret->in_step && ret->u.ret.value->in_step);
        TT_ASSERT(!s->in_step);
    }
    arena_free(a);
}

static void shadowing_gets_unique_cnames(void)
{
    Arena *a = arena_new();
    Program *p = compile_ok(a,
        "workflow w {\n"
        "  let x = 1\n"
        "  for x in [1, 2] { step \"s-${x}\" { return x } }\n"
        "  group { let x = 3  return x }\n"
        "  return x\n"
        "}\n");
    if (p) {
        int n = 0;
        const char *names[8] = {0};
        for (Symbol *y = p->workflow->u.wf.syms; y && n < 8; y = y->next)
            if (strcmp(y->name, "x") == 0) names[n++] = y->cname;
        TT_EQ_INT(3, n);
        TT_EQ_STR("u_x", names[0]);
        TT_EQ_STR("u_x_2", names[1]);
        TT_EQ_STR("u_x_3", names[2]);
        /* the last return reads the outer x */
        AstNode *last = p->workflow->u.wf.body;
        while (last->next) last = last->next;
        TT_EQ_STR("u_x", last->u.ret.value->u.name.sym->cname);
    }
    arena_free(a);
}

static void strings_and_durations(void)
{
    Arena *a = arena_new();
    static const char src[] =
        "workflow w {\n"
        "  let s = \"a\\0b\\n\\u{1F600}\\x41\\\"\"\n"
        "  let t = \"x ${ \"y${1 + 2}\" } ${len({k: 1})} z\"\n"
        "  let d = [500ms, 10s, 5m, 2h, 1d, 1.5h]\n"
        "  return [s, t, d]\n"
        "}\n";
    Program *p = compile_ok(a, src);
    if (p) {
        AstNode *s = p->workflow->u.wf.body->u.let.value;
        TT_EQ_INT(AST_STR, s->kind);
        TT_EQ_INT(10, s->u.str.len); /* a NUL b LF 4-byte emoji A " */
        TT_ASSERT(memcmp(s->u.str.s, "a\0b\n\xF0\x9F\x98\x80" "A\"", 10) == 0);
        AstNode *t = p->workflow->u.wf.body->next->u.let.value;
        TT_EQ_INT(AST_TEMPLATE, t->kind);
        int kinds[8], n = 0;
        for (AstNode *x = t->u.tmpl.parts; x && n < 8; x = x->next) kinds[n++] = x->kind;
        TT_EQ_INT(5, n); /* "x " tmpl " " call " z" */
        TT_EQ_INT(AST_TEMPLATE, kinds[1]);
        TT_EQ_INT(AST_CALL, kinds[3]);
        double want[] = {0.5, 10, 300, 7200, 86400, 5400};
        int i = 0;
        for (AstNode *x = p->workflow->u.wf.body->next->next->u.let.value->u.list.items; x; x = x->next, i++) {
            TT_EQ_INT(AST_DURATION, x->kind);
            if (i < 6) TT_ASSERT(x->u.dur.seconds == want[i]);
        }
        TT_EQ_INT(6, i);
    }
    /* a raw NUL byte inside a string literal is kept */
    static const char raw[] = "workflow w { return \"a\0b\" }";
    int errors;
    Program *q = compile(a, raw, sizeof raw - 1, &errors, NULL);
    TT_EQ_INT(0, errors);
    if (q) TT_EQ_INT(3, q->workflow->u.wf.body->u.ret.value->u.str.len);
    arena_free(a);
}

static void dump_format(void)
{
    Arena *a = arena_new();
    Program *p = compile_ok(a, "workflow w {\n  wait 10s\n  return { a: input.x ?? 1 }\n}\n");
    char *buf = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&buf, &n);
    if (p) ast_dump(p->workflow, 0, out);
    fclose(out);
    TT_EQ_STR("WORKFLOW w @1:1\n"
              "  body:\n"
              "    WAIT @2:3\n"
              "      duration:\n"
              "        DURATION 10s = 10s @2:8\n"
              "    RETURN @3:3\n"
              "      OBJECT @3:10\n"
              "        items:\n"
              "          PROP a @3:12\n"
              "            BINARY ?? @3:15\n"
              "              MEMBER .x @3:15\n"
              "                obj:\n"
              "                  NAME input [u_input] @3:15\n"
              "              NUM 1 @3:26\n",
              buf);
    free(buf);
    arena_free(a);
}

static void diagnostic_shape(void)
{
    Arena *a = arena_new();
    int errors;
    char *msg;
    static const char src[] = "workflow w {\n\tstep payment { return 1 }\n\treturn { p: paymnt }\n}\n";
    compile(a, src, sizeof src - 1, &errors, &msg);
    TT_EQ_INT(1, errors);
    TT_EQ_STR("t.dwf:3:14: error: unknown name 'paymnt'\n"
              "    3 | \treturn { p: paymnt }\n"
              "      | \t            ^~~~~~\n"
              "t.dwf:2:7: note: did you mean 'payment'?\n",
              msg);
    free(msg);
    arena_free(a);
}

static void error_limit(void)
{
    Arena *a = arena_new();
    char src[4096] = "workflow w {\n";
    for (int i = 0; i < 30; i++) {
        char line[64];
        snprintf(line, sizeof line, "  let v%d = nope%d\n", i, i);
        strcat(src, line);
    }
    strcat(src, "  return null\n}\n");
    int errors;
    char *msg;
    compile(a, src, strlen(src), &errors, &msg);
    TT_ASSERT(errors >= 20);
    int printed = 0;
    for (const char *p = msg; (p = strstr(p, ": error: ")) != NULL; p++) printed++;
    TT_EQ_INT(20, printed);
    TT_ASSERT(strstr(msg, "t.dwf: fatal error: too many errors, stopping now\n") != NULL);
    free(msg);
    arena_free(a);
}

static void arena_basics(void)
{
    Arena *a = arena_new();
    for (int i = 0; i < 10000; i++) {
        unsigned char *p = arena_alloc(a, (size_t)(i % 97) + 1);
        TT_ASSERT(((uintptr_t)p % _Alignof(max_align_t)) == 0);
        for (int j = 0; j < i % 97 + 1; j++)
            if (p[j] != 0) { TT_ASSERT(!"arena memory not zeroed"); break; }
        memset(p, 0xAB, (size_t)(i % 97) + 1);
    }
    char *big = arena_alloc(a, 8 * 1024 * 1024);
    big[8 * 1024 * 1024 - 1] = 'x';
    char *s = arena_strndup(a, "ab\0cd", 5);
    TT_ASSERT(memcmp(s, "ab\0cd", 6) == 0);
    TT_EQ_STR("x=42 y", arena_printf(a, "x=%d %s", 42, "y"));
    arena_free(a);
    arena_free(NULL);
}

static void garbage_never_crashes(void)
{
    static const char *const inputs[] = {
        "", "}", "workflow", "workflow w {", "workflow w { \"${", "workflow w { let x = \"${ \"${ }",
        "workflow w { step { step { step", "workflow w { map over as { } }", "\xff\xfe\x00\x01",
        "workflow w { let x = ((((((((((1 }", "workflow w { return 1e }", "workflow w { x = }",
        "use use use", "workflow w { parallel { branch branch } }", "workflow w { 10% }",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof inputs[0]; i++) {
        Arena *a = arena_new();
        int errors;
        compile(a, inputs[i], strlen(inputs[i]) + (i == 8 ? 2 : 0), &errors, NULL);
        TT_ASSERT(errors > 0);
        arena_free(a);
    }
    /* a very long chain of operators nests without brackets: refused, not a stack overflow */
    {
        size_t terms = 200000;
        char *chain = malloc(terms * 2 + 64);
        TT_ASSERT(chain != NULL);
        if (chain) {
            strcpy(chain, "workflow w { return 1");
            size_t l = strlen(chain);
            for (size_t i = 0; i < terms; i++) {
                chain[l++] = '+';
                chain[l++] = '1';
            }
            strcpy(chain + l, " }");
            Arena *a = arena_new();
            int errors;
            char *msg;
            compile(a, chain, strlen(chain), &errors, &msg);
            TT_EQ_INT(1, errors);
            TT_ASSERT(msg && strstr(msg, "expression nested too deeply") != NULL);
            free(msg);
            arena_free(a);
            free(chain);
        }
    }
    /* deep nesting is refused, not a stack overflow */
    size_t n = 100000;
    char *deep = malloc(n + 64);
    TT_ASSERT(deep != NULL);
    if (deep) {
        strcpy(deep, "workflow w { return ");
        size_t l = strlen(deep);
        memset(deep + l, '[', n);
        deep[l + n] = '\0';
        Arena *a = arena_new();
        int errors;
        compile(a, deep, strlen(deep), &errors, NULL);
        TT_ASSERT(errors > 0);
        arena_free(a);
        free(deep);
    }
}

static void long_string_rejected(void)
{
    size_t n = 256 * 1024 + 10;
    char *src = malloc(n + 64);
    TT_ASSERT(src != NULL);
    if (!src) return;
    strcpy(src, "workflow w { return \"");
    size_t l = strlen(src);
    memset(src + l, 'a', n);
    strcpy(src + l + n, "\" }");
    Arena *a = arena_new();
    int errors;
    char *msg;
    compile(a, src, strlen(src), &errors, &msg);
    TT_EQ_INT(1, errors);
    TT_ASSERT(strstr(msg, "error: string literal of 262154 bytes is larger than 256 KB") != NULL);
    free(msg);
    free(src);
    arena_free(a);
}

/* A workflow of n `let`s that nothing reads: n "unused variable" warnings. */
static char *unused_lets(size_t n)
{
    char *src = malloc(n * 32 + 64);
    if (!src) return NULL;
    size_t l = (size_t)sprintf(src, "workflow w {\n");
    for (size_t i = 0; i < n; i++) l += (size_t)sprintf(src + l, "  let v%zu = %zu\n", i, i);
    strcpy(src + l, "  return null\n}\n");
    return src;
}

/* The lines of msg that warn of an unused variable. Line by line, not strstr from each match:
 * AddressSanitizer's strstr measures the whole rest of the text on every call, so counting
 * 80,000 warnings (~10 MB of diagnostics) that way was quadratic, and the sanitized test_front
 * spent minutes here, outside the compile it times. */
static int count_unused_warnings(const char *msg)
{
    static const char pat[] = ": warning: unused variable 'v";
    int n = 0;
    for (const char *p = msg; p && *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (memmem(p, len, pat, sizeof pat - 1)) n++;
        p = nl ? nl + 1 : NULL;
    }
    return n;
}

/* CPU seconds to compile a workflow of n unused lets (the best of `runs`); *warnings gets the
 * number of warnings printed. */
static double unused_cpu(size_t n, int runs, int *warnings)
{
    char *src = unused_lets(n);
    TT_ASSERT(src != NULL);
    if (!src) return 0;
    double best = 1e9;
    for (int r = 0; r < runs; r++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        Arena *a = arena_new();
        int errors;
        char *msg;
        compile(a, src, strlen(src), &errors, &msg);
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
        double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        if (s < best) best = s;
        TT_EQ_INT(0, errors);
        *warnings = count_unused_warnings(msg);
        free(msg);
        arena_free(a);
    }
    free(src);
    return best;
}

/* The unused-variable check (and the diagnostics it prints) is linear in the number of lets.
 * Not a timing test: the bound is relative to a small input compiled in the same process, 20x
 * the lets must cost well under 100x the CPU (a linear check costs about 20x; the quadratic one
 * it replaced cost about 400x). Wall-clock figures are in bench/front_scale.sh. */
static void unused_check_is_linear(void)
{
    int vg = getenv("DWF_VALGRIND") != NULL; /* 50x slower there: smaller inputs, same ratio */
    size_t small = vg ? 500 : 4000, big = small * 20;
    int ws = 0, wb = 0;
    double ts = unused_cpu(small, vg ? 1 : 3, &ws);
    double tb = unused_cpu(big, 1, &wb);
    TT_EQ_INT((long long)small, ws);
    TT_EQ_INT((long long)big, wb);
    if (ts < 1e-3) ts = 1e-3; /* clock granularity */
    if (tb / ts >= 100) printf("    %zu lets: %.3fs CPU, %zu lets: %.3fs CPU (x%.0f)\n", small, ts, big, tb, tb / ts);
    TT_ASSERT(tb / ts < 100);
}

/* A diagnostic on a 10 MB line shows a window of the line around the caret, not the line. */
static void long_line_excerpt_is_bounded(void)
{
    size_t n = 10u * 1024 * 1024;
    char *src = malloc(n + 128);
    TT_ASSERT(src != NULL);
    if (!src) return;
    size_t l = (size_t)sprintf(src, "workflow w { let x = [");
    while (l < n) l += (size_t)sprintf(src + l, "1,");
    l += (size_t)sprintf(src + l, " nope, 2] return x }\n");
    Arena *a = arena_new();
    int errors;
    char *msg;
    compile(a, src, l, &errors, &msg);
    TT_EQ_INT(1, errors);
    TT_ASSERT(msg && strlen(msg) < 800);
    /* error line, then "    1 | ...<100 bytes before> nope, 2] return x }", then the caret */
    char *excerpt = msg ? strstr(msg, "\n    1 | ...") : NULL;
    TT_ASSERT(excerpt != NULL);
    if (excerpt) {
        char *nope = strstr(excerpt, " nope, 2] return x }\n");
        char *caret = nope ? strstr(nope, "\n      | ") : NULL;
        TT_ASSERT(nope && caret);
        if (nope && caret) {
            /* the caret sits under 'nope': same offset from the line's start */
            size_t at = (size_t)(nope + 1 - (excerpt + 1));
            TT_ASSERT(strncmp(caret + 1 + at, "^~~~\n", 5) == 0);
        }
    }
    free(msg);
    arena_free(a);
    /* a 10 MB name in the message is cut too */
    memset(src, 'a', n);
    memcpy(src, "workflow w { return ", 20);
    strcpy(src + n, " }\n");
    a = arena_new();
    compile(a, src, strlen(src), &errors, &msg);
    TT_EQ_INT(1, errors);
    TT_ASSERT(msg && strlen(msg) < 1200);
    TT_ASSERT(msg && strstr(msg, "error: unknown name 'aaaa") != NULL);
    TT_ASSERT(msg && strstr(msg, "aaa...\n") != NULL);
    free(msg);
    arena_free(a);
    free(src);
}

int main(void)
{
    TT_RUN(arena_basics);
    TT_RUN(every_example_checks_cleanly);
    TT_RUN(order_config_and_ops);
    TT_RUN(fanout_structure);
    TT_RUN(travel_invoke_and_compensation);
    TT_RUN(options_and_estimate);
    TT_RUN(defaults_and_attempt);
    TT_RUN(shadowing_gets_unique_cnames);
    TT_RUN(strings_and_durations);
    TT_RUN(dump_format);
    TT_RUN(diagnostic_shape);
    TT_RUN(error_limit);
    TT_RUN(garbage_never_crashes);
    TT_RUN(long_string_rejected);
    TT_RUN(unused_check_is_linear);
    TT_RUN(long_line_excerpt_is_bounded);
    return TT_EXIT();
}
