// Pure: may the stages asked for run now? A stage runs only when every stage before it in the
// plan is green — in this run, or, for a stage not in this run, in the latest full run of the same
// plan revision that ran it. A stage skipped with --skip (and its reason) does not hold others.
import { FleetgateError } from "../../shared/errors.js";
import type { Plan } from "../../shared/model/plan.js";
import { foldStatuses, isGreen, type Status, statusName } from "../../shared/model/status.js";

export interface StageHistory {
  runId: string;
  statuses: Status[];
}

export function checkGating(
  plan: Plan,
  revision: string,
  inRun: string[],
  skipped: string[],
  latest: (stageId: string) => StageHistory | undefined,
): void {
  const ids = plan.stages.map((s) => s.id);
  const last = Math.max(...inRun.map((id) => ids.indexOf(id)));
  for (const before of ids.slice(0, Math.max(last, 0))) {
    if (inRun.includes(before) || skipped.includes(before)) continue;
    const needer = inRun.find((id) => ids.indexOf(id) > ids.indexOf(before)) ?? "";
    const fix = `run it first (coord run ${before} --plan ${plan.file}), or skip it with --skip ${before} --reason TEXT`;
    const history = latest(before);
    if (!history) {
      throw new FleetgateError("conflict", `stage ${needer} needs stage ${before} green first, and no full run of plan ${plan.name} (revision ${revision}) has run it: ${fix}`);
    }
    const outcome = foldStatuses(history.statuses);
    if (!isGreen(outcome)) {
      throw new FleetgateError("conflict", `stage ${needer} needs stage ${before} green first; its latest full run ${history.runId} ended ${statusName(outcome)}: ${fix}`);
    }
  }
}
