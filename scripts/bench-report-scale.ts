// The reports-at-scale benchmark of `npm run bench` (`npm run bench -- reports`): a finished run of
// 1,000 nodes × 20 checks × 5 iterations in a real coord.db, and each report format produced from
// it the way `coord report` produces it: the run read from the store as GetRun reads it (with its
// flake history), encoded into GetRun's pieces and joined back, judged, rendered.
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runWithFlakes } from "../coordinator/judgement/stored.js";
import { judgeRun } from "../coordinator/judgement/verdict.js";
import { REPORT_FORMATS, type ReportFormat } from "../coordinator/reports/formats.js";
import { openDb } from "../coordinator/store/db.js";
import type { RunRecord } from "../shared/gen/fleetgate/v1/control_pb.js";
import { joinRunPieces, runPieces } from "../shared/grpc/run-pieces.js";
import type { Cleanup } from "./bench-cleanup.js";
import type { Progress } from "./bench-components.js";
import { formatNumber, type BenchResult, type Row } from "./bench-report.js";
import { since, summarize } from "./bench-stats.js";
import { SYNTHETIC_CHECKS_PER_TASK, writeSyntheticRun, type SyntheticSize } from "./synthetic-run.js";

const SIZE: SyntheticSize = { nodes: 1000, iterations: 5 };
const REPS = 3;
/** What the issue asks of each format at this size (issue 16), and of the HTML's size. */
const TARGET_SECONDS = 3;
const TARGET_HTML_MB = 5;
const FORMATS: ReportFormat[] = ["html", "junit", "ctrf", "json"];
const RUN_ID = "bench-reports";

/**
 * The same measure before the fixes of issue 16 (the quadratic grouping of check results by task
 * in loadRunRecord, `c.*` read, HTML with every pass in full): one run of these functions on this
 * machine at commit b18bed6, one read and each format rendered once from it (a read took minutes).
 * Seconds for the whole path, MB for the size. (The synthetic run then ended a task holding only
 * passes and a skip as passed, not skipped; the rows and their bytes were the same.)
 */
const BEFORE = {
  commit: "b18bed6",
  date: "2026-11-28T22:58Z",
  host: "the same 2-core machine, busy with other work (load average about 10)",
  readSeconds: 223.1,
  whole: { html: 224.2, junit: 224.5, ctrf: 233.1, json: 225.9 } as Record<string, number>,
  render: { html: 1.04, junit: 1.4, ctrf: 9.9, json: 2.79 } as Record<string, number>,
  mb: { html: 37.78, junit: 10.2, ctrf: 74.39, json: 63.84 } as Record<string, number>,
};

/** What `coord report` waits for before rendering: the store read and the GetRun transfer, in process. */
function readAsGetRun(db: ReturnType<typeof openDb>): RunRecord {
  const run = runWithFlakes(db, RUN_ID);
  if (!run) throw new Error(`reports bench: run ${RUN_ID} is not in the store`);
  return joinRunPieces(runPieces(run), RUN_ID);
}

