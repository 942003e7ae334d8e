/*
 * aws.c: the `aws <service>.<Action> { params }` expression of step bodies (docs/aws.md).
 *
 * Everything service-specific comes from include/dwf_aws.def: this file knows the five
 * protocols, not the services. A call checks its parameters against the row (names, kinds),
 * reads the credentials, region and endpoint (aws_config.c), builds the request the row's
 * protocol describes, signs it with aws/sigv4.c, sends it with http.c's transport and turns
 * the response into a value, or an AWS error into the step's error: ErrorType the AWS error
 * code, ErrorData {"AwsService","StatusCode","RequestId","Retryable"}. A step without
 * `retry { on }` retries only what the SDKs' standard retry mode retries
 * (dwf__aws_not_retryable, which ops.c asks).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>

#include "aws_internal.h"
#include "sigv4.h"

/* ---- the table -------------------------------------------------------------------------- */
typedef enum { P_JSON10, P_JSON11, P_QUERY, P_REST_JSON, P_REST_XML } aws_protocol;

typedef struct aws_service {
    const char *name;
    aws_protocol protocol;
    const char *signing_name, *endpoint_prefix, *env_id, *target_prefix, *version;
} aws_service;

typedef struct aws_action {
    const char *service, *name, *method, *path, *required, *optional, *output, *iam, *arn, *retry;
} aws_action;

static const aws_service services[] = {
#define DWF_AWS_SERVICE(name, protocol, signing_name, endpoint_prefix, env_id, target_prefix, version) \
    {#name, P_##protocol, signing_name, endpoint_prefix, env_id, target_prefix, version},
#include "dwf_aws.def"
};

static const aws_action actions[] = {
#define DWF_AWS_ACTION(service, action, method, path, required, optional, output, iam, arn, retry) \
    {#service, #action, method, path, required, optional, output, iam, arn, retry},
#include "dwf_aws.def"
};

static const char *const retryable_codes[] = {
#define DWF_AWS_RETRYABLE(code) #code,
#include "dwf_aws.def"
};

typedef struct aws_header {
    const char *service, *name, *value;
} aws_header;
static const aws_header service_headers[] = {
#define DWF_AWS_HEADER(service, name, value) {#service, name, value},
#include "dwf_aws.def"
};

typedef struct aws_token {
    const char *service, *action, *param;
} aws_token;
static const aws_token token_params[] = {
#define DWF_AWS_TOKEN(service, action, param) {#service, #action, #param},
#include "dwf_aws.def"
};

static const aws_service *find_service(const char *name)
{
    for (size_t i = 0; i < sizeof services / sizeof *services; i++)
        if (strcmp(services[i].name, name) == 0) return &services[i];
    return NULL;
}

static const aws_action *find_action(const char *service, const char *action)
{
    for (size_t i = 0; i < sizeof actions / sizeof *actions; i++)
        if (strcmp(actions[i].service, service) == 0 && strcmp(actions[i].name, action) == 0)
            return &actions[i];
    return NULL;
}

/* ---- parameter words: "Name:kinds[@where[=arg]]" ---------------------------------------- */
typedef struct pspec {
    char name[64], kinds[8], where[16], arg[64];
} pspec;

/* Read the next word of a parameter list into *p; the rest of the list, or NULL at its end. */
static const char *next_spec(const char *s, pspec *p)
{
    while (*s == ' ') s++;
    if (!*s) return NULL;
    size_t n = strcspn(s, " ");
    char word[200];
    snprintf(word, sizeof word, "%.*s", (int)(n < sizeof word ? n : sizeof word - 1), s);
    memset(p, 0, sizeof *p);
    char *at = strchr(word, '@'), *colon = strchr(word, ':');
    if (at) {
        *at++ = '\0';
        char *eq = strchr(at, '=');
        if (eq) {
            *eq++ = '\0';
            snprintf(p->arg, sizeof p->arg, "%.63s", eq);
        }
        snprintf(p->where, sizeof p->where, "%.15s", at);
    }
    if (colon) {
        *colon++ = '\0';
        snprintf(p->kinds, sizeof p->kinds, "%.7s", colon);
    }
    snprintf(p->name, sizeof p->name, "%.63s", word);
    return s + n;
}

/* The spec of parameter `name` of the row (required or optional), or 0 when there is none. */
static int find_spec(const aws_action *a, const char *name, pspec *out, int *required)
{
    const char *lists[2] = {a->required, a->optional};
    for (int l = 0; l < 2; l++)
        for (const char *s = lists[l]; (s = next_spec(s, out));)
            if (strcmp(out->name, name) == 0) {
                if (required) *required = l == 0;
                return 1;
            }
    return 0;
}

/* Is v of one of the kinds (the letters of dwf_builtins.def, plus j: anything)? */
static int kind_ok(const char *kinds, const cJSON *v)
{
    for (const char *k = kinds; *k; k++) {
        if (*k == 'x' || *k == 'j') return 1;
        if ((*k == 's' && cJSON_IsString(v)) || (*k == 'n' && cJSON_IsNumber(v)) ||
            (*k == 'b' && cJSON_IsBool(v)) || (*k == 'a' && cJSON_IsArray(v)) ||
            (*k == 'o' && cJSON_IsObject(v)) || (*k == 'z' && cJSON_IsNull(v)))
            return 1;
    }
    return 0;
}

static const char *kind_words(const char *kinds)
{
    switch (kinds[0]) {
    case 's': return "a string";
    case 'n': return "a number";
    case 'b': return "a boolean";
    case 'a': return "an array";
    case 'o': return "an object";
    default: return "a value";
    }
}

/* The parameters against the row: an object, known names, required ones present, kinds right.
 * 0, or -1 with a TypeError recorded. */
static int check_params(dwf_ctx *c, const aws_action *a, const cJSON *params)
{
    char msg[400];
    pspec p;
    if (!cJSON_IsObject(params)) {
        snprintf(msg, sizeof msg, "aws %s.%s: the parameters must be an object, not %s", a->service,
                 a->name, dwf__type_name(params));
        dwf__set_error(c, "TypeError", msg);
        return -1;
    }
    for (const cJSON *it = params->child; it; it = it->next) {
        if (!it->string || cJSON_IsNull(it)) continue;
        if (!find_spec(a, it->string, &p, NULL))
            snprintf(msg, sizeof msg, "aws %s.%s: unknown parameter '%.60s'", a->service, a->name, it->string);
        else if (!kind_ok(p.kinds, it))
            snprintf(msg, sizeof msg, "aws %s.%s: parameter %s must be %s, not %s", a->service, a->name,
                     p.name, kind_words(p.kinds), dwf__type_name(it));
        else
            continue;
        dwf__set_error(c, "TypeError", msg);
        return -1;
    }
    for (const char *s = a->required; (s = next_spec(s, &p));) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, p.name);
        if (v && !cJSON_IsNull(v)) continue;
        snprintf(msg, sizeof msg, "aws %s.%s: missing required parameter %s", a->service, a->name, p.name);
        dwf__set_error(c, "TypeError", msg);
        return -1;
    }
    return 0;
}

