/*
 * ast.h: the syntax tree of a .dwf file, the contract between grammar/ and codegen/.
 *
 * One tagged node type for every construct (chibicc's habit): a node has a kind, a source
 * range, a `next` link for lists, and the fields its kind uses. All nodes, strings and symbols
 * live in the compilation's arena and are freed at once with it; nothing is freed per node.
 *
 * The parser only builds nodes. sema_check() (sema.h) then resolves every name to a Symbol,
 * checks determinism, durations and limits, and fills the fields marked "sema:" below, which
 * codegen reads.
 */
#ifndef DWF_AST_H
#define DWF_AST_H

#include <stddef.h>
#include <stdio.h>

typedef struct Arena Arena;

/* A source range; same layout as bison's YYLTYPE, so the parser uses it directly. */
typedef struct SrcLoc {
    int first_line, first_column;
    int last_line, last_column; /* last_column is one past the last character */
} SrcLoc;

/* Node kinds. X-macro so names print in dumps and tests. */
#define AST_KINDS(X)                                                                           \
    /* expressions */                                                                          \
    X(AST_NULL) X(AST_BOOL) X(AST_NUM) X(AST_STR) X(AST_TEMPLATE) X(AST_ARRAY) X(AST_OBJECT)   \
    X(AST_PROP) X(AST_NAME) X(AST_MEMBER) X(AST_INDEX) X(AST_CALL) X(AST_UNARY) X(AST_BINARY)  \
    X(AST_DURATION) X(AST_HTTP) X(AST_CCALL) X(AST_AWAIT) X(AST_INVOKE) X(AST_WAIT_CALLBACK)    \
    X(AST_COND) X(AST_LAMBDA) X(AST_AWS)                                                                \
    /* statements */                                                                           \
    X(AST_LET) X(AST_ASSIGN) X(AST_EXPR_STMT) X(AST_STEP) X(AST_WAIT) X(AST_CALLBACK)          \
    X(AST_POLL) X(AST_PARALLEL) X(AST_BRANCH) X(AST_MAP) X(AST_GROUP) X(AST_IF) X(AST_FOR)     \
    X(AST_TRY) X(AST_FAIL) X(AST_RETURN) X(AST_LOG) X(AST_WHILE) X(AST_BREAK) X(AST_CONTINUE)  \
    X(AST_CATCH)                                                                               \
    /* top level */                                                                            \
    X(AST_CONFIG) X(AST_USE) X(AST_WORKFLOW) X(AST_RETRY) X(AST_ALLOW)

typedef enum AstKind {
#define AST_ENUM_(k) k,
    AST_KINDS(AST_ENUM_)
#undef AST_ENUM_
    AST_KIND_COUNT
} AstKind;

const char *ast_kind_name(AstKind k);

/* Operators of AST_UNARY / AST_BINARY. */
typedef enum AstOp {
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD,
    OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE,
    OP_AND, OP_OR, OP_COALESCE, /* && || ?? : short-circuit */
    OP_NEG, OP_NOT
} AstOp;

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } AstLogLevel;
typedef enum { JITTER_FULL, JITTER_HALF, JITTER_NONE } AstJitter; /* same order as DWF_JITTER_* */
typedef enum { SEM_AT_LEAST_ONCE, SEM_AT_MOST_ONCE } AstSemantics;
typedef enum { CONFIG_DURABLE, CONFIG_LAMBDA, CONFIG_PERMISSIONS } AstConfigKind;

/* A variable: every `let`, step/parallel/map/... binding, for/map item and index, catch
 * variable and the implicit `input`. sema: unique per workflow. */
typedef struct Symbol {
    const char *name;   /* as written */
    const char *cname;  /* unique C field name in the generated frame: "u_<name>" or "u_<name>_<n>" */
    SrcLoc loc;         /* where it is declared */
    struct AstNode *decl;
    int used;           /* sema: referenced at least once */
    const struct AstNode *secret; /* taint.c: the secret()/parameter() call whose value it may hold */
    struct Symbol *next; /* all symbols of the workflow, in declaration order */
} Symbol;

