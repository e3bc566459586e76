import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, expect, it } from "vitest";
import { diskCheck, measureDisk, type DiskObserved } from "../../agent/checks/disk.js";
import { loadCheck, measureLoad } from "../../agent/checks/load.js";
import { measureMemory, memoryCheck, type MemoryObserved } from "../../agent/checks/memory.js";
import { runProcess } from "../../agent/process.js";
import { DiskSpecSchema } from "../../shared/model/kinds/disk.js";
import { LoadSpecSchema } from "../../shared/model/kinds/load.js";
import { MemorySpecSchema } from "../../shared/model/kinds/memory.js";

const GiB = 2 ** 30;
const ctx = { timeoutMs: 5000, maxOutputBytes: 4096 };
const varLib = (freeGiB: number, usedPercent = 80): DiskObserved => ({ path: "/var/lib", freeBytes: freeGiB * GiB, totalBytes: 100 * GiB, usedPercent });

describe("diskCheck.evaluate", () => {
  it("fails with expected and seen free space in the units the suite wrote", () => {
    expect(diskCheck.evaluate({ path: "/var/lib", free: { gte: "10GiB" } }, varLib(3.2))).toEqual({
      passed: false,
      summary: "expected free >= 10 GiB on /var/lib, saw 3.2 GiB",
    });
  });

  it("passes with free space, size and use in the summary", () => {
    expect(diskCheck.evaluate({ path: "/var/lib", free: { gte: "10GiB" } }, varLib(12.5, 87.456))).toEqual({
      passed: true,
      summary: "12.5 GiB free of 100 GiB (87.5% used) on /var/lib",
    });
  });

  it("checks used_percent", () => {
    expect(diskCheck.evaluate({ path: "/var/lib", used_percent: { lte: 90 } }, varLib(5, 95.04)).summary).toBe(
      "expected used_percent <= 90 on /var/lib, saw 95.04",
    );
  });

  it("fails when the path cannot be measured", () => {
    expect(diskCheck.evaluate({ path: "/srv/gone", free: { gte: 1 } }, { path: "/srv/gone", error: "ENOENT" })).toEqual({
      passed: false,
      summary: "cannot read free space of /srv/gone: ENOENT",
    });
  });

  it("refuses a disk block with nothing to compare, or a size it cannot read", () => {
    expect(DiskSpecSchema.safeParse({ path: "/var/lib" }).success).toBe(false);
    expect(DiskSpecSchema.safeParse({ path: "/var/lib", free: { gte: "10 gigs" } }).success).toBe(false);
    expect(DiskSpecSchema.safeParse({ path: "/var/lib", free: { gte: "10GiB" } }).success).toBe(true);
  });
});

describe("diskCheck.observe with statfs", () => {
  it("measures free space as df's Avail and Use% on the same filesystem", async () => {
    const path = tmpdir();
    const seen = await measureDisk(path);
    const df = await runProcess({ argv: ["df", "-B1", "--output=avail,pcent", path], timeoutMs: 5000 });
    const [avail, pcent] = (df.stdout.trim().split("\n")[1] ?? "").trim().split(/\s+/);
    if ("error" in seen) throw new Error(seen.error);
    // Other tests write files meanwhile: allow a little drift.
    expect(Math.abs(seen.freeBytes - Number(avail))).toBeLessThan(256 * 2 ** 20);
    expect(Math.abs(seen.usedPercent - parseFloat(pcent ?? ""))).toBeLessThanOrEqual(1.5);
  });

  it("passes a bound the filesystem meets and fails one it cannot", async () => {
    const path = tmpdir();
    expect(diskCheck.evaluate({ path, free: { gte: 1 } }, await diskCheck.observe({ path, free: { gte: 1 } }, ctx)).passed).toBe(true);
    const huge = { path, free: { gte: "1000TiB" } };
    const v = diskCheck.evaluate(huge, await diskCheck.observe(huge, ctx));
    expect(v.summary).toMatch(/^expected free >= 1000 TiB on \S+, saw [\d.]+ (B|KiB|MiB|GiB|TiB)$/);
  });

  it("reports a path that does not exist as ENOENT", async () => {
    expect(await measureDisk("/fleetgate/no/such/path")).toEqual({ path: "/fleetgate/no/such/path", error: "ENOENT" });
  });
});

