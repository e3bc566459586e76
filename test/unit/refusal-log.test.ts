// The refusal log: one warn line per refusal (capped per kind and minute, the rest counted), counts
// by kind and the newest rows in the store (SQLite and PostgreSQL), bounded, surviving a reopen; a failing store
// loses no count.
import { pino } from "pino";
import { beforeEach, describe, expect, it } from "vitest";
import { RefusalLog, type Refusal, type RefusalStore } from "../../coordinator/server/refusals.js";
import type { Db } from "../../coordinator/store/db.js";
import { readRefusals, refusalStore } from "../../coordinator/store/refusals.js";
import { STORE_ENGINES, storeOf } from "../support/store-engines.js";

const T0 = 1_732_514_400_000;
let db: Db;
let lines: Record<string, unknown>[];

beforeEach(() => {
  lines = [];
});

const logger = () => pino({ level: "info" }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
const badToken = (n = 0): Refusal => ({ kind: "bad_credential", code: "UNAUTHENTICATED", peer: "10.0.0.5", claimed: `node-${n}`, message: `node token not valid for node node-${n}` });
const limits = { kept: 5, linesPerMinute: 3, textBytes: 64 };

describe.each(STORE_ENGINES)("refusals (%s)", (engine) => {
  const store = storeOf(engine);
  beforeEach(async () => {
    db = await store.open();
  });

  describe("RefusalLog", () => {
    it("logs each refusal as one warn line naming kind, side, code, peer and claimed name", () => {
      const log = new RefusalLog(logger(), refusalStore(db, 5), limits);
      log.record(badToken(1), T0);
      log.stop();
      expect(lines).toEqual([
        expect.objectContaining({ level: 40, refusal: "bad_credential", side: "agent", code: "UNAUTHENTICATED", peer: "10.0.0.5", claimed: "node-1", msg: "refused: node token not valid for node node-1" }),
      ]);
    });

    it("stores counts by kind and only the newest rows, and both survive a reopen", () => {
      const log = new RefusalLog(logger(), refusalStore(db, limits.kept), limits);
      for (let i = 0; i < 12; i++) log.record(badToken(i), T0 + i);
      log.record({ kind: "unauthenticated", code: "UNAUTHENTICATED", peer: "10.0.0.9", claimed: "token 0123456789ab", message: "listNodes: admin token refused" }, T0 + 20);
      log.flush();
      // A second batch adds to the counts and pushes older rows out.
      log.record(badToken(99), T0 + 30);
      log.stop();
      db.close();
      db = store.reopen();

      const { recent, totals } = readRefusals(db, 100);
      expect(totals).toEqual([
        { kind: "bad_credential", side: "agent", count: 13, firstAt: T0, lastAt: T0 + 30 },
        { kind: "unauthenticated", side: "control", count: 1, firstAt: T0 + 20, lastAt: T0 + 20 },
      ]);
      expect(recent.map((r) => r.claimed)).toEqual(["node-99", "token 0123456789ab", "node-11", "node-10", "node-9"]);
      expect(db.prepare("SELECT COUNT(*) AS n FROM refusals").get()).toEqual({ n: 5 });
    });

    it("logs at most linesPerMinute lines of a kind a minute, says so, and counts every one", () => {
      const log = new RefusalLog(logger(), refusalStore(db, 100), limits);
      for (let i = 0; i < 10; i++) log.record(badToken(i), T0 + i);
      log.record(badToken(10), T0 + 61_000);
      log.stop();
      const msgs = lines.map((l) => l.msg);
      expect(msgs).toEqual([
        "refused: node token not valid for node node-0",
        "refused: node token not valid for node node-1",
        "refused: node token not valid for node node-2",
        "3 bad_credential refusals this minute: more are counted (coord refusals), not logged one by one, until the minute is over",
        "7 more bad_credential refusals in the minute before were counted, not logged one by one (coord refusals)",
        "refused: node token not valid for node node-10",
      ]);
      expect(log.read(100).totals[0]?.count).toBe(11);
    });

    it("cuts a long message and claimed name to their byte budget before storing", () => {
      const log = new RefusalLog(logger(), refusalStore(db, 5), limits);
      log.record({ ...badToken(), claimed: "n".repeat(10_000), message: "m".repeat(10_000) }, T0);
      const [row] = log.read(1).recent;
      expect(Buffer.byteLength(row?.message ?? "")).toBeLessThanOrEqual(64);
      expect(Buffer.byteLength(row?.claimed ?? "")).toBeLessThanOrEqual(64);
      log.stop();
    });

    it("keeps counting in memory while the store fails, and writes everything once it works again", () => {
      let failing = true;
      const saved: number[] = [];
      const store: RefusalStore = {
        save: (rows, totals) => {
          if (failing) throw new Error("SQLITE_FULL: database or disk is full");
          saved.push(rows.length, ...totals.map((t) => t.count));
        },
        read: () => ({ recent: [], totals: [] }),
      };
      const log = new RefusalLog(logger(), store, limits);
      for (let i = 0; i < 4; i++) log.record(badToken(i), T0 + i);
      log.flush();
      log.record(badToken(4), T0 + 5);
      log.flush();
      // While failing, reads answer from memory.
      expect(log.read(10).totals[0]?.count).toBe(5);
      expect(lines.filter((l) => l.msg === "could not store refusals; they stay counted in memory and are written when the store works again")).toHaveLength(1);
      failing = false;
      log.flush();
      expect(saved).toEqual([5, 5]);
      log.stop();
    });

    it("keeps at most `kept` rows pending however many come between two writes", () => {
      let rows = 0;
      const log = new RefusalLog(pino({ level: "silent" }), { save: (r) => (rows = r.length), read: () => ({ recent: [], totals: [] }) }, limits);
      for (let i = 0; i < 10_000; i++) log.record(badToken(i), T0 + i);
      log.stop();
      expect(rows).toBe(limits.kept);
    });
  });
});
