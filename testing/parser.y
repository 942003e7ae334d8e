/*
 * parser.y: the grammar of `*.test.dwf` files (docs/testing.md). A pure bison parser with
 * prefix dwt (it shares the program with the .dwf parser). Each statement of a test appends
 * to the test being read (TParse.cur); values are JSON with bare-word keys, built as cJSON.
 * Semantic errors (two `run`s, a `mock aws` no action matches, a negative count) are reported with the line and
 * column of the statement and parsing goes on, so one run shows every mistake.
 */
%define api.pure full
%define api.prefix {dwt}
%define parse.error verbose
%locations
%param {void *scanner}
%parse-param {TParse *tp}

%code requires {
#include <cjson/cJSON.h>
#include "testfile.h"
}

%code {
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dwf_host.h>

int dwtlex(DWTSTYPE *lval, DWTLTYPE *lloc, void *scanner);
void dwt_error_at(TParse *tp, int line, int col, const char *fmt, ...);
static void dwterror(DWTLTYPE *loc, void *scanner, TParse *tp, const char *msg);
static void new_case(TParse *tp, char *name, int line);
static void *push(void *arr, int *n, size_t size);
static TMock *add_mock(TParse *tp, int kind, char *method, char *pattern, TMock *answer, int times, int line);
static TExpect *add_expect(TParse *tp, int what, int line);
static TCallback *add_callback(TParse *tp, char *name, int action, int line);
static int count(TParse *tp, double n, const DWTLTYPE *loc);
static void check_aws_pattern(TParse *tp, const char *pattern, const DWTLTYPE *loc);
}

%union {
    char *str;
    double num;
    cJSON *json;
    int i;
    TMock mock;
}

%token <str> TSTRING TIDENT
%token <num> TNUMBER TDURATION
%token TTEST TRUN TWITH TMOCK TSTEP THTTP TINVOKE TAWS TRETURNS TFAILS TTIMES TCALLBACK TSUCCEEDS
%token TOUT TAFTER THEARTBEATS TEVERY TEXPECT TSTATUS TRESULT TERROR TATTEMPTS TELAPSED TWAIT
%token TCONTEXT TTRUE TFALSE TNULL TEQ TNE TLE TGE TLT TGT TBAD

%type <str> word keyword opt_string method optype
%type <json> value members elements opt_with path
%type <num> opt_after
%type <i> opt_times cmp
%type <mock> answer

%destructor { free($$); } <str>
%destructor { cJSON_Delete($$); } <json>
%destructor { cJSON_Delete($$.value); free($$.error_type); free($$.error_message); } <mock>

%%

file: %empty
    | file test
    ;

test: TTEST TSTRING { new_case(tp, $2, @1.first_line); } '{' statements '}'
    ;

statements: %empty
    | statements statement
    ;

