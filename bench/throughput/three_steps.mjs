// bench/throughput/three_steps.mjs: the same three-step function as three_steps.dwf, written with
// the official durable SDK (@aws/durable-execution-sdk-js); bench/throughput.sh serves it on
// `dwf serve` under the official Node.js runtime interface client (aws-lambda-ric).
import { withDurableExecution } from "@aws/durable-execution-sdk-js";

export const handler = withDurableExecution(async (event, context) => {
  const id = event.id ?? "none";
  const a = await context.step("reserve", async () => ({ id, reserved: true }));
  const b = await context.step("charge", async () => ({ id, charged: 100 }));
  const c = await context.step("confirm", async () => ({ id, confirmed: true }));
  return { id, a, b, c };
});
