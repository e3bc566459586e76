// Group commit for the spool: results that arrive within a short window are made durable with
// one fsync and then sent, instead of one fsync per result. On an ext4 disk an fsync took 5.4 ms
// here, as long as spawning the check itself (docs/benchmarks.md, "Agent footprint").
//
// What does not change: an event is sent only after it is durable (AgentConnection.flush syncs
// the spool before it writes to the stream), so the coordinator never acknowledges an event the
// spool could lose. What the window changes: a result written to the spool (write(2) at once,
// so it survives the agent crashing) reaches the disk up to GROUP_COMMIT_MS later; a power
// loss in that window loses it, and its task is then reported interrupted, never run twice.

/** How long the first event of a burst waits for others to share its fsync. */
export const GROUP_COMMIT_MS = 50;

export interface GroupCommit {
  /** Asks for a commit: the first request of a window schedules one; later ones join it. */
  request(): void;
  /** Drops a scheduled commit (the spool is closing: its close() syncs anyway). */
  cancel(): void;
}

export function groupCommit(commit: () => void, windowMs = GROUP_COMMIT_MS, timers: { set: typeof setTimeout; clear: typeof clearTimeout } = { set: setTimeout, clear: clearTimeout }): GroupCommit {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const fire = () => {
    timer = undefined;
    commit();
  };
  return {
    request() {
      if (timer === undefined) timer = timers.set(fire, windowMs);
    },
    cancel() {
      if (timer !== undefined) timers.clear(timer);
      timer = undefined;
    },
  };
}
