#!/usr/bin/env bash
# tests/deploy/serve_examples.sh: the four seed examples, built with `dwf build`, run on
# `dwf serve` as on Lambda, driven over HTTP the way the AWS CLI / SDKs drive Lambda.
#
# order, retry and fanout are invoked synchronously (RequestResponse) with qualified names and
# must answer their results; approval is invoked asynchronously (Event, 202), its callback id is
# read from GetDurableExecutionHistory and completed with SendDurableExecutionCallbackSuccess,
# and GetDurableExecution must then show it SUCCEEDED with the callback's data. Around them:
# the Invoke API's errors (unqualified name, unknown function, execution-name idempotency),
# the REST API's shapes (epoch-second timestamps, history and state paging, listing by function,
# stop, a second callback completion), a process that dies mid-invocation being retried, and
# with keys SigV4 being enforced. --skip-time keeps the order's 10 s wait and retry's backoff
# from costing real time.
#
# Prints "PASS name" / "FAIL name: why"; $DWF = the dwf binary to test.
set -u
cd "$(dirname "$0")/../.."
. tests/deploy/serve_lib.sh

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

if ! command -v python3 >/dev/null; then fail serve_examples "python3 is not installed"; exit 0; fi
T=$(mktemp -d "${TMPDIR:-/tmp}/dwf-serve-ex.XXXXXX")
cleanup() { serve_stop >/dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT

if ! serve_zips order retry fanout approval; then
  fail serve_examples_build "dwf build failed: $(tail -c 400 "$ZIPS"/*/build.log)"; exit 0
fi
pass serve_examples_build

# A function whose first process takes an invocation and dies: the emulator must report the
# fault to the service, which retries the invocation (after its backoff) on a fresh process.
mkdir -p "$T/crashy"
unzip -q "$ZIPS/order/function.zip" -d "$T/crashy"
cat >"$T/crashy/wrap.sh" <<'SH'
#!/bin/sh
if [ ! -e "$CRASH_MARK" ]; then
  : >"$CRASH_MARK"
  curl -s "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next" >/dev/null
  exit 3
fi
exec "$LAMBDA_TASK_ROOT/bootstrap"
SH
chmod 755 "$T/crashy/wrap.sh"

# A scripted runtime whose callback is answered after its last checkpoint and before it answers
# PENDING (a fast human, or a callback sent from inside a step): the answer is a change the
# handler has not seen, so the service must invoke it again, not fail it for having "no pending
# operations". Scripted, because with a real workflow that window is a few microseconds.
mkdir -p "$T/race"
cat >"$T/race/bootstrap" <<'PY'
#!/usr/bin/env python3
import json, os, urllib.parse, urllib.request
api, ep = os.environ["AWS_LAMBDA_RUNTIME_API"], os.environ["AWS_ENDPOINT_URL_LAMBDA"]
def post(url, body):
    data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST")) as r:
        b = r.read()
        return json.loads(b) if b else None
while True:
    with urllib.request.urlopen("http://%s/2018-06-01/runtime/invocation/next" % api) as r:
        rid, ev = r.headers["Lambda-Runtime-Aws-Request-Id"], json.load(r)
    arn = urllib.parse.quote(ev["DurableExecutionArn"], safe="")
    cb = next((o for o in ev["InitialExecutionState"]["Operations"] if o["Type"] == "CALLBACK"), None)
    answer = {"Status": "PENDING"}
    if cb is None:
        st = post("%s/2025-12-01/durable-executions/%s/checkpoint" % (ep, arn),
                  {"CheckpointToken": ev["CheckpointToken"], "Updates": [{"Id": "c4ca4238a0b92382",
                   "Type": "CALLBACK", "Action": "START", "Name": "approval", "CallbackOptions": {"TimeoutSeconds": 60}}]})
        cid = st["NewExecutionState"]["Operations"][0]["CallbackDetails"]["CallbackId"]
        def state(marker=None):
            qs = "CheckpointToken=%s&MaxItems=1" % urllib.parse.quote(st["CheckpointToken"], safe="")
            if marker: qs += "&Marker=" + urllib.parse.quote(marker, safe="")
            with urllib.request.urlopen("%s/2025-12-01/durable-executions/%s/state?%s" % (ep, arn, qs)) as r:
                return json.load(r)
        p1 = state()
        p2 = state(p1.get("NextMarker")) if p1.get("NextMarker") else {}
        with open(os.environ["STATE_LOG"], "w") as f:
            json.dump([p1, p2], f)
        post("%s/2025-12-01/durable-execution-callbacks/%s/succeed" % (ep, urllib.parse.quote(cid, safe="")), '"fast"')
    elif cb["Status"] == "SUCCEEDED":
        answer = {"Status": "SUCCEEDED", "Result": cb["CallbackDetails"]["Result"]}
    post("http://%s/2018-06-01/runtime/invocation/%s/response" % (api, rid), answer)
PY
chmod 755 "$T/race/bootstrap"

# Runtimes that never answer: one exits before its first /next (an init failure), one takes an
# invocation and hangs past its 1 s timeout. Both must be retried with the service's backoff and
# then fail the execution, with the fault's type.
mkdir -p "$T/initfail" "$T/hang"
printf '#!/bin/sh\necho "cannot initialise" >&2\nexit 3\n' >"$T/initfail/bootstrap"
printf '#!/bin/sh\ncurl -s "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation/next" >/dev/null\nexec sleep 60\n' >"$T/hang/bootstrap"
chmod 755 "$T/initfail/bootstrap" "$T/hang/bootstrap"
# ...and one whose bootstrap can no longer be executed when it is started (made 0644 after
# `dwf serve` checked it): the same init failure, saying why.
mkdir -p "$T/noexec"
printf '#!/bin/sh\nexit 0\n' >"$T/noexec/bootstrap"
chmod 755 "$T/noexec/bootstrap"

# Two functions of our own: "dwf-serve-caller" invokes "dwf-serve-callee" (a chained invocation,
# a second durable execution the service creates and the emulator runs on the callee's process).
mkdir -p "$T/chain"
cat >"$T/chain/callee.dwf" <<'DWF'
workflow callee {
  durable { retention = 1d  timeout = 60s }
  lambda  { name = "dwf-serve-callee"  memory = 128  timeout = 10s }
  step doubled "double" {
    return { doubled: (input.n ?? 0) * 2 }
  }
  return doubled
}
DWF
cat >"$T/chain/caller.dwf" <<'DWF'
workflow caller {
  durable { retention = 1d  timeout = 60s }
  lambda  { name = "dwf-serve-caller"  memory = 128  timeout = 10s }
  let r = invoke "call-callee" "dwf-serve-callee:$LATEST" with { n: input.n ?? 1 }
  return { got: r }
}
DWF
for w in callee caller; do
  "$DWF" build "$T/chain/$w.dwf" -o "$T/chain/$w/function.zip" >"$T/chain/$w.log" 2>&1 &
done
wait
for w in callee caller; do
  [ -s "$T/chain/$w/function.zip" ] || { fail serve_examples_build "dwf build $w.dwf failed: $(tail -c 400 "$T/chain/$w.log")"; exit 0; }
done

if ! serve_start "$T/serve" --store "$T/store.db" --skip-time \
     "$ZIPS/order/function.zip" "$ZIPS/retry/function.zip" "$ZIPS/fanout/function.zip" \
     "$ZIPS/approval/function.zip" "$T/chain/callee/function.zip" "$T/chain/caller/function.zip" \
     --function "crashy=$T/crashy" --command "$T/crashy/wrap.sh" --env "CRASH_MARK=$T/crash.mark" --timeout 30 \
     --function "race=$T/race" --timeout 30 --env "STATE_LOG=$T/state.json" \
     --function "initfail=$T/initfail" --function "noexec=$T/noexec" --function "hang=$T/hang" --timeout 1; then
  fail serve_examples_start "dwf serve did not start: $(tail -c 600 "$T/serve.err")"; exit 0
fi
pass serve_examples_start

NOEXEC=$T/noexec/bootstrap STATE_LOG=$T/state.json python3 - "$SERVE_PORT" <<'EOF'
import json, os, sys, time, urllib.parse, urllib.request, urllib.error
base = "http://127.0.0.1:%s" % sys.argv[1]

def out(ok, name, why=""):
    print(("PASS " + name) if ok else ("FAIL %s: %s" % (name, why)))

def call(method, path, body=None, headers=None, raw=False):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            b = r.read()
            return r.status, dict(r.headers), (b if raw else (json.loads(b) if b else None))
    except urllib.error.HTTPError as e:
        b = e.read()
        try: j = json.loads(b)
        except Exception: j = b
        return e.code, dict(e.headers), j

def q(s): return urllib.parse.quote(s, safe="")
def invoke(fn, payload, itype="RequestResponse", name=None):
    h = {"X-Amz-Invocation-Type": itype}
    if name: h["X-Amz-Durable-Execution-Name"] = name
    return call("POST", "/2015-03-31/functions/%s/invocations" % q(fn), json.dumps(payload), h)
def get_exec(arn): return call("GET", "/2025-12-01/durable-executions/%s" % q(arn))
def wait_done(arn, secs=120):
    end = time.time() + secs
    while time.time() < end:
        st, _, x = get_exec(arn)
        if st == 200 and x.get("Status") != "RUNNING": return x
        time.sleep(0.1)
    return get_exec(arn)[2]

# ---- order: RequestResponse with "name:$LATEST" answers the result ----
st, h, body = invoke("durable-basic-test:$LATEST", {"orderId": "ORD-7"})
arn = h.get("X-Amz-Durable-Execution-Arn", "")
ok = st == 200 and isinstance(body, dict) and body.get("orderId") == "ORD-7" and \
     [body["steps"][k]["status"] for k in ("validation", "payment", "confirmation")] == ["validated", "paid", "confirmed"]
out(ok, "serve_order_sync_result", "status %s body %r" % (st, body))
out(arn.startswith("arn:aws:lambda:us-east-1:000000000000:function:durable-basic-test:$LATEST/durable-execution/"),
    "serve_order_arn_header", "X-Amz-Durable-Execution-Arn = %r" % arn)
st, _, x = get_exec(arn)
out(st == 200 and x.get("Status") == "SUCCEEDED" and isinstance(x.get("StartTimestamp"), (int, float))
    and isinstance(x.get("EndTimestamp"), (int, float)) and json.loads(x.get("Result", "null")) == body,
    "serve_get_execution_epoch_seconds", "%s %r" % (st, x))

# the configuration came from the deploy files beside the zip (order.dwf: retention 1d, timeout 120s)
out(x.get("DurableConfig") == {"RetentionPeriodInDays": 1, "ExecutionTimeout": 120}, "serve_config_from_deploy_files",
    "DurableConfig %r" % x.get("DurableConfig"))

# a full ARN with a version qualifier works too
st, h, body = invoke("arn:aws:lambda:us-east-1:000000000000:function:durable-basic-test:1", {"orderId": "ORD-8"})
out(st == 200 and body.get("orderId") == "ORD-8", "serve_invoke_full_arn", "%s %r" % (st, body))

# ---- the Invoke API's errors ----
st, h, body = invoke("durable-basic-test", {})
out(st == 400 and h.get("X-Amzn-ErrorType") == "InvalidParameterValueException" and
    body.get("message") == "You cannot invoke a durable function using an unqualified ARN.",
    "serve_invoke_unqualified", "%s %r %r" % (st, h.get("X-Amzn-ErrorType"), body))
st, h, body = invoke("no-such-function:$LATEST", {})
out(st == 404 and h.get("X-Amzn-ErrorType") == "ResourceNotFoundException", "serve_invoke_unknown_function",
    "%s %r" % (st, body))

# ---- idempotent start: same name + payload -> same execution; other payload -> 409 ----
st1, h1, _ = invoke("durable-basic-test:$LATEST", {"orderId": "IDEM"}, "Event", "idem-1")
st2, h2, _ = invoke("durable-basic-test:$LATEST", {"orderId": "IDEM"}, "Event", "idem-1")
st3, h3, b3 = invoke("durable-basic-test:$LATEST", {"orderId": "OTHER"}, "Event", "idem-1")
a1, a2 = h1.get("X-Amz-Durable-Execution-Arn"), h2.get("X-Amz-Durable-Execution-Arn")
out(st1 == 202 and st2 == 202 and a1 and a1 == a2 and "/durable-execution/idem-1/" in a1,
    "serve_invoke_name_idempotent", "%s %s %r %r" % (st1, st2, a1, a2))
out(st3 == 409 and h3.get("X-Amzn-ErrorType") == "DurableExecutionAlreadyStartedException",
    "serve_invoke_name_conflict", "%s %r %r" % (st3, h3.get("X-Amzn-ErrorType"), b3))
x = wait_done(a1)
out(x.get("Status") == "SUCCEEDED", "serve_event_invoke_runs", "%r" % x)

# ---- retry: step2 fails once, succeeds on attempt 2 ----
st, h, body = invoke("durable-retry-test:$LATEST", {"orderId": "ORD-R"})
ok = st == 200 and body.get("step2", {}).get("status") == "paid" and body["step2"].get("attempt") == 2
out(ok, "serve_retry_sync_result", "%s %r" % (st, body))

# ---- fanout: three branches and three map items ----
st, h, body = invoke("durable-parallel-test:$LATEST", {})
ok = st == 200 and len(body.get("parallel", {}).get("results", [])) == 3 and \
     [r.get("id") for r in body.get("map", {}).get("results", [])] == ["ITEM-1", "ITEM-2", "ITEM-3"]
out(ok, "serve_fanout_sync_result", "%s %r" % (st, body))

# ---- approval: Event, then the callback through the REST API ----
st, h, body = invoke("durable-callback-test:$LATEST", {"orderId": "ORD-A"}, "Event")
arn = h.get("X-Amz-Durable-Execution-Arn", "")
out(st == 202 and arn, "serve_approval_event_202", "%s %r" % (st, h))
cb = None
end = time.time() + 120
while time.time() < end and not cb:
    st, _, hist = call("GET", "/2025-12-01/durable-executions/%s/history" % q(arn))
    evs = (hist or {}).get("Events", [])
    # the id, once the invocation that created it has ended (a human answers later than that;
    # an answer during the invocation is serve_callback_during_invocation's case)
    if any(ev.get("EventType") == "InvocationCompleted" for ev in evs):
        for ev in evs:
            if ev.get("EventType") == "CallbackStarted":
                cb = ev["CallbackStartedDetails"]["CallbackId"]
    if not cb: time.sleep(0.1)
out(bool(cb), "serve_approval_callback_started", "no CallbackStarted event in %r" % hist)
st, _, x = get_exec(arn)
out(st == 200 and x.get("Status") == "RUNNING", "serve_approval_waits", "%r" % x)
result = json.dumps({"approved": True, "approver": "manager@example.com"})
st, _, _ = call("POST", "/2025-12-01/durable-execution-callbacks/%s/succeed" % q(cb or "x"), result,
                {"Content-Type": "application/octet-stream"})
out(st == 200, "serve_approval_callback_succeed", "status %s" % st)
x = wait_done(arn)
res = json.loads(x.get("Result", "null") or "null") if isinstance(x, dict) else None
ok = isinstance(res, dict) and res.get("orderId") == "ORD-A" and \
     res.get("result", {}).get("approvalData") == result
out(ok, "serve_approval_completes", "%r" % x)
st, h, b = call("POST", "/2025-12-01/durable-execution-callbacks/%s/succeed" % q(cb or "x"), "{}")
out(st == 400 and h.get("X-Amzn-ErrorType") == "CallbackTimeoutException", "serve_callback_twice",
    "%s %r %r" % (st, h.get("X-Amzn-ErrorType"), b))

# ---- the rest of the REST API ----
st, _, hist = call("GET", "/2025-12-01/durable-executions/%s/history?MaxItems=2" % q(arn))
ev = (hist or {}).get("Events", [])
ok = st == 200 and len(ev) == 2 and hist.get("NextMarker") and ev[0]["EventType"] == "ExecutionStarted" \
     and isinstance(ev[0].get("EventTimestamp"), (int, float))
out(ok, "serve_history_paging", "%s %r" % (st, hist))
if ok:
    st, _, h2 = call("GET", "/2025-12-01/durable-executions/%s/history?MaxItems=2&Marker=%s" % (q(arn), q(hist["NextMarker"])))
    out(st == 200 and h2["Events"][0]["EventId"] == 3, "serve_history_marker", "%s %r" % (st, h2))
st, _, ls = call("GET", "/2025-12-01/functions/durable-callback-test/durable-executions?Statuses=SUCCEEDED")
ok = st == 200 and [e["DurableExecutionArn"] for e in ls.get("DurableExecutions", [])] == [arn]
out(ok, "serve_list_by_function", "%s %r" % (st, ls))
st, _, ls = call("GET", "/2025-12-01/functions/durable-basic-test/durable-executions?Statuses=RUNNING")
out(st == 200 and ls.get("DurableExecutions") == [], "serve_list_status_filter", "%s %r" % (st, ls))
st, h, b = call("GET", "/2025-12-01/durable-executions/%s" % q(arn.replace(arn[-8:], "00000000")))
out(st == 404 and h.get("X-Amzn-ErrorType") == "ResourceNotFoundException", "serve_get_unknown_execution", "%s %r" % (st, b))
st, h, b = call("GET", "/2025-12-01/durable-executions/%s/state?CheckpointToken=bogus" % q(arn))
out(st == 400 and h.get("X-Amzn-ErrorType") == "InvalidParameterValueException", "serve_state_bad_token", "%s %r" % (st, b))

# a process that dies mid-invocation: the invocation is retried and the execution succeeds
st, h, body = invoke("crashy:$LATEST", {"orderId": "ORD-C"})
arn3 = h.get("X-Amz-Durable-Execution-Arn", "")
out(st == 200 and body.get("orderId") == "ORD-C", "serve_crash_retried_result", "%s %r" % (st, body))
st, _, hist = call("GET", "/2025-12-01/durable-executions/%s/history?IncludeExecutionData=true" % q(arn3))
errs = [e["InvocationCompletedDetails"].get("Error") for e in hist.get("Events", []) if e["EventType"] == "InvocationCompleted"]
ok = len(errs) >= 2 and errs[0] and (errs[0].get("Payload") or errs[0]).get("ErrorType") == "Runtime.ExitError" and errs[-1] is None
out(ok, "serve_crash_recorded_as_fault", "%r" % errs)

# a callback answered between the last checkpoint and the PENDING answer
st, h, body = invoke("race:$LATEST", {})
try:
    p1, p2 = json.load(open(os.environ["STATE_LOG"]))
    ok = [o["Type"] for o in p1["Operations"]] == ["EXECUTION"] and p1.get("NextMarker") \
         and [o["Type"] for o in p2["Operations"]] == ["CALLBACK"] and not p2.get("NextMarker")
    out(ok, "serve_state_paging", "%r" % [p1, p2])
except Exception as e:
    out(False, "serve_state_paging", "the scripted runtime wrote no state pages: %s" % e)
x = get_exec(h.get("X-Amz-Durable-Execution-Arn", "x"))[2]
out(st == 200 and body == "fast" and x.get("Status") == "SUCCEEDED", "serve_callback_during_invocation",
    "want a re-invocation that sees the answer (service.c dwf_service_end_invocation checks for pending operations before it looks for changes the handler has not seen); got %s %r, execution %s %r" % (st, body, x.get("Status"), x.get("Error")))

# a chained invoke between two served functions
st, h, body = invoke("dwf-serve-caller:$LATEST", {"n": 21})
out(st == 200 and body == {"got": {"doubled": 42}}, "serve_chained_invoke", "%s %r" % (st, body))
st, _, ls = call("GET", "/2025-12-01/functions/dwf-serve-callee/durable-executions")
out(st == 200 and [e["Status"] for e in ls.get("DurableExecutions", [])] == ["SUCCEEDED"],
    "serve_chained_invoke_callee_execution", "%s %r" % (st, ls))

# callback heartbeat and failure through the REST API
st, h, _ = invoke("durable-callback-test:$LATEST", {"orderId": "ORD-F"}, "Event")
arn4, cb4, end = h.get("X-Amz-Durable-Execution-Arn", ""), None, time.time() + 120
while arn4 and not cb4 and time.time() < end:
    evs = call("GET", "/2025-12-01/durable-executions/%s/history" % q(arn4))[2].get("Events", [])
    if any(e["EventType"] == "InvocationCompleted" for e in evs):
        cb4 = next((e["CallbackStartedDetails"]["CallbackId"] for e in evs if e["EventType"] == "CallbackStarted"), None)
    if not cb4: time.sleep(0.1)
st, h, b = call("POST", "/2025-12-01/durable-execution-callbacks/%s/heartbeat" % q(cb4 or "x"))
out(st == 400 and h.get("X-Amzn-ErrorType") == "InvalidParameterValueException", "serve_callback_heartbeat_without_timeout",
    "%s %r %r" % (st, h.get("X-Amzn-ErrorType"), b))
st, _, _ = call("POST", "/2025-12-01/durable-execution-callbacks/%s/fail" % q(cb4 or "x"),
                json.dumps({"ErrorType": "Rejected", "ErrorMessage": "manager said no"}))
x = wait_done(arn4)
out(st == 200 and x.get("Status") == "FAILED" and "manager said no" in json.dumps(x.get("Error")),
    "serve_callback_fail", "%s %r" % (st, x))

# an init failure and an invocation timeout: retried, then the execution fails with the fault
_, hi, _ = invoke("initfail:$LATEST", {}, "Event")
os.chmod(os.environ["NOEXEC"], 0o644)
_, hn, _ = invoke("noexec:$LATEST", {}, "Event")
_, hh, _ = invoke("hang:$LATEST", {}, "Event")
for fn, hd, want in (("initfail", hi, "Runtime.InitError"), ("noexec", hn, "Runtime.InitError"),
                     ("hang", hh, "Sandbox.Timedout")):
    a = hd.get("X-Amz-Durable-Execution-Arn", "x")
    x = wait_done(a)
    evs = call("GET", "/2025-12-01/durable-executions/%s/history?IncludeExecutionData=true" % q(a))[2].get("Events", [])
    faults = [(e["InvocationCompletedDetails"].get("Error") or {}).get("Payload", {}).get("ErrorType")
              for e in evs if e["EventType"] == "InvocationCompleted"]
    out(x.get("Status") == "FAILED" and (x.get("Error") or {}).get("ErrorType") == want and faults == [want] * 3,
        "serve_%s_retried_then_failed" % fn, "%r, invocation faults %r" % (x, faults))
    if fn == "noexec":
        msg = (x.get("Error") or {}).get("ErrorMessage", "")
        out("cannot start" in msg and "Permission denied" in msg, "serve_noexec_says_why", repr(msg))

# stop a waiting approval
st, h, _ = invoke("durable-callback-test:$LATEST", {"orderId": "ORD-S"}, "Event")
arn2 = h.get("X-Amz-Durable-Execution-Arn", "")
time.sleep(1.0)
st, _, b = call("POST", "/2025-12-01/durable-executions/%s/stop" % q(arn2),
                json.dumps({"ErrorType": "Cancelled", "ErrorMessage": "no longer needed"}))
st2, _, x = get_exec(arn2)
out(st == 200 and isinstance(b.get("StopTimestamp"), (int, float)) and x.get("Status") == "STOPPED",
    "serve_stop", "%s %r %r" % (st, b, x))
EOF
serve_stop; rc=$?
[ $rc -eq 0 ] && pass serve_examples_clean_exit || fail serve_examples_clean_exit "dwf serve exited $rc: $(tail -c 300 "$T/serve.err")"
roots=$(sed -n 's|.*task root \([^,]*/dwf-serve-[0-9]*/[^,]*\),.*|\1|p' "$T/serve.out")
left=$(for d in $roots; do [ -e "$d" ] && echo "$d"; done)
[ -n "$roots" ] && [ -z "$left" ] && pass serve_examples_task_roots_removed ||
  fail serve_examples_task_roots_removed "unpacked task roots: ${roots:-none printed}; left behind: $left"
exit 0
