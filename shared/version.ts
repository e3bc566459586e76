// The one place fleetgate's version comes from: package.json's "version", plus the git revision
// when it runs from a checkout ("0.1.0+g87f41e3"). The one-file agent has no package.json or
// .git beside it: its build defines __FLEETGATE_VERSION__ with the same string.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

declare const __FLEETGATE_VERSION__: string | undefined;

const PACKAGE_NAME = "fleetgate";

/** The nearest directory at or above `from` whose package.json is fleetgate's. */
function packageRoot(from: string): { root: string; version: string } | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { name?: string; version?: string };
      if (pkg.name === PACKAGE_NAME && pkg.version) return { root: dir, version: pkg.version };
    } catch {
      // not here: keep walking up
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/** The commit `.git/HEAD` points at, read without running git; undefined outside a checkout. */
export function gitRevision(root: string): string | undefined {
  const gitDir = join(root, ".git");
  try {
    const head = readFileSync(join(gitDir, "HEAD"), "utf8").trim();
    if (!head.startsWith("ref: ")) return /^[0-9a-f]{40}$/.test(head) ? head : undefined;
    const ref = head.slice(5);
    try {
      return readFileSync(join(gitDir, ref), "utf8").trim();
    } catch {
      // a packed ref: "<sha> <ref>" lines in packed-refs
      const packed = readFileSync(join(gitDir, "packed-refs"), "utf8");
      return packed.split("\n").find((line) => line.endsWith(` ${ref}`))?.split(" ")[0];
    }
  } catch {
    return undefined;
  }
}

/** "0.1.0" or, from a checkout, "0.1.0+g1a2b3c4" (semver build metadata: same release). */
export function versionString(version: string, revision: string | undefined): string {
  return revision ? `${version}+g${revision.slice(0, 7)}` : version;
}

function readVersion(): string {
  const found = packageRoot(dirname(fileURLToPath(import.meta.url)));
  if (!found) return "0.0.0-unknown";
  return versionString(found.version, gitRevision(found.root));
}

export const FLEETGATE_VERSION: string = typeof __FLEETGATE_VERSION__ === "string" ? __FLEETGATE_VERSION__ : readVersion();

/** The release part of a version string, without build metadata: "0.1.0+g1a2b3c4" → "0.1.0". */
export function releaseOf(version: string): string {
  return version.split("+")[0]!;
}

interface Release {
  core: [number, number, number];
  pre: string[];
}

function parseRelease(version: string): Release | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/.exec(releaseOf(version).trim());
  if (!m) return undefined;
  return { core: [Number(m[1]), Number(m[2]), Number(m[3])], pre: m[4] ? m[4].split(".") : [] };
}

/** One semver prerelease identifier against another: numbers below words, numbers by value. */
function comparePre(a: string, b: string): number {
  const [na, nb] = [/^\d+$/.test(a), /^\d+$/.test(b)];
  if (na && nb) return Math.sign(Number(a) - Number(b));
  if (na !== nb) return na ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Semver order of two releases, build metadata ignored ("0.1.0+g1a2b3c4" is 0.1.0): negative when
 * `a` is older, 0 the same release, positive when newer; undefined when either is not a version.
 */
export function compareReleases(a: string, b: string): number | undefined {
  const [ra, rb] = [parseRelease(a), parseRelease(b)];
  if (!ra || !rb) return undefined;
  for (let i = 0; i < 3; i++) if (ra.core[i] !== rb.core[i]) return Math.sign(ra.core[i]! - rb.core[i]!);
  // A prerelease comes before its release (0.2.0-rc.1 < 0.2.0).
  if (!ra.pre.length || !rb.pre.length) return ra.pre.length ? -1 : rb.pre.length ? 1 : 0;
  for (let i = 0; i < Math.min(ra.pre.length, rb.pre.length); i++) {
    const c = comparePre(ra.pre[i]!, rb.pre[i]!);
    if (c) return c;
  }
  return Math.sign(ra.pre.length - rb.pre.length);
}

/** An agent release older than the coordinator's (coord nodes: outdated); an agent that sent no version is not judged. */
export function isOutdated(agentVersion: string, coordinatorVersion: string): boolean {
  return (compareReleases(agentVersion, coordinatorVersion) ?? 0) < 0;
}
