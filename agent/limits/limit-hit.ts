// Pure: whether a check process ended because of one of its limits, and the message that says
// which. A limit hit is never a pass: the check reports failed with this message.
import { describeCpuLimit, describeMemoryLimit, type ProcessLimits } from "../../shared/model/check-limits.js";
import { CPU_HARD_GRACE_S } from "./prlimit.js";

export interface EndedProcess {
  exitCode: number | null;
  signal: string | null;
  /** The kept end of its stderr. */
  stderr: string;
  timedOut: boolean;
  /** The agent killed it (a cancelled task, a stopping agent): no limit did. */
  killedByAgent: boolean;
}

// What programs print when an allocation fails: the only way RLIMIT_DATA shows (malloc returns
// NULL, mmap ENOMEM; the kernel sends no signal). Python, Node/V8, glibc/coreutils, bash, C++,
// Java, Go, Rust.
const ALLOCATION_FAILED =
  /MemoryError|allocation failed|could not allocate|failed to allocate|cannot allocate memory|out of memory|memory exhausted|bad_alloc|OutOfMemoryError|memory allocation of \d+ bytes failed/i;

/** Signals a program may die of when an allocation it did not check for failed. */
const CRASH_SIGNALS = new Set(["SIGSEGV", "SIGABRT", "SIGBUS", "SIGTRAP"]);

function lastMatchingLine(text: string, pattern: RegExp): string | undefined {
  const lines = text.split("\n").filter((l) => pattern.test(l));
  const line = lines[lines.length - 1]?.trim();
  return line === undefined ? undefined : line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** Why the limits ended the process, or undefined when they did not (as far as can be told). */
export function limitHit(p: EndedProcess, limits: ProcessLimits): string | undefined {
  if (p.timedOut || p.killedByAgent) return undefined;
  if (limits.cpuSeconds > 0) {
    const cpu = describeCpuLimit(limits.cpuSeconds);
    if (p.signal === "SIGXCPU") return `killed by SIGXCPU: ${cpu} exceeded`;
    // RLIMIT_CPU's hard limit; the agent did not send it, and nothing else in fleetgate does.
    if (p.signal === "SIGKILL") return `killed by SIGKILL: ${cpu} exceeded (SIGXCPU ignored, hard limit ${limits.cpuSeconds + CPU_HARD_GRACE_S} s reached), unless the kernel's OOM killer sent it`;
  }
  if (limits.memoryBytes > 0 && (p.exitCode !== 0 || p.signal)) {
    const memory = describeMemoryLimit(limits.memoryBytes);
    const said = lastMatchingLine(p.stderr, ALLOCATION_FAILED);
    if (said) return `${memory} exceeded: an allocation failed${p.signal ? ` and it was killed by ${p.signal}` : `, exit ${p.exitCode}`}: ${said}`;
    if (p.signal && CRASH_SIGNALS.has(p.signal)) return `killed by ${p.signal}, with a ${memory} in effect: an allocation beyond it fails, which some programs crash on`;
  }
  return undefined;
}
