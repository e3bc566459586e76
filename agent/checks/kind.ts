import type { z } from "zod";
import type { ProcessLimits } from "../../shared/model/check-limits.js";
import type { ProcessOutcome, ProcessRequest } from "../process.js";
import type { RunAs } from "../run-as/resolve.js";

/** What a check needs from where it runs. */
export interface CheckContext {
  timeoutMs: number;
  maxOutputBytes: number;
  /** CPU and memory limits for the processes it starts; none when absent. */
  limits?: ProcessLimits;
  /** The user its processes run as (its `user:`); the agent's own when absent. */
  runAs?: RunAs;
}

/**
 * What every process a check starts inherits from its context: output bound, limits and user.
 * Spread into each runProcess() call, so no check kind can forget one of them.
 */
export function spawnOptions(ctx: CheckContext): Pick<ProcessRequest, "maxOutputBytes" | "limits" | "runAs"> {
  return { maxOutputBytes: ctx.maxOutputBytes, limits: ctx.limits, runAs: ctx.runAs };
}

/** One inner test a check observed (a bats test, a JUnit testcase). */
export interface TestCaseOutcome {
  name: string;
  status: "passed" | "failed" | "skipped";
  /** Why it failed or was skipped. */
  message: string;
  durationMs?: number;
}

/** Pure outcome of comparing what was declared with what was observed. */
export interface Verdict {
  passed: boolean;
  /** One line a person reads: "expected exit 0, saw 1". */
  summary: string;
  /** Inner tests, for kinds that run a test suite; a skipped case is kept as a skip. */
  cases?: TestCaseOutcome[];
}

/**
 * One kind of check (after goss): the declared expectation's schema, `observe()` doing the I/O,
 * and a pure `evaluate()` that can be tested with a recorded output and no process at all.
 */
export interface CheckKind<Spec, Observed> {
  kind: string;
  schema: z.ZodType<Spec>;
  observe(spec: Spec, ctx: CheckContext): Promise<Observed>;
  evaluate(spec: Spec, seen: Observed): Verdict;
  /** Output kept as evidence. */
  evidence(seen: Observed): { stdout: string; stderr: string };
}

const NOT_INSTALLED = " is not installed on this node";

/** True when a check's summary says its program is missing: no hint written for another cause applies. */
export function toolMissing(summary: string): boolean {
  return summary.includes(NOT_INSTALLED);
}

/** "spawn bitcoin-cli ENOENT" → "bitcoin-cli is not installed on this node"; other spawn errors as they are. */
function spawnFailure(spawnError: string): string {
  const missing = /^spawn (\S+) ENOENT$/.exec(spawnError)?.[1];
  if (!missing) return `could not start: ${spawnError}`;
  return missing.includes("/") ? `${missing} does not exist on this node` : `${missing}${NOT_INSTALLED}`;
}

/** Describes why a process produced no usable answer, or undefined when it ran to completion. */
export function processFailure(p: ProcessOutcome, timeoutMs: number): string | undefined {
  if (p.spawnError) return spawnFailure(p.spawnError);
  if (p.timedOut) return `timed out after ${timeoutMs} ms; process group killed`;
  if (p.limitHit) return p.limitHit;
  if (p.signal) return `killed by ${p.signal}`;
  return undefined;
}

export function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}
