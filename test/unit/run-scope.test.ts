// Scope is part of the run: every narrowing of the plan is recorded as an override, the verdict is
// not GO while one is unaccepted, and sign-off accepts each by name with a reason.
import { describe, expect, it } from "vitest";
import { signoffRefusal, withSignoff, type Acceptance } from "../../coordinator/judgement/signoff-rules.js";
import { judgeRun } from "../../coordinator/judgement/verdict.js";
import type { RosterNode } from "../../coordinator/sequencer/node-choice.js";
import { resolveRun } from "../../coordinator/sequencer/plan-run.js";
import type { RunRequest } from "../../coordinator/sequencer/run-types.js";
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { parsePlan } from "../../shared/model/plan.js";
import { parseSuite } from "../../shared/model/suite.js";
import { run } from "./judgement-runs.js";

const PLAN = parsePlan(
  `
plan: release
stages:
  - id: smoke
    kind: single
    suite: smoke.suite.yaml
    node: { role: primary }
    iterations: 5
  - id: fleet
    kind: fleet
    suite: lifecycle.suite.yaml
    nodes: { role: fleet }
    iterations: 2
  - id: integration
    kind: matrix
    legs:
      - id: e2e
        on: { kvm: "yes" }
        suite: leg.suite.yaml
        opt_in: true
      - id: unit
        on: { kvm: "yes" }
        suite: leg.suite.yaml
`,
  "gate.yaml",
);
const node = (name: string, labels: Record<string, string>): RosterNode => ({ name, labels, online: true });
const ROSTER = [node("prim", { role: "primary" }), node("node-a", { role: "fleet", kvm: "yes" }), node("node-b", { role: "fleet" })];
const SUITES = Object.fromEntries(
  ["smoke", "lifecycle", "leg"].map((name) => [`${name}.suite.yaml`, parseSuite(`suite: ${name}\nchecks:\n  - { id: api, tags: [smoke], command: { argv: ["true"] } }\n`, `${name}.suite.yaml`)]),
);
const resolve = (over: Partial<RunRequest>) => resolveRun(PLAN, SUITES, { stages: [], nodeNames: [], iterations: 0, ...over }, ROSTER, "r");
const overrides = (over: Partial<RunRequest>) => resolve(over).overrides;

describe("run overrides", () => {
  it("records nothing for a run of the plan as written", () => {
    expect(overrides({})).toEqual([]);
    expect(overrides({ stages: ["fleet"] })).toEqual([]);
  });

  it("records --iterations below a stage's own, per stage, and not above it", () => {
    expect(overrides({ iterations: 2 })).toEqual([{ name: "iterations", detail: "iterations 2 of 5 on smoke" }]);
    expect(overrides({ iterations: 1 })).toEqual([
      { name: "iterations", detail: "iterations 1 of 5 on smoke" },
      { name: "iterations", detail: "iterations 1 of 2 on fleet" },
    ]);
    expect(overrides({ iterations: 7 })).toEqual([]);
  });

  it("records a --node subset of a fleet stage's nodes, but not naming all of them", () => {
    expect(overrides({ stages: ["fleet"], nodeNames: ["node-b"] })).toEqual([{ name: "nodes", detail: "nodes node-b of node-a, node-b on fleet" }]);
    expect(overrides({ stages: ["fleet"], nodeNames: ["node-a", "node-b"] })).toEqual([]);
  });

  it("records --only, --tags, --quick, --skip and --with", () => {
    const got = overrides({ onlyChecks: ["api"], tags: ["smoke"], quick: true, skips: [{ target: "smoke", reason: "primary reimaged" }], withLegs: ["e2e"] });
    expect(got.map((o) => o.name)).toEqual(["only", "tags", "quick", "skip:smoke", "with:e2e"]);
    expect(got.map((o) => o.detail)).toEqual([
      "only checks api (--only)",
      "only checks tagged smoke (--tags)",
      "quick: only checks tagged quick",
      "smoke skipped (--skip): primary reimaged",
      "opt-in leg e2e run (--with)",
    ]);
  });

  it("sends --only and --tags to the node with every suite task", () => {
    const r = resolve({ stages: ["fleet"], onlyChecks: ["api"], tags: ["smoke"] });
    expect(r.tasks.map((t) => [t.onlyChecks, t.onlyTags])).toEqual(Array(4).fill([["api"], ["smoke"]]));
  });
});

const NARROWED = () => run({ overrides: [{ name: "iterations", detail: "iterations 1 of 2 on fleet" }, { name: "nodes", detail: "nodes n2 of n1, n2 on fleet" }] });
const decide = (r: RunRecord, overrides: Acceptance[]) => signoffRefusal(r, judgeRun(withSignoff(r, "alice", [], 0, overrides)), [], overrides);

describe("the verdict of a narrowed run", () => {
  it("is INCOMPLETE, naming each narrowing, though every task passed", () => {
    const j = judgeRun(NARROWED());
    expect(j.decision).toBe("INCOMPLETE");
    expect(j.signable).toBe(false);
    expect(j.reasons).toEqual(["scope narrowed: iterations 1 of 2 on fleet", "scope narrowed: nodes n2 of n1, n2 on fleet"]);
  });

  it("is GO once sign-off accepts every override by name", () => {
    const accepted = withSignoff(NARROWED(), "alice", [], 0, [{ target: "iterations", reason: "hotfix" }, { target: "nodes", reason: "n1 retired" }]);
    expect(judgeRun(accepted).decision).toBe("GO");
    const half = withSignoff(NARROWED(), "alice", [], 0, [{ target: "iterations", reason: "hotfix" }]);
    expect(judgeRun(half).reasons).toEqual(["scope narrowed: nodes n2 of n1, n2 on fleet"]);
  });
});

describe("signing a narrowed run off", () => {
  it("is refused, naming each override and the flag that accepts it", () => {
    const refusal = decide(NARROWED(), []);
    expect(refusal?.code).toBe("conflict");
    expect(refusal?.message).toContain("scope narrowed: iterations 1 of 2 on fleet");
    expect(refusal?.message).toContain("--accept-override NAME --reason TEXT (not accepted: iterations, nodes)");
  });

  it("is allowed when each override is accepted with a reason", () => {
    expect(decide(NARROWED(), [{ target: "iterations", reason: "hotfix" }, { target: "nodes", reason: "n1 retired" }])).toBeUndefined();
  });

  it("refuses an override the run does not have, one without a reason, and a skip accepted as an override", () => {
    const all = [{ target: "iterations", reason: "x" }, { target: "nodes", reason: "y" }];
    expect(decide(NARROWED(), [...all, { target: "tags", reason: "z" }])?.message).toBe("run r1 has no override tags (its overrides: iterations, nodes); accept each by one of those names (coord show RUN --json lists them)");
    expect(decide(NARROWED(), [{ target: "iterations", reason: " " }])?.message).toBe("--accept-override iterations needs --reason TEXT: every accepted override is recorded with why it is acceptable");
    expect(decide(run({ overrides: [{ name: "skip:fleet", detail: "" }] }), [{ target: "skip:fleet", reason: "x" }])?.message).toBe("skip:fleet is a skip: accept it with --accept-skip fleet --reason TEXT");
  });
});
