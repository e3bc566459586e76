// Node lifecycle and the Tailscale roster against a real coord serve and real agents: a fake
// tailscaled (node:http on a unix socket in the test's temp dir) serves the recorded LocalAPI
// status; drain, undrain, label and forget are driven through the coord CLI and checked in the
// coordinator's SQLite file, the CLI's output and exit codes, and the reports.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator, type Proc } from "../../scripts/local-fleet.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";

const TAGGED = readFileSync(fileURLToPath(new URL("../fixtures/tailscale/localapi-v0-status-tagged-peers.constructed.json", import.meta.url)), "utf8");

/** The same status as seen from fleet-a itself: its peer entry's DNS name and IPs as Self's. */
function statusAsSeenBy(host: string): string {
  const status = JSON.parse(TAGGED) as { Self: Record<string, unknown>; Peer: Record<string, { HostName: string; DNSName: string; TailscaleIPs: string[] }> };
  const me = Object.values(status.Peer).find((p) => p.HostName === host)!;
  return JSON.stringify({ ...status, Self: { ...status.Self, HostName: me.HostName, DNSName: me.DNSName, TailscaleIPs: me.TailscaleIPs } });
}

/** A fake tailscaled: GET /localapi/v0/status with Host local-tailscaled.sock answers `body()`. */
async function fakeTailscaled(socket: string, body: () => string): Promise<Server> {
  const server = createServer((req, res) => {
    const ok = req.method === "GET" && req.url === "/localapi/v0/status" && req.headers.host === "local-tailscaled.sock";
    res.writeHead(ok ? 200 : 404, { "content-type": "application/json" }).end(ok ? body() : "not found");
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return server;
}

const SUITE = "suite: lc\nchecks:\n  - id: up\n    command: { argv: [\"true\"] }\n";

describe("node lifecycle and the Tailscale roster on a real coordinator", () => {
  let ws: Workspace;
  let c: Coordinator;
  let token: string;
  const servers: Server[] = [];

  beforeEach(async () => {
    ws = new Workspace();
    ws.write("lc.suite.yaml", SUITE);
    ws.write("plan.yaml", fleetPlan("lc-plan", "lc.suite.yaml"));
    servers.push(await fakeTailscaled(ws.path("coord-tailscaled.sock"), () => TAGGED));
    servers.push(await fakeTailscaled(ws.path("fleet-a-tailscaled.sock"), () => statusAsSeenBy("fleet-a")));
    c = ws.track(await startCoordinator(ws.path("state"), ["--tailscale-tag", "tag:fleet", "--tailscale-socket", ws.path("coord-tailscaled.sock")]));
    token = (await coord(c, ["token", "create"])).stdout.trim();
  });

  afterEach(async () => {
    await ws.cleanup();
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  const agent = (name: string, labels: Record<string, string>, env: Record<string, string> = {}): Proc =>
    ws.track(startAgent({ name, address: c.address, token, stateDir: ws.path(name), labels, env: { FLEETGATE_TAILSCALE_SOCKET: ws.path("absent.sock"), ...env } }));
  // Generous: the host is shared with other test sessions, and two agents start at once.
  const online = (names: string[]) => waitFor(`${names.join(", ")} online`, async () => ((await onlineNodes(c)).sort().join() === [...names].sort().join() ? true : undefined), 60_000);
  const tasksOf = (runId: string) => queryDb<{ node_name: string }>(c.stateDir, "SELECT node_name FROM tasks WHERE run_id = ? ORDER BY node_name", runId).map((t) => t.node_name);
  const runIdOf = (stdout: string) => /run (\d{8}-\d{6}-[0-9a-f]{4})/.exec(stdout)?.[1] ?? "";

  it("lists tagged machines no agent answers for, says so in the run's reports, and alerts on each", async () => {
    agent("node-a", { role: "fleet" }, { FLEETGATE_TAILSCALE_SOCKET: ws.path("fleet-a-tailscaled.sock") });
    agent("node-b", { role: "fleet" });
    await online(["node-a", "node-b"]);

    const missing = await coord(c, ["nodes", "--missing"]);
    expect(missing.exitCode, missing.stderr).toBe(0);
    // fleet-a has an agent (node-a reported its IPs); ci-runner and laptop carry no tag:fleet.
    expect(missing.stdout).toContain("2 fleet machines have no agent: fleet-b.tail1234.ts.net, fleet-c.tail1234.ts.net (tailscale tag:fleet)");
    expect(missing.stdout).toMatch(/fleet-b\s+fleet-b\.tail1234\.ts\.net\s+100\.64\.0\.12,fd7a:115c:a1e0::c\s+offline\s+\d+ d ago/);
    expect(missing.stdout).toMatch(/fleet-c\s+fleet-c\.tail1234\.ts\.net\s+100\.64\.0\.13,fd7a:115c:a1e0::d\s+online\s+now/);
    expect(missing.stdout).not.toMatch(/fleet-a\.|ci-runner|laptop/);
    const json = JSON.parse((await coord(c, ["nodes", "--missing", "--json"])).stdout) as { tag: string; tagged: number; missing: { dnsName: string }[] };
    expect(json).toMatchObject({ tag: "tag:fleet", tagged: 3 });
    expect(json.missing.map((m) => m.dnsName)).toEqual(["fleet-b.tail1234.ts.net", "fleet-c.tail1234.ts.net"]);

    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    // Every task passed, yet a fleet run with machines missing is not GO: narrowed until accepted.
    expect(run.exitCode, run.stdout + run.stderr).toBe(2);
    expect(run.stdout).toContain("scope narrowed: 2 fleet machines have no agent: fleet-b.tail1234.ts.net, fleet-c.tail1234.ts.net (tailscale tag:fleet)");
    const id = runIdOf(run.stdout);
    expect(tasksOf(id)).toEqual(["node-a", "node-b"]);
    const md = await coord(c, ["report", id, "--format", "md"]);
    expect(md.stdout).toContain("**Fleet roster:** 2 fleet machines have no agent: fleet-b.tail1234.ts.net, fleet-c.tail1234.ts.net (tailscale tag:fleet)");
    const html = await coord(c, ["report", id, "--format", "html"]);
    expect(html.stdout).toContain('<p class="fleet-roster" id="fleet-roster">Fleet roster: 2 fleet machines have no agent: fleet-b.tail1234.ts.net, fleet-c.tail1234.ts.net (tailscale tag:fleet)</p>');
    const report = JSON.parse((await coord(c, ["report", id, "--format", "json"])).stdout) as { fleetRoster: { missing: { hostName: string }[]; line: string }; verdict: { decision: string } };
    expect(report.fleetRoster.missing.map((m) => m.hostName)).toEqual(["fleet-b", "fleet-c"]);
    expect(report.verdict.decision).toBe("INCOMPLETE");

    // One open alert per machine without an agent, none for fleet-a.
    const alerts = () => (existsSync(ws.path("state", "alerts")) ? readdirSync(ws.path("state", "alerts")).map((f) => JSON.parse(readFileSync(ws.path("state", "alerts", f), "utf8")) as { kind: string; subject: string; state: string }) : []);
    const open = await waitFor("the alerts", () => {
      const mine = alerts().filter((a) => a.kind === "fleet_machine_without_agent" && a.state === "open");
      return mine.length === 2 ? mine : undefined;
    });
    expect(open.map((a) => a.subject).sort()).toEqual(["fleet-b.tail1234.ts.net", "fleet-c.tail1234.ts.net"]);
  });

  it("serves on when tailscaled cannot be read, says the roster is unknown, and holds a fleet run INCOMPLETE for it", async () => {
    const blind = ws.track(await startCoordinator(ws.path("state-blind"), ["--tailscale-tag", "tag:fleet", "--tailscale-socket", ws.path("no-tailscaled.sock")]));
    const t = (await coord(blind, ["token", "create"])).stdout.trim();
    ws.track(startAgent({ name: "node-a", address: blind.address, token: t, stateDir: ws.path("blind-a"), labels: { role: "fleet" }, env: { FLEETGATE_TAILSCALE_SOCKET: ws.path("absent.sock") } }));
    await waitFor("node-a online", async () => ((await onlineNodes(blind)).includes("node-a") ? true : undefined), 60_000);
    const missing = await coord(blind, ["nodes", "--missing"]);
    expect(missing.exitCode).toBe(4);
    expect(missing.stderr).toContain(`the coordinator could not read its tailnet: tailscaled at ${ws.path("no-tailscaled.sock")}: no such socket (is tailscaled running here?)`);
    expect(blind.stderr()).toContain("tailscale roster not read");
    const run = await coord(blind, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toContain("scope narrowed: fleet roster (tailscale tag:fleet) unknown: tailscaled at");
    // Without --tailscale-tag there is no roster to ask for.
    const plain = ws.track(await startCoordinator(ws.path("state-plain")));
    const none = await coord(plain, ["nodes", "--missing"]);
    expect(none.exitCode, none.stderr).toBe(3);
    expect(none.stderr).toContain("the coordinator keeps no Tailscale roster; start it with: coord serve --tailscale-tag tag:fleet");
  });

  it("gives a drained node no task of a new run, refuses a run that names it, and takes it back once undrained", async () => {
    agent("node-a", { role: "fleet" });
    agent("node-b", { role: "fleet" });
    await online(["node-a", "node-b"]);

    const drained = await coord(c, ["nodes", "drain", "node-b", "--reason", "disk swap"]);
    expect(drained.exitCode, drained.stderr).toBe(0);
    expect(drained.stdout).toContain("drained node node-b (disk swap): no new task goes to it; undo with: coord nodes undrain node-b");
    const list = await coord(c, ["nodes"]);
    expect(list.stdout).toMatch(/node-b\s+fleet\s+online,drained/);
    expect(list.stdout).toMatch(/drained [\d.]+ \w+ ago by admin: disk swap \(coord nodes undrain node-b\)/);

    const dry = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml"), "--dry-run"]);
    expect(dry.stdout).toContain("node-b: drained (drained: disk swap; matches role=fleet)");

    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    expect(run.stdout).toContain("scope narrowed: drained node-b (drained: disk swap) left out of fleet");
    expect(run.exitCode).toBe(2);
    expect(tasksOf(runIdOf(run.stdout))).toEqual(["node-a"]);

    const named = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml"), "--node", "node-b"]);
    expect(named.exitCode).toBe(3);
    expect(named.stderr).toContain("--node node-b: this run needs node-b (drained: disk swap), drained by an operator: it takes no new task; undrain it when it may take work again: coord nodes undrain node-b");

    expect((await coord(c, ["nodes", "undrain", "node-b"])).stdout).toContain("undrained node node-b");
    const again = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    expect(again.stdout).not.toContain("drained");
    expect(tasksOf(runIdOf(again.stdout))).toEqual(["node-a", "node-b"]);

    const timeline = queryDb<{ kind: string; why: string }>(c.stateDir, "SELECT kind, why FROM node_events WHERE node_name = 'node-b' AND kind IN ('drained', 'undrained') ORDER BY id");
    expect(timeline.map((e) => e.kind)).toEqual(["drained", "undrained"]);
    expect(timeline[0]?.why).toBe("by admin: disk swap");
  });

  it("matches plan selectors against the coordinator's labels merged over the agent's", async () => {
    agent("node-a", { role: "fleet" });
    agent("node-s", { role: "spare" });
    await online(["node-a", "node-s"]);
    const plan = ws.path("plan.yaml");

    expect(tasksOf(runIdOf((await coord(c, ["run", "fleet", "--plan", plan])).stdout))).toEqual(["node-a"]);
    const labelled = await coord(c, ["nodes", "label", "node-s", "role=fleet", "rack=r7"]);
    expect(labelled.exitCode, labelled.stderr).toBe(0);
    expect(labelled.stdout).toContain("node node-s: coordinator labels rack=r7,role=fleet; selectors match rack=r7,role=fleet");
    expect((await coord(c, ["nodes"])).stdout).toMatch(/node-s\s+fleet\s+online.*rack=r7\*,role=fleet\*/);
    expect(tasksOf(runIdOf((await coord(c, ["run", "fleet", "--plan", plan])).stdout))).toEqual(["node-a", "node-s"]);

    // Removing the coordinator's role shows the agent's own again.
    await coord(c, ["nodes", "label", "node-s", "role-"]);
    expect(tasksOf(runIdOf((await coord(c, ["run", "fleet", "--plan", plan])).stdout))).toEqual(["node-a"]);
    const bad = await coord(c, ["nodes", "label", "node-s", "role"]);
    expect(bad.exitCode).toBe(3);
    expect(bad.stderr).toContain('label "role": expected KEY=VALUE to set or KEY- to remove');
  });

  it("refuses the forgotten node's old token: its agent is not let back in", async () => {
    const once = (await coord(c, ["token", "create", "--uses", "1"])).stdout.trim();
    const start = () => ws.track(startAgent({ name: "node-f", address: c.address, token: once, stateDir: ws.path("node-f"), labels: { role: "fleet" } }));
    const first = start();
    await online(["node-f"]);
    await first.stop("SIGTERM");
    await waitFor("node-f offline", async () => ((await onlineNodes(c)).includes("node-f") ? undefined : true));

    const forgot = await coord(c, ["nodes", "forget", "node-f"]);
    expect(forgot.exitCode, forgot.stderr).toBe(0);
    expect(queryDb(c.stateDir, "SELECT name FROM nodes WHERE name = 'node-f'")).toEqual([]);

    // The same agent, same state dir: it presents its node token, which no longer names a node.
    const again = start();
    await waitFor("the coordinator to refuse node-f's token", () => (c.stderr().includes("node token not valid for node node-f") ? true : undefined));
    await new Promise((r) => setTimeout(r, 500));
    expect(queryDb(c.stateDir, "SELECT name FROM nodes WHERE name = 'node-f'")).toEqual([]);
    expect(await onlineNodes(c)).not.toContain("node-f");
    const refusals = await coord(c, ["refusals", "--json"]);
    expect(refusals.stdout).toContain("node token not valid for node node-f");
    await again.stop("SIGKILL");
    const timeline = queryDb<{ why: string }>(c.stateDir, "SELECT why FROM node_events WHERE node_name = 'node-f' AND kind = 'forgotten'");
    expect(timeline).toHaveLength(1);
    expect(timeline[0]?.why).toMatch(/^by admin; machine-id [0-9a-f]{12}; its node token no longer works$/);
  });
});
