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
if [ -f tests/node/package.json ] && [ ! -d tests/node/node_modules ]; then
  echo "installing npm packages for tests/node"
  (cd tests/node && npm install --no-audit --no-fund --loglevel=error >/dev/null 2>&1 || npm install --no-audit --no-fund)
fi
