/*
 * handler.h: a .dwf workflow as a loaded shared object, for the embedded engine.
 * handler_build() compiles once per content (the .dwf, its `use`d C files, dwf.h and the dwf
 * binary itself) into <cache>/<sha256>/handler.so; handler_load() dlopens one; a HandlerSet
 * resolves function names to workflows for the engine, loading handlers recorded in the store
 * (by `dwf run`) on demand, so `dwf resume` and chained invokes find them again.
 */
#ifndef DWF_CLI_HANDLER_H
#define DWF_CLI_HANDLER_H

#include <limits.h>
#include "dwf_host.h"
#include "service.h"

typedef struct Handler {
    void *dl;
    const dwf_workflow *wf;
    char so[PATH_MAX];
    char source[PATH_MAX];
    /* The function's environment ("NAME=VALUE", NULL-terminated, owned) when it is not the
     * workflow's own lambda { environment }: `dwf run --env`, or the store's record. */
    char **env;
} Handler;

/* Compile `dwf_path` (cached under cache_dir) and put the .so path in so_out. Diagnostics and
 * compiler errors go to stderr. Returns 0 or -1. */
int handler_build(const char *dwf_path, const char *cache_dir, char *so_out, size_t n);

/* dlopen a handler and find DWF_WORKFLOW_SYMBOL. Returns 0, or -1 with a message in err. */
int handler_load(const char *so_path, const char *source, Handler *h, char *err, size_t n);

/* handler_build + handler_load of a .dwf, cached beside the store (.dwf/cache for .dwf/dwf.db),
 * as `dwf run` does; errors printed as "dwf CMD: ...". Returns 0 or -1. */
int handler_open(const char *cmd, const char *file, const char *store, Handler *h);

/* The workflow's lambda { environment } with `overrides` ("NAME=VALUE", later ones win) on top,
 * as h->env. Returns 0 or -1 (out of memory). */
int handler_set_env(Handler *h, const char *const *overrides, int n);

/* Record the handler's function in the store (FunctionName, Handler, Source, WorkflowHash, DurableConfig,
 * Environment.Variables: what env() reads there, also under `dwf resume`). */
int handler_register(dwf_service *s, const Handler *h, dwf_error *err);

typedef struct HandlerSet {
    Handler *items;
    int n, cap;
    dwf_service *svc;
} HandlerSet;

/* Add a loaded handler to the set (the set owns it afterwards). Returns 0 or -1. */
int handler_set_add(HandlerSet *set, const Handler *h);
/* dwf_engine_resolve_fn over a HandlerSet: known, or loaded from the store's record. */
const dwf_workflow *handler_resolve(void *set, const char *function_name, dwf_error *err);
/* dwf_engine_opts.environment over a HandlerSet: the environment of a function in the set. */
const char *const *handler_environment(void *set, const char *function_name);
void handler_set_free(HandlerSet *set);

#endif
