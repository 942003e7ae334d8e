#!/usr/bin/env bash
# tests/deploy/serve_jssdk.sh: the official durable SDK (@aws/durable-execution-sdk-js) under the
# official Node.js runtime interface client (aws-lambda-ric) runs on `dwf serve`, and the .dwf
# version of the same function, run on `dwf serve` from its `dwf build` zip, leaves the same
# operation history.
#
# The function is the seed's order function (tests/conformance/seed/order.mjs) with its wait cut
# to 1 s, and examples/order.dwf with the same cut. The JS one is served as a function directory
# (index.mjs + a node_modules link to tests/node/node_modules) started with
#   --function order-js=DIR --command "node .../aws-lambda-ric/index.mjs index.handler"
# Both are invoked synchronously in real time (no --skip-time: the wait really passes); then
# `dwf history --json` (the GetDurableExecutionState Operation shape, from the same store) of
# both executions must agree on Id, ParentId, Name, Type, SubType, Status and StepDetails.Attempt
# of every operation, in order (the EXECUTION operation's Id is a per-execution UUID on both
# sides and is not compared).
# Prints "PASS name" / "FAIL name: why"; $DWF = the dwf binary to test.
set -u
cd "$(dirname "$0")/../.."
. tests/deploy/serve_lib.sh

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

NODE_MODULES=$PWD/tests/node/node_modules
if ! command -v node >/dev/null 2>&1; then fail serve_jssdk "node is not installed (make deps)"; exit 0; fi
if [ ! -d "$NODE_MODULES/@aws/durable-execution-sdk-js" ] || [ ! -f "$NODE_MODULES/aws-lambda-ric/index.mjs" ]; then
  fail serve_jssdk "tests/node/node_modules lacks the durable SDK or aws-lambda-ric (make deps)"; exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/dwf-serve-js.XXXXXX")
cleanup() { serve_stop >/dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT

# The JS function directory.
mkdir -p "$T/js"
sed 's/context.wait({ seconds: 10 })/context.wait({ seconds: 1 })/' tests/conformance/seed/order.mjs >"$T/js/index.mjs"
if ! grep -q 'seconds: 1 }' "$T/js/index.mjs"; then fail serve_jssdk_function "the seed's wait was not found to shorten"; exit 0; fi
ln -s "$NODE_MODULES" "$T/js/node_modules"

# The .dwf version with the same 1 s wait.
mkdir -p "$T/dwf"
sed 's/^  wait 10s$/  wait 1s/' examples/order.dwf >"$T/dwf/order.dwf"
if ! grep -q '^  wait 1s$' "$T/dwf/order.dwf"; then fail serve_jssdk_function "order.dwf's wait was not found to shorten"; exit 0; fi
if ! "$DWF" build "$T/dwf/order.dwf" -o "$T/dwf/out/function.zip" >"$T/build.log" 2>&1; then
  fail serve_jssdk_build "dwf build failed: $(tail -c 400 "$T/build.log")"; exit 0
fi

if ! serve_start "$T/serve" --store "$T/store.db" \
     --function "order-js=$T/js" --command "node $NODE_MODULES/aws-lambda-ric/index.mjs index.handler" \
       --handler index.handler --runtime AWS_Lambda_nodejs20.x --memory 256 --timeout 30 \
     "$T/dwf/out/function.zip" --name order-dwf; then
  fail serve_jssdk_start "dwf serve did not start: $(tail -c 600 "$T/serve.err")"; exit 0
fi

invoke() { # NAME -> prints the execution ARN; body in $T/NAME.json
  curl -s -D "$T/$1.h" -o "$T/$1.json" --max-time 120 -X POST \
    "http://127.0.0.1:$SERVE_PORT/2015-03-31/functions/$1:%24LATEST/invocations" -d '{"orderId":"ORD-JS"}'
  sed -n 's/^X-Amz-Durable-Execution-Arn: \(.*\)\r$/\1/p' "$T/$1.h"
}
start=$(date +%s%N)
js_arn=$(invoke order-js)
js_ms=$(( ($(date +%s%N) - start) / 1000000 ))
dwf_arn=$(invoke order-dwf)

python3 - "$T/order-js.json" "$js_ms" <<'EOF' || true
import json, sys
b = json.load(open(sys.argv[1])) if open(sys.argv[1]).read().strip() else None
ok = isinstance(b, dict) and b.get("orderId") == "ORD-JS" and \
     [b["steps"][k]["status"] for k in ("validation", "payment", "confirmation")] == ["validated", "paid", "confirmed"]
print("PASS serve_jssdk_order_result" if ok else "FAIL serve_jssdk_order_result: %r" % (b,))
ms = int(sys.argv[2])
print("PASS serve_jssdk_wait_real (%d ms)" % ms if ms >= 1000 else "FAIL serve_jssdk_wait_real: the 1 s wait took %d ms" % ms)
EOF

if [ -z "$js_arn" ] || [ -z "$dwf_arn" ]; then
  fail serve_jssdk_history "no execution ARN (js '$js_arn', dwf '$dwf_arn'): $(tail -c 800 "$T/serve.err")"; exit 0
fi
"$DWF" history "$js_arn" --json --store "$T/store.db" >"$T/js.ops" 2>"$T/hist.err"
"$DWF" history "$dwf_arn" --json --store "$T/store.db" >"$T/dwf.ops" 2>>"$T/hist.err"
python3 - "$T/js.ops" "$T/dwf.ops" <<'EOF'
import json, sys
def rows(path):
    ops = json.load(open(path))["Operations"]
    out = []
    for o in ops:
        r = {k: o.get(k) for k in ("Id", "ParentId", "Name", "Type", "SubType", "Status")}
        r["Attempt"] = (o.get("StepDetails") or {}).get("Attempt")
        if o.get("Type") == "EXECUTION": r["Id"] = "<execution>"
        out.append(r)
    return out
try:
    js, dw = rows(sys.argv[1]), rows(sys.argv[2])
except Exception as e:
    print("FAIL serve_jssdk_history: cannot read the histories: %s" % e); sys.exit(0)
types = [r["Type"] for r in js]
if types != ["EXECUTION", "STEP", "STEP", "WAIT", "STEP"]:
    print("FAIL serve_jssdk_history: the JS execution's operations are %r" % types)
elif js != dw:
    diff = [(a, b) for a, b in zip(js, dw) if a != b] or [(len(js), len(dw))]
    print("FAIL serve_jssdk_history: JS and .dwf differ: %r" % diff[:3])
else:
    print("PASS serve_jssdk_history_matches_dwf (%d operations)" % len(js))
EOF
serve_stop || fail serve_jssdk_clean_exit "dwf serve exited non-zero: $(tail -c 300 "$T/serve.err")"
exit 0
