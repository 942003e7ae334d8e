#!/usr/bin/env bash
# The Makefile never builds stale and never rebuilds for nothing.
#
# Works on a copy of the tree and of the finished build ($BUILD, copied with its timestamps), so
# touching headers here never makes the real build stale. For every header of the project it
# touches the header and asks make (-n) what it would do; the oracle is the compiler itself:
# `cc -MM` of every source, test program and the Lambda main, computed here independently of
# the .d files the build wrote. Each header must rebuild exactly the objects and programs whose
# sources include it (directly or not), lambda_main and the unit tests included, and a built
# tree must be up to date (`make -q`).
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
T=$(mktemp -d)
trap 'rm -rf "$T" "$T.files"' EXIT
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

if [ ! -x "$BUILD/dwf" ]; then fail build_copy "$BUILD/dwf is not built"; exit 0; fi
# The tracked sources, and the build as it is (cp -a keeps the timestamps make compares).
git ls-files >"$T.files"
tar cf - -T "$T.files" | tar xf - -C "$T"
mkdir -p "$T/$(dirname "$BUILD")"
cp -a "$BUILD" "$T/$BUILD"
# The copied build's other BUILD directories (build/san inside build/) are not ours.
[ "$BUILD" = build ] && rm -rf "$T/build/san"
cd "$T"
MK=(make --no-print-directory BUILD="$BUILD" SANITIZE="${SANITIZE:-}")
# The sources are newer than the copied build only if cp changed their times: put them back in
# the past, as in the real tree where the build followed the last edit: an hour before the
# build's oldest file (a fixed "2 hours ago" made a build older than that look stale).
oldest=$(find "$BUILD" -type f -printf '%T@\n' | sort -n | head -1)
oldest=${oldest%.*}
PAST=@$(( ${oldest:-86400} > 90000 ? ${oldest:-86400} - 3600 : 86400 ))
find . -path "./$BUILD" -prune -o -type f -print0 | xargs -0 touch -d "$PAST"

if "${MK[@]}" -q all unit; then pass make_q_after_build
else fail make_q_after_build "make -q says the finished build is out of date: $("${MK[@]}" -n all unit | head -5 | tr '\n' ' ')"; fi

# The oracle: for every compiled thing, the project headers its source reads.
INC="-Iinclude -Iutil -Iaws -Isdk -Ilambda -Iservice -Iemulator -Iconsole -Ipackage -Igrammar -Icodegen -I$BUILD/gen
     -Itests/unit"
INC="$INC -Itesting -I$BUILD/gen/testing"
CURL_INC=$(bash .ci/deps.sh --curl-dir)/include
declare -A reads
for src in $(grep '\.c$' "$T.files"); do
  case "$src" in tests/fuzz/*|tests/fault/*|tests/diag/*|bench/*|examples/*|tests/golden/*|tests/e2e/*|tests/deploy/*) continue ;; esac
  case "$src" in
    tests/unit/*) out="$BUILD/tests/$(basename "${src%.c}")" ;;
    lambda/bootstrap.c) out="$BUILD/lambda_bootstrap" ;;
    *) out="$BUILD/obj/${src%.c}.o" ;;
  esac
  deps=$(cc -std=c11 -D_GNU_SOURCE -MM -MT x $INC -I"$CURL_INC" "$src" 2>/dev/null | tr -d '\\\n' | sed 's/^x: *//')
  reads[$out]=$deps
done

# The generated scanner and parser read grammar headers too, the console's assets its assets.h.
for g in parser lexer console_assets; do
  reads[$BUILD/obj/gen/$g.o]=$(cc -std=c11 -D_GNU_SOURCE -MM -MT x $INC "$BUILD/gen/$g.c" 2>/dev/null | tr -d '\\\n' | sed 's/^x: *//')
done
# ... and the test-file language's (testing/) its own.
for g in tparser tlexer; do
  reads[$BUILD/obj/gen/testing/$g.o]=$(cc -std=c11 -D_GNU_SOURCE -MM -MT x $INC "$BUILD/gen/testing/$g.c" 2>/dev/null |
                                       tr -d '\\\n' | sed 's/^x: *//')
done

headers=$(grep -E '\.(h|def)$' "$T.files" | grep -v -E '^(tests/(fault|fuzz|golden|e2e|deploy)|bench|examples)/')
bad=0 checked=0
for h in $headers; do
  expect=()
  for out in "${!reads[@]}"; do
    for d in ${reads[$out]}; do
      [ "$d" = "$h" ] && { expect+=("$out"); break; }
    done
  done
  [ ${#expect[@]} -eq 0 ] && continue
  checked=$((checked + 1))
  touch "$h"
  plan=$("${MK[@]}" -n all unit 2>&1)
  touch -d "$PAST" "$h"
  miss=()
  for out in "${expect[@]}"; do
    grep -q -- "-o $out\( \|$\)" <<<"$plan" || miss+=("$out")
  done
  # Nothing that does not read the header is recompiled (archives and programs relink).
  extra=$(grep -o -- "-c -o [^ ]*" <<<"$plan" | sed 's/^-c -o //' | while read -r o; do
    printf '%s\n' "${expect[@]}" | grep -qx -- "$o" || echo "$o"; done)
  if [ ${#miss[@]} -gt 0 ] || [ -n "$extra" ]; then
    bad=$((bad + 1))
    fail "touch_${h//\//_}" "missing: ${miss[*]:-none}; recompiled without reading it: ${extra:-none}"
  fi
done
[ $bad -eq 0 ] && pass "touch_every_header ($checked headers, each rebuilds exactly what reads it)"

# The Lambda main is what `dwf build` links: a header it reads must refresh the copy beside
# libdwf.a too, or a zip would carry a main compiled against an old layout.
touch include/dwf.h
plan=$("${MK[@]}" -n all 2>&1)
touch -d "$PAST" include/dwf.h
if grep -q -- "-o $BUILD/obj/lambda/lambda_main.o" <<<"$plan" && grep -q "$BUILD/lambda_main.o" <<<"$plan"; then
  pass touch_dwf_h_refreshes_lambda_main
else fail touch_dwf_h_refreshes_lambda_main "make -n after touching include/dwf.h does not rebuild and copy lambda_main.o"; fi

# Under -j2, one bison run and one flex run make their pairs of files (grouped targets), and
# a new grammar does not regenerate the scanner.
touch grammar/parser.y grammar/lexer.l
gen=$("${MK[@]}" -j2 "$BUILD/gen/parser.c" "$BUILD/gen/parser.h" "$BUILD/gen/lexer.c" "$BUILD/gen/lexer.h" 2>&1)
nb=$(grep -c '^bison ' <<<"$gen"); nf=$(grep -c '^flex ' <<<"$gen")
if [ "$nb" = 1 ] && [ "$nf" = 1 ]; then pass grammar_generated_once_under_j2
else fail grammar_generated_once_under_j2 "bison ran $nb times, flex $nf times"; fi
touch grammar/parser.y
gen=$("${MK[@]}" -j2 "$BUILD/gen/parser.c" "$BUILD/gen/lexer.c" 2>&1)
if grep -q '^bison ' <<<"$gen" && ! grep -q '^flex ' <<<"$gen"; then pass new_grammar_keeps_scanner
else fail new_grammar_keeps_scanner "after touching parser.y: $(tr '\n' ' ' <<<"$gen")"; fi
exit 0
