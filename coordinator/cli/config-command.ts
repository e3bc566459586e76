// `coord config check`: is coord.yaml valid (file:line errors), can the files it names be read, and
// what would `coord serve` use with the same flags and environment, each setting with where it
// came from. Exit 0 when serve could start with these, 3 when not.
import { X509Certificate } from "node:crypto";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import type { Command } from "commander";
import { formatConfigReport, type ConfigReport } from "../../shared/config-report.js";
import { EXIT_CODE, FleetgateError } from "../../shared/errors.js";
import { formatSize } from "../../shared/model/sizes.js";
import { parseListen } from "../../shared/metrics/http-server.js";
import { describeSource, type Setting } from "../../shared/settings.js";
import { addServeOptions, DEFAULT_SERVE_CONFIG, loadServeConfig, resolveServeSettings, rosterSettings, serveNumbers, storeSettings, type ServeFlags } from "./serve-config.js";
import { dirname, resolve } from "node:path";
import { redactUrl } from "../alerts/alerts.js";
import { alertSettings } from "../alerts/config.js";
import { scheduleDefs, scheduleNotes } from "../schedules/config.js";
import { loadPlanFiles } from "./run-command.js";

function show<T>(name: string, s: Setting<T>, text: (v: T) => string): [string, string, string] {
  return [name, text(s.value), describeSource(s)];
}

