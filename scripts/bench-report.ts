// Renders docs/benchmarks.md: the command, the machine, the date, and one table per benchmark.
import { cpus, release, totalmem, type as osType } from "node:os";
import type { Summary } from "./bench-stats.js";

/** One measured quantity; `better` says which end of its spread is the bad tail. */
export interface Row {
  measure: string;
  unit: string;
  better: "lower" | "higher";
  summary: Summary;
}

export interface BenchResult {
  title: string;
  /** What one repetition does, and the warm-up before the measured repetitions. */
  method: string;
  rows: Row[];
  /** One line: what limits the figure. */
  bound: string;
  /** More after the bound: e.g. figures recorded before a fix, beside today's. */
  notes?: string;
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  kernel: string;
}

export function describeMachine(): Machine {
  const cpu = cpus();
  return {
    cpu: cpu[0]?.model.trim() ?? "unknown",
    cores: cpu.length,
    memoryGiB: totalmem() / 2 ** 30,
    node: process.version,
    kernel: `${osType()} ${release()}`,
  };
}

/** Three significant figures at most, thousands grouped: figures, not noise. */
export function formatNumber(v: number): string {
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : Math.abs(v) >= 1 ? 2 : 3;
  return v.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function table(rows: Row[]): string {
  const lines = ["| measured | unit | samples | median | p95 (worst 5 %) | min | max |", "|---|---|--:|--:|--:|--:|--:|"];
  for (const r of rows) {
    const s = r.summary;
    // For a rate the bad tail is the low end, so its "p95" is the 5th percentile.
    const worst = r.better === "lower" ? s.p95 : s.p5;
    lines.push(`| ${r.measure} | ${r.unit} | ${s.n} | ${formatNumber(s.median)} | ${formatNumber(worst)} | ${formatNumber(s.min)} | ${formatNumber(s.max)} |`);
  }
  return lines.join("\n");
}

/** Above this share of the cores busy before the bench, the report says the host was not idle. */
export const BUSY_WARNING = 0.25;

export interface Report {
  command: string;
  /** 1-minute load average when the bench started and when it ended. */
  load: { start: number; end: number };
  /** Fraction of all cores busy in a 1 s sample just before the bench, when measurable. */
  busyBefore?: number;
  date: string;
  machine: Machine;
  totalSeconds: number;
  /** Each part's wall time, in the order run. */
  partSeconds: [string, number][];
  results: BenchResult[];
}

export function renderReport(r: Report): string {
  const m = r.machine;
  const parts = [
    "# fleetgate benchmarks",
    "",
    "Written by `npm run bench` (`scripts/bench.ts`); overwritten on every run. Tests assert behaviour,",
    "these figures are what speed looks like on the machine below. Everything runs on this one host, over",
    "loopback or (for the cut link) network namespaces: no real network, no real fleet. Compare figures only",
    "between runs on the same machine.",
    "",
    `- command: \`${r.command}\``,
    `- date: ${r.date}`,
    `- machine: ${m.cpu}, ${m.cores} cores, ${formatNumber(m.memoryGiB)} GiB memory, Node.js ${m.node}, kernel ${m.kernel}`,
    `- whole bench: ${formatNumber(r.totalSeconds)} s (build not included): ${r.partSeconds.map(([part, seconds]) => `${part} ${formatNumber(seconds)} s`).join(", ")}`,
    `- load average (1 min): ${formatNumber(r.load.start)} at the start, ${formatNumber(r.load.end)} at the end`,
    `- host CPU busy in the second before the bench: ${r.busyBefore === undefined ? "not measurable here" : `${formatNumber(r.busyBefore * 100)} %`}`,
    ...(r.busyBefore !== undefined && r.busyBefore > BUSY_WARNING
      ? ["", `**Other work was using ${formatNumber(r.busyBefore * 100)} % of the host's CPU when the bench started: the figures below are lower and noisier than on an idle machine.**`]
      : []),
    "",
    "`p95 (worst 5 %)` is the nearest-rank 95th percentile for times and the 5th percentile for rates,",
    "so it is always the slow end. With few repetitions it equals the worst sample.",
  ];
  for (const b of r.results) parts.push("", section(b));
  return `${parts.join("\n")}\n`;
}

function section(b: BenchResult, alone?: string): string {
  return [`## ${b.title}`, "", ...(alone ? [alone, ""] : []), b.method, "", table(b.rows), "", `Bound by: ${b.bound}`, ...(b.notes ? ["", b.notes] : [])].join("\n");
}

/**
 * docs/benchmarks.md after some parts ran alone (`npm run bench -- reports`): their sections are
 * replaced (or added), each saying when, how and where it was measured; every other section stays.
 */
export function mergeSections(existing: string, r: Report): string {
  const m = r.machine;
  const alone = `Measured alone by \`${r.command}\` on ${r.date}: ${m.cpu}, ${m.cores} cores, ${formatNumber(m.memoryGiB)} GiB memory, Node.js ${m.node}, kernel ${m.kernel}; load average ${formatNumber(r.load.start)} at the start.`;
  const [head = "", ...sections] = existing.trimEnd().split(/^(?=## )/m);
  const title = (text: string) => text.slice(3, text.indexOf("\n") < 0 ? undefined : text.indexOf("\n"));
  const out = sections.map((s) => s.trimEnd());
  for (const b of r.results) {
    const at = out.findIndex((s) => title(s) === b.title);
    if (at >= 0) out[at] = section(b, alone);
    else out.push(section(b, alone));
  }
  return `${[head.trimEnd(), ...out].join("\n\n")}\n`;
}
