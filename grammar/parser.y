/*
 * parser.y: the .dwf grammar. Actions only build AST nodes (ast.h); names, determinism,
 * durations and limits are checked afterwards by sema.c, where every rule can see the whole
 * tree. The one exception is the option lists (`max 3`, `timeout 60s`, `jitter full`, ...):
 * the grammar accepts any of a construct's option words in any order and opts_apply() below
 * puts each into its field, reporting a repeated option or an unknown jitter / semantics /
 * log level, because those have no other place in the tree to wait for sema.
 *
 * There are no statement separators, so the grammar is arranged to stay LR(1) without them:
 * an expression never continues with an identifier or keyword, statements never start with
 * '(' '[' '-' or a string, and constructs whose option list ends a statement (callback, http,
 * invoke) only use reserved option words. Option words that are likely variable names (max,
 * state, name, delay, ...) are "soft" keywords: tokens in option lists, names everywhere else.
 */

%code top {
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
}

%code requires {
#include "ast.h"
typedef struct ParseState ParseState;
typedef void *yyscan_t;
typedef struct Str { const char *s; size_t len; } Str;
typedef struct Num { double num; const char *text; } Num;
typedef const char *Ident;
}

%code provides {
int yylex(YYSTYPE *yylval_param, YYLTYPE *yylloc_param, yyscan_t yyscanner, ParseState *ps);
}

%code {
#include "parse_state.h"
#include "sema.h"

static void yyerror(YYLTYPE *loc, yyscan_t scanner, ParseState *ps, const char *msg);

#define NEW(kind, loc) ast_new(ps->arena, (kind), (loc))
static AstNode *append(AstNode *list, AstNode *item);
static AstNode *mk_str(ParseState *ps, Str s, SrcLoc loc);
static AstNode *mk_prop(ParseState *ps, const char *key, AstNode *value, SrcLoc loc);
static const char *lambda_param(ParseState *ps, const AstNode *e);
static AstNode *mk_binary(ParseState *ps, AstOp op, AstNode *a, AstNode *b, SrcLoc loc);
static AstNode *mk_unary(ParseState *ps, AstOp op, AstNode *a, SrcLoc loc);
static AstNode *tpl_piece(ParseState *ps, AstNode *parts, Str s, SrcLoc loc);
static void opts_apply(ParseState *ps, AstNode *node, AstNode *opts);
static AstLogLevel log_level(ParseState *ps, const char *id, SrcLoc loc);
}

/* Pure parser: no globals, so several files can be compiled in one process (tests, fuzzer). */
%define api.pure full
/* Token kinds become TOK_*, which cannot clash with EOF and friends. */
%define api.token.prefix {TOK_}
/* Typed semantic values: each token and rule says what it carries (%token <T>, %type <T>). */
%define api.value.type union
/* Locations are SrcLoc (ast.h), so the parser's @N go straight into nodes and diagnostics. */
%define api.location.type {SrcLoc}
/* Our own syntax-error messages ("expected '}' (to close '{' at line 3)") in diag's shape. */
%define parse.error custom
/* Lookahead correction: the "expected" list names only tokens that can really come next. */
%define parse.lac full
/* Every location is tracked: diagnostics point at a line and column. */
%locations
/* The grammar has no conflicts; any new one is a mistake to fix, not to accept. */
%expect 0
/* The reentrant scanner and the per-file state go to both yyparse and yylex. */
%param {yyscan_t scanner} {ParseState *ps}

%initial-action {
    @$.first_line = @$.last_line = 1;
    @$.first_column = @$.last_column = 1;
}

%token <Ident> IDENT "identifier"
%token <Num> NUMBER "number"
%token <Num> DURATION "duration"
%token <Num> PERCENT "percentage"
%token <Str> STRING "string"
%token <Str> TPL_HEAD "template string"
%token <Str> TPL_MID "template string part"
%token <Str> TPL_TAIL "end of template string"

%token AS "as" ATTEMPTS "attempts" AWAIT "await" BACKOFF "backoff" BODY "body" BRANCH "branch"
%token BREAK "break" CONTINUE "continue" WHILE "while"
%token CALL "call" CALLBACK "callback" CATCH "catch" COMPENSATE "compensate" DELAY "delay"
%token DURABLE "durable" ELSE "else" EVERY "every" FAIL "fail" FALSE "false" FOR "for"
%token GROUP "group" HEADERS "headers" HEARTBEAT "heartbeat" HTTP "http" AWS "aws" IF "if" IN "in"
%token INVOKE "invoke" JITTER "jitter" LAMBDA "lambda" LET "let" LOG "log" MAP "map" MAX "max"
%token MIN_SUCCESSFUL "min_successful" NAME "name" NULL "null" ON "on" OVER "over"
%token PARALLEL "parallel" POLL "poll" RETRY "retry" RETURN "return" SEMANTICS "semantics"
%token STATE "state" STEP "step" SUBMITTER "submitter" TIMEOUT "timeout" TOLERATE "tolerate" TRUE "true" TRY "try"
%token UNTIL "until" USE "use" WAIT "wait" WITH "with" WORKFLOW "workflow"
%token EQ "==" NE "!=" LE "<=" GE ">=" AND "&&" OR "||" COALESCE "??" ARROW "=>"
/* Only the formatter's scan (format.c) produces comments as tokens; the grammar never sees one. */
%token COMMENT "comment"

%right '?' ':'
%left COALESCE
%left OR
%left AND
%left EQ NE
%left '<' LE '>' GE
%left '+' '-'
%left '*' '/' '%'
%precedence UNARY

%type <AstNode *> uses workflow wf_items config cfg_items cfg_item block stmts stmt allows allow labels
%type <AstNode *> step_stmt step_opts step_opt comp_opt wait_stmt dur_val callback_stmt cb_opts cb_opt
%type <AstNode *> poll_stmt poll_opts poll_opt parallel_stmt branches branch batch_opts batch_opt
%type <AstNode *> map_stmt map_opts map_opt group_stmt if_stmt else_opt for_stmt while_stmt try_stmt
%type <AstNode *> catches catch_clause catch_types
%type <AstNode *> retry_block retry_items retry_item str_list label label_opt fail_type dotted
%type <AstNode *> expr bexpr primary path call_like literal template tpl_parts array object
%type <AstNode *> items items_opt props props_opt prop args args_opt arg lambda
%type <AstNode *> aws_expr http_expr http_opts http_opt invoke_expr inv_head inv_target timeout_opt wfc_expr wfc_opts wfc_opt
%type <Ident> ident soft key bind_opt idx_opt ident_opt

%%

file:
    uses workflow {
        ps->prog->uses = $1;
        ps->prog->workflow = $2;
    }
;

uses:
    %empty { $$ = NULL; }
  | uses USE STRING {
        SrcLoc at = @2; /* not @$, which starts where the (possibly empty) list before it does */
        at.last_line = @3.last_line;
        at.last_column = @3.last_column;
        AstNode *n = NEW(AST_USE, at);
        n->u.use.path = $3.s;
        $$ = append($1, n);
    }
;

workflow:
    WORKFLOW IDENT '{' wf_items '}' {
        $$ = NEW(AST_WORKFLOW, @$);
        $$->u.wf.name = $2;
        /* configs and statements arrive mixed: split them */
        AstNode *configs = NULL, *body = NULL;
        for (AstNode *n = $4, *next; n; n = next) {
            next = n->next;
            n->next = NULL;
            if (n->kind == AST_CONFIG) configs = append(configs, n);
            else body = append(body, n);
        }
        $$->u.wf.configs = configs;
        $$->u.wf.body = body;
    }
;

wf_items:
    %empty { $$ = NULL; }
  | wf_items config { $$ = append($1, $2); }
  | wf_items stmt { $$ = append($1, $2); }
  | wf_items error { $$ = $1; }
  | wf_items error block { $$ = $1; }
;

