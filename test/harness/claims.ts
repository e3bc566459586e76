// Which fleet owns which 10.231.OCTET.0/24, recorded as one file per octet. Hard-linking a fully
// written temp file to the octet's name is the atomic claim (link fails if the name exists, and a
// reader never sees a half-written claim) that lets fleets in concurrent test processes pick
// distinct subnets; the pid inside tells a later run whether the owner is alive or left it behind.
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { randomInt } from "node:crypto";
import { join } from "node:path";
import { FIRST_OCTET, LAST_OCTET, SUBNET_PREFIX } from "./names.js";

/** On tmpfs, like /run/netns itself: both vanish on reboot, so a claim never outlives its namespaces. */
export const CLAIMS_DIR = "/run/fleetgate-harness";

export interface Claim {
  id: string;
  octet: number;
  pid: number;
  file: string;
}

function claimFile(octet: number, dir: string): string {
  return join(dir, `${SUBNET_PREFIX}.${octet}`);
}

export function pidAlive(pid: number): boolean {
  // kill(0) or kill(-1) would probe a whole process group or every process: never "this owner".
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Claims a free octet, starting at a random one so concurrent fleets rarely even contend. */
export function claimSubnet(id: string, dir = CLAIMS_DIR, pid = process.pid): Claim {
  mkdirSync(dir, { recursive: true });
  const count = LAST_OCTET - FIRST_OCTET + 1;
  const start = randomInt(count);
  const draft = join(dir, `.draft-${id}-${pid}`);
  writeFileSync(draft, JSON.stringify({ id, pid }));
  try {
    for (let k = 0; k < count; k++) {
      const octet = FIRST_OCTET + ((start + k) % count);
      const file = claimFile(octet, dir);
      try {
        linkSync(draft, file);
        return { id, octet, pid, file };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
  } finally {
    rmSync(draft, { force: true });
  }
  throw new Error(`netns harness: all ${count} subnets of ${SUBNET_PREFIX}.0.0/16 are claimed (see ${dir}); remove stale claims or reboot`);
}

export function releaseClaim(claim: Claim): void {
  rmSync(claim.file, { force: true });
}

/** Every claim on record; an unreadable one counts as owned by no live process. */
export function readClaims(dir = CLAIMS_DIR): Claim[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const octet = Number(name.slice(SUBNET_PREFIX.length + 1));
    if (!name.startsWith(`${SUBNET_PREFIX}.`) || !Number.isInteger(octet)) return [];
    const file = join(dir, name);
    try {
      const { id, pid } = JSON.parse(readFileSync(file, "utf8")) as { id: string; pid: number };
      return [{ id: String(id), pid: Number(pid), octet, file }];
    } catch {
      return [{ id: "", pid: 0, octet, file }];
    }
  });
}
