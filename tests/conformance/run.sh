#!/usr/bin/env bash
# Conformance: dwf's embedded engine against the official SDK, workflow by workflow.
#
# The seed's four (order, retry, approval, fanout) are examples/<name>.dwf against seed/<name>.mjs;
# the cases beyond the seed (edge, wfc, names, failing, timeout) are extra/<name>.dwf against extra/<name>.mjs.
# Each .dwf runs with `dwf run` (real time, no --skip-time, its own store; the callback cases with
# --detach, then `dwf callback succeed` and `dwf resume`), then `dwf history ARN --json [--events]`
# is read; the JavaScript function runs afresh on the SDK's LocalDurableTestRunner; compare.mjs prints
# PASS/FAIL lines: same operations (Id, ParentId, Name, Type, SubType, Status, Attempt), same result
# and payload shapes and key order, identical payloads where they hold no clock values, and each
# function's own property (order waits 10 s, retry succeeds on attempt 2, callback text arrives raw,
# failing fails with the SDK's error; fanout's branch finish spread is shown, not checked). The SDK
# runs go in the background while dwf works; the fanout runs go alone, one after the other, so that
# the spread shown is not the other's doing.
#
# Environment: BUILD (default build), DWF (default $BUILD/dwf), KEEP=1 keeps the work directory.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
DWF=${DWF:-$PWD/$BUILD/dwf}
NAMES=${CONFORMANCE_NAMES:-"order retry approval fanout edge wfc names failing timeout"}
APPROVAL_TEXT='{"approved": true, "approver": "manager@example.com"}'
declare -A INPUT=(
  [order]='{"orderId":"ORD-001"}'
  [retry]='{"orderId":"ORD-RETRY-001"}'
  [approval]='{"orderId":"ORD-CALLBACK-001"}'
  [fanout]='{}'
  [edge]='{}'
  [wfc]='{}'
  [names]='{}'
  [failing]='{}'
  [timeout]='{}'
)
# Cases that stop at a callback: the name of the operation (a CALLBACK, or the waitForCallback
# CONTEXT holding one) whose callback the test completes.
declare -A CALLBACK_OP=([approval]=approval [wfc]=manager-approval)
# The seed's four are examples/<name>.dwf; cases beyond the seed are extra/<name>.dwf here.
dwf_file() { if [ -f "tests/conformance/extra/$1.dwf" ]; then echo "tests/conformance/extra/$1.dwf"; else echo "examples/$1.dwf"; fi; }

work=$(mktemp -d /tmp/dwf-conformance.XXXXXX)
if [ -z "${KEEP:-}" ]; then trap 'rm -rf "$work"' EXIT; else echo "# work directory: $work"; fi

fail_all() { for n in $NAMES; do echo "FAIL conformance.$n: $1"; done; exit 0; }

command -v node >/dev/null || fail_all "node is not installed (make deps)"
[ -d tests/node/node_modules/@aws/durable-execution-sdk-js-testing ] ||
  fail_all "tests/node/node_modules lacks the official SDK (make deps, or npm install in tests/node)"
[ -x "$DWF" ] || fail_all "$DWF not built (make BUILD=$BUILD)"

sdk_run() { # name -> $work/sdk_<name>.json
  timeout 180 node --import ./tests/node/register.mjs tests/conformance/sdk_run.mjs "$1" \
    --out "$work/sdk_$1.json" >"$work/sdk_$1.log" 2>&1 ||
    echo "# SDK run of $1 failed: $(tail -n 3 "$work/sdk_$1.log" | tr '\n' ' ')"
}

now_ms() { date +%s%3N; }

# Reads the ExecutionArn out of `dwf run --json` output.
arn_of() { node -e 'try{const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));process.stdout.write(j.ExecutionArn||"")}catch{}' "$1"; }

# The CallbackId of the CALLBACK named $2, or of the CALLBACK inside the operation named $2, in
# `dwf history --json` output $1.
callback_id_of() {
  node -e '
    try {
      const h = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const ops = Array.isArray(h) ? h : h.Operations || h.operations || [];
      const named = ops.find((o) => o.Name === process.argv[2]);
      const op = named && named.Type === "CALLBACK" ? named
        : ops.find((o) => o.Type === "CALLBACK" && named && o.ParentId === named.Id);
      process.stdout.write((op && op.CallbackDetails && op.CallbackDetails.CallbackId) || "");
    } catch {}' "$1" "$2"
}

