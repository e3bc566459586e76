// Following a run through dropped streams. A run lives in the coordinator, not in `coord run`: a
// watch that ends before the run finished — a coordinator too busy to answer a keepalive for 10 s
// (5,000 agents reporting at once on 2 cores), a coordinator restarting — is opened again after a
// pause, for as long as `patienceMs` goes by without a message. Each new watch replays the run so
// far; what was passed on already is not passed on twice, so counts and printed lines stay right.
import type { WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";

export interface RewatchOptions {
  runId: string;
  /** How long to keep trying without receiving anything before giving up with the last error. */
  patienceMs: number;
  note(text: string): void;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

/** Pauses between attempts: quick first (a dropped stream), then every few seconds (a restart). */
const BACKOFF_MS = [250, 1_000, 2_000, 5_000];

export const DEFAULT_REWATCH_PATIENCE_MS = 60_000;

/** What makes an update the same one again when a new watch replays the run. */
function updateKey(u: WatchRunResponse): string | undefined {
  const e = u.event;
  if (e.case === "check") return `c\0${e.value.taskId}\0${e.value.result?.checkId ?? ""}`;
  if (e.case === "task") return `t\0${e.value.taskId}\0${e.value.status}\0${e.value.summary}`;
  return undefined;
}

/** The updates one message carries: itself, or a batch's, in order (a batch nests no batch). */
export function unbatched(u: WatchRunResponse): readonly WatchRunResponse[] {
  return u.event.case === "batch" ? u.event.value.updates.filter((inner) => inner.event.case !== "batch") : [u];
}

export async function* rewatch(open: () => AsyncIterable<WatchRunResponse>, o: RewatchOptions): AsyncGenerator<WatchRunResponse> {
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const now = o.now ?? Date.now;
  const seen = new Set<string>();
  let lastHeard = now();
  let attempt = 0;
  for (;;) {
    let lost: FleetgateError;
    try {
      for await (const message of open()) {
        lastHeard = now();
        if (attempt > 0) {
          o.note(`coord: following run ${o.runId} again`);
          attempt = 0;
        }
        for (const u of unbatched(message)) {
          const key = updateKey(u);
          if (key !== undefined) {
            if (seen.has(key)) continue;
            seen.add(key);
          }
          yield u;
          if (u.event.case === "finished") return;
        }
      }
      lost = new FleetgateError("unreachable", `the coordinator ended the watch of run ${o.runId} before the run finished`);
    } catch (err) {
      // Anything but a lost coordinator (no such run, no permission) is an answer, not a drop.
      if (!(err instanceof FleetgateError) || err.code !== "unreachable") throw err;
      lost = err;
    }
    if (now() - lastHeard >= o.patienceMs) throw lost;
    const pause = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)] as number;
    if (attempt === 0) o.note(`coord: lost the watch of run ${o.runId} (${lost.message.split(/[;\n]/)[0]}); following it again for up to ${Math.round(o.patienceMs / 1000)} s…`);
    attempt++;
    await sleep(pause);
  }
}
