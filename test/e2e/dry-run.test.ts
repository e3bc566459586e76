// `coord run --dry-run` against a real coordinator with three real agents: it prints the
// resolved plan and executes nothing (DESIGN rule 4) — no run or task rows, no task on an agent.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator, type Proc } from "../../scripts/local-fleet.js";
import { queryDb, Workspace } from "./fixtures.js";

const EXAMPLES = fileURLToPath(new URL("../examples/", import.meta.url));
const EXAMPLE_FILES = ["release-gate.plan.yaml", "archy-node.suite.yaml", "integration-leg.suite.yaml"];

const TINY_SUITE = "suite: tiny\nchecks:\n  - id: echo\n    command: { argv: [echo, hello] }\n";
const TINY_PLAN = "plan: tiny\nstages:\n  - { id: single, kind: single, suite: tiny.suite.yaml, node: { role: primary } }\n";

const NODES = [
  { name: "primary-1", role: "primary" },
  { name: "fleet-1", role: "fleet" },
  { name: "fleet-2", role: "fleet" },
];

const rowCount = (c: Coordinator, table: "runs" | "tasks") => queryDb<{ n: number }>(c.stateDir, `SELECT COUNT(*) AS n FROM ${table}`)[0]?.n;
const tasksStarted = (agents: Proc[]) => agents.filter((a) => a.stderr().includes('"task started"')).map((a) => a.name);
const settle = () => new Promise((r) => setTimeout(r, 1000));

