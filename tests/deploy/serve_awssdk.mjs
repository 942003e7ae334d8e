// tests/deploy/serve_awssdk.mjs: the official AWS SDK for JavaScript v3 (@aws-sdk/client-lambda,
// from tests/node) with its endpoint set to `dwf serve`, doing what a user's script would with
// a deployed durable function: Invoke the approval example with a qualified name (Event),
// find it with ListDurableExecutionsByFunction, read the callback id from
// GetDurableExecutionHistory, complete it with SendDurableExecutionCallbackSuccess, and see it
// SUCCEEDED with GetDurableExecution. The client signs every request with SigV4 and the emulator
// runs with the same keys, so each call also proves the emulator accepts the official signer's
// signatures; a client with a wrong secret must be refused.
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
  for (let i = 0; i < 100; i++) {
    listed = await client.send(new ListDurableExecutionsByFunctionCommand({ FunctionName: FN, Statuses: ["RUNNING"] }));
    if (listed.DurableExecutions?.some((e) => e.DurableExecutionArn === arn)) break;
    await sleep(100);
  }
  const item = listed.DurableExecutions?.find((e) => e.DurableExecutionArn === arn);
  out(item && item.DurableExecutionName === "awssdk-approval-1" && item.StartTimestamp instanceof Date,
      "awssdk_list_by_function", JSON.stringify(listed.DurableExecutions));

  // The callback id, from the history.
  let callbackId;
  for (let i = 0; i < 200 && !callbackId; i++) {
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
  for (let i = 0; i < 300; i++) {
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

main().catch((e) => {
  out(false, "awssdk_run", `${e.name}: ${e.message}`);
});
