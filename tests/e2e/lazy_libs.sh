#!/usr/bin/env bash
# tests/e2e/lazy_libs.sh: libzip and libmicrohttpd are loaded only by the commands that use them
# (util/dlib.c dlopens them for `dwf build` and `dwf serve`), so the embedded engine never
# maps them, and a machine without them gets a message naming the library and its Debian
# package, a non-zero exit and nothing written.
#
#   run_maps_no_zip_mhd         a workflow's `use`d C step, running inside the `dwf run` process,
#                               reads /proc/self/maps: libc is there, libzip and libmicrohttpd not
#   run_without_zip_mhd         `dwf run` succeeds with both libraries made unloadable
#   build_without_libzip        `dwf build` fails clearly, creates neither the zip's directory nor
#                               a work directory
#   serve_without_libmicrohttpd `dwf serve` fails clearly and creates no store
#   serve_zip_without_libzip    the same for a zip function when only libzip is missing
#
# "Unloadable" is a bind mount of /dev/null over the library file in a private mount namespace
# (unshare -m), so the machine's libraries are untouched; it needs root, and prints SKIP without.
# Everything SKIPs while $DWF still links the libraries (a DEPS_LIBS naming -lzip/-lmicrohttpd):
# they are then mapped at start and nothing here could pass.
# Prints "PASS name" / "FAIL name: why" / "SKIP name: why" (tests/run.sh counts PASS and FAIL).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DWF=${DWF:-$ROOT/build/dwf}
EX=$ROOT/examples
T=$(mktemp -d /tmp/dwf-lazy.XXXXXX)
trap 'rm -rf "$T"' EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
skip() { echo "SKIP $1: $2"; }
ALL="run_maps_no_zip_mhd run_without_zip_mhd build_without_libzip serve_without_libmicrohttpd serve_zip_without_libzip"

if [ ! -x "$DWF" ]; then fail lazy_libs "no $DWF (build first)"; exit 0; fi
if ! command -v readelf >/dev/null 2>&1; then
  for t in $ALL; do skip "$t" "readelf is not installed (binutils)"; done; exit 0
fi
linked=$(readelf -d "$DWF" | grep -oE 'lib(zip|microhttpd)\.so[.0-9]*' | tr '\n' ' ')
if [ -n "$linked" ]; then
  for t in $ALL; do skip "$t" "$DWF is linked with ${linked% } (DEPS_LIBS still names it)"; done; exit 0
fi

# ---- what the engine's own process maps ----
cat >"$T/maps.c" <<'EOF'
/* maps.c (tests/e2e/lazy_libs.sh): the shared objects mapped in the process running the step,
 * which for `dwf run` is dwf itself (the handler is a shared object it loads). */
#include <stdio.h>
#include <string.h>

#include "dwf.h"

cJSON *mapped_libs(dwf_ctx *c, int argc, cJSON *const *argv)
{
    (void)argc;
    (void)argv;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f) {
        dwf_fail(c, "IOError", "cannot open /proc/self/maps");
        return NULL;
    }
    cJSON *libs = cJSON_CreateArray();
    char line[4096];
    while (libs && fgets(line, sizeof line, f)) {
        char *path = strchr(line, '/');
        if (!path || !strstr(path, ".so")) continue;
        path[strcspn(path, "\n")] = '\0';
        const char *base = strrchr(path, '/') + 1;
        int seen = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, libs) seen |= strcmp(it->valuestring, base) == 0;
        if (!seen) cJSON_AddItemToArray(libs, cJSON_CreateString(base));
    }
    fclose(f);
    return libs;
}
EOF
cat >"$T/lazy.dwf" <<'EOF'
# lazy.dwf (tests/e2e/lazy_libs.sh): report the libraries mapped while a step runs.
use "maps.c"
workflow lazy_libs {
  step libs "mapped-libs" { return call mapped_libs() }
  return libs
}
EOF
"$DWF" run "$T/lazy.dwf" --json --store "$T/lazy.db" >"$T/maps.json" 2>"$T/maps.err"; rc=$?
libs=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(" ".join(r["Result"]) if r["Status"]=="SUCCEEDED" else "")' \
       "$T/maps.json" 2>/dev/null)
if [ $rc -ne 0 ] || [ -z "$libs" ]; then fail run_maps_no_zip_mhd "dwf run rc=$rc: $(head -c 300 "$T/maps.err") $(head -c 300 "$T/maps.json")"
elif ! [[ " $libs " =~ \ libc\.so\.6\  ]]; then fail run_maps_no_zip_mhd "libc.so.6 not among the mapped libraries, so the maps were not read: $libs"
elif [[ " $libs " =~ \ lib(zip|microhttpd)\.so ]]; then fail run_maps_no_zip_mhd "dwf run maps them: $libs"
else pass "run_maps_no_zip_mhd ($(echo "$libs" | wc -w) libraries mapped)"; fi

