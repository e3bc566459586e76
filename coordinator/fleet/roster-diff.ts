// Pure: which fleet machines of the tailnet have no agent. A machine is a fleet machine when its
// Tailscale ACL tags include the configured tag (coord serve --tailscale-tag tag:fleet). It has an
// agent when a registered node reported, in its identity (shared/identity.ts reads the node's own
// tailscaled), one of the machine's Tailscale IPs or its DNS name. HostName is not used: tailscale
// says it is neither a DNS name nor unique, and the node's name is whatever its agent was given.
// Registered is enough: an agent that is offline is shown by `coord nodes`, not here.
import type { TailscalePeer } from "../../shared/tailscale.js";

export interface AgentAddresses {
  name: string;
  /** The node's Tailscale identity when it registered; undefined when it has none. */
  tailscale?: { dnsName: string; ips: string[] };
}

export interface RosterDiff {
  /** Peers carrying the tag, agents or not. */
  tagged: number;
  /** Tagged peers no registered node answers for, in the peers' order. */
  missing: TailscalePeer[];
}

const dnsKey = (name: string) => name.replace(/\.$/, "").toLowerCase();

export function missingMachines(peers: TailscalePeer[], tag: string, nodes: AgentAddresses[]): RosterDiff {
  const ips = new Set(nodes.flatMap((n) => n.tailscale?.ips ?? []));
  const names = new Set(nodes.map((n) => dnsKey(n.tailscale?.dnsName ?? "")).filter((d) => d !== ""));
  const tagged = peers.filter((p) => p.tags.includes(tag));
  const missing = tagged.filter((p) => !p.ips.some((ip) => ips.has(ip)) && !(p.dnsName !== "" && names.has(dnsKey(p.dnsName))));
  return { tagged: tagged.length, missing };
}

/** "2 fleet machines have no agent: a, b" (by DNS name, else host name), or "" when none. */
export function missingLine(missing: { dnsName: string; hostName: string }[]): string {
  if (!missing.length) return "";
  const names = missing.map((m) => m.dnsName || m.hostName);
  return `${missing.length} fleet machine${missing.length === 1 ? " has" : "s have"} no agent: ${names.join(", ")}`;
}
