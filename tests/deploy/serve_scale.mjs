// tests/deploy/serve_scale.mjs: `dwf serve` scaling a function out to several execution
// environments, driven by the official @aws-sdk/client-lambda as a load test would. The function
// (written by serve_scale.sh) blocks its one step until a gate file exists and returns the pid of
// the process that ran it, so what overlaps is decided by the test, never by a clock:
//   - LIMIT RequestResponse Invokes at once run in LIMIT environments (LIMIT distinct pids);
//   - while they hold every environment, one more is refused 429 TooManyRequestsException;
//   - Event Invokes over the limit wait in the queue and all finish once the gate opens.
// With MODE "queue" (the account's concurrency is not reached, but only LIMIT environments may
// run: --environments), 2 x LIMIT RequestResponse Invokes are all accepted, LIMIT of them run
// at once, and all end in at most LIMIT distinct processes, one invocation at a time each.
//   node tests/deploy/serve_scale.mjs http://127.0.0.1:PORT FUNCTION LIMIT GATE STARTED_DIR [MODE]
import { createRequire } from "node:module";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
const require = createRequire(new URL("../node/package.json", import.meta.url));
const { LambdaClient, InvokeCommand, GetDurableExecutionCommand } = require("@aws-sdk/client-lambda");

const [endpoint, fn, limitText, gate, startedDir, mode = "throttle"] = process.argv.slice(2);
const LIMIT = Number(limitText);
const out = (ok, name, why) => console.log(ok ? `PASS ${name}` : `FAIL ${name}: ${why}`);
const client = new LambdaClient({
  endpoint, region: "us-east-1", maxAttempts: 1,
  credentials: { accessKeyId: "AKIDLOCAL", secretAccessKey: "local" },
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const enc = new TextEncoder(), dec = new TextDecoder();
const invoke = (type, i) => client.send(new InvokeCommand({
  FunctionName: `${fn}:$LATEST`, InvocationType: type, Payload: enc.encode(JSON.stringify({ i })),
}));
// Poll until cond() (no bound on speed: 300 s only stops a wait a broken serve never ends).
async function until(cond) {
  for (let i = 0; i < 3000; i++) { if (await cond()) return true; await sleep(100); }
  return false;
}

if (mode === "queue") {
  const n = 2 * LIMIT;
  const calls = [];
  for (let i = 0; i < n; i++) calls.push(invoke("RequestResponse", i).then((a) => a, (e) => e));
  const inside = await until(() => readdirSync(startedDir).length >= LIMIT);
  out(inside, "scale_queue_limit_inside", `${readdirSync(startedDir).length} of ${LIMIT} steps inside the gate`);
  writeFileSync(gate, "open");
  const answers = await Promise.all(calls);
  const failed = answers.filter((a) => a instanceof Error || a.FunctionError || a.StatusCode !== 200);
  out(failed.length === 0, "scale_queue_all_accepted_and_answered",
    failed.map((a) => (a instanceof Error ? `${a.name} ${a.$metadata?.httpStatusCode}` : a.FunctionError)).join(","));
  const pids = answers.filter((a) => !(a instanceof Error)).map((a) => JSON.parse(dec.decode(a.Payload)).p);
  const marks = readdirSync(startedDir).length;
  out(new Set(pids).size <= LIMIT && pids.length === n && marks === n, "scale_queue_within_environments",
    `${new Set(pids).size} processes for ${pids.length} answers (${marks} steps run), at most ${LIMIT}`);
  process.exit(0);
}

// 1. LIMIT synchronous invokes at once: each step marks STARTED_DIR when it is inside the gate.
const syncs = [];
for (let i = 0; i < LIMIT; i++) syncs.push(invoke("RequestResponse", i));
const allInside = await until(() => readdirSync(startedDir).length >= LIMIT);
out(allInside, "scale_sync_all_inside_at_once", `${readdirSync(startedDir).length} of ${LIMIT} steps inside the gate`);

// 2. One more while every environment is busy: throttled, nothing started.
let throttled = null;
try { await invoke("RequestResponse", 99); } catch (e) { throttled = e; }
out(throttled && throttled.name === "TooManyRequestsException" && throttled.$metadata?.httpStatusCode === 429,
  "scale_sync_over_limit_429",
  throttled ? `${throttled.name} ${throttled.$metadata?.httpStatusCode}` : "it was accepted");

// 3. Event invokes over the limit are accepted (202) and queued.
const events = [];
for (let i = 0; i < 2 * LIMIT; i++) events.push(await invoke("Event", 100 + i));
out(events.every((r) => r.StatusCode === 202), "scale_event_over_limit_accepted",
  events.map((r) => r.StatusCode).join(","));

writeFileSync(gate, "open");
const answers = await Promise.all(syncs);
const pids = answers.map((a) => JSON.parse(dec.decode(a.Payload)).p);
out(new Set(pids).size === LIMIT && !answers.some((a) => a.FunctionError), "scale_sync_distinct_environments",
  `pids ${pids.join(",")}`);

// 4. Every queued Event execution finishes.
const arns = events.map((r) => r.DurableExecutionArn);
const done = await until(async () => {
  const xs = await Promise.all(arns.map((a) =>
    client.send(new GetDurableExecutionCommand({ DurableExecutionArn: a }))));
  return xs.every((x) => x.Status === "SUCCEEDED");
});
out(done && arns.length === 2 * LIMIT && arns.every(Boolean), "scale_event_queued_all_finished", `done=${done}`);
