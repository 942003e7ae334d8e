/*
 * testfile.h: a parsed `*.test.dwf` file (docs/testing.md): its tests, each with the workflow
 * it runs, its mocks, what its callbacks do and what it expects. testfile_parse() reads one
 * (lexer.l + parser.y, prefix dwt); runner.h runs a test on the embedded engine.
 */
#ifndef DWF_TESTFILE_H
#define DWF_TESTFILE_H

#include <cjson/cJSON.h>
#include <stdio.h>

/* What a mock stands in for (dwf_host.h's dwf_mock_kind: STEP, HTTP, INVOKE, AWS). */
typedef struct TMock {
    int kind;          /* enum dwf_mock_kind */
    char *method;      /* http: GET, POST, ... or "*" */
    char *pattern;     /* step name, url or function name: a shell pattern (fnmatch) */
    int fails;         /* 0 returns `value`, 1 fails with error_type / error_message */
    cJSON *value;
    char *error_type, *error_message;
    int times;         /* how many calls it answers; 0 = every call */
    int used;          /* calls answered so far (while a test runs) */
    int line;
} TMock;

enum { TCB_SUCCEEDS, TCB_FAILS, TCB_TIMES_OUT, TCB_HEARTBEATS };
typedef struct TCallback {
    char *name;        /* the callback's name (or its waitForCallback's) */
    int action;        /* TCB_* */
    cJSON *value;      /* succeeds with (NULL = no result) */
    char *error_type, *error_message;
    double after_ms;   /* after the callback started (virtual time); heartbeats: the interval */
    int times;         /* heartbeats: how many */
    int line;
} TCallback;

enum { TEX_STATUS, TEX_RESULT, TEX_ERROR, TEX_OP_ATTEMPTS, TEX_OP_STATUS, TEX_OP_RESULT, TEX_ELAPSED };
enum { TCMP_EQ, TCMP_NE, TCMP_LE, TCMP_LT, TCMP_GE, TCMP_GT };
typedef struct TExpect {
    int what;          /* TEX_* */
    char *op_type;     /* TEX_OP_*: "step", "wait", "callback", "invoke", "context" */
    char *op_name;
    cJSON *path;       /* TEX_RESULT / TEX_OP_RESULT: keys and indexes after `result` ([] = the whole) */
    int cmp;           /* TCMP_* */
    cJSON *value;      /* compared value */
    char *status;      /* TEX_STATUS / TEX_OP_STATUS */
    char *error_type, *error_message; /* TEX_ERROR (message NULL = any) */
    double number;     /* attempts, elapsed ms */
    int line;
} TExpect;

typedef struct TCase {
    char *name;
    int line;
    char *workflow;    /* `run NAME`: a workflow name */
    int run_line;
    cJSON *input;      /* `with VALUE`, NULL = {} */
    TMock *mocks;
    int nmocks;
    TCallback *callbacks;
    int ncallbacks;
    TExpect *expects;
    int nexpects;
} TCase;

typedef struct TFile {
    char *path;
    TCase *cases;
    int ncases;
} TFile;

/* Parse a test file. Returns NULL after printing "path:line:col: error: ..." to err. */
TFile *testfile_parse(const char *path, FILE *err);
void testfile_free(TFile *f);

/* What the parser builds with (parser.y): the file being filled, and diagnostics. */
typedef struct TParse {
    TFile *file;
    const char *path;
    FILE *err;
    int errors;
    TCase *cur;
} TParse;

#endif