/* ---- the request -------------------------------------------------------------------------- */
#define MAX_HEADERS 48
#define MAX_QUERY 16

typedef struct aws_request {
    const aws_service *svc;
    const aws_action *act;
    char *scheme_host;   /* "https://host[:port]" */
    char *host;          /* the Host header's value */
    dwf__buf path;       /* as sent: labels encoded once */
    int s3_path_style;   /* S3: the bucket is the first path label */
    dwf__sigv4_param query[MAX_QUERY];
    int nquery;
    dwf__sigv4_header headers[MAX_HEADERS]; /* signed and sent; name lowercase; both malloc'd */
    int nheaders;
    char *content_type;
    char *body;
    size_t body_len;
    int oom, too_many;
} aws_request;

static void req_free(aws_request *r)
{
    free(r->scheme_host);
    free(r->host);
    free(r->path.p);
    for (int i = 0; i < r->nquery; i++) {
        free((char *)r->query[i].name);
        free((char *)r->query[i].value);
    }
    for (int i = 0; i < r->nheaders; i++) {
        free((char *)r->headers[i].name);
        free((char *)r->headers[i].value);
    }
    free(r->content_type);
    free(r->body);
}

/* A parameter's text in a header, query or form field: strings as they are, numbers as
 * JavaScript prints them, booleans as true/false; others as JSON. */
static char *scalar_text(const cJSON *v)
{
    if (cJSON_IsString(v)) {
        size_t n;
        return dwf__string_bytes(v->valuestring ? v->valuestring : "", &n);
    }
    return dwf__to_text(v);
}

static void add_query(aws_request *r, const char *name, char *value)
{
    if (!value || r->nquery == MAX_QUERY) {
        r->oom |= !value;
        r->too_many |= r->nquery == MAX_QUERY;
        free(value);
        return;
    }
    char *n = strdup(name);
    if (!n) {
        free(value);
        r->oom = 1;
        return;
    }
    r->query[r->nquery++] = (dwf__sigv4_param){n, value};
}

/* A header to sign and send. Content-Type is the signer's own field. */
static void add_header(aws_request *r, const char *name, char *value)
{
    if (!value) {
        r->oom = 1;
        return;
    }
    if (strcasecmp(name, "content-type") == 0) {
        free(r->content_type);
        r->content_type = value;
        return;
    }
    char *n = strdup(name);
    if (!n || r->nheaders == MAX_HEADERS) {
        r->oom |= !n;
        r->too_many |= r->nheaders == MAX_HEADERS;
        free(n);
        free(value);
        return;
    }
    for (char *p = n; *p; p++) *p = (char)tolower((unsigned char)*p);
    r->headers[r->nheaders++] = (dwf__sigv4_header){n, value};
}

/* The body of a `j` parameter: a string's bytes, any other value's JSON text. */
static char *j_bytes(const cJSON *v, size_t *n)
{
    if (cJSON_IsString(v)) return dwf__string_bytes(v->valuestring ? v->valuestring : "", n);
    char *s = dwf__to_json(v);
    *n = s ? strlen(s) : 0;
    return s;
}

/* JSON protocols: the parameters as the body, `j` values that are not strings as their JSON
 * text (the service wants a string: an SQS message body, a Step Functions input). */
static void build_json(aws_request *r, const cJSON *params)
{
    cJSON *o = cJSON_CreateObject();
    pspec p;
    for (const cJSON *it = params->child; o && it; it = it->next) {
        if (!it->string || cJSON_IsNull(it) || !find_spec(r->act, it->string, &p, NULL)) continue;
        cJSON *v;
        if (strchr(p.kinds, 'j') && !cJSON_IsString(it)) {
            char *t = dwf__to_json(it);
            v = t ? cJSON_CreateString(t) : NULL;
            free(t);
        } else {
            v = cJSON_Duplicate(it, 1);
        }
        if (!v || !cJSON_AddItemToObject(o, it->string, v)) {
            cJSON_Delete(v);
            r->oom = 1;
        }
    }
    r->body = o ? dwf__to_json(o) : NULL;
    r->body_len = r->body ? strlen(r->body) : 0;
    r->oom |= !r->body;
    cJSON_Delete(o);
    char target[160];
    snprintf(target, sizeof target, "%s.%s", r->svc->target_prefix, r->act->name);
    add_header(r, "x-amz-target", strdup(target));
    add_header(r, "content-type", strdup(r->svc->protocol == P_JSON10 ? "application/x-amz-json-1.0"
                                                                       : "application/x-amz-json-1.1"));
}

