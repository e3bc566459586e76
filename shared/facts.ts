// A node's facts (OS, CPU, memory, disks, load), read from /etc/os-release, /proc, node:os and
// one `df`: what the agent used systeminformation for, without loading its ~700 KB of code into
// every agent. The keys and their meaning are the ones the coordinator stores and `coord diff`
// compares (test/fixtures/facts/ holds the shape systeminformation gave); the parsers are pure.
import { readFile } from "node:fs/promises";
import { arch, cpus, loadavg, release } from "node:os";
import { execa } from "execa";

export interface OsFacts {
  distro: string;
  release: string;
  codename: string;
  kernel: string;
  arch: string;
}

/** /etc/os-release (or lsb-release) text → distro, release, codename, as systeminformation read them. */
export function parseOsRelease(text: string): Pick<OsFacts, "distro" | "release" | "codename"> {
  const kv: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) kv[line.slice(0, at).trim().toUpperCase()] = line.slice(at + 1).trim().replace(/"/g, "");
  }
  const distro = kv.DISTRIB_ID || kv.NAME || "unknown";
  let version = kv.VERSION ?? "";
  let codename = kv.DISTRIB_CODENAME || kv.VERSION_CODENAME || "";
  const pretty = kv.PRETTY_NAME ?? "";
  if (pretty.startsWith(`${distro} `)) version = pretty.slice(distro.length + 1).trim();
  // "12 (bookworm)": the release and, in brackets, the codename
  if (version.includes("(")) {
    codename = (version.split("(")[1] ?? "").replace(/[()]/g, "").trim();
    version = (version.split("(")[0] ?? "").trim();
  }
  return { distro, release: version || kv.DISTRIB_RELEASE || kv.VERSION_ID || "unknown", codename };
}

export interface CpuFacts {
  manufacturer: string;
  brand: string;
  cores: number;
  physicalCores: number;
}

const VENDORS: [string, string][] = [
  ["intel", "Intel"],
  ["amd", "AMD"],
  ["qemu", "QEMU"],
  ["hygon", "Hygon"],
  ["centaur", "WinChip/Via"],
  ["vmware", "VMware"],
  ["apple", "Apple"],
  ["sifive", "SiFive"],
];

/**
 * /proc/cpuinfo → the CPU's maker and model, written as systeminformation wrote them ("Intel",
 * "Xeon® Processor" from "Intel(R) Xeon(R) Processor"); physical cores are the distinct
 * (physical id, core id) pairs, the logical count where the kernel lists none (most ARM boards).
 */
export function parseCpuinfo(text: string, logical: number, fallbackModel = ""): CpuFacts {
  const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, "mi").exec(text)?.[1]?.trim();
  const model = (field("model name") ?? fallbackModel)
    .replace(/\(R\)+/g, "®")
    .replace(/\(TM\)+/g, "™")
    .replace(/\(C\)+/g, "©")
    .replace(/CPU+/g, "")
    .replace(/\s+/g, " ")
    .trim();
  const lower = model.toLowerCase();
  const manufacturer = VENDORS.find(([needle]) => lower.includes(needle))?.[1] ?? (model.split(" ")[0] || field("vendor_id") || "unknown");
  const pairs = new Set<string>();
  for (const block of text.split(/\n\s*\n/)) {
    const physical = /^physical id\s*:\s*(\d+)/m.exec(block)?.[1];
    const core = /^core id\s*:\s*(\d+)/m.exec(block)?.[1];
    if (physical !== undefined && core !== undefined) pairs.add(`${physical}:${core}`);
  }
  return { manufacturer, brand: model.split(" ").slice(1).join(" "), cores: logical, physicalCores: pairs.size || logical };
}

/** /proc/meminfo → total and available bytes (MemAvailable: what can be had without swapping). */
export function parseMeminfo(text: string): { totalBytes: number; availableBytes: number; freeBytes: number } {
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0) * 1024;
  return { totalBytes: kib("MemTotal"), availableBytes: kib("MemAvailable"), freeBytes: kib("MemFree") };
}

