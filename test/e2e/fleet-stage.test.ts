import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator } from "../../scripts/local-fleet.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";

const SUITE = `
suite: e2e
checks:
  - id: echo
    command: { argv: [echo, hello], expect: { stdout: hello } }
  - id: not-broken
    command: { argv: [test, "!", -e, "\${env.BROKEN_MARKER}"] }
    hint: the node is marked broken
`;

// The fleet stage comes first so it can run on its own: a stage after another is gated on it.
const PLAN = `
plan: e2e-plan
stages:
  - id: fleet
    kind: fleet
    suite: e2e.suite.yaml
    nodes: { role: fleet }
    iterations: 2
  - id: single
    kind: single
    suite: e2e.suite.yaml
    node: { role: primary }
`;

describe("a fleet stage on real agents", () => {
  let ws: Workspace;
  let c: Coordinator;

  beforeEach(async () => {
    ws = new Workspace();
    ws.write("e2e.suite.yaml", SUITE);
    ws.write("plan.yaml", PLAN);
    ws.write("broken", "");
    c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    const nodes: { name: string; env: Record<string, string> }[] = [
      { name: "node-a", env: { BROKEN_MARKER: ws.path("absent"), ONLY_ON_A: "1" } },
      { name: "node-b", env: { BROKEN_MARKER: ws.path("broken") } },
    ];
    for (const n of nodes) {
      ws.track(startAgent({ name: n.name, address: c.address, token, stateDir: ws.path(n.name), labels: { role: "fleet" }, env: n.env }));
    }
    await waitFor("both agents online", async () => ((await onlineNodes(c)).length === 2 ? true : undefined));
  });

  afterEach(async () => ws.cleanup());

  it("stores every check result with the host that ran it and exits 1 when one node fails", async () => {
    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    expect(run.exitCode, run.stderr).toBe(1);
    expect(run.stdout).toContain("[fleet] node-b #1  FAIL  not-broken");
    expect(run.stdout).toMatch(/: FAILED/);

    const tasks = queryDb<{ node_name: string; iteration: number; status: string }>(c.stateDir, "SELECT node_name, iteration, status FROM tasks ORDER BY node_name, iteration");
    expect(tasks).toEqual([
      { node_name: "node-a", iteration: 1, status: "passed" },
      { node_name: "node-a", iteration: 2, status: "passed" },
      { node_name: "node-b", iteration: 1, status: "failed" },
      { node_name: "node-b", iteration: 2, status: "failed" },
    ]);
    const checks = queryDb<{ n: number; machines: string }>(c.stateDir, "SELECT COUNT(*) AS n, GROUP_CONCAT(DISTINCT origin_machine_id) AS machines FROM check_results");
    expect(checks[0]?.n).toBe(8);
    expect(checks[0]?.machines).toBe(readFileSync("/etc/machine-id", "utf8").trim());
    const failed = queryDb<{ summary: string; hint: string }>(c.stateDir, "SELECT summary, hint FROM check_results WHERE status = 'failed'");
    expect(failed).toHaveLength(2);
    expect(failed[0]).toEqual({ summary: "expected exit 0, saw 1", hint: "the node is marked broken" });
  });

  it("passes every task on the chosen node, yet exits 2 (INCOMPLETE) because the agent shares the coordinator's host", async () => {
    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml"), "--node", "node-a"]);
    expect(run.exitCode, run.stderr).toBe(2);
    expect(run.stdout).toContain("verdict: INCOMPLETE");
    expect(run.stdout).toContain("not valid for sign-off: node node-a runs on the coordinator's own host");
    expect(run.stdout).toMatch(/fleet\s+node-a\s+\+\+ 2\/2\s+passed/);
    expect(queryDb(c.stateDir, "SELECT * FROM tasks WHERE node_name = 'node-b'")).toEqual([]);
  });

  it("exits 1 (NO-GO) when one node fails and another is not ready: a failure anywhere wins, the not-ready node is listed too", async () => {
    // node-a fails the check; node-b lacks ONLY_ON_A: node state, so its check is not ready there.
    ws.write("mixed.suite.yaml", `suite: mixed\nchecks:\n  - id: a-is-zero\n    command: { argv: [test, "\${env.ONLY_ON_A}", "=", "0"] }\n`);
    ws.write("mixed.plan.yaml", fleetPlan("mixed", "mixed.suite.yaml"));
    const run = await coord(c, ["run", "fleet", "--plan", ws.path("mixed.plan.yaml")]);
    expect(run.exitCode, run.stderr).toBe(1);
    expect(queryDb(c.stateDir, "SELECT node_name, status FROM tasks ORDER BY node_name")).toEqual([
      { node_name: "node-a", status: "failed" },
      { node_name: "node-b", status: "not_ready" },
    ]);
    expect(queryDb(c.stateDir, "SELECT status FROM runs")).toEqual([{ status: "failed" }]);
    expect(run.stdout).toContain("verdict: NO-GO");
    expect(run.stdout).toContain("env ONLY_ON_A is not set on this node; used by check a-is-zero at mixed.suite.yaml:4:30");
  });

  it("refuses to start a stage no registered node matches, and says which nodes exist", async () => {
    const run = await coord(c, ["run", "single", "--plan", ws.path("plan.yaml")]);
    expect(run.exitCode).toBe(3);
    expect(run.stderr).toContain("stage single: no node matching role=primary; nodes: node-a (role=fleet), node-b (role=fleet)");
    expect(queryDb(c.stateDir, "SELECT * FROM runs")).toEqual([]);
  });

  it("flags agents that share one host as not valid for sign-off", async () => {
    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml"), "--node", "node-a", "--node", "node-b"]);
    expect(run.stdout).toContain("not valid for sign-off: node node-a shares machine-id with node-b");
    const flags = queryDb<{ flags_json: string }>(c.stateDir, "SELECT flags_json FROM runs");
    expect(JSON.parse(flags[0]?.flags_json ?? "[]")).toContain("node node-b shares machine-id with node-a");
  });
});
