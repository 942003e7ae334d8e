// bench/throughput/drive.mjs: drives a durable function on `dwf serve` with the official AWS SDK
// for JavaScript (@aws-sdk/client-lambda, from tests/node), as a user's load test would.
//
//   node bench/throughput/drive.mjs ENDPOINT FUNCTION N event|sync [RUN_ID]
//
// event: N asynchronous Invokes (InvocationType Event, each with its own DurableExecutionName),
//   at most 64 in flight; then it waits until no execution of the function is RUNNING and reads
//   every execution back with ListDurableExecutionsByFunction. Figures: executions per second
//   (N / (last EndTimestamp - first Invoke sent)), p50/p99 from an Invoke being sent to its
//   execution's EndTimestamp, and how long sending took.
// sync: N RequestResponse Invokes all sent at once (spread over four loopback source addresses,
//   127.0.0.2-5, so that serve's per-client connection limit of 512 does not answer 429), and the
//   wall time until every one has answered; each answer's result is checked.
//
// Every execution must have SUCCEEDED with the result its input determines; anything else is
// printed and the exit status is 1 (no figures for a wrong run). Prints one JSON line.
import { createRequire } from "node:module";
import http from "node:http";
const require = createRequire(new URL("../../tests/node/package.json", import.meta.url));
const { LambdaClient, InvokeCommand, ListDurableExecutionsByFunctionCommand } = require("@aws-sdk/client-lambda");
const { NodeHttpHandler } = require("@smithy/node-http-handler");

const [endpoint, fn, nArg, mode, runArg] = process.argv.slice(2);
const N = Number(nArg);
const run = runArg ?? String(Date.now());
if (!endpoint || !fn || !(N > 0) || !["event", "sync"].includes(mode)) {
  console.error("usage: drive.mjs ENDPOINT FUNCTION N event|sync [RUN_ID]");
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

async function eventMode() {
  const c = client(undefined, 64);
  const sent = new Map();
  const t0 = Date.now();
  let next = 0;
  async function sender() {
    while (next < N) {
      const i = next++;
      const name = `tp-${run}-${i}`;
      const at = Date.now();
      const r = await c.send(new InvokeCommand({
        FunctionName: `${fn}:$LATEST`, InvocationType: "Event", DurableExecutionName: name,
        Payload: enc.encode(JSON.stringify({ id: name })),
      }));
      if (r.StatusCode !== 202) die(`Invoke ${name}: StatusCode ${r.StatusCode}`);
      sent.set(name, at);
    }
  }
  await Promise.all(Array.from({ length: 64 }, sender));
  const sendMs = Date.now() - t0;
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
  return {
    executions: N, send_ms: sendMs, observed_done_ms: doneMs, span_ms: span,
    executions_per_s: Math.round((N * 1000) / span), p50_ms: pct(lat, 50), p99_ms: pct(lat, 99),
  };
}

async function syncMode() {
  const addrs = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"];
  const clients = addrs.map((a) => client(a, Math.ceil(N / addrs.length)));
  const t0 = Date.now();
  const lat = [];
  await Promise.all(Array.from({ length: N }, async (_, i) => {
    const name = `tps-${run}-${i}`;
    const at = Date.now();
    const r = await clients[i % clients.length].send(new InvokeCommand({
      FunctionName: `${fn}:$LATEST`, InvocationType: "RequestResponse", DurableExecutionName: name,
      Payload: enc.encode(JSON.stringify({ id: name })),
    }));
    const body = r.Payload ? JSON.parse(dec.decode(r.Payload)) : null;
    if (r.StatusCode !== 200 || r.FunctionError || body?.id !== name || body?.c?.confirmed !== true) {
      die(`Invoke ${name}: StatusCode ${r.StatusCode} ${r.FunctionError ?? ""} ${JSON.stringify(body)}`);
    }
    lat.push(Date.now() - at);
  }));
  const wall = Date.now() - t0;
  return { invokes: N, wall_ms: wall, p50_ms: pct(lat, 50), p99_ms: pct(lat, 99) };
}

const res = mode === "event" ? await eventMode() : await syncMode();
console.log(JSON.stringify({ function: fn, mode, ...res }));
