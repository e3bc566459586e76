// The fleet decides when a node is lost: away (disconnected, or never seen since this coordinator
// started) for lostAfterMs. Fake timers stand in for the clock; the sessions are in-process.
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { guardedSink, type LivenessEvent } from "../../coordinator/fleet/liveness-events.js";
import { AgentSessions, REPLACED, type AgentSession } from "../../coordinator/fleet/sessions.js";

const session = (node: string, bootId = "boot"): AgentSession => ({ node, machineId: "m", bootId, address: "127.0.0.1", send: () => {}, cancel: () => {}, close: () => {} });

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
    fleet.remove(s, "the agent ended its stream");
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
    fleet.remove(s, "the agent ended its stream");
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
    fleet.remove(s, "the agent ended its stream");
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
      fleet.remove(s, "the agent ended its stream");
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

  it("reports a clone when another boot answers as a node heard from a moment ago, but not a reconnect or a reboot", () => {
    const clones: string[] = [];
    const fleet2 = new AgentSessions(30_000, () => {}, 7_500);
    fleet2.on("cloned", (node, why) => clones.push(`${node}: ${why}`));
    fleet2.add(session("n1", "boot-aaaaaaaa"));
    vi.advanceTimersByTime(2_000);
    fleet2.heard("n1");
    fleet2.add(session("n1", "boot-aaaaaaaa")); // the same agent reconnecting: same kernel
    expect(clones).toEqual([]);
    vi.advanceTimersByTime(10_000); // silent for longer than the window: a reboot
    fleet2.add(session("n1", "boot-bbbbbbbb"));
    expect(clones).toEqual([]);
    vi.advanceTimersByTime(1_000);
    fleet2.heard("n1");
    fleet2.add(session("n1", "boot-cccccccc")); // heard 0 s ago, another kernel: two machines
    expect(clones).toEqual(["n1: two machines answered as node n1 at once: boot boot-bbb from 127.0.0.1 and boot boot-ccc from 127.0.0.1 (a cloned image or a copied state dir)"]);
    expect(fleet2.cloneOf("n1")).toContain("two machines answered as node n1 at once");
    // A fork in the node's event numbers says the same; each reason is reported once.
    fleet2.markCloned("n1", "event 7 was numbered by two boots");
    fleet2.markCloned("n1", "event 7 was numbered by two boots");
    expect(clones).toHaveLength(2);
    fleet2.closeAll("test over");
  });

  it("reports a clone when another agent process on the same boot answers while the first is heard, but not the same process reconnecting", () => {
    const clones: string[] = [];
    const fleet2 = new AgentSessions(30_000, () => {}, 7_500);
    fleet2.on("cloned", (node, why) => clones.push(`${node}: ${why}`));
    const process = (instance: string) => ({ ...session("n1", "boot-aaaaaaaa"), instance });
    fleet2.add(process("agent-1"));
    vi.advanceTimersByTime(1_000);
    fleet2.heard("n1");
    fleet2.add(process("agent-1")); // the same process on a new stream
    expect(clones).toEqual([]);
    vi.advanceTimersByTime(10_000); // the first agent stopped being heard: a restart, not a copy
    fleet2.add(process("agent-2"));
    expect(clones).toEqual([]);
    fleet2.heard("n1");
    fleet2.add(process("agent-3")); // agent-2 heard just now: a second agent on a copied state dir
    expect(clones).toEqual(["n1: two agent processes answered as node n1 at once from boot boot-aaa (127.0.0.1 and 127.0.0.1): a copied state dir on one machine"]);
    fleet2.closeAll("test over");
  });

  it("starts the clock of a node never seen since start when work first waits for it", () => {
    vi.advanceTimersByTime(120_000);
    expect(fleet.awaitNode("n2")).toBe("offline");
    vi.advanceTimersByTime(30_000);
    expect(lost).toEqual([["n2", "node n2 lost: not heard from for 30 s"]]);
  });
});

