#!/usr/bin/env bash
# End-to-end tests of the embedded engine: the examples run by `dwf run` as a user runs them,
# and every kind of bad input, asserting the message, the exit code and that the store is
# unchanged (compared through `dwf executions --json` / `dwf history --json [--events]`).
# Prints "PASS name" / "FAIL name: why" lines (tests/run.sh counts them).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DWF=${DWF:-$ROOT/build/dwf}
EX=$ROOT/examples
T=$(mktemp -d /tmp/dwf-e2e.XXXXXX)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
cd "$T"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
now_ms() { date +%s%3N; }
# poll CMD...: run CMD every 0.1 s until it succeeds. Nothing here asserts how fast: the bound
# (300 s) only stops the wait for something a broken dwf never does.
poll() {
  local i
  for ((i = 0; i < 3000; i++)); do
    "$@" && return 0
    sleep 0.1
  done
  return 1
}

# Every execution, its operations and its events: what "the store is unchanged" compares.
dump() {
  local s=$1 arn
  "$DWF" executions --json --store "$s"
  for arn in $("$DWF" executions --store "$s" | awk '{print $NF}'); do
    "$DWF" history "$arn" --json --store "$s"
    "$DWF" history "$arn" --events --json --store "$s"
  done
}

# expect NAME STORE WANT_RC WANT_TEXT -- CMD...: run CMD, check rc, stderr text, store unchanged.
expect() {
  local name=$1 store=$2 want_rc=$3 want=$4
  shift 5
  local before after rc
  before=$(dump "$store" 2>&1)
  "$@" >"$T/out" 2>"$T/err"; rc=$?
  after=$(dump "$store" 2>&1)
  if [ "$rc" != "$want_rc" ]; then fail "$name" "exit $rc, want $want_rc ($(head -c 300 "$T/err"))"
  elif ! grep -qF -- "$want" "$T/err"; then fail "$name" "stderr lacks '$want': $(head -c 300 "$T/err")"
  elif [ "$before" != "$after" ]; then fail "$name" "the store changed"
  else pass "$name"; fi
}

if [ ! -x "$DWF" ]; then fail e2e_dwf "no $DWF (build first)"; exit 0; fi

# ---- order: 10 s wait in real time, jumped on the virtual clock ----
# (A lower bound only: a wait of 10 s cannot end sooner on any machine; a slow one only adds.)
S=$T/order.db
t0=$(now_ms)
"$DWF" run "$EX/order.dwf" --input '{"orderId":"ORD-7"}' --json --store "$S" >"$T/o.json" 2>"$T/o.err"; rc=$?
t1=$(now_ms); el=$((t1 - t0))
if [ $rc -eq 0 ] && grep -q '"Status":[[:space:]]*"SUCCEEDED"' "$T/o.json" && grep -q '"orderId":[[:space:]]*"ORD-7"' "$T/o.json" \
   && [ $el -ge 10000 ]; then pass "order_real_time_waits_10s (${el} ms)"
else fail order_real_time_waits_10s "rc=$rc elapsed=${el}ms $(head -c 300 "$T/o.json")"; fi

# --skip-time crosses the wait by moving the execution's own virtual clock
# (executions.clock_offset_ms) instead of sleeping: the real-time run above never moves its
# clock, a skipping run moves its own and no other (the first execution's stays 0). Read with
# a few lines of C against libsqlite3, so no sqlite3 CLI is needed: the offsets of the
# executions in start order, space-separated.
cat >"$T/storeclock.c" <<'EOF'
#include <sqlite3.h>
#include <stdio.h>
int main(int argc, char **argv)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    if (argc != 2 || sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return 2;
    if (sqlite3_prepare_v2(db, "SELECT clock_offset_ms FROM executions ORDER BY start_ms", -1, &q, NULL) != SQLITE_OK)
        return 3;
    for (int n = 0; sqlite3_step(q) == SQLITE_ROW; n++) printf("%s%.0f", n ? " " : "", sqlite3_column_double(q, 0));
    printf("\n");
    sqlite3_finalize(q);
    return sqlite3_close(db) == SQLITE_OK ? 0 : 4;
}
EOF
${CC:-cc} -o "$T/storeclock" "$T/storeclock.c" -lsqlite3 2>"$T/cc.err"
off0=$("$T/storeclock" "$S")
"$DWF" run "$EX/order.dwf" --skip-time --json --store "$S" >"$T/o2.json" 2>/dev/null; rc=$?
off1=$("$T/storeclock" "$S")
if [ $rc -eq 0 ] && grep -q '"SUCCEEDED"' "$T/o2.json" && [ "$off0" = 0 ] && [ "${off1% *}" = 0 ] \
   && [ "${off1#* }" -gt 0 ]; then
  pass "order_skip_time_jumps_the_clock (its own +${off1#* } ms, the other execution's ${off1% *})"
