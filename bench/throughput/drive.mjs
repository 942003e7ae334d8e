// bench/throughput/drive.mjs: drives a durable function on `dwf serve` with the official AWS SDK
// for JavaScript (@aws-sdk/client-lambda, from tests/node), as a user's load test would.
//
//   node bench/throughput/drive.mjs ENDPOINT FUNCTION N event|sync [RUN_ID] [CLIENTS]
//
// The invokes are sent by CLIENTS processes (default 2; each its own LambdaClient and
// keep-alive http agent), each taking every CLIENTS-th invoke: one official client process
// signs and sends only ~500 invokes/s on this machine, so one process would bound the figure.
// Each client is configured as a load test would: no retries (maxAttempts 1: a failure is a
// failed run), and cacheMiddleware (a documented LambdaClient option): the client resolves its
// middleware stack once per command class instead of on every send (resolveMiddleware was 6%
// of a client's CPU in node --cpu-prof; client CPU per invoke 2.38 -> 1.93 ms, Event 1,000,
// 3 runs each, load ~4). Nothing else is removed or replaced: every invoke is still
// serialized, signed (SigV4), sent and parsed by the official SDK, user agent included.
// Where a client's CPU went before (node --cpu-prof of one client process, Event 1,000):
// Node's http client and socket writes 23%, SigV4 signing 9%, GC 6%, response parsing 5%,
// endpoint resolution 2%, the user agent 1.5%, the rest the SDK's promise chain per
// middleware. Module load and JIT warm-up come before the timed window (CPU is counted from
// "go"), and the first 100 invokes cost no more than later ones, so a warm-up adds nothing.
//
// event: N asynchronous Invokes (InvocationType Event, each with its own DurableExecutionName),
//   at most 64 in flight in all; then it waits until no execution of the function is RUNNING and
//   reads every execution back with ListDurableExecutionsByFunction. Figures: executions per
//   second (N / (last EndTimestamp - first Invoke sent)), p50/p99 from an Invoke being sent to its
//   execution's EndTimestamp, how long sending took and the send rate (send_per_s: what the
//   client could offer), the clients' CPU time, and how long the last execution ended after the
//   last Invoke was answered (tail_ms: serve catching up).
// sync: N RequestResponse Invokes all sent at once (spread over four loopback source addresses,
//   127.0.0.2-5, so that serve's per-client connection limit of 512 does not answer 429), and the
//   wall time until every one has answered; each answer's result is checked.
//
// Every execution must have SUCCEEDED with the result its input determines; anything else is
// printed and the exit status is 1 (no figures for a wrong run). Prints one JSON line.
import { createRequire } from "node:module";
import http from "node:http";
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
const require = createRequire(new URL("../../tests/node/package.json", import.meta.url));
const { LambdaClient, InvokeCommand, ListDurableExecutionsByFunctionCommand } = require("@aws-sdk/client-lambda");
const { NodeHttpHandler } = require("@smithy/node-http-handler");

const worker = process.argv[2] === "--worker";
const [endpoint, fn, nArg, mode, runArg, clientsArg] = process.argv.slice(worker ? 3 : 2);
const N = Number(nArg);
const run = runArg ?? String(Date.now());
const CLIENTS = Number(clientsArg ?? 2);
if (!endpoint || !fn || !(N > 0) || !["event", "sync"].includes(mode) || !(CLIENTS >= 1)) {
  console.error("usage: drive.mjs ENDPOINT FUNCTION N event|sync [RUN_ID] [CLIENTS]");
  process.exit(2);
}
const enc = new TextEncoder();
const dec = new TextDecoder();
const die = (msg) => { console.error(`drive: ${msg}`); process.exit(1); };

function client(localAddress, sockets) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets, localAddress });
  return new LambdaClient({
    endpoint,
    region: process.env.AWS_REGION ?? "us-east-1",
    credentials: { accessKeyId: "bench", secretAccessKey: "bench" },
    maxAttempts: 1,
    cacheMiddleware: true,
    requestHandler: new NodeHttpHandler({ httpAgent: agent, requestTimeout: 600000, connectionTimeout: 60000 }),
  });
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function listAll(c, statuses) {
  const all = [];
  let Marker;
  do {
    const page = await c.send(new ListDurableExecutionsByFunctionCommand({
      FunctionName: fn, Statuses: statuses, MaxItems: 1000, Marker,
    }));
    all.push(...(page.DurableExecutions ?? []));
    Marker = page.NextMarker;
  } while (Marker);
  return all;
}

// ---- a client process: its share of the invokes (every CLIENTS-th, from `slot`), on the
// parent's signal, then its figures back to the parent.
async function sendEvents(slot, inFlight) {
  const c = client(undefined, inFlight);
  const sent = [];
  const mine = [];
  for (let i = slot; i < N; i += CLIENTS) mine.push(i);
  let next = 0;
  async function sender() {
    while (next < mine.length) {
      const i = mine[next++];
      const name = `tp-${run}-${i}`;
      const at = Date.now();
      const r = await c.send(new InvokeCommand({
        FunctionName: `${fn}:$LATEST`, InvocationType: "Event", DurableExecutionName: name,
        Payload: enc.encode(JSON.stringify({ id: name })),
      }));
      if (r.StatusCode !== 202) die(`Invoke ${name}: StatusCode ${r.StatusCode}`);
      sent.push([name, at]);
    }
  }
  await Promise.all(Array.from({ length: inFlight }, sender));
  return { sent, last_answer: Date.now() };
}

