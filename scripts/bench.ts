// npm run bench: measures suite parsing, the store, the local check engine and a real
// coordinator + agents on this machine, and writes the figures to docs/benchmarks.md.
// Performance lives here, not in timed tests: tests assert behaviour.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { Cleanup } from "./bench-cleanup.js";
import { benchEngine, benchParse, benchStore } from "./bench-components.js";
import { benchFleet } from "./bench-fleet.js";
import { describeMachine, renderReport, type BenchResult } from "./bench-report.js";
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

for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143], ["SIGHUP", 129]] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping every process and removing temp dirs`);
    void tearDown().finally(() => process.exit(code));
  });
}

function commandLine(): string {
  // Run through npm the figures come from `npm run bench`; say so rather than the inner node call.
  if (process.env.npm_lifecycle_event === "bench") return "npm run bench";
  return ["node", ...process.argv.slice(1).map((a) => relative(ROOT, a) || a)].join(" ");
}

async function main(): Promise<number> {
  const started = performance.now();
  const date = new Date().toISOString();
  const machine = describeMachine();
  // The example suites live beside the repository, in ../shared/examples.
  const example = join(ROOT, "..", "shared", "examples", "archy-node.suite.yaml");
  if (!existsSync(example)) throw new Error(`cannot find the example suite ${example} (expected ../shared/examples next to the repository)`);
  say(`${machine.cpu}, ${machine.cores} cores, Node.js ${machine.node}; this takes about 2 minutes`);

  const results: BenchResult[] = [];
  results.push(benchParse(example, say));
  results.push(await benchStore(cleanup, say));
  results.push(await benchEngine(say));
  results.push(await benchFleet([3, 6], machine.cores, cleanup, say));

  const totalSeconds = (performance.now() - started) / 1000;
  const out = join(ROOT, "docs", "benchmarks.md");
  writeFileSync(out, renderReport({ command: commandLine(), date, machine, totalSeconds, results }));
  say(`done in ${totalSeconds.toFixed(1)} s`);
  process.stdout.write(`wrote ${relative(process.cwd(), out) || out}\n`);
  return 0;
}

main()
  .catch((err: Error) => {
    say(`failed: ${err.stack ?? err.message}`);
    return 1;
  })
  .then(async (code) => {
    await tearDown();
    process.exit(code);
  });
