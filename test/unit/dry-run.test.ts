// The dry run, pure: the one resolver's result (plan-run.ts resolveRun) projected to what
// `coord run --dry-run` shows. No process, no socket, no database.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { dryRunView } from "../../coordinator/sequencer/dry-run.js";
import type { RosterNode } from "../../coordinator/sequencer/node-choice.js";
import { resolveRun } from "../../coordinator/sequencer/plan-run.js";
import type { RunRequest } from "../../coordinator/sequencer/run-types.js";
import { ExclusionReason, type ResolvedStage } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { curlArgv } from "../../shared/model/kinds/http.js";
import { parsePlan, suitePaths, type Plan } from "../../shared/model/plan.js";
import { parseSuite, type Suite } from "../../shared/model/suite.js";
import { refusal as failure } from "../support/refusal.js";

const EXAMPLES = fileURLToPath(new URL("../examples/", import.meta.url));

const node = (name: string, labels: Record<string, string>, online = true): RosterNode => ({ name, labels, online });
const ROSTER = [node("f1", { role: "fleet" }), node("f2", { role: "fleet" }), node("laptop", { role: "dev" }), node("prim", { role: "primary" })];
const req = (over: Partial<RunRequest> = {}): RunRequest => ({ stages: [], nodeNames: [], iterations: 0, ...over });

/** What `coord run --dry-run` would be answered: the resolution a real run would execute, as shown. */
function resolveDryRun(p: Plan, suites: Record<string, Suite>, r: RunRequest, roster: RosterNode[]) {
  return dryRunView(p, resolveRun(p, suites, r, roster, "dry-run"));
}

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

