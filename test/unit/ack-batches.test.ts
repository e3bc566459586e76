// Acks in batches (issue 16): an agent whose Hello says it takes them gets one Ack for all of a
// commit's events from its stream; one from before the field gets one Ack per event, as it always
// did. Either way every event is acknowledged exactly once, in order, and only once it is stored.
// Real gRPC on loopback, the store on SQLite and PostgreSQL.
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentSessions } from "../../coordinator/fleet/sessions.js";
import { RunEngine } from "../../coordinator/sequencer/engine.js";
import type { Db } from "../../coordinator/store/db.js";
import { createEnrollToken } from "../../coordinator/store/tokens.js";
import { Status } from "../../shared/model/status.js";
import { beginOneTaskRun, serveAgents, type ServedAgents } from "../support/agent-server.js";
import { helloRequest, newMachineId, ScriptedAgent } from "../support/hostile-client.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const quiet = pino({ level: "silent" });
const CHECKS = 200;

describe.each(STORE_ENGINES)("acknowledging a stream's events (%s)", (storeEngine) => {
  const store = storeOf(storeEngine);
  let db: Db;
  let served: ServedAgents;
  let engine: RunEngine;

  beforeEach(async () => {
    db = await store.open();
    const sessions = new AgentSessions();
    engine = new RunEngine(db, sessions, quiet, {});
    served = await serveAgents({ db, sessions, engine, log: quiet, heartbeatIntervalMs: 5_000 });
  });

  afterEach(() => {
    served.close();
    engine.stop();
    db.close();
  });

  /** A registered node given a task, which reports CHECKS results and the task's end at once; its acks once the last is acked. */
  async function reportAll(takesAckBatches: boolean): Promise<bigint[][]> {
    const machineId = newMachineId();
    const node = new ScriptedAgent(served.client, helloRequest({ name: "n1", enrollToken: createEnrollToken(db, 60_000, "").token, machineId, takesAckBatches }));
    await node.registered();
    beginOneTaskRun(db, engine, "n1");
    const task = await node.task();
    const origin = { machineId, hostname: "n1", bootId: "b" };
    for (let i = 0; i < CHECKS; i++) node.send({ origin, body: { case: "check", value: { taskId: task.taskId, result: { checkId: `c${i}`, kind: "command", status: Status.PASSED } } } });
    const last = node.send({ origin, body: { case: "taskDone", value: { taskId: task.taskId, status: Status.PASSED } } });
    await node.acked(last);
    expect(db.prepare("SELECT COUNT(*) AS n FROM check_results WHERE task_id = ? AND status = 'passed'").get(task.taskId)).toEqual({ n: CHECKS });
    // Room for an ack wrongly sent twice to arrive.
    await new Promise((r) => setTimeout(r, 200));
    node.close();
    return node.acks();
  }

  const everySeq = Array.from({ length: CHECKS + 1 }, (_, i) => BigInt(i + 1));

  it("acknowledges a commit's events in one Ack to an agent that takes batches: each event once, in order", async () => {
    const acks = await reportAll(true);
    expect(acks.flat()).toEqual(everySeq);
    expect(acks.length).toBeLessThan(everySeq.length);
  });

  it("acknowledges each event in an Ack of its own to an agent from before batches", async () => {
    const acks = await reportAll(false);
    expect(acks).toEqual(everySeq.map((seq) => [seq]));
  });
});
