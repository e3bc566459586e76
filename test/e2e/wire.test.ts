// Talks to a real `coord serve` over gRPC with the same adapter the CLI and agent use.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentService, ConnectRequestSchema, type ConnectResponse } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { ControlService } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "../../shared/gen/grpc/health/v1/health_pb.js";
import { CHANNEL_OPTIONS, MAX_MESSAGE_BYTES, callBidiStream, callUnary } from "../../shared/grpc/adapter.js";
import { startCoordinator, type Coordinator } from "../../scripts/local-fleet.js";
import { Workspace } from "./fixtures.js";

describe("the coordinator's gRPC surface", () => {
  let ws: Workspace;
  let c: Coordinator;
  let client: grpc.Client;
  let admin: grpc.Metadata;

  beforeAll(async () => {
    ws = new Workspace();
    c = ws.track(await startCoordinator(ws.path("state")));
    // Over TLS, trusting the coordinator's CA, like every client of a coordinator not started --insecure.
    client = new grpc.Client(c.address, grpc.credentials.createSsl(readFileSync(c.caFile!)), CHANNEL_OPTIONS);
    admin = new grpc.Metadata();
    admin.set("authorization", `Bearer ${readFileSync(join(c.stateDir, "admin.token"), "utf8").trim()}`);
  });
  afterAll(async () => {
    client.close();
    await ws.cleanup();
  });

  it("answers the standard health check as SERVING, and NOT_FOUND for an unknown service", async () => {
    const ok = await callUnary(client, Health, Health.method.check, { service: "" });
    expect(ok.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const agents = await callUnary(client, Health, Health.method.check, { service: "fleetgate.v1.AgentService" });
    expect(agents.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    await expect(callUnary(client, Health, Health.method.check, { service: "nope.v1.Nope" })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it("refuses control calls with a wrong admin token", async () => {
    const wrong = new grpc.Metadata();
    wrong.set("authorization", "Bearer fga_wrong");
    await expect(callUnary(client, ControlService, ControlService.method.listNodes, {}, { metadata: wrong })).rejects.toMatchObject({
      code: grpc.status.UNAUTHENTICATED,
      details: expect.stringContaining("admin token refused"),
    });
  });

  it("refuses a message larger than the limit", async () => {
    const huge = "x".repeat(MAX_MESSAGE_BYTES + 1024);
    await expect(callUnary(client, ControlService, ControlService.method.startRun, { planYaml: huge }, { metadata: admin })).rejects.toMatchObject({
      code: grpc.status.RESOURCE_EXHAUSTED,
    });
  });

  it("reports a plan error with file and line through StartRun", async () => {
    const planYaml = "plan: p\nstages:\n  - id: s\n    kind: single\n    suite: x.yaml\n    iterations: 0\n";
    await expect(callUnary(client, ControlService, ControlService.method.startRun, { planPath: "gate.yaml", planYaml }, { metadata: admin })).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: "gate.yaml:6:17 stages[0].iterations: iterations must be at least 1",
    });
  });

  it("closes an agent stream whose first message is not a hello", async () => {
    const stream = callBidiStream(client, AgentService, AgentService.method.connect);
    const ended = new Promise<grpc.ServiceError>((resolve) => {
      stream.on("data", (_: ConnectResponse) => undefined);
      stream.on("error", resolve);
    });
    stream.write(create(ConnectRequestSchema, { msg: { case: "heartbeat", value: { sentAtMs: 1n } } }));
    const err = await ended;
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toBe("the first message on a stream must be a hello");
  });
});
