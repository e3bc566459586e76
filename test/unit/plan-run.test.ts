import { describe, expect, it } from "vitest";
import { resolveRun, selectStages, type RosterNode, type RunRequest } from "../../coordinator/sequencer/plan-run.js";
import { FleetgateError } from "../../shared/errors.js";
import { parsePlan } from "../../shared/model/plan.js";

const GATE = parsePlan(
  `
plan: release
stages:
  - id: smoke
    kind: single
    suite: smoke.suite.yaml
    node: { role: primary }
    iterations: 3
  - id: fleet-lifecycle
    kind: fleet
    suite: lifecycle.suite.yaml
    nodes: { role: fleet }
    iterations: 2
    parallel: 1
  - id: handover
    kind: cross
    roles: { a: { role: fleet }, b: { role: fleet } }
    steps:
      - id: ping
        on: a
        command: { argv: ["true"] }
  - id: integration
    kind: matrix
    legs:
      - id: leg1
        on: { role: fleet }
        suite: leg.suite.yaml
`,
  "gate.yaml",
);

const SUITE_ONLY = parsePlan(
  `
plan: suites
stages:
  - id: smoke
    kind: single
    suite: smoke.suite.yaml
    node: { role: primary }
  - id: fleet-lifecycle
    kind: fleet
    suite: lifecycle.suite.yaml
    nodes: { role: fleet }
    allow_destructive: true
`,
  "suites.yaml",
);

const node = (name: string, labels: Record<string, string>, online = true): RosterNode => ({ name, labels, online });
const ROSTER = [node("prim", { role: "primary" }), node("f1", { role: "fleet" }), node("f2", { role: "fleet" }), node("laptop", { role: "dev" })];
const req = (over: Partial<RunRequest> = {}): RunRequest => ({ stages: [], nodeNames: [], iterations: 0, ...over });

function failure(fn: () => unknown): FleetgateError {
  try {
    fn();
  } catch (err) {
    if (err instanceof FleetgateError) return err;
    throw err;
  }
  throw new Error("expected a FleetgateError, nothing was thrown");
}

describe("selectStages", () => {
  it("picks stages by id, in plan order whatever order they were asked in", () => {
    expect(selectStages(GATE, ["fleet-lifecycle", "smoke"]).map((s) => s.id)).toEqual(["smoke", "fleet-lifecycle"]);
  });

  it("picks stages by kind", () => {
    expect(selectStages(GATE, ["fleet"]).map((s) => s.id)).toEqual(["fleet-lifecycle"]);
    expect(selectStages(GATE, ["cross", "matrix"]).map((s) => s.id)).toEqual(["handover", "integration"]);
  });

  it("takes every stage for 'all' or for nothing asked", () => {
    const every = ["smoke", "fleet-lifecycle", "handover", "integration"];
    expect(selectStages(GATE, ["all"]).map((s) => s.id)).toEqual(every);
    expect(selectStages(GATE, []).map((s) => s.id)).toEqual(every);
  });

  it("refuses an unknown stage name and lists the stages the plan has", () => {
    const err = failure(() => selectStages(GATE, ["smoke", "smoek"]));
    expect(err.code).toBe("bad_input");
    expect(err.message).toBe('plan gate.yaml has no stage "smoek"; stages: smoke, fleet-lifecycle, handover, integration (or a kind: single, fleet, cross, matrix, or all)');
  });

  it("refuses a kind the plan has no stage of", () => {
    const err = failure(() => selectStages(SUITE_ONLY, ["matrix"]));
    expect(err.message).toBe("plan suites.yaml has no matrix stage; stages: smoke, fleet-lifecycle");
  });
});

