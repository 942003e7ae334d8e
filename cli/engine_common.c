/*
 * engine_common.c: the helpers every embedded-engine command uses (see engine_common.h):
 * the store's default, opening it, service errors, "@file" and JSON arguments, timestamps,
 * the stop signal, and the progress lines printed while executions run.
 */
#include "engine_common.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

volatile int ec_stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    ec_stop_flag = 1;
}

void ec_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

const char *ec_default_store(void)
{
    const char *e = getenv("DWF_STORE");
    return e && *e ? e : ".dwf/dwf.db";
}

int ec_service_error(const char *cmd, const dwf_error *err)
{
    fprintf(stderr, "dwf %s: %s: %s\n", cmd, err->type, err->message);
    return EXIT_INPUT;
}

int ec_open_service(const char *cmd, const char *store, dwf_service **s)
{
    dwf_error err;
    dwf_service_opts o = {.path = store};
    if (dwf_service_open(&o, s, &err) != 0) return ec_service_error(cmd, &err);
    return 0;
}

int ec_read_arg(const char *cmd, const char *v, char **buf, size_t *len)
{
    if (v[0] != '@') {
        *len = strlen(v);
        *buf = strdup(v);
        if (!*buf) fprintf(stderr, "dwf %s: out of memory\n", cmd);
        return *buf ? 0 : -1;
    }
    FILE *f = fopen(v + 1, "rb");
    if (!f) {
        fprintf(stderr, "dwf %s: cannot read %s: %s\n", cmd, v + 1, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *b = malloc(cap + 1);
    size_t got;
    while (b && (got = fread(b + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *nb = realloc(b, cap * 2 + 1);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (!b) {
        fprintf(stderr, "dwf %s: out of memory\n", cmd);
        return -1;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

cJSON *ec_parse_json_arg(const char *cmd, const char *what, const char *text)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(text, &end, 1);
    if (!j) {
        size_t off = end ? (size_t)(end - text) : 0;
        fprintf(stderr, "dwf %s: %s is not valid JSON (at offset %zu: '%.20s')\n", cmd, what, off, end ? end : "");
    }
    return j;
}

double ec_ts_ms(const cJSON *v)
{
    if (cJSON_IsNumber(v)) return v->valuedouble * 1000.0;
    if (!cJSON_IsString(v)) return -1;
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *rest = strptime(v->valuestring, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!rest) return -1;
    double ms = (double)timegm(&tm) * 1000.0;
    if (*rest == '.') ms += atof(rest) * 1000.0;
    return ms;
}

void ec_iso(double ms, char out[40])
{
    time_t sec = (time_t)(ms / 1000.0);
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(out, 40, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

const char *ec_str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

void ec_print_json(const cJSON *j)
{
    char *t = dwf_json_text(j, 2); /* as JSON.stringify(v, null, 2): exact numbers */
    if (t) puts(t);
    else fprintf(stderr, "dwf: out of memory\n");
    free(t);
}

void ec_progress_op(void *arg, const char *arn, const cJSON *op)
{
    Progress *p = arg;
    if (!p->enabled) return;
    const char *type = ec_str(op, "Type"), *status = ec_str(op, "Status"), *id = ec_str(op, "Id");
    if (!type || !status || !id || strcmp(type, "EXECUTION") == 0) return;
    char key[700];
    snprintf(key, sizeof key, "%s|%s", arn, id);
    const char *last = ec_str(p->seen, key);
    if (last && strcmp(last, status) == 0) return;
    cJSON *v = cJSON_CreateString(status);
    if (!v) return;
    if (last) cJSON_ReplaceItemInObjectCaseSensitive(p->seen, key, v);
    else cJSON_AddItemToObject(p->seen, key, v);
    const char *name = ec_str(op, "Name");
    const char *sub = ec_str(op, "SubType");
    double st = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(op, "StartTimestamp"));
    double en = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(op, "EndTimestamp"));
    char dur[32] = "";
    if (st >= 0 && en >= st) snprintf(dur, sizeof dur, "%.0f ms", en - st);
    if (strcmp(type, "WAIT") == 0 && strcmp(status, "STARTED") == 0) {
        const cJSON *wd = cJSON_GetObjectItemCaseSensitive(op, "WaitDetails");
        double end = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(wd, "ScheduledEndTimestamp"));
        if (end >= 0 && st >= 0) snprintf(dur, sizeof dur, "until +%.0f s", (end - st) / 1000.0);
    }
    const char *color = "";
    const char *reset = p->tty ? "\033[0m" : "";
    if (p->tty) {
        if (strcmp(status, "SUCCEEDED") == 0) color = "\033[32m";
        else if (strcmp(status, "FAILED") == 0 || strcmp(status, "TIMED_OUT") == 0) color = "\033[31m";
        else color = "\033[33m";
    }
    fprintf(p->out, "  %-14s %-28s %s%-9s%s %s\n", type, name ? name : sub ? sub : id, color, status, reset, dur);
    fflush(p->out);
}

void ec_progress_invocation(void *arg, const char *arn, const cJSON *resp, const dwf_error *fault)
{
    Progress *p = arg;
    (void)arn;
    if (!p->enabled || resp) return;
    fprintf(p->out, "  invocation failed: %s: %s (retried)\n", fault ? fault->type : "?", fault ? fault->message : "");
}

