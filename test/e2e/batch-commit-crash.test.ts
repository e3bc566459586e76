// Batched commits (issue 16) against real processes: a real `coord serve` SIGKILLed again and
// again while a fleet of real agents streams results into it — each time a few milliseconds after
// the restarted coordinator committed its first events, while the agents flush what they spooled
// while it was down and go on streaming, so the kill lands while batches are being received and
// committed. After the last restart every result is stored exactly once, every event the agents
// spooled is acked (their spools drain), and the run passes.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { coord, coordInBackground, onlineNodes, startAgent, startCoordinator, waitFor } from "../../scripts/local-fleet.js";
import { SPOOL_DIR } from "../../agent/daemon/spool.js";
import { scanSpool } from "../../agent/daemon/spool/scan.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";

const NODES = ["node-a", "node-b", "node-c"];
const CHECKS = 40;
const ITERATIONS = 8;
// Quick checks: results stream as fast as the agents can spawn, and keep going into the agents'
// spools while the coordinator is down.
const SUITE = `suite: stream\nchecks:\n${Array.from({ length: CHECKS }, (_, i) => `  - id: c${String(i).padStart(2, "0")}\n    command: { argv: ["true"] }\n`).join("")}`;
/** How long after a restarted coordinator's first commit it is killed: at different points of the stream. */
const KILL_AFTER_MS = [0, 10, 25, 50, 100];

/** Events the agent wrote to its spool and the coordinator has not acked yet. */
function spooled(agentStateDir: string): number {
  const dir = join(agentStateDir, SPOOL_DIR);
  return existsSync(dir) ? scanSpool(dir).pending.size : 0;
}

const committedEvents = (stateDir: string) => queryDb<{ n: number }>(stateDir, "SELECT COUNT(*) AS n FROM agent_events")[0]?.n ?? 0;

describe("a coordinator SIGKILLed while it commits batches of results", () => {
  const ws = new Workspace();
  afterAll(() => ws.cleanup());

  it("loses nothing and doubles nothing: every (task, check) stored once, every spooled event acked, the run passed", async () => {
    ws.write("stream.suite.yaml", SUITE);
    ws.write("plan.yaml", fleetPlan("stream", "stream.suite.yaml", ITERATIONS));
    const state = ws.path("state");
    let c = ws.track(await startCoordinator(state, ["--heartbeat", "1s"]));
    const address = c.address;
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    for (const name of NODES) ws.track(startAgent({ name, address, token, stateDir: ws.path(name), labels: { role: "fleet" } }));
    await waitFor("the fleet online", async () => ((await onlineNodes(c)).length === NODES.length ? true : undefined));

    ws.track(coordInBackground(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]));
    await waitFor("the first results", () => (committedEvents(state) > 0 ? true : undefined));

    // Kill rounds: kill, let the agents spool, restart on the same address, kill again mid-stream.
    const rounds: { before: number; killedAt: number; spooledAfter: number }[] = [];
    for (const delay of KILL_AFTER_MS) {
      await c.stop("SIGKILL");
      await new Promise((r) => setTimeout(r, 500));
      const before = committedEvents(state);
      c = ws.track(await startCoordinator(state, ["--heartbeat", "1s"], address));
      // Tight, bounded poll: the first events committed by the new process.
      const until = Date.now() + 20_000;
      while (committedEvents(state) === before && Date.now() < until) await new Promise((r) => setTimeout(r, 1));
      await new Promise((r) => setTimeout(r, delay));
      await c.stop("SIGKILL");
      rounds.push({ before, killedAt: committedEvents(state), spooledAfter: NODES.reduce((sum, n) => sum + spooled(ws.path(n)), 0) });
    }
    // At least one kill landed mid-stream: some events of the burst committed, others still spooled.
    expect(rounds.some((r) => r.killedAt > r.before && r.spooledAfter > 0), JSON.stringify(rounds)).toBe(true);

    c = ws.track(await startCoordinator(state, ["--heartbeat", "1s"], address));
    await waitFor("the run to finish", () => (queryDb<{ status: string }>(state, "SELECT status FROM runs")[0]?.status !== "running" ? true : undefined), 120_000);
    expect(queryDb(state, "SELECT status FROM runs")).toEqual([{ status: "passed" }]);

    const tasks = queryDb<{ id: string; node_name: string; status: string }>(state, "SELECT id, node_name, status FROM tasks ORDER BY node_name, iteration");
    expect(tasks.map((t) => `${t.node_name} ${t.status}`)).toEqual(NODES.flatMap((n) => Array.from({ length: ITERATIONS }, () => `${n} passed`)));
    // One row per (task, check) — and so per node, check and iteration — none missing.
    const perCheck = queryDb<{ task_id: string; check_id: string; n: number }>(state, "SELECT task_id, check_id, COUNT(*) AS n FROM check_results GROUP BY task_id, check_id");
    expect(perCheck.filter((r) => r.n !== 1)).toEqual([]);
    expect(perCheck).toHaveLength(NODES.length * ITERATIONS * CHECKS);
    for (const t of tasks) expect(perCheck.filter((r) => r.task_id === t.id), t.id).toHaveLength(CHECKS);
    // Each event committed once under its own seq, none lost, none numbered twice: per node,
    // CHECKS results and one taskDone per task, seqs 1..N without a gap.
    const perNode = ITERATIONS * (CHECKS + 1);
    expect(queryDb(state, "SELECT node_name, COUNT(*) AS n, MIN(seq) AS low, MAX(seq) AS top FROM agent_events GROUP BY node_name ORDER BY node_name")).toEqual(
      NODES.map((n) => ({ node_name: n, n: perNode, low: 1, top: perNode })),
    );
    // Every event the agents spooled was acked in the end.
    for (const n of NODES) await waitFor(`${n}'s spool to drain`, () => (spooled(ws.path(n)) === 0 ? true : undefined), 10_000);
  }, 240_000);
});
