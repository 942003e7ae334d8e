/*
 * history_views.c: one execution's operations as rows (hv_build), and the rows as a tree, a
 * text Gantt chart or JSON (history_svg.c draws the SVG). See history_views.h.
 *
 * Rows are ordered depth first, children in the order the service started them, so a row's
 * descendants follow it directly and a parallel's branches sit side by side under it. The walk
 * uses an explicit stack and attaches operations whose parent is unknown (or part of a cycle,
 * which only a hand-made --file can hold) under the execution, so any input gives a picture.
 * Times come from the store: operation start and end as the service received them, step
 * attempts and invocations from the history events. Names are printed with control characters
 * and invalid UTF-8 replaced: a step name is data, and must not drive the terminal.
 */
#include "history_views.h"

#include <stdlib.h>
#include <string.h>

#include "engine_common.h"
#include "input.h"

/* ---- building the rows ------------------------------------------------------------------- */

typedef struct IdIndex {
    const char *id;
    int row;
} IdIndex;

static int by_id(const void *a, const void *b)
{
    return strcmp(((const IdIndex *)a)->id, ((const IdIndex *)b)->id);
}

static int find_row(const IdIndex *ix, int n, const char *id)
{
    if (!id) return -1;
    IdIndex key = {id, 0};
    const IdIndex *hit = bsearch(&key, ix, (size_t)n, sizeof *ix, by_id);
    return hit ? hit->row : -1;
}

static int add_seg(HvRow *r, HvKind kind, double start, double end, int attempt)
{
    if (r->nsegs == r->cap) {
        int cap = r->cap ? r->cap * 2 : 4;
        HvSeg *s = realloc(r->segs, (size_t)cap * sizeof *s);
        if (!s) return -1;
        r->segs = s;
        r->cap = cap;
    }
    if (end < start) end = start;
    r->segs[r->nsegs++] = (HvSeg){start, end, kind, attempt};
    return 0;
}

static int terminal(const char *status)
{
    static const char *const done[] = {"SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT", "STOPPED"};
    for (size_t i = 0; status && i < sizeof done / sizeof done[0]; i++)
        if (strcmp(status, done[i]) == 0) return 1;
    return 0;
}

/* The ErrorType of whichever *Details object of the operation carries an Error. */
static const char *error_type_of(const cJSON *op)
{
    const cJSON *d;
    cJSON_ArrayForEach(d, op)
    {
        size_t k = d->string ? strlen(d->string) : 0;
        if (!cJSON_IsObject(d) || k < 7 || strcmp(d->string + k - 7, "Details") != 0) continue;
        const char *t = ec_str(cJSON_GetObjectItemCaseSensitive(d, "Error"), "ErrorType");
        if (t) return t;
    }
    return NULL;
}

static void fill_row(HvRow *r, const cJSON *op, double now)
{
    r->op = op;
    r->id = ec_str(op, "Id");
    r->parent_id = ec_str(op, "ParentId");
    r->type = ec_str(op, "Type") ? ec_str(op, "Type") : "?";
    r->subtype = ec_str(op, "SubType");
    r->name = ec_str(op, "Name");
    r->status = ec_str(op, "Status") ? ec_str(op, "Status") : "?";
    r->error_type = error_type_of(op);
    r->start = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(op, "StartTimestamp"));
    r->end = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(op, "EndTimestamp"));
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(op, "StepDetails");
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(sd, "Attempt");
    r->attempts = cJSON_IsNumber(att) ? (int)att->valuedouble : 0;
    if (r->start < 0) r->start = now;
    if (r->end < 0) {
        r->open = !terminal(r->status);
        r->end = r->open ? now : r->start;
    }
    if (r->end < r->start) r->end = r->start;
}

/* Depth-first order from `top`, appending to order[*k]; children[first[r]..first[r+1]) are
 * row r's children. An explicit stack of (row, next child) pairs: a --file may nest as deep as
 * it likes. */
