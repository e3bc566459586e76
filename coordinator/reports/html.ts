// The run as one self-contained HTML page: verdict, scope, reasons and attestation on top; per
// stage how many rows ended how, then a row × check matrix, rows that did not pass first (worst
// first), each cell a colour and a word (never colour only) with one dot per iteration; a click
// opens the cell's output tails, attempts, inner cases and reproduce line. What passed is
// summarised so a fleet of 1,000 nodes stays a page of a few MB: a row where every task, check and
// inner case passed is one line ("20 checks × 5 iterations: all 100 results passed"), a cell where
// every result passed is "✓ passed ×5" (its output is in the JSON report); anything else keeps
// every detail. Filters by status, node and text; printed, everything is expanded. Every piece of
// run data goes through `esc` and only into element text or quoted attributes, never into <style>
// or <script>.
// Pure: same run and judgement, same bytes.
import type { CheckResult } from "../../shared/gen/fleetgate/v1/common_pb.js";
import type { RunRecord, TaskRecord } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { foldStatuses, Status, statusName } from "../../shared/model/status.js";
import { waivedDetail } from "../../shared/model/waivers.js";
import type { Judgement } from "../judgement/types.js";
import { CSS, JS } from "./html-assets.js";
import { reproduceCheck } from "./reproduce.js";
import { allPassed, allSkips, checkPassed, isoTime, reportedStatus, stageViews, worstFirst, type RowView, type StageView } from "./run-view.js";
import { acceptedOverrideLines, runScope, scopeLine } from "./scope.js";
import { varsLine } from "./run-vars.js";
import { insecureNote } from "./transport.js";
import { fleetRosterNote } from "./fleet-roster.js";

const ENTITIES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Text safe in element content and in quoted attributes. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

const label = (s: Status) => `<span class="label s-${statusName(s)}">${statusName(s)}</span>`;

const MARK: Partial<Record<Status, string>> = { [Status.PASSED]: "✓", [Status.FAILED]: "✗", [Status.NOT_READY]: "n", [Status.SKIPPED]: "s", [Status.LOST]: "L", [Status.ERROR]: "E", [Status.CANCELLED]: "c", [Status.INTERRUPTED]: "I", [Status.WAIVED]: "w" };

function dot(iteration: number, s: Status): string {
  return `<i class="dot s-${statusName(s)}" title="#${iteration} ${statusName(s)}">${MARK[s] ?? "·"}</i>`;
}

const plural = (n: number, one: string) => `${n.toLocaleString("en-US")} ${one}${n === 1 ? "" : "s"}`;

/** Above this many reasons, the list scrolls in its own box (printed, it is shown whole). */
const MANY_REASONS = 12;

function verdict(run: RunRecord, j: Judgement): string {
  // Many reasons (a task each, at fleet scale) scroll in a box of their own: every one is there,
  // and the sections under the verdict stay a glance away.
  const items = j.reasons.map((r) => `<li>${esc(r)}</li>`).join("");
  const long = j.reasons.length > MANY_REASONS;
  const reasons = !j.reasons.length
    ? "<p>Every stage passed in full mode, attestation is clean, nothing left skipped.</p>"
    : long
      ? `<p>${plural(j.reasons.length, "reason")}:</p><ul class="reasons long" tabindex="0">${items}</ul>`
      : `<ul class="reasons">${items}</ul>`;
  const meta = [
    `run <code>${esc(run.runId)}</code>`,
    `plan <code>${esc(run.planPath)}</code> (${esc(run.planName)})`,
    `revision <code>${esc(run.planRevision || "unknown")}</code>`,
    `mode ${esc(run.mode || "full")}`,
    `run status ${esc(statusName(run.status))}`,
    `started ${esc(isoTime(run.startedAtMs) || "not started")}`,
    `finished ${esc(isoTime(run.finishedAtMs) || "still running")}`,
  ];
  const insecure = insecureNote(run);
  if (insecure) meta.push(`<strong class="insecure" id="insecure">${esc(insecure)}</strong>`);
  const scope = runScope(run);
  const accepted = acceptedOverrideLines(scope);
  const vars = varsLine(run);
  const roster = fleetRosterNote(run);
  const scopeHtml = `<p class="scope" id="scope">${esc(scopeLine(scope))}</p>${accepted.length ? `<ul class="accepted-overrides">${accepted.map((a) => `<li>${esc(a)}</li>`).join("")}</ul>` : ""}`;
  return `<header class="verdict ${esc(j.decision)}"><h1>Verdict: <span class="word" id="verdict">${esc(j.decision)}</span></h1>
<p class="meta">${meta.join(" · ")}</p>
<p>${j.signable ? "Can be signed off." : "Cannot be signed off."}</p>
${scopeHtml}${vars ? `<p class="vars" id="vars">${esc(vars)}</p>` : ""}${roster ? `<p class="fleet-roster" id="fleet-roster">Fleet roster: ${esc(roster)}</p>` : ""}
${reasons}${waivers(j)}</header>`;
}

