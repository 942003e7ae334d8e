// Runs one of the seed's four functions (tests/conformance/seed/<name>.mjs) on the official SDK's
// LocalDurableTestRunner and writes everything a reimplementation has to match as one JSON document:
// the handler result, every operation record (getOperationData(): the Operation shape of
// GetDurableExecutionState), each invocation's event and response, and every checkpoint call
// (its Updates in order, so batching is visible).
//
// Why it is shaped so: the runner hides its checkpoint transport, but it hands the handler an event
// carrying that transport (event.durableExecutionClient), so wrapping the handler is enough to see
// every CheckpointDurableExecution request without patching the package. Each run needs a fresh
// process: the retry seed counts attempts in a module-level variable, exactly as the article does.
//
//   node --import ./tests/node/register.mjs tests/conformance/sdk_run.mjs NAME [--out FILE]
//        [--normalize] [--input JSON]
// --normalize replaces timestamps, callback ids, ARNs and tokens by placeholders (the recorded
// fixtures in expected/ are written that way so they are stable); without it values are raw.
// Timers are real (skipTime false): under skipTime Date.now() is frozen and the fanout seed's
// busy-wait never ends, and the 10 s wait took 10 s even with skipTime here anyway.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

const DEFAULT_INPUT = {
  order: { orderId: "ORD-001" },
  retry: { orderId: "ORD-RETRY-001" },
  approval: { orderId: "ORD-CALLBACK-001" },
  fanout: {},
  edge: {},
  wfc: {},
  names: {},
  failing: {},
  timeout: {},
};
// How each case must end on the SDK (and on dwf).
export const EXPECTED_STATUS = { failing: "FAILED" };
// The cases that wait on a callback, and the name of the operation whose callback to complete.
const CALLBACK_OP = { approval: "approval", wfc: "manager-approval" };
// Seed functions live in seed/, the cases beyond the seed in extra/.
const seedPath = (name) => path.join(here, name in SEED ? "seed" : "extra", `${name}.mjs`);
const SEED = { order: 1, retry: 1, approval: 1, fanout: 1 };
// The callback result exactly as the article sends it with the AWS CLI (`--result '...'`): the
// handler receives these bytes as a raw string, so dwf is given the very same text.
export const APPROVAL_TEXT = '{"approved": true, "approver": "manager@example.com"}';

function parseArgs(argv) {
  const a = { name: null, out: null, normalize: false, input: null };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    if (s === "--out") a.out = argv[++i];
    else if (s === "--normalize") a.normalize = true;
    else if (s === "--input") a.input = JSON.parse(argv[++i]);
    else if (!a.name) a.name = s;
    else throw new Error(`unexpected argument '${s}'`);
  }
  if (!a.name || !(a.name in DEFAULT_INPUT))
    throw new Error(`usage: sdk_run.mjs order|retry|approval|fanout|edge|wfc|names|failing|timeout [--out FILE] [--normalize] [--input JSON]`);
  return a;
}

// JSON round trip turns Date objects into ISO strings and drops undefined fields, which is what a
// client of GetDurableExecutionState would see.
const plain = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

export async function runSeed(name, input) {
  const { LocalDurableTestRunner, WaitingOperationStatus } =
    await import("@aws/durable-execution-sdk-js-testing");
  const seed = await import(pathToFileURL(seedPath(name)).href);

  const t0 = Date.now();
  const rel = () => Date.now() - t0;
  const invocations = [];
  const checkpoints = [];
  let callNo = 0;
  let lastState = null;

  const wrapped = async (event, lambdaCtx) => {
    const inv = {
      index: invocations.length,
      atMs: rel(),
      eventOperations: (event?.InitialExecutionState?.Operations ?? []).map((o) => ({
        Id: o.Id, Type: o.Type, Status: o.Status, Name: o.Name,
      })),
    };
    invocations.push(inv);
    const client = event?.durableExecutionClient;
    if (client && typeof client.checkpoint === "function") {
      const orig = client.checkpoint.bind(client);
      client.checkpoint = async (params) => {
        const rec = {
          call: callNo++,
          invocation: inv.index,
          atMs: rel(),
          updates: plain(params.Updates ?? []),
        };
        checkpoints.push(rec);
        const resp = await orig(params);
        rec.returnedOperations = (resp?.NewExecutionState?.Operations ?? []).map((o) => ({
          Id: o.Id, Type: o.Type, Status: o.Status,
        }));
        return resp;
      };
    }
    const resp = await seed.handler(event, lambdaCtx);
    inv.response = plain(resp);
    // What GetDurableExecutionState returns at the end of this invocation: the EXECUTION operation
    // included, unlike getOperations(). Kept for the last invocation only.
    if (client && typeof client.getExecutionState === "function") {
      try {
        const st = await client.getExecutionState({
          DurableExecutionArn: event.DurableExecutionArn, CheckpointToken: event.CheckpointToken,
        });
        lastState = plain(st);
      } catch (e) {
        lastState = { error: String(e?.message ?? e) };
      }
    }
    inv.endMs = rel();
    return resp;
  };

  await LocalDurableTestRunner.setupTestEnvironment({ skipTime: false });
  let execution, callbackResult = null;
  try {
    const runner = new LocalDurableTestRunner({ handlerFunction: wrapped });
    const running = runner.run({ payload: input });
    if (name in CALLBACK_OP) {
      // Approve the way the article's human does: after the callback id was handed out
      // (notify-approver done) and the invocation has suspended (returned PENDING). Sending at
      // once would race the first invocation and make the invocation count vary.
      // For waitForCallback, SUBMITTED = its submitter step is done; for a plain callback the
      // notify-approver step is what hands the id out.
      const op = runner.getOperation(CALLBACK_OP[name]);
      if (name === "approval") {
        await op.waitForData(WaitingOperationStatus.STARTED);
        await runner.getOperation("notify-approver").waitForData(WaitingOperationStatus.COMPLETED);
      } else {
        await op.waitForData(WaitingOperationStatus.SUBMITTED);
      }
      while (!invocations.some((i) => i.response?.Status === "PENDING"))
        await new Promise((r) => setTimeout(r, 10));
      callbackResult = APPROVAL_TEXT;
      await op.sendCallbackSuccess(callbackResult);
    }
    execution = await running;
  } finally {
    await LocalDurableTestRunner.teardownTestEnvironment();
  }
  const elapsedMs = rel();

  // getResult() throws the execution's error when it did not succeed.
  const result = execution.getStatus() === "SUCCEEDED" ? execution.getResult() : undefined;
  const ops = execution.getOperations().map((o) => plain(o.getOperationData()));
  const history = plain(execution.getHistoryEvents());
  return {
    name,
    sdk: {
      "durable-execution-sdk-js": pkgVersion("@aws/durable-execution-sdk-js"),
      "durable-execution-sdk-js-testing": pkgVersion("@aws/durable-execution-sdk-js-testing"),
      node: process.version,
    },
    input,
    callbackResultSent: callbackResult,
    status: execution.getStatus(),
    result: plain(result),
    error: plain(execution.getStatus() === "SUCCEEDED" ? undefined : execution.getError()),
    elapsedMs,
    operations: ops,
    invocationCount: invocations.length,
    runnerInvocations: plain(execution.getInvocations()),
    invocations,
    checkpoints,
    stateAtLastInvocationEnd: lastState,
    historyEventTypes: history.map((e) => [e.EventType, e.Name ?? null]),
  };
}

