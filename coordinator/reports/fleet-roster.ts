// A run started while coord serve kept a Tailscale roster (--tailscale-tag) says, in every report,
// which fleet machines had no agent: a machine that ran nothing is never counted as a pass. Whether
// it held the verdict is the override "missing-agents" (fleet/run-roster.ts), shown with the scope.
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { rosterLine } from "../fleet/run-roster.js";

/** "2 fleet machines have no agent: a, b (tailscale tag:fleet)"; undefined when no roster was kept. */
export function fleetRosterNote(run: Pick<RunRecord, "fleetRoster">): string | undefined {
  return run.fleetRoster ? rosterLine(run.fleetRoster) : undefined;
}

/** The roster as the JSON report carries it: the line, and each machine. */
export function fleetRosterJson(run: Pick<RunRecord, "fleetRoster">): Record<string, unknown> | undefined {
  const r = run.fleetRoster;
  if (!r) return undefined;
  const time = (ms: bigint) => (ms > 0n ? new Date(Number(ms)).toISOString() : null);
  return {
    line: rosterLine(r),
    tag: r.tag,
    tagged: r.tagged,
    readAt: time(r.polledAtMs),
    error: r.error,
    missing: r.missing.map((m) => ({ hostName: m.hostName, dnsName: m.dnsName, ips: [...m.ips], online: m.online, lastSeen: time(m.lastSeenMs), tags: [...m.tags] })),
  };
}
