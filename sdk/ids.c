/*
 * ids.c: operation identifiers, exactly as the official SDK makes them.
 *
 * Every durable context counts its operations from 1; an operation's step id is its dash path
 * of counters ("3", "2-1-4"), and the Id on the wire is the first 16 hex digits of the MD5 of
 * that path. Names play no part, so the same code path gives the same Ids in every invocation;
 * that is what replay matches on.
 *
 * The digest is OpenSSL's MD5() (declared under OPENSSL_API_COMPAT 1.1.1: OpenSSL 3 deprecates
 * the low-level digests), not EVP_Digest: EVP looks the algorithm up in a provider on every
 * call (~9K instructions a step), and its first use loads OpenSSL's configuration and providers
 * (~9M instructions, milliseconds of every `dwf run`; bench/RESULTS.md "Sequential steps").
 */
#define OPENSSL_API_COMPAT 0x10100000L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/md5.h>
#include "core.h"

void dwf_hash_id(const char *step_id, char out[17])
{
    unsigned char md[MD5_DIGEST_LENGTH];
    static const char hex[] = "0123456789abcdef";
    MD5((const unsigned char *)step_id, strlen(step_id), md);
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[16] = '\0';
}

char *dwf__child_step_id(const char *sid, int n)
{
    /* By hand: asprintf's format parse, vfprintf and shrinking realloc cost ~1,200
     * instructions for every durable operation. */
    char digits[16], *d = digits + sizeof digits;
    unsigned u = n < 0 ? 0u - (unsigned)n : (unsigned)n;
    do *--d = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    if (n < 0) *--d = '-';
    size_t dl = (size_t)(digits + sizeof digits - d), sl = sid ? strlen(sid) + 1 : 0;
    char *s = malloc(sl + dl + 1);
    if (!s) return NULL;
    if (sid) {
        memcpy(s, sid, sl - 1);
        s[sl - 1] = '-';
    }
    memcpy(s + sl, d, dl);
    s[sl + dl] = '\0';
    return s;
}

char *dwf__next_step_id(dwf_ctx *c)
{
    c->counter++;
    return dwf__child_step_id(c->step_id, c->counter);
}

int dwf__step_id_cmp(const char *a, const char *b)
{
    while (*a && *b) {
        char *ea, *eb;
        long x = strtol(a, &ea, 10), y = strtol(b, &eb, 10);
        if (ea == a || eb == b) return strcmp(a, b); /* not a number: fall back to text */
        if (x != y) return x < y ? -1 : 1;
        a = *ea == '-' ? ea + 1 : ea;
        b = *eb == '-' ? eb + 1 : eb;
    }
    return (*a != 0) - (*b != 0);
}
