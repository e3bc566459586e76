// The reports-at-scale benchmark of `npm run bench` (`npm run bench -- reports`): a finished run of
// 1,000 nodes × 20 checks × 5 iterations in a real coord.db, and each report format produced from
// it the way `coord report` produces it: the run read from the store as GetRun reads it (with its
// flake history), encoded into GetRun's pieces and joined back, judged, rendered; then the same
// reports made end to end by a real `coord serve` on that store and `coord report` processes.
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runWithFlakes } from "../coordinator/judgement/stored.js";
import { judgeRun } from "../coordinator/judgement/verdict.js";
import { loadReport, type Report, type ReportFormat } from "../coordinator/reports/formats.js";
import { openDb } from "../coordinator/store/db.js";
import type { RunRecord } from "../shared/gen/fleetgate/v1/control_pb.js";
import { joinRunPieces, runPieces } from "../shared/grpc/run-pieces.js";
import type { Cleanup } from "./bench-cleanup.js";
import { processCpuSeconds, reapedChildrenCpuSeconds } from "./bench-cpu.js";
import type { Progress } from "./bench-components.js";
import { formatNumber, type BenchResult, type Row } from "./bench-report.js";
import { since, summarize } from "./bench-stats.js";
import { coord, startCoordinator } from "./local-fleet.js";
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

/**
 * The same bench before this file's second round of fixes (GetRun's own codec, raw rows and
 * message literals in the read, flakes keyed per task, CTRF's extra without a spread): `node
 * dist/scripts/bench.js reports` at commit fed9bd5 on 2026-11-29T01:59Z, this machine at load
 * average 9.6, medians of 3; and `coord report` end to end against `coord serve` at that commit
 * (2026-11-29T02:03Z, load average about 11, medians of 3, measured as endToEnd() measures).
 */
const BEFORE_CODEC = {
  commit: "fed9bd5",
  date: "2026-11-29T01:59Z",
  readSeconds: 10.7,
  whole: { html: 11.4, junit: 13.1, ctrf: 17.3, json: 13.2 } as Record<string, number>,
  render: { html: 1.16, junit: 1.92, ctrf: 6.51, json: 1.29 } as Record<string, number>,
  cpu: { html: 3.98, junit: 4.36, ctrf: 6.08, json: 4.39 } as Record<string, number>,
  e2eWall: { html: 13.25, junit: 13.98, ctrf: 18.08, json: 14.93 } as Record<string, number>,
  e2eCliCpu: { html: 2.37, junit: 2.67, ctrf: 4.19, json: 2.76 } as Record<string, number>,
  e2eServeCpu: { html: 2.74, junit: 2.85, ctrf: 2.55, json: 2.64 } as Record<string, number>,
};

/**
 * Where the CPU went, by `node --cpu-prof` of the read and each renderer on the bench's run
 * (one process, the host quiet), before and after the fixes: CPU seconds.
 */
