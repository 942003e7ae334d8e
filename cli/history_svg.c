/*
 * history_svg.c: `dwf history --format svg`, the execution's rows (history_views.h) as a
 * Gantt chart in one self-contained SVG document: no scripts, no external fonts or styles, so
 * it opens the same in a browser, an image viewer or a pull request.
 *
 * Layout: a title (function, execution, status, duration), a time axis with round ticks, then
 * one row per operation: its label indented by depth on the left, its segments on the time
 * axis, its duration and status on the right, alternate rows shaded. Step attempts are solid
 * bars (green, red when the attempt failed, blue while running), the delay before a retry a
 * dashed red line, a wait a dotted grey line, a callback or invoke an amber outlined bar (time
 * spent waiting for someone else), a context a thin grey bar under its children. Every segment
 * carries a <title> with what it was, shown as a tooltip.
 *
 * Every text that comes from the store is escaped (& < > " '), and what XML 1.0 cannot hold at
 * all (control characters, invalid UTF-8) is replaced by U+FFFD, so a step named `<script>` is
 * text and the document always parses. The output depends only on the rows: the same execution
 * gives the same bytes.
 */
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "history_views.h"
#include "input.h"

enum {
    WIDTH = 1120,
    LABEL_X = 12,
    LABEL_W = 330,   /* labels end here */
    CHART_X = 350,   /* the time axis starts here */
    CHART_W = 600,
    INFO_X = 962,    /* duration and status */
    ROW_H = 22,
    TOP = 100,       /* first row */
    INDENT = 14,
    MIN_BAR = 2      /* px: everything that happened is visible */
};

/* Text for XML: escaped, and what XML cannot hold replaced by U+FFFD; at most max_chars code
 * points, cut with an ellipsis. */
static void xml_text(FILE *out, const char *s, int max_chars)
{
    size_t len = s ? strlen(s) : 0;
    int chars = 0;
    for (size_t i = 0; i < len; chars++) {
        if (chars == max_chars) {
            fputs("\u2026", out);
            return;
        }
        size_t k = dwf__utf8_char(s + i, len - i);
        unsigned char c = (unsigned char)s[i];
        if (k == 0 || (c < 0x20 && c != '\t') || c == 0x7f) fputs("\ufffd", out);
        else if (c == '&') fputs("&amp;", out);
        else if (c == '<') fputs("&lt;", out);
        else if (c == '>') fputs("&gt;", out);
        else if (c == '"') fputs("&quot;", out);
        else if (c == '\'') fputs("&#39;", out);
        else fwrite(s + i, 1, k, out);
        i += k ? k : 1;
    }
}

static double x_of(const HvExec *x, double t)
{
    double span = x->t1 - x->t0 > 0 ? x->t1 - x->t0 : 1;
    return CHART_X + (t - x->t0) / span * CHART_W;
}

/* A tick's label: "0", "500 ms", "2 s", "1.5 min". */
static void tick_label(double ms, char *out, size_t n)
{
    if (ms == 0) snprintf(out, n, "0");
    else if (ms < 1000) snprintf(out, n, "%g ms", ms);
    else if (ms < 60000) snprintf(out, n, "%g s", ms / 1000);
    else if (ms < 3600000) snprintf(out, n, "%g min", ms / 60000);
    else if (ms < 86400000) snprintf(out, n, "%g h", ms / 3600000);
    else snprintf(out, n, "%g d", ms / 86400000);
}

/* A round tick step (1, 2 or 5 times a power of ten ms) giving about six ticks. */
static double tick_step(double span_ms)
{
    double raw = span_ms / 6, p = pow(10, floor(log10(raw > 0 ? raw : 1)));
    return raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
}

static void header(const HvExec *x, FILE *out, int height)
{
    const HvRow *e = &x->rows[0];
    char dur[40];
    hv_duration(x->t1 - x->t0, dur, sizeof dur);
    fprintf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                 "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
            WIDTH, height, WIDTH, height);
    fputs("<title>", out);
    xml_text(out, x->title ? x->title : "execution", 200);
    fputs("</title>\n", out);
    fprintf(out, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n", WIDTH, height);
    fputs("<text x=\"12\" y=\"26\" font-size=\"17\" font-weight=\"bold\" fill=\"#1b1f24\">", out);
    xml_text(out, x->title ? x->title : "execution", 90);
    fputs("</text>\n<text x=\"12\" y=\"46\" font-size=\"12\" fill=\"#57606a\">", out);
    xml_text(out, e->status, 20);
    fprintf(out, " \u00b7 %s%s \u00b7 %d operations</text>\n", dur, e->open ? " so far" : "", x->n - 1);
    if (x->arn) {
        fputs("<text x=\"12\" y=\"62\" font-size=\"10\" fill=\"#8c959f\">", out);
        xml_text(out, x->arn, 190);
        fputs("</text>\n", out);
    }
}

