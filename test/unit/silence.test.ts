// Dropping a silent stream, and not dropping one because the coordinator itself was not listening.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { MAX_WAIT_WINDOWS, silenceLimitMs, watchSilence } from "../../coordinator/fleet/silence.js";

const HEARTBEAT = 5_000;
const LIMIT = silenceLimitMs(HEARTBEAT);

// The watch reads this clock; fake timers run its setTimeouts.
let clock = 0;
const now = () => clock;

beforeEach(() => {
  clock = 1_000_000;
  vi.useFakeTimers();
});
afterEach(() => vi.useRealTimers());

/** Time passing with the event loop free: timers fire on time. */
function tick(ms: number): void {
  for (let left = ms; left > 0; left -= Math.min(left, 100)) {
    clock += Math.min(left, 100);
    vi.advanceTimersByTime(Math.min(left, 100));
  }
}

/** The event loop held for `ms`: no timer or message gets a turn; then the timer due runs, late. */
function stall(ms: number): void {
  clock += ms;
  vi.advanceTimersToNextTimer();
}

describe("the silence watch of an agent's stream", () => {
  it("drops a stream nothing was heard on for three heartbeats, and not before", () => {
    const silent: number[] = [];
    const w = watchSilence(HEARTBEAT, (ms) => silent.push(ms), now);
    w.heard();
    tick(LIMIT - 1);
    expect(silent).toEqual([]);
    tick(1);
    expect(silent).toEqual([LIMIT]);
  });

  it("keeps a stream that goes on heartbeating", () => {
    const silent: number[] = [];
    const w = watchSilence(HEARTBEAT, (ms) => silent.push(ms), now);
    for (let i = 0; i < 20; i++) {
      w.heard();
      tick(HEARTBEAT);
    }
    expect(silent).toEqual([]);
    w.stop();
  });

  it("gives the agent another window when its timer fired late, the coordinator having been away, and hears it then", () => {
    const silent: number[] = [];
    const w = watchSilence(HEARTBEAT, (ms) => silent.push(ms), now);
    w.heard();
    // Held for 20 s: the heartbeats sent meanwhile are unread; the timer fires 5 s late.
    stall(LIMIT + 5_000);
    expect(silent).toEqual([]);
    // Back to reading: the queued heartbeat arrives, and the stream lives on.
    w.heard();
    tick(LIMIT - 1);
    expect(silent).toEqual([]);
    w.stop();
  });

  it("drops a truly silent stream after the extra window, and at the latest after a few windows however late its timers", () => {
    const silent: number[] = [];
    const w = watchSilence(HEARTBEAT, (ms) => silent.push(ms), now);
    w.heard();
    stall(LIMIT + 5_000);
    expect(silent).toEqual([]);
    tick(LIMIT);
    expect(silent).toHaveLength(1);
    expect(silent[0]).toBeGreaterThan(LIMIT + 5_000);
    expect(silent[0]).toBeLessThanOrEqual(2 * LIMIT + 5_000);

    const late: number[] = [];
    const v = watchSilence(HEARTBEAT, (ms) => late.push(ms), now);
    v.heard();
    for (let i = 0; i < 10 && late.length === 0; i++) stall(LIMIT + 5_000);
    expect(late).toHaveLength(1);
    expect(late[0]).toBeGreaterThanOrEqual(MAX_WAIT_WINDOWS * LIMIT);
    expect(late[0]).toBeLessThanOrEqual((MAX_WAIT_WINDOWS + 1) * (LIMIT + 5_000));
  });
});
