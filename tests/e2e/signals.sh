#!/usr/bin/env bash
# tests/e2e/signals.sh: Ctrl-C / SIGTERM during a step, and the workflow's invocation timeout
# (lambda { timeout }) enforced by the embedded engine as Lambda and `dwf serve` enforce it.
#
# No check here is a stopwatch: steps block on a gate (gate.c: wait until a file exists), which
# this script opens only after the check. A dwf that waited for the step to end would never
# end, and poll's bound (300 s) turns that into a failure.
#
#   sigint_during_step       SIGINT while a step body blocks: dwf run ends (the gate still shut),
#                            exit 1, says the execution is still RUNNING and names `dwf resume`,
#                            which (gate open) ends it SUCCEEDED, the completed step not run again
#   sigterm_between_steps    SIGTERM during a loop of steps: stops at the next checkpoint, says
#                            RUNNING; dwf resume finishes with the full result
#   sigint_waiting_callback  SIGINT while run polls for a callback: exit 1, says RUNNING (true)
#   invocation_timeout       a step blocked past `lambda { timeout = 1s }`: each invocation ends
#                            with Sandbox.Timedout "Task timed out after 1.00 seconds" (three, as
#                            the service retries a faulted invocation), the execution FAILED, exit 1
#   invocation_timeout_attempt_counts  the same step `at_most_once` with 2 attempts: the attempt
#                            in flight counts when the execution is re-driven (StepInterruptedError,
#                            Attempt 2), so the step's retry policy decides, as on Lambda
#   invocation_within_timeout  steps that end in time are not affected
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DWF=${DWF:-$ROOT/build/dwf}
T=$(mktemp -d /tmp/dwf-signals.XXXXXX)
trap 'touch "$T/gate" 2>/dev/null; kill $(jobs -p) 2>/dev/null; rm -rf "$T"' EXIT
cd "$T"

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
poll() {
  local i
  for ((i = 0; i < 3000; i++)); do "$@" && return 0; sleep 0.1; done
  return 1
}
if [ ! -x "$DWF" ]; then fail signals "no $DWF (build first)"; exit 0; fi

cat >"$T/gate.c" <<'EOF'
/* gate(path): block until the file `path` exists (at most 600 s), then return true. Stands for
 * a step body that takes as long as the test wants, whatever the machine's speed. */
#include <time.h>
#include <unistd.h>
#include "dwf.h"
cJSON *gate(dwf_ctx *c, int argc, cJSON *const *argv)
{
    if (argc != 1 || !cJSON_IsString(argv[0])) {
        dwf_fail(c, "TypeError", "gate(path)");
        return NULL;
    }
    for (int i = 0; i < 60000 && access(argv[0]->valuestring, F_OK) != 0; i++) {
        struct timespec ms = {0, 10000000};
        nanosleep(&ms, NULL);
    }
    return cJSON_CreateTrue();
}
EOF
# The gate is a path under $T (absolute: the handler runs in dwf's working directory).
cat >"$T/gated.dwf" <<EOF
use "gate.c"
workflow gated {
  lambda { name = "gated"  timeout = 300s }
  step a "first" { return 1 }
  step b "blocked" { call gate("$T/gate") return 2 }
  return { a, b }
}
EOF
cat >"$T/loop.dwf" <<'EOF'
workflow looped {
  lambda { name = "looped" }
  let total = 0
  for i in range(40) {
    step s "tick" { sleep_ms(50) return i }
    total = total + s
  }
  return { total }
}
EOF
cat >"$T/cb.dwf" <<'EOF'
workflow cb_wait {
  lambda { name = "cb-wait" }
  callback cb "answer" timeout 1h
  let v = await cb
  return v
}
EOF
cat >"$T/timeout.dwf" <<EOF
use "gate.c"
workflow over_time {
  lambda { name = "over-time"  timeout = 1s }
  step b "blocked" { call gate("$T/never") return 2 }
  return { b }
}
EOF
cat >"$T/timeout_amo.dwf" <<EOF
use "gate.c"
workflow over_time_once {
  lambda { name = "over-time-once"  timeout = 1s }
  step b "blocked" retry { attempts 2  delay 1s } semantics at_most_once { call gate("$T/never") return 2 }
  return { b }
}
EOF
cat >"$T/intime.dwf" <<'EOF'
workflow in_time {
  lambda { name = "in-time"  timeout = 5s }
  step a "quick" { return 1 }
  step b "quick" { return 2 }
  return { a, b }
}
EOF

# started FILE PID PATTERN: the run printed PATTERN (or ended)
printed() { grep -q "$3" "$1" 2>/dev/null || ! kill -0 "$2" 2>/dev/null; }