export async function benchReports(cleanup: Cleanup, say: Progress, size: SyntheticSize = SIZE): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "fleetgate-bench-reports-"));
  const removeDir = cleanup.add(`remove ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "coord.db");
  const db = openDb(path);
  const closeDb = cleanup.add("close the store", () => void db.close());
  // Building the run is not what is measured: no fsync per commit while writing it.
  db.pragma("synchronous = OFF");
  const results = size.nodes * size.iterations * SYNTHETIC_CHECKS_PER_TASK;
  say(`reports: writing a run of ${size.nodes} nodes × ${SYNTHETIC_CHECKS_PER_TASK} checks × ${size.iterations} iterations into a store`);
  let t = performance.now();
  writeSyntheticRun(db, RUN_ID, size);
  const buildSeconds = since(t) / 1000;
  db.pragma("synchronous = FULL");
  const stored = (db.prepare("SELECT count(*) AS n FROM check_results").get() as { n: number }).n;
  const dbMb = statSync(path).size / 1e6;

  const read: number[] = [];
  const judge: number[] = [];
  const cpu = new Map<ReportFormat, number[]>(FORMATS.map((f) => [f, []]));
  const render = new Map<ReportFormat, number[]>(FORMATS.map((f) => [f, []]));
  const whole = new Map<ReportFormat, number[]>(FORMATS.map((f) => [f, []]));
  const bytes = new Map<ReportFormat, number>();
  // Warm-up one round (not recorded), then REPS rounds; each format starts from its own read, as each `coord report` does.
  for (let rep = 0; rep <= REPS; rep++) {
    for (const format of FORMATS) {
      say(`reports: ${format}, ${rep === 0 ? "warm-up" : `repetition ${rep} of ${REPS}`}`);
      const start = performance.now();
      const cpuStart = process.cpuUsage();
      const run = readAsGetRun(db);
      const readMs = since(start);
      t = performance.now();
      const judgement = judgeRun(run);
      const judgeMs = since(t);
      t = performance.now();
      const text = REPORT_FORMATS[format](run, judgement);
      const renderMs = since(t);
      const wholeMs = since(start);
      const used = process.cpuUsage(cpuStart);
      bytes.set(format, Buffer.byteLength(text));
      if (rep === 0) continue;
      read.push(readMs);
      judge.push(judgeMs);
      render.get(format)?.push(renderMs);
      whole.get(format)?.push(wholeMs);
      cpu.get(format)?.push((used.user + used.system) / 1000);
    }
  }
  await closeDb();
  await removeDir();

  const rows: Row[] = [
    { measure: "read the run: store → GetRun pieces → RunRecord", unit: "s", better: "lower", summary: summarize(read.map((ms) => ms / 1000)) },
    { measure: "judge the run (judgeRun)", unit: "s", better: "lower", summary: summarize(judge.map((ms) => ms / 1000)) },
  ];
  for (const f of FORMATS) rows.push({ measure: `${f}: render only`, unit: "s", better: "lower", summary: summarize((render.get(f) ?? []).map((ms) => ms / 1000)) });
  for (const f of FORMATS) rows.push({ measure: `${f}: read + judge + render (target < ${TARGET_SECONDS} s)`, unit: "s", better: "lower", summary: summarize((whole.get(f) ?? []).map((ms) => ms / 1000)) });
  for (const f of FORMATS) rows.push({ measure: `${f}: CPU of the whole path (every thread of this process, GC included)`, unit: "CPU s", better: "lower", summary: summarize((cpu.get(f) ?? []).map((ms) => ms / 1000)) });
  for (const f of FORMATS) rows.push({ measure: `${f}: report size${f === "html" ? ` (target < ${TARGET_HTML_MB} MB)` : ""}`, unit: "MB", better: "lower", summary: summarize([(bytes.get(f) ?? 0) / 1e6]) });
  const worst = FORMATS.map((f) => ({ f, s: summarize(whole.get(f) ?? []).median })).sort((a, b) => b.s - a.s)[0];
  return {
    title: `Reports at scale: ${size.nodes.toLocaleString("en-US")} nodes × ${SYNTHETIC_CHECKS_PER_TASK} checks × ${size.iterations} iterations`,
    method:
      `One finished fleet run (scripts/synthetic-run.ts: ${stored.toLocaleString("en-US")} check results of ${results.toLocaleString("en-US")} planned — not-ready and lost nodes report fewer — mostly passes with a short output tail, ` +
      `and a node in 100 not ready, a node in 250 lost from iteration 3, a skip on every 40th node, a flaky check and scattered failures with retries and 24-line output tails and agent errors) ` +
      `written through the store's own writers (insertRun, recordAgentEvent, setTaskStatus, finishRun) into a real coord.db in a temp dir, ${formatNumber(dbMb)} MB, built in ${formatNumber(buildSeconds)} s with synchronous=OFF (building is not measured). ` +
      `Each report is then made as \`coord report RUN --format F\` makes it, in this one process: the run read as GetRun reads it (runWithFlakes), encoded into GetRun's pieces and joined back, judgeRun, the format's renderer. ` +
      `Not included: starting the CLI process and the loopback gRPC transfer. Warm-up one round of the ${FORMATS.length} formats, then ${REPS} rounds, each format from its own read.`,
    rows,
    bound: bound(median(whole), median(cpu), bytes, summarize(read).median / 1000, summarize(read).min / 1000, worst?.f ?? ""),
    notes: beforeAndAfter(median(whole), median(render), bytes, summarize(read).median / 1000),
  };
}

