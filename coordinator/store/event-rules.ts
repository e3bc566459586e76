// What an agent event becomes in the store, whichever engine holds it (SQLite: agent-events.ts,
// PostgreSQL: pg/agent-events.ts): which events count, what a forged waiver turns into, and the
// check_results row a result is stored as. One answer for both, so the engines cannot drift.
import { clone, create, toJson } from "@bufbuild/protobuf";
import type { AgentEvent } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { AttemptSchema, CheckResultSchema, TestCaseSchema, WaiverSchema, type CheckResult, type Waiver } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { isTerminal, Status, statusName } from "../../shared/model/status.js";
import type { TaskRow } from "./tasks.js";

export type CommitOutcome =
  /** `forkedFrom`: the boot id the stored event came from, when this one came from another (a fork). */
  | { kind: "duplicate"; forkedFrom?: string }
  | { kind: "stale"; task: TaskRow }
  /** `flagsRun`: the run to mark not valid for sign-off (a result for the node's own task from another host). */
  | { kind: "rejected"; reason: string; flagsRun?: string }
  | { kind: "check"; task: TaskRow; result: CheckResult }
  | { kind: "task_done"; task: TaskRow; status: Status; summary: string };

/** The waivers of a run in force on a node, as sent with its tasks. */
export type WaiversOn = (runId: string, node: string) => Waiver[];

/** A repeat of a stored event: a fork when it was numbered under another boot (a cloned state dir). */
export function duplicateOutcome(storedBootId: string, bootId: string): CommitOutcome {
  return storedBootId && bootId && storedBootId !== bootId ? { kind: "duplicate", forkedFrom: storedBootId } : { kind: "duplicate" };
}

/**
 * Whether a new (not repeated) event is applied to `task`, the row its body names (read in the
 * same transaction), or settled without effect: no body, an unknown task, another node's task,
 * another host's result, or a result for a task already finished.
 */
export function judgeEvent(nodeName: string, nodeMachineId: string, event: AgentEvent, task: TaskRow | undefined): { apply: TaskRow } | { outcome: CommitOutcome } {
  if (event.body.case !== "check" && event.body.case !== "taskDone") return { outcome: { kind: "rejected", reason: `event ${event.seq} has no body` } };
  const taskId = event.body.value.taskId;
  if (!task) return { outcome: { kind: "rejected", reason: `event ${event.seq} names unknown task ${taskId}` } };
  // Events are authorised by ownership: a node reports on the tasks sent to it, nothing else,
  // and a report on another node's task has no effect on any run.
  if (task.nodeName !== nodeName) return { outcome: { kind: "rejected", reason: `node ${nodeName} reported for task ${taskId} of node ${task.nodeName}` } };
  // DESIGN rule 1: a result counts only if the host that ran it is the node it claims to be.
  if (event.origin?.machineId !== nodeMachineId) {
    return { outcome: { kind: "rejected", reason: `result for node ${nodeName} came from machine-id ${event.origin?.machineId || "(none)"}, expected ${nodeMachineId}`, flagsRun: task.runId } };
  }
  // A task re-run after an agent restart must not overwrite the results that finished it.
  if (event.body.case === "check" && isTerminal(task.status)) return { outcome: { kind: "stale", task } };
  return { apply: task };
}

/** The task an event's body names, if it has one. */
export function eventTaskId(event: AgentEvent): string | undefined {
  return event.body.case === "check" || event.body.case === "taskDone" ? event.body.value.taskId : undefined;
}

/** The outcome of an applied taskDone event (its status is the run engine's to write), or undefined for a check. */
export function taskDoneOutcome(event: AgentEvent, task: TaskRow): CommitOutcome | undefined {
  return event.body.case === "taskDone" ? { kind: "task_done", task, status: event.body.value.status, summary: event.body.value.summary } : undefined;
}

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

/**
 * The result of a check event as it is to be stored, and the flag its run gets when the agent
 * claimed a waiver the run does not have: stored as the error it is, and the run can no longer
 * be signed off whatever its tasks say.
 */
export function resultToStore(event: AgentEvent, task: TaskRow, nodeName: string, waiversOn: WaiversOn): { result: CheckResult; runFlag?: string } {
  const r = (event.body.case === "check" ? event.body.value.result : undefined) ?? create(CheckResultSchema);
  const forged = waiverProblem(waiversOn, task, nodeName, r);
  if (!forged) return { result: r };
  // A copy: the event stays as the agent sent it, so committing it again (its batch failed and
  // CommitQueue retries it alone) judges it again and flags the run again.
  const stored = Object.assign(clone(CheckResultSchema, r), { status: Status.ERROR, summary: forged, waiver: undefined, unwaivedStatus: Status.UNSPECIFIED });
  return { result: stored, runFlag: forged };
}

/** What a waived result keeps of its waiver: the waiver and the status underneath; '' when none. */
function waiverColumn(r: CheckResult): string {
  return r.waiver ? JSON.stringify({ waiver: toJson(WaiverSchema, r.waiver), unwaived: statusName(r.unwaivedStatus) }) : "";
}

/** The columns of a check_results row, in the order of checkResultValues. */
export const CHECK_RESULT_COLUMNS = [
  "task_id", "check_id", "kind", "precondition", "status", "summary", "reason", "hint", "started_at",
  "duration_ms", "attempts", "stdout_tail", "stderr_tail", "origin_machine_id", "origin_hostname", "origin_boot_id",
  "cases_json", "attempts_json", "captured_json", "waiver_json", "run_as",
] as const;

/** The values of the check_results row for result `r` of task `taskId`, reported by `event`. */
export function checkResultValues(taskId: string, r: CheckResult, event: AgentEvent): (string | number | bigint)[] {
  const origin = event.origin;
  return [taskId, r.checkId, r.kind, r.precondition ? 1 : 0, statusName(r.status), r.summary, r.reason, r.hint, r.startedAtMs, r.durationMs, r.attempts,
    r.stdoutTail, r.stderrTail, origin?.machineId ?? "", origin?.hostname ?? "", origin?.bootId ?? "",
    JSON.stringify(r.cases.map((c) => toJson(TestCaseSchema, c))), JSON.stringify(r.attemptLog.map((a) => toJson(AttemptSchema, a))), JSON.stringify(r.captured),
    waiverColumn(r), r.runAs];
}
