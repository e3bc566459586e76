// `coord serve`: one gRPC port for agents, the CLI and health checks; state in STATE_DIR.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { AgentService } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { ControlService } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Health } from "../../shared/gen/grpc/health/v1/health_pb.js";
import { CHANNEL_OPTIONS, serviceDefinition } from "../../shared/grpc/adapter.js";
import { undecodableRequests } from "./undecodable.js";
import { FleetgateError } from "../../shared/errors.js";
import { BOOT_ID_FILE, MACHINE_ID_FILE } from "../../shared/identity.js";
import type { Logger } from "../../shared/logging.js";
import { openDb, type Db } from "../store/db.js";
import { newSecret } from "../store/tokens.js";
import { RunEngine } from "../sequencer/engine.js";
import { EvidenceRecorder } from "../evidence/recorder.js";
import type { Plan } from "../../shared/model/plan.js";
import { exportEvidenceHandler } from "./evidence-service.js";
import { agentServiceHandlers } from "./agent-service.js";
import { LastSeenWriter } from "../store/last-seen.js";
import { CommitQueue } from "./commit-queue.js";
import { controlServiceHandlers } from "./control-service.js";
import { healthHandlers } from "./health.js";
import { AgentSessions } from "../fleet/sessions.js";
import { NodeEventWriter } from "../store/node-event-writer.js";
import { REFUSALS_KEPT } from "../../shared/model/limits.js";
import { refusalStore } from "../store/refusals.js";
import { RefusalLog } from "./refusals.js";
import { controlRefusals, watchWire } from "./wire-refusals.js";
import { initCa, issuedServerIdentity, loadCa, ownServerIdentity, type ServerIdentity } from "../tls/ca-files.js";
import { DEFAULT_NODE_CERT_TTL_MS, NodeCertificateIssuer } from "../tls/node-issuer.js";
import { serverCredentials } from "../tls/server-credentials.js";
import { hostOf } from "../../shared/tls/channel.js";
import { hostname, networkInterfaces } from "node:os";
import { Alerts } from "../alerts/alerts.js";
import { startFleetRoster, type RosterSettings } from "../fleet/roster-alerts.js";
import { alertSettings, type AlertsConfig } from "../alerts/config.js";
import { alertOnNodes, alertOnRunEnd, watchEvidenceDisk } from "../alerts/conditions.js";
import { RUNS_DIR } from "../evidence/paths.js";
import { DEFAULT_MIN_FREE_BYTES } from "../evidence/disk.js";
import { realClock, type SchedulerClock } from "../schedules/clock.js";
import type { ScheduleDef } from "../schedules/config.js";
import { RolloutController } from "../rollouts/controller.js";
import { rolloutHandlers } from "./rollout-service.js";
import { Scheduler } from "../schedules/scheduler.js";
import { scheduleAlertHandlers } from "./schedule-alert-service.js";
import { startMetricsServer, type MetricsServer } from "../../shared/metrics/http-server.js";
import type { CoordinatorMetrics, NodeStatus } from "../metrics/coordinator-metrics.js";
import { methodPaths, rpcErrorCounter } from "../metrics/rpc-errors.js";
import { nodeNames } from "../store/nodes.js";
import { notReady, throttled } from "./readiness.js";

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
  /** coord serve --insecure: plaintext gRPC, shown on every run, report and `coord nodes`. */
  insecure?: boolean;
  /** Bring your own server certificate (PEM files); by default one is issued from STATE_DIR/tls/ca.key at each start. */
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** More names or addresses for the issued server certificate (coord serve --san). */
  sans?: string[];
  nodeCertTtlMs?: number;
  /** coord.yaml's alerts: (webhooks, dedup window); alert files are written under STATE_DIR/alerts/ either way. */
  alerts?: AlertsConfig;
  /** coord.yaml's schedules: runs of a plan started by cron, bounded (coordinator/schedules/). */
  schedules?: ScheduleDef[];
  /** The schedules' clock; tests move it instead of waiting. Default: the wall clock. */
  scheduleClock?: SchedulerClock;
  /** coord serve --metrics-listen HOST:PORT: Prometheus /metrics, /healthz and /readyz over HTTP; none when unset. */
  metricsListen?: string;
  /** coord serve --tailscale-tag: keep the tailnet's roster of fleet machines, and list those without an agent. */
  tailscale?: RosterSettings;
}

