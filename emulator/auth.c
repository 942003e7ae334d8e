/*
 * auth.c: SigV4 checking of the API server's requests, when `dwf serve` has keys.
 *
 * The canonical request is rebuilt from the request as received, by the same functions the
 * bootstrap signs with (aws/sigv4.h), so one implementation of the canonical forms serves both
 * sides: the raw path as sent (the signer encodes each label once more), the decoded query pairs
 * re-encoded and sorted, the headers named in SignedHeaders with the values received, and the
 * SHA-256 of the body as received. The errors are Lambda's: MissingAuthenticationTokenException,
 * IncompleteSignatureException, UnrecognizedClientException, InvalidSignatureException.
 *
 * What a signature must cover, as Lambda requires it: the body (the payload hash is always the
 * body's own; X-Amz-Content-Sha256, when sent, must be that same hash, so UNSIGNED-PAYLOAD,
 * which would let a captured request's body be swapped, is refused), the Host and the date
 * (both in SignedHeaders), a credential scope of this emulator's region and the `lambda`
 * service (`iam` or `sts` for the query protocol's POST /, also for us-east-1, where clients
 * sign IAM, a global service, and STS's global endpoint; a signature made for another service
 * or region is not one for this one), and a
 * date within 15 minutes of now. The signatures are compared in constant time.
 */
#include "emu.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigv4.h"

/* The Authorization header's parts and the credential scope. */
typedef struct sig_parts {
    const char *signed_headers, *signature, *amz_date;
    char region[64], service[64];
} sig_parts;

/* Does SignedHeaders (up to its ',' or ' ') name header h (lowercase, as signers write it)? */
static int signs_header(const char *signed_headers, const char *h)
{
    size_t len = strcspn(signed_headers, ", "), hl = strlen(h);
    for (const char *p = signed_headers; p < signed_headers + len;) {
        size_t n = strcspn(p, ";, ");
        if (n == hl && memcmp(p, h, n) == 0) return 1;
        p += n;
        if (*p == ';') p++;
        else break;
    }
    return 0;
}

/* Read the signature's parts and check what needs no computing: the key, the date, its skew.
 * 0, or -1 with err. */
static int sig_parse(dwf_emulator *e, const emu_request *r, sig_parts *p, dwf_error *err)
{
    const char *auth = dwf__emu_header(r, "Authorization");
    if (!auth) return dwf__emu_fail(err, "MissingAuthenticationTokenException", "Missing Authentication Token");
    const char *cred = strstr(auth, "Credential="), *sh = strstr(auth, "SignedHeaders="), *sig = strstr(auth, "Signature=");
    if (strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0 || !cred || !sh || !sig)
        return dwf__emu_fail(err, "IncompleteSignatureException", "Authorization header is not a SigV4 signature: %.80s", auth);
    p->signed_headers = sh + 14;
    p->signature = sig + 10;
    char akid[128] = "", date[16] = "";
    if (sscanf(cred + 11, "%127[^/]/%15[^/]/%63[^/]/%63[^/]/aws4_request", akid, date, p->region, p->service) != 4)
        return dwf__emu_fail(err, "IncompleteSignatureException", "malformed Credential in the Authorization header");
    if (strcmp(akid, e->access_key) != 0)
        return dwf__emu_fail(err, "UnrecognizedClientException", "The security token included in the request is invalid.");
    /* The query protocol's requests (POST /) are IAM's or STS's; every other request is Lambda's.
     * IAM is a global service that clients sign for us-east-1 whatever their region. */
    int query = dwf__emu_is_query_request(r);
    if (query ? strcmp(p->service, "iam") != 0 && strcmp(p->service, "sts") != 0 : strcmp(p->service, "lambda") != 0)
        return dwf__emu_fail(err, "InvalidSignatureException", "Credential should be scoped to correct service: '%s'. ",
                             query ? "iam' or 'sts" : "lambda");
    int global = query && strcmp(p->region, "us-east-1") == 0;
    if (!global && strcmp(p->region, e->region) != 0)
        return dwf__emu_fail(err, "InvalidSignatureException",
                             "Credential should be scoped to a valid region, not '%s'. ", p->region);
    if (!signs_header(p->signed_headers, "host") || !signs_header(p->signed_headers, "x-amz-date"))
        return dwf__emu_fail(err, "IncompleteSignatureException",
                             "The request signature must cover the 'host' and 'x-amz-date' headers "
                             "(SignedHeaders=%.80s)", p->signed_headers);
    const char *amz_date = p->amz_date = dwf__emu_header(r, "X-Amz-Date");
    if (!amz_date || strlen(amz_date) != 16 || strncmp(amz_date, date, 8) != 0)
        return dwf__emu_fail(err, "IncompleteSignatureException", "X-Amz-Date is missing or does not match the credential scope");
    struct tm tm = {0};
    if (!strptime(amz_date, "%Y%m%dT%H%M%SZ", &tm))
        return dwf__emu_fail(err, "IncompleteSignatureException", "X-Amz-Date is not YYYYMMDDTHHMMSSZ");
    double skew = difftime(timegm(&tm), time(NULL));
    if (skew > 900 || skew < -900)
        return dwf__emu_fail(err, "InvalidSignatureException", "Signature expired: %s is more than 15 minutes from now.",
                             amz_date);
    return 0;
}

