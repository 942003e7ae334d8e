#!/usr/bin/env bash
# Fault injection, "nothing lost": SIGKILL `dwf run` and `dwf resume` at random instants, carry
# on with `dwf resume`, and check that every execution ends with the result of an uninterrupted
# run and that no step whose success was committed ever ran again.
#
# Trials (each with its own store, all sharing one handler cache):
#   fx-<wf>-<i>   the fault variants tests/fault/<wf>.dwf of the four examples (order, retry,
#                 approval, fanout): every step calls effect() (effects.c), which appends
#                 "<execution>/<step>/<attempt>" to the trial's log. 1-4 kills per trial, of
#                 `dwf run` first, then of the `dwf resume`s that follow.
#   ex-<wf>-<i>   the examples themselves (examples/<wf>.dwf), 1-2 kills; results only.
#   cc-<wf>-<i>   a variant's `dwf run` with 1-3 `dwf resume`s of the same execution started
#                 beside it, nothing killed: one invocation at a time, no attempt runs twice;
#                 approval's callback is answered while the invocation that made it runs.
#   vg-<wf>       (only under make VALGRIND=1 check) a variant killed once, every `dwf resume`
#                 after it under valgrind: the recovery path leaks nothing, reads nothing wrong.
#   ak-<wf>-<i>   top-up trials, only while the kills are too few (below): a variant whose
#                 processes are all killed, aimed, 1-4 times; judged like fx trials.
# A trial: start `dwf run --skip-time --name <trial>` (approval with --detach) under a SIGKILL
# at a random instant: either uniform in [0, 1.5 x an uninterrupted run's duration], or aimed
# 0-49 ms after the n-th step effect / output line of the process; then, until the execution is
# no longer RUNNING: if it waits on the approval callback, answer it with `dwf callback
# succeed` (sometimes before it is awaited); run `dwf resume ARN --skip-time`, itself perhaps
# killed. The killed process's open invocation must be re-run at once (its owner pid is dead);
# a process that ended normally leaving one open is a failure, unless the pid was reused by a
# live process, when only the 30 s rule applies and 31 s are made to pass for it (faultctl
# bump). A `dwf run` killed before the execution existed is started again with the same name
# (the client's retry). Then: SUCCEEDED, the same result as an uninterrupted run (timestamps
# aside), and for the variants `faultctl checklog` (the rules are in faultctl.c): no step body
# ran after its SUCCEEDED was committed, attempts never go back, the stored attempt really
# ran, and an at_most_once step never ran twice in one attempt.
# Beside the trials: the same `dwf run --name` run again after a kill continues the execution;
# an invocation of a runner on another host is left alone for 30 s, then taken over; `dwf run`
# killed while compiling its handler leaves nothing that stops the next one.
#
# Enough kills, whatever the load: a drawn kill instant may fall after the process ended (a
# loaded or a fast machine shifts where the instants land), so how many of the trials' kills
# land is not fixed. The suite wants 100 kills, at least one at-least-once re-run (a kill between
# a step's effect and its SUCCEED commit) and one kill of `dwf resume`: while it has not, it runs
# top-up rounds of ak trials, FAULT_JOBS at a time, as many as it takes. It fails only if
# FAULT_STALL_S seconds (default 300) pass without one more kill landing: then kills no longer
# land at all, which is a fault of the suite or of dwf, not of the machine's speed.
#
# Randomness comes from FAULT_SEED (printed first); each trial derives its own stream from the
# seed and its name, so `FAULT_SEED=S FAULT_ONLY=fx-order-7 bash tests/fault/run.sh` replays
# one trial's draws (kill delays, kill or not, when the callback is answered; ak-<wf>-<i> too).
# The instant a delay lands on still depends on the machine's speed.
#   FAULT_TRIALS=N  fx trials per workflow (default 30: 120 fx trials, 144 in all; 8 in
#                   instrumented builds, where the 100-kill check and the top-up are not made)
#   FAULT_JOBS=N    trials run at once (default 4)
#   FAULT_STALL_S=S the top-up fails after S seconds without a new kill (default 300)
#   FAULT_KEEP=1    keep the stores, logs and outputs (the directory is printed at the end)
# Prints "PASS name" / "FAIL name: why" lines (tests/run.sh counts them).
set -u
cd "$(dirname "$0")/../.."
ROOT=$PWD
DWF=${DWF:-$ROOT/build/dwf}
FX=$ROOT/tests/fault
T=$(mktemp -d /tmp/dwf-fault.XXXXXX)
BG=()
cleanup() {
  local p
  for p in "${BG[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  if [ -n "${FAULT_KEEP:-}" ]; then echo "fault: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

SEED=${FAULT_SEED:-$(( $(date +%s%N) / 1000 % 1000000000 ))}
# Instrumented builds (make SANITIZE=... / VALGRIND=1 check) are several times slower: fewer
# trials there; the plain build's run is the one that must reach 100 trials and 100 kills.
if [ -n "${SANITIZE:-}${DWF_VALGRIND:-}" ]; then TRIALS=${FAULT_TRIALS:-8}; else TRIALS=${FAULT_TRIALS:-30}; fi
FULL=; [ -z "${FAULT_TRIALS:-}${SANITIZE:-}${DWF_VALGRIND:-}" ] && FULL=1
JOBS=${FAULT_JOBS:-4}
ONLY=${FAULT_ONLY:-}
CB_RESULT='{"approved":true,"approver":"fault@example.com"}'
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --suppressions="$ROOT/tests/valgrind.supp")
WFS="order retry approval fanout"
# at_most_once steps of the variants (checked: never two runs of one attempt)
declare -A AMO=([order]=confirm-order [retry]=step3-confirm [approval]=notify-approver [fanout]=check-fraud)
# steps each variant logs in an uninterrupted run
declare -A RUNS=([order]=3 [retry]=4 [approval]=3 [fanout]=6)
# per "kind-wf", from the uninterrupted runs: normalised result, kill delay range, output lines
declare -A REF DMAX LINES

