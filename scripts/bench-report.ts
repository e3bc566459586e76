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

export interface Report {
  command: string;
  date: string;
  machine: Machine;
  totalSeconds: number;
  results: BenchResult[];
}

export function renderReport(r: Report): string {
  const m = r.machine;
  const parts = [
    "# fleetgate benchmarks",
    "",
    "Written by `npm run bench` (`scripts/bench.ts`); overwritten on every run. Tests assert behaviour,",
    "these figures are what speed looks like on the machine below. Everything runs on this one host over",
    "loopback: no network, no real fleet. Compare figures only between runs on the same machine.",
    "",
    `- command: \`${r.command}\``,
    `- date: ${r.date}`,
    `- machine: ${m.cpu}, ${m.cores} cores, ${formatNumber(m.memoryGiB)} GiB memory, Node.js ${m.node}, kernel ${m.kernel}`,
    `- whole bench: ${formatNumber(r.totalSeconds)} s (build not included)`,
    "",
    "`p95 (worst 5 %)` is the nearest-rank 95th percentile for times and the 5th percentile for rates,",
    "so it is always the slow end. With few repetitions it equals the worst sample.",
  ];
  for (const b of r.results) {
    parts.push("", `## ${b.title}`, "", b.method, "", table(b.rows), "", `Bound by: ${b.bound}`);
  }
  return `${parts.join("\n")}\n`;
}
