// Pure: the tasks of a matrix stage — one per leg, on the leg's one node, with the probes it
// requires; legs skipped with --skip, and opt-in legs not asked for with --with, left out and listed.
import { taskLabel } from "../../shared/model/task-names.js";
import { chooseTargets, type NodeChoice, type RosterNode } from "./node-choice.js";
import type { LegLayout, MatrixStageDef, MatrixStageLayout } from "./run-types.js";
import { plannedStage } from "./stage-shape.js";
import { findSuite } from "./stage-suites.js";
import { generatedSuite, oneCheckSuite, type StageBuild } from "./stage-tasks.js";

type LegDef = MatrixStageDef["legs"][number];

// A leg runs once, whatever --iterations says; its suite is a test run, not a lifecycle drill.
const LEG_ITERATION = 1;

function legSkip(leg: LegDef, b: StageBuild, skipped: Map<string, string>): LegLayout | undefined {
  const reason = skipped.get(leg.id);
  if (reason !== undefined) return { id: leg.id, skip: { target: leg.id, reason, source: "--skip" } };
  // Like PLASMA_E2E=1 in seed 000: an expensive leg runs only when someone asks for it.
  if (leg.opt_in && !(b.req.withLegs ?? []).includes(leg.id)) {
    const skip = { target: leg.id, reason: `opt-in leg; run it with --with ${leg.id}`, source: "opt-in" };
    b.out.skips.push(skip);
    return { id: leg.id, skip };
  }
  return undefined;
}

/** `skipped`: --skip target → reason. */
export function buildMatrixStage(stage: MatrixStageDef, b: StageBuild, skipped: Map<string, string>): MatrixStageLayout {
  const skips = stage.legs.map((leg) => legSkip(leg, b, skipped));
  const running = stage.legs
    .filter((_, i) => !skips[i])
    .map((leg) => ({ leg, nodes: chooseTargets(`stage ${stage.id} leg ${leg.id}`, leg.on, "one", b.roster, b.req.nodeNames) }));
  const nodeOf = (nodes: NodeChoice) => (nodes.chosen[0] as RosterNode).name;
  if (running.length) {
    b.out.stages.push(plannedStage(stage, new Set(running.map((r) => nodeOf(r.nodes))).size));
    b.out.notes.push(`stage ${stage.id} (matrix): ${running.map((r) => `${r.leg.id} on ${nodeOf(r.nodes)}`).join(", ")}`);
  }
  running.forEach(({ leg, nodes }, i) => {
    const node = nodeOf(nodes);
    const probeChecks = (leg.requires ?? []).map((name) => ({ id: `probe.${name}`, ...stage.probes?.[name] }));
    const probes = probeChecks.length ? generatedSuite(b, stage.id, "probes", probeChecks) : undefined;
    const inline = leg.suite ? undefined : oneCheckSuite(b, stage.id, leg.id, leg as Record<string, unknown>, ["id", "on", "suite", "requires", "opt_in"]);
    b.out.tasks.push({
      id: `${b.runId}/${stage.id}/${leg.id}`,
      stageId: stage.id,
      stageKind: "matrix",
      node,
      iteration: LEG_ITERATION,
      // Legs run one after another, in plan order; one failing does not stop the others.
      group: i,
      label: taskLabel({ stageId: stage.id, stepId: leg.id, role: "", nodeName: node, iteration: LEG_ITERATION }),
      suitePath: leg.suite ?? "",
      allowDestructive: false,
      stepId: leg.id,
      role: "",
      specYaml: inline?.yaml ?? "",
      probesYaml: probes?.yaml ?? "",
      onlyTags: b.onlyTags,
      onlyChecks: b.onlyChecks,
      suite: inline?.suite ?? findSuite(b.suites, leg.suite ?? ""),
      probes: probes?.suite,
    });
  });
  const legs = stage.legs.map((leg, i): LegLayout => skips[i] ?? { id: leg.id, nodes: running.find((r) => r.leg === leg)?.nodes as NodeChoice });
  return { kind: "matrix", stage, legs, iterations: LEG_ITERATION };
}
