// Which skips a run holds, and the names that accept each one at sign-off. A skip is never a pass
// (DESIGN rule 3): a run with a skip is GO only once someone accepted that skip by name.
import type { RunRecord, TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status } from "../../shared/model/status.js";
import { taskTarget } from "../../shared/model/task-names.js";

export interface SkipItem {
  /** The name reports show, and the one to type with --accept-skip. */
  target: string;
  reason: string;
  /** "--skip", "opt-in", … for skips decided before the run; "gate" for tasks skipped during it. */
  source: string;
  /** Every name that accepts it: its target and, for a skipped task, the stage that holds it. */
  names: string[];
}

/**
 * Every skip of the run, one per target: those decided before it (RunRecord.skips), then tasks
 * skipped while it ran (a failed probe, a gated stage, a destructive check not allowed).
 */
export function skipItems(run: RunRecord): SkipItem[] {
  const items: SkipItem[] = run.skips.map((s) => ({ target: s.target, reason: s.reason, source: s.source, names: [s.target] }));
  for (const t of run.tasks) {
    if (t.status !== Status.SKIPPED) continue;
    const target = taskTarget(t);
    if (items.some((i) => i.target === target)) continue;
    items.push({ target, reason: t.summary, source: "gate", names: target === t.stageId ? [target] : [target, t.stageId] });
  }
  return items;
}

/** Whether a skipped task is covered by the accepted names (its own target, or its stage's). */
export function taskSkipAccepted(t: TaskRecord, accepted: ReadonlySet<string>): boolean {
  return accepted.has(taskTarget(t)) || accepted.has(t.stageId);
}

/** The names `coord signoff --accept-skip` takes for this run, sorted. */
export function acceptableNames(run: RunRecord): string[] {
  return [...new Set(skipItems(run).flatMap((i) => i.names))].sort();
}
