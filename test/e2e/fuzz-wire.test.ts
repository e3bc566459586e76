// Fuzz (issue 14): random bytes and random well-typed messages to every RPC of a real
// coordinator on loopback (TLS, the admin token on every control call). Each call ends with a
// clean status: INVALID_ARGUMENT for bytes that are not the method's message (grpc-js alone would
// say INTERNAL, as if the coordinator broke), a refusal or an answer for the rest, never
// INTERNAL or UNKNOWN; nothing is stored (runs, tasks, nodes, events unchanged); and the
// coordinator still answers `coord nodes` and a health check afterwards. Fixed seed, a modest
// number of runs; each call has a deadline, so a hang fails the test instead of stalling it.
import { fromBinary, toBinary, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, startCoordinator, type Coordinator } from "../../scripts/local-fleet.js";
import { AgentService, ConnectRequestSchema, ConnectResponseSchema, type ConnectResponse } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { ControlService } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Health } from "../../shared/gen/grpc/health/v1/health_pb.js";
import { helloRequest, hostileClient, servesTls } from "../support/hostile-client.js";
import { randomMessageBytes } from "../support/random-messages.js";
import { queryDb, Workspace } from "./fixtures.js";

const SEED = 1414;
const RUNS_PER_METHOD = 12;
const CALL_DEADLINE_MS = 10_000;

/** Statuses that say the coordinator broke or did not answer: none may end a fuzzed call. */
const BROKEN = new Set([grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.DEADLINE_EXCEEDED, grpc.status.UNAVAILABLE, grpc.status.DATA_LOSS]);

interface Ended {
  code: grpc.status;
  details: string;
}

const identity = (b: Buffer) => b;

function path(service: DescService, m: DescMethod): string {
  return `/${service.typeName}/${m.name}`;
}

/** Sends `bytes` as the one request message of `m` and resolves with the status the call ends with. */
function send(client: grpc.Client, service: DescService, m: DescMethod, bytes: Buffer, metadata: grpc.Metadata): Promise<Ended> {
  const options = { deadline: Date.now() + CALL_DEADLINE_MS };
  return new Promise((resolve) => {
    const done = (s: grpc.StatusObject) => resolve({ code: s.code, details: s.details });
    if (m.methodKind === "unary") {
      const call = client.makeUnaryRequest(path(service, m), identity, identity, bytes, metadata, options, () => undefined);
      call.on("status", done);
    } else if (m.methodKind === "server_streaming") {
      const call = client.makeServerStreamRequest(path(service, m), identity, identity, bytes, metadata, options);
      call.on("data", () => undefined);
      call.on("error", () => undefined);
      call.on("status", done);
    } else {
      // Connect: one message, then the client's end of the stream; the coordinator must end it.
      const call = client.makeBidiStreamRequest(path(service, m), identity, identity, metadata, options);
      call.on("data", () => undefined);
      call.on("error", () => undefined);
      call.on("status", done);
      call.write(bytes);
      call.end();
    }
  });
}

function decodes(desc: DescMessage, bytes: Uint8Array): boolean {
  try {
    fromBinary(desc, bytes);
    return true;
  } catch {
    return false;
  }
}

/** Bytes that are almost never a message: random, plus a few that break protobuf in known ways. */
const garbage = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 512 }),
  fc.constantFrom(
    [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], // field 1, length-delimited, length 2^32-1
    [0x08], // field 1 varint with no varint
    [0x0a, 0x05, 0x61], // a string cut short
    [0x0f], // wire type 7
    [0x00], // field number 0
    [0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], // a varint over 10 bytes
    [0x0b, 0x0c], // start group, end group
  ),
).map((a) => Buffer.from(a));

const TARGETS: [DescService, DescMethod][] = [
  ...ControlService.methods.map((m): [DescService, DescMethod] => [ControlService, m]),
  [AgentService, AgentService.method.connect],
  [Health, Health.method.check],
];

