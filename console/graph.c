/*
 * graph.c: the workflow graph of an execution's page, coloured by its operations' statuses.
 *
 * The host gives the workflow's document (`dwf graph --format json`: the DOT `dwf graph`
 * draws, and per node the SubType and name of the operations it stands for). Each node is
 * matched to the execution's operations: same SubType and the same name (a literal label or a
 * step's binding), or a name that fits the label's template ("item-${i}" fits "item-7"); an
 * unnamed node takes the unnamed operations of its SubType in order (the n-th unnamed wait of
 * the graph the n-th unnamed wait that ran; in a loop, the later ones the last node). A node
 * with operations still going is "run", else one with a failed one "bad", else "ok"; a node no
 * operation matched is drawn faded (not reached). The start node follows the execution, the end
 * node its outcome. The colours are DOT attributes appended to the workflow's DOT (a later
 * attribute statement overrides an earlier one), laid out by Graphviz's dot into SVG; each node
 * links to its first operation's entry on the page. Without dot the section says so and the
 * list under it (every node with its status, as text) is the picture.
 */
#include "cs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "input.h"
#include "proc.h"

#define SVG_LIMIT (8 << 20) /* a layout larger than this is not one of ours */

typedef struct node_state {
    const cJSON *node;
    int run, bad, ok, other; /* matched operations by class */
    const char *first_op;    /* the first matched operation's id */
} node_state;