// A waiver is never silent: each waived check and each waiver ignored as expired, beside the verdict.
function waivers(j: Judgement): string {
  const waived = j.waived.length ? `<p>Waived (each ran; its outcome excused by a waiver until it expires):</p><ul class="waived" id="waived">${j.waived.map((w) => `<li>${esc(w)}</li>`).join("")}</ul>` : "";
  const expired = j.expiredWaivers.length ? `<p>Expired waivers, ignored (those checks count as they are):</p><ul class="flag" id="expired-waivers">${j.expiredWaivers.map((w) => `<li>${esc(w)}</li>`).join("")}</ul>` : "";
  return waived + expired;
}

function attestation(run: RunRecord): string {
  const items = [...run.attestationFlags.map((f) => `not valid for sign-off: ${f}`), ...run.unsignable.map((u) => `unsignable: ${u}`)];
  const body = items.length ? `<ul>${items.map((i) => `<li class="flag">${esc(i)}</li>`).join("")}</ul>` : "<p>Clean: every result came from the host of the node it names.</p>";
  return `<section id="attestation"><h2>Attestation</h2>${body}</section>`;
}

function signoff(run: RunRecord): string {
  const s = run.signoff;
  if (!s?.by) return `<section id="signoff"><h2>Sign-off</h2><p>Not signed off.</p></section>`;
  const accepted = s.accepted.length ? `<p>Skips accepted by name:</p><ul>${s.accepted.map((a) => `<li><code>${esc(a.target)}</code>: ${esc(a.reason)}</li>`).join("")}</ul>` : "";
  const waived = s.waivers.length ? `<p>Waivers in force when signed off:</p><ul>${s.waivers.map((w) => `<li><code>${esc(w.checkId)}</code> on ${esc(w.node ? `node ${w.node}` : w.role ? `role ${w.role}` : "every node")}: ${esc(w.reason)} (owner ${esc(w.owner)}, expires ${esc(w.expires)}, ${esc(w.source)})</li>`).join("")}</ul>` : "";
  const after = run.afterSignoff.length
    ? `<p>Learnt after sign-off (the signed verdict stands; judge for yourself):</p><ul id="after-signoff">${run.afterSignoff.map((a) => `<li class="flag">${esc(a)}</li>`).join("")}</ul>`
    : "";
  return `<section id="signoff"><h2>Sign-off</h2><p>Signed off by ${esc(s.by)} at ${esc(isoTime(s.atMs))}.</p>${accepted}${waived}${after}</section>`;
}

