/*
 * tokens.c: checkpoint tokens, issued and verified without a row of their own (schema 12).
 *
 * A token is "<n>.<c>.<mac>": n the execution's number (executions.no, hex), c its place in the
 * count of tokens issued to that execution (1, 2, ...: executions.token_count, hex), and mac the
 * first 128 bits of HMAC-SHA256 over both under the store's own key (meta's token_key, store.c),
 * in hex. The execution's row, which every call that issues a token saves anyway, holds the
 * count and the live token; so issuing one writes no row of its own, where schema 11 inserted
 * one into `tokens` at every call (a page of the log per commit, at a random place: the key was
 * a UUID). What a row told, a token now proves:
 *   - issued by this store: the MAC holds only under this store's key (another store's
 *     token, or a made-up one, fails it);
 *   - for this execution: the number it names is the execution's (and is under the MAC);
 *   - issued already: its count is at most token_count (a count ahead of it could only be
 *     forged, since the MAC covers it; checked all the same).
 * The live token (the only one a checkpoint takes) is still the execution's live_token,
 * compared as text. A token these checks do not prove may be one issued before schema 12 (a
 * UUID): it is looked up in the table those were kept in, which is no longer written (store.c,
 * TOKEN_COUNT), and which a store made since holds empty.
 *
 * SHA-256 is OpenSSL's low-level one (under OPENSSL_API_COMPAT 1.1.1, as sdk/ids.c's MD5): the
 * EVP interface looks the algorithm up in a provider on every call, and its first use loads
 * OpenSSL's configuration (~9M instructions in a `dwf run`).
 */
#define OPENSSL_API_COMPAT 0x10100000L
#include "service_impl.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAC_BYTES 16 /* of HMAC-SHA256's 32: 128 bits, beyond guessing */

/* The HMAC's two keyed pads, hashed once per open (dwf__svc_token_init): SHA-256's state after
 * absorbing (K ^ ipad) and (K ^ opad). A token then costs two compressions, not four: about
 * 4,000 of each at-most-once step's instructions (callgrind). */
struct dwf__token_mac {
    SHA256_CTX inner, outer;
};

int dwf__svc_token_init(dwf_service *s)
{
    struct dwf__token_mac *m = calloc(1, sizeof *m);
    if (!m) return -1;
    /* the store's key (32 bytes, shorter than SHA-256's 64-byte block) is used as is */
    const unsigned char *key = dwf__store_token_key(s->st);
    unsigned char pad[SHA256_CBLOCK];
    memset(pad, 0x36, sizeof pad);
    for (int i = 0; i < DWF__TOKEN_KEY_LEN; i++) pad[i] ^= key[i];
    SHA256_Init(&m->inner);
    SHA256_Update(&m->inner, pad, sizeof pad);
    memset(pad, 0x5c, sizeof pad);
    for (int i = 0; i < DWF__TOKEN_KEY_LEN; i++) pad[i] ^= key[i];
    SHA256_Init(&m->outer);
    SHA256_Update(&m->outer, pad, sizeof pad);
    OPENSSL_cleanse(pad, sizeof pad);
    s->token_mac = m;
    return 0;
}

void dwf__svc_token_free(dwf_service *s)
{
    if (!s->token_mac) return;
    OPENSSL_cleanse(s->token_mac, sizeof *s->token_mac);
    free(s->token_mac);
    s->token_mac = NULL;
}

/* HMAC-SHA256 (RFC 2104) of msg under the store's key: H((K ^ opad) || H((K ^ ipad) || msg)),
 * from the pads' states. */
static void hmac_sha256(const struct dwf__token_mac *m, const unsigned char *msg, size_t n,
                        unsigned char out[SHA256_DIGEST_LENGTH])
{
    unsigned char inner[SHA256_DIGEST_LENGTH];
    SHA256_CTX c = m->inner;
    SHA256_Update(&c, msg, n);
    SHA256_Final(inner, &c);
    c = m->outer;
    SHA256_Update(&c, inner, sizeof inner);
    SHA256_Final(out, &c);
    OPENSSL_cleanse(&c, sizeof c);
}

/* v in lowercase hex without leading zeros ("0" for 0) at p; returns the end. */
static char *put_hex(char *p, unsigned long long v)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[16];
    int n = 0;
    do {
        tmp[n++] = hex[v & 15];
        v >>= 4;
    } while (v);
    while (n) *p++ = tmp[--n];
    return p;
}

