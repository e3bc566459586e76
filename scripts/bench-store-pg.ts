// The PostgreSQL row of `npm run bench -- store` (issue 19): check results committed per second
// through the event commit path on a real PostgreSQL over loopback (coordinator/store/pg/
// agent-events.ts) against SQLite's (recordAgentEvent) on coord.db as shipped, in batches of the
// same size, one transaction per batch on both, in the same run.
import { create } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { recordAgentEvent, recordAgentEvents } from "../coordinator/store/agent-events.js";
import { openDb, type Db } from "../coordinator/store/db.js";
import { commitAgentEvents, type PgIncomingEvent } from "../coordinator/store/pg/agent-events.js";
import { migratePg } from "../coordinator/store/pg/db.js";
import { PgSyncDb } from "../coordinator/store/pg/sync-db.js";
import { insertRun, type NewTask } from "../coordinator/store/runs.js";
import { AgentEventSchema } from "../shared/gen/fleetgate/v1/agent_pb.js";
import { Status } from "../shared/model/status.js";
import type { Cleanup } from "./bench-cleanup.js";
import type { Progress } from "./bench-components.js";
import { formatNumber, type BenchResult } from "./bench-report.js";
import { since, summarize } from "./bench-stats.js";
import { fileSystemOf } from "./bench-store.js";

const BATCH = 50;
const BATCHES = 40;
const REPS = 7;
const TASKS = 20;
const NODE = "bench-node";
const MACHINE_ID = "0123456789abcdef0123456789abcdef";
const noWaivers = () => [];

const tasks: NewTask[] = Array.from({ length: TASKS }, (_, i) => ({ id: `bench/fleet/${NODE}/${i + 1}`, stageId: "fleet", nodeName: NODE, iteration: i + 1, suitePath: "bench.suite.yaml", allowDestructive: false }));

function batchOf(firstSeq: number): PgIncomingEvent[] {
  return Array.from({ length: BATCH }, (_, i) => {
    const seq = firstSeq + i;
    const result = { checkId: `check-${seq}`, kind: "command", status: Status.PASSED, summary: "exit 0", startedAtMs: BigInt(Date.now()), durationMs: 3n, attempts: 1 };
    const event = create(AgentEventSchema, { seq: BigInt(seq), origin: { machineId: MACHINE_ID, bootId: "bench-boot", hostname: NODE }, body: { case: "check", value: { taskId: tasks[seq % TASKS]?.id ?? "", result } } });
    return { node: NODE, machineId: MACHINE_ID, event };
  });
}

interface Lane {
  engine: "SQLite" | "PostgreSQL" | "PostgreSQL via PgSyncDb";
  commit(batch: PgIncomingEvent[]): Promise<string[]>;
  seq: number;
  results: number[];
  batchMs: number[];
}

/** BATCHES batches of new check events, each committed in one transaction; every outcome checked. */
async function repetition(lane: Lane): Promise<{ results: number; batchMs: number[] }> {
  const batches = Array.from({ length: BATCHES }, () => {
    const b = batchOf(lane.seq + 1);
    lane.seq += BATCH;
    return b;
  });
  const times: number[] = [];
  const start = performance.now();
  for (const b of batches) {
    const t = performance.now();
    const kinds = await lane.commit(b);
    times.push(since(t));
    if (kinds.length !== BATCH || kinds.some((k) => k !== "check")) throw new Error(`store bench (${lane.engine}): a batch came back ${[...new Set(kinds)].join(", ")}, expected ${BATCH} checks`);
  }
  return { results: (BATCHES * BATCH) / (since(start) / 1000), batchMs: times };
}

