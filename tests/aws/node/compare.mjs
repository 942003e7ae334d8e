// compare.mjs: for every row of include/dwf_aws.def, the request dwf sends next to the one the
// official @aws-sdk/client-* client sends for the same parameters (tests/aws/run.sh, docs/aws.md).
//
// A recording server on 127.0.0.1 takes both (the SDK's, then dwf's from one `dwf run` of a
// workflow holding one step per case) and answers each protocol with a small success response.
// Then, per case: method, path, query, the headers that carry meaning, the body (JSON and form
// bodies compared as data, others byte for byte) and the credential scope must agree, and both
// Authorization headers must be what @smithy/signature-v4 computes with the same key for the
// headers each request lists as signed. Prints PASS/FAIL lines.
//   node compare.mjs DWF_BINARY WORKDIR DWF_AWS_DEF
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

const require = createRequire(import.meta.url);
const { SignatureV4 } = require('@smithy/signature-v4');

const [dwf, work, defFile] = process.argv.slice(2);
const KEY = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const REGION = 'us-east-1';

// The cases: a service, an action, the SDK client and command, and the parameters (the same
// object is written into the .dwf, so keys and values must be what both accept).
const cases = [
  ['dynamodb', 'GetItem', { TableName: 'orders', Key: { id: { S: 'o-1' } }, ConsistentRead: true,
    ProjectionExpression: '#s, total', ExpressionAttributeNames: { '#s': 'status' } }],
  ['dynamodb', 'PutItem', { TableName: 'orders', Item: { id: { S: 'o-1' }, total: { N: '12.5' },
    tags: { L: [{ S: 'a' }, { BOOL: true }] } }, ConditionExpression: 'attribute_not_exists(id)',
    ReturnValues: 'NONE' }],
  ['dynamodb', 'UpdateItem', { TableName: 'orders', Key: { id: { S: 'o-1' } },
    UpdateExpression: 'SET #s = :s', ConditionExpression: '#s = :old',
    ExpressionAttributeNames: { '#s': 'status' },
    ExpressionAttributeValues: { ':s': { S: 'paid' }, ':old': { S: 'new' } }, ReturnValues: 'ALL_NEW' }],
  ['dynamodb', 'DeleteItem', { TableName: 'orders', Key: { id: { S: 'o-1' } },
    ConditionExpression: 'attribute_exists(id)' }],
  ['dynamodb', 'Query', { TableName: 'orders', IndexName: 'by-customer',
    KeyConditionExpression: 'customer = :c', ExpressionAttributeValues: { ':c': { S: 'c-9' } },
    Limit: 10, ScanIndexForward: false }],
  ['dynamodb', 'TransactWriteItems', { ClientRequestToken: 'token-1', TransactItems: [
    { Put: { TableName: 'orders', Item: { id: { S: 'o-2' } } } },
    { Update: { TableName: 'stock', Key: { sku: { S: 'k' } }, UpdateExpression: 'SET n = n - :one',
      ExpressionAttributeValues: { ':one': { N: '1' } } } }] }],
  ['sqs', 'SendMessage', { QueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/fulfil',
    MessageBody: 'order o-1 paid', DelaySeconds: 5,
    MessageAttributes: { kind: { DataType: 'String', StringValue: 'order' } } }],
  ['sqs', 'SendMessageBatch', { QueueUrl: 'https://sqs.us-east-1.amazonaws.com/123456789012/fulfil',
    Entries: [{ Id: 'a', MessageBody: 'one' }, { Id: 'b', MessageBody: 'two', DelaySeconds: 1 }] }],
  ['sns', 'Publish', { TopicArn: 'arn:aws:sns:us-east-1:123456789012:orders', Message: 'paid: o-1 & more',
    Subject: 'Order paid', MessageAttributes: { kind: { DataType: 'String', StringValue: 'order' } } }],
  ['eventbridge', 'PutEvents', { Entries: [{ Source: 'shop.orders', DetailType: 'OrderPaid',
    Detail: '{"id":"o-1"}', EventBusName: 'orders' }] }],
  ['sfn', 'StartExecution', { stateMachineArn: 'arn:aws:states:us-east-1:123456789012:stateMachine:ship',
    name: 'ship-o-1', input: '{"id":"o-1"}' }],
  ['secretsmanager', 'GetSecretValue', { SecretId: 'prod/payments/api-key', VersionStage: 'AWSCURRENT' }],
  ['ssm', 'GetParameter', { Name: '/shop/prod/threshold', WithDecryption: true }],
  ['lambda', 'Invoke', { FunctionName: 'charge-card', Payload: '{"amount":12}',
    InvocationType: 'RequestResponse', Qualifier: 'live' }],
  ['s3', 'PutObject', { Bucket: 'receipts', Key: 'r/2026 12/o-1.json', Body: '{"id":"o-1"}',
    ContentType: 'application/json', Metadata: { order: 'o-1' }, CacheControl: 'no-cache' }],
  ['s3', 'GetObject', { Bucket: 'receipts', Key: 'r/2026 12/o-1.json', Range: 'bytes=0-9' }],
  ['s3', 'HeadObject', { Bucket: 'receipts', Key: 'r/2026 12/o-1.json', IfNoneMatch: '"abc"' }],
  ['s3', 'DeleteObject', { Bucket: 'receipts', Key: 'r/2026 12/o-1.json', VersionId: 'v1' }],
];

