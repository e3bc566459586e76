// A run's check outcomes and nothing else, for flake detection over a plan's history. Judging a
// run (its summary at the end, GetRun, alerts, the evidence bundle, each run of a list) reads the
// plan's last 10 comparable runs; read as whole records that was 200,000 results built into
// messages at 1,000 nodes × 20 checks, and every run of a plan made the next one's end slower.
import type { FlakeCheck, FlakeRun, FlakeTask } from "../judgement/flakes.js";
import { statusFromName } from "../../shared/model/status.js";
import { prepared, type Db } from "./db.js";

/** A row as `.raw()` returns it: an array, cheaper to read than an object with named keys. */
type RawOutcome = [taskId: string, stageId: string, stepId: string, nodeName: string, checkId: string, status: string, precondition: number];

const OUTCOMES = `SELECT t.id, t.stage_id, t.step_id, t.node_name, c.check_id, c.status, c.precondition
  FROM check_results c JOIN tasks t ON t.id = c.task_id WHERE t.run_id = ? ORDER BY t.ordinal, c.precondition DESC, c.started_at, c.rowid`;

/** The run's tasks (those with a result) and their checks' outcomes, in the order loadRunRecord gives them. */
export function loadCheckOutcomes(db: Db, run: { id: string; planRevision: string; mode: string }): FlakeRun {
  const rows = prepared(db, OUTCOMES).raw().iterate(run.id) as IterableIterator<RawOutcome>;
  // Rows come task by task: a new task id starts the next task's list.
  const tasks: FlakeTask[] = [];
  let currentTask: string | undefined;
  let checks: FlakeCheck[] = [];
  for (const [taskId, stageId, stepId, nodeName, checkId, status, precondition] of rows) {
    if (taskId !== currentTask) {
      currentTask = taskId;
      checks = [];
      tasks.push({ stageId, stepId, nodeName, checks });
    }
    checks.push({ checkId, status: statusFromName(status), precondition: precondition === 1 });
  }
  return { runId: run.id, planRevision: run.planRevision, mode: run.mode, tasks };
}
