import { create } from "@bufbuild/protobuf";
import type { AgentEvent } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { AttemptSchema, CheckResultSchema, TestCaseSchema, type CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { NodeIdentitySchema, type NodeIdentity } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { RunRecordSchema, TaskRecordSchema, type RunRecord, type TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { isTerminal, Status, statusFromName, statusName } from "../../shared/model/status.js";
import type { Db } from "./db.js";

export interface NewRun {
  id: string;
  planName: string;
  planPath: string;
  planYaml: string;
  suites: Record<string, string>;
  stages: string[];
  flags: string[];
  createdAt: number;
  mode: RunMode;
  /** sha256 over the plan and the suites it uses. */
  planRevision: string;
  options: RunOptions;
  /** The run's nodes as registered when it started. */
  nodes: NodeIdentity[];
}

export type RunMode = "full" | "quick";

export interface SkipRecord {
  target: string;
  reason: string;
  source: string;
}

/** How the run was asked for, beyond stages and nodes. */
export interface RunOptions {
  skips?: SkipRecord[];
  withLegs?: string[];
  bindings?: { stageId: string; role: string; node: string }[];
  /** Why the run can never be signed off, e.g. a role=dev node named with --node. */
  unsignable?: string[];
  /** How the run is narrower than its plan (--iterations, --node, --only, --tags, --quick, --skip, --with). */
  overrides?: { name: string; detail: string }[];
}

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

/** A fault step as stored: which role's node it runs on is the task's node. */
export type FaultSpec = { partition: { peerRole: string; peerNode: string; forMs: number } } | { killAgent: true };

export function insertRun(db: Db, run: NewRun, tasks: NewTask[]): void {
  db.transaction(() => {
    db.prepare(
      `INSERT INTO runs (id, plan_name, plan_path, plan_yaml, suites_json, stages_json, status, created_at, flags_json, mode, plan_rev, options_json, nodes_json)
       VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?)`,
    ).run(run.id, run.planName, run.planPath, run.planYaml, JSON.stringify(run.suites), JSON.stringify(run.stages), run.createdAt, JSON.stringify(run.flags),
      run.mode, run.planRevision, JSON.stringify(run.options), JSON.stringify(run.nodes.map((n) => toJson(NodeIdentitySchema, n))));
    const insert = db.prepare(
      `INSERT INTO tasks (id, run_id, ordinal, stage_id, node_name, iteration, suite_path, allow_destructive, status,
         stage_kind, step_id, role, grp, spec_yaml, probes_yaml, only_tags_json, fault_json, only_checks_json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    tasks.forEach((t, i) =>
      insert.run(t.id, run.id, i, t.stageId, t.nodeName, t.iteration, t.suitePath, t.allowDestructive ? 1 : 0,
        t.stageKind ?? "", t.stepId ?? "", t.role ?? "", t.group ?? 0, t.specYaml ?? "", t.probesYaml ?? "", JSON.stringify(t.onlyTags ?? []), t.fault ? JSON.stringify(t.fault) : "", JSON.stringify(t.onlyChecks ?? [])),
    );
  })();
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

interface RawTask {
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

function taskFromRow(r: RawTask): TaskRow {
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
  const r = db.prepare("SELECT * FROM tasks WHERE id = ?").get(id) as RawTask | undefined;
  return r && taskFromRow(r);
}

export function listTasks(db: Db, runId: string): TaskRow[] {
  return (db.prepare("SELECT * FROM tasks WHERE run_id = ? ORDER BY ordinal").all(runId) as RawTask[]).map(taskFromRow);
}

export function setTaskStatus(db: Db, id: string, status: Status, summary: string, now = Date.now()): void {
  if (status === Status.RUNNING) {
    db.prepare("UPDATE tasks SET status = ?, summary = ?, started_at = COALESCE(started_at, ?) WHERE id = ?").run(statusName(status), summary, now, id);
  } else {
    db.prepare("UPDATE tasks SET status = ?, summary = ?, finished_at = ? WHERE id = ?").run(statusName(status), summary, now, id);
  }
}

export function finishRun(db: Db, id: string, status: Status, now = Date.now()): void {
  db.prepare("UPDATE runs SET status = ?, finished_at = ? WHERE id = ?").run(statusName(status), now, id);
}

export function addRunFlag(db: Db, id: string, flag: string): void {
  const row = db.prepare("SELECT flags_json FROM runs WHERE id = ?").get(id) as { flags_json: string } | undefined;
  if (!row) return;
  const flags = JSON.parse(row.flags_json) as string[];
  if (!flags.includes(flag)) db.prepare("UPDATE runs SET flags_json = ? WHERE id = ?").run(JSON.stringify([...flags, flag]), id);
}

export interface StoredRun extends NewRun {
  status: Status;
  finishedAt: number | null;
  signoff?: SignoffRecord;
}

export interface SignoffRecord {
  by: string;
  at: number;
  accepted: SkipRecord[];
  /** Overrides (RunOptions.overrides) accepted by name, each with a reason. */
  acceptedOverrides: SkipRecord[];
}

interface RawRun {
  id: string;
  plan_name: string;
  plan_path: string;
  plan_yaml: string;
  suites_json: string;
  stages_json: string;
  status: string;
  created_at: number;
  finished_at: number | null;
  flags_json: string;
  mode: string;
  plan_rev: string;
  options_json: string;
  nodes_json: string;
  signed_by: string | null;
  signed_at: number | null;
  accepted_json: string | null;
  accepted_overrides_json: string | null;
}

const RUN_SELECT = "SELECT r.*, s.signed_by, s.signed_at, s.accepted_json, s.accepted_overrides_json FROM runs r LEFT JOIN signoffs s ON s.run_id = r.id";

function runFromRow(r: RawRun): StoredRun {
  return {
    id: r.id,
    planName: r.plan_name,
    planPath: r.plan_path,
    planYaml: r.plan_yaml,
    suites: JSON.parse(r.suites_json) as Record<string, string>,
    stages: JSON.parse(r.stages_json) as string[],
    status: statusFromName(r.status),
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    flags: JSON.parse(r.flags_json) as string[],
    mode: r.mode === "quick" ? "quick" : "full",
    planRevision: r.plan_rev,
    options: JSON.parse(r.options_json) as RunOptions,
    nodes: (JSON.parse(r.nodes_json) as JsonValue[]).map((n) => fromJson(NodeIdentitySchema, n)),
    signoff: r.signed_by
      ? {
          by: r.signed_by,
          at: r.signed_at ?? 0,
          accepted: JSON.parse(r.accepted_json ?? "[]") as SkipRecord[],
          acceptedOverrides: JSON.parse(r.accepted_overrides_json ?? "[]") as SkipRecord[],
        }
      : undefined,
  };
}

export function getRun(db: Db, id: string): StoredRun | undefined {
  const r = db.prepare(`${RUN_SELECT} WHERE r.id = ?`).get(id) as RawRun | undefined;
  return r && runFromRow(r);
}

export interface RunFilter {
  status?: Status;
  planName?: string;
  planRevision?: string;
  signedOnly?: boolean;
  mode?: RunMode;
  /** Only runs that have finished. */
  finished?: boolean;
  /** Only runs created before this one (in the list's own order: created_at, then insertion). */
  before?: string;
}

/** Newest first. */
export function listRuns(db: Db, limit: number, filter: RunFilter = {}): StoredRun[] {
  const where: string[] = [];
  const args: (string | number)[] = [];
  const add = (clause: string, ...values: (string | number)[]) => {
    where.push(clause);
    args.push(...values);
  };
  if (filter.status !== undefined) add("r.status = ?", statusName(filter.status));
  if (filter.planName) add("r.plan_name = ?", filter.planName);
  if (filter.planRevision) add("r.plan_rev = ?", filter.planRevision);
  if (filter.signedOnly) add("s.signed_by IS NOT NULL");
  if (filter.mode) add("r.mode = ?", filter.mode);
  if (filter.finished) add("r.finished_at IS NOT NULL");
  if (filter.before) add("(r.created_at, r.rowid) < (SELECT created_at, rowid FROM runs WHERE id = ?)", filter.before);
  const sql = `${RUN_SELECT}${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY r.created_at DESC, r.rowid DESC LIMIT ?`;
  return (db.prepare(sql).all(...args, limit) as RawRun[]).map(runFromRow);
}

export function insertSignoff(db: Db, runId: string, signoff: SignoffRecord): void {
  db.prepare("INSERT INTO signoffs (run_id, signed_by, signed_at, accepted_json, accepted_overrides_json) VALUES (?, ?, ?, ?, ?)").run(
    runId, signoff.by, signoff.at, JSON.stringify(signoff.accepted), JSON.stringify(signoff.acceptedOverrides),
  );
}

export type CommitOutcome =
  | { kind: "duplicate" }
  | { kind: "stale"; task: TaskRow }
  | { kind: "rejected"; reason: string; runId?: string }
  | { kind: "check"; task: TaskRow; result: CheckResult }
  | { kind: "task_done"; task: TaskRow; status: Status; summary: string };

/**
 * Commits one agent event exactly once: the (node, seq) row and its effect land in one
 * transaction, so a resent event is recognised and acknowledged without being applied twice.
 */
export function commitAgentEvent(db: Db, nodeName: string, nodeMachineId: string, event: AgentEvent, now = Date.now()): CommitOutcome {
  return db.transaction((): CommitOutcome => {
    const fresh = db.prepare("INSERT OR IGNORE INTO agent_events (node_name, seq, received_at) VALUES (?, ?, ?)").run(nodeName, event.seq, now);
    if (fresh.changes === 0) return { kind: "duplicate" };
    if (event.body.case !== "check" && event.body.case !== "taskDone") return { kind: "rejected", reason: `event ${event.seq} has no body` };
    const taskId = event.body.value.taskId;
    const task = getTask(db, taskId);
    if (!task) return { kind: "rejected", reason: `event ${event.seq} names unknown task ${taskId}` };
    if (task.nodeName !== nodeName) return { kind: "rejected", reason: `node ${nodeName} reported for task ${taskId} of node ${task.nodeName}`, runId: task.runId };
    // DESIGN rule 1: a result counts only if the host that ran it is the node it claims to be.
    if (event.origin?.machineId !== nodeMachineId) {
      return { kind: "rejected", reason: `result for node ${nodeName} came from machine-id ${event.origin?.machineId || "(none)"}, expected ${nodeMachineId}`, runId: task.runId };
    }
    if (event.body.case === "check") {
      // A task re-run after an agent restart must not overwrite the results that finished it.
      if (isTerminal(task.status)) return { kind: "stale", task };
      const r = event.body.value.result ?? create(CheckResultSchema);
      db.prepare(
        `INSERT OR REPLACE INTO check_results (task_id, check_id, kind, precondition, status, summary, reason, hint, started_at,
           duration_ms, attempts, stdout_tail, stderr_tail, origin_machine_id, origin_hostname, origin_boot_id, cases_json, attempts_json, captured_json)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(taskId, r.checkId, r.kind, r.precondition ? 1 : 0, statusName(r.status), r.summary, r.reason, r.hint, r.startedAtMs, r.durationMs, r.attempts,
        r.stdoutTail, r.stderrTail, event.origin.machineId, event.origin.hostname, event.origin.bootId,
        JSON.stringify(r.cases.map((c) => toJson(TestCaseSchema, c))), JSON.stringify(r.attemptLog.map((a) => toJson(AttemptSchema, a))), JSON.stringify(r.captured));
      return { kind: "check", task, result: r };
    }
    const { status, summary } = event.body.value;
    // The task's outcome lands with the event that reports it: a coordinator that dies right
    // after the ack must not come back to a task still "running" that nobody will finish.
    // Only a running task takes it; the sequencer ignores reports for lost or cancelled ones too.
    if (task.status === Status.RUNNING && isTerminal(status)) setTaskStatus(db, task.id, status, summary, now);
    return { kind: "task_done", task, status, summary };
  })();
}

interface RawCheck {
  task_id: string;
  check_id: string;
  kind: string;
  precondition: number;
  status: string;
  summary: string;
  reason: string;
  hint: string;
  started_at: number;
  duration_ms: number;
  attempts: number;
  stdout_tail: string;
  stderr_tail: string;
  cases_json: string;
  attempts_json: string;
  captured_json: string;
}

function checkFromRow(r: RawCheck): CheckResult {
  return create(CheckResultSchema, {
    checkId: r.check_id,
    kind: r.kind,
    status: statusFromName(r.status),
    summary: r.summary,
    reason: r.reason,
    precondition: r.precondition === 1,
    startedAtMs: BigInt(r.started_at),
    durationMs: BigInt(r.duration_ms),
    attempts: r.attempts,
    stdoutTail: r.stdout_tail,
    stderrTail: r.stderr_tail,
    hint: r.hint,
    cases: (JSON.parse(r.cases_json) as JsonValue[]).map((c) => fromJson(TestCaseSchema, c)),
    attemptLog: (JSON.parse(r.attempts_json) as JsonValue[]).map((a) => fromJson(AttemptSchema, a)),
    captured: JSON.parse(r.captured_json) as Record<string, string>,
  });
}

/** The whole run as the wire describes it: tasks in plan order, each with its check results. */
export function loadRunRecord(db: Db, runId: string): RunRecord | undefined {
  const run = getRun(db, runId);
  if (!run) return undefined;
  const raws = db.prepare("SELECT * FROM tasks WHERE run_id = ? ORDER BY ordinal").all(runId) as RawTask[];
  const checks = db
    .prepare("SELECT c.* FROM check_results c JOIN tasks t ON t.id = c.task_id WHERE t.run_id = ? ORDER BY c.precondition DESC, c.started_at, c.rowid")
    .all(runId) as RawCheck[];
  const tasks: TaskRecord[] = raws.map((t) =>
    create(TaskRecordSchema, {
      taskId: t.id,
      stageId: t.stage_id,
      nodeName: t.node_name,
      iteration: t.iteration,
      status: statusFromName(t.status),
      summary: t.summary,
      checks: checks.filter((c) => c.task_id === t.id).map(checkFromRow),
      startedAtMs: BigInt(t.started_at ?? 0),
      finishedAtMs: BigInt(t.finished_at ?? 0),
      stageKind: t.stage_kind,
      stepId: t.step_id,
      role: t.role,
      suitePath: t.spec_yaml || t.fault_json ? "" : t.suite_path,
    }),
  );
  return create(RunRecordSchema, {
    runId: run.id,
    planName: run.planName,
    planPath: run.planPath,
    status: run.status,
    startedAtMs: BigInt(run.createdAt),
    finishedAtMs: BigInt(run.finishedAt ?? 0),
    stages: run.stages,
    tasks,
    attestationFlags: run.flags,
    mode: run.mode,
    skips: run.options.skips ?? [],
    planRevision: run.planRevision,
    bindings: run.options.bindings ?? [],
    nodes: run.nodes,
    signoff: run.signoff && { by: run.signoff.by, atMs: BigInt(run.signoff.at), accepted: run.signoff.accepted, acceptedOverrides: run.signoff.acceptedOverrides },
    withLegs: run.options.withLegs ?? [],
    unsignable: run.options.unsignable ?? [],
    overrides: run.options.overrides ?? [],
  });
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

/**
 * How a stage ended in the newest finished full-mode, full-scope run of this plan revision that ran it: what
 * gating asks when a stage is run on its own. Undefined when no such run exists.
 */
export function latestStageOutcome(
  db: Db,
  planName: string,
  planRevision: string,
  stageId: string,
  /** Override names that disqualify a run: it did not verify the whole stage. */
  narrowing: string[],
): { runId: string; statuses: Status[] } | undefined {
  const runs = db
    .prepare(
      `SELECT r.id FROM runs r WHERE r.plan_name = ? AND r.plan_rev = ? AND r.mode = 'full' AND r.finished_at IS NOT NULL
         AND EXISTS (SELECT 1 FROM tasks t WHERE t.run_id = r.id AND t.stage_id = ?)
         AND NOT EXISTS (SELECT 1 FROM json_each(r.options_json, '$.overrides') o WHERE json_extract(o.value, '$.name') IN (SELECT value FROM json_each(?)))
       ORDER BY r.created_at DESC, r.rowid DESC LIMIT 1`,
    )
    .get(planName, planRevision, stageId, JSON.stringify(narrowing)) as { id: string } | undefined;
  if (!runs) return undefined;
  const statuses = (db.prepare("SELECT status FROM tasks WHERE run_id = ? AND stage_id = ?").all(runs.id, stageId) as { status: string }[]).map((r) => statusFromName(r.status));
  return { runId: runs.id, statuses };
}
