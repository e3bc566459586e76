// Retention: keep the newest bundles, delete older ones, never a signed-off run's evidence and
// never a run still going. bundlesToPrune decides; pruneBundles looks and deletes.
import { rm } from "node:fs/promises";
import { isTerminal } from "../../shared/model/status.js";
import type { Db } from "../store/db.js";
import { listRuns } from "../store/runs.js";
import { readBundleFile } from "./bundle-files.js";
import { runBundleDir, stateDirOf, type EvidenceLocation } from "./location.js";
import { MANIFEST_FILE, parseManifest } from "./manifest.js";

export interface BundleCandidate {
  runId: string;
  dir: string;
  signedOff: boolean;
  running: boolean;
}

/**
 * Of the bundles present, newest first: the `keep` newest stay; of the older ones, every one not
 * signed off and not running goes. A signed-off bundle is the record a release was approved on.
 */
export function bundlesToPrune(newestFirst: BundleCandidate[], keep: number): BundleCandidate[] {
  return newestFirst.slice(Math.max(0, keep)).filter((b) => !b.signedOff && !b.running);
}

/** True when `dir` holds a bundle whose manifest names this run: the only thing prune deletes. */
async function holdsBundleOf(dir: string, runId: string): Promise<boolean> {
  const text = await readBundleFile(dir, MANIFEST_FILE).catch(() => undefined);
  if (!text) return false;
  try {
    return parseManifest(text.toString("utf8")).run_id === runId;
  } catch {
    return false;
  }
}

export interface PruneOptions {
  /** Where a relative evidence.dir resolves; default the parent of root. */
  stateDir?: string;
  /** Only runs of this plan (a plan's evidence.keep counts its own runs). */
  planName?: string;
  /** Decide and report, delete nothing. */
  dryRun?: boolean;
}

export interface PruneResult {
  deleted: BundleCandidate[];
  /** Bundles left in place. */
  kept: BundleCandidate[];
  /** Of those, the ones older than the newest `keep`: signed off or running. */
  spared: BundleCandidate[];
}

/** Deletes the oldest bundles beyond `keep` (see bundlesToPrune); returns what went and what stayed. */
export async function pruneBundles(db: Db, root: string, keep: number, opts: PruneOptions = {}): Promise<PruneResult> {
  const loc: EvidenceLocation = { root, stateDir: stateDirOf({ root, stateDir: opts.stateDir }) };
  const present: BundleCandidate[] = [];
  // Every run is a candidate.
  for (const run of listRuns(db, Number.POSITIVE_INFINITY, { planName: opts.planName })) {
    let dir: string;
    try {
      dir = runBundleDir(loc, run);
    } catch {
      continue; // a plan whose evidence.dir cannot be resolved never had a bundle written
    }
    if (await holdsBundleOf(dir, run.id)) present.push({ runId: run.id, dir, signedOff: !!run.signoff, running: !isTerminal(run.status) });
  }
  const doomed = bundlesToPrune(present, keep);
  if (!opts.dryRun) for (const b of doomed) await rm(b.dir, { recursive: true, force: true });
  return { deleted: doomed, kept: present.filter((b) => !doomed.includes(b)), spared: present.slice(keep).filter((b) => !doomed.includes(b)) };
}
