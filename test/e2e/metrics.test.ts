// Prometheus metrics and the HTTP health endpoints of a real `coord serve --metrics-listen` and a
// real `fleetgate-agent run --metrics-listen`, scraped after a real fleet run: the counters moved
// by what the store holds, and `promtool check metrics` (Debian's prometheus package) accepts
// every scrape. /readyz is shown failing on a state dir made read-only under the running
// coordinator, in its own mount namespace.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_BIN, COORD_BIN, coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator, type Proc } from "../../scripts/local-fleet.js";
import { needs, needsTool, toolPath } from "../support/system-tools.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";

const promtool = needsTool("promtool", "prometheus");

const SUITE = `
suite: metrics
checks:
  - id: echo
    command: { argv: [echo, hello], expect: { stdout: hello } }
  - id: os-release
    file: { path: /etc/os-release, exists: true }
  - id: broken
    command: { argv: ["false"] }
`;

/** Every sample of `name` in a scrape, by its label text ('status="passed"'; "" for none). */
function samples(scrape: string, name: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of scrape.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m && m[1] === name) found.set(m[2] ?? "", Number(m[3]));
  }
  return found;
}

const sum = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);

async function get(address: string, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${address}${path}`);
  return { status: res.status, body: await res.text() };
}

async function promtoolCheck(scrape: string): Promise<string> {
  const r = await execa("promtool", ["check", "metrics"], { input: scrape, reject: false });
  return `exit ${r.exitCode}${r.stdout}${r.stderr}`;
}

/** The metrics address a daemon logged (pino JSON: the line whose msg is `msg`). */
function loggedAddress(stderr: string, msg: string): string | undefined {
  for (const line of stderr.split("\n")) {
    if (!line.includes(msg)) continue;
    try {
      return (JSON.parse(line) as { address?: string }).address;
    } catch {
      // a human line that mentions it
    }
  }
  return undefined;
}

describe("metrics after a real run", () => {
  const ws = new Workspace();
  let c: Coordinator;
  let agent: Proc;
  let coordMetrics: string;
  let agentMetrics: string;

  beforeAll(async () => {
    ws.write("metrics.suite.yaml", SUITE);
    ws.write("plan.yaml", fleetPlan("metrics", "metrics.suite.yaml"));
    c = ws.track(await startCoordinator(ws.path("state"), ["--metrics-listen", "127.0.0.1:0"]));
    coordMetrics = await waitFor("the metrics listener", () => /\/metrics, \/healthz and \/readyz on http:\/\/(\S+)/.exec(c.stderr())?.[1]);
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    agent = ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("node-a"), labels: { role: "fleet" }, args: ["--metrics-listen", "127.0.0.1:0"] }));
    await waitFor("agent online", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined));
    agentMetrics = await waitFor("the agent's metrics listener", () => loggedAddress(agent.stderr(), "serving /metrics and /healthz"));
  });

  afterAll(async () => ws.cleanup());

  it("counts every stored result, the run by verdict and mode, the node online, and promtool accepts the scrape", async () => {
    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    expect(run.exitCode, run.stderr).toBe(1);
    expect(run.stdout).toContain("verdict: NO-GO");

    const scrape = (await get(coordMetrics, "/metrics")).body;
    const stored = queryDb<{ status: string; n: number }>(c.stateDir, "SELECT status, COUNT(*) AS n FROM check_results GROUP BY status ORDER BY status");
    expect(stored).toEqual([
      { status: "failed", n: 1 },
      { status: "passed", n: 2 },
    ]);
    const committed = samples(scrape, "fleetgate_check_results_committed_total");
    expect(Object.fromEntries(committed)).toEqual({ 'status="failed"': 1, 'status="passed"': 2 });
    expect(samples(scrape, "fleetgate_runs_finished_total").get('verdict="NO-GO",mode="full"')).toBe(1);
    expect(sum(samples(scrape, "fleetgate_runs_finished_total"))).toBe(1);
    expect(samples(scrape, "fleetgate_check_duration_seconds_count").get('kind="command"')).toBe(2);
    expect(samples(scrape, "fleetgate_check_duration_seconds_count").get('kind="file"')).toBe(1);
    expect(samples(scrape, "fleetgate_nodes").get('status="online"')).toBe(1);
    expect(samples(scrape, "fleetgate_agent_connections_total").get("")).toBe(1);
    expect(samples(scrape, "fleetgate_agent_reconnects_total").get("")).toBe(0);
    // Three results and a task's end, in one transaction or several.
    expect(sum(samples(scrape, "fleetgate_store_commit_duration_seconds_count"))).toBeGreaterThanOrEqual(1);
    if (promtool) expect(await promtoolCheck(scrape)).toBe("exit 0");
  });

  it("counts a call refused for its token by method and code", async () => {
    const r = await execa(process.execPath, [COORD_BIN, "nodes"], { env: { FLEETGATE_COORDINATOR: c.address, FLEETGATE_CA: c.caFile ?? "", FLEETGATE_TOKEN: "fga_not-a-token" }, reject: false });
    expect(r.exitCode).not.toBe(0);
    const scrape = (await get(coordMetrics, "/metrics")).body;
    expect(samples(scrape, "fleetgate_rpc_errors_total").get('method="/fleetgate.v1.ControlService/ListNodes",code="UNAUTHENTICATED"')).toBe(1);
  });

  it("answers /healthz and /readyz while the store is writable", async () => {
    expect(await get(coordMetrics, "/healthz")).toEqual({ status: 200, body: "ok\n" });
    expect(await get(coordMetrics, "/readyz")).toEqual({ status: 200, body: "ready\n" });
  });

  it("serves the agent's own metrics: its checks by kind, an empty spool once acked, connected; promtool accepts them", async () => {
    const scrape = await waitFor("the spool acked", async () => {
      const body = (await get(agentMetrics, "/metrics")).body;
      return samples(body, "fleetgate_agent_spool_events").get("") === 0 && samples(body, "fleetgate_agent_check_duration_seconds_count").size ? body : undefined;
    });
    expect(samples(scrape, "fleetgate_agent_check_duration_seconds_count").get('kind="command"')).toBe(2);
    expect(samples(scrape, "fleetgate_agent_check_duration_seconds_count").get('kind="file"')).toBe(1);
    expect(samples(scrape, "fleetgate_agent_connected").get("")).toBe(1);
    expect(samples(scrape, "fleetgate_agent_reconnects_total").get("")).toBe(0);
    expect(await get(agentMetrics, "/healthz")).toEqual({ status: 200, body: "ok\n" });
    if (promtool) expect(await promtoolCheck(scrape)).toBe("exit 0");
  });

  it("counts the node's second stream as a reconnect when its agent restarts", async () => {
    await agent.stop("SIGTERM");
    await waitFor("agent offline", async () => (!(await onlineNodes(c)).includes("node-a") ? true : undefined));
    ws.track(startAgent({ name: "node-a", address: c.address, token: "", stateDir: ws.path("node-a"), labels: { role: "fleet" } }));
    await waitFor("agent online again", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined));
    const scrape = (await get(coordMetrics, "/metrics")).body;
    expect(samples(scrape, "fleetgate_agent_connections_total").get("")).toBe(2);
    expect(samples(scrape, "fleetgate_agent_reconnects_total").get("")).toBe(1);
    expect(samples(scrape, "fleetgate_nodes").get('status="online"')).toBe(1);
  });

  it.skipIf(!promtool)("prints check --format prometheus that promtool accepts, exiting 1 for the failed check", async () => {
    const r = await execa(process.execPath, [AGENT_BIN, "check", ws.path("metrics.suite.yaml"), "--format", "prometheus"], { reject: false, stripFinalNewline: false });
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stdout).toContain('fleetgate_check_success{suite="metrics",check="broken",kind="command",precondition="false",iteration="1",status="failed"} 0\n');
    expect(r.stdout).toContain('fleetgate_suite_success{suite="metrics",status="failed"} 0\n');
    expect(await promtoolCheck(r.stdout)).toBe("exit 0");
  });
});

describe("prom-client stays unloaded unless asked for (issue 16: the idle agent's memory)", () => {
  const ws = new Workspace();
  // Loaded before the agent: at exit it writes every CommonJS module loaded (prom-client is one).
  const preload = ws.write("loaded.mjs", 'import { createRequire } from "node:module";\nimport { writeFileSync } from "node:fs";\nconst require = createRequire(import.meta.url);\nprocess.on("exit", () => writeFileSync(process.env.LOADED_OUT, Object.keys(require.cache).join("\\n")));\n');
  afterAll(async () => ws.cleanup());

  /** The modules `fleetgate-agent ARGS` loaded; a daemon is stopped with SIGTERM once it has started. */
  async function loadedBy(name: string, args: string[], daemon: boolean): Promise<string[]> {
    const out = ws.path(`${name}.loaded`);
    const child = execa(process.execPath, ["--import", preload, AGENT_BIN, ...args], { reject: false, stdin: "ignore", env: { LOADED_OUT: out, FLEETGATE_LOG_LEVEL: "info" }, all: true });
    if (daemon) {
      let log = "";
      child.all?.on("data", (b: Buffer) => (log += b.toString()));
      await waitFor(`${name} to start`, () => (log.includes("agent starting") ? true : undefined));
      child.kill("SIGTERM");
    }
    await child;
    return readFileSync(out, "utf8").split("\n");
  }
  const promClient = (loaded: string[]) => loaded.filter((f) => f.includes("/node_modules/prom-client/"));

  it("is not loaded by a daemon without --metrics-listen, and is with it", async () => {
    // Nothing listens on port 1: the daemon starts and keeps retrying, which is enough here.
    const run = ["run", "--coordinator", "127.0.0.1:1", "--insecure", "--token", "fge_unused", "--name", "lazy"];
    expect(promClient(await loadedBy("plain", [...run, "--state-dir", ws.path("plain")], true))).toEqual([]);
    expect(promClient(await loadedBy("metrics", [...run, "--state-dir", ws.path("metrics"), "--metrics-listen", "127.0.0.1:0"], true)).length).toBeGreaterThan(0);
  });

  it("is not loaded by check in another format, and is by --format prometheus", async () => {
    const suite = ws.write("one.suite.yaml", "suite: one\nchecks:\n  - id: t\n    command: { argv: [\"true\"] }\n");
    expect(promClient(await loadedBy("json", ["check", suite, "--format", "json"], false))).toEqual([]);
    expect(promClient(await loadedBy("prometheus", ["check", suite, "--format", "prometheus"], false)).length).toBeGreaterThan(0);
  });
});

const root = process.getuid?.() === 0;
const haveNamespaces = needs(root ? undefined : "a mount namespace for the read-only state dir needs root; run the tests as root") && needsTool("nsenter", "util-linux") && needsTool("unshare", "util-linux");

describe.skipIf(!haveNamespaces)("/readyz on a state dir made read-only under a running coordinator", () => {
  const ws = new Workspace();
  const state = ws.path("state");

  afterAll(async () => ws.cleanup());

  it("answers 503 naming the state dir while it is read-only, and 200 again once it is writable", async () => {
    mkdirSync(state);
    // Its own mount namespace (unshare execs node: the pid is the coordinator's), so the
    // read-only mount is seen by it alone and goes away with it.
    const child = execa("unshare", ["--mount", "--propagation", "private", "--", process.execPath, COORD_BIN, "serve", "--listen", "127.0.0.1:0", "--state-dir", state, "--metrics-listen", "127.0.0.1:0"], {
      reject: false,
      stdin: "ignore",
      buffer: false,
      env: { FLEETGATE_LOG_LEVEL: "warn" },
    });
    let err = "";
    child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
    child.stdout?.resume();
    ws.track({ name: "coordinator", process: child, stderr: () => err, stop: async (signal = "SIGTERM") => void (child.exitCode === null && child.signalCode === null && child.kill(signal) && (await child)) });
    const metrics = await waitFor("the metrics listener", () => {
      if (child.exitCode !== null) throw new Error(`coordinator exited early:\n${err}`);
      return /\/metrics, \/healthz and \/readyz on http:\/\/(\S+)/.exec(err)?.[1];
    });
    expect(await get(metrics, "/readyz")).toEqual({ status: 200, body: "ready\n" });

    // A read-only bind mount over the state dir, in the coordinator's namespace. A file it opens
    // from now on is on the read-only mount; coord.db's descriptors, opened before, still write
    // (the kernel checks a mount's read-only flag at open), which is why /readyz writes a new file.
    const inNamespace = (...argv: string[]) => execFileSync(toolPath("nsenter")!, ["-t", String(child.pid), "-m", "--", ...argv]);
    inNamespace("mount", "--bind", state, state);
    inNamespace("mount", "-o", "remount,bind,ro", state);
    // Probed at most once a second: the answer changes within one.
    const refused = await waitFor("/readyz to answer 503", async () => {
      const r = await get(metrics, "/readyz");
      return r.status === 503 ? r : undefined;
    });
    expect(refused.body).toBe(`not ready: cannot write in the state dir ${state}: EROFS\n`);
    expect((await get(metrics, "/healthz")).status).toBe(200);

    inNamespace("umount", state);
    expect(await waitFor("/readyz to answer 200 again", async () => {
      const r = await get(metrics, "/readyz");
      return r.status === 200 ? r : undefined;
    })).toEqual({ status: 200, body: "ready\n" });
  });
});
