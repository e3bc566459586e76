// The agent stream in-process (real gRPC on loopback, the store on SQLite and PostgreSQL): a node sending events beyond its
// rate and burst is read more slowly, never refused. Every result it sent is stored and
// acknowledged, and the slow-down is recorded once in the refusal log.
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AGENT_GATE_LIMITS, AgentGate } from "../../coordinator/fleet/agent-gate.js";
import { AgentSessions } from "../../coordinator/fleet/sessions.js";
import { RunEngine } from "../../coordinator/sequencer/engine.js";
import { RefusalLog } from "../../coordinator/server/refusals.js";
import type { Db } from "../../coordinator/store/db.js";
import { createEnrollToken } from "../../coordinator/store/tokens.js";
import { Status } from "../../shared/model/status.js";
import { helloRequest, newMachineId, ScriptedAgent } from "../support/hostile-client.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";
import { beginOneTaskRun, serveAgents, type ServedAgents } from "../support/agent-server.js";

const quiet = pino({ level: "silent" });
let db: Db;
let served: ServedAgents;
let engine: RunEngine;
let refusals: RefusalLog;

describe.each(STORE_ENGINES)("events beyond a node's rate (%s)", (storeEngine) => {
  const store = storeOf(storeEngine);

  beforeEach(async () => {
    db = await store.open();
    const sessions = new AgentSessions();
    engine = new RunEngine(db, sessions, quiet, {});
    refusals = new RefusalLog(quiet);
    // 10 events a second after a burst of 5: far below what any disk commits, so the gate, not the disk, sets the pace.
    const gate = new AgentGate({ ...AGENT_GATE_LIMITS, eventsPerMinutePerNode: 600, eventBurstPerNode: 5 });
    served = await serveAgents({ db, sessions, engine, log: quiet, heartbeatIntervalMs: 5_000, refusals, gate });
  });

  afterEach(() => {
    served.close();
    engine.stop();
    db.close();
  });

  describe("a node sending events beyond its rate", () => {
    it("is slowed, not refused: every result is stored and acknowledged, and the slow-down is recorded once", async () => {
      const machineId = newMachineId();
      const node = new ScriptedAgent(served.client, helloRequest({ name: "n1", enrollToken: createEnrollToken(db, 60_000, "").token, machineId }));
      await node.registered();
      beginOneTaskRun(db, engine, "n1");
      const task = await node.task();

      const n = 30;
      const origin = { machineId, hostname: "n1", bootId: "b" };
      for (let i = 0; i < n; i++) node.send({ origin, body: { case: "check", value: { taskId: task.taskId, result: { checkId: `c${i}`, kind: "command", status: Status.PASSED } } } });
      const last = node.send({ origin, body: { case: "taskDone", value: { taskId: task.taskId, status: Status.PASSED } } });
      await node.acked(last);

      expect(node.responses.filter((r) => r.msg.case === "ack").map((r) => (r.msg.value as { seq: bigint }).seq)).toEqual(Array.from({ length: n + 1 }, (_, i) => BigInt(i + 1)));
      expect(db.prepare("SELECT COUNT(*) AS n FROM check_results WHERE task_id = ? AND status = 'passed'").get(task.taskId)).toEqual({ n });
      expect(db.prepare("SELECT status FROM tasks WHERE id = ?").get(task.taskId)).toEqual({ status: "passed" });
      const { recent, totals } = refusals.read(10);
      expect(totals).toEqual([expect.objectContaining({ kind: "event_rate", count: 1 })]);
      expect(recent[0]).toMatchObject({ kind: "event_rate", code: "slowed", claimed: "n1", peer: "127.0.0.1" });
      node.close();
      // About 3 s of pacing; the rest is room for PostgreSQL and gRPC on a CI host running other test files at once.
    }, 60_000);
  });
});
