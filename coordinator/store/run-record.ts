// A stored run as the wire describes it (RunRecord): run row, tasks in plan order, check results.
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { AttemptSchema, TestCaseSchema, WaiverSchema, type CheckResult, type Waiver } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { RunRecordSchema, TaskRecordSchema, type RunRecord, type TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { checkResult } from "../../shared/grpc/run-codec.js";
import { Status, statusFromName } from "../../shared/model/status.js";
import type { Db } from "./db.js";
import { getRun, runAudit, runWaivers } from "./runs.js";
import { rosterMessage } from "../fleet/run-roster.js";
import type { RawTask } from "./tasks.js";

/**
 * A check result row as `.raw()` returns it: an array in CHECK_COLUMNS' order. At 100,000 rows
 * an array a row is a third cheaper to read than an object with named keys.
 */
type RawCheck = [
  taskId: string, checkId: string, kind: string, precondition: number, status: string, summary: string, reason: string, hint: string,
  startedAt: number, durationMs: number, attempts: number, casesJson: string, attemptsJson: string, capturedJson: string, waiverJson: string,
  runAs: string, stdoutTail: string, stderrTail: string,
];

function waiverOf(column: string): { waiver?: Waiver; unwaivedStatus?: Status } {
  if (!column) return {};
  const { waiver, unwaived } = JSON.parse(column) as { waiver: JsonValue; unwaived: string };
  return { waiver: fromJson(WaiverSchema, waiver), unwaivedStatus: statusFromName(unwaived) };
}

/** A JSON list column; most are empty, and a run's report reads 100,000 of them at fleet scale. */
const listOf = (column: string): JsonValue[] => (column === "[]" ? [] : (JSON.parse(column) as JsonValue[]));

// A literal (checkResult), not create(CheckResultSchema, …), which walks the descriptor for every one
// of a run's 100,000 results; the result is the same message.
function checkFromRow(r: RawCheck): CheckResult {
  const [, checkId, kind, precondition, status, summary, reason, hint, startedAt, durationMs, attempts, casesJson, attemptsJson, capturedJson, waiverJson, runAs, stdoutTail, stderrTail] = r;
  const { waiver, unwaivedStatus } = waiverOf(waiverJson);
  return checkResult({
    checkId,
    kind,
    status: statusFromName(status),
    summary,
    reason,
    precondition: precondition === 1,
    startedAtMs: BigInt(startedAt),
    durationMs: BigInt(durationMs),
    attempts,
    stdoutTail,
    stderrTail,
    hint,
    cases: listOf(casesJson).map((c) => fromJson(TestCaseSchema, c)),
    attemptLog: listOf(attemptsJson).map((a) => fromJson(AttemptSchema, a)),
    captured: capturedJson === "{}" ? {} : (JSON.parse(capturedJson) as Record<string, string>),
    waiver,
    unwaivedStatus: unwaivedStatus ?? Status.UNSPECIFIED,
    runAs,
  });
}

// Every column of a check result but its output tails, which are by far its largest part; in
// RawCheck's order, the tails last.
const CHECK_COLUMNS = "c.task_id, c.check_id, c.kind, c.precondition, c.status, c.summary, c.reason, c.hint, c.started_at, c.duration_ms, c.attempts, c.cases_json, c.attempts_json, c.captured_json, c.waiver_json, c.run_as";

export interface LoadOptions {
  /**
   * false: check results come without stdout and stderr tails, the bulk of a result. Judging a run,
   * its flakes or its summary never reads them; a report and the evidence bundle do.
   */
  output?: boolean;
  /**
   * false: tasks come without their check results at all (GetRun's without_checks). Such a record
   * cannot be judged; its reader takes the verdict from the run's summary.
   */
  checks?: boolean;
}

/** A run's check results by task id, each task's in the order they ran (preconditions first). */
function checksByTask(db: Db, runId: string, opts: LoadOptions): Map<string, CheckResult[]> {
  // Named columns, never c.*: the origin columns are not part of a result, and at 100,000 rows
  // reading them doubled the query's time.
  const columns = `${CHECK_COLUMNS}, ${opts.output === false ? "'' AS stdout_tail, '' AS stderr_tail" : "c.stdout_tail, c.stderr_tail"}`;
  const checks = db
    .prepare(`SELECT ${columns} FROM check_results c JOIN tasks t ON t.id = c.task_id WHERE t.run_id = ? ORDER BY c.precondition DESC, c.started_at, c.rowid`)
    .raw()
    .iterate(runId) as IterableIterator<RawCheck>;
  // Grouped once by task, in query order: filtering every result for each task is quadratic, and a
  // run of 1,000 nodes × 5 iterations × 20 checks took minutes to read that way. Each row becomes
  // its result as it is read, so 100,000 rows are never all held at once.
  const byTask = new Map<string, CheckResult[]>();
  for (const c of checks) {
    const list = byTask.get(c[0]);
    if (list) list.push(checkFromRow(c));
    else byTask.set(c[0], [checkFromRow(c)]);
  }
  return byTask;
}

/** The whole run as the wire describes it: tasks in plan order, each with its check results. */
export function loadRunRecord(db: Db, runId: string, opts: LoadOptions = {}): RunRecord | undefined {
  const run = getRun(db, runId);
  if (!run) return undefined;
  const raws = db.prepare("SELECT * FROM tasks WHERE run_id = ? ORDER BY ordinal").all(runId) as RawTask[];
  const byTask = opts.checks === false ? new Map<string, CheckResult[]>() : checksByTask(db, runId, opts);
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
    fleetRoster: rosterMessage(run.options.fleetRoster),
    waivers: runWaivers(run),
    afterSignoff: runAudit(db, runId).map((a) => `${new Date(a.at).toISOString()} ${a.what}`),
  });
}

