import { checkSelector } from "../../shared/model/check-selection.js";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Argument, Command, InvalidArgumentError, Option } from "commander";
import { FleetgateError } from "../../shared/errors.js";
import { exitOnUsageErrors, runCli } from "../../shared/cli-exit.js";
import { FLEETGATE_VERSION } from "../../shared/version.js";
import { parseSuite, type ResolvedCheck, type Suite } from "../../shared/model/suite.js";
import { parseVarFlag, runVars, VAR_FLAG_HELP, VARS_FILE_HELP, withVars, type ResolvedVars } from "../../shared/model/suite-vars.js";
import { runSuite, type SuiteOutcome } from "../engine/run-suite.js";
import { PRLIMIT_MISSING, prlimitPath } from "../limits/prlimit.js";
import { addCheckLimitOptions, checkLimits, type CheckLimitFlags } from "./limit-flags.js";
import { collectSuiteFiles } from "../../shared/collect-suite-files.js";
import { localWaivers, waivedLines } from "./local-waivers.js";
import { checkExitCode, formatCheckLine, formatIterationSummary, outcomeJson, overallStatus } from "./check-output.js";
import { registerConfigCommand } from "./config-command.js";
import { addRunOptions } from "./run-options.js";
import type { RunFlags } from "./settings.js";
import { defaultConcurrency, parseConcurrency } from "../engine/concurrency.js";

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number >= 1");
  return n;
}

