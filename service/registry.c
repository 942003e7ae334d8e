/*
 * registry.c: what `dwf serve`'s control plane keeps in the store, so that functions created
 * through Lambda's API (CreateFunction, UpdateFunctionCode, PublishVersion) and the IAM roles
 * deploy.sh creates survive a restart of serve.
 *
 * One lambda_functions row per version of a function ($LATEST included): its configuration as
 * the FunctionConfiguration JSON Lambda answers, and the SHA-256 of its zip. The zips are kept
 * once each in lambda_code, by that hash, as a version usually shares its code with $LATEST;
 * code no version names any more is deleted with the last version using it. The rows mean
 * nothing to the durable service itself: the emulator (emulator/control_api.c) owns their
 * meaning, the service only stores them in its transactions.
 */
#include "service_impl.h"

#include <stdlib.h>
#include <string.h>

/* One transaction: begin, run, commit; or roll back. */
#define TX_BEGIN(s, err)                                                                                  \
    dwf__svc_lock(s);                                                                                    \
    if (dwf__store_begin((s)->st, err) != 0) return dwf__svc_abort(s)

/* The zip, kept once by its hash (an identical zip is already there). */
static int code_put(dwf_service *s, const char *sha, const void *zip, size_t len, dwf_error *err)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(dwf__store_db(s->st), "INSERT OR IGNORE INTO lambda_code(sha256, zip) VALUES(?1, ?2)",
                                -1, &q, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_bind_text(q, 1, sha, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK) rc = sqlite3_bind_blob64(q, 2, zip, (sqlite3_uint64)len, SQLITE_STATIC);
    if (rc == SQLITE_OK) rc = sqlite3_step(q) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(dwf__store_db(s->st));
    sqlite3_finalize(q);
    return rc == SQLITE_OK ? 0 : dwf__store_fail(s->st, rc, err);
}

int dwf_service_put_function_version(dwf_service *s, const char *name, const char *version, const cJSON *config,
                                     const char *sha256_hex, const void *zip, size_t zip_len, dwf_error *err)
{
    char *cj = cJSON_PrintUnformatted(config);
    if (!cj) return oom(err);
    TX_BEGIN(s, err);
    int r = (zip ? code_put(s, sha256_hex, zip, zip_len, err) : 0) != 0 ||
            dwf__sql_exec(s->st, err,
                          "INSERT OR REPLACE INTO lambda_functions(name, version, config, code_sha256, created_ms) "
                          "VALUES(?1, ?2, ?3, ?4, ?5)",
                          "ssssd", name, version, cj, sha256_hex, dwf_service_now(s)) != 0;
    /* Code that the replaced row named and no other row does. */
    r = r || dwf__sql_exec(s->st, err,
                           "DELETE FROM lambda_code WHERE sha256 NOT IN (SELECT code_sha256 FROM lambda_functions)",
                           "") != 0;
    free(cj);
    if (r) return dwf__svc_abort(s);
    return dwf__svc_commit(s, err);
}

