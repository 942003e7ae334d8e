#!/usr/bin/env bash
# tests/deploy/serve_runtime_api.sh: a function's Runtime API answers only the process
# `dwf serve` started for it (docs/security.md, "dwf serve").
#
# The function is a scripted runtime that takes an invocation, writes its request id to a file
# and holds it until the test says go. Meanwhile this test, a process of the same user on the
# same machine but not the function's, does what any local process could do on the printed
# port: ask for /next (to steal the invocation, its input and checkpoint token), post a forged
# result for the request id in flight, ask for /next three more times (which used to fault the
# invocation each time, failing the execution), and post an init error. Every one must be
# answered 403 at once, and none may touch the invocation: the execution then ends with the
# function's own answer, one invocation, no fault. The function's own requests, from its process
# and from a curl it starts (a child), are answered as usual.
#
# A function whose runtime connects from an IPv6 socket (an IPv4-mapped address, as a JVM that
# prefers IPv6 does) is recognised as its own process too.
#
# Another function posts a response one byte over DWF_LIMIT_SYNC_PAYLOAD (6 MB) first: it
# must get 413 RequestEntityTooLarge (the body is not kept), and its proper answer after that
# ends the execution.
#
# Prints "PASS name" / "FAIL name: why"; $DWF = the dwf binary to test.
set -u
cd "$(dirname "$0")/../.."
. tests/deploy/serve_lib.sh

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

if ! command -v python3 >/dev/null; then fail serve_runtime_api "python3 is not installed"; exit 0; fi
T=$(mktemp -d "${TMPDIR:-/tmp}/dwf-serve-rt.XXXXXX")
cleanup() { serve_stop >/dev/null 2>&1; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT

mkdir -p "$T/fn"
cat >"$T/fn/bootstrap" <<'PY'
#!/usr/bin/env python3
import json, os, subprocess, time, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
while True:
    # the first /next through a child process: a runtime's children are the function's too
    if not os.path.exists(os.environ["RID_FILE"] + ".child"):
        out = subprocess.run(["curl", "-s", "-D", "-", "-o", os.environ["RID_FILE"] + ".event",
                              "http://%s/2018-06-01/runtime/invocation/next" % api], capture_output=True, text=True).stdout
        rid = next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.lower().startswith("lambda-runtime-aws-request-id"))
        ev = json.load(open(os.environ["RID_FILE"] + ".event"))
        open(os.environ["RID_FILE"] + ".child", "w").write(rid)
    else:
        with urllib.request.urlopen("http://%s/2018-06-01/runtime/invocation/next" % api) as r:
            rid, ev = r.headers["Lambda-Runtime-Aws-Request-Id"], json.load(r)
    with open(os.environ["RID_FILE"] + ".tmp", "w") as f:
        f.write(rid)
    os.rename(os.environ["RID_FILE"] + ".tmp", os.environ["RID_FILE"])
    while not os.path.exists(os.environ["GO_FILE"]):
        time.sleep(0.05)
    os.unlink(os.environ["GO_FILE"])
    inp = next(o for o in ev["InitialExecutionState"]["Operations"] if o["Type"] == "EXECUTION")
    payload = json.loads(inp["ExecutionDetails"]["InputPayload"])
    answer = {"Status": "SUCCEEDED", "Result": json.dumps({"real": True, "n": payload.get("n")})}
    req = urllib.request.Request("http://%s/2018-06-01/runtime/invocation/%s/response" % (api, rid),
                                 data=json.dumps(answer).encode(), method="POST")
    urllib.request.urlopen(req).read()
PY
chmod 755 "$T/fn/bootstrap"

