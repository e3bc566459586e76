// The load tool: a real `coord serve` and N simulated agents (real gRPC agent streams, synthetic
// check results) held by a few worker processes; measures registration, one fleet run of a
// 20-check suite on every node, and the coordinator's memory and CPU. Used by `npm run bench --
// scale` and alone:
//   node dist/scripts/load-agents.js --nodes 1000 [--workers 3] [--runs 1] [--tls] [--check-ms 0] [--fail-rate 0] [--json]
// (`--help` lists every flag).
import Database from "better-sqlite3";
import { Command, InvalidArgumentError } from "commander";
import { execa } from "execa";
import { fork, type ChildProcess } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { processCpuSeconds } from "./bench-cpu.js";
import type { WorkerConfig, WorkerReport } from "./load-agent-worker.js";
import { COORD_BIN, coord, startCoordinator, stopWithin, waitFor, type Coordinator } from "./local-fleet.js";

export interface LoadOptions {
  nodes: number;
  /** Worker processes holding the simulated agents. */
  workers: number;
  /** Serve TLS (node certificates issued at enrollment, as by default); false: `coord serve --insecure`. */
  tls: boolean;
  checks: number;
  /** How many times the fleet run is made, one after the other on the same coordinator and agents. */
  runs: number;
  checkMs: number;
  failRate: number;
  /** Where the coordinator keeps its state; kept afterwards when given, else a temp dir removed at the end. */
  stateDir?: string;
  /** Write V8 CPU profiles (node --cpu-prof) of the coordinator and of `coord run` into this dir. */
  cpuProfDir?: string;
  say: (text: string) => void;
}

export interface LoadFigures {
  nodes: number;
  transport: "tls" | "plaintext";
  /** From the first hello sent to the last node registered. */
  registerSeconds: number;
  registrationsPerSecond: number;
  /** Hellos sent again (refused for a rate or a count, or a connection the swamped coordinator reset). */
  helloRetries: number;
  runId: string;
  runExitCode: number;
  /** The last lines `coord run` wrote to stderr: why it ended, when it did not end GO. */
  runSaid: string;
  /** `coord run fleet`, from spawning the CLI to its exit. */
  runWallSeconds: number;
  /** The run in the store, created → finished. */
  runStoreSeconds: number;
  /** Progress lines `coord run` printed (one a result, a task's start and its end). */
  progressLines: number;
  /** Of those, printed before the run finished in the store: how live the progress is. */
  progressLinesBeforeEnd: number;
  /** From the run finishing in the store to `coord run` printing its last progress line (it has heard the end). */
  lastProgressAfterEndSeconds: number;
  cliToCreatedSeconds: number;
  finishedToExitSeconds: number;
  /** The longest a simulated node took over its task (receipt to TaskDone). */
  slowestNodeSeconds: number;
  tasks: number;
  checkResults: number;
  /** Distinct (task, check) pairs among the stored results: equal to checkResults when each is stored once. */
  distinctResults: number;
  tasksPassed: number;
  coordRssIdleMiB?: number;
  coordRssAfterRunMiB?: number;
  coordPeakMiB?: number;
  coordCpuRegisterSeconds?: number;
  coordCpuRunSeconds?: number;
  workersCpuSeconds?: number;
  /** Each fleet run of --runs, in order (the figures above are the last one's). */
  runs: RepeatFigures[];
}

export interface RepeatFigures {
  runWallSeconds: number;
  runStoreSeconds: number;
  /** From spawning `coord run` to the run's row (its start: the CLI's own start, reading and sending the plan). */
  cliToCreatedSeconds: number;
  /** From the run finished in the store to `coord run`'s exit (the last updates, the summary). */
  finishedToExitSeconds: number;
  coordCpuRunSeconds?: number;
  coordRssAfterRunMiB?: number;
  coordPeakMiB?: number;
}

/** VmRSS and VmHWM of a process, in MiB, from /proc (undefined where there is none). */
export function memoryMiB(pid: number | undefined): { rss: number; peak: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
    return { rss: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
  } catch {
    return undefined;
  }
}

const suiteYaml = (checks: number) => `suite: load\nchecks:\n${Array.from({ length: checks }, (_, i) => `  - id: check-${i + 1}\n    command: { argv: ["true"] }\n`).join("")}`;
const PLAN = "plan: load\nstages:\n  - id: fleet\n    kind: fleet\n    suite: load.suite.yaml\n    nodes: { role: fleet }\n";

const WORKER = fileURLToPath(new URL("./load-agent-worker.js", import.meta.url));

