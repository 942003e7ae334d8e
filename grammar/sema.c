/*
 * sema.c: names, determinism, limits; and the annotations codegen relies on.
 *
 * One walk over the tree does everything, because every rule here depends on the same
 * context: which names are visible (a chain of scopes), whether we are inside a step body
 * (where the code runs once per attempt and its result is recorded) or in durable code (which
 * re-runs on every invocation and must do the same thing each time), and which "frame" a
 * variable lives in (branches, map items, groups and compensations get a copy of their
 * parent's variables, so an assignment there would silently not be seen outside).
 *
 * The rules follow from replay. Durable code re-runs from the top on every invocation, so it
 * may not read the clock, draw random numbers, do I/O or log (all of which would differ, or
 * repeat, on replay); those belong in step bodies. A step body, conversely, runs as a single
 * recorded unit, so it may not start durable operations, and it may not assign to variables
 * outside itself: on replay the body is skipped and the assignment would be lost.
 *
 * Limits are the service's (sema.h): wait 1 s .. 1 year, retention 1..90 days, execution
 * timeout up to 31,622,400 s, names of at most 256 printable ASCII characters, 256 KB
 * payloads, 3,000 operations per execution. The last is estimated statically (loops over
 * literal arrays and range() with literal bounds are counted; other loops count once) and is a
 * warning, not an error, because the estimate can be wrong either way.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "diag.h"
#include "sema.h"
#include "dwf_errors.def" /* enum dwf_errclass */

/* An open-addressing index from a name to the newest entry holding it. Scopes and the set of C
 * names stay plain lists while small; past INDEX_MIN entries lookups go through the index, so a
 * workflow of N names checks in O(N) rather than O(N^2). Tables live in the arena. */
#define INDEX_MIN 16
typedef struct NameIndex {
    const char **keys;
    void **vals;
    size_t cap, n;
} NameIndex;

static size_t name_hash(const char *k)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (; *k; k++) h = (h ^ (unsigned char)*k) * 1099511628211u;
    return h;
}

static void *index_get(const NameIndex *x, const char *k)
{
    if (!x->cap) return NULL;
    for (size_t i = name_hash(k) & (x->cap - 1);; i = (i + 1) & (x->cap - 1)) {
        if (!x->keys[i]) return NULL;
        if (strcmp(x->keys[i], k) == 0) return x->vals[i];
    }
}

/* Insert or replace (the newest entry for a name wins, as in the lists). */
static void index_put(Arena *a, NameIndex *x, const char *k, void *v)
{
    if ((x->n + 1) * 2 > x->cap) {
        NameIndex y = {0};
        y.cap = x->cap ? x->cap * 2 : 64;
        y.keys = arena_alloc(a, y.cap * sizeof *y.keys);
        y.vals = arena_alloc(a, y.cap * sizeof *y.vals);
        for (size_t i = 0; i < x->cap; i++)
            if (x->keys[i]) index_put(a, &y, x->keys[i], x->vals[i]);
        *x = y;
    }
    size_t i = name_hash(k) & (x->cap - 1);
    while (x->keys[i] && strcmp(x->keys[i], k) != 0) i = (i + 1) & (x->cap - 1);
    if (!x->keys[i]) x->n++;
    x->keys[i] = k;
    x->vals[i] = v;
}

typedef struct Binding {
    const char *name;
    Symbol *sym;
    int frame;   /* the frame (copy of variables) it lives in */
    int step;    /* the step body it was declared in, 0 = none */
    struct Binding *next;
} Binding;

/* Every name the workflow declares anywhere, found before checking, so that an unknown name
 * can be explained ("defined later", "not visible here") rather than only reported. */
typedef struct Decl {
    const char *name;
    SrcLoc loc;
    struct Decl *next;
} Decl;

typedef struct Scope {
    struct Scope *up;
    Binding *names;
    NameIndex index; /* names by name, once the scope holds many (a long workflow body) */
} Scope;

/* What kind of once-per-attempt code we are in, for messages. */
typedef enum { CTX_DURABLE, CTX_STEP, CTX_POLL, CTX_SUBMITTER } Ctx;

typedef struct Sema {
    Program *prog;
    Diag *d;
    Arena *a;
    Scope *scope;
    Symbol *syms, *syms_tail;
    NameIndex cnames; /* every Symbol.cname, for unique C names */
    Ctx ctx;
    int step_id, next_step_id;   /* current step body (0 = durable code) */
    int frame, next_frame;
    const char *frame_what;      /* "a branch", "a map item", ... for messages */
    Symbol *cb_sym;              /* `callback` inside a wait-for-callback submitter */
    double ops, mult;            /* operation estimate */
    const char **invoke_targets;  /* NULL-terminated; capacity doubles (O(1) amortized add) */
    int ninvoke, invoke_cap;
    int stop;
    int depth, said_deep;         /* expression nesting, to refuse what would overflow the stack */
    int lambda_depth;             /* lambdas around the expression being checked (0: none) */
    Decl *decls;
    NameIndex awaited;            /* callbacks some `await` names, by their unique cname */
    const char *no_durable;       /* set while checking an expression the runtime evaluates on
                                   * its own (a name, a map item namer, a poll's state/until) */
    AstNode *loop;                /* the innermost `while` / `for` that `break` may leave */
    const char *loop_wall;        /* set when a loop is outside the unit we are in ("a step
                                   * body", "a branch"...): `break` there cannot reach it */
} Sema;

/* Deeper expressions than this are refused: `1+1+...` can nest without brackets, and every
 * later pass (this one, codegen, the dump) recurses over the tree. */
#define SEMA_MAX_DEPTH 2000

static void check_stmts(Sema *s, AstNode *list);
static void check_expr(Sema *s, AstNode *e);

/* ---- helpers ------------------------------------------------------------------------------ */

/* Edit distance counting a swap of two adjacent letters as one edit ("stpe" is one edit from
 * "step", as in cli/options.c), so a transposition beats a same-length word two edits away. */
static int levenshtein(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    int d[65][65];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[la][lb];
}

/* Is `cand` a plausible intended spelling of `wrong`? */
static int close_enough(const char *wrong, const char *cand, int *best)
{
    int dist = levenshtein(wrong, cand);
    int len = (int)strlen(wrong);
    int limit = len <= 3 ? 1 : len <= 6 ? 2 : 3;
    if (dist > 0 && dist <= limit && dist < *best) {
        *best = dist;
        return 1;
    }
    return 0;
}

const char *sema_suggest(const char *wrong, const char *const *cands, size_t n)
{
    int best = 99;
    const char *pick = NULL;
    for (size_t i = 0; i < n; i++)
        if (close_enough(wrong, cands[i], &best)) pick = cands[i];
    return pick;
}

static int is_full(Sema *s)
{
    if (!s->stop && diag_full(s->d)) s->stop = 1;
    return s->stop;
}

static const char *ctx_body_name(Ctx c)
{
    return c == CTX_POLL ? "a poll check" : c == CTX_SUBMITTER ? "a callback submitter" : "a step body";
}

static void replay_note(Sema *s, SrcLoc loc)
{
    diag_note(s->d, loc,
              "the workflow body re-runs from the top on every invocation (replay) and only step "
              "results are recorded; do this inside a step so it runs once and its result is kept");
}

/* ---- loops and the units break cannot leave ----------------------------------------------- */

/* A step body, poll check, submitter, branch, map item, group or compensation is generated as
 * a function of its own and runs as a unit (recorded, or in a child context): `break` and
 * `continue` inside it cannot reach a loop outside it. */
typedef struct LoopSave { AstNode *loop; const char *wall; } LoopSave;

static LoopSave loop_wall(Sema *s, const char *unit)
{
    LoopSave v = {s->loop, s->loop_wall};
    if (s->loop) s->loop_wall = unit;
    s->loop = NULL;
    return v;
}

static void loop_restore(Sema *s, LoopSave v)
{
    s->loop = v.loop;
    s->loop_wall = v.wall;
}

/* ---- scopes and symbols ------------------------------------------------------------------- */

static void push_scope(Sema *s)
{
    Scope *sc = arena_alloc(s->a, sizeof *sc);
    sc->up = s->scope;
    s->scope = sc;
}

static void pop_scope(Sema *s)
{
    s->scope = s->scope->up;
}

/* The newest binding of `name` in one scope. */
static Binding *scope_find(const Scope *sc, const char *name)
{
    if (sc->index.cap) return index_get(&sc->index, name);
    for (Binding *b = sc->names; b; b = b->next)
        if (strcmp(b->name, name) == 0) return b;
    return NULL;
}

static Binding *lookup(Sema *s, const char *name)
{
    for (Scope *sc = s->scope; sc; sc = sc->up) {
        Binding *b = scope_find(sc, name);
        if (b) return b;
    }
    return NULL;
}

static int cname_taken(Sema *s, const char *cname)
{
    return index_get(&s->cnames, cname) != NULL;
}

/* A new variable in the current scope, with a C name unique in the workflow. */
static Symbol *declare(Sema *s, const char *name, SrcLoc loc, AstNode *decl)
{
    SrcLoc at = loc;
    if (decl && decl->bind_loc.first_line > 0 && decl->kind != AST_MAP && decl->kind != AST_TRY &&
        decl->kind != AST_WAIT_CALLBACK && decl->kind != AST_POLL && decl->kind != AST_FOR)
        at = decl->bind_loc;
    Binding *prev = scope_find(s->scope, name);
    if (prev) {
        diag_error(s->d, at, "redefinition of '%s'", name);
        diag_note(s->d, prev->sym->loc, "'%s' was first defined here", name);
    }
    Symbol *y = arena_alloc(s->a, sizeof *y);
    y->name = name;
    y->loc = loc;
    /* point at the name itself when the parser recorded where it is written */
    if (decl && decl->bind_loc.first_line > 0 && decl->kind != AST_MAP && decl->kind != AST_TRY &&
        decl->kind != AST_WAIT_CALLBACK && !(decl->kind == AST_POLL && strcmp(name, "state") == 0) &&
        !(decl->kind == AST_FOR && decl->u.for_.index && strcmp(name, decl->u.for_.index) == 0))
        y->loc = decl->bind_loc;
    y->decl = decl;
    const char *cname = arena_printf(s->a, "u_%s", name);
    for (int n = 2; cname_taken(s, cname); n++) cname = arena_printf(s->a, "u_%s_%d", name, n);
    y->cname = cname;
    index_put(s->a, &s->cnames, cname, y);
    if (s->syms_tail) s->syms_tail->next = y;
    else s->syms = y;
    s->syms_tail = y;

    Binding *b = arena_alloc(s->a, sizeof *b);
    b->name = name;
    b->sym = y;
    b->frame = s->frame;
    b->step = s->step_id;
    b->next = s->scope->names;
    s->scope->names = b;
    Scope *sc = s->scope;
    if (sc->index.cap) {
        index_put(s->a, &sc->index, name, b);
    } else {
        size_t count = 0;
        for (Binding *x = sc->names; x; x = x->next) count++;
        if (count > INDEX_MIN) /* build the index: oldest first, so the newest wins */
            for (size_t k = count; k > 0; k--) {
                Binding *x = sc->names;
                for (size_t j = 1; j < k; j++) x = x->next;
                index_put(s->a, &sc->index, x->name, x);
            }
    }
    return y;
}

