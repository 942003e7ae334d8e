/*
 * options.c: every command's options, read from its table by getopt_long (see cli.h).
 *
 * getopt_long does the parsing (abbreviations, --name=VALUE, clusters of short options, `--`);
 * this file only builds its tables from the command's CliOption list and words its errors the
 * dwf way. getopt's own messages are switched off (a leading ':' and opterr = 0) because they
 * cannot say what the user probably meant: an unknown long option is compared with the known
 * ones by edit distance (adjacent transpositions counted as one edit, so `--inptu` is one edit
 * from `--input`; none of the libraries dwf links has an edit distance, and it is twenty lines)
 * and the nearest is suggested. The "-" at the start of the option string makes getopt return
 * arguments in place instead of permuting them to the end, so options that apply to the
 * argument before them (`dwf serve FUNCTION --memory 512`) keep their meaning.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

enum { LONG_BASE = 256 }; /* getopt's val for the table's entry i: LONG_BASE + i */

void cli_args_init(CliArgs *a, const char *cmd, const CliOption *options, int argc, char **argv)
{
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    a->options = options;
    a->argc = argc;
    a->argv = argv;
    int nl = 0;
    char *s = a->shorts;
    *s++ = '-';
    *s++ = ':';
    for (int i = 0; options[i].id && i < CLI_MAX_OPTIONS; i++) {
        const CliOption *o = &options[i];
        if (o->name) a->longs[nl++] = (struct option){o->name, o->arg, NULL, LONG_BASE + i};
        if (o->short_name) {
            *s++ = o->short_name;
            if (o->arg != CLI_FLAG) *s++ = ':';
            if (o->arg == CLI_OPTIONAL) *s++ = ':';
        }
    }
    *s = '\0';
    optind = 0; /* glibc: start afresh, reading the option string again */
    opterr = 0;
}

/* Edit distance with an adjacent transposition counting as one edit (optimal string
 * alignment); names longer than 63 characters are not worth suggesting for. */
static int distance(const char *x, size_t nx, const char *y)
{
    size_t ny = strlen(y);
    if (nx > 63 || ny > 63) return 99;
    int d[64][64];
    for (size_t i = 0; i <= nx; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= ny; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= nx; i++)
        for (size_t j = 1; j <= ny; j++) {
            int cost = x[i - 1] != y[j - 1];
            int best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best) best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && x[i - 1] == y[j - 2] && x[i - 2] == y[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[nx][ny];
}

const char *cli_nearest(const char *name, size_t n, const char *const *known, size_t nknown)
{
    const char *best = NULL;
    int best_d = 99;
    for (size_t i = 0; i < nknown; i++) {
        int d = distance(name, n, known[i]);
        if (d < best_d) {
            best_d = d;
            best = known[i];
        }
    }
    return best && best_d <= (strlen(best) <= 4 ? 1 : 2) ? best : NULL;
}

/* The known long option nearest to name[0..n), if it is near enough to be a typo. `help` is
 * known to every command. */
static const char *nearest(const CliArgs *a, const char *name, size_t n)
{
    const char *known[CLI_MAX_OPTIONS + 1];
    size_t k = 0;
    for (int i = 0; a->longs[i].name; i++) known[k++] = a->longs[i].name;
    known[k++] = "help";
    return cli_nearest(name, n, known, k);
}

/* An argument getopt did not recognise: an unknown or ambiguous long option, or an unknown
 * short one (optopt). */
static int unknown(CliArgs *a, const char *arg, int short_opt)
{
    const char *name = arg + 1;
    if (short_opt && (arg[0] != '-' || arg[1] != short_opt || !arg[2])) {
        cli_usage_error(a->cmd, "unknown option '-%c'", short_opt);
        return CLI_BAD;
    }
    /* "--name[=value]", or "-name" (a long option with one dash, suggested with two) */
    if (!short_opt) name = arg + 2;
    size_t n = strcspn(name, "=");
    int matches = 0;
    for (int i = 0; a->longs[i].name; i++) matches += strncmp(a->longs[i].name, name, n) == 0;
    if (!short_opt && n > 0 && matches > 1) {
        char list[256] = "";
        for (int i = 0; a->longs[i].name; i++)
            if (strncmp(a->longs[i].name, name, n) == 0)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s'--%s'",
                         list[0] ? ", " : "", a->longs[i].name);
        cli_usage_error(a->cmd, "option '--%.*s' is ambiguous: %s", (int)n, name, list);
        return CLI_BAD;
    }
    const char *near = nearest(a, name, n);
    if (near)
        cli_usage_error(a->cmd, "unknown option '%.*s'\ndid you mean '--%s'?",
                        (int)(name - arg + n), arg, near);
    else
        cli_usage_error(a->cmd, "unknown option '%.*s'", (int)(name - arg + n), arg);
    return CLI_BAD;
}

/* The table entry getopt's code c stands for (a LONG_BASE index or a short option letter). */
static const CliOption *entry(const CliArgs *a, int c, char *spelled, size_t n)
{
    if (c >= LONG_BASE) {
        const CliOption *o = &a->options[c - LONG_BASE];
        snprintf(spelled, n, "--%s", o->name);
        return o;
    }
    for (const CliOption *o = a->options; o->id; o++)
        if (o->short_name == c) {
            snprintf(spelled, n, "-%c", c);
            return o;
        }
    return NULL;
}

int cli_args_next(CliArgs *a)
{
    a->value = NULL;
    a->spelled[0] = '\0';
    if (a->done) {
        if (a->rest >= a->argc) return CLI_END;
        a->value = a->argv[a->rest++];
        return CLI_ARGUMENT;
    }
    int at = optind > 0 ? optind : 1; /* the argument getopt is about to read */
    int c = getopt_long(a->argc, a->argv, a->shorts, a->longs, NULL);
    if (c == -1) { /* the end, or `--`: what follows is all arguments */
        a->done = 1;
        a->rest = optind;
        return cli_args_next(a);
    }
    if (c == 1) {
        a->value = optarg;
        return CLI_ARGUMENT;
    }
    if (c == ':') {
        entry(a, optopt, a->spelled, sizeof a->spelled);
        cli_usage_error(a->cmd, "%s needs a value", a->spelled);
        return CLI_BAD;
    }
    if (c == '?' && optopt >= LONG_BASE) {
        entry(a, optopt, a->spelled, sizeof a->spelled);
        cli_usage_error(a->cmd, "%s takes no value", a->spelled);
        return CLI_BAD;
    }
    if (c == '?') return unknown(a, a->argv[at < a->argc ? at : a->argc - 1], optopt);
    const CliOption *o = entry(a, c, a->spelled, sizeof a->spelled);
    if (!o) return unknown(a, a->argv[at < a->argc ? at : a->argc - 1], c);
    /* An empty store path would give SQLite's private temporary database: a run would end
     * SUCCEEDED in a store no other command can read. */
    if (o->name && strcmp(o->name, "store") == 0 && optarg && !*optarg) {
        cli_usage_error(a->cmd, "--store needs a path (an empty one names no store)");
        return CLI_BAD;
    }
    a->value = optarg;
    return o->id;
}

int cli_color_value(const char *cmd, const char *value, int *color)
{
    if (!value || strcmp(value, "always") == 0) *color = 1;
    else if (strcmp(value, "never") == 0) *color = 0;
    else if (strcmp(value, "auto") == 0) *color = -1;
    else return cli_usage_error(cmd, "--color takes auto, always or never, not '%s'", value);
    return EXIT_OK;
}
