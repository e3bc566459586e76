// Part of `npm run bench -- checks`: 200 `http` checks against a local HTTP server, run by the agent
// with its default concurrency, against a bash loop making the same curl calls one by one (issue 16:
// target ≤ 0.6× the loop). Each check still runs its own curl, exactly the argv the check builds.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { defaultConcurrency } from "../agent/engine/concurrency.js";
import { runSuite } from "../agent/engine/run-suite.js";
import { curlArgv } from "../shared/model/kinds/http.js";
import { Status } from "../shared/model/status.js";
import { DEFAULT_CHECK_TIMEOUT, parseSuite } from "../shared/model/suite.js";
import { parseDuration } from "../shared/durations.js";
import type { Cleanup } from "./bench-cleanup.js";
import { busyFraction, hostCpu, processCpuSeconds } from "./bench-cpu.js";
import type { BenchResult } from "./bench-report.js";
import { since, summarize } from "./bench-stats.js";
import { AGENT_BIN } from "./local-fleet.js";

const CHECKS = 200;
const REPS = 5;

// A server of its own process, so neither side shares an event loop with it.
const SERVER = `
const http = require("node:http");
const server = http.createServer((req, res) => { res.writeHead(200, { "content-type": "text/plain" }); res.end("ok " + req.url); });
server.listen(0, "127.0.0.1", () => process.stdout.write(server.address().port + "\\n"));
`;

async function startServer(cleanup: Cleanup): Promise<{ port: number; stop: () => Promise<void> }> {
  const child = execa(process.execPath, ["-e", SERVER], { stdin: "ignore", reject: false, buffer: false });
  const stop = cleanup.add("http bench server", async () => {
    child.kill("SIGKILL");
    await child;
  });
  const port = await new Promise<number>((resolve, reject) => {
    let text = "";
    child.stdout?.on("data", (c: Buffer) => {
      text += c.toString();
      if (text.includes("\n")) resolve(Number(text.trim()));
    });
    child.once("exit", () => reject(new Error("the bench HTTP server exited before it listened")));
  });
  return { port, stop };
}

const quote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

