// StartRun with dry_run: parse what the CLI sent and resolve it against the roster. Reads
// nothing from and writes nothing to the store, and sends nothing to any agent.
import type { ResolvedPlan, StartRunRequest } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { parsePlan, suitePaths } from "../../shared/model/plan.js";
import { parseSuite, type Suite } from "../../shared/model/suite.js";
import { resolveDryRun } from "../sequencer/dry-run.js";
import { runRequest } from "./run-request.js";
import type { RosterNode } from "../sequencer/node-choice.js";

export function dryRunPlan(req: StartRunRequest, roster: RosterNode[]): ResolvedPlan {
  const plan = parsePlan(req.planYaml, req.planPath || "plan.yaml");
  const suites: Record<string, Suite> = {};
  for (const path of suitePaths(plan)) {
    const text = req.suites[path];
    // A suite that was not sent is reported by the resolver, only if a chosen stage needs it.
    if (text !== undefined) suites[path] = parseSuite(text, path);
  }
  return resolveDryRun(plan, suites, runRequest(req), roster);
}
