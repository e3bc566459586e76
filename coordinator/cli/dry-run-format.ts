// `coord run --dry-run` as text. Pure: a resolved plan in, the lines a person reads out.
import type { ChosenNode, ExcludedNode, PlannedCheck, PlannedLeg, PlannedStep, ResolvedPlan, ResolvedStage } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { ExclusionReason } from "../../shared/gen/fleetgate/v1/control_pb.js";
import { formatDuration } from "../../shared/durations.js";
import { formatLabels } from "../../shared/labels.js";
import { scopeLine } from "../reports/scope.js";
import { argvText, quoteArg } from "./argv-text.js";
import { envWarningLines } from "./dry-run-env.js";

const REASON: Record<ExclusionReason, string> = {
  [ExclusionReason.UNSPECIFIED]: "not chosen",
  [ExclusionReason.LABEL_MISMATCH]: "label mismatch",
  [ExclusionReason.DEV_NODE]: "dev node",
  [ExclusionReason.OFFLINE]: "offline",
  [ExclusionReason.NOT_NAMED]: "not named",
  [ExclusionReason.ROLES_FILLED]: "roles filled",
  [ExclusionReason.DRAINED]: "drained",
};

const LABEL_WIDTH = 12;
const pad = (n: number) => " ".repeat(n);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

function nodeText(n: Pick<ChosenNode, "name" | "labels" | "online">): string {
  const shown = `${n.name} (${formatLabels(n.labels) || "no labels"})`;
  // The sequencer keeps an offline node's work waiting, and reports it lost if it stays away.
  return n.online ? shown : `${shown} OFFLINE: its work waits for it, and it is lost if it stays away`;
}

const excludedText = (e: ExcludedNode) => `${e.name}: ${REASON[e.reason]} (${e.detail})`;

/** "label    first\n         second": a label column, then one value per line. */
function labelled(label: string, values: string[], indent = 2): string[] {
  return values.map((v, i) => `${pad(indent)}${(i === 0 ? label : "").padEnd(LABEL_WIDTH)}${v}`);
}

function timing(c: PlannedCheck): string {
  const retry = c.retryForMs > 0n ? `, retry for ${formatDuration(Number(c.retryForMs))} every ${formatDuration(Number(c.retryEveryMs))}` : "";
  return `timeout ${formatDuration(Number(c.timeoutMs))}${retry}`;
}

function marks(c: PlannedCheck): string {
  if (c.skipReason) return `  SKIPPED: ${c.skipReason}`;
  return c.destructive ? "  DESTRUCTIVE: runs" : "";
}

/** What runs (the exact argv, or what is observed), where, with what, and what it captures. */
function checkBody(c: PlannedCheck, indent: number): string[] {
  const at = pad(indent);
  const lines = [c.argv.length ? `${at}$ ${argvText(c.argv)}` : `${at}observes ${c.observes}`];
  if (c.runAs) lines.push(`${at}as user ${c.runAs}`);
  if (c.cwd) lines.push(`${at}cwd ${quoteArg(c.cwd)}`);
  const env = Object.entries(c.env).sort(([a], [b]) => a.localeCompare(b));
  if (env.length) lines.push(`${at}env ${env.map(([k, v]) => `${k}=${quoteArg(v)}`).join(" ")}`);
  for (const capture of c.captures) lines.push(`${at}captures ${capture}`);
  if (c.followUp) lines.push(`${at}then ${c.followUp.kind}  ${timing(c.followUp)}`, ...checkBody(c.followUp, indent + 2));
  return lines;
}

function checkLines(c: PlannedCheck, indent: number, head = c.id): string[] {
  return [`${pad(indent)}${head}  ${c.kind}  ${timing(c)}${marks(c)}`, ...checkBody(c, indent + 2)];
}

function suiteCheckLines(checks: PlannedCheck[], indent: number): string[] {
  const pre = checks.filter((c) => c.precondition);
  const gate = checks.filter((c) => !c.precondition);
  const lines: string[] = [];
  if (pre.length) lines.push(`${pad(indent)}preconditions (any failure: the node is not ready and no check runs)`, ...pre.flatMap((c) => checkLines(c, indent + 2)));
  lines.push(`${pad(indent)}checks`, ...gate.flatMap((c) => checkLines(c, indent + 2)));
  return lines;
}

function suiteStageLines(s: ResolvedStage): string[] {
  return [
    ...labelled("suite", [`${s.suitePath} (${s.suiteName})`]),
    ...labelled("nodes", (s.nodes?.chosen ?? []).map(nodeText)),
    ...labelled("not chosen", (s.nodes?.excluded ?? []).map(excludedText)),
    // The coordinator cannot see a node's environment: it says what each node needs.
    ...labelled("warning", envWarningLines(s)),
    ...suiteCheckLines(s.checks, 2),
  ];
}

function stepLines(s: PlannedStep, indent: number, head: string): string[] {
  if (s.parallel.length) {
    return [`${pad(indent)}${head}  parallel: these start together; all finish before the next step`, ...s.parallel.flatMap((m) => stepLines(m, indent + 2, m.id))];
  }
  const where = `${head}  on ${s.role} (${s.node})`;
  return s.check ? checkLines(s.check, indent, where) : [`${pad(indent)}${where}`];
}

