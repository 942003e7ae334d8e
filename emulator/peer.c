/*
 * peer.c: which process is at the other end of a Runtime API connection, and the processes a
 * function's process has started (its descendants).
 *
 * A function's Runtime API must answer only the process `dwf serve` started for it (and what
 * that process starts: a shell bootstrap that runs node, a wrapper that runs curl). A secret
 * handed to the process cannot carry that: every runtime client builds its URLs from
 * AWS_LAMBDA_RUNTIME_API as a bare host:port (aws-lambda-ric refuses anything else), and the
 * listening port is visible to every local user. What the kernel knows can: the client end of
 * a loopback TCP connection is a socket of this machine, the kernel names its inode (asked by
 * the connection's addresses over sock_diag; /proc/net/tcp where that is not available), and
 * /proc/PID/fd of the process holding it links to "socket:[inode]". So a connection belongs to
 * the function when one of the function's processes holds the client socket; any other local
 * process (another user's, or a web page's request sent by the user's browser) is refused
 * before the route runs. This needs no cooperation from the client, so the official clients
 * work unchanged.
 *
 * The descendants are found from every process's parent in /proc/PID/stat; they are also what
 * process.c kills when a function's process is ended, so a child that left the process group
 * with setsid() goes too.
 */
#include "emu.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* The inode of the socket in `table` (/proc/net/tcp or tcp6) whose local and remote
 * addresses are printed as `local` and `remote`; 0 when there is none. One line per socket:
 * sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode. */
static unsigned long find_inode(const char *table, const char *local, const char *remote)
{
    FILE *f = fopen(table, "re");
    if (!f) return 0;
    char line[512], la[64], ra[64];
    unsigned long inode, found = 0;
    while (!found && fgets(line, sizeof line, f))
        if (sscanf(line, "%*s %63s %63s %*s %*s %*s %*s %*s %*s %lu", la, ra, &inode) == 3 && strcmp(la, local) == 0 &&
            strcmp(ra, remote) == 0)
            found = inode;
    fclose(f);
    return found;
}

/* The inode of the TCP socket bound to `client` and connected to `server`, asked of the
 * kernel by its four addresses (sock_diag, the netlink interface `ss` uses): one lookup in the
 * established table (15 us), where reading /proc/net/tcp walks every bucket of that table
 * (262,144 on a 2-core machine: 11 ms of kernel CPU per read of the file; 2.2% of serve's CPU
 * samples in bench/throughput.sh's 1,000-execution row, where each of the function's
 * connections is looked up once). Hand-written: the request is one fixed struct and the answer the first
 * message, where a netlink library would be a new dependency for two calls. The kernel looks
 * an AF_INET request up in the IPv4 table, which also holds an IPv6 socket connected to an
 * IPv4-mapped address. 0 when the kernel has no such socket or cannot answer (no sock_diag:
 * the caller then reads /proc/net/tcp). */
static unsigned long diag_inode(const struct sockaddr_in *client, const struct sockaddr_in *server)
{
    int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
    if (fd < 0) return 0;
    /* An answer comes at once or not at all; never hang a connection's admission on it. */
    struct timeval tv = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct {
        struct nlmsghdr nh;
        struct inet_diag_req_v2 r;
    } req;
    memset(&req, 0, sizeof req);
    req.nh.nlmsg_len = sizeof req;
    req.nh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    req.nh.nlmsg_flags = NLM_F_REQUEST; /* one socket, not a dump */
    req.nh.nlmsg_seq = 1;
    req.r.sdiag_family = AF_INET;
    req.r.sdiag_protocol = IPPROTO_TCP;
    req.r.idiag_states = ~0u;
    /* src/sport: the socket's own end (the client's), dst/dport: its peer (the server). */
    req.r.id.idiag_sport = client->sin_port;
    req.r.id.idiag_dport = server->sin_port;
    req.r.id.idiag_src[0] = client->sin_addr.s_addr;
    req.r.id.idiag_dst[0] = server->sin_addr.s_addr;
    req.r.id.idiag_cookie[0] = req.r.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    unsigned long inode = 0;
    if (sendto(fd, &req, sizeof req, 0, (struct sockaddr *)&kernel, sizeof kernel) == (ssize_t)sizeof req) {
        union {
            struct nlmsghdr nh;
            char bytes[8192];
        } ans;
        ssize_t n;
        while ((n = recv(fd, &ans, sizeof ans, 0)) < 0 && errno == EINTR) continue;
        /* The answer is one message: the socket (inet_diag_msg) or an error (ENOENT: none). */
        if (n >= (ssize_t)NLMSG_LENGTH(sizeof(struct inet_diag_msg)) && NLMSG_OK(&ans.nh, (size_t)n) &&
            ans.nh.nlmsg_type == SOCK_DIAG_BY_FAMILY && ans.nh.nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg))) {
            const struct inet_diag_msg *m = NLMSG_DATA(&ans.nh);
            if (m->id.idiag_sport == client->sin_port && m->id.idiag_dport == server->sin_port) inode = m->idiag_inode;
        }
    }
    close(fd);
    return inode;
}

/* The inode of the local TCP socket bound to `client` and connected to `server` (IPv4): from
 * sock_diag, else from /proc/net/tcp. The kernel prints an address as its raw 32-bit value,
 * so s_addr prints the same way; a client that connected from an IPv6 socket shows in tcp6
 * with IPv4-mapped addresses. */
