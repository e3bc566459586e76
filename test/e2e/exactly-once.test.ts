// Issue 11, "a task runs at most once on a node", against real processes: an agent killed or
// stopped in the middle of a destructive check, then started again on the same state dir, while
// the coordinator re-sends the task it saw running. The check appends a line to a file, so the
// file counts how often it really ran. Agents share this host, so every run is INCOMPLETE by
// attestation (exit 2): the tests read task statuses and rows, not GO.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { coord, coordInBackground, onlineNodes, startAgent, startCoordinator, waitFor, type CliResult, type Coordinator, type Proc } from "../../scripts/local-fleet.js";
import { queryDb, Workspace } from "./fixtures.js";

const NODE = "node-a";

/** One destructive check: records its process group ($$ leads it) in `ran`, then sleeps. */
const suite = (ran: string, sleepSeconds: number) => `
suite: wipe
checks:
  - id: wipe
    destructive: true
    command: { argv: [sh, -c, 'echo "ran $$" >> ${ran}; sleep ${sleepSeconds}'] }
    timeout: 60s
`;

const plan = (iterations: number) => `
plan: exactly-once
stages:
  - id: wipe
    kind: fleet
    suite: wipe.suite.yaml
    nodes: { role: fleet }
    iterations: ${iterations}
    allow_destructive: true
`;

interface TaskRow {
  id: string;
  iteration: number;
  status: string;
  summary: string;
}

/** Process ids of live (not zombie) processes in process group `pgid`, read from /proc. */
function liveInGroup(pgid: number): number[] {
  const live: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z") live.push(Number(entry));
    } catch {
      // Gone while we looked.
    }
  }
  return live;
}

/** A node whose agent the test kills, stops and starts again on the same state dir. */
class Fleet {
  readonly ws = new Workspace();
  readonly ran = this.ws.path("ran.log");
  c!: Coordinator;
  private token = "";

  private async start(sleepSeconds: number, iterations: number): Promise<void> {
    this.ws.write("wipe.suite.yaml", suite(this.ran, sleepSeconds));
    this.ws.write("plan.yaml", plan(iterations));
    this.c = this.ws.track(await startCoordinator(this.ws.path("state"), ["--heartbeat", "1s"]));
    this.token = (await coord(this.c, ["token", "create"])).stdout.trim();
  }

  /** Starts the agent and waits until the coordinator sees it online. */
  async agent(args: string[] = []): Promise<Proc> {
    const agent = this.ws.track(startAgent({ name: NODE, address: this.c.address, token: this.token, stateDir: this.ws.path(NODE), labels: { role: "fleet" }, args }));
    // Each probe is a `coord nodes` process: on a CI machine running three test files at once a
    // restarted agent has been seen online only after 15 s.
    await waitFor(`${NODE} online`, async () => ((await onlineNodes(this.c)).includes(NODE) ? true : undefined), 30_000);
    return agent;
  }

  /**
   * Coordinator, agent and `coord run wipe` in the background (`run` settles when the run ends),
   * returned once the destructive check has started, with its process group.
   */
  async midTask(sleepSeconds: number, iterations: number, agentArgs: string[] = []): Promise<{ agent: Proc; run: Promise<CliResult>; group: number }> {
    await this.start(sleepSeconds, iterations);
    const agent = await this.agent(agentArgs);
    const run = this.ws.track(coordInBackground(this.c, ["run", "wipe", "--plan", this.ws.path("plan.yaml")])).result;
    await waitFor("the destructive check to start", () => (this.runs().length === 1 ? true : undefined));
    return { agent, run, group: this.runs()[0] as number };
  }

  /** Process groups of every time the check started; one line per run of the destructive check. */
  runs(): number[] {
    if (!existsSync(this.ran)) return [];
    return readFileSync(this.ran, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => Number(/^ran (\d+)$/.exec(l)?.[1]));
  }

  tasks(): TaskRow[] {
    return queryDb<TaskRow>(this.c.stateDir, "SELECT id, iteration, status, summary FROM tasks ORDER BY iteration");
  }

  checks(): { task_id: string; status: string }[] {
    return queryDb(this.c.stateDir, "SELECT task_id, status FROM check_results ORDER BY started_at");
  }

