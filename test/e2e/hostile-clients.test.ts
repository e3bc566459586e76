// A hostile grpc-js client against a real coordinator on loopback (issue 13): garbage on the port,
// a 100 MB message, forged node and enrollment tokens, a hello flood under one name, a forged
// event for another node's task, 2,000 streams that never say hello. Each time: refused, nothing
// stored, the coordinator still serves (a real `coord nodes` answers, a scripted node stays
// online), and the refusal is counted by `coord refusals`.
import { randomBytes } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { coord, coordInBackground, onlineNodes, startCoordinator, waitFor, type Coordinator } from "../../scripts/local-fleet.js";
import { Status } from "../../shared/model/status.js";
import { HELLOS_PER_MINUTE_PER_NODE, MAX_GRPC_MESSAGE_BYTES, MAX_PENDING_HELLOS_PER_ADDRESS, REFUSAL_LOG_LINES_PER_MINUTE } from "../../shared/model/limits.js";
import { retryAfterMs } from "../../shared/grpc/status.js";
import { fleetPlan, queryDb, Workspace } from "./fixtures.js";
import { helloRequest, hostileClient, newMachineId, ScriptedAgent, sendOversize, sendRaw, servesTls } from "../support/hostile-client.js";

const SUITE = "suite: s\nchecks:\n  - id: echo\n    command: { argv: [echo, hi] }\n";
const MiB = 1024 * 1024;

interface RefusalsJson {
  totals?: { kind: string; count: string }[];
  recent?: { kind: string; code: string; peer?: string; claimed?: string; message: string }[];
}

