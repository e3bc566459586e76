// The flags of `coord run` and what they become on the wire. Pure: the real run and the dry run
// send the same StartRunRequest, built here, so a dry run resolves exactly what would run.
import { InvalidArgumentError } from "commander";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StartRunRequestSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";

export interface RunFlags {
  plan: string;
  node: string[];
  iterations?: number;
  json?: boolean;
  /** Filled from the ordered --skip/--reason tokens by pairSkips, before anything is sent. */
  skips?: RunSkip[];
  with?: string[];
  quick?: boolean;
  /** --bind ROLE=NODE, role → node. */
  bind?: Record<string, string>;
}

export interface RunSkip {
  target: string;
  reason: string;
}

/** One --skip or --reason as typed; commander keeps options apart, so order is kept here. */
export interface SkipToken {
  flag: "skip" | "reason";
  value: string;
}

/**
 * Pairs each --skip with the --reason that follows it (other flags may sit between). A skip
 * without a reason is refused: the reason is printed in every report, and "skipped" with no why
 * is exactly what a gate must not allow.
 */
export function pairSkips(tokens: readonly SkipToken[]): RunSkip[] {
  const skips: RunSkip[] = [];
  let open: string | undefined;
  const needsReason = (target: string) =>
    new FleetgateError("bad_input", `--skip ${target} needs --reason TEXT (why it is skipped is listed in every report)`);
  for (const t of tokens) {
    if (t.flag === "skip") {
      if (open !== undefined) throw needsReason(open);
      if (!t.value.trim()) throw new FleetgateError("bad_input", "--skip needs a stage or leg id, e.g. --skip matrix --reason TEXT");
      open = t.value;
    } else {
      if (open === undefined) throw new FleetgateError("bad_input", `--reason "${t.value}" follows no --skip; write --skip STAGE_OR_LEG --reason TEXT`);
      if (!t.value.trim()) throw needsReason(open);
      skips.push({ target: open, reason: t.value });
      open = undefined;
    }
  }
  if (open !== undefined) throw needsReason(open);
  return skips;
}

const BINDING = /^([^=\s]+)=([^=\s]+)$/;

/** commander parser for a repeatable --bind ROLE=NODE; a malformed one is a usage error (exit 3). */
export function parseBinding(value: string, prev: Record<string, string> = {}): Record<string, string> {
  const m = BINDING.exec(value.trim());
  if (!m) throw new InvalidArgumentError("expected ROLE=NODE, e.g. --bind writer=node-a");
  const [, role, node] = m as unknown as [string, string, string];
  if (prev[role] !== undefined && prev[role] !== node) throw new InvalidArgumentError(`role ${role} is already bound to ${prev[role]}; bind each role once`);
  return { ...prev, [role]: node };
}

export interface PlanFiles {
  planYaml: string;
  suites: Record<string, string>;
}

/** What StartRun (and ResolvePlan, for --dry-run) is sent. */
export function startRunRequest(stages: string[], flags: RunFlags, files: PlanFiles): MessageInitShape<typeof StartRunRequestSchema> {
  return {
    planPath: flags.plan,
    planYaml: files.planYaml,
    suites: files.suites,
    stages,
    nodeNames: flags.node,
    iterations: flags.iterations ?? 0,
    skips: (flags.skips ?? []).map((s) => ({ ...s, source: "--skip" })),
    withLegs: flags.with ?? [],
    quick: flags.quick ?? false,
    bindings: flags.bind ?? {},
  };
}
