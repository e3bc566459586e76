// Agent events, committed exactly once: the (node, seq) row and its effect land in one transaction.
// What an event becomes (which count, the row of a result) is event-rules.ts, shared with the
// PostgreSQL store (pg/agent-events.ts).
import type { AgentEvent } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { inTransaction, prepared, type Db } from "./db.js";
import { CHECK_RESULT_COLUMNS, checkResultValues, duplicateOutcome, eventTaskId, judgeEvent, resultToStore, taskDoneOutcome, type CommitOutcome, type WaiversOn } from "./event-rules.js";
import { getTask } from "./tasks.js";
import { addRunFlag, getRun, runWaiversOn } from "./runs.js";
import { PgSyncDb } from "./pg/sync-db.js";
import { Status } from "../../shared/model/status.js";

export type { CommitOutcome, WaiversOn } from "./event-rules.js";

/** Read from the store: for callers without the run in memory (the engine passes its own). */
export function storedWaiversOn(db: Db): WaiversOn {
  return (runId, node) => {
    const run = getRun(db, runId);
    return run ? runWaiversOn(run, node) : [];
  };
}

// A result replaces the task's earlier one for the same check (a retried task) as a new row: the
// old one deleted, the new one inserted, so it takes a new rowid, the tie-break of results in
// insertion order (run-record.ts). What SQLite's INSERT OR REPLACE did, in SQL both engines run.
const DELETE_RESULT = "DELETE FROM check_results WHERE task_id = ? AND check_id = ?";
const INSERT_RESULT = `INSERT INTO check_results (${CHECK_RESULT_COLUMNS.join(", ")}) VALUES (${CHECK_RESULT_COLUMNS.map(() => "?").join(", ")})`;

/**
 * Records one agent event exactly once: the (node, seq) row and its check result land in one
 * transaction (the caller's when one is open: a batch), so a resent event is recognised and
 * acknowledged without being applied twice.
 * A task's status is not written here: the run engine decides it and writes it in the same
 * transaction (RunEngine.ingestBatch), so there is one writer of task status.
 */
export function recordAgentEvent(db: Db, nodeName: string, nodeMachineId: string, event: AgentEvent, now = Date.now(), waiversOn: WaiversOn = storedWaiversOn(db)): CommitOutcome {
  return inTransaction(db, (): CommitOutcome => {
    const bootId = event.origin?.bootId ?? "";
    const fresh = prepared(db, "INSERT INTO agent_events (node_name, seq, received_at, origin_boot_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING").run(nodeName, event.seq, now, bootId);
    if (fresh.changes === 0) {
      // A resend carries the boot it was numbered under, whenever it is sent again; another boot
      // with the same seq is a second machine numbering this node's events (a cloned state dir).
      const stored = (prepared(db, "SELECT origin_boot_id FROM agent_events WHERE node_name = ? AND seq = ?").get(nodeName, event.seq) as { origin_boot_id: string }).origin_boot_id;
      return duplicateOutcome(stored, bootId);
    }
    const taskId = eventTaskId(event);
    const judged = judgeEvent(nodeName, nodeMachineId, event, taskId === undefined ? undefined : getTask(db, taskId));
    if ("outcome" in judged) return judged.outcome;
    const task = judged.apply;
    const done = taskDoneOutcome(event, task);
    if (done) return done;
    const { result, runFlag } = resultToStore(event, task, nodeName, waiversOn);
    if (runFlag) addRunFlag(db, task.runId, runFlag);
    prepared(db, DELETE_RESULT).run(task.id, result.checkId);
    prepared(db, INSERT_RESULT).run(...checkResultValues(task.id, result, event));
    return { kind: "check", task, result };
  });
}

/** An event off one node's stream, as RunEngine.ingestBatch takes it. */
export interface NodeEvent {
  node: string;
  /** The machine-id the node is registered with. */
  machineId: string;
  event: AgentEvent;
}

/**
 * recordAgentEvent for each event in turn, in the caller's transaction, one outcome each. On
 * PostgreSQL a run of events no waiver judges goes in one round trip (PgSyncDb.recordEvents), with
 * the same outcomes and rows; the caller steps its runs after a taskDone before recording what
 * follows it (RunEngine.ingestBatch passes stretches ending at a taskDone).
 */
export function recordAgentEvents(db: Db, events: readonly NodeEvent[], now: number, waiversOn: WaiversOn): CommitOutcome[] {
  const waived = (e: NodeEvent) => e.event.body.case === "check" && e.event.body.value.result?.status === Status.WAIVED;
  if (db instanceof PgSyncDb && events.length > 1 && !events.some(waived)) return db.recordEvents(events, now);
  return events.map((e) => recordAgentEvent(db, e.node, e.machineId, e.event, now, waiversOn));
}
