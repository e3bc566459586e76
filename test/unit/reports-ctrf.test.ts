import { validate } from "ctrf";
import { describe, expect, it } from "vitest";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import { ctrfDocument, ctrfReport, ctrfStatus, type CtrfTest } from "../../coordinator/reports/ctrf.js";
import { Status, statusName } from "../../shared/model/status.js";
import { gateRun } from "./run-report.fixture.js";

const doc = (run = gateRun()) => ctrfDocument(run, judgeRun(run)) as { results: { summary: Record<string, number>; tests: CtrfTest[]; tool: { name: string } } };

describe("ctrfReport", () => {
  it("is valid against the official CTRF JSON schema (the ctrf package's validator)", () => {
    const result = validate(JSON.parse(ctrfReport(gateRun(), judgeRun(gateRun()))));
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("has a validator that rejects our own statuses, so the test above can fail", () => {
    const bad = JSON.parse(ctrfReport(gateRun(), judgeRun(gateRun()))) as { results: { tests: { status: string }[] } };
    bad.results.tests[0]!.status = "not_ready";
    expect(validate(bad).valid).toBe(false);
  });

  it.each(Object.values(Status).filter((s): s is Status => typeof s === "number").map((s) => ({ s, name: statusName(s) })))("maps a $name check to a CTRF status that is a pass only when it passed", ({ s }) => {
    const expected = { [Status.PASSED]: "passed", [Status.FAILED]: "failed", [Status.SKIPPED]: "skipped", [Status.PENDING]: "pending", [Status.RUNNING]: "pending" }[s as number] ?? "other";
    expect(ctrfStatus(s)).toBe(expected);
  });

  it("counts every test once in the summary and times it from the run", () => {
    const { results } = doc();
    const s = results.summary;
    expect(results.tool.name).toBe("fleetgate");
    expect(s.tests).toBe(results.tests.length);
    expect(s.passed! + s.failed! + s.skipped! + s.pending! + s.other!).toBe(s.tests);
    expect([s.failed, s.skipped, s.other]).toEqual([4, 3, 3]);
    expect([s.start, s.stop]).toEqual([1_732_514_400_000, 1_732_515_000_000]);
  });

  it("keeps not ready, lost and cancelled as other with our status, a message, and where it ran", () => {
    const byName = new Map(doc().results.tests.map((t) => [t.name, t]));
    expect(byName.get("fleet/node-c#1/synced")).toMatchObject({ status: "other", rawStatus: "not_ready", message: "blocks 10/800000: IBD in progress; hint: wait for IBD to finish", extra: { node: "node-c", stage: "fleet", iteration: 1 } });
    expect(byName.get("fleet/node-d#1/(task)")).toMatchObject({ status: "other", rawStatus: "lost", message: "node node-d lost: not connected for 5 min" });
    expect(byName.get("matrix/billing@node-b#1/(task)")).toMatchObject({ status: "other", rawStatus: "cancelled", extra: { step: "billing" } });
    expect(byName.get("skip/matrix/kvm")).toMatchObject({ status: "skipped", message: "nested KVM disabled on the only matching host", extra: { source: "--skip" } });
  });

  it("carries a failure's output as trace and lines, its inner cases as tests, and its reproduce line", () => {
    const byName = new Map(doc().results.tests.map((t) => [t.name, t]));
    const http = byName.get("fleet/node-b#2/http")!;
    expect(http).toMatchObject({ status: "failed", duration: 250, filePath: "suites/app.yaml", stdout: ["<html><script>alert(1)</script></html>"] });
    expect(http.trace).toContain("upstream \u0007timed out");
    expect(http.extra.reproduce).toEqual({ where: "node", node: "node-b", command: "fleetgate-agent check plans/suites/app.yaml --only http" });
    expect(byName.get("fleet/node-b#2/lifecycle/upgrade")).toMatchObject({ status: "failed", message: "abra app upgrade exited 1" });
    expect(byName.get("fleet/node-a#1/http")).toMatchObject({ status: "passed", retries: 2 });
  });

  it("marks a check flaky when the judgement names it", () => {
    const run = gateRun();
    const j = { ...judgeRun(run), flakes: [{ stageId: "fleet", node: "node-b", checkId: "http", passed: 1, total: 2, runIds: ["g1", "g0"] }] };
    const { results } = ctrfDocument(run, j) as ReturnType<typeof doc>;
    expect(results.tests.filter((t) => t.flaky).map((t) => t.name)).toEqual(["fleet/node-b#1/http", "fleet/node-b#2/http"]);
    expect(results.summary.flaky).toBe(2);
  });

  it("gives the same bytes for the same run", () => {
    expect(ctrfReport(gateRun(), judgeRun(gateRun()))).toBe(ctrfReport(gateRun(), judgeRun(gateRun())));
  });
});