echo "fault: FAULT_SEED=$SEED (replay one trial: FAULT_SEED=$SEED FAULT_ONLY=<trial> bash tests/fault/run.sh)"
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
now_ms() { date +%s%3N; }

if [ ! -x "$DWF" ]; then fail fault_dwf "no $DWF (build first)"; exit 0; fi
FC=$T/faultctl
# built like the rest: under make SANITIZE=... with the sanitizers too
if ! ${CC:-cc} -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g ${SANITIZE:+-fsanitize=$SANITIZE -fno-sanitize-recover=all} \
     -o "$FC" "$FX/faultctl.c" -lsqlite3 -lcjson 2>"$T/cc.err"; then
  fail fault_faultctl_builds "$(head -c 400 "$T/cc.err")"; exit 0
fi
mkdir -p "$T/st" "$T/log" "$T/out" "$T/res" "$T/top"

src_of() { # KIND WF
  if [ "$1" = ex ]; then echo "$ROOT/examples/$2.dwf"; else echo "$FX/$2.dwf"; fi
}

# One process of a trial: the "#seg" marker (SUCCEEDED: the steps committed now, from faultctl
# state), then CMD under the kill KSPEC (faultctl run's arguments; "-1" = none). Sets RC (137:
# we killed it).
step_proc() { # LOG STORE OUT SUCCEEDED CMD...
  local log=$1 store=$2 out=$3
  echo "#seg ${*:5} $4" >>"$log"
  shift 4
  DWF_FAULT_LOG=$log DWF_FAULT_STORE=$store "$FC" run "${KSPEC[@]}" "$@" >>"$out" 2>&1
  RC=$?
}

# concurrent_procs LOG STORE OUT SUCCEEDED DMAX CMD...: CMD (a trial's first `dwf run`) with
# 1-3 `dwf resume --store` (every execution of the store) started beside it, each at a random
# instant in the first half of an uninterrupted run's duration (DMAX is 1.5 times it): their
# start-up overlaps the run's, so they meet its invocations. Nothing is killed. One invocation
# at a time: a resume finding the run's invocation live leaves it alone, so no step attempt
# may run twice. For approval, the callback is also answered as soon as it exists. Sets RC:
# the run's exit status, or a resume's if one crashed.
concurrent_procs() {
  local log=$1 store=$2 out=$3 succ=$4 dmax=$5 i ms s2 p r main
  shift 5
  local -a pids=()
  echo "#seg $* $succ" >>"$log"
  DWF_FAULT_LOG=$log DWF_FAULT_STORE=$store "$FC" run -1 "$@" >>"$out" 2>&1 &
  main=$!
  case $* in
    */approval.dwf*)
      # the approver answers the moment the callback exists, while the run's invocation that
      # created it is still going (notify-approver, then await)
      # (notify-approver holds 1 s in cc trials: see their input in drive())
      (
        local cb
        "$FC" waitlines "$log" 2 5000 # prepare-document, notify-approver
        read -r _ _ _ cb _ <<<"$("$FC" state "$store")"
        [ "$cb" != - ] && "$DWF" callback succeed "$cb" --result "$CB_RESULT" --store "$store" >>"$out" 2>&1
        exit 0
      ) &
      pids+=($!) ;;
  esac
  for i in $(seq 1 $((1 + RANDOM % 3))); do
    ms=$((RANDOM % (dmax / 3 + 1)))
    sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
    read -r _ _ _ _ _ s2 <<<"$("$FC" state "$store")"
    echo "#seg resume-beside $s2" >>"$log"
    DWF_FAULT_LOG=$log DWF_FAULT_STORE=$store "$DWF" resume --skip-time --store "$store" >>"$out" 2>&1 &
    pids+=($!)
  done
  wait $main
  RC=$?
  for p in "${pids[@]}"; do
    wait "$p"; r=$?
    [ $r -gt 2 ] && RC=$r
  done
}

