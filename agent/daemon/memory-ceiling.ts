// The agent's own memory ceiling (after osquery's watchdog): a leak in a daemon that runs for
// months on every node must not grow until the kernel's OOM killer picks a victim, maybe the
// service the gate is about. Above `--max-memory` the agent restarts itself cleanly.
//
// "Restart" is: stop gracefully (no new task, the running one gets --stop-grace, spooled events
// are flushed; graceful-stop.ts) and exit MEMORY_RESTART_EXIT_CODE for the supervisor to start
// it again. It does not re-exec itself: Node cannot replace its own image (no execve before
// Node 23), and a replacement spawned before exiting would, for a moment or for good if the old
// one hangs, be a second agent on the same state dir and node identity — two writers to one
// spool and journal, and the coordinator flags exactly that as a clone. systemd (or any
// supervisor) starting one process after the other has none of that, and its restart limits
// stop a loop. Nothing is lost or doubled across the restart because the path is the one every
// stop takes: results are in the fsynced spool before they are sent and are resent under their
// sequence numbers, and the task journal makes a task cut short report interrupted, not run again.
import { FleetgateError } from "../../shared/errors.js";
import { formatSize, parseSize, type Size } from "../../shared/model/sizes.js";

/** EX_TEMPFAIL (sysexits.h): "try again later". deploy/systemd's unit restarts on it. */
export const MEMORY_RESTART_EXIT_CODE = 75;

export const DEFAULT_MAX_MEMORY = "1GiB";

/** Node alone takes more: a ceiling below this restarts the agent for ever, so it is a typo. */
export const MIN_MAX_MEMORY_BYTES = 32 * 2 ** 20;

/** How often the resident set is read; a leak grows over hours, not seconds. */
export const MEMORY_CHECK_EVERY_MS = 2_000;

export interface MemoryCeilingOptions {
  /** --max-memory in bytes; 0 disables the ceiling. */
  maxBytes: number;
  /** Called once, with the resident set that crossed the ceiling. */
  onExceeded: (rssBytes: number) => void;
  /** The agent's resident set in bytes. */
  readRss?: () => number;
}

/** `--max-memory 512MiB` in bytes; 0 disables the ceiling. */
export function parseMaxMemory(size: Size): number {
  let bytes: number;
  try {
    bytes = parseSize(size);
  } catch (err) {
    throw new FleetgateError("bad_input", `--max-memory: ${(err as Error).message}, or 0 for no ceiling`);
  }
  if (bytes !== 0 && bytes < MIN_MAX_MEMORY_BYTES) {
    throw new FleetgateError("bad_input", `--max-memory: ${formatSize(bytes)} is less than the agent needs to start, and it would restart for ever; give at least 32MiB, or 0 for no ceiling`);
  }
  return bytes;
}

/** Pure: the line the agent logs when it restarts for memory. */
export function ceilingMessage(rssBytes: number, maxBytes: number): string {
  return (
    `agent memory ${formatSize(rssBytes)} (RSS) is above --max-memory ${formatSize(maxBytes)}: restarting cleanly — ` +
    `no new task starts, the running one has --stop-grace to finish, spooled results are flushed or kept, ` +
    `then exit ${MEMORY_RESTART_EXIT_CODE} for the supervisor to start the agent again`
  );
}

/** Watches the agent's resident set; over the ceiling, calls `onExceeded` once and stops watching. */
export class MemoryCeiling {
  private timer: NodeJS.Timeout | undefined;
  private fired = false;
  private readonly readRss: () => number;

  constructor(private readonly o: MemoryCeilingOptions) {
    this.readRss = o.readRss ?? (() => process.memoryUsage.rss());
  }

  /** Reads the resident set once; true when it is over the ceiling (and `onExceeded` ran). */
  sample(): boolean {
    if (this.fired || this.o.maxBytes <= 0) return false;
    const rss = this.readRss();
    if (rss <= this.o.maxBytes) return false;
    this.fired = true;
    this.stop();
    this.o.onExceeded(rss);
    return true;
  }

  /** Samples every `everyMs`; the timer does not keep the process alive. Nothing to do when disabled. */
  start(everyMs = MEMORY_CHECK_EVERY_MS): this {
    if (this.o.maxBytes > 0 && !this.timer && !this.fired) {
      this.timer = setInterval(() => this.sample(), everyMs);
      this.timer.unref();
    }
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
