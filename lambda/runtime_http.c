/*
 * runtime_http.c: the HTTP/1.1 client of the Lambda Runtime API (plain HTTP to
 * $AWS_LAMBDA_RUNTIME_API, host:port), over one kept blocking socket; also of the durable API
 * on a plain-http endpoint (dwf serve's: lambda.c, plain_endpoint).
 *
 * Why not libcurl, which the durable API client keeps for HTTPS (AWS's own endpoint) and for
 * an endpoint behind a proxy: every Runtime API request went through libcurl's multi loop, which made five poll calls around
 * each request (a liveness check of the kept connection, readiness before and after the send,
 * the wait, readiness before the read) and spent ~90,000 instructions parsing the URL and
 * formatting headers; an invocation makes two of them (/next, /response). Here a request is
 * one sendmsg and usually one recv: /next blocks in recv until an event comes (no timeout, as
 * aws-lambda-cpp), a post with a timeout waits in recv too, bounded by the socket's SO_RCVTIMEO
 * (set when the timeout changes, so once per connection for the Runtime API's posts and
 * usually for the durable API's calls), and polls only before a later read of the same answer.
 *
 * What it speaks: a request line, Host, User-Agent, the caller's header lines, Content-Length
 * on POST, the body; answers framed by Content-Length, chunked transfer coding, or the end of
 * the connection; 1xx answers skipped; the connection kept unless the server closes it. A kept
 * connection that turns out closed before any byte of the answer arrived (an idle timeout on
 * the server's side) is reopened and the request sent again, once, as libcurl does.
 */
#include "lambda_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_TIMEOUT_MS 2000
#define HEAD_MAX 16384 /* the longest status or header line accepted */

