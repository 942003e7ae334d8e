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
suites=${SUITES:-"unit build diag golden graph editors fmt e2e cli conformance aws fault deploy console"}
passed=0 failed=0 crashed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

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
    done
  elif [ -f "tests/$s/run.sh" ]; then
    echo "== $s"
    bash "tests/$s/run.sh" >"$log" 2>&1; rc=$?
    count <"$log"
    if [ $rc -ne 0 ]; then crashed=$((crashed+1)); echo "  suite $s exited $rc"; tail -20 "$log"; fi
  fi
done
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] && [ $crashed -eq 0 ]
