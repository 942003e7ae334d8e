/*
 * aws_internal.h: what the files of the `aws` call (aws.c, aws_config.c, aws_xml.c) share.
 */
#ifndef DWF_AWS_INTERNAL_H
#define DWF_AWS_INTERNAL_H

#include <stddef.h>

#include "internal.h"

/* Credentials, region and the shared files an `aws` call uses (aws_config.c). */
typedef struct dwf__aws_config {
    char *profile, *credentials_file, *config_file;
    char *access_key, *secret_key, *session_token, *region;
    char err_type[32];
    char err[512];
} dwf__aws_config;
/* 0, or -1 with err_type / err saying what is missing (CredentialsError, ConfigurationError).
 * Free with dwf__aws_config_free either way. */
int dwf__aws_config_load(dwf__aws_config *cfg);
void dwf__aws_config_free(dwf__aws_config *cfg);
/* The configured endpoint URL of a service (AWS_ENDPOINT_URL_<env_id>, AWS_ENDPOINT_URL, the
 * profile's endpoint_url), malloc'd, or NULL for AWS's own. */
char *dwf__aws_endpoint_override(const dwf__aws_config *cfg, const char *env_id);

/* An XML document as a value (aws_xml.c): the root element's name in root (malloc'd) and its
 * content: an element with child elements is an object (a repeated name an array, an element
 * whose children are all <member> an array of them), one without is its text. NULL with a
 * reason in err when the text is not well-formed XML. */
cJSON *dwf__xml_to_json(const char *xml, size_t len, char **root, char err[128]);

#endif