function pkgVersion(pkg) {
  const dir = path.join(here, "..", "node", "node_modules", ...pkg.split("/"));
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).version;
  } catch {
    return null;
  }
}

// Placeholders for values that change from run to run. Strings known to be volatile (callback ids,
// ARNs, tokens, request ids) are replaced wherever they appear, including inside payload strings;
// fields named *Timestamp and ISO dates become "<timestamp>"; epoch-millisecond numbers inside
// payloads (the seed's Date.now() values) become "<ms>" in strings and the string "<ms>" as values.
export function normalize(doc) {
  const volatile = new Map();
  const note = (s, tag) => { if (typeof s === "string" && s.length > 0 && !volatile.has(s)) volatile.set(s, tag); };
  for (const o of doc.operations ?? []) note(o.CallbackDetails?.CallbackId, "<callbackId>");
  const walkNote = (v, key) => {
    if (Array.isArray(v)) v.forEach((x) => walkNote(x, key));
    else if (v && typeof v === "object") {
      if (v.Type === "EXECUTION") note(v.Id, "<executionOpId>");
      for (const [k, x] of Object.entries(v)) walkNote(x, k);
    }
    else if (typeof v === "string") {
      if (key === "DurableExecutionArn" || key === "executionArn") note(v, "<arn>");
      if (key === "CheckpointToken") note(v, "<token>");
      if (key === "requestId" || key === "RequestId") note(v, "<requestId>");
      if (key === "CallbackId") note(v, "<callbackId>");
    }
  };
  walkNote(doc);
  const iso = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g;
  const ms = /\b1[5-9]\d{11}\b/g;
  const fixString = (s) => {
    for (const [v, tag] of [...volatile].sort((a, b) => b[0].length - a[0].length))
      s = s.split(v).join(tag);
    return s.replace(iso, "<timestamp>").replace(ms, "<ms>");
  };
  const walk = (v, key) => {
    if (Array.isArray(v)) return v.map((x) => walk(x, key));
    if (v && typeof v === "object") {
      const o = {};
      for (const [k, x] of Object.entries(v)) o[k] = walk(x, k);
      return o;
    }
    if (typeof v === "string") return /Timestamp$/.test(key ?? "") ? "<timestamp>" : fixString(v);
    if (typeof v === "number") {
      if (/Timestamp$/.test(key ?? "") || (Number.isInteger(v) && v > 1.5e12 && v < 2e12)) return "<ms>";
      if (/^(atMs|endMs|elapsedMs|duration)$/.test(key ?? "")) return "<elapsed>";
      // The default retry strategy draws the delay with FULL jitter: an integer in 1..5 s.
      if (key === "NextAttemptDelaySeconds") return "<jittered delay s>";
    }
    return v;
  };
  const out = walk(doc);
  delete out.sdk.node;
  return out;
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const doc = await runSeed(a.name, a.input ?? DEFAULT_INPUT[a.name]);
  const text = JSON.stringify(a.normalize ? normalize(doc) : doc, null, 2) + "\n";
  if (a.out) fs.writeFileSync(a.out, text);
  else process.stdout.write(text);
  if (doc.status !== (EXPECTED_STATUS[a.name] ?? "SUCCEEDED")) {
    process.stderr.write(`sdk_run: ${a.name} ended ${doc.status}\n`);
    process.exitCode = 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    process.stderr.write(`sdk_run: ${e?.stack ?? e}\n`);
    process.exit(1);
  });
}
