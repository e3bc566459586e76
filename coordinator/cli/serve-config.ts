// coord.yaml: the same settings as the `serve` flags. Every setting resolves flag > env > file >
// default (shared/settings.ts); `coord serve` and `coord config check` both resolve here.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { z } from "zod";
import { formatSize, parseSize, SizeSchema } from "../../shared/model/sizes.js";
import { DurationSchema } from "../../shared/model/suite.js";
import { YamlSource } from "../../shared/model/yaml-source.js";
import { envValue, pickSetting, type Setting, type SettingName } from "../../shared/settings.js";
import { AlertsConfigSchema } from "../alerts/config.js";
import { SchedulesSchema } from "../schedules/config.js";
import { DEFAULT_MIN_FREE_BYTES } from "../evidence/disk.js";
import { DEFAULT_LOST_AFTER_MS } from "../fleet/sessions.js";
import { DEFAULT_NODE_CERT_TTL_MS } from "../tls/node-cert-ttl.js";
import { DEFAULT_COORDINATOR } from "./client.js";
import { durationFlag } from "./kit.js";
import { DEFAULT_TAILSCALED_SOCKET } from "../../shared/tailscale.js";
import { FleetgateError } from "../../shared/errors.js";
import { hostname } from "node:os";
import { DEFAULT_TIMINGS, leaseTimings } from "../ha/leadership.js";
import { postgresStoreSettings, type PostgresStoreSettings } from "../store/postgres-settings.js";

export const DEFAULT_SERVE_CONFIG = "/etc/fleetgate/coord.yaml";
export const DEFAULT_STATE_DIR = "/var/lib/fleetgate";

/** Tailscale ACL tags are "tag:" and a name of letters, digits and dashes. */
const TAILSCALE_TAG = /^tag:[A-Za-z0-9][A-Za-z0-9-]*$/;

const ServeConfigSchema = z.strictObject({
  listen: z.string().optional(),
  state_dir: z.string().optional(),
  lost_after: DurationSchema.optional(),
  heartbeat: DurationSchema.optional(),
  /** ed25519 private key (coord keygen) that signs each evidence bundle's manifest. */
  signing_key: z.string().optional(),
  /** Free space needed under the evidence dir to start a run, e.g. 1GiB. */
  min_free: SizeSchema.optional(),
  /** Serve plaintext gRPC (shown on every run and report). */
  insecure: z.boolean().optional(),
  /** Your own server certificate and key (PEM); default: issued at each start from STATE_DIR/tls/ca.key. */
  tls_cert: z.string().optional(),
  tls_key: z.string().optional(),
  /** More DNS names or IP addresses for the issued server certificate. */
  san: z.array(z.string()).optional(),
  /** Lifetime of node client certificates, e.g. 7d. */
  node_cert_ttl: DurationSchema.optional(),
  /** Webhooks alerts are POSTed to, and how long a repeat of an open alert stays quiet (coordinator/alerts/). */
  alerts: AlertsConfigSchema.optional(),
  /** Runs started by cron inside coord serve, each bounded (coordinator/schedules/). */
  schedules: SchedulesSchema.optional(),
  /** HOST:PORT of the plain HTTP listener for /metrics, /healthz and /readyz; none when unset. */
  metrics_listen: z.string().optional(),
  /** Tailscale ACL tag of the fleet's machines, e.g. tag:fleet: tagged peers with no agent are listed as missing. */
  tailscale_tag: z.string().regex(TAILSCALE_TAG, { message: "expected a Tailscale ACL tag such as tag:fleet" }).optional(),
  /** tailscaled's LocalAPI socket on the coordinator's host. */
  tailscale_socket: z.string().optional(),
  /** postgres://user@host:port/database: the store, shared with standby coordinators (default: SQLite in state_dir). */
  store: z.string().optional(),
  store_password_file: z.string().optional(),
  /** This coordinator among those sharing a PostgreSQL store. */
  id: z.string().optional(),
  /** host:port agents and the CLI dial this coordinator by, told to them by standbys. */
  advertise: z.string().optional(),
  /** How long an active coordinator's lease lasts; a standby takes over at most this long after it dies. */
  lease: DurationSchema.optional(),
  evidence_dir: z.string().optional(),
});
export type ServeConfig = z.infer<typeof ServeConfigSchema>;

export function loadServeConfig(path: string | undefined): ServeConfig {
  if (!path) return {};
  return YamlSource.parse(readFileSync(path, "utf8"), path).validate(ServeConfigSchema);
}