/* QUERY: one form field "name=value", both UriEncoded. */
static void form_field(aws_request *r, dwf__buf *b, const char *name, const char *value)
{
    char *n = dwf__uri_encode(name), *v = dwf__uri_encode(value ? value : "");
    if (!n || !v) r->oom = 1;
    else {
        if (b->len) dwf__buf_str(b, "&");
        dwf__buf_str(b, n);
        dwf__buf_str(b, "=");
        dwf__buf_str(b, v);
    }
    free(n);
    free(v);
}

/* QUERY's flattening: an object's members as prefix.Member, an array's items as
 * prefix.member.N (an empty array as "prefix="), scalars as their text. */
static void form_value(aws_request *r, dwf__buf *b, const char *prefix, const cJSON *v)
{
    char name[512];
    if (cJSON_IsObject(v)) {
        for (const cJSON *it = v->child; it; it = it->next) {
            snprintf(name, sizeof name, "%s.%s", prefix, it->string ? it->string : "");
            form_value(r, b, name, it);
        }
    } else if (cJSON_IsArray(v)) {
        int i = 0;
        for (const cJSON *it = v->child; it; it = it->next) {
            snprintf(name, sizeof name, "%s.member.%d", prefix, ++i);
            form_value(r, b, name, it);
        }
        if (!i) form_field(r, b, prefix, "");
    } else if (!cJSON_IsNull(v)) {
        char *t = scalar_text(v);
        if (!t) r->oom = 1;
        else form_field(r, b, prefix, t);
        free(t);
    }
}

static void build_query(aws_request *r, const cJSON *params)
{
    dwf__buf b = {0};
    form_field(r, &b, "Action", r->act->name);
    form_field(r, &b, "Version", r->svc->version);
    pspec p;
    char name[512];
    for (const cJSON *it = params->child; it; it = it->next) {
        if (!it->string || cJSON_IsNull(it) || !find_spec(r->act, it->string, &p, NULL)) continue;
        if (strcmp(p.where, "entries") == 0 && cJSON_IsObject(it)) {
            int i = 0;
            for (const cJSON *e = it->child; e; e = e->next) {
                snprintf(name, sizeof name, "%s.entry.%d.Name", p.name, ++i);
                form_field(r, &b, name, e->string ? e->string : "");
                snprintf(name, sizeof name, "%s.entry.%d.Value", p.name, i);
                form_value(r, &b, name, e);
            }
        } else if (strchr(p.kinds, 'j') && !cJSON_IsString(it)) {
            char *t = dwf__to_json(it);
            if (!t) r->oom = 1;
            else form_field(r, &b, p.name, t);
            free(t);
        } else {
            form_value(r, &b, p.name, it);
        }
    }
    r->oom |= b.oom;
    r->body = b.oom ? NULL : (b.p ? b.p : strdup(""));
    if (b.oom) free(b.p);
    r->body_len = r->body ? strlen(r->body) : 0;
    add_header(r, "content-type", strdup("application/x-www-form-urlencoded"));
}

/* REST: a path label's value, UriEncoded; a greedy label keeps its '/'. */
static void path_label(aws_request *r, const char *value, int greedy)
{
    char *copy = strdup(value);
    if (!copy) {
        r->oom = 1;
        return;
    }
    char *seg = copy;
    for (;;) {
        char *slash = greedy ? strchr(seg, '/') : NULL;
        if (slash) *slash = '\0';
        char *e = dwf__uri_encode(seg);
        if (!e) r->oom = 1;
        else dwf__buf_str(&r->path, e);
        free(e);
        if (!slash) break;
        dwf__buf_str(&r->path, "/");
        seg = slash + 1;
    }
    free(copy);
}

/* REST: the row's path template with its labels filled in. S3 against AWS itself puts a
 * DNS-safe bucket in the host instead (virtual-host style), as the SDK does. */
static void build_path(aws_request *r, const cJSON *params, int bucket_in_host)
{
    const char *t = r->act->path;
    while (*t) {
        if (*t != '{') {
            size_t n = strcspn(t, "{");
            dwf__buf_add(&r->path, t, n);
            t += n;
            continue;
        }
        size_t n = strcspn(t, "}");
        char label[64];
        snprintf(label, sizeof label, "%.*s", (int)(n - 1 < sizeof label ? n - 1 : sizeof label - 1), t + 1);
        int greedy = label[0] && label[strlen(label) - 1] == '+';
        if (greedy) label[strlen(label) - 1] = '\0';
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(params, label);
        char *text = v ? scalar_text(v) : strdup("");
        t += n + (t[n] == '}');
        if (!text) {
            r->oom = 1;
            return;
        }
        if (bucket_in_host && strcmp(label, "Bucket") == 0) {
            if (*t == '/') t++; /* "/{Bucket}/{Key+}" -> "/{Key+}" */
            if (r->path.len == 0) dwf__buf_str(&r->path, "/");
        } else {
            path_label(r, text, greedy);
        }
        free(text);
    }
}

