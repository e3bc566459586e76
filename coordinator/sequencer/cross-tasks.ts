// Pure: the tasks of a cross stage — each role bound to a node of its own, then one task per step,
// a parallel group's steps sharing one group, each with its generated one-check suite or fault.
import { parseDuration } from "../../shared/durations.js";
import { taskLabel } from "../../shared/model/task-names.js";
import { bindRoles } from "./role-binding.js";
import type { CrossStageDef, CrossStageLayout, FaultSpec } from "./run-types.js";
import { plannedStage } from "./stage-shape.js";
import { oneCheckSuite, type StageBuild } from "./stage-tasks.js";

type StepDef = CrossStageDef["steps"][number];

// A cross stage is one scenario: it runs once, whatever --iterations says.
const CROSS_ITERATION = 1;

/** A partition runs on the first role's node, against the second's; kill_agent on its role's node. */
function faultSpec(fault: NonNullable<StepDef["fault"]>, nodeOf: Map<string, string>): FaultSpec {
  if (fault.partition) {
    const peerRole = fault.partition[1] as string;
    return { partition: { peerRole, peerNode: nodeOf.get(peerRole) ?? "", forMs: parseDuration(fault.for ?? "0s") } };
  }
  return { killAgent: true };
}

export function buildCrossStage(stage: CrossStageDef, b: StageBuild): CrossStageLayout {
  const pins = Object.fromEntries(Object.entries(b.req.bindings ?? {}).filter(([role]) => role in stage.roles));
  const { bindings, nodes } = bindRoles(stage.id, stage.roles, b.roster, b.req.nodeNames, pins);
  const nodeOf = new Map(bindings.map((x) => [x.role, x.node.name]));
  b.out.stages.push(plannedStage(stage, bindings.length));
  b.out.bindings.push(...bindings.map((x) => ({ stageId: stage.id, role: x.role, node: x.node.name })));
  b.out.notes.push(`stage ${stage.id} (cross): ${bindings.map((x) => `${x.role}=${x.node.name}`).join(", ")}`);
  const addStep = (step: StepDef, stepId: string, group: number) => {
    const fault = step.fault ? faultSpec(step.fault, nodeOf) : undefined;
    const role = step.on ?? step.fault?.partition?.[0] ?? step.fault?.kill_agent ?? "";
    const node = nodeOf.get(role) ?? "";
    const spec = fault ? undefined : oneCheckSuite(b, stage.id, stepId, step as Record<string, unknown>, ["id", "on", "parallel"]);
    b.out.tasks.push({
      id: `${b.runId}/${stage.id}/${stepId}`,
      stageId: stage.id,
      stageKind: "cross",
      node,
      iteration: CROSS_ITERATION,
      group,
      label: taskLabel({ stageId: stage.id, stepId, role, nodeName: node, iteration: CROSS_ITERATION }),
      suitePath: "",
      allowDestructive: stage.allow_destructive ?? false,
      stepId,
      role,
      specYaml: spec?.yaml ?? "",
      probesYaml: "",
      // A step is the scenario: --quick, --tags and --only do not drop it.
      onlyTags: [],
      onlyChecks: [],
      fault,
      suite: spec?.suite,
    });
  };
  const groups = stage.steps.map((step, i) => {
    // An unnamed step is named by its place: "3", or "3.1" within a parallel group.
    const id = step.id ?? String(i + 1);
    if (step.parallel) (step.parallel as StepDef[]).forEach((m, j) => addStep(m, m.id ?? `${id}.${j + 1}`, i));
    else addStep(step, id, i);
    return { id, parallel: !!step.parallel };
  });
  return { kind: "cross", stage, nodes, roles: bindings, groups, iterations: CROSS_ITERATION };
}
