#!/usr/bin/env bash
# secret() and parameter() end to end (issue 11 item 2) on the embedded engine against a local
# Secrets Manager / SSM stand-in (no npm emulator exists for them): a small Python server in
# this test answers GetSecretValue and GetParameter and records every request. Checked: the
# values reach the step (an http header and body, compared by the stand-in's own record), each
# id is read once per invocation however often the workflow asks (and again by the next
# invocation), the requests are the JSON 1.1 protocol signed with SigV4 for the right service,
# WithDecryption is sent, a log line holding a secret value (read by secret() or by a direct
# aws GetSecretValue) shows *** instead, no secret is in the execution's history, a secret
# that does not exist fails the step with the AWS error code as its type, and a missing JSON
# key is a SecretFormatError that names the key, not the value. KEEP=1 keeps the work dir.
# Called by tests/e2e/run.sh; prints PASS/FAIL lines.
set -u
cd "$(dirname "$0")/../.."
DWF=${DWF:-$PWD/build/dwf}
T=$(mktemp -d /tmp/dwf-e2e-secrets.XXXXXX)
SRV=""
trap '[ -n "$SRV" ] && kill "$SRV" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$T"' EXIT

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
    def reply(self, code, obj, ctype="application/x-amz-json-1.1"):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
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
                                    "echo": "key=" + self.headers.get("X-Api-Key", "")}, "application/json")
        self.reply(400, {"__type": "UnknownOperationException", "message": target})
srv = HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(srv.server_port))
srv.serve_forever()
PY
python3 "$T/standin.py" "$T/port" "$T/requests.jsonl" & SRV=$!
# until it listens (300 s: only a stand-in that never starts; one that died ends the wait)
for _ in $(seq 3000); do [ -s "$T/port" ] && break; kill -0 $SRV 2>/dev/null || break; sleep 0.1; done
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

# the log line echoing the key (the compiler cannot see into an http response) is redacted:
# the same workflow again without --json, which shows the step log lines on stderr
"$DWF" run "$T/pay.dwf" --store "$T/s2.db" >"$T/pay2.out" 2>"$T/pay2.err"; rc=$?
arn=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ExecutionArn"])' "$T/pay.json")
"$DWF" history "$arn" --json --store "$T/s.db" >"$T/hist.json" 2>&1
"$DWF" history "$arn" --json --events --store "$T/s.db" >>"$T/hist.json" 2>&1
if [ $rc -eq 0 ] && grep -q 'the charge service answered key=\*\*\*' "$T/pay2.err" &&
   ! grep -q 'sk_live_4242abcd' "$T/pay2.err" "$T/pay2.out" "$T/pay.json" &&
   grep -q 'ch_1' "$T/hist.json" && ! grep -q 'sk_live_4242abcd\|tok-SSM-9f8e7d\|hunter2' "$T/hist.json"; then
  pass secrets_redacted_never_recorded
else fail secrets_redacted_never_recorded "rc=$rc $(grep -m2 'answered' "$T/pay2.err") $(grep -c ch_1 "$T/hist.json")"; fi

# a direct GetSecretValue call's value is redacted too. A direct call always asks (it is an
# aws call like any other); secret() asks once per invocation: two invocations (a wait between
# the steps) read it once each, so a rotated secret is seen. 3 reads in all.
cat >"$T/direct.dwf" <<DWF
workflow secrets_direct {
  step first retry { attempts 1 } {
    let got = aws secretsmanager.GetSecretValue { SecretId: "plain" }
    let again = secret("plain")
    let r = http POST "http://127.0.0.1:$PORT/charge" headers { "X-Api-Key": got.SecretString } body { same: again == got.SecretString }
    log info "direct: \${r.body.echo}"
    return r.body.id
  }
  wait 2s
  step second retry { attempts 1 } {
    let k = secret("plain")
    return len(k) > 8
  }
  return { first, second }
}
DWF
: >"$T/requests.jsonl"
"$DWF" run "$T/direct.dwf" --skip-time --store "$T/s3.db" >"$T/d.out" 2>"$T/d.err"; rc=$?
n=$(grep -c '"secretsmanager.GetSecretValue"' "$T/requests.jsonl")
if [ $rc -eq 0 ] && grep -q 'direct: key=\*\*\*' "$T/d.err" && ! grep -q 'hunter2' "$T/d.err" "$T/d.out" &&
   grep -q '"second": true' "$T/d.out" && [ "$n" = 3 ]; then
  pass secrets_direct_call_redacted_cached_per_invocation
else fail secrets_direct_call_redacted_cached_per_invocation "rc=$rc reads=$n $(grep -m1 'direct:' "$T/d.err") $(tail -c 300 "$T/d.out")"; fi

# a secret that does not exist: the step fails with the AWS error code as its type; a key of
# a secret that is not a JSON object: SecretFormatError, naming the key and never the value
cat >"$T/missing.dwf" <<'DWF'
workflow secrets_missing {
  let missing = null
  try {
    step s retry { attempts 1 } {
      let k = secret("no/such/secret")
      return len(k) > 0
    }
  } catch err {
    missing = err.cause.ErrorType
  }
  let format = null
  try {
    step f retry { attempts 1 } {
      let k = secret("plain").apiKey
      return len(k) > 0
    }
  } catch err {
    format = { type: err.cause.ErrorType, message: err.cause.ErrorMessage }
  }
  return { missing, format }
}
DWF
"$DWF" run "$T/missing.dwf" --json --store "$T/s.db" >"$T/m.json" 2>"$T/m.err"; rc=$?
if msg=$(python3 - "$T/m.json" <<'PY' 2>&1
import json, sys
r = json.load(open(sys.argv[1]))["Result"]
assert r["missing"] == "ResourceNotFoundException", r
assert r["format"]["type"] == "SecretFormatError", r
assert "apiKey" in r["format"]["message"] and "hunter2" not in r["format"]["message"], r
PY
); then pass secrets_errors_are_typed; else fail secrets_errors_are_typed "rc=$rc $msg $(head -c 300 "$T/m.err")"; fi
