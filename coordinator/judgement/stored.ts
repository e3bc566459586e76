// The verdict of a stored run: the thin I/O around judgeRun and findFlakes.
import { create } from "@bufbuild/protobuf";
import { FlakyCheckSchema, type RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { isTerminal } from "../../shared/model/status.js";
import type { Db } from "../store/db.js";
import { listRuns, loadRunRecord } from "../store/runs.js";
import { DEFAULT_FLAKE_HISTORY, findFlakes } from "./flakes.js";
import type { Judgement } from "./types.js";
import { judgeRun } from "./verdict.js";

/** How many runs of one revision are looked through to find the ones before the judged run. */
const SCAN_LIMIT = 1000;

/**
 * The last `k` finished full runs of the same plan revision that started before `run`, newest
 * first. Runs after it are left out so that a stored run's verdict does not change later.
 */
export function loadHistory(db: Db, run: RunRecord, k = DEFAULT_FLAKE_HISTORY): RunRecord[] {
  if (!run.planRevision || k <= 0) return [];
  const rows = listRuns(db, SCAN_LIMIT, { planName: run.planName, planRevision: run.planRevision });
  const at = rows.findIndex((r) => r.id === run.runId);
  const before = at >= 0 ? rows.slice(at + 1) : rows.filter((r) => r.createdAt < Number(run.startedAtMs));
  return before
    .filter((r) => r.mode === "full" && isTerminal(r.status))
    .slice(0, k)
    .map((r) => loadRunRecord(db, r.id))
    .filter((r): r is RunRecord => r !== undefined);
}

/** Loads a run and its history and judges it, flakes included. */
export function judgeStored(db: Db, runId: string, k = DEFAULT_FLAKE_HISTORY): { run: RunRecord; judgement: Judgement } {
  const run = loadRunRecord(db, runId);
  if (!run) throw new FleetgateError("not_found", `no run ${runId}; list them with: coord runs`);
  return { run, judgement: judgeRun(run, findFlakes(run, loadHistory(db, run, k), k)) };
}

/**
 * The run as the coordinator hands it out: with its flakes, judged against its history, so the
 * CLI, reports and evidence bundle all reach the same verdict.
 */
export function runWithFlakes(db: Db, runId: string, k = DEFAULT_FLAKE_HISTORY): RunRecord | undefined {
  const run = loadRunRecord(db, runId);
  if (!run) return undefined;
  run.flakes = findFlakes(run, loadHistory(db, run, k), k).map((f) => create(FlakyCheckSchema, f));
  return run;
}
