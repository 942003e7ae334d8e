#!/usr/bin/env bash
# Runs every test suite and prints one closing line "N passed, N failed".
#
# A suite is either a unit test program (build/tests/test_*) or a script tests/<suite>/run.sh.
# Both print one line per test: "PASS <name>" or "FAIL <name>: <why>". This script counts them,
# shows failures, and exits 1 if anything failed or a suite crashed.
#   SUITES="unit diag"  runs only those suites.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD DWF="$PWD/$BUILD/dwf"
VG=()
if [ -n "${VALGRIND:-}" ]; then
  VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions=tests/valgrind.supp)
  export DWF_VALGRIND=1
fi
# Under a sanitizer build (make SANITIZE=... check), every sanitized process a suite starts (dwf
# run, dwf serve and its emulator threads, the Lambda programs serve runs, handlers) writes its
# reports into one directory instead of its stderr: many suites only look at a program's
# output or exit status in the cases they test, and a report in a process they never check
# (a server stopped with SIGTERM, a function serve ran) would otherwise pass unseen. After each
# suite, any report there is a "FAIL sanitizer_<suite>" line, and the reports are kept under
# $BUILD/sanitizer-reports/<suite>/ to read.
SANLOG=
if [ -n "${SANITIZE:-}" ]; then
  SANLOG=$(mktemp -d /tmp/dwf-sanitizer.XXXXXX)
  export ASAN_OPTIONS="log_path=$SANLOG/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
  export UBSAN_OPTIONS="log_path=$SANLOG/ubsan:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
  rm -rf "$BUILD/sanitizer-reports"
fi
# sanitizer_reports SUITE: a FAIL line per sanitized process that reported (see above).
sanitizer_reports() {
  [ -n "$SANLOG" ] || return 0
  local f first
  for f in "$SANLOG"/*; do
    [ -f "$f" ] || continue
    mkdir -p "$BUILD/sanitizer-reports/$1"
    first=$(grep -m1 -E 'ERROR: |runtime error: |SUMMARY: ' "$f" | head -c 300)
    echo "FAIL sanitizer_$1: $(basename "$f"): ${first:-$(head -c 300 "$f")} (in $BUILD/sanitizer-reports/$1/)"
    mv "$f" "$BUILD/sanitizer-reports/$1/"
  done
}
suites=${SUITES:-"unit build diag golden graph editors fmt e2e cli conformance aws fault deploy console"}
passed=0 failed=0 crashed=0
log=$(mktemp)
trap 'rm -f "$log"; [ -z "$SANLOG" ] || rm -rf "$SANLOG"' EXIT

count() { # reads suite output on stdin, echoes it, counts lines
  while IFS= read -r line; do
    case "$line" in
      PASS\ *) passed=$((passed+1)); [ -n "${VERBOSE:-}" ] && echo "  $line" ;;
      FAIL\ *) failed=$((failed+1)); echo "  $line" ;;
      *) [ -n "${VERBOSE:-}" ] && echo "    $line" ;;
    esac
  done
}

for s in $suites; do
  if [ "$s" = unit ]; then
    for t in "$BUILD"/tests/test_*; do
      [ -x "$t" ] || continue
      echo "== unit $(basename "$t")"
      "${VG[@]}" "$t" >"$log" 2>&1; rc=$?
      count <"$log"
      if [ $rc -ne 0 ]; then crashed=$((crashed+1)); echo "  suite $(basename "$t") exited $rc"; tail -20 "$log"; fi
      count < <(sanitizer_reports "$(basename "$t")")
    done
  elif [ -f "tests/$s/run.sh" ]; then
    echo "== $s"
    bash "tests/$s/run.sh" >"$log" 2>&1; rc=$?
    count <"$log"
    if [ $rc -ne 0 ]; then crashed=$((crashed+1)); echo "  suite $s exited $rc"; tail -20 "$log"; fi
    count < <(sanitizer_reports "$s")
  fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $crashed -eq 0 ]
