#!/usr/bin/env bash
# bench/throughput.sh: executions per second of a three-step workflow on `dwf serve`, driven by the
# official AWS client (@aws-sdk/client-lambda) as a user's load test would, beside the same
# function written with the official durable SDK on the same serve, and the same workflow on the
# embedded engine.
#
#   bash bench/throughput.sh [--sizes "1000 10000"] [--js N] [--sync N] [--engine N] [--worker N]
#                            [--concurrency C] [--clients K]
#                                                      (BUILD=build/bench: make BUILD=build/bench first)
#
# Rows, each on a fresh store and a fresh `dwf serve` (one function, bench/throughput/three_steps):
#   dwf, event, N      N asynchronous Invokes (bench/throughput/drive.mjs: K client processes,
#                      default 2, at most 64 in flight in all, each with its own
#                      DurableExecutionName); executions/s = N / (last execution's EndTimestamp -
#                      first Invoke sent); p50/p99 from an Invoke sent to its execution's end; the
#                      clients' send rate (N / time until the last Invoke was answered) and the tail
#                      (last end - last Invoke answered): a long tail means serve was the bound, a
#                      short one the client;
#   js, event, N       the same with three_steps.mjs under aws-lambda-ric (default N = 1000: the
#                      Node function is much slower, and the ratio is what matters);
#   dwf, sync, N       N RequestResponse Invokes sent at once; wall time until all answered;
#   engine, N          N `dwf run`s of three_steps.dwf on one store, two at a time (each a process:
#                      start-up and loading the cached handler included), executions/s;
#   worker, N          N executions of three_steps_gated.dwf (the same steps behind a callback)
#                      created with `dwf run --detach` and their callbacks answered, untimed; then
#                      one `dwf worker --concurrency C` (default 2) drives all N: executions/s =
#                      N / (last EndTimestamp - worker start), peak RSS of the worker.
# For each serve row: CPU time per execution of the client processes, of serve (every thread) and
# of the function's processes (those still running at the end; --idle-timeout retires none
# during a row), so that which side used the 2 cores shows; fdatasync+fsync calls made by serve while the row ran (perf stat on the
# syscalls tracepoints of serve's process, every thread; the function processes write nothing to
# the store) per execution, when perf is installed and allowed (else that column is empty), and
# the peak RSS (VmHWM) of serve and of the function's process(es), read before serve stops. Every execution must SUCCEED with its result, or the row fails and no
# figure is printed for it.
#
# stdout: one JSON line per row; then a Markdown table. Nothing is written to bench/RESULTS.md by
# the script: paste the table there with the date, machine and load.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build/bench}
DWF=${DWF:-$PWD/$BUILD/dwf}
SIZES="1000 10000" JS_N=1000 SYNC_N=1000 ENGINE_N=1000 WORKER_N=1000 CONC=2 CLIENTS=2
while [ $# -gt 0 ]; do
  case $1 in
    --sizes) SIZES=$2; shift 2;;
    --js) JS_N=$2; shift 2;;
    --sync) SYNC_N=$2; shift 2;;
    --engine) ENGINE_N=$2; shift 2;;
    --worker) WORKER_N=$2; shift 2;;
    --concurrency) CONC=$2; shift 2;;
    --clients) CLIENTS=$2; shift 2;;
    *) echo "usage: bench/throughput.sh [--sizes \"N...\"] [--js N] [--sync N] [--engine N] [--worker N]" \
         "[--concurrency C] [--clients K]" >&2; exit 2;;
  esac
done
die() { echo "throughput: $*" >&2; exit 1; }
[ -x "$DWF" ] || die "$DWF is not built (make BUILD=$BUILD)"
NODE_MODULES=$PWD/tests/node/node_modules
[ -f "$NODE_MODULES/aws-lambda-ric/index.mjs" ] || die "tests/node/node_modules is missing (make deps)"
# perf counts serve's fsyncs; without it (not installed, or perf_event_paranoid refuses this
# user) the rows are measured all the same and the fsync column stays empty.
PERF=1
if ! command -v perf >/dev/null; then
  PERF=0; echo "throughput: perf is not installed (apt-get install linux-perf): no fsync counts" >&2
