#!/usr/bin/env bash
# tests/deploy/serve_plain.sh: `dwf serve` runs plain (non-durable) Lambda functions beside
# durable ones, as Lambda does.
#
# Functions, all on one emulator:
#   plain-js   a plain Node.js handler (aws-lambda-ric, --no-durable): doubles n, or throws a
#              CardDeclined error when asked to
#   caller-js  a durable handler on the official durable SDK: context.invoke("plain-js", ...)
#   caller-dwf a .dwf workflow (its `dwf build` zip) that invokes plain-js
#   plain-sh   a zip whose deploy files (template.yaml, no durable-config.json) carry no
#              DurableConfig, so it is plain without a flag: a shell bootstrap on the Runtime API
# Checked: a direct Invoke of a plain function answers the handler's value as is (unqualified
# names allowed), an error as FunctionError Unhandled with errorType / errorMessage, creates no
# durable execution, refuses X-Amz-Durable-Execution-Name; Event answers 202; a durable JS or
# .dwf caller gets the value back, or fails with InvokeError carrying the handler's message,
# and its CHAINED_INVOKE operation holds the plain function's ErrorType. Then `dwf run` of the
# .dwf caller on the same store says why it cannot run the plain function.
# Prints "PASS name" / "FAIL name: why"; $DWF = the dwf binary to test.
set -u
cd "$(dirname "$0")/../.."
. tests/deploy/serve_lib.sh

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

NODE_MODULES=$PWD/tests/node/node_modules
if ! command -v node >/dev/null 2>&1; then fail serve_plain "node is not installed (make deps)"; exit 0; fi
if [ ! -f "$NODE_MODULES/aws-lambda-ric/index.mjs" ]; then
  fail serve_plain "tests/node/node_modules lacks aws-lambda-ric (make deps)"; # --function takes .dwf files only, and says what to do with a plain function instead.
"$DWF" run "$T/dwf/caller.dwf" --store "$T/store.db" --function "$T/sh/out/function.zip" >"$T/run2.out" 2>"$T/run2.err"
rc=$?
if [ $rc -ne 0 ] && grep -q -- "--no-durable" "$T/run2.err" && grep -q "takes .dwf workflows only" "$T/run2.err"; then
  pass serve_plain_dwf_run_function_explains
else
  fail serve_plain_dwf_run_function_explains "exit $rc: $(tail -c 600 "$T/run2.err")"
