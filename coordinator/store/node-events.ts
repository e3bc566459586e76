// Liveness events as rows (node_events): what the fleet records of each node's connections, lost
// verdicts and refusals, read back for the node timelines of evidence bundles.
import { OPERATOR_KINDS, type LivenessEvent, type LivenessKind } from "../fleet/liveness-events.js";
import { inTransaction, prepared, type Db } from "./db.js";

/** A stored event; `seq` orders events of the same millisecond as they were recorded. */
export interface StoredLivenessEvent extends LivenessEvent {
  seq: number;
}

export interface NodeEventLimits {
  /** Connections, disconnections and lost verdicts kept per node, newest first. */
  perNode: number;
  /**
   * Refusals kept per node, apart from the rest: a cloned machine retrying every backoff is refused
   * all day, and must not push the real node's history out.
   */
  refusalsPerNode: number;
  /** Rows kept in all: refused hellos can name any number of made-up nodes. */
  total: number;
}

// A node reconnecting every few minutes for a year stays within perNode; 200k rows are ~30 MB.
export const NODE_EVENT_LIMITS: NodeEventLimits = { perNode: 5_000, refusalsPerNode: 200, total: 200_000 };

interface RawEvent {
  id: number;
  node_name: string;
  at: number;
  kind: string;
  why: string;
  address: string;
}

const fromRow = (r: RawEvent): StoredLivenessEvent => ({ seq: r.id, node: r.node_name, at: r.at, kind: r.kind as LivenessKind, why: r.why, address: r.address });

/** Stores one event and drops the oldest beyond `limits`, in one transaction. */
export function recordNodeEvent(db: Db, e: LivenessEvent, limits: NodeEventLimits = NODE_EVENT_LIMITS): void {
  recordNodeEvents(db, [e], limits);
}

/** Stores the events in order and drops the oldest beyond `limits`: one transaction, one sync, for all. */
export function recordNodeEvents(db: Db, events: readonly LivenessEvent[], limits: NodeEventLimits = NODE_EVENT_LIMITS): void {
  inTransaction(db, () => {
    for (const e of events) {
      const { id } = prepared(db, "INSERT INTO node_events (node_name, at, kind, why, address) VALUES (?, ?, ?, ?, ?) RETURNING id").get(e.node, e.at, e.kind, e.why, e.address) as { id: number };
      const refusal = e.kind === "refused";
      prepared(
        db,
        `DELETE FROM node_events WHERE node_name = @node AND (kind = 'refused') = @refusal
           AND (at, id) <= (SELECT at, id FROM node_events WHERE node_name = @node AND (kind = 'refused') = @refusal
                            ORDER BY at DESC, id DESC LIMIT 1 OFFSET @keep)`,
      ).run({ node: e.node, refusal: refusal ? 1 : 0, keep: refusal ? limits.refusalsPerNode : limits.perNode });
      // ids only grow (the newest row is never deleted), so the newest `total` rows are the last ids.
      prepared(db, "DELETE FROM node_events WHERE id <= ?").run(id - limits.total);
    }
  });
}

/**
 * The node's events from `from` to `to` inclusive, and the last connection event before `from` (how
 * things stood when the window opened; an operator's drain or relabel does not say), in no
 * particular order: evidence/timeline.ts sorts and splits them.
 */
export function nodeEventsAround(db: Db, node: string, from: number, to: number): StoredLivenessEvent[] {
  const rows = db
    .prepare(
      `SELECT * FROM node_events WHERE node_name = @node AND at BETWEEN @from AND @to
       UNION ALL
       SELECT * FROM (SELECT * FROM node_events WHERE node_name = @node AND at < @from AND kind NOT IN (${OPERATOR_KINDS.map((k) => `'${k}'`).join(", ")})
                      ORDER BY at DESC, id DESC LIMIT 1) AS before_window`,
    )
    .all({ node, from, to }) as RawEvent[];
  return rows.map(fromRow);
}
