/*
 * test_codegen.c: the C emitter on hand-built, sema-shaped trees, independent of the parser.
 *
 * One tree uses every construct; another holds strings no C compiler likes (quotes,
 * backslashes, a comment closer, `??/` trigraphs, non-ASCII, NUL) in values, names, keys and
 * the file path. The emitted C must be byte-identical across runs and must compile with
 * -std=c11 -Wall -Wextra -Werror under gcc and, when installed, clang. The artifact emitter is
 * checked here too: JSON that parses, singular IAM actions, no "*" resource.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ast.h"
#include "codegen.h"
#include "tinytest.h"

static Arena *A;
static int line_no = 1;

static AstNode *mk(AstKind k)
{
    SrcLoc l = {line_no, 3, line_no, 10};
    line_no++;
    return ast_new(A, k, l);
}

static AstNode *str_n(const char *s, size_t n)
{
    AstNode *x = mk(AST_STR);
    x->u.str.s = arena_strndup(A, s, n);
    x->u.str.len = n;
    return x;
}
static AstNode *str(const char *s) { return str_n(s, strlen(s)); }
static AstNode *num(double v)
{
    AstNode *x = mk(AST_NUM);
    x->u.n.num = v;
    return x;
}
static AstNode *dur(double s)
{
    AstNode *x = mk(AST_DURATION);
    x->u.dur.seconds = s;
    return x;
}
static AstNode *name(Symbol *s)
{
    AstNode *x = mk(AST_NAME);
    x->u.name.id = s ? s->name : "input";
    x->u.name.sym = s;
    return x;
}
static AstNode *member(AstNode *o, const char *key)
{
    AstNode *x = mk(AST_MEMBER);
    x->u.member.obj = o;
    x->u.member.key = key;
    return x;
}
static AstNode *list(AstNode *first, ...);
#include <stdarg.h>
static AstNode *list(AstNode *first, ...)
{
    va_list ap;
    va_start(ap, first);
    AstNode *cur = first;
    while (cur) {
        AstNode *nx = va_arg(ap, AstNode *);
        cur->next = nx;
        cur = nx;
    }
    va_end(ap);
    return first;
}
static AstNode *prop(const char *k, AstNode *v)
{
    AstNode *x = mk(AST_PROP);
    x->u.prop.key = k;
    x->u.prop.value = v;
    return x;
}
static AstNode *obj(AstNode *props)
{
    AstNode *x = mk(AST_OBJECT);
    x->u.list.items = props;
    return x;
}
static AstNode *call(const char *fn, AstNode *args)
{
    AstNode *x = mk(AST_CALL);
    x->u.call.fn = fn;
    x->u.call.args = args;
    return x;
}
static AstNode *binop(AstOp op, AstNode *a, AstNode *b)
{
    AstNode *x = mk(AST_BINARY);
    x->u.op.op = op;
    x->u.op.a = a;
    x->u.op.b = b;
    return x;
}
static AstNode *ret(AstNode *v)
{
    AstNode *x = mk(AST_RETURN);
    x->u.ret.value = v;
    return x;
}
static AstNode *let(Symbol *s, AstNode *v)
{
    AstNode *x = mk(AST_LET);
    x->u.let.id = s->name;
    x->u.let.sym = s;
    x->u.let.value = v;
    return x;
}
static AstNode *tmpl(AstNode *parts)
{
    AstNode *x = mk(AST_TEMPLATE);
    x->u.tmpl.parts = parts;
    return x;
}

static Symbol *syms_head, *syms_tail;
static Symbol *sym(const char *nm)
{
    Symbol *s = arena_alloc(A, sizeof *s);
    s->name = nm;
    s->cname = arena_printf(A, "u_%s", nm);
    s->loc.first_line = line_no;
    if (syms_tail) syms_tail->next = s;
    else syms_head = s;
    syms_tail = s;
    return s;
}

static Program *new_program(const char *path, const char *wfname)
{
    syms_head = syms_tail = NULL;
    line_no = 1;
    Program *p = arena_alloc(A, sizeof *p);
    p->path = path;
    p->text = "workflow x {}\n";
    p->text_len = strlen(p->text);
    p->workflow = mk(AST_WORKFLOW);
    p->workflow->u.wf.name = wfname;
    p->cfg.retention_days = 1;
    p->cfg.execution_timeout = 120;
    p->cfg.function_name = "durable-basic-test";
    p->cfg.memory_mb = 256;
    p->cfg.timeout_s = 30;
    return p;
}

/* Every construct once. */
static Program *full_program(void)
{
    Program *p = new_program("examples/full.dwf", "full_test");
    Symbol *orderId = sym("orderId"), *validation = sym("validation"), *approval = sym("approval");
    Symbol *decision = sym("decision"), *cb = sym("callback"), *answer = sym("answer");
    Symbol *shipment = sym("shipment"), *state = sym("state"), *checks = sym("checks");
    Symbol *processed = sym("processed"), *item = sym("item"), *idx = sym("i");
    Symbol *x = sym("x"), *err = sym("err"), *receipt = sym("receipt"), *res = sym("res");
    Symbol *inv = sym("inventory");

    AstNode *let1 = let(orderId, binop(OP_COALESCE, member(name(NULL), "orderId"), str("ORD-001")));

    AstNode *logm = mk(AST_LOG);
    logm->u.log.level = LOG_INFO;
    logm->u.log.message = tmpl(list(str("Validating order "), name(orderId), NULL));
    AstNode *st = mk(AST_STEP);
    st->u.step.bind = "validation";
    st->u.step.sym = validation;
    st->u.step.label = str("validate-order");
    st->u.step.body = list(logm, ret(obj(list(prop("orderId", name(orderId)),
                                              prop("status", str("validated")),
                                              prop("timestamp", call("now", NULL)), NULL))),
                           NULL);

    /* step with retry, at-most-once, compensation, http and a C call */
    AstNode *retry = mk(AST_RETRY);
    retry->u.retry.attempts = num(5);
    retry->u.retry.delay = dur(1);
    retry->u.retry.backoff = num(2);
    retry->u.retry.max = dur(30);
    retry->u.retry.jitter = JITTER_HALF;
    retry->u.retry.jitter_set = 1;
    retry->u.retry.on = list(str("Timeout"), str("Http5xx"), NULL);
    AstNode *http = mk(AST_HTTP);
    http->u.http.method = "POST";
    http->u.http.url = str("https://example.com/pay");
    http->u.http.body = obj(list(prop("id", name(orderId)), NULL));
    http->u.http.timeout = dur(5);
    AstNode *ccall = mk(AST_CCALL);
    ccall->u.call.fn = "score";
    ccall->u.call.args = list(name(orderId), num(0.1), NULL);
    AstNode *refund = mk(AST_STEP);
    refund->u.step.label = str("refund");
    refund->u.step.body = list(ret(str("refunded")), NULL);
    AstNode *st2 = mk(AST_STEP);
    st2->u.step.label = tmpl(list(str("charge-"), name(orderId), NULL));
    st2->u.step.retry = retry;
    st2->u.step.semantics = SEM_AT_MOST_ONCE;
    st2->u.step.body = list(ret(binop(OP_ADD, http, ccall)), NULL);
    st2->u.step.compensate = list(refund, NULL);

    AstNode *w = mk(AST_WAIT);
    w->u.wait.duration = dur(10);
    AstNode *cbk = mk(AST_CALLBACK);
    cbk->u.callback.bind = "approval";
    cbk->u.callback.sym = approval;
    cbk->u.callback.label = str("approval");
    cbk->u.callback.timeout = dur(60);
    AstNode *aw = mk(AST_AWAIT);
    aw->u.await.target = name(approval);
    AstNode *let2 = let(decision, aw);

    AstNode *wfc = mk(AST_WAIT_CALLBACK);
    wfc->u.wfc.label = str("ask");
    wfc->u.wfc.timeout = dur(3600);
    wfc->u.wfc.cb_sym = cb;
    AstNode *lg2 = mk(AST_LOG);
    lg2->u.log.level = LOG_WARN;
    lg2->u.log.message = member(name(cb), "id");
    wfc->u.wfc.body = list(lg2, NULL);
    AstNode *let3 = let(answer, wfc);

    AstNode *poll = mk(AST_POLL);
    poll->u.poll.bind = "shipment";
    poll->u.poll.sym = shipment;
    poll->u.poll.label = str("wait-for-shipment");
    poll->u.poll.every = dur(5);
    poll->u.poll.attempts = num(20);
    poll->u.poll.state = obj(list(prop("n", num(0)), NULL));
    poll->u.poll.state_sym = state;
    poll->u.poll.until = binop(OP_GE, member(name(state), "n"), num(3));
    poll->u.poll.body = list(ret(obj(list(prop("n", binop(OP_ADD, member(name(state), "n"), num(1))),
                                          NULL))),
                             NULL);

    AstNode *b1 = mk(AST_BRANCH);
    b1->u.group.bind = "inventory";
    b1->u.group.sym = inv;
    AstNode *s_in = mk(AST_STEP);
    s_in->u.step.label = str("check-inventory");
    s_in->u.step.body = list(ret(obj(list(prop("available", mk(AST_BOOL)), NULL))), NULL);
    b1->u.group.body = list(s_in, NULL);
    AstNode *b2 = mk(AST_BRANCH);
    AstNode *s_fr = mk(AST_STEP);
    s_fr->u.step.label = str("check-fraud");
    b2->u.group.body = list(s_fr, NULL);
    AstNode *par = mk(AST_PARALLEL);
    par->u.batch.bind = "checks";
    par->u.batch.sym = checks;
    par->u.batch.max_concurrency = num(2);
    par->u.batch.branches = list(b1, b2, NULL);

    AstNode *mp = mk(AST_MAP);
    mp->u.batch.bind = "processed";
    mp->u.batch.sym = processed;
    AstNode *arr = mk(AST_ARRAY);
    arr->u.list.items = list(num(1), num(2), num(3), NULL);
    mp->u.batch.over = arr;
    mp->u.batch.item = "item";
    mp->u.batch.item_sym = item;
    mp->u.batch.index = "i";
    mp->u.batch.index_sym = idx;
    mp->u.batch.tolerate = num(10);
    mp->u.batch.tolerate_percent = 1;
    mp->u.batch.item_name = tmpl(list(str("item-"), name(idx), NULL));
    AstNode *s_it = mk(AST_STEP);
    s_it->u.step.label = tmpl(list(str("process-item-"), name(idx), NULL));
    s_it->u.step.body = list(ret(binop(OP_MUL, name(item), num(2))), NULL);
    mp->u.batch.body = list(s_it, NULL);

    AstNode *grp = mk(AST_GROUP);
    grp->u.group.label = str("reserve-stock");
    AstNode *g_w = mk(AST_WAIT);
    g_w->u.wait.label = str("pause");
    g_w->u.wait.duration = dur(1);
    grp->u.group.body = list(g_w, ret(num(7)), NULL);

    AstNode *fr = mk(AST_FOR);
    fr->u.for_.var = "x";
    fr->u.for_.var_sym = x;
    fr->u.for_.iter = name(processed);
    AstNode *s_x = mk(AST_STEP);
    s_x->u.step.body = list(ret(name(x)), NULL);
    fr->u.for_.body = list(s_x, NULL);

    AstNode *fl = mk(AST_FAIL);
    fl->u.fail.type = str("OrderRejected");
    fl->u.fail.message = tmpl(list(str("rejected "), name(orderId), NULL));
    AstNode *ifs = mk(AST_IF);
    ifs->u.if_.cond = binop(OP_AND, name(decision), binop(OP_EQ, name(answer), str("no")));
    ifs->u.if_.then = list(fl, NULL);
    AstNode *inner_if = mk(AST_IF);
    inner_if->u.if_.cond = binop(OP_OR, name(answer), mk(AST_NULL));
    inner_if->u.if_.then = list(ret(str("early")), NULL);
    ifs->u.if_.else_ = inner_if;

    AstNode *inv_e = mk(AST_INVOKE);
    inv_e->u.invoke.function = str("arn:aws:lambda:us-east-1:123456789012:function:receipts:live");
    inv_e->u.invoke.payload = obj(list(prop("orderId", name(orderId)), NULL));
    inv_e->u.invoke.timeout = dur(30);
    AstNode *tr = mk(AST_TRY);
    tr->u.try_.body = list(let(receipt, inv_e), ret(name(receipt)), NULL);
    AstNode *ct = mk(AST_CATCH);
    ct->u.catch_.err = "err";
    ct->u.catch_.err_sym = err;
    AstNode *lg3 = mk(AST_LOG);
    lg3->u.log.level = LOG_ERROR;
    lg3->u.log.message = member(name(err), "ErrorType");
    ct->u.catch_.handler = list(lg3, NULL);
    tr->u.try_.catches = ct;

    AstNode *cnd = mk(AST_COND);
    cnd->u.cond.cond = name(decision);
    cnd->u.cond.a = str("yes");
    AstNode *aw2 = mk(AST_AWAIT);
    aw2->u.await.target = name(approval);
    cnd->u.cond.b = aw2;
    AstNode *let4 = let(res, cnd);

    AstNode *r = ret(obj(list(prop("orderId", name(orderId)), prop("validation", name(validation)),
                              prop("checks", name(checks)), prop("inventory", name(inv)),
                              prop("res", name(res)), NULL)));
    p->workflow->u.wf.body = list(let1, st, st2, w, cbk, let2, let3, poll, par, mp, grp, fr, ifs,
                                  tr, let4, r, NULL);
    p->workflow->u.wf.syms = syms_head;
    return p;
}

