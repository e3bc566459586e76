// The fleet decides when a node is lost: away (disconnected, or never seen since this coordinator
// started) for lostAfterMs. Fake timers stand in for the clock; the sessions are in-process.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { AgentSessions, type AgentSession } from "../../coordinator/fleet/sessions.js";

const session = (node: string): AgentSession => ({ node, machineId: "m", address: "127.0.0.1", send: () => {}, cancel: () => {}, close: () => {} });

describe("AgentSessions liveness", () => {
  let fleet: AgentSessions;
  let lost: [string, string][];

  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
    fleet = new AgentSessions(30_000);
    lost = [];
    fleet.on("lost", (node, why) => lost.push([node, why]));
  });
  afterEach(() => {
    fleet.closeAll("test over");
    vi.useRealTimers();
  });

  it("declares a node lost once it has been disconnected for lostAfterMs, not a moment before", () => {
    const s = session("n1");
    fleet.add(s);
    fleet.remove(s);
    vi.advanceTimersByTime(29_999);
    expect(lost).toEqual([]);
    expect(fleet.awaitNode("n1")).toBe("offline");
    vi.advanceTimersByTime(1);
    expect(lost).toEqual([["n1", "node n1 lost: not heard from for 30 s"]]);
    expect(fleet.awaitNode("n1")).toBe("lost");
  });

  it("forgets the verdict when the node reconnects in time", () => {
    const s = session("n1");
    fleet.add(s);
    fleet.remove(s);
    vi.advanceTimersByTime(20_000);
    fleet.add(session("n1"));
    vi.advanceTimersByTime(60_000);
    expect(lost).toEqual([]);
    expect(fleet.lostReason("n1")).toBeUndefined();
    expect(fleet.awaitNode("n1")).toBe("online");
  });

  it("counts a cut link from when the node was last heard, not from when its silent stream was dropped", () => {
    const s = session("n1");
    fleet.add(s);
    fleet.heard("n1");
    vi.advanceTimersByTime(15_000); // three missed heartbeats: the stream is dropped now
    fleet.remove(s);
    vi.advanceTimersByTime(14_999);
    expect(lost).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(lost).toEqual([["n1", "node n1 lost: not heard from for 30 s"]]);
  });

  it("declares a node that keeps reconnecting without delivering lost, and one that delivers in between not", () => {
    for (let i = 0; i < 9; i++) {
      const s = session("n1");
      fleet.add(s);
      vi.advanceTimersByTime(1_000);
      fleet.remove(s);
    }
    fleet.delivered("n1");
    fleet.add(session("n1"));
    expect(lost).toEqual([]);
    for (let i = 0; i < 9; i++) {
      fleet.add(session("n1"));
      vi.advanceTimersByTime(1_000);
    }
    expect(lost).toEqual([["n1", "node n1 lost: connected 10 times in 8.0 s without delivering a result"]]);
  });

  it("starts the clock of a node never seen since start when work first waits for it", () => {
    vi.advanceTimersByTime(120_000);
    expect(fleet.awaitNode("n2")).toBe("offline");
    vi.advanceTimersByTime(30_000);
    expect(lost).toEqual([["n2", "node n2 lost: not heard from for 30 s"]]);
  });
});
