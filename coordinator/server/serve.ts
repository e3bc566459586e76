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
import { openPostgresStore } from "../store/postgres-store.js";
import { describeStore, type PostgresStoreSettings } from "../store/postgres-settings.js";
import { buildActiveParts, type ActiveParts, type CoordinatorShell } from "./active-parts.js";
import { standbyGate } from "./standby-gate.js";
import { coordinatorHandlers, type CoordinatorView } from "./coordinator-service.js";
import { Election, type ElectionEvent } from "../ha/election.js";
import type { LeaseTimings } from "../ha/leadership.js";
import { ensureAdminToken } from "./admin-token.js";
import { EvidenceRecorder } from "../evidence/recorder.js";
import { healthHandlers } from "./health.js";
import { NodeEventWriter } from "../store/node-event-writer.js";
import { REFUSALS_KEPT } from "../../shared/model/limits.js";
import { refusalStore } from "../store/refusals.js";
import { RefusalLog } from "./refusals.js";
import { controlRefusals, watchWire } from "./wire-refusals.js";
import { initCa, issuedServerIdentity, loadCa, ownServerIdentity, type ServerIdentity } from "../tls/ca-files.js";
import { NodeCertificateIssuer } from "../tls/node-issuer.js";
import { DEFAULT_NODE_CERT_TTL_MS } from "../tls/node-cert-ttl.js";
import { serverCredentials } from "../tls/server-credentials.js";
import { hostOf } from "../../shared/tls/channel.js";
import { hostname, networkInterfaces } from "node:os";
import { Alerts } from "../alerts/alerts.js";
import { startFleetRoster, type RosterSettings } from "../fleet/roster-alerts.js";
import { alertSettings, type AlertsConfig } from "../alerts/config.js";
import { RUNS_DIR } from "../evidence/paths.js";
import { realClock, type SchedulerClock } from "../schedules/clock.js";
import type { ScheduleDef } from "../schedules/config.js";
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
  /** coord serve --store postgres://…: the store is PostgreSQL, shared with standby coordinators; default SQLite in STATE_DIR/coord.db. */
  postgres?: PostgresStoreSettings;
  /** With postgres: this coordinator among those sharing the store (--id), and the address agents and the CLI dial it by (--advertise). */
  ha?: { id: string; advertise: string; timings?: Partial<LeaseTimings> };
  /** coord serve --evidence-dir: where bundles go (default STATE_DIR/runs); with standbys, a directory every coordinator reads. */
  evidenceDir?: string;
}

/** What "tls" or "plaintext" a run and the roster say the coordinator served with. */
export type Transport = "tls" | "plaintext";

