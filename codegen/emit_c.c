/*
 * emit_c.c: the handler C for a checked Program (cg_emit_c).
 *
 * The output calls only include/dwf.h and is meant to be read: one frame struct holding every
 * workflow variable (Symbol.cname fields), one static function per block the runtime runs on
 * its own (step body, branch, map item, group, compensation, poll check/until, callback
 * submitter, map item namer, try and catch bodies, lambdas), and the durable statements inline
 * in the workflow body, each wrapped in DWF_TRY so SUSPEND/ERROR/FATAL unwind to the runtime.
 *
 * Why it is shaped so:
 * - Expressions become nested calls of the value helpers, which never fail mid-expression;
 *   one DWF_CHECK after a statement turns a recorded error into DWF_ERROR. Anything with an
 *   effect (http, call, and the durable expressions await / invoke / wait for callback) is
 *   hoisted into a temporary t_N in source order, after a DWF_CHECK, so C's unspecified
 *   argument order never reorders effects and an earlier error stops the effect.
 * - `&&` `||` `??` `?:` keep their short-circuit: hoisted work on the right-hand side is
 *   emitted inside an `if`, so it only runs when the value is needed.
 * - Each function is generated into its own buffer and appended to the file when complete;
 *   nested constructs complete first, so every function is defined before its user and no
 *   prototypes are needed.
 * - `#line N "file.dwf"` precedes each statement (and each function), and DWF_AT(c, line, col)
 *   tells the runtime, so both C compiler errors and runtime errors name the .dwf. After each
 *   function, `#line <its real line> "handler.c"` hands what follows back to the C file (the
 *   comments between functions, the descriptor), so an error there is not blamed on the last
 *   .dwf line. Those real line numbers are known only once the file is whole: functions are
 *   written with a placeholder line, which the last pass replaces (resolve_lines).
 * - try/catch bodies are "transparent": they run on the caller's context and frame, and a
 *   `return` inside them unwinds with DWF_RETURN to the function that owns the block; a
 *   `break` / `continue` whose loop is outside them unwinds with DWF_BREAK / DWF_CONTINUE to
 *   the function that owns the loop, which then breaks or continues its C loop.
 * - `for` and `while` are C loops whose iteration ends (normally or by `continue`) with
 *   dwf_pool_collect, in the loop's third clause.
 * Output is a pure function of the Program: no timestamps, no addresses.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_util.h"
#include "codegen.h"

/* Kinds of generated functions, for their names. */
enum {
    K_STEP, K_COMPENSATE, K_SUBMIT, K_POLL_CHECK, K_POLL_UNTIL, K_BRANCH, K_MAP_ITEM,
    K_MAP_NAME, K_GROUP, K_TRY, K_CATCH, K_LAMBDA, K_NKINDS
};
static const char *const kind_prefix[K_NKINDS] = {
    "step", "compensate", "submit", "poll_check", "poll_until", "branch", "map_item",
    "map_name", "group", "try", "catch", "lambda",
};

/* Function signatures. */
enum { SIG_BLOCK, SIG_ITEM, SIG_NAMER, SIG_LAMBDA };

typedef struct Gen {
    const Program *p;
    CgBuf funcs;          /* finished functions, in definition order */
    CgBuf path_lit;       /* the .dwf path as a C string literal, for #line */
    CgBuf c_name_lit;     /* the name of the C file written, as a C string literal */
    int counter[K_NKINDS];
    int use_step_defaults;
    int use_batch_defaults;
    int oom;
} Gen;

/* Symbols compiled to fixed expressions in one function: two of its own (item and index) and
 * two per enclosing lambda (sema allows lambdas 6 deep). */
#define OV_MAX 16

/* One function being generated. */
typedef struct Fn {
    Gen *g;
    CgBuf body;
    CgBuf *out;          /* where statements go: body, or a capture buffer */
    int indent;
    int ntemp;
    int sig;
    int transparent;     /* try/catch body: `return` gives DWF_RETURN */
    int loops;           /* C loops open around the current statement in this function */
    int no_status;       /* namer: returns a value, so no DWF_CHECK / DWF_TRY */
    int readonly_frame;  /* namer, until: reads the frame only */
    /* References to these symbols compile to a fixed expression: a namer's item and index, a
     * poll's state in `until`, a lambda's parameters and what it captured ("cap[k]"). */
    const Symbol *ov_sym[OV_MAX];
    const char *ov_expr[OV_MAX];
    char ov_buf[OV_MAX][16];
    const Symbol *cb_sym; /* `callback.id` inside a submitter */
    int dirty;            /* a value helper may have recorded an error since the last check */
} Fn;

static void cg_stmts(Fn *fn, const AstNode *list);
static void cg_expr(Fn *fn, const AstNode *n, CgBuf *e);
static void cg_durable_expr(Fn *fn, const AstNode *n, const char *target);

/* ---- small writers ------------------------------------------------------------------------ */