else fail order_skip_time_jumps_the_clock "rc=$rc clock offset before '$off0' after '$off1' $(head -c 200 "$T/cc.err")"; fi
# The virtual clock still put 10 s between payment and confirmation.
gap=$(tr -d ' \t\n' <"$T/o2.json" | sed -n 's/.*"payment":{[^}]*"timestamp":\([0-9]*\)}.*"confirmation":{[^}]*"timestamp":\([0-9]*\)}.*/\2-\1/p')
if [ -n "$gap" ] && [ $((gap)) -ge 10000 ]; then pass order_skip_time_virtual_gap
else fail order_skip_time_virtual_gap "gap '$gap'"; fi

# A store of schema 7 kept one virtual clock for the whole store (meta.clock_offset_ms). Opened
# by this dwf (schema 16), it is upgraded in place and every execution takes that offset over,
# so their timers and timestamps stay where they were.
python3 - "$S" "$T/old7.db" "$ROOT/tests/store_to_v9.sql" <<'EOF' 2>"$T/old7.err"
import sqlite3, sys
db = sqlite3.connect(sys.argv[2])
sqlite3.connect(sys.argv[1]).backup(db)  # with what the WAL holds
db.executescript(open(sys.argv[3]).read())
db.executescript("DROP TABLE calls; DROP INDEX executions_offset; ALTER TABLE executions DROP COLUMN clock_offset_ms;"
                 "INSERT OR REPLACE INTO meta(key, value) VALUES ('clock_offset_ms', '60000');"
                 "PRAGMA user_version=7;")
db.close()
EOF
"$DWF" executions --store "$T/old7.db" >"$T/old7.out" 2>>"$T/old7.err"; rc=$?
offs=$("$T/storeclock" "$T/old7.db")
ver=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA user_version").fetchone()[0])' \
      "$T/old7.db")
if [ $rc -eq 0 ] && [ "$ver" = 16 ] && [ "$offs" = "60000 60000" ] &&
   [ "$(grep -c SUCCEEDED "$T/old7.out")" = 2 ]; then pass store_upgrade_7_takes_the_store_clock
else fail store_upgrade_7_takes_the_store_clock "rc=$rc version '$ver' offsets '$offs' $(head -c 300 "$T/old7.err")"; fi

ARN=$(sed -n 's/.*"ExecutionArn":[[:space:]]*"\([^"]*\)".*/\1/p' "$T/o2.json")
"$DWF" history "$ARN" --json --store "$S" >"$T/h.json"; rc=$?
if [ $rc -eq 0 ] && grep -q '"Type":[[:space:]]*"WAIT"' "$T/h.json" && [ "$(grep -c '"Status":[[:space:]]*"SUCCEEDED"' "$T/h.json")" -eq 5 ]; then
  pass history_operations_shape
else fail history_operations_shape "rc=$rc $(head -c 300 "$T/h.json")"; fi
"$DWF" history "$ARN" --events --json --store "$S" >"$T/ev.json"
types=$(grep -o '"EventType":[[:space:]]*"[A-Za-z]*"' "$T/ev.json" | sed 's/.*"\([A-Za-z]*\)"$/\1/' | tr '\n' ,)
want="ExecutionStarted,StepStarted,StepSucceeded,StepStarted,StepSucceeded,WaitStarted,InvocationCompleted,WaitSucceeded,StepStarted,StepSucceeded,InvocationCompleted,ExecutionSucceeded,"
if [ "$types" = "$want" ]; then pass history_events_order
else fail history_events_order "got $types"; fi

# Idempotent start: the same name and input attach to the same execution.
"$DWF" run "$EX/order.dwf" --skip-time --name n-1 --json --store "$S" >"$T/n1.json" 2>/dev/null
"$DWF" run "$EX/order.dwf" --skip-time --name n-1 --json --store "$S" >"$T/n2.json" 2>/dev/null; rc=$?
a1=$(grep -o '"ExecutionArn":[^,]*' "$T/n1.json"); a2=$(grep -o '"ExecutionArn":[^,]*' "$T/n2.json")
if [ $rc -eq 0 ] && [ -n "$a1" ] && [ "$a1" = "$a2" ]; then pass run_name_idempotent
else fail run_name_idempotent "rc=$rc '$a1' vs '$a2'"; fi
expect run_name_other_input "$S" 1 "DurableExecutionAlreadyStartedException" -- \
  "$DWF" run "$EX/order.dwf" --skip-time --name n-1 --input '{"orderId":"X"}' --store "$S"

# ---- retry: step2 fails once, succeeds on attempt 2 ----
S=$T/retry.db
"$DWF" run "$EX/retry.dwf" --skip-time --json --store "$S" >"$T/r.json" 2>"$T/r.err"; rc=$?
if [ $rc -eq 0 ] && tr -d ' \t\n' <"$T/r.json" | grep -q '"step2":{"status":"paid","attempt":2'; then pass retry_attempt_2
else fail retry_attempt_2 "rc=$rc $(tr -d ' \t\n' <"$T/r.json" | head -c 300)"; fi