/* Strings no C compiler likes, in every place a string reaches the C. */
static const char nasty[] = "q\"uote\\ back */ close ?\?/ tri ?\?= caf\xc3\xa9 \x01 end?";
static Program *nasty_program(void)
{
    Program *p = new_program("t/na\"sty ?\?/ */ \xc3\xa9.dwf", "nasty");
    Symbol *v = sym("v");
    AstNode *withnul = str_n("a\0b", 3);
    AstNode *o = obj(list(prop(nasty, str(nasty)), prop("nul", withnul), NULL));
    AstNode *st = mk(AST_STEP);
    st->u.step.bind = "v";
    st->u.step.sym = v;
    st->u.step.label = str(nasty);
    AstNode *lg = mk(AST_LOG);
    lg->u.log.level = LOG_DEBUG;
    lg->u.log.message = tmpl(list(str(nasty), num(1e300), str("\n\t"), NULL));
    st->u.step.body = list(lg, ret(o), NULL);
    AstNode *fl = mk(AST_FAIL);
    fl->u.fail.type = str(nasty);
    fl->u.fail.message = str_n("x\0y", 3);
    AstNode *ifs = mk(AST_IF);
    ifs->u.if_.cond = binop(OP_EQ, member(name(v), nasty), str("?\?/"));
    ifs->u.if_.then = list(fl, NULL);
    p->workflow->u.wf.body = list(st, ifs, ret(name(v)), NULL);
    p->workflow->u.wf.syms = syms_head;
    return p;
}

