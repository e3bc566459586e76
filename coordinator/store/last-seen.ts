// nodes.last_seen, for people reading `coord nodes`: when an offline node was last heard. Liveness
// itself lives in memory (fleet/sessions.ts); this column only has to be about a heartbeat fresh.
// It was one synced commit per node per heartbeat interval: at 1,000 agents and 5 s heartbeats,
// 200 fsyncs a second on the event loop, which left heartbeats unread until streams were dropped
// as silent. Now every node heard within an interval is written in one transaction at its end.
import type { Db } from "./db.js";
import { touchNodes } from "./nodes.js";

export class LastSeenWriter {
  private readonly pending = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  /** `onError`: a failed write (a full disk) is reported, never thrown: it must not drop a stream. */
  constructor(
    private readonly db: Db,
    private readonly everyMs: number,
    private readonly onError: (err: unknown, nodes: number) => void,
  ) {}

  /** The node was heard at `at`; written with the others heard by the end of this interval. */
  seen(node: string, at = Date.now()): void {
    this.pending.set(node, at);
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.everyMs);
      this.timer.unref();
    }
  }

  /** Writes what is pending now (at shutdown, before the store closes). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.pending.size === 0) return;
    const rows = [...this.pending];
    this.pending.clear();
    try {
      touchNodes(this.db, rows);
    } catch (err) {
      this.onError(err, rows.length);
    }
  }
}
