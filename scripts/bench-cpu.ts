// CPU accounting for `npm run bench`, from /proc (Linux): how much CPU our processes used, and how
// busy the whole host was meanwhile, so a figure taken while other work ran is seen as such.
import { readFileSync } from "node:fs";

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU seconds used by a process and the children it has reaped (an agent's checks); undefined off Linux. */
export function processCpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number); // f[0] is field 3, state
    return ((f[11] ?? 0) + (f[12] ?? 0) + (f[13] ?? 0) + (f[14] ?? 0)) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds used by the children this process has waited for (cutime + cstime of /proc/self/stat):
 * read before and after a child runs to completion, the difference is that child's CPU, GC and
 * start included. Undefined off Linux.
 */
export function reapedChildrenCpuSeconds(): number | undefined {
  try {
    const stat = readFileSync("/proc/self/stat", "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ").map(Number);
    return ((f[13] ?? 0) + (f[14] ?? 0)) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

export interface HostCpu {
  /** CPU seconds all processes on the host spent not idle, summed over cores. */
  busy: number;
  total: number;
}

export function hostCpu(): HostCpu | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number); // user nice system idle iowait irq softirq steal
    const total = v.reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** Fraction (0..1) of all cores the host kept busy between two readings. */
export function busyFraction(before?: HostCpu, after?: HostCpu): number | undefined {
  if (!before || !after || after.total <= before.total) return undefined;
  return (after.busy - before.busy) / (after.total - before.total);
}
