// The verdict of a stored run: the thin I/O around judgeRun and findFlakes.
import { create } from "@bufbuild/protobuf";
import { FlakyCheckSchema, type RunRecord, type RunSummary } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import type { Db } from "../store/db.js";
import { listRuns } from "../store/runs.js";
import { scheduleOfRun } from "../store/schedules.js";
import { loadRunRecord, type LoadOptions } from "../store/run-record.js";
import { DEFAULT_FLAKE_HISTORY, findFlakes } from "./flakes.js";
import { runSummary } from "./run-summary.js";
import type { Flake, Judgement } from "./types.js";
import { judgeRun } from "./verdict.js";

/**
 * Runs already loaded as history while answering one request, by id, without their output: a run
 * is loaded once however often it is history.
 */
export type LoadedRuns = Map<string, RunRecord>;

function loadOnce(db: Db, id: string, loaded: LoadedRuns): RunRecord | undefined {
  let run = loaded.get(id);
  if (!run) {
    // Flakes are judged from check statuses: the history's output is never read.
    run = loadRunRecord(db, id, { output: false });
    if (run) loaded.set(id, run);
  }
  return run;
}

/**
 * The last `k` finished full runs of the same plan revision that started before `run`, newest
 * first. Runs after it are left out so that a stored run's verdict does not change later.
 */
export function loadHistory(db: Db, run: RunRecord, k = DEFAULT_FLAKE_HISTORY, loaded: LoadedRuns = new Map()): RunRecord[] {
  if (!run.planRevision || k <= 0) return [];
  return listRuns(db, k, { planName: run.planName, planRevision: run.planRevision, mode: "full", finished: true, before: run.runId })
    .map((r) => loadOnce(db, r.id, loaded))
    .filter((r): r is RunRecord => r !== undefined);
}

/** The run and its flakes against its history, as judgeRun takes them. */
function loadWithFlakes(db: Db, runId: string, k: number, loaded: LoadedRuns, opts: LoadOptions = {}): { run: RunRecord; flakes: Flake[] } | undefined {
  const run = loadRunRecord(db, runId, opts);
  if (!run) return undefined;
  const flakes = findFlakes(run, loadHistory(db, run, k, loaded), k);
  run.flakes = flakes.map((f) => create(FlakyCheckSchema, f));
  return { run, flakes };
}

/**
 * The run as the coordinator hands it out: with its flakes, judged against its history, so the
 * CLI, reports, sign-off and evidence bundle all reach the same verdict.
 */
export function runWithFlakes(db: Db, runId: string, k = DEFAULT_FLAKE_HISTORY, loaded: LoadedRuns = new Map(), opts: LoadOptions = {}): RunRecord | undefined {
  return loadWithFlakes(db, runId, k, loaded, opts)?.run;
}

/**
 * The run's summary and verdict, judged as judgeStored judges it (flakes included) but loaded
 * without output: what lists, watches, cancel and sign-off answer with, whatever the run's size.
 */
export function summarizeStored(db: Db, runId: string, loaded: LoadedRuns = new Map()): RunSummary | undefined {
  const found = loadWithFlakes(db, runId, DEFAULT_FLAKE_HISTORY, loaded, { output: false });
  if (!found) return undefined;
  const summary = runSummary(found.run, judgeRun(found.run, found.flakes));
  // Which coord.yaml schedule started it (coord runs shows it); not part of the record's verdict.
  summary.schedule = scheduleOfRun(db, runId);
  return summary;
}

/** Loads a run with its flakes and judges it. */
export function judgeStored(db: Db, runId: string, k = DEFAULT_FLAKE_HISTORY): { run: RunRecord; judgement: Judgement } {
  const found = loadWithFlakes(db, runId, k, new Map());
  if (!found) throw new FleetgateError("not_found", `no run ${runId}; list them with: coord runs`);
  return { run: found.run, judgement: judgeRun(found.run, found.flakes) };
}
