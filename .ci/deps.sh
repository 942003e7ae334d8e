#!/usr/bin/env bash
# Installs what building and testing dwf needs on Debian 12: the C toolchain and libraries
# (apt-get, only what is missing) and the npm packages the conformance and deploy tests use
# (the official durable SDK and AWS clients, into tests/node/node_modules; VS Code's TextMate
# tokenizer for the editor grammar test, into tests/editors/node/node_modules).
#
# It also builds, once per machine, the minimal static libcurl that dwf links (see "the minimal
# libcurl" below); `bash .ci/deps.sh --curl-dir` prints where that build lives (the Makefile
# asks), without installing or building anything.
set -euo pipefail
cd "$(dirname "$0")/.."

# The minimal libcurl: Debian's own curl source package (its security patches included), built
# with only what libdwf's transports use: HTTP/1.1 and HTTPS over OpenSSL, redirects, gzip/deflate
# decoding (CURLOPT_ACCEPT_ENCODING, hence zlib), timeouts, CURLOPT_CAINFO, the threaded resolver.
# --disable-openssl-auto-load-config: curl_global_init would otherwise read the build host's
# openssl.cnf (/usr/lib/ssl, compiled into the static libcrypto), which is 54% of a Lambda
# program's start-up instructions here and means nothing on another host.
# Debian's libcurl.so.4 drags in ~30 libraries (LDAP, Kerberos, GnuTLS via librtmp, ssh2,
# nghttp2, psl, idn2, brotli, zstd ...); loading and relocating them was 74% of a Lambda
# bootstrap's cold start and most of the dwf process's memory floor. A static archive of this
# build links into the dwf binary and into every Lambda program instead.
CURL_CONFIGURE=(--disable-shared --enable-static --with-pic --with-openssl --with-zlib
  --without-brotli --without-zstd --without-libpsl --without-nghttp2 --without-nghttp3
  --without-ngtcp2 --without-libidn2 --without-librtmp --without-libssh2 --without-libssh
  --without-gssapi --without-libgsasl --disable-ldap --disable-ldaps --disable-rtsp --disable-dict
  --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb --disable-smtp
  --disable-gopher --disable-mqtt --disable-ftp --disable-file --disable-manual --disable-ntlm
  --disable-ntlm-wb --disable-alt-svc --disable-cookies --disable-netrc --disable-unix-sockets
  --disable-doh --disable-mime --disable-dateparse --disable-progress-meter --disable-websockets
  --without-ca-bundle --without-ca-path --without-ca-fallback --enable-threaded-resolver
  --disable-openssl-auto-load-config CFLAGS=-O2)
# One change to the source: curl_global_init asks OpenSSL to load all its built-in engines
# (OPENSSL_INIT_ENGINE_ALL_BUILTIN), which loads every error string of libcrypto: ~1 million
# instructions and ~30 page faults of each Lambda cold start, for engines libdwf never uses
# (CURLOPT_SSLENGINE would still load one on demand). CURL_PATCH drops that flag.
CURL_PATCH='s|^#ifdef OPENSSL_INIT_ENGINE_ALL_BUILTIN$|#if 0 /* dwf: no engines at init (.ci/deps.sh) */|'
# The cache is keyed by the Debian version of the curl sources (the one the installed
# libcurl4-openssl-dev was built from: a security update gives a new key, so a rebuild), the
# configure line and the patch. DWF_CURL_CACHE overrides the directory.
curl_dir() {
  local ver key
  ver=$(dpkg-query -W -f='${source:Version}' libcurl4-openssl-dev 2>/dev/null || true)
  key=$(printf '%s\n' "${CURL_CONFIGURE[@]}" "$CURL_PATCH" | sha256sum | cut -c1-12)
  echo "${DWF_CURL_CACHE:-/var/cache/dwf/curl-${ver//:/_}-$key}"
}
# cJSON as a static archive, for the Lambda program (a static executable: no loader, no shared
# library in the zip; docs/deploy.md). Debian ships only libcjson.so, so this compiles the
# cJSON.c of Debian's own source package (its patches applied), once per machine, keyed by the
# version the installed libcjson-dev (whose header every file compiles against) was built from.
CJSON_CFLAGS=(-std=c89 -O2 -fPIC)
cjson_dir() {
  local ver key
  ver=$(dpkg-query -W -f='${source:Version}' libcjson-dev 2>/dev/null || true)
  key=$(printf '%s\n' "${CJSON_CFLAGS[@]}" | sha256sum | cut -c1-12)
  echo "${DWF_CJSON_CACHE:-/var/cache/dwf/cjson-${ver//:/_}-$key}"
}
if [ "${1:-}" = --curl-dir ]; then curl_dir; exit 0; fi
if [ "${1:-}" = --cjson-dir ]; then cjson_dir; exit 0; fi

