// example.mjs: examples/orders_aws.dwf's table in dynalite, and what a run of it left in dynalite
// and s3rver, read with the official clients (AWS_ENDPOINT_URL_DYNAMODB / _S3 name them).
//   node example.mjs setup TABLE                        creates TABLE (hash key orderId)
//   node example.mjs read TABLE BUCKET ORDER_ID KEY     prints {"item": .., "receipt": ..}:
//     the item as DynamoDB holds it (attribute-value form, or null), the object KEY of BUCKET
//     as {contentType, body} (body parsed as JSON when it is JSON; null when there is none)
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { DynamoDBClient, CreateTableCommand, GetItemCommand } = require('@aws-sdk/client-dynamodb');
const { S3Client, GetObjectCommand } = require('@aws-sdk/client-s3');

const [cmd, table, ...rest] = process.argv.slice(2);
const ddb = new DynamoDBClient({});
if (cmd === 'setup') {
  await ddb.send(new CreateTableCommand({
    TableName: table, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'orderId', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'orderId', KeyType: 'HASH' }],
  }));
  console.log(`table ${table} created`);
} else if (cmd === 'read') {
  const [bucket, orderId, key] = rest;
  const got = await ddb.send(new GetItemCommand({ TableName: table, Key: { orderId: { S: orderId } }, ConsistentRead: true }));
  let receipt = null;
  try {
    const obj = await new S3Client({ forcePathStyle: true }).send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const text = await obj.Body.transformToString();
    let body = text;
    try { body = JSON.parse(text); } catch { /* kept as text */ }
    receipt = { contentType: obj.ContentType, body };
  } catch (e) {
    if (e.name !== 'NoSuchKey') throw e;
  }
  console.log(JSON.stringify({ item: got.Item ?? null, receipt }));
} else {
  console.error('usage: node example.mjs setup TABLE | read TABLE BUCKET ORDER_ID KEY');
  process.exit(2);
}
