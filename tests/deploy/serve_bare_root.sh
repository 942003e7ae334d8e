#!/usr/bin/env bash
# tests/deploy/serve_bare_root.sh: the four examples' zips, each unpacked at /var/task of a root
# that holds nothing else but a static busybox, run chrooted by `dwf serve` as Lambda would run
# them, and driven through the emulator's Invoke and durable REST APIs.
#
# bare_root.sh proves one zip starts in an empty root against a scripted peer; this one proves
# the real conversation in that root: every checkpoint, wait, retry, parallel branch and
# callback of the examples goes from the chrooted bootstrap to the emulator's durable API and
# back. Each function is served as a function directory started through chroot:
#   --function NAME=ROOT/var/task --command "chroot ROOT /var/task/bootstrap" --env LAMBDA_TASK_ROOT=/var/task
# order / retry / fanout are invoked synchronously and must answer their results; approval is
# invoked with Event and completed through SendDurableExecutionCallbackSuccess.
#
# Prints "PASS name" / "FAIL name: why" (and "SKIP name: why" when the machine cannot run it:
# not root, no chroot or no static busybox); $DWF = the dwf binary to test.
set -u
cd "$(dirname "$0")/../.."
. tests/deploy/serve_lib.sh
BUSYBOX=${BUSYBOX:-/bin/busybox}

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

CHROOT=$(command -v chroot)
if [ "$(id -u)" != 0 ] || [ -z "$CHROOT" ]; then echo "SKIP serve_bare_root: needs root and chroot"; exit 0; fi
if ! [ -x "$BUSYBOX" ] || readelf -l "$BUSYBOX" 2>/dev/null | grep -q 'program interpreter'; then
  echo "SKIP serve_bare_root: needs a static busybox at $BUSYBOX (apt-get install busybox-static)"; exit 0
fi
if ! command -v python3 >/dev/null; then fail serve_bare_root "python3 is not installed"; exit 0; fi

T=$(mktemp -d "${TMPDIR:-/tmp}/dwf-serve-bare.XXXXXX")
mounted=()
cleanup() {
  serve_stop >/dev/null 2>&1
  local m ok=1
  # Never rm -rf through a mounted /proc.
  for m in "${mounted[@]}"; do umount "$m" || ok=0; done
  if [ -n "${KEEP:-}" ]; then :; elif [ $ok = 1 ]; then rm -rf "$T"; else echo "serve_bare_root: could not unmount; left $T in place" >&2; fi
}
trap cleanup EXIT

if ! serve_zips order retry fanout approval; then
  fail serve_bare_root_build "dwf build failed: $(tail -c 400 "$ZIPS"/*/build.log)"; exit 0
fi

args=()
for ex in order retry fanout approval; do
  root="$T/$ex"
  mkdir -p "$root/bin" "$root/var/task" "$root/tmp"
  cp "$BUSYBOX" "$root/bin/busybox"
  ln -s busybox "$root/bin/sh"
  if ! unzip -q "$ZIPS/$ex/function.zip" -d "$root/var/task"; then fail serve_bare_root_unpack "unzip $ex failed"; exit 0; fi
  # A sanitizer build's program needs /proc (ASan reads /proc/self/maps); Lambda has one.
  if ls "$root"/var/task/lib/libasan.so.* >/dev/null 2>&1; then
    mkdir -p "$root/proc" && mount -t proc proc "$root/proc" && mounted+=("$root/proc")
  fi
  name=$(sed -n 's/^ *FunctionName: "\(.*\)"$/\1/p' "$ZIPS/$ex/template.yaml")
  args+=(--function "$name=$root/var/task" --command "$CHROOT $root /var/task/bootstrap"
         --env LAMBDA_TASK_ROOT=/var/task --timeout 30)
done
extra=$(cd "$T/order" && find . -mindepth 1 \( -path ./var/task -prune -o -path ./proc -prune -o -print \) |
        grep -v -x -e ./bin -e ./bin/busybox -e ./bin/sh -e ./var -e ./tmp -e ./proc)