static char *emit_to_string(const Program *p, int *rc)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return NULL;
    *rc = cg_emit_c(p, "handler.c", f);
    fclose(f);
    return buf;
}

static int write_file(const char *path, const char *s)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(s, f);
    return fclose(f);
}

/* Compile `c` with `cc` and the project's warning flags; 0 on success. */
static int compile_c(const char *cc, const char *dir, const char *c)
{
    char path[512], cmd[1400];
    snprintf(path, sizeof path, "%s/h.c", dir);
    if (write_file(path, c) != 0) return -1;
    snprintf(cmd, sizeof cmd,
             "%s -std=c11 -Wall -Wextra -Werror -Iinclude -c -o %s/h.o %s 2>%s/err.txt", cc, dir,
             path, dir);
    int rc = system(cmd);
    if (rc != 0) {
        snprintf(cmd, sizeof cmd, "head -20 %s/err.txt", dir);
        if (system(cmd) != 0) return rc;
    }
    return rc;
}

static char *slurp(const char *path);

/* Compile `c` as dir/handler.c with gcc; returns what gcc printed (caller frees). */
static char *compile_errors(const char *dir, const char *c)
{
    char path[512], cmd[1400];
    snprintf(path, sizeof path, "%s/handler.c", dir);
    if (write_file(path, c) != 0) return NULL;
    snprintf(cmd, sizeof cmd, "LC_ALL=C gcc -std=c11 -Wall -Wextra -Werror -Iinclude -c -o %s/h.o %s 2>%s/err.txt",
             dir, path, dir);
    if (system(cmd) == 0) return strdup("");
    snprintf(path, sizeof path, "%s/err.txt", dir);
    return slurp(path);
}