statement:
      TRUN word opt_with {
          if (tp->cur->workflow) dwt_error_at(tp, @1.first_line, @1.first_column, "a test runs one workflow");
          free(tp->cur->workflow);
          cJSON_Delete(tp->cur->input);
          tp->cur->workflow = $2;
          tp->cur->input = $3;
          tp->cur->run_line = @1.first_line;
      }
    | TMOCK TSTEP TSTRING answer opt_times { add_mock(tp, DWF_MOCK_STEP, NULL, $3, &$4, $5, @1.first_line); }
    | TMOCK THTTP method TSTRING answer opt_times { add_mock(tp, DWF_MOCK_HTTP, $3, $4, &$5, $6, @1.first_line); }
    | TMOCK TINVOKE TSTRING answer opt_times { add_mock(tp, DWF_MOCK_INVOKE, NULL, $3, &$4, $5, @1.first_line); }
    | TMOCK TAWS TSTRING answer opt_times {
          check_aws_pattern(tp, $3, &@3);
          add_mock(tp, DWF_MOCK_AWS, NULL, $3, &$4, $5, @1.first_line);
      }
    | TCALLBACK TSTRING TSUCCEEDS opt_with opt_after {
          TCallback *c = add_callback(tp, $2, TCB_SUCCEEDS, @1.first_line);
          if (c) { c->value = $4; c->after_ms = $5; } else cJSON_Delete($4);
      }
    | TCALLBACK TSTRING TFAILS TSTRING opt_string opt_after {
          TCallback *c = add_callback(tp, $2, TCB_FAILS, @1.first_line);
          if (c) { c->error_type = $4; c->error_message = $5; c->after_ms = $6; } else { free($4); free($5); }
      }
    | TCALLBACK TSTRING TTIMES TOUT { add_callback(tp, $2, TCB_TIMES_OUT, @1.first_line); }
    | TCALLBACK TSTRING THEARTBEATS TEVERY TDURATION opt_times {
          TCallback *c = add_callback(tp, $2, TCB_HEARTBEATS, @1.first_line);
          if (c) { c->after_ms = $5; c->times = $6; }
      }
    | TEXPECT TSTATUS word {
          TExpect *e = add_expect(tp, TEX_STATUS, @1.first_line);
          if (e) e->status = $3; else free($3);
      }
    | TEXPECT TRESULT path cmp value {
          TExpect *e = add_expect(tp, TEX_RESULT, @1.first_line);
          if (e) { e->path = $3; e->cmp = $4; e->value = $5; } else { cJSON_Delete($3); cJSON_Delete($5); }
      }
    | TEXPECT TERROR TSTRING opt_string {
          TExpect *e = add_expect(tp, TEX_ERROR, @1.first_line);
          if (e) { e->error_type = $3; e->error_message = $4; } else { free($3); free($4); }
      }
    | TEXPECT optype TSTRING TATTEMPTS TNUMBER {
          TExpect *e = add_expect(tp, TEX_OP_ATTEMPTS, @1.first_line);
          if (e) { e->op_type = $2; e->op_name = $3; e->number = count(tp, $5, &@5); } else { free($2); free($3); }
      }
    | TEXPECT optype TSTRING TSTATUS word {
          TExpect *e = add_expect(tp, TEX_OP_STATUS, @1.first_line);
          if (e) { e->op_type = $2; e->op_name = $3; e->status = $5; } else { free($2); free($3); free($5); }
      }
    | TEXPECT optype TSTRING TRESULT path cmp value {
          TExpect *e = add_expect(tp, TEX_OP_RESULT, @1.first_line);
          if (e) { e->op_type = $2; e->op_name = $3; e->path = $5; e->cmp = $6; e->value = $7; }
          else { free($2); free($3); cJSON_Delete($5); cJSON_Delete($7); }
      }
    | TEXPECT TELAPSED cmp TDURATION {
          TExpect *e = add_expect(tp, TEX_ELAPSED, @1.first_line);
          if (e) { e->cmp = $3; e->number = $4; }
      }
    | error
    ;

answer: TRETURNS value { memset(&$$, 0, sizeof $$); $$.value = $2; }
    | TFAILS TSTRING opt_string { memset(&$$, 0, sizeof $$); $$.fails = 1; $$.error_type = $2; $$.error_message = $3; }
    ;

opt_times: %empty { $$ = 0; }
    | TTIMES TNUMBER {
          $$ = count(tp, $2, &@2);
          if ($$ == 0) dwt_error_at(tp, @2.first_line, @2.first_column, "`times` takes 1 or more");
      }
    ;

opt_with: %empty { $$ = NULL; }
    | TWITH value { $$ = $2; }
    ;

opt_after: %empty { $$ = 0; }
    | TAFTER TDURATION { $$ = $2; }
    ;

opt_string: %empty { $$ = NULL; }
    | TSTRING { $$ = $1; }
    ;

method: word { $$ = $1; }
    | '*' { $$ = strdup("*"); }
    ;

optype: TSTEP { $$ = strdup("step"); }
    | TWAIT { $$ = strdup("wait"); }
    | TCALLBACK { $$ = strdup("callback"); }
    | TINVOKE { $$ = strdup("invoke"); }
    | TCONTEXT { $$ = strdup("context"); }
    ;

cmp: TEQ { $$ = TCMP_EQ; } | TNE { $$ = TCMP_NE; } | TLE { $$ = TCMP_LE; } | TLT { $$ = TCMP_LT; }
    | TGE { $$ = TCMP_GE; } | TGT { $$ = TCMP_GT; }
    ;

