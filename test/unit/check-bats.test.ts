import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batsArgv, batsCheck } from "../../agent/checks/bats.js";
import type { TestCaseOutcome } from "../../agent/checks/kind.js";
import { parseTap } from "../../agent/checks/tap.js";
import type { ProcessOutcome } from "../../agent/process.js";
import type { BatsSpec } from "../../shared/model/kinds/bats.js";
import { FIXTURES } from "../fakes/scenario.js";
import { needsTool } from "../support/system-tools.js";

const fixture = (name: string) => readFileSync(join(FIXTURES, "bats", name), "utf8");

/** A recorded bats run (stdout + rc) as the observation runProcess would have returned. */
function recorded(name: string, over: Partial<ProcessOutcome & { timeoutMs: number }> = {}): ProcessOutcome & { timeoutMs: number } {
  return { exitCode: Number(fixture(`${name}.rc`)), signal: null, stdout: fixture(`${name}.stdout`), stderr: "", timedOut: false, durationMs: 70, timeoutMs: 60_000, ...over };
}

const EXAMPLE_CASES: TestCaseOutcome[] = [
  { name: "lnd health endpoint responds", status: "passed", message: "" },
  { name: "bitcoind is synced", status: "failed", message: "(in test file example.bats, line 11)\n  `[ \"$status\" -eq 0 ]' failed" },
  { name: "tailscale is up", status: "skipped", message: "tailscale not installed" },
];
const spec: BatsSpec = { file: "example.bats" };

describe("parseTap on recorded bats 1.8.2 output", () => {
  it("reads bats --tap into one case per test, with the failure's diagnostic lines and the skip reason", () => {
    expect(parseTap(fixture("tap.stdout"))).toEqual({ planned: 3, cases: EXAMPLE_CASES });
  });

  it("reads the TAP13 formatter the same way, taking the YAML message and the SKIP on a 'not ok' line", () => {
    expect(parseTap(fixture("tap13.stdout"))).toEqual({ planned: 3, cases: EXAMPLE_CASES });
  });

  it("reads the default formatter written to a pipe, which bats prints as TAP", () => {
    expect(parseTap(fixture("pretty-nontty.stdout"))).toEqual({ planned: 3, cases: EXAMPLE_CASES });
  });

  it("reads an all-passing run", () => {
    expect(parseTap(fixture("tap-allpass.stdout"))).toEqual({ planned: 1, cases: [{ name: "lnd health endpoint responds", status: "passed", message: "" }] });
  });
});

describe("batsCheck.evaluate on recorded runs", () => {
  it("fails a run with a failed test, keeping the skip as a skip", () => {
    expect(batsCheck.evaluate(spec, recorded("tap"))).toEqual({ passed: false, summary: "1/3 passed, 1 skipped; failed: bitcoind is synced", cases: EXAMPLE_CASES });
  });

  it("passes a run where every planned test passed", () => {
    const v = batsCheck.evaluate(spec, recorded("tap-allpass"));
    expect(v).toMatchObject({ passed: true, summary: "1/1 passed" });
  });

  it("fails when fewer tests reported than the plan announced (bats died mid-file)", () => {
    const cut = fixture("tap.stdout").split("\n").slice(0, 2).join("\n");
    const v = batsCheck.evaluate(spec, recorded("tap", { stdout: cut }));
    expect(v.passed).toBe(false);
    expect(v.summary).toBe("1/1 passed; bats planned 3 tests, reported 1; bats exit 1");
  });

  it("reports a timeout with the tests that finished before it", () => {
    const cut = fixture("tap.stdout").split("\n").slice(0, 2).join("\n");
    const v = batsCheck.evaluate(spec, recorded("tap", { stdout: cut, exitCode: null, signal: "SIGTERM", timedOut: true, timeoutMs: 2000 }));
    expect(v.summary).toBe("timed out after 2000 ms; process group killed; 1/1 passed");
    expect(v.cases).toEqual([EXAMPLE_CASES[0]]);
  });

  it("fails when bats was not installed", () => {
    const v = batsCheck.evaluate(spec, recorded("tap", { stdout: "", exitCode: null, spawnError: "spawn bats ENOENT" }));
    expect(v).toEqual({ passed: false, summary: "bats is not installed on this node", cases: [] });
  });
});

describe("batsArgv", () => {
  it("runs bats --tap on the file, with --filter when the suite gives one", () => {
    expect(batsArgv({ file: "tests/lifecycle/apps.bats" })).toEqual(["bats", "--tap", "tests/lifecycle/apps.bats"]);
    expect(batsArgv({ file: "a.bats", filter: "^lnd" })).toEqual(["bats", "--tap", "--filter", "^lnd", "a.bats"]);
  });

  it("keeps a file whose name starts with '-' from being read as an option", () => {
    expect(batsArgv({ file: "-x.bats" })).toEqual(["bats", "--tap", "./-x.bats"]);
  });
});

describe.skipIf(!needsTool("bats", "bats"))("batsCheck with the real bats", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-bats-"));
    copyFileSync(join(FIXTURES, "bats/example.bats"), join(dir, "example.bats"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const ctx = { timeoutMs: 30_000, maxOutputBytes: 1024 * 1024 };
  const run = async (s: BatsSpec, timeoutMs = ctx.timeoutMs) => batsCheck.evaluate(s, await batsCheck.observe(s, { ...ctx, timeoutMs }));

  it("runs example.bats to 1 pass, 1 fail, 1 skip, parsed exactly as the recorded fixture", async () => {
    // Run from the file's folder, as the fixture was recorded: bats names the file relative to cwd.
    const real = await run({ file: "example.bats", cwd: dir });
    expect(real.cases?.map((c) => c.status)).toEqual(["passed", "failed", "skipped"]);
    expect(real).toEqual(batsCheck.evaluate(spec, recorded("tap")));
  });

  it("passes the suite's env to the tests and runs in cwd", async () => {
    writeFileSync(join(dir, "marker"), "");
    writeFileSync(join(dir, "env.bats"), '@test "sees ARCHY_HOST" {\n  [ "$ARCHY_HOST" = "10.0.0.7" ]\n}\n@test "runs in cwd" {\n  [ -f marker ]\n}\n');
    const v = await run({ file: "env.bats", cwd: dir, env: { ARCHY_HOST: "10.0.0.7" } });
    expect(v).toMatchObject({ passed: true, summary: "2/2 passed" });
  });

  it("runs only the tests the filter selects", async () => {
    const v = await run({ file: join(dir, "example.bats"), filter: "synced" });
    expect(v).toMatchObject({ passed: false, summary: "0/1 passed; failed: bitcoind is synced" });
  });

  it("fails, not passes, when the filter selects no test", async () => {
    const v = await run({ file: join(dir, "example.bats"), filter: "no-such-test" });
    expect(v).toEqual({ passed: false, summary: "no test ran in " + join(dir, "example.bats") + " (filter no-such-test)", cases: [] });
  });

  it("fails with bats's own message when the file does not exist", async () => {
    const v = await run({ file: join(dir, "missing.bats") });
    expect(v.passed).toBe(false);
    expect(v.summary).toMatch(/^bats printed no TAP, exit 1: .*missing\.bats.* does not exist/);
  });

  it("kills a bats file that outlives the check's timeout", async () => {
    writeFileSync(join(dir, "slow.bats"), '@test "hangs" {\n  sleep 30\n}\n');
    const started = Date.now();
    const v = await run({ file: join(dir, "slow.bats") }, 1000);
    expect(v.summary).toBe("timed out after 1000 ms; process group killed");
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
