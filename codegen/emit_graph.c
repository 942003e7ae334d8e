/*
 * emit_graph.c: the workflow as a picture (`dwf graph`), in Graphviz DOT or Mermaid text.
 *
 * One pass over the checked tree builds a small graph model (nodes, clusters, edges); the two
 * writers only print that model, so DOT and Mermaid always show the same graph (the tests
 * compare them node by node). What is a node: every durable operation (step, wait, callback,
 * await, wait for callback, poll, invoke), plus the shapes a reader needs to follow control
 * flow: the start and end, a diamond per `if`, a loop head per `for`, a fork and a join around
 * each parallel and map, and a node per `fail`. Plain computation (`let`, assignments, code
 * inside step bodies) draws nothing; an `if`, `for` or `try` draws only when something durable,
 * a `fail` or a `return` is inside it, because only then does it change which operations run.
 *
 * Flow is built with "pending exits": each statement takes the edges still open (from the
 * nodes before it, with their labels: `then`, `else`, `error`) and returns the ones open after
 * it. A `return` hands its exits to the enclosing context (the workflow's end, or a branch's,
 * item's or group's join); a `fail` closes them. Durable expressions (`await`, `invoke`,
 * `wait for callback`) are drawn in source order; the right side of `&&`, `||`, `??` and `?:`
 * is drawn as if it ran.
 *
 * Ids are stable: `<kind>_L<line>` (a second one of a kind on the same line gets `_2`, ...),
 * clusters `cluster_<kind>_L<line>`, so an SVG element or a Mermaid node can be found from the
 * .dwf line and stays the same from run to run. Every label ends with its line.
 *
 * Text from the .dwf (names, conditions, paths) is reprinted from the tree, not sliced from
 * the source (comments and layout never leak into a label), as visible text: control bytes,
 * invalid UTF-8 and invisible code points (bidi controls, zero-width characters) are written
 * as the .dwf string escapes \xHH and \u{H..H}, so a label never hides or reorders text.
 * Each writer then escapes for its own syntax: DOT's `"` and `\` (and `&`, which Graphviz
 * would otherwise read as the start of an HTML entity); Mermaid's `#quot;`-style entity codes
 * for `"` `#` `&` `<` `>` and the backquote, so a step named `<script>` stays text in every
 * renderer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cg_util.h"
#include "codegen.h"

/* Longest expression shown in a label; the rest becomes "...". */
#define EXPR_MAX 64

typedef enum {
    N_START, N_END, N_STEP, N_WAIT, N_CALLBACK, N_AWAIT, N_WFC, N_POLL, N_INVOKE, N_IF, N_LOOP,
    N_FORK, N_JOIN, N_FAIL, N_TRY, N_GROUP, N_KIND_COUNT
} NodeKind;

typedef enum { C_BRANCH, C_ITEM, C_GROUP, C_LOOP, C_TRY, C_CATCH, C_COMP } ClusterKind;

typedef enum { E_FLOW, E_BACK, E_ERROR, E_COMP, E_DATA } EdgeStyle;

typedef struct GNode {
    char *id, *label; /* label: lines separated by '\n', visible text (put_text) */
    NodeKind kind;
    int line, cluster; /* cluster: index, or -1 at the top */
    /* The operations the node stands for (CG_GRAPH_CONSOLE): their SubType as the runtime
     * writes it, and the name they get: the label's text (a literal, or a template whose
     * interpolations match anything), else op_dflt (a step's binding), else none. */
    const char *op_subtype, *op_dflt;
    const AstNode *op_label;
} GNode;

typedef struct GCluster {
    char *id, *label;
    ClusterKind kind;
    int line, parent, shown; /* shown: holds a node, directly or below */
} GCluster;

typedef struct GEdge {
    int from, to, ltail; /* ltail: the edge leaves this cluster (try -> catch), or -1 */
    const char *label;
    EdgeStyle style;
} GEdge;

/* An open edge: from `node` (or from cluster `ltail`), with a label, not yet connected. */
typedef struct Exit {
    int node, ltail;
    const char *label;
    EdgeStyle style;
} Exit;

typedef struct Exits {
    Exit *v;
    int n, cap;
} Exits;

typedef struct CbNode {
    const Symbol *sym;
    int node;
} CbNode;

typedef struct Graph {
    const Program *p;
    GNode *nodes;
    GCluster *cls;
    GEdge *edges;
    CbNode *cbs;
    int nn, nc, ne, ncb, capn, capc, cape, capcb;
    int cur;      /* the cluster new nodes go into */
    Exits *ret;   /* where a `return` in the current context goes */
    Exits *brk;   /* where a `break` of the innermost loop goes */
    int loop_head; /* the node a `continue` goes back to */
    int oom;
} Graph;

/* ---- growable arrays ------------------------------------------------------------------- */

static int grow(Graph *g, void **v, int *cap, int n, size_t size)
{
    if (g->oom) return -1;
    if (n < *cap) return 0;
    int nc = *cap ? *cap * 2 : 16;
    void *nv = realloc(*v, (size_t)nc * size);
    if (!nv) {
        g->oom = 1;
        return -1;
    }
    *v = nv;
    *cap = nc;
    return 0;
}

static void exits_add(Graph *g, Exits *x, Exit e)
{
    if (grow(g, (void **)&x->v, &x->cap, x->n, sizeof *x->v) != 0) return;
    x->v[x->n++] = e;
}

static void exits_move(Graph *g, Exits *to, Exits *from)
{
    for (int i = 0; i < from->n; i++) exits_add(g, to, from->v[i]);
    from->n = 0;
}

static void exits_one(Graph *g, Exits *x, int node, const char *label)
{
    x->n = 0;
    exits_add(g, x, (Exit){node, -1, label, E_FLOW});
}

static char *dup_buf(Graph *g, CgBuf *b)
{
    if (b->oom) g->oom = 1;
    char *s = strdup(b->s ? b->s : "");
    if (!s) g->oom = 1;
    cg_buf_free(b);
    return s;
}

/* ---- reprinting .dwf text ---------------------------------------------------------------- */

/* The length (2..4) of the valid UTF-8 sequence at s and its code point, or 0. */
static int utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0], min;
    size_t len;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    c &= 0x7fu >> len; /* the lead byte's payload bits */
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return (int)len;
}

/* Code points that change how the text around them reads without being seen: C1 controls,
 * the soft hyphen, zero-width and bidirectional controls, line separators, the BOM. */
static int invisible(unsigned c)
{
    return c < 0xa0 || c == 0xad || (c >= 0x200b && c <= 0x200f) ||
           (c >= 0x2028 && c <= 0x202e) || (c >= 0x2060 && c <= 0x206f) || c == 0xfeff;
}

/* Bytes from the .dwf as visible text: printable ASCII and valid UTF-8 as they are, control
 * bytes and invalid UTF-8 as \xHH and invisible code points as \u{H..H} (a string's escapes). */
static void put_text(CgBuf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        unsigned cp;
        int len;
        if (c >= 0x20 && c < 0x7f) {
            cg_buf_putc(b, (char)c);
        } else if (c >= 0x80 && (len = utf8_seq((const unsigned char *)s + i, n - i, &cp)) > 0) {
            if (invisible(cp)) cg_buf_printf(b, "\\u{%x}", cp);
            else cg_buf_putn(b, s + i, (size_t)len);
            i += (size_t)len - 1;
        } else {
            cg_buf_printf(b, "\\x%02x", c);
        }
    }
}

/* The .dwf escape of s[i] inside a string literal, or NULL when it is written as it is. */
static const char *string_escape(const char *s, size_t i, size_t n)
{
    switch (s[i]) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\t': return "\\t";
    case '$': return i + 1 < n && s[i + 1] == '{' ? "\\$" : NULL; /* else it reads as ${ } */
    default: return NULL;
    }
}

/* A .dwf string literal as it would be written. */
static void put_quoted(CgBuf *b, const char *s, size_t n)
{
    size_t start = 0; /* the run of plain text not written yet: UTF-8 stays in one piece */
    cg_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        const char *esc = string_escape(s, i, n);
        if (!esc) continue;
        put_text(b, s + start, i - start);
        cg_buf_puts(b, esc);
        start = i + 1;
    }
    put_text(b, s + start, n - start);
    cg_buf_putc(b, '"');
}