/* The token of execution number no, count c: its text into out (DWF__TOKEN_LEN bytes). */
static void token_text(dwf_service *s, long long no, long long c, char out[DWF__TOKEN_LEN])
{
    /* what is signed: a label (so the key signs nothing else the same way), then both numbers
     * as 8 big-endian bytes each */
    unsigned char msg[8 + 16] = {'d', 'w', 'f', '-', 't', 'o', 'k', '1'};
    for (int i = 0; i < 8; i++) {
        msg[8 + i] = (unsigned char)((unsigned long long)no >> (56 - 8 * i));
        msg[16 + i] = (unsigned char)((unsigned long long)c >> (56 - 8 * i));
    }
    unsigned char mac[SHA256_DIGEST_LENGTH];
    hmac_sha256(s->token_mac, msg, sizeof msg, mac);
    static const char hex[] = "0123456789abcdef";
    /* "%llx.%llx." and the MAC's hex, without snprintf's format parsing; built in a buffer with
     * room for any two numbers and cut to out's size as snprintf did */
    char buf[16 + 1 + 16 + 1 + 2 * MAC_BYTES + 1];
    char *p = put_hex(buf, (unsigned long long)no);
    *p++ = '.';
    p = put_hex(p, (unsigned long long)c);
    *p++ = '.';
    for (int i = 0; i < MAC_BYTES; i++) {
        *p++ = hex[mac[i] >> 4];
        *p++ = hex[mac[i] & 15];
    }
    size_t n = (size_t)(p - buf);
    if (n > DWF__TOKEN_LEN - 1) n = DWF__TOKEN_LEN - 1;
    memcpy(out, buf, n);
    out[n] = '\0';
}

/* "<n>.<c>." at the start of token: 1 and the two numbers when it has that form (lowercase hex
 * without leading zeros, as token_text writes them), else 0 (a token of schema 11, or none). */
static int token_numbers(const char *token, long long *no, long long *c)
{
    unsigned long long v[2] = {0, 0};
    const char *p = token;
    for (int k = 0; k < 2; k++) {
        const char *start = p;
        for (; (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'); p++) {
            if (p - start >= 14) return 0; /* beyond 2^53: no count gets there */
            v[k] = v[k] << 4 | (unsigned long long)(*p <= '9' ? *p - '0' : *p - 'a' + 10);
        }
        if (p == start || *p != '.' || (*start == '0' && p - start > 1)) return 0;
        p++;
    }
    *no = (long long)v[0];
    *c = (long long)v[1];
    return 1;
}

int dwf__svc_token_issue(dwf_service *s, dwf__exec *e, char out[DWF__TOKEN_LEN], dwf_error *err)
{
    e->token_count++;
    token_text(s, e->no, e->token_count, out);
    return dwf__set_str(&e->live_token, out) != 0 ? oom(err) : 0;
}

void dwf__svc_token_retire(dwf__exec *e)
{
    free(e->live_token);
    e->live_token = NULL;
}

/* A token of schema 11 or before (a UUID): issued if its row is there. */
static int token_in_table(dwf_service *s, const dwf__exec *e, const char *token, dwf_error *err)
{
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, "SELECT 1 FROM tokens WHERE exec_no=?1 AND token=?2", "is", e->no,
                                       token);
    if (!q) return -1;
    int r = dwf__sql_step(s->st, q, err);
    dwf__sql_done(s->st, q);
    return r;
}

/* 1 if token is one this store's key signed for e, at most e's newest. */
static int token_proven(dwf_service *s, const dwf__exec *e, const char *token)
{
    long long no, c;
    if (!token_numbers(token, &no, &c) || no != e->no || c < 1 || c > e->token_count) return 0;
    char want[DWF__TOKEN_LEN];
    token_text(s, no, c, want);
    size_t n = strlen(want);
    /* compared in constant time: how much of a guess matched must not show in the answer's time */
    return strlen(token) == n && CRYPTO_memcmp(want, token, n) == 0;
}

int dwf__svc_token_ok(dwf_service *s, const dwf__exec *e, const char *token, int live_only, dwf_error *err)
{
    if (e->live_token && strcmp(e->live_token, token) == 0) return 1;
    if (live_only) return 0;
    /* Not proven: it may still be one issued before schema 12, which has its row. */
    return token_proven(s, e, token) ? 1 : token_in_table(s, e, token, err);
}