static void fail(char *err, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

static double mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int dwf__rt_conn_init(dwf__rt_conn *c, const char *hostport) {
    memset(c, 0, sizeof *c);
    c->fd = -1;
    const char *colon = strrchr(hostport, ':');
    size_t hl = colon ? (size_t)(colon - hostport) : strlen(hostport);
    if (hl == 0 || hl >= sizeof c->host || !colon || !colon[1] || strlen(colon + 1) >= sizeof c->port ||
        strlen(hostport) >= sizeof c->hostport)
        return -1;
    memcpy(c->host, hostport, hl);
    c->host[hl] = '\0';
    strcpy(c->port, colon + 1);
    strcpy(c->hostport, hostport);
    return 0;
}

void dwf__rt_conn_close(dwf__rt_conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}

/* A connect bounded by CONNECT_TIMEOUT_MS, then a blocking socket without Nagle's delay. */
static int connect_one(const struct addrinfo *ai, char *err, size_t en) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) {
        fail(err, en, "socket: %s", strerror(errno));
        return -1;
    }
    int rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc < 0 && errno == EINPROGRESS) {
        struct pollfd p = {fd, POLLOUT, 0};
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        rc = poll(&p, 1, CONNECT_TIMEOUT_MS);
        if (rc == 0) errno = ETIMEDOUT;
        if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr) errno = soerr;
        rc = rc > 0 && !soerr ? 0 : -1;
    }
    int one = 1;
    if (rc < 0 || fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
        fail(err, en, "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

static int rt_connect(dwf__rt_conn *c, char *err, size_t en) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    c->rcvtimeo_ms = 0; /* a new socket has none */
    int gai = getaddrinfo(c->host, c->port, &hints, &res);
    if (gai != 0) {
        fail(err, en, "could not resolve %s: %s", c->host, gai_strerror(gai));
        return -1;
    }
    for (struct addrinfo *ai = res; ai && c->fd < 0; ai = ai->ai_next) c->fd = connect_one(ai, err, en);
    freeaddrinfo(res);
    return c->fd >= 0 ? 0 : -1;
}

/* The request in one sendmsg when the socket takes it all (it does on loopback). */
static int send_request(int fd, const char *head, size_t hl, const char *body, size_t bl) {
    struct iovec iov[2] = {{(void *)head, hl}, {(void *)body, bl}};
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = bl ? 2 : 1;
    while (m.msg_iovlen > 0) {
        ssize_t n = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return -1;
        while (m.msg_iovlen > 0 && (size_t)n >= m.msg_iov[0].iov_len) {
            n -= (ssize_t)m.msg_iov[0].iov_len;
            m.msg_iov++;
            m.msg_iovlen--;
        }
        if (m.msg_iovlen > 0) {
            m.msg_iov[0].iov_base = (char *)m.msg_iov[0].iov_base + n;
            m.msg_iov[0].iov_len -= (size_t)n;
        }
    }
    return 0;
}

/* ---- reading an answer ---------------------------------------------------------------------- */
typedef struct reader {
    int fd;
    double deadline; /* monotonic ms; 0 = none */
    int timed_recv;  /* the socket's SO_RCVTIMEO is this request's timeout, and nothing was read
                      * yet: the first read waits in recv alone */
    size_t off, len; /* unread bytes: buf[off..len) */
    int got_any;     /* a byte of the answer arrived */
    int eof;
    int reset;       /* the peer reset the connection */
    char *err;
    size_t en;
    char buf[HEAD_MAX]; /* last: everything before it is zeroed per request, not the buffer */
} reader;

/* Read more into the buffer. 1, 0 at the end of the connection, -1 on an error or timeout. */
static int fill(reader *r) {
    if (r->off > 0) {
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
    }
    if (r->len == sizeof r->buf) {
        fail(r->err, r->en, "an answer line is longer than %d bytes", HEAD_MAX);
        return -1;
    }
    for (;;) {
        if (r->deadline > 0 && !r->timed_recv) {
            double left = r->deadline - mono_ms();
            struct pollfd p = {r->fd, POLLIN, 0};
            int rc = left > 0 ? poll(&p, 1, (int)left + 1) : 0;
            if (rc < 0 && errno == EINTR) continue;
            if (rc == 0) {
                fail(r->err, r->en, "no answer within the timeout");
                return -1;
            }
        }
        ssize_t n = recv(r->fd, r->buf + r->len, sizeof r->buf - r->len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* SO_RCVTIMEO passed: this request's timeout, or a timeout set for an earlier
             * request on a read that has none (/next), which just waits on */
            if (r->deadline <= 0) continue;
            fail(r->err, r->en, "no answer within the timeout");
            return -1;
        }
        r->timed_recv = 0; /* later reads of this answer poll for what is left of the timeout */
        if (n < 0) {
            r->reset = errno == ECONNRESET;
            fail(r->err, r->en, "recv: %s", strerror(errno));
            return -1;
        }
        if (n == 0) {
            r->eof = 1;
            return 0;
        }
        r->len += (size_t)n;
        r->got_any = 1;
        return 1;
    }
}

/* The next line without its CR LF, NUL-terminated in the buffer (valid until the next read). */
static char *read_line(reader *r, size_t *n) {
    for (;;) {
        char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);
        if (nl) {
            char *line = r->buf + r->off;
            size_t l = (size_t)(nl - line);
            r->off += l + 1;
            if (l && line[l - 1] == '\r') l--;
            line[l] = '\0';
            *n = l;
            return line;
        }
        int rc = fill(r);
        if (rc <= 0) {
            if (rc == 0) fail(r->err, r->en, "the connection closed in the middle of the answer's head");
            return NULL;
        }
    }
}

/* Hand exactly `want` body bytes to the sink, or up to the end of the connection when want is
 * SIZE_MAX. 0, or -1. */
static int read_body(reader *r, size_t want, const dwf__rt_sink *sink) {
    while (want > 0) {
        if (r->off == r->len) {
            int rc = fill(r);
            if (rc < 0) return -1;
            if (rc == 0) {
                if (want == SIZE_MAX) return 0;
                fail(r->err, r->en, "the connection closed in the middle of the answer's body");
                return -1;
            }
        }
        size_t n = r->len - r->off;
        if (n > want) n = want;
        if (sink->body(sink->arg, r->buf + r->off, n) != 0) {
            fail(r->err, r->en, "out of memory reading the answer");
            return -1;
        }
        r->off += n;
        if (want != SIZE_MAX) want -= n;
    }
    return 0;
}

