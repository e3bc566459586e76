// The sequencer as a pure state machine: (state, event) → { state, commands }. No clock, no
// sockets, no database: whether a node is alive arrives as events from the fleet (online, offline,
// lost — coordinator/fleet/ owns the clock), and the shell applies the commands.
import { foldStatuses, isGreen, isTerminal, Status, statusName } from "../../shared/model/status.js";
import { countGroups, recount, indexTasks, openGroup, pendingIn, type GroupCounts, type TaskIndex } from "./task-table.js";

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
  /**
   * In plan order; a node's iterations in ascending order. Copy on write: a step that changes a
   * task puts a new object in a new array, so the state a step started from stays as it was (the
   * engine drops a batch's states when its commit fails). Copying every task on every step made
   * the N results of a fleet stage of N nodes cost N² (8 s at 5,000 nodes).
   */
  tasks: readonly TaskState[];
  /** Where each task is in `tasks`: fixed for the run, shared by all its states. */
  index: TaskIndex;
  /** How many tasks of each stage's groups are not over, and pending; copied when they change. */
  counts: GroupCounts;
  current: number;
  /** Nodes not connected now: no task is sent to them. */
  offline: Readonly<Record<string, true>>;
  /** Nodes the fleet declared lost (away too long), with why: their due work is lost. */
  lost: Readonly<Record<string, string>>;
  finished: boolean;
}

export type SequencerEvent =
  | { type: "start" }
  | { type: "task_done"; taskId: string; status: Status; summary: string }
  | { type: "node_online"; node: string }
  | { type: "node_offline"; node: string }
  /** The fleet's verdict: unheard too long, or reconnecting without ever delivering. Until it is back. */
  | { type: "node_lost"; node: string; why: string }
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

/** Who is away when a run begins or resumes, as the fleet knows it. */
export interface Liveness {
  offline: string[];
  /** Node → why, for nodes already away longer than the fleet allows. */
  lost: Record<string, string>;
}

const ALL_ONLINE: Liveness = { offline: [], lost: {} };

function livenessState(l: Liveness): Pick<SequencerState, "offline" | "lost"> {
  const offline: Record<string, true> = {};
  for (const n of l.offline) offline[n] = true;
  return { offline, lost: { ...l.lost } };
}

export function initialState(stages: PlannedStage[], planned: readonly PlannedTask[], liveness: Liveness = ALL_ONLINE): SequencerState {
  const tasks = planned.map((t) => ({ ...t, status: Status.PENDING, summary: "" }));
  const index = indexTasks(tasks);
  return {
    stages,
    tasks,
    index,
    counts: countGroups(tasks, index),
    current: 0,
    ...livenessState(liveness),
    finished: false,
  };
}

/** Rebuilds state from stored task statuses after a coordinator restart. */
export function resumedState(stages: PlannedStage[], tasks: readonly TaskState[], liveness: Liveness): SequencerState {
  const index = indexTasks(tasks);
  let current = 0;
  for (; current < stages.length; current++) {
    const done = stageTasks(tasks, index, stages[current]?.id);
    // A finished stage that did not pass stays current, so the first step skips the stages after
    // it: the coordinator may have stopped after storing the failure but before storing the skips.
    if (!done.every((t) => isTerminal(t.status)) || !isGreen(foldStatuses(done.map((t) => t.status)))) break;
  }
  // No copy: a state's tasks are never changed in place (copy on write).
  return { stages, tasks, index, counts: countGroups(tasks, index), current, ...livenessState(liveness), finished: false };
}

/** The task with this id as it stands in `state`, if the run has it. */
export function taskById(state: SequencerState, id: string): TaskState | undefined {
  const at = state.index.byId.get(id);
  return at === undefined ? undefined : state.tasks[at];
}

/** A stage's tasks as they stand in `tasks`: read again after a change, never kept across one. */
function stageTasks(tasks: readonly TaskState[], index: TaskIndex, stageId: string | undefined): TaskState[] {
  return (index.byStage.get(stageId ?? "") ?? []).map((i) => tasks[i] as TaskState);
}

/** What a step may change, on a state that starts as the previous one and copies what it writes. */
interface Draft {
  state: SequencerState;
  commands: SequencerCommand[];
  set(t: TaskState, status: Status, summary: string): void;
  tasksOf(stageId: string | undefined): TaskState[];
}

function draftOf(prev: SequencerState): Draft {
  let tasks: TaskState[] | undefined;
  let counts: GroupCounts | undefined;
  const state: SequencerState = { ...prev };
  const commands: SequencerCommand[] = [];
  return {
    state,
    commands,
    set(t, status, summary) {
      const i = state.index.byId.get(t.id) as number;
      tasks ??= state.tasks.slice();
      const was = tasks[i] as TaskState;
      tasks[i] = { ...was, status, summary };
      state.tasks = tasks;
      counts ??= state.counts.slice();
      recount(counts, state.index, i, was.status, status);
      state.counts = counts;
      commands.push({ type: "task_status", taskId: t.id, status, summary });
    },
    tasksOf: (stageId) => stageTasks(state.tasks, state.index, stageId),
  };
}