static int is_ident(const char *s)
{
    if (!s || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_')) return 0;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return 0;
    return 1;
}

static int prec(const AstNode *e)
{
    if (e->kind == AST_COND) return 1;
    if (e->kind == AST_UNARY) return 9;
    if (e->kind != AST_BINARY) return 10;
    switch (e->u.op.op) {
    case OP_COALESCE: return 2;
    case OP_OR: return 3;
    case OP_AND: return 4;
    case OP_EQ: case OP_NE: return 5;
    case OP_LT: case OP_LE: case OP_GT: case OP_GE: return 6;
    case OP_ADD: case OP_SUB: return 7;
    default: return 8;
    }
}

static const char *op_text(AstOp op)
{
    static const char *const t[] = {"+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=",
                                    "&&", "||", "??", "-", "!"};
    return (unsigned)op < sizeof t / sizeof t[0] ? t[op] : "?";
}

static void put_expr(CgBuf *b, const AstNode *e);

static void put_list(CgBuf *b, const AstNode *l)
{
    for (; l; l = l->next) {
        put_expr(b, l);
        if (l->next) cg_buf_puts(b, ", ");
    }
}

static void put_sub(CgBuf *b, const AstNode *e, int parens)
{
    if (parens) cg_buf_putc(b, '(');
    put_expr(b, e);
    if (parens) cg_buf_putc(b, ')');
}

static void put_template(CgBuf *b, const AstNode *e)
{
    cg_buf_putc(b, '"');
    for (const AstNode *p = e->u.tmpl.parts; p; p = p->next) {
        if (p->kind == AST_STR) {
            CgBuf q = {0};
            put_quoted(&q, p->u.str.s, p->u.str.len);
            if (q.len >= 2) cg_buf_putn(b, q.s + 1, q.len - 2);
            if (q.oom) b->oom = 1;
            cg_buf_free(&q);
        } else {
            cg_buf_puts(b, "${");
            put_expr(b, p);
            cg_buf_putc(b, '}');
        }
    }
    cg_buf_putc(b, '"');
}

static void put_prop(CgBuf *b, const AstNode *p)
{
    const AstNode *v = p->u.prop.value;
    if (v && v->kind == AST_NAME && p->u.prop.key && strcmp(v->u.name.id, p->u.prop.key) == 0) {
        cg_buf_puts(b, p->u.prop.key);
        return;
    }
    if (is_ident(p->u.prop.key)) cg_buf_puts(b, p->u.prop.key);
    else put_quoted(b, p->u.prop.key, strlen(p->u.prop.key));
    cg_buf_puts(b, ": ");
    put_expr(b, v);
}

/* An expression as .dwf text (what a reader would have written), with the parentheses its
 * precedence needs. Stops early once past EXPR_MAX: the label is cut there anyway. */
static void put_expr(CgBuf *b, const AstNode *e)
{
    if (!e || b->len > EXPR_MAX * 2) return;
    switch (e->kind) {
    case AST_NULL: cg_buf_puts(b, "null"); break;
    case AST_BOOL: cg_buf_puts(b, e->u.bval ? "true" : "false"); break;
    case AST_NUM: put_text(b, e->u.n.text, strlen(e->u.n.text)); break;
    case AST_DURATION: put_text(b, e->u.dur.text, strlen(e->u.dur.text)); break;
    case AST_STR: put_quoted(b, e->u.str.s, e->u.str.len); break;
    case AST_TEMPLATE: put_template(b, e); break;
    case AST_ARRAY:
        cg_buf_putc(b, '[');
        put_list(b, e->u.list.items);
        cg_buf_putc(b, ']');
        break;
    case AST_OBJECT:
        cg_buf_putc(b, '{');
        for (const AstNode *p = e->u.list.items; p; p = p->next) {
            cg_buf_puts(b, p == e->u.list.items ? " " : ", ");
            put_prop(b, p);
        }
        cg_buf_puts(b, e->u.list.items ? " }" : "}");
        break;
    case AST_PROP: put_prop(b, e); break;
    case AST_NAME: cg_buf_puts(b, e->u.name.id); break;
    case AST_MEMBER:
    case AST_INDEX:
        /* `.key` and `[i]` follow only names, calls and parenthesized expressions */
        put_sub(b, e->u.member.obj, !(e->u.member.obj->kind == AST_NAME ||
                                      e->u.member.obj->kind == AST_MEMBER ||
                                      e->u.member.obj->kind == AST_INDEX ||
                                      e->u.member.obj->kind == AST_CALL ||
                                      e->u.member.obj->kind == AST_CCALL));
        if (e->kind == AST_MEMBER) {
            cg_buf_printf(b, ".%s", e->u.member.key);
        } else {
            cg_buf_putc(b, '[');
            put_expr(b, e->u.member.index);
            cg_buf_putc(b, ']');
        }
        break;
    case AST_CALL:
    case AST_CCALL:
        cg_buf_printf(b, "%s%s(", e->kind == AST_CCALL ? "call " : "", e->u.call.fn);
        put_list(b, e->u.call.args);
        cg_buf_putc(b, ')');
        break;
    case AST_UNARY:
        cg_buf_puts(b, op_text(e->u.op.op));
        put_sub(b, e->u.op.a, prec(e->u.op.a) < 9);
        break;
    case AST_BINARY:
        put_sub(b, e->u.op.a, prec(e->u.op.a) < prec(e));
        cg_buf_printf(b, " %s ", op_text(e->u.op.op));
        put_sub(b, e->u.op.b, prec(e->u.op.b) <= prec(e));
        break;
    case AST_COND:
        put_sub(b, e->u.cond.cond, prec(e->u.cond.cond) <= 1);
        cg_buf_puts(b, " ? ");
        put_expr(b, e->u.cond.a);
        cg_buf_puts(b, " : ");
        put_expr(b, e->u.cond.b);
        break;
    case AST_HTTP:
        cg_buf_printf(b, "http %s ", e->u.http.method);
        put_expr(b, e->u.http.url);
        break;
    case AST_AWS:
        cg_buf_printf(b, "aws %s.%s {..}", e->u.aws.service, e->u.aws.action);
        break;
    case AST_AWAIT:
        cg_buf_puts(b, "await ");
        put_expr(b, e->u.await.target);
        break;
    case AST_INVOKE:
        cg_buf_puts(b, "invoke ");
        if (e->u.invoke.label) {
            put_expr(b, e->u.invoke.label);
            cg_buf_putc(b, ' ');
        }
        put_expr(b, e->u.invoke.function);
        break;
    case AST_WAIT_CALLBACK:
        cg_buf_puts(b, "wait for callback");
        if (e->u.wfc.label) {
            cg_buf_putc(b, ' ');
            put_expr(b, e->u.wfc.label);
        }
        break;
    case AST_LAMBDA:
        if (e->u.lambda.index) cg_buf_printf(b, "(%s, %s) => ", e->u.lambda.param, e->u.lambda.index);
        else cg_buf_printf(b, "%s => ", e->u.lambda.param);
        put_expr(b, e->u.lambda.body);
        break;
    default: cg_buf_puts(b, "..."); break;
    }
}

/* An expression cut to EXPR_MAX characters. */
static void put_expr_cut(CgBuf *b, const AstNode *e)
{
    CgBuf t = {0};
    put_expr(&t, e);
    if (t.oom) b->oom = 1;
    if (t.len > EXPR_MAX) {
        size_t cut = EXPR_MAX - 3;
        while (cut > 0 && ((unsigned char)t.s[cut] & 0xc0) == 0x80) cut--; /* whole characters */
        cg_buf_putn(b, t.s, cut);
        cg_buf_puts(b, "...");
    } else if (t.s) {
        cg_buf_putn(b, t.s, t.len);
    }
    cg_buf_free(&t);
}

/* `kw [bind] ["label"]`, as the construct is written. */
static void put_head(CgBuf *b, const char *kw, const char *bind, const AstNode *label)
{
    cg_buf_puts(b, kw);
    if (bind) cg_buf_printf(b, " %s", bind);
    if (label) {
        cg_buf_putc(b, ' ');
        put_expr_cut(b, label);
    }
}

/* One option of a comma-separated options line (`timeout 60s, heartbeat 10s`). */
static void put_opt(CgBuf *line, const char *key, const AstNode *v, const char *suffix)
{
    if (!v) return;
    cg_buf_puts(line, line->len ? ", " : "");
    cg_buf_printf(line, "%s ", key);
    put_expr_cut(line, v);
    cg_buf_puts(line, suffix);
}

static void put_opt_word(CgBuf *line, const char *key, const char *word)
{
    cg_buf_puts(line, line->len ? ", " : "");
    cg_buf_printf(line, "%s %s", key, word);
}

/* Ends an options line: appended to the label as its own line when it holds anything. */
static void end_line(CgBuf *b, CgBuf *line, const char *prefix)
{
    if (line->oom) b->oom = 1;
    if (line->len) cg_buf_printf(b, "\n%s%s", prefix, line->s);
    cg_buf_free(line);
}

static const char *jitter_name(AstJitter j)
{
    return j == JITTER_HALF ? "half" : j == JITTER_NONE ? "none" : "full";
}

static void put_retry(CgBuf *b, const AstNode *r)
{
    if (!r) return;
    CgBuf l = {0};
    put_opt(&l, "attempts", r->u.retry.attempts, "");
    put_opt(&l, "delay", r->u.retry.delay, "");
    put_opt(&l, "backoff", r->u.retry.backoff, "");
    put_opt(&l, "max", r->u.retry.max, "");
    if (r->u.retry.jitter_set) put_opt_word(&l, "jitter", jitter_name(r->u.retry.jitter));
    if (!l.len && !r->u.retry.on) cg_buf_puts(&l, "default");
    end_line(b, &l, "retry: ");
    for (const AstNode *o = r->u.retry.on; o; o = o->next) {
        cg_buf_puts(&l, o == r->u.retry.on ? "" : ", ");
        put_expr_cut(&l, o);
    }
    end_line(b, &l, "retry on ");
}

/* ---- the model --------------------------------------------------------------------------- */

/* "<prefix>_L<line>", or with "_2", "_3", ... when a node or cluster of the same line has it. */
static char *unique_id(Graph *g, const char *prefix, int line)
{
    char id[96];
    for (int k = 1;; k++) {
        if (k == 1) snprintf(id, sizeof id, "%s_L%d", prefix, line);
        else snprintf(id, sizeof id, "%s_L%d_%d", prefix, line, k);
        int taken = 0;
        for (int i = 0; i < g->nn && !taken; i++)
            taken = g->nodes[i].line == line && strcmp(g->nodes[i].id, id) == 0;
        for (int i = 0; i < g->nc && !taken; i++)
            taken = g->cls[i].line == line && strcmp(g->cls[i].id, id) == 0;
        if (!taken) break;
    }
    char *s = strdup(id);
    if (!s) g->oom = 1;
    return s;
}

/* A node in the current cluster; takes the label (and appends its line to it). */
static int add_node(Graph *g, NodeKind k, const char *prefix, int line, CgBuf *label)
{
    if (g->oom) { /* nothing is written after an allocation failure: stop growing */
        cg_buf_free(label);
        return 0;
    }
    if (k != N_JOIN) cg_buf_printf(label, "\nline %d", line); /* a join is a dot */
    char *text = dup_buf(g, label);
    if (grow(g, (void **)&g->nodes, &g->capn, g->nn, sizeof *g->nodes) != 0) {
        free(text);
        return 0;
    }
    char *id = k == N_START ? strdup("wf_start") : k == N_END ? strdup("wf_end")
                                                              : unique_id(g, prefix, line);
    if (!id) g->oom = 1;
    g->nodes[g->nn] = (GNode){id, text, k, line, g->cur, NULL, NULL, NULL};
    return g->nn++;
}

/* Record which operations node n stands for (see GNode). */
static void set_op(Graph *g, int n, const char *subtype, const AstNode *label, const char *dflt)
{
    if (g->oom || n < 0 || n >= g->nn) return;
    g->nodes[n].op_subtype = subtype;
    g->nodes[n].op_label = label;
    g->nodes[n].op_dflt = dflt;
}

/* add_node for a node that stands for operations of `subtype` (set_op). */
static int add_op_node(Graph *g, NodeKind k, const char *prefix, int line, CgBuf *label, const char *subtype,
                       const AstNode *oplabel, const char *dflt)
{
    int n = add_node(g, k, prefix, line, label);
    set_op(g, n, subtype, oplabel, dflt);
    return n;
}

static int add_cluster(Graph *g, ClusterKind k, const char *prefix, int line, CgBuf *label)
{
    if (g->oom) {
        cg_buf_free(label);
        return -1;
    }
    cg_buf_printf(label, " (line %d)", line);
    char *text = dup_buf(g, label);
    if (grow(g, (void **)&g->cls, &g->capc, g->nc, sizeof *g->cls) != 0) {
        free(text);
        return -1;
    }
    char full[64];
    snprintf(full, sizeof full, "cluster_%s", prefix);
    g->cls[g->nc] = (GCluster){unique_id(g, full, line), text, k, line, g->cur, 0};
    return g->nc++;
}

static void add_edge(Graph *g, int from, int to, int ltail, const char *label, EdgeStyle st)
{
    /* Two empty branches of one parallel would draw the same fork -> join edge twice. */
    for (int i = g->ne - 1; i >= 0 && g->edges[i].to == to; i--)
        if (g->edges[i].from == from && g->edges[i].ltail == ltail && g->edges[i].style == st &&
            ((!label && !g->edges[i].label) ||
             (label && g->edges[i].label && strcmp(label, g->edges[i].label) == 0)))
            return;
    if (grow(g, (void **)&g->edges, &g->cape, g->ne, sizeof *g->edges) != 0) return;
    g->edges[g->ne++] = (GEdge){from, to, ltail, label, st};
}

/* Connect every open exit to `node`, which becomes the only open exit. */
static void connect(Graph *g, Exits *pend, int node)
{
    for (int i = 0; i < pend->n; i++)
        add_edge(g, pend->v[i].node, node, pend->v[i].ltail, pend->v[i].label, pend->v[i].style);
    exits_one(g, pend, node, NULL);
}

/* ---- what a subtree holds ------------------------------------------------------------------ */

enum { F_DURABLE = 1, F_FAIL = 2, F_RETURN = 4, F_FLOW = F_DURABLE | F_FAIL | F_RETURN,
       F_JUMP = 8 /* break / continue: drawn only inside a drawn loop */ };

static int has(const AstNode *n, int what);

static int has_list(const AstNode *l, int what)
{
    for (; l; l = l->next)
        if (has(l, what)) return 1;
    return 0;
}

/* Whether durable code in `n` (never a step body, poll check or submitter: nothing durable
 * runs there, and a `fail` there fails an attempt, not the workflow) holds what `what` asks. */
static int has(const AstNode *n, int what)
{
    if (!n) return 0;
    switch (n->kind) {
    case AST_AWAIT: case AST_INVOKE: case AST_WAIT_CALLBACK: case AST_STEP: case AST_WAIT:
    case AST_CALLBACK: case AST_POLL: case AST_PARALLEL: case AST_MAP: case AST_GROUP:
        return (what & F_DURABLE) != 0;
    case AST_FAIL:
        return (what & F_FAIL) || has(n->u.fail.type, what) || has(n->u.fail.message, what);
    case AST_RETURN: return (what & F_RETURN) || has(n->u.ret.value, what);
    case AST_BREAK: case AST_CONTINUE: return (what & F_JUMP) != 0;
    case AST_TEMPLATE: return has_list(n->u.tmpl.parts, what);
    case AST_ARRAY: case AST_OBJECT: return has_list(n->u.list.items, what);
    case AST_PROP: return has(n->u.prop.value, what);
    case AST_MEMBER: case AST_INDEX:
        return has(n->u.member.obj, what) || has(n->u.member.index, what);
    case AST_CALL: case AST_CCALL: return has_list(n->u.call.args, what);
    case AST_UNARY: case AST_BINARY: return has(n->u.op.a, what) || has(n->u.op.b, what);
    case AST_COND:
        return has(n->u.cond.cond, what) || has(n->u.cond.a, what) || has(n->u.cond.b, what);
    case AST_LET: case AST_ASSIGN: return has(n->u.let.value, what);
    case AST_EXPR_STMT: return has(n->u.expr.e, what);
    case AST_IF:
        return has(n->u.if_.cond, what) || has_list(n->u.if_.then, what) ||
               has_list(n->u.if_.else_, what);
    case AST_FOR: return has(n->u.for_.iter, what) || has_list(n->u.for_.body, what);
    case AST_WHILE: return has(n->u.while_.cond, what) || has_list(n->u.while_.body, what);
    case AST_TRY:
        if (has_list(n->u.try_.body, what)) return 1;
        for (const AstNode *k = n->u.try_.catches; k; k = k->next)
            if (has_list(k->u.catch_.handler, what)) return 1;
        return 0;
    default: return 0;
    }
}

/* ---- walking the tree ---------------------------------------------------------------------- */

static void walk_block(Graph *g, const AstNode *list, Exits *pend);
static void walk_expr(Graph *g, const AstNode *e, Exits *pend);

static void walk_exprs(Graph *g, const AstNode *l, Exits *pend)
{
    for (; l; l = l->next) walk_expr(g, l, pend);
}

static void walk_await(Graph *g, const AstNode *e, Exits *pend)
{
    CgBuf lb = {0};
    cg_buf_puts(&lb, "await ");
    put_expr_cut(&lb, e->u.await.target);
    int n = add_node(g, N_AWAIT, "await", e->loc.first_line, &lb);
    connect(g, pend, n);
    const AstNode *t = e->u.await.target;
    if (t && t->kind == AST_NAME && t->u.name.sym)
        for (int i = 0; i < g->ncb; i++)
            if (g->cbs[i].sym == t->u.name.sym) {
                add_edge(g, g->cbs[i].node, n, -1, NULL, E_DATA);
                /* awaiting a callback ends when the callback does: the same operation */
                const GNode *cb = g->oom ? NULL : &g->nodes[g->cbs[i].node];
                if (cb) set_op(g, n, cb->op_subtype, cb->op_label, cb->op_dflt);
            }
}

/* Durable expressions become nodes after their operands (their evaluation order). */
static void walk_expr(Graph *g, const AstNode *e, Exits *pend)
{
    if (!e || !has(e, F_DURABLE)) return;
    CgBuf lb = {0}, l = {0};
    switch (e->kind) {
    case AST_TEMPLATE: walk_exprs(g, e->u.tmpl.parts, pend); break;
    case AST_ARRAY: case AST_OBJECT: walk_exprs(g, e->u.list.items, pend); break;
    case AST_PROP: walk_expr(g, e->u.prop.value, pend); break;
    case AST_MEMBER: case AST_INDEX:
        walk_expr(g, e->u.member.obj, pend);
        walk_expr(g, e->u.member.index, pend);
        break;
    case AST_CALL: case AST_CCALL: walk_exprs(g, e->u.call.args, pend); break;
    case AST_UNARY: case AST_BINARY:
        walk_expr(g, e->u.op.a, pend);
        walk_expr(g, e->u.op.b, pend);
        break;
    case AST_COND:
        walk_expr(g, e->u.cond.cond, pend);
        walk_expr(g, e->u.cond.a, pend);
        walk_expr(g, e->u.cond.b, pend);
        break;
    case AST_AWAIT: walk_await(g, e, pend); break;
    case AST_INVOKE:
        walk_expr(g, e->u.invoke.function, pend);
        walk_expr(g, e->u.invoke.payload, pend);
        put_head(&lb, "invoke", NULL, e->u.invoke.label);
        cg_buf_putc(&lb, '\n');
        put_expr_cut(&lb, e->u.invoke.function);
        put_opt(&l, "timeout", e->u.invoke.timeout, "");
        end_line(&lb, &l, "");
        connect(g, pend, add_op_node(g, N_INVOKE, "invoke", e->loc.first_line, &lb, "ChainedInvoke",
                                     e->u.invoke.label, NULL));
        break;
    case AST_WAIT_CALLBACK:
        put_head(&lb, "wait for callback", NULL, e->u.wfc.label);
        put_opt(&l, "timeout", e->u.wfc.timeout, "");
        put_opt(&l, "heartbeat", e->u.wfc.heartbeat, "");
        put_opt(&l, "submitter timeout", e->u.wfc.submitter_timeout, "");
        end_line(&lb, &l, "");
        put_retry(&lb, e->u.wfc.retry);
        connect(g, pend, add_op_node(g, N_WFC, "wfc", e->loc.first_line, &lb, "WaitForCallback",
                                     e->u.wfc.label, NULL));
        break;
    default: break;
    }
}

/* Runs `body` as its own context in cluster `c`: its returns end the context, not the workflow.
 * Leaves in `pend` the exits that leave it (fall-through and returns). */
static void walk_context(Graph *g, int c, const AstNode *body, Exits *pend)
{
    Exits ret = {0}, *saved_ret = g->ret;
    int saved_cur = g->cur;
    g->ret = &ret;
    g->cur = c;
    walk_block(g, body, pend);
    exits_move(g, pend, &ret);
    free(ret.v);
    g->ret = saved_ret;
    g->cur = saved_cur;
}

static void walk_step(Graph *g, const AstNode *s, Exits *pend)
{
    CgBuf lb = {0};
    put_head(&lb, "step", s->u.step.bind, s->u.step.label);
    put_retry(&lb, s->u.step.retry);
    if (s->u.step.timeout && s->u.step.timeout->kind == AST_DURATION)
        cg_buf_printf(&lb, "\ntimeout %s", s->u.step.timeout->u.dur.text);
    if (s->u.step.semantics == SEM_AT_MOST_ONCE) cg_buf_puts(&lb, "\nat most once");
    int n = add_node(g, N_STEP, "step", s->loc.first_line, &lb);
    set_op(g, n, "Step", s->u.step.label, s->u.step.bind);
    connect(g, pend, n);
    if (!s->u.step.compensate) return;
    /* The compensation hangs off its step by a dashed edge: it runs only if the workflow
     * fails later, so it is not part of the forward flow. */
    put_head(&lb, "compensate", s->u.step.bind, s->u.step.label);
    int c = add_cluster(g, C_COMP, "compensate", s->u.step.compensate->loc.first_line, &lb);
    Exits cp = {0};
    exits_add(g, &cp, (Exit){n, -1, "compensate", E_COMP});
    walk_context(g, c, s->u.step.compensate, &cp);
    free(cp.v);
}

static void put_batch_opts(CgBuf *lb, const AstNode *s)
{
    CgBuf l = {0};
    put_opt(&l, "max", s->u.batch.max_concurrency, "");
    put_opt(&l, "min_successful", s->u.batch.min_successful, "");
    put_opt(&l, "tolerate", s->u.batch.tolerate, s->u.batch.tolerate_percent ? "%" : "");
    end_line(lb, &l, "");
}

/* fork -> one cluster per branch (or the map's item body) -> join. */
static void walk_batch(Graph *g, const AstNode *s, Exits *pend)
{
    int is_map = s->kind == AST_MAP, line = s->loc.first_line;
    CgBuf lb = {0};
    if (is_map) walk_expr(g, s->u.batch.over, pend);
    put_head(&lb, is_map ? "map" : "parallel", s->u.batch.bind, s->u.batch.label);
    if (is_map) {
        cg_buf_puts(&lb, "\nover ");
        put_expr_cut(&lb, s->u.batch.over);
        cg_buf_printf(&lb, " as %s%s%s", s->u.batch.item, s->u.batch.index ? ", " : "",
                      s->u.batch.index ? s->u.batch.index : "");
    }
    put_batch_opts(&lb, s);
    if (is_map && s->u.batch.item_name) {
        cg_buf_puts(&lb, "\nname ");
        put_expr_cut(&lb, s->u.batch.item_name);
    }
    int fork = add_node(g, N_FORK, is_map ? "map" : "parallel", line, &lb);
    set_op(g, fork, is_map ? "Map" : "Parallel", s->u.batch.label, NULL);
    connect(g, pend, fork);
    Exits all = {0}, be = {0};
    if (is_map) {
        cg_buf_printf(&lb, "each %s%s%s", s->u.batch.item, s->u.batch.index ? ", " : "",
                      s->u.batch.index ? s->u.batch.index : "");
        int c = add_cluster(g, C_ITEM, "item", line, &lb);
        exits_one(g, &be, fork, NULL);
        walk_context(g, c, s->u.batch.body, &be);
        exits_move(g, &all, &be);
    } else {
        for (const AstNode *b = s->u.batch.branches; b; b = b->next) {
            put_head(&lb, "branch", b->u.group.bind, b->u.group.label);
            int c = add_cluster(g, C_BRANCH, "branch", b->loc.first_line, &lb);
            exits_one(g, &be, fork, NULL);
            walk_context(g, c, b->u.group.body, &be);
            exits_move(g, &all, &be);
        }
    }
    if (!s->u.batch.branches && !is_map) exits_one(g, &all, fork, NULL);
    int join = add_node(g, N_JOIN, "join", line, &lb);
    set_op(g, join, is_map ? "Map" : "Parallel", s->u.batch.label, NULL);
    connect(g, &all, join);
    exits_one(g, pend, join, NULL);
    free(all.v);
    free(be.v);
}

static void walk_group(Graph *g, const AstNode *s, Exits *pend)
{
    CgBuf lb = {0};
    put_head(&lb, "group", s->u.group.bind, s->u.group.label);
    if (!has_list(s->u.group.body, F_DURABLE | F_FAIL)) {
        connect(g, pend, add_op_node(g, N_GROUP, "group", s->loc.first_line, &lb, "RunInChildContext",
                                     s->u.group.label, NULL));
        return;
    }
    int c = add_cluster(g, C_GROUP, "group", s->loc.first_line, &lb);
    walk_context(g, c, s->u.group.body, pend);
}

static void walk_if(Graph *g, const AstNode *s, Exits *pend)
{
    walk_expr(g, s->u.if_.cond, pend);
    int f = F_FLOW | (g->brk ? F_JUMP : 0);
    if (!has_list(s->u.if_.then, f) && !has_list(s->u.if_.else_, f)) return;
    CgBuf lb = {0};
    cg_buf_puts(&lb, "if ");
    put_expr_cut(&lb, s->u.if_.cond);
    int d = add_node(g, N_IF, "if", s->loc.first_line, &lb);
    connect(g, pend, d);
    Exits te = {0}, ee = {0};
    exits_add(g, &te, (Exit){d, -1, "then", E_FLOW});
    exits_add(g, &ee, (Exit){d, -1, "else", E_FLOW});
    walk_block(g, s->u.if_.then, &te);
    walk_block(g, s->u.if_.else_, &ee); /* an else-if is a one-element list: its own diamond */
    pend->n = 0;
    exits_move(g, pend, &te);
    exits_move(g, pend, &ee);
    free(te.v);
    free(ee.v);
}

/* A loop: a cluster holding a head node (the `for` / `while` line) that every iteration
 * leaves by "each" and returns to by "next" (or a `continue`); `break` and the head's "done"
 * leave it. */
static void walk_loop(Graph *g, const AstNode *s, const AstNode *body, CgBuf *head_text, Exits *pend)
{
    CgBuf lb = {0};
    int line = s->loc.first_line;
    const char *kw = s->kind == AST_WHILE ? "while" : "for";
    cg_buf_puts(&lb, "loop");
    int c = add_cluster(g, C_LOOP, kw, line, &lb);
    int saved = g->cur, saved_head = g->loop_head;
    Exits *saved_brk = g->brk;
    g->cur = c;
    int head = add_node(g, N_LOOP, kw, line, head_text);
    connect(g, pend, head);
    Exits be = {0}, brk = {0};
    g->brk = &brk;
    g->loop_head = head;
    exits_add(g, &be, (Exit){head, -1, "each", E_FLOW});
    walk_block(g, body, &be);
    for (int i = 0; i < be.n; i++)
        add_edge(g, be.v[i].node, head, be.v[i].ltail, be.v[i].label ? be.v[i].label : "next",
                 E_BACK);
    free(be.v);
    g->cur = saved;
    g->brk = saved_brk;
    g->loop_head = saved_head;
    exits_one(g, pend, head, "done");
    exits_move(g, pend, &brk);
    free(brk.v);
}

static void walk_for(Graph *g, const AstNode *s, Exits *pend)
{
    walk_expr(g, s->u.for_.iter, pend);
    if (!has_list(s->u.for_.body, F_FLOW)) return;
    CgBuf lb = {0};
    cg_buf_printf(&lb, "for %s%s%s in ", s->u.for_.var, s->u.for_.index ? ", " : "",
                  s->u.for_.index ? s->u.for_.index : "");
    put_expr_cut(&lb, s->u.for_.iter);
    walk_loop(g, s, s->u.for_.body, &lb, pend);
}

static void walk_while(Graph *g, const AstNode *s, Exits *pend)
{
    if (!has(s->u.while_.cond, F_FLOW) && !has_list(s->u.while_.body, F_FLOW)) return;
    CgBuf lb = {0};
    cg_buf_puts(&lb, "while ");
    put_expr_cut(&lb, s->u.while_.cond);
    walk_loop(g, s, s->u.while_.body, &lb, pend);
}

/* The try body in one cluster, each catch clause in another (its label names the types it
 * catches), and an `error` edge from the first to each: any operation of the body can fail
 * into a handler. */
static void walk_try(Graph *g, const AstNode *s, Exits *pend)
{
    int f = F_FLOW | (g->brk ? F_JUMP : 0), any = has_list(s->u.try_.body, f);
    for (const AstNode *k = s->u.try_.catches; k; k = k->next) any |= has_list(k->u.catch_.handler, f);
    if (!any) return;
    CgBuf lb = {0};
    int line = s->loc.first_line, saved = g->cur;
    cg_buf_puts(&lb, "try");
    int ct = add_cluster(g, C_TRY, "try", line, &lb);
    g->cur = ct;
    int first = g->nn;
    if (!has_list(s->u.try_.body, F_DURABLE | F_FAIL)) {
        /* nothing durable fails in the body, but its expressions can: give the error edge a
         * place to start from */
        cg_buf_puts(&lb, "try");
        connect(g, pend, add_node(g, N_TRY, "try", line, &lb));
    }
    walk_block(g, s->u.try_.body, pend);
    g->cur = saved;
    Exits all = {0};
    for (const AstNode *k = s->u.try_.catches; k; k = k->next) {
        Exits ce = {0};
        exits_add(g, &ce, (Exit){first, ct, "error", E_ERROR});
        cg_buf_puts(&lb, "catch");
        for (const AstNode *t = k->u.catch_.types; t; t = t->next) {
            cg_buf_puts(&lb, t == k->u.catch_.types ? " \"" : ", \"");
            cg_buf_putn(&lb, t->u.str.s, t->u.str.len);
            cg_buf_putc(&lb, '"');
        }
        if (k->u.catch_.err) cg_buf_printf(&lb, " %s", k->u.catch_.err);
        g->cur = add_cluster(g, C_CATCH, "catch", k->loc.first_line, &lb);
        walk_block(g, k->u.catch_.handler, &ce);
        g->cur = saved;
        exits_move(g, &all, &ce);
        free(ce.v);
    }
    exits_move(g, pend, &all);
    free(all.v);
}

static void walk_simple(Graph *g, const AstNode *s, Exits *pend)
{
    CgBuf lb = {0}, l = {0};
    int line = s->loc.first_line;
    switch (s->kind) {
    case AST_WAIT:
        walk_expr(g, s->u.wait.duration, pend);
        walk_expr(g, s->u.wait.until, pend);
        put_head(&lb, "wait", NULL, s->u.wait.label);
        cg_buf_puts(&lb, s->u.wait.until ? " until " : " ");
        put_expr_cut(&lb, s->u.wait.until ? s->u.wait.until : s->u.wait.duration);
        connect(g, pend, add_op_node(g, N_WAIT, "wait", line, &lb, "Wait", s->u.wait.label, NULL));
        break;
    case AST_CALLBACK: {
        put_head(&lb, "callback", s->u.callback.bind, s->u.callback.label);
        put_opt(&l, "timeout", s->u.callback.timeout, "");
        put_opt(&l, "heartbeat", s->u.callback.heartbeat, "");
        end_line(&lb, &l, "");
        int n = add_node(g, N_CALLBACK, "callback", line, &lb);
        set_op(g, n, "Callback", s->u.callback.label, NULL);
        connect(g, pend, n);
        if (grow(g, (void **)&g->cbs, &g->capcb, g->ncb, sizeof *g->cbs) == 0)
            g->cbs[g->ncb++] = (CbNode){s->u.callback.sym, n};
        break;
    }
    case AST_POLL:
        put_head(&lb, "poll", s->u.poll.bind, s->u.poll.label);
        put_opt(&l, "every", s->u.poll.every, "");
        put_opt(&l, "backoff", s->u.poll.backoff, "");
        put_opt(&l, "max", s->u.poll.max, "");
        put_opt(&l, "attempts", s->u.poll.attempts, "");
        if (s->u.poll.jitter != JITTER_FULL) /* the tree cannot tell a written `jitter full` */
            put_opt_word(&l, "jitter", jitter_name(s->u.poll.jitter));
        put_opt(&l, "timeout", s->u.poll.timeout, "");
        end_line(&lb, &l, "");
        if (s->u.poll.until) {
            cg_buf_puts(&lb, "\nuntil ");
            put_expr_cut(&lb, s->u.poll.until);
        }
        connect(g, pend, add_op_node(g, N_POLL, "poll", line, &lb, "WaitForCondition", s->u.poll.label,
                                     NULL));
        break;
    case AST_FAIL:
        walk_expr(g, s->u.fail.type, pend);
        walk_expr(g, s->u.fail.message, pend);
        cg_buf_puts(&lb, "fail ");
        put_expr_cut(&lb, s->u.fail.type);
        cg_buf_putc(&lb, '\n');
        put_expr_cut(&lb, s->u.fail.message);
        connect(g, pend, add_node(g, N_FAIL, "fail", line, &lb));
        pend->n = 0; /* nothing runs after it (a `try` around it draws the way out) */
        break;
    default: break;
    }
}

static void walk_stmt(Graph *g, const AstNode *s, Exits *pend)
{
    switch (s->kind) {
    case AST_LET: case AST_ASSIGN: walk_expr(g, s->u.let.value, pend); break;
    case AST_EXPR_STMT: walk_expr(g, s->u.expr.e, pend); break;
    case AST_STEP: walk_step(g, s, pend); break;
    case AST_WAIT: case AST_CALLBACK: case AST_POLL: case AST_FAIL: walk_simple(g, s, pend); break;
    case AST_PARALLEL: case AST_MAP: walk_batch(g, s, pend); break;
    case AST_GROUP: walk_group(g, s, pend); break;
    case AST_IF: walk_if(g, s, pend); break;
    case AST_FOR: walk_for(g, s, pend); break;
    case AST_WHILE: walk_while(g, s, pend); break;
    case AST_TRY: walk_try(g, s, pend); break;
    case AST_BREAK:
        if (g->brk) {
            for (int i = 0; i < pend->n; i++)
                if (!pend->v[i].label) pend->v[i].label = "break";
            exits_move(g, g->brk, pend);
        }
        break;
    case AST_CONTINUE:
        if (g->brk) {
            for (int i = 0; i < pend->n; i++)
                add_edge(g, pend->v[i].node, g->loop_head, pend->v[i].ltail,
                         pend->v[i].label ? pend->v[i].label : "continue", E_BACK);
            pend->n = 0;
        }
        break;
    case AST_RETURN:
        walk_expr(g, s->u.ret.value, pend);
        exits_move(g, g->ret, pend);
        break;
    default: break;
    }
}

static void walk_block(Graph *g, const AstNode *list, Exits *pend)
{
    for (const AstNode *s = list; s; s = s->next) walk_stmt(g, s, pend);
}

static void graph_build(Graph *g)
{
    const AstNode *wf = g->p->workflow;
    CgBuf lb = {0};
    Exits pend = {0}, ret = {0};
    g->cur = -1;
    g->ret = &ret;
    cg_buf_printf(&lb, "workflow %s", wf->u.wf.name);
    exits_one(g, &pend, add_node(g, N_START, "start", wf->loc.first_line, &lb), NULL);
    walk_block(g, wf->u.wf.body, &pend);
    exits_move(g, &pend, &ret);
    if (pend.n) {
        cg_buf_puts(&lb, "end");
        connect(g, &pend, add_node(g, N_END, "end", wf->loc.last_line, &lb));
    }
    free(pend.v);
    free(ret.v);
    for (int i = 0; i < g->nn; i++)
        for (int c = g->nodes[i].cluster; c >= 0 && !g->cls[c].shown; c = g->cls[c].parent)
            g->cls[c].shown = 1;
}

static void graph_free(Graph *g)
{
    for (int i = 0; i < g->nn; i++) {
        free(g->nodes[i].id);
        free(g->nodes[i].label);
    }
    for (int i = 0; i < g->nc; i++) {
        free(g->cls[i].id);
        free(g->cls[i].label);
    }
    free(g->nodes);
    free(g->cls);
    free(g->edges);
    free(g->cbs);
}

/* ---- writing ------------------------------------------------------------------------------- */

typedef struct NodeStyle {
    const char *shape, *style, *fill, *stroke, *font; /* DOT */
    const char *open, *close, *cls;                    /* Mermaid: shape brackets, class */
} NodeStyle;

static const NodeStyle NODE_STYLE[N_KIND_COUNT] = {
    [N_START] = {"oval", "filled", "#2f3e4e", "#2f3e4e", "#ffffff", "([", "])", "terminal"},
    [N_END] = {"oval", "filled", "#2f3e4e", "#2f3e4e", "#ffffff", "([", "])", "terminal"},
    [N_STEP] = {"box", "rounded,filled", "#dbe9f9", "#3b6ea8", "#1b1b1b", "(", ")", "step"},
    [N_WAIT] = {"box", "filled,diagonals", "#fff3c4", "#b08900", "#1b1b1b", "[/", "/]", "wait"},
    [N_CALLBACK] = {"cds", "filled", "#f1e0f7", "#8e44ad", "#1b1b1b", ">", "]", "callback"},
    [N_AWAIT] = {"box", "filled,diagonals", "#f1e0f7", "#8e44ad", "#1b1b1b", "[\\", "/]", "callback"},
    [N_WFC] = {"cds", "filled", "#f1e0f7", "#8e44ad", "#1b1b1b", ">", "]", "callback"},
    [N_POLL] = {"box", "rounded,filled", "#dff3ea", "#2e8b57", "#1b1b1b", "{{", "}}", "poll"},
    [N_INVOKE] = {"component", "filled", "#fde3d0", "#c0602b", "#1b1b1b", "[[", "]]", "invoke"},
    [N_IF] = {"diamond", "filled", "#ffffff", "#555555", "#1b1b1b", "{", "}", "decision"},
    [N_LOOP] = {"hexagon", "filled", "#ffffff", "#555555", "#1b1b1b", "{{", "}}", "decision"},
    [N_FORK] = {"box", "filled", "#e8e8e8", "#555555", "#1b1b1b", "[/", "\\]", "fork"},
    [N_JOIN] = {"point", "filled", "#555555", "#555555", "#1b1b1b", "((", "))", "join"},
    [N_FAIL] = {"octagon", "filled", "#f9d6d5", "#c0392b", "#1b1b1b", "[", "]", "fail"},
    [N_TRY] = {"box", "dashed", "#ffffff", "#2e8b57", "#1b1b1b", "[", "]", "decision"},
    [N_GROUP] = {"box", "rounded,filled", "#eeeeee", "#777777", "#1b1b1b", "(", ")", "group"},
};

typedef struct ClusterStyle {
    const char *style, *fill, *stroke, *dash;
} ClusterStyle;

static const ClusterStyle CLUSTER_STYLE[] = {
    [C_BRANCH] = {"rounded,dashed,filled", "#fafafa", "#8a8a8a", "4 3"},
    [C_ITEM] = {"rounded,dashed,filled", "#fafafa", "#8a8a8a", "4 3"},
    [C_GROUP] = {"rounded,filled", "#f4f4f4", "#777777", NULL},
    [C_LOOP] = {"rounded,filled", "#f7f7fc", "#777777", NULL},
    [C_TRY] = {"rounded,filled", "#f1faf4", "#2e8b57", NULL},
    [C_CATCH] = {"rounded,filled", "#fdf1f0", "#c0392b", NULL},
    [C_COMP] = {"rounded,dashed,filled", "#fff8ec", "#c87f0a", "4 3"},
};

typedef struct EdgeStyleDef {
    const char *dot, *mm_arrow, *color; /* DOT attributes, Mermaid link, link colour or NULL */
} EdgeStyleDef;

static const EdgeStyleDef EDGE_STYLE[] = {
    [E_FLOW] = {"", "-->", NULL},
    [E_BACK] = {", constraint=false", "-->", NULL},
    [E_ERROR] = {", style=dashed, color=\"#c0392b\", fontcolor=\"#c0392b\"", "-.->", "#c0392b"},
    [E_COMP] = {", style=dashed, color=\"#c87f0a\", fontcolor=\"#c87f0a\"", "-.->", "#c87f0a"},
    [E_DATA] = {", style=dotted, color=\"#8e44ad\", arrowhead=none, constraint=false", "-.-",
                "#8e44ad"},
};

/* A DOT string: `"` and `\` escaped, `&` as `&amp;` (Graphviz reads entities in labels), and
 * the label's line breaks as `\n`. The text itself is visible already (put_text). */
static void dot_str(CgBuf *b, const char *s)
{
    cg_buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') cg_buf_printf(b, "\\%c", *s);
        else if (*s == '&') cg_buf_puts(b, "&amp;");
        else if (*s == '\n') cg_buf_puts(b, "\\n");
        else cg_buf_putc(b, *s);
    }
    cg_buf_putc(b, '"');
}