// Every row of the table has a case here.
const rows = [...fs.readFileSync(defFile, 'utf8').matchAll(/^DWF_AWS_ACTION\((\w+),\s*(\w+),/gm)].map((m) => `${m[1]}.${m[2]}`);
const missingRows = rows.filter((r) => !cases.some(([s, a]) => `${s}.${a}` === r));
console.log(rows.length && !missingRows.length ? `PASS aws_compare_every_row (${rows.length} actions)`
  : `FAIL aws_compare_every_row: no case for ${missingRows.join(', ') || 'any row'}`);

const clients = {
  dynamodb: ['@aws-sdk/client-dynamodb', 'DynamoDBClient'],
  sqs: ['@aws-sdk/client-sqs', 'SQSClient'],
  sns: ['@aws-sdk/client-sns', 'SNSClient'],
  eventbridge: ['@aws-sdk/client-eventbridge', 'EventBridgeClient'],
  sfn: ['@aws-sdk/client-sfn', 'SFNClient'],
  secretsmanager: ['@aws-sdk/client-secrets-manager', 'SecretsManagerClient'],
  ssm: ['@aws-sdk/client-ssm', 'SSMClient'],
  lambda: ['@aws-sdk/client-lambda', 'LambdaClient'],
  s3: ['@aws-sdk/client-s3', 'S3Client'],
};

// ---- the recording server ----------------------------------------------------------------
const seen = [];
function answer(req, res, body) {
  const target = req.headers['x-amz-target'];
  if (target) {
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
    return res.end('{}');
  }
  if ((req.headers['content-type'] || '').startsWith('application/x-www-form-urlencoded')) {
    const action = new URLSearchParams(body.toString()).get('Action');
    res.writeHead(200, { 'content-type': 'text/xml' });
    return res.end(`<${action}Response xmlns="https://sns.amazonaws.com/doc/2010-03-31/"><${action}Result>` +
      `<MessageId>m-1</MessageId></${action}Result><ResponseMetadata><RequestId>r-1</RequestId>` +
      `</ResponseMetadata></${action}Response>`);
  }
  if (req.url.startsWith('/2015-03-31/functions/')) {
    res.writeHead(200, { 'content-type': 'application/json', 'x-amz-executed-version': '7' });
    return res.end('{"ok":true}');
  }
  const s3h = { etag: '"abc"', 'content-type': 'text/plain', 'last-modified': 'Sat, 05 Dec 2026 09:00:00 GMT',
    'x-amz-meta-order': 'o-1' };
  if (req.method === 'DELETE') { res.writeHead(204, { 'x-amz-version-id': 'v1' }); return res.end(); }
  if (req.method === 'HEAD') { res.writeHead(200, { ...s3h, 'content-length': '5' }); return res.end(); }
  if (req.method === 'GET') { res.writeHead(200, s3h); return res.end('hello'); }
  res.writeHead(200, { etag: '"abc"' });
  res.end();
}
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    seen.push({ method: req.method, url: req.url, headers: { ...req.headers }, body });
    answer(req, res, body);
  });
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const endpoint = `http://127.0.0.1:${server.address().port}`;

