#!/usr/bin/env bash
# tests/deploy/serve_scale.sh: execution environments of `dwf serve` (issue 13 item 1) with the
# official @aws-sdk/client-lambda (serve_scale.mjs: LIMIT concurrent synchronous invokes in LIMIT
# processes, 429 over the limit, Event invokes queued and finished), the function's reserved
# concurrency from template.yaml taking precedence over --concurrency, and an idle environment
# stopped after --idle-timeout. Also: under the default concurrency (1000) with --environments 2,
# RequestResponse invokes beyond the environments are queued, not refused; a plain function's
# RequestResponse invoke over its --reserved 1 is refused 429 (its Event invoke queued and run);
# --reserved 0 refuses every synchronous invoke before an execution starts.
# Prints "PASS name" / "FAIL name: why" lines.
set -u
cd "$(dirname "$0")/../.."
. tests/deploy/serve_lib.sh
T=$(mktemp -d /tmp/dwf-scale.XXXXXX)
trap 'serve_stop >/dev/null 2>&1; rm -rf "$T"' EXIT
if [ ! -d tests/node/node_modules/@aws-sdk/client-lambda ]; then
  echo "FAIL scale_setup: tests/node/node_modules is missing (make deps)"; exit 0
fi
mkdir -p "$T/started"
# The official client's half (serve_scale.mjs) against the serve started last: LIMIT [MODE].
client() {
  node tests/deploy/serve_scale.mjs "http://127.0.0.1:$SERVE_PORT" scale-test "$1" "$T/gate" "$T/started" ${2:-} \
    2>"$T/node.err" || echo "FAIL scale_client: node exited $?: $(tail -c 300 "$T/node.err")"
}
cat >"$T/pidgate.c" <<'C'
/* pid_at_gate(started_dir, gate): mark started_dir, wait for the gate file (at most 300 s), then
 * return this process's pid: which environment ran the step. */
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include "dwf.h"
cJSON *pid_at_gate(dwf_ctx *c, int argc, cJSON *const *argv)
{
    if (argc != 2 || !cJSON_IsString(argv[0]) || !cJSON_IsString(argv[1])) {
        dwf_fail(c, "TypeError", "pid_at_gate(dir, gate)");
        return NULL;
    }
    char mark[4096];
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    snprintf(mark, sizeof mark, "%s/%d.%ld", argv[0]->valuestring, (int)getpid(), now.tv_nsec);
    FILE *f = fopen(mark, "w");
    if (f) fclose(f);
    for (int i = 0; i < 30000 && access(argv[1]->valuestring, F_OK) != 0; i++) {
        struct timespec ms = {0, 10000000};
        nanosleep(&ms, NULL);
    }
    return cJSON_CreateNumber(getpid());
}
C
cat >"$T/scale.dwf" <<DWF
use "pidgate.c"
workflow scale_test {
  lambda { name = "scale-test"  timeout = 300s }
  step p "pid" { return call pid_at_gate("$T/started", "$T/gate") }
  return { p }
}
DWF
if ! "$DWF" build "$T/scale.dwf" -o "$T/out/function.zip" >"$T/build.log" 2>&1; then
  echo "FAIL scale_setup: dwf build: $(tail -c 300 "$T/build.log")"; exit 0
fi

# ---- the account's limit: 3 environments ----
if serve_start "$T/s1" --store "$T/s1.db" --concurrency 3 "$T/out/function.zip"; then
  client 3
  serve_stop >/dev/null 2>&1
  # At stop serve says what group commit did: every execution's checkpoints were committed, in
  # transactions each holding one call or more, made durable by fsyncs each covering one
  # transaction or more (the average within the largest).
  python3 - "$T/s1.err" "$T/s1.db" <<'PY'
import re, sqlite3, sys
err = open(sys.argv[1]).read()
m = re.search(r"^dwf serve: store: (\d+) calls committed in (\d+) transactions, (\d+) fsyncs, "
              r"([\d.]+) calls per fsync \(largest group (\d+)\)$", err, re.M)
n = sqlite3.connect(sys.argv[2]).execute("SELECT COUNT(*) FROM executions WHERE status='SUCCEEDED'").fetchone()[0]
if m:
    c, t, f, x, g = int(m[1]), int(m[2]), int(m[3]), float(m[4]), int(m[5])
    ok = n > 0 and c >= 3 * n and 1 <= f <= t <= c and 1 <= x <= g <= c
else:
    ok = False
print("PASS scale_group_commit_stats_at_stop" if ok else
      "FAIL scale_group_commit_stats_at_stop: %s executions; %s" % (n, (m and m[0]) or err[-300:]))
PY
else
  echo "FAIL scale_setup: serve did not start: $(tail -c 300 "$T/s1.err")"
fi

