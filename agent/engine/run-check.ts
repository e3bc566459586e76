import { create } from "@bufbuild/protobuf";
import { hostname } from "node:os";
import { AttemptSchema, CheckResultSchema, TestCaseSchema, type Attempt, type CheckResult, type TestCase } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { effectiveLimits, NO_LIMITS, type ProcessLimits } from "../../shared/model/check-limits.js";
import { boundCheckResult } from "../../shared/model/result-bounds.js";
import { Status } from "../../shared/model/status.js";
import type { ResolvedBlock, ResolvedCheck } from "../../shared/model/suite.js";
import { checkKind } from "../checks/registry.js";
import { toolMissing, type TestCaseOutcome, type Verdict } from "../checks/kind.js";
import { resolveRunAs, type RunAs, type RunAsDeps } from "../run-as/resolve.js";
import { captureValues } from "./capture.js";
import { resolvePathsAt } from "./relative-paths.js";

export interface RunCheckOptions {
  maxOutputBytes: number;
  /** The agent's CPU and memory limits for a check's processes; a check's `limits:` replaces them. */
  limits?: ProcessLimits;
  /** Injected so tests of retry windows need no real waiting. */
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** True once the task was cancelled: no further attempt starts. */
  stopped?: () => boolean;
  /** Where relative paths and `cwd:` resolve: the suite's directory, or the task's work dir (relative-paths.ts). */
  baseDir?: string;
  /** This node's name, for messages about it ("user 'x' does not exist on node-a"); its hostname when absent. */
  nodeName?: string;
  /** Injected so tests of `user:` can play any node. */
  runAsDeps?: RunAsDeps;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const CASE_STATUS = { passed: Status.PASSED, failed: Status.FAILED, skipped: Status.SKIPPED } as const;

function toTestCase(c: TestCaseOutcome): TestCase {
  return create(TestCaseSchema, { name: c.name, status: CASE_STATUS[c.status], message: c.message, durationMs: BigInt(c.durationMs ?? 0) });
}

interface Attempts {
  verdict: Verdict;
  evidence: { stdout: string; stderr: string };
  log: Attempt[];
}

/**
 * Observes and evaluates a block, retrying within its `retry.for` window (eventually-semantics):
 * done as soon as an attempt passes, or with the last observation when the window closes.
 * Throws only when the agent itself breaks.
 */
async function attempt(block: ResolvedBlock, opts: RunCheckOptions, runAs: Map<string, RunAs>): Promise<Attempts> {
  const kind = await checkKind(block.kind);
  const sleep = opts.sleep ?? realSleep;
  const now = opts.now ?? Date.now;
  const deadline = now() + (block.retry?.forMs ?? 0);
  const log: Attempt[] = [];
  const limits = effectiveLimits(opts.limits ?? NO_LIMITS, block.limits);
  for (;;) {
    const started = now();
    const seen = await kind.observe(block.spec, { timeoutMs: block.timeoutMs, maxOutputBytes: opts.maxOutputBytes, limits, runAs: runAsOf(block, runAs) });
    const verdict = kind.evaluate(block.spec, seen);
    log.push(create(AttemptSchema, { startedAtMs: BigInt(started), durationMs: BigInt(now() - started), passed: verdict.passed, summary: verdict.summary }));
    if (verdict.passed || !block.retry || now() + block.retry.everyMs > deadline || opts.stopped?.()) {
      const retried = log.length > 1 ? ` (after ${log.length} attempts)` : "";
      return { verdict: { ...verdict, summary: verdict.summary + retried }, evidence: kind.evidence(seen), log };
    }
    await sleep(block.retry.everyMs);
  }
}

/**
 * Runs one check, its `then:` follow-up when it passed, and its captures. The result is within
 * RESULT_BUDGET (shared/model/limits.ts) whatever the check printed.
 */
export async function runCheck(check: ResolvedCheck, opts: RunCheckOptions): Promise<CheckResult> {
  return boundCheckResult(await buildResult(opts.baseDir === undefined ? check : resolvePathsAt(check, opts.baseDir), opts)).result;
}

/** Whom a block runs as; a user: left unresolved is the agent breaking, never a run as the agent. */
function runAsOf(block: ResolvedBlock, runAs: Map<string, RunAs>): RunAs | undefined {
  if (block.user === undefined) return undefined;
  const found = runAs.get(block.user);
  if (!found) throw new Error(`user '${block.user}' was not resolved before the check ran`);
  return found;
}

/** The users a check and its then: run as, as written in the suite. */
const usersOf = (check: ResolvedCheck) => [...new Set([check.user, check.then?.user].filter((u): u is string => u !== undefined))];

/**
 * Each `user:` of the check resolved on this node, or the result saying why it cannot run as it:
 * an error, never a pass and never a run as the agent instead.
 */
async function resolveUsers(check: ResolvedCheck, opts: RunCheckOptions): Promise<Map<string, RunAs> | { error: string; hint: string }> {
  const resolved = new Map<string, RunAs>();
  for (const user of usersOf(check)) {
    const r = await resolveRunAs(user, opts.nodeName ?? hostname(), opts.runAsDeps);
    if ("error" in r) return r;
    resolved.set(user, r.runAs);
  }
  return resolved;
}

async function buildResult(check: ResolvedCheck, opts: RunCheckOptions): Promise<CheckResult> {
  const now = opts.now ?? Date.now;
  const started = now();
  // run_as: the user its programs run as, by name as the node knows it (a uid written is shown as its name).
  const base = { checkId: check.id, kind: check.kind, precondition: check.precondition, startedAtMs: BigInt(started), runAs: check.user ?? check.then?.user ?? "" };
  let main: Attempts;
  let follow: Attempts | undefined;
  let captured: Record<string, string> = {};
  try {
    const runAs = await resolveUsers(check, opts);
    if (!(runAs instanceof Map)) {
      return create(CheckResultSchema, { ...base, status: Status.ERROR, summary: runAs.error, durationMs: BigInt(now() - started), attempts: 0, hint: runAs.hint });
    }
    const named = base.runAs && runAs.get(base.runAs)?.user.name;
    if (named) base.runAs = named;
    main = await attempt(check, opts, runAs);
    if (main.verdict.passed && check.then) follow = await attempt(check.then, opts, runAs);
    if (main.verdict.passed && (!follow || follow.verdict.passed) && check.capture) {
      try {
        captured = await captureValues(check.capture, main.evidence.stdout, (check.spec as { cwd?: string }).cwd);
      } catch (err) {
        main.verdict = { ...main.verdict, passed: false, summary: (err as Error).message };
      }
    }
  } catch (err) {
    // observe() failing is the agent breaking, not the node; report it as such.
    return create(CheckResultSchema, {
      ...base,
      status: Status.ERROR,
      summary: `agent error: ${err instanceof Error ? err.message : String(err)}`,
      durationMs: BigInt(now() - started),
      attempts: 1,
      hint: check.hint ?? "",
    });
  }
  const passed = main.verdict.passed && (!follow || follow.verdict.passed);
  const summary = follow ? `${main.verdict.summary}; then ${check.then?.kind}: ${follow.verdict.summary}` : main.verdict.summary;
  const last = follow ?? main;
  return create(CheckResultSchema, {
    ...base,
    status: passed ? Status.PASSED : Status.FAILED,
    summary,
    durationMs: BigInt(now() - started),
    attempts: main.log.length + (follow?.log.length ?? 0),
    attemptLog: [...main.log, ...(follow?.log ?? [])],
    cases: [...(main.verdict.cases ?? []), ...(follow?.verdict.cases ?? [])].map(toTestCase),
    captured,
    stdoutTail: last.evidence.stdout,
    stderrTail: last.evidence.stderr,
    // A hint explains a failure its author foresaw; a missing program is another cause, said in the summary.
    hint: passed || toolMissing(summary) ? "" : (check.hint ?? ""),
  });
}
