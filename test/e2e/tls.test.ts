// TLS on every connection and mTLS for agents, against a real coordinator and real agents: the
// coordinator serves TLS by default; a node reconnects with the client certificate issued for the
// key it generated; a certificate from a foreign CA, an expired one, or one for a forgotten node
// is refused while the real node stays connected; plaintext goes nowhere off loopback without
// --insecure, and a coordinator serving plaintext says INSECURE on every listing, run and report.
import { X509Certificate, createPublicKey } from "node:crypto";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AGENT_BIN, COORD_BIN, coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator, type Proc } from "../../scripts/local-fleet.js";
import { issueNodeCertificate, newCa } from "../../coordinator/tls/issue.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";

const SUITE = "suite: s\nchecks:\n  - id: echo\n    command: { argv: [echo, hi] }\n";
const DAY = 86_400_000;

function machineId(): string {
  return readFileSync("/etc/machine-id", "utf8").trim();
}

describe("TLS and mTLS between agents, the CLI and the coordinator", () => {
  const ws = new Workspace();
  let c: Coordinator;
  let real: Proc;
  let token = "";

  beforeAll(async () => {
    ws.write("s.suite.yaml", SUITE);
    ws.write("plan.yaml", fleetPlan("p", "s.suite.yaml"));
    c = ws.track(await startCoordinator(ws.path("state")));
    token = (await coord(c, ["token", "create"])).stdout.split("\n")[0]!.trim();
    real = ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("real"), labels: { role: "fleet" } }));
    await waitFor("node-a online", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined));
  });
  afterAll(async () => ws.cleanup());

  /** A copy of the real node's state dir with its client certificate swapped for `certPem`. */
  function stateWithCertificate(name: string, certPem: string): string {
    const dir = ws.path(name);
    cpSync(ws.path("real"), dir, { recursive: true });
    writeFileSync(join(dir, "node.crt"), certPem);
    return dir;
  }

  function realPublicKey(): string {
    return createPublicKey(readFileSync(ws.path("real", "node.key"), "utf8")).export({ type: "spki", format: "pem" }).toString();
  }

  it("issues the node a client certificate for its own key, bound to its name and machine-id, and pins the CA", () => {
    const cert = new X509Certificate(readFileSync(ws.path("real", "node.crt")));
    expect(cert.subjectAltName).toBe(`URI:urn:fleetgate:node:node-a, URI:urn:fleetgate:machine-id:${machineId()}`);
    expect(cert.checkIssued(new X509Certificate(readFileSync(c.caFile!)))).toBe(true);
    expect(cert.publicKey.export({ type: "spki", format: "pem" })).toBe(realPublicKey());
    expect(readFileSync(ws.path("real", "ca.crt"), "utf8")).toBe(readFileSync(c.caFile!, "utf8"));
    expect(queryDb(c.stateDir, "SELECT transport FROM nodes WHERE name = 'node-a'")).toEqual([{ transport: "tls" }]);
  });

  it("reconnects the restarted node over mTLS, and runs the gate over TLS", async () => {
    await real.stop("SIGTERM");
    await waitFor("node-a offline", async () => ((await onlineNodes(c)).includes("node-a") ? undefined : true), 30_000);
    // No --ca now: the agent trusts the CA it pinned at enrollment.
    real = ws.track(startAgent({ name: "node-a", address: c.address, token: "fge_spent", stateDir: ws.path("real"), labels: { role: "fleet" }, caFile: "" }));
    await waitFor("node-a back", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined), 30_000);
    // Exit 2, not 0: every local agent shares the coordinator's host, which a run never vouches for.
    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    expect(run.exitCode, run.stderr).toBe(2);
    expect(queryDb(c.stateDir, "SELECT status FROM tasks")).toEqual([{ status: "passed" }]);
    expect(run.stdout).not.toContain("INSECURE");
  }, 60_000);

  it("refuses a client certificate from a foreign CA, and the real node stays connected", async () => {
    const foreign = newCa("someone else's CA", Date.now(), DAY);
    const forged = issueNodeCertificate(foreign, { name: "node-a", machineId: machineId(), publicKeyPem: realPublicKey() }, Date.now(), DAY);
    const dir = stateWithCertificate("foreign", forged.certPem);
    const impostor = ws.track(startAgent({ name: "node-a", address: c.address, token: "fge_spent", stateDir: dir, labels: { role: "fleet" }, caFile: "" }));
    await waitFor("the refusal", () => (c.stderr().includes("node node-a presented no valid client certificate") ? true : undefined), 20_000);
    await impostor.stop("SIGKILL");
    expect(await onlineNodes(c)).toEqual(["node-a"]);
    expect(real.stderr()).not.toContain("node token refused");
  }, 30_000);

  it("refuses an expired certificate from the right CA", async () => {
    const ca = { certPem: readFileSync(c.caFile!, "utf8"), keyPem: readFileSync(join(c.stateDir, "tls", "ca.key"), "utf8") };
    const expired = issueNodeCertificate(ca, { name: "node-a", machineId: machineId(), publicKeyPem: realPublicKey() }, Date.now() - 3 * DAY, DAY);
    const before = (c.stderr().match(/presented no valid client certificate/g) ?? []).length;
    const dir = stateWithCertificate("expired", expired.certPem);
    const stale = ws.track(startAgent({ name: "node-a", address: c.address, token: "fge_spent", stateDir: dir, labels: { role: "fleet" }, caFile: "" }));
    await waitFor("the refusal", () => ((c.stderr().match(/presented no valid client certificate/g) ?? []).length > before ? true : undefined), 20_000);
    await stale.stop("SIGKILL");
    expect(await onlineNodes(c)).toEqual(["node-a"]);
  }, 30_000);

  it("refuses the certificate of a node that was forgotten (revoked)", async () => {
    const copy = ws.path("revoked");
    cpSync(ws.path("real"), copy, { recursive: true });
    await real.stop("SIGKILL");
    await waitFor("node-a offline", async () => ((await onlineNodes(c)).includes("node-a") ? undefined : true), 30_000);
    expect((await coord(c, ["nodes", "forget", "node-a"])).exitCode).toBe(0);
    const revoked = ws.track(startAgent({ name: "node-a", address: c.address, token: "fge_spent", stateDir: copy, labels: { role: "fleet" }, caFile: "" }));
    await waitFor("the refusal", () => (c.stderr().includes("node token not valid for node node-a") ? true : undefined), 20_000);
    await revoked.stop("SIGKILL");
    expect(await onlineNodes(c)).toEqual([]);
  }, 60_000);

  it("refuses plaintext off loopback without --insecure, in the agent and in the CLI, before sending anything", async () => {
    const agent = await execa(process.execPath, [AGENT_BIN, "run", "--coordinator", "192.0.2.1:7400", "--token", "fge_x", "--name", "x", "--state-dir", ws.path("plain")], { reject: false });
    expect(agent.exitCode).toBe(3);
    expect(agent.stderr).toContain("refusing plaintext to 192.0.2.1:7400");
    const cli = await execa(process.execPath, [COORD_BIN, "nodes", "--coordinator", "192.0.2.1:7400", "--token", "fga_x"], { reject: false, env: { FLEETGATE_STATE_DIR: "" } });
    expect(cli.exitCode).toBe(3);
    expect(cli.stderr).toContain("refusing plaintext to 192.0.2.1:7400");
  });

  it("refuses a plaintext client at the TLS port, and the CLI says it spoke plaintext for want of a CA", async () => {
    const cli = await coord(c, ["nodes", "--insecure"]);
    expect(cli.exitCode).toBe(4);
    const token = readFileSync(join(c.stateDir, "admin.token"), "utf8").trim();
    const noCa = await execa(process.execPath, [COORD_BIN, "nodes", "--coordinator", c.address, "--token", token], { reject: false, env: { FLEETGATE_STATE_DIR: "" } });
    expect(noCa.exitCode).toBe(4);
    expect(noCa.stderr).toContain("this CLI spoke plaintext (no CA): a coordinator serving TLS needs --ca FILE");
  });
});

