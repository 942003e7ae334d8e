/*
 * console.c: the web console's front door. Every request goes through console_request: its
 * path and query decoded, then the checks a browser-facing page needs and the AWS APIs beside
 * it do not (docs/security.md, "The web console"):
 *   - Host: without a token, only a Host naming this machine (a loopback address, localhost,
 *     or the --host given) is answered, so a page of another site cannot reach the console by
 *     rebinding its own name to 127.0.0.1;
 *   - the token, when the host asks for one (dwf serve with SigV4 keys, a console beyond
 *     loopback): shown once as ?token=..., it becomes an HttpOnly, SameSite=Strict cookie;
 *     anything else gets a page asking for it;
 *   - forms: POST only, with the console's per-start CSRF token in a field, and when the
 *     browser says where the form came from (Origin), it must be this very console;
 * and every answer carries a Content-Security-Policy that lets only the console's own
 * stylesheet and script run (no inline script), no framing and no referrer.
 * Then the route: the pages and actions (pages.c), the event stream (events.c), the assets.
 */
#include "cs.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "assets.h"

/* ---- the console ---------------------------------------------------------------------------- */

static int random_hex(char *out, size_t nbytes)
{
    unsigned char raw[64];
    if (nbytes > sizeof raw) return -1;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t n = getrandom(raw + got, nbytes - got, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        got += (size_t)n;
    }
    for (size_t i = 0; i < nbytes; i++) sprintf(out + 2 * i, "%02x", raw[i]);
    return 0;
}

int dwf_console_new(const dwf_console_opts *o, dwf_console **out, dwf_error *err)
{
    *out = NULL;
    char id[9];
    dwf_console *c = calloc(1, sizeof *c);
    if (!c || (o->host && !(c->host = strdup(o->host)))) {
        free(c);
        snprintf(err->type, sizeof err->type, "ServiceException");
        snprintf(err->message, sizeof err->message, "out of memory");
        return -1;
    }
    c->o = *o;
    c->o.host = c->host;
    if (random_hex(c->token, 32) != 0 || random_hex(c->csrf, 32) != 0 || random_hex(id, 4) != 0) {
        free(c->host);
        free(c);
        snprintf(err->type, sizeof err->type, "ServiceException");
        snprintf(err->message, sizeof err->message, "no random bytes for the console's tokens: %s", strerror(errno));
        return -1;
    }
    snprintf(c->cookie, sizeof c->cookie, "dwf_console_%s", id);
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return 0;
}

void dwf_console_attach(dwf_console *c, dwf_service *svc)
{
    __atomic_store_n(&c->o.svc, svc, __ATOMIC_RELEASE);
}

void dwf_console_shutdown(dwf_console *c)
{
    if (c) __atomic_store_n(&c->stopping, 1, __ATOMIC_SEQ_CST);
}

void dwf_console_free(dwf_console *c)
{
    if (!c) return;
    dwf_console_shutdown(c);
    if (c->daemon) dwf__mhd.MHD_stop_daemon(c->daemon);
    pthread_mutex_destroy(&c->mu);
    free(c->layout_dot);
    free(c->layout_svg);
    free(c->host);
    free(c);
}

const char *dwf_console_token(const dwf_console *c) { return c->token; }

int dwf_console_owns(const char *raw_uri)
{
    size_t n = strlen(DWF_CONSOLE_PREFIX);
    return raw_uri && strncmp(raw_uri, DWF_CONSOLE_PREFIX, n) == 0 &&
           (raw_uri[n] == '\0' || raw_uri[n] == '/' || raw_uri[n] == '?');
}

void cs_log(dwf_console *c, const char *fmt, ...)
{
    FILE *f = c->o.log ? c->o.log : stderr;
    va_list ap;
    va_start(ap, fmt);
    fputs("dwf console: ", f);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    va_end(ap);
    fflush(f);
}

/* ---- parameters ------------------------------------------------------------------------------ */

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
}

/* Percent-decode s[0..n) (and '+' as a space in a query or form: plus_space). */
static char *decode(const char *s, size_t n, int plus_space)
{
    char *o = malloc(n + 1);
    if (!o) return NULL;
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%' && i + 2 < n && hexval((unsigned char)s[i + 1]) >= 0 &&
            hexval((unsigned char)s[i + 2]) >= 0) {
            o[j++] = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else {
            o[j++] = plus_space && s[i] == '+' ? ' ' : s[i];
        }
    }
    o[j] = '\0';
    return o;
}

