// Dropping a silent stream, and not dropping one because the coordinator itself was not listening.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { GRACE_MS, silenceLimitMs, watchSilence } from "../../coordinator/fleet/silence.js";

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

  it("waits a moment when its timer fired late, the coordinator having been away, and keeps a stream heard meanwhile", () => {
    const silent: number[] = [];
    const w = watchSilence(HEARTBEAT, (ms) => silent.push(ms), now);
    w.heard();
    // Held for 20 s: the heartbeats sent meanwhile are unread; the timer fires 5 s late.
    stall(LIMIT + 5_000);
    expect(silent).toEqual([]);
    // Back to reading: a heartbeat that waited in the socket arrives, and the stream lives on.
    tick(GRACE_MS / 2);
    w.heard();
    tick(LIMIT - 1);
    expect(silent).toEqual([]);
    tick(1);
    expect(silent).toEqual([LIMIT]);
  });

  it("drops a truly silent stream once the moment passed, and however late its timers, within two windows", () => {
    const silent: number[] = [];
    const w = watchSilence(HEARTBEAT, (ms) => silent.push(ms), now);
    w.heard();
    stall(LIMIT + 5_000);
    tick(GRACE_MS - 1);
    expect(silent).toEqual([]);
    tick(1);
    expect(silent).toEqual([LIMIT + 5_000 + GRACE_MS]);

    const late: number[] = [];
    const v = watchSilence(HEARTBEAT, (ms) => late.push(ms), now);
    v.heard();
    // The loop stays held: each grace timer fires late in its turn.
    stall(LIMIT + 5_000);
    for (let i = 0; i < 20 && late.length === 0; i++) stall(5_000);
    expect(late).toHaveLength(1);
    expect(late[0]).toBeGreaterThanOrEqual(2 * LIMIT);
    expect(late[0]).toBeLessThanOrEqual(2 * LIMIT + 5_000);
  });
});
