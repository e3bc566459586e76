// A cut cable ends no stream: TCP keepalive would take half a minute or more to notice. An agent
// heartbeats every interval, so a stream silent for three of them is dropped, and the node is
// offline from then on (the sequencer's lost timer runs from that moment).

/** How long a stream may stay silent: three heartbeats, 5 s at least so a loaded host's late timer is not a lost node. */
export function silenceLimitMs(heartbeatIntervalMs: number): number {
  return Math.max(3 * heartbeatIntervalMs, 5_000);
}

export interface SilenceWatch {
  /** Call on every message from the agent. */
  heard(): void;
  stop(): void;
}

/** Calls `onSilent` once nothing was heard for silenceLimitMs; armed by the first message. */
export function watchSilence(heartbeatIntervalMs: number, onSilent: (silentMs: number) => void): SilenceWatch {
  const limit = silenceLimitMs(heartbeatIntervalMs);
  let timer: NodeJS.Timeout | undefined;
  return {
    // refresh() restarts the one timer rather than making a new one per message.
    heard: () => {
      if (timer) timer.refresh();
      else timer = setTimeout(() => onSilent(limit), limit);
    },
    stop: () => clearTimeout(timer),
  };
}
