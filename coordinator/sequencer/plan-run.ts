// Pure: turns a plan, the user's choices (stages, nodes, skips, opt-ins, quick, role pins) and the
// roster into stages and tasks. A real run and a dry run choose nodes with the same functions.
import { createHash } from "node:crypto";
import { stringify } from "yaml";
import { FleetgateError } from "../../shared/errors.js";
import { DEFAULT_QUICK_TAGS, isSuiteStage, type Plan, type StageDef, type SuiteStageDef } from "../../shared/model/plan.js";
import { parseDuration } from "../../shared/durations.js";
import type { FaultSpec, SkipRecord } from "../store/runs.js";
import type { PlannedStage, PlannedTask } from "./core.js";
import { checkNamedNodes, chooseTargets, describeNode, type NodeChoice, type RosterNode } from "./node-choice.js";
import { bindRoles } from "./role-binding.js";

export type { RosterNode };

export interface RunRequest {
  /** Stage ids or kinds; empty or ["all"] for every stage. */
  stages: string[];
  nodeNames: string[];
  /** Overrides each stage's iterations when > 0. */
  iterations: number;
  /** --skip TARGET --reason TEXT: stage ids or matrix leg ids. */
  skips?: { target: string; reason: string }[];
  /** --with LEG: opt-in matrix legs to run. */
  withLegs?: string[];
  quick?: boolean;
  /** --bind ROLE=NODE, for every cross stage with that role. */
  bindings?: Record<string, string>;
}

export interface TaskSpec extends PlannedTask {
  suitePath: string;
  allowDestructive: boolean;
  stageKind: StageDef["kind"];
  stepId: string;
  role: string;
  /** The suite text of a cross step or an inline matrix leg, generated from the plan. */
  specYaml: string;
  probesYaml: string;
  onlyTags: string[];
  fault?: FaultSpec;
}

