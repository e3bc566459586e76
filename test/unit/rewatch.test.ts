// coord run following through dropped watches: a new watch replays the run, nothing is passed on
// twice or skipped, and only a coordinator silent for the whole patience (or a real refusal) ends it.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { WatchRunResponseSchema, type WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { FleetgateError } from "../../shared/errors.js";
import { Status } from "../../shared/model/status.js";
import { rewatch } from "../../coordinator/cli/rewatch.js";

const check = (taskId: string, checkId: string): WatchRunResponse =>
  create(WatchRunResponseSchema, { event: { case: "check", value: { taskId, nodeName: "n1", stageId: "fleet", iteration: 1, result: { checkId, status: Status.PASSED } } } });
const task = (taskId: string, status: Status): WatchRunResponse => create(WatchRunResponseSchema, { event: { case: "task", value: { taskId, stageId: "fleet", nodeName: "n1", iteration: 1, status } } });
const finished = (): WatchRunResponse => create(WatchRunResponseSchema, { event: { case: "finished", value: { runId: "r1", status: Status.PASSED } } });
const dropped = () => new FleetgateError("unreachable", "coordinator unreachable at 127.0.0.1:1 (Connection dropped); start it with: coord serve");

/** A watch that sends `updates`, then ends with `end` (an error thrown, or a plain end of stream). */
function watch(updates: WatchRunResponse[], end?: Error): AsyncIterable<WatchRunResponse> {
  return {
    async *[Symbol.asyncIterator]() {
      for (const u of updates) yield u;
      if (end) throw end;
    },
  };
}

/** A clock that moves only when the code under test sleeps. */
function clock() {
  let t = 0;
  const slept: number[] = [];
  return { now: () => t, sleep: async (ms: number) => void (slept.push(ms), (t += ms)), slept };
}

const label = (u: WatchRunResponse): string => (u.event.case === "check" ? `check ${u.event.value.taskId}/${u.event.value.result?.checkId}` : u.event.case === "task" ? `task ${u.event.value.taskId} ${u.event.value.status}` : String(u.event.case));

async function collect(watches: (() => AsyncIterable<WatchRunResponse>)[], patienceMs = 60_000) {
  const c = clock();
  const notes: string[] = [];
  let opened = 0;
  const out: string[] = [];
  const open = () => (watches[opened++] ?? (() => watch([], dropped())))();
  try {
    for await (const u of rewatch(open, { runId: "r1", patienceMs, note: (t) => notes.push(t), sleep: c.sleep, now: c.now })) out.push(label(u));
    return { out, notes, opened, slept: c.slept, error: undefined as unknown };
  } catch (error) {
    return { out, notes, opened, slept: c.slept, error };
  }
}

describe("following a run through dropped watches", () => {
  it("opens the watch again after a drop and passes on each update once, the replayed ones skipped", async () => {
    const r = await collect([
      () => watch([task("a", Status.RUNNING), check("a", "c1")], dropped()),
      // The new watch replays the run so far, then goes on live.
      () => watch([check("a", "c1"), task("a", Status.RUNNING), check("a", "c2"), task("a", Status.PASSED), finished()]),
    ]);
    expect(r.error).toBeUndefined();
    expect(r.out).toEqual(["task a 2", "check a/c1", "check a/c2", "task a 3", "finished"]);
    expect(r.opened).toBe(2);
    expect(r.notes[0]).toBe("coord: lost the watch of run r1 (coordinator unreachable at 127.0.0.1:1 (Connection dropped)); following it again for up to 60 s…");
    expect(r.notes[1]).toBe("coord: following run r1 again");
  });

  it("treats a watch the coordinator ended before the run finished (a restart) as a drop", async () => {
    const r = await collect([() => watch([check("a", "c1")]), () => watch([check("a", "c1"), finished()])]);
    expect(r.error).toBeUndefined();
    expect(r.out).toEqual(["check a/c1", "finished"]);
  });

  it("keeps trying with growing pauses, and gives up with the drop's error once the patience is spent without a message", async () => {
    const r = await collect([() => watch([check("a", "c1")], dropped())], 10_000);
    expect(r.out).toEqual(["check a/c1"]);
    expect((r.error as FleetgateError).code).toBe("unreachable");
    expect((r.error as Error).message).toContain("Connection dropped");
    expect(r.slept).toEqual([250, 1_000, 2_000, 5_000, 5_000]);
    expect(r.notes).toHaveLength(1);
  });

  it("counts the patience from the last message, so a run that keeps making progress between drops is followed to its end", async () => {
    const drops = Array.from({ length: 30 }, (_, i) => () => watch([check("a", `c${i}`)], dropped()));
    const r = await collect([...drops, () => watch([finished()])], 1_000);
    expect(r.error).toBeUndefined();
    expect(r.out).toHaveLength(31);
  });

  it("ends at once on an answer that is not a drop (no such run, not allowed)", async () => {
    const r = await collect([() => watch([], new FleetgateError("not_found", "no run r1; list them with: coord runs"))]);
    expect((r.error as FleetgateError).code).toBe("not_found");
    expect(r.opened).toBe(1);
    expect(r.slept).toEqual([]);
  });
});
