// The evidence bundle through the real binaries: a signed bundle is written when a run finishes,
// verifies with the public key, exports over gRPC byte for byte, detects a changed byte, is
// pruned by evidence.keep, and a coordinator short of disk refuses to start a run.
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator } from "../../scripts/local-fleet.js";
import { queryDb, Workspace } from "./fixtures.js";

const SUITE = `
suite: evidence
checks:
  - id: echo
    command: { argv: [echo, hello], expect: { stdout: hello } }
`;

const PLAN = `
plan: evidence-plan
evidence: { keep: 1 }
stages:
  - { id: single, kind: single, suite: evidence.suite.yaml, node: { role: primary } }
`;

describe("evidence bundles from a real coordinator", () => {
  const ws = new Workspace();
  let c: Coordinator;
  let token = "";
  const key = () => ws.path("keys", "fleetgate-ed25519");
  const runIds = () => queryDb<{ id: string }>(c.stateDir, "SELECT id FROM runs ORDER BY created_at, rowid").map((r) => r.id);
  const bundle = (id: string) => join(c.stateDir, "runs", id);

  beforeAll(async () => {
    ws.write("evidence.suite.yaml", SUITE);
    ws.write("plan.yaml", PLAN);
    const keygen = await coord({ address: "127.0.0.1:1", stateDir: ws.dir }, ["keygen", "--out", ws.path("keys")]);
    expect(keygen.exitCode, keygen.stderr).toBe(0);
    c = ws.track(await startCoordinator(ws.path("state"), ["--signing-key", `${key()}.key`]));
    token = (await coord(c, ["token", "create"])).stdout.trim();
    ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("node-a"), labels: { role: "primary" } }));
    await waitFor("agent online", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined));
  });

  afterAll(() => ws.cleanup());

  it("writes a signed bundle when a run finishes, which verifies with the public key and exports byte for byte", async () => {
    await coord(c, ["run", "single", "--plan", ws.path("plan.yaml")]);
    const [id] = runIds() as [string];
    await waitFor("the bundle's manifest", () => existsSync(join(bundle(id), "manifest.sig")) || undefined);
    const verify = await coord(c, ["verify", bundle(id), "--key", `${key()}.pub`]);
    expect(verify.exitCode, verify.stdout + verify.stderr).toBe(0);

    const exported = await coord(c, ["export", id, "--to", ws.path("out"), "--key", `${key()}.pub`]);
    expect(exported.exitCode, exported.stdout + exported.stderr).toBe(0);
    const copy = ws.path("out", id);
    expect(readFileSync(join(copy, "manifest.json"), "utf8")).toBe(readFileSync(join(bundle(id), "manifest.json"), "utf8"));

    // One changed byte in a result: verify names the file and exits 1.
    const result = readdirSync(copy, { recursive: true }).map(String).find((p) => p.endsWith("result.json")) as string;
    const text = readFileSync(join(copy, result), "utf8");
    writeFileSync(join(copy, result), text.replace("hello", "hellO"));
    const tampered = await coord(c, ["verify", copy, "--key", `${key()}.pub`]);
    expect(tampered.exitCode).toBe(1);
    expect(tampered.stdout + tampered.stderr).toContain(result);
  }, 60_000);

  it("prunes the oldest bundle beyond evidence.keep once the next run finishes", async () => {
    const [first] = runIds() as [string];
    await coord(c, ["run", "single", "--plan", ws.path("plan.yaml")]);
    const second = runIds()[1] as string;
    await waitFor("the second bundle", () => existsSync(join(bundle(second), "manifest.json")) || undefined);
    await waitFor("the first bundle pruned", () => !existsSync(bundle(first)) || undefined);
  }, 60_000);

  it("refuses to start a run when the evidence disk has less free space than --min-free", async () => {
    const tight = ws.track(await startCoordinator(ws.path("tight"), ["--min-free", "1000TiB"]));
    const tok = (await coord(tight, ["token", "create"])).stdout.trim();
    ws.track(startAgent({ name: "node-t", address: tight.address, token: tok, stateDir: ws.path("node-t"), labels: { role: "primary" } }));
    await waitFor("agent online", async () => ((await onlineNodes(tight)).includes("node-t") ? true : undefined));
    const r = await coord(tight, ["run", "single", "--plan", ws.path("plan.yaml")]);
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/only .* free under .*; need 1000 TiB|free space/);
    expect(queryDb(tight.stateDir, "SELECT id FROM runs")).toEqual([]);
  }, 60_000);
});
