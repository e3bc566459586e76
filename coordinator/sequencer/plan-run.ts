// Pure: the one resolver. A plan, its parsed suites, the user's choices (stages, nodes, skips,
// opt-ins, quick, role pins, check selection) and the roster become stages, tasks and a layout of
// every stage asked for. A real run executes the result; a dry run shows it (dry-run.ts), so the
// two cannot disagree about what runs, where, or which flags are refused.
import { createHash } from "node:crypto";
import { FleetgateError } from "../../shared/errors.js";
import { DEFAULT_QUICK_TAGS, isSuiteStage, type Plan, type StageDef } from "../../shared/model/plan.js";
import type { Suite } from "../../shared/model/suite.js";
import { buildCrossStage } from "./cross-tasks.js";
import { buildMatrixStage } from "./matrix-tasks.js";
import { checkNamedNodes, type RosterNode } from "./node-choice.js";
import { checkOptIns, checkPins, checkSkips, quickStages } from "./run-choices.js";
import type { ResolvedRun, RunRequest, SkipRecord } from "./run-types.js";
import { runOverrides } from "./scope.js";
import { checkSelection } from "./stage-suites.js";
import { buildSuiteStage, type StageBuild } from "./stage-tasks.js";

const STAGE_KINDS = ["single", "fleet", "cross", "matrix"];

/** Stage ids or kinds `coord run` takes, in plan order. */
export function selectStages(plan: Plan, wanted: string[]): StageDef[] {
  if (wanted.length === 0 || wanted.includes("all")) return plan.stages;
  const ids = plan.stages.map((s) => s.id);
  for (const w of wanted) {
    if (!ids.includes(w) && !STAGE_KINDS.includes(w)) {
      throw new FleetgateError("bad_input", `plan ${plan.file} has no stage "${w}"; stages: ${ids.join(", ")} (or a kind: ${STAGE_KINDS.join(", ")}, or all)`);
    }
  }
  const chosen = plan.stages.filter((s) => wanted.includes(s.id) || wanted.includes(s.kind));
  if (!chosen.length) throw new FleetgateError("bad_input", `plan ${plan.file} has no ${wanted.join("/")} stage; stages: ${ids.join(", ")}`);
  return chosen;
}

/**
 * The plan's revision: sha256 over the plan text, every suite it sends and the files they ship, in path order. Runs of
 * one revision ran the same checks, so only they gate each other and count towards flakes.
 */
export function planRevision(planYaml: string, suites: Record<string, string>, files: Record<string, { path: string; sha256: string }[]> = {}): string {
  const h = createHash("sha256").update(planYaml);
  for (const path of Object.keys(suites).sort()) h.update(`\0${path}\0${suites[path]}`);
  // A bats file edited is another gate; no files shipped leaves the revision as it always was.
  for (const suite of Object.keys(files).sort()) for (const f of files[suite] ?? []) h.update(`\0file\0${suite}\0${f.path}\0${f.sha256}`);
  return h.digest("hex").slice(0, 16);
}

/** Why a stage asked for does not run: --skip (its reason), or --quick keeping other stages. */
function stageSkip(plan: Plan, stage: StageDef, skipped: Map<string, string>, selected: StageDef[]): SkipRecord | undefined {
  const reason = skipped.get(stage.id);
  if (reason !== undefined) return { target: stage.id, reason, source: "--skip" };
  if (!selected.includes(stage)) return { target: stage.id, reason: `not one of the plan's quick stages (${plan.quick?.stages?.join(", ")})`, source: "--quick" };
  return undefined;
}

/**
 * `suites` maps each suite path, as the plan writes it, to the parsed suite; a suite a chosen stage
 * needs and that is missing is refused here. Throws what the user must fix: bad flags (bad_input),
 * or a roster that cannot take the run (conflict).
 */
export function resolveRun(plan: Plan, suites: Record<string, Suite>, req: RunRequest, roster: RosterNode[], runId: string): ResolvedRun {
  checkNamedNodes(req.nodeNames, roster);
  const skips = req.skips ?? [];
  checkSkips(plan, skips);
  const asked = selectStages(plan, req.stages);
  checkOptIns(asked, req.withLegs ?? []);
  checkPins(asked, req.bindings ?? {}, roster);
  const selected = req.quick ? quickStages(plan, asked) : asked;
  const skipped = new Map(skips.map((s) => [s.target, s.reason]));
  const out: ResolvedRun = {
    stages: [],
    tasks: [],
    layout: [],
    notes: [],
    mode: req.quick ? "quick" : "full",
    skips: skips.map((s) => ({ ...s, source: "--skip" })),
    bindings: [],
    unsignable: [],
    overrides: [],
  };
  const quickTags = plan.quick?.tags ?? DEFAULT_QUICK_TAGS;
  const onlyTags = req.tags?.length ? req.tags : req.quick ? quickTags : [];
  const build: StageBuild = { runId, planFile: plan.file, req, roster, suites, onlyTags, onlyChecks: req.onlyChecks ?? [], out };
  for (const stage of asked) {
    const skip = stageSkip(plan, stage, skipped, selected);
    if (skip) out.layout.push({ kind: "skipped", stage, skip });
    else if (isSuiteStage(stage)) out.layout.push(buildSuiteStage(stage, build));
    else if (stage.kind === "cross") out.layout.push(buildCrossStage(stage, build));
    else out.layout.push(buildMatrixStage(stage, build, skipped));
  }
  if (!out.tasks.length) throw new FleetgateError("bad_input", "nothing left to run: every stage or leg asked for is skipped or opt-in");
  checkSelection(req, out.tasks);
  const ran = selected.flatMap((stage) => {
    const nodes = [...new Set(out.tasks.filter((t) => t.stageId === stage.id).map((t) => t.node))];
    return nodes.length ? [{ stage, nodes }] : [];
  });
  out.overrides = runOverrides(plan, req, ran, roster, quickTags);
  // A dev node (a laptop, a scratch VM) is a target only when named; its results prove nothing for a release.
  for (const name of new Set(out.tasks.map((t) => t.node))) {
    if (roster.find((n) => n.name === name)?.labels.role === "dev") out.unsignable.push(`node ${name} is role=dev (named with --node)`);
  }
  return out;
}
