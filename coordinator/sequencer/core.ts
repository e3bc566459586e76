// The sequencer as a pure state machine: (state, event) → { state, commands }. No clock, no
// sockets, no database: time arrives as `tick` events, and the shell applies the commands.
import { humanDuration } from "../../shared/durations.js";
import { foldStatuses, isTerminal, Status, statusName } from "../../shared/model/status.js";

export interface PlannedTask {
  id: string;
  stageId: string;
  node: string;
  iteration: number;
  /**
   * A stage's tasks run group by group: a group starts when every task of the groups before it
   * has finished (a barrier). Single and fleet stages have one group; each cross step or
   * parallel group of steps is one, as is each matrix leg.
   */
  group: number;
  /** How messages name the task (shared/model/task-names.ts): "cross/fetch on peer (node-b)". */
  label: string;
}

export interface PlannedStage {
  id: string;
  /** Nodes working at once; each node still runs one task at a time. */
  parallel: number;
  /** Cross stages: a group that did not pass skips the groups after it (steps build on each other). */
  stopOnFailure: boolean;
}

export interface TaskState extends PlannedTask {
  status: Status;
  summary: string;
}

export interface SequencerState {
  stages: PlannedStage[];
  /** In plan order; a node's iterations in ascending order. */
  tasks: TaskState[];
  current: number;
  /** Node → when it went offline; absent means online. */
  offlineSince: Record<string, number>;
  lostAfterMs: number;
  finished: boolean;
}

export type SequencerEvent =
  | { type: "start" }
  | { type: "task_done"; taskId: string; status: Status; summary: string }
  | { type: "node_online"; node: string }
  | { type: "node_offline"; node: string; at: number }
  | { type: "tick"; now: number }
  | { type: "cancel"; reason: string };

export type SequencerCommand =
  | { type: "dispatch"; taskId: string }
  /** The task was running on `node` and is over for the coordinator: the agent should stop it. */
  | { type: "stop"; taskId: string; node: string }
  | { type: "task_status"; taskId: string; status: Status; summary: string }
  | { type: "run_finished"; status: Status; summary: string };

export interface Step {
  state: SequencerState;
  commands: SequencerCommand[];
}

export function initialState(stages: PlannedStage[], tasks: PlannedTask[], lostAfterMs: number, offlineNodes: Record<string, number> = {}): SequencerState {
  return {
    stages,
    tasks: tasks.map((t) => ({ ...t, status: Status.PENDING, summary: "" })),
    current: 0,
    offlineSince: { ...offlineNodes },
    lostAfterMs,
    finished: false,
  };
}

/** Rebuilds state from stored task statuses after a coordinator restart. */
export function resumedState(stages: PlannedStage[], tasks: TaskState[], lostAfterMs: number, offlineNodes: Record<string, number>): SequencerState {
  let current = 0;
  for (; current < stages.length; current++) {
    const done = tasksOf(tasks, stages[current]?.id);
    // A finished stage that did not pass stays current, so the first step skips the stages after
    // it: the coordinator may have stopped after storing the failure but before storing the skips.
    if (!done.every((t) => isTerminal(t.status)) || foldStatuses(done.map((t) => t.status)) !== Status.PASSED) break;
  }
  return { stages, tasks: tasks.map((t) => ({ ...t })), current, offlineSince: { ...offlineNodes }, lostAfterMs, finished: false };
}

function tasksOf(tasks: TaskState[], stageId: string | undefined): TaskState[] {
  return tasks.filter((t) => t.stageId === stageId);
}

