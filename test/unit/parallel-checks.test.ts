// Checks of a suite run several at a time (agent/engine/ordered-pool.ts), and nothing a reader of
// the results sees may show it: results in declared order, each exactly once, serial: true and
// destructive checks alone, a timeout killing only its own check. Overlap is proved by the
// checks' own start/end lines in a shared log, never by how long anything took.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { defaultConcurrency, parseConcurrency } from "../../agent/engine/concurrency.js";
import { runOrdered } from "../../agent/engine/ordered-pool.js";
import { runSuite, suiteConcurrency } from "../../agent/engine/run-suite.js";
import { Status } from "../../shared/model/status.js";
import { parseSuite } from "../../shared/model/suite.js";

let dir: string;
let log: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "fleetgate-parallel-"));
  log = join(dir, "log");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A check that writes "start ID" and "end ID" to the shared log around a sleep of `secs`. */
const logged = (id: string, secs: number, extra = "") => `
  - id: ${id}${extra}
    command:
      argv: [sh, -c, "echo start ${id} >> ${log}; sleep ${secs}; echo end ${id} >> ${log}"]`;

const lines = () => readFileSync(log, "utf8").trim().split("\n");

/** The most checks the log shows between their start and end at once. */
function mostAtOnce(events: string[]): number {
  let now = 0;
  let most = 0;
  for (const e of events) {
    now += e.startsWith("start ") ? 1 : -1;
    most = Math.max(most, now);
  }
  return most;
}

/** Ids that started while `id` was between its start and end, or were running when it started. */
function overlapping(events: string[], id: string): string[] {
  const running = new Set<string>();
  const seen = new Set<string>();
  for (const e of events) {
    const [what, who] = e.split(" ") as [string, string];
    if (what === "start") {
      if (who === id) for (const r of running) seen.add(r);
      else if (running.has(id)) seen.add(who);
      running.add(who);
    } else running.delete(who);
  }
  return [...seen];
}

async function run(yaml: string, opts: { concurrency?: number; allowDestructive?: boolean } = {}) {
  const reported: CheckResult[] = [];
  const out = await runSuite(parseSuite(yaml, "s.yaml"), { allowDestructive: opts.allowDestructive ?? false, env: {}, concurrency: opts.concurrency, onResult: (r) => void reported.push(r) });
  return { out, reported };
}

