// Checks run in parallel on a real agent under a real coordinator (issue 16), and the
// coordinator sees exactly what it saw when they ran one by one, only sooner: every result once,
// committed in the suite's order, although the later checks finished first.
import { existsSync, readFileSync } from "node:fs";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AGENT_BIN, coord, coordInBackground, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator } from "../../scripts/local-fleet.js";
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

describe("a cancelled task with checks in flight", () => {
  let ws: Workspace;
  let c: Coordinator;
  afterEach(async () => ws.cleanup());

  it("kills the checks in flight, starts no other, and shows none of them passed", async () => {
    ws = new Workspace();
    const log = ws.path("checks.log");
    const ids = ["a", "b", "c", "d", "e"];
    const checks = ids.map((id) => `  - id: ${id}\n    timeout: 40s\n    command: { argv: [sh, -c, "echo start ${id} >> ${log}; sleep 30; echo end ${id} >> ${log}"] }`);
    ws.write("slow.suite.yaml", `suite: slow\nchecks:\n${checks.join("\n")}\n`);
    ws.write("plan.yaml", fleetPlan("slow", "slow.suite.yaml"));
    c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    const agent = ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("node-a"), labels: { role: "fleet" }, args: ["--concurrency", "2"] }));
    await waitFor("the agent online", async () => ((await onlineNodes(c)).length === 1 ? true : undefined));
    const follower = ws.track(coordInBackground(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]));
    const started = () => (existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : []);
    await waitFor("two checks running", () => (started().length === 2 ? true : undefined));
    const runId = queryDb<{ id: string }>(c.stateDir, "SELECT id FROM runs ORDER BY created_at").at(-1)?.id as string;
    const cancelled = await coord(c, ["cancel", runId, "--reason", "release pulled"]);
    expect(cancelled.exitCode, cancelled.stderr).toBe(0);
    expect((await follower.result).exitCode).toBe(2);
    await waitFor("the task's end stored", () => (queryDb<{ status: string }>(c.stateDir, "SELECT status FROM tasks").every((t) => t.status === "cancelled") ? true : undefined), 15_000);
    // Only the first two ever started (together: either may write its line first), neither ran to
    // its end, and nothing is stored as passed.
    expect(started().sort()).toEqual(["start a", "start b"]);
    // The agent reported the two it killed, in order, as failed (killed), and no other.
    await waitFor("the agent to report the task over", () => (/"status":"cancelled"/.test(agent.stderr()) ? true : undefined), 10_000);
    const reported = [...agent.stderr().matchAll(/"check":"([a-e])","status":"([a-z_]+)"/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(reported).toEqual(["a failed", "b failed"]);
    const stored = queryDb<{ check_id: string; status: string }>(c.stateDir, "SELECT check_id, status FROM check_results ORDER BY rowid");
    expect(stored.every((r) => r.status !== "passed")).toBe(true);
  });
});

describe("fleetgate-agent check --concurrency", () => {
  let ws: Workspace;
  beforeEach(() => {
    ws = new Workspace();
  });
  afterEach(async () => ws.cleanup());

  const check = (...args: string[]) => execa(process.execPath, [AGENT_BIN, "check", ...args], { reject: false, stdin: "ignore" });

  it("runs the checks together and writes text and JUnit in the suite's order", async () => {
    const log = ws.path("checks.log");
    const checks = IDS.map((id, i) => `  - id: ${id}\n    command: { argv: [sh, -c, "echo start ${id} >> ${log}; sleep 0.${8 - 2 * i}; echo end ${id} >> ${log}"] }`);
    const suite = ws.write("p.suite.yaml", `suite: p\nchecks:\n${checks.join("\n")}\n`);
    const text = await check(suite, "--concurrency", "4");
    expect(text.exitCode, String(text.stderr)).toBe(0);
    const events = readFileSync(log, "utf8").trim().split("\n");
    expect(events.slice(0, 4).every((e) => e.startsWith("start "))).toBe(true);
    const printed = IDS.map((id) => String(text.stdout).search(new RegExp(`ok +${id} `)));
    expect(printed.every((at) => at >= 0)).toBe(true);
    expect([...printed].sort((a, b) => a - b)).toEqual(printed);
    const junit = await check(suite, "--concurrency", "4", "--format", "junit");
    expect([...String(junit.stdout).matchAll(/<testcase classname="p" name="([^"]+)"/g)].map((m) => m[1])).toEqual(IDS);
  });

  it("refuses a concurrency that is not a whole number from 1 to 64, as bad input (exit 3)", async () => {
    const suite = ws.write("t.suite.yaml", `suite: t\nchecks:\n  - id: t\n    command: { argv: ["true"] }\n`);
    const r = await check(suite, "--concurrency", "0");
    expect(r.exitCode).toBe(3);
    expect(String(r.stderr)).toContain("expected a whole number of checks from 1 to 64 (1 runs them one after the other), got \"0\"");
  });
});
