// One WatchRun stream: the stored run replayed, then live updates, written only as fast as the
// watcher reads (call.write() returning false means wait for 'drain'). The replay comes from the
// store, so it waits without loss; live updates that arrive meanwhile wait in a bounded backlog
// (watch-backlog.ts), which keeps every task's latest status and the run's end.
import type { WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { WatchBacklog } from "./watch-backlog.js";

/** The part of grpc-js's ServerWritableStream a watch uses. */
export interface WatchCall {
  write(update: WatchRunResponse): boolean;
  end(): void;
  once(event: "drain" | "cancelled" | "close", listener: () => void): unknown;
  off(event: "drain" | "cancelled" | "close", listener: () => void): unknown;
}

export interface WatchFeed {
  /** Live updates of the watched run; returns the unsubscribe. */
  subscribe(listener: (update: WatchRunResponse) => void): () => void;
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
  let waiting = false;
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

  const pump = () => {
    while (!waiting && !done) {
      const u = next();
      if (!u) return;
      const more = call.write(u);
      if (u.event.case === "finished") {
        stop(true);
        call.end();
        return;
      }
      if (!more) {
        waiting = true;
        call.once("drain", () => {
          waiting = false;
          pump();
        });
      }
    }
  };

  const unsubscribe = feed.subscribe((u) => {
    backlog.push(u);
    pump();
  });
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
