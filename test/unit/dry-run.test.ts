// The dry run's resolution, pure: plan + suites + roster in, the resolved plan out. No process,
// no socket, no database.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { resolveDryRun } from "../../coordinator/sequencer/dry-run.js";
import type { RosterNode } from "../../coordinator/sequencer/node-choice.js";
import type { RunRequest } from "../../coordinator/sequencer/plan-run.js";
import { ExclusionReason, type ResolvedStage } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { curlArgv } from "../../shared/model/kinds/http.js";
import { parsePlan, suitePaths, type Plan } from "../../shared/model/plan.js";
import { parseSuite, type Suite } from "../../shared/model/suite.js";
import { refusal as failure } from "../support/refusal.js";

const EXAMPLES = fileURLToPath(new URL("../examples/", import.meta.url));

const node = (name: string, labels: Record<string, string>, online = true): RosterNode => ({ name, labels, online });
const ROSTER = [node("f1", { role: "fleet" }), node("f2", { role: "fleet" }), node("laptop", { role: "dev" }), node("prim", { role: "primary" })];
const req = (over: Partial<RunRequest> = {}): RunRequest => ({ stages: [], nodeNames: [], iterations: 0, ...over });

function examplePlan(): { plan: Plan; suites: Record<string, Suite> } {
  const plan = parsePlan(readFileSync(`${EXAMPLES}release-gate.plan.yaml`, "utf8"), "release-gate.plan.yaml");
  const suites = Object.fromEntries(suitePaths(plan).map((p) => [p, parseSuite(readFileSync(`${EXAMPLES}${p}`, "utf8"), p)]));
  return { plan, suites };
}

const SUITE = parseSuite(
  `
suite: small
vars: { host: 10.0.0.5 }
preconditions:
  - id: wipe-ok
    destructive: true
    command: { argv: [test, -w, /var/lib/app] }
checks:
  - id: health
    http: { url: "http://\${vars.host}:8080/health", status: 200 }
    timeout: 5s
  - id: secret-set
    command: { argv: [test, -n, "\${env.APP_SECRET}"] }
  - id: restart
    destructive: true
    command: { argv: [systemctl, restart, app.service] }
`,
  "small.suite.yaml",
);

function plan(stagesYaml: string): Plan {
  return parsePlan(`plan: p\nstages:\n${stagesYaml}`, "p.yaml");
}

function stage(p: Plan, roster: RosterNode[] = ROSTER, over: Partial<RunRequest> = {}): ResolvedStage {
  const resolved = resolveDryRun(p, { "small.suite.yaml": SUITE }, req(over), roster);
  expect(resolved.stages).toHaveLength(1);
  return resolved.stages[0] as ResolvedStage;
}


const excluded = (s: { nodes?: { excluded: { name: string; reason: ExclusionReason }[] } }) =>
  Object.fromEntries((s.nodes?.excluded ?? []).map((e) => [e.name, ExclusionReason[e.reason]]));

const FLEET = plan("  - { id: fleet, kind: fleet, suite: small.suite.yaml, nodes: { role: fleet }, iterations: 3, parallel: 1 }\n");
const SINGLE = plan("  - { id: single, kind: single, suite: small.suite.yaml, node: { role: primary }, allow_destructive: true }\n");
const CROSS = (roles: string) => plan(`  - id: x\n    kind: cross\n    roles: ${roles}\n    steps:\n      - { id: ping, on: a, command: { argv: ["true"] } }\n`);

