import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commandCheck } from "../../agent/checks/command.js";
import { jsonPath } from "../../agent/checks/json-path.js";
import type { ProcessOutcome } from "../../agent/process.js";
import type { CommandSpec } from "../../shared/model/kinds/command.js";

/** What runProcess would have returned, by hand: evaluate() is pure and needs no process. */
function seen(over: Partial<ProcessOutcome & { timeoutMs: number }> = {}): ProcessOutcome & { timeoutMs: number } {
  return { exitCode: 0, signal: null, stdout: "", stderr: "", timedOut: false, durationMs: 5, timeoutMs: 10_000, ...over };
}

const spec = (over: Partial<CommandSpec> = {}): CommandSpec => ({ argv: ["x"], ...over });

describe("commandCheck.evaluate", () => {
  it("passes on exit 0 when nothing else is expected", () => {
    expect(commandCheck.evaluate(spec(), seen())).toEqual({ passed: true, summary: "exit 0" });
  });

  it("fails on a non-zero exit, quoting the first line of stderr", () => {
    const v = commandCheck.evaluate(spec(), seen({ exitCode: 3, stderr: "inactive\nmore detail\n", stdout: "ignored\n" }));
    expect(v).toEqual({ passed: false, summary: "expected exit 0, saw 3: inactive" });
  });

  it("quotes stdout when stderr is empty", () => {
    const v = commandCheck.evaluate(spec(), seen({ exitCode: 4, stdout: "\n  not-found\n" }));
    expect(v.summary).toBe("expected exit 0, saw 4: not-found");
  });

  it("says only the exit code when the program printed nothing", () => {
    expect(commandCheck.evaluate(spec(), seen({ exitCode: 1 })).summary).toBe("expected exit 0, saw 1");
  });

  it("accepts the exit codes the spec allows", () => {
    const s = spec({ expect: { exit: { one_of: [0, 3] } } });
    expect(commandCheck.evaluate(s, seen({ exitCode: 3 })).passed).toBe(true);
    expect(commandCheck.evaluate(s, seen({ exitCode: 4 })).summary).toBe("expected exit one of [0,3], saw 4");
  });

  it("compares stdout without its final newline", () => {
    const s = spec({ expect: { stdout: "active" } });
    expect(commandCheck.evaluate(s, seen({ stdout: "active\n" })).passed).toBe(true);
    expect(commandCheck.evaluate(s, seen({ stdout: "activating\n" }))).toEqual({
      passed: false,
      summary: 'expected stdout "active", saw "activating"',
    });
  });

  it("checks stderr with its own matcher", () => {
    const s = spec({ expect: { stderr: { contains: "warning" } } });
    expect(commandCheck.evaluate(s, seen({ stderr: "a warning here\n" })).passed).toBe(true);
    expect(commandCheck.evaluate(s, seen({ stderr: "" })).summary).toBe('expected stderr containing "warning", saw ""');
  });

  it("does not look at stdout once the exit code is wrong", () => {
    const s = spec({ expect: { stdout: "ok" } });
    expect(commandCheck.evaluate(s, seen({ exitCode: 2, stdout: "ok\n" })).summary).toBe("expected exit 0, saw 2: ok");
  });

  it("follows JSON paths into stdout and compares each value", () => {
    const stdout = JSON.stringify({ chain: "main", blocks: 812_345, initialblockdownload: false, warnings: [] });
    const s = spec({ expect: { json: { chain: "main", blocks: { gte: 800_000 }, initialblockdownload: false } } });
    expect(commandCheck.evaluate(s, seen({ stdout })).passed).toBe(true);
    const ibd = JSON.stringify({ chain: "main", blocks: 512_000, initialblockdownload: true });
    expect(commandCheck.evaluate(s, seen({ stdout: ibd })).summary).toBe("expected blocks >= 800000, saw 512000");
  });

  it("reports a missing JSON field as null", () => {
    const s = spec({ expect: { json: { "softforks.taproot.active": true } } });
    expect(commandCheck.evaluate(s, seen({ stdout: "{}" })).summary).toBe("expected softforks.taproot.active true, saw null");
  });

  it("fails when JSON is expected and stdout is not JSON", () => {
    const s = spec({ expect: { json: { a: 1 } } });
    expect(commandCheck.evaluate(s, seen({ stdout: "error code: -28\n" })).summary).toBe(
      'expected JSON on stdout, saw "error code: -28\\n"',
    );
  });

  it("reports a timed-out process as a timeout, whatever its exit code", () => {
    const v = commandCheck.evaluate(spec(), seen({ timedOut: true, exitCode: null, signal: "SIGTERM", timeoutMs: 1500 }));
    expect(v).toEqual({ passed: false, summary: "timed out after 1500 ms; process group killed" });
  });

  it("reports a program that could not start", () => {
    const v = commandCheck.evaluate(spec(), seen({ exitCode: null, spawnError: "spawn podman ENOENT" }));
    expect(v).toEqual({ passed: false, summary: "podman is not installed on this node" });
  });

  it("reports a program killed by a signal", () => {
    expect(commandCheck.evaluate(spec(), seen({ exitCode: null, signal: "SIGSEGV" })).summary).toBe("killed by SIGSEGV");
  });
});

