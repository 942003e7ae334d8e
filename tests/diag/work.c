/*
 * work.c: the C file tests/diag/*.dwf `use`, so that a `use` line is not itself a fault there.
 * dwf check only needs it to exist; nothing compiles it.
 */
#include "dwf.h"

cJSON *spin(dwf_ctx *c, int argc, cJSON *const *argv)
{
    (void)c;
    (void)argc;
    (void)argv;
    return cJSON_CreateNull();
}
