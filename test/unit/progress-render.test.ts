import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { applyUpdate, emptyProgress, notableLines, plainLines, renderLive, type ProgressState } from "../../coordinator/cli/progress.js";
import { WatchRunResponseSchema, type TaskRecord, type WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status } from "../../shared/model/status.js";

type TaskInit = Partial<Omit<TaskRecord, "$typeName" | "checks">>;

const taskId = (stage: string, node: string, i: number) => `r1/${stage}/${node}/${i}`;

function task(stageId: string, nodeName: string, iteration: number, status: Status, extra: TaskInit = {}): WatchRunResponse {
  return create(WatchRunResponseSchema, { event: { case: "task", value: { taskId: taskId(stageId, nodeName, iteration), stageId, nodeName, iteration, status, ...extra } } });
}

function check(stageId: string, nodeName: string, iteration: number, checkId: string, status: Status, summary = "", hint = ""): WatchRunResponse {
  return create(WatchRunResponseSchema, {
    event: { case: "check", value: { taskId: taskId(stageId, nodeName, iteration), stageId, nodeName, iteration, result: { checkId, status, summary, hint, kind: "command" } } },
  });
}

const fold = (updates: WatchRunResponse[], from: ProgressState = emptyProgress()) => updates.reduce(applyUpdate, from);

// The replay of a fresh fleet run: every task pending, in plan order.
const replay = ["node-a", "node-b"].flatMap((n) => [1, 2, 3].map((i) => task("fleet", n, i, Status.PENDING)));

describe("renderLive (terminal)", () => {
  it("shows one line per node: where it is, its marks, running and the last check it reported", () => {
    const state = fold([
      ...replay,
      task("fleet", "node-a", 1, Status.RUNNING),
      check("fleet", "node-a", 1, "podman-app-healthy", Status.PASSED),
      task("fleet", "node-b", 1, Status.RUNNING),
    ]);
    expect(renderLive(state)).toEqual([
      "fleet  node-a  #1/3  ...  running  podman-app-healthy…",
      "fleet  node-b  #1/3  ...  running  started…",
      "0/6 tasks done; Ctrl-C to cancel the run or detach from it",
    ]);
  });

  it("moves a node to its next iteration and marks the finished ones, then says why the first one that did not pass did not", () => {
    const mid = fold([
      ...replay,
      task("fleet", "node-a", 1, Status.PASSED),
      task("fleet", "node-a", 2, Status.FAILED, { summary: "1 of 2 checks failed" }),
      task("fleet", "node-a", 3, Status.RUNNING),
      task("fleet", "node-b", 1, Status.PASSED),
    ]);
    expect(renderLive(mid).slice(0, 2)).toEqual([
      "fleet  node-a  #3/3  +x.  running  started…",
      "fleet  node-b  #2/3  +..  running",
    ]);
    const end = fold([task("fleet", "node-a", 3, Status.PASSED), task("fleet", "node-b", 2, Status.PASSED), task("fleet", "node-b", 3, Status.PASSED)], mid);
    expect(renderLive(end)).toEqual([
      "fleet  node-a  3/3  +x+  failed  1 of 2 checks failed",
      "fleet  node-b  3/3  +++  passed",
      "6/6 tasks done; Ctrl-C to cancel the run or detach from it",
    ]);
  });

  it("shows a node with nothing started yet as waiting, separately for each stage", () => {
    const state = fold([task("smoke", "prim", 1, Status.RUNNING), task("fleet", "prim", 1, Status.PENDING)]);
    expect(renderLive(state).slice(0, 2)).toEqual(["smoke  prim  #1/1  .  running  started…", "fleet  prim  #1/1  .  waiting"]);
  });

  it("keeps a step's name from the replay when a live update carries only the status", () => {
    const state = fold([task("handoff", "node-a", 1, Status.PENDING, { stepId: "write", role: "writer", stageKind: "cross" }), task("handoff", "node-a", 1, Status.RUNNING)]);
    expect(state.tasks.get(taskId("handoff", "node-a", 1))?.stepId).toBe("write");
    expect(plainLines(state, check("handoff", "node-a", 1, "write-doc", Status.PASSED, "exit 0"))).toEqual(["[handoff/write] node-a #1  ok    write-doc  exit 0"]);
  });

  it("cuts every line to the terminal width so none wraps and the redraw stays in place", () => {
    const state = fold([...replay, task("fleet", "node-a", 1, Status.RUNNING), check("fleet", "node-a", 1, "a-check-with-a-very-long-name-indeed", Status.PASSED)]);
    const lines = renderLive(state, 30);
    for (const l of lines) expect([...l].length).toBeLessThanOrEqual(30);
    expect(lines[0]).toBe("fleet  node-a  #1/3  ...  run…");
  });

  it("keeps each line one line: newlines and escape sequences a check printed become spaces", () => {
    const state = fold([task("fleet", "node-a", 1, Status.NOT_READY, { summary: "blocks 10/800000\nIBD \x1b[2Jin progress" })]);
    expect(renderLive(state)[0]).toBe("fleet  node-a  1/1  n  not_ready  blocks 10/800000 IBD  [2Jin progress");
    expect(plainLines(emptyProgress(), check("fleet", "node-a", 1, "synced", Status.NOT_READY, "blocks 10\nIBD", "wait\rfor IBD"))).toEqual([
      "[fleet] node-a #1  NRDY  synced  blocks 10 IBD\n      hint: wait for IBD",
    ]);
  });

  it("says it is waiting before the replay has arrived", () => {
    expect(renderLive(emptyProgress())).toEqual(["waiting for the coordinator…", "0/0 tasks done; Ctrl-C to cancel the run or detach from it"]);
  });
});

