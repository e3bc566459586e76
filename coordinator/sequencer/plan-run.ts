// Pure: turns a plan, the user's stage/node choices and the roster into stages and tasks.
import { FleetgateError } from "../../shared/errors.js";
import { formatLabels, matchesSelector } from "../../shared/labels.js";
import { isSuiteStage, type Plan, type StageDef, type SuiteStageDef } from "../../shared/model/plan.js";
import type { PlannedStage, PlannedTask } from "./core.js";

export interface RosterNode {
  name: string;
  labels: Record<string, string>;
  online: boolean;
}

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

function describe(n: RosterNode): string {
  return `${n.name} (${formatLabels(n.labels) || "no labels"}${n.online ? "" : ", offline"})`;
}

/** `role=dev` nodes are never gate targets unless named with --node. */
function candidates(stage: SuiteStageDef, roster: RosterNode[], named: string[]): RosterNode[] {
  if (named.length) return roster.filter((n) => named.includes(n.name));
  const selector = (stage.kind === "single" ? stage.node : stage.nodes) ?? {};
  return roster.filter((n) => matchesSelector(n.labels, selector) && n.labels.role !== "dev");
}

function targets(stage: SuiteStageDef, roster: RosterNode[], named: string[]): RosterNode[] {
  const selector = (stage.kind === "single" ? stage.node : stage.nodes) ?? {};
  const chosen = candidates(stage, roster, named);
  const want = named.length ? `named ${named.join(", ")}` : `matching ${formatLabels(selector) || "any label"}`;
  if (!chosen.length) {
    const known = roster.length ? roster.map(describe).join(", ") : "none registered yet";
    throw new FleetgateError("conflict", `stage ${stage.id}: no node ${want}; nodes: ${known}`);
  }
  if (stage.kind === "single" && chosen.length > 1) {
    const online = chosen.filter((n) => n.online);
    if (online.length === 1) return online;
    throw new FleetgateError("conflict", `stage ${stage.id} runs on one node, but ${chosen.length} nodes are ${want}: ${chosen.map((n) => n.name).join(", ")}; pick one with --node`);
  }
  return chosen;
}

export function resolveRun(plan: Plan, req: RunRequest, roster: RosterNode[], runId: string): ResolvedRun {
  for (const n of req.nodeNames) {
    if (!roster.some((r) => r.name === n)) throw new FleetgateError("bad_input", `--node ${n}: no such node; see: coord nodes`);
  }
  const stages: PlannedStage[] = [];
  const tasks: TaskSpec[] = [];
  const notes: string[] = [];
  for (const stage of selectStages(plan, req.stages)) {
    if (!isSuiteStage(stage)) {
      throw new FleetgateError("bad_input", `stage ${stage.id} is a ${stage.kind} stage; this coordinator runs single and fleet stages only`);
    }
    const nodes = targets(stage, roster, req.nodeNames);
    const iterations = req.iterations > 0 ? req.iterations : (stage.iterations ?? 1);
    const parallel = stage.kind === "fleet" ? (stage.parallel ?? nodes.length) : 1;
    stages.push({ id: stage.id, parallel });
    notes.push(`stage ${stage.id} (${stage.kind}, ${iterations}×): ${nodes.map(describe).join(", ")}`);
    for (const n of nodes) {
      for (let i = 1; i <= iterations; i++) {
        tasks.push({ id: `${runId}/${stage.id}/${n.name}/${i}`, stageId: stage.id, node: n.name, iteration: i, suitePath: stage.suite, allowDestructive: stage.allow_destructive ?? false });
      }
    }
  }
  return { stages, tasks, notes };
}
