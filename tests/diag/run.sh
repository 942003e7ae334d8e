#!/usr/bin/env bash
# Diagnostics suite: every tests/diag/<name>.dwf holds one fault (recovery_many.dwf several: one
# run reports them all); `dwf check` must print exactly
# <name>.err on stderr and exit with the expected status. The status is 1 when the .err holds an
# error, else 0, unless the .dwf's first line says "# exit: N". A <name>.gen script stands for a
# .dwf too large to check in: its output is checked as <name>.dwf in a temporary directory.
#   tests/diag/run.sh --update   rewrite the .err files from the current compiler (review the diff!)
set -u
cd "$(dirname "$0")/../.."
DWF=${DWF:-$PWD/build/dwf}
update=${1:-}
tmp=$(mktemp)
gendir=$(mktemp -d)
trap 'rm -rf "$tmp" "$gendir"' EXIT
for src in tests/diag/*.dwf tests/diag/*.gen; do
  [ -e "$src" ] || continue
  case "$src" in
    *.gen)
      name=$(basename "$src" .gen)
      bash "$src" >"$gendir/$name.dwf"
      (cd "$gendir" && "$DWF" check --color=never "$name.dwf" 2>"$tmp" >/dev/null)
      rc=$?
      src="$gendir/$name.dwf" ;;
    *)
      name=$(basename "$src" .dwf)
      "$DWF" check --color=never "$src" 2>"$tmp" >/dev/null
      rc=$? ;;
  esac
  exp="tests/diag/$name.err"
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

# The command line itself: usage errors exit 2, unreadable files are errors (exit 1), and a
# clean file prints nothing and exits 0.
check_cli() { # name expected-status expected-stderr-substring args...
  local name=$1 want=$2 text=$3; shift 3
  "$DWF" check "$@" 2>"$tmp" >/dev/null
  local rc=$?
  if [ "$rc" -ne "$want" ]; then echo "FAIL diag_cli_$name: exit status $rc, expected $want"
  elif [ -n "$text" ] && ! grep -qF -- "$text" "$tmp"; then echo "FAIL diag_cli_$name: stderr lacks '$text': $(head -c 200 "$tmp")"
  elif [ -z "$text" ] && [ -s "$tmp" ]; then echo "FAIL diag_cli_$name: unexpected stderr: $(head -c 200 "$tmp")"
  else echo "PASS diag_cli_$name"; fi
}
check_cli no_files 2 "dwf: no input files"
check_cli bad_option 2 "dwf: unknown option '--bogus'" --bogus examples/order.dwf
check_cli missing_file 1 "tests/diag/no-such-file.dwf: error: cannot open file: No such file or directory" tests/diag/no-such-file.dwf
check_cli clean_file 0 "" examples/order.dwf
check_cli many_files 1 "unknown name 'paymnt'" examples/order.dwf tests/diag/unknown_name.dwf examples/retry.dwf

# The same diagnostics as data: --format json agrees with the .err files, --format sarif is a
# valid SARIF 2.1.0 log, fix-its fix (tests/diag/formats.py).
DWF="$DWF" python3 tests/diag/formats.py
