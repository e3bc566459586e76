// Agent events from every stream, committed in batches: one transaction, so one WAL fsync, for
// all the events that arrived within a few milliseconds (issue 16). Each event is settled — its
// ack written — only after the transaction holding it has committed, in the order it arrived, so
// a node's events keep their order and an ack never runs ahead of the disk.
import type { Logger } from "pino";
import type { CommitOutcome } from "../store/agent-events.js";
import type { IncomingEvent } from "../sequencer/engine.js";
import { PgStoreError } from "../store/pg/sync-db.js";

/** What became of a queued event. */
export type Settled =
  /** In the store (new, repeated or rejected, as `outcome` says): ack it. */
  | { kind: "committed"; outcome: CommitOutcome }
  /** Its own transaction failed too: no ack, and its stream must end (the agent sends it again). */
  | { kind: "failed"; error: unknown }
  /** Not tried: an earlier event of its stream failed, or the queue closed. No ack. */
  | { kind: "dropped" };

export interface QueuedEvent extends IncomingEvent {
  /** The stream it came on: once one of its events fails, none of its later ones is committed. */
  stream: object;
  settle(result: Settled): void;
}

export interface BatchLimits {
  /** Events per transaction. */
  maxEvents: number;
  /** How long the first event of a batch waits for others before the batch commits. */
  maxDelayMs: number;
}

/**
 * 500 events is well under a megabyte of WAL; 5 ms is lost in a round trip over any real link,
 * and the agent keeps up to 256 events in flight, so a busy stream fills a batch long before.
 */
export const DEFAULT_BATCH_LIMITS: BatchLimits = { maxEvents: 500, maxDelayMs: 5 };

/** SQLite's word for a store that cannot write now, whatever the event: no use trying the next one. */
const STORE_DOWN = /^SQLITE_(FULL|BUSY|LOCKED|IOERR|READONLY|CANTOPEN|NOMEM|CORRUPT|NOTADB)/;

/** The store cannot write now: SQLite's codes above, or PostgreSQL out of reach (PgStoreError.unavailable). */
function storeDown(err: unknown): boolean {
  if (err instanceof PgStoreError) return err.unavailable;
  return STORE_DOWN.test(String((err as { code?: unknown } | undefined)?.code ?? ""));
}

export class CommitQueue {
  private queue: QueuedEvent[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Streams one of whose events failed: their later events are never committed past the gap. */
  private readonly failed = new WeakSet<object>();
  private closed = false;

  constructor(
    /** Commits the events in one transaction, one outcome each, in order; throws and commits nothing, or commits all. */
    private readonly commit: (events: readonly IncomingEvent[]) => CommitOutcome[],
    private readonly log: Logger,
    private readonly limits: BatchLimits = DEFAULT_BATCH_LIMITS,
  ) {}

  push(event: QueuedEvent): void {
    if (this.closed || this.failed.has(event.stream)) {
      event.settle({ kind: "dropped" });
      return;
    }
    this.queue.push(event);
    if (this.queue.length >= this.limits.maxEvents) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.limits.maxDelayMs);
  }

  /** Commits everything queued now, batch after batch. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0) this.commitBatch(this.queue.splice(0, this.limits.maxEvents));
  }

  /** Commits what is queued and takes no more (coordinator stopping): a later event is not acked and comes again. */
  close(): void {
    this.flush();
    this.closed = true;
  }

  private commitBatch(batch: QueuedEvent[]): void {
    const live = batch.filter((e) => !this.failed.has(e.stream));
    for (const e of batch) if (this.failed.has(e.stream)) e.settle({ kind: "dropped" });
    if (live.length === 0) return;
    let outcomes: CommitOutcome[];
    try {
      outcomes = this.commit(live);
    } catch (err) {
      if (live.length === 1) this.fail(live[0] as QueuedEvent, err);
      else this.oneByOne(live, err);
      return;
    }
    live.forEach((e, i) => e.settle({ kind: "committed", outcome: outcomes[i] as CommitOutcome }));
  }

  /**
   * The batch's transaction failed and nothing of it was kept: each event is tried again in its own
   * transaction, so one event that cannot be stored (a bug, a constraint) holds back only its own
   * stream. A store that cannot write at all (disk full, locked) fails the rest without trying.
   */
  private oneByOne(batch: QueuedEvent[], batchError: unknown): void {
    this.log.warn({ events: batch.length, err: batchError }, "a batch of agent events was not committed; committing them one at a time");
    let down: unknown;
    for (const e of batch) {
      if (this.failed.has(e.stream)) {
        e.settle({ kind: "dropped" });
        continue;
      }
      if (down !== undefined) {
        this.fail(e, down);
        continue;
      }
      let outcome: CommitOutcome;
      try {
        outcome = this.commit([e])[0] as CommitOutcome;
      } catch (err) {
        if (storeDown(err)) down = err;
        this.fail(e, err);
        continue;
      }
      e.settle({ kind: "committed", outcome });
    }
  }

  private fail(e: QueuedEvent, error: unknown): void {
    this.failed.add(e.stream);
    e.settle({ kind: "failed", error });
  }
}
