import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { bitcoinCheck, bitcoinCliArgv } from "../../agent/checks/bitcoin.js";
import type { ProcessOutcome } from "../../agent/process.js";
import { BitcoinSpecSchema } from "../../shared/model/kinds/bitcoin.js";
import { onPathEachTest } from "../fakes/on-path.js";
import { FIXTURES, type FakeTools, type ReplayRule } from "../fakes/scenario.js";

const fixture = (rel: string) => readFileSync(join(FIXTURES, "bitcoin-cli", rel), "utf8");
const outcome = (over: Partial<ProcessOutcome>) => ({ exitCode: 0, signal: null, stdout: "", stderr: "", timedOut: false, durationMs: 5, timeoutMs: 10_000, ...over });
/** A getblockchaininfo answer, printed on stdout with exit 0. */
const answered = (name: string) => outcome({ stdout: fixture(`getblockchaininfo-${name}.constructed.json`) });
/** A failed run: NAME.stderr and NAME.rc (stdout is empty in every failure fixture). */
const failedRun = (name: string) => outcome({ stderr: fixture(`${name}.stderr`), exitCode: Number(fixture(`${name}.rc`)) });

/** The archy-node precondition (test/examples/archy-node.suite.yaml). */
const SYNCED_ARCHIVAL = BitcoinSpecSchema.parse({
  rpc: "getblockchaininfo",
  expect: { initialblockdownload: false, pruned: false, verificationprogress: { gte: 0.9999 } },
});
const evaluate = (seen: ReturnType<typeof outcome>, spec = SYNCED_ARCHIVAL) => bitcoinCheck.evaluate(spec, seen);
const withExpect = (expect: Record<string, unknown>) => BitcoinSpecSchema.parse({ rpc: "getblockchaininfo", expect });

describe("bitcoin spec", () => {
  it("accepts the archy-node precondition block as written", () => {
    expect(SYNCED_ARCHIVAL.expect?.verificationprogress).toEqual({ gte: 0.9999 });
  });

  it("refuses unknown fields, an RPC name bitcoin-cli would read as an option, and cli_args that are not options", () => {
    expect(BitcoinSpecSchema.safeParse({ rpc: "getblockchaininfo", wallet: "x" }).success).toBe(false);
    expect(BitcoinSpecSchema.safeParse({ rpc: "-getinfo" }).success).toBe(false);
    expect(BitcoinSpecSchema.safeParse({ rpc: "getblockchaininfo", cli_args: ["datadir=/data"] }).success).toBe(false);
    expect(BitcoinSpecSchema.safeParse({ rpc: "getblockchaininfo", cli_args: ["-datadir=/data", "-rpcwallet=hot"] }).success).toBe(true);
  });

  it("puts bitcoin-cli options before the method and RPC arguments after it", () => {
    const spec = BitcoinSpecSchema.parse({ rpc: "getblockhash", args: ["0"], cli_args: ["-datadir=/data/bitcoin"] });
    expect(bitcoinCliArgv(spec)).toEqual(["bitcoin-cli", "-datadir=/data/bitcoin", "getblockhash", "0"]);
  });
});

