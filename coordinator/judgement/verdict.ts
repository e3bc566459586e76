// The verdict a release is signed off on. Pure: a run (and, for flakes, earlier runs of the same
// plan revision) in, a decision with every reason out.
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { isGreen, isTerminal, Status, statusName } from "../../shared/model/status.js";
import { taskLabel } from "../../shared/model/task-names.js";
import { taskSkipAccepted } from "./skips.js";
import type { Decision, Flake, Judgement } from "./types.js";
import { expiredWaiverLines, waivedLines } from "./waivers.js";

/**
 * Whether an override holds the verdict until `--accept-override` names it. Not quick (a quick run
 * is never GO, said already) nor a --skip (judged, and accepted, as the skip itself).
 */
export function overrideNeedsAcceptance(name: string): boolean {
  return name !== "quick" && !name.startsWith("skip:");
}

/** Runs stored before modes existed carry no mode; they were full runs. */
function isFull(run: RunRecord): boolean {
  return run.mode === "full" || run.mode === "";
}

/**
 * GO only when every task passed in full mode and full scope, attestation is clean, nothing makes
 * the run unsignable, no skip or override (a narrowing of the plan) is left unaccepted, and no
 * check is flaky. A failure (or a flake) is NO-GO;
 * anything unverified (not ready, lost, interrupted, skipped, cancelled, error, quick, narrowed, still running, nothing
 * run at all) is INCOMPLETE. Skips and overrides count as accepted only when run.signoff names them.
 * A waived task (its failures excused by active waivers, shared/model/waivers.ts) does not hold GO;
 * its waived checks are listed with the judgement. A waiver covers only a check that passed or
 * failed, so anything unverified stays INCOMPLETE whatever the waivers say.
 */
export function judgeRun(run: RunRecord, flakes: Flake[] = run.flakes): Judgement {
  const noGo: string[] = [];
  const incomplete: string[] = [];
  const accepted = new Set((run.signoff?.accepted ?? []).map((s) => s.target));
  const finished = isTerminal(run.status);
  if (!finished) incomplete.push("run has not finished");
  if (run.mode === "quick") incomplete.push("quick run: checks tagged quick only; never signable");
  else if (!isFull(run)) incomplete.push(`mode ${run.mode}: only a full run can be GO`);
  if (finished && !run.tasks.length) incomplete.push("run has no task: nothing was verified");
  for (const t of run.tasks) {
    if (isGreen(t.status)) continue;
    // A running run already said so once; its pending tasks are not each a reason.
    if (!finished && !isTerminal(t.status)) continue;
    if (t.status === Status.SKIPPED && taskSkipAccepted(t, accepted)) continue;
    const why = `${taskLabel(t)}: ${statusName(t.status)}${t.summary ? ` (${t.summary})` : ""}`;
    (t.status === Status.FAILED ? noGo : incomplete).push(why);
  }
  for (const s of run.skips) {
    // An opt-in leg is outside the gate unless asked for (--with): listed everywhere, never blocking.
    if (s.source === "opt-in" || accepted.has(s.target)) continue;
    incomplete.push(`${s.target} skipped (${s.source}): ${s.reason}`);
  }
  const acceptedOverrides = new Set((run.signoff?.acceptedOverrides ?? []).map((o) => o.target));
  for (const o of run.overrides) {
    if (!overrideNeedsAcceptance(o.name) || acceptedOverrides.has(o.name)) continue;
    incomplete.push(`scope narrowed: ${o.detail}`);
  }
  for (const f of flakes) noGo.push(`${f.checkId} on ${f.node} is flaky in ${f.stageId}: passed ${f.passed} of ${f.total}`);
  for (const f of run.attestationFlags) incomplete.push(`not valid for sign-off: ${f}`);
  for (const u of run.unsignable) incomplete.push(`not valid for sign-off: ${u}`);
  // The run's own status is the sequencer's fold; if it disagrees with the tasks, trust neither.
  if (finished && !isGreen(run.status) && !noGo.length && !incomplete.length) incomplete.push(`run ended ${statusName(run.status)}`);
  const decision: Decision = noGo.length ? "NO-GO" : incomplete.length ? "INCOMPLETE" : "GO";
  return { decision, reasons: [...noGo, ...incomplete], flakes, signable: decision === "GO", waived: waivedLines(run), expiredWaivers: expiredWaiverLines(run) };
}
