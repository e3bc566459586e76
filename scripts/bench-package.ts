// The one-file agent in `npm run bench` (part `package`): its size on disk, its start time and its
// idle memory, against the unbundled agent (node bin/fleetgate-agent.js, dist/ and node_modules/).
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import type { Cleanup } from "./bench-cleanup.js";
import type { Progress } from "./bench-components.js";
import type { BenchResult, Row } from "./bench-report.js";
import { since, summarize } from "./bench-stats.js";
import { AGENT_BIN, coord, onlineNodes, ROOT, startAgent, startCoordinator, waitFor } from "./local-fleet.js";
import { BUNDLE_NAME, EXECUTABLE_NAME, METAFILE_NAME } from "./package-agent.js";
import type { Lockfile } from "./package-inputs.js";

const START_WARMUP = 2;
const START_REPS = 15;
const RSS_REPS = 3;
const IDLE_MS = 5_000;
const MiB = 1024 ** 2;

interface Variant {
  label: string;
  command: string[];
}

/** Bytes of the regular files under `dir`, not following links, skipping `skip` subdirectories. */
function treeBytes(dir: string, skip: (name: string) => boolean = () => false): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && !skip(entry.name)) total += treeBytes(path, skip);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

/**
 * What the unbundled agent needs beside Node: the compiled agent and shared code, and every
 * package `npm ci --omit=dev` installs (package-lock.json's non-dev entries, as installed here,
 * better-sqlite3 built), since the checkout has one package.json for both programs.
 */
function unbundledBytes(): { code: number; modules: number } {
  const code = ["agent", "shared"].reduce((sum, d) => sum + treeBytes(join(ROOT, "dist", d), () => false), 0);
  const lock = JSON.parse(readFileSync(join(ROOT, "package-lock.json"), "utf8")) as Lockfile;
  let modules = 0;
  for (const [key, entry] of Object.entries(lock.packages)) {
    if (!key || entry.dev) continue;
    try {
      modules += treeBytes(join(ROOT, key), (name) => name === "node_modules"); // nested packages are entries of their own
    } catch {
      // an optional package for another platform: not installed here
    }
  }
  return { code, modules };
}

/** Wall time of `command --version`, from spawn to exit, in ms. */
async function startMs(command: string[]): Promise<number> {
  const [file, ...args] = command;
  const start = performance.now();
  const r = await execa(file!, [...args, "--version"], { stdin: "ignore", reject: false, timeout: 30_000 });
  if (r.exitCode !== 0) throw new Error(`${command.join(" ")} --version exited ${r.exitCode}: ${String(r.stderr)}`);
  return since(start);
}

function vmRssBytes(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, "utf8").split("\n").find((l) => l.startsWith("VmRSS:"));
  const kib = Number(/(\d+)\s+kB/.exec(line ?? "")?.[1]);
  if (!Number.isFinite(kib)) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return kib * 1024;
}

/** Each variant's `run`, connected to one local coordinator and left idle IDLE_MS, RSS_REPS times. */
async function idleRss(variants: Variant[], work: string, cleanup: Cleanup, say: Progress): Promise<number[][]> {
  const c = await startCoordinator(join(work, "coord"));
  const stopCoordinator = cleanup.add("stop the coordinator", () => c.stop("SIGKILL"));
  const token = (await coord(c, ["token", "create"])).stdout.trim();
  const rss: number[][] = variants.map(() => []);
  for (let rep = 1; rep <= RSS_REPS; rep++) {
    // All variants at once, so they share the host's load; each a new node with its own state.
    const agents = variants.map((v, i) => {
      const name = `rss-${rep}-${i}`;
      const agent = startAgent({ name, address: c.address, token, stateDir: join(work, name), command: v.command });
      return { name, agent, stop: cleanup.add(`stop agent ${name}`, () => agent.stop("SIGKILL")) };
    });
    await waitFor("the agents online", async () => {
      const online = await onlineNodes(c);
      return agents.every((a) => online.includes(a.name)) ? true : undefined;
    }, 60_000);
    await sleep(IDLE_MS);
    agents.forEach((a, i) => rss[i]!.push(vmRssBytes(a.agent.process.pid!)));
    for (const a of agents) await a.stop();
    say(`package: idle RSS repetition ${rep}/${RSS_REPS}: ${rss.map((r) => `${(r[r.length - 1]! / MiB).toFixed(1)} MiB`).join(", ")}`);
  }
  await stopCoordinator();
  return rss;
}