elif ! perf stat -x, -e syscalls:sys_enter_fdatasync -o /dev/null true >/dev/null 2>&1; then
  PERF=0; echo "throughput: perf may not trace syscalls here (perf_event_paranoid): no fsync counts" >&2
fi
. tests/deploy/serve_lib.sh

W=$PWD/$BUILD/throughput-bench
rm -rf "$W" && mkdir -p "$W/js" || die "cannot create $W"
"$DWF" build bench/throughput/three_steps.dwf -o "$W/dwf/function.zip" >"$W/build.log" 2>&1 ||
  die "dwf build failed: $(tail -c 400 "$W/build.log")"
cp bench/throughput/three_steps.mjs "$W/js/index.mjs"
ln -s "$NODE_MODULES" "$W/js/node_modules"
trap 'serve_stop >/dev/null 2>&1' EXIT
ROWS=$W/rows.jsonl
: >"$ROWS"

# utime + stime of a process (every thread), in clock ticks; the command name may hold blanks.
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }
vmhwm_kib() { sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null; }
# The function processes serve started: its descendants (the JS function is node under a shell).
descendants() { local p; for p in $(pgrep -P "$1"); do echo "$p"; descendants "$p"; done; }

# serve_row LABEL KIND(dwf|js) MODE(event|sync) N
serve_row() {
  local label=$1 kind=$2 mode=$3 n=$4 d=$W/$1 fn
  mkdir -p "$d"
  if [ "$kind" = dwf ]; then
    fn=three-steps
    serve_start "$d/serve" --store "$d/store.db" "$W/dwf/function.zip" || die "$label: serve did not start: $(tail -c 400 "$d/serve.err")"
  else
    fn=three-steps-js
    serve_start "$d/serve" --store "$d/store.db" --function "$fn=$W/js" \
      --command "node $NODE_MODULES/aws-lambda-ric/index.mjs index.handler" --handler index.handler \
      --runtime AWS_Lambda_nodejs20.x --memory 256 --timeout 60 ||
      die "$label: serve did not start: $(tail -c 400 "$d/serve.err")"
  fi
  local load0; load0=$(cut -d' ' -f1 /proc/loadavg)
  local perf_pid=
  : >"$d/perf"
  if [ $PERF = 1 ]; then
    perf stat -x, -e syscalls:sys_enter_fdatasync,syscalls:sys_enter_fsync -p "$SERVE_PID" -o "$d/perf" &
    perf_pid=$!
    sleep 0.5
  fi
  node bench/throughput/drive.mjs "http://127.0.0.1:$SERVE_PORT" "$fn" "$n" "$mode" "$label" "$CLIENTS" >"$d/drive.json" 2>"$d/drive.err" ||
    { [ -n "$perf_pid" ] && kill -INT $perf_pid; die "$label: $(tail -c 600 "$d/drive.err")"; }
  [ -n "$perf_pid" ] && { kill -INT $perf_pid; wait $perf_pid 2>/dev/null; }
  local serve_rss fn_rss=0 p r serve_cpu fn_cpu=0
  serve_rss=$(vmhwm_kib "$SERVE_PID")
  serve_cpu=$(cpu_ticks "$SERVE_PID")
  for p in $(descendants "$SERVE_PID"); do
    r=$(vmhwm_kib "$p"); [ -n "$r" ] && [ "$r" -gt "$fn_rss" ] && fn_rss=$r
    r=$(cpu_ticks "$p"); fn_cpu=$((fn_cpu + ${r:-0}))
  done
  serve_stop >/dev/null 2>&1
  python3 - "$d/drive.json" "$d/perf" "$label" "$kind" "$serve_rss" "$fn_rss" "$load0" "$(cut -d' ' -f1 /proc/loadavg)" \
    "$serve_cpu" "$fn_cpu" "$(getconf CLK_TCK)" <<'PY' >>"$ROWS" || die "$label: bad figures"
import json, sys
drive, perf, label, kind, serve_rss, fn_rss, l0, l1, serve_cpu, fn_cpu, hz = sys.argv[1:]
row = json.load(open(drive))
n = row.get("executions") or row.get("invokes")
tick_ms = 1000 / int(hz)
row["cpu_ms_per_execution"] = {  # client processes / serve / the function's processes (still running ones)
    "client": round(row.get("client_cpu_ms", 0) / n, 2), "serve": round(int(serve_cpu or 0) * tick_ms / n, 2),
    "function": round(int(fn_cpu or 0) * tick_ms / n, 2)}
lines = [l for l in open(perf) if "syscalls:sys_enter_f" in l and l.split(",")[0].isdigit()]
syncs = sum(int(l.split(",")[0]) for l in lines) if lines else None
row.update(row=label, kind=kind, fsyncs=syncs, fsyncs_per_execution=round(syncs / n, 2) if lines else None,
           serve_peak_rss_mib=round(int(serve_rss or 0) / 1024, 1),
           function_peak_rss_mib=round(int(fn_rss or 0) / 1024, 1), load=f"{l0} / {l1}")
print(json.dumps(row))
PY
  tail -1 "$ROWS"
}

