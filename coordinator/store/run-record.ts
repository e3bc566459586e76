// A stored run as the wire describes it (RunRecord): run row, tasks in plan order, check results.
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { AttemptSchema, CheckResultSchema, TestCaseSchema, WaiverSchema, type CheckResult, type Waiver } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { RunRecordSchema, TaskRecordSchema, type RunRecord, type TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { statusFromName, type Status } from "../../shared/model/status.js";
import type { Db } from "./db.js";
import { getRun, runAudit, runWaivers } from "./runs.js";
import type { RawTask } from "./tasks.js";

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
  waiver_json: string;
  run_as: string;
}

function waiverOf(column: string): { waiver?: Waiver; unwaivedStatus?: Status } {
  if (!column) return {};
  const { waiver, unwaived } = JSON.parse(column) as { waiver: JsonValue; unwaived: string };
  return { waiver: fromJson(WaiverSchema, waiver), unwaivedStatus: statusFromName(unwaived) };
}

/** A JSON list column; most are empty, and a run's report reads 100,000 of them at fleet scale. */
const listOf = (column: string): JsonValue[] => (column === "[]" ? [] : (JSON.parse(column) as JsonValue[]));

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
    cases: listOf(r.cases_json).map((c) => fromJson(TestCaseSchema, c)),
    attemptLog: listOf(r.attempts_json).map((a) => fromJson(AttemptSchema, a)),
    captured: r.captured_json === "{}" ? {} : (JSON.parse(r.captured_json) as Record<string, string>),
    ...waiverOf(r.waiver_json),
    runAs: r.run_as,
  });
}

// Every column of a check result but its output tails, which are by far its largest part.
const CHECK_COLUMNS = "c.task_id, c.check_id, c.kind, c.precondition, c.status, c.summary, c.reason, c.hint, c.started_at, c.duration_ms, c.attempts, c.cases_json, c.attempts_json, c.captured_json, c.waiver_json, c.run_as";

export interface LoadOptions {
  /**
   * false: check results come without stdout and stderr tails, the bulk of a result. Judging a run,
   * its flakes or its summary never reads them; a report and the evidence bundle do.
   */
  output?: boolean;
}

/** The whole run as the wire describes it: tasks in plan order, each with its check results. */
export function loadRunRecord(db: Db, runId: string, opts: LoadOptions = {}): RunRecord | undefined {
  const run = getRun(db, runId);
  if (!run) return undefined;
  const raws = db.prepare("SELECT * FROM tasks WHERE run_id = ? ORDER BY ordinal").all(runId) as RawTask[];
  // Named columns, never c.*: the origin columns are not part of a result, and at 100,000 rows
  // reading them doubled the query's time.
  const columns = `${CHECK_COLUMNS}, ${opts.output === false ? "'' AS stdout_tail, '' AS stderr_tail" : "c.stdout_tail, c.stderr_tail"}`;
  const checks = db
    .prepare(`SELECT ${columns} FROM check_results c JOIN tasks t ON t.id = c.task_id WHERE t.run_id = ? ORDER BY c.precondition DESC, c.started_at, c.rowid`)
    .iterate(runId) as IterableIterator<RawCheck>;
  // Grouped once by task, in query order: filtering every result for each task is quadratic, and a
  // run of 1,000 nodes × 5 iterations × 20 checks took minutes to read that way. Each row becomes
  // its result as it is read, so 100,000 rows are never all held at once.
  const byTask = new Map<string, CheckResult[]>();
  for (const c of checks) {
    const list = byTask.get(c.task_id);
    if (list) list.push(checkFromRow(c));
    else byTask.set(c.task_id, [checkFromRow(c)]);
  }
  const tasks: TaskRecord[] = raws.map((t) =>
    create(TaskRecordSchema, {
      taskId: t.id,
      stageId: t.stage_id,
      nodeName: t.node_name,
      iteration: t.iteration,
      status: statusFromName(t.status),
      summary: t.summary,
      checks: byTask.get(t.id) ?? [],
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
    signoff: run.signoff && {
      by: run.signoff.by,
      atMs: BigInt(run.signoff.at),
      accepted: run.signoff.accepted,
      acceptedOverrides: run.signoff.acceptedOverrides,
      waivers: (run.signoff.waivers ?? []).map((w) => fromJson(WaiverSchema, w)),
    },
    withLegs: run.options.withLegs ?? [],
    unsignable: run.options.unsignable ?? [],
    overrides: run.options.overrides ?? [],
    transport: run.options.transport ?? "plaintext",
    vars: run.options.vars ?? {},
    waivers: runWaivers(run),
    afterSignoff: runAudit(db, runId).map((a) => `${new Date(a.at).toISOString()} ${a.what}`),
  });
}

