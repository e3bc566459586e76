// Pure: the run that carries out one phase of one node, as a StartRunRequest of a generated plan,
// so every phase goes through the one path runs take (exactly-once results, lost nodes, evidence
// bundles). Step phases are a cross stage with one role bound to the node: steps run in order and
// the first that fails skips the rest. The gate and the rollback proof are the gate plan's stages
// named by the change, each as a fleet stage on this node alone.
import { posix } from "node:path";
import { create } from "@bufbuild/protobuf";
import { isSeq, parseDocument, stringify } from "yaml";
import { StartRunRequestSchema, type StartRolloutRequest, type StartRunRequest } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { fillCaptured, type Change, type ChangeStep, type StepPhase } from "../../shared/model/change.js";
import { DEFAULT_QUICK_TAGS, isSuiteStage, type Plan } from "../../shared/model/plan.js";
import { parseSuite } from "../../shared/model/suite.js";
import { plannedSuiteChecks } from "../sequencer/planned-checks.js";
import type { NodeState, Phase } from "./core.js";

/** The change's steps each phase runs; the gate phases run the plan's stages instead. */
export function stepsOf(change: Change, phase: Phase): ChangeStep[] | undefined {
  const from: Record<Phase, StepPhase | undefined> = { facts: "facts", preconditions: undefined, snapshot: "snapshot", apply: "apply", gate: undefined, facts_after: "facts", rollback: "rollback", proof: undefined, facts_rolled_back: "facts" };
  const source = from[phase];
  return source ? change[source] : undefined;
}

/** The gate stages, checked against the plan: each one is there and runs a suite on a node. */
export function gateStages(change: Change, plan: Plan): Extract<Plan["stages"][number], { suite: string }>[] {
  return change.gate.stages.map((id) => {
    const stage = plan.stages.find((s) => s.id === id);
    if (!stage) throw new FleetgateError("bad_input", `${change.file}: gate.stages names "${id}", which plan ${plan.file} does not have (stages: ${plan.stages.map((s) => s.id).join(", ")})`);
    if (!isSuiteStage(stage)) {
      throw new FleetgateError("bad_input", `${change.file}: gate stage "${id}" is a ${stage.kind} stage; a rollout gates one node at a time, so only single and fleet stages can judge it`);
    }
    return stage;
  });
}

/**
 * A gate that would run no check (every one left out by --quick's tags, or destructive in a stage
 * that does not allow it) judges nothing: it is refused before the rollout starts, rather than
 * rolling every node back for a skip (a skip is never a pass).
 */
export function emptyGateProblem(change: Change, plan: Plan, suites: Record<string, string>, quick: boolean): string | undefined {
  const tags = quick ? (plan.quick?.tags ?? DEFAULT_QUICK_TAGS) : [];
  for (const stage of gateStages(change, plan)) {
    const text = suites[stage.suite] ?? suites[posix.normalize(stage.suite)];
    if (text === undefined) continue;
    const checks = plannedSuiteChecks(parseSuite(text, stage.suite), { allowDestructive: stage.allow_destructive ?? false, onlyTags: tags, onlyChecks: [] }).filter((c) => !c.precondition);
    if (checks.some((c) => !c.skipReason)) continue;
    const why = quick ? `none of its checks is tagged ${tags.join(" or ")} (--quick)` : "every check is destructive and the stage does not set allow_destructive: true";
    return `${change.file}: gate stage ${stage.id} would run no check of ${stage.suite}: ${why}; a gate that judges nothing cannot keep a change${quick ? ": tag the checks that judge health, or leave out --quick" : ""}`;
  }
  return undefined;
}

/** Step phases generate a plan; the role is the phase's name, so `${snapshot.X}` works within the snapshot phase. */
function stepsPlan(change: Change, phase: Phase, steps: ChangeStep[], n: NodeState): string {
  const role = phase === "facts_after" || phase === "facts_rolled_back" ? "facts" : phase;
  // A phase's own references (a snapshot step using an earlier snapshot step's value) are the
  // cross stage's, filled on the node; only what earlier phases captured is filled in here.
  const earlier = { facts: role === "facts" ? {} : n.factsBefore, snapshot: role === "snapshot" || role === "facts" ? {} : n.snapshot };
  const filled = steps.map((s) => ({ ...fillCaptured(s, earlier), on: role }));
  return stringify({
    plan: `${change.name}.${phase}`,
    description: `rollout of change ${change.name}: ${phase} on ${n.name}`,
    stages: [{ id: phase, kind: "cross", roles: { [role]: {} }, steps: filled, allow_destructive: true }],
  });
}

