// The verdict a release is signed off on. Pure: a run (and, for flakes, earlier runs of the same
// plan revision) in, a decision with every reason out.
import type { RunRecord, TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { isTerminal, Status, statusName } from "../../shared/model/status.js";
import type { Decision, Flake, Judgement } from "./types.js";

function taskLabel(t: TaskRecord): string {
  const what = t.stepId ? `${t.stageId}/${t.stepId}` : t.stageId;
  return `${what} on ${t.nodeName} #${t.iteration}`;
}

/**
 * GO only when every task passed in full mode, attestation is clean, nothing makes the run
 * unsignable, no skip is left unaccepted, and no check is flaky. A failure (or a flake) is NO-GO;
 * anything unverified (not ready, lost, skipped, cancelled, error, quick, still running) is
 * INCOMPLETE.
 */
export function judgeRun(run: RunRecord, flakes: Flake[] = []): Judgement {
  const noGo: string[] = [];
  const incomplete: string[] = [];
  const accepted = new Set((run.signoff?.accepted ?? []).map((s) => s.target));
  if (!isTerminal(run.status)) incomplete.push("run has not finished");
  if (run.mode === "quick") incomplete.push("quick run: checks tagged quick only; never signable");
  for (const t of run.tasks) {
    if (t.status === Status.PASSED) continue;
    const why = `${taskLabel(t)}: ${statusName(t.status)}${t.summary ? ` (${t.summary})` : ""}`;
    if (t.status === Status.FAILED) noGo.push(why);
    else if (t.status === Status.SKIPPED && (accepted.has(t.stepId) || accepted.has(t.stageId))) continue;
    else if (isTerminal(t.status)) incomplete.push(why);
  }
  for (const s of run.skips) if (!accepted.has(s.target)) incomplete.push(`${s.target} skipped (${s.source}): ${s.reason}`);
  for (const f of flakes) noGo.push(`${f.checkId} on ${f.node} is flaky in ${f.stageId}: passed ${f.passed} of ${f.total}`);
  for (const f of run.attestationFlags) incomplete.push(`not valid for sign-off: ${f}`);
  for (const u of run.unsignable) incomplete.push(`not valid for sign-off: ${u}`);
  const decision: Decision = noGo.length ? "NO-GO" : incomplete.length ? "INCOMPLETE" : "GO";
  return { decision, reasons: [...noGo, ...incomplete], flakes, signable: decision === "GO" };
}
