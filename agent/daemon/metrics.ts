// `fleetgate-agent run --metrics-listen`: the daemon's own Prometheus metrics. daemon.ts imports
// this module only when the flag is given, so an agent without it never loads prom-client (its
// idle memory is counted, issue 16). The spool is read at each scrape; the rest is told by the
// connection and the task runner as it happens. docs/metrics.md lists every metric.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { CHECK_SECONDS } from "../../shared/metrics/buckets.js";
import { defaultMetrics } from "../../shared/metrics/default-metrics.js";
import { startMetricsServer, type MetricsServer } from "../../shared/metrics/http-server.js";

/** What the spool holds now; a function, since the spool is opened after the listener. */
export interface SpoolDepth {
  pendingCount(): number;
  usedBytes(): number;
}

export class AgentMetrics {
  readonly registry = new Registry();
  private registrations = 0;
  private readonly reconnects = new Counter({ name: "fleetgate_agent_reconnects_total", help: "Registrations with the coordinator after this process's first one.", registers: [this.registry] });
  private readonly connected = new Gauge({ name: "fleetgate_agent_connected", help: "1 while a stream to the coordinator is registered, else 0.", registers: [this.registry] });
  private readonly resent = new Counter({ name: "fleetgate_agent_events_unacked_at_disconnect_total", help: "Events written on a stream that ended before the coordinator acknowledged them; each is sent again from the spool.", registers: [this.registry] });
  private readonly coordinator = new Gauge({
    name: "fleetgate_agent_coordinator",
    help: "1 for the coordinator address (as configured) this agent last registered with; after a failover, the active one it moved to.",
    labelNames: ["address"],
    registers: [this.registry],
  });
  private readonly checkSeconds = new Histogram({ name: "fleetgate_agent_check_duration_seconds", help: "How long each check of a coordinator task took on this node, by check kind.", labelNames: ["kind"], buckets: CHECK_SECONDS, registers: [this.registry] });
  private spool: SpoolDepth | undefined;

  constructor() {
    const depth = () => this.spool;
    new Gauge({
      name: "fleetgate_agent_spool_events",
      help: "Events in the spool not yet acknowledged by the coordinator.",
      registers: [this.registry],
      collect() {
        this.set(depth()?.pendingCount() ?? 0);
      },
    });
    new Gauge({
      name: "fleetgate_agent_spool_bytes",
      help: "Disk the spool takes now (bounded by --spool-max).",
      registers: [this.registry],
      collect() {
        this.set(depth()?.usedBytes() ?? 0);
      },
    });
    defaultMetrics(this.registry);
  }

  /** The spool whose depth each scrape reads. */
  watchSpool(spool: SpoolDepth): void {
    this.spool = spool;
  }

  registered(coordinator: string): void {
    if (this.registrations++ > 0) this.reconnects.inc();
    this.connected.set(1);
    // One series: the configured addresses are few, and only the current one matters.
    this.coordinator.reset();
    this.coordinator.set({ address: coordinator }, 1);
  }

  /** A stream ended with `unacked` events written on it and not acknowledged. */
  streamEnded(unacked: number): void {
    this.connected.set(0);
    this.resent.inc(unacked);
  }

  checkFinished(r: CheckResult): void {
    this.checkSeconds.observe({ kind: r.kind || "unknown" }, Number(r.durationMs) / 1000);
  }

  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /** Serves /metrics and /healthz on `listen`; `flag` names the setting in an error (--metrics-listen, metrics_listen…). */
  serve(listen: string, flag: string, onError: (err: unknown) => void): Promise<MetricsServer> {
    return startMetricsServer(listen, flag, { metrics: () => this.scrape() }, onError);
  }
}
