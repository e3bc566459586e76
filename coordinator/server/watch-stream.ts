// One WatchRun stream: the stored run replayed, then live updates, written only as fast as the
// watcher reads. The replay comes from the store, so it waits without loss; live updates that
// arrive meanwhile wait in a bounded backlog (watch-backlog.ts), which keeps every task's latest
// status and the run's end.
//
// One message is in flight at a time, and it carries everything waiting (a batch). grpc-js
// completes a stream's writes one at a time, about one per turn of the event loop, and while 1,000
// agents report at once a turn lasts up to a second or two (every socket's reads and commits).
// With one update a message and grpc-js's 16 messages of room, a watcher heard nothing for seconds
// at a time and the run's end came 1.8 s after the run was over; now each turn sends all there is.
import { create } from "@bufbuild/protobuf";
import { WatchRunResponseSchema, type WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { WatchBacklog } from "./watch-backlog.js";

/**
 * One batch's limits: as many updates as a turn of a busy coordinator gathers, in a message well
 * under the 4 MiB limit by maxWireBytes' reckoning, which assumes every character takes 3 bytes
 * (real output is mostly ASCII: a batch is typically a third of it). One update alone is always
 * sent, whatever its size.
 */
export const MAX_BATCH_UPDATES = 10_000;
export const MAX_BATCH_BYTES = 3 * 1024 * 1024;

const textBytes = (...texts: string[]): number => texts.reduce((n, t) => n + 3 * t.length + 4, 0);

/** At most what an update takes on the wire: its text at 3 bytes a character, plus tags and numbers. */
export function maxWireBytes(u: WatchRunResponse): number {
  const e = u.event;
  if (e.case === "task") {
    const t = e.value;
    return 96 + textBytes(t.taskId, t.stageId, t.nodeName, t.summary, t.stageKind, t.stepId, t.role, t.suitePath);
  }
  if (e.case !== "check") return 1024;
  const c = e.value;
  let n = 64 + textBytes(c.taskId, c.nodeName, c.stageId);
  const r = c.result;
  if (!r) return n;
  n += 64 + textBytes(r.checkId, r.kind, r.summary, r.reason, r.stdoutTail, r.stderrTail, r.hint, r.runAs);
  for (const tc of r.cases) n += 24 + textBytes(tc.name, tc.message);
  for (const a of r.attemptLog) n += 32 + textBytes(a.summary);
  for (const [k, v] of Object.entries(r.captured)) n += 8 + textBytes(k, v);
  const w = r.waiver;
  if (w) n += 32 + textBytes(w.checkId, w.node, w.role, w.reason, w.owner, w.expires, w.source);
  return n;
}

/** The part of grpc-js's ServerWritableStream a watch uses. */
export interface WatchCall {
  /**
   * `written` is called once the message is on its way (grpc-js: handed to HTTP/2, which waits for
   * the watcher's flow-control window). It is never called if the call fails or is cancelled;
   * 'cancelled' or 'close' comes instead.
   */
  write(update: WatchRunResponse, written: (err?: Error | null) => void): unknown;
  end(): void;
  /** Ends the call with this error as its status (grpc-js: the stream's 'error' listener ends it). */
  emit(event: "error", err: Error): unknown;
  once(event: "cancelled" | "close", listener: () => void): unknown;
  off(event: "cancelled" | "close", listener: () => void): unknown;
}

export interface WatchFeed {
  /**
   * Live updates of the watched run, until `ended` says the source stopped (its error ends the
   * watch, which the watcher opens again elsewhere); returns the unsubscribe.
   */
  subscribe(listener: (update: WatchRunResponse) => void, ended: (err: Error) => void): () => void;
  /**
   * The run as stored, read after subscribing so nothing between the two is missed: its updates
   * in order, and its end when it has ended (the watch then ends after the replay).
   */
  snapshot(): { replay: Iterable<WatchRunResponse>; finished?: WatchRunResponse };
}

export interface WatchEnd {
  /** The watcher got the run's end (false: it went away first). */
  finished: boolean;
  /** Live check updates not sent because the watcher was too far behind. */
  dropped: number;
  /** Live task updates replaced by a later status of the same task before they were sent. */
  superseded: number;
}

export function streamWatch(call: WatchCall, feed: WatchFeed, o: { maxBacklogBytes?: number; onEnd?: (end: WatchEnd) => void } = {}): void {
  const backlog = new WatchBacklog(o.maxBacklogBytes);
  let replay: Iterator<WatchRunResponse> | undefined;
  let inFlight = false;
  let done = false;

  const stop = (finished: boolean) => {
    if (done) return;
    done = true;
    unsubscribe();
    call.off("cancelled", gone);
    call.off("close", gone);
    o.onEnd?.({ finished, dropped: backlog.dropped, superseded: backlog.superseded });
  };
  const gone = () => stop(false);

  const next = (): WatchRunResponse | undefined => {
    if (replay) {
      const r = replay.next();
      if (!r.done) return r.value;
      replay = undefined;
    }
    return backlog.shift();
  };

  // An update taken out that did not fit in the last batch: it opens the next write.
  let held: WatchRunResponse | undefined;
  /** The next write: the run's end alone, one update, or a batch of those waiting, in order. */
  const take = (): WatchRunResponse | undefined => {
    const first = held ?? next();
    held = undefined;
    if (!first || first.event.case === "finished") return first;
    const updates = [first];
    let bytes = maxWireBytes(first);
    while (updates.length < MAX_BATCH_UPDATES) {
      const u = next();
      if (!u) break;
      const b = maxWireBytes(u);
      if (u.event.case === "finished" || bytes + b > MAX_BATCH_BYTES) {
        held = u;
        break;
      }
      updates.push(u);
      bytes += b;
    }
    return updates.length === 1 ? first : create(WatchRunResponseSchema, { event: { case: "batch", value: { updates } } });
  };

  const pump = () => {
    if (inFlight || done) return;
    const u = take();
    if (!u) return;
    inFlight = true;
    call.write(u, (err) => {
      inFlight = false;
      if (err) stop(false);
      else pump();
    });
    if (u.event.case === "finished") {
      stop(true);
      call.end();
    }
  };

  // No write once the call is ending: grpc-js ends it on 'error' after the write in flight, and a
  // write after that end destroys the stream before its status is sent, so the watcher would wait
  // on an open stream forever (seen when the lead was lost with a write in flight).
  const fail = (err: Error) => {
    if (done) return;
    stop(false);
    call.emit("error", err);
  };
  const unsubscribe = feed.subscribe((u) => {
    backlog.push(u);
    pump();
  }, fail);
  call.once("cancelled", gone);
  call.once("close", gone);
  try {
    const snap = feed.snapshot();
    replay = snap.replay[Symbol.iterator]();
    if (snap.finished) backlog.push(snap.finished);
  } catch (err) {
    stop(false);
    throw err;
  }
  pump();
}
