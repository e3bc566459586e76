// The flags of `coord run` and what they become on the wire. Pure: the real run and the dry run
// send the same StartRunRequest, built here, so a dry run resolves exactly what would run.
import { InvalidArgumentError } from "commander";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { StartRunRequestSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { pairReasons, type ReasonToken } from "./reason-pairs.js";

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
  /** --only CHECK, --tags T. */
  only?: string[];
  tags?: string[];
}

export interface RunSkip {
  target: string;
  reason: string;
}

/** One --skip or --reason as typed; commander keeps options apart, so order is kept here. */
export type SkipToken = ReasonToken<"skip">;

/** Pairs each --skip with the --reason that follows it (other flags may sit between). */
export function pairSkips(tokens: readonly SkipToken[]): RunSkip[] {
  const usage = { why: "why it is skipped is listed in every report", example: "--skip STAGE_OR_LEG --reason TEXT" };
  return pairReasons(tokens, usage).map(({ target, reason }) => ({ target, reason }));
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
    onlyChecks: flags.only ?? [],
    tags: flags.tags ?? [],
  };
}
