// Human and JSON output of `fleetgate-agent check`. Pure: results in, text out.
import { toJson } from "@bufbuild/protobuf";
import { CheckResultSchema, type CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { foldStatuses, isGreen, Status, statusMark, statusName } from "../../shared/model/status.js";
import { waivedText } from "../../shared/model/waivers.js";
import type { SuiteOutcome } from "../engine/run-suite.js";

export function formatCheckLine(r: CheckResult): string {
  const what = r.precondition ? `precondition ${r.checkId}` : r.checkId;
  // A waived check shows what it came to underneath: "waived (failed: expected exit 0, saw 1)".
  const summary = r.status === Status.WAIVED ? waivedText(r) : r.summary;
  // Only a check that ran as a user: says so; one that ran as the agent, as always, does not.
  const lines = [`  ${statusMark(r.status)}  ${what.padEnd(32)} ${summary}${r.runAs ? ` (as ${r.runAs})` : ""}`];
  if (r.hint && r.status !== Status.PASSED) lines.push(`        hint: ${r.hint}`);
  return lines.join("\n");
}

export function formatIterationSummary(iteration: number, total: number, outcome: SuiteOutcome): string {
  return `iteration ${iteration}/${total}: ${statusName(outcome.status)} — ${outcome.summary}`;
}

export function outcomeJson(suiteName: string, iterations: SuiteOutcome[]): string {
  return JSON.stringify(
    {
      suite: suiteName,
      status: statusName(overallStatus(iterations)),
      iterations: iterations.map((o, i) => ({
        iteration: i + 1,
        status: statusName(o.status),
        summary: o.summary,
        results: o.results.map((r) => toJson(CheckResultSchema, r)),
      })),
    },
    null,
    2,
  );
}

/** The iterations as one outcome, by the one fold table: a failure anywhere is a failure. */
export function overallStatus(iterations: SuiteOutcome[]): Status {
  return foldStatuses(iterations.map((o) => o.status));
}

/**
 * 0 green (passed, or waived: judged, its failure excused), 1 failed, 2 not ready or skipped (not
 * green, not failed), 3 bad input or agent error. The fold keeps a waiver from hiding any of these.
 */
export function checkExitCode(status: Status): number {
  if (isGreen(status)) return 0;
  if (status === Status.FAILED) return 1;
  if (status === Status.ERROR) return 3;
  return 2;
}
