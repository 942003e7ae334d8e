#!/usr/bin/env bash
# tests/deploy/serve_cli_deploy.sh: the deployment rehearsal. Every example's generated
# deploy.sh runs unchanged, with the real aws CLI v1 (which checks every parameter against the
# official service model before sending it), against a fresh `dwf serve` that holds no
# function, and the seed's flow is then driven with the CLI alone.
#
#   - for every example: dwf build (zip + deploy files), deploy.sh (IAM role and policy,
#     create-function with the zip, wait function-active-v2, publish-version, invoke), then
#     `aws lambda invoke` with a durable execution name, get-durable-execution,
#     get-durable-execution-history and list-durable-executions-by-function, each result checked;
#     for approval, the callback id read from the history and the execution completed with
#     send-durable-execution-callback-success;
#   - versions: a workflow deployed, an execution started on version 1 and left waiting on its
#     callback, a second deploy.sh run with new code (update-function-code, wait
#     function-updated-v2, version 2 published); the version 1 execution ends on version 1's code,
#     one started on version 2 runs the new code;
#   - a policy file that is not valid IAM policy grammar: deploy.sh stops at put-role-policy with
#     MalformedPolicyDocument, nothing after it runs; a trust policy with a Resource is refused;
#   - unknown operations get AWS's unknown-operation errors (Lambda and IAM);
#   - a restart of serve on the same store serves the functions, their versions and the roles;
#   - deploy.sh under the stand-in aws (CLI v2, tests/deploy/standin_aws) makes the same calls
#     with the same arguments as under the real CLI v1, but for v2's --cli-binary-format.
# Both emulators check SigV4 (--access-key/--secret-key): the CLI signs the Lambda, IAM and STS
# calls with the keys the test exports. The two emulators: one with --skip-time (waits and
# retries cost no real time), one without (the callback workflows, whose callback timeouts
# --skip-time would fire while the test is between two commands).
#
# Prints "PASS name" / "FAIL name: why"; $DWF = the dwf binary to test.
set -u
cd "$(dirname "$0")/../.."
. tests/deploy/serve_lib.sh

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

REAL_AWS=$(command -v aws 2>/dev/null)
if [ -z "$REAL_AWS" ]; then
  fail serve_cli_deploy "the aws CLI v1 is not installed (pip install awscli): this test drives deploy.sh with it"
  exit 0
fi
case "$("$REAL_AWS" --version 2>&1)" in
  aws-cli/1.*) ;;
  *) fail serve_cli_deploy "aws --version is '$("$REAL_AWS" --version 2>&1)', this test wants the CLI v1"; exit 0 ;;
esac
command -v python3 >/dev/null || { fail serve_cli_deploy "python3 is not installed"; exit 0; }
# The interpreter itself: a version manager's shim (pyenv's) costs seconds per start.
PY=$(python3 -c 'import sys; print(sys.executable)')