/** What "tls" or "plaintext" a run and the roster say the coordinator served with. */
export type Transport = "tls" | "plaintext";

export interface RunningCoordinator {
  address: string;
  transport: Transport;
  /** Where /metrics, /healthz and /readyz are served (--metrics-listen), if anywhere. */
  metricsAddress?: string;
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

/** Every name and address an agent or the CLI may dial this host by, for the issued server certificate. */
function serverHosts(listen: string, extra: string[]): string[] {
  const addresses = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address.replace(/%.*$/, "")));
  const listenHost = hostOf(listen);
  const wildcard = listenHost === "0.0.0.0" || listenHost === "::" || listenHost === "";
  return ["localhost", hostname(), ...addresses, ...(wildcard ? [] : [listenHost]), ...extra];
}

interface TlsSetup {
  credentials: grpc.ServerCredentials;
  certificates?: NodeCertificateIssuer;
  identity?: ServerIdentity;
}

function tlsSetup(opts: ServeOptions): TlsSetup {
  if (opts.insecure) return { credentials: grpc.ServerCredentials.createInsecure() };
  if (!!opts.tlsCertFile !== !!opts.tlsKeyFile) throw new FleetgateError("bad_input", "bring your own server certificate with both --tls-cert FILE and --tls-key FILE");
  const { created, certPath } = initCa(opts.stateDir);
  if (created) opts.log.info({ ca: certPath }, "created the coordinator's CA; agents need a copy of it: fleetgate-agent run --ca FILE");
  const ca = loadCa(opts.stateDir);
  const identity = opts.tlsCertFile ? ownServerIdentity(opts.tlsCertFile, opts.tlsKeyFile!) : issuedServerIdentity(opts.stateDir, ca, serverHosts(opts.listen, opts.sans ?? []));
  const certificates = new NodeCertificateIssuer(ca, opts.nodeCertTtlMs ?? DEFAULT_NODE_CERT_TTL_MS, opts.log.child({ part: "tls" }));
  return { credentials: serverCredentials(identity, ca.certPem), certificates, identity };
}

/** A file's trimmed text, or "" when it cannot be read (then that half of the check is skipped). */
function readId(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}

/** The instruments, loaded only with --metrics-listen: without it prom-client is never imported. */
async function coordinatorMetrics(db: Db, sessions: AgentSessions, engine: RunEngine): Promise<CoordinatorMetrics> {
  const { CoordinatorMetrics } = await import("../metrics/coordinator-metrics.js");
  const status = (node: string): NodeStatus => (sessions.isOnline(node) ? "online" : sessions.lostReason(node) ? "lost" : "offline");
  const metrics = new CoordinatorMetrics(() => nodeNames(db).map(status));
  metrics.observe(sessions, engine);
  return metrics;
}

