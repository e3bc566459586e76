// The fleet's liveness events (connected, disconnected, lost…) into node_events, a batch per few
// milliseconds. One synced commit per event put an fsync on the event loop for every connection
// and disconnection: 1,000 agents registering or a coordinator stopping with 1,000 streams open
// spent seconds on them (7.4 of 35 CPU-profile seconds at 1,000 agents), heartbeats waited behind,
// and a busy coordinator dropped healthy streams as silent. These rows are a node's timeline for
// the evidence, not results: a crash can lose the last few milliseconds of them, never a result.
import type { Logger } from "../../shared/logging.js";
import type { LivenessEvent, LivenessSink } from "../fleet/liveness-events.js";
import type { Db } from "./db.js";
import { recordNodeEvents } from "./node-events.js";

export interface NodeEventBatching {
  /** How long the first event of a batch waits for others. */
  maxDelayMs: number;
  /** Events per transaction: a burst beyond it is written at once, in batches. */
  maxEvents: number;
}

const DEFAULT_NODE_EVENT_BATCHING: NodeEventBatching = { maxDelayMs: 20, maxEvents: 1_000 };

export class NodeEventWriter {
  private pending: LivenessEvent[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly batching: NodeEventBatching = DEFAULT_NODE_EVENT_BATCHING,
  ) {}

  /** AgentSessions' sink: queues the event, never throws. */
  readonly sink: LivenessSink = (event) => {
    this.pending.push(event);
    if (this.pending.length >= this.batching.maxEvents) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.batching.maxDelayMs);
      this.timer.unref();
    }
  };

  /** Writes what is queued now: before an evidence bundle reads the timelines, and at shutdown. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    try {
      recordNodeEvents(this.db, batch);
    } catch (err) {
      // Recording liveness is evidence, not a condition of being connected: logged with what it lost.
      for (const event of batch) this.log.warn({ node: event.node, event: { ...event }, err }, "could not record a liveness event for the node's timeline");
    }
  }
}
