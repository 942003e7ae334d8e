/*
 * test_rt_runtime_http.c: lambda/runtime_http.c, the Runtime API's HTTP client, against a raw
 * TCP server on 127.0.0.1 that answers each request with scripted bytes, written in pieces
 * when a test asks, so that every framing the client reads is exercised: Content-Length,
 * chunked (with extensions and trailers), the end of the connection, 1xx answers first; a kept
 * connection reused, one the server closed while idle (reopened, the request sent once), an
 * answer that never comes (a timeout, not sent again). test_rt_lambda covers the Runtime API
 * loop over it against libmicrohttpd.
 */
#include "lambda_internal.h"
#include "tinytest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- the scripted server ------------------------------------------------------------------ */
typedef struct answer {
    const char *bytes; /* written as they are */
    int piece;         /* > 0: written this many bytes at a time */
    int close_after;   /* close the connection after writing */
    int silent;        /* read the request, answer nothing until the client closes, close */
    int delay_ms;      /* wait this long before answering */
    int ahead;         /* written before its request comes, once the test says go (release_ahead) */
} answer;

/* How long a test waits for something that must happen at once: only a hung test waits it out
 * (a slow or loaded machine never comes near it), so no test depends on how fast it runs. */
#define HUNG_S 60

static int lsock, port;
static answer answers[8];
static int nanswers, next_answer, accepts, requests, closes;
static int ahead_go, ahead_written;
static char last_request[4096];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static volatile int stopping;

static struct timespec hung_deadline(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* the clock a default condition variable waits on */
    ts.tv_sec += HUNG_S;
    return ts;
}

/* What the connection being served sent past the request read last: a client may send its next
 * request before the server has read the one before (an answer written ahead lets it), and
 * both then come in one recv. Emptied at each accept. */
static char rbuf[8192];
static size_t rlen;

/* Read one request (head, then Content-Length bytes). 0, or -1 at the end of the connection. */
static int read_request(int fd) {
    char *end;
    while (!(end = memmem(rbuf, rlen, "\r\n\r\n", 4))) {
        if (rlen >= sizeof rbuf - 1) return -1;
        ssize_t n = recv(fd, rbuf + rlen, sizeof rbuf - 1 - rlen, 0);
        if (n <= 0) return -1;
        rlen += (size_t)n;
    }
    size_t head = (size_t)(end + 4 - rbuf);
    char buf[sizeof rbuf];
    memcpy(buf, rbuf, head);
    buf[head] = '\0';
    const char *cl = strstr(buf, "Content-Length: ");
    size_t want = head + (cl ? strtoul(cl + 16, NULL, 10) : 0);
    if (want > sizeof rbuf - 1) return -1;
    while (rlen < want) {
        ssize_t n = recv(fd, rbuf + rlen, sizeof rbuf - 1 - rlen, 0);
        if (n <= 0) return -1;
        rlen += (size_t)n;
    }
    memcpy(buf, rbuf, want);
    buf[want] = '\0';
    memmove(rbuf, rbuf + want, rlen - want);
    rlen -= want;
    pthread_mutex_lock(&mu);
    snprintf(last_request, sizeof last_request, "%.*s", (int)sizeof last_request - 1, buf);
    requests++;
    pthread_mutex_unlock(&mu);
    return 0;
}

static void write_answer(int fd, const answer *a) {
    size_t n = strlen(a->bytes), step = a->piece > 0 ? (size_t)a->piece : n;
    for (size_t off = 0; off < n; off += step) {
        size_t k = n - off < step ? n - off : step;
        if (send(fd, a->bytes + off, k, MSG_NOSIGNAL) < 0) return;
        if (a->piece > 0) usleep(1000);
    }
}

/* When the next answer is one to write ahead: once the test says go (it has read the answer
 * before, so the two cannot arrive as one read), written before its request comes. */
