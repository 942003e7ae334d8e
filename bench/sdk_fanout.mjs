// Benchmark: the seed's parallel/map function (tests/conformance/seed/fanout.mjs: a parallel of three
// CPU-bound branches of 500, 300 and 400 ms, then a map over three 200 ms items) on the official
// SDK's LocalDurableTestRunner, the JavaScript side of the fan-out comparison with dwf. Real timers
// (skipTime false: under skipTime Date.now() is frozen and the busy-waits never end).
//
// Prints one JSON line per run and a summary line: total wall time, and the two phases as the article
// measures them, from the handler's own Date.now() values: parallel = handler start to the last
// branch result, map = last branch result to the last item result. The ideal with real parallelism
// would be 500 ms and 200 ms; one JS thread gives about 1,200 and 600. Each run is checked: status
// SUCCEEDED and all six results present, else exit 1.
//
//   node bench/sdk_fanout.mjs [--runs R]        (default 3)
import { register } from "node:module";
import { readFileSync } from "node:fs";

register("../tests/node/resolve-hook.mjs", import.meta.url);

const i = process.argv.indexOf("--runs");
const RUNS = i > 0 ? Number(process.argv[i + 1]) : 3;

const { LocalDurableTestRunner } = await import("@aws/durable-execution-sdk-js-testing");
const seed = await import(new URL("../tests/conformance/seed/fanout.mjs", import.meta.url).href);
const sdkVersion = JSON.parse(readFileSync(new URL(
  "../tests/node/node_modules/@aws/durable-execution-sdk-js/package.json", import.meta.url))).version;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
await LocalDurableTestRunner.setupTestEnvironment({ skipTime: false });
try {
  for (let r = 0; r < RUNS; r++) {
    let handlerStart = null;
    const wrapped = async (event, ctx) => {
      handlerStart ??= Date.now();
      return seed.handler(event, ctx);
    };
    const runner = new LocalDurableTestRunner({ handlerFunction: wrapped });
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const execution = await runner.run({ payload: {} });
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpu = process.cpuUsage(cpu0);
    const res = execution.getResult();
    const par = res?.parallel?.results ?? [], map = res?.map?.results ?? [];
    if (execution.getStatus() !== "SUCCEEDED" || par.length !== 3 || map.length !== 3) {
      process.stderr.write(`sdk_fanout: run ${r} ended ${execution.getStatus()}: ${JSON.stringify(res)}\n`);
      process.exit(1);
    }
    const parEnd = Math.max(...par.map((x) => x.timestamp)), mapEnd = Math.max(...map.map((x) => x.timestamp));
    const row = {
      bench: "sdk_fanout", run: r,
      wall_ms: +wallMs.toFixed(1),
      parallel_ms: parEnd - handlerStart, map_ms: mapEnd - parEnd,
      branch_finish_offsets_ms: par.map((x) => x.timestamp - Math.min(...par.map((y) => y.timestamp))),
      cpu_ms: +((cpu.user + cpu.system) / 1000).toFixed(1),
      invocations: execution.getInvocations().length,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
} finally {
  await LocalDurableTestRunner.teardownTestEnvironment();
}
console.log(JSON.stringify({
  bench: "sdk_fanout", summary: true, runs: RUNS,
  median_wall_ms: median(rows.map((x) => x.wall_ms)),
  median_parallel_ms: median(rows.map((x) => x.parallel_ms)),
  median_map_ms: median(rows.map((x) => x.map_ms)),
  peak_rss_kib: process.resourceUsage().maxRSS, node: process.version, sdk: sdkVersion,
}));
