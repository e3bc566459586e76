// A run's evidence bundle gets written while the coordinator is busy (issue 16). While 1,000
// agents report, one turn of the event loop lasts a second or two; a bundle written with one
// awaited fs call after another advanced a file every few turns, took longer than the next run,
// and bundles, each holding its run's record, piled up until the coordinator ran out of memory.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeBundle } from "../../coordinator/evidence/write.js";
import { openDb } from "../../coordinator/store/db.js";
import { writeSyntheticRun } from "../../scripts/synthetic-run.js";

let dir: string;
let db: ReturnType<typeof openDb>;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fleetgate-busy-bundle-"));
  db = openDb(join(dir, "state", "coord.db"));
  db.pragma("synchronous = OFF");
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Keeps the event loop busy: every turn it takes, it holds for `ms` before the next. */
function busyTurns(ms: number): { stop(): number } {
  let turns = 0;
  let stopped = false;
  const turn = () => {
    if (stopped) return;
    turns++;
    const until = performance.now() + ms;
    while (performance.now() < until);
    setImmediate(turn);
  };
  setImmediate(turn);
  return {
    stop() {
      stopped = true;
      return turns;
    },
  };
}

describe("an evidence bundle written while the event loop's turns are long", () => {
  it("is written in a few dozen turns, not a few per file", async () => {
    // 100 nodes × 2 iterations × 20 results: 4,000 results, most with output files of their own.
    writeSyntheticRun(db, "big", { nodes: 100, iterations: 2 });
    const busy = busyTurns(20);
    const { dir: bundle, manifest } = await writeBundle(db, "big", { root: join(dir, "state", "runs") });
    const turns = busy.stop();
    const files = Object.keys(manifest.files).length;
    expect(files).toBeGreaterThan(4_000);
    expect(Object.keys(manifest.files).filter((p) => p.endsWith("/result.json"))).toHaveLength(200);
    expect(readdirSync(bundle)).toContain("manifest.json");
    // The old writer needed a turn for each of its awaits: several per file.
    expect(turns).toBeLessThan(files / 20);
  });
});
