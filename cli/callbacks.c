/*
 * callbacks.c: `dwf callbacks`, every callback in the store that waits for someone to answer
 * it, with when it started, when it times out (and when its heartbeat does), the execution it
 * belongs to, and the exact command that completes it, so nobody has to dig a callback id
 * out of `dwf history --json`. The deadlines are the service's timers (service.h,
 * dwf_service_open_callbacks). Each execution has its own clock (real time plus what `dwf run
 * --skip-time` jumped it forward): its callback's timestamps are on that clock and its timers
 * fire on it, so "started 2 s ago" and "in 3 min" are measured on it, and a clock ahead of real
 * time is said, since its dates then lie in the real future.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine_common.h"
#include "history_views.h"

const char *const usage_callbacks =
    "usage: dwf callbacks [ARN] [--json] [--store PATH]\n"
    "\n"
    "List the callbacks that wait for an answer (of every running execution, or of the one\n"
    "given and the executions it invoked): the callback's name and id, its execution, when it\n"
    "started, its deadline and heartbeat deadline, and the command that completes it (`dwf\n"
    "callback fail ID --error '{...}'` and `heartbeat ID` work on the same id).\n"
    "--json prints {\"Callbacks\":[{\"CallbackId\",\"Name\",\"DurableExecutionArn\",\"OperationId\",\n"
    "\"FunctionName\",\"StartTimestamp\",\"TimeoutTimestamp\",\"HeartbeatTimestamp\",\"Command\"}]}\n"
    "(epoch seconds; a deadline is absent when the callback has none).\n";

enum { OPT_STORE = 1, OPT_JSON };
static const CliOption options[] = {
    {"store", 0, CLI_VALUE, OPT_STORE},
    {"json", 0, CLI_FLAG, OPT_JSON},
    {0},
};

/* s as one shell word: as is when it holds only safe characters, else single-quoted. */
static void shell_word(const char *s, char *out, size_t n)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=+:,@%";
    if (*s && strspn(s, safe) == strlen(s)) {
        snprintf(out, n, "%s", s);
        return;
    }
    size_t k = 0;
    if (k + 1 < n) out[k++] = '\'';
    for (; *s && k + 5 < n; s++) {
        if (*s == '\'') {
            memcpy(out + k, "'\\''", 4);
            k += 4;
        } else {
            out[k++] = *s;
        }
    }
    if (k + 1 < n) out[k++] = '\'';
    out[k] = '\0';
}

/* "2026-12-04T16:44:43Z (in 59 s)", "... (passed 3 s ago)", or "none". */
static void deadline(const cJSON *c, const char *key, double now, char *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);
    if (!cJSON_IsNumber(v)) {
        snprintf(out, n, "none");
        return;
    }
    char iso[40], d[40];
    double ms = v->valuedouble * 1000.0;
    ec_iso(ms, iso);
    hv_duration(ms >= now ? ms - now : now - ms, d, sizeof d);
    snprintf(out, n, "%s (%s%s%s)", iso, ms >= now ? "in " : "passed ", d, ms >= now ? "" : " ago");
}

/* Each callback gains FunctionName and Command. */
static int annotate(cJSON *cbs, const char *store)
{
    char qstore[PATH_MAX * 4 + 8], cmd[PATH_MAX * 4 + 1024], fn[256];
    shell_word(store, qstore, sizeof qstore);
    for (cJSON *c = cbs->child; c; c = c->next) {
        const char *id = ec_str(c, "CallbackId"), *arn = ec_str(c, "DurableExecutionArn");
        snprintf(cmd, sizeof cmd, "dwf callback succeed %s --result '{...}' --store %s", id ? id : "?", qstore);
        if (!arn || dwf_service_function_of(arn, fn) != 0) fn[0] = '\0';
        cJSON *op = cJSON_DetachItemFromObjectCaseSensitive(c, "Id");
        if ((fn[0] && !cJSON_AddStringToObject(c, "FunctionName", fn)) ||
            !cJSON_AddStringToObject(c, "Command", cmd) ||
            (op && !cJSON_AddItemToObject(c, "OperationId", op)))
            return -1;
    }
    return 0;
}

/* The callbacks of one execution that is not the first of its chain (the service's filter is
 * by the chain's first execution): all of them, filtered. */
static int keep_execution(dwf_service *s, const char *arn, cJSON **cbs, dwf_error *err)
{
    cJSON_Delete(*cbs);
    if (dwf_service_open_callbacks(s, NULL, cbs, err) != 0) return -1;
    for (cJSON *c = (*cbs)->child, *next; c; c = next) {
        next = c->next;
        const char *a = ec_str(c, "DurableExecutionArn");
        if (!a || strcmp(a, arn) != 0) cJSON_Delete(cJSON_DetachItemViaPointer(*cbs, c));
    }
    return 0;
}

