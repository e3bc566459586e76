// The run as our own JSON document, `fleetgate.report/v1` (docs/report-json.md, field by field).
// Unlike the wire JSON of RunRecord it carries the verdict, groups tasks by stage, names statuses
// and times in words a script can use, and gives each check that did not pass its reproduce line.
// Pure and byte-stable: objects are built in a fixed key order and maps are sorted by key.
import type { Attempt, CheckResult, NodeIdentity, TestCase } from "../../shared/gen/fleetgate/v1/common_pb.js";
import type { RunRecord, Skip, TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { statusName } from "../../shared/model/status.js";
import type { Judgement } from "../judgement/types.js";
import { reproduceCheck } from "./reproduce.js";
import { isoTime, stageViews } from "./run-view.js";
import { runScope, scopeJson } from "./scope.js";
import { waiverJson } from "./waiver-view.js";
import { fleetRosterJson } from "./fleet-roster.js";

export const REPORT_SCHEMA = "fleetgate.report/v1";

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

function sorted(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

const time = (ms: bigint): string | null => isoTime(ms) || null;

const skip = (s: Skip): Json => ({ target: s.target, reason: s.reason, source: s.source });

function node(n: NodeIdentity): Json {
  return { name: n.name, machineId: n.machineId, bootId: n.bootId, hostname: n.hostname, agentVersion: n.agentVersion, labels: sorted(n.labels), capabilities: [...n.capabilities].sort() };
}

const testCase = (c: TestCase): Json => ({ name: c.name, status: statusName(c.status), message: c.message, durationMs: Number(c.durationMs) });

const attempt = (a: Attempt): Json => ({ startedAt: time(a.startedAtMs), durationMs: Number(a.durationMs), passed: a.passed, summary: a.summary });

function check(run: RunRecord, t: TaskRecord, c: CheckResult): Json {
  const r = reproduceCheck(run, t, c);
  return {
    id: c.checkId,
    kind: c.kind,
    precondition: c.precondition,
    status: statusName(c.status),
    summary: c.summary,
    reason: c.reason,
    hint: c.hint,
    startedAt: time(c.startedAtMs),
    durationMs: Number(c.durationMs),
    attempts: c.attempts,
    stdoutTail: c.stdoutTail,
    stderrTail: c.stderrTail,
    cases: c.cases.map(testCase),
    attemptLog: c.attemptLog.map(attempt),
    captured: sorted(c.captured),
    reproduce: r ? { where: r.where, node: r.node, command: r.command } : null,
    // Only on a check that ran as a user: (a suite's or its own): whom its programs ran as.
    ...(c.runAs ? { runAs: c.runAs } : {}),
    // Only on a waived check: what it came to by itself, and the waiver that covered it.
    ...(c.waiver ? { unwaivedStatus: statusName(c.unwaivedStatus), waiver: waiverJson(c.waiver) } : {}),
  };
}

function task(run: RunRecord, t: TaskRecord): Json {
  return {
    taskId: t.taskId,
    node: t.nodeName,
    iteration: t.iteration,
    step: t.stepId,
    role: t.role,
    suitePath: t.suitePath,
    status: statusName(t.status),
    summary: t.summary,
    startedAt: time(t.startedAtMs),
    finishedAt: time(t.finishedAtMs),
    checks: t.checks.map((c) => check(run, t, c)),
  };
}

function runPart(run: RunRecord): Json {
  const s = run.signoff;
  return {
    id: run.runId,
    plan: { name: run.planName, path: run.planPath, revision: run.planRevision },
    mode: run.mode || "full",
    status: statusName(run.status),
    startedAt: time(run.startedAtMs),
    finishedAt: time(run.finishedAtMs),
    stages: [...run.stages],
    withLegs: [...run.withLegs],
    bindings: run.bindings.map((b) => ({ stage: b.stageId, role: b.role, node: b.node })),
    nodes: run.nodes.map(node),
    attestationFlags: [...run.attestationFlags],
    unsignable: [...run.unsignable],
    ...(run.transport ? { transport: run.transport } : {}),
    ...(run.afterSignoff.length ? { afterSignoff: [...run.afterSignoff] } : {}),
    skips: run.skips.map(skip),
    ...(run.waivers.length ? { waivers: run.waivers.map(waiverJson) } : {}),
    signoff: s?.by ? { by: s.by, at: time(s.atMs), accepted: s.accepted.map(skip), ...(s.waivers.length ? { waivers: s.waivers.map(waiverJson) } : {}) } : null,
  };
}

function verdict(j: Judgement): Json {
  return {
    decision: j.decision,
    signable: j.signable,
    reasons: [...j.reasons],
    ...(j.waived.length ? { waived: [...j.waived] } : {}),
    ...(j.expiredWaivers.length ? { expiredWaivers: [...j.expiredWaivers] } : {}),
    flakes: j.flakes.map((f) => ({ stage: f.stageId, node: f.node, check: f.checkId, passed: f.passed, total: f.total, runIds: [...f.runIds] })),
  };
}

/** The report as a plain object (what `jsonReport` serialises). */
export function reportDocument(run: RunRecord, judgement: Judgement): Json {
  return {
    schema: REPORT_SCHEMA,
    run: runPart(run),
    verdict: verdict(judgement),
    scope: scopeJson(runScope(run)),
    ...(Object.keys(run.vars).length ? { vars: run.vars } : {}),
    ...(run.fleetRoster ? { fleetRoster: fleetRosterJson(run) as Json } : {}),
    stages: stageViews(run).map((s) => ({
      id: s.id,
      kind: s.kind,
      status: statusName(s.status),
      iterations: s.iterations,
      tasks: run.tasks.filter((t) => t.stageId === s.id).map((t) => task(run, t)),
    })),
  };
}

export function jsonReport(run: RunRecord, judgement: Judgement): string {
  return `${JSON.stringify(reportDocument(run, judgement), null, 2)}\n`;
}
