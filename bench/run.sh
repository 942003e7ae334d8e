#!/usr/bin/env bash
# bench/run.sh: the runtime benchmarks of issue 3 ("Speed and memory"), each beside the official
# SDK doing the same work in the same run, and the "## Runtime" section of bench/RESULTS.md.
#
#   bash bench/run.sh [--no-write] [--quick] [--wait-load L] [--until HH:MM] [--render-only]
#                                                      (BUILD=build/bench: make BUILD=build/bench first)
#
# Runs, in this order (each script says how it measures, in its header):
#   bench/steps.sh    1,000 synced steps: ms per step against fdatasync in the store's directory
#                     (target <= 0.05 ms per step, pipelined: issue 13; was <= 2x fdatasync),
#                     and bench/sdk_steps.mjs with real and with fake timers;
#   bench/replay.sh   resume after N = 0, 1,000, 10,000 finished steps (target 10k/1k <= 12);
#   bench/rss.sh      peak RSS of `dwf run` for 1, 1,000, 10,000 steps (target <= 16 MiB at 10k),
#                     and the SDK's peak RSS for 10,000 steps;
#   bench/fanout.sh   examples/fanout.dwf wall time (target <= 1.1 s) and bench/sdk_fanout.mjs.
# Every store lives under $BUILD/runtime-bench/ (same filesystem as the fsync probe); compile
# time is excluded everywhere (each script compiles its handler once before timing: the engine
# caches the shared object by content). The machine is shared, so the 1-minute load average is
# recorded before and after each benchmark; --wait-load L first waits until it is below L (but
# not past --until HH:MM UTC, after which it runs anyway). --quick is for trying the harness:
# smaller N and fewer runs, and never writes RESULTS.md. --render-only measures nothing: it
# renders (and writes) the section again from the JSON lines of the last run.
#
# The raw JSON lines go to $BUILD/runtime-bench/results.jsonl. Without --no-write, the measured
# part of "## Runtime" in bench/RESULTS.md is replaced; a "### Where the time and memory go"
# subsection written by hand below it is kept as it is (it is dated; re-check it against the new
# figures). Other sections of RESULTS.md belong to other benchmarks and are left alone.
set -u
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build/bench}
DWF=${DWF:-$BUILD/dwf}
WRITE=1 QUICK=0 WAIT_LOAD= UNTIL= RENDER_ONLY=0
while [ $# -gt 0 ]; do
  case $1 in
    --no-write) WRITE=0; shift;;
    --quick) QUICK=1; WRITE=0; shift;;
    --wait-load) WAIT_LOAD=$2; shift 2;;
    --until) UNTIL=$2; shift 2;;
    --render-only) RENDER_ONLY=1; shift;;
    *) echo "usage: bench/run.sh [--no-write] [--quick] [--wait-load L] [--until HH:MM] [--render-only]" >&2; exit 2;;
  esac
done
die() { echo "run: $*" >&2; exit 1; }
[ -x "$DWF" ] || die "$DWF is not built (make BUILD=$BUILD)"
command -v node >/dev/null || die "node is not installed (make deps)"
W=$BUILD/runtime-bench
mkdir -p "$W" || die "cannot create $W"
OUT=$W/results.jsonl
[ "$RENDER_ONLY" = 1 ] || : >"$OUT"

load1() { cut -d' ' -f1 /proc/loadavg; }
if [ -n "$WAIT_LOAD" ] && [ "$RENDER_ONLY" = 0 ]; then
  while [ "$(echo "$(load1) >= $WAIT_LOAD" | bc -l)" = 1 ]; do
    if [ -n "$UNTIL" ] && [ "$(date -u +%H:%M)" \> "$UNTIL" ]; then
      echo "run: load $(load1) still >= $WAIT_LOAD at $(date -u +%H:%M); measuring anyway" >&2
      break
    fi
    echo "run: load average $(cut -d' ' -f1-3 /proc/loadavg), waiting for < $WAIT_LOAD" >&2
    sleep 30
  done
fi

# bench NAME SCRIPT ARGS...: run one benchmark, keep its JSON lines, tag them with the load.
bench() {
  local name=$1; shift
  local before after
  before=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "run: $name (load $before)" >&2
  bash "$@" >"$W/$name.jsonl" || die "$name failed (see above)"
  after=$(cut -d' ' -f1-3 /proc/loadavg)
  cat "$W/$name.jsonl" >>"$OUT"
  echo "{\"bench\":\"load\",\"name\":\"$name\",\"before\":\"$before\",\"after\":\"$after\"}" >>"$OUT"
}
if [ "$RENDER_ONLY" = 1 ]; then
  [ -s "$OUT" ] || die "no $OUT to render"
elif [ "$QUICK" = 1 ]; then
  bench steps bench/steps.sh --steps 200 --runs 2 --sdk-skip-time
  bench replay bench/replay.sh --rounds 2 0 200 2000
  bench rss bench/rss.sh 1 200 2000
  bench fanout bench/fanout.sh --runs 2