engine_row() {
  local n=$1 d=$W/engine
  mkdir -p "$d"
  "$DWF" run bench/throughput/three_steps.dwf --json --quiet --store "$d/warm.db" >"$d/warm.out" 2>&1 ||
    die "engine warm-up failed: $(tail -c 400 "$d/warm.out")"
  local load0 a b; load0=$(cut -d' ' -f1 /proc/loadavg)
  a=$(date +%s%N)
  seq 0 $((n - 1)) | xargs -P 2 -I{} "$DWF" run bench/throughput/three_steps.dwf --json --quiet \
    --store "$d/store.db" --input '{"id":"e{}"}' >"$d/out.jsonl" 2>"$d/err" || die "engine: a run failed: $(tail -c 400 "$d/err")"
  b=$(date +%s%N)
  python3 - "$d/out.jsonl" "$n" "$(( (b - a) / 1000000 ))" "$load0" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY' >>"$ROWS" || die "engine: bad results"
import json, sys
out, n, wall, l0, l1 = sys.argv[1:]
text, rows, dec, i = open(out).read(), [], json.JSONDecoder(), 0
while True:  # `dwf run --json` prints one indented object per run: read them one after another
    while i < len(text) and text[i].isspace(): i += 1
    if i >= len(text): break
    r, i = dec.raw_decode(text, i)
    rows.append(r)
ok = [r for r in rows if r.get("Status") == "SUCCEEDED" and (r.get("Result") or {}).get("c", {}).get("confirmed")]
if len(ok) != int(n):
    sys.exit(f"{len(ok)} of {n} SUCCEEDED")
print(json.dumps(dict(row=f"engine-{n}", kind="engine", mode="dwf run x2", executions=int(n), wall_ms=int(wall),
                      executions_per_s=round(int(n) * 1000 / max(1, int(wall))), load=f"{l0} / {l1}")))
PY
  tail -1 "$ROWS"
}