config:
    DURABLE '{' cfg_items '}' {
        $$ = NEW(AST_CONFIG, @$);
        $$->u.config.which = CONFIG_DURABLE;
        $$->u.config.props = $3;
    }
  | LAMBDA '{' cfg_items '}' {
        $$ = NEW(AST_CONFIG, @$);
        $$->u.config.which = CONFIG_LAMBDA;
        $$->u.config.props = $3;
    }
    /* permissions { allow "svc:Action" on "arn:..." }: plain words, not keywords, so no
     * variable named `allow` or `permissions` breaks. After a syntax error, the parser's
     * recovery may land on any `word {` (`catch err: T {`): only the first error is reported. */
  | IDENT '{' allows '}' {
        if (strcmp($1, "permissions") != 0 && diag_errors(ps->diag) == 0)
            diag_error(ps->diag, @1, "'%s {' is not a block a workflow has: durable, lambda or permissions", $1);
        $$ = NEW(AST_CONFIG, @$);
        $$->u.config.which = CONFIG_PERMISSIONS;
        $$->u.config.props = $3;
    }
;

allows:
    %empty { $$ = NULL; }
  | allows allow { $$ = append($1, $2); }
  | allows error { $$ = $1; }
;

allow:
    IDENT str_list ON labels {
        if (strcmp($1, "allow") != 0 && diag_errors(ps->diag) == 0)
            diag_error(ps->diag, @1, "a permissions block holds 'allow \"action\" on \"arn\"' lines, not '%s'", $1);
        $$ = NEW(AST_ALLOW, @$);
        $$->u.allow.actions = $2;
        $$->u.allow.resources = $4;
    }
;

/* resources: "arn:..." with ${region} / ${account} where they stand */
labels:
    label
  | labels ',' label { $$ = append($1, $3); }
;

cfg_items:
    %empty { $$ = NULL; }
  | cfg_items cfg_item { $$ = append($1, $2); }
  | cfg_items error { $$ = $1; }
;

cfg_item:
    key '=' bexpr { $$ = mk_prop(ps, $1, $3, @1); }
    /* a nested block of settings, `environment { TABLE = "orders" }`: an object of its props */
  | key '{' cfg_items '}' {
        AstNode *o = NEW(AST_OBJECT, @$);
        o->u.list.items = $3;
        $$ = mk_prop(ps, $1, o, @1);
    }
;

block:
    '{' stmts '}' { $$ = $2; }
;

stmts:
    %empty { $$ = NULL; }
  | stmts stmt { $$ = append($1, $2); }
  | stmts error { $$ = $1; }
  | stmts error block { $$ = $1; }
;

stmt:
    LET ident '=' expr {
        $$ = NEW(AST_LET, @$);
        $$->bind_loc = @2;
        $$->u.let.id = $2;
        $$->u.let.value = $4;
    }
  | ident '=' expr {
        $$ = NEW(AST_ASSIGN, @$);
        $$->u.let.id = $1;
        $$->u.let.value = $3;
    }
  | step_stmt
  | wait_stmt
  | callback_stmt
  | poll_stmt
  | parallel_stmt
  | map_stmt
  | group_stmt
  | if_stmt
  | for_stmt
  | while_stmt
  | try_stmt
  | BREAK { $$ = NEW(AST_BREAK, @$); }
  | CONTINUE { $$ = NEW(AST_CONTINUE, @$); }
  | FAIL fail_type bexpr {
        $$ = NEW(AST_FAIL, @$);
        $$->u.fail.type = $2;
        $$->u.fail.message = $3;
    }
  | RETURN expr {
        $$ = NEW(AST_RETURN, @$);
        $$->u.ret.value = $2;
    }
  | LOG IDENT expr {
        $$ = NEW(AST_LOG, @$);
        $$->u.log.level = log_level(ps, $2, @2);
        $$->u.log.message = $3;
    }
  | call_like { $$ = NEW(AST_EXPR_STMT, @$); $$->u.expr.e = $1; }
  | http_expr { $$ = NEW(AST_EXPR_STMT, @$); $$->u.expr.e = $1; }
  | aws_expr { $$ = NEW(AST_EXPR_STMT, @$); $$->u.expr.e = $1; }
  | invoke_expr { $$ = NEW(AST_EXPR_STMT, @$); $$->u.expr.e = $1; }
  | wfc_expr { $$ = NEW(AST_EXPR_STMT, @$); $$->u.expr.e = $1; }
;

bind_opt:
    %empty { $$ = NULL; }
  | IDENT
;

label_opt:
    %empty { $$ = NULL; }
  | label
;

label:
    STRING { $$ = mk_str(ps, $1, @1); }
  | template
;

step_stmt:
    STEP bind_opt label_opt step_opts block comp_opt {
        $$ = NEW(AST_STEP, @$);
        if ($2) $$->bind_loc = @2;
        $$->u.step.bind = $2;
        $$->u.step.label = $3;
        $$->u.step.body = $5;
        $$->u.step.compensate = $6;
        opts_apply(ps, $$, $4);
    }
;

step_opts:
    %empty { $$ = NULL; }
  | step_opts step_opt { $$ = append($1, $2); }
;

step_opt:
    retry_block { $$ = mk_prop(ps, "retry", $1, @1); }
  | TIMEOUT bexpr { $$ = mk_prop(ps, "timeout", $2, @1); }
  | SEMANTICS IDENT {
        AstNode *v = NEW(AST_NAME, @2);
        v->u.name.id = $2;
        $$ = mk_prop(ps, "semantics", v, @1);
    }
;

comp_opt:
    %empty { $$ = NULL; }
  | COMPENSATE block { $$ = $2; /* an empty block compensates nothing: same as none */ }
;

retry_block:
    RETRY '{' retry_items '}' {
        $$ = NEW(AST_RETRY, @$);
        opts_apply(ps, $$, $3);
    }
;

retry_items:
    %empty { $$ = NULL; }
  | retry_items retry_item { $$ = append($1, $2); }
  | retry_items error { $$ = $1; }
;

retry_item:
    ATTEMPTS bexpr { $$ = mk_prop(ps, "attempts", $2, @1); }
  | DELAY bexpr { $$ = mk_prop(ps, "delay", $2, @1); }
  | BACKOFF bexpr { $$ = mk_prop(ps, "backoff", $2, @1); }
  | MAX bexpr { $$ = mk_prop(ps, "max", $2, @1); }
  | JITTER bexpr { $$ = mk_prop(ps, "jitter", $2, @1); }
  | ON str_list {
        AstNode *v = NEW(AST_ARRAY, @2);
        v->u.list.items = $2;
        $$ = mk_prop(ps, "on", v, @1);
    }
;

str_list:
    STRING { $$ = mk_str(ps, $1, @1); }
  | str_list ',' STRING { $$ = append($1, mk_str(ps, $3, @3)); }
;

wait_stmt:
    WAIT label_opt dur_val {
        $$ = NEW(AST_WAIT, @$);
        $$->u.wait.label = $2;
        $$->u.wait.duration = $3;
    }
  | WAIT label_opt UNTIL bexpr {
        $$ = NEW(AST_WAIT, @$);
        $$->u.wait.label = $2;
        $$->u.wait.until = $4;
    }
;

dur_val:
    DURATION {
        $$ = NEW(AST_DURATION, @1);
        $$->u.dur.seconds = $1.num;
        $$->u.dur.text = $1.text;
    }
  | NUMBER {
        /* accepted only so sema can say "a wait needs a unit" instead of a syntax error */
        $$ = NEW(AST_NUM, @1);
        $$->u.n.num = $1.num;
        $$->u.n.text = $1.text;
    }
  | path
;

callback_stmt:
    CALLBACK IDENT label_opt cb_opts {
        $$ = NEW(AST_CALLBACK, @$);
        $$->bind_loc = @2;
        $$->u.callback.bind = $2;
        $$->u.callback.label = $3;
        opts_apply(ps, $$, $4);
    }
;

cb_opts:
    %empty { $$ = NULL; }
  | cb_opts cb_opt { $$ = append($1, $2); }
;

