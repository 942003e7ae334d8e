#!/usr/bin/env bash
# The CLI's views of the store: `dwf callbacks` (what waits for an answer, and the command that
# gives it), `dwf history --format tree|timeline|svg` (operations nested by ParentId; where the
# time went) and `dwf executions` (function, duration, error type; --status, --function).
# Structure is checked on the computed rows (`--json`), never on how long anything took; the
# text and SVG pictures are checked for what they must show (nesting, overlap, gaps, escaping,
# well-formed XML); a --skip-time jump purges no other execution. tests/cli/timeline.json is a
# hand-written execution with known times, so its pictures are exact. Prints "PASS name" / "FAIL name: why" lines.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DWF=${DWF:-$ROOT/build/dwf}
EX=$ROOT/examples
FIX=$ROOT/tests/cli/timeline.json
T=$(mktemp -d /tmp/dwf-cli-views.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
# check NAME PYTHON_FILE_ARG...: run the python on stdin-less args; pass if it exits 0.
check() {
  local name=$1
  shift
  if python3 - "$@" >py.out 2>&1; then pass "$name"; else fail "$name" "$(tail -c 400 py.out)"; fi
}

if [ ! -x "$DWF" ]; then fail cli_views_dwf "no $DWF (build first)"; exit 0; fi
if ! command -v xmllint >/dev/null; then fail cli_views_xmllint "no xmllint (make deps installs libxml2-utils)"; exit 0; fi

# ---- a known execution (--file): exact rows and pictures --------------------------------------
"$DWF" history --file "$FIX" --format timeline --json >fx.json 2>fx.err || fail cli_views_file_json "$(cat fx.err)"
check cli_views_rows_retry_gap fx.json <<'EOF'
import json, sys
rows = {r["Id"]: r for r in json.load(open(sys.argv[1]))["Rows"]}
segs = [(s["Kind"], s["Start"], s["End"], s.get("Attempt")) for s in rows["s1"]["Segments"]]
assert segs == [("failed", 1000.5, 1000.6, 1), ("retry", 1000.6, 1002.6, None), ("run", 1002.6, 1002.7, 2)], segs
assert rows["s1"]["Attempts"] == 2, rows["s1"]
assert [(s["Kind"], s["Start"], s["End"]) for s in rows["w1"]["Segments"]] == [("wait", 1005, 1009)]
assert [s["Kind"] for s in rows["c1"]["Segments"]] == ["external"]
runs = [(s["Start"], s["End"]) for s in rows["exec-1"]["Segments"] if s["Kind"] == "run"]
assert runs == [(1000, 1000.7), (1002.6, 1005), (1009, 1009.1), (1009.9, 1010)], runs
EOF
check cli_views_rows_nesting fx.json <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))["Rows"]
order = [(r["Id"], r["Depth"]) for r in rows]
assert order == [("exec-1", 0), ("s1", 1), ("p1", 1), ("b1", 2), ("b1s", 3), ("b2", 2), ("b2s", 3), ("w1", 1), ("c1", 1)], order
b = [r for r in rows if r.get("SubType") == "ParallelBranch"]
assert max(r["Start"] for r in b) < min(r["End"] for r in b), "branches do not overlap"
assert [r.get("ErrorType") for r in b] == [None, "StepError"]
EOF
"$DWF" history --file "$FIX" --format tree >fx.tree 2>&1
if grep -qx '├─ charge  *Step  *SUCCEEDED  *2.20 s  attempts 2' fx.tree &&
   grep -qx '│  └─ parallel-branch-1  *ParallelBranch  *FAILED  *1.00 s  StepError' fx.tree &&
   grep -qx '│     └─ fraud <check> & "more"  *Step  *FAILED  *1.00 s  attempt 1  Fraud' fx.tree &&
   grep -qx '└─ approval  *Callback  *SUCCEEDED  *1.00 s' fx.tree; then pass cli_views_tree_text
