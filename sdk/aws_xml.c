/*
 * aws_xml.c: XML responses (SNS and the other QUERY services, S3 errors) as values, with expat.
 *
 * AWS's XML carries no attributes that matter and no mixed content, so the mapping is plain:
 * an element with children is an object of them (a name seen twice becomes an array), one
 * without children is its text, and an element whose children are all <member> (the QUERY
 * protocol's lists) is the array of them. Expat (libexpat, statically linked like libcurl)
 * parses; it never loads external entities and bounds entity expansion.
 */
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "aws_internal.h"

#define XML_MAX_DEPTH 64

/*
 * Debian's static libexpat salts its hash tables with arc4random_buf, which glibc added in 2.36.
 * Lambda's provided.al2023 has glibc 2.34, so a zip whose binary asks for arc4random_buf@GLIBC_2.36
 * would not start there. This definition, in the same object that pulls expat into the link, is
 * found by the linker before libc's: the same bytes from getrandom (glibc 2.25). Only expat calls it.
 */
void arc4random_buf(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) continue; /* EINTR; the call cannot otherwise fail for the kernel's pool */
        p += got;
        n -= (size_t)got;
    }
}

typedef struct xframe {
    char *name;
    cJSON *children; /* NULL until the first child element ends */
    cJSON *repeated; /* names seen more than once (their value is an array of them) */
    dwf__buf text;
} xframe;

typedef struct xstate {
    XML_Parser p;
    xframe stack[XML_MAX_DEPTH];
    int depth;
    cJSON *root;
    char *root_name;
    const char *why; /* set when we stop the parser ourselves */
} xstate;

/* The local part of a name ("ns:Code" -> "Code"); expat without namespace processing keeps
 * prefixes. */
static const char *local_name(const char *n)
{
    const char *colon = strrchr(n, ':');
    return colon ? colon + 1 : n;
}

static void stop(xstate *s, const char *why)
{
    if (!s->why) s->why = why;
    XML_StopParser(s->p, XML_FALSE);
}

static void XMLCALL on_start(void *arg, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    xstate *s = arg;
    if (s->why) return;
    if (s->depth == XML_MAX_DEPTH) return stop(s, "nested too deeply");
    xframe *f = &s->stack[s->depth++];
    memset(f, 0, sizeof *f);
    f->name = strdup(local_name(name));
    if (!f->name) stop(s, "out of memory");
}

static void XMLCALL on_text(void *arg, const XML_Char *text, int len)
{
    xstate *s = arg;
    if (!s->why && s->depth > 0) dwf__buf_add(&s->stack[s->depth - 1].text, text, (size_t)len);
}

/* An element's value: its children (a <member> list as an array), else its text. */
static cJSON *frame_value(xframe *f)
{
    if (!f->children) return cJSON_CreateString(f->text.p ? f->text.p : "");
    cJSON *only = f->children->child;
    if (only && !only->next && only->string && strcmp(only->string, "member") == 0) {
        cJSON *v = cJSON_DetachItemViaPointer(f->children, only);
        cJSON_Delete(f->children);
        f->children = NULL;
        if (cJSON_IsArray(v)) return v;
        cJSON *a = cJSON_CreateArray();
        if (!a || !cJSON_AddItemToArray(a, v)) cJSON_Delete(v);
        return a;
    }
    cJSON *v = f->children;
    f->children = NULL;
    return v;
}

/* Add a child's value to its parent's object; a second child of that name makes an array of
 * them (`repeated` remembers which names did, so an array value is not mistaken for one). */
static int add_child(xframe *parent, const char *name, cJSON *v)
{
    if (!parent->children && !(parent->children = cJSON_CreateObject())) return -1;
    cJSON *old = cJSON_GetObjectItemCaseSensitive(parent->children, name);
    if (!old) return cJSON_AddItemToObject(parent->children, name, v) ? 0 : -1;
    if (!cJSON_GetObjectItemCaseSensitive(parent->repeated, name)) {
        cJSON *arr = cJSON_CreateArray();
        if (!parent->repeated) parent->repeated = cJSON_CreateObject();
        if (!arr || !parent->repeated || !cJSON_AddTrueToObject(parent->repeated, name)) {
            cJSON_Delete(arr);
            return -1;
        }
        cJSON *first = cJSON_DetachItemViaPointer(parent->children, old);
        cJSON_AddItemToArray(arr, first);
        if (!cJSON_AddItemToObject(parent->children, name, arr)) {
            cJSON_Delete(arr);
            return -1;
        }
        old = arr;
    }
    return cJSON_AddItemToArray(old, v) ? 0 : -1;
}

static void XMLCALL on_end(void *arg, const XML_Char *name)
{
    (void)name;
    xstate *s = arg;
    if (s->why) return; /* stopped: expat may still report the end of an empty element */
    xframe *f = &s->stack[--s->depth];
    cJSON *v = frame_value(f);
    int ok = v != NULL;
    if (ok && s->depth == 0) {
        s->root = v;
        s->root_name = f->name;
        f->name = NULL;
    } else if (ok && add_child(&s->stack[s->depth - 1], f->name, v) != 0) {
        ok = 0;
    }
    free(f->name);
    free(f->text.p);
    cJSON_Delete(f->children);
    cJSON_Delete(f->repeated);
    if (!ok) stop(s, "out of memory");
}

cJSON *dwf__xml_to_json(const char *xml, size_t len, char **root, char err[128])
{
    *root = NULL;
    xstate s;
    memset(&s, 0, sizeof s);
    s.p = XML_ParserCreate("UTF-8");
    if (!s.p) {
        snprintf(err, 128, "out of memory");
        return NULL;
    }
    XML_SetUserData(s.p, &s);
    XML_SetElementHandler(s.p, on_start, on_end);
    XML_SetCharacterDataHandler(s.p, on_text);
    int ok = XML_Parse(s.p, xml ? xml : "", (int)len, XML_TRUE) == XML_STATUS_OK && s.root;
    if (!ok) {
        snprintf(err, 128, "%s (line %lu)", s.why ? s.why : XML_ErrorString(XML_GetErrorCode(s.p)),
                 (unsigned long)XML_GetCurrentLineNumber(s.p));
        while (s.depth > 0) {
            xframe *f = &s.stack[--s.depth];
            free(f->name);
            free(f->text.p);
            cJSON_Delete(f->children);
            cJSON_Delete(f->repeated);
        }
        cJSON_Delete(s.root);
        free(s.root_name);
        XML_ParserFree(s.p);
        return NULL;
    }
    XML_ParserFree(s.p);
    *root = s.root_name;
    return s.root;
}