const median = (m: Map<ReportFormat, number[]>) => new Map([...m].map(([f, xs]) => [f, summarize(xs).median / 1000]));

/** What limits the figures, and which of issue 16's targets this run met, by wall and by CPU time. */
function bound(whole: Map<ReportFormat, number>, cpu: Map<ReportFormat, number>, bytes: Map<ReportFormat, number>, read: number, fastestRead: number, worst: string): string {
  const within = (m: Map<ReportFormat, number>) => FORMATS.filter((f) => (m.get(f) ?? Infinity) < TARGET_SECONDS);
  const list = (fs: ReportFormat[]) => (fs.length ? fs.join(", ") : "none");
  const htmlMb = (bytes.get("html") ?? 0) / 1e6;
  return [
    `one core of JavaScript and its garbage collector, for every format first the read (${formatNumber(read)} s median, fastest ${formatNumber(fastestRead)} s): the SQLite rows, one protobuf message per result, and GetRun's binary encoding and decoding of the whole run (protobuf-es, by reflection), which is where most of its time goes.`,
    `Targets of issue 16: the HTML under ${TARGET_HTML_MB} MB: ${htmlMb < TARGET_HTML_MB ? "met" : "not met"} (${formatNumber(htmlMb)} MB).`,
    `Each format's whole path under ${TARGET_SECONDS} s: met by ${list(within(whole))} at the median wall time here, by ${list(within(cpu))} in CPU time (the slowest is ${worst}); wall time moves with the host's other load, CPU time much less.`,
  ].join(" ");
}

/** Today's medians beside the figures recorded before the fixes, with the ratio. */
function beforeAndAfter(whole: Map<ReportFormat, number>, render: Map<ReportFormat, number>, bytes: Map<ReportFormat, number>, readSeconds: number): string {
  const ratio = (before: number, after: number) => (after > 0 ? `${formatNumber(before / after)}×` : "—");
  const lines = [
    `Before the fixes (${BEFORE.commit}, ${BEFORE.date}, ${BEFORE.host}; one read, each format rendered once from it), against the medians above:`,
    "",
    "| measured | before | after | before / after |",
    "|---|--:|--:|--:|",
    `| read the run (s) | ${formatNumber(BEFORE.readSeconds)} | ${formatNumber(readSeconds)} | ${ratio(BEFORE.readSeconds, readSeconds)} |`,
  ];
  for (const f of FORMATS) {
    const [w, r, mb] = [whole.get(f) ?? 0, render.get(f) ?? 0, (bytes.get(f) ?? 0) / 1e6];
    lines.push(`| ${f}: read + judge + render (s) | ${formatNumber(BEFORE.whole[f] ?? 0)} | ${formatNumber(w)} | ${ratio(BEFORE.whole[f] ?? 0, w)} |`);
    lines.push(`| ${f}: render only (s) | ${formatNumber(BEFORE.render[f] ?? 0)} | ${formatNumber(r)} | ${ratio(BEFORE.render[f] ?? 0, r)} |`);
    lines.push(`| ${f}: size (MB) | ${formatNumber(BEFORE.mb[f] ?? 0)} | ${formatNumber(mb)} | ${ratio(BEFORE.mb[f] ?? 0, mb)} |`);
  }
  return lines.join("\n");
}
