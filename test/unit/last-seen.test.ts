import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Db } from "../../coordinator/store/db.js";
import { LastSeenWriter } from "../../coordinator/store/last-seen.js";
import { getNode, upsertNode } from "../../coordinator/store/nodes.js";
import { NodeIdentitySchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

let db: Db;
afterEach(() => {
  vi.useRealTimers();
});

describe.each(STORE_ENGINES)("nodes.last_seen (%s)", (engine) => {
  const store = storeOf(engine);
  beforeEach(async () => {
    db = await store.open();
    for (const name of ["a", "b"]) upsertNode(db, create(NodeIdentitySchema, { name, machineId: "0".repeat(32) }), "hash", 1_000);
  });

  describe("nodes.last_seen", () => {
    it("is written for every node heard, with the latest time each was heard, once the interval ends", () => {
      vi.useFakeTimers();
      const writer = new LastSeenWriter(db, 5_000, () => expect.fail("no write should fail"));
      writer.seen("a", 2_000);
      writer.seen("b", 2_500);
      writer.seen("a", 3_000);
      expect([getNode(db, "a")?.lastSeen, getNode(db, "b")?.lastSeen]).toEqual([1_000, 1_000]);
      vi.advanceTimersByTime(5_000);
      expect([getNode(db, "a")?.lastSeen, getNode(db, "b")?.lastSeen]).toEqual([3_000, 2_500]);
    });

    it("is written at once by flush (the coordinator stopping), and never twice for what was flushed", () => {
      vi.useFakeTimers();
      const writer = new LastSeenWriter(db, 5_000, () => expect.fail("no write should fail"));
      writer.seen("b", 4_000);
      writer.flush();
      expect(getNode(db, "b")?.lastSeen).toBe(4_000);
      db.prepare("UPDATE nodes SET last_seen = 7 WHERE name = 'b'").run();
      vi.advanceTimersByTime(10_000);
      expect(getNode(db, "b")?.lastSeen).toBe(7);
    });

    it("reports a write that fails instead of throwing it at the stream that was heard", () => {
      const failures: number[] = [];
      const writer = new LastSeenWriter(db, 5_000, (_err, nodes) => failures.push(nodes));
      writer.seen("a", 2_000);
      db.close();
      expect(() => writer.flush()).not.toThrow();
      expect(failures).toEqual([1]);
    });
  });
});