export async function startCoordinator(opts: ServeOptions): Promise<RunningCoordinator> {
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
  // An existing state dir keeps the mode it was made with: whoever reads it administers the coordinator.
  chmodSync(opts.stateDir, 0o700);
  const db = openDb(join(opts.stateDir, "coord.db"));
  const adminToken = ensureAdminToken(opts.stateDir);
  let tls: TlsSetup;
  try {
    tls = tlsSetup(opts);
  } catch (err) {
    db.close();
    throw err;
  }
  const transport: Transport = opts.insecure ? "plaintext" : "tls";
  // Each node's liveness timeline, for the evidence, a batch per few ms; a write that fails is logged, never fatal.
  const nodeEvents = new NodeEventWriter(db, opts.log.child({ part: "fleet" }));
  const sessions = new AgentSessions(
    opts.lostAfterMs,
    nodeEvents.sink,
    Math.round(1.5 * opts.heartbeatIntervalMs),
  );
  // Alerts (issue 17): one sink every part raises to and resolves in; webhooks are posted off the event loop's path.
  const alertLog = opts.log.child({ part: "alerts" });
  const alerts = new Alerts({ stateDir: opts.stateDir, ...alertSettings(opts.alerts), log: alertLog });
  const evidence = new EvidenceRecorder(db, { stateDir: opts.stateDir, signingKeyPath: opts.signingKeyPath, minFreeBytes: opts.minFreeBytes, log: opts.log.child({ part: "evidence" }) });
  // A bundle's node timelines include the liveness events still queued.
  const recordEvidence = (runId: string) => {
    nodeEvents.flush();
    void evidence.record(runId);
  };
  // Off the step that finished the run: its watchers hear first, and judging a large run again
  // (with its known-good run, for regressions) is a moment of CPU that should not hold up the batch.
  const runEnded = (id: string) =>
    setImmediate(() => {
      try {
        alertOnRunEnd(db, alerts, id);
      } catch (err) {
        alertLog.error({ run: id, err }, "could not judge the finished run for alerts");
      }
    });
  // A rollout's phases are runs: the controller hears each one end (set below, once it exists).
  let rolloutRunEnded: (id: string) => void = () => {};
  const engine = new RunEngine(db, sessions, opts.log.child({ part: "sequencer" }), {
    onFinished: (id) => {
      recordEvidence(id);
      runEnded(id);
      rolloutRunEnded(id);
    },
  });
  const metrics = opts.metricsListen ? await coordinatorMetrics(db, sessions, engine) : undefined;
  // Tagged machines of the tailnet with no agent (issue 17): polled in the background, never fatal.
  const roster = opts.tailscale && startFleetRoster(db, opts.tailscale, alerts, opts.log.child({ part: "tailscale" }));
  // Outermost, so it sees the status of every call, those the refusal interceptors end included.
  const rpcErrors = metrics ? [rpcErrorCounter(methodPaths([AgentService, ControlService, Health]), (method, code) => metrics.rpcEnded(method, code))] : [];

  // Every refusal, agent side, control side and below gRPC: logged, counted, kept (coord refusals).
  const refusals = new RefusalLog(opts.log.child({ part: "refusals" }), refusalStore(db, REFUSALS_KEPT));
  // undecodableRequests first: nearest the wire, it ends such a call before any other layer sees it.
  const server = new grpc.Server({ ...CHANNEL_OPTIONS, interceptors: [...rpcErrors, undecodableRequests(refusals), controlRefusals(refusals)] });
  const agentLog = opts.log.child({ part: "agents" });
  // Agent events from every stream, committed a batch per transaction and acked after it.
  const commit = (events: Parameters<RunEngine["ingestBatch"]>[0]) => engine.ingestBatch(events);
  const commits = new CommitQueue(metrics ? metrics.timedCommit(commit) : commit, agentLog);
  const lastSeen = new LastSeenWriter(db, opts.heartbeatIntervalMs, (err, nodes) => agentLog.warn({ nodes, err }, "could not record that the nodes were seen"));
  server.addService(serviceDefinition(AgentService, { server: true }), agentServiceHandlers({ db, sessions, engine, log: agentLog, heartbeatIntervalMs: opts.heartbeatIntervalMs, certificates: tls.certificates, refusals, commits, lastSeen }));
  const controlDeps = {
    db,
    sessions,
    engine,
    log: opts.log.child({ part: "control" }),
    adminToken,
    refusals,
    transport,
    ownHost: { machineId: readId(MACHINE_ID_FILE), bootId: readId(BOOT_ID_FILE) },
    fleetRoster: roster ? () => roster.view() : undefined,
    refreshFleetRoster: roster ? () => roster.refresh() : undefined,
    beforeRun: (plan: Plan) => evidence.beforeRun(plan),
    afterSignoff: recordEvidence,
  };
  // A scheduled run is started through StartRun's own path, with StartRun's dependencies.
  const scheduler = opts.schedules?.length ? new Scheduler({ schedules: opts.schedules, start: controlDeps, clock: opts.scheduleClock ?? realClock(), alerts, log: opts.log.child({ part: "schedules" }) }) : undefined;
  const rollouts = new RolloutController({ start: controlDeps, alerts, log: opts.log.child({ part: "rollouts" }) });
  // Off the engine's step: the next phase starts a run, which must not happen inside the engine's own.
  rolloutRunEnded = (id) => setImmediate(() => rollouts.runFinished(id));
  server.addService(serviceDefinition(ControlService, { server: true }), {
    ...controlServiceHandlers(controlDeps),
    ...rolloutHandlers({ ...controlDeps, rollouts }),
    exportEvidence: exportEvidenceHandler({ ...controlDeps, evidence }),
    ...scheduleAlertHandlers({ ...controlDeps, scheduler, alerts }),
  });
  server.addService(serviceDefinition(Health, { server: true }), healthHandlers());

  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(opts.listen, tls.credentials, (err, p) => (err ? reject(err) : resolve(p))),
  ).catch((err: Error) => {
    db.close();
    throw FleetgateError.from(err, "bad_input", `cannot listen on ${opts.listen}: ${err.message}`);
  });
  let metricsServer: MetricsServer | undefined;
  if (metrics) {
    const metricsLog = opts.log.child({ part: "metrics" });
    const endpoints = { metrics: () => metrics.scrape(), notReady: throttled(() => notReady(db, opts.stateDir)) };
    try {
      metricsServer = await startMetricsServer(opts.metricsListen!, "--metrics-listen", endpoints, (err) => metricsLog.warn({ err }, "a metrics request failed"));
    } catch (err) {
      server.forceShutdown();
      db.close();
      throw err;
    }
    metricsLog.info({ address: metricsServer.address }, "serving /metrics, /healthz and /readyz");
  }
  watchWire(server, refusals, opts.log.child({ part: "refusals" }));
  engine.start();
  rollouts.start();
  scheduler?.start();
  // A node offline past lost_after, or lost, is alerted; so is the evidence disk running low.
  const unwatchNodes = alertOnNodes(sessions, alerts, opts.lostAfterMs);
  const unwatchDisk = watchEvidenceDisk(alerts, join(opts.stateDir, RUNS_DIR), opts.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES, 60_000, alertLog);
  const host = opts.listen.slice(0, opts.listen.lastIndexOf(":"));
  const address = `${host}:${port}`;
  if (opts.insecure) opts.log.warn({ address }, "INSECURE: serving plaintext gRPC (--insecure); tokens and results cross the network in the clear, and every run says so");
  opts.log.info({ address, stateDir: opts.stateDir, transport, serverCertificate: tls.identity?.source }, "coordinator listening");

  return {
    address,
    transport,
    metricsAddress: metricsServer?.address,
    async stop() {
      // First: a probe or scrape must not read a store being closed.
      await metricsServer?.close();
      // What was received is committed and acked while the runs are still followed; nothing after.
      // Nothing scheduled starts now, and closing every stream is not the fleet going offline.
      scheduler?.stop();
      unwatchNodes();
      unwatchDisk();
      commits.close();
      roster?.stop();
      rollouts.stop();
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
      // A bundle still being written reads the store: let it finish before the store closes.
      await evidence.drain();
      // Alert files are written off the event loop: the last state of each is on disk before exit.
      await alerts.close();
      refusals.stop();
      lastSeen.flush();
      nodeEvents.flush();
      db.close();
    },
  };
}