function skips(run: RunRecord): string {
  const all = allSkips(run);
  if (!all.length) return "";
  const rows = all.map((s) => `<tr><td><code>${esc(s.target)}</code></td><td>${esc(s.node || "—")}</td><td>${esc(s.iterations.join(", ") || "—")}</td><td>${esc(s.source)}</td><td>${esc(s.reason)}</td><td>${s.accepted ? "accepted" : "not accepted"}</td></tr>`);
  return `<section id="skips"><h2>Skips</h2><table><thead><tr><th>target</th><th>node</th><th>#</th><th>source</th><th>reason</th><th>sign-off</th></tr></thead><tbody>${rows.join("")}</tbody></table></section>`;
}

function filters(run: RunRecord, views: StageView[]): string {
  // One box per status a row shows (shownStatus), worst first: a row whose status had no box would never show.
  const shown = worstFirst([...new Set(views.flatMap((v) => v.rows.map(shownStatus)))], (s) => s);
  const statuses = shown.map(({ item }) => statusName(item));
  const nodes = [...new Set(run.tasks.map((t) => t.nodeName))];
  const boxes = statuses.map((s) => `<label><input type="checkbox" name="status" value="${esc(s)}" checked> <span class="label s-${esc(s)}">${esc(s)}</span></label>`);
  const options = nodes.map((n) => `<option value="${esc(n)}">${esc(n)}</option>`);
  return `<form class="filters" id="filters" role="search"><strong>Show</strong> ${boxes.join(" ")}
<label>node <select name="node"><option value="">all nodes</option>${options.join("")}</select></label>
<label>text <input type="search" name="q" placeholder="check, node, output…"></label>
<span><span id="shown">${views.reduce((n, v) => n + v.rows.length, 0)}</span> rows shown</span></form>`;
}

