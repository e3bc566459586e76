// ResolvePlan, the dry run: the run StartRun would start, resolved by the same function and shown
// instead of started. Reads nothing from and writes nothing to the store, sends nothing to agents.
import type { ResolvedPlan, StartRunRequest } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { dryRunView } from "../sequencer/dry-run.js";
import type { RosterNode } from "../sequencer/node-choice.js";
import { resolveStartRun } from "./run-request.js";

// Task ids embed the run id; a dry run has none and shows no task id.
const DRY_RUN_ID = "dry-run";

export function dryRunPlan(req: StartRunRequest, roster: RosterNode[]): ResolvedPlan {
  const { plan, resolved } = resolveStartRun(req, roster, DRY_RUN_ID);
  return dryRunView(plan, resolved);
}