/* A Mermaid string: entity codes for what Mermaid or the HTML it renders to would read as
 * syntax (`"` ends the string, `#` starts an entity code or a `#br#` line break, a backslash
 * before `n` breaks the line, `<` `>` `&` are HTML, a leading backquote makes Markdown, and
 * `fa:fa-NAME` is drawn as an icon). The label's own line breaks stay newlines, never <br/>:
 * Mermaid's sanitizer re-serializes (and so decodes the entity codes of) any label holding a
 * '<', after which `\n` and `fa:fa-` would act again. */
static void mm_str(CgBuf *b, const char *s)
{
    cg_buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == ':' && strncmp(s + 1, "fa-", 3) == 0) {
            cg_buf_puts(b, "#58;");
            continue;
        }
        switch (*s) {
        case '"': cg_buf_puts(b, "#quot;"); break;
        case '#': cg_buf_puts(b, "#35;"); break;
        case '&': cg_buf_puts(b, "#amp;"); break;
        case '<': cg_buf_puts(b, "#lt;"); break;
        case '>': cg_buf_puts(b, "#gt;"); break;
        case '`': cg_buf_puts(b, "#96;"); break;
        case '\\': cg_buf_puts(b, "#92;"); break;
        default: cg_buf_putc(b, *s); break;
        }
    }
    cg_buf_putc(b, '"');
}

