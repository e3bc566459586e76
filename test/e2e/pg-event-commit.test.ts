// The agent-event commit path on a real PostgreSQL (test/harness/postgres.ts): a batch in one
// transaction, dedup by agent_events' (node_name, seq) key, the same rows and outcomes as
// recordAgentEvent on SQLite, exactly once under replays, overlaps and two connections at once,
// and nothing at all when the transaction fails.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { recordAgentEvent, type CommitOutcome } from "../../coordinator/store/agent-events.js";
import { openDb, type Db } from "../../coordinator/store/db.js";
import { commitAgentEvents, type PgIncomingEvent } from "../../coordinator/store/pg/agent-events.js";
import { migratePg } from "../../coordinator/store/pg/db.js";
import { insertRun, type NewTask } from "../../coordinator/store/runs.js";
import { AgentEventSchema, type AgentEvent } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { Status } from "../../shared/model/status.js";
import { postgresBinary, startPostgres, type PostgresServer } from "../harness/postgres.js";
import { insertRunPg } from "../support/pg-runs.js";
import { needsTool } from "../support/system-tools.js";

const ready = needsTool(postgresBinary("initdb"), "postgresql");

const MACHINE = "0123456789abcdef0123456789abcdef";
const NODES = ["n1", "n2"];
const TASKS: NewTask[] = NODES.flatMap((node) => [1, 2, 3].map((i) => ({ id: `r1/fleet/${node}/${i}`, stageId: "fleet", nodeName: node, iteration: i, suitePath: "s.yaml", allowDestructive: false })));
const noWaivers = () => [];

function event(node: string, seq: number, body: MessageInitShape<typeof AgentEventSchema>["body"], boot = "boot-1", machineId = MACHINE): PgIncomingEvent {
  return { node, machineId: MACHINE, event: create(AgentEventSchema, { seq: BigInt(seq), origin: { machineId, bootId: boot, hostname: node }, body }) };
}

function check(node: string, seq: number, task = 1, checkId = `c${seq}`, extra: Record<string, unknown> = {}, origin: { boot?: string; machineId?: string } = {}): PgIncomingEvent {
  const result = { checkId, kind: "command", status: Status.PASSED, summary: "exit 0", startedAtMs: 1_700_000_000_000n + BigInt(seq), durationMs: 3n, attempts: 1, stdoutTail: `out ${seq}`, ...extra };
  return event(node, seq, { case: "check", value: { taskId: `r1/fleet/${node}/${task}`, result } }, origin.boot, origin.machineId);
}

const checks = (node: string, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => check(node, from + i, 1 + ((from + i) % 3)));

/** kind, plus what distinguishes outcomes of that kind (no task rows: those differ in engine-specific fields only by type). */
function summary(o: CommitOutcome): string {
  if (o.kind === "duplicate") return `duplicate${o.forkedFrom ? ` forked from ${o.forkedFrom}` : ""}`;
  if (o.kind === "rejected") return `rejected: ${o.reason}${o.flagsRun ? ` (flags ${o.flagsRun})` : ""}`;
  if (o.kind === "check") return `check ${o.task.id} ${o.result.checkId} ${o.result.status}`;
  if (o.kind === "task_done") return `task_done ${o.task.id} ${o.status}`;
  return `stale ${o.task.id}`;
}

