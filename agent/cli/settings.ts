// The settings of `fleetgate-agent run`, each from its flag, env variable, agent.yaml key or
// default (shared/settings.ts: that order, always). `run` and `config check` both resolve here.
import { FleetgateError } from "../../shared/errors.js";
import { parseDuration } from "../../shared/durations.js";
import { DEFAULT_CHECK_CPU_LIMIT, type ProcessLimits } from "../../shared/model/check-limits.js";
import { formatSize, parseSize, type Size } from "../../shared/model/sizes.js";
import { envValue, pickSetting, type Setting, type SettingName, type SettingSource } from "../../shared/settings.js";
import { DEFAULT_TAILSCALED_SOCKET } from "../../shared/tailscale.js";
import { DEFAULT_MAX_MEMORY, parseMaxMemory } from "../daemon/memory-ceiling.js";
import { DEFAULT_SPOOL_MAX } from "../daemon/spool-limit.js";
import { defaultConcurrency, parseConcurrency } from "../engine/concurrency.js";
import type { AgentConfig } from "./config.js";
import { parseCoordinatorList } from "../../shared/coordinator-list.js";
import { checkLimits, type CheckLimitFlags } from "./limit-flags.js";

export const DEFAULT_COORDINATOR = "127.0.0.1:7400";
export const DEFAULT_STATE_DIR = "/var/lib/fleetgate-agent";
export const DEFAULT_STOP_GRACE = "30s";

/** Where each setting can be given; the README's configuration table lists the same. */
export const AGENT_SETTINGS = {
  coordinator: { key: "coordinator", flag: "--coordinator", env: "FLEETGATE_COORDINATOR" },
  token: { key: "token", flag: "--token", env: "FLEETGATE_TOKEN" },
  tokenFile: { key: "token_file" },
  ca: { key: "ca", flag: "--ca", env: "FLEETGATE_CA" },
  insecure: { key: "insecure", flag: "--insecure" },
  name: { key: "name", flag: "--name" },
  stateDir: { key: "state_dir", flag: "--state-dir", env: "FLEETGATE_AGENT_STATE_DIR" },
  allowFaults: { key: "allow_faults", flag: "--allow-faults" },
  stopGrace: { key: "stop_grace", flag: "--stop-grace" },
  spoolMax: { key: "spool_max", flag: "--spool-max" },
  maxMemory: { key: "max_memory", flag: "--max-memory" },
  checkCpuLimit: { key: "check_cpu_limit", flag: "--check-cpu-limit" },
  checkMemoryLimit: { key: "check_memory_limit", flag: "--check-memory-limit" },
  concurrency: { key: "concurrency", flag: "--concurrency", env: "FLEETGATE_AGENT_CONCURRENCY" },
  packages: { key: "packages" },
  metricsListen: { key: "metrics_listen", flag: "--metrics-listen", env: "FLEETGATE_AGENT_METRICS_LISTEN" },
  tailscaleSocket: { key: "tailscale_socket", env: "FLEETGATE_TAILSCALE_SOCKET" },
} as const satisfies Record<string, SettingName>;

export interface RunFlags extends CheckLimitFlags {
  config?: string;
  coordinator?: string;
  token?: string;
  ca?: string;
  insecure?: boolean;
  name?: string;
  label: Record<string, string>;
  stateDir?: string;
  allowFaults?: boolean;
  stopGrace?: string;
  spoolMax?: string;
  maxMemory?: string;
  concurrency?: string;
  metricsListen?: string;
}

export interface AgentSettings {
  /** One address or several, tried in order: "a:7400,b:7400" (flag, env, file) or a list (file). */
  coordinator: Setting<string | string[]>;
  /** An enrollment token given as such (never printed). */
  token: Setting<string | undefined>;
  /** Where to read the enrollment token when `token` has none. */
  tokenFile: Setting<string | undefined>;
  ca: Setting<string | undefined>;
  insecure: Setting<boolean>;
  /** Undefined: the hostname. */
  name: Setting<string | undefined>;
  /** agent.yaml's labels, then --label over them, key by key. */
  labels: { value: Record<string, string>; from: Record<string, SettingSource> };
  stateDir: Setting<string>;
  allowFaults: Setting<boolean>;
  stopGrace: Setting<string>;
  spoolMax: Setting<Size>;
  maxMemory: Setting<Size>;
  checkCpuLimit: Setting<string | 0>;
  /** Undefined: half the node's memory, at most 4 GiB. */
  checkMemoryLimit: Setting<Size | undefined>;
  /** At most this many checks of a task at once; a suite's concurrency: may lower it. */
  concurrency: Setting<string | number>;
  /** Undefined: a common stack (shared/packages.ts). */
  packages: Setting<string[] | undefined>;
  /** HOST:PORT for /metrics and /healthz; undefined: none (the default). */
  metricsListen: Setting<string | undefined>;
  /**
   * Where the node's tailscaled answers: its Tailscale DNS name and IPs go into the identity, which
   * is how the coordinator's fleet roster knows the machine has an agent (coordinator/fleet/roster-diff.ts).
   */
  tailscaleSocket: Setting<string>;
}

