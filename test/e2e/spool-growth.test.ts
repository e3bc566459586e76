// Issue 12: 40 results of 2 MiB spooled with the coordinator away wrote 1.97 GB to disk for an
// 84 MB spool and took the agent to 818 MB, because the whole spool was rewritten (and held) on
// every change. Measured in a child process of its own (scripts/spool-load.ts), the spool now
// writes about what it is given, once, and holds on to no event in memory.
// `npm run build` first.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/local-fleet.js";
import type { SpoolLoad } from "../../scripts/spool-load.js";

const MiB = 1024 * 1024;

async function load(dir: string, events: number, size: number): Promise<SpoolLoad> {
  const r = await execa(process.execPath, ["--expose-gc", join(ROOT, "dist", "scripts", "spool-load.js"), "--dir", dir, "--events", String(events), "--size", String(size)]);
  return JSON.parse(r.stdout) as SpoolLoad;
}

describe("the spool under issue 12's load", () => {
  let dir = "";
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes 40 results of 2 MiB to disk once (within 2x their size) and holds none of them in memory", async () => {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-spool-load-"));
    const m = await load(dir, 40, 2 * MiB);
    expect(m.dataBytes).toBe(80 * MiB);
    expect(m.writtenBytes).toBeGreaterThanOrEqual(m.dataBytes);
    expect(m.writtenBytes).toBeLessThan(2 * m.dataBytes);
    expect(m.spoolBytes).toBeGreaterThanOrEqual(m.dataBytes);
    expect(m.spoolBytes).toBeLessThan(m.dataBytes + MiB);
    expect(m.readBack).toBe(40);
    // Retained heap does not grow with the events: a quarter of them or all, spooled or read back.
    expect(m.heap.spooled - m.heap.quarter).toBeLessThan(4 * MiB);
    expect(m.heap.readBackPeak - m.heap.start).toBeLessThan(16 * MiB);
    // Resident memory peaks well below the 80 MiB of data (the old spool held it twice, as JSON and as events).
    expect(m.rss.peak - m.rss.start).toBeLessThan(80 * MiB);
  });
});
