import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { checkKind } from "../../agent/checks/registry.js";
import { runSuite } from "../../agent/engine/run-suite.js";
import { FleetgateError } from "../../shared/errors.js";
import { Status } from "../../shared/model/status.js";
import { parseSuite } from "../../shared/model/suite.js";
import { refusal as refusalOf } from "../support/refusal.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fleetgate-run-suite-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A check that leaves a file behind, so the test can see on disk whether it ran. */
const touches = (id: string, name: string, extra = "") => `
  - id: ${id}${extra}
    command:
      argv: [touch, "${join(dir, name)}"]`;

const ran = (name: string) => existsSync(join(dir, name));

describe("runSuite", () => {
  it("folds a failed check and an errored check into failed: a failure anywhere is NO-GO, not incomplete", async () => {
    // The file check's observe() breaking stands in for the agent breaking (an ERROR result).
    const broken = vi.spyOn(await checkKind("file"), "observe").mockRejectedValue(new Error("observer broke"));
    try {
      const suite = parseSuite(`suite: mixed\nchecks:\n  - id: fails\n    command: { argv: ["false"] }\n  - id: errs\n    file: { path: /etc/hostname }\n`, "mixed.yaml");
      const out = await runSuite(suite, { allowDestructive: false, env: {} });
      expect(out.results.map((r) => r.status)).toEqual([Status.FAILED, Status.ERROR]);
      expect(out.status).toBe(Status.FAILED);
    } finally {
      broken.mockRestore();
    }
  });

  it("marks the node not ready when a precondition fails and runs no gate check", async () => {
    const suite = parseSuite(
      `suite: node
preconditions:
  - id: bitcoin-synced
    hint: bitcoind is still in IBD; wait for it to finish
    command:
      argv: [sh, -c, "echo 'verificationprogress 0.42' >&2; exit 1"]
checks:${touches("lnd-up", "lnd-ran")}${touches("mempool-up", "mempool-ran")}
`,
      "node.yaml",
    );
    const out = await runSuite(suite, { allowDestructive: false, env: {} });
    expect(out.status).toBe(Status.NOT_READY);
    expect(out.summary).toBe(
      "not ready: precondition bitcoin-synced: expected exit 0, saw 1: verificationprogress 0.42; hint: bitcoind is still in IBD; wait for it to finish",
    );
    expect(out.results.map((r) => [r.checkId, r.status])).toEqual([["bitcoin-synced", Status.NOT_READY]]);
    expect(ran("lnd-ran")).toBe(false);
    expect(ran("mempool-ran")).toBe(false);
  });

  it("runs every precondition before judging readiness, and names the first that failed", async () => {
    const suite = parseSuite(
      `suite: node
preconditions:
  - id: disk
    command:
      argv: ["true"]
  - id: tailscale-up
    command:
      argv: ["false"]
  - id: synced
    command:
      argv: ["false"]
checks:${touches("app", "app-ran")}
`,
      "node.yaml",
    );
    const out = await runSuite(suite, { allowDestructive: false, env: {} });
    expect(out.status).toBe(Status.NOT_READY);
    expect(out.summary).toBe("not ready: precondition tailscale-up: expected exit 0, saw 1");
    expect(out.results.map((r) => r.status)).toEqual([Status.PASSED, Status.NOT_READY, Status.NOT_READY]);
    expect(ran("app-ran")).toBe(false);
  });

  it("runs the gate checks in order once every precondition passes", async () => {
    const suite = parseSuite(
      `suite: node
preconditions:
  - id: synced
    command:
      argv: ["true"]
checks:${touches("first", "first-ran")}${touches("second", "second-ran")}
`,
      "node.yaml",
    );
    const seen: string[] = [];
    const out = await runSuite(suite, { allowDestructive: false, env: {}, onResult: (r) => void seen.push(r.checkId) });
    expect(out.status).toBe(Status.PASSED);
    expect(out.summary).toBe("2/2 passed");
    expect(seen).toEqual(["synced", "first", "second"]);
    expect(ran("first-ran") && ran("second-ran")).toBe(true);
  });

  it("fails the suite on a failed check, still runs the rest, and names the failure", async () => {
    const suite = parseSuite(
      `suite: node
checks:
  - id: lnd-active
    command:
      argv: [sh, -c, "echo inactive; exit 3"]${touches("after", "after-ran")}
`,
      "node.yaml",
    );
    const out = await runSuite(suite, { allowDestructive: false, env: {} });
    expect(out.status).toBe(Status.FAILED);
    expect(out.summary).toBe("1/2 passed, 1 failed; lnd-active: expected exit 0, saw 3: inactive");
    expect(ran("after-ran")).toBe(true);
  });

  it("skips a destructive check with a reason unless destructive checks are allowed", async () => {
    const text = `suite: node
checks:${touches("safe", "safe-ran")}${touches("wipe-chainstate", "wipe-ran", "\n    destructive: true")}
`;
    const suite = parseSuite(text, "node.yaml");
    const out = await runSuite(suite, { allowDestructive: false, env: {} });
    const wipe = out.results.find((r) => r.checkId === "wipe-chainstate");
    expect(wipe?.status).toBe(Status.SKIPPED);
    expect(wipe?.reason).toBe("destructive not allowed (pass --allow-destructive, or allow_destructive: true in the plan)");
    expect(ran("wipe-ran")).toBe(false);
    // A skip is never a pass.
    expect(out.status).toBe(Status.SKIPPED);
    expect(out.summary).toMatch(/^1\/2 passed, 1 skipped; wipe-chainstate: skipped: destructive not allowed/);

    const allowed = await runSuite(suite, { allowDestructive: true, env: {} });
    expect(allowed.status).toBe(Status.PASSED);
    expect(ran("wipe-ran")).toBe(true);
  });

  it("expands ${vars.x} and ${env.X} into the argv before running", async () => {
    const suite = parseSuite(
      `suite: node
vars:
  greeting: hello
  port: 8080
checks:
  - id: echo
    command:
      argv: [echo, "\${vars.greeting} \${env.FG_NODE_NAME}:\${vars.port}"]
      expect:
        stdout: hello node-a:8080
`,
      "node.yaml",
    );
    const out = await runSuite(suite, { allowDestructive: false, env: { FG_NODE_NAME: "node-a" } });
    expect(out.status).toBe(Status.PASSED);
    // The check passed with the value; what is kept of its output has it redacted, as every ${env.X} value is.
    expect(out.results[0]?.stdoutTail).toBe("hello ***:8080\n");
  });

  it("refuses an undefined ${vars.x} when the suite is read, at the reference, before running anything", () => {
    const text = `suite: node
vars:
  unit: lnd.service
preconditions:${touches("pre", "pre-ran")}
checks:
  - id: active
    command:
      argv: [systemctl, is-active, "\${vars.unti}"]
`;
    const err = refusalOf(() => parseSuite(text, "node.yaml"));
    expect(err.code).toBe("bad_input");
    const line = text.split("\n").findIndex((l) => l.includes("vars.unti")) + 1;
    expect(err.message).toBe(`node.yaml:${line}:37 checks[0].command.argv[2]: \${vars.unti} is not defined (vars: unit; did you mean unit?)`);
    expect(ran("pre-ran")).toBe(false);
  });

  it("marks only the checks using an unset ${env.X} not ready, naming the variable, the check and where, and runs the others", async () => {
    const suite = parseSuite(
      `suite: node
checks:${touches("app", "app-ran")}
  - id: rpc-auth
    command:
      argv: [bitcoin-cli, "-rpcpassword=\${env.FG_RPC_PASSWORD}", getblockchaininfo]
`,
      "node.yaml",
    );
    const out = await runSuite(suite, { allowDestructive: false, env: {} });
    expect(ran("app-ran")).toBe(true);
    expect(out.status).toBe(Status.NOT_READY);
    const rpc = out.results.find((r) => r.checkId === "rpc-auth");
    expect(rpc?.status).toBe(Status.NOT_READY);
    expect(rpc?.summary).toBe("env FG_RPC_PASSWORD is not set on this node; used by check rpc-auth at node.yaml:8:41");
  });

  it("names a suite generated from a plan instead of a line of its generated text", async () => {
    const suite = parseSuite(`suite: federation.fetch\nchecks:\n  - id: fetch\n    command: { argv: [echo, "\${env.FG_PEER_URL}"] }\n`, "gate.yaml#federation/fetch");
    const out = await runSuite(suite, { allowDestructive: false, env: {} });
    expect(out.results[0]?.summary).toBe("env FG_PEER_URL is not set on this node; used by check fetch in gate.yaml#federation/fetch");
  });

  it("makes the node not ready when a precondition uses an unset ${env.X}, and runs no gate check", async () => {
    const suite = parseSuite(
      `suite: node
preconditions:
  - id: rpc
    command:
      argv: [bitcoin-cli, "-rpcuser=\${env.FG_RPC_USER}", getblockchaininfo]
checks:${touches("app", "app-ran")}
`,
      "node.yaml",
    );
    const out = await runSuite(suite, { allowDestructive: false, env: {} });
    expect(out.status).toBe(Status.NOT_READY);
    expect(out.summary).toContain("not ready: precondition rpc: env FG_RPC_USER is not set on this node; used by precondition rpc at node.yaml:5:37");
    expect(ran("app-ran")).toBe(false);
  });

  it("refuses a var declared without a value and given none, at the reference, before running anything", async () => {
    const text = `suite: node
vars:
  token: { secret: true }
preconditions:${touches("pre", "pre-ran")}
checks:
  - id: login
    command: { argv: [login, "--token=\${vars.token}"] }
`;
    const err = await runSuite(parseSuite(text, "node.yaml"), { allowDestructive: false, env: {} }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FleetgateError);
    const line = text.split("\n").findIndex((l) => l.includes("vars.token}")) + 1;
    expect((err as FleetgateError).message).toBe(
      `node.yaml:${line}:39 checks[0].command.argv[1]: \${vars.token} is undefined: the suite declares it without a value; give it with --var token=VALUE or --vars-file`,
    );
    expect(ran("pre-ran")).toBe(false);
  });

  it("still refuses an undefined ${vars.X} in a check that also uses an unset ${env.X}", () => {
    const text = `suite: node\nchecks:\n  - id: c\n    command: { argv: [echo, "\${env.FG_NOPE}", "\${vars.nope}"] }\n`;
    expect(refusalOf(() => parseSuite(text, "node.yaml")).message).toBe("node.yaml:4:48 checks[0].command.argv[2]: ${vars.nope} is not defined (the suite has no vars:)");
  });

  it("redacts every ${env.X} value from output tails, summaries and cases before a result is recorded", async () => {
    const suite = parseSuite(
      `suite: node
checks:
  - id: leaks
    command:
      argv: [sh, -c, 'echo "token=\${env.FG_SECRET}"; echo "again \${env.FG_SECRET}" >&2; exit 1']
      expect: { stdout: { contains: nothing-like-it } }
`,
      "node.yaml",
    );
    const seen: string[] = [];
    const out = await runSuite(suite, { allowDestructive: false, env: { FG_SECRET: "s3cr3t-value-42" }, onResult: (r) => void seen.push(JSON.stringify(r, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))) });
    const r = out.results[0];
    expect(r?.status).toBe(Status.FAILED);
    expect(r?.stdoutTail).toBe("token=***\n");
    expect(r?.stderrTail).toBe("again ***\n");
    expect(seen.join("")).not.toContain("s3cr3t-value-42");
    expect(JSON.stringify(out.results, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toContain("s3cr3t");
  });

  it("says a missing program is not installed, without the precondition's hint written for another cause", async () => {
    const suite = parseSuite(
      `suite: node
preconditions:
  - id: synced
    command: { argv: [fleetgate-no-such-tool, getblockchaininfo] }
    hint: Bitcoin is mid-IBD; wait for sync.
checks:${touches("app", "app-ran")}
`,
      "node.yaml",
    );
    const out = await runSuite(suite, { allowDestructive: false, env: {} });
    expect(out.status).toBe(Status.NOT_READY);
    expect(out.summary).toBe("not ready: precondition synced: fleetgate-no-such-tool is not installed on this node");
    expect(out.results[0]?.hint).toBe("");
  });

  it("retries a check through injected sleep and clock options", async () => {
    const suite = parseSuite(
      `suite: node
checks:
  - id: eventually
    retry: { for: 10m, every: 30s }
    command:
      argv: [test, -e, "${join(dir, "flag")}"]
`,
      "node.yaml",
    );
    let t = 0;
    const out = await runSuite(suite, {
      allowDestructive: false,
      env: {},
      check: { now: () => t, sleep: async (ms) => void (t += ms) },
    });
    expect(out.status).toBe(Status.FAILED);
    expect(out.results[0]?.attempts).toBe(21);
    expect(out.summary).toBe("0/1 passed, 1 failed; eventually: expected exit 0, saw 1 (after 21 attempts)");
  });
});
