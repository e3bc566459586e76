import { create } from "@bufbuild/protobuf";
import { CheckResultSchema, type CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { Status } from "../../shared/model/status.js";
import type { ResolvedCheck } from "../../shared/model/suite.js";
import { CHECK_KINDS } from "../checks/registry.js";
import type { Verdict } from "../checks/kind.js";

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
  for (;;) {
    attempts++;
    try {
      const seen = await kind.observe(check.spec, { timeoutMs: check.timeoutMs, maxOutputBytes: opts.maxOutputBytes });
      verdict = kind.evaluate(check.spec, seen);
      evidence = kind.evidence(seen);
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
    stdoutTail: evidence.stdout,
    stderrTail: evidence.stderr,
    hint: verdict.passed ? "" : (check.hint ?? ""),
  });
}
