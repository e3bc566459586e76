// Pure: the parsed suites a run sends, looked up as the plan writes their paths, and the flags
// that name checks in them (--only, --tags) checked against what the run would send.
import { posix } from "node:path";
import { FleetgateError } from "../../shared/errors.js";
import type { ResolvedCheck, Suite } from "../../shared/model/suite.js";
import type { RunRequest, TaskSpec } from "./run-types.js";

/** The parsed suite a stage or leg names; the CLI sends every suite the plan names with the request. */
export function findSuite(suites: Record<string, Suite>, path: string): Suite {
  const suite = suites[posix.normalize(path)];
  if (!suite) throw new FleetgateError("bad_input", `plan refers to suite ${path}, which was not sent with the run`);
  return suite;
}

/** Gate checks the tasks would run under --only/--tags: suite stages and matrix legs (cross steps are the scenario). */
function selectableChecks(tasks: TaskSpec[]): ResolvedCheck[] {
  const seen = new Set<Suite>();
  const checks: ResolvedCheck[] = [];
  for (const t of tasks) {
    if (t.stageKind === "cross" || !t.suite || seen.has(t.suite)) continue;
    seen.add(t.suite);
    checks.push(...t.suite.checks);
  }
  return checks;
}

/**
 * --only ids and --tags the run's suites do not have: a typo would otherwise run no check at
 * all, and a task with no check is no evidence either way.
 */
export function checkSelection(req: RunRequest, tasks: TaskSpec[]): void {
  const checks = selectableChecks(tasks);
  const ids = [...new Set(checks.map((c) => c.id))];
  for (const id of req.onlyChecks ?? []) {
    if (!ids.includes(id)) throw new FleetgateError("bad_input", `--only ${id}: no such check in the suites of the stages asked for; checks: ${ids.join(", ") || "none"}`);
  }
  const tags = [...new Set(checks.flatMap((c) => c.tags))];
  for (const tag of req.tags ?? []) {
    if (!tags.includes(tag)) throw new FleetgateError("bad_input", `--tags ${tag}: no check in the suites of the stages asked for carries it; tags: ${tags.join(", ") || "none"}`);
  }
}