export function step(prev: SequencerState, event: SequencerEvent): Step {
  if (prev.finished) return { state: prev, commands: [] };
  const draft = draftOf(prev);
  const { state, commands, set } = draft;

  switch (event.type) {
    case "start":
      break;
    case "task_done": {
      const t = taskById(state, event.taskId);
      // Only a running task can finish: a repeat or a result for a lost task changes nothing.
      if (!t || t.status !== Status.RUNNING) break;
      // A status that is not final (from the wire, unchecked) would leave the task neither running
      // nor done, and the run waiting forever: it is the machinery breaking, so an error.
      if (isTerminal(event.status)) set(t, event.status, event.summary);
      else set(t, Status.ERROR, `agent reported task done with status ${statusName(event.status)}${event.summary ? `: ${event.summary}` : ""}`);
      break;
    }
    case "node_online": {
      state.offline = without(state.offline, event.node);
      state.lost = without(state.lost, event.node);
      // A task in flight when the link dropped is asked again; the agent knows it by id.
      for (const t of draft.tasksOf(state.stages[state.current]?.id)) {
        if (t.node === event.node && t.status === Status.RUNNING) commands.push({ type: "dispatch", taskId: t.id });
      }
      break;
    }
    case "node_offline":
      state.offline = { ...state.offline, [event.node]: true };
      break;
    case "node_lost":
      // The fleet decides (coordinator/fleet/): a node may be lost while connected, when it keeps
      // reconnecting without delivering. Its next connection clears the verdict for later work.
      state.lost = { ...state.lost, [event.node]: event.why };
      break;
    case "cancel":
      for (const t of state.tasks) {
        if (t.status === Status.RUNNING) commands.push({ type: "stop", taskId: t.id, node: t.node });
        if (!isTerminal(t.status)) set(t, Status.CANCELLED, event.reason);
      }
      break;
  }
  schedule(draft);
  return { state, commands };
}

function without<T>(record: Readonly<Record<string, T>>, key: string): Readonly<Record<string, T>> {
  if (!(key in record)) return record;
  const { [key]: _gone, ...rest } = record;
  return rest;
}

// Each step reads the current stage's counts first (task-table.ts) and walks its tasks only when
// there is something to decide: a task that may start, a lost node, a stage that is over. A result
// arriving while the rest of a fleet stage is still running costs two lookups.
function schedule(draft: Draft): void {
  const { state, commands, set } = draft;
  for (;;) {
    const stage = state.stages[state.current];
    if (!stage) {
      finish(state, commands);
      return;
    }
    const positions = state.index.byStage.get(stage.id) ?? [];
    const at = (i: number) => state.tasks[i] as TaskState;
    // Work due now on a lost node is lost; later groups are decided by the barrier (skipped, or waiting).
    if (hasAny(state.lost)) {
      const due = openGroup(state.counts, state.index, stage.id);
      for (const i of positions) {
        const t = at(i);
        if (!isTerminal(t.status) && t.group <= due && state.lost[t.node] !== undefined) set(t, Status.LOST, state.lost[t.node] as string);
      }
    }
    const group = openGroup(state.counts, state.index, stage.id);
    if (group === Infinity) {
      // Every task of the stage is over.
      const outcome = foldStatuses(positions.map((i) => at(i).status));
      if (!isGreen(outcome)) {
        // Gating: a stage runs only when every stage before it is green (passed, or waived).
        for (const t of state.tasks) if (!isTerminal(t.status)) set(t, Status.SKIPPED, `stage ${stage.id} did not pass (${statusName(outcome)})`);
      }
      state.current++;
      continue;
    }
    if (stage.stopOnFailure) {
      const tasks = draft.tasksOf(stage.id);
      const broken = tasks.find((t) => t.group < group && !isGreen(t.status));
      if (broken) {
        const why = `${broken.label} ${statusName(broken.status).replace("_", " ")}${broken.summary ? `: ${broken.summary}` : ""}`;
        for (const t of tasks) if (!isTerminal(t.status)) set(t, Status.SKIPPED, `not run: ${why}`);
        continue;
      }
    }
    if (pendingIn(state.counts, state.index, stage.id, group) === 0) return;
    const { nodeOf, nodeCount } = state.index;
    const busy = new Uint8Array(nodeCount);
    let busyNodes = 0;
    // Each node's earliest pending iteration, as the loop below starts. A task it starts makes its
    // node busy, so no later task of that node gets as far as this test: the figure stays true for
    // every task that reads it. (Asked of the whole stage per task, it made starting a fleet
    // stage of N nodes cost N².)
    const earliestPending = new Float64Array(nodeCount).fill(Infinity);
    for (const i of positions) {
      const t = at(i);
      const n = nodeOf[i] as number;
      if (t.status === Status.RUNNING && !busy[n]) {
        busy[n] = 1;
        busyNodes++;
      } else if (t.status === Status.PENDING && t.iteration < (earliestPending[n] as number)) earliestPending[n] = t.iteration;
    }
    for (const i of positions) {
      const t = at(i);
      const n = nodeOf[i] as number;
      if (t.group !== group) continue;
      if (busyNodes >= stage.parallel) break;
      if (t.status !== Status.PENDING || busy[n] || state.offline[t.node]) continue;
      // A node's iterations run in order: only its earliest pending task may start.
      if ((earliestPending[n] as number) < t.iteration) continue;
      busy[n] = 1;
      busyNodes++;
      set(t, Status.RUNNING, "");
      commands.push({ type: "dispatch", taskId: t.id });
    }
    return;
  }
}

function hasAny(record: Readonly<Record<string, unknown>>): boolean {
  for (const _ in record) return true;
  return false;
}

function finish(state: SequencerState, commands: SequencerCommand[]): void {
  state.finished = true;
  const status = foldStatuses(state.tasks.map((t) => t.status));
  const count = (s: Status) => state.tasks.filter((t) => t.status === s).length;
  const parts = [`${count(Status.PASSED)}/${state.tasks.length} tasks passed`];
  for (const s of [Status.WAIVED, Status.FAILED, Status.NOT_READY, Status.LOST, Status.ERROR, Status.SKIPPED, Status.CANCELLED, Status.INTERRUPTED]) {
    if (count(s)) parts.push(`${count(s)} ${statusName(s).replace("_", " ")}`);
  }
  commands.push({ type: "run_finished", status, summary: parts.join(", ") });
}
