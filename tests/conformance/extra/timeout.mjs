// Beyond the seed: a callback nobody answers. It times out after 1 s, the handler catches the
// error and goes on with one more step. extra/timeout.dwf says the same in .dwf.
import { withDurableExecution } from "@aws/durable-execution-sdk-js";

export const handler = withDurableExecution(async (event, context) => {
  const [answer] = await context.createCallback("cb", { timeout: { seconds: 1 } });
  let caught = null;
  try {
    caught = await answer;
  } catch (err) {
    caught = { type: err.errorType, message: err.message };
  }
  const after = await context.step("after", async () => "done");
  return { caught, after };
});
