// A cut cable ends no stream: TCP keepalive would take half a minute or more to notice. An agent
// heartbeats every interval, so a stream silent for three of them is dropped, and the node is
// offline from then on (the sequencer's lost timer runs from that moment).
//
// Silence is only silence if the coordinator was listening. A coordinator whose event loop was
// held (a burst of 100,000 results on 2 cores, a starved host) runs its timers before it reads the
// sockets again: every agent's heartbeat of the last seconds sits unread, and every stream would
// be dropped as silent at once — at 5,000 simulated agents, hundreds of healthy nodes went offline
// and then lost in one run. A timer that fires late says the coordinator was away: the verdict
// waits GRACE_MS, time to read what waits in the sockets, and again while the loop stays held,
// never past a second window.

/** How long a stream may stay silent: three heartbeats, 5 s at least so a loaded host's late timer is not a lost node. */
export function silenceLimitMs(heartbeatIntervalMs: number): number {
  return Math.max(3 * heartbeatIntervalMs, 5_000);
}

/** A timer this late (ms) means the coordinator was not reading its sockets meanwhile. */
const LATE_TIMER_MS = 1_000;
/** How long a late verdict waits for the heartbeats that were waiting unread. */
export const GRACE_MS = 2_000;

export interface SilenceWatch {
  /** Call on every message from the agent. */
  heard(): void;
  stop(): void;
}

/** Calls `onSilent` with how long nothing was heard, once that passed silenceLimitMs; armed by the first message. */
export function watchSilence(heartbeatIntervalMs: number, onSilent: (silentMs: number) => void, now: () => number = Date.now): SilenceWatch {
  const limit = silenceLimitMs(heartbeatIntervalMs);
  let timer: NodeJS.Timeout | undefined;
  let graceTimer = false;
  let lastHeard = 0;
  let due = 0;
  const arm = (ms: number, grace: boolean) => {
    clearTimeout(timer);
    due = now() + ms;
    graceTimer = grace;
    timer = setTimeout(fire, ms);
  };
  const fire = () => {
    const at = now();
    if (at - due > LATE_TIMER_MS && at - lastHeard < 2 * limit) return arm(GRACE_MS, true);
    onSilent(at - lastHeard);
  };
  return {
    heard: () => {
      lastHeard = now();
      due = lastHeard + limit;
      // refresh() restarts the one timer rather than making a new one per message.
      if (timer && !graceTimer) timer.refresh();
      else arm(limit, false);
    },
    stop: () => clearTimeout(timer),
  };
}