static void fn_line(Fn *fn, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void fn_line(Fn *fn, const char *fmt, ...)
{
    for (int i = 0; i < fn->indent; i++) cg_buf_puts(fn->out, "    ");
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        fn->out->oom = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        cg_buf_putn(fn->out, small, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        if (!big) {
            fn->out->oom = 1;
            return;
        }
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        cg_buf_putn(fn->out, big, (size_t)n);
        free(big);
    }
    cg_buf_putc(fn->out, '\n');
}

static void line_directive(Fn *fn, SrcLoc loc)
{
    if (loc.first_line <= 0) return;
    cg_buf_printf(fn->out, "#line %d ", loc.first_line);
    cg_buf_append(fn->out, &fn->g->path_lit);
    cg_buf_putc(fn->out, '\n');
}

static int new_temp(Fn *fn) { return ++fn->ntemp; }

static int is_ident(const char *s)
{
    if (!s || !*s) return 0;
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

/* The frame field of a symbol: its cname, or v_<position> if sema left none usable. */
static void sym_field(const Gen *g, const Symbol *s, CgBuf *e)
{
    if (is_ident(s->cname)) {
        cg_buf_puts(e, s->cname);
        return;
    }
    int i = 0;
    for (const Symbol *t = g->p->workflow->u.wf.syms; t && t != s; t = t->next) i++;
    cg_buf_printf(e, "v_%d", i);
}

static int is_input_sym(const Fn *fn, const Symbol *s)
{
    return s == NULL || s == fn->g->p->workflow->u.wf.input_sym;
}

/* `f->field` for a variable. */
static void var_ref(Fn *fn, const Symbol *s, CgBuf *e)
{
    cg_buf_puts(e, "f->");
    sym_field(fn->g, s, e);
}

/* ---- expression classification --------------------------------------------------------- */

/* Values that cannot fail and have no effect: no DWF_CHECK needed after them. */
static int is_simple(const AstNode *n)
{
    if (!n) return 1;
    switch (n->kind) {
    case AST_NULL: case AST_BOOL: case AST_NUM: case AST_STR: case AST_DURATION: case AST_NAME:
        return 1;
    case AST_TEMPLATE:
        for (const AstNode *p = n->u.tmpl.parts; p; p = p->next)
            if (!is_simple(p)) return 0;
        return 1;
    case AST_ARRAY:
        for (const AstNode *p = n->u.list.items; p; p = p->next)
            if (!is_simple(p)) return 0;
        return 1;
    case AST_OBJECT:
        for (const AstNode *p = n->u.list.items; p; p = p->next)
            if (p->kind != AST_PROP || !is_simple(p->u.prop.value)) return 0;
        return 1;
    default:
        return 0;
    }
}

static int is_durable_expr(const AstNode *n)
{
    return n && (n->kind == AST_AWAIT || n->kind == AST_INVOKE || n->kind == AST_WAIT_CALLBACK);
}

/* A knob that is a compile-time number (so option structs can be static const). */
static int knob_const(const AstNode *n)
{
    return !n || n->kind == AST_NUM || n->kind == AST_DURATION;
}

/* A number or duration knob as a C double expression; `dflt` when absent. */
static void cg_knob(Fn *fn, const AstNode *n, double dflt, CgBuf *e)
{
    if (!n) {
        cg_double(e, dflt);
    } else if (n->kind == AST_NUM) {
        cg_double(e, n->u.n.num);
    } else if (n->kind == AST_DURATION) {
        cg_double(e, n->u.dur.seconds);
    } else {
        CgBuf v = {0};
        cg_expr(fn, n, &v);
        fn->dirty = 1;
        cg_buf_puts(e, "cJSON_GetNumberValue(");
        cg_buf_append(e, &v);
        cg_buf_putc(e, ')');
        cg_buf_free(&v);
    }
}

/* DWF_CHECK, when something since the last one could have recorded an error. */
static void cg_check(Fn *fn)
{
    if (!fn->no_status && fn->dirty) fn_line(fn, "DWF_CHECK(c);");
    fn->dirty = 0;
}

/* An integer knob (attempts, concurrency): a literal, or a converted expression. */
static void cg_knob_int(Fn *fn, const AstNode *n, int dflt, CgBuf *e)
{
    if (knob_const(n)) {
        double v = !n ? dflt : n->kind == AST_NUM ? n->u.n.num : n->u.dur.seconds;
        cg_buf_printf(e, "%d", (int)v);
        return;
    }
    cg_buf_puts(e, "(int)");
    cg_knob(fn, n, dflt, e);
}

/* ---- expressions -------------------------------------------------------------------------- */

static void cg_str_lit(CgBuf *e, const char *s, size_t len)
{
    if (memchr(s, '\0', len)) {
        cg_buf_puts(e, "dwf_strn(c, ");
        cg_c_string(e, s, len);
        cg_buf_printf(e, ", %zu)", len);
    } else {
        cg_buf_puts(e, "dwf_str(c, ");
        cg_c_string(e, s, len);
        cg_buf_putc(e, ')');
    }
}

/* Comma-separated list of compiled expressions. */
static int cg_expr_list(Fn *fn, const AstNode *list, CgBuf *e)
{
    int n = 0;
    for (const AstNode *a = list; a; a = a->next, n++) {
        if (n) cg_buf_puts(e, ", ");
        cg_expr(fn, a, e);
    }
    return n;
}

static int list_len(const AstNode *list)
{
    int n = 0;
    for (; list; list = list->next) n++;
    return n;
}

/* Hoist a compiled expression into a fresh temporary; returns its number. */
static int hoist(Fn *fn, const CgBuf *v)
{
    int t = new_temp(fn);
    fn_line(fn, "dwf_val *t_%d = %s;", t, v->s ? v->s : "NULL");
    return t;
}

/* An argument of an effect: simple values inline, anything else into a temporary first so
 * the DWF_CHECK before the effect sees its errors. */
static void cg_operand(Fn *fn, const AstNode *n, CgBuf *e)
{
    CgBuf v = {0};
    cg_expr(fn, n, &v);
    if (is_simple(n)) {
        cg_buf_append(e, &v);
    } else {
        cg_buf_printf(e, "t_%d", hoist(fn, &v));
    }
    cg_buf_free(&v);
}

/* A C string (const char *) from an expression: literals directly, else the string value of
 * a template, or of dwf_concat for anything else, held in a temporary. */
static void cg_cstring(Fn *fn, const AstNode *n, CgBuf *e)
{
    if (n->kind == AST_STR && !memchr(n->u.str.s, '\0', n->u.str.len)) {
        cg_c_string(e, n->u.str.s, n->u.str.len);
        return;
    }
    CgBuf v = {0};
    cg_expr(fn, n, &v);
    int t = new_temp(fn);
    if (n->kind == AST_TEMPLATE || n->kind == AST_STR)
        fn_line(fn, "const char *t_%d = cJSON_GetStringValue(%s);", t, v.s ? v.s : "NULL");
    else
        fn_line(fn, "const char *t_%d = cJSON_GetStringValue(dwf_concat(c, 1, %s));", t,
                v.s ? v.s : "NULL");
    cg_buf_free(&v);
    cg_buf_printf(e, "t_%d", t);
}

/* The operation name: the label, else `dflt` (a bind name, or NULL = unnamed). */
static void cg_opname(Fn *fn, const AstNode *label, const char *dflt, CgBuf *e)
{
    if (label) cg_cstring(fn, label, e);
    else if (dflt) cg_c_string(e, dflt, strlen(dflt));
    else cg_buf_puts(e, "NULL");
}

static const char *dwf_op_name(AstOp op)
{
    switch (op) {
    case OP_ADD: return "DWF_OP_ADD";
    case OP_SUB: return "DWF_OP_SUB";
    case OP_MUL: return "DWF_OP_MUL";
    case OP_DIV: return "DWF_OP_DIV";
    case OP_MOD: return "DWF_OP_MOD";
    case OP_EQ: return "DWF_OP_EQ";
    case OP_NE: return "DWF_OP_NE";
    case OP_LT: return "DWF_OP_LT";
    case OP_LE: return "DWF_OP_LE";
    case OP_GT: return "DWF_OP_GT";
    case OP_GE: return "DWF_OP_GE";
    case OP_NEG: return "DWF_OP_NEG";
    case OP_NOT: return "DWF_OP_NOT";
    default: return NULL;
    }
}

/* Compile `n` into a capture buffer (statements it needs go there, one level deeper). */
static void cg_capture(Fn *fn, const AstNode *n, CgBuf *cap, CgBuf *e)
{
    CgBuf *saved = fn->out;
    int dirty = fn->dirty;
    fn->out = cap;
    fn->indent++;
    cg_expr(fn, n, e);
    fn->indent--;
    fn->out = saved;
    fn->dirty |= dirty; /* a check inside the capture may not run */
}

/* a && b, a || b, a ?? b: the value of a or of b (JavaScript's rule), b evaluated only when
 * needed. */
static void cg_shortcircuit(Fn *fn, const AstNode *n, CgBuf *e)
{
    AstOp op = n->u.op.op;
    CgBuf a = {0}, b = {0}, cap = {0};
    cg_expr(fn, n->u.op.a, &a);
    cg_capture(fn, n->u.op.b, &cap, &b);
    if (cap.len == 0 && op == OP_COALESCE) {
        cg_buf_printf(e, "dwf_coalesce(c, %s, %s)", a.s, b.s);
    } else if (cap.len == 0 && is_simple(n->u.op.a) && n->u.op.a->kind == AST_NAME) {
        cg_buf_printf(e, "(%sdwf_truthy(%s) ? %s : %s)", op == OP_OR ? "!" : "", a.s, b.s, a.s);
    } else {
        int t = hoist(fn, &a);
        if (op == OP_COALESCE)
            fn_line(fn, "if (!t_%d || cJSON_IsNull(t_%d)) {", t, t);
        else
            fn_line(fn, "if (%sdwf_truthy(t_%d)) {", op == OP_OR ? "!" : "", t);
        cg_buf_append(fn->out, &cap);
        fn->indent++;
        fn_line(fn, "t_%d = %s;", t, b.s);
        fn->indent--;
        fn_line(fn, "}");
        cg_buf_printf(e, "t_%d", t);
    }
    cg_buf_free(&a);
    cg_buf_free(&b);
    cg_buf_free(&cap);
}

static void cg_cond(Fn *fn, const AstNode *n, CgBuf *e)
{
    CgBuf k = {0}, a = {0}, b = {0}, capa = {0}, capb = {0};
    cg_expr(fn, n->u.cond.cond, &k);
    cg_capture(fn, n->u.cond.a, &capa, &a);
    cg_capture(fn, n->u.cond.b, &capb, &b);
    if (capa.len == 0 && capb.len == 0) {
        cg_buf_printf(e, "(dwf_truthy(%s) ? %s : %s)", k.s, a.s, b.s);
    } else {
        int t = new_temp(fn);
        fn_line(fn, "dwf_val *t_%d;", t);
        fn_line(fn, "if (dwf_truthy(%s)) {", k.s);
        cg_buf_append(fn->out, &capa);
        fn->indent++;
        fn_line(fn, "t_%d = %s;", t, a.s);
        fn->indent--;
        fn_line(fn, "} else {");
        cg_buf_append(fn->out, &capb);
        fn->indent++;
        fn_line(fn, "t_%d = %s;", t, b.s);
        fn->indent--;
        fn_line(fn, "}");
        cg_buf_printf(e, "t_%d", t);
    }
    cg_buf_free(&k);
    cg_buf_free(&a);
    cg_buf_free(&b);
    cg_buf_free(&capa);
    cg_buf_free(&capb);
}

/* A name of include/dwf_builtins.def: only those have a dwf_builtin_<name> to call. */
static int is_builtin(const char *name)
{
    static const char *const names[] = {
#define DWF_BUILTIN(name, min_args, max_args, where, params, summary) #name,
#include "dwf_builtins.def"
    };
    for (size_t i = 0; name && i < sizeof names / sizeof names[0]; i++)
        if (strcmp(names[i], name) == 0) return 1;
    return 0;
}

/* (dwf_val *const[]){a, b} or NULL, for builtins and C calls. */
static int cg_argv(Fn *fn, const AstNode *args, CgBuf *e, int operands)
{
    int n = list_len(args);
    if (n == 0) {
        cg_buf_puts(e, "NULL");
        return 0;
    }
    CgBuf v = {0};
    int i = 0;
    for (const AstNode *a = args; a; a = a->next, i++) {
        if (i) cg_buf_puts(&v, ", ");
        if (operands) cg_operand(fn, a, &v);
        else cg_expr(fn, a, &v);
    }
    cg_buf_printf(e, "(dwf_val *const[]){%s}", v.s);
    cg_buf_free(&v);
    return n;
}

static void cg_effect_guard(Fn *fn, const char *what)
{
    if (fn->no_status)
        fn_line(fn, "#error \"dwf: %s cannot appear in a map item name\"", what);
    else
        cg_check(fn);
}

static void cg_expr_kind(Fn *fn, const AstNode *n, CgBuf *e);
static void fn_begin(Fn *fn, Gen *g, int sig);
static void fn_name(Gen *g, int kind, char *name, size_t n);
static void fn_end(Fn *fn, const char *name, const AstNode *origin, const char *what,
                   const CgBuf *prologue, int falls_off);

/* A lambda (`x => body`, a builtin's argument): a static function returning the body's value,
 * wrapped at the call by dwf_lambda() with the frame and what the code around it reads outside
 * the frame (an enclosing lambda's parameters, a map namer's item, a poll's state), passed as
 * captures. Like a namer it only reads the frame and cannot hold effects (sema keeps lambdas
 * pure); an error inside it is recorded on the context, which the builtin calling it sees. */
static void cg_lambda(Fn *fn, const AstNode *n, CgBuf *e)
{
    Gen *g = fn->g;
    Fn lf;
    fn_begin(&lf, g, SIG_LAMBDA);
    lf.no_status = 1;
    lf.readonly_frame = 1;
    lf.cb_sym = fn->cb_sym;
    CgBuf caps = {0};
    int k = 0;
    for (int i = 0; i < OV_MAX && k < OV_MAX - 2; i++) {
        if (!fn->ov_sym[i]) continue;
        cg_buf_printf(&caps, "%s%s", k ? ", " : "", fn->ov_expr[i]);
        lf.ov_sym[k] = fn->ov_sym[i];
        snprintf(lf.ov_buf[k], sizeof lf.ov_buf[k], "cap[%d]", k);
        lf.ov_expr[k] = lf.ov_buf[k];
        k++;
    }
    lf.ov_sym[k] = n->u.lambda.param_sym;
    lf.ov_expr[k++] = "item";
    lf.ov_sym[k] = n->u.lambda.index_sym;
    lf.ov_expr[k] = "index";
    char name[48];
    fn_name(g, K_LAMBDA, name, sizeof name);
    line_directive(&lf, n->u.lambda.body ? n->u.lambda.body->loc : n->loc);
    CgBuf v = {0}, what = {0};
    cg_expr(&lf, n->u.lambda.body, &v);
    fn_line(&lf, "return %s;", v.s ? v.s : "dwf_null(c)");
    const char *p = n->u.lambda.param ? n->u.lambda.param : "?";
    if (n->u.lambda.index) cg_buf_printf(&what, "lambda (%s, %s) =>", p, n->u.lambda.index);
    else cg_buf_printf(&what, "lambda %s =>", p);
    fn_end(&lf, name, n, what.s ? what.s : "lambda", NULL, 0);
    if (caps.len)
        cg_buf_printf(e, "dwf_lambda(c, %s, frame, (dwf_val *const[]){%s})", name, caps.s);
    else
        cg_buf_printf(e, "dwf_lambda(c, %s, frame, NULL)", name);
    cg_buf_free(&v);
    cg_buf_free(&what);
    cg_buf_free(&caps);
}

/* Compile an expression. The value helpers of the fallible kinds may record an error; that
 * happens when the expression is evaluated, after any operand hoisted (and checked) before
 * it, so the mark is set once the operands are done. */
static void cg_expr(Fn *fn, const AstNode *n, CgBuf *e)
{
    cg_expr_kind(fn, n, e);
    if (n && (n->kind == AST_MEMBER || n->kind == AST_INDEX || n->kind == AST_CALL ||
              n->kind == AST_UNARY ||
              (n->kind == AST_BINARY && n->u.op.op != OP_AND && n->u.op.op != OP_OR &&
               n->u.op.op != OP_COALESCE)))
        fn->dirty = 1;
}

static void cg_expr_kind(Fn *fn, const AstNode *n, CgBuf *e)
{
    if (!n) {
        cg_buf_puts(e, "dwf_null(c)");
        return;
    }
    switch (n->kind) {
    case AST_NULL:
        cg_buf_puts(e, "dwf_null(c)");
        break;
    case AST_BOOL:
        cg_buf_printf(e, "dwf_bool(c, %d)", n->u.bval ? 1 : 0);
        break;
    case AST_NUM:
        cg_buf_puts(e, "dwf_num(c, ");
        cg_double(e, n->u.n.num);
        cg_buf_putc(e, ')');
        break;
    case AST_DURATION:
        cg_buf_puts(e, "dwf_num(c, ");
        cg_double(e, n->u.dur.seconds);
        cg_buf_putc(e, ')');
        break;
    case AST_STR:
        cg_str_lit(e, n->u.str.s, n->u.str.len);
        break;
    case AST_TEMPLATE: {
        int k = list_len(n->u.tmpl.parts);
        if (k == 0) {
            cg_buf_puts(e, "dwf_str(c, \"\")");
            break;
        }
        cg_buf_printf(e, "dwf_concat(c, %d, ", k);
        cg_expr_list(fn, n->u.tmpl.parts, e);
        cg_buf_putc(e, ')');
        break;
    }
    case AST_ARRAY: {
        int k = list_len(n->u.list.items);
        cg_buf_printf(e, "dwf_arr(c, %d", k);
        for (const AstNode *a = n->u.list.items; a; a = a->next) {
            cg_buf_puts(e, ", ");
            cg_expr(fn, a, e);
        }
        cg_buf_putc(e, ')');
        break;
    }
    case AST_OBJECT: {
        int k = list_len(n->u.list.items);
        cg_buf_printf(e, "dwf_obj(c, %d", k);
        for (const AstNode *a = n->u.list.items; a; a = a->next) {
            cg_buf_puts(e, ", ");
            const char *key = a->kind == AST_PROP && a->u.prop.key ? a->u.prop.key : "";
            cg_c_string(e, key, strlen(key));
            cg_buf_puts(e, ", ");
            cg_expr(fn, a->kind == AST_PROP ? a->u.prop.value : a, e);
        }
        cg_buf_putc(e, ')');
        break;
    }
    case AST_PROP:
        cg_expr(fn, n->u.prop.value, e);
        break;
    case AST_NAME: {
        const Symbol *s = n->u.name.sym;
        for (int i = 0; i < OV_MAX; i++)
            if (fn->ov_sym[i] && s == fn->ov_sym[i]) {
                cg_buf_puts(e, fn->ov_expr[i]);
                return;
            }
        if (fn->cb_sym && s == fn->cb_sym) {
            cg_buf_puts(e, "dwf_obj(c, 1, \"id\", dwf_callback_id(c))");
        } else if (!s && n->u.name.id && strcmp(n->u.name.id, "attempt") == 0) {
            /* sema leaves `attempt` unbound inside once-per-attempt code */
            cg_buf_puts(e, "dwf_attempt(c)");
        } else if (is_input_sym(fn, s)) {
            cg_buf_puts(e, "dwf_input(c)");
        } else {
            var_ref(fn, s, e);
        }
        break;
    }
    case AST_MEMBER:
        if (fn->cb_sym && n->u.member.obj && n->u.member.obj->kind == AST_NAME &&
            n->u.member.obj->u.name.sym == fn->cb_sym && n->u.member.key &&
            strcmp(n->u.member.key, "id") == 0) {
            cg_buf_puts(e, "dwf_callback_id(c)");
            break;
        }
        cg_buf_puts(e, "dwf_get(c, ");
        cg_expr(fn, n->u.member.obj, e);
        cg_buf_puts(e, ", ");
        cg_c_string(e, n->u.member.key ? n->u.member.key : "",
                    n->u.member.key ? strlen(n->u.member.key) : 0);
        cg_buf_putc(e, ')');
        break;
    case AST_INDEX:
        cg_buf_puts(e, "dwf_index(c, ");
        cg_expr(fn, n->u.member.obj, e);
        cg_buf_puts(e, ", ");
        cg_expr(fn, n->u.member.index, e);
        cg_buf_putc(e, ')');
        break;
    case AST_CALL: {
        if (!is_builtin(n->u.call.fn)) {
            fn_line(fn, "#error \"dwf: not a builtin function\"");
            cg_buf_puts(e, "dwf_null(c)");
            break;
        }
        CgBuf argv = {0};
        int k = cg_argv(fn, n->u.call.args, &argv, 0);
        cg_buf_printf(e, "dwf_builtin_%s(c, %d, %s)", n->u.call.fn, k, argv.s);
        cg_buf_free(&argv);
        break;
    }
    case AST_CCALL: {
        CgBuf argv = {0}, call = {0};
        int k = cg_argv(fn, n->u.call.args, &argv, 1);
        cg_effect_guard(fn, "call");
        cg_buf_puts(&call, "dwf_call(c, ");
        cg_c_string(&call, n->u.call.fn, strlen(n->u.call.fn));
        cg_buf_printf(&call, ", %s, %d, %s)", n->u.call.fn, k, argv.s);
        cg_buf_printf(e, "t_%d", hoist(fn, &call));
        fn->dirty = 1;
        cg_buf_free(&argv);
        cg_buf_free(&call);
        break;
    }
    case AST_UNARY:
        cg_buf_printf(e, "dwf_unop(c, %s, ", dwf_op_name(n->u.op.op) ? dwf_op_name(n->u.op.op)
                                                                     : "DWF_OP_NOT");
        cg_expr(fn, n->u.op.a, e);
        cg_buf_putc(e, ')');
        break;
    case AST_BINARY:
        if (n->u.op.op == OP_AND || n->u.op.op == OP_OR || n->u.op.op == OP_COALESCE) {
            cg_shortcircuit(fn, n, e);
            break;
        }
        cg_buf_printf(e, "dwf_binop(c, %s, ", dwf_op_name(n->u.op.op) ? dwf_op_name(n->u.op.op)
                                                                      : "DWF_OP_EQ");
        cg_expr(fn, n->u.op.a, e);
        cg_buf_puts(e, ", ");
        cg_expr(fn, n->u.op.b, e);
        cg_buf_putc(e, ')');
        break;
    case AST_COND:
        cg_cond(fn, n, e);
        break;
    case AST_LAMBDA:
        cg_lambda(fn, n, e);
        break;
    case AST_HTTP: {
        CgBuf call = {0}, url = {0}, hdr = {0}, body = {0}, tmo = {0};
        cg_operand(fn, n->u.http.url, &url);
        if (n->u.http.headers) cg_operand(fn, n->u.http.headers, &hdr);
        else cg_buf_puts(&hdr, "NULL");
        if (n->u.http.body) cg_operand(fn, n->u.http.body, &body);
        else cg_buf_puts(&body, "NULL");
        cg_knob(fn, n->u.http.timeout, 0, &tmo);
        cg_effect_guard(fn, "http");
        const char *m = n->u.http.method ? n->u.http.method : "GET";
        cg_buf_puts(&call, "dwf_http(c, ");
        cg_c_string(&call, m, strlen(m));
        cg_buf_printf(&call, ", %s, %s, %s, %s)", url.s, hdr.s, body.s, tmo.s);
        cg_buf_printf(e, "t_%d", hoist(fn, &call));
        fn->dirty = 1;
        cg_buf_free(&call);
        cg_buf_free(&url);
        cg_buf_free(&hdr);
        cg_buf_free(&body);
        cg_buf_free(&tmo);
        break;
    }
    case AST_AWS: {
        CgBuf call = {0}, params = {0};
        cg_operand(fn, n->u.aws.params, &params);
        cg_effect_guard(fn, "aws");
        cg_buf_puts(&call, "dwf_aws(c, ");
        cg_c_string(&call, n->u.aws.service, strlen(n->u.aws.service));
        cg_buf_puts(&call, ", ");
        cg_c_string(&call, n->u.aws.action, strlen(n->u.aws.action));
        cg_buf_printf(&call, ", %s)", params.s);
        cg_buf_printf(e, "t_%d", hoist(fn, &call));
        fn->dirty = 1;
        cg_buf_free(&call);
        cg_buf_free(&params);
        break;
    }
    case AST_AWAIT:
    case AST_INVOKE:
    case AST_WAIT_CALLBACK: {
        if (fn->no_status) {
            fn_line(fn, "#error \"dwf: a durable operation cannot appear in a map item name\"");
            cg_buf_puts(e, "dwf_null(c)");
            break;
        }
        int t = new_temp(fn);
        fn_line(fn, "dwf_val *t_%d = NULL;", t);
        char target[32];
        snprintf(target, sizeof target, "&t_%d", t);
        cg_durable_expr(fn, n, target);
        cg_buf_printf(e, "t_%d", t);
        break;
    }
    default:
        /* Not an expression: sema never lets one through; make the C say so. */
        fn_line(fn, "#error \"dwf: %s is not an expression\"", ast_kind_name(n->kind));
        cg_buf_puts(e, "dwf_null(c)");
        break;
    }
}

/* ---- functions ------------------------------------------------------------------------------ */

static void fn_begin(Fn *fn, Gen *g, int sig)
{
    memset(fn, 0, sizeof *fn);
    fn->g = g;
    fn->out = &fn->body;
    fn->indent = 1;
    fn->sig = sig;
}

/* Name a new function of a kind: kind_N. */
static void fn_name(Gen *g, int kind, char *name, size_t n)
{
    snprintf(name, n, "%s_%d", kind_prefix[kind], ++g->counter[kind]);
}

/* Whether generated code mentions identifier `tok` outside string literals, comments and
 * preprocessor lines: decides which parameters need a (void) cast. */
static int uses_token(const CgBuf *b, const char *tok)
{
    if (!b || !b->s) return 0;
    size_t n = strlen(tok);
    const char *s = b->s, *end = b->s + b->len;
    int bol = 1;
    while (s < end) {
        char ch = *s;
        if (bol && ch == '#') { /* #line / #error: skip the line */
            while (s < end && *s != '\n') s++;
            continue;
        }
        bol = ch == '\n';
        if (ch == '"') { /* string literal: skip, honouring escapes */
            for (s++; s < end && *s != '"'; s++)
                if (*s == '\\' && s + 1 < end) s++;
            s++;
            continue;
        }
        if (ch == '/' && s + 1 < end && s[1] == '*') {
            const char *e = strstr(s + 2, "*/");
            s = e ? e + 2 : end;
            continue;
        }
        int ident = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
                    (ch >= '0' && ch <= '9');
        if (!ident) {
            s++;
            continue;
        }
        const char *w = s;
        while (s < end && ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
                           (*s >= '0' && *s <= '9')))
            s++;
        if ((size_t)(s - w) == n && memcmp(w, tok, n) == 0) return 1;
    }
    return 0;
}

/* The placeholder for `#line <this line + 1> "handler.c"`: only the emitter starts a line with
 * '#' (strings and comments never hold a line break), and no directive of its own reads so. */
#define BACK_TO_C "#line @"

/* Finish `fn` as function `name` and append it to the file. `prologue` holds lines that run
 * before the body (binding item/index), `what` describes it in the comment above. */
static void fn_end(Fn *fn, const char *name, const AstNode *origin, const char *what,
                   const CgBuf *prologue, int falls_off)
{
    Gen *g = fn->g;
    CgBuf *o = &g->funcs;
    cg_buf_puts(o, "\n/* ");
    cg_buf_puts(o, what);
    if (origin) cg_buf_printf(o, ", line %d", origin->loc.first_line);
    cg_buf_puts(o, " */\n");
    if (origin && origin->loc.first_line > 0) {
        cg_buf_printf(o, "#line %d ", origin->loc.first_line);
        cg_buf_append(o, &g->path_lit);
        cg_buf_putc(o, '\n');
    }
    switch (fn->sig) {
    case SIG_BLOCK:
        cg_buf_printf(o, "static int %s(dwf_ctx *c, void *frame, dwf_val **out)\n{\n", name);
        break;
    case SIG_ITEM:
        cg_buf_printf(o, "static int %s(dwf_ctx *c, void *frame, dwf_val *item, dwf_val *index, "
                         "dwf_val **out)\n{\n", name);
        break;
    case SIG_LAMBDA:
        cg_buf_printf(o, "static dwf_val *%s(dwf_ctx *c, const void *frame, dwf_val *const *cap, "
                         "dwf_val *item, dwf_val *index)\n{\n", name);
        break;
    default:
        cg_buf_printf(o, "static dwf_val *%s(dwf_ctx *c, void *frame, dwf_val *item, "
                         "dwf_val *index)\n{\n", name);
        break;
    }
    /* Declare or silence exactly what the code uses: -Wunused-* are errors. */
    int uses_f = uses_token(prologue, "f") || uses_token(&fn->body, "f");
    if (uses_f)
        cg_buf_printf(o, "    %sstruct frame *f = frame;\n", fn->readonly_frame ? "const " : "");
    else
        cg_buf_puts(o, "    (void)frame;\n");
    if (!uses_token(prologue, "c") && !uses_token(&fn->body, "c") &&
        !(falls_off && fn->sig == SIG_NAMER))
        cg_buf_puts(o, "    (void)c;\n");
    if (fn->sig == SIG_LAMBDA && !uses_token(&fn->body, "cap")) cg_buf_puts(o, "    (void)cap;\n");
    if (fn->sig != SIG_BLOCK) {
        if (!uses_token(prologue, "item") && !uses_token(&fn->body, "item"))
            cg_buf_puts(o, "    (void)item;\n");
        if (!uses_token(prologue, "index") && !uses_token(&fn->body, "index"))
            cg_buf_puts(o, "    (void)index;\n");
    }
    if (fn->sig != SIG_NAMER && fn->sig != SIG_LAMBDA && !uses_token(prologue, "out") &&
        !uses_token(&fn->body, "out"))
        cg_buf_puts(o, "    (void)out;\n");
    if (prologue) cg_buf_append(o, prologue);
    cg_buf_append(o, &fn->body);
    if (falls_off) {
        if (fn->sig == SIG_NAMER) cg_buf_puts(o, "    return dwf_null(c);\n");
        else cg_buf_puts(o, "    return DWF_OK;\n");
    }
    cg_buf_puts(o, "}\n" BACK_TO_C "\n");
    if (fn->body.oom) g->oom = 1;
    cg_buf_free(&fn->body);
}

/* Whether control can reach the end of a statement list (it cannot after return/fail). */
static int falls_off(const AstNode *list)
{
    const AstNode *last = NULL;
    for (const AstNode *s = list; s; s = s->next) last = s;
    return !(last && (last->kind == AST_RETURN || last->kind == AST_FAIL || last->kind == AST_BREAK ||
                      last->kind == AST_CONTINUE));
}

/* A block function (step body, branch, group, compensation, try, catch, submitter) for the
 * statements `body`; writes its name into `name`. */
static void gen_block_fn(Gen *g, int kind, const AstNode *origin, const char *what,
                         const AstNode *body, int transparent, const Symbol *cb_sym, char *name,
                         size_t namelen)
{
    Fn fn;
    fn_begin(&fn, g, SIG_BLOCK);
    fn.transparent = transparent;
    fn.cb_sym = cb_sym;
    fn_name(g, kind, name, namelen);
    cg_stmts(&fn, body);
    fn_end(&fn, name, origin, what, NULL, falls_off(body));
}

/* A description of a construct for the comment above its function. */
static void describe(CgBuf *d, const char *kw, const char *bind, const AstNode *label)
{
    cg_buf_puts(d, kw);
    if (bind) cg_buf_printf(d, " %s", bind);
    if (label && label->kind == AST_STR) {
        cg_buf_puts(d, " \"");
        cg_c_comment(d, label->u.str.s, label->u.str.len);
        cg_buf_putc(d, '"');
    } else if (label) {
        cg_buf_puts(d, " \"...\"");
    }
}

/* ---- options ---------------------------------------------------------------------------- */

static const char *jitter_name(int j)
{
    return j == JITTER_HALF ? "DWF_JITTER_HALF" : j == JITTER_NONE ? "DWF_JITTER_NONE"
                                                                 : "DWF_JITTER_FULL";
}

/* A dwf_retry for a retry { } block, declared in the current function; returns its temp. */
static int cg_retry(Fn *fn, const AstNode *r)
{
    int on = 0;
    if (r->u.retry.on) {
        on = new_temp(fn);
        CgBuf list = {0};
        for (const AstNode *s = r->u.retry.on; s; s = s->next) {
            if (s->kind == AST_STR) cg_c_string(&list, s->u.str.s, s->u.str.len);
            else cg_buf_puts(&list, "\"\"");
            cg_buf_puts(&list, ", ");
        }
        fn_line(fn, "static const char *const t_%d[] = {%sNULL};", on, list.s ? list.s : "");
        cg_buf_free(&list);
    }
    int konst = knob_const(r->u.retry.attempts) && knob_const(r->u.retry.delay) &&
                knob_const(r->u.retry.backoff) && knob_const(r->u.retry.max);
    CgBuf a = {0}, d = {0}, b = {0}, m = {0};
    cg_knob_int(fn, r->u.retry.attempts, 6, &a); /* DWF_RETRY_DEFAULT for what is not given */
    cg_knob(fn, r->u.retry.delay, 5, &d);
    cg_knob(fn, r->u.retry.backoff, 2, &b);
    cg_knob(fn, r->u.retry.max, 60, &m);
    int t = new_temp(fn);
    char onref[24] = "NULL";
    if (on) snprintf(onref, sizeof onref, "t_%d", on);
    fn_line(fn, "%sconst dwf_retry t_%d = {.attempts = %s, .delay_s = %s, .backoff = %s, "
                ".max_s = %s, .jitter = %s, .on = %s};",
            konst ? "static " : "", t, a.s, d.s, b.s, m.s,
            jitter_name(r->u.retry.jitter_set ? (int)r->u.retry.jitter : JITTER_FULL), onref);
    cg_buf_free(&a);
    cg_buf_free(&d);
    cg_buf_free(&b);
    cg_buf_free(&m);
    return t;
}

/* dwf_batch_opts for parallel/map knobs: "&t_N" or "&batch_defaults". */
static void cg_batch_opts(Fn *fn, const AstNode *n, CgBuf *ref)
{
    const AstNode *mx = n->u.batch.max_concurrency, *ms = n->u.batch.min_successful,
                  *tol = n->u.batch.tolerate;
    if (!mx && !ms && !tol) {
        fn->g->use_batch_defaults = 1;
        cg_buf_puts(ref, "&batch_defaults");
        return;
    }
    int konst = knob_const(mx) && knob_const(ms) && knob_const(tol);
    CgBuf a = {0}, b = {0}, cnt = {0}, pct = {0};
    cg_knob_int(fn, mx, 0, &a);
    cg_knob_int(fn, ms, -1, &b);
    if (tol && n->u.batch.tolerate_percent) {
        cg_buf_puts(&cnt, "-1");
        cg_knob(fn, tol, -1, &pct);
    } else {
        cg_knob_int(fn, tol, -1, &cnt);
        cg_buf_puts(&pct, "-1");
    }
    int t = new_temp(fn);
    fn_line(fn, "%sconst dwf_batch_opts t_%d = {.max_concurrency = %s, "
                ".min_successful = %s, .tolerated_failures = %s, "
                ".tolerated_percent = %s};",
            konst ? "static " : "", t, a.s, b.s, cnt.s, pct.s);
    cg_buf_printf(ref, "&t_%d", t);
    cg_buf_free(&a);
    cg_buf_free(&b);
    cg_buf_free(&cnt);
    cg_buf_free(&pct);
}

/* Where a durable operation puts its result: the bound variable, or a fresh temporary. */
static void cg_target(Fn *fn, const Symbol *sym, CgBuf *t)
{
    if (sym) {
        cg_buf_putc(t, '&');
        var_ref(fn, sym, t);
    } else {
        int k = new_temp(fn);
        fn_line(fn, "dwf_val *t_%d = NULL;", k);
        cg_buf_printf(t, "&t_%d", k);
    }
}

/* A per-attempt timeout's field in an options struct (sema allows only a duration literal):
 * ", .timeout_s = 30" or nothing. */
static void attempt_timeout(const char *field, const AstNode *timeout, char *buf, size_t n)
{
    buf[0] = '\0';
    if (timeout && timeout->kind == AST_DURATION)
        snprintf(buf, n, ", .%s = %.17g", field, timeout->u.dur.seconds);
}

/* submitter_timeout: a wait for callback's, NULL for a callback */
static void cg_callback_opts(Fn *fn, const AstNode *timeout, const AstNode *heartbeat,
                             const AstNode *submitter_timeout, CgBuf *ref)
{
    CgBuf a = {0}, b = {0};
    cg_knob(fn, timeout, 0, &a);
    cg_knob(fn, heartbeat, 0, &b);
    char sub[64];
    attempt_timeout("submitter_timeout_s", submitter_timeout, sub, sizeof sub);
    int t = new_temp(fn);
    fn_line(fn, "%sconst dwf_callback_opts t_%d = {.timeout_s = %s, .heartbeat_s = %s%s};",
            knob_const(timeout) && knob_const(heartbeat) ? "static " : "", t, a.s, b.s, sub);
    cg_buf_printf(ref, "&t_%d", t);
    cg_buf_free(&a);
    cg_buf_free(&b);
}

/* ---- durable expressions: await, invoke, wait for callback --------------------------------- */

static void cg_durable_expr(Fn *fn, const AstNode *n, const char *target)
{
    switch (n->kind) {
    case AST_AWAIT: {
        CgBuf cb = {0};
        cg_operand(fn, n->u.await.target, &cb);
        cg_check(fn);
        fn_line(fn, "DWF_TRY(dwf_await(c, %s, %s));", cb.s, target);
        cg_buf_free(&cb);
        break;
    }
    case AST_INVOKE: {
        CgBuf name = {0}, func = {0}, payload = {0}, tmo = {0};
        cg_opname(fn, n->u.invoke.label, NULL, &name);
        if (n->u.invoke.function) cg_cstring(fn, n->u.invoke.function, &func);
        else cg_buf_puts(&func, "\"\"");
        if (n->u.invoke.payload) cg_operand(fn, n->u.invoke.payload, &payload);
        else cg_buf_puts(&payload, "dwf_null(c)");
        cg_knob(fn, n->u.invoke.timeout, 0, &tmo);
        cg_check(fn);
        fn_line(fn, "DWF_TRY(dwf_invoke(c, %s, %s, %s, %s, %s));", name.s, func.s, payload.s,
                tmo.s, target);
        cg_buf_free(&name);
        cg_buf_free(&func);
        cg_buf_free(&payload);
        cg_buf_free(&tmo);
        break;
    }
    case AST_WAIT_CALLBACK: {
        char sub[48];
        CgBuf what = {0};
        describe(&what, "wait for callback submitter", NULL, n->u.wfc.label);
        gen_block_fn(fn->g, K_SUBMIT, n, what.s, n->u.wfc.body, 0, n->u.wfc.cb_sym, sub,
                     sizeof sub);
        cg_buf_free(&what);
        CgBuf name = {0}, opts = {0};
        cg_opname(fn, n->u.wfc.label, NULL, &name);
        cg_callback_opts(fn, n->u.wfc.timeout, n->u.wfc.heartbeat, n->u.wfc.submitter_timeout, &opts);
        char retry[24] = "NULL";
        if (n->u.wfc.retry) snprintf(retry, sizeof retry, "&t_%d", cg_retry(fn, n->u.wfc.retry));
        cg_check(fn);
        fn_line(fn, "DWF_TRY(dwf_wait_for_callback(c, %s, %s, f, %s, %s, %s));", name.s, sub,
                opts.s, retry, target);
        cg_buf_free(&name);
        cg_buf_free(&opts);
        break;
    }
    default:
        break;
    }
}

/* ---- statements ---------------------------------------------------------------------------- */

/* `return`: the function's own value, or DWF_RETURN out of a try/catch body. */
static void cg_return_code(Fn *fn)
{
    fn_line(fn, "return %s;", fn->transparent ? "DWF_RETURN" : "DWF_OK");
}

static void cg_step(Fn *fn, const AstNode *n)
{
    Gen *g = fn->g;
    char body[48], comp[48] = "NULL";
    CgBuf what = {0};
    describe(&what, "step", n->u.step.bind, n->u.step.label);
    gen_block_fn(g, K_STEP, n, what.s, n->u.step.body, 0, NULL, body, sizeof body);
    if (n->u.step.compensate) {
        CgBuf cw = {0};
        cg_buf_puts(&cw, "compensation of ");
        cg_buf_append(&cw, &what);
        gen_block_fn(g, K_COMPENSATE, n, cw.s, n->u.step.compensate, 0, NULL, comp, sizeof comp);
        cg_buf_free(&cw);
    }
    cg_buf_free(&what);

    CgBuf name = {0}, opts = {0}, target = {0};
    cg_opname(fn, n->u.step.label, n->u.step.bind, &name);
    if (!n->u.step.retry && n->u.step.semantics == SEM_AT_LEAST_ONCE && !n->u.step.compensate &&
        !n->u.step.timeout) {
        g->use_step_defaults = 1;
        cg_buf_puts(&opts, "&step_defaults");
    } else {
        char retry[24] = "NULL";
        if (n->u.step.retry) snprintf(retry, sizeof retry, "&t_%d", cg_retry(fn, n->u.step.retry));
        int t = new_temp(fn);
        char timeout[64];
        attempt_timeout("timeout_s", n->u.step.timeout, timeout, sizeof timeout);
        fn_line(fn, "static const dwf_step_opts t_%d = {.retry = %s, .semantics = %s, "
                    ".compensate = %s%s};",
                t, retry,
                n->u.step.semantics == SEM_AT_MOST_ONCE ? "DWF_AT_MOST_ONCE" : "DWF_AT_LEAST_ONCE",
                comp, timeout);
        cg_buf_printf(&opts, "&t_%d", t);
    }
    cg_target(fn, n->u.step.sym, &target);
    cg_check(fn);
    fn_line(fn, "DWF_TRY(dwf_step(c, %s, %s, f, %s, %s));", name.s, body, opts.s, target.s);
    cg_buf_free(&name);
    cg_buf_free(&opts);
    cg_buf_free(&target);
}

/* A function prologue line binding a parameter (item, index, poll state) to its variable. */
static void bind_param(Fn *f, const Symbol *sym, const char *param, CgBuf *pro)
{
    if (!sym) return;
    CgBuf v = {0};
    var_ref(f, sym, &v);
    cg_buf_printf(pro, "    %s = %s;\n", v.s, param);
    cg_buf_free(&v);
}

static void cg_poll(Fn *fn, const AstNode *n)
{
    Gen *g = fn->g;
    char check[48], until[48];
    CgBuf what = {0}, cw = {0};
    describe(&what, "poll", n->u.poll.bind, n->u.poll.label);

    /* The check body runs on the caller's frame with `state` bound to the current state;
     * its `return` is the new state, and falling off the end keeps the state. */
    {
        Fn cf;
        fn_begin(&cf, g, SIG_ITEM);
        fn_name(g, K_POLL_CHECK, check, sizeof check);
        CgBuf pro = {0};
        bind_param(&cf, n->u.poll.state_sym, "item", &pro);
        cg_buf_puts(&pro, "    *out = item;\n");
        cg_stmts(&cf, n->u.poll.body);
        cg_buf_printf(&cw, "check of %s", what.s);
        fn_end(&cf, check, n, cw.s, &pro, falls_off(n->u.poll.body));
        cg_buf_free(&pro);
        cg_buf_free(&cw);
    }
    /* `until` reads the new state without touching the frame. */
    {
        Fn uf;
        fn_begin(&uf, g, SIG_ITEM);
        uf.readonly_frame = 1;
        uf.ov_sym[0] = n->u.poll.state_sym;
        uf.ov_expr[0] = "item";
        fn_name(g, K_POLL_UNTIL, until, sizeof until);
        if (n->u.poll.until) line_directive(&uf, n->u.poll.until->loc);
        CgBuf v = {0};
        cg_expr(&uf, n->u.poll.until, &v);
        fn_line(&uf, "*out = dwf_bool(c, dwf_truthy(%s));", v.s);
        cg_check(&uf);
        cg_buf_free(&v);
        cg_buf_printf(&cw, "until of %s", what.s);
        fn_end(&uf, until, n, cw.s, NULL, 1);
        cg_buf_free(&cw);
    }
    cg_buf_free(&what);

    CgBuf name = {0}, init = {0}, every = {0}, backoff = {0}, mx = {0}, att = {0}, target = {0};
    cg_opname(fn, n->u.poll.label, NULL, &name);
    if (n->u.poll.state) cg_operand(fn, n->u.poll.state, &init);
    else cg_buf_puts(&init, "dwf_null(c)");
    /* Unset knobs: the SDK's createWaitStrategy defaults (5 s, x1.5, max 300 s, 60 attempts). */
    cg_knob(fn, n->u.poll.every, 5, &every);
    cg_knob(fn, n->u.poll.backoff, 1.5, &backoff);
    cg_knob(fn, n->u.poll.max, 300, &mx);
    cg_knob_int(fn, n->u.poll.attempts, 0, &att);
    int konst = knob_const(n->u.poll.every) && knob_const(n->u.poll.backoff) &&
                knob_const(n->u.poll.max) && knob_const(n->u.poll.attempts);
    char timeout[64];
    attempt_timeout("timeout_s", n->u.poll.timeout, timeout, sizeof timeout);
    int t = new_temp(fn);
    fn_line(fn, "%sconst dwf_poll_opts t_%d = {.every_s = %s, .backoff = %s, .max_s = %s, "
                ".attempts = %s, .jitter = %s%s};",
            konst ? "static " : "", t, every.s, backoff.s, mx.s, att.s,
            jitter_name((int)n->u.poll.jitter), timeout);
    cg_target(fn, n->u.poll.sym, &target);
    cg_check(fn);
    fn_line(fn, "DWF_TRY(dwf_poll(c, %s, %s, %s, f, %s, &t_%d, %s));", name.s, check, until,
            init.s, t, target.s);
    cg_buf_free(&name);
    cg_buf_free(&init);
    cg_buf_free(&every);
    cg_buf_free(&backoff);
    cg_buf_free(&mx);
    cg_buf_free(&att);
    cg_buf_free(&target);
}

static void cg_parallel(Fn *fn, const AstNode *n)
{
    Gen *g = fn->g;
    int nb = list_len(n->u.batch.branches);
    CgBuf arr = {0};
    int i = 0;
    for (const AstNode *b = n->u.batch.branches; b; b = b->next, i++) {
        char bname[48];
        CgBuf what = {0};
        describe(&what, "branch", b->u.group.bind, b->u.group.label);
        gen_block_fn(g, K_BRANCH, b, what.s, b->u.group.body, 0, NULL, bname, sizeof bname);
        cg_buf_free(&what);
        if (i) cg_buf_puts(&arr, ", ");
        cg_buf_putc(&arr, '{');
        cg_opname(fn, b->u.group.label, NULL, &arr); /* a binding never names (language.md) */
        cg_buf_printf(&arr, ", %s}", bname);
    }
    CgBuf name = {0}, opts = {0}, target = {0};
    cg_opname(fn, n->u.batch.label, NULL, &name);
    cg_batch_opts(fn, n, &opts);
    int t = new_temp(fn);
    if (nb > 0) fn_line(fn, "const dwf_branch t_%d[] = {%s};", t, arr.s);
    else fn_line(fn, "const dwf_branch *t_%d = NULL;", t);
    /* Branches that bind a name get that branch's result once the batch is done. */
    int any_bound = 0;
    for (const AstNode *b = n->u.batch.branches; b; b = b->next)
        if (b->u.group.sym) any_bound = 1;
    if (any_bound && !n->u.batch.sym) {
        cg_target(fn, NULL, &target);
    } else {
        cg_target(fn, n->u.batch.sym, &target);
    }
    cg_check(fn);
    fn_line(fn, "DWF_TRY(dwf_parallel(c, %s, t_%d, %d, f, %s, %s));", name.s, t, nb, opts.s,
            target.s);
    i = 0;
    for (const AstNode *b = n->u.batch.branches; b; b = b->next, i++) {
        if (!b->u.group.sym) continue;
        CgBuf v = {0};
        var_ref(fn, b->u.group.sym, &v);
        fn_line(fn, "%s = dwf_get(c, dwf_index(c, dwf_get(c, %s, \"all\"), dwf_num(c, %d)), "
                    "\"result\");",
                v.s, target.s + 1, i);
        cg_buf_free(&v);
    }
    if (any_bound) {
        fn->dirty = 1;
        cg_check(fn);
    }
    cg_buf_free(&arr);
    cg_buf_free(&name);
    cg_buf_free(&opts);
    cg_buf_free(&target);
}

static void cg_map(Fn *fn, const AstNode *n)
{
    Gen *g = fn->g;
    char body[48], namer[48] = "NULL";
    CgBuf what = {0}, w2 = {0};
    describe(&what, "map", n->u.batch.bind, n->u.batch.label);
    {
        /* Each item runs in its own copy of the frame: bind item and index there. */
        Fn mf;
        fn_begin(&mf, g, SIG_ITEM);
        fn_name(g, K_MAP_ITEM, body, sizeof body);
        CgBuf pro = {0};
        bind_param(&mf, n->u.batch.item_sym, "item", &pro);
        bind_param(&mf, n->u.batch.index_sym, "index", &pro);
        cg_stmts(&mf, n->u.batch.body);
        cg_buf_printf(&w2, "item of %s", what.s);
        fn_end(&mf, body, n, w2.s, &pro, falls_off(n->u.batch.body));
        cg_buf_free(&pro);
        cg_buf_free(&w2);
    }
    if (n->u.batch.item_name) {
        /* The namer runs on the parent's context and frame: it only reads them. */
        Fn nf;
        fn_begin(&nf, g, SIG_NAMER);
        nf.no_status = 1;
        nf.readonly_frame = 1;
        nf.ov_sym[0] = n->u.batch.item_sym;
        nf.ov_expr[0] = "item";
        nf.ov_sym[1] = n->u.batch.index_sym;
        nf.ov_expr[1] = "index";
        fn_name(g, K_MAP_NAME, namer, sizeof namer);
        line_directive(&nf, n->u.batch.item_name->loc);
        CgBuf v = {0};
        cg_expr(&nf, n->u.batch.item_name, &v);
        fn_line(&nf, "return %s;", v.s);
        cg_buf_free(&v);
        cg_buf_printf(&w2, "item names of %s", what.s);
        fn_end(&nf, namer, n, w2.s, NULL, 0);
        cg_buf_free(&w2);
    }
    cg_buf_free(&what);

    CgBuf name = {0}, items = {0}, opts = {0}, target = {0};
    cg_opname(fn, n->u.batch.label, NULL, &name);
    cg_operand(fn, n->u.batch.over, &items);
    cg_batch_opts(fn, n, &opts);
    cg_target(fn, n->u.batch.sym, &target);
    cg_check(fn);
    fn_line(fn, "DWF_TRY(dwf_map(c, %s, %s, %s, %s, f, %s, %s));", name.s, items.s, body, namer,
            opts.s, target.s);
    cg_buf_free(&name);
    cg_buf_free(&items);
    cg_buf_free(&opts);
    cg_buf_free(&target);
}

/* Whether a break or continue inside a try leaves a loop around the try (only those reach the
 * try as DWF_BREAK / DWF_CONTINUE). `in` lists the loops entered inside the try so far. */
typedef struct InnerLoop { const AstNode *loop; const struct InnerLoop *up; } InnerLoop;

static int has_jump_list(const AstNode *list, const InnerLoop *in);

static int has_jump_in(const AstNode *s, const InnerLoop *in)
{
    InnerLoop here = {s, in};
    switch (s->kind) {
    case AST_BREAK: case AST_CONTINUE:
        for (; in; in = in->up)
            if (in->loop == s->u.jump.loop) return 0;
        return 1;
    case AST_IF: return has_jump_list(s->u.if_.then, in) || has_jump_list(s->u.if_.else_, in);
    case AST_TRY:
        if (has_jump_list(s->u.try_.body, in)) return 1;
        for (const AstNode *k = s->u.try_.catches; k; k = k->next)
            if (has_jump_list(k->u.catch_.handler, in)) return 1;
        return 0;
    case AST_FOR: return has_jump_list(s->u.for_.body, &here);
    case AST_WHILE: return has_jump_list(s->u.while_.body, &here);
    default: return 0;
    }
}

static int has_jump_list(const AstNode *list, const InnerLoop *in)
{
    for (const AstNode *s = list; s; s = s->next)
        if (has_jump_in(s, in)) return 1;
    return 0;
}

static int has_jump(const AstNode *try_)
{
    return has_jump_in(try_, NULL);
}

/* One catch clause: bind the error, run the handler into t_<t>. */
static void cg_catch_body(Fn *fn, const AstNode *k, const char *err, int t)
{
    char cbody[48];
    gen_block_fn(fn->g, K_CATCH, k->u.catch_.handler ? k->u.catch_.handler : k, "catch body",
                 k->u.catch_.handler, 1, NULL, cbody, sizeof cbody);
    if (k->u.catch_.err_sym) {
        CgBuf v = {0};
        var_ref(fn, k->u.catch_.err_sym, &v);
        fn_line(fn, "%s = %s;", v.s, err);
        cg_buf_free(&v);
    } else if (strcmp(err, "dwf_error_take(c)") == 0) {
        fn_line(fn, "(void)%s;", err);
    }
    fn_line(fn, "t_%d = %s(c, f, out);", t, cbody);
}

/* The clauses of a try, in order: a typed one runs when dwf_error_is() matches along the
 * error's cause chain; an untyped one catches the rest; with none left, the error is raised
 * again. A lone untyped clause takes the error directly, as before typed catches existed. */
static void cg_catches(Fn *fn, const AstNode *n, int t)
{
    const AstNode *k = n->u.try_.catches;
    if (k && !k->u.catch_.types) {
        cg_catch_body(fn, k, "dwf_error_take(c)", t);
        return;
    }
    int e = new_temp(fn);
    fn_line(fn, "dwf_val *t_%d = dwf_error_take(c);", e);
    char err[24];
    snprintf(err, sizeof err, "t_%d", e);
    for (int first = 1; k; k = k->next, first = 0) {
        if (!k->u.catch_.types) {
            fn_line(fn, "} else {");
            fn->indent++;
            cg_catch_body(fn, k, err, t);
            fn->indent--;
            fn_line(fn, "}");
            return;
        }
        CgBuf types = {0};
        for (const AstNode *s = k->u.catch_.types; s; s = s->next) {
            cg_c_string(&types, s->u.str.s, s->u.str.len);
            cg_buf_puts(&types, ", ");
        }
        fn_line(fn, "%sif (dwf_error_is(t_%d, (const char *const[]){%sNULL})) {", first ? "" : "} else ", e,
                types.s);
        cg_buf_free(&types);
        fn->indent++;
        cg_catch_body(fn, k, err, t);
        fn->indent--;
    }
    fn_line(fn, "} else {");
    fn_line(fn, "    t_%d = dwf_error_raise(c, t_%d);", t, e);
    fn_line(fn, "}");
}

static void cg_try(Fn *fn, const AstNode *n)
{
    char tbody[48];
    gen_block_fn(fn->g, K_TRY, n, "try body", n->u.try_.body, 1, NULL, tbody, sizeof tbody);
    int t = new_temp(fn);
    fn_line(fn, "int t_%d = %s(c, f, out);", t, tbody);
    fn_line(fn, "if (t_%d == DWF_ERROR) {", t);
    fn->indent++;
    cg_catches(fn, n, t);
    fn->indent--;
    fn_line(fn, "}");
    fn_line(fn, "if (t_%d == DWF_RETURN) return %s;", t, fn->transparent ? "DWF_RETURN" : "DWF_OK");
    if (fn->loops > 0 && has_jump(n)) {
        fn_line(fn, "if (t_%d == DWF_BREAK) break;", t);
        fn_line(fn, "if (t_%d == DWF_CONTINUE) continue;", t);
    }
    fn_line(fn, "if (t_%d != DWF_OK) return t_%d;", t, t);
}

static void cg_stmt(Fn *fn, const AstNode *n);

static void cg_if(Fn *fn, const AstNode *n)
{
    CgBuf k = {0};
    cg_operand(fn, n->u.if_.cond, &k);
    cg_check(fn);
    fn_line(fn, "if (dwf_truthy(%s)) {", k.s);
    cg_buf_free(&k);
    fn->indent++;
    cg_stmts(fn, n->u.if_.then);
    fn->indent--;
    if (n->u.if_.else_) {
        fn_line(fn, "} else {");
        fn->indent++;
        if (n->u.if_.else_->kind == AST_IF) cg_stmt(fn, n->u.if_.else_);
        else cg_stmts(fn, n->u.if_.else_);
        fn->indent--;
    }
    fn_line(fn, "}");
}

static void cg_for(Fn *fn, const AstNode *n)
{
    CgBuf it = {0};
    cg_expr(fn, n->u.for_.iter, &it);
    int t = hoist(fn, &it);
    cg_buf_free(&it);
    cg_check(fn);
    int i = new_temp(fn), k = new_temp(fn), m = new_temp(fn);
    /* What an iteration makes and no variable keeps goes back at its end (dwf_pool_collect),
     * so memory follows the variables, not the number of iterations. */
    fn_line(fn, "dwf_loop_mark t_%d = dwf_pool_mark(c);", m);
    fn_line(fn, "for (int t_%d = 0, t_%d = dwf_len(t_%d); t_%d < t_%d;", i, k, t, i, k);
    fn_line(fn, "     dwf_pool_collect(c, &t_%d, frame), t_%d++) {", m, i);
    fn->indent++;
    fn->loops++;
    if (n->u.for_.var_sym) {
        CgBuf v = {0};
        var_ref(fn, n->u.for_.var_sym, &v);
        fn_line(fn, "%s = dwf_item(c, t_%d, t_%d);", v.s, t, i);
        cg_buf_free(&v);
    }
    if (n->u.for_.index_sym) {
        CgBuf v = {0};
        var_ref(fn, n->u.for_.index_sym, &v);
        fn_line(fn, "%s = dwf_num(c, t_%d);", v.s, i);
        cg_buf_free(&v);
    }
    cg_stmts(fn, n->u.for_.body);
    fn->loops--;
    fn->indent--;
    fn_line(fn, "}");
}

/* while: the condition is evaluated (with whatever it hoists) at the top of every iteration. */
static void cg_while(Fn *fn, const AstNode *n)
{
    int m = new_temp(fn);
    fn_line(fn, "dwf_loop_mark t_%d = dwf_pool_mark(c);", m);
    fn_line(fn, "for (;; dwf_pool_collect(c, &t_%d, frame)) {", m);
    fn->indent++;
    fn->loops++;
    CgBuf k = {0};
    cg_operand(fn, n->u.while_.cond, &k);
    cg_check(fn);
    fn_line(fn, "if (!dwf_truthy(%s)) break;", k.s);
    cg_buf_free(&k);
    cg_stmts(fn, n->u.while_.body);
    fn->loops--;
    fn->indent--;
    fn_line(fn, "}");
}

/* break / continue: a C jump when the loop is in this function, else (inside a try or catch
 * body) a status the try around it turns into the jump. */
static void cg_jump(Fn *fn, const AstNode *n)
{
    int brk = n->kind == AST_BREAK;
    if (fn->loops > 0) fn_line(fn, "%s;", brk ? "break" : "continue");
    else fn_line(fn, "return %s;", brk ? "DWF_BREAK" : "DWF_CONTINUE");
}

static void cg_stmt(Fn *fn, const AstNode *n)
{
    line_directive(fn, n->loc);
    if (!fn->no_status) fn_line(fn, "DWF_AT(c, %d, %d);", n->loc.first_line, n->loc.first_column);
    switch (n->kind) {
    case AST_LET:
    case AST_ASSIGN: {
        CgBuf v = {0};
        if (n->u.let.sym) var_ref(fn, n->u.let.sym, &v);
        if (is_durable_expr(n->u.let.value) && v.len) {
            CgBuf target = {0};
            cg_buf_putc(&target, '&');
            cg_buf_append(&target, &v);
            cg_durable_expr(fn, n->u.let.value, target.s);
            cg_buf_free(&target);
        } else {
            CgBuf e = {0};
            cg_expr(fn, n->u.let.value, &e);
            if (v.len) fn_line(fn, "%s = %s;", v.s, e.s);
            else fn_line(fn, "(void)%s;", e.s);
            cg_check(fn);
            cg_buf_free(&e);
        }
        cg_buf_free(&v);
        break;
    }
    case AST_EXPR_STMT:
        if (is_durable_expr(n->u.expr.e)) {
            CgBuf target = {0};
            cg_target(fn, NULL, &target);
            cg_durable_expr(fn, n->u.expr.e, target.s);
            cg_buf_free(&target);
        } else {
            CgBuf e = {0};
            cg_expr(fn, n->u.expr.e, &e);
            fn_line(fn, "(void)%s;", e.s);
            cg_check(fn);
            cg_buf_free(&e);
        }
        break;
    case AST_LOG: {
        static const char *const lv[] = {"DWF_LOG_DEBUG", "DWF_LOG_INFO", "DWF_LOG_WARN",
                                         "DWF_LOG_ERROR"};
        CgBuf e = {0};
        cg_expr(fn, n->u.log.message, &e);
        unsigned l = (unsigned)n->u.log.level < 4 ? (unsigned)n->u.log.level : 1;
        fn_line(fn, "dwf_log(c, %s, %s);", lv[l], e.s);
        cg_check(fn);
        cg_buf_free(&e);
        break;
    }
    case AST_FAIL: {
        CgBuf ty = {0}, msg = {0};
        if (n->u.fail.type) cg_cstring(fn, n->u.fail.type, &ty);
        else cg_buf_puts(&ty, "\"Error\"");
        if (n->u.fail.message) cg_cstring(fn, n->u.fail.message, &msg);
        else cg_buf_puts(&msg, "\"\"");
        cg_check(fn);
        fn_line(fn, "return dwf_fail(c, %s, %s);", ty.s, msg.s);
        cg_buf_free(&ty);
        cg_buf_free(&msg);
        break;
    }
    case AST_RETURN: {
        if (fn->sig == SIG_NAMER) break;
        if (is_durable_expr(n->u.ret.value)) {
            cg_durable_expr(fn, n->u.ret.value, "out");
        } else {
            CgBuf e = {0};
            cg_expr(fn, n->u.ret.value, &e);
            fn_line(fn, "*out = %s;", e.s);
            cg_check(fn);
            cg_buf_free(&e);
        }
        cg_return_code(fn);
        break;
    }
    case AST_STEP:
        cg_step(fn, n);
        break;
    case AST_WAIT: {
        CgBuf name = {0};
        cg_opname(fn, n->u.wait.label, NULL, &name);
        if (n->u.wait.until) {
            CgBuf w = {0};
            cg_operand(fn, n->u.wait.until, &w);
            cg_check(fn);
            fn_line(fn, "DWF_TRY(dwf_wait_until(c, %s, %s));", name.s, w.s);
            cg_buf_free(&w);
        } else {
            CgBuf s = {0};
            cg_knob(fn, n->u.wait.duration, 1, &s);
            cg_check(fn);
            fn_line(fn, "DWF_TRY(dwf_wait(c, %s, %s));", name.s, s.s);
            cg_buf_free(&s);
        }
        cg_buf_free(&name);
        break;
    }
    case AST_CALLBACK: {
        CgBuf name = {0}, opts = {0}, target = {0};
        cg_opname(fn, n->u.callback.label, NULL, &name);
        cg_callback_opts(fn, n->u.callback.timeout, n->u.callback.heartbeat, NULL, &opts);
        cg_target(fn, n->u.callback.sym, &target);
        cg_check(fn);
        fn_line(fn, "DWF_TRY(dwf_callback(c, %s, %s, %s));", name.s, opts.s, target.s);
        cg_buf_free(&name);
        cg_buf_free(&opts);
        cg_buf_free(&target);
        break;
    }
    case AST_POLL:
        cg_poll(fn, n);
        break;
    case AST_PARALLEL:
        cg_parallel(fn, n);
        break;
    case AST_MAP:
        cg_map(fn, n);
        break;
    case AST_GROUP: {
        char body[48];
        CgBuf what = {0}, name = {0}, target = {0};
        describe(&what, "group", n->u.group.bind, n->u.group.label);
        gen_block_fn(fn->g, K_GROUP, n, what.s, n->u.group.body, 0, NULL, body, sizeof body);
        cg_buf_free(&what);
        cg_opname(fn, n->u.group.label, NULL, &name);
        cg_target(fn, n->u.group.sym, &target);
        cg_check(fn);
        fn_line(fn, "DWF_TRY(dwf_group(c, %s, %s, f, %s));", name.s, body, target.s);
        cg_buf_free(&name);
        cg_buf_free(&target);
        break;
    }
    case AST_IF:
        cg_if(fn, n);
        break;
    case AST_FOR:
        cg_for(fn, n);
        break;
    case AST_WHILE:
        cg_while(fn, n);
        break;
    case AST_BREAK:
    case AST_CONTINUE:
        cg_jump(fn, n);
        break;
    case AST_TRY:
        cg_try(fn, n);
        break;
    default:
        fn_line(fn, "#error \"dwf: %s is not a statement\"", ast_kind_name(n->kind));
        break;
    }
}

static void cg_stmts(Fn *fn, const AstNode *list)
{
    for (const AstNode *s = list; s; s = s->next) cg_stmt(fn, s);
}

/* ---- the file ---------------------------------------------------------------------------- */

/* Every `call` name in a subtree, first occurrence first, for the prototypes. */
typedef struct NameList {
    const char **v;
    size_t n, cap;
    int oom;
} NameList;

static void names_add(NameList *l, const char *s)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], s) == 0) return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        const char **v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = 1;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = s;
}