/* The signature the request should carry, into want (65 bytes). 0, or -1 out of memory. */
static int sig_expected(dwf_emulator *e, const emu_request *r, const sig_parts *p, const char *payload_hash,
                        char want[65])
{
    char *path = strndup(r->uri, strcspn(r->uri, "?"));
    char *signed_headers = strndup(p->signed_headers, strcspn(p->signed_headers, ", "));
    char *names = signed_headers ? strdup(signed_headers) : NULL;
    int nh = 1;
    for (const char *h = signed_headers; h && *h; h++) nh += *h == ';';
    dwf__sigv4_param *qp = calloc((size_t)r->nq + 1, sizeof *qp);
    dwf__sigv4_header *hs = calloc((size_t)nh, sizeof *hs);
    char *query = NULL, *cr = NULL;
    int bad = !path || !names || !qp || !hs;
    for (int i = 0; !bad && i < r->nq; i++) qp[i] = (dwf__sigv4_param){r->q[i].name, r->q[i].value};
    nh = 0;
    for (char *h = bad ? NULL : names, *next; h && *h; h = next) { /* names: cut at each ';' */
        next = strchr(h, ';');
        if (next) *next++ = '\0';
        else next = h + strlen(h);
        hs[nh++] = (dwf__sigv4_header){h, dwf__emu_header(r, h)};
    }
    bad = bad || !(query = dwf__sigv4_canonical_query(qp, r->nq)) ||
          !(cr = dwf__sigv4_canonical_request(r->method, path, query, hs, nh, signed_headers, payload_hash)) ||
          dwf__sigv4_signature(e->secret_key, p->amz_date, p->region, p->service, cr, want) != 0;
    free(path);
    free(signed_headers);
    free(names);
    free(qp);
    free(hs);
    free(query);
    free(cr);
    return bad ? -1 : 0;
}

int dwf__emu_check_sigv4(dwf_emulator *e, emu_request *r, unsigned *status, dwf_error *err)
{
    *status = 403;
    sig_parts p;
    if (sig_parse(e, r, &p, err) != 0) return -1;
    unsigned char h32[32];
    char body_hash[65], want[65];
    SHA256((const unsigned char *)(r->body ? r->body : ""), r->len, h32);
    dwf__emu_hex(h32, 32, body_hash);
    const char *claimed = dwf__emu_header(r, "X-Amz-Content-Sha256");
    if (claimed && strcmp(claimed, body_hash) != 0)
        return dwf__emu_fail(err, "InvalidSignatureException",
                             "X-Amz-Content-Sha256 must be the SHA-256 of the body (the lambda service signs "
                             "the payload; '%.64s' is not accepted)", claimed);
    if (sig_expected(e, r, &p, body_hash, want) != 0) {
        *status = 500;
        return dwf__emu_fail(err, "ServiceException", "out of memory computing the request signature");
    }
    const char *sig = p.signature;
    if (strcspn(sig, ", ") != 64 || CRYPTO_memcmp(want, sig, 64) != 0)
        return dwf__emu_fail(err, "InvalidSignatureException",
                             "The request signature we calculated does not match the signature you provided. Check your "
                             "AWS Secret Access Key and signing method. Consult the service documentation for details.");
    return 0;
}
