// TAP 13 and JUnit renderings of `fleetgate-agent check` results. Pure: outcomes in, text out
// (the JUnit hostname defaults to this host's).
import { hostname } from "node:os";
import type { CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { buildJunitXml, runAsProperties, VERDICT_CLASSNAME, VERDICT_NAME, VERDICT_SUITE, type JunitCase, type JunitSuite } from "../../shared/junit-xml.js";
import { isGreen, Status, statusName } from "../../shared/model/status.js";
import { waivedDetail, waivedText, waiverText } from "../../shared/model/waivers.js";
import type { SuiteOutcome } from "../engine/run-suite.js";
import { overallStatus } from "./check-output.js";

function label(r: CheckResult, iteration: number, iterations: number): string {
  const what = r.precondition ? `precondition ${r.checkId}` : r.checkId;
  return iterations > 1 ? `iteration ${iteration}: ${what}` : what;
}

function yamlString(text: string): string {
  return JSON.stringify(text);
}

/**
 * TAP 13. A not-ready node is a `Bail out!`: its gate checks were never run, so none is "not ok".
 * A bail out ends the stream (a harness stops reading there), so nothing follows it, not even a
 * later iteration, and the plan counts only the results before it.
 */
export function renderTap(outcomes: SuiteOutcome[]): string {
  const lines = ["TAP version 13"];
  const bail = outcomes.findIndex((o) => o.status === Status.NOT_READY);
  const shown = bail === -1 ? outcomes : outcomes.slice(0, bail + 1);
  const total = shown.reduce((n, o) => n + o.results.length, 0);
  lines.push(`1..${total}`);
  let n = 0;
  shown.forEach((o, i) => {
    for (const r of o.results) {
      n++;
      const name = label(r, i + 1, outcomes.length).replace(/#/g, "\\#");
      if (r.status === Status.SKIPPED) {
        lines.push(`ok ${n} - ${name} # SKIP ${r.reason}`);
        continue;
      }
      if (r.status === Status.WAIVED) {
        // TAP's TODO is a known failure that does not fail the run: a waiver, keeping what happened.
        lines.push(`${r.unwaivedStatus === Status.PASSED ? "ok" : "not ok"} ${n} - ${name} # TODO ${waivedText(r).replace(/#/g, "\\#")}${r.waiver ? `; ${waiverText(r.waiver).replace(/#/g, "\\#")}` : ""}`);
        continue;
      }
      lines.push(`${r.status === Status.PASSED ? "ok" : "not ok"} ${n} - ${name}`);
      if (r.status !== Status.PASSED) {
        lines.push("  ---", `  status: ${statusName(r.status)}`, `  message: ${yamlString(r.summary)}`);
        if (r.hint) lines.push(`  hint: ${yamlString(r.hint)}`);
        lines.push("  ...");
      }
    }
    if (o.status === Status.NOT_READY) lines.push(`Bail out! ${o.summary}`);
  });
  return `${lines.join("\n")}\n`;
}

function junitOutcome(r: CheckResult): JunitCase["outcome"] {
  if (r.status === Status.PASSED) return "passed";
  // JUnit has no waived: not a failure of the gate, and its message says waived.
  if (r.status === Status.SKIPPED || r.status === Status.WAIVED) return "skipped";
  if (r.status === Status.FAILED) return "failed";
  // not ready, error: CI must show them as neither passed nor failed tests.
  return "error";
}

/**
 * The local check's verdict as a test: it passes only when the check exits 0 (check-output.ts
 * overallStatus, the exit code's own fold). Without it a suite whose every check was skipped
 * (destructive, not allowed) had no failure and no error, and read green in CI while exiting 2.
 */
function verdictSuite(outcomes: SuiteOutcome[], host: string): JunitSuite {
  const status = overallStatus(outcomes);
  const why = outcomes.flatMap((o, i) => (o.status === Status.PASSED ? [] : [`${outcomes.length > 1 ? `iteration ${i + 1}: ` : ""}${statusName(o.status)}${o.summary ? `: ${o.summary}` : ""}`]));
  return {
    name: VERDICT_SUITE,
    hostname: host,
    startedAtMs: Number(outcomes[0]?.results[0]?.startedAtMs ?? 0n),
    properties: [{ name: "status", value: statusName(status) }],
    cases: [
      {
        classname: VERDICT_CLASSNAME,
        name: VERDICT_NAME,
        seconds: 0,
        // As the exit code: passed or waived is green (the waived iterations are listed in the message).
        outcome: isGreen(status) ? "passed" : "failed",
        type: statusName(status),
        message: why.map((w) => w.replace(/\s*\r?\n\s*/g, " ")).join("; ") || statusName(status),
        output: why.join("\n") || undefined,
      },
    ],
  };
}

export function renderJunit(suiteName: string, outcomes: SuiteOutcome[], host = hostname()): string {
  return buildJunitXml([
    verdictSuite(outcomes, host),
    ...outcomes.map((o, i) => ({
      name: outcomes.length > 1 ? `${suiteName} [iteration ${i + 1}]` : suiteName,
      hostname: host,
      startedAtMs: Number(o.results[0]?.startedAtMs ?? 0n),
      ...(runAsProperties(o.results).length ? { properties: runAsProperties(o.results) } : {}),
      cases: o.results.map((r) => ({
        classname: suiteName,
        name: r.precondition ? `precondition ${r.checkId}` : r.checkId,
        seconds: Number(r.durationMs) / 1000,
        outcome: junitOutcome(r),
        message: r.status === Status.SKIPPED ? r.reason : r.waiver ? waivedDetail(r) : `${statusName(r.status)}: ${r.summary}${r.hint ? ` (hint: ${r.hint})` : ""}`,
        output: r.status === Status.PASSED ? undefined : [r.stdoutTail, r.stderrTail].filter(Boolean).join("\n"),
      })),
    })),
  ]);
}
