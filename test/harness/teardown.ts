// Removing what a fleet made: processes in its namespaces, the namespaces, veths and the bridge.
// One list of steps, run async by cleanup() and synchronously by the process-exit safety net.
import { readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { host, hostSync, parseLinkNames, parseNetnsList } from "./host-commands.js";
import { parseHarnessName } from "./names.js";
import { pidAlive, readClaims, releaseClaim } from "./claims.js";

export interface NetworkObjects {
  netns: string[];
  /** Host-side veths first, bridges last (deleting one end of a veth deletes both). */
  links: string[];
}

/** Argv lists that remove the objects; the pids found in each namespace are killed before. */
function removalSteps(o: NetworkObjects): { netnsDel: string[][]; linkDel: string[][] } {
  return {
    netnsDel: o.netns.map((ns) => ["ip", "netns", "del", ns]),
    linkDel: o.links.map((l) => ["ip", "link", "del", l]),
  };
}

function pidsOf(text: string | undefined): number[] {
  return (text ?? "")
    .split(/\s+/)
    .map(Number)
    .filter((p) => Number.isInteger(p) && p > 0);
}

function killAll(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * Kills every process still in the namespaces (all were started by the harness there), then
 * deletes namespaces and links. Things already gone are fine: teardown is idempotent.
 */
export async function removeNetworkObjects(o: NetworkObjects): Promise<void> {
  for (const ns of o.netns) killAll(pidsOf(await host(["ip", "netns", "pids", ns], { allowFailure: true })));
  const steps = removalSteps(o);
  for (const argv of [...steps.netnsDel, ...steps.linkDel]) await host(argv, { allowFailure: true });
}

export function removeNetworkObjectsSync(o: NetworkObjects): void {
  for (const ns of o.netns) killAll(pidsOf(hostSync(["ip", "netns", "pids", ns])));
  const steps = removalSteps(o);
  for (const argv of [...steps.netnsDel, ...steps.linkDel]) hostSync(argv);
}

/** What is left on the host from fleet `id` (or from every fleet when `id` is omitted). */
export async function harnessObjects(id?: string): Promise<NetworkObjects> {
  const netns = parseNetnsList((await host(["ip", "netns", "list"])) ?? "");
  const links = parseLinkNames((await host(["ip", "-o", "link", "show"])) ?? "");
  const mine = (name: string) => {
    const parsed = parseHarnessName(name);
    return parsed !== undefined && (id === undefined || parsed.id === id);
  };
  const bridgesLast = (a: string, b: string) => Number(parseHarnessName(a)?.kind === "bridge") - Number(parseHarnessName(b)?.kind === "bridge");
  return { netns: netns.filter(mine), links: links.filter(mine).sort(bridgesLast) };
}

/**
 * Removes fleets left by test processes that died without cleaning up (SIGKILL, OOM, a crashed
 * worker): their claim's pid is gone, or they have no claim at all and their namespace is older
 * than this process. Fleets of live processes, e.g. a test file running in parallel, are kept.
 */
export async function sweepStaleFleets(processStartMs: number): Promise<string[]> {
  // List objects before reading claims: a fleet claims its subnet before it creates anything, so
  // any object listed here already has its claim on disk by the time the claims are read.
  const found = await harnessObjects();
  const claims = readClaims();
  const live = new Set(claims.filter((c) => pidAlive(c.pid)).map((c) => c.id));
  const dead = claims.filter((c) => !live.has(c.id));
  const deadIds = new Set(dead.map((c) => c.id));
  const idOf = (name: string) => parseHarnessName(name)?.id ?? "";
  const olderThanUs = (ns: string) => {
    try {
      return statSync(`/run/netns/${ns}`).mtimeMs < processStartMs;
    } catch {
      return true;
    }
  };
  const netns = found.netns.filter((ns) => deadIds.has(idOf(ns)) || (!live.has(idOf(ns)) && olderThanUs(ns)));
  const links = found.links.filter((l) => !live.has(idOf(l)));
  await removeNetworkObjects({ netns, links });
  const ids = new Set([...dead.map((c) => c.id), ...netns.map(idOf), ...links.map(idOf)].filter(Boolean));
  removeWorkDirs(ids);
  // Only now may another fleet take these subnets: their bridges, holding the addresses, are gone.
  for (const c of dead) releaseClaim(c);
  return [...ids].sort();
}

/** Work dirs are `${tmpdir()}/${WORK_DIR_PREFIX}ID-XXXXXX` (coordinator state, agent spools, identity files). */
export const WORK_DIR_PREFIX = "fleetgate-netns-";

function removeWorkDirs(ids: ReadonlySet<string>): void {
  for (const name of readdirSync(tmpdir())) {
    const id = name.startsWith(WORK_DIR_PREFIX) ? name.slice(WORK_DIR_PREFIX.length).split("-")[0] : undefined;
    if (id && ids.has(id)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}