function crossStageLines(s: ResolvedStage): string[] {
  const bound = (name: string) => s.nodes?.chosen.find((n) => n.name === name);
  const roles = s.roles.map((r) => `${r.role} (wants ${formatLabels(r.selector) || "any label"}) → ${nodeText(bound(r.node) ?? { name: r.node, labels: {}, online: r.online })}`);
  return [
    ...labelled("roles", roles),
    ...labelled("not chosen", (s.nodes?.excluded ?? []).map(excludedText)),
    "  steps, in order",
    // An unnamed step's id is its place ("2"), already said by the number in front.
    ...s.steps.flatMap((step, i) => stepLines(step, 4, step.id === String(i + 1) ? `${i + 1}.` : `${i + 1}. ${step.id}`)),
  ];
}

function legLines(leg: PlannedLeg, showExcluded: boolean): string[] {
  // A leg that would not run was given no node: the run never chooses one for it.
  if (leg.skipReason) return [`    ${leg.id}  SKIPPED: ${leg.skipReason}`];
  const node = leg.nodes?.chosen[0];
  const head = [`    ${leg.id}  on ${node?.name ?? "?"}`];
  if (leg.suitePath) head.push(`suite ${leg.suitePath} (${leg.suiteName})`);
  if (leg.requires.length) head.push(`requires ${leg.requires.join(", ")}`);
  const lines = [head.join("  ")];
  if (node && !node.online) lines.push(`      ${nodeText(node)}`);
  if (showExcluded && leg.nodes?.excluded.length) lines.push(`      not chosen: ${leg.nodes.excluded.map(excludedText).join("; ")}`);
  // A leg that is one check: its id is the leg's, so it is not repeated.
  const checks = leg.suitePath ? leg.checks.flatMap((c) => checkLines(c, 6)) : leg.checks.flatMap((c) => checkLines(c, 6, "runs"));
  return [...lines, ...checks];
}

function matrixStageLines(s: ResolvedStage): string[] {
  const lines: string[] = [];
  if (s.probes.length) {
    lines.push("  probes (run on a leg's node before a leg that requires them; a failure skips the leg)");
    for (const p of s.probes) lines.push(...checkLines(p, 4), ...(p.hint ? [`      hint: ${p.hint}`] : []));
  }
  // Legs usually share one selector; then the nodes left out are said once, not per leg.
  const excluded = s.legs.filter((l) => !l.skipReason).map((l) => (l.nodes?.excluded ?? []).map(excludedText).join("\n"));
  const same = excluded.every((e) => e === excluded[0]);
  if (same && excluded[0]) lines.push(...labelled("not chosen", excluded[0].split("\n")), `${pad(2 + LABEL_WIDTH)}(for every leg)`);
  lines.push("  legs, in order", ...s.legs.flatMap((l) => legLines(l, !same)));
  return lines;
}

function headline(s: ResolvedStage): string {
  const fleet = s.kind === "fleet";
  const shape = `${s.kind}, ${plural(s.iterations, "iteration")}${fleet ? ` per node, up to ${plural(s.parallel, "node")} at once` : ""}`;
  return `stage ${s.id}  (${shape})${s.description ? `  ${s.description}` : ""}`;
}

function stageLines(s: ResolvedStage): string[] {
  if (s.skipReason) return [`stage ${s.id}  (${s.kind})  SKIPPED: ${s.skipReason}`];
  switch (s.kind) {
    case "single":
    case "fleet":
      return [headline(s), ...suiteStageLines(s)];
    case "cross":
      return [headline(s), ...crossStageLines(s)];
    case "matrix":
      return [headline(s), ...matrixStageLines(s)];
    default:
      return [headline(s)];
  }
}

// Overrides that select checks; the checks they leave out are listed, marked, not dropped.
const SELECTING = ["quick", "tags", "only"];

/** What the run would be as a whole: its mode, its scope as every report words it, its skips. */
function runLines(plan: ResolvedPlan): string[] {
  const overrides = plan.overrides.map((o) => ({ name: o.name, detail: o.detail }));
  const lines = [`mode: ${plan.mode || "full"}`, scopeLine({ full: overrides.length === 0, overrides })];
  lines.push(...plan.skips.map((k, i) => `${i === 0 ? "skips: " : pad(7)}${k.target} (${k.source}): ${k.reason}`));
  lines.push(...plan.unsignable.map((u) => `never signable: ${u}`));
  if (plan.overrides.some((o) => SELECTING.includes(o.name))) {
    lines.push("checks left out by --quick, --tags or --only are listed as SKIPPED: left out (the agent neither runs nor reports them)");
  }
  return lines;
}

export function formatResolvedPlan(plan: ResolvedPlan): string {
  const head = `plan ${plan.planName} (${plan.planPath}): dry run; nothing was sent to any node and no run was recorded`;
  const refusal = plan.refusal ? ["", `a real run would be refused now: ${plan.refusal}`] : [];
  return [head, ...runLines(plan), ...plan.stages.flatMap((s) => ["", ...stageLines(s)]), ...refusal].join("\n");
}
