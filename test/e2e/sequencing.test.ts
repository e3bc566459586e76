// The sequencing rules on real agents, read back from the coordinator's own timestamps: N of N
// iterations per node, in order; at most `parallel` nodes at once and never two tasks on one node;
// a node whose precondition fails is not ready (never passed), and the run is incomplete.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator } from "../../scripts/local-fleet.js";
import { queryDb, Workspace } from "./fixtures.js";

const SUITE = `
suite: paced
preconditions:
  - id: node-ready
    command: { argv: [test, -e, "\${env.READY_MARKER}"] }
    hint: create the ready marker
checks:
  - id: slow
    command: { argv: [sleep, "0.4"] }
  - id: fast
    tags: [quick]
    command: { argv: ["true"] }
`;

const PLAN = `
plan: paced
stages:
  - id: fleet
    kind: fleet
    suite: paced.suite.yaml
    nodes: { role: fleet }
    iterations: 2
    parallel: 2
`;

interface TaskRow {
  node_name: string;
  iteration: number;
  status: string;
  summary: string;
  started_at: number;
  finished_at: number;
}

describe("sequencing a fleet stage on real agents", () => {
  const ws = new Workspace();
  let c: Coordinator;
  const tasksOf = (runId: string) =>
    queryDb<TaskRow>(c.stateDir, "SELECT node_name, iteration, status, summary, started_at, finished_at FROM tasks WHERE run_id = ? ORDER BY ordinal", runId);
  const lastRunId = () => queryDb<{ id: string }>(c.stateDir, "SELECT id FROM runs ORDER BY created_at DESC, rowid DESC LIMIT 1")[0]?.id ?? "";

  beforeAll(async () => {
    ws.write("paced.suite.yaml", SUITE);
    ws.write("plan.yaml", PLAN);
    ws.write("ready", "");
    c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    for (const name of ["node-a", "node-b", "node-c"]) {
      const marker = ws.path(name === "node-c" ? "not-ready" : "ready");
      ws.track(startAgent({ name, address: c.address, token, stateDir: ws.path(name), labels: { role: "fleet" }, env: { READY_MARKER: marker } }));
    }
    await waitFor("three agents online", async () => ((await onlineNodes(c)).length === 3 ? true : undefined));
  });

  afterAll(() => ws.cleanup());

  it("runs 2 iterations on each of 3 nodes, at most 2 nodes at once, one task per node at a time, iterations in order", async () => {
    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml"), "--node", "node-a", "--node", "node-b", "--node", "node-c", "--iterations", "2"]);
    expect(run.stderr).not.toMatch(/^coord: /m);
    const tasks = tasksOf(lastRunId());
    expect(tasks.map((t) => `${t.node_name}#${t.iteration}`)).toEqual(["node-a#1", "node-a#2", "node-b#1", "node-b#2", "node-c#1", "node-c#2"]);

    for (const node of ["node-a", "node-b", "node-c"]) {
      const [first, second] = tasks.filter((t) => t.node_name === node) as [TaskRow, TaskRow];
      // The coordinator stamps a task started when it sends it, finished when the result lands.
      expect(second.started_at, `${node} iteration 2 started before 1 finished`).toBeGreaterThanOrEqual(first.finished_at);
    }
    // At every moment a task started, count the nodes working.
    for (const t of tasks) {
      const working = tasks.filter((o) => o.started_at <= t.started_at && t.started_at < o.finished_at);
      expect(new Set(working.map((o) => o.node_name)).size, `nodes working when ${t.node_name}#${t.iteration} started`).toBeLessThanOrEqual(2);
      expect(working.length).toBe(new Set(working.map((o) => o.node_name)).size);
    }
  }, 60_000);

  it("reports a node whose precondition fails as not ready — never passed — and ends incomplete (exit 2)", async () => {
    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml"), "--iterations", "1"]);
    expect(run.exitCode).toBe(2);
    const tasks = tasksOf(lastRunId());
    const nodeC = tasks.find((t) => t.node_name === "node-c") as TaskRow;
    expect(nodeC.status).toBe("not_ready");
    expect(nodeC.summary).toContain("precondition node-ready");
    expect(nodeC.summary).toContain("hint: create the ready marker");
    expect(tasks.filter((t) => t.node_name !== "node-c").every((t) => t.status === "passed")).toBe(true);
    const slowOnC = queryDb<{ n: number }>(c.stateDir, "SELECT COUNT(*) AS n FROM check_results r JOIN tasks t ON t.id = r.task_id WHERE t.node_name = 'node-c' AND r.check_id = 'slow' AND t.run_id = ?", lastRunId());
    expect(slowOnC[0]?.n, "no gate check runs on a node that is not ready").toBe(0);
  }, 60_000);

  it("runs only checks tagged quick with --quick, in mode quick, and never calls it GO", async () => {
    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml"), "--node", "node-a", "--quick", "--iterations", "1"]);
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toContain("quick run: checks tagged quick only; never signable");
    const runId = lastRunId();
    expect(queryDb<{ mode: string }>(c.stateDir, "SELECT mode FROM runs WHERE id = ?", runId)[0]?.mode).toBe("quick");
    const ran = queryDb<{ check_id: string }>(c.stateDir, "SELECT r.check_id FROM check_results r JOIN tasks t ON t.id = r.task_id WHERE t.run_id = ? ORDER BY r.precondition DESC, r.check_id", runId);
    expect(ran.map((r) => r.check_id)).toEqual(["node-ready", "fast"]);
  }, 60_000);
});
