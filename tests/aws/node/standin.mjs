// standin.mjs: what examples/orders_aws.dwf calls besides DynamoDB and S3, for the aws suite's
// aws_example_* tests, on 127.0.0.1: Secrets Manager (GetSecretValue of SECRET_ID, whose
// SecretString is {"apiKey": API_KEY}), SQS (SendMessage, JSON protocol) and the payment API
// (POST /charges, which answers 401 unless the Authorization header is "Bearer API_KEY").
// Every request is appended to RECORD_FILE as one JSON line: {service, action, body} for the
// AWS ones (with whether the request was signed with SigV4), {service: "charge", sawKey,
// idempotencyKey, body} for charges; the key itself is never written there. Prints
// {"port": N}; stops when standard input closes.
//   node standin.mjs RECORD_FILE SECRET_ID API_KEY
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';

const [recordFile, secretId, apiKey] = process.argv.slice(2);
let charges = 0;
const record = (r) => fs.appendFileSync(recordFile, JSON.stringify(r) + '\n');
const reply = (res, status, type, obj) => {
  res.writeHead(status, { 'content-type': type, 'x-amzn-requestid': crypto.randomUUID() });
  res.end(JSON.stringify(obj));
};

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    let body = null;
    try { body = JSON.parse(text); } catch { body = text; }
    const target = String(req.headers['x-amz-target'] || '');
    const signed = /^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[a-z0-9-]+\/[a-z]+\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/
      .test(String(req.headers.authorization || ''));
    if (target === 'secretsmanager.GetSecretValue') {
      record({ service: 'secretsmanager', action: 'GetSecretValue', signed, body });
      if (body.SecretId !== secretId) {
        return reply(res, 400, 'application/x-amz-json-1.1', {
          __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
      }
      return reply(res, 200, 'application/x-amz-json-1.1', {
        ARN: `arn:aws:secretsmanager:us-east-1:123456789012:secret:${secretId}-AbCdEf`, Name: secretId,
        SecretString: JSON.stringify({ apiKey }), VersionId: 'v1', VersionStages: ['AWSCURRENT'],
      });
    }
    if (target === 'AmazonSQS.SendMessage') {
      record({ service: 'sqs', action: 'SendMessage', signed, body });
      const md5 = crypto.createHash('md5').update(String(body.MessageBody)).digest('hex');
      return reply(res, 200, 'application/x-amz-json-1.0', { MessageId: crypto.randomUUID(), MD5OfMessageBody: md5 });
    }
    if (req.method === 'POST' && req.url === '/charges') {
      const sawKey = req.headers.authorization === `Bearer ${apiKey}`;
      record({ service: 'charge', sawKey, idempotencyKey: req.headers['idempotency-key'] || null, body });
      if (!sawKey) return reply(res, 401, 'application/json', { error: 'unauthorized' });
      charges++;
      return reply(res, 200, 'application/json', { id: `ch_${charges}`, status: 'succeeded' });
    }
    record({ service: 'unknown', method: req.method, url: req.url, target });
    reply(res, 400, 'application/json', { __type: 'UnknownOperationException', message: target || req.url });
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
process.stdin.on('end', () => server.close(() => process.exit(0)));
process.stdin.resume();
