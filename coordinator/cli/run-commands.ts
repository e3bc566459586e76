// `coord run`, `coord watch`, `coord cancel`, `coord runs`, `coord show`: starting runs, following
// them, stopping them and looking them up.
import { toJson } from "@bufbuild/protobuf";
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { ControlService, RunRecordSchema, RunSummarySchema, type RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { parseWaivers } from "../../shared/model/waivers.js";
import { waiverWarnings } from "./waiver-warnings.js";
import { judgeRun } from "../judgement/verdict.js";
import { dryRunCommand } from "./dry-run-command.js";
import { formatCancelled, formatRunList, formatRunSummary, verdictExitCode } from "./format.js";
import { connected, positiveInt, print, repeatable, withClient, type ConnectionFlags } from "./kit.js";
import { EXIT_DETACHED, loadPlanFiles, runCommand, watchCommand, type LoadedPlan } from "./run-command.js";
import { reasonRecorder } from "./reason-pairs.js";
import { listRunSummaries, readRun } from "./run-reads.js";
import { pairSkips, parseBinding, type RunFlags, type SkipToken } from "./run-flags.js";
import { cliRunVars, type VarFlags } from "./run-vars.js";
import { parseVarFlag, type ResolvedVars } from "../../shared/model/suite-vars.js";

const VERDICT_EXITS = "exit 0 GO, 1 NO-GO, 2 incomplete, 3 bad input, 4 unreachable";
const EXITS = `${VERDICT_EXITS}, 130 detached with Ctrl-C`;

/**
 * A run as `--json` prints it: the stored record plus the verdict every client reaches, since a
 * run whose status is passed may still not be GO (narrowed, quick, skipped, attestation).
 */
function runJson(run: RunRecord): object {
  const { decision, reasons, waived, expiredWaivers } = judgeRun(run);
  return { ...(toJson(RunRecordSchema, run) as object), verdict: decision, reasons, waived, expiredWaivers };
}

/** Sets the exit status; after a detach, exits at once (see below). */
function finish(code: number): void {
  // The watch stream is still open after a detach (ControlClient cannot cancel it yet) and would
  // keep this process alive until the run ends; the user asked to leave now.
  if (code === EXIT_DETACHED) process.exit(code);
  process.exitCode = code;
}

function registerRun(program: Command): void {
  // commander keeps each option's values apart; a reason belongs to the --skip before it, so
  // both flags record themselves here in the order typed.
  const skipTokens: SkipToken[] = [];
  const token = reasonRecorder(skipTokens);
  connected(
    program
      .command("run")
      .description(`run stages of a plan on the fleet and follow them live; Ctrl-C asks whether to cancel the run or detach (${EXITS})`)
      .argument("<stages...>", "all, a stage kind (single, fleet, cross, matrix) or stage ids")
      .requiredOption("--plan <file>", "plan YAML; suites are read relative to it")
      .option("--node <name>", "run only on this node, repeatable; a subset of a stage's nodes narrows the run", repeatable, [] as string[])
      .option("--iterations <n>", "override every stage's iterations (fewer than the plan's narrows the run: not signable unless accepted)", positiveInt)
      .option("--only <check>", "run only this check id of suites (preconditions always run); repeatable; narrows the run", repeatable, [] as string[])
      .option("--tags <tag>", "run only checks carrying this tag (instead of the quick tags); repeatable; narrows the run", repeatable, [] as string[])
      .option("--skip <stage-or-leg>", "do not run this stage or matrix leg; needs --reason, repeatable", token("skip"))
      .option("--reason <text>", "why the --skip before it is skipped; listed in every report", token("reason"))
      .option("--with <leg>", "also run this opt-in matrix leg, repeatable", repeatable, [] as string[])
      .option("--quick", "only checks tagged quick (or the plan's quick: subset); a quick run is never GO")
      .option("--bind <role=node>", "pin a cross stage's role to a node, repeatable", parseBinding, {} as Record<string, string>)
      .option("--waivers <file>", "waivers.yaml: checks it names still run and are reported waived (a failure excused until the waiver expires); stored with the run")
      .option("--var <name=value>", "set a var of the plan's suites (those declaring it), over its value; repeatable; stored with the run", (v: string, prev?: ResolvedVars) => parseVarFlag(v, prev))
      .option("--vars-file <file>", "YAML map of vars (NAME: VALUE); --var wins over it")
      .option("--dry-run", "start nothing: print each stage's nodes (and why others are left out), suite, iterations and the exact commands")
      .option("--json", "print only the final status and verdict as JSON (with --dry-run: the resolved plan)"),
  ).action(async (stages: string[], opts: Omit<RunFlags, "skips"> & ConnectionFlags & VarFlags & { dryRun?: boolean }) => {
    // Refused before anything is sent: a skip with no reason never reaches the coordinator.
    const skips = pairSkips(skipTokens.splice(0));
    // Read and parsed once: sent as is, and checked here against the waivers.
    const files = loadPlanFiles(opts.plan);
    const flags: RunFlags & ConnectionFlags & { dryRun?: boolean } = { ...opts, skips, waiversYaml: opts.waivers ? readWaivers(opts.waivers, files) : undefined };
    flags.vars = cliRunVars(opts);
    finish(await withClient(flags, (c) => (flags.dryRun ? dryRunCommand(c, stages, flags, files) : runCommand(c, stages, flags, files))));
  });
}

/** The waivers file's text, checked here first (file:line:col) so a bad one never reaches the coordinator. */
function readWaivers(path: string, { plan, parsedSuites }: LoadedPlan): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw FleetgateError.from(err, "bad_input", `cannot read waivers ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const waivers = parseWaivers(text, path);
  for (const line of waiverWarnings(waivers, plan, parsedSuites, Date.now())) process.stderr.write(`warning: ${line}\n`);
  return text;
}

export function registerRunCommands(program: Command): void {
  registerRun(program);

  connected(program.command("watch").description(`follow a run live until it ends (a finished run: its summary at once); ${EXITS}`).argument("<run>", "run id"))
    .option("--json", "print only the final status and verdict as JSON")
    .action(async (runId: string, flags: ConnectionFlags & { json?: boolean }) => {
      finish(await withClient(flags, (c) => watchCommand(c, runId, flags)));
    });

  connected(program.command("cancel").description("cancel a running run: tasks not finished are cancelled; agents kill the check they are running and start nothing more of it").argument("<run>", "run id"))
    .option("--reason <text>", "why; shown with each cancelled task and in the report")
    .action(async (runId: string, flags: ConnectionFlags & { reason?: string }) => {
      const answer = await withClient(flags, (c) => c.call(ControlService.method.cancelRun, { runId, reason: flags.reason ?? "" }));
      if (!answer.run) throw new FleetgateError("internal", `the coordinator cancelled run ${runId} but sent no record of it; see it with: coord show ${runId}`);
      print(`${formatCancelled(answer, runId)}\nsummary once it has finished: coord show ${runId}`);
    });

  connected(program.command("runs").description("list recent runs"))
    .option("--limit <n>", "how many", positiveInt, 20)
    .option("--json", "print JSON: each run's summary (no tasks; coord show RUN --json has them) with its verdict and reasons")
    .action(async (flags: ConnectionFlags & { limit: number; json?: boolean }) => {
      const runs = await withClient(flags, (c) => listRunSummaries(c, { limit: flags.limit }));
      print(flags.json ? JSON.stringify(runs.map((r) => toJson(RunSummarySchema, r)), null, 2) : formatRunList(runs));
    });

  connected(program.command("show").description(`show one run: per stage and node, iterations and status, skips, then the verdict; ${VERDICT_EXITS}`).argument("<run>", "run id"))
    .option("--json", "print JSON")
    .action(async (runId: string, flags: ConnectionFlags & { json?: boolean }) => {
      const run = await withClient(flags, (c) => readRun(c, runId));
      const judgement = judgeRun(run);
      print(flags.json ? JSON.stringify(runJson(run), null, 2) : formatRunSummary(run, judgement));
      process.exitCode = verdictExitCode(judgement.decision);
    });
}
