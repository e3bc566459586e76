// `coord run` and `coord watch`: start a run (or find one), follow it live, print the summary and
// exit by the verdict. The terminal wiring lives here; what is shown comes from progress.ts and
// format.ts, and how following reacts to Ctrl-C from follow.ts.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ControlService, type RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { parsePlan, suitePaths, type Plan } from "../../shared/model/plan.js";
import { parseSuite, type Suite } from "../../shared/model/suite.js";
import { collectSuiteFiles } from "../../shared/collect-suite-files.js";
import type { ShippedFile } from "../../shared/model/suite-files.js";
import { isTerminal, statusName } from "../../shared/model/status.js";
import { judgeRun } from "../judgement/verdict.js";
import type { ControlClient } from "./client.js";
import { followRun } from "./follow.js";
import { formatCancelled, formatRunSummary, summaryJudgement, verdictExitCode, type ShownJudgement } from "./format.js";
import { askCancelOrDetach, detachHint, processInterrupts, type Choice } from "./interrupt.js";
import { LiveView, PlainView, silentView, type ProgressView } from "./progress-writer.js";
import { checkRequestSize, startRunRequest, type PlanFiles, type RunFlags } from "./run-flags.js";
import { readRun } from "./run-reads.js";
import { DEFAULT_REWATCH_PATIENCE_MS, rewatch } from "./rewatch.js";

export type { RunFlags };

/** Exit status after detaching with Ctrl-C (128 + SIGINT, as shells report it). */
export const EXIT_DETACHED = 130;

/** A file the user named, or bad_input saying which and why it cannot be read. */
export function read(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw FleetgateError.from(err, "bad_input", `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * Reads the plan, every suite it names (relative to the plan) and the files each suite ships
 * (`files:`, relative to the suite), validating each locally first.
 */
/** The plan, its suites and their shipped files as sent; the parsed plan and suites for the CLI's own checks. */
export interface LoadedPlan extends PlanFiles {
  plan: Plan;
  parsedSuites: Suite[];
}

export function loadPlanFiles(planPath: string): LoadedPlan {
  const planYaml = read(planPath, "plan");
  const plan = parsePlan(planYaml, planPath);
  const suites: Record<string, string> = {};
  const suiteFiles: Record<string, ShippedFile[]> = {};
  const parsedSuites: Suite[] = [];
  for (const rel of suitePaths(plan)) {
    const file = join(dirname(planPath), rel);
    suites[rel] = read(file, "suite");
    const suite = parseSuite(suites[rel], file);
    parsedSuites.push(suite);
    const files = collectSuiteFiles(suite, file);
    if (files.length) suiteFiles[rel] = files;
  }
  return { planYaml, suites, suiteFiles, plan, parsedSuites };
}

export async function runCommand(client: ControlClient, stages: string[], flags: RunFlags, files: PlanFiles = loadPlanFiles(flags.plan)): Promise<number> {
  const req = startRunRequest(stages, flags, files);
  checkRequestSize(req, files);
  const { runId } = await client.call(ControlService.method.startRun, req);
  process.stderr.write(`run ${runId} started; see where it stands any time with: coord show ${runId}\n`);
  return follow(client, runId, flags, "coord run");
}

export async function watchCommand(client: ControlClient, runId: string, flags: { json?: boolean }): Promise<number> {
  const run = await readRun(client, runId, SUMMARY_ONLY);
  // A finished run has nothing left to follow: its summary, at once.
  if (isTerminal(run.status)) return printEnd(run, flags);
  return follow(client, runId, flags, "coord watch");
}

// printEnd's status table and verdict never read a check's output: the coordinator need not load,
// encode and send it (most of a large run's bytes).
const SUMMARY_ONLY = { withoutOutput: true };

// A run's end when the watch's summary carries the coordinator's verdict: the status table reads
// tasks only, not every check result (20,000 of them at 1,000 nodes × 20 checks, read, encoded,
// sent and decoded while the coordinator writes the run's evidence).
const TASKS_ONLY = { withoutChecks: true };

function printEnd(run: RunRecord, flags: { json?: boolean }, judgement: ShownJudgement = judgeRun(run)): number {
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ runId: run.runId, status: statusName(run.status), verdict: judgement.decision, reasons: judgement.reasons, waived: judgement.waived, expiredWaivers: judgement.expiredWaivers })}\n`);
  } else {
    process.stdout.write(`${formatRunSummary(run, judgement)}\n`);
  }
  return verdictExitCode(judgement.decision);
}

function progressView(flags: { json?: boolean }): ProgressView {
  if (flags.json) return silentView;
  return process.stdout.isTTY ? new LiveView(process.stdout) : new PlainView(process.stdout);
}

// Off a terminal nobody can answer; detaching is the choice that loses nothing.
function decide(runId: string) {
  return (abort: AbortSignal): Promise<Choice> =>
    process.stdin.isTTY ? askCancelOrDetach(runId, { input: process.stdin, output: process.stderr, onInterrupt: processInterrupts }, abort) : Promise.resolve("detach");
}

/** A line on stderr without tearing a live block drawn on the same terminal. */
function noteBeside(view: ProgressView, text: string): void {
  view.pause();
  process.stderr.write(`${text}\n`);
  view.resume();
}

async function follow(client: ControlClient, runId: string, flags: { json?: boolean }, who: string): Promise<number> {
  const view = progressView(flags);
  try {
    const end = await followRun({
      runId,
      // A dropped watch is opened again: the run goes on in the coordinator whatever this stream does.
      updates: rewatch(() => client.stream(ControlService.method.watchRun, { runId }), { runId, patienceMs: DEFAULT_REWATCH_PATIENCE_MS, note: (text) => noteBeside(view, text) }),
      view,
      interrupts: processInterrupts,
      decide: decide(runId),
      cancel: async () => {
        const answer = await client.call(ControlService.method.cancelRun, { runId, reason: `interrupted in ${who} (Ctrl-C)` });
        return `${answer.run ? formatCancelled(answer, runId) : `run ${runId} cancelled`}\nwaiting for the coordinator to report the run finished…`;
      },
      note: (text) => process.stderr.write(`${text}\n`),
    });
    view.close();
    if (end.kind === "detached") {
      process.stderr.write(detachHint(runId));
      return EXIT_DETACHED;
    }
    // The watch ends with the run's summary and the verdict the coordinator reached on all of the
    // run; the status table reads the tasks. From a coordinator whose summary has no verdict, the
    // whole run is read and judged here.
    const judged = summaryJudgement(end.run);
    const run = await readRun(client, runId, judged ? TASKS_ONLY : SUMMARY_ONLY);
    if (!flags.json) process.stdout.write("\n");
    return printEnd(run, flags, judged);
  } catch (err) {
    view.close();
    // The run lives in the coordinator, not in this process: say how to find it again.
    if (err instanceof FleetgateError && err.code === "unreachable") {
      throw new FleetgateError("unreachable", `${err.message}\nrun ${runId} goes on when the coordinator is back; see where it stands with: coord show ${runId}`);
    }
    throw err;
  }
}