export async function benchStorePg(cleanup: Cleanup, say: Progress): Promise<BenchResult[]> {
  const { postgresBinary, startPostgres } = await import("../test/harness/postgres.js");
  if (!postgresBinary("initdb").includes("/")) {
    say("store: no PostgreSQL here (apt-get install postgresql), so no PostgreSQL row");
    return [];
  }
  const { insertRunPg } = await import("../test/support/pg-runs.js");
  const dir = mkdtempSync(join(tmpdir(), "fleetgate-bench-pg-"));
  const removeDir = cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  let db: Db | undefined;
  let synced: PgSyncDb | undefined;
  let client: pg.Client | undefined;
  const closeDb = cleanup.add("close the SQLite store and the PgSyncDb", () => {
    db?.close();
    synced?.close();
  });
  say("store: starting PostgreSQL (test/harness/postgres.ts)");
  const server = await startPostgres();
  const stopServer = cleanup.add("stop PostgreSQL", () => server.stop());
  const endClient = cleanup.add("close the PostgreSQL connection", () => client?.end());
  try {
    db = openDb(join(dir, "coord.db"));
    insertRun(db, { id: "bench", planName: "bench", planPath: "bench.plan.yaml", planYaml: "plan: bench\n", suites: {}, stages: ["fleet"], flags: [], createdAt: Date.now(), mode: "full", planRevision: "bench", options: {}, nodes: [] }, tasks);
    client = new pg.Client({ connectionString: await server.createDatabase("bench") });
    await client.connect();
    await migratePg(client);
    await insertRunPg(client, "bench", tasks);
    const setting = async (name: string) => ((await (client as pg.Client).query(`SHOW ${name}`)).rows[0] as Record<string, string>)[name];
    const durability = `fsync=${await setting("fsync")}, synchronous_commit=${await setting("synchronous_commit")}, wal_sync_method=${await setting("wal_sync_method")}`;
    const version = await setting("server_version");
    // coord serve's own path: recordAgentEvents in the engine's transaction, a stretch of events in one round trip to PgSyncDb's worker.
    synced = new PgSyncDb({ connectionString: await server.createDatabase("bench_sync"), applicationName: "fleetgate bench", reconnectMs: 2_000, statementTimeoutMs: 60_000 });
    insertRun(synced, { id: "bench", planName: "bench", planPath: "bench.plan.yaml", planYaml: "plan: bench\n", suites: {}, stages: ["fleet"], flags: [], createdAt: Date.now(), mode: "full", planRevision: "bench", options: {}, nodes: [] }, tasks);
    const lite = db;
    const conn = client;
    const sync = synced;
    const lanes: Lane[] = [
      { engine: "SQLite", seq: 0, results: [], batchMs: [], commit: async (b) => lite.transaction(() => b.map((e) => recordAgentEvent(lite, e.node, e.machineId, e.event, Date.now(), noWaivers).kind))() },
      { engine: "PostgreSQL", seq: 0, results: [], batchMs: [], commit: async (b) => (await commitAgentEvents(conn, b, { waiversOn: noWaivers })).map((o) => o.kind) },
      { engine: "PostgreSQL via PgSyncDb", seq: 0, results: [], batchMs: [], commit: async (b) => sync.transaction(() => recordAgentEvents(sync, b, Date.now(), noWaivers).map((o) => o.kind))() },
    ];
    say(`store: PostgreSQL ${version} against SQLite, warming up (10 batches of ${BATCH} each)`);
    for (const lane of lanes) {
      for (let i = 0; i < 10; i++) {
        await lane.commit(batchOf(lane.seq + 1));
        lane.seq += BATCH;
      }
    }
    for (let rep = 0; rep < REPS; rep++) {
      // Alternate which goes first, so the host's other load hits both alike.
      for (const lane of rep % 2 ? [...lanes].reverse() : lanes) {
        const r = await repetition(lane);
        lane.results.push(r.results);
        lane.batchMs.push(...r.batchMs);
      }
      say(`store: repetition ${rep + 1}/${REPS}: ${lanes.map((l) => `${l.engine} ${Math.round(l.results[rep] as number)} results/s`).join(", ")}`);
    }
    const stored = [
      (lite.prepare("SELECT COUNT(*) AS n FROM check_results").get() as { n: number }).n,
      ((await conn.query("SELECT COUNT(*)::int AS n FROM check_results")).rows[0] as { n: number }).n,
      (sync.prepare("SELECT COUNT(*) AS n FROM check_results").get() as { n: number }).n,
    ];
    const [sqlite, postgres, viaSync] = lanes as [Lane, Lane, Lane];
    const med = (xs: number[]) => summarize(xs).median;
    const ratio = med(postgres.results) / med(sqlite.results);
    const syncRatio = med(viaSync.results) / med(sqlite.results);
    const fs = fileSystemOf(dir);
    return [{
      title: "Store: agent events committed on PostgreSQL against SQLite",
      method:
        `The event commit path alone (no sequencer), on both engines in the same run: SQLite is \`recordAgentEvent\` on a coord.db opened with \`openDb\` as \`coord serve\` opens it (WAL, synchronous=FULL); ` +
        "`PostgreSQL via PgSyncDb` is what `coord serve --store postgres://…` runs: `recordAgentEvents` in `db.transaction` on coordinator/store/pg/sync-db.ts, as RunEngine.ingestBatch calls it: BEGIN with its fence check, the batch recorded by `recordAgentEventsPg` in the worker thread in one round trip, COMMIT; " +
        `\`PostgreSQL\` ${version} is \`commitAgentEvents\` (coordinator/store/pg/agent-events.ts), a batch in five statements, over one connection on loopback TCP to a server started by test/harness/postgres.ts (${durability}). ` +
        `Both data directories are in temp dirs on the same file system (${fs}). Each store holds one run of ${TASKS} pending tasks. ` +
        `A batch is ${BATCH} new check events committed in one transaction (on SQLite \`db.transaction\` around one \`recordAgentEvent\` per event, as RunEngine.ingestBatch does; on PostgreSQL one call: ` +
        "the agent_events rows in one INSERT … ON CONFLICT DO NOTHING, the task rows in one SELECT, the check_results rows in one upsert). " +
        `Warm-up 10 batches on each, then ${REPS} repetitions of ${BATCHES} batches (${BATCHES * BATCH} events) per engine, alternating which goes first. ` +
        `Every outcome is checked to be a new check; ${stored.join(" and ")} check results were stored in the end.`,
      rows: [
        ...lanes.map((l) => ({ measure: `check results committed, batches of ${BATCH}, ${l.engine}`, unit: "results/s", better: "higher" as const, summary: summarize(l.results) })),
        ...lanes.map((l) => ({ measure: `one batch of ${BATCH} committed, ${l.engine}`, unit: "ms", better: "lower" as const, summary: summarize(l.batchMs) })),
      ],
      bound:
        `PostgreSQL commits ${ratio.toFixed(2)}× as many check results per second as SQLite here (medians, same run): ` +
        `${formatNumber(med(postgres.batchMs))} ms against ${formatNumber(med(sqlite.batchMs))} ms per batch of ${BATCH} at the median. ` +
        "PostgreSQL pays five loopback round trips per batch (BEGIN, the three statements, COMMIT) and its WAL flush at each commit, in a server process of its own; " +
        "SQLite runs in the coordinator's process with one writer. " +
        `Through PgSyncDb, coord serve's path, it is ${syncRatio.toFixed(2)}× SQLite (${formatNumber(med(viaSync.batchMs))} ms per batch): the batched statements plus the fence check and a hop to the worker thread and back.`,
    }];
  } finally {
    await endClient();
    await stopServer();
    await closeDb();
    await removeDir();
  }
}
