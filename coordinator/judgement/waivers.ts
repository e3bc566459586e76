// What a run's waivers come to, for the verdict, every report, `coord show`, the end of `coord
// run` and sign-off. Pure: read from the stored run (its waivers and each waived check's waiver),
// never from the clock, so a run reads the same forever.
import type { CheckResult, Waiver } from "../../shared/gen/fleetgate/v1/common_pb.js";
import type { RunRecord, TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status } from "../../shared/model/status.js";
import { taskLabel } from "../../shared/model/task-names.js";
import { expiredWarning, waivedText, waiverText } from "../../shared/model/waivers.js";

export interface WaivedCheck {
  task: TaskRecord;
  check: CheckResult;
  waiver: Waiver;
}

/** Every waived check result of the run, in task order. */
export function waivedChecks(run: RunRecord): WaivedCheck[] {
  return run.tasks.flatMap((task) =>
    task.checks.filter((c) => c.status === Status.WAIVED && c.waiver).map((check) => ({ task, check, waiver: check.waiver as Waiver })),
  );
}

/** `api on fleet #1 (node-b): waived (failed: expected exit 0, saw 1); waiver by alice, expires 2026-12-31 (w.yaml:1:3): INC-7` */
export function waivedLine(w: WaivedCheck): string {
  return `${w.check.checkId} on ${taskLabel(w.task)}: ${waivedText(w.check)}; ${waiverText(w.waiver)}`;
}

/** One line per waived check of the run. */
export function waivedLines(run: RunRecord): string[] {
  return waivedChecks(run).map(waivedLine);
}

/** One line per waiver the run ignored because it had expired when the run started. */
export function expiredWaiverLines(run: RunRecord): string[] {
  return run.waivers.filter((w) => w.expired).map(expiredWarning);
}

/** The waivers that covered at least one check of the run, each once: what a sign-off accepts. */
export function usedWaivers(run: RunRecord): Waiver[] {
  const seen = new Map<string, Waiver>();
  for (const { waiver } of waivedChecks(run)) seen.set(`${waiver.source}\u0000${waiver.checkId}`, waiver);
  return [...seen.values()];
}
