import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { create } from "@bufbuild/protobuf";
import { holdsFor, majorOf } from "../../coordinator/rollouts/holds.js";
import { initialRollout } from "../../coordinator/rollouts/core.js";
import { emptyGateProblem, phaseRunRequest, preconditionsSuite } from "../../coordinator/rollouts/phase-runs.js";
import { parseSuite } from "../../shared/model/suite.js";
import { StartRolloutRequestSchema } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { parseChange } from "../../shared/model/change.js";
import { parsePlan } from "../../shared/model/plan.js";

const CHANGE = `change: app-2.0.0
version: "2.0.0"
release:
  manual_migration: true
facts:
  - id: version
    command: { argv: [cat, /srv/app/version] }
    capture: { version: { regex: "^(\\\\S+)" } }
snapshot:
  - id: digest
    command: { argv: [sha256sum, /srv/app/bin] }
    capture: { digest: { regex: "^(\\\\w+)" } }
  - id: copy
    command: { argv: [cp, -a, /srv/app/data, "/srv/snap/\${snapshot.digest}"] }
apply:
  - id: install
    command: { argv: [install-app, "\${facts.version}", "2.0.0"] }
rollback:
  - id: restore
    command: { argv: [cp, -a, "/srv/snap/\${snapshot.digest}", /srv/app/data] }
gate:
  stages: [health]
  iterations: 3
hold:
  - major_bump: version
  - flag: manual_migration
`;

const PLAN = `plan: web
stages:
  - id: smoke
    kind: single
    suite: smoke.suite.yaml
  - id: health
    kind: single
    suite: ./health.suite.yaml
    node: { role: primary }
  - id: peers
    kind: cross
    roles: { a: {}, b: {} }
    steps:
      - { on: a, command: { argv: ["true"] } }
`;

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("no error");
}

