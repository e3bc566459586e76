// What a WatchRun stream holds back while its watcher is slower than the run. Writing every update
// to grpc-js regardless of call.write() returning false buffered the whole run for a slow follower
// (1.2 GiB at 5,000 nodes). Here the memory is bounded instead: a task's status keeps only its
// latest update (one entry per task), check updates are queued up to a byte budget and past it
// dropped and counted, and the run's end is always kept and comes last. Nothing the watcher needs
// for the verdict is lost: `coord run` reads the verdict from the stored run (GetRun), and every
// task's last status still arrives; only per-check progress lines can be missing. Pure: no stream.
import type { CheckUpdate, WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";

/** Check updates one watcher may have queued, by estimated size: some 8,000 small ones, more than a burst of a 5,000-node run. */
export const DEFAULT_WATCH_BACKLOG_BYTES = 8 * 1024 * 1024;

interface Entry {
  /** Undefined once a later update of the same task replaced it. */
  update: WatchRunResponse | undefined;
  /** What it counts against the check budget (0 for a task update). */
  bytes: number;
}

/** Superseded entries are swept out once they are this many and outnumber the live ones. */
const SWEEP_AT = 1024;

export class WatchBacklog {
  private entries: Entry[] = [];
  private head = 0;
  private live = 0;
  private readonly queuedTask = new Map<string, Entry>();
  private checkBytes = 0;
  private end: WatchRunResponse | undefined;
  private ended = false;
  /** Check updates not queued because the budget was spent. */
  dropped = 0;
  /** Task updates replaced by a later one of the same task before they were taken. */
  superseded = 0;

  constructor(private readonly maxCheckBytes = DEFAULT_WATCH_BACKLOG_BYTES) {}

  push(update: WatchRunResponse): void {
    if (this.end || this.ended) return;
    const e = update.event;
    if (e.case === "finished") this.end = update;
    else if (e.case === "check") {
      const bytes = checkUpdateBytes(e.value);
      if (this.checkBytes + bytes > this.maxCheckBytes) {
        this.dropped++;
        return;
      }
      this.checkBytes += bytes;
      this.append({ update, bytes });
    } else if (e.case === "task") {
      // The newer status goes to the back, after any check of the task queued before it.
      const prev = this.queuedTask.get(e.value.taskId);
      if (prev) {
        prev.update = undefined;
        this.live--;
        this.superseded++;
      }
      const entry = { update, bytes: 0 };
      this.queuedTask.set(e.value.taskId, entry);
      this.append(entry);
    }
  }

  /** The next update to write, oldest first; the run's end after everything else. */
  shift(): WatchRunResponse | undefined {
    while (this.head < this.entries.length) {
      const entry = this.entries[this.head++] as Entry;
      const u = entry.update;
      if (!u) continue;
      this.live--;
      this.checkBytes -= entry.bytes;
      if (u.event.case === "task" && this.queuedTask.get(u.event.value.taskId) === entry) this.queuedTask.delete(u.event.value.taskId);
      this.sweep();
      return u;
    }
    this.entries = [];
    this.head = 0;
    const end = this.end;
    if (end) {
      this.end = undefined;
      this.ended = true;
    }
    return end;
  }

  /** Updates waiting, the run's end included. */
  get size(): number {
    return this.live + (this.end ? 1 : 0);
  }

  /** Entries held in memory, superseded ones not yet swept included: what bounds the memory. */
  get held(): number {
    return this.entries.length - this.head + (this.end ? 1 : 0);
  }

  /** Estimated bytes of the check updates waiting. */
  get queuedCheckBytes(): number {
    return this.checkBytes;
  }

  private append(entry: Entry): void {
    this.entries.push(entry);
    this.live++;
    this.sweep();
  }

  private sweep(): void {
    const dead = this.entries.length - this.live;
    if (dead < SWEEP_AT || dead <= this.live) return;
    this.entries = this.entries.slice(this.head).filter((e) => e.update);
    this.head = 0;
  }
}

/**
 * Roughly what a check update weighs in memory: its text fields (the engine sends none of a
 * result's output tails, each up to hundreds of kB, but an update that had them would count them)
 * and a fixed allowance for the objects around them (a small update measured 1.3 kB of heap).
 * Cheap: no serialization on the path every result takes.
 */
export function checkUpdateBytes(u: CheckUpdate): number {
  const r = u.result;
  let n = 1024 + u.taskId.length + u.nodeName.length + u.stageId.length;
  if (!r) return n;
  n += r.checkId.length + r.kind.length + r.summary.length + r.reason.length + r.stdoutTail.length + r.stderrTail.length + r.hint.length + r.runAs.length;
  for (const c of r.cases) n += 64 + c.name.length + c.message.length;
  for (const a of r.attemptLog) n += 64 + a.summary.length;
  for (const [k, v] of Object.entries(r.captured)) n += 32 + k.length + v.length;
  return n;
}