typedef struct AstNode AstNode;
struct AstNode {
    AstKind kind;
    SrcLoc loc;
    AstNode *next; /* next element of the list this node is in */
    AstNode *tail; /* parser only: on a list's first node, its last node (O(1) append) */

    union {
        /* AST_BOOL */
        int bval;
        /* AST_NUM: value and its spelling */
        struct { double num; const char *text; } n;
        /* AST_STR: bytes (may hold NUL) */
        struct { const char *s; size_t len; } str;
        /* AST_DURATION: `10s`, `1.5h`, `500ms`, `1d`; seconds (fractional allowed) */
        struct { double seconds; const char *text; } dur;
        /* AST_TEMPLATE: "a ${x} b": parts = list of AST_STR and expressions */
        struct { AstNode *parts; } tmpl;
        /* AST_ARRAY: items list; AST_OBJECT: props list of AST_PROP */
        struct { AstNode *items; } list;
        /* AST_PROP: key: value ({orderId} shorthand: value is an AST_NAME) */
        struct { const char *key; AstNode *value; } prop;
        /* AST_NAME; sema: sym. `input` resolves to wf.input_sym, `state` in a poll to
         * poll.state_sym, `callback` in a submitter to wfc.cb_sym. sym is NULL only for
         * `attempt` inside a step body / poll check / submitter (codegen: dwf_attempt()). */
        struct { const char *id; Symbol *sym; } name;
        /* AST_MEMBER obj.key; AST_INDEX obj[index] */
        struct { AstNode *obj; const char *key; AstNode *index; } member;
        /* AST_CALL builtin(args); AST_CCALL call fn(args) */
        struct { const char *fn; AstNode *args; } call;
        /* AST_UNARY / AST_BINARY */
        struct { AstOp op; AstNode *a, *b; } op;
        /* AST_COND: cond ? a : b (if-expression) */
        struct { AstNode *cond, *a, *b; } cond;
        /* AST_LAMBDA: `x => body` or `(x, i) => body`, only as an argument of a builtin whose
         * row takes one (include/dwf_builtins.def); sema: the parameters' symbols (declared in
         * the lambda's own scope, not frame variables) and `depth`, how many lambdas enclose
         * this one. */
        struct { const char *param, *index; Symbol *param_sym, *index_sym; AstNode *body; int depth; } lambda;
        /* AST_HTTP: http METHOD url headers {..} body <e> timeout <d> */
        struct { const char *method; AstNode *url, *headers, *body, *timeout; } http;
        /* AST_AWS: aws <service>.<action> { params } (params: an AST_OBJECT); the rows are
         * include/dwf_aws.def's */
        struct { const char *service, *action; AstNode *params; SrcLoc service_loc, action_loc; } aws;
        /* AST_AWAIT: await <callback-name> */
        struct { AstNode *target; } await;
        /* AST_INVOKE: invoke ["label"] <function> with <payload> timeout <d> */
        struct { AstNode *label, *function, *payload, *timeout; } invoke;
        /* AST_WAIT_CALLBACK: wait for callback "label" timeout <d> heartbeat <d>
         *   retry {..} { submitter body; `callback.id` inside } */
        /* timeout, heartbeat: the callback's; submitter_timeout: each submitter attempt's */
        struct {
            AstNode *label, *timeout, *heartbeat, *retry, *submitter_timeout, *body;
            Symbol *cb_sym;
        } wfc;

