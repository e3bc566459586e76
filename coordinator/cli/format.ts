// Human output of the coord CLI. Pure: records in, text out.
import type { NodeInfo, RunRecord, RunSummary, TaskRecord, TokenInfo } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { humanDuration } from "../../shared/durations.js";
import { formatLabels } from "../../shared/labels.js";
import { Status, statusName } from "../../shared/model/status.js";
import { taskLabel, taskTarget } from "../../shared/model/task-names.js";
import { skipItems } from "../judgement/skips.js";
import type { Decision, Judgement } from "../judgement/types.js";
import { judgeRun } from "../judgement/verdict.js";
import { foldTasks } from "../reports/run-view.js";
import { acceptedOverrideLines, runScope, scopeLine } from "../reports/scope.js";
import { varsLine } from "../reports/run-vars.js";
import { insecureNote } from "../reports/transport.js";
import { mergedLabels } from "../fleet/node-labels.js";
import { fleetRosterNote } from "../reports/fleet-roster.js";

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length))) ?? [];
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join("  ").trimEnd()).join("\n");
}

/** A connected node that cannot record results is `degraded`: online, yet every task sent to it ends in error. */
function nodeStatus(n: NodeInfo): string {
  const drained = n.drain ? ",drained" : "";
  if (!n.online) return `offline${drained}`;
  return `${n.health?.degraded ? "degraded" : "online"}${drained}`;
}

/** The labels selectors match (fleet/node-labels.ts: the coordinator's over the agent's), those set with `coord nodes label` marked `*`. */
function nodeLabelsText(n: NodeInfo): string {
  const merged = mergedLabels(n.identity?.labels ?? {}, n.coordinatorLabels);
  return formatLabels(merged)
    .split(",")
    .filter((kv) => kv !== "")
    .map((kv) => (kv.slice(0, kv.indexOf("=")) in n.coordinatorLabels ? `${kv}*` : kv))
    .join(",");
}

function drainFlag(n: NodeInfo, now: number): string[] {
  const d = n.drain;
  if (!d) return [];
  return [`drained ${humanDuration(now - Number(d.atMs))} ago by ${d.by || "?"}${d.reason ? `: ${d.reason}` : ""} (coord nodes undrain ${n.identity?.name ?? ""})`];
}

/** Attestation flags, then an agent older than the coordinator, then what the agent says of itself: why it is degraded, what it repaired. */
function nodeFlags(n: NodeInfo, coordinatorVersion: string): string[] {
  const health = n.online ? n.health : undefined;
  const name = n.identity?.name ?? "";
  const c = n.conflict;
  const conflict = c
    ? [`CONFLICT: machine-id ${c.machineId.slice(0, 12)} (host ${c.hostname || "?"}, ${c.address}) claimed this name ${c.attempts}x; coord nodes replace ${name} hands it over, forget ${name} frees it`]
    : [];
  const plaintext = n.transport === "plaintext" ? ["plaintext"] : [];
  // A rolling upgrade goes coordinator first; an agent left behind is refused after the next one.
  const outdated = n.outdated ? [coordinatorVersion ? `outdated (coordinator ${coordinatorVersion})` : "outdated"] : [];
  return [...conflict, ...n.flags, ...outdated, ...plaintext, ...(health?.degraded ? [`degraded: ${health.degraded}`] : []), ...(health?.warnings ?? [])];
}

/** The line every listing and run starts with when the coordinator serves plaintext. */
export function insecureBanner(transport: string): string {
  return transport === "plaintext" ? "INSECURE: plaintext gRPC (coord serve --insecure): tokens and results cross the network unencrypted\n" : "";
}

/** `coord nodes`: one row per node; VERSION is the agent's, flagged outdated when older than `coordinatorVersion`'s release. */
export function formatNodes(nodes: NodeInfo[], now = Date.now(), transport = "tls", coordinatorVersion = ""): string {
  if (!nodes.length) return `${insecureBanner(transport)}no nodes registered; start an agent with: fleetgate-agent run --coordinator HOST:PORT --ca ca.crt --token $(coord token create)`;
  const rows = [["NAME", "ROLE", "STATUS", "LAST SEEN", "VERSION", "MACHINE-ID", "HOSTNAME", "LABELS", "FLAGS"]];
  for (const n of nodes) {
    const id = n.identity;
    rows.push([
      id?.name ?? "",
      mergedLabels(id?.labels ?? {}, n.coordinatorLabels).role ?? "-",
      nodeStatus(n),
      n.online ? "now" : `${humanDuration(now - Number(n.lastSeenMs))} ago`,
      id?.agentVersion || "?",
      (id?.machineId ?? "").slice(0, 12),
      id?.hostname ?? "",
      nodeLabelsText(n) || "-",
      [...drainFlag(n, now), ...nodeFlags(n, coordinatorVersion)].join("; ") || "-",
    ]);
  }
  const marked = nodes.some((n) => Object.keys(n.coordinatorLabels).length) ? "\n* label set on the coordinator (coord nodes label), over the agent's own" : "";
  return insecureBanner(transport) + table(rows) + marked;
}