function concurrencyFlag(value: string): number {
  try {
    return parseConcurrency(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw FleetgateError.from(err, "bad_input", `cannot read ${what} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

interface CheckFlags extends CheckLimitFlags {
  format: "text" | "json" | "tap" | "junit" | "prometheus";
  iterations: number;
  allowDestructive?: boolean;
  only: string[];
  tags: string[];
  var?: ResolvedVars;
  varsFile?: string;
  waivers?: string;
  name?: string;
  role?: string;
  concurrency?: number;
}

/**
 * `--only ID` and `--tags T` narrow the gate checks by the rule the daemon and the dry run use
 * (shared/model/check-selection.ts: both given, a check must match both); naming an id the suite
 * lacks is an error.
 */
function localSelector(suite: Suite, flags: CheckFlags): ((c: ResolvedCheck) => boolean) | undefined {
  const ids = suite.checks.map((c) => c.id);
  for (const id of flags.only) {
    if (!ids.includes(id)) throw new FleetgateError("bad_input", `--only ${id}: suite ${suite.file} has no check "${id}"; checks: ${ids.join(", ")}`);
  }
  return checkSelector(flags.tags, flags.only);
}

async function runLocalCheck(file: string, flags: CheckFlags): Promise<number> {
  const varsFile = flags.varsFile ? { text: readText(flags.varsFile, "vars file"), file: flags.varsFile } : undefined;
  const suite = withVars(parseSuite(readText(file, "suite"), file), runVars(flags.var, varsFile), true);
  const select = localSelector(suite, flags);
  // The files: a coordinator would ship, checked as coord run checks them; here they are read in place.
  collectSuiteFiles(suite, file);
  const limits = checkLimits(flags);
  if (!prlimitPath()) process.stderr.write(`fleetgate-agent: ${PRLIMIT_MISSING}\n`);
  const waived = flags.waivers ? localWaivers(readText(flags.waivers, "waivers"), flags.waivers, flags.name, flags.role ?? "", Date.now()) : undefined;
  for (const line of waived?.expired ?? []) process.stderr.write(`fleetgate-agent: ${line}\n`);
  const outcomes: SuiteOutcome[] = [];
  const startedAt = Date.now();
  const text = flags.format === "text";
  for (let i = 1; i <= flags.iterations; i++) {
    if (text && flags.iterations > 1) process.stdout.write(`iteration ${i}/${flags.iterations}\n`);
    const outcome = await runSuite(suite, {
      allowDestructive: flags.allowDestructive ?? false,
      env: process.env,
      select,
      limits,
      waivers: waived?.waivers,
      concurrency: flags.concurrency,
      // Relative paths and cwd: resolve beside the suite, as in the work dir a task unpacks its files: into.
      check: { baseDir: dirname(resolve(file)) },
      onResult: (r) => {
        if (text) process.stdout.write(`${formatCheckLine(r)}\n`);
      },
    });
    outcomes.push(outcome);
    if (text) process.stdout.write(`${formatIterationSummary(i, flags.iterations, outcome)}\n`);
    if (text) for (const line of waivedLines(outcome.results)) process.stdout.write(`${line}\n`);
  }
  if (flags.format === "json") process.stdout.write(`${outcomeJson(suite.name, outcomes)}\n`);
  if (flags.format === "tap") process.stdout.write((await import("./check-formats.js")).renderTap(outcomes));
  if (flags.format === "junit") process.stdout.write((await import("./check-formats.js")).renderJunit(suite.name, outcomes));
  // prom-client is loaded for this format only (issue 16: what the agent loads, it carries).
  if (flags.format === "prometheus") {
    const { renderPrometheus } = await import("./check-prometheus.js");
    process.stdout.write(await renderPrometheus({ suite: suite.name, outcomes, durationMs: Date.now() - startedAt, finishedAtMs: Date.now() }));
  }
  return checkExitCode(overallStatus(outcomes));
}

export function buildProgram(): Command {
  const program = new Command("fleetgate-agent")
    .description("Runs a node's lifecycle checks on the node and reports them to the fleetgate coordinator.")
    .version(FLEETGATE_VERSION);
  // Usage errors become exceptions, so they exit 3 (bad input) like every other input error.
  exitOnUsageErrors(program);

  addRunOptions(program.command("run").description("run the agent daemon: register with the coordinator and run the tasks it sends")).action(async (flags: RunFlags) => {
    await (await import("./daemon.js")).runDaemon(flags);
  });
  registerConfigCommand(program);

  const check = program
    .command("check")
    .description("run a suite on this host, with no coordinator (exit 0 green, 1 failed, 2 not ready or skipped, 3 bad input)")
    .argument("<suite>", "suite YAML file")
    .addOption(new Option("--format <format>", "output format (json: see docs/check-json.md; prometheus: gauges for node_exporter's textfile collector, see docs/metrics.md)").choices(["text", "json", "tap", "junit", "prometheus"]).default("text"))
    .option("--iterations <n>", "run the suite N times; all must be green", positiveInt, 1)
    .option("--allow-destructive", "run checks marked destructive: true")
    .option("--only <id>", "run only this check (repeatable); preconditions still run", (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option("--var <name=value>", VAR_FLAG_HELP, (v: string, prev?: ResolvedVars) => parseVarFlag(v, prev))
    .option("--vars-file <file>", VARS_FILE_HELP)
    .option("--tags <tag>", "run only checks with this tag (repeatable; with --only, a check must match both); preconditions still run", (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option("--waivers <file>", "waivers.yaml: a check it names that passes or fails is shown waived (exit 0 unless something else is not green); expired ones are ignored with a warning")
    .option("--name <name>", "this node's name for waivers with node: (default: hostname)")
    .option("--role <role>", "this node's role for waivers with role: (default: none)")
    .option("--concurrency <n>", `at most N checks at once (the suite's concurrency: may lower it; serial: true and destructive checks run alone); results print in the suite's order (default ${defaultConcurrency()}: twice the cores, at most 8)`, concurrencyFlag);
  addCheckLimitOptions(check).action(async (file: string, flags: CheckFlags) => {
    process.exitCode = await runLocalCheck(file, flags);
  });

  program
    .command("schema")
    .description("print the JSON Schema of suites or plans (for editors: # yaml-language-server: $schema=FILE)")
    .addArgument(new Argument("<target>", "what to describe").choices(["suite", "plan"]))
    .action(async (target: "suite" | "plan") => {
      const { jsonSchemaFor } = await import("../../shared/model/json-schema.js");
      process.stdout.write(`${JSON.stringify(jsonSchemaFor(target), null, 2)}\n`);
    });

  program
    .command("facts")
    .description("print this node's identity and facts as JSON")
    .option("--name <name>", "node name (default: hostname)")
    .action(async (flags: { name?: string }) => {
      const [{ toJson }, { NodeIdentitySchema }, { readIdentity }] = await Promise.all([
        import("@bufbuild/protobuf"),
        import("../../shared/gen/fleetgate/v1/common_pb.js"),
        import("../../shared/identity.js"),
      ]);
      const identity = await readIdentity({ name: flags.name });
      const json = toJson(NodeIdentitySchema, identity) as Record<string, unknown>;
      const { factsJson, ...rest } = json;
      process.stdout.write(`${JSON.stringify({ ...rest, facts: JSON.parse(String(factsJson ?? "{}")) }, null, 2)}\n`);
    });
  return program;
}

export async function main(argv: string[]): Promise<void> {
  await runCli("fleetgate-agent", buildProgram, argv);
}
