#!/usr/bin/env bash
# The command line's option parsing, shared by every command (cli/options.c): an unknown option
# or command names the nearest known one, a missing or unwanted value is a usage error (exit 2) that
# touches nothing, and the accepted spellings (--name=VALUE, -oDIR, options after arguments,
# unambiguous abbreviations, clusters of short flags, `--`) mean what the long form means.
# Prints "PASS name" / "FAIL name: why" lines (tests/run.sh counts them).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DWF=${DWF:-$ROOT/build/dwf}
EX=$ROOT/examples
T=$(mktemp -d /tmp/dwf-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

if [ ! -x "$DWF" ]; then fail cli_dwf "no $DWF (build first)"; exit 0; fi

# usage NAME WANT_STDERR NOT_IN_STDERR -- ARGS...: `dwf ARGS` exits 2, its stderr holds the
# lines WANT_STDERR one after the other and not NOT_IN_STDERR (unless empty), and it prints
# nothing on stdout and writes no file (no store, no output directory).
usage() {
  local name=$1 want=$2 unwanted=$3
  shift 4
  rm -rf "$T/s.db" "$T/out"
  "$DWF" "$@" >"$T/stdout" 2>"$T/stderr"; local rc=$?
  if [ $rc -ne 2 ]; then fail "$name" "exit $rc, want 2: $(head -c 300 "$T/stderr")"
  elif [[ $'\n'"$(cat "$T/stderr")"$'\n' != *$'\n'"$want"$'\n'* ]]; then
    fail "$name" "stderr is not '$want': $(head -c 300 "$T/stderr")"
  elif [ -n "$unwanted" ] && grep -qF -- "$unwanted" "$T/stderr"; then
    fail "$name" "stderr has '$unwanted': $(head -c 300 "$T/stderr")"
  elif [ -e "$T/s.db" ] || [ -e "$T/out" ]; then fail "$name" "a usage error wrote files"
  elif [ -s "$T/stdout" ]; then fail "$name" "a usage error printed to stdout: $(head -c 200 "$T/stdout")"
  else pass "$name"; fi
}

# ---- did you mean ----
usage cli_did_you_mean_input "dwf: unknown option '--inptu'
did you mean '--input'?
see 'dwf help run'" "" -- run "$EX/order.dwf" --inptu '{}' --store "$T/s.db"
usage cli_did_you_mean_with_value "dwf: unknown option '--stroe'
did you mean '--store'?" "" -- run "$EX/order.dwf" --stroe="$T/s.db"
usage cli_did_you_mean_one_dash "dwf: unknown option '-input'
did you mean '--input'?" "" -- run "$EX/order.dwf" -input '{}' --store "$T/s.db"
usage cli_did_you_mean_check "dwf: unknown option '--colour'
did you mean '--color'?" "" -- check --colour=never "$EX/order.dwf"
usage cli_did_you_mean_serve "dwf: unknown option '--prot'
did you mean '--port'?" "" -- serve --prot 9001 x.zip
usage cli_did_you_mean_help "dwf: unknown option '--hlep'
did you mean '--help'?" "" -- history --hlep
usage cli_no_near_option "dwf: unknown option '--frobnicate'" "did you mean" -- \
  run "$EX/order.dwf" --frobnicate --store "$T/s.db"
usage cli_unknown_short "dwf: unknown option '-z'
see 'dwf help build'" "did you mean" -- build "$EX/order.dwf" -z -o "$T/out/f.zip"

# ---- did you mean: commands ----
"$DWF" rn "$EX/order.dwf" >"$T/stdout" 2>"$T/stderr"; rc=$?
if [ $rc -eq 2 ] && [ ! -s "$T/stdout" ] && [ "$(head -2 "$T/stderr")" = "dwf: unknown command 'rn'
did you mean 'run'?" ]; then pass cli_did_you_mean_command
else fail cli_did_you_mean_command "rc=$rc $(head -c 300 "$T/stderr")"; fi
"$DWF" help exectuions >"$T/stdout" 2>"$T/stderr"; rc=$?
if [ $rc -eq 2 ] && grep -qx "did you mean 'executions'?" "$T/stderr"; then pass cli_did_you_mean_help_command
else fail cli_did_you_mean_help_command "rc=$rc $(head -c 300 "$T/stderr")"; fi
"$DWF" frobnicate >"$T/stdout" 2>"$T/stderr"; rc=$?
if [ $rc -eq 2 ] && grep -qx "dwf: unknown command 'frobnicate'" "$T/stderr" && ! grep -q "did you mean" "$T/stderr"; then
  pass cli_unknown_command_no_guess
else fail cli_unknown_command_no_guess "rc=$rc $(head -c 300 "$T/stderr")"; fi

# ---- values: missing, unwanted, ambiguous abbreviations, checked ----
usage cli_missing_value "dwf: --store needs a value" "" -- history some-arn --store
usage cli_missing_short_value "dwf: -o needs a value" "" -- compile "$EX/order.dwf" -o
usage cli_flag_with_value "dwf: --json takes no value" "" -- run "$EX/order.dwf" --json=yes --store "$T/s.db"
usage cli_ambiguous "dwf: option '--s' is ambiguous: '--store', '--skip-time'" "" -- \
  run "$EX/order.dwf" --s "$T/s.db"
usage cli_color_value "dwf: --color takes auto, always or never, not 'sometimes'" "" -- \
  check --color=sometimes "$EX/order.dwf"
usage cli_interval_value "dwf: --interval takes milliseconds >= 10" "" -- worker --interval=5 --store "$T/s.db"
usage cli_concurrency_value "dwf: --concurrency takes a number of executions from 1 to 256" "" -- \
  worker --concurrency 0 --store "$T/s.db"
usage cli_empty_zip "dwf: -o needs a non-empty value" "" -- build "$EX/order.dwf" -o ''
usage cli_extra_argument "dwf: unexpected argument 'x'" "" -- executions x --store "$T/s.db"
usage cli_callback_extra "dwf: unexpected argument 'c'" "" -- callback succeed id '{}' c --store "$T/s.db"
usage cli_two_workflows "dwf: one workflow at a time ('$EX/order.dwf' and '$EX/retry.dwf')" "" -- \
  run "$EX/order.dwf" "$EX/retry.dwf" --store "$T/s.db"

# ---- dwf serve: per-function options bind to the function given before them ----
mkdir -p "$T/fa" "$T/fb"
usage cli_serve_option_before_function \
  "dwf: --memory applies to the function given before it; give a function first" "" -- \
  serve --memory 256 --function "a=$T/fa"
usage cli_serve_second_function_option "dwf: --memory takes a whole number >= 128, not '64'" "" -- \
  serve --port 0 --function "a=$T/fa" --memory 256 --function "b=$T/fb" --memory 64
usage cli_serve_directory_needs_name \
  "dwf: --function $T/fa: a directory needs a name (--function NAME=DIR)" "" -- serve --function "$T/fa"

# ---- accepted spellings mean what the long form means ----
S=$T/eq.db
"$DWF" run "$EX/order.dwf" --input='{"orderId":"ORD-EQ"}' --skip-time --store="$S" --json \
  >"$T/eq.json" 2>"$T/eq.err"; rc=$?
if [ $rc -eq 0 ] && grep -q '"orderId":[[:space:]]*"ORD-EQ"' "$T/eq.json" && [ -f "$S" ]; then pass cli_equals_values
else fail cli_equals_values "rc=$rc $(head -c 300 "$T/eq.json" "$T/eq.err")"; fi

# Long options abbreviated while unambiguous (--stat: --status, --sto: --store).
"$DWF" executions --stat SUCCEEDED --sto "$S" >"$T/ex.out" 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q '^SUCCEEDED ' "$T/ex.out"; then pass cli_abbreviations
else fail cli_abbreviations "rc=$rc $(head -c 300 "$T/ex.out")"; fi

# -oDIR and -o DIR give the same files; options may come before or after the file.
"$DWF" compile -o"$T/c1" "$EX/order.dwf" >/dev/null 2>&1; r1=$?
"$DWF" compile "$EX/order.dwf" -o "$T/c2" >/dev/null 2>&1; r2=$?
if [ "$r1 $r2" = "0 0" ] && diff -r "$T/c1" "$T/c2" >/dev/null && [ -f "$T/c1/handler.c" ]; then
  pass cli_short_value_forms
else fail cli_short_value_forms "exit $r1 $r2 or the outputs differ"; fi

# A cluster of short flags (-qv: the last wins, so 'ok' is printed); `--` ends the options.
out=$("$DWF" check -qv "$EX/order.dwf" 2>&1); rc=$?
if [ $rc -eq 0 ] && [ "$out" = "$EX/order.dwf: ok" ]; then pass cli_short_cluster
else fail cli_short_cluster "rc=$rc '$out'"; fi
"$DWF" check --color=never -- --not-an-option.dwf >/dev/null 2>"$T/dd.err"; rc=$?
if [ $rc -eq 1 ] && grep -qF -- "--not-an-option.dwf: error: cannot open file" "$T/dd.err"; then pass cli_double_dash
else fail cli_double_dash "rc=$rc $(head -c 300 "$T/dd.err")"; fi

# --help anywhere prints the command's usage to stdout and exits 0.
out=$("$DWF" run "$EX/order.dwf" --input '{}' --help 2>/dev/null); rc=$?
if [ $rc -eq 0 ] && printf '%s\n' "$out" | head -1 | grep -q '^usage: dwf run '; then pass cli_help_anywhere
else fail cli_help_anywhere "rc=$rc $(printf '%s' "$out" | head -c 200)"; fi

# dwf iam: one file, usage errors as every command's; a workflow with errors prints no policy
# (exit 1); --region / --account reach the ARNs of the durable and the workflow statements.
usage cli_iam_no_file "dwf: no .dwf file given" "" -- iam
usage cli_iam_two_files "dwf: one workflow at a time ('$EX/order.dwf' and '$EX/retry.dwf')" "" -- \
  iam "$EX/order.dwf" "$EX/retry.dwf"
usage cli_iam_did_you_mean "dwf: unknown option '--explian'
did you mean '--explain'?" "" -- iam "$EX/order.dwf" --explian
printf 'workflow w {\n  step s { return aws dynamodb.GetItem { TableName: input.t, Key: {} } }\n  return s\n}\n' >"$T/nl.dwf"
"$DWF" iam "$T/nl.dwf" >"$T/stdout" 2>"$T/stderr"; rc=$?
if [ $rc -eq 1 ] && [ ! -s "$T/stdout" ] && grep -q 'TableName is not a literal' "$T/stderr"; then pass cli_iam_errors
else fail cli_iam_errors "rc=$rc $(head -c 300 "$T/stderr")"; fi
printf 'workflow w {\n  step s { return aws s3.GetObject { Bucket: "b", Key: "k" } }\n  return s\n}\n' >"$T/lit.dwf"
out=$("$DWF" iam "$T/lit.dwf" --region eu-west-1 --account 111122223333 2>&1); rc=$?
if [ $rc -eq 0 ] && printf '%s' "$out" | python3 -c '
import json, sys
p = json.load(sys.stdin)
res = [r for s in p["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]
assert "arn:aws:s3:::b/k" in res and "arn:aws:lambda:eu-west-1:111122223333:function:w:*" in res, res
assert not any("${" in r for r in res), res'; then pass cli_iam_region_account
else fail cli_iam_region_account "rc=$rc $(printf '%s' "$out" | head -c 300)"; fi

# The suite's other scripts: output safety, bounded inputs, the store's views.
for s in "$ROOT"/tests/cli/*.sh; do
  [ "$(basename "$s")" = run.sh ] || bash "$s"
done
exit 0
