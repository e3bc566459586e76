// The shape every report draws from: a run's tasks grouped by stage and row (a node, a cross
// step, a matrix leg), the checks that did not pass with their reproduce line, and every skip.
// Pure, and ordered by the plan (first appearance in the run), so the reports stay byte-stable.
import type { CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import type { RunRecord, TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { ALL_STATUSES, foldPair, foldStatuses, Status, statusName } from "../../shared/model/status.js";
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

/**
 * How far an outcome is from a pass, as the fold table orders them (it is a total order's max): a
 * failure ranks highest, passed lowest. Reports list what did not pass first, worst first.
 */
const dominated = (s: Status) => ALL_STATUSES.filter((o) => o !== s && foldPair(s, o) === s).length;
// foldPair(s, s) first: an unspecified status counts as the error it folds to.
const SEVERITY = new Map(ALL_STATUSES.map((s) => [s, dominated(foldPair(s, s))]));

export function severity(s: Status): number {
  return SEVERITY.get(s) ?? ALL_STATUSES.length;
}

/** Items worst first (by the severity of their status), their order kept among equals; `index` is where each was. */
export function worstFirst<T>(items: T[], statusOf: (item: T) => Status): { item: T; index: number }[] {
  return items.map((item, index) => ({ item, index, rank: severity(statusOf(item)) })).sort((a, b) => b.rank - a.rank || a.index - b.index);
}

/** True only when the check and every inner case of it passed. */
export function checkPassed(c: CheckResult): boolean {
  return c.status === Status.PASSED && c.cases.every((k) => k.status === Status.PASSED);
}

/** True only when every task, every check and every inner case of the tasks passed. */
export function allPassed(tasks: TaskRecord[]): boolean {
  return tasks.every((t) => t.status === Status.PASSED && t.checks.every(checkPassed));
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
  // By key, not by a search of every skip so far: a check skipped on every node of a large fleet is thousands.
  const keyOf = (target: string, node: string, source: string, reason: string) => JSON.stringify([target, node, source, reason]);
  const folded = new Map<string, SkipEntry>();
  for (const e of [...out].reverse()) folded.set(keyOf(e.target, e.node, e.source, e.reason), e); // the first of equals wins, as a search would find it
  const add = (target: string, node: string, iteration: number, source: string, reason: string, isAccepted: boolean) => {
    const key = keyOf(target, node, source, reason);
    const same = folded.get(key);
    if (same) same.iterations.push(iteration);
    else {
      const entry = { target, node, iterations: [iteration], source, reason, accepted: isAccepted };
      folded.set(key, entry);
      out.push(entry);
    }
  };
  for (const t of run.tasks) {
    const target = taskTarget(t);
    if (t.status === Status.SKIPPED) add(target, t.nodeName, t.iteration, "gate", t.summary, taskSkipAccepted(t, accepted));
    for (const c of t.checks) if (c.status === Status.SKIPPED) add(`${target}/${c.checkId}`, t.nodeName, t.iteration, "check", c.reason || c.summary, false);
  }
  return out;
}
