/*
 * runner.h: one test of a `*.test.dwf` file run on the embedded engine, in virtual time, over
 * an in-memory store, with its mocks in the runtime; then its expectations checked against the
 * execution's outcome and operation history.
 *
 * The host (cli/test.c) compiles and loads the workflows beside the test file; the runner
 * asks it for them through TrEnv and knows nothing of compiling.
 */
#ifndef DWF_TESTING_RUNNER_H
#define DWF_TESTING_RUNNER_H

#include "engine.h"
#include "testfile.h"

typedef struct TrEnv {
    /* The workflow named NAME (its `workflow NAME`), or NULL with why filled. */
    const dwf_workflow *(*by_name)(void *arg, const char *name, char *why, size_t n);
    /* Record every known function in the test's store (chained invokes find their targets). */
    int (*register_all)(void *arg, dwf_service *s, dwf_error *err);
    dwf_engine_resolve_fn resolve; /* function name -> workflow, for the engine */
    void *arg;
} TrEnv;

typedef struct TrResult {
    int passed;
    char *report;      /* malloc'd: what failed (each expectation's line, expected, actual) and
                        * the operation history; NULL when it passed */
    double virtual_ms; /* how much virtual time the execution took */
    double real_ms;    /* how long the test took */
} TrResult;

/* Run test c of file f. Returns 0 (the result says pass or fail), or -1 if it could not run. */
int tr_run(const TFile *f, TCase *c, const TrEnv *env, TrResult *out);

#endif