# ---- reserved concurrency in template.yaml (2) under an account limit of 8 ----
rm -f "$T/gate" "$T/started"/*
echo "  ReservedConcurrentExecutions: 2" >>"$T/out/template.yaml"
if serve_start "$T/s2" --store "$T/s2.db" --concurrency 8 "$T/out/function.zip"; then
  client 2 | sed 's/^\(PASS\|FAIL\) scale_/\1 scale_reserved_/'
  serve_stop >/dev/null 2>&1
else
  echo "FAIL scale_setup: serve did not start: $(tail -c 300 "$T/s2.err")"
fi

# ---- an idle environment is stopped after --idle-timeout ----
rm -f "$T/started"/*
touch "$T/gate"
if serve_start "$T/s3" --store "$T/s3.db" --idle-timeout 1 "$T/out/function.zip"; then
  curl -s -o "$T/r3" -X POST "http://127.0.0.1:$SERVE_PORT/2015-03-31/functions/scale-test:\$LATEST/invocations" -d '{}'
  pid=$(sed -n 's/.*"p":\([0-9]*\).*/\1/p' "$T/r3")
  gone() { [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; }
  for _ in $(seq 3000); do gone && break; sleep 0.1; done
  if gone && grep -q "environment 0 (pid $pid) idle for" "$T/s3.err"; then echo "PASS scale_idle_environment_stopped"
  else echo "FAIL scale_idle_environment_stopped: pid '$pid' $(tail -c 300 "$T/s3.err")"; fi
  serve_stop >/dev/null 2>&1
else
  echo "FAIL scale_setup: serve did not start: $(tail -c 300 "$T/s3.err")"
fi

# ---- --environments 2 under the default concurrency: invocations wait for an environment ----
rm -f "$T/gate" "$T/started"/*
sed -i '/ReservedConcurrentExecutions/d' "$T/out/template.yaml"
if serve_start "$T/s4" --store "$T/s4.db" --environments 2 "$T/out/function.zip"; then
  client 2 queue
  if grep -q "throttled" "$T/s4.err"; then
    echo "FAIL scale_queue_nothing_throttled: $(grep throttled "$T/s4.err" | head -1)"
  else echo "PASS scale_queue_nothing_throttled"; fi
  serve_stop >/dev/null 2>&1
else
  echo "FAIL scale_setup: serve did not start: $(tail -c 300 "$T/s4.err")"
fi

# ---- a plain function (a Runtime API loop in Python) with --reserved 1; a durable one with 0 ----
rm -f "$T/gate" "$T/started"/*
mkdir -p "$T/plain"
cat >"$T/plain/bootstrap" <<'PY'
#!/usr/bin/env python3
import json, os, time, urllib.request
api, started, gate = os.environ["AWS_LAMBDA_RUNTIME_API"], os.environ["STARTED"], os.environ["GATE"]
base = "http://%s/2018-06-01/runtime/invocation/" % api
while True:
    with urllib.request.urlopen(base + "next") as r:
        rid, event = r.headers["Lambda-Runtime-Aws-Request-Id"], json.loads(r.read())
    open(os.path.join(started, "%d.%s" % (os.getpid(), event.get("i"))), "w").close()
    for _ in range(30000):
        if os.path.exists(gate): break
        time.sleep(0.01)
    body = json.dumps({"p": os.getpid(), "i": event.get("i")}).encode()
    urllib.request.urlopen(urllib.request.Request(base + rid + "/response", data=body, method="POST")).read()
PY
chmod 755 "$T/plain/bootstrap"
if serve_start "$T/s5" --store "$T/s5.db" --function "scale-plain=$T/plain" --no-durable --reserved 1 \
     --env "STARTED=$T/started" --env "GATE=$T/gate" "$T/out/function.zip" --name scale-closed --reserved 0; then
  python3 - "$SERVE_PORT" "$T" <<'PY'
import concurrent.futures, http.client, json, os, sys, time
port, T = int(sys.argv[1]), sys.argv[2]
def out(ok, name, why=""): print(("PASS " + name) if ok else ("FAIL %s: %s" % (name, str(why)[:400])))
def invoke(fn, payload, itype="RequestResponse"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    c.request("POST", "/2015-03-31/functions/%s/invocations" % fn, json.dumps(payload),
              {"X-Amz-Invocation-Type": itype})
    r = c.getresponse()
    b, et = r.read(), r.getheader("X-Amzn-ErrorType")
    c.close()
    return r.status, et, json.loads(b) if b else None
def until(cond):  # no bound on speed: 300 s only ends a wait a broken serve never ends
    for _ in range(3000):
        if cond(): return True
        time.sleep(0.1)
    return False
started = os.path.join(T, "started")
first = concurrent.futures.ThreadPoolExecutor(1).submit(invoke, "scale-plain", {"i": 0})
out(until(lambda: len(os.listdir(started)) >= 1), "scale_plain_first_inside", os.listdir(started))
st, et, b = invoke("scale-plain", {"i": 1})
out(st == 429 and et == "TooManyRequestsException" and b.get("message") == "Rate Exceeded." and
    b.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded",
    "scale_plain_sync_over_reserved_429", "%s %s %r" % (st, et, b))
st, et, b = invoke("scale-plain", {"i": 2}, "Event")
out(st == 202, "scale_plain_event_over_reserved_accepted", "%s %s %r" % (st, et, b))
open(os.path.join(T, "gate"), "w").close()
st, et, b = first.result()
out(st == 200 and b.get("i") == 0, "scale_plain_first_answered", "%s %s %r" % (st, et, b))
out(until(lambda: any(n.endswith(".2") for n in os.listdir(started))), "scale_plain_event_ran", os.listdir(started))
out(not any(n.endswith(".1") for n in os.listdir(started)), "scale_plain_throttled_never_ran", os.listdir(started))
st, et, b = invoke("scale-closed:$LATEST", {})
out(st == 429 and et == "TooManyRequestsException" and
    b.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded",
    "scale_reserved_zero_sync_429", "%s %s %r" % (st, et, b))
c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
c.request("GET", "/2025-12-01/functions/scale-closed/durable-executions")
r = c.getresponse()
xs = json.loads(r.read()).get("DurableExecutions")
out(r.status == 200 and xs == [], "scale_reserved_zero_nothing_started", "%s %r" % (r.status, xs))
PY
  serve_stop >/dev/null 2>&1
else
  echo "FAIL scale_setup: serve did not start: $(tail -c 300 "$T/s5.err")"
fi
