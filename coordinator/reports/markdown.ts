// The run as Markdown, for release notes: the verdict, every reason and the run's scope first, then
// what was run where, every skip, sign-off and attestation, and each check that did not pass with
// the line that re-runs it. Pure: the same run and judgement give the same bytes.
import type { RunRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { Status, statusName } from "../../shared/model/status.js";
import { taskTarget } from "../../shared/model/task-names.js";
import type { Judgement } from "../judgement/types.js";
import { judgeRun } from "../judgement/verdict.js";
import { allSkips, isoTime, notPassedChecks, reportedStatus, reproduceLines, stageViews, type RowView, type StageView } from "./run-view.js";
import { acceptedOverrideLines, runScope, scopeLine } from "./scope.js";
import { varsLine } from "./run-vars.js";
import { insecureNote } from "./transport.js";
import { fleetRosterNote } from "./fleet-roster.js";
import { waivedRows, waiverSelector } from "./waiver-view.js";

/** Free text that must read as itself: no emphasis, link, code or HTML tag can start in it. */
function text(s: string): string {
  return s.replace(/[\\`*<>[\]]/g, (c) => `\\${c}`).replace(/\r?\n/g, " ");
}

/** A table cell: also no pipe may break the row. */
function cell(s: string): string {
  return text(s).replace(/\|/g, "\\|").trim();
}

/** Inline code that survives backticks in the text (a fence longer than any run inside it). */
function code(text: string): string {
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  const fence = "`".repeat(longest + 1);
  return longest ? `${fence} ${text} ${fence}` : `${fence}${text}${fence}`;
}

function header(run: RunRecord, j: Judgement): string[] {
  const out = [`# Run ${run.runId} — ${run.planName}: ${j.decision}`, ""];
  out.push(`**Verdict: ${j.decision}** — ${j.signable ? "can be signed off" : "cannot be signed off"}`, "");
  for (const r of j.reasons) out.push(`- ${text(r)}`);
  if (j.reasons.length) out.push("");
  if (j.waived.length) out.push(`**Waived: ${j.waived.length} check result${j.waived.length === 1 ? "" : "s"}** (see Waivers): each ran; its outcome is excused by a waiver until it expires.`, "");
  const insecure = insecureNote(run);
  if (insecure) out.push(`**${text(insecure)}**`, "");
  const roster = fleetRosterNote(run);
  if (roster) out.push(`**Fleet roster:** ${text(roster)}`, "");
  const scope = runScope(run);
  out.push(text(scopeLine(scope)), "");
  const vars = varsLine(run);
  if (vars) out.push(text(vars), "");
  const accepted = acceptedOverrideLines(scope);
  for (const a of accepted) out.push(`- ${text(a)}`);
  if (accepted.length) out.push("");
  out.push("| | |", "|---|---|");
  out.push(`| plan | ${code(run.planPath.replace(/\|/g, "\\|"))} (${cell(run.planName)}) |`);
  out.push(`| revision | ${run.planRevision ? code(run.planRevision) : "unknown"} |`);
  out.push(`| mode | ${run.mode || "full"} |`);
  out.push(`| run status | ${statusName(run.status)} |`);
  out.push(`| stages | ${cell(run.stages.join(", "))} |`);
  if (run.withLegs.length) out.push(`| opt-in legs | ${cell(run.withLegs.join(", "))} |`);
  out.push(`| started | ${isoTime(run.startedAtMs) || "not started"} |`);
  out.push(`| finished | ${isoTime(run.finishedAtMs) || "still running"} |`);
  return [...out, ""];
}

function attestation(run: RunRecord): string[] {
  const out = ["## Attestation", ""];
  if (!run.attestationFlags.length && !run.unsignable.length) return [...out, "Clean: every result came from the host of the node it names.", ""];
  for (const f of run.attestationFlags) out.push(`- not valid for sign-off: ${text(f)}`);
  for (const u of run.unsignable) out.push(`- unsignable: ${text(u)}`);
  return [...out, ""];
}

function signoff(run: RunRecord): string[] {
  const s = run.signoff;
  if (!s?.by) return ["## Sign-off", "", "Not signed off.", ""];
  const out = ["## Sign-off", "", `Signed off by ${text(s.by)} at ${isoTime(s.atMs)}.`];
  if (run.afterSignoff.length) {
    out.push("", "Learnt after sign-off (the signed verdict stands; judge for yourself):", "");
    for (const a of run.afterSignoff) out.push(`- ${text(a)}`);
  }
  if (s.accepted.length) {
    out.push("", "Skips accepted by name:", "");
    for (const a of s.accepted) out.push(`- ${code(a.target)}: ${text(a.reason)}`);
  }
  if (s.waivers.length) {
    out.push("", "Waivers in force when signed off:", "");
    for (const w of s.waivers) out.push(`- ${code(w.checkId)} on ${text(waiverSelector(w))}: ${text(w.reason)} (owner ${text(w.owner)}, expires ${w.expires}, ${text(w.source)})`);
  }
  return [...out, ""];
}

// A waiver is never silent: every waived check, GO or not, and every waiver ignored as expired.
function waivers(run: RunRecord, j: Judgement): string[] {
  const rows = waivedRows(run);
  if (!rows.length && !j.expiredWaivers.length) return [];
  const out = ["## Waivers", ""];
  if (rows.length) {
    out.push("| stage | node | # | check | underneath | observed | owner | expires | reason | waiver |", "|---|---|---|---|---|---|---|---|---|---|");
    for (const r of rows) {
      const w = r.waiver;
      out.push(`| ${[r.target, r.node, String(r.iteration), r.check, r.underneath, r.summary, w.owner, w.expires, w.reason, w.source].map(cell).join(" | ")} |`);
    }
    out.push("");
  }
  if (j.expiredWaivers.length) {
    out.push("Expired, ignored (those checks count as they are):", "");
    for (const e of j.expiredWaivers) out.push(`- ${text(e)}`);
    out.push("");
  }
  return out;
}

function skips(run: RunRecord): string[] {
  const all = allSkips(run);
  if (!all.length) return [];
  const out = ["## Skips", "", "| target | node | # | source | reason | accepted |", "|---|---|---|---|---|---|"];
  for (const s of all) {
    out.push(`| ${cell(s.target)} | ${cell(s.node) || "—"} | ${s.iterations.join(", ") || "—"} | ${cell(s.source)} | ${cell(s.reason)} | ${s.accepted ? "yes" : "no"} |`);
  }
  return [...out, ""];
}

function leading(kind: string): string[] {
  if (kind === "cross") return ["step", "role", "node"];
  if (kind === "matrix") return ["leg", "node"];
  return ["node"];
}

function leadingCells(kind: string, row: RowView): string[] {
  if (kind === "cross") return [row.step, row.role || "—", row.node];
  if (kind === "matrix") return [row.step || "—", row.node];
  return [row.node];
}

function worstSummary(row: RowView): string {
  return row.tasks.find((t) => t.status === row.status && t.status !== Status.PASSED)?.summary ?? "";
}

function stage(s: StageView): string[] {
  const out = [`### ${s.id}${s.kind ? ` (${s.kind})` : ""}: ${statusName(s.status)}`, ""];
  if (!s.rows.length) return [...out, "No task ran in this stage.", ""];
  const iters = s.iterations.map((i) => `#${i}`);
  const cols = [...leading(s.kind), ...iters, "status", "passed", "detail"];
  out.push(`| ${cols.join(" | ")} |`, `|${cols.map(() => "---").join("|")}|`);
  for (const row of s.rows) {
    const byIter = s.iterations.map((i) => {
      const t = row.tasks.find((x) => x.iteration === i);
      return t ? statusName(t.status) : "—";
    });
    const passed = row.tasks.filter((t) => t.status === Status.PASSED).length;
    const cells = [...leadingCells(s.kind, row), ...byIter, statusName(row.status), `${passed}/${row.tasks.length}`, worstSummary(row)];
    out.push(`| ${cells.map(cell).join(" | ")} |`);
  }
  return [...out, ""];
}

function notPassed(run: RunRecord): string[] {
  // Skipped checks are listed with the other skips (a probe that skipped its leg, as the leg's
  // skip); everything else that did not pass is here.
  // Waived checks are listed under Waivers, with what they came to.
  const entries = notPassedChecks(run).filter((e) => reportedStatus(e.task, e.check.status) !== Status.SKIPPED && e.check.status !== Status.WAIVED);
  if (!entries.length) return [];
  const out = ["## Checks that did not pass", "", "| stage | node | # | check | status | observed | hint |", "|---|---|---|---|---|---|---|"];
  for (const { task: t, check: c } of entries) {
    const where = taskTarget(t);
    const id = c.precondition ? `${c.checkId} (precondition)` : c.checkId;
    const failedCases = c.cases.filter((k) => k.status !== Status.PASSED && k.status !== Status.SKIPPED).map((k) => k.name);
    const observed = `${failedCases.length ? `${c.summary}; failed: ${failedCases.join(", ")}` : c.summary}${c.runAs ? ` (as ${c.runAs})` : ""}`;
    out.push(`| ${cell(where)} | ${cell(t.nodeName)} | ${t.iteration} | ${cell(id)} | ${statusName(c.status)} | ${cell(observed)} | ${cell(c.hint)} |`);
  }
  out.push("");
  const lines = reproduceLines(entries);
  if (lines.length) {
    out.push("### Reproduce", "");
    for (const r of lines) out.push(`- ${text(r.what)}, ${r.where === "node" ? `on ${r.node}` : `from the workstation (${r.node})`}: ${code(r.command)}`);
    out.push("");
  }
  return out;
}

function flakes(j: Judgement): string[] {
  if (!j.flakes.length) return [];
  const out = ["## Flaky checks", "", "| stage | node | check | passed | runs |", "|---|---|---|---|---|"];
  for (const f of j.flakes) out.push(`| ${cell(f.stageId)} | ${cell(f.node)} | ${cell(f.checkId)} | ${f.passed}/${f.total} | ${cell(f.runIds.join(", "))} |`);
  return [...out, ""];
}

/** `judgement` defaults to this run judged alone (no flake history). */
export function markdownReport(run: RunRecord, judgement: Judgement = judgeRun(run)): string {
  const out = [...header(run, judgement), ...attestation(run), ...signoff(run), ...waivers(run, judgement), ...skips(run), "## Stages", ""];
  for (const s of stageViews(run)) out.push(...stage(s));
  out.push(...notPassed(run), ...flakes(judgement));
  while (out.at(-1) === "") out.pop();
  return `${out.join("\n")}\n`;
}
