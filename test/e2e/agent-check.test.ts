// `fleetgate-agent check` as an operator runs it on a node, against the example suite from the
// seeds, with podman/systemctl/bitcoin-cli/nginx replaced by fakes replaying recorded outputs.
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { parsePlan } from "../../shared/model/plan.js";
import { parseSuite } from "../../shared/model/suite.js";
import { AGENT_BIN } from "../../scripts/local-fleet.js";
import { fakeTools, FIXTURES, type FakeTools } from "../fakes/scenario.js";

const EXAMPLES = resolve(FIXTURES, "../examples");

async function agentCheck(suite: string, env: Record<string, string>, ...flags: string[]) {
  const r = await execa(process.execPath, [AGENT_BIN, "check", suite, ...flags], { env, reject: false, stdin: "ignore" });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

describe("the example suites and plans from the seeds", () => {
  it("all parse unchanged", () => {
    const files = readdirSync(EXAMPLES).filter((f) => f.endsWith(".yaml"));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) {
      const text = readFileSync(join(EXAMPLES, f), "utf8");
      expect(() => (f.includes(".plan.") ? parsePlan(text, f) : parseSuite(text, f)), f).not.toThrow();
    }
  });
});

describe("fleetgate-agent check on the archy node suite", () => {
  let fakes: FakeTools | undefined;
  afterEach(() => fakes?.cleanup());

  it("marks the node not ready when bitcoin is mid-IBD and runs no gate check", async () => {
    fakes = fakeTools(
      ["bitcoin-cli", "nginx", "podman", "systemctl", "archy-ctl"],
      [
        { tool: "bitcoin-cli", args: "getblockchaininfo", stdout: "bitcoin-cli/getblockchaininfo-ibd.constructed.json" },
        { tool: "nginx", args: "^-T", fixture: "nginx/nginx-T-ok" },
      ],
    );
    const r = await agentCheck(join(EXAMPLES, "archy-node.suite.yaml"), { ...fakes.env, XDG_CONFIG_HOME: "/nonexistent", ARCHY_PASSWORD: "unused" });
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stdout).toContain("NRDY  precondition bitcoin-synced-archival");
    expect(r.stdout).toContain("expected initialblockdownload false, saw true");
    expect(r.stdout).toContain("hint: Bitcoin is mid-IBD or pruned");
    expect(r.stdout).toMatch(/iteration 1\/1: not_ready — not ready: precondition bitcoin-synced-archival/);
    // Only preconditions touched the node: no unit, container or endpoint of the gate was looked at.
    const tools = fakes.calls().map((c) => `${c.tool} ${c.args.join(" ")}`);
    expect(tools.some((t) => t.startsWith("systemctl show bitcoind.service"))).toBe(false);
    expect(tools.some((t) => t.includes("inspect"))).toBe(false);
    expect(r.stdout).not.toMatch(/bitcoind-active|lnd-running-healthy|lifecycle-bats/);
  });

  it("refuses a suite with a typo before touching the node, naming file, line and field", async () => {
    fakes = fakeTools(["podman"], []);
    const suite = join(fakes.env.FLEETGATE_FAKE_SCENARIO!, "..", "typo.suite.yaml");
    const text = readFileSync(join(EXAMPLES, "archy-node.suite.yaml"), "utf8").replace("podman: { container: lnd, state: running, health: healthy }", "podman: { container: lnd, state: up, health: healthy }");
    await import("node:fs").then((fs) => fs.writeFileSync(suite, text));
    const r = await agentCheck(suite, fakes.env, "--format", "json");
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/typo\.suite\.yaml:40:\d+ checks\[1\]\.podman\.state: expected one of running\|/);
    expect(r.stdout).toBe("");
    expect(fakes.calls()).toEqual([]);
  });
});

describe("fleetgate-agent check --only and --tags", () => {
  const suite = `suite: s
preconditions:
  - id: pre
    command: { argv: ["true"] }
checks:
  - id: a
    command: { argv: ["true"] }
    tags: [quick]
  - id: b
    command: { argv: ["false"] }
  - id: c
    command: { argv: ["true"] }
`;
  let fakes: FakeTools | undefined;
  afterEach(() => fakes?.cleanup());

  it("runs only the named or tagged checks, always after the preconditions", async () => {
    fakes = fakeTools([], []);
    const file = join(fakes.env.FLEETGATE_FAKE_SCENARIO!, "..", "s.yaml");
    await import("node:fs").then((fs) => fs.writeFileSync(file, suite));
    const tagged = await agentCheck(file, {}, "--tags", "quick", "--format", "tap");
    expect(tagged.exitCode).toBe(0);
    expect(tagged.stdout).toBe("TAP version 13\n1..2\nok 1 - precondition pre\nok 2 - a");
    const only = await agentCheck(file, {}, "--only", "b", "--only", "c");
    expect(only.exitCode).toBe(1);
    expect(only.stdout).toMatch(/FAIL {2}b[\s\S]*ok {4}c/);
    expect(only.stdout).not.toMatch(/ok {4}a /);
    // Both flags: a check must match both, as on the daemon and in the dry run (b is not tagged quick).
    const both = await agentCheck(file, {}, "--only", "b", "--tags", "quick");
    expect(both.exitCode).toBe(2);
    expect(both.stdout).not.toMatch(/FAIL {2}b/);
  });
});
