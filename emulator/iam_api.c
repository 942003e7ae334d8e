/*
 * iam_api.c: the IAM and STS operations the generated deploy.sh calls, on the emulator's port
 * over AWS's query protocol: a form-encoded POST / whose Action names the operation, answered
 * in XML. IAM: CreateRole, GetRole, PutRolePolicy, GetRolePolicy, DeleteRolePolicy, DeleteRole;
 * STS: GetCallerIdentity (the account serve was started with). Any other Action is answered as
 * AWS answers an unknown one (400 InvalidAction), never with a silent success.
 *
 * Which service a request is for comes from its SigV4 credential scope (`iam` or `sts`) when it
 * is signed, else from its Action (the two sets are disjoint). Roles and their inline policies
 * are kept in the store (service/registry.c), so a role deploy.sh created is there after a
 * restart. Every policy document is checked against IAM's policy grammar before it is kept:
 * Version, Statement, Effect, Action / NotAction, Resource / NotResource for a role's
 * permissions, Principal / NotPrincipal (and no Resource) for its trust policy, Condition, Sid;
 * what fails is refused with MalformedPolicyDocument and the reason, as IAM refuses it.
 * CreateFunction asks dwf__emu_role_trusts_lambda whether its role exists and trusts Lambda.
 *
 * Documents are answered URL-encoded, as IAM answers them (the CLI decodes them). The form body
 * is decoded here, a few lines, rather than with libmicrohttpd's post processor: httpd.c has
 * already read the whole body (bounded) for SigV4, and the query protocol's form is flat.
 */
#include "emu.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IAM_NS "https://iam.amazonaws.com/doc/2010-05-08/"
#define STS_NS "https://sts.amazonaws.com/doc/2011-06-15/"
#define NAME_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+=,.@-"

/* ---- the form ------------------------------------------------------------------------------------ */

typedef struct form {
    char **name, **value;
    int n;
} form;

static int hexv(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* application/x-www-form-urlencoded: %XX and '+' for a space. */
static char *form_decode(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    size_t j = 0;
    for (size_t i = 0; o && i < n; i++) {
        if (s[i] == '%' && i + 2 < n + 0 && hexv((unsigned char)s[i + 1]) >= 0 && hexv((unsigned char)s[i + 2]) >= 0) {
            o[j++] = (char)(hexv((unsigned char)s[i + 1]) * 16 + hexv((unsigned char)s[i + 2]));
            i += 2;
        } else {
            o[j++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    if (o) o[j] = '\0';
    return o;
}

static void form_free(form *f)
{
    for (int i = 0; i < f->n; i++) {
        free(f->name[i]);
        free(f->value[i]);
    }
    free(f->name);
    free(f->value);
}

static int form_parse(const char *body, size_t len, form *f)
{
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < len;) {
        size_t n = 0;
        while (i + n < len && body[i + n] != '&') n++;
        if (n > 0) {
            size_t k = 0;
            while (k < n && body[i + k] != '=') k++;
            char **nn = realloc(f->name, (size_t)(f->n + 1) * sizeof *nn);
            if (!nn) return -1;
            f->name = nn;
            char **nv = realloc(f->value, (size_t)(f->n + 1) * sizeof *nv);
            if (!nv) return -1;
            f->value = nv;
            f->name[f->n] = form_decode(body + i, k);
            f->value[f->n] = k < n ? form_decode(body + i + k + 1, n - k - 1) : strdup("");
            f->n++;
            if (!f->name[f->n - 1] || !f->value[f->n - 1]) return -1;
        }
        i += n + 1;
    }
    return 0;
}

static const char *form_get(const form *f, const char *name)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->name[i], name) == 0) return f->value[i];
    return NULL;
}

/* ---- XML answers ---------------------------------------------------------------------------------- */

static void xml_text(FILE *o, const char *s)
{
    for (; s && *s; s++) switch (*s) {
        case '<': fputs("&lt;", o); break;
        case '>': fputs("&gt;", o); break;
        case '&': fputs("&amp;", o); break;
        case '"': fputs("&quot;", o); break;
        case '\'': fputs("&apos;", o); break;
        default: fputc(*s, o);
        }
}

static void xml_elem(FILE *o, const char *tag, const char *text)
{
    fprintf(o, "<%s>", tag);
    xml_text(o, text);
    fprintf(o, "</%s>", tag);
}

