// `coord serve`: one gRPC port for agents, the CLI and health checks; state in STATE_DIR.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { AgentService } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { ControlService } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Health } from "../../shared/gen/grpc/health/v1/health_pb.js";
import { CHANNEL_OPTIONS, serviceDefinition } from "../../shared/grpc/adapter.js";
import { FleetgateError } from "../../shared/errors.js";
import { BOOT_ID_FILE, MACHINE_ID_FILE } from "../../shared/identity.js";
import type { Logger } from "../../shared/logging.js";
import { openDb } from "../store/db.js";
import { newSecret } from "../store/tokens.js";
import { RunEngine } from "../sequencer/engine.js";
import { EvidenceRecorder } from "../evidence/recorder.js";
import type { Plan } from "../../shared/model/plan.js";
import { exportEvidenceHandler } from "./evidence-service.js";
import { agentServiceHandlers } from "./agent-service.js";
import { controlServiceHandlers } from "./control-service.js";
import { healthHandlers } from "./health.js";
import { AgentSessions } from "../fleet/sessions.js";
import { guardedSink } from "../fleet/liveness-events.js";
import { recordNodeEvent } from "../store/node-events.js";
import { REFUSALS_KEPT } from "../../shared/model/limits.js";
import { refusalStore } from "../store/refusals.js";
import { RefusalLog } from "./refusals.js";
import { controlRefusals, watchWire } from "./wire-refusals.js";

export interface ServeOptions {
  listen: string;
  stateDir: string;
  /** A node not connected this long while it has work becomes lost. */
  lostAfterMs: number;
  heartbeatIntervalMs: number;
  log: Logger;
  /** coord serve --signing-key FILE: ed25519 private key from coord keygen; signs each bundle's manifest. */
  signingKeyPath?: string;
  /** Refuse to start a run with less free space under the evidence dir (default 256 MiB). */
  minFreeBytes?: number;
}

export interface RunningCoordinator {
  address: string;
  stop(): Promise<void>;
}

export const ADMIN_TOKEN_FILE = "admin.token";

/** Created on first start, mode 0600: whoever can read the state dir administers the coordinator. */
export function ensureAdminToken(stateDir: string): string {
  const file = join(stateDir, ADMIN_TOKEN_FILE);
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const token = newSecret("fga");
  writeFileSync(file, `${token}\n`, { mode: 0o600, flag: "wx" });
  return token;
}

/** A file's trimmed text, or "" when it cannot be read (then that half of the check is skipped). */
function readId(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

export async function startCoordinator(opts: ServeOptions): Promise<RunningCoordinator> {
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
  // An existing state dir keeps the mode it was made with: whoever reads it administers the coordinator.
  chmodSync(opts.stateDir, 0o700);
  const db = openDb(join(opts.stateDir, "coord.db"));
  const adminToken = ensureAdminToken(opts.stateDir);
  // Each node's liveness timeline, for the evidence; a write that fails is logged, never fatal.
  const sessions = new AgentSessions(
    opts.lostAfterMs,
    guardedSink((e) => recordNodeEvent(db, e), opts.log.child({ part: "fleet" })),
    Math.round(1.5 * opts.heartbeatIntervalMs),
  );
  const evidence = new EvidenceRecorder(db, { stateDir: opts.stateDir, signingKeyPath: opts.signingKeyPath, minFreeBytes: opts.minFreeBytes, log: opts.log.child({ part: "evidence" }) });
  const engine = new RunEngine(db, sessions, opts.log.child({ part: "sequencer" }), { onFinished: (id) => void evidence.record(id) });

  // Every refusal, agent side, control side and below gRPC: logged, counted, kept (coord refusals).
  const refusals = new RefusalLog(opts.log.child({ part: "refusals" }), refusalStore(db, REFUSALS_KEPT));
  const server = new grpc.Server({ ...CHANNEL_OPTIONS, interceptors: [controlRefusals(refusals)] });
  server.addService(serviceDefinition(AgentService), agentServiceHandlers({ db, sessions, engine, log: opts.log.child({ part: "agents" }), heartbeatIntervalMs: opts.heartbeatIntervalMs, refusals }));
  const controlDeps = {
    db,
    sessions,
    engine,
    log: opts.log.child({ part: "control" }),
    adminToken,
    refusals,
    ownHost: { machineId: readId(MACHINE_ID_FILE), bootId: readId(BOOT_ID_FILE) },
    beforeRun: (plan: Plan) => evidence.beforeRun(plan),
    afterSignoff: (runId: string) => void evidence.record(runId),
  };
  server.addService(serviceDefinition(ControlService), { ...controlServiceHandlers(controlDeps), exportEvidence: exportEvidenceHandler({ ...controlDeps, evidence }) });
  server.addService(serviceDefinition(Health), healthHandlers());

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(opts.listen, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  ).catch((err: Error) => {
    db.close();
    throw FleetgateError.from(err, "bad_input", `cannot listen on ${opts.listen}: ${err.message}`);
  });
  watchWire(server, refusals, opts.log.child({ part: "refusals" }));
  engine.start();
  const host = opts.listen.slice(0, opts.listen.lastIndexOf(":"));
  const address = `${host}:${port}`;
  opts.log.info({ address, stateDir: opts.stateDir }, "coordinator listening");

  return {
    address,
    async stop() {
      engine.stop();
      sessions.closeAll("coordinator shutting down");
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 3000);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      refusals.stop();
      db.close();
    },
  };
}
