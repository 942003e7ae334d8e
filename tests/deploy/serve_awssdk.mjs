// tests/deploy/serve_awssdk.mjs: the official AWS SDK for JavaScript v3 (@aws-sdk/client-lambda,
// from tests/node) with its endpoint set to `dwf serve`, doing what a user's script would with
// a deployed durable function: Invoke the approval example with a qualified name (Event),
// find it with ListDurableExecutionsByFunction, read the callback id from
// GetDurableExecutionHistory, complete it with SendDurableExecutionCallbackSuccess, and see it
// SUCCEEDED with GetDurableExecution. The client signs every request with SigV4 and the emulator
// runs with the same keys, so each call also proves the emulator accepts the official signer's
// signatures; a client with a wrong secret must be refused.
//
// Then the requests AWS refuses, refused as the client surfaces AWS's refusals (err.name,
// $metadata.httpStatusCode, err.message), each starting nothing: a payload that is not JSON, an
// Event payload over 256 KB (and one of exactly 256 KB accepted), a RequestResponse payload over
// 6 MB, MaxItems out of range, listing an unknown function. And history without execution data
// carries no Input, Result or Error object, while with it the result is there.
//
//   node tests/deploy/serve_awssdk.mjs http://127.0.0.1:PORT ACCESS_KEY SECRET_KEY
// Prints "PASS name" / "FAIL name: why" lines.
import { createRequire } from "node:module";
const require = createRequire(new URL("../node/package.json", import.meta.url));
const {
  LambdaClient,
  InvokeCommand,
  ListDurableExecutionsByFunctionCommand,
  GetDurableExecutionCommand,
  GetDurableExecutionHistoryCommand,
  GetDurableExecutionStateCommand,
  SendDurableExecutionCallbackSuccessCommand,
} = require("@aws-sdk/client-lambda");

