// Following a run: feed each WatchRun update to the view until the run finishes, and handle
// Ctrl-C meanwhile (ask, then cancel the run on the coordinator or detach from it). No I/O of its
// own: the stream, the view, the question and the cancel call are all handed in.
import type { RunSummary, WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import type { Choice } from "./interrupt.js";
import type { ProgressView } from "./progress-writer.js";

/** How following ended: the run finished (its summary; read the whole run with GetRun), or the user detached. */
export type FollowEnd = { kind: "finished"; run: RunSummary } | { kind: "detached" };

export interface FollowDeps {
  runId: string;
  updates: AsyncIterable<WatchRunResponse>;
  view: ProgressView;
  /** Subscribes to Ctrl-C; returns the unsubscribe. */
  interrupts(listener: () => void): () => void;
  /** Ctrl-C was pressed: cancel or detach? Off a terminal this answers detach without asking. */
  decide(abort: AbortSignal): Promise<Choice>;
  /** Cancels the run on the coordinator; returns what to tell the user. */
  cancel(): Promise<string>;
  /** Progress notes and warnings (stderr). */
  note(text: string): void;
}

/**
 * Resolves when the run finishes (with its summary) or the user detaches. After a cancel
 * it keeps following until the coordinator reports the run finished, so the summary shows what
 * was cancelled; one more Ctrl-C then detaches.
 */
export async function followRun(deps: FollowDeps): Promise<FollowEnd> {
  let phase: "following" | "asking" | "cancelling" = "following";
  const asking = new AbortController();
  let detach: (end: FollowEnd) => void = () => {};
  const detached = new Promise<FollowEnd>((resolve) => (detach = resolve));

  const onInterrupt = async () => {
    if (phase === "asking") return; // the question takes its own second Ctrl-C as detach
    if (phase === "cancelling") return detach({ kind: "detached" });
    phase = "asking";
    deps.view.pause();
    const choice = await deps.decide(asking.signal);
    if (asking.signal.aborted) return; // the run finished while we asked
    if (choice === "detach") return detach({ kind: "detached" });
    phase = "cancelling";
    try {
      deps.note(await deps.cancel());
    } catch (err) {
      // A run that finished meanwhile cannot be cancelled; its finished update is on its way.
      deps.note(`coord: ${(err as Error).message}`);
    } finally {
      // Only now: the live block is drawn below what was just said, not under it.
      deps.view.resume();
    }
  };

  const followed = (async (): Promise<FollowEnd> => {
    for await (const u of deps.updates) {
      deps.view.update(u);
      if (u.event.case === "finished") return { kind: "finished", run: u.event.value };
    }
    throw new FleetgateError("unreachable", `the coordinator ended the watch of run ${deps.runId} before the run finished`);
  })();
  // Once detached nobody waits for the stream; its end must not surface as an unhandled rejection.
  followed.catch(() => undefined);

  const unsubscribe = deps.interrupts(() => void onInterrupt());
  try {
    return await Promise.race([followed, detached]);
  } finally {
    asking.abort();
    unsubscribe();
  }
}