static int read_chunked(reader *r, const dwf__rt_sink *sink) {
    for (;;) {
        size_t n;
        char *line = read_line(r, &n);
        if (!line) return -1;
        char *end;
        errno = 0;
        unsigned long long size = strtoull(line, &end, 16);
        if (end == line || errno || (*end && *end != ';' && *end != ' ')) {
            fail(r->err, r->en, "a bad chunk size line");
            return -1;
        }
        if (size == 0) break;
        if (read_body(r, (size_t)size, sink) != 0 || !read_line(r, &n)) return -1;
    }
    for (;;) { /* trailers, up to the empty line */
        size_t n;
        if (!read_line(r, &n)) return -1;
        if (n == 0) return 0;
    }
}

/* Whether the header line whose name is `nl` bytes long (up to its ':') is `name` (a literal);
 * its value, blanks skipped, into *value. The name's length is found once per line by the
 * caller, so the lines that are none of the three (most) cost no string comparison. */
#define HEADER_IS(line, nl, name, value) header_is(line, nl, name, sizeof name - 1, value)
static int header_is(const char *line, size_t nl, const char *name, size_t namel, const char **value) {
    if (nl != namel || strncasecmp(line, name, nl) != 0) return 0;
    const char *v = line + nl + 1;
    while (*v == ' ' || *v == '\t') v++;
    *value = v;
    return 1;
}

/* "HTTP/1.<minor> <3 digits>..." into *minor and *status: 0, or -1 when the line is not one
 * (sscanf's %d, a format parsed on every answer, cost ~1,500 instructions of each). */
static int status_line(const char *line, size_t n, int *minor, int *status) {
    if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' || line[8] != ' ')
        return -1;
    for (int i = 9; i < 12; i++)
        if (line[i] < '0' || line[i] > '9') return -1;
    if (n > 12 && line[12] != ' ') return -1;
    *minor = line[7] - '0';
    *status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    return 0;
}

/* One answer: status line and headers (each handed to the sink without its CR LF), then the body by its framing. *keep: the connection may carry the next request. */
static int read_answer(reader *r, int head_only, long *status, const dwf__rt_sink *sink, int *keep) {
    for (;;) {
        size_t n;
        char *line = read_line(r, &n);
        if (!line) return -1;
        int minor = 0, st = 0;
        if (status_line(line, n, &minor, &st) != 0 || st < 100) {
            fail(r->err, r->en, "not an HTTP/1.x answer: \"%.60s\"", line);
            return -1;
        }
        int chunked = 0, close_it = minor == 0, has_len = 0;
        unsigned long long clen = 0;
        while ((line = read_line(r, &n)) != NULL && n > 0) {
            const char *v, *colon = memchr(line, ':', n);
            size_t nl = colon ? (size_t)(colon - line) : n;
            if (HEADER_IS(line, nl, "Content-Length", &v)) {
                char *end;
                clen = strtoull(v, &end, 10);
                has_len = end != v;
            } else if (HEADER_IS(line, nl, "Transfer-Encoding", &v)) {
                chunked = strcasestr(v, "chunked") != NULL;
            } else if (HEADER_IS(line, nl, "Connection", &v)) {
                if (strcasestr(v, "close")) close_it = 1;
                else if (strcasestr(v, "keep-alive")) close_it = 0;
            }
            if (st >= 200) sink->header(sink->arg, line, n);
        }
        if (!line) return -1;
        if (st < 200) continue; /* 100 Continue and the like: the answer follows */
        *status = st;
        int rc = 0;
        if (head_only || st == 204 || st == 304) rc = 0;
        else if (chunked) rc = read_chunked(r, sink);
        else if (has_len) rc = read_body(r, (size_t)clen, sink);
        else {
            rc = read_body(r, SIZE_MAX, sink);
            close_it = 1;
        }
        *keep = rc == 0 && !close_it && !r->eof;
        return rc;
    }
}

