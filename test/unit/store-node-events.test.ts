// node_events on SQLite and PostgreSQL: what the fleet records survives a reopen, reads back per
// node and window, and stays bounded per node, for refusals apart, and in all; the writer
// coord serve uses batches them without losing their order.
import { beforeEach, describe, expect, it } from "vitest";
import type { LivenessEvent } from "../../coordinator/fleet/liveness-events.js";
import type { Db } from "../../coordinator/store/db.js";
import { nodeEventsAround, recordNodeEvent, type NodeEventLimits } from "../../coordinator/store/node-events.js";
import { NodeEventWriter } from "../../coordinator/store/node-event-writer.js";
import type { Logger } from "../../shared/logging.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const T0 = 1_732_514_400_000;
let db: Db;

const event = (node: string, at: number, kind: LivenessEvent["kind"], why = ""): LivenessEvent => ({ node, at, kind, why, address: "10.0.0.7" });
const rows = () => db.prepare("SELECT node_name, at, kind FROM node_events ORDER BY id").all() as { node_name: string; at: number; kind: string }[];

describe.each(STORE_ENGINES)("node events (%s)", (engine) => {
  const store = storeOf(engine);
  beforeEach(async () => {
    db = await store.open();
  });

  describe("node_events", () => {
    it("keeps every field across a reopen and reads back the window plus the last event before it", () => {
      recordNodeEvent(db, event("n1", T0 - 10_000, "connected"));
      recordNodeEvent(db, event("n1", T0 - 5_000, "disconnected", "the agent ended its stream"));
      recordNodeEvent(db, event("n1", T0 + 1_000, "connected"));
      recordNodeEvent(db, event("n2", T0 + 1_500, "refused", "node token not valid for node n2"));
      recordNodeEvent(db, event("n1", T0 + 2_000, "disconnected", "silent for 15000 ms (3 heartbeats)"));
      recordNodeEvent(db, event("n1", T0 + 9_000, "lost", "node n1 lost: not heard from for 30 s"));
      db.close();
      db = store.reopen();

      const got = nodeEventsAround(db, "n1", T0, T0 + 2_000).sort((a, b) => a.seq - b.seq);
      expect(got.map(({ seq: _seq, ...e }) => e)).toEqual([
        event("n1", T0 - 5_000, "disconnected", "the agent ended its stream"),
        event("n1", T0 + 1_000, "connected"),
        event("n1", T0 + 2_000, "disconnected", "silent for 15000 ms (3 heartbeats)"),
      ]);
      expect(nodeEventsAround(db, "n2", T0, T0 + 2_000).map((e) => [e.kind, e.why])).toEqual([["refused", "node token not valid for node n2"]]);
      expect(nodeEventsAround(db, "n3", T0, T0 + 2_000)).toEqual([]);
    });

    it("numbers events of one millisecond in the order they were recorded", () => {
      recordNodeEvent(db, event("n1", T0, "disconnected", "replaced by a newer connection from the same node"));
      recordNodeEvent(db, event("n1", T0, "connected"));
      const [a, b] = nodeEventsAround(db, "n1", T0, T0).sort((x, y) => x.seq - y.seq);
      expect([a?.kind, b?.kind]).toEqual(["disconnected", "connected"]);
    });

    it("keeps a node's newest events, its refusals counted apart, so a cloned machine retrying all day cannot push its history out", () => {
      const limits: NodeEventLimits = { perNode: 3, refusalsPerNode: 2, total: 1_000 };
      for (let i = 0; i < 5; i++) recordNodeEvent(db, event("n1", T0 + i, i % 2 ? "disconnected" : "connected"), limits);
      for (let i = 0; i < 50; i++) recordNodeEvent(db, event("n1", T0 + 100 + i, "refused", "an enrollment token cannot take over a registered node"), limits);
      recordNodeEvent(db, event("n2", T0, "connected"), limits);
      expect(rows()).toEqual([
        { node_name: "n1", at: T0 + 2, kind: "connected" },
        { node_name: "n1", at: T0 + 3, kind: "disconnected" },
        { node_name: "n1", at: T0 + 4, kind: "connected" },
        { node_name: "n1", at: T0 + 148, kind: "refused" },
        { node_name: "n1", at: T0 + 149, kind: "refused" },
        { node_name: "n2", at: T0, kind: "connected" },
      ]);
    });

    it("keeps at most `total` rows, the newest, however many names refused hellos make up", () => {
      const limits: NodeEventLimits = { perNode: 100, refusalsPerNode: 100, total: 10 };
      for (let i = 0; i < 40; i++) recordNodeEvent(db, event(`made-up-${i}`, T0 + i, "refused", "node token not valid"), limits);
      expect(rows().map((r) => r.node_name)).toEqual(Array.from({ length: 10 }, (_, i) => `made-up-${30 + i}`));
    });
  });

  describe("NodeEventWriter: liveness events a batch at a time", () => {
    const quiet = () => {
      const warnings: unknown[] = [];
      return { warnings, log: { warn: (o: unknown) => warnings.push(o) } as unknown as Logger };
    };

    it("writes a burst of events in the order they came once its delay is over, and nothing before", async () => {
      const { log } = quiet();
      const writer = new NodeEventWriter(db, log, { maxDelayMs: 30, maxEvents: 1_000 });
      for (let i = 0; i < 300; i++) writer.sink(event(`n${i % 7}`, T0 + i, i % 2 ? "disconnected" : "connected"));
      expect(rows()).toHaveLength(0);
      await new Promise((r) => setTimeout(r, 200));
      expect(rows().map((r) => r.at)).toEqual(Array.from({ length: 300 }, (_, i) => T0 + i));
    });

    it("writes at once when a burst reaches its batch size, and everything queued on flush", () => {
      const { log } = quiet();
      const writer = new NodeEventWriter(db, log, { maxDelayMs: 60_000, maxEvents: 10 });
      for (let i = 0; i < 25; i++) writer.sink(event("n1", T0 + i, "connected"));
      expect(rows()).toHaveLength(20);
      writer.flush();
      expect(rows()).toHaveLength(25);
    });

    it("logs the events a failed write lost, never throws, and writes the next batch", () => {
      const { log, warnings } = quiet();
      const writer = new NodeEventWriter(db, log, { maxDelayMs: 60_000, maxEvents: 1_000 });
      // A store that refuses the write (as a full disk would): the table is away for a moment.
      db.exec("ALTER TABLE node_events RENAME TO node_events_away");
      writer.sink(event("n1", T0, "connected"));
      writer.sink(event("n2", T0 + 1, "lost", "node n2 lost"));
      expect(() => writer.flush()).not.toThrow();
      expect(warnings).toHaveLength(2);
      db.exec("ALTER TABLE node_events_away RENAME TO node_events");
      expect(rows()).toHaveLength(0);
      writer.sink(event("n3", T0 + 2, "connected"));
      writer.flush();
      expect(rows().map((r) => r.node_name)).toEqual(["n3"]);
    });
  });
});
