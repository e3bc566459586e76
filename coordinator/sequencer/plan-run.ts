// Pure: turns a plan, the user's stage/node choices and the roster into stages and tasks.
import { createHash } from "node:crypto";
import { FleetgateError } from "../../shared/errors.js";
import { isSuiteStage, type Plan, type StageDef, type SuiteStageDef } from "../../shared/model/plan.js";
import type { PlannedStage, PlannedTask } from "./core.js";
import { checkNamedNodes, chooseTargets, describeNode, type NodeChoice, type RosterNode } from "./node-choice.js";

export type { RosterNode };

export interface RunRequest {
  /** Stage ids or kinds; empty or ["all"] for every stage. */
  stages: string[];
  nodeNames: string[];
  /** Overrides each stage's iterations when > 0. */
  iterations: number;
}

export interface TaskSpec extends PlannedTask {
  suitePath: string;
  allowDestructive: boolean;
}

export interface ResolvedRun {
  stages: PlannedStage[];
  tasks: TaskSpec[];
  /** Human notes: which nodes were chosen per stage and why others were not. */
  notes: string[];
}

const STAGE_KINDS = ["single", "fleet", "cross", "matrix"];

/** Stage ids or kinds `coord run` takes, in plan order. */
export function selectStages(plan: Plan, wanted: string[]): StageDef[] {
  if (wanted.length === 0 || wanted.includes("all")) return plan.stages;
  const ids = plan.stages.map((s) => s.id);
  for (const w of wanted) {
    if (!ids.includes(w) && !STAGE_KINDS.includes(w)) {
      throw new FleetgateError("bad_input", `plan ${plan.file} has no stage "${w}"; stages: ${ids.join(", ")} (or a kind: ${STAGE_KINDS.join(", ")}, or all)`);
    }
  }
  const chosen = plan.stages.filter((s) => wanted.includes(s.id) || wanted.includes(s.kind));
  if (!chosen.length) throw new FleetgateError("bad_input", `plan ${plan.file} has no ${wanted.join("/")} stage; stages: ${ids.join(", ")}`);
  return chosen;
}

/** --iterations, else the stage's own, else 1 (cross and matrix stages have none of their own). */
export function stageIterations(stage: StageDef, req: RunRequest): number {
  if (req.iterations > 0) return req.iterations;
  return isSuiteStage(stage) ? (stage.iterations ?? 1) : 1;
}

/** Nodes working at once: a fleet stage's `parallel`, else all its nodes; one for the rest. */
export function stageParallel(stage: StageDef, nodeCount: number): number {
  return stage.kind === "fleet" ? (stage.parallel ?? nodeCount) : 1;
}

/** The nodes a single or fleet stage runs on, and why the rest of the roster does not. */
export function stageTargets(stage: SuiteStageDef, roster: RosterNode[], named: string[]): NodeChoice {
  const selector = (stage.kind === "single" ? stage.node : stage.nodes) ?? {};
  return chooseTargets(`stage ${stage.id}`, selector, stage.kind === "single" ? "one" : "all", roster, named);
}

export function resolveRun(plan: Plan, req: RunRequest, roster: RosterNode[], runId: string): ResolvedRun {
  checkNamedNodes(req.nodeNames, roster);
  const stages: PlannedStage[] = [];
  const tasks: TaskSpec[] = [];
  const notes: string[] = [];
  for (const stage of selectStages(plan, req.stages)) {
    if (!isSuiteStage(stage)) {
      throw new FleetgateError("bad_input", `stage ${stage.id} is a ${stage.kind} stage; this coordinator runs single and fleet stages only`);
    }
    const nodes = stageTargets(stage, roster, req.nodeNames).chosen;
    const iterations = stageIterations(stage, req);
    const parallel = stageParallel(stage, nodes.length);
    stages.push({ id: stage.id, parallel });
    notes.push(`stage ${stage.id} (${stage.kind}, ${iterations}×): ${nodes.map(describeNode).join(", ")}`);
    for (const n of nodes) {
      for (let i = 1; i <= iterations; i++) {
        tasks.push({ id: `${runId}/${stage.id}/${n.name}/${i}`, stageId: stage.id, node: n.name, iteration: i, suitePath: stage.suite, allowDestructive: stage.allow_destructive ?? false });
      }
    }
  }
  return { stages, tasks, notes };
}

/**
 * The plan's revision: sha256 over the plan text and every suite it sends, in path order. Runs of
 * one revision ran the same checks, so only they gate each other and count towards flakes.
 */
export function planRevision(planYaml: string, suites: Record<string, string>): string {
  const h = createHash("sha256").update(planYaml);
  for (const path of Object.keys(suites).sort()) h.update(`\0${path}\0${suites[path]}`);
  return h.digest("hex").slice(0, 16);
}