if [ -n "$extra" ]; then fail serve_bare_root_unpack "unexpected files in the root: $extra"; exit 0; fi
pass serve_bare_root_unpack

if ! serve_start "$T/serve" --store "$T/store.db" --skip-time "${args[@]}"; then
  fail serve_bare_root_start "dwf serve did not start: $(tail -c 600 "$T/serve.err")"; exit 0
fi

python3 - "$SERVE_PORT" "$T/serve.err" <<'EOF'
import json, sys, time, urllib.parse, urllib.request, urllib.error
base = "http://127.0.0.1:%s" % sys.argv[1]
def log_tail():
    return open(sys.argv[2], errors="replace").read()[-500:].replace("\n", " | ")
def out(ok, name, why=""):
    print(("PASS " + name) if ok else ("FAIL %s: %s [dwf serve said: %s]" % (name, why, log_tail())))
def call(method, path, body=None, headers=None):
    req = urllib.request.Request(base + path, data=body.encode() if body is not None else None, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            b = r.read()
            return r.status, dict(r.headers), json.loads(b) if b else None
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
q = lambda s: urllib.parse.quote(s, safe="")
def invoke(fn, payload, itype="RequestResponse"):
    return call("POST", "/2015-03-31/functions/%s/invocations" % q(fn + ":$LATEST"), json.dumps(payload),
                {"X-Amz-Invocation-Type": itype})

st, h, b = invoke("durable-basic-test", {"orderId": "ORD-BARE"})
out(st == 200 and isinstance(b, dict) and b.get("orderId") == "ORD-BARE" and
    b["steps"]["confirmation"]["status"] == "confirmed", "serve_bare_root_order", "%s %r" % (st, b))
st, h, b = invoke("durable-retry-test", {})
out(st == 200 and isinstance(b, dict) and b.get("step2", {}).get("attempt") == 2, "serve_bare_root_retry", "%s %r" % (st, b))
st, h, b = invoke("durable-parallel-test", {})
out(st == 200 and isinstance(b, dict) and len(b.get("parallel", {}).get("results", [])) == 3 and
    len(b.get("map", {}).get("results", [])) == 3, "serve_bare_root_fanout", "%s %r" % (st, b))

st, h, b = invoke("durable-callback-test", {"orderId": "ORD-BARE-A"}, "Event")
arn = h.get("X-Amz-Durable-Execution-Arn", "")
cb, end = None, time.time() + 120
while arn and not cb and time.time() < end:
    _, _, hist = call("GET", "/2025-12-01/durable-executions/%s/history" % q(arn))
    evs = (hist or {}).get("Events", [])
    # once the invocation that created the callback has ended, as a human would answer
    if any(e["EventType"] == "InvocationCompleted" for e in evs):
        cb = next((e["CallbackStartedDetails"]["CallbackId"] for e in evs if e["EventType"] == "CallbackStarted"), None)
    if not cb: time.sleep(0.1)
ok = False
if cb:
    text = '{"approved": true, "approver": "bare@example.com"}'
    call("POST", "/2025-12-01/durable-execution-callbacks/%s/succeed" % q(cb), text)
    end = time.time() + 120
    while time.time() < end:
        _, _, x = call("GET", "/2025-12-01/durable-executions/%s" % q(arn))
        if x.get("Status") != "RUNNING": break
        time.sleep(0.1)
    res = json.loads(x.get("Result") or "null")
    ok = x.get("Status") == "SUCCEEDED" and res["result"]["approvalData"] == text
out(ok, "serve_bare_root_approval", "callback %r, execution %r" % (cb, locals().get("x")))
EOF
serve_stop || fail serve_bare_root_clean_exit "dwf serve exited non-zero: $(tail -c 300 "$T/serve.err")"
# The processes really ran chrooted: the emulator started chroot, not the bootstrap directly.
n=$(grep -c "started $CHROOT (pid" "$T/serve.err")
[ "$n" -ge 4 ] && pass serve_bare_root_chrooted || fail serve_bare_root_chrooted "$n chrooted starts logged: $(grep started "$T/serve.err" | head -4)"
exit 0