describe("checks of a suite run in parallel", () => {
  it("runs four sleeping checks at once with concurrency 4, and says so in their own start/end lines", async () => {
    const { out } = await run(`suite: s\nchecks:${logged("a", 1)}${logged("b", 1)}${logged("c", 1)}${logged("d", 1)}\n`, { concurrency: 4 });
    expect(out.status).toBe(Status.PASSED);
    // Every check started before any ended.
    expect(lines().slice(0, 4).every((l) => l.startsWith("start "))).toBe(true);
    expect(mostAtOnce(lines())).toBe(4);
  });

  it("never runs more than the bound: concurrency 2 of four checks has at most two in flight", async () => {
    await run(`suite: s\nchecks:${logged("a", 0.3)}${logged("b", 0.3)}${logged("c", 0.3)}${logged("d", 0.3)}\n`, { concurrency: 2 });
    expect(mostAtOnce(lines())).toBe(2);
  });

  it("reports results in declared order, each once, when later checks finish first", async () => {
    const { out, reported } = await run(`suite: s\nchecks:${logged("slow", 1.5)}${logged("quick", 0)}\n  - id: fails\n    command: { argv: ["false"] }\n`, { concurrency: 4 });
    // The slow one ended last, and still comes first.
    expect(lines().at(-1)).toBe("end slow");
    expect(reported.map((r) => r.checkId)).toEqual(["slow", "quick", "fails"]);
    expect(out.results.map((r) => [r.checkId, r.status])).toEqual([
      ["slow", Status.PASSED],
      ["quick", Status.PASSED],
      ["fails", Status.FAILED],
    ]);
    expect(out.status).toBe(Status.FAILED);
  });

  it("runs a serial: true check alone, at its place in the order", async () => {
    await run(`suite: s\nchecks:${logged("a", 0.5)}${logged("b", 0.5)}${logged("alone", 0.3, "\n    serial: true")}${logged("c", 0.5)}${logged("d", 0.5)}\n`, { concurrency: 4 });
    const events = lines();
    expect(overlapping(events, "alone")).toEqual([]);
    // The ones before it ended before it started; the ones after started after it ended.
    expect(events.indexOf("start alone")).toBeGreaterThan(Math.max(events.indexOf("end a"), events.indexOf("end b")));
    expect(events.indexOf("end alone")).toBeLessThan(Math.min(events.indexOf("start c"), events.indexOf("start d")));
    expect(mostAtOnce(events)).toBe(2);
  });

  it("runs a destructive check alone when destructive checks are allowed, and skips it without waiting when not", async () => {
    const yaml = `suite: s\nchecks:${logged("a", 0.5)}${logged("restart", 0.3, "\n    destructive: true")}${logged("b", 0.5)}\n`;
    await run(yaml, { concurrency: 4, allowDestructive: true });
    expect(overlapping(lines(), "restart")).toEqual([]);
    rmSync(log);
    const { reported } = await run(yaml, { concurrency: 4 });
    expect(reported.map((r) => [r.checkId, r.status])).toEqual([
      ["a", Status.PASSED],
      ["restart", Status.SKIPPED],
      ["b", Status.PASSED],
    ]);
    expect(mostAtOnce(lines())).toBe(2);
  });

  it("runs a then: follow-up after its own check, inside the check's slot", async () => {
    const { out } = await run(
      `suite: s\nchecks:${logged("a", 0.3)}\n    then:\n      command: { argv: [sh, -c, "echo start a-then >> ${log}; echo end a-then >> ${log}"] }${logged("b", 0.6)}\n`,
      { concurrency: 4 },
    );
    const events = lines();
    expect(events.indexOf("start a-then")).toBeGreaterThan(events.indexOf("end a"));
    expect(out.results.map((r) => [r.checkId, r.status])).toEqual([
      ["a", Status.PASSED],
      ["b", Status.PASSED],
    ]);
  });

  it("finishes every precondition before any check starts, and runs no check when one fails", async () => {
    const yaml = (pre2: string) => `suite: s\npreconditions:${logged("p1", 0.3)}${pre2}\nchecks:${logged("c1", 0)}${logged("c2", 0)}\n`;
    const { out } = await run(yaml(logged("p2", 0.5)), { concurrency: 4 });
    const events = lines();
    expect(Math.min(events.indexOf("start c1"), events.indexOf("start c2"))).toBeGreaterThan(Math.max(events.indexOf("end p1"), events.indexOf("end p2")));
    expect(out.results.map((r) => r.checkId)).toEqual(["p1", "p2", "c1", "c2"]);
    rmSync(log);
    const failing = await run(yaml(`\n  - id: p2\n    command: { argv: ["false"] }`), { concurrency: 4 });
    expect(failing.out.status).toBe(Status.NOT_READY);
    expect(lines()).toEqual(["start p1", "end p1"]);
  });

  it("kills only the timed-out check's process group: the check beside it finishes and passes", async () => {
    const { out } = await run(
      `suite: s\nchecks:
  - id: hangs
    timeout: 300ms
    command: { argv: [sh, -c, "echo start hangs >> ${log}; sleep 30 & wait; echo end hangs >> ${log}"] }${logged("beside", 1)}\n`,
      { concurrency: 2 },
    );
    expect(out.results.map((r) => [r.checkId, r.status])).toEqual([
      ["hangs", Status.FAILED],
      ["beside", Status.PASSED],
    ]);
    expect(out.results[0]!.summary).toContain("timed out after 300 ms; process group killed");
    const events = lines();
    expect(events).toContain("end beside");
    expect(events).not.toContain("end hangs");
    // They did run side by side: the timeout struck while "beside" was running.
    expect(overlapping(events, "beside")).toContain("hangs");
  });

  it("with concurrency 1 runs each check only after the one before it is reported, as before", async () => {
    const order: string[] = [];
    const suite = parseSuite(`suite: s\nchecks:${logged("a", 0.2)}${logged("b", 0)}${logged("c", 0)}\n`, "s.yaml");
    await runSuite(suite, { allowDestructive: false, env: {}, concurrency: 1, onResult: (r) => void order.push(`reported ${r.checkId}`) });
    expect(lines()).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
    expect(order).toEqual(["reported a", "reported b", "reported c"]);
  });

  it("starts no further check once stopped, and reports every started one, in order, never one twice", async () => {
    let stop = false;
    const reported: string[] = [];
    const suite = parseSuite(`suite: s\nchecks:${logged("a", 0.4)}${logged("b", 0.9)}${logged("c", 0)}${logged("d", 0)}\n`, "s.yaml");
    const out = await runSuite(suite, {
      allowDestructive: false,
      env: {},
      concurrency: 2,
      stopped: () => stop,
      // Stopped (a cancel) the moment the first result is out, while b still runs.
      onResult: (r) => {
        reported.push(r.checkId);
        stop = true;
      },
    });
    // a and b start together, so either may write its start line first (a loaded CI host wrote b
    // first); which started is the point, and that nothing else did. Reports keep declared order.
    const started = lines().filter((l) => l.startsWith("start ")).map((l) => l.slice(6));
    expect(started.sort()).toEqual(["a", "b"]);
    expect(reported).toEqual(["a", "b"]);
    expect(out.results.map((r) => [r.checkId, r.status])).toEqual([
      ["a", Status.PASSED],
      ["b", Status.PASSED],
    ]);
  });
});

