// DESIGN rules 2 ("Nothing is lost") and 3 ("A skip is never a pass") against real processes: an
// agent that dies mid-task, a coordinator that dies mid-run, and results produced while the
// coordinator is away.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { coord, coordInBackground, onlineNodes, startAgent, startCoordinator, waitFor, type CliResult, type Coordinator, type Proc } from "../../scripts/local-fleet.js";
import { SPOOL_DIR } from "../../agent/daemon/spool.js";
import { scanSpool } from "../../agent/daemon/spool/scan.js";
import { queryDb, Workspace } from "./fixtures.js";

interface TaskRow {
  id: string;
  node_name: string;
  iteration: number;
  status: string;
  summary: string;
  started_at: number | null;
  finished_at: number | null;
}

/**
 * Starts `coord run …` without waiting for it, tracked so cleanup kills it; `result` settles when
 * it exits (it may exit 4 on purpose, when the test kills the coordinator it follows).
 */
function startRun(ws: Workspace, c: Coordinator, args: string[]): Promise<CliResult> {
  return ws.track(coordInBackground(c, ["run", ...args])).result;
}

function tasks(c: Coordinator): TaskRow[] {
  return queryDb<TaskRow>(c.stateDir, "SELECT id, node_name, iteration, status, summary, started_at, finished_at FROM tasks ORDER BY node_name, iteration");
}

function runStatus(c: Coordinator): string | undefined {
  return queryDb<{ status: string }>(c.stateDir, "SELECT status FROM runs")[0]?.status;
}

/** Seqs of the events the agent wrote to its spool on disk that the coordinator has not acknowledged yet. */
function spooled(agentStateDir: string): bigint[] {
  const dir = join(agentStateDir, SPOOL_DIR);
  if (!existsSync(dir)) return [];
  return [...scanSpool(dir).pending.keys()];
}

async function enrollFleet(ws: Workspace, c: Coordinator, names: string[]): Promise<Record<string, Proc>> {
  const token = (await coord(c, ["token", "create"])).stdout.trim();
  const agents: Record<string, Proc> = {};
  for (const name of names) agents[name] = ws.track(startAgent({ name, address: c.address, token, stateDir: ws.path(name), labels: { role: "fleet" } }));
  await waitFor(`${names.join(", ")} online`, async () => ((await onlineNodes(c)).length === names.length ? true : undefined));
  return agents;
}

const fleetPlan = (iterations: number) => `
plan: resilience
stages:
  - id: fleet
    kind: fleet
    suite: s.suite.yaml
    nodes: { role: fleet }
    iterations: ${iterations}
`;