describe("coord run --dry-run on a real fleet", () => {
  let ws: Workspace;
  let c: Coordinator;
  const agents: Proc[] = [];

  beforeAll(async () => {
    ws = new Workspace();
    for (const f of EXAMPLE_FILES) ws.write(f, readFileSync(`${EXAMPLES}${f}`, "utf8"));
    c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    for (const n of NODES) {
      agents.push(ws.track(startAgent({ name: n.name, address: c.address, token, stateDir: ws.path(n.name), labels: { role: n.role } })));
    }
    await waitFor("three agents online", async () => ((await onlineNodes(c)).length === 3 ? true : undefined));
  });

  afterAll(async () => ws.cleanup());

  it("prints every stage of the example release plan, exits 0, and starts nothing: no run or task rows, no task on any agent", async () => {
    const r = await coord(c, ["run", "all", "--plan", ws.path("release-gate.plan.yaml"), "--dry-run"]);
    expect(r.exitCode, r.stderr).toBe(0);
    for (const line of [
      "stage single  (single, 5 iterations)",
      "stage fleet  (fleet, 5 iterations per node, up to 4 nodes at once)",
      "stage federation  (cross, 1 iteration)",
      "stage matrix  (matrix, 1 iteration)",
      "  nodes       primary-1 (role=primary)",
      // The coordinator cannot see a node's environment: it names what each node needs.
      "  warning     primary-1: needs env ARCHY_PASSWORD (lifecycle-bats); where unset, those checks are not ready on the node",
      "              fleet-2: needs env ARCHY_PASSWORD (lifecycle-bats); where unset, those checks are not ready on the node",
      "  not chosen  fleet-1: label mismatch (role=fleet; wants role=primary)",
      "  roles       origin (wants role=fleet) → fleet-1 (role=fleet)",
      "              peer (wants role=fleet) → fleet-2 (role=fleet)",
      "      $ bitcoin-cli getblockchaininfo",
      "    restart-lnd-recovers  command  timeout 1m  DESTRUCTIVE: runs",
      "    plasmavmc-e2e  SKIPPED: opt-in leg; run it with --with plasmavmc-e2e",
      "mode: full",
      "scope: full",
      "skips: plasmavmc-e2e (opt-in): opt-in leg; run it with --with plasmavmc-e2e",
    ]) {
      expect(r.stdout.split("\n")).toContain(line);
    }

    await settle(); // a run, had one started, would have dispatched its first task by now
    expect(rowCount(c, "runs")).toBe(0);
    expect(rowCount(c, "tasks")).toBe(0);
    expect(tasksStarted(agents)).toEqual([]);
  });

  it("prints the same resolved plan as JSON with --json, for one stage and one named node, with the gating refusal a real run would get (exit 3)", async () => {
    const r = await coord(c, ["run", "fleet", "--plan", ws.path("release-gate.plan.yaml"), "--dry-run", "--json", "--node", "fleet-2", "--iterations", "2"]);
    expect(r.exitCode, r.stderr).toBe(3);
    const plan = JSON.parse(r.stdout) as { planName: string; refusal?: string; stages: { id: string; iterations: number; nodes: { chosen: { name: string }[]; excluded: { name: string; reason: string }[] } }[] };
    expect(plan.refusal).toMatch(/^stage fleet needs stage single green first/);
    expect(plan.planName).toBe("archy-release");
    expect(plan.stages.map((s) => [s.id, s.iterations])).toEqual([["fleet", 2]]);
    expect(plan.stages[0]?.nodes.chosen.map((n) => n.name)).toEqual(["fleet-2"]);
    expect(plan.stages[0]?.nodes.excluded.map((e) => [e.name, e.reason])).toEqual([
      ["fleet-1", "EXCLUSION_REASON_NOT_NAMED"],
      ["primary-1", "EXCLUSION_REASON_NOT_NAMED"],
    ]);
    expect(rowCount(c, "runs")).toBe(0);
  });

  it("honours --quick: mode quick, the scope narrowed, and every check not tagged quick shown as left out", async () => {
    const r = await coord(c, ["run", "single", "--plan", ws.path("release-gate.plan.yaml"), "--dry-run", "--quick"]);
    expect(r.exitCode, r.stderr).toBe(0);
    for (const line of [
      "mode: quick",
      "scope: narrowed — quick: only checks tagged quick",
      "checks left out by --quick, --tags or --only are listed as SKIPPED: left out (the agent neither runs nor reports them)",
      "    restart-lnd-recovers  command  timeout 1m  SKIPPED: left out: not tagged quick",
    ]) {
      expect(r.stdout.split("\n")).toContain(line);
    }
    // The example suite tags no check quick: the dry run shows none that would run.
    const gate = r.stdout.slice(r.stdout.indexOf("\n  checks\n")).split("\n").filter((l) => /^ {4}\S/.test(l));
    expect(gate.length).toBeGreaterThan(5);
    expect(gate.filter((l) => !l.includes("SKIPPED: left out: not tagged quick"))).toEqual([]);
    expect(rowCount(c, "runs")).toBe(0);
  });

  it("honours --skip STAGE --reason R: the stage shown as not run with its reason, and listed with the run's skips", async () => {
    const r = await coord(c, ["run", "all", "--plan", ws.path("release-gate.plan.yaml"), "--dry-run", "--skip", "federation", "--reason", "tor is down in the lab"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain("\nstage federation  (cross)  SKIPPED: --skip: tor is down in the lab\n");
    expect(r.stdout).toContain("skips: federation (--skip): tor is down in the lab\n");
    expect(r.stdout).toContain("scope: narrowed — federation skipped (--skip): tor is down in the lab\n");
    expect(r.stdout).not.toContain("roles       origin");
    expect(rowCount(c, "runs")).toBe(0);
  });

  it("refuses an --only id the suites lack with the real run's exit status and words", async () => {
    const args = ["run", "single", "--plan", ws.path("release-gate.plan.yaml"), "--only", "bitcoind-activ"];
    const dry = await coord(c, [...args, "--dry-run"]);
    const real = await coord(c, args);
    expect([dry.exitCode, real.exitCode]).toEqual([3, 3]);
    expect(dry.stderr).toContain("--only bitcoind-activ: no such check in the suites of the stages asked for; checks: bitcoind-active,");
    const message = (s: string) => s.slice(s.indexOf("--only"));
    expect(message(real.stderr)).toBe(message(dry.stderr));
    expect(rowCount(c, "runs")).toBe(0);
    expect(tasksStarted(agents)).toEqual([]);
  });

  it("exits 3 with file:line:col when the plan is bad, and still starts nothing", async () => {
    const bad = readFileSync(`${EXAMPLES}release-gate.plan.yaml`, "utf8").replace("iterations: 5                # N of N", "iterations: five             # N of N");
    ws.write("bad.plan.yaml", bad);
    const line = bad.split("\n").findIndex((l) => l.includes("iterations: five")) + 1;
    const r = await coord(c, ["run", "all", "--plan", ws.path("bad.plan.yaml"), "--dry-run"]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`bad\\.plan\\.yaml:${line}:\\d+ stages\\[0\\]\\.iterations`));
    expect(r.stdout).toBe("");
    expect(rowCount(c, "runs")).toBe(0);
  });

  it("exits 3 when the fleet cannot give each cross role a node of its own", async () => {
    const r = await coord(c, ["run", "cross", "--plan", ws.path("release-gate.plan.yaml"), "--dry-run", "--node", "fleet-1"]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain("stage federation: cannot bind roles origin, peer to distinct nodes");
  });

  it("exits 4 when no coordinator answers", async () => {
    const r = await coord({ address: "127.0.0.1:1", stateDir: c.stateDir }, ["run", "all", "--plan", ws.path("release-gate.plan.yaml"), "--dry-run"]);
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toContain("coordinator unreachable at 127.0.0.1:1");
  });

  it("refuses to run a stage on its own before the stages ahead of it have a green full run, naming the missing one", async () => {
    const r = await coord(c, ["run", "cross", "--plan", ws.path("release-gate.plan.yaml")]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toContain("stage federation needs stage single green first, and no full run of plan archy-release");
    expect(r.stderr).toContain("run it first (coord run single --plan");
    expect(rowCount(c, "runs")).toBe(0);
    expect(tasksStarted(agents)).toEqual([]);
  });

  it("shows the same gating refusal in a dry run, after the plan it would run, and exits 3 as the run does", async () => {
    const r = await coord(c, ["run", "cross", "--plan", ws.path("release-gate.plan.yaml"), "--dry-run"]);
    expect(r.exitCode).toBe(3);
    expect(r.stdout).toContain("stage federation  (cross, 1 iteration)");
    expect(r.stdout.trimEnd().split("\n").at(-1)).toMatch(/^a real run would be refused now: stage federation needs stage single green first, and no full run of plan archy-release/);
    expect(rowCount(c, "runs")).toBe(0);
  });

  // Last: it starts a real run. It proves the "no task started" assertion above can fail.
  it("control: a real run does log \"task started\" on the agent that gets the task", async () => {
    ws.write("tiny.suite.yaml", TINY_SUITE);
    ws.write("tiny.plan.yaml", TINY_PLAN);
    const r = await coord(c, ["run", "single", "--plan", ws.path("tiny.plan.yaml")]);
    // Passed; INCOMPLETE (2) only because the agent shares the coordinator's host.
    expect(r.exitCode, r.stderr).toBe(2);
    expect(tasksStarted(agents)).toEqual(["agent primary-1"]);
    expect(rowCount(c, "runs")).toBe(1);
  });
});
