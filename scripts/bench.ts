// npm run bench: measures suite parsing, the store, the local check engine, a real coordinator +
// agents, how long a dead agent takes to be lost, reports at fleet scale, the one-file agent
// against the unbundled one, and `coord run` against an ssh loop, on this machine, and writes the
// figures to docs/benchmarks.md.
// `npm run bench -- PART…` runs only those parts (see PARTS) and replaces only their sections in
// docs/benchmarks.md.
// Performance lives here, not in timed tests: tests assert behaviour.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, relative } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Cleanup } from "./bench-cleanup.js";
import { benchEngine, benchParse } from "./bench-components.js";
import { benchHttpChecks } from "./bench-http-checks.js";
import { busyFraction, hostCpu } from "./bench-cpu.js";
import { benchFleet } from "./bench-fleet.js";
import { benchLost, LOST_REPS } from "./bench-lost.js";
import { benchPackage } from "./bench-package.js";
import { benchAgent } from "./bench-agent.js";
import { BUSY_WARNING, describeMachine, mergeSections, renderReport, type BenchResult } from "./bench-report.js";
import { benchIngest, benchStore } from "./bench-store.js";
import { benchStorePg } from "./bench-store-pg.js";
import { benchFailover, ELECTION_COUNTS } from "./bench-failover-pg.js";
import { benchCoordinatorFailover, COORDINATOR_KILLS } from "./bench-failover-coord.js";
import { benchReports } from "./bench-report-scale.js";
import { benchScale } from "./bench-scale.js";
import { since } from "./bench-stats.js";
import { benchSsh } from "./bench-ssh.js";
import { ROOT } from "./local-fleet.js";

const say = (text: string) => process.stderr.write(`bench: ${text}\n`);
const cleanup = new Cleanup();

/** Last resort after cleanup: SIGKILL any child of this process still alive (e.g. one that failed to start). */
function killOwnChildren(): void {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return;
  }
  for (const pid of entries) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === process.pid) process.kill(Number(pid), "SIGKILL");
    } catch {
      // gone already, or not ours to read
    }
  }
}

async function tearDown(): Promise<void> {
  await cleanup.runAll(say);
  killOwnChildren();
}

