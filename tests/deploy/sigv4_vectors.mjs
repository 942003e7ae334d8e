// sigv4_vectors.mjs: SigV4 test vectors from the official signer, for dwf's C signer to match.
//
// Run from anywhere (packages come from tests/node/node_modules); prints a JSON array on
// stdout. Each vector is a request the Lambda transport makes (checkpoint, paged state read,
// callback calls), signed by @smithy/signature-v4 exactly as @aws-sdk/client-lambda sets it up
// (SignatureV4 with @aws-crypto/sha256-js, service "lambda", default applyChecksum and
// uriEscapePath), with fixed credentials and a fixed date. runtime/sigv4.c must reproduce the
// Authorization header byte for byte (tests/unit/test_rt_sigv4.c compares).
//
// The wire path and query of every vector are taken from the real LambdaClient: its request
// is captured before it leaves (a request handler that records and aborts), so the vectors
// also pin down how the official client encodes an ARN or a callback id into the path.
// ES modules resolve packages beside the importing file, not from the cwd or NODE_PATH, so
// load the official packages through a require() rooted at tests/node.
import { createRequire } from "node:module";
const require = createRequire(new URL("../node/package.json", import.meta.url));
const { SignatureV4 } = require("@smithy/signature-v4");
const { Sha256 } = require("@aws-crypto/sha256-js");
const {
  LambdaClient,
  CheckpointDurableExecutionCommand,
  GetDurableExecutionStateCommand,
  SendDurableExecutionCallbackSuccessCommand,
  SendDurableExecutionCallbackFailureCommand,
  SendDurableExecutionCallbackHeartbeatCommand,
} = require("@aws-sdk/client-lambda");

process.removeAllListeners("warning"); // the SDK's node-version notice would only be noise

const escapeUri = (s) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());

const KEYS = {
  plain: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" },
  session: {
    accessKeyId: "ASIAQXAMPLE7SESSION",
    secretAccessKey: "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
    sessionToken:
      "IQoJb3JpZ2luX2VjEHgaCXVzLWVhc3QtMSJHMEUCIQD+example/session+token/with=chars//AQ==",
  },
};

const ARNS = {
  latest:
    "arn:aws:lambda:us-east-1:123456789012:function:order-processing:$LATEST/durable-execution/run-1/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
  plusEq: "arn:aws:lambda:eu-west-1:123456789012:function:fn:7/durable-execution/a+b=c/id+x/y==",
  alias: "arn:aws:lambda:us-west-2:123456789012:function:my-fn:live/durable-execution/exec~name_1.2/abc-DEF",
  odd: "arn:aws:lambda:ap-southeast-2:123456789012:function:f:1/durable-execution/sp ace*(x)!'/é",
};
const CALLBACKS = {
  b64: "AbC+dEf/GhI=",
  b64b: "eyJleGVjdXRpb25JZCI6ImUxIn0+/x/y+z==",
};

