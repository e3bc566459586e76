// The flags of `coord run` and what they become on the wire. Pure: the real run and the dry run
// send the same StartRunRequest, built here, so a dry run resolves exactly what would run.
import { InvalidArgumentError } from "commander";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create, toBinary } from "@bufbuild/protobuf";
import { StartRunRequestSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { MAX_GRPC_MESSAGE_BYTES } from "../../shared/model/limits.js";
import { formatSize } from "../../shared/model/sizes.js";
import type { ShippedFile } from "../../shared/model/suite-files.js";
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
  /** --waivers FILE, and the file's text (read and checked by the CLI before anything is sent). */
  waivers?: string;
  waiversYaml?: string;
  /** --var NAME=VALUE over --vars-file (cliRunVars), as sent. */
  vars?: Record<string, string>;
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
  /** Suite path → the files it ships (`files:`); suites that ship none are absent. */
  suiteFiles?: Record<string, ShippedFile[]>;
}

/** The suites' shipped files as a request carries them (suite path → SuiteFiles). */
export function suiteFilesMessage(files: PlanFiles): Record<string, { files: ShippedFile[] }> {
  return Object.fromEntries(Object.entries(files.suiteFiles ?? {}).map(([path, list]) => [path, { files: list }]));
}

/** What StartRun (and ResolvePlan, for --dry-run) is sent. */
export function startRunRequest(stages: string[], flags: RunFlags, files: PlanFiles): MessageInitShape<typeof StartRunRequestSchema> {
  return {
    planPath: flags.plan,
    planYaml: files.planYaml,
    suites: files.suites,
    suiteFiles: suiteFilesMessage(files),
    stages,
    nodeNames: flags.node,
    iterations: flags.iterations ?? 0,
    skips: (flags.skips ?? []).map((s) => ({ ...s, source: "--skip" })),
    withLegs: flags.with ?? [],
    quick: flags.quick ?? false,
    bindings: flags.bind ?? {},
    onlyChecks: flags.only ?? [],
    tags: flags.tags ?? [],
    waiversPath: flags.waivers ?? "",
    waiversYaml: flags.waiversYaml ?? "",
    vars: flags.vars ?? {},
  };
}

/**
 * Refuses, before sending, a request larger than one gRPC message (the plan, its suites and their
 * files together), naming what takes the room; the coordinator would refuse it with less to go on.
 */
export function checkRequestSize(req: MessageInitShape<typeof StartRunRequestSchema>, files: PlanFiles): void {
  const bytes = toBinary(StartRunRequestSchema, create(StartRunRequestSchema, req)).length;
  if (bytes <= MAX_GRPC_MESSAGE_BYTES) return;
  const parts = [
    ...Object.entries(files.suites).map(([path, text]) => ({ what: `suite ${path}`, bytes: Buffer.byteLength(text) })),
    ...Object.entries(files.suiteFiles ?? {}).map(([path, list]) => ({ what: `files of ${path}`, bytes: list.reduce((n, f) => n + f.content.length, 0) })),
  ]
    .sort((a, b) => b.bytes - a.bytes)
    .slice(0, 3)
    .map((p) => `${p.what} ${formatSize(p.bytes)}`);
  throw new FleetgateError(
    "bad_input",
    `the plan, its suites and their files: come to ${bytes} bytes, more than the ${formatSize(MAX_GRPC_MESSAGE_BYTES)} (${MAX_GRPC_MESSAGE_BYTES} bytes) one run request may carry (MAX_GRPC_MESSAGE_BYTES in shared/model/limits.ts); largest: ${parts.join(", ")}; split the plan or ship fewer files`,
  );
}
