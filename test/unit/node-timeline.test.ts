// Which liveness events a run's bundle keeps for a node, and the bytes of timeline.json.
import { describe, expect, it } from "vitest";
import { runWindow, selectTimeline, TIMELINE_LEAD_MS, timelineJson } from "../../coordinator/evidence/timeline.js";
import type { StoredLivenessEvent } from "../../coordinator/store/node-events.js";

const START = Date.parse("2024-11-25T06:00:00Z");
const END = START + 120_000;
const window = runWindow(START, END);

let seq = 0;
const ev = (at: number, kind: StoredLivenessEvent["kind"], why = "", node = "n1", s = ++seq): StoredLivenessEvent => ({ seq: s, node, at, kind, why, address: "10.0.0.7" });

describe("a node's timeline for a run", () => {
  it("opens TIMELINE_LEAD_MS before the run started and closes when it finished", () => {
    expect(window).toEqual({ from: START - TIMELINE_LEAD_MS, to: END });
  });

  it("keeps the events inside the window oldest first, both ends included, and only the node's own", () => {
    const t = selectTimeline(
      "n1",
      [ev(END, "lost", "node n1 lost: not heard from for 30 s"), ev(window.from, "connected"), ev(START + 10, "disconnected", "the agent ended its stream"), ev(START + 5, "connected", "", "n2"), ev(END + 1, "connected")],
      window,
    );
    expect(t.events.map((e) => [e.at - START, e.kind])).toEqual([
      [-TIMELINE_LEAD_MS, "connected"],
      [10, "disconnected"],
      [120_000, "lost"],
    ]);
    expect(t.previous).toBeUndefined();
  });

  it("orders events of one millisecond as they were recorded, not as they were read", () => {
    const t = selectTimeline("n1", [ev(START, "connected", "", "n1", 3), ev(START, "disconnected", "replaced by a newer connection from the same node", "n1", 2)], window);
    expect(t.events.map((e) => e.kind)).toEqual(["disconnected", "connected"]);
  });

  it("says how things stood when the window opened: the last event before it", () => {
    const t = selectTimeline("n1", [ev(START - 3_600_000, "connected"), ev(START - 600_000, "lost", "node n1 lost: not heard from for 25 s"), ev(START - 601_000, "disconnected", "silent")], window);
    expect(t.previous).toEqual({ node: "n1", at: START - 600_000, kind: "lost", why: "node n1 lost: not heard from for 25 s", address: "10.0.0.7" });
    expect(t.events).toEqual([]);
  });

  it("writes sorted keys and ISO times, the same bytes for the same events in any order", () => {
    const events = [ev(START + 1_000, "disconnected", "silent for 15000 ms (3 heartbeats)"), ev(START - 90_000, "connected"), ev(START + 26_000, "lost", "node n1 lost: not heard from for 25 s")];
    const text = timelineJson(selectTimeline("n1", events, window));
    expect(timelineJson(selectTimeline("n1", [...events].reverse(), window))).toBe(text);
    expect(text).toBe(`{
  "events": [
    {
      "address": "10.0.0.7",
      "at": "2024-11-25T06:00:01.000Z",
      "kind": "disconnected",
      "why": "silent for 15000 ms (3 heartbeats)"
    },
    {
      "address": "10.0.0.7",
      "at": "2024-11-25T06:00:26.000Z",
      "kind": "lost",
      "why": "node n1 lost: not heard from for 25 s"
    }
  ],
  "from": "2024-11-25T05:59:00.000Z",
  "node": "n1",
  "previous": {
    "address": "10.0.0.7",
    "at": "2024-11-25T05:58:30.000Z",
    "kind": "connected",
    "why": ""
  },
  "to": "2024-11-25T06:02:00.000Z"
}
`);
  });

  it("writes previous as null and no events for a node the fleet never recorded", () => {
    expect(JSON.parse(timelineJson(selectTimeline("n9", [], window)))).toEqual({ node: "n9", from: "2024-11-25T05:59:00.000Z", to: "2024-11-25T06:02:00.000Z", previous: null, events: [] });
  });
});