const [endpoint, accessKeyId, secretAccessKey] = process.argv.slice(2);
const FN = "durable-callback-test";
const out = (ok, name, why) => console.log(ok ? `PASS ${name}` : `FAIL ${name}: ${why}`);
const client = new LambdaClient({
  endpoint,
  region: "us-east-1",
  credentials: { accessKeyId, secretAccessKey, sessionToken: "serve-awssdk-session" },
  maxAttempts: 1,
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const enc = new TextEncoder();
const dec = new TextDecoder();

async function main() {
  // Invoke with a qualified name, asynchronously.
  const inv = await client.send(new InvokeCommand({
    FunctionName: `${FN}:$LATEST`,
    InvocationType: "Event",
    DurableExecutionName: "awssdk-approval-1",
    Payload: enc.encode(JSON.stringify({ orderId: "ORD-SDK" })),
  }));
  const arn = inv.DurableExecutionArn;
  out(inv.StatusCode === 202 && typeof arn === "string" && arn.includes(`:function:${FN}:`),
      "awssdk_invoke_event", `StatusCode ${inv.StatusCode}, DurableExecutionArn ${arn}`);

  // It is listed under its function, RUNNING.
  let listed;
  for (let i = 0; i < 1200; i++) {
    listed = await client.send(new ListDurableExecutionsByFunctionCommand({ FunctionName: FN, Statuses: ["RUNNING"] }));
    if (listed.DurableExecutions?.some((e) => e.DurableExecutionArn === arn)) break;
    await sleep(100);
  }
  const item = listed.DurableExecutions?.find((e) => e.DurableExecutionArn === arn);
  out(item && item.DurableExecutionName === "awssdk-approval-1" && item.StartTimestamp instanceof Date,
      "awssdk_list_by_function", JSON.stringify(listed.DurableExecutions));

  // The callback id, from the history.
  let callbackId;
  for (let i = 0; i < 1200 && !callbackId; i++) {
    const h = await client.send(new GetDurableExecutionHistoryCommand({ DurableExecutionArn: arn, IncludeExecutionData: true }));
    // once the invocation that created it has ended, as a human would answer
    if (h.Events?.some((e) => e.EventType === "InvocationCompleted"))
      callbackId = h.Events.find((e) => e.EventType === "CallbackStarted")?.CallbackStartedDetails?.CallbackId;
    if (!callbackId) await sleep(100);
  }
  out(typeof callbackId === "string" && callbackId.length > 0, "awssdk_history_callback_id", "no CallbackStarted event");

  const running = await client.send(new GetDurableExecutionCommand({ DurableExecutionArn: arn }));
  out(running.Status === "RUNNING", "awssdk_get_running", `Status ${running.Status}`);

  // A client with the wrong secret is refused (403, as Lambda refuses a bad signature).
  const bad = new LambdaClient({ endpoint, region: "us-east-1", maxAttempts: 1,
                                 credentials: { accessKeyId, secretAccessKey: secretAccessKey + "x" } });
  try {
    await bad.send(new GetDurableExecutionCommand({ DurableExecutionArn: arn }));
    out(false, "awssdk_bad_signature_refused", "the call succeeded");
  } catch (e) {
    out(e.$metadata?.httpStatusCode === 403 && e.name === "InvalidSignatureException",
        "awssdk_bad_signature_refused", `${e.$metadata?.httpStatusCode} ${e.name}: ${e.message}`);
  }

  const approval = JSON.stringify({ approved: true, approver: "sdk@example.com" });
  await client.send(new SendDurableExecutionCallbackSuccessCommand({ CallbackId: callbackId, Result: enc.encode(approval) }));
  out(true, "awssdk_callback_success_sent");

  let done;
  for (let i = 0; i < 1200; i++) {
    done = await client.send(new GetDurableExecutionCommand({ DurableExecutionArn: arn }));
    if (done.Status !== "RUNNING") break;
    await sleep(100);
  }
  const result = done.Result ? JSON.parse(done.Result) : null;
  out(done.Status === "SUCCEEDED" && result?.orderId === "ORD-SDK" && result?.result?.approvalData === approval &&
      done.EndTimestamp instanceof Date,
      "awssdk_approval_completes", JSON.stringify({ Status: done.Status, Result: done.Result, Error: done.Error }));

  // A synchronous Invoke answers the execution's result in the payload.
  const sync = await client.send(new InvokeCommand({
    FunctionName: "durable-basic-test:$LATEST",
    Payload: enc.encode(JSON.stringify({ orderId: "ORD-SYNC" })),
  }));
  const payload = sync.Payload ? JSON.parse(dec.decode(sync.Payload)) : null;
  out(sync.StatusCode === 200 && !sync.FunctionError && payload?.orderId === "ORD-SYNC" &&
      sync.DurableExecutionArn?.includes(":function:durable-basic-test:"),
      "awssdk_invoke_sync_result", JSON.stringify({ StatusCode: sync.StatusCode, FunctionError: sync.FunctionError, payload }));

  // Unqualified: the service's own error, as the SDK surfaces it.
  try {
    await client.send(new InvokeCommand({ FunctionName: FN, InvocationType: "Event", Payload: enc.encode("{}") }));
    out(false, "awssdk_unqualified_refused", "the call succeeded");
  } catch (e) {
    out(e.name === "InvalidParameterValueException" && /unqualified/.test(e.message),
        "awssdk_unqualified_refused", `${e.name}: ${e.message}`);
  }
}

// The call must be refused with this status and error name, and a message matching `msg`.
async function refused(name, call, status, errName, msg) {
  try {
    const r = await call();
    out(false, name, `the call succeeded: ${JSON.stringify(r.$metadata ?? r)}`);
  } catch (e) {
    const got = `${e.$metadata?.httpStatusCode} ${e.name}: ${e.message}`;
    out(e.$metadata?.httpStatusCode === status && e.name === errName && msg.test(e.message), name, got);
  }
}

// The executions of function fn named `name` (none for a request that started nothing).
async function named(fn, name) {
  const l = await client.send(new ListDurableExecutionsByFunctionCommand({ FunctionName: fn, DurableExecutionName: name }));
  return l.DurableExecutions ?? [];
}

// An Invoke payload of exactly n bytes: a JSON object padded with a string.
function payloadOf(n) {
  const head = '{"orderId":"ORD-BIG","pad":"', tail = '"}';
  return enc.encode(head + "x".repeat(n - head.length - tail.length) + tail);
}

// include/dwf_protocol.h's DWF_LIMIT_ASYNC_PAYLOAD and DWF_LIMIT_SYNC_PAYLOAD: Lambda's limits.
const ASYNC_LIMIT = 262144, SYNC_LIMIT = 6291456;
const BASIC = "durable-basic-test";

async function invokeRefusals() {
  await refused("awssdk_invoke_not_json", () => client.send(new InvokeCommand({
    FunctionName: `${BASIC}:$LATEST`, InvocationType: "Event", DurableExecutionName: "awssdk-not-json",
    Payload: enc.encode("{not json"),
  })), 400, "InvalidRequestContentException", /^Could not parse request body into json/);
  let n = await named(BASIC, "awssdk-not-json");
  out(n.length === 0, "awssdk_invoke_not_json_starts_nothing", JSON.stringify(n));

  await refused("awssdk_invoke_event_too_large", () => client.send(new InvokeCommand({
    FunctionName: `${BASIC}:$LATEST`, InvocationType: "Event", DurableExecutionName: "awssdk-too-large",
    Payload: payloadOf(ASYNC_LIMIT + 1),
  })), 413, "RequestEntityTooLargeException",
  new RegExp(`^${ASYNC_LIMIT + 1} byte payload is too large for the Event invocation type \\(limit ${ASYNC_LIMIT} bytes\\)$`));
  n = await named(BASIC, "awssdk-too-large");
  out(n.length === 0, "awssdk_invoke_event_too_large_starts_nothing", JSON.stringify(n));
  const at = await client.send(new InvokeCommand({
    FunctionName: `${BASIC}:$LATEST`, InvocationType: "Event", DurableExecutionName: "awssdk-at-limit",
    Payload: payloadOf(ASYNC_LIMIT),
  }));
  out(at.StatusCode === 202 && typeof at.DurableExecutionArn === "string", "awssdk_invoke_event_at_limit",
      JSON.stringify(at.$metadata));

  await refused("awssdk_invoke_sync_too_large", () => client.send(new InvokeCommand({
    FunctionName: `${BASIC}:$LATEST`, DurableExecutionName: "awssdk-sync-too-large", Payload: payloadOf(SYNC_LIMIT + 1),
  })), 413, "RequestEntityTooLargeException", new RegExp(`^Request must be smaller than ${SYNC_LIMIT} bytes`));
  n = await named(BASIC, "awssdk-sync-too-large");
  out(n.length === 0, "awssdk_invoke_sync_too_large_starts_nothing", JSON.stringify(n));
}

async function pagingRefusals(arn) {
  const range = (v, bound) => new RegExp(`^1 validation error detected: Value '${v}' at 'maxItems' failed to satisfy ` +
                                         `constraint: Member must have value ${bound}$`);
  const low = (v, min) => range(v, `greater than or equal to ${min}`), high = (v) => range(v, "less than or equal to 1000");
  await refused("awssdk_list_max_items_0", () => client.send(new ListDurableExecutionsByFunctionCommand({
    FunctionName: FN, MaxItems: 0 })), 400, "ValidationException", low(0, 1));
  await refused("awssdk_list_max_items_1001", () => client.send(new ListDurableExecutionsByFunctionCommand({
    FunctionName: FN, MaxItems: 1001 })), 400, "ValidationException", high(1001));
  for (const [m, re] of [[-1, low(-1, 0)], [1001, high(1001)]]) {
    await refused(`awssdk_history_max_items_${m}`, () => client.send(new GetDurableExecutionHistoryCommand({
      DurableExecutionArn: arn, MaxItems: m })), 400, "ValidationException", re);
    await refused(`awssdk_state_max_items_${m}`, () => client.send(new GetDurableExecutionStateCommand({
      DurableExecutionArn: arn, CheckpointToken: "AAAA", MaxItems: m })), 400, "ValidationException", re);
  }
  // In range, the bounds page as asked; 0 is the default page for history and state, as AWS documents.
  const l1 = await client.send(new ListDurableExecutionsByFunctionCommand({ FunctionName: BASIC, MaxItems: 1 }));
  const l1000 = await client.send(new ListDurableExecutionsByFunctionCommand({ FunctionName: BASIC, MaxItems: 1000 }));
  out(l1.DurableExecutions?.length === 1 && l1.NextMarker && l1000.DurableExecutions?.length >= 2 && !l1000.NextMarker,
      "awssdk_list_max_items_in_range",
      JSON.stringify({ l1: l1.DurableExecutions?.length, marker: l1.NextMarker, l1000: l1000.DurableExecutions?.length }));
  const h0 = await client.send(new GetDurableExecutionHistoryCommand({ DurableExecutionArn: arn, MaxItems: 0 }));
  out(h0.Events?.length > 2, "awssdk_history_max_items_0_default", `${h0.Events?.length} events`);

  await refused("awssdk_list_unknown_function", () => client.send(new ListDurableExecutionsByFunctionCommand({
    FunctionName: "no-such-function" })), 404, "ResourceNotFoundException",
  /^Function not found: arn:aws:lambda:us-east-1:000000000000:function:no-such-function$/);
}

// The fields of the events' details that carry execution data.
function dataFields(events) {
  const found = [];
  for (const ev of events ?? [])
    for (const [k, d] of Object.entries(ev))
      if (k.endsWith("Details") && d && typeof d === "object")
        for (const f of ["Input", "Result", "Error"]) if (f in d) found.push(`${ev.EventType}.${f}`);
  return found;
}

async function historyData(arn) {
  const get = (x) => client.send(new GetDurableExecutionHistoryCommand({ DurableExecutionArn: arn, ...x }));
  const plain = await get({}), off = await get({ IncludeExecutionData: false }), on = await get({ IncludeExecutionData: true });
  const types = (h) => (h.Events ?? []).map((e) => e.EventType).join(",");
  out(plain.Events?.length > 2 && dataFields(plain.Events).length === 0 && dataFields(off.Events).length === 0 &&
      types(plain) === types(on) && types(off) === types(on),
      "awssdk_history_without_data", JSON.stringify({ plain: dataFields(plain.Events), off: dataFields(off.Events) }));
  const ev = (t) => on.Events?.find((e) => e.EventType === t);
  const result = ev("ExecutionSucceeded")?.ExecutionSucceededDetails?.Result?.Payload;
  const input = ev("ExecutionStarted")?.ExecutionStartedDetails?.Input?.Payload;
  out(JSON.parse(result ?? "null")?.orderId === "ORD-SDK" && JSON.parse(input ?? "null")?.orderId === "ORD-SDK" &&
      dataFields(on.Events).includes("ExecutionSucceeded.Result"),
      "awssdk_history_with_data", JSON.stringify({ result, input }));
}

main()
  .then(async () => {
    const l = await named(FN, "awssdk-approval-1");
    const arn = l[0]?.DurableExecutionArn;
    if (!arn) return out(false, "awssdk_refusals", "the approval execution is not listed");
    await invokeRefusals();
    await pagingRefusals(arn);
    await historyData(arn);
  })
  .catch((e) => {
    out(false, "awssdk_run", `${e.name}: ${e.message}`);
  });
