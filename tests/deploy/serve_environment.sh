#!/usr/bin/env bash
# tests/deploy/serve_environment.sh: a workflow's lambda { environment } reaches the process
# `dwf serve` starts (issue 11 item 1): `dwf build` writes environment.json beside the zip,
# serve reads it, a function option --env NAME=VALUE wins over it, and env() in the running
# zip reads both (the Lambda host: the process environment is the function's configuration).
#
# Prints "PASS name" / "FAIL name: why"; $DWF = the dwf binary to test.
set -u
cd "$(dirname "$0")/../.."
. tests/deploy/serve_lib.sh

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

T=$(mktemp -d "${TMPDIR:-/tmp}/dwf-serve-env.XXXXXX")
cleanup() { serve_stop; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT

cat >"$T/env.dwf" <<'DWF'
workflow serve_env {
  lambda {
    name = "serve-env"
    environment {
      TABLE = "orders"
      STAGE = "prod"
    }
  }
  step s {
    return { table: env("TABLE"), stage: env("STAGE"), region: env("AWS_REGION") }
  }
  return s
}
DWF
if ! "$DWF" build "$T/env.dwf" -o "$T/out/function.zip" >"$T/build.log" 2>&1; then
  fail serve_env_build "dwf build failed: $(tail -c 400 "$T/build.log")"; exit 0
fi
if python3 -c 'import json,sys; assert json.load(open(sys.argv[1])) == {"Variables": {"TABLE": "orders", "STAGE": "prod"}}' \
     "$T/out/environment.json" 2>/dev/null; then pass serve_env_build_writes_environment_json
else fail serve_env_build_writes_environment_json "$(cat "$T/out/environment.json" 2>&1 | head -c 300)"; fi

if ! serve_start "$T/serve" --store "$T/s.db" --region eu-west-1 "$T/out/function.zip" --env STAGE=local; then
  fail serve_env_process_environment "dwf serve did not start: $(tail -c 300 "$T/serve.err")"; exit 0
fi
body=$(curl -s --max-time 120 -X POST \
  "http://127.0.0.1:$SERVE_PORT/2015-03-31/functions/serve-env:%24LATEST/invocations" -d '{}')
case "$body" in
  '{"table":"orders","stage":"local","region":"eu-west-1"}') pass serve_env_process_environment ;;
  *) fail serve_env_process_environment "answer: $(echo "$body" | head -c 300)" ;;
esac
