// The Tailscale roster as coord serve runs it: polled in the background, and each machine missing
// an agent raised as a `fleet_machine_without_agent` alert (subject: its DNS name), resolved when
// an agent answers for it or it leaves the tag. Raised again at every poll while it lasts: the
// alerts module counts repeats and re-notifies only past its dedup window.
import type { Logger } from "../../shared/logging.js";
import type { TailscalePeer } from "../../shared/tailscale.js";
import type { AlertSink } from "../alerts/alerts.js";
import type { Db } from "../store/db.js";
import { listNodes } from "../store/nodes.js";
import { TailscaleRoster } from "./tailscale-roster.js";

export interface RosterSettings {
  tag: string;
  socketPath: string;
  intervalMs?: number;
}

const KIND = "fleet_machine_without_agent";
const subjectOf = (p: TailscalePeer) => p.dnsName || p.hostName;

export function startFleetRoster(db: Db, settings: RosterSettings, alerts: AlertSink, log: Logger): TailscaleRoster {
  const onPoll = (missing: TailscalePeer[], peers: TailscalePeer[]) => {
    const now = new Set(missing.map(subjectOf));
    for (const m of missing) {
      alerts.raise({
        kind: KIND,
        subject: subjectOf(m),
        summary: `${subjectOf(m)} carries ${settings.tag} but no fleetgate agent is registered for it (tailscale IPs ${m.ips.join(", ") || "none"}, ${m.online ? "online" : "offline"} in tailscale); install and start the agent there, or remove the tag`,
        details: { tag: settings.tag, hostName: m.hostName, dnsName: m.dnsName, ips: m.ips, online: m.online, lastSeenMs: m.lastSeenMs },
      });
    }
    // Every other peer: an open alert from before (this process or the last) is resolved; none is a no-op.
    for (const p of peers) if (!now.has(subjectOf(p))) alerts.resolve(KIND, subjectOf(p), p.tags.includes(settings.tag) ? "an agent answers for it now" : `it no longer carries ${settings.tag}`);
  };
  const roster = new TailscaleRoster({
    ...settings,
    log,
    agents: () => listNodes(db).map((n) => ({ name: n.identity.name, tailscale: n.identity.tailscale })),
    onPoll,
  });
  roster.start();
  return roster;
}