static const char *str_of(const cJSON *o, const char *k)
{
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

/* Does name fit the literal pieces of a template ("a-" * "-b")? */
static int fits_parts(const char *name, const cJSON *parts)
{
    int n = cJSON_GetArraySize(parts);
    if (n == 0) return 1;
    const char *p = name;
    for (int i = 0; i < n; i++) {
        const char *piece = cJSON_GetStringValue(cJSON_GetArrayItem(parts, i));
        if (!piece) return 0;
        size_t len = strlen(piece);
        if (i == 0) {
            if (strncmp(p, piece, len) != 0) return 0;
            p += len;
        } else if (i == n - 1) {
            size_t rest = strlen(p);
            return rest >= len && strcmp(p + rest - len, piece) == 0;
        } else {
            const char *at = strstr(p, piece);
            if (!at) return 0;
            p = at + len;
        }
    }
    return n == 1 ? *p == '\0' : 1;
}

static void count(node_state *s, const cJSON *op)
{
    const char *cls = cs_status_class(str_of(op, "Status"));
    if (strcmp(cls, "run") == 0) s->run++;
    else if (strcmp(cls, "bad") == 0) s->bad++;
    else if (strcmp(cls, "ok") == 0) s->ok++;
    else s->other++;
    if (!s->first_op) s->first_op = str_of(op, "Id");
}

/* Match every operation to the nodes that stand for it (see the top of the file). */
static void match(node_state *st, int n, const cJSON *ops)
{
    for (const cJSON *op = ops ? ops->child : NULL; op; op = op->next) {
        const char *sub = str_of(op, "SubType"), *name = str_of(op, "Name");
        if (!sub) continue;
        if (name) {
            for (int i = 0; i < n; i++) {
                const cJSON *nd = st[i].node;
                const char *ns = str_of(nd, "subtype"), *nn = str_of(nd, "name");
                const cJSON *parts = cJSON_GetObjectItemCaseSensitive(nd, "parts");
                if (!ns || strcmp(ns, sub) != 0) continue;
                if ((nn && strcmp(nn, name) == 0) || (!nn && parts && fits_parts(name, parts))) count(&st[i], op);
            }
            continue;
        }
        /* unnamed: the k-th unnamed operation of this SubType goes to the k-th unnamed node */
        int k = 0;
        for (const cJSON *o = ops->child; o != op; o = o->next)
            if (!str_of(o, "Name") && str_of(o, "SubType") && strcmp(str_of(o, "SubType"), sub) == 0) k++;
        int last = -1, seen = 0;
        for (int i = 0; i < n; i++) {
            const cJSON *nd = st[i].node;
            const char *ns = str_of(nd, "subtype");
            if (!ns || strcmp(ns, sub) != 0 || str_of(nd, "name") || cJSON_GetObjectItemCaseSensitive(nd, "parts"))
                continue;
            if (seen++ == k) {
                last = i;
                break;
            }
            last = i;
        }
        if (last >= 0) count(&st[last], op);
    }
}

/* The class a node is drawn with: "run", "bad", "ok", "idle" (matched, all cancelled) or NULL
 * (not reached). */
static const char *class_of(const node_state *s, const char *exec_status)
{
    const char *kind = str_of(s->node, "kind");
    if (kind && strcmp(kind, "start") == 0) return cs_status_class(exec_status);
    if (kind && strcmp(kind, "end") == 0) {
        const char *c = cs_status_class(exec_status);
        return strcmp(c, "run") == 0 ? NULL : c;
    }
    if (!str_of(s->node, "subtype")) return NULL; /* an if, a loop, a fail: no operation of its own */
    if (s->run) return "run";
    if (s->bad) return "bad";
    if (s->ok) return "ok";
    return s->other ? "idle" : NULL;
}

/* DOT colours per class: fill, border, text, border width. */
static void class_attrs(const char *cls, cs_buf *b)
{
    static const char *const attrs[][2] = {
        {"ok", "fillcolor=\"#c8efd2\", color=\"#1f8a3b\", fontcolor=\"#113d1e\", penwidth=2"},
        {"run", "fillcolor=\"#cfe2ff\", color=\"#1a5fd0\", fontcolor=\"#0d2e66\", penwidth=3"},
        {"bad", "fillcolor=\"#f8cdc9\", color=\"#b3261e\", fontcolor=\"#5c110d\", penwidth=3"},
        {"idle", "fillcolor=\"#e6e6e6\", color=\"#777777\", fontcolor=\"#333333\", penwidth=2"},
    };
    const char *a = "fillcolor=\"#f3f3f3\", color=\"#c4c4c4\", fontcolor=\"#8a8a8a\""; /* not reached */
    for (size_t i = 0; cls && i < sizeof attrs / sizeof *attrs; i++)
        if (strcmp(cls, attrs[i][0]) == 0) a = attrs[i][1];
    cs_puts(b, a);
}

static const char *class_word(const char *cls)
{
    if (!cls) return "not reached";
    if (strcmp(cls, "ok") == 0) return "succeeded";
    if (strcmp(cls, "run") == 0) return "in progress";
    if (strcmp(cls, "bad") == 0) return "failed";
    return "cancelled";
}

/* "2 succeeded, 1 in progress" for a node's tooltip and the text list. */
static void put_counts(cs_buf *b, const node_state *s)
{
    int any = 0;
    if (s->ok) cs_printf(b, "%s%d succeeded", any++ ? ", " : "", s->ok);
    if (s->run) cs_printf(b, "%s%d in progress", any++ ? ", " : "", s->run);
    if (s->bad) cs_printf(b, "%s%d failed", any++ ? ", " : "", s->bad);
    if (s->other) cs_printf(b, "%s%d cancelled", any++ ? ", " : "", s->other);
}

/* The workflow's DOT with each node's colours appended before its closing brace. */
static char *coloured_dot(const char *dot, const node_state *st, int n, const char *exec_status)
{
    const char *close = strrchr(dot, '}');
    if (!close) return NULL;
    cs_buf b = {0};
    cs_putn(&b, dot, (size_t)(close - dot));
    cs_puts(&b, "  // the execution's statuses (dwf console)\n");
    for (int i = 0; i < n; i++) {
        const char *id = str_of(st[i].node, "id");
        static const char idchars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_";
        if (!id || strspn(id, idchars) != strlen(id)) continue; /* dwf graph's ids only: nothing to escape */
        const char *kind = str_of(st[i].node, "kind");
        if (kind && (strcmp(kind, "if") == 0 || strcmp(kind, "loop") == 0 || strcmp(kind, "try") == 0)) continue;
        const char *cls = class_of(&st[i], exec_status);
        cs_printf(&b, "  \"%s\" [", id);
        class_attrs(cls, &b);
        if (st[i].first_op && strspn(st[i].first_op, "0123456789abcdef-") == strlen(st[i].first_op))
            cs_printf(&b, ", href=\"#op-%s\", target=\"_self\"", st[i].first_op);
        cs_puts(&b, ", tooltip=\"");
        if (st[i].ok + st[i].run + st[i].bad + st[i].other) put_counts(&b, &st[i]);
        else cs_puts(&b, class_word(cls));
        cs_puts(&b, "\"];\n");
    }
    cs_puts(&b, "}\n");
    if (b.oom) {
        cs_free(&b);
        return NULL;
    }
    return b.s;
}

/* Lay DOT out with dot -Tsvg (through temporary files); the SVG, or NULL with why in why. */
static char *layout(dwf_console *c, const char *dot_text, char *why, size_t whylen)
{
    pthread_mutex_lock(&c->mu);
    if (c->layout_dot && strcmp(c->layout_dot, dot_text) == 0) {
        char *svg = strdup(c->layout_svg);
        pthread_mutex_unlock(&c->mu);
        return svg;
    }
    pthread_mutex_unlock(&c->mu);
    const char *tmp = getenv("TMPDIR");
    char src[4096], out[4096 + 8];
    snprintf(src, sizeof src, "%s/dwf-console-XXXXXX.dot", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemps(src, 4);
    if (fd < 0) {
        snprintf(why, whylen, "cannot create a temporary file: %s", strerror(errno));
        return NULL;
    }
    size_t len = strlen(dot_text);
    int ok = write(fd, dot_text, len) == (ssize_t)len;
    close(fd);
    snprintf(out, sizeof out, "%s.svg", src);
    char *argv[] = {(char *)(c->o.dot_program ? c->o.dot_program : "dot"), "-Tsvg", "-o", out, src, NULL};
    char *output = NULL, *svg = NULL;
    int status = 0;
    dwf__proc_opts po = {.output = &output};
    if (!ok) snprintf(why, whylen, "cannot write a temporary file");
    else if (dwf__proc_run(argv, &po, &status, why, whylen) != 0) {
        /* why says it: most often, Graphviz is not installed */
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(why, whylen, "dot failed: %.200s", output ? output : "");
    } else {
        size_t n = 0;
        if (dwf__read_file_bounded(out, SVG_LIMIT, &svg, &n) != 0) snprintf(why, whylen, "dot wrote no SVG");
    }
    free(output);
    unlink(src);
    unlink(out);
    if (svg) {
        pthread_mutex_lock(&c->mu);
        free(c->layout_dot);
        free(c->layout_svg);
        c->layout_dot = strdup(dot_text);
        c->layout_svg = strdup(svg);
        if (!c->layout_dot || !c->layout_svg) {
            free(c->layout_dot);
            free(c->layout_svg);
            c->layout_dot = c->layout_svg = NULL;
        }
        pthread_mutex_unlock(&c->mu);
    }
    return svg;
}

/* The nodes as a list (the picture's text, and all there is without dot). */
static void put_node_list(cs_buf *b, const node_state *st, int n, const char *exec_status)
{
    cs_puts(b, "<details class=\"nodes\"><summary>Every node as text</summary><ul>");
    for (int i = 0; i < n; i++) {
        const cJSON *nd = st[i].node;
        const char *kind = str_of(nd, "kind"), *name = str_of(nd, "name");
        if (kind && strcmp(kind, "join") == 0) continue;
        const char *cls = class_of(&st[i], exec_status);
        cs_printf(b, "<li class=\"g-%s\">", cls ? cls : "none");
        cs_text(b, kind);
        if (name) {
            cs_puts(b, " \"");
            cs_text(b, name);
            cs_puts(b, "\"");
        }
        const cJSON *line = cJSON_GetObjectItemCaseSensitive(nd, "line");
        if (cJSON_IsNumber(line)) cs_printf(b, " (line %d)", line->valueint);
        cs_printf(b, ": %s", class_word(cls));
        if (st[i].ok + st[i].run + st[i].bad + st[i].other) {
            cs_puts(b, " (");
            put_counts(b, &st[i]);
            cs_puts(b, ")");
        }
        cs_puts(b, "</li>");
    }
    cs_puts(b, "</ul></details>");
}

void cs_graph_section(dwf_console *c, cs_buf *b, const char *arn, const cJSON *ops, const char *exec_status)
{
    char fn[256] = "";
    cs_puts(b, "<section id=\"graph\" data-live><h2>Workflow</h2>");
    char *doc_text = dwf_service_function_of(arn, fn) == 0 && c->o.workflow_graph
                         ? c->o.workflow_graph(c->o.arg, fn) : NULL;
    cJSON *doc = doc_text ? cJSON_Parse(doc_text) : NULL;
    free(doc_text);
    const char *dot = str_of(doc, "dot");
    const cJSON *nodes = cJSON_GetObjectItemCaseSensitive(doc, "nodes");
    int n = cJSON_GetArraySize(nodes);
    node_state *st = n > 0 ? calloc((size_t)n, sizeof *st) : NULL;
    if (!dot || !st) {
        cs_puts(b, "<p class=\"empty\">No graph: the workflow of this function is not known here (dwf serve reads "
                   "workflow-graph.json beside a zip that `dwf build` wrote; dwf console reads the .dwf the "
                   "engine ran).</p></section>");
        free(st);
        cJSON_Delete(doc);
        return;
    }
    int i = 0;
    for (const cJSON *nd = nodes->child; nd; nd = nd->next) st[i++].node = nd;
    match(st, n, ops);
    char *cdot = coloured_dot(dot, st, n, exec_status), why[512] = "out of memory";
    char *svg = cdot ? layout(c, cdot, why, sizeof why) : NULL;
    const char *at = svg ? strstr(svg, "<svg") : NULL;
    if (at) {
        cs_printf(b, "<div class=\"picture graph\">%s</div>", at);
        cs_puts(b, "<p class=\"legend\"><span class=\"g-ok\">succeeded</span> <span class=\"g-run\">in progress</span> "
                   "<span class=\"g-bad\">failed</span> <span class=\"g-none\">not reached</span></p>");
    } else {
        cs_puts(b, "<p class=\"empty\">The graph cannot be drawn here: ");
        cs_text(b, why);
        cs_puts(b, " (Graphviz's <code>dot</code> lays it out: apt-get install graphviz).</p>");
    }
    put_node_list(b, st, n, exec_status);
    cs_puts(b, "</section>");
    free(svg);
    free(cdot);
    free(st);
    cJSON_Delete(doc);
}
