#!/usr/bin/env bash
# Bounded, checked inputs (cli/engine_common.c, util/input.c): every payload the CLI reads
# (--input, callback --result / --error, stop --error; text, @file, @- for stdin) stops at its
# limit with a named error naming that limit, in bounded memory, before any store is opened;
# JSON input with a NUL byte or invalid UTF-8 is an error naming the byte offset, a number beyond
# a double's range (1e999999) is an error instead of a silent null; ErrorObjects have string
# fields. Memory is measured with /usr/bin/time as an upper bound far above a normal run
# (never a timing). Prints "PASS name" / "FAIL name: why" lines.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DWF=${DWF:-$ROOT/build/dwf}
EX=$ROOT/examples
T=$(mktemp -d /tmp/dwf-cli-in.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

if [ ! -x "$DWF" ]; then fail cli_in_dwf "no $DWF (build first)"; exit 0; fi
printf 'workflow echo {\n  return { got: input }\n}\n' >echo.dwf

# A sanitizer build keeps far more memory (shadow, quarantine): the bound scales with it.
RSS_MAX_KB=200000
[ -n "${SANITIZE:-}" ] && RSS_MAX_KB=1500000

# rejected NAME WANT [STDIN] -- ARGS...: `dwf ARGS` (stdin from STDIN, default /dev/null) exits 1
# with WANT in stderr, creates no store, and its peak RSS stays under RSS_MAX_KB. The timeout
# only keeps an unbounded read from hanging the suite; it is not what is tested.
rejected() {
  local name=$1 want=$2 in=/dev/null
  shift 2
  if [ "$1" != -- ]; then in=$1; shift; fi
  shift
  rm -f s.db
  timeout 120 /usr/bin/time -f '%M' -o rss "$DWF" "$@" --store s.db <"$in" >out 2>err; local rc=$?
  local rss
  rss=$(tail -1 rss 2>/dev/null)
  if [ $rc -ne 1 ]; then fail "$name" "exit $rc, want 1: $(head -c 300 err)"
  elif ! grep -qF -- "$want" err; then fail "$name" "stderr lacks '$want': $(head -c 300 err)"
  elif [ -e s.db ]; then fail "$name" "the store was created"
  elif ! [ "$rss" -lt "$RSS_MAX_KB" ] 2>/dev/null; then fail "$name" "peak RSS ${rss} KB (bound $RSS_MAX_KB KB)"
  else pass "$name"; fi
}

if ! [ -x /usr/bin/time ]; then fail cli_in_time "no /usr/bin/time (make deps installs it)"; exit 0; fi

# ---- limits ---------------------------------------------------------------------------------
rejected cli_in_input_dev_zero \
  "dwf run: InvalidParameterValueException: --input @/dev/zero is larger than 6291456 bytes, the limit of an execution input (DWF_LIMIT_SYNC_PAYLOAD)" \
  -- run echo.dwf --input @/dev/zero
rejected cli_in_input_stdin "--input @- is larger than 6291456 bytes" /dev/zero -- run echo.dwf --input @-
rejected cli_in_result_dev_zero \
  "dwf callback: InvalidParameterValueException: --result @/dev/zero is larger than 262144 bytes, the limit of a callback result (DWF_LIMIT_OPERATION_PAYLOAD)" \
  -- callback succeed some-id --result @/dev/zero
rejected cli_in_error_dev_zero "--error @/dev/zero is larger than 32768 bytes, the limit of an error object (DWF_LIMIT_ERROR_JSON)" \
  -- callback fail some-id --error @/dev/zero
rejected cli_in_stop_error_dev_zero "(DWF_LIMIT_ERROR_JSON)" -- stop some-arn --error @/dev/zero
# Exactly at the limit is still read (and then judged as JSON): one byte over is not.
head -c 262144 /dev/zero | tr '\0' 'x' >at_limit
head -c 262145 /dev/zero | tr '\0' 'x' >over_limit
rejected cli_in_result_over_by_one "--result @over_limit is larger than 262144 bytes" -- callback succeed some-id --result @over_limit
"$DWF" callback succeed some-id --result @at_limit --store s.db >out 2>err
if grep -q "larger than" err; then fail cli_in_result_at_limit "$(head -c 200 err)"
elif grep -q "InvalidParameterValueException: .*callback id\|ResourceNotFound\|Invalid" err; then pass cli_in_result_at_limit
else fail cli_in_result_at_limit "$(head -c 200 err)"; fi
rm -f s.db

# ---- JSON held to what JSON is ----------------------------------------------------------------
rejected cli_in_huge_number \
  "dwf run: --input is not valid JSON: the number at byte offset 5 ('1e999999') is beyond the range of a double" \
  -- run echo.dwf --input '{"a":1e999999}'
rejected cli_in_huge_negative "the number at byte offset 7 ('-1E+400')" -- run echo.dwf --input '[1, 2, -1E+400]'
printf '{"a":"x"}\0{"b":1}' >nul.json
rejected cli_in_nul "dwf run: --input is not valid JSON: a NUL byte at byte offset 9" -- run echo.dwf --input @nul.json
printf '{"a":"x\xffy"}' >ff.json
rejected cli_in_invalid_utf8 "dwf run: --input is not valid JSON: invalid UTF-8 at byte offset 7" -- run echo.dwf --input @ff.json
printf '["\xc0\xaf"]' >overlong.json
rejected cli_in_overlong_utf8 "invalid UTF-8 at byte offset 2" -- run echo.dwf --input @overlong.json
printf '["ok", "\xed\xa0\x80"]' >surrogate.json
rejected cli_in_surrogate_utf8 "invalid UTF-8 at byte offset 8" -- run echo.dwf --input @surrogate.json
printf '{"a":"\xe2\x82"}' >truncated.json
rejected cli_in_truncated_utf8 "invalid UTF-8 at byte offset 6" -- run echo.dwf --input @truncated.json
printf '{"a":"x"}\0' | cat >nul_stdin
rejected cli_in_nul_stdin "a NUL byte at byte offset 9" nul_stdin -- run echo.dwf --input @-

# What is valid goes through unchanged: UTF-8 beyond ASCII, escapes, tiny and large numbers.
printf '{"s":"h\xc3\xa9llo \xf0\x9f\x98\x80","e":"\\u00e9","n":[1e308,-0.5,1e-400]}' >good.json
"$DWF" run echo.dwf --input @good.json --json --store s.db >out 2>err; rc=$?
if [ $rc -eq 0 ] && python3 -c '
import json,sys
r=json.load(open("out"))["Result"]["got"]
assert r["s"]=="h\u00e9llo \U0001F600", r
assert r["e"]=="\u00e9" and r["n"]==[1e308,-0.5,0], r' 2>err2; then pass cli_in_valid_passes
else fail cli_in_valid_passes "rc=$rc $(head -c 300 err err2 out)"; fi
rm -f s.db

# ---- ErrorObjects: the API's types ------------------------------------------------------------
rejected cli_in_error_type_number "dwf callback: --error: ErrorType must be a string" -- \
  callback fail some-id --error '{"ErrorType":5,"ErrorMessage":"m"}'
rejected cli_in_error_message_object "dwf callback: --error: ErrorMessage must be a string" -- \
  callback fail some-id --error '{"ErrorType":"T","ErrorMessage":{"a":1}}'
rejected cli_in_error_stack "dwf callback: --error: StackTrace must be a list of strings" -- \
  callback fail some-id --error '{"ErrorType":"T","StackTrace":[1]}'
rejected cli_in_error_not_object "dwf callback: --error must be an ErrorObject" -- callback fail some-id --error '"boom"'
rejected cli_in_stop_error_type "dwf stop: --error: ErrorType must be a string" -- stop some-arn --error '{"ErrorType":null}'

# A real callback: a bad fail changes nothing, a good one is applied.
S=$T/cb.db
"$DWF" run "$EX/approval.dwf" --skip-time --detach --quiet --store "$S" >run.out 2>&1
id=$(sed -n 's/^waiting for callback .*: //p' run.out | head -1)
if [ -z "$id" ]; then fail cli_in_callback_setup "no callback id: $(head -c 300 run.out)"
else
  before=$("$DWF" history "$(sed -n 's/^started //p' run.out)" --json --store "$S")
  "$DWF" callback fail "$id" --error '{"ErrorType":["x"]}' --store "$S" >out 2>err; rc=$?
  after=$("$DWF" history "$(sed -n 's/^started //p' run.out)" --json --store "$S")
  if [ $rc -eq 1 ] && [ "$before" = "$after" ] && grep -q "ErrorType must be a string" err; then pass cli_in_bad_fail_changes_nothing
  else fail cli_in_bad_fail_changes_nothing "rc=$rc $(head -c 300 err)"; fi
  "$DWF" callback fail "$id" --error '{"ErrorType":"Rejected","ErrorMessage":"no"}' --store "$S" >out 2>err; rc=$?
  if [ $rc -eq 0 ] && grep -q 'callback fail: ok' out; then pass cli_in_good_fail
  else fail cli_in_good_fail "rc=$rc $(head -c 300 err)"; fi
fi
exit 0
