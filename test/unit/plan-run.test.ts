import { describe, expect, it } from "vitest";
import { checkGating } from "../../coordinator/sequencer/gating.js";
import type { RosterNode } from "../../coordinator/sequencer/node-choice.js";
import { resolveRun as resolve, selectStages } from "../../coordinator/sequencer/plan-run.js";
import type { RunRequest } from "../../coordinator/sequencer/run-types.js";
import { parsePlan, type Plan } from "../../shared/model/plan.js";
import { Status } from "../../shared/model/status.js";
import { parseSuite, type Suite } from "../../shared/model/suite.js";
import { refusal as failure } from "../support/refusal.js";

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

const suite = (name: string, checks: string) => parseSuite(`suite: ${name}\nchecks:\n${checks}`, `${name}.suite.yaml`);
const SUITES: Record<string, Suite> = {
  "smoke.suite.yaml": suite("smoke", "  - { id: api, tags: [quick], command: { argv: [\"true\"] } }\n  - { id: db, command: { argv: [\"true\"] } }\n"),
  "lifecycle.suite.yaml": suite("lifecycle", "  - { id: restart, tags: [slow], command: { argv: [\"true\"] } }\n"),
  "leg.suite.yaml": suite("leg", "  - { id: cargo, command: { argv: [cargo, test] } }\n"),
  "s.yaml": suite("s", "  - { id: up, command: { argv: [\"true\"] } }\n"),
};
/** The resolver with every suite the plans here name. */
const resolveRun = (plan: Plan, r: RunRequest, roster: RosterNode[], runId: string) => resolve(plan, SUITES, r, roster, runId);

const node = (name: string, labels: Record<string, string>, online = true): RosterNode => ({ name, labels, online });
const ROSTER = [node("prim", { role: "primary" }), node("f1", { role: "fleet" }), node("f2", { role: "fleet" }), node("laptop", { role: "dev" })];
const req = (over: Partial<RunRequest> = {}): RunRequest => ({ stages: [], nodeNames: [], iterations: 0, ...over });


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
      { id: "smoke", parallel: 1, stopOnFailure: false },
      { id: "fleet-lifecycle", parallel: 1, stopOnFailure: false },
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
    expect(run.tasks[0]).toMatchObject({ id: "r1/smoke/prim/1", stageId: "smoke", node: "prim", iteration: 1, group: 0, suitePath: "smoke.suite.yaml", allowDestructive: false, specYaml: "" });
    expect(run.mode).toBe("full");
    expect(run.notes).toEqual(["stage smoke (single, 3×): prim (role=primary)", "stage fleet-lifecycle (fleet, 2×): f1 (role=fleet), f2 (role=fleet)"]);
  });

  it("names each planned task as the verdict and the reports do: stage on node #iteration, stage/step on role (node), stage/leg on node", () => {
    const run = resolveRun(GATE, req({ stages: ["smoke", "fleet", "cross"], iterations: 1 }), ROSTER, "r1");
    expect(run.tasks.map((t) => t.label)).toEqual(["smoke on prim #1", "fleet-lifecycle on f1 #1", "fleet-lifecycle on f2 #1", "handover/ping on a (f1)"]);
    // A leg runs on one node: named here, as two fleet nodes match.
    const legs = resolveRun(GATE, req({ stages: ["matrix"], nodeNames: ["f2"] }), ROSTER, "r1");
    expect(legs.tasks.map((t) => t.label)).toEqual(["integration/leg1 on f2"]);
  });

  it("runs a fleet stage on every matching node at once when the plan sets no parallel, and carries allow_destructive", () => {
    const run = resolveRun(SUITE_ONLY, req({ stages: ["fleet"] }), ROSTER, "r1");
    expect(run.stages).toEqual([{ id: "fleet-lifecycle", parallel: 2, stopOnFailure: false }]);
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

  it("marks a run on a named role=dev node as never signable", () => {
    const run = resolveRun(SUITE_ONLY, req({ stages: ["smoke"], nodeNames: ["laptop"] }), ROSTER, "r1");
    expect(run.unsignable).toEqual(["node laptop is role=dev (named with --node)"]);
  });
});

