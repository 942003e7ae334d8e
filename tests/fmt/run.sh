#!/usr/bin/env bash
# dwf fmt: the canonical layout (grammar/format.c, cli/fmt.c).
#   - messy.dwf, which breaks every layout rule, formats to exactly messy.expected;
#   - every example and golden input: formatting is stable (fmt of fmt's output changes
#     nothing), keeps every comment in order, leaves no tab or trailing blank, and the formatted
#     file compiles to the same C (`dwf compile`'s handler.c, source positions and the source
#     hash aside: only whitespace moved);
#   - --check lists the files that would change and exits 1 (0 when none would); in-place
#     rewriting keeps the file's mode; a file with errors is reported and left untouched.
#   tests/fmt/run.sh --update   rewrite messy.expected (review the diff!)
set -u
cd "$(dirname "$0")/../.." || exit 1
DWF=${DWF:-$PWD/${BUILD:-build}/dwf}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass() { echo "PASS fmt_$1"; }
fail() { echo "FAIL fmt_$1: $2"; }

if [ "${1:-}" = --update ]; then "$DWF" fmt --stdout tests/fmt/messy.dwf >tests/fmt/messy.expected; fi
if ! "$DWF" fmt --stdout tests/fmt/messy.dwf >"$tmp/messy.out" 2>"$tmp/err"; then
  fail messy "dwf fmt failed: $(head -c 300 "$tmp/err")"
elif cmp -s tests/fmt/messy.expected "$tmp/messy.out"; then pass messy
else fail messy "differs from messy.expected: $(diff tests/fmt/messy.expected "$tmp/messy.out" | head -10 | tr '\n' '|')"
fi

# The C, without what depends on where things sit in the .dwf: #line directives, DWF_AT's
# line and column, ", line N" in comments, the source hash.
normalized_c() {
  sed -E -e '/^#line /d' -e 's/DWF_AT\(c, [0-9]+, [0-9]+\)/DWF_AT(c)/g' -e 's/, line [0-9]+/, line N/g' \
         -e 's/(\.source_hash = )"[0-9a-f]+"/\1"H"/' "$1"
}

