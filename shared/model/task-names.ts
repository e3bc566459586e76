// How a task is named, for the sequencer (a cross step's "not run: …" summary), the verdict's
// reasons, the reports and the CLI alike: one format, so a task reads the same wherever it shows.
// Structural, so a TaskRecord, a stored task row and a task being planned all fit.

/** What a task's name is made of. A cross step or matrix leg has a stepId; a cross step a role. */
export interface TaskNameParts {
  stageId: string;
  stepId: string;
  role: string;
  nodeName: string;
  iteration: number;
}

/**
 * A whole task, in prose and as a JUnit/CTRF name: "fleet on node-b #2"; a cross step
 * "cross/fetch on peer (node-b)"; a matrix leg "matrix/e2e on node-a". Steps and legs run once,
 * so they carry no iteration.
 */
export function taskLabel(t: TaskNameParts): string {
  if (!t.stepId) return `${t.stageId} on ${t.nodeName} #${t.iteration}`;
  return `${taskTarget(t)} on ${t.role ? `${t.role} (${t.nodeName})` : t.nodeName}`;
}

/** What a task belongs to, the name --accept-skip takes: `stage`, or `stage/step` for a step or leg. */
export function taskTarget(t: Pick<TaskNameParts, "stageId" | "stepId">): string {
  return t.stepId ? `${t.stageId}/${t.stepId}` : t.stageId;
}