static void collect_ccalls(const AstNode *n, NameList *l);

static void collect_list(const AstNode *n, NameList *l)
{
    for (; n; n = n->next) collect_ccalls(n, l);
}

static void collect_ccalls(const AstNode *n, NameList *l)
{
    if (!n) return;
    switch (n->kind) {
    case AST_TEMPLATE: collect_list(n->u.tmpl.parts, l); break;
    case AST_ARRAY: case AST_OBJECT: collect_list(n->u.list.items, l); break;
    case AST_PROP: collect_ccalls(n->u.prop.value, l); break;
    case AST_MEMBER: case AST_INDEX:
        collect_ccalls(n->u.member.obj, l);
        collect_ccalls(n->u.member.index, l);
        break;
    case AST_CCALL:
        if (n->u.call.fn) names_add(l, n->u.call.fn);
        /* fall through */
    case AST_CALL: collect_list(n->u.call.args, l); break;
    case AST_UNARY: case AST_BINARY:
        collect_ccalls(n->u.op.a, l);
        collect_ccalls(n->u.op.b, l);
        break;
    case AST_COND:
        collect_ccalls(n->u.cond.cond, l);
        collect_ccalls(n->u.cond.a, l);
        collect_ccalls(n->u.cond.b, l);
        break;
    case AST_HTTP:
        collect_ccalls(n->u.http.url, l);
        collect_ccalls(n->u.http.headers, l);
        collect_ccalls(n->u.http.body, l);
        break;
    case AST_AWS: collect_ccalls(n->u.aws.params, l); break;
    case AST_AWAIT: collect_ccalls(n->u.await.target, l); break;
    case AST_INVOKE:
        collect_ccalls(n->u.invoke.label, l);
        collect_ccalls(n->u.invoke.function, l);
        collect_ccalls(n->u.invoke.payload, l);
        break;
    case AST_WAIT_CALLBACK:
        collect_ccalls(n->u.wfc.label, l);
        collect_list(n->u.wfc.body, l);
        break;
    case AST_LET: case AST_ASSIGN: collect_ccalls(n->u.let.value, l); break;
    case AST_EXPR_STMT: collect_ccalls(n->u.expr.e, l); break;
    case AST_STEP:
        collect_ccalls(n->u.step.label, l);
        collect_list(n->u.step.body, l);
        collect_list(n->u.step.compensate, l);
        break;
    case AST_WAIT:
        collect_ccalls(n->u.wait.label, l);
        collect_ccalls(n->u.wait.until, l);
        break;
    case AST_CALLBACK: collect_ccalls(n->u.callback.label, l); break;
    case AST_POLL:
        collect_ccalls(n->u.poll.label, l);
        collect_ccalls(n->u.poll.state, l);
        collect_ccalls(n->u.poll.until, l);
        collect_list(n->u.poll.body, l);
        break;
    case AST_PARALLEL: case AST_MAP:
        collect_ccalls(n->u.batch.label, l);
        collect_list(n->u.batch.branches, l);
        collect_ccalls(n->u.batch.over, l);
        collect_ccalls(n->u.batch.item_name, l);
        collect_list(n->u.batch.body, l);
        break;
    case AST_BRANCH: case AST_GROUP:
        collect_ccalls(n->u.group.label, l);
        collect_list(n->u.group.body, l);
        break;
    case AST_WHILE:
        collect_ccalls(n->u.while_.cond, l);
        collect_list(n->u.while_.body, l);
        break;
    case AST_IF:
        collect_ccalls(n->u.if_.cond, l);
        collect_list(n->u.if_.then, l);
        collect_list(n->u.if_.else_, l);
        break;
    case AST_FOR:
        collect_ccalls(n->u.for_.iter, l);
        collect_list(n->u.for_.body, l);
        break;
    case AST_TRY:
        collect_list(n->u.try_.body, l);
        for (const AstNode *k = n->u.try_.catches; k; k = k->next) collect_list(k->u.catch_.handler, l);
        break;
    case AST_FAIL:
        collect_ccalls(n->u.fail.type, l);
        collect_ccalls(n->u.fail.message, l);
        break;
    case AST_RETURN: collect_ccalls(n->u.ret.value, l); break;
    case AST_LOG: collect_ccalls(n->u.log.message, l); break;
    default: break;
    }
}

