/*
 * graph.c: `dwf graph`, the picture of a workflow: Graphviz DOT, Mermaid, or SVG.
 *
 * The front end checks the file exactly as `dwf check` does (a file with errors prints its
 * diagnostics and draws nothing); codegen/emit_graph.c turns the checked tree into DOT or
 * Mermaid text. SVG is that DOT laid out by Graphviz's `dot` program (Debian's graphviz
 * package) rather than libgvc: the layout engine is a large library with plugins loaded at run
 * time, which every `dwf` process would then map, for one command; a child process keeps it
 * out of the binary, and a missing `dot` is one clear error instead of a build dependency.
 *
 * Output goes to -o FILE or stdout. Without --format the format is the file's extension
 * (.svg, .dot/.gv, .mmd/.mermaid); with neither, DOT on stdout, as `terraform graph` does, so
 * `dwf graph x.dwf | dot -Tpng > x.png` works.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "codegen.h"
#include "front.h"
#include "proc.h"

const char *const usage_graph =
    "usage: dwf graph FILE.dwf [--format svg|dot|mermaid|json] [-o FILE]\n"
    "\n"
    "Draw a workflow: steps, waits, callbacks, awaits, wait-for-callbacks, polls and invokes as\n"
    "nodes; parallel branches, map bodies, groups, loops, try and catch as clusters; if/else as\n"
    "diamonds; retries, timeouts and poll intervals written on their nodes; saga compensations\n"
    "hanging off their step by a dashed edge. Every node shows its .dwf line, and its id\n"
    "(step_L12, wait_L20, ...) names that line too. The file is checked first, as by\n"
    "`dwf check`: one with errors prints them and draws nothing.\n"
    "\n"
    "options:\n"
    "  --format F   dot      Graphviz source (`dot -Tpng` and friends lay it out)\n"
    "               mermaid  a Mermaid flowchart, for Markdown (a ```mermaid block) and wikis\n"
    "               svg      laid out by Graphviz's `dot` program (Debian: apt-get install\n"
    "                        graphviz)\n"
    "               json     what the web console draws: {\"workflow\",\"source\",\"dot\",\n"
    "                        \"nodes\"}, each node with the operations it stands for (the\n"
    "                        workflow-graph.json `dwf build` writes beside the zip)\n"
    "               default: from the -o file's extension (.svg, .dot or .gv, .mmd or\n"
    "               .mermaid), else dot\n"
    "  -o FILE      write to FILE (default: stdout)\n"
    "\n"
    "The same file gives byte-identical output.\n"
    "exit status: 0 drawn, 1 errors in the workflow, no `dot` for svg, or a write error,\n"
    "2 usage errors\n";

typedef enum { FMT_NONE, FMT_DOT, FMT_MERMAID, FMT_SVG, FMT_JSON } Format;

static Format format_named(const char *s)
{
    if (strcmp(s, "dot") == 0) return FMT_DOT;
    if (strcmp(s, "mermaid") == 0) return FMT_MERMAID;
    if (strcmp(s, "svg") == 0) return FMT_SVG;
    if (strcmp(s, "json") == 0) return FMT_JSON;
    return FMT_NONE;
}

static Format format_of_path(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot || strchr(dot, '/')) return FMT_NONE;
    if (strcmp(dot, ".svg") == 0) return FMT_SVG;
    if (strcmp(dot, ".dot") == 0 || strcmp(dot, ".gv") == 0) return FMT_DOT;
    if (strcmp(dot, ".mmd") == 0 || strcmp(dot, ".mermaid") == 0) return FMT_MERMAID;
    return FMT_NONE;
}

/* The `dot` program on PATH, into buf; 0 if there is none. */
static int find_dot(char *buf, size_t len)
{
    const char *path = getenv("PATH");
    if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
    while (*path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && (size_t)snprintf(buf, len, "%.*s/dot", (int)n, path) < len) {
            struct stat st;
            if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0) return 1;
        }
        path += n;
        if (*path == ':') path++;
    }
    return 0;
}

static void say_no_dot(void)
{
    fprintf(stderr, "dwf graph: SVG needs Graphviz's 'dot' program, which is not on PATH: "
                    "install the 'graphviz' package (apt-get install graphviz), or use "
                    "--format dot or --format mermaid\n");
}

/* Lay out `dot_text` with `dot -Tsvg` into outp (NULL: our stdout). The DOT goes through a
 * temporary file so that dot's stdout can be the output itself. */
