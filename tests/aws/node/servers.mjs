// servers.mjs: dynalite (DynamoDB) and s3rver (S3) on 127.0.0.1, on ports the OS picks, for the
// aws suite. Prints one line of JSON {"dynamodb": <port>, "s3": <port>} once both listen, and
// stops both when its standard input closes (the test's end) or on SIGTERM.
//   node servers.mjs S3_DIRECTORY BUCKET...
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const dynalite = require('dynalite');
const S3rver = require('s3rver');

const [dir, ...buckets] = process.argv.slice(2);
const ddb = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
await new Promise((resolve, reject) => ddb.listen(0, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
const s3 = new S3rver({
  address: '127.0.0.1', port: 0, silent: true, directory: dir,
  configureBuckets: buckets.map((name) => ({ name, configs: [] })),
});
const s3addr = await s3.run();
console.log(JSON.stringify({ dynamodb: ddb.address().port, s3: s3addr.port }));

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await new Promise((r) => ddb.close(() => r()));
  await s3.close();
  process.exit(0);
}
process.stdin.on('end', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
