// `npm run bench -- scale`: the coordinator with N simulated agents (scripts/load-agents.ts): how
// registration, one fleet run of a 20-check suite, memory and CPU grow with N.
import type { Cleanup } from "./bench-cleanup.js";
import type { Progress } from "./bench-components.js";
import type { BenchResult, Row } from "./bench-report.js";
import { summarize } from "./bench-stats.js";
import { runLoad, type LoadFigures } from "./load-agents.js";
import { timeSequencer } from "./bench-sequencer.js";

const CHECKS = 20;
const WORKERS = 3;
/** TLS costs a handshake per stream and a certificate per enrollment: measured at this N beside plaintext. */
const TLS_AT = 100;
/** At N=1,000 the fleet run is made this many times on one coordinator: the later runs have a history. */
const RUNS_IN_A_ROW_AT = 1000;
const RUNS_IN_A_ROW = 3;

const one = (x: number) => summarize([x]);

/** What N=1,000 looked like before this part's profile found its causes (same machine, same tool). */
export const BEFORE_AFTER = [
  "Before and after this part's fixes, N=1,000 plaintext: the same load tool against a build of e0071ad and then of the fixed tree, one after the other on this machine on 2026-11-29 00:00 UTC (other work on the host, load average 6–8; single samples, so only large differences count):",
  "",
  "| at N=1,000 | before (e0071ad) | after |",
  "|---|--:|--:|",
  "| registration | 137 agents/s | 110 agents/s |",
  "| `coord run fleet` wall time | 29.0 s | 16.8 s |",
  "| run time in the store | 11.4 s | 10.4 s |",
  "| coordinator CPU for the run | 12.1 CPU s | 6.9 CPU s |",
  "| coordinator peak RSS | 396 MiB | 364 MiB |",
  "",
  "What the coordinator's CPU profile (`node --cpu-prof`, `load-agents.js --cpu-prof DIR`) showed, and what changed:",
  "- `touchNode`, 30 % of all samples: nodes.last_seen was one synced SQLite commit per node per heartbeat interval, 200 fsyncs a second on the event loop at 1,000 agents and 5 s heartbeats. Heartbeats queued behind them until streams were dropped as silent (on a busy host one run lost 38 of 1,000 agents: `agent silent for 15000 ms`). Now one transaction per interval for every node heard (`coordinator/store/last-seen.ts`).",
  "- `coord run` following the run copied its whole progress state (two maps of N entries) for every result: N² work (40 million entries at 1,000 × 20). Now folded in place (`applyUpdateInPlace`).",
  "- A registration was four synced commits (enrollment use, roster row, key, timeline event); the roster row and the key are now one. The rest still bounds the registration rate: each hello waits on its commits in turn.",
  "",
  "Found at N=5,000 on 2026-11-29 (01:40–02:45 UTC; other sessions' tests on the host, load average 7–13), with `load-agents.js --nodes 5000`, an event-loop delay monitor and a CPU profile of the coordinator taken through the inspector (`--cpu-prof` writes nothing when the process is stopped by a signal), and what changed:",
  "- The sequencer's pure step copied every task of the run on every step, and walked the current stage several times, to stay pure: the N task-done steps of a fleet stage of N nodes cost N² together (7.9 s at N=5,000, 0.25 s at 1,000, in its own loop). Tasks are now copied on write and each stage group's counts of tasks not over and pending are kept as statuses change (`coordinator/sequencer/task-table.ts`): a result that starts nothing reads two numbers (the sequencer rows above). A property test holds that a step leaves the state it was given as it was, and that the counts match the tasks.",
  "- Liveness events (a node's timeline: connected, disconnected, lost) were one synced commit each on the event loop: 7.4 of 35 profiled CPU seconds at N=1,000, at registration and again at shutdown. Now a batch per 20 ms (`coordinator/store/node-event-writer.ts`).",
  "- An enrollment was two synced commits (the token's use, then the roster row and key); now one.",
  "- A burst of results held the coordinator's event loop for seconds (a gap of 14–23 s between two ticks of a 2 s timer, with 10 s of CPU used in it, on a host whose other load left it a fraction of a core). Its timers then ran before it read the sockets: `coord run` saw its keepalive unanswered and exited 4 mid-run (610–1,269 of 5,000 tasks done, three runs), and every agent's silence timer fired with its heartbeats unread, so hundreds of healthy nodes went offline, then lost (729 of 5,000 tasks lost in one run). Now `coord run` follows the run again after a dropped watch (`coordinator/cli/rewatch.ts`), and a silence timer that fires more than 1 s late waits 2 s for the unread heartbeats before it drops a stream (`coordinator/fleet/silence.ts`).",
  "- With these, N=5,000 completes on this host: GO, 5,000 tasks and 100,000 results stored once (the rows above, measured with the host otherwise quiet).",
  "",
  "Then (2026-11-29, 05:16 UTC, the rows above against the same bench at 02:43 UTC on the same quiet host): WatchRun writes only while the watcher's stream has room and keeps a bounded backlog (each task's latest status, check updates up to 8 MiB, the run's end always; `coordinator/server/watch-backlog.ts`), and replays a stored run without its output tails, so `coord run` following a 5,000-node run no longer makes the coordinator hold everything it sent; alert files are written off the event loop, coalesced per alert (a burst of 1,000 raises and 1,000 resolves held the event loop 1–2 s before, 16–19 ms after). At N=1,000: run wall time 8.20 → 4.66 s, coordinator CPU for the run 6.36 → 3.79 s, peak RSS 321 → 305 MiB. At N=5,000: wall time 35.3 → 17.6 s, peak RSS 1,193 → 869 MiB.",
  "- Left: registration still waits on one synced commit per hello in turn; the coordinator still holds a finished run's whole record (100,000 results at N=5,000) to summarise it and write its evidence bundle, which is most of the remaining peak.",
  "",
  "Then (2026-11-29, 10:45–11:00 UTC; a build of 12c017b against this tree, alternating, 3 runs each at N=1,000 on the same host, load average about 2): `coord` imports what a command does when it runs (`coord --version` 0.55 → 0.33 s; the server, both stores' drivers, the certificate code and the report renderers are no longer loaded by a client command); `coord run` reads the finished run back without output tails (GetRunRequest.without_output: its status table and verdict never read them); the evidence bundle is written one file at a time instead of from a map of every file. Medians: run wall time 6.60 → 6.18 s, coordinator CPU for the run 5.50 → 5.45 s, peak RSS 315 → 292 MiB (289, 292, 299).",
  "- What the peak is: a full GC forced every 1.5 s in the coordinator (`--expose-gc`, for the measurement only) leaves 38–67 MiB of live heap after the run and the peak falls to 254 MiB; without it heapUsed reaches 170 MiB, nearly all of it garbage V8 has not collected yet (the records read at a run's end: its summary, the alert check, the bundle, `coord run`'s read). V8's `--optimize-for-size` (collect sooner, grow the heap less) took the peak to 198–216 MiB but the coordinator's CPU for the run from 5.5 to 8.1–8.8 s, so it is not the default.",
  "- Where the coordinator's CPU goes at N=1,000 (CPU profile of one run, 5.5 CPU s for 20,000 results: 275 µs a result): HTTP/2 framing and stream writes in @grpc/grpc-js and Node, protobuf encoding and decoding, the batched SQLite commits (1.07 s with their syncs), the garbage collector (0.5 s), the evidence bundle (0.4 s), no one part above a fifth. Acks are still one message per event (the agent acks by seq): their writes cost about 0.11 CPU s of the 5.5, too little to change the protocol for.",
  "",
  "Then (2026-11-29, 13:40 UTC; a build of 4067ba1 against this tree, alternating, 3 runs each at N=1,000, host otherwise quiet): `coord run` printed 17–47 of its progress lines before the run was over in the store and its last one 1.87–2.03 s after; its watch stream was stalled. grpc-js completes a stream's writes one at a time, about one per turn of the event loop, and while 1,000 agents report at once one turn reads every socket and commits their events, 1–2 s (measured with a setImmediate ticker: one turn of 1,741 ms held 30 batch commits); with one update a message and grpc-js's room for 16, the watcher got 16 updates a turn. Now a watch keeps one message in flight and sends everything waiting as one WatchRunBatch (up to 10,000 updates, at most 3 MiB at 3 bytes a character, the run's end always alone); the CLI's channel has an 8 MiB HTTP/2 window, since a 1 MB batch through 64 KiB windows took 2.3 s (one window update a turn); the evidence bundle starts after the finishing turn, so the watchers hear the end first. After: 5,894–6,656 progress lines before the end, the last 0.22–0.29 s after it; run wall time 6.21–6.64 → 5.52–5.80 s, coordinator CPU for the run 5.25–5.64 → 4.56–4.90 s (a batch is one message to frame and encode instead of thousands). Lines are still fewer than results: a watcher more than 8 MiB of check updates behind (about 8,000) is sent every task's status and the end, not every check (watch-backlog.ts); the stored run has them all.",
  "",
  "Then (2026-11-29, 13:50–14:05 UTC): the same fleet run several times on one coordinator (`load-agents.js --runs R`), what a single run on a fresh coordinator never shows. At N=1,000 and 5 runs in a row (tree of 018a405) the coordinator's CPU per run climbed 4.48, 4.84, 5.09, 5.81, 5.80 s and its RSS after each run kept rising; with its heap capped at 160 MB (`--max-old-space-size=160`, to tell garbage from what is kept) it ran out of memory in the 10th run. Two causes, from heap snapshots compared between runs 2 and 6 (80,000 more check results held, every one reached from an evidence bundle being written) and from timing the judgement:",
  "- Each end of a run judges it four times within a second (its summary, `coord run`'s read, the alert check, the evidence bundle) and each judgement read the plan's last 10 comparable runs whole for flakes, about 150 ms per earlier run at 1,000 × 20 results. Now the history is read as check outcomes only (store/check-outcomes.ts, about 45 ms a run), and a finished run's flakes are kept once no run that would be its history is still going, when they can no longer change. After: CPU per run 4.49, 4.41, 4.27, 4.61, 4.24 s over 5 runs, and 4.1–4.7 s over 10.",
  "- The evidence bundle was written one awaited fs call after another (open, write, close through libuv's threadpool), each waiting for a turn of the event loop; while the next run's 1,000 agents reported, turns of 1–2 s left a 20,000-file bundle behind the run after it, and the bundles in progress, each holding its run's record, piled up. Now bundle files are written synchronously in 50 ms slices. After: 10 runs in a row complete with the heap capped at 160 MB, RSS after each run 213–270 MiB.",
  "",
  "Then (2026-11-29, 16:40 UTC; a build of aa8d6da against this tree, alternating, twice 3 runs in a row each at N=1,000, host otherwise quiet): acks go in batches. An agent whose Hello sets `takes_ack_batches` gets one Ack for all of a commit's events from its stream (`Ack.more_seqs`); an agent from before the field still gets one Ack per event, so a fleet upgrades a node at a time. Per run: wall time 5.42–6.16 → 4.72–5.85 s (mean 5.84 → 5.12), coordinator CPU 4.57–5.82 → 4.28–5.00 s (mean 5.19 → 4.69); the load processes' CPU over 3 runs 10.5–10.6 → 8.1–8.8 s. The profile above counted only the acks' own writes (0.11 CPU s); their HTTP/2 frames, flushes and the agents' reads of them cost more than that. Also, the coordinator no longer encodes each incoming result to measure it against the size budget when its lengths and counts already show it within (`withinBudget` in shared/model/result-bounds.ts): in CPU profiles of one N=1,000 run, the agent-message handler went from 3.10 to 2.47 CPU s, of which the budget check had been 0.52 s.",
  "",
  "Then (2026-11-29, 18:51–18:56 UTC, on a faster host than the figures above: `node -e 0` 50 ms against 84 ms; a build of 5838c13 against this tree, alternating, twice 3 runs in a row each at N=1,000, host otherwise quiet): `coord run` ends on the verdict of the watch's finished summary, which the coordinator reached on the whole run, and reads back only the tasks for its status table (GetRunRequest.without_checks), no longer every check result; the load tool splits the wall time (the rows above: the CLI's start to the run's row, the run's finish to the CLI's exit). A run's finish to `coord run`'s exit went from 1.00–1.04 s (two runs of the tree before, measured with this tool) to 0.63–0.86 s: of that, seeing the finished update takes about 0.43 s (the watch's backlog, then the run judged for its summary) and the tasks-only read 0.23 s, behind the alert check and the evidence bundle started in the same moment. Per run: wall time 3.02–3.91 → 2.77–3.53 s (mean 3.37 → 3.11), coordinator CPU 2.54–3.31 → 2.60–3.03 s (mean 2.95 → 2.81).",
  "",
  "Not reached: run overhead ≤ 2 s at N=1,000 — on the host of 18:51 UTC the coordinator's own CPU for the run (2.5–3.0 s) is above it before any other process runs, and the 3 load processes (5.6–5.9 CPU s for the registrations and 3 runs) and `coord run` share its 2 cores; of the 2.8–3.5 s a run takes from `coord run`'s start to its exit, 0.36–0.68 s pass before the run exists (the CLI's start: `coord --version` alone takes 0.31 s there) and 0.5–0.9 s after it finished (the rows above: one run of each). Meeting it needs the coordinator's CPU per result cut by about half, spread over gRPC, protobuf, SQLite and the evidence bundle's 3,000 files as above. RSS ≤ 300 MiB at N=1,000: met by a single run on a fresh coordinator (273–302 MiB in 5 runs at 10:45–11:05 UTC, 261–305 MiB at 13:50–14:05), not by runs in a row (the rows above: RSS after each of 3 runs), where V8 lets the garbage of each run's end grow its heap while what the coordinator keeps stays bounded: 10 runs in a row complete within a 160 MB heap (above).",
].join("\n");

