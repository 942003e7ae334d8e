/*
 * fanout_work.c: the CPU-bound work of the seed's parallel test, as a C function the workflow
 * calls with `call spin(ms)` (examples/fanout.dwf). It busy-waits like the JS
 * `while (Date.now() - start < ms) {}` so the timings are comparable, and returns the
 * milliseconds it actually spun.
 */
#include <time.h>

#include "dwf.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

cJSON *spin(dwf_ctx *c, int argc, cJSON *const *argv)
{
    if (argc != 1 || !cJSON_IsNumber(argv[0]) || argv[0]->valuedouble < 0) {
        dwf_fail(c, "TypeError", "spin(ms) takes one non-negative number");
        return NULL;
    }
    double ms = argv[0]->valuedouble, start = now_ms(), spent;
    while ((spent = now_ms() - start) < ms) {
        /* busy: this is the point */
    }
    return cJSON_CreateNumber(spent);
}
