// A WatchRun stream whose watcher reads slowly holds bounded memory (issue 16): each task's latest
// status, check updates up to a byte budget, and the run's end, which always arrives last; the
// replay from the store waits for the watcher without loss.
import { create } from "@bufbuild/protobuf";
import { EventEmitter } from "node:events";
import { describe, expect, it } from "vitest";
import { WatchRunResponseSchema, type WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status } from "../../shared/model/status.js";
import { checkUpdateBytes, WatchBacklog } from "../../coordinator/server/watch-backlog.js";
import { streamWatch, type WatchCall, type WatchEnd } from "../../coordinator/server/watch-stream.js";

const check = (taskId: string, checkId: string, output = ""): WatchRunResponse =>
  create(WatchRunResponseSchema, { event: { case: "check", value: { taskId, nodeName: taskId, stageId: "fleet", iteration: 1, result: { checkId, status: Status.PASSED, stdoutTail: output } } } });
const task = (taskId: string, status: Status): WatchRunResponse => create(WatchRunResponseSchema, { event: { case: "task", value: { taskId, stageId: "fleet", nodeName: taskId, iteration: 1, status } } });
const finished = (): WatchRunResponse => create(WatchRunResponseSchema, { event: { case: "finished", value: { runId: "r1", status: Status.PASSED } } });

const label = (u: WatchRunResponse): string =>
  u.event.case === "check" ? `check ${u.event.value.taskId}/${u.event.value.result?.checkId}` : u.event.case === "task" ? `task ${u.event.value.taskId} ${Status[u.event.value.status]}` : String(u.event.case);

function drainAll(b: WatchBacklog): string[] {
  const out: string[] = [];
  for (let u = b.shift(); u; u = b.shift()) out.push(label(u));
  return out;
}

describe("the backlog of a slow watcher", () => {
  it("keeps every update, in order, while it is within its budget", () => {
    const b = new WatchBacklog();
    for (const u of [task("t1", Status.RUNNING), check("t1", "a"), check("t1", "b"), task("t2", Status.RUNNING)]) b.push(u);
    expect(drainAll(b)).toEqual(["task t1 RUNNING", "check t1/a", "check t1/b", "task t2 RUNNING"]);
  });

  it("keeps only a task's latest status, after the checks queued before it", () => {
    const b = new WatchBacklog();
    for (const u of [task("t1", Status.RUNNING), task("t2", Status.RUNNING), check("t1", "a"), task("t1", Status.PASSED)]) b.push(u);
    expect(drainAll(b)).toEqual(["task t2 RUNNING", "check t1/a", "task t1 PASSED"]);
    expect(b.superseded).toBe(1);
  });

  it("drops check updates past its byte budget and counts them, but never a task's status or the end", () => {
    const big = "x".repeat(10_000);
    const b = new WatchBacklog(3 * checkUpdateBytes(check("t1", "c0", big).event.value as never));
    b.push(task("t1", Status.RUNNING));
    for (let i = 0; i < 10; i++) b.push(check("t1", `c${i}`, big));
    b.push(task("t1", Status.PASSED));
    b.push(finished());
    expect(b.dropped).toBe(7);
    // RUNNING was replaced by PASSED while it waited.
    expect(drainAll(b)).toEqual(["check t1/c0", "check t1/c1", "check t1/c2", "task t1 PASSED", "finished"]);
  });

  it("gives the end last, once, and takes nothing after it", () => {
    const b = new WatchBacklog();
    b.push(finished());
    b.push(task("t1", Status.PASSED));
    expect(drainAll(b)).toEqual(["finished"]);
    b.push(task("t2", Status.PASSED));
    expect(b.shift()).toBeUndefined();
  });

  it("holds at most about one entry per task however many updates a never-read watcher is sent", () => {
    const b = new WatchBacklog(64 * 1024);
    const tasks = 500;
    let mostHeld = 0;
    // 50 rounds of every task changing status, each with 20 check results: 500,000 checks.
    for (let round = 0; round < 50; round++) {
      for (let t = 0; t < tasks; t++) {
        for (let c = 0; c < 20; c++) b.push(check(`t${t}`, `c${c}`));
        b.push(task(`t${t}`, round === 49 ? Status.PASSED : Status.RUNNING));
        mostHeld = Math.max(mostHeld, b.held);
      }
    }
    b.push(finished());
    const checksFit = Math.ceil((64 * 1024) / checkUpdateBytes(check("t0", "c0").event.value as never));
    // Live entries are one per task plus the checks that fit; superseded ones are swept before they outnumber them.
    expect(mostHeld).toBeLessThanOrEqual(2 * (tasks + checksFit) + 1024);
    expect(b.queuedCheckBytes).toBeLessThanOrEqual(64 * 1024);
    const out = drainAll(b);
    expect(out.filter((l) => l.startsWith("task"))).toEqual(Array.from({ length: tasks }, (_, t) => `task t${t} PASSED`));
    expect(out.at(-1)).toBe("finished");
    expect(b.dropped).toBe(500_000 - out.filter((l) => l.startsWith("check")).length);
  });
});

