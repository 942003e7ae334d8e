#!/usr/bin/env bash
# bench/coldstart.sh: Lambda cold start and memory of a `dwf build` bootstrap against Node.js +
# the official durable SDK, both run by `dwf serve` as Lambda runs them.
#
#   bash bench/coldstart.sh [RUNS]       (default 10 executions per function; BUILD=build/...)
#
# Cold start = from the instant the emulator starts the function's process (just before fork)
# to the first Runtime API /next request that process makes, i.e. everything a runtime does
# before it can take an invocation: exec, dynamic loading, initialisation, loading the handler.
# The emulator measures it itself (CLOCK_MONOTONIC) and logs "cold start N ms" per process.
#
# One emulator serves both functions with --cold (a fresh process for every invocation) and
# --skip-time, and the executions alternate dwf / JS, so both sides see the same machine load:
#   - order-dwf: examples/order.dwf built with `dwf build` (the zip's bootstrap is the program,
#     a static executable), started as Lambda starts provided.al2023 runtimes;
#   - order-js: the seed article's order function (tests/conformance/seed/order.mjs, unchanged)
#     on @aws/durable-execution-sdk-js under aws-lambda-ric@4.0.2 (`node .../index.mjs
#     index.handler`, how the Node.js managed runtime starts).
# The order workflow takes two invocations (before and after its wait), so RUNS executions give
# 2*RUNS cold starts per side. Reported: median, min, max, and the ratio of the medians.
#
# Peak RSS: a second emulator without --cold runs one order execution per side on one warm
# process; the emulator reads /proc/<pid>/status VmHWM when each invocation answers, so the last
# value is the process's peak over the whole example (both invocations, start-up included).
#
# Prints a Markdown section on stdout (the "Lambda cold start" section of bench/RESULTS.md).
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
DWF=${DWF:-$PWD/$BUILD/dwf}
RUNS=${1:-10}
NODE_MODULES=$PWD/tests/node/node_modules

die() { echo "coldstart: $*" >&2; exit 1; }
[ -x "$DWF" ] || die "$DWF is not built (make BUILD=$BUILD)"
command -v node >/dev/null || die "node is not installed (make deps)"
[ -f "$NODE_MODULES/aws-lambda-ric/index.mjs" ] || die "tests/node/node_modules lacks aws-lambda-ric (make deps)"