# libexpat1-dev: libdwf reads AWS's XML responses with expat (sdk/aws_xml.c), linked statically.
# graphviz: `dwf graph --format svg` runs its `dot` program (and the graph tests check that it
# accepts every DOT file dwf writes). time and libxml2-utils: tests/cli measures peak memory
# with /usr/bin/time and checks `dwf history --format svg` with xmllint. chromium: tests/console
# drives Debian's headless Chromium with puppeteer-core (the web console in a real browser).
# strace: tests/deploy/build_zip.sh checks that the static Lambda program opens no shared object.
pkgs=(build-essential bison flex clang libclang-rt-14-dev valgrind pkg-config
      libcjson-dev libsqlite3-dev libcurl4-openssl-dev libssl-dev zlib1g-dev libzip-dev
      libmicrohttpd-dev zip unzip busybox-static ca-certificates dpkg-dev xz-utils graphviz
      time libxml2-utils chromium libexpat1-dev strace)
# Node.js may come from elsewhere than Debian (the machine image ships node 20 with npm 11);
# Debian's npm package conflicts with that, so ask apt only when the commands are missing.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "installing: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The npm packages: aws-lambda-ric compiles its native addon (curl + aws-lambda-cpp from the
# tarballs it ships) at install time, which takes minutes on 2 cores. Install once per machine
# into a cache keyed by the lock file, and link it into the tree. A link left by an older lock
# file (a tree that was there before the packages changed) is replaced. Each package dir has
# its own key, so adding packages for one suite (tests/editors/node: the TextMate tokenizer)
# never re-keys the slow one (tests/node).
npm_dir() { # DIR [CACHE]: node_modules for DIR/package.json, from the cache keyed by its lock
  local dir=$1 key cache
  [ -f "$dir/package.json" ] || return 0
  key=$(cat "$dir/package.json" "$dir/package-lock.json" 2>/dev/null | sha256sum | cut -c1-16)
  cache=${2:-/var/cache/dwf/node-$key}
  if [ -L "$dir/node_modules" ] && [ "$(readlink "$dir/node_modules")" != "$cache/node_modules" ]; then
    rm "$dir/node_modules"
  fi
  [ -e "$dir/node_modules" ] && return 0
  if [ ! -f "$cache/.complete" ]; then
    echo "installing npm packages for $dir into $cache"
    rm -rf "$cache.tmp" && mkdir -p "$cache.tmp"
    cp "$dir/package.json" "$cache.tmp/"
    [ -f "$dir/package-lock.json" ] && cp "$dir/package-lock.json" "$cache.tmp/"
    (cd "$cache.tmp" && { [ -f package-lock.json ] && npm ci --no-audit --no-fund --loglevel=error \
                          || npm install --no-audit --no-fund --loglevel=error; })
    touch "$cache.tmp/.complete"
    rm -rf "$cache" && mv "$cache.tmp" "$cache"
  fi
  ln -s "$cache/node_modules" "$dir/node_modules"
}
npm_dir tests/node "${DWF_NODE_CACHE:-}"
npm_dir tests/editors/node
npm_dir tests/console/node # puppeteer-core alone (it drives the chromium installed above)
npm_dir tests/aws/node # dynalite, s3rver and the official AWS SDK clients (the aws suite)