# drive NAME KIND WF MAXKILLS DMAX: one execution from start to end, killed at most MAXKILLS
# times (kill delays uniform in [0, DMAX) ms). Sets WHY (empty = ended), KILLS, PROCS.
drive() {
  local name=$1 kind=$2 wf=$3 maxk=$4 dmax=$5
  local src store=$T/st/$name.db log=$T/log/$name.log out=$T/out/$name
  src=$(src_of "$kind" "$wf")
  local input="{\"orderId\":\"ORD-F\",\"trial\":\"$name\"}"
  [ "$kind" = cc ] && input="{\"orderId\":\"ORD-F\",\"trial\":\"$name\",\"notifyHoldMs\":1000}"
  local status inv arn cb owner succ iter=0 st killed= prev=
  local -a cmd
  WHY= KILLS=0 PROCS=0
  : >"$log"
  while :; do
    iter=$((iter + 1))
    st=$("$FC" state "$store") || { WHY="faultctl state failed"; return; }
    read -r status inv arn cb owner succ <<<"$st"
    if [ -n "$killed" ]; then # what the kill interrupted: how many steps had SUCCEEDED
      if [ "$succ" = - ]; then echo "$kind-$wf $killed 0"; else echo "$kind-$wf $killed $(tr ',' '\n' <<<"$succ" | wc -l)"; fi >>"$T/kills"
      killed=
    fi
    if [ $iter -gt 40 ]; then WHY="not finished after 40 rounds: $st"; return; fi
    case $status in
      NONE)
        cmd=("$DWF" run "$src" --skip-time --name "$name" --input "$input" --store "$store")
        [ "$wf" = approval ] && cmd+=(--detach) ;;
      RUNNING)
        if [ "$cb" != - ] && { [ "$inv" = 0 ] || [ $((RANDOM % 2)) = 0 ]; }; then
          # the approver answers, sometimes while the execution is not even waiting yet
          if ! "$DWF" callback succeed "$cb" --result "$CB_RESULT" --store "$store" >>"$out" 2>&1; then
            WHY="dwf callback succeed failed: $(tail -1 "$out")"; return
          fi
          continue
        fi
        if [ "$inv" = 1 ] && [ -n "$prev" ] && [ "$prev" != 137 ]; then
          # A process that was not killed ended and an invocation is still open: the one a
          # killed process left, which `dwf resume` / `dwf run` must re-run at once since its
          # owner (host:pid) is dead. Only if that pid now belongs to a live process again may
          # they wait for the 30 s rule; then let 31 s pass for it.
          if [ "$owner" != - ] && kill -0 "${owner##*:}" 2>/dev/null; then
            "$FC" bump "$store" 31000 || { WHY="faultctl bump failed"; return; }
          else
            WHY="${cmd[1]} ended ($prev) leaving the open invocation of dead $owner alone: $st"; return
          fi
        fi
        cmd=("$DWF" resume "$arn" --skip-time --store "$store")
        # vg trials: the recovering process under valgrind (and never killed)
        [ "$kind" = vg ] && cmd=("${VG[@]}" "${cmd[@]}") ;;
      *) return ;;
    esac
    KSPEC=(-1)
    if [ "$kind" = ak ] && [ $KILLS -lt "$maxk" ]; then
      # top-up: every process, aimed 0-49 ms after one of the effects of the steps still to run
      local left=$((${RUNS[$wf]} - $(if [ "$succ" = - ]; then echo 0; else tr ',' '\n' <<<"$succ" | wc -l; fi)))
      [ $left -ge 1 ] || left=1
      KSPEC=($((RANDOM % 50)) --after-lines $((1 + RANDOM % left)) "$log")
    elif [ $KILLS -lt "$maxk" ] && { [ $PROCS = 0 ] || [ $((RANDOM % 4)) != 0 ]; } && [ "${cmd[0]}" = "$DWF" ]; then
      if [ $((RANDOM % 2)) = 0 ]; then
        # aimed: 0-49 ms after the process's n-th step body logged its effect (fx: the bodies
        # hold 15-40 ms, then checkpoint) or its n-th output line (ex: one per operation
        # change and log line), so kills land inside steps and their checkpoints, not mostly
        # in the process's start-up (which is most of its time on a loaded machine)
        if [ "$kind" = fx ] || [ "$kind" = vg ]; then KSPEC=($((RANDOM % 50)) --after-lines $((1 + RANDOM % ${RUNS[$wf]})) "$log")
        else KSPEC=($((RANDOM % 50)) --after-lines $((1 + RANDOM % ${LINES[$kind-$wf]})) "$out"); fi
      else
        KSPEC=($((RANDOM % dmax)))
      fi
    fi
    if [ "$kind" = cc ] && [ $PROCS = 0 ]; then
      concurrent_procs "$log" "$store" "$out" "$succ" "$dmax" "${cmd[@]}"
    else
      step_proc "$log" "$store" "$out" "$succ" "${cmd[@]}"
    fi
    prev=$RC
    PROCS=$((PROCS + 1))
    if [ $RC = 137 ]; then
      KILLS=$((KILLS + 1))
      killed=${cmd[1]}
    elif [ $RC = 99 ] && [ "$kind" = vg ]; then
      WHY="valgrind found errors in dwf resume: $(grep '==[0-9]*==' "$out" | head -5 | tr '\n' ' ')"; return
    elif [ $RC != 0 ] && [ $RC != 1 ]; then
      WHY="${cmd[1]} exited $RC: $(tail -2 "$out" | tr '\n' ' ')"; return
    fi
  done
}

