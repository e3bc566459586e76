// What `coord run` and `coord watch` show while a run goes on. Pure: WatchRun updates fold into a
// state, and the state (or one update) becomes lines. The writers in progress-writer.ts only put
// those lines on a terminal or a pipe.
import { waivedText } from "../../shared/model/waivers.js";
import { create } from "@bufbuild/protobuf";
import { TaskRecordSchema, type CheckUpdate, type RunSummary, type TaskRecord, type WatchRunResponse } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { isTerminal, Status, statusMark, statusName } from "../../shared/model/status.js";
import { taskTarget } from "../../shared/model/task-names.js";
import { foldTasks } from "../reports/run-view.js";
import { groupTasks, iterationDots, table } from "./format.js";

export interface ProgressState {
  /** Every task seen, by id, in the order first seen: the replay sends them in plan order. */
  tasks: ReadonlyMap<string, TaskRecord>;
  /** The last check reported for each task, by task id. */
  lastCheck: ReadonlyMap<string, { checkId: string; status: Status }>;
  /** The run's summary once it ended; the tasks stay as the updates left them. */
  finished?: RunSummary;
}

export function emptyProgress(): ProgressState {
  return { tasks: new Map(), lastCheck: new Map() };
}

/** The state after one update; the given state is left as it was. */
export function applyUpdate(state: ProgressState, update: WatchRunResponse): ProgressState {
  return applyUpdateInPlace({ ...state, tasks: new Map(state.tasks), lastCheck: new Map(state.lastCheck) }, update);
}

/**
 * applyUpdate changing `state` itself, for a view that holds the only reference to it: copying the
 * maps on every update made following a run of N nodes cost N per check result, N² in all
 * (1,000 nodes × 20 checks: 40 million entries copied).
 */
export function applyUpdateInPlace(state: ProgressState, update: WatchRunResponse): ProgressState {
  const tasks = state.tasks as Map<string, TaskRecord>;
  const lastCheck = state.lastCheck as Map<string, { checkId: string; status: Status }>;
  const e = update.event;
  if (e.case === "task") tasks.set(e.value.taskId, merged(tasks.get(e.value.taskId), e.value));
  else if (e.case === "check") {
    const r = e.value.result;
    if (!r) return state;
    if (!tasks.has(e.value.taskId)) tasks.set(e.value.taskId, taskOf(e.value));
    lastCheck.set(e.value.taskId, { checkId: r.checkId, status: r.status });
  } else if (e.case === "finished") state.finished = e.value;
  return state;
}

// Live task updates carry status and summary only; the step, role and kind come from the replay.
function merged(prev: TaskRecord | undefined, next: TaskRecord): TaskRecord {
  if (!prev) return next;
  return create(TaskRecordSchema, {
    ...next,
    stageKind: next.stageKind || prev.stageKind,
    stepId: next.stepId || prev.stepId,
    role: next.role || prev.role,
    suitePath: next.suitePath || prev.suitePath,
  });
}

// A check can arrive before its task (the replay sends a task's checks first): the task is known
// to be running from then on.
function taskOf(u: CheckUpdate): TaskRecord {
  return create(TaskRecordSchema, { taskId: u.taskId, stageId: u.stageId, nodeName: u.nodeName, iteration: u.iteration, status: Status.RUNNING });
}

// Summaries quote what checks saw: a newline would break the redraw's line count, and an escape
// sequence from a program's output would drive the terminal. One line, controls as spaces.
function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, " ").trim();
}

/** `[fleet]`, or `[handoff/write]` for a cross step or matrix leg. */
function where(state: ProgressState, u: { taskId: string; stageId: string; nodeName: string; iteration: number }): string {
  const step = state.tasks.get(u.taskId)?.stepId;
  return `[${taskTarget({ stageId: u.stageId, stepId: step ?? "" })}] ${u.nodeName} #${u.iteration}`;
}

/**
 * Append-only lines for one update (a pipe, a CI log): each check result, each task start and end.
 * `state` is the state before the update, for the step names of tasks already seen.
 */