# ---- the libraries made unloadable ----
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null 2>&1 || ! unshare -m true 2>/dev/null; then
  for t in run_without_zip_mhd build_without_libzip serve_without_libmicrohttpd serve_zip_without_libzip; do
    skip "$t" "needs root and unshare -m to hide a library"
  done
  exit 0
fi
lib_path() { ldconfig -p | awk -v n="$1" '$1 == n { print $NF; exit }'; }
ZIP_SO=$(lib_path libzip.so.4)
MHD_SO=$(lib_path libmicrohttpd.so.12)
# without "LIB..." -- CMD...: run CMD where each LIB path reads as /dev/null; stdout/stderr to $T/out, $T/err.
without() {
  local libs=()
  while [ "$1" != -- ]; do libs+=("$1"); shift; done
  shift
  # shellcheck disable=SC2016
  timeout 60 unshare -m sh -c 'n=$1; shift; while [ "$n" -gt 0 ]; do mount --bind /dev/null "$1" || exit 97; shift; n=$((n-1)); done; exec "$@"' \
    sh "${#libs[@]}" "${libs[@]}" "$@" >"$T/out" 2>"$T/err"
}
if [ -z "$ZIP_SO" ] || [ -z "$MHD_SO" ]; then
  for t in run_without_zip_mhd build_without_libzip serve_without_libmicrohttpd serve_zip_without_libzip; do
    fail "$t" "ldconfig -p does not list libzip.so.4 / libmicrohttpd.so.12 (make deps)"
  done
  exit 0
fi

without "$ZIP_SO" "$MHD_SO" -- "$DWF" run "$EX/order.dwf" --skip-time --json --store "$T/hidden.db"; rc=$?
if [ $rc -eq 0 ] && grep -q '"SUCCEEDED"' "$T/out"; then pass run_without_zip_mhd
else fail run_without_zip_mhd "rc=$rc $(head -c 300 "$T/err")"; fi

mkdir -p "$T/tmp"
without "$ZIP_SO" -- env TMPDIR="$T/tmp" "$DWF" build "$EX/order.dwf" -o "$T/nozip/out/function.zip"; rc=$?
want="dwf build: cannot load libzip.so.4 (install the libzip4 package): "
if [ $rc -ne 1 ]; then fail build_without_libzip "exit $rc, want 1 ($(head -c 300 "$T/err"))"
elif ! grep -qF -- "$want" "$T/err"; then fail build_without_libzip "stderr lacks '$want': $(head -c 300 "$T/err")"
elif [ -e "$T/nozip" ] || [ -n "$(ls -A "$T/tmp")" ]; then fail build_without_libzip "it wrote $(ls -A "$T/nozip" "$T/tmp" 2>&1 | tr '\n' ' ')"
else pass build_without_libzip; fi

mkdir -p "$T/fdir"
printf '#!/bin/sh\nexit 0\n' >"$T/fdir/bootstrap" && chmod +x "$T/fdir/bootstrap"
without "$MHD_SO" -- "$DWF" serve --port 0 --quiet --store "$T/noserve/s.db" --function "f=$T/fdir"; rc=$?
want="cannot load libmicrohttpd.so.12 (install the libmicrohttpd12 package): "
if [ $rc -ne 1 ]; then fail serve_without_libmicrohttpd "exit $rc, want 1 ($(head -c 300 "$T/err"))"
elif ! grep -qF -- "$want" "$T/err" || ! grep -q '^dwf serve: ' "$T/err"; then
  fail serve_without_libmicrohttpd "stderr lacks 'dwf serve: ...$want': $(head -c 300 "$T/err")"
elif [ -e "$T/noserve" ]; then fail serve_without_libmicrohttpd "it wrote $T/noserve: $(ls -A "$T/noserve" | tr '\n' ' ')"
else pass serve_without_libmicrohttpd; fi

# The zip is never opened (the library check comes first), so any file named .zip will do.
mkdir -p "$T/zipfn" && echo 'not a zip' >"$T/zipfn/function.zip"
without "$ZIP_SO" -- "$DWF" serve --port 0 --quiet --store "$T/noserve2/s.db" "$T/zipfn/function.zip"; rc=$?
want="cannot load libzip.so.4 (install the libzip4 package): "
if [ $rc -ne 1 ]; then fail serve_zip_without_libzip "exit $rc, want 1 ($(head -c 300 "$T/err"))"
elif ! grep -qF -- "$want" "$T/err"; then fail serve_zip_without_libzip "stderr lacks '$want': $(head -c 300 "$T/err")"
elif [ -e "$T/noserve2" ]; then fail serve_zip_without_libzip "it wrote $T/noserve2: $(ls -A "$T/noserve2" | tr '\n' ' ')"
else pass serve_zip_without_libzip; fi
exit 0
