// End-to-end benchmark of `npm run bench`: a real coordinator and N real agents on this host
// (scripts/local-fleet.ts, the same processes the demo and the e2e tests start), timed `coord run`.
import Database from "better-sqlite3";
import { execa } from "execa";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Cleanup } from "./bench-cleanup.js";
import type { Progress } from "./bench-components.js";
import { busyFraction, hostCpu, processCpuSeconds, type HostCpu } from "./bench-cpu.js";
import type { BenchResult, Row } from "./bench-report.js";
import { since, summarize } from "./bench-stats.js";
import { COORD_BIN, coord, onlineNodes, startAgent, startCoordinator, stopWithin, waitFor, type Proc } from "./local-fleet.js";

const CHECKS = 10;
const ITERATIONS = 5;
const WARMUP_RUNS = 1;
const RUNS = 3;

const SUITE = `suite: bench-true\nchecks:\n${Array.from({ length: CHECKS }, (_, i) => `  - id: true-${i + 1}\n    command: { argv: ["true"] }\n`).join("")}`;
const PLAN = `plan: bench\nstages:\n  - id: fleet\n    kind: fleet\n    suite: bench.suite.yaml\n    nodes: { role: fleet }\n    iterations: ${ITERATIONS}\n`;

const sumCpu = (procs: Proc[]): number | undefined =>
  procs.reduce<number | undefined>((acc, p) => {
    const s = processCpuSeconds(p.process.pid);
    return acc === undefined || s === undefined ? undefined : acc + s;
  }, 0);

interface RunFigures {
  wallMs: number;
  serverMs: number;
  tasks: number;
  checks: number;
  coordCpu?: number;
  agentCpu?: number;
  /** Fraction of all cores the whole host kept busy during the run, whoever used them. */
  hostBusy?: number;
}

function readRun(stateDir: string, runId: string): { tasks: number; passed: number; checks: number; serverMs: number } {
  const db = new Database(join(stateDir, "coord.db"), { readonly: true, fileMustExist: true });
  try {
    const t = db.prepare("SELECT COUNT(*) AS n, SUM(status = 'passed') AS passed FROM tasks WHERE run_id = ?").get(runId) as { n: number; passed: number };
    const c = db.prepare("SELECT COUNT(*) AS n FROM check_results c JOIN tasks t ON t.id = c.task_id WHERE t.run_id = ?").get(runId) as { n: number };
    const r = db.prepare("SELECT created_at, finished_at FROM runs WHERE id = ?").get(runId) as { created_at: number; finished_at: number | null };
    return { tasks: t.n, passed: t.passed, checks: c.n, serverMs: (r.finished_at ?? Number.NaN) - r.created_at };
  } finally {
    db.close();
  }
}

async function timedRun(c: { address: string; stateDir: string }, plan: string, nodes: number, cleanup: Cleanup, measure: () => { coord?: number; agents?: number; host?: HostCpu }): Promise<RunFigures> {
  const before = measure();
  const start = performance.now();
  const child = execa(process.execPath, [COORD_BIN, "run", "fleet", "--plan", plan], {
    env: { FLEETGATE_COORDINATOR: c.address, FLEETGATE_STATE_DIR: c.stateDir },
    reject: false,
    stdin: "ignore",
    timeout: 120_000, // a wedged run fails the bench instead of hanging it
  });
  const forget = cleanup.add("kill coord run", () => void child.kill("SIGKILL"));
  const r = await child;
  const wallMs = since(start);
  const after = measure();
  await forget();
  const runId = /run (\S+) started/.exec(String(r.stderr))?.[1];
  // Agents sharing this host make a green run INCOMPLETE (2), never GO; every task passing is checked below.
  if ((r.exitCode !== 0 && r.exitCode !== 2) || !runId) throw new Error(`coord run exited ${r.exitCode}, expected 0 or 2 with every task passed:\n${r.stderr}\n${r.stdout}`);
  const stored = readRun(c.stateDir, runId);
  const want = nodes * ITERATIONS;
  if (stored.tasks !== want || stored.passed !== want || stored.checks !== want * CHECKS) {
    throw new Error(`run ${runId}: ${stored.passed}/${stored.tasks} tasks passed and ${stored.checks} check results stored; expected ${want} and ${want * CHECKS}`);
  }
  const diff = (a?: number, b?: number) => (a === undefined || b === undefined ? undefined : a - b);
  return { wallMs, serverMs: stored.serverMs, tasks: stored.tasks, checks: stored.checks, coordCpu: diff(after.coord, before.coord), agentCpu: diff(after.agents, before.agents), hostBusy: busyFraction(before.host, after.host) };
}