describe("resolveDryRun: single and fleet stages", () => {
  it("resolves every stage of the example release plan, in plan order, with its kind", () => {
    const { plan: p, suites } = examplePlan();
    const resolved = resolveDryRun(p, suites, req(), ROSTER);
    expect(resolved.planName).toBe("archy-release");
    expect(resolved.stages.map((s) => [s.id, s.kind, s.iterations])).toEqual([
      ["single", "single", 5],
      ["fleet", "fleet", 5],
      ["federation", "cross", 1],
      ["matrix", "matrix", 1],
    ]);
  });

  it("chooses the matching nodes and says why every other node was left out", () => {
    const s = stage(FLEET);
    expect(s.nodes?.chosen.map((n) => n.name)).toEqual(["f1", "f2"]);
    expect(excluded(s)).toEqual({ laptop: "DEV_NODE", prim: "LABEL_MISMATCH" });
    expect(s.nodes?.excluded.find((e) => e.name === "prim")?.detail).toBe("role=primary; wants role=fleet");
    expect([s.iterations, s.parallel, s.suitePath, s.suiteName]).toEqual([3, 1, "small.suite.yaml", "small"]);
  });

  it("excludes a role=dev node even when the selector matches it, and takes it when it is named", () => {
    const anyNode = plan("  - { id: all, kind: fleet, suite: small.suite.yaml }\n");
    expect(excluded(stage(anyNode))).toEqual({ laptop: "DEV_NODE" });
    const named = stage(anyNode, ROSTER, { nodeNames: ["laptop"] });
    expect(named.nodes?.chosen.map((n) => n.name)).toEqual(["laptop"]);
    expect(excluded(named)).toEqual({ f1: "NOT_NAMED", f2: "NOT_NAMED", prim: "NOT_NAMED" });
  });

  it("reports an offline node: left out of a single stage when another match is online, kept (and marked) in a fleet stage", () => {
    const roster = [node("prim-old", { role: "primary" }, false), ...ROSTER, node("f3", { role: "fleet" }, false)];
    const single = stage(SINGLE, roster);
    expect(single.nodes?.chosen.map((n) => n.name)).toEqual(["prim"]);
    expect(excluded(single)["prim-old"]).toBe("OFFLINE");
    // A real run gives an offline fleet node its tasks (they wait for it); the dry run says so.
    const fleet = stage(FLEET, roster);
    expect(fleet.nodes?.chosen.map((n) => [n.name, n.online])).toEqual([["f1", true], ["f2", true], ["f3", false]]);
  });

  it("refuses a --node the roster does not know", () => {
    const err = failure(() => stage(FLEET, ROSTER, { nodeNames: ["ghost"] }));
    expect([err.code, err.message]).toEqual(["bad_input", "--node ghost: no such node; see: coord nodes"]);
  });

  it("overrides iterations with --iterations, for every kind of stage", () => {
    const { plan: p, suites } = examplePlan();
    expect(resolveDryRun(p, suites, req({ iterations: 2 }), ROSTER).stages.map((s) => s.iterations)).toEqual([2, 2, 2, 2]);
  });

  it("prints the exact argv the agent runs, with the suite's vars expanded and the agent's env left for the node", () => {
    const checks = stage(FLEET).checks;
    const health = checks.find((c) => c.id === "health");
    expect(health?.argv).toEqual(curlArgv({ url: "http://10.0.0.5:8080/health", status: 200 }, 5000));
    expect(health?.timeoutMs).toBe(5000n);
    expect(checks.find((c) => c.id === "secret-set")?.argv).toEqual(["test", "-n", "${env.APP_SECRET}"]);
  });

  it("marks destructive checks skipped unless the stage allows them; a precondition always runs", () => {
    const skipOf = (s: ResolvedStage) => Object.fromEntries(s.checks.map((c) => [c.id, [c.precondition, c.destructive, c.skipReason]]));
    expect(skipOf(stage(FLEET))).toEqual({
      "wipe-ok": [true, true, ""],
      health: [false, false, ""],
      "secret-set": [false, false, ""],
      restart: [false, true, "destructive, and the stage does not set allow_destructive: true"],
    });
    expect(stage(SINGLE).checks.find((c) => c.id === "restart")?.skipReason).toBe("");
  });

  it("says which suite was not sent when a chosen stage needs it", () => {
    const err = failure(() => resolveDryRun(FLEET, {}, req(), ROSTER));
    expect(err.message).toBe("plan refers to suite small.suite.yaml, which was not sent with the run");
  });
});

