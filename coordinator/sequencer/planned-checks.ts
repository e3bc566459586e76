// Pure: checks as a dry run shows them — the exact argv (or what is observed), the timeout and
// retry window, and whether the check would be skipped — without running anything.
import { posix } from "node:path";
import { create } from "@bufbuild/protobuf";
import { PlannedCheckSchema, type PlannedCheck } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { expandKnownVariables } from "../../shared/model/expand.js";
import { plannedObservation } from "../../shared/model/kinds/observation.js";
import type { Capture } from "../../shared/model/check-schema.js";
import type { ResolvedBlock, ResolvedCheck, Suite } from "../../shared/model/suite.js";

/** The agent's rule (agent/engine/run-suite.ts): a destructive gate check runs only when allowed. */
export const DESTRUCTIVE_SKIP = "destructive, and the stage does not set allow_destructive: true";

/** `${vars.X}` the suite defines; everything else stays as written until the node expands it. */
export type Vars = Record<string, string>;

function captures(capture: Capture | undefined): string[] {
  return Object.entries(capture ?? {}).map(([name, rule]) => `${name}: ${Object.entries(rule).map(([how, arg]) => `${how} ${arg}`).join(" ")}`);
}

function plannedBlock(id: string, block: ResolvedBlock, vars: Vars): PlannedCheck {
  const spec = expandKnownVariables(block.spec, { vars });
  const seen = plannedObservation(block.kind, spec, block.timeoutMs);
  return create(PlannedCheckSchema, {
    id,
    kind: block.kind,
    argv: seen.argv ?? [],
    cwd: seen.cwd ?? "",
    env: seen.env ?? {},
    observes: seen.observes ?? "",
    timeoutMs: BigInt(block.timeoutMs),
    retryForMs: BigInt(block.retry?.forMs ?? 0),
    retryEveryMs: BigInt(block.retry?.everyMs ?? 0),
  });
}

/** Preconditions always run (they decide whether the node can be judged); gate checks may be skipped. */
export function plannedCheck(check: ResolvedCheck, allowDestructive: boolean, vars: Vars = {}): PlannedCheck {
  const planned = plannedBlock(check.id, check, vars);
  planned.precondition = check.precondition;
  planned.destructive = check.destructive;
  planned.skipReason = check.destructive && !check.precondition && !allowDestructive ? DESTRUCTIVE_SKIP : "";
  planned.captures = captures(check.capture);
  planned.hint = check.hint ?? "";
  if (check.then) planned.followUp = plannedBlock("then", check.then, vars);
  return planned;
}

/** A suite's preconditions, then its checks, as the agent runs them. */
export function plannedSuiteChecks(suite: Suite, allowDestructive: boolean): PlannedCheck[] {
  return [...suite.preconditions, ...suite.checks].map((c) => plannedCheck(c, allowDestructive, suite.vars));
}

/** The parsed suite a stage or leg names; the CLI sends every suite the plan names with the request. */
export function findSuite(suites: Record<string, Suite>, path: string): Suite {
  const suite = suites[posix.normalize(path)];
  if (!suite) throw new FleetgateError("bad_input", `plan refers to suite ${path}, which was not sent with the run`);
  return suite;
}