static void put_path(CgBuf *b, const Program *p)
{
    put_text(b, p->path, strlen(p->path));
}

static void dot_cluster(Graph *g, CgBuf *b, int c, int depth)
{
    char ind[64];
    snprintf(ind, sizeof ind, "%*s", 2 * depth > 60 ? 60 : 2 * depth, "");
    for (int i = 0; i < g->nn; i++) {
        const GNode *n = &g->nodes[i];
        if (n->cluster != c) continue;
        const NodeStyle *st = &NODE_STYLE[n->kind];
        cg_buf_printf(b, "%s\"%s\" [id=\"%s\", label=", ind, n->id, n->id);
        dot_str(b, n->kind == N_JOIN ? "" : n->label);
        CgBuf tip = {0};
        put_path(&tip, g->p);
        cg_buf_printf(&tip, ":%d", n->line);
        cg_buf_puts(b, ", tooltip=");
        dot_str(b, tip.s ? tip.s : "");
        if (tip.oom) b->oom = 1;
        cg_buf_free(&tip);
        cg_buf_printf(b, ", shape=%s, style=\"%s\", fillcolor=\"%s\", color=\"%s\", "
                         "fontcolor=\"%s\"", st->shape, st->style, st->fill, st->stroke, st->font);
        if (n->kind == N_POLL) cg_buf_puts(b, ", peripheries=2");
        if (n->kind == N_CALLBACK || n->kind == N_WFC) cg_buf_puts(b, ", margin=\"0.3,0.05\"");
        if (n->kind == N_JOIN) cg_buf_puts(b, ", width=0.12");
        cg_buf_puts(b, "];\n");
    }
    for (int k = 0; k < g->nc; k++) {
        const GCluster *cl = &g->cls[k];
        if (cl->parent != c || !cl->shown) continue;
        const ClusterStyle *cs = &CLUSTER_STYLE[cl->kind];
        cg_buf_printf(b, "%ssubgraph \"%s\" {\n", ind, cl->id);
        cg_buf_printf(b, "%s  graph [id=\"%s\", label=", ind, cl->id);
        dot_str(b, cl->label);
        cg_buf_printf(b, ", style=\"%s\", fillcolor=\"%s\", color=\"%s\"];\n", cs->style, cs->fill,
                      cs->stroke);
        dot_cluster(g, b, k, depth + 1);
        cg_buf_printf(b, "%s}\n", ind);
    }
}