/** Where each setting can be given; the README's configuration table lists the same. */
export const SERVE_SETTINGS = {
  listen: { key: "listen", flag: "--listen" },
  stateDir: { key: "state_dir", flag: "--state-dir", env: "FLEETGATE_STATE_DIR" },
  lostAfter: { key: "lost_after", flag: "--lost-after" },
  heartbeat: { key: "heartbeat", flag: "--heartbeat" },
  signingKey: { key: "signing_key", flag: "--signing-key" },
  minFree: { key: "min_free", flag: "--min-free" },
  insecure: { key: "insecure", flag: "--insecure" },
  tlsCert: { key: "tls_cert", flag: "--tls-cert" },
  tlsKey: { key: "tls_key", flag: "--tls-key" },
  nodeCertTtl: { key: "node_cert_ttl", flag: "--node-cert-ttl" },
  metricsListen: { key: "metrics_listen", flag: "--metrics-listen", env: "FLEETGATE_METRICS_LISTEN" },
  tailscaleTag: { key: "tailscale_tag", flag: "--tailscale-tag", env: "FLEETGATE_TAILSCALE_TAG" },
  tailscaleSocket: { key: "tailscale_socket", flag: "--tailscale-socket", env: "FLEETGATE_TAILSCALE_SOCKET" },
  store: { key: "store", flag: "--store", env: "FLEETGATE_STORE" },
  storePasswordFile: { key: "store_password_file", flag: "--store-password-file" },
  id: { key: "id", flag: "--id" },
  advertise: { key: "advertise", flag: "--advertise" },
  lease: { key: "lease", flag: "--lease" },
  evidenceDir: { key: "evidence_dir", flag: "--evidence-dir" },
} as const satisfies Record<string, SettingName>;

export interface ServeFlags {
  config?: string;
  listen?: string;
  stateDir?: string;
  lostAfter?: string;
  heartbeat?: string;
  signingKey?: string;
  minFree?: string;
  insecure?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  san: string[];
  nodeCertTtl?: string;
  metricsListen?: string;
  tailscaleTag?: string;
  tailscaleSocket?: string;
  store?: string;
  storePasswordFile?: string;
  id?: string;
  advertise?: string;
  lease?: string;
  evidenceDir?: string;
}

export interface ServeSettings {
  listen: Setting<string>;
  stateDir: Setting<string>;
  lostAfter: Setting<string>;
  heartbeat: Setting<string>;
  signingKey: Setting<string | undefined>;
  minFree: Setting<string | number>;
  insecure: Setting<boolean>;
  tlsCert: Setting<string | undefined>;
  tlsKey: Setting<string | undefined>;
  /** coord.yaml's, then each --san. */
  sans: string[];
  nodeCertTtl: Setting<string>;
  /** Undefined: no metrics listener (the default). */
  metricsListen: Setting<string | undefined>;
  /** Undefined: no Tailscale roster (the default). */
  tailscaleTag: Setting<string | undefined>;
  tailscaleSocket: Setting<string>;
  /** Undefined: SQLite in STATE_DIR/coord.db (the default). */
  store: Setting<string | undefined>;
  storePasswordFile: Setting<string | undefined>;
  id: Setting<string>;
  /** Undefined: the listen address, or this host's name and the port when listening on every address. */
  advertise: Setting<string | undefined>;
  lease: Setting<string>;
  /** Undefined: STATE_DIR/runs. */
  evidenceDir: Setting<string | undefined>;
}

