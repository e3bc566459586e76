import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentConnection } from "../../agent/daemon/connection.js";
import { Credentials } from "../../agent/daemon/credentials.js";
import { fitEvent, wireBytes } from "../../agent/daemon/event-size.js";
import { Spool } from "../../agent/daemon/spool.js";
import { AgentEventSchema, AgentService, ConnectResponseSchema, type AgentEvent, type ConnectRequest, type ConnectResponse } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { CheckResultSchema, NodeIdentitySchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { CHANNEL_OPTIONS, serviceDefinition } from "../../shared/grpc/adapter.js";
import { MAX_AGENT_EVENT_BYTES, MAX_GRPC_MESSAGE_BYTES } from "../../shared/model/limits.js";
import { Status } from "../../shared/model/status.js";
import { waitFor } from "../../scripts/local-fleet.js";

const ORIGIN = { machineId: "0".repeat(32), bootId: "b", hostname: "h" };

/** The result issue 12 spooled: 3 MB of invalid bytes per stream, decoded, unbounded (9 MB of U+FFFD each). */
function issue12Event(): AgentEvent {
  const fffd = "\uFFFD".repeat(3_000_000);
  const result = create(CheckResultSchema, { checkId: "noisy", kind: "command", status: Status.FAILED, summary: `expected exit 0, saw 1: ${fffd}`, stdoutTail: fffd, stderrTail: fffd });
  return create(AgentEventSchema, { seq: 7n, origin: ORIGIN, body: { case: "check", value: { taskId: "t1", result } } });
}

describe("fitEvent: the agent never sends an event it knows is too large", () => {
  it("cuts issue 12's result to a size that goes through, keeping the check failed and the ends of its output", () => {
    const event = issue12Event();
    expect(wireBytes(event)).toBeGreaterThan(MAX_GRPC_MESSAGE_BYTES);
    const { event: fitted, changed } = fitEvent(event);
    expect(wireBytes(fitted)).toBeLessThanOrEqual(MAX_AGENT_EVENT_BYTES);
    expect(changed).toBe("event 7 over its size budget: cut summary, stdout_tail, stderr_tail");
    const r = fitted.body.case === "check" ? fitted.body.value.result : undefined;
    expect(r?.status).toBe(Status.FAILED);
    expect(r?.stdoutTail).toMatch(/^\[… \d+ bytes cut …\]\n\uFFFD+$/);
    expect(fitted.seq).toBe(7n);
  });

  it("replaces a result still over the limit by an error result for the check naming the size and the limit", () => {
    const { event: fitted, changed } = fitEvent(issue12Event(), 64 * 1024);
    const r = fitted.body.case === "check" ? fitted.body.value.result : undefined;
    expect(r?.status).toBe(Status.ERROR);
    expect(r?.checkId).toBe("noisy");
    expect(r?.summary).toMatch(/^event too large to send: \d+ bytes, limit 65536: \d+ bytes encoded, limit 65536; output and details left out \(it was failed: expected exit 0, saw 1: /);
    expect(changed).toMatch(/^event 7 replaced: event too large to send/);
    expect(wireBytes(fitted)).toBeLessThanOrEqual(64 * 1024);
  });

  it("leaves an event within budget as it was", () => {
    const event = create(AgentEventSchema, { seq: 1n, origin: ORIGIN, body: { case: "taskDone", value: { taskId: "t1", status: Status.PASSED, summary: "1/1 passed" } } });
    expect(fitEvent(event)).toEqual({ event, changed: undefined });
  });
});

describe("AgentConnection and a coordinator that refuses a message for its size", () => {
  let server: grpc.Server | undefined;
  let connection: AgentConnection | undefined;
  let stateDir: string;
  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), "fleetgate-event-size-"));
  });
  afterEach(() => {
    connection?.stop();
    server?.forceShutdown();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("turns the refused event into an error result for its check, reconnecting once, not in a loop", async () => {
    // A coordinator with a receive limit lower than the agent's budget: the agent cannot know it in advance.
    const limit = 64 * 1024;
    const received: AgentEvent[] = [];
    let sessions = 0;
    let committed = 0n;
    server = new grpc.Server({ ...CHANNEL_OPTIONS, "grpc.max_receive_message_length": limit });
    server.addService(serviceDefinition(AgentService), {
      connect(call: grpc.ServerDuplexStream<ConnectRequest, ConnectResponse>) {
        call.on("data", (req: ConnectRequest) => {
          if (req.msg.case === "hello") {
            sessions++;
            call.write(create(ConnectResponseSchema, { msg: { case: "registered", value: { nodeName: "node-a", nodeToken: "", lastAckedSeq: committed, heartbeatIntervalMs: 60_000 } } }));
          } else if (req.msg.case === "event") {
            received.push(req.msg.value);
            committed = req.msg.value.seq;
            call.write(create(ConnectResponseSchema, { msg: { case: "ack", value: { seq: req.msg.value.seq } } }));
          }
        });
        call.on("end", () => call.end());
        call.on("error", () => undefined);
      },
    });
    const port = await new Promise<number>((resolve, reject) => server!.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));

    const spool = Spool.open(stateDir);
    const big = create(CheckResultSchema, { checkId: "chatty", kind: "command", status: Status.PASSED, summary: "exit 0", stdoutTail: "x".repeat(200 * 1024) });
    spool.append({ origin: ORIGIN, body: { case: "check", value: { taskId: "t1", result: big } } });
    spool.append({ origin: ORIGIN, body: { case: "taskDone", value: { taskId: "t1", status: Status.PASSED, summary: "1/1 passed" } } });
    connection = new AgentConnection({
      addresses: [`127.0.0.1:${port}`],
      identity: create(NodeIdentitySchema, { name: "node-a", machineId: ORIGIN.machineId }),
      credentials: new Credentials(undefined, "fge_test"),
      spool,
      log: pino({ level: "silent" }),
      onTask: () => undefined,
    });
    void connection.run().catch(() => undefined);

    await waitFor("both events committed", () => (received.length >= 2 ? true : undefined), 10_000);
    const r = received[0]?.body.case === "check" ? received[0].body.value.result : undefined;
    expect(received.map((e) => e.seq)).toEqual([1n, 2n]);
    expect(r?.checkId).toBe("chatty");
    expect(r?.status).toBe(Status.ERROR);
    expect(r?.summary).toMatch(/^refused for its size: .*larger than max \(\d+ vs\.? 65536\): \d+ bytes encoded, limit 65536; output and details left out \(it was passed: exit 0\)$/);
    expect(received[1]?.body.case).toBe("taskDone");
    // One refusal, one reconnect; then nothing more.
    await new Promise((r) => setTimeout(r, 1500));
    expect(sessions).toBe(2);
    expect(received).toHaveLength(2);
  });
});
