// An agent given several coordinators (issue 19, the agent's side): a real `coord serve`, a real
// `fleetgate-agent run --coordinator A,B`, and in front of it a gRPC server on loopback playing
// the standby exactly as the contract says — every Connect stream ended at once with UNAVAILABLE,
// a sentence, and the active coordinator's host:port in the `fleetgate-active-coordinator`
// trailer. The agent goes to the active one, registers, and a run's results arrive; a dead first
// address costs no backoff; a standby naming an address the agent was not given is not followed.
import { readFileSync } from "node:fs";
import { createServer, type Server as NetServer, type Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { coord, onlineNodes, startAgent, startCoordinator, waitFor, type Coordinator, type Proc } from "../../scripts/local-fleet.js";
import { tlsDir } from "../../coordinator/tls/paths.js";
import { serverCredentials } from "../../coordinator/tls/server-credentials.js";
import { create } from "@bufbuild/protobuf";
import { AgentService, ConnectResponseSchema } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { serviceDefinition } from "../../shared/grpc/adapter.js";
import { ACTIVE_COORDINATOR_KEY } from "../../shared/grpc/standby.js";
import { queryDb, Workspace } from "./fixtures.js";

const SUITE = "suite: s\nchecks:\n  - id: echo\n    command: { argv: [echo, hi], expect: { stdout: hi } }\n";

interface LogLine {
  level: number;
  msg: string;
  coordinator?: string;
  next?: string;
  retryInMs?: number;
}

/** The agent's pino lines so far. */
function logLines(agent: Proc): LogLine[] {
  return agent
    .stderr()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as LogLine);
}

interface FakeStandby {
  address: string;
  /** Connect streams it refused. */
  streams(): number;
  close(): Promise<void>;
}

/**
 * A fake coordinator on 127.0.0.1 serving `connect` for AgentService, with the real coordinator's
 * own certificate (coordinators share one CA); counts the Connect streams it got.
 */
