#!/usr/bin/env bash
# tests/deploy/serve_load.sh: `dwf serve` under heavy and hostile clients, and what it leaves
# behind (docs/security.md, "dwf serve").
#
#   - 300 RequestResponse invocations at once all complete, each with its own result (each
#     waiting call is woken by its own execution's end);
#   - 1000 half-sent requests from one client address (127.0.0.2) lock nobody else out: an
#     invocation from 127.0.0.1 meanwhile gets its result, a further request from 127.0.0.2 an
#     HTTP 429 TooManyRequestsException (an answer, not a reset), the half-sent connections are
#     closed once silent for --connection-timeout, and 127.0.0.2 is then served again;
#   - a long RequestResponse call (a real 4 s wait) outlives a 2 s silence timeout: a request
#     being answered is not silent;
#   - a request with 12 KB of headers is answered, one with 20 KB gets HTTP 431 (a connection's
#     memory, EMU_CONNECTION_MEMORY: 16 KiB);
#   - processes a function started and abandoned (a child in its own session, a daemon whose
#     parent exited) are ended when dwf serve stops;
#   - the working directory of a dwf serve killed with SIGKILL is removed by the next one to
#     start, while that of one still running is left alone.
#
# Prints "PASS name" / "FAIL name: why"; $DWF = the dwf binary to test.
set -u
cd "$(dirname "$0")/../.."
. tests/deploy/serve_lib.sh

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

if ! command -v python3 >/dev/null; then fail serve_load "python3 is not installed"; exit 0; fi
T=$(mktemp -d "${TMPDIR:-/tmp}/dwf-serve-load.XXXXXX")
PIDS=()
cleanup() {
  serve_stop >/dev/null 2>&1
  for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
export TMPDIR=$T/tmp
mkdir -p "$TMPDIR"

mkdir -p "$T/dbl"
cat >"$T/dbl/dbl.dwf" <<'DWF'
workflow dbl {
  durable { retention = 1d  timeout = 600s }
  lambda  { name = "dwf-load-double"  memory = 128  timeout = 30s }
  step d "double" {
    return { n: input.n, doubled: (input.n ?? 0) * 2 }
  }
  return d
}
DWF
sed -e 's/dwf-load-double/dwf-load-slow/' -e 's/^  step d/  wait 4s\n  step d/' "$T/dbl/dbl.dwf" >"$T/dbl/slow.dwf"
for w in dbl slow; do
  "$DWF" build "$T/dbl/$w.dwf" -o "$T/dbl/$w/function.zip" >"$T/dbl/$w.log" 2>&1 ||
    { fail serve_load_build "dwf build $w.dwf failed: $(tail -c 400 "$T/dbl/$w.log")"; exit 0; }
done

# A runtime that leaves two processes behind at its first start: a child in a session of its
# own, and a daemon (double fork) whose parent exits at once. Their pids go to $LEFT.
mkdir -p "$T/leaver"
cat >"$T/leaver/bootstrap" <<'PY'
#!/usr/bin/env python3
import json, os, urllib.request
api = os.environ["AWS_LAMBDA_RUNTIME_API"]
child = os.fork()
if child == 0:
    os.setsid()
    os.execvp("sleep", ["sleep", "600"])
r, w = os.pipe()
parent = os.fork()
if parent == 0:
    daemon = os.fork()
    if daemon == 0:
        os.setsid()
        os.execvp("sleep", ["sleep", "601"])
    os.write(w, str(daemon).encode())
    os._exit(0)
os.waitpid(parent, 0)
daemon = int(os.read(r, 32))
open(os.environ["LEFT"], "w").write("%d %d" % (child, daemon))
while True:
    with urllib.request.urlopen("http://%s/2018-06-01/runtime/invocation/next" % api) as resp:
        rid = resp.headers["Lambda-Runtime-Aws-Request-Id"]
    body = json.dumps({"Status": "SUCCEEDED", "Result": "{}"}).encode()
    urllib.request.urlopen(urllib.request.Request("http://%s/2018-06-01/runtime/invocation/%s/response" % (api, rid),
                                                  data=body, method="POST")).read()
PY
chmod 755 "$T/leaver/bootstrap"

if ! serve_start "$T/serve" --store "$T/store.db" --connection-timeout 2 \
     "$T/dbl/dbl/function.zip" "$T/dbl/slow/function.zip" --function "leaver=$T/leaver" --env "LEFT=$T/left"; then
  fail serve_load_start "dwf serve did not start: $(tail -c 600 "$T/serve.err")"; exit 0
fi

# A connection's memory (emu.h, EMU_CONNECTION_MEMORY: 16 KiB) holds a request's headers up to
# about 14 KB: 12 KB of them are answered, 20 KB get HTTP 431 (an answer, not a reset), and the
# next request is answered again.
pad_headers() { local i; for i in $(seq "$1"); do printf -- '-H
X-Pad-%d: %01000d
' "$i" 0; done; }
hdr_code() { local a; mapfile -t a < <(pad_headers "$1"); curl -s -o "$T/hdr.body" -w '%{http_code}' --max-time 30 "${a[@]}" \
  "http://127.0.0.1:$SERVE_PORT/2015-03-31/functions"; }
c12=$(hdr_code 12); c20=$(hdr_code 20); c0=$(hdr_code 0)
[ "$c12" = 200 ] && [ "$c20" = 431 ] && [ "$c0" = 200 ] && pass serve_load_header_limit ||
  fail serve_load_header_limit "12 KB of headers: $c12, 20 KB: $c20, none: $c0 (want 200, 431, 200)"

python3 - "$SERVE_PORT" "$T" <<'EOF'
import concurrent.futures, http.client, json, os, resource, socket, sys, time
port, T = int(sys.argv[1]), sys.argv[2]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192, hard))

