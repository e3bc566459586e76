// What the gate concludes about a run. Produced by verdict.ts, shown by every report and by
// `coord run`, and checked again by `coord signoff`.

export type Decision = "GO" | "NO-GO" | "INCOMPLETE";

/** A check that both passed and failed on one node for one plan revision. Still blocks GO. */
export interface Flake {
  /** The stage, or `stage/step` for a cross step or matrix leg (two legs are two checks). */
  stageId: string;
  node: string;
  checkId: string;
  passed: number;
  total: number;
  /** Runs the observations came from, newest first (this run included). */
  runIds: string[];
}

export interface Judgement {
  decision: Decision;
  /** Each reason the run is not GO, one short line each; empty for GO. */
  reasons: string[];
  flakes: Flake[];
  /** Whether `coord signoff` may record it (GO, full mode, clean attestation, no dev node). */
  signable: boolean;
  /** Each waived check, one line (what it came to, whose waiver, until when): listed even when GO. */
  waived: string[];
  /** Each waiver ignored because it had expired when the run started. */
  expiredWaivers: string[];
}