# trial NAME KIND WF: drive one trial and judge it; writes $T/res/NAME ($T/top/NAME for ak).
trial() {
  local name=$1 kind=$2 wf=$3 maxk got want ck res=$T/res/$1
  [ "$kind" = ak ] && res=$T/top/$name
  RANDOM=$(printf '%s' "$SEED/$name" | cksum | cut -d' ' -f1)
  case $kind in
    fx | ak) maxk=$((1 + RANDOM % 4)) ;;
    ex) maxk=$((1 + RANDOM % 2)) ;;
    vg) maxk=1 ;;
    cc) maxk=0 ;;
  esac
  drive "$name" "$kind" "$wf" "$maxk" "${DMAX[$kind-$wf]}"
  local tag="$name (kills=$KILLS processes=$PROCS)" replay="replay: FAULT_SEED=$SEED FAULT_ONLY=$name"
  if [ -n "$WHY" ]; then fail "$tag" "$WHY; $replay" >"$res"; return; fi
  got=$("$FC" result "$T/st/$name.db")
  want=${REF[$kind-$wf]}
  if [ "$got" != "$want" ]; then
    fail "$tag" "result differs from an uninterrupted run: got '$got' want '$want'; $replay" >"$res"; return
  fi
  if [ "$kind" != ex ]; then
    ck=$("$FC" checklog "$T/log/$name.log" "$T/st/$name.db" "${AMO[$wf]}")
    if [ $? != 0 ]; then
      fail "$tag" "$(grep '^problem' <<<"$ck" | head -3 | tr '\n' ';') $replay" >"$res"
      return
    fi
    if [ "$kind" = cc ] && ! grep -q 'at_least_once_reruns=0 ' <<<"$ck"; then
      fail "$tag" "a step attempt ran twice with no process killed ($ck); $replay" >"$res"; return
    fi
    echo "$name $ck" >>"$T/checks"
    tag="$tag $(sed -n 's/.*at_least_once_reruns=\([0-9]*\).*/reruns=\1/p' <<<"$ck")"
  fi
  pass "$tag" >"$res"
}

# ---- references: each workflow uninterrupted (also compiles every handler once) ----
# ref_once NAME KIND WF: an uninterrupted run in the store NAME (approval: answered and
# resumed); prints how long `dwf run` took in ms, and leaves the number of lines it printed in
# $T/out/NAME.lines.
ref_once() {
  local name=$1 kind=$2 wf=$3 src store=$T/st/$1.db t0 t1 st
  src=$(src_of "$kind" "$wf")
  local -a extra=()
  [ "$wf" = approval ] && extra=(--detach)
  t0=$(now_ms)
  DWF_FAULT_LOG=$T/log/$name.log DWF_FAULT_STORE=$store "$DWF" run "$src" --skip-time --name "$name" \
    --input "{\"orderId\":\"ORD-F\",\"trial\":\"$name\"}" --store "$store" "${extra[@]}" >"$T/out/$name" 2>&1
  t1=$(now_ms)
  # progress and log lines only: the result printed at the end is no instant to aim at
  grep -c '^  [A-Z]\|^{"requestId"' "$T/out/$name" >"$T/out/$name.lines"
  if [ "$wf" = approval ]; then
    st=$("$FC" state "$store")
    "$DWF" callback succeed "$(awk '{print $4}' <<<"$st")" --result "$CB_RESULT" --store "$store" >>"$T/out/$name" 2>&1
    DWF_FAULT_LOG=$T/log/$name.log DWF_FAULT_STORE=$store "$DWF" resume --skip-time --store "$store" >>"$T/out/$name" 2>&1
  fi
  echo $((t1 - t0))
}