static void build_rest(aws_request *r, const cJSON *params, int bucket_in_host)
{
    build_path(r, params, bucket_in_host);
    pspec p;
    for (const cJSON *it = params->child; it; it = it->next) {
        if (!it->string || cJSON_IsNull(it) || !find_spec(r->act, it->string, &p, NULL)) continue;
        if (strcmp(p.where, "query") == 0) {
            add_query(r, p.arg, scalar_text(it));
        } else if (strcmp(p.where, "header") == 0) {
            add_header(r, p.arg, scalar_text(it));
        } else if (strcmp(p.where, "headers") == 0 && cJSON_IsObject(it)) {
            for (const cJSON *h = it->child; h; h = h->next) {
                char name[200];
                snprintf(name, sizeof name, "%s%s", p.arg, h->string ? h->string : "");
                add_header(r, name, scalar_text(h));
            }
        } else if (strcmp(p.where, "payload") == 0) {
            free(r->body);
            r->body = j_bytes(it, &r->body_len);
            r->oom |= !r->body;
            if (!r->content_type)
                r->content_type = strdup(cJSON_IsString(it) ? "application/octet-stream" : "application/json");
        }
    }
    /* A PUT or POST carries a body even when empty (S3 wants Content-Length: 0). */
    if (!r->body && (strcmp(r->act->method, "PUT") == 0 || strcmp(r->act->method, "POST") == 0)) {
        r->body = strdup("");
        r->oom |= !r->body;
    }
}

/* ---- the endpoint --------------------------------------------------------------------------- */
/* Is the bucket usable as a DNS label of the virtual host (the SDK's rule, without dots: TLS
 * wildcard certificates cover one label)? */
static int dns_bucket(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1])) return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '-')) return 0;
    return 1;
}

/* Split an endpoint URL into "scheme://host[:port]", the Host header and a base path. -1 when
 * it is not an http(s) URL. */
static int parse_endpoint(aws_request *r, const char *url, dwf__buf *base_path)
{
    int https = strncasecmp(url, "https://", 8) == 0;
    if (!https && strncasecmp(url, "http://", 7) != 0) return -1;
    const char *h = url + (https ? 8 : 7);
    size_t hn = strcspn(h, "/?#");
    if (hn == 0) return -1;
    r->scheme_host = strndup(url, (size_t)(h - url) + hn);
    /* The Host header as libcurl sends it: without the scheme's default port. */
    size_t keep = hn;
    if (https && hn > 4 && strncmp(h + hn - 4, ":443", 4) == 0) keep = hn - 4;
    if (!https && hn > 3 && strncmp(h + hn - 3, ":80", 3) == 0) keep = hn - 3;
    r->host = strndup(h, keep);
    const char *path = h + hn;
    size_t pn = strcspn(path, "?#");
    while (pn && path[pn - 1] == '/') pn--;
    dwf__buf_add(base_path, path, pn);
    if (!r->scheme_host || !r->host) r->oom = 1;
    return 0;
}

/* The endpoint: the configured override, else AWS's own (S3: the bucket's virtual host). */
static int resolve_endpoint(dwf_ctx *c, aws_request *r, const dwf__aws_config *cfg, const cJSON *params,
                            dwf__buf *base_path)
{
    char *url = dwf__aws_endpoint_override(cfg, r->svc->env_id);
    if (url) {
        r->s3_path_style = 1; /* a custom endpoint (s3rver, MinIO, LocalStack) knows no bucket hosts */
        int rc = parse_endpoint(r, url, base_path);
        if (rc != 0) {
            char msg[400];
            snprintf(msg, sizeof msg, "aws %s.%s: the endpoint '%.200s' (AWS_ENDPOINT_URL_%s or AWS_ENDPOINT_URL) "
                     "is not an http:// or https:// URL", r->svc->name, r->act->name, url, r->svc->env_id);
            dwf__set_error(c, "ConfigurationError", msg);
        }
        free(url);
        return rc;
    }
    char host[300];
    const cJSON *bucket = cJSON_GetObjectItemCaseSensitive(params, "Bucket");
    if (r->svc->protocol == P_REST_XML && cJSON_IsString(bucket) && dns_bucket(bucket->valuestring)) {
        snprintf(host, sizeof host, "https://%s.%s.%s.amazonaws.com", bucket->valuestring,
                 r->svc->endpoint_prefix, cfg->region);
        r->s3_path_style = 0;
    } else {
        snprintf(host, sizeof host, "https://%s.%s.amazonaws.com", r->svc->endpoint_prefix, cfg->region);
        r->s3_path_style = 1;
    }
    return parse_endpoint(r, host, base_path);
}

/* ---- signing and sending ------------------------------------------------------------------ */
static char *header_line(const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *l = malloc(n);
    if (l) snprintf(l, n, "%s: %s", name, value);
    return l;
}

/* Has any header value a line break (it would smuggle in headers of its own)? */
static const char *bad_header(const aws_request *r)
{
    for (int i = 0; i < r->nheaders; i++)
        if (strpbrk(r->headers[i].value, "\r\n") || strpbrk(r->headers[i].name, "\r\n: ")) return r->headers[i].name;
    if (r->content_type && strpbrk(r->content_type, "\r\n")) return "content-type";
    return NULL;
}

