/*
 * cg_util.h: what the emitters share: a growable text buffer and the escapers that make any
 * byte string safe inside a C string literal, a C comment, a JSON string, a YAML/HCL string or
 * a shell word. Internal to codegen/.
 */
#ifndef DWF_CG_UTIL_H
#define DWF_CG_UTIL_H

#include <stddef.h>

/* A growable byte buffer. An allocation failure sets `oom`, after which every write is a
 * no-op: callers check once at the end instead of after every write. */
typedef struct CgBuf {
    char *s;
    size_t len, cap;
    int oom;
} CgBuf;

void cg_buf_free(CgBuf *b);
void cg_buf_putn(CgBuf *b, const char *s, size_t n);
void cg_buf_puts(CgBuf *b, const char *s);
void cg_buf_putc(CgBuf *b, char c);
void cg_buf_printf(CgBuf *b, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Append b2's text to b (b2 is left untouched). */
void cg_buf_append(CgBuf *b, const CgBuf *b2);

/* A C string literal, quotes included: printable ASCII as is, `"` and `\` escaped, `??` split
 * as `?\?` (no trigraph can form), everything else as a three-digit octal escape. */
void cg_c_string(CgBuf *b, const char *s, size_t n);
/* Text safe inside a C block comment: no comment closer or opener (a '*' next to a '/' gets a
 * space between them), no `??`, no control or non-ASCII byte (written as \ooo). */
void cg_c_comment(CgBuf *b, const char *s, size_t n);
/* A JSON string literal, quotes included (control bytes as \u00XX, UTF-8 passed through). */
void cg_json_string(CgBuf *b, const char *s, size_t n);
/* A shell word in single quotes. */
void cg_sh_quote(CgBuf *b, const char *s);
/* The shortest decimal spelling of `d` that reads back as the same double. */
void cg_double(CgBuf *b, double d);

/* Hex SHA-256 of n bytes into out[65]. Returns 0, or -1 if libcrypto failed. */
int cg_sha256_hex(const void *data, size_t n, char out[65]);

#endif