def out(ok, name, why=""):
    print(("PASS " + name) if ok else ("FAIL %s: %s" % (name, str(why)[:400])))

def invoke(fn, payload, source="127.0.0.1", itype="RequestResponse"):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=300, source_address=(source, 0))
        c.request("POST", "/2015-03-31/functions/%s:%%24LATEST/invocations" % fn, json.dumps(payload),
                  {"X-Amz-Invocation-Type": itype})
        r = c.getresponse()
        b, et = r.read(), r.getheader("X-Amzn-ErrorType")
        c.close()
        try: b = json.loads(b) if b else None
        except ValueError: pass
        return r.status, et, b
    except Exception as e:
        return None, None, repr(e)

# 300 RequestResponse calls at once, each with its own payload.
N = 300
with concurrent.futures.ThreadPoolExecutor(N) as pool:
    res = list(pool.map(lambda n: invoke("dwf-load-double", {"n": n}), range(N)))
bad = [(n, r) for n, r in enumerate(res) if r[0] != 200 or r[2] != {"n": n, "doubled": 2 * n}]
out(not bad, "serve_load_300_concurrent_sync_invokes", "%d wrong, first: %r" % (len(bad), bad[:2]))

# A call that waits 4 s for its execution, longer than the 2 s silence timeout.
st, et, b = invoke("dwf-load-slow", {"n": 21})
out(st == 200 and b == {"n": 21, "doubled": 42}, "serve_load_long_call_outlives_silence_timeout", "%s %s %r" % (st, et, b))

# 1000 half-sent requests from 127.0.0.2.
flood = []
try:
    for _ in range(1000):
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", port))
        s.sendall(b"POST /2015-03-31/functions/dwf-load-double:%24LATEST/invocations HTTP/1.1\r\nHost: x\r\nX-Pad: ")
        flood.append(s)
except OSError as e:
    out(False, "serve_load_flood_connects", "after %d connections: %r" % (len(flood), e))
# While the two checks below run, a thread sends one more byte of a header value on every flood
# connection twice a second: activity restarts the 2 s silence timeout, so the flood is still all
# open when the checks run, however long a sanitized serve on a loaded machine takes to accept
# the thousand connections (one thread each) and to run the first invocation.
import threading
stop_trickle = threading.Event()
def trickle():
    while not stop_trickle.wait(0.5):
        for s in flood:
            try: s.sendall(b"a")
            except OSError: pass
