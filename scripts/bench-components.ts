// The in-process benchmarks of `npm run bench`: suite parsing and the local check engine (the
// store's are in bench-store.ts). Each does a warm-up first (JIT, execa's first spawn), then measures.
import { readFileSync } from "node:fs";
import { parseDocument } from "yaml";
import { runSuite } from "../agent/engine/run-suite.js";
import { Status } from "../shared/model/status.js";
import { parseSuite } from "../shared/model/suite.js";
import { busyFraction, hostCpu, processCpuSeconds } from "./bench-cpu.js";
import type { BenchResult } from "./bench-report.js";
import { since, summarize } from "./bench-stats.js";

export type Progress = (text: string) => void;

const PARSE_REPS = 7;
const PARSE_BATCH_MS = 300;

/** parseSuite on a real example suite: YAML with line numbers, zod validation, resolution. */
export function benchParse(file: string, say: Progress): BenchResult {
  const text = readFileSync(file, "utf8");
  const name = file.split("/").pop() ?? file;
  say(`parse: warming up on ${name}`);
  let warm = 0;
  const warmStart = performance.now();
  while (since(warmStart) < 500) {
    parseSuite(text, file);
    warm++;
  }
  // Batches sized from the warm-up rate so each repetition lasts about PARSE_BATCH_MS.
  const batch = Math.max(20, Math.round((warm / 500) * PARSE_BATCH_MS));
  const rates: number[] = [];
  const latencies: number[] = [];
  const yamlOnly: number[] = [];
  for (let rep = 0; rep < PARSE_REPS; rep++) {
    const start = performance.now();
    for (let i = 0; i < batch; i++) {
      const t = performance.now();
      parseSuite(text, file);
      latencies.push(since(t));
    }
    rates.push(batch / (since(start) / 1000));
    // The YAML layer alone, to show how the time splits between YAML and validation.
    for (let i = 0; i < Math.min(batch, 200); i++) {
      const t = performance.now();
      parseDocument(text);
      yamlOnly.push(since(t));
    }
    say(`parse: repetition ${rep + 1}/${PARSE_REPS}: ${Math.round(rates[rates.length - 1] as number)} parses/s`);
  }
  const share = summarize(yamlOnly).median / summarize(latencies).median;
  return {
    title: "Suite parsing (`parseSuite`)",
    method:
      `\`parseSuite\` of \`test/examples/${name}\` (${text.length} bytes, ${parseSuite(text, file).checks.length} checks), in process. ` +
      `Warm-up 0.5 s (${warm} parses), then ${PARSE_REPS} repetitions of ${batch} parses each; every parse is also timed alone. ` +
      "The last row times only `yaml`'s `parseDocument` of the same text, for comparison.",
    rows: [
      { measure: "parses per second, per repetition", unit: "parses/s", better: "higher", summary: summarize(rates) },
      { measure: "one parseSuite call", unit: "ms", better: "lower", summary: summarize(latencies) },
      { measure: "YAML parse only (`parseDocument`)", unit: "ms", better: "lower", summary: summarize(yamlOnly) },
    ],
    bound: `one core of JavaScript: the YAML parse with line counting is about ${Math.round(share * 100)} % of a call, zod validation and resolution the rest; no I/O.`,
  };
}

const ENGINE_CHECKS = 20;
const ENGINE_REPS = 5;

/** runSuite on this host: 20 checks that each spawn `true`. */
export async function benchEngine(say: Progress): Promise<BenchResult> {
  const checks = Array.from({ length: ENGINE_CHECKS }, (_, i) => `  - id: true-${i + 1}\n    command: { argv: ["true"] }\n`).join("");
  const suite = parseSuite(`suite: bench-true\nchecks:\n${checks}`, "bench-true.suite.yaml");
  const runOnce = async (): Promise<{ ms: number; perCheck: number[] }> => {
    const perCheck: number[] = [];
    const start = performance.now();
    let last = start;
    const out = await runSuite(suite, {
      allowDestructive: false,
      env: process.env,
      // One by one: this measures one check's cost (the parallel figure is bench-http-checks.ts).
      concurrency: 1,
      onResult: () => {
        const now = performance.now();
        perCheck.push(now - last);
        last = now;
      },
    });
    if (out.status !== Status.PASSED || out.results.length !== ENGINE_CHECKS) throw new Error(`engine bench: suite did not pass: ${out.summary}`);
    return { ms: since(start), perCheck };
  };

  say(`engine: warming up (one run of ${ENGINE_CHECKS} checks)`);
  await runOnce();
  const rates: number[] = [];
  const perCheck: number[] = [];
  const cpu: number[] = [];
  const host: number[] = [];
  for (let rep = 0; rep < ENGINE_REPS; rep++) {
    const cpuBefore = processCpuSeconds(process.pid);
    const hostBefore = hostCpu();
    const r = await runOnce();
    const cpuAfter = processCpuSeconds(process.pid);
    const busy = busyFraction(hostBefore, hostCpu());
    if (cpuBefore !== undefined && cpuAfter !== undefined && busy !== undefined) {
      cpu.push(((cpuAfter - cpuBefore) * 1000) / ENGINE_CHECKS);
      host.push(busy * 100);
    }
    rates.push(ENGINE_CHECKS / (r.ms / 1000));
    perCheck.push(...r.perCheck);
    say(`engine: repetition ${rep + 1}/${ENGINE_REPS}: ${Math.round(rates[rep] as number)} checks/s`);
  }
  const cpuRows: BenchResult["rows"] =
    cpu.length === ENGINE_REPS
      ? [
          { measure: "CPU per check: this process and its `true` child together", unit: "CPU ms", better: "lower", summary: summarize(cpu) },
          { measure: "host CPU busy during the run (every process on the host)", unit: "%", better: "lower", summary: summarize(host) },
        ]
      : [];
  const cpuPerCheck = cpu.length ? summarize(cpu).median : Number.NaN;
  return {
    title: "Local check engine: `runSuite`",
    method:
      `\`runSuite\` in process on a suite of ${ENGINE_CHECKS} checks \`command: { argv: ["true"] }\` (default timeout, no retry). ` +
      `Warm-up one run, then ${ENGINE_REPS} repetitions; the per-check time is the gap between consecutive results.`,
    rows: [
      { measure: "checks per second, per suite run", unit: "checks/s", better: "higher", summary: summarize(rates) },
      { measure: "one check (spawn `true`, wait, evaluate)", unit: "ms", better: "lower", summary: summarize(perCheck) },
      ...cpuRows,
    ],
    bound:
      "process spawn: each check is a fork/exec of `true` through execa (process group, output capture)" +
      (Number.isFinite(cpuPerCheck) ? `, about ${cpuPerCheck.toFixed(0)} ms of CPU (this process and the child together)` : "") +
      "; checks run one after another, so a suite's speed is one spawn's cost and more cores would not make one suite faster.",
  };
}
