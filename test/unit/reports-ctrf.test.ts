import { validate } from "ctrf";
import { describe, expect, it } from "vitest";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import { ctrfDocument, ctrfReport, ctrfStatus, type CtrfTest } from "../../coordinator/reports/ctrf.js";
import { Status, statusName } from "../../shared/model/status.js";
import { gateRun, greenRun, narrowedSignedOff } from "./run-report.fixture.js";

interface Doc {
  results: {
    summary: Record<string, number> & { extra: { decision: string; scope: string } };
    tests: CtrfTest[];
    tool: { name: string };
    environment: { healthy?: boolean };
    extra: { decision: string; scope: unknown };
  };
}

const doc = (run = gateRun()) => ctrfDocument(run, judgeRun(run)) as unknown as Doc;
const verdictTest = (d: Doc) => d.results.tests.find((t) => t.name === "verdict" && t.suite[0] === "fleetgate verdict");

/** gateRun cut down to its passed tasks, but a quick run: no check failed, and it is INCOMPLETE. */
function quickRun() {
  const run = greenRun();
  run.mode = "quick";
  return run;
}

describe("ctrfReport", () => {
  it.each([
    { name: "NO-GO", run: gateRun },
    { name: "INCOMPLETE", run: quickRun },
    { name: "GO", run: greenRun },
    { name: "narrowed, signed-off", run: () => narrowedSignedOff(gateRun()) },
  ])("is valid against the official CTRF JSON schema (the ctrf package's validator) for a $name run", ({ run }) => {
    const result = validate(JSON.parse(ctrfReport(run(), judgeRun(run()))));
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it("fails the verdict test of a NO-GO run, with the decision and every reason in its message and one reason a line in its trace", () => {
    const j = judgeRun(gateRun());
    expect(j.decision).toBe("NO-GO");
    const d = doc();
    expect(d.results.tests[0]).toBe(verdictTest(d));
    expect(verdictTest(d)).toMatchObject({ status: "failed", rawStatus: "NO-GO", message: `NO-GO: ${j.reasons.join("; ")}`, trace: j.reasons.join("\n") });
    expect(d.results.environment.healthy).toBe(false);
  });

  it("fails the verdict test of an INCOMPLETE run in which no check failed, so a reader of the counts cannot go green", () => {
    expect(judgeRun(quickRun()).decision).toBe("INCOMPLETE");
    const d = doc(quickRun());
    expect(d.results.tests.filter((t) => t !== verdictTest(d)).every((t) => t.status === "passed")).toBe(true);
    expect(d.results.summary.failed).toBe(1);
    expect(verdictTest(d)).toMatchObject({ status: "failed", rawStatus: "INCOMPLETE", message: "INCOMPLETE: quick run: checks tagged quick only; never signable" });
    expect(d.results.summary.extra.decision).toBe("INCOMPLETE");
    expect(d.results.environment.healthy).toBe(false);
  });

  it("passes the verdict test of a GO run and counts no failure", () => {
    const d = doc(greenRun());
    expect(verdictTest(d)).toMatchObject({ status: "passed", rawStatus: "GO" });
    expect(verdictTest(d)?.message).toBeUndefined();
    expect(d.results.summary.failed).toBe(0);
    expect(d.results.summary.extra).toEqual({ decision: "GO", scope: "full" });
    expect(d.results.environment.healthy).toBe(true);
  });

  it("reports a leg skipped by its failed requires: probe as skipped with the probe's words, never as failed", () => {
    const byName = new Map(doc().results.tests.map((t) => [t.name, t]));
    expect(byName.get("matrix/plasma on node-a: probe.nested-kvm")).toMatchObject({
      status: "skipped",
      rawStatus: "failed",
      message: 'requires probe.nested-kvm: expected /sys/module/kvm_intel/parameters/nested to contain "Y", saw "N"; hint: enable nested KVM (options kvm-intel nested=1) and reboot once',
      extra: { step: "plasma", precondition: true },
    });
    expect([...byName.keys()].filter((n) => n.startsWith("matrix/plasma on "))).toEqual(["matrix/plasma on node-a: probe.nested-kvm"]);
  });

  it("carries a narrowed scope and each override accepted at sign-off in the summary, the results and the verdict test", () => {
    const d = doc(narrowedSignedOff(gateRun()));
    const narrowed = "narrowed — iterations 1 of 2 on fleet; node subset: node-b of node-a, node-b on fleet";
    expect(d.results.summary.extra.scope).toBe(narrowed);
    expect(d.results.extra.scope).toEqual({
      full: false,
      overrides: [
        { name: "iterations", detail: "iterations 1 of 2 on fleet", accepted: { by: "ana", reason: "the second iteration ran in yesterday's run" } },
        { name: "nodes", detail: "node subset: node-b of node-a, node-b on fleet", accepted: null },
      ],
    });
    expect(verdictTest(d)?.extra).toMatchObject({ scope: narrowed, accepted: ["accepted at sign-off by ana: iterations — the second iteration ran in yesterday's run"] });
    expect(doc().results.extra.scope).toEqual({ full: true, overrides: [] });
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
    // failed: http, lifecycle, lifecycle/upgrade, read-doc and the verdict; skipped: wipe-volume,
    // the plasma leg's probe and the two skips decided before the run.
    expect([s.failed, s.skipped, s.other]).toEqual([5, 4, 3]);
    expect([s.start, s.stop]).toEqual([1_732_514_400_000, 1_732_515_000_000]);
  });

  it("keeps not ready, lost and cancelled as other with our status, a message, and where it ran", () => {
    const byName = new Map(doc().results.tests.map((t) => [t.name, t]));
    expect(byName.get("fleet on node-c #1: synced")).toMatchObject({ status: "other", rawStatus: "not_ready", message: "blocks 10/800000: IBD in progress; hint: wait for IBD to finish", extra: { node: "node-c", stage: "fleet", iteration: 1 } });
    expect(byName.get("fleet on node-d #1: (task)")).toMatchObject({ status: "other", rawStatus: "lost", message: "node node-d lost: not connected for 5 min" });
    expect(byName.get("matrix/billing on node-b: (task)")).toMatchObject({ status: "other", rawStatus: "cancelled", extra: { step: "billing" } });
    expect(byName.get("skip/matrix/kvm")).toMatchObject({ status: "skipped", message: "nested KVM disabled on the only matching host", extra: { source: "--skip" } });
  });

  it("carries a failure's output as trace and lines, its inner cases as tests, and its reproduce line", () => {
    const byName = new Map(doc().results.tests.map((t) => [t.name, t]));
    const http = byName.get("fleet on node-b #2: http")!;
    expect(http).toMatchObject({ status: "failed", duration: 250, filePath: "suites/app.yaml", stdout: ["<html><script>alert(1)</script></html>"] });
    expect(http.trace).toContain("upstream \u0007timed out");
    expect(http.extra.reproduce).toEqual({ where: "node", node: "node-b", command: "fleetgate-agent check plans/suites/app.yaml --only http" });
    expect(byName.get("fleet on node-b #2: lifecycle/upgrade")).toMatchObject({ status: "failed", message: "abra app upgrade exited 1" });
    expect(byName.get("fleet on node-a #1: http")).toMatchObject({ status: "passed", retries: 2 });
  });

  it("marks a check flaky when the judgement names it", () => {
    const run = gateRun();
    const j = { ...judgeRun(run), flakes: [{ stageId: "fleet", node: "node-b", checkId: "http", passed: 1, total: 2, runIds: ["g1", "g0"] }] };
    const { results } = ctrfDocument(run, j) as unknown as Doc;
    expect(results.tests.filter((t) => t.flaky).map((t) => t.name)).toEqual(["fleet on node-b #1: http", "fleet on node-b #2: http"]);
    expect(results.summary.flaky).toBe(2);
  });

  it("gives the same bytes for the same run", () => {
    const run = () => narrowedSignedOff(gateRun());
    expect(ctrfReport(run(), judgeRun(run()))).toBe(ctrfReport(run(), judgeRun(run())));
  });
});