T=$(mktemp -d "${TMPDIR:-/tmp}/dwf-serve-cli.XXXXXX")
PIDS=()
cleanup() {
  serve_stop >/dev/null 2>&1
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

EXAMPLES="order retry fanout enrich shipping travel_saga approval"
if ! serve_zips $EXAMPLES; then
  fail serve_cli_deploy_build "dwf build failed: $(tail -c 400 "$ZIPS"/*/build.log)"; exit 0
fi

# The versions workflow: approval's shape with a longer callback timeout (the test runs a whole
# deploy.sh while its version 1 execution waits), built twice: version 2 adds codeVersion.
mkdir -p "$T/versions-src"
sed -e 's/name = "durable-callback-test"/name = "dwf-cli-versions"/' -e 's/timeout 60s/timeout 900s/' \
    -e 's/timeout = 120s/timeout = 30m/' examples/approval.dwf >"$T/versions-src/v1.dwf"
sed -e 's/approved: true, approvalData }/approved: true, approvalData, codeVersion: 2 }/' \
    "$T/versions-src/v1.dwf" >"$T/versions-src/v2.dwf"
grep -q codeVersion "$T/versions-src/v2.dwf" || { fail serve_cli_deploy_build "could not derive v2.dwf"; exit 0; }
"$DWF" build "$T/versions-src/v1.dwf" -o "$T/versions/function.zip" >"$T/v1.build" 2>&1 &&
  "$DWF" build "$T/versions-src/v2.dwf" -o "$T/versions-v2/function.zip" >"$T/v2.build" 2>&1 ||
  { fail serve_cli_deploy_build "dwf build of the versions workflow: $(tail -c 300 "$T"/v*.build)"; exit 0; }
for ex in $EXAMPLES; do mkdir -p "$T/$ex" && cp -r "$ZIPS/$ex/." "$T/$ex/"; done
cp -r "$T/versions/." "$T/broken/"
# Not IAM policy grammar: an Effect that is neither Allow nor Deny.
sed -i 's/"Effect": "Allow"/"Effect": "Permit"/' "$T/broken/iam/durable-policy.json"
pass serve_cli_deploy_build

export AWS_ACCESS_KEY_ID=AKIDDWFCLITEST AWS_SECRET_ACCESS_KEY=dwf-cli-test-secret \
       AWS_DEFAULT_REGION=us-east-1 AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null AWS_PAGER=
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_REGION

# The CLI runs from a fork server (tests/deploy/aws_zygote.py: the real CLI's entry point in a
# process of its own per call, its imports done once), under the Python the CLI is installed
# for. Every aws call goes through a wrapper that records its arguments (as standin_aws does).
AWS_PY=""
for py in python3 "$(sed -n '1s/^#! *//p' "$(pyenv which aws 2>/dev/null || readlink -f "$REAL_AWS")" 2>/dev/null)"; do
  # the interpreter itself, not a version manager's shim (pyenv's costs seconds per start)
  [ -n "$py" ] && AWS_PY=$("$py" -c 'import awscli, sys; print(sys.executable)' 2>/dev/null) &&
    [ -n "$AWS_PY" ] && break
done
ZSOCK="$T/aws.sock"
if [ -n "$AWS_PY" ]; then
  "$AWS_PY" tests/deploy/aws_zygote.py serve "$ZSOCK" >"$T/zygote.out" 2>"$T/zygote.err" &
  PIDS+=($!)
  for _ in $(seq 300); do grep -q ready "$T/zygote.out" 2>/dev/null && break; sleep 0.1; done
fi
mkdir -p "$T/bin"
{
  echo '#!/usr/bin/env bash'
  echo '{ for a in "$@"; do printf '"'"'%s\037'"'"' "$a"; done; printf '"'"'\036'"'"'; } >>"${AWS_ARGS_LOG:-/dev/null}"'
  if grep -q ready "$T/zygote.out" 2>/dev/null; then
    echo "exec $AWS_PY -S $PWD/tests/deploy/aws_zygote.py call $ZSOCK \"\$@\""
  else
    echo "exec $REAL_AWS \"\$@\""
  fi
} >"$T/bin/aws"
chmod 755 "$T/bin/aws"
export PATH="$T/bin:$PATH"

# The HTTP APIs enrich and shipping call (their URLs come from the input).
cat >"$T/stub.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def answer(self, code, body):
        b = json.dumps(body).encode()
        self.send_response(code); self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(b))); self.end_headers(); self.wfile.write(b)
    def do_GET(self):
        p = self.path.split("/")
        if self.path.startswith("/customers/"):
            self.answer(200, {"name": "Customer " + p[2], "segment": "vip" if p[2] == "1" else "standard"})
        elif self.path.startswith("/shipments/"): self.answer(200, {"status": "PICKED_UP"})
        else: self.answer(404, {})
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.answer(200, {"trackingId": "TRK-1", "pickupAt": None} if self.path == "/shipments" else {})
    do_PUT = do_POST
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PY
"$PY" "$T/stub.py" >"$T/stub.port" 2>"$T/stub.err" &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$T/stub.port" ] && break; sleep 0.1; done
STUB=$(head -1 "$T/stub.port")

KEYS=(--access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY")
# Serve A (--skip-time) for the examples without callbacks; serve B for the others.
if ! serve_start "$T/serveA" --store "$T/a.db" --skip-time --quiet "${KEYS[@]}"; then
  fail serve_cli_deploy_serve "dwf serve with no function did not start: $(tail -c 300 "$T/serveA.err")"; exit 0
fi
PORT_A=$SERVE_PORT PID_A=$SERVE_PID
PIDS+=($PID_A)
if ! serve_start "$T/serveB" --store "$T/b.db" --quiet "${KEYS[@]}"; then
  fail serve_cli_deploy_serve "dwf serve did not start: $(tail -c 300 "$T/serveB.err")"; exit 0
fi
PORT_B=$SERVE_PORT PID_B=$SERVE_PID
PIDS+=($PID_B)
# Serve C for travel_saga, compiled for eu-west-1 (its `lambda { region }`): Lambda is regional.
if ! serve_start "$T/serveC" --store "$T/c.db" --skip-time --quiet --region eu-west-1 "${KEYS[@]}"; then
  fail serve_cli_deploy_serve "dwf serve --region eu-west-1 did not start: $(tail -c 300 "$T/serveC.err")"; exit 0
fi
PORT_C=$SERVE_PORT
PIDS+=($SERVE_PID)
SERVE_PID=""
grep -q '^dwf serve: function' "$T/serveA.out" "$T/serveB.out" &&
  { fail serve_cli_deploy_serve "a fresh serve lists functions: $(cat "$T/serveA.out")"; exit 0; }
pass serve_cli_deploy_serve_empty

payload_of() {
  case $1 in
    enrich) printf '{"records":[{"id":"1"},{"id":"2"},{"id":"3"}],"batchId":"b7","apiUrl":"http://127.0.0.1:%s"}\n' \
              "$STUB" ;;
    shipping) echo "{\"orderId\":\"SHIP-7\",\"carrierUrl\":\"http://127.0.0.1:$STUB\",\"address\":\"1 Main St\"}" ;;
    travel_saga) echo '{"trip":{"from":"VIE","to":"LIS","date":"2026-03-01"},"customerId":"C-7"}' ;;
    *) echo "{\"orderId\":\"ORD-$1\"}" ;;
  esac
}
port_of() {
  case $1 in approval|versions|broken|plain) echo "$PORT_B" ;; travel_saga) echo "$PORT_C" ;; *) echo "$PORT_A" ;; esac
}
region_of() { case $1 in travel_saga) echo eu-west-1 ;; *) echo us-east-1 ;; esac; }
fname_of() { sed -n "s/^FUNCTION='\(.*\)'$/\1/p" "$T/$1/deploy.sh"; }

