// The options of `fleetgate-agent run`, also taken by `config check`, which shows what `run` would
// make of the same command line.
import type { Command } from "commander";
import { parseLabel } from "../../shared/labels.js";
import { formatSize } from "../../shared/model/sizes.js";
import { DEFAULT_MAX_MEMORY, MEMORY_RESTART_EXIT_CODE } from "../daemon/memory-ceiling.js";
import { DEFAULT_SPOOL_MAX } from "../daemon/spool-limit.js";
import { defaultConcurrency } from "../engine/concurrency.js";
import { DEFAULT_AGENT_CONFIG } from "./config.js";
import { addCheckLimitOptions } from "./limit-flags.js";
import { DEFAULT_COORDINATOR, DEFAULT_STATE_DIR, DEFAULT_STOP_GRACE } from "./settings.js";

export function addRunOptions(cmd: Command): Command {
  cmd
    .option("--config <file>", `agent config (default ${DEFAULT_AGENT_CONFIG} when present); env variables override it, flags override both`)
    .option(
      "--coordinator <host:port,...>",
      `coordinator address, or several separated by commas (active/standby coordinators): tried in order, going at once to the active one a standby names when it is in the list, with the backoff after a whole round failed (env FLEETGATE_COORDINATOR, default ${DEFAULT_COORDINATOR})`,
    )
    .option("--token <token>", "enrollment token from `coord token create` (env FLEETGATE_TOKEN)")
    .option("--ca <file>", "the coordinator's CA certificate (its STATE_DIR/tls/ca.crt; env FLEETGATE_CA); pinned at enrollment in STATE_DIR/ca.crt")
    .option("--insecure", "plaintext gRPC, for a coordinator started with coord serve --insecure (without --ca, plaintext goes to loopback only)")
    .option("--name <name>", "node name in the roster (default: hostname)")
    .option("--label <key=value>", "node label, repeatable (e.g. role=primary)", (v, prev: Record<string, string>) => parseLabel(v, prev), {})
    .option("--state-dir <dir>", `spool, task journal and node credential (env FLEETGATE_AGENT_STATE_DIR, default ${DEFAULT_STATE_DIR})`)
    .option("--allow-faults", "take fault steps of plans with faults: true (partitions via nft, kill_agent); test networks only")
    .option(
      "--stop-grace <duration>",
      `on SIGTERM/SIGINT: take no new task, let the running one finish this long (then kill its checks and report it cancelled), deliver spooled results, exit 0; a second signal stops at once (default ${DEFAULT_STOP_GRACE})`,
    )
    .option(
      "--spool-max <size>",
      `disk the spool of unacknowledged results may take (e.g. 512MiB, 2GiB); when it is full, new tasks are refused with that reason, results are never dropped (default ${formatSize(DEFAULT_SPOOL_MAX)})`,
    )
    .option(
      "--max-memory <size>",
      `the agent's own memory ceiling (resident set, checked every 2 s): above it the agent stops like on SIGTERM (no new task, --stop-grace for the running one, spool kept) and exits ${MEMORY_RESTART_EXIT_CODE} for its supervisor to restart it; 0: none (default ${DEFAULT_MAX_MEMORY})`,
    );
  cmd.option(
    "--concurrency <n>",
    `at most N checks of a task at once; a suite's concurrency: may lower it, serial: true and destructive checks run alone; results are reported in the suite's order either way (env FLEETGATE_AGENT_CONCURRENCY, default ${defaultConcurrency()}: twice the cores, at most 8)`,
  );
  cmd.option(
    "--metrics-listen <host:port>",
    "serve Prometheus /metrics (spool depth, reconnects, check durations) and /healthz over plain HTTP here, e.g. 127.0.0.1:9465 (env FLEETGATE_AGENT_METRICS_LISTEN; default: none, and prom-client is not loaded)",
  );
  return addCheckLimitOptions(cmd);
}