cb_opt:
    TIMEOUT bexpr { $$ = mk_prop(ps, "timeout", $2, @1); }
  | HEARTBEAT bexpr { $$ = mk_prop(ps, "heartbeat", $2, @1); }
;

poll_stmt:
    POLL IDENT label_opt poll_opts block {
        $$ = NEW(AST_POLL, @$);
        $$->bind_loc = @2;
        $$->u.poll.bind = $2;
        $$->u.poll.label = $3;
        $$->u.poll.body = $5;
        opts_apply(ps, $$, $4);
    }
;

poll_opts:
    %empty { $$ = NULL; }
  | poll_opts poll_opt { $$ = append($1, $2); }
;

poll_opt:
    EVERY bexpr { $$ = mk_prop(ps, "every", $2, @1); }
  | BACKOFF bexpr { $$ = mk_prop(ps, "backoff", $2, @1); }
  | MAX bexpr { $$ = mk_prop(ps, "max", $2, @1); }
  | ATTEMPTS bexpr { $$ = mk_prop(ps, "attempts", $2, @1); }
  | JITTER bexpr { $$ = mk_prop(ps, "jitter", $2, @1); }
  | STATE bexpr { $$ = mk_prop(ps, "state", $2, @1); }
  | UNTIL bexpr { $$ = mk_prop(ps, "until", $2, @1); }
  | TIMEOUT bexpr { $$ = mk_prop(ps, "timeout", $2, @1); }
;

parallel_stmt:
    PARALLEL bind_opt label_opt batch_opts '{' branches '}' {
        $$ = NEW(AST_PARALLEL, @$);
        if ($2) $$->bind_loc = @2;
        $$->u.batch.bind = $2;
        $$->u.batch.label = $3;
        $$->u.batch.branches = $6;
        opts_apply(ps, $$, $4);
    }
;

branches:
    %empty { $$ = NULL; }
  | branches branch { $$ = append($1, $2); }
  | branches error { $$ = $1; }
  | branches error block { $$ = $1; }
;

branch:
    BRANCH bind_opt label_opt block {
        $$ = NEW(AST_BRANCH, @$);
        if ($2) $$->bind_loc = @2;
        $$->u.group.bind = $2;
        $$->u.group.label = $3;
        $$->u.group.body = $4;
    }
;

batch_opts:
    %empty { $$ = NULL; }
  | batch_opts batch_opt { $$ = append($1, $2); }
;

batch_opt:
    MAX bexpr { $$ = mk_prop(ps, "max", $2, @1); }
  | MIN_SUCCESSFUL bexpr { $$ = mk_prop(ps, "min_successful", $2, @1); }
  | TOLERATE bexpr { $$ = mk_prop(ps, "tolerate", $2, @1); }
  | TOLERATE PERCENT {
        AstNode *v = NEW(AST_NUM, @2);
        v->u.n.num = $2.num;
        v->u.n.text = $2.text;
        $$ = mk_prop(ps, "tolerate%", v, @1);
    }
;

map_stmt:
    MAP bind_opt label_opt OVER bexpr AS ident idx_opt map_opts block {
        $$ = NEW(AST_MAP, @$);
        if ($2) $$->bind_loc = @2;
        $$->u.batch.bind = $2;
        $$->u.batch.label = $3;
        $$->u.batch.over = $5;
        $$->u.batch.item = $7;
        $$->u.batch.index = $8;
        $$->u.batch.body = $10;
        opts_apply(ps, $$, $9);
    }
;

idx_opt:
    %empty { $$ = NULL; }
  | ',' ident { $$ = $2; }
;

map_opts:
    %empty { $$ = NULL; }
  | map_opts map_opt { $$ = append($1, $2); }
;

map_opt:
    batch_opt
  | NAME bexpr { $$ = mk_prop(ps, "name", $2, @1); }
;

group_stmt:
    GROUP bind_opt label_opt block {
        $$ = NEW(AST_GROUP, @$);
        if ($2) $$->bind_loc = @2;
        $$->u.group.bind = $2;
        $$->u.group.label = $3;
        $$->u.group.body = $4;
    }
;

if_stmt:
    IF bexpr block else_opt {
        $$ = NEW(AST_IF, @$);
        $$->u.if_.cond = $2;
        $$->u.if_.then = $3;
        $$->u.if_.else_ = $4;
    }
;

else_opt:
    %empty { $$ = NULL; }
  | ELSE block { $$ = $2; }
  | ELSE if_stmt { $$ = $2; }
;

for_stmt:
    FOR ident idx_opt IN bexpr block {
        $$ = NEW(AST_FOR, @$);
        $$->bind_loc = @2;
        $$->u.for_.var = $2;
        $$->u.for_.index = $3;
        $$->u.for_.iter = $5;
        $$->u.for_.body = $6;
    }
;

while_stmt:
    WHILE bexpr block {
        $$ = NEW(AST_WHILE, @$);
        $$->u.while_.cond = $2;
        $$->u.while_.body = $3;
    }
;

try_stmt:
    TRY block catches {
        $$ = NEW(AST_TRY, @$);
        $$->u.try_.body = $2;
        $$->u.try_.catches = $3;
    }
;

/* No statement starts with `catch`, so after a clause a `catch` can only begin the next. */
catches:
    catch_clause
  | catches catch_clause { $$ = append($1, $2); }
;

catch_clause:
    CATCH catch_types ident_opt block {
        $$ = NEW(AST_CATCH, @$);
        if ($3) $$->bind_loc = @3;
        $$->u.catch_.types = $2;
        $$->u.catch_.err = $3;
        $$->u.catch_.handler = $4;
    }
;

catch_types:
    %empty { $$ = NULL; }
  | str_list
;

ident_opt:
    %empty { $$ = NULL; }
  | ident
;

fail_type:
    STRING { $$ = mk_str(ps, $1, @1); }
  | template
  | dotted
  | '(' expr ')' { $$ = $2; }
;

dotted:
    ident {
        $$ = NEW(AST_NAME, @1);
        $$->u.name.id = $1;
    }
  | dotted '.' key {
        $$ = NEW(AST_MEMBER, @$);
        $$->u.member.obj = $1;
        $$->u.member.key = $3;
    }
;

/* ---- expressions ------------------------------------------------------------------------ */

expr:
    bexpr
  | http_expr
  | aws_expr
  | invoke_expr
  | wfc_expr
;

http_expr:
    HTTP IDENT bexpr http_opts {
        $$ = NEW(AST_HTTP, @$);
        $$->u.http.method = $2;
        $$->u.http.url = $3;
        opts_apply(ps, $$, $4);
    }
;

/* aws <service>.<Action> { params }: the services and actions are include/dwf_aws.def's rows
 * (sema checks them); `key` lets a service be named like a keyword (lambda). */
aws_expr:
    AWS key '.' key object {
        $$ = NEW(AST_AWS, @$);
        $$->u.aws.service = $2;
        $$->u.aws.action = $4;
        $$->u.aws.params = $5;
        $$->u.aws.service_loc = @2;
        $$->u.aws.action_loc = @4;
    }
;

http_opts:
    %empty { $$ = NULL; }
  | http_opts http_opt { $$ = append($1, $2); }
;

http_opt:
    HEADERS bexpr { $$ = mk_prop(ps, "headers", $2, @1); }
  | BODY bexpr { $$ = mk_prop(ps, "body", $2, @1); }
  | TIMEOUT bexpr { $$ = mk_prop(ps, "timeout", $2, @1); }
;

invoke_expr:
    INVOKE inv_head WITH bexpr timeout_opt {
        $$ = $2;
        $$->loc = @$;
        $$->u.invoke.payload = $4;
        $$->u.invoke.timeout = $5;
    }
;

/* [label] target: spelled out (not label_opt) so "invoke "fn" with" needs no lookahead past
 * the string to decide that it was the target. */
inv_head:
    inv_target {
        $$ = NEW(AST_INVOKE, @$);
        $$->u.invoke.function = $1;
    }
  | label inv_target {
        $$ = NEW(AST_INVOKE, @$);
        $$->u.invoke.label = $1;
        $$->u.invoke.function = $2;
    }
