// A node's liveness during a run, as the bundle keeps it (nodes/<node>/timeline.json): the
// events from a little before the run started to when it finished, so a release manager can read
// why a node was lost and when. Pure: the events and the window come in, the same bytes go out.
import { OPERATOR_KINDS, type LivenessEvent } from "../fleet/liveness-events.js";
import type { StoredLivenessEvent } from "../store/node-events.js";
import { sortedJson } from "./sorted-json.js";

/**
 * How far before a run's start its timelines begin: the disconnections and refusals that led up
 * to a node being away when the run needed it (the lost verdict comes 25 s after by default).
 */
export const TIMELINE_LEAD_MS = 60_000;

export interface TimelineWindow {
  from: number;
  to: number;
}

export interface NodeTimeline {
  node: string;
  window: TimelineWindow;
  /** The node's last event before the window: whether it was there when the run began, and since when. */
  previous?: LivenessEvent;
  /** Oldest first; events of one millisecond in the order they were recorded. */
  events: LivenessEvent[];
}

/** The window of a run's timelines: TIMELINE_LEAD_MS before it started, to when it finished. */
export function runWindow(startedAt: number, finishedAt: number): TimelineWindow {
  return { from: startedAt - TIMELINE_LEAD_MS, to: finishedAt };
}

const inOrder = (a: StoredLivenessEvent, b: StoredLivenessEvent) => a.at - b.at || a.seq - b.seq;

const plain = ({ node, at, kind, why, address }: LivenessEvent): LivenessEvent => ({ node, at, kind, why, address });

/** `node`'s timeline in `window` from any set of stored events (other nodes' and later ones are left out). */
export function selectTimeline(node: string, stored: StoredLivenessEvent[], window: TimelineWindow): NodeTimeline {
  const mine = stored.filter((e) => e.node === node && e.at <= window.to).sort(inOrder);
  // An operator's drain or relabel before the window says nothing of whether the node was there.
  const before = mine.filter((e) => e.at < window.from && !OPERATOR_KINDS.includes(e.kind));
  const previous = before[before.length - 1];
  return { node, window, previous: previous && plain(previous), events: mine.filter((e) => e.at >= window.from).map(plain) };
}

const iso = (ms: number) => new Date(ms).toISOString();

const eventJson = (e: LivenessEvent) => ({ at: iso(e.at), kind: e.kind, why: e.why, address: e.address });

/** timeline.json: sorted keys, ISO 8601 UTC times to the millisecond. */
export function timelineJson(t: NodeTimeline): string {
  return sortedJson({ node: t.node, from: iso(t.window.from), to: iso(t.window.to), previous: t.previous ? eventJson(t.previous) : null, events: t.events.map(eventJson) });
}