const PROFILE = [
  ["the store's read (loadRunRecord): SQLite rows as objects, create() per result", "1.4", "0.85", "`.raw()` rows (an array a row), each result made as a literal with create()'s keys (run-codec.ts checkResult); the query itself (0.35 s, its ORDER BY a temp b-tree of 20 rows a task) is left"],
  ["findFlakes over 100,000 results", "0.32", "0.10", "stage and node worked out once per task, a map per check id, instead of a key string per result"],
  ["GetRun encode (toBinary of the RunRecord, protobuf-es reflection)", "0.75", "0.25", "shared/grpc/run-codec.ts writes tasks and results itself into one buffer (strings by Buffer.write, no TextEncoder per field); the same protobuf bytes, so any client reads them"],
  ["GetRun decode (fromBinary, reflection, create() per message)", "0.70", "0.20", "the codec reads tasks and results into literals; the run's other fields still by protobuf-es"],
  ["ctrf: building the document (ctrfDocument)", "1.3", "0.25", "a test's extra names the task's keys instead of spreading a shared object (V8's slow clone path, 100,000 times); tests pushed, not spread"],
  ["ctrf: JSON.stringify of the 75 MB document, indented", "0.45", "0.45", "left: the format's bytes are kept as they were"],
  ["junit: fast-xml-parser's XMLBuilder", "0.55", "0.55", "left: its escaping and layout are the report's bytes"],
];

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
  const digests = new Map<ReportFormat, string>();
  const renderers = new Map<ReportFormat, Report>();
  for (const f of FORMATS) renderers.set(f, await loadReport(f));
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
      const text = renderers.get(format)!(run, judgement);
      const renderMs = since(t);
      const wholeMs = since(start);
      const used = process.cpuUsage(cpuStart);
      bytes.set(format, Buffer.byteLength(text));
      digests.set(format, sha256(text));
      if (rep === 0) continue;
      read.push(readMs);
      judge.push(judgeMs);
      render.get(format)?.push(renderMs);
      whole.get(format)?.push(wholeMs);
      cpu.get(format)?.push((used.user + used.system) / 1000);
    }
  }
  await closeDb();
  const e2e = await endToEnd(dir, digests, cleanup, say);
  await removeDir();

  const rows: Row[] = [
    { measure: "read the run: store → GetRun pieces → RunRecord", unit: "s", better: "lower", summary: summarize(read.map((ms) => ms / 1000)) },
    { measure: "judge the run (judgeRun)", unit: "s", better: "lower", summary: summarize(judge.map((ms) => ms / 1000)) },
  ];
  for (const f of FORMATS) rows.push({ measure: `${f}: render only`, unit: "s", better: "lower", summary: summarize((render.get(f) ?? []).map((ms) => ms / 1000)) });
  for (const f of FORMATS) rows.push({ measure: `${f}: read + judge + render (target < ${TARGET_SECONDS} s)`, unit: "s", better: "lower", summary: summarize((whole.get(f) ?? []).map((ms) => ms / 1000)) });
  for (const f of FORMATS) rows.push({ measure: `${f}: CPU of the whole path (every thread of this process, GC included)`, unit: "CPU s", better: "lower", summary: summarize((cpu.get(f) ?? []).map((ms) => ms / 1000)) });
  for (const f of FORMATS) rows.push({ measure: `${f}: report size${f === "html" ? ` (target < ${TARGET_HTML_MB} MB)` : ""}`, unit: "MB", better: "lower", summary: summarize([(bytes.get(f) ?? 0) / 1e6]) });
  for (const f of FORMATS) rows.push({ measure: `${f}: end to end, \`coord report --format ${f} -o FILE\` against coord serve (target < ${TARGET_SECONDS} s)`, unit: "s", better: "lower", summary: summarize(e2e.wall.get(f) ?? []) });
  for (const f of FORMATS) rows.push({ measure: `${f}: end to end, CPU of the coord report process (start included)`, unit: "CPU s", better: "lower", summary: summarize(e2e.cliCpu.get(f) ?? []) });
  for (const f of FORMATS) rows.push({ measure: `${f}: end to end, CPU of coord serve answering GetRun`, unit: "CPU s", better: "lower", summary: summarize(e2e.serveCpu.get(f) ?? []) });
  const worst = FORMATS.map((f) => ({ f, s: summarize(whole.get(f) ?? []).median })).sort((a, b) => b.s - a.s)[0];
  return {
    title: `Reports at scale: ${size.nodes.toLocaleString("en-US")} nodes × ${SYNTHETIC_CHECKS_PER_TASK} checks × ${size.iterations} iterations`,
    method:
      `One finished fleet run (scripts/synthetic-run.ts: ${stored.toLocaleString("en-US")} check results of ${results.toLocaleString("en-US")} planned — not-ready and lost nodes report fewer — mostly passes with a short output tail, ` +
      `and a node in 100 not ready, a node in 250 lost from iteration 3, a skip on every 40th node, a flaky check and scattered failures with retries and 24-line output tails and agent errors) ` +
      `written through the store's own writers (insertRun, recordAgentEvent, setTaskStatus, finishRun) into a real coord.db in a temp dir, ${formatNumber(dbMb)} MB, built in ${formatNumber(buildSeconds)} s with synchronous=OFF (building is not measured). ` +
      `Each report is then made as \`coord report RUN --format F\` makes it, in this one process: the run read as GetRun reads it (runWithFlakes), encoded into GetRun's pieces and joined back, judgeRun, the format's renderer. ` +
      `Warm-up one round of the ${FORMATS.length} formats, then ${REPS} rounds, each format from its own read. ` +
      `End to end: then a real \`coord serve --insecure\` on that store (loopback) and \`coord report RUN --format F -o FILE\` run as its own process, warm-up one round, then ${E2E_REPS} rounds: ` +
      `wall time from spawn to exit (the CLI's start, GetRun over gRPC, decode, judge, render, write), the CLI's CPU, and coord serve's CPU meanwhile (read, flakes, encode, send); each file is checked to be byte for byte the report rendered in process.`,
    rows,
    bound: bound(median(whole), median(cpu), bytes, summarize(read).median / 1000, summarize(read).min / 1000, worst?.f ?? "", new Map([...e2e.wall].map(([f, xs]) => [f, summarize(xs).median]))),
    notes: beforeAndAfter(median(whole), median(render), bytes, summarize(read).median / 1000, median(cpu), e2e),
  };
}

