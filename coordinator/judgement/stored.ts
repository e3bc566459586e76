// The verdict of a stored run: the thin I/O around judgeRun and findFlakes.
import { create } from "@bufbuild/protobuf";
import { FlakyCheckSchema, type RunRecord, type RunSummary } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import type { Db } from "../store/db.js";
import { listRuns } from "../store/runs.js";
import { scheduleOfRun } from "../store/schedules.js";
import { loadRunRecord, type LoadOptions } from "../store/run-record.js";
import { loadCheckOutcomes } from "../store/check-outcomes.js";
import { DEFAULT_FLAKE_HISTORY, findFlakes, type FlakeRun } from "./flakes.js";
import { runSummary } from "./run-summary.js";
import type { Flake, Judgement } from "./types.js";
import { judgeRun } from "./verdict.js";

/**
 * Runs already read as history while answering one request, by id: a run is read once however
 * often it is history (a list's runs are each other's).
 */
export type LoadedRuns = Map<string, FlakeRun>;

/**
 * The last `k` finished full runs of the same plan revision that started before `run`, newest
 * first, as their check outcomes (what flakes are found from). Runs after it are left out so that
 * a stored run's verdict does not change later.
 */
export function loadHistory(db: Db, run: RunRecord, k = DEFAULT_FLAKE_HISTORY, loaded: LoadedRuns = new Map()): FlakeRun[] {
  if (!run.planRevision || k <= 0) return [];
  return listRuns(db, k, { planName: run.planName, planRevision: run.planRevision, mode: "full", finished: true, before: run.runId }).map((r) => {
    let outcomes = loaded.get(r.id);
    if (!outcomes) loaded.set(r.id, (outcomes = loadCheckOutcomes(db, r)));
    return outcomes;
  });
}

/** The run and its flakes against its history, as judgeRun takes them. */
function loadWithFlakes(db: Db, runId: string, k: number, loaded: LoadedRuns, opts: LoadOptions = {}): { run: RunRecord; flakes: Flake[] } | undefined {
  const run = loadRunRecord(db, runId, opts);
  if (!run) return undefined;
  const flakes = flakesOf(db, run, k, loaded);
  run.flakes = flakes.map((f) => create(FlakyCheckSchema, f));
  return { run, flakes };
}

/**
 * Flakes of runs whose flakes can no longer change, per store. A run's end judges it four times
 * within a second (its summary, `coord run`'s read, the alert check, the evidence bundle), and
 * each read up to 10 runs of history: 20,000 results each at 1,000 nodes × 20 checks.
 */
const finalFlakes = new WeakMap<Db, Map<string, Flake[]>>();
const FINAL_FLAKES_KEPT = 1_024;

function flakesOf(db: Db, run: RunRecord, k: number, loaded: LoadedRuns): Flake[] {
  const find = () => findFlakes(run, loadHistory(db, run, k, loaded), k);
  if (!flakesAreFinal(db, run)) return find();
  let kept = finalFlakes.get(db);
  if (!kept) finalFlakes.set(db, (kept = new Map()));
  const key = `${run.runId}\0${k}`;
  let flakes = kept.get(key);
  if (!flakes) {
    flakes = find();
    if (kept.size >= FINAL_FLAKES_KEPT) kept.delete(kept.keys().next().value as string);
    kept.set(key, flakes);
  }
  // A copy: what one caller does with its list is not the next one's.
  return flakes.slice();
}

/**
 * A run's flakes are final once it has finished (a finished run's tasks take no more results) and
 * no run that would be its history is still going: later runs are never its history, and rows are
 * never deleted (prune removes bundles only). Until then a run that started before it and
 * finishes later can still make one of its checks flaky, so its flakes are worked out afresh.
 */
function flakesAreFinal(db: Db, run: RunRecord): boolean {
  if (run.finishedAtMs === 0n) return false;
  if (!run.planRevision) return true;
  return listRuns(db, 1, { planName: run.planName, planRevision: run.planRevision, mode: "full", finished: false, before: run.runId }).length === 0;
}

/**
 * The run as the coordinator hands it out: with its flakes, judged against its history, so the
 * CLI, reports, sign-off and evidence bundle all reach the same verdict.
 */
export function runWithFlakes(db: Db, runId: string, k = DEFAULT_FLAKE_HISTORY, loaded: LoadedRuns = new Map(), opts: LoadOptions = {}): RunRecord | undefined {
  return loadWithFlakes(db, runId, k, loaded, opts)?.run;
}

/** A stored run without its output tails, with its flakes, and the verdict reached on it. */
export interface JudgedRun {
  run: RunRecord;
  judgement: Judgement;
}

/**
 * The run loaded without output and judged as judgeStored judges it (flakes included): what its
 * summary says, and what the alert check at a run's end starts from (the engine hands it over, so a
 * finished run of 20,000 results is read and judged once for both).
 */
export function judgeStoredWithoutOutput(db: Db, runId: string, loaded: LoadedRuns = new Map()): JudgedRun | undefined {
  const found = loadWithFlakes(db, runId, DEFAULT_FLAKE_HISTORY, loaded, { output: false });
  return found && { run: found.run, judgement: judgeRun(found.run, found.flakes) };
}

/**
 * The run's summary and verdict, judged as judgeStored judges it (flakes included) but loaded
 * without output: what lists, watches, cancel and sign-off answer with, whatever the run's size.
 */
export function summarizeStored(db: Db, runId: string, loaded: LoadedRuns = new Map()): RunSummary | undefined {
  const judged = judgeStoredWithoutOutput(db, runId, loaded);
  return judged && summaryOfJudged(db, judged);
}

/** The summary of a run judged already (judgeStoredWithoutOutput), as summarizeStored gives it. */
export function summaryOfJudged(db: Db, judged: JudgedRun): RunSummary {
  const summary = runSummary(judged.run, judged.judgement);
  // Which coord.yaml schedule started it (coord runs shows it); not part of the record's verdict.
  summary.schedule = scheduleOfRun(db, judged.run.runId);
  return summary;
}

/** Loads a run with its flakes and judges it. */
export function judgeStored(db: Db, runId: string, k = DEFAULT_FLAKE_HISTORY): { run: RunRecord; judgement: Judgement } {
  const found = loadWithFlakes(db, runId, k, new Map());
  if (!found) throw new FleetgateError("not_found", `no run ${runId}; list them with: coord runs`);
  return { run: found.run, judgement: judgeRun(found.run, found.flakes) };
}