path: %empty { $$ = cJSON_CreateArray(); }
    | path '.' word { $$ = $1; cJSON_AddItemToArray($$, cJSON_CreateString($3)); free($3); }
    | path '[' TNUMBER ']' { $$ = $1; cJSON_AddItemToArray($$, cJSON_CreateNumber($3)); }
    | path '[' TSTRING ']' { $$ = $1; cJSON_AddItemToArray($$, cJSON_CreateString($3)); free($3); }
    ;

value: TSTRING { $$ = cJSON_CreateString($1); free($1); }
    | TNUMBER { $$ = cJSON_CreateNumber($1); }
    | TTRUE { $$ = cJSON_CreateTrue(); }
    | TFALSE { $$ = cJSON_CreateFalse(); }
    | TNULL { $$ = cJSON_CreateNull(); }
    | '{' members '}' { $$ = $2; }
    | '{' members ',' '}' { $$ = $2; }
    | '[' elements ']' { $$ = $2; }
    | '[' elements ',' ']' { $$ = $2; }
    | '{' '}' { $$ = cJSON_CreateObject(); }
    | '[' ']' { $$ = cJSON_CreateArray(); }
    ;

members: word ':' value { $$ = cJSON_CreateObject(); cJSON_AddItemToObject($$, $1, $3); free($1); }
    | TSTRING ':' value { $$ = cJSON_CreateObject(); cJSON_AddItemToObject($$, $1, $3); free($1); }
    | members ',' word ':' value {
          $$ = $1; cJSON_DeleteItemFromObjectCaseSensitive($$, $3); cJSON_AddItemToObject($$, $3, $5); free($3); }
    | members ',' TSTRING ':' value {
          $$ = $1; cJSON_DeleteItemFromObjectCaseSensitive($$, $3); cJSON_AddItemToObject($$, $3, $5); free($3); }
    ;

elements: value { $$ = cJSON_CreateArray(); cJSON_AddItemToArray($$, $1); }
    | elements ',' value { $$ = $1; cJSON_AddItemToArray($$, $3); }
    ;

word: TIDENT { $$ = $1; }
    | keyword { $$ = $1; }
    ;

keyword: TTEST { $$ = strdup("test"); } | TRUN { $$ = strdup("run"); } | TWITH { $$ = strdup("with"); }
    | TMOCK { $$ = strdup("mock"); } | TSTEP { $$ = strdup("step"); } | THTTP { $$ = strdup("http"); }
    | TINVOKE { $$ = strdup("invoke"); } | TAWS { $$ = strdup("aws"); } | TRETURNS { $$ = strdup("returns"); }
    | TFAILS { $$ = strdup("fails"); } | TTIMES { $$ = strdup("times"); } | TCALLBACK { $$ = strdup("callback"); }
    | TSUCCEEDS { $$ = strdup("succeeds"); } | TOUT { $$ = strdup("out"); } | TAFTER { $$ = strdup("after"); }
    | THEARTBEATS { $$ = strdup("heartbeats"); } | TEVERY { $$ = strdup("every"); }
    | TEXPECT { $$ = strdup("expect"); } | TSTATUS { $$ = strdup("status"); } | TRESULT { $$ = strdup("result"); }
    | TERROR { $$ = strdup("error"); } | TATTEMPTS { $$ = strdup("attempts"); }
    | TELAPSED { $$ = strdup("elapsed"); } | TWAIT { $$ = strdup("wait"); } | TCONTEXT { $$ = strdup("context"); }
    | TTRUE { $$ = strdup("true"); } | TFALSE { $$ = strdup("false"); } | TNULL { $$ = strdup("null"); }
    ;

%%

void dwt_error_at(TParse *tp, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(tp->err, "%s:%d:%d: error: ", tp->path, line, col);
    vfprintf(tp->err, fmt, ap);
    fputc('\n', tp->err);
    va_end(ap);
    tp->errors++;
}