const SCENARIO = parsePlan(
  `
plan: scenario
quick: { stages: [smoke] }
stages:
  - id: smoke
    kind: single
    suite: smoke.suite.yaml
    node: { role: primary }
  - id: federation
    kind: cross
    roles: { origin: { role: fleet }, peer: { role: fleet } }
    steps:
      - id: publish
        on: origin
        command: { argv: [publish] }
        capture: { doc_id: { json: .id } }
      - id: fetch
        on: peer
        command: { argv: [fetch, "\${origin.doc_id}"] }
        retry: { for: 1m, every: 5s }
      - id: both
        parallel:
          - { on: origin, command: { argv: ["true"] } }
          - { id: peer-sees, on: peer, command: { argv: ["true"] } }
  - id: matrix
    kind: matrix
    probes:
      kvm: { file: { path: /sys/module/kvm_intel/parameters/nested, contains: "Y" }, hint: enable nested KVM }
    legs:
      - { id: leg-a, on: { role: primary }, suite: leg.suite.yaml }
      - { id: leg-b, on: { role: primary }, requires: [kvm], command: { argv: [cargo, test] } }
      - { id: leg-e2e, on: { role: primary }, opt_in: true, command: { argv: [cargo, test, --ignored] } }
`,
  "scenario.yaml",
);

describe("resolveRun: cross, matrix, skips, quick", () => {
  it("lays a cross stage out as one task per step, a parallel group sharing one group number, each on its role's node", () => {
    const run = resolveRun(SCENARIO, req({ stages: ["federation"] }), ROSTER, "r1");
    expect(run.stages).toEqual([{ id: "federation", parallel: 2, stopOnFailure: true }]);
    expect(run.tasks.map((t) => [t.stepId, t.role, t.node, t.group])).toEqual([
      ["publish", "origin", "f1", 0],
      ["fetch", "peer", "f2", 1],
      ["both.1", "origin", "f1", 2],
      ["peer-sees", "peer", "f2", 2],
    ]);
    expect(run.bindings).toEqual([
      { stageId: "federation", role: "origin", node: "f1" },
      { stageId: "federation", role: "peer", node: "f2" },
    ]);
    const fetch = parseSuite(run.tasks[1]?.specYaml ?? "", "fetch");
    expect(fetch.checks[0]).toMatchObject({ id: "fetch", kind: "command", spec: { argv: ["fetch", "\${origin.doc_id}"] }, retry: { forMs: 60_000, everyMs: 5_000 } });
  });

  it("pins a role with --bind and refuses a role no stage asked for has", () => {
    const run = resolveRun(SCENARIO, req({ stages: ["federation"], bindings: { origin: "f2" } }), ROSTER, "r1");
    expect(run.bindings.map((b) => `${b.role}=${b.node}`)).toEqual(["origin=f2", "peer=f1"]);
    const err = failure(() => resolveRun(SCENARIO, req({ stages: ["federation"], bindings: { relay: "f1" } }), ROSTER, "r1"));
    expect(err.message).toBe("--bind relay=f1: no cross stage asked for has role relay; roles: origin, peer");
  });

  it("runs matrix legs one group each, sends required probes, and leaves opt-in legs out as listed skips unless asked for", () => {
    const run = resolveRun(SCENARIO, req({ stages: ["matrix"] }), ROSTER, "r1");
    expect(run.tasks.map((t) => [t.stepId, t.group, t.suitePath])).toEqual([
      ["leg-a", 0, "leg.suite.yaml"],
      ["leg-b", 1, ""],
    ]);
    expect(parseSuite(run.tasks[1]?.probesYaml ?? "", "probes").checks.map((c) => [c.id, c.hint])).toEqual([["probe.kvm", "enable nested KVM"]]);
    expect(run.skips).toEqual([{ target: "leg-e2e", reason: "opt-in leg; run it with --with leg-e2e", source: "opt-in" }]);
    const withE2e = resolveRun(SCENARIO, req({ stages: ["matrix"], withLegs: ["leg-e2e"] }), ROSTER, "r1");
    expect(withE2e.tasks.map((t) => t.stepId)).toEqual(["leg-a", "leg-b", "leg-e2e"]);
    expect(withE2e.skips).toEqual([]);
  });

  it("refuses --with for a leg that is not opt-in", () => {
    const err = failure(() => resolveRun(SCENARIO, req({ stages: ["matrix"], withLegs: ["leg-a"] }), ROSTER, "r1"));
    expect(err.message).toBe("--with leg-a: not an opt-in leg of the stages asked for; opt-in legs: leg-e2e");
  });

  it("drops a skipped stage or leg from the run and records the skip with its reason", () => {
    const run = resolveRun(SCENARIO, req({ skips: [{ target: "federation", reason: "tor down" }, { target: "leg-b", reason: "no kvm host" }] }), ROSTER, "r1");
    expect([...new Set(run.tasks.map((t) => t.stageId))]).toEqual(["smoke", "matrix"]);
    expect(run.tasks.some((t) => t.stepId === "leg-b")).toBe(false);
    expect(run.skips.filter((s) => s.source === "--skip")).toEqual([
      { target: "federation", reason: "tor down", source: "--skip" },
      { target: "leg-b", reason: "no kvm host", source: "--skip" },
    ]);
  });

  it("refuses a skip without a reason, and a skip of something the plan does not have", () => {
    expect(failure(() => resolveRun(SCENARIO, req({ skips: [{ target: "smoke", reason: " " }] }), ROSTER, "r1")).message).toBe(
      "--skip smoke needs --reason TEXT: every skip is listed with its reason",
    );
    expect(failure(() => resolveRun(SCENARIO, req({ skips: [{ target: "nope", reason: "x" }] }), ROSTER, "r1")).message).toBe(
      "--skip nope: no such stage or matrix leg in plan scenario; stages: smoke, federation, matrix; legs: leg-a, leg-b, leg-e2e",
    );
  });

  it("runs only the plan's quick stages with checks tagged quick, in mode quick", () => {
    const run = resolveRun(SCENARIO, req({ quick: true }), ROSTER, "r1");
    expect(run.mode).toBe("quick");
    expect([...new Set(run.tasks.map((t) => t.stageId))]).toEqual(["smoke"]);
    expect(run.tasks.every((t) => t.onlyTags.join() === "quick")).toBe(true);
  });
});