static void walk(HvRow *rows, int top, const int *first, const int *children, int *order, int *k,
                 char *seen, int *stack)
{
    int sp = 1;
    seen[top] = 1;
    order[(*k)++] = top;
    stack[0] = top;
    stack[1] = first[top];
    while (sp > 0) {
        int r = stack[2 * (sp - 1)], c = stack[2 * (sp - 1) + 1];
        if (c >= first[r + 1]) {
            sp--;
            continue;
        }
        stack[2 * (sp - 1) + 1]++;
        int ch = children[c];
        if (seen[ch]) continue;
        seen[ch] = 1;
        rows[ch].depth = rows[r].depth + 1;
        order[(*k)++] = ch;
        stack[2 * sp] = ch;
        stack[2 * sp + 1] = first[ch];
        sp++;
    }
}

/* Parents by id, then the rows in depth-first order into x->rows. */
static int order_rows(HvExec *x, HvRow *tmp, int n, int root)
{
    IdIndex *ix = malloc((size_t)n * sizeof *ix);
    int *first = calloc((size_t)n + 2, sizeof *first), *children = calloc((size_t)n, sizeof *children);
    int *order = malloc((size_t)n * sizeof *order), *stack = malloc((size_t)n * 2 * sizeof *stack);
    int *old_to_new = malloc((size_t)n * sizeof *old_to_new);
    char *seen = calloc((size_t)n, 1);
    int rc = -1, k = 0, m = 0;
    if (!ix || !first || !children || !order || !stack || !seen || !old_to_new) goto out;
    for (int i = 0; i < n; i++)
        if (tmp[i].id) ix[m++] = (IdIndex){tmp[i].id, i};
    qsort(ix, (size_t)m, sizeof *ix, by_id);
    for (int i = 0; i < n; i++) {
        int p = i == root ? -1 : find_row(ix, m, tmp[i].parent_id);
        tmp[i].parent = i == root ? -1 : p >= 0 && p != i ? p : root;
        if (tmp[i].parent >= 0) first[tmp[i].parent + 1]++;
    }
    for (int i = 0; i < n; i++) first[i + 1] += first[i];
    first[n + 1] = first[n];
    int *fill = calloc((size_t)n + 1, sizeof *fill);
    if (!fill) goto out;
    for (int i = 0; i < n; i++)
        if (tmp[i].parent >= 0) children[first[tmp[i].parent] + fill[tmp[i].parent]++] = i;
    free(fill);
    tmp[root].depth = 0;
    walk(tmp, root, first, children, order, &k, seen, stack);
    for (int i = 0; i < n; i++) /* unreachable: a parent cycle; shown under the execution */
        if (!seen[i]) {
            tmp[i].parent = root;
            tmp[i].depth = 1;
            walk(tmp, i, first, children, order, &k, seen, stack);
        }
    x->rows = malloc((size_t)n * sizeof *x->rows);
    if (!x->rows) goto out;
    for (int i = 0; i < n; i++) old_to_new[order[i]] = i;
    for (int i = 0; i < n; i++) {
        x->rows[i] = tmp[order[i]];
        x->rows[i].parent = x->rows[i].parent >= 0 ? old_to_new[x->rows[i].parent] : -1;
    }
    x->n = n;
    memset(seen, 0, (size_t)n); /* now: "a later sibling was seen", walking back */
    for (int i = n - 1; i > 0; i--) {
        x->rows[i].last_child = !seen[x->rows[i].parent];
        seen[x->rows[i].parent] = 1;
    }
    rc = 0;
out:
    free(ix);
    free(first);
    free(children);
    free(order);
    free(stack);
    free(seen);
    free(old_to_new);
    return rc;
}

/* Step attempts, retry delays and invocations from the history events. */
typedef struct StepState {
    double started, failed; /* -1 when none pending */
    int attempts;
} StepState;

