/*
 * assets.h: the files of console/assets/, compiled into the binary (the Makefile turns each
 * into a C array in $(BUILD)/gen/console_assets.c with console/embed.sh), so the console needs
 * no file at run time and no CDN.
 */
#ifndef DWF_CONSOLE_ASSETS_H
#define DWF_CONSOLE_ASSETS_H

#include <stddef.h>

typedef struct cs_asset {
    const char *name;  /* "console.css" */
    const char *ctype; /* its Content-Type */
    const unsigned char *data;
    size_t len;
} cs_asset;

extern const cs_asset cs_assets[];
extern const int cs_nassets;

#endif