# deploy DIR [ZIP]: run DIR/deploy.sh with the real CLI (v1) against its emulator.
deploy() {
  local d=$1
  (cd "$T/$d" && ZIP=${2:-function.zip} AWS_ENDPOINT_URL="http://127.0.0.1:$(port_of "$d")" \
     AWS_ARGS_LOG="$T/$d.args${3:-}" timeout 600 bash ./deploy.sh "$(payload_of "$d")") \
    >"$T/$d.deploy${3:-}.out" 2>&1
  echo $? >"$T/$d.deploy${3:-}.rc"
}
# cli DIR NAME ARGS...: one aws call against DIR's emulator, stdout in NAME.json, stderr NAME.err.
cli() {
  local d=$1 n=$2
  shift 2
  AWS_ENDPOINT_URL="http://127.0.0.1:$(port_of "$d")" AWS_DEFAULT_REGION=$(region_of "$d") \
    AWS_ARGS_LOG="$T/$d.flow.args" timeout 300 aws "$@" \
    >"$T/$d.$n.json" 2>"$T/$d.$n.err"
  echo $? >"$T/$d.$n.rc"
}
# The callback id of the CallbackStarted event of an execution (polling its history).
callback_id() {
  local d=$1 arn=$2 tag=$3 id=""
  for _ in $(seq 60); do
    cli "$d" "hist-$tag" lambda get-durable-execution-history --durable-execution-arn "$arn"
    id=$("$PY" -c 'import json,sys
for e in json.load(open(sys.argv[1])).get("Events", []):
    d = e.get("CallbackStartedDetails")
    if d: print(d["CallbackId"]); break' "$T/$d.hist-$tag.json" 2>/dev/null)
    [ -n "$id" ] && break
    sleep 0.5
  done
  echo "$id"
}
# Wait until an execution is no longer RUNNING; its GetDurableExecution in NAME.json.
until_done() {
  local d=$1 arn=$2 n=$3
  for _ in $(seq 120); do
    cli "$d" "$n" lambda get-durable-execution --durable-execution-arn "$arn"
    grep -q '"Status": "RUNNING"' "$T/$d.$n.json" || break
    sleep 0.5
  done
}
arn_in() { "$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["DurableExecutionArn"])' "$1" 2>/dev/null; }

# The flow of an example without callbacks: a named synchronous invoke, then the reads.
flow_sync() {
  local d=$1 fn
  fn=$(fname_of "$d")
  cli "$d" invoke lambda invoke --function-name "$fn:1" --durable-execution-name "cli-$d" \
      --payload "$(payload_of "$d")" "$T/$d.result"
  local arn
  arn=$(arn_in "$T/$d.invoke.json")
  [ -n "$arn" ] || return
  cli "$d" get lambda get-durable-execution --durable-execution-arn "$arn"
  cli "$d" history lambda get-durable-execution-history --durable-execution-arn "$arn"
  cli "$d" list lambda list-durable-executions-by-function --function-name "$fn"
}
# approval: an Event invoke, the callback completed with the CLI, then the reads.
flow_approval() {
  local d=approval fn arn cid
  fn=$(fname_of "$d")
  cli "$d" invoke lambda invoke --function-name "$fn:1" --durable-execution-name "cli-$d" \
      --invocation-type Event --payload "$(payload_of "$d")" "$T/$d.result"
  arn=$(arn_in "$T/$d.invoke.json")
  [ -n "$arn" ] || return
  cid=$(callback_id "$d" "$arn" cb)
  [ -n "$cid" ] || return
  cli "$d" callback lambda send-durable-execution-callback-success --callback-id "$cid" \
      --result '{"approved":true,"approver":"cli@example.com"}'
  until_done "$d" "$arn" get
  cli "$d" history lambda get-durable-execution-history --durable-execution-arn "$arn"
  cli "$d" list lambda list-durable-executions-by-function --function-name "$fn"
}
# versions: v1 deployed, an execution waits on version 1, v2 deployed over it, both finished.
flow_versions() {
  local d=versions fn=dwf-cli-versions a1 a2 c1 c2
  deploy versions
  cli versions v1-invoke lambda invoke --function-name "$fn:1" --durable-execution-name held-on-v1 \
      --invocation-type Event --payload '{"orderId":"V1"}' "$T/versions.r1"
  a1=$(arn_in "$T/versions.v1-invoke.json")
  c1=$(callback_id versions "$a1" c1)
  deploy versions "$T/versions-v2/function.zip" .second
  cli versions v2-invoke lambda invoke --function-name "$fn:2" --durable-execution-name runs-v2 \
      --invocation-type Event --payload '{"orderId":"V2"}' "$T/versions.r2"
  a2=$(arn_in "$T/versions.v2-invoke.json")
  c2=$(callback_id versions "$a2" c2)
  cli versions v1-callback lambda send-durable-execution-callback-success --callback-id "$c1" --result '"one"'
  cli versions v2-callback lambda send-durable-execution-callback-success --callback-id "$c2" --result '"two"'
  until_done versions "$a1" v1-get
  until_done versions "$a2" v2-get
  cli versions list-versions lambda list-versions-by-function --function-name "$fn"
  echo "$a1" >"$T/versions.a1"
}
# plain: create-function without --durable-config makes a plain function (the payload is the
# event, the handler's answer comes back as is, no durable execution, unqualified name allowed);
# the same zip created with --durable-config is durable (an unqualified invoke is refused).
# The zip: a shell bootstrap on the Runtime API that echoes the event.
flow_plain() {
  mkdir -p "$T/plain/root"
  cat >"$T/plain/root/bootstrap" <<'SH'
#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
while :; do
  h=$(mktemp -p "$LAMBDA_TASK_ROOT"); b=$(mktemp -p "$LAMBDA_TASK_ROOT")
  curl -s -D "$h" -o "$b" "$api/next" || exit 1
  rid=$(sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: *\([^\r]*\).*/\1/p' "$h")
  { printf '{"echo":'; cat "$b"; printf '}'; } | curl -s -o /dev/null -X POST --data-binary @- "$api/$rid/response"
  rm -f "$h" "$b"
done
SH
  "$PY" -c 'import sys, zipfile
with zipfile.ZipFile(sys.argv[2], "w") as z:
    i = zipfile.ZipInfo("bootstrap"); i.external_attr = 0o755 << 16
    z.writestr(i, open(sys.argv[1]).read())' "$T/plain/root/bootstrap" "$T/plain/function.zip"
  local role=arn:aws:iam::000000000000:role/dwf-cli-versions-role
  cli plain create lambda create-function --function-name dwf-cli-plain --runtime provided.al2023 --handler bootstrap \
      --role "$role" --zip-file "fileb://$T/plain/function.zip" --timeout 10
  cli plain wait lambda wait function-active-v2 --function-name dwf-cli-plain
  cli plain invoke lambda invoke --function-name dwf-cli-plain --payload '{"n":21}' "$T/plain.invoke.out"
  cli plain named lambda invoke --function-name dwf-cli-plain --durable-execution-name not-durable \
      --payload '{"n":1}' "$T/plain.named.out"
  cli plain list lambda list-durable-executions-by-function --function-name dwf-cli-plain
  cli plain create-durable lambda create-function --function-name dwf-cli-plain-durable --runtime provided.al2023 \
      --handler bootstrap --role "$role" --zip-file "fileb://$T/plain/function.zip" --timeout 10 \
      --durable-config '{"RetentionPeriodInDays":1,"ExecutionTimeout":60}'
  cli plain wait-durable lambda wait function-active-v2 --function-name dwf-cli-plain-durable
  cli plain invoke-durable lambda invoke --function-name dwf-cli-plain-durable --payload '{"n":2}' \
      "$T/plain.invoke-durable.out"
}
# broken: deploy.sh must stop at put-role-policy; the other refusals.
flow_refusals() {
  deploy broken
  cli broken trust iam create-role --role-name dwf-cli-bad-trust --assume-role-policy-document \
      '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},
        "Action":"sts:AssumeRole","Resource":"*"}]}'
  cli broken unknown-lambda lambda list-aliases --function-name dwf-cli-versions
  cli broken unknown-iam iam list-users
  cli broken role-policy iam get-role-policy --role-name dwf-cli-versions-role --policy-name dwf-durable
}

