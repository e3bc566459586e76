// The store benchmarks of `npm run bench`: what a durable commit costs (recordAgentEvent with
// synchronous=FULL, as `coord serve` opens coord.db, against NORMAL) and an agent event through
// the whole commit path (RunEngine.ingest: the event, its check result, the task's status).
import { create } from "@bufbuild/protobuf";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { AgentSessions } from "../coordinator/fleet/sessions.js";
import { RunEngine } from "../coordinator/sequencer/engine.js";
import { recordAgentEvent } from "../coordinator/store/agent-events.js";
import { openDb, type Db } from "../coordinator/store/db.js";
import { insertRun, type NewTask } from "../coordinator/store/runs.js";
import { AgentEventSchema, type AgentEvent, type Task } from "../shared/gen/fleetgate/v1/agent_pb.js";
import { Status } from "../shared/model/status.js";
import type { Cleanup } from "./bench-cleanup.js";
import type { Progress } from "./bench-components.js";
import { formatNumber, type BenchResult } from "./bench-report.js";
import { since, summarize } from "./bench-stats.js";

const STORE_REPS = 7;
const STORE_EVENTS = 2000;
const STORE_TASKS = 20;
const MACHINE_ID = "0123456789abcdef0123456789abcdef";
const NODE = "bench-node";

type Sync = "FULL" | "NORMAL";
/** PRAGMA synchronous reads back as a number. */
const SYNC_LEVEL: Record<Sync, number> = { NORMAL: 1, FULL: 2 };

/** openDb as `coord serve` does; NORMAL is set on this handle afterwards, for comparison only. */
function openBenchDb(path: string, sync: Sync): Db {
  const db = openDb(path);
  if (sync === "NORMAL") db.pragma("synchronous = NORMAL");
  const level = db.pragma("synchronous", { simple: true });
  if (level !== SYNC_LEVEL[sync]) throw new Error(`store bench: ${path} has synchronous=${String(level)}, expected ${sync} (${SYNC_LEVEL[sync]})`);
  return db;
}

/** The file system holding `path` (longest mount point that contains it): fsync is free on tmpfs. */
function fileSystemOf(path: string): string {
  try {
    let best = { at: "", fs: "unknown" };
    for (const line of readFileSync("/proc/self/mounts", "utf8").split("\n")) {
      const [device, at, fs] = line.split(" ");
      if (!device || !at || !fs) continue;
      const inside = at === "/" || path === at || path.startsWith(`${at}/`);
      if (inside && at.length >= best.at.length) best = { at, fs: `${fs} on ${device}` };
    }
    return best.fs;
  } catch {
    return "unknown";
  }
}

function checkEvent(seq: number, taskId: string): AgentEvent {
  return create(AgentEventSchema, {
    seq: BigInt(seq),
    origin: { machineId: MACHINE_ID, bootId: "bench-boot", hostname: NODE },
    body: {
      case: "check",
      value: {
        taskId,
        result: { checkId: `check-${seq}`, kind: "command", status: Status.PASSED, summary: "exit 0", startedAtMs: BigInt(Date.now()), durationMs: 3n, attempts: 1 },
      },
    },
  });
}

function doneEvent(seq: number, taskId: string): AgentEvent {
  return create(AgentEventSchema, {
    seq: BigInt(seq),
    origin: { machineId: MACHINE_ID, bootId: "bench-boot", hostname: NODE },
    body: { case: "taskDone", value: { taskId, status: Status.PASSED, summary: "all checks passed" } },
  });
}

