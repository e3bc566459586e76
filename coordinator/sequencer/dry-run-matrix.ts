// Pure: a matrix stage of a resolved run as the dry run shows it — the probes its legs require,
// then each leg on its one node, or why the leg would not run (--skip, opt-in not asked for).
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { PlannedLegSchema, type PlannedCheck, type PlannedLeg, type ResolvedStageSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { plannedCheck, plannedSuiteChecks, skipText } from "./planned-checks.js";
import { nodeSelection } from "./planned-nodes.js";
import type { LegLayout, MatrixStageLayout, TaskSpec } from "./run-types.js";

// The agent runs probes as a suite of their own, nothing selected away and nothing destructive.
const PROBE_RUN = { allowDestructive: false, onlyTags: [], onlyChecks: [] };

/** The probes the legs' tasks carry, each once, in the order legs first require them. */
function probes(tasks: TaskSpec[]): PlannedCheck[] {
  const seen = new Map<string, PlannedCheck>();
  for (const t of tasks) for (const p of t.probes?.checks ?? []) if (!seen.has(p.id)) seen.set(p.id, plannedCheck(p, PROBE_RUN, t.probes?.vars));
  return [...seen.values()];
}

function legView(layout: MatrixStageLayout, leg: LegLayout, tasks: TaskSpec[]): PlannedLeg {
  const def = layout.stage.legs.find((l) => l.id === leg.id);
  const optIn = def?.opt_in ?? false;
  if (leg.skip) return create(PlannedLegSchema, { id: leg.id, selector: def?.on, optIn, skipReason: skipText(leg.skip) });
  const task = tasks.find((t) => t.stepId === leg.id) as TaskSpec;
  return create(PlannedLegSchema, {
    id: leg.id,
    selector: def?.on,
    nodes: nodeSelection(leg.nodes),
    requires: (task.probes?.checks ?? []).map((p) => p.id),
    optIn,
    suitePath: task.suitePath,
    suiteName: task.suitePath ? (task.suite?.name ?? "") : "",
    checks: task.suite ? plannedSuiteChecks(task.suite, task) : [],
  });
}

export function matrixStageParts(layout: MatrixStageLayout, tasks: TaskSpec[]): MessageInitShape<typeof ResolvedStageSchema> {
  return {
    allowDestructive: tasks[0]?.allowDestructive ?? false,
    probes: probes(tasks),
    legs: layout.legs.map((leg) => legView(layout, leg, tasks)),
  };
}
