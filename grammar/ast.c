/*
 * ast.c: the compilation arena, node construction and the debug dump.
 *
 * Everything a compilation makes (tokens' text, nodes, symbols, diagnostics' strings) is
 * bump-allocated from one Arena and released with one arena_free(), so neither the parser's
 * error recovery nor a failed check ever has to free a partial tree. Chunks grow geometrically;
 * a request larger than a chunk gets a chunk of its own. Out of memory is not recoverable in a
 * compiler run: we print a message and abort (Redis' zmalloc default), which also keeps every
 * caller free of NULL checks.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"

typedef struct Chunk {
    struct Chunk *next;
    size_t size, used;
    _Alignas(max_align_t) unsigned char data[];
} Chunk;

struct Arena {
    Chunk *head;
    size_t next_size;
};

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p) {
        fprintf(stderr, "dwf: out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

Arena *arena_new(void)
{
    Arena *a = xmalloc(sizeof *a);
    a->head = NULL;
    a->next_size = 16 * 1024;
    return a;
}

void arena_free(Arena *a)
{
    if (!a) return;
    Chunk *c = a->head;
    while (c) {
        Chunk *next = c->next;
        free(c);
        c = next;
    }
    free(a);
}

void *arena_alloc(Arena *a, size_t n)
{
    const size_t align = _Alignof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    if (n == 0) n = align;
    Chunk *c = a->head;
    if (!c || c->size - c->used < n) {
        size_t size = a->next_size;
        if (size < n) size = n;
        if (a->next_size < 4 * 1024 * 1024) a->next_size *= 2;
        c = xmalloc(sizeof *c + size);
        c->size = size;
        c->used = 0;
        c->next = a->head;
        a->head = c;
    }
    void *p = c->data + c->used;
    c->used += n;
    memset(p, 0, n);
    return p;
}

char *arena_strndup(Arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (n) memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(Arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *arena_printf(Arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return arena_strdup(a, "");
    char *p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

AstNode *ast_new(Arena *a, AstKind kind, SrcLoc loc)
{
    AstNode *n = arena_alloc(a, sizeof *n);
    n->kind = kind;
    n->loc = loc;
    return n;
}

const char *ast_kind_name(AstKind k)
{
    static const char *const names[] = {
#define AST_NAME_(k) #k,
        AST_KINDS(AST_NAME_)
#undef AST_NAME_
    };
    if ((int)k < 0 || k >= AST_KIND_COUNT) return "AST_?";
    return names[k];
}

static const char *op_name(AstOp op)
{
    static const char *const names[] = {"+",  "-",  "*", "/",  "%",  "==", "!=", "<",
                                        "<=", ">",  ">=", "&&", "||", "??", "neg", "!"};
    return (unsigned)op < sizeof names / sizeof names[0] ? names[op] : "?";
}

/* Strings are dumped with C escapes so a dump is one line per node even for "a\nb". */
static void dump_bytes(FILE *out, const char *s, size_t n)
{
    fputc('"', out);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') fprintf(out, "\\%c", ch);
        else if (ch == '\n') fputs("\\n", out);
        else if (ch == '\t') fputs("\\t", out);
        else if (ch < 0x20 || ch == 0x7f) fprintf(out, "\\x%02x", ch);
        else fputc(ch, out);
    }
    fputc('"', out);
}

static void dump_list(const char *label, const AstNode *n, int indent, FILE *out)
{
    if (!n) return;
    fprintf(out, "%*s%s:\n", indent, "", label);
    for (; n; n = n->next) ast_dump(n, indent + 2, out);
}

static void dump_one(const char *label, const AstNode *n, int indent, FILE *out)
{
    if (!n) return;
    fprintf(out, "%*s%s:\n", indent, "", label);
    ast_dump(n, indent + 2, out);
}

static const char *sym_cname(const Symbol *s)
{
    return s && s->cname ? s->cname : "-";
}

/* One node per line: kind, its scalar fields, "@line:col", then children indented. Only this
 * node (not n->next) is printed; lists are printed by their owners. */
