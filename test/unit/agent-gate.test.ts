// The agent stream's gate before admission: streams waiting for a hello, hellos a minute by address
// and by node name (refused with a retry hint), and events a minute by node (slowed, never refused).
import { describe, expect, it } from "vitest";
import { AGENT_GATE_LIMITS, AgentGate, type AgentGateLimits } from "../../coordinator/fleet/agent-gate.js";
import { RateBuckets } from "../../coordinator/fleet/rate-buckets.js";
import { FleetgateError } from "../../shared/errors.js";
import { refusal } from "../support/refusal.js";

const T0 = 1_732_514_400_000;

function gate(limits: Partial<AgentGateLimits>, clock = { now: T0 }) {
  return { gate: new AgentGate({ ...AGENT_GATE_LIMITS, ...limits }, () => clock.now), clock };
}

describe("RateBuckets", () => {
  it("lets a burst through, then one token per 60000/perMinute ms, and says how long to wait", () => {
    const b = new RateBuckets({ perMinute: 6, burst: 2 }, 100);
    expect([b.take("a", T0), b.take("a", T0)]).toEqual([0, 0]);
    expect(b.take("a", T0)).toBe(10_000);
    expect(b.take("a", T0 + 4_000)).toBe(6_000);
    expect(b.take("a", T0 + 10_000)).toBe(0);
    // Another key has its own bucket.
    expect(b.take("b", T0)).toBe(0);
  });

  it("goes into debt on spend and asks for the time the debt takes to pay", () => {
    const b = new RateBuckets({ perMinute: 60, burst: 1 }, 100);
    expect(b.spend("n", T0)).toBe(0);
    expect(b.spend("n", T0)).toBe(1_000);
    expect(b.spend("n", T0)).toBe(2_000);
    expect(b.spend("n", T0 + 2_000)).toBe(1_000);
  });

  it("tracks at most maxKeys keys, forgetting the least recently used", () => {
    const b = new RateBuckets({ perMinute: 1 }, 3);
    for (const k of ["a", "b", "c"]) b.take(k, T0);
    b.take("a", T0); // a is used again: b is now the oldest
    b.take("d", T0);
    expect(b.size).toBe(3);
    expect(b.take("b", T0)).toBe(0); // forgotten, so a full bucket again
    expect(b.take("a", T0)).toBeGreaterThan(0);
  });
});

describe("AgentGate", () => {
  it("refuses a stream once too many from one address wait for their hello, and takes one again when a place frees", () => {
    const { gate: g } = gate({ pendingPerAddress: 2, pendingTotal: 10 });
    const first = g.streamOpened("10.0.0.5");
    g.streamOpened("10.0.0.5");
    const err = refusal(() => g.streamOpened("10.0.0.5"));
    expect(err.code).toBe("exhausted");
    expect(err.message).toBe("too many streams from 10.0.0.5 waiting to say hello (limit 2); an agent says hello as soon as it connects, so retry in a moment");
    expect(err.retryAfterMs).toBe(1_000);
    // Another address is not affected; a released place (twice is harmless) takes a stream again.
    g.streamOpened("10.0.0.6");
    first();
    first();
    expect(g.pending).toBe(2);
    g.streamOpened("10.0.0.5");
  });

  it("refuses a stream beyond the total of waiting streams, from any address", () => {
    const { gate: g } = gate({ pendingPerAddress: 5, pendingTotal: 2 });
    g.streamOpened("10.0.0.1");
    g.streamOpened("10.0.0.2");
    expect(refusal(() => g.streamOpened("10.0.0.3")).message).toMatch(/^too many streams in all waiting to say hello \(limit 2\)/);
  });

  it("refuses hellos naming one node beyond its rate with a retry hint, without using up the address's", () => {
    const { gate: g, clock } = gate({ hellosPerMinutePerNode: 2, hellosPerMinutePerAddress: 100 });
    g.hello("10.0.0.5", "node-a");
    g.hello("10.0.0.6", "node-a");
    const err = refusal(() => g.hello("10.0.0.5", "node-a"));
    expect(err.code).toBe("exhausted");
    expect(err.retryAfterMs).toBe(30_000);
    expect(err.message).toBe("too many hellos naming node node-a (more than 2 a minute: two hosts configured with one name, or an agent restarting in a loop?); retry in 30 s");
    g.hello("10.0.0.5", "node-b");
    clock.now += 30_000;
    g.hello("10.0.0.5", "node-a");
  });

  it("refuses hellos from one address beyond its rate, whatever names they carry", () => {
    const { gate: g } = gate({ hellosPerMinutePerNode: 100, hellosPerMinutePerAddress: 3 });
    for (const n of ["a", "b", "c"]) g.hello("10.0.0.5", n);
    const err = refusal(() => g.hello("10.0.0.5", "d"));
    expect(err.message).toBe("too many hellos from 10.0.0.5 (more than 3 a minute); retry in 20 s");
    expect(err).toBeInstanceOf(FleetgateError);
    g.hello("10.0.0.9", "d");
  });

  it("takes every event, slowing a node beyond its rate and burst instead of refusing", () => {
    const { gate: g, clock } = gate({ eventsPerMinutePerNode: 600, eventBurstPerNode: 3 });
    const waits = Array.from({ length: 6 }, () => g.eventPause("node-a"));
    expect(waits).toEqual([0, 0, 0, 100, 200, 300]);
    expect(g.eventPause("node-b")).toBe(0);
    clock.now += 1_000;
    expect(g.eventPause("node-a")).toBe(0);
  });
});
