// SIGTERM, the way the Buildkite agent stops: take no new task, let the running one finish within
// a grace period (then kill its checks and report it cancelled), deliver every spooled event while
// still connected, and only then disconnect. A task cut short anyway is in the task journal, so
// the restarted agent reports it interrupted instead of running it again.
import type { Logger } from "pino";
import { formatDuration } from "../../shared/durations.js";
import type { TaskRunner } from "./task-runner.js";

/** How long a task whose checks were killed gets to report before the agent stops without it. */
const KILLED_TASK_REPORT_MS = 5_000;

export interface GracefulStopOptions {
  runner: Pick<TaskRunner, "stopTaking" | "runningTask" | "idle" | "stopRunning">;
  /** --stop-grace: how long the running task may go on. */
  graceMs: number;
  /** Resolves once every spooled event is acknowledged, or after a bounded wait. */
  drained: () => Promise<void>;
  /** Spooled events not yet acknowledged. */
  pending: () => number;
  /** Closes the link to the coordinator; the daemon's connection loop then returns. */
  disconnect: () => void;
  log: Logger;
}

/** Why the agent stops: a signal (systemctl stop, Ctrl-C), or a reason of its own (memory-ceiling.ts). */
export type StopCause = { signal: NodeJS.Signals } | { reason: "max_memory" };

export interface StopOutcome {
  /** False when the running task had not ended even after its checks were killed. */
  idle: boolean;
  /** Events left unacknowledged in the spool; the restarted agent sends them. */
  pending: number;
}

/** True if `p` settles within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([p.then(() => true, () => true), expired]);
  } finally {
    clearTimeout(timer);
  }
}

export async function stopGracefully(o: GracefulStopOptions, cause: StopCause): Promise<StopOutcome> {
  const grace = formatDuration(o.graceMs);
  const dropped = o.runner.stopTaking();
  const task = o.runner.runningTask();
  o.log.info(
    { phase: "stopping", ...cause, task, dropped, graceMs: o.graceMs },
    task ? `stopping: no new task starts; the running task has --stop-grace ${grace} to finish` : "stopping: no new task starts; no task is running",
  );
  let idle = await settlesWithin(o.runner.idle(), o.graceMs);
  if (!idle) {
    const killed = o.runner.stopRunning(`agent stopping: the check outlived --stop-grace ${grace}`);
    o.log.warn({ phase: "grace_expired", task, killed }, `the running task outlived --stop-grace ${grace}: its checks are killed and it reports cancelled`);
    idle = await settlesWithin(o.runner.idle(), KILLED_TASK_REPORT_MS);
    if (!idle) o.log.error({ phase: "grace_expired", task }, "the task did not end after its checks were killed; stopping without its report (the restarted agent reports it interrupted)");
  } else if (task) {
    o.log.info({ phase: "task_finished", task }, "the running task finished within --stop-grace");
  }
  o.log.info({ phase: "flushing", pending: o.pending() }, "waiting for the coordinator to acknowledge every spooled event");
  await o.drained();
  const pending = o.pending();
  if (pending) o.log.warn({ phase: "stopped", pending }, `stopping with ${pending} events spooled; the agent sends them when it starts again`);
  else o.log.info({ phase: "stopped", pending }, "stopped: the spool is empty, every event acknowledged");
  o.disconnect();
  return { idle, pending };
}
