import { describe, expect, it } from "vitest";
import { FleetgateError } from "../../shared/errors.js";
import { isSuiteStage, parsePlan, suitePaths } from "../../shared/model/plan.js";

function parseError(text: string): FleetgateError {
  try {
    parsePlan(text, "gate.yaml");
  } catch (err) {
    if (err instanceof FleetgateError) return err;
    throw err;
  }
  throw new Error("expected parsePlan to refuse the plan");
}

const plan = `plan: release-1
description: the whole gate
evidence: { dir: runs, keep: 5 }
stages:
  - id: primary
    kind: single
    suite: suites/node.yaml
    node: { role: primary }
    iterations: 3
  - id: fleet
    kind: fleet
    suite: ./suites/node.yaml
    nodes: { role: fleet }
    parallel: 4
    not_ready: report
  - id: bitcoin
    kind: single
    suite: suites/../suites/bitcoin.yaml
    allow_destructive: true
`;

describe("parsePlan on a valid plan", () => {
  it("keeps the stages in order with their kinds", () => {
    const p = parsePlan(plan, "gate.yaml");
    expect(p.name).toBe("release-1");
    expect(p.file).toBe("gate.yaml");
    expect(p.description).toBe("the whole gate");
    expect(p.stages.map((s) => [s.id, s.kind])).toEqual([
      ["primary", "single"],
      ["fleet", "fleet"],
      ["bitcoin", "single"],
    ]);
    expect(p.stages.every(isSuiteStage)).toBe(true);
  });

  it("keeps the fields of a suite stage", () => {
    const [primary, fleet, bitcoin] = parsePlan(plan, "gate.yaml").stages;
    expect(primary).toEqual({ id: "primary", kind: "single", suite: "suites/node.yaml", node: { role: "primary" }, iterations: 3 });
    expect(fleet).toEqual({ id: "fleet", kind: "fleet", suite: "./suites/node.yaml", nodes: { role: "fleet" }, parallel: 4, not_ready: "report" });
    expect(bitcoin).toMatchObject({ allow_destructive: true });
  });

  it("lists each suite file once, however its path is spelt", () => {
    expect(suitePaths(parsePlan(plan, "gate.yaml"))).toEqual(["suites/node.yaml", "suites/bitcoin.yaml"]);
  });
});

describe("parsePlan refuses a malformed plan, naming file:line:col and the field", () => {
  it("refuses an unknown stage kind, showing the kind it saw", () => {
    const err = parseError(`plan: p
stages:
  - id: one
    kind: single
    suite: a.yaml
  - id: two
    kind: rolling
    suite: a.yaml
`);
    expect(err.code).toBe("bad_input");
    expect(err.message).toBe('gate.yaml:7:11 stages[1].kind: expected one of single|fleet|cross|matrix, got "rolling"');
  });

  it("refuses a stage with no kind", () => {
    const err = parseError(`plan: p
stages:
  - id: one
    suite: a.yaml
`);
    expect(err.message).toBe("gate.yaml:3:5 stages[0].kind: required one of single|fleet|cross|matrix is missing");
  });

  it("refuses zero iterations", () => {
    const err = parseError(`plan: p
stages:
  - id: one
    kind: single
    suite: a.yaml
    iterations: 0
`);
    expect(err.message).toBe("gate.yaml:6:17 stages[0].iterations: iterations must be at least 1");
  });

  it("refuses a stage id used twice", () => {
    const err = parseError(`plan: p
stages:
  - id: one
    kind: single
    suite: a.yaml
  - id: one
    kind: fleet
    suite: b.yaml
`);
    expect(err.message).toBe('gate.yaml:6:9 stages[1].id: duplicate stage id "one"');
  });

  it("refuses a plan with no stages", () => {
    const err = parseError(`plan: p
stages: []
`);
    expect(err.message).toBe("gate.yaml:2:9 stages: a plan needs at least one stage");
  });

  it("refuses node: on a fleet stage, which selects with nodes:", () => {
    const err = parseError(`plan: p
stages:
  - id: one
    kind: fleet
    suite: a.yaml
    node: { role: fleet }
`);
    expect(err.message).toBe('gate.yaml:6:5 stages[0].node: unknown key "node" (valid: id, kind, description, suite, nodes, iterations, allow_destructive, parallel, not_ready); did you mean nodes?');
  });

  it("refuses a not_ready policy it does not know", () => {
    const err = parseError(`plan: p
stages:
  - id: one
    kind: fleet
    suite: a.yaml
    not_ready: ignore
`);
    expect(err.message).toBe('gate.yaml:6:16 stages[0].not_ready: expected one of report|fail, got "ignore"');
  });

  it("refuses a label selector whose value is not text", () => {
    const err = parseError(`plan: p
stages:
  - id: one
    kind: single
    suite: a.yaml
    node: { role: 3 }
`);
    expect(err.message).toBe("gate.yaml:6:19 stages[0].node.role: expected string, got number 3 (YAML reads 3 as a number: quote it, \"3\")");
  });
});
