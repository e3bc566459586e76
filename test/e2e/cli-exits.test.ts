// How the two CLIs end (issue 14): a closed stdout ends quietly, every exit 3 says why, help and
// version exit 0, and an internal error exits 70 with one line and where its details are.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_BIN, COORD_BIN, ROOT, startCoordinator, type Coordinator } from "../../scripts/local-fleet.js";
import { Workspace } from "./fixtures.js";

interface Ended {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs a CLI whose reader has gone away before it writes a byte (`coord runs --json | head -0`). */
function withStdoutClosed(bin: string, args: string[], env: Record<string, string> = {}): Promise<Ended> {
  const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.destroy();
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  return new Promise((resolve) => child.on("close", (exitCode, signal) => resolve({ exitCode, signal, stderr })));
}

async function cli(bin: string, args: string[], env: Record<string, string> = {}) {
  const r = await execa(process.execPath, [bin, ...args], { reject: false, stdin: "ignore", env, stripFinalNewline: false });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe("a CLI whose stdout is closed", () => {
  const ws = new Workspace();
  let c: Coordinator;
  beforeAll(async () => {
    c = ws.track(await startCoordinator(ws.path("state")));
  });
  afterAll(() => ws.cleanup());

  it("coord runs --json ends with 141 (the shell's code for a closed pipe) and no stack trace", async () => {
    const ended = await withStdoutClosed(COORD_BIN, ["runs", "--json"], { FLEETGATE_COORDINATOR: c.address, FLEETGATE_STATE_DIR: c.stateDir });
    expect(ended).toEqual({ exitCode: 141, signal: null, stderr: "" });
  });

  it("fleetgate-agent schema suite (larger than a pipe's buffer) ends the same way", async () => {
    expect(await withStdoutClosed(AGENT_BIN, ["schema", "suite"])).toEqual({ exitCode: 141, signal: null, stderr: "" });
  });

  it("the coordinator still answers afterwards: it was the reader that went away, not the call", async () => {
    const r = await cli(COORD_BIN, ["runs", "--json"], { FLEETGATE_COORDINATOR: c.address, FLEETGATE_STATE_DIR: c.stateDir });
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });
});

describe("every exit 3 says why", () => {
  const DID_YOU_MEAN = 'expected a duration like 500ms, 30s, 5m, 1h or 1m30s; got "5", a number without a unit: did you mean 5s?';

  it("coord token create --ttl 5 asks whether 5s was meant, naming the flag", async () => {
    const r = await cli(COORD_BIN, ["token", "create", "--ttl", "5"]);
    expect(r).toEqual({ exitCode: 3, stdout: "", stderr: `coord: --ttl: ${DID_YOU_MEAN}\n` });
  });

  it("coord serve --lost-after 5 does too, before it opens any state", async () => {
    const ws = new Workspace();
    try {
      const r = await cli(COORD_BIN, ["serve", "--lost-after", "5", "--state-dir", ws.path("state"), "--listen", "127.0.0.1:0"]);
      expect(r).toEqual({ exitCode: 3, stdout: "", stderr: `coord: --lost-after: ${DID_YOU_MEAN}\n` });
      expect(existsSync(ws.path("state", "coord.db"))).toBe(false);
    } finally {
      await ws.cleanup();
    }
  });

  it("a duration with two units is a duration: coord serve --heartbeat 1m30s is not refused", async () => {
    const ws = new Workspace();
    try {
      const served = ws.track(await startCoordinator(ws.path("state"), ["--heartbeat", "1m30s", "--lost-after", "3m30s"]));
      expect(served.stderr()).toContain("listening on");
    } finally {
      await ws.cleanup();
    }
  });

  it.each([
    [COORD_BIN, ["nodes", "--bogus"], "error: unknown option '--bogus'\n"],
    [COORD_BIN, ["run", "fleet", "--iterations", "0"], "error: option '--iterations <n>' argument '0' is invalid. expected a whole number >= 1\n"],
    [AGENT_BIN, ["check"], "error: missing required argument 'suite'\n"],
    [AGENT_BIN, ["check", "s.yaml", "--format", "xml"], "error: option '--format <format>' argument 'xml' is invalid. Allowed choices are text, json, tap, junit, prometheus.\n"],
  ])("%s %j: commander's usage error, printed once", async (bin, args, stderr) => {
    const r = await cli(bin, args);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toBe(stderr);
  });

  it.each([
    [COORD_BIN, ["--help"]],
    [COORD_BIN, ["--version"]],
    [COORD_BIN, ["help", "token"]],
    [COORD_BIN, ["token", "create", "--help"]],
    [AGENT_BIN, ["--help"]],
    [AGENT_BIN, ["--version"]],
    [AGENT_BIN, ["check", "--help"]],
  ])("%s %j: help and version exit 0 on stdout", async (bin, args) => {
    const r = await cli(bin, args);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).not.toBe("");
    expect(r.stderr).toBe("");
  });
});

describe("an internal error", () => {
  // A program with a bug, run through the same runCli both CLIs use (shared/cli-exit.ts).
  const program = (body: string) => `
    import { Command } from "commander";
    import { exitOnUsageErrors, runCli } from ${JSON.stringify(pathToFileURL(join(ROOT, "dist/shared/cli-exit.js")).href)};
    await runCli("coord", () => { const p = exitOnUsageErrors(new Command("coord")); p.command("go").option("--token <t>").action(async () => { ${body} }); return p; }, ["node", "coord", ...process.argv.slice(1)]);
  `;
  const runBuggy = async (body: string, env: Record<string, string>) => {
    const r = await execa(process.execPath, ["--input-type=module", "-e", program(body), "--", "go", "--token", "fge_secret"], { reject: false, stdin: "ignore", env, cwd: ROOT, stripFinalNewline: false });
    return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
  };

  it.each([
    ["thrown by an action", "const x = undefined; x.y.z = 1;"],
    ["thrown later in a callback nothing awaits", "setTimeout(() => { const x = undefined; x.y.z = 1; }, 10); await new Promise((r) => setTimeout(r, 1000));"],
    ["a promise rejected with nobody listening", "void Promise.reject(new TypeError(\"Cannot set properties of undefined (setting 'z')\")); await new Promise((r) => setTimeout(r, 1000));"],
  ])("%s exits 70, not 1, with one line naming a file that holds the stack", async (_, body) => {
    const ws = new Workspace();
    try {
      const r = await runBuggy(body, { FLEETGATE_CRASH_DIR: ws.dir });
      expect(r.exitCode).toBe(70);
      const m = /^coord: internal error: Cannot (?:read|set) properties of undefined \(\w+ '[yz]'\) \(not a verdict: fleetgate itself failed; details in (\S+)\)\n$/.exec(r.stderr);
      expect(m, r.stderr).not.toBeNull();
      const crashFile = readFileSync(m![1]!, "utf8");
      expect(crashFile).toContain("TypeError: Cannot");
      // The command is named, its arguments are not: they may hold a token.
      expect(crashFile.split("\n")[0]).toMatch(/^\S+ coord go$/);
      expect(crashFile).not.toContain("fge_secret");
    } finally {
      await ws.cleanup();
    }
  });

  it("says to turn on debug logs when no crash file can be written, and prints the stack then", async () => {
    const r = await runBuggy("throw new RangeError('bad offset');", { FLEETGATE_CRASH_DIR: "/nonexistent/dir" });
    expect(r.exitCode).toBe(70);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines.at(-1)).toBe("coord: internal error: bad offset (not a verdict: fleetgate itself failed; run again with FLEETGATE_LOG_LEVEL=debug for the stack trace)");
    expect(lines[0]).toBe("RangeError: bad offset");
  });
});
