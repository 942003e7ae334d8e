/*
 * test_rt_peer.c: which environment holds the client end of a Runtime API connection
 * (emulator/peer.c, dwf__emu_peer_owner), with real processes and loopback sockets.
 *
 * The server side listens on 127.0.0.1 in this process. Three "environments" are forked:
 * A connects nothing, B connects itself (the usual runtime: the process serve started), C
 * starts a child that connects (a shell bootstrap running node). For each accepted
 * connection the owner must be the environment whose tree holds its client end, whatever the
 * order of the roots; a connection from this process (not an environment) has none. The
 * same answers must come where sock_diag is refused (a seccomp filter denies netlink sockets in
 * a child doing the lookups), from /proc/net/tcp.
 */
#include "emu.h"
#include "tinytest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static struct sockaddr_in server;

/* Connect to the server and hold the socket until killed; tells `ready` once connected. */
static void connect_and_hold(int ready)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&server, sizeof server) != 0) _exit(1);
    if (write(ready, "x", 1) != 1) _exit(1);
    for (;;) pause();
}

/* kind 0: holds nothing; 1: connects itself; 2: its child connects. */
static pid_t env_start(int kind, int ready)
{
    pid_t p = fork();
    if (p != 0) return p;
    if (kind == 1) connect_and_hold(ready);
    if (kind == 2 && fork() == 0) connect_and_hold(ready);
    for (;;) pause();
}

static int accept_one(int lfd, struct sockaddr_in *peer)
{
    socklen_t len = sizeof *peer;
    return accept(lfd, (struct sockaddr *)peer, &len);
}

/* Refuse netlink sockets in this process from now on (EAFNOSUPPORT), as a kernel or a
 * container without sock_diag would: the owner lookups then take /proc/net/tcp. 0, or -1. */
static int refuse_netlink(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_NETLINK, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EAFNOSUPPORT & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = sizeof f / sizeof f[0], .filter = f};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0)
        return -1;
    int fd = socket(AF_NETLINK, SOCK_DGRAM, 0);
    if (fd >= 0) close(fd);
    return fd < 0 && errno == EAFNOSUPPORT ? 0 : -1;
}

/* The owner lookups of test_peer_owner: how many answers are wrong (100: the filter failed). */
static int wrong_owners(pid_t a, pid_t b, pid_t c, const struct sockaddr_in *peer_b, const struct sockaddr_in *peer_c,
                        const struct sockaddr_in *peer_self)
{
    pid_t abc[3] = {a, b, c}, cba[3] = {c, b, a}, only_a[1] = {a};
    return (dwf__emu_peer_owner(abc, 3, peer_b, &server) != 1) + (dwf__emu_peer_owner(abc, 3, peer_c, &server) != 2) +
           (dwf__emu_peer_owner(cba, 3, peer_b, &server) != 1) + (dwf__emu_peer_owner(cba, 3, peer_c, &server) != 0) +
           (dwf__emu_peer_owner(abc, 3, peer_self, &server) != -1) +
           (dwf__emu_peer_owner(only_a, 1, peer_b, &server) != -1);
}

static void test_peer_owner(void)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    server.sin_family = AF_INET;
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    server.sin_port = 0;
    socklen_t len = sizeof server;
    TT_ASSERT(lfd >= 0 && bind(lfd, (struct sockaddr *)&server, sizeof server) == 0 && listen(lfd, 8) == 0 &&
              getsockname(lfd, (struct sockaddr *)&server, &len) == 0);
    int ready[2];
    TT_ASSERT(pipe(ready) == 0);
    pid_t a = env_start(0, ready[1]);
    pid_t b = env_start(1, ready[1]);
    char c1;
    TT_EQ_INT(1, read(ready[0], &c1, 1)); /* B connected: its connection is the first in the queue */
    struct sockaddr_in peer_b, peer_c, peer_self;
    int fb = accept_one(lfd, &peer_b);
    pid_t c = env_start(2, ready[1]);
    TT_EQ_INT(1, read(ready[0], &c1, 1));
    int fc = accept_one(lfd, &peer_c);
    int self = socket(AF_INET, SOCK_STREAM, 0);
    TT_ASSERT(connect(self, (struct sockaddr *)&server, sizeof server) == 0);
    int fs = accept_one(lfd, &peer_self);
    TT_ASSERT(fb >= 0 && fc >= 0 && fs >= 0);

    pid_t abc[3] = {a, b, c}, cba[3] = {c, b, a}, only_a[1] = {a};
    TT_EQ_INT(1, dwf__emu_peer_owner(abc, 3, &peer_b, &server));
    TT_EQ_INT(2, dwf__emu_peer_owner(abc, 3, &peer_c, &server)); /* found among C's descendants */
    TT_EQ_INT(1, dwf__emu_peer_owner(cba, 3, &peer_b, &server));
    TT_EQ_INT(0, dwf__emu_peer_owner(cba, 3, &peer_c, &server));
    TT_EQ_INT(-1, dwf__emu_peer_owner(abc, 3, &peer_self, &server)); /* not an environment's */
    TT_EQ_INT(-1, dwf__emu_peer_owner(only_a, 1, &peer_b, &server));
    TT_EQ_INT(-1, dwf__emu_peer_owner(abc, 0, &peer_b, &server));
    TT_EQ_INT(0, wrong_owners(a, b, c, &peer_b, &peer_c, &peer_self));
    /* Without sock_diag: the same answers from /proc/net/tcp (the child's exit status: how many
     * were wrong). */
    fflush(stdout);
    pid_t fallback = fork();
    if (fallback == 0) _exit(refuse_netlink() != 0 ? 100 : wrong_owners(a, b, c, &peer_b, &peer_c, &peer_self));
    int status = -1;
    TT_ASSERT(fallback > 0 && waitpid(fallback, &status, 0) == fallback);
    TT_ASSERT(WIFEXITED(status));
    TT_EQ_INT(0, WEXITSTATUS(status));

    pid_t *tree;
    int n = dwf__emu_descendants(c, &tree);
    TT_EQ_INT(2, n); /* C and the child it started */
    for (int i = 1; i < n; i++) kill(tree[i], SIGKILL); /* C's child first, then the three */
    if (n > 0) free(tree);
    kill(a, SIGKILL);
    kill(b, SIGKILL);
    kill(c, SIGKILL);
    while (waitpid(-1, NULL, 0) > 0) {
    }
    close(fb);
    close(fc);
    close(fs);
    close(self);
    close(lfd);
    close(ready[0]);
    close(ready[1]);
}

int main(void)
{
    TT_RUN(test_peer_owner);
    return TT_EXIT();
}