export interface RunningCoordinator {
  address: string;
  /** "active" on SQLite; with PostgreSQL, what this coordinator is now. */
  role(): "active" | "standby";
  transport: Transport;
  /** Where /metrics, /healthz and /readyz are served (--metrics-listen), if anywhere. */
  metricsAddress?: string;
  stop(): Promise<void>;
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
async function coordinatorMetrics(db: Db, parts: () => ActiveParts | undefined): Promise<CoordinatorMetrics> {
  const { CoordinatorMetrics } = await import("../metrics/coordinator-metrics.js");
  const status = (node: string): NodeStatus => {
    const sessions = parts()?.sessions;
    return sessions?.isOnline(node) ? "online" : sessions?.lostReason(node) ? "lost" : "offline";
  };
  return new CoordinatorMetrics(() => nodeNames(db).map(status));
}

/** An object whose every method calls the same method of whatever `current()` is at call time. */
function delegating(methods: string[], current: () => object): grpc.UntypedServiceImplementation {
  type Handler = (...args: unknown[]) => unknown;
  return Object.fromEntries(methods.map((m): [string, Handler] => [m, (...args) => (current() as Record<string, Handler>)[m]!(...args)])) as grpc.UntypedServiceImplementation;
}

export async function startCoordinator(opts: ServeOptions): Promise<RunningCoordinator> {
  mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
  // An existing state dir keeps the mode it was made with: whoever reads it administers the coordinator.
  chmodSync(opts.stateDir, 0o700);
  if (opts.postgres && !opts.ha) throw new FleetgateError("internal", "a PostgreSQL store needs the coordinator's id and advertised address");
  const pgStore = opts.postgres ? openPostgresStore(opts.postgres, `fleetgate coordinator ${opts.ha!.id}`) : undefined;
  const db: Db = pgStore ?? openDb(join(opts.stateDir, "coord.db"));
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
  // Alerts (issue 17): one sink every part raises to and resolves in; webhooks are posted off the event loop's path.
  const alertLog = opts.log.child({ part: "alerts" });
  const alerts = new Alerts({ stateDir: opts.stateDir, ...alertSettings(opts.alerts), log: alertLog });
  const evidenceRoot = opts.evidenceDir ?? join(opts.stateDir, RUNS_DIR);
  const evidence = new EvidenceRecorder(db, { stateDir: opts.stateDir, root: evidenceRoot, signingKeyPath: opts.signingKeyPath, minFreeBytes: opts.minFreeBytes, log: opts.log.child({ part: "evidence" }) });
  // The parts only the active coordinator runs; built below, rebuilt each time the lead is lost.
  let parts: ActiveParts | undefined;
  const metrics = opts.metricsListen ? await coordinatorMetrics(db, () => parts) : undefined;
  // Tagged machines of the tailnet with no agent (issue 17): polled in the background, never fatal.
  const roster = opts.tailscale && startFleetRoster(db, opts.tailscale, alerts, opts.log.child({ part: "tailscale" }));
  // Outermost, so it sees the status of every call, those the refusal interceptors end included.
  const rpcErrors = metrics ? [rpcErrorCounter(methodPaths([AgentService, ControlService, Health]), (method, code) => metrics.rpcEnded(method, code))] : [];

  // Every refusal, agent side, control side and below gRPC: logged, counted, kept (coord refusals).
  const refusals = new RefusalLog(opts.log.child({ part: "refusals" }), refusalStore(db, REFUSALS_KEPT));
  const shell: CoordinatorShell = {
    db,
    log: opts.log,
    stateDir: opts.stateDir,
    adminToken,
    transport,
    ownHost: { machineId: readId(MACHINE_ID_FILE), bootId: readId(BOOT_ID_FILE) },
    lostAfterMs: opts.lostAfterMs,
    heartbeatIntervalMs: opts.heartbeatIntervalMs,
    minFreeBytes: opts.minFreeBytes,
    evidenceRoot,
    alerts,
    evidence,
    nodeEvents,
    refusals,
    certificates: tls.certificates,
    metrics,
    roster: roster || undefined,
    schedules: opts.schedules,
    scheduleClock: opts.scheduleClock ?? realClock(),
  };
  parts = buildActiveParts(shell);
  const current = () => parts!;
  // On SQLite this coordinator is the only one. With PostgreSQL it is a standby — refusing agents
  // and writes from the moment it listens — until the election makes it active and its parts run.
  let election: Election | undefined;
  let active = false;
  const isActive = () => active;
  const role = (): "active" | "standby" => (active ? "active" : "standby");
  const gate = standbyGate({
    active: isActive,
    notActive: () => {
      const a = election?.active;
      return { details: election?.notActive() ?? `coordinator ${opts.ha?.id ?? ""} is not active yet (starting); try again in a few seconds`, activeAddress: a && !a.expired && a.holder !== opts.ha?.id ? a.address : undefined };
    },
  });
  // undecodableRequests first: nearest the wire, it ends such a call before any other layer sees it.
  const server = new grpc.Server({ ...CHANNEL_OPTIONS, interceptors: [...rpcErrors, undecodableRequests(refusals), controlRefusals(refusals), gate] });
  // The handlers of whichever set of parts is current: a lost lead swaps in a fresh one.
  const agentMethods = Object.keys(current().agent);
  const controlMethods = Object.keys(current().control);
  server.addService(serviceDefinition(AgentService, { server: true }), delegating(agentMethods, () => current().agent));
  // GetCoordinator lives with the process: a standby answers it as well as the active one.
  const coordinatorView: CoordinatorView = {
    id: opts.ha?.id ?? "",
    role,
    store: opts.postgres ? describeStore(opts.postgres.url) : "sqlite",
    active: () => election?.active,
  };
  const ownControl = coordinatorHandlers({ db, adminToken, log: opts.log.child({ part: "control" }) }, coordinatorView);
  server.addService(serviceDefinition(ControlService, { server: true }), { ...delegating(controlMethods, () => current().control), ...ownControl });
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
    // A standby takes no results: not ready, saying where the active one is (a load balancer sends agents there).
    const endpoints = { metrics: () => metrics.scrape(), notReady: throttled(() => (isActive() ? notReady(db, opts.stateDir) : (election?.notActive() ?? "starting: not active yet"))) };
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
  const host = opts.listen.slice(0, opts.listen.lastIndexOf(":"));
  const address = `${host}:${port}`;
  if (opts.insecure) opts.log.warn({ address }, "INSECURE: serving plaintext gRPC (--insecure); tokens and results cross the network in the clear, and every run says so");
  opts.log.info({ address, stateDir: opts.stateDir, transport, serverCertificate: tls.identity?.source, store: opts.postgres ? describeStore(opts.postgres.url) : "sqlite" }, "coordinator listening");

  if (opts.postgres) {
    const haLog = opts.log.child({ part: "leadership" });
    election = new Election({
      connection: { connectionString: opts.postgres.url, ...(opts.postgres.password === undefined ? {} : { password: opts.postgres.password }) },
      id: opts.ha!.id,
      address: opts.ha!.advertise,
      timings: opts.ha!.timings,
      onEvent: (event) => leadershipChanged(event),
    });
    const leadershipChanged = (event: ElectionEvent) => {
      if (event.kind === "active") {
        haLog.info({ id: opts.ha!.id, address: event.lease.address }, "this coordinator is now the active one: resuming the runs in progress");
        try {
          // Before anything is written: from here every write checks that this lease is still the active one's.
          pgStore!.fence({ holder: event.lease.holder, acquiredAt: event.lease.acquiredAt });
          parts!.start();
          active = true;
        } catch (err) {
          // Said here with its cause; thrown on, so the election gives the lead up (and tries again after a lease).
          haLog.error({ err }, "could not resume the runs in progress; giving up the lead");
          throw err;
        }
      } else if (event.kind === "lost") {
        // The fence stays on the lost lease: anything still on its way to the store fails rather than lands.
        haLog.error({ reason: event.reason }, "this coordinator lost the lead: it stops following runs and serves as a standby");
        active = false;
        parts!.stop(`coordinator ${opts.ha!.id} is no longer the active one`);
        parts = buildActiveParts(shell);
      } else if (event.kind === "standby") {
        const a = event.active;
        haLog.info({ active: a?.holder, address: a?.address, expired: a?.expired }, a ? `standby; the active coordinator is ${a.holder} at ${a.address}` : "standby; no coordinator is active yet");
      } else if (event.kind === "unavailable") {
        haLog.warn({ reason: event.reason }, "cannot take part in the election; retrying");
      }
    };
    await election.start();
  } else {
    parts.start();
    active = true;
  }

  return {
    address,
    transport,
    metricsAddress: metricsServer?.address,
    role,
    async stop() {
      // First: a probe or scrape must not read a store being closed.
      await metricsServer?.close();
      roster?.stop();
      // Out of the election before the parts stop: a standby may take over from here.
      const wasActive = isActive();
      await election?.stop();
      if (wasActive) parts!.stop("coordinator shutting down");
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
      nodeEvents.flush();
      db.close();
    },
  };
}
