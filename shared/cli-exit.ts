// How both CLIs end: one exit status per outcome, and a line on stderr for every failure.
// 0 done (or GO), 1 NO-GO / failed, 2 incomplete / not ready, 3 bad input, 4 unreachable,
// 70 internal error (EX_SOFTWARE: a bug, never confused with NO-GO), 141 stdout closed (EPIPE).
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { CommanderError, type Command } from "commander";
import { EXIT_CODE, FleetgateError } from "./errors.js";

/** 128 + SIGPIPE, what a shell reports for a writer whose reader went away (`yes | head -1`). */
export const EXIT_PIPE_CLOSED = 141;

/** The user's arguments (argv after node and the script), as runCli was given them. */
let commandLine = process.argv.slice(2);

/** Errors commander has already printed ("error: option '--x' argument ..."), so not twice. */
const printedByCommander = new WeakSet<CommanderError>();

/**
 * Usage errors become exceptions (so they exit 3 like every other input error) and help and
 * version exit 0; call in buildProgram before adding subcommands, which inherit it.
 */
export function exitOnUsageErrors(program: Command): Command {
  return program.exitOverride((err) => {
    printedByCommander.add(err);
    throw err;
  });
}

/**
 * Exit status for whatever a CLI action threw, after saying why on stderr: help/version 0,
 * usage errors 3, FleetgateErrors by code; an internal error or a foreign one (a bug) is 70
 * with one line and where its details are.
 */
export function reportFailure(program: string, err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return 0;
    // An InvalidArgumentError thrown inside an action never went through commander's printing.
    if (!printedByCommander.has(err)) process.stderr.write(`${program}: ${err.message.replace(/^error: /, "")}\n`);
    return EXIT_CODE.bad_input;
  }
  const ours = FleetgateError.from(err);
  if (ours.code !== "internal") {
    process.stderr.write(`${program}: ${ours.message}\n`);
    return EXIT_CODE[ours.code];
  }
  process.stderr.write(`${internalErrorLine(program, err)}\n`);
  return EXIT_CODE.internal;
}

/**
 * "coord: internal error: X (not a verdict: fleetgate itself failed; details in FILE)", on one line:
 * the stack goes to a crash file, or the coordinator's log has it when the coordinator broke.
 */
export function internalErrorLine(program: string, err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).split("\n")[0]!.trim() || "unknown error";
  let where: string;
  if (fromCoordinator(err)) where = "details in the coordinator's log";
  else {
    const file = writeCrashFile(program, err);
    where = file ? `details in ${file}` : "run again with FLEETGATE_LOG_LEVEL=debug for the stack trace";
    if (!file || ["debug", "trace"].includes(process.env.FLEETGATE_LOG_LEVEL ?? "")) process.stderr.write(`${inspect(err)}\n`);
  }
  return `${program}: internal error: ${message} (not a verdict: fleetgate itself failed; ${where})`;
}

/** The whole error (stack, cause chain) in a file of its own; undefined when it cannot be written. */
function writeCrashFile(program: string, err: unknown): string | undefined {
  const file = join(process.env.FLEETGATE_CRASH_DIR ?? tmpdir(), `${program}-crash-${new Date().toISOString().replace(/[:.]/g, "")}-${process.pid}.log`);
  try {
    // The command, not its arguments: a --token or a --var secret must not land in a file in /tmp.
    const args = commandLine;
    const firstOption = args.findIndex((a) => a.startsWith("-"));
    const command = args.slice(0, Math.min(2, firstOption < 0 ? args.length : firstOption)).join(" ");
    writeFileSync(file, `${new Date().toISOString()} ${program} ${command}\n${inspect(err, { depth: 6 })}\n`, { mode: 0o600 });
    return file;
  } catch {
    return undefined;
  }
}

/** An INTERNAL status from a call: the coordinator broke, its log has the stack. */
function fromCoordinator(err: unknown): boolean {
  const cause = err instanceof FleetgateError ? err.cause : undefined;
  return typeof cause === "object" && cause !== null && typeof (cause as { code?: unknown }).code === "number" && "details" in cause;
}

/**
 * Runs a CLI: parses argv, ends a failure with its exit status and a line saying why, ends
 * quietly (141) when the reader of stdout goes away (`coord runs --json | head -1`), and turns an
 * exception nothing caught (a bug in a callback) into exit 70 instead of a stack trace and 1.
 */
export async function runCli(program: string, build: () => Command, argv: string[]): Promise<void> {
  commandLine = argv.slice(2);
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      // Not 0: for `coord run`, 0 means GO, and the run was not watched to its end.
      if (err.code === "EPIPE") process.exit(EXIT_PIPE_CLOSED);
      crash(program, err);
    });
  }
  process.on("uncaughtException", (err) => crash(program, err));
  process.on("unhandledRejection", (reason) => crash(program, reason));
  try {
    await build().parseAsync(argv);
  } catch (err) {
    process.exitCode = reportFailure(program, err);
  }
}

function crash(program: string, err: unknown): never {
  let code: number = EXIT_CODE.internal;
  try {
    code = reportFailure(program, err);
  } catch {
    // stderr itself is gone: the exit status still says it.
  }
  process.exit(code);
}
