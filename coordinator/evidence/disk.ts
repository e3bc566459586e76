// Free space under the evidence root, checked before a run starts: a bundle that cannot be
// written is evidence lost after the fact.
import { statfsSync } from "node:fs";
import { dirname } from "node:path";
import { FleetgateError } from "../../shared/errors.js";

export const DEFAULT_MIN_FREE_BYTES = 256 * 1024 * 1024;
const MiB = 1024 * 1024;

/** What statfs says, reduced to what matters: bytes an unprivileged writer may still use. */
export type FreeBytesProbe = (dir: string) => number;

export const statfsFreeBytes: FreeBytesProbe = (dir) => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};

/** Pure: the refusal when `freeBytes` is below `minFreeBytes`, else undefined. */
export function freeSpaceError(dir: string, freeBytes: number, minFreeBytes: number): FleetgateError | undefined {
  if (freeBytes >= minFreeBytes) return undefined;
  return new FleetgateError(
    "conflict",
    `only ${Math.floor(freeBytes / MiB)} MiB free under ${dir}; need ${Math.ceil(minFreeBytes / MiB)} MiB: prune old runs with coord prune, or free space`,
  );
}

/** Throws FleetgateError("conflict") when the filesystem holding `dir` has less than `minFreeBytes` free. */
export function checkFreeSpace(dir: string, minFreeBytes: number, probe: FreeBytesProbe = statfsFreeBytes): void {
  // The evidence root may not exist before the first bundle: measure its nearest existing ancestor.
  let at = dir;
  for (;;) {
    try {
      const err = freeSpaceError(dir, probe(at), minFreeBytes);
      if (err) throw err;
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT" || dirname(at) === at) throw err;
      at = dirname(at);
    }
  }
}
