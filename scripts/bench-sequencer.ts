// The sequencer's pure step alone, over a fleet stage of N nodes: start the stage (N dispatches),
// then one task-done step per node. No I/O: what the coordinator's own logic costs per result,
// apart from decoding, committing and acking it — the part that grew as N² before it kept counts.
import { performance } from "node:perf_hooks";
import { initialState, step, type PlannedTask } from "../coordinator/sequencer/core.js";
import { Status } from "../shared/model/status.js";

export interface SequencerFigures {
  startMs: number;
  allDoneMs: number;
  finished: boolean;
}

export function timeSequencer(nodes: number): SequencerFigures {
  const stages = [{ id: "fleet", parallel: nodes, stopOnFailure: false }];
  const tasks: PlannedTask[] = Array.from({ length: nodes }, (_, i) => ({ id: `fleet/n${i}/1`, stageId: "fleet", node: `n${i}`, iteration: 1, group: 0, label: `n${i}` }));
  const t0 = performance.now();
  let r = step(initialState(stages, tasks), { type: "start" });
  const t1 = performance.now();
  for (const t of tasks) r = step(r.state, { type: "task_done", taskId: t.id, status: Status.PASSED, summary: "" });
  const t2 = performance.now();
  return { startMs: t1 - t0, allDoneMs: t2 - t1, finished: r.state.finished && r.state.tasks.every((t) => t.status === Status.PASSED) };
}
