// The run as Markdown, for release notes. Pure: the same run gives the same bytes.
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status, statusName } from "../../shared/model/status.js";
import { byStageAndNode, foldTasks, runOutcome } from "../cli/format.js";

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

export function markdownReport(run: RunRecord): string {
  const out: string[] = [];
  out.push(`# Run ${run.runId} — ${run.planName}: ${runOutcome(run.status)}`, "");
  out.push(`- plan: \`${run.planPath}\``);
  out.push(`- stages: ${run.stages.join(", ")}`);
  out.push(`- started: ${new Date(Number(run.startedAtMs)).toISOString()}`);
  if (run.finishedAtMs > 0n) out.push(`- finished: ${new Date(Number(run.finishedAtMs)).toISOString()}`);
  out.push("");
  if (run.attestationFlags.length) {
    out.push("## Not valid for sign-off", "");
    for (const f of run.attestationFlags) out.push(`- ${f}`);
    out.push("");
  }
  out.push("## Stages", "", "| stage | node | iterations | status | detail |", "|---|---|---|---|---|");
  for (const g of byStageAndNode(run)) {
    const status = foldTasks(g.tasks);
    const passed = g.tasks.filter((t) => t.status === Status.PASSED).length;
    const worst = g.tasks.find((t) => t.status === status && status !== Status.PASSED);
    out.push(`| ${g.stage} | ${g.node} | ${passed}/${g.tasks.length} | ${statusName(status)} | ${cell(worst?.summary ?? "")} |`);
  }
  out.push("");
  const notPassed = run.tasks.flatMap((t) => t.checks.filter((c) => c.status !== Status.PASSED).map((c) => ({ t, c })));
  if (notPassed.length) {
    out.push("## Checks that did not pass", "", "| stage | node | # | check | status | observed | hint |", "|---|---|---|---|---|---|---|");
    for (const { t, c } of notPassed) {
      const id = c.precondition ? `${c.checkId} (precondition)` : c.checkId;
      out.push(`| ${t.stageId} | ${t.nodeName} | ${t.iteration} | ${cell(id)} | ${statusName(c.status)} | ${cell(c.summary)} | ${cell(c.hint)} |`);
    }
    out.push("");
  }
  return `${out.join("\n")}\n`;
}