# ---- approval: completes through `dwf callback succeed` ----
S=$T/approval.db
"$DWF" run "$EX/approval.dwf" --skip-time --store "$S" >"$T/a.out" 2>"$T/a.err" &
RUN=$!
callback_printed() { grep -q 'dwf callback succeed [^ ]*' "$T/a.out" 2>/dev/null || ! kill -0 $RUN 2>/dev/null; }
poll callback_printed
ID=$(grep -o 'dwf callback succeed [^ ]*' "$T/a.out" 2>/dev/null | head -1 | awk '{print $4}')
if [ -z "$ID" ]; then fail approval_callback "no callback id printed: $(head -c 300 "$T/a.out")"; kill $RUN 2>/dev/null
else
  grep -qF -- "--store $S" "$T/a.out" && pass approval_prints_command || fail approval_prints_command "$(grep complete "$T/a.out")"
  "$DWF" callback succeed "$ID" --result '{"approved":true,"approver":"manager@example.com"}' --store "$S" >/dev/null 2>"$T/cb.err"; crc=$?
  wait $RUN; rc=$?
  if [ $crc -eq 0 ] && [ $rc -eq 0 ] && grep -q '"approvalData":.*approver' "$T/a.out"; then pass approval_callback
  else fail approval_callback "callback rc=$crc run rc=$rc $(tail -c 300 "$T/a.out") $(cat "$T/cb.err")"; fi
  expect callback_second_completion "$S" 1 "CallbackTimeoutException" -- \
    "$DWF" callback succeed "$ID" --result '{}' --store "$S"
  expect callback_fail_after_success "$S" 1 "CallbackTimeoutException" -- \
    "$DWF" callback fail "$ID" --error '{"ErrorMessage":"late"}' --store "$S"
fi

# --detach returns while the callback waits; exit 0 and RUNNING.
"$DWF" run "$EX/approval.dwf" --skip-time --detach --json --store "$S" >"$T/d.json" 2>"$T/d.err"; rc=$?
if [ $rc -eq 0 ] && grep -q '"Status":[[:space:]]*"RUNNING"' "$T/d.json" && grep -q 'dwf callback succeed' "$T/d.err"; then pass run_detach
else fail run_detach "rc=$rc $(head -c 200 "$T/d.json")"; fi
DARN=$(sed -n 's/.*"ExecutionArn":[[:space:]]*"\([^"]*\)".*/\1/p' "$T/d.json")
DID=$(grep -o 'dwf callback succeed [^ ]*' "$T/d.err" | head -1 | awk '{print $4}')
# ... and `dwf resume` finishes it once the callback is answered, even with the compiled
# handler cache removed meanwhile (it is rebuilt from the recorded .dwf).
"$DWF" callback succeed "$DID" --result '"ok"' --store "$S" >/dev/null 2>&1
rm -rf "$T/cache"
"$DWF" resume "$DARN" --store "$S" >"$T/res.out" 2>/dev/null; rc=$?
if [ $rc -eq 0 ] && grep -q "^SUCCEEDED" "$T/res.out"; then pass resume_after_callback
else fail resume_after_callback "rc=$rc $(head -c 300 "$T/res.out")"; fi

# ---- parallel branches run at the same time ----
# fanout runs its three branches; whether they overlap is shown without a clock: in meet.dwf
# each branch's step counts itself in and waits until all three are in (meet.c), which only
# branches running at the same time can do, however loaded the machine. One after another, the
# first would wait in vain (meet gives up after 120 s and fails the step).
S=$T/fanout.db
"$DWF" run "$EX/fanout.dwf" --json --store "$S" >"$T/f.json" 2>/dev/null; rc=$?
ts=$(tr -d ' \t\n' <"$T/f.json" | sed 's/"map":.*//' | grep -o '"timestamp":[0-9]*' | cut -d: -f2 | sort -n)
cat >"$T/meet.c" <<'EOF'
#include <stdatomic.h>
#include <time.h>
#include "dwf.h"
static atomic_int arrived;
/* meet(n): count this caller in, wait until n have come (at most 120 s), fail if they did not. */
cJSON *meet(dwf_ctx *c, int argc, cJSON *const *argv)
{
    int n = argc == 1 && cJSON_IsNumber(argv[0]) ? (int)argv[0]->valuedouble : 0;
    atomic_fetch_add(&arrived, 1);
    for (int i = 0; i < 120000 && atomic_load(&arrived) < n; i++) {
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
    }
    if (atomic_load(&arrived) < n) {
        dwf_fail(c, "NotConcurrent", "the other branches never came while this one waited");
        return NULL;
    }
    return cJSON_CreateTrue();
}
EOF
cat >"$T/meet.dwf" <<'EOF'
use "meet.c"
workflow meet_test {
  lambda { name = "meet-test" }
  parallel all {
    branch { step a "meet-a" retry { attempts 1 } { call meet(3) return 1 } return a }
    branch { step b "meet-b" retry { attempts 1 } { call meet(3) return 2 } return b }
    branch { step c "meet-c" retry { attempts 1 } { call meet(3) return 3 } return c }
  }
  return { met: all.successCount == 3, failures: all.failureCount }
}
EOF
"$DWF" run "$T/meet.dwf" --json --store "$T/meet.db" >"$T/m.json" 2>"$T/m.err"; mrc=$?
if [ $rc -eq 0 ] && [ "$(echo "$ts" | wc -l)" -eq 3 ] && [ $mrc -eq 0 ] && grep -q '"met":[[:space:]]*true' "$T/m.json"; then
  pass parallel_branches_overlap