static int apply_event(HvExec *x, const IdIndex *ix, int m, StepState *st, const cJSON *e)
{
    const char *type = ec_str(e, "EventType");
    double ts = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(e, "EventTimestamp"));
    int r = find_row(ix, m, ec_str(e, "Id"));
    if (!type || ts < 0) return 0;
    if (strcmp(type, "InvocationCompleted") == 0) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "InvocationCompletedDetails");
        double s = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(d, "StartTimestamp"));
        double en = ec_ts_ms(cJSON_GetObjectItemCaseSensitive(d, "EndTimestamp"));
        int failed = cJSON_GetObjectItemCaseSensitive(d, "Error") != NULL;
        return s >= 0 && en >= 0 ? add_seg(&x->rows[0], failed ? HV_FAILED : HV_RUN, s, en, 0) : 0;
    }
    if (r < 0 || strcmp(x->rows[r].type, "STEP") != 0) return 0;
    HvRow *row = &x->rows[r];
    if (strcmp(type, "StepStarted") == 0) {
        if (st[r].failed >= 0 && add_seg(row, HV_RETRY, st[r].failed, ts, 0) != 0) return -1;
        st[r].failed = -1;
        st[r].started = ts;
        return 0;
    }
    int ok = strcmp(type, "StepSucceeded") == 0, bad = strcmp(type, "StepFailed") == 0;
    if (!ok && !bad) return 0;
    const cJSON *rd = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(e, ok ? "StepSucceededDetails" : "StepFailedDetails"), "RetryDetails");
    const cJSON *cur = cJSON_GetObjectItemCaseSensitive(rd, "CurrentAttempt");
    int attempt = cJSON_IsNumber(cur) ? (int)cur->valuedouble : ++st[r].attempts;
    double s = st[r].started >= 0 ? st[r].started : st[r].attempts <= 1 ? row->start : ts;
    if (add_seg(row, ok ? HV_RUN : HV_FAILED, s, ts, attempt) != 0) return -1;
    st[r].started = -1;
    if (attempt > st[r].attempts) st[r].attempts = attempt;
    if (bad && cJSON_GetObjectItemCaseSensitive(rd, "NextAttemptDelaySeconds")) st[r].failed = ts;
    return 0;
}

static int event_segments(HvExec *x, const cJSON *events)
{
    IdIndex *ix = malloc((size_t)x->n * sizeof *ix);
    StepState *st = malloc((size_t)x->n * sizeof *st);
    int rc = ix && st ? 0 : -1, m = 0;
    for (int i = 0; rc == 0 && i < x->n; i++) {
        st[i] = (StepState){-1, -1, 0};
        if (x->rows[i].id) ix[m++] = (IdIndex){x->rows[i].id, i};
    }
    if (rc == 0) qsort(ix, (size_t)m, sizeof *ix, by_id);
    const cJSON *e;
    cJSON_ArrayForEach(e, events) if (rc == 0) rc = apply_event(x, ix, m, st, e);
    for (int i = 0; rc == 0 && i < x->n; i++) { /* what is still pending runs to the row's end */
        HvRow *row = &x->rows[i];
        if (st[i].failed >= 0) rc = add_seg(row, HV_RETRY, st[i].failed, row->end, 0);
        else if (st[i].started >= 0)
            rc = add_seg(row, row->open ? HV_RUN : HV_FAILED, st[i].started, row->end, st[i].attempts + 1);
        if (st[i].attempts > row->attempts) row->attempts = st[i].attempts;
    }
    free(ix);
    free(st);
    return rc;
}

/* What a row shows without events, and the span of contexts and the execution. */
static int own_segments(HvRow *r)
{
    const char *t = r->type;
    if (strcmp(t, "EXECUTION") == 0 || strcmp(t, "CONTEXT") == 0)
        return add_seg(r, HV_SPAN, r->start, r->end, 0);
    if (strcmp(t, "WAIT") == 0) return add_seg(r, HV_WAIT, r->start, r->end, 0);
    if (strcmp(t, "CALLBACK") == 0 || strcmp(t, "CHAINED_INVOKE") == 0)
        return add_seg(r, HV_EXTERNAL, r->start, r->end, 0);
    return 0;
}

