import { create } from "@bufbuild/protobuf";
import { CheckResultSchema, type CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { envNamesIn } from "../../shared/model/env-refs.js";
import { expandVariables, type ExpansionScope } from "../../shared/model/expand.js";
import type { ProcessLimits } from "../../shared/model/check-limits.js";
import { redactResult, secretList } from "../../shared/model/redact.js";
import { foldStatuses, Status } from "../../shared/model/status.js";
import { unvaluedVarError } from "../../shared/model/var-refs.js";
import type { ResolvedCheck, Suite } from "../../shared/model/suite.js";
import { applyWaiver, type Waiver } from "../../shared/model/waivers.js";
import { DEFAULT_MAX_OUTPUT_BYTES } from "../process.js";
import { defaultConcurrency } from "./concurrency.js";
import { runOrdered } from "./ordered-pool.js";
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
  /** Waivers in force on this node (shared/model/waivers.ts): a gate check they name is reported waived. */
  waivers?: Waiver[];
  /**
   * The agent's bound on checks running at once (`--concurrency`); the suite's `concurrency:`
   * may lower it, never raise it. Default: defaultConcurrency().
   */
  concurrency?: number;
}

export interface SuiteOutcome {
  status: Status;
  summary: string;
  results: CheckResult[];
}

/** A check ready to run, or not ready on this node because `${env.X}` it uses is unset. */
export type NodeCheck = ResolvedCheck & { unsetEnv?: string };

/** `env ARCHY_PASSWORD is not set on this node; used by check lifecycle-bats at archy.suite.yaml:70:25` */
function unsetEnvMessage(suite: Suite, check: ResolvedCheck, names: string[]): string {
  const what = `${check.precondition ? "precondition" : "check"} ${check.id}`;
  return names
    .map((name) => {
      const ref = suite.envRefs?.find((r) => r.name === name && r.checkId === check.id && r.precondition === check.precondition);
      // A suite generated from a plan (a cross step, a matrix leg: "gate.yaml#stage/step") has no
      // lines of its own that a person wrote; its name says where it came from.
      const generated = suite.file.includes("#");
      const at = generated ? ` in ${suite.file}` : ref ? ` at ${ref.where.file}:${ref.where.line}:${ref.where.col}` : "";
      return `env ${name} is not set on this node; used by ${what}${at}`;
    })
    .join("; ");
}

/**
 * Expands `${vars.X}` and `${env.X}` in every check up front, so nothing runs on a bad suite
 * (an undefined var is bad input and throws). An unset env var is this node's state: the checks
 * using it carry `unsetEnv` and are reported not ready, the others run.
 */
export function resolveVariables(suite: Suite, env: Record<string, string | undefined>, extra: ExpansionScope = {}): NodeCheck[] {
  return [...suite.preconditions, ...suite.checks].map((c) => {
    const unvalued = unvaluedVarError(suite.varRefs, suite.vars, c);
    if (unvalued) throw unvalued;
    const missing = [...envNamesIn([c.spec, c.then?.spec])].filter((n) => env[n] === undefined);
    // Unset names expand to "" so an undefined ${vars.X} in the same check is still refused.
    const scope = { ...extra, vars: suite.vars, env: { ...env, ...Object.fromEntries(missing.map((n) => [n, ""])) } };
    const where = `${suite.file}: ${c.precondition ? "precondition" : "check"} ${c.id}`;
    const expanded: NodeCheck = { ...c, spec: expandVariables(c.spec, scope, where) };
    if (c.then) expanded.then = { ...c.then, spec: expandVariables(c.then.spec, scope, `${where} then`) };
    if (missing.length) expanded.unsetEnv = unsetEnvMessage(suite, c, missing);
    return expanded;
  });
}

/** The values that must never leave the node: every `${env.X}` value the suite's checks use, and its secret vars. */
export function suiteSecrets(suite: Suite, env: Record<string, string | undefined>): string[] {
  const names = envNamesIn([...suite.preconditions, ...suite.checks].map((c) => [c.spec, c.then?.spec]));
  return secretList([...[...names].map((n) => env[n] ?? ""), ...(suite.secretVars ?? []).map((n) => suite.vars[n] ?? "")]);
}