# Handlers are compiled once per content into the store directory's cache/; keep that cache
# in the build directory so later runs skip the compiler (the key covers the dwf binary).
CACHE=${FAULT_CACHE:-$ROOT/${BUILD:-build}/fault-cache}
if mkdir -p "$CACHE" 2>/dev/null; then ln -s "$CACHE" "$T/st/cache"; fi
# Two rounds of the eight: the first all at once (compiling the handlers), the second one by
# one, so its durations are those of a process that has the machine to itself.
for kind in fx ex; do
  for wf in $WFS; do
    ref_once "ref1-$kind-$wf" $kind $wf >/dev/null &
    BG+=($!)
  done
done
wait; BG=()
for kind in fx ex; do
  for wf in $WFS; do ref_once "ref2-$kind-$wf" $kind $wf >"$T/out/ref2-$kind-$wf.ms"; done
done
for kind in fx ex; do
  for wf in $WFS; do
    ms=$(cat "$T/out/ref2-$kind-$wf.ms")
    r1=$("$FC" result "$T/st/ref1-$kind-$wf.db"); r2=$("$FC" result "$T/st/ref2-$kind-$wf.db")
    ok=1
    case $r1 in SUCCEEDED\ *) ;; *) ok=0 ;; esac
    [ "$r1" = "$r2" ] || ok=0
    if [ $kind = fx ] && [ $ok = 1 ]; then
      ck=$("$FC" checklog "$T/log/ref1-$kind-$wf.log" "$T/st/ref1-$kind-$wf.db" "${AMO[$wf]}") || ok=0
      grep -q "^runs=${RUNS[$wf]} .*at_least_once_reruns=0" <<<"$ck" || ok=0
    fi
    if [ $ok = 1 ]; then pass "fault_reference_$kind-$wf (${ms} ms)"
    else fail "fault_reference_$kind-$wf" "uninterrupted runs: '$r1' / '$r2' ${ck:-} $(tail -3 "$T/out/ref1-$kind-$wf")"; fi
    REF[$kind-$wf]=$r1
    # kill delays: uniform over 1.5 x the uninterrupted duration (several trials run at once,
    # which slows each down, so some kills still find a process that would have finished)
    DMAX[$kind-$wf]=$((ms * 3 / 2 + 20))
    # output lines of an uninterrupted `dwf run`: the range of the aimed kills of ex trials
    LINES[$kind-$wf]=$(cat "$T/out/ref2-$kind-$wf.lines")
    [ "${LINES[$kind-$wf]:-0}" -gt 0 ] 2>/dev/null || LINES[$kind-$wf]=1
    if [ $kind = fx ]; then
      for k in vg cc ak; do REF[$k-$wf]=$r1 DMAX[$k-$wf]=${DMAX[$kind-$wf]} LINES[$k-$wf]=${LINES[$kind-$wf]}; done
    fi
  done
done

# ---- the checker itself: a rerun after commit must be caught ----
# The order variant runs again under an execution name whose steps all SUCCEEDED in another
# store, and effect() is pointed at that store: every body now runs "after its commit".
S1=$T/st/ref1-fx-order.db S2=$T/st/selftest.db L2=$T/log/selftest.log
DWF_FAULT_LOG=$L2 DWF_FAULT_STORE=$S1 "$DWF" run "$FX/order.dwf" --skip-time --quiet --json --name ref1-fx-order \
  --input '{"orderId":"ORD-F","trial":"ref1-fx-order"}' --store "$S2" >/dev/null 2>&1
ck=$("$FC" checklog "$L2" "$S2" confirm-order); rc=$?
if [ $rc = 1 ] && [ "$(grep -c 'ran after its SUCCEEDED was committed' <<<"$ck")" = 3 ]; then pass fault_selftest_effect_sees_commit
else fail fault_selftest_effect_sees_commit "rc=$rc $ck"; fi
# Synthetic logs against the reference store (validate-order:1, process-payment:1, confirm-order:1).
check_synth() { # NAME WANT_TEXT LOG_LINES...
  local name=$1 want=$2 out rc
  shift 2
  printf '%s\n' "$@" >"$T/log/synth"
  out=$("$FC" checklog "$T/log/synth" "$S1" confirm-order); rc=$?
  if [ $rc = 1 ] && grep -qF -- "$want" <<<"$out"; then pass "fault_selftest_$name"
  else fail "fault_selftest_$name" "rc=$rc, want '$want': $out"; fi
}
ok_lines=("#seg a -" x/validate-order/1 x/process-payment/1 x/confirm-order/1)
printf '%s\n' "${ok_lines[@]}" "#seg b validate-order:1,process-payment:1" x/validate-order/1 x/confirm-order/1 >"$T/log/synth"
out=$("$FC" checklog "$T/log/synth" "$S1" confirm-order); rc=$?
if [ $rc = 1 ] && grep -q 'at_most_once step confirm-order ran twice' <<<"$out" \
   && grep -q 'validate-order attempt 1 ran in a process started after' <<<"$out"; then pass fault_selftest_later_process_and_amo
