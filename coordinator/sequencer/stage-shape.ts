// Pure: how a stage of the plan runs — its nodes, iterations, parallelism. Shared by the resolver and by a coordinator resuming a run after a restart.
import type { StageDef, SuiteStageDef } from "../../shared/model/plan.js";
import type { PlannedStage } from "./core.js";
import { chooseTargets, type NodeChoice, type RosterNode } from "./node-choice.js";
import type { RunRequest } from "./run-types.js";

/** --iterations, else the stage's own, else 1. Cross and matrix stages run once: they have none. */
export function stageIterations(stage: SuiteStageDef, req: RunRequest): number {
  return req.iterations > 0 ? req.iterations : (stage.iterations ?? 1);
}

/** Nodes working at once: a fleet stage's `parallel`, else all its nodes; one for a single stage. */
export function stageParallel(stage: StageDef, nodeCount: number): number {
  if (stage.kind === "fleet") return stage.parallel ?? nodeCount;
  // Cross and matrix stages are paced by their groups; within a group everything starts at once.
  return stage.kind === "single" ? 1 : Math.max(nodeCount, 1);
}

export function plannedStage(stage: StageDef, nodeCount: number): PlannedStage {
  return { id: stage.id, parallel: stageParallel(stage, nodeCount), stopOnFailure: stage.kind === "cross" };
}

/** The nodes a single or fleet stage runs on, and why the rest of the roster does not. */
export function stageTargets(stage: SuiteStageDef, roster: RosterNode[], named: string[]): NodeChoice {
  const selector = (stage.kind === "single" ? stage.node : stage.nodes) ?? {};
  return chooseTargets(`stage ${stage.id}`, selector, stage.kind === "single" ? "one" : "all", roster, named);
}