static int run_dot(const char *dot_text, size_t len, const char *outp)
{
    char dot[4096];
    if (!find_dot(dot, sizeof dot)) {
        say_no_dot();
        return -1;
    }
    const char *tmpdir = getenv("TMPDIR");
    char src[4096];
    snprintf(src, sizeof src, "%s/dwf-graph-XXXXXX.dot", tmpdir && *tmpdir ? tmpdir : "/tmp");
    int fd = mkstemps(src, 4);
    if (fd < 0) {
        fprintf(stderr, "dwf graph: cannot create a temporary file in %s: %s\n",
                tmpdir && *tmpdir ? tmpdir : "/tmp", strerror(errno));
        return -1;
    }
    FILE *f = fdopen(fd, "w");
    int rc = f && fwrite(dot_text, 1, len, f) == len ? 0 : -1;
    if (f ? fclose(f) != 0 : close(fd) != 0) rc = -1;
    if (rc != 0) {
        fprintf(stderr, "dwf graph: writing %s failed\n", src);
        unlink(src);
        return -1;
    }
    char *argv[] = {dot, "-Tsvg", src, outp ? "-o" : NULL, (char *)outp, NULL};
    char err[512];
    int status = 0;
    fflush(stdout); /* dot writes to the same stdout */
    rc = dwf__proc_run(argv, NULL, &status, err, sizeof err);
    unlink(src);
    if (rc != 0) {
        fprintf(stderr, "dwf graph: %s\n", err);
        return -1;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "dwf graph: %s -Tsvg failed (%s %d)\n", dot,
                WIFEXITED(status) ? "exit status" : "signal",
                WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
        return -1;
    }
    return 0;
}

/* Write the graph of p in `fmt` to outp (NULL: stdout); SVG through dot. */
static int draw(const Program *p, Format fmt, const char *outp)
{
    if (fmt == FMT_SVG) {
        char *text = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&text, &len);
        if (!mem) return -1;
        int rc = cg_emit_graph(p, CG_GRAPH_DOT, mem);
        if (fclose(mem) != 0) rc = -1;
        if (rc == 0) rc = run_dot(text, len, outp);
        else fprintf(stderr, "dwf graph: out of memory\n");
        free(text);
        return rc;
    }
    FILE *out = outp ? fopen(outp, "w") : stdout;
    if (!out) {
        fprintf(stderr, "dwf graph: cannot write %s: %s\n", outp, strerror(errno));
        return -1;
    }
    int rc = cg_emit_graph(p, fmt == FMT_MERMAID ? CG_GRAPH_MERMAID : fmt == FMT_JSON ? CG_GRAPH_CONSOLE : CG_GRAPH_DOT,
                           out);
    if (fflush(out) != 0) rc = -1;
    if (outp && fclose(out) != 0) rc = -1;
    if (rc != 0) fprintf(stderr, "dwf graph: writing %s failed\n", outp ? outp : "the output");
    return rc;
}

enum { OPT_OUT = 1, OPT_FORMAT };
static const CliOption options[] = {
    {NULL, 'o', CLI_VALUE, OPT_OUT},
    {"format", 0, CLI_VALUE, OPT_FORMAT},
    {0},
};

static int parse_args(int argc, char **argv, const char **file, const char **outp, Format *fmt)
{
    CliArgs a;
    int opt;
    cli_args_init(&a, "graph", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_OUT: *outp = a.value; break;
        case OPT_FORMAT:
            if ((*fmt = format_named(a.value)) == FMT_NONE)
                return cli_usage_error("graph", "unknown format '%s' (svg, dot, mermaid or json)",
                                       a.value);
            break;
        case CLI_ARGUMENT:
            if (*file)
                return cli_usage_error("graph", "one workflow at a time ('%s' and '%s')", *file,
                                       a.value);
            *file = a.value;
            break;
        default: return EXIT_USAGE;
        }
    }
    if (!*file) return cli_usage_error("graph", "no .dwf file given");
    if (*outp && !**outp) return cli_usage_error("graph", "-o needs a file name");
    if (*outp && strcmp(*outp, "-") == 0) *outp = NULL;
    if (*fmt == FMT_NONE && *outp && (*fmt = format_of_path(*outp)) == FMT_NONE)
        return cli_usage_error("graph", "cannot tell the format from '%s': give --format svg, "
                                        "dot or mermaid", *outp);
    if (*fmt == FMT_NONE) *fmt = FMT_DOT;
    return EXIT_OK;
}

int cmd_graph(int argc, char **argv)
{
    const char *file = NULL, *outp = NULL;
    Format fmt = FMT_NONE;
    int rc = parse_args(argc, argv, &file, &outp, &fmt);
    if (rc != EXIT_OK) return rc;

    rc = EXIT_INPUT;
    Arena *arena = arena_new();
    Diag *diag = diag_new(stderr, isatty(STDERR_FILENO));
    if (!arena || !diag) {
        fprintf(stderr, "dwf graph: out of memory\n");
        goto done;
    }
    Program *p = front_compile_file(arena, diag, file);
    if (!p || !p->workflow || diag_errors(diag) > 0) goto done;
    char dot[4096];
    if (fmt == FMT_SVG && !find_dot(dot, sizeof dot)) { /* before any file is created */
        say_no_dot();
        goto done;
    }
    if (draw(p, fmt, outp) != 0) {
        if (outp) unlink(outp);
        goto done;
    }
    rc = EXIT_OK;
done:
    if (diag) diag_free(diag);
    if (arena) arena_free(arena);
    return rc;
}
