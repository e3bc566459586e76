// The shape every report draws from: a run's tasks grouped by stage and row (a node, a cross
// step, a matrix leg), the checks that did not pass with their reproduce line, and every skip.
// Pure, and ordered by the plan (first appearance in the run), so the reports stay byte-stable.
import type { CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import type { RunRecord, TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { foldStatuses, Status, statusName } from "../../shared/model/status.js";
import { taskTarget } from "../../shared/model/task-names.js";
import { taskSkipAccepted } from "../judgement/skips.js";
import { reproduceCheck, type Reproduce } from "./reproduce.js";

/** One line of a stage: a node (single, fleet), a step on its role's node (cross), a leg (matrix). */
export interface RowView {
  key: string;
  label: string;
  node: string;
  step: string;
  role: string;
  /** By iteration. */
  tasks: TaskRecord[];
  status: Status;
}

export interface StageView {
  id: string;
  kind: string;
  status: Status;
  rows: RowView[];
  /** Every check id seen in the stage, preconditions first, in run order. */
  checkIds: string[];
  iterations: number[];
}

export interface CheckEntry {
  task: TaskRecord;
  check: CheckResult;
  reproduce?: Reproduce;
}

export interface SkipEntry {
  target: string;
  node: string;
  iterations: number[];
  source: string;
  reason: string;
  /** Accepted by name at sign-off. */
  accepted: boolean;
}

/** The tasks' statuses as one, by the one fold table (shared/model/status.ts). */
export function foldTasks(tasks: TaskRecord[]): Status {
  return foldStatuses(tasks.map((t) => t.status));
}

/**
 * A check's (or inner case's) status as the reports count it. A task the gate skipped ran nothing
 * of its own: the only results it holds are a matrix leg's `requires:` probes, which the agent
 * reports as preconditions before it skips the leg (agent/daemon/task-runner.ts). The leg is
 * skipped, as the CLI and the verdict say, so a probe that did not pass is a skip, never a failed
 * test; one that passed stays a pass.
 */
export function reportedStatus(t: TaskRecord, status: Status): Status {
  return t.status === Status.SKIPPED && status !== Status.PASSED ? Status.SKIPPED : status;
}

/** Why a probe skipped its leg, in the agent's words: `requires probe.kvm: SUMMARY; hint: HINT`. */
export function skippedCheckReason(c: CheckResult): string {
  return `requires ${c.checkId}: ${c.summary || c.reason || statusName(c.status)}${c.hint ? `; hint: ${c.hint}` : ""}`;
}

/** ISO 8601 UTC, or "" for an unset time. */
export function isoTime(ms: bigint): string {
  return ms > 0n ? new Date(Number(ms)).toISOString() : "";
}

function rowOf(t: TaskRecord): Omit<RowView, "tasks" | "status"> {
  if (!t.stepId) return { key: t.nodeName, label: t.nodeName, node: t.nodeName, step: "", role: "" };
  const label = t.role ? `${t.stepId} (${t.role} → ${t.nodeName})` : `${t.stepId} on ${t.nodeName}`;
  return { key: `${t.stepId}@${t.nodeName}`, label, node: t.nodeName, step: t.stepId, role: t.role };
}

function stageOrder(run: RunRecord): string[] {
  const ids = [...run.stages];
  for (const t of run.tasks) if (!ids.includes(t.stageId)) ids.push(t.stageId);
  return ids;
}

export function stageViews(run: RunRecord): StageView[] {
  return stageOrder(run).map((id) => {
    const tasks = run.tasks.filter((t) => t.stageId === id);
    const rows = new Map<string, RowView>();
    for (const t of tasks) {
      const r = rowOf(t);
      const row = rows.get(r.key) ?? { ...r, tasks: [], status: Status.PASSED };
      row.tasks.push(t);
      rows.set(r.key, row);
    }
    for (const row of rows.values()) {
      row.tasks.sort((a, b) => a.iteration - b.iteration);
      row.status = foldTasks(row.tasks);
    }
    const checks = tasks.flatMap((t) => t.checks);
    const checkIds = [...new Set([...checks.filter((c) => c.precondition), ...checks.filter((c) => !c.precondition)].map((c) => c.checkId))];
    const iterations = [...new Set(tasks.map((t) => t.iteration))].sort((a, b) => a - b);
    // A stage with no task at all (skipped before the run) reads as skipped, never as passed.
    const status = tasks.length ? foldTasks(tasks) : Status.SKIPPED;
    return { id, kind: tasks[0]?.stageKind ?? "", status, rows: [...rows.values()], checkIds, iterations };
  });
}

/** Checks that did not pass (failed, error, not ready, skipped, cancelled…), in run order. */
export function notPassedChecks(run: RunRecord): CheckEntry[] {
  return run.tasks.flatMap((task) =>
    task.checks.filter((c) => c.status !== Status.PASSED).map((check) => ({ task, check, reproduce: reproduceCheck(run, task, check) })),
  );
}

/** Distinct reproduce lines, in run order: one per check and node, however many iterations failed. */
export function reproduceLines(entries: CheckEntry[]): (Reproduce & { what: string })[] {
  const seen = new Map<string, Reproduce & { what: string }>();
  for (const e of entries) {
    if (!e.reproduce) continue;
    const key = `${e.reproduce.node}\n${e.reproduce.command}`;
    const what = `${taskTarget(e.task)} ${e.check.checkId}`;
    if (!seen.has(key)) seen.set(key, { ...e.reproduce, what });
  }
  return [...seen.values()];
}

/**
 * Every skip: decided before the run (RunRecord.skips), whole tasks the gate skipped, and checks a
 * suite skipped (destructive, probe). Same target, node and reason over iterations fold into one.
 */
export function allSkips(run: RunRecord): SkipEntry[] {
  const accepted = new Set((run.signoff?.accepted ?? []).map((s) => s.target));
  const out: SkipEntry[] = run.skips.map((s) => ({ target: s.target, node: "", iterations: [], source: s.source, reason: s.reason, accepted: accepted.has(s.target) }));
  const add = (target: string, node: string, iteration: number, source: string, reason: string, isAccepted: boolean) => {
    const same = out.find((e) => e.target === target && e.node === node && e.source === source && e.reason === reason);
    if (same) same.iterations.push(iteration);
    else out.push({ target, node, iterations: [iteration], source, reason, accepted: isAccepted });
  };
  for (const t of run.tasks) {
    const target = taskTarget(t);
    if (t.status === Status.SKIPPED) add(target, t.nodeName, t.iteration, "gate", t.summary, taskSkipAccepted(t, accepted));
    for (const c of t.checks) if (c.status === Status.SKIPPED) add(`${target}/${c.checkId}`, t.nodeName, t.iteration, "check", c.reason || c.summary, false);
  }
  return out;
}
