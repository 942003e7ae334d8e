/*
 * secrets.c: secret("id"[, key]) and parameter("/path"): values from Secrets Manager
 * (GetSecretValue, SecretString) and SSM Parameter Store (GetParameter, WithDecryption), fetched
 * through the aws call runtime (aws.c) at most once per invocation, and the values fetched so
 * far, against which every log line is redacted (log.c) as a second line of defence behind the
 * compiler's taint check (grammar/taint.c), which keeps them out of checkpoints, logs and errors.
 *
 * The cache is the invocation's (a new invocation reads the secret again, so a rotated secret is
 * seen by the next invocation, as the SDKs' caching clients do with a short TTL); the redaction
 * list is the process's (a warm Lambda sandbox keeps it across invocations), both under a mutex:
 * steps of a parallel or map run on threads of their own.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "internal.h"

/* Values shorter than this are not redacted: "***" in place of every "1" or "ok" of a log line
 * would destroy it and protect nothing a guess would not find. */
enum { REDACT_MIN = 4, REDACT_MAX_VALUES = 256 };

static pthread_mutex_t redact_mu = PTHREAD_MUTEX_INITIALIZER;
static char *redact_values[REDACT_MAX_VALUES]; /* JSON-escaped, without quotes, as a line holds them */
static int nredact;

/* Remember `v` (and, when it is a JSON object, each of its string members) for redaction. */
static void remember(const char *v)
{
    if (!v || strlen(v) < REDACT_MIN) return;
    cJSON *s = cJSON_CreateString(v);
    char *esc = s ? dwf__to_json(s) : NULL;
    cJSON_Delete(s);
    if (!esc) return;
    size_t n = strlen(esc);
    memmove(esc, esc + 1, n - 2); /* drop the quotes */
    esc[n - 2] = '\0';
    pthread_mutex_lock(&redact_mu);
    int known = 0;
    for (int i = 0; i < nredact && !known; i++) known = strcmp(redact_values[i], esc) == 0;
    if (!known && nredact < REDACT_MAX_VALUES) redact_values[nredact++] = esc, esc = NULL;
    pthread_mutex_unlock(&redact_mu);
    free(esc);
}

static void remember_value(const char *text)
{
    remember(text);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    for (const cJSON *m = cJSON_IsObject(j) ? j->child : NULL; m; m = m->next)
        if (cJSON_IsString(m)) remember(m->valuestring);
    cJSON_Delete(j);
}

void dwf__secret_answer(const char *service, const char *action, const cJSON *response)
{
    const cJSON *v = NULL;
    if (strcmp(service, "secretsmanager") == 0 && strcmp(action, "GetSecretValue") == 0)
        v = cJSON_GetObjectItemCaseSensitive(response, "SecretString");
    else if (strcmp(service, "ssm") == 0 && strcmp(action, "GetParameter") == 0)
        v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(response, "Parameter"), "Value");
    if (cJSON_IsString(v)) remember_value(v->valuestring);
}

char *dwf__redact(char *line)
{
    pthread_mutex_lock(&redact_mu);
    for (int i = 0; i < nredact && line; i++) {
        const char *v = redact_values[i];
        size_t vl = strlen(v);
        char *hit = strstr(line, v);
        if (!hit) continue;
        dwf__buf b = {0};
        const char *from = line;
        for (; hit; from = hit + vl, hit = strstr(from, v)) {
            dwf__buf_add(&b, from, (size_t)(hit - from));
            dwf__buf_str(&b, "***");
        }
        dwf__buf_str(&b, from);
        if (b.oom || !b.p) continue; /* out of memory: keep the line rather than lose it */
        free(line);
        line = b.p;
    }
    pthread_mutex_unlock(&redact_mu);
    return line;
}

/* ---- the builtins ----------------------------------------------------------------------------------- */

/* The cached text of "s:<id>" / "p:<path>" (malloc'd copy), or NULL. */
static char *cached(dwf_ctx *c, const char *key)
{
    dwf__inv *inv = c->inv;
    pthread_mutex_lock(&inv->mu);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(inv->secret_cache, key);
    char *text = cJSON_IsString(v) ? strdup(v->valuestring) : NULL;
    pthread_mutex_unlock(&inv->mu);
    return text;
}

