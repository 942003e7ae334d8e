/*
 * check.c: `dwf check`, the front end on its own: parse and check .dwf files and report
 * every problem, without generating anything. Each file gets its own arena, so checking many
 * files costs the memory of the largest, and one diagnostics sink, so the error limit and the
 * counts are per file.
 *
 * Three output formats. `text` (the default) is gcc's shape on stderr, printed by diag.c as the
 * checks go. `json` and `sarif` are for editors and CI: the sink keeps each diagnostic as a
 * record (front.h) instead of printing it, and once every file is checked one document goes to
 * stdout: a JSON array with one object per diagnostic, or a SARIF 2.1.0 log, the format GitHub
 * code scanning and most CI dashboards read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "dwf.h"
#include "front.h"

const char *const usage_check =
    "usage: dwf check [options] FILE.dwf...\n"
    "\n"
    "Parse and check each file: syntax, names, determinism (nothing that differs between\n"
    "replays outside a step body), durations and Lambda limits. Problems are printed to\n"
    "stderr as file:line:col: error|warning|note: message, with the source line.\n"
    "\n"
    "options:\n"
    "  --format=FORMAT   text (default), json (an array on stdout: one object per diagnostic\n"
    "                    with file, line, column, end, severity, message, notes, fixits) or\n"
    "                    sarif (a SARIF 2.1.0 log on stdout, for code-scanning tools)\n"
    "  --dump            print the checked syntax tree of each file to stdout\n"
    "  --color=WHEN      color diagnostics: auto (default, when stderr is a terminal),\n"
    "                    always or never\n"
    "  -q, --quiet       print nothing for files without problems (the default)\n"
    "  -v, --verbose     print \"FILE: ok\" for each file without errors\n"
    "\n"
    "exit status: 0 no errors (warnings allowed), 1 errors in some file, 2 usage error\n";

enum { OPT_DUMP = 1, OPT_COLOR, OPT_QUIET, OPT_VERBOSE, OPT_FORMAT };
static const CliOption options[] = {
    {"dump", 0, CLI_FLAG, OPT_DUMP},
    {"color", 0, CLI_OPTIONAL, OPT_COLOR},
    {"quiet", 'q', CLI_FLAG, OPT_QUIET},
    {"verbose", 'v', CLI_FLAG, OPT_VERBOSE},
    {"format", 0, CLI_VALUE, OPT_FORMAT},
    {0},
};

typedef enum { FORMAT_TEXT, FORMAT_JSON, FORMAT_SARIF } Format;

/* The checks a diagnostic can come from: SARIF's rules (ruleId). */
static const struct { const char *id, *text; } rules[] = {
    {"syntax", "The file does not scan or parse as .dwf"},
    {"semantics", "Names, scopes, replay determinism, durations, limits and builtin calls"},
    {"input", "The file cannot be read"},
};

/* ---- JSON ------------------------------------------------------------------------------- */

static cJSON *json_position(int line, int column)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "line", line);
    cJSON_AddNumberToObject(o, "column", column);
    return o;
}

/* file, line, column, end: the fields a diagnostic and its notes share. */
static void json_location(cJSON *o, const DiagRecord *r)
{
    cJSON_AddStringToObject(o, "file", r->path);
    if (!r->has_loc) {
        cJSON_AddNullToObject(o, "line");
        cJSON_AddNullToObject(o, "column");
        cJSON_AddNullToObject(o, "end");
        return;
    }
    cJSON_AddNumberToObject(o, "line", r->loc.first_line);
    cJSON_AddNumberToObject(o, "column", r->loc.first_column);
    cJSON_AddItemToObject(o, "end", json_position(r->loc.last_line, r->loc.last_column));
}

static const char *severity_name(DiagSeverity s)
{
    return s == DIAG_ERROR ? "error" : s == DIAG_WARNING ? "warning" : "note";
}

