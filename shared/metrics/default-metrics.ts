// prom-client's process and Node.js metrics, as both daemons serve them. Imported only by the
// modules loaded with --metrics-listen, so neither daemon loads prom-client without it.
import { collectDefaultMetrics, Counter, type Registry } from "prom-client";

/**
 * process_* and nodejs_* (resident memory, CPU, event loop lag, open fds), less prom-client's
 * gauges named *_total (nodejs_active_handles_total…): `promtool check metrics` rejects a gauge
 * with a counter's suffix, and CI checks every scrape with it.
 */
export function defaultMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const m of registry.getMetricsAsArray()) {
    if (m.name.endsWith("_total") && !(m instanceof Counter)) registry.removeSingleMetric(m.name);
  }
}