fi
exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/dwf-serve-plain.XXXXXX")
cleanup() { serve_stop >/dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT
RIC="node $NODE_MODULES/aws-lambda-ric/index.mjs index.handler"

mkdir -p "$T/plain" "$T/caller"
cat >"$T/plain/index.mjs" <<'JS'
export const handler = async (event) => {
  if (event.fail) {
    const e = new Error(`card declined: ${event.card}`);
    e.name = "CardDeclined";
    throw e;
  }
  return { doubled: event.n * 2, seen: event };
};
JS
cat >"$T/caller/index.mjs" <<'JS'
import { withDurableExecution } from "@aws/durable-execution-sdk-js";
export const handler = withDurableExecution(async (event, context) => {
  if (event.catch) {
    try {
      await context.invoke("call-plain", "plain-js", { fail: true, card: "4242" });
      return { caught: false };
    } catch (e) {
      return { caught: true, name: e.name, errorType: e.errorType, message: e.message, cause: e.cause?.message };
    }
  }
  const got = await context.invoke("call-plain", "plain-js", { n: event.n, fail: event.fail, card: "4242" });
  return { got };
});
JS
ln -s "$NODE_MODULES" "$T/plain/node_modules"
ln -s "$NODE_MODULES" "$T/caller/node_modules"

mkdir -p "$T/dwf"
cat >"$T/dwf/caller.dwf" <<'DWF'
workflow plain_caller {
  durable { retention = 1d  timeout = 60s }
  lambda  { name = "caller-dwf"  memory = 128  timeout = 10s }
  let r = invoke "call-plain" "plain-js" with { n: input.n ?? 1, fail: input.fail ?? false, card: "9999" }
  return { got: r }
}
DWF
if ! "$DWF" build "$T/dwf/caller.dwf" -o "$T/dwf/out/function.zip" >"$T/build.log" 2>&1; then
  fail serve_plain_build "dwf build failed: $(tail -c 400 "$T/build.log")"; # --function takes .dwf files only, and says what to do with a plain function instead.
"$DWF" run "$T/dwf/caller.dwf" --store "$T/store.db" --function "$T/sh/out/function.zip" >"$T/run2.out" 2>"$T/run2.err"
rc=$?
if [ $rc -ne 0 ] && grep -q -- "--no-durable" "$T/run2.err" && grep -q "takes .dwf workflows only" "$T/run2.err"; then
  pass serve_plain_dwf_run_function_explains
else
  fail serve_plain_dwf_run_function_explains "exit $rc: $(tail -c 600 "$T/run2.err")"
fi
exit 0
fi

# A plain zip from deploy files without a DurableConfig: a shell bootstrap that echoes the event.
mkdir -p "$T/sh/root" "$T/sh/out"
cat >"$T/sh/root/bootstrap" <<'SH'
#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
while :; do
  h=$(mktemp -p "$LAMBDA_TASK_ROOT"); b=$(mktemp -p "$LAMBDA_TASK_ROOT")
  curl -s -D "$h" -o "$b" "$api/next" || exit 1
  rid=$(sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: *\([^\r]*\).*/\1/p' "$h")
  { printf '{"echo":'; cat "$b"; printf '}'; } | curl -s -o /dev/null -X POST --data-binary @- "$api/$rid/response"
  rm -f "$h" "$b"
done
SH
chmod 755 "$T/sh/root/bootstrap"
(cd "$T/sh/root" && python3 -c "
import zipfile, os
with zipfile.ZipFile('../out/function.zip', 'w') as z:
    i = zipfile.ZipInfo('bootstrap'); i.external_attr = 0o755 << 16
    z.writestr(i, open('bootstrap').read())
")
printf 'Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      FunctionName: plain-sh\n      Timeout: 10\n' \
  >"$T/sh/out/template.yaml"

if ! serve_start "$T/serve" --store "$T/store.db" \
     --function "plain-js=$T/plain" --command "$RIC" --handler index.handler --runtime AWS_Lambda_nodejs20.x \
       --timeout 30 --no-durable \
     --function "caller-js=$T/caller" --command "$RIC" --handler index.handler --runtime AWS_Lambda_nodejs20.x \
       --timeout 30 \
     "$T/dwf/out/function.zip" "$T/sh/out/function.zip"; then
  fail serve_plain_start "dwf serve did not start: $(tail -c 600 "$T/serve.err")"; # --function takes .dwf files only, and says what to do with a plain function instead.
"$DWF" run "$T/dwf/caller.dwf" --store "$T/store.db" --function "$T/sh/out/function.zip" >"$T/run2.out" 2>"$T/run2.err"
rc=$?
if [ $rc -ne 0 ] && grep -q -- "--no-durable" "$T/run2.err" && grep -q "takes .dwf workflows only" "$T/run2.err"; then
  pass serve_plain_dwf_run_function_explains
else
  fail serve_plain_dwf_run_function_explains "exit $rc: $(tail -c 600 "$T/run2.err")"
fi
exit 0
fi
pass serve_plain_start

python3 - "$SERVE_PORT" <<'EOF'
import json, sys, urllib.request, urllib.error
base = "http://127.0.0.1:%s" % sys.argv[1]

def out(ok, name, why=""):
    print(("PASS " + name) if ok else ("FAIL %s: %s" % (name, why)))

def call(method, path, body=None, headers=None):
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(base + path, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            b = r.read()
            return r.status, dict(r.headers), (json.loads(b) if b else None)
    except urllib.error.HTTPError as e:
        b = e.read()
        try: j = json.loads(b)
        except Exception: j = b
        return e.code, dict(e.headers), j

def invoke(fn, payload, itype="RequestResponse", name=None):
    h = {"X-Amz-Invocation-Type": itype}
    if name: h["X-Amz-Durable-Execution-Name"] = name
    return call("POST", "/2015-03-31/functions/%s/invocations" % urllib.parse.quote(fn, safe=":"),
                json.dumps(payload), h)

import urllib.parse
# A plain function, invoked directly: unqualified, the value as is, no durable execution.
st, h, b = invoke("plain-js", {"n": 21})
out(st == 200 and b == {"doubled": 42, "seen": {"n": 21}} and "X-Amz-Function-Error" not in h
    and "X-Amz-Durable-Execution-Arn" not in h, "serve_plain_direct_value", "%s %r %r" % (st, h, b))
st, h, b = invoke("plain-js:$LATEST", {"fail": True, "card": "1"})
out(st == 200 and h.get("X-Amz-Function-Error") == "Unhandled" and isinstance(b, dict)
    and b.get("errorType") == "CardDeclined" and b.get("errorMessage") == "card declined: 1",
    "serve_plain_direct_error", "%s %r %r" % (st, h, b))
st, h, b = invoke("plain-js", {"n": 1}, name="not-for-plain")
out(st == 400 and h.get("X-Amzn-ErrorType") == "InvalidParameterValueException",
    "serve_plain_execution_name_refused", "%s %r %r" % (st, h.get("X-Amzn-ErrorType"), b))
st, h, b = invoke("plain-js", {"n": 2}, itype="Event")
out(st == 202, "serve_plain_event", "%s %r" % (st, b))
st, h, b = call("GET", "/2025-12-01/functions/plain-js/durable-executions")
out(st == 200 and b.get("DurableExecutions") == [], "serve_plain_no_execution", "%s %r" % (st, b))

# The durable JS caller: the plain function's value, or its error as InvokeError.
st, h, b = invoke("caller-js:$LATEST", {"n": 5})
out(st == 200 and b == {"got": {"doubled": 10, "seen": {"n": 5, "fail": None, "card": "4242"}}}
    or b == {"got": {"doubled": 10, "seen": {"n": 5, "card": "4242"}}}, "serve_plain_jssdk_invoke_value",
    "%s %r" % (st, b))
arn_err = None
st, h, b = invoke("caller-js:$LATEST", {"fail": True})
arn_err = h.get("X-Amz-Durable-Execution-Arn")
out(st == 200 and h.get("X-Amz-Function-Error") == "Unhandled" and b.get("errorType") == "InvokeError"
    and b.get("errorMessage") == "card declined: 4242", "serve_plain_jssdk_invoke_error", "%s %r" % (st, b))
st, h, b = invoke("caller-js:$LATEST", {"catch": True})
out(st == 200 and b == {"caught": True, "name": "InvokeError", "errorType": "InvokeError",
                        "message": "card declined: 4242", "cause": "card declined: 4242"},
    "serve_plain_jssdk_invoke_caught", "%s %r" % (st, b))
if arn_err:
    st, h, hist = call("GET", "/2025-12-01/durable-executions/%s/history?IncludeExecutionData=true"
                       % urllib.parse.quote(arn_err, safe=""))
    evs = [e for e in (hist or {}).get("Events", []) if e.get("EventType", "").startswith("ChainedInvoke")]
    types = [e["EventType"] for e in evs]
    failed = [e for e in evs if e["EventType"] == "ChainedInvokeFailed"]
    err = failed[0].get("ChainedInvokeFailedDetails", {}).get("Error", {}).get("Payload", {}) if failed else {}
    out(types == ["ChainedInvokeStarted", "ChainedInvokeFailed"] and err.get("ErrorType") == "CardDeclined"
        and err.get("ErrorMessage") == "card declined: 4242", "serve_plain_history", "%r %r" % (types, failed))

# The .dwf caller.
st, h, b = invoke("caller-dwf:$LATEST", {"n": 8})
out(st == 200 and isinstance(b, dict) and b.get("got", {}).get("doubled") == 16, "serve_plain_dwf_invoke_value",
    "%s %r" % (st, b))
st, h, b = invoke("caller-dwf:$LATEST", {"fail": True})
out(st == 200 and h.get("X-Amz-Function-Error") == "Unhandled" and b.get("errorType") == "InvokeError"
    and "card declined: 9999" in (b.get("errorMessage") or ""), "serve_plain_dwf_invoke_error", "%s %r" % (st, b))

# A zip whose deploy files carry no DurableConfig is plain.
st, h, b = invoke("plain-sh", {"k": [1, 2]})
out(st == 200 and b == {"echo": {"k": [1, 2]}}, "serve_plain_zip_without_durable_config", "%s %r %r" % (st, h, b))
EOF

if serve_stop; then pass serve_plain_stop; else fail serve_plain_stop "dwf serve exited non-zero"; fi

# dwf run cannot run a plain function (the engine runs compiled .dwf workflows only): the store
# knows plain-js as plain, so the invoke fails with the reason, not "not found".
"$DWF" run "$T/dwf/caller.dwf" --store "$T/store.db" --input '{"n":1}' >"$T/run.out" 2>"$T/run.err"
rc=$?
if [ $rc -ne 0 ] && grep -q "plain (non-durable) Lambda function" "$T/run.out" "$T/run.err" \
   && grep -q "InvokeError" "$T/run.out" "$T/run.err"; then
  pass serve_plain_dwf_run_explains
else
  fail serve_plain_dwf_run_explains "exit $rc: $(tail -c 600 "$T/run.out") $(tail -c 600 "$T/run.err")"
fi
# --function takes .dwf files only, and says what to do with a plain function instead.
"$DWF" run "$T/dwf/caller.dwf" --store "$T/store.db" --function "$T/sh/out/function.zip" >"$T/run2.out" 2>"$T/run2.err"
rc=$?
if [ $rc -ne 0 ] && grep -q -- "--no-durable" "$T/run2.err" && grep -q "takes .dwf workflows only" "$T/run2.err"; then
  pass serve_plain_dwf_run_function_explains
else
  fail serve_plain_dwf_run_function_explains "exit $rc: $(tail -c 600 "$T/run2.err")"
fi
exit 0
