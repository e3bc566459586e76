// A cut cable ends no stream: TCP keepalive would take half a minute or more to notice. An agent
// heartbeats every interval, so a stream silent for three of them is dropped, and the node is
// offline from then on (the sequencer's lost timer runs from that moment).
//
// Silence is only silence if the coordinator was listening. A coordinator whose event loop was
// held (a burst of 100,000 results on 2 cores, a starved host) runs its timers before it reads the
// sockets again: every agent's heartbeat of the last seconds sits unread, and every stream would
// be dropped as silent at once — at 5,000 simulated agents, hundreds of healthy nodes went offline
// and then lost in one run. A timer that fires late says the coordinator was away; the agent then
// gets another window of listening, up to MAX_WAIT_WINDOWS windows since it was last heard.

/** How long a stream may stay silent: three heartbeats, 5 s at least so a loaded host's late timer is not a lost node. */
export function silenceLimitMs(heartbeatIntervalMs: number): number {
  return Math.max(3 * heartbeatIntervalMs, 5_000);
}

/** A timer this late (ms) means the coordinator was not reading its sockets meanwhile. */
export const LATE_TIMER_MS = 1_000;
/** However late the coordinator's timers, a stream silent this many windows is dropped. */
export const MAX_WAIT_WINDOWS = 4;

export interface SilenceWatch {
  /** Call on every message from the agent. */
  heard(): void;
  stop(): void;
}

/** Calls `onSilent` with how long nothing was heard, once that passed silenceLimitMs; armed by the first message. */
export function watchSilence(heartbeatIntervalMs: number, onSilent: (silentMs: number) => void, now: () => number = Date.now): SilenceWatch {
  const limit = silenceLimitMs(heartbeatIntervalMs);
  let timer: NodeJS.Timeout | undefined;
  let lastHeard = 0;
  let due = 0;
  const fire = () => {
    const at = now();
    const silent = at - lastHeard;
    if (at - due > LATE_TIMER_MS && silent < MAX_WAIT_WINDOWS * limit) {
      due = at + limit;
      timer = setTimeout(fire, limit);
      return;
    }
    onSilent(silent);
  };
  return {
    heard: () => {
      lastHeard = now();
      due = lastHeard + limit;
      // refresh() restarts the one timer rather than making a new one per message.
      if (timer) timer.refresh();
      else timer = setTimeout(fire, limit);
    },
    stop: () => clearTimeout(timer),
  };
}