function rows(f: LoadFigures): Row[] {
  const at = `N=${f.nodes}${f.transport === "tls" ? " (TLS)" : ""}`;
  const r: Row[] = [
    { measure: `${at}: registration rate (first hello → last registered)`, unit: "agents/s", better: "higher", summary: one(f.registrationsPerSecond) },
    { measure: `${at}: hellos sent again (refused for a while, or a connection reset under load)`, unit: "hellos", better: "lower", summary: one(f.helloRetries) },
    { measure: `${at}: \`coord run fleet\` wall time`, unit: "s", better: "lower", summary: one(f.runWallSeconds) },
    { measure: `${at}: run overhead above the slowest simulated node`, unit: "s", better: "lower", summary: one(f.runWallSeconds - f.slowestNodeSeconds) },
    { measure: `${at}: of the wall time, \`coord run\` starting to the run's row (the CLI's start, the plan read and sent)`, unit: "s", better: "lower", summary: one(f.cliToCreatedSeconds) },
    { measure: `${at}: run time in the store (created → finished)`, unit: "s", better: "lower", summary: one(f.runStoreSeconds) },
    { measure: `${at}: of the wall time, the run finished in the store to \`coord run\`'s exit (the last updates, the summary)`, unit: "s", better: "lower", summary: one(f.finishedToExitSeconds) },
    { measure: `${at}: check results committed per second of \`coord run\``, unit: "results/s", better: "higher", summary: one(f.checkResults / f.runWallSeconds) },
    { measure: `${at}: \`coord run\`'s progress lines (a line a result, a task's start and end; fewer when it falls far behind)`, unit: "lines", better: "higher", summary: one(f.progressLines) },
    { measure: `${at}: of them printed before the run finished in the store`, unit: "lines", better: "higher", summary: one(f.progressLinesBeforeEnd) },
    { measure: `${at}: \`coord run\`'s last progress line after the run finished in the store`, unit: "s", better: "lower", summary: one(f.lastProgressAfterEndSeconds) },
  ];
  const mem: [string, number | undefined][] = [
    ["coordinator RSS with N agents connected, before the run", f.coordRssIdleMiB],
    ["coordinator RSS after the run", f.coordRssAfterRunMiB],
    ["coordinator peak RSS (VmHWM)", f.coordPeakMiB],
  ];
  for (const [what, v] of mem) if (v !== undefined) r.push({ measure: `${at}: ${what}`, unit: "MiB", better: "lower", summary: one(v) });
  if (f.coordCpuRegisterSeconds !== undefined) r.push({ measure: `${at}: coordinator CPU for the N registrations`, unit: "CPU s", better: "lower", summary: one(f.coordCpuRegisterSeconds) });
  if (f.coordCpuRunSeconds !== undefined) r.push({ measure: `${at}: coordinator CPU for the run`, unit: "CPU s", better: "lower", summary: one(f.coordCpuRunSeconds) });
  // Runs in a row: a cost that grows with the plan's history, or work a run leaves behind, shows as a climb.
  f.runs.forEach((run, i) => {
    if (f.runs.length < 2) return;
    const which = `${at}: run ${i + 1} of ${f.runs.length} in a row on one coordinator`;
    r.push({ measure: `${which}, \`coord run fleet\` wall time`, unit: "s", better: "lower", summary: one(run.runWallSeconds) });
    if (run.coordCpuRunSeconds !== undefined) r.push({ measure: `${which}, coordinator CPU`, unit: "CPU s", better: "lower", summary: one(run.coordCpuRunSeconds) });
    if (run.coordRssAfterRunMiB !== undefined) r.push({ measure: `${which}, coordinator RSS after it`, unit: "MiB", better: "lower", summary: one(run.coordRssAfterRunMiB) });
  });
  return r;
}

