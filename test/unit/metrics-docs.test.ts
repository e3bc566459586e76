// docs/metrics.md stays true: its scrape config and alert rules are what promtool accepts, and
// every metric the daemons serve is listed there (and nothing listed is gone).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import { AgentMetrics } from "../../agent/daemon/metrics.js";
import { CoordinatorMetrics } from "../../coordinator/metrics/coordinator-metrics.js";
import { needsTool } from "../support/system-tools.js";

const promtool = needsTool("promtool", "prometheus");
const DOC = readFileSync(new URL("../../docs/metrics.md", import.meta.url), "utf8");

/** The YAML blocks of the doc, in order. */
function yamlBlocks(): string[] {
  return [...DOC.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

/** Names of our metrics (fleetgate_*) as a registry lists them. */
function names(metrics: { registry: { getMetricsAsArray(): { name: string }[] } }): string[] {
  return metrics.registry.getMetricsAsArray().map((m) => m.name).filter((n) => n.startsWith("fleetgate_"));
}

describe("docs/metrics.md", () => {
  it.skipIf(!promtool)("has a scrape config and alert rules that promtool accepts", async () => {
    const [config, rules] = yamlBlocks();
    const dir = mkdtempSync(join(tmpdir(), "fleetgate-metrics-docs-"));
    try {
      writeFileSync(join(dir, "prometheus.yml"), config ?? "");
      writeFileSync(join(dir, "fleetgate.rules.yml"), rules ?? "");
      const checked = await execa("promtool", ["check", "config", join(dir, "prometheus.yml")], { reject: false });
      expect(checked.exitCode, checked.stdout + checked.stderr).toBe(0);
      // The config names the rules file, so check config checks the rules too.
      expect(checked.stdout).toContain("SUCCESS: 4 rules found");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lists every metric the coordinator and the agent serve, and none they do not", () => {
    const listed = new Set([...DOC.matchAll(/^\| `(fleetgate_[a-z_]+)` \|/gm)].map((m) => m[1] as string));
    const served = [...names(new CoordinatorMetrics(() => [])), ...names(new AgentMetrics())];
    for (const name of served) expect(listed, `${name} is not in docs/metrics.md`).toContain(name);
    // The check --format prometheus table lists its own gauges; the rest must be served.
    const checkFormat = new Set(["fleetgate_check_success", "fleetgate_check_outcomes", "fleetgate_suite_success", "fleetgate_suite_duration_seconds", "fleetgate_suite_last_run_timestamp_seconds", "fleetgate_check_duration_seconds"]);
    for (const name of listed) if (!checkFormat.has(name)) expect(served, `${name} is in docs/metrics.md but served by neither daemon`).toContain(name);
  });
});