describe("bitcoinCheck.evaluate on getblockchaininfo fixtures", () => {
  it("passes a synced archival node and shows the values it checked", () => {
    expect(evaluate(answered("synced-archival"))).toEqual({
      passed: true,
      summary: "getblockchaininfo: initialblockdownload false, pruned false, verificationprogress 0.9999987316480613",
    });
  });

  it("fails a node mid-IBD, naming initialblockdownload and the verification progress", () => {
    expect(evaluate(answered("ibd"))).toEqual({
      passed: false,
      summary: "expected initialblockdownload false, saw true; expected verificationprogress >= 0.9999, saw 0.2871460356017219",
    });
  });

  it("fails a pruned node, naming pruned", () => {
    expect(evaluate(answered("pruned"))).toEqual({ passed: false, summary: "expected pruned false, saw true" });
  });

  it("follows dotted paths into the result and says when a field is absent", () => {
    const seen = answered("pruned");
    expect(evaluate(seen, withExpect({ prune_target_size: 576716800, chain: "main" })).passed).toBe(true);
    expect(evaluate(answered("synced-archival"), withExpect({ "softforks.taproot.active": true })).summary).toBe(
      "expected softforks.taproot.active true, saw nothing",
    );
  });

  it("holds a warnings matcher on both v26/v27 (a string) and v28 (a list)", () => {
    const v27 = answered("synced-archival-v26-v27");
    const v28 = answered("synced-archival");
    expect(JSON.parse(v27.stdout).warnings).toBe("");
    expect(JSON.parse(v28.stdout).warnings).toEqual([]);
    for (const none of ["", [], { matches: "^$" }]) {
      expect(evaluate(v27, withExpect({ warnings: none })).passed).toBe(true);
      expect(evaluate(v28, withExpect({ warnings: none })).passed).toBe(true);
    }
    const mustWarn = withExpect({ warnings: { contains: "pre-release" } });
    expect(evaluate(v27, mustWarn).summary).toBe('expected warnings containing "pre-release", saw ""');
    expect(evaluate(v28, mustWarn).summary).toBe('expected warnings containing "pre-release", saw []');
  });

  it("reports RPC warm-up as bitcoind warming up, not as unreadable JSON", () => {
    expect(evaluate(failedRun("warmup"))).toEqual({ passed: false, summary: "bitcoind is warming up (RPC -28: Loading block index…)" });
  });

  it("reports a refused connection with bitcoin-cli's first line, in the recent and the v22–v24 wording", () => {
    const summary = "cannot connect to bitcoind: error: timeout on transient error: Could not connect to the server 127.0.0.1:8332";
    expect(evaluate(failedRun("connect-refused"))).toEqual({ passed: false, summary });
    expect(evaluate(failedRun("connect-refused-v22-v24"))).toEqual({ passed: false, summary });
  });

  it("reports bitcoin-cli not being installed as a start failure", () => {
    expect(evaluate(outcome({ exitCode: null, spawnError: "spawn bitcoin-cli ENOENT" })).summary).toBe("bitcoin-cli is not installed on this node");
  });
});

describe("bitcoinCheck observe + evaluate through a fake bitcoin-cli replaying the fixtures", () => {
  const installFakes = onPathEachTest();
  let fakes: FakeTools;
  const ctx = { timeoutMs: 10_000, maxOutputBytes: 1024 * 1024 };
  const run = async (spec = SYNCED_ARCHIVAL) => bitcoinCheck.evaluate(spec, await bitcoinCheck.observe(spec, ctx));
  const replay = (rule: Omit<ReplayRule, "tool">) => fakes.setRules([{ tool: "bitcoin-cli", ...rule }]);

  beforeEach(() => {
    fakes = installFakes(["bitcoin-cli"], []);
  });

  it("runs bitcoin-cli with the options, then the method, then its arguments, and passes a synced archival node", async () => {
    replay({ args: "getblockchaininfo$", stdout: "bitcoin-cli/getblockchaininfo-synced-archival.constructed.json" });
    const spec = BitcoinSpecSchema.parse({ ...SYNCED_ARCHIVAL, cli_args: ["-datadir=/data/bitcoin", "-rpcwait"] });
    expect(await run(spec)).toMatchObject({ passed: true });
    expect(fakes.calls()).toEqual([{ tool: "bitcoin-cli", args: ["-datadir=/data/bitcoin", "-rpcwait", "getblockchaininfo"] }]);
  });

  it("fails mid-IBD and pruned nodes by name", async () => {
    replay({ stdout: "bitcoin-cli/getblockchaininfo-ibd.constructed.json" });
    expect((await run()).summary).toMatch(/^expected initialblockdownload false, saw true/);
    replay({ stdout: "bitcoin-cli/getblockchaininfo-pruned.constructed.json" });
    expect(await run()).toEqual({ passed: false, summary: "expected pruned false, saw true" });
  });

  it("reports warm-up and refused connections from the replayed stderr and exit code", async () => {
    replay({ fixture: "bitcoin-cli/warmup" });
    expect((await run()).summary).toBe("bitcoind is warming up (RPC -28: Loading block index…)");
    replay({ fixture: "bitcoin-cli/connect-refused" });
    expect((await run()).summary).toMatch(/^cannot connect to bitcoind: /);
    replay({ fixture: "bitcoin-cli/connect-refused-v22-v24" });
    expect((await run()).summary).toMatch(/^cannot connect to bitcoind: /);
  });
});