function benchTasks(runId: string, n: number): NewTask[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${runId}/fleet/${NODE}/${i + 1}`, stageId: "fleet", nodeName: NODE, iteration: i + 1, suitePath: "bench.suite.yaml", allowDestructive: false }));
}

function insertBenchRun(db: Db, runId: string, tasks: NewTask[]): void {
  insertRun(db, { id: runId, planName: "bench", planPath: "bench.plan.yaml", planYaml: "plan: bench\n", suites: { "bench.suite.yaml": "suite: bench\n" }, stages: ["fleet"], flags: [], createdAt: Date.now(), mode: "full", planRevision: "bench", options: {}, nodes: [] }, tasks);
}

/** Commits a batch, checking every outcome is `kind`; returns the per-event times in ms. */
function commitAll(db: Db, events: AgentEvent[], kind: "check" | "duplicate"): number[] {
  const times: number[] = [];
  for (const e of events) {
    const t = performance.now();
    const outcome = recordAgentEvent(db, NODE, MACHINE_ID, e);
    times.push(since(t));
    if (outcome.kind !== kind) throw new Error(`store bench: event ${e.seq} was ${outcome.kind}, expected ${kind}`);
  }
  return times;
}

/** One store under one synchronous setting, and what was measured on it. */
interface Lane {
  sync: Sync;
  db: Db;
  seq: number;
  fresh: number[];
  dup: number[];
  freshTimes: number[];
  dupTimes: number[];
}

function runRepetition(lane: Lane, tasks: NewTask[], n: number): void {
  const events = Array.from({ length: n }, () => checkEvent(++lane.seq, tasks[lane.seq % tasks.length]?.id ?? "")); // built before timing
  let t = performance.now();
  lane.freshTimes.push(...commitAll(lane.db, events, "check"));
  lane.fresh.push(n / (since(t) / 1000));
  t = performance.now();
  lane.dupTimes.push(...commitAll(lane.db, events, "duplicate"));
  lane.dup.push(n / (since(t) / 1000));
}

/**
 * recordAgentEvent into real SQLite files: one as `coord serve` opens it (WAL, synchronous=FULL),
 * one set to NORMAL, repetitions alternating between them so other load on the host hits both alike.
 */
export async function benchStore(cleanup: Cleanup, say: Progress): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "fleetgate-bench-store-"));
  const removeDir = cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const lanes: Lane[] = [];
  const closeDbs = cleanup.add("close the stores", () => lanes.forEach((l) => l.db.close()));
  try {
    const tasks = benchTasks("bench", STORE_TASKS);
    for (const sync of ["FULL", "NORMAL"] as const) {
      const db = openBenchDb(join(dir, sync.toLowerCase(), "coord.db"), sync);
      lanes.push({ sync, db, seq: 0, fresh: [], dup: [], freshTimes: [], dupTimes: [] });
      insertBenchRun(db, "bench", tasks);
    }
    say("store: warming up (500 events and their repeats, synchronous=FULL and NORMAL)");
    for (const lane of lanes) {
      runRepetition(lane, tasks, 500);
      Object.assign(lane, { fresh: [], dup: [], freshTimes: [], dupTimes: [] });
    }
    for (let rep = 0; rep < STORE_REPS; rep++) {
      // Alternate which goes first, so neither always follows the other's checkpoint.
      for (const lane of rep % 2 ? [...lanes].reverse() : lanes) runRepetition(lane, tasks, STORE_EVENTS);
      say(`store: repetition ${rep + 1}/${STORE_REPS}: ${lanes.map((l) => `${l.sync} ${Math.round(l.fresh[rep] as number)} new events/s`).join(", ")}`);
      await new Promise((r) => setImmediate(r)); // let a Ctrl-C in between repetitions be handled
    }
    const stored = lanes.map((l) => (l.db.prepare("SELECT COUNT(*) AS n FROM check_results").get() as { n: number }).n);
    const [full, normal] = lanes as [Lane, Lane];
    const label = (l: Lane) => (l.sync === "FULL" ? "synchronous=FULL (as shipped)" : "synchronous=NORMAL (comparison only)");
    const med = (xs: number[]) => summarize(xs).median;
    const extraMs = med(full.freshTimes) - med(normal.freshTimes);
    const ratio = med(normal.fresh) / med(full.fresh);
    const fs = fileSystemOf(dir);
    const each = (f: (l: Lane) => number) => lanes.map((l) => `${formatNumber(f(l))} ms ${l.sync}`).join(", ");
    return {
      title: "Store: `recordAgentEvent` into SQLite, synchronous=FULL against NORMAL",
      method:
        `Two real SQLite files in a temp dir (${fs}), each opened with \`openDb\` as \`coord serve\` opens coord.db (WAL, synchronous=FULL); ` +
        "on the second the bench then sets synchronous=NORMAL on its own handle, for comparison only (coord.db is never opened that way). " +
        `Each holds one run of ${STORE_TASKS} pending tasks. Warm-up 500 events and their repeats on each, then ${STORE_REPS} repetitions, ` +
        `alternating between the two files, of ${STORE_EVENTS} new check events (each one transaction: the (node, seq) row, the task lookup, ` +
        `the check_results row), followed by the same ${STORE_EVENTS} events again, which take the dedup path (recognised by (node, seq), ` +
        `nothing applied). Every outcome is checked; ${stored.join(" and ")} check results were stored in the end.`,
      // Each measure for FULL, then NORMAL, on adjacent rows.
      rows: [
        ...lanes.map((l) => ({ measure: `new check events committed, ${label(l)}`, unit: "events/s", better: "higher" as const, summary: summarize(l.fresh) })),
        ...lanes.map((l) => ({ measure: `one new event, ${label(l)}`, unit: "ms", better: "lower" as const, summary: summarize(l.freshTimes) })),
        ...lanes.map((l) => ({ measure: `repeated events recognised (dedup), ${label(l)}`, unit: "events/s", better: "higher" as const, summary: summarize(l.dup) })),
        ...lanes.map((l) => ({ measure: `one repeated event, ${label(l)}`, unit: "ms", better: "lower" as const, summary: summarize(l.dupTimes) })),
      ],
      bound:
        `the disk's fsync: with synchronous=FULL every commit of a new event fsyncs the WAL before it returns (NORMAL leaves that to the checkpoint), ` +
        `about ${extraMs.toFixed(2)} ms more per event at the median here (${fs}), so NORMAL commits ${ratio.toFixed(1)}× as many events per second; ` +
        "that fsync is what makes an acked event survive power loss. The rest is one core: a SQLite write transaction plus protobuf-JSON encoding. " +
        `A repeat changes no page, so its commit writes and syncs nothing: one repeat takes the same under both (median ${each((l) => med(l.dupTimes))}); ` +
        `the dedup rates move with a few pauses (slowest single repeat ${each((l) => summarize(l.dupTimes).max)}) in repetitions lasting only ` +
        `${each((l) => (STORE_EVENTS / med(l.dup)) * 1000)} (median).`,
    };
  } finally {
    await closeDbs();
    await removeDir();
  }
}

