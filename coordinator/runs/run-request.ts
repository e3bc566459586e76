// A StartRunRequest from the wire, resolved: the plan and the suites sent with it parsed (errors
// name file:line:col), then the one resolver. StartRun executes the result and ResolvePlan shows
// it, so a dry run resolves exactly what the real run would, and refuses exactly what it would.
import type * as pb from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { MAX_CHECKS_PER_PLAN } from "../../shared/model/limits.js";
import { parsePlan, suitePaths, type Plan } from "../../shared/model/plan.js";
import { parseSuite, type Suite } from "../../shared/model/suite.js";
import { checkRunVars } from "../../shared/model/suite-vars.js";
import { checkShippedFiles } from "../../shared/model/suite-files.js";
import type { RunFiles } from "../store/run-files.js";
import type { RosterNode } from "../sequencer/node-choice.js";
import { dryRunView } from "../sequencer/dry-run.js";
import { resolveRun } from "../sequencer/plan-run.js";
import type { ResolvedRun, RunRequest } from "../sequencer/run-types.js";

export function runRequest(req: pb.StartRunRequest): RunRequest {
  return {
    stages: req.stages,
    nodeNames: req.nodeNames,
    iterations: req.iterations,
    skips: req.skips.map((s) => ({ target: s.target, reason: s.reason })),
    withLegs: req.withLegs,
    quick: req.quick,
    bindings: { ...req.bindings },
    onlyChecks: [...req.onlyChecks],
    tags: [...req.tags],
  };
}

/**
 * Every suite the plan names that was sent, parsed. One not sent is refused by the resolver, if a
 * stage that runs needs it. All of them together may hold at most MAX_CHECKS_PER_PLAN checks.
 */
export function parseSentSuites(plan: Plan, sent: Record<string, string>): Record<string, Suite> {
  const suites: Record<string, Suite> = {};
  for (const path of suitePaths(plan)) {
    const text = sent[path];
    if (text !== undefined) suites[path] = parseSuite(text, path);
  }
  const counts = Object.entries(suites).map(([path, s]) => ({ path, checks: s.preconditions.length + s.checks.length }));
  const total = counts.reduce((n, c) => n + c.checks, 0);
  if (total > MAX_CHECKS_PER_PLAN) {
    const largest = counts.sort((a, b) => b.checks - a.checks).slice(0, 3).map((c) => `${c.path} ${c.checks}`);
    throw new FleetgateError(
      "bad_input",
      `the suites of plan ${plan.file} hold ${total} checks and preconditions, more than the ${MAX_CHECKS_PER_PLAN} one plan may run (shared/model/limits.ts; largest: ${largest.join(", ")}); split the plan`,
    );
  }
  return suites;
}

/**
 * The files sent for each suite (`files:`), checked as the agent checks them before unpacking:
 * only for suites the plan names, paths inside the suite's directory, within the limits. A suite
 * that lists files: but came without them would fail on every node, so it is refused here.
 */
export function sentSuiteFiles(plan: Plan, suites: Record<string, Suite>, sent: pb.StartRunRequest["suiteFiles"]): RunFiles {
  const named = suitePaths(plan);
  const out: RunFiles = {};
  for (const [path, list] of Object.entries(sent)) {
    if (!named.includes(path)) throw new FleetgateError("bad_input", `files were sent for suite ${path}, which plan ${plan.file} does not name; suites: ${named.join(", ") || "none"}`);
    const files = list.files.map((f) => ({ path: f.path, content: f.content, executable: f.executable }));
    checkShippedFiles(path, files);
    if (files.length) out[path] = files;
  }
  for (const [path, suite] of Object.entries(suites)) {
    if (suite.files?.length && !out[path]) {
      throw new FleetgateError("bad_input", `suite ${path} lists files: but none were sent with the run; start it with a coord run that ships them (same version as the coordinator)`);
    }
  }
  return out;
}

export function resolveStartRun(req: pb.StartRunRequest, roster: RosterNode[], runId: string): { plan: Plan; resolved: ResolvedRun; files: RunFiles } {
  const plan = parsePlan(req.planYaml, req.planPath || "plan.yaml");
  const suites = parseSentSuites(plan, req.suites);
  checkRunVars(req.vars, suites);
  const files = sentSuiteFiles(plan, suites, req.suiteFiles);
  const resolved = resolveRun(plan, suites, runRequest(req), roster, runId);
  return { plan, resolved, files };
}

// Task ids embed the run id; a dry run has none and shows no task id.
export const DRY_RUN_ID = "dry-run";

/** The dry run's view of `req` against `roster`, before gating: a projection of resolveStartRun's result. */
export function dryRunPlan(req: pb.StartRunRequest, roster: RosterNode[]): pb.ResolvedPlan {
  const { plan, resolved } = resolveStartRun(req, roster, DRY_RUN_ID);
  return dryRunView(plan, resolved);
}