int hv_build(HvExec *x, const cJSON *ops, const cJSON *events, double now, char *err, size_t errlen)
{
    memset(x, 0, sizeof *x);
    int n = 0, root = -1;
    HvRow *tmp = calloc((size_t)cJSON_GetArraySize(ops) + 1, sizeof *tmp);
    if (!tmp) goto oom;
    const cJSON *op;
    cJSON_ArrayForEach(op, ops)
    {
        if (!cJSON_IsObject(op)) continue;
        fill_row(&tmp[n], op, now);
        if (root < 0 && strcmp(tmp[n].type, "EXECUTION") == 0) root = n;
        n++;
    }
    if (root < 0) { /* no EXECUTION operation: one spanning the others */
        root = n++;
        tmp[root] = (HvRow){.type = "EXECUTION", .status = "?", .start = now, .end = now};
        for (int i = 0; i < root; i++) {
            if (i == 0 || tmp[i].start < tmp[root].start) tmp[root].start = tmp[i].start;
            if (i == 0 || tmp[i].end > tmp[root].end) tmp[root].end = tmp[i].end;
        }
    }
    if (order_rows(x, tmp, n, root) != 0) goto oom;
    free(tmp);
    tmp = NULL;
    for (int i = 0; i < x->n; i++)
        if (own_segments(&x->rows[i]) != 0) goto oom;
    if (events && event_segments(x, events) != 0) goto oom;
    for (int i = 0; i < x->n; i++) {
        HvRow *r = &x->rows[i];
        HvKind k = strcmp(r->status, "FAILED") == 0 ? HV_FAILED : HV_RUN;
        if (r->nsegs == 0 && strcmp(r->type, "STEP") == 0 && add_seg(r, k, r->start, r->end, r->attempts) != 0)
            goto oom;
    }
    x->t0 = x->rows[0].start;
    x->t1 = x->t0;
    for (int i = 0; i < x->n; i++) {
        if (x->rows[i].start < x->t0) x->t0 = x->rows[i].start;
        if (x->rows[i].end > x->t1) x->t1 = x->rows[i].end;
        for (int k = 0; k < x->rows[i].nsegs; k++)
            if (x->rows[i].segs[k].end > x->t1) x->t1 = x->rows[i].segs[k].end;
    }
    return 0;
oom:
    free(tmp);
    hv_free(x);
    snprintf(err, errlen, "out of memory");
    return -1;
}

void hv_free(HvExec *x)
{
    for (int i = 0; i < x->n; i++) free(x->rows[i].segs);
    free(x->rows);
    x->rows = NULL;
    x->n = 0;
}

/* ---- shared by the views ----------------------------------------------------------------- */

void hv_duration(double ms, char *out, size_t n)
{
    if (ms < 0) ms = 0;
    double s = ms / 1000.0;
    if (ms < 1000) snprintf(out, n, "%.0f ms", ms);
    else if (s < 10) snprintf(out, n, "%.2f s", s);
    else if (s < 60) snprintf(out, n, "%.1f s", s);
    else if (s < 3600) snprintf(out, n, "%d min %d s", (int)(s / 60), (int)s % 60);
    else if (s < 86400) snprintf(out, n, "%d h %d min", (int)(s / 3600), (int)s % 3600 / 60);
    else snprintf(out, n, "%d d %d h", (int)(s / 86400), (int)s % 86400 / 3600);
}

const char *hv_label(const HvRow *r, char *buf, size_t n)
{
    if (r->name && *r->name) return r->name;
    snprintf(buf, n, "(%s)", r->subtype ? r->subtype : r->type);
    return buf;
}

const char *hv_kind_name(HvKind k)
{
    static const char *const names[] = {"run", "failed", "wait", "retry", "external", "span"};
    return k <= HV_SPAN ? names[k] : "?";
}

