/*
 * peer.c: which process is at the other end of a Runtime API connection, and the processes a
 * function's process has started (its descendants).
 *
 * A function's Runtime API must answer only the process `dwf serve` started for it (and what
 * that process starts: a shell bootstrap that runs node, a wrapper that runs curl). A secret
 * handed to the process cannot carry that: every runtime client builds its URLs from
 * AWS_LAMBDA_RUNTIME_API as a bare host:port (aws-lambda-ric refuses anything else), and the
 * listening port is visible to every local user. What the kernel knows can: the client end of
 * a loopback TCP connection is a socket of this machine, /proc/net/tcp names its inode, and
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* The inode of the local TCP socket bound to `client` and connected to `server` (IPv4). The
 * kernel prints an address as its raw 32-bit value, so s_addr prints the same way; a client
 * that connected from an IPv6 socket shows in tcp6 with IPv4-mapped addresses. */
static unsigned long client_socket_inode(const struct sockaddr_in *client, const struct sockaddr_in *server)
{
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
