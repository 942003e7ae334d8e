// Compares one dwf run of a seed workflow with a fresh run of the same function on the official SDK
// and prints one "PASS <name>" / "FAIL <name>: <why>" line per property (tests/run.sh counts them).
//
// What must agree, per operation matched by Id: ParentId, Name, Type, SubType, Status and
// StepDetails.Attempt. The handler results and every operation's payload (step / context / callback
// Result) must have the same shape: same keys, same JSON types, recursively, array lengths included;
// values such as timestamps may differ. Key order is reported on its own line, because a payload with
// the same keys in another order is still a different byte string on the wire. The fresh SDK run is
// also checked against the recorded fixture in expected/, so a drift of the SDK itself shows up as
// its own failure instead of as a dwf failure.
//
// dwf's outputs are read as the CLI specifies them (cli/cli.h, docs/engine.md): `dwf run --json`
// prints {"ExecutionArn","Status","Result","Error"} with Result parsed; `dwf history ARN --json`
// prints operations in the Operation shape of GetDurableExecutionState (a bare array or
// {"Operations":[...]} are both accepted); `--events` prints {"Events":[...]} as
// GetDurableExecutionHistory does. The EXECUTION operation is left out of the comparison: the SDK's
// runner does not list it.
//
//   node compare.mjs NAME --sdk FILE --dwf-run FILE --dwf-history FILE [--dwf-events FILE]
//        [--dwf-exit N] [--dwf-stderr FILE] [--elapsed-ms N] [--fixture FILE] [--callback-text TEXT]
import fs from "node:fs";
import { normalize, EXPECTED_STATUS } from "./sdk_run.mjs";

const lines = [];
const pass = (t) => lines.push(`PASS conformance.${NAME}.${t}`);
const fail = (t, why) => lines.push(`FAIL conformance.${NAME}.${t}: ${why}`);
const check = (t, ok, why) => (ok ? pass(t) : fail(t, why));

const args = {};
const argv = process.argv.slice(2);
const NAME = argv.shift();
for (let i = 0; i < argv.length; i += 2) args[argv[i].replace(/^--/, "")] = argv[i + 1];

function readJson(file, what) {
  if (!file) return { err: `no ${what} given` };
  let text;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    return { err: `cannot read ${what}: ${e.message}` };
  }
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    const head = text.trim().split("\n").slice(0, 2).join(" | ").slice(0, 160);
    return { err: `${what} is not JSON (${e.message}): ${head || "<empty>"}` };
  }
}

// ---- shapes -------------------------------------------------------------------------------
const typeOf = (v) => (v === null ? "null" : Array.isArray(v) ? "array" : typeof v);

