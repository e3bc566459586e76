// The scheduler's time, injected: tests fire schedules by moving a fake clock, never by sleeping.
export interface Timer {
  cancel(): void;
}

export interface SchedulerClock {
  now(): number;
  /** Calls `fn` once, `ms` from now (by this clock). */
  after(ms: number, fn: () => void): Timer;
}

// setTimeout takes at most 2^31-1 ms (24.8 days); longer waits are taken in steps.
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** Wall-clock time; `offsetMs` shifts what "now" is (the e2e test hook, never set in production). */
export function realClock(offsetMs = 0): SchedulerClock {
  const now = () => Date.now() + offsetMs;
  return {
    now,
    after(ms, fn) {
      let handle: NodeJS.Timeout;
      const due = now() + ms;
      const arm = () => {
        const left = due - now();
        handle = setTimeout(left > MAX_TIMEOUT_MS ? arm : fn, Math.min(Math.max(left, 0), MAX_TIMEOUT_MS));
        handle.unref();
      };
      arm();
      return { cancel: () => clearTimeout(handle) };
    },
  };
}

/**
 * FLEETGATE_TEST_SCHEDULE_NOW=ISO-TIME: the scheduler's clock starts at that time and runs on from
 * there, so an e2e test can put a real `coord serve` two seconds before a cron's time. Undocumented
 * on purpose; the fire itself goes through the production path (croner, then StartRun's).
 */
export function clockFromEnv(env: NodeJS.ProcessEnv): SchedulerClock {
  const start = env.FLEETGATE_TEST_SCHEDULE_NOW ? Date.parse(env.FLEETGATE_TEST_SCHEDULE_NOW) : NaN;
  return realClock(Number.isNaN(start) ? 0 : start - Date.now());
}