/* `text` with its line `line` (1-based) replaced by `repl` (no newline); caller frees. */
static char *replace_line(const char *text, int line, const char *repl)
{
    const char *s = text;
    for (int k = 1; k < line && s; k++) s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL;
    if (!s) return NULL;
    const char *e = strchr(s, '\n');
    size_t n = strlen(text) + strlen(repl) + 2;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%.*s%s%s", (int)(s - text), text, repl, e ? e : "");
    return out;
}

/* The 1-based number of the first line of `text` that starts with `prefix`, or 0. */
static int line_starting(const char *text, const char *prefix)
{
    int k = 1;
    for (const char *s = text; s && *s; k++) {
        if (strncmp(s, prefix, strlen(prefix)) == 0) return k;
        s = strchr(s, '\n') ? strchr(s, '\n') + 1 : NULL;
    }
    return 0;
}

static int have(const char *tool)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

static char tmpdir[64];

static void test_full_compiles(void)
{
    Program *p = full_program();
    int rc = -1, rc2 = -1;
    char *a = emit_to_string(p, &rc);
    char *b = emit_to_string(p, &rc2);
    TT_EQ_INT(0, rc);
    TT_ASSERT(a && b && strcmp(a, b) == 0); /* deterministic */
    if (!a) return;
    if (getenv("DWF_TEST_DUMP")) fputs(a, stderr); /* to read the output */
    TT_ASSERT(strstr(a, "#include \"dwf.h\"") != NULL);
    TT_ASSERT(strstr(a, "cJSON *score(dwf_ctx *c, int argc, cJSON *const *argv);") != NULL);
    TT_ASSERT(strstr(a, "DWF_TRY(dwf_step(c, \"validate-order\", step_1, f, &step_defaults, "
                        "&f->u_validation));") != NULL);
    TT_ASSERT(strstr(a, "#line 6 \"examples/full.dwf\"") != NULL);
    TT_ASSERT(strstr(a, "dwf_coalesce(c, dwf_get(c, dwf_input(c), \"orderId\"), "
                        "dwf_str(c, \"ORD-001\"))") != NULL);
    TT_ASSERT(strstr(a, "dwf_callback_id(c)") != NULL);
    TT_ASSERT(strstr(a, ".semantics = DWF_AT_MOST_ONCE, .compensate = compensate_1") != NULL);
    TT_ASSERT(strstr(a, "return DWF_RETURN;") != NULL); /* return inside try */
    TT_ASSERT(strstr(a, "dwf_error_take(c)") != NULL);
    TT_ASSERT(strstr(a, ".frame_size = sizeof(struct frame)") != NULL);
    TT_EQ_INT(0, compile_c("gcc", tmpdir, a));
    if (have("clang")) TT_EQ_INT(0, compile_c("clang", tmpdir, a));
    free(a);
    free(b);
}