/* Sign r and send it. 0 with *out filled, or -1 with the error recorded. */
static int sign_and_send(dwf_ctx *c, aws_request *r, const dwf__aws_config *cfg, dwf__http_reply *out)
{
    dwf__sigv4_creds creds = {cfg->access_key, cfg->secret_key, cfg->session_token, cfg->region,
                              r->svc->signing_name};
    dwf__sigv4_request sreq = {r->act->method, r->host, r->path.p ? r->path.p : "/", r->query, r->nquery,
                               r->content_type, r->body, r->body_len, time(NULL), r->headers, r->nheaders,
                               r->svc->protocol == P_REST_XML};
    dwf__sigv4_result sig;
    if (dwf__sigv4_sign(&creds, &sreq, &sig) != 0) {
        dwf__set_error(c, "OutOfMemory", "aws: signing the request failed");
        return -1;
    }
    dwf__buf url = {0};
    dwf__buf_str(&url, r->scheme_host);
    dwf__buf_str(&url, sreq.path);
    if (sig.query[0]) {
        dwf__buf_str(&url, "?");
        dwf__buf_str(&url, sig.query);
    }
    char *lines[MAX_HEADERS + 8];
    int n = 0;
    lines[n++] = header_line("Host", r->host);
    lines[n++] = header_line("X-Amz-Date", sig.amz_date);
    lines[n++] = header_line("X-Amz-Content-Sha256", sig.payload_hash);
    lines[n++] = header_line("Authorization", sig.authorization);
    if (cfg->session_token && *cfg->session_token) lines[n++] = header_line("X-Amz-Security-Token", cfg->session_token);
    if (r->content_type) lines[n++] = header_line("Content-Type", r->content_type);
    for (int i = 0; i < r->nheaders; i++) lines[n++] = header_line(r->headers[i].name, r->headers[i].value);
    int oom = url.oom;
    for (int i = 0; i < n; i++) oom |= !lines[i];
    int rc = -1;
    if (oom) dwf__set_error(c, "OutOfMemory", "aws: out of memory building the request");
    else
        rc = dwf__http_send(c, r->act->method, url.p, (const char *const *)lines, n, r->body, r->body_len, 0, out);
    for (int i = 0; i < n; i++) free(lines[i]);
    free(url.p);
    dwf__sigv4_result_free(&sig);
    return rc;
}

/* ---- the response --------------------------------------------------------------------------- */
static const char *reply_header(const dwf__http_reply *rep, const char *name)
{
    char lower[128];
    snprintf(lower, sizeof lower, "%s", name);
    for (char *p = lower; *p; p++) *p = (char)tolower((unsigned char)*p);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(rep->headers, lower);
    return cJSON_IsString(h) ? h->valuestring : NULL;
}

static int valid_utf8(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char ch = (unsigned char)s[i];
        int len = ch < 0x80 ? 1 : (ch >> 5) == 6 ? 2 : (ch >> 4) == 14 ? 3 : (ch >> 3) == 30 ? 4 : 0;
        if (!len || i + (size_t)len > n) return 0;
        for (int k = 1; k < len; k++)
            if (((unsigned char)s[i + k] >> 6) != 2) return 0;
        i += (size_t)len;
    }
    return 1;
}

/* A response member of kind `kinds` from text: numbers and booleans parsed, `j` parsed as JSON
 * when it parses. */
static cJSON *member_value(const char *kinds, const char *text, size_t n)
{
    if (kinds[0] == 'n') return cJSON_CreateNumber(strtod(text, NULL));
    if (kinds[0] == 'b') return cJSON_CreateBool(strcasecmp(text, "true") == 0);
    if (kinds[0] == 'j') {
        cJSON *v = n ? dwf__parse_json(text, n, NULL) : NULL;
        if (v) return v;
    }
    return dwf__new_string(text, n);
}

/* A body member: text when it is UTF-8 (or JSON for `j`), else base64 with BodyEncoding. */
static int add_body_member(cJSON *o, const pspec *p, const dwf__http_reply *rep)
{
    const char *b = rep->body ? rep->body : "";
    if (valid_utf8(b, rep->body_len))
        return cJSON_AddItemToObject(o, p->name, member_value(p->kinds, b, rep->body_len)) ? 0 : -1;
    char *enc = malloc(4 * ((rep->body_len + 2) / 3) + 1);
    if (!enc) return -1;
    EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)b, (int)rep->body_len);
    int ok = cJSON_AddStringToObject(o, p->name, enc) && cJSON_AddStringToObject(o, "BodyEncoding", "base64");
    free(enc);
    return ok ? 0 : -1;
}

/* REST: the row's output members, from the status, the headers and the body. */
static cJSON *rest_output(const aws_action *a, const dwf__http_reply *rep)
{
    cJSON *o = cJSON_CreateObject();
    pspec p;
    int ok = o != NULL;
    for (const char *s = a->output; ok && (s = next_spec(s, &p));) {
        if (strcmp(p.where, "status") == 0) {
            ok = cJSON_AddNumberToObject(o, p.name, (double)rep->status) != NULL;
        } else if (strcmp(p.where, "header") == 0) {
            const char *v = reply_header(rep, p.arg);
            if (v) ok = cJSON_AddItemToObject(o, p.name, member_value(p.kinds, v, strlen(v)));
        } else if (strcmp(p.where, "headers") == 0) {
            cJSON *m = cJSON_CreateObject();
            size_t pn = strlen(p.arg);
            for (const cJSON *h = rep->headers ? rep->headers->child : NULL; m && h; h = h->next)
                if (h->string && strncasecmp(h->string, p.arg, pn) == 0 && cJSON_IsString(h))
                    cJSON_AddStringToObject(m, h->string + pn, h->valuestring);
            ok = m && cJSON_AddItemToObject(o, p.name, m);
        } else if (strcmp(p.where, "payload") == 0) {
            ok = add_body_member(o, &p, rep) == 0;
        }
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* QUERY: the children of <ActionResult>. */
static cJSON *query_output(const aws_action *a, const dwf__http_reply *rep, char err[128])
{
    char *root = NULL;
    cJSON *doc = dwf__xml_to_json(rep->body, rep->body_len, &root, err);
    free(root);
    if (!doc) return NULL;
    char name[96];
    snprintf(name, sizeof name, "%sResult", a->name);
    cJSON *res = cJSON_IsObject(doc) ? cJSON_DetachItemFromObjectCaseSensitive(doc, name) : NULL;
    cJSON_Delete(doc);
    if (!res || !cJSON_IsObject(res)) {
        cJSON_Delete(res);
        res = cJSON_CreateObject();
    }
    return res;
}

/* ---- errors ---------------------------------------------------------------------------------- */
typedef struct aws_error {
    char code[128];
    char message[600];
    char request_id[128];
} aws_error;

/* "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException" -> the part after '#';
 * "Code:http://internal.amazon.com/..." (x-amzn-ErrorType) -> the part before ':'. */
static void set_code(aws_error *e, const char *raw)
{
    const char *hash = strrchr(raw, '#');
    const char *s = hash ? hash + 1 : raw;
    size_t n = strcspn(s, ":;,");
    snprintf(e->code, sizeof e->code, "%.*s", (int)(n < sizeof e->code ? n : sizeof e->code - 1), s);
}

static void json_error(aws_error *e, const dwf__http_reply *rep)
{
    cJSON *doc = rep->body_len ? dwf__parse_json(rep->body, rep->body_len, NULL) : NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "__type");
    if (!cJSON_IsString(t)) t = cJSON_GetObjectItemCaseSensitive(doc, "code");
    if (!cJSON_IsString(t)) t = cJSON_GetObjectItemCaseSensitive(doc, "Type");
    const char *hdr = reply_header(rep, "x-amzn-ErrorType");
    /* SQS's JSON protocol names the code its XML API had in this header (the SDKs prefer it) */
    const char *query_err = reply_header(rep, "x-amzn-query-error");
    if (query_err) set_code(e, query_err);
    else if (hdr) set_code(e, hdr);
    else if (cJSON_IsString(t)) set_code(e, t->valuestring);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "message");
    if (!cJSON_IsString(m)) m = cJSON_GetObjectItemCaseSensitive(doc, "Message");
    if (!cJSON_IsString(m)) m = cJSON_GetObjectItemCaseSensitive(doc, "errorMessage");
    if (cJSON_IsString(m)) snprintf(e->message, sizeof e->message, "%s", m->valuestring);
    cJSON_Delete(doc);
}

