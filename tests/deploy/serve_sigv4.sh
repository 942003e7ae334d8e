#!/usr/bin/env bash
# tests/deploy/serve_sigv4.sh: with --access-key/--secret-key, `dwf serve` accepts only
# signatures that cover the request as Lambda requires (docs/security.md, "dwf serve").
#
# A small SigV4 signer in Python (hashlib + hmac, the algorithm of AWS's documentation) signs
# requests the way a client could, then bends one thing at a time:
#   - X-Amz-Content-Sha256: UNSIGNED-PAYLOAD on a signed Invoke, sent with another body than
#     the one the signer saw (the body swap a captured request allows): refused, and no
#     execution started with the swapped payload;
#   - a credential scope for another service (s3) or another region: refused;
#   - a date 20 minutes old, consistently signed: refused;
#   - SignedHeaders without host: refused;
# while the same signer's honest requests, and the official clients the deploy suite drives
# (the aws CLI v1 here; @aws-sdk/client-lambda and the bootstrap in serve_awssdk.sh), are
# accepted.
#
# Prints "PASS name" / "FAIL name: why"; $DWF = the dwf binary to test.
set -u
cd "$(dirname "$0")/../.."
. tests/deploy/serve_lib.sh

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

if ! command -v python3 >/dev/null; then fail serve_sigv4 "python3 is not installed"; exit 0; fi
T=$(mktemp -d "${TMPDIR:-/tmp}/dwf-serve-sig.XXXXXX")
cleanup() { serve_stop >/dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT

if ! serve_zips order; then fail serve_sigv4_build "dwf build failed: $(tail -c 400 "$ZIPS"/*/build.log)"; exit 0; fi
AK=AKIDSERVESIGV4 SK=serve-sigv4-secret-key
if ! serve_start "$T/serve" --store "$T/store.db" --skip-time --region eu-central-1 --access-key "$AK" --secret-key "$SK" \
     "$ZIPS/order/function.zip"; then
  fail serve_sigv4_start "dwf serve did not start: $(tail -c 600 "$T/serve.err")"; exit 0
fi

python3 - "$SERVE_PORT" "$AK" "$SK" <<'EOF'
import datetime, hashlib, hmac, http.client, json, sys, urllib.parse
port, ak, sk = int(sys.argv[1]), sys.argv[2], sys.argv[3]
FN = "durable-basic-test"

def out(ok, name, why=""):
    print(("PASS " + name) if ok else ("FAIL %s: %s" % (name, why[:400])))

def h256(b): return hashlib.sha256(b).hexdigest()
def hm(k, m): return hmac.new(k, m.encode(), hashlib.sha256).digest()

def send(method, path, body=b"", headers=None, region="eu-central-1", service="lambda", when=None,
         content_sha=None, signed_body=None, signed=("host", "x-amz-date")):
    """Sign (method, path, signed_body or body) as SigV4 does, then send body."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    amz = when.strftime("%Y%m%dT%H%M%SZ")
    hd = {"host": "127.0.0.1:%d" % port, "x-amz-date": amz}
    hd.update({k.lower(): v for k, v in (headers or {}).items()})
    if content_sha: hd["x-amz-content-sha256"] = content_sha
    names = sorted(set(signed) | ({"x-amz-content-sha256"} if content_sha else set()))
    raw_path, _, query = path.partition("?")
    # the lambda service's canonical URI: every label encoded once more
    cpath = "/".join(urllib.parse.quote(s, safe="-_.~") for s in raw_path.split("/"))
    pairs = sorted((urllib.parse.quote(urllib.parse.unquote(k), safe="-_.~"), urllib.parse.quote(urllib.parse.unquote(v), safe="-_.~"))
                   for k, _, v in (p.partition("=") for p in query.split("&") if p))
    payload_hash = content_sha if content_sha else h256(signed_body if signed_body is not None else body)
    creq = "\n".join([method, cpath, "&".join("%s=%s" % p for p in pairs),
                      "".join("%s:%s\n" % (n, hd[n].strip()) for n in names), ";".join(names), payload_hash])
    scope = "%s/%s/%s/aws4_request" % (amz[:8], region, service)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, h256(creq.encode())])
    k = hm(hm(hm(hm(("AWS4" + sk).encode(), amz[:8]), region), service), "aws4_request")
    hd["authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        ak, scope, ";".join(names), hmac.new(k, sts.encode(), hashlib.sha256).hexdigest())
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request(method, path, body=body, headers=hd)
    r = c.getresponse()
    data = r.read()
    c.close()
    try: data = json.loads(data) if data else None
    except ValueError: pass
    return r.status, r.getheader("X-Amzn-ErrorType"), data

LIST = "/2025-12-01/functions/%s/durable-executions" % FN
INVOKE = "/2015-03-31/functions/%s/invocations" % urllib.parse.quote(FN + ":$LATEST", safe="")

st, et, b = send("GET", LIST)
out(st == 200, "serve_sigv4_honest_request_accepted", "%s %s %r" % (st, et, b))
st, et, b = send("POST", INVOKE, json.dumps({"orderId": "SIG-1"}).encode(), {"X-Amz-Invocation-Type": "RequestResponse"})
out(st == 200 and isinstance(b, dict) and b.get("orderId") == "SIG-1", "serve_sigv4_honest_invoke", "%s %s %r" % (st, et, b))
st, et, b = send("POST", INVOKE, json.dumps({"orderId": "SIG-H"}).encode(), {"X-Amz-Invocation-Type": "Event"},
                 content_sha=h256(json.dumps({"orderId": "SIG-H"}).encode()))
out(st == 202, "serve_sigv4_content_sha_of_body_accepted", "%s %s %r" % (st, et, b))

# The body swap: the signer saw SIG-A, the wire carries SIG-SWAPPED.
st, et, b = send("POST", INVOKE, json.dumps({"orderId": "SIG-SWAPPED"}).encode(), {"X-Amz-Invocation-Type": "Event"},
                 content_sha="UNSIGNED-PAYLOAD", signed_body=json.dumps({"orderId": "SIG-A"}).encode())
out(st == 403 and et == "InvalidSignatureException", "serve_sigv4_unsigned_payload_refused", "%s %s %r" % (st, et, b))
_, _, ls = send("GET", LIST + "?MaxItems=1000")
inputs = []
for x in (ls or {}).get("DurableExecutions", []):
    _, _, d = send("GET", "/2025-12-01/durable-executions/%s" % urllib.parse.quote(x["DurableExecutionArn"], safe=""))
    inputs.append((d or {}).get("InputPayload", ""))
out(not any("SIG-SWAPPED" in i for i in inputs), "serve_sigv4_swapped_body_started_nothing", "inputs %r" % inputs)

st, et, b = send("GET", LIST, service="s3")
out(st == 403 and et == "InvalidSignatureException" and "service" in json.dumps(b), "serve_sigv4_other_service_refused",
    "%s %s %r" % (st, et, b))
st, et, b = send("GET", LIST, region="us-east-1")
out(st == 403 and et == "InvalidSignatureException" and "region" in json.dumps(b), "serve_sigv4_other_region_refused",
    "%s %s %r" % (st, et, b))
old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
st, et, b = send("GET", LIST, when=old)
out(st == 403 and et == "InvalidSignatureException" and "expired" in json.dumps(b), "serve_sigv4_old_date_refused",
    "%s %s %r" % (st, et, b))
st, et, b = send("GET", LIST, signed=("x-amz-date",))
out(st == 403 and et == "IncompleteSignatureException", "serve_sigv4_host_unsigned_refused", "%s %s %r" % (st, et, b))
EOF

# The aws CLI (v1, botocore's signer) with the keys: accepted; with a wrong secret: refused.
# (v1 sends --payload as given; v2 would need --cli-binary-format raw-in-base64-out.)
if command -v aws >/dev/null 2>&1; then
  awsc() { AWS_ACCESS_KEY_ID=$AK AWS_SECRET_ACCESS_KEY=$1 AWS_SESSION_TOKEN= AWS_DEFAULT_REGION=eu-central-1 \
           AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null timeout 120 \
           aws --endpoint-url "http://127.0.0.1:$SERVE_PORT" "${@:2}"; }
  if awsc "$SK" lambda invoke --function-name "durable-basic-test:\$LATEST" \
       --payload '{"orderId":"CLI-1"}' "$T/cli.json" >"$T/cli.meta" 2>"$T/cli.err" &&
     grep -q '"orderId":"CLI-1"' "$T/cli.json"; then pass serve_sigv4_aws_cli_invoke
  else fail serve_sigv4_aws_cli_invoke "$(cat "$T/cli.err" "$T/cli.json" 2>/dev/null | tail -c 400)"; fi
  arn=$(awsc "$SK" lambda list-durable-executions-by-function --function-name durable-basic-test \
          --query 'DurableExecutions[0].DurableExecutionArn' --output text 2>"$T/cli.err")
  if [ -n "$arn" ] && awsc "$SK" lambda get-durable-execution --durable-execution-arn "$arn" \
       --query Status --output text >"$T/cli.status" 2>>"$T/cli.err" && grep -q SUCCEEDED "$T/cli.status"; then
    pass serve_sigv4_aws_cli_get_execution
  else fail serve_sigv4_aws_cli_get_execution "arn '$arn': $(tail -c 400 "$T/cli.err")"; fi
  if awsc wrong-secret lambda list-durable-executions-by-function --function-name durable-basic-test \
       >/dev/null 2>"$T/cli.err"; then fail serve_sigv4_aws_cli_wrong_secret "accepted"
  elif grep -q InvalidSignatureException "$T/cli.err"; then pass serve_sigv4_aws_cli_wrong_secret
  else fail serve_sigv4_aws_cli_wrong_secret "$(tail -c 300 "$T/cli.err")"; fi
else
  echo "SKIP serve_sigv4_aws_cli: the aws CLI is not installed"
fi

serve_stop || fail serve_sigv4_clean_exit "dwf serve exited non-zero: $(tail -c 300 "$T/serve.err")"
exit 0