export interface DiskFacts {
  mount: string;
  fs: string;
  type: string;
  sizeBytes: number;
  usedBytes: number;
}

/** Pseudo and in-memory file systems: not disks, unless mounted at / or backed by a device path. */
const MEMORY_FS = ["rootfs", "unionfs", "squashfs", "cramfs", "initrd", "initramfs", "devtmpfs", "tmpfs", "udev", "devfs", "specfs", "appimaged"];

/** `df -lkPT` output → the node's local disks, filtered as systeminformation filtered them. */
export function parseDf(text: string): DiskFacts[] {
  const disks: DiskFacts[] = [];
  // The device (first column) and the mount point (last) may contain spaces: anchor on the numbers.
  const row = /^(.+?)\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(?:\d+%|-)\s+(.+)$/;
  for (const line of text.split("\n").slice(1)) {
    const m = row.exec(line.trim());
    if (!m) continue;
    const [, fs = "", type = "", blocks = "0", used = "0", , mount = ""] = m;
    const device = fs.startsWith("/") || fs.indexOf("/") > 0 || fs.indexOf(":") === 1;
    if (!device && mount !== "/" && MEMORY_FS.some((t) => type.toLowerCase().includes(t))) continue;
    if (disks.some((d) => d.fs === fs && d.type === type && d.mount === mount)) continue;
    disks.push({ mount, fs, type, sizeBytes: Number(blocks) * 1024, usedBytes: Number(used) * 1024 });
  }
  return disks;
}

/**
 * The aggregate `cpu` line of /proc/stat → the percent of CPU time busy since boot (user, nice,
 * system, irq, steal, guest over those and idle), one decimal.
 */
export function busyPercentSinceBoot(procStat: string): number {
  const f = (/^cpu\s+(.*)$/m.exec(procStat)?.[1] ?? "").trim().split(/\s+/).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, , irq = 0, , steal = 0, guest = 0] = f;
  const busy = user + nice + system + irq + steal + guest;
  return busy + idle > 0 ? Math.round((busy / (busy + idle)) * 1000) / 10 : 0;
}

const readText = (path: string) => readFile(path, "utf8").catch(() => "");

async function diskFacts(): Promise<DiskFacts[]> {
  const r = await execa("df", ["-lkPTx", "squashfs"], { reject: false, timeout: 5_000, stdin: "ignore" });
  return typeof r.stdout === "string" ? parseDf(r.stdout) : [];
}

export interface NodeFacts {
  os: OsFacts;
  cpu: CpuFacts;
  memory: { totalBytes: number; availableBytes: number };
  disks: DiskFacts[];
  load: { avgLoad: number; currentLoadPercent: number };
}

/** This node's facts, read now; a file that cannot be read gives "unknown" or 0, never a failure. */
export async function readNodeFacts(): Promise<NodeFacts> {
  const [osRelease, cpuinfo, meminfo, stat, disks] = await Promise.all([
    readText("/etc/os-release").then((t) => t || readText("/usr/lib/os-release")),
    readText("/proc/cpuinfo"),
    readText("/proc/meminfo"),
    readText("/proc/stat"),
    diskFacts(),
  ]);
  const logical = cpus();
  const mem = parseMeminfo(meminfo);
  return {
    os: { ...parseOsRelease(osRelease), kernel: release(), arch: arch() },
    cpu: parseCpuinfo(cpuinfo, logical.length, logical[0]?.model),
    memory: { totalBytes: mem.totalBytes, availableBytes: mem.availableBytes },
    disks,
    // The busiest of the 1, 5 and 15 minute load averages, per core.
    load: { avgLoad: Number((Math.max(...loadavg()) / Math.max(1, logical.length)).toFixed(2)), currentLoadPercent: busyPercentSinceBoot(stat) },
  };
}
