/*
 * errbuf.h: the error convention of the host-side helpers that report through a caller's buffer
 * (`char *err, size_t errlen`): format the message there and return -1, in one call.
 */
#ifndef DWF_UTIL_ERRBUF_H
#define DWF_UTIL_ERRBUF_H

#include <stddef.h>

/* vsnprintf into err (when err and errlen are given); always returns -1. */
int dwf__errf(char *err, size_t errlen, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#endif
