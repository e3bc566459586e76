import { readFile } from "node:fs/promises";
import { checkNumberBounds, showMeasured } from "../../shared/model/bounds.js";
import { parseMeminfo } from "../../shared/facts.js";
import { MemorySpecSchema, type MemorySpec } from "../../shared/model/kinds/memory.js";
import { checkSizeBounds, formatSize } from "../../shared/model/sizes.js";
import type { CheckKind, Verdict } from "./kind.js";

export interface MemoryObserved {
  totalBytes: number;
  /** MemAvailable: what can be had without swapping, page cache included. */
  availableBytes: number;
  freeBytes: number;
}

/** The node's RAM, from /proc/meminfo: no process is started. */
export async function measureMemory(): Promise<MemoryObserved> {
  return parseMeminfo(await readFile("/proc/meminfo", "utf8"));
}

/** Percent of RAM not available: cache the kernel can drop does not count as used. */
export function usedPercent(seen: MemoryObserved): number {
  return seen.totalBytes > 0 ? ((seen.totalBytes - seen.availableBytes) / seen.totalBytes) * 100 : 0;
}

function evaluateMemory(spec: MemorySpec, seen: MemoryObserved): Verdict {
  for (const [field, bytes] of [["available", seen.availableBytes], ["free", seen.freeBytes]] as const) {
    const bounds = spec[field];
    if (!bounds) continue;
    const m = checkSizeBounds(bounds, bytes);
    if (!m.ok) return { passed: false, summary: `expected ${field} memory ${m.expected}, saw ${m.seen}` };
  }
  const used = usedPercent(seen);
  if (spec.used_percent) {
    const m = checkNumberBounds(spec.used_percent, used);
    if (!m.ok) return { passed: false, summary: `expected memory used_percent ${m.expected}, saw ${showMeasured(used, m)}` };
  }
  const total = formatSize(seen.totalBytes);
  return { passed: true, summary: `${formatSize(seen.availableBytes)} available of ${total} (${Number(used.toFixed(1))}% used)` };
}

export const memoryCheck: CheckKind<MemorySpec, MemoryObserved> = {
  kind: "memory",
  schema: MemorySpecSchema,
  observe: () => measureMemory(),
  evaluate: evaluateMemory,
  evidence: (seen) => ({ stdout: `${JSON.stringify(seen)}\n`, stderr: "" }),
};
