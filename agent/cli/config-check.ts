// `fleetgate-agent config check`: is agent.yaml valid (file:line errors), can the files it names be
// read, and what would `run` use with the same flags and environment, each setting with where it
// came from. Never prints a token. Exit 0 when run could start with these, 3 when not.
import { X509Certificate } from "node:crypto";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { FleetgateError } from "../../shared/errors.js";
import { parseListen } from "../../shared/metrics/http-server.js";
import { formatSize } from "../../shared/model/sizes.js";
import type { ConfigReport } from "../../shared/config-report.js";
import { describeSource, type Setting } from "../../shared/settings.js";
import { channelCredentials } from "../../shared/tls/channel.js";
import { Credentials } from "../daemon/credentials.js";
import { DEFAULT_AGENT_CONFIG, loadAgentConfig, readTokenFile, type AgentConfig } from "./config.js";
import { coordinatorAddresses, noTokenMessage, resolveAgentSettings, runLimits, type AgentSettings, type RunFlags } from "./settings.js";

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/** A readable PEM certificate, or why not. */
function certificateProblem(file: string, what: string): string | undefined {
  try {
    new X509Certificate(readFileSync(file));
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return `${what} ${file} does not exist; copy the coordinator's STATE_DIR/tls/ca.crt to this node`;
    if (code && /^E[A-Z]+$/.test(code)) return `cannot read ${what} ${file}: ${code}`;
    return `${what} ${file} is not a PEM certificate (${(err as Error).message})`;
  }
}

/** Where the token comes from, as config check shows it, and what is wrong with it; never the token itself. */
function tokenRow(s: AgentSettings, problems: string[], notes: string[]): [string, string] {
  const stateDir = s.stateDir.value;
  const enrolled = new Credentials(stateDir, undefined).current() !== undefined;
  const nodeToken = `node token in ${join(stateDir, "node.token")} (enrolled)`;
  if (s.token.value !== undefined) return [enrolled ? `${nodeToken}; enrollment token given` : "enrollment token given (not shown)", describeSource(s.token)];
  const file = s.tokenFile.value;
  if (file !== undefined) {
    let token: string | undefined;
    try {
      token = readTokenFile(file);
    } catch (err) {
      problems.push(FleetgateError.from(err).message);
      return [`from ${file}`, describeSource(s.tokenFile)];
    }
    if (token) return [enrolled ? `${nodeToken}; enrollment token in ${file}` : `enrollment token in ${file} (not shown)`, describeSource(s.tokenFile)];
    if (enrolled) {
      notes.push(`${file} (token_file) is missing or empty: fine, this node enrolled and uses ${join(stateDir, "node.token")}`);
      return [nodeToken, describeSource(s.tokenFile)];
    }
  }
  if (enrolled) return [nodeToken, "state_dir"];
  problems.push(noTokenMessage(s));
  return [file === undefined ? "none" : `none: ${file} is missing or empty`, file === undefined ? "default" : describeSource(s.tokenFile)];
}

/** The CA `run` would trust, and whether it may talk to each coordinator at all (plaintext only to loopback or --insecure). */
function caRow(s: AgentSettings, coordinators: string[], problems: string[]): [string, string] {
  const pinned = join(s.stateDir.value, "ca.crt");
  const given = s.ca.value;
  if (given !== undefined) {
    const problem = certificateProblem(given, "ca");
    if (problem) problems.push(problem);
  }
  const ca = existsSync(pinned) ? pinned : given;
  for (const address of coordinators) {
    try {
      channelCredentials(address, s.insecure.value || !ca ? undefined : { caPem: readFileSync(ca, "utf8") }, { insecure: s.insecure.value, caFlag: "--ca" });
    } catch (err) {
      if (!given || existsSync(given)) problems.push(FleetgateError.from(err).message);
    }
  }
  if (existsSync(pinned)) return [`${pinned} (pinned at enrollment; trusted instead of any other)`, "state_dir"];
  return [given ?? (s.insecure.value ? "none: plaintext (insecure)" : "none: plaintext, loopback only"), describeSource(s.ca)];
}

function show<T>(s: Setting<T>, text: (v: T) => string): [string, string] {
  return [text(s.value), describeSource(s)];
}

/** Pure but for reading the files the settings name. */
export function checkAgentConfig(flags: RunFlags, env: NodeJS.ProcessEnv): ConfigReport {
  const file = flags.config ?? DEFAULT_AGENT_CONFIG;
  const present = flags.config !== undefined || existsSync(file);
  // A YAML or schema error names file:line:col; nothing else can be judged without the file.
  const config: AgentConfig = loadAgentConfig(file, flags.config !== undefined);
  const problems: string[] = [];
  const notes: string[] = [];
  const s = resolveAgentSettings(flags, env, config);
  try {
    runLimits(s);
  } catch (err) {
    problems.push(FleetgateError.from(err).message);
  }
  let coordinators: string[] = [];
  try {
    coordinators = coordinatorAddresses(s);
  } catch (err) {
    problems.push(FleetgateError.from(err).message);
  }
  if (s.metricsListen.value !== undefined) {
    try {
      parseListen(s.metricsListen.value, "metrics_listen");
    } catch (err) {
      problems.push(FleetgateError.from(err).message);
    }
  }
  const stateDir = s.stateDir.value;
  if (existsSync(stateDir)) {
    try {
      accessSync(stateDir, constants.R_OK | constants.W_OK | constants.X_OK);
    } catch (err) {
      problems.push(`state_dir ${stateDir}: ${errnoOf(err)}; run config check as the agent's user (the unit runs it as root)`);
    }
  } else notes.push(`state_dir ${stateDir} does not exist yet: run creates it (the unit's StateDirectory= does)`);
  const labels = Object.entries(s.labels.value);
  const rows: [string, string, string][] = [
    // Several: tried in this order (agent/daemon/coordinator-choice.ts).
    ["coordinator", ...show(s.coordinator, (v) => (coordinators.length ? coordinators.join(",") : String(v)))],
    ["token", ...tokenRow(s, problems, notes)],
    ["ca", ...caRow(s, coordinators, problems)],
    ["insecure", ...show(s.insecure, String)],
    ["name", ...show(s.name, (v) => v ?? `${hostname()} (the hostname)`)],
    ["labels", labels.length ? labels.map(([k, v]) => `${k}=${v}`).join(",") : "none", labels.length ? [...new Set(Object.values(s.labels.from))].join("+") : "default"],
    ["state_dir", ...show(s.stateDir, (v) => v)],
    ["allow_faults", ...show(s.allowFaults, String)],
    ["stop_grace", ...show(s.stopGrace, (v) => v)],
    ["spool_max", ...show(s.spoolMax, (v) => (typeof v === "number" ? formatSize(v).replace(" ", "") : v))],
    ["max_memory", ...show(s.maxMemory, (v) => (typeof v === "number" ? formatSize(v).replace(" ", "") : v))],
    ["check_cpu_limit", ...show(s.checkCpuLimit, (v) => String(v))],
    ["check_memory_limit", ...show(s.checkMemoryLimit, (v) => (v === undefined ? "half the memory, at most 4GiB" : typeof v === "number" ? formatSize(v).replace(" ", "") : v))],
    ["concurrency", ...show(s.concurrency, String)],
    ["packages", ...show(s.packages, (v) => (v ? v.join(",") : "a common stack"))],
    ["metrics_listen", ...show(s.metricsListen, (v) => v ?? "none")],
    ["tailscale_socket", ...show(s.tailscaleSocket, (v) => v)],
  ];
  return { file, fileState: present ? "valid" : "absent (run uses flags, env and defaults)", rows, notes, problems };
}
