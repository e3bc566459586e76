// The coordinator's Prometheus instruments, in one private registry (several coordinators in one
// test process each have their own). serve.ts loads this module only with --metrics-listen, and
// hands it the places where things happen: the commit of agent events, the fleet's sessions, the
// run engine's updates, the gRPC calls' final statuses. Nothing else in the coordinator knows
// about metrics. docs/metrics.md lists every metric.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { CHECK_SECONDS } from "../../shared/metrics/buckets.js";
import { defaultMetrics } from "../../shared/metrics/default-metrics.js";
import { statusName } from "../../shared/model/status.js";
import type { CommitOutcome } from "../store/agent-events.js";
import type { IncomingEvent, RunEngine } from "../sequencer/engine.js";
import type { AgentSessions } from "../fleet/sessions.js";
import { ReplayWatch } from "./replays.js";

/** What `fleetgate_nodes` reports for a registered node. */
export type NodeStatus = "online" | "offline" | "lost";
const NODE_STATUSES: readonly NodeStatus[] = ["online", "offline", "lost"];

/** One transaction and its WAL fsync: sub-millisecond on tmpfs, tens of ms on a busy disk. */
const COMMIT_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export class CoordinatorMetrics {
  readonly registry = new Registry();
  private readonly replays = new ReplayWatch();
  /** Nodes that had a stream to this process: a later one is a reconnect. */
  private readonly seen = new Set<string>();

  private readonly runsFinished = new Counter({ name: "fleetgate_runs_finished_total", help: "Runs finished since the coordinator started, by verdict (GO, NO-GO, INCOMPLETE) and mode (full, quick).", labelNames: ["verdict", "mode"], registers: [this.registry] });
  private readonly checkSeconds = new Histogram({ name: "fleetgate_check_duration_seconds", help: "How long each committed check result took on its node, by check kind.", labelNames: ["kind"], buckets: CHECK_SECONDS, registers: [this.registry] });
  private readonly results = new Counter({ name: "fleetgate_check_results_committed_total", help: "Check results committed to the store (each once, however often it was sent), by status.", labelNames: ["status"], registers: [this.registry] });
  private readonly dedup = new Counter({ name: "fleetgate_agent_events_duplicate_total", help: "Agent events already committed under their (node, seq), received again and acknowledged without being applied.", registers: [this.registry] });
  private readonly replayed = new Counter({ name: "fleetgate_agent_events_replayed_total", help: "Agent events received again on a new stream: seq at or below what the node delivered on an earlier stream to this process.", registers: [this.registry] });
  private readonly connections = new Counter({ name: "fleetgate_agent_connections_total", help: "Agent streams registered.", registers: [this.registry] });
  private readonly reconnects = new Counter({ name: "fleetgate_agent_reconnects_total", help: "Agent streams registered by a node that already had one to this coordinator process.", registers: [this.registry] });
  private readonly lost = new Counter({ name: "fleetgate_nodes_lost_total", help: "Times a node was declared lost (away longer than --lost-after, or reconnecting without delivering).", registers: [this.registry] });
  private readonly rpcErrors = new Counter({ name: "fleetgate_rpc_errors_total", help: "gRPC calls that ended with a status other than OK, by method and code.", labelNames: ["method", "code"], registers: [this.registry] });
  private readonly commitSeconds = new Histogram({ name: "fleetgate_store_commit_duration_seconds", help: "Transactions committing a batch of agent events, fsync included; outcome committed or failed.", labelNames: ["outcome"], buckets: COMMIT_SECONDS, registers: [this.registry] });

  /** `nodeStatuses`: each registered node's status now, read at each scrape. */
  constructor(nodeStatuses: () => Iterable<NodeStatus>) {
    const registry = this.registry;
    new Gauge({
      name: "fleetgate_nodes",
      help: "Registered nodes by status now: online (stream open), offline, lost (away longer than --lost-after while it had work).",
      labelNames: ["status"],
      registers: [registry],
      collect() {
        const counts = new Map<NodeStatus, number>(NODE_STATUSES.map((s) => [s, 0]));
        for (const s of nodeStatuses()) counts.set(s, (counts.get(s) ?? 0) + 1);
        for (const [status, n] of counts) this.set({ status }, n);
      },
    });
    defaultMetrics(registry);
  }

  /** Subscribes to the fleet's connections and losses and to finished runs. */
  observe(sessions: AgentSessions, engine: RunEngine): void {
    sessions.on("online", (node) => {
      this.connections.inc();
      if (this.seen.has(node)) this.reconnects.inc();
      this.seen.add(node);
      this.replays.connected(node);
    });
    sessions.on("lost", () => this.lost.inc());
    engine.updates.on("update", (_runId, update) => {
      if (update.event.case !== "finished") return;
      const run = update.event.value;
      this.runsFinished.inc({ verdict: run.verdict, mode: run.mode || "full" });
    });
  }

  /** `commit` timed, and what it committed counted: the commit queue's one transaction per batch. */
  timedCommit(commit: (events: readonly IncomingEvent[]) => CommitOutcome[]): (events: readonly IncomingEvent[]) => CommitOutcome[] {
    return (events) => {
      const end = this.commitSeconds.startTimer();
      let outcomes: CommitOutcome[];
      try {
        outcomes = commit(events);
      } catch (err) {
        end({ outcome: "failed" });
        throw err;
      }
      end({ outcome: "committed" });
      events.forEach((e, i) => this.committed(e, outcomes[i]));
      return outcomes;
    };
  }

  private committed(e: IncomingEvent, outcome: CommitOutcome | undefined): void {
    if (this.replays.received(e.node, e.event.seq)) this.replayed.inc();
    if (outcome?.kind === "duplicate") this.dedup.inc();
    if (outcome?.kind !== "check") return;
    this.results.inc({ status: statusName(outcome.result.status) });
    this.checkSeconds.observe({ kind: outcome.result.kind || "unknown" }, Number(outcome.result.durationMs) / 1000);
  }

  /** A gRPC call ended with `code` (grpc.status's name); `method`: its path, or "unknown" for one no service has. */
  rpcEnded(method: string, code: string): void {
    this.rpcErrors.inc({ method, code });
  }

  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
