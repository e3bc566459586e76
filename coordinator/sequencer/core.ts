// The sequencer as a pure state machine: (state, event) → { state, commands }. No clock, no
// sockets, no database: whether a node is alive arrives as events from the fleet (online, offline,
// lost — coordinator/fleet/ owns the clock), and the shell applies the commands.
import { foldStatuses, isGreen, isTerminal, Status, statusName } from "../../shared/model/status.js";

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
  /** Nodes not connected now: no task is sent to them. */
  offline: Record<string, true>;
  /** Nodes the fleet declared lost (away too long), with why: their due work is lost. */
  lost: Record<string, string>;
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

export function initialState(stages: PlannedStage[], tasks: PlannedTask[], liveness: Liveness = ALL_ONLINE): SequencerState {
  return {
    stages,
    tasks: tasks.map((t) => ({ ...t, status: Status.PENDING, summary: "" })),
    current: 0,
    ...livenessState(liveness),
    finished: false,
  };
}

/** Rebuilds state from stored task statuses after a coordinator restart. */
export function resumedState(stages: PlannedStage[], tasks: TaskState[], liveness: Liveness): SequencerState {
  let current = 0;
  for (; current < stages.length; current++) {
    const done = tasksOf(tasks, stages[current]?.id);
    // A finished stage that did not pass stays current, so the first step skips the stages after
    // it: the coordinator may have stopped after storing the failure but before storing the skips.
    if (!done.every((t) => isTerminal(t.status)) || !isGreen(foldStatuses(done.map((t) => t.status)))) break;
  }
  return { stages, tasks: tasks.map((t) => ({ ...t })), current, ...livenessState(liveness), finished: false };
}

function tasksOf(tasks: TaskState[], stageId: string | undefined): TaskState[] {
  return tasks.filter((t) => t.stageId === stageId);
}

export function step(prev: SequencerState, event: SequencerEvent): Step {
  if (prev.finished) return { state: prev, commands: [] };
  const state: SequencerState = { ...prev, tasks: prev.tasks.map((t) => ({ ...t })), offline: { ...prev.offline }, lost: { ...prev.lost } };
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
      delete state.offline[event.node];
      delete state.lost[event.node];
      // A task in flight when the link dropped is asked again; the agent knows it by id.
      for (const t of tasksOf(state.tasks, state.stages[state.current]?.id)) {
        if (t.node === event.node && t.status === Status.RUNNING) commands.push({ type: "dispatch", taskId: t.id });
      }
      break;
    }
    case "node_offline":
      state.offline[event.node] = true;
      break;
    case "node_lost":
      // The fleet decides (coordinator/fleet/): a node may be lost while connected, when it keeps
      // reconnecting without delivering. Its next connection clears the verdict for later work.
      state.lost[event.node] = event.why;
      break;
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
    // Work due now on a lost node is lost; later groups are decided by the barrier (skipped, or waiting).
    const due = openGroup(tasks);
    for (const t of tasks) if (!isTerminal(t.status) && t.group <= due && state.lost[t.node] !== undefined) set(t, Status.LOST, state.lost[t.node] as string);
    if (tasks.every((t) => isTerminal(t.status))) {
      const outcome = foldStatuses(tasks.map((t) => t.status));
      if (!isGreen(outcome)) {
        // Gating: a stage runs only when every stage before it is green (passed, or waived).
        for (const t of state.tasks) if (!isTerminal(t.status)) set(t, Status.SKIPPED, `stage ${stage.id} did not pass (${statusName(outcome)})`);
      }
      state.current++;
      continue;
    }
    const group = openGroup(tasks);
    if (stage.stopOnFailure) {
      const broken = tasks.find((t) => t.group < group && !isGreen(t.status));
      if (broken) {
        const why = `${broken.label} ${statusName(broken.status).replace("_", " ")}${broken.summary ? `: ${broken.summary}` : ""}`;
        for (const t of tasks) if (!isTerminal(t.status)) set(t, Status.SKIPPED, `not run: ${why}`);
        continue;
      }
    }
    const busy = new Set(tasks.filter((t) => t.status === Status.RUNNING).map((t) => t.node));
    // Each node's earliest pending iteration, as the loop below starts. A task it starts makes its
    // node busy, so no later task of that node gets as far as this test: the figure stays true for
    // every task that reads it. (Asked of the whole stage per task, it made starting a fleet
    // stage of N nodes cost N².)
    const earliestPending = new Map<string, number>();
    for (const o of tasks) if (o.status === Status.PENDING && o.iteration < (earliestPending.get(o.node) ?? Infinity)) earliestPending.set(o.node, o.iteration);
    for (const t of tasks) {
      if (t.group !== group) continue;
      if (busy.size >= stage.parallel) break;
      if (t.status !== Status.PENDING || busy.has(t.node) || state.offline[t.node]) continue;
      // A node's iterations run in order: only its earliest pending task may start.
      if ((earliestPending.get(t.node) ?? Infinity) < t.iteration) continue;
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
  for (const s of [Status.WAIVED, Status.FAILED, Status.NOT_READY, Status.LOST, Status.ERROR, Status.SKIPPED, Status.CANCELLED, Status.INTERRUPTED]) {
    if (count(s)) parts.push(`${count(s)} ${statusName(s).replace("_", " ")}`);
  }
  commands.push({ type: "run_finished", status, summary: parts.join(", ") });
}