static void unknown_name(Sema *s, AstNode *n)
{
    const char *id = n->u.name.id;
    if (strcmp(id, "attempt") == 0) {
        diag_error(s->d, n->loc, "'attempt' is only defined inside a step body");
        diag_note(s->d, n->loc, "it is the number (from 1) of the attempt a step body is running");
        return;
    }
    if (strcmp(id, "callback") == 0) {
        diag_error(s->d, n->loc, "'callback' is only defined inside a 'wait for callback' submitter");
        return;
    }
    if (strcmp(id, "state") == 0) {
        diag_error(s->d, n->loc, "'state' is only defined inside a poll");
        return;
    }
    diag_error(s->d, n->loc, "unknown name '%s'", id);
    for (Decl *d = s->decls; d; d = d->next)
        if (strcmp(d->name, id) == 0) {
            int later = d->loc.first_line > n->loc.first_line ||
                        (d->loc.first_line == n->loc.first_line && d->loc.first_column > n->loc.first_column);
            if (later)
                diag_note(s->d, d->loc, "'%s' is defined later, here", id);
            else
                diag_note(s->d, d->loc, "'%s' is defined here, in a block that is not visible from the use "
                                        "(a step body, branch, map item, group or inner block); return its "
                                        "value from that block instead", id);
            return;
        }
    int best = 99;
    Symbol *pick = NULL;
    for (Scope *sc = s->scope; sc; sc = sc->up)
        for (Binding *b = sc->names; b; b = b->next)
            if (close_enough(id, b->name, &best)) pick = b->sym;
    if (pick) diag_note(s->d, pick->loc, "did you mean '%s'?", pick->name);
}

static void add_decl(Sema *s, const char *name, SrcLoc loc)
{
    if (!name) return;
    Decl *d = arena_alloc(s->a, sizeof *d);
    d->name = name;
    d->loc = loc;
    d->next = s->decls;
    s->decls = d;
}

static void collect_decls(Sema *s, AstNode *list, int depth)
{
    if (depth > 300) return; /* blocks nest at most 200 deep (PARSE_MAX_NESTING) */
    for (AstNode *n = list; n; n = n->next) {
        SrcLoc at = n->bind_loc.first_line > 0 ? n->bind_loc : n->loc;
        switch (n->kind) {
        case AST_LET:
            add_decl(s, n->u.let.id, at);
            if (n->u.let.value && n->u.let.value->kind == AST_WAIT_CALLBACK)
                collect_decls(s, n->u.let.value->u.wfc.body, depth + 1);
            break;
        case AST_STEP:
            add_decl(s, n->u.step.bind, at);
            collect_decls(s, n->u.step.body, depth + 1);
            collect_decls(s, n->u.step.compensate, depth + 1);
            break;
        case AST_CALLBACK: add_decl(s, n->u.callback.bind, at); break;
        case AST_POLL:
            add_decl(s, n->u.poll.bind, at);
            collect_decls(s, n->u.poll.body, depth + 1);
            break;
        case AST_PARALLEL:
            add_decl(s, n->u.batch.bind, at);
            collect_decls(s, n->u.batch.branches, depth + 1);
            break;
        case AST_BRANCH: case AST_GROUP:
            add_decl(s, n->u.group.bind, at);
            collect_decls(s, n->u.group.body, depth + 1);
            break;
        case AST_MAP:
            add_decl(s, n->u.batch.bind, at);
            add_decl(s, n->u.batch.item, n->loc);
            add_decl(s, n->u.batch.index, n->loc);
            collect_decls(s, n->u.batch.body, depth + 1);
            break;
        case AST_IF:
            collect_decls(s, n->u.if_.then, depth + 1);
            collect_decls(s, n->u.if_.else_, depth + 1);
            break;
        case AST_FOR:
            add_decl(s, n->u.for_.var, at);
            add_decl(s, n->u.for_.index, n->loc);
            collect_decls(s, n->u.for_.body, depth + 1);
            break;
        case AST_WHILE:
            collect_decls(s, n->u.while_.body, depth + 1);
            break;
        case AST_TRY:
            collect_decls(s, n->u.try_.body, depth + 1);
            for (AstNode *k = n->u.try_.catches; k; k = k->next) {
                add_decl(s, k->u.catch_.err, k->loc);
                collect_decls(s, k->u.catch_.handler, depth + 1);
            }
            break;
        case AST_EXPR_STMT:
            if (n->u.expr.e && n->u.expr.e->kind == AST_WAIT_CALLBACK)
                collect_decls(s, n->u.expr.e->u.wfc.body, depth + 1);
            break;
        default:
            break;
        }
    }
}

/* ---- literal checks ----------------------------------------------------------------------- */

static int is_whole(double x)
{
    return floor(x) == x;
}

/* A duration option: a duration literal within [lo, hi] seconds, whole seconds if `whole`.
 * Returns the seconds, or -1 (and reports) when it is not acceptable. */
static double check_duration(Sema *s, AstNode *v, const char *what, double lo, double hi, int whole)
{
    if (!v) return -1;
    if (v->kind == AST_UNARY && v->u.op.op == OP_NEG && v->u.op.a->kind == AST_DURATION) {
        diag_error(s->d, v->loc, "%s of -%s: a duration cannot be negative", what, v->u.op.a->u.dur.text);
        SrcLoc minus = {v->loc.first_line, v->loc.first_column, v->loc.first_line, v->loc.first_column + 1};
        diag_fixit(s->d, minus, "");
        return -1;
    }
    if (v->kind != AST_DURATION) {
        diag_error(s->d, v->loc, "%s takes a duration such as 30s or 5m", what);
        return -1;
    }
    double sec = v->u.dur.seconds;
    if (sec < lo) {
        diag_error(s->d, v->loc, "%s of %s is too short: the minimum is %gs", what, v->u.dur.text, lo);
        return -1;
    }
    if (sec > hi) {
        diag_error(s->d, v->loc, "%s of %s is too long: the maximum is %.0fs", what, v->u.dur.text, hi);
        return -1;
    }
    if (whole && !is_whole(sec)) {
        diag_error(s->d, v->loc, "%s of %s is not a whole number of seconds", what, v->u.dur.text);
        diag_note(s->d, v->loc, "the durable execution service counts %s in whole seconds", what);
        return -1;
    }
    return sec;
}

/* A per-attempt timeout (a step's, a submitter's, a poll check's): an attempt runs inside one
 * invocation (at most 900 s), so its timeout fits in one. */
static void check_attempt_timeout(Sema *s, AstNode *timeout, const char *what)
{
    double t = check_duration(s, timeout, what, 0.001, 900, 0);
    if (t > s->prog->cfg.timeout_s) {
        diag_warning(s->d, timeout->loc, "%s %s is longer than the invocation timeout (%ds): the invocation ends first",
                     what, timeout->u.dur.text, s->prog->cfg.timeout_s);
        diag_note(s->d, timeout->loc, "raise lambda { timeout } or shorten the %s", what);
    }
}

/* A count option: a number literal, a whole number if `whole`, within [lo, hi]. */
static double check_number(Sema *s, AstNode *v, const char *what, double lo, double hi, int whole)
{
    if (!v) return -1;
    if (v->kind != AST_NUM) {
        diag_error(s->d, v->loc, "%s takes a number", what);
        return -1;
    }
    double x = v->u.n.num;
    if (whole && !is_whole(x)) {
        diag_error(s->d, v->loc, "%s must be a whole number", what);
        return -1;
    }
    if (x < lo || x > hi) {
        diag_error(s->d, v->loc, "%s must be between %g and %g", what, lo, hi);
        return -1;
    }
    return x;
}

static void check_string_size(Sema *s, AstNode *n)
{
    if (n->u.str.len > DWF_LIMIT_OPERATION_PAYLOAD) {
        diag_error(s->d, n->loc, "string literal of %zu bytes is larger than 256 KB", n->u.str.len);
        diag_note(s->d, n->loc, "values are checkpointed as payloads, which the service limits to 256 KB");
    }
}

/* An operation name: a literal string (or a template's literal parts) of 1..256 printable
 * ASCII characters, the service's rule for Name. */
static void check_label(Sema *s, AstNode *label)
{
    if (!label) return;
    if (label->kind == AST_STR) {
        if (label->u.str.len == 0) {
            diag_error(s->d, label->loc, "operation name is empty");
            return;
        }
        if (label->u.str.len > SEMA_MAX_NAME)
            diag_error(s->d, label->loc, "operation name is %zu characters long; the maximum is %d",
                       label->u.str.len, SEMA_MAX_NAME);
        for (size_t i = 0; i < label->u.str.len; i++) {
            unsigned char ch = (unsigned char)label->u.str.s[i];
            if (ch < 0x20 || ch > 0x7e) {
                diag_error(s->d, label->loc, "operation name holds a character that is not printable ASCII");
                diag_note(s->d, label->loc, "the service accepts names of printable ASCII only (space to '~')");
                break;
            }
        }
        return;
    }
    /* a template: its literal parts must be printable ASCII; its expressions are checked later */
    for (AstNode *p = label->u.tmpl.parts; p; p = p->next)
        if (p->kind == AST_STR)
            for (size_t i = 0; i < p->u.str.len; i++) {
                unsigned char ch = (unsigned char)p->u.str.s[i];
                if (ch < 0x20 || ch > 0x7e) {
                    diag_error(s->d, label->loc, "operation name holds a character that is not printable ASCII");
                    return;
                }
            }
}

/* A durable operation in the wrong place: reported, then checked as if it were allowed, so
 * its names are still declared and do not cause a second, misleading error. */
/* What a lambda may not do: lambdas are pure, so a builtin that calls one gives the same value
 * on every replay, inside a step body or out of it. Returns 1 (and reports) when `what` is in
 * a lambda. */
static int impure_in_lambda(Sema *s, AstNode *n, const char *what)
{
    if (!s->lambda_depth) return 0;
    diag_error(s->d, n->loc, "%s cannot be used inside a lambda", what);
    diag_note(s->d, n->loc, "a lambda must be pure: it computes a value from its parameters and the "
                            "variables it reads; compute anything else first with 'let'");
    return 1;
}