else fail parallel_branches_overlap "fanout rc=$rc ts=$(echo $ts); meet rc=$mrc $(head -c 300 "$T/m.json" "$T/m.err")"; fi

# ---- kill -9 during the wait, then `dwf resume`: nothing completed runs again ----
S=$T/crash.db
"$DWF" run "$EX/order.dwf" --quiet --store "$S" >"$T/c.out" 2>&1 &
CR=$!
waiting() { # the run's execution has started its WAIT (or the run ended)
  CARN=$(sed -n 's/^started \(.*\)$/\1/p' "$T/c.out")
  { [ -n "$CARN" ] && "$DWF" history "$CARN" --json --store "$S" 2>/dev/null | grep -q '"WAIT"'; } || ! kill -0 $CR 2>/dev/null
}
CARN=
poll waiting
sleep 0.5
kill -9 $CR 2>/dev/null; wait $CR 2>/dev/null
before=$("$DWF" history "$CARN" --json --store "$S" 2>/dev/null | tr -d ' \t\n' | grep -o '"Name":"validate-order"[^}]*"Result":"[^"]*\(\\"[^"]*\)*"' | head -1)
"$DWF" resume "$CARN" --skip-time --quiet --store "$S" >"$T/cr.out" 2>&1; rc=$?
after=$("$DWF" history "$CARN" --json --store "$S" 2>/dev/null | tr -d ' \t\n' | grep -o '"Name":"validate-order"[^}]*"Result":"[^"]*\(\\"[^"]*\)*"' | head -1)
if [ $rc -eq 0 ] && grep -q "^SUCCEEDED" "$T/cr.out" && [ -n "$before" ] && [ "$before" = "$after" ]; then pass resume_after_kill_9
else fail resume_after_kill_9 "rc=$rc $(head -c 200 "$T/cr.out") before='$before' after='$after'"; fi

# ---- kill -9 in the middle of a step: `dwf resume` re-runs the lost invocation at once ----
S=$T/k9.db
cat >"$T/slow.dwf" <<EOF
use "$EX/fanout_work.c"
workflow slow {
  lambda { name = "slow-steps" }
  step a "first" { return { at: now() } }
  step b "slow" {
    call spin(2000)
    return { at: now() }
  }
  return { a, b }
}
EOF
"$DWF" run "$T/slow.dwf" --quiet --store "$S" >"$T/k9.out" 2>&1 &
K9=$!
first_done() { # "first" SUCCEEDED (or the run ended)
  KARN=$(sed -n 's/^started \(.*\)$/\1/p' "$T/k9.out")
  { [ -n "$KARN" ] && "$DWF" history "$KARN" --store "$S" 2>/dev/null | grep -q "first.*SUCCEEDED"; } || ! kill -0 $K9 2>/dev/null
}
KARN=
poll first_done
kill -9 $K9 2>/dev/null; wait $K9 2>/dev/null
first=$("$DWF" history "$KARN" --json --store "$S" 2>/dev/null | tr -d ' \t\n' | grep -o '"Name":"first"[^}]*}')
# `dwf resume` never waits for anything (it returns when nothing is due now), so it reaches
# SUCCEEDED only by re-running the dead runner's invocation at once, not after the 30 s rule.
"$DWF" resume "$KARN" --quiet --store "$S" >"$T/k9r.out" 2>&1; rc=$?
again=$("$DWF" history "$KARN" --json --store "$S" 2>/dev/null | tr -d ' \t\n' | grep -o '"Name":"first"[^}]*}')
if [ $rc -eq 0 ] && grep -q "^SUCCEEDED" "$T/k9r.out" && [ -n "$first" ] && [ "$first" = "$again" ]; then
  pass resume_after_kill_9_mid_step
else fail resume_after_kill_9_mid_step "rc=$rc $(head -c 300 "$T/k9r.out")"; fi

# ---- dwf worker finishes an execution whose callback another process answers ----
S=$T/worker.db
"$DWF" run "$EX/approval.dwf" --skip-time --detach --json --store "$S" >"$T/w.json" 2>"$T/w.err"
WARN=$(sed -n 's/.*"ExecutionArn":[[:space:]]*"\([^"]*\)".*/\1/p' "$T/w.json")
WID=$(grep -o 'dwf callback succeed [^ ]*' "$T/w.err" | head -1 | awk '{print $4}')
"$DWF" worker --interval 100 --quiet --store "$S" >/dev/null 2>"$T/wk.err" &
WK=$!
"$DWF" callback succeed "$WID" --result '{"approved":true}' --store "$S" >/dev/null 2>&1
succeeded() { "$DWF" executions --status SUCCEEDED --store "$S" 2>/dev/null | grep -qF "$WARN" || ! kill -0 $WK 2>/dev/null; }
ok=
poll succeeded && "$DWF" executions --status SUCCEEDED --store "$S" 2>/dev/null | grep -qF "$WARN" && ok=1
kill -TERM $WK 2>/dev/null; wait $WK; wrc=$?
if [ -n "$ok" ] && [ $wrc -eq 0 ]; then pass worker_drives_callback_completion
else fail worker_drives_callback_completion "done=$ok worker rc=$wrc $(head -c 200 "$T/wk.err")"; fi

