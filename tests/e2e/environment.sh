#!/usr/bin/env bash
# lambda { environment } and env() on the embedded engine (issue 11 item 1): the workflow's own
# environment, `dwf run --env` / `--env-file` over it (the later setting wins), the process's
# environment never reaching env(), the recorded environment read again by `dwf resume` after a
# callback (durable code calls env() in both invocations: replay must see the same value), also
# with `dwf resume --concurrency 2`, and bad settings refused with their place. Called by tests/e2e/run.sh; prints PASS/FAIL lines.
set -u
cd "$(dirname "$0")/../.."
DWF=${DWF:-$PWD/build/dwf}
T=$(mktemp -d /tmp/dwf-e2e-env.XXXXXX)
trap 'rm -rf "$T"' EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }
res() { python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(json.dumps(j["Result"], separators=(",", ":"), sort_keys=True))' "$1" 2>&1; }

cat >"$T/envt.dwf" <<'DWF'
workflow env_test {
  lambda {
    name = "env-test"
    environment {
      TABLE = "orders"
      API_URL = "https://api.example.com/v1"
    }
  }
  let table = env("TABLE")
  step s {
    return { table, url: env("API_URL"), extra: env("EXTRA") }
  }
  return s
}
DWF

# The workflow's own environment; EXTRA and TABLE in dwf's process environment stay out.
TABLE=from-shell EXTRA=from-shell "$DWF" run "$T/envt.dwf" --json --store "$T/a.db" >"$T/a.json" 2>"$T/a.err"; rc=$?
got=$(res "$T/a.json")
want='{"extra":null,"table":"orders","url":"https://api.example.com/v1"}'
if [ $rc -eq 0 ] && [ "$got" = "$want" ]; then pass env_workflow_environment_only
else fail env_workflow_environment_only "rc=$rc $got $(head -c 300 "$T/a.err")"; fi
# ... and the compiler warned about EXTRA, which nothing defines
if grep -q "envt.dwf:11:53: warning: no environment defines 'EXTRA'" "$T/a.err"; then pass env_undefined_warning
else fail env_undefined_warning "$(head -c 400 "$T/a.err")"; fi

# --env-file then --env: later settings win; comments, export and quotes in the file
cat >"$T/local.env" <<'ENV'
# local overrides
export TABLE="orders-dev"
EXTRA='a b=c'

API_URL=http://127.0.0.1:9/x
ENV
"$DWF" run "$T/envt.dwf" --json --store "$T/b.db" --env-file "$T/local.env" --env API_URL=http://override >"$T/b.json" 2>"$T/b.err"; rc=$?
got=$(res "$T/b.json")
want='{"extra":"a b=c","table":"orders-dev","url":"http://override"}'
if [ $rc -eq 0 ] && [ "$got" = "$want" ]; then pass env_file_and_flag_override
else fail env_file_and_flag_override "rc=$rc $got $(head -c 300 "$T/b.err")"; fi

# Bad settings: named, nothing run
"$DWF" run "$T/envt.dwf" --store "$T/c.db" --env 1BAD=x >"$T/c.out" 2>"$T/c.err"; rc=$?
if [ $rc -eq 2 ] && grep -q "dwf run: --env: '1BAD=x' is not NAME=VALUE" "$T/c.err" && [ ! -e "$T/c.db" ]; then pass env_bad_flag
else fail env_bad_flag "rc=$rc $(head -c 300 "$T/c.err")"; fi
printf 'GOOD=1\nnot a setting\n' >"$T/bad.env"
"$DWF" run "$T/envt.dwf" --store "$T/c.db" --env-file "$T/bad.env" >"$T/c.out" 2>"$T/c.err"; rc=$?
if [ $rc -eq 1 ] && grep -q "dwf run: $T/bad.env:2: 'not a setting' is not NAME=VALUE" "$T/c.err" && [ ! -e "$T/c.db" ]; then
  pass env_file_bad_line
else fail env_file_bad_line "rc=$rc $(head -c 300 "$T/c.err")"; fi

# dwf resume reads the environment recorded with the function: env() in durable code before
# and after a callback (the second invocation replays the first part) gives the --env value.
cat >"$T/wait.dwf" <<'DWF'
workflow env_wait {
  lambda { environment { STAGE = "prod" } }
  let before = env("STAGE")
  callback approval "approval" timeout 1h
  let answer = await approval
  return { before, after: env("STAGE") }
}
DWF
"$DWF" run "$T/wait.dwf" --detach --store "$T/w.db" --env STAGE=test >"$T/w.out" 2>"$T/w.err"
CID=$(grep -o 'dwf callback succeed [^ ]*' "$T/w.out" | head -1 | awk '{print $4}')
ARN=$("$DWF" executions --store "$T/w.db" | awk '{print $NF}' | tail -1)
"$DWF" callback succeed "$CID" --result '{"ok":true}' --store "$T/w.db" >/dev/null 2>&1
(cd "$T" && STAGE=shell "$DWF" resume "$ARN" --store "$T/w.db" >"$T/r.out" 2>&1)
got=$(grep '^{' "$T/r.out")
if grep -q "^SUCCEEDED " "$T/r.out" && [ "$got" = '{"before":"test","after":"test"}' ]; then
  pass env_resume_reads_recorded_environment
else fail env_resume_reads_recorded_environment "callback '${CID:0:20}': $(head -c 300 "$T/r.out")"; fi

# ... also under `dwf resume --concurrency 2` (the engine's threads ask for the environment
# through its serialized hooks): two executions, each reading its recorded --env value.
for n in c1 c2; do
  "$DWF" run "$T/wait.dwf" --detach --name "$n" --store "$T/cc.db" --env STAGE=test >"$T/$n.out" 2>&1
  "$DWF" callback succeed "$(grep -o 'dwf callback succeed [^ ]*' "$T/$n.out" | head -1 | awk '{print $4}')" \
    --result '{"ok":true}' --store "$T/cc.db" >/dev/null 2>&1
done
(cd "$T" && STAGE=shell "$DWF" resume --concurrency 2 --quiet --store "$T/cc.db" >"$T/cc.out" 2>&1); rc=$?
got=
for A in $("$DWF" executions --store "$T/cc.db" | awk '{print $NF}'); do
  got="$got $("$DWF" history "$A" --events --json --store "$T/cc.db" | python3 -c 'import json,sys
e=[x for x in json.load(sys.stdin)["Events"] if x["EventType"]=="ExecutionSucceeded"]
print(e[0]["ExecutionSucceededDetails"]["Result"]["Payload"] if e else "not-succeeded")' 2>&1)"
done
want=' {"before":"test","after":"test"} {"before":"test","after":"test"}'
if [ $rc -eq 0 ] && [ "$got" = "$want" ]; then pass env_resume_concurrency_reads_recorded_environment
else fail env_resume_concurrency_reads_recorded_environment "rc=$rc$got $(head -c 300 "$T/cc.out")"; fi