/** A stand-in for grpc-js's ServerWritableStream: takes `room` writes, then waits for read(). */
class SlowCall extends EventEmitter implements WatchCall {
  written: WatchRunResponse[] = [];
  ended = false;
  private unread = 0;

  constructor(private readonly room: number) {
    super();
  }

  write(u: WatchRunResponse): boolean {
    if (this.ended) throw new Error("write after end");
    this.written.push(u);
    this.unread++;
    return this.unread < this.room;
  }

  end(): void {
    this.ended = true;
  }

  /** The watcher reads everything written so far. */
  read(): void {
    const was = this.unread;
    this.unread = 0;
    if (was >= this.room) this.emit("drain");
  }
}

function feed(stored: WatchRunResponse[], end?: WatchRunResponse) {
  const live = new EventEmitter();
  return {
    live: (u: WatchRunResponse) => live.emit("u", u),
    listeners: () => live.listenerCount("u"),
    feed: {
      subscribe(l: (u: WatchRunResponse) => void) {
        live.on("u", l);
        return () => live.off("u", l);
      },
      snapshot: () => ({ replay: stored, finished: end }),
    },
  };
}

describe("a watch stream", () => {
  it("writes no more than the watcher has room for, replays the store without loss, then the live updates, the end last", () => {
    const stored = [check("t1", "a"), check("t1", "b"), task("t1", Status.PASSED), check("t2", "a")];
    const f = feed(stored);
    const call = new SlowCall(2);
    let end: WatchEnd | undefined;
    streamWatch(call, f.feed, { onEnd: (e) => (end = e) });
    expect(call.written.map(label)).toEqual(["check t1/a", "check t1/b"]);
    f.live(check("t2", "b"));
    f.live(task("t2", Status.RUNNING));
    f.live(task("t2", Status.FAILED));
    f.live(finished());
    expect(call.written).toHaveLength(2);
    for (let i = 0; i < 10 && !call.ended; i++) call.read();
    expect(call.written.map(label)).toEqual(["check t1/a", "check t1/b", "task t1 PASSED", "check t2/a", "check t2/b", "task t2 FAILED", "finished"]);
    expect(call.ended).toBe(true);
    expect(end).toEqual({ finished: true, dropped: 0, superseded: 1 });
    expect(f.listeners()).toBe(0);
  });

  it("ends a finished run's watch after its replay", () => {
    const f = feed([task("t1", Status.PASSED)], finished());
    const call = new SlowCall(100);
    streamWatch(call, f.feed);
    expect(call.written.map(label)).toEqual(["task t1 PASSED", "finished"]);
    expect(call.ended).toBe(true);
    expect(f.listeners()).toBe(0);
  });

  it("stops listening when the watcher goes away", () => {
    const f = feed([]);
    const call = new SlowCall(1);
    let end: WatchEnd | undefined;
    streamWatch(call, f.feed, { onEnd: (e) => (end = e) });
    f.live(task("t1", Status.RUNNING));
    f.live(task("t2", Status.RUNNING));
    call.emit("cancelled");
    expect(f.listeners()).toBe(0);
    expect(end?.finished).toBe(false);
    call.read();
    expect(call.written.map(label)).toEqual(["task t1 RUNNING"]);
  });
});
