// The one-file agent as `npm run package` builds it (dist/scripts/package.js, into a temp dir here):
// the bundle and the single executable report the unbundled agent's version, hold nothing of the
// coordinator, run a suite on a host whose PATH has no node, and enroll with a real coordinator.
import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forbiddenInputs, forbiddenPackages } from "../../scripts/package-inputs.js";
import { AGENT_BIN, coord, onlineNodes, ROOT, startAgent, startCoordinator, waitFor } from "../../scripts/local-fleet.js";
import { toolPath } from "../support/host-tools.js";
import { needsTool } from "../support/system-tools.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";

const PACKAGE_SCRIPT = join(ROOT, "dist", "scripts", "package.js");
const promtool = needsTool("promtool", "prometheus");

const suite = (port: number) => `suite: one-file
checks:
  - id: shell-runs
    command: { argv: [sh, -c, "echo hello"], expect: { stdout: hello } }
  - id: os-release
    file: { path: /etc/os-release, exists: true }
  - id: some-memory
    memory: { available: { gte: 1MiB } }
  - id: port-open
    tcp: { address: "127.0.0.1:${port}" }
  - id: fails-on-purpose
    command: { argv: ["false"] }
`;

interface CheckJson {
  iterations: { results: { checkId: string; status: string; summary: string }[] }[];
}