static void dwterror(DWTLTYPE *loc, void *scanner, TParse *tp, const char *msg)
{
    (void)scanner;
    /* bison's token names (TSTRING, TEXPECT) read better as what one writes */
    char buf[512];
    size_t o = 0;
    for (const char *p = msg; *p && o + 12 < sizeof buf; p++) {
        if (p[0] == 'T' && p[1] >= 'A' && p[1] <= 'Z' && (p == msg || p[-1] == ' ')) {
            const char *e = p + 1;
            while (*e >= 'A' && *e <= 'Z') e++;
            int n = (int)(e - p - 1);
            if (!strncmp(p + 1, "STRING", 6) || !strncmp(p + 1, "NUMBER", 6) || !strncmp(p + 1, "DURATION", 8) ||
                !strncmp(p + 1, "IDENT", 5)) {
                o += (size_t)snprintf(buf + o, sizeof buf - o, "%s", !strncmp(p + 1, "IDENT", 5) ? "a name"
                                      : !strncmp(p + 1, "STRING", 6) ? "a string"
                                      : !strncmp(p + 1, "NUMBER", 6) ? "a number" : "a duration");
            } else {
                buf[o++] = '\'';
                for (int i = 0; i < n && o + 2 < sizeof buf; i++) buf[o++] = (char)(p[1 + i] - 'A' + 'a');
                buf[o++] = '\'';
            }
            p = e - 1;
        } else {
            buf[o++] = *p;
        }
    }
    buf[o] = '\0';
    dwt_error_at(tp, loc->first_line, loc->first_column, "%s", buf);
}

static void *push(void *arr, int *n, size_t size)
{
    char *a = realloc(arr, (size_t)(*n + 1) * size);
    if (!a) return NULL;
    memset(a + (size_t)*n * size, 0, size);
    (*n)++;
    return a;
}

static void new_case(TParse *tp, char *name, int line)
{
    TFile *f = tp->file;
    TCase *c = push(f->cases, &f->ncases, sizeof *c);
    if (!c) {
        free(name);
        return;
    }
    f->cases = c;
    tp->cur = &c[f->ncases - 1];
    tp->cur->name = name;
    tp->cur->line = line;
}

static TMock *add_mock(TParse *tp, int kind, char *method, char *pattern, TMock *answer, int times, int line)
{
    TCase *c = tp->cur;
    TMock *m = push(c->mocks, &c->nmocks, sizeof *m);
    if (!m) {
        free(method);
        free(pattern);
        return NULL;
    }
    c->mocks = m;
    m = &m[c->nmocks - 1];
    *m = *answer;
    m->kind = kind;
    m->method = method;
    m->pattern = pattern;
    m->times = times > 0 ? times : 0;
    m->line = line;
    return m;
}

static TExpect *add_expect(TParse *tp, int what, int line)
{
    TCase *c = tp->cur;
    TExpect *e = push(c->expects, &c->nexpects, sizeof *e);
    if (!e) return NULL;
    c->expects = e;
    e = &e[c->nexpects - 1];
    e->what = what;
    e->line = line;
    return e;
}

static TCallback *add_callback(TParse *tp, char *name, int action, int line)
{
    TCase *c = tp->cur;
    TCallback *cb = push(c->callbacks, &c->ncallbacks, sizeof *cb);
    if (!cb) {
        free(name);
        return NULL;
    }
    c->callbacks = cb;
    cb = &cb[c->ncallbacks - 1];
    cb->name = name;
    cb->action = action;
    cb->line = line;
    return cb;
}

static int count(TParse *tp, double n, const DWTLTYPE *loc)
{
    if (n < 0 || n != (double)(int)n || n > 1e6) {
        dwt_error_at(tp, loc->first_line, loc->first_column, "expected a whole number from 0 to 1000000");
        return 0;
    }
    return (int)n;
}

/* The "service.Action" of every row of include/dwf_aws.def: what `mock aws` patterns name. */
static const char *const aws_actions[] = {
#define DWF_AWS_ACTION(service, action, method, path, required, optional, output, iam, arn, retry) \
    #service "." #action,
#include "dwf_aws.def"
};

/* A `mock aws` pattern that matches no action the language can call would never answer, and the
 * call it was meant for would go to AWS: say so (a misspelt "dynamodb.PutItme" is the usual case). */
static void check_aws_pattern(TParse *tp, const char *pattern, const DWTLTYPE *loc)
{
    for (size_t i = 0; i < sizeof aws_actions / sizeof *aws_actions; i++)
        if (fnmatch(pattern, aws_actions[i], 0) == 0) return;
    dwt_error_at(tp, loc->first_line, loc->first_column,
                 "`mock aws \"%s\"` matches no aws call a workflow can make (\"service.Action\" as "
                 "include/dwf_aws.def names them, e.g. \"dynamodb.PutItem\", \"s3.*\")", pattern);
}
