/*
 * aws_config.c: where an `aws` call's credentials, region and endpoint come from, read the way
 * the AWS SDKs read them (docs/aws.md, "Credentials, region, endpoint").
 *
 *   credentials  AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else the
 *                profile AWS_PROFILE (default "default") of the credentials file
 *                (AWS_SHARED_CREDENTIALS_FILE, ~/.aws/credentials), then of the config file
 *                (AWS_CONFIG_FILE, ~/.aws/config)
 *   region       AWS_REGION, AWS_DEFAULT_REGION, the profile's `region` in the config file
 *   endpoint     AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the profile's `endpoint_url`;
 *                none of them when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true
 *
 * Read on every call: in Lambda it is a few getenv()s, and locally a developer may change the
 * files between runs of a long-lived `dwf worker`.
 *
 * The shared files are read by hand rather than with an INI library: they are not quite INI
 * (the config file names its sections "[profile NAME]" except "[default]", values may be
 * continued on indented lines for nested settings, which we skip), and the few lines here
 * are shorter than adapting a general parser to those rules.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "aws_internal.h"

static char *dup_env(const char *name)
{
    const char *v = getenv(name);
    return v && *v ? strdup(v) : NULL;
}

/* A file named by env_name, else ~/.aws/<base>. malloc'd, or NULL when neither can be named. */
static char *shared_file(const char *env_name, const char *base)
{
    char *p = dup_env(env_name);
    if (p) return p;
    const char *home = getenv("HOME");
    if (!home || !*home) return NULL;
    size_t n = strlen(home) + strlen(base) + 8;
    p = malloc(n);
    if (p) snprintf(p, n, "%s/.aws/%s", home, base);
    return p;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

/* Does the section header text (between the brackets) name `profile` in this kind of file?
 * The credentials file: "[NAME]". The config file: "[profile NAME]", and "[default]". */
static int section_is(const char *hdr, const char *profile, int config_file)
{
    if (!config_file) return strcmp(hdr, profile) == 0;
    if (strcmp(profile, "default") == 0 && strcmp(hdr, "default") == 0) return 1;
    if (strncmp(hdr, "profile", 7) != 0 || !isspace((unsigned char)hdr[7])) return 0;
    const char *name = hdr + 7;
    while (isspace((unsigned char)*name)) name++;
    return strcmp(name, profile) == 0;
}

/* The value of `key` in the profile's section of the file, malloc'd, or NULL. */
static char *ini_get(const char *path, const char *profile, int config_file, const char *key)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return NULL;
    char line[1024], *found = NULL;
    int in_section = 0;
    while (!found && fgets(line, sizeof line, f)) {
        /* An indented line continues the setting before it (nested settings): not ours. */
        if (line[0] == ' ' || line[0] == '\t') continue;
        char *s = trim(line);
        if (*s == '#' || *s == ';' || !*s) continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end) *end = '\0';
            in_section = section_is(trim(s + 1), profile, config_file);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!in_section || !eq) continue;
        *eq = '\0';
        if (strcasecmp(trim(s), key) == 0) {
            char *v = trim(eq + 1);
            if (*v) found = strdup(v);
        }
    }
    fclose(f);
    return found;
}

/* `key` of the profile: the credentials file first (when cred_file), then the config file. */
static char *profile_get(const dwf__aws_config *cfg, const char *key, int cred_file)
{
    char *v = cred_file ? ini_get(cfg->credentials_file, cfg->profile, 0, key) : NULL;
    return v ? v : ini_get(cfg->config_file, cfg->profile, 1, key);
}

static int fail(dwf__aws_config *cfg, const char *type, const char *msg)
{
    snprintf(cfg->err_type, sizeof cfg->err_type, "%s", type);
    snprintf(cfg->err, sizeof cfg->err, "%s", msg);
    return -1;
}

static int load_credentials(dwf__aws_config *cfg)
{
    cfg->access_key = dup_env("AWS_ACCESS_KEY_ID");
    cfg->secret_key = dup_env("AWS_SECRET_ACCESS_KEY");
    if (cfg->access_key && cfg->secret_key) {
        cfg->session_token = dup_env("AWS_SESSION_TOKEN");
        return 0;
    }
    free(cfg->access_key);
    free(cfg->secret_key);
    cfg->access_key = profile_get(cfg, "aws_access_key_id", 1);
    cfg->secret_key = profile_get(cfg, "aws_secret_access_key", 1);
    if (cfg->access_key && cfg->secret_key) {
        cfg->session_token = profile_get(cfg, "aws_session_token", 1);
        return 0;
    }
    char msg[400];
    snprintf(msg, sizeof msg,
             "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give profile "
             "'%.60s' aws_access_key_id and aws_secret_access_key in %.120s",
             cfg->profile, cfg->credentials_file ? cfg->credentials_file : "~/.aws/credentials");
    return fail(cfg, "CredentialsError", msg);
}

static int load_region(dwf__aws_config *cfg)
{
    cfg->region = dup_env("AWS_REGION");
    if (!cfg->region) cfg->region = dup_env("AWS_DEFAULT_REGION");
    if (!cfg->region) cfg->region = profile_get(cfg, "region", 0);
    if (cfg->region) return 0;
    char msg[300];
    snprintf(msg, sizeof msg, "no AWS region: set AWS_REGION, or give profile '%.60s' a region in %.120s",
             cfg->profile, cfg->config_file ? cfg->config_file : "~/.aws/config");
    return fail(cfg, "ConfigurationError", msg);
}

int dwf__aws_config_load(dwf__aws_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->profile = dup_env("AWS_PROFILE");
    if (!cfg->profile) cfg->profile = strdup("default");
    cfg->credentials_file = shared_file("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    cfg->config_file = shared_file("AWS_CONFIG_FILE", "config");
    if (!cfg->profile) return fail(cfg, "OutOfMemory", "aws: out of memory reading the configuration");
    return load_credentials(cfg) == 0 && load_region(cfg) == 0 ? 0 : -1;
}

char *dwf__aws_endpoint_override(const dwf__aws_config *cfg, const char *env_id)
{
    const char *ignore = getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
    if (ignore && strcasecmp(ignore, "true") == 0) return NULL;
    char name[96];
    snprintf(name, sizeof name, "AWS_ENDPOINT_URL_%s", env_id);
    char *v = dup_env(name);
    if (!v) v = dup_env("AWS_ENDPOINT_URL");
    if (!v) v = profile_get(cfg, "endpoint_url", 0);
    return v;
}

void dwf__aws_config_free(dwf__aws_config *cfg)
{
    free(cfg->profile);
    free(cfg->credentials_file);
    free(cfg->config_file);
    free(cfg->access_key);
    if (cfg->secret_key) memset(cfg->secret_key, 0, strlen(cfg->secret_key));
    free(cfg->secret_key);
    free(cfg->session_token);
    free(cfg->region);
    memset(cfg, 0, sizeof *cfg);
}