interface Fleet {
  workers: ChildProcess[];
  registered: number;
  retried: number;
  lastRegisteredAt: number;
  taskMs: number[];
  failed: { name: string; why: string }[];
}

async function startWorkers(o: LoadOptions, c: Coordinator, token: string): Promise<Fleet> {
  const fleet: Fleet = { workers: [], registered: 0, retried: 0, lastRegisteredAt: 0, taskMs: [], failed: [] };
  const caPem = c.caFile ? readFileSync(c.caFile, "utf8") : undefined;
  // One key for every simulated node (each node's own costs a 2048-bit RSA key generation here, not at the coordinator).
  const publicKeyPem = caPem ? generateKeyPairSync("rsa", { modulusLength: 2048 }).publicKey.export({ type: "spki", format: "pem" }).toString() : undefined;
  const names = Array.from({ length: o.nodes }, (_, i) => `load-${String(i + 1).padStart(5, "0")}`);
  for (let w = 0; w < o.workers; w++) {
    const child = fork(WORKER, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    fleet.workers.push(child);
    await new Promise<void>((resolve, reject) => {
      child.once("message", () => resolve());
      child.once("exit", (code) => reject(new Error(`load worker ${w} exited ${code} before it started`)));
    });
    child.on("message", (r: WorkerReport) => {
      if (r.kind !== "progress") return;
      fleet.registered += r.registered;
      fleet.retried += r.retried;
      fleet.lastRegisteredAt = Math.max(fleet.lastRegisteredAt, r.lastRegisteredAt);
      fleet.taskMs.push(...r.taskMs);
      fleet.failed.push(...r.failed);
    });
    const config: WorkerConfig = {
      address: c.address,
      enrollToken: token,
      labels: { role: "fleet" },
      caPem,
      publicKeyPem,
      checkMs: o.checkMs,
      failRate: o.failRate,
      names: names.filter((_, i) => i % o.workers === w),
      subnet: 10 + w,
      helloWindow: Math.max(1, Math.floor(900 / o.workers)),
    };
    // Sent once every worker is up (below), so registration is timed from one instant.
    (child as ChildProcess & { config?: WorkerConfig }).config = config;
  }
  return fleet;
}

function readStored(stateDir: string, runId: string): Pick<LoadFigures, "tasks" | "tasksPassed" | "checkResults" | "distinctResults" | "runStoreSeconds"> & { createdAt: number; finishedAt: number } {
  const db = new Database(join(stateDir, "coord.db"), { readonly: true, fileMustExist: true });
  try {
    const t = db.prepare("SELECT COUNT(*) AS n, COALESCE(SUM(status = 'passed'), 0) AS passed FROM tasks WHERE run_id = ?").get(runId) as { n: number; passed: number };
    const c = db
      .prepare("SELECT COUNT(*) AS n, COUNT(DISTINCT c.task_id || '/' || c.check_id) AS distinct_n FROM check_results c JOIN tasks t ON t.id = c.task_id WHERE t.run_id = ?")
      .get(runId) as { n: number; distinct_n: number };
    const r = db.prepare("SELECT created_at, finished_at FROM runs WHERE id = ?").get(runId) as { created_at: number; finished_at: number | null };
    const finishedAt = r.finished_at ?? Number.NaN;
    return { tasks: t.n, tasksPassed: t.passed, checkResults: c.n, distinctResults: c.distinct_n, runStoreSeconds: (finishedAt - r.created_at) / 1000, createdAt: r.created_at, finishedAt };
  } finally {
    db.close();
  }
}

export async function runLoad(o: LoadOptions): Promise<LoadFigures> {
  const stateDir = o.stateDir ?? mkdtempSync(join(tmpdir(), "fleetgate-load-"));
  mkdirSync(stateDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "fleetgate-load-plan-"));
  let c: Coordinator | undefined;
  let fleet: Fleet | undefined;
  try {
    const nodeArgs = o.cpuProfDir ? ["--cpu-prof", "--cpu-prof-dir", o.cpuProfDir] : [];
    const coordinator = (c = await startCoordinator(join(stateDir, "coord"), o.tls ? [] : ["--insecure"], "127.0.0.1:0", nodeArgs));
    const pid = coordinator.process.pid;
    const token = await coord(c, ["token", "create", "--uses", String(o.nodes), "--ttl", "1h", "--description", "load tool"]);
    if (token.exitCode !== 0) throw new Error(`coord token create failed:\n${token.stderr}`);
    fleet = await startWorkers(o, c, token.stdout.trim());
    const f = fleet;
    const cpu0 = processCpuSeconds(pid);
    const started = Date.now();
    for (const w of f.workers) w.send((w as ChildProcess & { config?: WorkerConfig }).config!);
    o.say(`${o.nodes} simulated agents (${o.workers} processes, ${o.tls ? "TLS" : "plaintext"}) saying hello`);
    await waitFor(
      `${o.nodes} simulated agents to register`,
      () => {
        if (f.failed.length) throw new Error(`${f.failed.length} simulated agents failed, e.g. ${f.failed[0]!.name}: ${f.failed[0]!.why}`);
        return f.registered >= o.nodes || undefined;
      },
      Math.max(60_000, o.nodes * 60),
    );
    const registerSeconds = (f.lastRegisteredAt - started) / 1000;
    const cpu1 = processCpuSeconds(pid);
    o.say(`${o.nodes} registered in ${registerSeconds.toFixed(2)} s`);
    // A few heartbeats' worth of idle fleet before the run: the memory of N open streams.
    await new Promise((r) => setTimeout(r, 2_000));
    const idle = memoryMiB(pid);
    const d = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : a - b);

    writeFileSync(join(work, "load.suite.yaml"), suiteYaml(o.checks));
    writeFileSync(join(work, "load.plan.yaml"), PLAN);
    // The same fleet run again and again: each run's history (the plan's earlier runs, read for
    // flakes) grows, which a single run on a fresh coordinator never shows.
    const each: RepeatFigures[] = [];
    const fleetRun = async (i: number) => {
      if (o.runs > 1) o.say(`fleet run ${i} of ${o.runs}`);
      const cpu2 = processCpuSeconds(pid);
      const t0 = performance.now();
      const spawnedAt = Date.now();
      // When each progress line came out: off a terminal `coord run` prints a line per update, then
      // an empty line and the summary. Date.now(), the clock the coordinator stamps the run with.
      const progressAt: number[] = [];
      let summaryStarted = false;
      function* stampProgress(line: unknown) {
        if (line === "") summaryStarted = true;
        if (!summaryStarted) progressAt.push(Date.now());
        yield line;
      }
      const run = await execa(process.execPath, [...nodeArgs, COORD_BIN, "run", "fleet", "--plan", join(work, "load.plan.yaml")], {
        env: { FLEETGATE_COORDINATOR: coordinator.address, FLEETGATE_STATE_DIR: coordinator.stateDir },
        reject: false,
        stdin: "ignore",
        stdout: stampProgress,
        timeout: Math.max(120_000, o.nodes * 100),
      });
      const runWallSeconds = (performance.now() - t0) / 1000;
      const exitedAt = Date.now();
      const cpu3 = processCpuSeconds(pid);
      const after = memoryMiB(pid);
      // A run that did not end well: was it the coordinator? Its exit and last words, for the report.
      const coordExit = coordinator.process.exitCode ?? coordinator.process.signalCode;
      if (run.exitCode !== 0 && coordExit !== null) o.say(`the coordinator exited (${coordExit}) during the run; its last log lines:\n${coordinator.stderr().trim().split("\n").slice(-8).join("\n")}`);
      const runId = /run (\S+) started/.exec(String(run.stderr))?.[1];
      if (!runId) throw new Error(`coord run exited ${run.exitCode} without starting a run:\n${run.stderr}`);
      // The workers report every 100 ms: wait for the last task durations.
      await waitFor("every task duration", () => f.taskMs.length >= o.nodes * (each.length + 1) || undefined, 5_000).catch(() => undefined);
      const { finishedAt, createdAt, ...stored } = readStored(coordinator.stateDir, runId);
      const progress = {
        progressLines: progressAt.length,
        progressLinesBeforeEnd: progressAt.filter((t) => t <= finishedAt).length,
        lastProgressAfterEndSeconds: ((progressAt.at(-1) ?? Number.NaN) - finishedAt) / 1000,
      };
      const figures: RepeatFigures = {
        runWallSeconds,
        runStoreSeconds: stored.runStoreSeconds,
        cliToCreatedSeconds: (createdAt - spawnedAt) / 1000,
        finishedToExitSeconds: (exitedAt - finishedAt) / 1000,
        coordCpuRunSeconds: d(cpu3, cpu2), coordRssAfterRunMiB: after?.rss, coordPeakMiB: after?.peak };
      each.push(figures);
      return { run, runId, stored, progress, figures };
    };
    let last = await fleetRun(1);
    for (let i = 2; i <= o.runs; i++) last = await fleetRun(i);
    const { run, runId, stored, progress, figures } = last;
    const workersCpu = f.workers.reduce<number | undefined>((sum, w) => {
      const s = processCpuSeconds(w.pid);
      return sum === undefined || s === undefined ? undefined : sum + s;
    }, 0);
    return {
      nodes: o.nodes,
      transport: o.tls ? "tls" : "plaintext",
      registerSeconds,
      registrationsPerSecond: o.nodes / registerSeconds,
      helloRetries: f.retried,
      runId,
      runExitCode: run.exitCode ?? -1,
      runSaid: String(run.stderr).trim().split("\n").slice(-3).join("\n"),
      runWallSeconds: figures.runWallSeconds,
      cliToCreatedSeconds: figures.cliToCreatedSeconds,
      finishedToExitSeconds: figures.finishedToExitSeconds,
      slowestNodeSeconds: Math.max(0, ...f.taskMs) / 1000,
      ...stored,
      ...progress,
      coordRssIdleMiB: idle?.rss,
      coordRssAfterRunMiB: figures.coordRssAfterRunMiB,
      coordPeakMiB: figures.coordPeakMiB,
      coordCpuRegisterSeconds: d(cpu1, cpu0),
      coordCpuRunSeconds: figures.coordCpuRunSeconds,
      workersCpuSeconds: workersCpu,
      runs: each,
    };
  } finally {
    for (const w of fleet?.workers ?? []) {
      if (w.connected) w.disconnect();
      setTimeout(() => w.kill("SIGKILL"), 3_000).unref();
    }
    // A profiled coordinator writes its profile only when it exits by itself: give it time to close N streams.
    if (c) await stopWithin(c, o.cpuProfDir ? 120_000 : 10_000);
    rmSync(work, { recursive: true, force: true });
    if (!o.stateDir) rmSync(stateDir, { recursive: true, force: true });
  }
}