;

inv_target:
    STRING { $$ = mk_str(ps, $1, @1); }
  | template
  | path
;

timeout_opt:
    %empty { $$ = NULL; }
  | TIMEOUT bexpr { $$ = $2; }
;

wfc_expr:
    WAIT FOR CALLBACK label_opt wfc_opts block {
        $$ = NEW(AST_WAIT_CALLBACK, @$);
        $$->u.wfc.label = $4;
        $$->u.wfc.body = $6;
        opts_apply(ps, $$, $5);
    }
;

wfc_opts:
    %empty { $$ = NULL; }
  | wfc_opts wfc_opt { $$ = append($1, $2); }
;

/* `timeout` is the callback's; `submitter timeout` bounds each attempt of the submitter step. */
wfc_opt:
    cb_opt
  | retry_block { $$ = mk_prop(ps, "retry", $1, @1); }
  | SUBMITTER TIMEOUT bexpr { $$ = mk_prop(ps, "submitter timeout", $3, @1); }
;

bexpr:
    primary
  | bexpr '+' bexpr { $$ = mk_binary(ps, OP_ADD, $1, $3, @$); }
  | bexpr '-' bexpr { $$ = mk_binary(ps, OP_SUB, $1, $3, @$); }
  | bexpr '*' bexpr { $$ = mk_binary(ps, OP_MUL, $1, $3, @$); }
  | bexpr '/' bexpr { $$ = mk_binary(ps, OP_DIV, $1, $3, @$); }
  | bexpr '%' bexpr { $$ = mk_binary(ps, OP_MOD, $1, $3, @$); }
  | bexpr EQ bexpr { $$ = mk_binary(ps, OP_EQ, $1, $3, @$); }
  | bexpr NE bexpr { $$ = mk_binary(ps, OP_NE, $1, $3, @$); }
  | bexpr '<' bexpr { $$ = mk_binary(ps, OP_LT, $1, $3, @$); }
  | bexpr LE bexpr { $$ = mk_binary(ps, OP_LE, $1, $3, @$); }
  | bexpr '>' bexpr { $$ = mk_binary(ps, OP_GT, $1, $3, @$); }
  | bexpr GE bexpr { $$ = mk_binary(ps, OP_GE, $1, $3, @$); }
  | bexpr AND bexpr { $$ = mk_binary(ps, OP_AND, $1, $3, @$); }
  | bexpr OR bexpr { $$ = mk_binary(ps, OP_OR, $1, $3, @$); }
  | bexpr COALESCE bexpr { $$ = mk_binary(ps, OP_COALESCE, $1, $3, @$); }
  | bexpr '?' bexpr ':' bexpr {
        $$ = NEW(AST_COND, @$);
        $$->u.cond.cond = $1;
        $$->u.cond.a = $3;
        $$->u.cond.b = $5;
    }
  | '-' bexpr %prec UNARY { $$ = mk_unary(ps, OP_NEG, $2, @$); }
  | '!' bexpr %prec UNARY { $$ = mk_unary(ps, OP_NOT, $2, @$); }
;

primary:
    literal
  | STRING { $$ = mk_str(ps, $1, @1); }
  | template
  | array
  | object
  | path
;

literal:
    NUMBER {
        $$ = NEW(AST_NUM, @1);
        $$->u.n.num = $1.num;
        $$->u.n.text = $1.text;
    }
  | DURATION {
        $$ = NEW(AST_DURATION, @1);
        $$->u.dur.seconds = $1.num;
        $$->u.dur.text = $1.text;
    }
  | TRUE { $$ = NEW(AST_BOOL, @1); $$->u.bval = 1; }
  | FALSE { $$ = NEW(AST_BOOL, @1); $$->u.bval = 0; }
  | NULL { $$ = NEW(AST_NULL, @1); }
;

path:
    ident {
        $$ = NEW(AST_NAME, @1);
        $$->u.name.id = $1;
    }
  | CALLBACK {
        $$ = NEW(AST_NAME, @1);
        $$->u.name.id = "callback";
    }
  | '(' expr ')' { $$ = $2; }
  | call_like
  | path '.' key {
        $$ = NEW(AST_MEMBER, @$);
        $$->u.member.obj = $1;
        $$->u.member.key = $3;
    }
  | path '[' expr ']' {
        $$ = NEW(AST_INDEX, @$);
        $$->u.member.obj = $1;
        $$->u.member.index = $3;
    }
;

call_like:
    ident '(' args_opt ')' {
        $$ = NEW(AST_CALL, @$);
        $$->u.call.fn = $1;
        $$->u.call.args = $3;
    }
  | CALL IDENT '(' args_opt ')' {
        $$ = NEW(AST_CCALL, @$);
        $$->u.call.fn = $2;
        $$->u.call.args = $4;
    }
  | AWAIT IDENT {
        $$ = NEW(AST_AWAIT, @$);
        AstNode *t = NEW(AST_NAME, @2);
        t->u.name.id = $2;
        $$->u.await.target = t;
    }
;

template:
    tpl_parts TPL_TAIL {
        $$ = tpl_piece(ps, $1, $2, @2);
        $$->loc = @$;
    }
;

tpl_parts:
    TPL_HEAD expr {
        $$ = tpl_piece(ps, NULL, $1, @1);
        $$->u.tmpl.parts = append($$->u.tmpl.parts, $2);
    }
  | tpl_parts TPL_MID expr {
        $$ = tpl_piece(ps, $1, $2, @2);
        $$->u.tmpl.parts = append($$->u.tmpl.parts, $3);
    }
;

array:
    '[' items_opt ']' {
        $$ = NEW(AST_ARRAY, @$);
        $$->u.list.items = $2;
    }
;

items_opt:
    %empty { $$ = NULL; }
  | items
  | items ',' { $$ = $1; }
;

items:
    expr
  | items ',' expr { $$ = append($1, $3); }
;

object:
    '{' props_opt '}' {
        $$ = NEW(AST_OBJECT, @$);
        $$->u.list.items = $2;
    }
  | '{' error '}' { $$ = NEW(AST_OBJECT, @$); /* recover inside: an object's '}' is rarely missing */ }
;

props_opt:
    %empty { $$ = NULL; }
  | props
  | props ',' { $$ = $1; }
;

props:
    prop
  | props ',' prop { $$ = append($1, $3); }
;

prop:
    key ':' expr { $$ = mk_prop(ps, $1, $3, @1); }
  | STRING ':' expr { $$ = mk_prop(ps, $1.s, $3, @1); }
  | ident {
        AstNode *v = NEW(AST_NAME, @1);
        v->u.name.id = $1;
        $$ = mk_prop(ps, $1, v, @1);
    }
;

args_opt:
    %empty { $$ = NULL; }
  | args
;

args:
    arg
  | args ',' arg { $$ = append($1, $3); }
;

/* A lambda is written only as an argument (sema allows it only where a builtin takes one), so
 * the grammar needs no lookahead past its parameter: `x =>` and `(x) =>` parse as an expression
 * followed by `=>` (which nothing else can follow), then the expression must be a bare name;
 * `(x, i)` is no parenthesized expression. */
arg:
    expr
  | lambda
;

lambda:
    expr ARROW expr {
        $$ = NEW(AST_LAMBDA, @$);
        $$->bind_loc = $1->loc;
        $$->u.lambda.param = lambda_param(ps, $1);
        $$->u.lambda.body = $3;
    }
  | '(' ident ',' ident ')' ARROW expr {
        $$ = NEW(AST_LAMBDA, @$);
        $$->bind_loc = @2;
        $$->u.lambda.param = $2;
        $$->u.lambda.index = $4;
        $$->u.lambda.body = $7;
    }
;

/* A variable name: an identifier or a soft keyword. */
ident:
    IDENT
  | soft
;