describe("change files", () => {
  it("parses steps, gate, release flags and hold rules", () => {
    const c = parseChange(CHANGE, "app.change.yaml");
    expect(c.name).toBe("app-2.0.0");
    expect(c.version).toBe("2.0.0");
    expect(c.snapshot.map((s) => s.id)).toEqual(["digest", "copy"]);
    expect(c.gate).toEqual({ stages: ["health"], iterations: 3 });
    expect(c.hold).toEqual([{ major_bump: "version" }, { flag: "manual_migration" }]);
  });

  it("names file, line and field of a step with no kind", () => {
    const bad = CHANGE.replace("  - id: install\n    command: { argv: [install-app, \"${facts.version}\", \"2.0.0\"] }", "  - id: install\n    timeout: 5s");
    expect(errorOf(() => parseChange(bad, "app.change.yaml"))).toMatch(/^app\.change\.yaml:\d+:\d+ apply\[0\]: a check needs one kind block/);
  });

  it("refuses a reference to a value no earlier step captures, where it is written", () => {
    const bad = CHANGE.replace("/srv/snap/${snapshot.digest}\", /srv/app/data", "/srv/snap/${snapshot.digets}\", /srv/app/data");
    const msg = errorOf(() => parseChange(bad, "app.change.yaml"));
    expect(msg).toMatch(/^app\.change\.yaml:20:\d+ rollback\[0\]\.command\.argv\[2\]: \$\{snapshot\.digets\} is not captured by an earlier snapshot step \(captured so far: digest; did you mean digest\?\)/);
  });

  it("refuses snapshot values in facts steps, and namespaces a node cannot fill", () => {
    const early = CHANGE.replace("argv: [cat, /srv/app/version]", 'argv: [cat, "${snapshot.digest}"]');
    expect(errorOf(() => parseChange(early, "c.yaml"))).toMatch(/facts\[0\]\.command\.argv\[1\]: \$\{snapshot\.digest\} is not captured/);
    const vars = CHANGE.replace("argv: [cat, /srv/app/version]", 'argv: [cat, "${vars.path}"]');
    expect(errorOf(() => parseChange(vars, "c.yaml"))).toMatch(/\$\{vars\.path\}: a change step may use \$\{env\.NAME\}, \$\{facts\.NAME\} and \$\{snapshot\.NAME\}/);
  });

  it("a major_bump rule needs version: and a fact of that name", () => {
    expect(errorOf(() => parseChange(CHANGE.replace('version: "2.0.0"\n', ""), "c.yaml"))).toMatch(/hold\[0\]\.major_bump: major_bump compares the node's fact with version:/);
    expect(errorOf(() => parseChange(CHANGE.replace("major_bump: version", "major_bump: versoin"), "c.yaml"))).toMatch(/no facts: step captures "versoin" \(facts: version; did you mean version\?\)/);
  });

  it("needs snapshot, apply and rollback, and refuses duplicate step ids", () => {
    expect(errorOf(() => parseChange(CHANGE.replace(/rollback:\n  - id: restore\n.*\n/, ""), "c.yaml"))).toMatch(/rollback/);
    expect(errorOf(() => parseChange(CHANGE.replace("  - id: copy", "  - id: digest"), "c.yaml"))).toMatch(/snapshot\[1\]\.id: duplicate step id "digest" under snapshot:/);
  });
});

describe("hold rules", () => {
  const change = parseChange(CHANGE, "c.yaml");

  it("reads the major of versions as people write them", () => {
    expect([majorOf("2.1.0"), majorOf("v10"), majorOf("1.0.0-rc1"), majorOf("latest")]).toEqual([2, 10, 1, undefined]);
  });

  it("holds a major bump and a release that needs a manual migration, each with why", () => {
    expect(holdsFor(change, { version: "1.9.3" })).toEqual([
      { rule: "major_bump:version", reason: "major bump: version 1.9.3 → 2.0.0" },
      { rule: "flag:manual_migration", reason: "release says manual_migration: true" },
    ]);
  });

  it("lets a minor bump through, and holds when the node's version cannot be read: silence is not consent", () => {
    const minor = { ...change, release: {} };
    expect(holdsFor(minor, { version: "2.0.0-rc1" })).toEqual([]);
    expect(holdsFor(minor, {})[0]?.reason).toMatch(/was not captured, so a major bump cannot be ruled out/);
    expect(holdsFor(minor, { version: "latest" })[0]?.reason).toMatch(/cannot compare version latest with 2\.0\.0/);
  });
});

describe("phase runs", () => {
  const change = parseChange(CHANGE, "c.yaml");
  const plan = parsePlan(PLAN, "web.plan.yaml");
  const req = create(StartRolloutRequestSchema, { planPath: "web.plan.yaml", changePath: "c.yaml", suites: { "smoke.suite.yaml": "x", "health.suite.yaml": "y" }, quick: false });
  const node = { ...initialRollout(["alpha"], 1, false).nodes[0]!, factsBefore: { version: "1.9.3" }, snapshot: { digest: "abc123" } };

  it("runs a step phase as one cross stage on the node, in order, with captured values filled in", () => {
    const run = phaseRunRequest(req, change, plan, "rollback", node)!;
    expect(run.nodeNames).toEqual(["alpha"]);
    expect(run.bindings).toEqual({ rollback: "alpha" });
    const generated = parse(run.planYaml) as { stages: { kind: string; roles: object; steps: { on: string; command: { argv: string[] } }[] }[] };
    expect(generated.stages[0]?.kind).toBe("cross");
    expect(generated.stages[0]?.steps[0]).toMatchObject({ id: "restore", on: "rollback", command: { argv: ["cp", "-a", "/srv/snap/abc123", "/srv/app/data"] } });
    // What StartRun parses: a valid plan.
    expect(parsePlan(run.planYaml, run.planPath).stages[0]?.id).toBe("rollback");
  });

  it("keeps a snapshot step's reference to an earlier snapshot step for the node to fill", () => {
    const run = phaseRunRequest(req, change, plan, "snapshot", node)!;
    expect(run.planYaml).toContain("/srv/snap/${snapshot.digest}");
  });

  it("runs the gate as the named stages on the node alone, with the change's iterations, and only their suites", () => {
    const run = phaseRunRequest(req, change, plan, "proof", node)!;
    const stages = parsePlan(run.planYaml, "g").stages;
    expect(stages).toEqual([{ id: "health", kind: "fleet", suite: "./health.suite.yaml", iterations: 3 }]);
    expect(Object.keys(run.suites)).toEqual(["health.suite.yaml"]);
    expect(run.nodeNames).toEqual(["alpha"]);
  });

  it("refuses a gate stage the plan lacks, or one that is not a suite on a node", () => {
    expect(errorOf(() => phaseRunRequest(req, { ...change, gate: { stages: ["helth"] } }, plan, "gate", node))).toMatch(/gate\.stages names "helth", which plan web\.plan\.yaml does not have \(stages: smoke, health, peers\)/);
    expect(errorOf(() => phaseRunRequest(req, { ...change, gate: { stages: ["peers"] } }, plan, "gate", node))).toMatch(/gate stage "peers" is a cross stage; a rollout gates one node at a time/);
  });

  it("runs the gate suites' preconditions before the change, as a suite whose one check is true, so a failed one is not ready with its hint", () => {
    const health = "suite: health\nvars:\n  port: 8080\npreconditions:\n  - id: synced\n    command: { argv: [is-synced] }\n    hint: wait for IBD\nchecks:\n  - id: up\n    http: { url: 'http://127.0.0.1:${vars.port}/' }\n";
    const only = preconditionsSuite(health)!;
    const suite = parseSuite(only, "health.suite.yaml");
    expect(suite.preconditions.map((c) => [c.id, c.hint])).toEqual([["synced", "wait for IBD"]]);
    expect(suite.checks.map((c) => c.id)).toEqual(["ready"]);
    expect(suite.vars).toEqual({ port: "8080" });
    expect(preconditionsSuite("suite: s\nchecks:\n  - id: a\n    command: { argv: [\"true\"] }\n")).toBeUndefined();
    const withPre = create(StartRolloutRequestSchema, { ...req, suites: { "health.suite.yaml": health }, quick: true });
    const run = phaseRunRequest(withPre, change, plan, "preconditions", node)!;
    expect(run.suites["health.suite.yaml"]).toBe(only);
    expect(run.quick).toBe(false);
    expect(parsePlan(run.planYaml, "p").stages.map((st) => [st.id, (st as { iterations?: number }).iterations])).toEqual([["health", 1]]);
    // No gate suite with preconditions: nothing to run.
    expect(phaseRunRequest(req, change, plan, "preconditions", node)).toBeUndefined();
  });

  it("refuses a gate that would judge nothing: no check tagged quick under --quick, or only destructive checks not allowed", () => {
    const untagged = { "health.suite.yaml": "suite: h\nchecks:\n  - id: up\n    command: { argv: [\"true\"] }\n" };
    expect(emptyGateProblem(change, plan, untagged, false)).toBeUndefined();
    expect(emptyGateProblem(change, plan, untagged, true)).toBe(
      "c.yaml: gate stage health would run no check of ./health.suite.yaml: none of its checks is tagged quick (--quick); a gate that judges nothing cannot keep a change: tag the checks that judge health, or leave out --quick",
    );
    const tagged = { "health.suite.yaml": "suite: h\nchecks:\n  - id: up\n    tags: [quick]\n    command: { argv: [\"true\"] }\n" };
    expect(emptyGateProblem(change, plan, tagged, true)).toBeUndefined();
    const destructive = { "health.suite.yaml": "suite: h\nchecks:\n  - id: restart\n    destructive: true\n    command: { argv: [\"true\"] }\n" };
    expect(emptyGateProblem(change, plan, destructive, false)).toMatch(/every check is destructive and the stage does not set allow_destructive: true/);
  });

  it("has nothing to run for facts when the change declares none", () => {
    expect(phaseRunRequest(req, { ...change, facts: [] }, plan, "facts_after", node)).toBeUndefined();
  });
});
