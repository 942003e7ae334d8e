# tests/deploy/serve_lib.sh: helpers the serve_*.sh tests source (not a test itself).
#
#   serve_zips NAME...      build examples/NAME.dwf into $ZIPS/NAME/function.zip (deploy files
#                           beside it), only when the zip is missing or older than dwf or the
#                           .dwf, two builds at a time; returns 1 if one failed ($ZIPS/NAME/build.log)
#   serve_start LOG ARGS... start `dwf serve --port 0 ARGS...` (stdout LOG.out, stderr LOG.err),
#                           wait until it listens; sets SERVE_PID and SERVE_PORT, returns 1 on failure
#   serve_stop              SIGTERM it and wait; returns its exit status
#
# Each test starts its own emulator on a free port (--port 0: the kernel picks one, the emulator
# prints it), with a store of its own, and stops it before it exits.
BUILD=${BUILD:-build}
DWF=${DWF:-$PWD/$BUILD/dwf}
ZIPS=${ZIPS:-$PWD/$BUILD/deploy/serve-zips}
SERVE_PID="" SERVE_PORT=""

serve_zips() {
  local ex pids=() rc=0
  mkdir -p "$ZIPS"
  for ex in "$@"; do
    local z="$ZIPS/$ex/function.zip"
    if [ -s "$z" ] && [ "$z" -nt "$DWF" ] && [ "$z" -nt "examples/$ex.dwf" ]; then continue; fi
    mkdir -p "$ZIPS/$ex"
    "$DWF" build "examples/$ex.dwf" -o "$z" >"$ZIPS/$ex/build.log" 2>&1 &
    pids+=($!)
    if [ ${#pids[@]} -ge 2 ]; then wait "${pids[0]}" || rc=1; pids=("${pids[@]:1}"); fi
  done
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  return $rc
}

serve_start() {
  local log=$1; shift
  "$DWF" serve --port 0 "$@" >"$log.out" 2>"$log.err" &
  SERVE_PID=$!
  SERVE_PORT=""
  for _ in $(seq 1200); do
    SERVE_PORT=$(sed -n 's|^dwf serve: listening on http://127.0.0.1:\([0-9]*\) .*|\1|p' "$log.out" 2>/dev/null)
    [ -n "$SERVE_PORT" ] && return 0
    kill -0 "$SERVE_PID" 2>/dev/null || break
    sleep 0.1
  done
  return 1
}

serve_stop() {
  [ -n "$SERVE_PID" ] || return 0
  kill -TERM "$SERVE_PID" 2>/dev/null
  local rc=0
  wait "$SERVE_PID" || rc=$?
  SERVE_PID=""
  return $rc
}
