// Which agent events are replays: sent again from the agent's spool after its stream to this
// coordinator ended before they were acknowledged. The coordinator cannot see the spool, so it
// counts what it can tell: an event whose seq is at or below the highest seq the node had
// delivered on an earlier stream (to this coordinator process). After a coordinator restart the
// first stream of each node has no earlier one, so its resends count as first deliveries (and the
// ones already committed as dedup hits); the agent's own counter sees every resend.

export class ReplayWatch {
  /** The highest seq each node delivered, on any stream. */
  private readonly highest = new Map<string, bigint>();
  /** The node's highest seq when its current stream opened: at or below it is a resend. */
  private readonly before = new Map<string, bigint>();

  /** The node registered a new stream. */
  connected(node: string): void {
    const h = this.highest.get(node);
    if (h === undefined) this.before.delete(node);
    else this.before.set(node, h);
  }

  /** An event of the node's was received; true when it is a replay. */
  received(node: string, seq: bigint): boolean {
    const h = this.highest.get(node);
    if (h === undefined || seq > h) this.highest.set(node, seq);
    const b = this.before.get(node);
    return b !== undefined && seq <= b;
  }
}
