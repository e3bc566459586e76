// What only the active coordinator runs (issue 19): the agents' sessions, the sequencer, the
// commit queue, schedules and rollouts, and the gRPC handlers built on them. `coord serve` builds
// them at start; on SQLite it starts them at once. Against PostgreSQL it starts them when it wins
// the lead (engine.start() reloads the runs in progress: the resume path) and stops them when it
// loses it, then builds a fresh, unstarted set, whose handlers serve the CLI's reads meanwhile.
import type { Logger } from "../../shared/logging.js";
import type { Plan } from "../../shared/model/plan.js";
import type { Alerts } from "../alerts/alerts.js";
import { alertOnNodes, alertOnRunEnd, watchEvidenceDisk } from "../alerts/conditions.js";
import type { JudgedRun } from "../judgement/stored.js";
import { DEFAULT_MIN_FREE_BYTES } from "../evidence/disk.js";
import type { EvidenceRecorder } from "../evidence/recorder.js";
import { AgentSessions } from "../fleet/sessions.js";
import type { TailscaleRoster } from "../fleet/tailscale-roster.js";
import type { CoordinatorMetrics } from "../metrics/coordinator-metrics.js";
import { RolloutController } from "../rollouts/controller.js";
import type { SchedulerClock } from "../schedules/clock.js";
import type { ScheduleDef } from "../schedules/config.js";
import { Scheduler } from "../schedules/scheduler.js";
import { RunEngine } from "../sequencer/engine.js";
import type { Db } from "../store/db.js";
import { LastSeenWriter } from "../store/last-seen.js";
import type { NodeEventWriter } from "../store/node-event-writer.js";
import type { NodeCertificateIssuer } from "../tls/node-issuer.js";
import { agentServiceHandlers } from "./agent-service.js";
import { CommitQueue } from "./commit-queue.js";
import { controlServiceHandlers } from "./control-service.js";
import { exportEvidenceHandler } from "./evidence-service.js";
import type { RefusalLog } from "./refusals.js";
import { rolloutHandlers } from "./rollout-service.js";
import { scheduleAlertHandlers } from "./schedule-alert-service.js";

/** What lives as long as the process, whichever role it plays. */
export interface CoordinatorShell {
  db: Db;
  log: Logger;
  stateDir: string;
  adminToken: string;
  transport: "tls" | "plaintext";
  ownHost: { machineId: string; bootId: string };
  lostAfterMs: number;
  heartbeatIntervalMs: number;
  minFreeBytes?: number;
  /** The evidence root, watched for free space. */
  evidenceRoot: string;
  alerts: Alerts;
  evidence: EvidenceRecorder;
  nodeEvents: NodeEventWriter;
  refusals: RefusalLog;
  certificates?: NodeCertificateIssuer;
  metrics?: CoordinatorMetrics;
  roster?: TailscaleRoster;
  schedules?: ScheduleDef[];
  scheduleClock: SchedulerClock;
}

export interface ActiveParts {
  sessions: AgentSessions;
  engine: RunEngine;
  /** AgentService's handlers. */
  agent: object;
  /** ControlService's handlers. */
  control: object;
  /** Begins following runs: those in progress in the store are resumed. */
  start(): void;
  /** Stops following runs: what was received is committed and acked, then every agent stream is closed with `why`. */
  stop(why: string): void;
}