/* A request's head being built: `len` reaches `cap` once something did not fit. */
typedef struct head_buf {
    char *p;
    size_t len, cap;
} head_buf;

static void put(head_buf *h, const char *s) {
    size_t n = strlen(s);
    if (h->len >= h->cap || n >= h->cap - h->len) {
        h->len = h->cap;
        return;
    }
    memcpy(h->p + h->len, s, n);
    h->len += n;
}

/* n in decimal, at the end of buf[24]; returns where it starts. */
static const char *decimal(size_t n, char buf[24]) {
    char *p = buf + 23;
    *p = '\0';
    do *--p = (char)('0' + n % 10);
    while ((n /= 10) > 0);
    return p;
}

int dwf__rt_request(dwf__rt_conn *c, const char *method, const char *path, const char *const *headers,
                    const char *body, long timeout_ms, long *status, const dwf__rt_sink *sink,
                    char *err, size_t en) {
    size_t bl = body ? strlen(body) : 0;
    int post = strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
    /* the head in a local buffer: open_memstream alone cost ~21,000 instructions a request;
     * 8 KiB: a durable API request's head carries a session token (STS ones run to ~2 KiB).
     * Appended piece by piece: a snprintf per line cost ~700 instructions each, ~11,000 an
     * execution in bench/throughput.sh's Event row. */
    char head[8192];
    head_buf h = {head, 0, sizeof head};
    char clen[24];
    put(&h, method);
    put(&h, " ");
    put(&h, path);
    put(&h, " HTTP/1.1\r\nHost: ");
    put(&h, c->hostport);
    put(&h, "\r\nUser-Agent: dwf/" DWF_VERSION "\r\n");
    for (int i = 0; headers && headers[i]; i++) {
        put(&h, headers[i]);
        put(&h, "\r\n");
    }
    if (post) {
        put(&h, "Content-Length: ");
        put(&h, decimal(bl, clen));
        put(&h, "\r\n");
    }
    put(&h, "\r\n");
    if (h.len >= h.cap) {
        fail(err, en, "the request's head is longer than %zu bytes", sizeof head - 1);
        return -1;
    }
    size_t hl = h.len;
    /* On the stack, not malloc'd: a 16 KiB request is a large-bin one, for which glibc first
     * consolidates every small freed chunk (cJSON's), ~16,000 instructions a request. */
    reader rd, *r = &rd;
    int rc = -1;
    for (int attempt = 0; attempt < 2; attempt++) {
        int reused = c->fd >= 0;
        if (!reused && rt_connect(c, err, en) < 0) break;
        memset(r, 0, offsetof(reader, buf));
        r->fd = c->fd;
        r->deadline = timeout_ms > 0 ? mono_ms() + (double)timeout_ms : 0;
        r->err = err;
        r->en = en;
        int keep = 0, closed = 0;
        if (timeout_ms > 0 && c->rcvtimeo_ms != timeout_ms) {
            struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
            if (setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0) c->rcvtimeo_ms = timeout_ms;
        }
        r->timed_recv = timeout_ms > 0 && c->rcvtimeo_ms == timeout_ms;
        if (timeout_ms > 0 && bl > 65536) {
            /* a large checkpoint may fill the socket's buffer: its send must not outlast the
             * timeout either (small requests always fit, and cost no extra system call) */
            struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
            setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        }
        if (send_request(c->fd, head, hl, body, post ? bl : 0) < 0) {
            closed = errno == EPIPE || errno == ECONNRESET;
            fail(err, en, "send: %s", strerror(errno));
        } else {
            rc = read_answer(r, strcmp(method, "HEAD") == 0, status, sink, &keep);
            closed = !r->got_any && (r->eof || r->reset);
        }
        if (rc != 0 || !keep) dwf__rt_conn_close(c);
        /* a kept connection the server had closed: nothing of the answer came, send it again */
        if (rc == 0 || !reused || !closed) break;
    }
    return rc;
}