else fail cli_views_tree_text "$(cat fx.tree)"; fi
"$DWF" history --file "$FIX" --format timeline --width 100 >fx.txt 2>&1
check cli_views_timeline_text fx.txt <<'EOF'
import sys
lines = open(sys.argv[1], encoding="utf-8").read().split("\n")
def bar(label):
    l = next(l for l in lines if l.strip().startswith(label))
    cells = l[30:30 + 46]   # the label column is 30 wide at --width 100
    return {i for i, c in enumerate(cells) if c != " "}, cells
b0, _ = bar("parallel-branch-0")
b1, _ = bar("parallel-branch-1")
assert b0 & b1, "the branches share no column"
_, charge = bar("charge")
s = charge.strip()
assert s[0] == "\u2593" and s[-1] == "\u2588" and set(s[1:-1]) == {"-"}, repr(s)  # failed, retry gap, ran
_, wait = bar("(Wait)")
assert set(wait.strip()) == {"\u00b7"}, repr(wait)
assert lines[-2].startswith("where the time went (10.0 s in all"), lines[-2]
assert lines[-2].endswith("3.30 s running, 2.00 s retry delays, 4.00 s timers, 1.00 s callbacks and invokes"), lines[-2]
EOF
"$DWF" history --file "$FIX" --format svg >fx1.svg 2>&1; "$DWF" history --file "$FIX" --format svg >fx2.svg 2>&1
if xmllint --noout fx1.svg 2>xml.err && cmp -s fx1.svg fx2.svg &&
   grep -qF 'fraud &lt;check&gt; &amp; &quot;more&quot;' fx1.svg && ! grep -q '<check>' fx1.svg; then
  pass cli_views_svg_file
else fail cli_views_svg_file "$(head -c 300 xml.err)"; fi

# ---- fanout: a map's items nest under the map, a parallel's branches under the parallel --------
S=$T/v.db
"$DWF" run "$EX/fanout.dwf" --skip-time --quiet --store "$S" >fan.out 2>&1
FARN=$(sed -n 's/^started //p' fan.out)
"$DWF" history "$FARN" --format tree --json --store "$S" >fan.json 2>fan.err
check cli_views_fanout_tree fan.json <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))["Rows"]
by = {r["Id"]: r for r in rows}
m = [r for r in rows if r.get("SubType") == "Map"]
assert len(m) == 1 and m[0]["Depth"] == 1, m
items = [r for r in rows if r.get("SubType") == "MapIteration"]
assert len(items) == 3 and all(r["ParentId"] == m[0]["Id"] and r["Depth"] == 2 for r in items), items
for i, it in enumerate(items):
    steps = [r for r in rows if r.get("ParentId") == it["Id"]]
    assert [s["Name"] for s in steps] == ["process-item-%d" % i] and steps[0]["Depth"] == 3, steps
    # depth-first: the item's step follows the item directly
    assert rows.index(steps[0]) == rows.index(it) + 1
p = [r for r in rows if r.get("SubType") == "Parallel"][0]
br = [r for r in rows if r.get("SubType") == "ParallelBranch"]
assert len(br) == 3 and all(b["ParentId"] == p["Id"] and b["Depth"] == 2 for b in br), br
EOF
"$DWF" history "$FARN" --format tree --store "$S" >fan.tree 2>&1
if grep -qE '^└─ \(Map\) ' fan.tree && grep -qE '^   ├─ map-item-0 ' fan.tree &&
   grep -qE '^   │  └─ process-item-0 ' fan.tree && grep -qE '^      └─ process-item-2 ' fan.tree; then
  pass cli_views_fanout_tree_text
else fail cli_views_fanout_tree_text "$(cat fan.tree)"; fi

