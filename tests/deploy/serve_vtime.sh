#!/usr/bin/env bash
# tests/deploy/serve_vtime.sh: under `dwf serve --skip-time` each execution has its own virtual
# clock, and inside an invocation time runs as without --skip-time. Official durable SDK handlers
# under aws-lambda-ric, all on one emulator with one store:
#   vt-long  waits N days (context.wait): its clock jumps N days
#   vt-work  (retention 1 day) beside a step that keeps the invocation busy, a step that fails
#            twice and succeeds on its third attempt, counted per invocation: it succeeds only if
#            all three attempts run in one invocation (1 s retry delays, served in-process by the
#            SDK); optionally after a 2-day wait of its own. Or five 1 s waits in a row, which
#            the SDK also serves in the same invocation.
#   vt-cb    a callback with a 3 s heartbeat timeout, kept alive by heartbeats
# Checked: after a 20-day jump of vt-long, vt-work's retries and waits take one invocation, and
# after its own 2-day jump its retries still run in one invocation; while vt-long waits 3 days
# of virtual time, vt-cb's heartbeats keep its callback alive and it succeeds; the 20-day
# jump purges no other execution (vt-work's, with a 1-day retention, are still in the store
# when the next command opens it).
# Prints "PASS name" / "FAIL name: why"; $DWF = the dwf binary to test.
set -u
cd "$(dirname "$0")/../.."
. tests/deploy/serve_lib.sh

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

NODE_MODULES=$PWD/tests/node/node_modules
if ! command -v node >/dev/null 2>&1; then fail serve_vtime "node is not installed (make deps)"; exit 0; fi
if [ ! -d "$NODE_MODULES/@aws/durable-execution-sdk-js" ] || [ ! -f "$NODE_MODULES/aws-lambda-ric/index.mjs" ]; then
  fail serve_vtime "tests/node/node_modules lacks the durable SDK or aws-lambda-ric (make deps)"; exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/dwf-serve-vtime.XXXXXX")
cleanup() { serve_stop >/dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT
RIC="node $NODE_MODULES/aws-lambda-ric/index.mjs index.handler"

mkdir -p "$T/fn"
cat >"$T/fn/index.mjs" <<'JS'
import { withDurableExecution } from "@aws/durable-execution-sdk-js";

// The SDK serves a retry or a wait within the invocation (a timer on its own clock, then a
// poll) while another operation still runs; alone, it ends the invocation. So each scenario runs
// beside a "busy" step that lasts until the scenario is done in this process (or 45 s).
let done = false;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const busy = (context) => context.step("busy", async () => {
  const until = Date.now() + 45000;
  while (!done && Date.now() < until) await sleep(50);
  return { doneHere: done };
});

async function flaky(context) {
  let attemptsThisInvocation = 0; // the handler runs again in each invocation: this restarts at 0
  const r = await context.step("flaky", async () => {
    attemptsThisInvocation++;
    if (attemptsThisInvocation < 3) throw new Error(`attempt ${attemptsThisInvocation} in this invocation`);
    return { attemptsThisInvocation };
  }, { retryStrategy: (err, n) => (n < 5 ? { shouldRetry: true, delay: { seconds: 1 } } : { shouldRetry: false }) });
  done = true;
  return r;
}

async function waits(context) {
  for (let i = 0; i < 5; i++) await context.wait(`w${i}`, { seconds: 1 });
  done = true;
  return { waits: 5 };
}

export const handler = withDurableExecution(async (event, context) => {
  done = false;
  switch (event.kind) {
    case "long":
      await context.wait({ days: event.days });
      return { waitedDays: event.days };
    case "retry":
    case "waits": {
      if (event.waitFirst) await context.wait("first", { days: 2 });
      const res = await context.parallel("work", [
        { name: "busy", func: busy },
        { name: "scenario", func: event.kind === "retry" ? flaky : waits },
      ]);
      return res.getResults()[1];
    }
    case "callback": {
      const [answer] = await context.createCallback("approval", { timeout: { hours: 1 }, heartbeatTimeout: { seconds: 3 } });
      return { approved: await answer };
    }
  }
  throw new Error(`unknown kind ${event.kind}`);
});
JS
ln -s "$NODE_MODULES" "$T/fn/node_modules"

args=(--store "$T/store.db" --skip-time)
for f in vt-long vt-work vt-cb; do
  args+=(--function "$f=$T/fn" --command "$RIC" --handler index.handler --runtime AWS_Lambda_nodejs20.x --timeout 60
         --execution-timeout 31536000)
  [ "$f" = vt-work ] && args+=(--retention 1)
done
if ! serve_start "$T/serve" "${args[@]}"; then
  fail serve_vtime_start "dwf serve did not start: $(tail -c 600 "$T/serve.err")"; exit 0
fi
pass serve_vtime_start

python3 - "$SERVE_PORT" "$T/work_arns" <<'EOF'
import json, sys, time, urllib.parse, urllib.request, urllib.error
base = "http://127.0.0.1:%s" % sys.argv[1]
DAY = 86400.0

def out(ok, name, why=""):
    print(("PASS " + name) if ok else ("FAIL %s: %s" % (name, why)), flush=True)

def call(method, path, body=None, headers=None):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=180) as r:
            b = r.read()
            return r.status, dict(r.headers), (json.loads(b) if b else None)
    except urllib.error.HTTPError as e:
        b = e.read()
        try: j = json.loads(b)
        except Exception: j = b
        return e.code, dict(e.headers), j

