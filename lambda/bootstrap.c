/*
 * lambda_bootstrap.c: the `bootstrap` at the root of a sanitizer build's `dwf build` zip.
 *
 * A normal build links the Lambda program statically and ships it as the zip's bootstrap
 * itself (docs/deploy.md): one exec, no loader. A sanitizer build's program cannot be static
 * (the sanitizer runtimes are shared objects), so its zip gets this bootstrap.
 *
 * Lambda's provided.al2023 runtime execs /var/task/bootstrap. The program under bin/ must run
 * on the dynamic loader and glibc shipped in lib/ (the host has glibc 2.34, the program was
 * linked against Debian's 2.36, and the host's LD_LIBRARY_PATH lists /lib64 first), so the
 * bootstrap execs
 *
 *     ROOT/lib/LOADER --library-path ROOT/lib ROOT/bin/NAME ARGS...
 *
 * with SSL_CERT_FILE, unless already set, naming the host's CA roots or else the copy shipped
 * in ROOT/etc. ROOT is $LAMBDA_TASK_ROOT, else the directory of /proc/self/exe, else that of
 * argv[0] (a bare root may have no /proc): the first that holds the loader, so an unpacked zip
 * also runs from anywhere. NAME is the one program in ROOT/bin. The Makefile builds this file
 * once; `dwf build` copies it byte for byte into every zip, so it knows nothing of a workflow.
 *
 * Why a program, and why one without libc. Every page a new process touches is a page fault,
 * and faults dominate a cold start on the machines measured (bench/RESULTS.md, "Lambda cold
 * start"): a `#!/bin/sh` script (aws-lambda-cpp's packager, and dwf's bootstrap before this)
 * starts a dynamically linked shell first (~2 ms there); a static glibc program still touches
 * ~25 pages setting up glibc (TLS, IRELATIVE relocations, stdio) before main, about 1.3 ms
 * there; this one takes 7 page faults, 0.3-0.7 ms in all. So it calls the kernel directly,
 * through the few system calls it needs, and carries the few string helpers libc would have
 * given it. Linux on x86_64 and arm64 only, the two architectures Lambda runs (arm64 is
 * compiled in but was not run: no arm64 machine here).
 */
#include <asm/unistd.h>
#include <linux/fcntl.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(__x86_64__) && !defined(__aarch64__)
#error "Lambda runs x86_64 and arm64 only"
#endif

/* The loader the zip ships: the build machine's own (PT_INTERP of what it links), fixed by the
 * architecture; package.c refuses a program whose PT_INTERP names another. */
#if defined(__x86_64__)
#define LOADER "ld-linux-x86-64.so.2"
#else
#define LOADER "ld-linux-aarch64.so.1"
#endif

#define PATH_MAX 4096
#define R_OK 4
#define X_OK 1

/* ---- the kernel ------------------------------------------------------------------------- */

static long sys4(long n, long a, long b, long c, long d)
{
#if defined(__x86_64__)
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                     : "rcx", "r11", "memory");
    return r;
#else
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
#endif
}

/* The kernel enters at _start with argc, argv[], NULL, envp[], NULL on the stack. */
#if defined(__x86_64__)
__asm__(".text\n.global _start\n_start:\n"
        "  xor %rbp, %rbp\n"
        "  mov %rsp, %rdi\n"
        "  and $-16, %rsp\n"
        "  call bootstrap_main\n"
        "  hlt\n");
#else
__asm__(".text\n.global _start\n_start:\n"
        "  mov x29, #0\n"
        "  mov x30, #0\n"
        "  mov x0, sp\n"
        "  bl bootstrap_main\n");
#endif

static _Noreturn void sys_exit(int code)
{
    for (;;) sys4(__NR_exit_group, code, 0, 0, 0);
}

/* ---- what libc would have given ---------------------------------------------------------- */

