import { create } from "@bufbuild/protobuf";
import { CheckResultSchema, type CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { expandVariables, type ExpansionScope } from "../../shared/model/expand.js";
import type { ProcessLimits } from "../../shared/model/check-limits.js";
import { foldStatuses, Status } from "../../shared/model/status.js";
import type { ResolvedCheck, Suite } from "../../shared/model/suite.js";
import { DEFAULT_MAX_OUTPUT_BYTES } from "../process.js";
import { runCheck, type RunCheckOptions } from "./run-check.js";

export interface SuiteRunOptions {
  allowDestructive: boolean;
  env: Record<string, string | undefined>;
  maxOutputBytes?: number;
  /** The agent's CPU and memory limits for each check's processes (`--check-cpu-limit`, `--check-memory-limit`). */
  limits?: ProcessLimits;
  onResult?: (result: CheckResult) => void | Promise<void>;
  check?: Partial<RunCheckOptions>;
  /** Which gate checks to run (`--only`, `--tags`); preconditions always run. */
  select?: (check: ResolvedCheck) => boolean;
  /** More namespaces for `${ns.name}`: in cross stages, values earlier steps captured, per role. */
  scope?: ExpansionScope;
  /** True once the task was cancelled: no further check starts. */
  stopped?: () => boolean;
}

export interface SuiteOutcome {
  status: Status;
  summary: string;
  results: CheckResult[];
}

/** Expands `${vars.X}` and `${env.X}` in every check up front, so nothing runs on a bad suite. */
export function resolveVariables(suite: Suite, env: Record<string, string | undefined>, extra: ExpansionScope = {}): ResolvedCheck[] {
  const scope = { ...extra, vars: suite.vars, env };
  return [...suite.preconditions, ...suite.checks].map((c) => ({
    ...c,
    spec: expandVariables(c.spec, scope, `${suite.file}: ${c.precondition ? "precondition" : "check"} ${c.id}`),
  }));
}

function skipped(check: ResolvedCheck, reason: string): CheckResult {
  return create(CheckResultSchema, {
    checkId: check.id,
    kind: check.kind,
    status: Status.SKIPPED,
    summary: `skipped: ${reason}`,
    reason,
    precondition: check.precondition,
    startedAtMs: BigInt(Date.now()),
  });
}

/**
 * Runs a suite once on this host: preconditions first (any failure makes the node not ready
 * and no gate check runs), then the checks in order.
 */
export async function runSuite(suite: Suite, opts: SuiteRunOptions): Promise<SuiteOutcome> {
  const checks = resolveVariables(suite, opts.env, opts.scope);
  const results: CheckResult[] = [];
  const runOpts: RunCheckOptions = { maxOutputBytes: opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES, limits: opts.limits, stopped: opts.stopped, ...opts.check };
  const record = async (r: CheckResult) => {
    results.push(r);
    await opts.onResult?.(r);
  };

  for (const pre of checks.filter((c) => c.precondition)) {
    const r = await runCheck(pre, runOpts);
    // A failed precondition is not a failed gate: the node cannot be judged yet.
    if (r.status === Status.FAILED) r.status = Status.NOT_READY;
    await record(r);
  }
  const unmet = results.filter((r) => r.status !== Status.PASSED);
  if (unmet.length) {
    const first = unmet[0] as CheckResult;
    const hint = first.hint ? `; hint: ${first.hint}` : "";
    const status = unmet.some((r) => r.status === Status.ERROR) ? Status.ERROR : Status.NOT_READY;
    return { status, summary: `not ready: precondition ${first.checkId}: ${first.summary}${hint}`, results };
  }

  for (const check of checks.filter((c) => !c.precondition && (opts.select?.(c) ?? true))) {
    if (opts.stopped?.()) break;
    if (check.destructive && !opts.allowDestructive) {
      await record(skipped(check, "destructive not allowed (pass --allow-destructive, or allow_destructive: true in the plan)"));
      continue;
    }
    await record(await runCheck(check, runOpts));
  }
  const gate = results.filter((r) => !r.precondition);
  const status = foldStatuses(gate.map((r) => r.status));
  return { status, summary: summarize(gate, status), results };
}

function summarize(results: CheckResult[], status: Status): string {
  const count = (s: Status) => results.filter((r) => r.status === s).length;
  const parts = [`${count(Status.PASSED)}/${results.length} passed`];
  if (count(Status.FAILED)) parts.push(`${count(Status.FAILED)} failed`);
  if (count(Status.SKIPPED)) parts.push(`${count(Status.SKIPPED)} skipped`);
  if (count(Status.ERROR)) parts.push(`${count(Status.ERROR)} errors`);
  const firstBad = results.find((r) => r.status === status && status !== Status.PASSED);
  return firstBad ? `${parts.join(", ")}; ${firstBad.checkId}: ${firstBad.summary}` : parts.join(", ");
}