/* The glue around the .dwf's code (comments between functions, the descriptor) is the C file's
 * own: after each function a `#line` gives its real line back, so a C error there is reported
 * at handler.c and the line that holds it, never at the last .dwf line. */
static void test_line_back_to_handler(void)
{
    Program *p = full_program();
    int rc = -1;
    char *a = emit_to_string(p, &rc);
    TT_EQ_INT(0, rc);
    if (!a) return;
    /* Every `#line N "handler.c"` is at line N - 1; the last #line before the descriptor is one. */
    int k = 1, back = 0, last_is_c = 0;
    int desc = line_starting(a, "const dwf_workflow dwf_workflow_main = {");
    TT_ASSERT(desc > 0);
    for (const char *s = a; *s; k++) {
        int n = 0, end = 0;
        int to_c = sscanf(s, "#line %d \"handler.c\"%n", &n, &end) == 1 && end > 0;
        if (to_c) {
            back++;
            if (n != k + 1) TT_FAIL_("line %d says #line %d \"handler.c\"", k, n);
        }
        if (k < desc && strncmp(s, "#line ", 6) == 0) last_is_c = to_c;
        const char *nl = strchr(s, '\n');
        if (!nl) break;
        s = nl + 1;
    }
    TT_ASSERT(back >= 10); /* one after each function */
    TT_ASSERT(last_is_c);

    /* An error in the descriptor: reported at handler.c, at the line that holds it. */
    int mem = line_starting(a, "    .memory_mb = ");
    char *bad = replace_line(a, mem, "    .memory_mb = no_such_value,");
    char *err = bad ? compile_errors(tmpdir, bad) : NULL;
    char want[64];
    snprintf(want, sizeof want, "handler.c:%d:", mem);
    const char *hit = err ? strstr(err, "'no_such_value' undeclared") : NULL;
    TT_ASSERT(hit != NULL);
    const char *line_start = hit;
    while (err && line_start > err && line_start[-1] != '\n') line_start--;
    if (hit && strncmp(line_start, want, strlen(want)) != 0)
        TT_FAIL_("expected the error at %s, got: %.*s", want, (int)(hit - line_start), line_start);
    free(bad);
    free(err);

    /* An error in a statement: still reported at the .dwf line it came from. */
    int at = line_starting(a, "#line 6 \"examples/full.dwf\"");
    TT_ASSERT(at > 0);
    bad = at ? replace_line(a, at + 1, "    no_such_thing;") : NULL;
    err = bad ? compile_errors(tmpdir, bad) : NULL;
    TT_ASSERT(err && strstr(err, "examples/full.dwf:6:") && strstr(err, "'no_such_thing' undeclared"));
    free(bad);
    free(err);
    free(a);
}

