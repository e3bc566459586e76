// The coord CLI given every coordinator sharing a PostgreSQL store (issue 19): `--coordinator
// standby,active` (or FLEETGATE_COORDINATOR) finds the active one, `coord run` keeps following its
// run when the active coordinator is SIGKILLed and the standby takes over, and ends with the
// run's verdict (INCOMPLETE on loopback: the agent runs on the coordinator's host); reads work on whichever coordinator answers. Real PostgreSQL, real coordinators
// sharing one CA, a real agent, TLS on loopback.
import { cpSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execa } from "execa";
import { COORD_BIN, coord, coordInBackground, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator, type Proc } from "../../scripts/local-fleet.js";
import { PgSyncDb } from "../../coordinator/store/pg/sync-db.js";
import { postgresBinary, startPostgres, type PostgresServer } from "../harness/postgres.js";
import { needsTool } from "../support/system-tools.js";
import { freePort } from "../harness/free-port.js";
import { Workspace } from "./fixtures.js";

const ready = needsTool(postgresBinary("initdb"), "postgresql");

const SUITE = `suite: steady
checks:
  - id: first
    command: { shell: "sleep 1; echo one" }
  - id: second
    command: { argv: [echo, two], expect: { stdout: two } }
`;

const PLAN = `plan: steady
stages:
  - id: fleet
    kind: fleet
    suite: steady.suite.yaml
    iterations: 6
`;

/** Check results stored as passed so far, read straight from PostgreSQL. */
async function passedResults(client: pg.Client): Promise<number> {
  return Number((await client.query("SELECT count(*) AS n FROM check_results WHERE status = 'passed'")).rows[0].n);
}

/** `coord serve` without waiting for its "listening" line (which comes after the election's first round). */
function startAgentlessCoordinator(stateDir: string, args: string[], listen: string): Proc {
  const child = execa(process.execPath, [COORD_BIN, "serve", "--listen", listen, "--state-dir", stateDir, ...args], { reject: false, stdin: "ignore", detached: true });
  let err = "";
  child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
  return {
    name: "coordinator (starting)",
    process: child,
    stderr: () => err,
    async stop(signal = "SIGTERM") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      if (child.pid) process.kill(-child.pid, signal);
      await child;
    },
  };
}

