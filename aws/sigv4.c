/*
 * sigv4.c: AWS Signature Version 4, by hand, with OpenSSL's SHA-256 (HMAC over it, below).
 *
 * Why by hand: libcurl can sign (CURLOPT_AWS_SIGV4), but Debian 12 ships libcurl 7.88.1, which
 * copies the request path into the canonical request verbatim. Every service but S3 wants each
 * path label URI-encoded twice there, and the durable execution API carries the execution ARN
 * (and callback ids) as one %-encoded path label: the wire path holds "arn%3Aaws%3Alambda..."
 * and the canonical URI must hold "arn%253Aaws%253Alambda...". libcurl gets that right only
 * from 8.14.0 on (and canonicalises the query only from 8.3.0), so with 7.88 every request
 * with an ARN in its path would be rejected with a signature mismatch. We build the canonical
 * request ourselves and hand libcurl a finished Authorization header.
 *
 * The shape follows @smithy/signature-v4 (what @aws-sdk/client-lambda uses) rule for rule, so
 * tests/deploy/sigv4_vectors.mjs can prove the result byte for byte against it:
 *   - canonical URI = UriEncode(wire path) with "%2F" turned back into "/" (so a literal '%'
 *     becomes "%25": the double encoding), empty, "." and ".." segments normalised away;
 *   - canonical query = names and values UriEncoded, sorted by encoded name, "name=value"
 *     joined by '&' (the string we then send, so what is signed is what is sent);
 *   - the signer adds x-amz-content-sha256 (smithy's applyChecksum defaults to true and the
 *     Lambda client leaves it so), and x-amz-security-token when there is a session token;
 *   - header values trimmed, inner runs of blanks folded to one space, CR/LF to a space.
 */
#include "sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a growable string: every append checks the allocation once, at the end ------------ */
typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_addn(sbuf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_add(sbuf *b, const char *s) { sb_addn(b, s, strlen(s)); }

/* Returns the finished string (caller frees) or NULL after an allocation failure. */
static char *sb_take(sbuf *b) {
    if (b->oom) {
        free(b->p);
        return NULL;
    }
    if (!b->p) return strdup("");
    return b->p;
}

static int unreserved(unsigned char ch) {
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* Runs of unreserved characters are appended whole: a byte at a time, the encoded ARN in the
 * path of every durable API call cost ~20,000 instructions a signature (and as much in
 * serve's check of it). */
static void sb_add_encoded(sbuf *b, const char *s, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && unreserved((unsigned char)s[run])) run++;
        if (run > i) sb_addn(b, s + i, run - i);
        if (run == n) break;
        unsigned char ch = (unsigned char)s[run];
        char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};
        sb_addn(b, esc, 3);
        i = run + 1;
    }
}

char *dwf__uri_encode(const char *s) {
    sbuf b = {0};
    sb_add_encoded(&b, s, strlen(s));
    return sb_take(&b);
}

static void hex_of(const unsigned char *d, size_t n, char *out) {
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

/* SHA-256, fetched from the provider once per process. EVP_sha256() and HMAC() look the
 * algorithm up again on every use (OpenSSL 3's implicit fetch): with the five HMACs and two
 * hashes of a signature that was about 150,000 instructions per signed request, more than
 * the rest of the signing together (callgrind of the bootstrap in bench/throughput.sh). A
 * fetched EVP_MD may be shared by threads. */
static const EVP_MD *sha256_md_fetched;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void) { sha256_md_fetched = EVP_MD_fetch(NULL, "SHA256", NULL); }

static const EVP_MD *sha256_md(void) {
    pthread_once(&sha256_once, sha256_fetch);
    return sha256_md_fetched ? sha256_md_fetched : EVP_sha256();
}

static int sha256_hex(const void *data, size_t n, char out[65]) {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data ? data : "", n, md, &mdlen, sha256_md(), NULL) || mdlen != 32) return -1;
    hex_of(md, 32, out);
    return 0;
}

/* HMAC-SHA256 (RFC 2104) over the fetched digest: H((K ^ opad) || H((K ^ ipad) || msg)), the
 * key padded to the 64-byte block (hashed first when longer). */
