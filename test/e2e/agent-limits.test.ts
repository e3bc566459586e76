// Issue 13, agent self-limits, against real processes: a real agent and coordinator, checks
// that run away (memory, CPU, output) under the agent's --check-*-limit flags or their own
// `limits:`, and the agent's own --max-memory ceiling restarting it with its spool intact.
// Agents share this host with the coordinator, so runs are INCOMPLETE by attestation (exit 2):
// the tests read task and check rows, not GO.
import { existsSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { coord, coordInBackground, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator, type Proc } from "../../scripts/local-fleet.js";
import { RESULT_BUDGET } from "../../shared/model/limits.js";
import { needsTool } from "../support/system-tools.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";

const prlimit = needsTool("prlimit", "util-linux");
const python = needsTool("python3", "python3");

const NODE = "node-a";
const FLOOD_BYTES = 2 * 1024 * 2 ** 20;

const RUNAWAY = `suite: runaway
checks:
  - id: memory-hog
    command: { argv: [python3, -c, "a=[]\\nwhile True: a.append(bytearray(b'x' * (16*1024*1024)))"] }
  - id: cpu-spin
    command: { argv: [sh, -c, "while :; do :; done"] }
  - id: cpu-spin-own-limit
    limits: { cpu: 2s }
    command: { argv: [sh, -c, "while :; do :; done"] }
  - id: output-flood
    command: { argv: [head, -c, "${FLOOD_BYTES}", /dev/zero] }
  - id: after
    command: { argv: [echo, still here], expect: { stdout: still here } }
`;

interface CheckRow {
  check_id: string;
  status: string;
  summary: string;
  out: Buffer;
}

/** Waits, bounded, for `agent` to exit; its exit code (null when a signal ended it). */
async function exited(agent: Proc, timeoutMs: number): Promise<number | null> {
  await waitFor(`${agent.name} to exit`, () => (agent.process.exitCode !== null || agent.process.signalCode !== null ? true : undefined), timeoutMs);
  return agent.process.exitCode;
}

const alive = (agent: Proc) => agent.process.exitCode === null && agent.process.signalCode === null;

describe("runaway checks on a running agent", () => {
  let ws: Workspace;
  afterEach(async () => ws.cleanup());

  it.skipIf(!prlimit || !python)(
    "reports a memory hog and CPU spins failed naming the limit, keeps a 2 GiB flood to a bounded tail without growing past its own ceiling, and runs the next check and the next run",
    async () => {
      ws = new Workspace();
      ws.write("runaway.suite.yaml", RUNAWAY);
      ws.write("quiet.suite.yaml", "suite: quiet\nchecks:\n  - id: echo\n    command: { argv: [echo, hello], expect: { stdout: hello } }\n");
      ws.write("runaway.plan.yaml", fleetPlan("runaway", "runaway.suite.yaml"));
      ws.write("quiet.plan.yaml", fleetPlan("quiet", "quiet.suite.yaml"));
      const c = ws.track(await startCoordinator(ws.path("state")));
      const token = (await coord(c, ["token", "create"])).stdout.trim();
      // --max-memory well above what the agent needs, far below the 2 GiB flood: buffering
      // the flood would restart the agent (exit 75) and fail this test.
      const args = ["--check-cpu-limit", "1s", "--check-memory-limit", "256MiB", "--max-memory", "384MiB"];
      const agent = ws.track(startAgent({ name: NODE, address: c.address, token, stateDir: ws.path(NODE), labels: { role: "fleet" }, args }));
      await waitFor(`${NODE} online`, async () => ((await onlineNodes(c)).includes(NODE) ? true : undefined));

      const runaway = await coordInBackground(c, ["run", "fleet", "--plan", ws.path("runaway.plan.yaml")]).result;
      expect(runaway.exitCode, runaway.stderr).toBe(1);
      expect(runaway.stdout).toContain("verdict: NO-GO");
      const rows = queryDb<CheckRow>(c.stateDir, "SELECT check_id, status, summary, CAST(stdout_tail AS BLOB) AS out FROM check_results ORDER BY started_at");
      expect(rows.map((r) => [r.check_id, r.status])).toEqual([
        ["memory-hog", "failed"],
        ["cpu-spin", "failed"],
        ["cpu-spin-own-limit", "failed"],
        ["output-flood", "passed"],
        ["after", "passed"],
      ]);
      const summary = (id: string) => rows.find((r) => r.check_id === id)?.summary;
      expect(summary("memory-hog")).toBe("memory limit 256 MiB exceeded: an allocation failed, exit 1: MemoryError");
      expect(summary("cpu-spin")).toBe("killed by SIGXCPU: CPU limit 1 s exceeded");
      expect(summary("cpu-spin-own-limit")).toBe("killed by SIGXCPU: CPU limit 2 s exceeded");
      const flood = rows.find((r) => r.check_id === "output-flood")?.out as Buffer;
      expect(flood.length).toBeLessThanOrEqual(RESULT_BUDGET.outputTailBytes);
      expect(flood.toString("utf8")).toMatch(/^\[… \d+ bytes cut …\]\n/);

      expect(alive(agent)).toBe(true);
      expect(agent.stderr()).not.toContain('"phase":"max_memory"');
      const quiet = await coordInBackground(c, ["run", "fleet", "--plan", ws.path("quiet.plan.yaml")]).result;
      expect(quiet.exitCode, quiet.stderr).toBe(2);
      expect(queryDb(c.stateDir, "SELECT t.status FROM tasks t JOIN runs r ON r.id = t.run_id ORDER BY r.created_at")).toEqual([{ status: "failed" }, { status: "passed" }]);
      expect(alive(agent)).toBe(true);
    },
    120_000,
  );
});

describe("the agent's memory ceiling", () => {
  let ws: Workspace;
  afterEach(async () => ws.cleanup());

  it("refuses a ceiling it could never run under, as bad input", async () => {
    ws = new Workspace();
    const agent = ws.track(startAgent({ name: NODE, address: "127.0.0.1:1", token: "fge_unused", stateDir: ws.path(NODE), args: ["--max-memory", "512"] }));
    expect(await exited(agent, 15_000)).toBe(3);
    expect(agent.stderr()).toContain("--max-memory: 512 B is less than the agent needs to start");
  });

  it("restarts the agent cleanly above --max-memory: one log line saying why, exit 75, and the results it had spooled delivered once by the next agent", async () => {
    ws = new Workspace();
    const started = ws.path("started");
    ws.write("slow.suite.yaml", `suite: slow\nchecks:\n  - id: slow\n    command: { argv: [sh, -c, 'touch ${started}; sleep 2; echo done'], expect: { stdout: done } }\n`);
    ws.write("slow.plan.yaml", fleetPlan("slow", "slow.suite.yaml"));
    let c: Coordinator = ws.track(await startCoordinator(ws.path("state")));
    const address = c.address;
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    const agentIn = (args: string[] = []) =>
      ws.track(startAgent({ name: NODE, address, token, stateDir: ws.path(NODE), labels: { role: "fleet" }, args: ["--stop-grace", "1s", ...args] }));

    // Life 1 runs the task while the coordinator is gone: its result and the task's end are
    // spooled, unacknowledged; then the agent dies without a word.
    const first = agentIn();
    await waitFor(`${NODE} online`, async () => ((await onlineNodes(c)).includes(NODE) ? true : undefined));
    ws.track(coordInBackground(c, ["run", "fleet", "--plan", ws.path("slow.plan.yaml")]));
    await waitFor("the check to start", () => (existsSync(started) ? true : undefined));
    await c.stop("SIGKILL");
    await waitFor("the task to end on the agent", () => (/"status":"passed","msg":"1\/1 passed"/.test(first.stderr()) ? true : undefined));
    await first.stop("SIGKILL");

    // Life 2 is over its ceiling at once, with the coordinator still down: it stops through the
    // graceful path and exits 75, keeping the spooled events for the next agent.
    const second = agentIn(["--max-memory", "32MiB"]);
    expect(await exited(second, 30_000)).toBe(75);
    const log = second.stderr();
    expect(log.match(/"phase":"max_memory"/g)).toHaveLength(1);
    expect(log).toMatch(/"msg":"agent memory [\d.]+ MiB \(RSS\) is above --max-memory 32 MiB: restarting cleanly — no new task starts/);
    expect(log).toContain('"phase":"stopping","reason":"max_memory"');
    expect(log).toMatch(/"phase":"stopped","pending":2,/);

    // The supervisor's restart: the coordinator is back on its address, life 3 delivers what
    // life 1 recorded, once.
    c = ws.track(await startCoordinator(ws.path("state"), [], address));
    agentIn();
    await waitFor("the task to be stored as passed", () => (queryDb<{ status: string }>(c.stateDir, "SELECT status FROM tasks")[0]?.status === "passed" ? true : undefined), 30_000);
    expect(queryDb(c.stateDir, "SELECT check_id, status FROM check_results")).toEqual([{ check_id: "slow", status: "passed" }]);
    const seqs = queryDb<{ seq: number }>(c.stateDir, "SELECT seq FROM agent_events WHERE node_name = ? ORDER BY seq", NODE).map((r) => r.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(seqs.length).toBeGreaterThanOrEqual(2);
  }, 120_000);
});