else fail fault_selftest_later_process_and_amo "rc=$rc $out"; fi
check_synth attempt_back "process-payment attempt 1 ran after attempt 2" "${ok_lines[@]}" x/process-payment/2 x/process-payment/1
check_synth later_attempt "succeeded on attempt 1 but attempt 2 ran" "${ok_lines[@]}" x/validate-order/2
check_synth lost_run "succeeded on attempt 1 but no run of that attempt" "#seg a -" x/validate-order/1 x/process-payment/1
check_synth at_least_once_rerun_is_fine_but_extra_step_is_not "ran but never SUCCEEDED" "${ok_lines[@]}" x/validate-order/1 x/other/1
if printf '%s\n' "${ok_lines[@]}" x/validate-order/1 x/process-payment/1 >"$T/log/synth" \
   && out=$("$FC" checklog "$T/log/synth" "$S1" confirm-order) && grep -q 'at_least_once_reruns=2' <<<"$out"; then
  pass fault_selftest_at_least_once_rerun_before_commit_allowed
else fail fault_selftest_at_least_once_rerun_before_commit_allowed "$out"; fi

# ---- the trials ----
: >"$T/trials"
for wf in $WFS; do
  for i in $(seq 1 "$TRIALS"); do echo "fx-$wf-$i fx $wf" >>"$T/trials"; done
  for i in 1 2 3; do echo "ex-$wf-$i ex $wf" >>"$T/trials"; done
  for i in 1 2 3; do echo "cc-$wf-$i cc $wf" >>"$T/trials"; done
done
if [ -n "$ONLY" ]; then
  case $ONLY in ak-*-*) wf=${ONLY#ak-}; echo "$ONLY ak ${wf%-*}" >>"$T/trials" ;; esac
  grep "^$ONLY " "$T/trials" >"$T/t2"; mv "$T/t2" "$T/trials"
fi

# kill_in_invocation NAME CMD...: run CMD (order: three steps and a wait) killed 10 ms after
# its 2nd output line, until a kill leaves an invocation open (5 tries). 0 if one did.
kill_in_invocation() {
  local name=$1 store=$T/st/$1.db out=$T/out/$1 try
  shift
  for try in 1 2 3 4 5; do
    DWF_FAULT_LOG=$T/log/$name.log DWF_FAULT_STORE=$store "$FC" run 10 --after-lines 2 "$out" "$@" >>"$out" 2>&1
    case $("$FC" state "$store") in "RUNNING 1 "*) return 0 ;; esac
    rm -f "$store" "$store-wal" "$store-shm" "$T/log/$name.log"
  done
  return 1
}

# The client's other way to carry on after a crash: run the same `dwf run --name` command
# again. It attaches to the execution and must continue it at once, as `dwf resume` does:
# the killed process that owned the open invocation is dead. With --detach, a run that did not
# take the invocation over would return at once leaving the execution RUNNING (it would have
# to wait for the 30 s rule), so the outcome says it, however fast the machine is.
rerun_after_kill() {
  local name=rerun-after-kill store=$T/st/rerun-after-kill.db st st0 rc
  local -a cmd=("$DWF" run "$ROOT/examples/order.dwf" --skip-time --name "$name" --store "$store")
  if ! kill_in_invocation "$name" "${cmd[@]}"; then
    pass "fault_run_again_after_kill (inconclusive: no kill inside an invocation in 5 tries)" >"$T/res/$name"; return
  fi
  st0=$("$FC" state "$store")
  "${cmd[@]}" --detach >>"$T/out/$name" 2>&1; rc=$?
  st=$("$FC" state "$store")
  read -r _ _ _ _ owner _ <<<"$st0"
  if [ $rc = 0 ] && [ "${st%% *}" = SUCCEEDED ]; then pass fault_run_again_after_kill >"$T/res/$name"
  elif [ "${st%% *}" = RUNNING ] && [ "$owner" != - ] && kill -0 "${owner##*:}" 2>/dev/null; then
    pass "fault_run_again_after_kill (inconclusive: the killed runner's pid was reused)" >"$T/res/$name"
  else
    fail fault_run_again_after_kill "the same 'dwf run --name' after a kill attached and did not continue the execution at once (rc=$rc, state ${st%% *}; 'dwf resume' does continue it)" >"$T/res/$name"
  fi
}