export function step(prev: SequencerState, event: SequencerEvent): Step {
  if (prev.finished) return { state: prev, commands: [] };
  const state: SequencerState = { ...prev, tasks: prev.tasks.map((t) => ({ ...t })), offlineSince: { ...prev.offlineSince } };
  const commands: SequencerCommand[] = [];
  const set = (t: TaskState, status: Status, summary: string) => {
    t.status = status;
    t.summary = summary;
    commands.push({ type: "task_status", taskId: t.id, status, summary });
  };

  switch (event.type) {
    case "start":
      break;
    case "task_done": {
      const t = state.tasks.find((x) => x.id === event.taskId);
      // Only a running task can finish: a repeat or a result for a lost task changes nothing.
      if (!t || t.status !== Status.RUNNING) break;
      // A status that is not final (from the wire, unchecked) would leave the task neither running
      // nor done, and the run waiting forever: it is the machinery breaking, so an error.
      if (isTerminal(event.status)) set(t, event.status, event.summary);
      else set(t, Status.ERROR, `agent reported task done with status ${statusName(event.status)}${event.summary ? `: ${event.summary}` : ""}`);
      break;
    }
    case "node_online": {
      delete state.offlineSince[event.node];
      // A task in flight when the link dropped is asked again; the agent knows it by id.
      for (const t of tasksOf(state.tasks, state.stages[state.current]?.id)) {
        if (t.node === event.node && t.status === Status.RUNNING) commands.push({ type: "dispatch", taskId: t.id });
      }
      break;
    }
    case "node_offline":
      state.offlineSince[event.node] ??= event.at;
      break;
    case "tick": {
      const current = tasksOf(state.tasks, state.stages[state.current]?.id);
      const group = openGroup(current);
      for (const [node, since] of Object.entries(state.offlineSince)) {
        if (event.now - since < state.lostAfterMs) continue;
        const why = `node ${node} lost: not connected for ${humanDuration(event.now - since)}`;
        // Only work due now is lost; later groups are decided by the barrier (skipped, or waiting).
        for (const t of current) if (t.node === node && !isTerminal(t.status) && t.group <= group) set(t, Status.LOST, why);
      }
      break;
    }
    case "cancel":
      for (const t of state.tasks) {
        if (t.status === Status.RUNNING) commands.push({ type: "stop", taskId: t.id, node: t.node });
        if (!isTerminal(t.status)) set(t, Status.CANCELLED, event.reason);
      }
      break;
  }
  schedule(state, set, commands);
  return { state, commands };
}

function schedule(state: SequencerState, set: (t: TaskState, s: Status, summary: string) => void, commands: SequencerCommand[]): void {
  for (;;) {
    const stage = state.stages[state.current];
    if (!stage) {
      finish(state, commands);
      return;
    }
    const tasks = tasksOf(state.tasks, stage.id);
    if (tasks.every((t) => isTerminal(t.status))) {
      const outcome = foldStatuses(tasks.map((t) => t.status));
      if (outcome !== Status.PASSED) {
        // Gating: a stage runs only when every stage before it is green.
        for (const t of state.tasks) if (!isTerminal(t.status)) set(t, Status.SKIPPED, `stage ${stage.id} did not pass (${statusName(outcome)})`);
      }
      state.current++;
      continue;
    }
    const group = openGroup(tasks);
    if (stage.stopOnFailure) {
      const broken = tasks.find((t) => t.group < group && t.status !== Status.PASSED);
      if (broken) {
        const why = `${broken.label} ${statusName(broken.status).replace("_", " ")}${broken.summary ? `: ${broken.summary}` : ""}`;
        for (const t of tasks) if (!isTerminal(t.status)) set(t, Status.SKIPPED, `not run: ${why}`);
        continue;
      }
    }
    const busy = new Set(tasks.filter((t) => t.status === Status.RUNNING).map((t) => t.node));
    for (const t of tasks) {
      if (t.group !== group) continue;
      if (busy.size >= stage.parallel) break;
      if (t.status !== Status.PENDING || busy.has(t.node) || state.offlineSince[t.node] !== undefined) continue;
      // A node's iterations run in order: only its earliest pending task may start.
      if (tasks.some((o) => o.node === t.node && o.status === Status.PENDING && o.iteration < t.iteration)) continue;
      busy.add(t.node);
      set(t, Status.RUNNING, "");
      commands.push({ type: "dispatch", taskId: t.id });
    }
    return;
  }
}

/** The earliest group with work left; groups before it have all finished. */
function openGroup(tasks: TaskState[]): number {
  return Math.min(...tasks.filter((t) => !isTerminal(t.status)).map((t) => t.group));
}

function finish(state: SequencerState, commands: SequencerCommand[]): void {
  state.finished = true;
  const status = foldStatuses(state.tasks.map((t) => t.status));
  const count = (s: Status) => state.tasks.filter((t) => t.status === s).length;
  const parts = [`${count(Status.PASSED)}/${state.tasks.length} tasks passed`];
  for (const s of [Status.FAILED, Status.NOT_READY, Status.LOST, Status.ERROR, Status.SKIPPED, Status.CANCELLED, Status.INTERRUPTED]) {
    if (count(s)) parts.push(`${count(s)} ${statusName(s).replace("_", " ")}`);
  }
  commands.push({ type: "run_finished", status, summary: parts.join(", ") });
}
