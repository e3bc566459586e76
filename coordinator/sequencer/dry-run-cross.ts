// Pure: a cross stage as it would run — each role bound to a node of its own, then the steps in
// order, a parallel group as one step whose members start together.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { PlannedStepSchema, type PlannedStep, type ResolvedStageSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import type { StageDef } from "../../shared/model/plan.js";
import { resolveCheck, type CheckDef } from "../../shared/model/suite.js";
import type { RosterNode } from "./node-choice.js";
import { plannedCheck } from "./planned-checks.js";
import { nodeSelection } from "./planned-nodes.js";
import { bindRoles, type RoleBinding } from "./role-binding.js";

type CrossStageDef = Extract<StageDef, { kind: "cross" }>;
type StepDef = CrossStageDef["steps"][number];

interface StepContext {
  stageId: string;
  bound: Map<string, RoleBinding>;
  allowDestructive: boolean;
}

/** `label` names a step the plan left unnamed by its place: "3", or "both-see-contact.1" in a group. */
function plannedStep(step: StepDef, label: string, ctx: StepContext): PlannedStep {
  const id = step.id ?? label;
  if (step.parallel) {
    const members = step.parallel as StepDef[];
    return create(PlannedStepSchema, { id, parallel: members.map((s, i) => plannedStep(s, `${id}.${i + 1}`, ctx)) });
  }
  if (step.fault) return plannedFault(step.fault, id, ctx);
  const role = step.on ?? "";
  const binding = ctx.bound.get(role);
  if (!binding) {
    throw new FleetgateError("bad_input", `stage ${ctx.stageId} step ${id}: on: ${role} is not one of the stage's roles (${[...ctx.bound.keys()].join(", ")})`);
  }
  const check = plannedCheck(resolveCheck({ ...step, id } as CheckDef, false), ctx.allowDestructive);
  return create(PlannedStepSchema, { id, role, node: binding.node.name, check });
}

function plannedFault(fault: NonNullable<StepDef["fault"]>, id: string, ctx: StepContext): PlannedStep {
  const who = (role: string) => `${role} (${ctx.bound.get(role)?.node.name ?? "?"})`;
  const [a, b] = fault.partition ?? [];
  const role = a ?? fault.kill_agent ?? "";
  const observes = a && b ? `partition ${who(a)} from ${who(b)} for ${fault.for}` : `kill the agent of ${who(role)}`;
  return create(PlannedStepSchema, { id, role, node: ctx.bound.get(role)?.node.name ?? "", check: { id, kind: "fault", observes } });
}

export function crossStageParts(stage: CrossStageDef, roster: RosterNode[], named: string[], pins: Record<string, string> = {}): MessageInitShape<typeof ResolvedStageSchema> {
  const { bindings, nodes } = bindRoles(stage.id, stage.roles, roster, named, pins);
  const allowDestructive = stage.allow_destructive ?? false;
  const ctx: StepContext = { stageId: stage.id, bound: new Map(bindings.map((b) => [b.role, b])), allowDestructive };
  return {
    allowDestructive,
    nodes: nodeSelection(nodes),
    roles: bindings.map((b) => ({ role: b.role, selector: b.selector, node: b.node.name, online: b.node.online })),
    steps: stage.steps.map((s, i) => plannedStep(s, String(i + 1), ctx)),
  };
}
