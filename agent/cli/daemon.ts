// `fleetgate-agent run`: the daemon. main.ts imports this module only when `run` is the command,
// so `check`, `facts` and `schema` never load gRPC, pino, the spool or the node's identity facts.
import { constants } from "node:os";
import { FleetgateError } from "../../shared/errors.js";
import { readIdentity } from "../../shared/identity.js";
import { createLogger, type Logger } from "../../shared/logging.js";
import { channelCredentials } from "../../shared/tls/channel.js";
import { AgentConnection } from "../daemon/connection.js";
import { Credentials } from "../daemon/credentials.js";
import { groupCommit } from "../daemon/group-commit.js";
import { stopGracefully, type StopCause, type StopOutcome } from "../daemon/graceful-stop.js";
import { ceilingMessage, MEMORY_RESTART_EXIT_CODE, MemoryCeiling } from "../daemon/memory-ceiling.js";
import { NodeTls } from "../daemon/node-tls.js";
import { Spool } from "../daemon/spool.js";
import { TaskJournal } from "../daemon/task-journal.js";
import { TaskRunner } from "../daemon/task-runner.js";
import { removeStaleWorkDirs, workRoot } from "../engine/work-dir.js";
import { PRLIMIT_MISSING, prlimitPath } from "../limits/prlimit.js";
import { killRunningChecks } from "../process.js";
import { DEFAULT_AGENT_CONFIG, loadAgentConfig, readTokenFile } from "./config.js";
import { coordinatorAddresses, noTokenMessage, resolveAgentSettings, runLimits, type RunFlags } from "./settings.js";