static void emit_dot(Graph *g, CgBuf *b)
{
    const char *name = g->p->workflow->u.wf.name;
    cg_buf_puts(b, "// dwf graph of ");
    put_path(b, g->p);
    cg_buf_printf(b, " (workflow %s)\ndigraph \"%s\" {\n", name, name);
    cg_buf_puts(b, "  graph [rankdir=TB, compound=true, newrank=true, nodesep=0.3, ranksep=0.35, "
                   "fontname=\"Helvetica,Arial,sans-serif\", fontsize=10, fontcolor=\"#333333\", "
                   "labeljust=l];\n"
                   "  node [fontname=\"Helvetica,Arial,sans-serif\", fontsize=10, "
                   "margin=\"0.12,0.05\", penwidth=1.2];\n"
                   "  edge [fontname=\"Helvetica,Arial,sans-serif\", fontsize=9, "
                   "color=\"#555555\", fontcolor=\"#555555\", arrowsize=0.7];\n");
    dot_cluster(g, b, -1, 1);
    for (int i = 0; i < g->ne; i++) {
        const GEdge *e = &g->edges[i];
        cg_buf_printf(b, "  \"%s\" -> \"%s\" [id=\"e%d\"", g->nodes[e->from].id, g->nodes[e->to].id,
                      i);
        if (e->label) {
            cg_buf_puts(b, ", label=");
            dot_str(b, e->label);
        }
        if (e->ltail >= 0) cg_buf_printf(b, ", ltail=\"%s\"", g->cls[e->ltail].id);
        cg_buf_printf(b, "%s];\n", EDGE_STYLE[e->style].dot);
    }
    cg_buf_puts(b, "}\n");
}

