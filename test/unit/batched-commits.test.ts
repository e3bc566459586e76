// Batched commits (issue 16) against the store, SQLite and PostgreSQL: the coordinator's CommitQueue over the
// real RunEngine, with in-process sessions standing in for the agents' streams. What is proved is
// what the agents rely on: an event is acked only once a transaction holding it has committed
// (seen from a second connection, as a restarted coordinator would), each (node, seq) is applied
// once, a batch whose transaction fails acks nothing, and one bad event holds back only its stream.
import { create } from "@bufbuild/protobuf";
import Database from "better-sqlite3";
import pg from "pg";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentSessions } from "../../coordinator/fleet/sessions.js";
import { RunEngine, type IncomingEvent } from "../../coordinator/sequencer/engine.js";
import { CommitQueue, type BatchLimits, type QueuedEvent, type Settled } from "../../coordinator/server/commit-queue.js";
import type { Db, SqliteDb } from "../../coordinator/store/db.js";
import { insertRun, type NewTask } from "../../coordinator/store/runs.js";
import { AgentEventSchema, type Task } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { Status } from "../../shared/model/status.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const MACHINE = "1f2e3d4c5b6a79880011223344556677";
const NODES = ["n1", "n2", "n3"];
const quiet = pino({ level: "silent" });

let db: Db;
let engine: RunEngine;
let sent: Task[];
/** A second connection to the same store: it sees only what has committed. */
let reader: Db;

const taskId = (node: string, iteration = 1) => `r1/fleet/${node}/${iteration}`;

function check(node: string, seq: number, checkId: string, iteration = 1): IncomingEvent {
  const event = create(AgentEventSchema, {
    seq: BigInt(seq),
    origin: { machineId: MACHINE, bootId: "boot", hostname: node },
    body: { case: "check", value: { taskId: taskId(node, iteration), result: { checkId, kind: "command", status: Status.PASSED, summary: "exit 0", attempts: 1 } } },
  });
  return { node, machineId: MACHINE, event };
}

function done(node: string, seq: number, iteration = 1): IncomingEvent {
  const event = create(AgentEventSchema, { seq: BigInt(seq), origin: { machineId: MACHINE, bootId: "boot", hostname: node }, body: { case: "taskDone", value: { taskId: taskId(node, iteration), status: Status.PASSED, summary: "all passed" } } });
  return { node, machineId: MACHINE, event };
}

/** What the agents saw, in order: each settled event, and whether its row was committed by then. */
interface Seen {
  node: string;
  seq: number;
  kind: Settled["kind"];
  outcome?: string;
  committedWhenSettled: boolean;
}

/** A queue over the engine that logs every transaction it asks for and every event it settles. */
function harness(limits: BatchLimits) {
  const log: string[] = [];
  const seen: Seen[] = [];
  const queue = new CommitQueue(
    (events) => {
      try {
        const out = engine.ingestBatch(events);
        log.push(`committed ${events.length}`);
        return out;
      } catch (err) {
        log.push(`failed ${events.length}`);
        throw err;
      }
    },
    quiet,
    limits,
  );
  const push = (stream: object, e: IncomingEvent) => {
    const q: QueuedEvent = {
      ...e,
      stream,
      settle: (r) => {
        const seq = Number(e.event.seq);
        const committedWhenSettled = reader.prepare("SELECT 1 FROM agent_events WHERE node_name = ? AND seq = ?").get(e.node, seq) !== undefined;
        seen.push({ node: e.node, seq, kind: r.kind, outcome: r.kind === "committed" ? r.outcome.kind : undefined, committedWhenSettled });
        log.push(`settled ${e.node}#${seq} ${r.kind}`);
      },
    };
    queue.push(q);
  };
  return { queue, log, seen, push };
}

const rows = <T>(sql: string, ...params: unknown[]) => reader.prepare(sql).all(...params) as T[];
const eventSeqs = (node: string) => rows<{ seq: number }>("SELECT seq FROM agent_events WHERE node_name = ? ORDER BY seq", node).map((r) => r.seq);
const taskStatus = (node: string, iteration = 1) => rows<{ status: string }>("SELECT status FROM tasks WHERE id = ?", taskId(node, iteration))[0]?.status;

async function settledAll(seen: Seen[], n: number): Promise<void> {
  for (let i = 0; i < 200 && seen.length < n; i++) await new Promise((r) => setTimeout(r, 5));
  expect(seen).toHaveLength(n);
}

