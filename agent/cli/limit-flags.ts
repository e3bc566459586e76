// `--check-cpu-limit` and `--check-memory-limit`, shared by `run` and `check`, so a suite run
// locally is limited as the daemon limits it.
import { totalmem } from "node:os";
import type { Command } from "commander";
import {
  DEFAULT_CHECK_CPU_LIMIT,
  defaultCheckMemoryBytes,
  parseCpuLimitFlag,
  parseMemoryLimitFlag,
  type ProcessLimits,
} from "../../shared/model/check-limits.js";
import type { Size } from "../../shared/model/sizes.js";

export interface CheckLimitFlags {
  checkCpuLimit?: string;
  checkMemoryLimit?: string;
}

/** From the flags, else agent.yaml, else the defaults. */
export function checkLimits(flags: CheckLimitFlags, config: { check_cpu_limit?: string | 0; check_memory_limit?: Size } = {}): ProcessLimits {
  const cpu = flags.checkCpuLimit ?? config.check_cpu_limit ?? DEFAULT_CHECK_CPU_LIMIT;
  const memory = flags.checkMemoryLimit ?? config.check_memory_limit;
  return {
    cpuSeconds: parseCpuLimitFlag("--check-cpu-limit", String(cpu)),
    memoryBytes: memory === undefined ? defaultCheckMemoryBytes(totalmem()) : parseMemoryLimitFlag("--check-memory-limit", memory),
  };
}

export function addCheckLimitOptions(cmd: Command): Command {
  return cmd
    .option(
      "--check-cpu-limit <duration>",
      `CPU time each check process may use (RLIMIT_CPU via prlimit; SIGXCPU, then SIGKILL 5 s later); a check's limits: cpu replaces it; 0: none (default ${DEFAULT_CHECK_CPU_LIMIT})`,
    )
    .option(
      "--check-memory-limit <size>",
      "memory each check process may allocate (RLIMIT_DATA via prlimit, e.g. 2GiB); a check's limits: memory replaces it; 0: none (default half the node's memory, at most 4GiB)",
    );
}
