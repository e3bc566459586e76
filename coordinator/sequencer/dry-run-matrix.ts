// Pure: a matrix stage as it would run — its probes, then each leg on its one node, with the
// probes it requires, and opt-in legs marked as skipped unless asked for by name.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { PlannedLegSchema, type PlannedLeg, type ResolvedStageSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import type { StageDef } from "../../shared/model/plan.js";
import { resolveCheck, type CheckDef, type Suite } from "../../shared/model/suite.js";
import { chooseTargets, type RosterNode } from "./node-choice.js";
import { findSuite, plannedCheck, plannedSuiteChecks } from "./planned-checks.js";
import { nodeSelection } from "./planned-nodes.js";

type MatrixStageDef = Extract<StageDef, { kind: "matrix" }>;
type LegDef = MatrixStageDef["legs"][number];

// A matrix stage has no allow_destructive: its legs are test suites, not lifecycle drills.
const ALLOW_DESTRUCTIVE = false;

/** Why the leg would not run: --skip, or opt-in and not asked for with --with. */
function legSkipReason(leg: LegDef, choices: LegChoices): string {
  const skip = choices.skips?.find((s) => s.target === leg.id);
  if (skip) return `--skip: ${skip.reason}`;
  // Like PLASMA_E2E=1 in seed 000: an expensive leg runs only when someone asks for it.
  if (leg.opt_in && !(choices.withLegs ?? []).includes(leg.id)) return `skipped unless --with ${leg.id}`;
  return "";
}

type LegChoices = { skips?: { target: string; reason: string }[]; withLegs?: string[] };

function plannedLeg(stageId: string, leg: LegDef, suites: Record<string, Suite>, roster: RosterNode[], named: string[], choices: LegChoices): PlannedLeg {
  const nodes = chooseTargets(`stage ${stageId} leg ${leg.id}`, leg.on, "one", roster, named);
  const suite = leg.suite !== undefined ? findSuite(suites, leg.suite) : undefined;
  const checks = suite ? plannedSuiteChecks(suite, ALLOW_DESTRUCTIVE) : [plannedCheck(resolveCheck(leg as CheckDef, false), ALLOW_DESTRUCTIVE)];
  return create(PlannedLegSchema, {
    id: leg.id,
    selector: leg.on,
    nodes: nodeSelection(nodes),
    requires: leg.requires ?? [],
    optIn: leg.opt_in ?? false,
    skipReason: legSkipReason(leg, choices),
    suitePath: leg.suite ?? "",
    suiteName: suite?.name ?? "",
    checks,
  });
}

export function matrixStageParts(
  stage: MatrixStageDef,
  suites: Record<string, Suite>,
  roster: RosterNode[],
  named: string[],
  choices: LegChoices = {},
): MessageInitShape<typeof ResolvedStageSchema> {
  return {
    allowDestructive: ALLOW_DESTRUCTIVE,
    // A probe gates its leg as a precondition gates a node: it always runs, first, on the leg's node.
    probes: Object.entries(stage.probes ?? {}).map(([name, probe]) => plannedCheck(resolveCheck({ ...probe, id: name } as CheckDef, true), true)),
    legs: stage.legs.map((leg) => plannedLeg(stage.id, leg, suites, roster, named, choices)),
  };
}