describe("the dry run: single and fleet stages", () => {
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

  it("overrides iterations with --iterations for single and fleet stages; cross and matrix stages run once, as the real run does", () => {
    const { plan: p, suites } = examplePlan();
    expect(resolveDryRun(p, suites, req({ iterations: 2 }), ROSTER).stages.map((s) => s.iterations)).toEqual([2, 2, 1, 1]);
  });

  it("prints the exact argv the agent runs, with the suite's vars expanded and the agent's env left for the node", () => {
    const checks = stage(FLEET).checks;
    const health = checks.find((c) => c.id === "health");
    expect(health?.argv).toEqual(curlArgv({ url: "http://10.0.0.5:8080/health", status: 200 }, 5000));
    expect(health?.timeoutMs).toBe(5000n);
    expect(checks.find((c) => c.id === "secret-set")?.argv).toEqual(["test", "-n", "${env.APP_SECRET}"]);
  });

  it("marks destructive checks skipped unless the stage allows them; a precondition (never destructive) always runs", () => {
    const skipOf = (s: ResolvedStage) => Object.fromEntries(s.checks.map((c) => [c.id, [c.precondition, c.destructive, c.skipReason]]));
    expect(skipOf(stage(FLEET))).toEqual({
      "wipe-ok": [true, false, ""],
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

describe("the dry run: cross stages", () => {
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

describe("the dry run: matrix stages", () => {
  it("puts every leg of the example matrix on its node with the probes it requires, and lists the opt-in leg as not run unless asked for", () => {
    const { plan: p, suites } = examplePlan();
    const s = resolveDryRun(p, suites, req({ stages: ["matrix"] }), ROSTER).stages[0] as ResolvedStage;
    // Probes as the agent runs and reports them: a suite of their own, ids prefixed.
    expect(s.probes.map((c) => [c.id, c.kind, c.observes])).toEqual([["probe.nested-kvm", "file", "stat /sys/module/kvm_intel/parameters/nested and read it"]]);
    expect(s.legs.map((l) => [l.id, l.nodes?.chosen[0]?.name, l.requires.join(","), l.optIn, l.skipReason])).toEqual([
      ["chainfire-flaredb", "prim", "", false, ""],
      ["flaredb-plasmavmc", "prim", "probe.nested-kvm", false, ""],
      ["plasmavmc-creditservice", "prim", "", false, ""],
      ["creditservice-nightlight", "prim", "", false, ""],
      // The run never chooses a node for a leg it does not run, so neither does the dry run.
      ["plasmavmc-e2e", undefined, "", true, "opt-in leg; run it with --with plasmavmc-e2e"],
    ]);
    const suiteLeg = s.legs[0];
    expect([suiteLeg?.suitePath, suiteLeg?.suiteName, suiteLeg?.checks.map((c) => c.id)]).toEqual(["integration-leg.suite.yaml", "chainfire-flaredb", ["cargo-integration"]]);
  });

  it("shows an opt-in leg asked for with --with on its node, with the exact command, and records the narrowing", () => {
    const { plan: p, suites } = examplePlan();
    const resolved = resolveDryRun(p, suites, req({ stages: ["matrix"], withLegs: ["plasmavmc-e2e"] }), ROSTER);
    const leg = resolved.stages[0]?.legs[4];
    expect([leg?.id, leg?.nodes?.chosen[0]?.name, leg?.skipReason]).toEqual(["plasmavmc-e2e", "prim", ""]);
    const e2e = leg?.checks[0];
    expect([e2e?.argv, e2e?.cwd, e2e?.env]).toEqual([["cargo", "test", "-p", "plasmavmc", "--", "--ignored"], "/srv/photoncloud", { PLASMAVMC_QEMU_PATH: "/run/current-system/sw/bin/qemu-system-x86_64" }]);
    expect([resolved.skips, resolved.overrides.map((o) => o.name)]).toEqual([[], ["with:plasmavmc-e2e"]]);
  });

  it("shows a leg skipped with --skip as not run, with its reason, and without a node", () => {
    const { plan: p, suites } = examplePlan();
    const resolved = resolveDryRun(p, suites, req({ stages: ["matrix"], skips: [{ target: "flaredb-plasmavmc", reason: "no kvm host this week" }] }), ROSTER);
    const leg = resolved.stages[0]?.legs[1];
    expect([leg?.id, leg?.nodes, leg?.checks, leg?.skipReason]).toEqual(["flaredb-plasmavmc", undefined, [], "--skip: no kvm host this week"]);
    // No leg that runs requires the probe any more: it is not sent, so not shown.
    expect(resolved.stages[0]?.probes).toEqual([]);
  });

  it("asks for --node when a leg matches two online nodes, as a single stage does", () => {
    const { plan: p, suites } = examplePlan();
    const roster = [...ROSTER, node("prim2", { role: "primary" })];
    const err = failure(() => resolveDryRun(p, suites, req({ stages: ["matrix"] }), roster));
    expect(err.message).toBe("stage matrix leg chainfire-flaredb runs on one node, but 2 nodes are matching role=primary: prim, prim2; pick one with --node");
  });
});

const TAGGED = parseSuite(
  `
suite: tagged
preconditions:
  - { id: disk, disk: { path: /, free: { gte: 1GiB } } }
checks:
  - { id: health, tags: [quick], command: { argv: [curl, -f, localhost] } }
  - { id: deep, tags: [slow], command: { argv: [deep-check] } }
  - { id: restart, tags: [quick], destructive: true, command: { argv: [systemctl, restart, app] } }
`,
  "tagged.suite.yaml",
);
const QUICK = parsePlan(
  `plan: q
quick: { stages: [fleet] }
stages:
  - { id: smoke, kind: single, suite: tagged.suite.yaml, node: { role: primary } }
  - { id: fleet, kind: fleet, suite: tagged.suite.yaml, nodes: { role: fleet } }
  - id: legs
    kind: matrix
    legs:
      - { id: unit, on: { role: primary }, command: { argv: [make, test] } }
      - { id: e2e, on: { role: primary }, opt_in: true, command: { argv: [make, e2e] } }
`,
  "q.yaml",
);
const quickRun = (over: Partial<RunRequest>) => resolveDryRun(QUICK, { "tagged.suite.yaml": TAGGED }, req(over), ROSTER);
const skipsOf = (s: ResolvedStage | undefined) => Object.fromEntries((s?.checks ?? []).map((c) => [c.id, c.skipReason]));

describe("the dry run honours what the run is asked for", () => {
  it("--quick: shows the stages outside the plan's quick stages as not run, and each check not tagged quick as left out", () => {
    const resolved = quickRun({ quick: true });
    expect(resolved.mode).toBe("quick");
    expect(resolved.stages.map((s) => [s.id, s.skipReason])).toEqual([
      ["smoke", "--quick: not one of the plan's quick stages (fleet)"],
      ["fleet", ""],
      ["legs", "--quick: not one of the plan's quick stages (fleet)"],
    ]);
    expect(skipsOf(resolved.stages[1])).toEqual({
      disk: "",
      health: "",
      deep: "left out: not tagged quick",
      restart: "destructive, and the stage does not set allow_destructive: true",
    });
    expect(resolved.overrides.map((o) => o.detail)).toEqual(["quick: only checks tagged quick in stages fleet"]);
    // A stage --quick leaves out is not a skip the run records: the quick override says it.
    expect(resolved.skips).toEqual([]);
  });

  it("--skip STAGE --reason R: shows the stage as not run with its reason, and the skip the run records", () => {
    const resolved = quickRun({ skips: [{ target: "smoke", reason: "primary reimaged" }] });
    expect(resolved.stages.map((s) => [s.id, s.skipReason])).toEqual([["smoke", "--skip: primary reimaged"], ["fleet", ""], ["legs", ""]]);
    expect(resolved.stages[0]?.checks).toEqual([]);
    expect(resolved.skips.map((k) => [k.target, k.source, k.reason])).toEqual([
      ["smoke", "--skip", "primary reimaged"],
      ["e2e", "opt-in", "opt-in leg; run it with --with e2e"],
    ]);
    expect(resolved.overrides.map((o) => o.name)).toEqual(["skip:smoke"]);
  });

  it("--only and --tags: marks every other gate check as left out, naming what was asked for; preconditions still run", () => {
    expect(skipsOf(quickRun({ stages: ["fleet"], onlyChecks: ["deep"] }).stages[0])).toEqual({
      disk: "",
      health: "left out: not one of the checks asked for (deep)",
      deep: "",
      restart: "left out: not one of the checks asked for (deep)",
    });
    expect(skipsOf(quickRun({ stages: ["fleet"], tags: ["slow"] }).stages[0])).toEqual({
      disk: "",
      health: "left out: not tagged slow",
      deep: "",
      restart: "left out: not tagged slow",
    });
  });

  it("says a run on a named role=dev node could never be signed off", () => {
    expect(quickRun({ stages: ["fleet"], nodeNames: ["laptop"] }).unsignable).toEqual(["node laptop is role=dev (named with --node)"]);
  });

  it("refuses the flags the real run refuses, with the real run's words", () => {
    const refused = (over: Partial<RunRequest>) => failure(() => quickRun(over)).message;
    expect(refused({ skips: [{ target: "smoke", reason: "" }] })).toBe("--skip smoke needs --reason TEXT: every skip is listed with its reason");
    expect(refused({ skips: [{ target: "smoek", reason: "r" }] })).toBe("--skip smoek: no such stage or matrix leg in plan q; stages: smoke, fleet, legs; legs: unit, e2e");
    expect(refused({ withLegs: ["unit"] })).toBe("--with unit: not an opt-in leg of the stages asked for; opt-in legs: e2e");
    expect(refused({ bindings: { writer: "f1" } })).toBe("--bind writer=f1: no cross stage asked for has role writer");
    expect(refused({ onlyChecks: ["helth"] })).toBe("--only helth: no such check in the suites of the stages asked for; checks: health, deep, restart, unit");
    expect(refused({ tags: ["fast"] })).toBe("--tags fast: no check in the suites of the stages asked for carries it; tags: quick, slow");
    expect(refused({ stages: ["smoke"], quick: true })).toBe("--quick: none of the stages asked for is in the plan's quick: stages (fleet)");
  });
});

describe("plan parsing for the dry run", () => {
  it("refuses a cross step on a role the stage does not declare, with file, line and column", () => {
    const yaml = "plan: p\nstages:\n  - id: x\n    kind: cross\n    roles: { a: { role: fleet } }\n    steps:\n      - { id: ping, on: b, command: { argv: [\"true\"] } }\n";
    const err = failure(() => parsePlan(yaml, "p.yaml"));
    expect(err.message).toMatch(/^p\.yaml:7:\d+ .*no role "b" under roles: \(declared: a\)/);
  });
});
