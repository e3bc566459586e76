// Names and addresses of one netns fleet. Pure, so the naming rules (and the 15-character limit
// Linux puts on interface names) are tested without creating anything.
import { randomInt } from "node:crypto";

/** Every namespace, link and claim the harness makes starts with this, so leftovers are findable. */
export const HARNESS_PREFIX = "fg-";
/**
 * Fleets live in 10.231.OCTET.0/24, one /24 per fleet. Concurrent test files run concurrent fleets,
 * so each fleet claims its own third octet (claims.ts) instead of all sharing 10.231.0.0/24 behind
 * a lock: a lock would serialize whole test files on a 2-core machine for no reason, while distinct
 * /24s on distinct bridges never see each other's traffic or ARP.
 */
export const SUBNET_PREFIX = "10.231";
export const FIRST_OCTET = 1;
export const LAST_OCTET = 254;
/** Enough for any scenario; keeps host-side veth names within 15 characters. */
export const MAX_NODES = 50;
/** Inside its namespace every node's link is called eth0, like on a real host. */
export const NODE_LINK = "eth0";

const ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789";
const ID_LENGTH = 5;
const NAME = {
  netns: /^fg-([a-z0-9]{5})-(\d{1,2})$/,
  hostVeth: /^fg-([a-z0-9]{5})-(\d{1,2})h$/,
  bridge: /^fg-br-([a-z0-9]{5})$/,
};

/** A short random id: 36^5 ≈ 60 million, so two live fleets practically never pick the same one. */
export function newFleetId(pick: (n: number) => number = randomInt): string {
  return Array.from({ length: ID_LENGTH }, () => ID_ALPHABET[pick(ID_ALPHABET.length)]).join("");
}

export interface FleetNames {
  id: string;
  bridge: string;
  /** Network namespace of node `index` (1-based). */
  netns(index: number): string;
  /** Root-namespace end of node `index`'s veth pair, enslaved to the bridge. */
  hostVeth(index: number): string;
}

export function fleetNames(id: string): FleetNames {
  if (!/^[a-z0-9]{5}$/.test(id)) throw new Error(`fleet id must be ${ID_LENGTH} characters of [a-z0-9], got "${id}"`);
  const checkIndex = (i: number) => {
    if (!Number.isInteger(i) || i < 1 || i > MAX_NODES) throw new Error(`node index must be 1..${MAX_NODES}, got ${i}`);
  };
  return {
    id,
    bridge: `${HARNESS_PREFIX}br-${id}`,
    netns: (i) => (checkIndex(i), `${HARNESS_PREFIX}${id}-${i}`),
    hostVeth: (i) => (checkIndex(i), `${HARNESS_PREFIX}${id}-${i}h`),
  };
}

export type HarnessNameKind = keyof typeof NAME;

/** Which fleet a namespace or link name belongs to, or undefined when the harness did not make it. */
export function parseHarnessName(name: string): { id: string; kind: HarnessNameKind } | undefined {
  for (const kind of Object.keys(NAME) as HarnessNameKind[]) {
    const m = NAME[kind].exec(name);
    if (m) return { id: m[1] as string, kind };
  }
  return undefined;
}

export function subnetOf(octet: number): string {
  return `${SUBNET_PREFIX}.${octet}.0/24`;
}

/** The bridge's address: where the coordinator listens, in the root namespace. */
export function bridgeAddress(octet: number): string {
  return `${SUBNET_PREFIX}.${octet}.1`;
}

/** Node `index` (1-based) gets .11, .12, …: far from .1 so a log line's address says which side it is. */
export function nodeAddress(octet: number, index: number): string {
  return `${SUBNET_PREFIX}.${octet}.${10 + index}`;
}
