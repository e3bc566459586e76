// The coordinator's view of its tailnet (coord serve --tailscale-tag): polls the local tailscaled's
// LocalAPI every `intervalMs` with a bounded timeout, and on demand (`coord nodes --missing`).
// A failed poll is logged and kept as the roster's error, never fatal: the coordinator serves on,
// and runs and reports say the fleet roster is unknown instead of calling it complete.
import type { Logger } from "../../shared/logging.js";
import { fetchTailscaleStatus, parseTailscalePeers, type TailscalePeer } from "../../shared/tailscale.js";
import { missingMachines, type AgentAddresses } from "./roster-diff.js";

export const DEFAULT_ROSTER_INTERVAL_MS = 60_000;
export const ROSTER_TIMEOUT_MS = 5_000;

export interface RosterOptions {
  tag: string;
  socketPath: string;
  intervalMs?: number;
  timeoutMs?: number;
  log: Logger;
  /** The registered nodes now, with the Tailscale identity each reported. */
  agents: () => AgentAddresses[];
  /** After each poll that succeeded: the machines missing now, and every peer read (alerts raise and resolve on it). */
  onPoll?: (missing: TailscalePeer[], peers: TailscalePeer[]) => void;
}

/** The fleet roster as last seen, the diff taken against the registered nodes at the time of asking. */
export interface FleetRosterView {
  tag: string;
  tagged: number;
  missing: TailscalePeer[];
  /** When tailscaled last answered; 0 when it never did. */
  polledAt: number;
  /** Why the last poll failed ("" when it succeeded). The missing list is then from polledAt, if any. */
  error: string;
}

export class TailscaleRoster {
  private peers: TailscalePeer[] | undefined;
  private polledAt = 0;
  private error = "not polled yet";
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;

  constructor(private readonly opts: RosterOptions) {}

  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.opts.intervalMs ?? DEFAULT_ROSTER_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Asks tailscaled now (one poll at a time: a caller during a poll waits for that one). */
  refresh(): Promise<void> {
    this.polling ??= this.poll().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async poll(): Promise<void> {
    try {
      const peers = parseTailscalePeers(await fetchTailscaleStatus(this.opts.socketPath, this.opts.timeoutMs ?? ROSTER_TIMEOUT_MS));
      const first = this.peers === undefined || this.error !== "";
      this.peers = peers;
      this.polledAt = Date.now();
      this.error = "";
      const view = this.view();
      if (first) this.opts.log.info({ tag: this.opts.tag, tagged: view.tagged, missing: view.missing.map((m) => m.dnsName) }, "tailscale roster read");
      this.opts.onPoll?.(view.missing, peers);
    } catch (err) {
      const why = err instanceof Error ? err.message : String(err);
      if (why !== this.error) this.opts.log.warn({ tag: this.opts.tag, err: why }, "tailscale roster not read; fleet machines without an agent cannot be listed until it is");
      this.error = why;
    }
  }

  view(): FleetRosterView {
    const { tagged, missing } = this.peers ? missingMachines(this.peers, this.opts.tag, this.opts.agents()) : { tagged: 0, missing: [] };
    return { tag: this.opts.tag, tagged, missing, polledAt: this.polledAt, error: this.error };
  }
}
