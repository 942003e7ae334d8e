#!/usr/bin/env bash
# secret() and parameter() end to end (issue 11 item 2) on the embedded engine against a local
# Secrets Manager / SSM stand-in (no npm emulator exists for them): a small Python server in
# this test answers GetSecretValue and GetParameter and records every request. Checked: the
# values reach the step (an http header and body, compared by the stand-in's own record), each
# id is read once per invocation however often the workflow asks, the requests are the JSON 1.1
# protocol signed with SigV4 for the right service, WithDecryption is sent, a secret that does
# not exist fails the step with the AWS error code as its type, and a log line holding a
# secret value shows *** instead. Called by tests/e2e/run.sh; prints PASS/FAIL lines.
set -u
cd "$(dirname "$0")/../.."
DWF=${DWF:-$PWD/build/dwf}
T=$(mktemp -d /tmp/dwf-e2e-secrets.XXXXXX)
SRV=""
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; rm -rf "$T"' EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

cat >"$T/standin.py" <<'PY'
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
SECRETS = {"prod/payments": json.dumps({"apiKey": "sk_live_4242abcd", "user": "payments"}),
           "plain": "hunter2-plain-secret"}
PARAMS = {"/payments/token": "tok-SSM-9f8e7d"}
log = open(sys.argv[2], "a")
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        target = self.headers.get("X-Amz-Target", "")
        log.write(json.dumps({"path": self.path, "target": target, "body": body,
                              "auth": self.headers.get("Authorization", ""),
                              "ctype": self.headers.get("Content-Type", ""),
                              "header": self.headers.get("X-Api-Key", "")}) + "\n")
        log.flush()
        req = json.loads(body) if body.startswith("{") else {}
        if target == "secretsmanager.GetSecretValue":
            sid = req.get("SecretId")
            if sid not in SECRETS:
                return self.reply(400, {"__type": "ResourceNotFoundException",
                                        "message": "Secrets Manager can't find the specified secret."})
            return self.reply(200, {"Name": sid, "SecretString": SECRETS[sid], "VersionId": "v1",
                                    "ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:%s-AbCdEf" % sid})
        if target == "AmazonSSM.GetParameter":
            name = req.get("Name")
            if name not in PARAMS:
                return self.reply(400, {"__type": "ParameterNotFound", "message": ""})
            return self.reply(200, {"Parameter": {"Name": name, "Type": "SecureString", "Value": PARAMS[name]}})
        if self.path == "/charge":
            return self.reply(200, {"id": "ch_1", "sawKey": self.headers.get("X-Api-Key") == "sk_live_4242abcd",
                                    "sawToken": self.headers.get("X-Token") == "tok-SSM-9f8e7d",
                                    "echo": "key=" + self.headers.get("X-Api-Key", "")})
        self.reply(400, {"__type": "UnknownOperationException", "message": target})
srv = HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(srv.server_port))
srv.serve_forever()
PY
python3 "$T/standin.py" "$T/port" "$T/requests.jsonl" & SRV=$!
for _ in $(seq 100); do [ -s "$T/port" ] && break; sleep 0.1; done
PORT=$(cat "$T/port" 2>/dev/null)
if [ -z "$PORT" ]; then fail secrets_standin "the stand-in did not start"; exit 0; fi
export AWS_ACCESS_KEY_ID=AKIDSECRETSTEST AWS_SECRET_ACCESS_KEY=secrets-test-key AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_SECRETS_MANAGER=http://127.0.0.1:$PORT AWS_ENDPOINT_URL_SSM=http://127.0.0.1:$PORT
unset AWS_SESSION_TOKEN AWS_PROFILE AWS_ENDPOINT_URL

cat >"$T/pay.dwf" <<DWF
workflow secrets_e2e {
  lambda { environment { CHARGE_URL = "http://127.0.0.1:$PORT/charge" } }
  step charge retry { attempts 1 } {
    let key = secret("prod/payments").apiKey
    let user = secret("prod/payments", "user")
    let whole = secret("prod/payments")
    let tok = parameter("/payments/token")
    let r = http POST env("CHARGE_URL") headers { "X-Api-Key": key, "X-Token": tok } body { user, n: len(whole) }
    log info "the charge service answered \${r.body.echo}"
    return { id: r.body.id, sawKey: r.body.sawKey, sawToken: r.body.sawToken }
  }
  return charge
}
DWF
"$DWF" run "$T/pay.dwf" --json --store "$T/s.db" >"$T/pay.json" 2>"$T/pay.err"; rc=$?
got=$(python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["Result"], sort_keys=True))' "$T/pay.json" 2>&1)
if [ $rc -eq 0 ] && [ "$got" = '{"id": "ch_1", "sawKey": true, "sawToken": true}' ]; then pass secrets_values_reach_http
else fail secrets_values_reach_http "rc=$rc $got $(head -c 400 "$T/pay.err")"; fi

# one GetSecretValue for prod/payments (asked three times) and one GetParameter, signed, JSON 1.1
if msg=$(python3 - "$T/requests.jsonl" <<'PY' 2>&1
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
aws = [r for r in reqs if r["target"]]
assert [r["target"] for r in aws] == ["secretsmanager.GetSecretValue", "AmazonSSM.GetParameter"], [r["target"] for r in aws]
assert json.loads(aws[0]["body"]) == {"SecretId": "prod/payments"}, aws[0]["body"]
assert json.loads(aws[1]["body"]) == {"Name": "/payments/token", "WithDecryption": True}, aws[1]["body"]
for r, svc in zip(aws, ["secretsmanager", "ssm"]):
    assert r["ctype"] == "application/x-amz-json-1.1", r["ctype"]
    assert r["auth"].startswith("AWS4-HMAC-SHA256 Credential=AKIDSECRETSTEST/") and ("/us-east-1/%s/aws4_request" % svc) in r["auth"], r["auth"]
    assert "x-amz-target" in r["auth"].split("SignedHeaders=")[1], r["auth"]
PY
); then pass secrets_read_once_signed; else fail secrets_read_once_signed "$msg"; fi

# the log line echoing the key (the compiler cannot see into an http response) is redacted
if grep -q 'the charge service answered key=\*\*\*' "$T/pay.err" && ! grep -q 'sk_live_4242abcd' "$T/pay.err" "$T/pay.json" &&
   ! "$DWF" history "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ExecutionArn"])' "$T/pay.json")" \
       --json --events --store "$T/s.db" 2>&1 | grep -q 'sk_live_4242abcd\|tok-SSM-9f8e7d'; then
  pass secrets_redacted_never_recorded
else fail secrets_redacted_never_recorded "$(grep -m2 'answered' "$T/pay.err")"; fi

# a secret that does not exist: the step fails with the AWS error code as its type
cat >"$T/missing.dwf" <<'DWF'
workflow secrets_missing {
  step s retry { attempts 1 } {
    let k = secret("no/such/secret")
    return len(k)
  }
  return s
}
DWF
"$DWF" run "$T/missing.dwf" --json --store "$T/s.db" >"$T/m.json" 2>"$T/m.err"; rc=$?
if [ $rc -eq 1 ] && grep -q 'ResourceNotFoundException' "$T/m.json"; then pass secrets_missing_is_aws_error
else fail secrets_missing_is_aws_error "rc=$rc $(head -c 400 "$T/m.json") $(head -c 300 "$T/m.err")"; fi