# An invocation left open by a runner this machine cannot see (another host, say) is re-run
# only once it is 30 s old: before that `dwf resume` leaves it, and no step runs; after it
# (31 s passed for it: faultctl bump) `dwf resume` finishes the execution, nothing lost or redone.
foreign_owner() {
  local name=foreign-owner store=$T/st/foreign-owner.db log=$T/log/foreign-owner.log out=$T/out/foreign-owner
  local st n1 n2 ck
  if ! kill_in_invocation "$name" "$DWF" run "$FX/order.dwf" --skip-time --name "$name" \
       --input "{\"orderId\":\"ORD-F\",\"trial\":\"$name\"}" --store "$store"; then
    pass "fault_foreign_owner_after_30s (inconclusive: no kill inside an invocation in 5 tries)" >"$T/res/$name"; return
  fi
  "$FC" owner "$store" "elsewhere.invalid:1"
  n1=$(grep -vc '^#' "$log")
  DWF_FAULT_LOG=$log DWF_FAULT_STORE=$store "$DWF" resume --skip-time --store "$store" >>"$out" 2>&1
  st=$("$FC" state "$store"); n2=$(grep -vc '^#' "$log")
  case $st in
    "RUNNING 1 "*) ;;
    *) fail fault_foreign_owner_after_30s "dwf resume took over a foreign runner's invocation at once: ${st%% *}, $n1 -> $n2 runs" >"$T/res/$name"; return ;;
  esac
  "$FC" bump "$store" 31000
  echo "#seg resume-after-30s $(awk '{print $6}' <<<"$st")" >>"$log"
  DWF_FAULT_LOG=$log DWF_FAULT_STORE=$store "$DWF" resume --skip-time --store "$store" >>"$out" 2>&1
  st=$("$FC" state "$store")
  ck=$("$FC" checklog "$log" "$store" confirm-order)
  if [ "${st%% *}" = SUCCEEDED ] && [ "$n1" = "$n2" ] && [ "$("$FC" result "$store")" = "${REF[fx-order]}" ]; then
    if grep -q '^problem' <<<"$ck"; then fail fault_foreign_owner_after_30s "$(grep '^problem' <<<"$ck" | head -3 | tr '\n' ';')" >"$T/res/$name"
    else pass fault_foreign_owner_after_30s >"$T/res/$name"; fi
  else fail fault_foreign_owner_after_30s "state ${st%% *}, runs before/after the early resume $n1/$n2, result $("$FC" result "$store")" >"$T/res/$name"; fi
}

