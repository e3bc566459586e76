import { describe, expect, it } from "vitest";
import { ceilingMessage, MEMORY_RESTART_EXIT_CODE, MemoryCeiling, parseMaxMemory } from "../../agent/daemon/memory-ceiling.js";
import { FleetgateError } from "../../shared/errors.js";

const MiB = 2 ** 20;

/** A ceiling over a resident set the test sets, recording what it was told. */
function watched(maxBytes: number) {
  let rss = 100 * MiB;
  const exceeded: number[] = [];
  const ceiling = new MemoryCeiling({ maxBytes, readRss: () => rss, onExceeded: (r) => exceeded.push(r) });
  return { ceiling, exceeded, set: (bytes: number) => (rss = bytes) };
}

describe("the agent's memory ceiling", () => {
  it("does nothing while the agent stays at or under --max-memory", () => {
    const w = watched(512 * MiB);
    expect(w.ceiling.sample()).toBe(false);
    w.set(512 * MiB);
    expect(w.ceiling.sample()).toBe(false);
    expect(w.exceeded).toEqual([]);
  });

  it("asks for the restart once, with the resident set that crossed it, however long it stays above", () => {
    const w = watched(512 * MiB);
    w.set(600 * MiB);
    expect(w.ceiling.sample()).toBe(true);
    w.set(900 * MiB);
    expect(w.ceiling.sample()).toBe(false);
    expect(w.exceeded).toEqual([600 * MiB]);
  });

  it("never fires with --max-memory 0", () => {
    const w = watched(0);
    w.set(64 * 2 ** 30);
    expect(w.ceiling.sample()).toBe(false);
    expect(w.exceeded).toEqual([]);
  });

  it("says in one line what happened and what comes next, with the exit code a supervisor restarts on", () => {
    expect(MEMORY_RESTART_EXIT_CODE).toBe(75);
    expect(ceilingMessage(1.25 * 2 ** 30, 2 ** 30)).toBe(
      "agent memory 1.3 GiB (RSS) is above --max-memory 1 GiB: restarting cleanly — no new task starts, the running one has --stop-grace to finish, " +
        "spooled results are flushed or kept, then exit 75 for the supervisor to start the agent again",
    );
  });
});

describe("--max-memory", () => {
  it("takes a size, or 0 for no ceiling", () => {
    expect(parseMaxMemory("512MiB")).toBe(512 * MiB);
    expect(parseMaxMemory("0")).toBe(0);
  });

  it("refuses a ceiling the agent could never start under (it would restart for ever) and a malformed size", () => {
    for (const [text, message] of [
      ["512", /^--max-memory: 512 B is less than the agent needs to start, and it would restart for ever; give at least 32MiB, or 0 for no ceiling$/],
      ["1 GB ram", /^--max-memory: expected a size like 10GiB/],
    ] as const) {
      let err: unknown;
      try {
        parseMaxMemory(text);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FleetgateError);
      expect((err as FleetgateError).code).toBe("bad_input");
      expect((err as FleetgateError).message).toMatch(message);
    }
  });
});
