// Pure: a cross stage of a resolved run as the dry run shows it — each role and its node, then
// the steps in order, a parallel group as one step whose members start together.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { PlannedStepSchema, type PlannedStep, type ResolvedStageSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { formatDuration } from "../../shared/durations.js";
import type { ResolvedCheck } from "../../shared/model/suite.js";
import { plannedCheck } from "./planned-checks.js";
import { nodeSelection } from "./planned-nodes.js";
import type { CrossStageLayout, FaultSpec, TaskSpec } from "./run-types.js";

function faultObserves(t: TaskSpec, fault: FaultSpec): string {
  const who = `${t.role} (${t.node})`;
  if ("partition" in fault) return `partition ${who} from ${fault.partition.peerRole} (${fault.partition.peerNode}) for ${formatDuration(fault.partition.forMs)}`;
  return `kill the agent of ${who}`;
}

function stepView(t: TaskSpec): PlannedStep {
  // A step's suite is the one check generated from it; a fault step has none.
  const check = t.fault
    ? { id: t.stepId, kind: "fault", observes: faultObserves(t, t.fault) }
    : plannedCheck(t.suite?.checks[0] as ResolvedCheck, t, t.suite?.vars);
  return create(PlannedStepSchema, { id: t.stepId, role: t.role, node: t.node, check });
}

export function crossStageParts(layout: CrossStageLayout, tasks: TaskSpec[]): MessageInitShape<typeof ResolvedStageSchema> {
  const steps = layout.groups.map((g, i) => {
    const members = tasks.filter((t) => t.group === i).map(stepView);
    return g.parallel ? create(PlannedStepSchema, { id: g.id, parallel: members }) : (members[0] as PlannedStep);
  });
  return {
    allowDestructive: tasks[0]?.allowDestructive ?? false,
    nodes: nodeSelection(layout.nodes),
    roles: layout.roles.map((b) => ({ role: b.role, selector: b.selector, node: b.node.name, online: b.node.online })),
    steps,
  };
}