describe.skipIf(!ready)("the CLI with several coordinators", () => {
  const ws = new Workspace();
  let server: PostgresServer;
  let url = "";
  let a: Coordinator;
  let b: Coordinator;

  const serve = async (id: string, stateDir: string, extra: string[] = []) => {
    const port = await freePort();
    return ws.track(await startCoordinator(stateDir, ["--store", url, "--id", id, "--advertise", `127.0.0.1:${port}`, "--lease", "3s", "--heartbeat", "1s", ...extra], `127.0.0.1:${port}`));
  };
  /** b's /readyz: status and body. */
  const readyz = async () => {
    const base = /\/readyz on (http:\/\/\S+)/.exec(b.stderr())?.[1];
    const r = await fetch(`${base}/readyz`);
    return { status: r.status, body: (await r.text()).trim() };
  };

  beforeAll(async () => {
    server = await startPostgres();
    url = await server.createDatabase("ha_cli");
    a = await serve("a", ws.path("a"));
    // Coordinators sharing a store share its CA and admin token: copied before the second starts.
    mkdirSync(ws.path("b"), { mode: 0o700 });
    cpSync(join(ws.path("a"), "tls"), join(ws.path("b"), "tls"), { recursive: true });
    cpSync(join(ws.path("a"), "admin.token"), join(ws.path("b"), "admin.token"));
    b = await serve("b", ws.path("b"), ["--metrics-listen", "127.0.0.1:0"]);
    ws.write("steady.suite.yaml", SUITE);
    ws.write("steady.plan.yaml", PLAN);
  }, 90_000);

  afterAll(async () => {
    await ws.cleanup();
    await server?.stop();
  });

  it("refuses agents and writes from the moment it listens, before its election's first round has decided", async () => {
    // The election's first round waits on the lease table this test holds locked: the coordinator
    // listens, but cannot know yet whether it is the active one, so it must act as a standby.
    const starting = await server.createDatabase("ha_starting");
    const migrated = new PgSyncDb({ connectionString: starting, applicationName: "test", reconnectMs: 2_000, statementTimeoutMs: 30_000 });
    migrated.close();
    const locker = new pg.Client({ connectionString: starting });
    await locker.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE coordinator_lease IN ACCESS EXCLUSIVE MODE");
      const port = await freePort();
      const dir = ws.path("starting");
      const c = ws.track(startAgentlessCoordinator(dir, ["--insecure", "--store", starting, "--id", "starting", "--advertise", `127.0.0.1:${port}`, "--lease", "3s"], `127.0.0.1:${port}`));
      const target = { address: `127.0.0.1:${port}`, stateDir: dir };
      // Until it listens (and has written its admin token) the CLI cannot even ask.
      const nodes = await waitFor("the coordinator to answer", async () => {
        const r = await coord(target, ["nodes", "--insecure"]);
        return /admin token|No connection established/.test(r.stderr) ? undefined : r;
      }, 20_000);
      expect(nodes.exitCode, nodes.stderr).toBe(4);
      expect(nodes.stderr).toBe(`coord: the coordinator at ${target.address} is not the active one: coordinator starting is a standby and no coordinator has taken the lead yet; try again in a few seconds`);
      // coord status: a standby with no active coordinator known, so exit 4.
      const status = await coord(target, ["status", "--insecure"]);
      expect(status.exitCode, status.stderr).toBe(4);
      expect(status.stdout).toMatch(/ starting +standby +postgres:\S+ +none yet$/m);
      expect(c.stderr()).not.toMatch(/now the active one/);
    } finally {
      await locker.query("ROLLBACK").catch(() => undefined);
      await locker.end();
    }
  }, 60_000);

  it("starts a run through the standby's list entry, follows it across a failover, and ends with the run's own verdict", async () => {
    const both = { address: `${b.address},${a.address}`, stateDir: a.stateDir };
    const token = (await coord(both, ["token", "create"])).stdout.split("\n")[0]!.trim();
    expect(token).toMatch(/^fg/);
    ws.track(startAgent({ name: "n1", address: `${b.address},${a.address}`, token, stateDir: ws.path("n1"), caFile: join(a.stateDir, "tls", "ca.crt"), labels: { role: "fleet" } }));
    await waitFor("n1 online at the active coordinator", async () => ((await onlineNodes(a)).includes("n1") ? true : undefined), 30_000);

    // coord status asks each coordinator given: a active, b standby, both naming a.
    const status = await coord(both, ["status", "--json"]);
    expect(status.exitCode, status.stderr).toBe(0);
    const said = JSON.parse(status.stdout) as { address: string; status: { id: string; role: string; store: string; active: { id: string; address: string } } }[];
    expect(said.map((x) => [x.address, x.status.id, x.status.role, x.status.active.id, x.status.active.address])).toEqual([
      [b.address, "b", "standby", "a", a.address],
      [a.address, "a", "active", "a", a.address],
    ]);
    expect(said[0]!.status.store).toMatch(/^postgres:\/\/fleetgate@127\.0\.0\.1:\d+\/ha_cli$/);

    // A standby takes no results: a load balancer probing /readyz sends agents to the active one.
    expect(await readyz()).toEqual({ status: 503, body: `not ready: coordinator b is a standby; the active coordinator is a, try ${a.address}` });

    const run = coordInBackground(both, ["run", "fleet", "--plan", ws.path("steady.plan.yaml")]);
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await waitFor("some checks done before the failover", async () => ((await passedResults(client)) >= 2 ? true : undefined), 30_000);
      a.process.kill("SIGKILL");
      await waitFor("b to take the lead", () => (/now the active one/.test(b.stderr()) ? true : undefined), 20_000);
      await waitFor("b's /readyz to say ready", async () => ((await readyz()).status === 200 ? true : undefined), 10_000);
      const result = await run.result;
      // Passed, and incomplete only because an agent on the coordinator's own host proves nothing
      // (attestation, exit 2): no node lost, no task failed or left over across the failover.
      expect(result.exitCode, `${result.stderr}\n${result.stdout}\n--- b:\n${b.stderr().slice(-3000)}`).toBe(2);
      expect(result.stdout).toMatch(/\(steady\): PASSED\nverdict: INCOMPLETE\n  not valid for sign-off: node n1 runs on the coordinator's own host\nscope: full\n/);
      expect(result.stderr).toMatch(/following run \S+ again/);
      // Every check of every iteration once: 6 iterations × 2 checks, no more.
      const rows = (await client.query("SELECT t.iteration, r.check_id FROM check_results r JOIN tasks t ON t.id = r.task_id ORDER BY 1, 2")).rows;
      expect(rows).toHaveLength(12);
    } finally {
      await client.end();
    }
    // After the failover: a is gone, b is active and names itself.
    const after = await coord(both, ["status"]);
    expect(after.exitCode, after.stderr).toBe(0);
    expect(after.stdout).toMatch(new RegExp(`^${b.address.replace(/\./g, "\\.")} +b +active +postgres:\\S+ +b at ${b.address.replace(/\./g, "\\.")} since `, "m"));
    expect(after.stdout).toMatch(new RegExp(`^${a.address.replace(/\./g, "\\.")} +- +unreachable `, "m"));

    // Reads go to whichever answers: the dead first entry is skipped.
    const runs = await coord({ address: `${a.address},${b.address}`, stateDir: a.stateDir }, ["runs"]);
    expect(runs.exitCode, runs.stderr).toBe(0);
    expect(runs.stdout).toMatch(/steady .* PASSED +INCOMPLETE/);
    // coord prune reads the same store (never migrating it) and the bundle the new active wrote.
    const prune = await execa(process.execPath, [COORD_BIN, "prune", "--store", url, "--state-dir", b.stateDir, "--keep", "1", "--dry-run"], { reject: false });
    expect(prune.exitCode, prune.stderr).toBe(0);
    expect(prune.stdout).toBe("0 to delete, 1 kept (the newest 1, and 0 signed off or running)");
  }, 120_000);

  it("ends a watch when its coordinator loses the lead, so coord run follows the run to its end on the coordinator that takes it up", async () => {
    // One coordinator whose election session is ended under it: it loses the lead, stops
    // following runs, and takes the lead again a lease later, resuming the run. A watch left open
    // on the stopped engine would wait forever; coord run must instead end with the verdict.
    const solo = await server.createDatabase("ha_solo");
    const port = await freePort();
    const c = ws.track(await startCoordinator(ws.path("solo"), ["--store", solo, "--id", "solo", "--advertise", `127.0.0.1:${port}`, "--lease", "3s", "--heartbeat", "1s"], `127.0.0.1:${port}`));
    const token = (await coord(c, ["token", "create"])).stdout.split("\n")[0]!.trim();
    ws.track(startAgent({ name: "n2", address: c.address, token, stateDir: ws.path("n2"), labels: { role: "fleet" } }));
    await waitFor("n2 online", async () => ((await onlineNodes(c)).includes("n2") ? true : undefined), 30_000);
    const run = coordInBackground(c, ["run", "fleet", "--plan", ws.path("steady.plan.yaml")]);
    const client = new pg.Client({ connectionString: solo });
    await client.connect();
    try {
      await waitFor("some checks done", async () => ((await passedResults(client)) >= 2 ? true : undefined), 30_000);
      await client.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'fleetgate coordinator solo (election)'");
      await waitFor("solo to lose the lead", () => (/lost the lead/.test(c.stderr()) ? true : undefined), 10_000);
      const result = await Promise.race([
        run.result,
        // About 12 s on an idle machine (a 3 s lease, the agent's backoff, the rest of the run); the
        // bound is for a watch that never ends, with room for a loaded CI machine.
        new Promise<never>((_, reject) =>
          setTimeout(() => {
            const said = c.stderr().split("\n").filter((l) => /"part":"(leadership|agents|control)"/.test(l)).slice(-15);
            reject(new Error(`coord run still waiting 75 s after the lead was lost: its watch never ended\n${run.stderr()}\ncoordinator:\n${said.join("\n")}`));
          }, 75_000).unref(),
        ),
      ]);
      expect(result.exitCode, `${result.stderr}\n${result.stdout}`).toBe(2);
      expect(result.stdout).toMatch(/\(steady\): PASSED\nverdict: INCOMPLETE\n  not valid for sign-off: node n2 runs on the coordinator's own host\n/);
      expect((c.stderr().match(/now the active one/g) ?? []).length).toBe(2);
      const rows = (await client.query("SELECT t.iteration, r.check_id FROM check_results r JOIN tasks t ON t.id = r.task_id")).rows;
      expect(rows).toHaveLength(12);
    } finally {
      await client.end();
    }
  }, 150_000);
});
