// What `coord serve` holds for evidence: where bundles go, the signing key, the free-space floor.
// The engine calls record() when a run finishes, sign-off calls it again, StartRun asks
// beforeRun() first, and ExportEvidence asks where a bundle is.
import type { KeyObject } from "node:crypto";
import { join } from "node:path";
import type { Logger } from "../../shared/logging.js";
import type { Plan } from "../../shared/model/plan.js";
import type { Db } from "../store/db.js";
import { getRun, type StoredRun } from "../store/runs.js";
import { checkFreeSpace, DEFAULT_MIN_FREE_BYTES, statfsFreeBytes, type FreeBytesProbe } from "./disk.js";
import { planBundleParent, planEvidence, runBundleDir, type EvidenceLocation } from "./location.js";
import { RUNS_DIR } from "./paths.js";
import { pruneBundles } from "./retention.js";
import { keyFingerprint, loadSigningKey } from "./signing.js";
import { writeBundle } from "./write.js";

export interface EvidenceConfig {
  stateDir: string;
  /** coord serve --evidence-dir: where bundles go; default STATE_DIR/runs. */
  root?: string;
  /** `coord serve --signing-key FILE`: an ed25519 private key (PKCS8 PEM) from coord keygen. */
  signingKeyPath?: string;
  /** Refuse to start a run with less free space than this under the evidence root (default 256 MiB). */
  minFreeBytes?: number;
  log: Logger;
  /** Injected in tests. */
  freeBytes?: FreeBytesProbe;
}

export class EvidenceRecorder {
  readonly location: EvidenceLocation;
  private readonly signingKey: KeyObject | undefined;
  /** One write at a time per run: a sign-off landing while the finish write runs must come after it. */
  private readonly pending = new Map<string, Promise<unknown>>();

  constructor(
    private readonly db: Db,
    private readonly config: EvidenceConfig,
  ) {
    this.location = { root: config.root ?? join(config.stateDir, RUNS_DIR), stateDir: config.stateDir };
    // Loaded now, so a bad key stops `coord serve` at start rather than at the first bundle.
    this.signingKey = config.signingKeyPath ? loadSigningKey(config.signingKeyPath) : undefined;
    if (this.signingKey) config.log.info({ key: keyFingerprint(this.signingKey) }, "evidence bundles will be signed");
  }

  /** Where this run's bundle is (or will be). */
  dirOf(run: Pick<StoredRun, "id" | "planYaml" | "planPath">): string {
    return runBundleDir(this.location, run);
  }

  /** StartRun's last say: a valid evidence.dir, and enough free space where the bundle will go. */
  beforeRun(plan: Plan): void {
    checkFreeSpace(planBundleParent(this.location, plan), this.config.minFreeBytes ?? DEFAULT_MIN_FREE_BYTES, this.config.freeBytes ?? statfsFreeBytes);
  }

  /**
   * Writes the run's bundle, then applies the plan's evidence.keep to that plan's bundles.
   * Never throws: a failure is logged and the bundle can be written again (export does).
   * Resolves to the bundle directory, or undefined when it could not be written.
   */
  record(runId: string): Promise<string | undefined> {
    const previous = this.pending.get(runId) ?? Promise.resolve();
    const next = previous.then(() => this.writeAndPrune(runId));
    this.pending.set(runId, next);
    void next.finally(() => {
      if (this.pending.get(runId) === next) this.pending.delete(runId);
    });
    return next;
  }

  private async writeAndPrune(runId: string): Promise<string | undefined> {
    const log = this.config.log.child({ run: runId });
    let dir: string;
    try {
      const written = await writeBundle(this.db, runId, { ...this.location, signingKey: this.signingKey });
      dir = written.dir;
      const { manifest } = written;
      log.info({ dir, files: Object.keys(manifest.files).length, verdict: manifest.verdict.decision, signed: !!this.signingKey }, "evidence bundle written");
    } catch (err) {
      log.error({ err }, "evidence bundle not written");
      return undefined;
    }
    try {
      const run = getRun(this.db, runId);
      const keep = run && planEvidence(run)?.keep;
      if (run && keep) {
        const { deleted } = await pruneBundles(this.db, this.location.root, keep, { stateDir: this.location.stateDir, planName: run.planName });
        if (deleted.length) log.info({ keep, deleted: deleted.map((b) => b.runId) }, "old evidence bundles pruned");
      }
    } catch (err) {
      log.error({ err }, "old evidence bundles not pruned");
    }
    return dir;
  }

  /** Resolves once every bundle being written is done: the coordinator stops only after, so none is cut off. */
  async drain(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending.values()]);
  }
}
