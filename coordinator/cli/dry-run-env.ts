// What a dry run can say about `${env.X}`: the coordinator does not know a node's environment, so
// it names, for each node a stage runs on, the variables its checks need there; a node where one is
// unset reports those checks not ready (agent/engine/run-suite.ts), the others run. Pure.
import type { PlannedCheck, ResolvedStage } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { envNamesIn } from "../../shared/model/env-refs.js";

function texts(c: PlannedCheck): unknown[] {
  return [c.argv, c.cwd, c.env, c.observes, ...(c.followUp ? texts(c.followUp) : [])];
}

/** Env name → the ids of the checks (that would run) using it, names sorted. */
export function envNeeds(checks: PlannedCheck[]): [string, string[]][] {
  const needs = new Map<string, string[]>();
  for (const c of checks) {
    if (c.skipReason) continue;
    for (const name of envNamesIn(texts(c))) needs.set(name, [...(needs.get(name) ?? []), `${c.precondition ? "precondition " : ""}${c.id}`]);
  }
  return [...needs.entries()].sort(([a], [b]) => a.localeCompare(b));
}

/** One warning per node of a suite stage: `node-a: needs env ARCHY_PASSWORD (lifecycle-bats); …`. */
export function envWarningLines(s: ResolvedStage): string[] {
  const needs = envNeeds(s.checks);
  if (!needs.length) return [];
  const what = needs.map(([name, ids]) => `env ${name} (${ids.join(", ")})`).join(", ");
  return (s.nodes?.chosen ?? []).map((n) => `${n.name}: needs ${what}; where unset, those checks are not ready on the node`);
}
