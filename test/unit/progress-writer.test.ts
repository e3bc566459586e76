import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { LiveView, PlainView } from "../../coordinator/cli/progress-writer.js";
import { WatchRunResponseSchema, type WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status } from "../../shared/model/status.js";

function task(node: string, iteration: number, status: Status, summary = ""): WatchRunResponse {
  return create(WatchRunResponseSchema, { event: { case: "task", value: { taskId: `r1/fleet/${node}/${iteration}`, stageId: "fleet", nodeName: node, iteration, status, summary } } });
}

function failedCheck(node: string, iteration: number): WatchRunResponse {
  return create(WatchRunResponseSchema, {
    event: { case: "check", value: { taskId: `r1/fleet/${node}/${iteration}`, stageId: "fleet", nodeName: node, iteration, result: { checkId: "http", status: Status.FAILED, summary: "saw 503" } } },
  });
}

/** A terminal that records each write, and a clock and timers the test moves by hand. */
function terminal() {
  const writes: string[] = [];
  let now = 0;
  const timers: { at: number; fn: () => void }[] = [];
  const view = new LiveView(
    { write: (t: string) => writes.push(t), columns: 80 },
    {
      now: () => now,
      setTimer: (fn, ms) => {
        const t = { at: now + ms, fn };
        timers.push(t);
        return t;
      },
      clearTimer: (t) => timers.splice(timers.indexOf(t as (typeof timers)[number]), 1),
    },
  );
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers.filter((x) => x.at <= now)) {
      timers.splice(timers.indexOf(t), 1);
      t.fn();
    }
  };
  return { view, writes, advance };
}

// ESC [ n F: cursor up n lines to column 0; ESC [ J: clear to the end of the screen.
const UP = (n: number) => `\x1b[${n}F`;
const CLEAR = "\x1b[J";

describe("LiveView", () => {
  it("redraws the block in place: up over the lines it drew, clear, then the new lines, in one write", () => {
    const { view, writes, advance } = terminal();
    view.update(task("node-a", 1, Status.RUNNING));
    expect(writes).toEqual([]);
    advance(100);
    expect(writes).toEqual([`\r${CLEAR}fleet  node-a  #1/1  .  running  started…\n0/1 tasks done; Ctrl-C to cancel the run or detach from it\n`]);
    advance(100);
    view.update(task("node-a", 1, Status.PASSED));
    expect(writes[1]).toBe(`${UP(2)}${CLEAR}fleet  node-a  1/1  +  passed\n1/1 tasks done; Ctrl-C to cancel the run or detach from it\n`);
  });

  it("draws a burst of updates (a replay) once per 100 ms at most, with the latest state", () => {
    const { view, writes, advance } = terminal();
    for (let i = 1; i <= 50; i++) view.update(task("node-a", i, Status.PENDING));
    advance(99);
    expect(writes).toEqual([]);
    advance(1);
    expect(writes).toHaveLength(1);
    expect(writes[0]).toContain("0/50 tasks done");
    for (let i = 1; i <= 50; i++) view.update(task("node-a", i, Status.PASSED));
    advance(100);
    expect(writes).toHaveLength(2);
    expect(writes[1]).toContain("50/50 tasks done");
  });

  it("keeps a failure above the block, where later redraws do not erase it", () => {
    const { view, writes, advance } = terminal();
    view.update(task("node-a", 1, Status.RUNNING));
    advance(100);
    view.update(failedCheck("node-a", 1));
    advance(100);
    expect(writes[1]).toBe(`${UP(2)}${CLEAR}[fleet] node-a #1  FAIL  http  saw 503\nfleet  node-a  #1/1  .  running  http…\n0/1 tasks done; Ctrl-C to cancel the run or detach from it\n`);
    advance(100);
    view.update(task("node-a", 1, Status.FAILED, "1 of 1 checks failed"));
    // Up over the two block lines only: the kept line stays.
    expect(writes[2]?.startsWith(`${UP(2)}${CLEAR}[fleet] node-a #1  => failed`)).toBe(true);
  });

  it("erases the block while paused (a question is on screen) and draws nothing until resumed", () => {
    const { view, writes, advance } = terminal();
    view.update(task("node-a", 1, Status.RUNNING));
    advance(100);
    view.pause();
    expect(writes[1]).toBe(`${UP(2)}${CLEAR}`);
    advance(500);
    view.update(task("node-a", 1, Status.PASSED));
    advance(500);
    expect(writes).toHaveLength(2);
    view.resume();
    expect(writes[2]).toBe(`\r${CLEAR}fleet  node-a  1/1  +  passed\n1/1 tasks done; Ctrl-C to cancel the run or detach from it\n`);
  });

  it("clears the block on close and draws no more, leaving the screen to the final table", () => {
    const { view, writes, advance } = terminal();
    view.update(task("node-a", 1, Status.RUNNING));
    advance(100);
    view.update(task("node-a", 1, Status.PASSED)); // throttled: a redraw is scheduled
    view.close();
    expect(writes.at(-1)).toBe(`${UP(2)}${CLEAR}`);
    const count = writes.length;
    advance(1000);
    view.resume(); // a cancel note printed after the run ended must not bring the block back
    expect(writes).toHaveLength(count);
  });
});

describe("PlainView", () => {
  it("appends one line per event, and holds lines back while paused", () => {
    const out: string[] = [];
    const view = new PlainView({ write: (t: string) => out.push(t) });
    view.update(task("node-a", 1, Status.RUNNING));
    view.pause();
    view.update(task("node-a", 1, Status.PASSED));
    expect(out).toEqual(["[fleet] node-a #1  started\n"]);
    view.resume();
    expect(out).toEqual(["[fleet] node-a #1  started\n", "[fleet] node-a #1  => passed\n"]);
  });
});