describe("the one-file agent", () => {
  const ws = new Workspace();
  const out = ws.path("package");
  const bundle = join(out, "fleetgate-agent.cjs");
  const exe = join(out, "fleetgate-agent");
  // The only programs the suite runs, and nothing else: no node anywhere on this PATH.
  const tools = ws.path("tools");
  let unbundledVersion = "";
  let packaged = "";
  let listener: Server;
  let port = 0;

  beforeAll(async () => {
    mkdirSync(tools);
    for (const tool of ["sh", "false"]) symlinkSync(toolPath(tool)!, join(tools, tool));
    listener = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
    port = (listener.address() as { port: number }).port;
    ws.write("one-file.suite.yaml", suite(port));
    unbundledVersion = String((await execa(process.execPath, [AGENT_BIN, "--version"])).stdout);
    const built = await execa(process.execPath, [PACKAGE_SCRIPT, "--out-dir", out], { reject: false, stdin: "ignore", timeout: 80_000 });
    packaged = `${String(built.stdout)}\n${String(built.stderr)}`;
    expect(built.exitCode, packaged).toBe(0);
  }, 90_000);

  afterAll(async () => {
    listener?.close();
    await ws.cleanup();
  });

  it("builds the bundle and the executable, and both print the unbundled agent's version", async () => {
    expect(existsSync(exe), `no single executable was built:\n${packaged}`).toBe(true);
    expect(unbundledVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(String((await execa(process.execPath, [bundle, "--version"])).stdout)).toBe(unbundledVersion);
    expect(String((await execa(exe, ["--version"], { env: { PATH: tools }, extendEnv: false })).stdout)).toBe(unbundledVersion);
  });

  it("prints the unbundled agent's --help, subcommands and all", async () => {
    const help = String((await execa(process.execPath, [AGENT_BIN, "--help"])).stdout);
    expect(help).toContain("check [options] <suite>");
    expect(String((await execa(exe, ["--help"], { env: { PATH: tools }, extendEnv: false })).stdout)).toBe(help);
  });

  it("holds the agent and its packages but no coordinator code, better-sqlite3 or dev dependency (esbuild's metafile)", () => {
    const inputs = Object.keys((JSON.parse(readFileSync(join(out, "fleetgate-agent.meta.json"), "utf8")) as { inputs: object }).inputs);
    // The metafile names real paths the check understands: our compiled files and installed packages.
    expect(inputs).toContain("dist/agent/cli/main.js");
    expect(inputs.some((i) => i.includes("node_modules/@grpc/grpc-js/"))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
    const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8"));
    expect(forbiddenInputs(inputs, forbiddenPackages(pkg, lock))).toEqual([]);
    expect(inputs.filter((i) => /coordinator\/|better-sqlite3|vitest|esbuild|postject/.test(i))).toEqual([]);
  });

  it("runs `check` with no node on PATH and gives the unbundled agent's results", async () => {
    expect(toolPath("node", tools)).toBeUndefined();
    const args = ["check", ws.path("one-file.suite.yaml"), "--format", "json"];
    const packagedRun = await execa(exe, args, { env: { PATH: tools }, extendEnv: false, reject: false, stdin: "ignore" });
    const unbundledRun = await execa(process.execPath, [AGENT_BIN, ...args], { env: { PATH: tools }, extendEnv: false, reject: false, stdin: "ignore" });
    expect(packagedRun.exitCode, String(packagedRun.stderr)).toBe(1);
    expect(unbundledRun.exitCode, String(unbundledRun.stderr)).toBe(1);
    const results = (r: typeof packagedRun) => (JSON.parse(String(r.stdout)) as CheckJson).iterations[0]!.results.map((c) => `${c.checkId} ${c.status}`);
    expect(results(packagedRun)).toEqual([
      "shell-runs STATUS_PASSED",
      "os-release STATUS_PASSED",
      "some-memory STATUS_PASSED",
      "port-open STATUS_PASSED",
      "fails-on-purpose STATUS_FAILED",
    ]);
    expect(results(packagedRun)).toEqual(results(unbundledRun));
    expect(String(packagedRun.stdout)).toContain("expected exit 0, saw 1");
  });

  it.skipIf(!promtool)("prints check --format prometheus from inside the executable (prom-client bundled, loaded for it), as promtool accepts it", async () => {
    const r = await execa(exe, ["check", ws.path("one-file.suite.yaml"), "--format", "prometheus"], { env: { PATH: tools }, extendEnv: false, reject: false, stdin: "ignore", stripFinalNewline: false });
    expect(r.exitCode, String(r.stderr)).toBe(1);
    expect(String(r.stdout)).toContain('fleetgate_check_success{suite="one-file",check="fails-on-purpose",kind="command",precondition="false",iteration="1",status="failed"} 0\n');
    const checked = await execa("promtool", ["check", "metrics"], { input: String(r.stdout), reject: false });
    expect(`${checked.exitCode}${checked.stdout}${checked.stderr}`).toBe("0");
  });

  it("prints the same facts as the unbundled agent (the /proc and node:os readers inside the executable)", async () => {
    const facts = async (command: string[]) => {
      const r = await execa(command[0]!, [...command.slice(1), "facts"], { env: { PATH: tools }, extendEnv: false, stdin: "ignore" });
      return JSON.parse(String(r.stdout)) as { machineId: string; facts: Record<string, unknown> };
    };
    const packagedFacts = await facts([exe]);
    const unbundledFacts = await facts([process.execPath, AGENT_BIN]);
    expect(packagedFacts.machineId).toMatch(/^[0-9a-f]{32}$/);
    expect(packagedFacts.machineId).toBe(unbundledFacts.machineId);
    expect(Object.keys(packagedFacts.facts).sort()).toEqual(Object.keys(unbundledFacts.facts).sort());
    expect(Object.keys(packagedFacts.facts).length).toBeGreaterThan(0);
  });

  it("enrolls with a real coordinator over TLS, appears in coord nodes with its version and runs a fleet stage", async () => {
    const c = ws.track(await startCoordinator(ws.path("state")));
    const token = (await coord(c, ["token", "create"])).stdout.trim();
    const agent = ws.track(startAgent({ name: "one-file", address: c.address, token, stateDir: ws.path("agent"), labels: { role: "fleet" }, command: [exe], env: { PATH: tools } }));
    await waitFor("the one-file agent online", async () => ((await onlineNodes(c)).includes("one-file") ? true : undefined));
    // pino, bundled, writes its JSON lines to stderr.
    expect(agent.stderr()).toMatch(/^\{"level":30,.*"msg":"agent starting"/m);
    // VERSION is what the agent said in its hello: the version built into the executable.
    const version = unbundledVersion.replace(/[.+]/g, "\\$&");
    expect((await coord(c, ["nodes"])).stdout).toMatch(new RegExp(`^one-file\\s+fleet\\s+online\\s+now\\s+${version}\\s`, "m"));

    ws.write("plan.yaml", fleetPlan("one-file", "one-file.suite.yaml"));
    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    expect(run.exitCode, run.stderr).toBe(1); // fails-on-purpose, the rest passed on the node
    const rows = queryDb<{ check_id: string; status: string }>(c.stateDir, "SELECT check_id, status FROM check_results ORDER BY check_id");
    expect(rows.map((r) => `${r.check_id} ${r.status}`)).toEqual([
      "fails-on-purpose failed",
      "os-release passed",
      "port-open passed",
      "shell-runs passed",
      "some-memory passed",
    ]);
  });
});