static void durable_here(Sema *s, AstNode *n, const char *what)
{
    if (impure_in_lambda(s, n, arena_printf(s->a, "'%s'", what))) return;
    if (s->ctx == CTX_DURABLE) return;
    diag_error(s->d, n->loc, "'%s' cannot be used inside %s", what, ctx_body_name(s->ctx));
    diag_note(s->d, n->loc,
              "%s runs as one recorded unit of work, so it cannot hold durable operations; "
              "put them in the workflow body, a branch, a group or a map item",
              ctx_body_name(s->ctx));
}

/* await / invoke / wait for callback may appear anywhere in durable code (codegen hoists them
 * in evaluation order), except in expressions the runtime evaluates by itself. */
static void durable_expr_here(Sema *s, AstNode *n, const char *what)
{
    if (!s->no_durable || s->ctx != CTX_DURABLE || s->lambda_depth) return;
    diag_error(s->d, n->loc, "'%s' cannot be used in %s", what, s->no_durable);
    diag_note(s->d, n->loc, "compute the value first with 'let', then use the variable here");
}

/* Check an expression in which durable expressions are not allowed. */
static void check_plain(Sema *s, AstNode *e, const char *where)
{
    const char *saved = s->no_durable;
    s->no_durable = where;
    check_expr(s, e);
    s->no_durable = saved;
}

/* Non-deterministic work (clock, randomness, I/O, logging) outside a step body. */
static void nondet_here(Sema *s, AstNode *n, const char *what)
{
    if (s->ctx != CTX_DURABLE) return;
    diag_error(s->d, n->loc, "%s is not deterministic and cannot be used outside a step body", what);
    replay_note(s, n->loc);
}

/* Iterations of a loop over `e`, when they can be known statically; 1 otherwise. */
static double iterations(AstNode *e)
{
    if (!e) return 1;
    if (e->kind == AST_ARRAY) {
        double k = 0;
        for (AstNode *i = e->u.list.items; i; i = i->next) k++;
        return k;
    }
    if (e->kind == AST_CALL && strcmp(e->u.call.fn, "range") == 0) {
        double v[3];
        int n = 0;
        for (AstNode *a = e->u.call.args; a && n < 3; a = a->next) {
            if (a->kind != AST_NUM) return 1;
            v[n++] = a->u.n.num;
        }
        double lo = n >= 2 ? v[0] : 0, hi = n >= 2 ? v[1] : n == 1 ? v[0] : 0;
        double step = n == 3 ? v[2] : 1;
        if (step == 0) return 1;
        double k = ceil((hi - lo) / step);
        return k > 0 ? k : 0;
    }
    if (e->kind == AST_NAME && e->u.name.sym && e->u.name.sym->decl &&
        e->u.name.sym->decl->kind == AST_LET && e->u.name.sym->decl->u.let.value != e)
        return iterations(e->u.name.sym->decl->u.let.value);
    return 1;
}

static void count_op(Sema *s)
{
    s->ops += s->mult;
}

/* ---- expressions -------------------------------------------------------------------------- */

