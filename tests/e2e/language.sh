#!/usr/bin/env bash
# End-to-end tests of language constructs on the embedded engine: loops (while, break,
# continue, in durable code and step bodies, across try), log in durable code (once per
# execution however many invocations replay it), errors by type (typed catch along the cause
# chain, deterministic errors not retried) and per-step timeouts. Each test runs a small
# workflow with `dwf run --skip-time` and asserts its result, its operation history (names and
# ids) and its log lines. Prints "PASS name" / "FAIL name: why" (run from tests/e2e/run.sh).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DWF=${DWF:-$ROOT/build/dwf}
T=$(mktemp -d /tmp/dwf-lang.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
# py EXPR FILE: evaluate a Python expression over the JSON in FILE (bound to `j`); prints it.
py() { python3 -c 'import json,sys,hashlib; j=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))' "$1" "$2"; }
md5id() { printf %s "$1" | md5sum | cut -c1-16; }
# run NAME FILE [args...]: run FILE to its end on a fresh store; $T/NAME.json, .err, .arn, .hist
run() {
  local name=$1 file=$2
  shift 2
  "$DWF" run "$file" --skip-time --json --store "$T/$name.db" "$@" >"$T/$name.json" 2>"$T/$name.err"
  local rc=$?
  py 'j["ExecutionArn"]' "$T/$name.json" >"$T/$name.arn" 2>/dev/null
  "$DWF" history "$(cat "$T/$name.arn")" --json --store "$T/$name.db" >"$T/$name.hist" 2>/dev/null
  return $rc
}
# ops NAME: "Name@Id" of every operation but the EXECUTION, in order
ops() { py '" ".join("%s@%s" % (o.get("Name", "-"), o["Id"]) for o in j["Operations"] if o["Type"] != "EXECUTION")' "$T/$1.hist"; }

if [ ! -x "$DWF" ]; then fail lang_dwf "no $DWF (build first)"; exit 0; fi

# ---- loops: while / break / continue in durable code, across try, and in a step body ----
cat >loops.dwf <<'EOF'
workflow loops {
  let n = 0
  let seen = []
  log info "start"
  while true {
    n = n + 1
    log info "iteration ${n}"
    if n == 2 { continue }
    step s "visit-${n}" { return n * 10 }
    seen = seen + [s]
    try {
      if n >= 4 { break }
    } catch err { }
    wait "pause-${n}" 1s
  }
  for x in [1, 2, 3] {
    try { if x == 2 { continue } } catch { }
    seen = seen + [x]
  }
  step t "in-step" {
    let i = 0
    let acc = []
    while i < 10 {
      i = i + 1
      if i % 2 == 0 { continue }
      if i > 7 { break }
      acc = acc + [i]
    }
    return acc
  }
  return { n, seen, t }
}
EOF
run loops loops.dwf; rc=$?
got=$(py 'json.dumps(j["Result"], separators=(",", ":"))' loops.json 2>&1)
if [ $rc -eq 0 ] && [ "$got" = '{"n":4,"seen":[10,30,40,1,3],"t":[1,3,5,7]}' ]; then pass lang_while_break_continue
else fail lang_while_break_continue "rc=$rc result $got"; fi
want="visit-1@$(md5id 1) pause-1@$(md5id 2) visit-3@$(md5id 3) pause-3@$(md5id 4) visit-4@$(md5id 5) in-step@$(md5id 6)"
got=$(ops loops)
if [ "$got" = "$want" ]; then pass lang_loop_ids_unroll
else fail lang_loop_ids_unroll "got '$got', want '$want'"; fi

# ---- log in durable code: each line once per execution, though 3 invocations replay it ----
"$DWF" run loops.dwf --skip-time --store "$T/loglines.db" >"$T/ll.out" 2>"$T/ll.err"; rc=$?
msgs=$(grep -o '"message":"[^"]*"' "$T/ll.err" | tr '\n' ' ')
invs=$(grep -c '"requestId"' "$T/ll.err")
reqs=$(grep -o '"requestId":"[^"]*"' "$T/ll.err" | sort -u | wc -l)
want='"message":"start" "message":"iteration 1" "message":"iteration 2" "message":"iteration 3" "message":"iteration 4" '
if [ $rc -eq 0 ] && [ "$msgs" = "$want" ] && [ "$invs" -eq 5 ] && [ "$reqs" -ge 3 ]; then
  pass "lang_log_durable_once_per_execution ($reqs invocations)"
else fail lang_log_durable_once_per_execution "rc=$rc lines '$msgs' ($invs lines, $reqs invocations)"; fi
if grep -q '"location":"loops.dwf:7"' "$T/ll.err" && ! grep '"message":"iteration' "$T/ll.err" | grep -q '"operationId"'; then
  pass lang_log_durable_shape
else fail lang_log_durable_shape "$(head -c 400 "$T/ll.err")"; fi
