// `coord run --dry-run`: send the plan and its suites to be resolved against the roster, print
// what would run. Nothing is started: ResolvePlan has no way to start a run.
import { toJson } from "@bufbuild/protobuf";
import { ControlService, ResolvedPlanSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { EXIT_CODE, FleetgateError } from "../../shared/errors.js";
import type { ControlClient } from "./client.js";
import { formatResolvedPlan } from "./dry-run-format.js";
import { loadPlanFiles } from "./run-command.js";
import { checkRequestSize, startRunRequest, type PlanFiles, type RunFlags } from "./run-flags.js";

// Parsed here first (unless the caller already did): a plan or suite error names the file as the user wrote its path.
export async function dryRunCommand(client: ControlClient, stages: string[], flags: RunFlags, files: PlanFiles = loadPlanFiles(flags.plan)): Promise<number> {
  // Exactly what the real run would send (skips, --with, --quick, --bind, --only, --tags included);
  // the coordinator resolves it with the function StartRun uses, so it refuses what a run would.
  const req = startRunRequest(stages, flags, files);
  checkRequestSize(req, files);
  const { plan } = await client.call(ControlService.method.resolvePlan, { run: req });
  if (!plan) throw new FleetgateError("internal", "the coordinator answered the dry run without a plan");
  process.stdout.write(flags.json ? `${JSON.stringify(toJson(ResolvedPlanSchema, plan), null, 2)}\n` : `${formatResolvedPlan(plan)}\n`);
  // Refused as the real run would be (gating, evidence disk): exit as it would, plan shown anyway.
  return plan.refusal ? EXIT_CODE.conflict : 0;
}