// `on`, not `once`: execa's exit hook re-raises a signal nobody else listens to any more, which
// would kill this process before the cleanup below has finished.
let stopping = false;
for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping every process and removing temp dirs`);
    void tearDown().finally(() => process.exit(code));
  });
}

function commandLine(): string {
  // Run through npm the figures come from `npm run bench`; say so rather than the inner node call.
  if (process.env.npm_lifecycle_event === "bench") return ["npm run bench", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(" ");
  return ["node", ...process.argv.slice(1).map((a) => relative(ROOT, a) || a)].join(" ");
}

/** Each part alone: `npm run bench -- reports`. Every part, in this order, when none is named. */
type Part = (example: string, cores: number) => Promise<BenchResult[]>;
/** Whether parts were named (`npm run bench -- scale`): one alone may repeat more than the whole bench, which keeps to 10 minutes. */
const alone = () => process.argv.length > 2;
const PARTS: Record<string, Part> = {
  parse: async (example) => [benchParse(example, say)],
  // With PostgreSQL installed, also its commit path against SQLite's (issue 19).
  store: async () => [await benchStore(cleanup, say), await benchIngest(cleanup, say), ...(await benchStorePg(cleanup, say))],
  // The coordinator election on PostgreSQL (issue 19): a standby taking the lead, about 80 s; then
  // real coordinators and agents, the active one SIGKILLed, about a minute more; fewer of each in the
  // whole bench.
  failover: async () => [
    ...(await benchFailover(cleanup, say, alone() ? ELECTION_COUNTS.alone : ELECTION_COUNTS.whole)),
    ...(await benchCoordinatorFailover(cleanup, say, alone() ? COORDINATOR_KILLS.alone : COORDINATOR_KILLS.whole)),
  ],
  checks: async () => [await benchEngine(say), await benchHttpChecks(cleanup, say)],
  fleet: async (_example, cores) => [await benchFleet([3, 6], cores, cleanup, say)],
  // Each fault 3 times alone, twice in the whole bench (its 10 minutes).
  lost: async () => [await benchLost(cleanup, say, alone() ? LOST_REPS.alone : LOST_REPS.whole)],
  reports: async () => [await benchReports(cleanup, say)],
  package: async () => [await benchPackage(cleanup, say)],
  // Alone it adds N=5,000; the whole bench keeps to 100 and 1,000 to stay within its 10 minutes.
  scale: async (_example, cores) => [await benchScale(alone() ? [100, 1000, 5000] : [100, 1000], cores, cleanup, say)],
  agent: async () => [await benchAgent(cleanup, say)],
  // Root, network namespaces and sshd; without them it says which is missing and gives no figures.
  ssh: async () => benchSsh(cleanup, say),
};

function chosenParts(args: string[]): string[] {
  const unknown = args.filter((a) => !(a in PARTS));
  if (unknown.length) throw new Error(`no bench part ${unknown.join(", ")}; the parts are: ${Object.keys(PARTS).join(", ")}`);
  return args.length ? args : Object.keys(PARTS);
}

async function main(): Promise<number> {
  const chosen = chosenParts(process.argv.slice(2));
  const started = performance.now();
  const date = new Date().toISOString();
  const machine = describeMachine();
  const loadStart = loadavg()[0] ?? 0;
  // The example suites are the repository's own, in test/examples.
  const example = join(ROOT, "test", "examples", "archy-node.suite.yaml");
  if (!existsSync(example)) throw new Error(`cannot find the example suite ${example} (expected in test/examples)`);
  say(`${machine.cpu}, ${machine.cores} cores, Node.js ${machine.node}; ${chosen.length === Object.keys(PARTS).length ? "this takes about 10 minutes" : `parts: ${chosen.join(", ")}`}`);
  // The load average lags by minutes; a 1 s sample says whether the host is busy right now.
  const before = hostCpu();
  await sleep(1000);
  const busyBefore = busyFraction(before, hostCpu());
  if (busyBefore !== undefined && busyBefore > BUSY_WARNING) {
    say(`warning: ${Math.round(busyBefore * 100)} % of the CPU is busy with other work; the figures will be lower and noisier`);
  }

  const results: BenchResult[] = [];
  const partSeconds: [string, number][] = [];
  for (const part of chosen) {
    const partStarted = performance.now();
    results.push(...(await (PARTS[part] as Part)(example, machine.cores)));
    const seconds = since(partStarted) / 1000;
    partSeconds.push([part, seconds]);
    say(`${part}: done in ${seconds.toFixed(1)} s`);
  }

  const totalSeconds = (performance.now() - started) / 1000;
  const out = join(ROOT, "docs", "benchmarks.md");
  const report = { command: commandLine(), date, machine, load: { start: loadStart, end: loadavg()[0] ?? 0 }, busyBefore, totalSeconds, partSeconds, results };
  // A part run alone replaces its own sections and keeps every other part's figures.
  const whole = chosen.length === Object.keys(PARTS).length || !existsSync(out);
  writeFileSync(out, whole ? renderReport(report) : mergeSections(readFileSync(out, "utf8"), report));
  say(`done in ${totalSeconds.toFixed(1)} s`);
  process.stdout.write(`wrote ${relative(process.cwd(), out) || out}\n`);
  return 0;
}

main()
  .catch((err: Error) => {
    // After a signal, the torn-down store or fleet makes the bench fail: that is not news.
    if (!stopping) say(`failed: ${err.stack ?? err.message}`);
    return 1;
  })
  .then(async (code) => {
    await tearDown();
    if (!stopping) process.exit(code); // else the signal handler exits with the signal's status
  });