async function sendSync(slot) {
  const addrs = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
  const share = Math.ceil(N / CLIENTS);
  const clients = addrs.map((a) => client(a, Math.ceil(share / addrs.length)));
  const lat = [];
  const mine = [];
  for (let i = slot; i < N; i += CLIENTS) mine.push(i);
  await Promise.all(mine.map(async (i, k) => {
    const name = `tps-${run}-${i}`;
    const at = Date.now();
    const r = await clients[k % clients.length].send(new InvokeCommand({
      FunctionName: `${fn}:$LATEST`, InvocationType: "RequestResponse", DurableExecutionName: name,
      Payload: enc.encode(JSON.stringify({ id: name })),
    }));
    const body = r.Payload ? JSON.parse(dec.decode(r.Payload)) : null;
    if (r.StatusCode !== 200 || r.FunctionError || body?.id !== name || body?.c?.confirmed !== true) {
      die(`Invoke ${name}: StatusCode ${r.StatusCode} ${r.FunctionError ?? ""} ${JSON.stringify(body)}`);
    }
    lat.push(Date.now() - at);
  }));
  return { lat, last_answer: Date.now() };
}

if (worker) {
  // Loaded and connected-ready: tell the parent, wait for "go", send, report.
  const slot = Number(process.env.DRIVE_SLOT);
  process.on("message", async (m) => {
    if (m !== "go") return;
    const cpu0 = process.cpuUsage();
    const res = mode === "event" ? await sendEvents(slot, Math.max(1, Math.round(64 / CLIENTS))) : await sendSync(slot);
    const cpu = process.cpuUsage(cpu0);
    process.send({ ...res, cpu_ms: (cpu.user + cpu.system) / 1000 }, () => process.exit(0));
  });
  process.send("ready");
} else {
  // ---- the parent: start the clients, release them together, gather their figures.
  const self = fileURLToPath(import.meta.url);
  const kids = Array.from({ length: CLIENTS }, (_, slot) =>
    fork(self, ["--worker", ...process.argv.slice(2)], { env: { ...process.env, DRIVE_SLOT: String(slot) } }));
  await Promise.all(kids.map((k) => new Promise((ok) => k.once("message", ok))));
  const results = kids.map((k) => new Promise((ok, bad) => {
    k.once("message", ok);
    k.once("exit", (code) => code && bad(new Error(`a client process exited ${code}`)));
  }));
  const t0 = Date.now();
  for (const k of kids) k.send("go");
  let parts;
  try {
    parts = await Promise.all(results);
  } catch (e) {
    die(e.message);
  }
  const lastAnswer = Math.max(...parts.map((p) => p.last_answer));
  const clientCpu = Math.round(parts.reduce((a, p) => a + p.cpu_ms, 0));
  let res;
  if (mode === "event") {
    const sent = new Map(parts.flatMap((p) => p.sent));
    const sendMs = lastAnswer - t0;
    const c = client(undefined, 4);
    for (;;) {
      const page = await c.send(new ListDurableExecutionsByFunctionCommand({
        FunctionName: fn, Statuses: ["RUNNING"], MaxItems: 1,
      }));
      if (!(page.DurableExecutions ?? []).length) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const doneMs = Date.now() - t0;
    const mine = (await listAll(c)).filter((e) => sent.has(e.DurableExecutionName));
    const bad = mine.filter((e) => e.Status !== "SUCCEEDED");
    if (mine.length !== N || bad.length) {
      die(`${mine.length} of ${N} executions listed, ${bad.length} not SUCCEEDED: ${JSON.stringify(bad.slice(0, 3))}`);
    }
    const lat = mine.map((e) => new Date(e.EndTimestamp).getTime() - sent.get(e.DurableExecutionName));
    const lastEnd = Math.max(...mine.map((e) => new Date(e.EndTimestamp).getTime()));
    const span = Math.max(1, lastEnd - t0);
    res = {
      executions: N, clients: CLIENTS, send_ms: sendMs, send_per_s: Math.round((N * 1000) / Math.max(1, sendMs)),
      client_cpu_ms: clientCpu, observed_done_ms: doneMs, span_ms: span, tail_ms: lastEnd - lastAnswer,
      executions_per_s: Math.round((N * 1000) / span), p50_ms: pct(lat, 50), p99_ms: pct(lat, 99),
    };
  } else {
    const lat = parts.flatMap((p) => p.lat);
    res = { invokes: N, clients: CLIENTS, wall_ms: lastAnswer - t0, client_cpu_ms: clientCpu,
            p50_ms: pct(lat, 50), p99_ms: pct(lat, 99) };
  }
  console.log(JSON.stringify({ function: fn, mode, ...res }));
}
