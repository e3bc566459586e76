// Active/standby coordinators on a real PostgreSQL, end to end (issue 19): two real `coord serve`
// sharing one store database, three real agents on network-namespace nodes, each given both
// coordinators' addresses (in either order). Both coordinators started in the same tick: exactly
// one is active and the standby sends writes there. The active one SIGKILLed mid-run: the standby
// takes over within the lease, the agents follow it and the run completes with every result once
// and the verdict of a run nobody disturbed. PostgreSQL restarted mid-run: the coordinators lose
// their sessions, one is active again after a lease, and the run completes the same way.
import pg from "pg";
import { mkdirSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, coordInBackground, waitFor, type BackgroundCli, type Coordinator } from "../../scripts/local-fleet.js";
import { createNetnsFleet, type NetnsFleet } from "../harness/netns.js";
import { needsNetnsHost } from "../harness/preflight.js";
import { postgresBinary, startPostgres, type PostgresServer } from "../harness/postgres.js";
import { needsTool } from "../support/system-tools.js";

const ready = needsNetnsHost() && needsTool(postgresBinary("initdb"), "postgresql");

const LEASE_MS = 3_000;
/** The goal for a standby taking over from a dead active coordinator. */
const TAKEOVER_GOAL_MS = 10_000;
const CHECKS = 3;
const ITERATIONS = 4;
const NODES = ["node-1", "node-2", "node-3"];
const IDS = ["coord-a", "coord-b"];

// 3 checks of 3 s (a task runs its checks side by side) × 4 iterations: about 12 s per node, long
// enough to be cut in the middle.
const SUITE = ["suite: steady", "checks:", ...Array.from({ length: CHECKS }, (_, i) => [`  - id: step-${i + 1}`, `    command: { argv: [sleep, "3"] }`, "    timeout: 30s"]).flat(), ""].join("\n");
const PLAN = ["plan: steady", "stages:", "  - id: fleet", "    kind: fleet", "    suite: steady.suite.yaml", "    nodes: { role: fleet }", `    iterations: ${ITERATIONS}`, ""].join("\n");

const ACTIVE_LINE = "this coordinator is now the active one";

/** pino's time of each line of `log` carrying `msg`, in order (ms since the epoch). */
function linesWith(log: string, msg: string): number[] {
  return log
    .split("\n")
    .filter((l) => l.includes(msg))
    .map((l) => {
      try {
        return Number((JSON.parse(l) as { time?: number }).time ?? NaN);
      } catch {
        return NaN;
      }
    });
}

/** The agent's log lines with `msg`: their time and how many events were still to be acknowledged. */
function agentLines(log: string, msg: string): { time: number; pending?: number }[] {
  return log.split("\n").flatMap((l) => {
    if (!l.includes(msg)) return [];
    try {
      const j = JSON.parse(l) as { time: number; pending?: number };
      return [{ time: j.time, pending: j.pending }];
    } catch {
      return [];
    }
  });
}