soft:
    ATTEMPTS { $$ = "attempts"; }
  | BACKOFF { $$ = "backoff"; }
  | DELAY { $$ = "delay"; }
  | EVERY { $$ = "every"; }
  | JITTER { $$ = "jitter"; }
  | MAX { $$ = "max"; }
  | MIN_SUCCESSFUL { $$ = "min_successful"; }
  | NAME { $$ = "name"; }
  | ON { $$ = "on"; }
  | STATE { $$ = "state"; }
  | SUBMITTER { $$ = "submitter"; }
  | TOLERATE { $$ = "tolerate"; }
;

/* A property name after '.' or before ':' or '=': any word, reserved or not. */
key:
    ident
  | AS { $$ = "as"; } | AWAIT { $$ = "await"; } | BODY { $$ = "body"; }
  | BRANCH { $$ = "branch"; } | CALL { $$ = "call"; } | CALLBACK { $$ = "callback"; }
  | CATCH { $$ = "catch"; } | COMPENSATE { $$ = "compensate"; } | DURABLE { $$ = "durable"; }
  | ELSE { $$ = "else"; } | FAIL { $$ = "fail"; } | FALSE { $$ = "false"; } | FOR { $$ = "for"; }
  | GROUP { $$ = "group"; } | HEADERS { $$ = "headers"; } | HEARTBEAT { $$ = "heartbeat"; }
  | HTTP { $$ = "http"; } | AWS { $$ = "aws"; } | IF { $$ = "if"; } | IN { $$ = "in"; } | INVOKE { $$ = "invoke"; }
  | LAMBDA { $$ = "lambda"; } | LET { $$ = "let"; } | LOG { $$ = "log"; } | MAP { $$ = "map"; }
  | NULL { $$ = "null"; } | OVER { $$ = "over"; } | PARALLEL { $$ = "parallel"; }
  | POLL { $$ = "poll"; } | RETRY { $$ = "retry"; } | RETURN { $$ = "return"; }
  | SEMANTICS { $$ = "semantics"; } | STEP { $$ = "step"; } | TIMEOUT { $$ = "timeout"; }
  | TRUE { $$ = "true"; } | TRY { $$ = "try"; } | UNTIL { $$ = "until"; } | USE { $$ = "use"; }
  | WAIT { $$ = "wait"; } | WITH { $$ = "with"; } | WORKFLOW { $$ = "workflow"; }
  | BREAK { $$ = "break"; } | CONTINUE { $$ = "continue"; } | WHILE { $$ = "while"; }
;

%%

/* Lists grow left-recursively one item at a time; the head remembers its last node so a
 * workflow of N statements parses in O(N), not O(N^2). Only the accumulating head's `tail` is
 * trusted: an item (possibly a chain) is walked, since nodes get re-linked elsewhere. */
static AstNode *chain_end(AstNode *n)
{
    while (n->next) n = n->next;
    return n;
}

static AstNode *append(AstNode *list, AstNode *item)
{
    if (!item) return list;
    if (!list) {
        item->tail = chain_end(item);
        return item;
    }
    AstNode *end = list->tail ? list->tail : chain_end(list);
    end->next = item;
    list->tail = chain_end(item);
    return list;
}

static AstNode *mk_str(ParseState *ps, Str s, SrcLoc loc)
{
    AstNode *n = NEW(AST_STR, loc);
    n->u.str.s = s.s;
    n->u.str.len = s.len;
    return n;
}

/* The parameter of `x => ...` or `(x) => ...`: the expression before `=>` must be a bare name. */
static const char *lambda_param(ParseState *ps, const AstNode *e)
{
    if (e->kind == AST_NAME) return e->u.name.id;
    diag_error(ps->diag, e->loc, "a lambda's parameter must be a name");
    diag_note(ps->diag, e->loc, "write `x => ...`, `(x) => ...` or, with the index, `(x, i) => ...`");
    return "_";
}

static AstNode *mk_prop(ParseState *ps, const char *key, AstNode *value, SrcLoc loc)
{
    AstNode *n = NEW(AST_PROP, loc);
    n->u.prop.key = key;
    n->u.prop.value = value;
    return n;
}

static AstNode *mk_binary(ParseState *ps, AstOp op, AstNode *a, AstNode *b, SrcLoc loc)
{
    AstNode *n = NEW(AST_BINARY, loc);
    n->u.op.op = op;
    n->u.op.a = a;
    n->u.op.b = b;
    return n;
}

static AstNode *mk_unary(ParseState *ps, AstOp op, AstNode *a, SrcLoc loc)
{
    AstNode *n = NEW(AST_UNARY, loc);
    n->u.op.op = op;
    n->u.op.a = a;
    return n;
}

/* Add a literal piece to a template (a new one when `tpl` is NULL); empty pieces are left out. */
static AstNode *tpl_piece(ParseState *ps, AstNode *tpl, Str s, SrcLoc loc)
{
    if (!tpl) tpl = NEW(AST_TEMPLATE, loc);
    if (s.len) tpl->u.tmpl.parts = append(tpl->u.tmpl.parts, mk_str(ps, s, loc));
    return tpl;
}

static AstLogLevel log_level(ParseState *ps, const char *id, SrcLoc loc)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(id, names[i]) == 0) return (AstLogLevel)i;
    diag_error(ps->diag, loc, "unknown log level '%s'", id);
    diag_note(ps->diag, loc, "the levels are debug, info, warn and error");
    return LOG_INFO;
}

/* `jitter full|half|none` arrives as a name. */
static AstJitter jitter_of(ParseState *ps, AstNode *v)
{
    static const char *const names[] = {"full", "half", "none"};
    if (v->kind == AST_NAME)
        for (int i = 0; i < 3; i++)
            if (strcmp(v->u.name.id, names[i]) == 0) return (AstJitter)i;
    diag_error(ps->diag, v->loc, "jitter must be full, half or none");
    return JITTER_FULL;
}

/* Put each option of a construct into its field. The grammar only lets through the option
 * words the construct has; this reports one given twice and decodes the word-valued ones. */