/* name=value&... into params. 0, or -1 out of memory. */
static int parse_params(const char *s, size_t n, cs_param **out, int *nout)
{
    const char *end = s + n;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        size_t len = amp ? (size_t)(amp - s) : (size_t)(end - s);
        if (len) {
            const char *eq = memchr(s, '=', len);
            size_t k = eq ? (size_t)(eq - s) : len;
            cs_param *np = realloc(*out, (size_t)(*nout + 1) * sizeof *np);
            if (!np) return -1;
            *out = np;
            np[*nout].name = decode(s, k, 1);
            np[*nout].value = eq ? decode(eq + 1, len - k - 1, 1) : strdup("");
            (*nout)++;
            if (!np[*nout - 1].name || !np[*nout - 1].value) return -1;
        }
        s += len + (amp ? 1 : 0);
    }
    return 0;
}

static void params_free(cs_param *p, int n)
{
    for (int i = 0; i < n; i++) {
        free(p[i].name);
        free(p[i].value);
    }
    free(p);
}

const char *cs_param_of(const cs_param *p, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(p[i].name, name) == 0) return p[i].value;
    return NULL;
}

const char *cs_query(const cs_req *r, const char *name) { return cs_param_of(r->q, r->nq, name); }
const char *cs_field(const cs_req *r, const char *name) { return cs_param_of(r->form, r->nform, name); }

static const char *header(const cs_req *r, const char *name)
{
    return dwf__mhd.MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* ---- answers ---------------------------------------------------------------------------------- */

/* Only the console's own stylesheet and script; no inline script, no plugin, no frame. */
#define CS_CSP                                                                                                  \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "      \
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

void cs_add_security_headers(struct MHD_Response *resp)
{
    dwf__mhd.MHD_add_response_header(resp, "Content-Security-Policy", CS_CSP);
    dwf__mhd.MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    dwf__mhd.MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    dwf__mhd.MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    dwf__mhd.MHD_add_response_header(resp, "Cache-Control", "no-store");
}

static int reply_with(cs_req *r, unsigned status, const char *ctype, const char *body, size_t len, const char *location,
                      const char *cookie)
{
    struct MHD_Response *resp = dwf__mhd.MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp) return MHD_NO;
    if (ctype) dwf__mhd.MHD_add_response_header(resp, "Content-Type", ctype);
    if (location) dwf__mhd.MHD_add_response_header(resp, "Location", location);
    if (cookie) dwf__mhd.MHD_add_response_header(resp, "Set-Cookie", cookie);
    cs_add_security_headers(resp);
    int res = dwf__mhd.MHD_queue_response(r->conn, status, resp);
    dwf__mhd.MHD_destroy_response(resp);
    return res;
}

int cs_reply(cs_req *r, unsigned status, const char *ctype, const char *body, size_t len, const char *location)
{
    return reply_with(r, status, ctype, body, len, location, NULL);
}

int cs_reply_html(cs_req *r, unsigned status, cs_buf *html)
{
    int res = html->oom ? cs_reply(r, 500, "text/plain; charset=utf-8", "out of memory\n", 14, NULL)
                        : cs_reply(r, status, "text/html; charset=utf-8", html->s ? html->s : "", html->len, NULL);
    cs_free(html);
    return res;
}

int cs_reply_problem(cs_req *r, unsigned status, const char *title, const char *detail)
{
    cs_buf b = {0};
    cs_page_begin(&b, title);
    cs_puts(&b, "<section class=\"problem\"><h1>");
    cs_text(&b, title);
    cs_puts(&b, "</h1><p>");
    cs_text(&b, detail);
    cs_puts(&b, "</p><p><a href=\"" DWF_CONSOLE_PREFIX "/\">Executions</a></p></section>");
    cs_page_end(&b);
    return cs_reply_html(r, status, &b);
}

void cs_page_begin(cs_buf *b, const char *title)
{
    cs_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
    cs_text(b, title);
    cs_puts(b, " - dwf console</title><link rel=\"icon\" href=\"" DWF_CONSOLE_PREFIX "/assets/favicon.svg\">"
               "<link rel=\"stylesheet\" href=\"" DWF_CONSOLE_PREFIX "/assets/console.css\">"
               "<script defer src=\"" DWF_CONSOLE_PREFIX "/assets/console.js\"></script></head>\n<body>"
               "<header class=\"bar\"><a class=\"brand\" href=\"" DWF_CONSOLE_PREFIX "/\">dwf console</a>"
               "<nav><a href=\"" DWF_CONSOLE_PREFIX "/\">Executions</a></nav></header>\n<main>");
}

