// A WatchRun stream whose watcher reads slowly holds bounded memory (issue 16): each task's latest
// status, check updates up to a byte budget, and the run's end, which always arrives last; the
// replay from the store waits for the watcher without loss; what waits goes out in batches, which
// the CLI takes apart again in order.
import { create, toBinary } from "@bufbuild/protobuf";
import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { WaiverSchema } from "../../shared/gen/fleetgate/v1/common_pb.js";
import { WatchRunResponseSchema, type CheckUpdate, type WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { Status } from "../../shared/model/status.js";
import { checkUpdateBytes, WatchBacklog } from "../../coordinator/server/watch-backlog.js";
import { MAX_BATCH_BYTES, MAX_BATCH_UPDATES, streamWatch, type WatchCall, type WatchEnd } from "../../coordinator/server/watch-stream.js";
import { rewatch, unbatched } from "../../coordinator/cli/rewatch.js";

const check = (taskId: string, checkId: string, output = ""): WatchRunResponse =>
  create(WatchRunResponseSchema, { event: { case: "check", value: { taskId, nodeName: taskId, stageId: "fleet", iteration: 1, result: { checkId, status: Status.PASSED, stdoutTail: output } } } });
const task = (taskId: string, status: Status): WatchRunResponse => create(WatchRunResponseSchema, { event: { case: "task", value: { taskId, stageId: "fleet", nodeName: taskId, iteration: 1, status } } });
const finished = (): WatchRunResponse => create(WatchRunResponseSchema, { event: { case: "finished", value: { runId: "r1", status: Status.PASSED } } });

const label = (u: WatchRunResponse): string =>
  u.event.case === "check" ? `check ${u.event.value.taskId}/${u.event.value.result?.checkId}` : u.event.case === "task" ? `task ${u.event.value.taskId} ${Status[u.event.value.status]}` : String(u.event.case);
/** What a watcher gets out of the messages written, batches taken apart. */
const received = (written: WatchRunResponse[]): string[] => written.flatMap(unbatched).map(label);
/** How many updates each message written carries. */
const sizes = (written: WatchRunResponse[]): number[] => written.map((u) => unbatched(u).length);

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

/** A stand-in for grpc-js's ServerWritableStream: a message is on its way only once the watcher reads. */
class SlowCall extends EventEmitter implements WatchCall {
  written: WatchRunResponse[] = [];
  ended = false;
  private unread: (() => void)[] = [];

  write(u: WatchRunResponse, written: () => void): boolean {
    if (this.ended) throw new Error("write after end");
    this.written.push(u);
    this.unread.push(written);
    return false;
  }

  end(): void {
    this.ended = true;
  }

  /** The watcher reads everything written so far. */
  read(): void {
    for (const written of this.unread.splice(0)) written();
  }
}

function feed(stored: WatchRunResponse[], end?: WatchRunResponse) {
  const live = new EventEmitter();
  let ended: (err: Error) => void = () => {};
  return {
    live: (u: WatchRunResponse) => live.emit("u", u),
    listeners: () => live.listenerCount("u"),
    /** The source stops (the engine stopped following runs). */
    stop: (err: Error) => ended(err),
    feed: {
      subscribe(l: (u: WatchRunResponse) => void, onEnded: (err: Error) => void) {
        live.on("u", l);
        ended = onEnded;
        return () => live.off("u", l);
      },
      snapshot: () => ({ replay: stored, finished: end }),
    },
  };
}

/**
 * grpc-js's ServerWritableStreamImpl as it behaves: an object-mode Writable whose 'error' ends it,
 * the status going out in _final once the writes in flight are done; a write takes a turn.
 */
class GrpcLikeCall extends Writable implements WatchCall {
  written: WatchRunResponse[] = [];
  status: string | undefined;
  private pending = "OK";
  constructor() {
    super({ objectMode: true });
    this.on("error", (err: Error) => {
      this.pending = err.message;
      this.end();
    });
  }
  override _write(u: WatchRunResponse, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.written.push(u);
    setImmediate(done);
  }
  override _final(done: (err?: Error | null) => void): void {
    done(null);
    this.status = this.pending;
  }
}

describe("a watch stream", () => {
  it("ends with the source's error as its status when the source stops with a write in flight and more waiting", async () => {
    const f = feed([check("t1", "a"), check("t1", "b")]);
    const call = new GrpcLikeCall();
    let end: WatchEnd | undefined;
    streamWatch(call, f.feed, { onEnd: (e) => (end = e) });
    // The replay is in flight; live updates wait behind it.
    f.live(check("t1", "c"));
    f.live(task("t1", Status.RUNNING));
    f.stop(new Error("this coordinator stopped following runs"));
    for (let i = 0; i < 20 && call.status === undefined; i++) await new Promise((r) => setImmediate(r));
    // Nothing written after the end began: a write after end would destroy the stream unsent.
    expect(received(call.written)).toEqual(["check t1/a", "check t1/b"]);
    expect(call.status).toBe("this coordinator stopped following runs");
    expect(call.destroyed && call.errored).toBeFalsy();
    expect(end).toEqual({ finished: false, dropped: 0, superseded: 0 });
    expect(f.listeners()).toBe(0);
  });


  it("has one message in flight at a time, replays the store without loss, then the live updates, the end last", () => {
    const stored = [check("t1", "a"), check("t1", "b"), task("t1", Status.PASSED), check("t2", "a")];
    const f = feed(stored);
    const call = new SlowCall();
    let end: WatchEnd | undefined;
    streamWatch(call, f.feed, { onEnd: (e) => (end = e) });
    // The whole replay was waiting: one message.
    expect(sizes(call.written)).toEqual([4]);
    f.live(check("t2", "b"));
    f.live(task("t2", Status.RUNNING));
    f.live(task("t2", Status.FAILED));
    f.live(finished());
    // One message in flight at a time: the rest waits for the watcher.
    expect(call.written).toHaveLength(1);
    for (let i = 0; i < 10 && !call.ended; i++) call.read();
    expect(received(call.written)).toEqual(["check t1/a", "check t1/b", "task t1 PASSED", "check t2/a", "check t2/b", "task t2 FAILED", "finished"]);
    expect(call.written.at(-1)?.event.case).toBe("finished");
    expect(call.ended).toBe(true);
    expect(end).toEqual({ finished: true, dropped: 0, superseded: 1 });
    expect(f.listeners()).toBe(0);
  });

  it("sends what piled up while the watcher was behind as batches, in order, each update once, the end alone", () => {
    const f = feed([]);
    const call = new SlowCall();
    streamWatch(call, f.feed);
    const sent: string[] = [];
    for (let t = 0; t < 6_000; t++) {
      f.live(check(`t${t}`, "a"));
      f.live(task(`t${t}`, Status.PASSED));
      sent.push(`check t${t}/a`, `task t${t} PASSED`);
    }
    f.live(finished());
    // The first update went out alone; everything after it waited for one read.
    expect(sizes(call.written)).toEqual([1]);
    for (let i = 0; i < 20 && !call.ended; i++) call.read();
    expect(received(call.written)).toEqual([...sent, "finished"]);
    expect(sizes(call.written)).toEqual([1, MAX_BATCH_UPDATES, 12_000 - 1 - MAX_BATCH_UPDATES, 1]);
    expect(call.written.at(-1)?.event.case).toBe("finished");
  });

  it("keeps a batch within its byte budget and sends an update bigger than the budget on its own", () => {
    const f = feed([]);
    const call = new SlowCall();
    streamWatch(call, f.feed);
    const bulky = "x".repeat(MAX_BATCH_BYTES / 12);
    f.live(task("t0", Status.RUNNING));
    for (let i = 0; i < 6; i++) f.live(check("t1", `c${i}`, bulky));
    f.live(check("t2", "huge", "y".repeat(MAX_BATCH_BYTES * 2)));
    f.live(check("t3", "a"));
    f.live(finished());
    for (let i = 0; i < 20 && !call.ended; i++) call.read();
    // At 3 bytes a character each output is a quarter of the budget: with tags and names, three fit.
    expect(sizes(call.written)).toEqual([1, 3, 3, 1, 1, 1]);
    expect(received(call.written)).toEqual(["task t0 RUNNING", ...[0, 1, 2, 3, 4, 5].map((i) => `check t1/c${i}`), "check t2/huge", "check t3/a", "finished"]);
  });

  it("keeps every batch under its byte budget on the wire, however wide the characters", () => {
    const f = feed([]);
    const call = new SlowCall();
    streamWatch(call, f.feed, { maxBacklogBytes: 64 * 1024 * 1024 });
    const wide = (n: number) => "€😀".repeat(n); // 3 and 4 bytes of UTF-8 in 1 and 2 UTF-16 units
    for (let i = 0; i < 400; i++) {
      const u = check(`node-${i}`, `c${i}`, wide(1000 + i * 7));
      const r = (u.event.value as CheckUpdate).result!;
      r.stderrTail = wide(300);
      r.startedAtMs = -1n; // a 10-byte varint
      r.cases = [{ $typeName: "fleetgate.v1.TestCase", name: wide(20), status: Status.FAILED, message: wide(50), durationMs: 1n }];
      r.captured = { [wide(3)]: wide(40) };
      r.waiver = create(WaiverSchema, { checkId: `c${i}`, node: wide(5), reason: wide(80), owner: "ops", expires: "2027-01-01", expiresAtMs: 1n, source: "waivers.yaml:4:3" });
      f.live(u);
      f.live(task(`node-${i}`, Status.PASSED));
    }
    f.live(finished());
    for (let i = 0; i < 50 && !call.ended; i++) call.read();
    const batches = call.written.filter((u) => u.event.case === "batch");
    expect(batches.length).toBeGreaterThan(1);
    for (const b of batches) expect(toBinary(WatchRunResponseSchema, b).length).toBeLessThanOrEqual(MAX_BATCH_BYTES);
    // Not so cautious that a batch is far below it.
    expect(Math.max(...batches.map((b) => toBinary(WatchRunResponseSchema, b).length))).toBeGreaterThan(MAX_BATCH_BYTES / 2);
    expect(received(call.written)).toHaveLength(801);
  });

  it("ends a finished run's watch after its replay", () => {
    const f = feed([task("t1", Status.PASSED)], finished());
    const call = new SlowCall();
    streamWatch(call, f.feed);
    call.read();
    expect(call.written.map(label)).toEqual(["task t1 PASSED", "finished"]);
    expect(call.ended).toBe(true);
    expect(f.listeners()).toBe(0);
  });

  it("stops listening when the watcher goes away", () => {
    const f = feed([]);
    const call = new SlowCall();
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

describe("following a watch (rewatch)", () => {
  it("passes on a batch's updates one by one, in order, and each update once when a new watch replays them", async () => {
    const batch = (...updates: WatchRunResponse[]) => create(WatchRunResponseSchema, { event: { case: "batch", value: { updates } } });
    const watches = [
      [batch(check("t1", "a"), check("t1", "b")), task("t1", Status.RUNNING)],
      // The first watch dropped; the second replays the run, then goes on.
      [batch(check("t1", "a"), check("t1", "b"), task("t1", Status.RUNNING), check("t1", "c")), batch(task("t1", Status.PASSED)), finished()],
    ];
    let opened = 0;
    async function* open(): AsyncGenerator<WatchRunResponse> {
      const messages = watches[opened++] ?? [];
      yield* messages;
      if (opened === 1) throw new FleetgateError("unreachable", "the watch dropped");
    }
    const got: string[] = [];
    for await (const u of rewatch(open, { runId: "r1", patienceMs: 60_000, note: () => undefined, sleep: async () => undefined })) got.push(label(u));
    expect(got).toEqual(["check t1/a", "check t1/b", "task t1 RUNNING", "check t1/c", "task t1 PASSED", "finished"]);
  });
});