/* A document as IAM answers it: URL-encoded (RFC 3986 unreserved characters kept). */
static void xml_urlencoded(FILE *o, const char *tag, const char *doc)
{
    fprintf(o, "<%s>", tag);
    for (const unsigned char *p = (const unsigned char *)doc; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-_.~", *p))
            fputc(*p, o);
        else fprintf(o, "%%%02X", *p);
    }
    fprintf(o, "</%s>", tag);
}

/* A success: <ActionResponse><ActionResult>inner</ActionResult><ResponseMetadata/></ActionResponse>. */
static enum MHD_Result reply_xml(emu_request *r, const char *action, const char *ns, const char *inner)
{
    char *buf = NULL, rid[40];
    size_t len = 0;
    FILE *o = open_memstream(&buf, &len);
    if (!o) return dwf__emu_reply_query_error(r, 500, "ServiceFailure", "out of memory");
    dwf_service_uuid(rid);
    fprintf(o, "<%sResponse xmlns=\"%s\">", action, ns);
    if (inner) fprintf(o, "<%sResult>%s</%sResult>", action, inner, action);
    fprintf(o, "<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata></%sResponse>", rid, action);
    fclose(o);
    const char *h[] = {"x-amzn-RequestId", rid, NULL};
    enum MHD_Result res = dwf__emu_reply(r, 200, "text/xml", buf, len, h);
    free(buf);
    return res;
}

int dwf__emu_is_query_request(const emu_request *r)
{
    return r->method && r->uri && strcmp(r->method, "POST") == 0 && strcspn(r->uri, "?") == 1 && r->uri[0] == '/';
}

enum MHD_Result dwf__emu_reply_query_error(emu_request *r, unsigned status, const char *code, const char *msg)
{
    const char *auth = dwf__emu_header(r, "Authorization");
    const char *ns = auth && strstr(auth, "/sts/aws4_request") ? STS_NS : IAM_NS;
    char *buf = NULL, rid[40];
    size_t len = 0;
    FILE *o = open_memstream(&buf, &len);
    if (!o) return MHD_NO;
    dwf_service_uuid(rid);
    fprintf(o, "<ErrorResponse xmlns=\"%s\"><Error><Type>%s</Type>", ns, status >= 500 ? "Receiver" : "Sender");
    xml_elem(o, "Code", code);
    xml_elem(o, "Message", msg);
    fprintf(o, "</Error><RequestId>%s</RequestId></ErrorResponse>", rid);
    fclose(o);
    const char *h[] = {"x-amzn-RequestId", rid, NULL};
    enum MHD_Result res = dwf__emu_reply(r, status, "text/xml", buf, len, h);
    free(buf);
    return res;
}

/* ---- the policy grammar ---------------------------------------------------------------------------- */

static int bad(char *why, const char *fmt, const char *arg)
{
    snprintf(why, 300, fmt, arg ? arg : "");
    return -1;
}

static int is_str_or_strs(const cJSON *v)
{
    if (cJSON_IsString(v)) return 1;
    if (!cJSON_IsArray(v) || !v->child) return 0;
    for (const cJSON *x = v->child; x; x = x->next)
        if (!cJSON_IsString(x)) return 0;
    return 1;
}

