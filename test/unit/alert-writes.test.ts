// Alert files are written off the event loop (issue 16): a burst of raises returns before any
// file is written, an alert saved again before its write began is written once in its latest
// state, its writes never land out of order, and close() waits until every file is on disk, in
// the same format and through the same temp file and rename as before.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AlertWrites } from "../../coordinator/alerts/alert-writes.js";
import { Alerts } from "../../coordinator/alerts/alerts.js";
import { alertId, type AlertRecord } from "../../coordinator/alerts/record.js";

const NODES = 1000;

describe("alert files written off the event loop", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "fg-alert-writes-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const alertsDir = () => join(dir, "alerts");
  const names = () => (existsSync(alertsDir()) ? readdirSync(alertsDir()) : []);
  const files = () => names().filter((n) => n.endsWith(".json")).map((n) => JSON.parse(readFileSync(join(alertsDir(), n), "utf8")) as AlertRecord);

  it(`takes a burst of ${NODES} nodes going offline without waiting for a disk, and after close() has each alert's file in its latest state`, async () => {
    let now = Date.parse("2026-11-29T04:00:00Z");
    const alerts = new Alerts({ stateDir: dir, log: pino({ level: "silent" }), now: () => now });
    for (let i = 0; i < NODES; i++) alerts.raise({ kind: "node_offline", subject: `node-${i}`, summary: `node-${i} went offline` });
    now += 1000;
    // The same nodes flap: raised again, and every other one back already.
    for (let i = 0; i < NODES; i++) alerts.raise({ kind: "node_offline", subject: `node-${i}`, summary: `node-${i} still offline` });
    for (let i = 0; i < NODES; i += 2) alerts.resolve("node_offline", `node-${i}`, `node-${i} is back online`);
    // Every raise returned before a single file was on disk: no fsync was waited for on this path.
    expect(names().filter((n) => n.endsWith(".json"))).toEqual([]);
    // What the coordinator lists is already the latest state.
    expect(alerts.list().filter((a) => a.state === "open")).toHaveLength(NODES / 2);

    await alerts.close();
    const onDisk = new Map(files().map((a) => [a.subject, a]));
    expect(onDisk.size).toBe(NODES);
    for (let i = 0; i < NODES; i++) {
      const a = onDisk.get(`node-${i}`)!;
      expect(a, `node-${i}`).toMatchObject({ state: i % 2 === 0 ? "resolved" : "open", repeats: 1, summary: `node-${i} still offline`, resolvedSummary: i % 2 === 0 ? `node-${i} is back online` : "" });
    }
    expect(names().filter((n) => n.endsWith(".tmp"))).toEqual([]);
    // A restart reads them back as they were left.
    expect(new Alerts({ stateDir: dir, log: pino({ level: "silent" }) }).list().filter((a) => a.state === "open")).toHaveLength(NODES / 2);
  });

  const record = (id: string, summary: string): AlertRecord => ({
    id,
    kind: "node_offline",
    subject: id,
    summary,
    details: { note: "ünïcode ✓" },
    state: "open",
    raisedAt: 1,
    repeats: 0,
    notifiedAt: 1,
    resolvedAt: 0,
    resolvedSummary: "",
    deliveries: [],
  });

  it("writes an alert saved many times, among others, in its last state, byte for byte as indented JSON", async () => {
    const errors: string[] = [];
    const writes = new AlertWrites(alertsDir(), (id) => errors.push(id));
    const ids = Array.from({ length: 10 }, (_, i) => alertId("node_offline", `n${i}`, 1_000 + i));
    for (let round = 0; round < 50; round++) for (const id of ids) writes.save(record(id, `round ${round}`));
    expect(writes.unwritten().map((a) => a.summary)).toEqual(ids.map(() => "round 49"));
    await writes.flush();
    expect(errors).toEqual([]);
    expect(writes.unwritten()).toEqual([]);
    for (const id of ids) expect(readFileSync(join(alertsDir(), `${id}.json`), "utf8")).toBe(`${JSON.stringify(record(id, "round 49"), null, 2)}\n`);
    expect(names().sort()).toEqual(ids.map((id) => `${id}.json`).sort());
  });

  it("reports a file it cannot write and still settles", async () => {
    writeFileSync(join(dir, "alerts"), "a file where the directory should be");
    const errors: string[] = [];
    const writes = new AlertWrites(alertsDir(), (id) => errors.push(id));
    writes.save(record("a1", "x"));
    writes.save(record("a2", "x"));
    await writes.flush();
    expect(errors.sort()).toEqual(["a1", "a2"]);
  });
});