async function benchFleetSize(work: string, nodes: number, cleanup: Cleanup, say: Progress): Promise<{ runs: RunFigures[]; readyMs: number }> {
  const stops: (() => Promise<void>)[] = [];
  try {
    const ready = performance.now();
    say(`fleet ${nodes}: starting a coordinator and ${nodes} agents`);
    const c = await startCoordinator(join(work, `coord-${nodes}`));
    stops.push(cleanup.add(`stop the coordinator (${nodes} agents)`, () => stopWithin(c)));
    const token = await coord(c, ["token", "create", "--ttl", "1h", "--description", "bench"]);
    if (token.exitCode !== 0) throw new Error(`coord token create failed:\n${token.stderr}`);
    const agents: Proc[] = [];
    for (let i = 1; i <= nodes; i++) {
      const name = `bench-${nodes}-${i}`;
      const a = startAgent({ name, address: c.address, token: token.stdout.trim(), stateDir: join(work, name), labels: { role: "fleet" } });
      agents.push(a);
      stops.push(cleanup.add(`stop agent ${name}`, () => stopWithin(a)));
    }
    await waitFor(`${nodes} agents online`, async () => ((await onlineNodes(c)).length === nodes ? true : undefined), 60_000);
    const readyMs = since(ready);
    say(`fleet ${nodes}: ready in ${(readyMs / 1000).toFixed(1)} s`);

    const measure = () => ({ coord: processCpuSeconds(c.process.pid), agents: sumCpu(agents), host: hostCpu() });
    const plan = join(work, "bench.plan.yaml");
    const runs: RunFigures[] = [];
    for (let i = 0; i < WARMUP_RUNS + RUNS; i++) {
      const warm = i < WARMUP_RUNS;
      const r = await timedRun(c, plan, nodes, cleanup, measure);
      if (!warm) runs.push(r);
      say(`fleet ${nodes}: ${warm ? "warm-up run" : `run ${i - WARMUP_RUNS + 1}/${RUNS}`}: ${(r.wallMs / 1000).toFixed(2)} s, ${r.tasks} tasks, ${r.checks} check results`);
    }
    return { runs, readyMs };
  } finally {
    // Agents first (newest first), then their coordinator.
    for (const stop of stops.reverse()) await stop();
  }
}

function rowsFor(nodes: number, runs: RunFigures[]): Row[] {
  const s = (f: (r: RunFigures) => number) => summarize(runs.map(f));
  const rows: Row[] = [
    { measure: `N=${nodes}: \`coord run\` wall time`, unit: "s", better: "lower", summary: s((r) => r.wallMs / 1000) },
    { measure: `N=${nodes}: tasks (node × iteration) per second of wall time`, unit: "tasks/s", better: "higher", summary: s((r) => r.tasks / (r.wallMs / 1000)) },
    { measure: `N=${nodes}: check results stored per second of wall time`, unit: "results/s", better: "higher", summary: s((r) => r.checks / (r.wallMs / 1000)) },
    { measure: `N=${nodes}: run time in the store (created → finished)`, unit: "s", better: "lower", summary: s((r) => r.serverMs / 1000) },
  ];
  if (runs.every((r) => r.coordCpu !== undefined && r.agentCpu !== undefined && r.hostBusy !== undefined)) {
    rows.push(
      { measure: `N=${nodes}: host CPU busy during the run (every process on the host)`, unit: "%", better: "lower", summary: s((r) => (r.hostBusy ?? 0) * 100) },
      { measure: `N=${nodes}: CPU used by the coordinator per run`, unit: "CPU s", better: "lower", summary: s((r) => r.coordCpu ?? 0) },
      { measure: `N=${nodes}: CPU used by the agents and their checks per run`, unit: "CPU s", better: "lower", summary: s((r) => r.agentCpu ?? 0) },
    );
  }
  return rows;
}