# ---- deploy every example (four at a time), then their flows ----
# At most N jobs of the test's own at once (the stub and the emulators run in the background too).
jobs_wait() { while [ "$(jobs -rp | wc -l)" -ge "$(($1 + 4))" ]; do wait -n; done; }
DPIDS=()
for ex in $EXAMPLES; do jobs_wait 5; deploy "$ex" & DPIDS+=($!); done
flow_versions &
VPID=$!
wait "${DPIDS[@]}"
FPIDS=()
for ex in $EXAMPLES; do
  jobs_wait 5
  if [ "$ex" = approval ]; then flow_approval & else flow_sync "$ex" & fi
  FPIDS+=($!)
done
wait "$VPID"
flow_refusals &
FPIDS+=($!)
flow_plain &
FPIDS+=($!)
# The same deploy.sh under the stand-in aws (v2), in copies, for the argument lists.
for ex in order approval; do
  mkdir -p "$T/standin-$ex" && cp -r "$ZIPS/$ex/." "$T/standin-$ex/"
  mkdir -p "$T/standin-bin" && cp tests/deploy/standin_aws "$T/standin-bin/aws"
  printf '#!/bin/sh\nexit 0\n' >"$T/standin-bin/sleep"
  chmod 755 "$T/standin-bin/aws" "$T/standin-bin/sleep"
  (cd "$T/standin-$ex" && PATH="$T/standin-bin:$PATH" FAKE_AWS_LOG="$T/standin-$ex.args" FAKE_AWS_ACCOUNT=000000000000 \
     timeout 60 bash ./deploy.sh "$(payload_of "$ex")") >"$T/standin-$ex.out" 2>&1