// The requests: which API, its input, and the signing context.
const cases = [
  ["checkpoint_latest_session", "us-east-1", "session", new CheckpointDurableExecutionCommand({
    DurableExecutionArn: ARNS.latest, CheckpointToken: "tok+en/1==",
    Updates: [{ Id: "c4ca4238a0b92382", Type: "STEP", Action: "SUCCEED", Payload: "\"ok\"" }],
    ClientToken: "2f9e3a4c-1111-4222-8333-944455556666" })],
  ["checkpoint_latest_nosession", "us-east-1", "plain", new CheckpointDurableExecutionCommand({
    DurableExecutionArn: ARNS.latest, CheckpointToken: "tok+en/1==", Updates: [],
    ClientToken: "2f9e3a4c-1111-4222-8333-944455556667" })],
  ["checkpoint_plus_equals", "eu-west-1", "session", new CheckpointDurableExecutionCommand({
    DurableExecutionArn: ARNS.plusEq, CheckpointToken: "A/B+C=",
    Updates: [{ Id: "c81e728d9d4c2f63", Type: "WAIT", Action: "START", WaitOptions: { WaitSeconds: 10 } }],
    ClientToken: "00000000-0000-4000-8000-000000000001" })],
  ["checkpoint_alias", "us-west-2", "plain", new CheckpointDurableExecutionCommand({
    DurableExecutionArn: ARNS.alias, CheckpointToken: "t", Updates: [],
    ClientToken: "00000000-0000-4000-8000-000000000002" })],
  ["checkpoint_odd_chars", "ap-southeast-2", "session", new CheckpointDurableExecutionCommand({
    DurableExecutionArn: ARNS.odd, CheckpointToken: "t~1", Updates: [],
    ClientToken: "00000000-0000-4000-8000-000000000003" })],
  ["state_first_page_session", "us-east-1", "session", new GetDurableExecutionStateCommand({
    DurableExecutionArn: ARNS.latest, CheckpointToken: "tok+en/1==", MaxItems: 1000 })],
  ["state_marker_session", "us-east-1", "session", new GetDurableExecutionStateCommand({
    DurableExecutionArn: ARNS.latest, CheckpointToken: "tok+en/1==", Marker: "page:2/next+=", MaxItems: 1000 })],
  ["state_marker_nosession", "eu-west-1", "plain", new GetDurableExecutionStateCommand({
    DurableExecutionArn: ARNS.plusEq, CheckpointToken: "A/B+C=", Marker: "m 3&x=y", MaxItems: 1000 })],
  ["callback_succeed_body", "us-east-1", "session", new SendDurableExecutionCallbackSuccessCommand({
    CallbackId: CALLBACKS.b64, Result: Buffer.from("{\"approved\":true}") })],
  ["callback_succeed_empty", "us-east-1", "plain", new SendDurableExecutionCallbackSuccessCommand({
    CallbackId: CALLBACKS.b64b })],
  ["callback_fail", "us-west-2", "session", new SendDurableExecutionCallbackFailureCommand({
    CallbackId: CALLBACKS.b64b, Error: { ErrorType: "Rejected", ErrorMessage: "no" } })],
  ["callback_heartbeat", "us-east-1", "session", new SendDurableExecutionCallbackHeartbeatCommand({
    CallbackId: CALLBACKS.b64 })],
];

// Capture what the official client would send for a command (path, query, body, headers).
async function capture(region, cmd) {
  let req;
  const client = new LambdaClient({
    region, maxAttempts: 1,
    credentials: { accessKeyId: "AKID", secretAccessKey: "SECRET" },
    requestHandler: { handle: async (r) => { req = r; throw new Error("dwf-captured"); } },
  });
  try { await client.send(cmd); } catch (e) { if (e.message !== "dwf-captured") throw e; }
  client.destroy();
  return req;
}

const dates = [new Date("2026-11-29T18:55:04Z"), new Date("2026-12-31T23:59:59Z")];
const out = [];
let i = 0;
for (const [name, region, keys, cmd] of cases) {
  const sent = await capture(region, cmd);
  const body = sent.body == null ? "" : typeof sent.body === "string" ? sent.body
    : new TextDecoder().decode(new Uint8Array(sent.body.buffer, sent.body.byteOffset, sent.body.byteLength));
  const query = Object.keys(sent.query).sort().map((k) => [k, String(sent.query[k])]);
  const contentType = sent.headers["content-type"] ?? null;
  for (const host of [sent.hostname, "127.0.0.1:4566"]) {
    const date = dates[i++ % dates.length];
    const creds = KEYS[keys];
    const signer = new SignatureV4({ credentials: creds, region, service: "lambda", sha256: Sha256 });
    const headers = { host };
    if (contentType) headers["content-type"] = contentType;
    const [hostname, port] = host.split(":");
    const signed = await signer.sign({
      method: sent.method, protocol: "https:", hostname, port: port ? Number(port) : undefined,
      path: sent.path, query: Object.fromEntries(query), headers, body: body === "" ? undefined : body,
    }, { signingDate: date });
    out.push({
      name: `${name}${host === sent.hostname ? "" : "_port"}`,
      method: sent.method, host, path: sent.path, label: cmd.input.DurableExecutionArn ?? cmd.input.CallbackId,
      query, query_string: query.map(([k, v]) => `${escapeUri(k)}=${escapeUri(v)}`).join("&"),
      content_type: contentType, body,
      access_key: creds.accessKeyId, secret_key: creds.secretAccessKey, session_token: creds.sessionToken ?? null,
      region, epoch: Math.floor(date.getTime() / 1000),
      amz_date: signed.headers["x-amz-date"], content_sha256: signed.headers["x-amz-content-sha256"],
      authorization: signed.headers["authorization"],
    });
  }
}
process.stdout.write(JSON.stringify(out, null, 1) + "\n");
