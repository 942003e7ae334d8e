/*
 * lambda_main.c: main() of a Lambda `bootstrap`. Kept out of libdwf.a (the Makefile builds it
 * to build/lambda_main.o on its own) because libdwf is also linked into `dwf` and the tests,
 * which have mains of their own; `dwf build` links it with the generated handler, which
 * defines dwf_workflow_main.
 */
#include "dwf_host.h"

int main(void) { return dwf_lambda_main(&dwf_workflow_main); }
