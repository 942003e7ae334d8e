#!/usr/bin/env bash
# aws_call.sh: the CPU a signed `aws` call costs over a plain `http` call to the same local
# server (issue 11: at most 50 us). One step makes N calls in a loop, either
#   aws dynamodb.GetItem { TableName, Key }                       (built from the table, signed)
#   http POST <same server> headers {x-amz-target, content-type} body { TableName, Key }
# against one local node server that answers {} at once. The CPU of the `dwf run` process
# (user + system, its children included: /usr/bin/time) is measured at N=LO and N=HI calls; the
# per-call cost is the difference divided by HI-LO, so start-up, compiling the handler and the
# store cancel out. Each point is the least of RUNS runs (noise on a shared machine only adds).
# Beside it, the same two calls from Node: the official @aws-sdk/client-dynamodb GetItem (signed)
# and node's http.request POST, per call by the same difference (process.cpuUsage around LO and
# HI calls in one warmed-up process), so the JSON also says what the official SDK's signed call
# costs over a plain request (`sdk_*`; tests/aws/node's packages, make deps).
#   bash bench/aws_call.sh [LO] [HI] [RUNS]     (defaults 200 2200 5)
set -euo pipefail
cd "$(dirname "$0")/.."
LO=${1:-200} HI=${2:-2200} RUNS=${3:-5}
DWF=${DWF:-$PWD/build/dwf}
W=$(mktemp -d "${TMPDIR:-/tmp}/dwf-awsbench.XXXXXX")
SERVER_PID=
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; rm -rf "$W"' EXIT

node -e '
const http = require("http");
const s = http.createServer((req, res) => { req.resume(); req.on("end", () => {
  res.writeHead(200, { "content-type": "application/x-amz-json-1.0" }); res.end("{}"); }); });
s.keepAliveTimeout = 1000;
s.listen(0, "127.0.0.1", () => console.log(s.address().port));' >"$W/port" &
SERVER_PID=$!
for _ in $(seq 1 100); do [ -s "$W/port" ] && break; sleep 0.1; done
PORT=$(cat "$W/port")
URL=http://127.0.0.1:$PORT

cat >"$W/aws.dwf" <<'EOF'
workflow bench_aws {
  step calls {
    for i in range(input.n) {
      aws dynamodb.GetItem { TableName: "orders", Key: { id: { S: "o-1" } } }
    }
    return input.n
  }
  return calls
}
EOF
cat >"$W/http.dwf" <<'EOF'
workflow bench_http {
  step calls {
    for i in range(input.n) {
      http POST input.url
        headers { "content-type": "application/x-amz-json-1.0", "x-amz-target": "DynamoDB_20120810.GetItem" }
        body { TableName: "orders", Key: { id: { S: "o-1" } } }
    }
    return input.n
  }
  return calls
}
EOF

export AWS_ACCESS_KEY_ID=AKIDEXAMPLE AWS_SECRET_ACCESS_KEY=bench-secret AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_DYNAMODB=$URL
cpu_ms() { # WF N: least CPU (ms) of RUNS runs of WF making N calls
  local best=
  for _ in $(seq 1 "$RUNS"); do
    rm -f "$W/s.db"*
    /usr/bin/time -f "%U %S" -o "$W/t" "$DWF" run "$W/$1.dwf" --store "$W/s.db" --quiet \
      --input "{\"n\":$2,\"url\":\"$URL\"}" >"$W/out" 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
    grep -q "^$2\$" "$W/out" || { echo "bad result: $(cat "$W/out")" >&2; exit 1; }
    local ms
    ms=$(awk '{printf "%.0f", ($1 + $2) * 1000}' "$W/t")
    if [ -z "$best" ] || [ "$ms" -lt "$best" ]; then best=$ms; fi
  done
  echo "$best"
}
"$DWF" run "$W/aws.dwf" --store "$W/warm.db" --quiet --input '{"n":1}' >/dev/null  # compile caches
"$DWF" run "$W/http.dwf" --store "$W/warm.db" --quiet --input "{\"n\":1,\"url\":\"$URL\"}" >/dev/null
a_lo=$(cpu_ms aws "$LO"); a_hi=$(cpu_ms aws "$HI")
h_lo=$(cpu_ms http "$LO"); h_hi=$(cpu_ms http "$HI")
# the official SDK and plain node http, in one process each: least CPU per call over RUNS rounds
sdk=$(AWS_SDK_JS_SUPPRESS_NODE_VERSION_WARNING=1 NODE_NO_WARNINGS=1 NODE_PATH=$PWD/tests/aws/node/node_modules node -e '
const http = require("http");
const { DynamoDBClient, GetItemCommand } = require("@aws-sdk/client-dynamodb");
const [url, lo, hi, runs] = [process.argv[1], +process.argv[2], +process.argv[3], +process.argv[4]];
const ddb = new DynamoDBClient({ endpoint: url });
const agent = new http.Agent({ keepAlive: true });
const body = JSON.stringify({ TableName: "orders", Key: { id: { S: "o-1" } } });
const viaSdk = () => ddb.send(new GetItemCommand({ TableName: "orders", Key: { id: { S: "o-1" } } }));
const viaHttp = () => new Promise((resolve, reject) => {
  const r = http.request(url, { method: "POST", agent, headers: { "content-type": "application/x-amz-json-1.0",
    "x-amz-target": "DynamoDB_20120810.GetItem", "content-length": Buffer.byteLength(body) } },
    (res) => { res.resume(); res.on("end", resolve); });
  r.on("error", reject); r.end(body);
});
const cpu = async (f, n) => { const t = process.cpuUsage(); for (let i = 0; i < n; i++) await f();
  const d = process.cpuUsage(t); return (d.user + d.system) / 1000; };
(async () => {
  const out = {};
  for (const [name, f] of [["sdk", viaSdk], ["node_http", viaHttp]]) {
    await cpu(f, lo); // warm-up: JIT, connections
    let best = Infinity;
    for (let r = 0; r < runs; r++) best = Math.min(best, (await cpu(f, hi) - await cpu(f, lo)) * 1000 / (hi - lo));
    out[name] = best;
  }
  console.log(`${out.sdk.toFixed(1)} ${out.node_http.toFixed(1)}`);
})().catch((e) => { console.error(e); process.exit(1); });' "$URL" "$LO" "$HI" "$RUNS")
awk -v alo="$a_lo" -v ahi="$a_hi" -v hlo="$h_lo" -v hhi="$h_hi" -v n=$((HI - LO)) -v sdk="$sdk" 'BEGIN {
  a = (ahi - alo) * 1000 / n; h = (hhi - hlo) * 1000 / n; split(sdk, s, " ");
  printf "{\"calls\": %d, \"aws_us_per_call\": %.1f, \"http_us_per_call\": %.1f, \"aws_over_http_us\": %.1f, ", n, a, h, a - h
  printf "\"sdk_us_per_call\": %.1f, \"sdk_node_http_us_per_call\": %.1f, \"sdk_over_http_us\": %.1f}\n", s[1], s[2], s[1] - s[2] }'