/** `coord token list`: one row per enrollment token, whether it can still enroll, and why not. */
export function formatTokens(tokens: TokenInfo[], now = Date.now()): string {
  if (!tokens.length) return "no enrollment tokens; create one with: coord token create";
  const rows = [["ID", "STATE", "USES", "EXPIRES", "DESCRIPTION"]];
  for (const t of tokens) {
    const expires = Number(t.expiresAtMs);
    const state = t.revokedAtMs > 0n ? "revoked" : expires <= now ? "expired" : t.maxUses > 0 && t.uses >= t.maxUses ? "used up" : "usable";
    const when = expires <= now ? `${humanDuration(now - expires)} ago` : `in ${humanDuration(expires - now)}`;
    rows.push([t.id, state, t.maxUses > 0 ? `${t.uses}/${t.maxUses}` : `${t.uses}`, when, t.description || "-"]);
  }
  return table(rows);
}

const DOT: Partial<Record<Status, string>> = { [Status.PASSED]: "+", [Status.FAILED]: "x", [Status.NOT_READY]: "n", [Status.SKIPPED]: "s", [Status.LOST]: "L", [Status.ERROR]: "E", [Status.CANCELLED]: "c", [Status.INTERRUPTED]: "I", [Status.WAIVED]: "w" };

/** One mark per task, in order: `++x.` (a dot for one still to run). */
export function iterationDots(tasks: TaskRecord[]): string {
  return tasks.map((t) => DOT[t.status] ?? ".").join("");
}

export interface TaskGroup {
  stage: string;
  node: string;
  tasks: TaskRecord[];
}

