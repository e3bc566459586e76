import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { compactJournal, onTaskReceived, parseJournal, TaskJournal } from "../../agent/daemon/task-journal.js";

const T0 = "2026-03-01T10:00:00.000Z";
const T1 = "2026-03-01T10:00:05.000Z";
const line = (o: object) => `${JSON.stringify(o)}\n`;

describe("the task journal's text", () => {
  it("folds started and finished lines into one entry per task, in the order tasks started", () => {
    const text = line({ started: "r/s/n/1", at: T0 }) + line({ started: "r/s/n/2", at: T1 }) + line({ finished: "r/s/n/1", at: T1 });
    expect([...parseJournal(text)]).toEqual([
      ["r/s/n/1", { startedAt: T0, finishedAt: T1 }],
      ["r/s/n/2", { startedAt: T1 }],
    ]);
  });

  it("skips a line torn by a crash mid-write and lines that are not journal lines", () => {
    const text = line({ started: "a", at: T0 }) + '{"finished":"a","a' + "\n" + line({ started: 7, at: T0 }) + line({ other: "b", at: T0 }) + "\n";
    expect([...parseJournal(text)]).toEqual([["a", { startedAt: T0 }]]);
  });

  it("keeps the newest finished and the newest unfinished tasks when compacted, each kind bounded", () => {
    const entries = parseJournal(
      ["f1", "u1", "f2", "u2", "f3"]
        .map((id) => line({ started: id, at: T0 }) + (id.startsWith("f") ? line({ finished: id, at: T1 }) : ""))
        .join(""),
    );
    const compacted = parseJournal(compactJournal(entries, 2));
    expect([...compacted.keys()]).toEqual(["u1", "f2", "u2", "f3"]);
    expect(compacted.get("f3")).toEqual({ startedAt: T0, finishedAt: T1 });
    expect(compacted.get("u2")).toEqual({ startedAt: T0 });
  });
});

describe("what a restarted agent concludes about a task the coordinator sends", () => {
  it("runs a task it has never started", () => {
    expect(onTaskReceived(undefined, false)).toEqual({ action: "run" });
  });

  it("reports a task started and never finished interrupted, with when it started, and never runs it", () => {
    const r = onTaskReceived({ startedAt: T0 }, false);
    expect(r).toEqual({
      action: "interrupted",
      summary: `the agent stopped during this task (started ${T0}); its checks were not run again — a destructive check is never re-run implicitly; run the stage again to re-check`,
    });
  });

  it("ignores a repeat whose done event is still spooled, whether or not the journal recorded its end", () => {
    expect(onTaskReceived({ startedAt: T0, finishedAt: T1 }, true).action).toBe("repeat");
    expect(onTaskReceived({ startedAt: T0 }, true).action).toBe("repeat");
  });

  it("reports a finished task whose result is neither spooled nor delivered as interrupted, so the run cannot wait for it for ever", () => {
    expect(onTaskReceived({ startedAt: T0, finishedAt: T1 }, false)).toEqual({
      action: "interrupted",
      summary: `the agent finished this task (at ${T1}) but its result was lost before delivery; its checks were not run again — run the stage again to re-check`,
    });
  });
});

describe("the task journal on disk", () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("tells a reopened journal which task was cut short, and resumes appending after a torn last line", () => {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-journal-"));
    const first = TaskJournal.open(dir);
    first.started("run/stage/node/1", new Date(T0));
    first.finished("run/stage/node/1", new Date(T1));
    first.started("run/stage/node/2", new Date(T1));
    // The agent dies while writing its next line.
    appendFileSync(first.file, '{"started":"run/st');

    const second = TaskJournal.open(dir);
    expect(onTaskReceived(second.entry("run/stage/node/1"), true).action).toBe("repeat");
    expect(onTaskReceived(second.entry("run/stage/node/2"), false)).toMatchObject({ action: "interrupted" });
    expect(onTaskReceived(second.entry("run/stage/node/3"), false).action).toBe("run");
    second.finished("run/stage/node/2", new Date(T1));
    expect(TaskJournal.open(dir).entry("run/stage/node/2")?.finishedAt).toEqual(expect.any(String));
    expect(readFileSync(first.file, "utf8").split("\n").filter(Boolean).every((l) => JSON.parse(l))).toBe(true);
  });

  it("stays bounded however many tasks run", () => {
    dir = mkdtempSync(join(tmpdir(), "fleetgate-journal-"));
    const journal = TaskJournal.open(dir, 5);
    for (let i = 1; i <= 40; i++) {
      journal.started(`t${i}`);
      journal.finished(`t${i}`);
    }
    journal.started("t41");
    const lines = readFileSync(journal.file, "utf8").split("\n").filter(Boolean);
    // Rewritten once it holds what compaction keeps (5 finished tasks, two lines each) plus 2 × 5 lines.
    expect(lines.length).toBeLessThanOrEqual(5 * 2 + 2 * 5 + 1);
    expect(journal.entry("t41")).toEqual({ startedAt: expect.any(String) });
    expect(journal.entry("t40")?.finishedAt).toEqual(expect.any(String));
    expect(journal.entry("t1")).toBeUndefined();
    const reopened = TaskJournal.open(dir, 5);
    expect(reopened.entry("t41")?.finishedAt).toBeUndefined();
    expect(readFileSync(reopened.file, "utf8").split("\n").filter(Boolean)).toHaveLength(5 * 2 + 1);
  });
});