describe.skipIf(!ready)("committing agent events on PostgreSQL", () => {
  let server: PostgresServer;
  let dbs = 0;
  const open: pg.Client[] = [];

  beforeAll(async () => {
    server = await startPostgres();
  }, 120_000);

  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.end()));
  });

  afterAll(async () => {
    await server?.stop();
  });

  /** A fresh migrated database with run r1 (three tasks on each of n1, n2), and `n` connections to it. */
  async function store(n = 1): Promise<pg.Client[]> {
    const url = await server.createDatabase(`commit_${++dbs}`);
    const clients = Array.from({ length: n }, () => new pg.Client({ connectionString: url }));
    open.push(...clients);
    await Promise.all(clients.map((c) => c.connect()));
    const first = clients[0] as pg.Client;
    await migratePg(first);
    await insertRunPg(first, "r1", TASKS);
    return clients;
  }

  const count = async (c: pg.Client, table: string) => (await c.query(`SELECT COUNT(*)::int AS n FROM ${table}`)).rows[0].n as number;

  it("stores the same agent_events and check_results rows, with the same outcomes, as recordAgentEvent on SQLite", async () => {
    const [c] = (await store()) as [pg.Client];
    const dir = mkdtempSync(join(tmpdir(), "fleetgate-pg-same-rows-"));
    const lite: Db = openDb(join(dir, "coord.db"));
    try {
      insertRun(lite, { id: "r1", planName: "test", planPath: "test.plan.yaml", planYaml: "plan: test", suites: {}, stages: ["fleet"], flags: [], createdAt: 1, mode: "full", planRevision: "r1", options: {}, nodes: [] }, TASKS);
      // Task 3 of n2 already finished: a late result for it is stale on both.
      lite.prepare("UPDATE tasks SET status = 'passed' WHERE id = 'r1/fleet/n2/3'").run();
      await c.query("UPDATE tasks SET status = 'passed' WHERE id = 'r1/fleet/n2/3'");
      // Built for each engine: a batch's events are the caller's, and neither engine may change them.
      const batch = () => [
        check("n1", 1),
        check("n1", 2, 1, "c1", { status: Status.FAILED, summary: "exit 1", cases: [{ name: "case a", status: Status.FAILED }], captured: { v: "42" } }), // replaces n1's c1 result
        check("n1", 1), // the same event again in the same batch
        check("n2", 1, 2, "c9", { status: Status.WAIVED, unwaivedStatus: Status.FAILED, waiver: { checkId: "c9", source: "waivers.yaml:1:1" } }), // a waiver the run does not have
        check("n2", 2, 3), // task already finished
        check("n1", 3, 2, "c3", { runAs: "app", attemptLog: [{ attempt: 1, status: Status.PASSED, summary: "ok" }] }),
        event("n1", 4, { case: "taskDone", value: { taskId: "r1/fleet/n1/1", status: Status.FAILED, summary: "1 failed" } }),
        check("n2", 3, 1, "c3", {}, { machineId: "ffffffffffffffffffffffffffffffff" }), // n2's own task, but another machine ran it
        check("n1", 5, 2, "x"), // fine: a second check of task 2
        event("n2", 4, { case: "check", value: { taskId: "r1/fleet/nope/1" } }), // unknown task
        event("n1", 6, { case: "check", value: { taskId: "r1/fleet/n2/1" } }), // another node's task
        event("n2", 5, undefined), // no body
      ];
      const now = 1_800_000_000_000;
      const fromPg = await commitAgentEvents(c, batch(), { waiversOn: noWaivers, now });
      const fromLite = lite.transaction(() => batch().map((e) => recordAgentEvent(lite, e.node, e.machineId, e.event, now, noWaivers)))();
      expect(fromPg.map(summary)).toEqual(fromLite.map(summary));
      expect(fromPg.map((o) => o.kind)).toEqual(["check", "check", "duplicate", "check", "stale", "check", "task_done", "rejected", "check", "rejected", "rejected", "rejected"]);

      const resultsSql = "SELECT * FROM check_results ORDER BY started_at, rowid";
      const strip = (rows: Record<string, unknown>[]) => rows.map(({ rowid: _rowid, ...r }) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === "string" && /^(started_at|duration_ms)$/.test(k) ? Number(v) : v])));
      expect(strip((await c.query(resultsSql)).rows)).toEqual(strip(lite.prepare(resultsSql).all() as Record<string, unknown>[]));
      const eventsSql = "SELECT node_name, seq, received_at, origin_boot_id FROM agent_events ORDER BY node_name, seq";
      const numbers = (rows: Record<string, unknown>[]) => rows.map((r) => ({ ...r, seq: Number(r.seq), received_at: Number(r.received_at) }));
      expect(numbers((await c.query(eventsSql)).rows)).toEqual(numbers(lite.prepare(eventsSql).all() as Record<string, unknown>[]));
      expect(await count(c, "agent_events")).toBe(11);
      // The forged waiver is an error row on both, and the run can no longer be signed off.
      expect((await c.query("SELECT status FROM check_results WHERE check_id = 'c9'")).rows).toEqual([{ status: "error" }]);
      const flags = (await c.query("SELECT flags_json FROM runs WHERE id = 'r1'")).rows[0].flags_json as string;
      expect(JSON.parse(flags)).toEqual(JSON.parse((lite.prepare("SELECT flags_json FROM runs WHERE id = 'r1'").get() as { flags_json: string }).flags_json));
      expect(JSON.parse(flags)).toHaveLength(1);
    } finally {
      lite.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("commits a replayed batch not at all, and of an overlapping batch only the events not stored yet", async () => {
    const [c] = (await store()) as [pg.Client];
    const first = await commitAgentEvents(c, checks("n1", 1, 30), { waiversOn: noWaivers });
    expect(first.every((o) => o.kind === "check")).toBe(true);
    const rowsBefore = (await c.query("SELECT task_id, check_id, rowid FROM check_results ORDER BY rowid")).rows;

    const replay = await commitAgentEvents(c, checks("n1", 1, 30), { waiversOn: noWaivers });
    expect(replay.map((o) => o.kind)).toEqual(Array(30).fill("duplicate"));
    expect((await c.query("SELECT task_id, check_id, rowid FROM check_results ORDER BY rowid")).rows).toEqual(rowsBefore);

    const overlap = await commitAgentEvents(c, checks("n1", 21, 50), { waiversOn: noWaivers });
    expect(overlap.map((o) => o.kind)).toEqual([...Array(10).fill("duplicate"), ...Array(20).fill("check")]);
    expect(await count(c, "agent_events")).toBe(50);
    expect(await count(c, "check_results")).toBe(50);
  });

  it("says which repeat came from another boot of the node (a fork), as SQLite does", async () => {
    const [c] = (await store()) as [pg.Client];
    await commitAgentEvents(c, [check("n1", 7)], { waiversOn: noWaivers });
    const again = await commitAgentEvents(c, [check("n1", 7), check("n1", 7, 1, "c7", {}, { boot: "boot-2" })], { waiversOn: noWaivers });
    expect(again).toEqual([{ kind: "duplicate" }, { kind: "duplicate", forkedFrom: "boot-1" }]);
  });

  it("stores each event exactly once when two connections commit the same and overlapping batches at the same time", async () => {
    const [a, b] = (await store(2)) as [pg.Client, pg.Client];
    for (let round = 0; round < 10; round++) {
      const base = round * 100;
      // The same 50 events on both; then overlapping batches, one in reverse order of arrival.
      const same = [...checks("n1", base + 1, base + 25), ...checks("n2", base + 1, base + 25)];
      const [x, y] = await Promise.all([commitAgentEvents(a, same, { waiversOn: noWaivers }), commitAgentEvents(b, same, { waiversOn: noWaivers })]);
      same.forEach((_, i) => expect([x[i]?.kind, y[i]?.kind].sort(), `round ${round} event ${i}`).toEqual(["check", "duplicate"]));

      const one = checks("n1", base + 26, base + 75);
      const other = checks("n1", base + 50, base + 99).reverse();
      const [p, q] = await Promise.all([commitAgentEvents(a, one, { waiversOn: noWaivers }), commitAgentEvents(b, other, { waiversOn: noWaivers })]);
      const firsts = [...p, ...q].filter((o) => o.kind === "check").length;
      expect(firsts, `round ${round}`).toBe(74); // seqs base+26 … base+99, each new exactly once
    }
    expect(await count(a, "agent_events")).toBe(10 * (50 + 74));
    const perKey = await a.query("SELECT COUNT(*)::int AS n FROM agent_events GROUP BY node_name, seq HAVING COUNT(*) > 1");
    expect(perKey.rows).toEqual([]);
  });

  it("commits none of a batch whose transaction fails, and all of it once it can", async () => {
    const [c] = (await store()) as [pg.Client];
    // A constraint of this test's own, broken by the batch's last result: the statement that fails
    // comes after the batch's agent_events rows were inserted.
    await c.query("ALTER TABLE check_results ADD CONSTRAINT no_poison CHECK (check_id <> 'poison')");
    const batch = [...checks("n1", 1, 10), check("n1", 11, 1, "poison")];
    await expect(commitAgentEvents(c, batch, { waiversOn: noWaivers })).rejects.toMatchObject({ code: "23514" });
    expect(await count(c, "agent_events")).toBe(0);
    expect(await count(c, "check_results")).toBe(0);

    await c.query("ALTER TABLE check_results DROP CONSTRAINT no_poison");
    const outcomes = await commitAgentEvents(c, batch, { waiversOn: noWaivers });
    expect(outcomes.map((o) => o.kind)).toEqual(Array(11).fill("check"));
    expect(await count(c, "agent_events")).toBe(11);
  });

  it("stores a NUL in a check's output as U+FFFD, which PostgreSQL text can hold, instead of failing the batch", async () => {
    const [c] = (await store()) as [pg.Client];
    const outcomes = await commitAgentEvents(c, [check("n1", 1, 1, "bin", { stdoutTail: "a\u0000b" }), check("n1", 2)], { waiversOn: noWaivers });
    expect(outcomes.map((o) => o.kind)).toEqual(["check", "check"]);
    expect((await c.query("SELECT stdout_tail FROM check_results WHERE check_id = 'bin'")).rows).toEqual([{ stdout_tail: "a\uFFFDb" }]);
  });
});
