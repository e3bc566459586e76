// A run's scope: full, or narrower than its plan (RunRecord.overrides: fewer iterations, a node
// subset, --only, --tags, --quick, --skip, --with), and which of those narrowings sign-off
// accepted by name. A narrowed run can pass, so every report and the CLI summary say its scope
// next to the verdict, in these words. Pure.
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";

export interface ScopeOverride {
  /** What `coord signoff --accept-override` takes: iterations, nodes, only, tags, quick, skip, with. */
  name: string;
  /** "iterations 1 of 2 on fleet" */
  detail: string;
  /** Who accepted it at sign-off, and why; absent while nobody has. */
  accepted?: { by: string; reason: string };
}

export interface RunScope {
  /** No override: the run covered its whole plan. */
  full: boolean;
  overrides: ScopeOverride[];
}

/** Reads only the overrides and the sign-off: a run's summary (RunSummary) has its scope too. */
export function runScope(run: Pick<RunRecord, "overrides" | "signoff">): RunScope {
  // Accepted exactly when the verdict counts it accepted (judgement/verdict.ts): named by the sign-off.
  const by = run.signoff?.by ?? "";
  const accepted = new Map((run.signoff?.acceptedOverrides ?? []).map((a) => [a.target, a.reason]));
  const overrides = run.overrides.map((o): ScopeOverride => {
    const reason = accepted.get(o.name);
    return reason === undefined ? { name: o.name, detail: o.detail } : { name: o.name, detail: o.detail, accepted: { by, reason } };
  });
  return { full: overrides.length === 0, overrides };
}

/** `full`, or `narrowed — iterations 1 of 2 on fleet; node subset: node-b of node-a, node-b on fleet`. */
export function scopeText(scope: RunScope): string {
  return scope.full ? "full" : `narrowed — ${scope.overrides.map((o) => o.detail || o.name).join("; ")}`;
}

/** The line every format shows under the verdict: `scope: full` or `scope: narrowed — …`. */
export function scopeLine(scope: RunScope): string {
  return `scope: ${scopeText(scope)}`;
}

/** One line per override sign-off accepted: `accepted at sign-off by ana: iterations — REASON`. */
export function acceptedOverrideLines(scope: RunScope): string[] {
  return scope.overrides.flatMap((o) => (o.accepted ? [`accepted at sign-off by ${o.accepted.by}: ${o.name} — ${o.accepted.reason}`] : []));
}

export type ScopeJson = {
  full: boolean;
  overrides: { name: string; detail: string; accepted: { by: string; reason: string } | null }[];
};

/** The scope as the JSON report's `scope` (docs/report-json.md) and CTRF's results.extra.scope: keys in a fixed order. */
export function scopeJson(scope: RunScope): ScopeJson {
  return { full: scope.full, overrides: scope.overrides.map((o) => ({ name: o.name, detail: o.detail, accepted: o.accepted ? { by: o.accepted.by, reason: o.accepted.reason } : null })) };
}
