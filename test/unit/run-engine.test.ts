// The run engine against the store (SQLite and PostgreSQL) and an in-process session: it is the one writer of
// task status, and it writes a finished task's status in the transaction that records the event.
import { create } from "@bufbuild/protobuf";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentSessions } from "../../coordinator/fleet/sessions.js";
import { RunEngine } from "../../coordinator/sequencer/engine.js";
import type { Db } from "../../coordinator/store/db.js";
import { insertRun } from "../../coordinator/store/runs.js";
import { AgentEventSchema, type Task } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import type { WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status } from "../../shared/model/status.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const MACHINE = "1f2e3d4c5b6a79880011223344556677";
const TASK = "r1/fleet/n1/1";

let db: Db;
let engine: RunEngine;
let sessions: AgentSessions;
let sent: Task[];

function done(seq: number, status: Status) {
  return create(AgentEventSchema, { seq: BigInt(seq), origin: { machineId: MACHINE }, body: { case: "taskDone", value: { taskId: TASK, status, summary: "1/1 passed" } } });
}
const taskRow = (d: Db = db) => d.prepare("SELECT status, summary FROM tasks WHERE id = ?").get(TASK);
const runRow = (d: Db = db) => d.prepare("SELECT status FROM runs WHERE id = 'r1'").get();

describe.each(STORE_ENGINES)("RunEngine over the store (%s)", (storeEngine) => {
  const store = storeOf(storeEngine);

  beforeEach(async () => {
    db = await store.open();
    sent = [];
    sessions = new AgentSessions();
    sessions.add({ node: "n1", machineId: MACHINE, bootId: "boot", address: "127.0.0.1", send: (t) => sent.push(t), cancel: () => {}, close: () => {} });
    engine = new RunEngine(db, sessions, pino({ level: "silent" }), {});
    insertRun(
      db,
      { id: "r1", planName: "p", planPath: "p.yaml", planYaml: "plan: p\nstages:\n  - { id: fleet, kind: fleet, suite: s.yaml }\n", suites: { "s.yaml": "suite: s" }, stages: ["fleet"], flags: [], createdAt: 1, mode: "full", planRevision: "x", options: {}, nodes: [] },
      [{ id: TASK, stageId: "fleet", nodeName: "n1", iteration: 1, suitePath: "s.yaml", allowDestructive: false }],
    );
    engine.begin("r1", [{ id: "fleet", parallel: 1, stopOnFailure: false }]);
  });

  afterEach(() => {
    engine.stop();
    db.close();
  });

  describe("RunEngine.ingest", () => {
    it("writes the task's status and the run's end in the transaction that records the event", () => {
      expect(sent.map((t) => t.taskId)).toEqual([TASK]);
      expect(taskRow()).toEqual({ status: "running", summary: "" });
      expect(engine.ingest("n1", MACHINE, done(1, Status.PASSED)).kind).toBe("task_done");
      // Read from a second connection, as a restarted coordinator would: committed, not just in memory.
      const other = store.reopen();
      expect(taskRow(other)).toEqual({ status: "passed", summary: "1/1 passed" });
      expect(runRow(other)).toEqual({ status: "passed" });
      other.close();
    });

    it("tells watchers of a check result without its output tails, which the stored result keeps", () => {
      const published: WatchRunResponse[] = [];
      engine.updates.on("update", (_runId: string, u: WatchRunResponse) => published.push(u));
      const result = { checkId: "loud", kind: "command", status: Status.FAILED, summary: "expected exit 0, saw 1", hint: "read the log", stdoutTail: "x".repeat(200_000), stderrTail: "boom\n" };
      const event = create(AgentEventSchema, { seq: 1n, origin: { machineId: MACHINE }, body: { case: "check", value: { taskId: TASK, result } } });
      expect(engine.ingest("n1", MACHINE, event).kind).toBe("check");
      const checks = published.flatMap((u) => (u.event.case === "check" ? [u.event.value.result] : []));
      expect(checks.map((r) => [r?.checkId, r?.status, r?.summary, r?.hint, r?.stdoutTail, r?.stderrTail])).toEqual([["loud", Status.FAILED, "expected exit 0, saw 1", "read the log", "", ""]]);
      expect(db.prepare("SELECT length(stdout_tail) AS out, stderr_tail AS err FROM check_results WHERE task_id = ?").get(TASK)).toEqual({ out: 200_000, err: "boom\n" });
    });

    it("ignores a repeated or late report: a task that is over keeps its status", () => {
      engine.cancel("r1", "cancelled by test");
      expect(taskRow()).toEqual({ status: "cancelled", summary: "cancelled by test" });
      expect(engine.ingest("n1", MACHINE, done(2, Status.PASSED)).kind).toBe("task_done");
      expect(taskRow()).toEqual({ status: "cancelled", summary: "cancelled by test" });
      expect(engine.ingest("n1", MACHINE, done(2, Status.PASSED)).kind).toBe("duplicate");
    });

    it("records nothing of an event from the wrong machine, and leaves the task running", () => {
      const forged = create(AgentEventSchema, { seq: 3n, origin: { machineId: "ffffffffffffffffffffffffffffffff" }, body: { case: "taskDone", value: { taskId: TASK, status: Status.PASSED } } });
      expect(engine.ingest("n1", MACHINE, forged).kind).toBe("rejected");
      expect(taskRow()).toEqual({ status: "running", summary: "" });
    });

    it("marks a running run not valid for sign-off when the fleet sees its node answered by two machines", () => {
      engine.start();
      sessions.heard("n1");
      sessions.add({ node: "n1", machineId: MACHINE, bootId: "another-boot", address: "10.0.0.9", send: () => {}, cancel: () => {}, close: () => {} });
      const flags = JSON.parse((db.prepare("SELECT flags_json FROM runs WHERE id = 'r1'").get() as { flags_json: string }).flags_json) as string[];
      expect(flags).toEqual([expect.stringMatching(/^node n1 is cloned: two machines answered as node n1 at once: boot boot from 127\.0\.0\.1 and boot another- from 10\.0\.0\.9/)]);
    });
  });
});
