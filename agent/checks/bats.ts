import { batsArgv, BatsSpecSchema, type BatsSpec } from "../../shared/model/kinds/bats.js";
import { runProcess, type ProcessOutcome } from "../process.js";
import { firstLine, processFailure, spawnOptions, type CheckKind, type Verdict } from "./kind.js";
import { parseTap, type TapReport } from "./tap.js";

type Observed = ProcessOutcome & { timeoutMs: number };

// The argv is built in shared/ so the coordinator's dry run prints exactly what runs here.
export { batsArgv };

/** "1/3 passed, 1 skipped; failed: bitcoind is synced" */
export function tally(report: TapReport): string {
  const count = (s: string) => report.cases.filter((c) => c.status === s).length;
  const failed = report.cases.filter((c) => c.status === "failed").map((c) => c.name);
  const skipped = count("skipped");
  return (
    `${count("passed")}/${report.cases.length} passed` +
    (skipped ? `, ${skipped} skipped` : "") +
    (failed.length ? `; failed: ${failed.join(", ")}` : "")
  );
}

function evaluateBats(spec: BatsSpec, seen: Observed): Verdict {
  const report = parseTap(seen.stdout);
  const cases = report.cases;
  const broken = processFailure(seen, seen.timeoutMs);
  if (broken) return { passed: false, summary: cases.length ? `${broken}; ${tally(report)}` : broken, cases };
  if (report.planned === undefined && cases.length === 0) {
    // bats prints its own errors (a missing file) on stdout, without a plan.
    const why = firstLine(seen.stderr) || firstLine(seen.stdout);
    return { passed: false, summary: `bats printed no TAP, exit ${seen.exitCode}${why ? `: ${why}` : ""}`, cases };
  }
  // A run that tested nothing is not a pass: a filter that matches no test, an empty file.
  if (report.planned === 0) {
    return { passed: false, summary: `no test ran in ${spec.file}${spec.filter !== undefined ? ` (filter ${spec.filter})` : ""}`, cases };
  }
  const problems: string[] = [];
  if (report.planned !== cases.length) problems.push(`bats planned ${report.planned ?? "no"} tests, reported ${cases.length}`);
  const failed = cases.some((c) => c.status === "failed");
  if (!failed && seen.exitCode !== 0) {
    const why = firstLine(seen.stderr);
    problems.push(`bats exit ${seen.exitCode}${why ? `: ${why}` : ""}`);
  }
  const summary = [tally(report), ...problems].join("; ");
  return { passed: !failed && problems.length === 0, summary, cases };
}

export const batsCheck: CheckKind<BatsSpec, Observed> = {
  kind: "bats",
  schema: BatsSpecSchema,
  async observe(spec, ctx) {
    const outcome = await runProcess({ argv: batsArgv(spec), cwd: spec.cwd, env: spec.env, timeoutMs: ctx.timeoutMs, ...spawnOptions(ctx) });
    return { ...outcome, timeoutMs: ctx.timeoutMs };
  },
  evaluate: evaluateBats,
  evidence: (seen) => ({ stdout: seen.stdout, stderr: seen.stderr }),
};
