import { describe, expect, it } from "vitest";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import { jsonReport, REPORT_SCHEMA } from "../../coordinator/reports/json.js";
import { expectGolden } from "../golden/expect-golden.js";
import { gateRun, narrowedSignedOff } from "./run-report.fixture.js";

const json = (run = gateRun()) => jsonReport(run, judgeRun(run));

describe("jsonReport (fleetgate.report/v1)", () => {
  it("renders a gate run exactly as the golden file", () => {
    expectGolden("gate-run.json", json());
  });

  it("leads with schema, run, verdict, scope, stages in that order, and the verdict of the judgement", () => {
    const doc = JSON.parse(json()) as Record<string, any>;
    expect(Object.keys(doc)).toEqual(["schema", "run", "verdict", "scope", "stages"]);
    expect(doc.schema).toBe(REPORT_SCHEMA);
    expect(doc.verdict.decision).toBe("NO-GO");
    expect(doc.verdict.reasons).toEqual(judgeRun(gateRun()).reasons);
    expect(doc.stages.map((s: { id: string; status: string }) => [s.id, s.status])).toEqual([
      ["smoke", "passed"], ["fleet", "failed"], ["handoff", "failed"], ["matrix", "cancelled"],
    ]);
  });

  it("gives the scope next to the verdict: full with no override, or each override with who accepted it at sign-off and why", () => {
    expect((JSON.parse(json()) as Record<string, any>).scope).toEqual({ full: true, overrides: [] });
    const doc = JSON.parse(json(narrowedSignedOff(gateRun()))) as Record<string, any>;
    expect(doc.scope).toEqual({
      full: false,
      overrides: [
        { name: "iterations", detail: "iterations 1 of 2 on fleet", accepted: { by: "ana", reason: "the second iteration ran in yesterday's run" } },
        { name: "nodes", detail: "node subset: node-b of node-a, node-b on fleet", accepted: null },
      ],
    });
  });

  it("names statuses in words and gives a reproduce line only to checks that need one", () => {
    const doc = JSON.parse(json()) as Record<string, any>;
    const checks = doc.stages.flatMap((s: any) => s.tasks.flatMap((t: any) => t.checks.map((c: any) => [t.node, t.iteration, c.id, c.status, c.reproduce?.command ?? null])));
    expect(checks).toContainEqual(["node-b", 2, "http", "failed", "fleetgate-agent check plans/suites/app.yaml --only http"]);
    expect(checks).toContainEqual(["node-c", 1, "synced", "not_ready", "fleetgate-agent check plans/suites/app.yaml"]);
    expect(checks).toContainEqual(["node-b", 2, "wipe-volume", "skipped", null]);
    expect(checks).toContainEqual(["node-a", 1, "http", "passed", null]);
  });

  it("sorts map keys, so the same data in another insertion order gives the same bytes", () => {
    const a = gateRun();
    const b = gateRun();
    const write = b.tasks.find((t) => t.stepId === "write")!;
    write.checks[0]!.captured = { z: "1", doc_id: "d-42" };
    a.tasks.find((t) => t.stepId === "write")!.checks[0]!.captured = { doc_id: "d-42", z: "1" };
    expect(json(a)).toBe(json(b));
  });
});