static void axis(const HvExec *x, FILE *out, int bottom)
{
    double span = x->t1 - x->t0 > 0 ? x->t1 - x->t0 : 1, step = tick_step(span);
    char lab[40];
    fprintf(out, "<g font-size=\"11\" fill=\"#57606a\" stroke-width=\"1\">\n");
    for (int i = 0; i * step <= span * 1.0001 && i < 100; i++) {
        double px = CHART_X + i * step / span * CHART_W;
        tick_label(i * step, lab, sizeof lab);
        fprintf(out, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#d0d7de\"/>\n", px, TOP - 12,
                px, bottom);
        fprintf(out, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", px, TOP - 18, lab);
    }
    fprintf(out, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#8c959f\"/>\n</g>\n", CHART_X,
            TOP - 12, CHART_X + CHART_W, TOP - 12);
}

static const char *run_color(const HvRow *r, const HvSeg *s)
{
    if (s->kind == HV_FAILED) return "#cf222e";
    if (r->open && s->end >= r->end) return "#0969da";
    return "#1a7f37";
}

/* One segment, with a tooltip saying what it was. */
static void segment(const HvExec *x, const HvRow *r, const HvSeg *s, int y, FILE *out)
{
    double a = x_of(x, s->start), b = x_of(x, s->end), mid = y + ROW_H / 2.0;
    char dur[40];
    hv_duration(s->end - s->start, dur, sizeof dur);
    if (b - a < MIN_BAR && s->kind != HV_SPAN) b = a + MIN_BAR;
    switch (s->kind) {
    case HV_SPAN:
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"4\" rx=\"2\" fill=\"#afb8c1\">",
                a, mid - 2, b - a > 1 ? b - a : 1);
        break;
    case HV_RUN:
    case HV_FAILED:
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"12\" rx=\"2\" fill=\"%s\">", a,
                mid - 6, b - a, run_color(r, s));
        break;
    case HV_RETRY:
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#cf222e\" "
                     "stroke-width=\"2\" stroke-dasharray=\"5 3\">", a, mid, b, mid);
        break;
    case HV_WAIT:
        fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#6e7781\" "
                     "stroke-width=\"2\" stroke-dasharray=\"1 3\" stroke-linecap=\"round\">", a, mid, b, mid);
        break;
    case HV_EXTERNAL:
        fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"12\" rx=\"2\" fill=\"#fff8c5\" "
                     "stroke=\"#bf8700\" stroke-dasharray=\"3 2\">", a, mid - 6, b - a);
        break;
    }
    fputs("<title>", out);
    char lab[160];
    xml_text(out, hv_label(r, lab, sizeof lab), 120);
    fprintf(out, ": %s", s->kind == HV_RUN || s->kind == HV_FAILED ? (s->kind == HV_FAILED ? "failed" : "ran")
                                                                       : hv_kind_name(s->kind));
    if (s->attempt) fprintf(out, " (attempt %d)", s->attempt);
    fprintf(out, ", %s</title>", dur);
    fputs(s->kind == HV_RETRY || s->kind == HV_WAIT ? "</line>\n" : "</rect>\n", out);
}