static void xml_error(aws_error *e, const dwf__http_reply *rep)
{
    char *root = NULL, err[128];
    cJSON *doc = rep->body_len ? dwf__xml_to_json(rep->body, rep->body_len, &root, err) : NULL;
    const cJSON *er = root && strcmp(root, "Error") == 0 ? doc : cJSON_GetObjectItemCaseSensitive(doc, "Error");
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(er, "Code");
    const cJSON *msg = cJSON_GetObjectItemCaseSensitive(er, "Message");
    const cJSON *rid = cJSON_GetObjectItemCaseSensitive(doc, "RequestId");
    if (!cJSON_IsString(rid)) rid = cJSON_GetObjectItemCaseSensitive(er, "RequestId");
    if (cJSON_IsString(code)) set_code(e, code->valuestring);
    if (cJSON_IsString(msg)) snprintf(e->message, sizeof e->message, "%s", msg->valuestring);
    if (cJSON_IsString(rid)) snprintf(e->request_id, sizeof e->request_id, "%s", rid->valuestring);
    cJSON_Delete(doc);
    free(root);
}

/* A code for a response that names none (a HEAD has no body), as the SDKs name them. */
static const char *status_code_name(long status)
{
    switch (status) {
    case 301: return "PermanentRedirect";
    case 304: return "NotModified";
    case 400: return "BadRequest";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 412: return "PreconditionFailed";
    case 429: return "TooManyRequestsException";
    case 503: return "ServiceUnavailable";
    default: return status >= 500 ? "InternalFailure" : "UnknownError";
    }
}

static int in_words(const char *words, const char *code)
{
    size_t n = strlen(code);
    for (const char *s = words; (s = strstr(s, code)); s += n)
        if ((s == words || s[-1] == ' ') && (s[n] == ' ' || s[n] == '\0')) return 1;
    return 0;
}

/* Retried as the SDKs' standard mode retries: throttling and transient codes, 5xx, 429. */
static int is_retryable(const aws_action *a, const char *code, long status)
{
    if (status >= 500 || status == 429) return 1;
    for (size_t i = 0; i < sizeof retryable_codes / sizeof *retryable_codes; i++)
        if (strcmp(retryable_codes[i], code) == 0) return 1;
    return in_words(a->retry, code);
}

/* Record the error: ErrorType the code, ErrorData what a handler may want to look at. */
static void raise_error(dwf_ctx *c, const aws_action *a, const aws_error *e, long status)
{
    char msg[800];
    snprintf(msg, sizeof msg, "%s.%s: %s", a->service, a->name,
             e->message[0] ? e->message : status ? "the service answered with an error" : "");
    cJSON *data = cJSON_CreateObject();
    cJSON_AddStringToObject(data, "AwsService", a->service);
    cJSON_AddNumberToObject(data, "StatusCode", (double)status);
    if (e->request_id[0]) cJSON_AddStringToObject(data, "RequestId", e->request_id);
    cJSON_AddBoolToObject(data, "Retryable", is_retryable(a, e->code, status));
    char *data_text = data ? dwf__to_json(data) : NULL;
    cJSON_Delete(data);
    cJSON *err = cJSON_CreateObject();
    if (!err || !data_text || !cJSON_AddStringToObject(err, "ErrorType", e->code) ||
        !cJSON_AddStringToObject(err, "ErrorMessage", msg) ||
        !cJSON_AddStringToObject(err, "ErrorData", data_text)) {
        cJSON_Delete(err);
        free(data_text);
        dwf__set_error(c, "OutOfMemory", "aws: out of memory reading an error");
        return;
    }
    free(data_text);
    dwf__set_error_obj(c, err);
}