describe("AgentSessions liveness timeline", () => {
  const T0 = 1_000_000;
  let fleet: AgentSessions;
  let recorded: LivenessEvent[];
  const at = (ms: number) => T0 + ms;

  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
    recorded = [];
    fleet = new AgentSessions(30_000, (e) => recorded.push(e));
  });
  afterEach(() => {
    fleet.closeAll("test over");
    vi.useRealTimers();
  });

  it("records the connection, the dropped stream with why, and the lost verdict, in order, with the address", () => {
    const s = { ...session("n1"), address: "10.0.0.7" };
    fleet.add(s);
    vi.advanceTimersByTime(5_000);
    fleet.heard("n1");
    vi.advanceTimersByTime(15_000);
    fleet.remove(s, "silent for 15000 ms (3 heartbeats)");
    vi.advanceTimersByTime(15_000);
    expect(recorded).toEqual([
      { node: "n1", at: at(0), kind: "connected", why: "", address: "10.0.0.7" },
      { node: "n1", at: at(20_000), kind: "disconnected", why: "silent for 15000 ms (3 heartbeats)", address: "10.0.0.7" },
      // Lost 30 s after it was last heard (at 5 s), at the address it was last seen at.
      { node: "n1", at: at(35_000), kind: "lost", why: "node n1 lost: not heard from for 30 s", address: "10.0.0.7" },
    ]);
  });

  it("records a replaced stream's end once, before the new connection, with each stream's address", () => {
    const first = { ...session("n1"), address: "10.0.0.7" };
    // As agent-service does: closing a stream ends it, and its end removes it.
    first.close = (why) => fleet.remove(first, why);
    fleet.add(first);
    vi.advanceTimersByTime(1_000);
    fleet.add({ ...session("n1"), address: "10.0.0.8" });
    expect(recorded.map((e) => [e.kind, e.why, e.address, e.at])).toEqual([
      ["connected", "", "10.0.0.7", at(0)],
      ["disconnected", REPLACED, "10.0.0.7", at(1_000)],
      ["connected", "", "10.0.0.8", at(1_000)],
    ]);
    expect(fleet.isOnline("n1")).toBe(true);
  });

  it("records the lost verdict of a node that keeps reconnecting without delivering, while it is connected", () => {
    for (let i = 0; i < 10; i++) {
      const s = session("n1");
      fleet.add(s);
      vi.advanceTimersByTime(500);
      if (i < 9) fleet.remove(s, "the agent ended its stream");
    }
    const kinds = recorded.map((e) => e.kind);
    expect(kinds.filter((k) => k === "connected")).toHaveLength(10);
    expect(kinds.slice(-2)).toEqual(["connected", "lost"]);
    expect(recorded.at(-1)).toMatchObject({ kind: "lost", at: at(4_500), why: "node n1 lost: connected 10 times in 4.5 s without delivering a result" });
  });

  it("records a refusal with who asked and why, and changes nothing about the node's liveness", () => {
    const s = session("n1");
    fleet.add(s);
    fleet.refused("n1", "10.9.9.9", "node n1 is already registered (machine-id 111111111111, host a); an enrollment token cannot take over a registered node");
    expect(fleet.isOnline("n1")).toBe(true);
    expect(recorded[1]).toEqual({ node: "n1", at: at(0), kind: "refused", why: expect.stringContaining("already registered") as string, address: "10.9.9.9" });
  });

  it("keeps the fleet working when the sink cannot write (a full disk): the failure is logged with the event", () => {
    const lines: Record<string, unknown>[] = [];
    const log = pino({ level: "info" }, { write: (l: string) => lines.push(JSON.parse(l) as Record<string, unknown>) });
    const full = new AgentSessions(30_000, guardedSink(() => {
      throw new Error("SQLITE_FULL: database or disk is full");
    }, log));
    const lost: string[] = [];
    full.on("lost", (node) => lost.push(node));
    const s = session("n1");
    full.add(s);
    expect(full.isOnline("n1")).toBe(true);
    full.remove(s, "the agent ended its stream");
    vi.advanceTimersByTime(30_000);
    expect(lost).toEqual(["n1"]);
    expect(lines.map((l) => [l.level, l.node, (l.event as LivenessEvent).kind, (l.err as { message: string }).message])).toEqual([
      [40, "n1", "connected", "SQLITE_FULL: database or disk is full"],
      [40, "n1", "disconnected", "SQLITE_FULL: database or disk is full"],
      [40, "n1", "lost", "SQLITE_FULL: database or disk is full"],
    ]);
  });
});
