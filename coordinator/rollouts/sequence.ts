// Pure: `coord rollout --dry-run` — the whole sequence a rollout would run, in order, with each
// step's exact argv (or what it observes), as the agent would run it; nothing is executed (DESIGN
// rule 4). Every node runs the same steps, so they are shown once, after the batches.
import type { PlannedCheck } from "../../shared/gen/fleetgate/v1/control_pb.js";
import type { Change } from "../../shared/model/change.js";
import type { Plan } from "../../shared/model/plan.js";
import { parseSuite } from "../../shared/model/suite.js";
import { argvText } from "../cli/argv-text.js";
import { plannedSuiteChecks } from "../sequencer/planned-checks.js";
import type { Phase, RolloutState } from "./core.js";
import { holdRuleKey } from "./holds.js";
import { gateStages, stepsOf } from "./phase-runs.js";

const WIDTH = 18;

function checkLine(c: PlannedCheck): string {
  const what = c.argv.length ? `$ ${argvText(c.argv)}` : `observes ${c.observes}`;
  const caps = c.captures.length ? `   captures ${c.captures.join(", ")}` : "";
  return `${c.id}  ${what}${c.runAs ? ` (as ${c.runAs})` : ""}${caps}`;
}

/** The step lines of a step phase: each step as the agent would run it. */
function stepLines(change: Change, phase: Phase): string[] {
  const steps = stepsOf(change, phase) ?? [];
  if (!steps.length) return ["(no steps: nothing to run)"];
  // Parsed as a suite of its own, so the argv shown is the one the planner derives for a check.
  const suite = parseSuite(JSON.stringify({ suite: `${change.name}.${phase}`, checks: steps }), `${change.file}#${phase}`);
  return plannedSuiteChecks(suite, { allowDestructive: true, onlyTags: [], onlyChecks: [] }).map(checkLine);
}

function gateLines(change: Change, plan: Plan, suites: Record<string, string>, quick: boolean): string[] {
  return gateStages(change, plan).flatMap((stage) => {
    const iterations = change.gate.iterations ?? stage.iterations ?? 1;
    const head = `stage ${stage.id}: suite ${stage.suite}, ${iterations} iteration${iterations === 1 ? "" : "s"}, ${quick ? "quick mode (never advances known-good)" : "full mode"}`;
    const text = suites[stage.suite];
    if (text === undefined) return [head];
    const checks = plannedSuiteChecks(parseSuite(text, stage.suite), { allowDestructive: stage.allow_destructive ?? false, onlyTags: quick ? (plan.quick?.tags ?? ["quick"]) : [], onlyChecks: [] });
    return [head, ...checks.map((c) => `  ${checkLine(c)}${c.skipReason ? `  SKIPPED: ${c.skipReason}` : ""}`)];
  });
}

/** The gate suites' preconditions, run before anything changes: a node not ready is left as it is. */
function preconditionLines(change: Change, plan: Plan, suites: Record<string, string>): string[] {
  const lines = gateStages(change, plan).flatMap((stage) => {
    const text = suites[stage.suite];
    if (text === undefined) return [];
    const suite = parseSuite(text, stage.suite);
    return plannedSuiteChecks(suite, { allowDestructive: false, onlyTags: [], onlyChecks: [] })
      .filter((c) => c.precondition)
      .map((c) => `${stage.suite}: ${checkLine(c)}`);
  });
  return lines.length ? [...lines, "one not holding: the node is not ready and is not changed"] : ["(the gate suites have no preconditions)"];
}

function holdLines(change: Change): string[] {
  if (!change.hold.length) return ["(no hold rules)"];
  return change.hold.map((rule) =>
    "major_bump" in rule
      ? `${holdRuleKey(rule)}: held for approval when ${change.version} has a greater major than the node's ${rule.major_bump}`
      : `${holdRuleKey(rule)}: held for approval when release.${rule.flag} is true (it is ${String(change.release[rule.flag] ?? "not set")})`,
  );
}

export function dryRunSequence(change: Change, plan: Plan, state: RolloutState, quick: boolean, suites: Record<string, string> = {}): string[] {
  const batches = new Map<number, string[]>();
  for (const n of state.nodes) batches.set(n.batch, [...(batches.get(n.batch) ?? []), n.name]);
  const section = (label: string, lines: string[]) => lines.map((l, i) => `  ${(i === 0 ? label : "").padEnd(WIDTH)}${l}`);
  return [
    `change ${change.name}${change.version ? ` (version ${change.version})` : ""} on ${state.nodes.length} node${state.nodes.length === 1 ? "" : "s"}, batch by batch (the next batch starts when this one is changed):`,
    ...[...batches].map(([b, names]) => `  batch ${b}: ${names.join(", ")}`),
    "each node, one phase at a time:",
    ...section(" 1 facts", stepLines(change, "facts")),
    ...section(" 2 hold", holdLines(change)),
    ...section(" 3 preconditions", preconditionLines(change, plan, suites)),
    ...section(" 4 snapshot", stepLines(change, "snapshot")),
    ...section(" 5 apply", stepLines(change, "apply")),
    ...section(" 6 gate", gateLines(change, plan, suites, quick)),
    ...section(" 7 facts_after", [quick ? "the facts again; a quick gate never advances known-good" : "the facts again → the node's known-good facts"]),
    "if apply or the gate is red:",
    ...section(" 8 rollback", stepLines(change, "rollback")),
    ...section(" 9 proof", ["the gate again, on the restored version"]),
    ...section("10 facts", ["the facts again: what the node runs after the rollback"]),
    "then the rollout stops: nodes not reached are untouched. A node lost after apply began is in unknown state (never assumed rolled back), and the rollout stops.",
  ];
}