describe("a coordinator serving plaintext (--insecure)", () => {
  const ws = new Workspace();
  afterAll(async () => ws.cleanup());

  it("says INSECURE in coord nodes, at the end of every run and in its reports", async () => {
    ws.write("s.suite.yaml", SUITE);
    ws.write("plan.yaml", fleetPlan("p", "s.suite.yaml"));
    const c = ws.track(await startCoordinator(ws.path("state"), ["--insecure"]));
    expect(c.stderr()).toContain("INSECURE: plaintext gRPC (--insecure)");
    const token = (await coord(c, ["token", "create"])).stdout.split("\n")[0]!.trim();
    ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("a"), labels: { role: "fleet" } }));
    await waitFor("node-a online", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined));
    expect((await coord(c, ["nodes"])).stdout).toMatch(/^INSECURE: plaintext gRPC/);
    const run = await coord(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    expect(queryDb(c.stateDir, "SELECT status FROM tasks")).toEqual([{ status: "passed" }]);
    expect(run.stdout).toContain("INSECURE: this run's tasks and results crossed plaintext gRPC");
    const id = /run (\S+) \(p\)/.exec(run.stdout)![1]!;
    expect((await coord(c, ["report", id, "--format", "md"])).stdout).toContain("**INSECURE: this run's tasks and results crossed plaintext gRPC");
    expect(JSON.parse((await coord(c, ["report", id, "--format", "json"])).stdout).run.transport).toBe("plaintext");
  }, 60_000);
});

describe("node certificate renewal", () => {
  const ws = new Workspace();
  afterAll(async () => ws.cleanup());

  it("sends a connected node a new certificate once its current one is past half its life", async () => {
    // Long enough that a loaded machine never lets it expire before the renewal (then the node
    // would be refused and have to enroll again); renewal is due half way, ~8 s after the hello.
    const c = ws.track(await startCoordinator(ws.path("state"), ["--node-cert-ttl", "16s", "--heartbeat", "500ms"]));
    const token = (await coord(c, ["token", "create"])).stdout.split("\n")[0]!.trim();
    const agent = ws.track(startAgent({ name: "node-a", address: c.address, token, stateDir: ws.path("a") }));
    await waitFor("node-a online", async () => ((await onlineNodes(c)).includes("node-a") ? true : undefined));
    await waitFor("a renewed certificate", () => (agent.stderr().includes("client certificate renewed") ? true : undefined), 30_000);
    // The coordinator issued at least two certificates (enrollment, renewal); the node keeps a
    // renewed one. The file first: whatever it holds was logged as issued before it was sent.
    const kept = Date.parse(new X509Certificate(readFileSync(ws.path("a", "node.crt"))).validTo);
    const issued = c
      .stderr()
      .split("\n")
      .filter((l) => l.includes('"msg":"node certificate issued"'))
      .map((l) => Date.parse((JSON.parse(l) as { notAfter: string }).notAfter));
    expect(issued.length).toBeGreaterThanOrEqual(2);
    expect(issued.slice(1).map((ms) => Math.floor(ms / 1000) * 1000)).toContain(kept);
    expect(await onlineNodes(c)).toEqual(["node-a"]);
  }, 60_000);
});
