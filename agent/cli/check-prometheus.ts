// `fleetgate-agent check --format prometheus`: the local run's results as Prometheus metrics, for
// node_exporter's textfile collector or a Pushgateway, as `goss validate --format prometheus` is
// used (goss counts outcomes by resource type; so does fleetgate_check_outcomes, by check kind).
// Gauges, not goss's counters: each file is one run's state, rewritten by the next, so an alert
// on a failure clears when the check passes again. Pure but for prom-client: outcomes in, text out.
// main.ts imports this module only for this format, so no other command loads prom-client.
import { Gauge, Registry } from "prom-client";
import type { CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { isGreen, Status, statusName } from "../../shared/model/status.js";
import type { SuiteOutcome } from "../engine/run-suite.js";
import { overallStatus } from "./check-output.js";

/** The statuses a local check can end with: each is shown per kind, at zero when none did. */
const LOCAL_STATUSES: readonly Status[] = [Status.PASSED, Status.FAILED, Status.NOT_READY, Status.SKIPPED, Status.ERROR, Status.WAIVED];

export interface PrometheusRun {
  suite: string;
  outcomes: SuiteOutcome[];
  /** Wall time of the whole `check`, every iteration. */
  durationMs: number;
  /** When it finished (ms since the epoch): a textfile collector's reader can tell a stale file. */
  finishedAtMs: number;
}

function checkLabels(suite: string, r: CheckResult, iteration: number) {
  return { suite, check: r.checkId, kind: r.kind || "unknown", precondition: r.precondition ? "true" : "false", iteration: String(iteration) };
}

export async function renderPrometheus(run: PrometheusRun): Promise<string> {
  const registry = new Registry();
  const registers = [registry];
  const perCheck = ["suite", "check", "kind", "precondition", "iteration"] as const;
  const success = new Gauge({ name: "fleetgate_check_success", help: "1 when the check passed (or failed under an active waiver), 0 otherwise; status says which.", labelNames: [...perCheck, "status"], registers });
  const seconds = new Gauge({ name: "fleetgate_check_duration_seconds", help: "How long the check took, retries included.", labelNames: perCheck, registers });
  const outcomes = new Gauge({ name: "fleetgate_check_outcomes", help: "Check results of the run by status and check kind, every iteration counted.", labelNames: ["suite", "kind", "status"], registers });
  const suiteSuccess = new Gauge({ name: "fleetgate_suite_success", help: "1 when the run was green (fleetgate-agent check exited 0), 0 otherwise; status is the run's.", labelNames: ["suite", "status"], registers });
  const suiteSeconds = new Gauge({ name: "fleetgate_suite_duration_seconds", help: "Wall time of the run, every iteration.", labelNames: ["suite"], registers });
  const finished = new Gauge({ name: "fleetgate_suite_last_run_timestamp_seconds", help: "When the run finished, seconds since the Unix epoch.", labelNames: ["suite"], registers });

  const { suite } = run;
  const counts = new Map<string, Map<Status, number>>();
  run.outcomes.forEach((o, i) => {
    for (const r of o.results) {
      const labels = checkLabels(suite, r, i + 1);
      success.set({ ...labels, status: statusName(r.status) }, isGreen(r.status) ? 1 : 0);
      seconds.set(labels, Number(r.durationMs) / 1000);
      const byStatus = counts.get(labels.kind) ?? new Map<Status, number>();
      byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
      counts.set(labels.kind, byStatus);
    }
  });
  for (const [kind, byStatus] of counts) {
    for (const s of new Set([...LOCAL_STATUSES, ...byStatus.keys()])) outcomes.set({ suite, kind, status: statusName(s) }, byStatus.get(s) ?? 0);
  }
  const status = overallStatus(run.outcomes);
  suiteSuccess.set({ suite, status: statusName(status) }, isGreen(status) ? 1 : 0);
  suiteSeconds.set({ suite }, run.durationMs / 1000);
  finished.set({ suite }, Math.round(run.finishedAtMs / 1000));
  return registry.metrics();
}