static void test_nasty_strings(void)
{
    Program *p = nasty_program();
    int rc = -1;
    char *a = emit_to_string(p, &rc);
    TT_EQ_INT(0, rc);
    if (!a) return;
    TT_ASSERT(strstr(a, "??") == NULL); /* no trigraph can form anywhere */
    TT_ASSERT(strstr(a, "dwf_strn(c, \"a\\000b\", 3)") != NULL);
    TT_ASSERT(strstr(a, "caf\\303\\251") != NULL);
    TT_ASSERT(strstr(a, "1e+300") != NULL);
    TT_EQ_INT(0, compile_c("gcc", tmpdir, a));
    if (have("clang")) TT_EQ_INT(0, compile_c("clang", tmpdir, a));
    free(a);
}

static void test_source_hash(void)
{
    Program *p = new_program("x.dwf", "w");
    p->workflow->u.wf.body = NULL;
    int rc = -1;
    char *a = emit_to_string(p, &rc);
    TT_EQ_INT(0, rc);
    /* printf 'workflow x {}\n' | sha256sum */
    TT_ASSERT(a && strstr(a, ".source_hash = "
                             "\"aac2f9195c2bae492bb84ed05f4c3fdcfc05b36c62a421aac95d8ae122d9bb1c\"") != NULL);
    TT_EQ_INT(0, a ? compile_c("gcc", tmpdir, a) : -1);
    free(a);
}