/* The builtins, from the table the runtime is built from (include/dwf_builtins.def). */
typedef struct Builtin { const char *name; int min, max; int step_only; const char *params; } Builtin;
static const Builtin builtins[] = {
#define DWF_BUILTIN(name, min_args, max_args, where, params, summary)                          \
    {#name, min_args, max_args, DWF_BUILTIN_##where == DWF_BUILTIN_STEP_ONLY, params},
#include "dwf_builtins.def"
};
#define NBUILTINS (sizeof builtins / sizeof builtins[0])

/* ---- what kind of value an expression is, when it is written out -------------------------- */
/* The kinds of JSON value (and lambdas), as bits; 0 = not known before run time. */
enum { T_NUM = 1, T_STR = 2, T_BOOL = 4, T_ARR = 8, T_OBJ = 16, T_NULL = 32, T_FN = 64 };

/* The kind of a literal, or of an operator applied to literals ("a" + 1 is a string); 0 for
 * anything that depends on a variable or a call. Used to report, at compile time, what would
 * be a TypeError every time the code runs (`"3" * 2`, `len(5)`, `map m over 42`). */
static unsigned lit_type(const AstNode *e)
{
    if (!e) return 0;
    switch (e->kind) {
    case AST_NUM: case AST_DURATION: return T_NUM;
    case AST_STR: case AST_TEMPLATE: return T_STR;
    case AST_BOOL: return T_BOOL;
    case AST_NULL: return T_NULL;
    case AST_ARRAY: return T_ARR;
    case AST_OBJECT: return T_OBJ;
    case AST_LAMBDA: return T_FN;
    case AST_UNARY: {
        unsigned a = lit_type(e->u.op.a);
        if (e->u.op.op == OP_NOT) return T_BOOL;
        return a == T_NUM ? T_NUM : 0;
    }
    case AST_BINARY: {
        unsigned a = lit_type(e->u.op.a), b = lit_type(e->u.op.b);
        switch (e->u.op.op) {
        case OP_ADD:
            if (a == T_STR || b == T_STR) return T_STR;
            return a && a == b && (a & (T_NUM | T_ARR | T_OBJ)) ? a : 0;
        case OP_SUB: case OP_MUL: case OP_DIV: case OP_MOD: return a == T_NUM && b == T_NUM ? T_NUM : 0;
        case OP_EQ: case OP_NE: case OP_LT: case OP_LE: case OP_GT: case OP_GE: return T_BOOL;
        default: return 0;
        }
    }
    default:
        return 0;
    }
}

/* The name of a kind, as the runtime's TypeError messages say it. */
static const char *type_word(unsigned t)
{
    return t == T_NUM ? "number" : t == T_STR ? "string" : t == T_BOOL ? "boolean" : t == T_ARR ? "array"
         : t == T_OBJ ? "object" : t == T_NULL ? "null" : t == T_FN ? "lambda" : "value";
}

static const char *const op_words[] = {"+", "-", "*", "/", "%", "==", "!=", "<", "<=", ">", ">=",
                                       "&&", "||", "??", "-", "!"};

/* An operator whose operands' kinds are known and wrong: the runtime would raise a TypeError
 * (dwf_binop's rules) every time. */
static void check_operand_types(Sema *s, AstNode *e)
{
    unsigned a = lit_type(e->u.op.a), b = e->kind == AST_BINARY ? lit_type(e->u.op.b) : 0;
    int bad = 0;
    switch (e->u.op.op) {
    case OP_NEG: bad = a && a != T_NUM; break;
    case OP_SUB: case OP_MUL: case OP_DIV: case OP_MOD:
        bad = (a && a != T_NUM) || (b && b != T_NUM);
        break;
    case OP_ADD: bad = a && b && a != T_STR && b != T_STR && (a != b || !(a & (T_NUM | T_ARR | T_OBJ))); break;
    case OP_LT: case OP_LE: case OP_GT: case OP_GE:
        bad = (a && !(a & (T_NUM | T_STR))) || (b && !(b & (T_NUM | T_STR))) || (a && b && a != b);
        break;
    default: break;
    }
    if (!bad) return;
    const char *op = op_words[e->u.op.op];
    if (e->kind == AST_UNARY)
        diag_error(s->d, e->loc, "operator '%s' cannot be applied to %s", op, type_word(a));
    else if (a && b)
        diag_error(s->d, e->loc, "operator '%s' cannot be applied to %s and %s", op, type_word(a), type_word(b));
    else
        diag_error(s->d, e->loc, "operator '%s' cannot be applied to %s", op, type_word(a ? a : b));
    if (e->u.op.op == OP_ADD)
        diag_note(s->d, e->loc, "'+' adds numbers, joins strings (and anything to a string), arrays and objects");
    else if (e->u.op.op >= OP_LT && e->u.op.op <= OP_GE)
        diag_note(s->d, e->loc, "comparisons take two numbers or two strings; num(x) converts a string");
    else
        diag_note(s->d, e->loc, "arithmetic takes numbers; num(x) converts a string holding a number");
}

/* `map .. over X` and `for .. in X` with X written out as something they cannot go through. */
static void check_iterable(Sema *s, AstNode *e, const char *what, unsigned ok)
{
    unsigned t = lit_type(e);
    if (!t || (t & ok)) return;
    diag_error(s->d, e->loc, "%s goes through an array%s, not a %s", what,
               ok & T_OBJ ? " (or an object's keys)" : "", type_word(t));
}

/* Word i of a row's params ("sao x": word 0 is "sao"), the last word standing for any further
 * argument; does it accept kind letter `k`? */
static int param_accepts(const char *params, int i, char k)
{
    const char *w = params;
    for (int j = 0; j < i; j++) {
        const char *sp = strchr(w, ' ');
        if (!sp) break;
        w = sp + 1;
    }
    for (; *w && *w != ' '; w++)
        if (*w == k || (*w == 'x' && k != 'f')) return 1;
    return 0;
}

/* What a param word accepts, in words: "a string, array or object". */
static const char *param_words(Sema *s, const char *params, int i)
{
    static const char letters[] = "nsbaozf";
    static const char *const words[] = {"a number", "a string", "a boolean", "an array", "an object",
                                        "null", "a lambda such as 'x => x.ok'"};
    const char *out = "";
    int n = 0, total = 0;
    for (int k = 0; letters[k]; k++) total += param_accepts(params, i, letters[k]);
    for (int k = 0; letters[k]; k++) {
        if (!param_accepts(params, i, letters[k])) continue;
        const char *w = words[k];
        if (n > 0) w = words[k] + (words[k][1] == ' ' ? 2 : words[k][2] == ' ' ? 3 : 0);
        out = arena_printf(s->a, "%s%s%s", out, n == 0 ? "" : n == total - 1 ? " or " : ", ", w);
        n++;
    }
    return out;
}

/* Argument i of a call of builtin b: a lambda only where the row takes one, nothing else
 * there, and no literal of a kind the row refuses. */
static void check_arg_kind(Sema *s, const Builtin *b, AstNode *a, int i)
{
    if (!b->params[0] || (b->max >= 0 && i >= b->max)) return; /* too many: check_arity said so */
    int wants_fn = param_accepts(b->params, i, 'f');
    unsigned t = lit_type(a);
    if (a->kind == AST_LAMBDA && !wants_fn) return; /* lambda_misplaced says it */
    if (wants_fn && a->kind != AST_LAMBDA) {
        diag_error(s->d, a->loc, "argument %d of '%s' must be a lambda such as 'x => x.ok'", i + 1, b->name);
        diag_note(s->d, a->loc, "a lambda is written in the call: '%s(xs, x => ...)', or "
                                "'(x, i) => ...' to have the item's index too", b->name);
        return;
    }
    if (!t || wants_fn) return;
    static const char letters[] = "nsbaoz";
    static const unsigned kinds[] = {T_NUM, T_STR, T_BOOL, T_ARR, T_OBJ, T_NULL};
    for (int k = 0; letters[k]; k++)
        if (kinds[k] == t && param_accepts(b->params, i, letters[k])) return;
    diag_error(s->d, a->loc, "argument %d of '%s' must be %s, not %s %s", i + 1, b->name,
               param_words(s, b->params, i), t == T_ARR || t == T_OBJ ? "an" : "a", type_word(t));
}

/* A lambda where a value is expected. */
static void lambda_misplaced(Sema *s, AstNode *e)
{
    diag_error(s->d, e->loc, "a lambda is not a value");
    diag_note(s->d, e->loc, "lambdas are only arguments of the builtins that take one: all, any, filter, "
                            "find, group_by, sort_by, transform");
}

#define SEMA_MAX_LAMBDA_DEPTH 6

/* `x => body` / `(x, i) => body`: its parameters in a scope of their own, its body checked as
 * an expression that must be pure (impure_in_lambda). */
static void check_lambda(Sema *s, AstNode *e)
{
    if (s->ctx != CTX_DURABLE) e->in_step = 1;
    if (s->lambda_depth >= SEMA_MAX_LAMBDA_DEPTH) {
        diag_error(s->d, e->loc, "lambdas nested more than %d deep", SEMA_MAX_LAMBDA_DEPTH);
        return;
    }
    e->u.lambda.depth = s->lambda_depth;
    push_scope(s);
    e->u.lambda.param_sym = declare(s, e->u.lambda.param, e->bind_loc, e);
    e->u.lambda.param_sym->used = 1;
    if (e->u.lambda.index) {
        e->u.lambda.index_sym = declare(s, e->u.lambda.index, e->loc, e);
        e->u.lambda.index_sym->used = 1;
    }
    s->lambda_depth++;
    check_expr(s, e->u.lambda.body);
    s->lambda_depth--;
    pop_scope(s);
}

static void check_arity(Sema *s, AstNode *e, const Builtin *b, int argc)
{
    if (argc >= b->min && (b->max < 0 || argc <= b->max)) return;
    const char *plural = b->min == 1 ? "" : "s";
    if (b->min == b->max)
        diag_error(s->d, e->loc, "'%s' takes %d argument%s, not %d", b->name, b->min, plural, argc);
    else if (b->max < 0)
        diag_error(s->d, e->loc, "'%s' takes at least %d argument%s, not %d", b->name, b->min,
                   plural, argc);
    else
        diag_error(s->d, e->loc, "'%s' takes %d to %d arguments, not %d", b->name, b->min,
                   b->max, argc);
}

#define RESERVED_ROW_(name) name,
static const char *const lambda_reserved_env[] = {DWF_LAMBDA_RESERVED_ENV(RESERVED_ROW_)};
#undef RESERVED_ROW_
#define N_RESERVED_ENV (sizeof lambda_reserved_env / sizeof *lambda_reserved_env)

/* A name Lambda accepts in Environment.Variables: [a-zA-Z][a-zA-Z0-9_]+. */
static int env_name_ok(const char *k)
{
    if (!isalpha((unsigned char)k[0]) || !k[1]) return 0;
    for (const char *c = k + 1; *c; c++)
        if (!isalnum((unsigned char)*c) && *c != '_') return 0;
    return 1;
}

static int env_reserved(const char *k)
{
    for (size_t i = 0; i < N_RESERVED_ENV; i++)
        if (strcmp(lambda_reserved_env[i], k) == 0) return 1;
    return 0;
}

/* The other variables every Lambda runtime's process has (besides the reserved ones). */
static const char *const lambda_runtime_env[] = {"AWS_DEFAULT_REGION", "TZ", "LANG", "PATH", "LD_LIBRARY_PATH"};

/* env("NAME") with a literal name no environment defines: a warning, since `dwf run --env`,
 * `--env-file` or a later configuration may still define it (it is null until then). */
static void check_env_call(Sema *s, AstNode *e)
{
    AstNode *a = e->u.call.args;
    if (!a || a->kind != AST_STR || memchr(a->u.str.s, '\0', a->u.str.len)) return;
    const char *k = a->u.str.s;
    const Program *p = s->prog;
    for (int i = 0; i < p->cfg.nenv; i++)
        if (strcmp(p->cfg.env_names[i], k) == 0) return;
    if (env_reserved(k)) return;
    for (size_t i = 0; i < sizeof lambda_runtime_env / sizeof *lambda_runtime_env; i++)
        if (strcmp(lambda_runtime_env[i], k) == 0) return;
    diag_warning(s->d, a->loc, "no environment defines '%s': env(\"%s\") is null", k, k);
    const char *pick = p->cfg.nenv ? sema_suggest(k, p->cfg.env_names, (size_t)p->cfg.nenv) : NULL;
    if (pick) diag_note(s->d, a->loc, "did you mean '%s'?", pick);
    else diag_note(s->d, a->loc, "define it in lambda { environment { %s = \"...\" } } (dwf run: --env %s=...)",
                   k, k);
}

/* `secret("id").key` is `secret("id", "key")`: one JSON key of the secret, so the runtime
 * parses SecretString and the rest of it never becomes a value. Rewrites e in place. */
static int secret_key_call(Sema *s, AstNode *e)
{
    AstNode *obj = e->u.member.obj;
    if (!obj || obj->kind != AST_CALL || strcmp(obj->u.call.fn, "secret") != 0 || !obj->u.call.args ||
        obj->u.call.args->next || !e->u.member.key)
        return 0;
    AstNode *key = ast_new(s->a, AST_STR, e->loc);
    key->u.str.s = e->u.member.key;
    key->u.str.len = strlen(e->u.member.key);
    AstNode *id = obj->u.call.args;
    e->kind = AST_CALL;
    e->u.call.fn = "secret";
    e->u.call.args = id;
    id->next = key;
    return 1;
}

static void check_call(Sema *s, AstNode *e)
{
    const Builtin *b = NULL;
    for (size_t i = 0; i < NBUILTINS; i++)
        if (strcmp(builtins[i].name, e->u.call.fn) == 0) b = &builtins[i];
    int argc = 0;
    for (AstNode *a = e->u.call.args; a; a = a->next) argc++;
    if (!b) {
        diag_error(s->d, e->loc, "unknown function '%s'", e->u.call.fn);
        const char *names[NBUILTINS];
        for (size_t i = 0; i < NBUILTINS; i++) names[i] = builtins[i].name;
        const char *pick = sema_suggest(e->u.call.fn, names, NBUILTINS);
        if (pick) diag_note(s->d, e->loc, "did you mean '%s'?", pick);
        else if (s->prog->uses)
            diag_note(s->d, e->loc, "a C function from a 'use'd file is called with 'call %s(...)'",
                      e->u.call.fn);
    } else {
        check_arity(s, e, b, argc);
        if (strcmp(b->name, "env") == 0) check_env_call(s, e);
        if (b->step_only && !impure_in_lambda(s, e, arena_printf(s->a, "'%s()'", b->name)))
            nondet_here(s, e, arena_printf(s->a, "'%s()'", b->name));
    }
    int i = 0;
    for (AstNode *a = e->u.call.args; a; a = a->next, i++) {
        if (b) check_arg_kind(s, b, a, i);
        if (a->kind == AST_LAMBDA && b && param_accepts(b->params, i, 'f')) check_lambda(s, a);
        else check_expr(s, a);
    }
}

static void check_name(Sema *s, AstNode *e)
{
    const char *id = e->u.name.id;
    if (strcmp(id, "attempt") == 0 && s->ctx != CTX_DURABLE && !lookup(s, id)) {
        e->u.name.sym = NULL; /* codegen: dwf_attempt() */
        return;
    }
    if (strcmp(id, "callback") == 0 && s->cb_sym) {
        e->u.name.sym = s->cb_sym;
        s->cb_sym->used = 1;
        return;
    }
    Binding *b = lookup(s, id);
    if (!b) {
        unknown_name(s, e);
        return;
    }
    e->u.name.sym = b->sym;
    b->sym->used = 1;
}

/* Options of a callback (and of wait for callback): TimeoutSeconds, HeartbeatTimeoutSeconds. */
static void check_callback_opts(Sema *s, AstNode *n, AstNode *timeout, AstNode *heartbeat, const char *name)
{
    double t = check_duration(s, timeout, "callback timeout", 1, DWF_LIMIT_CALLBACK_TIMEOUT_S, 1);
    double h = check_duration(s, heartbeat, "callback heartbeat", 1, DWF_LIMIT_CALLBACK_TIMEOUT_S, 1);
    if (!timeout) {
        if (name)
            diag_warning(s->d, n->loc, "callback '%s' has no timeout: it can wait forever", name);
        else
            diag_warning(s->d, n->loc, "callback has no timeout: it can wait forever");
        diag_note(s->d, n->loc, "add 'timeout 1h' (or another duration) so a lost callback fails the "
                                "execution instead of leaving it waiting");
    }
    if (t > 0 && h > 0 && h >= t)
        diag_warning(s->d, heartbeat->loc, "heartbeat timeout is not shorter than the timeout, so it never fires first");
}

static void check_error_type(Sema *s, AstNode *t, const char *where);

static void check_retry(Sema *s, AstNode *r)
{
    if (!r) return;
    check_number(s, r->u.retry.attempts, "retry attempts", 1, 1000, 1);
    double d = check_duration(s, r->u.retry.delay, "retry delay", 1, DWF_LIMIT_DELAY_S, 0);
    double b = check_number(s, r->u.retry.backoff, "retry backoff", 1, 100, 0);
    (void)b;
    double m = check_duration(s, r->u.retry.max, "retry max delay", 1, DWF_LIMIT_DELAY_S, 0);
    if (d > 0 && m > 0 && m < d)
        diag_error(s->d, r->u.retry.max->loc, "retry max delay %s is shorter than the first delay %s",
                   r->u.retry.max->u.dur.text, r->u.retry.delay->u.dur.text);
    for (AstNode *o = r->u.retry.on; o; o = o->next) check_error_type(s, o, "a retry");
}

static void check_expr_1(Sema *s, AstNode *e);

static void check_expr(Sema *s, AstNode *e)
{
    if (!e || is_full(s)) return;
    if (s->depth >= SEMA_MAX_DEPTH) {
        if (!s->said_deep) {
            s->said_deep = 1;
            diag_error(s->d, e->loc, "expression nested too deeply (more than %d levels)", SEMA_MAX_DEPTH);
        }
        return;
    }
    s->depth++;
    check_expr_1(s, e);
    s->depth--;
}

static void check_http(Sema *s, AstNode *e)
{
    static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"};
    int ok = 0;
    for (size_t i = 0; i < 6; i++) ok |= strcmp(methods[i], e->u.http.method) == 0;
    if (!ok) {
        diag_error(s->d, e->loc, "unknown HTTP method '%s'", e->u.http.method);
        const char *pick = sema_suggest(e->u.http.method, methods, 6);
        if (pick) diag_note(s->d, e->loc, "did you mean '%s'?", pick);
        else diag_note(s->d, e->loc, "the methods are GET, POST, PUT, PATCH, DELETE and HEAD");
    }
    if (!impure_in_lambda(s, e, "'http'")) nondet_here(s, e, "'http'");
    s->prog->cfg.uses_http = 1;
    check_expr(s, e->u.http.url);
    check_expr(s, e->u.http.headers);
    check_expr(s, e->u.http.body);
    check_duration(s, e->u.http.timeout, "http timeout", 0.001, 900, 0);
}

/* ---- aws <service>.<Action> { params }: checked against include/dwf_aws.def -------------- */
typedef struct AwsRow { const char *service, *action, *required, *optional; } AwsRow;
static const AwsRow aws_rows[] = {
#define DWF_AWS_ACTION(service, action, method, path, required, optional, output, iam, arn, retry) \
    {#service, #action, required, optional},
#include "dwf_aws.def"
};
#define NAWS_ROWS (sizeof aws_rows / sizeof aws_rows[0])
static const char *const aws_service_names[] = {
#define DWF_AWS_SERVICE(name, protocol, signing_name, endpoint_prefix, env_id, target_prefix, version) #name,
#include "dwf_aws.def"
};
#define NAWS_SERVICES (sizeof aws_service_names / sizeof aws_service_names[0])

/* The parameter words of a row ("Name:kinds@where ..."), one at a time: name and kinds. */
static const char *aws_next_param(const char *w, char name[64], char kinds[8])
{
    while (*w == ' ') w++;
    if (!*w) return NULL;
    size_t n = strcspn(w, " "), nn = strcspn(w, ":@ ");
    snprintf(name, 64, "%.*s", (int)(nn < 63 ? nn : 63), w);
    kinds[0] = '\0';
    if (w[nn] == ':') {
        size_t kn = strcspn(w + nn + 1, "@ ");
        snprintf(kinds, 8, "%.*s", (int)(kn < 7 ? kn : 7), w + nn + 1);
    }
    return w + n;
}

/* The kinds of parameter `key` of the row, or NULL when it has none such. `required` set for
 * the required ones. */
static const char *aws_param_kinds(const AwsRow *r, const char *key, char kinds[8], int *required)
{
    char name[64];
    const char *lists[2] = {r->required, r->optional};
    for (int l = 0; l < 2; l++)
        for (const char *w = lists[l]; (w = aws_next_param(w, name, kinds));)
            if (strcmp(name, key) == 0) {
                *required = l == 0;
                return kinds;
            }
    return NULL;
}

static unsigned aws_kind_bits(const char *kinds)
{
    unsigned t = 0;
    for (const char *k = kinds; *k; k++)
        t |= *k == 's' ? T_STR : *k == 'n' ? T_NUM : *k == 'b' ? T_BOOL : *k == 'a' ? T_ARR
           : *k == 'o' ? T_OBJ : *k == 'z' ? T_NULL : (*k == 'x' || *k == 'j') ? ~0u : 0;
    return t;
}

static const AwsRow *aws_find_service_or_report(Sema *s, AstNode *e)
{
    const char *svc = e->u.aws.service, *act = e->u.aws.action;
    int known_service = 0;
    for (size_t i = 0; i < NAWS_SERVICES; i++) known_service |= strcmp(aws_service_names[i], svc) == 0;
    if (!known_service) {
        diag_error(s->d, e->u.aws.service_loc, "unknown AWS service '%s'", svc);
        const char *pick = sema_suggest(svc, aws_service_names, NAWS_SERVICES);
        if (pick) diag_note(s->d, e->u.aws.service_loc, "did you mean '%s'?", pick);
        else diag_note(s->d, e->u.aws.service_loc, "the services dwf can call are listed in docs/aws.md");
        return NULL;
    }
    const char *names[NAWS_ROWS];
    size_t n = 0;
    for (size_t i = 0; i < NAWS_ROWS; i++) {
        if (strcmp(aws_rows[i].service, svc) != 0) continue;
        if (strcmp(aws_rows[i].action, act) == 0) return &aws_rows[i];
        names[n++] = aws_rows[i].action;
    }
    diag_error(s->d, e->u.aws.action_loc, "%s has no action '%s' dwf can call", svc, act);
    const char *pick = sema_suggest(act, names, n);
    if (pick) diag_note(s->d, e->u.aws.action_loc, "did you mean '%s'?", pick);
    else {
        size_t len = 0;
        char list[400] = "";
        for (size_t i = 0; i < n && len + 40 < sizeof list; i++)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
        diag_note(s->d, e->u.aws.action_loc, "the %s actions are %s", svc, list);
    }
    return NULL;
}

static const char *with_article(Sema *s, const char *word)
{
    return arena_printf(s->a, "%s %s", strchr("aeiou", word[0]) ? "an" : "a", word);
}

/* One `key: value` of the parameters: a known name, and a literal of a kind the row accepts.
 * Returns 0 when the name is unknown. */
static int aws_check_prop(Sema *s, const AwsRow *r, AstNode *e, AstNode *prop)
{
    char kinds[8];
    int required;
    const char *key = prop->u.prop.key;
    if (!aws_param_kinds(r, key, kinds, &required)) {
        const char *names[64];
        size_t n = 0;
        char name[64], k[8];
        const char *lists[2] = {r->required, r->optional};
        for (int l = 0; l < 2; l++)
            for (const char *w = lists[l]; n < 64 && (w = aws_next_param(w, name, k));)
                names[n++] = arena_printf(s->a, "%s", name);
        diag_error(s->d, prop->loc, "%s.%s has no parameter '%s'", e->u.aws.service, e->u.aws.action, key);
        const char *pick = sema_suggest(key, names, n);
        if (pick) diag_note(s->d, prop->loc, "did you mean '%s'?", pick);
        return 0;
    }
    unsigned t = lit_type(prop->u.prop.value);
    if (t && !(t & aws_kind_bits(kinds)))
        diag_error(s->d, prop->u.prop.value->loc, "parameter %s of %s.%s must be %s, not %s", key,
                   e->u.aws.service, e->u.aws.action,
                   with_article(s, type_word(aws_kind_bits(kinds))), with_article(s, type_word(t)));
    return 1;
}

static void check_aws(Sema *s, AstNode *e)
{
    if (!impure_in_lambda(s, e, "'aws'")) nondet_here(s, e, "'aws'");
    s->prog->cfg.uses_aws = 1;
    check_expr(s, e->u.aws.params);
    const AwsRow *r = aws_find_service_or_report(s, e);
    if (!r) return;
    AstNode *props = e->u.aws.params ? e->u.aws.params->u.list.items : NULL;
    int unknown = 0;
    for (AstNode *p = props; p; p = p->next)
        if (p->kind == AST_PROP) unknown |= !aws_check_prop(s, r, e, p);
    if (unknown) return; /* a misspelt required name: its did-you-mean says it all */
    char name[64], kinds[8];
    for (const char *w = r->required; (w = aws_next_param(w, name, kinds));) {
        int found = 0;
        for (AstNode *p = props; p && !found; p = p->next)
            found = p->kind == AST_PROP && strcmp(p->u.prop.key, name) == 0;
        if (found) continue;
        diag_error(s->d, e->loc, "%s.%s needs parameter %s", e->u.aws.service, e->u.aws.action, name);
        char list[300] = "";
        size_t len = 0;
        char n2[64], k2[8];
        for (const char *w2 = r->required; len + 70 < sizeof list && (w2 = aws_next_param(w2, n2, k2));)
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", n2);
        diag_note(s->d, e->loc, "its required parameters are %s (docs/aws.md)", list);
    }
}

static void check_await(Sema *s, AstNode *e)
{
    durable_here(s, e, "await");
    AstNode *t = e->u.await.target;
    check_name(s, t);
    if (t->u.name.sym && t->u.name.sym->decl && t->u.name.sym->decl->kind == AST_CALLBACK) {
        index_put(s->a, &s->awaited, t->u.name.sym->cname, t->u.name.sym);
    }
    if (t->u.name.sym && (!t->u.name.sym->decl || t->u.name.sym->decl->kind != AST_CALLBACK)) {
        diag_error(s->d, t->loc, "'%s' is not a callback", t->u.name.id);
        diag_note(s->d, t->u.name.sym->loc, "'%s' is defined here; await takes a name bound by 'callback'",
                  t->u.name.id);
    }
    durable_expr_here(s, e, "await");
}

static void check_invoke(Sema *s, AstNode *e)
{
    durable_here(s, e, "invoke");
    durable_expr_here(s, e, "invoke");
    check_label(s, e->u.invoke.label);
    check_plain(s, e->u.invoke.label, "an operation name");
    check_expr(s, e->u.invoke.function);
    check_expr(s, e->u.invoke.payload);
    check_duration(s, e->u.invoke.timeout, "invoke timeout", 1, DWF_LIMIT_DELAY_S, 1);
    s->prog->cfg.uses_invoke = 1;
    if (e->u.invoke.function->kind == AST_STR) {
        if (s->ninvoke + 2 > s->invoke_cap) {
            s->invoke_cap = s->invoke_cap ? s->invoke_cap * 2 : 8;
            const char **t = arena_alloc(s->a, sizeof *t * (size_t)s->invoke_cap);
            for (int i = 0; i < s->ninvoke; i++) t[i] = s->invoke_targets[i];
            s->invoke_targets = t;
        }
        s->invoke_targets[s->ninvoke++] = e->u.invoke.function->u.str.s;
    }
    count_op(s);
}

static void check_wait_callback(Sema *s, AstNode *e)
{
    durable_here(s, e, "wait for callback");
    durable_expr_here(s, e, "wait for callback");
    check_label(s, e->u.wfc.label);
    check_plain(s, e->u.wfc.label, "an operation name");
    check_callback_opts(s, e, e->u.wfc.timeout, e->u.wfc.heartbeat, NULL);
    check_retry(s, e->u.wfc.retry);
    check_attempt_timeout(s, e->u.wfc.submitter_timeout, "submitter timeout");
    s->prog->cfg.uses_callbacks = 1;
    s->ops += 3 * s->mult; /* CONTEXT + CALLBACK + submitter STEP */
    Ctx saved = s->ctx;
    int saved_step = s->step_id;
    Symbol *saved_cb = s->cb_sym;
    push_scope(s);
    e->u.wfc.cb_sym = declare(s, "callback", e->loc, e);
    e->u.wfc.cb_sym->used = 1;
    s->cb_sym = e->u.wfc.cb_sym;
    s->ctx = CTX_SUBMITTER;
    s->step_id = ++s->next_step_id;
    LoopSave ls = loop_wall(s, "a callback submitter");
    check_stmts(s, e->u.wfc.body);
    loop_restore(s, ls);
    pop_scope(s);
    s->ctx = saved;
    s->step_id = saved_step;
    s->cb_sym = saved_cb;
}

static void check_expr_1(Sema *s, AstNode *e)
{
    if (s->ctx != CTX_DURABLE) e->in_step = 1;
    switch (e->kind) {
    case AST_NULL: case AST_BOOL: case AST_NUM: case AST_DURATION:
        break;
    case AST_STR:
        check_string_size(s, e);
        break;
    case AST_TEMPLATE:
        for (AstNode *p = e->u.tmpl.parts; p; p = p->next) check_expr(s, p);
        break;
    case AST_ARRAY: case AST_OBJECT:
        for (AstNode *i = e->u.list.items; i; i = i->next) check_expr(s, i);
        break;
    case AST_PROP:
        if (s->ctx != CTX_DURABLE) e->in_step = 1;
        check_expr(s, e->u.prop.value);
        break;
    case AST_NAME:
        check_name(s, e);
        break;
    case AST_MEMBER:
        if (secret_key_call(s, e)) check_call(s, e);
        else check_expr(s, e->u.member.obj);
        break;
    case AST_INDEX:
        check_expr(s, e->u.member.obj);
        check_expr(s, e->u.member.index);
        break;
    case AST_CALL:
        check_call(s, e);
        break;
    case AST_CCALL:
        if (!impure_in_lambda(s, e, arena_printf(s->a, "'call %s'", e->u.call.fn)))
            nondet_here(s, e, arena_printf(s->a, "'call %s'", e->u.call.fn));
        if (!s->prog->uses) {
            diag_error(s->d, e->loc, "'call %s' needs a C file that defines it", e->u.call.fn);
            diag_note(s->d, e->loc, "add 'use \"file.c\"' at the top of the file");
        }
        for (AstNode *a = e->u.call.args; a; a = a->next) check_expr(s, a);
        break;
    case AST_UNARY:
        check_expr(s, e->u.op.a);
        check_operand_types(s, e);
        break;
    case AST_BINARY:
        check_expr(s, e->u.op.a);
        check_expr(s, e->u.op.b);
        check_operand_types(s, e);
        break;
    case AST_LAMBDA:
        lambda_misplaced(s, e);
        break;
    case AST_COND:
        check_expr(s, e->u.cond.cond);
        check_expr(s, e->u.cond.a);
        check_expr(s, e->u.cond.b);
        break;
    case AST_HTTP:
        check_http(s, e);
        break;
    case AST_AWS:
        check_aws(s, e);
        break;
    case AST_AWAIT:
        check_await(s, e);
        break;
    case AST_INVOKE:
        check_invoke(s, e);
        break;
    case AST_WAIT_CALLBACK:
        check_wait_callback(s, e);
        break;
    default:
        break;
    }
}

/* ---- statements --------------------------------------------------------------------------- */

/* Check `body` as a child context: a new scope and a new frame. */
static void child_body(Sema *s, AstNode *body, const char *what)
{
    int saved_frame = s->frame;
    const char *saved_what = s->frame_what;
    s->frame = ++s->next_frame;
    s->frame_what = what;
    LoopSave ls = loop_wall(s, what);
    push_scope(s);
    check_stmts(s, body);
    pop_scope(s);
    loop_restore(s, ls);
    s->frame = saved_frame;
    s->frame_what = saved_what;
}

static void block(Sema *s, AstNode *body)
{
    push_scope(s);
    check_stmts(s, body);
    pop_scope(s);
}

static void check_assign(Sema *s, AstNode *n)
{
    check_expr(s, n->u.let.value);
    Binding *b = lookup(s, n->u.let.id);
    if (!b) {
        AstNode fake = *n;
        fake.kind = AST_NAME;
        fake.u.name.id = n->u.let.id;
        unknown_name(s, &fake);
        return;
    }
    n->u.let.sym = b->sym;
    if (!b->sym->decl || b->sym->decl->kind != AST_LET) {
        diag_error(s->d, n->loc, "cannot assign to '%s': only variables made with 'let' can change", n->u.let.id);
        diag_note(s->d, b->sym->loc, "'%s' is defined here", n->u.let.id);
        return;
    }
    if (s->ctx != CTX_DURABLE && b->step != s->step_id) {
        diag_error(s->d, n->loc, "cannot assign to '%s' inside %s", n->u.let.id, ctx_body_name(s->ctx));
        diag_note(s->d, n->loc, "on replay a completed step is not run again, so the assignment would be "
                                "lost; return the value from the step instead");
        return;
    }
    if (b->frame != s->frame) {
        diag_error(s->d, n->loc, "cannot assign to '%s' inside %s", n->u.let.id,
                   s->frame_what ? s->frame_what : "a child context");
        diag_note(s->d, n->loc, "branches, map items, groups and compensations run on their own copy of "
                                "the variables; return the value instead");
    }
}

static void check_batch_opts(Sema *s, AstNode *n, int nbranches)
{
    check_number(s, n->u.batch.max_concurrency, "max concurrency", 1, 100000, 1);
    double ms = check_number(s, n->u.batch.min_successful, "min_successful", 1, 100000, 1);
    if (ms > 0 && n->kind == AST_PARALLEL && ms > nbranches)
        diag_error(s->d, n->u.batch.min_successful->loc,
                   "min_successful %g is more than the %d branch%s of this parallel", ms, nbranches,
                   nbranches == 1 ? "" : "es");
    if (n->u.batch.tolerate_percent)
        check_number(s, n->u.batch.tolerate, "tolerated failure percentage", 0, 100, 0);
    else
        check_number(s, n->u.batch.tolerate, "tolerated failure count", 0, 100000, 1);
}

static void check_step(Sema *s, AstNode *n)
{
    durable_here(s, n, "step");
    check_label(s, n->u.step.label);
    check_plain(s, n->u.step.label, "an operation name");
    check_retry(s, n->u.step.retry);
    check_attempt_timeout(s, n->u.step.timeout, "step timeout");
    count_op(s);

    Ctx saved = s->ctx;
    int saved_step = s->step_id;
    s->ctx = CTX_STEP;
    s->step_id = ++s->next_step_id;
    LoopSave ls = loop_wall(s, "a step body");
    block(s, n->u.step.body);
    loop_restore(s, ls);
    s->ctx = saved;
    s->step_id = saved_step;

    if (n->u.step.bind) n->u.step.sym = declare(s, n->u.step.bind, n->loc, n);
    if (n->u.step.compensate) {
        child_body(s, n->u.step.compensate, "a compensation");
    }
}

/* lambda { environment { NAME = "value" ... } }: Lambda's rules for Environment.Variables checked
 * here, so deploy.sh never meets them (names, reserved names, strings only, 4 KB in all). */
static void check_environment(Sema *s, AstNode *v)
{
    if (v->kind != AST_OBJECT) {
        diag_error(s->d, v->loc, "environment takes a block of settings: environment { TABLE = \"orders\" }");
        return;
    }
    int n = 0;
    size_t bytes = 0;
    for (AstNode *q = v->u.list.items; q; q = q->next) n++;
    Program *p = s->prog;
    p->cfg.env_names = arena_alloc(s->a, (size_t)(n + 1) * sizeof *p->cfg.env_names);
    p->cfg.env_values = arena_alloc(s->a, (size_t)(n + 1) * sizeof *p->cfg.env_values);
    for (AstNode *q = v->u.list.items; q; q = q->next) {
        const char *k = q->u.prop.key;
        AstNode *val = q->u.prop.value;
        int dup = 0;
        for (int i = 0; i < p->cfg.nenv && !dup; i++) dup = strcmp(p->cfg.env_names[i], k) == 0;
        if (dup) {
            diag_error(s->d, q->loc, "'%s' is set twice in the environment", k);
        } else if (!env_name_ok(k)) {
            diag_error(s->d, q->loc, "'%s' is not an environment variable name Lambda accepts", k);
            diag_note(s->d, q->loc, "names are a letter and one or more letters, digits or '_' ([a-zA-Z][a-zA-Z0-9_]+)");
        } else if (env_reserved(k)) {
            diag_error(s->d, q->loc, "'%s' is set by Lambda itself and cannot be configured", k);
        } else if (val->kind != AST_STR || memchr(val->u.str.s, '\0', val->u.str.len)) {
            diag_error(s->d, val->loc, "the value of %s must be a literal string (Lambda's environment holds text)",
                       k);
            if (val->kind == AST_NUM) diag_note(s->d, val->loc, "write \"%s\"", val->u.n.text);
        } else {
            bytes += strlen(k) + val->u.str.len;
            p->cfg.env_names[p->cfg.nenv] = k;
            p->cfg.env_values[p->cfg.nenv++] = val->u.str.s;
        }
    }
    if (bytes > DWF_LIMIT_ENV_BYTES)
        diag_error(s->d, v->loc, "the environment holds %zu bytes of names and values, over Lambda's limit of %d",
                   bytes, DWF_LIMIT_ENV_BYTES);
}

static void check_config(Sema *s, AstNode *c)
{
    static const char *const durable_keys[] = {"retention", "timeout"};
    static const char *const lambda_keys[] = {"name", "memory", "timeout", "region", "account", "environment"};
    const char *const *keys = c->u.config.which == CONFIG_DURABLE ? durable_keys : lambda_keys;
    size_t nkeys = c->u.config.which == CONFIG_DURABLE ? 2 : 6;
    const char *block_name = c->u.config.which == CONFIG_DURABLE ? "durable" : "lambda";
    for (AstNode *p = c->u.config.props; p; p = p->next) {
        const char *k = p->u.prop.key;
        AstNode *v = p->u.prop.value;
        for (AstNode *q = c->u.config.props; q != p; q = q->next)
            if (strcmp(q->u.prop.key, k) == 0) {
                diag_error(s->d, p->loc, "'%s' is set twice in the %s block", k, block_name);
                diag_note(s->d, q->loc, "first set here");
                break;
            }
        int known = 0;
        for (size_t i = 0; i < nkeys; i++) known |= strcmp(keys[i], k) == 0;
        if (!known) {
            diag_error(s->d, p->loc, "unknown %s setting '%s'", block_name, k);
            const char *pick = sema_suggest(k, keys, nkeys);
            if (pick) diag_note(s->d, p->loc, "did you mean '%s'?", pick);
            continue;
        }
        if (c->u.config.which == CONFIG_DURABLE && strcmp(k, "retention") == 0) {
            double days = -1;
            if (v->kind == AST_NUM) days = v->u.n.num;
            else if (v->kind == AST_DURATION) days = v->u.dur.seconds / 86400.0;
            else diag_error(s->d, v->loc, "retention takes a number of days such as 1d or 14");
            if (days >= 0) {
                if (!is_whole(days) || days < 1 || days > 90) {
                    diag_error(s->d, v->loc, "retention must be a whole number of days from 1 to 90");
                    diag_note(s->d, v->loc, "this is DurableConfig.RetentionPeriodInDays");
                } else {
                    s->prog->cfg.retention_days = (int)days;
                }
            }
        } else if (c->u.config.which == CONFIG_DURABLE && strcmp(k, "timeout") == 0) {
            double sec = -1;
            if (v->kind == AST_NUM) sec = v->u.n.num;
            else if (v->kind == AST_DURATION) sec = v->u.dur.seconds;
            else diag_error(s->d, v->loc, "the execution timeout takes a duration such as 120s or 7d");
            if (sec >= 0) {
                if (!is_whole(sec) || sec < 1 || sec > (double)SEMA_MAX_EXEC_TIMEOUT_S) {
                    diag_error(s->d, v->loc, "the execution timeout must be whole seconds from 1s to 31622400s (366d)");
                    diag_note(s->d, v->loc, "this is DurableConfig.ExecutionTimeout");
                } else {
                    s->prog->cfg.execution_timeout = (long long)sec;
                }
            }
        } else if (strcmp(k, "name") == 0) {
            int ok = v->kind == AST_STR && v->u.str.len >= 1 && v->u.str.len <= 64;
            for (size_t i = 0; ok && i < v->u.str.len; i++) {
                char ch = v->u.str.s[i];
                ok = isalnum((unsigned char)ch) || ch == '-' || ch == '_';
            }
            if (!ok) {
                diag_error(s->d, v->loc, "the function name must be a string of 1 to 64 letters, digits, '-' or '_'");
            } else {
                s->prog->cfg.function_name = v->u.str.s;
            }
        } else if (strcmp(k, "memory") == 0) {
            double mb = check_number(s, v, "memory (MB)", 128, 10240, 1);
            if (mb > 0) s->prog->cfg.memory_mb = (int)mb;
        } else if (strcmp(k, "timeout") == 0) {
            double sec = -1;
            if (v->kind == AST_NUM) sec = v->u.n.num;
            else if (v->kind == AST_DURATION) sec = v->u.dur.seconds;
            else diag_error(s->d, v->loc, "the function timeout takes a duration such as 30s");
            if (sec >= 0) {
                if (!is_whole(sec) || sec < 1 || sec > 900) {
                    diag_error(s->d, v->loc, "the function timeout must be whole seconds from 1s to 900s");
                    diag_note(s->d, v->loc, "one invocation of a Lambda function runs for at most 15 minutes");
                } else {
                    s->prog->cfg.timeout_s = (int)sec;
                }
            }
        } else if (strcmp(k, "environment") == 0) {
            check_environment(s, v);
        } else if (strcmp(k, "region") == 0 || strcmp(k, "account") == 0) {
            if (v->kind != AST_STR || v->u.str.len == 0) {
                diag_error(s->d, v->loc, "'%s' takes a string", k);
            } else if (strcmp(k, "account") == 0) {
                int ok = v->u.str.len == 12;
                for (size_t i = 0; ok && i < 12; i++) ok = isdigit((unsigned char)v->u.str.s[i]);
                if (!ok) diag_error(s->d, v->loc, "an AWS account id is 12 digits");
                else s->prog->cfg.account = v->u.str.s;
            } else {
                s->prog->cfg.region = v->u.str.s;
            }
        }
    }
}

static void check_stmt(Sema *s, AstNode *n);

static void check_wait(Sema *s, AstNode *n)
{
    durable_here(s, n, "wait");
    check_label(s, n->u.wait.label);
    check_plain(s, n->u.wait.label, "an operation name");
    if (n->u.wait.duration && n->u.wait.duration->kind == AST_NUM)
        diag_error(s->d, n->u.wait.duration->loc, "a wait needs a unit: write %ss, not %s",
                   n->u.wait.duration->u.n.text, n->u.wait.duration->u.n.text);
    else if (n->u.wait.duration && n->u.wait.duration->kind == AST_DURATION)
        check_duration(s, n->u.wait.duration, "wait", 1, DWF_LIMIT_DELAY_S, 1);
    else
        check_expr(s, n->u.wait.duration);
    check_expr(s, n->u.wait.until);
    s->prog->cfg.uses_waits = 1;
    count_op(s);
}

static void check_callback(Sema *s, AstNode *n)
{
    durable_here(s, n, "callback");
    check_label(s, n->u.callback.label);
    check_plain(s, n->u.callback.label, "an operation name");
    check_callback_opts(s, n, n->u.callback.timeout, n->u.callback.heartbeat, n->u.callback.bind);
    s->prog->cfg.uses_callbacks = 1;
    count_op(s);
    n->u.callback.sym = declare(s, n->u.callback.bind, n->loc, n);
}

static void check_poll(Sema *s, AstNode *n)
{
    durable_here(s, n, "poll");
    check_label(s, n->u.poll.label);
    check_plain(s, n->u.poll.label, "an operation name");
    double every = check_duration(s, n->u.poll.every, "poll interval", 1, DWF_LIMIT_DELAY_S, 1);
    check_number(s, n->u.poll.backoff, "poll backoff", 1, 100, 0);
    double max = check_duration(s, n->u.poll.max, "poll max delay", 1, DWF_LIMIT_DELAY_S, 1);
    if (every > 0 && max > 0 && max < every)
        diag_error(s->d, n->u.poll.max->loc, "poll max delay is shorter than its interval");
    check_number(s, n->u.poll.attempts, "poll attempts", 1, 100000, 1);
    check_attempt_timeout(s, n->u.poll.timeout, "poll check timeout");
    check_plain(s, n->u.poll.state, "a poll's initial state");
    if (!n->u.poll.until) {
        diag_error(s->d, n->loc, "poll needs an 'until' condition");
        diag_note(s->d, n->loc, "e.g. poll job every 5s state {} until state.done { ... }");
    }
    count_op(s);
    Ctx saved = s->ctx;
    int saved_step = s->step_id;
    push_scope(s);
    n->u.poll.state_sym = declare(s, "state", n->loc, n);
    s->ctx = CTX_POLL;
    s->step_id = ++s->next_step_id;
    check_plain(s, n->u.poll.until, "a poll's condition");
    LoopSave ls = loop_wall(s, "a poll check");
    check_stmts(s, n->u.poll.body);
    loop_restore(s, ls);
    pop_scope(s);
    s->ctx = saved;
    s->step_id = saved_step;
    n->u.poll.sym = declare(s, n->u.poll.bind, n->loc, n);
}

static void check_parallel(Sema *s, AstNode *n)
{
    durable_here(s, n, "parallel");
    check_label(s, n->u.batch.label);
    check_plain(s, n->u.batch.label, "an operation name");
    int nb = 0;
    for (AstNode *b = n->u.batch.branches; b; b = b->next) nb++;
    if (nb == 0) diag_error(s->d, n->loc, "parallel has no branches");
    check_batch_opts(s, n, nb);
    count_op(s);
    for (AstNode *b = n->u.batch.branches; b; b = b->next) {
        if (s->ctx != CTX_DURABLE) b->in_step = 1;
        check_label(s, b->u.group.label);
        check_plain(s, b->u.group.label, "an operation name");
        count_op(s);
        child_body(s, b->u.group.body, "a branch");
    }
    if (n->u.batch.bind) n->u.batch.sym = declare(s, n->u.batch.bind, n->loc, n);
    for (AstNode *b = n->u.batch.branches; b; b = b->next)
        if (b->u.group.bind) b->u.group.sym = declare(s, b->u.group.bind, b->loc, b);
}

static void check_map(Sema *s, AstNode *n)
{
    durable_here(s, n, "map");
    check_label(s, n->u.batch.label);
    check_plain(s, n->u.batch.label, "an operation name");
    check_batch_opts(s, n, 0);
    check_expr(s, n->u.batch.over);
    check_iterable(s, n->u.batch.over, "map", T_ARR);
    count_op(s);
    double k = iterations(n->u.batch.over);
    double saved_mult = s->mult;
    s->mult *= k;
    count_op(s); /* one child context per item */
    /* The item and index symbols are made once and bound in two scopes: the namer's (on
     * the parent context) and the body's (a new frame per item). */
    int saved_frame = s->frame;
    const char *saved_what = s->frame_what;
    s->frame = ++s->next_frame;
    s->frame_what = "a map item";
    push_scope(s);
    n->u.batch.item_sym = declare(s, n->u.batch.item, n->loc, n);
    if (n->u.batch.index) {
        if (strcmp(n->u.batch.index, n->u.batch.item) == 0)
            diag_error(s->d, n->loc, "the item and the index of a map cannot both be called '%s'",
                       n->u.batch.item);
        else
            n->u.batch.index_sym = declare(s, n->u.batch.index, n->loc, n);
    }
    Ctx saved_ctx = s->ctx;
    check_plain(s, n->u.batch.item_name, "a map item's name");
    s->ctx = saved_ctx;
    LoopSave ls = loop_wall(s, "a map item");
    check_stmts(s, n->u.batch.body);
    loop_restore(s, ls);
    pop_scope(s);
    s->frame = saved_frame;
    s->frame_what = saved_what;
    s->mult = saved_mult;
    if (n->u.batch.bind) n->u.batch.sym = declare(s, n->u.batch.bind, n->loc, n);
}

static void check_group(Sema *s, AstNode *n)
{
    durable_here(s, n, "group");
    check_label(s, n->u.group.label);
    check_plain(s, n->u.group.label, "an operation name");
    count_op(s);
    child_body(s, n->u.group.body, "a group");
    if (n->u.group.bind) n->u.group.sym = declare(s, n->u.group.bind, n->loc, n);
}

static void check_if(Sema *s, AstNode *n)
{
    check_expr(s, n->u.if_.cond);
    double base = s->ops;
    block(s, n->u.if_.then);
    double then_ops = s->ops - base;
    s->ops = base;
    if (n->u.if_.else_ && n->u.if_.else_->kind == AST_IF && !n->u.if_.else_->next)
        check_stmt(s, n->u.if_.else_);
    else
        block(s, n->u.if_.else_);
    double else_ops = s->ops - base;
    s->ops = base + (then_ops > else_ops ? then_ops : else_ops);
}

static void check_for(Sema *s, AstNode *n)
{
    check_expr(s, n->u.for_.iter);
    check_iterable(s, n->u.for_.iter, "for", T_ARR | T_OBJ);
    double saved_mult = s->mult;
    s->mult *= iterations(n->u.for_.iter);
    push_scope(s);
    n->u.for_.var_sym = declare(s, n->u.for_.var, n->loc, n);
    if (n->u.for_.index) {
        if (strcmp(n->u.for_.index, n->u.for_.var) == 0)
            diag_error(s->d, n->loc, "the item and the index of a loop cannot both be called '%s'",
                       n->u.for_.var);
        else
            n->u.for_.index_sym = declare(s, n->u.for_.index, n->loc, n);
    }
    AstNode *saved_loop = s->loop;
    s->loop = n;
    block(s, n->u.for_.body);
    s->loop = saved_loop;
    pop_scope(s);
    s->mult = saved_mult;
}

/* while: the condition is evaluated before every iteration; in durable code it must be
 * deterministic like any durable expression. The operation estimate counts one iteration. */
static void check_while(Sema *s, AstNode *n)
{
    check_expr(s, n->u.while_.cond);
    AstNode *saved_loop = s->loop;
    s->loop = n;
    block(s, n->u.while_.body);
    s->loop = saved_loop;
}

static void check_jump(Sema *s, AstNode *n)
{
    const char *word = n->kind == AST_BREAK ? "break" : "continue";
    if (s->loop) {
        n->u.jump.loop = s->loop;
        return;
    }
    if (s->loop_wall) {
        diag_error(s->d, n->loc, "'%s' cannot leave %s", word, s->loop_wall);
        diag_note(s->d, n->loc, "%s runs as a unit of its own, so it cannot %s the loop around it; "
                                "return a value and test it after the %s", s->loop_wall,
                  n->kind == AST_BREAK ? "end" : "go on with", strchr(s->loop_wall, ' ') + 1);
        return;
    }
    diag_error(s->d, n->loc, "'%s' outside a loop", word);
    diag_note(s->d, n->loc, "'%s' may only appear inside 'while' or 'for'", word);
}

/* The error types dwf raises (include/dwf_errors.def), for typed catch and retry { on }. */
static const char *const dwf_error_names[] = {
#define DWF_ERROR_TYPE(name, cls, retried, summary) #name,
#include "dwf_errors.def"
#undef DWF_ERROR_TYPE
};
static const int dwf_error_classes[] = {
#define DWF_ERROR_TYPE(name, cls, retried, summary) cls,
#include "dwf_errors.def"
#undef DWF_ERROR_TYPE
};
#define N_DWF_ERRORS (sizeof dwf_error_names / sizeof *dwf_error_names)

/* An error type named by a typed catch or retry { on }: any name is allowed (users raise their
 * own with `fail`), but one a letter or two away from a type dwf raises is most likely that
 * type misspelt, which would silently never match; a fatal fault never reaches a catch. */
static void check_error_type(Sema *s, AstNode *t, const char *where)
{
    if (t->kind != AST_STR) return;
    if (t->u.str.len == 0) {
        diag_error(s->d, t->loc, "an empty error type never matches");
        return;
    }
    for (size_t i = 0; i < N_DWF_ERRORS; i++)
        if (strcmp(t->u.str.s, dwf_error_names[i]) == 0) {
            if (dwf_error_classes[i] == DWF_ERRC_FATAL) {
                diag_warning(s->d, t->loc, "'%s' is a fatal fault: it ends the execution and never reaches %s",
                             t->u.str.s, where);
            }
            return;
        }
    const char *pick = sema_suggest(t->u.str.s, dwf_error_names, N_DWF_ERRORS);
    if (pick) {
        diag_warning(s->d, t->loc, "'%s' is not an error type dwf raises", t->u.str.s);
        diag_note(s->d, t->loc, "did you mean '%s'? (a type only matches when spelt exactly)", pick);
    }
}

static void check_try(Sema *s, AstNode *n)
{
    block(s, n->u.try_.body);
    AstNode *catch_all = NULL;
    for (AstNode *k = n->u.try_.catches; k; k = k->next) {
        if (catch_all) {
            diag_warning(s->d, k->loc, "this catch clause is never reached");
            diag_note(s->d, catch_all->loc, "the clause before it catches every error");
        }
        for (AstNode *t = k->u.catch_.types; t; t = t->next) check_error_type(s, t, "a catch");
        if (!k->u.catch_.types && !catch_all) catch_all = k;
        push_scope(s);
        if (k->u.catch_.err) k->u.catch_.err_sym = declare(s, k->u.catch_.err, k->loc, k);
        check_stmts(s, k->u.catch_.handler);
        pop_scope(s);
    }
}

static void check_stmt(Sema *s, AstNode *n)
{
    if (is_full(s)) return;
    if (s->ctx != CTX_DURABLE) n->in_step = 1;
    switch (n->kind) {
    case AST_LET:
        check_expr(s, n->u.let.value);
        n->u.let.sym = declare(s, n->u.let.id, n->loc, n);
        break;
    case AST_ASSIGN:
        check_assign(s, n);
        break;
    case AST_EXPR_STMT:
        check_expr(s, n->u.expr.e);
        break;
    case AST_STEP:
        check_step(s, n);
        break;
    case AST_WAIT:
        check_wait(s, n);
        break;
    case AST_CALLBACK:
        check_callback(s, n);
        break;
    case AST_POLL:
        check_poll(s, n);
        break;
    case AST_PARALLEL:
        check_parallel(s, n);
        break;
    case AST_MAP:
        check_map(s, n);
        break;
    case AST_GROUP:
        check_group(s, n);
        break;
    case AST_IF:
        check_if(s, n);
        break;
    case AST_FOR:
        check_for(s, n);
        break;
    case AST_WHILE:
        check_while(s, n);
        break;
    case AST_BREAK:
    case AST_CONTINUE:
        check_jump(s, n);
        break;
    case AST_TRY:
        check_try(s, n);
        break;
    case AST_FAIL:
        check_expr(s, n->u.fail.type);
        check_expr(s, n->u.fail.message);
        break;
    case AST_RETURN:
        check_expr(s, n->u.ret.value);
        break;
    case AST_LOG:
        /* allowed in durable code too: the runtime suppresses it while replaying */
        check_expr(s, n->u.log.message);
        break;
    default:
        break;
    }
}

/* The keyword of a statement after which nothing in its block runs, or NULL. */
static const char *ends_block(const AstNode *n)
{
    switch (n->kind) {
    case AST_RETURN: return "return";
    case AST_FAIL: return "fail";
    case AST_BREAK: return "break";
    case AST_CONTINUE: return "continue";
    default: return NULL;
    }
}

static void check_stmts(Sema *s, AstNode *list)
{
    for (AstNode *n = list; n && !is_full(s); n = n->next) {
        check_stmt(s, n);
        if (ends_block(n) && n->next) {
            diag_warning(s->d, n->next->loc, "this statement is never reached");
            diag_note(s->d, n->loc, "the block ends at this '%s'", ends_block(n));
            for (AstNode *m = n->next; m && !is_full(s); m = m->next) check_stmt(s, m);
            break;
        }
    }
}

/* Unused `let`s, and callbacks nothing awaits, are reported once the whole workflow has been
 * seen. */
static void report_unused(Sema *s)
{
    for (Symbol *y = s->syms; y; y = y->next) {
        if (!y->used && y->decl && y->decl->kind == AST_LET && y->name[0] != '_')
            diag_warning(s->d, y->loc, "unused variable '%s'", y->name);
        if (y->decl && y->decl->kind == AST_CALLBACK && y->decl->u.callback.sym == y) {
            if (index_get(&s->awaited, y->cname) != y) {
                diag_warning(s->d, y->loc, "callback '%s' is never awaited", y->name);
                diag_note(s->d, y->loc, "the execution does not wait for it; add 'let result = await %s'", y->name);
            }
        }
    }
}

int sema_check(Program *p, Diag *d, Arena *a)
{
    int before = diag_errors(d);
    AstNode *wf = p->workflow;
    if (!wf) return 0;
    Sema s = {0};
    s.prog = p;
    s.d = d;
    s.a = a;
    s.mult = 1;

    p->cfg.retention_days = 14;
    p->cfg.execution_timeout = 86400;
    p->cfg.memory_mb = 128;
    p->cfg.timeout_s = 30;
    char *fn = arena_strdup(a, wf->u.wf.name);
    for (char *c = fn; *c; c++)
        if (*c == '_') *c = '-';
    p->cfg.function_name = fn;

    for (AstNode *u = p->uses; u; u = u->next) {
        const char *up = u->u.use.path;
        size_t n = strlen(up);
        if (n < 3 || strcmp(up + n - 2, ".c") != 0) {
            diag_error(d, u->loc, "'use' takes a C source file ending in .c");
            continue;
        }
        /* resolved like the CLI does: relative to the .dwf's directory */
        const char *slash = strrchr(p->path, '/');
        const char *full = up[0] == '/' || !slash ? up
                                                   : arena_printf(a, "%.*s/%s", (int)(slash - p->path), p->path, up);
        struct stat st;
        if (stat(full, &st) != 0 || !S_ISREG(st.st_mode)) {
            diag_error(d, u->loc, "cannot find '%s'", up);
            diag_note(d, u->loc, "looked for '%s': a used file is found relative to the .dwf file", full);
        }
    }

    int seen[3] = {0, 0, 0};
    static const char *const block_names[] = {"durable", "lambda", "permissions"};
    for (AstNode *c = wf->u.wf.configs; c; c = c->next) {
        if (seen[c->u.config.which]++) {
            diag_error(d, c->loc, "a second %s block", block_names[c->u.config.which]);
            continue;
        }
        if (c->u.config.which != CONFIG_PERMISSIONS) check_config(&s, c); /* iam.c reads permissions */
    }

    collect_decls(&s, wf->u.wf.body, 0);
    Decl *rev = NULL;
    while (s.decls) {
        Decl *next = s.decls->next;
        s.decls->next = rev;
        rev = s.decls;
        s.decls = next;
    }
    s.decls = rev;

    push_scope(&s);
    wf->u.wf.input_sym = declare(&s, "input", wf->loc, wf);
    wf->u.wf.input_sym->used = 1;
    check_stmts(&s, wf->u.wf.body);
    pop_scope(&s);
    wf->u.wf.syms = s.syms;

    p->cfg.op_estimate = s.ops > 1e15 ? (long)1e15 : (long)ceil(s.ops);
    if (s.invoke_targets) p->cfg.invoke_targets = s.invoke_targets;
    if (!s.stop && p->cfg.op_estimate > SEMA_MAX_OPS) {
        diag_warning(d, wf->loc, "this workflow may record about %ld operations in one execution, over "
                                 "Lambda's limit of %d", p->cfg.op_estimate, SEMA_MAX_OPS);
        diag_note(d, wf->loc, "group work into fewer steps, or split it across executions with 'invoke'");
    }
    if (!s.stop && diag_errors(d) == before) report_unused(&s);
    /* on a program with no other error: a call sema rejected (a misspelt parameter, a secret
     * outside a step) would only give these passes' consequences of the same mistake */
    if (!s.stop && diag_errors(d) == before) taint_check(p, d);
    if (!s.stop && diag_errors(d) == before) iam_derive(p, d, a);
    return diag_errors(d) - before;
}
