// Which directory holds a given run's bundle: the plan it ran decides (evidence.dir).
import { dirname } from "node:path";
import { parsePlan, type Plan } from "../../shared/model/plan.js";
import type { StoredRun } from "../store/runs.js";
import { bundleDir } from "./paths.js";

export interface EvidenceLocation {
  /** Default parent of bundles: STATE_DIR/runs. */
  root: string;
  /** Where a relative evidence.dir resolves. */
  stateDir: string;
}

/** The state dir a root implies when none is given: root is STATE_DIR/runs. */
export function stateDirOf(opts: { root: string; stateDir?: string }): string {
  return opts.stateDir ?? dirname(opts.root);
}

/** The plan's `evidence:` block; a stored plan was validated when its run started. */
export function planEvidence(run: Pick<StoredRun, "planYaml" | "planPath">): Plan["evidence"] {
  return parsePlan(run.planYaml, run.planPath || "plan.yaml").evidence;
}

export function runBundleDir(loc: EvidenceLocation, run: Pick<StoredRun, "id" | "planYaml" | "planPath">): string {
  return bundleDir(loc, run.id, planEvidence(run)?.dir);
}

/**
 * The directory this plan's bundles are created in, where free space is needed. Also refuses a
 * bad evidence.dir before a run starts rather than when its bundle is written.
 */
export function planBundleParent(loc: EvidenceLocation, plan: Pick<Plan, "evidence">): string {
  return dirname(bundleDir(loc, "run", plan.evidence?.dir));
}