# ---- dwf worker --concurrency N drives N executions at once ----
# Each execution's step waits at a barrier (barrier.c) that opens only once N step bodies are
# inside it at the same time: one after another, the first would wait alone until its bound
# (120 s) and fail the step, so SUCCEEDED for all N proves they ran at once, without a clock.
# Each waits first on a callback, so `dwf run --detach` starts them without driving the step.
cat >"$T/barrier.c" <<'EOF'
/* barrier(dir, n): create a file of this call's own in dir, then wait until dir holds n files
 * (at most 120 s, then fail). Passable only by n calls running at the same time. */
#include <dirent.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "dwf.h"
static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}
cJSON *barrier(dwf_ctx *c, int argc, cJSON *const *argv)
{
    if (argc != 2 || !cJSON_IsString(argv[0]) || !cJSON_IsNumber(argv[1])) {
        dwf_fail(c, "TypeError", "barrier(dir, n)");
        return NULL;
    }
    char mine[4096];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(mine, sizeof mine, "%s/%ld.%ld.%p", argv[0]->valuestring, (long)now.tv_sec, now.tv_nsec, (void *)&now);
    FILE *f = fopen(mine, "w");
    if (f) fclose(f);
    for (int i = 0; i < 12000; i++) {
        if (count_files(argv[0]->valuestring) >= argv[1]->valueint) return cJSON_CreateNumber(argv[1]->valueint);
        struct timespec ms = {0, 10000000};
        nanosleep(&ms, NULL);
    }
    dwf_fail(c, "BarrierTimeout", "the other executions never reached the barrier");
    return NULL;
}
EOF
mkdir -p "$T/barrier"
cat >"$T/conc.dwf" <<EOF
use "barrier.c"
workflow conc {
  lambda { name = "conc"  timeout = 300s }
  callback go "go" timeout 1h
  let g = await go
  step b "barrier" retry { attempts 1 } { return call barrier("$T/barrier", 4) }
  return { g, b }
}
EOF
S=$T/conc.db
CARNS=() CIDS=()
for i in 1 2 3 4; do
  "$DWF" run "$T/conc.dwf" --input "{\"i\":$i}" --skip-time --detach --json --store "$S" >"$T/c$i.json" 2>"$T/c$i.err"
  CARNS+=("$(sed -n 's/.*"ExecutionArn":[[:space:]]*"\([^"]*\)".*/\1/p' "$T/c$i.json")")
  CIDS+=("$(grep -o 'dwf callback succeed [^ ]*' "$T/c$i.err" | head -1 | awk '{print $4}')")
done
for i in 0 1 2 3; do
  "$DWF" callback succeed "${CIDS[$i]}" --result "$i" --store "$S" >/dev/null 2>&1
done
"$DWF" worker --concurrency 4 --interval 100 --quiet --store "$S" >/dev/null 2>"$T/cw.err" &
CW=$!
all_done() {
  local n
  n=$("$DWF" executions --status RUNNING --store "$S" 2>/dev/null | grep -c ":function:conc:")
  [ "$n" = 0 ] || ! kill -0 $CW 2>/dev/null
}
poll all_done
kill -TERM $CW 2>/dev/null; wait $CW; cwrc=$?
nsucc=$("$DWF" executions --status SUCCEEDED --store "$S" 2>/dev/null | grep -c ":function:conc:")
# Each execution driven by one thread at a time: its step ran once, and it has its own result.
once=0
for i in 0 1 2 3; do
  h=$("$DWF" history "${CARNS[$i]}" --json --store "$S" 2>/dev/null | tr -d ' \t\n')
  n=$(grep -o '"Name":"barrier"' <<<"$h" | wc -l)
  x=$("$DWF" resume "${CARNS[$i]}" --quiet --store "$S" 2>/dev/null | tail -1 | tr -d ' \t\n')
  [ "$n" = 1 ] && [ "$x" = "{\"g\":\"$i\",\"b\":4}" ] && once=$((once + 1))
done
if [ $cwrc -eq 0 ] && [ "$nsucc" = 4 ] && [ $once = 4 ] && [ "$(ls "$T/barrier" | wc -l)" = 4 ]; then
  pass worker_concurrency_runs_executions_at_once
else
  fail worker_concurrency_runs_executions_at_once "succeeded=$nsucc once=$once rc=$cwrc $(head -c 300 "$T/cw.err")"
fi

# ---- chained invoke: the target runs as its own execution in the same store ----
S=$T/chain.db
cat >"$T/doubler.dwf" <<'EOF'
workflow doubler {
  lambda { name = "doubler" }
  step d "double" { return input.n * 2 }
  return { doubled: d }
}
EOF
cat >"$T/caller.dwf" <<'EOF'
workflow caller {
  lambda { name = "caller" }
  let r = invoke "doubler" with { n: 21 }
  return { got: r }
}
EOF
"$DWF" run "$T/caller.dwf" --function "$T/doubler.dwf" --skip-time --json --store "$S" >"$T/ch.json" 2>/dev/null; rc=$?
if [ $rc -eq 0 ] && tr -d ' \t\n' <"$T/ch.json" | grep -q '"Result":{"got":{"doubled":42}}' \
   && [ "$("$DWF" executions --status SUCCEEDED --store "$S" | grep -c ':function:doubler:')" -eq 1 ]; then pass chained_invoke
else fail chained_invoke "rc=$rc $(head -c 300 "$T/ch.json")"; fi
"$DWF" run "$T/caller.dwf" --skip-time --json --store "$T/chain2.db" >"$T/ch2.json" 2>/dev/null; rc=$?
if [ $rc -eq 1 ] && grep -q '"FAILED"' "$T/ch2.json" && grep -q 'Function not found' "$T/ch2.json"; then pass chained_invoke_unknown_function
else fail chained_invoke_unknown_function "rc=$rc $(head -c 300 "$T/ch2.json")"; fi

# ---- history events against the official SDK's recording (tests/conformance/expected) ----
# [EventType, Name] pairs in order, as GetDurableExecutionHistory lists them for the same run.
if command -v node >/dev/null; then
  for wf in order retry fanout; do
    S=$T/conf-$wf.db
    "$DWF" run "$EX/$wf.dwf" --skip-time --json --quiet --store "$S" >"$T/conf.json" 2>/dev/null
    CARN=$(sed -n 's/.*"ExecutionArn":[[:space:]]*"\([^"]*\)".*/\1/p' "$T/conf.json")
    "$DWF" history "$CARN" --events --json --store "$S" >"$T/conf-ev.json" 2>/dev/null
    "$DWF" history "$CARN" --json --store "$S" >"$T/conf-ops.json" 2>/dev/null
    if node -e '
      const fs = require("fs");
      const want = JSON.parse(fs.readFileSync(process.argv[1])).historyEventTypes;
      const got = JSON.parse(fs.readFileSync(process.argv[2])).Events.map(e => [e.EventType, e.Name ?? null]);
      /* Concurrent branches finish in any order: compare those as multisets. */
      if (process.argv[3] === "fanout") { want.sort(); got.sort(); }
      if (JSON.stringify(want) !== JSON.stringify(got)) { console.error(JSON.stringify(got)); process.exit(1); }
    ' "$ROOT/tests/conformance/expected/$wf.json" "$T/conf-ev.json" "$wf" 2>"$T/conf.err"; then pass "history_events_match_sdk_$wf"
    else fail "history_events_match_sdk_$wf" "got $(head -c 400 "$T/conf.err")"; fi
    # The operations (EXECUTION aside) in the recording's normal form: same fields, same values
    # except timestamps. The SDK runner leaves a WAIT without EndTimestamp; the service sets it.
    if node -e '
      const fs = require("fs");
      const ts = new Set(["StartTimestamp", "EndTimestamp", "NextAttemptTimestamp", "ScheduledEndTimestamp"]);
      const norm = (v, k) => ts.has(k) ? "<timestamp>" :
        typeof v === "string" ? v.replace(/"timestamp":[0-9]+/g, "\"timestamp\":<ms>") :
        Array.isArray(v) ? v.map(x => norm(x)) :
        v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map(k2 => [k2, norm(v[k2], k2)])) : v;
      const want = norm(JSON.parse(fs.readFileSync(process.argv[1])).operations);
      const got = norm(JSON.parse(fs.readFileSync(process.argv[2])).Operations.filter(o => o.Type !== "EXECUTION")
        .map(o => { if (o.Type === "WAIT") delete o.EndTimestamp; return o; }));
      /* Branches start concurrently, so their operations reach the service in any order. */
      if (process.argv[3] === "fanout") for (const l of [want, got]) l.sort((a, b) => a.Id < b.Id ? -1 : a.Id > b.Id);
      if (JSON.stringify(want) !== JSON.stringify(got)) { console.error(JSON.stringify(got)); process.exit(1); }
    ' "$ROOT/tests/conformance/expected/$wf.json" "$T/conf-ops.json" "$wf" 2>"$T/conf.err"; then pass "operations_match_sdk_$wf"
    else fail "operations_match_sdk_$wf" "got $(head -c 600 "$T/conf.err")"; fi
  done
  # approval: answered with the recording's callback result; the callback id is normalised.
  S=$T/conf-approval.db
  "$DWF" run "$EX/approval.dwf" --input '{"orderId":"ORD-CALLBACK-001"}' --skip-time --detach --json --quiet --store "$S" >"$T/conf.json" 2>"$T/conf.err"
  CARN=$(sed -n 's/.*"ExecutionArn":[[:space:]]*"\([^"]*\)".*/\1/p' "$T/conf.json")
  CID=$(grep -o 'dwf callback succeed [^ ]*' "$T/conf.err" | head -1 | awk '{print $4}')
  "$DWF" callback succeed "$CID" --result '{"approved": true, "approver": "manager@example.com"}' --store "$S" >/dev/null 2>&1
  "$DWF" resume "$CARN" --quiet --store "$S" >/dev/null 2>&1
  "$DWF" history "$CARN" --json --store "$S" >"$T/conf-ops.json" 2>/dev/null
  if node -e '
    const fs = require("fs"), id = process.argv[3];
    const ts = new Set(["StartTimestamp", "EndTimestamp", "NextAttemptTimestamp", "ScheduledEndTimestamp"]);
    const norm = (v, k) => ts.has(k) ? "<timestamp>" :
      typeof v === "string" ? v.split(id).join("<callbackId>").replace(/"(timestamp|notifiedAt)":[0-9]+/g, "\"$1\":<ms>") :
      Array.isArray(v) ? v.map(x => norm(x)) :
      v && typeof v === "object" ? Object.fromEntries(Object.keys(v).sort().map(k2 => [k2, norm(v[k2], k2)])) : v;
    const want = norm(JSON.parse(fs.readFileSync(process.argv[1])).operations);
    const got = norm(JSON.parse(fs.readFileSync(process.argv[2])).Operations.filter(o => o.Type !== "EXECUTION"));
    if (JSON.stringify(want) !== JSON.stringify(got)) { console.error(JSON.stringify(got)); process.exit(1); }
  ' "$ROOT/tests/conformance/expected/approval.json" "$T/conf-ops.json" "$CID" 2>"$T/conf.err"; then pass operations_match_sdk_approval
  else fail operations_match_sdk_approval "got $(head -c 600 "$T/conf.err")"; fi
else
  fail history_events_match_sdk "node is not installed (make deps)"
fi

# ---- bad input: message, exit code, store unchanged ----
S=$T/order.db
expect bad_input_json "$S" 1 "--input is not valid JSON" -- "$DWF" run "$EX/order.dwf" --input '{"orderId":' --store "$S"
expect bad_input_file "$S" 1 "cannot read" -- "$DWF" run "$EX/order.dwf" --input @/nonexistent.json --store "$S"
expect bad_dwf_missing "$S" 1 "cannot read" -- "$DWF" run "$T/nope.dwf" --store "$S"
printf 'workflow w {\n  step a {\n    return paymnt\n  }\n}\n' >"$T/bad.dwf"
expect bad_dwf_errors "$S" 1 "error:" -- "$DWF" run "$T/bad.dwf" --store "$S"
expect unknown_execution_history "$S" 1 "ResourceNotFoundException" -- "$DWF" history arn:aws:lambda:us-east-1:0:function:x:1/durable-execution/n/i --store "$S"
expect unknown_execution_stop "$S" 1 "ResourceNotFoundException" -- "$DWF" stop no-such-execution --store "$S"
expect unknown_execution_resume "$S" 1 "ResourceNotFoundException" -- "$DWF" resume no-such-execution --store "$S"
expect stop_finished_execution "$S" 1 "is not running" -- "$DWF" stop "$ARN" --store "$S"
expect callback_malformed_id "$S" 1 "InvalidParameterValueException" -- "$DWF" callback succeed 'not a callback id!' --store "$S"
UNKNOWN=$(printf '{"executionId":"e","operationId":"o","token":"t"}' | base64 -w0)
expect callback_unknown_id "$S" 1 "ResourceNotFoundException" -- "$DWF" callback succeed "$UNKNOWN" --result 1 --store "$S"
expect callback_bad_error_json "$S" 1 "--error is not valid JSON" -- "$DWF" callback fail "$UNKNOWN" --error '{oops' --store "$S"
expect usage_error "$S" 2 "unknown option" -- "$DWF" run "$EX/order.dwf" --frobnicate --store "$S"

# Completion after a timeout (a 1 s callback deadline; deadlines pass in real time).
S=$T/timeout.db
cat >"$T/cbto.dwf" <<'EOF'
workflow cb_timeout {
  durable { retention = 1d  timeout = 60s }
  lambda  { name = "cb-timeout-test" }
  callback cb "late" timeout 1s
  let v = await cb
  return v
}
EOF
"$DWF" run "$T/cbto.dwf" --detach --skip-time --store "$S" >"$T/t.out" 2>"$T/t.err"; rc=$?
TID=$(grep -o 'dwf callback succeed [^ ]*' "$T/t.out" | head -1 | awk '{print $4}')
TARN=$(sed -n 's/^started \(.*\)$/\1/p' "$T/t.out")
if [ $rc -ne 0 ] || [ -z "$TID" ]; then fail callback_after_timeout "setup: rc=$rc $(cat "$T/t.out" "$T/t.err" | head -c 300)"
else
  sleep 1.3
  "$DWF" resume --store "$S" >/dev/null 2>&1
  "$DWF" executions --store "$S" --status FAILED | grep -qF "$TARN" && pass callback_timeout_fails_execution \
    || fail callback_timeout_fails_execution "$("$DWF" executions --store "$S")"
  expect callback_after_timeout "$S" 1 "CallbackTimeoutException" -- "$DWF" callback succeed "$TID" --result 1 --store "$S"
fi

# A corrupt store: a named error, the file untouched.
printf 'this is not a database at all, only text long enough to be read as a header.....' >"$T/junk.db"
cp "$T/junk.db" "$T/junk.copy"
"$DWF" executions --store "$T/junk.db" >/dev/null 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q StoreCorruptException "$T/err" && cmp -s "$T/junk.db" "$T/junk.copy"; then pass corrupt_store
else fail corrupt_store "rc=$rc $(cat "$T/err")"; fi
"$DWF" run "$EX/order.dwf" --skip-time --store "$T/junk.db" >/dev/null 2>"$T/err"; rc=$?
if [ $rc -eq 1 ] && grep -q StoreCorruptException "$T/err" && cmp -s "$T/junk.db" "$T/junk.copy"; then pass corrupt_store_run
else fail corrupt_store_run "rc=$rc $(cat "$T/err")"; fi

# A locked store: another process holds the write lock; a named error, nothing changed.
S=$T/approval.db
"$DWF" run "$EX/approval.dwf" --skip-time --detach --json --store "$S" >"$T/l.json" 2>/dev/null
LARN=$(sed -n 's/.*"ExecutionArn":[[:space:]]*"\([^"]*\)".*/\1/p' "$T/l.json")
holder=
before=$(dump "$S" 2>&1)
# The holder takes the write lock, says so with a marker file, and lets go when it is removed.
# A few lines of C against libsqlite3 (installed for the build), so no sqlite3 CLI is needed.
H=$T/lock-held
cat >"$T/lockhold.c" <<'EOF'
#include <sqlite3.h>
#include <stdio.h>
#include <unistd.h>
int main(int argc, char **argv)
{
    sqlite3 *db;
    if (argc != 3 || sqlite3_open(argv[1], &db) != SQLITE_OK) return 2;
    if (sqlite3_exec(db, "BEGIN EXCLUSIVE", NULL, NULL, NULL) != SQLITE_OK) return 3;
    FILE *f = fopen(argv[2], "w");
    if (!f) return 4;
    fclose(f);
    while (access(argv[2], F_OK) == 0) usleep(100000);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return sqlite3_close(db) == SQLITE_OK ? 0 : 5;
}
EOF
if ${CC:-cc} -o "$T/lockhold" "$T/lockhold.c" -lsqlite3 2>"$T/cc.err"; then
  "$T/lockhold" "$S" "$H" & holder=$!
fi
held() { [ -f "$H" ] || [ -z "$holder" ] || ! kill -0 "$holder" 2>/dev/null; }
poll held
if [ -z "$holder" ] || [ ! -f "$H" ]; then fail locked_store "could not hold a lock: $(head -c 200 "$T/cc.err")"
else
  DWF_BUSY_TIMEOUT_MS=300 "$DWF" stop "$LARN" --store "$S" >/dev/null 2>"$T/err"; rc=$?
  rm -f "$H"; wait $holder
  after=$(dump "$S" 2>&1)
  if [ $rc -eq 1 ] && grep -q StoreLockedException "$T/err" && grep -q "database is locked" "$T/err" && [ "$before" = "$after" ]; then
    pass locked_store
  else fail locked_store "rc=$rc $(cat "$T/err")"; fi
  "$DWF" stop "$LARN" --store "$S" >/dev/null 2>&1 && "$DWF" executions --status STOPPED --store "$S" | grep -qF "$LARN" \
    && pass stop_after_unlock || fail stop_after_unlock "not STOPPED"
fi

# libzip and libmicrohttpd stay out of the engine's process; without them build/serve fail clearly.
DWF="$DWF" bash "$ROOT/tests/e2e/lazy_libs.sh"

# The store never silently loses an execution: deleted, replaced, damaged, read-only, full.
DWF="$DWF" bash "$ROOT/tests/e2e/store_safety.sh"

# Ctrl-C / SIGTERM during a step, and lambda { timeout } enforced per invocation.
DWF="$DWF" bash "$ROOT/tests/e2e/signals.sh"

# The language's constructs run end to end: loops, log in durable code, errors by type, timeouts.
DWF="$DWF" bash "$ROOT/tests/e2e/language.sh"
# The collection, text and time builtins and lambdas (examples/order_report.dwf).
DWF="$DWF" bash "$ROOT/tests/e2e/builtins.sh"
# lambda { environment }, env(), dwf run --env / --env-file, and dwf resume's recorded environment.
DWF="$DWF" bash "$ROOT/tests/e2e/environment.sh"
# secret() / parameter() against a Secrets Manager / SSM stand-in: values, caching, redaction, errors.
DWF="$DWF" bash "$ROOT/tests/e2e/secrets.sh"
exit 0