describe("the pool behind it", () => {
  it("hands results on in declared order whatever order they finish in", async () => {
    const delivered: number[] = [];
    const delays = [50, 0, 30, 0, 10];
    await runOrdered(delays.map((d, i) => [i, d] as const), {
      limit: 5,
      alone: () => false,
      run: ([i, d]) => new Promise<number>((r) => setTimeout(() => r(i), d)),
      deliver: (i) => void delivered.push(i),
    });
    expect(delivered).toEqual([0, 1, 2, 3, 4]);
  });

  it("throws the agent's own error once those in flight are done, delivering only what came before it", async () => {
    const delivered: number[] = [];
    const settled: number[] = [];
    const pool = runOrdered([0, 1, 2, 3], {
      limit: 2,
      alone: () => false,
      run: async (i) => {
        await new Promise((r) => setTimeout(r, i === 0 ? 40 : 5));
        settled.push(i);
        if (i === 1) throw new Error("observer broke");
        return i;
      },
      deliver: (i) => void delivered.push(i),
    });
    await expect(pool).rejects.toThrow("observer broke");
    expect(delivered).toEqual([0]);
    // 2 started in 1's slot before 1 broke was seen, or not at all; nothing started after.
    expect(settled).not.toContain(3);
  });
});

describe("a hand-over that breaks", () => {
  it("stops the pool only once the items in flight are done, so none runs on behind the caller", async () => {
    const settled: number[] = [];
    const pool = runOrdered([0, 1, 2], {
      limit: 3,
      alone: () => false,
      run: async (i) => {
        await new Promise((r) => setTimeout(r, i === 0 ? 0 : 30));
        settled.push(i);
        return i;
      },
      deliver: (i) => {
        if (i === 0) throw new Error("spool unwritable");
      },
    });
    await expect(pool).rejects.toThrow("spool unwritable");
    expect(settled.sort()).toEqual([0, 1, 2]);
  });
});

describe("the pool, over any mix of durations, serial items, bounds and a stop", () => {
  it("delivers every started item exactly once, in order, a prefix of the list; never more than the bound at once; a serial item alone", async () => {
    const item = fc.record({ ms: fc.integer({ min: 0, max: 4 }), serial: fc.boolean() });
    await fc.assert(
      fc.asyncProperty(fc.array(item, { maxLength: 12 }), fc.integer({ min: 1, max: 5 }), fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }), async (items, limit, stopAfter) => {
        const started: number[] = [];
        const delivered: number[] = [];
        const running = new Set<number>();
        let most = 0;
        let serialShared = false;
        await runOrdered(
          items.map((it, i) => ({ ...it, i })),
          {
            limit,
            alone: (it) => it.serial,
            // A stop (a cancel) once `stopAfter` results are out.
            stopped: () => stopAfter !== undefined && delivered.length >= stopAfter,
            run: async (it) => {
              started.push(it.i);
              running.add(it.i);
              most = Math.max(most, running.size);
              if (running.size > 1 && [...running].some((r) => items[r]?.serial)) serialShared = true;
              await new Promise((r) => setTimeout(r, it.ms));
              running.delete(it.i);
              return it.i;
            },
            deliver: (i) => void delivered.push(i),
          },
        );
        expect(started).toEqual(started.map((_, k) => k));
        expect(delivered).toEqual(started);
        expect(most).toBeLessThanOrEqual(limit);
        expect(serialShared).toBe(false);
        if (stopAfter === undefined) expect(delivered.length).toBe(items.length);
      }),
      { numRuns: 60 },
    );
  });
});

describe("how many run at once", () => {
  it("is the lower of the agent's bound and the suite's concurrency:", () => {
    const suite = (c?: number) => parseSuite(`suite: s\n${c ? `concurrency: ${c}\n` : ""}checks:\n  - id: a\n    command: { argv: ["true"] }\n`, "s.yaml");
    expect(suiteConcurrency(suite(2), 8)).toBe(2);
    expect(suiteConcurrency(suite(16), 4)).toBe(4);
    expect(suiteConcurrency(suite(), 3)).toBe(3);
    expect(suiteConcurrency(suite(), undefined)).toBe(defaultConcurrency());
  });

  it("defaults to twice the cores, at most 8", () => {
    expect([1, 2, 3, 4, 64].map((cores) => defaultConcurrency(cores))).toEqual([2, 4, 6, 8, 8]);
  });

  it("takes a whole number from 1 to 64 and refuses anything else, saying what it takes", () => {
    expect(parseConcurrency("4")).toBe(4);
    expect(parseConcurrency(1)).toBe(1);
    for (const bad of ["0", "65", "2.5", "four", "", "-1"]) expect(() => parseConcurrency(bad)).toThrow(/^expected a whole number of checks from 1 to 64/);
  });
});