void cs_page_end(cs_buf *b) { cs_puts(b, "</main></body></html>\n"); }

/* ---- the checks -------------------------------------------------------------------------------- */

/* Does Host (host[:port]) name this machine: a 127.x.y.z address, localhost, [::1], or the host
 * the console was told it listens on? */
static int host_is_ours(const dwf_console *c, const char *host)
{
    if (!host) return 0;
    size_t n = host[0] == '[' ? strcspn(host, "]") + 1 : strcspn(host, ":");
    if (n > 255 || (host[n] && host[n] != ':')) return 0;
    char h[256];
    memcpy(h, host, n);
    h[n] = '\0';
    if (strcasecmp(h, "localhost") == 0 || strcmp(h, "[::1]") == 0) return 1;
    if (c->host && strcmp(h, c->host) == 0 && strcmp(h, "0.0.0.0") != 0) return 1;
    unsigned a, b2, c2, d;
    char tail;
    return sscanf(h, "%u.%u.%u.%u%c", &a, &b2, &c2, &d, &tail) == 4 && a == 127 && b2 < 256 && c2 < 256 && d < 256;
}

static int same_secret(const char *given, const char *secret)
{
    return given && strlen(given) == strlen(secret) && CRYPTO_memcmp(given, secret, strlen(secret)) == 0;
}

/* The value of cookie `name` in a Cookie header, into out; 0 when absent. */
static int cookie_value(const char *hdr, const char *name, char *out, size_t n)
{
    size_t k = strlen(name);
    for (const char *p = hdr; p && *p;) {
        while (*p == ' ' || *p == ';') p++;
        if (strncmp(p, name, k) == 0 && p[k] == '=') {
            size_t len = strcspn(p + k + 1, ";");
            if (len >= n) return 0;
            memcpy(out, p + k + 1, len);
            out[len] = '\0';
            return 1;
        }
        p += strcspn(p, ";");
    }
    return 0;
}

/* The page that asks for the token (a GET form: the token then arrives as ?token=). */
static int ask_token(cs_req *r, int wrong)
{
    cs_buf b = {0};
    cs_page_begin(&b, "Token needed");
    cs_puts(&b, "<section class=\"problem\"><h1>This console needs its token</h1>"
                "<p>The command that started it printed the console's address with its token "
                "(<code>/console/?token=...</code>) when it started. Open that address, or paste the token here.</p>");
    if (wrong) cs_puts(&b, "<p class=\"bad\">That token is not this console's.</p>");
    cs_puts(&b, "<form method=\"get\" action=\"" DWF_CONSOLE_PREFIX "/\"><label>Token "
                "<input name=\"token\" autocomplete=\"off\" size=\"70\"></label> <button>Open</button>"
                "</form></section>");
    cs_page_end(&b);
    return cs_reply_html(r, 401, &b);
}

/* The same URL without its token parameter (after it became a cookie). */
static void url_without_token(const cs_req *r, cs_buf *u)
{
    cs_puts(u, DWF_CONSOLE_PREFIX);
    cs_puts(u, r->path);
    int first = 1;
    for (int i = 0; i < r->nq; i++) {
        if (strcmp(r->q[i].name, "token") == 0) continue;
        cs_puts(u, first ? "?" : "&");
        cs_url(u, r->q[i].name);
        cs_puts(u, "=");
        cs_url(u, r->q[i].value);
        first = 0;
    }
}

/* Is the token given, as ?token= or as the cookie? Answers the request when it is not, or when
 * ?token= has just become the cookie (a redirect). 1 = go on, 0 = answered (*res). */
static int check_token(cs_req *r, int *res)
{
    dwf_console *c = r->c;
    if (!c->o.require_token) return 1;
    char have[80];
    const char *ck = header(r, "Cookie");
    if (cookie_value(ck, c->cookie, have, sizeof have) && same_secret(have, c->token)) return 1;
    const char *given = cs_query(r, "token");
    if (!given || strcmp(r->method, "GET") != 0) {
        *res = ask_token(r, given != NULL);
        return 0;
    }
    if (!same_secret(given, c->token)) {
        *res = ask_token(r, 1);
        return 0;
    }
    char cookie[200];
    snprintf(cookie, sizeof cookie, "%s=%s; Path=" DWF_CONSOLE_PREFIX "; HttpOnly; SameSite=Strict", c->cookie,
             c->token);
    cs_buf u = {0};
    url_without_token(r, &u);
    *res = u.oom ? MHD_NO : reply_with(r, 303, "text/plain; charset=utf-8", "", 0, u.s, cookie);
    cs_free(&u);
    return 0;
}

