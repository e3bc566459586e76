// `coord run --dry-run`: send the plan and its suites to be resolved against the roster, print
// what would run. Nothing is started: ResolvePlan has no way to start a run.
import { toJson } from "@bufbuild/protobuf";
import { ControlService, ResolvedPlanSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import type { ControlClient } from "./client.js";
import { formatResolvedPlan } from "./dry-run-format.js";
import { loadPlanFiles, type RunFlags } from "./run-command.js";

export async function dryRunCommand(client: ControlClient, stages: string[], flags: RunFlags): Promise<number> {
  // Parsed here first: a plan or suite error names the file as the user wrote its path.
  const { planYaml, suites } = loadPlanFiles(flags.plan);
  const run = { planPath: flags.plan, planYaml, suites, stages, nodeNames: flags.node, iterations: flags.iterations ?? 0 };
  const { plan } = await client.call(ControlService.method.resolvePlan, { run });
  if (!plan) throw new FleetgateError("internal", "the coordinator answered the dry run without a plan");
  process.stdout.write(flags.json ? `${JSON.stringify(toJson(ResolvedPlanSchema, plan), null, 2)}\n` : `${formatResolvedPlan(plan)}\n`);
  return 0;
}