export function buildActiveParts(shell: CoordinatorShell): ActiveParts {
  const { db, log, alerts, evidence, nodeEvents, metrics } = shell;
  const sessions = new AgentSessions(shell.lostAfterMs, nodeEvents.sink, Math.round(1.5 * shell.heartbeatIntervalMs));
  const alertLog = log.child({ part: "alerts" });
  // A bundle's node timelines include the liveness events still queued.
  const recordEvidence = (runId: string) => {
    nodeEvents.flush();
    void evidence.record(runId);
  };
  // Off the step that finished the run: its watchers hear first, and judging a large run again
  // (with its known-good run, for regressions) is a moment of CPU that should not hold up the batch.
  const runEnded = (id: string, judged?: JudgedRun) =>
    setImmediate(() => {
      try {
        alertOnRunEnd(db, alerts, id, judged);
      } catch (err) {
        alertLog.error({ run: id, err }, "could not judge the finished run for alerts");
      }
    });
  // A rollout's phases are runs: the controller hears each one end (set below, once it exists).
  let rolloutRunEnded: (id: string) => void = () => {};
  const engine = new RunEngine(db, sessions, log.child({ part: "sequencer" }), {
    onFinished: (id, judged) => {
      // Off the finishing step too: loading the run for the bundle is as long as judging it, and
      // until this turn ends no watcher has been sent the run's end.
      setImmediate(() => recordEvidence(id));
      runEnded(id, judged);
      rolloutRunEnded(id);
    },
  });
  metrics?.observe(sessions, engine);
  const agentLog = log.child({ part: "agents" });
  // Agent events from every stream, committed a batch per transaction and acked after it.
  const commit = (events: Parameters<RunEngine["ingestBatch"]>[0]) => engine.ingestBatch(events);
  const commits = new CommitQueue(metrics ? metrics.timedCommit(commit) : commit, agentLog);
  const lastSeen = new LastSeenWriter(db, shell.heartbeatIntervalMs, (err, nodes) => agentLog.warn({ nodes, err }, "could not record that the nodes were seen"));
  const agent = agentServiceHandlers({ db, sessions, engine, log: agentLog, heartbeatIntervalMs: shell.heartbeatIntervalMs, certificates: shell.certificates, refusals: shell.refusals, commits, lastSeen });
  const roster = shell.roster;
  const controlDeps = {
    db,
    sessions,
    engine,
    log: log.child({ part: "control" }),
    adminToken: shell.adminToken,
    refusals: shell.refusals,
    transport: shell.transport,
    ownHost: shell.ownHost,
    fleetRoster: roster ? () => roster.view() : undefined,
    refreshFleetRoster: roster ? () => roster.refresh() : undefined,
    beforeRun: (plan: Plan) => evidence.beforeRun(plan),
    afterSignoff: recordEvidence,
  };
  // A scheduled run is started through StartRun's own path, with StartRun's dependencies.
  const scheduler = shell.schedules?.length ? new Scheduler({ schedules: shell.schedules, start: controlDeps, clock: shell.scheduleClock, alerts, log: log.child({ part: "schedules" }) }) : undefined;
  const rollouts = new RolloutController({ start: controlDeps, alerts, log: log.child({ part: "rollouts" }) });
  // Off the engine's step: the next phase starts a run, which must not happen inside the engine's own.
  rolloutRunEnded = (id) => setImmediate(() => rollouts.runFinished(id));
  const control = {
    ...controlServiceHandlers(controlDeps),
    ...rolloutHandlers({ ...controlDeps, rollouts }),
    exportEvidence: exportEvidenceHandler({ ...controlDeps, evidence }),
    ...scheduleAlertHandlers({ ...controlDeps, scheduler, alerts }),
  };

  let unwatch: (() => void)[] = [];
  return {
    sessions,
    engine,
    agent,
    control,
    start() {
      engine.start();
      rollouts.start();
      scheduler?.start();
      // A node offline past lost_after, or lost, is alerted; so is the evidence disk running low.
      unwatch = [alertOnNodes(sessions, alerts, shell.lostAfterMs), watchEvidenceDisk(alerts, shell.evidenceRoot, shell.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES, 60_000, alertLog)];
    },
    stop(why) {
      // What was received is committed and acked while the runs are still followed; nothing after.
      // Nothing scheduled starts now, and closing every stream is not the fleet going offline.
      scheduler?.stop();
      for (const u of unwatch) u();
      unwatch = [];
      commits.close();
      rollouts.stop();
      engine.stop();
      sessions.closeAll(why);
      lastSeen.flush();
    },
  };
}