describe.each(STORE_ENGINES)("batched commits over the store (%s)", (storeEngine) => {
  const store = storeOf(storeEngine);

  /**
   * Makes the store unable to write and returns how to give it back. SQLite: another connection
   * holds the write lock, and this one waits 50 ms for it (SQLITE_BUSY). PostgreSQL: the store's
   * session ends and its database takes no new connection, so the writer finds the server out of
   * reach (PgStoreError unavailable) while the reader's session stays.
   */
  async function storeDown(): Promise<() => Promise<void>> {
    if (storeEngine === "sqlite") {
      (db as SqliteDb).pragma("busy_timeout = 50");
      const locker = new Database((db as SqliteDb).name);
      locker.exec("BEGIN IMMEDIATE");
      return async () => {
        locker.exec("ROLLBACK");
        locker.close();
      };
    }
    const server = reader.prepare("SELECT current_database() AS name, current_user AS user, inet_server_port() AS port").get() as { name: string; user: string; port: number };
    const { pid } = db.prepare("SELECT pg_backend_pid() AS pid").get() as { pid: number };
    // From another database: PostgreSQL refuses to close the current one to connections.
    const admin = new pg.Client({ host: "127.0.0.1", port: server.port, user: server.user, database: "postgres" });
    await admin.connect();
    const name = server.name;
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await admin.query("SELECT pg_terminate_backend($1)", [pid]);
    return async () => {
      await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
      await admin.end();
    };
  }

  /** A result that cannot be stored: a trigger refuses check `poison` inside the transaction (each engine's own trigger syntax). */
  function poisonResults(): { cure: () => void } {
    if (storeEngine === "sqlite") {
      db.exec("CREATE TRIGGER poison BEFORE INSERT ON check_results WHEN NEW.check_id = 'poison' BEGIN SELECT RAISE(ABORT, 'poison result'); END");
      return { cure: () => db.exec("DROP TRIGGER poison") };
    }
    db.exec(`CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.check_id = 'poison' THEN RAISE EXCEPTION 'poison result'; END IF; RETURN NEW; END $$;
             CREATE TRIGGER poison BEFORE INSERT ON check_results FOR EACH ROW EXECUTE FUNCTION poison()`);
    return { cure: () => db.exec("DROP TRIGGER poison ON check_results") };
  }

  beforeEach(async () => {
    db = await store.open();
    reader = store.reopen();
    sent = [];
    const sessions = new AgentSessions();
    for (const node of NODES) sessions.add({ node, machineId: MACHINE, bootId: "boot", address: "127.0.0.1", send: (t) => sent.push(t), cancel: () => {}, close: () => {} });
    engine = new RunEngine(db, sessions, quiet, {});
    const tasks: NewTask[] = NODES.flatMap((node) => [1, 2].map((iteration) => ({ id: taskId(node, iteration), stageId: "fleet", nodeName: node, iteration, suitePath: "s.yaml", allowDestructive: false })));
    insertRun(db, { id: "r1", planName: "p", planPath: "p.yaml", planYaml: "plan: p\nstages:\n  - { id: fleet, kind: fleet, suite: s.yaml }\n", suites: { "s.yaml": "suite: s" }, stages: ["fleet"], flags: [], createdAt: 1, mode: "full", planRevision: "x", options: {}, nodes: [] }, tasks);
    engine.begin("r1", [{ id: "fleet", parallel: NODES.length, stopOnFailure: false }]);
  });

  afterEach(() => {
    engine.stop();
    reader.close();
    db.close();
  });

  describe("batched commits of agent events", () => {
    it("commits events from several nodes in one transaction, acks each only once it is committed, and applies a resent batch never again", async () => {
      expect(sent.map((t) => t.taskId).sort()).toEqual(NODES.map((n) => taskId(n)));
      const { log, seen, push } = harness({ maxEvents: 500, maxDelayMs: 20 });
      const streams = Object.fromEntries(NODES.map((n) => [n, {}]));
      // Interleaved as three streams deliver them: two checks and the taskDone of each node's first task.
      const batch = [1, 2].flatMap((seq) => NODES.map((n) => check(n, seq, `c${seq}`))).concat(NODES.map((n) => done(n, 3)));
      for (const e of batch) push(streams[e.node] as object, e);

      // Waiting for the batch: nothing acked, nothing committed, no next task sent.
      expect(seen).toEqual([]);
      expect(rows("SELECT * FROM agent_events")).toEqual([]);
      expect(sent).toHaveLength(NODES.length);

      await settledAll(seen, batch.length);
      expect(log[0]).toBe(`committed ${batch.length}`);
      expect(seen.every((s) => s.kind === "committed" && s.committedWhenSettled)).toBe(true);
      // Each node's acks in its seq order; the taskDones finished the tasks and sent the next ones.
      for (const n of NODES) {
        expect(seen.filter((s) => s.node === n).map((s) => [s.seq, s.outcome])).toEqual([[1, "check"], [2, "check"], [3, "task_done"]]);
        expect(eventSeqs(n)).toEqual([1, 2, 3]);
        expect(taskStatus(n)).toBe("passed");
        expect(taskStatus(n, 2)).toBe("running");
      }
      expect(sent.slice(NODES.length).map((t) => t.taskId).sort()).toEqual(NODES.map((n) => taskId(n, 2)));
      expect(rows("SELECT task_id, check_id, COUNT(*) AS n FROM check_results GROUP BY task_id, check_id HAVING COUNT(*) <> 1")).toEqual([]);
      expect(rows<{ n: number }>("SELECT COUNT(*) AS n FROM check_results")[0]?.n).toBe(2 * NODES.length);

      // The agents never saw the acks (a dropped link): they send it all again, on new streams.
      for (const e of batch) push({}, e);
      await settledAll(seen, 2 * batch.length);
      expect(seen.slice(batch.length).map((s) => s.outcome)).toEqual(batch.map(() => "duplicate"));
      expect(rows<{ n: number }>("SELECT COUNT(*) AS n FROM agent_events")[0]?.n).toBe(batch.length);
      expect(rows<{ n: number }>("SELECT COUNT(*) AS n FROM check_results")[0]?.n).toBe(2 * NODES.length);
      // Not dispatched twice: a repeated taskDone decides nothing.
      expect(sent).toHaveLength(2 * NODES.length);
    });

    it("judges an event after its task's taskDone in the same batch against the status that taskDone wrote, as if committed one by one", () => {
      // PostgreSQL records a batch in stretches ending at each taskDone (RunEngine.ingestBatch):
      // the check after n1's taskDone must find the task passed, as it would alone, and be stale.
      const outcomes = engine.ingestBatch([check("n1", 1, "c1"), check("n2", 1, "c1"), done("n1", 2), check("n1", 3, "late"), check("n2", 2, "c2"), done("n2", 3)]);
      const alone = outcomes.map((o) => o.kind);
      expect(alone).toEqual(["check", "check", "task_done", "stale", "check", "task_done"]);
      expect(rows<{ check_id: string }>("SELECT check_id FROM check_results WHERE task_id = ? ORDER BY check_id", taskId("n1")).map((r) => r.check_id)).toEqual(["c1"]);
      expect([taskStatus("n1"), taskStatus("n2")]).toEqual(["passed", "passed"]);
    });

    it("steps a run through several taskDones of one batch, each from the state the previous one left", async () => {
      const { seen, push } = harness({ maxEvents: 500, maxDelayMs: 20 });
      const stream = {};
      // Both iterations of every node in one batch: the second task of a node is running only after
      // the first's taskDone in the same transaction; the last taskDone finishes the run.
      for (const n of NODES) {
        push(stream, done(n, 1, 1));
        push(stream, done(n, 2, 2));
      }
      await settledAll(seen, 2 * NODES.length);
      expect(seen.map((s) => s.outcome)).toEqual(seen.map(() => "task_done"));
      for (const n of NODES) expect([taskStatus(n, 1), taskStatus(n, 2)]).toEqual(["passed", "passed"]);
      expect(rows("SELECT status FROM runs")).toEqual([{ status: "passed" }]);
    });

    it("acks nothing of a batch whose transaction fails, and everything once the store takes it again", async () => {
      const { log, seen, push } = harness({ maxEvents: 500, maxDelayMs: 20 });
      // SQLite: SQLITE_BUSY after the (shortened) busy timeout. PostgreSQL: out of reach after reconnectMs.
      const storeBack = await storeDown();
      const batch = NODES.flatMap((n) => [check(n, 1, "c1"), done(n, 2)]);
      const streams = Object.fromEntries(NODES.map((n) => [n, {}]));
      for (const e of batch) push(streams[e.node] as object, e);
      await settledAll(seen, batch.length);
      await storeBack();

      expect(log[0]).toBe(`failed ${batch.length}`);
      // Alone, the first event fails the same way; the store is down, so the rest are not tried.
      expect(log.filter((l) => l.startsWith("committed") || l.startsWith("failed"))).toEqual([`failed ${batch.length}`, "failed 1"]);
      // No ack: each stream's first event failed (the stream ends), the one after it was dropped.
      expect(seen.map((s) => `${s.node}#${s.seq} ${s.kind}`)).toEqual(NODES.flatMap((n) => [`${n}#1 failed`, `${n}#2 dropped`]));
      expect(rows("SELECT * FROM agent_events")).toEqual([]);
      expect(rows("SELECT * FROM check_results")).toEqual([]);
      for (const n of NODES) expect(taskStatus(n)).toBe("running");

      // The agents reconnect and send the same events again: each lands once.
      for (const e of batch) push({}, e);
      await settledAll(seen, 2 * batch.length);
      expect(seen.slice(batch.length).every((s) => s.kind === "committed" && s.committedWhenSettled)).toBe(true);
      for (const n of NODES) {
        expect(eventSeqs(n)).toEqual([1, 2]);
        expect(taskStatus(n)).toBe("passed");
      }
    });

    it("isolates an event that cannot be stored: its stream takes nothing after it, other streams' events land", async () => {
      const { log, seen, push } = harness({ maxEvents: 500, maxDelayMs: 20 });
      // A real store failure inside the transaction, for this one result only.
      const poison = poisonResults();
      const s1 = {};
      const s2 = {};
      const order: [object, IncomingEvent][] = [
        [s1, check("n1", 1, "c1")],
        [s2, check("n2", 1, "c1")],
        [s1, check("n1", 2, "poison")],
        [s2, check("n2", 2, "c2")],
        [s1, check("n1", 3, "c3")],
        [s2, done("n2", 3)],
        [s1, done("n1", 4)],
      ];
      for (const [stream, e] of order) push(stream, e);
      await settledAll(seen, order.length);

      // The batch failed whole, then each event went alone: the ones after n1's bad one were not tried.
      expect(log.filter((l) => !l.startsWith("settled"))).toEqual(["failed 7", "committed 1", "committed 1", "failed 1", "committed 1", "committed 1"]);
      expect(seen.map((s) => `${s.node}#${s.seq} ${s.kind}`)).toEqual(["n1#1 committed", "n2#1 committed", "n1#2 failed", "n2#2 committed", "n1#3 dropped", "n2#3 committed", "n1#4 dropped"]);
      expect(seen.filter((s) => s.kind === "committed").every((s) => s.committedWhenSettled)).toBe(true);
      // Nothing of n1 past the gap; n2 complete.
      expect(eventSeqs("n1")).toEqual([1]);
      expect(eventSeqs("n2")).toEqual([1, 2, 3]);
      expect(taskStatus("n1")).toBe("running");
      expect(taskStatus("n2")).toBe("passed");
      // The failed stream is over: anything more from it is dropped, never committed.
      push(s1, check("n1", 5, "late"));
      await settledAll(seen, order.length + 1);
      expect(seen.at(-1)?.kind).toBe("dropped");
      expect(eventSeqs("n1")).toEqual([1]);

      // Once the result can be stored, n1's agent reconnects and resends from the gap.
      poison.cure();
      const again = {};
      for (const e of [check("n1", 2, "poison"), check("n1", 3, "c3"), done("n1", 4)]) push(again, e);
      await settledAll(seen, order.length + 4);
      expect(eventSeqs("n1")).toEqual([1, 2, 3, 4]);
      expect(taskStatus("n1")).toBe("passed");
      expect(rows<{ n: number }>("SELECT COUNT(*) AS n FROM check_results WHERE task_id = ?", taskId("n1"))[0]?.n).toBe(3);
    });

    it("commits at most maxEvents per transaction, and a partial batch once the delay is over", async () => {
      const { log, seen, push } = harness({ maxEvents: 4, maxDelayMs: 10 });
      const stream = {};
      for (let seq = 1; seq <= 10; seq++) push(stream, check("n1", seq, `c${seq}`));
      // Two full batches committed at once, while the events were pushed; the last two wait.
      expect(log.filter((l) => l.startsWith("committed"))).toEqual(["committed 4", "committed 4"]);
      expect(seen).toHaveLength(8);
      await settledAll(seen, 10);
      expect(log.filter((l) => l.startsWith("committed"))).toEqual(["committed 4", "committed 4", "committed 2"]);
      expect(seen.map((s) => s.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      expect(eventSeqs("n1")).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    });

    it("changes no run state when a batch holding a taskDone fails, so the same event decides once it commits", () => {
      poisonResults();
      const before = sent.length;
      expect(() => engine.ingestBatch([done("n1", 1), check("n2", 1, "poison")])).toThrow(/poison result/);
      expect(taskStatus("n1")).toBe("running");
      expect(sent).toHaveLength(before);
      expect(engine.ingestBatch([done("n1", 1)]).map((o) => o.kind)).toEqual(["task_done"]);
      expect(taskStatus("n1")).toBe("passed");
      expect(sent.slice(before).map((t) => t.taskId)).toEqual([taskId("n1", 2)]);
    });
  });
});
