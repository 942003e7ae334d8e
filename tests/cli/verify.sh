#!/usr/bin/env bash
# `dwf verify` and the workflow hash: an execution waiting on a callback, then its .dwf edited.
# A reordered step is caught (exit 1, the operation, both .dwf lines), an added trailing step
# passes; `dwf resume` refuses to drive an execution whose history does not replay on the new
# code (WorkflowChangedError, nothing changed), drives it with --force, and drives one whose
# history does replay (saying so); `dwf worker` and `dwf resume` leave a refused execution, say
# so once, and drive the others (the worker keeps running). Histories exported as {"Operations"} and {"Events"} are
# verified without a store. A store of schema version 4 is upgraded and its executions have
# no hash (never refused). Prints "PASS name" / "FAIL name: why" lines.
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DWF=${DWF:-$ROOT/build/dwf}
T=$(mktemp -d /tmp/dwf-cli-verify.XXXXXX)
trap 'rm -rf "$T"' EXIT
cd "$T"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
if [ ! -x "$DWF" ]; then fail cli_verify_dwf "no $DWF (build first)"; exit 0; fi

cat >v1.dwf <<'EOF'
workflow upgrade_demo {
  lambda { name = "upgrade-demo" }
  step a "first" { return 1 }
  step b "second" { return 2 }
  callback cb "approval" timeout 1h
  let x = await cb
  return { a, b, x }
}
EOF
# "second" before "first": the recorded step 1 is "first", the new code asks for "second"
cat >reordered.dwf <<'EOF'
workflow upgrade_demo {
  lambda { name = "upgrade-demo" }

  step b "second" { return 2 }
  step a "first" { return 1 }
  callback cb "approval" timeout 1h
  let x = await cb
  return { a, b, x }
}
EOF
sed 's/  return { a, b, x }/  step c "third" { return 3 }\n  return { a, b, x, c }/' v1.dwf >trailing.dwf
# the trailing step removed from an execution that already ran it: the code ends too early
sed 's/  let x = await cb/  let x = await cb\n  step d "fourth" { return 4 }/' v1.dwf >four.dwf

S=$T/s.db
# arn NAME [STORE]: the ARN of the execution named NAME
arn() {
  "$DWF" executions --json --store "${2:-$S}" | python3 -c '
import json, sys
print([x["DurableExecutionArn"] for x in json.load(sys.stdin)["DurableExecutions"]
       if "/durable-execution/%s/" % sys.argv[1] in x["DurableExecutionArn"]][0])' "$1"
}
# cbid NAME [STORE]: the id of the callback the execution named NAME waits on
cbid() {
  "$DWF" callbacks --json --store "${2:-$S}" | python3 -c '
import json, sys
cbs = json.load(sys.stdin)["Callbacks"]
print([c["CallbackId"] for c in cbs if "/durable-execution/%s/" % sys.argv[1] in c["DurableExecutionArn"]][0])' "$1"
}
# status NAME: the status of the execution named NAME
status() {
  "$DWF" executions --json --store "$S" | python3 -c '
import json, sys
xs = json.load(sys.stdin)["DurableExecutions"]
print([x["Status"] for x in xs if "/durable-execution/%s/" % sys.argv[1] in x["DurableExecutionArn"]][0])' "$1"
}
cp v1.dwf wf.dwf
"$DWF" run wf.dwf --detach --quiet --store "$S" --name one >run1.out 2>&1 || fail cli_verify_setup "$(cat run1.out)"

cp reordered.dwf wf.dwf
"$DWF" verify wf.dwf --store "$S" >v.out 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q '^DIVERGES .*/durable-execution/one/' v.out &&
   grep -q 'recorded STEP "first" (old code: line 3), new code: wf.dwf:4' v.out &&
   grep -q 'Expected name "first", but got "second"' v.out && grep -q '^0 would resume, 1 would break' v.out; then
  pass cli_verify_reordered_step
else fail cli_verify_reordered_step "rc=$rc $(cat v.out)"; fi

cp trailing.dwf wf.dwf
"$DWF" verify wf.dwf --store "$S" >v.out 2>&1; rc=$?
if [ $rc -eq 0 ] &&
   grep -q '^ok .*/durable-execution/one/.*: resumes cleanly (3 recorded operations replayed)' v.out; then
  pass cli_verify_trailing_step
