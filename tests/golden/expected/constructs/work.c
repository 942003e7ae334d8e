/* work.c: a C function the constructs golden test `call`s. */
#include "dwf.h"

cJSON *score(dwf_ctx *c, int argc, cJSON *const *argv)
{
    (void)c;
    return cJSON_CreateNumber(argc > 1 && cJSON_IsNumber(argv[1]) ? argv[1]->valuedouble * 2 : 0);
}