describe("lost nodes and coordinator restarts", () => {
  let ws: Workspace;
  afterEach(async () => ws.cleanup());

  it("marks a node lost when its agent is SIGKILLed mid-task, finishes the run for the others, and exits 2", async () => {
    ws = new Workspace();
    ws.write("s.suite.yaml", 'suite: s\nchecks:\n  - id: slow\n    command: { argv: [sleep, "4"] }\n');
    ws.write("plan.yaml", fleetPlan(2));
    const c = ws.track(await startCoordinator(ws.path("state"), ["--lost-after", "3s", "--heartbeat", "1s"]));
    const agents = await enrollFleet(ws, c, ["node-a", "node-b", "node-c"]);

    const run = startRun(ws, c, ["fleet", "--plan", ws.path("plan.yaml")]);
    const victim = agents["node-b"] as Proc;
    await waitFor("node-b's first task running", () => tasks(c).some((t) => t.node_name === "node-b" && t.iteration === 1 && t.status === "running") || undefined);
    await waitFor("node-b's agent to start the task", () => /"msg":"task started"/.test(victim.stderr()) || undefined);
    await victim.stop("SIGKILL");

    const result = await run;
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stdout).toMatch(/\[fleet\] node-b #1 {2}=> lost: node node-b lost: not heard from for \d/);
    expect(result.stdout).toMatch(/fleet\s+node-b\s+LL 0\/2\s+lost\s+node node-b lost/);
    expect(result.stdout).toMatch(/: INCOMPLETE/);

    expect(tasks(c).map((t) => ({ node: t.node_name, iteration: t.iteration, status: t.status }))).toEqual([
      { node: "node-a", iteration: 1, status: "passed" },
      { node: "node-a", iteration: 2, status: "passed" },
      { node: "node-b", iteration: 1, status: "lost" },
      { node: "node-b", iteration: 2, status: "lost" },
      { node: "node-c", iteration: 1, status: "passed" },
      { node: "node-c", iteration: 2, status: "passed" },
    ]);
    // The killed agent never finished its check, so nothing on node-b can read as a pass.
    expect(queryDb(c.stateDir, "SELECT c.* FROM check_results c JOIN tasks t ON t.id = c.task_id WHERE t.node_name = 'node-b'")).toEqual([]);
    expect(queryDb<{ n: number }>(c.stateDir, "SELECT COUNT(*) AS n FROM check_results WHERE status = 'passed'")[0]?.n).toBe(4);
    expect(runStatus(c)).toBe("lost");

    // The bundle says why node-b was lost and when: its stream closed, and 3 s later the verdict.
    const runId = queryDb<{ id: string }>(c.stateDir, "SELECT id FROM runs")[0]?.id as string;
    const bundle = join(c.stateDir, "runs", runId);
    await waitFor("the run's evidence bundle", () => existsSync(join(bundle, "manifest.json")) || undefined);
    const timeline = JSON.parse(readFileSync(join(bundle, "nodes", "node-b", "timeline.json"), "utf8")) as { node: string; events: { at: string; kind: string; why: string; address: string }[] };
    expect(timeline.node).toBe("node-b");
    expect(timeline.events.map((e) => e.kind), JSON.stringify(timeline.events)).toEqual(["connected", "disconnected", "lost"]);
    const [connected, disconnected, lostAt] = timeline.events as [(typeof timeline.events)[0], (typeof timeline.events)[0], (typeof timeline.events)[0]];
    expect(connected.address).toBe("127.0.0.1");
    expect(disconnected.why).toBe("closed from the agent's side (agent stopped or killed, or its connection closed)");
    expect(lostAt.why).toMatch(/^node node-b lost: not heard from for \d/);
    expect(Date.parse(lostAt.at) - Date.parse(disconnected.at)).toBeLessThan(5_000);
    // The manifest covers the timelines like every other file, and the others' are there too.
    const manifest = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8")) as { files: Record<string, string> };
    expect(Object.keys(manifest.files).filter((p) => p.endsWith("/timeline.json")).sort()).toEqual(["nodes/node-a/timeline.json", "nodes/node-b/timeline.json", "nodes/node-c/timeline.json"]);
    const verify = await coord(c, ["verify", bundle]);
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);
  });

  it("completes a run after the coordinator is killed and restarted mid-run, with no duplicate or missing result, coord run following it throughout", async () => {
    ws = new Workspace();
    ws.write("s.suite.yaml", 'suite: s\nchecks:\n  - id: quick\n    command: { argv: ["true"] }\n  - id: slow\n    command: { argv: [sleep, "1"] }\n');
    ws.write("plan.yaml", fleetPlan(3));
    const first = ws.track(await startCoordinator(ws.path("state"), ["--heartbeat", "1s"]));
    const nodes = ["node-a", "node-b"];
    await enrollFleet(ws, first, nodes);

    const run = ws.track(coordInBackground(first, ["run", "fleet", "--plan", ws.path("plan.yaml")]));
    await waitFor("a first task to pass", () => tasks(first).some((t) => t.status === "passed") || undefined);
    await first.stop("SIGKILL");
    const atKill = tasks(first).filter((t) => t.status === "passed").length;
    expect(atKill).toBeGreaterThanOrEqual(1);
    expect(atKill).toBeLessThan(6);
    // The CLI following the run says it lost the coordinator and keeps trying; the run itself goes on.
    await waitFor("coord run to say it lost the watch", () => run.stderr().includes("coord: lost the watch of run") || undefined);
    expect(run.stderr()).toContain(`coordinator unreachable at ${first.address}`);

    const second = ws.track(await startCoordinator(ws.path("state"), ["--heartbeat", "1s"], first.address));
    // Following again, it sees the run to its end: the verdict and exit status of a run never interrupted.
    const followed = await run.result;
    // Every task passed; the verdict is INCOMPLETE (exit 2), as for any run here: both agents run
    // on this one host, one machine-id, which no release may sign off.
    expect(followed.stdout, followed.stderr).toMatch(/\): PASSED\nverdict: INCOMPLETE\n/);
    expect(followed.exitCode).toBe(2);
    expect(followed.stderr).toMatch(/coord: following run \S+ again/);
    // The new watch replayed the run so far: every check result was printed once, none twice.
    const printed = followed.stdout.split("\n").filter((l) => /\b(quick|slow)\b/.test(l));
    expect(printed.length, followed.stdout).toBe(nodes.length * 3 * 2);
    expect(new Set(printed).size, followed.stdout).toBe(printed.length);
    await waitFor("the resumed run to finish", () => (runStatus(second) !== "running" ? true : undefined), 30_000);
    expect(second.stderr()).toContain("resuming run left running by the previous coordinator");
    expect(runStatus(second)).toBe("passed");

    const rows = tasks(second);
    expect(rows.map((t) => `${t.node_name}#${t.iteration} ${t.status}`)).toEqual(nodes.flatMap((n) => [1, 2, 3].map((i) => `${n}#${i} passed`)));
    for (const t of rows) {
      expect(t.started_at, t.id).not.toBeNull();
      expect(t.finished_at, t.id).toBeGreaterThanOrEqual(t.started_at as number);
    }
    // A node's iterations ran one after the other, across the restart too.
    for (const n of nodes) {
      const mine = rows.filter((t) => t.node_name === n);
      for (let i = 1; i < mine.length; i++) expect(mine[i]?.started_at).toBeGreaterThanOrEqual(mine[i - 1]?.finished_at as number);
    }
    const checks = queryDb<{ task_id: string; check_id: string; status: string }>(second.stateDir, "SELECT task_id, check_id, status FROM check_results ORDER BY task_id, check_id");
    expect(checks).toHaveLength(nodes.length * 3 * 2);
    expect(checks.every((r) => r.status === "passed")).toBe(true);
    for (const t of rows) expect(checks.filter((r) => r.task_id === t.id).map((r) => r.check_id), t.id).toEqual(["quick", "slow"]);
    // Exactly two checks and one task_done per task were committed: no task ran twice after the
    // re-dispatch, no event went missing, and none was committed twice under another seq.
    const events = queryDb<{ node_name: string; n: number; top: number }>(second.stateDir, "SELECT node_name, COUNT(*) AS n, MAX(seq) AS top FROM agent_events GROUP BY node_name ORDER BY node_name");
    expect(events).toEqual(nodes.map((n) => ({ node_name: n, n: 9, top: 9 })));
    for (const n of nodes) await waitFor(`${n}'s spool to drain`, () => (spooled(ws.path(n)).length === 0 ? true : undefined), 5000);

    const show = await coord(second, ["show", rows[0]?.id.split("/")[0] as string]);
    // Every task passed; INCOMPLETE (2) only because the agents share the coordinator's host.
    expect(show.exitCode, show.stderr).toBe(2);
    expect(show.stdout).toMatch(/fleet\s+node-a\s+\+\+\+ 3\/3\s+passed/);
    expect(show.stdout).toMatch(/fleet\s+node-b\s+\+\+\+ 3\/3\s+passed/);
  });

  it("a dropped link delays results but loses none", async () => {
    ws = new Workspace();
    // One check after another (concurrency: 1), so `after` is produced while the coordinator is down.
    ws.write(
      "s.suite.yaml",
      'suite: s\nconcurrency: 1\nchecks:\n  - id: before\n    command: { argv: ["true"] }\n  - id: long\n    command: { argv: [sleep, "3"] }\n  - id: after\n    command: { argv: ["true"] }\n',
    );
    ws.write("plan.yaml", fleetPlan(1));
    const first = ws.track(await startCoordinator(ws.path("state"), ["--heartbeat", "1s"]));
    await enrollFleet(ws, first, ["node-a"]);

    const run = ws.track(coordInBackground(first, ["run", "fleet", "--plan", ws.path("plan.yaml")]));
    await waitFor("the first check's result", () => queryDb(first.stateDir, "SELECT 1 FROM check_results WHERE check_id = 'before'").length > 0 || undefined);
    await first.stop("SIGKILL");
    const killedAt = Date.now();
    await waitFor("coord run to say it lost the watch", () => run.stderr().includes("coord: lost the watch of run") || undefined);

    // The agent goes on with the long check and spools what it produces: two checks and the task's end.
    await waitFor("the agent to spool the rest of the task", () => (spooled(ws.path("node-a")).length >= 3 ? true : undefined), 10_000);
    expect(queryDb(first.stateDir, "SELECT check_id FROM check_results")).toEqual([{ check_id: "before" }]);
    const restartedAt = Date.now();
    const second = ws.track(await startCoordinator(ws.path("state"), ["--heartbeat", "1s"], first.address));
    await waitFor("the run to finish", () => (runStatus(second) !== "running" ? true : undefined), 30_000);
    expect(runStatus(second)).toBe("passed");
    const followed = await run.result;
    expect(followed.stdout, followed.stderr).toMatch(/\): PASSED\nverdict: INCOMPLETE\n/);

    const checks = queryDb<{ check_id: string; status: string; started_at: number }>(second.stateDir, "SELECT check_id, status, started_at FROM check_results ORDER BY started_at");
    expect(checks.map((r) => [r.check_id, r.status])).toEqual([
      ["before", "passed"],
      ["long", "passed"],
      ["after", "passed"],
    ]);
    // Produced while the coordinator was down, committed only after it came back.
    for (const r of checks.slice(1)) expect(r.started_at, r.check_id).toBeLessThan(restartedAt);
    expect(checks[2]?.started_at).toBeGreaterThanOrEqual(killedAt);
    const events = queryDb<{ seq: number; received_at: number }>(second.stateDir, "SELECT seq, received_at FROM agent_events ORDER BY seq");
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    for (const e of events.slice(1)) expect(e.received_at, `seq ${e.seq}`).toBeGreaterThanOrEqual(restartedAt);
    await waitFor("the spool to drain", () => (spooled(ws.path("node-a")).length === 0 ? true : undefined), 5000);
  });
});
