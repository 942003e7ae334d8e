/*
 * input.h: text from outside (a file named by `@file`, stdin, a request body) checked before
 * anything trusts it: read with a bound, and JSON text held to what JSON is (no NUL byte, valid
 * UTF-8, finite numbers), with the byte offset of the first problem.
 */
#ifndef DWF_UTIL_INPUT_H
#define DWF_UTIL_INPUT_H

#include <stdio.h>
#include <stddef.h>

/* Read all of f, but never more than `limit` bytes: memory stays under limit + 1 however long
 * the stream is (/dev/zero, a FIFO). Returns 0 with a malloc'd, NUL-terminated copy in *buf and
 * its length in *len; 1 when the stream holds more than `limit` bytes (*buf NULL, reading
 * stopped at limit + 1); -1 with errno on a read error or when memory runs out. */
int dwf__read_bounded(FILE *f, size_t limit, char **buf, size_t *len);

/* The same for the file at `path` (opened read-only; a directory is EISDIR). */
int dwf__read_file_bounded(const char *path, size_t limit, char **buf, size_t *len);

/* The first byte of text[0..len) that JSON cannot hold as it is: a NUL byte, or a byte that
 * does not belong to a well-formed UTF-8 sequence (overlong forms, surrogates and code points
 * above U+10FFFF included). Returns its offset, or len when there is none; *what (may be NULL)
 * gets "a NUL byte" or "invalid UTF-8". */
size_t dwf__text_bad_byte(const char *text, size_t len, const char **what);

/* The length of the well-formed UTF-8 sequence at s[0..n) (1 for any ASCII byte, NUL
 * included), or 0 when none starts there. */
size_t dwf__utf8_char(const char *s, size_t n);

/* In JSON text that parses (so outside strings only numbers hold digits), the offset of the
 * first number that is not a finite double (1e999999 reads as infinity), or len when every
 * number is finite; *n_len gets that number's length. */
size_t dwf__json_bad_number(const char *text, size_t len, size_t *n_len);

#endif
