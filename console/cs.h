/*
 * cs.h: what the console's files share (internal to console/; hosts see console.h).
 *
 *   console.c  the console itself: tokens, one request's checks (Host, token, CSRF), routing,
 *              the answers (security headers on every one), the assets
 *   server.c   `dwf console`'s own HTTP server (libmicrohttpd) handing requests to console.c
 *   pages.c    the pages: the executions, an execution; the forms' actions (callbacks, stop)
 *   graph.c    the workflow graph coloured by the operations' statuses, laid out by dot
 *   events.c   the server-sent event stream of an execution's page
 *   html.c     the text buffer, the escapes, the event framing (html.h)
 */
#ifndef DWF_CONSOLE_CS_H
#define DWF_CONSOLE_CS_H

#include <pthread.h>

#include "console.h"
#include "dlib.h"
#include "html.h"

struct dwf_console {
    dwf_console_opts o;
    char *host;              /* o.host, owned */
    char token[65];          /* what a browser shows to get in (require_token) */
    char csrf[65];           /* what every form carries back */
    char cookie[32];         /* the cookie's name: dwf_console_<8 hex>, one per console, so two
                              * consoles on one machine (cookies ignore ports) do not clash */
    int stopping;            /* atomic: the event streams end */
    int streams;             /* atomic: event streams open */
    struct MHD_Daemon *daemon; /* server.c (dwf console) */
    int port;
    pthread_mutex_t mu;      /* the graph layout cache below */
    char *layout_dot, *layout_svg;
};

typedef struct cs_param {
    char *name, *value; /* decoded */
} cs_param;

/* One request, checked (console.c) before a page or an action sees it. */
typedef struct cs_req {
    dwf_console *c;
    struct MHD_Connection *conn;
    const char *method;
    char *path;          /* decoded, below the prefix: "/", "/execution", "/assets/console.css" */
    cs_param *q, *form;  /* the query, and a POST's form fields */
    int nq, nform;
} cs_req;

/* A parameter by name (the first), or NULL. */
const char *cs_param_of(const cs_param *p, int n, const char *name);
const char *cs_query(const cs_req *r, const char *name);
const char *cs_field(const cs_req *r, const char *name);
void cs_log(dwf_console *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Answers (console.c): every one with the console's security headers. location: a 303. */
int cs_reply(cs_req *r, unsigned status, const char *ctype, const char *body, size_t len, const char *location);
/* Content-Security-Policy and friends, on every answer (the event stream's too). */
void cs_add_security_headers(struct MHD_Response *resp);
int cs_reply_html(cs_req *r, unsigned status, cs_buf *html); /* frees html */
/* A page saying what went wrong (escaped), with a link back. */
int cs_reply_problem(cs_req *r, unsigned status, const char *title, const char *detail);

/* The page frame: <head> (title escaped, the stylesheet and script), the header bar; end. */
void cs_page_begin(cs_buf *b, const char *title);
void cs_page_end(cs_buf *b);

/* pages.c */
int cs_page_list(cs_req *r);
int cs_page_execution(cs_req *r);
int cs_action_callback(cs_req *r);
int cs_action_stop(cs_req *r);
/* The part of the execution page that follows the execution (events.c re-reads it). */
int cs_execution_live(dwf_console *c, const char *arn, cs_buf *b, dwf_error *err);

/* graph.c: the workflow graph section of an execution's page. */
void cs_graph_section(dwf_console *c, cs_buf *b, const char *arn, const cJSON *ops, const char *exec_status);
/* The colour class of a status ("ok", "run", "bad", "idle"). */
const char *cs_status_class(const char *status);

/* events.c: the text/event-stream of one execution. */
int cs_events(cs_req *r);
/* A fingerprint of an execution's state (its status and every operation's status and update):
 * it changes whenever the page would. 0 when the execution cannot be read. */
unsigned long long cs_fingerprint(dwf_console *c, const char *arn, char status[32]);

#endif
