// setup.mjs: the table the aws suite's workflow writes (tests/aws/orders.dwf), made with the
// official client against dynalite. AWS_ENDPOINT_URL_DYNAMODB names dynalite.
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { DynamoDBClient, CreateTableCommand } = require('@aws-sdk/client-dynamodb');
const ddb = new DynamoDBClient({});
await ddb.send(new CreateTableCommand({
  TableName: 'orders', BillingMode: 'PAY_PER_REQUEST',
  AttributeDefinitions: [{ AttributeName: 'customer', AttributeType: 'S' }, { AttributeName: 'id', AttributeType: 'S' }],
  KeySchema: [{ AttributeName: 'customer', KeyType: 'HASH' }, { AttributeName: 'id', KeyType: 'RANGE' }],
}));
console.log('table orders created');