/** Registration and the run, checked: every task passed, every result stored exactly once. */
function verified(f: LoadFigures): LoadFigures {
  const want = f.nodes * CHECKS;
  if (f.runExitCode !== 0 || f.tasks !== f.nodes || f.tasksPassed !== f.nodes || f.checkResults !== want || f.distinctResults !== want) {
    throw new Error(`load at N=${f.nodes}: coord run exited ${f.runExitCode} after ${f.runWallSeconds.toFixed(1)} s; ${f.tasksPassed}/${f.tasks} tasks passed, ${f.checkResults} results (${f.distinctResults} distinct) stored; expected GO, ${f.nodes} and ${want}. coord run said: ${f.runSaid}`);
  }
  return f;
}

/** The pure sequencer over a fleet stage of N, median of 5 after a warm-up: its own share of a run. */
function sequencerRows(sizes: number[]): Row[] {
  return sizes.flatMap((nodes) => {
    timeSequencer(nodes);
    const runs = Array.from({ length: 5 }, () => timeSequencer(nodes));
    if (!runs.every((r) => r.finished)) throw new Error(`sequencer at N=${nodes}: the stage did not finish with every task passed`);
    return [
      { measure: `N=${nodes}: sequencer alone, starting a fleet stage of N (N dispatches)`, unit: "ms", better: "lower" as const, summary: summarize(runs.map((r) => r.startMs)) },
      { measure: `N=${nodes}: sequencer alone, the N task-done steps of that stage`, unit: "ms", better: "lower" as const, summary: summarize(runs.map((r) => r.allDoneMs)) },
    ];
  });
}

