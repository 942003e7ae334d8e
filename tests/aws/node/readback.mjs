// readback.mjs: what the aws suite's workflow left in dynalite and s3rver, read with the
// official clients (AWS_ENDPOINT_URL_DYNAMODB / _S3 name them). Prints PASS/FAIL lines.
//   node readback.mjs CUSTOMER
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { DynamoDBClient, GetItemCommand } = require('@aws-sdk/client-dynamodb');
const { S3Client, GetObjectCommand, HeadObjectCommand } = require('@aws-sdk/client-s3');
const customer = process.argv[2];
const ddb = new DynamoDBClient({});
const s3 = new S3Client({ forcePathStyle: true });
const check = (name, ok, detail) => console.log(ok ? `PASS ${name}` : `FAIL ${name}: ${detail}`);

const o1 = (await ddb.send(new GetItemCommand({ TableName: 'orders', Key: { customer: { S: customer }, id: { S: 'o1' } } }))).Item;
check('aws_readback_item_updated', o1?.status?.S === 'paid' && o1?.total?.N === '12.5', JSON.stringify(o1));
const o2 = (await ddb.send(new GetItemCommand({ TableName: 'orders', Key: { customer: { S: customer }, id: { S: 'o2' } } }))).Item;
check('aws_readback_item_written', o2?.status?.S === 'new' && o2?.total?.N === '3', JSON.stringify(o2));

const obj = await s3.send(new GetObjectCommand({ Bucket: 'receipts', Key: `r/${customer}/o1 receipt.json` }));
const text = await obj.Body.transformToString();
let body = null;
try { body = JSON.parse(text); } catch { /* reported below */ }
check('aws_readback_object', body && body.order === 'o1' && body.status === 'paid' && body.total === 12.5 &&
  obj.ContentType === 'application/json', `${obj.ContentType} ${text}`);
let gone = 'still there';
try { await s3.send(new HeadObjectCommand({ Bucket: 'receipts', Key: 'tmp/scratch.txt' })); } catch (e) { gone = e.name; }
check('aws_readback_object_deleted', gone === 'NotFound', gone);