/** What limits the end-to-end figure, from the CPU our processes and the whole host used against the cores there are. */
function boundLine(all: { nodes: number; runs: RunFigures[] }[], cores: number): string {
  const biggest = all[all.length - 1];
  if (!biggest || biggest.runs.some((r) => r.coordCpu === undefined || r.hostBusy === undefined)) {
    return "process spawn and Node.js work on the agents, sharing this host's cores (no /proc here to measure CPU).";
  }
  const med = (f: (r: RunFigures) => number) => summarize(biggest.runs.map(f)).median;
  const ours = med((r) => ((r.coordCpu ?? 0) + (r.agentCpu ?? 0)) / (r.wallMs / 1000) / cores);
  const host = med((r) => r.hostBusy ?? 0);
  const agents = med((r) => (r.agentCpu ?? 0) / ((r.coordCpu ?? 0) + (r.agentCpu ?? 0)));
  const pct = (x: number) => `${Math.round(x * 100)} %`;
  const split = `agents with their \`true\` processes ${pct(agents)} of our CPU, coordinator the rest`;
  const rate = (a: { nodes: number; runs: RunFigures[] }) => `${summarize(a.runs.map((r) => r.tasks / (r.wallMs / 1000))).median.toFixed(1)} tasks/s at N=${a.nodes}`;
  const scaling = all.length > 1 ? ` Throughput: ${all.map(rate).join(", ")}.` : "";
  if (host >= 0.85 && ours < host * 0.75) {
    return (
      `CPU contention: at N=${biggest.nodes} the host's ${cores} cores were ${pct(host)} busy, but the coordinator and agents used only ${pct(ours)} of them ` +
      `(${split}); other work on this host took the rest, so these end-to-end figures are lower than on an idle machine.${scaling}`
    );
  }
  if (host >= 0.85) {
    return `CPU: at N=${biggest.nodes} the coordinator and agents kept ${pct(ours)} of the ${cores} cores busy (host ${pct(host)}; ${split}); more agents on one host share the same cores, on a real fleet each node brings its own.${scaling}`;
  }
  return `not CPU: at N=${biggest.nodes} the host's ${cores} cores were only ${pct(host)} busy (coordinator and agents ${pct(ours)}; ${split}), so the time goes to waiting between dispatch, spawn and acknowledgement, not computing.${scaling}`;
}

export async function benchFleet(sizes: number[], cores: number, cleanup: Cleanup, say: Progress): Promise<BenchResult> {
  const work = mkdtempSync(join(tmpdir(), "fleetgate-bench-fleet-"));
  const removeWork = cleanup.add(`remove ${work}`, () => rmSync(work, { recursive: true, force: true }));
  try {
    writeFileSync(join(work, "bench.suite.yaml"), SUITE);
    writeFileSync(join(work, "bench.plan.yaml"), PLAN);
    const all: { nodes: number; runs: RunFigures[]; readyMs: number }[] = [];
    for (const nodes of sizes) all.push({ nodes, ...(await benchFleetSize(work, nodes, cleanup, say)) });
    return {
      title: "End to end: coordinator + N agents, a fleet stage",
      method:
        `For N = ${sizes.join(" and ")}: a real \`coord serve\` and N real \`fleetgate-agent run\` processes on this host over loopback gRPC ` +
        `(started with \`scripts/local-fleet.ts\`; fleet ready in ${all.map((a) => `${(a.readyMs / 1000).toFixed(1)} s for N=${a.nodes}`).join(", ")}). ` +
        `The plan is one \`fleet\` stage, ${ITERATIONS} iterations per node, all nodes in parallel, on a suite of ${CHECKS} \`command: { argv: ["true"] }\` checks. ` +
        `Each repetition is one \`coord run fleet --plan …\` (a new CLI process, timed from spawn to exit; exit 0 and every task and check result in ` +
        `SQLite verified after it). Warm-up ${WARMUP_RUNS} run, then ${RUNS} measured runs per N.`,
      rows: all.flatMap((a) => rowsFor(a.nodes, a.runs)),
      bound: boundLine(all, cores),
    };
  } finally {
    await removeWork();
  }
}
