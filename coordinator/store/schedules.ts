// What schedules did (migration 14): each time one came due, the run it started or why it was
// skipped, and the bound that ended a run; and which schedule started a run.
import type { Db } from "./db.js";

export interface ScheduleFire {
  id: number;
  schedule: string;
  dueAt: number;
  at: number;
  runId: string;
  skipReason: string;
  bound: string;
}

interface FireRow {
  id: number;
  schedule: string;
  due_at: number;
  at: number;
  run_id: string;
  skip_reason: string;
  bound: string;
}

const fire = (r: FireRow): ScheduleFire => ({ id: r.id, schedule: r.schedule, dueAt: r.due_at, at: r.at, runId: r.run_id, skipReason: r.skip_reason, bound: r.bound });

export function recordFire(db: Db, f: { schedule: string; dueAt: number; at: number; runId?: string; skipReason?: string }): void {
  db.prepare("INSERT INTO schedule_fires (schedule, due_at, at, run_id, skip_reason) VALUES (?, ?, ?, ?, ?)").run(f.schedule, f.dueAt, f.at, f.runId ?? "", f.skipReason ?? "");
}

/** Marks the run as started by `schedule` (shown by coord runs). */
export function markScheduled(db: Db, runId: string, schedule: string): void {
  db.prepare("UPDATE runs SET schedule = ? WHERE id = ?").run(schedule, runId);
}

/** Why the run's bound ended it ("max_checks 5000 reached"); kept with the fire that started it. */
export function recordBound(db: Db, runId: string, bound: string): void {
  db.prepare("UPDATE schedule_fires SET bound = ? WHERE run_id = ?").run(bound, runId);
}

export function scheduleOfRun(db: Db, runId: string): string {
  return (db.prepare("SELECT schedule FROM runs WHERE id = ?").get(runId) as { schedule: string } | undefined)?.schedule ?? "";
}

/** The schedule's latest fire that started a run, and its latest skip. */
export function lastFires(db: Db, schedule: string): { run?: ScheduleFire; skip?: ScheduleFire } {
  const get = (where: string) => db.prepare(`SELECT * FROM schedule_fires WHERE schedule = ? AND ${where} ORDER BY id DESC LIMIT 1`).get(schedule) as FireRow | undefined;
  const run = get("run_id != ''");
  const skip = get("skip_reason != ''");
  return { run: run && fire(run), skip: skip && fire(skip) };
}

/**
 * Running runs started by a schedule, with when they started on the scheduler's clock (the fire's
 * time, which is what max_duration counts from): their bounds are kept across a restart.
 */
export function runningScheduledRuns(db: Db): { runId: string; schedule: string; startedAt: number }[] {
  const rows = db
    .prepare("SELECT r.id, r.schedule, COALESCE(MAX(f.at), r.created_at) AS started FROM runs r LEFT JOIN schedule_fires f ON f.run_id = r.id WHERE r.status = 'running' AND r.schedule != '' GROUP BY r.id")
    .all() as { id: string; schedule: string; started: number }[];
  return rows.map((r) => ({ runId: r.id, schedule: r.schedule, startedAt: r.started }));
}

/** Running runs of the plan `planName` (a scheduled run never overlaps one). */
export function runningRunsOfPlan(db: Db, planName: string): string[] {
  return (db.prepare("SELECT id FROM runs WHERE status = 'running' AND plan_name = ? ORDER BY created_at, rowid").all(planName) as { id: string }[]).map((r) => r.id);
}

/** Node → a running run that still has a task to do on it (pending or running). */
export function busyNodes(db: Db): Map<string, string> {
  const rows = db
    .prepare(
      `SELECT t.node_name AS node, t.run_id AS run FROM tasks t JOIN runs r ON r.id = t.run_id
       WHERE r.status = 'running' AND t.status IN ('pending', 'running') ORDER BY r.created_at, r.rowid`,
    )
    .all() as { node: string; run: string }[];
  const out = new Map<string, string>();
  for (const r of rows) if (!out.has(r.node)) out.set(r.node, r.run);
  return out;
}

/** Check results recorded so far for the run (what max_checks counts). */
export function checkCount(db: Db, runId: string): number {
  return (db.prepare("SELECT COUNT(*) AS n FROM check_results c JOIN tasks t ON t.id = c.task_id WHERE t.run_id = ?").get(runId) as { n: number }).n;
}
