#!/usr/bin/env bash
# tests/memcheck: dwf's long-lived and threaded programs under valgrind's memcheck, driven the way
# a user drives them. Not in `make check`'s default suites; CI runs it (under valgrind it takes
# about a minute and a half on 2 cores); run by hand: SUITES=memcheck make VALGRIND=1 check (see
# tests/README.md). Without VALGRIND the same scenario runs on the plain binary (a quick check
# that the script itself works).
#
#   memcheck_run_<example>   `dwf run` of every example (--skip-time), each callback it waits on
#                            answered with `dwf callback succeed` from outside: exit 0 and
#                            SUCCEEDED (or exit 1 and FAILED for the examples that call web
#                            services, which fail offline), no memcheck error and no definite leak
#                            (valgrind exits 99 on either)
#   memcheck_serve_*         one `dwf serve` under valgrind, driven over HTTP: concurrent
#                            RequestResponse invocations (the emulator's threads), an Event
#                            invocation completed by a callback, the control plane (CreateFunction
#                            with a zip, GetFunction, ListFunctions, DeleteFunction), the console
#                            (list, execution page, the event stream); then SIGTERM: serve exits 0
#                            and valgrind found nothing
# Prints "PASS name" / "FAIL name: why" lines (tests/run.sh counts them).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
BUILD=${BUILD:-build}
DWF=${DWF:-$ROOT/$BUILD/dwf}
EX=$ROOT/examples
T=$(mktemp -d /tmp/dwf-memcheck.XXXXXX)
SERVE_PID=
cleanup() {
  [ -n "$SERVE_PID" ] && kill -TERM "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
  kill $(jobs -p) 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

# vg LOG: the valgrind command line writing its report to LOG (exit 99 on an error or a definite leak)
vg() {
  if [ -n "${DWF_VALGRIND:-}" ]; then
    echo valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
      --suppressions="$ROOT/tests/valgrind.supp" --log-file="$1"
  fi
}
# vg_report LOG: the first lines of a valgrind report, if it holds one
vg_report() { [ -s "$1" ] && head -c 600 "$1"; }

if [ ! -x "$DWF" ]; then fail memcheck "no $DWF (build first)"; exit 0; fi
cd "$T"

# ---- dwf run on each example ----------------------------------------------------------------------
# answer_callbacks STORE PID: while PID runs, answer every callback waiting in STORE.
answer_callbacks() {
  local store=$1 pid=$2 id
  while kill -0 "$pid" 2>/dev/null; do
    for id in $("$DWF" callbacks --json --store "$store" 2>/dev/null | python3 -c '
import json, sys
try: print(" ".join(c["CallbackId"] for c in json.load(sys.stdin)["Callbacks"]))
except Exception: pass'); do
      "$DWF" callback succeed "$id" --result '{"approved":true,"approver":"memcheck"}' --store "$store" >/dev/null 2>&1
    done
    sleep 0.5
  done
}
for f in "$EX"/*.dwf; do
  case "$f" in *.test.dwf) continue ;; esac # a `dwf test` file, not a workflow
  ex=$(basename "$f" .dwf)
  S=$T/run-$ex.db
  # shellcheck disable=SC2046
  $(vg "$T/vg-run-$ex.log") "$DWF" run "$f" --skip-time --quiet --json --store "$S" \
    >"$T/run-$ex.json" 2>"$T/run-$ex.err" &
  pid=$!
  answer_callbacks "$S" "$pid"
  wait "$pid"; rc=$?
  # Examples that call web services (enrich, shipping, travel_saga) end FAILED offline: exit 1
  # with the execution's error, a path as worth checking as success.
  st=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("Status"))' "$T/run-$ex.json" 2>/dev/null)
  if { { [ $rc -eq 0 ] && [ "$st" = SUCCEEDED ]; } || { [ $rc -eq 1 ] && [ "$st" = FAILED ]; }; } \
     && [ -z "$(vg_report "$T/vg-run-$ex.log")" ]
  then pass "memcheck_run_$ex ($st)"
  else fail "memcheck_run_$ex" "rc=$rc $(vg_report "$T/vg-run-$ex.log") $(tail -c 300 "$T/run-$ex.err")"; fi
done

# ---- dwf serve, driven ------------------------------------------------------------------------------
mkdir -p "$T/zips"
for ex in order approval; do
  if ! "$DWF" build "$EX/$ex.dwf" -o "$T/zips/$ex/function.zip" >"$T/build-$ex.log" 2>&1; then
    fail memcheck_serve "dwf build $ex: $(tail -c 300 "$T/build-$ex.log")"; exit 0
  fi
done
# shellcheck disable=SC2046
$(vg "$T/vg-serve.log") "$DWF" serve --port 0 --skip-time --quiet --store "$T/serve.db" \
  "$T/zips/order/function.zip" "$T/zips/approval/function.zip" >"$T/serve.out" 2>"$T/serve.err" &
SERVE_PID=$!
PORT=
for _ in $(seq 1800); do # 180 s: a bound only a hung serve reaches (valgrind starts slowly)
  PORT=$(sed -n 's|^dwf serve: listening on http://127.0.0.1:\([0-9]*\) .*|\1|p' "$T/serve.out" 2>/dev/null)
  [ -n "$PORT" ] && break
  kill -0 "$SERVE_PID" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$PORT" ]; then
  fail memcheck_serve "serve did not start: $(tail -c 400 "$T/serve.err") $(vg_report "$T/vg-serve.log")"; exit 0
fi

# The whole scenario in one Python program (the standard library's HTTP client): each step prints
# PASS/FAIL lines of its own.
python3 - "http://127.0.0.1:$PORT" "$T/zips/order/function.zip" >"$T/drive.out" 2>&1 <<'EOF'
import base64, json, sys, threading, time, urllib.error, urllib.parse, urllib.request
base, zip_path = sys.argv[1], sys.argv[2]

def call(method, path, body=None, headers=None, timeout=600):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)

def check(name, cond, why):
    print(("PASS %s" % name) if cond else ("FAIL %s: %s" % (name, why)), flush=True)

def invoke(fn, payload, kind="RequestResponse"):
    return call("POST", "/2015-03-31/functions/%s:$LATEST/invocations" % fn, payload,
                {"X-Amz-Invocation-Type": kind})

# 1. eight RequestResponse invocations at once: the emulator's connection and runner threads
results = [None] * 8
def one(i):
    results[i] = invoke("durable-basic-test", {"orderId": "ORD-%d" % i})
threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
for t in threads: t.start()
for t in threads: t.join()
ok = all(r and r[0] == 200 and json.loads(r[1]).get("orderId") == "ORD-%d" % i for i, r in enumerate(results))
check("memcheck_serve_concurrent_invokes", ok, [r and (r[0], r[1][:200]) for r in results])

# 2. an Event invocation waiting on a callback, answered through the durable API
st, body, h = invoke("durable-callback-test", {"orderId": "ORD-CB"}, "Event")
arn = h.get("X-Amz-Durable-Execution-Arn") or h.get("x-amz-durable-execution-arn")
qarn = urllib.parse.quote(arn or "", safe="")
cid = None
for _ in range(1800):
    s, b, _h = call("GET", "/2025-12-01/durable-executions/%s/history" % qarn)
    if s == 200:
        for e in json.loads(b).get("Events", []):
            d = e.get("CallbackStartedDetails")
            if d and d.get("CallbackId"): cid = d["CallbackId"]
    if cid: break
    time.sleep(0.1)
s2 = None
if cid:
    s2, _b, _h = call("POST", "/2025-12-01/durable-execution-callbacks/%s/succeed" % urllib.parse.quote(cid, safe=""),
                      b'{"approved":true,"approver":"memcheck"}', {"Content-Type": "application/octet-stream"})
status = None
for _ in range(1800):
    s, b, _h = call("GET", "/2025-12-01/durable-executions/%s" % qarn)
    status = s == 200 and json.loads(b).get("Status")
    if status in ("SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"): break
    time.sleep(0.1)
check("memcheck_serve_callback", st == 202 and cid and s2 == 200 and status == "SUCCEEDED",
      "invoke %s arn %s callback %s answer %s status %s" % (st, arn, cid, s2, status))

# 3. the control plane: a function created from a zip, read, listed, invoked, deleted
trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                    "Principal": {"Service": "lambda.amazonaws.com"}}]})
rs, rb, _h = call("POST", "/", urllib.parse.urlencode({"Action": "CreateRole", "Version": "2010-05-08",
                  "RoleName": "memcheck", "AssumeRolePolicyDocument": trust}).encode(),
                  {"Content-Type": "application/x-www-form-urlencoded"})
zb = base64.b64encode(open(zip_path, "rb").read()).decode()
s, b, _h = call("POST", "/2015-03-31/functions", {
    "FunctionName": "memcheck-made", "Runtime": "provided.al2023", "Handler": "bootstrap",
    "Role": "arn:aws:iam::000000000000:role/memcheck", "Code": {"ZipFile": zb}, "Timeout": 30,
    "DurableConfig": {"ExecutionTimeout": 3600, "RetentionPeriodInDays": 1}})
created = s == 201
state = None
for _ in range(1800):
    g, gb, _h = call("GET", "/2015-03-31/functions/memcheck-made")
    state = g == 200 and json.loads(gb)["Configuration"].get("State")
    if state == "Active": break
    time.sleep(0.1)
l, lb, _h = call("GET", "/2015-03-31/functions")
listed = l == 200 and "memcheck-made" in [f["FunctionName"] for f in json.loads(lb)["Functions"]]
r = invoke("memcheck-made", {"orderId": "ORD-MADE"})
ran = r[0] == 200 and json.loads(r[1]).get("orderId") == "ORD-MADE"
d, _db, _h = call("DELETE", "/2015-03-31/functions/memcheck-made")
g2, _gb, _h = call("GET", "/2015-03-31/functions/memcheck-made")
check("memcheck_serve_control_plane",
      rs == 200 and created and state == "Active" and listed and ran and d == 204 and g2 == 404,
      "role %s create %s %s state %s listed %s invoke %s %s delete %s get after %s"
      % (rs, s, b[:200], state, listed, r[0], r[1][:200], d, g2))

# 4. the console: the list, an execution's page, its event stream
s, b, _h = call("GET", "/console/")
page = b.decode("utf-8", "replace")
s2, b2, _h = call("GET", "/console/execution?arn=" + qarn)
ev = b""
try:
    with urllib.request.urlopen(base + "/console/events?arn=" + qarn, timeout=600) as r:
        ev = r.read(4096)
except Exception as e:
    ev = repr(e).encode()
check("memcheck_serve_console", s == 200 and "durable-callback-test" in page and s2 == 200 and b"SUCCEEDED" in b2
      and b"event: end" in ev, "list %s exec %s events %r" % (s, s2, ev[:200]))
EOF
cat "$T/drive.out" | grep -E '^(PASS|FAIL) ' || fail memcheck_serve "the driver failed: $(tail -c 600 "$T/drive.out")"
kill -TERM "$SERVE_PID"
wait "$SERVE_PID"; rc=$?
SERVE_PID=
if [ $rc -eq 0 ] && [ -z "$(vg_report "$T/vg-serve.log")" ]; then pass memcheck_serve_clean_exit
else fail memcheck_serve_clean_exit "serve exit $rc $(vg_report "$T/vg-serve.log") $(tail -c 300 "$T/serve.err")"; fi
exit 0