describe("jsonPath", () => {
  const doc = { a: { b: [{ c: 1 }, { c: 2 }] }, "x-y": true };

  it("follows dotted keys and array indexes in both spellings", () => {
    expect(jsonPath(doc, "a.b[1].c")).toBe(2);
    expect(jsonPath(doc, ".a.b.0.c")).toBe(1);
    expect(jsonPath(doc, "x-y")).toBe(true);
  });

  it("returns undefined for a path that leaves the document", () => {
    expect(jsonPath(doc, "a.b[5].c")).toBeUndefined();
    expect(jsonPath(doc, "a.b[0].c.d")).toBeUndefined();
  });
});

describe("commandCheck.observe then evaluate, with real programs", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-command-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const run = async (s: CommandSpec, timeoutMs = 5000) =>
    commandCheck.evaluate(s, await commandCheck.observe(s, { timeoutMs, maxOutputBytes: 4096 }));

  it("passes with true and fails with false", async () => {
    expect(await run({ argv: ["true"] })).toEqual({ passed: true, summary: "exit 0" });
    expect(await run({ argv: ["false"] })).toEqual({ passed: false, summary: "expected exit 0, saw 1" });
  });

  it("checks exit code, stdout and stderr of a shell the suite asked for", async () => {
    const s: CommandSpec = {
      argv: ["sh", "-c", "echo synced; echo 'warning: slow disk' >&2; exit 3"],
      expect: { exit: 3, stdout: "synced", stderr: { matches: "^warning:" } },
    };
    expect(await run(s)).toEqual({ passed: true, summary: "exit 3" });
  });

  it("runs in cwd with env added", async () => {
    const s: CommandSpec = { argv: ["sh", "-c", 'echo "$(pwd) $FG_ROLE"'], cwd: dir, env: { FG_ROLE: "primary" }, expect: { stdout: `${dir} primary` } };
    expect(await run(s)).toEqual({ passed: true, summary: "exit 0" });
  });

  it("reads JSON printed by the program", async () => {
    const s: CommandSpec = { argv: ["printf", '{"blocks": 812345}'], expect: { json: { blocks: { gte: 800000 } } } };
    expect((await run(s)).passed).toBe(true);
  });

  it("fails a program that outlives its timeout", async () => {
    expect(await run({ argv: ["sleep", "30"] }, 300)).toEqual({ passed: false, summary: "timed out after 300 ms; process group killed" });
  });

  it("fails a program that is not installed", async () => {
    expect(await run({ argv: ["fleetgate-no-such-tool", "--version"] })).toEqual({
      passed: false,
      summary: "fleetgate-no-such-tool is not installed on this node",
    });
  });

  it("keeps stdout and stderr as evidence", async () => {
    const observed = await commandCheck.observe({ argv: ["sh", "-c", "echo o; echo e >&2"] }, { timeoutMs: 5000, maxOutputBytes: 4096 });
    expect(commandCheck.evidence(observed)).toEqual({ stdout: "o\n", stderr: "e\n" });
  });
});
