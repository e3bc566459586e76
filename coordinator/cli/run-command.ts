// `coord run`: send the plan and its suites, follow the run live, print the summary.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ControlService } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { parsePlan, suitePaths } from "../../shared/model/plan.js";
import { parseSuite } from "../../shared/model/suite.js";
import { statusName } from "../../shared/model/status.js";
import type { ControlClient } from "./client.js";
import { formatCheckUpdate, formatRunSummary, formatTaskUpdate, runExitCode } from "./format.js";

export interface RunFlags {
  plan: string;
  node: string[];
  iterations?: number;
  json?: boolean;
}

function read(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new FleetgateError("bad_input", `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Reads the plan and every suite it names (relative to the plan), validating each locally first. */
export function loadPlanFiles(planPath: string): { planYaml: string; suites: Record<string, string> } {
  const planYaml = read(planPath, "plan");
  const plan = parsePlan(planYaml, planPath);
  const suites: Record<string, string> = {};
  for (const rel of suitePaths(plan)) {
    const file = join(dirname(planPath), rel);
    suites[rel] = read(file, "suite");
    parseSuite(suites[rel], file);
  }
  return { planYaml, suites };
}

export async function runCommand(client: ControlClient, stages: string[], flags: RunFlags): Promise<number> {
  const { planYaml, suites } = loadPlanFiles(flags.plan);
  const { runId } = await client.call(ControlService.method.startRun, {
    planPath: flags.plan,
    planYaml,
    suites,
    stages,
    nodeNames: flags.node,
    iterations: flags.iterations ?? 0,
  });
  process.stderr.write(`run ${runId} started; see where it stands any time with: coord show ${runId}\n`);
  try {
    for await (const update of client.stream(ControlService.method.watchRun, { runId })) {
      const e = update.event;
      if (e.case === "check" && !flags.json) process.stdout.write(`${formatCheckUpdate(e.value)}\n`);
      else if (e.case === "task" && !flags.json) {
        const line = formatTaskUpdate(e.value);
        if (line) process.stdout.write(`${line}\n`);
      } else if (e.case === "finished") {
        const run = e.value;
        if (flags.json) process.stdout.write(`${JSON.stringify({ runId: run.runId, status: statusName(run.status) })}\n`);
        else process.stdout.write(`\n${formatRunSummary(run)}\nreport: coord report ${run.runId} --format md\n`);
        return runExitCode(run.status);
      }
    }
  } catch (err) {
    // The run lives in the coordinator, not in this process: say how to find it again.
    if (err instanceof FleetgateError && err.code === "unreachable") {
      throw new FleetgateError("unreachable", `${err.message}\nrun ${runId} goes on when the coordinator is back; see where it stands with: coord show ${runId}`);
    }
    throw err;
  }
  throw new FleetgateError("unreachable", `lost the coordinator while following run ${runId}; it goes on: coord show ${runId}`);
}
