/* errbuf.c: dwf__errf, the "message into the caller's buffer, return -1" helper (errbuf.h). */
#include "errbuf.h"

#include <stdarg.h>
#include <stdio.h>

int dwf__errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err && errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}
