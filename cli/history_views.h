/*
 * history_views.h: the pictures `dwf history --format tree|timeline|svg` draws of one execution:
 * its operations nested by ParentId, and where its time went.
 *
 * hv_build turns the execution's operations (Operation shape) and, when given, its history
 * events (GetDurableExecutionHistory shape) into rows: one per operation, in depth-first order
 * under their parents, each with the segments of time it spent: the step attempts (from
 * StepStarted to StepSucceeded/StepFailed) and the retry delays between them, the invocations
 * of the execution (InvocationCompleted), a wait's timer, a callback's or chained invoke's wait
 * for someone else, a context's span. Everything drawn comes from these rows, so tests can
 * check the rows (hv_json) rather than pictures.
 */
#ifndef DWF_CLI_HISTORY_VIEWS_H
#define DWF_CLI_HISTORY_VIEWS_H

#include <stdio.h>

#include <cjson/cJSON.h>

/* What a stretch of an operation's time was. */
typedef enum HvKind {
    HV_RUN,      /* a step attempt or an invocation that ended well (or is running) */
    HV_FAILED,   /* a step attempt or an invocation that failed */
    HV_WAIT,     /* a wait's timer */
    HV_RETRY,    /* the delay before a step's next attempt */
    HV_EXTERNAL, /* a callback or chained invoke waiting for someone else */
    HV_SPAN      /* a context (parallel, branch, map, item, group) or the execution */
} HvKind;

typedef struct HvSeg {
    double start, end; /* ms since the epoch */
    HvKind kind;
    int attempt;       /* step attempts: 1, 2, ...; else 0 */
} HvSeg;

typedef struct HvRow {
    const cJSON *op;
    const char *id, *parent_id, *type, *subtype, *name, *status;
    const char *error_type; /* the operation's error, if it has one */
    int parent;             /* row index of the parent; -1 for the execution */
    int depth, attempts, open, last_child;
    double start, end;      /* ms; an open operation ends at hv_build's `now` */
    HvSeg *segs;
    int nsegs, cap;
} HvRow;

typedef struct HvExec {
    HvRow *rows; /* rows[0] is the execution */
    int n;
    double t0, t1; /* the picture's span (ms): the execution's start, the last end */
    const char *title, *arn;
} HvExec;

/* Build the rows. ops: array of Operations (an EXECUTION operation among them, else one is
 * made up from the others); events: array of history events or NULL; now: where open
 * operations end (ms). Returns 0, or -1 with a message in err. */
int hv_build(HvExec *x, const cJSON *ops, const cJSON *events, double now, char *err, size_t errlen);
void hv_free(HvExec *x);

/* Operations nested under their parents, with status, attempts and durations. */
void hv_print_tree(const HvExec *x, FILE *out);
/* A Gantt chart in text, `width` columns wide in all, with a legend and where the time went. */
void hv_print_timeline(const HvExec *x, FILE *out, int width);
/* The same as a self-contained SVG document. */
void hv_print_svg(const HvExec *x, FILE *out);
/* hv_build and hv_print_svg in one, into a malloc'd string; NULL when the rows cannot be built
 * or memory runs out. The web console's timeline_svg callback (console.h) as it is, for dwf serve
 * and dwf console alike (arg unused). */
char *hv_console_timeline(void *arg, const cJSON *ops, const cJSON *events, double now);
/* The rows as JSON: {"Start","End","Rows":[{"Id","ParentId","Depth","Name","Type","SubType",
 * "Status","Start","End","Open","Attempts","ErrorType","Segments":[{"Kind","Start","End",
 * "Attempt"}]}]}, times in epoch seconds. */
cJSON *hv_json(const HvExec *x);

/* Shared by the text and SVG views (history_views.c). */
/* "2 ms", "1.25 s", "3 min 4 s", "2 h 5 min", "3 d 4 h". */
void hv_duration(double ms, char *out, size_t n);
/* The row's label: its name, else its subtype or type in parentheses ("(Wait)"). */
const char *hv_label(const HvRow *r, char *buf, size_t n);
/* A short name of a kind ("run", "failed", "wait", "retry", "external", "span"). */
const char *hv_kind_name(HvKind k);

#endif
