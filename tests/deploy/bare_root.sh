#!/usr/bin/env bash
# tests/deploy/bare_root.sh: a `dwf build` zip runs in a root that holds nothing else.
#
# The zip is unpacked at /var/task of an empty directory whose only other content is Debian's
# static busybox (/bin/busybox, with /bin/sh a link to it), removed before the runs: no /bin,
# no /lib, no /usr, no /etc, no /proc. The test chroots into it (root needed) and runs
# /var/task/bootstrap as Lambda would, twice:
#   1. against a Lambda Runtime API (plain HTTP) + durable execution API (HTTPS, a certificate
#      the zip's etc/ca-bundle.crt is made to trust) peer on 127.0.0.1 written below in python3's
#      stdlib (it predates `dwf serve` and checks the wire: one invocation of a one-step
#      workflow, its SigV4-signed checkpoint over TLS, the response posted);
#   2. under `dwf serve`, the local emulator, started with the Invoke API like a deployed
#      function, which must answer the step's result.
# If the program needed anything of the host (a loader, a library, CA roots, a shell), it could
# not even start here, or not reach the durable API.
#
# Standalone: prints "PASS name" / "FAIL name: why" lines (and "SKIP name: why" when the machine
# cannot run it: not root, no chroot or no static busybox); $DWF = the dwf binary to test.
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
DWF=${DWF:-$PWD/$BUILD/dwf}
BUSYBOX=${BUSYBOX:-/bin/busybox}

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

CHROOT=$(command -v chroot)
if [ "$(id -u)" != 0 ] || [ -z "$CHROOT" ]; then
  echo "SKIP bare_root: needs root and chroot"; exit 0
fi
if ! [ -x "$BUSYBOX" ] || readelf -l "$BUSYBOX" 2>/dev/null | grep -q 'program interpreter'; then
  echo "SKIP bare_root: needs a static busybox at $BUSYBOX (apt-get install busybox-static)"; exit 0
