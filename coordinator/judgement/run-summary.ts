// What the coordinator answers with where a whole run would be too much: run lists, the end of a
// watch, cancel and sign-off. A run's record grows with its output and can exceed any message
// size limit; its summary stays small. The verdict in it is judgeRun's on the whole run, so a
// client never judges a run from less than all of it. Pure.
import { create } from "@bufbuild/protobuf";
import { RunSummarySchema, type RunRecord, type RunSummary } from "../../shared/gen/fleetgate/v1/control_pb.js";
import type { Judgement } from "./types.js";

/** Reasons listed in a summary, in UTF-8 bytes; the rest are counted (one reason per task that did not pass). */
export const SUMMARY_REASON_BYTES = 64 * 1024;

/** The reasons within `budget` bytes, then one line saying how many more there are and where. */
export function listedReasons(runId: string, reasons: string[], budget = SUMMARY_REASON_BYTES): string[] {
  let used = 0;
  for (let i = 0; i < reasons.length; i++) {
    used += Buffer.byteLength(reasons[i] as string, "utf8");
    if (used > budget) return [...reasons.slice(0, i), `… and ${reasons.length - i} more reasons; every one: coord show ${runId}`];
  }
  return reasons;
}

/** `run` without tasks, nodes and output, with the verdict `judgement` reached on all of it. */
export function runSummary(run: RunRecord, judgement: Judgement): RunSummary {
  return create(RunSummarySchema, {
    runId: run.runId,
    planName: run.planName,
    planPath: run.planPath,
    status: run.status,
    startedAtMs: run.startedAtMs,
    finishedAtMs: run.finishedAtMs,
    stages: run.stages,
    mode: run.mode,
    planRevision: run.planRevision,
    overrides: run.overrides,
    signoff: run.signoff,
    verdict: judgement.decision,
    reasons: listedReasons(run.runId, judgement.reasons),
    waived: listedReasons(run.runId, judgement.waived),
    expiredWaivers: judgement.expiredWaivers,
  });
}