        /* AST_LET name = value; AST_ASSIGN name = value (rebinding a let) */
        struct { const char *id; AstNode *value; Symbol *sym; } let;
        /* AST_EXPR_STMT */
        struct { AstNode *e; } expr;
        /* AST_STEP: step [bind] ["label"] retry {..} semantics at_most_once { body }
         *   compensate { block } */
        struct {
            const char *bind; Symbol *sym;
            AstNode *label;     /* AST_STR or AST_TEMPLATE; NULL = the bind name */
            AstNode *retry;     /* AST_RETRY or NULL */
            AstNode *timeout;   /* per-attempt timeout (AST_DURATION) or NULL */
            AstSemantics semantics;
            AstNode *body;      /* step-body statements */
            AstNode *compensate; /* durable statements or NULL */
        } step;
        /* AST_WAIT: wait ["label"] <duration> | wait ["label"] until <expr> */
        struct { AstNode *label, *duration, *until; } wait;
        /* AST_CALLBACK: callback bind ["label"] timeout <d> heartbeat <d> */
        struct { const char *bind; Symbol *sym; AstNode *label, *timeout, *heartbeat; } callback;
        /* AST_POLL: poll bind ["label"] every <d> backoff <n> max <d> attempts <n> jitter J
         *   state <expr> until <expr on state> { check body: `state` is the current state;
         *   its value is the new state } */
        struct {
            const char *bind; Symbol *sym;
            AstNode *label, *every, *backoff, *max, *attempts;
            AstJitter jitter;
            AstNode *state, *until, *body;
            AstNode *timeout;  /* each check's timeout (AST_DURATION) or NULL */
            Symbol *state_sym; /* the implicit `state` variable */
        } poll;
        /* AST_PARALLEL: parallel [bind] ["label"] <knobs> { branch [bind] ["label"] { .. } .. }
         * AST_MAP:      map [bind] ["label"] over <expr> as item[, index] <knobs>
         *                 name <expr on item, index> { body }
         * knobs: max <n> min_successful <n> tolerate <n> | tolerate <n>% */
        struct {
            const char *bind; Symbol *sym;
            AstNode *label;
            AstNode *max_concurrency, *min_successful, *tolerate; /* AST_NUM or NULL */
            int tolerate_percent; /* tolerate was written as N% */
            AstNode *branches;   /* parallel: list of AST_BRANCH */
            AstNode *over;       /* map: the array */
            const char *item, *index; Symbol *item_sym, *index_sym;
            AstNode *item_name;  /* map: names items; NULL = "map-item-<i>" */
            AstNode *body;       /* map: the item body (durable statements) */
        } batch;
        /* AST_BRANCH and AST_GROUP: [bind] ["label"] { durable statements } */
        struct { const char *bind; Symbol *sym; AstNode *label, *body; } group;
        /* AST_IF: if cond { then } else { else }  (else-if chains: else_ is one AST_IF) */
        struct { AstNode *cond, *then, *else_; } if_;
        /* AST_FOR: for x[, i] in <expr> { body } */
        struct { const char *var, *index; Symbol *var_sym, *index_sym; AstNode *iter, *body; } for_;
        /* AST_WHILE: while cond { body } */
        struct { AstNode *cond, *body; } while_;
        /* AST_BREAK / AST_CONTINUE; sema: loop = the AST_WHILE / AST_FOR it leaves or repeats */
        struct { AstNode *loop; } jump;
        /* AST_TRY: try { body } catch .. { } catch .. { }: catches = list of AST_CATCH, tried in
         * order (the first whose types match wins; none matching raises the error again) */
        struct { AstNode *body; AstNode *catches; } try_;
        /* AST_CATCH: catch ["Type", ...] [err] { handler }; types = list of AST_STR (NULL =
         * every error); loc starts at `catch` */
        struct { AstNode *types; const char *err; Symbol *err_sym; AstNode *handler; } catch_;
        /* AST_FAIL: fail <type expr> <message expr> */
        struct { AstNode *type, *message; } fail;
        /* AST_RETURN: return [value] */
        struct { AstNode *value; } ret;
        /* AST_LOG: log info|warn|error|debug <message expr> */
        struct { AstLogLevel level; AstNode *message; } log;