mkdir -p "$T/v6"
cat >"$T/v6/bootstrap" <<'PY'
#!/usr/bin/env python3
import os, socket, json
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
def req(method, path, body=b""):
    s = socket.socket(socket.AF_INET6)
    s.connect(("::ffff:" + host, int(port)))
    s.sendall(("%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % (method, path, len(body))).encode() + body)
    data = b""
    while True:
        k = s.recv(65536)
        if not k: break
        data += k
    return data.decode()
while True:
    r = req("GET", "/2018-06-01/runtime/invocation/next")
    rid = [l.split(":",1)[1].strip() for l in r.split("\r\n") if l.lower().startswith("lambda-runtime-aws-request-id")][0]
    req("POST", "/2018-06-01/runtime/invocation/%s/response" % rid, json.dumps({"Status":"SUCCEEDED","Result":"{\"v6\":true}"}).encode())
PY
chmod 755 "$T/v6/bootstrap"

mkdir -p "$T/big"
cat >"$T/big/bootstrap" <<'PY'
#!/usr/bin/env python3
import json, os, urllib.error, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
def post(rid, body):
    req = urllib.request.Request("http://%s/2018-06-01/runtime/invocation/%s/response" % (api, rid), data=body, method="POST")
    try:
        with urllib.request.urlopen(req) as r: return r.status, None
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("X-Amzn-ErrorType")
while True:
    with urllib.request.urlopen("http://%s/2018-06-01/runtime/invocation/next" % api) as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
    head, tail = b'{"Status":"SUCCEEDED","Result":"', b'"}'
    big = head + b"x" * (6291457 - len(head) - len(tail)) + tail  # one byte over the limit
    first = post(rid, big)
    open(os.environ["BIG_LOG"], "w").write(json.dumps([len(big), first]))
    post(rid, json.dumps({"Status": "SUCCEEDED", "Result": json.dumps({"after": list(first)})}).encode())
PY
chmod 755 "$T/big/bootstrap"

if ! serve_start "$T/serve" --store "$T/store.db" --function "held=$T/fn" --timeout 120 \
     --env "RID_FILE=$T/rid" --env "GO_FILE=$T/go" --function "big=$T/big" --timeout 60 --env "BIG_LOG=$T/big.json" \
     --function "v6=$T/v6" --timeout 60; then
  fail serve_runtime_api_start "dwf serve did not start: $(tail -c 600 "$T/serve.err")"; exit 0
fi
RT_PORT=$(sed -n 's/^dwf serve: function held: .*Runtime API 127.0.0.1:\([0-9]*\).*/\1/p' "$T/serve.out")

python3 - "$SERVE_PORT" "$RT_PORT" "$T" <<'EOF'
import json, os, sys, time, urllib.error, urllib.parse, urllib.request
api, rt, T = "http://127.0.0.1:%s" % sys.argv[1], "http://127.0.0.1:%s/2018-06-01/runtime" % sys.argv[2], sys.argv[3]

def out(ok, name, why=""):
    print(("PASS " + name) if ok else ("FAIL %s: %s" % (name, str(why)[:400])))

def call(method, url, body=None, headers=None, timeout=30):
    data = body.encode() if isinstance(body, str) else body
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, method=method, headers=headers or {}),
                                    timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
    except Exception as e:  # a /next that blocks is the bug: it waits for an invocation to steal
        return None, {}, repr(e).encode()

def wait_file(path, secs=120):
    end = time.time() + secs
    while time.time() < end and not os.path.exists(path): time.sleep(0.05)
    return open(path).read() if os.path.exists(path) else None

q = lambda s: urllib.parse.quote(s, safe="")
for n, name in ((1, "first"), (2, "second")):
    rid_file = os.path.join(T, "rid")
    if os.path.exists(rid_file): os.unlink(rid_file)
    st, h, _ = call("POST", api + "/2015-03-31/functions/held:$LATEST/invocations", json.dumps({"n": n}),
                    {"X-Amz-Invocation-Type": "Event"})
    arn = h.get("X-Amz-Durable-Execution-Arn", "")
    rid = wait_file(rid_file)
    if not (st == 202 and rid):
        out(False, "serve_runtime_api_%s_invocation_held" % name, "invoke %s, request id %r" % (st, rid)); continue
    forged = json.dumps({"Status": "SUCCEEDED", "Result": json.dumps({"pwned": True})})
    tries = [("next", "GET", rt + "/invocation/next", None),
             ("forged_response", "POST", rt + "/invocation/%s/response" % rid, forged),
             ("forged_error", "POST", rt + "/invocation/%s/error" % rid, json.dumps({"errorType": "Pwned", "errorMessage": "x"})),
             ("init_error", "POST", rt + "/init/error", json.dumps({"errorType": "Pwned", "errorMessage": "x"}))]
    tries += [("next_%d" % i, "GET", rt + "/invocation/next", None) for i in (2, 3, 4)]
    for what, method, url, body in tries:
        st, h, b = call(method, url, body)
        out(st == 403 and h.get("X-Amzn-ErrorType") == "AccessDeniedException",
            "serve_runtime_api_%s_foreign_%s_refused" % (name, what), "HTTP %s %r" % (st, b[:200]))
    st, _, x = call("GET", api + "/2025-12-01/durable-executions/" + q(arn))
    x = json.loads(x) if st == 200 else {}
    out(x.get("Status") == "RUNNING", "serve_runtime_api_%s_invocation_untouched" % name, x)
    open(os.path.join(T, "go"), "w").close()
    end = time.time() + 120
    while time.time() < end and x.get("Status") == "RUNNING":
        time.sleep(0.1)
        x = json.loads(call("GET", api + "/2025-12-01/durable-executions/" + q(arn))[2])
    res = json.loads(x.get("Result") or "null")
    evs = json.loads(call("GET", api + "/2025-12-01/durable-executions/%s/history?IncludeExecutionData=true" % q(arn))[2])["Events"]
    done = [e["InvocationCompletedDetails"] for e in evs if e["EventType"] == "InvocationCompleted"]
    out(x.get("Status") == "SUCCEEDED" and res == {"real": True, "n": n} and len(done) == 1 and not done[0].get("Error"),
        "serve_runtime_api_%s_own_answer_wins" % name, "%r, invocations %r" % (x, done))

st, h, b = call("POST", api + "/2015-03-31/functions/v6:$LATEST/invocations", "{}", timeout=120)
out(st == 200 and json.loads(b) == {"v6": True}, "serve_runtime_api_ipv4_mapped_client_accepted", "%s %r" % (st, b[:200]))

st, h, b = call("POST", api + "/2015-03-31/functions/big:$LATEST/invocations", "{}", timeout=120)
log = json.load(open(os.path.join(T, "big.json"))) if os.path.exists(os.path.join(T, "big.json")) else None
out(log and log[0] == 6291457 and log[1] == [413, "RequestEntityTooLarge"],
    "serve_runtime_api_response_over_6mb_413", "log %r" % (log,))
out(st == 200 and json.loads(b) == {"after": [413, "RequestEntityTooLarge"]}, "serve_runtime_api_answer_after_413_ends_it",
    "%s %r" % (st, b[:200]))
EOF
serve_stop || fail serve_runtime_api_clean_exit "dwf serve exited non-zero: $(tail -c 300 "$T/serve.err")"
grep -q "held: refused Runtime API requests from 127.0.0.1:" "$T/serve.err" && pass serve_runtime_api_refusal_logged ||
  fail serve_runtime_api_refusal_logged "no log line: $(tail -c 300 "$T/serve.err")"
exit 0