/** Why `file` (a setting's value) cannot be used, if it cannot. */
function fileProblem(key: string, file: string, certificate: boolean): string | undefined {
  try {
    const bytes = readFileSync(file);
    if (certificate) new X509Certificate(bytes);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${key} ${file}: ${code}` : `${key} ${file} is not a PEM certificate (${(err as Error).message})`;
  }
}

/** Pure but for reading the files the settings name. */
export function checkServeConfig(flags: ServeFlags, env: NodeJS.ProcessEnv): ConfigReport {
  const file = flags.config ?? DEFAULT_SERVE_CONFIG;
  const present = flags.config !== undefined || existsSync(file);
  // A YAML or schema error names file:line:col; nothing else can be judged without the file.
  const config = present ? loadServeConfig(file) : {};
  const s = resolveServeSettings(flags, env, config);
  const problems: string[] = [];
  const notes: string[] = [];
  try {
    serveNumbers(s);
  } catch (err) {
    problems.push(FleetgateError.from(err).message);
  }
  if ((s.tlsCert.value === undefined) !== (s.tlsKey.value === undefined)) problems.push("bring your own server certificate with both tls_cert and tls_key (--tls-cert and --tls-key), or neither");
  for (const [key, setting, cert] of [["tls_cert", s.tlsCert, true], ["tls_key", s.tlsKey, false], ["signing_key", s.signingKey, false]] as const) {
    const problem = setting.value === undefined ? undefined : fileProblem(key, setting.value, cert);
    if (problem) problems.push(problem);
  }
  const stateDir = s.stateDir.value;
  if (existsSync(stateDir)) {
    try {
      accessSync(stateDir, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (err) {
      problems.push(`state_dir ${stateDir}: ${(err as NodeJS.ErrnoException).code}; run config check as the coordinator's user`);
    }
  } else notes.push(`state_dir ${stateDir} does not exist yet: serve creates it (the unit's StateDirectory= does)`);
  if (s.metricsListen.value !== undefined) {
    try {
      parseListen(s.metricsListen.value, "metrics_listen");
    } catch (err) {
      problems.push(FleetgateError.from(err).message);
    }
  }
  try {
    const roster = rosterSettings(s);
    // Not a problem: serve starts and logs each failed poll; the roster is unknown until tailscaled answers.
    if (roster && !existsSync(roster.socketPath)) notes.push(`tailscale_socket ${roster.socketPath} does not exist: the fleet roster stays unknown (and fleet runs INCOMPLETE) until tailscaled listens there`);
  } catch (err) {
    problems.push(FleetgateError.from(err).message);
  }
  try {
    storeSettings(s, s.listen.value);
  } catch (err) {
    problems.push(FleetgateError.from(err).message);
  }
  if (s.insecure.value) notes.push("insecure: plaintext gRPC; every run, report and coord nodes says INSECURE");
  // Plan paths are relative to coord.yaml, as serve reads them; a plan that cannot be read is a note: serve starts and skips its fires.
  const planProblem = (path: string) => {
    try {
      loadPlanFiles(path);
      return undefined;
    } catch (err) {
      return FleetgateError.from(err).message;
    }
  };
  const schedules = scheduleDefs(config.schedules, dirname(resolve(file)));
  notes.push(...scheduleNotes(schedules, Date.now(), planProblem));
  const alerts = alertSettings(config.alerts);
  const rows: [string, string, string][] = [
    show("listen", s.listen, (v) => v),
    show("state_dir", s.stateDir, (v) => v),
    show("lost_after", s.lostAfter, (v) => v),
    show("heartbeat", s.heartbeat, (v) => v),
    show("signing_key", s.signingKey, (v) => v ?? "none: evidence manifests unsigned"),
    show("min_free", s.minFree, (v) => (typeof v === "number" ? formatSize(v).replace(" ", "") : v)),
    show("insecure", s.insecure, String),
    show("tls_cert", s.tlsCert, (v) => v ?? "issued at each start from state_dir/tls/ca.key"),
    show("tls_key", s.tlsKey, (v) => v ?? "-"),
    ["san", s.sans.join(",") || "none", s.sans.length ? "file+flag" : "default"],
    show("node_cert_ttl", s.nodeCertTtl, (v) => v),
    show("metrics_listen", s.metricsListen, (v) => v ?? "none: no /metrics, /healthz or /readyz"),
    show("tailscale_tag", s.tailscaleTag, (v) => v ?? "none: no fleet machines listed as missing"),
    show("tailscale_socket", s.tailscaleSocket, (v) => v),
    show("store", s.store, (v) => (v ? v : "sqlite: state_dir/coord.db")),
    show("store_password_file", s.storePasswordFile, (v) => v ?? "none: PGPASSFILE or ~/.pgpass when the store is PostgreSQL"),
    show("id", s.id, (v) => v),
    show("advertise", s.advertise, (v) => v ?? "the listen address (the host name for a wildcard)"),
    show("lease", s.lease, (v) => v),
    show("evidence_dir", s.evidenceDir, (v) => v ?? "state_dir/runs"),
    ["schedules", schedules.map((d) => `${d.name} (${d.cron} ${d.timezone})`).join(", ") || "none", schedules.length ? "file (schedules)" : "default"],
    ["alerts", `files under state_dir/alerts/; ${alerts.webhooks.length ? alerts.webhooks.map((w) => `${w.format} ${redactUrl(w.url)}`).join(", ") : "no webhook"}; dedup ${config.alerts?.dedup_window ?? "1h"}`, config.alerts ? "file (alerts)" : "default"],
  ];
  return { file, fileState: present ? "valid" : "absent (serve uses flags, env and defaults)", rows, notes, problems };
}

export function registerConfigCommand(program: Command): void {
  const config = program.command("config").description("the coordinator's configuration (coord.yaml)");
  addServeOptions(
    config
      .command("check")
      .description(
        `validate coord.yaml (default ${DEFAULT_SERVE_CONFIG}, the file the unit gives coord serve; errors name file:line), check the files it names, and show each setting \`coord serve\` would use with the same flags and environment and where it came from (flag > env > file > default); exit 0 when serve could start, 3 when not`,
      ),
  ).action((flags: ServeFlags) => {
    const report = checkServeConfig(flags, process.env);
    process.stdout.write(`${formatConfigReport(report, "coord serve")}\n`);
    for (const p of report.problems) process.stderr.write(`coord: ${p}\n`);
    if (report.problems.length) process.exitCode = EXIT_CODE.bad_input;
  });
}