describe("a hostile client on the coordinator's port", () => {
  const ws = new Workspace();
  const clients: grpc.Client[] = [];
  let c: Coordinator;
  let token = "";
  let tls = false;
  let nodeA: ScriptedAgent;
  const machineA = newMachineId();

  const client = (options: grpc.ChannelOptions = {}) => {
    const made = hostileClient(c, options);
    clients.push(made);
    return made;
  };
  /** What a refusal must never change: the roster, the committed events, the results, the tasks. */
  const stored = () => ({
    nodes: queryDb(c.stateDir, "SELECT name, machine_id, token_hash FROM nodes ORDER BY name"),
    events: queryDb(c.stateDir, "SELECT node_name, seq FROM agent_events ORDER BY node_name, seq"),
    results: queryDb(c.stateDir, "SELECT task_id, check_id, status, origin_machine_id FROM check_results ORDER BY task_id, check_id"),
    tasks: queryDb(c.stateDir, "SELECT id, node_name, status FROM tasks ORDER BY id"),
  });
  const refusals = async (): Promise<RefusalsJson> => {
    const r = await coord(c, ["refusals", "--json", "--limit", "1000"]);
    expect(r.exitCode, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as RefusalsJson;
  };
  const counted = (r: RefusalsJson, kind: string) => Number(r.totals?.find((t) => t.kind === kind)?.count ?? 0);
  /** The coordinator still serves: a real CLI call answers, and the scripted node-a is still online. */
  const stillServes = async () => expect(await onlineNodes(c)).toEqual(["node-a"]);

  beforeAll(async () => {
    ws.write("s.suite.yaml", SUITE);
    ws.write("plan.yaml", fleetPlan("p", "s.suite.yaml"));
    c = ws.track(await startCoordinator(ws.path("state")));
    tls = servesTls(c);
    token = (await coord(c, ["token", "create"])).stdout.trim();
    nodeA = new ScriptedAgent(client(), helloRequest({ name: "node-a", enrollToken: token, machineId: machineA, labels: { role: "fleet" }, tls }));
    await nodeA.registered();
  });

  afterAll(async () => {
    for (const made of clients) made.close();
    await ws.cleanup();
  });

  it("closes a connection that sends bytes that are not HTTP/2 (or not TLS)", async () => {
    const before = stored();
    const kind = tls ? "bad_tls" : "not_http2";
    const was = counted(await refusals(), kind);
    expect(await sendRaw(c, Buffer.concat([Buffer.from("GET / HTTP/1.1\r\nHost: fleetgate\r\n\r\n"), randomBytes(4096)]))).toBe(true);
    expect(stored()).toEqual(before);
    await stillServes();
    await waitFor(`the ${kind} refusal counted`, async () => counted(await refusals(), kind) === was + 1 || undefined);
  });

  it("refuses a 100 MB message on the agent stream and on a control call before reading it", async () => {
    const before = stored();
    const was = counted(await refusals(), "too_large");
    const big = client({ "grpc.max_send_message_length": -1 });
    const body = Buffer.alloc(100 * MiB, 0x41);
    for (const [path, stream] of [["/fleetgate.v1.AgentService/Connect", true], ["/fleetgate.v1.ControlService/StartRun", false]] as const) {
      const err = await sendOversize(big, path, body, stream);
      expect(err.code, path).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect(err.details).toBe(`Received message larger than max (${100 * MiB} vs ${MAX_GRPC_MESSAGE_BYTES})`);
    }
    expect(stored()).toEqual(before);
    await stillServes();
    // Counted when the server side of each stream closes, which can come after the client saw its
    // status (the rest of the 100 MB is still being discarded): wait for it, as for the other kinds.
    await waitFor("both too_large refusals counted", async () => counted(await refusals(), "too_large") === was + 2 || undefined);
    const after = await refusals();
    expect(after.recent?.filter((r) => r.kind === "too_large").map((r) => r.message.split(":")[0])).toEqual(["/fleetgate.v1.ControlService/StartRun", "/fleetgate.v1.AgentService/Connect"]);
  }, 30_000);

  it("refuses forged node and enrollment tokens, naming the claimed node, and the registered node keeps its name and stream", async () => {
    const before = stored();
    const was = counted(await refusals(), "bad_credential");
    const forged = [
      helloRequest({ name: "node-a", nodeToken: `fgn_${randomBytes(24).toString("base64url")}`, machineId: machineA, tls }),
      helloRequest({ name: "node-ghost", nodeToken: `fgn_${randomBytes(24).toString("base64url")}`, tls }),
      helloRequest({ name: "node-b", enrollToken: `fge_${randomBytes(24).toString("base64url")}`, tls }),
    ];
    const errors = await Promise.all(forged.map((h) => new ScriptedAgent(client(), h).ended));
    expect(errors.map((e) => e?.code)).toEqual([grpc.status.UNAUTHENTICATED, grpc.status.UNAUTHENTICATED, grpc.status.UNAUTHENTICATED]);
    expect(errors[0]?.details).toMatch(/^node token not valid for node node-a; /);
    expect(stored()).toEqual(before);
    await stillServes();
    const after = await refusals();
    expect(counted(after, "bad_credential")).toBe(was + 3);
    const recent = (after.recent ?? []).filter((r) => r.kind === "bad_credential").slice(0, 3);
    expect(recent.map((r) => r.claimed).sort()).toEqual(["node-a", "node-b", "node-ghost"]);
    expect(recent.every((r) => r.peer === "127.0.0.1" && r.code === "UNAUTHENTICATED")).toBe(true);
  });

  it("refuses hellos naming one node beyond its rate with RESOURCE_EXHAUSTED and a retry hint", async () => {
    const before = stored();
    const was = counted(await refusals(), "registration_rate");
    const flood = Array.from({ length: HELLOS_PER_MINUTE_PER_NODE + 5 }, () => helloRequest({ name: "node-flood", enrollToken: "fge_not-a-token", tls }));
    const errors = await Promise.all(flood.map((h) => new ScriptedAgent(client(), h).ended));
    const limited = errors.filter((e) => e?.code === grpc.status.RESOURCE_EXHAUSTED);
    const refused = errors.filter((e) => e?.code === grpc.status.UNAUTHENTICATED);
    // At most the per-node allowance (plus what refilled meanwhile) got as far as its credential.
    expect(refused.length).toBeGreaterThanOrEqual(HELLOS_PER_MINUTE_PER_NODE);
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(limited.length + refused.length).toBe(flood.length);
    expect(limited[0]?.details).toMatch(/^too many hellos naming node node-flood \(more than 30 a minute: two hosts configured with one name, or an agent restarting in a loop\?\); retry in /);
    for (const e of limited) expect(retryAfterMs(e)).toBeGreaterThan(0);
    expect(stored()).toEqual(before);
    await stillServes();
    expect(counted(await refusals(), "registration_rate")).toBe(was + limited.length);
  });

  it("acks and ignores an event for another node's task: no result stored, no flag on the run, the real result decides", async () => {
    const nodeX = new ScriptedAgent(client(), helloRequest({ name: "node-x", enrollToken: token, labels: { role: "other" }, tls }));
    await nodeX.registered();
    const was = counted(await refusals(), "foreign_event");
    const run = coordInBackground(c, ["run", "fleet", "--plan", ws.path("plan.yaml")]);
    ws.track(run);
    const task = await nodeA.task();

    // node-x claims node-a's task passed, even with node-a's machine-id as the origin.
    const origin = { machineId: machineA, hostname: "hostile-node-a", bootId: "forged" };
    const forgedCheck = nodeX.send({ origin, body: { case: "check", value: { taskId: task.taskId, result: { checkId: "echo", kind: "command", status: Status.PASSED, summary: "forged pass" } } } });
    const forgedDone = nodeX.send({ origin, body: { case: "taskDone", value: { taskId: task.taskId, status: Status.PASSED, summary: "forged" } } });
    await nodeX.acked(forgedDone);
    await nodeX.acked(forgedCheck);
    expect(queryDb(c.stateDir, "SELECT * FROM check_results")).toEqual([]);
    expect(queryDb(c.stateDir, "SELECT status FROM tasks WHERE id = ?", task.taskId)).toEqual([{ status: "running" }]);
    expect(queryDb(c.stateDir, "SELECT flags_json FROM runs WHERE id = ?", task.runId)).toEqual([{ flags_json: "[]" }]);
    const after = await refusals();
    expect(counted(after, "foreign_event")).toBe(was + 2);
    expect(after.recent?.[0]).toMatchObject({ kind: "foreign_event", code: "ignored", claimed: "node-x", message: `event ${forgedDone}: node node-x reported for task ${task.taskId} of node node-a` });

    // node-a's own answer is what counts: a failure, so the run is NO-GO.
    const own = { machineId: machineA, hostname: "hostile-node-a", bootId: "a" };
    nodeA.send({ origin: own, body: { case: "check", value: { taskId: task.taskId, result: { checkId: "echo", kind: "command", status: Status.FAILED, summary: "expected exit 0, saw 1" } } } });
    nodeA.send({ origin: own, body: { case: "taskDone", value: { taskId: task.taskId, status: Status.FAILED, summary: "1 failed" } } });
    const result = await run.result;
    expect(result.exitCode, result.stdout + result.stderr).toBe(1);
    expect(queryDb(c.stateDir, "SELECT check_id, status, origin_machine_id FROM check_results")).toEqual([{ check_id: "echo", status: "failed", origin_machine_id: machineA }]);
    nodeX.close();
  }, 30_000);

  it("closes 2,000 streams that never say hello, most at once, the rest at the hello timeout, serving all the while", async () => {
    const before = stored();
    const r0 = await refusals();
    const silent = client();
    const streams = Array.from({ length: 2_000 }, () => new ScriptedAgent(silent));
    const codes = new Map<number, number>();
    for (const s of streams) void s.ended.then((e) => codes.set(e?.code ?? -1, (codes.get(e?.code ?? -1) ?? 0) + 1));
    const atOnce = 2_000 - MAX_PENDING_HELLOS_PER_ADDRESS;
    await waitFor("the streams beyond the pending limit refused", () => codes.get(grpc.status.RESOURCE_EXHAUSTED) === atOnce || undefined, 20_000);
    // 100 streams still wait for their hello; the coordinator answers the CLI and keeps node-a.
    await stillServes();
    const ends = await Promise.all(streams.map((s) => s.ended));
    expect(ends.find((e) => e?.code === grpc.status.RESOURCE_EXHAUSTED)?.details).toBe("too many streams from 127.0.0.1 waiting to say hello (limit 100); an agent says hello as soon as it connects, so retry in a moment");
    expect(Object.fromEntries(codes)).toEqual({ [grpc.status.RESOURCE_EXHAUSTED]: atOnce, [grpc.status.INVALID_ARGUMENT]: MAX_PENDING_HELLOS_PER_ADDRESS });
    expect(stored()).toEqual(before);
    await stillServes();
    const after = await refusals();
    expect(counted(after, "too_many_pending")).toBe(counted(r0, "too_many_pending") + atOnce);
    expect(counted(after, "no_hello")).toBe(counted(r0, "no_hello") + MAX_PENDING_HELLOS_PER_ADDRESS);
    const human = await coord(c, ["refusals"]);
    expect(human.stdout).toMatch(/^agent +too_many_pending +1900 /m);
    // A flood of refusals is logged within bounds: a line per refusal up to the per-minute cap, then counted.
    expect((c.stderr().match(/"refusal":"too_many_pending","side":"agent","code"/g) ?? []).length).toBe(REFUSAL_LOG_LINES_PER_MINUTE);
  }, 45_000);
});
