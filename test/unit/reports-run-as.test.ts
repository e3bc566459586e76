// A check that ran as a `user:` says whom it ran as wherever a check's details are shown (issue
// 15): the JUnit report (a testsuite property: the XSD has none on a testcase), CTRF's extra, the
// JSON and HTML reports, the markdown table of checks that did not pass, `coord run`'s live lines
// and `fleetgate-agent check`'s text, JSON and JUnit. A check that ran as the agent shows nothing new.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { formatCheckLine, outcomeJson } from "../../agent/cli/check-output.js";
import { renderJunit } from "../../agent/cli/check-formats.js";
import { emptyProgress, plainLines } from "../../coordinator/cli/progress.js";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import { ctrfDocument } from "../../coordinator/reports/ctrf.js";
import { htmlReport } from "../../coordinator/reports/html.js";
import { jsonReport } from "../../coordinator/reports/json.js";
import { junitReport } from "../../coordinator/reports/junit.js";
import { markdownReport } from "../../coordinator/reports/markdown.js";
import { CheckResultSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { WatchRunResponseSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status } from "../../shared/model/status.js";
import { sampleRun } from "./run-report.fixture.js";

/** sampleRun with its failed http check (fleet, n1, #2) run as nobody. */
function runAsNobody() {
  const run = sampleRun();
  const check = run.tasks.find((t) => t.stageId === "fleet" && t.nodeName === "n1" && t.iteration === 2)?.checks.find((c) => c.checkId === "http");
  if (!check) throw new Error("sampleRun changed: no failed http check on n1 #2");
  check.runAs = "nobody";
  return run;
}

describe("coordinator reports of a check run as a user", () => {
  const run = runAsNobody();
  const judgement = judgeRun(run);

  it("JUnit: a run_as.CHECK property on the task's testsuite, and none for a run without user:", () => {
    const xml = junitReport(run, judgement);
    const suite = /<testsuite [^>]*name="fleet on n1 #2"[^]*?<\/testsuite>/.exec(xml)?.[0] ?? "";
    expect(suite).toContain('<property name="run_as.http" value="nobody"/>');
    expect(xml.match(/run_as\./g)).toHaveLength(1);
    expect(junitReport(sampleRun())).not.toContain("run_as");
  });

  it("CTRF: extra.runAs on that check's test only", () => {
    const tests = (ctrfDocument(run, judgement) as unknown as { results: { tests: { name: string; extra?: { runAs?: string } }[] } }).results.tests;
    expect(tests.filter((t) => t.extra?.runAs).map((t) => [t.name, t.extra?.runAs])).toEqual([[expect.stringContaining(": http"), "nobody"]]);
  });

  it("JSON: runAs on that check only", () => {
    const checks: { id: string; runAs?: string }[] = [];
    JSON.parse(jsonReport(run, judgement), (key, value) => (key === "checks" && Array.isArray(value) ? (checks.push(...value), value) : value));
    expect(checks.length).toBeGreaterThan(1);
    expect(checks.filter((c) => "runAs" in c)).toEqual([expect.objectContaining({ id: "http", runAs: "nobody" })]);
  });

  it("HTML: the check's detail says whom it ran as, and so does a passed cell's title", () => {
    expect(htmlReport(run, judgement)).toContain('<p class="meta">ran as user nobody</p>');
    expect(htmlReport(sampleRun(), judgeRun(sampleRun()))).not.toContain("ran as user");
    // A passed check in a row that did not pass: n1's precondition, beside its failed http check.
    const passed = sampleRun();
    const synced = passed.tasks.find((t) => t.stageId === "fleet" && t.nodeName === "n1" && t.iteration === 2)?.checks.find((c) => c.checkId === "synced");
    if (synced) synced.runAs = "bitcoin";
    expect(htmlReport(passed, judgeRun(passed))).toContain('title="passed in #2: ok (as bitcoin)"');
  });

  it("markdown: the observed cell of the check that did not pass", () => {
    expect(markdownReport(run, judgement)).toContain("expected status 200, saw 503 (as nobody)");
  });

  it("coord run's live lines: the result line", () => {
    const update = create(WatchRunResponseSchema, {
      event: { case: "check", value: { taskId: "r1/fleet/n1/2", stageId: "fleet", nodeName: "n1", iteration: 2, result: { checkId: "whoami", status: Status.PASSED, summary: "exit 0", kind: "command", runAs: "nobody" } } },
    });
    expect(plainLines(emptyProgress(), update)).toEqual(["[fleet] n1 #2  ok    whoami  exit 0 (as nobody)"]);
  });
});

describe("fleetgate-agent check output of a check run as a user", () => {
  const asNobody = create(CheckResultSchema, { checkId: "whoami", kind: "command", status: Status.PASSED, summary: "exit 0", runAs: "nobody", startedAtMs: 1n });
  const asAgent = create(CheckResultSchema, { checkId: "disk", kind: "disk", status: Status.PASSED, summary: "ok", startedAtMs: 1n });
  const outcome = { status: Status.PASSED, summary: "2/2 passed", results: [asNobody, asAgent] };

  it("text: the line says (as USER), a check run as the agent says nothing", () => {
    expect(formatCheckLine(asNobody)).toMatch(/ exit 0 \(as nobody\)$/);
    expect(formatCheckLine(asAgent)).not.toContain("(as ");
  });

  it("JSON: runAs on the result that has one", () => {
    const doc = JSON.parse(outcomeJson("s", [outcome])) as { iterations: { results: { checkId: string; runAs?: string }[] }[] };
    expect(doc.iterations[0]?.results.map((r) => [r.checkId, r.runAs])).toEqual([
      ["whoami", "nobody"],
      ["disk", undefined],
    ]);
  });

  it("JUnit: a run_as property on the iteration's testsuite", () => {
    const xml = renderJunit("s", [outcome], "node-a");
    expect(xml).toContain('<property name="run_as.whoami" value="nobody"/>');
    expect(xml).not.toContain("run_as.disk");
  });
});