/** Groups tasks by stage and node, in the order given (plan order for a stored run). */
/** One row per stage and node; a cross step or matrix leg is a row of its own (STAGE/STEP). */
export function groupTasks(tasks: TaskRecord[]): TaskGroup[] {
  const groups = new Map<string, TaskGroup>();
  for (const t of tasks) {
    const stage = taskTarget(t);
    const key = `${stage}\u0000${t.nodeName}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { stage, node: t.nodeName, tasks: [] }));
    g.tasks.push(t);
  }
  return [...groups.values()];
}

/** What the run's tasks came to, as the sequencer folded them. The verdict is judged apart. */
export function runOutcome(status: Status): "PASSED" | "WAIVED" | "FAILED" | "INCOMPLETE" | "RUNNING" {
  if (status === Status.PASSED) return "PASSED";
  if (status === Status.WAIVED) return "WAIVED";
  if (status === Status.FAILED) return "FAILED";
  if (status === Status.RUNNING || status === Status.PENDING) return "RUNNING";
  return "INCOMPLETE";
}

/** DESIGN.md: `coord run` exits 0 GO, 1 NO-GO, 2 incomplete. */
export function verdictExitCode(decision: Decision): number {
  return decision === "GO" ? 0 : decision === "NO-GO" ? 1 : 2;
}

/** What a run's end shows of its judgement: judgeRun's, or the coordinator's in a RunSummary (summaryJudgement). */
export type ShownJudgement = Pick<Judgement, "decision" | "reasons" | "waived" | "expiredWaivers">;

const DECISIONS: readonly string[] = ["GO", "NO-GO", "INCOMPLETE"] satisfies Decision[];

/**
 * The verdict the coordinator reached on the whole run, as its summary carries it; undefined from
 * a summary without one (a coordinator older than the field), whose run must be judged whole.
 */
export function summaryJudgement(summary: RunSummary): ShownJudgement | undefined {
  if (!DECISIONS.includes(summary.verdict)) return undefined;
  return { decision: summary.verdict as Decision, reasons: summary.reasons, waived: summary.waived, expiredWaivers: summary.expiredWaivers };
}

function statusTable(run: RunRecord): string {
  const rows = [["STAGE", "NODE", "ITERATIONS", "STATUS", "DETAIL"]];
  for (const g of groupTasks(run.tasks)) {
    const passed = g.tasks.filter((t) => t.status === Status.PASSED).length;
    const status = foldTasks(g.tasks);
    const worst = g.tasks.find((t) => t.status === status && status !== Status.PASSED);
    rows.push([g.stage, g.node, `${iterationDots(g.tasks)} ${passed}/${g.tasks.length}`, statusName(status), worst?.summary ?? ""]);
  }
  return table(rows);
}

// DESIGN rule 3: a skip is never a pass, so every one is listed with its reason, accepted or not.
function skipLines(run: RunRecord): string[] {
  const items = skipItems(run);
  if (!items.length) return [];
  const accepted = new Set((run.signoff?.accepted ?? []).map((s) => s.target));
  const lines = ["skipped (a skip is never a pass):"];
  for (const i of items) {
    const by = i.names.some((n) => accepted.has(n)) ? `; accepted at sign-off by ${run.signoff?.by}` : "";
    lines.push(`  ${i.target}: ${i.reason || "no reason given"} (${i.source}${by})`);
  }
  return [...lines, ""];
}

/** Every waived check (GO or not, a waiver is never silent) and every waiver ignored as expired. */
function waiverLines(judgement: ShownJudgement): string[] {
  const lines: string[] = [];
  if (judgement.waived.length) lines.push(`waived (${judgement.waived.length}; each ran, its outcome excused by a waiver until it expires):`, ...judgement.waived.map((w) => `  ${w}`));
  if (judgement.expiredWaivers.length) lines.push("expired waivers (ignored; those checks count as they are):", ...judgement.expiredWaivers.map((w) => `  ${w}`));
  return lines;
}

/**
 * What `coord run`, `coord watch` and `coord show` end with: the status table, every skip, the
 * run's outcome, then the verdict and each reason it is not GO, the run's scope (full, or how it
 * was narrowed and which narrowing sign-off accepted), and how to get the report.
 */
export function formatRunSummary(run: RunRecord, judgement: ShownJudgement = judgeRun(run)): string {
  const mode = run.mode === "quick" ? ", quick mode" : "";
  const lines = [statusTable(run), "", ...skipLines(run), `run ${run.runId} (${run.planName}${mode}): ${runOutcome(run.status)}`, `verdict: ${judgement.decision}`];
  for (const r of judgement.reasons) lines.push(`  ${r}`);
  lines.push(...waiverLines(judgement));
  const scope = runScope(run);
  lines.push(scopeLine(scope), ...acceptedOverrideLines(scope).map((a) => `  ${a}`));
  const vars = varsLine(run);
  if (vars) lines.push(vars);
  const insecure = insecureNote(run);
  if (insecure) lines.push(insecure);
  const roster = fleetRosterNote(run);
  if (roster) lines.push(`fleet roster: ${roster}`);
  if (run.afterSignoff.length) lines.push("learnt after sign-off (the signed verdict stands):", ...run.afterSignoff.map((a) => `  ${a}`));
  lines.push(`report: coord report ${run.runId} --format md`);
  return lines.join("\n");
}

/** What `coord cancel` (or Ctrl-C, then cancel) stopped, as CancelRun answers: the tasks it names, and how many in all. */
export function formatCancelled(answer: { run?: RunSummary; cancelled: TaskRecord[]; cancelledCount: number; taskCount: number }, runId: string): string {
  const { run, cancelled, taskCount } = answer;
  // A coordinator from before cancelled_count sends only the list.
  const count = Math.max(answer.cancelledCount, cancelled.length);
  const lines = [`run ${runId} (${run?.planName ?? "?"}) cancelled: ${count} of ${taskCount} tasks will not run`];
  for (const t of cancelled) lines.push(`  ${taskLabel(t)}${t.summary ? `: ${t.summary}` : ""}`);
  if (count > cancelled.length) lines.push(`  … and ${count - cancelled.length} more: coord show ${runId}`);
  return lines.join("\n");
}

/** The run list's SCOPE column: `full`, or the names of the overrides (`narrowed:iterations,nodes`). */
function scopeWord(run: RunSummary): string {
  const scope = runScope(run);
  return scope.full ? "full" : `narrowed:${[...new Set(scope.overrides.map((o) => o.name))].join(",")}`;
}

/** The run list; each verdict is the coordinator's, reached on the whole run. */
export function formatRunList(runs: RunSummary[]): string {
  if (!runs.length) return "no runs yet; start one with: coord run all --plan PLAN.yaml";
  const rows = [["RUN", "PLAN", "SCHEDULE", "STAGES", "MODE", "SCOPE", "STARTED", "RESULT", "VERDICT", "SIGNED OFF"]];
  for (const r of runs) {
    const verdict = runOutcome(r.status) === "RUNNING" ? "-" : r.verdict;
    rows.push([r.runId, r.planName, r.schedule || "-", r.stages.join(","), r.mode || "full", scopeWord(r), new Date(Number(r.startedAtMs)).toISOString(), runOutcome(r.status), verdict, r.signoff?.by || "-"]);
  }
  return table(rows);
}