function attempts(c: CheckResult): string {
  if (!c.attemptLog.length) return c.attempts > 1 ? `<p>${c.attempts} attempts.</p>` : "";
  const rows = c.attemptLog.map((a, i) => `<tr><td>${i + 1}</td><td>${esc(isoTime(a.startedAtMs))}</td><td>${Number(a.durationMs)} ms</td><td>${a.passed ? label(Status.PASSED) : label(Status.FAILED)}</td><td>${esc(a.summary)}</td></tr>`);
  return `<h4>Attempts</h4><table><thead><tr><th>#</th><th>started</th><th>took</th><th>result</th><th>summary</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function cases(c: CheckResult): string {
  if (!c.cases.length) return "";
  const rows = c.cases.map((k) => `<tr><td>${esc(k.name)}</td><td>${label(k.status)}</td><td>${Number(k.durationMs)} ms</td><td>${esc(k.message)}</td></tr>`);
  return `<h4>Inner cases</h4><table><thead><tr><th>case</th><th>status</th><th>took</th><th>message</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

function checkDetail(run: RunRecord, t: TaskRecord, c: CheckResult): string {
  const r = reproduceCheck(run, t, c);
  const parts = [
    `<h4>#${t.iteration} ${esc(c.precondition ? `precondition ${c.checkId}` : c.checkId)} ${label(c.status)}</h4>`,
    `<p>${esc(c.waiver ? waivedDetail(c) : c.summary || c.reason || "no summary")}</p>`,
    c.reason && c.summary ? `<p>reason: ${esc(c.reason)}</p>` : "",
    c.hint ? `<p>hint: ${esc(c.hint)}</p>` : "",
    c.runAs ? `<p class="meta">ran as user ${esc(c.runAs)}</p>` : "",
    r ? `<p class="repro">reproduce ${r.where === "node" ? `on ${esc(r.node)}` : "from the workstation"}: <code>${esc(r.command)}</code></p>` : "",
    attempts(c),
    cases(c),
    c.stdoutTail ? `<h4>stdout (tail)</h4><pre>${esc(c.stdoutTail)}</pre>` : "",
    c.stderrTail ? `<h4>stderr (tail)</h4><pre>${esc(c.stderrTail)}</pre>` : "",
  ];
  return parts.filter(Boolean).join("\n");
}

function taskDetail(t: TaskRecord): string {
  return `<h4>#${t.iteration} task ${label(t.status)}</h4><p>${esc(t.summary || "no summary")}</p><p class="meta">started ${esc(isoTime(t.startedAtMs) || "—")}, finished ${esc(isoTime(t.finishedAtMs) || "—")}</p>`;
}

interface Cell {
  status: Status;
  dots: string;
  detail: string;
}

function taskCell(row: RowView): Cell {
  return { status: row.status, dots: row.tasks.map((t) => dot(t.iteration, t.status)).join(""), detail: row.tasks.map(taskDetail).join("\n") };
}

/** A check's results in a row, by iteration. */
function checkResults(row: RowView, checkId: string): { t: TaskRecord; c: CheckResult }[] {
  return row.tasks.flatMap((t) => t.checks.filter((c) => c.checkId === checkId).map((c) => ({ t, c })));
}

function checkCell(run: RunRecord, seen: { t: TaskRecord; c: CheckResult }[]): Cell {
  return {
    status: foldStatuses(seen.map((x) => x.c.status)),
    dots: seen.map(({ t, c }) => dot(t.iteration, c.status)).join(""),
    detail: seen.map(({ t, c }) => checkDetail(run, t, c)).join("\n"),
  };
}

/**
 * A cell whose every result (and inner case) passed, in one word and a count: its passing output
 * is in the JSON report. Only a pass is ever summarised this way; anything else keeps its cell.
 */
function passedCell(seen: { t: TaskRecord; c: CheckResult }[]): string {
  const summaries = [...new Set(seen.map(({ c }) => c.summary).filter(Boolean))];
  // A check run as a user: says so here too: a passed cell draws no detail.
  const users = [...new Set(seen.map(({ c }) => c.runAs).filter(Boolean))];
  const title = `passed in ${seen.map(({ t }) => `#${t.iteration}`).join(", ")}${summaries.length ? `: ${summaries.join("; ")}` : ""}${users.length ? ` (as ${users.join(", ")})` : ""}`;
  return `<td class="cell s-passed all-passed" title="${esc(title)}">✓ passed ×${seen.length}</td>`;
}

/** A row where everything passed: one line saying how much passed, nothing to open. */
function passedRow(s: StageView, row: RowView, rowId: string): string {
  const ids = new Set(row.tasks.flatMap((t) => t.checks.map((c) => c.checkId)));
  const results = row.tasks.reduce((n, t) => n + t.checks.length, 0);
  const what = results === ids.size * row.tasks.length
    ? `${plural(ids.size, "check")} × ${plural(row.tasks.length, "iteration")}: all ${plural(results, "result")} passed`
    : `${plural(results, "result")} of ${plural(ids.size, "check")} in ${plural(row.tasks.length, "iteration")}: all passed`;
  // The text filter matches a row by its checks: listed only when they are not the stage's.
  const same = ids.size === s.checkIds.length && s.checkIds.every((id) => ids.has(id));
  const checks = same ? "" : ` data-checks="${esc([...ids].join(" "))}"`;
  return `<tr class="row" id="${rowId}" data-status="passed" data-node="${esc(row.node)}"${checks}><th>${esc(row.label)}</th><td class="cell s-passed all-passed" colspan="${s.checkIds.length + 1}"><span class="label s-passed">passed</span> ${what}</td></tr>`;
}

function fullRow(run: RunRecord, s: StageView, row: RowView, status: Status, rowId: string, cols: string[]): string {
  const cells: (Cell | string | undefined)[] = [taskCell(row)];
  for (const id of s.checkIds) {
    const seen = checkResults(row, id);
    cells.push(!seen.length ? undefined : seen.every(({ c }) => checkPassed(c)) ? passedCell(seen) : checkCell(run, seen));
  }
  const tds = cells.map((cell, c) => {
    if (!cell) return `<td class="cell empty">—</td>`;
    if (typeof cell === "string") return cell;
    const name = statusName(cell.status);
    return `<td class="cell s-${name}"><button type="button" aria-expanded="false" aria-controls="d-${rowId}-${c}" data-status="${name}"><span class="label s-${name}">${name}</span><span class="dots">${cell.dots}</span></button></td>`;
  });
  const details = cells.map((cell, c) => (cell && typeof cell !== "string" ? `<div class="detail s-${statusName(cell.status)}" id="d-${rowId}-${c}" hidden><h3>${esc(row.label)} · ${esc(cols[c] ?? "")}</h3>\n${cell.detail}</div>` : "")).join("");
  return `<tr class="row" id="${rowId}" data-details="x-${rowId}" data-status="${statusName(status)}" data-node="${esc(row.node)}"><th>${esc(row.label)}</th>${tds.join("")}</tr>
<tr class="details" id="x-${rowId}" hidden><td colspan="${cols.length + 1}">${details}</td></tr>`;
}

/**
 * What a row shows and is filtered by: its tasks and every check in them folded, so a row holding
 * a check that did not pass never reads (or filters) as passed, whatever its tasks said.
 */
function shownStatus(row: RowView): Status {
  return foldStatuses([row.status, ...row.tasks.flatMap((t) => t.checks.map((c) => reportedStatus(t, c.status)))]);
}

/** How many rows ended how, worst first: what the stage holds before its first row is read. */
function stageCounts(rows: { status: Status }[], noun: string): string {
  const counts = new Map<Status, number>();
  for (const { item } of worstFirst(rows, (r) => r.status)) counts.set(item.status, (counts.get(item.status) ?? 0) + 1);
  const parts = [...counts].map(([status, n]) => `${label(status)} ${n.toLocaleString("en-US")}`);
  return `<p class="stage-counts">${plural(rows.length, noun)}: ${parts.join(" · ")}${counts.size > 1 ? ` — ${noun}s that did not pass first` : ""}</p>`;
}

function stage(run: RunRecord, s: StageView, index: number): string {
  const head = `<h2 id="stage-${index}">${esc(s.id)}${s.kind ? ` <small>(${esc(s.kind)})</small>` : ""} ${label(s.status)}</h2>`;
  if (!s.rows.length) return `<section class="stage">${head}<p>No task ran in this stage.</p></section>`;
  const cols = ["task", ...s.checkIds];
  const noun = s.kind === "cross" ? "step" : s.kind === "matrix" ? "leg" : "node";
  const thead = `<thead><tr><th>${noun}</th>${cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr></thead>`;
  const rows = s.rows.map((row) => ({ row, status: shownStatus(row) }));
  // Row ids keep plan order (r = the row's place in the plan), whatever order the rows are shown in.
  const body = worstFirst(rows, (r) => r.status).map(({ item: { row, status }, index: r }) => {
    const rowId = `r${index}-${r}`;
    return allPassed(row.tasks) ? passedRow(s, row, rowId) : fullRow(run, s, row, status, rowId, cols);
  });
  const summarised = body.some((b) => b.includes('class="cell s-passed all-passed"'));
  const note = summarised ? `<p class="meta">Rows and cells where everything passed are summarised; their output is in the JSON report: <code>coord report ${esc(run.runId)} --format json</code></p>` : "";
  return `<section class="stage">${head}${stageCounts(rows, noun)}${note}<div class="wide"><table class="matrix">${thead}<tbody>${body.join("\n")}</tbody></table></div></section>`;
}

export function htmlReport(run: RunRecord, judgement: Judgement): string {
  const views = stageViews(run);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(`${judgement.decision} — run ${run.runId} (${run.planName})`)}</title>
<style>${CSS}</style>
</head>
<body>
${verdict(run, judgement)}
${attestation(run)}
${signoff(run)}
${skips(run)}
<h2>Stages</h2>
${filters(run, views)}
${views.map((s, i) => stage(run, s, i)).join("\n")}
<script>${JS}</script>
</body>
</html>
`;
}