static void row(const HvExec *x, int i, FILE *out)
{
    const HvRow *r = &x->rows[i];
    int y = TOP + i * ROW_H;
    char lab[160], dur[40];
    int indent = r->depth * INDENT, room = (LABEL_W - LABEL_X - indent - 60) / 7;
    int unnamed = !(r->name && *r->name) && i > 0;
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"%s\"%s>", LABEL_X + indent, y + 15,
            unnamed ? "#57606a" : "#1b1f24", unnamed ? " font-style=\"italic\"" : "");
    xml_text(out, i == 0 ? "execution" : hv_label(r, lab, sizeof lab), room > 6 ? room : 6);
    fprintf(out, "</text>\n<text x=\"%d\" y=\"%d\" font-size=\"10\" fill=\"#8c959f\" text-anchor=\"end\">",
            LABEL_W, y + 15);
    xml_text(out, r->subtype ? r->subtype : r->type, 20);
    fputs("</text>\n", out);
    for (int k = 0; k < r->nsegs; k++) segment(x, r, &r->segs[k], y, out);
    hv_duration(r->end - r->start, dur, sizeof dur);
    const char *color = strcmp(r->status, "SUCCEEDED") == 0 ? "#1a7f37"
                        : strcmp(r->status, "FAILED") == 0 || strcmp(r->status, "TIMED_OUT") == 0 ? "#cf222e"
                                                                                                    : "#0969da";
    fprintf(out, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#1b1f24\">%s <tspan fill=\"%s\">", INFO_X,
            y + 15, dur, color);
    xml_text(out, r->status, 20);
    fputs("</tspan>", out);
    if (strcmp(r->type, "STEP") == 0 && r->attempts > 1) fprintf(out, " \u00d7%d", r->attempts);
    fputs("</text>\n", out);
}

static void legend(FILE *out, int y)
{
    fprintf(out, "<g font-size=\"11\" fill=\"#57606a\" transform=\"translate(12 %d)\">\n", y);
    fputs("<rect x=\"0\" y=\"-9\" width=\"14\" height=\"10\" rx=\"2\" fill=\"#1a7f37\"/>"
          "<text x=\"20\" y=\"0\">step attempt / invocation</text>\n"
          "<rect x=\"190\" y=\"-9\" width=\"14\" height=\"10\" rx=\"2\" fill=\"#cf222e\"/>"
          "<text x=\"210\" y=\"0\">failed attempt</text>\n"
          "<line x1=\"310\" y1=\"-4\" x2=\"334\" y2=\"-4\" stroke=\"#cf222e\" stroke-width=\"2\" "
          "stroke-dasharray=\"5 3\"/><text x=\"340\" y=\"0\">retry delay</text>\n"
          "<line x1=\"420\" y1=\"-4\" x2=\"444\" y2=\"-4\" stroke=\"#6e7781\" stroke-width=\"2\" "
          "stroke-dasharray=\"1 3\" stroke-linecap=\"round\"/><text x=\"450\" y=\"0\">wait (timer)</text>\n"
          "<rect x=\"540\" y=\"-9\" width=\"14\" height=\"10\" rx=\"2\" fill=\"#fff8c5\" stroke=\"#bf8700\" "
          "stroke-dasharray=\"3 2\"/><text x=\"560\" y=\"0\">waiting for a callback / invoke</text>\n"
          "<rect x=\"760\" y=\"-6\" width=\"14\" height=\"4\" rx=\"2\" fill=\"#afb8c1\"/>"
          "<text x=\"780\" y=\"0\">context (parallel, map, branch)</text>\n"
          "<rect x=\"990\" y=\"-9\" width=\"14\" height=\"10\" rx=\"2\" fill=\"#0969da\"/>"
          "<text x=\"1010\" y=\"0\">running</text>\n</g>\n", out);
}

void hv_print_svg(const HvExec *x, FILE *out)
{
    int bottom = TOP + x->n * ROW_H, height = bottom + 40;
    header(x, out, height);
    for (int i = 1; i < x->n; i += 2) /* shading first: the grid and the bars go over it */
        fprintf(out, "<rect x=\"0\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#f6f8fa\"/>\n",
                TOP + i * ROW_H, WIDTH, ROW_H);
    axis(x, out, bottom);
    for (int i = 0; i < x->n; i++) row(x, i, out);
    legend(out, bottom + 26);
    fputs("</svg>\n", out);
}

char *hv_console_timeline(void *arg, const cJSON *ops, const cJSON *events, double now)
{
    (void)arg;
    HvExec x;
    char err[256], *text = NULL;
    size_t len = 0;
    if (hv_build(&x, ops, events, now, err, sizeof err) != 0) return NULL;
    FILE *mem = open_memstream(&text, &len);
    if (mem) {
        hv_print_svg(&x, mem);
        if (fclose(mem) != 0) {
            free(text);
            text = NULL;
        }
    }
    hv_free(&x);
    return text;
}