done
wait "${FPIDS[@]}"

# ---- a restart of serve B on the same store, with no function given ----
kill -TERM "$PID_B" 2>/dev/null
wait "$PID_B" 2>/dev/null
if serve_start "$T/serveB2" --store "$T/b.db" --quiet "${KEYS[@]}"; then
  PORT_B=$SERVE_PORT
  PIDS+=($SERVE_PID)
  SERVE_PID=""
  cli versions restart-versions lambda list-versions-by-function --function-name dwf-cli-versions
  cli versions restart-role iam get-role --role-name dwf-cli-versions-role
  cli versions restart-invoke lambda invoke --function-name dwf-cli-versions:1 --durable-execution-name after-restart \
      --invocation-type Event --payload '{"orderId":"V1R"}' "$T/versions.r3"
  a3=$(arn_in "$T/versions.restart-invoke.json")
  c3=$(callback_id versions "$a3" c3)
  cli versions restart-callback lambda send-durable-execution-callback-success --callback-id "$c3" --result '"again"'
  until_done versions "$a3" restart-get
  # UpdateFunctionConfiguration, a reserved variable refused, DeleteFunction.
  cli versions update-config lambda update-function-configuration --function-name dwf-cli-versions --timeout 45 \
      --environment 'Variables={STAGE=rehearsal}'
  cli versions read-config lambda get-function-configuration --function-name dwf-cli-versions
  cli versions reserved-env lambda update-function-configuration --function-name dwf-cli-versions \
      --environment 'Variables={AWS_REGION=eu-north-1}'
  cli versions delete lambda delete-function --function-name dwf-cli-versions
  cli versions deleted lambda get-function --function-name dwf-cli-versions
else
  echo 1 >"$T/versions.restart-failed"
fi

# A store of the schema before the control plane (4): serve A's, copied, what later versions added
# dropped (5: the control plane's tables; 6: the workflow hashes; 7: the calls and each execution's clock;
# 8: the index of running executions by their clock; 9: tests/store_to_v9.sql undoes 10's to 16's tables).
# Opening it must upgrade it in place and keep its executions.
"$PY" - "$T/a.db" "$T/old.db" tests/store_to_v9.sql <<'PY' 2>"$T/old.err"
import sqlite3, sys
src, dst = sqlite3.connect(sys.argv[1]), sqlite3.connect(sys.argv[2])
src.backup(dst)
dst.executescript(open(sys.argv[3]).read())
dst.executescript("DROP TABLE lambda_functions; DROP TABLE lambda_code; DROP TABLE iam_roles;"
                  "ALTER TABLE executions DROP COLUMN workflow_hash; ALTER TABLE functions DROP COLUMN workflow_hash;"
                  "DROP TABLE workflows; DROP TABLE calls; DROP INDEX executions_offset;"
                  "ALTER TABLE executions DROP COLUMN clock_offset_ms;"
                  "PRAGMA user_version=4;")
dst.close()
PY
"$DWF" executions --store "$T/old.db" --json >"$T/old.executions.json" 2>>"$T/old.err"
echo $? >"$T/old.rc"

"$PY" - "$T" "$EXAMPLES" <<'PY'
import json, os, re, sys
T, examples = sys.argv[1], sys.argv[2].split()
def out(ok, name, why):
    print(("PASS %s" % name) if ok else ("FAIL %s: %s" % (name, why)))