const mem = (availableGiB: number): MemoryObserved => ({ totalBytes: 8 * GiB, availableBytes: availableGiB * GiB, freeBytes: 0.5 * GiB });

describe("memoryCheck", () => {
  it("fails when available memory is below the bound, in the bound's units", () => {
    expect(memoryCheck.evaluate({ available: { gte: "1GiB" } }, mem(0.5))).toEqual({ passed: false, summary: "expected available memory >= 1 GiB, saw 512 MiB" });
  });

  it("passes with available, total and used percent in the summary", () => {
    expect(memoryCheck.evaluate({ available: { gte: "1GiB" } }, mem(6))).toEqual({ passed: true, summary: "6 GiB available of 8 GiB (25% used)" });
  });

  it("counts memory that is not available as used, and checks free on its own", () => {
    expect(memoryCheck.evaluate({ used_percent: { lte: 70 } }, mem(2)).summary).toBe("expected memory used_percent <= 70, saw 75");
    expect(memoryCheck.evaluate({ free: { gte: "1GiB" } }, mem(6)).summary).toBe("expected free memory >= 1 GiB, saw 512 MiB");
  });

  it("refuses a memory block with nothing to compare", () => {
    expect(MemorySpecSchema.safeParse({}).success).toBe(false);
  });

  it("observes MemAvailable from this machine's /proc/meminfo", async () => {
    const seen = await measureMemory();
    const kb = Number(/^MemAvailable:\s+(\d+) kB$/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1]);
    expect(seen.availableBytes).toBeGreaterThan(0);
    expect(seen.availableBytes).toBeLessThanOrEqual(seen.totalBytes);
    expect(Math.abs(seen.availableBytes - kb * 1024)).toBeLessThan(512 * 2 ** 20);
    expect(memoryCheck.evaluate({ available: { gte: 1 } }, seen).passed).toBe(true);
  });
});

describe("loadCheck", () => {
  const seen = { load1: 5.1234, load5: 3.2, load15: 1 };

  it("fails with the load that broke the bound", () => {
    expect(loadCheck.evaluate({ load1: { lte: 4 } }, seen)).toEqual({ passed: false, summary: "expected load1 <= 4, saw 5.12" });
    expect(loadCheck.evaluate({ load15: { gte: 2 } }, seen).summary).toBe("expected load15 >= 2, saw 1");
  });

  it("passes with the three averages in the summary", () => {
    expect(loadCheck.evaluate({ load1: { lte: 8 }, load5: { lte: 4 } }, seen)).toEqual({ passed: true, summary: "load 5.12 3.20 1.00" });
  });

  it("refuses a load block with nothing to compare or a bound that is not a number", () => {
    expect(LoadSpecSchema.safeParse({}).success).toBe(false);
    expect(LoadSpecSchema.safeParse({ load1: { lte: "4" } }).success).toBe(false);
    expect(LoadSpecSchema.safeParse({ load2: { lte: 4 } }).success).toBe(false);
  });

  it("observes this machine's load averages", async () => {
    const real = await loadCheck.observe({ load1: { lte: 1e6 } }, ctx);
    expect(Object.keys(real)).toEqual(["load1", "load5", "load15"]);
    expect(Object.values(real).every((n) => n >= 0)).toBe(true);
    expect(loadCheck.evaluate({ load1: { lte: 1e6 } }, real).passed).toBe(true);
    expect(measureLoad().load15).toBeGreaterThanOrEqual(0);
  });
});