describe("resolveRun: the layout the dry run shows, and the flags it refuses", () => {
  it("records each stage asked for in plan order: the node choice with why others were left out, or why the stage does not run", () => {
    const run = resolveRun(SCENARIO, req({ quick: true, skips: [{ target: "matrix", reason: "no kvm host" }] }), ROSTER, "r1");
    expect(run.layout.map((l) => [l.stage.id, l.kind])).toEqual([["smoke", "suite"], ["federation", "skipped"], ["matrix", "skipped"]]);
    const [smoke, federation, matrix] = run.layout;
    expect(smoke?.kind === "suite" && [smoke.nodes.chosen.map((n) => n.name), smoke.nodes.excluded.map((e) => [e.name, e.reason]), smoke.iterations]).toEqual([
      ["prim"],
      [["f1", "label_mismatch"], ["f2", "label_mismatch"], ["laptop", "dev_node"]],
      1,
    ]);
    expect(federation?.kind === "skipped" && federation.skip).toEqual({ target: "federation", reason: "not one of the plan's quick stages (smoke)", source: "--quick" });
    expect(matrix?.kind === "skipped" && matrix.skip).toEqual({ target: "matrix", reason: "no kvm host", source: "--skip" });
  });

  it("records a cross stage's role bindings and its step groups, a parallel group by its own id", () => {
    const [layout] = resolveRun(SCENARIO, req({ stages: ["federation"] }), ROSTER, "r1").layout;
    expect(layout?.kind === "cross" && [layout.roles.map((b) => `${b.role}=${b.node.name}`), layout.groups, layout.nodes.excluded.map((e) => e.name)]).toEqual([
      ["origin=f1", "peer=f2"],
      [{ id: "publish", parallel: false }, { id: "fetch", parallel: false }, { id: "both", parallel: true }],
      ["prim", "laptop"],
    ]);
  });

  it("records every matrix leg: the node chosen for it, or the skip that keeps it from running", () => {
    const [layout] = resolveRun(SCENARIO, req({ stages: ["matrix"], skips: [{ target: "leg-a", reason: "flaky runner" }] }), ROSTER, "r1").layout;
    expect(layout?.kind === "matrix" && layout.legs.map((l) => [l.id, l.skip ? `${l.skip.source}: ${l.skip.reason}` : l.nodes.chosen[0]?.name])).toEqual([
      ["leg-a", "--skip: flaky runner"],
      ["leg-b", "prim"],
      ["leg-e2e", "opt-in: opt-in leg; run it with --with leg-e2e"],
    ]);
  });

  it("hands each task the suite the agent will run, parsed: the plan's suite, a step's or an inline leg's generated one, and the probes", () => {
    const run = resolveRun(SCENARIO, req({ stages: ["smoke", "federation", "matrix"] }), ROSTER, "r1");
    const byStep = (step: string) => run.tasks.find((t) => (t.stepId || t.stageId) === step);
    expect(byStep("smoke")?.suite).toBe(SUITES["smoke.suite.yaml"]);
    expect(byStep("fetch")?.suite?.checks.map((c) => [c.id, c.spec])).toEqual([["fetch", { argv: ["fetch", "${origin.doc_id}"] }]]);
    expect(byStep("leg-a")?.suite).toBe(SUITES["leg.suite.yaml"]);
    expect(byStep("leg-b")?.suite?.checks.map((c) => c.id)).toEqual(["leg-b"]);
    expect(byStep("leg-b")?.probes?.checks.map((c) => c.id)).toEqual(["probe.kvm"]);
  });

  it("refuses an --only id no suite of the stages asked for has, naming the ids it could be", () => {
    expect(resolveRun(GATE, req({ stages: ["smoke"], onlyChecks: ["api"] }), ROSTER, "r1").tasks.every((t) => t.onlyChecks.join() === "api")).toBe(true);
    const err = failure(() => resolveRun(GATE, req({ stages: ["smoke", "fleet"], onlyChecks: ["apx", "api"] }), ROSTER, "r1"));
    expect([err.code, err.message]).toEqual(["bad_input", "--only apx: no such check in the suites of the stages asked for; checks: api, db, restart"]);
    // A cross step is the scenario, not a check --only can pick.
    expect(failure(() => resolveRun(SCENARIO, req({ stages: ["federation", "smoke"], onlyChecks: ["publish"] }), ROSTER, "r1")).message).toBe(
      "--only publish: no such check in the suites of the stages asked for; checks: api, db",
    );
  });

  it("refuses a --tags tag no check of the stages asked for carries, naming the tags there are", () => {
    expect(() => resolveRun(GATE, req({ stages: ["fleet"], tags: ["slow"] }), ROSTER, "r1")).not.toThrow();
    const err = failure(() => resolveRun(GATE, req({ stages: ["smoke", "fleet"], tags: ["fast"] }), ROSTER, "r1"));
    expect([err.code, err.message]).toEqual(["bad_input", "--tags fast: no check in the suites of the stages asked for carries it; tags: quick, slow"]);
  });

  it("refuses a stage whose suite was not sent, but not a skipped stage's", () => {
    const err = failure(() => resolve(SUITE_ONLY, { "smoke.suite.yaml": SUITES["smoke.suite.yaml"] as Suite }, req(), ROSTER, "r1"));
    expect([err.code, err.message]).toEqual(["bad_input", "plan refers to suite lifecycle.suite.yaml, which was not sent with the run"]);
    const skipped = resolve(SUITE_ONLY, { "smoke.suite.yaml": SUITES["smoke.suite.yaml"] as Suite }, req({ skips: [{ target: "fleet-lifecycle", reason: "r" }] }), ROSTER, "r1");
    expect(skipped.tasks.map((t) => t.stageId)).toEqual(["smoke"]);
  });
});