def read(p, default=""):
    try: return open(os.path.join(T, p)).read()
    except OSError: return default
def js(p):
    try: return json.loads(read(p))
    except ValueError: return None
def calls(p):
    return [c.split("\037")[:-1] for c in read(p).split("\036")[:-1]]
def ops(p):   # "service operation" of each call, --version aside
    r = []
    for c in calls(p):
        pos = [a for i, a in enumerate(c) if not a.startswith("-") and (i == 0 or not c[i - 1].startswith("--"))]
        r.append(" ".join(pos[:2]) if pos else c[0])
    return r

expected = {
    "order": lambda r: r.get("orderId") == "ORD-order" and r["steps"]["confirmation"]["status"] == "confirmed",
    "retry": lambda r: r["step2"]["status"] == "paid" and r["step2"]["attempt"] == 2,
    "fanout": lambda r: len(r["parallel"]["results"]) == 3 and
                        [x.get("id") for x in r["map"]["results"]] == ["ITEM-1", "ITEM-2", "ITEM-3"],
    "enrich": lambda r: r.get("segments") == {"vip": 1, "other": 2, "failed": 0} and r.get("enriched") == 3,
    "shipping": lambda r: r == {"orderId": "SHIP-7", "trackingId": "TRK-1", "status": "PICKED_UP", "checks": 1},
}
for ex in examples:
    rc, dout = read(ex + ".deploy.rc").strip(), read(ex + ".deploy.out")
    fn = re.search(r"^FUNCTION='(.*)'$", read(ex + "/deploy.sh"), re.M).group(1)
    want_ops = ["sts get-caller-identity", "iam get-role", "iam create-role", "iam wait", "iam put-role-policy",
                "lambda get-function", "lambda create-function", "lambda wait", "lambda publish-version",
                "lambda invoke"]
    got_ops = [o for o in ops(ex + ".args") if o != "--version"]
    region = "eu-west-1" if ex == "travel_saga" else "us-east-1"
    published = "published arn:aws:lambda:%s:000000000000:function:%s:1" % (region, fn)
    ok = rc == "0" and published in dout and got_ops == want_ops
    out(ok, "serve_cli_deploy_%s_deploy_sh" % ex, "exit %s, calls %r, output: %s" % (rc, got_ops, dout[-600:]))
    if not ok: continue
    inv, get, hist, lst = js(ex + ".invoke.json"), js(ex + ".get.json"), js(ex + ".history.json"), js(ex + ".list.json")
    arn = (inv or {}).get("DurableExecutionArn", "")
    if ex == "approval":
        ok = inv and inv.get("StatusCode") == 202 and read(ex + ".callback.rc").strip() == "0"
        out(ok, "serve_cli_deploy_approval_callback",
            "invoke %r, callback: %s" % (inv, read(ex + ".callback.err")[-300:]))
    else:
        ok = inv and inv.get("StatusCode") == 200 and inv.get("ExecutedVersion") == "1"
        out(ok, "serve_cli_deploy_%s_invoke" % ex, "invoke %r %s" % (inv, read(ex + ".invoke.err")[-300:]))
    ok = arn.startswith("arn:aws:lambda:%s:000000000000:function:%s:1/durable-execution/cli-%s/" % (region, fn, ex))
    out(ok, "serve_cli_deploy_%s_arn" % ex, "execution ARN %r" % arn)
    res = None
    if get and get.get("Result") is not None:
        try: res = json.loads(get["Result"])
        except ValueError: pass
    if ex == "approval":
        ok = get and get.get("Status") == "SUCCEEDED" and res and res["result"]["approvalData"] == \
            '{"approved":true,"approver":"cli@example.com"}' and res["orderId"] == "ORD-approval"
    elif ex == "travel_saga":
        # Its API is a fixed host that cannot be reached here: the first booking step fails, and
        # the synchronous invoke reports it as Lambda reports a function error.
        err = (get or {}).get("Error", {})
        ok = get and get.get("Status") == "FAILED" and get.get("Version") == "1" and \
            err.get("ErrorType") == "StepError" and \
            "travel.example.com/api/flights" in err.get("ErrorMessage", "") and \
            inv.get("FunctionError") == "Unhandled"
    else:
        ok = get and get.get("Status") == "SUCCEEDED" and get.get("Version") == "1" and res is not None and \
            expected[ex](res) and read(ex + ".result") and json.loads(read(ex + ".result")) == res
    out(ok, "serve_cli_deploy_%s_result" % ex, "GetDurableExecution %r" % (get,))
    evs = (hist or {}).get("Events", [])
    types = [e.get("EventType") for e in evs]
    ok = types[:1] == ["ExecutionStarted"] and types[-1:] in (["ExecutionSucceeded"], ["ExecutionFailed"]) and \
        (ex != "approval" or "CallbackSucceeded" in types)
    out(ok, "serve_cli_deploy_%s_history" % ex, "events %r" % types)
    names = sorted(x["DurableExecutionName"] for x in (lst or {}).get("DurableExecutions", []))
    ok = "cli-" + ex in names and len(names) == 2 and all(x["FunctionArn"].endswith(":" + fn + ":1")
                                                          for x in lst["DurableExecutions"])
    out(ok, "serve_cli_deploy_%s_list" % ex, "listed %r" % (lst,))