static int hmac256(const void *key, size_t keylen, const char *msg, unsigned char out[32]) {
    unsigned char k0[64], pad[64], inner[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    memset(k0, 0, sizeof k0);
    if (keylen > sizeof k0) {
        if (!EVP_Digest(key, keylen, k0, &len, sha256_md(), NULL) || len != 32) return -1;
    } else {
        memcpy(k0, key, keylen);
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    int ok = c != NULL;
    for (size_t i = 0; i < sizeof pad; i++) pad[i] = (unsigned char)(k0[i] ^ 0x36);
    ok = ok && EVP_DigestInit_ex(c, sha256_md(), NULL) && EVP_DigestUpdate(c, pad, sizeof pad) &&
         EVP_DigestUpdate(c, msg, strlen(msg)) && EVP_DigestFinal_ex(c, inner, &len) && len == 32;
    for (size_t i = 0; i < sizeof pad; i++) pad[i] = (unsigned char)(k0[i] ^ 0x5c);
    ok = ok && EVP_DigestInit_ex(c, sha256_md(), NULL) && EVP_DigestUpdate(c, pad, sizeof pad) &&
         EVP_DigestUpdate(c, inner, 32) && EVP_DigestFinal_ex(c, out, &len) && len == 32;
    EVP_MD_CTX_free(c);
    OPENSSL_cleanse(k0, sizeof k0);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(inner, sizeof inner);
    return ok ? 0 : -1;
}

/* Canonical URI as smithy computes it: normalise the segments of the wire path, then
 * UriEncode the whole path and turn "%2F" back into '/'. */
static void canonical_path(sbuf *b, const char *path) {
    size_t n = strlen(path);
    /* Segment boundaries of the normalised path: one more than its slashes, on the stack when
     * few (two arrays of the path's length were two large-bin mallocs a signature, each making
     * glibc consolidate its small freed chunks first). */
    size_t maxseg = 1;
    for (const char *q = path; *q; q++) maxseg += *q == '/';
    const char *seg_stack[16];
    size_t seglen_stack[16];
    int on_heap = maxseg > 16;
    const char **seg = on_heap ? malloc(maxseg * sizeof *seg) : seg_stack;
    size_t *seglen = on_heap ? malloc(maxseg * sizeof *seglen) : seglen_stack;
    if (!seg || !seglen) {
        if (on_heap) {
            free(seg);
            free(seglen);
        }
        b->oom = 1;
        return;
    }
    size_t nseg = 0;
    const char *p = path;
    while (*p) {
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.')) {
            /* skipped */
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            if (nseg) nseg--;
        } else {
            seg[nseg] = p;
            seglen[nseg++] = len;
        }
        if (!e) break;
        p = e + 1;
    }
    if (n && path[0] == '/') sb_add(b, "/");
    for (size_t i = 0; i < nseg; i++) {
        if (i) sb_add(b, "/");
        sb_add_encoded(b, seg[i], seglen[i]);
    }
    if (nseg && n && path[n - 1] == '/') sb_add(b, "/");
    if (on_heap) {
        free(seg);
        free(seglen);
    }
}

typedef struct enc_param {
    char *name, *value;
} enc_param;

static int cmp_param(const void *a, const void *b) {
    const enc_param *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* The canonical query, which is also the query we send. */
char *dwf__sigv4_canonical_query(const dwf__sigv4_param *q, int n) {
    if (n <= 0) return strdup("");
    enc_param *ps = calloc((size_t)n, sizeof *ps);
    if (!ps) return NULL;
    char *res = NULL;
    int i;
    for (i = 0; i < n; i++) {
        ps[i].name = dwf__uri_encode(q[i].name);
        ps[i].value = dwf__uri_encode(q[i].value ? q[i].value : "");
        if (!ps[i].name || !ps[i].value) goto done;
    }
    qsort(ps, (size_t)n, sizeof *ps, cmp_param);
    sbuf b = {0};
    for (i = 0; i < n; i++) {
        if (i) sb_add(&b, "&");
        sb_add(&b, ps[i].name);
        sb_add(&b, "=");
        sb_add(&b, ps[i].value);
    }
    res = sb_take(&b);
done:
    for (i = 0; i < n; i++) {
        free(ps[i].name);
        free(ps[i].value);
    }
    free(ps);
    return res;
}

/* A canonical header line "name:value\n" with the value trimmed and blanks folded. */
static void canonical_header(sbuf *b, const char *name, const char *value) {
    sb_add(b, name);
    sb_add(b, ":");
    const char *s = value;
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) n--;
    /* Words are appended whole, each after one blank where there were any. */
    for (size_t i = 0; i < n;) {
        size_t w = i;
        while (w < n && s[w] != ' ' && s[w] != '\t' && s[w] != '\r' && s[w] != '\n') w++;
        if (w > i) {
            if (i && (s[i - 1] == ' ' || s[i - 1] == '\t' || s[i - 1] == '\r' || s[i - 1] == '\n'))
                sb_add(b, " ");
            sb_addn(b, s + i, w - i);
        }
        i = w + 1;
    }
    sb_add(b, "\n");
}

char *dwf__sigv4_canonical_request(const char *method, const char *path, const char *query,
                                   const dwf__sigv4_header *headers, int nheaders,
                                   const char *signed_headers, const char *payload_hash) {
    /* Room for a durable API call's canonical request (~700 bytes) from the start, and under
     * glibc's large-bin size (1,008): growing 256 -> 512 -> 1,024 made a large-bin realloc, which
     * consolidates every small freed chunk first, in every signature. */
    sbuf cr = {malloc(1000), 0, 1000, 0};
    if (!cr.p) return NULL;
    cr.p[0] = '\0';
    sb_add(&cr, method);
    sb_add(&cr, "\n");
    canonical_path(&cr, path);
    sb_add(&cr, "\n");
    sb_add(&cr, query);
    sb_add(&cr, "\n");
    for (int i = 0; i < nheaders; i++)
        canonical_header(&cr, headers[i].name, headers[i].value ? headers[i].value : "");
    sb_add(&cr, "\n");
    sb_add(&cr, signed_headers);
    sb_add(&cr, "\n");
    sb_add(&cr, payload_hash);
    return sb_take(&cr);
}

/* The signing key, HMAC("AWS4" + secret, date) then region, service and "aws4_request": the
 * same for every request of a day to one service, so the last one is kept per thread and four
 * of a signature's five HMACs are skipped (a function signs each checkpoint call; `dwf serve`
 * checks each request its clients sign). The secret is recognised by its SHA-256, not kept. */
struct signing_key_cache {
    int valid;
    unsigned char secret_hash[32];
    char date[9], region[64], service[64];
    unsigned char key[32];
};
static _Thread_local struct signing_key_cache key_cache;

static int signing_key(const char *secret_key, const char *date, const char *region,
                       const char *service, unsigned char out[32]) {
    unsigned char h[32];
    unsigned int hlen = 0;
    int cacheable = strlen(region) < sizeof key_cache.region && strlen(service) < sizeof key_cache.service &&
                    EVP_Digest(secret_key, strlen(secret_key), h, &hlen, sha256_md(), NULL) && hlen == 32;
    if (cacheable && key_cache.valid && strcmp(key_cache.date, date) == 0 &&
        strcmp(key_cache.region, region) == 0 && strcmp(key_cache.service, service) == 0 &&
        CRYPTO_memcmp(key_cache.secret_hash, h, 32) == 0) {
        memcpy(out, key_cache.key, 32);
        return 0;
    }
    sbuf key = {0};
    sb_add(&key, "AWS4");
    sb_add(&key, secret_key);
    char *key_s = sb_take(&key);
    unsigned char k1[32], k2[32], k3[32];
    int ok = key_s && hmac256(key_s, strlen(key_s), date, k1) == 0 && hmac256(k1, 32, region, k2) == 0 &&
             hmac256(k2, 32, service, k3) == 0 && hmac256(k3, 32, "aws4_request", out) == 0;
    if (key_s) OPENSSL_cleanse(key_s, strlen(key_s));
    free(key_s);
    OPENSSL_cleanse(k1, sizeof k1);
    OPENSSL_cleanse(k2, sizeof k2);
    OPENSSL_cleanse(k3, sizeof k3);
    key_cache.valid = ok && cacheable;
    if (key_cache.valid) {
        memcpy(key_cache.secret_hash, h, 32);
        memcpy(key_cache.date, date, sizeof key_cache.date);
        strcpy(key_cache.region, region);
        strcpy(key_cache.service, service);
        memcpy(key_cache.key, out, 32);
    }
    return ok ? 0 : -1;
}

int dwf__sigv4_signature(const char *secret_key, const char *amz_date, const char *region,
                         const char *service, const char *canonical_request, char out[65]) {
    char date[9], cr_hash[65];
    if (strlen(amz_date) < 8) return -1;
    memcpy(date, amz_date, 8);
    date[8] = '\0';
    if (sha256_hex(canonical_request, strlen(canonical_request), cr_hash) < 0) return -1;

    sbuf sts = {0};
    sb_add(&sts, "AWS4-HMAC-SHA256\n");
    sb_add(&sts, amz_date);
    sb_add(&sts, "\n");
    sb_add(&sts, date);
    sb_add(&sts, "/");
    sb_add(&sts, region);
    sb_add(&sts, "/");
    sb_add(&sts, service);
    sb_add(&sts, "/aws4_request\n");
    sb_add(&sts, cr_hash);
    char *sts_s = sb_take(&sts);

    unsigned char k4[32], sig[32];
    int ok = sts_s && signing_key(secret_key, date, region, service, k4) == 0 &&
             hmac256(k4, 32, sts_s, sig) == 0;
    free(sts_s);
    OPENSSL_cleanse(k4, sizeof k4);
    if (!ok) return -1;
    hex_of(sig, 32, out);
    return 0;
}

void dwf__sigv4_result_free(dwf__sigv4_result *out) {
    if (!out) return;
    free(out->query);
    free(out->canonical_request);
    free(out->authorization);
    out->query = out->canonical_request = out->authorization = NULL;
}

static int cmp_header(const void *a, const void *b) {
    return strcmp(((const dwf__sigv4_header *)a)->name, ((const dwf__sigv4_header *)b)->name);
}

/* S3's canonical request: the path exactly as sent (S3 signs the single-encoded path and keeps
 * '.', '..' and empty segments, which are part of object keys). */
static char *s3_canonical_request(const dwf__sigv4_request *req, const char *query,
                                  const dwf__sigv4_header *hs, int nh, const char *signed_headers,
                                  const char *payload_hash) {
    sbuf cr = {0};
    sb_add(&cr, req->method);
    sb_add(&cr, "\n");
    sb_add(&cr, req->path);
    sb_add(&cr, "\n");
    sb_add(&cr, query);
    sb_add(&cr, "\n");
    for (int i = 0; i < nh; i++) canonical_header(&cr, hs[i].name, hs[i].value ? hs[i].value : "");
    sb_add(&cr, "\n");
    sb_add(&cr, signed_headers);
    sb_add(&cr, "\n");
    sb_add(&cr, payload_hash);
    return sb_take(&cr);
}

int dwf__sigv4_sign(const dwf__sigv4_creds *creds, const dwf__sigv4_request *req,
                    dwf__sigv4_result *out) {
    memset(out, 0, sizeof *out);
    int have_token = creds->session_token && creds->session_token[0];

    struct tm tm;
    if (!gmtime_r(&req->when, &tm)) return -1;
    if (strftime(out->amz_date, sizeof out->amz_date, "%Y%m%dT%H%M%SZ", &tm) != 16) return -1;
    char date[9];
    memcpy(date, out->amz_date, 8);
    date[8] = '\0';

    if (sha256_hex(req->body, req->body_len, out->payload_hash) < 0) return -1;
    out->query = dwf__sigv4_canonical_query(req->query, req->nquery);
    if (!out->query) goto fail;

    /* The signed headers: the caller's and the signer's own, sorted by name. */
    int nh = 0, cap = 5 + (req->nheaders > 0 ? req->nheaders : 0); /* 5: the signer's own */
    dwf__sigv4_header *hs = malloc((size_t)cap * sizeof *hs);
    if (!hs) goto fail;
    if (req->content_type) hs[nh++] = (dwf__sigv4_header){"content-type", req->content_type};
    hs[nh++] = (dwf__sigv4_header){"host", req->host};
    hs[nh++] = (dwf__sigv4_header){"x-amz-content-sha256", out->payload_hash};
    hs[nh++] = (dwf__sigv4_header){"x-amz-date", out->amz_date};
    if (have_token) hs[nh++] = (dwf__sigv4_header){"x-amz-security-token", creds->session_token};
    for (int i = 0; i < req->nheaders; i++) hs[nh++] = req->headers[i];
    qsort(hs, (size_t)nh, sizeof *hs, cmp_header);
    sbuf sh = {0};
    for (int i = 0; i < nh; i++) {
        if (i) sb_add(&sh, ";");
        sb_add(&sh, hs[i].name);
    }
    char *signed_headers = sb_take(&sh);
    out->canonical_request = signed_headers
        ? (req->s3_uri ? s3_canonical_request(req, out->query, hs, nh, signed_headers, out->payload_hash)
                       : dwf__sigv4_canonical_request(req->method, req->path, out->query, hs, nh,
                                                      signed_headers, out->payload_hash))
        : NULL;
    free(hs);
    if (!out->canonical_request) {
        free(signed_headers);
        goto fail;
    }

    char sig_hex[65];
    if (dwf__sigv4_signature(creds->secret_key, out->amz_date, creds->region, creds->service,
                             out->canonical_request, sig_hex) < 0) {
        free(signed_headers);
        goto fail;
    }

    sbuf scope = {0};
    sb_add(&scope, date);
    sb_add(&scope, "/");
    sb_add(&scope, creds->region);
    sb_add(&scope, "/");
    sb_add(&scope, creds->service);
    sb_add(&scope, "/aws4_request");
    char *scope_s = sb_take(&scope);
    if (!scope_s) {
        free(signed_headers);
        goto fail;
    }

    sbuf auth = {0};
    sb_add(&auth, "AWS4-HMAC-SHA256 Credential=");
    sb_add(&auth, creds->access_key);
    sb_add(&auth, "/");
    sb_add(&auth, scope_s);
    sb_add(&auth, ", SignedHeaders=");
    sb_add(&auth, signed_headers);
    free(signed_headers);
    sb_add(&auth, ", Signature=");
    sb_add(&auth, sig_hex);
    free(scope_s);
    out->authorization = sb_take(&auth);
    if (!out->authorization) goto fail;
    return 0;

fail:
    dwf__sigv4_result_free(out);
    return -1;
}