describe("resolveDryRun: cross stages", () => {
  it("binds each role of the example federation stage to a distinct fleet node and keeps the steps in order, groups as groups", () => {
    const { plan: p, suites } = examplePlan();
    const s = resolveDryRun(p, suites, req({ stages: ["cross"] }), ROSTER).stages[0] as ResolvedStage;
    expect(s.roles.map((r) => [r.role, r.node])).toEqual([["origin", "f1"], ["peer", "f2"]]);
    expect(excluded(s)).toEqual({ laptop: "DEV_NODE", prim: "LABEL_MISMATCH" });
    expect(s.steps.map((st) => [st.id, st.role, st.node, st.parallel.length])).toEqual([
      ["publish", "origin", "f1", 0],
      ["fetch", "peer", "f2", 0],
      ["both-see-contact", "", "", 2],
    ]);
    expect(s.steps[0]?.check?.argv).toEqual(["archy-fed", "publish", "--transport", "tor", "--json"]);
    expect(s.steps[0]?.check?.captures).toEqual(["doc_id: json .id"]);
    expect(s.steps[2]?.parallel.map((m) => [m.id, m.node, m.check?.kind])).toEqual([["both-see-contact.1", "f1", "http"], ["both-see-contact.2", "f2", "http"]]);
  });

  it("finds a binding a greedy pick would miss: the pickier role still gets the one node that fits it", () => {
    const roster = [node("f1", { role: "fleet", zone: "x" }), node("f2", { role: "fleet" })];
    const s = stage(CROSS("{ a: { role: fleet }, b: { zone: x } }"), roster);
    expect(s.roles.map((r) => [r.role, r.node])).toEqual([["a", "f2"], ["b", "f1"]]);
  });

  it("refuses when the fleet cannot give every role a node of its own, naming each role's candidates", () => {
    const roster = [node("f1", { role: "fleet" }), node("prim", { role: "primary" })];
    const err = failure(() => stage(CROSS("{ a: { role: fleet }, b: { role: fleet } }"), roster));
    expect(err.code).toBe("conflict");
    expect(err.message).toContain("stage x: cannot bind roles a, b to distinct nodes; candidates: a (matching role=fleet): f1; b (matching role=fleet): f1");
  });

  it("prefers online nodes for roles and says why a matching offline node was not bound", () => {
    const roster = [node("f0", { role: "fleet" }, false), node("f1", { role: "fleet" }), node("f2", { role: "fleet" }), node("f3", { role: "fleet" })];
    const s = stage(CROSS("{ a: { role: fleet }, b: { role: fleet } }"), roster);
    expect(s.roles.map((r) => r.node)).toEqual(["f1", "f2"]);
    expect(excluded(s)).toEqual({ f0: "OFFLINE", f3: "ROLES_FILLED" });
  });

  it("names a role no node matches", () => {
    const err = failure(() => stage(CROSS("{ a: { role: fleet }, b: { role: edge } }")));
    expect(err.message).toBe("stage x role b: no node matching role=edge; nodes: f1 (role=fleet), f2 (role=fleet), laptop (role=dev), prim (role=primary)");
  });
});

describe("resolveDryRun: matrix stages", () => {
  it("puts every leg of the example matrix on its node, with its probes, and marks the opt-in leg as skipped unless asked for", () => {
    const { plan: p, suites } = examplePlan();
    const s = resolveDryRun(p, suites, req({ stages: ["matrix"] }), ROSTER).stages[0] as ResolvedStage;
    expect(s.probes.map((c) => [c.id, c.kind, c.observes])).toEqual([["nested-kvm", "file", "stat /sys/module/kvm_intel/parameters/nested and read it"]]);
    expect(s.legs.map((l) => [l.id, l.nodes?.chosen[0]?.name, l.requires.join(","), l.optIn, l.skipReason])).toEqual([
      ["chainfire-flaredb", "prim", "", false, ""],
      ["flaredb-plasmavmc", "prim", "nested-kvm", false, ""],
      ["plasmavmc-creditservice", "prim", "", false, ""],
      ["creditservice-nightlight", "prim", "", false, ""],
      ["plasmavmc-e2e", "prim", "nested-kvm", true, "skipped unless --with plasmavmc-e2e"],
    ]);
    const suiteLeg = s.legs[0];
    expect([suiteLeg?.suitePath, suiteLeg?.suiteName, suiteLeg?.checks.map((c) => c.id)]).toEqual(["integration-leg.suite.yaml", "chainfire-flaredb", ["cargo-integration"]]);
    const e2e = s.legs[4]?.checks[0];
    expect([e2e?.argv, e2e?.cwd, e2e?.env]).toEqual([["cargo", "test", "-p", "plasmavmc", "--", "--ignored"], "/srv/photoncloud", { PLASMAVMC_QEMU_PATH: "/run/current-system/sw/bin/qemu-system-x86_64" }]);
  });

  it("asks for --node when a leg matches two online nodes, as a single stage does", () => {
    const { plan: p, suites } = examplePlan();
    const roster = [...ROSTER, node("prim2", { role: "primary" })];
    const err = failure(() => resolveDryRun(p, suites, req({ stages: ["matrix"] }), roster));
    expect(err.message).toBe("stage matrix leg chainfire-flaredb runs on one node, but 2 nodes are matching role=primary: prim, prim2; pick one with --node");
  });
});

describe("plan parsing for the dry run", () => {
  it("refuses a cross step on a role the stage does not declare, with file, line and column", () => {
    const yaml = "plan: p\nstages:\n  - id: x\n    kind: cross\n    roles: { a: { role: fleet } }\n    steps:\n      - { id: ping, on: b, command: { argv: [\"true\"] } }\n";
    const err = failure(() => parsePlan(yaml, "p.yaml"));
    expect(err.message).toMatch(/^p\.yaml:7:\d+ .*no role "b" under roles: \(declared: a\)/);
  });
});
