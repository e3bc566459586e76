// Human output of the coord CLI. Pure: records in, text out.
import type { CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import type { CheckUpdate, NodeInfo, RunRecord, TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { humanDuration } from "../../shared/durations.js";
import { formatLabels } from "../../shared/labels.js";
import { Status, statusMark, statusName } from "../../shared/model/status.js";

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd()).join("\n");
}

export function formatNodes(nodes: NodeInfo[], now = Date.now()): string {
  if (!nodes.length) return "no nodes registered; start an agent with: fleetgate-agent run --coordinator HOST:PORT --token $(coord token create)";
  const rows = [["NAME", "ROLE", "STATUS", "LAST SEEN", "MACHINE-ID", "HOSTNAME", "LABELS", "FLAGS"]];
  for (const n of nodes) {
    const id = n.identity;
    rows.push([
      id?.name ?? "",
      id?.labels.role ?? "-",
      n.online ? "online" : "offline",
      n.online ? "now" : `${humanDuration(now - Number(n.lastSeenMs))} ago`,
      (id?.machineId ?? "").slice(0, 12),
      id?.hostname ?? "",
      formatLabels(id?.labels ?? {}) || "-",
      n.flags.join("; ") || "-",
    ]);
  }
  return table(rows);
}

export function formatCheckUpdate(u: CheckUpdate): string {
  const r = u.result as CheckResult;
  const what = r.precondition ? `precondition ${r.checkId}` : r.checkId;
  const line = `[${u.stageId}] ${u.nodeName} #${u.iteration}  ${statusMark(r.status)}  ${what}  ${r.summary}`;
  return r.hint && r.status !== Status.PASSED ? `${line}\n      hint: ${r.hint}` : line;
}

export function formatTaskUpdate(t: TaskRecord): string | undefined {
  if (t.status === Status.RUNNING) return `[${t.stageId}] ${t.nodeName} #${t.iteration}  started`;
  if (t.status === Status.PENDING) return undefined;
  return `[${t.stageId}] ${t.nodeName} #${t.iteration}  => ${statusName(t.status)}${t.summary ? `: ${t.summary}` : ""}`;
}

const DOT: Partial<Record<Status, string>> = { [Status.PASSED]: "+", [Status.FAILED]: "x", [Status.NOT_READY]: "n", [Status.SKIPPED]: "s", [Status.LOST]: "L", [Status.ERROR]: "E", [Status.CANCELLED]: "c" };

/** Groups a run's tasks by stage and node, in plan order. */
export function byStageAndNode(run: RunRecord): { stage: string; node: string; tasks: TaskRecord[] }[] {
  const groups: { stage: string; node: string; tasks: TaskRecord[] }[] = [];
  for (const t of run.tasks) {
    let g = groups.find((x) => x.stage === t.stageId && x.node === t.nodeName);
    if (!g) groups.push((g = { stage: t.stageId, node: t.nodeName, tasks: [] }));
    g.tasks.push(t);
  }
  return groups;
}

export function foldTasks(tasks: TaskRecord[]): Status {
  for (const s of [Status.FAILED, Status.ERROR, Status.LOST, Status.NOT_READY, Status.CANCELLED, Status.SKIPPED, Status.RUNNING, Status.PENDING]) {
    if (tasks.some((t) => t.status === s)) return s;
  }
  return Status.PASSED;
}

/** The word a release manager reads first. */
export function runOutcome(status: Status): "PASSED" | "FAILED" | "INCOMPLETE" | "RUNNING" {
  if (status === Status.PASSED) return "PASSED";
  if (status === Status.FAILED) return "FAILED";
  if (status === Status.RUNNING || status === Status.PENDING) return "RUNNING";
  return "INCOMPLETE";
}

/** 0 passed, 1 failed, 2 incomplete (not ready, lost, skipped, error, cancelled). */
export function runExitCode(status: Status): number {
  if (status === Status.PASSED) return 0;
  if (status === Status.FAILED) return 1;
  return 2;
}

export function formatRunSummary(run: RunRecord): string {
  const rows = [["STAGE", "NODE", "ITERATIONS", "STATUS", "DETAIL"]];
  for (const g of byStageAndNode(run)) {
    const passed = g.tasks.filter((t) => t.status === Status.PASSED).length;
    const status = foldTasks(g.tasks);
    const worst = g.tasks.find((t) => t.status === status && status !== Status.PASSED);
    rows.push([g.stage, g.node, `${g.tasks.map((t) => DOT[t.status] ?? ".").join("")} ${passed}/${g.tasks.length}`, statusName(status), worst?.summary ?? ""]);
  }
  const lines = [table(rows), "", `run ${run.runId} (${run.planName}): ${runOutcome(run.status)}`];
  for (const f of run.attestationFlags) lines.push(`  not valid for sign-off: ${f}`);
  return lines.join("\n");
}

export function formatRunList(runs: RunRecord[]): string {
  if (!runs.length) return "no runs yet; start one with: coord run all --plan PLAN.yaml";
  const rows = [["RUN", "PLAN", "STAGES", "STARTED", "RESULT"]];
  for (const r of runs) rows.push([r.runId, r.planName, r.stages.join(","), new Date(Number(r.startedAtMs)).toISOString(), runOutcome(r.status)]);
  return table(rows);
}