// ---- the official clients ----------------------------------------------------------------
const sdkResults = [];
for (const [svc, action, params] of cases) {
  const [pkg, clientName] = clients[svc];
  const mod = require(pkg);
  const client = new mod[clientName]({
    region: REGION, endpoint, credentials: KEY, maxAttempts: 1,
    // S3: path-style against a custom endpoint, and no flexible checksums (the SDK's default
    // since 2025 adds CRC32 headers dwf does not send: optional for these actions).
    ...(svc === 's3' ? { forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED' } : {}),
  });
  const input = { ...params };
  if (svc === 'lambda' && typeof input.Payload === 'string') input.Payload = Buffer.from(input.Payload);
  const before = seen.length;
  try {
    sdkResults.push(await client.send(new mod[`${action}Command`](input)));
  } catch (e) {
    sdkResults.push({ error: String(e) });
  }
  if (seen.length !== before + 1) console.log(`FAIL sdk_${svc}_${action}: the client sent ${seen.length - before} requests`);
}
const sdkSeen = seen.splice(0);

// ---- dwf: one workflow, one step per case ------------------------------------------------
const dwfText = ['workflow aws_compare {'];
// A secret source's answer may not leave its step (the compiler's taint check): those steps
// return whether an answer came instead of the answer.
const secretSources = new Set(['secretsmanager.GetSecretValue', 'ssm.GetParameter']);
cases.forEach(([svc, action, params], i) => {
  const call = `aws ${svc}.${action} ${JSON.stringify(params)}`;
  dwfText.push(`  step c${i} {`,
    ...(secretSources.has(`${svc}.${action}`) ? [`    let r = ${call}`, '    return r != null'] : [`    return ${call}`]),
    '  }');
});
dwfText.push(`  return [${cases.map((_, i) => `c${i}`).join(', ')}]`, '}');
const wf = path.join(work, 'aws_compare.dwf');
fs.writeFileSync(wf, dwfText.join('\n') + '\n');
const env = { ...process.env, AWS_ACCESS_KEY_ID: KEY.accessKeyId, AWS_SECRET_ACCESS_KEY: KEY.secretAccessKey,
  AWS_REGION: REGION, AWS_ENDPOINT_URL: endpoint };
for (const k of Object.keys(env)) if (k.startsWith('AWS_ENDPOINT_URL_') || k === 'AWS_SESSION_TOKEN') delete env[k];
// The recording server runs in this process: dwf must run while the event loop stays free.
const { spawn } = await import('node:child_process');
const run = await new Promise((resolve) => {
  const p = spawn(dwf, ['run', wf, '--store', path.join(work, 'compare.db'), '--quiet'], { env });
  let out = '', err = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (err += d));
  p.on('close', (status) => resolve({ status, out, err }));
});
void spawnSync;
server.close();
const dwfSeen = seen.splice(0);
if (run.status !== 0) {
  console.log(`FAIL aws_compare_run: dwf run exited ${run.status}: ${run.err.slice(0, 400)}`);
  process.exit(0);
}
console.log('PASS aws_compare_run');
let dwfResults = null;
try {
  dwfResults = JSON.parse(run.out.slice(run.out.indexOf('[')));
} catch (e) {
  console.log(`FAIL aws_compare_results: cannot read the result: ${run.out.slice(0, 300)}`);
}

// ---- comparing -----------------------------------------------------------------------------
const SDK_ONLY = new Set(['user-agent', 'x-amz-user-agent', 'amz-sdk-invocation-id', 'amz-sdk-request',
  'authorization', 'x-amz-date', 'host', 'connection', 'content-length', 'transfer-encoding', 'expect',
  'accept', 'accept-encoding']);
class Sha256 {
  constructor(secret) { this.h = secret ? crypto.createHmac('sha256', secret) : crypto.createHash('sha256'); }
  update(d) { this.h.update(typeof d === 'string' ? Buffer.from(d) : Buffer.from(d)); }
  digest() { return Promise.resolve(new Uint8Array(this.h.digest())); }
}

function queryOf(url) {
  const q = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
  return [...new URLSearchParams(q).entries()].sort((a, b) => (a[0] + a[1] < b[0] + b[1] ? -1 : 1));
}

function bodyData(r) {
  const ct = r.headers['content-type'] || '';
  if (ct.includes('x-amz-json')) return JSON.parse(r.body.toString() || '{}');
  if (ct.startsWith('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(r.body.toString()));
  return r.body.toString('base64');
}

// Does r's Authorization hold the signature @smithy/signature-v4 computes for the headers it
// lists as signed, with the shared key?
async function signatureOk(r, svc) {
  const auth = r.headers.authorization || '';
  const m = /Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})/.exec(auth);
  if (!m) return `no SigV4 Authorization header: ${auth}`;
  const signed = m[5].split(';');
  const headers = {};
  for (const h of signed) headers[h] = r.headers[h] ?? '';
  const amzDate = r.headers['x-amz-date'];
  const date = new Date(Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8),
    +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15)));
  const signer = new SignatureV4({ credentials: KEY, region: m[3], service: m[4], sha256: Sha256,
    uriEscapePath: svc !== 's3', applyChecksum: true });
  const [p] = r.url.split('?');
  const query = {};
  for (const [k, v] of new URLSearchParams(r.url.includes('?') ? r.url.slice(r.url.indexOf('?') + 1) : ''))
    query[k] = v;
  const out = await signer.sign({ method: r.method, protocol: 'http:', hostname: '127.0.0.1', path: p, query,
    headers, body: r.body }, { signingDate: date, signableHeaders: new Set(signed) });
  const again = out.headers.authorization || out.headers.Authorization;
  return again === auth ? null : `signature differs from @smithy/signature-v4's: ${auth} vs ${again}`;
}