T=$(mktemp -d "${TMPDIR:-/tmp}/dwf-coldstart.XXXXXX")
SERVE_PID=""
cleanup() { [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

"$DWF" build examples/order.dwf -o "$T/dwf/function.zip" >"$T/build.log" 2>&1 || die "dwf build failed: $(tail -c 400 "$T/build.log")"
mkdir -p "$T/js"
cp tests/conformance/seed/order.mjs "$T/js/index.mjs"
ln -s "$NODE_MODULES" "$T/js/node_modules"

start_serve() { # LOG ARGS...
  local log=$1; shift
  "$DWF" serve --port 0 --store "$T/$log.db" --skip-time "$@" \
    "$T/dwf/function.zip" --name order-dwf \
    --function "order-js=$T/js" --command "node $NODE_MODULES/aws-lambda-ric/index.mjs index.handler" \
      --handler index.handler --runtime AWS_Lambda_nodejs20.x --memory 256 --timeout 30 \
    >"$T/$log.out" 2>"$T/$log.err" &
  SERVE_PID=$!
  PORT=""
  for _ in $(seq 300); do
    PORT=$(sed -n 's|^dwf serve: listening on http://127.0.0.1:\([0-9]*\) .*|\1|p' "$T/$log.out")
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  die "dwf serve did not start: $(tail -c 400 "$T/$log.err")"
}
invoke() { # FN
  local body
  body=$(curl -s --max-time 120 -X POST "http://127.0.0.1:$PORT/2015-03-31/functions/$1:%24LATEST/invocations" \
         -d '{"orderId":"ORD-BENCH"}')
  case "$body" in *'"confirmed"'*) ;; *) die "$1 did not complete: $body";; esac
}
stop_serve() { kill -TERM "$SERVE_PID"; wait "$SERVE_PID"; SERVE_PID=""; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start_serve cold --cold
for i in $(seq "$RUNS"); do invoke order-dwf; invoke order-js; done
stop_serve
start_serve warm
invoke order-dwf
invoke order-js
stop_serve
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

python3 - "$T/cold.err" "$T/warm.err" "$T/dwf/function.zip" "$RUNS" "$load_before" "$load_after" <<'EOF'
import os, platform, re, statistics, subprocess, sys, time
cold, warm, zipf, runs, lb, la = sys.argv[1:]
def starts(log, fn, cpu=False):
    pat = r"dwf serve: %s: cold start ([0-9.]+) ms \(process start to first /next\), CPU ([0-9.-]+) ms" % fn
    return [float(m.group(2 if cpu else 1)) for m in re.finditer(pat, open(log).read())]
def hwm(log, fn):
    v = [int(m.group(1)) for m in re.finditer(r"dwf serve: %s: invocation \S+ answered \S+ in \d+ ms, process VmHWM (\d+) kB" % fn, open(log).read())]
    return v[-1] if v else None
d, j = starts(cold, "order-dwf"), starts(cold, "order-js")
if not d or not j: sys.exit("coldstart: no cold-start lines in the emulator's log")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
md, mj = statistics.median(d), statistics.median(j)
cd, cj = statistics.median(starts(cold, "order-dwf", True)), statistics.median(starts(cold, "order-js", True))
hd, hj = hwm(warm, "order-dwf"), hwm(warm, "order-js")
print("## Lambda cold start\n")
print("`bash bench/coldstart.sh %s` on %s UTC: %d cores, %s, Linux %s, Node %s; load average %s before, %s after"
      % (runs, time.strftime("%Y-%m-%d %H:%M", time.gmtime()), os.cpu_count(), cpu, platform.release(), node, lb, la))
print("(other engineers' builds and tests share the machine: absolute times are inflated, the ratio is fairer,")
print("both sides alternate in one run). Cold start = emulator starts the process -> its first Runtime API")
print("`/next` (`dwf serve --cold`: a new process per invocation; the order example takes two invocations).\n")
print("| runtime | cold starts | median wall (ms) | min (ms) | max (ms) | median CPU (ms) | peak RSS over the order example (VmHWM) |")
print("|---|---:|---:|---:|---:|---:|---:|")
nlib = len([n for n in os.popen("unzip -Z1 %s" % zipf).read().split() if n.startswith("lib/") and n != "lib/"])
print("| dwf bootstrap (`dwf build` zip, %s) | %d | %.1f | %.1f | %.1f | %.1f | %s |"
      % ("bundled loader + %d libraries" % nlib if nlib else "static program",
         len(d), md, min(d), max(d), cd, "%.1f MiB" % (hd / 1024) if hd else "?"))
print("| Node.js + @aws/durable-execution-sdk-js via aws-lambda-ric@4.0.2 | %d | %.1f | %.1f | %.1f | %.1f | %s |"
      % (len(j), mj, min(j), max(j), cj, "%.1f MiB" % (hj / 1024) if hj else "?"))
print("\nCPU = CPU time the process (all its threads, /proc/PID/task/*/schedstat) used before its first `/next`:")
print("what the start-up costs regardless of how long it waited for a core.\n")
print("Ratio of the medians (Node / dwf): **%.1fx** wall, **%.1fx** CPU (target >= 20x: %s). Peak RSS of the bootstrap: %s (target <= 8 MiB: %s)."
      % (mj / md, cj / cd if cd > 0 else float("nan"), "met" if mj / md >= 20 else "NOT met",
         "%.1f MiB" % (hd / 1024) if hd else "?", "met" if hd and hd <= 8192 else "NOT met"))
print("Zip size (order): %s bytes." % format(os.path.getsize(zipf), ","))
EOF