describe("resolveRun", () => {
  it("lays out one task per node and iteration, with the stage's suite and parallelism", () => {
    const run = resolveRun(GATE, req({ stages: ["smoke", "fleet-lifecycle"] }), ROSTER, "r1");
    expect(run.stages).toEqual([
      { id: "smoke", parallel: 1 },
      { id: "fleet-lifecycle", parallel: 1 },
    ]);
    expect(run.tasks.map((t) => t.id)).toEqual([
      "r1/smoke/prim/1",
      "r1/smoke/prim/2",
      "r1/smoke/prim/3",
      "r1/fleet-lifecycle/f1/1",
      "r1/fleet-lifecycle/f1/2",
      "r1/fleet-lifecycle/f2/1",
      "r1/fleet-lifecycle/f2/2",
    ]);
    expect(run.tasks[0]).toEqual({ id: "r1/smoke/prim/1", stageId: "smoke", node: "prim", iteration: 1, suitePath: "smoke.suite.yaml", allowDestructive: false });
    expect(run.notes).toEqual(["stage smoke (single, 3×): prim (role=primary)", "stage fleet-lifecycle (fleet, 2×): f1 (role=fleet), f2 (role=fleet)"]);
  });

  it("runs a fleet stage on every matching node at once when the plan sets no parallel, and carries allow_destructive", () => {
    const run = resolveRun(SUITE_ONLY, req({ stages: ["fleet"] }), ROSTER, "r1");
    expect(run.stages).toEqual([{ id: "fleet-lifecycle", parallel: 2 }]);
    expect(run.tasks.every((t) => t.allowDestructive)).toBe(true);
  });

  it("never picks a role=dev node by label, even when the selector matches it", () => {
    const roster = [...ROSTER, node("devbox", { role: "dev", tier: "x" })];
    const anyNode = parsePlan("plan: p\nstages:\n  - { id: all-nodes, kind: fleet, suite: s.yaml }\n", "p.yaml");
    const run = resolveRun(anyNode, req(), roster, "r1");
    expect(new Set(run.tasks.map((t) => t.node))).toEqual(new Set(["prim", "f1", "f2"]));
  });

  it("runs on a role=dev node when it is named with --node", () => {
    const run = resolveRun(SUITE_ONLY, req({ stages: ["smoke"], nodeNames: ["laptop"] }), ROSTER, "r1");
    expect(run.tasks.map((t) => t.node)).toEqual(["laptop"]);
  });

  it("asks for --node when a single stage matches two nodes", () => {
    const roster = [...ROSTER, node("prim2", { role: "primary" })];
    const err = failure(() => resolveRun(SUITE_ONLY, req({ stages: ["smoke"] }), roster, "r1"));
    expect(err.code).toBe("conflict");
    expect(err.message).toBe("stage smoke runs on one node, but 2 nodes are matching role=primary: prim, prim2; pick one with --node");
  });

  it("takes the one online node when a single stage matches two and only one is connected", () => {
    const roster = [node("prim", { role: "primary" }, false), node("prim2", { role: "primary" }, true)];
    const run = resolveRun(SUITE_ONLY, req({ stages: ["smoke"] }), roster, "r1");
    expect(run.tasks.map((t) => t.node)).toEqual(["prim2"]);
  });

  it("names the roster when no node matches a stage", () => {
    const roster = [node("f1", { role: "fleet" }), node("laptop", { role: "dev" }, false)];
    const err = failure(() => resolveRun(SUITE_ONLY, req({ stages: ["smoke"] }), roster, "r1"));
    expect(err.code).toBe("conflict");
    expect(err.message).toBe("stage smoke: no node matching role=primary; nodes: f1 (role=fleet), laptop (role=dev, offline)");
  });

  it("says no node is registered yet when the roster is empty", () => {
    const err = failure(() => resolveRun(SUITE_ONLY, req({ stages: ["smoke"] }), [], "r1"));
    expect(err.message).toBe("stage smoke: no node matching role=primary; nodes: none registered yet");
  });

  it("refuses a --node that is not in the roster", () => {
    const err = failure(() => resolveRun(SUITE_ONLY, req({ nodeNames: ["ghost"] }), ROSTER, "r1"));
    expect(err.code).toBe("bad_input");
    expect(err.message).toBe("--node ghost: no such node; see: coord nodes");
  });

  it("overrides every stage's iterations with --iterations", () => {
    const run = resolveRun(GATE, req({ stages: ["smoke", "fleet"], iterations: 1 }), ROSTER, "r1");
    expect(run.tasks.map((t) => t.id)).toEqual(["r1/smoke/prim/1", "r1/fleet-lifecycle/f1/1", "r1/fleet-lifecycle/f2/1"]);
  });

  it.each([
    ["cross", "handover"],
    ["matrix", "integration"],
  ])("refuses to run a %s stage and says which kinds it runs", (kind, id) => {
    const err = failure(() => resolveRun(GATE, req({ stages: [kind] }), ROSTER, "r1"));
    expect(err.code).toBe("bad_input");
    expect(err.message).toBe(`stage ${id} is a ${kind} stage; this coordinator runs single and fleet stages only`);
  });
});
