// Flaky checks: one check, on one node, for one plan revision, that both passed and failed. Pure.
// A flake blocks GO even when the latest iteration passed: a gate that is green by luck is not
// green (the seeds' "N of N green", and a fleet on flaky links where retries hide real faults).
import { Status } from "../../shared/model/status.js";
import { taskTarget } from "../../shared/model/task-names.js";
import type { Flake } from "./types.js";

export const DEFAULT_FLAKE_HISTORY = 10;

/**
 * What flakes are found from: each check's outcome by stage, step and node. A RunRecord is one;
 * a run's history is read as only this (store/check-outcomes.ts), not as whole records.
 */
export interface FlakeRun {
  runId: string;
  planRevision: string;
  mode: string;
  tasks: readonly FlakeTask[];
}

export interface FlakeTask {
  stageId: string;
  stepId: string;
  nodeName: string;
  checks: readonly FlakeCheck[];
}

export interface FlakeCheck {
  checkId: string;
  status: Status;
  precondition: boolean;
}

interface Tally {
  stageId: string;
  node: string;
  checkId: string;
  passed: number;
  failed: number;
  runIds: string[];
}

/** Code-unit order: the same on every machine, whatever its locale. */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The earlier runs whose results are comparable with this one: same plan revision, not quick. */
export function comparableHistory(run: FlakeRun, history: readonly FlakeRun[], k = DEFAULT_FLAKE_HISTORY): FlakeRun[] {
  // Without a revision nothing says two runs tested the same plan and suites.
  if (!run.planRevision) return [];
  return history
    .filter((h) => h.runId !== run.runId && h.planRevision === run.planRevision && h.mode !== "quick")
    .slice(0, Math.max(0, k));
}

/**
 * Checks that both passed and failed on the same node across this run's iterations and the last
 * `k` comparable runs of `history` (newest first). Only checks this run observed (passed or
 * failed) are reported: a flake elsewhere in the plan says nothing about this run. Skipped and
 * not-ready outcomes are no observation. Sorted by stage, node, check.
 */
export function findFlakes(run: FlakeRun, history: readonly FlakeRun[], k = DEFAULT_FLAKE_HISTORY): Flake[] {
  // By stage and node (worked out once per task), then by check: a run of 1,000 nodes has 100,000
  // results, and a key string built for each of them was most of this function's time.
  const tallies = new Map<string, Map<string, Tally>>();
  const all: Tally[] = [];
  const observedHere = new Set<Tally>();
  for (const r of [run, ...comparableHistory(run, history, k)]) {
    for (const t of r.tasks) {
      const stageId = taskTarget(t);
      const where = `${stageId}\0${t.nodeName}`;
      let byCheck = tallies.get(where);
      for (const c of t.checks) {
        if (c.precondition || (c.status !== Status.PASSED && c.status !== Status.FAILED)) continue;
        if (!byCheck) tallies.set(where, (byCheck = new Map()));
        let tally = byCheck.get(c.checkId);
        if (!tally) {
          byCheck.set(c.checkId, (tally = { stageId, node: t.nodeName, checkId: c.checkId, passed: 0, failed: 0, runIds: [] }));
          all.push(tally);
        }
        if (r === run) observedHere.add(tally);
        if (c.status === Status.PASSED) tally.passed++;
        else tally.failed++;
        if (tally.runIds.at(-1) !== r.runId && !tally.runIds.includes(r.runId)) tally.runIds.push(r.runId);
      }
    }
  }
  return all
    .filter((t) => observedHere.has(t) && t.passed > 0 && t.failed > 0)
    .sort((a, b) => compare(a.stageId, b.stageId) || compare(a.node, b.node) || compare(a.checkId, b.checkId))
    .map((t) => ({ stageId: t.stageId, node: t.node, checkId: t.checkId, passed: t.passed, total: t.passed + t.failed, runIds: t.runIds }));
}