/** Every `serve` setting with where it came from. Pure: flags, the environment and the parsed file in. */
export function resolveServeSettings(flags: ServeFlags, env: NodeJS.ProcessEnv, config: ServeConfig): ServeSettings {
  const s = SERVE_SETTINGS;
  return {
    listen: pickSetting(s.listen, { flag: flags.listen, file: config.listen }, DEFAULT_COORDINATOR),
    stateDir: pickSetting(s.stateDir, { flag: flags.stateDir, env: envValue(env, s.stateDir.env), file: config.state_dir }, DEFAULT_STATE_DIR),
    lostAfter: pickSetting(s.lostAfter, { flag: flags.lostAfter, file: config.lost_after }, `${DEFAULT_LOST_AFTER_MS / 1000}s`),
    heartbeat: pickSetting(s.heartbeat, { flag: flags.heartbeat, file: config.heartbeat }, "5s"),
    signingKey: pickSetting(s.signingKey, { flag: flags.signingKey, file: config.signing_key }, undefined),
    minFree: pickSetting<string | number>(s.minFree, { flag: flags.minFree, file: config.min_free }, DEFAULT_MIN_FREE_BYTES),
    insecure: pickSetting(s.insecure, { flag: flags.insecure, file: config.insecure }, false),
    tlsCert: pickSetting(s.tlsCert, { flag: flags.tlsCert, file: config.tls_cert }, undefined),
    tlsKey: pickSetting(s.tlsKey, { flag: flags.tlsKey, file: config.tls_key }, undefined),
    sans: [...(config.san ?? []), ...flags.san],
    nodeCertTtl: pickSetting(s.nodeCertTtl, { flag: flags.nodeCertTtl, file: config.node_cert_ttl }, `${DEFAULT_NODE_CERT_TTL_MS / 86_400_000}d`),
    metricsListen: pickSetting(s.metricsListen, { flag: flags.metricsListen, env: envValue(env, s.metricsListen.env), file: config.metrics_listen }, undefined),
    tailscaleTag: pickSetting(s.tailscaleTag, { flag: flags.tailscaleTag, env: envValue(env, s.tailscaleTag.env), file: config.tailscale_tag }, undefined),
    tailscaleSocket: pickSetting(s.tailscaleSocket, { flag: flags.tailscaleSocket, env: envValue(env, s.tailscaleSocket.env), file: config.tailscale_socket }, DEFAULT_TAILSCALED_SOCKET),
    store: pickSetting(s.store, { flag: flags.store, env: envValue(env, s.store.env), file: config.store }, undefined),
    storePasswordFile: pickSetting(s.storePasswordFile, { flag: flags.storePasswordFile, file: config.store_password_file }, undefined),
    id: pickSetting(s.id, { flag: flags.id, file: config.id }, hostname()),
    advertise: pickSetting(s.advertise, { flag: flags.advertise, file: config.advertise }, undefined),
    lease: pickSetting(s.lease, { flag: flags.lease, file: config.lease }, `${DEFAULT_TIMINGS.leaseMs / 1000}s`),
    evidenceDir: pickSetting(s.evidenceDir, { flag: flags.evidenceDir, file: config.evidence_dir }, undefined),
  };
}

/** The numbers `serve` works with; throws bad_input naming the flag for a value it cannot use. */
export function serveNumbers(s: ServeSettings): { lostAfterMs: number; heartbeatIntervalMs: number; minFreeBytes: number; nodeCertTtlMs: number } {
  return {
    lostAfterMs: durationFlag("--lost-after", s.lostAfter.value),
    heartbeatIntervalMs: durationFlag("--heartbeat", s.heartbeat.value),
    minFreeBytes: parseSize(s.minFree.value),
    nodeCertTtlMs: durationFlag("--node-cert-ttl", s.nodeCertTtl.value),
  };
}

/** The Tailscale roster to keep, if a tag is set; throws bad_input naming the flag for a tag that is not one. */
export function rosterSettings(s: ServeSettings): { tag: string; socketPath: string } | undefined {
  const tag = s.tailscaleTag.value;
  if (tag === undefined) return undefined;
  if (!TAILSCALE_TAG.test(tag)) throw new FleetgateError("bad_input", `--tailscale-tag ${JSON.stringify(tag)}: expected a Tailscale ACL tag such as tag:fleet`);
  return { tag, socketPath: s.tailscaleSocket.value };
}

/**
 * The PostgreSQL store and this coordinator's part among those sharing it, or undefined for
 * SQLite; throws bad_input naming the setting that cannot work.
 */
export function storeSettings(s: ServeSettings, listen: string): { postgres: PostgresStoreSettings; ha: { id: string; advertise: string; timings: { leaseMs: number } } } | undefined {
  const url = s.store.value;
  if (url === undefined || url === "" || url === "sqlite") {
    if (s.storePasswordFile.value) throw new FleetgateError("bad_input", "--store-password-file is for a PostgreSQL store: give --store postgres://… too");
    return undefined;
  }
  const postgres = postgresStoreSettings(url, s.storePasswordFile.value);
  const id = s.id.value.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._:-]{0,62}$/.test(id)) throw new FleetgateError("bad_input", `--id ${JSON.stringify(id)}: letters, digits, dots, dashes, underscores and colons, at most 63`);
  const advertise = s.advertise.value ?? advertisedAddress(listen);
  if (!/^[^\s:]+:\d+$/.test(advertise) && !/^\[[^\]]+\]:\d+$/.test(advertise)) throw new FleetgateError("bad_input", `--advertise ${JSON.stringify(advertise)}: expected host:port, the address agents and the CLI dial this coordinator by`);
  const leaseMs = durationFlag("--lease", s.lease.value);
  leaseTimings({ leaseMs });
  return { postgres, ha: { id, advertise, timings: { leaseMs } } };
}