const INGEST_REPS = 5;
const INGEST_TASKS = 100;
const INGEST_CHECKS = 9;

interface IngestFigures {
  ms: number;
  checkTimes: number[];
  doneTimes: number[];
}

/** One run through the engine: each task it sends gets its check events, then its taskDone. */
function ingestRun(db: Db, runId: string, say: Progress): IngestFigures {
  const sent: Task[] = [];
  const sessions = new AgentSessions();
  sessions.add({ node: NODE, machineId: MACHINE_ID, bootId: "boot", address: "127.0.0.1", send: (t) => sent.push(t), cancel: () => {}, close: () => {} });
  const engine = new RunEngine(db, sessions, pino({ level: "silent" }), {});
  const tasks = benchTasks(runId, INGEST_TASKS);
  insertBenchRun(db, runId, tasks);
  engine.begin(runId, [{ id: "fleet", parallel: 1, stopOnFailure: false }]);
  // Sequence numbers go on from the previous run's, as one agent's do.
  let seq = (db.prepare("SELECT COALESCE(MAX(seq), 0) AS n FROM agent_events WHERE node_name = ?").get(NODE) as { n: number }).n;
  const out: IngestFigures = { ms: 0, checkTimes: [], doneTimes: [] };
  const ingest = (e: AgentEvent, want: "check" | "task_done", into: number[]) => {
    const t = performance.now();
    const o = engine.ingest(NODE, MACHINE_ID, e);
    into.push(since(t));
    if (o.kind !== want) throw new Error(`ingest bench: event ${e.seq} was ${o.kind}, expected ${want}`);
  };
  const start = performance.now();
  for (let task = sent.shift(); task; task = sent.shift()) {
    const taskId = task.taskId;
    const events = Array.from({ length: INGEST_CHECKS }, () => checkEvent(++seq, taskId));
    const done = doneEvent(++seq, taskId);
    for (const e of events) ingest(e, "check", out.checkTimes);
    ingest(done, "task_done", out.doneTimes); // the engine sends the next task from in here
  }
  out.ms = since(start);
  engine.stop();
  const run = db.prepare("SELECT status FROM runs WHERE id = ?").get(runId) as { status: string };
  const t = db.prepare("SELECT COUNT(*) AS n, SUM(status = 'passed') AS passed FROM tasks WHERE run_id = ?").get(runId) as { n: number; passed: number };
  const c = db.prepare("SELECT COUNT(*) AS n FROM check_results r JOIN tasks t ON t.id = r.task_id WHERE t.run_id = ?").get(runId) as { n: number };
  if (run.status !== "passed" || t.passed !== INGEST_TASKS || c.n !== INGEST_TASKS * INGEST_CHECKS) {
    throw new Error(`ingest bench: run ${runId} is ${run.status} with ${t.passed}/${t.n} tasks passed and ${c.n} check results; expected passed, ${INGEST_TASKS} and ${INGEST_TASKS * INGEST_CHECKS}`);
  }
  say(`ingest: ${runId}: ${Math.round(((out.checkTimes.length + out.doneTimes.length) / out.ms) * 1000)} events/s`);
  return out;
}

