// Pure: a plan resolved against the roster as `coord run --dry-run` shows it (DESIGN rule 4) —
// per stage its nodes (and why other nodes are left out), suite, iterations and the exact
// commands. No I/O: the server hands in the parsed plan, parsed suites and the roster.
import { create } from "@bufbuild/protobuf";
import { ResolvedPlanSchema, ResolvedStageSchema, type ResolvedPlan, type ResolvedStage } from "../../shared/gen/fleetgate/v1/control_pb.js";
import type { Plan, StageDef } from "../../shared/model/plan.js";
import type { Suite } from "../../shared/model/suite.js";
import { crossStageParts } from "./dry-run-cross.js";
import { matrixStageParts } from "./dry-run-matrix.js";
import { checkNamedNodes, type RosterNode } from "./node-choice.js";
import { findSuite, plannedSuiteChecks } from "./planned-checks.js";
import { nodeSelection } from "./planned-nodes.js";
import { selectStages, type RunRequest } from "./plan-run.js";
import { stageIterations, stageParallel, stageTargets } from "./stage-shape.js";

function resolvedStage(stage: StageDef, suites: Record<string, Suite>, req: RunRequest, roster: RosterNode[]): ResolvedStage {
  const base = { id: stage.id, kind: stage.kind, iterations: stageIterations(stage, req), description: stage.description ?? "" };
  switch (stage.kind) {
    case "single":
    case "fleet": {
      const nodes = stageTargets(stage, roster, req.nodeNames);
      const suite = findSuite(suites, stage.suite);
      const allowDestructive = stage.allow_destructive ?? false;
      return create(ResolvedStageSchema, {
        ...base,
        allowDestructive,
        nodes: nodeSelection(nodes),
        suitePath: stage.suite,
        suiteName: suite.name,
        parallel: stageParallel(stage, nodes.chosen.length),
        checks: plannedSuiteChecks(suite, allowDestructive),
      });
    }
    case "cross":
      return create(ResolvedStageSchema, { ...base, ...crossStageParts(stage, roster, req.nodeNames, req.bindings) });
    case "matrix":
      return create(ResolvedStageSchema, { ...base, ...matrixStageParts(stage, suites, roster, req.nodeNames, req) });
  }
}

/**
 * Resolves the stages asked for, in plan order. `suites` maps each suite path, as the plan writes
 * it, to the parsed suite. Throws the same errors a real run would (no matching node, a single
 * stage matching two), plus the cross-stage one: roles the fleet cannot bind to distinct nodes.
 */
export function resolveDryRun(plan: Plan, suites: Record<string, Suite>, req: RunRequest, roster: RosterNode[]): ResolvedPlan {
  checkNamedNodes(req.nodeNames, roster);
  return create(ResolvedPlanSchema, {
    planName: plan.name,
    planPath: plan.file,
    stages: selectStages(plan, req.stages).map((s) => resolvedStage(s, suites, req, roster)),
  });
}