# `dwf run` killed while it compiles the handler (a cache of its own, so it really compiles;
# the orphaned cc finishes on its own): three kills at random instants of the first compile's
# duration, then the same command must build a working handler and finish.
kill_compile() {
  local name=kill-compile dir=$T/kc store=$T/kc/s.db out=$T/out/kill-compile t0 t1 ms i rc st left
  mkdir -p "$dir" "$T/kc0"
  local -a cmd=("$DWF" run "$ROOT/examples/order.dwf" --skip-time --name "$name" --input '{"orderId":"ORD-F"}' --store "$store")
  # how long start-up and compiling take here: build the handler once in another cache
  t0=$(now_ms); "$DWF" run "$ROOT/examples/order.dwf" --skip-time --detach --store "$T/kc0/s.db" >/dev/null 2>&1
  t1=$(now_ms); ms=$(( (t1 - t0) * 3 / 4 ))
  for i in 1 2 3; do "$FC" run $((RANDOM % (ms + 1))) "${cmd[@]}" >>"$out" 2>&1; done
  left=$(ls "$dir"/cache/*/ 2>/dev/null | grep -c 'handler\.[0-9]*\.c\|\.tmp\.')
  "${cmd[@]}" >>"$out" 2>&1; rc=$?
  # a kill after the start may have left an invocation open: the dead owner's, re-run at once
  st=$("$FC" state "$store")
  [ "${st%% *}" = RUNNING ] && { "$DWF" resume --skip-time --store "$store" >>"$out" 2>&1; st=$("$FC" state "$store"); }
  if [ "${st%% *}" = SUCCEEDED ] && [ "$("$FC" result "$store")" = "${REF[ex-order]}" ]; then pass "fault_kill_during_compile ($left half-built files left by the kills)" >"$T/res/$name"
  else fail fault_kill_during_compile "rc=$rc state ${st%% *}: $(tail -2 "$out" | tr '\n' ' ')" >"$T/res/$name"; fi
}

# These and the valgrind trials (make VALGRIND=1 check) run beside the others.
for t in rerun_after_kill foreign_owner kill_compile; do
  if [ -z "$ONLY" ] || [ "$ONLY" = "${t//_/-}" ]; then
    $t &
    BG+=($!)
  fi
done
for wf in $WFS; do
  if [ -n "${DWF_VALGRIND:-}" ] && { [ -z "$ONLY" ] || [ "$ONLY" = "vg-$wf" ]; }; then
    trial "vg-$wf" vg "$wf" &
    BG+=($!)
  fi
done
t0=$(now_ms)
for j in $(seq 0 $((JOBS - 1))); do
  (
    n=0
    while read -r name kind wf; do
      [ $((n % JOBS)) = "$j" ] && trial "$name" "$kind" "$wf"
      n=$((n + 1))
    done <"$T/trials"
  ) &
  BG+=($!)
done
wait; BG=()
t1=$(now_ms)
cat "$T"/res/* "$T"/top/* 2>/dev/null # top/: only a replayed ak trial (FAULT_ONLY) so far
ntrials=$(ls "$T/res" | grep -c '^[a-z][a-z]-')
# What the kills achieved so far: NKILLS, RERUNS (at-least-once re-runs), RESUME_KILLS.
tally() {
  NKILLS=$(cat "$T/kills" 2>/dev/null | wc -l)
  RERUNS=$(sed -n 's/.*at_least_once_reruns=\([0-9]*\).*/\1/p' "$T/checks" 2>/dev/null | awk '{s+=$1} END {print s+0}')
  RESUME_KILLS=$(grep -c ' resume ' "$T/kills" 2>/dev/null)
  RESUME_KILLS=${RESUME_KILLS:-0}
  # how far towards the goal (100 kills, a re-run, a resume kill): it only grows, to at most 102
  GOT=$(( (NKILLS < 100 ? NKILLS : 100) + (RERUNS > 0) + (RESUME_KILLS > 0) ))
}
tally
echo "fault: $ntrials trials in $(( (t1 - t0) / 1000 )) s, $NKILLS kills"

# ---- top-up: aimed trials until the kills are enough (see the top of this file) ----
ntop=0 stalled=
if [ -z "$ONLY" ] && [ -n "$FULL" ]; then
  stall_s=${FAULT_STALL_S:-300}
  last=$(now_ms) wfs=($WFS)
  while [ "$GOT" -lt 102 ]; do
    if [ $(( ($(now_ms) - last) / 1000 )) -ge "$stall_s" ]; then stalled=1; break; fi
    before=$GOT
    for j in $(seq 1 "$JOBS"); do
      ntop=$((ntop + 1))
      wf=${wfs[$((ntop % ${#wfs[@]}))]}
      trial "ak-$wf-$ntop" ak "$wf" &
      BG+=($!)
    done
    wait; BG=()
    tally
    [ "$GOT" -gt "$before" ] && last=$(now_ms)
  done
  if [ "$ntop" -gt 0 ]; then
    echo "fault: $ntop aimed top-up trials, $(cat "$T"/top/* | grep -c '^PASS') passed; now $NKILLS kills"
    grep -h '^FAIL' "$T"/top/* 2>/dev/null
  fi
fi
if [ -s "$T/kills" ]; then
  echo "fault: kills by trial kind, process and steps already SUCCEEDED at the kill:"
  awk '{k=$1" "$2; n[k]++; d[k]=d[k]" "$3} END {for (k in n) printf "  %-14s %-7s %3d kills, steps done:%s\n", substr(k,1,index(k," ")-1), substr(k,index(k," ")+1), n[k], d[k]}' "$T/kills" | sort
fi
amo=$(sed -n 's/.*at_most_once_retries=\([0-9]*\).*/\1/p' "$T/checks" 2>/dev/null | awk '{s+=$1} END {print s+0}')
echo "fault: $RERUNS at-least-once re-runs seen (a kill after the effect, before its SUCCEED commit)"
echo "fault: $amo at_most_once attempts after an interrupted one (StepInterruptedError, then the retry policy)"
if [ -z "$ONLY" ] && [ -n "$FULL" ]; then
  nres=$ntrials
  want=$((4 * TRIALS + 4 * 3 + 4 * 3))
  [ -n "${DWF_VALGRIND:-}" ] && want=$((want + 4))
  why=; [ -n "$stalled" ] && why=": no progress in the last $stall_s s of aimed top-up trials"
  if [ "$nres" = "$want" ] && [ "$nres" -ge 100 ] && [ "$NKILLS" -ge 100 ]; then pass "fault_enough_trials ($nres trials + $ntop top-up, $NKILLS kills)"
  else fail fault_enough_trials "$nres trials (want $want, >= 100) + $ntop top-up, $NKILLS kills (want >= 100)$why"; fi
  if [ "$RERUNS" -gt 0 ] && [ "$RESUME_KILLS" -gt 0 ]; then pass "fault_kills_hit_the_windows ($RERUNS re-runs, $RESUME_KILLS resume kills)"
  else fail fault_kills_hit_the_windows "$RERUNS at-least-once re-runs, $RESUME_KILLS kills of dwf resume: the kills missed$why"; fi
fi