/* "*", or vendor:Action with wildcards. */
static int check_actions(const cJSON *v, char *why)
{
    if (!is_str_or_strs(v)) return bad(why, "Syntax errors in policy.", NULL);
    for (const cJSON *x = cJSON_IsArray(v) ? v->child : v; x; x = cJSON_IsArray(v) ? x->next : NULL) {
        const char *a = x->valuestring, *colon = strchr(a, ':');
        if (strcmp(a, "*") == 0) continue;
        if (!colon || colon == a || strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789-") != (size_t)(colon - a) ||
            !colon[1] || strspn(colon + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789*?") !=
                             strlen(colon + 1))
            return bad(why, "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.", NULL);
    }
    return 0;
}

static int check_resources(const cJSON *v, char *why)
{
    if (!is_str_or_strs(v)) return bad(why, "Syntax errors in policy.", NULL);
    for (const cJSON *x = cJSON_IsArray(v) ? v->child : v; x; x = cJSON_IsArray(v) ? x->next : NULL)
        if (strcmp(x->valuestring, "*") != 0 && strncmp(x->valuestring, "arn:", 4) != 0)
            return bad(why, "Resource %.200s must be in ARN format or \"*\".", x->valuestring);
    return 0;
}

static int check_principal(const cJSON *v, char *why)
{
    if (cJSON_IsString(v) && strcmp(v->valuestring, "*") == 0) return 0;
    if (!cJSON_IsObject(v) || !v->child) return bad(why, "Invalid principal in policy", NULL);
    for (const cJSON *k = v->child; k; k = k->next) {
        if (strcmp(k->string, "AWS") != 0 && strcmp(k->string, "Service") != 0 &&
            strcmp(k->string, "Federated") != 0 && strcmp(k->string, "CanonicalUser") != 0)
            return bad(why, "Invalid principal in policy: unknown principal type %.100s", k->string);
        if (!is_str_or_strs(k)) return bad(why, "Invalid principal in policy", NULL);
    }
    return 0;
}

static int check_statement(const cJSON *st, int trust, char *why)
{
    static const char *const known[] = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
                                         "Principal", "NotPrincipal", "Condition"};
    if (!cJSON_IsObject(st)) return bad(why, "Syntax errors in policy.", NULL);
    for (const cJSON *k = st->child; k; k = k->next) {
        size_t i = 0;
        while (i < sizeof known / sizeof *known && strcmp(known[i], k->string) != 0) i++;
        if (i == sizeof known / sizeof *known)
            return bad(why, "Syntax errors in policy. Unknown field %.100s", k->string);
    }
    const cJSON *effect = cJSON_GetObjectItemCaseSensitive(st, "Effect");
    const cJSON *act = cJSON_GetObjectItemCaseSensitive(st, "Action");
    const cJSON *nact = cJSON_GetObjectItemCaseSensitive(st, "NotAction");
    const cJSON *res = cJSON_GetObjectItemCaseSensitive(st, "Resource");
    const cJSON *nres = cJSON_GetObjectItemCaseSensitive(st, "NotResource");
    const cJSON *pr = cJSON_GetObjectItemCaseSensitive(st, "Principal");
    const cJSON *npr = cJSON_GetObjectItemCaseSensitive(st, "NotPrincipal");
    const cJSON *cond = cJSON_GetObjectItemCaseSensitive(st, "Condition");
    const cJSON *sid = cJSON_GetObjectItemCaseSensitive(st, "Sid");
    if (!effect) return bad(why, "Missing required field Effect", NULL);
    if (!cJSON_IsString(effect) ||
        (strcmp(effect->valuestring, "Allow") != 0 && strcmp(effect->valuestring, "Deny") != 0))
        return bad(why, "Invalid effect: %.100s", cJSON_IsString(effect) ? effect->valuestring : "(not a string)");
    if (sid && (!cJSON_IsString(sid) || strspn(sid->valuestring, NAME_CHARS) != strlen(sid->valuestring)))
        return bad(why, "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular "
                        "expression [0-9A-Za-z]*", NULL);
    if (!act == !nact)
        return bad(why, act ? "Syntax errors in policy." : "Policy statement must contain actions.", NULL);
    if (check_actions(act ? act : nact, why) != 0) return -1;
    if (res && nres) return bad(why, "Syntax errors in policy.", NULL);
    if (pr && npr) return bad(why, "Syntax errors in policy.", NULL);
    if (cond) {
        if (!cJSON_IsObject(cond)) return bad(why, "Syntax errors in policy.", NULL);
        for (const cJSON *c = cond->child; c; c = c->next)
            if (!cJSON_IsObject(c)) return bad(why, "Syntax errors in policy.", NULL);
    }
    if (trust) {
        if (res || nres) return bad(why, "Has prohibited field %s", res ? "Resource" : "NotResource");
        if (!pr && !npr) return bad(why, "Missing required field Principal", NULL);
        return check_principal(pr ? pr : npr, why);
    }
    if (pr || npr) return bad(why, "Policy document should not specify a principal.", NULL);
    if (!res && !nres) return bad(why, "Policy statement must contain resources.", NULL);
    return check_resources(res ? res : nres, why);
}