static void mm_cluster(Graph *g, CgBuf *b, int c, int depth)
{
    char ind[64];
    snprintf(ind, sizeof ind, "%*s", 2 * depth > 60 ? 60 : 2 * depth, "");
    for (int i = 0; i < g->nn; i++) {
        const GNode *n = &g->nodes[i];
        if (n->cluster != c) continue;
        const NodeStyle *st = &NODE_STYLE[n->kind];
        cg_buf_printf(b, "%s%s%s", ind, n->id, st->open);
        mm_str(b, n->kind == N_JOIN ? " " : n->label);
        cg_buf_printf(b, "%s\n", st->close);
    }
    for (int k = 0; k < g->nc; k++) {
        const GCluster *cl = &g->cls[k];
        if (cl->parent != c || !cl->shown) continue;
        cg_buf_printf(b, "%ssubgraph %s[", ind, cl->id);
        mm_str(b, cl->label);
        cg_buf_puts(b, "]\n");
        mm_cluster(g, b, k, depth + 1);
        cg_buf_printf(b, "%send\n", ind);
    }
}

/* classDef for each node kind used, `class` lines listing its nodes, a style per cluster and
 * a linkStyle per coloured kind of edge: all in a fixed order. */
static void mm_styles(Graph *g, CgBuf *b)
{
    for (int k = 0; k < N_KIND_COUNT; k++) {
        const NodeStyle *st = &NODE_STYLE[k];
        int seen = 0;
        for (int j = 0; j < k && !seen; j++) seen = strcmp(NODE_STYLE[j].cls, st->cls) == 0;
        if (seen) continue; /* kinds sharing a class were listed with the first of them */
        int any = 0;
        for (int i = 0; i < g->nn; i++) {
            if (strcmp(NODE_STYLE[g->nodes[i].kind].cls, st->cls) != 0) continue;
            if (!any)
                cg_buf_printf(b, "  classDef %s fill:%s,stroke:%s,color:%s\n  class ", st->cls,
                              st->fill, st->stroke, st->font);
            cg_buf_printf(b, "%s%s", any ? "," : "", g->nodes[i].id);
            any = 1;
        }
        if (any) cg_buf_printf(b, " %s\n", st->cls);
    }
    for (int k = 0; k < g->nc; k++) {
        const GCluster *cl = &g->cls[k];
        if (!cl->shown) continue;
        const ClusterStyle *cs = &CLUSTER_STYLE[cl->kind];
        cg_buf_printf(b, "  style %s fill:%s,stroke:%s,color:#333333", cl->id, cs->fill,
                      cs->stroke);
        if (cs->dash) cg_buf_printf(b, ",stroke-dasharray:%s", cs->dash);
        cg_buf_putc(b, '\n');
    }
    for (int s = E_ERROR; s <= E_DATA; s++) {
        int any = 0;
        for (int i = 0; i < g->ne; i++) {
            if (g->edges[i].style != (EdgeStyle)s) continue;
            cg_buf_printf(b, "%s%d", any ? "," : "  linkStyle ", i);
            any = 1;
        }
        if (any)
            cg_buf_printf(b, " stroke:%s,color:%s\n", EDGE_STYLE[s].color, EDGE_STYLE[s].color);
    }
}