/** Where agents reach a coordinator listening on `listen`: that address, or this host's name for a wildcard. */
export function advertisedAddress(listen: string): string {
  const cut = listen.lastIndexOf(":");
  const host = listen.slice(0, cut);
  const wildcard = host === "" || host === "0.0.0.0" || host === "[::]" || host === "::";
  return wildcard ? `${hostname()}:${listen.slice(cut + 1)}` : listen;
}

/** The options of `coord serve`, also taken by `coord config check`. */
export function addServeOptions(cmd: Command): Command {
  return cmd
    .option("--config <file>", "coord.yaml with the settings below; env variables override it, flags override both")
    .option("--listen <host:port>", `address to listen on (default ${DEFAULT_COORDINATOR})`)
    .option("--state-dir <dir>", `coord.db, admin.token, runs/ (env FLEETGATE_STATE_DIR, default ${DEFAULT_STATE_DIR})`)
    .option("--lost-after <duration>", "a node with work not heard from this long is lost (default 25s: with 5s heartbeats, lost within 30s of dying or losing its link)")
    .option("--heartbeat <duration>", "how often agents say they are alive (default 5s)")
    .option("--signing-key <file>", "sign each evidence bundle's manifest with this ed25519 key (make one with: coord keygen --out DIR)")
    .option("--min-free <size>", `refuse to start a run with less free space under the evidence dir, e.g. 1GiB (default ${formatSize(DEFAULT_MIN_FREE_BYTES).replace(" ", "")})`)
    .option("--insecure", "serve plaintext gRPC instead of TLS; every run, report and coord nodes then says INSECURE")
    .option("--tls-cert <file>", "your own server certificate (PEM), with --tls-key; default: one issued at each start from STATE_DIR/tls/ca.key")
    .option("--tls-key <file>", "the private key of --tls-cert (PEM)")
    .option("--san <name>", "another DNS name or IP address for the issued server certificate (repeatable)", (v: string, all: string[]) => [...all, v], [] as string[])
    .option("--node-cert-ttl <duration>", "lifetime of node client certificates; renewed past half of it (default 7d)")
    .option("--metrics-listen <host:port>", "serve Prometheus /metrics, /healthz and /readyz over plain HTTP here, e.g. 127.0.0.1:9464 (env FLEETGATE_METRICS_LISTEN; default: none)")
    .option("--tailscale-tag <tag>", "the Tailscale ACL tag of fleet machines, e.g. tag:fleet: tagged peers of this host's tailnet with no registered agent are listed by coord nodes --missing, in every run report, and alerted (env FLEETGATE_TAILSCALE_TAG; default: none)")
    .option("--tailscale-socket <path>", `tailscaled's LocalAPI socket on this host (env FLEETGATE_TAILSCALE_SOCKET, default ${DEFAULT_TAILSCALED_SOCKET})`)
    .option("--store <url>", "postgres://user@host:port/database: keep the state in PostgreSQL, shared with standby coordinators (env FLEETGATE_STORE; default: SQLite in STATE_DIR/coord.db). No password in it: see --store-password-file")
    .option("--store-password-file <file>", "the PostgreSQL password, alone in a file (default: PGPASSFILE or ~/.pgpass, as libpq)")
    .option("--id <name>", "this coordinator among those sharing a PostgreSQL store (default: the host name)")
    .option("--advertise <host:port>", "the address agents and the CLI dial this coordinator by; standbys send them here (default: --listen, or the host name and port when listening on every address)")
    .option("--lease <duration>", `with --store postgres: how long the active coordinator's lease lasts; a standby takes over within it after the active one dies (default ${DEFAULT_TIMINGS.leaseMs / 1000}s)`)
    .option("--evidence-dir <dir>", "where evidence bundles go (default STATE_DIR/runs); with standby coordinators, a directory all of them can read and write");
}