/* A form: POST, urlencoded, the CSRF token, and from this console when the browser says. */
static int check_form(cs_req *r, const char *body, size_t len, int *res)
{
    const char *ct = header(r, "Content-Type");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
        *res = cs_reply_problem(r, 415, "Not a form", "the console's actions take the fields of its own forms");
        return 0;
    }
    const char *origin = header(r, "Origin"), *host = header(r, "Host");
    if (origin && strcmp(origin, "null") != 0) {
        const char *o = strstr(origin, "://");
        if (!o || !host || strcmp(o + 3, host) != 0) {
            *res = cs_reply_problem(r, 403, "Refused", "the form was not sent from this console's pages");
            return 0;
        }
    }
    if (parse_params(body ? body : "", len, &r->form, &r->nform) != 0) {
        *res = MHD_NO;
        return 0;
    }
    if (!same_secret(cs_field(r, "csrf"), r->c->csrf)) {
        *res = cs_reply_problem(r, 403, "Refused",
                                "the form carries no valid console token (CSRF): reload the page and send it again");
        return 0;
    }
    return 1;
}

/* ---- routes ------------------------------------------------------------------------------------ */

static int serve_asset(cs_req *r, const char *name)
{
    for (int i = 0; i < cs_nassets; i++)
        if (strcmp(cs_assets[i].name, name) == 0)
            return cs_reply(r, 200, cs_assets[i].ctype, (const char *)cs_assets[i].data, cs_assets[i].len, NULL);
    return cs_reply_problem(r, 404, "Not found", "no such file in the console");
}

static int route(cs_req *r, const char *body, size_t len)
{
    const char *p = r->path;
    int get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
    int post = strcmp(r->method, "POST") == 0;
    if (get && strncmp(p, "/assets/", 8) == 0) return serve_asset(r, p + 8);
    int res;
    if (!check_token(r, &res)) return res;
    if (get && strcmp(p, "/") == 0) return cs_page_list(r);
    if (get && strcmp(p, "/execution") == 0) return cs_page_execution(r);
    if (get && strcmp(p, "/events") == 0) return cs_events(r);
    int action = strcmp(p, "/callback") == 0 || strcmp(p, "/stop") == 0;
    if (action && !post)
        return cs_reply_problem(r, 405, "Use the form", "this action takes a POST from the console's form");
    if (action && !check_form(r, body, len, &res)) return res;
    if (action) return strcmp(p, "/stop") == 0 ? cs_action_stop(r) : cs_action_callback(r);
    return cs_reply_problem(r, 404, "Not found", "the console has no such page");
}

int dwf_console_handle(dwf_console *c, struct MHD_Connection *conn, const char *method, const char *raw_uri,
                       const char *body, size_t len)
{
    cs_req r = {.c = c, .conn = conn, .method = method};
    size_t plen = strcspn(raw_uri, "?"), pre = strlen(DWF_CONSOLE_PREFIX);
    int res;
    if (!dwf_console_owns(raw_uri)) return MHD_NO;
    r.path = plen > pre ? decode(raw_uri + pre, plen - pre, 0) : strdup("/");
    const char *query = raw_uri[plen] == '?' ? raw_uri + plen + 1 : NULL;
    if (!r.path || (query && parse_params(query, strlen(query), &r.q, &r.nq))) {
        res = MHD_NO;
    } else if (!__atomic_load_n(&c->o.svc, __ATOMIC_ACQUIRE)) {
        res = cs_reply(&r, 503, "text/plain; charset=utf-8", "the console is starting\n", 24, NULL);
    } else if (!c->o.require_token && !host_is_ours(c, header(&r, "Host"))) {
        res = cs_reply_problem(&r, 403, "Refused",
                               "this console answers only requests addressed to this machine (a loopback address or "
                               "localhost)");
    } else {
        res = route(&r, body, len);
    }
    free(r.path);
    params_free(r.q, r.nq);
    params_free(r.form, r.nform);
    return res;
}
