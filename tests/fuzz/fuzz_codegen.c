/*
 * fuzz_codegen.c: libFuzzer target over C generation. Every input that the front end accepts
 * (no errors) goes through the back end: the handler C (cg_emit_c), the deploy files
 * (cg_render_artifacts) and the graph in both formats (cg_emit_graph). The back end promises
 * never to crash or leak on a checked Program, and that the C it writes compiles: so, at most
 * once every DWF_FUZZ_CC_EVERY seconds (default 2), the handler of the current input is also
 * compiled with `cc -std=c11 -Wall -Wextra -Werror` against include/dwf.h, and a compiler error
 * is a finding (the C and the compiler's output are kept in build/fuzz/). Sampling keeps the
 * run fast: a compile costs about as much as ten thousand inputs.
 * Built and run by `make fuzz` with the examples and tests as the corpus.
 */
#include <fcntl.h>
#include <spawn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "codegen.h"
#include "front.h"

extern char **environ;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Whether it is time to compile a sample (the first accepted input, then every few seconds). */
static int samples; /* compiled so far, said at exit */

static void say_samples(void)
{
    fprintf(stderr, "fuzz_codegen: %d samples of generated C compiled with -Werror\n", samples);
}

static int sample_due(void)
{
    static double last = -1, every = -1;
    if (every < 0) {
        atexit(say_samples);
        const char *e = getenv("DWF_FUZZ_CC_EVERY");
        every = e ? atof(e) : 2.0;
    }
    double t = now_s();
    if (last >= 0 && t - last < every) return 0;
    last = t;
    return 1;
}

/* Compile `c_text` with the system compiler; abort (a finding) if it does not compile. */
static void compile_sample(const char *c_text, size_t len, const char *dwf, size_t dwf_len)
{
    const char *dir = getenv("DWF_FUZZ_DIR") ? getenv("DWF_FUZZ_DIR") : "build/fuzz";
    const char *inc = getenv("DWF_FUZZ_INCLUDE") ? getenv("DWF_FUZZ_INCLUDE") : "include";
    const char *cc = getenv("DWF_FUZZ_CC") ? getenv("DWF_FUZZ_CC") : "cc";
    char c_path[512], log_path[512], inc_flag[520];
    snprintf(c_path, sizeof c_path, "%s/sample-%d.c", dir, (int)getpid());
    snprintf(log_path, sizeof log_path, "%s/sample-%d.log", dir, (int)getpid());
    snprintf(inc_flag, sizeof inc_flag, "-I%s", inc);
    FILE *f = fopen(c_path, "w");
    if (!f) return; /* no place to write: nothing to check, not a finding */
    fwrite(c_text, 1, len, f);
    fclose(f);
    char *argv[] = {(char *)cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-c", "-o", "/dev/null", inc_flag,
                    c_path, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    int st = 0;
    int rc = posix_spawnp(&pid, cc, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return; /* no compiler: nothing to check */
    while (waitpid(pid, &st, 0) < 0) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
        samples++;
        unlink(c_path);
        unlink(log_path);
        return;
    }
    char dwf_path[512];
    snprintf(dwf_path, sizeof dwf_path, "%s/sample-%d.dwf", dir, (int)getpid());
    f = fopen(dwf_path, "w");
    if (f) {
        fwrite(dwf, 1, dwf_len, f);
        fclose(f);
    }
    fprintf(stderr, "fuzz_codegen: generated C does not compile: %s (from %s; compiler output in %s)\n",
            c_path, dwf_path, log_path);
    abort();
}

static void emit_all(const Program *p, const uint8_t *data, size_t size, FILE *sink)
{
    char *c_text = NULL;
    size_t c_len = 0;
    FILE *mem = open_memstream(&c_text, &c_len);
    if (!mem) return;
    int rc = cg_emit_c(p, "handler.c", mem);
    fclose(mem);
    if (rc != 0) {
        fprintf(stderr, "fuzz_codegen: cg_emit_c failed on a checked program\n");
        abort();
    }
    if (sample_due()) compile_sample(c_text, c_len, (const char *)data, size);
    free(c_text);

    CgFiles files;
    char err[256];
    CgOptions o = {0};
    if (cg_render_artifacts(p, &o, &files, err, sizeof err) == 0) cg_files_free(&files);
    cg_emit_graph(p, CG_GRAPH_DOT, sink);
    cg_emit_graph(p, CG_GRAPH_MERMAID, sink);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink) sink = fopen("/dev/null", "w");
    if (!sink) return 0;
    Arena *a = arena_new();
    Diag *d = diag_new(sink, 0);
    if (!d) {
        arena_free(a);
        return 0;
    }
    Program *p = front_compile(a, d, "fuzz.dwf", (const char *)data, size);
    if (p && p->workflow && diag_errors(d) == 0) emit_all(p, data, size, sink);
    diag_free(d);
    arena_free(a);
    return 0;
}