static void opts_apply(ParseState *ps, AstNode *n, AstNode *opts)
{
    for (AstNode *o = opts; o; o = o->next) {
        const char *k = o->u.prop.key;
        AstNode *v = o->u.prop.value;
        for (AstNode *p = opts; p != o; p = p->next)
            if (strcmp(p->u.prop.key, k) == 0 ||
                (strncmp(p->u.prop.key, "tolerate", 8) == 0 && strncmp(k, "tolerate", 8) == 0)) {
                diag_error(ps->diag, o->loc, "option '%s' given twice",
                           strncmp(k, "tolerate", 8) == 0 ? "tolerate" : k);
                diag_note(ps->diag, p->loc, "first given here");
                break;
            }
        AstNode **slot = NULL;
        switch (n->kind) {
        case AST_STEP:
            if (strcmp(k, "retry") == 0) slot = &n->u.step.retry;
            else if (strcmp(k, "timeout") == 0) slot = &n->u.step.timeout;
            else if (strcmp(k, "semantics") == 0) {
                if (strcmp(v->u.name.id, "at_most_once") == 0) n->u.step.semantics = SEM_AT_MOST_ONCE;
                else if (strcmp(v->u.name.id, "at_least_once") == 0) n->u.step.semantics = SEM_AT_LEAST_ONCE;
                else {
                    diag_error(ps->diag, v->loc, "unknown semantics '%s'", v->u.name.id);
                    diag_note(ps->diag, v->loc, "a step runs at_least_once (the default) or at_most_once");
                }
            }
            break;
        case AST_RETRY:
            if (strcmp(k, "attempts") == 0) slot = &n->u.retry.attempts;
            else if (strcmp(k, "delay") == 0) slot = &n->u.retry.delay;
            else if (strcmp(k, "backoff") == 0) slot = &n->u.retry.backoff;
            else if (strcmp(k, "max") == 0) slot = &n->u.retry.max;
            else if (strcmp(k, "on") == 0) n->u.retry.on = v->u.list.items;
            else if (strcmp(k, "jitter") == 0) {
                n->u.retry.jitter = jitter_of(ps, v);
                n->u.retry.jitter_set = 1;
            }
            break;
        case AST_CALLBACK:
            if (strcmp(k, "timeout") == 0) slot = &n->u.callback.timeout;
            else if (strcmp(k, "heartbeat") == 0) slot = &n->u.callback.heartbeat;
            break;
        case AST_WAIT_CALLBACK:
            if (strcmp(k, "timeout") == 0) slot = &n->u.wfc.timeout;
            else if (strcmp(k, "heartbeat") == 0) slot = &n->u.wfc.heartbeat;
            else if (strcmp(k, "retry") == 0) slot = &n->u.wfc.retry;
            else if (strcmp(k, "submitter timeout") == 0) slot = &n->u.wfc.submitter_timeout;
            break;
        case AST_POLL:
            if (strcmp(k, "every") == 0) slot = &n->u.poll.every;
            else if (strcmp(k, "backoff") == 0) slot = &n->u.poll.backoff;
            else if (strcmp(k, "max") == 0) slot = &n->u.poll.max;
            else if (strcmp(k, "attempts") == 0) slot = &n->u.poll.attempts;
            else if (strcmp(k, "state") == 0) slot = &n->u.poll.state;
            else if (strcmp(k, "until") == 0) slot = &n->u.poll.until;
            else if (strcmp(k, "timeout") == 0) slot = &n->u.poll.timeout;
            else if (strcmp(k, "jitter") == 0) n->u.poll.jitter = jitter_of(ps, v);
            break;
        case AST_PARALLEL: case AST_MAP:
            if (strcmp(k, "max") == 0) slot = &n->u.batch.max_concurrency;
            else if (strcmp(k, "min_successful") == 0) slot = &n->u.batch.min_successful;
            else if (strcmp(k, "tolerate") == 0) { slot = &n->u.batch.tolerate; n->u.batch.tolerate_percent = 0; }
            else if (strcmp(k, "tolerate%") == 0) { slot = &n->u.batch.tolerate; n->u.batch.tolerate_percent = 1; }
            else if (strcmp(k, "name") == 0) slot = &n->u.batch.item_name;
            break;
        case AST_HTTP:
            if (strcmp(k, "headers") == 0) slot = &n->u.http.headers;
            else if (strcmp(k, "body") == 0) slot = &n->u.http.body;
            else if (strcmp(k, "timeout") == 0) slot = &n->u.http.timeout;
            break;
        default:
            break;
        }
        if (slot) *slot = v;
    }
}

/* How a token is named in a message: keywords and operators quoted, classes ("identifier",
 * "number") bare. */
static void symbol_text(yysymbol_kind_t k, char *buf, size_t n)
{
    const char *name = yysymbol_name(k);
    switch (k) {
    case YYSYMBOL_YYEOF: case YYSYMBOL_YYerror: case YYSYMBOL_YYUNDEF: case YYSYMBOL_IDENT:
    case YYSYMBOL_NUMBER: case YYSYMBOL_DURATION: case YYSYMBOL_PERCENT: case YYSYMBOL_STRING:
    case YYSYMBOL_TPL_HEAD:
        snprintf(buf, n, "%s", name);
        return;
    case YYSYMBOL_TPL_MID: case YYSYMBOL_TPL_TAIL: /* both start with the '}' closing a ${ */
        snprintf(buf, n, "'}'");
        return;
    default:
        if (name[0] == '\'') snprintf(buf, n, "%s", name);
        else snprintf(buf, n, "'%s'", name);
        return;
    }
}

/* The source text of a token (first line of it, at most 24 bytes) for "unexpected 'foo'". */
static void token_text(ParseState *ps, SrcLoc loc, char *buf, size_t n)
{
    const char *p = ps->text, *end = ps->text + ps->len;
    for (int l = 1; l < loc.first_line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    size_t col = loc.first_column > 1 ? (size_t)(loc.first_column - 1) : 0;
    p = col < (size_t)(end - p) ? p + col : end;
    size_t len = 0;
    size_t want = loc.last_line == loc.first_line && loc.last_column > loc.first_column
                      ? (size_t)(loc.last_column - loc.first_column) : (size_t)(end - p);
    while (len < want && p + len < end && p[len] != '\n' && p[len] != '\0') len++;
    int cut = len > 24;
    if (cut) len = 24;
    snprintf(buf, n, "%.*s%s", (int)len, p, cut ? "..." : "");
}

/* ---- syntax errors ---------------------------------------------------------------------- */

/* Braces and indentation, for blaming an unclosed '{' (see ParseState.brace). `first` says the
 * token is the first on its line; `indent` is then its column - 1. */
static void track_braces(ParseState *ps, int tok, SrcLoc loc, int first, int *line_indent)
{
    if (first) {
        *line_indent = loc.first_column - 1;
        for (int i = 0; i < ps->nbrace; i++)
            if (ps->brace[i].dedent.first_line == 0 && *line_indent <= ps->brace[i].indent)
                ps->brace[i].dedent = loc;
    }
    if (tok == '{' && ps->nbrace < PARSE_MAX_NESTING) {
        ps->brace[ps->nbrace].loc = loc;
        ps->brace[ps->nbrace].indent = *line_indent;
        ps->brace[ps->nbrace].dedent = (SrcLoc){0, 0, 0, 0};
        ps->nbrace++;
    } else if (tok == '}' && ps->nbrace > 0) {
        ps->nbrace--;
        if (first && *line_indent < ps->brace[ps->nbrace].indent && !ps->suspect) {
            ps->suspect = 1;
            ps->suspect_open = ps->brace[ps->nbrace].loc;
            ps->suspect_indent = ps->brace[ps->nbrace].indent;
            ps->suspect_dedent = ps->brace[ps->nbrace].dedent;
            ps->suspect_close = loc;
        }
    }
}

int yylex(YYSTYPE *yylval_param, YYLTYPE *yylloc_param, yyscan_t yyscanner, ParseState *ps)
{
    int tok = dwf_scan(yylval_param, yylloc_param, yyscanner, ps);
    int first = ps->tok[0].loc.last_line < yylloc_param->first_line || ps->tok[0].kind == 0;
    ps->tok[2] = ps->tok[1];
    ps->tok[1] = ps->tok[0];
    ps->tok[0].kind = tok;
    ps->tok[0].loc = *yylloc_param;
    ps->tok[0].ident = tok == TOK_IDENT ? yylval_param->TOK_IDENT : NULL;
    track_braces(ps, tok, *yylloc_param, first, &ps->line_indent);
    return tok;
}

typedef struct Expected {
    yysymbol_kind_t k[96];
    int n;
} Expected;

static int expects(const Expected *e, yysymbol_kind_t k)
{
    for (int i = 0; i < e->n; i++)
        if (e->k[i] == k) return 1;
    return 0;
}

/* Is the token a keyword (a word, not an operator or a class such as "identifier")? */
static int is_word(yysymbol_kind_t k)
{
    const char *nm = yysymbol_name(k);
    return nm[0] >= 'a' && nm[0] <= 'z' && !strchr(nm, ' ') && k != YYSYMBOL_IDENT && k != YYSYMBOL_NUMBER &&
           k != YYSYMBOL_DURATION && k != YYSYMBOL_PERCENT && k != YYSYMBOL_STRING;
}

/* Where a token of the source ends: an empty range there, for an insertion fix-it. */
static SrcLoc after(SrcLoc l)
{
    SrcLoc r = {l.last_line, l.last_column, l.last_line, l.last_column};
    return r;
}

static SrcLoc before(SrcLoc l)
{
    SrcLoc r = {l.first_line, l.first_column, l.first_line, l.first_column};
    return r;
}

/* The text at (line, column): a pointer into the source and the bytes left on that line. */
static const char *text_at(ParseState *ps, int line, int column, size_t *left)
{
    const char *p = ps->text, *end = ps->text + ps->len;
    for (int l = 1; l < line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    for (int c = 1; c < column && p < end && *p != '\n'; c++) p++;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    *left = (size_t)((nl ? nl : end) - p);
    return p;
}

/* What a user of another workflow tool would write for an option, and dwf's word for it
 * (compared ignoring case and underscores): Step Functions' Retry fields, the durable SDKs'
 * retry strategy, their batch config. */
static const char *option_alias(const char *word, const Expected *e)
{
    static const struct { const char *alias, *option; } aliases[] = {
        {"maxdelay", "max"}, {"maxdelayseconds", "max"}, {"maxinterval", "max"},
        {"maxattempts", "attempts"}, {"retries", "attempts"}, {"maxretries", "attempts"},
        {"intervalseconds", "delay"}, {"initialdelay", "delay"}, {"interval", "delay"},
        {"backoffrate", "backoff"}, {"multiplier", "backoff"}, {"jitterstrategy", "jitter"},
        {"errorequals", "on"}, {"retryon", "on"}, {"maxconcurrency", "max"},
        {"minsuccessful", "min_successful"}, {"toleratedfailurecount", "tolerate"},
        {"toleratedfailurepercentage", "tolerate"}, {"heartbeattimeout", "heartbeat"},
        {"timeoutseconds", "timeout"}, {"interval", "every"}, {"pollinterval", "every"},
    };
    char norm[64];
    size_t n = 0;
    for (const char *p = word; *p && n + 1 < sizeof norm; p++)
        if (*p != '_') norm[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    norm[n] = '\0';
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strcmp(norm, aliases[i].alias) != 0) continue;
        for (int j = 0; j < e->n; j++)
            if (strcmp(yysymbol_name(e->k[j]), aliases[i].option) == 0) return aliases[i].option;
    }
    return NULL;
}

/* An identifier where only option words (or other keywords) may come: the nearest of them. */
static const char *nearest_word(const char *word, const Expected *e)
{
    const char *pick = option_alias(word, e);
    if (pick) return pick;
    const char *cands[96] = {0}; /* initialised: gcc -fsanitize cannot see that n bounds the reads */
    size_t n = 0;
    for (int i = 0; i < e->n && n < sizeof cands / sizeof cands[0]; i++)
        if (is_word(e->k[i])) cands[n++] = yysymbol_name(e->k[i]);
    pick = sema_suggest(word, cands, n);
    if (pick) return pick;
    /* "maxDelay", "timeoutSeconds": a longer name that starts with the word */
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(cands[i]);
        if (l >= 3 && strncmp(word, cands[i], l) == 0 && word[l] >= 'A' && word[l] <= 'Z') return cands[i];
    }
    return NULL;
}

