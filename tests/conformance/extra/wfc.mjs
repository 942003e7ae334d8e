// Beyond the seed: waitForCallback (a CONTEXT holding a CALLBACK and a submitter STEP), whose
// CONTEXT payload is the callback's raw result JSON-encoded once more, then a step using it.
// extra/wfc.dwf says the same in .dwf. The callback is completed from outside with the same text
// as the approval case.
import { withDurableExecution } from "@aws/durable-execution-sdk-js";

export const handler = withDurableExecution(async (event, context) => {
  const decision = await context.waitForCallback("manager-approval", async (callbackId, ctx) => {
    ctx.logger.info(`submit ${callbackId}`);
  }, { timeout: { seconds: 60 } });

  const done = await context.step("after", async () => ({ decision, length: decision.length }));
  return { decision, done };
});