export async function benchScale(sizes: number[], cores: number, _cleanup: Cleanup, say: Progress): Promise<BenchResult> {
  const all: LoadFigures[] = [];
  /** Sizes beyond the goal's 1,000 that did not complete: said in the report instead of failing the bench. */
  const beyond: string[] = [];
  for (const nodes of sizes) {
    say(`scale ${nodes}: a coordinator and ${nodes} simulated agents (plaintext)`);
    const runs = nodes === RUNS_IN_A_ROW_AT ? RUNS_IN_A_ROW : 1;
    const f = await runLoad({ nodes, workers: WORKERS, tls: false, checks: CHECKS, runs, checkMs: 0, failRate: 0, say: (t) => say(`scale ${nodes}: ${t}`) });
    try {
      all.push(verified(f));
    } catch (err) {
      if (nodes <= 1000) throw err;
      say((err as Error).message);
      beyond.push(`N=${nodes} did not complete on this machine: registration ${f.registrationsPerSecond.toFixed(0)} agents/s (${f.registerSeconds.toFixed(1)} s), coordinator RSS ${f.coordRssIdleMiB?.toFixed(0)} MiB with every agent connected; then ${(err as Error).message.replace(/^load at N=\d+: /, "")}`);
    }
  }
  say(`scale ${TLS_AT}: again over TLS`);
  all.push(verified(await runLoad({ nodes: TLS_AT, workers: WORKERS, tls: true, checks: CHECKS, runs: 1, checkMs: 0, failRate: 0, say: (t) => say(`scale ${TLS_AT} TLS: ${t}`) })));
  const biggest = all.filter((f) => f.transport === "plaintext").at(-1)!;
  const perNode = (f: LoadFigures) => (f.coordPeakMiB ?? Number.NaN) / f.nodes;
  return {
    title: "Scale: one coordinator, N simulated agents",
    method:
      `\`node dist/scripts/load-agents.js --nodes N\` for N = ${sizes.join(", ")} (plaintext, \`coord serve --insecure\` on loopback) and N = ${TLS_AT} over TLS ` +
      `(the default: a handshake per stream, a node certificate issued at each enrollment). A real \`coord serve\` on this host; ${WORKERS} worker processes hold the N agent streams, ` +
      `each a real gRPC stream saying what an agent says (hello with its own machine-id, boot-id, name and a loopback source address of its own, heartbeats at the coordinator's interval, ` +
      `numbered CheckEvents and a TaskDone per task); the results are synthetic (every check passes at once), so the agents' side costs no process spawns. ` +
      `One fleet run (\`coord run fleet --plan\`, one iteration) of a ${CHECKS}-check suite on all N; GO, N tasks passed and N × ${CHECKS} results stored exactly once are checked ` +
      `in SQLite after it. At N=${RUNS_IN_A_ROW_AT} the run is made ${RUNS_IN_A_ROW} times in a row on the same coordinator and agents (\`--runs ${RUNS_IN_A_ROW}\`): the N=${RUNS_IN_A_ROW_AT} rows are the last run's, ` +
      `which has the first ones as its plan's history, and each run's wall time, CPU and RSS after it have rows of their own. ` +
      `Memory from /proc/PID/status (VmRSS, VmHWM), CPU from /proc/PID/stat. One sample per N (the figures are a growth table, not a distribution). ` +
      `The sequencer alone: its pure step (coordinator/sequencer/core.ts) timed in this process over a fleet stage of N nodes (scripts/bench-sequencer.ts), median of 5 after a warm-up.`,
    rows: [...all.flatMap(rows), ...sequencerRows(sizes)],
    notes: [...beyond, BEFORE_AFTER].join("\n\n"),
    bound:
      `the coordinator's one thread: at N=${biggest.nodes} it used ${(biggest.coordCpuRunSeconds ?? Number.NaN).toFixed(1)} CPU s for ${biggest.checkResults} results ` +
      `while the ${WORKERS} load processes used ${(biggest.workersCpuSeconds ?? Number.NaN).toFixed(1)} CPU s and \`coord run\` follows every result, all on ${cores} cores; ` +
      `registration waits on a synced SQLite commit per hello (the roster row with the token's use and the key), one hello at a time. Peak memory per simulated node at N=${biggest.nodes}: ${perNode(biggest).toFixed(2)} MiB.`,
  };
}