function notReady(check: ResolvedCheck, reason: string): CheckResult {
  return create(CheckResultSchema, {
    checkId: check.id,
    kind: check.kind,
    status: Status.NOT_READY,
    summary: reason,
    reason,
    hint: `set ${reason.match(/^env (\S+)/)?.[1] ?? "it"} in the agent's environment (its systemd unit's Environment=, or the shell running fleetgate-agent check)`,
    precondition: check.precondition,
    startedAtMs: BigInt(Date.now()),
  });
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

/** How many of this suite's checks may run at once on this agent: the lower of the agent's bound and the suite's. */
export function suiteConcurrency(suite: Suite, agentBound: number | undefined): number {
  const bound = agentBound ?? defaultConcurrency();
  return Math.max(1, Math.min(bound, suite.concurrency ?? bound));
}

/**
 * A check that runs alone: `serial: true`, or destructive (it changes what the others observe, so
 * none may be looking while it does). A destructive check that will be skipped changes nothing.
 */
const runsAlone = (check: ResolvedCheck, allowDestructive: boolean) => check.serial === true || (check.destructive && allowDestructive);

/**
 * Runs a suite once on this host: preconditions first (any failure makes the node not ready
 * and no gate check is run), then the checks. Up to suiteConcurrency() run at once
 * (ordered-pool.ts); results are recorded and reported in declared order whatever order they
 * finish in, and `then:` follow-ups run inside their check, after it.
 */
export async function runSuite(suite: Suite, opts: SuiteRunOptions): Promise<SuiteOutcome> {
  const checks = resolveVariables(suite, opts.env, opts.scope);
  const secrets = suiteSecrets(suite, opts.env);
  const results: CheckResult[] = [];
  const runOpts: RunCheckOptions = { maxOutputBytes: opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES, limits: opts.limits, stopped: opts.stopped, ...opts.check };
  const limit = suiteConcurrency(suite, opts.concurrency);
  const record = async (r: CheckResult) => {
    applyWaiver(r, opts.waivers ?? []);
    redactResult(r, secrets);
    results.push(r);
    await opts.onResult?.(r);
  };

  // Every precondition runs, even once the task is stopped: the node's readiness is reported whole.
  await runOrdered(
    checks.filter((c) => c.precondition),
    {
      limit,
      alone: (pre) => pre.serial === true,
      run: async (pre) => {
        const r = pre.unsetEnv ? notReady(pre, pre.unsetEnv) : await runCheck(pre, runOpts);
        // A failed precondition is not a failed gate: the node cannot be judged yet.
        if (r.status === Status.FAILED) r.status = Status.NOT_READY;
        return r;
      },
      deliver: record,
    },
  );
  const unmet = results.filter((r) => r.status !== Status.PASSED);
  if (unmet.length) {
    const first = unmet[0] as CheckResult;
    const hint = first.hint ? `; hint: ${first.hint}` : "";
    const status = unmet.some((r) => r.status === Status.ERROR) ? Status.ERROR : Status.NOT_READY;
    return { status, summary: `not ready: precondition ${first.checkId}: ${first.summary}${hint}`, results };
  }

  await runOrdered(
    checks.filter((c) => !c.precondition && (opts.select?.(c) ?? true)),
    {
      limit,
      alone: (check) => runsAlone(check, opts.allowDestructive),
      stopped: opts.stopped,
      run: async (check) => {
        if (check.destructive && !opts.allowDestructive) return skipped(check, "destructive not allowed (pass --allow-destructive, or allow_destructive: true in the plan)");
        return check.unsetEnv ? notReady(check, check.unsetEnv) : runCheck(check, runOpts);
      },
      deliver: record,
    },
  );
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
  if (count(Status.WAIVED)) parts.push(`${count(Status.WAIVED)} waived`);
  const firstBad = results.find((r) => r.status === status && status !== Status.PASSED);
  return firstBad ? `${parts.join(", ")}; ${firstBad.checkId}: ${firstBad.summary}` : parts.join(", ");
}

