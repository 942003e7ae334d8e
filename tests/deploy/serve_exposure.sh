#!/usr/bin/env bash
# tests/deploy/serve_exposure.sh: `dwf serve` opens no listener to the network by accident and
# says at start what it exposes (docs/security.md, "dwf serve").
#
#   - --host 0.0.0.0 without keys is refused (exit 1) with the explanation, before any store
#     is created;
#   - with --insecure-public it starts, says on stdout that unsigned requests from the network
#     are accepted and warns on stderr; the function still runs (its endpoint is loopback) and
#     its Runtime API listens on 127.0.0.1 only;
#   - with keys it starts and says every request must be signed;
#   - by default, and on another loopback address, it says unsigned requests are accepted from
#     this machine only.
#
# Prints "PASS name" / "FAIL name: why"; $DWF = the dwf binary to test.
set -u
cd "$(dirname "$0")/../.."
. tests/deploy/serve_lib.sh

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

T=$(mktemp -d "${TMPDIR:-/tmp}/dwf-serve-exp.XXXXXX")
cleanup() { [ -n "$SERVE_PID" ] && kill -TERM "$SERVE_PID" 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT
if ! serve_zips order; then fail serve_exposure_build "dwf build failed: $(tail -c 400 "$ZIPS"/*/build.log)"; exit 0; fi
ZIP=$ZIPS/order/function.zip

# start_any LOG ARGS...: like serve_start, for any --host (sets SERVE_PID, SERVE_PORT).
start_any() {
  local log=$1; shift
  "$DWF" serve --port 0 "$@" >"$log.out" 2>"$log.err" &
  SERVE_PID=$! SERVE_PORT=""
  for _ in $(seq 300); do
    SERVE_PORT=$(sed -n 's|^dwf serve: listening on http://[0-9.]*:\([0-9]*\) .*|\1|p' "$log.out" 2>/dev/null)
    [ -n "$SERVE_PORT" ] && return 0
    kill -0 "$SERVE_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

if start_any "$T/open" --host 0.0.0.0 --store "$T/open.db" "$ZIP"; then
  fail serve_exposure_public_unsigned_refused "dwf serve started: $(head -2 "$T/open.out")"; serve_stop
else
  rc=0; wait "$SERVE_PID" || rc=$?; SERVE_PID=""
  if [ $rc -eq 1 ] && grep -q "0.0.0.0 is not a loopback address: anyone who can reach it could invoke the functions" "$T/open.err" &&
     grep -q -- "--insecure-public" "$T/open.err" && [ ! -e "$T/open.db" ]; then pass serve_exposure_public_unsigned_refused
  else fail serve_exposure_public_unsigned_refused "exit $rc, store $(ls "$T"/open.db 2>&1): $(tail -c 300 "$T/open.err")"; fi
fi

if start_any "$T/insecure" --host 0.0.0.0 --insecure-public --skip-time --store "$T/insecure.db" "$ZIP"; then
  grep -q "^dwf serve: listening on http://0.0.0.0:$SERVE_PORT (Invoke, durable execution and control plane APIs); unsigned requests accepted FROM THE NETWORK" "$T/insecure.out" &&
    grep -q "warning: anyone who can reach 0.0.0.0:$SERVE_PORT can invoke the functions" "$T/insecure.err" &&
    pass serve_exposure_insecure_public_says_so || fail serve_exposure_insecure_public_says_so "$(cat "$T/insecure.out") / $(head -3 "$T/insecure.err")"
  rt=$(sed -n 's/.*Runtime API 127.0.0.1:\([0-9]*\) (its own processes only).*/\1/p' "$T/insecure.out")
  # Listening sockets of this machine (state 0A) on the Runtime API's port: loopback only.
  la=$(awk -v p="$(printf '%04X' "${rt:-0}")" '$4 == "0A" && $2 ~ (":" p "$") { print $2 }' /proc/net/tcp)
  [ -n "$rt" ] && [ "$la" = "0100007F:$(printf '%04X' "$rt")" ] && pass serve_exposure_runtime_api_loopback_only ||
    fail serve_exposure_runtime_api_loopback_only "Runtime API port '$rt' listens on '$la'"
  body=$(curl -s --max-time 120 -X POST "http://127.0.0.1:$SERVE_PORT/2015-03-31/functions/durable-basic-test:%24LATEST/invocations" -d '{"orderId":"EXP-1"}')
  case "$body" in *'"orderId":"EXP-1"'*) pass serve_exposure_insecure_public_function_runs ;;
    *) fail serve_exposure_insecure_public_function_runs "answer: $(echo "$body" | head -c 300)" ;; esac
  serve_stop
else
  fail serve_exposure_insecure_public_says_so "dwf serve did not start: $(tail -c 300 "$T/insecure.err")"
fi

if start_any "$T/keys" --host 0.0.0.0 --access-key AKIDEXP --secret-key exp-secret --store "$T/keys.db" "$ZIP"; then
  grep -q "^dwf serve: listening on http://0.0.0.0:$SERVE_PORT (Invoke, durable execution and control plane APIs); every request must be SigV4-signed" "$T/keys.out" &&
    ! grep -q warning "$T/keys.err" && pass serve_exposure_public_signed_says_so || fail serve_exposure_public_signed_says_so "$(cat "$T/keys.out")"
  serve_stop
else
  fail serve_exposure_public_signed_says_so "dwf serve did not start: $(tail -c 300 "$T/keys.err")"
fi

for host in 127.0.0.1 127.0.0.2; do
  if start_any "$T/lo$host" --host "$host" --store "$T/lo.db" "$ZIP"; then
    grep -q "^dwf serve: listening on http://$host:$SERVE_PORT (Invoke, durable execution and control plane APIs); unsigned requests accepted, from this machine only" "$T/lo$host.out" &&
      pass "serve_exposure_loopback_${host//./_}_says_so" || fail "serve_exposure_loopback_${host//./_}_says_so" "$(cat "$T/lo$host.out")"
    serve_stop
  else
    fail "serve_exposure_loopback_${host//./_}_says_so" "dwf serve did not start: $(tail -c 300 "$T/lo$host.err")"
  fi
done
exit 0
