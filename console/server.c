/*
 * server.c: `dwf console`'s own HTTP server: libmicrohttpd (loaded on first use, util/dlib.h),
 * one thread per connection (an event stream holds its connection for as long as the page is
 * open), each request's body collected up to BODY_LIMIT and handed to dwf_console_handle. Only
 * console paths are answered; / redirects to /console/. dwf serve does not use this file: its
 * own server hands /console requests over (emulator/httpd.c).
 */
#include "cs.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define BODY_LIMIT (4 << 20) /* a form: a callback result of 256 KB, percent-encoded */
#define CONNECTIONS 256
#define CONNECTION_TIMEOUT_S 60

typedef struct creq {
    char *uri;
    char *body;
    size_t len, cap;
    int too_big, started;
} creq;

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    creq *q = calloc(1, sizeof *q);
    if (q && !(q->uri = strdup(uri))) {
        free(q);
        q = NULL;
    }
    return q;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode t)
{
    (void)cls;
    (void)conn;
    (void)t;
    creq *q = *con_cls;
    if (q) {
        free(q->uri);
        free(q->body);
        free(q);
    }
    *con_cls = NULL;
}

static enum MHD_Result plain(struct MHD_Connection *conn, unsigned status, const char *text, const char *location)
{
    struct MHD_Response *resp =
        dwf__mhd.MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    dwf__mhd.MHD_add_response_header(resp, "Content-Type", "text/plain; charset=utf-8");
    if (location) dwf__mhd.MHD_add_response_header(resp, "Location", location);
    cs_add_security_headers(resp);
    enum MHD_Result res = dwf__mhd.MHD_queue_response(conn, status, resp);
    dwf__mhd.MHD_destroy_response(resp);
    return res;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)url;
    (void)version;
    dwf_console *c = cls;
    creq *q = *con_cls;
    if (!q) return MHD_NO;
    if (!q->started) {
        q->started = 1;
        return MHD_YES;
    }
    if (*upload_size) {
        if (q->too_big || q->len + *upload_size > BODY_LIMIT) {
            q->too_big = 1;
        } else {
            if (q->len + *upload_size + 1 > q->cap) {
                size_t nc = (q->len + *upload_size + 1) * 2;
                char *nb = realloc(q->body, nc);
                if (!nb) return MHD_NO;
                q->body = nb;
                q->cap = nc;
            }
            memcpy(q->body + q->len, upload, *upload_size);
            q->len += *upload_size;
            q->body[q->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->too_big) return plain(conn, 413, "request body too large\n", NULL);
    if (strcmp(q->uri, "/") == 0) return plain(conn, 303, "see /console/\n", DWF_CONSOLE_PREFIX "/");
    if (!dwf_console_owns(q->uri)) return plain(conn, 404, "not found: the console is under /console/\n", NULL);
    return (enum MHD_Result)dwf_console_handle(c, conn, method, q->uri, q->body, q->len);
}

int dwf_console_listen(dwf_console *c, const char *host, int port, dwf_error *err)
{
    char lerr[512];
    if (dwf__mhd_load(lerr, sizeof lerr) != 0) {
        snprintf(err->type, sizeof err->type, "ServiceException");
        snprintf(err->message, sizeof err->message, "%s", lerr);
        return -1;
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host ? host : "127.0.0.1", &sa.sin_addr) != 1) {
        snprintf(err->type, sizeof err->type, "InvalidParameterValueException");
        snprintf(err->message, sizeof err->message, "host %s is not an IPv4 address", host);
        return -1;
    }
    c->daemon = dwf__mhd.MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, on_request, c, MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTIONS, MHD_OPTION_END);
    if (!c->daemon) {
        snprintf(err->type, sizeof err->type, "ServiceException");
        snprintf(err->message, sizeof err->message, "cannot listen on %s:%d (in use?)", host ? host : "127.0.0.1",
                 port);
        return -1;
    }
    const union MHD_DaemonInfo *di = dwf__mhd.MHD_get_daemon_info(c->daemon, MHD_DAEMON_INFO_BIND_PORT);
    c->port = di ? di->port : port;
    return 0;
}

int dwf_console_port(const dwf_console *c) { return c->port; }