function gatePlan(change: Change, plan: Plan): string {
  const stages = gateStages(change, plan).map((s) => ({
    id: s.id,
    kind: "fleet",
    ...(s.description ? { description: s.description } : {}),
    suite: s.suite,
    iterations: change.gate.iterations ?? s.iterations ?? 1,
    ...(s.allow_destructive ? { allow_destructive: true } : {}),
    ...(s.kind === "fleet" && s.not_ready ? { not_ready: s.not_ready } : {}),
  }));
  return stringify({ plan: `${plan.name}.gate`, description: `the gate of plan ${plan.name} on one node, judging change ${change.name}`, ...(plan.quick?.tags ? { quick: { tags: plan.quick.tags } } : {}), stages });
}

/**
 * A gate suite cut down to its preconditions, run before the change: a node that is not ready (a
 * bitcoin node mid-IBD) is not changed at all. One `true` check follows them, so the suite runs as
 * suites do — a failed precondition makes the task not ready, with its hint — and passes when all
 * hold. Undefined for a suite with no preconditions.
 */
export function preconditionsSuite(text: string): string | undefined {
  const doc = parseDocument(text);
  const pre = doc.get("preconditions");
  if (!isSeq(pre) || !pre.items.length) return undefined;
  const taken = new Set(pre.items.map((item) => String((item as { get?: (k: string) => unknown }).get?.("id") ?? "")));
  let id = "ready";
  for (let i = 2; taken.has(id); i++) id = `ready-${i}`;
  doc.set("checks", [{ id, command: { argv: ["true"] }, hint: "every precondition of the gate holds" }]);
  return doc.toString();
}

/** The run for `phase` on node `n`; undefined when the phase has nothing to run (no facts: steps, no preconditions). */
export function phaseRunRequest(req: StartRolloutRequest, change: Change, plan: Plan, phase: Phase, n: NodeState): StartRunRequest | undefined {
  const steps = stepsOf(change, phase);
  if (steps) {
    if (!steps.length) return undefined;
    return create(StartRunRequestSchema, {
      planPath: `${req.changePath}#${phase}`,
      planYaml: stepsPlan(change, phase, steps, n),
      nodeNames: [n.name],
      bindings: { [phase === "facts_after" || phase === "facts_rolled_back" ? "facts" : phase]: n.name },
    });
  }
  const stages = gateStages(change, plan);
  const used = new Set(stages.map((s) => posix.normalize(s.suite)));
  let suites = Object.fromEntries(Object.entries(req.suites).filter(([path]) => used.has(posix.normalize(path))));
  let planYaml = gatePlan(change, plan);
  if (phase === "preconditions") {
    const cut = Object.entries(suites).flatMap(([path, text]) => {
      const only = preconditionsSuite(text);
      return only ? [[path, only] as const] : [];
    });
    if (!cut.length) return undefined;
    suites = Object.fromEntries(cut);
    const keep = new Set(cut.map(([path]) => posix.normalize(path)));
    planYaml = gatePlan({ ...change, gate: { stages: stages.filter((s) => keep.has(posix.normalize(s.suite))).map((s) => s.id), iterations: 1 } }, plan);
  }
  return create(StartRunRequestSchema, {
    planPath: `${req.planPath}#${phase === "preconditions" ? "preconditions" : "gate"}`,
    planYaml,
    suites,
    suiteFiles: Object.fromEntries(Object.entries(req.suiteFiles).filter(([path]) => path in suites)),
    nodeNames: [n.name],
    // Preconditions always run; a quick gate is the gate's business.
    quick: phase === "preconditions" ? false : req.quick,
    vars: req.vars,
  });
}