dwf_run() { # name: runs the example on dwf, leaves run/history (and events) files in $work
  local n=$1 store="$work/store_$1.db" t0 t1 rc arn
  local -a extra=()
  [ -n "${CALLBACK_OP[$n]:-}" ] && extra=(--detach)
  t0=$(now_ms)
  timeout 120 "$DWF" run "$(dwf_file "$n")" --input "${INPUT[$n]}" --json --store "$store" "${extra[@]}" \
    >"$work/dwf_$n.run.json" 2>"$work/dwf_$n.run.err"
  rc=$?
  t1=$(now_ms)
  echo "$rc" >"$work/dwf_$n.exit"
  echo $((t1 - t0)) >"$work/dwf_$n.ms"
  arn=$(arn_of "$work/dwf_$n.run.json")
  if [ -z "$arn" ]; then
    echo "# dwf run $(dwf_file "$n") exited $rc without an ExecutionArn: $(head -c 300 "$work/dwf_$n.run.err" | tr '\n' ' ')"
    return
  fi
  if [ -n "${CALLBACK_OP[$n]:-}" ]; then
    timeout 60 "$DWF" history "$arn" --json --store "$store" >"$work/dwf_$n.pre.json" 2>>"$work/dwf_$n.run.err"
    local cb
    cb=$(callback_id_of "$work/dwf_$n.pre.json" "${CALLBACK_OP[$n]}")
    if [ -z "$cb" ]; then
      echo "# no CALLBACK for '${CALLBACK_OP[$n]}' with a CallbackId in dwf history after --detach"
    else
      timeout 60 "$DWF" callback succeed "$cb" --result "$APPROVAL_TEXT" --store "$store" \
        >>"$work/dwf_$n.run.err" 2>&1 || echo "# dwf callback succeed exited $?"
      timeout 120 "$DWF" resume --store "$store" >>"$work/dwf_$n.run.err" 2>&1 ||
        echo "# dwf resume exited $?"
    fi
  fi
  timeout 60 "$DWF" history "$arn" --json --events --store "$store" >"$work/dwf_$n.events.json" 2>>"$work/dwf_$n.run.err"
  timeout 60 "$DWF" history "$arn" --json --store "$store" >"$work/dwf_$n.history.json" 2>>"$work/dwf_$n.run.err"
}

compare() { # name
  local n=$1
  node tests/conformance/compare.mjs "$n" --sdk "$work/sdk_$n.json" --dwf-events "$work/dwf_$n.events.json" \
    --fixture "tests/conformance/expected/$n.json" \
    --dwf-run "$work/dwf_$n.run.json" --dwf-history "$work/dwf_$n.history.json" \
    --dwf-exit "$(cat "$work/dwf_$n.exit" 2>/dev/null || echo 99)" --dwf-stderr "$work/dwf_$n.run.err" \
    --elapsed-ms "$(cat "$work/dwf_$n.ms" 2>/dev/null || echo 0)" \
    --callback-text "$APPROVAL_TEXT" ||
    echo "FAIL conformance.$n.compare: compare.mjs exited $?"
}

pids=()
for n in $NAMES; do
  [ "$n" = fanout ] && continue
  sdk_run "$n" &
  pids+=($!)
done
for n in $NAMES; do
  [ "$n" = fanout ] && continue
  dwf_run "$n"
done
wait "${pids[@]}" 2>/dev/null
for n in $NAMES; do
  [ "$n" = fanout ] || continue
  sdk_run fanout
  dwf_run fanout
done
for n in $NAMES; do compare "$n"; done
# The comparison itself must be able to fail: feed it defective copies of the SDK's retry run.
if [ -s "$work/sdk_retry.json" ]; then
  fan=-
  [ -s "$work/sdk_fanout.json" ] && fan="$work/sdk_fanout.json"
  edge=()
  [ -s "$work/sdk_edge.json" ] && edge=("$work/sdk_edge.json")
  node tests/conformance/selftest.mjs "$work/sdk_retry.json" "$work" "$fan" "${edge[@]}" ||
    echo "FAIL conformance.harness: selftest.mjs exited $?"
fi
exit 0
