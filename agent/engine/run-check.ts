import { create } from "@bufbuild/protobuf";
import { AttemptSchema, CheckResultSchema, TestCaseSchema, type Attempt, type CheckResult, type TestCase } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { Status } from "../../shared/model/status.js";
import type { ResolvedCheck } from "../../shared/model/suite.js";
import { CHECK_KINDS } from "../checks/registry.js";
import type { TestCaseOutcome, Verdict } from "../checks/kind.js";

const CASE_STATUS = { passed: Status.PASSED, failed: Status.FAILED, skipped: Status.SKIPPED } as const;

function toTestCase(c: TestCaseOutcome): TestCase {
  return create(TestCaseSchema, { name: c.name, status: CASE_STATUS[c.status], message: c.message, durationMs: BigInt(c.durationMs ?? 0) });
}

export interface RunCheckOptions {
  maxOutputBytes: number;
  /** Injected so tests of retry windows need no real waiting. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Runs one check, retrying within its `retry.for` window (eventually-semantics): it passes as
 * soon as an attempt passes, and fails with the last observation when the window closes.
 */
export async function runCheck(check: ResolvedCheck, opts: RunCheckOptions): Promise<CheckResult> {
  const kind = CHECK_KINDS[check.kind];
  const sleep = opts.sleep ?? realSleep;
  const now = opts.now ?? Date.now;
  const started = now();
  const deadline = started + (check.retry?.forMs ?? 0);
  let attempts = 0;
  let verdict: Verdict;
  let evidence: { stdout: string; stderr: string };
  const attemptLog: Attempt[] = [];
  for (;;) {
    attempts++;
    const attemptStart = now();
    try {
      const seen = await kind.observe(check.spec, { timeoutMs: check.timeoutMs, maxOutputBytes: opts.maxOutputBytes });
      verdict = kind.evaluate(check.spec, seen);
      evidence = kind.evidence(seen);
      attemptLog.push(create(AttemptSchema, { startedAtMs: BigInt(attemptStart), durationMs: BigInt(now() - attemptStart), passed: verdict.passed, summary: verdict.summary }));
    } catch (err) {
      // observe() failing is the agent breaking, not the node; report it as such.
      return create(CheckResultSchema, {
        checkId: check.id,
        kind: check.kind,
        status: Status.ERROR,
        summary: `agent error: ${err instanceof Error ? err.message : String(err)}`,
        precondition: check.precondition,
        startedAtMs: BigInt(started),
        durationMs: BigInt(now() - started),
        attempts,
        attemptLog,
        hint: check.hint ?? "",
      });
    }
    if (verdict.passed || !check.retry || now() + check.retry.everyMs > deadline) break;
    await sleep(check.retry.everyMs);
  }
  const retried = attempts > 1 ? ` (after ${attempts} attempts)` : "";
  return create(CheckResultSchema, {
    checkId: check.id,
    kind: check.kind,
    status: verdict.passed ? Status.PASSED : Status.FAILED,
    summary: verdict.summary + retried,
    precondition: check.precondition,
    startedAtMs: BigInt(started),
    durationMs: BigInt(now() - started),
    attempts,
    attemptLog,
    cases: (verdict.cases ?? []).map(toTestCase),
    stdoutTail: evidence.stdout,
    stderrTail: evidence.stderr,
    hint: verdict.passed ? "" : (check.hint ?? ""),
  });
}