describe.skipIf(!ready)("active/standby coordinators on PostgreSQL, with agents on netns nodes", () => {
  let server: PostgresServer;
  let url = "";
  let fleet: NetnsFleet;
  let plan = "";
  let admin: pg.Client;
  const following: BackgroundCli[] = [];

  const idOf = (c: Coordinator) => IDS[fleet.coordinators.indexOf(c)]!;
  const other = (c: Coordinator) => fleet.coordinators.find((x) => x !== c)!;

  /** A query on the store database, as an operator with psql would; reconnects after a server restart. */
  async function query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await admin.query(sql, params)).rows as T[];
      } catch (err) {
        if (attempt >= 3) throw err;
        await admin.end().catch(() => {});
        admin = await connectAdmin();
      }
    }
  }

  async function connectAdmin(): Promise<pg.Client> {
    const c = new pg.Client({ connectionString: url });
    c.on("error", () => {});
    await c.connect();
    return c;
  }

  /** `coord run fleet` followed in the background against `c`; resolves with the run's id once it has one. */
  async function startRun(c: Coordinator): Promise<{ id: string; cli: BackgroundCli }> {
    const cli = coordInBackground(c, ["run", "fleet", "--plan", plan]);
    following.push(cli);
    const id = await waitFor("the run to start", () => {
      if (cli.process.exitCode !== null) throw new Error(`coord run exited ${cli.process.exitCode}:\n${cli.stderr()}`);
      return /run (\S+) started/.exec(cli.stderr())?.[1];
    });
    return { id, cli };
  }

  async function resultsOf(runId: string): Promise<number> {
    const [row] = await query<{ n: string }>("SELECT count(*) AS n FROM check_results r JOIN tasks t ON t.id = r.task_id WHERE t.run_id = $1", [runId]);
    return Number(row?.n ?? 0);
  }

  /** Waits for the run to finish (read from the store), then checks it has every result exactly once. */
  async function expectCompleteOnce(runId: string, timeoutMs: number): Promise<void> {
    await waitFor(`run ${runId} to finish`, async () => {
      const [run] = await query<{ status: string }>("SELECT status FROM runs WHERE id = $1", [runId]);
      return run && run.status !== "running" && run.status !== "pending" ? true : undefined;
    }, timeoutMs);
    const tasks = await query<{ node_name: string; iteration: number; status: string; summary: string }>("SELECT node_name, iteration, status, summary FROM tasks WHERE run_id = $1 ORDER BY node_name, iteration", [runId]);
    expect(tasks.length, JSON.stringify(tasks)).toBe(NODES.length * ITERATIONS);
    expect(tasks.filter((t) => t.status !== "passed"), JSON.stringify(tasks)).toEqual([]);
    // (task_id, check_id) is the primary key, so a doubled result cannot be stored; a lost one shows here.
    expect(await resultsOf(runId)).toBe(CHECKS * ITERATIONS * NODES.length);
    const perCheck = await query<{ task_id: string; check_id: string; n: string }>(
      "SELECT r.task_id, r.check_id, count(*) AS n FROM check_results r JOIN tasks t ON t.id = r.task_id WHERE t.run_id = $1 GROUP BY r.task_id, r.check_id HAVING count(*) <> 1",
      [runId],
    );
    expect(perCheck).toEqual([]);
  }

  /** `coord show RUN` on `c`: its exit code says the verdict (0 GO, 1 NO-GO, 2 otherwise). */
  async function verdictOn(c: Coordinator, runId: string): Promise<{ exitCode: number; stdout: string }> {
    const r = await coord(c, ["show", runId]);
    return { exitCode: r.exitCode, stdout: r.stdout + r.stderr };
  }

  /** Waits until every agent is registered with `c` (online in its roster). */
  async function waitAllOn(c: Coordinator, timeoutMs: number): Promise<void> {
    await waitFor(`every agent online at ${c.address}`, async () => {
      const r = await coord(c, ["nodes", "--json"]);
      if (r.exitCode !== 0) return undefined;
      const roster = JSON.parse(r.stdout) as { identity: { name: string }; online?: boolean }[];
      return NODES.every((n) => roster.find((e) => e.identity.name === n)?.online) ? true : undefined;
    }, timeoutMs);
  }

  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase("ha_failover");
    const shared = ["--store", url, "--lease", `${LEASE_MS / 1000}s`];
    fleet = await createNetnsFleet({
      // The active one's address first for some agents, the standby's first for others.
      nodes: NODES.map((name, i) => ({ name, labels: { role: "fleet" }, coordinatorOrder: i % 2 === 0 ? [0, 1] : [1, 0] })),
      heartbeat: "1s",
      coordinatorArgs: shared,
      coordinators: IDS.map((id) => ["--id", id]),
      onlineTimeoutMs: 40_000,
    });
    const dir = join(fleet.workDir, "plans");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "steady.suite.yaml"), SUITE);
    plan = join(dir, "steady.plan.yaml");
    writeFileSync(plan, PLAN);
    admin = await connectAdmin();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(following.map((f) => f.stop("SIGKILL")));
    await admin?.end().catch(() => {});
    await fleet?.cleanup();
    await server?.stop();
  });

  it("started in the same tick, exactly one coordinator is active; the standby serves reads and sends a run to the active one", async () => {
    const active = fleet.coordinator;
    const standby = other(active);
    const logs = fleet.coordinators.map((c) => c.stderr());
    expect(logs.flatMap((l) => linesWith(l, ACTIVE_LINE)), logs.join("\n")).toHaveLength(1);
    expect(active.stderr()).toContain(ACTIVE_LINE);
    expect(standby.stderr()).toContain(`standby; the active coordinator is ${idOf(active)} at ${active.address}`);
    const [lease] = await query<{ holder: string; address: string }>("SELECT holder, address FROM coordinator_lease");
    expect(lease).toEqual({ holder: idOf(active), address: active.address });

    for (const c of fleet.coordinators) {
      const runs = await coord(c, ["runs"]);
      expect(runs.exitCode, `coord runs on ${c.address}: ${runs.stderr}`).toBe(0);
    }
    const refused = await coord(standby, ["run", "fleet", "--plan", plan]);
    expect(refused.exitCode).not.toBe(0);
    expect(refused.stderr).toContain(`run again with --coordinator ${active.address}`);
    expect(await query("SELECT id FROM runs")).toEqual([]);
  }, 60_000);

  it("SIGKILLed mid-run, the active coordinator's standby takes over within the lease and the run completes on it, every result once, verdict as undisturbed", async () => {
    // The control: the same plan with nobody disturbed.
    const control = await startRun(fleet.coordinator);
    const controlDone = await control.cli.result;
    expect(controlDone.exitCode, controlDone.stderr).toBe(0);
    await expectCompleteOnce(control.id, 30_000);
    const controlVerdict = await verdictOn(fleet.coordinator, control.id);
    expect(controlVerdict.exitCode, controlVerdict.stdout).toBe(0);

    const old = fleet.coordinator;
    const next = other(old);
    const run = await startRun(old);
    // Mid-run: some results in, many to come.
    await waitFor("a few results of the run", async () => ((await resultsOf(run.id)) >= NODES.length * 2 ? true : undefined), 30_000);
    expect(await resultsOf(run.id)).toBeLessThan(CHECKS * ITERATIONS * NODES.length / 2);
    const activeLines = linesWith(next.stderr(), ACTIVE_LINE).length;
    const killedAt = Date.now();
    await fleet.stopCoordinator(fleet.coordinators.indexOf(old), "SIGKILL");
    const tookOverAt = await waitFor("the standby to become active", () => linesWith(next.stderr(), ACTIVE_LINE)[activeLines], TAKEOVER_GOAL_MS + 5_000);
    const takeoverMs = tookOverAt - killedAt;
    process.stderr.write(`ha-failover: SIGKILL → standby active in ${takeoverMs} ms (lease ${LEASE_MS} ms)\n`);
    expect(takeoverMs).toBeLessThanOrEqual(TAKEOVER_GOAL_MS);
    fleet.coordinator = next;
    const [lease] = await query<{ holder: string }>("SELECT holder FROM coordinator_lease");
    expect(lease?.holder).toBe(idOf(next));

    await waitAllOn(next, 20_000);
    process.stderr.write(`ha-failover: SIGKILL → every agent on the new active in ${Date.now() - killedAt} ms\n`);
    await expectCompleteOnce(run.id, 60_000);
    const verdict = await verdictOn(next, run.id);
    expect(verdict.exitCode, verdict.stdout).toBe(controlVerdict.exitCode);
    // The CLI's reads on the new active show both runs.
    const runs = await fleet.coord(["runs"]);
    expect(runs.exitCode, runs.stderr).toBe(0);
    expect(runs.stdout).toContain(run.id);
    expect(runs.stdout).toContain(control.id);
    // The old one comes back as a standby of the new one.
    const back = await fleet.relaunchCoordinator(fleet.coordinators.indexOf(old));
    await waitFor("the relaunched coordinator to be a standby", () => back.stderr().includes(`standby; the active coordinator is ${idOf(next)}`) || undefined, 20_000);
    expect(back.stderr()).not.toContain(ACTIVE_LINE);
  }, 120_000);

  it("PostgreSQL restarted mid-run: a coordinator is active again after a lease, agents replay, the run completes with every result once and GO", async () => {
    const before = fleet.coordinator;
    const lostBefore = fleet.coordinators.map((c) => linesWith(c.stderr(), "lost the lead").length);
    const activeBefore = fleet.coordinators.map((c) => linesWith(c.stderr(), ACTIVE_LINE).length);
    const run = await startRun(before);
    // Every node's first iteration in, and its second halfway through its 3 s checks: their results
    // come while no coordinator can take them (down 2 s, then the lease wait), so the agents spool
    // them and replay them to whichever is active next.
    await waitFor("every node's first iteration", async () => ((await resultsOf(run.id)) >= CHECKS * NODES.length ? true : undefined), 30_000);
    await sleep(1_500);
    const restartedAt = Date.now();
    await server.restart(2_000);
    // Someone is active again, having taken the lead after the restart.
    const now = await waitFor("a coordinator to be active again", () => fleet.coordinators.find((c, i) => linesWith(c.stderr(), ACTIVE_LINE).length > activeBefore[i]!), 30_000);
    process.stderr.write(`ha-failover: PostgreSQL down 2 s → ${idOf(now)} active again ${Date.now() - restartedAt} ms after the restart began\n`);
    // The one active before knew it had lost its session.
    expect(linesWith(before.stderr(), "lost the lead").length).toBeGreaterThan(lostBefore[fleet.coordinators.indexOf(before)]!);
    fleet.coordinator = now;
    await waitAllOn(now, 30_000);
    await expectCompleteOnce(run.id, 60_000);
    const verdict = await verdictOn(now, run.id);
    expect(verdict.exitCode, verdict.stdout).toBe(0);
    // Some came back with events spooled in the outage, which the run above has exactly once.
    const replayed = NODES.filter((n) => agentLines(fleet.node(n).agent?.stderr() ?? "", "registered with coordinator").some((l) => l.time >= restartedAt && (l.pending ?? 0) > 0));
    expect(replayed.length, "agents that registered with events to replay after the restart").toBeGreaterThan(0);
    // Both coordinators lived through it.
    for (const c of fleet.coordinators) expect(c.process.exitCode, c.stderr().slice(-4000)).toBeNull();
    // …and said nothing fatal while the store was away.
    for (const c of fleet.coordinators) expect(c.stderr().split("\n").filter((l) => /"level":60/.test(l))).toEqual([]);
    // Exactly one holds the lease.
    const [lease] = await query<{ holder: string }>("SELECT holder FROM coordinator_lease");
    expect(lease?.holder).toBe(idOf(now));
  }, 120_000);
});
