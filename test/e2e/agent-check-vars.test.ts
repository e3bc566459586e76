// `fleetgate-agent check` with what a node may lack (${env.X}, a program) and with --var/--vars-file.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AGENT_BIN } from "../../scripts/local-fleet.js";
import { FIXTURES } from "../fakes/scenario.js";

const ARCHY = resolve(FIXTURES, "../examples/archy-node.suite.yaml");

/** Runs check with only `env` (no inherited ARCHY_PASSWORD, a PATH without the node's tools). */
async function agentCheck(args: string[], env: Record<string, string> = {}) {
  const r = await execa(process.execPath, [AGENT_BIN, "check", ...args], { env: { PATH: "/usr/bin:/bin", ...env }, extendEnv: false, reject: false, stdin: "ignore" });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fleetgate-check-vars-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("fleetgate-agent check on a bare host", () => {
  it("exits 2 (not ready) for the archy suite without ARCHY_PASSWORD or bitcoin-cli, saying the tool is missing and not blaming IBD", async () => {
    const r = await agentCheck([ARCHY]);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stdout).toContain("precondition bitcoin-synced-archival bitcoin-cli is not installed on this node");
    expect(r.stdout).not.toContain("mid-IBD");
    expect(r.stderr).not.toContain("ARCHY_PASSWORD");
  });

  it("runs the other checks and reports the one using an unset env var not ready, with where it is used", async () => {
    const suite = join(dir, "s.suite.yaml");
    writeFileSync(suite, `suite: s\nchecks:\n  - id: fine\n    command: { argv: ["true"] }\n  - id: rpc-auth\n    command: { argv: [echo, "\${env.FG_UNSET_PASSWORD}"] }\n`);
    const r = await agentCheck([suite]);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stdout).toMatch(/ok\s+fine/);
    expect(r.stdout).toContain(`env FG_UNSET_PASSWORD is not set on this node; used by check rpc-auth at ${suite}:6:30`);
  });

  it("still exits 3 for an undefined ${vars.X}", async () => {
    const suite = join(dir, "v.suite.yaml");
    writeFileSync(suite, `suite: v\nchecks:\n  - id: c\n    command: { argv: [echo, "\${vars.nope}"] }\n`);
    expect((await agentCheck([suite])).exitCode).toBe(3);
  });
});

describe("fleetgate-agent check --var and --vars-file", () => {
  const SUITE = `suite: greet
vars:
  greeting: hello
  token: { secret: true }
checks:
  - id: says
    command:
      argv: [sh, -c, 'echo "\${vars.greeting} \${vars.token}"']
      expect: { stdout: { contains: "nobody says this" } }
`;

  it("overrides the suite's vars (--var over --vars-file) and redacts a secret var from the output", async () => {
    const suite = join(dir, "greet.suite.yaml");
    writeFileSync(suite, SUITE);
    const file = join(dir, "vars.yaml");
    writeFileSync(file, `greeting: from-file\ntoken: { value: tok-9f8e7d6c, secret: true }\n`);
    const r = await agentCheck([suite, "--vars-file", file, "--var", "greeting=from-flag", "--format", "json"]);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stdout).toContain("from-flag ***");
    expect(r.stdout).not.toContain("tok-9f8e7d6c");
    expect(r.stdout).not.toContain("from-file");
  });

  it("redacts a value given as NAME:secret=VALUE, and a var the suite declares secret whatever gives it", async () => {
    const suite = join(dir, "greet.suite.yaml");
    writeFileSync(suite, SUITE);
    const r = await agentCheck([suite, "--var", "greeting:secret=hush-1234", "--var", "token=tok-1"]);
    expect(r.stdout).toContain('saw "*** ***"');
    expect(r.stdout).not.toContain("hush-1234");
    expect(r.stdout).not.toContain("tok-1");
  });

  it("refuses a var the suite does not declare, and a secret var given no value", async () => {
    const suite = join(dir, "greet.suite.yaml");
    writeFileSync(suite, SUITE);
    const typo = await agentCheck([suite, "--var", "greting=x", "--var", "token=t"]);
    expect(typo.exitCode).toBe(3);
    expect(typo.stderr).toContain(`--var greting: suite ${suite} declares no var "greting"; vars: greeting, token`);
    const missing = await agentCheck([suite]);
    expect(missing.exitCode).toBe(3);
    expect(missing.stderr).toContain("${vars.token} is undefined");
  });
});