fi
if ! command -v python3 >/dev/null; then
  fail bare_root_peer "python3 is not installed"; exit 0
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/dwf-bare-root.XXXXXX")
peer_pid="" boot_pid="" serve_pid="" proc_mounted=""
cleanup() {
  [ -n "$boot_pid" ] && kill "$boot_pid" 2>/dev/null
  [ -n "$serve_pid" ] && kill "$serve_pid" 2>/dev/null
  [ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
  wait 2>/dev/null
  # Never rm -rf through a mounted /proc.
  if [ -n "$proc_mounted" ] && ! umount "$work/root/proc"; then
    echo "bare_root: could not unmount $work/root/proc; left $work in place" >&2; return
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/bare.dwf" <<'EOF'
workflow bare_root {
  durable { retention = 1d  timeout = 60s }
  lambda  { name = "dwf-bare-root"  memory = 128  timeout = 10s }

  step greeting "greet" {
    return { hello: input.name ?? "world" }
  }
  return greeting
}
EOF

if ! "$DWF" build "$work/bare.dwf" -o "$work/out/function.zip" >"$work/build.log" 2>&1; then
  fail bare_root_build "dwf build failed: $(tail -c 600 "$work/build.log")"; exit 0
fi
pass bare_root_build

root="$work/root"
mkdir -p "$root/bin" "$root/var/task" "$root/tmp"
cp "$BUSYBOX" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
if ! unzip -q "$work/out/function.zip" -d "$root/var/task"; then
  fail bare_root_unpack "unzip failed"; exit 0
fi
# Nothing of the host may be reachable: the root holds busybox and the zip, nothing else.
extra=$(cd "$root" && find . -mindepth 1 \( -path ./var/task -prune -o -print \) |
        grep -v -x -e ./bin -e ./bin/busybox -e ./bin/sh -e ./var -e ./tmp)
if [ -n "$extra" ]; then fail bare_root_unpack "unexpected files in the root: $extra"; exit 0; fi
pass bare_root_unpack
# A sanitizer build of dwf (make SANITIZE=...) links a sanitized program, and ASan reads
# /proc/self/maps before main: give that build a /proc (Lambda has one), nothing more.
if ls "$root"/var/task/lib/libasan.so.* >/dev/null 2>&1; then
  mkdir -p "$root/proc" && mount -t proc proc "$root/proc" && proc_mounted=1
fi

# The CA fallback: the root has no CA roots of its own, so the program must trust the copy the
# zip ships, /var/task/etc/ca-bundle.crt (found beside the program: no SSL_CERT_FILE, no /proc
# here). The durable API of the first run below is HTTPS with a certificate for 127.0.0.1 that
# a CA made here signs; that CA is appended to the shipped copy, which keeps the build host's
# roots. A checkpoint reaching the peer over TLS proves the program verified against that file.
if ! grep -q 'BEGIN CERTIFICATE' "$root/var/task/etc/ca-bundle.crt"; then
  fail bare_root_ca_bundle "etc/ca-bundle.crt holds no PEM certificate"
elif ! command -v openssl >/dev/null; then
  fail bare_root_ca_bundle "the openssl command is not installed"
elif ! (cd "$work" && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=dwf-test-ca \
          -keyout ca.key -out ca.pem &&
        openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout tls.key -out tls.csr &&
        printf 'subjectAltName=IP:127.0.0.1\n' >tls.ext &&
        openssl x509 -req -in tls.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
          -extfile tls.ext -out tls.pem) >"$work/openssl.log" 2>&1; then
  fail bare_root_ca_bundle "openssl could not make the test certificates: $(tail -c 300 "$work/openssl.log")"
else
  cat "$work/ca.pem" >>"$root/var/task/etc/ca-bundle.crt"
  pass bare_root_ca_bundle
fi
# From here on the root holds no shell at all: the bootstrap must not need one.
rm -rf "$root/bin"

# The peer: Lambda Runtime API (/2018-06-01/runtime/...) and the durable execution API
# (/2025-12-01/durable-executions/...) on one port. It logs every request as JSON lines.
cat >"$work/peer.py" <<'EOF'
import json, ssl, sys, time, threading, urllib.parse
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler

port_file, log_file = sys.argv[1], sys.argv[2]
ARN = "arn:aws:lambda:us-east-1:123456789012:function:dwf-bare-root:1/durable-execution/bare/0001"
EXEC_ID = "0001-execution"
lock = threading.Lock()
state = {"token": 0, "nexts": 0, "ops": {}}
now_iso = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
state["ops"][EXEC_ID] = {"Id": EXEC_ID, "Type": "EXECUTION", "Status": "STARTED",
                         "StartTimestamp": now_iso,
                         "ExecutionDetails": {"InputPayload": json.dumps({"name": "bare"})}}

def log(entry):
    with lock, open(log_file, "a") as f:
        f.write(json.dumps(entry) + "\n")

def apply(u):
    """One OperationUpdate onto the state, the way the service would; returns the new op."""
    op = dict(state["ops"].get(u["Id"], {"Id": u["Id"], "Type": u["Type"],
                                         "StartTimestamp": time.time()}))
    for k in ("ParentId", "Name", "SubType"):
        if k in u: op[k] = u[k]
    a = u["Action"]
    if a == "START":
        op["Status"] = "STARTED"
    elif a in ("SUCCEED", "FAIL", "RETRY"):
        op["Status"] = {"SUCCEED": "SUCCEEDED", "FAIL": "FAILED", "RETRY": "PENDING"}[a]
        op["EndTimestamp"] = time.time()
        key = {"STEP": "StepDetails", "CONTEXT": "ContextDetails"}.get(u["Type"])
        if key:
            d = dict(op.get(key, {}))
            if u["Type"] == "STEP": d["Attempt"] = d.get("Attempt", 0) + 1
            if "Payload" in u: d["Result"] = u["Payload"]
            if "Error" in u: d["Error"] = u["Error"]
            op[key] = d
    state["ops"][u["Id"]] = op
    return op

class Peer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass

    def reply(self, code, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        for k, v in (headers or {}).items(): self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n).decode() if n else ""

    def record(self, body):
        log({"t": round(time.time(), 3), "method": self.command, "path": self.path, "body": body,
             "authorization": self.headers.get("Authorization", ""),
             "token": self.headers.get("X-Amz-Security-Token", ""),
             "request_id_header": self.headers.get("Lambda-Runtime-Aws-Request-Id", ""),
             "tls": isinstance(self.connection, ssl.SSLSocket)})

    def do_GET(self):
        self.record("")
        path = urllib.parse.urlsplit(self.path).path
        if path == "/2018-06-01/runtime/invocation/next":
            with lock:
                state["nexts"] += 1
                first = state["nexts"] == 1
                event = {"DurableExecutionArn": ARN, "CheckpointToken": "token-0",
                         "InitialExecutionState": {"Operations": list(state["ops"].values()),
                                                   "NextMarker": ""}}
            if not first:  # one invocation only; later polls wait, as Lambda's would
                time.sleep(3600)
            return self.reply(200, event, {
                "Lambda-Runtime-Aws-Request-Id": "bare-req-1",
                "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 10000),
                "Lambda-Runtime-Invoked-Function-Arn":
                    "arn:aws:lambda:us-east-1:123456789012:function:dwf-bare-root:1",
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000"})
        if path.startswith("/2025-12-01/durable-executions/") and path.endswith("/state"):
            with lock:
                return self.reply(200, {"Operations": list(state["ops"].values())})
        self.reply(404, {"message": "no route " + path})

    def do_POST(self):
        body = self.body()
        self.record(body)
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/2018-06-01/runtime/"):
            return self.reply(202, {"status": "OK"})
        if path.startswith("/2025-12-01/durable-executions/") and path.endswith("/checkpoint"):
            arn = urllib.parse.unquote(path[len("/2025-12-01/durable-executions/"):-len("/checkpoint")])
            if arn != ARN:
                return self.reply(404, {"__type": "ResourceNotFoundException",
                                        "message": "unknown execution " + arn})
            req = json.loads(body or "{}")
            with lock:
                if req.get("CheckpointToken") != "token-%d" % state["token"]:
                    return self.reply(400, {"__type": "InvalidParameterValueException",
                                            "message": "Invalid Checkpoint Token"})
                changed = [apply(u) for u in req.get("Updates", [])]
                state["token"] += 1
                return self.reply(200, {"CheckpointToken": "token-%d" % state["token"],
                                        "NewExecutionState": {"Operations": changed}})
        self.reply(404, {"message": "no route " + path})

# The same peer on a second port over TLS (its certificate: tls.pem, for 127.0.0.1).
import os, ssl
srv = ThreadingHTTPServer(("127.0.0.1", 0), Peer)
srv.daemon_threads = True
tls = ThreadingHTTPServer(("127.0.0.1", 0), Peer)
tls.daemon_threads = True
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(os.path.join(os.path.dirname(port_file), "tls.pem"),
                    os.path.join(os.path.dirname(port_file), "tls.key"))
tls.socket = ctx.wrap_socket(tls.socket, server_side=True)
threading.Thread(target=tls.serve_forever, daemon=True).start()
with open(port_file + ".tmp", "w") as f: f.write("%d %d" % (srv.server_address[1], tls.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
EOF

python3 "$work/peer.py" "$work/port" "$work/requests.log" 2>"$work/peer.err" &
peer_pid=$!
for _ in $(seq 300); do [ -s "$work/port" ] && break; sleep 0.1; done
if ! [ -s "$work/port" ]; then fail bare_root_peer "the python peer did not start: $(cat "$work/peer.err")"; exit 0; fi
read -r port tls_port <"$work/port"

# Lambda's environment, nothing from ours. AWS_ENDPOINT_URL_LAMBDA points the durable API at
# the peer's TLS port (the CA fallback above).
env -i PATH=/bin LANG=C TZ=UTC \
  AWS_LAMBDA_RUNTIME_API="127.0.0.1:$port" AWS_ENDPOINT_URL_LAMBDA="https://127.0.0.1:$tls_port" \
  AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 \
  AWS_ACCESS_KEY_ID=AKIDBAREROOT AWS_SECRET_ACCESS_KEY=bare-root-secret AWS_SESSION_TOKEN=bare-root-token \
  AWS_LAMBDA_FUNCTION_NAME=dwf-bare-root AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 \
  LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime _HANDLER=bootstrap \
  "$CHROOT" "$root" /var/task/bootstrap >"$work/bootstrap.out" 2>&1 &
boot_pid=$!

# Wait for the response post (or an error post, or the bootstrap dying).
for _ in $(seq 1200); do
  grep -q '/runtime/invocation/bare-req-1/\(response\|error\)\|/runtime/init/error' "$work/requests.log" 2>/dev/null && break
  kill -0 "$boot_pid" 2>/dev/null || break
  sleep 0.1
done
sleep 0.2

python3 - "$work/requests.log" "$work/bootstrap.out" <<'EOF'
import hashlib, json, os, sys
reqs = [json.loads(l) for l in open(sys.argv[1])] if os.path.exists(sys.argv[1]) else []
boot = open(sys.argv[2], errors="replace").read()[-600:].replace("\n", " | ")
def out(ok, name, why=""):
    print(("PASS " + name) if ok else ("FAIL %s: %s [bootstrap said: %s]" % (name, why, boot)))
nexts = [r for r in reqs if r["path"] == "/2018-06-01/runtime/invocation/next"]
out(bool(nexts), "bare_root_runtime_api", "the bootstrap never asked for an invocation")
cps = [r for r in reqs if r["path"].endswith("/checkpoint")]
step_id = hashlib.md5(b"1").hexdigest()[:16]
ups = [u for r in cps for u in json.loads(r["body"]).get("Updates", [])]
done = [u for u in ups if u.get("Id") == step_id and u.get("Action") == "SUCCEED"]
if not cps:
    out(False, "bare_root_checkpoint", "no checkpoint call reached the durable API")
elif not all(r["tls"] for r in cps):
    out(False, "bare_root_checkpoint", "a checkpoint call came over plain HTTP, not the TLS port")
elif not all(r["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDBAREROOT/")
             and r["token"] == "bare-root-token" for r in cps):
    out(False, "bare_root_checkpoint", "checkpoint not SigV4-signed with the session token: %r"
        % [(r["authorization"][:60], r["token"]) for r in cps])
elif not done:
    out(False, "bare_root_checkpoint", "no SUCCEED update for step %s in %r" % (step_id, ups))
else:
    u = done[-1]
    ok = u.get("Type") == "STEP" and u.get("Name") == "greet" and \
         json.loads(u.get("Payload", "null")) == {"hello": "bare"}
    out(ok, "bare_root_checkpoint", "unexpected step update %r" % u)
resp = [r for r in reqs if r["path"] == "/2018-06-01/runtime/invocation/bare-req-1/response"]
errs = [r for r in reqs if "/error" in r["path"]]
if not resp:
    out(False, "bare_root_response", "no response posted; error posts: %r" % [e["body"][:300] for e in errs])
else:
    body = json.loads(resp[-1]["body"])
    ok = body.get("Status") == "SUCCEEDED" and json.loads(body.get("Result", "null")) == {"hello": "bare"}
    out(ok, "bare_root_response", "response %r, want SUCCEEDED with {\"hello\":\"bare\"}" % body)
EOF

# ---- the same root driven by `dwf serve`, the local Lambda emulator --------------------------
# The emulator starts the function's process as Lambda would (its own Runtime API, the durable
# API at AWS_ENDPOINT_URL_LAMBDA), here through chroot into the bare root; the workflow is
# started with the Invoke API and must answer its result, and the execution must be SUCCEEDED.
kill "$boot_pid" 2>/dev/null; wait "$boot_pid" 2>/dev/null; boot_pid=""
if "$DWF" help serve 2>&1 | grep -q 'not available'; then
  fail bare_root_serve "dwf serve is not in this build"; exit 0
fi
"$DWF" serve --port 0 --store "$work/serve.db" \
  --function "dwf-bare-root=$root/var/task" --command "$CHROOT $root /var/task/bootstrap" \
  --env LAMBDA_TASK_ROOT=/var/task --timeout 30 >"$work/serve.out" 2>"$work/serve.err" &
serve_pid=$!
sport=""
for _ in $(seq 600); do
  sport=$(sed -n 's|^dwf serve: listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/serve.out" 2>/dev/null)
  [ -n "$sport" ] && break
  kill -0 "$serve_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$sport" ]; then
  fail bare_root_serve "dwf serve did not start: $(tail -c 400 "$work/serve.err")"; exit 0
fi
python3 - "$sport" "$work/serve.err" <<'EOF'
import json, sys, urllib.parse, urllib.request, urllib.error
base = "http://127.0.0.1:%s" % sys.argv[1]
def why(msg):
    return "%s [dwf serve said: %s]" % (msg, open(sys.argv[2], errors="replace").read()[-500:].replace("\n", " | "))
def call(method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, data=body.encode() if body else None, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=180) as r:
            b = r.read()
            return r.status, dict(r.headers), (json.loads(b) if b else None)
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()[:300]
    except Exception as e:
        return 0, {}, repr(e)
st, h, body = call("POST", "/2015-03-31/functions/%s/invocations" % urllib.parse.quote("dwf-bare-root:$LATEST", safe=""),
                   json.dumps({"name": "serve"}), {"X-Amz-Invocation-Type": "RequestResponse"})
ok = st == 200 and body == {"hello": "serve"}
print("PASS bare_root_serve_invoke" if ok else "FAIL bare_root_serve_invoke: " + why("status %s body %r" % (st, body)))
arn = h.get("X-Amz-Durable-Execution-Arn", "")
st, _, x = call("GET", "/2025-12-01/durable-executions/%s" % urllib.parse.quote(arn, safe="")) if arn else (0, {}, None)
ok = st == 200 and isinstance(x, dict) and x.get("Status") == "SUCCEEDED" and \
     json.loads(x.get("Result") or "null") == {"hello": "serve"}
print("PASS bare_root_serve_execution" if ok else "FAIL bare_root_serve_execution: " + why("execution %r: %s %r" % (arn, st, x)))
EOF
exit 0