static cJSON *json_fixits(const DiagRecord *r)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < r->nfixits; i++) {
        const DiagFixit *f = &r->fixits[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddNumberToObject(o, "line", f->loc.first_line);
        cJSON_AddNumberToObject(o, "column", f->loc.first_column);
        cJSON_AddItemToObject(o, "end", json_position(f->loc.last_line, f->loc.last_column));
        cJSON_AddStringToObject(o, "replacement", f->text);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

/* One object per error or warning; its notes go inside it. */
static void json_add(cJSON *out, const Diag *d)
{
    cJSON *cur = NULL;
    for (size_t i = 0; i < diag_count(d); i++) {
        const DiagRecord *r = diag_record(d, i);
        cJSON *o = cJSON_CreateObject();
        json_location(o, r);
        if (r->severity == DIAG_NOTE && cur) {
            cJSON_AddStringToObject(o, "message", r->message);
            cJSON_AddItemToArray(cJSON_GetObjectItem(cur, "notes"), o);
            continue;
        }
        cJSON_AddStringToObject(o, "severity", severity_name(r->severity));
        cJSON_AddStringToObject(o, "rule", r->rule);
        cJSON_AddStringToObject(o, "message", r->message);
        cJSON_AddItemToObject(o, "notes", cJSON_CreateArray());
        cJSON_AddItemToObject(o, "fixits", json_fixits(r));
        cJSON_AddItemToArray(out, o);
        cur = o;
    }
}

/* ---- SARIF 2.1.0 ------------------------------------------------------------------------ */

/* A path as a relative URI reference: every byte outside RFC 3986's unreserved set and '/'
 * percent-encoded (a .dwf path may hold spaces or '#'); absolute paths become file:// URIs. */
static char *path_uri(const char *path)
{
    size_t n = strlen(path);
    char *u = malloc(n * 3 + 8);
    if (!u) return NULL;
    char *o = u;
    if (path[0] == '/') o += sprintf(o, "file://");
    for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/", *p))
            *o++ = (char)*p;
        else
            o += sprintf(o, "%%%02X", *p);
    }
    *o = '\0';
    return u;
}

/* SARIF regions count columns in the run's columnKind (code points here), end exclusive. */
static cJSON *sarif_region(const DiagRecord *r)
{
    cJSON *g = cJSON_CreateObject();
    cJSON_AddNumberToObject(g, "startLine", r->loc.first_line);
    cJSON_AddNumberToObject(g, "startColumn", r->first_char);
    cJSON_AddNumberToObject(g, "endLine", r->loc.last_line);
    cJSON_AddNumberToObject(g, "endColumn", r->last_char > r->first_char || r->loc.last_line > r->loc.first_line
                                                ? r->last_char : r->first_char + 1);
    return g;
}

static cJSON *sarif_location(const DiagRecord *r)
{
    cJSON *loc = cJSON_CreateObject();
    cJSON *phys = cJSON_AddObjectToObject(loc, "physicalLocation");
    cJSON *art = cJSON_AddObjectToObject(phys, "artifactLocation");
    char *uri = path_uri(r->path);
    cJSON_AddStringToObject(art, "uri", uri ? uri : "");
    free(uri);
    if (r->has_loc) cJSON_AddItemToObject(phys, "region", sarif_region(r));
    return loc;
}

static int rule_index(const char *id)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        if (strcmp(rules[i].id, id) == 0) return (int)i;
    return 0;
}

