/*
 * tinytest.h: the unit tests' assert header. Each check prints "PASS name" or
 * "FAIL name: file:line: expected ... got ..." (tests/run.sh counts those lines), and
 * TT_MAIN's program exits 1 if any check failed.
 */
#ifndef TINYTEST_H
#define TINYTEST_H
#include <stdio.h>
#include <string.h>

static int tt_failures, tt_checks;
static const char *tt_current = "?";

#define TT_FAIL_(fmt, ...)                                                                    \
    do {                                                                                      \
        tt_failures++;                                                                        \
        printf("FAIL %s: %s:%d: " fmt "\n", tt_current, __FILE__, __LINE__, __VA_ARGS__);     \
    } while (0)

#define TT_ASSERT(cond)                                                                       \
    do { tt_checks++; if (!(cond)) TT_FAIL_("%s", "assertion failed: " #cond); } while (0)
#define TT_EQ_INT(want, got)                                                                  \
    do {                                                                                      \
        long long w_ = (long long)(want), g_ = (long long)(got);                              \
        tt_checks++;                                                                          \
        if (w_ != g_) TT_FAIL_("%s: expected %lld, got %lld", #got, w_, g_);                  \
    } while (0)
#define TT_EQ_STR(want, got)                                                                  \
    do {                                                                                      \
        const char *w_ = (want), *g_ = (got);                                                 \
        tt_checks++;                                                                          \
        if (!w_ || !g_ || strcmp(w_, g_) != 0)                                                \
            TT_FAIL_("%s: expected \"%s\", got \"%s\"", #got, w_ ? w_ : "(null)",             \
                     g_ ? g_ : "(null)");                                                     \
    } while (0)

/* Run one test function; prints PASS if it made no failing check. */
#define TT_RUN(fn)                                                                            \
    do {                                                                                      \
        int before_ = tt_failures;                                                            \
        tt_current = #fn;                                                                     \
        fn();                                                                                 \
        if (tt_failures == before_) printf("PASS %s\n", #fn);                                 \
    } while (0)

#define TT_EXIT() (tt_failures ? 1 : 0)
#endif
