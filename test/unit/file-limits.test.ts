// Suites and plans beyond their limits are refused naming the file, before anything runs.
import { describe, expect, it } from "vitest";
import { parseSentSuites } from "../../coordinator/runs/run-request.js";
import { MAX_CHECKS_PER_PLAN, MAX_CHECKS_PER_SUITE, MAX_YAML_BYTES } from "../../shared/model/limits.js";
import { parsePlan } from "../../shared/model/plan.js";
import { parseSuite } from "../../shared/model/suite.js";
import { refusal } from "../support/refusal.js";

const suite = (name: string, checks: number) => `suite: ${name}\nchecks:\n${Array.from({ length: checks }, (_, i) => `  - id: c${i}\n    command: { argv: ["true"] }\n`).join("")}`;

describe("suite and plan limits", () => {
  it("refuses a suite file larger than MAX_YAML_BYTES, naming the file, before parsing it", () => {
    const text = `suite: big\n# ${"x".repeat(MAX_YAML_BYTES)}\nchecks: []\n`;
    const err = refusal(() => parseSuite(text, "gate.suite.yaml"));
    expect(err.code).toBe("bad_input");
    expect(err.message).toBe(`gate.suite.yaml:1:1 ${Buffer.byteLength(text)} bytes, more than the 1 MiB (1048576 bytes) a suite, plan or config file may be (shared/model/limits.ts); split it into smaller suites`);
    expect(refusal(() => parsePlan(text, "gate.yaml")).message).toMatch(/^gate\.yaml:1:1 /);
  });

  it("takes a suite of exactly MAX_CHECKS_PER_SUITE checks and refuses one more, pointing at its checks", () => {
    expect(parseSuite(suite("s", MAX_CHECKS_PER_SUITE), "s.suite.yaml").checks).toHaveLength(MAX_CHECKS_PER_SUITE);
    const err = refusal(() => parseSuite(suite("s", MAX_CHECKS_PER_SUITE + 1), "s.suite.yaml"));
    expect(err.code).toBe("bad_input");
    expect(err.message).toBe(`s.suite.yaml:3:3 ${MAX_CHECKS_PER_SUITE + 1} checks and preconditions, more than the ${MAX_CHECKS_PER_SUITE} one suite may have (shared/model/limits.ts); split it into several suites`);
  });

  it("refuses a plan whose suites together hold more than MAX_CHECKS_PER_PLAN checks, naming the plan and the largest suites", () => {
    const n = Math.ceil(MAX_CHECKS_PER_PLAN / MAX_CHECKS_PER_SUITE) + 1;
    const names = Array.from({ length: n }, (_, i) => `s${i}.suite.yaml`);
    const plan = parsePlan(`plan: p\nstages:\n${names.map((s, i) => `  - id: st${i}\n    kind: fleet\n    suite: ${s}\n    nodes: { role: fleet }\n`).join("")}`, "gate.yaml");
    const sent = Object.fromEntries(names.map((s, i) => [s, suite(`s${i}`, MAX_CHECKS_PER_SUITE)]));
    const err = refusal(() => parseSentSuites(plan, sent));
    expect(err.code).toBe("bad_input");
    expect(err.message).toBe(
      `the suites of plan gate.yaml hold ${n * MAX_CHECKS_PER_SUITE} checks and preconditions, more than the ${MAX_CHECKS_PER_PLAN} one plan may run (shared/model/limits.ts; largest: s0.suite.yaml 1000, s1.suite.yaml 1000, s2.suite.yaml 1000); split the plan`,
    );
    // One suite fewer is within the limit.
    delete sent[names[n - 1] as string];
    expect(Object.keys(parseSentSuites(plan, sent))).toHaveLength(n - 1);
  }, 30_000);
});