void ast_dump(const AstNode *n, int indent, FILE *out)
{
    if (!n) return;
    fprintf(out, "%*s%s", indent, "", ast_kind_name(n->kind) + 4);
    int in = indent + 2;
    switch (n->kind) {
    case AST_NULL: break;
    case AST_BOOL: fprintf(out, " %s", n->u.bval ? "true" : "false"); break;
    case AST_NUM: fprintf(out, " %s", n->u.n.text ? n->u.n.text : "?"); break;
    case AST_STR: fputc(' ', out); dump_bytes(out, n->u.str.s, n->u.str.len); break;
    case AST_DURATION: fprintf(out, " %s = %gs", n->u.dur.text, n->u.dur.seconds); break;
    case AST_PROP: fprintf(out, " %s", n->u.prop.key); break;
    case AST_NAME: fprintf(out, " %s [%s]", n->u.name.id, sym_cname(n->u.name.sym)); break;
    case AST_MEMBER:
        if (n->u.member.key) fprintf(out, " .%s", n->u.member.key);
        break;
    case AST_CALL: case AST_CCALL: fprintf(out, " %s", n->u.call.fn); break;
    case AST_UNARY: case AST_BINARY: fprintf(out, " %s", op_name(n->u.op.op)); break;
    case AST_HTTP: fprintf(out, " %s", n->u.http.method); break;
    case AST_AWS: fprintf(out, " %s.%s", n->u.aws.service, n->u.aws.action); break;
    case AST_LET: case AST_ASSIGN: fprintf(out, " %s [%s]", n->u.let.id, sym_cname(n->u.let.sym)); break;
    case AST_STEP:
        if (n->u.step.bind) fprintf(out, " %s [%s]", n->u.step.bind, sym_cname(n->u.step.sym));
        if (n->u.step.semantics == SEM_AT_MOST_ONCE) fputs(" at_most_once", out);
        break;
    case AST_CALLBACK: fprintf(out, " %s [%s]", n->u.callback.bind, sym_cname(n->u.callback.sym)); break;
    case AST_POLL:
        fprintf(out, " %s [%s] jitter=%d", n->u.poll.bind ? n->u.poll.bind : "-",
                sym_cname(n->u.poll.sym), (int)n->u.poll.jitter);
        break;
    case AST_PARALLEL: case AST_MAP:
        if (n->u.batch.bind) fprintf(out, " %s [%s]", n->u.batch.bind, sym_cname(n->u.batch.sym));
        if (n->kind == AST_MAP)
            fprintf(out, " as %s%s%s", n->u.batch.item ? n->u.batch.item : "-",
                    n->u.batch.index ? ", " : "", n->u.batch.index ? n->u.batch.index : "");
        if (n->u.batch.tolerate_percent) fputs(" tolerate%", out);
        break;
    case AST_BRANCH: case AST_GROUP:
        if (n->u.group.bind) fprintf(out, " %s [%s]", n->u.group.bind, sym_cname(n->u.group.sym));
        break;
    case AST_FOR:
        fprintf(out, " %s [%s]", n->u.for_.var, sym_cname(n->u.for_.var_sym));
        if (n->u.for_.index) fprintf(out, ", %s [%s]", n->u.for_.index, sym_cname(n->u.for_.index_sym));
        break;
    case AST_CATCH:
        if (n->u.catch_.err) fprintf(out, " %s [%s]", n->u.catch_.err, sym_cname(n->u.catch_.err_sym));
        break;
    case AST_LOG: {
        static const char *const lv[] = {"debug", "info", "warn", "error"};
        fprintf(out, " %s", lv[n->u.log.level & 3]);
        break;
    }
    case AST_RETRY:
        if (n->u.retry.jitter_set) fprintf(out, " jitter=%d", (int)n->u.retry.jitter);
        break;
    case AST_CONFIG:
        fputs(n->u.config.which == CONFIG_DURABLE ? " durable" : n->u.config.which == CONFIG_LAMBDA ? " lambda"
                                                                                              : " permissions",
              out);
        break;
    case AST_USE: fprintf(out, " %s", n->u.use.path); break;
    case AST_WORKFLOW: fprintf(out, " %s", n->u.wf.name); break;
    default: break;
    }
    fprintf(out, " @%d:%d%s\n", n->loc.first_line, n->loc.first_column, n->in_step ? " step" : "");

    switch (n->kind) {
    case AST_TEMPLATE: dump_list("parts", n->u.tmpl.parts, in, out); break;
    case AST_ARRAY: case AST_OBJECT: dump_list("items", n->u.list.items, in, out); break;
    case AST_PROP: if (n->u.prop.value) ast_dump(n->u.prop.value, in, out); break;
    case AST_MEMBER: case AST_INDEX:
        dump_one("obj", n->u.member.obj, in, out);
        dump_one("index", n->u.member.index, in, out);
        break;
    case AST_CALL: case AST_CCALL: dump_list("args", n->u.call.args, in, out); break;
    case AST_UNARY: case AST_BINARY:
        ast_dump(n->u.op.a, in, out);
        ast_dump(n->u.op.b, in, out);
        break;
    case AST_LAMBDA: ast_dump(n->u.lambda.body, in, out); break;
    case AST_COND:
        ast_dump(n->u.cond.cond, in, out);
        ast_dump(n->u.cond.a, in, out);
        ast_dump(n->u.cond.b, in, out);
        break;
    case AST_HTTP:
        dump_one("url", n->u.http.url, in, out);
        dump_one("headers", n->u.http.headers, in, out);
        dump_one("body", n->u.http.body, in, out);
        dump_one("timeout", n->u.http.timeout, in, out);
        break;
    case AST_AWS: ast_dump(n->u.aws.params, in, out); break;
    case AST_AWAIT: ast_dump(n->u.await.target, in, out); break;
    case AST_INVOKE:
        dump_one("label", n->u.invoke.label, in, out);
        dump_one("function", n->u.invoke.function, in, out);
        dump_one("payload", n->u.invoke.payload, in, out);
        dump_one("timeout", n->u.invoke.timeout, in, out);
        break;
    case AST_WAIT_CALLBACK:
        dump_one("label", n->u.wfc.label, in, out);
        dump_one("timeout", n->u.wfc.timeout, in, out);
        dump_one("heartbeat", n->u.wfc.heartbeat, in, out);
        dump_one("retry", n->u.wfc.retry, in, out);
        dump_one("submitter_timeout", n->u.wfc.submitter_timeout, in, out);
        dump_list("body", n->u.wfc.body, in, out);
        break;
    case AST_LET: case AST_ASSIGN: ast_dump(n->u.let.value, in, out); break;
    case AST_EXPR_STMT: ast_dump(n->u.expr.e, in, out); break;
    case AST_STEP:
        dump_one("label", n->u.step.label, in, out);
        dump_one("retry", n->u.step.retry, in, out);
        dump_one("timeout", n->u.step.timeout, in, out);
        dump_list("body", n->u.step.body, in, out);
        dump_list("compensate", n->u.step.compensate, in, out);
        break;
    case AST_WAIT:
        dump_one("label", n->u.wait.label, in, out);
        dump_one("duration", n->u.wait.duration, in, out);
        dump_one("until", n->u.wait.until, in, out);
        break;
    case AST_CALLBACK:
        dump_one("label", n->u.callback.label, in, out);
        dump_one("timeout", n->u.callback.timeout, in, out);
        dump_one("heartbeat", n->u.callback.heartbeat, in, out);
        break;
    case AST_POLL:
        dump_one("label", n->u.poll.label, in, out);
        dump_one("every", n->u.poll.every, in, out);
        dump_one("backoff", n->u.poll.backoff, in, out);
        dump_one("max", n->u.poll.max, in, out);
        dump_one("attempts", n->u.poll.attempts, in, out);
        dump_one("state", n->u.poll.state, in, out);
        dump_one("until", n->u.poll.until, in, out);
        dump_one("timeout", n->u.poll.timeout, in, out);
        dump_list("body", n->u.poll.body, in, out);
        break;
    case AST_PARALLEL: case AST_MAP:
        dump_one("label", n->u.batch.label, in, out);
        dump_one("max", n->u.batch.max_concurrency, in, out);
        dump_one("min_successful", n->u.batch.min_successful, in, out);
        dump_one("tolerate", n->u.batch.tolerate, in, out);
        dump_list("branches", n->u.batch.branches, in, out);
        dump_one("over", n->u.batch.over, in, out);
        dump_one("name", n->u.batch.item_name, in, out);
        dump_list("body", n->u.batch.body, in, out);
        break;
    case AST_BRANCH: case AST_GROUP:
        dump_one("label", n->u.group.label, in, out);
        dump_list("body", n->u.group.body, in, out);
        break;
    case AST_IF:
        ast_dump(n->u.if_.cond, in, out);
        dump_list("then", n->u.if_.then, in, out);
        dump_list("else", n->u.if_.else_, in, out);
        break;
    case AST_FOR:
        dump_one("in", n->u.for_.iter, in, out);
        dump_list("body", n->u.for_.body, in, out);
        break;
    case AST_WHILE:
        ast_dump(n->u.while_.cond, in, out);
        dump_list("body", n->u.while_.body, in, out);
        break;
    case AST_TRY:
        dump_list("body", n->u.try_.body, in, out);
        dump_list("catches", n->u.try_.catches, in, out);
        break;
    case AST_CATCH:
        dump_list("types", n->u.catch_.types, in, out);
        dump_list("handler", n->u.catch_.handler, in, out);
        break;
    case AST_FAIL:
        ast_dump(n->u.fail.type, in, out);
        ast_dump(n->u.fail.message, in, out);
        break;
    case AST_RETURN: if (n->u.ret.value) ast_dump(n->u.ret.value, in, out); break;
    case AST_LOG: ast_dump(n->u.log.message, in, out); break;
    case AST_RETRY:
        dump_one("attempts", n->u.retry.attempts, in, out);
        dump_one("delay", n->u.retry.delay, in, out);
        dump_one("backoff", n->u.retry.backoff, in, out);
        dump_one("max", n->u.retry.max, in, out);
        dump_list("on", n->u.retry.on, in, out);
        break;
    case AST_CONFIG: dump_list("props", n->u.config.props, in, out); break;
    case AST_ALLOW:
        dump_list("actions", n->u.allow.actions, in, out);
        dump_list("on", n->u.allow.resources, in, out);
        break;
    case AST_WORKFLOW:
        dump_list("configs", n->u.wf.configs, in, out);
        dump_list("body", n->u.wf.body, in, out);
        break;
    default: break;
    }
}