static size_t slen(const char *s)
{
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

/* The value of the environment entry "NAME=value" when entry is one for name, else NULL. */
static const char *env_value(const char *entry, const char *name)
{
    size_t i = 0;
    while (name[i] && entry[i] == name[i]) i++;
    return !name[i] && entry[i] == '=' ? entry + i + 1 : NULL;
}

static const char *env_get(char **envp, const char *name)
{
    for (; *envp; envp++) {
        const char *v = env_value(*envp, name);
        if (v) return v;
    }
    return NULL;
}

static void say(const char *s) { sys4(__NR_write, 2, (long)s, (long)slen(s), 0); }

static _Noreturn void die(const char *what, const char *arg)
{
    say("bootstrap: ");
    say(what);
    if (arg) {
        say(": ");
        say(arg);
    }
    say("\n");
    sys_exit(127);
}

/* ---- the bootstrap ----------------------------------------------------------------------- */

/* Every string is cut from one arena, by its length: the handful of paths share a page,
 * where a PATH_MAX buffer each would touch a page (a page fault) each. */
static char arena[8 * PATH_MAX];
static size_t used;

/* A new string a[0..alen) + b + c, or death when the arena is full. */
static char *join(const char *a, size_t alen, const char *b, const char *c)
{
    size_t bl = slen(b), cl = slen(c);
    if (alen + bl + cl + 1 > sizeof arena - used) die("path too long", b);
    char *s = arena + used, *p = s;
    for (size_t i = 0; i < alen; i++) *p++ = a[i];
    for (size_t i = 0; i < bl; i++) *p++ = b[i];
    for (size_t i = 0; i <= cl; i++) *p++ = c[i];
    used += alen + bl + cl + 1;
    return s;
}

static char *root, *loader;

/* ROOT = dir[0..len): 1 when ROOT/lib/LOADER is executable there. */
static int try_root(const char *dir, size_t len)
{
    if (len == 0) return 0;
    root = join(dir, len, "", "");
    loader = join(root, len, "/lib/" LOADER, "");
    return sys4(__NR_faccessat, AT_FDCWD, (long)loader, X_OK, 0) == 0;
}

/* The length of path's directory part: 0 when it has none. */
static size_t dir_len(const char *path)
{
    size_t n = slen(path);
    while (n > 0 && path[n - 1] != '/') n--;
    return n > 1 ? n - 1 : n; /* "/x" -> "/" */
}

/* The one program in ROOT/bin. */
static char *find_program(void)
{
    char *bindir = join(root, slen(root), "/bin", "");
    long fd = sys4(__NR_openat, AT_FDCWD, (long)bindir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd < 0) die("cannot open", bindir);
    /* struct linux_dirent64, as getdents64 fills it. */
    struct dent {
        uint64_t ino;
        int64_t off;
        unsigned short reclen;
        unsigned char type;
        char name[];
    };
    _Alignas(8) char buf[2048];
    char *program = NULL;
    for (;;) {
        long n = sys4(__NR_getdents64, fd, (long)buf, sizeof buf, 0);
        if (n < 0) die("cannot read", bindir);
        if (n == 0) break;
        for (long off = 0; off < n;) {
            const struct dent *d = (const struct dent *)(buf + off);
            off += d->reclen;
            if (d->name[0] == '.') continue;
            if (program) die("more than one program in", bindir);
            program = join(bindir, slen(bindir), "/", d->name);
        }
    }
    sys4(__NR_close, fd, 0, 0, 0);
    if (!program) die("no program in", bindir);
    return program;
}

__attribute__((used, noreturn)) void bootstrap_main(long *sp)
{
    int argc = (int)sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;

    const char *task = env_get(envp, "LAMBDA_TASK_ROOT");
    int ok = task && try_root(task, slen(task));
    if (!ok) {
        /* readlinkat writes into the arena's free end; only what it wrote is kept. */
        char *exe = arena + used;
        size_t room = sizeof arena - used - 1;
        long l = sys4(__NR_readlinkat, AT_FDCWD, (long)"/proc/self/exe", (long)exe,
                      (long)(room < PATH_MAX ? room : PATH_MAX));
        if (l > 0) {
            exe[l] = '\0';
            used += (size_t)l + 1;
            ok = try_root(exe, dir_len(exe));
        }
    }
    if (!ok && argc > 0) {
        size_t n = dir_len(argv[0]);
        ok = n ? try_root(argv[0], n) : try_root(".", 1);
    }
    if (!ok)
        die("cannot find lib/" LOADER " under $LAMBDA_TASK_ROOT, beside /proc/self/exe or "
            "beside argv[0]",
            NULL);
    char *libdir = join(root, slen(root), "/lib", "");
    char *program = find_program();

    /* libdwf's HTTPS transport reads its CA file from SSL_CERT_FILE: the host's roots when it
     * has some (they get updates), else the copy dwf build shipped. */
    int nenv = 0;
    while (envp[nenv]) nenv++;
    char *env[nenv + 2];
    int e = 0;
    const char *cur = env_get(envp, "SSL_CERT_FILE");
    int set_ca = !cur || !*cur; /* an empty SSL_CERT_FILE= counts as unset, as in sh */
    for (int i = 0; i < nenv; i++)
        if (!set_ca || !env_value(envp[i], "SSL_CERT_FILE")) env[e++] = envp[i];
    if (set_ca) {
        const char *ca[] = {"/etc/pki/tls/certs/ca-bundle.crt",
                            "/etc/ssl/certs/ca-certificates.crt",
                            join(root, slen(root), "/etc/ca-bundle.crt", ""), NULL};
        for (int i = 0; ca[i]; i++)
            if (sys4(__NR_faccessat, AT_FDCWD, (long)ca[i], R_OK, 0) == 0) {
                env[e++] = join("SSL_CERT_FILE=", 14, ca[i], "");
                break;
            }
    }
    env[e] = NULL;

    char *args[argc + 4];
    int a = 0;
    args[a++] = loader;
    args[a++] = "--library-path";
    args[a++] = libdir;
    args[a++] = program;
    for (int i = 1; i < argc; i++) args[a++] = argv[i];
    args[a] = NULL;
    sys4(__NR_execve, (long)loader, (long)args, (long)env, 0);
    die("cannot execute", loader);
}
