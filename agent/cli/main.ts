import { checkSelector } from "../../shared/model/check-selection.js";
import { readFileSync } from "node:fs";
import { constants } from "node:os";
import { dirname, resolve } from "node:path";
import { toJson } from "@bufbuild/protobuf";
import { Argument, Command, InvalidArgumentError, Option } from "commander";
import { NodeIdentitySchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { exitOnUsageErrors, runCli } from "../../shared/cli-exit.js";
import { readIdentity } from "../../shared/identity.js";
import { FLEETGATE_VERSION } from "../../shared/version.js";
import { createLogger, type Logger } from "../../shared/logging.js";
import { parseSuite, type ResolvedCheck, type Suite } from "../../shared/model/suite.js";
import { parseVarFlag, runVars, VAR_FLAG_HELP, VARS_FILE_HELP, withVars, type ResolvedVars } from "../../shared/model/suite-vars.js";
import { jsonSchemaFor } from "../../shared/model/json-schema.js";
import { renderJunit, renderTap } from "./check-formats.js";
import { runSuite, type SuiteOutcome } from "../engine/run-suite.js";
import { AgentConnection } from "../daemon/connection.js";
import { Credentials } from "../daemon/credentials.js";
import { NodeTls } from "../daemon/node-tls.js";
import { channelCredentials } from "../../shared/tls/channel.js";
import { stopGracefully, type StopCause, type StopOutcome } from "../daemon/graceful-stop.js";
import { ceilingMessage, MEMORY_RESTART_EXIT_CODE, MemoryCeiling } from "../daemon/memory-ceiling.js";
import { PRLIMIT_MISSING, prlimitPath } from "../limits/prlimit.js";
import { addCheckLimitOptions, checkLimits, type CheckLimitFlags } from "./limit-flags.js";
import { Spool } from "../daemon/spool.js";
import { TaskJournal } from "../daemon/task-journal.js";
import { TaskRunner } from "../daemon/task-runner.js";
import { removeStaleWorkDirs, workRoot } from "../engine/work-dir.js";
import { collectSuiteFiles } from "../../shared/collect-suite-files.js";
import { killRunningChecks } from "../process.js";
import { localWaivers, waivedLines } from "./local-waivers.js";
import { checkExitCode, formatCheckLine, formatIterationSummary, outcomeJson, overallStatus } from "./check-output.js";
import { DEFAULT_AGENT_CONFIG, loadAgentConfig, readTokenFile } from "./config.js";
import { registerConfigCommand } from "./config-check.js";
import { addRunOptions } from "./run-options.js";
import { noTokenMessage, resolveAgentSettings, runLimits, type RunFlags } from "./settings.js";
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

/** Resolves when the spool has nothing unacknowledged, or after `maxMs`; polls, bounded. */
async function spoolDrained(spool: Spool, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  while (spool.pendingCount() && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
}

async function runDaemon(flags: RunFlags): Promise<void> {
  const config = loadAgentConfig(flags.config ?? DEFAULT_AGENT_CONFIG, flags.config !== undefined);
  const log = createLogger("agent");
  // flag > env > file > default for every setting (settings.ts; `config check` shows the same).
  const settings = resolveAgentSettings(flags, process.env, config);
  const address = settings.coordinator.value;
  const stateDir = settings.stateDir.value;
  const { stopGraceMs, spoolMaxBytes: spoolMax, maxMemoryBytes: maxMemory, checks: limits, concurrency } = runLimits(settings);
  const identity = await readIdentity({ name: settings.name.value, labels: settings.labels.value, packages: settings.packages.value });
  const credentials = new Credentials(stateDir, settings.token.value ?? readTokenFile(settings.tokenFile.value));
  if (!credentials.current()) throw new FleetgateError("bad_input", noTokenMessage(settings));
  const tls = new NodeTls(stateDir, settings.ca.value);
  const insecure = settings.insecure.value;
  if (tls.unsaved) log.error(tls.unsaved);
  // Refuse plaintext off loopback now, with the fix, rather than at the first connection attempt.
  channelCredentials(address, insecure ? undefined : tls.channel(), { insecure, caFlag: "--ca" });
  const origin = { $typeName: "fleetgate.v1.Origin" as const, machineId: identity.machineId, bootId: identity.bootId, hostname: identity.hostname };
  const nodeLog = log.child({ node: identity.name });
  const spool = Spool.open(stateDir, { origin, maxBytes: spoolMax, log: nodeLog });
  const journal = TaskJournal.open(stateDir);
  if (journal.unwritable) nodeLog.error({ journal: journal.file }, `${journal.unwritable}; tasks sent to this node end as errors`);
  let connection: AgentConnection | undefined;
  const allowFaults = settings.allowFaults.value;
  const drained = () => spoolDrained(spool, 5_000);
  if (!prlimitPath()) nodeLog.warn(PRLIMIT_MISSING);
  // Work dirs left by an agent killed mid-task: their tasks report interrupted, nothing needs them.
  const stale = removeStaleWorkDirs(workRoot(stateDir));
  if (stale) nodeLog.info({ removed: stale, dir: workRoot(stateDir) }, "removed work dirs left by tasks of a previous agent process");
  const runner = new TaskRunner(spool, origin, () => connection?.flush(), nodeLog, { allowFaults, drained, journal, limits, concurrency, workRoot: workRoot(stateDir), nodeName: identity.name });
  connection = new AgentConnection({
    address,
    identity,
    credentials,
    tls,
    insecure,
    spool,
    log: nodeLog,
    // Either store refusing writes makes the node degraded; the spool's reason first, the one tasks end with.
    health: () => ({ ...spool.health(), degraded: spool.health().degraded || (journal.unwritable ?? "") }),
    onTask: (t) => runner.submit(t),
    onCancel: (id) => runner.cancel(id),
  });
  const stop = onStopSignals(
    (cause) => stopGracefully({ runner, graceMs: stopGraceMs, drained, pending: () => spool.pendingCount(), disconnect: () => connection?.stop(), log: nodeLog }, cause),
    nodeLog,
  );
  const ceiling = new MemoryCeiling({
    maxBytes: maxMemory,
    onExceeded: (rss) => {
      nodeLog.error({ phase: "max_memory", rss, maxMemory }, ceilingMessage(rss, maxMemory));
      stop.begin({ reason: "max_memory" });
    },
  }).start();
  nodeLog.info(
    { coordinator: address, machineId: identity.machineId, labels: identity.labels, allowFaults, stopGraceMs, journal: journal.file, spool: spool.dir, spoolMax, pending: spool.pendingCount(), maxMemory, checkLimits: limits, concurrency },
    "agent starting",
  );
  await connection.run();
  ceiling.stop();
  spool.close();
  const outcome = await stop.current();
  const cause = stop.cause();
  const code = cause && "reason" in cause ? MEMORY_RESTART_EXIT_CODE : 0;
  process.exitCode = code;
  // A task still running after its checks were killed would keep the process alive: stop anyway.
  if (outcome?.idle === false) process.exit(code);
}

interface StopControl {
  /** Starts a graceful stop unless one is under way. */
  begin(cause: StopCause): void;
  /** The graceful stop under way, if any. */
  current(): Promise<StopOutcome> | undefined;
  cause(): StopCause | undefined;
}

/**
 * The first SIGTERM or SIGINT, or the agent itself (the memory ceiling), starts a graceful stop;
 * a signal during it exits at once (128 + signal), killing the running checks.
 */
function onStopSignals(start: (cause: StopCause) => Promise<StopOutcome>, log: Logger): StopControl {
  let stopping: Promise<StopOutcome> | undefined;
  let why: StopCause | undefined;
  const begin = (cause: StopCause) => {
    if (stopping) return;
    why = cause;
    stopping = start(cause);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (!stopping) {
      begin({ signal });
      return;
    }
    // The journal has the running task: the restarted agent reports it interrupted, never re-runs it.
    const killed = killRunningChecks();
    log.warn({ phase: "aborted", signal, killed }, "second signal: stopping now; the running task's checks are killed and it is not reported");
    process.exit(128 + (constants.signals[signal] ?? 15));
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return { begin, current: () => stopping, cause: () => why };
}

interface CheckFlags extends CheckLimitFlags {
  format: "text" | "json" | "tap" | "junit";
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
  if (flags.format === "tap") process.stdout.write(renderTap(outcomes));
  if (flags.format === "junit") process.stdout.write(renderJunit(suite.name, outcomes));
  return checkExitCode(overallStatus(outcomes));
}

export function buildProgram(): Command {
  const program = new Command("fleetgate-agent")
    .description("Runs a node's lifecycle checks on the node and reports them to the fleetgate coordinator.")
    .version(FLEETGATE_VERSION);
  // Usage errors become exceptions, so they exit 3 (bad input) like every other input error.
  exitOnUsageErrors(program);

  addRunOptions(program.command("run").description("run the agent daemon: register with the coordinator and run the tasks it sends")).action(async (flags: RunFlags) => {
    await runDaemon(flags);
  });
  registerConfigCommand(program);

  const check = program
    .command("check")
    .description("run a suite on this host, with no coordinator (exit 0 green, 1 failed, 2 not ready or skipped, 3 bad input)")
    .argument("<suite>", "suite YAML file")
    .addOption(new Option("--format <format>", "output format (json: see docs/check-json.md)").choices(["text", "json", "tap", "junit"]).default("text"))
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
    .action((target: "suite" | "plan") => {
      process.stdout.write(`${JSON.stringify(jsonSchemaFor(target), null, 2)}\n`);
    });

  program
    .command("facts")
    .description("print this node's identity and facts as JSON")
    .option("--name <name>", "node name (default: hostname)")
    .action(async (flags: { name?: string }) => {
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
