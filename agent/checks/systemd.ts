import { SYSTEMD_PROPERTIES, systemdArgv, SystemdSpecSchema, type SystemdSpec } from "../../shared/model/kinds/systemd.js";
import { match, preview, type Matcher } from "../../shared/model/matchers.js";
import { runProcess, type ProcessOutcome } from "../process.js";
import { spawnOptions, type CheckKind, type Verdict } from "./kind.js";
import { parseShowProperties, systemctlFailure } from "./systemctl-show.js";

export { SYSTEMD_PROPERTIES };

type Observed = ProcessOutcome & { timeoutMs: number };

/** The properties the spec can constrain, with the spec field that holds each matcher. */
const COMPARED = [
  ["ActiveState", "state"],
  ["SubState", "sub_state"],
  ["Result", "result"],
  ["NRestarts", "restarts"],
] as const;

// A plain string reads better unquoted: "expected ActiveState active, saw failed".
function wanted(matcher: Matcher, expected: string): string {
  return typeof matcher === "string" ? matcher : expected;
}

// NRestarts is a count, so `restarts: 0` must equal the printed "0".
function typed(property: string, value: string | undefined): unknown {
  if (value === undefined) return null;
  return property === "NRestarts" && /^\d+$/.test(value) ? Number(value) : value;
}

/** The state around a mismatch, so "saw failed" comes with its SubState and Result. */
function around(props: Map<string, string>, except: string): string {
  const names = ["ActiveState", "SubState", "Result"].filter((n) => n !== except);
  if (props.get("LoadState") !== "loaded") names.unshift("LoadState");
  return names.map((n) => `${n} ${props.get(n) ?? "?"}`).join(", ");
}

function evaluateSystemd(spec: SystemdSpec, seen: Observed): Verdict {
  const failure = systemctlFailure(seen, spec.scope, spec.unit, seen.timeoutMs);
  if (failure) return { passed: false, summary: failure };
  const props = parseShowProperties(seen.stdout);
  // A missing unit also reads inactive/dead; saying "not found" is what tells a person what to fix.
  if (props.get("LoadState") === "not-found") {
    return { passed: false, summary: `unit ${spec.unit} not found${spec.scope === "user" ? " by the user manager" : ""}` };
  }
  if (!props.has("ActiveState")) {
    return { passed: false, summary: `systemctl show printed no ActiveState for ${spec.unit}: ${preview(seen.stdout)}` };
  }
  for (const [property, field] of COMPARED) {
    const matcher = spec[field];
    if (matcher === undefined) continue;
    const value = props.get(property);
    const m = match(matcher, typed(property, value));
    if (!m.ok) {
      return { passed: false, summary: `expected ${property} ${wanted(matcher, m.expected)}, saw ${value ?? "nothing"} (${around(props, property)})` };
    }
  }
  return { passed: true, summary: `${spec.unit} ${props.get("ActiveState")} (${props.get("SubState") ?? "?"})` };
}

export const systemdCheck: CheckKind<SystemdSpec, Observed> = {
  kind: "systemd",
  schema: SystemdSpecSchema,
  async observe(spec, ctx) {
    const argv = systemdArgv(spec);
    const outcome = await runProcess({ argv, timeoutMs: ctx.timeoutMs, ...spawnOptions(ctx) });
    return { ...outcome, timeoutMs: ctx.timeoutMs };
  },
  evaluate: evaluateSystemd,
  evidence: (seen) => ({ stdout: seen.stdout, stderr: seen.stderr }),
};
