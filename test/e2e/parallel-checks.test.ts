// Checks run in parallel on a real agent under a real coordinator (issue 16), and the
// coordinator sees exactly what it saw when they ran one by one, only sooner: every result once,
// committed in the suite's order, although the later checks finished first.
import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator } from "../../scripts/local-fleet.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";

const IDS = ["slowest", "slow", "quick", "quickest"];

describe("parallel checks through a coordinator", () => {
  let ws: Workspace;
  let c: Coordinator;

  beforeEach(async () => {
    ws = new Workspace();
    const log = ws.path("checks.log");
    // Each later check sleeps less, so they finish in the reverse of the declared order.
    const checks = IDS.map((id, i) => `  - id: ${id}\n    command: { argv: [sh, -c, "echo start ${id} >> ${log}; sleep 0.${8 - 2 * i}; echo end ${id} >> ${log}"] }`);
    ws.write("p.suite.yaml", `suite: p\nchecks:\n${checks.join("\n")}\n`);
    ws.write("plan.yaml", fleetPlan("p", "p.suite.yaml"));
    c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("node-a"), labels: { role: "fleet" }, args: ["--concurrency", "4"] }));
    await waitFor("the agent online", async () => ((await onlineNodes(c)).length === 1 ? true : undefined));
  });

  afterEach(async () => ws.cleanup());

  it("commits every result once, in declared order, although the checks ran together and finished in reverse", async () => {
    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    // The agent shares the coordinator's host: every check passed, yet the run cannot be signed off.
    expect(run.exitCode, run.stderr).toBe(2);
    const events = readFileSync(ws.path("checks.log"), "utf8").trim().split("\n");
    // All four started before any ended: they ran together.
    expect(events.slice(0, 4).every((e) => e.startsWith("start "))).toBe(true);
    expect(events.filter((e) => e.startsWith("end ")).map((e) => e.slice(4))).toEqual([...IDS].reverse());

    const stored = queryDb<{ check_id: string; status: string }>(c.stateDir, "SELECT check_id, status FROM check_results ORDER BY rowid");
    expect(stored).toEqual(IDS.map((id) => ({ check_id: id, status: "passed" })));
    // One event a check and one for the task's end, each committed once: nothing doubled.
    const received = queryDb<{ n: number }>(c.stateDir, "SELECT COUNT(*) AS n FROM agent_events WHERE node_name = 'node-a'");
    expect(received[0]?.n).toBe(IDS.length + 1);
    // What the person watching sees, in the suite's order too.
    const shown = IDS.map((id) => run.stdout.indexOf(`#1  ok    ${id} `));
    expect(shown.every((at) => at >= 0)).toBe(true);
    expect([...shown].sort((a, b) => a - b)).toEqual(shown);
  });
});
