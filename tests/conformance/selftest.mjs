// Proves compare.mjs can fail: it feeds it the SDK's own retry run dressed up as dwf output (which
// must pass), then copies of it with one defect each (a renamed operation, a wrong Attempt, a missing
// result key, reordered keys, a payload with a changed type, an extra operation) and checks that
// exactly the expected check fails. Given the SDK's fanout run too, it checks that it passes every
// fanout check (its branches ran one after another, which is no conformance failure: whether dwf's
// overlap is tests/e2e's barrier, not a clock here); given the edge run, that one changed byte in a
// payload fails the exact comparison. Prints PASS/FAIL lines like every suite.
//
//   node selftest.mjs SDK_RETRY_RUN.json WORKDIR [SDK_FANOUT_RUN.json|-] [SDK_EDGE_RUN.json]
import fs from "node:fs";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const [sdkFile, work, fanoutArg, edgeFile] = process.argv.slice(2);
const fanoutFile = fanoutArg === "-" ? undefined : fanoutArg;
const sdk = JSON.parse(fs.readFileSync(sdkFile, "utf8"));
const clone = (v) => JSON.parse(JSON.stringify(v));

function compare(ops, result, name = "retry", sdkPath = sdkFile, resultText = undefined) {
  const run = path.join(work, "self.run.json"), hist = path.join(work, "self.history.json");
  const ev = path.join(work, "self.events.json");
  fs.writeFileSync(run, JSON.stringify({ ExecutionArn: "self", Status: "SUCCEEDED", Result: result, Error: null }));
  fs.writeFileSync(hist, JSON.stringify({ Operations: [{ Id: "e", Type: "EXECUTION", Status: "SUCCEEDED" }, ...ops] }));
  fs.writeFileSync(ev, JSON.stringify({ Events: resultText === undefined ? [] : [{ EventType: "ExecutionSucceeded",
    ExecutionSucceededDetails: { Result: { Payload: resultText, Truncated: false } } }] }));
  const out = execFileSync("node", [path.join(here, "compare.mjs"), name, "--sdk", sdkPath,
    "--dwf-run", run, "--dwf-history", hist, "--dwf-events", ev, "--dwf-exit", "0"], { encoding: "utf8" });
  return new Set(out.split("\n").filter((l) => l.startsWith("FAIL")).map((l) => l.split(":")[0].split(".").pop()));
}

const cases = [
  ["identical", (o, r) => {}, []],
  ["renamed-op", (o) => { o[0].Name = "step1-validat"; }, ["operations"]],
  ["wrong-attempt", (o) => { o[1].StepDetails.Attempt = 1; }, ["operations", "attempt-2"]],
  ["missing-result-key", (o, r) => { delete r.step3.status; }, ["result-shape", "result-key-order"]],
  ["reordered-keys", (o, r) => { const s = r.step1; delete r.step1; r.step1 = s; }, ["result-key-order"]],
  ["payload-key-order", (o) => { o[0].StepDetails.Result = o[0].StepDetails.Result.replace(/^\{"status":("[^"]*"),"timestamp":(\d+)\}$/, '{"timestamp":$2,"status":$1}'); }, ["payload-key-order"]],
  ["payload-type", (o) => { o[2].StepDetails.Result = o[2].StepDetails.Result.replace(/"timestamp":(\d+)/, '"timestamp":"$1"'); }, ["payload-shapes"]],
  ["extra-op", (o) => { o.push({ Id: "ffffffffffffffff", Type: "STEP", SubType: "Step", Name: "x", Status: "SUCCEEDED" }); }, ["operations"]],
];

for (const [name, mutate, want] of cases) {
  const ops = clone(sdk.operations), result = clone(sdk.result);
  mutate(ops, result);
  let got;
  try {
    got = compare(ops, result);
  } catch (e) {
    console.log(`FAIL conformance.harness.${name}: compare.mjs crashed: ${e.message.split("\n")[0]}`);
    continue;
  }
  const ok = want.length === got.size && want.every((w) => got.has(w));
  console.log(ok ? `PASS conformance.harness.${name}`
    : `FAIL conformance.harness.${name}: expected failing checks [${want}], got [${[...got]}]`);
}

if (fanoutFile) {
  const fan = JSON.parse(fs.readFileSync(fanoutFile, "utf8"));
  let got;
  try {
    got = compare(fan.operations, fan.result, "fanout", fanoutFile);
    console.log(got.size === 0 ? "PASS conformance.harness.fanout-identical"
      : `FAIL conformance.harness.fanout-identical: expected no failing check, got [${[...got]}]`);
  } catch (e) {
    console.log(`FAIL conformance.harness.fanout-identical: compare.mjs crashed: ${e.message.split("\n")[0]}`);
  }
}

if (edgeFile) {
  const edge = JSON.parse(fs.readFileSync(edgeFile, "utf8"));
  const text = edge.invocations[edge.invocations.length - 1].response.Result;
  for (const [name, mutate, want] of [
    ["exact-identical", () => {}, []],
    ["exact-one-byte", (o) => { o[0].StepDetails.Result = o[0].StepDetails.Result.replace("0.30000000000000004", "0.3"); }, ["payloads-exact"]],
  ]) {
    const ops = clone(edge.operations);
    mutate(ops);
    try {
      const got = compare(ops, clone(edge.result), "edge", edgeFile, text);
      const ok = want.length === got.size && want.every((w) => got.has(w));
      console.log(ok ? `PASS conformance.harness.${name}`
        : `FAIL conformance.harness.${name}: expected failing checks [${want}], got [${[...got]}]`);
    } catch (e) {
      console.log(`FAIL conformance.harness.${name}: compare.mjs crashed: ${e.message.split("\n")[0]}`);
    }
  }
}
