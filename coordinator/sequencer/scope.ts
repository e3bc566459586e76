// Pure: how a run is narrower than its plan. A gate that passed with one iteration of five, or on
// one node of the fleet, proved less than the plan asks ("N of N must be green", seed archy), so
// every narrowing is recorded with the run and shown in every report; such a run is signable only
// when sign-off accepts each override by name, with a reason.
import { isSuiteStage, type Plan, type StageDef } from "../../shared/model/plan.js";
import { drainText, type RosterNode } from "./node-choice.js";
import type { Override, RunRequest } from "./run-types.js";
import { stageTargets } from "./stage-shape.js";

/** Override names a `--skip` makes; `--accept-skip TARGET` accepts them too (one decision, one name). */
export const skipOverride = (target: string): string => `skip:${target}`;

/** Narrowings that change what a stage verified, so the run cannot stand in for the stage's full run. */
export const NARROWS_STAGES = ["iterations", "nodes", "only", "tags", "drained"];

/** The nodes a stage would have run on with only `named` named (none: without --node), unless none can be chosen. */
function fullTargets(stage: StageDef, roster: RosterNode[], named: string[] = []): string[] | undefined {
  if (!isSuiteStage(stage)) return undefined;
  try {
    return stageTargets(stage, roster, named).chosen.map((n) => n.name);
  } catch {
    // A single stage whose selector matches two nodes needs --node: naming one is not narrowing.
    return undefined;
  }
}

/**
 * Drained nodes a fleet stage would have run on: the stage runs on the rest, and says whom it
 * left out. A drained node is never silently skipped into a GO: like a --node subset, this holds
 * the verdict INCOMPLETE until sign-off accepts the override "drained" by name with a reason.
 */
function drainedFromStage(stage: StageDef, roster: RosterNode[], named: string[], nodes: string[]): string[] {
  if (stage.kind !== "fleet" || !roster.some((n) => n.drained !== undefined)) return [];
  const full = fullTargets(stage, roster.map((n) => ({ ...n, drained: undefined })), named) ?? [];
  return roster.filter((n) => n.drained !== undefined && full.includes(n.name) && !nodes.includes(n.name)).map((n) => `${n.name} (${drainText(n)})`);
}

/**
 * Every way this run is narrower than `plan`: `ran` are the stages that got tasks, with the nodes
 * they run on. Stage selection itself (`coord run fleet`) is not an override: gating decides
 * whether the stages before it are green.
 */
export function runOverrides(plan: Plan, req: RunRequest, ran: { stage: StageDef; nodes: string[] }[], roster: RosterNode[], quickTags: string[]): Override[] {
  const out: Override[] = [];
  for (const { stage, nodes } of ran) {
    const planned = isSuiteStage(stage) ? (stage.iterations ?? 1) : 1;
    if (req.iterations > 0 && req.iterations < planned) out.push({ name: "iterations", detail: `iterations ${req.iterations} of ${planned} on ${stage.id}` });
    const full = req.nodeNames.length ? fullTargets(stage, roster) : undefined;
    if (full && nodes.length < full.length) out.push({ name: "nodes", detail: `nodes ${nodes.join(", ")} of ${full.join(", ")} on ${stage.id}` });
    const drained = drainedFromStage(stage, roster, req.nodeNames, nodes);
    if (drained.length) out.push({ name: "drained", detail: `drained ${drained.join(", ")} left out of ${stage.id}` });
  }
  if (req.onlyChecks?.length) out.push({ name: "only", detail: `only checks ${req.onlyChecks.join(", ")} (--only)` });
  if (req.tags?.length) out.push({ name: "tags", detail: `only checks tagged ${req.tags.join(", ")} (--tags)` });
  if (req.quick) out.push({ name: "quick", detail: `quick: only checks tagged ${quickTags.join(", ")}${plan.quick?.stages ? ` in stages ${plan.quick.stages.join(", ")}` : ""}` });
  for (const s of req.skips ?? []) out.push({ name: skipOverride(s.target), detail: `${s.target} skipped (--skip): ${s.reason}` });
  for (const leg of req.withLegs ?? []) out.push({ name: `with:${leg}`, detail: `opt-in leg ${leg} run (--with)` });
  return out;
}