/* A fix-it as a SARIF fix: replace a region (empty for an insertion) by a text. */
static cJSON *sarif_fixes(const DiagRecord *r)
{
    cJSON *fixes = cJSON_CreateArray();
    for (size_t i = 0; i < r->nfixits; i++) {
        const DiagFixit *f = &r->fixits[i];
        cJSON *fix = cJSON_CreateObject();
        cJSON *desc = cJSON_AddObjectToObject(fix, "description");
        char *text = NULL;
        if (asprintf(&text, "replace with '%s'", f->text) < 0) text = NULL;
        cJSON_AddStringToObject(desc, "text", text ? text : "");
        free(text);
        cJSON *change = cJSON_CreateObject();
        cJSON *art = cJSON_AddObjectToObject(change, "artifactLocation");
        char *uri = path_uri(r->path);
        cJSON_AddStringToObject(art, "uri", uri ? uri : "");
        free(uri);
        cJSON *rep = cJSON_CreateObject();
        cJSON *del = cJSON_AddObjectToObject(rep, "deletedRegion");
        cJSON_AddNumberToObject(del, "startLine", f->loc.first_line);
        cJSON_AddNumberToObject(del, "startColumn", f->first_char);
        cJSON_AddNumberToObject(del, "endLine", f->loc.last_line);
        cJSON_AddNumberToObject(del, "endColumn", f->last_char);
        cJSON *ins = cJSON_AddObjectToObject(rep, "insertedContent");
        cJSON_AddStringToObject(ins, "text", f->text);
        cJSON *reps = cJSON_AddArrayToObject(change, "replacements");
        cJSON_AddItemToArray(reps, rep);
        cJSON *changes = cJSON_AddArrayToObject(fix, "artifactChanges");
        cJSON_AddItemToArray(changes, change);
        cJSON_AddItemToArray(fixes, fix);
    }
    return fixes;
}

static void sarif_add(cJSON *results, const Diag *d)
{
    cJSON *cur = NULL;
    int related = 0;
    for (size_t i = 0; i < diag_count(d); i++) {
        const DiagRecord *r = diag_record(d, i);
        if (r->severity == DIAG_NOTE && cur) {
            cJSON *loc = sarif_location(r);
            cJSON_AddNumberToObject(loc, "id", ++related);
            cJSON *msg = cJSON_AddObjectToObject(loc, "message");
            cJSON_AddStringToObject(msg, "text", r->message);
            cJSON *rel = cJSON_GetObjectItem(cur, "relatedLocations");
            if (!rel) rel = cJSON_AddArrayToObject(cur, "relatedLocations");
            cJSON_AddItemToArray(rel, loc);
            continue;
        }
        cJSON *res = cJSON_CreateObject();
        cJSON_AddStringToObject(res, "ruleId", r->rule);
        cJSON_AddNumberToObject(res, "ruleIndex", rule_index(r->rule));
        cJSON_AddStringToObject(res, "level", severity_name(r->severity));
        cJSON *msg = cJSON_AddObjectToObject(res, "message");
        cJSON_AddStringToObject(msg, "text", r->message);
        cJSON *locs = cJSON_AddArrayToObject(res, "locations");
        cJSON_AddItemToArray(locs, sarif_location(r));
        if (r->nfixits) cJSON_AddItemToObject(res, "fixes", sarif_fixes(r));
        cJSON_AddItemToArray(results, res);
        cur = res;
        related = 0;
    }
}

static cJSON *sarif_log(cJSON **results)
{
    cJSON *log = cJSON_CreateObject();
    cJSON_AddStringToObject(log, "$schema", "https://json.schemastore.org/sarif-2.1.0.json");
    cJSON_AddStringToObject(log, "version", "2.1.0");
    cJSON *runs = cJSON_AddArrayToObject(log, "runs");
    cJSON *run = cJSON_CreateObject();
    cJSON_AddItemToArray(runs, run);
    cJSON *driver = cJSON_AddObjectToObject(cJSON_AddObjectToObject(run, "tool"), "driver");
    cJSON_AddStringToObject(driver, "name", "dwf");
    cJSON_AddStringToObject(driver, "version", DWF_VERSION);
    cJSON *rl = cJSON_AddArrayToObject(driver, "rules");
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "id", rules[i].id);
        cJSON_AddStringToObject(cJSON_AddObjectToObject(r, "shortDescription"), "text", rules[i].text);
        cJSON_AddItemToArray(rl, r);
    }
    cJSON_AddStringToObject(run, "columnKind", "unicodeCodePoints");
    *results = cJSON_AddArrayToObject(run, "results");
    return log;
}

