// What the fleet records of each node's liveness, one event at a time, so a release manager can
// later read why a node was lost and when (the evidence bundle's nodes/<node>/timeline.json).
// AgentSessions decides these events; the sink that stores them is handed in, so the fleet's
// logic stays free of the database and a failing write never reaches a stream.
import type { Logger } from "../../shared/logging.js";

// drained, undrained, labelled, forgotten: an operator's change to the node (fleet/node-lifecycle.ts),
// in the same timeline so a bundle shows it beside the connections around a run.
export type LivenessKind = "connected" | "disconnected" | "lost" | "refused" | "cloned" | "drained" | "undrained" | "labelled" | "forgotten";

/** The kinds an operator's action records: they say nothing of whether the node was connected. */
export const OPERATOR_KINDS: readonly LivenessKind[] = ["drained", "undrained", "labelled", "forgotten"];

export interface LivenessEvent {
  node: string;
  /** ms since epoch. */
  at: number;
  kind: LivenessKind;
  /**
   * disconnected: why the stream ended ("silent for 15000 ms (3 heartbeats)", "replaced by a newer
   * connection from the same node"…); lost: the verdict text; refused: the admission's reason;
   * cloned: which two boot ids and addresses answered as the node at once;
   * drained, undrained, labelled, forgotten: who, and the reason or the labels changed;
   * connected: empty.
   */
  why: string;
  /** The agent's IP address as the coordinator saw its stream come in ("" when unknown). */
  address: string;
}

/** Where AgentSessions puts each event. Must not throw: build it with `guardedSink`. */
export type LivenessSink = (event: LivenessEvent) => void;

/**
 * `write` as a sink that never throws: a failed write (a full disk) is logged with the event it
 * lost. Recording liveness is evidence, not a condition of being connected, so it must never drop
 * a stream or stop a lost verdict from reaching the runs.
 */
export function guardedSink(write: (event: LivenessEvent) => void, log: Logger): LivenessSink {
  return (event) => {
    try {
      write(event);
    } catch (err) {
      log.warn({ node: event.node, event: { ...event }, err }, "could not record a liveness event for the node's timeline");
    }
  };
}
