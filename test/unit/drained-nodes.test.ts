// A drained node (coord nodes drain) takes no task of a new run, and a run that needs it says so;
// it is never silently skipped into a GO (a fleet stage without it is narrowed: override "drained").
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import type { RosterNode } from "../../coordinator/sequencer/node-choice.js";
import { resolveRun } from "../../coordinator/sequencer/plan-run.js";
import type { RunRequest } from "../../coordinator/sequencer/run-types.js";
import { RunRecordSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { parsePlan } from "../../shared/model/plan.js";
import { Status } from "../../shared/model/status.js";
import { parseSuite, type Suite } from "../../shared/model/suite.js";
import { refusal } from "../support/refusal.js";

const PLAN = parsePlan(
  `
plan: release
stages:
  - id: smoke
    kind: single
    suite: s.yaml
    node: { role: primary }
  - id: fleet
    kind: fleet
    suite: s.yaml
    nodes: { role: fleet }
  - id: pair
    kind: cross
    roles: { a: { role: fleet }, b: { role: fleet } }
    steps:
      - id: ping
        on: a
        command: { argv: ["true"] }
  - id: leg-stage
    kind: matrix
    legs:
      - id: kvm
        on: { role: primary }
        suite: s.yaml
`,
  "gate.yaml",
);
const SUITES: Record<string, Suite> = { "s.yaml": parseSuite('suite: s\nchecks:\n  - { id: up, command: { argv: ["true"] } }\n', "s.yaml") };
const node = (name: string, role: string, drained?: string): RosterNode => ({ name, labels: { role }, online: true, drained });
const req = (over: Partial<RunRequest> = {}): RunRequest => ({ stages: [], nodeNames: [], iterations: 0, ...over });
const resolve = (r: RunRequest, roster: RosterNode[]) => resolveRun(PLAN, SUITES, r, roster, "r1");

describe("a drained node and the resolver", () => {
  it("gives a drained fleet node no task, lists it as drained, and narrows the fleet stage (override drained)", () => {
    const run = resolve(req({ stages: ["fleet"] }), [node("p", "primary"), node("f1", "fleet"), node("f2", "fleet", "disk swap")]);
    expect(run.tasks.map((t) => t.node)).toEqual(["f1"]);
    const layout = run.layout[0];
    expect(layout?.kind).toBe("suite");
    if (layout?.kind !== "suite") return;
    expect(layout.nodes.excluded).toContainEqual({ name: "f2", reason: "drained", detail: "drained: disk swap; matches role=fleet" });
    expect(run.overrides).toEqual([{ name: "drained", detail: "drained f2 (drained: disk swap) left out of fleet" }]);
  });

  it("holds the verdict INCOMPLETE when every task of the narrowed run passed, until sign-off accepts 'drained'", () => {
    const run = resolve(req({ stages: ["fleet"] }), [node("f1", "fleet"), node("f2", "fleet", "")]);
    const record = create(RunRecordSchema, {
      runId: "r1",
      status: Status.PASSED,
      mode: "full",
      tasks: run.tasks.map((t) => ({ taskId: t.id, stageId: t.stageId, nodeName: t.node, iteration: t.iteration, status: Status.PASSED })),
      overrides: run.overrides,
    });
    const j = judgeRun(record);
    expect(j.decision).toBe("INCOMPLETE");
    expect(j.reasons).toEqual(["scope narrowed: drained f2 (drained) left out of fleet"]);
    record.signoff = { $typeName: "fleetgate.v1.SignOff", by: "ann", atMs: 1n, accepted: [], acceptedOverrides: [{ $typeName: "fleetgate.v1.Skip", target: "drained", reason: "f2 is being rebuilt", source: "" }], waivers: [] };
    expect(judgeRun(record).decision).toBe("GO");
  });

  it("refuses --node naming a drained node, saying it is drained and how to undrain it", () => {
    const err = refusal(() => resolve(req({ stages: ["fleet"], nodeNames: ["f2"] }), [node("f1", "fleet"), node("f2", "fleet", "kernel upgrade")]));
    expect(err.code).toBe("conflict");
    expect(err.message).toBe("--node f2: this run needs f2 (drained: kernel upgrade), drained by an operator: it takes no new task; undrain it when it may take work again: coord nodes undrain f2");
  });

  it("refuses a single stage whose selector only the drained node matches, naming the drain", () => {
    const err = refusal(() => resolve(req({ stages: ["smoke"] }), [node("p", "primary", "maintenance"), node("f1", "fleet")]));
    expect(err.message).toBe("stage smoke (matching role=primary) needs p (drained: maintenance), drained by an operator: it takes no new task; undrain it when it may take work again: coord nodes undrain p");
  });

  it("refuses a matrix leg whose only node is drained", () => {
    const err = refusal(() => resolve(req({ stages: ["leg-stage"] }), [node("p", "primary", "")]));
    expect(err.message).toContain("needs p (drained), drained by an operator");
  });

  it("binds cross roles around a drained node, and refuses when the roles cannot be filled without it", () => {
    const ok = resolve(req({ stages: ["pair"] }), [node("f1", "fleet"), node("f2", "fleet", "x"), node("f3", "fleet")]);
    expect(ok.bindings.map((b) => b.node)).toEqual(["f1", "f3"]);
    const layout = ok.layout[0];
    if (layout?.kind !== "cross") throw new Error(`expected a cross layout, got ${layout?.kind}`);
    expect(layout.nodes.excluded).toContainEqual({ name: "f2", reason: "drained", detail: "drained: x; matches role=fleet" });
    const err = refusal(() => resolve(req({ stages: ["pair"], bindings: { b: "f2" } }), [node("f1", "fleet"), node("f2", "fleet", "x"), node("f3", "fleet")]));
    expect(err.message).toBe("stage pair role b (--bind b=f2) needs f2 (drained: x), drained by an operator: it takes no new task; undrain it when it may take work again: coord nodes undrain f2");
  });

  it("runs as before once the node is undrained: no exclusion, no override", () => {
    const run = resolve(req({ stages: ["fleet"] }), [node("f1", "fleet"), node("f2", "fleet")]);
    expect(run.tasks.map((t) => t.node)).toEqual(["f1", "f2"]);
    expect(run.overrides).toEqual([]);
  });
});