def invoke(fn, payload, itype="RequestResponse"):
    st, h, b = call("POST", "/2015-03-31/functions/%s:$LATEST/invocations" % fn, json.dumps(payload),
                    {"X-Amz-Invocation-Type": itype})
    return st, h.get("X-Amz-Durable-Execution-Arn"), b

def q(arn): return urllib.parse.quote(arn, safe="")
def execution(arn): return call("GET", "/2025-12-01/durable-executions/%s" % q(arn))[2] or {}
def events(arn):
    st, h, b = call("GET", "/2025-12-01/durable-executions/%s/history?MaxItems=1000&IncludeExecutionData=true" % q(arn))
    return (b or {}).get("Events", [])
def count(evs, t): return sum(1 for e in evs if e.get("EventType") == t)
def wait_status(arn, want, secs=60):
    x = {}
    for _ in range(int(secs * 10)):
        x = execution(arn)
        if x.get("Status") in want: return x
        time.sleep(0.1)
    return x

# 1. One execution waits 20 days of virtual time: its own clock jumps.
st, long_arn, _ = invoke("vt-long", {"kind": "long", "days": 20}, "Event")
x = wait_status(long_arn, ("SUCCEEDED", "FAILED"))
span = (x.get("EndTimestamp") or 0) - (x.get("StartTimestamp") or 0)
out(x.get("Status") == "SUCCEEDED" and span >= 20 * DAY, "serve_vtime_long_wait_jumps",
    "%s, %.0f s of virtual time" % (x.get("Status"), span))

work = []
# 2. After that jump, a step retrying with 1 s delays (beside a running step) runs its three
#    attempts in one invocation.
st, arn, b = invoke("vt-work", {"kind": "retry"})
work.append(arn)
evs = events(arn) if arn else []
out(st == 200 and b == {"attemptsThisInvocation": 3}, "serve_vtime_retry_in_one_invocation", "%s %r" % (st, b))
out(count(evs, "InvocationCompleted") == 1 and count(evs, "StepFailed") == 2 and count(evs, "StepSucceeded") == 2,
    "serve_vtime_retry_history", "invocations %d, StepFailed %d, StepSucceeded %d" % (
        count(evs, "InvocationCompleted"), count(evs, "StepFailed"), count(evs, "StepSucceeded")))
x = execution(arn) if arn else {}
out((x.get("EndTimestamp") or 0) - (x.get("StartTimestamp") or 0) < DAY, "serve_vtime_retry_own_clock",
    "the retrying execution's clock moved: %r" % x)