# ---- SIGINT while a step body blocks ----
S=$T/int.db
"$DWF" run "$T/gated.dwf" --store "$S" >"$T/int.out" 2>"$T/int.err" &
P=$!
poll printed "$T/int.out" $P "first .*SUCCEEDED"
ARN=$(sed -n 's/^started //p' "$T/int.out")
sleep 0.3 # let it enter the blocked step (not needed for correctness: interrupted earlier, it still must say RUNNING)
kill -INT $P
ended() { ! kill -0 $P 2>/dev/null; }
if poll ended && [ ! -e "$T/gate" ]; then
  wait $P; rc=$?
  if [ $rc -eq 1 ] && grep -q "interrupted; the execution is still RUNNING" "$T/int.err" \
     && grep -qF "dwf resume $ARN --store $S" "$T/int.err" && "$DWF" executions --status RUNNING --store "$S" | grep -qF "$ARN"; then
    touch "$T/gate"
    "$DWF" resume "$ARN" --store "$S" >"$T/int2.out" 2>&1; rrc=$?
    first=$("$DWF" history "$ARN" --events --json --store "$S" | grep -c '"StepSucceeded"')
    if [ $rrc -eq 0 ] && grep -q '^SUCCEEDED' "$T/int2.out" && grep -q '"b":2' "$T/int2.out" && [ "$first" -eq 2 ]; then
      pass sigint_during_step
    else fail sigint_during_step "resume rc=$rrc StepSucceeded=$first $(head -c 300 "$T/int2.out")"; fi
  else fail sigint_during_step "rc=$rc $(head -c 400 "$T/int.err")"; fi
else fail sigint_during_step "dwf run did not end while the step blocked"; fi
rm -f "$T/gate"

# ---- SIGTERM during a loop of steps ----
S=$T/term.db
"$DWF" run "$T/loop.dwf" --store "$S" >"$T/term.out" 2>"$T/term.err" &
P=$!
poll printed "$T/term.out" $P "tick .*SUCCEEDED"
ARN=$(sed -n 's/^started //p' "$T/term.out")
kill -TERM $P; wait $P; rc=$?
if [ $rc -eq 1 ] && grep -q "interrupted; the execution is still RUNNING" "$T/term.err"; then
  "$DWF" resume "$ARN" --store "$S" >"$T/term2.out" 2>&1; rrc=$?
  if [ $rrc -eq 0 ] && grep -q '^SUCCEEDED' "$T/term2.out" && grep -q '"total":780' "$T/term2.out"; then pass sigterm_between_steps
  else fail sigterm_between_steps "resume rc=$rrc $(head -c 300 "$T/term2.out")"; fi
elif [ $rc -eq 0 ]; then fail sigterm_between_steps "the run ended SUCCEEDED before the signal was honoured"
else fail sigterm_between_steps "rc=$rc $(head -c 300 "$T/term.err")"; fi

# ---- SIGINT while waiting for a callback ----
S=$T/cb.db
"$DWF" run "$T/cb.dwf" --store "$S" >"$T/cb.out" 2>"$T/cb.err" &
P=$!
poll printed "$T/cb.out" $P "waiting for callback"
kill -INT $P; wait $P; rc=$?
if [ $rc -eq 1 ] && grep -q "interrupted; the execution is still RUNNING" "$T/cb.err" && ! grep -q abandoned "$T/cb.err"; then
  pass sigint_waiting_callback
else fail sigint_waiting_callback "rc=$rc $(head -c 300 "$T/cb.err")"; fi

# ---- the invocation timeout ----
S=$T/to.db
"$DWF" run "$T/timeout.dwf" --skip-time --store "$S" >"$T/to.out" 2>"$T/to.err" & P=$!
if poll ended; then
  wait $P; rc=$?
  ARN=$(sed -n 's/^started //p' "$T/to.out")
  "$DWF" history "$ARN" --events --json --store "$S" >"$T/to.json" 2>/dev/null
  n=$(grep -c '"ErrorType":[[:space:]]*"Sandbox.Timedout"' "$T/to.json")
  if [ $rc -eq 1 ] && grep -q '^FAILED' "$T/to.out" && [ "$(grep -c 'invocation failed: Sandbox.Timedout: Task timed out after 1.00 seconds' "$T/to.out")" -eq 3 ] \
     && [ "$n" -ge 3 ] && "$DWF" executions --status FAILED --store "$S" | grep -q Sandbox.Timedout; then pass invocation_timeout
  else fail invocation_timeout "rc=$rc events=$n $(head -c 400 "$T/to.out")"; fi
else fail invocation_timeout "dwf run did not end while the step blocked past its timeout"; fi

S=$T/amo.db
"$DWF" run "$T/timeout_amo.dwf" --skip-time --json --store "$S" >"$T/amo.json" 2>"$T/amo.err" & P=$!
if poll ended; then
  wait $P; rc=$?
  ARN=$(sed -n 's/.*"ExecutionArn":[[:space:]]*"\([^"]*\)".*/\1/p' "$T/amo.json")
  ops=$("$DWF" history "$ARN" --json --store "$S" 2>/dev/null | tr -d ' \n')
  if [ $rc -eq 1 ] && grep -q '"ErrorType":[[:space:]]*"StepError"' "$T/amo.json" \
     && echo "$ops" | grep -q '"StepDetails":{"Attempt":2,[^}]*"Error":{"ErrorType":"StepInterruptedError"'; then
    pass invocation_timeout_attempt_counts
  else fail invocation_timeout_attempt_counts "rc=$rc $(head -c 300 "$T/amo.json") $(echo "$ops" | head -c 400)"; fi
else fail invocation_timeout_attempt_counts "dwf run did not end"; fi

"$DWF" run "$T/intime.dwf" --json --store "$T/intime.db" >"$T/it.json" 2>"$T/it.err"; rc=$?
if [ $rc -eq 0 ] && grep -q '"Status":[[:space:]]*"SUCCEEDED"' "$T/it.json"; then pass invocation_within_timeout
else fail invocation_within_timeout "rc=$rc $(head -c 300 "$T/it.err")"; fi
touch "$T/never"
exit 0