/* ---- text ---------------------------------------------------------------------------------- */

/* Print s in at most `cols` columns (a code point each), control characters and invalid UTF-8
 * as '?', cut with "~" when longer; pad with spaces to `pad` columns. Returns columns used. */
static int put_text(FILE *out, const char *s, int cols, int pad)
{
    int used = 0;
    size_t len = strlen(s);
    for (size_t i = 0; i < len && used < cols;) {
        size_t k = dwf__utf8_char(s + i, len - i);
        if (used == cols - 1 && i + (k ? k : 1) < len) {
            fputc('~', out);
            used++;
            break;
        }
        unsigned char c = (unsigned char)s[i];
        if (k == 0 || c < 0x20 || c == 0x7f) fputc('?', out);
        else fwrite(s + i, 1, k, out);
        i += k ? k : 1;
        used++;
    }
    for (int i = used; i < pad; i++) fputc(' ', out);
    return used > pad ? used : pad;
}

/* The "│  " / "├─ " / "└─ " prefix of row i in a tree. */
static void tree_prefix(const HvExec *x, int i, FILE *out)
{
    int depth = x->rows[i].depth;
    if (depth == 0) return;
    int *chain = malloc((size_t)(depth + 1) * sizeof *chain); /* chain[d]: the ancestor at depth d */
    if (!chain) return;
    chain[depth] = i;
    for (int d = depth; d > 0; d--) chain[d - 1] = x->rows[chain[d]].parent;
    for (int d = 1; d < depth; d++) fputs(x->rows[chain[d]].last_child ? "   " : "\u2502  ", out);
    fputs(x->rows[i].last_child ? "\u2514\u2500 " : "\u251c\u2500 ", out);
    free(chain);
}

static void row_facts(const HvRow *r, FILE *out)
{
    char dur[40];
    hv_duration(r->end - r->start, dur, sizeof dur);
    fprintf(out, "%-9s %10s", r->status, dur);
    if (r->open) fputs(" so far", out);
    if (strcmp(r->type, "STEP") == 0 && r->attempts > 0)
        fprintf(out, "  %s %d", r->attempts > 1 ? "attempts" : "attempt", r->attempts);
    if (r->error_type) {
        fputs("  ", out);
        put_text(out, r->error_type, 60, 0);
    }
    fputc('\n', out);
}

void hv_print_tree(const HvExec *x, FILE *out)
{
    int width = 0;
    char buf[160];
    for (int i = 0; i < x->n; i++) {
        int w = 3 * x->rows[i].depth + (int)strlen(hv_label(&x->rows[i], buf, sizeof buf));
        if (i == 0 && x->title) w = (int)strlen(x->title);
        if (w > width) width = w;
    }
    if (width > 64) width = 64;
    for (int i = 0; i < x->n; i++) {
        const HvRow *r = &x->rows[i];
        tree_prefix(x, i, out);
        const char *label = i == 0 && x->title ? x->title : hv_label(r, buf, sizeof buf);
        int room = width - 3 * r->depth;
        put_text(out, label, room > 8 ? room : 8, room);
        fprintf(out, "  %-15s ", r->subtype ? r->subtype : r->type);
        row_facts(r, out);
    }
}

/* ---- the text Gantt chart ---------------------------------------------------------------------- */

/* Column of instant t in a bar of w columns over [x->t0, x->t1]. */
static int col_of(const HvExec *x, double t, int w)
{
    double span = x->t1 - x->t0 > 0 ? x->t1 - x->t0 : 1;
    int c = (int)((t - x->t0) / span * w);
    return c < 0 ? 0 : c > w ? w : c;
}

