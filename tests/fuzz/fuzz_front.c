/*
 * fuzz_front.c: libFuzzer target over the whole front end (scan, parse, check, dump). The
 * front end promises never to crash, hang or leak on any input; ASan + UBSan + LeakSanitizer
 * (the fuzz build's flags) turn any broken promise into a finding. Diagnostics and dumps go to
 * /dev/null, but are still formatted, so diag.c's excerpts and carets are exercised too.
 * Built and run by `make fuzz` (FUZZ_SECONDS=20) with the examples and tests as the corpus.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "front.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink) sink = fopen("/dev/null", "w");
    if (!sink) return 0;
    Arena *a = arena_new();
    Diag *d = diag_new(sink, size > 0 && (data[0] & 1));
    if (!d) {
        arena_free(a);
        return 0;
    }
    Program *p = front_compile(a, d, "fuzz.dwf", (const char *)data, size);
    if (p && p->workflow && diag_errors(d) == 0) ast_dump(p->workflow, 0, sink);
    diag_free(d);
    arena_free(a);
    return 0;
}