static void cache(dwf_ctx *c, const char *key, const char *text)
{
    dwf__inv *inv = c->inv;
    pthread_mutex_lock(&inv->mu);
    if (!inv->secret_cache) inv->secret_cache = cJSON_CreateObject();
    if (inv->secret_cache && !cJSON_GetObjectItemCaseSensitive(inv->secret_cache, key))
        cJSON_AddStringToObject(inv->secret_cache, key, text);
    pthread_mutex_unlock(&inv->mu);
}

/* Read one secret (GetSecretValue's SecretString) or parameter (GetParameter's Parameter.Value,
 * decrypted) through the aws call runtime, once per invocation: two steps reading the same id
 * at once may both ask, and the first answer is kept. NULL with the error recorded (the AWS
 * error code as its type: ResourceNotFoundException, ParameterNotFound, AccessDeniedException...). */
static char *fetch(dwf_ctx *c, int is_secret, const char *id)
{
    char key[1100];
    snprintf(key, sizeof key, "%c:%.1024s", is_secret ? 's' : 'p', id);
    char *text = cached(c, key);
    if (text) return text;
    cJSON *params = cJSON_CreateObject();
    if (!params || !cJSON_AddStringToObject(params, is_secret ? "SecretId" : "Name", id) ||
        (!is_secret && !cJSON_AddTrueToObject(params, "WithDecryption"))) {
        cJSON_Delete(params);
        dwf__set_error(c, "OutOfMemory", "out of memory reading a secret");
        return NULL;
    }
    dwf_val *r = dwf_aws(c, is_secret ? "secretsmanager" : "ssm", is_secret ? "GetSecretValue" : "GetParameter",
                         dwf__adopt(c, params));
    const cJSON *v = is_secret ? cJSON_GetObjectItemCaseSensitive(r, "SecretString")
                               : cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(r, "Parameter"),
                                                                  "Value");
    if (dwf_failed(c)) return NULL;
    if (!cJSON_IsString(v)) {
        char msg[300];
        snprintf(msg, sizeof msg, "%s(\"%.200s\"): the answer has no %s", is_secret ? "secret" : "parameter", id,
                 is_secret ? "SecretString (a binary secret?)" : "Parameter.Value");
        dwf__set_error(c, "SecretFormatError", msg);
        return NULL;
    }
    cache(c, key, v->valuestring); /* dwf_aws made it one of the values logs are redacted against */
    return strdup(v->valuestring);
}

static dwf_val *lookup(dwf_ctx *c, int is_secret, const char *id, const char *key)
{
    char *text = fetch(c, is_secret, id);
    if (!text) return dwf_null(c);
    dwf_val *v = NULL;
    if (!key) {
        v = dwf_str(c, text);
    } else {
        cJSON *j = cJSON_Parse(text);
        const cJSON *m = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, key) : NULL;
        char msg[400];
        if (!cJSON_IsObject(j) || !m) {
            /* the message names the key, never the secret's text */
            snprintf(msg, sizeof msg, "secret(\"%.100s\"): %s '%.100s'", id,
                     !cJSON_IsObject(j) ? "the secret is not a JSON object, so it has no key" : "the secret has no key",
                     key);
            dwf__set_error(c, "SecretFormatError", msg);
        } else {
            v = cJSON_IsString(m) ? dwf_str(c, m->valuestring) : dwf__adopt(c, cJSON_Duplicate(m, 1));
        }
        cJSON_Delete(j);
    }
    free(text);
    return v ? v : dwf_null(c);
}

/* A non-string argument (from a computed value, or a C caller's NULL): TypeError, as the
 * other builtins of dwf_builtins.def's "s" kind give. */
static int string_args(dwf_ctx *c, const char *fn, int argc, dwf_val *const *argv)
{
    for (int i = 0; i < argc; i++) {
        if (dwf__is_str(argv[i])) continue;
        dwf__builtin_arg_error(c, fn, i, "a string", argv[i]);
        return 0;
    }
    return 1;
}

dwf_val *dwf__b_secret(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    if (!string_args(c, "secret", argc, argv)) return dwf_null(c);
    return lookup(c, 1, argv[0]->valuestring, argc > 1 ? argv[1]->valuestring : NULL);
}

dwf_val *dwf__b_parameter(dwf_ctx *c, int argc, dwf_val *const *argv)
{
    if (!string_args(c, "parameter", argc, argv)) return dwf_null(c);
    return lookup(c, 0, argv[0]->valuestring, NULL);
}
