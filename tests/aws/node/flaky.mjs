// flaky.mjs: a DynamoDB stand-in that fails on purpose, for the aws suite's retry tests. GetItem
// is throttled once (400 ThrottlingException), DeleteItem fails once with a 500, PutItem always
// fails its condition (400 ConditionalCheckFailedException), TransactWriteItems fails once with
// a 500 and then succeeds, each one's ClientRequestToken (null when absent) appended to
// TOKENS_FILE as a JSON line. Every answer rewrites COUNTS_FILE with how many requests each
// action got. Prints its port; stops when stdin closes.
//   node flaky.mjs COUNTS_FILE [TOKENS_FILE]
import http from 'node:http';
import fs from 'node:fs';
const counts = {};
const fail = (res, status, type, message) => {
  res.writeHead(status, { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'req-1' });
  res.end(JSON.stringify({ __type: `com.amazonaws.dynamodb.v20120810#${type}`, message }));
};
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const action = String(req.headers['x-amz-target'] || '').split('.')[1] || '?';
    const n = (counts[action] = (counts[action] || 0) + 1);
    fs.writeFileSync(process.argv[2], JSON.stringify(counts));
    if (action === 'GetItem' && n === 1) return fail(res, 400, 'ThrottlingException', 'Rate exceeded');
    if (action === 'DeleteItem' && n === 1) return fail(res, 500, 'InternalServerError', 'try again');
    if (action === 'TransactWriteItems') {
      let token = null;
      try { token = JSON.parse(Buffer.concat(chunks).toString('utf8')).ClientRequestToken ?? null; } catch { /* null */ }
      if (process.argv[3]) fs.appendFileSync(process.argv[3], JSON.stringify(token) + '\n');
      if (n === 1) return fail(res, 500, 'InternalServerError', 'try again');
    }
    if (action === 'PutItem') return fail(res, 400, 'ConditionalCheckFailedException', 'The conditional request failed');
    res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
    res.end(action === 'GetItem' ? '{"Item":{"id":{"S":"x"}}}' : '{}');
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
process.stdin.on('end', () => server.close(() => process.exit(0)));
process.stdin.resume();