static void reply_error(dwf_ctx *c, const aws_request *r, const dwf__http_reply *rep)
{
    aws_error e;
    memset(&e, 0, sizeof e);
    if (r->svc->protocol == P_QUERY || r->svc->protocol == P_REST_XML) xml_error(&e, rep);
    else json_error(&e, rep);
    if (!e.code[0]) snprintf(e.code, sizeof e.code, "%s", status_code_name(rep->status));
    const char *rid = reply_header(rep, "x-amzn-requestid");
    if (!rid) rid = reply_header(rep, "x-amz-request-id");
    if (rid && !e.request_id[0]) snprintf(e.request_id, sizeof e.request_id, "%s", rid);
    raise_error(c, r->act, &e, rep->status);
}

/* Lambda: a function that threw answers 200 with X-Amz-Function-Error; the step fails with the
 * payload's errorType, as Step Functions' Lambda integration does. */
static int function_error(dwf_ctx *c, const aws_request *r, const dwf__http_reply *rep)
{
    const char *fe = reply_header(rep, "x-amz-function-error");
    if (!fe) return 0;
    aws_error e;
    memset(&e, 0, sizeof e);
    cJSON *doc = rep->body_len ? dwf__parse_json(rep->body, rep->body_len, NULL) : NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "errorType");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(doc, "errorMessage");
    snprintf(e.code, sizeof e.code, "%s", cJSON_IsString(t) ? t->valuestring : "Lambda.Unknown");
    snprintf(e.message, sizeof e.message, "%s", cJSON_IsString(m) ? m->valuestring : fe);
    const char *rid = reply_header(rep, "x-amzn-requestid");
    if (rid) snprintf(e.request_id, sizeof e.request_id, "%s", rid);
    cJSON_Delete(doc);
    raise_error(c, r->act, &e, rep->status);
    return 1;
}

static dwf_val *reply_value(dwf_ctx *c, const aws_request *r, const dwf__http_reply *rep)
{
    if (rep->status < 200 || rep->status > 299) {
        reply_error(c, r, rep);
        return dwf_null(c);
    }
    if (r->svc->protocol == P_REST_JSON && function_error(c, r, rep)) return dwf_null(c);
    cJSON *v = NULL;
    char err[128] = "";
    switch (r->svc->protocol) {
    case P_JSON10:
    case P_JSON11:
        v = rep->body_len ? dwf__parse_json(rep->body, rep->body_len, err) : cJSON_CreateObject();
        break;
    case P_QUERY: v = query_output(r->act, rep, err); break;
    case P_REST_JSON:
    case P_REST_XML: v = rest_output(r->act, rep); break;
    }
    if (!v && err[0]) {
        char msg[400];
        snprintf(msg, sizeof msg, "aws %s.%s: the response could not be read: %s", r->svc->name, r->act->name, err);
        dwf__set_error(c, "SerdesFailed", msg);
        return dwf_null(c);
    }
    return dwf__own(c, v);
}

/* ---- idempotency tokens ------------------------------------------------------------------------ */
/* The row's token parameter when the call does not give it (DWF_AWS_TOKEN): a UUID-shaped hash
 * of the execution ARN, the operation id, the poll check's number and the call's ordinal among
 * this attempt's token calls. A step's retry or replay runs its body again from the start, so
 * it sends the same tokens; another call, step or execution sends another. Returns the params
 * to send: `params` itself, or a new object (*own, the caller frees); NULL = no memory. */
static const cJSON *with_token(dwf_ctx *c, const aws_action *a, const cJSON *params, cJSON **own)
{
    *own = NULL;
    for (size_t i = 0; i < sizeof token_params / sizeof *token_params; i++) {
        const aws_token *t = &token_params[i];
        if (strcmp(t->service, a->service) != 0 || strcmp(t->action, a->name) != 0) continue;
        const cJSON *given = cJSON_GetObjectItemCaseSensitive(params, t->param);
        if (given && !cJSON_IsNull(given)) return params;
        int round = 0, ordinal = dwf__next_token(c, &round);
        const char *arn = dwf__execution_arn(c), *op = dwf__operation_id(c);
        char seed[600];
        snprintf(seed, sizeof seed, "%.400s\n%.100s\n%d\n%d", arn ? arn : "", op ? op : "", round, ordinal);
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int n = 0;
        if (!EVP_Digest(seed, strlen(seed), md, &n, EVP_sha256(), NULL) || n < 16) return NULL;
        char uuid[37];
        snprintf(uuid, sizeof uuid, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7], md[8], md[9], md[10], md[11], md[12],
                 md[13], md[14], md[15]);
        *own = cJSON_Duplicate(params, 1);
        if (!*own) return NULL;
        cJSON_DeleteItemFromObjectCaseSensitive(*own, t->param); /* a null one */
        if (!cJSON_AddStringToObject(*own, t->param, uuid)) {
            cJSON_Delete(*own);
            *own = NULL;
            return NULL;
        }
        return *own;
    }
    return params;
}

/* ---- the call ---------------------------------------------------------------------------------- */
/* A mocked call (dwf test: `mock aws "service.Action"`), asked after the parameters are checked
 * and before credentials are read, so a test needs none. RETURN: the value is the action's
 * output (null: {}). FAIL: the error is raised as the service's would be (ErrorType the code,
 * ErrorData with StatusCode 400 and Retryable by the same code rules), so the step's retry
 * policy treats it as it treats the real one. 0 when not mocked, else 1 with *out set. */