for src in examples/*.dwf tests/golden/*.dwf; do
  case "$src" in *.test.dwf) continue ;; esac  # test files (dwf test), not workflows
  name=$(basename "$(dirname "$src")")_$(basename "$src" .dwf)
  dir=$tmp/$name
  mkdir -p "$dir/orig" "$dir/fmt"
  # the `use`d C files sit beside the .dwf
  for c in "$(dirname "$src")"/*.c; do [ -e "$c" ] && cp "$c" "$dir/fmt/" && cp "$c" "$dir/orig/"; done
  cp "$src" "$dir/orig/"
  f1=$dir/fmt/$(basename "$src")
  if ! "$DWF" fmt --stdout "$src" >"$f1" 2>"$dir/err"; then
    fail "$name" "dwf fmt failed: $(head -c 300 "$dir/err")"; continue
  fi
  "$DWF" fmt --stdout "$f1" >"$dir/f2" 2>/dev/null
  if ! cmp -s "$f1" "$dir/f2"; then fail "$name/stable" "fmt twice differs: $(diff "$f1" "$dir/f2" | head -6 | tr '\n' '|')"
  else pass "$name/stable"; fi
  if grep -qP '\t| $' "$f1"; then fail "$name/blanks" "tab or trailing blank: $(grep -nP '\t| $' "$f1" | head -3)"
  else pass "$name/blanks"; fi
  if python3 tests/fmt/comments.py "$src" "$f1"; then pass "$name/comments"
  else fail "$name/comments" "comments lost or reordered"; fi
  args=()
  [ -f "${src%.dwf}.args" ] && read -r -a args <"${src%.dwf}.args"
  # both compiled from the same relative path, which the C quotes
  if (cd "$dir/orig" && "$DWF" compile "$(basename "$src")" -o out "${args[@]}" >/dev/null 2>&1) &&
     (cd "$dir/fmt" && "$DWF" compile "$(basename "$src")" -o out "${args[@]}" >/dev/null 2>&1); then
    if diff <(normalized_c "$dir/orig/out/handler.c") <(normalized_c "$dir/fmt/out/handler.c") >"$dir/cdiff"; then
      pass "$name/same_c"
    else fail "$name/same_c" "handler.c differs: $(head -8 "$dir/cdiff" | tr '\n' '|')"; fi
  else fail "$name/same_c" "dwf compile failed"; fi
done

# --check: lists what would change, exit 1; nothing to change, exit 0
cp tests/fmt/messy.dwf "$tmp/m.dwf"; cp tests/fmt/messy.expected "$tmp/ok.dwf"
out=$("$DWF" fmt --check "$tmp/ok.dwf" "$tmp/m.dwf"); rc=$?
if [ $rc -eq 1 ] && [ "$out" = "$tmp/m.dwf" ] && cmp -s tests/fmt/messy.dwf "$tmp/m.dwf"; then pass check_changes
else fail check_changes "exit $rc, output '$out' (want 1 and only m.dwf listed, m.dwf untouched)"; fi
out=$("$DWF" fmt --check "$tmp/ok.dwf"); rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ]; then pass check_clean; else fail check_clean "exit $rc, output '$out'"; fi

# in place: the file becomes messy.expected and keeps its mode
chmod 640 "$tmp/m.dwf"
if "$DWF" fmt "$tmp/m.dwf" && cmp -s "$tmp/m.dwf" tests/fmt/messy.expected && [ "$(stat -c %a "$tmp/m.dwf")" = 640 ] &&
   [ -z "$(find "$tmp" -maxdepth 1 -name 'm.dwf.fmt-*')" ]; then pass in_place
else fail in_place "not rewritten as messy.expected with mode 640"; fi

# stdin to stdout
if "$DWF" fmt - <tests/fmt/messy.dwf | cmp -s - tests/fmt/messy.expected; then pass stdin
else fail stdin "fmt - differs from messy.expected"; fi

# lambdas round-trip: every form (x =>, (x) =>, (x, i) =>, nested, object and ternary bodies,
# broken across lines) formats to lambdas.expected, which formats to itself, compiles to the
# same C as the original and runs to the values the lambdas compute
if [ "${1:-}" = --update ]; then "$DWF" fmt --stdout tests/fmt/lambdas.dwf >tests/fmt/lambdas.expected; fi
mkdir -p "$tmp/lam/orig" "$tmp/lam/fmt"
cp tests/fmt/lambdas.dwf "$tmp/lam/orig/lambdas.dwf"; cp tests/fmt/lambdas.expected "$tmp/lam/fmt/lambdas.dwf"
if ! "$DWF" fmt --stdout tests/fmt/lambdas.dwf >"$tmp/lam.out" 2>"$tmp/lam.err"; then
  fail lambdas "dwf fmt failed: $(head -c 300 "$tmp/lam.err")"
elif ! cmp -s tests/fmt/lambdas.expected "$tmp/lam.out"; then
  fail lambdas "differs from lambdas.expected: $(diff tests/fmt/lambdas.expected "$tmp/lam.out" |
                                                 head -6 | tr '\n' '|')"
elif ! "$DWF" fmt --check tests/fmt/lambdas.expected >/dev/null; then fail lambdas "lambdas.expected is not stable"
elif ! (cd "$tmp/lam/orig" && "$DWF" compile lambdas.dwf -o out >/dev/null 2>&1) ||
     ! (cd "$tmp/lam/fmt" && "$DWF" compile lambdas.dwf -o out >/dev/null 2>&1); then fail lambdas "dwf compile failed"
elif ! diff <(normalized_c "$tmp/lam/orig/out/handler.c") <(normalized_c "$tmp/lam/fmt/out/handler.c") >/dev/null; then
  fail lambdas "the formatted file compiles to different C"
else pass lambdas; fi
got=$(cd "$tmp/lam/fmt" && "$DWF" run lambdas.dwf --skip-time --json --store "$tmp/lam.db" 2>/dev/null |
      python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["Result"], separators=(",", ":")))')
want='{"doubled":[6,2,4],"indexed":[3,2,4],"parens":[3,2],"objects":[{"v":3,"sq":9},{"v":1,"sq":1},{"v":2,"sq":4}],'
want+='"nested":[[2,-4],[0,-2],[1,-3]],"sorted":[3,2,1],"found":2,"pairs":[[3,0],[1,1],[2,2]],"none":true,'
want+='"lines":["1: 3","2: 2","3: 1"],"text":["3","1","2"]}'
if [ "$got" = "$want" ]; then pass lambdas_run; else fail lambdas_run "got $got"; fi

# `timeout = 30s` on its own line in lambda {} or durable {} is a setting at the block's level;
# a `timeout` clause continuing a step's http call on the next line hangs two levels deep
cat >"$tmp/to.dwf" <<'DWF'
workflow timeouts {
durable {
retention = 1d
timeout = 1h
}
lambda {
memory = 256
timeout = 30s
}
step s {
let r = http GET "https://example.com"
timeout 10s
return r.status
}
return s
}
DWF
cat >"$tmp/to.want" <<'DWF'
workflow timeouts {
  durable {
    retention = 1d
    timeout = 1h
  }
  lambda {
    memory = 256
    timeout = 30s
  }
  step s {
    let r = http GET "https://example.com"
        timeout 10s
    return r.status
  }
  return s
}
DWF
if "$DWF" fmt --stdout "$tmp/to.dwf" >"$tmp/to.out" 2>"$tmp/to.err" && cmp -s "$tmp/to.want" "$tmp/to.out"; then
  pass timeout_setting_vs_clause
else fail timeout_setting_vs_clause "$(cat "$tmp/to.err") $(diff "$tmp/to.want" "$tmp/to.out" | tr '\n' '|')"; fi

# every example is in the canonical layout (`dwf fmt --check` clean). Test files (*.test.dwf)
# are left out: they are not workflows.
mapfile -t examples < <(find examples -name '*.dwf' ! -name '*.test.dwf' | sort)
out=$("$DWF" fmt --check "${examples[@]}" 2>&1); rc=$?
if [ $rc -eq 0 ] && [ -z "$out" ] && [ ${#examples[@]} -gt 0 ]; then pass examples_canonical
else fail examples_canonical "dwf fmt --check exit $rc: $(echo "$out" | tr '\n' ' ')(run dwf fmt on them)"; fi

# a file with errors: reported as dwf check does, left as it is
cp tests/diag/unknown_name.dwf "$tmp/bad.dwf"
"$DWF" fmt --color=never "$tmp/bad.dwf" 2>"$tmp/bad.err"; rc=$?
if [ $rc -eq 1 ] && grep -q "error: unknown name 'paymnt'" "$tmp/bad.err" && cmp -s tests/diag/unknown_name.dwf "$tmp/bad.dwf"
then pass errors; else fail errors "exit $rc: $(head -c 300 "$tmp/bad.err")"; fi
"$DWF" fmt 2>"$tmp/usage.err"; rc=$?
if [ $rc -eq 2 ] && grep -q "no input files" "$tmp/usage.err"; then pass usage; else fail usage "exit $rc"; fi
