// writeBundle: lay out a stored run, hash it, sign it, and put it in place atomically.
import type { KeyObject } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { FleetgateError } from "../../shared/errors.js";
import { judgeStored } from "../judgement/stored.js";
import type { Db } from "../store/db.js";
import { getRun } from "../store/runs.js";
import { listTasks } from "../store/tasks.js";
import { runFileHashes } from "../store/run-files.js";
import { nodeEventsAround } from "../store/node-events.js";
import { bundleFiles, bundleNodeNames, type BundleFile } from "./layout.js";
import { runBundleDir, stateDirOf } from "./location.js";
import { MANIFEST_FILE, manifestText, parseManifest, sha256, SIGNATURE_FILE, type Manifest } from "./manifest.js";
import { signManifest } from "./signing.js";
import { runWindow, selectTimeline, type NodeTimeline } from "./timeline.js";

export interface WriteBundleOptions {
  /** Parent of bundles unless the plan's evidence.dir says otherwise: STATE_DIR/runs. */
  root: string;
  /** Where a relative evidence.dir resolves; default the parent of `root` (root is STATE_DIR/runs). */
  stateDir?: string;
  /** created_at, ms since epoch; default now. */
  now?: number;
  /** Signs manifest.json into manifest.sig when given. */
  signingKey?: KeyObject;
}

export interface WrittenBundle {
  dir: string;
  manifest: Manifest;
}

/** How long the bundle's writing holds the event loop before it lets other work run. */
const WRITE_SLICE_MS = 50;

/**
 * Writes each file as it is laid out, and answers with every file's sha256 for the manifest.
 * Synchronous writes in slices, not fs/promises: an async write is three trips through libuv's
 * threadpool, each waiting for a turn of the event loop, and while 1,000 agents report a turn
 * lasts 1–2 s. A 20,000-file bundle then took longer than the next run, bundles (each holding its
 * run's record) piled up, and the coordinator's memory grew run after run.
 */
async function writeTree(dir: string, files: Iterable<BundleFile>): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  const made = new Set<string>();
  let sliceStarted = performance.now();
  for (const [path, text] of files) {
    if (performance.now() - sliceStarted > WRITE_SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStarted = performance.now();
    }
    const parent = dirname(path);
    if (parent !== "." && !made.has(parent)) {
      mkdirSync(join(dir, parent), { recursive: true });
      made.add(parent);
    }
    writeFileSync(join(dir, path), text, { flag: "wx" });
    hashes[path] = sha256(text);
  }
  return hashes;
}

/**
 * Writes (or re-writes, e.g. after sign-off) run `runId`'s bundle. The files go into a hidden
 * sibling directory first and the manifest last, then the directory is renamed into place: a
 * crash leaves either the previous bundle, no bundle, or a `.partial-` directory without a valid
 * manifest, never a half bundle that verifies.
 */
export async function writeBundle(db: Db, runId: string, opts: WriteBundleOptions): Promise<WrittenBundle> {
  const run = getRun(db, runId);
  if (!run) throw new FleetgateError("not_found", `no run ${runId}; list them with: coord runs`);
  // The verdict every report shows: judgeRun with the flakes of earlier runs of this revision.
  const { run: record, judgement } = judgeStored(db, runId);
  const taskSpecs = new Map(listTasks(db, runId).map((t) => [t.id, { specYaml: t.specYaml, probesYaml: t.probesYaml }]));
  // A finished run's window ends at its finish; the same run so gives the same timelines when its
  // bundle is written again (sign-off, export).
  const window = runWindow(run.createdAt, run.finishedAt ?? opts.now ?? Date.now());
  const timelines = new Map<string, NodeTimeline>(bundleNodeNames(record).map((node) => [node, selectTimeline(node, nodeEventsAround(db, node, window.from, window.to), window)]));
  const files = bundleFiles({ record, planYaml: run.planYaml, suites: run.suites, suiteFiles: runFileHashes(db, runId), taskSpecs, timelines });
  const createdAt = new Date(opts.now ?? Date.now()).toISOString();

  const dir = runBundleDir({ root: opts.root, stateDir: stateDirOf(opts) }, run);
  const partial = join(dirname(dir), `.partial-${basename(dir)}`);
  const previous = join(dirname(dir), `.previous-${basename(dir)}`);
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true, mode: 0o750 });
  const { decision, reasons } = judgement;
  const manifest = manifestText({
    run_id: run.id,
    plan: run.planName,
    plan_revision: run.planRevision,
    verdict: { decision, reasons },
    created_at: createdAt,
    files: await writeTree(partial, files),
  });
  if (opts.signingKey) await writeFile(join(partial, SIGNATURE_FILE), signManifest(manifest, opts.signingKey), { flag: "wx" });
  await writeFile(join(partial, MANIFEST_FILE), manifest, { flag: "wx" });

  // rename(2) cannot replace a non-empty directory: move the old bundle aside first. A crash
  // between the two renames leaves no bundle (and the old one under .previous-), which the next
  // write for this run repairs.
  await rm(previous, { recursive: true, force: true });
  const replaced = await rename(dir, previous).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return false;
      throw err;
    },
  );
  await rename(partial, dir);
  if (replaced) await rm(previous, { recursive: true, force: true });
  return { dir, manifest: parseManifest(manifest) };
}