/* "setp x {", "elif c {": a statement began with an identifier that was meant as a keyword,
 * and the error came one token later. Blame the word itself. */
static int hint_keyword(ParseState *ps, const Expected *e)
{
    if (ps->tok[1].kind != TOK_IDENT || !ps->tok[1].ident) return 0;
    /* after a statement's first identifier only '=' (assignment) or '(' (call) may come */
    int eq = 0, paren = 0;
    for (int i = 0; i < e->n; i++) {
        const char *nm = yysymbol_name(e->k[i]);
        if (strcmp(nm, "'='") == 0) eq = 1;
        if (strcmp(nm, "'('") == 0) paren = 1;
    }
    if (!eq || !paren) return 0;
    const char *word = ps->tok[1].ident;
    SrcLoc at = ps->tok[1].loc;
    if (strcmp(word, "elif") == 0 || strcmp(word, "elsif") == 0 || strcmp(word, "elseif") == 0) {
        diag_error(ps->diag, at, "'%s' is not a keyword: write 'else if'", word);
        diag_fixit(ps->diag, at, "else if");
        return 1;
    }
    const char *words[128];
    size_t n = 0;
    for (const char *w; n < 128 && (w = dwf_keyword_name(n)); n++) words[n] = w;
    const char *pick = sema_suggest(word, words, n);
    if (!pick) return 0;
    diag_error(ps->diag, at, "unknown keyword '%s'", word);
    diag_fixit(ps->diag, at, pick);
    diag_note(ps->diag, at, "did you mean '%s'?", pick);
    return 1;
}

/* "return }": a return needs its value. */
static int hint_return(ParseState *ps, int want_expr)
{
    /* only when nothing follows on its line ("return ]" is a bad value, not a missing one) */
    if (ps->tok[1].kind != TOK_RETURN || !want_expr) return 0;
    if (ps->tok[0].kind != '}' && ps->tok[0].kind != TOK_YYEOF &&
        ps->tok[0].loc.first_line == ps->tok[1].loc.last_line)
        return 0;
    diag_error(ps->diag, ps->tok[1].loc, "'return' needs a value");
    diag_fixit(ps->diag, after(ps->tok[1].loc), " null");
    diag_note(ps->diag, ps->tok[1].loc, "write 'return null' to finish without a result");
    return 1;
}

/* "invoke "fn" { ... }": the payload follows 'with'. */
static int hint_invoke(ParseState *ps, const Expected *e, yysymbol_kind_t look, const char *what)
{
    if (!expects(e, YYSYMBOL_WITH)) return 0;
    SrcLoc at = ps->tok[0].loc;
    diag_error(ps->diag, at, "unexpected %s, expected 'with' and the payload of the invoke", what);
    if (look == YYSYMBOL_YYEOF) return 1;
    if (look == YYSYMBOL_IDENT || look == YYSYMBOL_NUMBER || look == YYSYMBOL_STRING ||
        strcmp(yysymbol_name(look), "'{'") == 0 || strcmp(yysymbol_name(look), "'['") == 0)
        diag_fixit(ps->diag, before(at), "with ");
    diag_note(ps->diag, at, "an invoke is written invoke \"function\" with {payload} (with {} to send none)");
    return 1;
}

/* "catch err: CardDeclined {": the old form; the types now come first, as strings. */
static int hint_catch(ParseState *ps, yysymbol_kind_t look)
{
    if (strcmp(yysymbol_name(look), "':'") != 0 || ps->tok[2].kind != TOK_CATCH) return 0;
    SrcLoc name = ps->tok[1].loc;
    if (name.first_line != ps->tok[0].loc.first_line) return 0;
    size_t left;
    const char *p = text_at(ps, ps->tok[0].loc.last_line, ps->tok[0].loc.last_column, &left);
    size_t sp = 0, w;
    while (sp < left && (p[sp] == ' ' || p[sp] == '\t')) sp++;
    for (w = sp; w < left && (isalnum((unsigned char)p[w]) || p[w] == '_' || p[w] == '.'); w++) {}
    diag_error(ps->diag, ps->tok[0].loc, "unexpected ':': error types come before the error's name");
    if (w > sp) {
        size_t nl;
        const char *nm = text_at(ps, name.first_line, name.first_column, &nl);
        SrcLoc whole = {name.first_line, name.first_column, name.first_line,
                        ps->tok[0].loc.last_column + (int)w};
        char *fix = arena_printf(ps->arena, "\"%.*s\" %.*s", (int)(w - sp), p + sp,
                                 (int)(name.last_column - name.first_column), nm);
        diag_fixit(ps->diag, whole, fix);
        diag_note(ps->diag, name, "write catch %s { } (several types: catch \"A\", \"B\" err { })", fix);
    } else {
        diag_note(ps->diag, name, "write catch \"ErrorType\" err { } (several types: catch \"A\", \"B\" err { })");
    }
    return 1;
}

/* "wait -5s": where only a duration may come (an option taking any expression gets a minus
 * through and sema reports it). */
static int hint_negative(ParseState *ps, const Expected *e, yysymbol_kind_t look)
{
    if (strcmp(yysymbol_name(look), "'-'") != 0 || !expects(e, YYSYMBOL_DURATION)) return 0;
    diag_error(ps->diag, ps->tok[0].loc, "a duration cannot be negative");
    diag_fixit(ps->diag, ps->tok[0].loc, "");
    return 1;
}