describe("plainLines (pipe)", () => {
  it("prints check results, task starts and ends as append-only lines, and nothing for pending tasks", () => {
    const state = emptyProgress();
    expect(plainLines(state, task("fleet", "node-b", 1, Status.PENDING))).toEqual([]);
    expect(plainLines(state, task("fleet", "node-b", 1, Status.RUNNING))).toEqual(["[fleet] node-b #1  started"]);
    expect(plainLines(state, check("fleet", "node-b", 1, "not-broken", Status.FAILED, "expected exit 0, saw 1", "the node is marked broken"))).toEqual([
      "[fleet] node-b #1  FAIL  not-broken  expected exit 0, saw 1\n      hint: the node is marked broken",
    ]);
    expect(plainLines(state, task("fleet", "node-b", 1, Status.LOST, { summary: "node node-b lost: not connected for 3 s" }))).toEqual([
      "[fleet] node-b #1  => lost: node node-b lost: not connected for 3 s",
    ]);
  });
});

describe("notableLines (kept above the live block)", () => {
  it("keeps failures and unfinished outcomes, and lets passes and starts go", () => {
    const state = emptyProgress();
    expect(notableLines(state, check("fleet", "node-a", 1, "echo", Status.PASSED))).toEqual([]);
    expect(notableLines(state, task("fleet", "node-a", 1, Status.RUNNING))).toEqual([]);
    expect(notableLines(state, task("fleet", "node-a", 1, Status.PASSED))).toEqual([]);
    expect(notableLines(state, check("fleet", "node-a", 1, "http", Status.FAILED, "saw 503"))).toEqual(["[fleet] node-a #1  FAIL  http  saw 503"]);
    expect(notableLines(state, task("fleet", "node-a", 2, Status.CANCELLED, { summary: "cancelled by coord cancel" }))).toEqual(["[fleet] node-a #2  => cancelled: cancelled by coord cancel"]);
  });

  it("does not repeat the status when the summary starts with it", () => {
    expect(plainLines(emptyProgress(), task("fleet", "node-a", 2, Status.CANCELLED, { summary: "cancelled: release pulled" }))).toEqual(["[fleet] node-a #2  => cancelled: release pulled"]);
  });
});
