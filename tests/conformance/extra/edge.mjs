// Beyond the seed: one function exercising what the seed does not, written so that
// tests/conformance/extra/edge.dwf can say exactly the same thing (same operations, same order,
// same names, same options) and every payload is deterministic, so dwf's must match byte for byte:
//   1 "values"        a step returning awkward JSON (float rounding, exponents, escapes, unicode)
//   2 "always-fails"  a step failing both of its 2 attempts (1 s apart, no jitter), caught
//   3 (map)           3 items, the second fails (1 attempt), 1 failure tolerated
//   4 "grp"           a child context holding step "inner"
//   5 "poll-count"    waitForCondition counting to 3, 1 s apart, no jitter
import {
  withDurableExecution, createRetryStrategy, createWaitStrategy, JitterStrategy,
} from "@aws/durable-execution-sdk-js";

export const handler = withDurableExecution(async (event, context) => {
  const values = await context.step("values", async () => ({
    sum: 0.1 + 0.2,
    third: 1 / 3,
    big: 1e21,
    small: 0.0000005,
    whole: 4980.0,
    text: "h\u00e9llo \"q\" \\ tab\there /slash \u2028 \u{1F600}",
    nested: [1, [2, [3]], {}, []],
    nothing: null,
    yes: true,
  }));

  let caught = null;
  try {
    await context.step("always-fails", async () => {
      throw new Error("boom");
    }, { retryStrategy: createRetryStrategy({ maxAttempts: 2, initialDelay: { seconds: 1 }, jitter: JitterStrategy.NONE }) });
  } catch (err) {
    caught = { type: err.errorType, message: err.message };
  }

  const m = await context.map([1, 2, 3], async (ctx, it, i) => {
    const w = await ctx.step(`work-${i}`, async () => {
      if (it === 2) throw new Error("item 2 is bad");
      return it * 10;
    }, { retryStrategy: createRetryStrategy({ maxAttempts: 1 }) });
    return w;
  }, { completionConfig: { toleratedFailureCount: 1 } });

  const g = await context.runInChildContext("grp", async (c) => {
    const a = await c.step("inner", async () => 1);
    return a + 1;
  });

  const p = await context.waitForCondition("poll-count", async (state) => ({ n: state.n + 1 }), {
    initialState: { n: 0 },
    waitStrategy: createWaitStrategy({
      shouldContinuePolling: (state) => !(state.n >= 3),
      initialDelay: { seconds: 1 }, backoffRate: 1, jitter: JitterStrategy.NONE,
    }),
  });

  return {
    values,
    caught,
    map: {
      results: m.getResults(),
      successCount: m.successCount,
      failureCount: m.failureCount,
      totalCount: m.totalCount,
      status: m.status,
      reason: m.completionReason,
    },
    group: g,
    poll: p,
  };
});
