import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { collectFacts } from "../../shared/identity.js";
import { busyPercentSinceBoot, parseCpuinfo, parseDf, parseMeminfo, parseOsRelease } from "../../shared/facts.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "facts");
const fixture = (name: string) => readFileSync(join(FIXTURES, name), "utf8");
const recorded = JSON.parse(fixture("systeminformation.json")) as Record<string, any>;

/** Every key path with its value's type: arrays by their first element, so two shapes compare as one. */
function shape(value: unknown): unknown {
  if (Array.isArray(value)) return value.length ? [shape(value[0])] : [];
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shape(v)]).sort(([a], [b]) => String(a).localeCompare(String(b))));
  return typeof value;
}

describe("node facts without systeminformation", () => {
  it("have the keys and value types systeminformation gave (the recorded facts)", async () => {
    const facts = await collectFacts([]);
    const { packages: _p, ...rest } = facts;
    const { packages: _r, ...want } = recorded;
    expect(shape(rest)).toEqual(shape(want));
    expect(facts.packages).toEqual({});
  });

  it("read the recorded host's os-release, cpuinfo and df as systeminformation read them", () => {
    const os = parseOsRelease(fixture("os-release"));
    expect(os).toEqual({ distro: recorded.os.distro, release: recorded.os.release, codename: recorded.os.codename });
    expect(parseCpuinfo(fixture("cpuinfo"), recorded.cpu.cores)).toEqual(recorded.cpu);
    // df was run a moment after systeminformation: sizes are the same, used space moved a little.
    const disks = parseDf(fixture("df-lkPTx-squashfs.txt"));
    expect(disks.map(({ usedBytes: _u, ...d }) => d)).toEqual(recorded.disks.map(({ usedBytes: _u, ...d }: Record<string, unknown>) => d));
  });

  it("take the codename from VERSION_CODENAME when VERSION has none in brackets", () => {
    expect(parseOsRelease('NAME="Ubuntu"\nVERSION="24.04 LTS"\nVERSION_ID="24.04"\nVERSION_CODENAME=noble\n')).toEqual({ distro: "Ubuntu", release: "24.04 LTS", codename: "noble" });
  });

  it("count physical cores by (physical id, core id) and fall back to the logical count", () => {
    const ht = ["processor : 0\nmodel name : AMD EPYC 7B13\nphysical id : 0\ncore id : 0", "processor : 1\nmodel name : AMD EPYC 7B13\nphysical id : 0\ncore id : 0"].join("\n\n");
    expect(parseCpuinfo(ht, 2)).toEqual({ manufacturer: "AMD", brand: "EPYC 7B13", cores: 2, physicalCores: 1 });
    expect(parseCpuinfo("processor : 0\nBogoMIPS : 108.00\n", 4, "Cortex-A72").physicalCores).toBe(4);
  });

  it("skip in-memory file systems unless mounted at / and keep devices with spaces in their mount point", () => {
    const df = "Filesystem Type 1024-blocks Used Available Capacity Mounted on\ntmpfs tmpfs 10 0 10 0% /run\noverlay overlay 100 40 60 40% /\n/dev/sdb1 ext4 200 50 150 25% /mnt/my disk\n";
    expect(parseDf(df)).toEqual([
      { mount: "/", fs: "overlay", type: "overlay", sizeBytes: 102400, usedBytes: 40960 },
      { mount: "/mnt/my disk", fs: "/dev/sdb1", type: "ext4", sizeBytes: 204800, usedBytes: 51200 },
    ]);
  });

  it("read memory and busy CPU from /proc text", () => {
    expect(parseMeminfo("MemTotal:       1000 kB\nMemFree:         200 kB\nMemAvailable:    600 kB\n")).toEqual({ totalBytes: 1024000, availableBytes: 614400, freeBytes: 204800 });
    // busy = user + nice + system + irq + steal + guest = 60, idle 40
    expect(busyPercentSinceBoot("cpu  30 5 10 40 7 3 2 4 8 0\ncpu0 1 2 3\n")).toBe(60);
  });
});