# 3. After a 2-day jump of its own, the same retries still run within one invocation (the
#    timestamps the SDK compares with its clock are on real time inside an invocation).
st, arn, b = invoke("vt-work", {"kind": "retry", "waitFirst": True})
work.append(arn)
evs = events(arn) if arn else []
x = execution(arn) if arn else {}
out(st == 200 and b == {"attemptsThisInvocation": 3} and count(evs, "InvocationCompleted") == 2
    and 2 * DAY <= (x.get("EndTimestamp") or 0) - (x.get("StartTimestamp") or 0) < 3 * DAY,
    "serve_vtime_retry_after_own_jump", "%s %r, invocations %d, %r" % (st, b, count(evs, "InvocationCompleted"), x))

# 4. Five 1 s waits in a row (beside a running step): one invocation, as without --skip-time.
st, arn, b = invoke("vt-work", {"kind": "waits"})
work.append(arn)
evs = events(arn) if arn else []
out(st == 200 and b == {"waits": 5} and count(evs, "InvocationCompleted") == 1 and count(evs, "WaitSucceeded") == 5,
    "serve_vtime_short_waits_in_one_invocation", "%s %r, invocations %d, WaitSucceeded %d" % (
        st, b, count(evs, "InvocationCompleted"), count(evs, "WaitSucceeded")))

# 5. A callback kept alive by heartbeats (3 s heartbeat timeout) while another execution waits
#    3 days of virtual time.
st, cb_arn, _ = invoke("vt-cb", {"kind": "callback"}, "Event")
cbid = None
for _ in range(600):
    for e in events(cb_arn):
        d = e.get("CallbackStartedDetails") or {}
        if d.get("CallbackId"): cbid = d["CallbackId"]
    if cbid: break
    time.sleep(0.1)
if not cbid:
    out(False, "serve_vtime_callback_started", "no CallbackId in %r" % events(cb_arn))
else:
    st, long2, _ = invoke("vt-long", {"kind": "long", "days": 3}, "Event")
    hb_ok, t_end = True, time.time() + 7
    while time.time() < t_end:
        s, h, bb = call("POST", "/2025-12-01/durable-execution-callbacks/%s/heartbeat" % q(cbid), "")
        hb_ok = hb_ok and s == 200
        time.sleep(1)
    x2 = wait_status(long2, ("SUCCEEDED", "FAILED"))
    out(x2.get("Status") == "SUCCEEDED" and (x2.get("EndTimestamp") or 0) - (x2.get("StartTimestamp") or 0) >= 3 * DAY,
        "serve_vtime_other_waits_days", "%r" % x2)
    out(hb_ok and execution(cb_arn).get("Status") == "RUNNING", "serve_vtime_heartbeats_keep_callback",
        "heartbeats ok %s, %r" % (hb_ok, execution(cb_arn)))
    s, h, bb = call("POST", "/2025-12-01/durable-execution-callbacks/%s/succeed" % q(cbid), '"yes"')
    x = wait_status(cb_arn, ("SUCCEEDED", "FAILED", "TIMED_OUT"))
    st, h, res = call("GET", "/2025-12-01/durable-executions/%s" % q(cb_arn))
    out(s == 200 and x.get("Status") == "SUCCEEDED" and json.loads(x.get("Result") or "null") == {"approved": '"yes"'}
        and count(events(cb_arn), "CallbackTimedOut") == 0, "serve_vtime_callback_succeeds", "%s %r" % (s, x))

open(sys.argv[2], "w").write("\n".join(a for a in work if a))
EOF

if serve_stop; then pass serve_vtime_stop; else fail serve_vtime_stop "dwf serve exited non-zero"; fi

# The store is opened again (which purges expired executions): the 20- and 3-day jumps of
# vt-long moved no other clock, so vt-work's executions (1-day retention) are still there.
"$DWF" executions --store "$T/store.db" --json >"$T/execs.json" 2>"$T/execs.err"
python3 - "$T/execs.json" "$T/work_arns" <<'EOF'
import json, sys
try: rows = json.load(open(sys.argv[1]))
except Exception as e: rows = []
text = json.dumps(rows)
arns = [a for a in open(sys.argv[2]).read().split("\n") if a]
kept = [a for a in arns if a in text]
print("PASS serve_vtime_no_purge_by_other_clock" if len(arns) == 3 and kept == arns else
      "FAIL serve_vtime_no_purge_by_other_clock: kept %d of %d executions" % (len(kept), len(arns)))
EOF
exit 0
