// Waivers as every report shows them: each waived check with what it came to underneath and whose
// waiver covered it until when, and the waivers the run ignored as expired. Pure.
import type { Waiver } from "../../shared/gen/fleetgate/v1/common_pb.js";
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { statusName } from "../../shared/model/status.js";
import { taskTarget } from "../../shared/model/task-names.js";
import { waivedChecks } from "../judgement/waivers.js";

export interface WaivedRow {
  target: string;
  node: string;
  iteration: number;
  check: string;
  /** What the check came to by itself: passed or failed. */
  underneath: string;
  summary: string;
  waiver: Waiver;
}

/** Every waived check of the run, in run order. */
export function waivedRows(run: RunRecord): WaivedRow[] {
  return waivedChecks(run).map(({ task, check, waiver }) => ({
    target: taskTarget(task),
    node: task.nodeName,
    iteration: task.iteration,
    check: check.checkId,
    underneath: statusName(check.unwaivedStatus),
    summary: check.summary,
    waiver,
  }));
}

/** `node node-b` / `role fleet` / `every node` */
export function waiverSelector(w: Waiver): string {
  return w.node ? `node ${w.node}` : w.role ? `role ${w.role}` : "every node";
}

/** A waiver as the JSON report and CTRF carry it. */
export function waiverJson(w: Waiver): { check: string; selector: string; owner: string; reason: string; expires: string; source: string; expired: boolean } {
  return { check: w.checkId, selector: waiverSelector(w), owner: w.owner, reason: w.reason, expires: w.expires, source: w.source, expired: w.expired };
}
