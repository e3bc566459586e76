// Task rows: one per node × iteration (or cross step, matrix leg) of a run, in plan order.
import { Status, statusFromName, statusName } from "../../shared/model/status.js";
import type { FaultSpec } from "../sequencer/run-types.js";
import { prepared, type Db } from "./db.js";

export interface NewTask {
  id: string;
  stageId: string;
  nodeName: string;
  iteration: number;
  suitePath: string;
  allowDestructive: boolean;
  stageKind?: string;
  /** Cross step id or matrix leg id. */
  stepId?: string;
  role?: string;
  /** Tasks of a stage run group by group; a group starts when every earlier one passed. */
  group?: number;
  /** Generated suite text for a step or an inline leg; else the run's suite at suitePath. */
  specYaml?: string;
  probesYaml?: string;
  onlyTags?: string[];
  onlyChecks?: string[];
  fault?: FaultSpec;
}

// A fault step is the sequencer's type: the store keeps what the resolver laid out.
export type { FaultSpec };

/** The run's tasks in plan order; called inside insertRun's transaction. */
export function insertTasks(db: Db, runId: string, tasks: NewTask[]): void {
  const insert = db.prepare(
    `INSERT INTO tasks (id, run_id, ordinal, stage_id, node_name, iteration, suite_path, allow_destructive, status,
       stage_kind, step_id, role, grp, spec_yaml, probes_yaml, only_tags_json, fault_json, only_checks_json)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  tasks.forEach((t, i) =>
    insert.run(t.id, runId, i, t.stageId, t.nodeName, t.iteration, t.suitePath, t.allowDestructive ? 1 : 0,
      t.stageKind ?? "", t.stepId ?? "", t.role ?? "", t.group ?? 0, t.specYaml ?? "", t.probesYaml ?? "", JSON.stringify(t.onlyTags ?? []), t.fault ? JSON.stringify(t.fault) : "", JSON.stringify(t.onlyChecks ?? [])),
  );
}

export interface TaskRow {
  id: string;
  runId: string;
  stageId: string;
  nodeName: string;
  iteration: number;
  suitePath: string;
  allowDestructive: boolean;
  status: Status;
  summary: string;
  stageKind: string;
  stepId: string;
  role: string;
  group: number;
  specYaml: string;
  probesYaml: string;
  onlyTags: string[];
  onlyChecks: string[];
  fault?: FaultSpec;
}

export interface RawTask {
  id: string;
  run_id: string;
  stage_id: string;
  node_name: string;
  iteration: number;
  suite_path: string;
  allow_destructive: number;
  status: string;
  summary: string;
  started_at: number | null;
  finished_at: number | null;
  stage_kind: string;
  step_id: string;
  role: string;
  grp: number;
  spec_yaml: string;
  probes_yaml: string;
  only_tags_json: string;
  only_checks_json: string;
  fault_json: string;
}

export function taskFromRow(r: RawTask): TaskRow {
  return {
    id: r.id,
    runId: r.run_id,
    stageId: r.stage_id,
    nodeName: r.node_name,
    iteration: r.iteration,
    suitePath: r.suite_path,
    allowDestructive: r.allow_destructive === 1,
    status: statusFromName(r.status),
    summary: r.summary,
    stageKind: r.stage_kind,
    stepId: r.step_id,
    role: r.role,
    group: r.grp,
    specYaml: r.spec_yaml,
    probesYaml: r.probes_yaml,
    onlyTags: JSON.parse(r.only_tags_json) as string[],
    onlyChecks: JSON.parse(r.only_checks_json) as string[],
    fault: r.fault_json ? (JSON.parse(r.fault_json) as FaultSpec) : undefined,
  };
}

export function getTask(db: Db, id: string): TaskRow | undefined {
  const r = prepared(db, "SELECT * FROM tasks WHERE id = ?").get(id) as RawTask | undefined;
  return r && taskFromRow(r);
}

export function listTasks(db: Db, runId: string): TaskRow[] {
  return (db.prepare("SELECT * FROM tasks WHERE run_id = ? ORDER BY ordinal").all(runId) as RawTask[]).map(taskFromRow);
}

/** Only the run engine calls this: one writer of a task's status (see sequencer/engine.ts). */
export function setTaskStatus(db: Db, id: string, status: Status, summary: string, now = Date.now()): void {
  if (status === Status.RUNNING) {
    prepared(db, "UPDATE tasks SET status = ?, summary = ?, started_at = COALESCE(started_at, ?) WHERE id = ?").run(statusName(status), summary, now, id);
  } else {
    prepared(db, "UPDATE tasks SET status = ?, summary = ?, finished_at = ? WHERE id = ?").run(statusName(status), summary, now, id);
  }
}

/** Values captured by the given tasks' checks, per task id (check capture maps merged in order). */
export function capturesOf(db: Db, taskIds: string[]): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  const select = db.prepare("SELECT captured_json FROM check_results WHERE task_id = ? ORDER BY started_at, rowid");
  for (const id of taskIds) {
    const merged: Record<string, string> = {};
    for (const row of select.all(id) as { captured_json: string }[]) Object.assign(merged, JSON.parse(row.captured_json) as Record<string, string>);
    out.set(id, merged);
  }
  return out;
}

