// Pure: the tasks of one stage — per node and iteration for single and fleet stages, per step
// (grouped, with generated one-check suites, captures and faults) for cross stages, per leg (with
// probes; opt-in legs left out and listed) for matrix stages.
import { stringify } from "yaml";
import { parseDuration } from "../../shared/durations.js";
import type { StageDef, SuiteStageDef } from "../../shared/model/plan.js";
import type { FaultSpec } from "../store/runs.js";
import { chooseTargets, describeNode, type RosterNode } from "./node-choice.js";
import type { ResolvedRun, RunRequest } from "./plan-run.js";
import { bindRoles } from "./role-binding.js";
import { plannedStage, stageIterations, stageTargets, taskLabel } from "./stage-shape.js";

/** A one-check suite document for a cross step or an inline matrix leg; the agent parses it. */
function oneCheckSuite(name: string, checkId: string, def: Record<string, unknown>, drop: string[]): string {
  const check = Object.fromEntries(Object.entries(def).filter(([k]) => !drop.includes(k)));
  return stringify({ suite: name, checks: [{ id: checkId, ...check }] });
}

type CrossStageDef = Extract<StageDef, { kind: "cross" }>;
type MatrixStageDef = Extract<StageDef, { kind: "matrix" }>;
type StepDef = CrossStageDef["steps"][number];

export interface StageBuild {
  runId: string;
  req: RunRequest;
  roster: RosterNode[];
  onlyTags: string[];
  onlyChecks: string[];
  out: ResolvedRun;
}

export function buildSuiteStage(stage: SuiteStageDef, b: StageBuild): void {
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
        label: taskLabel({ stageKind: stage.kind, stepId: "", role: "", node: n.name, iteration: i }),
        suitePath: stage.suite,
        allowDestructive: stage.allow_destructive ?? false,
        stepId: "",
        role: "",
        specYaml: "",
        probesYaml: "",
        onlyTags: b.onlyTags,
        onlyChecks: b.onlyChecks,
      });
    }
  }
}

export function buildCrossStage(stage: CrossStageDef, b: StageBuild): void {
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
      label: taskLabel({ stageKind: "cross", stepId, role, node, iteration: 1 }),
      suitePath: "",
      allowDestructive: stage.allow_destructive ?? false,
      stepId,
      role,
      specYaml: fault ? "" : oneCheckSuite(`${stage.id}.${stepId}`, stepId, step as Record<string, unknown>, ["id", "on", "parallel"]),
      probesYaml: "",
      // A step is the scenario: --quick does not drop it.
      onlyTags: [],
      onlyChecks: [],
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

export function buildMatrixStage(stage: MatrixStageDef, b: StageBuild, skipped: Set<string>): void {
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
      label: taskLabel({ stageKind: "matrix", stepId: leg.id, role: "", node, iteration: 1 }),
      suitePath: leg.suite ?? "",
      allowDestructive: false,
      stepId: leg.id,
      role: "",
      specYaml: leg.suite ? "" : oneCheckSuite(`${stage.id}.${leg.id}`, leg.id, leg as Record<string, unknown>, ["id", "on", "suite", "requires", "opt_in"]),
      probesYaml: probes.length ? stringify({ suite: `${stage.id}.probes`, checks: probes }) : "",
      onlyTags: b.onlyTags,
      onlyChecks: b.onlyChecks,
    });
  });
}