trickler = threading.Thread(target=trickle)
trickler.start()
st, et, b = invoke("dwf-load-double", {"n": 1000})
out(st == 200 and b == {"n": 1000, "doubled": 2000}, "serve_load_flood_does_not_lock_others_out", "%s %s %r" % (st, et, b))
st, et, b = invoke("dwf-load-double", {"n": 1001}, source="127.0.0.2")
out(st == 429 and et == "TooManyRequestsException", "serve_load_flooding_client_gets_429", "%s %s %r" % (st, et, b))
stop_trickle.set()
trickler.join()
# The server closes the silent ones (a read returns end of file or a reset), within a guard.
import selectors
sel, closed, end = selectors.DefaultSelector(), 0, time.time() + 120
for s in flood: sel.register(s, selectors.EVENT_READ)
while closed < len(flood) and time.time() < end:
    for key, _ in sel.select(timeout=1):
        try: gone = key.fileobj.recv(1) == b""
        except OSError: gone = True
        if gone:
            closed += 1
            sel.unregister(key.fileobj)
for s in flood: s.close()
out(closed == len(flood), "serve_load_half_sent_closed_when_silent", "%d of %d closed" % (closed, len(flood)))
st, et, b = None, None, None
for _ in range(1200):  # the server may still be counting the last ones out
    st, et, b = invoke("dwf-load-double", {"n": 1002}, source="127.0.0.2")
    if st != 429: break
    time.sleep(0.1)
out(st == 200 and b == {"n": 1002, "doubled": 2004}, "serve_load_flooding_client_served_again", "%s %s %r" % (st, et, b))

st, et, b = invoke("leaver", {})
left = open(os.path.join(T, "left")).read().split() if os.path.exists(os.path.join(T, "left")) else []
out(st == 200 and len(left) == 2, "serve_load_leaver_ran", "%s %r, left %r" % (st, b, left))
EOF

# What the leaver left must be gone once dwf serve has stopped.
serve_stop || fail serve_load_clean_exit "dwf serve exited non-zero: $(tail -c 300 "$T/serve.err")"
alive=""
for p in $(cat "$T/left" 2>/dev/null); do
  if kill -0 "$p" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$p/status" 2>/dev/null; then alive="$alive $p"; PIDS+=("$p"); fi
done
[ -s "$T/left" ] && [ -z "$alive" ] && pass serve_load_abandoned_processes_ended ||
  fail serve_load_abandoned_processes_ended "still running:$alive ($(cat "$T/left" 2>/dev/null))"

# A dwf serve killed with SIGKILL leaves its working directory; the next start removes it, and
# leaves that of a dwf serve still running.
root_of() { sed -n 's/.*task root \([^,]*\),.*/\1/p' "$1.out" | head -1; }
if serve_start "$T/killed" --store "$T/k1.db" "$T/dbl/dbl/function.zip"; then
  killed_root=$(root_of "$T/killed"); kill -KILL "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null; SERVE_PID=""
  if serve_start "$T/alive" --store "$T/k2.db" "$T/dbl/dbl/function.zip"; then
    alive_pid=$SERVE_PID alive_root=$(root_of "$T/alive")
    SERVE_PID=""
    if serve_start "$T/next" --store "$T/k3.db" "$T/dbl/dbl/function.zip"; then
      [ -n "$killed_root" ] && [ ! -e "$killed_root" ] && [ ! -e "$(dirname "$killed_root").lock" ] &&
        pass serve_load_killed_workdir_removed || fail serve_load_killed_workdir_removed "$killed_root is still there"
      [ -d "$alive_root" ] && [ -x "$alive_root/bootstrap" ] && pass serve_load_live_workdir_kept ||
        fail serve_load_live_workdir_kept "$alive_root was removed"
      serve_stop
    else
      fail serve_load_killed_workdir_removed "dwf serve did not start: $(tail -c 300 "$T/next.err")"
    fi
    SERVE_PID=$alive_pid; serve_stop
    [ ! -e "$alive_root" ] && pass serve_load_workdir_removed_at_stop || fail serve_load_workdir_removed_at_stop "$alive_root"
  else
    fail serve_load_killed_workdir_removed "dwf serve did not start: $(tail -c 300 "$T/alive.err")"
  fi
else
  fail serve_load_killed_workdir_removed "dwf serve did not start: $(tail -c 300 "$T/killed.err")"
fi
exit 0