static void write_ahead(int fd) {
    pthread_mutex_lock(&mu);
    if (next_answer >= nanswers || !answers[next_answer].ahead) {
        pthread_mutex_unlock(&mu);
        return;
    }
    struct timespec until = hung_deadline();
    while (!ahead_go && !stopping && pthread_cond_timedwait(&cv, &mu, &until) != ETIMEDOUT) {}
    answer a = answers[next_answer];
    pthread_mutex_unlock(&mu);
    write_answer(fd, &a);
    pthread_mutex_lock(&mu);
    ahead_written = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* The test's side: let the server write the answer marked ahead, and wait until it has (1), or
 * 0 when it never did. */
static int release_ahead(void) {
    pthread_mutex_lock(&mu);
    ahead_go = 1;
    pthread_cond_broadcast(&cv);
    struct timespec until = hung_deadline();
    while (!ahead_written && pthread_cond_timedwait(&cv, &mu, &until) != ETIMEDOUT) {}
    int done = ahead_written;
    pthread_mutex_unlock(&mu);
    return done;
}

static void *serve(void *arg) {
    (void)arg;
    while (!stopping) {
        int fd = accept(lsock, NULL, NULL);
        if (fd < 0) continue;
        rlen = 0;
        pthread_mutex_lock(&mu);
        accepts++;
        pthread_mutex_unlock(&mu);
        while (!stopping && read_request(fd) == 0) {
            pthread_mutex_lock(&mu);
            answer a = next_answer < nanswers ? answers[next_answer++] : (answer){"HTTP/1.1 500 X\r\nContent-Length: 0\r\n\r\n", 0, 0, 0, 0, 0};
            pthread_mutex_unlock(&mu);
            if (a.silent) { /* until the client gives up and closes (bounded: a hung test ends) */
                struct timeval tv = {HUNG_S, 0};
                setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
                char sink[256];
                while (recv(fd, sink, sizeof sink, 0) > 0) {}
                break;
            }
            if (a.ahead) continue; /* written before the request came */
            if (a.delay_ms > 0) usleep((useconds_t)a.delay_ms * 1000);
            write_answer(fd, &a);
            if (a.close_after) break;
            write_ahead(fd);
        }
        close(fd);
        pthread_mutex_lock(&mu);
        closes++;
        pthread_cond_broadcast(&cv);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

static void script(const answer *a, int n) {
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n; i++) answers[i] = a[i];
    nanswers = n;
    next_answer = accepts = requests = closes = 0;
    ahead_go = ahead_written = 0;
    last_request[0] = '\0';
    pthread_mutex_unlock(&mu);
}

/* Wait until the server has closed n connections since the script (1), or 0 if it never did. */
static int wait_closes(int n) {
    pthread_mutex_lock(&mu);
    struct timespec until = hung_deadline();
    while (closes < n && pthread_cond_timedwait(&cv, &mu, &until) != ETIMEDOUT) {}
    int done = closes >= n;
    pthread_mutex_unlock(&mu);
    return done;
}

static int get(int *v) {
    pthread_mutex_lock(&mu);
    int x = *v;
    pthread_mutex_unlock(&mu);
    return x;
}

/* ---- what the client handed over ----------------------------------------------------------- */
typedef struct got {
    char headers[2048];
    char body[2048];
    size_t blen;
} got;

static void on_header(void *arg, const char *line, size_t n) {
    got *g = arg;
    size_t l = strlen(g->headers);
    snprintf(g->headers + l, sizeof g->headers - l, "%.*s|", (int)n, line);
}

static int on_body(void *arg, const char *data, size_t n) {
    got *g = arg;
    if (g->blen + n >= sizeof g->body) return -1;
    memcpy(g->body + g->blen, data, n);
    g->blen += n;
    g->body[g->blen] = '\0';
    return 0;
}

static int request(dwf__rt_conn *c, const char *method, const char *body, long timeout_ms, long *status,
                   got *g, char *err) {
    memset(g, 0, sizeof *g);
    dwf__rt_sink sink = {on_header, on_body, g};
    const char *hdrs[] = {"Content-Type: application/json", NULL};
    return dwf__rt_request(c, method, "/2018-06-01/runtime/invocation/next", body ? hdrs : NULL, body,
                           timeout_ms, status, &sink, err, 256);
}

static dwf__rt_conn conn_to_server(void) {
    char hp[64];
    snprintf(hp, sizeof hp, "127.0.0.1:%d", port);
    dwf__rt_conn c;
    dwf__rt_conn_init(&c, hp);
    return c;
}

/* ---- the tests ------------------------------------------------------------------------------ */
static void test_content_length_and_reuse(void) {
    answer a[] = {{"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: r-1\r\nContent-Length: 7\r\n\r\n{\"a\":1}", 0, 0, 0, 0, 0},
                  {"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok", 3, 0, 0, 0, 0}};
    script(a, 2);
    dwf__rt_conn c = conn_to_server();
    long st = 0;
    got g;
    char err[256];
    TT_EQ_INT(0, request(&c, "GET", NULL, 0, &st, &g, err));
    TT_EQ_INT(200, (int)st);
    TT_EQ_STR("{\"a\":1}", g.body);
    TT_ASSERT(strstr(g.headers, "Lambda-Runtime-Aws-Request-Id: r-1|") != NULL);
    TT_ASSERT(strncmp(last_request, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: 127.0.0.1:", 66) == 0);
    TT_ASSERT(strstr(last_request, "Content-Length") == NULL);
    TT_EQ_INT(0, request(&c, "POST", "{\"r\":2}", 5000, &st, &g, err));
    TT_EQ_INT(202, (int)st);
    TT_EQ_STR("ok", g.body);
    TT_ASSERT(strstr(last_request, "Content-Type: application/json\r\nContent-Length: 7\r\n\r\n{\"r\":2}") != NULL);
    TT_EQ_INT(1, get(&accepts)); /* one connection for both */
    dwf__rt_conn_close(&c);
}

static void test_chunked_in_pieces(void) {
    answer a[] = {{"HTTP/1.1 100 Continue\r\n\r\n"
                   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n"
                   "4;ext=1\r\n{\"ev\r\n"
                   "A\r\nent\":\"xyz\"\r\n"
                   "1\r\n}\r\n0\r\nTrailer: t\r\n\r\n",
                   1, 0, 0, 0, 0},
                  {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz", 0, 0, 0, 0, 0}};
    script(a, 2);
    dwf__rt_conn c = conn_to_server();
    long st = 0;
    got g;
    char err[256];
    TT_EQ_INT(0, request(&c, "GET", NULL, 0, &st, &g, err));
    TT_EQ_INT(200, (int)st);
    TT_EQ_STR("{\"event\":\"xyz\"}", g.body);
    TT_ASSERT(strstr(g.headers, "X-A: b|") != NULL);
    TT_ASSERT(strstr(g.headers, "Continue") == NULL);
    TT_EQ_INT(0, request(&c, "GET", NULL, 0, &st, &g, err)); /* the same connection */
    TT_EQ_STR("z", g.body);
    TT_EQ_INT(1, get(&accepts));
    dwf__rt_conn_close(&c);
}

static void test_closed_connections(void) {
    /* framed by the end of the connection; then a kept connection the server closes after
     * answering, which the next request must find closed and reopen */
    answer a[] = {{"HTTP/1.1 200 OK\r\n\r\nuntil the end", 0, 1, 0, 0, 0},
                  {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none", 0, 1, 0, 0, 0},
                  {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\ntwo", 0, 0, 0, 0, 0}};
    script(a, 3);
    dwf__rt_conn c = conn_to_server();
    long st = 0;
    got g;
    char err[256];
    TT_EQ_INT(0, request(&c, "GET", NULL, 0, &st, &g, err));
    TT_EQ_STR("until the end", g.body);
    TT_EQ_INT(0, request(&c, "GET", NULL, 0, &st, &g, err));
    TT_EQ_STR("one", g.body);
    TT_ASSERT(wait_closes(2)); /* the server has closed it */
    TT_EQ_INT(0, request(&c, "POST", "{}", 5000, &st, &g, err));
    TT_EQ_STR("two", g.body);
    TT_EQ_INT(3, get(&accepts));
    TT_EQ_INT(3, get(&requests)); /* nothing sent twice */
    dwf__rt_conn_close(&c);
}

static void test_timeout_not_resent(void) {
    answer a[] = {{"", 0, 0, 1, 0, 0}, {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 0, 0, 0, 0}};
    script(a, 2);
    dwf__rt_conn c = conn_to_server();
    long st = 0;
    got g;
    char err[256] = "";
    TT_EQ_INT(-1, request(&c, "POST", "{}", 200, &st, &g, err));
    TT_ASSERT(strstr(err, "timeout") != NULL);
    TT_EQ_INT(-1, c.fd);
    /* the next request gets the second answer: the timed-out one was not sent again (the
     * server takes connections in order, so a second copy would have taken it) */
    TT_EQ_INT(0, request(&c, "GET", NULL, 0, &st, &g, err));
    TT_EQ_STR("ok", g.body);
    TT_EQ_INT(2, get(&requests));
    dwf__rt_conn_close(&c);
}

static void test_bad_answers(void) {
    answer a[] = {{"SMTP ready\r\n\r\n", 0, 1, 0, 0, 0}};
    script(a, 1);
    dwf__rt_conn c = conn_to_server();
    long st = 0;
    got g;
    char err[256] = "";
    TT_EQ_INT(-1, request(&c, "GET", NULL, 0, &st, &g, err));
    TT_ASSERT(strstr(err, "HTTP") != NULL);
    answer b[] = {{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", 0, 1, 0, 0, 0}};
    script(b, 1);
    TT_EQ_INT(-1, request(&c, "GET", NULL, 0, &st, &g, err));
    TT_ASSERT(strstr(err, "closed") != NULL);
    TT_EQ_INT(-1, dwf__rt_conn_init(&c, "no-port"));
    TT_EQ_INT(-1, dwf__rt_conn_init(&c, ":9001"));
}

/* The status line and the header names are read by hand (no sscanf, a name's length found once
 * per line): a status without a reason phrase and an HTTP/1.0 answer are read, a status that is
 * not three digits is refused; header names match whatever their case, and only whole: a
 * header whose name merely starts with "Content-Length" does not frame the body. */
static void test_status_lines_and_header_names(void) {
    answer a[] = {{"HTTP/1.0 404\r\ncontent-length: 2\r\n\r\nno", 0, 0, 0, 0, 0},
                  {"HTTP/1.1 200 OK\r\nContent-Length-Extra: 99\r\nCONTENT-LENGTH: 3\r\n\r\nabc", 0, 0, 0, 0, 0},
                  {"HTTP/1.1 2000 OK\r\n\r\n", 0, 1, 0, 0, 0},
                  {"HTTP/1.1 20 OK\r\n\r\n", 0, 1, 0, 0, 0}};
    script(a, 4);
    dwf__rt_conn c = conn_to_server();
    long st = 0;
    got g;
    char err[256] = "";
    TT_EQ_INT(0, request(&c, "GET", NULL, 0, &st, &g, err));
    TT_EQ_INT(404, (int)st);
    TT_EQ_STR("no", g.body);
    TT_EQ_INT(-1, c.fd); /* HTTP/1.0 without keep-alive: not kept */
    TT_EQ_INT(0, request(&c, "GET", NULL, 0, &st, &g, err));
    TT_EQ_INT(200, (int)st);
    TT_EQ_STR("abc", g.body);
    TT_ASSERT(strstr(g.headers, "Content-Length-Extra: 99|") != NULL);
    TT_EQ_INT(-1, request(&c, "GET", NULL, 0, &st, &g, err));
    TT_ASSERT(strstr(err, "not an HTTP/1.x answer") != NULL);
    TT_EQ_INT(-1, request(&c, "GET", NULL, 0, &st, &g, err));
    TT_ASSERT(strstr(err, "not an HTTP/1.x answer") != NULL);
    dwf__rt_conn_close(&c);
}

/* A post's timeout is the socket's SO_RCVTIMEO (set once while the timeout stays the same), and
 * the connection keeps it: a later request without a timeout (/next, which waits for the next
 * event as long as it takes) reads on past it, and a timed one whose answer comes in time is
 * read whole. The post with the short timeout finds its answer already there (written ahead,
 * after the connection's first request): however slowly the machine schedules the server, it
 * cannot time out. */
static void test_untimed_read_outlasts_socket_timeout(void) {
    answer a[] = {{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst", 0, 0, 0, 0, 0},
                  {"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\nok", 0, 0, 0, 0, 1},
                  {"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate", 0, 0, 0, 600, 0},
                  {"HTTP/1.1 202 Accepted\r\nContent-Length: 4\r\n\r\nsoon", 0, 0, 0, 50, 0}};
    script(a, 4);
    dwf__rt_conn c = conn_to_server();
    long st = 0;
    got g;
    char err[256] = "";
    TT_EQ_INT(0, request(&c, "GET", NULL, 0, &st, &g, err)); /* opens the connection */
    TT_EQ_STR("first", g.body);
    TT_ASSERT(release_ahead());
    TT_EQ_INT(0, request(&c, "POST", "{}", 200, &st, &g, err));
    TT_EQ_INT(202, (int)st);
    TT_EQ_STR("ok", g.body);
    TT_EQ_INT(200, (int)c.rcvtimeo_ms);
    TT_EQ_INT(0, request(&c, "GET", NULL, 0, &st, &g, err)); /* 600 ms: three socket timeouts */
    TT_EQ_STR("late", g.body);
    TT_EQ_INT(0, request(&c, "POST", "{}", 5000, &st, &g, err));
    TT_EQ_STR("soon", g.body);
    TT_EQ_INT(5000, (int)c.rcvtimeo_ms);
    TT_EQ_INT(1, get(&accepts)); /* all on one connection */
    dwf__rt_conn_close(&c);
}

int main(void) {
    lsock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    if (bind(lsock, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lsock, 8) != 0 ||
        getsockname(lsock, (struct sockaddr *)&sa, &sl) != 0) {
        printf("FAIL runtime_http_server: cannot listen\n");
        return 1;
    }
    port = ntohs(sa.sin_port);
    pthread_t th;
    pthread_create(&th, NULL, serve, NULL);
    TT_RUN(test_content_length_and_reuse);
    TT_RUN(test_chunked_in_pieces);
    TT_RUN(test_closed_connections);
    TT_RUN(test_timeout_not_resent);
    TT_RUN(test_bad_answers);
    TT_RUN(test_status_lines_and_header_names);
    TT_RUN(test_untimed_read_outlasts_socket_timeout);
    stopping = 1;
    shutdown(lsock, SHUT_RDWR);
    close(lsock);
    pthread_join(th, NULL);
    return TT_EXIT();
}
