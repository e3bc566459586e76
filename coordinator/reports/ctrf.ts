// The run as CTRF, the Common Test Report Format (https://ctrf.io), for dashboards and CI actions
// that read it. First a `verdict` test that fails unless the run is GO (verdict-case.ts: readers
// count tests, so an INCOMPLETE run must fail one), then one test per check per task, named
// `fleet on node-b #2: http` (inner cases `…: check/case`; shared/model/task-names.ts), one per
// task that did not pass with no check to say so, one per skip decided before the run. CTRF has
// no words for not ready, lost, error or cancelled: they are "other" with our status in
// rawStatus, never "passed". A leg skipped by its failed `requires:` probe is
// skipped, probe included (run-view.ts reportedStatus). The run's scope is in summary.extra and
// results.extra. Pure: no report id or generation clock, so the same run gives the same bytes.
import type { CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import type { RunRecord, TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status, statusName } from "../../shared/model/status.js";
import { taskLabel } from "../../shared/model/task-names.js";
import { waivedDetail } from "../../shared/model/waivers.js";
import { waiverJson } from "./waiver-view.js";
import type { Judgement } from "../judgement/types.js";
import { reproduceCheck } from "./reproduce.js";
import { isoTime, reportedStatus, skippedCheckReason } from "./run-view.js";
import { scopeJson } from "./scope.js";
import { VERDICT_NAME, VERDICT_SUITE, verdictCase } from "./verdict-case.js";

export type CtrfStatus = "passed" | "failed" | "skipped" | "pending" | "other";

export interface CtrfTest {
  name: string;
  status: CtrfStatus;
  duration: number;
  start?: number;
  stop?: number;
  suite: string[];
  message?: string;
  trace?: string;
  rawStatus: string;
  filePath?: string;
  retries?: number;
  flaky?: boolean;
  stdout?: string[];
  stderr?: string[];
  extra: Record<string, unknown>;
}

export function ctrfStatus(status: Status): CtrfStatus {
  if (status === Status.PASSED) return "passed";
  if (status === Status.FAILED) return "failed";
  if (status === Status.SKIPPED) return "skipped";
  if (status === Status.PENDING || status === Status.RUNNING) return "pending";
  return "other";
}

const lines = (text: string): string[] | undefined => (text ? (text.endsWith("\n") ? text.slice(0, -1) : text).split("\n") : undefined);

/**
 * Drops undefined fields so the document has only what is known. The tests of checks, 100,000 at
 * fleet scale, skip it: JSON.stringify leaves out an undefined field just the same, for nothing.
 */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** What every test of one task repeats, worked out once per task. */
interface TaskNames {
  label: string;
  where: Record<string, unknown>;
}

// A literal, not defined(): it is spread into every test's extra, and an object built by
// Object.fromEntries is a slow one to copy; JSON.stringify leaves its undefined fields out.
function where(t: TaskRecord): Record<string, unknown> {
  return { node: t.nodeName, stage: t.stageId, stageKind: t.stageKind || undefined, iteration: t.iteration, step: t.stepId || undefined, role: t.role || undefined, taskId: t.taskId };
}

function checkMessage(t: TaskRecord, c: CheckResult): string | undefined {
  if (c.status === Status.PASSED) return undefined;
  if (c.waiver) return waivedDetail(c);
  if (reportedStatus(t, c.status) !== c.status) return skippedCheckReason(c);
  return [c.summary || c.reason, c.hint && `hint: ${c.hint}`].filter(Boolean).join("; ") || statusName(c.status);
}

/** The check's own test, then one per inner case, pushed onto `out`. */
function checkTests(out: CtrfTest[], run: RunRecord, t: TaskRecord, names: TaskNames, c: CheckResult, flaky: boolean): void {
  const start = Number(c.startedAtMs);
  const passed = c.status === Status.PASSED;
  const r = passed ? undefined : reproduceCheck(run, t, c);
  out.push({
    name: `${names.label}: ${c.checkId}`,
    status: ctrfStatus(reportedStatus(t, c.status)),
    duration: Number(c.durationMs),
    start: start || undefined,
    stop: start ? start + Number(c.durationMs) : undefined,
    suite: [t.stageId, t.nodeName, `#${t.iteration}`],
    message: checkMessage(t, c),
    trace: passed ? undefined : [c.stdoutTail, c.stderrTail].filter(Boolean).join("\n") || undefined,
    rawStatus: statusName(c.status),
    filePath: t.suitePath || undefined,
    retries: c.attempts > 1 ? c.attempts - 1 : undefined,
    flaky: flaky || undefined,
    stdout: lines(c.stdoutTail),
    stderr: lines(c.stderrTail),
    // where(t)'s keys written out, not spread: a spread copies through a slow path, 100,000 times.
    extra: {
      node: t.nodeName,
      stage: t.stageId,
      stageKind: names.where.stageKind,
      iteration: t.iteration,
      step: names.where.step,
      role: names.where.role,
      taskId: t.taskId,
      check: c.checkId,
      kind: c.kind,
      precondition: c.precondition,
      hint: c.hint || undefined,
      runAs: c.runAs || undefined,
      unwaivedStatus: c.waiver ? statusName(c.unwaivedStatus) : undefined,
      waiver: c.waiver ? waiverJson(c.waiver) : undefined,
      reproduce: r ? { where: r.where, node: r.node, command: r.command } : undefined,
    },
  });
  for (const k of c.cases) {
    out.push({
      name: `${names.label}: ${c.checkId}/${k.name}`,
      status: ctrfStatus(reportedStatus(t, k.status)),
      duration: Number(k.durationMs),
      suite: [t.stageId, t.nodeName, `#${t.iteration}`, c.checkId],
      message: k.message || undefined,
      rawStatus: statusName(k.status),
      filePath: t.suitePath || undefined,
      extra: { ...names.where, check: c.checkId, case: k.name },
    });
  }
}

function taskTest(t: TaskRecord): CtrfTest {
  const start = Number(t.startedAtMs);
  const stop = Number(t.finishedAtMs);
  return defined({
    name: `${taskLabel(t)}: (task)`,
    status: ctrfStatus(t.status),
    duration: start && stop > start ? stop - start : 0,
    suite: [t.stageId, t.nodeName, `#${t.iteration}`],
    message: t.summary || statusName(t.status),
    rawStatus: statusName(t.status),
    filePath: t.suitePath || undefined,
    extra: where(t),
  });
}

function verdictTest(run: RunRecord, judgement: Judgement): CtrfTest {
  const v = verdictCase(run, judgement);
  return defined({
    name: VERDICT_NAME,
    status: v.passed ? "passed" : "failed",
    duration: 0,
    suite: [VERDICT_SUITE],
    message: v.passed ? undefined : v.message,
    trace: v.reasons || undefined,
    rawStatus: judgement.decision,
    extra: { decision: judgement.decision, reasons: [...judgement.reasons], ...(judgement.waived.length ? { waived: [...judgement.waived] } : {}), ...(judgement.expiredWaivers.length ? { expiredWaivers: [...judgement.expiredWaivers] } : {}), scope: v.scopeText, accepted: v.scopeLines.slice(1) },
  });
}

function tests(run: RunRecord, judgement: Judgement): CtrfTest[] {
  // A set, not a search of every flake for each check: a large fleet's run can have hundreds of each.
  const key = (stage: string, node: string, check: string) => `${stage}\u0000${node}\u0000${check}`;
  const flaky = new Set(judgement.flakes.map((f) => key(f.stageId, f.node, f.checkId)));
  const isFlaky = (t: TaskRecord, c: CheckResult) => flaky.size > 0 && flaky.has(key(t.stageId, t.nodeName, c.checkId));
  const out: CtrfTest[] = [verdictTest(run, judgement)];
  for (const t of run.tasks) {
    const names = { label: taskLabel(t), where: where(t) };
    for (const c of t.checks) checkTests(out, run, t, names, c, isFlaky(t, c));
    // A lost node or a cancelled leg has no check that says so: the task itself must.
    if (t.status !== Status.PASSED && !t.checks.some((c) => reportedStatus(t, c.status) !== Status.PASSED)) out.push(taskTest(t));
  }
  const accepted = new Set((run.signoff?.accepted ?? []).map((s) => s.target));
  for (const s of run.skips) {
    out.push({ name: `skip/${s.target}`, status: "skipped", duration: 0, suite: ["skips"], message: s.reason, rawStatus: "skipped", extra: { target: s.target, source: s.source, accepted: accepted.has(s.target) } });
  }
  return out;
}

export function ctrfDocument(run: RunRecord, judgement: Judgement): Record<string, unknown> {
  const all = tests(run, judgement);
  const v = verdictCase(run, judgement);
  const count = (s: CtrfStatus) => all.filter((t) => t.status === s).length;
  const start = Number(run.startedAtMs);
  const stop = Number(run.finishedAtMs) || start;
  return {
    reportFormat: "CTRF",
    specVersion: "0.0.0",
    runId: run.runId,
    ...(isoTime(run.finishedAtMs || run.startedAtMs) ? { timestamp: isoTime(run.finishedAtMs || run.startedAtMs) } : {}),
    generatedBy: "fleetgate",
    results: {
      tool: { name: "fleetgate" },
      summary: {
        tests: all.length,
        passed: count("passed"),
        failed: count("failed"),
        skipped: count("skipped"),
        pending: count("pending"),
        other: count("other"),
        flaky: all.filter((t) => t.flaky).length,
        start,
        stop,
        duration: stop - start,
        extra: { decision: judgement.decision, scope: v.scopeText },
      },
      tests: all,
      // healthy: a reader that looks only at the environment sees the verdict, never the counts.
      environment: defined({ reportName: run.planName || undefined, commit: run.planRevision || undefined, testEnvironment: run.mode || "full", healthy: v.passed }),
      extra: {
        planPath: run.planPath,
        planRevision: run.planRevision,
        mode: run.mode || "full",
        decision: judgement.decision,
        signable: judgement.signable,
        reasons: [...judgement.reasons],
        scope: scopeJson(v.scope),
        attestationFlags: [...run.attestationFlags],
        unsignable: [...run.unsignable],
        ...(run.transport ? { transport: run.transport } : {}),
      },
    },
  };
}

export function ctrfReport(run: RunRecord, judgement: Judgement): string {
  return `${JSON.stringify(ctrfDocument(run, judgement), null, 2)}\n`;
}
