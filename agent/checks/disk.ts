import { statfs } from "node:fs/promises";
import { checkNumberBounds, showMeasured } from "../../shared/model/bounds.js";
import { DiskSpecSchema, type DiskSpec } from "../../shared/model/kinds/disk.js";
import { checkSizeBounds, formatSize } from "../../shared/model/sizes.js";
import { withDeadline } from "./deadline.js";
import type { CheckKind, Verdict } from "./kind.js";

export type DiskObserved =
  | { path: string; freeBytes: number; totalBytes: number; usedPercent: number }
  | { path: string; error: string };

/** Room on the filesystem holding `path`, the way df reports it. */
export async function measureDisk(path: string): Promise<DiskObserved> {
  try {
    const fs = await statfs(path);
    // bavail, not bfree: root's reserved blocks are no headroom for bitcoind or podman. df's "Avail".
    const freeBytes = fs.bavail * fs.bsize;
    const usedBytes = (fs.blocks - fs.bfree) * fs.bsize;
    // df's Use%: used / (used + available), so the reserve counts as neither.
    const usedPercent = usedBytes + freeBytes > 0 ? (usedBytes / (usedBytes + freeBytes)) * 100 : 0;
    return { path, freeBytes, totalBytes: fs.blocks * fs.bsize, usedPercent };
  } catch (err) {
    return { path, error: (err as NodeJS.ErrnoException).code ?? String(err) };
  }
}

function evaluateDisk(spec: DiskSpec, seen: DiskObserved): Verdict {
  if ("error" in seen) return { passed: false, summary: `cannot read free space of ${spec.path}: ${seen.error}` };
  if (spec.free) {
    const free = checkSizeBounds(spec.free, seen.freeBytes);
    if (!free.ok) return { passed: false, summary: `expected free ${free.expected} on ${spec.path}, saw ${free.seen}` };
  }
  if (spec.used_percent) {
    const used = checkNumberBounds(spec.used_percent, seen.usedPercent);
    if (!used.ok) return { passed: false, summary: `expected used_percent ${used.expected} on ${spec.path}, saw ${showMeasured(seen.usedPercent, used)}` };
  }
  const percent = Number(seen.usedPercent.toFixed(1));
  return { passed: true, summary: `${formatSize(seen.freeBytes)} free of ${formatSize(seen.totalBytes)} (${percent}% used) on ${spec.path}` };
}

export const diskCheck: CheckKind<DiskSpec, DiskObserved> = {
  kind: "disk",
  schema: DiskSpecSchema,
  observe: (spec, ctx) => withDeadline(measureDisk(spec.path), ctx.timeoutMs, () => ({ path: spec.path, error: `timed out after ${ctx.timeoutMs} ms` })),
  evaluate: evaluateDisk,
  evidence: (seen) => ({ stdout: `${JSON.stringify(seen)}\n`, stderr: "" }),
};