# worker_row N: N gated executions created and released untimed, then driven by one worker.
worker_row() {
  local n=$1 d=$W/worker i
  mkdir -p "$d"
  for ((i = 0; i < n; i++)); do
    "$DWF" run bench/throughput/three_steps_gated.dwf --detach --store "$d/store.db" \
      --input "{\"i\":$i}" >>"$d/started" 2>&1 || die "worker: run --detach failed: $(tail -c 400 "$d/started")"
  done
  grep -o 'dwf callback succeed [^ ]*' "$d/started" | awk '{print $4}' >"$d/ids"
  [ "$(wc -l <"$d/ids")" = "$n" ] || die "worker: $(wc -l <"$d/ids") callbacks for $n executions"
  i=0
  while read -r id; do
    "$DWF" callback succeed "$id" --result "\"e$i\"" --store "$d/store.db" >/dev/null || die "worker: callback failed"
    i=$((i + 1))
  done <"$d/ids"
  local load0 a wpid; load0=$(cut -d' ' -f1 /proc/loadavg)
  a=$(date +%s%3N)
  "$DWF" worker --concurrency "$CONC" --interval 100 --quiet --store "$d/store.db" >/dev/null 2>"$d/worker.err" &
  wpid=$!
  while [ "$("$DWF" executions --status RUNNING --json --store "$d/store.db" | grep -c '"Status"')" != 0 ]; do
    kill -0 $wpid 2>/dev/null || die "worker: dwf worker ended: $(tail -c 400 "$d/worker.err")"
    sleep 0.2
  done
  local rss; rss=$(vmhwm_kib $wpid)
  kill -TERM $wpid; wait $wpid
  "$DWF" executions --json --store "$d/store.db" >"$d/executions.json"
  python3 - "$d/executions.json" "$n" "$a" "$rss" "$CONC" "$load0" "$(cut -d' ' -f1 /proc/loadavg)" <<'PY' >>"$ROWS" ||
import json, sys
path, n, a, rss, conc, l0, l1 = sys.argv[1:]
xs = json.load(open(path))["DurableExecutions"]
ok = [x for x in xs if x["Status"] == "SUCCEEDED"]
if len(ok) != int(n):
    sys.exit(f"{len(ok)} of {n} SUCCEEDED")
span = max(x["EndTimestamp"] for x in ok) * 1000 - int(a)
print(json.dumps(dict(row=f"worker-{n}", kind="engine", mode=f"dwf worker --concurrency {conc}", executions=int(n),
                      span_ms=int(span), executions_per_s=round(int(n) * 1000 / max(1, span)),
                      worker_peak_rss_mib=round(int(rss or 0) / 1024, 1), load=f"{l0} / {l1}")))
PY
    die "worker: bad results"
  tail -1 "$ROWS"
}

for n in $SIZES; do serve_row "dwf-event-$n" dwf event "$n"; done
[ "$JS_N" -gt 0 ] && serve_row "js-event-$JS_N" js event "$JS_N"
[ "$SYNC_N" -gt 0 ] && serve_row "dwf-sync-$SYNC_N" dwf sync "$SYNC_N"
[ "$ENGINE_N" -gt 0 ] && engine_row "$ENGINE_N"
[ "$WORKER_N" -gt 0 ] && worker_row "$WORKER_N"

python3 - "$ROWS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print()
print("| row | executions | executions/s | p50 / p99 (ms) | wall (ms) | sent/s (tail ms) | CPU ms per execution client / serve / function | fsyncs per execution | peak RSS serve / function (MiB) | load before / after |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
for r in rows:
    n = r.get("executions") or r.get("invokes")
    lat = f'{r["p50_ms"]} / {r["p99_ms"]}' if "p50_ms" in r else ""
    wall = r.get("span_ms") or r.get("wall_ms") or ""
    rss = f'{r["serve_peak_rss_mib"]} / {r["function_peak_rss_mib"]}' if "serve_peak_rss_mib" in r else ""
    if "worker_peak_rss_mib" in r: rss = f'{r["worker_peak_rss_mib"]} (worker)'
    fs = r.get("fsyncs_per_execution")
    sent = f'{r["send_per_s"]} ({r["tail_ms"]})' if "send_per_s" in r else ""
    c = r.get("cpu_ms_per_execution")
    cpu = f'{c["client"]} / {c["serve"]} / {c["function"]}' if c else ""
    print(f'| {r["row"]} | {n} | {r.get("executions_per_s", "")} | {lat} | {wall} | {sent} | {cpu} | {"" if fs is None else fs} '
          f'| {rss} | {r["load"]} |')
dwf = {r["executions"]: r for r in rows if r["kind"] == "dwf" and r.get("mode") == "event"}
js = [r for r in rows if r["kind"] == "js"]
if len(dwf) >= 2:
    a, b = sorted(dwf)[0], sorted(dwf)[-1]
    ca, cb = dwf[a]["span_ms"] / a, dwf[b]["span_ms"] / b
    print(f"\ncost per execution at {b} vs {a}: {cb / ca:.2f}x (target <= 1.2x)")
if dwf and js:
    best = max(dwf.values(), key=lambda r: r["executions"])
    print(f"dwf / JS SDK, executions/s: {best['executions_per_s'] / max(1, js[0]['executions_per_s']):.1f}x (target >= 10x)")
PY