static void emit_mermaid(Graph *g, CgBuf *b)
{
    cg_buf_puts(b, "flowchart TB\n  %% dwf graph of ");
    put_path(b, g->p);
    cg_buf_printf(b, " (workflow %s)\n", g->p->workflow->u.wf.name);
    mm_cluster(g, b, -1, 1);
    for (int i = 0; i < g->ne; i++) {
        const GEdge *e = &g->edges[i];
        const char *from = e->ltail >= 0 ? g->cls[e->ltail].id : g->nodes[e->from].id;
        cg_buf_printf(b, "  %s %s", from, EDGE_STYLE[e->style].mm_arrow);
        if (e->label) {
            cg_buf_putc(b, '|');
            mm_str(b, e->label);
            cg_buf_putc(b, '|');
        }
        cg_buf_printf(b, " %s\n", g->nodes[e->to].id);
    }
    mm_styles(g, b);
}

/* ---- the console's document (CG_GRAPH_CONSOLE) ---------------------------------------------- */

static const char *const KIND_NAME[N_KIND_COUNT] = {
    [N_START] = "start", [N_END] = "end", [N_STEP] = "step", [N_WAIT] = "wait", [N_CALLBACK] = "callback",
    [N_AWAIT] = "await", [N_WFC] = "wfc", [N_POLL] = "poll", [N_INVOKE] = "invoke", [N_IF] = "if",
    [N_LOOP] = "loop", [N_FORK] = "fork", [N_JOIN] = "join", [N_FAIL] = "fail", [N_TRY] = "try",
    [N_GROUP] = "group",
};

