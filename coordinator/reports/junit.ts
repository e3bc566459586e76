// The run as JUnit XML for CI: first a `fleetgate verdict` suite whose one `verdict` testcase
// fails unless the run is GO (verdict-case.ts: CI counts tests, so an INCOMPLETE run must fail
// one), with the run's scope as properties; then one <testsuite> per task, named as everywhere
// (`fleet on node-b #2`, `cross/fetch on peer (node-b)`: shared/model/task-names.ts), one
// <testcase> per check (classname `stage.node`), a check's inner cases as `check/case`. Only a pass is a pass: failed → <failure>; not ready, lost, error (and
// anything unfinished) → <error>; skipped and cancelled → <skipped>. A task that did not pass but
// has no check that says so (a lost node, a cancelled leg) gets one `(task)` testcase, and skips
// decided before the run get a `skips` suite, so CI never counts them as green. A leg skipped by
// its failed `requires:` probe is skipped, probe included (run-view.ts reportedStatus). The XML
// itself is shared/junit-xml.ts.
import type { CheckResult, TestCase } from "../../shared/gen/fleetgate/v1/common_pb.js";
import type { RunRecord, TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { buildJunitXml, runAsProperties, type JunitCase, type JunitSuite } from "../../shared/junit-xml.js";
import { Status, statusName } from "../../shared/model/status.js";
import { waivedDetail } from "../../shared/model/waivers.js";
import { taskLabel } from "../../shared/model/task-names.js";
import type { Judgement } from "../judgement/types.js";
import { judgeRun } from "../judgement/verdict.js";
import { reportedStatus, skippedCheckReason } from "./run-view.js";
import { VERDICT_CLASSNAME, VERDICT_NAME, VERDICT_SUITE, verdictCase } from "./verdict-case.js";

/** Characters XML 1.0 cannot carry at all (not even escaped), shown as `\uXXXX` instead. */
const NOT_XML = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function xmlSafe(text: string): string {
  return text.replace(NOT_XML, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const oneLine = (text: string) => xmlSafe(text.replace(/\s*\r?\n\s*/g, " ").trim());

export function junitOutcome(status: Status): JunitCase["outcome"] {
  if (status === Status.PASSED) return "passed";
  if (status === Status.FAILED) return "failed";
  // JUnit has no waived: a waived check is not a failure of the gate, and its message says waived.
  if (status === Status.SKIPPED || status === Status.CANCELLED || status === Status.WAIVED) return "skipped";
  return "error";
}

/** What failed or errored, in words: the status leads so `not_ready` and `lost` read as such. */
function message(status: Status, summary: string, reason: string, hint: string): string {
  if (status === Status.SKIPPED || status === Status.CANCELLED) return oneLine(`${statusName(status)}: ${reason || summary}`);
  return oneLine(`${statusName(status)}: ${summary || reason}${hint ? ` (hint: ${hint})` : ""}`);
}

/** The check's output tails, labelled, as evidence in the failure or error body. */
function output(c: CheckResult): string | undefined {
  if (c.status === Status.PASSED) return undefined;
  const parts: string[] = [];
  if (c.stdoutTail) parts.push(`--- stdout (tail) ---\n${c.stdoutTail.trimEnd()}`);
  if (c.stderrTail) parts.push(`--- stderr (tail) ---\n${c.stderrTail.trimEnd()}`);
  return parts.length ? xmlSafe(parts.join("\n")) : undefined;
}

function checkCases(classname: string, t: TaskRecord, c: CheckResult): JunitCase[] {
  const name = c.precondition ? `precondition ${c.checkId}` : c.checkId;
  const status = reportedStatus(t, c.status);
  const own: JunitCase = {
    classname,
    name: oneLine(name),
    seconds: Number(c.durationMs) / 1000,
    outcome: junitOutcome(status),
    type: statusName(status),
    message: c.waiver ? oneLine(waivedDetail(c)) : status === c.status ? message(c.status, c.summary, c.reason, c.hint) : message(status, "", skippedCheckReason(c), ""),
    output: output(c),
  };
  const inner = c.cases.map((k: TestCase): JunitCase => {
    const s = reportedStatus(t, k.status);
    return {
      classname,
      name: oneLine(`${c.checkId}/${k.name}`),
      seconds: Number(k.durationMs) / 1000,
      outcome: junitOutcome(s),
      type: statusName(s),
      message: s === k.status ? message(k.status, k.message, k.message, "") : message(s, "", skippedCheckReason(c), ""),
    };
  });
  return [own, ...inner];
}

function taskSuite(run: RunRecord, hosts: Map<string, string>, t: TaskRecord): JunitSuite {
  const classname = oneLine(`${t.stageId}.${t.nodeName}`);
  const cases = t.checks.flatMap((c) => checkCases(classname, t, c));
  const shown = t.checks.some((c) => junitOutcome(reportedStatus(t, c.status)) !== "passed");
  if (t.status !== Status.PASSED && !shown) {
    const seconds = t.finishedAtMs > t.startedAtMs && t.startedAtMs > 0n ? Number(t.finishedAtMs - t.startedAtMs) / 1000 : 0;
    cases.push({ classname, name: "(task)", seconds, outcome: junitOutcome(t.status), type: statusName(t.status), message: message(t.status, t.summary, t.summary, "") });
  }
  const host = hosts.get(t.nodeName) || t.nodeName;
  const properties = runAsProperties(t.checks);
  return { name: oneLine(taskLabel(t)), hostname: oneLine(host), startedAtMs: Number(t.startedAtMs || run.startedAtMs), cases, ...(properties.length ? { properties } : {}) };
}

function skipSuite(run: RunRecord): JunitSuite | undefined {
  if (!run.skips.length) return undefined;
  const accepted = new Set((run.signoff?.accepted ?? []).map((s) => s.target));
  return {
    name: "skips",
    hostname: "localhost",
    startedAtMs: Number(run.startedAtMs),
    cases: run.skips.map((s) => ({
      classname: "skip",
      name: oneLine(s.target),
      seconds: 0,
      outcome: "skipped",
      message: oneLine(`skipped (${s.source}): ${s.reason}${accepted.has(s.target) ? "; accepted at sign-off" : ""}`),
    })),
  };
}

/** The verdict as a suite of its own: its one case fails unless GO; the scope rides as properties. */
function verdictSuite(run: RunRecord, j: Judgement): JunitSuite {
  const v = verdictCase(run, j);
  const accepted = v.scopeLines.slice(1);
  return {
    name: VERDICT_SUITE,
    hostname: "localhost",
    startedAtMs: Number(run.startedAtMs),
    properties: [
      { name: "decision", value: j.decision },
      { name: "scope", value: oneLine(v.scopeText) },
      ...accepted.map((a) => ({ name: "scope.accepted", value: oneLine(a) })),
      ...(run.transport ? [{ name: "transport", value: run.transport }] : []),
    ],
    cases: [
      {
        classname: VERDICT_CLASSNAME,
        name: VERDICT_NAME,
        seconds: 0,
        outcome: v.passed ? "passed" : "failed",
        type: j.decision,
        message: oneLine(v.message),
        output: v.reasons ? xmlSafe(v.reasons) : undefined,
      },
    ],
    systemOut: xmlSafe(v.scopeLines.join("\n")),
  };
}

/** `judgement` defaults to this run judged alone (no flake history). */
export function junitReport(run: RunRecord, judgement: Judgement = judgeRun(run)): string {
  // Looked up once, not by a search of every node for each task (5,000 tasks × 1,000 nodes at fleet scale).
  const hosts = new Map(run.nodes.map((n) => [n.name, n.hostname]));
  const suites = run.tasks.map((t) => taskSuite(run, hosts, t));
  const skips = skipSuite(run);
  return buildJunitXml([verdictSuite(run, judgement), ...suites, ...(skips ? [skips] : [])]);
}