/** Every `run` setting with where it came from. Pure: flags, the environment and the parsed file in. */
export function resolveAgentSettings(flags: RunFlags, env: NodeJS.ProcessEnv, config: AgentConfig): AgentSettings {
  const s = AGENT_SETTINGS;
  const labelSources: Record<string, SettingSource> = {};
  for (const k of Object.keys(config.labels ?? {})) labelSources[k] = "file";
  for (const k of Object.keys(flags.label)) labelSources[k] = "flag";
  return {
    coordinator: pickSetting<string | string[]>(s.coordinator, { flag: flags.coordinator, env: envValue(env, s.coordinator.env), file: config.coordinator }, DEFAULT_COORDINATOR),
    token: pickSetting(s.token, { flag: flags.token, env: envValue(env, s.token.env), file: config.token }, undefined),
    tokenFile: pickSetting<string | undefined>(s.tokenFile, { file: config.token_file }, undefined),
    ca: pickSetting(s.ca, { flag: flags.ca, env: envValue(env, s.ca.env), file: config.ca }, undefined),
    insecure: pickSetting(s.insecure, { flag: flags.insecure, file: config.insecure }, false),
    name: pickSetting(s.name, { flag: flags.name, file: config.name }, undefined),
    labels: { value: { ...config.labels, ...flags.label }, from: labelSources },
    stateDir: pickSetting(s.stateDir, { flag: flags.stateDir, env: envValue(env, s.stateDir.env), file: config.state_dir }, DEFAULT_STATE_DIR),
    allowFaults: pickSetting(s.allowFaults, { flag: flags.allowFaults, file: config.allow_faults }, false),
    stopGrace: pickSetting(s.stopGrace, { flag: flags.stopGrace, file: config.stop_grace }, DEFAULT_STOP_GRACE),
    spoolMax: pickSetting<Size>(s.spoolMax, { flag: flags.spoolMax, file: config.spool_max }, DEFAULT_SPOOL_MAX),
    maxMemory: pickSetting<Size>(s.maxMemory, { flag: flags.maxMemory, file: config.max_memory }, DEFAULT_MAX_MEMORY),
    checkCpuLimit: pickSetting<string | 0>(s.checkCpuLimit, { flag: flags.checkCpuLimit, file: config.check_cpu_limit }, DEFAULT_CHECK_CPU_LIMIT),
    checkMemoryLimit: pickSetting<Size | undefined>(s.checkMemoryLimit, { flag: flags.checkMemoryLimit, file: config.check_memory_limit }, undefined),
    concurrency: pickSetting<string | number>(s.concurrency, { flag: flags.concurrency, env: envValue(env, s.concurrency.env), file: config.concurrency }, defaultConcurrency()),
    packages: pickSetting<string[] | undefined>(s.packages, { file: config.packages }, undefined),
    metricsListen: pickSetting(s.metricsListen, { flag: flags.metricsListen, env: envValue(env, s.metricsListen.env), file: config.metrics_listen }, undefined),
    tailscaleSocket: pickSetting(s.tailscaleSocket, { env: envValue(env, s.tailscaleSocket.env), file: config.tailscale_socket }, DEFAULT_TAILSCALED_SOCKET),
  };
}

/** The numbers `run` works with; throws bad_input naming the flag (or the file's key) for a value it cannot use. */
export interface RunLimits {
  stopGraceMs: number;
  spoolMaxBytes: number;
  maxMemoryBytes: number;
  checks: ProcessLimits;
  /** Checks of one task at once (agent/engine/ordered-pool.ts). */
  concurrency: number;
}

/** A setting's value parsed; an error names the flag, the env variable or the file's key, whichever gave it. */
function parsed<T, R>(setting: Setting<T>, name: SettingName, parse: (value: T) => R): R {
  try {
    return parse(setting.value);
  } catch (err) {
    const where = setting.from === "file" ? `${name.key} in the config file` : setting.from === "env" ? setting.via : (name.flag ?? name.key);
    throw new FleetgateError("bad_input", `${where}: ${(err as Error).message.replace(/^--[a-z-]+:\s*/, "")}`, undefined, { cause: err });
  }
}

/** The coordinators `run` dials, in the order it tries them; bad_input naming the setting and the bad entry. */
export function coordinatorAddresses(settings: AgentSettings): string[] {
  return parsed(settings.coordinator, AGENT_SETTINGS.coordinator, parseCoordinatorList);
}

export function runLimits(settings: AgentSettings): RunLimits {
  const s = AGENT_SETTINGS;
  const checkCpu = parsed(settings.checkCpuLimit, s.checkCpuLimit, (v) => checkLimits({ checkCpuLimit: String(v) }).cpuSeconds);
  const checkMemory = parsed(settings.checkMemoryLimit, s.checkMemoryLimit, (v) => checkLimits({ checkMemoryLimit: v === undefined ? undefined : String(v) }).memoryBytes);
  return {
    stopGraceMs: parsed(settings.stopGrace, s.stopGrace, parseDuration),
    spoolMaxBytes: parsed(settings.spoolMax, s.spoolMax, (v) => {
      const bytes = parseSize(v);
      if (bytes < 1024 ** 2) throw new Error(`${formatSize(bytes)} is too small to hold a task's results; give at least 1MiB`);
      return bytes;
    }),
    maxMemoryBytes: parsed(settings.maxMemory, s.maxMemory, parseMaxMemory),
    checks: { cpuSeconds: checkCpu, memoryBytes: checkMemory },
    concurrency: parsed(settings.concurrency, s.concurrency, parseConcurrency),
  };
}


/** Why `run` cannot start for want of a token: the token_file to fill, or where a token can be given. */
export function noTokenMessage(settings: AgentSettings): string {
  const file = settings.tokenFile.value;
  return file
    ? `no token: ${file} (token_file) is missing or empty and ${settings.stateDir.value} holds no node token; put a token from \`coord token create\` in ${file}`
    : "no token: pass --token (create one with: coord token create), set FLEETGATE_TOKEN, or give token_file in the config";
}