/* The name the node's operations get: "name" (a literal label or a step's binding), "parts"
 * (a template's literal pieces, each interpolation between two of them matching any text),
 * or nothing (unnamed operations). */
static void json_op_name(CgBuf *b, const GNode *n)
{
    const AstNode *l = n->op_label;
    if (l && l->kind == AST_STR) {
        cg_buf_puts(b, ", \"name\": ");
        cg_json_string(b, l->u.str.s, l->u.str.len);
    } else if (l && l->kind == AST_TEMPLATE) {
        /* the literal text between interpolations: "a-${x}-b" is ["a-", "-b"] */
        CgBuf piece = {0};
        cg_buf_puts(b, ", \"parts\": [");
        for (const AstNode *part = l->u.tmpl.parts; part; part = part->next) {
            if (part->kind == AST_STR) {
                cg_buf_putn(&piece, part->u.str.s, part->u.str.len);
                continue;
            }
            cg_json_string(b, piece.s ? piece.s : "", piece.len);
            cg_buf_puts(b, ", ");
            piece.len = 0;
        }
        cg_json_string(b, piece.s ? piece.s : "", piece.len);
        if (piece.oom) b->oom = 1;
        cg_buf_free(&piece);
        cg_buf_puts(b, "]");
    } else if (l) {
        cg_buf_puts(b, ", \"parts\": [\"\", \"\"]"); /* a computed name: any */
    } else if (n->op_dflt) {
        cg_buf_puts(b, ", \"name\": ");
        cg_json_string(b, n->op_dflt, strlen(n->op_dflt));
    }
}

/* {"workflow","source","dot","nodes":[{"id","kind","line","subtype"?,"name"?|"parts"?}]}: the DOT
 * `dwf graph` writes, and for each node the operations it stands for, which the web console
 * matches against an execution's operations to colour the node by their status. */
static void emit_console(Graph *g, CgBuf *b)
{
    CgBuf dot = {0}, path = {0};
    emit_dot(g, &dot);
    put_path(&path, g->p);
    const char *name = g->p->workflow->u.wf.name;
    cg_buf_puts(b, "{\"workflow\": ");
    cg_json_string(b, name, strlen(name));
    cg_buf_puts(b, ", \"source\": ");
    cg_json_string(b, path.s ? path.s : "", path.len);
    cg_buf_puts(b, ",\n \"dot\": ");
    cg_json_string(b, dot.s ? dot.s : "", dot.len);
    if (dot.oom || path.oom) b->oom = 1;
    cg_buf_free(&dot);
    cg_buf_free(&path);
    cg_buf_puts(b, ",\n \"nodes\": [");
    for (int i = 0; i < g->nn; i++) {
        const GNode *n = &g->nodes[i];
        cg_buf_printf(b, "%s\n  {\"id\": \"%s\", \"kind\": \"%s\", \"line\": %d", i ? "," : "", n->id,
                      KIND_NAME[n->kind], n->line);
        if (n->op_subtype) {
            cg_buf_printf(b, ", \"subtype\": \"%s\"", n->op_subtype);
            json_op_name(b, n);
        }
        cg_buf_putc(b, '}');
    }
    cg_buf_puts(b, "\n]}\n");
}

int cg_emit_graph(const Program *p, CgGraphFormat format, FILE *out)
{
    if (!p || !p->workflow) return -1;
    Graph g = {.p = p};
    graph_build(&g);
    CgBuf b = {0};
    if (g.oom) b.oom = 1;
    else if (format == CG_GRAPH_MERMAID) emit_mermaid(&g, &b);
    else if (format == CG_GRAPH_CONSOLE) emit_console(&g, &b);
    else emit_dot(&g, &b);
    int rc = (g.oom || b.oom) ? -1 : 0;
    if (rc == 0 && b.len && fwrite(b.s, 1, b.len, out) != b.len) rc = -1;
    cg_buf_free(&b);
    graph_free(&g);
    return rc;
}
