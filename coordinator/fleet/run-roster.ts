// Pure: what a run records of the Tailscale fleet roster, and what it means for the verdict.
// A fleet machine with no agent was not verified, so it is never a pass: a run with a fleet stage
// while tagged machines have no agent (or while the roster could not be read) is narrowed, the
// override "missing-agents", which holds the verdict INCOMPLETE (not NO-GO: nothing failed) until
// sign-off accepts it by name with a reason (a machine being retired, say). Runs without a fleet
// stage record the roster and show the line, but their verdict does not depend on it: a single,
// cross or matrix stage never claimed to cover the whole fleet.
import { create } from "@bufbuild/protobuf";
import { FleetRosterSchema, type FleetRoster } from "../../shared/gen/fleetgate/v1/control_pb.js";
import type { Override } from "../sequencer/run-types.js";
import { missingLine } from "./roster-diff.js";
import type { FleetRosterView } from "./tailscale-roster.js";

export const MISSING_AGENTS_OVERRIDE = "missing-agents";

/** The roster as stored with a run (RunRecord.fleet_roster). */
export interface StoredFleetRoster {
  tag: string;
  tagged: number;
  polledAt: number;
  error: string;
  missing: { hostName: string; dnsName: string; ips: string[]; online: boolean; lastSeenMs: number; tags: string[] }[];
}

export function storedRoster(view: FleetRosterView): StoredFleetRoster {
  return { tag: view.tag, tagged: view.tagged, polledAt: view.polledAt, error: view.error, missing: view.missing.map((m) => ({ ...m })) };
}

export function rosterMessage(r: StoredFleetRoster | undefined): FleetRoster | undefined {
  if (!r) return undefined;
  return create(FleetRosterSchema, {
    tag: r.tag,
    tagged: r.tagged,
    polledAtMs: BigInt(r.polledAt),
    error: r.error,
    missing: r.missing.map((m) => ({ hostName: m.hostName, dnsName: m.dnsName, ips: m.ips, online: m.online, lastSeenMs: BigInt(m.lastSeenMs), tags: m.tags })),
  });
}

/**
 * The line every report shows: "2 fleet machines have no agent: a, b (tailscale tag:fleet)",
 * "every fleet machine has an agent (3 tagged tag:fleet)", or why the roster is unknown.
 */
export function rosterLine(r: Pick<FleetRoster, "tag" | "tagged" | "error" | "missing" | "polledAtMs">): string {
  if (r.error && !r.polledAtMs) return `fleet roster (tailscale ${r.tag}) unknown: ${r.error}; fleet machines without an agent could not be listed`;
  const stale = r.error ? `; as last read at ${new Date(Number(r.polledAtMs)).toISOString()}, since then: ${r.error}` : "";
  const line = missingLine(r.missing);
  return line ? `${line} (tailscale ${r.tag}${stale})` : `every fleet machine has an agent (${r.tagged} tagged ${r.tag}${stale})`;
}

/** The override a run with a fleet stage takes when the roster has machines without an agent, or is unknown. */
export function rosterOverride(r: StoredFleetRoster | undefined, hasFleetStage: boolean): Override | undefined {
  if (!r || !hasFleetStage) return undefined;
  if (!r.missing.length && !r.error) return undefined;
  return { name: MISSING_AGENTS_OVERRIDE, detail: rosterLine(rosterMessage(r)!) };
}