/* ---- the command ------------------------------------------------------------------------ */

/* Check one file with its own arena and diagnostics sink; a json/sarif run adds its records
 * to `out`. Returns 1 if it has errors, -1 when out of memory. */
static int check_file(const char *path, int color, int dump, int verbose, Format format, cJSON *out)
{
    Arena *arena = arena_new();
    Diag *d = diag_new(format == FORMAT_TEXT ? stderr : NULL, color);
    if (!arena || !d) {
        if (d) diag_free(d);
        if (arena) arena_free(arena);
        fprintf(stderr, "dwf: out of memory\n");
        return -1;
    }
    if (format != FORMAT_TEXT) diag_keep(d, 1);
    Program *p = front_compile_file(arena, d, path);
    int failed = diag_errors(d) > 0 || !p;
    if (format == FORMAT_JSON) json_add(out, d);
    if (format == FORMAT_SARIF) sarif_add(out, d);
    if (!failed) {
        if (dump) ast_dump(p->workflow, 0, stdout);
        if (verbose) printf("%s: ok\n", path);
    }
    diag_free(d);
    arena_free(arena);
    return failed;
}

static int print_document(cJSON *doc)
{
    char *text = doc ? cJSON_Print(doc) : NULL;
    if (!text) {
        fprintf(stderr, "dwf: out of memory\n");
        return -1;
    }
    printf("%s\n", text);
    free(text);
    return 0;
}

int cmd_check(int argc, char **argv)
{
    int dump = 0, verbose = 0, color = -1, nfiles = 0, opt;
    Format format = FORMAT_TEXT;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    if (!files) {
        fprintf(stderr, "dwf: out of memory\n");
        return EXIT_INPUT;
    }
    CliArgs a;
    cli_args_init(&a, "check", options, argc, argv);
    while ((opt = cli_args_next(&a)) != CLI_END) {
        switch (opt) {
        case OPT_DUMP: dump = 1; break;
        case OPT_VERBOSE: verbose = 1; break;
        case OPT_QUIET: verbose = 0; break;
        case OPT_COLOR:
            if (cli_color_value("check", a.value, &color) != EXIT_OK) {
                free(files);
                return EXIT_USAGE;
            }
            break;
        case OPT_FORMAT:
            if (strcmp(a.value, "text") == 0) format = FORMAT_TEXT;
            else if (strcmp(a.value, "json") == 0) format = FORMAT_JSON;
            else if (strcmp(a.value, "sarif") == 0) format = FORMAT_SARIF;
            else {
                free(files);
                return cli_usage_error("check", "--format takes text, json or sarif, not '%s'", a.value);
            }
            break;
        case CLI_ARGUMENT: files[nfiles++] = a.value; break;
        default: free(files); return EXIT_USAGE;
        }
    }
    if (nfiles == 0) {
        free(files);
        return cli_usage_error("check", "no input files");
    }
    if (format != FORMAT_TEXT && (dump || verbose)) {
        free(files);
        return cli_usage_error("check", "--%s writes text to stdout: not with --format %s", dump ? "dump" : "verbose",
                               format == FORMAT_JSON ? "json" : "sarif");
    }
    if (color < 0) color = isatty(fileno(stderr)) && !getenv("NO_COLOR");
    cJSON *doc = NULL, *out = NULL;
    if (format == FORMAT_JSON) doc = out = cJSON_CreateArray();
    if (format == FORMAT_SARIF) doc = sarif_log(&out);
    int failed = 0, oom = format != FORMAT_TEXT && !out;
    for (int i = 0; i < nfiles && !oom; i++) {
        int r = check_file(files[i], color, dump, verbose, format, out);
        if (r < 0) oom = 1;
        else failed |= r;
    }
    if (!oom && doc && print_document(doc) != 0) oom = 1;
    cJSON_Delete(doc);
    free(files);
    if (oom) return EXIT_INPUT;
    return failed ? EXIT_INPUT : EXIT_OK;
}