/* Names the generated file defines or includes: a `call`ed C function cannot have them. */
static int reserved_name(const char *s)
{
    static const char *const fixed[] = {"workflow_body", "step_defaults", "batch_defaults",
                                        "frame", "main", NULL};
    for (int i = 0; fixed[i]; i++)
        if (strcmp(s, fixed[i]) == 0) return 1;
    if (strncmp(s, "dwf_", 4) == 0 || strncmp(s, "DWF_", 4) == 0 || strncmp(s, "cJSON", 5) == 0)
        return 1;
    for (int k = 0; k < K_NKINDS; k++) {
        size_t n = strlen(kind_prefix[k]);
        if (strncmp(s, kind_prefix[k], n) == 0 && s[n] == '_' && s[n + 1] &&
            strspn(s + n + 1, "0123456789") == strlen(s + n + 1))
            return 1;
    }
    return 0;
}

static void emit_file(Gen *g, CgBuf *o)
{
    const Program *p = g->p;
    const AstNode *wf = p->workflow;
    const char *wfname = wf->u.wf.name ? wf->u.wf.name : "workflow";
    const char *path = p->path ? p->path : "workflow.dwf";

    /* The body first: it fills g->funcs and tells which defaults are used. */
    Fn body;
    fn_begin(&body, g, SIG_BLOCK);
    cg_stmts(&body, wf->u.wf.body);
    CgBuf what = {0};
    cg_buf_puts(&what, "workflow ");
    cg_c_comment(&what, wfname, strlen(wfname));
    fn_end(&body, "workflow_body", wf, what.s, NULL, falls_off(wf->u.wf.body));
    cg_buf_free(&what);

    cg_buf_puts(o, "/*\n * Generated by `dwf compile` from ");
    cg_c_comment(o, path, strlen(path));
    cg_buf_puts(o, " (workflow ");
    cg_c_comment(o, wfname, strlen(wfname));
    cg_buf_puts(o, ").\n"
                   " * Do not edit: change the .dwf and compile again. #line directives point C\n"
                   " * compiler errors back at the .dwf; DWF_AT tells the runtime the same.\n"
                   " * Every variable lives in `struct frame`; each block the runtime runs on its\n"
                   " * own (step body, branch, map item, group, ...) is a function below, defined\n"
                   " * before the function that uses it; the workflow body comes last.\n"
                   " */\n"
                   "#include \"dwf.h\"\n");

    NameList calls = {0};
    for (const AstNode *s = wf->u.wf.body; s; s = s->next) collect_ccalls(s, &calls);
    if (calls.oom) g->oom = 1;
    if (calls.n) {
        cg_buf_puts(o, "\n/* C functions from the `use`d files (dwf_cfunc). */\n");
        for (size_t i = 0; i < calls.n; i++) {
            if (is_ident(calls.v[i]) && !reserved_name(calls.v[i])) {
                cg_buf_printf(o, "cJSON *%s(dwf_ctx *c, int argc, cJSON *const *argv);\n",
                              calls.v[i]);
            } else {
                cg_buf_puts(o, "#error \"dwf: call name is not a C identifier, or is one dwf uses: ");
                cg_c_comment(o, calls.v[i], strlen(calls.v[i]));
                cg_buf_puts(o, "\"\n");
            }
        }
    }
    free(calls.v);

    cg_buf_puts(o, "\n/* Every variable of the workflow. */\nstruct frame {\n");
    int nfields = 0;
    for (const Symbol *s = wf->u.wf.syms; s; s = s->next) {
        if (s == wf->u.wf.input_sym || (s->decl && s->decl->kind == AST_LAMBDA)) continue;
        cg_buf_puts(o, "    dwf_val *");
        sym_field(g, s, o);
        cg_buf_puts(o, "; /* ");
        cg_c_comment(o, s->name ? s->name : "?", s->name ? strlen(s->name) : 1);
        cg_buf_printf(o, ", line %d */\n", s->loc.first_line);
        nfields++;
    }
    if (nfields == 0) cg_buf_puts(o, "    char unused; /* C has no empty structs */\n");
    cg_buf_puts(o, "};\n");
    if (g->use_step_defaults || g->use_batch_defaults) cg_buf_putc(o, '\n');
    if (g->use_step_defaults)
        cg_buf_puts(o, "static const dwf_step_opts step_defaults = {.retry = NULL, "
                       ".semantics = DWF_AT_LEAST_ONCE, .compensate = NULL};\n");
    if (g->use_batch_defaults)
        cg_buf_puts(o, "static const dwf_batch_opts batch_defaults = DWF_BATCH_DEFAULT;\n");

    cg_buf_append(o, &g->funcs);

    char hash[65];
    if (cg_sha256_hex(p->text ? p->text : "", p->text ? p->text_len : 0, hash) != 0) g->oom = 1;
    const char *fname = p->cfg.function_name ? p->cfg.function_name : wfname;
    if (p->cfg.nenv > 0) {
        cg_buf_puts(o, "\n/* lambda { environment }: what env() reads under the embedded engine. */\n"
                       "static const char *const workflow_environment[] = {\n");
        for (int i = 0; i < p->cfg.nenv; i++) {
            CgBuf kv = {0};
            cg_buf_printf(&kv, "%s=%s", p->cfg.env_names[i], p->cfg.env_values[i]);
            cg_buf_puts(o, "    ");
            cg_c_string(o, kv.s ? kv.s : "", kv.len);
            cg_buf_puts(o, ",\n");
            if (kv.oom) g->oom = 1;
            cg_buf_free(&kv);
        }
        cg_buf_puts(o, "    NULL,\n};\n");
    }
    cg_buf_puts(o, "\n/* What the runtime needs to know about this workflow. */\n");
    cg_buf_puts(o, "const dwf_workflow dwf_workflow_main = {\n    .name = ");
    cg_c_string(o, wfname, strlen(wfname));
    cg_buf_puts(o, ",\n    .source = ");
    cg_c_string(o, path, strlen(path));
    cg_buf_puts(o, ",\n    .function_name = ");
    cg_c_string(o, fname, strlen(fname));
    cg_buf_printf(o, ",\n    .source_hash = \"%s\",\n", hash);
    cg_buf_puts(o, "    .frame_size = sizeof(struct frame),\n    .body = workflow_body,\n");
    cg_buf_printf(o, "    .retention_days = %d,\n    .execution_timeout = %lld,\n",
                  p->cfg.retention_days, p->cfg.execution_timeout);
    cg_buf_printf(o, "    .memory_mb = %d,\n    .timeout_s = %d,\n", p->cfg.memory_mb, p->cfg.timeout_s);
    if (p->cfg.nenv > 0) cg_buf_puts(o, "    .environment = workflow_environment,\n");
    cg_buf_puts(o, "};\n");
}