else fail cli_verify_trailing_step "rc=$rc $(cat v.out)"; fi

# exported histories: the Operations shape and the Events shape, without a store
cp v1.dwf wf.dwf
"$DWF" history "$(arn one)" --store "$S" --json >ops.json 2>&1 || true
"$DWF" history "$(arn one)" --store "$S" --events --json >events.json 2>&1 || true
cp reordered.dwf wf.dwf
ok=1
for h in ops.json events.json; do
  "$DWF" verify wf.dwf --history $h --store "$T/none.db" >v.out 2>&1; rc=$?
  if [ $rc -ne 1 ] || ! grep -q "^DIVERGES $h" v.out || ! grep -q 'new code: wf.dwf:4' v.out; then
    ok=0; fail cli_verify_history_$h "rc=$rc $(cat v.out)"; fi
done
[ -e "$T/none.db" ] && { ok=0; fail cli_verify_history_no_store "--history opened the store"; }
cp trailing.dwf wf.dwf
for h in ops.json events.json; do
  "$DWF" verify wf.dwf --history $h >v.out 2>&1 || { ok=0; fail cli_verify_history_ok_$h "$(cat v.out)"; }
done
[ $ok = 1 ] && pass cli_verify_exported_histories

# resume refuses a diverging execution, and changes nothing
cp v1.dwf wf.dwf
"$DWF" run wf.dwf --detach --quiet --store "$S" --name two >/dev/null 2>&1
cp reordered.dwf wf.dwf
"$DWF" run wf.dwf --detach --quiet --store "$S" --name newer >/dev/null 2>&1  # registers the new code
cb=$(cbid two)
"$DWF" callback succeed "$cb" --result '"yes"' --store "$S" >/dev/null
"$DWF" resume "$(arn two)" --store "$S" >r.out 2>&1; rc=$?
st=$(status two)
if [ $rc -eq 1 ] && grep -q 'WorkflowChangedError: execution .* started on another version of .*wf.dwf' r.out &&
   grep -q 'would diverge at line 4: Operation name mismatch for step "1"' r.out && grep -q -- '--force' r.out &&
   [ "$st" = RUNNING ]; then pass cli_verify_resume_refuses
else fail cli_verify_resume_refuses "rc=$rc status=$st $(cat r.out)"; fi

"$DWF" resume "$(arn two)" --store "$S" --force >r.out 2>&1; rc=$?
if grep -q 'runs on the changed workflow (started on workflow .*; --force: driven on' r.out &&
   grep -q '^FAILED ' r.out; then pass cli_verify_resume_force
else fail cli_verify_resume_force "rc=$rc $(cat r.out)"; fi

# an execution whose history replays on the new code is driven, and says so
cp v1.dwf wf.dwf
"$DWF" run wf.dwf --detach --quiet --store "$S" --name three >/dev/null 2>&1
cp trailing.dwf wf.dwf
"$DWF" run wf.dwf --detach --quiet --store "$S" --name newest >/dev/null 2>&1
cb=$(cbid three)
"$DWF" callback succeed "$cb" --result '"yes"' --store "$S" >/dev/null
"$DWF" resume "$(arn three)" --store "$S" >r.out 2>&1; rc=$?
if [ $rc -eq 0 ] && grep -q 'its history replays cleanly on' r.out && grep -q '^SUCCEEDED ' r.out &&
   grep -q '"c":3' r.out; then pass cli_verify_resume_verified
else fail cli_verify_resume_verified "rc=$rc $(cat r.out)"; fi