static unsigned long client_socket_inode(const struct sockaddr_in *client, const struct sockaddr_in *server)
{
    unsigned long diag = diag_inode(client, server);
    if (diag) return diag;
    char local[64], remote[64];
    snprintf(local, sizeof local, "%08X:%04X", (unsigned)client->sin_addr.s_addr, (unsigned)ntohs(client->sin_port));
    snprintf(remote, sizeof remote, "%08X:%04X", (unsigned)server->sin_addr.s_addr, (unsigned)ntohs(server->sin_port));
    unsigned long inode = find_inode("/proc/net/tcp", local, remote);
    if (inode) return inode;
    char local6[100], remote6[100];
    snprintf(local6, sizeof local6, "0000000000000000%08X%s", (unsigned)htonl(0xffff), local);
    snprintf(remote6, sizeof remote6, "0000000000000000%08X%s", (unsigned)htonl(0xffff), remote);
    return find_inode("/proc/net/tcp6", local6, remote6);
}

typedef struct proc_entry {
    pid_t pid, ppid;
} proc_entry;

/* Every process and its parent, from /proc. *n receives the count; NULL when /proc is
 * unreadable or memory is short. */
static proc_entry *process_table(int *n)
{
    *n = 0;
    DIR *d = opendir("/proc");
    if (!d) return NULL;
    int cap = 256;
    proc_entry *t = malloc((size_t)cap * sizeof *t);
    struct dirent *de;
    while (t && (de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0])) continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%.20s/stat", de->d_name);
        FILE *f = fopen(path, "re");
        if (!f) continue;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = '\0';
        const char *rp = strrchr(buf, ')'); /* the command name may hold anything but ends at the last ')' */
        int ppid;
        if (!rp || sscanf(rp + 1, " %*c %d", &ppid) != 1) continue;
        if (*n == cap) {
            proc_entry *nt = realloc(t, (size_t)(cap *= 2) * sizeof *t);
            if (!nt) {
                free(t);
                t = NULL;
                break;
            }
            t = nt;
        }
        t[*n].pid = (pid_t)atoi(de->d_name);
        t[*n].ppid = (pid_t)ppid;
        (*n)++;
    }
    closedir(d);
    return t;
}

/* root and the processes below it, from the table t of np processes, into set (room for np + 1);
 * the count. Breadth first: each pass adds the children of what is in the set. */
static int descendants_in(const proc_entry *t, int np, pid_t root, pid_t *set)
{
    int ns = 0;
    set[ns++] = root;
    for (int from = 0; from < ns; from++)
        for (int i = 0; i < np; i++)
            if (t[i].ppid == set[from] && t[i].pid != root) set[ns++] = t[i].pid;
    return ns;
}

int dwf__emu_descendants(pid_t root, pid_t **out)
{
    int n;
    proc_entry *t = process_table(&n);
    pid_t *set = malloc(((size_t)n + 1) * sizeof *set);
    if (!t || !set) {
        free(t);
        free(set);
        *out = NULL;
        return -1;
    }
    int ns = descendants_in(t, n, root, set);
    free(t);
    *out = set;
    return ns;
}

/* Does process pid have a descriptor open on socket `inode`? */
static int holds_socket(pid_t pid, unsigned long inode)
{
    char dir[64], want[48];
    snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
    snprintf(want, sizeof want, "socket:[%lu]", inode);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int found = 0;
    struct dirent *de;
    while (!found && (de = readdir(d))) {
        char path[128], link[64];
        snprintf(path, sizeof path, "%s/%.20s", dir, de->d_name);
        ssize_t k = readlink(path, link, sizeof link - 1);
        if (k > 0) {
            link[k] = '\0';
            found = strcmp(link, want) == 0;
        }
    }
    closedir(d);
    return found;
}

/* Which of roots[0..n) (a function's environments), or a process it started, holds the client
 * end of the connection: /proc/net/tcp is read once for the socket's inode, each root's own
 * descriptors are looked at first (the usual case: the runtime client is the process itself),
 * and only if none holds it is the process table read, once, for every root's descendants.
 * (It read /proc/net/tcp once per root, and the whole process table for every root that did
 * not hold the socket: with tens of environments and thousands of client connections that was
 * a fifth of serve's CPU under load.) */
int dwf__emu_peer_owner(const pid_t *roots, int n, const struct sockaddr_in *client, const struct sockaddr_in *server)
{
    if (n <= 0) return -1;
    unsigned long inode = client_socket_inode(client, server);
    if (!inode) return -1;
    for (int i = 0; i < n; i++)
        if (roots[i] > 0 && holds_socket(roots[i], inode)) return i;
    int np;
    proc_entry *t = process_table(&np);
    pid_t *set = t ? malloc(((size_t)np + 1) * sizeof *set) : NULL;
    int owner = -1;
    for (int i = 0; set && i < n && owner < 0; i++) {
        if (roots[i] <= 0) continue;
        int ns = descendants_in(t, np, roots[i], set);
        for (int k = 1; k < ns && owner < 0; k++)
            if (holds_socket(set[k], inode)) owner = i;
    }
    free(set);
    free(t);
    return owner;
}