/* Replace every BACK_TO_C line of `in` by `#line N "<C file>"`, N being the line after it. */
static void resolve_lines(const Gen *g, const CgBuf *in, CgBuf *out)
{
    const char *s = in->s, *end = in->s + in->len;
    size_t k = strlen(BACK_TO_C);
    for (int line = 1; s < end; line++) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *next = nl ? nl + 1 : end;
        if ((size_t)(next - s) == k + 1 && memcmp(s, BACK_TO_C, k) == 0) {
            cg_buf_printf(out, "#line %d ", line + 1);
            cg_buf_append(out, &g->c_name_lit);
            cg_buf_putc(out, '\n');
        } else {
            cg_buf_putn(out, s, (size_t)(next - s));
        }
        s = next;
    }
}

int cg_emit_c(const Program *p, const char *c_name, FILE *out)
{
    if (!p || !p->workflow || !out) return -1;
    Gen g;
    memset(&g, 0, sizeof g);
    g.p = p;
    const char *path = p->path ? p->path : "workflow.dwf";
    cg_c_string(&g.path_lit, path, strlen(path));
    if (!c_name) c_name = "handler.c";
    cg_c_string(&g.c_name_lit, c_name, strlen(c_name));
    CgBuf draft = {0}, o = {0};
    emit_file(&g, &draft);
    resolve_lines(&g, &draft, &o);
    int rc = 0;
    if (draft.oom || o.oom || g.oom || g.funcs.oom || g.path_lit.oom || g.c_name_lit.oom) rc = -1;
    else if (o.len && fwrite(o.s, 1, o.len, out) != o.len) rc = -1;
    cg_buf_free(&draft);
    cg_buf_free(&o);
    cg_buf_free(&g.funcs);
    cg_buf_free(&g.path_lit);
    cg_buf_free(&g.c_name_lit);
    return rc;
}