/** Resolves when the spool has nothing unacknowledged, or after `maxMs`; polls, bounded. */
async function spoolDrained(spool: Spool, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  while (spool.pendingCount() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
}

export async function runDaemon(flags: RunFlags): Promise<void> {
  const config = loadAgentConfig(flags.config ?? DEFAULT_AGENT_CONFIG, flags.config !== undefined);
  const log = createLogger("agent");
  // flag > env > file > default for every setting (settings.ts; `config check` shows the same).
  const settings = resolveAgentSettings(flags, process.env, config);
  // One or several, tried in order (agent/daemon/coordinator-choice.ts).
  const coordinators = coordinatorAddresses(settings);
  const stateDir = settings.stateDir.value;
  const { stopGraceMs, spoolMaxBytes: spoolMax, maxMemoryBytes: maxMemory, checks: limits, concurrency } = runLimits(settings);
  // --metrics-listen: prom-client is loaded only then (issue 16 counts the idle agent's memory).
  const listen = settings.metricsListen.value;
  const metrics = listen === undefined ? undefined : new (await import("../daemon/metrics.js")).AgentMetrics();
  const identity = await readIdentity({ name: settings.name.value, labels: settings.labels.value, packages: settings.packages.value, tailscaleSocket: settings.tailscaleSocket.value });
  const credentials = new Credentials(stateDir, settings.token.value ?? readTokenFile(settings.tokenFile.value));
  if (!credentials.current()) throw new FleetgateError("bad_input", noTokenMessage(settings));
  const tls = new NodeTls(stateDir, settings.ca.value);
  const insecure = settings.insecure.value;
  if (tls.unsaved) log.error(tls.unsaved);
  // Refuse plaintext off loopback now, with the fix, rather than at the first connection attempt to that address.
  for (const address of coordinators) channelCredentials(address, insecure ? undefined : tls.channel(), { insecure, caFlag: "--ca" });
  const origin = { $typeName: "fleetgate.v1.Origin" as const, machineId: identity.machineId, bootId: identity.bootId, hostname: identity.hostname };
  const nodeLog = log.child({ node: identity.name });
  const spool = Spool.open(stateDir, { origin, maxBytes: spoolMax, log: nodeLog });
  metrics?.watchSpool(spool);
  const journal = TaskJournal.open(stateDir);
  if (journal.unwritable) nodeLog.error({ journal: journal.file }, `${journal.unwritable}; tasks sent to this node end as errors`);
  let connection: AgentConnection | undefined;
  const allowFaults = settings.allowFaults.value;
  const drained = () => spoolDrained(spool, 5_000);
  if (!prlimitPath()) nodeLog.warn(PRLIMIT_MISSING);
  // Work dirs left by an agent killed mid-task: their tasks report interrupted, nothing needs them.
  const stale = removeStaleWorkDirs(workRoot(stateDir));
  if (stale) nodeLog.info({ removed: stale, dir: workRoot(stateDir) }, "removed work dirs left by tasks of a previous agent process");
  // Results of one burst share one fsync; each is still sent only once durable (group-commit.ts).
  const commit = groupCommit(() => connection?.flush());
  const runner = new TaskRunner(spool, origin, () => commit.request(), nodeLog, { allowFaults, drained, journal, limits, concurrency, workRoot: workRoot(stateDir), nodeName: identity.name, onCheckResult: metrics && ((r) => metrics.checkFinished(r)) });
  connection = new AgentConnection({
    addresses: coordinators,
    identity,
    credentials,
    tls,
    insecure,
    spool,
    log: nodeLog,
    // Either store refusing writes makes the node degraded; the spool's reason first, the one tasks end with.
    health: () => ({ ...spool.health(), degraded: spool.health().degraded || (journal.unwritable ?? "") }),
    onTask: (t) => runner.submit(t),
    onCancel: (id) => runner.cancel(id),
    observer: metrics,
  });
  // Listening keeps the process alive: from here on, every way out closes it.
  const metricsServer = metrics && (await metrics.serve(listen!, settings.metricsListen.via, (err) => nodeLog.warn({ err }, "a metrics request failed")));
  const stop = onStopSignals(
    (cause) => stopGracefully({ runner, graceMs: stopGraceMs, drained, pending: () => spool.pendingCount(), disconnect: () => connection?.stop(), log: nodeLog }, cause),
    nodeLog,
  );
  const ceiling = new MemoryCeiling({
    maxBytes: maxMemory,
    onExceeded: (rss) => {
      nodeLog.error({ phase: "max_memory", rss, maxMemory }, ceilingMessage(rss, maxMemory));
      stop.begin({ reason: "max_memory" });
    },
  }).start();
  nodeLog.info(
    { coordinators, machineId: identity.machineId, labels: identity.labels, allowFaults, stopGraceMs, journal: journal.file, spool: spool.dir, spoolMax, pending: spool.pendingCount(), maxMemory, checkLimits: limits, concurrency },
    "agent starting",
  );
  if (metricsServer) nodeLog.info({ address: metricsServer.address }, "serving /metrics and /healthz");
  try {
    await connection.run();
  } finally {
    await metricsServer?.close();
  }
  ceiling.stop();
  commit.cancel();
  spool.close();
  const outcome = await stop.current();
  const cause = stop.cause();
  const code = cause && "reason" in cause ? MEMORY_RESTART_EXIT_CODE : 0;
  process.exitCode = code;
  // A task still running after its checks were killed would keep the process alive: stop anyway.
  if (outcome?.idle === false) process.exit(code);
}

interface StopControl {
  /** Starts a graceful stop unless one is under way. */
  begin(cause: StopCause): void;
  /** The graceful stop under way, if any. */
  current(): Promise<StopOutcome> | undefined;
  cause(): StopCause | undefined;
}

/**
 * The first SIGTERM or SIGINT, or the agent itself (the memory ceiling), starts a graceful stop;
 * a signal during it exits at once (128 + signal), killing the running checks.
 */
function onStopSignals(start: (cause: StopCause) => Promise<StopOutcome>, log: Logger): StopControl {
  let stopping: Promise<StopOutcome> | undefined;
  let why: StopCause | undefined;
  const begin = (cause: StopCause) => {
    if (stopping) return;
    why = cause;
    stopping = start(cause);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stopping) {
      begin({ signal });
      return;
    }
    // The journal has the running task: the restarted agent reports it interrupted, never re-runs it.
    const killed = killRunningChecks();
    log.warn({ phase: "aborted", signal, killed }, "second signal: stopping now; the running task's checks are killed and it is not reported");
    process.exit(128 + (constants.signals[signal] ?? 15));
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return { begin, current: () => stopping, cause: () => why };
}

