#!/usr/bin/env bash
# Diagnostics suite: every tests/diag/<name>.dwf holds one fault; `dwf check` must print exactly
# <name>.err on stderr and exit with the expected status. The status is 1 when the .err holds an
# error, else 0, unless the .dwf's first line says "# exit: N".
#   tests/diag/run.sh --update   rewrite the .err files from the current compiler (review the diff!)
set -u
cd "$(dirname "$0")/../.."
DWF=${DWF:-$PWD/build/dwf}
update=${1:-}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
for src in tests/diag/*.dwf; do
  name=$(basename "$src" .dwf)
  exp="tests/diag/$name.err"
  "$DWF" check --color=never "$src" 2>"$tmp" >/dev/null
  rc=$?
  if [ "$update" = --update ]; then cp "$tmp" "$exp"; fi
  if [ ! -f "$exp" ]; then echo "FAIL diag_$name: missing $exp"; continue; fi
  want=1
  grep -q ': error: ' "$exp" || want=0
  first=$(head -n1 "$src")
  case "$first" in "# exit: "*) want=${first#\# exit: } ;; esac
  if [ "$rc" -ne "$want" ]; then
    echo "FAIL diag_$name: exit status $rc, expected $want"
  elif ! diff -u "$exp" "$tmp" >/dev/null; then
    echo "FAIL diag_$name: stderr differs from $exp:"
    diff -u "$exp" "$tmp" | head -20 | sed 's/^/    /'
  else
    echo "PASS diag_$name"
  fi
done
