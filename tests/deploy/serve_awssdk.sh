#!/usr/bin/env bash
# tests/deploy/serve_awssdk.sh: `dwf serve` driven by the official @aws-sdk/client-lambda
# (serve_awssdk.mjs), with SigV4 checking on (--access-key/--secret-key), plus an unsigned
# request, which must be refused.
# Prints "PASS name" / "FAIL name: why"; $DWF = the dwf binary to test.
set -u
cd "$(dirname "$0")/../.."
. tests/deploy/serve_lib.sh

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

if ! command -v node >/dev/null 2>&1; then fail serve_awssdk "node is not installed (make deps)"; exit 0; fi
if [ ! -d tests/node/node_modules/@aws-sdk/client-lambda ]; then
  fail serve_awssdk "tests/node/node_modules is missing (make deps)"; exit 0
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/dwf-serve-sdk.XXXXXX")
cleanup() { serve_stop >/dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT

if ! serve_zips order approval; then
  fail serve_awssdk_build "dwf build failed: $(tail -c 400 "$ZIPS"/*/build.log)"; exit 0
fi
AK=AKIDSERVEAWSSDK SK=serve-awssdk-secret-key
if ! serve_start "$T/serve" --store "$T/store.db" --skip-time --access-key "$AK" --secret-key "$SK" \
     "$ZIPS/order/function.zip" "$ZIPS/approval/function.zip"; then
  fail serve_awssdk_start "dwf serve did not start: $(tail -c 600 "$T/serve.err")"; exit 0
fi

code=$(curl -s -D "$T/unsigned.h" -o "$T/unsigned.json" -w '%{http_code}' \
  "http://127.0.0.1:$SERVE_PORT/2025-12-01/functions/durable-callback-test/durable-executions")
if [ "$code" = 403 ] && grep -qi '^X-Amzn-ErrorType: MissingAuthenticationTokenException' "$T/unsigned.h"; then pass serve_unsigned_refused
else fail serve_unsigned_refused "HTTP $code: $(head -c 300 "$T/unsigned.json")"; fi

timeout 600 node tests/deploy/serve_awssdk.mjs "http://127.0.0.1:$SERVE_PORT" "$AK" "$SK" 2>"$T/node.err"
rc=$?
[ $rc -eq 0 ] || fail serve_awssdk_node "node exited $rc: $(tail -c 400 "$T/node.err")"
serve_stop || fail serve_awssdk_clean_exit "dwf serve exited non-zero: $(tail -c 300 "$T/serve.err")"
# The bootstrap signed its checkpoints with the keys the emulator handed it: the only refusals
# are the test's own two (unsigned, wrong secret).
n=$(grep -c '^dwf serve: rejected' "$T/serve.err")
[ "$n" -eq 2 ] && pass serve_bootstrap_signatures_accepted ||
  fail serve_bootstrap_signatures_accepted "$n refusals, want 2: $(grep rejected "$T/serve.err" | head -4)"
exit 0