export async function benchPackage(cleanup: Cleanup, say: Progress): Promise<BenchResult> {
  const work = mkdtempSync(join(tmpdir(), "fleetgate-bench-package-"));
  const removeWork = cleanup.add("remove the package bench dir", () => rmSync(work, { recursive: true, force: true }));
  const out = join(work, "package");
  say("package: building the one-file agent (dist/scripts/package.js)");
  const built = await execa(process.execPath, [join(ROOT, "dist", "scripts", "package.js"), "--out-dir", out], { stdin: "ignore", timeout: 120_000 });
  const bundle = join(out, BUNDLE_NAME);
  const exe = join(out, EXECUTABLE_NAME);
  const bundleBytes = statSync(bundle).size;
  let exeBytes: number | undefined;
  try {
    exeBytes = statSync(exe).size;
  } catch {
    // no single executable on this Node: the package script said why
  }
  const why = exeBytes === undefined ? String(built.stdout).split("\n").find((l) => l.includes("did not build")) : undefined;
  const variants: Variant[] = [
    { label: "unbundled (`node bin/fleetgate-agent.js`)", command: [process.execPath, AGENT_BIN] },
    { label: `bundle (\`node ${BUNDLE_NAME}\`)`, command: [process.execPath, bundle] },
    ...(exeBytes === undefined ? [] : [{ label: `single executable (\`${EXECUTABLE_NAME}\`)`, command: [exe] }]),
  ];

  const starts: number[][] = variants.map(() => []);
  for (const v of variants) for (let i = 0; i < START_WARMUP; i++) await startMs(v.command);
  // Interleaved, so a burst of load on the host hits every variant alike.
  for (let rep = 0; rep < START_REPS; rep++) {
    for (const [i, v] of variants.entries()) starts[i]!.push(await startMs(v.command));
  }
  say(`package: --version medians ${starts.map((s) => `${summarize(s).median.toFixed(0)} ms`).join(", ")}`);
  const rss = await idleRss(variants, work, cleanup, say);

  const unbundled = unbundledBytes();
  const files = Object.keys((JSON.parse(readFileSync(join(out, METAFILE_NAME), "utf8")) as { inputs: object }).inputs).length;
  const nodeBytes = statSync(process.execPath).size;
  // The executable's base is a stripped copy of node (scripts/package-sea.ts): its size alone.
  const strippedNode = join(work, "node-stripped");
  copyFileSync(process.execPath, strippedNode);
  await execa("strip", [strippedNode], { stdin: "ignore" });
  const strippedBytes = statSync(strippedNode).size;
  const one = (v: number) => summarize([v]);
  const rows: Row[] = [
    { measure: "unbundled: dist/agent + dist/shared", unit: "MiB", better: "lower", summary: one(unbundled.code / MiB) },
    { measure: "unbundled: production node_modules (`npm ci --omit=dev`)", unit: "MiB", better: "lower", summary: one(unbundled.modules / MiB) },
    { measure: `bundle \`${BUNDLE_NAME}\``, unit: "MiB", better: "lower", summary: one(bundleBytes / MiB) },
    ...(exeBytes === undefined ? [] : [{ measure: `single executable \`${EXECUTABLE_NAME}\` (Node inside)`, unit: "MiB", better: "lower" as const, summary: one(exeBytes / MiB) }]),
    { measure: "`node` as installed, which the unbundled agent and the bundle run on", unit: "MiB", better: "lower", summary: one(nodeBytes / MiB) },
    { measure: "`node` stripped, the executable's base", unit: "MiB", better: "lower", summary: one(strippedBytes / MiB) },
    ...variants.map((v, i) => ({ measure: `start: ${v.label} --version`, unit: "ms", better: "lower" as const, summary: summarize(starts[i]!) })),
    ...variants.map((v, i) => ({ measure: `idle RSS: ${v.label} run`, unit: "MiB", better: "lower" as const, summary: summarize(rss[i]!.map((b) => b / MiB)) })),
  ];
  await removeWork();

  const median = (i: number) => summarize(starts[i]!).median;
  const rssMedian = (i: number) => summarize(rss[i]!).median / MiB;
  return {
    title: "One-file agent against the unbundled agent",
    method:
      `\`npm run package\`'s script builds the bundle${exeBytes === undefined ? "" : " and the single executable"} into a temp dir; sizes are apparent file sizes (one sample each). ` +
      `Start: wall time of \`--version\` from spawn to exit, ${START_WARMUP} warm-up runs each, then ${START_REPS} repetitions interleaved between the variants. ` +
      `Idle RSS: VmRSS from /proc/PID/status of \`fleetgate-agent run\` enrolled with a local coordinator over TLS (loopback) and left idle ${IDLE_MS / 1000} s; ${RSS_REPS} repetitions, each a new node, the variants side by side.` +
      (why ? ` No single executable here: ${why.replace(/^package: /, "")}` : ""),
    rows,
    bound:
      `size is Node: ${exeBytes === undefined ? "the executable is not built here" : `the executable is a stripped node (${(strippedBytes / MiB).toFixed(1)} MiB) and ${((exeBytes - strippedBytes) / MiB).toFixed(1)} MiB of agent and V8 code cache`}, while the agent's own code and packages shrink from ${((unbundled.code + unbundled.modules) / MiB).toFixed(1)} MiB of files (better-sqlite3 built, and what only the coordinator needs) to a ${(bundleBytes / MiB).toFixed(1)} MiB bundle. ` +
      `Start: the bundle is one file to read instead of the ${files} the unbundled agent finds and reads (${median(1).toFixed(0)} ms against ${median(0).toFixed(0)} ms at the median)${exeBytes === undefined ? "" : `; the executable also skips compiling it, with V8's code cache in its blob (${median(2).toFixed(0)} ms)`}. ` +
      `Idle memory is V8's heap and code, within a few MiB for all (median ${variants.map((_, i) => `${rssMedian(i).toFixed(1)}`).join(" / ")} MiB): bundling changes how the code is loaded, not what runs.`,
  };
}