/** A whole number ≥ 1 from a flag (commander hands over the text). */
function count(text: string, flagName: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`${flagName} must be a whole number ≥ 1, not ${text}`);
  return n;
}

function ratio(text: string): number {
  const n = Number(text);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError(`must be between 0 and 1, not ${text}`);
  return n;
}

function milliseconds(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`must be whole milliseconds ≥ 0, not ${text}`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  const flags = new Command("load-agents")
    .description("Start a coordinator and N simulated agents (real gRPC streams, synthetic results), run a fleet of a suite on all of them, print the figures.")
    .option("--nodes <n>", "simulated agents", (t) => count(t, "--nodes"), 100)
    .option("--workers <n>", "worker processes holding the agents' streams", (t) => count(t, "--workers"), 3)
    .option("--checks <n>", "checks in the suite every node runs", (t) => count(t, "--checks"), 20)
    .option("--runs <n>", "fleet runs one after the other on the same coordinator and agents", (t) => count(t, "--runs"), 1)
    .option("--check-ms <ms>", "how long each simulated check takes", milliseconds, 0)
    .option("--fail-rate <r>", "share of simulated checks that fail, 0 to 1", ratio, 0)
    .option("--tls", "serve TLS as coord serve does by default (plaintext otherwise)", false)
    .option("--state-dir <dir>", "keep the coordinator's state here (a temp dir, removed, otherwise)")
    .option("--cpu-prof <dir>", "write CPU profiles of the coordinator and of coord run into this dir")
    .option("--json", "print the figures as one JSON line", false)
    .parse(argv, { from: "user" })
    .opts<{ nodes: number; workers: number; checks: number; runs: number; checkMs: number; failRate: number; tls: boolean; stateDir?: string; cpuProf?: string; json: boolean }>();
  const o: LoadOptions = {
    nodes: flags.nodes,
    workers: flags.workers,
    tls: flags.tls,
    checks: flags.checks,
    runs: flags.runs,
    checkMs: flags.checkMs,
    failRate: flags.failRate,
    stateDir: flags.stateDir,
    cpuProfDir: flags.cpuProf,
    say: (t) => process.stderr.write(`load: ${t}\n`),
  };
  const figures = await runLoad(o);
  process.stdout.write(flags.json ? `${JSON.stringify(figures)}\n` : `${Object.entries(figures).map(([k, v]) => `${k}: ${typeof v === "number" ? Number(v.toFixed(3)) : typeof v === "object" ? JSON.stringify(v) : v}`).join("\n")}\n`);
  return 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: Error) => {
      process.stderr.write(`load: ${err.message}\n`);
      process.exit(1);
    },
  );
}
