// What the agent has written on the current stream and not yet seen acknowledged, and how often
// the oldest of it failed to get through. Sending is windowed (a bounded number of events and
// bytes in flight, read back from the spool as they go), so a spool of any size is delivered in
// bounded memory. An event whose delivery failed POISON_AFTER times in a row — the stream ended
// before its ack, or no ack came within the ack timeout — over at least POISON_SPAN_MS is
// replaced in the spool by an ERROR event for the same task and check saying why
// (spool/poison.ts): nothing blocks the spool for ever. The span keeps a short coordinator outage
// (a full disk for a few seconds fails every commit at once) from costing a good result.
import type { Logger } from "pino";
import type { AgentEvent } from "../../shared/gen/fleetgate/v1/agent_pb.js";
import { POISON_AFTER, POISON_SPAN_MS } from "./spool/poison.js";
import type { Spool } from "./spool.js";

export interface DeliveryLimits {
  /** Bytes of events written and not yet acknowledged; one event bigger than this still goes alone. */
  windowBytes: number;
  windowEvents: number;
  /** Failed deliveries in a row that make an event poison… */
  poisonAfter: number;
  /** …if the first of them is at least this long ago. */
  poisonSpanMs: number;
}

export const DEFAULT_LIMITS: DeliveryLimits = { windowBytes: 8 * 1024 * 1024, windowEvents: 256, poisonAfter: POISON_AFTER, poisonSpanMs: POISON_SPAN_MS };

export class Delivery {
  /** Highest seq written on the current stream. */
  private sentUpTo = 0n;
  /** Written on this stream, not yet acknowledged: seq → bytes and when it was written, oldest first. */
  private readonly inFlight = new Map<bigint, { bytes: number; at: number }>();
  private inFlightBytes = 0;
  /** Failed deliveries in a row of one event (the oldest in flight each time), since the first. */
  private strikes = { seq: 0n, count: 0, since: 0 };

  constructor(
    private readonly spool: Spool,
    private readonly log: Logger,
    private readonly limits: DeliveryLimits = DEFAULT_LIMITS,
  ) {}

  /** A new stream: nothing is in flight on it yet; everything pending is sent again. */
  newStream(): void {
    this.sentUpTo = 0n;
    this.inFlight.clear();
    this.inFlightBytes = 0;
  }

  /** The events to write now, oldest first, while the window has room; marks them in flight. */
  next(now = Date.now()): AgentEvent[] {
    const out: AgentEvent[] = [];
    for (const { seq, bytes } of this.spool.pendingAfter(this.sentUpTo)) {
      const full = this.inFlight.size >= this.limits.windowEvents || this.inFlightBytes + bytes > this.limits.windowBytes;
      if (full && this.inFlight.size > 0) break;
      const event = this.spool.read(seq);
      this.sentUpTo = seq;
      if (!event) continue;
      this.inFlight.set(seq, { bytes, at: now });
      this.inFlightBytes += bytes;
      out.push(event);
    }
    return out;
  }

  acked(seq: bigint): void {
    const sent = this.inFlight.get(seq);
    if (!sent) return;
    this.inFlight.delete(seq);
    this.inFlightBytes -= sent.bytes;
    if (this.strikes.seq === seq) this.strikes = { seq: 0n, count: 0, since: 0 };
  }

  /** The oldest event in flight, if it has waited longer than `timeoutMs` for its ack. */
  overdue(now: number, timeoutMs: number): bigint | undefined {
    for (const [seq, sent] of this.inFlight) return now - sent.at > timeoutMs ? seq : undefined;
    return undefined;
  }

  /**
   * The stream ended (`why`) with events in flight: the oldest one failed to get through once
   * more; after `poisonAfter` times in a row, over `poisonSpanMs` at least, it is replaced by an
   * ERROR event naming `why`. Returns the seqs that were in flight, oldest first.
   */
  ended(why: string, now = Date.now()): bigint[] {
    const unacked = [...this.inFlight.keys()];
    this.newStream();
    const seq = unacked[0];
    if (seq === undefined) return unacked;
    const again = this.strikes.seq === seq;
    this.strikes = { seq, count: again ? this.strikes.count + 1 : 1, since: again ? this.strikes.since : now };
    const span = now - this.strikes.since;
    if (this.strikes.count < this.limits.poisonAfter || span < this.limits.poisonSpanMs) {
      this.log.warn({ seq, failures: this.strikes.count, why }, "event not acknowledged before the stream ended; it is sent again on the next stream");
      return unacked;
    }
    const reason = `the coordinator did not take it ${this.strikes.count} times in a row over ${Math.round(span / 1000)} s (last: ${why})`;
    const replacement = this.spool.replace(seq, reason);
    this.strikes = { seq: 0n, count: 0, since: 0 };
    if (replacement) this.log.error({ seq, why }, `poison event: ${reason}; replaced by an ERROR event for the same task`);
    else this.log.error({ seq, why }, "an ERROR stand-in event could not be delivered either; the coordinator is refusing this node's events");
    return unacked;
  }
}
