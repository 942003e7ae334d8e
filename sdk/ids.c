/*
 * ids.c: operation identifiers, exactly as the official SDK makes them.
 *
 * Every durable context counts its operations from 1; an operation's step id is its dash path
 * of counters ("3", "2-1-4"), and the Id on the wire is the first 16 hex digits of the MD5 of
 * that path (OpenSSL's EVP interface). Names play no part, so the same code path gives the
 * same Ids in every invocation; that is what replay matches on.
 *
 * MD5 is fetched from the provider once per process: EVP_md5() makes OpenSSL 3 look the
 * algorithm up again on every digest (~9K instructions, as much as the rest of a quick step's
 * work on the workflow thread; callgrind, bench/RESULTS.md "Sequential steps").
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "core.h"

static pthread_once_t md5_once = PTHREAD_ONCE_INIT;
static EVP_MD *md5_fetched; /* kept for the process's life; NULL: EVP_md5() each time */

static void md5_fetch(void) { md5_fetched = EVP_MD_fetch(NULL, "MD5", NULL); }

void dwf_hash_id(const char *step_id, char out[17])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    static const char hex[] = "0123456789abcdef";
    pthread_once(&md5_once, md5_fetch);
    const EVP_MD *alg = md5_fetched ? md5_fetched : EVP_md5();
    if (!EVP_Digest(step_id, strlen(step_id), md, &n, alg, NULL) || n < 8) {
        /* Only a broken libcrypto gets here; an empty Id makes the service reject the update. */
        out[0] = '\0';
        return;
    }
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[16] = '\0';
}

char *dwf__child_step_id(const char *sid, int n)
{
    char *s = NULL;
    int rc = sid ? asprintf(&s, "%s-%d", sid, n) : asprintf(&s, "%d", n);
    return rc < 0 ? NULL : s;
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