/* A `call` whose name the generated file uses itself must stop the C compiler, not link
 * the wrong function. */
static void test_reserved_call_name(void)
{
    Program *p = new_program("r.dwf", "r");
    AstNode *cc = mk(AST_CCALL);
    cc->u.call.fn = "step_1";
    AstNode *st = mk(AST_STEP);
    st->u.step.label = str("s");
    st->u.step.body = list(ret(cc), NULL);
    p->workflow->u.wf.body = list(st, NULL);
    int rc = -1;
    char *a = emit_to_string(p, &rc);
    TT_EQ_INT(0, rc);
    TT_ASSERT(a && strstr(a, "#error \"dwf: call name is not a C identifier, or is one dwf uses: "
                             "step_1\"") != NULL);
    TT_ASSERT(a && strstr(a, "cJSON *step_1(") == NULL);
    free(a);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

static cJSON *load_json(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *s = slurp(path);
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    free(s);
    return j;
}

/* Every Resource of every statement: never "*", and every action singular. */
static int policy_ok(const cJSON *pol)
{
    const cJSON *st = cJSON_GetObjectItem(pol, "Statement"), *s;
    if (!cJSON_IsArray(st)) return 0;
    cJSON_ArrayForEach(s, st)
    {
        const cJSON *r = cJSON_GetObjectItem(s, "Resource"), *x;
        if (cJSON_IsString(r) && strcmp(r->valuestring, "*") == 0) return 0;
        cJSON_ArrayForEach(x, r) if (cJSON_IsString(x) && strchr(x->valuestring, '*') &&
                                     strcmp(x->valuestring + strlen(x->valuestring) - 2, ":*") != 0 &&
                                     strstr(x->valuestring, "log-group") == NULL) return 0;
        const cJSON *a = cJSON_GetObjectItem(s, "Action");
        cJSON_ArrayForEach(x, a) if (cJSON_IsString(x) &&
                                     strcmp(x->valuestring, "lambda:CheckpointDurableExecutions") == 0)
            return 0;
    }
    return 1;
}

static int has_action(const cJSON *pol, const char *action)
{
    const cJSON *st = cJSON_GetObjectItem(pol, "Statement"), *s, *x;
    cJSON_ArrayForEach(s, st)
    {
        const cJSON *a = cJSON_GetObjectItem(s, "Action");
        if (cJSON_IsString(a) && strcmp(a->valuestring, action) == 0) return 1;
        cJSON_ArrayForEach(x, a) if (cJSON_IsString(x) && strcmp(x->valuestring, action) == 0)
            return 1;
    }
    return 0;
}

static void test_artifacts(void)
{
    Program *p = full_program();
    static const char *targets[] = {"arn:aws:lambda:us-east-1:123456789012:function:receipts:live",
                                    NULL};
    p->cfg.invoke_targets = targets;
    p->cfg.uses_callbacks = 1;
    p->cfg.uses_invoke = 1;
    char dir[128], err[256] = "";
    snprintf(dir, sizeof dir, "%s/out", tmpdir);
    CgOptions o = {"eu-west-1", "123456789012", NULL};
    TT_EQ_INT(0, cg_emit_artifacts(p, dir, &o, err, sizeof err));
    cJSON *dc = load_json(dir, "durable-config.json");
    TT_ASSERT(dc != NULL);
    TT_EQ_INT(1, cJSON_GetNumberValue(cJSON_GetObjectItem(dc, "RetentionPeriodInDays")));
    TT_EQ_INT(120, cJSON_GetNumberValue(cJSON_GetObjectItem(dc, "ExecutionTimeout")));
    cJSON_Delete(dc);
    cJSON *tp = load_json(dir, "iam/trust-policy.json");
    TT_ASSERT(tp != NULL);
    cJSON_Delete(tp);
    cJSON *dp = load_json(dir, "iam/durable-policy.json");
    TT_ASSERT(dp != NULL);
    TT_ASSERT(policy_ok(dp));
    TT_ASSERT(has_action(dp, "lambda:CheckpointDurableExecution"));
    TT_ASSERT(has_action(dp, "lambda:GetDurableExecutionState"));
    TT_ASSERT(has_action(dp, "lambda:InvokeFunction"));
    char *s;
    char path[256];
    snprintf(path, sizeof path, "%s/iam/durable-policy.json", dir);
    s = slurp(path);
    TT_ASSERT(s && strstr(s, "arn:aws:lambda:eu-west-1:123456789012:function:durable-basic-test:*"));
    TT_ASSERT(s && strstr(s, "function:receipts:live"));
    free(s);
    cJSON_Delete(dp);
    cJSON *cp = load_json(dir, "iam/callback-sender-policy.json");
    TT_ASSERT(cp != NULL && policy_ok(cp));
    TT_ASSERT(has_action(cp, "lambda:SendDurableExecutionCallbackSuccess"));
    cJSON_Delete(cp);

    /* Without callbacks there is no sender policy; without --region the files use parameters. */
    p->cfg.uses_callbacks = 0;
    p->cfg.invoke_targets = NULL;
    p->cfg.uses_invoke = 0;
    snprintf(dir, sizeof dir, "%s/out2", tmpdir);
    CgOptions o2 = {NULL, NULL, NULL};
    TT_EQ_INT(0, cg_emit_artifacts(p, dir, &o2, err, sizeof err));
    snprintf(path, sizeof path, "%s/iam/callback-sender-policy.json", dir);
    struct stat st;
    TT_ASSERT(stat(path, &st) != 0);
    snprintf(path, sizeof path, "%s/deploy.sh", dir);
    s = slurp(path);
    TT_ASSERT(s && strstr(s, "aws configure get region"));
    TT_ASSERT(s && strstr(s, "set -euo pipefail"));
    TT_ASSERT(s && strstr(s, "--invocation-type Event") == NULL);
    free(s);
    snprintf(path, sizeof path, "%s/template.yaml", dir);
    s = slurp(path);
    TT_ASSERT(s && strstr(s, "${AWS::Region}"));
    free(s);
    cJSON *dp2 = load_json(dir, "iam/durable-policy.json");
    TT_ASSERT(dp2 != NULL && !has_action(dp2, "lambda:InvokeFunction"));
    cJSON_Delete(dp2);

    /* An unwritable directory is an error with a message, not a crash. */
    err[0] = '\0';
    TT_EQ_INT(-1, cg_emit_artifacts(p, "/proc/dwf-no-such/x", &o2, err, sizeof err));
    TT_ASSERT(err[0] != '\0');
}

int main(void)
{
    A = arena_new();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/dwf-test-codegen-%d", (int)getpid());
    if (mkdir(tmpdir, 0700) != 0) {
        perror(tmpdir);
        return 1;
    }
    TT_RUN(test_full_compiles);
    TT_RUN(test_line_back_to_handler);
    TT_RUN(test_nasty_strings);
    TT_RUN(test_source_hash);
    TT_RUN(test_reserved_call_name);
    TT_RUN(test_artifacts);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    arena_free(A);
    return TT_EXIT();
}