# apt-get source needs a deb-src entry; Debian images ship only "deb" ones. Derive it from the
# machine's own (deb822) sources, so it names the same mirror, suites and keyring.
ensure_deb_src() {
  if ! grep -qs '^Types:.*deb-src' /etc/apt/sources.list.d/*.sources &&
     ! grep -qs '^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list; then
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
      sed 's/^Types: deb$/Types: deb-src/' /etc/apt/sources.list.d/debian.sources |
        $SUDO tee /etc/apt/sources.list.d/dwf-src.sources >/dev/null
    elif [ -f /etc/apt/sources.list ]; then
      sed -n 's/^deb /deb-src /p' /etc/apt/sources.list | $SUDO tee /etc/apt/sources.list.d/dwf-src.list >/dev/null
    else
      echo "deps.sh: no apt sources to derive a deb-src entry from" >&2; exit 1
    fi
    $SUDO apt-get update -qq
  fi
}
# Debian's source package SRC=VER unpacked (its patches applied) at WORK/src.
debian_source() { # SRC VER WORK
  # The exact version the installed -dev package comes from; an index without deb-src lines
  # for it is stale: refresh once and retry.
  if ! (cd "$3" && apt-get source -qq --download-only "$1=$2" >/dev/null 2>&1); then
    $SUDO apt-get update -qq
    (cd "$3" && apt-get source -qq --download-only "$1=$2" >/dev/null)
  fi
  # dpkg-source applies Debian's patches (the CVE fixes among them). It cannot check the .dsc's
  # signature without debian-keyring and says so; apt already checked the files against the
  # signed Sources index, so its chatter goes to a log shown only on failure.
  (cd "$3" && dpkg-source -x "$1"_*.dsc src >"$3/dpkg-source.log" 2>&1) ||
    { cat "$3/dpkg-source.log" >&2; exit 1; }
}
SUDO=; [ "$(id -u)" -ne 0 ] && SUDO=sudo

# The minimal static libcurl (see CURL_CONFIGURE above), built once per machine into its cache:
# <cache>/include/curl/*.h and <cache>/lib/libcurl.a. About 2 minutes on 2 cores.
cache=$(curl_dir)
if [ ! -f "$cache/.complete" ]; then
  ver=$(dpkg-query -W -f='${source:Version}' libcurl4-openssl-dev)
  ensure_deb_src
  echo "building the minimal static libcurl (curl $ver) into $cache"
  work=$(mktemp -d "${TMPDIR:-/tmp}/dwf-curl.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  debian_source curl "$ver" "$work"
  if grep -q '^#ifdef OPENSSL_INIT_ENGINE_ALL_BUILTIN$' "$work/src/lib/vtls/openssl.c"; then
    sed -i "$CURL_PATCH" "$work/src/lib/vtls/openssl.c"
  else
    echo "deps.sh: warning: curl $ver's lib/vtls/openssl.c has no OPENSSL_INIT_ENGINE_ALL_BUILTIN" \
         "line to patch; building it unchanged (cold starts load OpenSSL's engines)" >&2
  fi
  (cd "$work/src" && ./configure --quiet "${CURL_CONFIGURE[@]}" >"$work/configure.log" 2>&1) ||
    { tail -30 "$work/configure.log" "$work/src/config.log" >&2; exit 1; }
  make -s -C "$work/src/lib" -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -30 "$work/make.log" >&2; exit 1; }
  rm -rf "$cache.tmp" && mkdir -p "$cache.tmp/include/curl" "$cache.tmp/lib"
  cp "$work"/src/include/curl/*.h "$cache.tmp/include/curl/"
  cp "$work/src/lib/.libs/libcurl.a" "$cache.tmp/lib/"
  printf '%s\n' "curl $ver" "${CURL_CONFIGURE[@]}" "patch: $CURL_PATCH" >"$cache.tmp/configure-options"
  touch "$cache.tmp/.complete"
  rm -rf "$cache" && mv "$cache.tmp" "$cache"
  rm -rf "$work"; trap - EXIT
fi

# The static cJSON (see cjson_dir above): <cache>/lib/libcjson.a. A few seconds.
cache=$(cjson_dir)
if [ ! -f "$cache/.complete" ]; then
  ver=$(dpkg-query -W -f='${source:Version}' libcjson-dev)
  ensure_deb_src
  echo "building the static cJSON (cjson $ver) into $cache"
  work=$(mktemp -d "${TMPDIR:-/tmp}/dwf-cjson.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  debian_source cjson "$ver" "$work"
  # The header every file includes is the installed one: it must be this source's.
  cmp -s "$work/src/cJSON.h" /usr/include/cjson/cJSON.h ||
    { echo "deps.sh: cjson $ver's cJSON.h differs from /usr/include/cjson/cJSON.h" >&2; exit 1; }
  cc "${CJSON_CFLAGS[@]}" -c -o "$work/cJSON.o" "$work/src/cJSON.c"
  rm -rf "$cache.tmp" && mkdir -p "$cache.tmp/lib"
  ar rcs "$cache.tmp/lib/libcjson.a" "$work/cJSON.o"
  printf '%s\n' "cjson $ver" "${CJSON_CFLAGS[@]}" >"$cache.tmp/build-options"
  touch "$cache.tmp/.complete"
  rm -rf "$cache" && mv "$cache.tmp" "$cache"
  rm -rf "$work"; trap - EXIT
fi