export interface ResolvedRun {
  stages: PlannedStage[];
  tasks: TaskSpec[];
  /** Human notes: which nodes were chosen per stage and why others were not. */
  notes: string[];
  mode: "full" | "quick";
  skips: SkipRecord[];
  bindings: { stageId: string; role: string; node: string }[];
  /** Why the run can never be signed off, whatever its outcome. */
  unsignable: string[];
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

/** Nodes working at once: a fleet stage's `parallel`, else all its nodes; one for a single stage. */
export function stageParallel(stage: StageDef, nodeCount: number): number {
  if (stage.kind === "fleet") return stage.parallel ?? nodeCount;
  // Cross and matrix stages are paced by their groups; within a group everything starts at once.
  return stage.kind === "single" ? 1 : Math.max(nodeCount, 1);
}

export function plannedStage(stage: StageDef, nodeCount: number): PlannedStage {
  return { id: stage.id, parallel: stageParallel(stage, nodeCount), stopOnFailure: stage.kind === "cross" };
}

/** How messages name a task of a stage: "step fetch on peer (node-b)", "leg x on node-a", "node-a #2". */
export function taskLabel(t: { stageKind: string; stepId: string; role: string; node: string; iteration: number }): string {
  if (t.stageKind === "cross") return `step ${t.stepId} on ${t.role} (${t.node})`;
  if (t.stageKind === "matrix") return `leg ${t.stepId} on ${t.node}`;
  return `${t.node} #${t.iteration}`;
}

/** The nodes a single or fleet stage runs on, and why the rest of the roster does not. */
export function stageTargets(stage: SuiteStageDef, roster: RosterNode[], named: string[]): NodeChoice {
  const selector = (stage.kind === "single" ? stage.node : stage.nodes) ?? {};
  return chooseTargets(`stage ${stage.id}`, selector, stage.kind === "single" ? "one" : "all", roster, named);
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

/** A one-check suite document for a cross step or an inline matrix leg; the agent parses it. */
function oneCheckSuite(name: string, checkId: string, def: Record<string, unknown>, drop: string[]): string {
  const check = Object.fromEntries(Object.entries(def).filter(([k]) => !drop.includes(k)));
  return stringify({ suite: name, checks: [{ id: checkId, ...check }] });
}

type CrossStageDef = Extract<StageDef, { kind: "cross" }>;
type MatrixStageDef = Extract<StageDef, { kind: "matrix" }>;
type StepDef = CrossStageDef["steps"][number];

interface StageBuild {
  runId: string;
  req: RunRequest;
  roster: RosterNode[];
  onlyTags: string[];
  out: ResolvedRun;
}

function buildSuiteStage(stage: SuiteStageDef, b: StageBuild): void {
  const nodes = stageTargets(stage, b.roster, b.req.nodeNames).chosen;
  const iterations = stageIterations(stage, b.req);
  b.out.stages.push(plannedStage(stage, nodes.length));
  b.out.notes.push(`stage ${stage.id} (${stage.kind}, ${iterations}×): ${nodes.map(describeNode).join(", ")}`);
  for (const n of nodes) {
    for (let i = 1; i <= iterations; i++) {
      b.out.tasks.push({
        id: `${b.runId}/${stage.id}/${n.name}/${i}`,
        stageId: stage.id,
        stageKind: stage.kind,
        node: n.name,
        iteration: i,
        group: 0,
        label: `${n.name} #${i}`,
        suitePath: stage.suite,
        allowDestructive: stage.allow_destructive ?? false,
        stepId: "",
        role: "",
        specYaml: "",
        probesYaml: "",
        onlyTags: b.onlyTags,
      });
    }
  }
}

function buildCrossStage(stage: CrossStageDef, b: StageBuild): void {
  const pins = Object.fromEntries(Object.entries(b.req.bindings ?? {}).filter(([role]) => role in stage.roles));
  const { bindings } = bindRoles(stage.id, stage.roles, b.roster, b.req.nodeNames, pins);
  const nodeOf = new Map(bindings.map((x) => [x.role, x.node.name]));
  b.out.stages.push(plannedStage(stage, bindings.length));
  b.out.bindings.push(...bindings.map((x) => ({ stageId: stage.id, role: x.role, node: x.node.name })));
  b.out.notes.push(`stage ${stage.id} (cross): ${bindings.map((x) => `${x.role}=${x.node.name}`).join(", ")}`);
  const addStep = (step: StepDef, stepId: string, group: number) => {
    const fault = step.fault ? faultSpec(step.fault, nodeOf) : undefined;
    const role = step.on ?? step.fault?.partition?.[0] ?? step.fault?.kill_agent ?? "";
    const node = nodeOf.get(role) ?? "";
    b.out.tasks.push({
      id: `${b.runId}/${stage.id}/${stepId}`,
      stageId: stage.id,
      stageKind: "cross",
      node,
      iteration: 1,
      group,
      label: `step ${stepId} on ${role} (${node})`,
      suitePath: "",
      allowDestructive: stage.allow_destructive ?? false,
      stepId,
      role,
      specYaml: fault ? "" : oneCheckSuite(`${stage.id}.${stepId}`, stepId, step as Record<string, unknown>, ["id", "on", "parallel"]),
      probesYaml: "",
      // A step is the scenario: --quick does not drop it.
      onlyTags: [],
      fault,
    });
  };
  stage.steps.forEach((step, i) => {
    const id = step.id ?? String(i + 1);
    if (step.parallel) (step.parallel as StepDef[]).forEach((m, j) => addStep(m, m.id ?? `${id}.${j + 1}`, i));
    else addStep(step, id, i);
  });
}

/** A partition runs on the first role's node, against the second's; kill_agent on its role's node. */
function faultSpec(fault: NonNullable<StepDef["fault"]>, nodeOf: Map<string, string>): FaultSpec {
  if (fault.partition) {
    const peerRole = fault.partition[1] as string;
    return { partition: { peerRole, peerNode: nodeOf.get(peerRole) ?? "", forMs: parseDuration(fault.for ?? "0s") } };
  }
  return { killAgent: true };
}

function buildMatrixStage(stage: MatrixStageDef, b: StageBuild, skipped: Set<string>): void {
  const legs = stage.legs.filter((leg) => {
    if (skipped.has(leg.id)) return false;
    if (leg.opt_in && !(b.req.withLegs ?? []).includes(leg.id)) {
      b.out.skips.push({ target: leg.id, reason: `opt-in leg; run it with --with ${leg.id}`, source: "opt-in" });
      return false;
    }
    return true;
  });
  if (!legs.length) return;
  const targets = legs.map((leg) => chooseTargets(`stage ${stage.id} leg ${leg.id}`, leg.on, "one", b.roster, b.req.nodeNames).chosen[0] as RosterNode);
  b.out.stages.push(plannedStage(stage, new Set(targets.map((n) => n.name)).size));
  b.out.notes.push(`stage ${stage.id} (matrix): ${legs.map((l, i) => `${l.id} on ${targets[i]?.name}`).join(", ") || "no legs to run"}`);
  legs.forEach((leg, i) => {
    const node = targets[i]?.name ?? "";
    const probes = (leg.requires ?? []).map((name) => ({ id: `probe.${name}`, ...stage.probes?.[name] }));
    b.out.tasks.push({
      id: `${b.runId}/${stage.id}/${leg.id}`,
      stageId: stage.id,
      stageKind: "matrix",
      node,
      iteration: 1,
      // Legs run one after another, in plan order; one failing does not stop the others.
      group: i,
      label: `leg ${leg.id} on ${node}`,
      suitePath: leg.suite ?? "",
      allowDestructive: false,
      stepId: leg.id,
      role: "",
      specYaml: leg.suite ? "" : oneCheckSuite(`${stage.id}.${leg.id}`, leg.id, leg as Record<string, unknown>, ["id", "on", "suite", "requires", "opt_in"]),
      probesYaml: probes.length ? stringify({ suite: `${stage.id}.probes`, checks: probes }) : "",
      onlyTags: b.onlyTags,
    });
  });
}

/** --skip targets: stage ids, or leg ids of the matrix stages; each needs a reason. */
function checkSkips(plan: Plan, skips: { target: string; reason: string }[]): void {
  const stages = plan.stages.map((s) => s.id);
  const legs = plan.stages.flatMap((s) => (s.kind === "matrix" ? s.legs.map((l) => l.id) : []));
  for (const s of skips) {
    if (!s.reason.trim()) throw new FleetgateError("bad_input", `--skip ${s.target} needs --reason TEXT: every skip is listed with its reason`);
    if (!stages.includes(s.target) && !legs.includes(s.target)) {
      throw new FleetgateError("bad_input", `--skip ${s.target}: no such stage or matrix leg in plan ${plan.name}; stages: ${stages.join(", ")}${legs.length ? `; legs: ${legs.join(", ")}` : ""}`);
    }
  }
}

function checkOptIns(stages: StageDef[], withLegs: string[]): void {
  const optIn = stages.flatMap((s) => (s.kind === "matrix" ? s.legs.filter((l) => l.opt_in).map((l) => l.id) : []));
  for (const leg of withLegs) {
    if (!optIn.includes(leg)) throw new FleetgateError("bad_input", `--with ${leg}: not an opt-in leg of the stages asked for${optIn.length ? `; opt-in legs: ${optIn.join(", ")}` : ""}`);
  }
}

function checkPins(stages: StageDef[], bindings: Record<string, string>, roster: RosterNode[]): void {
  const roles = new Set(stages.flatMap((s) => (s.kind === "cross" ? Object.keys(s.roles) : [])));
  for (const [role, node] of Object.entries(bindings)) {
    if (!roles.has(role)) throw new FleetgateError("bad_input", `--bind ${role}=${node}: no cross stage asked for has role ${role}${roles.size ? `; roles: ${[...roles].join(", ")}` : ""}`);
    if (!roster.some((n) => n.name === node)) throw new FleetgateError("bad_input", `--bind ${role}=${node}: no such node; see: coord nodes`);
  }
}

/** --quick: the plan's quick stages among those asked for (default: all asked for). */
function quickStages(plan: Plan, stages: StageDef[]): StageDef[] {
  const only = plan.quick?.stages;
  if (!only) return stages;
  const kept = stages.filter((s) => only.includes(s.id));
  if (!kept.length) throw new FleetgateError("bad_input", `--quick: none of the stages asked for is in the plan's quick: stages (${only.join(", ")})`);
  return kept;
}

export function resolveRun(plan: Plan, req: RunRequest, roster: RosterNode[], runId: string): ResolvedRun {
  checkNamedNodes(req.nodeNames, roster);
  const skips = req.skips ?? [];
  checkSkips(plan, skips);
  let selected = selectStages(plan, req.stages);
  checkOptIns(selected, req.withLegs ?? []);
  checkPins(selected, req.bindings ?? {}, roster);
  if (req.quick) selected = quickStages(plan, selected);
  const skipped = new Set(skips.map((s) => s.target));
  const out: ResolvedRun = {
    stages: [],
    tasks: [],
    notes: [],
    mode: req.quick ? "quick" : "full",
    skips: skips.map((s) => ({ ...s, source: "--skip" })),
    bindings: [],
    unsignable: [],
  };
  const build: StageBuild = { runId, req, roster, onlyTags: req.quick ? (plan.quick?.tags ?? DEFAULT_QUICK_TAGS) : [], out };
  for (const stage of selected) {
    if (skipped.has(stage.id)) continue;
    if (isSuiteStage(stage)) buildSuiteStage(stage, build);
    else if (stage.kind === "cross") buildCrossStage(stage, build);
    else buildMatrixStage(stage, build, skipped);
  }
  if (!out.tasks.length) throw new FleetgateError("bad_input", "nothing left to run: every stage or leg asked for is skipped or opt-in");
  // A dev node (a laptop, a scratch VM) is a target only when named; its results prove nothing for a release.
  for (const name of new Set(out.tasks.map((t) => t.node))) {
    if (roster.find((n) => n.name === name)?.labels.role === "dev") out.unsignable.push(`node ${name} is role=dev (named with --node)`);
  }
  return out;
}