else
  bench steps bench/steps.sh --steps 1000 --runs 3 --sdk-skip-time
  bench replay bench/replay.sh --rounds 3 0 1000 10000
  bench rss bench/rss.sh 1 1000 10000
  bench fanout bench/fanout.sh --runs 5
fi

[ "$RENDER_ONLY" = 1 ] || echo "{\"bench\":\"meta\",\"when\":\"$(date -u '+%Y-%m-%d %H:%M UTC')\"}" >>"$OUT"
store_dir=$(realpath "$W")
dev=$(df --output=source "$store_dir" | tail -1)
fs=$(findmnt -no FSTYPE,OPTIONS -T "$store_dir" | awk '{print $1 " (" $2 ")"}')
blk=$(basename "$dev")
rot=$(cat "/sys/class/block/$blk/queue/rotational" 2>/dev/null || echo "?")
model=$(cat "/sys/class/block/$blk/device/model" 2>/dev/null | sed 's/ *$//')
[ -n "$model" ] || model=$( [ -e "/sys/class/block/$blk/device/driver" ] && basename "$(readlink "/sys/class/block/$blk/device/driver")" )
export MACHINE="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), Linux $(uname -r), $(. /etc/os-release && echo "$PRETTY_NAME")"
export DISK="$dev (${model:+$model, }reports rotational=$rot), $fs"
export STORE_DIR=$store_dir
export WHEN=$(date -u '+%Y-%m-%d %H:%M UTC')
export VERSIONS="SQLite $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)' 2>/dev/null || echo '?') (WAL, synchronous=NORMAL, the log fdatasync'd by the store once per commit batch), Node $(node --version), $(${CC:-cc} --version | head -1)"