# ---- a parallel whose branches meet: they overlap in the rows --------------------------------
# meet(n) returns only once n callers are in it at the same time, so the branches' steps run
# at the same time however loaded the machine is; the rows must then overlap.
cat >meet.c <<'EOF'
#include <stdatomic.h>
#include <time.h>
#include "dwf.h"
static atomic_int arrived;
cJSON *meet(dwf_ctx *c, int argc, cJSON *const *argv)
{
    int n = argc == 1 && cJSON_IsNumber(argv[0]) ? (int)argv[0]->valuedouble : 0;
    atomic_fetch_add(&arrived, 1);
    for (int i = 0; i < 120000 && atomic_load(&arrived) < n; i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    if (atomic_load(&arrived) < n) {
        dwf_fail(c, "NotConcurrent", "the other branches never came");
        return NULL;
    }
    return cJSON_CreateTrue();
}
EOF
cat >meet.dwf <<'EOF'
use "meet.c"
workflow meet_views {
  lambda { name = "meet-views" }
  parallel all {
    branch { step a "meet-a" retry { attempts 1 } { call meet(3) return 1 } return a }
    branch { step b "meet-b" retry { attempts 1 } { call meet(3) return 2 } return b }
    branch { step c "meet-c" retry { attempts 1 } { call meet(3) return 3 } return c }
  }
  return all.successCount
}
EOF
"$DWF" run meet.dwf --quiet --store "$S" >meet.out 2>&1; rc=$?
MARN=$(sed -n 's/^started //p' meet.out)
"$DWF" history "$MARN" --format timeline --json --store "$S" >meet.json 2>meet.err
if [ $rc -ne 0 ]; then fail cli_views_parallel_overlap "meet run rc=$rc $(tail -c 300 meet.out)"
else check cli_views_parallel_overlap meet.json <<'EOF'
import json, sys
rows = json.load(open(sys.argv[1]))["Rows"]
br = [r for r in rows if r.get("SubType") == "ParallelBranch"]
assert len(br) == 3, br
assert max(r["Start"] for r in br) <= min(r["End"] for r in br), [(r["Start"], r["End"]) for r in br]
steps = [r for r in rows if r.get("Name", "").startswith("meet-")]
assert len(steps) == 3 and all(rows[rows.index(s) - 1]["SubType"] == "ParallelBranch" for s in steps)
EOF
fi

# A slow step shows its time: the service stamps a step's start when the START arrives, and a
# START that waited for the step's SUCCEED (the first step, or steps in parallel branches) made a
# 1.5 s step look like 0 ms. Lower bounds only (half the time the bodies surely took).
cp "$EX/fanout_work.c" .
cat >slow.dwf <<'EOF'
use "fanout_work.c"
workflow slow_views {
  lambda { name = "slow-views" }
  step first "slow-first" { call spin(1500) return 1 }
  parallel all {
    branch { step a "spin-a" { call spin(600) return 1 } return a }
    branch { step b "spin-b" { call spin(800) return 2 } return b }
  }
  return first
}
EOF
"$DWF" run slow.dwf --quiet --store "$S" >slow.out 2>&1; rc=$?
"$DWF" history "$(sed -n 's/^started //p' slow.out)" --format timeline --json --store "$S" >slow.json 2>&1
if [ $rc -ne 0 ]; then fail cli_views_slow_steps_take_time "slow run rc=$rc $(tail -c 300 slow.out)"
else check cli_views_slow_steps_take_time slow.json <<'EOF'
import json, sys
rows = {r.get("Name"): r for r in json.load(open(sys.argv[1]))["Rows"]}
took = {n: rows[n]["End"] - rows[n]["Start"] for n in ("slow-first", "spin-a", "spin-b")}
assert took["slow-first"] >= 0.75 and took["spin-a"] >= 0.3 and took["spin-b"] >= 0.4, took
EOF
fi

# ---- hostile names stay text -----------------------------------------------------------------
cat >hostile.dwf <<'EOF'
workflow hostile {
  step a "<script>alert('x')</script>" { return 1 }
  step b "& <b>bold</b> \"q\"" { return 2 }
  step c "<script>&\"" { return 3 }
  return a + b + c
}
EOF
"$DWF" run hostile.dwf --quiet --store "$S" >h.out 2>&1
HARN=$(sed -n 's/^started //p' h.out)
"$DWF" history "$HARN" --format svg --store "$S" >h.svg 2>h.err
if xmllint --noout h.svg 2>xml.err &&
   [ "$(xmllint --xpath 'count(//*[local-name()="script" or local-name()="b"])' h.svg 2>/dev/null)" = 0 ] &&
   grep -qF '&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;' h.svg &&
   grep -qF '&amp; &lt;b&gt;bold&lt;/b&gt; &quot;q&quot;' h.svg && grep -qF '&lt;script&gt;&amp;&quot;' h.svg; then
  pass cli_views_svg_escapes
else fail cli_views_svg_escapes "$(head -c 300 xml.err h.err h.out)"; fi
# The same names in the workflow's graph (Graphviz's SVG; labels quote names as the .dwf writes them)
# and in the text views stay the characters written.
"$DWF" graph hostile.dwf --format svg -o hg.svg >hg.out 2>&1
"$DWF" history "$HARN" --format tree --store "$S" >h.tree 2>&1
if xmllint --noout hg.svg 2>xml.err &&
   [ "$(xmllint --xpath 'count(//*[local-name()="script" or local-name()="b"])' hg.svg 2>/dev/null)" = 0 ] &&
   grep -qF 'step c &quot;&lt;script&gt;&amp;\&quot;&quot;' hg.svg && grep -qF 'alert(&#39;x&#39;)&lt;/script&gt;' hg.svg &&
   grep -qF '<script>&"' h.tree; then pass cli_views_graph_svg_escapes
else fail cli_views_graph_svg_escapes "$(head -c 300 xml.err hg.out; grep -o '<text[^>]*>[^<]*script[^<]*' hg.svg)"; fi
# The language refuses control characters in names; an exported execution may still hold
# them: the SVG stays well-formed, and text output never drives the terminal.
cat >ctl.json <<'EOF'
{"Operations":[{"Id":"e","Type":"EXECUTION","Status":"SUCCEEDED","StartTimestamp":1,"EndTimestamp":2},
 {"Id":"s","Name":"bell\u0007 esc\u001b[2J end","Type":"STEP","Status":"SUCCEEDED","StartTimestamp":1,"EndTimestamp":2}]}
EOF
"$DWF" history --file ctl.json --format svg >ctl.svg 2>ctl.err
"$DWF" history --file ctl.json --format tree >ctl.tree 2>&1
"$DWF" history --file ctl.json --format timeline >ctl.txt 2>&1
if xmllint --noout ctl.svg 2>xml.err && grep -qF $'bell\xef\xbf\xbd esc\xef\xbf\xbd[2J end' ctl.svg &&
   grep -qF 'bell? esc?[2J end' ctl.tree && grep -qF 'bell? esc?[2J end' ctl.txt &&
   ! grep -q $'[\x07\x1b]' ctl.svg ctl.tree ctl.txt; then pass cli_views_control_characters
else fail cli_views_control_characters "$(head -c 300 xml.err ctl.err; cat -v ctl.tree)"; fi

# ---- dwf callbacks -----------------------------------------------------------------------------
C=$T/cb.db
"$DWF" callbacks --store "$C" >cb0.out 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q '^no callbacks waiting in ' cb0.out; then pass cli_views_callbacks_none
else fail cli_views_callbacks_none "rc=$rc $(cat cb0.out)"; fi
cat >hb.dwf <<'EOF'
workflow hb {
  lambda { name = "heartbeat-views" }
  callback ping "ping" timeout 3600s heartbeat 600s
  return await ping
}
EOF
"$DWF" run "$EX/approval.dwf" --detach --quiet --store "$C" >ap.out 2>&1
"$DWF" run hb.dwf --detach --quiet --store "$C" >hb.out 2>&1
AID=$(sed -n "s/^waiting for callback 'approval': //p" ap.out)
HID=$(sed -n "s/^waiting for callback 'ping': //p" hb.out)
"$DWF" callbacks --json --store "$C" >cb.json 2>cb.err
check cli_views_callbacks_json cb.json "$AID" "$HID" "$(cd "$T" && pwd -P)/cb.db" <<'EOF'
import json, sys
cbs = json.load(open(sys.argv[1]))["Callbacks"]
aid, hid, store = sys.argv[2], sys.argv[3], sys.argv[4]
by = {c["CallbackId"]: c for c in cbs}
assert set(by) == {aid, hid}, list(by)
a, h = by[aid], by[hid]
assert a["Name"] == "approval" and a["FunctionName"] == "durable-callback-test", a
assert abs(a["TimeoutTimestamp"] - a["StartTimestamp"] - 60) < 1e-6 and "HeartbeatTimestamp" not in a, a
assert abs(h["TimeoutTimestamp"] - h["StartTimestamp"] - 3600) < 1e-6, h
assert abs(h["HeartbeatTimestamp"] - h["StartTimestamp"] - 600) < 1e-6, h
assert a["Command"] == "dwf callback succeed %s --result '{...}' --store %s" % (aid, store), a["Command"]
assert "/durable-execution/" in a["DurableExecutionArn"] and a["OperationId"], a
EOF
"$DWF" callbacks --store "$C" >cb.txt 2>&1
if grep -q '^2 callbacks waiting in ' cb.txt && grep -q "^approval  function durable-callback-test, execution " cb.txt &&
   grep -q '^  deadline   [0-9T:-]*Z (in ' cb.txt && grep -q '^  heartbeat  none$' cb.txt &&
   grep -q '^  heartbeat  [0-9T:-]*Z (in ' cb.txt && grep -qF "  complete   dwf callback succeed $AID --result" cb.txt; then
  pass cli_views_callbacks_table
else fail cli_views_callbacks_table "$(cat cb.txt)"; fi
# The printed command does what it says; the callback is then no longer listed.
cmd=$(python3 -c 'import json,sys; print([c["Command"] for c in json.load(open("cb.json"))["Callbacks"] if c["Name"]=="approval"][0])')
eval "\"$DWF\" ${cmd#dwf } " >/dev/null 2>cmd.err <<<'' || true
"$DWF" callbacks --json --store "$C" >cb2.json 2>&1
if python3 -c '
import json,sys
cbs = json.load(open("cb2.json"))["Callbacks"]
assert [c["Name"] for c in cbs] == ["ping"], cbs' 2>/dev/null; then pass cli_views_callbacks_command_completes
else fail cli_views_callbacks_command_completes "$(head -c 300 cmd.err cb2.json)"; fi
HARN2=$(sed -n 's/^started //p' hb.out)
"$DWF" callbacks "${HARN2##*/}" --store "$C" >cb3.txt 2>&1
if grep -q '^1 callback waiting in ' cb3.txt && grep -q '^ping  ' cb3.txt; then pass cli_views_callbacks_of_execution
else fail cli_views_callbacks_of_execution "$(cat cb3.txt)"; fi

# After `dwf run --skip-time` jumped an execution 2 days ahead, its callback's times are on its own
# clock: started a moment ago (not "0 ms ago", in the real future), deadline in 3 days less that
# moment, heartbeat within the hour; the clock line says so; an execution on real time says nothing
# of clocks; `dwf executions` shows the skipped one's duration so far as 2 days.
cat >late.dwf <<'EOF'
workflow late {
  durable { timeout = 10d }
  lambda { name = "late-callback" }
  wait 2d
  callback cb "late-approval" timeout 3d heartbeat 1h
  return await cb
}
EOF
"$DWF" run late.dwf --skip-time --detach --quiet --store "$C" >late.out 2>&1
"$DWF" callbacks --store "$C" >cbl.txt 2>&1
"$DWF" executions --function late-callback --store "$C" >exl.txt 2>&1
sed -n '/^late-approval  /,/^  complete/p' cbl.txt >late.txt
sed -n '/^ping  /,/^  complete/p' cbl.txt >ping.txt
if grep -q "^  clock      the execution's virtual clock, 2 d 0 h ahead of real time (--skip-time)$" late.txt &&
   grep -qE '^  started    [0-9T:-]+Z \([0-9.]+ (ms|s|min [0-9]+ s) ago\)$' late.txt &&
   grep -qE '^  deadline   [0-9T:-]+Z \(in 2 d 23 h\)$' late.txt &&
   grep -qE '^  heartbeat  [0-9T:-]+Z \(in [0-9]+ min [0-9]+ s\)$' late.txt &&
   ! grep -q '^  clock' ping.txt && grep -q '^  started' ping.txt &&
   grep -qE '^RUNNING +[0-9T:-]+Z +2 d 0 h +late-callback ' exl.txt; then pass cli_views_callbacks_virtual_clock
else fail cli_views_callbacks_virtual_clock "$(cat late.out cbl.txt exl.txt)"; fi

# A 20-day --skip-time jump moves that execution's clock only: an unrelated execution that ended
# a moment ago with a 1-day retention is still there when the store is opened again (every
# command purges on open), and the jumped one shows its 20 days.
P=$T/purge.db
"$DWF" run "$EX/order.dwf" --skip-time --quiet --store "$P" >/dev/null 2>&1
printf 'workflow longwait {\n  durable { timeout = 30d  retention = 1d }\n  lambda { name = "long-wait" }\n  wait 20d\n  return 1\n}\n' >lw.dwf
"$DWF" run lw.dwf --skip-time --quiet --store "$P" >lw.out 2>&1
"$DWF" resume --store "$P" >/dev/null 2>&1
"$DWF" executions --store "$P" >exp.txt 2>&1
if [ "$(wc -l <exp.txt)" -eq 2 ] && grep -qE '^SUCCEEDED +[0-9T:-]+Z +[0-9.]+ s +durable-basic-test ' exp.txt &&
   grep -qE '^SUCCEEDED +[0-9T:-]+Z +20 d 0 h +long-wait ' exp.txt; then pass cli_views_skip_time_purges_nothing_else
else fail cli_views_skip_time_purges_nothing_else "$(cat lw.out exp.txt)"; fi

# ---- dwf executions: columns and filters -------------------------------------------------------
E=$T/ex.db
printf 'workflow echo {\n  return { got: input }\n}\n' >echo.dwf
printf 'workflow failer {\n  step s "boom" retry { attempts 1 } { fail "CardDeclined" "no money" }\n  return 1\n}\n' >failer.dwf
"$DWF" run echo.dwf --quiet --store "$E" >/dev/null 2>&1
"$DWF" run failer.dwf --quiet --store "$E" >/dev/null 2>&1
"$DWF" run "$EX/approval.dwf" --detach --quiet --store "$E" >/dev/null 2>&1
"$DWF" executions --store "$E" >ex.all 2>&1
"$DWF" executions --status FAILED --store "$E" >ex.failed 2>&1
"$DWF" executions --status FAILED,RUNNING --store "$E" >ex.two 2>&1
"$DWF" executions --status SUCCEEDED --status RUNNING --function echo --store "$E" >ex.echo 2>&1
"$DWF" executions --function durable-callback-test --status SUCCEEDED --store "$E" >ex.none 2>&1
row_re='^(SUCCEEDED|FAILED|RUNNING) +[0-9T:-]+Z +[0-9.]+ (ms|s) +[a-z-]+ +[A-Za-z-]+ +arn:aws:lambda:[^ ]+$'
if [ "$(grep -cE "$row_re" ex.all)" -eq 3 ] && [ "$(wc -l <ex.all)" -eq 3 ]; then pass cli_views_executions_columns
else fail cli_views_executions_columns "$(cat ex.all)"; fi
if [ "$(wc -l <ex.failed)" -eq 1 ] && grep -qE '^FAILED +[^ ]+ +[0-9.]+ m?s +failer +StepError +arn:' ex.failed &&
   [ "$(wc -l <ex.two)" -eq 2 ] && grep -q '^RUNNING .* durable-callback-test  *- ' ex.two &&
   [ "$(wc -l <ex.echo)" -eq 1 ] && grep -qE '^SUCCEEDED .* echo +- +arn:[^ ]*:function:echo:' ex.echo &&
   grep -qx "no executions match in $E" ex.none; then pass cli_views_executions_filters
else fail cli_views_executions_filters "$(cat ex.failed ex.two ex.echo ex.none)"; fi
ok=1
for arn in $(awk '{print $NF}' ex.all); do "$DWF" history "$arn" --store "$E" >/dev/null 2>&1 || ok=0; done
[ $ok -eq 1 ] && pass cli_views_executions_last_column_is_arn || fail cli_views_executions_last_column_is_arn "$(cat ex.all)"
"$DWF" executions --status DONE --store "$E" >/dev/null 2>ex.err; rc=$?
if [ $rc -eq 2 ] && grep -qF "'DONE' is not a status" ex.err; then pass cli_views_executions_bad_status
else fail cli_views_executions_bad_status "rc=$rc $(cat ex.err)"; fi
exit 0