/* One callback's lines; now is its execution's clock, real_now the service's (real time). */
static void print_callback(const cJSON *c, double now, double real_now)
{
    char created[40], dl[96], hb[96], ago[40], ahead[40];
    double st = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(c, "StartTimestamp"));
    const char *name = ec_str(c, "Name"), *arn = ec_str(c, "DurableExecutionArn");
    const char *exec = arn && strrchr(arn, '/') ? strrchr(arn, '/') + 1 : arn;
    ec_iso(st, created);
    hv_duration(now > st ? now - st : 0, ago, sizeof ago);
    deadline(c, "TimeoutTimestamp", now, dl, sizeof dl);
    deadline(c, "HeartbeatTimestamp", now, hb, sizeof hb);
    putchar('\n');
    fputs(name ? "" : "(unnamed callback)", stdout);
    for (const char *p = name; p && *p; p++) putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
    printf("  function %s, execution %s\n", ec_str(c, "FunctionName") ? ec_str(c, "FunctionName") : "?",
           exec ? exec : "?");
    printf("  id         %s\n", ec_str(c, "CallbackId"));
    if (now - real_now >= 1000) { /* --skip-time moved this execution's clock: its dates are ahead */
        hv_duration(round((now - real_now) / 1000) * 1000, ahead, sizeof ahead); /* 1 d 23 h 59.9 s: 2 d */
        printf("  clock      the execution's virtual clock, %s ahead of real time (--skip-time)\n", ahead);
    }
    printf("  started    %s (%s ago)\n", created, ago);
    printf("  deadline   %s\n", dl);
    printf("  heartbeat  %s\n", hb);
    printf("  complete   %s\n", ec_str(c, "Command"));
}

static void print_table(dwf_service *s, const cJSON *cbs, const char *store)
{
    int n = cJSON_GetArraySize(cbs);
    if (n == 0) {
        printf("no callbacks waiting in %s\n", store);
        return;
    }
    printf("%d callback%s waiting in %s\n", n, n == 1 ? "" : "s", store);
    double real_now = dwf_service_now(s);
    for (const cJSON *c = cbs->child; c; c = c->next) {
        const char *arn = ec_str(c, "DurableExecutionArn");
        print_callback(c, arn ? dwf_service_now_of(s, arn) : real_now, real_now);
    }
}

int cmd_callbacks(int argc, char **argv)
{
    const char *store = ec_default_store(), *arn = NULL;
    int json = 0, opt;
    CliArgs a;
    cli_args_init(&a, "callbacks", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_STORE: store = a.value; break;
        case OPT_JSON: json = 1; break;
        case CLI_ARGUMENT:
            if (arn) return cli_usage_error("callbacks", "one execution at a time");
            arn = a.value;
            break;
        default: return EXIT_USAGE;
        }
    }
    dwf_service *s = NULL;
    if (ec_open_service("callbacks", store, &s) != 0) return EXIT_INPUT;
    char abs[PATH_MAX];
    const char *shown = realpath(store, abs) ? abs : store; /* the command runs from anywhere */
    cJSON *cbs = NULL, *x = NULL;
    dwf_error err;
    int rc = EXIT_INPUT;
    char root[1024] = "";
    if (arn) { /* an id or ARN: the service's tree is rooted at the full ARN */
        if (dwf_service_get_execution(s, arn, 0, &x, &err) != 0) {
            ec_service_error("callbacks", &err);
            goto out;
        }
        const char *full = ec_str(x, "DurableExecutionArn");
        snprintf(root, sizeof root, "%s", full ? full : arn);
    }
    if (dwf_service_open_callbacks(s, root[0] ? root : NULL, &cbs, &err) != 0 ||
        (root[0] && !cbs->child && keep_execution(s, root, &cbs, &err) != 0)) {
        ec_service_error("callbacks", &err);
        goto out;
    }
    if (annotate(cbs, shown) != 0) {
        fprintf(stderr, "dwf callbacks: out of memory\n");
        goto out;
    }
    if (json) {
        cJSON *o = cJSON_CreateObject();
        if (o && cJSON_AddItemToObject(o, "Callbacks", cbs)) {
            cbs = NULL;
            ec_print_json(o);
        }
        cJSON_Delete(o);
    } else {
        print_table(s, cbs, shown);
    }
    rc = EXIT_OK;
out:
    cJSON_Delete(x);
    cJSON_Delete(cbs);
    dwf_service_close(s);
    return rc;
}