export async function benchHttpChecks(cleanup: Cleanup, say: (text: string) => void): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "fleetgate-bench-http-"));
  const removeDir = cleanup.add("http bench dir", () => rmSync(dir, { recursive: true, force: true }));
  const server = await startServer(cleanup);
  try {
    const urls = Array.from({ length: CHECKS }, (_, i) => `http://127.0.0.1:${server.port}/health/${i + 1}`);
    const yaml = `suite: bench-http\nchecks:\n${urls.map((u, i) => `  - id: http-${i + 1}\n    http: { url: "${u}", status: 200 }\n`).join("")}`;
    const suiteFile = join(dir, "bench-http.suite.yaml");
    writeFileSync(suiteFile, yaml);
    const suite = parseSuite(yaml, suiteFile);
    // The loop runs the very argv each check runs, one call after another, output discarded.
    const timeoutMs = parseDuration(DEFAULT_CHECK_TIMEOUT);
    const loop = urls.map((url) => `${curlArgv({ url, status: 200 } as Parameters<typeof curlArgv>[0], timeoutMs).map(quote).join(" ")} >/dev/null || exit 1`).join("\n");
    const loopFile = join(dir, "loop.sh");
    writeFileSync(loopFile, `${loop}\n`);

    // CPU of this process and its curl children per check, and how busy the whole host was.
    const cpu = { perCheck: [] as number[], host: [] as number[] };
    const inProcess = async (concurrency?: number) => {
      const [cpuBefore, hostBefore] = [processCpuSeconds(process.pid), hostCpu()];
      const start = performance.now();
      const out = await runSuite(suite, { allowDestructive: false, env: process.env, concurrency });
      const ms = since(start);
      if (out.status !== Status.PASSED || out.results.length !== CHECKS) throw new Error(`http bench: suite did not pass: ${out.summary}`);
      const [cpuAfter, busy] = [processCpuSeconds(process.pid), busyFraction(hostBefore, hostCpu())];
      if (concurrency === undefined && cpuBefore !== undefined && cpuAfter !== undefined && busy !== undefined) {
        cpu.perCheck.push(((cpuAfter - cpuBefore) * 1000) / CHECKS);
        cpu.host.push(busy * 100);
      }
      return ms;
    };
    const wholeProcess = async () => {
      const start = performance.now();
      const r = await execa(process.execPath, [AGENT_BIN, "check", suiteFile, "--format", "json"], { reject: false, stdin: "ignore" });
      if (r.exitCode !== 0) throw new Error(`http bench: fleetgate-agent check exited ${r.exitCode}: ${String(r.stderr).slice(0, 300)}`);
      return since(start);
    };
    const bashLoop = async () => {
      const start = performance.now();
      const r = await execa("bash", [loopFile], { reject: false, stdin: "ignore" });
      if (r.exitCode !== 0) throw new Error(`http bench: the curl loop exited ${r.exitCode}: ${String(r.stderr).slice(0, 300)}`);
      return since(start);
    };

    say(`http checks: warming up (one run of each: ${CHECKS} checks in process, the agent's check command, the bash loop)`);
    await inProcess();
    await wholeProcess();
    await bashLoop();
    const t = { parallel: [] as number[], serial: [] as number[], whole: [] as number[], loop: [] as number[] };
    const ratio = { parallel: [] as number[], whole: [] as number[] };
    for (let rep = 0; rep < REPS; rep++) {
      // Interleaved, so a burst of other work on the host hits every side alike.
      const loopMs = await bashLoop();
      const parallelMs = await inProcess();
      const serialMs = await inProcess(1);
      const wholeMs = await wholeProcess();
      t.loop.push(loopMs / 1000);
      t.parallel.push(parallelMs / 1000);
      t.serial.push(serialMs / 1000);
      t.whole.push(wholeMs / 1000);
      ratio.parallel.push(parallelMs / loopMs);
      ratio.whole.push(wholeMs / loopMs);
      say(`http checks: repetition ${rep + 1}/${REPS}: loop ${(loopMs / 1000).toFixed(2)} s, runSuite ${(parallelMs / 1000).toFixed(2)} s (${(parallelMs / loopMs).toFixed(2)}×), one by one ${(serialMs / 1000).toFixed(2)} s, check command ${(wholeMs / 1000).toFixed(2)} s`);
    }
    const n = defaultConcurrency();
    const cores = availableParallelism();
    const parallelRatio = summarize(ratio.parallel).median;
    // The warm-up run measured CPU too; only the measured repetitions count.
    cpu.perCheck.splice(0, cpu.perCheck.length - REPS);
    cpu.host.splice(0, cpu.host.length - REPS);
    const cpuRows: BenchResult["rows"] =
      cpu.perCheck.length === REPS
        ? [
            { measure: `CPU per check, concurrency ${n}: this process and its curl child together`, unit: "CPU ms", better: "lower", summary: summarize(cpu.perCheck) },
            { measure: `host CPU busy during the concurrency-${n} run (every process on the host)`, unit: "%", better: "lower", summary: summarize(cpu.host) },
          ]
        : [];
    const cpuMs = cpu.perCheck.length ? summarize(cpu.perCheck).median : Number.NaN;
    return {
      title: `${CHECKS} \`http\` checks in parallel vs a bash loop of the same curl calls`,
      method:
        `A suite of ${CHECKS} checks \`http: { url: http://127.0.0.1:PORT/health/N, status: 200 }\` against a Node HTTP server in its own process. ` +
        `Run by \`runSuite\` in process with the default concurrency (${n} here: twice the cores, at most 8), by \`runSuite\` with concurrency 1, and by a whole \`fleetgate-agent check --format json\` process; ` +
        `against \`bash loop.sh\`: the same ${CHECKS} curl commands, the exact argv each check runs, one after another. ` +
        `Warm-up one run of each, then ${REPS} interleaved repetitions; a ratio is per repetition (agent ÷ loop of the same repetition). Target: ≤ 0.6×.`,
      rows: [
        { measure: `bash loop of ${CHECKS} curl calls`, unit: "s", better: "lower", summary: summarize(t.loop) },
        { measure: `runSuite, concurrency ${n} (the default)`, unit: "s", better: "lower", summary: summarize(t.parallel) },
        { measure: "runSuite, concurrency 1 (one by one, as before)", unit: "s", better: "lower", summary: summarize(t.serial) },
        { measure: `\`fleetgate-agent check\`, whole process (Node start included), concurrency ${n}`, unit: "s", better: "lower", summary: summarize(t.whole) },
        { measure: "runSuite (default concurrency) ÷ bash loop", unit: "×", better: "lower", summary: summarize(ratio.parallel) },
        { measure: "whole `fleetgate-agent check` ÷ bash loop", unit: "×", better: "lower", summary: summarize(ratio.whole) },
        ...cpuRows,
      ],
      bound:
        `CPU: each check is still one curl process, and spawning it costs the agent more CPU than bash's fork/exec` +
        (Number.isFinite(cpuMs)
          ? ` (about ${cpuMs.toFixed(1)} CPU ms a check, the agent and curl together, against ${((summarize(t.loop).median * 1000) / CHECKS).toFixed(1)} ms of wall time a call for the loop: ` +
            `with all ${cores} cores to itself the agent could reach ${(cpuMs / cores / ((summarize(t.loop).median * 1000) / CHECKS)).toFixed(2)}×, the rest is other work on the host)`
          : "") +
        `; in parallel the ${CHECKS} spawns are shared over the cores, so the ratio falls as the per-spawn cost does (the cheaper-spawns part of issue 16), ` +
        `${parallelRatio <= 0.6 ? "within" : "not within"} the 0.6× target here (median ${parallelRatio.toFixed(2)}×); the whole process adds Node's start, module loading and prlimit around each curl (the check command's default CPU limit).`,
    };
  } finally {
    await server.stop();
    await removeDir();
  }
}
