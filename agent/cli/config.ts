// /etc/fleetgate/agent.yaml: the same settings as the `run` flags; env variables override it and
// flags override both (settings.ts).
import { existsSync, readFileSync } from "node:fs";
import { FleetgateError } from "../../shared/errors.js";
import { z } from "zod";
import { DurationSchema } from "../../shared/model/check-schema.js";
import { SizeSchema } from "../../shared/model/sizes.js";
import { YamlSource } from "../../shared/model/yaml-source.js";
import { parseCoordinatorList } from "../../shared/coordinator-list.js";

export const DEFAULT_AGENT_CONFIG = "/etc/fleetgate/agent.yaml";

/** One coordinator, "a:7400,b:7400", or a list: tried in order (issue 19); checked here so a bad entry gets its line. */
const CoordinatorSchema = z.union([z.string(), z.array(z.string())], { error: "expected HOST:PORT, several as a:7400,b:7400, or a list of HOST:PORT" }).superRefine((value, ctx) => {
  try {
    parseCoordinatorList(value);
  } catch (err) {
    ctx.addIssue({ code: "custom", message: (err as Error).message });
  }
});

const AgentConfigSchema = z.strictObject({
  coordinator: CoordinatorSchema.optional(),
  token: z.string().optional(),
  token_file: z.string().optional(),
  /** The coordinator's CA certificate file (--ca). */
  ca: z.string().optional(),
  /** Plaintext gRPC to a coordinator started with --insecure. */
  insecure: z.boolean().optional(),
  name: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  state_dir: z.string().optional(),
  /** Take fault steps (partitions, kill_agent): test networks only. */
  allow_faults: z.boolean().optional(),
  /** On SIGTERM, how long the running task may go on before its checks are killed (default 30s). */
  stop_grace: DurationSchema.optional(),
  /** Disk the spool of unacknowledged results may take (default 1 GiB); when full, new tasks are refused. */
  spool_max: SizeSchema.optional(),
  /** The agent's own memory ceiling (default 1 GiB; 0: none): above it, it restarts cleanly (exit 75). */
  max_memory: SizeSchema.optional(),
  /** CPU time each check process may use (default 10m; 0: none); a check's limits: cpu replaces it. */
  check_cpu_limit: z.union([z.literal(0), DurationSchema]).optional(),
  /** Memory each check process may allocate (default half the node's memory, at most 4 GiB; 0: none). */
  check_memory_limit: SizeSchema.optional(),
  /** At most this many checks of a task at once (default twice the cores, at most 8); a suite's concurrency: may lower it. */
  concurrency: z.number().int().min(1).optional(),
  /** Packages whose installed versions are reported in the node's facts (for coord diff). */
  packages: z.array(z.string().min(1)).optional(),
  /** HOST:PORT of a plain HTTP listener for Prometheus /metrics and /healthz; none when unset. */
  metrics_listen: z.string().optional(),
  /** tailscaled's LocalAPI socket, read for the node's Tailscale DNS name and IPs (its identity). */
  tailscale_socket: z.string().optional(),
});
export type AgentConfig = z.infer<typeof AgentConfigSchema>;

/** A missing default config is fine; a missing config the user named is an error. */
export function loadAgentConfig(path: string, required: boolean): AgentConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw err;
  }
  return YamlSource.parse(text, path).validate(AgentConfigSchema);
}

/**
 * The enrollment token in `file`; undefined when the file is gone or empty, which is fine once the node
 * token from the first registration is in the state dir (the agent's unit starts on either).
 * A file that is there and cannot be read is an error.
 */
export function readTokenFile(file: string | undefined): string | undefined {
  if (file === undefined || !existsSync(file)) return undefined;
  try {
    return readFileSync(file, "utf8").trim() || undefined;
  } catch (err) {
    throw FleetgateError.from(err, "bad_input", `cannot read token file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
