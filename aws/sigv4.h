/*
 * sigv4.h: AWS Signature Version 4 request signing for the Lambda transport (internal to
 * libdwf, dwf__ prefix). sigv4.c explains why it is done by hand instead of by libcurl.
 *
 * The signer works on the request exactly as it goes on the wire: the caller gives the path
 * already percent-encoded (each label encoded once with dwf__uri_encode), the query as raw
 * name/value pairs (the signer encodes and sorts them and hands back the string to send), and
 * the body bytes. It signs the headers the official JS signer (@smithy/signature-v4, as
 * @aws-sdk/client-lambda configures it) signs for these requests: content-type when there is
 * one, host, x-amz-content-sha256, x-amz-date and x-amz-security-token when there is a
 * session token, and any further headers the caller lists (aws calls: x-amz-target, S3's
 * headers). The caller must send every one of them with the values in the result.
 */
#ifndef DWF_SIGV4_H
#define DWF_SIGV4_H

#include <stddef.h>
#include <time.h>

typedef struct dwf__sigv4_creds {
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL or "" = none (no x-amz-security-token header) */
    const char *region;        /* e.g. "us-east-1" */
    const char *service;       /* "lambda" */
} dwf__sigv4_creds;

typedef struct dwf__sigv4_header {
    const char *name;  /* lowercase, as listed in SignedHeaders */
    const char *value; /* as received; trimmed and folded here; NULL = "" */
} dwf__sigv4_header;

typedef struct dwf__sigv4_param {
    const char *name;  /* raw, not encoded */
    const char *value; /* raw, not encoded */
} dwf__sigv4_param;

typedef struct dwf__sigv4_request {
    const char *method;             /* "GET", "POST" */
    const char *host;               /* the Host header: host, or host:port when not default */
    const char *path;               /* as sent: labels already percent-encoded once */
    const dwf__sigv4_param *query;  /* may be NULL when nquery == 0 */
    int nquery;
    const char *content_type;       /* NULL = the request has no Content-Type header */
    const void *body;               /* may be NULL when body_len == 0 */
    size_t body_len;
    time_t when;                    /* signing time (UTC seconds) */
    /* More headers to sign (the caller sends them too): lowercase names, no duplicates, none of
     * the ones the signer adds itself. x-amz-target, S3's x-amz-meta-*, ... May be NULL. */
    const struct dwf__sigv4_header *headers;
    int nheaders;
    int s3_uri; /* S3's canonical URI: the wire path as it is (no second encoding, no
                 * normalising of '.', '..' or empty segments) */
} dwf__sigv4_request;

typedef struct dwf__sigv4_result {
    char amz_date[17];        /* X-Amz-Date value, YYYYMMDDTHHMMSSZ */
    char payload_hash[65];    /* X-Amz-Content-Sha256 value, hex SHA-256 of the body */
    char *query;              /* the query string to send (canonical form, no '?'); malloc'd */
    char *canonical_request;  /* for tests and debugging; malloc'd */
    char *authorization;      /* the Authorization header value; malloc'd */
} dwf__sigv4_result;

/* Sign `req`. Returns 0 and fills *out (free with dwf__sigv4_result_free), or -1 when out of
 * memory or OpenSSL fails (then *out holds nothing to free). */
int dwf__sigv4_sign(const dwf__sigv4_creds *creds, const dwf__sigv4_request *req,
                    dwf__sigv4_result *out);
void dwf__sigv4_result_free(dwf__sigv4_result *out);

/* The pieces, for a verifier (dwf serve checks what clients sign with the same rules). */
/* The canonical query of raw name/value pairs (also the query string to send). malloc'd. */
char *dwf__sigv4_canonical_query(const dwf__sigv4_param *q, int n);
/* The canonical request: `path` as on the wire (encoded once more here), `query` canonical,
 * the headers in SignedHeaders order. malloc'd, NULL when out of memory. */
char *dwf__sigv4_canonical_request(const char *method, const char *path, const char *query,
                                   const dwf__sigv4_header *headers, int nheaders,
                                   const char *signed_headers, const char *payload_hash);
/* The hex signature of a canonical request made at amz_date (YYYYMMDDTHHMMSSZ) for the scope
 * <date>/region/service/aws4_request. 0, or -1 when OpenSSL fails or memory runs out. */
int dwf__sigv4_signature(const char *secret_key, const char *amz_date, const char *region,
                         const char *service, const char *canonical_request, char out[65]);

/* SigV4 UriEncode: every byte but A-Z a-z 0-9 - . _ ~ becomes %XX (uppercase hex), '/'
 * included. Returns a malloc'd string (caller frees) or NULL when out of memory. */
char *dwf__uri_encode(const char *s);

#endif