const E2E_REPS = 3;

const sha256 = (text: string | Buffer): string => createHash("sha256").update(text).digest("hex");

interface EndToEnd {
  wall: Map<ReportFormat, number[]>;
  cliCpu: Map<ReportFormat, number[]>;
  serveCpu: Map<ReportFormat, number[]>;
}

/**
 * Each format as a person gets it: `coord report` in its own process against a real coord serve
 * on the bench's store, over loopback gRPC. Seconds and CPU seconds; throws if a written report
 * differs from the one rendered in process (`digests`).
 */
async function endToEnd(stateDir: string, digests: Map<ReportFormat, string>, cleanup: Cleanup, say: Progress): Promise<EndToEnd> {
  const out: EndToEnd = { wall: new Map(), cliCpu: new Map(), serveCpu: new Map() };
  say("reports: starting coord serve on the store for the end-to-end reports");
  const coordinator = await startCoordinator(stateDir, ["--insecure"]);
  const stop = cleanup.add("stop coord serve", () => coordinator.stop());
  const pid = coordinator.process.pid;
  for (let rep = 0; rep <= E2E_REPS; rep++) {
    for (const format of FORMATS) {
      say(`reports: coord report --format ${format}, ${rep === 0 ? "warm-up" : `repetition ${rep} of ${E2E_REPS}`}`);
      const file = join(stateDir, `report.${format}`);
      const [cli0, serve0] = [reapedChildrenCpuSeconds(), processCpuSeconds(pid)];
      const start = performance.now();
      const r = await coord(coordinator, ["report", RUN_ID, "--format", format, "--insecure", "-o", file]);
      const wall = since(start) / 1000;
      const [cli1, serve1] = [reapedChildrenCpuSeconds(), processCpuSeconds(pid)];
      if (r.exitCode !== 0) throw new Error(`reports bench: coord report --format ${format} exited ${r.exitCode}: ${r.stderr}`);
      if (sha256(readFileSync(file)) !== digests.get(format)) throw new Error(`reports bench: coord report --format ${format} wrote a report that differs from the one rendered in process`);
      rmSync(file, { force: true });
      if (rep === 0) continue;
      const push = (m: Map<ReportFormat, number[]>, v: number | undefined) => v !== undefined && m.set(format, [...(m.get(format) ?? []), v]);
      push(out.wall, wall);
      push(out.cliCpu, cli0 !== undefined && cli1 !== undefined ? cli1 - cli0 : undefined);
      push(out.serveCpu, serve0 !== undefined && serve1 !== undefined ? serve1 - serve0 : undefined);
    }
  }
  await stop();
  return out;
}

const median = (m: Map<ReportFormat, number[]>) => new Map([...m].map(([f, xs]) => [f, summarize(xs).median / 1000]));