int dwf_service_list_function_versions(dwf_service *s, cJSON **out, dwf_error *err)
{
    *out = cJSON_CreateArray();
    if (!*out) return oom(err);
    dwf__svc_lock(s);
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err,
                                       "SELECT name, version, config, code_sha256 FROM lambda_functions "
                                       "ORDER BY name, created_ms", "");
    int r = q ? 1 : -1, bad = 0;
    while (q && !bad && (r = dwf__sql_step(s->st, q, err)) == 1) {
        cJSON *row = cJSON_CreateObject();
        const char *cj = (const char *)sqlite3_column_text(q, 2);
        cJSON *cfg = cj ? cJSON_Parse(cj) : NULL;
        bad = !row || !cfg || jset_str(row, "Name", (const char *)sqlite3_column_text(q, 0)) ||
              jset_str(row, "Version", (const char *)sqlite3_column_text(q, 1)) ||
              jset_str(row, "CodeSha256Hex", (const char *)sqlite3_column_text(q, 3));
        if (!bad && jset(row, "Config", cfg)) bad = 1;
        else cfg = NULL;
        cJSON_Delete(cfg);
        if (bad || !cJSON_AddItemToArray(*out, row)) {
            cJSON_Delete(row);
            bad = 1;
        }
    }
    dwf__sql_done(s->st, q);
    dwf__svc_unlock(s);
    if (bad) r = oom(err);
    if (r < 0) {
        cJSON_Delete(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int dwf_service_function_code(dwf_service *s, const char *sha256_hex, void **zip, size_t *len, dwf_error *err)
{
    *zip = NULL;
    *len = 0;
    dwf__svc_lock(s);
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, "SELECT zip FROM lambda_code WHERE sha256=?1", "s", sha256_hex);
    int r = q ? dwf__sql_step(s->st, q, err) : -1;
    if (r == 1) {
        int n = sqlite3_column_bytes(q, 0);
        const void *b = sqlite3_column_blob(q, 0);
        *zip = malloc(n > 0 ? (size_t)n : 1);
        if (*zip) {
            if (n > 0) memcpy(*zip, b, (size_t)n);
            *len = (size_t)n;
            r = 0;
        } else {
            r = oom(err);
        }
    } else if (r == 0) {
        r = fail(err, RNFE, "no code with SHA-256 %s in the store", sha256_hex);
    }
    dwf__sql_done(s->st, q);
    dwf__svc_unlock(s);
    return r;
}

int dwf_service_delete_function_versions(dwf_service *s, const char *name, const char *version, dwf_error *err)
{
    TX_BEGIN(s, err);
    int r = version ? dwf__sql_exec(s->st, err, "DELETE FROM lambda_functions WHERE name=?1 AND version=?2", "ss", name,
                                    version)
                    : dwf__sql_exec(s->st, err, "DELETE FROM lambda_functions WHERE name=?1", "s", name);
    if (r == 0)
        r = dwf__sql_exec(s->st, err,
                          "DELETE FROM lambda_code WHERE sha256 NOT IN (SELECT code_sha256 FROM lambda_functions)", "");
    if (r != 0) return dwf__svc_abort(s);
    return dwf__svc_commit(s, err);
}

int dwf_service_put_role(dwf_service *s, const char *name, const cJSON *role, const cJSON *policies, dwf_error *err)
{
    char *rj = cJSON_PrintUnformatted(role), *pj = cJSON_PrintUnformatted(policies);
    if (!rj || !pj) {
        free(rj);
        free(pj);
        return oom(err);
    }
    TX_BEGIN(s, err);
    int r = dwf__sql_exec(s->st, err, "INSERT OR REPLACE INTO iam_roles(name, role, policies) VALUES(?1, ?2, ?3)",
                          "sss", name, rj, pj);
    free(rj);
    free(pj);
    if (r != 0) return dwf__svc_abort(s);
    return dwf__svc_commit(s, err);
}

int dwf_service_delete_role(dwf_service *s, const char *name, dwf_error *err)
{
    TX_BEGIN(s, err);
    if (dwf__sql_exec(s->st, err, "DELETE FROM iam_roles WHERE name=?1", "s", name) != 0) return dwf__svc_abort(s);
    return dwf__svc_commit(s, err);
}

int dwf_service_get_role(dwf_service *s, const char *name, cJSON **role, cJSON **policies, dwf_error *err)
{
    *role = *policies = NULL;
    dwf__svc_lock(s);
    sqlite3_stmt *q = dwf__sql_prepare(s->st, err, "SELECT role, policies FROM iam_roles WHERE name=?1", "s", name);
    int r = q ? dwf__sql_step(s->st, q, err) : -1;
    if (r == 1) {
        const char *rj = (const char *)sqlite3_column_text(q, 0), *pj = (const char *)sqlite3_column_text(q, 1);
        *role = rj ? cJSON_Parse(rj) : NULL;
        *policies = pj ? cJSON_Parse(pj) : NULL;
        if (!*role || !*policies) {
            cJSON_Delete(*role);
            cJSON_Delete(*policies);
            *role = *policies = NULL;
            r = fail(err, DWF_ERRORTYPE_STORE_CORRUPT, "the role %s in the store is not JSON", name);
        } else {
            r = 0;
        }
    } else if (r == 0) {
        r = 1;
    }
    dwf__sql_done(s->st, q);
    dwf__svc_unlock(s);
    return r;
}
