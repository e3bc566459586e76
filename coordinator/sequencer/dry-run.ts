// Pure: `coord run --dry-run` (DESIGN rule 4) as a projection of the one resolution a real run
// executes (plan-run.ts resolveRun): per stage asked for, its nodes and why other nodes are left
// out, its suite and the exact commands, or why it would not run. Nothing here chooses a node,
// counts iterations, applies a skip or selects a check: it only reads what resolveRun recorded.
import { create } from "@bufbuild/protobuf";
import { ResolvedPlanSchema, ResolvedStageSchema, type ResolvedPlan, type ResolvedStage } from "../../shared/gen/fleetgate/v1/control_pb.js";
import type { Plan } from "../../shared/model/plan.js";
import { crossStageParts } from "./dry-run-cross.js";
import { matrixStageParts } from "./dry-run-matrix.js";
import { plannedSuiteChecks, skipText } from "./planned-checks.js";
import { nodeSelection } from "./planned-nodes.js";
import type { ResolvedRun, StageLayout, SuiteStageLayout, TaskSpec } from "./run-types.js";

function suiteStageParts(layout: SuiteStageLayout, tasks: TaskSpec[]) {
  // Every task of the stage runs the same suite with the same options; the first speaks for all.
  const task = tasks[0] as TaskSpec;
  const suite = task.suite;
  return {
    allowDestructive: task.allowDestructive,
    nodes: nodeSelection(layout.nodes),
    suitePath: task.suitePath,
    suiteName: suite?.name ?? "",
    checks: suite ? plannedSuiteChecks(suite, task) : [],
  };
}

function stageView(layout: StageLayout, run: ResolvedRun): ResolvedStage {
  const { stage } = layout;
  const base = { id: stage.id, kind: stage.kind, description: stage.description ?? "" };
  if (layout.kind === "skipped") return create(ResolvedStageSchema, { ...base, skipReason: skipText(layout.skip) });
  const tasks = run.tasks.filter((t) => t.stageId === stage.id);
  const shape = { ...base, iterations: layout.iterations, parallel: run.stages.find((s) => s.id === stage.id)?.parallel ?? 0 };
  switch (layout.kind) {
    case "suite":
      return create(ResolvedStageSchema, { ...shape, ...suiteStageParts(layout, tasks) });
    case "cross":
      return create(ResolvedStageSchema, { ...shape, ...crossStageParts(layout, tasks) });
    case "matrix":
      return create(ResolvedStageSchema, { ...shape, ...matrixStageParts(layout, tasks) });
  }
}

/** The dry run's view of `run`, which resolveRun made from `plan`. */
export function dryRunView(plan: Plan, run: ResolvedRun): ResolvedPlan {
  return create(ResolvedPlanSchema, {
    planName: plan.name,
    planPath: plan.file,
    stages: run.layout.map((l) => stageView(l, run)),
    mode: run.mode,
    overrides: run.overrides,
    skips: run.skips,
    unsignable: run.unsignable,
  });
}