describe("random bytes and random messages to every RPC of a real coordinator", () => {
  const ws = new Workspace();
  let c: Coordinator;
  let client: grpc.Client;
  let admin: grpc.Metadata;

  /** Rows a refused or nonsense call must never add or change. */
  const stored = () => ({
    runs: queryDb(c.stateDir, "SELECT * FROM runs ORDER BY id"),
    tasks: queryDb(c.stateDir, "SELECT * FROM tasks ORDER BY id"),
    nodes: queryDb(c.stateDir, "SELECT * FROM nodes ORDER BY name"),
    events: queryDb(c.stateDir, "SELECT node_name, seq FROM agent_events ORDER BY node_name, seq"),
  });

  const stillServes = async () => {
    const nodes = await coord(c, ["nodes", "--json"]);
    expect(nodes.exitCode, nodes.stderr).toBe(0);
    expect(JSON.parse(nodes.stdout)).toEqual([]);
    const health = await send(client, Health, Health.method.check, Buffer.alloc(0), new grpc.Metadata());
    expect(health.code).toBe(grpc.status.OK);
  };

  beforeAll(async () => {
    c = ws.track(await startCoordinator(ws.path("state")));
    expect(c.caFile, "the coordinator serves TLS by default").toBeDefined();
    client = hostileClient(c);
    admin = new grpc.Metadata();
    admin.set("authorization", `Bearer ${readFileSync(join(c.stateDir, "admin.token"), "utf8").trim()}`);
  });

  afterAll(async () => {
    client?.close();
    await ws.cleanup();
  });

  it.each(TARGETS.map(([s, m]) => [path(s, m), s, m] as const))("%s: bytes that are not its message are INVALID_ARGUMENT, and nothing is stored", async (_, service, method) => {
    const before = stored();
    await fc.assert(
      fc.asyncProperty(garbage, async (bytes) => {
        const ended = await send(client, service, method, bytes, admin);
        if (decodes(method.input, bytes)) expect(BROKEN.has(ended.code), `${grpc.status[ended.code]}: ${ended.details}`).toBe(false);
        else {
          expect(ended.code, ended.details).toBe(grpc.status.INVALID_ARGUMENT);
          expect(ended.details).toMatch(new RegExp(`^${path(service, method)}: the request is not a ${method.input.typeName.replace(/\./g, "\\.")} message \\(.+\\); nothing was done$`));
        }
      }),
      { seed: SEED, numRuns: RUNS_PER_METHOD },
    );
    expect(stored()).toEqual(before);
  });

  it.each(TARGETS.map(([s, m]) => [path(s, m), s, m] as const))("%s: well-typed messages with nonsense values end cleanly, storing no run, task or node", async (_, service, method) => {
    const before = stored();
    await fc.assert(
      fc.asyncProperty(randomMessageBytes(method.input), async (bytes) => {
        const ended = await send(client, service, method, bytes, admin);
        expect(BROKEN.has(ended.code), `${grpc.status[ended.code]}: ${ended.details}`).toBe(false);
      }),
      { seed: SEED, numRuns: RUNS_PER_METHOD },
    );
    expect(stored()).toEqual(before);
  });

  it("still answers coord nodes and a health check, and counts the undecodable requests as refusals", async () => {
    await stillServes();
    const r = await coord(c, ["refusals", "--json", "--limit", "5"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const refusals = JSON.parse(r.stdout) as { totals?: { kind: string; count: string }[] };
    expect(Number(refusals.totals?.find((t) => t.kind === "undecodable")?.count ?? 0)).toBeGreaterThan(0);
  });
});

describe("random bytes and random messages on an enrolled agent's stream, after its hello", () => {
  const ws = new Workspace();
  let c: Coordinator;
  let client: grpc.Client;
  let token = "";
  let n = 0;

  const stored = () => ({
    runs: queryDb(c.stateDir, "SELECT * FROM runs ORDER BY id"),
    tasks: queryDb(c.stateDir, "SELECT * FROM tasks ORDER BY id"),
    results: queryDb(c.stateDir, "SELECT * FROM check_results ORDER BY task_id, check_id"),
  });
  const events = () => queryDb(c.stateDir, "SELECT node_name, seq FROM agent_events ORDER BY node_name, seq");

  /** A new node's stream, registered; then `bytes` as its next message. Resolves with how the stream ended. */
  const afterHello = (bytes: Buffer): Promise<Ended> =>
    new Promise((resolve) => {
      const hello = Buffer.from(toBinary(ConnectRequestSchema, helloRequest({ name: `fuzz-${++n}`, enrollToken: token, labels: { role: "fleet" }, tls: servesTls(c) })));
      const call = client.makeBidiStreamRequest("/fleetgate.v1.AgentService/Connect", identity, (b: Buffer) => fromBinary(ConnectResponseSchema, b), new grpc.Metadata(), { deadline: Date.now() + CALL_DEADLINE_MS });
      call.on("data", (r: ConnectResponse) => {
        if (r.msg.case !== "registered") return;
        call.write(bytes);
        call.end();
      });
      call.on("error", () => undefined);
      call.on("status", (st: grpc.StatusObject) => resolve({ code: st.code, details: st.details }));
      call.write(hello);
    });

  beforeAll(async () => {
    c = ws.track(await startCoordinator(ws.path("state")));
    client = hostileClient(c);
    token = (await coord(c, ["token", "create"])).stdout.trim();
  });

  afterAll(async () => {
    client?.close();
    await ws.cleanup();
  });

  it("ends the stream INVALID_ARGUMENT on bytes that are not a ConnectRequest, storing no event", async () => {
    const before = { ...stored(), events: events() };
    await fc.assert(
      fc.asyncProperty(garbage.filter((b) => !decodes(ConnectRequestSchema, b)), async (bytes) => {
        const ended = await afterHello(bytes);
        expect(ended.code, ended.details).toBe(grpc.status.INVALID_ARGUMENT);
        expect(ended.details).toMatch(/^\/fleetgate\.v1\.AgentService\/Connect: the request is not a fleetgate\.v1\.ConnectRequest message \(.+\); nothing was done$/);
      }),
      { seed: SEED, numRuns: 8 },
    );
    expect({ ...stored(), events: events() }).toEqual(before);
  });

  it("ends cleanly on well-typed nonsense (events for tasks never sent, a second hello, ...), storing no run, task or result", async () => {
    const before = stored();
    await fc.assert(
      fc.asyncProperty(randomMessageBytes(ConnectRequestSchema), async (bytes) => {
        const ended = await afterHello(bytes);
        expect(BROKEN.has(ended.code), `${grpc.status[ended.code]}: ${ended.details}`).toBe(false);
      }),
      { seed: SEED, numRuns: 12 },
    );
    expect(stored()).toEqual(before);
    const nodes = await coord(c, ["nodes", "--json"]);
    expect(nodes.exitCode, nodes.stderr).toBe(0);
    expect((JSON.parse(nodes.stdout) as unknown[]).length).toBe(n);
  });
});
