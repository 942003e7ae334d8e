// Benchmark: N trivial checkpointed steps (default 1,000) in one durable function on the official
// SDK's LocalDurableTestRunner, the JavaScript side of the step-throughput comparison with dwf.
// Prints one JSON line per run and a summary line: wall time per step, CPU (user+system), and the
// process's peak RSS. The run is checked, not trusted: the result and the number of SUCCEEDED STEP
// operations must both be N, else the script exits 1 without printing numbers.
//
//   node bench/sdk_steps.mjs [--steps N] [--runs R] [--skip-time]
// Real timers by default: nothing here waits. --skip-time runs the runner with fake timers
// (skipTime true), which costs about 20 ms of wall time per step here instead of about 2 ms; the
// "20 ms per step" sometimes quoted for the SDK was measured that way.
import { register } from "node:module";

register("../tests/node/resolve-hook.mjs", import.meta.url);

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const STEPS = arg("steps", 1000), RUNS = arg("runs", 1);
const SKIP_TIME = process.argv.includes("--skip-time");

const { withDurableExecution } = await import("@aws/durable-execution-sdk-js");
const { LocalDurableTestRunner } = await import("@aws/durable-execution-sdk-js-testing");
const { readFileSync } = await import("node:fs");
const sdkVersion = JSON.parse(readFileSync(new URL(
  "../tests/node/node_modules/@aws/durable-execution-sdk-js/package.json", import.meta.url))).version;

const handler = withDurableExecution(async (event, context) => {
  let sum = 0;
  for (let i = 0; i < event.steps; i++) sum += await context.step(`step-${i}`, async () => 1);
  return sum;
});

const rssAtStartKiB = Math.round(process.memoryUsage().rss / 1024);
await LocalDurableTestRunner.setupTestEnvironment({ skipTime: SKIP_TIME });
const walls = [];
try {
  for (let r = 0; r < RUNS; r++) {
    const runner = new LocalDurableTestRunner({ handlerFunction: handler });
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const execution = await runner.run({ payload: { steps: STEPS } });
    const wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpu = process.cpuUsage(cpu0);
    const steps = execution.getOperations().filter((o) => {
      const d = o.getOperationData();
      return d.Type === "STEP" && d.Status === "SUCCEEDED";
    }).length;
    if (execution.getStatus() !== "SUCCEEDED" || execution.getResult() !== STEPS || steps !== STEPS) {
      process.stderr.write(`sdk_steps: run ${r} ended ${execution.getStatus()} with result ` +
        `${JSON.stringify(execution.getResult())} and ${steps} succeeded steps, expected ${STEPS}\n`);
      process.exit(1);
    }
    walls.push(wallMs);
    console.log(JSON.stringify({
      bench: "sdk_steps", run: r, steps: STEPS, skip_time: SKIP_TIME,
      wall_ms: +wallMs.toFixed(1), ms_per_step: +(wallMs / STEPS).toFixed(3),
      cpu_user_ms: +(cpu.user / 1000).toFixed(1), cpu_system_ms: +(cpu.system / 1000).toFixed(1),
      cpu_ms_per_step: +((cpu.user + cpu.system) / 1000 / STEPS).toFixed(3),
      invocations: execution.getInvocations().length,
    }));
  }
} finally {
  await LocalDurableTestRunner.teardownTestEnvironment();
}
walls.sort((a, b) => a - b);
const ru = process.resourceUsage();
console.log(JSON.stringify({
  bench: "sdk_steps", summary: true, steps: STEPS, runs: RUNS, skip_time: SKIP_TIME,
  median_wall_ms: +walls[Math.floor(walls.length / 2)].toFixed(1),
  median_ms_per_step: +(walls[Math.floor(walls.length / 2)] / STEPS).toFixed(3),
  process_cpu_user_ms: +(ru.userCPUTime / 1000).toFixed(1), process_cpu_system_ms: +(ru.systemCPUTime / 1000).toFixed(1),
  peak_rss_kib: ru.maxRSS, rss_after_load_kib: rssAtStartKiB,
  node: process.version, sdk: sdkVersion,
}));
