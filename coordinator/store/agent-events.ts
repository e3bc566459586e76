// Agent events, committed exactly once: the (node, seq) row and its effect land in one transaction.
import { create, toJson } from "@bufbuild/protobuf";
import type { AgentEvent } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { AttemptSchema, CheckResultSchema, TestCaseSchema, WaiverSchema, type CheckResult, type Waiver } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { isTerminal, Status, statusName } from "../../shared/model/status.js";
import { inTransaction, prepared, type Db } from "./db.js";
import { getTask, type TaskRow } from "./tasks.js";
import { addRunFlag, getRun, runWaiversOn } from "./runs.js";

export type CommitOutcome =
  /** `forkedFrom`: the boot id the stored event came from, when this one came from another (a fork). */
  | { kind: "duplicate"; forkedFrom?: string }
  | { kind: "stale"; task: TaskRow }
  /** `flagsRun`: the run to mark not valid for sign-off (a result for the node's own task from another host). */
  | { kind: "rejected"; reason: string; flagsRun?: string }
  | { kind: "check"; task: TaskRow; result: CheckResult }
  | { kind: "task_done"; task: TaskRow; status: Status; summary: string };

/**
 * Records one agent event exactly once: the (node, seq) row and its check result land in one
 * transaction (the caller's when one is open: a batch), so a resent event is recognised and
 * acknowledged without being applied twice.
 * A task's status is not written here: the run engine decides it and writes it in the same
 * transaction (RunEngine.ingestBatch), so there is one writer of task status.
 */
/**
 * Why a result the agent calls waived is not one this run waived, or undefined when it is: the
 * run's waiver in force on the node for that check (as sent with the task), over a gate check
 * that passed or failed. A waived result is otherwise the agent breaking, never a pass.
 */
function waiverProblem(waiversOn: WaiversOn, task: TaskRow, nodeName: string, r: CheckResult): string | undefined {
  if (r.status !== Status.WAIVED) return undefined;
  const sent = waiversOn(task.runId, nodeName).some((w) => w.checkId === r.checkId && w.source === r.waiver?.source);
  const judged = !r.precondition && (r.unwaivedStatus === Status.PASSED || r.unwaivedStatus === Status.FAILED);
  if (sent && judged) return undefined;
  return `node ${nodeName} reported check ${r.checkId} waived (${statusName(r.unwaivedStatus)}), but no waiver of run ${task.runId} in force on it covers that result`;
}

/** What a waived result keeps of its waiver: the waiver and the status underneath; '' when none. */
function waiverColumn(r: CheckResult): string {
  return r.waiver ? JSON.stringify({ waiver: toJson(WaiverSchema, r.waiver), unwaived: statusName(r.unwaivedStatus) }) : "";
}

/** The waivers of a run in force on a node, as sent with its tasks. */
export type WaiversOn = (runId: string, node: string) => Waiver[];

/** Read from the store: for callers without the run in memory (the engine passes its own). */
export function storedWaiversOn(db: Db): WaiversOn {
  return (runId, node) => {
    const run = getRun(db, runId);
    return run ? runWaiversOn(run, node) : [];
  };
}

export function recordAgentEvent(db: Db, nodeName: string, nodeMachineId: string, event: AgentEvent, now = Date.now(), waiversOn: WaiversOn = storedWaiversOn(db)): CommitOutcome {
  return inTransaction(db, (): CommitOutcome => {
    const bootId = event.origin?.bootId ?? "";
    const fresh = prepared(db, "INSERT OR IGNORE INTO agent_events (node_name, seq, received_at, origin_boot_id) VALUES (?, ?, ?, ?)").run(nodeName, event.seq, now, bootId);
    if (fresh.changes === 0) {
      // A resend carries the boot it was numbered under, whenever it is sent again; another boot
      // with the same seq is a second machine numbering this node's events (a cloned state dir).
      const stored = (prepared(db, "SELECT origin_boot_id FROM agent_events WHERE node_name = ? AND seq = ?").get(nodeName, event.seq) as { origin_boot_id: string }).origin_boot_id;
      return stored && bootId && stored !== bootId ? { kind: "duplicate", forkedFrom: stored } : { kind: "duplicate" };
    }
    if (event.body.case !== "check" && event.body.case !== "taskDone") return { kind: "rejected", reason: `event ${event.seq} has no body` };
    const taskId = event.body.value.taskId;
    const task = getTask(db, taskId);
    if (!task) return { kind: "rejected", reason: `event ${event.seq} names unknown task ${taskId}` };
    // Events are authorised by ownership: a node reports on the tasks sent to it, nothing else,
    // and a report on another node's task has no effect on any run.
    if (task.nodeName !== nodeName) return { kind: "rejected", reason: `node ${nodeName} reported for task ${taskId} of node ${task.nodeName}` };
    // DESIGN rule 1: a result counts only if the host that ran it is the node it claims to be.
    if (event.origin?.machineId !== nodeMachineId) {
      return { kind: "rejected", reason: `result for node ${nodeName} came from machine-id ${event.origin?.machineId || "(none)"}, expected ${nodeMachineId}`, flagsRun: task.runId };
    }
    if (event.body.case === "check") {
      // A task re-run after an agent restart must not overwrite the results that finished it.
      if (isTerminal(task.status)) return { kind: "stale", task };
      const r = event.body.value.result ?? create(CheckResultSchema);
      const forged = waiverProblem(waiversOn, task, nodeName, r);
      if (forged) {
        // Stored as the error it is, and the run can no longer be signed off whatever its tasks say.
        Object.assign(r, { status: Status.ERROR, summary: forged, waiver: undefined, unwaivedStatus: Status.UNSPECIFIED });
        addRunFlag(db, task.runId, forged);
      }
      prepared(db,
        `INSERT OR REPLACE INTO check_results (task_id, check_id, kind, precondition, status, summary, reason, hint, started_at,
           duration_ms, attempts, stdout_tail, stderr_tail, origin_machine_id, origin_hostname, origin_boot_id, cases_json, attempts_json, captured_json, waiver_json, run_as)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(taskId, r.checkId, r.kind, r.precondition ? 1 : 0, statusName(r.status), r.summary, r.reason, r.hint, r.startedAtMs, r.durationMs, r.attempts,
        r.stdoutTail, r.stderrTail, event.origin.machineId, event.origin.hostname, event.origin.bootId,
        JSON.stringify(r.cases.map((c) => toJson(TestCaseSchema, c))), JSON.stringify(r.attemptLog.map((a) => toJson(AttemptSchema, a))), JSON.stringify(r.captured),
        waiverColumn(r), r.runAs);
      return { kind: "check", task, result: r };
    }
    const { status, summary } = event.body.value;
    return { kind: "task_done", task, status, summary };
  });
}

