#!/usr/bin/env bash
# tests/deploy/serve_scale.sh: execution environments of `dwf serve` (issue 13 item 1) with the
# official @aws-sdk/client-lambda (serve_scale.mjs: LIMIT concurrent synchronous invokes in LIMIT
# processes, 429 over the limit, Event invokes queued and finished), the function's reserved
# concurrency from template.yaml taking precedence over --concurrency, and an idle environment
# stopped after --idle-timeout. Prints "PASS name" / "FAIL name: why" lines.
set -u
cd "$(dirname "$0")/../.."
. tests/deploy/serve_lib.sh
T=$(mktemp -d /tmp/dwf-scale.XXXXXX)
trap 'serve_stop >/dev/null 2>&1; rm -rf "$T"' EXIT
if [ ! -d tests/node/node_modules/@aws-sdk/client-lambda ]; then
  echo "FAIL scale_setup: tests/node/node_modules is missing (make deps)"; exit 0
fi
mkdir -p "$T/started"
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
  node tests/deploy/serve_scale.mjs "http://127.0.0.1:$SERVE_PORT" scale-test 3 "$T/gate" "$T/started"
  serve_stop >/dev/null 2>&1
else
  echo "FAIL scale_setup: serve did not start: $(tail -c 300 "$T/s1.err")"
fi

# ---- reserved concurrency in template.yaml (2) under an account limit of 8 ----
rm -f "$T/gate" "$T/started"/*
echo "  ReservedConcurrentExecutions: 2" >>"$T/out/template.yaml"
if serve_start "$T/s2" --store "$T/s2.db" --concurrency 8 "$T/out/function.zip"; then
  node tests/deploy/serve_scale.mjs "http://127.0.0.1:$SERVE_PORT" scale-test 2 "$T/gate" "$T/started" |
    sed 's/^\(PASS\|FAIL\) scale_/\1 scale_reserved_/'
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
