/*
 * fuzz_json.c: libFuzzer target over the value layer's JSON parser (sdk/value.c,
 * dwf__parse_json), which reads every payload from outside: execution input, checkpoint
 * responses, callback results, `json(s)`. Beyond not crashing or leaking on any bytes, it checks
 * the round trip a durable value makes (recorded as text, read back on replay): whatever parses
 * prints (dwf__to_json) as text that parses again to an equal value, and printing that again
 * gives the same text, so a replayed value is the value that was recorded.
 * Built and run by `make fuzz`, seeded with the JSON files of the tests.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void finding(const char *what, const char *text)
{
    fprintf(stderr, "fuzz_json: %s%s%.200s\n", what, text ? ": " : "", text ? text : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[128];
    cJSON *v = dwf__parse_json((const char *)data, size, err);
    if (!v) {
        if (!err[0]) finding("refused without a reason", NULL);
        return 0;
    }
    char *text = dwf__to_json(v);
    if (!text) finding("could not print a parsed value", NULL);
    cJSON *again = dwf__parse_json(text, strlen(text), err);
    if (!again) finding("printed text does not parse", text);
    if (!dwf__equal(v, again)) finding("round trip changed the value", text);
    char *text2 = dwf__to_json(again);
    if (!text2 || strcmp(text, text2) != 0) finding("printing is not stable", text);
    free(text2);
    free(text);
    cJSON_Delete(again);
    cJSON_Delete(v);
    return 0;
}
