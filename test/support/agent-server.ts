// The coordinator's agent service alone on loopback (real gRPC) with a client channel to it, and a
// one-task run for a scripted node: what in-process tests of the agent stream start from.
import * as grpc from "@grpc/grpc-js";
import { agentServiceHandlers, type AgentServiceDeps } from "../../coordinator/server/agent-service.js";
import type { RunEngine } from "../../coordinator/sequencer/engine.js";
import type { Db } from "../../coordinator/store/db.js";
import { insertRun } from "../../coordinator/store/runs.js";
import { AgentService } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { CHANNEL_OPTIONS, serviceDefinition } from "../../shared/grpc/adapter.js";

export interface ServedAgents {
  client: grpc.Client;
  /** Closes the client and the server. */
  close(): void;
}

export async function serveAgents(deps: AgentServiceDeps): Promise<ServedAgents> {
  const server = new grpc.Server(CHANNEL_OPTIONS);
  server.addService(serviceDefinition(AgentService), agentServiceHandlers(deps));
  const port = await new Promise<number>((resolve, reject) => server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  return {
    client,
    close() {
      client.close();
      server.forceShutdown();
    },
  };
}

/** Run r1 stored as started: one fleet stage, one task (r1/fleet/NODE/1). */
export function insertOneTaskRun(db: Db, node: string): void {
  insertRun(
    db,
    { id: "r1", planName: "p", planPath: "p.yaml", planYaml: "plan: p\nstages:\n  - { id: fleet, kind: fleet, suite: s.yaml }\n", suites: { "s.yaml": "suite: s" }, stages: ["fleet"], flags: [], createdAt: 1, mode: "full", planRevision: "x", options: {}, nodes: [] },
    [{ id: `r1/fleet/${node}/1`, stageId: "fleet", nodeName: node, iteration: 1, suitePath: "s.yaml", allowDestructive: false }],
  );
}

/** Run r1 (insertOneTaskRun), begun, so the engine sends its task to `node`. */
export function beginOneTaskRun(db: Db, engine: RunEngine, node: string): void {
  insertOneTaskRun(db, node);
  engine.begin("r1", [{ id: "fleet", parallel: 1, stopOnFailure: false }]);
}