// First difference in shape between a (SDK) and b (dwf), or null. Keys compared as sets.
function shapeDiff(a, b, path = "$") {
  const ta = typeOf(a), tb = typeOf(b);
  if (ta !== tb) return `${path}: SDK has ${ta}, dwf has ${tb}`;
  if (ta === "array") {
    if (a.length !== b.length) return `${path}: SDK has ${a.length} elements, dwf has ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = shapeDiff(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
  } else if (ta === "object") {
    const ka = Object.keys(a), kb = Object.keys(b);
    const missing = ka.filter((k) => !(k in b)), extra = kb.filter((k) => !(k in a));
    if (missing.length) return `${path}: dwf lacks key(s) ${missing.map((k) => `'${k}'`).join(", ")}`;
    if (extra.length) return `${path}: dwf has extra key(s) ${extra.map((k) => `'${k}'`).join(", ")}`;
    for (const k of ka) {
      const d = shapeDiff(a[k], b[k], `${path}.${k}`);
      if (d) return d;
    }
  }
  return null;
}

function keyOrderDiff(a, b, path = "$") {
  if (typeOf(a) === "array" && typeOf(b) === "array") {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      const d = keyOrderDiff(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
  } else if (typeOf(a) === "object" && typeOf(b) === "object") {
    const ka = Object.keys(a).join(","), kb = Object.keys(b).join(",");
    if (ka !== kb) return `${path}: SDK order {${ka}}, dwf order {${kb}}`;
    for (const k of Object.keys(a)) {
      const d = keyOrderDiff(a[k], b[k], `${path}.${k}`);
      if (d) return d;
    }
  }
  return null;
}

const tryParse = (s) => {
  if (typeof s !== "string") return { ok: false };
  try {
    return { ok: true, value: JSON.parse(s) };
  } catch {
    return { ok: false };
  }
};

// ---- operations ---------------------------------------------------------------------------
function operationsOf(history) {
  const list = Array.isArray(history) ? history : history?.Operations ?? history?.operations;
  if (!Array.isArray(list)) return null;
  return list.filter((o) => o && o.Type !== "EXECUTION");
}

const FIELDS = ["ParentId", "Name", "Type", "SubType", "Status"];
const attempt = (o) => o?.StepDetails?.Attempt;
const label = (o) => `${o.Id}${o.Name ? ` (${o.Name})` : ` (${o.Type}/${o.SubType})`}`;

function payloadOf(o) {
  return o?.StepDetails?.Result ?? o?.ContextDetails?.Result ?? o?.CallbackDetails?.Result;
}

function msOf(ts) {
  if (typeof ts === "number") return ts > 1e11 ? ts : ts * 1000; // epoch ms or epoch seconds
  if (typeof ts === "string") {
    const t = Date.parse(ts);
    return Number.isNaN(t) ? null : t;
  }
  return null;
}

// Wall span of a set of operations and the sum of their own durations: they overlapped in time
// exactly when the durations add up to more than the span they cover together.
function overlapStats(ops) {
  const iv = ops.map((o) => [msOf(o.StartTimestamp), msOf(o.EndTimestamp)]);
  if (iv.some(([s, e]) => s === null || e === null)) return null;
  const span = Math.max(...iv.map((x) => x[1])) - Math.min(...iv.map((x) => x[0]));
  const sum = iv.reduce((acc, [s, e]) => acc + (e - s), 0);
  return { span, sum, intervals: iv.map(([s, e]) => [s - iv[0][0], e - iv[0][0]]) };
}

// ---- main ---------------------------------------------------------------------------------
// Most cases succeed; a case in EXPECTED_STATUS must end that way on both sides, and then its
// execution error is compared instead of its result.
const EXPECT = EXPECTED_STATUS[NAME] ?? "SUCCEEDED";
const sdkR = readJson(args.sdk, "SDK run output");
const sdk = sdkR.value;
check("sdk-run", sdk && sdk.status === EXPECT,
  sdkR.err ?? `SDK execution ended ${sdk?.status}: ${JSON.stringify(sdk?.error)}`);

if (sdk && args.fixture) {
  const fx = readJson(args.fixture, "fixture");
  if (fx.err) fail("sdk-matches-fixture", fx.err);
  else {
    const pick = (d) => ({
      operations: d.operations,
      result: d.result,
      invocationCount: d.invocationCount,
      checkpoints: d.checkpoints.map((c) => c.updates),
    });
    const a = JSON.stringify(pick(normalize(sdk))), b = JSON.stringify(pick(fx.value));
    let at = 0;
    while (at < a.length && a[at] === b[at]) at++;
    check("sdk-matches-fixture", a === b,
      `fresh SDK run differs from ${args.fixture} near: ${a.slice(Math.max(0, at - 60), at + 60)}`);
  }
}

const runR = readJson(args["dwf-run"], "`dwf run --json` output");
const histR = readJson(args["dwf-history"], "`dwf history --json` output");
const dwfExit = args["dwf-exit"] === undefined ? null : Number(args["dwf-exit"]);
const run = runR.value;

// The final result: from the ExecutionSucceeded event of `dwf history --events` when there is one
// (exact JSON text: `dwf run --json` may print numbers rounded), else from `dwf run --json` (a
// detached run has no result there until `dwf resume` finished it).
let dwfStatus = run?.Status, dwfResult = run?.Result, resultSource = "dwf run --json", dwfResultText, dwfEventError;
if (args["dwf-events"]) {
  const evR = readJson(args["dwf-events"], "`dwf history --events --json` output");
  const events = Array.isArray(evR.value) ? evR.value : evR.value?.Events;
  const done = Array.isArray(events) && events.find((e) => e.EventType === "ExecutionSucceeded");
  const failed = Array.isArray(events) && events.find((e) => /^Execution(Failed|TimedOut|Stopped)$/.test(e.EventType));
  if (done) {
    dwfStatus = "SUCCEEDED";
    dwfResultText = done.ExecutionSucceededDetails?.Result?.Payload;
    const parsed = tryParse(dwfResultText);
    dwfResult = parsed.ok ? parsed.value : dwfResultText;
    resultSource = "ExecutionSucceeded event";
  } else if (failed) {
    dwfStatus = { ExecutionFailed: "FAILED", ExecutionTimedOut: "TIMED_OUT", ExecutionStopped: "STOPPED" }[failed.EventType];
    dwfEventError = failed[`${failed.EventType}Details`]?.Error?.Payload;
  }
  else if (dwfStatus === "RUNNING") dwfStatus = evR.err ?? "RUNNING (no terminal event in history)";
}
if (typeof dwfResult === "string") {
  // The CLI promises a parsed Result; accept JSON text too, but say so if it is not even JSON.
  const p = tryParse(dwfResult);
  if (p.ok) dwfResult = p.value;
}

let dwfStderr = "";
try {
  if (args["dwf-stderr"]) {
    // The workflow's own log lines go to stderr too; show dwf's complaints, else the last line.
    const all = fs.readFileSync(args["dwf-stderr"], "utf8").trim().split("\n").filter(Boolean);
    const told = all.filter((l) => /^dwf:|error/i.test(l) && !l.startsWith("{"));
    dwfStderr = (told.length ? told : all.slice(-1)).slice(0, 3).join(" | ");
  }
} catch { /* no stderr file: nothing to add */ }
const wantExit = EXPECT === "SUCCEEDED" ? 0 : 1;
check("dwf-run", !runR.err && dwfStatus === EXPECT && (dwfExit === null || dwfExit === wantExit),
  (runR.err ?? `dwf ended ${dwfStatus} (exit ${dwfExit}) ${run?.Error ? JSON.stringify(run.Error) : ""}`.trim()) +
  (dwfStderr ? `; stderr: ${dwfStderr.slice(0, 300)}` : ""));

const sdkOps = sdk?.operations ?? [];
const dwfOps = histR.err ? null : operationsOf(histR.value);
if (!dwfOps) {
  fail("operations", histR.err ?? "`dwf history --json` holds no operation list");
} else if (!sdk) {
  fail("operations", "no SDK run to compare with");
} else {
  const byId = new Map(dwfOps.map((o) => [o.Id, o]));
  const diffs = [];
  for (const s of sdkOps) {
    const d = byId.get(s.Id);
    if (!d) {
      diffs.push(`missing ${label(s)}`);
      continue;
    }
    for (const f of FIELDS)
      if (s[f] !== d[f]) diffs.push(`${label(s)} ${f}: SDK ${JSON.stringify(s[f])}, dwf ${JSON.stringify(d[f])}`);
    if (attempt(s) !== attempt(d))
      diffs.push(`${label(s)} StepDetails.Attempt: SDK ${attempt(s)}, dwf ${attempt(d)}`);
  }
  const sdkIds = new Set(sdkOps.map((o) => o.Id));
  for (const d of dwfOps) if (!sdkIds.has(d.Id)) diffs.push(`extra ${label(d)}`);
  // List order is informational: GetDurableExecutionState orders by start, and a replay looks
  // operations up by Id, so a different order of concurrent starts is not a wire difference.
  const nm = (o) => o.Name ?? o.SubType;
  const so = sdkOps.map(nm).join(","), dor = dwfOps.map(nm).join(",");
  if (so !== dor) lines.push(`# operation list order differs: SDK [${so}] dwf [${dor}]`);
  check("operations", diffs.length === 0,
    `${diffs.length} difference(s) over ${sdkOps.length} SDK / ${dwfOps.length} dwf operations: ${diffs.slice(0, 4).join("; ")}`);

  // Payload shapes, operation by operation (only where both sides have the operation).
  const pdiffs = [];
  for (const s of sdkOps) {
    const d = byId.get(s.Id);
    if (!d) continue;
    const ps = payloadOf(s), pd = payloadOf(d);
    if (ps === undefined && pd === undefined) continue;
    if (typeof ps !== typeof pd) {
      pdiffs.push(`${label(s)}: SDK payload ${typeOf(ps)}, dwf ${typeOf(pd)}`);
      continue;
    }
    const js = tryParse(ps), jd = tryParse(pd);
    if (js.ok !== jd.ok) pdiffs.push(`${label(s)}: SDK payload ${js.ok ? "is" : "is not"} JSON, dwf's ${jd.ok ? "is" : "is not"}`);
    else if (js.ok) {
      const sd = shapeDiff(js.value, jd.value);
      if (sd) pdiffs.push(`${label(s)} ${sd}`);
    }
  }
  check("payload-shapes", pdiffs.length === 0, pdiffs.slice(0, 3).join("; "));

  // Same keys in the same order: a payload is JSON text, so the order is part of the bytes
  // (e.g. a map's {"all":[{"result","index","status"}],"completionReason"}).
  const odiffs = [];
  for (const s of sdkOps) {
    const js = tryParse(payloadOf(s)), jd = tryParse(payloadOf(byId.get(s.Id)));
    if (!js.ok || !jd.ok || shapeDiff(js.value, jd.value)) continue; // reported above
    const ko = keyOrderDiff(js.value, jd.value);
    if (ko) odiffs.push(`${label(s)} ${ko}`);
  }
  check("payload-key-order", odiffs.length === 0, odiffs.slice(0, 3).join("; "));
}

if (EXPECT !== "SUCCEEDED") {
  // The execution's error: the SDK handler's response Error against `dwf run --json`'s Error and
  // the Execution<Failed> event's Error payload.
  const sdkErr = sdk?.invocations?.[sdk.invocations.length - 1]?.response?.Error;
  const pick = (e) => (e ? JSON.stringify({ ErrorType: e.ErrorType, ErrorMessage: e.ErrorMessage, ErrorData: e.ErrorData }) : "none");
  check("execution-error", sdkErr && pick(sdkErr) === pick(run?.Error) && pick(sdkErr) === pick(dwfEventError),
    `SDK ${pick(sdkErr)}, dwf run --json ${pick(run?.Error)}, dwf history event ${pick(dwfEventError)}`);
} else if (sdk && dwfStatus === "SUCCEEDED") {
  const sd = shapeDiff(sdk.result, dwfResult);
  check("result-shape", !sd, `${sd} (dwf result from ${resultSource}: ${JSON.stringify(dwfResult)?.slice(0, 200)})`);
  const ko = sd ? "shapes differ" : keyOrderDiff(sdk.result, dwfResult);
  check("result-key-order", !ko, ko);
} else {
  fail("result-shape", "no successful dwf result to compare");
}

// ---- exact payloads (cases whose payloads hold no clock values) -----------------------------
// Where two texts part: "at char N: SDK …abc… dwf …abd…" (40 characters of context each side).
function textDiff(a, b) {
  if (typeof a !== "string" || typeof b !== "string") return `SDK ${JSON.stringify(a)}, dwf ${JSON.stringify(b)}`;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  const cut = (t) => JSON.stringify(t.slice(Math.max(0, i - 40), i + 40));
  return `differ at char ${i}: SDK …${cut(a)}… dwf …${cut(b)}…`;
}
// Cases whose payloads hold no clock values: every payload, every error and the result text must be
// identical, not just alike.
const EXACT = ["edge", "wfc", "names", "failing", "timeout"];
if (EXACT.includes(NAME) && dwfOps && sdk) {
  const byId = new Map(dwfOps.map((o) => [o.Id, o]));
  const errKey = (e) => (e ? JSON.stringify({ t: e.ErrorType, m: e.ErrorMessage, d: e.ErrorData }) : undefined);
  const diffs = [];
  for (const s of sdkOps) {
    const d = byId.get(s.Id);
    if (!d) continue; // reported by "operations"
    for (const det of ["StepDetails", "ContextDetails", "CallbackDetails"]) {
      const a = s[det]?.Result, b = d[det]?.Result;
      if (a !== b) diffs.push(`${label(s)} ${det}.Result ${textDiff(a, b)}`);
      if (errKey(s[det]?.Error) !== errKey(d[det]?.Error))
        diffs.push(`${label(s)} ${det}.Error: SDK ${JSON.stringify(s[det]?.Error)}, dwf ${JSON.stringify(d[det]?.Error)}`);
    }
  }
  check("payloads-exact", diffs.length === 0, `${diffs.length} difference(s): ${diffs.slice(0, 2).join("; ")}`);
  const sdkText = sdk.invocations?.[sdk.invocations.length - 1]?.response?.Result;
  if (EXPECT === "SUCCEEDED") check("result-exact", dwfResultText !== undefined && dwfResultText === sdkText,
    `execution result text: ${textDiff(sdkText, dwfResultText)}`);
}

// ---- per-function properties ---------------------------------------------------------------
const find = (ops, name) => (ops ?? []).find((o) => o.Name === name);
if (NAME === "order") {
  const ms = Number(args["elapsed-ms"]);
  check("waits-10s", ms >= 10000, `dwf run took ${ms} ms without --skip-time; the wait is 10 s`);
} else if (NAME === "retry") {
  const op = find(dwfOps, "step2-flaky-payment");
  check("attempt-2", attempt(op) === 2 && dwfResult?.step2?.attempt === 2,
    `step2-flaky-payment Attempt ${attempt(op)}, result step2.attempt ${JSON.stringify(dwfResult?.step2?.attempt)} (both must be 2)`);
} else if (NAME === "approval") {
  const text = args["callback-text"];
  const got = dwfResult?.result?.approvalData;
  check("raw-callback-result", got === text && sdk?.result?.result?.approvalData === text,
    `approvalData must be the raw text sent, ${JSON.stringify(text)}; dwf gave ${JSON.stringify(got)}, SDK ${JSON.stringify(sdk?.result?.result?.approvalData)}`);
} else if (NAME === "wfc") {
  const text = args["callback-text"];
  check("raw-callback-result", dwfResult?.decision === text && sdk?.result?.decision === text,
    `decision must be the raw text sent, ${JSON.stringify(text)}; dwf gave ${JSON.stringify(dwfResult?.decision)}, SDK ${JSON.stringify(sdk?.result?.decision)}`);
} else if (NAME === "fanout") {
  // The branches busy-wait 500, 300 and 400 ms and each returns Date.now()/now() when done. Run one
  // after another, in any order, the first and the last finish at least 300 + 400 = 700 ms apart;
  // run at the same time they finish about 100-200 ms apart. How far apart they finish depends on
  // the machine's load, so it is shown here for information, not checked: that dwf's branches run
  // at the same time is tests/e2e's parallel_branches_overlap (a barrier, no clock), and how long
  // fanout takes is bench/fanout.sh's. The finish times inside the step results are used rather
  // than the operations' Start/EndTimestamps, because both the SDK and dwf stamp those when a
  // checkpoint batch arrives, not when the step body ran.
  const names = ["check-inventory", "check-fraud", "check-credit"];
  const finishSpan = (res) => {
    const ts = (res?.parallel?.results ?? []).map((r) => r?.timestamp);
    return ts.length === 3 && ts.every((t) => typeof t === "number") ? Math.max(...ts) - Math.min(...ts) : null;
  };
  const sdkSpan = finishSpan(sdk?.result), dwfSpan = finishSpan(dwfResult);
  lines.push(`# SDK: the three branch steps finished within ${sdkSpan} ms (one JS thread: one after another)`);
  const ops = names.map((n) => find(dwfOps, n));
  const st = ops.every(Boolean) ? overlapStats(ops) : null;
  if (st) lines.push(`# dwf: branch step operations [start,end] ms ${JSON.stringify(st.intervals)} (checkpoint times)`);
  lines.push(`# dwf: the three branch steps finished within ${dwfSpan} ms (one after another: >= 700 ms)`);
}

process.stdout.write(lines.join("\n") + "\n");