  /** Ends the test's processes and any check process group still alive (a SIGKILLed agent leaves its check behind). */
  async cleanup(): Promise<void> {
    for (const pgid of this.runs()) {
      try {
        process.kill(-pgid, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
    await this.ws.cleanup();
  }
}

/** Waits, bounded, for `agent` to exit; its exit code (null when a signal ended it). */
async function exited(agent: Proc, timeoutMs: number): Promise<number | null> {
  await waitFor(`${agent.name} to exit`, () => (agent.process.exitCode !== null || agent.process.signalCode !== null ? true : undefined), timeoutMs);
  return agent.process.exitCode;
}

const INTERRUPTED = /^the agent stopped during this task \(started 20\d\d-\d\d-\d\dT[\d:.]+Z\); its checks were not run again — a destructive check is never re-run implicitly; run the stage again to re-check$/;

describe("a task runs at most once on a node", () => {
  let fleet: Fleet;
  afterEach(async () => fleet.cleanup());

  it("reports a task interrupted, never running its destructive check again, when the agent is SIGKILLed mid-task and restarted", async () => {
    fleet = new Fleet();
    const { agent: first, run } = await fleet.midTask(3, 1);
    await first.stop("SIGKILL");

    const second = await fleet.agent();
    const result = await run;
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stdout).toMatch(/: INCOMPLETE/);
    // Interrupted, not lost: the agent was back before --lost-after, and told the coordinator.
    const [task] = fleet.tasks();
    expect(task?.status).toBe("interrupted");
    expect(task?.summary).toMatch(INTERRUPTED);
    expect(second.stderr()).toContain('"status":"interrupted"');
    expect(fleet.checks()).toEqual([]);
    expect(fleet.runs()).toHaveLength(1);
  });

  it("lets the running task finish and report on SIGTERM, exits 0, and runs the task it had not started after the restart", async () => {
    fleet = new Fleet();
    const { agent: first, run } = await fleet.midTask(3, 2);
    const iteration1 = fleet.tasks()[0]?.id as string;
    first.process.kill("SIGTERM");

    expect(await exited(first, 15_000)).toBe(0);
    // Reported and acknowledged before the agent exited; iteration 2 was not started (the
    // coordinator may have sent it to the stopping agent, which takes no new task).
    const [one, two] = fleet.tasks();
    expect(one?.status).toBe("passed");
    expect(two?.status).toMatch(/^(pending|running)$/);
    expect(fleet.checks()).toEqual([{ task_id: iteration1, status: "passed" }]);
    expect(fleet.runs()).toHaveLength(1);
    const log = first.stderr();
    expect(log).toMatch(new RegExp(`"phase":"stopping","signal":"SIGTERM","task":"${iteration1}"`));
    expect(log).toContain('"phase":"task_finished"');
    expect(log).toMatch(/"phase":"stopped","pending":0,/);

    await fleet.agent();
    const result = await run;
    expect(result.exitCode, result.stderr).toBe(2);
    expect(fleet.tasks().map((t) => [t.iteration, t.status])).toEqual([
      [1, "passed"],
      [2, "passed"],
    ]);
    const checks = fleet.checks();
    expect(checks.map((c) => c.status)).toEqual(["passed", "passed"]);
    expect(new Set(checks.map((c) => c.task_id)).size).toBe(2);
    // Once per iteration: neither ran twice across the stop.
    expect(fleet.runs()).toHaveLength(2);
  });

  it("kills a check that outlives --stop-grace, reports the task cancelled, and exits 0", async () => {
    fleet = new Fleet();
    const { agent, run, group } = await fleet.midTask(30, 1, ["--stop-grace", "1s"]);
    agent.process.kill("SIGTERM");

    expect(await exited(agent, 15_000)).toBe(0);
    expect(liveInGroup(group)).toEqual([]);
    const result = await run;
    expect(result.exitCode, result.stderr).toBe(2);
    expect(fleet.tasks().map((t) => [t.status, t.summary])).toEqual([["cancelled", "agent stopping: the check outlived --stop-grace 1s"]]);
    expect(agent.stderr()).toContain('"phase":"grace_expired"');
    expect(fleet.runs()).toHaveLength(1);
  });

  it("stops at once on a second SIGTERM during the grace, and the restarted agent reports the task interrupted", async () => {
    fleet = new Fleet();
    const { agent: first, run, group } = await fleet.midTask(30, 1);
    first.process.kill("SIGTERM");
    await waitFor("the graceful stop to begin", () => (first.stderr().includes('"phase":"stopping"') ? true : undefined));
    first.process.kill("SIGTERM");

    // Well within the 30 s grace: the second signal does not wait for the check.
    expect(await exited(first, 5_000)).toBe(143);
    expect(first.stderr()).toContain('"phase":"aborted"');
    expect(liveInGroup(group)).toEqual([]);

    await fleet.agent();
    const result = await run;
    expect(result.exitCode, result.stderr).toBe(2);
    const [task] = fleet.tasks();
    expect(task?.status).toBe("interrupted");
    expect(task?.summary).toMatch(INTERRUPTED);
    expect(fleet.runs()).toHaveLength(1);
  });
});