/* The bar of one row: later kinds paint over earlier ones (a run over its span). */
static void paint(const HvExec *x, const HvRow *r, int w, const char **cells)
{
    static const char *const glyph[] = {"\u2588", "\u2593", "\u00b7", "-", "\u2591", "\u2500"};
    static const int order[] = {HV_SPAN, HV_WAIT, HV_EXTERNAL, HV_RETRY, HV_RUN, HV_FAILED};
    for (int c = 0; c < w; c++) cells[c] = " ";
    for (size_t o = 0; o < sizeof order / sizeof order[0]; o++)
        for (int k = 0; k < r->nsegs; k++) {
            const HvSeg *s = &r->segs[k];
            if ((int)s->kind != order[o]) continue;
            int a = col_of(x, s->start, w), b = col_of(x, s->end, w);
            if (b <= a) b = a + 1; /* everything that happened is at least one column */
            if (b > w) {
                b = w;
                a = a < w ? a : w - 1;
            }
            for (int c = a; c < b; c++) cells[c] = glyph[s->kind];
        }
}

static int by_start(const void *a, const void *b)
{
    double x = ((const double *)a)[0], y = ((const double *)b)[0];
    return x < y ? -1 : x > y;
}

/* The union of the segments of the kinds in `mask` (1 << kind) over every row, in ms: "where
 * did the time go", with parallel work counted once. */
static double covered(const HvExec *x, unsigned mask)
{
    int n = 0;
    for (int i = 0; i < x->n; i++)
        for (int k = 0; k < x->rows[i].nsegs; k++) n += (mask >> x->rows[i].segs[k].kind) & 1;
    double *iv = malloc((size_t)(n ? n : 1) * 2 * sizeof *iv), total = 0, cur_s = 0, cur_e = -1;
    if (!iv) return 0;
    n = 0;
    for (int i = 0; i < x->n; i++)
        for (int k = 0; k < x->rows[i].nsegs; k++)
            if ((mask >> x->rows[i].segs[k].kind) & 1) {
                iv[2 * n] = x->rows[i].segs[k].start;
                iv[2 * n + 1] = x->rows[i].segs[k].end;
                n++;
            }
    qsort(iv, (size_t)n, 2 * sizeof *iv, by_start);
    for (int i = 0; i < n; i++) {
        if (iv[2 * i] > cur_e) {
            if (cur_e > cur_s) total += cur_e - cur_s;
            cur_s = iv[2 * i];
            cur_e = iv[2 * i + 1];
        } else if (iv[2 * i + 1] > cur_e) {
            cur_e = iv[2 * i + 1];
        }
    }
    if (cur_e > cur_s) total += cur_e - cur_s;
    free(iv);
    return total;
}

static void timeline_axis(const HvExec *x, FILE *out, int label_w, int w)
{
    char a[40], b[40];
    hv_duration(0, a, sizeof a);
    hv_duration(x->t1 - x->t0, b, sizeof b);
    fprintf(out, "%*s%s", label_w + 2, "", "0");
    fprintf(out, "%*s\n", w - 1, b);
    fprintf(out, "%*s|", label_w + 2, "");
    for (int c = 1; c < w - 1; c++) fputs(c % 10 == 0 ? "+" : "-", out);
    fputs("|\n", out);
}