static int aws_mocked(dwf_ctx *c, const aws_action *a, const cJSON *params, dwf_val **out)
{
    char name[160];
    snprintf(name, sizeof name, "%s.%s", a->service, a->name);
    dwf_mock_call call = {.kind = DWF_MOCK_AWS, .name = name, .request = params};
    dwf_mock_answer ans;
    int m = dwf__mock(c, &call, &ans);
    if (m == DWF_MOCK_PASS) return 0;
    if (m == DWF_MOCK_FAIL) {
        aws_error e;
        memset(&e, 0, sizeof e);
        snprintf(e.code, sizeof e.code, "%s", ans.error_type);
        snprintf(e.message, sizeof e.message, "%s", ans.error_message[0] ? ans.error_message : "mocked error");
        cJSON_Delete(ans.value);
        raise_error(c, a, &e, 400);
        *out = dwf_null(c);
        return 1;
    }
    cJSON *v = ans.value && !cJSON_IsNull(ans.value) ? ans.value : cJSON_CreateObject();
    if (v != ans.value) cJSON_Delete(ans.value);
    *out = dwf__own(c, v); /* NULL v: OutOfMemory */
    return 1;
}

static int build_request(dwf_ctx *c, aws_request *r, const dwf__aws_config *cfg, const cJSON *params)
{
    dwf__buf base = {0};
    if (resolve_endpoint(c, r, cfg, params, &base) != 0) {
        free(base.p);
        return -1;
    }
    if (base.len) dwf__buf_add(&r->path, base.p, base.len);
    free(base.p);
    switch (r->svc->protocol) {
    case P_JSON10:
    case P_JSON11: build_json(r, params); break;
    case P_QUERY: build_query(r, params); break;
    case P_REST_JSON: build_rest(r, params, 0); break;
    case P_REST_XML: build_rest(r, params, !r->s3_path_style); break;
    }
    if (r->path.len == 0) dwf__buf_str(&r->path, "/");
    for (size_t i = 0; i < sizeof service_headers / sizeof *service_headers; i++)
        if (strcmp(service_headers[i].service, r->svc->name) == 0)
            add_header(r, service_headers[i].name, strdup(service_headers[i].value));
    const char *bad = bad_header(r);
    char msg[300];
    if (r->oom || r->path.oom) {
        dwf__set_error(c, "OutOfMemory", "aws: out of memory building the request");
    } else if (r->too_many) {
        snprintf(msg, sizeof msg, "aws %s.%s: too many headers or query parameters", r->svc->name, r->act->name);
        dwf__set_error(c, "TypeError", msg);
    } else if (bad) {
        snprintf(msg, sizeof msg, "aws %s.%s: header '%.60s' has an invalid name or a line break in its value",
                 r->svc->name, r->act->name, bad);
        dwf__set_error(c, "TypeError", msg);
    } else {
        return 0;
    }
    return -1;
}

dwf_val *dwf_aws(dwf_ctx *c, const char *service, const char *action, dwf_val *params)
{
    char msg[300];
    const aws_action *a = service && action ? find_action(service, action) : NULL;
    if (!a) {
        snprintf(msg, sizeof msg, "aws %.60s.%.60s: no such service action (include/dwf_aws.def)",
                 service ? service : "?", action ? action : "?");
        dwf__set_error(c, "TypeError", msg);
        return dwf_null(c);
    }
    if (!dwf__in_step(c)) {
        snprintf(msg, sizeof msg, "aws %s.%s outside a step body: its result would differ on replay",
                 a->service, a->name);
        dwf__set_error(c, "NonDeterministicCall", msg);
        return dwf_null(c);
    }
    cJSON *empty = NULL;
    if (!params || cJSON_IsNull(params)) params = empty = cJSON_CreateObject();
    if (!params || check_params(c, a, params) != 0) {
        cJSON_Delete(empty);
        if (!params) dwf__set_error(c, "OutOfMemory", "aws: out of memory");
        return dwf_null(c);
    }
    cJSON *tokened = NULL;
    const cJSON *sent = with_token(c, a, params, &tokened);
    if (!sent) {
        cJSON_Delete(empty);
        dwf__set_error(c, "OutOfMemory", "aws: out of memory");
        return dwf_null(c);
    }
    dwf__aws_config cfg;
    dwf_val *result = NULL;
    if (aws_mocked(c, a, sent, &result)) {
        cJSON_Delete(tokened);
        cJSON_Delete(empty);
        if (!dwf_failed(c)) dwf__secret_answer(a->service, a->name, result);
        return result;
    }
    if (dwf__aws_config_load(&cfg) != 0) {
        char m[700];
        snprintf(m, sizeof m, "aws %s.%s: %s", a->service, a->name, cfg.err);
        dwf__set_error(c, cfg.err_type, m);
        result = dwf_null(c);
    } else {
        aws_request r;
        memset(&r, 0, sizeof r);
        r.svc = find_service(a->service);
        r.act = a;
        dwf__http_reply rep;
        if (build_request(c, &r, &cfg, sent) == 0 && sign_and_send(c, &r, &cfg, &rep) == 0) {
            result = reply_value(c, &r, &rep);
            if (!dwf_failed(c)) dwf__secret_answer(a->service, a->name, result);
            dwf__http_reply_free(&rep);
        } else {
            result = dwf_null(c);
        }
        req_free(&r);
    }
    dwf__aws_config_free(&cfg);
    cJSON_Delete(tokened);
    cJSON_Delete(empty);
    return result;
}

int dwf__aws_not_retryable(const cJSON *err)
{
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(err, "ErrorData");
    if (!cJSON_IsString(d) || !strstr(d->valuestring, "\"AwsService\"")) return 0;
    cJSON *data = dwf__parse_json(d->valuestring, strlen(d->valuestring), NULL);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(data, "Retryable");
    int no = cJSON_IsString(cJSON_GetObjectItemCaseSensitive(data, "AwsService")) && cJSON_IsFalse(r);
    cJSON_Delete(data);
    return no;
}