describe("checkGating", () => {
  const history = (entries: Record<string, Status[]>) => (stageId: string) => (entries[stageId] ? { runId: `run-${stageId}`, statuses: entries[stageId] } : undefined);

  it("lets a stage run on its own when every earlier stage passed in its latest full run", () => {
    expect(() => checkGating(SCENARIO, "rev", ["matrix"], [], history({ smoke: [Status.PASSED], federation: [Status.PASSED, Status.PASSED] }))).not.toThrow();
  });

  it("refuses and names the missing stage when no full run has run it", () => {
    const err = failure(() => checkGating(SCENARIO, "rev1", ["federation"], [], history({})));
    expect(err.code).toBe("conflict");
    expect(err.message).toBe(
      "stage federation needs stage smoke green first, and no full run of plan scenario (revision rev1) has run it: run it first (coord run smoke --plan scenario.yaml), or skip it with --skip smoke --reason TEXT",
    );
  });

  it("refuses when the latest full run of an earlier stage did not pass, and says how it ended", () => {
    const err = failure(() => checkGating(SCENARIO, "rev", ["matrix"], [], history({ smoke: [Status.PASSED], federation: [Status.PASSED, Status.LOST] })));
    expect(err.message).toContain("stage matrix needs stage federation green first; its latest full run run-federation ended lost");
  });

  it("does not hold a stage for an earlier stage skipped with a reason, nor for stages in the same run", () => {
    expect(() => checkGating(SCENARIO, "rev", ["federation", "matrix"], ["smoke"], history({}))).not.toThrow();
    expect(() => checkGating(SCENARIO, "rev", ["smoke", "federation"], [], history({}))).not.toThrow();
  });
});