void hv_print_timeline(const HvExec *x, FILE *out, int width)
{
    char buf[160], dur[40];
    int label_w = 0;
    for (int i = 0; i < x->n; i++) {
        const char *label = i == 0 ? "execution" : hv_label(&x->rows[i], buf, sizeof buf);
        int w = 2 * x->rows[i].depth + (int)strlen(label);
        if (w > label_w) label_w = w;
    }
    if (label_w > 36) label_w = 36;
    int w = width - label_w - 2 - 24;
    if (w < 20) w = 20;
    const char **cells = malloc((size_t)w * sizeof *cells);
    if (!cells) return;
    if (x->title) {
        put_text(out, x->title, width, 0);
        fputc('\n', out);
    }
    timeline_axis(x, out, label_w, w);
    for (int i = 0; i < x->n; i++) {
        const HvRow *r = &x->rows[i];
        fprintf(out, "%*s", 2 * r->depth, "");
        put_text(out, i == 0 ? "execution" : hv_label(r, buf, sizeof buf), label_w - 2 * r->depth,
                 label_w - 2 * r->depth);
        fputs("  ", out);
        paint(x, r, w, cells);
        for (int c = 0; c < w; c++) fputs(cells[c], out);
        hv_duration(r->end - r->start, dur, sizeof dur);
        fprintf(out, " %9s %s", dur, r->status);
        if (strcmp(r->type, "STEP") == 0 && r->attempts > 1) fprintf(out, " x%d", r->attempts);
        fputc('\n', out);
    }
    free(cells);
    fputs("\n\u2588 running  \u2593 failed attempt  - retry delay  \u00b7 timer (wait)  "
          "\u2591 waiting for a callback or invoke  \u2500 context\n", out);
    static const struct { unsigned mask; const char *what; } parts[] = {
        {1u << HV_RUN | 1u << HV_FAILED, "running"}, {1u << HV_RETRY, "retry delays"},
        {1u << HV_WAIT, "timers"}, {1u << HV_EXTERNAL, "callbacks and invokes"}};
    hv_duration(x->t1 - x->t0, dur, sizeof dur);
    fprintf(out, "where the time went (%s in all; overlaps counted once):", dur);
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
        double ms = covered(x, parts[p].mask);
        hv_duration(ms, dur, sizeof dur);
        fprintf(out, "%s %s %s", p ? "," : "", dur, parts[p].what);
    }
    fputc('\n', out);
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static int add_ts(cJSON *o, const char *k, double ms)
{
    return cJSON_AddNumberToObject(o, k, ms / 1000.0) != NULL;
}

static cJSON *row_json(const HvRow *r)
{
    cJSON *o = cJSON_CreateObject(), *segs = NULL;
    int ok = o && cJSON_AddStringToObject(o, "Id", r->id ? r->id : "") &&
             (!r->parent_id || cJSON_AddStringToObject(o, "ParentId", r->parent_id)) &&
             cJSON_AddNumberToObject(o, "Depth", r->depth) &&
             (!r->name || cJSON_AddStringToObject(o, "Name", r->name)) &&
             cJSON_AddStringToObject(o, "Type", r->type) &&
             (!r->subtype || cJSON_AddStringToObject(o, "SubType", r->subtype)) &&
             cJSON_AddStringToObject(o, "Status", r->status) && add_ts(o, "Start", r->start) &&
             add_ts(o, "End", r->end) && cJSON_AddBoolToObject(o, "Open", r->open) &&
             cJSON_AddNumberToObject(o, "Attempts", r->attempts) &&
             (!r->error_type || cJSON_AddStringToObject(o, "ErrorType", r->error_type)) &&
             (segs = cJSON_AddArrayToObject(o, "Segments")) != NULL;
    for (int k = 0; ok && k < r->nsegs; k++) {
        cJSON *s = cJSON_CreateObject();
        ok = s && cJSON_AddItemToArray(segs, s) &&
             cJSON_AddStringToObject(s, "Kind", hv_kind_name(r->segs[k].kind)) &&
             add_ts(s, "Start", r->segs[k].start) && add_ts(s, "End", r->segs[k].end) &&
             (!r->segs[k].attempt || cJSON_AddNumberToObject(s, "Attempt", r->segs[k].attempt));
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *hv_json(const HvExec *x)
{
    cJSON *o = cJSON_CreateObject(), *rows = NULL;
    int ok = o && add_ts(o, "Start", x->t0) && add_ts(o, "End", x->t1) &&
             (rows = cJSON_AddArrayToObject(o, "Rows")) != NULL;
    for (int i = 0; ok && i < x->n; i++) {
        cJSON *r = row_json(&x->rows[i]);
        ok = r && cJSON_AddItemToArray(rows, r);
        if (!ok) cJSON_Delete(r);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