export function plainLines(state: ProgressState, update: WatchRunResponse): string[] {
  const e = update.event;
  if (e.case === "check") {
    const r = e.value.result;
    if (!r) return [];
    const what = r.precondition ? `precondition ${r.checkId}` : r.checkId;
    const line = `${where(state, e.value)}  ${statusMark(r.status)}  ${what}  ${oneLine(r.status === Status.WAIVED ? waivedText(r) : r.summary)}${r.runAs ? ` (as ${oneLine(r.runAs)})` : ""}`;
    return [r.hint && r.status !== Status.PASSED ? `${line}\n      hint: ${oneLine(r.hint)}` : line];
  }
  if (e.case === "task") {
    const t = e.value;
    if (t.status === Status.PENDING) return [];
    if (t.status === Status.RUNNING) return [`${where(state, t)}  started`];
    const name = statusName(t.status);
    // "cancelled: release pulled" already says cancelled; do not say it twice.
    const summary = oneLine(t.summary.startsWith(`${name}: `) ? t.summary.slice(name.length + 2) : t.summary);
    return [`${where(state, t)}  => ${name}${summary ? `: ${summary}` : ""}`];
  }
  return [];
}

/**
 * Lines worth keeping above the live block on a terminal: results that are not a pass, with their
 * hint. Passes only move the live block; a failure must still be on screen when the run ends.
 */
export function notableLines(state: ProgressState, update: WatchRunResponse): string[] {
  const e = update.event;
  if (e.case === "check" && e.value.result && e.value.result.status !== Status.PASSED) return plainLines(state, update);
  if (e.case === "task" && isTerminal(e.value.status) && e.value.status !== Status.PASSED) return plainLines(state, update);
  return [];
}

function groupStatus(tasks: TaskRecord[]): string {
  if (tasks.every((t) => isTerminal(t.status))) return statusName(foldTasks(tasks));
  if (tasks.every((t) => t.status === Status.PENDING || t.status === Status.UNSPECIFIED)) return "waiting";
  return "running";
}

// Running: the last check the node reported (it is past it, on the next one). Otherwise the
// first task that did not pass says why; the marks already say how many did.
function groupDetail(state: ProgressState, tasks: TaskRecord[]): string {
  const running = tasks.find((t) => t.status === Status.RUNNING);
  if (running) return `${oneLine(state.lastCheck.get(running.taskId)?.checkId ?? "started")}…`;
  return oneLine(tasks.find((t) => isTerminal(t.status) && t.status !== Status.PASSED)?.summary ?? "");
}

/** `#2/5`: the iteration (or step) a node is on; `5/5` once all are done. */
function position(tasks: TaskRecord[]): string {
  const next = tasks.findIndex((t) => !isTerminal(t.status));
  return next < 0 ? `${tasks.length}/${tasks.length}` : `#${next + 1}/${tasks.length}`;
}

/** The rows of the live block: one per stage and node, aligned like the final table. */
export function liveRows(state: ProgressState): string[][] {
  return groupTasks([...state.tasks.values()]).map((g) => [g.stage, g.node, position(g.tasks), iterationDots(g.tasks), groupStatus(g.tasks), groupDetail(state, g.tasks)]);
}

/**
 * The live block on a terminal: one line per stage and node, then a footer. Lines are cut to
 * `width` so none wraps: the writer moves the cursor up by line count to redraw.
 */
export function renderLive(state: ProgressState, width = 0): string[] {
  const all = [...state.tasks.values()];
  const done = all.filter((t) => isTerminal(t.status)).length;
  const lines = all.length ? table(liveRows(state)).split("\n") : ["waiting for the coordinator…"];
  lines.push(`${done}/${all.length} tasks done; Ctrl-C to cancel the run or detach from it`);
  return width > 0 ? lines.map((l) => cut(l, width)) : lines;
}

function cut(line: string, width: number): string {
  const chars = [...line];
  return chars.length <= width ? line : `${chars.slice(0, Math.max(0, width - 1)).join("")}…`;
}
