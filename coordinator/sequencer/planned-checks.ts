// Pure: checks as a dry run shows them — the exact argv (or what is observed), the user it runs
// as, the timeout and retry window, and whether the check would be skipped — without running anything.
import { create } from "@bufbuild/protobuf";
import { PlannedCheckSchema, type PlannedCheck } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { whyNotSelected } from "../../shared/model/check-selection.js";
import { expandKnownVariables } from "../../shared/model/expand.js";
import { plannedObservation } from "../../shared/model/kinds/observation.js";
import type { Capture } from "../../shared/model/check-schema.js";
import type { ResolvedBlock, ResolvedCheck, Suite } from "../../shared/model/suite.js";
import type { SkipRecord } from "./run-types.js";

/** The agent's rule (agent/engine/run-suite.ts): a destructive gate check runs only when allowed. */
export const DESTRUCTIVE_SKIP = "destructive, and the stage does not set allow_destructive: true";

/** `${vars.X}` the suite defines; everything else stays as written until the node expands it. */
export type Vars = Record<string, string>;

/** What a task asks of its suite run: destructive checks allowed or not, and --quick/--tags/--only. */
export interface SuiteRun {
  allowDestructive: boolean;
  onlyTags: string[];
  onlyChecks: string[];
}

/** A stage or leg that would not run: "--skip: tor down"; an opt-in leg's reason says how to run it. */
export function skipText(skip: SkipRecord): string {
  return skip.source === "opt-in" ? skip.reason : `${skip.source}: ${skip.reason}`;
}

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
    runAs: block.user ?? "",
  });
}

/**
 * Why a check of `run` would not run, in the agent's order: left out by the selection (not run,
 * not reported), else destructive and not allowed. Preconditions always run.
 */
function skipReason(check: ResolvedCheck, run: SuiteRun): string {
  if (check.precondition) return "";
  const unselected = whyNotSelected(check, run.onlyTags, run.onlyChecks);
  if (unselected) return `left out: ${unselected}`;
  return check.destructive && !run.allowDestructive ? DESTRUCTIVE_SKIP : "";
}

export function plannedCheck(check: ResolvedCheck, run: SuiteRun, vars: Vars = {}): PlannedCheck {
  const planned = plannedBlock(check.id, check, vars);
  planned.precondition = check.precondition;
  planned.destructive = check.destructive;
  planned.skipReason = skipReason(check, run);
  planned.captures = captures(check.capture);
  planned.hint = check.hint ?? "";
  if (check.then) planned.followUp = plannedBlock("then", check.then, vars);
  return planned;
}

/** A suite's preconditions, then its checks, as the agent runs them for a task asking `run`. */
export function plannedSuiteChecks(suite: Suite, run: SuiteRun): PlannedCheck[] {
  return [...suite.preconditions, ...suite.checks].map((c) => plannedCheck(c, run, suite.vars));
}
