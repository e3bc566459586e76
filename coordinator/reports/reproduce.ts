// The command that re-runs one check that did not pass, as a person would paste it into a shell.
// Pure: a run, a task and a check in, a command line out.
//
// A check from a suite is re-run on its node, alone: `fleetgate-agent check SUITE --only ID`, with
// the suite path resolved as `coord run` resolves it (relative to the plan's directory), so the
// line works from a checkout of the plan. A precondition has no `--only` (preconditions always
// run first), so it is reproduced by the suite itself, which stops there on a node not ready.
// A cross step or an inline matrix leg has no suite file, and a leg's `requires:` probe is in the
// plan: they are re-run from the workstation with `coord run STAGE --plan PLAN`, a cross stage
// whole and with the same role bindings (its steps feed each other captured values, so one step
// alone proves nothing), a leg pinned to its node.
import { posix } from "node:path";
import type { CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import type { RunRecord, TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status } from "../../shared/model/status.js";

export interface Reproduce {
  /** Where to run it: on the node itself, or from the workstation that drives the coordinator. */
  where: "node" | "workstation";
  node: string;
  command: string;
}

// Characters a POSIX shell never treats specially outside quotes.
const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one argument for a POSIX shell: bare when safe, else in single quotes. */
export function shellQuote(arg: string): string {
  if (arg !== "" && SAFE.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function shellCommand(argv: string[]): string {
  return argv.map(shellQuote).join(" ");
}

/** The suite file as `coord run` read it: relative to the plan's directory. */
export function suiteFile(planPath: string, suitePath: string): string {
  if (suitePath.startsWith("/") || !planPath) return suitePath;
  return posix.join(posix.dirname(planPath), suitePath);
}

/** Statuses worth re-running: the check ran (or was stopped by a precondition) and did not pass. */
export function needsReproduce(status: Status): boolean {
  return status === Status.FAILED || status === Status.ERROR || status === Status.NOT_READY;
}

function coordRun(run: RunRecord, task: TaskRecord): string[] {
  const argv = ["coord", "run", task.stageId, "--plan", run.planPath || "PLAN.yaml"];
  const bound = run.bindings.filter((b) => b.stageId === task.stageId);
  if (task.stageKind === "cross" && bound.length) {
    for (const b of bound) argv.push("--bind", `${b.role}=${b.node}`);
    return argv;
  }
  argv.push("--node", task.nodeName);
  if (task.stepId && run.withLegs.includes(task.stepId)) argv.push("--with", task.stepId);
  return argv;
}

export function reproduceCheck(run: RunRecord, task: TaskRecord, check: CheckResult): Reproduce | undefined {
  if (!needsReproduce(check.status)) return undefined;
  // A skipped task holds only its leg's `requires:` probes, and those live in the plan, not in the
  // leg's suite: the leg is re-run from the workstation, probes first.
  if (!task.suitePath || task.status === Status.SKIPPED) return { where: "workstation", node: task.nodeName, command: shellCommand(coordRun(run, task)) };
  const argv = ["fleetgate-agent", "check", suiteFile(run.planPath, task.suitePath)];
  if (!check.precondition) argv.push("--only", check.checkId);
  return { where: "node", node: task.nodeName, command: shellCommand(argv) };
}
