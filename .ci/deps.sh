#!/usr/bin/env bash
# Installs what building and testing dwf needs on Debian 12: the C toolchain and libraries
# (apt-get, only what is missing) and the npm packages the conformance and deploy tests use
# (the official durable SDK and AWS clients, into tests/node/node_modules).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(build-essential bison flex clang libclang-rt-14-dev valgrind pkg-config
      libcjson-dev libsqlite3-dev libcurl4-openssl-dev libssl-dev libzip-dev libmicrohttpd-dev
      zip unzip busybox-static ca-certificates)
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
# into a cache keyed by the lock file, and link it into the tree.
if [ -f tests/node/package.json ] && [ ! -e tests/node/node_modules ]; then
  key=$(cat tests/node/package.json tests/node/package-lock.json 2>/dev/null | sha256sum | cut -c1-16)
  cache=${DWF_NODE_CACHE:-/var/cache/dwf/node-$key}
  if [ ! -f "$cache/.complete" ]; then
    echo "installing npm packages for tests/node into $cache"
    rm -rf "$cache.tmp" && mkdir -p "$cache.tmp"
    cp tests/node/package.json "$cache.tmp/"
    [ -f tests/node/package-lock.json ] && cp tests/node/package-lock.json "$cache.tmp/"
    (cd "$cache.tmp" && { [ -f package-lock.json ] && npm ci --no-audit --no-fund --loglevel=error \
                          || npm install --no-audit --no-fund --loglevel=error; })
    touch "$cache.tmp/.complete"
    rm -rf "$cache" && mv "$cache.tmp" "$cache"
  fi
  ln -s "$cache/node_modules" tests/node/node_modules
fi
