/*
 * test_rt_emulog.c: what `dwf serve` writes per invocation, cheaply and whole (emulator/emulator.c
 * dwf__emu_log, emulator/process.c dwf__emu_vm_hwm_kb).
 *
 * The log goes through an unbuffered stream on a SOCK_SEQPACKET socket, where each write(2) is
 * one packet: a line must arrive as one packet (prefix, text and newline written together), a
 * short one and one longer than the log's own buffer alike, byte for byte. VmHWM is read from a
 * /proc/PID/status descriptor kept open: read twice (a second answer of a warm process), it
 * gives the same positive figure as the file read afresh; an unknown descriptor gives -1.
 */
#include "emu.h"
#include "tinytest.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* The next packet on fd, NUL-terminated; its length, -1 if none. */
static long packet(int fd, char *buf, size_t cap)
{
    ssize_t n = recv(fd, buf, cap - 1, MSG_DONTWAIT);
    if (n < 0) return -1;
    buf[n] = '\0';
    return (long)n;
}

static void test_log_line_one_write(void)
{
    int sv[2];
    TT_ASSERT(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == 0);
    FILE *out = fdopen(sv[0], "w");
    TT_ASSERT(out != NULL);
    if (!out) return;
    setvbuf(out, NULL, _IONBF, 0); /* as stderr is */
    dwf_emulator *e = calloc(1, sizeof *e);
    e->log = out;
    static char buf[8192];

    dwf__emu_log(e, "%s: invocation %s answered %s", "fn", "r-1", "SUCCEEDED");
    TT_EQ_INT(strlen("dwf serve: fn: invocation r-1 answered SUCCEEDED\n"), packet(sv[1], buf, sizeof buf));
    TT_EQ_STR("dwf serve: fn: invocation r-1 answered SUCCEEDED\n", buf);
    TT_EQ_INT(-1, packet(sv[1], buf, sizeof buf)); /* nothing more: one packet for the line */

    /* Longer than the log's buffer (1 KiB): formatted again at its size, still one write. */
    char *big = malloc(3001);
    memset(big, 'x', 3000);
    big[3000] = '\0';
    dwf__emu_log(e, "failed: %s!", big);
    long n = packet(sv[1], buf, sizeof buf);
    TT_EQ_INT(strlen("dwf serve: failed: ") + 3000 + strlen("!\n"), n);
    TT_ASSERT(n > 0 && strncmp(buf, "dwf serve: failed: xxx", 22) == 0 && strcmp(buf + n - 3, "x!\n") == 0);
    TT_EQ_INT(-1, packet(sv[1], buf, sizeof buf));

    free(big);
    free(e);
    fclose(out);
    close(sv[1]);
}

/* VmHWM as /proc/self/status says it now, opened afresh. */
static long hwm_fresh(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb;
}

static void test_vm_hwm_from_kept_descriptor(void)
{
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    TT_ASSERT(fd >= 0);
    long first = dwf__emu_vm_hwm_kb(fd);
    TT_ASSERT(first > 0);
    /* A peak that grows in between (32 MiB touched, page by page, through a volatile pointer so
     * that the compiler keeps it): the second read regenerates the file from its start. */
    size_t more = 32u << 20;
    volatile char *p = malloc(more);
    TT_ASSERT(p != NULL);
    for (size_t i = 0; p && i < more; i += 4096) p[i] = 1;
    long second = dwf__emu_vm_hwm_kb(fd), fresh = hwm_fresh();
    TT_ASSERT(second >= first + 16384);
    TT_ASSERT(second <= fresh && fresh - second <= 256); /* fresh may count fopen's own page */
    free((void *)p);
    close(fd);
    TT_EQ_INT(-1, dwf__emu_vm_hwm_kb(-1));
}

int main(void)
{
    TT_RUN(test_log_line_one_write);
    TT_RUN(test_vm_hwm_from_kept_descriptor);
    return TT_EXIT();
}