/** RunEngine.ingest on coord.db as shipped: the path every agent event takes before its ack. */
export async function benchIngest(cleanup: Cleanup, say: Progress): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "fleetgate-bench-ingest-"));
  const removeDir = cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const db = openBenchDb(join(dir, "state", "coord.db"), "FULL");
  const closeDb = cleanup.add("close the store", () => void db.close());
  try {
    say(`ingest: warming up (one run of ${INGEST_TASKS} tasks)`);
    ingestRun(db, "warm-up", say);
    const runs: IngestFigures[] = [];
    for (let rep = 0; rep < INGEST_REPS; rep++) {
      runs.push(ingestRun(db, `bench-${rep + 1}`, say));
      await new Promise((r) => setImmediate(r));
    }
    const perRun = INGEST_TASKS * (INGEST_CHECKS + 1);
    const checkMs = summarize(runs.flatMap((r) => r.checkTimes)).median;
    const doneMs = summarize(runs.flatMap((r) => r.doneTimes)).median;
    return {
      title: "Store: an agent event through `RunEngine.ingest`",
      method:
        `\`RunEngine.ingest\` in process on a real coord.db opened with \`openDb\` (synchronous=FULL, as shipped) in a temp dir (${fileSystemOf(dir)}), ` +
        `an in-process session standing in for the agent's stream. Each repetition is a new run of ${INGEST_TASKS} tasks on one node ` +
        `(one stage, one task at a time); each task the engine sends gets ${INGEST_CHECKS} check events and then its taskDone, ` +
        `${perRun} events per run. A check event is one transaction (the (node, seq) row, the check_results row); a taskDone is one ` +
        "transaction holding the event, the task's status and the next task's, after which the engine sends the next task. " +
        `Warm-up one run, then ${INGEST_REPS}; each run is checked to have passed with every task and check result stored.`,
      rows: [
        { measure: "events committed per second, checks and taskDones mixed", unit: "events/s", better: "higher", summary: summarize(runs.map((r) => perRun / (r.ms / 1000))) },
        { measure: "one check event", unit: "ms", better: "lower", summary: summarize(runs.flatMap((r) => r.checkTimes)) },
        { measure: "one taskDone event (statuses written, next task sent)", unit: "ms", better: "lower", summary: summarize(runs.flatMap((r) => r.doneTimes)) },
      ],
      bound:
        `the WAL fsync of each commit, as in the section above (synchronous=FULL): a check event costs about what \`recordAgentEvent\` does alone (${checkMs.toFixed(2)} ms median), ` +
        `a taskDone ${doneMs.toFixed(2)} ms, the sequencer step and the status updates riding in the same transaction and the same fsync.`,
    };
  } finally {
    await closeDb();
    await removeDir();
  }
}
