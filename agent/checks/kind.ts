import type { z } from "zod";
import type { ProcessLimits } from "../../shared/model/check-limits.js";
import type { ProcessOutcome } from "../process.js";

/** What a check needs from where it runs. */
export interface CheckContext {
  timeoutMs: number;
  maxOutputBytes: number;
  /** CPU and memory limits for the processes it starts; none when absent. */
  limits?: ProcessLimits;
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

/** Describes why a process produced no usable answer, or undefined when it ran to completion. */
export function processFailure(p: ProcessOutcome, timeoutMs: number): string | undefined {
  if (p.spawnError) return `could not start: ${p.spawnError}`;
  if (p.timedOut) return `timed out after ${timeoutMs} ms; process group killed`;
  if (p.limitHit) return p.limitHit;
  if (p.signal) return `killed by ${p.signal}`;
  return undefined;
}

export function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}
