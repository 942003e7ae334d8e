/*
 * events.c: GET /console/events?arn=ARN, the server-sent event stream an execution's page
 * follows (text/event-stream).
 *
 * The stream reads the execution from the store twice a second and sends
 *   event: update   data: {"fingerprint":"...","status":"RUNNING"}   when anything on the page changed
 *   event: end      data: {"fingerprint":"...","status":"SUCCEEDED"}  once it is no longer running (then it ends)
 * and a comment line every 10 s so that nothing in between (nor dwf serve's silence timeout)
 * closes an idle stream. The script (assets/console.js) fetches the page again when the
 * fingerprint differs from the one the page was drawn at, and closes the EventSource on `end`
 * (else the browser would reconnect). Polling the store rather than being told: the store is
 * shared with other processes (dwf run, dwf worker, dwf callback), which tell nobody.
 *
 * libmicrohttpd runs one thread per connection here, so the content reader may block: it waits
 * in steps of 100 ms, watching the console's stopping flag so that a server stop never waits
 * for a stream. At most MAX_STREAMS streams at once; past that, 503 (the page still works, and
 * reloading it shows the same).
 */
#include "cs.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_STREAMS 64
#define POLL_MS 500
#define KEEPALIVE_MS 10000

typedef struct stream {
    dwf_console *c;
    char *arn;
    unsigned long long fp;
    cs_buf out;
    size_t off;
    double last_poll, last_sent;
    int done;
} stream;

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* FNV-1a, 64 bits: a change detector, not a secret. */
static unsigned long long fnv(unsigned long long h, const char *s)
{
    for (; s && *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

unsigned long long cs_fingerprint(dwf_console *c, const char *arn, char status[32])
{
    cJSON *x = NULL, *ops = NULL;
    dwf_error err;
    status[0] = '\0';
    if (dwf_service_get_execution(c->o.svc, arn, 0, &x, &err) != 0 ||
        dwf_service_operations(c->o.svc, arn, &ops, &err) != 0) {
        cJSON_Delete(x);
        cJSON_Delete(ops);
        return 0;
    }
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "Status"));
    snprintf(status, 32, "%s", st ? st : "");
    char *text = cJSON_PrintUnformatted(ops);
    unsigned long long h = fnv(fnv(14695981039346656037ULL, status), text);
    free(text);
    cJSON_Delete(x);
    cJSON_Delete(ops);
    return h ? h : 1;
}

/* Check the execution; frame an event when it changed, and the end once it is closed. */
static void poll_once(stream *s)
{
    char status[32], data[160];
    unsigned long long fp = cs_fingerprint(s->c, s->arn, status);
    s->last_poll = mono_ms();
    if (fp == 0) { /* gone (purged) or unreadable: say so and end */
        cs_sse(&s->out, "end", "{\"fingerprint\":\"\",\"status\":\"\"}");
        s->done = 1;
        return;
    }
    int open = strcmp(status, "RUNNING") == 0;
    if (fp == s->fp && open) return;
    s->fp = fp;
    snprintf(data, sizeof data, "{\"fingerprint\":\"%016llx\",\"status\":\"%s\"}", fp, status);
    cs_sse(&s->out, open ? "update" : "end", data);
    if (!open) s->done = 1;
}

static ssize_t read_events(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *s = cls;
    for (;;) {
        if (s->out.oom) return MHD_CONTENT_READER_END_WITH_ERROR;
        if (s->off < s->out.len) {
            size_t n = s->out.len - s->off < max ? s->out.len - s->off : max;
            memcpy(buf, s->out.s + s->off, n);
            s->off += n;
            s->last_sent = mono_ms();
            return (ssize_t)n;
        }
        s->out.len = s->off = 0;
        if (s->done || __atomic_load_n(&s->c->stopping, __ATOMIC_SEQ_CST)) return MHD_CONTENT_READER_END_OF_STREAM;
        double now = mono_ms();
        if (now - s->last_poll >= POLL_MS) poll_once(s);
        else if (now - s->last_sent >= KEEPALIVE_MS) cs_puts(&s->out, ": keep-alive\n\n");
        else nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
}

static void free_stream(void *cls)
{
    stream *s = cls;
    __atomic_sub_fetch(&s->c->streams, 1, __ATOMIC_SEQ_CST);
    cs_free(&s->out);
    free(s->arn);
    free(s);
}

int cs_events(cs_req *r)
{
    dwf_console *c = r->c;
    const char *arn = cs_query(r, "arn");
    if (!arn || !*arn) return cs_reply_problem(r, 400, "No execution", "give the execution's ARN as ?arn=");
    if (__atomic_add_fetch(&c->streams, 1, __ATOMIC_SEQ_CST) > MAX_STREAMS) {
        __atomic_sub_fetch(&c->streams, 1, __ATOMIC_SEQ_CST);
        return cs_reply(r, 503, "text/plain; charset=utf-8", "too many event streams\n", 23, NULL);
    }
    stream *s = calloc(1, sizeof *s);
    if (!s || !(s->arn = strdup(arn))) {
        free(s);
        __atomic_sub_fetch(&c->streams, 1, __ATOMIC_SEQ_CST);
        return MHD_NO;
    }
    s->c = c;
    /* the browser waits 2 s before reconnecting a stream that broke */
    cs_puts(&s->out, "retry: 2000\n\n");
    struct MHD_Response *resp = dwf__mhd.MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_events, s,
                                                                           free_stream);
    if (!resp) {
        free_stream(s);
        return MHD_NO;
    }
    dwf__mhd.MHD_add_response_header(resp, "Content-Type", "text/event-stream; charset=utf-8");
    cs_add_security_headers(resp);
    int res = dwf__mhd.MHD_queue_response(r->conn, 200, resp);
    dwf__mhd.MHD_destroy_response(resp);
    return res;
}
