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
#include <unistd.h>

#include "cli.h"
#include "input.h"

volatile int ec_stop_flag;

/* The first Ctrl-C / SIGTERM asks the engine to stop (at the invocation's next checkpoint, or
 * by abandoning a step that does not reach one within a second); a second one ends the
 * process at once, which the store survives as it survives kill -9. */
static void on_signal(int sig)
{
    (void)sig;
    if (ec_stop_flag) {
        static const char msg[] = "\ndwf: interrupted again: exiting now; the execution continues with 'dwf resume'\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(130);
    }
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

int ec_read_arg(const char *cmd, const char *opt, const char *v, size_t limit, const char *limit_name,
                const char *what, char **buf, size_t *len)
{
    int r;
    if (v[0] != '@') {
        *len = strlen(v);
        *buf = *len <= limit ? strdup(v) : NULL;
        r = *len > limit ? 1 : *buf ? 0 : -1;
    } else if (strcmp(v, "@-") == 0) {
        r = dwf__read_bounded(stdin, limit, buf, len);
    } else {
        r = dwf__read_file_bounded(v + 1, limit, buf, len);
    }
    if (r == 1) {
        fprintf(stderr,
                "dwf %s: InvalidParameterValueException: %s %s is larger than %zu bytes, the limit "
                "of %s (%s)\n",
                cmd, opt, v[0] == '@' ? v : "(the value)", limit, what, limit_name);
    } else if (r != 0 && v[0] == '@') {
        fprintf(stderr, "dwf %s: cannot read %s: %s\n", cmd, v + 1, strerror(errno));
    } else if (r != 0) {
        fprintf(stderr, "dwf %s: out of memory\n", cmd);
    }
    return r == 0 ? 0 : -1;
}

cJSON *ec_parse_json_arg(const char *cmd, const char *what, const char *text, size_t len)
{
    const char *why = NULL;
    size_t at = dwf__text_bad_byte(text, len, &why);
    if (at < len) {
        fprintf(stderr, "dwf %s: %s is not valid JSON: %s at byte offset %zu\n", cmd, what, why, at);
        return NULL;
    }
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithOpts(text, &end, 1);
    if (!j) {
        size_t off = end ? (size_t)(end - text) : 0;
        fprintf(stderr, "dwf %s: %s is not valid JSON (at offset %zu: '%.20s')\n", cmd, what, off,
                end ? end : "");
        return NULL;
    }
    size_t n = 0;
    at = dwf__json_bad_number(text, len, &n);
    if (at < len) {
        fprintf(stderr, "dwf %s: %s is not valid JSON: the number at byte offset %zu ('%.*s') is "
                        "beyond the range of a double\n",
                cmd, what, at, n > 40 ? 40 : (int)n, text + at);
        cJSON_Delete(j);
        return NULL;
    }
    return j;
}

int ec_check_error_object(const char *cmd, const char *what, const cJSON *eo)
{
    static const char *const strings[] = {"ErrorType", "ErrorMessage", "ErrorData"};
    if (!cJSON_IsObject(eo)) {
        fprintf(stderr, "dwf %s: %s must be an ErrorObject {\"ErrorType\",\"ErrorMessage\",...}\n",
                cmd, what);
        return -1;
    }
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(eo, strings[i]);
        if (f && !cJSON_IsString(f)) {
            fprintf(stderr, "dwf %s: %s: %s must be a string\n", cmd, what, strings[i]);
            return -1;
        }
    }
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(eo, "StackTrace"), *line;
    int ok = !st || cJSON_IsArray(st);
    cJSON_ArrayForEach(line, st) ok = ok && cJSON_IsString(line);
    if (!ok) {
        fprintf(stderr, "dwf %s: %s: StackTrace must be a list of strings\n", cmd, what);
        return -1;
    }
    return 0;
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
    fprintf(p->out, "  invocation failed: %s: %s\n", fault ? fault->type : "?", fault ? fault->message : "");
}


void ec_progress_adopted(void *arg, const char *arn, const char *why)
{
    (void)arg;
    fprintf(stderr, "dwf: execution %s runs on the changed workflow (%s)\n", arn, why);
}