function same(a, b) { return JSON.stringify(a) === JSON.stringify(b); }

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}

for (let i = 0; i < cases.length; i++) {
  const [svc, action] = cases[i];
  const name = `aws_request_${svc}_${action}`;
  const s = sdkSeen[i], d = dwfSeen[i];
  if (!s || !d) { console.log(`FAIL ${name}: a request is missing (sdk ${!!s}, dwf ${!!d})`); continue; }
  const why = [];
  if (s.method !== d.method) why.push(`method ${d.method} != ${s.method}`);
  if (s.url.split('?')[0] !== d.url.split('?')[0]) why.push(`path ${d.url.split('?')[0]} != ${s.url.split('?')[0]}`);
  // The SDK adds x-id=<Action> to some S3 queries: a routing hint, ignored by S3.
  const sq = queryOf(s.url).filter(([k]) => k !== 'x-id');
  if (!same(queryOf(d.url), sq)) why.push(`query ${JSON.stringify(queryOf(d.url))} != ${JSON.stringify(sq)}`);
  // x-amz-content-sha256: each the hash of its own body (the bodies may order members apart)
  for (const [who, r] of [['dwf', d], ['sdk', s]])
    if (r.headers['x-amz-content-sha256'] !== crypto.createHash('sha256').update(r.body).digest('hex'))
      why.push(`${who}: x-amz-content-sha256 is not the SHA-256 of the body`);
  for (const [h, v] of Object.entries(s.headers))
    if (!SDK_ONLY.has(h) && h !== 'x-amz-content-sha256' && !h.startsWith('x-amz-checksum') && h !== 'x-amz-sdk-checksum-algorithm' && d.headers[h] !== v)
      why.push(`header ${h}: dwf ${JSON.stringify(d.headers[h])}, sdk ${JSON.stringify(v)}`);
  for (const h of Object.keys(d.headers))
    if (!SDK_ONLY.has(h) && !(h in s.headers)) why.push(`header ${h} sent by dwf only`);
  if (!same(sortKeys(bodyData(d)), sortKeys(bodyData(s)))) why.push(`body ${d.body.toString().slice(0, 300)} != ${s.body.toString().slice(0, 300)}`);
  const scope = (r) => (/Credential=[^/]+\/\d{8}\/([^,]+),/.exec(r.headers.authorization || '') || [])[1];
  if (scope(d) !== scope(s)) why.push(`credential scope ${scope(d)} != ${scope(s)}`);
  for (const [who, r] of [['dwf', d], ['sdk', s]]) {
    const bad = await signatureOk(r, svc);
    if (bad) why.push(`${who}: ${bad}`);
  }
  console.log(why.length ? `FAIL ${name}: ${why.join('; ')}` : `PASS ${name}`);
}

// ---- the responses, as values -------------------------------------------------------------
if (dwfResults) {
  const at = (svc, action) => dwfResults[cases.findIndex(([s, a]) => s === svc && a === action)];
  const checks = [
    ['aws_response_sns_Publish', at('sns', 'Publish')?.MessageId === 'm-1' && sdkResults[8].MessageId === 'm-1'],
    ['aws_response_lambda_Invoke', same(at('lambda', 'Invoke')?.Payload, { ok: true }) &&
      at('lambda', 'Invoke')?.StatusCode === 200 && at('lambda', 'Invoke')?.ExecutedVersion === '7'],
    ['aws_response_s3_GetObject', at('s3', 'GetObject')?.Body === 'hello' && at('s3', 'GetObject')?.ETag === '"abc"' &&
      at('s3', 'GetObject')?.Metadata?.order === 'o-1' && at('s3', 'GetObject')?.ContentType === 'text/plain'],
    ['aws_response_s3_HeadObject', at('s3', 'HeadObject')?.ContentLength === 5 && !('Body' in (at('s3', 'HeadObject') || {}))],
    ['aws_response_s3_DeleteObject', at('s3', 'DeleteObject')?.VersionId === 'v1'],
    ['aws_response_json', same(at('dynamodb', 'GetItem'), {})],
  ];
  for (const [n, ok] of checks)
    console.log(ok ? `PASS ${n}` : `FAIL ${n}: ${JSON.stringify(dwfResults).slice(0, 600)}`);
}