/* "retry { maxDelay 30s }", "step s "s" retyr {": an identifier where option words go. */
static void hint_option(ParseState *ps, const Expected *e, yysymbol_kind_t look)
{
    if (look != YYSYMBOL_IDENT || !ps->tok[0].ident) return;
    const char *pick = nearest_word(ps->tok[0].ident, e);
    if (!pick) return;
    diag_fixit(ps->diag, ps->tok[0].loc, pick);
    diag_note(ps->diag, ps->tok[0].loc, "did you mean '%s'?", pick);
}

/* The end of the file inside a '{' whose '}' went missing: when a '}' earlier in the file is
 * indented less than the line its '{' is on, that '{' is the one left open (the '}' meant for
 * an outer block closed it), as rustc and Python judge. */
static int hint_unclosed(ParseState *ps, yysymbol_kind_t look, char closer)
{
    if (look != YYSYMBOL_YYEOF || closer != '}' || !ps->suspect) return 0;
    diag_error(ps->diag, ps->suspect_open, "this '{' is never closed");
    SrcLoc end = ps->suspect_dedent.first_line ? ps->suspect_dedent : ps->suspect_close;
    char *fix = arena_printf(ps->arena, "%*s}\n", ps->suspect_indent, "");
    diag_fixit(ps->diag, (SrcLoc){end.first_line, 1, end.first_line, 1}, fix);
    if (ps->suspect_dedent.first_line && ps->suspect_dedent.first_line != ps->suspect_close.first_line)
        diag_note(ps->diag, ps->suspect_dedent,
                  "its block ends here by its indentation: a '}' is probably missing before this line");
    diag_note(ps->diag, ps->suspect_close,
              "this '}' at line %d closes it, but it is indented like an outer block", ps->suspect_close.first_line);
    return 1;
}

static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner, ParseState *ps)
{
    (void)scanner;
    if (ps->abort || diag_full(ps->diag)) return 0;
    SrcLoc loc = *yypcontext_location(ctx);
    yysymbol_kind_t look = yypcontext_token(ctx);
    Expected ex;
    ex.n = yypcontext_expected_tokens(ctx, ex.k, 96);
    if (ex.n < 0) ex.n = 0;
    int nexp = ex.n;
    const yysymbol_kind_t *exp = ex.k;

    char what[64];
    if (look == YYSYMBOL_YYEOF) snprintf(what, sizeof what, "end of file");
    else {
        char t[40];
        token_text(ps, loc, t, sizeof t);
        snprintf(what, sizeof what, "'%s'", t);
    }

    /* The innermost unclosed bracket (not counting the lookahead itself if it opens one). */
    int top = ps->nopen - 1;
    if (top >= 0 && (look == YYSYMBOL_YYEOF ? 0 : 1) && ps->open[top].loc.first_line == loc.first_line &&
        ps->open[top].loc.first_column == loc.first_column)
        top--;
    char closer = 0;
    SrcLoc open_loc = loc;
    if (top >= 0) {
        char o = ps->open[top].ch;
        char c = o == '{' ? '}' : o == '(' ? ')' : ']';
        for (int i = 0; i < nexp; i++) {
            const char *nm = yysymbol_name(exp[i]);
            if (nm[0] == '\'' && nm[1] == c && nm[2] == '\'') {
                closer = c;
                open_loc = ps->open[top].loc;
            }
        }
    }

    /* The expected tokens, summed up by kind so the list stays short: everything that can
     * start an expression is "an expression", binary operators are "an operator", and
     * everything that can start a statement is "a new statement". */
    int has_ident = 0, has_num = 0, has_str = 0, has_stmt = 0;
    for (int i = 0; i < nexp; i++) {
        if (exp[i] == YYSYMBOL_IDENT) has_ident = 1;
        if (exp[i] == YYSYMBOL_NUMBER) has_num = 1;
        if (exp[i] == YYSYMBOL_STRING) has_str = 1;
        if (exp[i] == YYSYMBOL_LET) has_stmt = 1;
    }
    int want_expr = has_ident && has_num && has_str && !has_stmt;

    /* Targeted hints first: each names the mistake and its fix. */
    if (hint_unclosed(ps, look, closer) || hint_return(ps, want_expr) || hint_catch(ps, look) ||
        hint_negative(ps, &ex, look) || hint_invoke(ps, &ex, look, what) || hint_keyword(ps, &ex)) {
        if (diag_full(ps->diag)) ps->abort = 1;
        return 0;
    }

    enum { MAXITEMS = 9 };
    char items[MAXITEMS][48];
    int nitems = 0, has_op = 0, too_many = 0;
    if (want_expr) snprintf(items[nitems++], sizeof items[0], "an expression");
    for (int i = 0; i < nexp && !want_expr; i++) {
        const char *nm = yysymbol_name(exp[i]);
        int is_op = strchr("+-*/%<>?.[", nm[0] == '\'' ? nm[1] : 0) != NULL && nm[0] == '\'' && nm[2] == '\'';
        if (exp[i] == YYSYMBOL_EQ || exp[i] == YYSYMBOL_NE || exp[i] == YYSYMBOL_LE ||
            exp[i] == YYSYMBOL_GE || exp[i] == YYSYMBOL_AND || exp[i] == YYSYMBOL_OR ||
            exp[i] == YYSYMBOL_COALESCE)
            is_op = 1;
        if (is_op) {
            if (!has_op) {
                has_op = 1;
                if (nitems < MAXITEMS) snprintf(items[nitems++], sizeof items[0], "an operator");
            }
            continue;
        }
        if (has_stmt && exp[i] != YYSYMBOL_YYEOF && nm[0] != '\'') continue; /* a statement start */
        char t[48];
        symbol_text(exp[i], t, sizeof t);
        int dup = 0;
        for (int j = 0; j < nitems; j++) dup |= strcmp(items[j], t) == 0;
        if (dup) continue;
        if (nitems < MAXITEMS) snprintf(items[nitems++], sizeof items[0], "%s", t);
        else too_many = 1;
    }
    if (has_stmt && nitems < MAXITEMS) snprintf(items[nitems++], sizeof items[0], "a new statement");
    if (nitems > 8) too_many = 1;

    /* Name the opener when the file ended inside it, or when the closer is in a short list;
     * in a long list it would be a guess (Lua names it always, and often misleads). */
    if (closer && look != YYSYMBOL_YYEOF && too_many) closer = 0;
    char list[480] = "";
    size_t used = 0;
    if (!too_many || closer) {
        char cl[8] = "";
        if (closer) snprintf(cl, sizeof cl, "'%c'", closer);
        int n = 0;
        const char *pick[MAXITEMS + 1];
        for (int i = 0; i < nitems && !too_many; i++)
            if (!closer || strcmp(items[i], cl) != 0) pick[n++] = items[i];
        if (closer) pick[n++] = cl; /* the closer goes last, next to its "(to close ...)" */
        for (int i = 0; i < n; i++) {
            const char *sep = i == 0 ? "" : i == n - 1 ? " or " : ", ";
            int w = snprintf(list + used, sizeof list - used, "%s%s", sep, pick[i]);
            if (w > 0) used += (size_t)w;
            if (used >= sizeof list) used = sizeof list - 1;
        }
    }
    if (closer) {
        char o = closer == '}' ? '{' : closer == ')' ? '(' : '[';
        diag_error(ps->diag, loc, "unexpected %s, expected %s (to close '%c' at line %d)", what, list, o,
                   open_loc.first_line);
    } else if (used) {
        diag_error(ps->diag, loc, "unexpected %s, expected %s", what, list);
    } else {
        diag_error(ps->diag, loc, "unexpected %s", what);
    }
    hint_option(ps, &ex, look);
    if (diag_full(ps->diag)) ps->abort = 1;
    return 0;
}

static void yyerror(YYLTYPE *loc, yyscan_t scanner, ParseState *ps, const char *msg)
{
    (void)scanner;
    if (ps->abort) return;
    /* only "memory exhausted" gets here (parse.error custom reports syntax errors) */
    diag_error(ps->diag, *loc, "%s (the file nests too deeply)", msg);
    ps->abort = 1;
}