/** What limits the figures, and which of issue 16's targets this run met, by wall and by CPU time. */
function bound(whole: Map<ReportFormat, number>, cpu: Map<ReportFormat, number>, bytes: Map<ReportFormat, number>, read: number, fastestRead: number, worst: string, e2e: Map<ReportFormat, number>): string {
  const within = (m: Map<ReportFormat, number>) => FORMATS.filter((f) => (m.get(f) ?? Infinity) < TARGET_SECONDS);
  const list = (fs: ReportFormat[]) => (fs.length ? fs.join(", ") : "none");
  const htmlMb = (bytes.get("html") ?? 0) / 1e6;
  return [
    `one core of JavaScript and its garbage collector on each side. In process the read comes first (${formatNumber(read)} s median, fastest ${formatNumber(fastestRead)} s): the SQLite query (about 0.35 s of CPU for 100,000 rows), a message per result, and GetRun's encoding and decoding (its own codec for tasks and results, shared/grpc/run-codec.ts); then the renderer, most of all JSON.stringify of CTRF's 75 MB and the JUnit XML builder.`,
    `End to end the CLI also starts (\`coord --version\` takes about 0.33 s here: \`coord\` loads what a command needs when it runs, and one renderer) and waits for coord serve's read and encoding, which comes before any of its own work (the pieces are one encoded record); the loopback transfer itself is short (about 11 MB in 1 MiB pieces).`,
    `Targets of issue 16: the HTML under ${TARGET_HTML_MB} MB: ${htmlMb < TARGET_HTML_MB ? "met" : "not met"} (${formatNumber(htmlMb)} MB).`,
    `Each format's whole path under ${TARGET_SECONDS} s: in process met by ${list(within(whole))} at the median wall time here and by ${list(within(cpu))} in CPU time (the slowest is ${worst}); end to end by ${list(within(e2e))} at the median wall time. Wall time moves with the host's other load, CPU time much less.`,
  ].join(" ");
}

/** Today's medians beside the figures recorded before the fixes, with the ratio. */
function beforeAndAfter(whole: Map<ReportFormat, number>, render: Map<ReportFormat, number>, bytes: Map<ReportFormat, number>, readSeconds: number, cpu: Map<ReportFormat, number>, e2e: EndToEnd): string {
  const ratio = (before: number, after: number) => (after > 0 && Number.isFinite(before) ? `${formatNumber(before / after)}×` : "—");
  const num = (n: number) => (Number.isFinite(n) ? formatNumber(n) : "—");
  const lines = [
    `Before the first fixes (${BEFORE.commit}, ${BEFORE.date}, ${BEFORE.host}; one read, each format rendered once from it), against the medians above:`,
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
  const m = (xs: number[] | undefined) => (xs?.length ? summarize(xs).median : NaN);
  lines.push(
    "",
    `Before the second fixes (this bench at ${BEFORE_CODEC.commit}, ${BEFORE_CODEC.date}, this machine at load average 9.6; end to end at the same commit, load average about 11), against the medians above. Wall time here moves with the host's other load; CPU time is the steadier comparison:`,
    "",
    "| measured | before | after | before / after |",
    "|---|--:|--:|--:|",
    `| read the run (s) | ${num(BEFORE_CODEC.readSeconds)} | ${num(readSeconds)} | ${ratio(BEFORE_CODEC.readSeconds, readSeconds)} |`,
  );
  for (const f of FORMATS) {
    const rows: [string, number, number][] = [
      [`${f}: read + judge + render (s)`, BEFORE_CODEC.whole[f] ?? NaN, whole.get(f) ?? NaN],
      [`${f}: render only (s)`, BEFORE_CODEC.render[f] ?? NaN, render.get(f) ?? NaN],
      [`${f}: CPU of the whole path in process (CPU s)`, BEFORE_CODEC.cpu[f] ?? NaN, cpu.get(f) ?? NaN],
      [`${f}: end to end, coord report against coord serve (s)`, BEFORE_CODEC.e2eWall[f] ?? NaN, m(e2e.wall.get(f))],
      [`${f}: end to end, CPU of coord report (CPU s)`, BEFORE_CODEC.e2eCliCpu[f] ?? NaN, m(e2e.cliCpu.get(f))],
      [`${f}: end to end, CPU of coord serve (CPU s)`, BEFORE_CODEC.e2eServeCpu[f] ?? NaN, m(e2e.serveCpu.get(f))],
    ];
    for (const [what, before, after] of rows) lines.push(`| ${what} | ${num(before)} | ${num(after)} | ${ratio(before, after)} |`);
  }
  lines.push("", "What the profiles showed (CPU seconds, `node --cpu-prof`, one report's path, the host quiet) and what changed:", "", "| where the time went | before | after | what changed |", "|---|--:|--:|---|");
  for (const [what, before, after, change] of PROFILE) lines.push(`| ${what} | ${before} | ${after} | ${change} |`);
  return lines.join("\n");
}
