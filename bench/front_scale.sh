#!/usr/bin/env bash
# front_scale.sh: the front end on inputs that used to make it slow or loud (issue 9, item 10).
#
#   unused lets   `dwf check` on a workflow of N `let`s nothing reads (default N = 10,000,
#                 20,000, 40,000 and 80,000): N "unused variable" warnings, each with its source
#                 line. Each warning used to find its line by scanning the file from the top (and
#                 each awaited callback was looked up in a list), so 80,000 lets took 18 s of
#                 CPU; the line index (grammar/diag.c) makes it linear.
#   10 MB line    `dwf check` on a workflow whose array literal fills one 10 MB line, with an
#                 unknown name at its end: bytes printed (a window of the line around the caret,
#                 not the line) and CPU.
# CPU time (user + sys) is the figure compared, best of RUNS (default 3), because the machine may
# be shared; wall time beside it. tests/unit/test_front.c proves the linearity without timing
# (unused_check_is_linear: 20x the lets must cost under 100x the CPU of the small input).
#   bench/front_scale.sh [--write] [N...]     (DWF=build/dwf RUNS=3)
# --write replaces the "## Front end at scale" section of bench/RESULTS.md with the table.
set -euo pipefail
cd "$(dirname "$0")/.."
DWF=${DWF:-build/dwf}
RUNS=${RUNS:-3}
write=0
if [ "${1:-}" = "--write" ]; then write=1; shift; fi
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 20000 40000 80000)
[ -x "$DWF" ] || { echo "no $DWF: run make" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

best() { # runs out cmd...: "wall cpu bytes", wall and cpu the best of `runs` runs; stdout+stderr to out
  python3 - "$@" <<'PY'
import os, resource, subprocess, sys, time
runs, out, cmd = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
bw = bc = None
for _ in range(runs):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(out, "wb") as f:
        subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    w = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    c = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    bw = w if bw is None else min(bw, w)
    bc = c if bc is None else min(bc, c)
print("%.3f %.3f %d" % (bw, bc, os.path.getsize(out)))
PY
}

rows=()
for n in "${sizes[@]}"; do
  awk -v n="$n" 'BEGIN { print "workflow unused_" n " {"; for (i = 0; i < n; i++) printf "  let v%d = %d\n", i, i
                         print "  return null"; print "}" }' >"$tmp/u$n.dwf"
  read -r w c b < <(best "$RUNS" "$tmp/u$n.out" "$DWF" check "$tmp/u$n.dwf")
  warnings=$(grep -c 'warning: unused variable' "$tmp/u$n.out" || true)
  rows+=("$(printf '| %d unused lets | %s s (wall %s) | %d warnings, %d KB printed |' "$n" "$c" "$w" "$warnings" $((b / 1024)))")
done
python3 -c "
import sys
sys.stdout.write('workflow long_line { let x = [' + '1,' * (5 * 1024 * 1024) + ' nope] return x }\n')" >"$tmp/line.dwf"
read -r w c b < <(best "$RUNS" "$tmp/line.out" "$DWF" check "$tmp/line.dwf")
rows+=("$(printf '| one 10 MB line, unknown name at its end | %s s (wall %s) | %d bytes printed |' "$c" "$w" "$b")")

table=$(
  echo "| input | dwf check CPU | output |"
  echo "|---|---:|---|"
  printf '%s\n' "${rows[@]}"
)
echo "$table"

if [ $write -eq 1 ]; then
  machine="$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
  section=$(
    echo "## Front end at scale"
    echo
    echo "\`bench/front_scale.sh\`: \`dwf check\` (\`-O2 -g\`) on many unused \`let\`s and on one 10 MB line;"
    echo "best of $RUNS runs, CPU seconds (user + sys), wall clock in parentheses."
    echo "Recorded $(date -u '+%Y-%m-%d %H:%M UTC') on $machine. Before the line index, 80,000 unused lets"
    echo "took 18 s of CPU (quadratic: each warning scanned the file from the top)."
    echo
    echo "$table"
  )
  SECTION="$section" python3 - bench/RESULTS.md <<'PY'
import os, re, sys
path = sys.argv[1]
new = os.environ["SECTION"].rstrip("\n") + "\n"
text = open(path).read()
m = re.search(r"^## Front end at scale\n.*?(?=^## |\Z)", text, flags=re.S | re.M)
if m:
    text = text[:m.start()] + new + ("\n" if text[m.end():] else "") + text[m.end():]
else:
    text = text.rstrip("\n") + "\n\n" + new
open(path, "w").write(text)
PY
  echo "wrote the Front end at scale section of bench/RESULTS.md"
fi