# ---- versions ----
first, second = read("versions.deploy.out"), read("versions.deploy.second.out")
sops = [o for o in ops("versions.args.second") if o != "--version"]
ok = read("versions.deploy.second.rc").strip() == "0" and \
    "published arn:aws:lambda:us-east-1:000000000000:function:dwf-cli-versions:2" in second and \
    "lambda update-function-code" in sops and "lambda create-function" not in sops and "iam create-role" not in sops
out(ok, "serve_cli_deploy_second_run_publishes_v2", "exit %s, calls %r, output %s" % (
    read("versions.deploy.second.rc").strip(), sops, second[-400:]))
g1, g2 = js("versions.v1-get.json") or {}, js("versions.v2-get.json") or {}
r1 = json.loads(g1["Result"]) if g1.get("Result") else {}
r2 = json.loads(g2["Result"]) if g2.get("Result") else {}
ok = g1.get("Status") == "SUCCEEDED" and g1.get("Version") == "1" and "codeVersion" not in r1.get("result", {"x": 1}) \
    and r1["result"]["approvalData"] == '"one"'
out(ok, "serve_cli_deploy_v1_execution_keeps_v1_code", "version 1 execution %r" % (g1,))
ok = g2.get("Status") == "SUCCEEDED" and g2.get("Version") == "2" and r2.get("result", {}).get("codeVersion") == 2
out(ok, "serve_cli_deploy_v2_execution_runs_v2_code", "version 2 execution %r" % (g2,))
vs = [v["Version"] for v in (js("versions.list-versions.json") or {}).get("Versions", [])]
out(vs == ["$LATEST", "1", "2"], "serve_cli_deploy_list_versions", "versions %r" % vs)

# ---- refusals ----
# ---- create-function without / with a DurableConfig ----
pinv, pcreate = js("plain.invoke.json") or {}, js("plain.create.json") or {}
pout = read(os.path.join(T, "plain.invoke.out"))
try:
    pval = json.loads(pout)
except ValueError:
    pval = None
out(read("plain.create.rc").strip() == "0" and "DurableConfig" not in pcreate and read("plain.invoke.rc").strip() == "0"
    and pval == {"echo": {"n": 21}} and "FunctionError" not in pinv and "DurableExecutionArn" not in pinv,
    "serve_cli_deploy_create_function_plain",
    "create %s %s, invoke %s %r -> %r %s" % (read("plain.create.rc").strip(), read("plain.create.err")[-300:],
                                            read("plain.invoke.rc").strip(), pinv, pout[:300],
                                            read("plain.invoke.err")[-300:]))
plist = js("plain.list.json") or {}
out(read("plain.named.rc").strip() != "0" and "DurableExecutionName is only supported for durable functions"
    in read("plain.named.err") and plist.get("DurableExecutions") == [],
    "serve_cli_deploy_create_function_plain_no_execution",
    "named %s %s, list %r %s" % (read("plain.named.rc").strip(), read("plain.named.err")[-300:], plist,
                                 read("plain.list.err")[-300:]))
dcreate = js("plain.create-durable.json") or {}
out(read("plain.create-durable.rc").strip() == "0" and (dcreate.get("DurableConfig") or {}).get("ExecutionTimeout") == 60
    and read("plain.invoke-durable.rc").strip() != "0"
    and "You cannot invoke a durable function using an unqualified ARN" in read("plain.invoke-durable.err"),
    "serve_cli_deploy_create_function_durable",
    "create %s %r %s, unqualified invoke %s %s" % (read("plain.create-durable.rc").strip(), dcreate,
                                                  read("plain.create-durable.err")[-300:],
                                                  read("plain.invoke-durable.rc").strip(),
                                                  read("plain.invoke-durable.err")[-300:]))

bops = [o for o in ops("broken.args") if o != "--version"]
bout = read("broken.deploy.out")
ok = read("broken.deploy.rc").strip() not in ("", "0") and "MalformedPolicyDocument" in bout and \
    "Invalid effect: Permit" in bout and bops and bops[-1] == "iam put-role-policy" and "published" not in bout
out(ok, "serve_cli_deploy_malformed_policy_stops",
    "exit %s, calls %r, output %s" % (read("broken.deploy.rc").strip(), bops, bout[-400:]))
