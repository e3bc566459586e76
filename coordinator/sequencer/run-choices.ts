// Pure: the user's choices checked against the plan before anything is laid out — --skip targets
// and reasons, --with legs, --bind roles and nodes, and what --quick keeps.
import { FleetgateError } from "../../shared/errors.js";
import type { Plan, StageDef } from "../../shared/model/plan.js";
import type { RosterNode } from "./node-choice.js";

/** --skip targets: stage ids, or leg ids of the matrix stages; each needs a reason. */
export function checkSkips(plan: Plan, skips: { target: string; reason: string }[]): void {
  const stages = plan.stages.map((s) => s.id);
  const legs = plan.stages.flatMap((s) => (s.kind === "matrix" ? s.legs.map((l) => l.id) : []));
  for (const s of skips) {
    if (!s.reason.trim()) throw new FleetgateError("bad_input", `--skip ${s.target} needs --reason TEXT: every skip is listed with its reason`);
    if (!stages.includes(s.target) && !legs.includes(s.target)) {
      throw new FleetgateError("bad_input", `--skip ${s.target}: no such stage or matrix leg in plan ${plan.name}; stages: ${stages.join(", ")}${legs.length ? `; legs: ${legs.join(", ")}` : ""}`);
    }
  }
}

export function checkOptIns(stages: StageDef[], withLegs: string[]): void {
  const optIn = stages.flatMap((s) => (s.kind === "matrix" ? s.legs.filter((l) => l.opt_in).map((l) => l.id) : []));
  for (const leg of withLegs) {
    if (!optIn.includes(leg)) throw new FleetgateError("bad_input", `--with ${leg}: not an opt-in leg of the stages asked for${optIn.length ? `; opt-in legs: ${optIn.join(", ")}` : ""}`);
  }
}

export function checkPins(stages: StageDef[], bindings: Record<string, string>, roster: RosterNode[]): void {
  const roles = new Set(stages.flatMap((s) => (s.kind === "cross" ? Object.keys(s.roles) : [])));
  for (const [role, node] of Object.entries(bindings)) {
    if (!roles.has(role)) throw new FleetgateError("bad_input", `--bind ${role}=${node}: no cross stage asked for has role ${role}${roles.size ? `; roles: ${[...roles].join(", ")}` : ""}`);
    if (!roster.some((n) => n.name === node)) throw new FleetgateError("bad_input", `--bind ${role}=${node}: no such node; see: coord nodes`);
  }
}

/** --quick: the plan's quick stages among those asked for (default: all asked for). */
export function quickStages(plan: Plan, stages: StageDef[]): StageDef[] {
  const only = plan.quick?.stages;
  if (!only) return stages;
  const kept = stages.filter((s) => only.includes(s.id));
  if (!kept.length) throw new FleetgateError("bad_input", `--quick: none of the stages asked for is in the plan's quick: stages (${only.join(", ")})`);
  return kept;
}