/* A permissions policy (trust 0) or a role's trust policy (trust 1). 0, or -1 with why. */
static int check_policy(const char *doc, int trust, char *why)
{
    cJSON *p = doc ? dwf__emu_parse_json(doc, strlen(doc)) : NULL;
    int rc = 0;
    if (!cJSON_IsObject(p)) rc = bad(why, "Syntax errors in policy.", NULL);
    for (const cJSON *k = rc == 0 ? p->child : NULL; k && rc == 0; k = k->next)
        if (strcmp(k->string, "Version") != 0 && strcmp(k->string, "Id") != 0 && strcmp(k->string, "Statement") != 0)
            rc = bad(why, "Syntax errors in policy. Unknown field %.100s", k->string);
    const cJSON *ver = cJSON_GetObjectItemCaseSensitive(p, "Version");
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(p, "Statement");
    if (rc == 0 && ver && (!cJSON_IsString(ver) || (strcmp(ver->valuestring, "2012-10-17") != 0 &&
                                                    strcmp(ver->valuestring, "2008-10-17") != 0)))
        rc = bad(why, "The policy failed legacy parsing: Version must be 2012-10-17 or 2008-10-17, not %.40s",
                 cJSON_IsString(ver) ? ver->valuestring : "a non-string");
    if (rc == 0 && !st) rc = bad(why, "Missing required field Statement", NULL);
    if (rc == 0 && cJSON_IsArray(st) && !st->child) rc = bad(why, "Syntax errors in policy.", NULL);
    if (rc == 0 && !cJSON_IsArray(st)) rc = check_statement(st, trust, why);
    for (const cJSON *s = rc == 0 && cJSON_IsArray(st) ? st->child : NULL; s && rc == 0; s = s->next)
        rc = check_statement(s, trust, why);
    cJSON_Delete(p);
    return rc;
}

/* ---- roles ----------------------------------------------------------------------------------------- */

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void role_xml(FILE *o, const cJSON *role)
{
    fputs("<Role>", o);
    static const char *const plain[] = {"Path", "RoleName", "RoleId", "Arn", "CreateDate", "Description"};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
        if (jstr(role, plain[i])) xml_elem(o, plain[i], jstr(role, plain[i]));
    xml_urlencoded(o, "AssumeRolePolicyDocument", jstr(role, "AssumeRolePolicyDocument"));
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(role, "MaxSessionDuration");
    if (cJSON_IsNumber(m)) fprintf(o, "<MaxSessionDuration>%d</MaxSessionDuration>", m->valueint);
    fputs("</Role>", o);
}

static int valid_name(const char *s, size_t max)
{
    return s && *s && strlen(s) <= max && strspn(s, NAME_CHARS) == strlen(s);
}

/* The inner XML of an answer, built by fn into a memstream; the reply. */
typedef int (*inner_fn)(emu_request *r, const form *f, FILE *o, unsigned *status, char code[64], char msg[400]);

static int no_role(const char *name, unsigned *status, char code[64], char msg[400])
{
    *status = 404;
    snprintf(code, 64, "NoSuchEntity");
    snprintf(msg, 400, "The role with name %.100s cannot be found.", name ? name : "");
    return -1;
}

static int invalid(const char *what, unsigned *status, char code[64], char msg[400])
{
    *status = 400;
    snprintf(code, 64, "ValidationError");
    snprintf(msg, 400, "%s", what);
    return -1;
}

static int store_error(const dwf_error *err, unsigned *status, char code[64], char msg[400])
{
    *status = 500;
    snprintf(code, 64, "ServiceFailure");
    snprintf(msg, 400, "%.60s: %.330s", err->type, err->message);
    return -1;
}

static int load_role(emu_request *r, const char *name, cJSON **role, cJSON **pols, unsigned *status, char code[64],
                     char msg[400])
{
    dwf_error err;
    if (!valid_name(name, 64))
        return invalid("1 validation error detected: Value at 'roleName' failed to satisfy constraint: Member must "
                       "satisfy regular expression pattern: [\\w+=,.@-]+", status, code, msg);
    int rc = dwf_service_get_role(r->emu->svc, name, role, pols, &err);
    if (rc < 0) return store_error(&err, status, code, msg);
    return rc == 1 ? no_role(name, status, code, msg) : 0;
}

static int op_get_role(emu_request *r, const form *f, FILE *o, unsigned *status, char code[64], char msg[400])
{
    cJSON *role, *pols;
    if (load_role(r, form_get(f, "RoleName"), &role, &pols, status, code, msg) != 0) return -1;
    role_xml(o, role);
    cJSON_Delete(role);
    cJSON_Delete(pols);
    return 0;
}