        /* AST_RETRY: retry { attempts N delay D backoff F max D jitter J on "T", ... } */
        struct {
            AstNode *attempts, *delay, *backoff, *max; /* NULL = not given */
            AstJitter jitter; int jitter_set;
            AstNode *on; /* list of AST_STR; NULL = every error */
        } retry;
        /* AST_CONFIG: durable { k = v ... } | lambda { k = v ... }: props list of AST_PROP;
         * permissions { allow ... }: props list of AST_ALLOW */
        struct { AstConfigKind which; AstNode *props; } config;
        /* AST_ALLOW: allow "svc:Action", ... on "arn:...", ...: lists of AST_STR */
        struct { AstNode *actions, *resources; } allow;
        /* AST_USE: use "file.c" */
        struct { const char *path; } use;
        /* AST_WORKFLOW */
        struct {
            const char *name;
            AstNode *configs; /* AST_CONFIG list */
            AstNode *body;    /* durable statements */
            Symbol *syms;     /* sema: every variable, declaration order */
            Symbol *input_sym; /* sema: the implicit `input` */
        } wf;
    } u;

    /* sema: nonzero when this statement or expression is inside a step body (or a poll
     * check, or a waitForCallback submitter): non-deterministic actions are allowed there. */
    int in_step;

    /* Where the name this node binds is written (`step payment`, `let x`, `callback cb`, ...),
     * for notes that point at a declaration; first_line is 0 when the node binds nothing. */
    SrcLoc bind_loc;
};

/* One statement of the IAM policy the workflow's own calls need (grammar/iam.c): its actions
 * on its resources (${REGION} / ${ACCOUNT} placeholders), for kms:Decrypt the parameter ARNs
 * its condition names (`cond`), and the .dwf lines that need it, ascending. */
typedef struct IamStmt {
    const char **actions, **resources, **cond;
    int nactions, nres, ncond;
    int *lines;
    int nlines;
    int declared; /* from permissions { allow ... } */
} IamStmt;

/* A whole file. */
typedef struct Program {
    const char *path;   /* as given on the command line */
    const char *text;   /* the source text (NUL-terminated; used for diagnostics and hashing) */
    size_t text_len;
    AstNode *uses;      /* AST_USE list */
    AstNode *workflow;  /* AST_WORKFLOW (exactly one per file) */

    /* sema: resolved configuration with defaults applied */
    struct {
        int retention_days;         /* default 14 (the service default) */
        long long execution_timeout; /* seconds; default 86400 (documented in docs/language.md) */
        const char *function_name;  /* default: the workflow name with '_' -> '-' */
        int memory_mb;              /* default 128 */
        int timeout_s;              /* default 30 */
        const char *region;         /* lambda { region } or NULL */
        const char *account;        /* lambda { account } or NULL */
        /* lambda { environment { NAME = "value" ... } }: env_names[i] = env_values[i], in the
         * order written; env() calls and the deploy files read it */
        const char **env_names, **env_values;
        int nenv;
        int uses_callbacks;         /* any callback / wait for callback */
        int uses_waits;
        int uses_invoke;
        int uses_http;
        int uses_aws; /* an `aws` call somewhere */
        const char **invoke_targets; /* NULL-terminated list of literal invoke targets */
        int invoke_declared; /* iam.c: permissions { allow } grants lambda:InvokeFunction, so
                              * computed invoke targets are the declaration's business */
        long op_estimate;           /* static estimate of operations per execution */
    } cfg;
    /* sema (iam.c): the statements the workflow's own calls need, in order of first use */
    IamStmt *iam;
    int niam;
} Program;

/* Arena: bump allocation for one compilation. */
Arena *arena_new(void);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t n); /* zeroed */
char *arena_strdup(Arena *a, const char *s);
char *arena_strndup(Arena *a, const char *s, size_t n);
char *arena_printf(Arena *a, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

AstNode *ast_new(Arena *a, AstKind kind, SrcLoc loc);

/* Debug dump of a tree, one node per line (tests and `dwf check --dump`). */
void ast_dump(const AstNode *n, int indent, FILE *out);

#endif /* DWF_AST_H */
