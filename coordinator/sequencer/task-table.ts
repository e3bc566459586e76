// How the sequencer finds its way among a run's tasks without walking them all on every step: an
// index built once per run (where each task, stage and node is) and, per group of each stage, how
// many tasks are not over yet and how many are still pending — counts a step updates as it changes
// statuses. At 5,000 nodes a fleet stage's results used to cost a walk of the stage each (N² for
// the stage); with the counts, a result that starts nothing reads two numbers.
import { isTerminal, Status } from "../../shared/model/status.js";
import type { PlannedTask } from "./core.js";

export interface TaskIndex {
  byId: ReadonlyMap<string, number>;
  /** Stage id → positions of its tasks in the run's task array, in order. */
  byStage: ReadonlyMap<string, readonly number[]>;
  /** Position → its node's number (0 ≤ n < nodeCount): per-node figures in flat arrays, not maps. */
  nodeOf: Int32Array;
  nodeCount: number;
  slotCount: number;
  /** Position → the slot of its (stage, group) in GroupCounts. */
  slotOf: Int32Array;
  /** Stage id → its groups in ascending order, each with its slot. */
  groupsOf: ReadonlyMap<string, readonly { group: number; slot: number }[]>;
}

/**
 * Per (stage, group) slot: [2·slot] tasks not over yet, [2·slot + 1] tasks pending. Never changed
 * in place once a state holds it: a step that changes a status changes its own copy.
 */
export type GroupCounts = Int32Array;

export function indexTasks(tasks: readonly PlannedTask[]): TaskIndex {
  const byId = new Map<string, number>();
  const byStage = new Map<string, number[]>();
  const nodeNumbers = new Map<string, number>();
  const slots = new Map<string, Map<number, number>>();
  const nodeOf = new Int32Array(tasks.length);
  const slotOf = new Int32Array(tasks.length);
  let slotCount = 0;
  tasks.forEach((t, i) => {
    byId.set(t.id, i);
    if (!nodeNumbers.has(t.node)) nodeNumbers.set(t.node, nodeNumbers.size);
    nodeOf[i] = nodeNumbers.get(t.node) as number;
    const positions = byStage.get(t.stageId);
    if (positions) positions.push(i);
    else byStage.set(t.stageId, [i]);
    let groups = slots.get(t.stageId);
    if (!groups) slots.set(t.stageId, (groups = new Map()));
    if (!groups.has(t.group)) groups.set(t.group, slotCount++);
    slotOf[i] = groups.get(t.group) as number;
  });
  const groupsOf = new Map([...slots].map(([stage, groups]) => [stage, [...groups].map(([group, slot]) => ({ group, slot })).sort((a, b) => a.group - b.group)]));
  return { byId, byStage, nodeOf, nodeCount: nodeNumbers.size, slotCount, slotOf, groupsOf };
}

export function countGroups(tasks: readonly { status: Status }[], index: TaskIndex): GroupCounts {
  const counts = new Int32Array(2 * index.slotCount);
  tasks.forEach((t, i) => bump(counts, index.slotOf[i] as number, t.status, 1));
  return counts;
}

/** Counts the task at `position` going from one status to another, in `counts`: a step's own copy. */
export function recount(counts: GroupCounts, index: TaskIndex, position: number, from: Status, to: Status): void {
  const slot = index.slotOf[position] as number;
  bump(counts, slot, from, -1);
  bump(counts, slot, to, 1);
}

function bump(counts: GroupCounts, slot: number, status: Status, by: number): void {
  if (!isTerminal(status)) counts[2 * slot] = (counts[2 * slot] as number) + by;
  if (status === Status.PENDING) counts[2 * slot + 1] = (counts[2 * slot + 1] as number) + by;
}

/** The stage's earliest group with work left (groups before it have all finished); Infinity when none. */
export function openGroup(counts: GroupCounts, index: TaskIndex, stageId: string): number {
  for (const { group, slot } of index.groupsOf.get(stageId) ?? []) if ((counts[2 * slot] as number) > 0) return group;
  return Infinity;
}

/** How many tasks of the stage's group wait to start. */
export function pendingIn(counts: GroupCounts, index: TaskIndex, stageId: string, group: number): number {
  const slot = index.groupsOf.get(stageId)?.find((g) => g.group === group)?.slot;
  return slot === undefined ? 0 : (counts[2 * slot + 1] as number);
}
