// The agent's side of version skew (issue 15, part 8): its hello says which protocol it speaks,
// and a coordinator refusing it (FAILED_PRECONDITION with a retry hint, as agent-service.ts does)
// is logged as an error with the coordinator's message, and not asked again before the hint.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { AgentConnection } from "../../agent/daemon/connection.js";
import { Credentials } from "../../agent/daemon/credentials.js";
import { Spool } from "../../agent/daemon/spool.js";
import { AgentService, type ConnectRequest, type ConnectResponse, type Hello } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { NodeIdentitySchema, OriginSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { serviceDefinition } from "../../shared/grpc/adapter.js";
import { toGrpcError } from "../../shared/grpc/status.js";
import { PROTOCOL_REFUSED_RETRY_MS, PROTOCOL_VERSION, protocolRefusal } from "../../shared/protocol.js";
import { waitFor } from "../../scripts/local-fleet.js";

const ORIGIN = create(OriginSchema, { machineId: "0123456789abcdef0123456789abcdef", bootId: "b", hostname: "node-a" });

describe("an agent whose protocol the coordinator does not serve", () => {
  let server: grpc.Server | undefined;
  let connection: AgentConnection | undefined;
  let stateDir = "";
  afterEach(() => {
    connection?.stop();
    server?.forceShutdown();
    if (stateDir) rmSync(stateDir, { recursive: true, force: true });
  });

  it("sends its protocol in the hello, logs the coordinator's refusal as an error and waits the retry hint out", async () => {
    const hellos: Hello[] = [];
    // A coordinator two protocols further on than this agent.
    const message = protocolRefusal({ node: "node-a", agentProtocol: PROTOCOL_VERSION, agentVersion: "0.1.0", coordinatorProtocol: PROTOCOL_VERSION + 2, coordinatorVersion: "0.9.0" })!;
    server = new grpc.Server();
    server.addService(serviceDefinition(AgentService), {
      connect(call: grpc.ServerDuplexStream<ConnectRequest, ConnectResponse>) {
        call.on("data", (req: ConnectRequest) => {
          if (req.msg.case !== "hello") return;
          hellos.push(req.msg.value);
          const e = toGrpcError(new FleetgateError("conflict", message, undefined, { retryAfterMs: PROTOCOL_REFUSED_RETRY_MS }));
          call.emit("error", Object.assign(new Error(e.details), e));
        });
        call.on("error", () => undefined);
      },
    });
    const port = await new Promise<number>((resolve, reject) => server!.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));

    const lines: { level: number; msg: string; retryInMs?: number }[] = [];
    const log = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
    stateDir = mkdtempSync(join(tmpdir(), "fleetgate-protocol-"));
    const spool = Spool.open(stateDir, { log, origin: ORIGIN });
    connection = new AgentConnection({
      addresses: [`127.0.0.1:${port}`],
      identity: create(NodeIdentitySchema, { name: "node-a", machineId: ORIGIN.machineId }),
      credentials: new Credentials(undefined, "fge_test"),
      spool,
      log,
      onTask: () => undefined,
    });
    const running = connection.run();

    const refused = await waitFor("the refusal logged", () => lines.find((l) => l.msg.includes("refuses this agent")));
    expect(hellos[0]?.protocolVersion).toBe(PROTOCOL_VERSION);
    expect(refused.level).toBe(50); // pino's error
    expect(refused.msg).toBe(`coordinator at 127.0.0.1:${port} refuses this agent: ${message}`);
    expect(refused.retryInMs).toBe(PROTOCOL_REFUSED_RETRY_MS);
    // Backoff alone would have tried again within a second or two.
    await new Promise((r) => setTimeout(r, 2_500));
    expect(hellos).toHaveLength(1);
    connection.stop();
    await running;
    spool.close();
  }, 20_000);
});