# dwf worker and dwf resume (no ARN) leave a refused execution and drive every other one: the
# worker says the refusal once and keeps running; resume drives the others, then exits 1.
W=$T/w.db
cp v1.dwf wf.dwf
"$DWF" run wf.dwf --detach --quiet --store "$W" --name stuck >/dev/null 2>&1
cp reordered.dwf wf.dwf
"$DWF" run wf.dwf --detach --quiet --store "$W" --name fresh >/dev/null 2>&1  # registers the new code
printf 'workflow other_wf {\n  lambda { name = "other-fn" }\n  callback cb "go" timeout 1h\n  return await cb\n}\n' >other.dwf
"$DWF" run other.dwf --detach --quiet --store "$W" --name other1 >/dev/null 2>&1
"$DWF" run other.dwf --detach --quiet --store "$W" --name other2 >/dev/null 2>&1
for n in stuck other1; do "$DWF" callback succeed "$(cbid $n "$W")" --result '"yes"' --store "$W" >/dev/null; done
"$DWF" worker --interval 50 --quiet --store "$W" >wk.out 2>wk.err &
WPID=$!
for _ in $(seq 600); do
  [ "$(S=$W status other1)" = SUCCEEDED ] && break
  kill -0 $WPID 2>/dev/null || break
  sleep 0.1
done
sleep 0.5  # a few more worker passes: the refusal is not said again
alive=0; kill -0 $WPID 2>/dev/null && alive=1
kill -TERM $WPID 2>/dev/null; wait $WPID 2>/dev/null
if [ $alive = 1 ] && [ "$(S=$W status other1)" = SUCCEEDED ] && [ "$(S=$W status stuck)" = RUNNING ] &&
   [ "$(grep -c '^dwf worker: WorkflowChangedError: execution .* would diverge at line 4' wk.err)" = 1 ]; then
  pass cli_verify_worker_goes_on
else fail cli_verify_worker_goes_on "alive=$alive $(S=$W status other1) $(cat wk.err wk.out | head -20)"; fi
"$DWF" callback succeed "$(cbid other2 "$W")" --result '"yes"' --store "$W" >/dev/null
"$DWF" resume --quiet --store "$W" >rs.out 2>rs.err; rc=$?
if [ $rc -eq 1 ] && [ "$(S=$W status other2)" = SUCCEEDED ] && [ "$(S=$W status stuck)" = RUNNING ] &&
   grep -q '^dwf resume: WorkflowChangedError: ' rs.err; then pass cli_verify_resume_drives_the_others
else fail cli_verify_resume_drives_the_others "rc=$rc $(S=$W status other2) $(cat rs.err)"; fi

# a removed operation the execution already ran: the new code ends before it
S2=$T/s2.db
cp four.dwf wf.dwf
"$DWF" run wf.dwf --detach --quiet --store "$S2" --name four >/dev/null 2>&1
cb=$(cbid four "$S2")
"$DWF" callback succeed "$cb" --result '"yes"' --store "$S2" >/dev/null
"$DWF" resume --store "$S2" >/dev/null 2>&1
"$DWF" history "$(arn four "$S2")" --store "$S2" --json >four.json 2>&1
cp v1.dwf wf.dwf
"$DWF" verify wf.dwf --history four.json >v.out 2>&1; rc=$?
if [ $rc -eq 1 ] && grep -q 'the code ends before the recorded STEP "fourth"' v.out; then pass cli_verify_removed_step
else fail cli_verify_removed_step "rc=$rc $(cat v.out)"; fi

# a store of schema version 4 opens (upgraded), its executions carry no hash and are driven
S4=$T/old.db
python3 - "$S" "$S4" "$ROOT/tests/store_to_v9.sql" <<'EOF'
import sqlite3, sys, shutil
shutil.copy(sys.argv[1], sys.argv[2])
db = sqlite3.connect(sys.argv[2])
db.executescript(open(sys.argv[3]).read())
db.execute("ALTER TABLE executions DROP COLUMN workflow_hash")
db.execute("ALTER TABLE functions DROP COLUMN workflow_hash")
db.execute("DROP TABLE workflows")
db.execute("DROP TABLE calls")
db.execute("DROP INDEX executions_offset")
db.execute("ALTER TABLE executions DROP COLUMN clock_offset_ms")
db.execute("PRAGMA user_version=4")
db.commit()
EOF
"$DWF" verify wf.dwf --store "$S4" >v.out 2>&1
v=$(python3 -c '
import sqlite3, sys
print(sqlite3.connect(sys.argv[1]).execute("PRAGMA user_version").fetchone()[0])' "$S4")
if [ "$v" = 16 ] && grep -q '^ok .*/durable-execution/newest/' v.out; then pass cli_verify_old_store_upgraded
else fail cli_verify_old_store_upgraded "version $v $(cat v.out)"; fi
exit 0
