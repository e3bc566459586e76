// What `coord run --waivers` says on stderr before the run starts: each waiver already expired (it
// will be ignored and its check count as it is), each naming no check of the plan (a typo waives
// nothing), and each naming a precondition (never waived: a node that is not ready cannot be judged).
// Pure. The run's own record and reports say the same of the expired ones, judged at its start.
import type { Plan } from "../../shared/model/plan.js";
import type { Suite } from "../../shared/model/suite.js";
import { expiredWarning, markExpired, type Waiver } from "../../shared/model/waivers.js";

interface StepLike {
  id?: string;
  parallel?: StepLike[];
}

/** Check ids a run of the plan can report: the suites' checks, and the plan's own steps and legs. */
function checkIds(plan: Plan, suites: Suite[]): { checks: Set<string>; preconditions: Set<string> } {
  const checks = new Set(suites.flatMap((s) => s.checks.map((c) => c.id)));
  const steps = (list: StepLike[]): void => list.forEach((s) => (s.id && checks.add(s.id), s.parallel && steps(s.parallel)));
  for (const stage of plan.stages) {
    if (stage.kind === "cross") steps(stage.steps as StepLike[]);
    if (stage.kind === "matrix") for (const leg of stage.legs) checks.add(leg.id);
  }
  return { checks, preconditions: new Set(suites.flatMap((s) => s.preconditions.map((c) => c.id))) };
}

export function waiverWarnings(waivers: Waiver[], plan: Plan, suites: Suite[], nowMs: number): string[] {
  const { checks, preconditions } = checkIds(plan, suites);
  return markExpired(waivers, nowMs).flatMap((w) => {
    if (w.expired) return [expiredWarning(w)];
    if (checks.has(w.checkId)) return [];
    if (preconditions.has(w.checkId)) return [`waiver for ${w.checkId} (${w.source}) names a precondition: preconditions are never waived (a node that is not ready cannot be judged); it waives nothing`];
    return [`waiver for ${w.checkId} (${w.source}): plan ${plan.file} has no check ${w.checkId}; it waives nothing`];
  });
}
