/*
 * log.c: `log info "..."` in a step body: one structured JSON line per message.
 *
 * The line has the official SDK's default logger shape, field for field and in its order, so
 * whatever reads Lambda logs for SDK functions reads ours:
 *   {"requestId","timestamp","level","executionArn","operationId"?,"operationName"?,
 *    "attempt"?,"location"?,"message"}
 * operationId (hashed), operationName and attempt are there inside a step body, as the SDK
 * gives them for its step logger. "location" ("order.dwf:12") is ours: the .dwf line of the
 * log statement, where the SDK would let a plugin add fields. A string message is logged as
 * the string, any other value as itself (the SDK's single-argument case).
 *
 * Lines are suppressed while the context replays, so a message appears once per execution, not
 * once per invocation, and when the host asked for quiet (`dwf run --quiet`). The level
 * filter is the SDK's: AWS_LAMBDA_LOG_LEVEL = DEBUG, INFO, WARN or ERROR (any case) shows that
 * level and above; unset or anything else means DEBUG. Every
 * line goes to stderr in a single write, so lines from parallel branches never interleave.
 * Every secret() / parameter() value read so far is replaced by *** in it (secrets.c): the
 * compiler already refuses a secret in a log message, this catches what a `call`ed C function
 * or a value it cannot see through (an http response echoing a key) brings back.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "internal.h"

static const char *const level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

/* The lowest level shown, read on every call: cheap, and tests can change it. */
static int min_level(void)
{
    const char *env = getenv("AWS_LAMBDA_LOG_LEVEL");
    if (env)
        for (int i = 0; i < 4; i++)
            if (strcasecmp(env, level_names[i]) == 0) return i;
    return DWF_LOG_DEBUG;
}

/* Date.prototype.toISOString for epoch milliseconds. */
static void iso_ms(double ms, char out[96])
{
    if (!isfinite(ms)) ms = 0;
    time_t secs = (time_t)floor(ms / 1000);
    int milli = (int)(ms - (double)secs * 1000);
    if (milli < 0) milli = 0;
    if (milli > 999) milli = 999;
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) memset(&tm, 0, sizeof tm);
    snprintf(out, 96, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
}

/* Add a string field when s is set; returns 0 on allocation failure. */
static int add_str(cJSON *o, const char *k, const char *s)
{
    return !s || cJSON_AddStringToObject(o, k, s) != NULL;
}

void dwf_log(dwf_ctx *c, int level, dwf_val *message)
{
    if (dwf__replaying(c)) return;
    if (dwf__quiet(c)) return;
    if (level < DWF_LOG_DEBUG) level = DWF_LOG_DEBUG;
    if (level > DWF_LOG_ERROR) level = DWF_LOG_ERROR;
    if (level < min_level()) return;

    char ts[96], where[300];
    iso_ms(dwf__now_ms(c), ts);
    const char *source = dwf__source(c);
    int line = dwf__line(c);
    if (line > 0) {
        const char *base = source ? strrchr(source, '/') : NULL;
        snprintf(where, sizeof where, "%s:%d", base ? base + 1 : source ? source : "?", line);
    }
    int attempt = dwf__in_step(c) ? dwf__attempt(c) : 0;

    cJSON *o = cJSON_CreateObject();
    int ok = o && add_str(o, "requestId", dwf__request_id(c)) && add_str(o, "timestamp", ts) &&
             add_str(o, "level", level_names[level]) &&
             add_str(o, "executionArn", dwf__execution_arn(c)) &&
             add_str(o, "operationId", dwf__operation_id(c)) &&
             add_str(o, "operationName", dwf__operation_name(c)) &&
             (attempt <= 0 || cJSON_AddNumberToObject(o, "attempt", attempt)) &&
             add_str(o, "location", line > 0 ? where : NULL);
    if (ok) {
        cJSON *msg = message ? cJSON_Duplicate(message, 1) : cJSON_CreateNull();
        if (!msg || !cJSON_AddItemToObject(o, "message", msg)) {
            cJSON_Delete(msg);
            ok = 0;
        }
    }
    char *text = ok ? dwf__to_json(o) : NULL;
    cJSON_Delete(o);
    if (!text) {
        /* Logging must not fail the step; say that a line was lost rather than stay silent. */
        fputs("{\"level\":\"ERROR\",\"message\":\"dwf: out of memory writing a log line\"}\n", stderr);
        return;
    }
    text = dwf__redact(text); /* secrets read so far become *** (secrets.c) */
    size_t n = strlen(text);
    text[n] = '\n'; /* replaces the terminator: the write below is by length */
    fwrite(text, 1, n + 1, stderr);
    fflush(stderr);
    free(text);
}
