// What the agent stream lets through before admission looks at a credential: how many streams may
// wait for their hello, how many hellos a minute an address or a node name may send, and how fast
// a node's events are read. The numbers and why each is what it is: shared/model/limits.ts.
import { humanDuration } from "../../shared/durations.js";
import { FleetgateError } from "../../shared/errors.js";
import * as L from "../../shared/model/limits.js";
import { RateBuckets } from "./rate-buckets.js";

export interface AgentGateLimits {
  pendingPerAddress: number;
  pendingTotal: number;
  hellosPerMinutePerAddress: number;
  hellosPerMinutePerNode: number;
  eventsPerMinutePerNode: number;
  eventBurstPerNode: number;
  /** Addresses and names tracked by each rate; the least recently seen beyond it are forgotten. */
  keys: number;
}

export const AGENT_GATE_LIMITS: AgentGateLimits = {
  pendingPerAddress: L.MAX_PENDING_HELLOS_PER_ADDRESS,
  pendingTotal: L.MAX_PENDING_HELLOS,
  hellosPerMinutePerAddress: L.HELLOS_PER_MINUTE_PER_ADDRESS,
  hellosPerMinutePerNode: L.HELLOS_PER_MINUTE_PER_NODE,
  eventsPerMinutePerNode: L.EVENTS_PER_MINUTE_PER_NODE,
  eventBurstPerNode: L.EVENT_BURST_PER_NODE,
  keys: L.RATE_KEYS_TRACKED,
};

/** The retry hint of a refusal that is about a count, not a rate: streams waiting for a hello clear within ms. */
const PENDING_RETRY_MS = 1_000;

export class AgentGate {
  private readonly pendingByAddress = new Map<string, number>();
  private pendingTotal = 0;
  private readonly hellosByAddress: RateBuckets;
  private readonly hellosByNode: RateBuckets;
  private readonly events: RateBuckets;

  constructor(
    private readonly limits: AgentGateLimits = AGENT_GATE_LIMITS,
    private readonly now: () => number = Date.now,
  ) {
    this.hellosByAddress = new RateBuckets({ perMinute: limits.hellosPerMinutePerAddress }, limits.keys);
    this.hellosByNode = new RateBuckets({ perMinute: limits.hellosPerMinutePerNode }, limits.keys);
    this.events = new RateBuckets({ perMinute: limits.eventsPerMinutePerNode, burst: limits.eventBurstPerNode }, limits.keys);
  }

  /**
   * A stream opened from `address` and not yet past its hello. Throws `exhausted` when too many
   * are waiting already, from there or in all. Returns the release, to call once (more is harmless)
   * when the hello came or the stream ended.
   */
  streamOpened(address: string): () => void {
    const here = this.pendingByAddress.get(address) ?? 0;
    if (here >= this.limits.pendingPerAddress || this.pendingTotal >= this.limits.pendingTotal) {
      const where = here >= this.limits.pendingPerAddress ? `from ${address || "this address"}` : "in all";
      const limit = here >= this.limits.pendingPerAddress ? this.limits.pendingPerAddress : this.limits.pendingTotal;
      throw new FleetgateError("exhausted", `too many streams ${where} waiting to say hello (limit ${limit}); an agent says hello as soon as it connects, so retry in a moment`, undefined, {
        retryAfterMs: PENDING_RETRY_MS,
      });
    }
    this.pendingByAddress.set(address, here + 1);
    this.pendingTotal++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.pendingTotal--;
      const left = (this.pendingByAddress.get(address) ?? 1) - 1;
      if (left > 0) this.pendingByAddress.set(address, left);
      else this.pendingByAddress.delete(address);
    };
  }

  /** Streams waiting for their hello now, in all. */
  get pending(): number {
    return this.pendingTotal;
  }

  /** A hello from `address` naming `node`. Throws `exhausted` with a retry hint beyond either rate; a refused hello uses up nothing. */
  hello(address: string, node: string): void {
    const at = this.now();
    const byAddress = this.hellosByAddress.wait(address, at);
    const byNode = node ? this.hellosByNode.wait(node, at) : 0;
    if (byAddress === 0 && byNode === 0) {
      this.hellosByAddress.take(address, at);
      if (node) this.hellosByNode.take(node, at);
      return;
    }
    const retryAfterMs = Math.max(byAddress, byNode);
    const what =
      byNode > 0
        ? `hellos naming node ${node} (more than ${this.limits.hellosPerMinutePerNode} a minute: two hosts configured with one name, or an agent restarting in a loop?)`
        : `hellos from ${address} (more than ${this.limits.hellosPerMinutePerAddress} a minute)`;
    throw new FleetgateError("exhausted", `too many ${what}; retry in ${humanDuration(retryAfterMs)}`, undefined, { retryAfterMs });
  }

  /**
   * An event from `node`, always taken: the ms to wait before reading the node's stream again (0:
   * read on). Never a refusal: an agent takes a refused event as too large and replaces it.
   */
  eventPause(node: string): number {
    return this.events.spend(node, this.now());
  }
}