async function startFake(stateDir: string, connect: (call: grpc.ServerDuplexStream<unknown, unknown>) => void): Promise<FakeStandby> {
  const read = (f: string) => readFileSync(`${tlsDir(stateDir)}/${f}`, "utf8");
  const server = new grpc.Server();
  let streams = 0;
  server.addService(serviceDefinition(AgentService), {
    connect(call: grpc.ServerDuplexStream<unknown, unknown>) {
      streams++;
      call.on("error", () => undefined);
      connect(call);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", serverCredentials({ certPem: read("server.crt"), keyPem: read("server.key") }, read("ca.crt")), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return { address: `127.0.0.1:${port}`, streams: () => streams, close: () => new Promise<void>((r) => server.tryShutdown(() => r())) };
}

/** grpc-js ends a server stream with an emitted error's code, details and metadata (as trailers). */
function endStream(call: grpc.ServerDuplexStream<unknown, unknown>, details: string, metadata = new grpc.Metadata()): void {
  call.emit("error", Object.assign(new Error(details), { code: grpc.status.UNAVAILABLE, details, metadata }));
}

/** A standby: every Connect ended at once as the contract says; `active` undefined: no one is active. */
function startStandby(stateDir: string, active: string | undefined | (() => string)): Promise<FakeStandby> {
  return startFake(stateDir, (call) => {
    const metadata = new grpc.Metadata();
    const named = typeof active === "function" ? active() : active;
    if (named) metadata.set(ACTIVE_COORDINATOR_KEY, named);
    endStream(call, named ? `coordinator c2 is a standby; the active coordinator is c1, try ${named}` : "coordinator c2 is a standby; no coordinator is active yet", metadata);
  });
}

/**
 * A coordinator that takes an agent and drops it at once, as one whose store is down or that is
 * losing the lead would: it answers the agent's first message with `registered`, then ends the
 * stream UNAVAILABLE.
 */
function startDropper(stateDir: string, node: string): Promise<FakeStandby> {
  return startFake(stateDir, (call) => {
    call.once("data", () => {
      call.write(create(ConnectResponseSchema, { msg: { case: "registered", value: { nodeName: node, heartbeatIntervalMs: 5_000 } } }));
      setImmediate(() => endStream(call, "store down"));
    });
  });
}

/** A TCP listener that only counts who connects: the address a standby names and the agent must not dial. */
async function startRecorder(): Promise<{ address: string; connections(): number; close(): Promise<void> }> {
  let connections = 0;
  const sockets: Socket[] = [];
  const server: NetServer = createServer((s) => {
    connections++;
    sockets.push(s);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    connections: () => connections,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A loopback port nothing listens on: bound, then let go. */
async function deadAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return `127.0.0.1:${port}`;
}

describe("an agent given an active coordinator and a standby", () => {
  const ws = new Workspace();
  let c: Coordinator;
  let token = "";
  const closers: (() => Promise<void>)[] = [];
  let agent: Proc | undefined;

  beforeAll(async () => {
    ws.write("s.suite.yaml", SUITE);
    c = ws.track(await startCoordinator(ws.path("state")));
    token = (await coord(c, ["token", "create"])).stdout.split("\n")[0]!.trim();
  });
  afterEach(async () => {
    await agent?.stop("SIGKILL");
    agent = undefined;
    await Promise.all(closers.splice(0).map((close) => close()));
  });
  afterAll(async () => ws.cleanup());

  /** Starts node `name` with `--coordinator list` and waits until the coordinator has it online. */
  async function agentOn(name: string, list: string[]): Promise<Proc> {
    agent = ws.track(startAgent({ name, address: list.join(","), token, stateDir: ws.path(name), caFile: c.caFile, labels: { role: "fleet", case: name } }));
    await waitFor(`${name} online at the active coordinator`, async () => ((await onlineNodes(c)).includes(name) ? true : undefined), 30_000);
    return agent;
  }

  /** Runs one echo check on `name` alone and returns its stored task and result. */
  async function runOn(name: string): Promise<{ tasks: unknown[]; results: unknown[] }> {
    const plan = ws.write(`${name}.plan.yaml`, `plan: ${name}\nstages:\n  - id: fleet\n    kind: fleet\n    suite: s.suite.yaml\n    nodes: { case: ${name} }\n`);
    const run = await coord(c, ["run", "fleet", "--plan", plan]);
    // Agents on the coordinator's own host make the run incomplete (attestation), never failed.
    expect(run.exitCode, run.stderr).toBe(2);
    return {
      tasks: queryDb(c.stateDir, "SELECT status FROM tasks WHERE node_name = ?", name),
      results: queryDb(c.stateDir, "SELECT r.check_id, r.status FROM check_results r JOIN tasks t ON t.id = r.task_id WHERE t.node_name = ?", name),
    };
  }

  it("moves from the standby to the active coordinator it names, at once, registers there and delivers a run's results", async () => {
    const standby = await startStandby(c.stateDir, c.address);
    closers.push(standby.close);
    const a = await agentOn("node-s", [standby.address, c.address]);

    const lines = logLines(a);
    const moved = lines.filter((l) => l.msg === `coordinator ${standby.address} is a standby; moving to the active one at ${c.address}`);
    expect(moved).toHaveLength(1);
    expect(moved[0]!.level).toBe(30);
    expect(lines.find((l) => l.msg === "registered with coordinator")?.coordinator).toBe(c.address);
    expect(lines.some((l) => l.msg.startsWith("not connected"))).toBe(false);
    expect(standby.streams()).toBe(1);
    expect(await runOn("node-s")).toEqual({ tasks: [{ status: "passed" }], results: [{ check_id: "echo", status: "passed" }] });
    // It stayed with the active one: the standby heard from it once.
    expect(standby.streams()).toBe(1);
  }, 60_000);

  it("tries the next address at once when the first is dead, then follows the standby to the active one", async () => {
    const dead = await deadAddress();
    const standby = await startStandby(c.stateDir, c.address);
    closers.push(standby.close);
    const a = await agentOn("node-d", [dead, standby.address, c.address]);

    const lines = logLines(a);
    const refused = lines.find((l) => l.msg === "not connected to coordinator; retrying");
    // No backoff before the second address: only a whole failed round costs one.
    expect(refused).toMatchObject({ coordinator: dead, next: standby.address, retryInMs: 0 });
    expect(lines.filter((l) => l.msg === `coordinator ${standby.address} is a standby; moving to the active one at ${c.address}`)).toHaveLength(1);
    expect(lines.find((l) => l.msg === "registered with coordinator")?.coordinator).toBe(c.address);
    expect(await runOn("node-d")).toEqual({ tasks: [{ status: "passed" }], results: [{ check_id: "echo", status: "passed" }] });
  }, 60_000);

  it("does not go to an active coordinator it was not given: it warns and tries the next one it has", async () => {
    const elsewhere = await startRecorder();
    closers.push(elsewhere.close);
    const standby = await startStandby(c.stateDir, elsewhere.address);
    closers.push(standby.close);
    const a = await agentOn("node-x", [standby.address, c.address]);

    const warned = logLines(a).filter((l) => l.msg.startsWith(`coordinator ${standby.address} is a standby; it names ${elsewhere.address} as the active one, which is not among this agent's coordinators`));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ level: 40, next: c.address, retryInMs: 0 });
    expect(await runOn("node-x")).toEqual({ tasks: [{ status: "passed" }], results: [{ check_id: "echo", status: "passed" }] });
    expect(elsewhere.connections()).toBe(0);
  }, 60_000);

  it("does not spin between two standbys naming each other: every hop after the first waits the backoff", async () => {
    let a: FakeStandby | undefined;
    const b = await startStandby(c.stateDir, () => a!.address);
    a = await startStandby(c.stateDir, b.address);
    closers.push(a.close, b.close);
    agent = ws.track(startAgent({ name: "node-l", address: `${a.address},${b.address}`, token, stateDir: ws.path("node-l"), caFile: c.caFile }));
    await waitFor("a few hops", () => (a!.streams() + b.streams() >= 4 ? true : undefined), 20_000);
    await new Promise((r) => setTimeout(r, 2_000));
    const hops = logLines(agent).filter((l) => l.msg.includes("is a standby"));
    expect(hops[0]).toMatchObject({ level: 30, coordinator: a.address, next: b.address });
    expect(hops.length).toBeGreaterThanOrEqual(3);
    for (const hop of hops.slice(1)) {
      expect(hop.msg).toContain("is a standby too");
      expect(hop.retryInMs).toBeGreaterThan(0);
    }
    // Backoff 0.25–0.5 s, then doubling: a handful of streams in these seconds, not hundreds.
    expect(a.streams() + b.streams()).toBeLessThan(15);
    expect(await onlineNodes(c)).not.toContain("node-l");
  }, 60_000);

  it("does not loop between a coordinator that drops it right after registering and a standby naming that one", async () => {
    let dropper: FakeStandby | undefined;
    const standby = await startStandby(c.stateDir, () => dropper!.address);
    dropper = await startDropper(c.stateDir, "node-d");
    closers.push(dropper.close, standby.close);
    agent = ws.track(startAgent({ name: "node-d", address: `${dropper.address},${standby.address}`, token, stateDir: ws.path("node-d"), caFile: c.caFile }));
    await waitFor("the first drop", () => (dropper!.streams() >= 1 ? true : undefined), 20_000);
    await new Promise((r) => setTimeout(r, 4_000));
    // A registration dropped at once is not a good connection: every round (the dropper, the
    // standby, the dropper again) costs a backoff, doubling, so a few dozen streams in these
    // seconds at most, not the thousands of a loop with none.
    const waits = logLines(agent).map((l) => l.retryInMs ?? 0).filter((ms) => ms > 0);
    expect(waits.length).toBeGreaterThanOrEqual(3);
    expect(waits[waits.length - 1]!).toBeGreaterThan(waits[0]!);
    expect(dropper.streams() + standby.streams()).toBeLessThan(40);
  }, 60_000);
});
