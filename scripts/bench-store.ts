// The store benchmarks of `npm run bench`: what a durable commit costs (recordAgentEvent with
// synchronous=FULL, as `coord serve` opens coord.db, against NORMAL) and agent events through the
// whole commit path (the event, its check result, the task's status), batched by the coordinator's
// CommitQueue against one transaction per event.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { AgentSessions } from "../coordinator/fleet/sessions.js";
import { RunEngine } from "../coordinator/sequencer/engine.js";
import { recordAgentEvent } from "../coordinator/store/agent-events.js";
import { openDb, type Db } from "../coordinator/store/db.js";
import { CommitQueue, DEFAULT_BATCH_LIMITS } from "../coordinator/server/commit-queue.js";
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
export function fileSystemOf(path: string): string {
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

function insertBenchRun(db: Db, runId: string, tasks: NewTask[], planRevision = "bench"): void {
  insertRun(db, { id: runId, planName: "bench", planPath: "bench.plan.yaml", planYaml: "plan: bench\n", suites: { "bench.suite.yaml": "suite: bench\n" }, stages: ["fleet"], flags: [], createdAt: Date.now(), mode: "full", planRevision, options: {}, nodes: [] }, tasks);
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
const INGEST_NODES = 50;
const INGEST_ITERATIONS = 4;
const INGEST_CHECKS = 19;
const PER_RUN = INGEST_NODES * INGEST_ITERATIONS * (INGEST_CHECKS + 1);

/** How one lane commits: today's one transaction per event, or the coordinator's batches. */
type Mode = "per-event" | "batched";

interface IngestLane {
  mode: Mode;
  sync: Sync;
  db: Db;
  /** Events per second and check results per second (wall time), one sample per run. */
  events: number[];
  results: number[];
  /** Check results per second of this process's CPU time: what the host's other load does not move. */
  perCpu: number[];
  /** Events in each batch the queue committed (batched lanes). */
  batches: number[];
}

const nodeName = (i: number) => `bench-node-${String(i + 1).padStart(2, "0")}`;

/** One run of INGEST_NODES nodes, INGEST_ITERATIONS tasks each, all nodes in parallel. */
function insertFleetRun(db: Db, runId: string): void {
  const tasks: NewTask[] = [];
  for (let n = 0; n < INGEST_NODES; n++) {
    for (let i = 1; i <= INGEST_ITERATIONS; i++) tasks.push({ id: `${runId}/fleet/${nodeName(n)}/${i}`, stageId: "fleet", nodeName: nodeName(n), iteration: i, suitePath: "bench.suite.yaml", allowDestructive: false });
  }
  // A revision of its own: the flake history a finished run is judged against (its last runs of
  // the same revision, loaded once per run) is a cost per run, not per event.
  insertBenchRun(db, runId, tasks, runId);
}

function fleetEvent(seq: number, node: string, body: MessageInitShape<typeof AgentEventSchema>["body"]): AgentEvent {
  return create(AgentEventSchema, { seq: BigInt(seq), origin: { machineId: MACHINE_ID, bootId: "bench-boot", hostname: node }, body });
}

/** A task's events as its agent would send them: its checks, then its taskDone. */
function taskEvents(task: Task, nextSeq: () => number): AgentEvent[] {
  const node = task.taskId.split("/")[2] as string;
  const out: AgentEvent[] = [];
  for (let c = 0; c < INGEST_CHECKS; c++) {
    const result = { checkId: `check-${c}`, kind: "command", status: Status.PASSED, summary: "exit 0", startedAtMs: BigInt(Date.now()), durationMs: 3n, attempts: 1 };
    out.push(fleetEvent(nextSeq(), node, { case: "check", value: { taskId: task.taskId, result } }));
  }
  out.push(fleetEvent(nextSeq(), node, { case: "taskDone", value: { taskId: task.taskId, status: Status.PASSED, summary: "all checks passed" } }));
  return out;
}

/**
 * One run through the engine, every node's agent simulated in process: each task the engine sends
 * gets its events at once, committed one transaction each (engine.ingest, as before issue 16) or
 * through the coordinator's CommitQueue (batches of up to 500, 5 ms at most, acked per event
 * after the commit). Resolves with the run's wall time and this process's CPU time in ms, the run
 * checked to have passed complete.
 */
async function ingestRun(lane: IngestLane, runId: string): Promise<{ ms: number; cpuMs: number }> {
  const sent: Task[] = [];
  const sessions = new AgentSessions();
  for (let n = 0; n < INGEST_NODES; n++) sessions.add({ node: nodeName(n), machineId: MACHINE_ID, bootId: "boot", address: "127.0.0.1", send: (t) => sent.push(t), cancel: () => {}, close: () => {} });
  const engine = new RunEngine(lane.db, sessions, pino({ level: "silent" }), {});
  insertFleetRun(lane.db, runId);
  // Sequence numbers go on from the previous run's, as each agent's do.
  const seqs = new Map<string, number>();
  for (const r of lane.db.prepare("SELECT node_name, MAX(seq) AS n FROM agent_events GROUP BY node_name").all() as { node_name: string; n: number }[]) seqs.set(r.node_name, r.n);
  const nextSeq = (node: string) => () => {
    const n = (seqs.get(node) ?? 0) + 1;
    seqs.set(node, n);
    return n;
  };
  const queue = new CommitQueue((events) => {
    lane.batches.push(events.length);
    return engine.ingestBatch(events);
  }, pino({ level: "silent" }));
  let pending = 0;
  let settledAll = () => {};
  const stream = {};
  const check = (e: AgentEvent, kind: string) => {
    const want = e.body.case === "check" ? "check" : "task_done";
    if (kind !== want) throw new Error(`ingest bench: event ${e.seq} was ${kind}, expected ${want}`);
  };
  const start = performance.now();
  const cpu = process.cpuUsage();
  engine.begin(runId, [{ id: "fleet", parallel: INGEST_NODES, stopOnFailure: false }]);
  while (sent.length > 0) {
    const events = sent.splice(0).flatMap((t) => taskEvents(t, nextSeq(t.taskId.split("/")[2] as string)));
    if (lane.mode === "per-event") {
      for (const e of events) check(e, engine.ingest(e.origin?.hostname ?? "", MACHINE_ID, e).kind);
      continue;
    }
    const done = new Promise<void>((resolve) => (settledAll = resolve));
    pending = events.length;
    for (const e of events) {
      queue.push({
        node: e.origin?.hostname ?? "",
        machineId: MACHINE_ID,
        event: e,
        stream,
        settle: (r) => {
          if (r.kind !== "committed") throw new Error(`ingest bench: event ${e.seq} was ${r.kind}`);
          check(e, r.outcome.kind);
          if (--pending === 0) settledAll();
        },
      });
    }
    await done;
  }
  const ms = since(start);
  const used = process.cpuUsage(cpu);
  engine.stop();
  const run = lane.db.prepare("SELECT status FROM runs WHERE id = ?").get(runId) as { status: string };
  const t = lane.db.prepare("SELECT COUNT(*) AS n, SUM(status = 'passed') AS passed FROM tasks WHERE run_id = ?").get(runId) as { n: number; passed: number };
  const c = lane.db.prepare("SELECT COUNT(*) AS n FROM check_results r JOIN tasks t ON t.id = r.task_id WHERE t.run_id = ?").get(runId) as { n: number };
  const tasks = INGEST_NODES * INGEST_ITERATIONS;
  if (run.status !== "passed" || t.passed !== tasks || c.n !== tasks * INGEST_CHECKS) {
    throw new Error(`ingest bench: run ${runId} is ${run.status} with ${t.passed}/${t.n} tasks passed and ${c.n} check results; expected passed, ${tasks} and ${tasks * INGEST_CHECKS}`);
  }
  return { ms, cpuMs: (used.user + used.system) / 1000 };
}

const laneLabel = (l: IngestLane) => (l.mode === "per-event" ? `one transaction per event, synchronous=${l.sync} (before issue 16)` : `batched, synchronous=${l.sync}${l.sync === "FULL" ? " (as shipped)" : " (comparison only)"}`);

/**
 * Agent events through the coordinator's commit path on coord.db as shipped: one transaction per
 * event (RunEngine.ingest) against batches (CommitQueue → RunEngine.ingestBatch), in the same run.
 */
export async function benchIngest(cleanup: Cleanup, say: Progress): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "fleetgate-bench-ingest-"));
  const removeDir = cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const lanes: IngestLane[] = [];
  const closeDbs = cleanup.add("close the stores", () => lanes.forEach((l) => l.db.close()));
  try {
    for (const [mode, sync] of [["per-event", "FULL"], ["batched", "FULL"], ["batched", "NORMAL"]] as const) {
      lanes.push({ mode, sync, db: openBenchDb(join(dir, `${mode}-${sync.toLowerCase()}`, "coord.db"), sync), events: [], results: [], perCpu: [], batches: [] });
    }
    say(`ingest: warming up (one run of ${PER_RUN} events per lane)`);
    for (const lane of lanes) {
      await ingestRun(lane, "warm-up");
      lane.batches = [];
    }
    for (let rep = 0; rep < INGEST_REPS; rep++) {
      // Rotate which lane goes first, so none always follows another's checkpoint.
      const order = lanes.map((_, i) => lanes[(i + rep) % lanes.length] as IngestLane);
      for (const lane of order) {
        const { ms, cpuMs } = await ingestRun(lane, `bench-${rep + 1}`);
        const results = (PER_RUN * INGEST_CHECKS) / (INGEST_CHECKS + 1);
        lane.events.push(PER_RUN / (ms / 1000));
        lane.results.push(results / (ms / 1000));
        lane.perCpu.push(results / (cpuMs / 1000));
      }
      say(`ingest: repetition ${rep + 1}/${INGEST_REPS}: ${lanes.map((l) => `${l.mode} ${l.sync} ${Math.round(l.results[rep] as number)} results/s`).join(", ")}`);
    }
    const [perEvent, batched, normal] = lanes as [IngestLane, IngestLane, IngestLane];
    const med = (xs: number[]) => summarize(xs).median;
    const ratio = med(batched.results) / med(perEvent.results);
    const fs = fileSystemOf(dir);
    return {
      title: "Store: agent events committed, batched against one transaction per event",
      method:
        `The coordinator's commit path in process on real coord.db files opened with \`openDb\` (WAL, synchronous=FULL, as shipped) in a temp dir (${fs}); ` +
        `a third file is set to synchronous=NORMAL on the bench's own handle, for comparison only. Each repetition is a new run of one fleet stage on ${INGEST_NODES} nodes ` +
        `in parallel, ${INGEST_ITERATIONS} tasks per node; every task the engine sends gets ${INGEST_CHECKS} check events and its taskDone at once, as its agent ` +
        `would stream them (${PER_RUN} events per run, from in-process sessions standing in for the streams). "One transaction per event" is \`RunEngine.ingest\` ` +
        'for each event, how every event was committed before issue 16. "Batched" pushes each event into the coordinator\'s `CommitQueue` (at most ' +
        `${DEFAULT_BATCH_LIMITS.maxEvents} events or ${DEFAULT_BATCH_LIMITS.maxDelayMs} ms per batch), which commits a batch in one transaction through \`RunEngine.ingestBatch\` ` +
        "and settles (acks) each event after that commit; a taskDone's statuses and the next task ride in the same transaction either way. " +
        "Each run has a plan revision of its own, so the flake history a finished run is judged against (loaded once per run, not per event) stays empty. " +
        "The CPU row divides by the bench process's CPU time (user + system), which other load on the host does not change; the wall-time rows move with it. " +
        `Warm-up one run per lane, then ${INGEST_REPS} repetitions rotating the lanes' order; each run is checked to have passed with every task and check result stored.`,
      rows: [
        ...lanes.map((l) => ({ measure: `check results committed, ${laneLabel(l)}`, unit: "results/s", better: "higher" as const, summary: summarize(l.results) })),
        ...lanes.map((l) => ({ measure: `events committed (checks and taskDones), ${laneLabel(l)}`, unit: "events/s", better: "higher" as const, summary: summarize(l.events) })),
        ...lanes.map((l) => ({ measure: `check results per CPU second of the bench process, ${laneLabel(l)}`, unit: "results/CPU s", better: "higher" as const, summary: summarize(l.perCpu) })),
        ...lanes.filter((l) => l.mode === "batched").map((l) => ({ measure: `events per batch, ${laneLabel(l)}`, unit: "events", better: "higher" as const, summary: summarize(l.batches) })),
      ],
      bound:
        `batching makes one WAL fsync serve a whole batch: ${ratio.toFixed(1)}× the check results per second of one transaction per event here (medians, ` +
        `same run), with the same durability (synchronous=FULL: an acked event survives power loss). Batched, FULL commits ${(med(batched.results) / med(normal.results)).toFixed(2)}× ` +
        `as fast as NORMAL would: what is left of the fsync is one per batch. The rest is one core, ${formatNumber(med(batched.perCpu))} check results per CPU second batched ` +
        `against ${formatNumber(med(perEvent.perCpu))} one per transaction (protobuf-JSON encoding, each event's SQLite statements and task lookup, the sequencer steps ` +
        "and, in the same process, building the simulated agents' events). The wall-time rates are that, divided by the share of a core the host's other load left.",
    };
  } finally {
    await closeDbs();
    await removeDir();
  }
}
