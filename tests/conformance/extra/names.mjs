// Beyond the seed: names and concurrency limits of batches. A named parallel with two named
// branches and one unnamed, run one at a time (maxConcurrency 1); a named map whose items are named
// by an itemNamer, two at a time. extra/names.dwf says the same in .dwf. All payloads deterministic.
import { withDurableExecution } from "@aws/durable-execution-sdk-js";

export const handler = withDurableExecution(async (event, context) => {
  const par = await context.parallel("checks", [
    { name: "first", func: async (ctx) => ctx.step("a", async () => "A") },
    { name: "second", func: async (ctx) => ctx.step("b", async () => "B") },
    async (ctx) => ctx.step("c", async () => "C"),
  ], { maxConcurrency: 1 });

  const m = await context.map("items", ["x", "y", "z"], async (ctx, it, i) =>
    ctx.step(`do-${it}`, async () => `${it}${i}`),
  { maxConcurrency: 2, itemNamer: (it, i) => `item-${it}-${i}` });

  return {
    par: par.getResults(),
    parTotal: par.totalCount,
    map: m.getResults(),
    mapStatus: m.status,
  };
});
