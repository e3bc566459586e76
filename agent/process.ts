// Every child process the agent starts goes through here: argv arrays, no shell, bounded
// output, and a timeout that kills the whole process group, not just the direct child.
import { execa } from "execa";
import type { ProcessLimits } from "../shared/model/check-limits.js";
import { decodeTail } from "../shared/model/text-cut.js";
import { checkCommandLine } from "./command-line.js";
import { limitHit } from "./limits/limit-hit.js";
import { prlimitPath, wrapperExecFailure } from "./limits/prlimit.js";
import type { RunAs } from "./run-as/resolve.js";

/**
 * Keeps the last `limit` bytes written to it: the end of a log is what explains a failure. Its
 * text is bounded in UTF-8 bytes too, so output that is not UTF-8 (each byte a 3-byte U+FFFD)
 * cannot triple on decoding.
 */
export class OutputTail {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes written and no longer kept. */
  private dropped = 0;
  /** Output was dropped from the front. */
  truncated = false;

  constructor(private readonly limit: number) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    while (this.size > this.limit && this.chunks.length) {
      const head = this.chunks[0] as Buffer;
      const excess = this.size - this.limit;
      if (head.length <= excess) {
        this.chunks.shift();
        this.size -= head.length;
        this.dropped += head.length;
      } else {
        this.chunks[0] = head.subarray(excess);
        this.size -= excess;
        this.dropped += excess;
      }
      this.truncated = true;
    }
  }

  /** The kept end, decoded, within `limit` bytes of UTF-8, led by `[… N bytes cut …]` when cut. */
  text(): string {
    return decodeTail(Buffer.concat(this.chunks), this.limit, this.dropped);
  }
}

export interface ProcessRequest {
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs: number;
  /** Per stream, in bytes of output and of its decoded UTF-8 text; the tail is kept. */
  maxOutputBytes?: number;
  /** Grace between SIGTERM and SIGKILL of the group. */
  killGraceMs?: number;
  /** CPU and memory limits of the process and everything it starts (via prlimit); none when absent. */
  limits?: ProcessLimits;
  /** The user it runs as (a check's `user:`, via setpriv); the agent's own when absent. */
  runAs?: RunAs;
}

export interface ProcessOutcome {
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Set when the program could not be started at all (ENOENT, EACCES). */
  spawnError?: string;
  /** Set when one of its limits ended it: which one, for the check's summary. */
  limitHit?: string;
  durationMs: number;
}

export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/** Process groups of checks running now: what a cancelled task kills. */
const liveGroups = new Set<number>();
/** Groups the agent killed itself: their SIGKILL is no limit's doing. */
const killedByAgent = new Set<number>();

/** Kills every check process running on this agent, whole groups: a cancelled task stops now. */
export function killRunningChecks(): number {
  for (const pid of liveGroups) {
    killedByAgent.add(pid);
    killGroup(pid, "SIGKILL");
  }
  return liveGroups.size;
}

export async function runProcess(req: ProcessRequest): Promise<ProcessOutcome> {
  // prlimit missing: no limits (the daemon says so at start); the argv and env composed in one place.
  const limited = checkCommandLine(req, req.limits ? prlimitPath() : null, process.env);
  const [file, ...args] = limited.argv as [string, ...string[]];
  const limit = req.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const stdout = new OutputTail(limit);
  const stderr = new OutputTail(limit);
  const started = Date.now();
  // detached: the child leads a new process group, so one kill(-pid) reaches every descendant.
  const child = execa(file, args, {
    cwd: req.cwd,
    env: limited.env,
    extendEnv: limited.extendEnv,
    detached: true,
    reject: false,
    buffer: false,
    stdin: "ignore",
    cleanup: true,
  });
  if (child.pid) liveGroups.add(child.pid);
  child.stdout?.on("data", (c: Buffer) => stdout.push(c));
  child.stderr?.on("data", (c: Buffer) => stderr.push(c));

  let timedOut = false;
  let forceKill: NodeJS.Timeout | undefined;
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid) {
      killGroup(child.pid, "SIGTERM");
      forceKill = setTimeout(() => child.pid && killGroup(child.pid, "SIGKILL"), req.killGraceMs ?? 2000);
    }
  }, req.timeoutMs);

  // Descendants left behind (a backgrounded `sleep &`) die with the check, timed out or not.
  // This must happen when the leader exits, not after `await child`: a descendant holding the
  // output pipes open keeps execa waiting, which turned a finished check into a timeout.
  child.once("exit", () => {
    clearTimeout(timer);
    if (forceKill) clearTimeout(forceKill);
    if (child.pid) killGroup(child.pid, "SIGKILL");
  });
  const result = await child;
  const byAgent = child.pid !== undefined && killedByAgent.delete(child.pid);
  if (child.pid) liveGroups.delete(child.pid);
  clearTimeout(timer);
  if (child.pid) killGroup(child.pid, "SIGKILL");
  if (forceKill) clearTimeout(forceKill);

  const signal = result.signal ?? null;
  const err = stderr.text();
  const failedToStart = result.failed && result.exitCode === undefined && !result.signal && !timedOut;
  const notExeced = limited.wrapped ? wrapperExecFailure(result.exitCode ?? null, err) : undefined;
  const spawnError = failedToStart ? (result.originalMessage ?? result.shortMessage) : notExeced;
  // A wrapper's 126/127 is its own, not the check's: like an unwrapped spawn error, no exit code.
  const exitCode = notExeced ? null : (result.exitCode ?? null);
  return {
    exitCode,
    signal,
    stdout: stdout.text(),
    stderr: err,
    timedOut,
    spawnError,
    limitHit: spawnError ? undefined : limitHit({ exitCode, signal, stderr: err, timedOut, killedByAgent: byAgent }, limited.limits),
    durationMs: Date.now() - started,
  };
}
