// TAP 13 and JUnit renderings of `fleetgate-agent check` results. Pure: outcomes in, text out.
import { hostname } from "node:os";
import type { CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { buildJunitXml, type JunitCase } from "../../shared/junit-xml.js";
import { Status, statusName } from "../../shared/model/status.js";
import type { SuiteOutcome } from "../engine/run-suite.js";

function label(r: CheckResult, iteration: number, iterations: number): string {
  const what = r.precondition ? `precondition ${r.checkId}` : r.checkId;
  return iterations > 1 ? `iteration ${iteration}: ${what}` : what;
}

function yamlString(text: string): string {
  return JSON.stringify(text);
}

/** TAP 13. A not-ready node is a `Bail out!`: its gate checks were never run, so none is "not ok". */
export function renderTap(outcomes: SuiteOutcome[]): string {
  const lines = ["TAP version 13"];
  const total = outcomes.reduce((n, o) => n + o.results.length, 0);
  lines.push(`1..${total}`);
  let n = 0;
  outcomes.forEach((o, i) => {
    for (const r of o.results) {
      n++;
      const name = label(r, i + 1, outcomes.length).replace(/#/g, "\\#");
      if (r.status === Status.SKIPPED) {
        lines.push(`ok ${n} - ${name} # SKIP ${r.reason}`);
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
  if (r.status === Status.SKIPPED) return "skipped";
  if (r.status === Status.FAILED) return "failed";
  // not ready, error: CI must show them as neither passed nor failed tests.
  return "error";
}

export function renderJunit(suiteName: string, outcomes: SuiteOutcome[], host = hostname()): string {
  return buildJunitXml(
    outcomes.map((o, i) => ({
      name: outcomes.length > 1 ? `${suiteName} [iteration ${i + 1}]` : suiteName,
      hostname: host,
      startedAtMs: Number(o.results[0]?.startedAtMs ?? 0n),
      cases: o.results.map((r) => ({
        classname: suiteName,
        name: r.precondition ? `precondition ${r.checkId}` : r.checkId,
        seconds: Number(r.durationMs) / 1000,
        outcome: junitOutcome(r),
        message: r.status === Status.SKIPPED ? r.reason : `${statusName(r.status)}: ${r.summary}${r.hint ? ` (hint: ${r.hint})` : ""}`,
        output: r.status === Status.PASSED ? undefined : [r.stdoutTail, r.stderrTail].filter(Boolean).join("\n"),
      })),
    })),
  );
}