section=$(python3 - "$OUT" <<'PY'
import json, os, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def one(bench, **kw):
    for l in lines:
        if l.get("bench") == bench and all(l.get(k) == v for k, v in kw.items()):
            return l
    return None
load = {l["name"]: l for l in lines if l.get("bench") == "load"}
st, rp, rs, fo = one("dwf_steps", summary=True), one("dwf_replay", summary=True), one("dwf_rss", summary=True), one("dwf_fanout", summary=True)
sdk_steps = one("sdk_steps", summary=True, skip_time=False)
sdk_fan = one("sdk_fanout", summary=True)
sdk_rss = [l for l in lines if l.get("bench") == "sdk_steps" and l.get("summary") and l.get("steps") == rs["steps"]]
sdk_rss = sdk_rss[-1] if sdk_rss else None
verdict = lambda ok: "met" if ok else "**MISSED**"
ld = lambda n: f"{load[n]['before'].split()[0]} / {load[n]['after'].split()[0]}"
P = print
P("## Runtime")
P()
P(f"`bash bench/run.sh` (BUILD=build/bench, `-O2 -g`), recorded {(one('meta') or {}).get('when', os.environ['WHEN'])}.")
P(f"Machine: {os.environ['MACHINE']}. Store and fsync probe: {os.environ['STORE_DIR']} on {os.environ['DISK']}.")
P(f"{os.environ['VERSIONS']}. The official SDK is @aws/durable-execution-sdk-js on its LocalDurableTestRunner "
  "(bench/sdk_*.mjs), run by the same scripts right after dwf.")
P("Compile time is excluded from every dwf figure: each script runs its workflow once first, which")
P("compiles the handler into the engine's cache; the timed runs load the cached shared object.")
P("The machine is shared with other engineers' builds: the 1-minute load average before / after")
P("each benchmark is in the last column.")
P()
P("| figure | dwf | target | official SDK, same run | SDK / dwf | load |")
P("|---|---:|---|---:|---:|---|")
sdk_s = f"{sdk_steps['median_ms_per_step']} ms (real timers)" if sdk_steps else "n/a"
if st.get("sdk_skip_time_ms_per_step"):
    sdk_s += f"; {st['sdk_skip_time_ms_per_step']} ms (fake timers, skipTime)"
ratio_s = f"{st['sdk_over_dwf']}x" if st.get("sdk_over_dwf") else "n/a"
if st.get("sdk_skip_time_over_dwf"):
    ratio_s += f"; {st['sdk_skip_time_over_dwf']}x"
P(f"| {st['steps']:,} synced steps, time per step | {st['median_ms_per_step']} ms = **{st['step_over_fdatasync']}x** fdatasync "
  f"({st['fdatasync_median_ms']} ms) | <= {st['target_ms_per_step']} ms per step (steps.sh's target: pipelined, issue 13): "
  f"{verdict(st['met'])} | {sdk_s} | {ratio_s} | {ld('steps')} |")
if "ratio_wall" in rp:
    a, b = rp["sizes"]["1000"], rp["sizes"]["10000"]
    P(f"| resume after 10,000 vs 1,000 steps | **{rp['ratio_wall']}x** ({b['resume_wall_ms']:.0f} vs {a['resume_wall_ms']:.0f} ms wall; "
      f"CPU {rp['ratio_cpu']}x; invocation alone {rp['ratio_invocation']}x) | <= 12x: {verdict(rp['met'])} | n/a (in-memory runner) | n/a | {ld('replay')} |")
sdk_r = f"{sdk_rss['peak_rss_kib'] / 1024:.1f} MiB (whole Node process)" if sdk_rss else "n/a"
P(f"| peak RSS, {rs['steps']:,}-step run | **{rs['peak_mib']} MiB** | <= 16 MiB: {verdict(rs['met'])} | {sdk_r} | "
  f"{str(rs['sdk_over_dwf']) + 'x' if rs.get('sdk_over_dwf') else 'n/a'} | {ld('rss')} |")
P(f"| fanout example, wall | **{fo['median_wall_ms']:.0f} ms** (median of {fo['runs']}, whole process) | <= 1,100 ms: {verdict(fo['met'])} | "
  f"{fo['sdk_median_wall_ms']:.0f} ms (runner.run only) | {fo['sdk_over_dwf']}x | {ld('fanout')} |")
P()
P("Details (every figure is a median unless it says otherwise; raw JSON lines in build/bench/runtime-bench/results.jsonl):")
P()
runs = [l for l in lines if l.get("bench") == "dwf_steps" and not l.get("summary")]
P(f"- **Steps** (bench/steps.sh): {st['runs']} runs of {st['steps']:,} steps, "
  f"{', '.join(str(r['ms_per_step']) for r in runs)} ms/step "
  f"(CPU {', '.join('%.2f' % ((r['cpu_user_s'] + r['cpu_system_s']) * 1000 / r['steps']) for r in runs)} ms/step); "
  f"fdatasync probes (append 4 KiB + fdatasync, 200 rounds each, before, between and after the runs): "
  f"medians {', '.join(str(x) for x in st['fdatasync_probe_medians_ms'])} ms. The SDK's runner keeps its "
  f"checkpoints in memory (nothing is synced), so the comparison favours it.")
P(f"- **Replay** (bench/replay.sh): `dwf resume` after N finished steps, {rp['rounds']} rounds per N:")
P()
P("  | N | resume, process wall | resume, CPU | the invocation alone | dwf run of the N steps (setup) |")
P("  |---:|---:|---:|---:|---:|")
for n, r in rp["sizes"].items():
    P(f"  | {int(n):,} | {r['resume_wall_ms']:.1f} ms | {r['resume_cpu_ms']:.0f} ms | {r['invocation_ms']:.1f} ms | {r['setup_run_ms'] / 1000:.1f} s |")
P()
P("- **Peak RSS** (bench/rss.sh, /usr/bin/time max RSS of `dwf run`): " +
  ", ".join(f"{int(n):,} steps {k / 1024:.1f} MiB" for n, k in rs["maxrss_kib"].items()) +
  (f"; SDK {sdk_rss['peak_rss_kib'] / 1024:.1f} MiB for {sdk_rss['steps']:,} steps "
   f"({sdk_rss['rss_after_load_kib'] / 1024:.1f} MiB after loading Node and the SDK)." if sdk_rss else "."))
fr = [l for l in lines if l.get("bench") == "dwf_fanout" and not l.get("summary")]
P(f"- **Fanout** (bench/fanout.sh, {fo['runs']} runs): process wall {', '.join('%.0f' % r['wall_ms'] for r in fr)} ms; "
  f"execution (service Start to End) {fo['median_execution_ms']} ms; parallel {fo['median_parallel_ms']} ms, "
  f"map {fo['median_map_ms']} ms; branches finished at +{', +'.join(str(x) for x in fr[len(fr) // 2]['branch_finish_offsets_ms'])} ms "
  f"(500/300/400 ms branches overlap); CPU {fo['median_cpu_ms']} ms. "
  f"SDK: parallel {sdk_fan['median_parallel_ms']} ms, map {sdk_fan['median_map_ms']} ms (one after another)."
  if sdk_fan else "")
PY
) || die "cannot render the Runtime section"
echo "$section"

if [ "$WRITE" = 1 ]; then
  SECTION="$section" python3 - bench/RESULTS.md <<'EOF'
import os, re, sys
path = sys.argv[1]
new = os.environ["SECTION"].rstrip("\n") + "\n"
text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
m = re.search(r"^## Runtime\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
if m:
    old = m.group(0)
    keep = re.search(r"^### Where the time and memory go\n.*", old, flags=re.S | re.M)
    if keep:
        new += "\n" + keep.group(0).rstrip("\n") + "\n"
    text = text[:m.start()] + new + ("\n" if text[m.end():] else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + new
open(path, "w").write(text)
EOF
  echo "run: wrote the Runtime section of bench/RESULTS.md" >&2
fi