terr = read("broken.trust.err")
out(read("broken.trust.rc").strip() != "0" and "MalformedPolicyDocument" in terr and
    "Has prohibited field Resource" in terr,
    "serve_cli_deploy_trust_policy_refused", terr[-300:])
lerr, ierr = read("broken.unknown-lambda.err"), read("broken.unknown-iam.err")
out(read("broken.unknown-lambda.rc").strip() != "0" and "UnknownOperationException" in lerr,
    "serve_cli_deploy_unknown_lambda_operation", lerr[-300:])
out(read("broken.unknown-iam.rc").strip() != "0" and "InvalidAction" in ierr and "ListUsers" in ierr,
    "serve_cli_deploy_unknown_iam_action", ierr[-300:])
rp = js("broken.role-policy.json") or {}
want = json.loads(read("versions/iam/durable-policy.json").replace("${REGION}", "us-east-1")
                  .replace("${ACCOUNT}", "000000000000"))
out(rp.get("PolicyDocument") == want and rp.get("RoleName") == "dwf-cli-versions-role",
    "serve_cli_deploy_get_role_policy",
    "GetRolePolicy %r" % (rp,))

# ---- restart ----
if read("versions.restart-failed"):
    out(False, "serve_cli_deploy_restart", "serve did not start again on its store")
else:
    vs = [v["Version"] for v in (js("versions.restart-versions.json") or {}).get("Versions", [])]
    role = (js("versions.restart-role.json") or {}).get("Role", {})
    g3 = js("versions.restart-get.json") or {}
    r3 = json.loads(g3["Result"]) if g3.get("Result") else {}
    ok = vs == ["$LATEST", "1", "2"] and role.get("RoleName") == "dwf-cli-versions-role" and \
        g3.get("Status") == "SUCCEEDED" and "codeVersion" not in r3.get("result", {"codeVersion": 1})
    out(ok, "serve_cli_deploy_restart", "versions %r, role %r, execution on version 1 %r" % (vs, role, g3))

# ---- configuration, deletion ----
u, c = js("versions.update-config.json") or {}, js("versions.read-config.json") or {}
ok = u.get("Timeout") == 45 and u.get("LastUpdateStatus") == "InProgress" and c.get("Timeout") == 45 and \
    c.get("Environment") == {"Variables": {"STAGE": "rehearsal"}} and c.get("State") == "Active" and \
    c.get("LastUpdateStatus") == "Successful" and c.get("Version") == "$LATEST"
out(ok, "serve_cli_deploy_update_function_configuration", "update %r, then %r" % (u, c))
rerr = read("versions.reserved-env.err")
out(read("versions.reserved-env.rc").strip() != "0" and "InvalidParameterValueException" in rerr and
    "Reserved keys used in this request: AWS_REGION" in rerr, "serve_cli_deploy_reserved_env_refused", rerr[-300:])
derr = read("versions.deleted.err")
out(read("versions.delete.rc").strip() == "0" and read("versions.deleted.rc").strip() != "0" and
    "ResourceNotFoundException" in derr, "serve_cli_deploy_delete_function",
    "delete: %s; get after it: %s" % (read("versions.delete.err")[-200:], derr[-200:]))

# ---- a store of schema 4 is upgraded ----
import sqlite3
db = sqlite3.connect(os.path.join(T, "old.db"))
ver = db.execute("PRAGMA user_version").fetchone()[0]
tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
old = js("old.executions.json")
n_old = len((old or {}).get("DurableExecutions", []))   # 2 for each of the 5 examples serve A ran
ok = read("old.rc").strip() == "0" and ver == 16 and \
    {"lambda_functions", "lambda_code", "iam_roles", "workflows", "calls"} <= tables and \
    n_old == 10
out(ok, "serve_cli_deploy_store_upgrade_from_4", "exit %s, user_version %s, tables %r, %s executions: %s" % (
    read("old.rc").strip(), ver, sorted(tables), n_old, read("old.err")[-300:]))

# ---- the stand-in (v2) and the real CLI (v1) agree on the argument lists ----
for ex in ("order", "approval"):
    real = [c for c in calls(ex + ".args") if c != ["--version"]]
    fake = [c for c in calls("standin-" + ex + ".args") if c != ["--version"]]
    norm = []
    for c in fake:
        if "--cli-binary-format" in c:
            i = c.index("--cli-binary-format")
            c = c[:i] + c[i + 2:]
        norm.append(c)
    ok = real and norm == real
    diff = next(((a, b) for a, b in zip(norm, real) if a != b), (len(norm), len(real)))
    out(ok, "serve_cli_deploy_%s_args_agree_v1_v2" % ex, "first difference (stand-in v2, real v1): %r" % (diff,))
PY
exit 0
