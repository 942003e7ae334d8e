// Beyond the seed: an execution that fails. Step "bad" throws a TypeError on its only attempt and
// nothing catches it, so the execution FAILS; extra/failing.dwf says the same in .dwf. What must
// agree: the operations (bad ends FAILED with the step's own error type) and the execution's error.
import { withDurableExecution, createRetryStrategy } from "@aws/durable-execution-sdk-js";

export const handler = withDurableExecution(async (event, context) => {
  await context.step("ok", async () => 1);
  await context.step("bad", async () => {
    throw new TypeError("nope");
  }, { retryStrategy: createRetryStrategy({ maxAttempts: 1 }) });
  return "unreachable";
});