static int malformed(const char *why, unsigned *status, char code[64], char msg[400])
{
    *status = 400;
    snprintf(code, 64, "MalformedPolicyDocument");
    snprintf(msg, 400, "%s", why);
    return -1;
}

static int op_create_role(emu_request *r, const form *f, FILE *o, unsigned *status, char code[64], char msg[400])
{
    dwf_emulator *e = r->emu;
    const char *name = form_get(f, "RoleName"), *doc = form_get(f, "AssumeRolePolicyDocument");
    const char *path = form_get(f, "Path"), *desc = form_get(f, "Description");
    char why[300];
    if (!valid_name(name, 64))
        return invalid("1 validation error detected: Value at 'roleName' failed to satisfy constraint: Member must "
                       "satisfy regular expression pattern: [\\w+=,.@-]+ and have length less than or equal to 64",
                       status, code, msg);
    if (!doc) return invalid("The request must contain the parameter AssumeRolePolicyDocument.", status, code, msg);
    if (!path) path = "/";
    if (path[0] != '/' || path[strlen(path) - 1] != '/' || strlen(path) > 512)
        return invalid("The specified value for path is invalid. It must begin and end with / and contain only "
                       "alphanumeric characters and/or / characters.", status, code, msg);
    if (check_policy(doc, 1, why) != 0) return malformed(why, status, code, msg);
    cJSON *role = NULL, *pols = NULL;
    dwf_error err;
    int rc = dwf_service_get_role(e->svc, name, &role, &pols, &err);
    cJSON_Delete(role);
    cJSON_Delete(pols);
    if (rc < 0) return store_error(&err, status, code, msg);
    if (rc == 0) {
        *status = 409;
        snprintf(code, 64, "EntityAlreadyExists");
        snprintf(msg, 400, "Role with name %s already exists.", name);
        return -1;
    }
    unsigned char b[12];
    char id[32] = "AROA", arn[800], when[40];
    if (RAND_bytes(b, sizeof b) != 1) memset(b, 7, sizeof b);
    for (int i = 0; i < 12; i++) id[4 + i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[b[i] % 32];
    id[16] = '\0';
    snprintf(arn, sizeof arn, "arn:aws:iam::%s:role%s%s", e->account, path, name);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    role = cJSON_CreateObject();
    pols = cJSON_CreateObject();
    cJSON_AddStringToObject(role, "Path", path);
    cJSON_AddStringToObject(role, "RoleName", name);
    cJSON_AddStringToObject(role, "RoleId", id);
    cJSON_AddStringToObject(role, "Arn", arn);
    cJSON_AddStringToObject(role, "CreateDate", when);
    cJSON_AddStringToObject(role, "AssumeRolePolicyDocument", doc);
    if (desc) cJSON_AddStringToObject(role, "Description", desc);
    cJSON_AddNumberToObject(role, "MaxSessionDuration", 3600);
    rc = dwf_service_put_role(e->svc, name, role, pols, &err);
    if (rc == 0) role_xml(o, role);
    cJSON_Delete(role);
    cJSON_Delete(pols);
    if (rc == 0 && !e->o.quiet) dwf__emu_log(e, "IAM: role %s created", name);
    return rc == 0 ? 0 : store_error(&err, status, code, msg);
}

static int op_put_role_policy(emu_request *r, const form *f, FILE *o, unsigned *status, char code[64], char msg[400])
{
    (void)o;
    const char *pname = form_get(f, "PolicyName"), *doc = form_get(f, "PolicyDocument");
    char why[300];
    if (!valid_name(pname, 128))
        return invalid("1 validation error detected: Value at 'policyName' failed to satisfy constraint: Member must "
                       "satisfy regular expression pattern: [\\w+=,.@-]+", status, code, msg);
    if (!doc) return invalid("The request must contain the parameter PolicyDocument.", status, code, msg);
    cJSON *role, *pols;
    if (load_role(r, form_get(f, "RoleName"), &role, &pols, status, code, msg) != 0) return -1;
    int rc = check_policy(doc, 0, why) != 0 ? malformed(why, status, code, msg) : 0;
    dwf_error err;
    if (rc == 0) {
        cJSON_DeleteItemFromObjectCaseSensitive(pols, pname);
        cJSON_AddStringToObject(pols, pname, doc);
        if (dwf_service_put_role(r->emu->svc, jstr(role, "RoleName"), role, pols, &err) != 0)
            rc = store_error(&err, status, code, msg);
    }
    cJSON_Delete(role);
    cJSON_Delete(pols);
    return rc;
}

static int op_get_role_policy(emu_request *r, const form *f, FILE *o, unsigned *status, char code[64], char msg[400])
{
    const char *pname = form_get(f, "PolicyName");
    cJSON *role, *pols;
    if (load_role(r, form_get(f, "RoleName"), &role, &pols, status, code, msg) != 0) return -1;
    const char *doc = pname ? jstr(pols, pname) : NULL;
    int rc = 0;
    if (!doc) {
        *status = 404;
        snprintf(code, 64, "NoSuchEntity");
        snprintf(msg, 400, "The role policy with name %.128s cannot be found.", pname ? pname : "");
        rc = -1;
    } else {
        xml_elem(o, "RoleName", jstr(role, "RoleName"));
        xml_elem(o, "PolicyName", pname);
        xml_urlencoded(o, "PolicyDocument", doc);
    }
    cJSON_Delete(role);
    cJSON_Delete(pols);
    return rc;
}

static int op_delete_role_policy(emu_request *r, const form *f, FILE *o, unsigned *status, char code[64],
                                 char msg[400])
{
    (void)o;
    const char *pname = form_get(f, "PolicyName");
    cJSON *role, *pols;
    if (load_role(r, form_get(f, "RoleName"), &role, &pols, status, code, msg) != 0) return -1;
    int rc = 0;
    dwf_error err;
    if (!pname || !jstr(pols, pname)) {
        *status = 404;
        snprintf(code, 64, "NoSuchEntity");
        snprintf(msg, 400, "The role policy with name %.128s cannot be found.", pname ? pname : "");
        rc = -1;
    } else {
        cJSON_DeleteItemFromObjectCaseSensitive(pols, pname);
        if (dwf_service_put_role(r->emu->svc, jstr(role, "RoleName"), role, pols, &err) != 0)
            rc = store_error(&err, status, code, msg);
    }
    cJSON_Delete(role);
    cJSON_Delete(pols);
    return rc;
}

static int op_delete_role(emu_request *r, const form *f, FILE *o, unsigned *status, char code[64], char msg[400])
{
    (void)o;
    cJSON *role, *pols;
    if (load_role(r, form_get(f, "RoleName"), &role, &pols, status, code, msg) != 0) return -1;
    int rc = 0;
    dwf_error err;
    if (pols->child) {
        *status = 409;
        snprintf(code, 64, "DeleteConflict");
        snprintf(msg, 400, "Cannot delete entity, must delete policies first.");
        rc = -1;
    } else if (dwf_service_delete_role(r->emu->svc, jstr(role, "RoleName"), &err) != 0) {
        rc = store_error(&err, status, code, msg);
    }
    cJSON_Delete(role);
    cJSON_Delete(pols);
    return rc;
}

static int op_caller_identity(emu_request *r, const form *f, FILE *o, unsigned *status, char code[64], char msg[400])
{
    (void)f;
    (void)status;
    (void)code;
    (void)msg;
    dwf_emulator *e = r->emu;
    char arn[200];
    snprintf(arn, sizeof arn, "arn:aws:iam::%s:root", e->account);
    xml_elem(o, "Arn", arn);
    xml_elem(o, "UserId", e->account);
    xml_elem(o, "Account", e->account);
    return 0;
}

static const struct {
    const char *service, *action;
    inner_fn fn;
    int has_result; /* answers a <ActionResult> */
} operations[] = {
    {"iam", "GetRole", op_get_role, 1},
    {"iam", "CreateRole", op_create_role, 1},
    {"iam", "PutRolePolicy", op_put_role_policy, 0},
    {"iam", "GetRolePolicy", op_get_role_policy, 1},
    {"iam", "DeleteRolePolicy", op_delete_role_policy, 0},
    {"iam", "DeleteRole", op_delete_role, 0},
    {"sts", "GetCallerIdentity", op_caller_identity, 1},
};

/* The service a signed request is scoped to ("" when unsigned). */
static void scope_service(const emu_request *r, char out[16])
{
    out[0] = '\0';
    const char *auth = dwf__emu_header(r, "Authorization"), *c = auth ? strstr(auth, "Credential=") : NULL;
    if (!c) return;
    char a[128], d[16], reg[64];
    if (sscanf(c + 11, "%127[^/]/%15[^/]/%63[^/]/%15[^/]/", a, d, reg, out) != 4) out[0] = '\0';
}

enum MHD_Result dwf__emu_query_api(emu_request *r)
{
    dwf_emulator *e = r->emu;
    form f;
    if (form_parse(r->body ? r->body : "", r->len, &f) != 0) {
        form_free(&f);
        return dwf__emu_reply_query_error(r, 500, "ServiceFailure", "out of memory");
    }
    const char *action = form_get(&f, "Action");
    char svc[16], msg[400], code[64];
    scope_service(r, svc);
    size_t i = 0, n = sizeof operations / sizeof *operations;
    while (i < n && !(action && strcmp(operations[i].action, action) == 0 &&
                      (!svc[0] || strcmp(operations[i].service, svc) == 0)))
        i++;
    enum MHD_Result res;
    if (!action) {
        res = dwf__emu_reply_query_error(r, 400, "MissingAction", "Missing Action");
    } else if (i == n) {
        const char *ver = strcmp(svc, "sts") == 0 ? "2011-06-15" : "2010-05-08";
        snprintf(msg, sizeof msg, "Could not find operation %.100s for version %s", action, ver);
        res = dwf__emu_reply_query_error(r, 400, "InvalidAction", msg);
    } else {
        char *buf = NULL;
        size_t len = 0;
        unsigned status = 200;
        FILE *o = open_memstream(&buf, &len);
        int rc = -1;
        if (o) {
            /* One change at a time with the control plane (a role read by CreateFunction). */
            pthread_mutex_lock(&e->control_mu);
            rc = operations[i].fn(r, &f, o, &status, code, msg);
            pthread_mutex_unlock(&e->control_mu);
            fclose(o);
        }
        if (!o) res = dwf__emu_reply_query_error(r, 500, "ServiceFailure", "out of memory");
        else if (rc != 0) res = dwf__emu_reply_query_error(r, status, code, msg);
        else res = reply_xml(r, action, strcmp(operations[i].service, "sts") == 0 ? STS_NS : IAM_NS,
                             operations[i].has_result ? buf : NULL);
        free(buf);
    }
    form_free(&f);
    return res;
}

/* ---- what CreateFunction asks ------------------------------------------------------------------------ */

/* Does a value (a string or an array of strings) hold s? */
static int holds(const cJSON *v, const char *s)
{
    if (cJSON_IsString(v)) return strcmp(v->valuestring, s) == 0;
    for (const cJSON *x = cJSON_IsArray(v) ? v->child : NULL; x; x = x->next)
        if (cJSON_IsString(x) && strcmp(x->valuestring, s) == 0) return 1;
    return 0;
}

/* Called with control_mu held (by CreateFunction / UpdateFunctionConfiguration). */
int dwf__emu_role_trusts_lambda(dwf_emulator *e, const char *role_arn)
{
    char prefix[64];
    snprintf(prefix, sizeof prefix, "arn:aws:iam::%s:role/", e->account);
    if (strncmp(role_arn, prefix, strlen(prefix)) != 0) return 0;
    const char *name = strrchr(role_arn, '/') + 1;
    cJSON *role = NULL, *pols = NULL;
    dwf_error err;
    if (dwf_service_get_role(e->svc, name, &role, &pols, &err) != 0) return 0;
    int ok = strcmp(jstr(role, "Arn") ? jstr(role, "Arn") : "", role_arn) == 0;
    const char *doc = jstr(role, "AssumeRolePolicyDocument");
    cJSON *p = ok && doc ? cJSON_Parse(doc) : NULL;
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(p, "Statement");
    int trusts = 0;
    for (const cJSON *s = cJSON_IsArray(st) ? st->child : st; s && !trusts; s = cJSON_IsArray(st) ? s->next : NULL) {
        const cJSON *pr = cJSON_GetObjectItemCaseSensitive(s, "Principal");
        trusts = holds(cJSON_GetObjectItemCaseSensitive(s, "Effect"), "Allow") &&
                 (holds(cJSON_GetObjectItemCaseSensitive(s, "Action"), "sts:AssumeRole") ||
                  holds(cJSON_GetObjectItemCaseSensitive(s, "Action"), "*")) &&
                 holds(cJSON_GetObjectItemCaseSensitive(pr, "Service"), "lambda.amazonaws.com");
    }
    cJSON_Delete(p);
    cJSON_Delete(role);
    cJSON_Delete(pols);
    return trusts;
}
