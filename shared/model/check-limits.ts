// CPU and memory limits on a check's processes, so a runaway check cannot take the agent or the
// node down. The agent has a default for every check (`--check-cpu-limit`, `--check-memory-limit`);
// a check's `limits:` block replaces it, for that check only. 0 means no limit.
import { z } from "zod";
import { DURATION_PATTERN, parseDuration } from "../durations.js";
import { FleetgateError } from "../errors.js";
import { formatSize, parseSize, SizeSchema, type Size } from "./sizes.js";

/** Below this no program starts (the dynamic loader alone maps a few MiB): a typo, not a limit. */
export const MIN_MEMORY_LIMIT_BYTES = 16 * 2 ** 20;

const TOO_SMALL = `a memory limit below ${formatSize(MIN_MEMORY_LIMIT_BYTES)} leaves no program room to start; give at least 16MiB, or 0 for no limit`;
const tooSmall = (bytes: number) => bytes !== 0 && bytes < MIN_MEMORY_LIMIT_BYTES;

/** For the refinement only: a malformed size is the size schema's error, not this one's. */
function sizeOrZero(v: Size): number {
  try {
    return parseSize(v);
  } catch {
    return 0;
  }
}

/** `limits: { cpu: 30s, memory: 512MiB }` on a check, a `then:`, a cross step or a matrix leg. */
export const LimitsSchema = z.strictObject({
  /** CPU time each of the check's processes may use (RLIMIT_CPU, whole seconds, rounded up); 0: none. */
  cpu: z.union([z.literal(0), z.string().regex(DURATION_PATTERN)], { error: "expected a CPU time like 30s, 5m, or 0 for no limit" }).optional(),
  /** Memory each of the check's processes may allocate (RLIMIT_DATA); 0: none. */
  memory: SizeSchema.refine((v) => !tooSmall(sizeOrZero(v)), { message: TOO_SMALL }).optional(),
});
export type LimitsDef = z.infer<typeof LimitsSchema>;

/** Limits in numbers: CPU seconds and bytes; 0 is no limit, undefined is "the agent's default". */
export interface CheckLimits {
  cpuSeconds?: number;
  memoryBytes?: number;
}

/** Limits as they apply to one process: both set, 0 meaning none. */
export type ProcessLimits = Required<CheckLimits>;

export const NO_LIMITS: ProcessLimits = { cpuSeconds: 0, memoryBytes: 0 };

/** RLIMIT_CPU counts whole seconds: 500ms is 1 s, never 0 (which would mean no limit). */
export function cpuSeconds(duration: string | 0): number {
  if (duration === 0) return 0;
  const ms = parseDuration(duration);
  return ms === 0 ? 0 : Math.ceil(ms / 1000);
}

export function resolveLimits(def: LimitsDef | undefined): CheckLimits | undefined {
  if (!def) return undefined;
  return {
    cpuSeconds: def.cpu === undefined ? undefined : cpuSeconds(def.cpu),
    memoryBytes: def.memory === undefined ? undefined : parseSize(def.memory),
  };
}

/** What a check runs with: its own limits where it sets them, the agent's default otherwise. */
export function effectiveLimits(agent: ProcessLimits, check: CheckLimits | undefined): ProcessLimits {
  return { cpuSeconds: check?.cpuSeconds ?? agent.cpuSeconds, memoryBytes: check?.memoryBytes ?? agent.memoryBytes };
}

/** "CPU limit 60 s" / "memory limit 4 GiB", as messages name them. */
export function describeCpuLimit(seconds: number): string {
  return `CPU limit ${seconds} s`;
}
export function describeMemoryLimit(bytes: number): string {
  return `memory limit ${formatSize(bytes)}`;
}

/** `--check-cpu-limit 10m`: the agent's default CPU limit per check process. */
export function parseCpuLimitFlag(flag: string, text: string): number {
  try {
    return text.trim() === "0" ? 0 : cpuSeconds(text);
  } catch (err) {
    throw new FleetgateError("bad_input", `${flag}: ${(err as Error).message} (0: no limit)`);
  }
}

/** `--check-memory-limit 2GiB`: the agent's default memory limit per check process. */
export function parseMemoryLimitFlag(flag: string, text: string | number): number {
  let bytes: number;
  try {
    bytes = parseSize(text);
  } catch (err) {
    throw new FleetgateError("bad_input", `${flag}: ${(err as Error).message}, or 0 for no limit`);
  }
  if (tooSmall(bytes)) throw new FleetgateError("bad_input", `${flag}: ${formatSize(bytes)}: ${TOO_SMALL}`);
  return bytes;
}

/** The agent's default CPU limit per check process: far above what a lifecycle check uses. */
export const DEFAULT_CHECK_CPU_LIMIT = "10m";

/**
 * The agent's default memory limit per check process: half the node's memory, at most 4 GiB.
 * A fixed 4 GiB would not protect a 2 GiB node; half leaves the node's own services room.
 */
export function defaultCheckMemoryBytes(totalMemoryBytes: number): number {
  return Math.min(4 * 2 ** 30, Math.floor(totalMemoryBytes / 2 / 2 ** 20) * 2 ** 20);
}
