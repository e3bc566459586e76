import { EventEmitter } from "node:events";
import { PassThrough } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { followRun, type FollowDeps } from "../../coordinator/cli/follow.js";
import { askCancelOrDetach, type Choice, type PromptIo } from "../../coordinator/cli/interrupt.js";
import type { ProgressView } from "../../coordinator/cli/progress-writer.js";
import { WatchRunResponseSchema, type WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { Status } from "../../shared/model/status.js";

/** A keyboard: a stream the test types into, that says it is a TTY and records raw mode. */
class FakeTty extends PassThrough {
  isTTY = true;
  rawModes: boolean[] = [];
  setRawMode(on: boolean): this {
    this.rawModes.push(on);
    return this;
  }
}

function promptIo(input = new FakeTty()) {
  const signals = new EventEmitter();
  let written = "";
  const io: PromptIo = {
    input,
    output: { write: (t: string) => (written += t) },
    onInterrupt: (l) => {
      signals.on("SIGINT", l);
      return () => signals.off("SIGINT", l);
    },
  };
  return { io, input, signals, written: () => written };
}

describe("askCancelOrDetach", () => {
  it("asks once and answers cancel on c, restoring the terminal afterwards", async () => {
    const { io, input, written } = promptIo();
    const answer = askCancelOrDetach("r1", io);
    expect(written()).toBe("\ncancel run r1 on the fleet, or detach and let it go on? [c]ancel/[d]etach: ");
    input.write("c");
    expect(await answer).toBe("cancel");
    expect(input.rawModes).toEqual([true, false]);
    expect(written().endsWith("cancel\n")).toBe(true);
  });

  it.each([
    ["d", "the d key"],
    ["D", "a capital D"],
    ["\x03", "Ctrl-C read as a byte in raw mode"],
    ["\x04", "Ctrl-D"],
  ])("answers detach on %j (%s)", async (key) => {
    const { io, input } = promptIo();
    const answer = askCancelOrDetach("r1", io);
    input.write(key);
    expect(await answer).toBe("detach");
  });

  it("ignores other keys and keeps asking", async () => {
    const { io, input } = promptIo();
    let settled: Choice | undefined;
    const answer = askCancelOrDetach("r1", io).then((c) => (settled = c));
    input.write("x\r");
    await new Promise((r) => setImmediate(r));
    expect(settled).toBeUndefined();
    input.write("c");
    await answer;
    expect(settled).toBe("cancel");
  });

  it("takes a second Ctrl-C (SIGINT) while asking as detach, so nobody is trapped", async () => {
    const { io, signals } = promptIo();
    const answer = askCancelOrDetach("r1", io);
    signals.emit("SIGINT");
    expect(await answer).toBe("detach");
    expect(signals.listenerCount("SIGINT")).toBe(0);
  });

  it("detaches when the input ends, and works on a plain stream without raw mode", async () => {
    const input = new PassThrough();
    const { io } = promptIo(input as unknown as FakeTty);
    const answer = askCancelOrDetach("r1", io);
    input.end();
    expect(await answer).toBe("detach");
  });

  it("stops asking when aborted (the run finished meanwhile)", async () => {
    const { io, written } = promptIo();
    const abort = new AbortController();
    const answer = askCancelOrDetach("r1", io, abort.signal);
    abort.abort();
    expect(await answer).toBe("detach");
    expect(written().endsWith("(no longer asking)\n")).toBe(true);
  });
});

/** A WatchRun stream the test feeds by hand. */
function channel() {
  const queue: WatchRunResponse[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  const updates: AsyncIterable<WatchRunResponse> = {
    async *[Symbol.asyncIterator]() {
      for (;;) {
        const next = queue.shift();
        if (next) yield next;
        else if (ended) return;
        else await new Promise<void>((r) => (wake = r));
      }
    },
  };
  return {
    updates,
    push(u: WatchRunResponse) {
      queue.push(u);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
  };
}

const running = create(WatchRunResponseSchema, { event: { case: "task", value: { taskId: "t1", stageId: "fleet", nodeName: "n1", iteration: 1, status: Status.RUNNING } } });
const finished = create(WatchRunResponseSchema, { event: { case: "finished", value: { runId: "r1", status: Status.CANCELLED } } });
const tick = () => new Promise((r) => setImmediate(r));

function harness(answer: (abort: AbortSignal) => Promise<Choice>) {
  const stream = channel();
  const signals = new EventEmitter();
  const seen: string[] = [];
  const view: ProgressView = { update: (u) => seen.push(`update ${u.event.case}`), pause: () => seen.push("pause"), resume: () => seen.push("resume"), close: () => seen.push("close") };
  let cancels = 0;
  const deps: FollowDeps = {
    runId: "r1",
    updates: stream.updates,
    view,
    interrupts: (l) => {
      signals.on("SIGINT", l);
      return () => signals.off("SIGINT", l);
    },
    decide: answer,
    cancel: async () => {
      cancels++;
      return "run r1 cancelled";
    },
    note: (t) => seen.push(`note ${t}`),
  };
  return { deps, stream, signals, seen, cancels: () => cancels };
}

describe("followRun", () => {
  it("feeds every update to the view and ends with the finished run", async () => {
    const h = harness(async () => "detach");
    const end = followRun(h.deps);
    h.stream.push(running);
    h.stream.push(finished);
    expect(await end).toEqual({ kind: "finished", run: finished.event.value });
    expect(h.seen).toEqual(["update task", "update finished"]);
    expect(h.signals.listenerCount("SIGINT")).toBe(0);
  });

  it("detaches on Ctrl-C when the answer is detach (off a terminal it always is), cancelling nothing", async () => {
    const h = harness(async () => "detach");
    const end = followRun(h.deps);
    h.stream.push(running);
    await tick();
    h.signals.emit("SIGINT");
    expect(await end).toEqual({ kind: "detached" });
    expect(h.cancels()).toBe(0);
    expect(h.seen).toEqual(["update task", "pause"]);
  });

  it("on cancel, cancels the run and keeps following until the coordinator reports it finished", async () => {
    const h = harness(async () => "cancel");
    const end = followRun(h.deps);
    h.stream.push(running);
    await tick();
    h.signals.emit("SIGINT");
    await tick();
    expect(h.cancels()).toBe(1);
    h.stream.push(finished);
    expect(await end).toEqual({ kind: "finished", run: finished.event.value });
    // Said while the live block is cleared, then the block comes back below it.
    expect(h.seen.slice(1, 4)).toEqual(["pause", "note run r1 cancelled", "resume"]);
  });

  it("detaches on one more Ctrl-C after cancelling, so waiting for the fleet never traps the user", async () => {
    const h = harness(async () => "cancel");
    const end = followRun(h.deps);
    h.signals.emit("SIGINT");
    await tick();
    h.signals.emit("SIGINT");
    expect(await end).toEqual({ kind: "detached" });
    expect(h.cancels()).toBe(1);
  });

  it("stops asking when the run finishes while the question is on screen", async () => {
    let aborted = false;
    const h = harness(
      (abort) =>
        new Promise<Choice>((resolve) =>
          abort.addEventListener("abort", () => {
            aborted = true;
            resolve("detach");
          }),
        ),
    );
    const end = followRun(h.deps);
    h.signals.emit("SIGINT");
    h.stream.push(finished);
    expect((await end).kind).toBe("finished");
    expect(aborted).toBe(true);
  });

  it("reports the coordinator unreachable when the watch ends before the run does", async () => {
    const h = harness(async () => "detach");
    const end = followRun(h.deps);
    h.stream.push(running);
    h.stream.end();
    await expect(end).rejects.toThrow(new FleetgateError("unreachable", "the coordinator ended the watch of run r1 before the run finished"));
  });
});
